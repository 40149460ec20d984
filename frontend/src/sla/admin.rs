//! Admin pages for SLA policies and business-hours calendars: plain forms with CSRF tokens.
//! Open hours are typed one interval a line ("Mon 09:00-17:00"), holidays one a line
//! ("2026-12-25 yearly Christmas"), so the page works without JavaScript.

use crate::form::{Form, FormData};
use crate::page::{render, render_status, see_other, Chrome, Errors, WebError};
use crate::session::{app_of, run, Admin, Viewer};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use wrench_backend::accounts::model::User;
use wrench_backend::accounts::service as accounts;
use wrench_backend::error::{FieldError, ServiceError};
use wrench_backend::paging::PageRequest;
use wrench_backend::sla::calendar::{Holiday, OpenInterval};
use wrench_backend::sla::model::{CalendarRow, ClockKind, Policy, PolicyTargets};
use wrench_backend::sla::service::{self as sla, CalendarInput, PolicyInput};
use wrench_backend::tickets::model::Priority;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/sla", web::get().to(overview))
        .route("/admin/sla/calendars/new", web::get().to(new_calendar))
        .route("/admin/sla/calendars/new", web::post().to(save_calendar_new))
        .route("/admin/sla/calendars/{id}", web::get().to(edit_calendar))
        .route("/admin/sla/calendars/{id}", web::post().to(save_calendar))
        .route("/admin/sla/policies/new", web::get().to(new_policy))
        .route("/admin/sla/policies/new", web::post().to(save_policy_new))
        .route("/admin/sla/policies/{id}", web::get().to(edit_policy))
        .route("/admin/sla/policies/{id}", web::post().to(save_policy));
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

#[derive(Template)]
#[template(path = "sla/overview.html")]
struct Overview {
    c: Chrome,
    policies: Vec<(Policy, String)>,
    calendars: Vec<CalendarRow>,
}

pub async fn overview(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let (policies, calendars) = run(&app, move |app| {
        let calendars = sla::list_calendars(app, &who)?;
        let policies = sla::list_policies(app, &who)?
            .into_iter()
            .map(|p| {
                let counted = match p.calendar_id.and_then(|id| calendars.iter().find(|c| c.id == id)) {
                    Some(c) => format!("business hours of {}", c.name),
                    None => "calendar time".to_string(),
                };
                (p, counted)
            })
            .collect();
        Ok((policies, calendars))
    })
    .await?;
    render(&Overview {
        c: Chrome::new(&v, "SLA policies and calendars", "admin").with_notice(&FormData::from_query(&req)),
        policies,
        calendars,
    })
}

// ---------------------------------------------------------------- calendars

#[derive(Template)]
#[template(path = "sla/calendar_form.html")]
struct CalendarForm {
    c: Chrome,
    action: String,
    name: String,
    timezone: String,
    hours: String,
    holidays: String,
    errors: Errors,
}

fn hours_text(hours: &[OpenInterval]) -> String {
    hours
        .iter()
        .map(|h| {
            let day = DAYS.get(h.weekday as usize).copied().unwrap_or("Mon");
            format!("{day} {:02}:{:02}-{:02}:{:02}", h.start / 60, h.start % 60, h.end / 60, h.end % 60)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn holidays_text(holidays: &[Holiday]) -> String {
    holidays
        .iter()
        .map(|h| {
            format!(
                "{}{}{}{}",
                h.date,
                if h.yearly { " yearly" } else { "" },
                if h.name.is_empty() { "" } else { " " },
                h.name
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_time(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

fn parse_calendar(f: &FormData) -> Result<CalendarInput, ServiceError> {
    let mut errors = Vec::new();
    let mut hours = Vec::new();
    for line in f.get("hours").lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parsed = line.split_once(' ').and_then(|(day, span)| {
            let weekday = DAYS.iter().position(|d| d.eq_ignore_ascii_case(day.trim()))?;
            let (a, b) = span.trim().split_once('-')?;
            Some(OpenInterval { weekday: weekday as u8, start: parse_time(a)?, end: parse_time(b)? })
        });
        match parsed {
            Some(iv) => hours.push(iv),
            None => errors.push(FieldError::new("hours", format!("{line:?} is not like \"Mon 09:00-17:00\""))),
        }
    }
    let mut holidays = Vec::new();
    for line in f.get("holidays").lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(2, ' ');
        let date = parts.next().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let rest = parts.next().unwrap_or("").trim();
        let (yearly, name) = match rest.strip_prefix("yearly") {
            Some(n) => (true, n.trim()),
            None => (false, rest),
        };
        match date {
            Some(date) => holidays.push(Holiday { date, yearly, name: name.to_string() }),
            None => {
                errors.push(FieldError::new("holidays", format!("{line:?} does not start with a date like 2026-12-25")))
            }
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Ok(CalendarInput { name: f.get("name").into(), timezone: f.get("timezone").into(), hours, holidays })
}

fn calendar_form(req: &HttpRequest, v: &Viewer, action: String, f: &FormData, errors: Errors) -> CalendarForm {
    CalendarForm {
        c: Chrome::new(v, "Business-hours calendar", "admin").with_notice(&FormData::from_query(req)),
        action,
        name: f.get("name").into(),
        timezone: f.get("timezone").into(),
        hours: f.get("hours").into(),
        holidays: f.get("holidays").into(),
        errors,
    }
}

pub async fn new_calendar(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let defaults = FormData(vec![
        ("timezone".into(), "Europe/London".into()),
        ("hours".into(), (0..5).map(|d| format!("{} 09:00-17:00", DAYS[d])).collect::<Vec<_>>().join("\n")),
    ]);
    render(&calendar_form(&req, &v, "/admin/sla/calendars/new".into(), &defaults, Errors::none()))
}

pub async fn edit_calendar(req: HttpRequest, Admin(v): Admin, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let cal = run(&app, move |app| sla::get_calendar(app, &who, id)).await?;
    let f = FormData(vec![
        ("name".into(), cal.name.clone()),
        ("timezone".into(), cal.timezone.clone()),
        ("hours".into(), hours_text(&cal.hours())),
        ("holidays".into(), holidays_text(&cal.holidays())),
    ]);
    render(&calendar_form(&req, &v, format!("/admin/sla/calendars/{id}"), &f, Errors::none()))
}

async fn store_calendar(req: HttpRequest, v: Viewer, id: Option<i64>, f: FormData) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let input = parse_calendar(&f);
    let r = match input {
        Ok(input) => {
            run(&app, move |app| match id {
                Some(id) => sla::update_calendar(app, &who, id, input),
                None => sla::create_calendar(app, &who, input),
            })
            .await
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Ok(see_other("/admin/sla?done=saved")),
        Err(e) => {
            let action =
                id.map(|i| format!("/admin/sla/calendars/{i}")).unwrap_or_else(|| "/admin/sla/calendars/new".into());
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &calendar_form(&req, &v, action, &f, Errors::from_service("calendar", e)?),
            )
        }
    }
}

pub async fn save_calendar_new(req: HttpRequest, Admin(v): Admin, Form(f): Form) -> Result<HttpResponse, WebError> {
    store_calendar(req, v, None, f).await
}

pub async fn save_calendar(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    store_calendar(req, v, Some(path.into_inner()), f).await
}

// ---------------------------------------------------------------- policies

/// One input of the targets table.
pub struct TargetCell {
    pub name: String,
    pub label: String,
    pub value: String,
}

pub struct TargetRow {
    pub priority: &'static str,
    pub cells: Vec<TargetCell>,
}

#[derive(Template)]
#[template(path = "sla/policy_form.html")]
struct PolicyForm {
    c: Chrome,
    action: String,
    f: FormData,
    rows: Vec<TargetRow>,
    calendars: Vec<CalendarRow>,
    users: Vec<User>,
    errors: Errors,
}

impl PolicyForm {
    fn selected(&self, field: &str, id: &i64) -> bool {
        self.f.get(field) == id.to_string()
    }
    fn checked(&self, field: &str) -> bool {
        self.f.has(field)
    }
}

fn cell_name(p: Priority, k: ClockKind) -> String {
    format!("{}_{}", p.as_str(), k.as_str())
}

fn policy_fields(p: &Policy) -> FormData {
    let mut f = vec![
        ("name".to_string(), p.name.clone()),
        ("calendar_id".into(), p.calendar_id.map(|c| c.to_string()).unwrap_or_default()),
        ("warn_percent".into(), p.warn_percent.to_string()),
        ("breach_reassign_to".into(), p.breach_reassign_to.map(|c| c.to_string()).unwrap_or_default()),
    ];
    for (flag, on) in [
        ("pause_on_third_party", p.pause_on_third_party),
        ("breach_raise_priority", p.breach_raise_priority),
        ("is_default", p.is_default),
    ] {
        if on {
            f.push((flag.into(), "on".into()));
        }
    }
    let t = p.targets();
    for pr in Priority::ALL {
        for k in ClockKind::ALL {
            if let Some(m) = t.for_priority(pr).get(k) {
                f.push((cell_name(pr, k), m.to_string()));
            }
        }
    }
    FormData(f)
}

fn parse_policy(f: &FormData) -> Result<PolicyInput, ServiceError> {
    let mut errors = Vec::new();
    let mut targets = PolicyTargets::default();
    for p in Priority::ALL {
        for k in ClockKind::ALL {
            let name = cell_name(p, k);
            let label = format!("{} {}", p.label(), k.label().to_lowercase());
            match f.int(&name, &label) {
                Ok(v) => {
                    let t = targets.for_priority_mut(p);
                    match k {
                        ClockKind::FirstResponse => t.first_response = v,
                        ClockKind::NextUpdate => t.next_update = v,
                        ClockKind::Resolution => t.resolution = v,
                    }
                }
                Err(e) => errors.push(FieldError::new("targets", e.message)),
            }
        }
    }
    let opt_int = |name: &str, label: &str, errors: &mut Vec<FieldError>| match f.int(name, label) {
        Ok(v) => v,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let calendar_id = opt_int("calendar_id", "Calendar", &mut errors);
    let warn_percent = opt_int("warn_percent", "Warning at", &mut errors);
    let breach_reassign_to = opt_int("breach_reassign_to", "Reassign to", &mut errors);
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Ok(PolicyInput {
        name: f.get("name").into(),
        calendar_id,
        targets,
        warn_percent,
        pause_on_third_party: f.has("pause_on_third_party"),
        breach_raise_priority: f.has("breach_raise_priority"),
        breach_reassign_to,
        is_default: f.has("is_default"),
    })
}

async fn policy_form(
    req: &HttpRequest,
    v: &Viewer,
    action: String,
    f: FormData,
    errors: Errors,
) -> Result<PolicyForm, WebError> {
    let app = app_of(req)?;
    let who = v.who.clone();
    let (calendars, users) = run(&app, move |app| {
        let calendars = sla::list_calendars(app, &who)?;
        let users = accounts::list_users(app, &who, false, &PageRequest::new(Some(100), None)?)?;
        Ok((calendars, users.items.into_iter().map(|(_, u)| u).collect()))
    })
    .await?;
    let rows = Priority::ALL
        .into_iter()
        .map(|p| TargetRow {
            priority: p.label(),
            cells: ClockKind::ALL
                .into_iter()
                .map(|k| TargetCell {
                    name: cell_name(p, k),
                    label: format!("{} {} (minutes)", p.label(), k.label().to_lowercase()),
                    value: f.get(&cell_name(p, k)).to_string(),
                })
                .collect(),
        })
        .collect();
    Ok(PolicyForm {
        c: Chrome::new(v, "SLA policy", "admin").with_notice(&FormData::from_query(req)),
        action,
        f,
        rows,
        calendars,
        users,
        errors,
    })
}

pub async fn new_policy(req: HttpRequest, Admin(v): Admin) -> Result<HttpResponse, WebError> {
    let f = FormData(vec![("warn_percent".into(), "75".into())]);
    render(&policy_form(&req, &v, "/admin/sla/policies/new".into(), f, Errors::none()).await?)
}

pub async fn edit_policy(req: HttpRequest, Admin(v): Admin, path: web::Path<i64>) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let (who, id) = (v.who.clone(), path.into_inner());
    let p = run(&app, move |app| sla::get_policy(app, &who, id)).await?;
    render(&policy_form(&req, &v, format!("/admin/sla/policies/{id}"), policy_fields(&p), Errors::none()).await?)
}

async fn store_policy(req: HttpRequest, v: Viewer, id: Option<i64>, f: FormData) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let r = match parse_policy(&f) {
        Ok(input) => {
            run(&app, move |app| match id {
                Some(id) => sla::update_policy(app, &who, id, input),
                None => sla::create_policy(app, &who, input),
            })
            .await
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Ok(see_other("/admin/sla?done=saved")),
        Err(e) => {
            let action =
                id.map(|i| format!("/admin/sla/policies/{i}")).unwrap_or_else(|| "/admin/sla/policies/new".into());
            let errors = Errors::from_service("policy", e)?;
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &policy_form(&req, &v, action, f, errors).await?)
        }
    }
}

pub async fn save_policy_new(req: HttpRequest, Admin(v): Admin, Form(f): Form) -> Result<HttpResponse, WebError> {
    store_policy(req, v, None, f).await
}

pub async fn save_policy(
    req: HttpRequest,
    Admin(v): Admin,
    path: web::Path<i64>,
    Form(f): Form,
) -> Result<HttpResponse, WebError> {
    store_policy(req, v, Some(path.into_inner()), f).await
}
