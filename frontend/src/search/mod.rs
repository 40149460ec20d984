//! The search page (staff console and customer portal alike: the service applies the
//! viewer's permissions) and the header's search box that sends to it. Snippets arrive as
//! escaped HTML with `<mark>` from the service; everything else is escaped by askama.

use crate::form::FormData;
use crate::page::{query, render, render_status, see_other, Chrome, WebError};
use crate::session::{app_of, run, SignedIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::error::ServiceError;
use wrench_backend::paging::PageRequest;
use wrench_backend::search::schema::DocKind;
use wrench_backend::search::service::{self as search, FacetValue, Hit, SearchResults};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(search_page));
}

pub const PAGE_SIZE: i32 = 20;

/// Hits of one kind, in relevance order.
struct Group {
    label: &'static str,
    hits: Vec<Hit>,
}

#[derive(Template)]
#[template(path = "search/results.html")]
struct SearchPage {
    c: Chrome,
    q: String,
    error: Option<String>,
    results: Option<SearchResults>,
    groups: Vec<Group>,
    next: Option<String>,
    previous: Option<String>,
}

impl SearchPage {
    /// The link that adds a facet's filter to the query.
    fn narrow(&self, f: &FacetValue) -> String {
        let q = if self.q.contains(&f.filter) { self.q.clone() } else { format!("{} {}", self.q.trim(), f.filter) };
        format!("/search?{}", query(&[("q", q)]))
    }

    /// Tickets and their messages show the ticket number.
    fn number(&self, h: &Hit) -> Option<i64> {
        matches!(h.kind, DocKind::Ticket | DocKind::Reply | DocKind::Note).then_some(h.number)
    }

    fn link(&self, h: &Hit) -> Option<String> {
        match h.kind {
            DocKind::Ticket => Some(format!("/tickets/{}", h.number)),
            DocKind::Reply | DocKind::Note => Some(format!("/tickets/{}#entry-{}", h.number, h.id)),
            DocKind::Company => Some(format!("/companies/{}", h.id)),
            DocKind::Contact => Some(format!("/contacts/{}", h.id)),
            DocKind::DevThread => Some(format!("/development/{}", h.id)),
            DocKind::DevComment => Some(format!("/development/{}", h.number)),
        }
    }

    fn when(&self, secs: &i64) -> String {
        chrono::DateTime::from_timestamp(*secs, 0).map(|t| self.c.time(t.naive_utc())).unwrap_or_default()
    }
}

fn group(hits: Vec<Hit>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for h in hits {
        match groups.iter_mut().find(|g| g.label == h.kind.label()) {
            Some(g) => g.hits.push(h),
            None => groups.push(Group { label: h.kind.label(), hits: vec![h] }),
        }
    }
    groups
}

pub async fn search_page(req: HttpRequest, SignedIn(v): SignedIn) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let f = FormData::from_query(&req);
    let q = f.get("q").trim().to_string();
    let after = f.opt("after");
    let mut page = SearchPage {
        c: Chrome::new(&v, if q.is_empty() { "Search".to_string() } else { format!("Search: {q}") }, "search"),
        q: q.clone(),
        error: None,
        results: None,
        groups: Vec::new(),
        next: None,
        previous: None,
    };
    if q.is_empty() {
        return render(&page);
    }
    let (who, text, first_page) = (v.who.clone(), q.clone(), after.is_none());
    let found =
        run(&app, move |app| search::search(app, &who, &text, &PageRequest::new(Some(PAGE_SIZE), after)?)).await;
    match found {
        Ok(r) => {
            if let (Some(n), true) = (r.ticket_number, first_page) {
                return Ok(see_other(&format!("/tickets/{n}")));
            }
            page.next = r
                .has_next
                .then(|| r.hits.last().map(|h| query(&[("q", q.clone()), ("after", h.cursor.clone())])))
                .flatten();
            page.previous = r.previous_cursor.clone().map(|c| query(&[("q", q.clone()), ("after", c)]));
            let mut r = r;
            page.groups = group(std::mem::take(&mut r.hits));
            page.results = Some(r);
            render(&page)
        }
        Err(ServiceError::Invalid(errs)) => {
            page.error = Some(errs.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; "));
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(ServiceError::Conflict(m)) => {
            page.error = Some(m);
            render_status(StatusCode::SERVICE_UNAVAILABLE, &page)
        }
        Err(e) => Err(e.into()),
    }
}
