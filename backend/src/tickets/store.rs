//! Diesel queries for tickets: the filtered, keyset-paged list and bulk look-ups.

use super::model::{Priority, Status, Ticket};
use crate::accounts::model::{Company, Contact, Queue, User};
use crate::db::{Backend, DbConn};
use crate::schema::{companies, contacts, queues, ticket_tags, tickets, users};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    User(i64),
    Unassigned,
}

#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub statuses: Vec<Status>,
    pub priorities: Vec<Priority>,
    pub company_id: Option<i64>,
    pub requester_id: Option<i64>,
    pub assignee: Option<AssigneeFilter>,
    pub queue_id: Option<i64>,
    pub tag: Option<String>,
    pub created_after: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
    pub updated_after: Option<NaiveDateTime>,
    pub updated_before: Option<NaiveDateTime>,
    /// Tickets merged into another are hidden unless asked for.
    pub include_merged: bool,
    /// A running SLA clock due before this time.
    pub sla_due_before: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    #[default]
    Created,
    Updated,
    Priority,
    Number,
    SlaDue,
}

impl SortField {
    fn code(self) -> &'static str {
        match self {
            SortField::Created => "c",
            SortField::Updated => "u",
            SortField::Priority => "p",
            SortField::Number => "n",
            SortField::SlaDue => "s",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketSort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for TicketSort {
    fn default() -> Self {
        TicketSort { field: SortField::Created, descending: true }
    }
}

/// A position in the ticket list: the sort key of the last row seen and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset {
    pub key: i64,
    pub id: i64,
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn from_micros(m: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_micros(m).map(|d| d.naive_utc()).unwrap_or_default()
}

impl Keyset {
    pub fn of(t: &Ticket, field: SortField) -> Keyset {
        let key = match field {
            SortField::Created => micros(t.created_at),
            SortField::Updated => micros(t.updated_at),
            SortField::Priority => t.priority,
            SortField::Number => t.id,
            SortField::SlaDue => micros(t.sla_due_at),
        };
        Keyset { key, id: t.id }
    }

    pub fn encode(&self, sort: TicketSort) -> String {
        crate::paging::encode_cursor(&format!(
            "t:{}{}:{}:{}",
            sort.field.code(),
            if sort.descending { "d" } else { "a" },
            self.key,
            self.id
        ))
    }

    /// Decodes a cursor made by `encode` for the same sort; anything else is `None`.
    pub fn decode(cursor: &str, sort: TicketSort) -> Option<Keyset> {
        let raw = crate::paging::decode_cursor(cursor)?;
        let mut parts = raw.strip_prefix("t:")?.split(':');
        let tag = parts.next()?;
        let expected = format!("{}{}", sort.field.code(), if sort.descending { "d" } else { "a" });
        if tag != expected {
            return None;
        }
        let key = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        Some(Keyset { key, id })
    }
}

pub type BoxedTickets<'a> = tickets::BoxedQuery<'a, Backend>;

/// The filtered query, with the caller's company confinement applied first.
pub fn filtered<'a>(filter: &'a TicketFilter, confined_company: Option<i64>) -> BoxedTickets<'a> {
    let mut q = tickets::table.into_boxed();
    if let Some(c) = confined_company {
        q = q.filter(tickets::company_id.eq(c));
    }
    if !filter.include_merged {
        q = q.filter(tickets::merged_into_id.is_null());
    }
    if !filter.statuses.is_empty() {
        q = q.filter(tickets::status.eq_any(filter.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    }
    if !filter.priorities.is_empty() {
        q = q.filter(tickets::priority.eq_any(filter.priorities.iter().map(|p| p.rank()).collect::<Vec<_>>()));
    }
    if let Some(c) = filter.company_id {
        q = q.filter(tickets::company_id.eq(c));
    }
    if let Some(r) = filter.requester_id {
        q = q.filter(tickets::requester_id.eq(r));
    }
    match filter.assignee {
        Some(AssigneeFilter::User(u)) => q = q.filter(tickets::assignee_id.eq(u)),
        Some(AssigneeFilter::Unassigned) => q = q.filter(tickets::assignee_id.is_null()),
        None => {}
    }
    if let Some(queue) = filter.queue_id {
        q = q.filter(tickets::queue_id.eq(queue));
    }
    if let Some(tag) = &filter.tag {
        q = q.filter(
            tickets::id
                .eq_any(ticket_tags::table.filter(ticket_tags::tag.eq(tag.clone())).select(ticket_tags::ticket_id)),
        );
    }
    if let Some(t) = filter.created_after {
        q = q.filter(tickets::created_at.ge(t));
    }
    if let Some(t) = filter.created_before {
        q = q.filter(tickets::created_at.lt(t));
    }
    if let Some(t) = filter.updated_after {
        q = q.filter(tickets::updated_at.ge(t));
    }
    if let Some(t) = filter.updated_before {
        q = q.filter(tickets::updated_at.lt(t));
    }
    if let Some(t) = filter.sla_due_before {
        q = q.filter(tickets::sla_due_at.lt(t));
    }
    q
}

macro_rules! keyset_page {
    ($q:expr, $col:expr, $value:expr, $after:expr, $desc:expr) => {{
        let mut q = $q;
        if let Some(after) = $after {
            let v = $value(after.key);
            q = if $desc {
                q.filter($col.lt(v).or($col.eq(v).and(tickets::id.lt(after.id))))
            } else {
                q.filter($col.gt(v).or($col.eq(v).and(tickets::id.gt(after.id))))
            };
        }
        if $desc {
            q.order(($col.desc(), tickets::id.desc()))
        } else {
            q.order(($col.asc(), tickets::id.asc()))
        }
    }};
}

/// One page (`limit` rows) after the keyset position, in the requested order.
pub fn page<'a>(q: BoxedTickets<'a>, sort: TicketSort, after: Option<Keyset>, limit: i64) -> BoxedTickets<'a> {
    let d = sort.descending;
    let q = match sort.field {
        SortField::Created => keyset_page!(q, tickets::created_at, from_micros, after, d),
        SortField::Updated => keyset_page!(q, tickets::updated_at, from_micros, after, d),
        SortField::Priority => keyset_page!(q, tickets::priority, |k: i64| k, after, d),
        SortField::SlaDue => keyset_page!(q, tickets::sla_due_at, from_micros, after, d),
        SortField::Number => {
            let mut q = q;
            if let Some(a) = after {
                q = if d { q.filter(tickets::id.lt(a.id)) } else { q.filter(tickets::id.gt(a.id)) };
            }
            if d {
                q.order(tickets::id.desc())
            } else {
                q.order(tickets::id.asc())
            }
        }
    };
    q.limit(limit)
}

pub fn ticket(conn: &mut DbConn, id: i64) -> QueryResult<Option<Ticket>> {
    tickets::table.find(id).select(Ticket::as_select()).first(conn).optional()
}

/// Reads the ticket and holds it for the rest of the transaction: `FOR UPDATE` on PostgreSQL;
/// on SQLite the IMMEDIATE transaction (`write_tx`) already holds the one write lock. (Not a
/// no-op `UPDATE … SET id = id`: on SQLite that counts as changing the key every table that
/// references tickets points at, and runs their foreign-key checks.)
pub fn lock(conn: &mut DbConn, id: i64) -> QueryResult<Option<Ticket>> {
    match conn {
        DbConn::Postgres(pg) => tickets::table.find(id).select(Ticket::as_select()).for_update().first(pg).optional(),
        DbConn::Sqlite(_) => ticket(conn, id),
    }
}

pub fn tags(conn: &mut DbConn, id: i64) -> QueryResult<Vec<String>> {
    ticket_tags::table.filter(ticket_tags::ticket_id.eq(id)).order(ticket_tags::tag).select(ticket_tags::tag).load(conn)
}

/// Everything a page of tickets refers to, loaded in one query per kind.
#[derive(Debug, Default)]
pub struct Related {
    pub companies: HashMap<i64, Company>,
    pub contacts: HashMap<i64, Contact>,
    pub users: HashMap<i64, User>,
    pub queues: HashMap<i64, Queue>,
    pub tags: HashMap<i64, Vec<String>>,
}

pub fn related(conn: &mut DbConn, list: &[Ticket], staff: bool) -> QueryResult<Related> {
    let mut r = Related::default();
    let ids: Vec<i64> = list.iter().map(|t| t.id).collect();
    let company_ids: Vec<i64> = list.iter().filter_map(|t| t.company_id).collect();
    let contact_ids: Vec<i64> = list.iter().filter_map(|t| t.requester_id).collect();
    if !company_ids.is_empty() {
        r.companies = companies::table
            .filter(companies::id.eq_any(&company_ids))
            .select(Company::as_select())
            .load(conn)?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
    }
    if !contact_ids.is_empty() {
        r.contacts = contacts::table
            .filter(contacts::id.eq_any(&contact_ids))
            .select(Contact::as_select())
            .load(conn)?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
    }
    if staff {
        let user_ids: Vec<i64> = list.iter().filter_map(|t| t.assignee_id).collect();
        if !user_ids.is_empty() {
            r.users = users::table
                .filter(users::id.eq_any(&user_ids))
                .select(User::as_select())
                .load(conn)?
                .into_iter()
                .map(|u| (u.id, u))
                .collect();
        }
        let queue_ids: Vec<i64> = list.iter().map(|t| t.queue_id).collect();
        r.queues = queues::table
            .filter(queues::id.eq_any(&queue_ids))
            .select(Queue::as_select())
            .load(conn)?
            .into_iter()
            .map(|q| (q.id, q))
            .collect();
        if !ids.is_empty() {
            for (tid, tag) in ticket_tags::table
                .filter(ticket_tags::ticket_id.eq_any(&ids))
                .order((ticket_tags::ticket_id, ticket_tags::tag))
                .select((ticket_tags::ticket_id, ticket_tags::tag))
                .load::<(i64, String)>(conn)?
            {
                r.tags.entry(tid).or_default().push(tag);
            }
        }
    }
    Ok(r)
}
