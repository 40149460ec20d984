//! Tickets: the workflow, the thread, time, links, merging and history.
pub mod graphql;
pub mod model;
pub mod service;
pub mod store;
