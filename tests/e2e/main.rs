//! Wrench's end-to-end tests: one test binary, a module per feature. Every story starts
//! the real `wrench` binary and speaks HTTP and GraphQL to it; storage-touching stories
//! run on SQLite and on PostgreSQL (`both!`), named with the backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod support;

mod assets;
mod browser;
mod core;
mod development;
mod drift;
mod mail;
mod reset;
mod search;
mod sla;
mod web;
