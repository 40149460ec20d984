//! Queues and their members (and which members dispatch: they hear about new tickets).

use crate::form::{Form, FormData};
use crate::page::{render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, Admin};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::model::{Queue, User};
use wrench_backend::accounts::service::{self as accounts, QueueInput};
use wrench_backend::paging::PageRequest;

#[derive(Template)]
#[template(path = "admin/queues.html")]
struct ListPage {
    c: Chrome,
    queues: Vec<Queue>,
    name: String,
    errors: Errors,
}

async fn list_page(
    req: &HttpRequest,
    v: &crate::session::Viewer,
    name: String,
    errors: Errors,
) -> Result<ListPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let queues = run(&app, move |app| accounts::list_queues(app, &who)).await?;
    Ok(ListPage { c: Chrome::new(v, "Queues", "admin").with_notice(&FormData::from_query(req)), queues, name, errors })
}

pub async fn list(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    render(&list_page(&req, &v, String::new(), Errors::none()).await?)
}

pub async fn create(req: HttpRequest, Admin(v): Admin, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let input =
        QueueInput { name: Some(f.get("name").to_string()), is_triage: Some(f.has("is_triage")), members: None };
    match run(&app, move |app| accounts::create_queue(app, &who, input)).await {
        Ok(q) => Ok(see_other(&format!("/admin/queues/{}?done=created", q.id))),
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &list_page(&req, &v, f.get("name").into(), Errors::from_service("queue", e)?).await?,
        ),
    }
}

pub struct MemberRow {
    pub user: User,
    pub member: bool,
    pub dispatcher: bool,
}

#[derive(Template)]
#[template(path = "admin/queue.html")]
struct EditPage {
    c: Chrome,
    queue: Queue,
    name: String,
    is_triage: bool,
    rows: Vec<MemberRow>,
    errors: Errors,
}

async fn edit(
    req: &HttpRequest,
    v: &crate::session::Viewer,
    id: i64,
    kept: Option<&FormData>,
    errors: Errors,
) -> Result<EditPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (queue, members, users) = run(&app, move |app| {
        let q = accounts::get_queue(app, &who, id)?;
        let m = accounts::queue_members(app, &who, id)?;
        let u = accounts::list_users(app, &who, false, &PageRequest::new(Some(100), None)?)?;
        Ok((q, m, u.items.into_iter().map(|(_, u)| u).collect::<Vec<User>>()))
    })
    .await?;
    let rows = users
        .into_iter()
        .map(|u| {
            let current = members.iter().find(|(m, _)| m.user_id == u.id);
            let (member, dispatcher) = match kept {
                Some(f) => (f.contains("member", &u.id.to_string()), f.contains("dispatcher", &u.id.to_string())),
                None => (current.is_some(), current.is_some_and(|(m, _)| m.is_dispatcher)),
            };
            MemberRow { user: u, member, dispatcher }
        })
        .collect();
    Ok(EditPage {
        c: Chrome::new(v, format!("Queue {}", queue.name), "admin").with_notice(&FormData::from_query(req)),
        name: kept.map(|f| f.get("name").to_string()).unwrap_or_else(|| queue.name.clone()),
        is_triage: kept.map(|f| f.has("is_triage")).unwrap_or(queue.is_triage),
        queue,
        rows,
        errors,
    })
}

pub async fn edit_page(req: HttpRequest, Admin(v): Admin, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    render(&edit(&req, &v, path.into_inner(), None, Errors::none()).await?)
}

pub async fn update(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let members: Vec<(i64, bool)> = f
        .all("member")
        .iter()
        .filter_map(|m| m.parse::<i64>().ok())
        .map(|uid| (uid, f.contains("dispatcher", &uid.to_string())))
        .collect();
    let input = QueueInput {
        name: Some(f.get("name").to_string()),
        is_triage: Some(f.has("is_triage")),
        members: Some(members),
    };
    match run(&app, move |app| accounts::update_queue(app, &who, id, input)).await {
        Ok(_) => Ok(see_other(&format!("/admin/queues/{id}?done=saved"))),
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &edit(&req, &v, id, Some(&f), Errors::from_service("queue", e)?).await?,
        ),
    }
}
