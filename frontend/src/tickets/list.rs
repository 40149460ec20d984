//! The ticket list. Staff: filters (status, priority, company, queue, assignee, tag), sort
//! and keyset pagination, all in the URL so a view can be bookmarked. Contacts: their
//! company's tickets, open ones first.

use crate::accounts::contacts::{company_options, CompanyOption};
use crate::form::FormData;
use crate::page::{query, render, Chrome, Errors, WebError};
use crate::session::{app_of, run, SignedIn, Viewer};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use wrench_backend::accounts::model::{Queue, User};
use wrench_backend::accounts::service as accounts;
use wrench_backend::error::FieldError;
use wrench_backend::paging::PageRequest;
use wrench_backend::tickets::model::{Priority, Status};
use wrench_backend::tickets::service::{self as tickets, TicketPage};
use wrench_backend::tickets::store::{AssigneeFilter, SortField, TicketFilter, TicketSort};

pub const PAGE_SIZE: i32 = 50;

/// One row of a ticket table, with the names it refers to.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub number: i64,
    pub subject: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub priority: &'static str,
    pub priority_label: &'static str,
    pub company_id: Option<i64>,
    pub company: String,
    pub requester: String,
    pub assignee: String,
    pub queue: String,
    pub tags: Vec<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The SLA badge (staff lists only).
    pub sla: Option<crate::sla::Badge>,
}

impl TicketRow {
    pub fn all(p: TicketPage) -> Vec<TicketRow> {
        let r = p.related;
        p.page
            .items
            .into_iter()
            .map(|(_, t)| TicketRow {
                number: t.id,
                subject: t.subject.clone(),
                status: t.status().as_str(),
                status_label: t.status().label(),
                priority: t.priority().as_str(),
                priority_label: t.priority().label(),
                company_id: t.company_id,
                company: t.company_id.and_then(|c| r.companies.get(&c)).map(|c| c.name.clone()).unwrap_or_default(),
                requester: t.requester_id.and_then(|c| r.contacts.get(&c)).map(|c| c.name.clone()).unwrap_or_default(),
                assignee: t.assignee_id.and_then(|u| r.users.get(&u)).map(|u| u.name.clone()).unwrap_or_default(),
                queue: r.queues.get(&t.queue_id).map(|q| q.name.clone()).unwrap_or_default(),
                tags: r.tags.get(&t.id).cloned().unwrap_or_default(),
                created_at: t.created_at,
                updated_at: t.updated_at,
                sla: None,
            })
            .collect()
    }
}

/// The list's URL parameters, parsed; unknown values are reported, not guessed.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub statuses: Vec<Status>,
    pub priorities: Vec<Priority>,
    pub company: Option<i64>,
    pub queue: Option<i64>,
    /// "me", "none" or a user id, as in the URL.
    pub assignee: String,
    pub tag: String,
    pub sort: &'static str,
    pub dir: &'static str,
    pub after: Option<String>,
}

impl ListQuery {
    pub fn parse(f: &FormData, errors: &mut Vec<FieldError>) -> ListQuery {
        let mut q = ListQuery { sort: "updated", dir: "desc", ..Default::default() };
        for s in f.all("status") {
            match Status::parse(s) {
                Some(s) => q.statuses.push(s),
                None => errors.push(FieldError::new("status", format!("{s:?} is not a status"))),
            }
        }
        for p in f.all("priority") {
            match Priority::parse(p) {
                Some(p) => q.priorities.push(p),
                None => errors.push(FieldError::new("priority", format!("{p:?} is not a priority"))),
            }
        }
        match f.int("company", "Company") {
            Ok(c) => q.company = c,
            Err(e) => errors.push(e),
        }
        match f.int("queue", "Queue") {
            Ok(c) => q.queue = c,
            Err(e) => errors.push(e),
        }
        q.assignee = f.get("assignee").trim().to_string();
        if !(q.assignee.is_empty() || q.assignee == "me" || q.assignee == "none" || q.assignee.parse::<i64>().is_ok()) {
            errors.push(FieldError::new("assignee", "use me, none or a staff user"));
            q.assignee.clear();
        }
        q.tag = f.get("tag").trim().to_string();
        q.sort = match f.get("sort") {
            "" | "updated" => "updated",
            "created" => "created",
            "priority" => "priority",
            "number" => "number",
            other => {
                errors.push(FieldError::new("sort", format!("{other:?} is not a sort order")));
                "updated"
            }
        };
        q.dir = if f.get("dir") == "asc" { "asc" } else { "desc" };
        q.after = f.opt("after");
        q
    }

    pub fn filter(&self, v: &Viewer) -> TicketFilter {
        TicketFilter {
            statuses: self.statuses.clone(),
            priorities: self.priorities.clone(),
            company_id: self.company,
            queue_id: self.queue,
            assignee: match self.assignee.as_str() {
                "" => None,
                "me" => v.user_id().map(AssigneeFilter::User),
                "none" => Some(AssigneeFilter::Unassigned),
                id => id.parse().ok().map(AssigneeFilter::User),
            },
            tag: Some(wrench_backend::tickets::service::normalize_tag(&self.tag)).filter(|t| !t.is_empty()),
            ..Default::default()
        }
    }

    pub fn sort(&self) -> TicketSort {
        let field = match self.sort {
            "created" => SortField::Created,
            "priority" => SortField::Priority,
            "number" => SortField::Number,
            _ => SortField::Updated,
        };
        TicketSort { field, descending: self.dir == "desc" }
    }

    /// The query string of this view without the page position.
    pub fn base(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for s in &self.statuses {
            out.push(("status", s.as_str().to_string()));
        }
        for p in &self.priorities {
            out.push(("priority", p.as_str().to_string()));
        }
        out.push(("company", self.company.map(|c| c.to_string()).unwrap_or_default()));
        out.push(("queue", self.queue.map(|c| c.to_string()).unwrap_or_default()));
        out.push(("assignee", self.assignee.clone()));
        out.push(("tag", self.tag.clone()));
        out.push(("sort", self.sort.to_string()));
        out.push(("dir", self.dir.to_string()));
        out
    }

    pub fn has_status(&self, s: &str) -> bool {
        self.statuses.iter().any(|x| x.as_str() == s)
    }
    pub fn queue_is(&self, id: &i64) -> bool {
        self.queue == Some(*id)
    }
    pub fn has_priority(&self, p: &str) -> bool {
        self.priorities.iter().any(|x| x.as_str() == p)
    }
}

#[derive(Template)]
#[template(path = "tickets/list.html")]
struct ListPage {
    c: Chrome,
    q: ListQuery,
    tickets: Vec<TicketRow>,
    total: i64,
    first_link: String,
    next_link: Option<String>,
    statuses: Vec<Status>,
    priorities: Vec<Priority>,
    companies: Vec<CompanyOption>,
    queues: Vec<Queue>,
    users: Vec<User>,
    errors: Errors,
}

pub async fn list(req: HttpRequest, SignedIn(v): SignedIn) -> Result<HttpResponse, WebError> {
    if !v.is_staff() {
        return portal_list(req, v).await;
    }
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let mut errs = Vec::new();
    let q = ListQuery::parse(&f, &mut errs);
    let (who, filter, sort, after, company) = (v.who.clone(), q.filter(&v), q.sort(), q.after.clone(), q.company);
    let (page, companies, queues, users, err, badges) = run(&app, move |app| {
        let (page, err) = match tickets::list(app, &who, &filter, sort, &PageRequest::new(Some(PAGE_SIZE), after)?) {
            Ok(p) => (Some(p), None),
            Err(wrench_backend::error::ServiceError::Invalid(e)) => (None, Some(e)),
            Err(e) => return Err(e),
        };
        let companies = company_options(app, &who, company)?;
        let queues = accounts::list_queues(app, &who)?;
        let users = accounts::list_users(app, &who, false, &PageRequest::new(Some(100), None)?)?;
        let ids: Vec<i64> = page.iter().flat_map(|p| p.page.items.iter().map(|(_, t)| t.id)).collect();
        let badges = crate::sla::badges(app, &who, &ids)?;
        Ok((page, companies, queues, users.items.into_iter().map(|(_, u)| u).collect(), err, badges))
    })
    .await?;
    errs.extend(err.unwrap_or_default());
    let base = q.base();
    let (tickets, total, next_link) = match page {
        Some(p) => {
            let next = if p.page.has_next { p.page.items.last().map(|(c, _)| c.clone()) } else { None };
            let total = p.page.total;
            let next_link = next.map(|n| {
                let mut pairs = base.clone();
                pairs.push(("after", n));
                format!("/tickets?{}", query(&pairs))
            });
            let mut rows = TicketRow::all(p);
            crate::sla::attach(&mut rows, &badges);
            (rows, total, next_link)
        }
        None => (Vec::new(), 0, None),
    };
    render(&ListPage {
        c: Chrome::new(&v, "Tickets", "tickets").with_notice(&f),
        first_link: format!("/tickets?{}", query(&base)),
        q,
        tickets,
        total,
        next_link,
        statuses: Status::ALL.to_vec(),
        priorities: Priority::ALL.to_vec(),
        companies,
        queues,
        users,
        errors: Errors::new("filter", errs),
    })
}

#[derive(Template)]
#[template(path = "portal/list.html")]
struct PortalList {
    c: Chrome,
    open: Vec<TicketRow>,
    open_total: i64,
    open_next_link: Option<String>,
    done: Vec<TicketRow>,
    done_total: i64,
    next_link: Option<String>,
}

async fn portal_list(req: HttpRequest, v: Viewer) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let (who, after, open_after) = (v.who.clone(), f.opt("after"), f.opt("open_after"));
    let (open, done) = run(&app, move |app| {
        let sort = TicketSort { field: SortField::Updated, descending: true };
        let active: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_active()).collect();
        let open = tickets::list(
            app,
            &who,
            &TicketFilter { statuses: active, ..Default::default() },
            sort,
            &PageRequest::new(Some(50), open_after)?,
        )?;
        let done = tickets::list(
            app,
            &who,
            &TicketFilter { statuses: vec![Status::Resolved, Status::Closed], ..Default::default() },
            sort,
            &PageRequest::new(Some(25), after)?,
        )?;
        Ok((open, done))
    })
    .await?;
    let open_next_link = if open.page.has_next {
        open.page.items.last().map(|(c, _)| format!("/tickets?{}", query(&[("open_after", c.clone())])))
    } else {
        None
    };
    let next_link = if done.page.has_next {
        done.page.items.last().map(|(c, _)| format!("/tickets?{}", query(&[("after", c.clone())])))
    } else {
        None
    };
    render(&PortalList {
        c: Chrome::new(&v, "Your company's tickets", "tickets").with_notice(&f),
        open_total: open.page.total,
        open: TicketRow::all(open),
        open_next_link,
        done_total: done.page.total,
        done: TicketRow::all(done),
        next_link,
    })
}
