//! Companies (staff): list with search by name, create, edit, and a company's page with its
//! contacts and tickets.

use crate::form::{Form, FormData};
use crate::page::{next_cursor, query, render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, Staff, Viewer};
use crate::tickets::list::TicketRow;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::model::{Company, Contact};
use wrench_backend::accounts::service::{self as accounts, CompanyInput};
use wrench_backend::paging::PageRequest;
use wrench_backend::tickets::service as tickets;
use wrench_backend::tickets::store::{SortField, TicketFilter, TicketSort};

#[derive(Template)]
#[template(path = "accounts/companies.html")]
struct ListPage {
    c: Chrome,
    q: String,
    rows: Vec<Company>,
    total: i64,
    next: Option<String>,
}

pub async fn list(req: HttpRequest, Staff(v): Staff) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let (q, after) = (f.get("q").trim().to_string(), f.opt("after"));
    let (who, search) = (v.who.clone(), q.clone());
    let page =
        run(&app, move |app| accounts::list_companies(app, &who, Some(&search), &PageRequest::new(Some(50), after)?))
            .await?;
    let next = next_cursor(&page).map(|a| query(&[("q", q.clone()), ("after", a)]));
    render(&ListPage {
        c: Chrome::new(&v, "Companies", "companies").with_notice(&f),
        q,
        total: page.total,
        rows: page.items.into_iter().map(|(_, c)| c).collect(),
        next,
    })
}

#[derive(Template)]
#[template(path = "accounts/company_form.html")]
struct FormPage {
    c: Chrome,
    /// None: a new company.
    id: Option<i64>,
    name: String,
    domains: String,
    phone: String,
    notes: String,
    errors: Errors,
}

fn input_of(f: &FormData) -> CompanyInput {
    CompanyInput {
        name: Some(f.get("name").to_string()),
        email_domains: Some(
            f.get("emailDomains")
                .split([',', ' ', '\n', '\r', ';'])
                .filter(|d| !d.trim().is_empty())
                .map(str::to_string)
                .collect(),
        ),
        phone: Some(f.get("phone").to_string()),
        notes: Some(f.get("notes").to_string()),
    }
}

fn kept(v: &Viewer, id: Option<i64>, f: &FormData, errors: Errors) -> FormPage {
    FormPage {
        c: Chrome::new(v, if id.is_some() { "Edit company" } else { "New company" }, "companies"),
        id,
        name: f.get("name").into(),
        domains: f.get("emailDomains").into(),
        phone: f.get("phone").into(),
        notes: f.get("notes").into(),
        errors,
    }
}

pub async fn new_page(Staff(v): Staff) -> Result<HttpResponse, WebError> {
    render(&kept(&v, None, &FormData::default(), Errors::none()))
}

pub async fn create(req: HttpRequest, Staff(v): Staff, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, input) = (v.who.clone(), input_of(&f));
    match run(&app, move |app| accounts::create_company(app, &who, input)).await {
        Ok(c) => Ok(see_other(&format!("/companies/{}?done=created", c.id))),
        Err(e) => {
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &kept(&v, None, &f, Errors::from_service("company", e)?))
        }
    }
}

pub async fn edit_page(req: HttpRequest, Staff(v): Staff, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let (company, domains) = run(&app, move |app| {
        let c = accounts::get_company(app, &who, id)?;
        let d = accounts::company_domains(app, &who, id)?;
        Ok((c, d))
    })
    .await?;
    render(&FormPage {
        c: Chrome::new(&v, "Edit company", "companies"),
        id: Some(id),
        name: company.name,
        domains: domains.join(", "),
        phone: company.phone,
        notes: company.notes,
        errors: Errors::none(),
    })
}

pub async fn update(
    req: HttpRequest,
    Staff(v): Staff,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id, input) = (v.who.clone(), path.into_inner(), input_of(&f));
    match run(&app, move |app| accounts::update_company(app, &who, id, input)).await {
        Ok(c) => Ok(see_other(&format!("/companies/{}?done=saved", c.id))),
        Err(e) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &kept(&v, Some(id), &f, Errors::from_service("company", e)?),
        ),
    }
}

#[derive(Template)]
#[template(path = "accounts/company.html")]
struct ShowPage {
    c: Chrome,
    company: Company,
    domains: Vec<String>,
    contacts: Vec<Contact>,
    contacts_total: i64,
    tickets: Vec<TicketRow>,
    tickets_total: i64,
}

pub async fn show(req: HttpRequest, Staff(v): Staff, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let (company, domains, contacts, tickets) = run(&app, move |app| {
        let company = accounts::get_company(app, &who, id)?;
        let domains = accounts::company_domains(app, &who, id)?;
        let contacts = accounts::list_contacts(app, &who, Some(id), None, &PageRequest::new(Some(100), None)?)?;
        let filter = TicketFilter { company_id: Some(id), ..Default::default() };
        let sort = TicketSort { field: SortField::Updated, descending: true };
        let tickets = tickets::list(app, &who, &filter, sort, &PageRequest::new(Some(25), None)?)?;
        Ok((company, domains, contacts, tickets))
    })
    .await?;
    let tickets_total = tickets.page.total;
    render(&ShowPage {
        c: Chrome::new(&v, company.name.clone(), "companies").with_notice(&FormData::from_query(&req)),
        company,
        domains,
        contacts_total: contacts.total,
        contacts: contacts.items.into_iter().map(|(_, c)| c).collect(),
        tickets: TicketRow::all(tickets),
        tickets_total,
    })
}
