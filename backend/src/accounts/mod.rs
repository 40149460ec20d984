//! Accounts: companies and their contacts, staff users, queues, sign-in and API tokens.
pub mod auth;
pub mod graphql;
pub mod model;
pub mod password;
pub mod ratelimit;
pub mod service;
pub mod store;
