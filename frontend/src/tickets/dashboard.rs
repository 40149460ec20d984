//! The technician's start page: my open tickets, unassigned tickets, recently updated.
//! The SLA issue adds at-risk and breached tickets at the top (a marked place in the
//! template), from its own service.

use super::list::TicketRow;
use crate::form::FormData;
use crate::page::{render, Chrome, WebError};
use crate::session::{app_of, run, Staff};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use wrench_backend::paging::PageRequest;
use wrench_backend::tickets::model::Status;
use wrench_backend::tickets::service as tickets;
use wrench_backend::tickets::store::{AssigneeFilter, SortField, TicketFilter, TicketSort};

const SECTION: i32 = 15;

#[derive(Template)]
#[template(path = "tickets/dashboard.html")]
struct Dashboard {
    c: Chrome,
    mine: Vec<TicketRow>,
    mine_total: i64,
    unassigned: Vec<TicketRow>,
    unassigned_total: i64,
    recent: Vec<TicketRow>,
    /// Running SLA clocks past their warning or overdue, soonest due first.
    at_risk: Vec<crate::sla::AtRiskRow>,
}

pub async fn show(req: HttpRequest, Staff(v): Staff) -> Result<HttpResponse, WebError> {
    let app = app_of(&req)?;
    let who = v.who.clone();
    let me = v.user_id().ok_or(WebError::Forbidden)?;
    let (mine, unassigned, recent, at_risk, badges) = run(&app, move |app| {
        let active: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_active()).collect();
        let page = PageRequest::new(Some(SECTION), None)?;
        let updated = TicketSort { field: SortField::Updated, descending: true };
        let mine = tickets::list(
            app,
            &who,
            &TicketFilter { statuses: active.clone(), assignee: Some(AssigneeFilter::User(me)), ..Default::default() },
            TicketSort { field: SortField::Priority, descending: true },
            &page,
        )?;
        let unassigned = tickets::list(
            app,
            &who,
            &TicketFilter { statuses: active, assignee: Some(AssigneeFilter::Unassigned), ..Default::default() },
            TicketSort { field: SortField::Created, descending: false },
            &page,
        )?;
        // No total is shown for this section: skip counting every ticket.
        let recent = tickets::list(app, &who, &TicketFilter::default(), updated, &page.clone().without_count())?;
        let at_risk = crate::sla::at_risk(app, &who, i64::from(SECTION))?;
        let ids: Vec<i64> =
            [&mine, &unassigned, &recent].iter().flat_map(|p| p.page.items.iter().map(|(_, t)| t.id)).collect();
        let badges = crate::sla::badges(app, &who, &ids)?;
        Ok((mine, unassigned, recent, at_risk, badges))
    })
    .await?;
    render(&Dashboard {
        c: Chrome::new(&v, "Dashboard", "dashboard").with_notice(&FormData::from_query(&req)),
        mine_total: mine.page.total,
        mine: with_badges(TicketRow::all(mine), &badges),
        unassigned_total: unassigned.page.total,
        unassigned: with_badges(TicketRow::all(unassigned), &badges),
        recent: with_badges(TicketRow::all(recent), &badges),
        at_risk,
    })
}

fn with_badges(mut rows: Vec<TicketRow>, badges: &std::collections::HashMap<i64, crate::sla::Badge>) -> Vec<TicketRow> {
    crate::sla::attach(&mut rows, badges);
    rows
}
