//! Wrench's web UI: server-rendered HTML for technicians, customers and admins. Plain forms
//! and links, no JavaScript. Every page calls the same service functions as GraphQL
//! (`wrench_backend::<feature>::service`), so permissions are identical; this crate only
//! turns requests into service calls and results into askama templates.
//!
//! Folders mirror the backend's features: `tickets/` (console and customer portal),
//! `accounts/` (sign-in, companies, contacts, the viewer's own settings), `notifications/`,
//! `admin/`. Plumbing beside them: `session` (who is asking), `form` (POSTs with their CSRF
//! check), `page` (the frame, field errors, the error pages).

pub mod accounts;
pub mod admin;
pub mod assets;
pub mod development;
pub mod form;
pub mod notifications;
pub mod page;
pub mod search;
pub mod session;
pub mod sla;
pub mod tickets;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const STYLESHEET: &str = include_str!("../static/wrench.css");

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        // The URL carries a version (?v=N), so browsers may keep it for a day.
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(STYLESHEET)
}

/// Adds the web UI's routes to the server.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/wrench.css", web::get().to(stylesheet)).route("/", web::get().to(accounts::signin::home));
    accounts::configure(cfg);
    tickets::configure(cfg);
    notifications::configure(cfg);
    admin::configure(cfg);
    assets::configure(cfg);
    development::configure(cfg);
    sla::admin::configure(cfg);
    search::configure(cfg);
    cfg.default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, page::WebError> {
    Err(page::WebError::NotFound)
}
