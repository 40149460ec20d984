//! Assets fed by server agents: wrench-agent's JSON API and the OCS/FusionInventory XML
//! protocol, the current snapshot and history of each machine, its logs, and the checks
//! whose failures open tickets.

pub mod alerts;
pub mod graphql;
pub mod ingest;
pub mod model;
pub mod ocs;
pub mod service;
pub mod store;
