//! The mail gateway for admins: the quarantine list (held, dropped and rejected mail with
//! the reason; release files a held message as it would have been filed, discard ends it;
//! each kept original downloads as an `.eml`), and which recipient address opens tickets in
//! which queue.

use crate::form::{Form, FormData};
use crate::page::{next_cursor, query, render, see_other, Chrome, WebError};
use crate::session::{app_of, run, Admin};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::model::Queue;
use wrench_backend::accounts::service as accounts;
use wrench_backend::error::{FieldError, ServiceError};
use wrench_backend::mail::service as mail;
use wrench_backend::mail::store::MailMessage;
use wrench_backend::paging::PageRequest;

#[derive(Template)]
#[template(path = "admin/mail.html")]
struct MailPage {
    c: Chrome,
    rows: Vec<MailMessage>,
    total: i64,
    all: bool,
    next: Option<String>,
    routes: Vec<(String, String)>,
    queues: Vec<Queue>,
}

pub async fn list(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let (who, all, after) = (v.who.clone(), f.get("all") == "1", f.opt("after"));
    let (page, routes, queues) = run(&app, move |app| {
        let page = mail::quarantine(app, &who, all, &PageRequest::new(Some(50), after)?)?;
        let queues = accounts::list_queues(app, &who)?;
        let routes = mail::routes(app, &who)?
            .into_iter()
            .map(|(address, q)| {
                let name = queues.iter().find(|x| x.id == q).map(|x| x.name.clone()).unwrap_or_else(|| format!("#{q}"));
                (address, name)
            })
            .collect();
        Ok((page, routes, queues))
    })
    .await?;
    let mut keep = vec![("after", next_cursor(&page).unwrap_or_default())];
    if all {
        keep.push(("all", "1".into()));
    }
    let next = page.has_next.then(|| query(&keep));
    render(&MailPage {
        c: Chrome::new(&v, "Mail gateway", "admin").with_notice(&f),
        total: page.total,
        rows: page.items.into_iter().map(|(_, m)| m).collect(),
        all,
        next,
        routes,
        queues,
    })
}

pub async fn release(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(_): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let receipt = run(&app, move |app| mail::release(app, &who, id)).await?;
    Ok(see_other(&match receipt.ticket {
        Some(n) => format!("/tickets/{n}?done=mail-released"),
        None => "/admin/mail?done=mail-released".into(),
    }))
}

pub async fn discard(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(_): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    run(&app, move |app| mail::discard(app, &who, id)).await?;
    Ok(see_other("/admin/mail?done=mail-discarded"))
}

/// Sets (or, with queue "none", removes) the queue of a recipient address.
pub async fn set_route(req: HttpRequest, Admin(v): Admin, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let address = f.get("address").to_string();
    let queue =
        match f.get("queueId") {
            "none" => None,
            q => Some(q.parse::<i64>().map_err(|_| {
                WebError::from(ServiceError::Invalid(vec![FieldError::new("queueId", "choose a queue")]))
            })?),
        };
    run(&app, move |app| mail::set_route(app, &who, &address, queue)).await?;
    Ok(see_other("/admin/mail?done=saved"))
}
