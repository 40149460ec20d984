//! Wrench's backend: the service layer every surface (GraphQL, web UI, mail gateway, agent
//! ingest) calls, one folder per feature, with shared plumbing beside them.

pub mod accounts;
pub mod app;
pub mod assets;
pub mod audit;
pub mod backup;
pub mod changelog;
pub mod clock;
pub mod config;
pub mod db;
pub mod development;
pub mod error;
pub mod files;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod mail;
pub mod notifications;
pub mod paging;
pub mod schema;
pub mod search;
pub mod server;
pub mod settings;
pub mod sla;
pub mod tickets;
