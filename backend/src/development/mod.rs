//! Development threads: products and releases, bug reports and feature requests that
//! customers join by shortcut, vote on and hear back from when a build ships the fix.
pub mod graphql;
pub mod model;
pub mod service;
