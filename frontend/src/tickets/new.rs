//! Opening a ticket: staff on behalf of a contact (found by email) or for a company, with
//! priority, queue, assignee and tags; a contact for themselves (subject and message).

use crate::accounts::contacts::{company_options, CompanyOption};
use crate::form::{Form, FormData};
use crate::page::{render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, SignedIn, Viewer};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::accounts::model::{Queue, User};
use wrench_backend::accounts::service as accounts;
use wrench_backend::error::{FieldError, ServiceError};
use wrench_backend::paging::PageRequest;
use wrench_backend::tickets::model::Priority;
use wrench_backend::tickets::service::{self as tickets, NewTicket};

#[derive(Template)]
#[template(path = "tickets/new.html")]
struct StaffForm {
    c: Chrome,
    f: FormData,
    companies: Vec<CompanyOption>,
    queues: Vec<Queue>,
    users: Vec<User>,
    priorities: Vec<Priority>,
    errors: Errors,
}

#[derive(Template)]
#[template(path = "portal/new.html")]
struct PortalForm {
    c: Chrome,
    subject: String,
    body: String,
    errors: Errors,
}

async fn staff_form(req: &HttpRequest, v: &Viewer, mut f: FormData, errors: Errors) -> Result<StaffForm, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let company = f.int("companyId", "Company").ok().flatten().or_else(|| f.int("company", "Company").ok().flatten());
    let requester = f.int("requester", "Requester").ok().flatten();
    let (companies, queues, users, requester) = run(&app, move |app| {
        let companies = company_options(app, &who, company)?;
        let queues = accounts::list_queues(app, &who)?;
        let users = accounts::list_users(app, &who, false, &PageRequest::new(Some(100), None)?)?
            .items
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        let requester = match requester {
            Some(id) => Some(accounts::get_contact(app, &who, id)?),
            None => None,
        };
        Ok((companies, queues, users, requester))
    })
    .await?;
    if let Some(r) = requester.filter(|_| !f.has("requesterEmail")) {
        f.0.push(("requesterEmail".into(), r.email));
    }
    if let Some(c) = company.filter(|_| !f.has("companyId")) {
        f.0.push(("companyId".into(), c.to_string()));
    }
    Ok(StaffForm {
        c: Chrome::new(v, "New ticket", "tickets"),
        f,
        companies,
        queues,
        users,
        priorities: Priority::ALL.to_vec(),
        errors,
    })
}

pub async fn page(req: HttpRequest, SignedIn(v): SignedIn) -> Result<HttpResponse, WebError> {
    if v.is_staff() {
        render(&staff_form(&req, &v, FormData::from_query(&req), Errors::none()).await?)
    } else {
        render(&PortalForm {
            c: Chrome::new(&v, "New ticket", "new"),
            subject: String::new(),
            body: String::new(),
            errors: Errors::none(),
        })
    }
}

pub async fn create(req: HttpRequest, SignedIn(v): SignedIn, Form(f): Form) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let staff = v.is_staff();
    let who = v.who.clone();
    let form = f.clone();
    let r = run(&app, move |app| {
        let mut input = NewTicket {
            subject: form.get("subject").to_string(),
            body: form.get("body").to_string(),
            source: "web".into(),
            ..Default::default()
        };
        if staff {
            let mut errs: Vec<FieldError> = Vec::new();
            if let Some(email) = form.opt("requesterEmail") {
                match accounts::find_contact_by_email(app, &who, &email)? {
                    Some(c) => input.requester_id = Some(c.id),
                    None => errs
                        .push(FieldError::new("requesterEmail", "no contact has this email; create the contact first")),
                }
            }
            match form.int("companyId", "Company") {
                Ok(c) => input.company_id = c,
                Err(e) => errs.push(e),
            }
            if let Some(p) = form.opt("priority") {
                match Priority::parse(&p) {
                    Some(p) => input.priority = Some(p),
                    None => errs.push(FieldError::new("priority", "is not a priority")),
                }
            }
            match form.int("queueId", "Queue") {
                Ok(q) => input.queue_id = q,
                Err(e) => errs.push(e),
            }
            match form.int("assigneeId", "Assignee") {
                Ok(a) => input.assignee_id = a,
                Err(e) => errs.push(e),
            }
            input.tags =
                form.get("tags").split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
            if !errs.is_empty() {
                return Err(ServiceError::Invalid(errs));
            }
        }
        tickets::create(app, &who, input)
    })
    .await;
    match r {
        Ok(t) => Ok(see_other(&format!("/tickets/{}?done=created", t.id))),
        Err(e) => {
            let errors = Errors::from_service("ticket", e)?;
            if staff {
                render_status(StatusCode::UNPROCESSABLE_ENTITY, &staff_form(&req, &v, f, errors).await?)
            } else {
                render_status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &PortalForm {
                        c: Chrome::new(&v, "New ticket", "new"),
                        subject: f.get("subject").into(),
                        body: f.get("body").into(),
                        errors,
                    },
                )
            }
        }
    }
}
