//! The notifications inbox (its unread count is in every page's header).

use crate::form::{Form, FormData};
use crate::page::{next_cursor, query, render, see_other, Chrome, WebError};
use crate::session::{app_of, run, SignedIn};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::notifications::service::{self as notifications, Notification};
use wrench_backend::paging::PageRequest;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(inbox)).route("/notifications/read", web::post().to(mark_read));
}

#[derive(Template)]
#[template(path = "notifications/inbox.html")]
struct Inbox {
    c: Chrome,
    rows: Vec<Notification>,
    total: i64,
    unread_only: bool,
    next: Option<String>,
}

pub async fn inbox(req: HttpRequest, SignedIn(v): SignedIn) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let unread_only = f.get("unread") == "1";
    let (who, after) = (v.who.clone(), f.opt("after"));
    let page =
        run(&app, move |app| notifications::list(app, &who, unread_only, &PageRequest::new(Some(50), after)?)).await?;
    let next = next_cursor(&page)
        .map(|a| query(&[("unread", if unread_only { "1".into() } else { String::new() }), ("after", a)]));
    render(&Inbox {
        c: Chrome::new(&v, "Notifications", "notifications").with_notice(&f),
        total: page.total,
        rows: page.items.into_iter().map(|(_, n)| n).collect(),
        unread_only,
        next,
    })
}

/// Marks the ticked notifications read, or all of them with `all`.
pub async fn mark_read(req: HttpRequest, SignedIn(v): SignedIn, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let ids: Vec<i64> = f.all("id").iter().filter_map(|i| i.parse().ok()).collect();
    let all = f.has("all");
    let who = v.who.clone();
    run(&app, move |app| notifications::mark_read(app, &who, if all { None } else { Some(&ids) })).await?;
    Ok(see_other("/notifications?done=read"))
}
