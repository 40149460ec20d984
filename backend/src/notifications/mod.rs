//! The in-app notifications inbox: one per staff user and per contact, read/unread.
//! Features post into it inside their own transactions (`post`).
pub mod graphql;
pub mod service;
