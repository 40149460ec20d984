//! Contacts (staff): list with search by name or email, create, edit (including
//! deactivation), a contact's page with their tickets, and one-time invite links for
//! contacts without a portal password.

use crate::form::{Form, FormData};
use crate::page::{next_cursor, query, render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, Staff, Viewer};
use crate::tickets::list::TicketRow;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use std::sync::Arc;
use wrench_backend::accounts::auth::Principal;
use wrench_backend::accounts::invites;
use wrench_backend::accounts::model::{Company, Contact};
use wrench_backend::accounts::service::{self as accounts, ContactInput};
use wrench_backend::app::App;
use wrench_backend::error::{FieldError, ServiceError};
use wrench_backend::paging::PageRequest;
use wrench_backend::tickets::service as tickets;
use wrench_backend::tickets::store::{SortField, TicketFilter, TicketSort};

/// One option of a company select.
#[derive(Debug, Clone)]
pub struct CompanyOption {
    pub id: i64,
    pub name: String,
}

impl CompanyOption {
    /// Whether this option is the chosen one.
    pub fn is(&self, chosen: &Option<i64>) -> bool {
        *chosen == Some(self.id)
    }
}

/// The first 100 companies by name for a select, plus `selected` if it is further down.
pub fn company_options(app: &App, who: &Principal, selected: Option<i64>) -> Result<Vec<CompanyOption>, ServiceError> {
    let page = accounts::list_companies(app, who, None, &PageRequest::new(Some(100), None)?)?;
    let mut out: Vec<CompanyOption> =
        page.items.into_iter().map(|(_, c)| CompanyOption { id: c.id, name: c.name }).collect();
    if let Some(id) = selected.filter(|id| !out.iter().any(|o| o.id == *id)) {
        if let Ok(c) = accounts::get_company(app, who, id) {
            out.push(CompanyOption { id: c.id, name: c.name });
        }
    }
    Ok(out)
}

pub struct ContactRow {
    pub contact: Contact,
    pub company: String,
}

#[derive(Template)]
#[template(path = "accounts/contacts.html")]
struct ListPage {
    c: Chrome,
    q: String,
    rows: Vec<ContactRow>,
    total: i64,
    next: Option<String>,
}

pub async fn list(req: HttpRequest, Staff(v): Staff) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let (q, after) = (f.get("q").trim().to_string(), f.opt("after"));
    let company = f.int("company", "Company").ok().flatten();
    let (who, search) = (v.who.clone(), q.clone());
    let (page, names) = run(&app, move |app| {
        let page = accounts::list_contacts(app, &who, company, Some(&search), &PageRequest::new(Some(50), after)?)?;
        let ids: Vec<i64> = page.items.iter().map(|(_, c)| c.company_id).collect();
        let names = accounts::company_names(app, &who, &ids)?;
        Ok((page, names))
    })
    .await?;
    let next = next_cursor(&page).map(|a| query(&[("q", q.clone()), ("after", a)]));
    render(&ListPage {
        c: Chrome::new(&v, "Contacts", "contacts").with_notice(&f),
        q,
        total: page.total,
        rows: page
            .items
            .into_iter()
            .map(|(_, c)| ContactRow { company: names.get(&c.company_id).cloned().unwrap_or_default(), contact: c })
            .collect(),
        next,
    })
}

#[derive(Template)]
#[template(path = "accounts/contact_form.html")]
struct FormPage {
    c: Chrome,
    id: Option<i64>,
    companies: Vec<CompanyOption>,
    company_id: Option<i64>,
    name: String,
    email: String,
    phone: String,
    active: bool,
    errors: Errors,
}

fn input_of(f: &FormData, editing: bool) -> Result<ContactInput, Vec<FieldError>> {
    let company_id = f.int("companyId", "Company").map_err(|e| vec![e])?;
    Ok(ContactInput {
        company_id,
        name: Some(f.get("name").to_string()),
        email: Some(f.get("email").to_string()),
        phone: Some(f.get("phone").to_string()),
        active: editing.then(|| f.has("active")),
        ..Default::default()
    })
}

async fn form_page(
    app: &Arc<App>,
    v: &Viewer,
    id: Option<i64>,
    f: &FormData,
    active: bool,
    errors: Errors,
) -> Result<FormPage, WebError> {
    let company_id =
        f.int("companyId", "Company").ok().flatten().or_else(|| f.int("company", "Company").ok().flatten());
    let who = v.who.clone();
    let companies = run(app, move |app| company_options(app, &who, company_id)).await?;
    Ok(FormPage {
        c: Chrome::new(v, if id.is_some() { "Edit contact" } else { "New contact" }, "contacts"),
        id,
        companies,
        company_id,
        name: f.get("name").into(),
        email: f.get("email").into(),
        phone: f.get("phone").into(),
        active,
        errors,
    })
}

pub async fn new_page(req: HttpRequest, Staff(v): Staff) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    render(&form_page(&app, &v, None, &FormData::from_query(&req), true, Errors::none()).await?)
}

pub async fn create(req: HttpRequest, Staff(v): Staff, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let r = match input_of(&f, false) {
        Ok(input) => {
            let who = v.who.clone();
            run(&app, move |app| accounts::create_contact(app, &who, input)).await
        }
        Err(fields) => Err(ServiceError::Invalid(fields)),
    };
    match r {
        Ok(c) => Ok(see_other(&format!("/contacts/{}?done=created", c.id))),
        Err(e) => {
            let errors = Errors::from_service("contact", e)?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&app, &v, None, &f, true, errors).await?)
        }
    }
}

pub async fn edit_page(req: HttpRequest, Staff(v): Staff, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let c = run(&app, move |app| accounts::get_contact(app, &who, id)).await?;
    let f = FormData(vec![
        ("companyId".into(), c.company_id.to_string()),
        ("name".into(), c.name.clone()),
        ("email".into(), c.email.clone()),
        ("phone".into(), c.phone.clone()),
    ]);
    render(&form_page(&app, &v, Some(id), &f, c.active, Errors::none()).await?)
}

pub async fn update(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let id = path.into_inner();
    let r = match input_of(&f, true) {
        Ok(input) => {
            let who = v.who.clone();
            run(&app, move |app| accounts::update_contact(app, &who, id, input)).await
        }
        Err(fields) => Err(ServiceError::Invalid(fields)),
    };
    match r {
        Ok(c) => Ok(see_other(&format!("/contacts/{}?done=saved", c.id))),
        Err(e) => {
            let errors = Errors::from_service("contact", e)?;
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(&app, &v, Some(id), &f, f.has("active"), errors).await?,
            )
        }
    }
}

pub struct InviteLink {
    pub url: String,
    pub expires_iso: String,
    pub expires_local: String,
}

#[derive(Template)]
#[template(path = "accounts/contact.html")]
struct ShowPage {
    c: Chrome,
    contact: Contact,
    company: Company,
    tickets: Vec<TicketRow>,
    tickets_total: i64,
    /// A fresh invite link, shown once.
    invite: Option<InviteLink>,
    errors: Errors,
}

async fn show_page(
    req: &HttpRequest,
    v: &Viewer,
    id: i64,
    invite: Option<(String, NaiveDateTime)>,
) -> Result<ShowPage, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (contact, company, tickets) = run(&app, move |app| {
        let contact = accounts::get_contact(app, &who, id)?;
        let company = accounts::get_company(app, &who, contact.company_id)?;
        let filter = TicketFilter { requester_id: Some(id), ..Default::default() };
        let sort = TicketSort { field: SortField::Updated, descending: true };
        let tickets = tickets::list(app, &who, &filter, sort, &PageRequest::new(Some(25), None)?)?;
        Ok((contact, company, tickets))
    })
    .await?;
    let c = Chrome::new(v, contact.name.clone(), "contacts").with_notice(&FormData::from_query(req));
    let invite = invite.map(|(url, at)| InviteLink { url, expires_iso: c.iso(at), expires_local: c.time(at) });
    Ok(ShowPage {
        c,
        contact,
        company,
        tickets_total: tickets.page.total,
        tickets: TicketRow::all(tickets),
        invite,
        errors: Errors::none(),
    })
}

pub async fn show(req: HttpRequest, Staff(v): Staff, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    render(&show_page(&req, &v, path.into_inner(), None).await?)
}

pub async fn invite(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(_): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    match run(&app, move |app| invites::create(app, &who, id)).await {
        Ok(link) => render(&show_page(&req, &v, id, Some(link)).await?),
        Err(e) => {
            let errors = Errors::from_service("invite", e)?;
            let mut page = show_page(&req, &v, id, None).await?;
            page.errors = errors;
            render_status(StatusCode::CONFLICT, &page)
        }
    }
}
