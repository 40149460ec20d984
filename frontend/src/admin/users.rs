//! Staff users and their roles: list, create, edit (role, active — deactivating ends every
//! session and token at once), and resetting someone's two-factor sign-in.

use crate::form::{Form, FormData};
use crate::page::{render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, Admin, Viewer};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::model::{Role, User};
use wrench_backend::accounts::service::{self as accounts, UserInput};
use wrench_backend::accounts::totp;
use wrench_backend::error::ServiceError;
use wrench_backend::paging::PageRequest;

pub struct UserRow {
    pub user: User,
    pub totp: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<UserRow>,
}

pub async fn list(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let (users, with_totp) = run(&app, move |app| {
        let users = accounts::list_users(app, &who, true, &PageRequest::new(Some(100), None)?)?;
        Ok((users, totp::enabled_users(app, &who)?))
    })
    .await?;
    render(&ListPage {
        c: Chrome::new(&v, "Staff users", "admin").with_notice(&FormData::from_query(&req)),
        rows: users.items.into_iter().map(|(_, u)| UserRow { totp: with_totp.contains(&u.id), user: u }).collect(),
    })
}

#[derive(Template)]
#[template(path = "admin/user_form.html")]
struct FormPage {
    c: Chrome,
    id: Option<i64>,
    f: FormData,
    active: bool,
    totp: bool,
    errors: Errors,
}

fn role_of(f: &FormData) -> Result<Option<Role>, ServiceError> {
    match f.opt("role") {
        None => Ok(None),
        Some(r) => Role::parse(&r).map(Some).ok_or_else(|| ServiceError::invalid("role", "choose admin or technician")),
    }
}

fn page(v: &Viewer, id: Option<i64>, f: FormData, active: bool, totp: bool, errors: Errors) -> FormPage {
    FormPage {
        c: Chrome::new(v, if id.is_some() { "Edit staff user" } else { "New staff user" }, "admin"),
        id,
        f,
        active,
        totp,
        errors,
    }
}

pub async fn new_page(Admin(v): Admin) -> Result<HttpResponse, WebError> {
    render(&page(&v, None, FormData(vec![("role".into(), "technician".into())]), true, false, Errors::none()))
}

pub async fn create(req: HttpRequest, Admin(v): Admin, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let form = f.clone();
    let r = run(&app, move |app| {
        let input = UserInput {
            email: Some(form.get("email").to_string()),
            name: Some(form.get("name").to_string()),
            role: role_of(&form)?,
            password: Some(form.get("password").to_string()),
            ..Default::default()
        };
        accounts::create_user(app, &who, input)
    })
    .await;
    match r {
        Ok(_) => Ok(see_other("/admin/users?done=created")),
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&v, None, f, true, false, Errors::from_service("user", e)?),
        ),
    }
}

pub async fn edit_page(req: HttpRequest, Admin(v): Admin, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let (u, status) =
        run(&app, move |app| Ok((accounts::get_user(app, &who, id)?, totp::status(app, &who, id)?))).await?;
    let f = FormData(vec![
        ("name".into(), u.name.clone()),
        ("email".into(), u.email.clone()),
        ("role".into(), u.role.clone()),
    ]);
    let mut p = page(&v, Some(id), f, u.active, status.enabled, Errors::none());
    p.c = p.c.with_notice(&FormData::from_query(&req));
    render(&p)
}

pub async fn update(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let form = f.clone();
    let r = run(&app, move |app| {
        let input = UserInput {
            email: Some(form.get("email").to_string()),
            name: Some(form.get("name").to_string()),
            role: role_of(&form)?,
            password: form.opt("password"),
            active: Some(form.has("active")),
            ..Default::default()
        };
        accounts::update_user(app, &who, id, input)
    })
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!("/admin/users/{id}?done=saved"))),
        Err(e) => {
            let errors = Errors::from_service("user", e)?;
            let (who, active) = (v.who.clone(), f.has("active"));
            let enabled = run(&app, move |app| totp::status(app, &who, id)).await?.enabled;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&v, Some(id), f, active, enabled, errors))
        }
    }
}

pub async fn reset_totp(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(_): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    run(&app, move |app| totp::disable(app, &who, id, None)).await?;
    Ok(see_other(&format!("/admin/users/{id}?done=totp-off")))
}
