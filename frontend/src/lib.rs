//! Wrench's web UI: server-rendered HTML for technicians, customers and admins.

use actix_web::web;

/// Adds the web UI's routes to the server.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
