//! Accounts: companies and their contacts, staff users, queues, sign-in (API and web
//! sessions, TOTP, contact invites, password reset links) and API tokens.
pub mod auth;
pub mod graphql;
pub mod invites;
pub mod model;
pub mod password;
pub mod ratelimit;
pub mod resets;
pub mod service;
pub mod sessions;
pub mod store;
pub mod totp;
