//! Admin pages: staff users and roles, queues and their members, API tokens (shown once
//! when created; revocable), two-factor sign-in policy, and the audit log. Companies are
//! managed on the staff pages (`/companies`); the mail quarantine and address routes are
//! under `/admin/mail`. Every call goes through the admin-checked
//! services, so a technician who guesses these URLs is refused there as well as here.

pub mod mail;
pub mod queues;
pub mod tokens;
pub mod users;

use crate::form::{Form, FormData};
use crate::page::{next_cursor, query, render, see_other, Chrome, WebError};
use crate::session::{app_of, run, Admin};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::totp;
use wrench_backend::audit::{self, AuditEntry};
use wrench_backend::paging::PageRequest;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(overview))
        .route("/admin/security", web::post().to(set_security))
        .route("/admin/audit", web::get().to(audit_log))
        .route("/admin/users", web::get().to(users::list))
        .route("/admin/users/new", web::get().to(users::new_page))
        .route("/admin/users/new", web::post().to(users::create))
        .route("/admin/users/{id}", web::get().to(users::edit_page))
        .route("/admin/users/{id}", web::post().to(users::update))
        .route("/admin/users/{id}/totp-reset", web::post().to(users::reset_totp))
        .route("/admin/queues", web::get().to(queues::list))
        .route("/admin/queues/new", web::post().to(queues::create))
        .route("/admin/queues/{id}", web::get().to(queues::edit_page))
        .route("/admin/queues/{id}", web::post().to(queues::update))
        .route("/admin/tokens", web::get().to(tokens::list))
        .route("/admin/tokens/new", web::post().to(tokens::create))
        .route("/admin/tokens/{id}/revoke", web::post().to(tokens::revoke))
        .route("/admin/mail", web::get().to(mail::list))
        .route("/admin/mail/routes", web::post().to(mail::set_route))
        .route("/admin/mail/{id}/release", web::post().to(mail::release))
        .route("/admin/mail/{id}/discard", web::post().to(mail::discard));
}

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct Overview {
    c: Chrome,
    totp_required: bool,
    index: wrench_backend::search::IndexStatus,
}

pub async fn overview(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let totp_required = run(&app, move |app| totp::is_required(app, &who)).await?;
    let who = v.who.clone();
    let index = run(&app, move |app| wrench_backend::search::service::index_status(app, &who)).await?;
    render(&Overview {
        index,
        c: Chrome::new(&v, "Administration", "admin").with_notice(&FormData::from_query(&req)),
        totp_required,
    })
}

pub async fn set_security(req: HttpRequest, Admin(v): Admin, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, on) = (v.who.clone(), f.get("require_totp") == "on");
    run(&app, move |app| totp::set_required(app, &who, on)).await?;
    Ok(see_other("/admin?done=saved"))
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    c: Chrome,
    rows: Vec<(AuditEntry, Option<String>)>,
    total: i64,
    next: Option<String>,
}

pub async fn audit_log(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let (who, after) = (v.who.clone(), f.opt("after"));
    let page = run(&app, move |app| audit::list(app, &who, &PageRequest::new(Some(100), after)?)).await?;
    let next = next_cursor(&page).map(|a| query(&[("after", a)]));
    render(&AuditPage {
        c: Chrome::new(&v, "Audit log", "admin"),
        total: page.total,
        rows: page.items.into_iter().map(|(_, r)| r).collect(),
        next,
    })
}
