//! Rules and permissions for tickets: who may see and change what, the status workflow,
//! the thread, time, links, merging, events and the notifications they cause.
//!
//! Every write runs in one transaction that also records the ticket event(s), the
//! change-log rows and any jobs, and locks the ticket row first so concurrent updates of one
//! ticket serialise instead of losing each other's changes.

use super::model::{Entry, EntryKind, Event, Link, LinkKind, Priority, Status, Ticket, TimeEntry};
use super::store::{self, Keyset, Related, TicketFilter, TicketSort};
use crate::accounts::auth::Principal;
use crate::accounts::store as accounts;
use crate::app::App;
use crate::changelog;
use crate::db::{read_tx, write_tx, DbConn};
use crate::error::{Checks, ServiceError, ServiceResult};
use crate::jobs;
use crate::notifications::service::{self as notify, NewNotification, Recipient};
use crate::paging::{Page, PageRequest};
use crate::schema::{
    contacts, queue_members, ticket_entries, ticket_events, ticket_links, ticket_tags, ticket_watchers, tickets,
    time_entries, users,
};
use crate::sla::service as sla;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;
use std::collections::HashSet;

pub const MAX_BODY: usize = 100_000;
pub const MAX_SUBJECT: usize = 200;
pub const MAX_TAGS: usize = 30;
pub const AUTO_CLOSE_JOB: &str = "ticket.autoclose";

// ---------------------------------------------------------------- visibility

/// Loads a ticket the caller may see. A contact sees only their company's tickets; for
/// anything else the answer is "not found", so ids cannot be probed.
pub fn visible(conn: &mut DbConn, who: &Principal, id: i64) -> ServiceResult<Ticket> {
    who.require_signed_in()?;
    let t = store::ticket(conn, id)?.ok_or(ServiceError::NotFound("ticket"))?;
    check_visible(who, &t)?;
    Ok(t)
}

pub fn check_visible(who: &Principal, t: &Ticket) -> ServiceResult<()> {
    match who.confined_to_company() {
        Some(c) if t.company_id != Some(c) => Err(ServiceError::NotFound("ticket")),
        _ => Ok(()),
    }
}

fn lock_visible(conn: &mut DbConn, who: &Principal, id: i64) -> ServiceResult<Ticket> {
    let t = store::lock(conn, id)?.ok_or(ServiceError::NotFound("ticket"))?;
    check_visible(who, &t)?;
    Ok(t)
}

pub fn get(app: &App, who: &Principal, number: i64) -> ServiceResult<Ticket> {
    let mut conn = app.conn()?;
    visible(&mut conn, who, number)
}

/// Staff-only parts of a ticket (queue, assignee, tags, watchers, time, links, events).
pub fn require_staff_view(who: &Principal) -> ServiceResult<()> {
    who.require_staff().map(|_| ())
}

// ---------------------------------------------------------------- list

pub struct TicketPage {
    pub page: Page<Ticket>,
    pub related: Related,
}

pub fn list(
    app: &App,
    who: &Principal,
    filter: &TicketFilter,
    sort: TicketSort,
    req: &PageRequest,
) -> ServiceResult<TicketPage> {
    who.require_signed_in()?;
    let confined = who.confined_to_company();
    if confined.is_some()
        && (filter.assignee.is_some()
            || filter.queue_id.is_some()
            || filter.tag.is_some()
            || filter.sla_due_before.is_some()
            || sort.field == store::SortField::SlaDue)
    {
        // Staff-only fields cannot be used to learn anything by filtering either.
        return Err(ServiceError::invalid("filter", "assignee, queue, tag and SLA filters are for staff"));
    }
    let after = match &req.after {
        None => None,
        Some(c) => Some(
            Keyset::decode(c, sort)
                .ok_or_else(|| ServiceError::invalid("after", "is not a cursor from this list and sort order"))?,
        ),
    };
    let mut conn = app.conn()?;
    read_tx(&mut conn, |conn| {
        let total: i64 = if req.count { store::filtered(filter, confined).count().get_result(conn)? } else { -1 };
        let mut rows: Vec<Ticket> = store::page(store::filtered(filter, confined), sort, after, req.first + 1)
            .select(Ticket::as_select())
            .load(conn)?;
        let has_next = rows.len() as i64 > req.first;
        rows.truncate(req.first as usize);
        let related = store::related(conn, &rows, who.is_staff())?;
        let items = rows.into_iter().map(|t| (Keyset::of(&t, sort.field).encode(sort), t)).collect();
        Ok(TicketPage { page: Page { items, total, has_next, has_previous: after.is_some() }, related })
    })
}

/// One ticket with what it refers to.
pub fn get_with_related(app: &App, who: &Principal, number: i64) -> ServiceResult<(Ticket, Related)> {
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, number)?;
    let related = store::related(&mut conn, std::slice::from_ref(&t), who.is_staff())?;
    Ok((t, related))
}

// ---------------------------------------------------------------- create

#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub subject: String,
    pub body: String,
    pub requester_id: Option<i64>,
    pub company_id: Option<i64>,
    pub priority: Option<Priority>,
    pub queue_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub tags: Vec<String>,
    /// web, api, mail, agent…
    pub source: String,
}

fn check_text(checks: &mut Checks, field: &str, value: &str, max: usize) {
    if value.trim().is_empty() {
        checks.add(field, "is required");
    } else if value.chars().count() > max {
        checks.add(field, format!("must be at most {max} characters"));
    }
}

pub fn normalize_tag(tag: &str) -> String {
    tag.trim().to_lowercase().split_whitespace().collect::<Vec<_>>().join("-")
}

fn check_tags(checks: &mut Checks, field: &str, tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let n = normalize_tag(t);
        if n.is_empty() {
            continue;
        }
        if n.chars().count() > 50 || n.chars().any(|c| c.is_control() || c == ',') {
            checks.add(field, format!("{t:?} is not a tag (at most 50 characters, no commas)"));
        } else if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.len() > MAX_TAGS {
        checks.add(field, format!("at most {MAX_TAGS} tags"));
    }
    out
}

fn check_assignee(conn: &mut DbConn, checks: &mut Checks, field: &str, id: i64) -> QueryResult<()> {
    match accounts::user(conn, id)? {
        None => checks.add(field, "no such staff user"),
        Some(u) if !u.active => checks.add(field, format!("{} is deactivated", u.name)),
        _ => {}
    }
    Ok(())
}

/// Opens a ticket. A contact opens it for themselves (their company, the default queue);
/// staff may open it on behalf of a contact, or without one (goes to triage).
pub fn create(app: &App, who: &Principal, input: NewTicket) -> ServiceResult<Ticket> {
    who.require_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| create_in(conn, app, who, input, now))?;
    app.committed();
    store::ticket(&mut conn, id)?.ok_or(ServiceError::NotFound("ticket"))
}

/// The transactional part of `create`, shared with features that open tickets inside their
/// own transaction (mail gateway, agent alerts, follow-ups of closed tickets).
pub fn create_in(
    conn: &mut DbConn,
    app: &App,
    who: &Principal,
    mut input: NewTicket,
    now: NaiveDateTime,
) -> ServiceResult<i64> {
    let mut checks = Checks::new();
    check_text(&mut checks, "subject", &input.subject, MAX_SUBJECT);
    check_text(&mut checks, "body", &input.body, MAX_BODY);
    let tags = check_tags(&mut checks, "tags", &input.tags);
    match who {
        Principal::Contact(c) => {
            // A contact's own ticket: staff-only fields are not theirs to set.
            if input.queue_id.is_some() || input.assignee_id.is_some() || !tags.is_empty() {
                return Err(ServiceError::Forbidden);
            }
            if input.requester_id.is_some_and(|r| r != c.contact_id)
                || input.company_id.is_some_and(|x| x != c.company_id)
            {
                return Err(ServiceError::Forbidden);
            }
            input.requester_id = Some(c.contact_id);
            input.company_id = Some(c.company_id);
        }
        Principal::Staff(_) | Principal::System => {}
        Principal::Anonymous => return Err(ServiceError::Unauthenticated),
    }
    if let Some(r) = input.requester_id {
        match accounts::contact(conn, r)? {
            None => checks.add("requesterId", "no such contact"),
            Some(c) => {
                if input.company_id.is_some_and(|x| x != c.company_id) {
                    checks.add("companyId", "the requester belongs to another company");
                }
                input.company_id = Some(c.company_id);
            }
        }
    } else if let Some(c) = input.company_id {
        if accounts::company(conn, c)?.is_none() {
            checks.add("companyId", "no such company");
        }
    }
    if let Some(q) = input.queue_id {
        if accounts::queue(conn, q)?.is_none() {
            checks.add("queueId", "no such queue");
        }
    }
    if let Some(a) = input.assignee_id {
        check_assignee(conn, &mut checks, "assigneeId", a)?;
    }
    checks.finish()?;
    let queue_id = match input.queue_id {
        Some(q) => q,
        // Mail from unknown senders and alerts without a company wait in triage.
        None => accounts::default_queue(conn, input.company_id.is_none())?.id,
    };
    let priority = input.priority.unwrap_or(Priority::Normal);
    let id: i64 = diesel::insert_into(tickets::table)
        .values((
            tickets::subject.eq(input.subject.trim()),
            tickets::company_id.eq(input.company_id),
            tickets::requester_id.eq(input.requester_id),
            tickets::status.eq(Status::New.as_str()),
            tickets::priority.eq(priority.rank()),
            tickets::queue_id.eq(queue_id),
            tickets::assignee_id.eq(input.assignee_id),
            tickets::source.eq(if input.source.is_empty() { "api" } else { input.source.as_str() }),
            tickets::created_at.eq(now),
            tickets::updated_at.eq(now),
            tickets::last_activity_at.eq(now),
        ))
        .returning(tickets::id)
        .get_result(conn)?;
    for tag in &tags {
        diesel::insert_into(ticket_tags::table)
            .values((ticket_tags::ticket_id.eq(id), ticket_tags::tag.eq(tag)))
            .execute(conn)?;
    }
    event(conn, id, who, "created", None, Some(input.subject.trim()), now)?;
    let entry_id = insert_entry(conn, id, EntryKind::Reply, who, input.body.trim_end(), None, now)?;
    changelog::record(conn, "ticket", id, now)?;
    changelog::record(conn, "entry", entry_id, now)?;
    // Tell the people who pick work up: the assignee, or the queue's dispatchers.
    let mut recipients: Vec<Recipient> = match input.assignee_id {
        Some(a) => vec![Recipient::User(a)],
        None => dispatchers(conn, queue_id)?,
    };
    recipients.retain(|r| Some(*r) != actor_recipient(who));
    notify::post(
        conn,
        &recipients,
        &NewNotification {
            kind: "ticket.new",
            title: &format!("New ticket #{id}: {}", input.subject.trim()),
            body: "",
            ticket_id: Some(id),
            link: &format!("/tickets/{id}"),
        },
        now,
    )?;
    sla::on_ticket(conn, app, id, sla::Trigger::Created, now)?;
    Ok(id)
}

/// The active dispatchers of a queue, as notification recipients.
pub(crate) fn dispatchers(conn: &mut DbConn, queue_id: i64) -> QueryResult<Vec<Recipient>> {
    let ids: Vec<i64> = queue_members::table
        .inner_join(users::table)
        .filter(queue_members::queue_id.eq(queue_id))
        .filter(queue_members::is_dispatcher.eq(true))
        .filter(users::active.eq(true))
        .select(queue_members::user_id)
        .load(conn)?;
    Ok(ids.into_iter().map(Recipient::User).collect())
}

fn actor_recipient(who: &Principal) -> Option<Recipient> {
    match who {
        Principal::Staff(s) => Some(Recipient::User(s.user_id)),
        Principal::Contact(c) => Some(Recipient::Contact(c.contact_id)),
        _ => None,
    }
}

fn actor_ids(who: &Principal) -> (Option<i64>, Option<i64>) {
    (who.user_id(), who.contact_id())
}

pub fn event(
    conn: &mut DbConn,
    ticket_id: i64,
    who: &Principal,
    kind: &str,
    old: Option<&str>,
    new: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let (u, c) = actor_ids(who);
    diesel::insert_into(ticket_events::table)
        .values((
            ticket_events::ticket_id.eq(ticket_id),
            ticket_events::actor_user_id.eq(u),
            ticket_events::actor_contact_id.eq(c),
            ticket_events::kind.eq(kind),
            ticket_events::old_value.eq(old),
            ticket_events::new_value.eq(new),
            ticket_events::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Inbound HTML (mail) is sanitised once, here where every message is stored, so no caller
/// can skip it; pages show only this copy.
pub fn sanitize_html(html: &str) -> String {
    ammonia::Builder::default().link_rel(Some("noopener noreferrer nofollow")).clean(html).to_string()
}

pub fn insert_entry(
    conn: &mut DbConn,
    ticket_id: i64,
    kind: EntryKind,
    who: &Principal,
    body: &str,
    body_html: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let (u, c) = actor_ids(who);
    let label = match who {
        Principal::System => "Wrench",
        _ => "",
    };
    diesel::insert_into(ticket_entries::table)
        .values((
            ticket_entries::ticket_id.eq(ticket_id),
            ticket_entries::kind.eq(kind.as_str()),
            ticket_entries::author_user_id.eq(u),
            ticket_entries::author_contact_id.eq(c),
            ticket_entries::author_label.eq(label),
            ticket_entries::body.eq(body),
            ticket_entries::body_html.eq(body_html.map(sanitize_html)),
            ticket_entries::created_at.eq(now),
        ))
        .returning(ticket_entries::id)
        .get_result(conn)
}

// ---------------------------------------------------------------- update

#[derive(Debug, Clone, Default)]
pub struct TicketUpdate {
    pub subject: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    /// `Some(None)` unassigns.
    pub assignee_id: Option<Option<i64>>,
    pub queue_id: Option<i64>,
    /// Replaces the tag set.
    pub tags: Option<Vec<String>>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub add_watcher_users: Vec<i64>,
    pub remove_watcher_users: Vec<i64>,
    pub add_watcher_contacts: Vec<i64>,
    pub remove_watcher_contacts: Vec<i64>,
    /// Moves the ticket to another requester (and their company).
    pub requester_id: Option<i64>,
}

fn transition_message(from: Status, to: Status) -> String {
    let next: Vec<&str> = from.next_states().iter().map(|s| s.as_str()).collect();
    if next.is_empty() {
        format!("a {} ticket cannot change status (closed is final)", from.as_str())
    } else {
        format!("cannot go from {} to {}; allowed: {}", from.as_str(), to.as_str(), next.join(", "))
    }
}

fn transition_error(from: Status, to: Status) -> ServiceError {
    ServiceError::invalid("status", transition_message(from, to))
}

/// Applies a status change inside a transaction: validates the workflow, stamps
/// resolved/closed times, records the event and (un)schedules auto-close.
pub fn set_status(
    conn: &mut DbConn,
    app: &App,
    who: &Principal,
    t: &Ticket,
    to: Status,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    let from = t.status();
    if !from.can_become(to) {
        return Err(transition_error(from, to));
    }
    let resolved_at = match to {
        Status::Resolved => Some(now),
        Status::Closed => t.resolved_at,
        _ => None,
    };
    let closed_at = (to == Status::Closed).then_some(now);
    diesel::update(tickets::table.find(t.id))
        .set((
            tickets::status.eq(to.as_str()),
            tickets::resolved_at.eq(resolved_at),
            tickets::closed_at.eq(closed_at),
            tickets::updated_at.eq(now),
        ))
        .execute(conn)?;
    event(conn, t.id, who, "status", Some(from.as_str()), Some(to.as_str()), now)?;
    let key = format!("autoclose:{}", t.id);
    if to == Status::Resolved {
        let at = now + Duration::days(app.config.auto_close_days);
        jobs::schedule(conn, AUTO_CLOSE_JOB, &json!({ "ticket": t.id }), at, Some(&key), now)?;
    } else {
        jobs::cancel(conn, &key)?;
    }
    Ok(())
}

pub fn update(app: &App, who: &Principal, number: i64, u: TicketUpdate) -> ServiceResult<Ticket> {
    who.require_staff_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let t = lock_visible(conn, who, number)?;
        if t.merged_into_id.is_some() {
            return Err(ServiceError::Conflict(format!(
                "ticket #{number} was merged into #{}; change that ticket instead",
                t.merged_into_id.unwrap_or_default()
            )));
        }
        let mut checks = Checks::new();
        if let Some(s) = &u.subject {
            check_text(&mut checks, "subject", s, MAX_SUBJECT);
        }
        let replace_tags = u.tags.as_ref().map(|tags| check_tags(&mut checks, "tags", tags));
        let add_tags = check_tags(&mut checks, "addTags", &u.add_tags);
        let remove_tags: Vec<String> = u.remove_tags.iter().map(|t| normalize_tag(t)).collect();
        if let Some(Some(a)) = u.assignee_id {
            check_assignee(conn, &mut checks, "assigneeId", a)?;
        }
        if let Some(q) = u.queue_id {
            if accounts::queue(conn, q)?.is_none() {
                checks.add("queueId", "no such queue");
            }
        }
        for uid in &u.add_watcher_users {
            check_assignee(conn, &mut checks, "addWatcherUsers", *uid)?;
        }
        for cid in &u.add_watcher_contacts {
            match accounts::contact(conn, *cid)? {
                None => checks.add("addWatcherContacts", format!("no contact with id {cid}")),
                Some(c) if Some(c.company_id) != t.company_id => {
                    checks.add("addWatcherContacts", format!("{} is not from this ticket's company", c.email))
                }
                _ => {}
            }
        }
        let new_requester = match u.requester_id {
            Some(r) => match accounts::contact(conn, r)? {
                None => {
                    checks.add("requesterId", "no such contact");
                    None
                }
                Some(c) => Some(c),
            },
            None => None,
        };
        if let Some(s) = u.status {
            if s != t.status() && !t.status().can_become(s) {
                checks.add("status", transition_message(t.status(), s));
            }
        }
        checks.finish()?;

        let mut notices: Vec<(Vec<Recipient>, String)> = Vec::new();
        if let Some(s) = u.subject.as_deref().map(str::trim).filter(|s| *s != t.subject) {
            diesel::update(tickets::table.find(t.id)).set(tickets::subject.eq(s)).execute(conn)?;
            event(conn, t.id, who, "subject", Some(&t.subject), Some(s), now)?;
        }
        if let Some(p) = u.priority.filter(|p| *p != t.priority()) {
            diesel::update(tickets::table.find(t.id)).set(tickets::priority.eq(p.rank())).execute(conn)?;
            event(conn, t.id, who, "priority", Some(t.priority().as_str()), Some(p.as_str()), now)?;
        }
        if let Some(a) = u.assignee_id.filter(|a| *a != t.assignee_id) {
            diesel::update(tickets::table.find(t.id)).set(tickets::assignee_id.eq(a)).execute(conn)?;
            let names = crate::accounts::service::user_names(
                conn,
                &[t.assignee_id, a].into_iter().flatten().collect::<Vec<_>>(),
            )?;
            let name = |id: Option<i64>| id.and_then(|i| names.get(&i).cloned());
            event(conn, t.id, who, "assignee", name(t.assignee_id).as_deref(), name(a).as_deref(), now)?;
            if let Some(a) = a.filter(|a| Some(*a) != who.user_id()) {
                notices
                    .push((vec![Recipient::User(a)], format!("Ticket #{} was assigned to you: {}", t.id, t.subject)));
            }
        }
        if let Some(q) = u.queue_id.filter(|q| *q != t.queue_id) {
            diesel::update(tickets::table.find(t.id)).set(tickets::queue_id.eq(q)).execute(conn)?;
            let old = accounts::queue(conn, t.queue_id)?.map(|q| q.name);
            let new = accounts::queue(conn, q)?.map(|q| q.name);
            event(conn, t.id, who, "queue", old.as_deref(), new.as_deref(), now)?;
        }
        if let Some(c) = new_requester.filter(|c| Some(c.id) != t.requester_id) {
            diesel::update(tickets::table.find(t.id))
                .set((tickets::requester_id.eq(c.id), tickets::company_id.eq(c.company_id)))
                .execute(conn)?;
            drop_foreign_watchers(conn, t.id, c.company_id)?;
            event(conn, t.id, who, "requester", None, Some(&c.email), now)?;
        }
        // Tags.
        let current: HashSet<String> = store::tags(conn, t.id)?.into_iter().collect();
        let mut wanted: HashSet<String> =
            replace_tags.map(|v| v.into_iter().collect()).unwrap_or_else(|| current.clone());
        wanted.extend(add_tags);
        for r in &remove_tags {
            wanted.remove(r);
        }
        if wanted.len() > MAX_TAGS {
            return Err(ServiceError::invalid("tags", format!("at most {MAX_TAGS} tags")));
        }
        let mut added: Vec<&String> = wanted.difference(&current).collect();
        added.sort();
        let mut removed: Vec<&String> = current.difference(&wanted).collect();
        removed.sort();
        for tag in added {
            diesel::insert_into(ticket_tags::table)
                .values((ticket_tags::ticket_id.eq(t.id), ticket_tags::tag.eq(tag)))
                .execute(conn)?;
            event(conn, t.id, who, "tag_added", None, Some(tag), now)?;
        }
        for tag in removed {
            diesel::delete(ticket_tags::table.filter(ticket_tags::ticket_id.eq(t.id)).filter(ticket_tags::tag.eq(tag)))
                .execute(conn)?;
            event(conn, t.id, who, "tag_removed", Some(tag), None, now)?;
        }
        // Watchers.
        for uid in &u.add_watcher_users {
            if add_watcher(conn, t.id, Some(*uid), None)? {
                event(conn, t.id, who, "watcher_added", None, Some(&format!("user:{uid}")), now)?;
            }
        }
        for cid in &u.add_watcher_contacts {
            if add_watcher(conn, t.id, None, Some(*cid))? {
                event(conn, t.id, who, "watcher_added", None, Some(&format!("contact:{cid}")), now)?;
            }
        }
        for uid in &u.remove_watcher_users {
            let n = diesel::delete(
                ticket_watchers::table
                    .filter(ticket_watchers::ticket_id.eq(t.id))
                    .filter(ticket_watchers::user_id.eq(uid)),
            )
            .execute(conn)?;
            if n > 0 {
                event(conn, t.id, who, "watcher_removed", Some(&format!("user:{uid}")), None, now)?;
            }
        }
        for cid in &u.remove_watcher_contacts {
            let n = diesel::delete(
                ticket_watchers::table
                    .filter(ticket_watchers::ticket_id.eq(t.id))
                    .filter(ticket_watchers::contact_id.eq(cid)),
            )
            .execute(conn)?;
            if n > 0 {
                event(conn, t.id, who, "watcher_removed", Some(&format!("contact:{cid}")), None, now)?;
            }
        }
        if let Some(s) = u.status.filter(|s| *s != t.status()) {
            set_status(conn, app, who, &t, s, now)?;
            crate::mail::outbound::on_status_change(conn, app, &t, s, now)?;
            if let Some(r) = t.requester_id {
                notices.push((
                    vec![Recipient::Contact(r)],
                    format!("Ticket #{} is now {}", t.id, s.label().to_lowercase()),
                ));
            }
        }
        diesel::update(tickets::table.find(t.id))
            .set((tickets::updated_at.eq(now), tickets::last_activity_at.eq(now)))
            .execute(conn)?;
        sla::on_ticket(conn, app, t.id, sla::Trigger::Changed, now)?;
        changelog::record(conn, "ticket", t.id, now)?;
        for (recipients, title) in notices {
            notify::post(
                conn,
                &recipients,
                &NewNotification {
                    kind: "ticket.update",
                    title: &title,
                    body: "",
                    ticket_id: Some(t.id),
                    link: &format!("/tickets/{}", t.id),
                },
                now,
            )?;
        }
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    store::ticket(&mut conn, number)?.ok_or(ServiceError::NotFound("ticket"))
}

fn add_watcher(conn: &mut DbConn, ticket_id: i64, user_id: Option<i64>, contact_id: Option<i64>) -> QueryResult<bool> {
    let exists: i64 = match (user_id, contact_id) {
        (Some(u), _) => ticket_watchers::table
            .filter(ticket_watchers::ticket_id.eq(ticket_id))
            .filter(ticket_watchers::user_id.eq(u))
            .count()
            .get_result(conn)?,
        (_, Some(c)) => ticket_watchers::table
            .filter(ticket_watchers::ticket_id.eq(ticket_id))
            .filter(ticket_watchers::contact_id.eq(c))
            .count()
            .get_result(conn)?,
        _ => return Ok(false),
    };
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(ticket_watchers::table)
        .values((
            ticket_watchers::ticket_id.eq(ticket_id),
            ticket_watchers::user_id.eq(user_id),
            ticket_watchers::contact_id.eq(contact_id),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Removes contact watchers who are not of the ticket's company (after the ticket moved to
/// another company), so they stop hearing about it.
pub fn drop_foreign_watchers(conn: &mut DbConn, ticket_id: i64, company_id: i64) -> QueryResult<usize> {
    let foreign: Vec<i64> = ticket_watchers::table
        .inner_join(contacts::table.on(contacts::id.nullable().eq(ticket_watchers::contact_id)))
        .filter(ticket_watchers::ticket_id.eq(ticket_id))
        .filter(contacts::company_id.ne(company_id))
        .select(ticket_watchers::id)
        .load(conn)?;
    diesel::delete(ticket_watchers::table.filter(ticket_watchers::id.eq_any(foreign))).execute(conn)
}

/// Adds a contact as a watcher (used by the mail gateway for people on Cc).
pub fn watch_as_contact(conn: &mut DbConn, ticket_id: i64, contact_id: i64) -> QueryResult<bool> {
    add_watcher(conn, ticket_id, None, Some(contact_id))
}

fn watchers_of(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Recipient>> {
    let rows: Vec<(Option<i64>, Option<i64>)> = ticket_watchers::table
        .filter(ticket_watchers::ticket_id.eq(ticket_id))
        .select((ticket_watchers::user_id, ticket_watchers::contact_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r {
            (Some(u), _) => Some(Recipient::User(u)),
            (_, Some(c)) => Some(Recipient::Contact(c)),
            _ => None,
        })
        .collect())
}

// ---------------------------------------------------------------- the thread

#[derive(Debug, Clone, Default)]
pub struct ReplyInput {
    pub body: String,
    /// Sanitised HTML of the message, when it arrived as HTML (mail).
    pub body_html: Option<String>,
    /// Staff may set the status with the reply (e.g. waiting on customer).
    pub status: Option<Status>,
    /// Staff may log time with the reply.
    pub minutes: Option<i64>,
    pub billable: bool,
}

/// Where a reply lands: the entry and the ticket it was filed on (a contact's reply to a
/// closed ticket opens a follow-up ticket).
#[derive(Debug, Clone, Copy)]
pub struct Filed {
    pub ticket_id: i64,
    pub entry_id: i64,
}

pub fn add_reply(app: &App, who: &Principal, number: i64, input: ReplyInput) -> ServiceResult<(Filed, Entry)> {
    who.require_write()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let filed = write_tx(&mut conn, |conn| {
        let t = lock_visible(conn, who, number)?;
        let t = follow_merges(conn, t)?;
        check_visible(who, &t)?;
        reply_in(conn, app, who, t, input, now)
    })?;
    app.committed();
    let entry = ticket_entries::table.find(filed.entry_id).select(Entry::as_select()).first(&mut conn)?;
    Ok((filed, entry))
}

/// A ticket merged into another forwards everything to the surviving ticket.
pub fn follow_merges(conn: &mut DbConn, mut t: Ticket) -> ServiceResult<Ticket> {
    for _ in 0..16 {
        match t.merged_into_id {
            Some(target) => t = store::lock(conn, target)?.ok_or(ServiceError::NotFound("ticket"))?,
            None => return Ok(t),
        }
    }
    Err(ServiceError::internal(format!("merge chain too long at ticket {}", t.id)))
}

/// The transactional part of a public reply on a locked, visible ticket.
pub fn reply_in(
    conn: &mut DbConn,
    app: &App,
    who: &Principal,
    t: Ticket,
    input: ReplyInput,
    now: NaiveDateTime,
) -> ServiceResult<Filed> {
    let mut checks = Checks::new();
    check_text(&mut checks, "body", &input.body, MAX_BODY);
    let staff = who.is_staff();
    if !staff && (input.status.is_some() || input.minutes.is_some()) {
        return Err(ServiceError::Forbidden);
    }
    if input.minutes.is_some() && who.user_id().is_none() {
        checks.add("minutes", "time is logged by a staff member");
    }
    if let Some(m) = input.minutes {
        check_minutes(&mut checks, m);
    }
    if let Some(s) = input.status {
        if s != t.status() && !t.status().can_become(s) {
            checks.add("status", transition_message(t.status(), s));
        }
    }
    checks.finish()?;
    let status = t.status();
    if status == Status::Closed {
        if staff {
            return Err(ServiceError::Conflict(format!("ticket #{} is closed; open a new ticket instead", t.id)));
        }
        // Closed is final: the customer's message opens a new ticket linked to the old one.
        let follow = NewTicket {
            subject: t.subject.clone(),
            body: input.body.clone(),
            source: "web".into(),
            ..Default::default()
        };
        let new_id = create_in(conn, app, who, follow, now)?;
        insert_link(conn, new_id, t.id, LinkKind::FollowUpOf, now)?;
        event(conn, new_id, who, "linked", None, Some(&format!("follow_up_of:{}", t.id)), now)?;
        let entry_id: i64 = ticket_entries::table
            .filter(ticket_entries::ticket_id.eq(new_id))
            .order(ticket_entries::id.desc())
            .select(ticket_entries::id)
            .first(conn)?;
        if let Some(h) = &input.body_html {
            diesel::update(ticket_entries::table.find(entry_id)).set(ticket_entries::body_html.eq(h)).execute(conn)?;
        }
        return Ok(Filed { ticket_id: new_id, entry_id });
    }
    let entry_id =
        insert_entry(conn, t.id, EntryKind::Reply, who, input.body.trim_end(), input.body_html.as_deref(), now)?;
    event(conn, t.id, who, "reply", None, Some(&entry_id.to_string()), now)?;
    if let Some(m) = input.minutes {
        if let Some(user) = who.user_id() {
            insert_time(conn, t.id, user, Some(entry_id), m, input.billable, "", now)?;
        }
    }
    // The reply moves the workflow on.
    let target = if staff {
        match input.status {
            Some(s) => Some(s),
            None if status == Status::New => Some(Status::Open),
            None => None,
        }
    } else {
        match status {
            Status::Resolved | Status::WaitingOnCustomer => Some(Status::Open),
            _ => None,
        }
    };
    if let Some(s) = target.filter(|s| *s != status) {
        set_status(conn, app, who, &t, s, now)?;
    }
    let trigger = if staff { sla::Trigger::StaffReply } else { sla::Trigger::CustomerReply };
    sla::on_ticket(conn, app, t.id, trigger, now)?;
    diesel::update(tickets::table.find(t.id))
        .set((tickets::updated_at.eq(now), tickets::last_activity_at.eq(now)))
        .execute(conn)?;
    changelog::record(conn, "ticket", t.id, now)?;
    changelog::record(conn, "entry", entry_id, now)?;
    // Who hears about it: the other side, plus watchers.
    let mut recipients = watchers_of(conn, t.id)?;
    if staff {
        recipients.extend(t.requester_id.map(Recipient::Contact));
        recipients.extend(t.assignee_id.map(Recipient::User));
    } else {
        match t.assignee_id {
            Some(a) => recipients.push(Recipient::User(a)),
            None => recipients.extend(dispatchers(conn, t.queue_id)?),
        }
    }
    let me = actor_recipient(who);
    recipients.retain(|r| Some(*r) != me);
    let author = author_name(conn, who)?;
    notify::post(
        conn,
        &recipients,
        &NewNotification {
            kind: "ticket.reply",
            title: &format!("{author} replied on #{}: {}", t.id, t.subject),
            body: &excerpt(&input.body),
            ticket_id: Some(t.id),
            link: &format!("/tickets/{}", t.id),
        },
        now,
    )?;
    if staff {
        crate::mail::outbound::on_staff_reply(conn, app, &t, &author, input.body.trim_end(), now)?;
    }
    Ok(Filed { ticket_id: t.id, entry_id })
}

fn author_name(conn: &mut DbConn, who: &Principal) -> QueryResult<String> {
    Ok(match who {
        Principal::Staff(s) => s.name.clone(),
        Principal::Contact(c) => c.name.clone(),
        Principal::System => "Wrench".into(),
        Principal::Anonymous => {
            let _ = conn;
            "Someone".into()
        }
    })
}

pub fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 200 {
        format!("{}…", flat.chars().take(200).collect::<String>())
    } else {
        flat
    }
}

/// An internal note: staff only, never shown to contacts, does not move the workflow.
pub fn add_note(app: &App, who: &Principal, number: i64, body: &str) -> ServiceResult<Entry> {
    who.require_staff_write()?;
    let mut checks = Checks::new();
    check_text(&mut checks, "body", body, MAX_BODY);
    checks.finish()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let entry_id = write_tx(&mut conn, |conn| {
        let t = lock_visible(conn, who, number)?;
        let t = follow_merges(conn, t)?;
        check_visible(who, &t)?;
        let entry_id = insert_entry(conn, t.id, EntryKind::Note, who, body.trim_end(), None, now)?;
        event(conn, t.id, who, "note", None, Some(&entry_id.to_string()), now)?;
        diesel::update(tickets::table.find(t.id))
            .set((tickets::updated_at.eq(now), tickets::last_activity_at.eq(now)))
            .execute(conn)?;
        changelog::record(conn, "ticket", t.id, now)?;
        changelog::record(conn, "entry", entry_id, now)?;
        let mut recipients: Vec<Recipient> =
            watchers_of(conn, t.id)?.into_iter().filter(|r| matches!(r, Recipient::User(_))).collect();
        recipients.extend(t.assignee_id.map(Recipient::User));
        let me = actor_recipient(who);
        recipients.retain(|r| Some(*r) != me);
        let author = author_name(conn, who)?;
        notify::post(
            conn,
            &recipients,
            &NewNotification {
                kind: "ticket.note",
                title: &format!("{author} added a note on #{}: {}", t.id, t.subject),
                body: &excerpt(body),
                ticket_id: Some(t.id),
                link: &format!("/tickets/{}", t.id),
            },
            now,
        )?;
        Ok::<_, ServiceError>(entry_id)
    })?;
    app.committed();
    Ok(ticket_entries::table.find(entry_id).select(Entry::as_select()).first(&mut conn)?)
}

#[derive(Debug, Clone)]
pub struct EntryView {
    pub entry: Entry,
    pub author_name: String,
    /// "staff", "contact" or "system".
    pub author_kind: &'static str,
}

/// The thread, oldest first. Contacts never receive internal notes: they are filtered out
/// in the query itself.
pub fn thread(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<EntryView>> {
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, number)?;
    let mut q = ticket_entries::table
        .left_join(users::table.on(users::id.nullable().eq(ticket_entries::author_user_id)))
        .left_join(contacts::table.on(contacts::id.nullable().eq(ticket_entries::author_contact_id)))
        .filter(ticket_entries::ticket_id.eq(t.id))
        .into_boxed();
    if !who.is_staff() {
        q = q.filter(ticket_entries::kind.eq(EntryKind::Reply.as_str()));
    }
    let rows: Vec<(Entry, Option<String>, Option<String>)> = q
        .order((ticket_entries::created_at.asc(), ticket_entries::id.asc()))
        .select((Entry::as_select(), users::name.nullable(), contacts::name.nullable()))
        .load(&mut conn)?;
    Ok(rows
        .into_iter()
        .map(|(entry, u, c)| {
            let (author_name, author_kind) = match (u, c) {
                (Some(u), _) => (u, "staff"),
                (_, Some(c)) => (c, "contact"),
                _ => (
                    if entry.author_label.is_empty() { "Wrench".to_string() } else { entry.author_label.clone() },
                    "system",
                ),
            };
            EntryView { entry, author_name, author_kind }
        })
        .collect())
}

// ---------------------------------------------------------------- time

fn check_minutes(checks: &mut Checks, minutes: i64) {
    if !(1..=24 * 60).contains(&minutes) {
        checks.add("minutes", "must be between 1 and 1440 (one day) per entry");
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_time(
    conn: &mut DbConn,
    ticket_id: i64,
    user_id: i64,
    entry_id: Option<i64>,
    minutes: i64,
    billable: bool,
    note: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(time_entries::table)
        .values((
            time_entries::ticket_id.eq(ticket_id),
            time_entries::user_id.eq(user_id),
            time_entries::entry_id.eq(entry_id),
            time_entries::minutes.eq(minutes),
            time_entries::billable.eq(billable),
            time_entries::note.eq(note),
            time_entries::created_at.eq(now),
        ))
        .returning(time_entries::id)
        .get_result(conn)
}

pub struct TimeInput {
    pub minutes: i64,
    pub billable: bool,
    pub note: String,
    pub entry_id: Option<i64>,
}

pub fn log_time(app: &App, who: &Principal, number: i64, input: TimeInput) -> ServiceResult<TimeEntry> {
    who.require_staff_write()?;
    let Some(user_id) = who.user_id() else { return Err(ServiceError::Forbidden) };
    let mut checks = Checks::new();
    check_minutes(&mut checks, input.minutes);
    if input.note.chars().count() > 2000 {
        checks.add("note", "must be at most 2000 characters");
    }
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        let t = lock_visible(conn, who, number)?;
        if let Some(e) = input.entry_id {
            let on: Option<i64> =
                ticket_entries::table.find(e).select(ticket_entries::ticket_id).first(conn).optional()?;
            if on != Some(t.id) {
                checks.add("entryId", "is not a message of this ticket");
            }
        }
        std::mem::take(&mut checks).finish()?;
        let id =
            insert_time(conn, t.id, user_id, input.entry_id, input.minutes, input.billable, input.note.trim(), now)?;
        event(
            conn,
            t.id,
            who,
            "time_logged",
            None,
            Some(&format!("{} min{}", input.minutes, if input.billable { ", billable" } else { "" })),
            now,
        )?;
        diesel::update(tickets::table.find(t.id)).set(tickets::updated_at.eq(now)).execute(conn)?;
        changelog::record(conn, "ticket", t.id, now)?;
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    Ok(time_entries::table.find(id).select(TimeEntry::as_select()).first(&mut conn)?)
}

pub fn time_entries_of(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<(TimeEntry, String)>> {
    require_staff_view(who)?;
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, number)?;
    Ok(time_entries::table
        .inner_join(users::table)
        .filter(time_entries::ticket_id.eq(t.id))
        .order(time_entries::id)
        .select((TimeEntry::as_select(), users::name))
        .load(&mut conn)?)
}

// ---------------------------------------------------------------- links and merging

pub fn insert_link(conn: &mut DbConn, a: i64, b: i64, kind: LinkKind, now: NaiveDateTime) -> ServiceResult<i64> {
    diesel::insert_into(ticket_links::table)
        .values((
            ticket_links::ticket_id.eq(a),
            ticket_links::other_ticket_id.eq(b),
            ticket_links::kind.eq(kind.as_str()),
            ticket_links::created_at.eq(now),
        ))
        .returning(ticket_links::id)
        .get_result(conn)
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                ServiceError::invalid("otherNumber", "these tickets are already linked that way")
            } else {
                e.into()
            }
        })
}

pub fn link(app: &App, who: &Principal, number: i64, other: i64, kind: LinkKind) -> ServiceResult<Link> {
    who.require_staff_write()?;
    if !matches!(kind, LinkKind::Related | LinkKind::DuplicateOf) {
        return Err(ServiceError::invalid("kind", "use related or duplicate_of (merging has its own action)"));
    }
    if number == other {
        return Err(ServiceError::invalid("otherNumber", "a ticket cannot be linked to itself"));
    }
    let mut conn = app.conn()?;
    let now = app.now();
    let id = write_tx(&mut conn, |conn| {
        let a = lock_visible(conn, who, number)?;
        let b = store::ticket(conn, other)?
            .ok_or_else(|| ServiceError::invalid("otherNumber", format!("there is no ticket #{other}")))?;
        if kind == LinkKind::Related {
            let reverse: i64 = ticket_links::table
                .filter(ticket_links::ticket_id.eq(b.id))
                .filter(ticket_links::other_ticket_id.eq(a.id))
                .filter(ticket_links::kind.eq(kind.as_str()))
                .count()
                .get_result(conn)?;
            if reverse > 0 {
                return Err(ServiceError::invalid("otherNumber", "these tickets are already linked that way"));
            }
        }
        let id = insert_link(conn, a.id, b.id, kind, now)?;
        event(conn, a.id, who, "linked", None, Some(&format!("{}:{}", kind.as_str(), b.id)), now)?;
        event(conn, b.id, who, "linked", None, Some(&format!("{}_by:{}", kind.as_str(), a.id)), now)?;
        diesel::update(tickets::table.filter(tickets::id.eq_any([a.id, b.id])))
            .set(tickets::updated_at.eq(now))
            .execute(conn)?;
        changelog::record(conn, "ticket", a.id, now)?;
        changelog::record(conn, "ticket", b.id, now)?;
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    Ok(ticket_links::table.find(id).select(Link::as_select()).first(&mut conn)?)
}

/// Links in both directions, for staff.
pub fn links_of(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<Link>> {
    require_staff_view(who)?;
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, number)?;
    Ok(ticket_links::table
        .filter(ticket_links::ticket_id.eq(t.id).or(ticket_links::other_ticket_id.eq(t.id)))
        .order(ticket_links::id)
        .select(Link::as_select())
        .load(&mut conn)?)
}

/// Merges `source` into `target`: the thread, time and watchers move, tags are united,
/// the source is closed and points at the target. Tickets of two different companies are
/// never merged (one customer would see the other's messages).
pub fn merge(app: &App, who: &Principal, source: i64, target: i64) -> ServiceResult<Ticket> {
    who.require_staff_write()?;
    if source == target {
        return Err(ServiceError::invalid("targetNumber", "a ticket cannot be merged into itself"));
    }
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        // Lock in id order so two opposite merges cannot deadlock.
        let (first, second) = if source < target { (source, target) } else { (target, source) };
        let a = store::lock(conn, first)?;
        let b = store::lock(conn, second)?;
        let (s, t) = if source < target { (a, b) } else { (b, a) };
        let s = s.ok_or_else(|| ServiceError::invalid("sourceNumber", format!("there is no ticket #{source}")))?;
        let t = t.ok_or_else(|| ServiceError::invalid("targetNumber", format!("there is no ticket #{target}")))?;
        let mut checks = Checks::new();
        if s.merged_into_id.is_some() {
            checks.add("sourceNumber", format!("#{source} was already merged"));
        }
        if t.merged_into_id.is_some() {
            checks.add("targetNumber", format!("#{target} was merged into another ticket; merge into that one"));
        } else if t.status() == Status::Closed {
            checks.add("targetNumber", format!("#{target} is closed"));
        }
        if let (Some(x), Some(y)) = (s.company_id, t.company_id) {
            if x != y {
                checks.add("targetNumber", "the tickets belong to different companies");
            }
        }
        checks.finish()?;
        // A ticket without a company (triage) that takes in a company's ticket becomes that
        // company's, so its thread stays visible to them and to nobody else.
        let company = t.company_id.or(s.company_id);
        let requester = if t.company_id.is_none() { t.requester_id.or(s.requester_id) } else { t.requester_id };
        if t.company_id.is_none() && s.company_id.is_some() {
            diesel::update(tickets::table.find(t.id))
                .set((tickets::company_id.eq(s.company_id), tickets::requester_id.eq(requester)))
                .execute(conn)?;
        }
        let moved: Vec<i64> =
            ticket_entries::table.filter(ticket_entries::ticket_id.eq(s.id)).select(ticket_entries::id).load(conn)?;
        diesel::update(ticket_entries::table.filter(ticket_entries::ticket_id.eq(s.id)))
            .set(ticket_entries::ticket_id.eq(t.id))
            .execute(conn)?;
        diesel::update(time_entries::table.filter(time_entries::ticket_id.eq(s.id)))
            .set(time_entries::ticket_id.eq(t.id))
            .execute(conn)?;
        for r in watchers_of(conn, s.id)? {
            match r {
                Recipient::User(u) => add_watcher(conn, t.id, Some(u), None)?,
                Recipient::Contact(c) => add_watcher(conn, t.id, None, Some(c))?,
            };
        }
        if let Some(c) = company {
            drop_foreign_watchers(conn, t.id, c)?;
        }
        if let Some(r) = s.requester_id.filter(|r| Some(*r) != requester) {
            add_watcher(conn, t.id, None, Some(r))?;
        }
        let target_tags: HashSet<String> = store::tags(conn, t.id)?.into_iter().collect();
        for tag in store::tags(conn, s.id)? {
            if !target_tags.contains(&tag) {
                diesel::insert_into(ticket_tags::table)
                    .values((ticket_tags::ticket_id.eq(t.id), ticket_tags::tag.eq(&tag)))
                    .execute(conn)?;
            }
        }
        diesel::update(tickets::table.find(s.id))
            .set((
                tickets::merged_into_id.eq(t.id),
                tickets::status.eq(Status::Closed.as_str()),
                tickets::closed_at.eq(now),
                tickets::updated_at.eq(now),
            ))
            .execute(conn)?;
        jobs::cancel(conn, &format!("autoclose:{}", s.id))?;
        sla::on_ticket(conn, app, s.id, sla::Trigger::Changed, now)?;
        insert_link(conn, s.id, t.id, LinkKind::MergedInto, now)?;
        event(conn, s.id, who, "merged_into", Some(s.status.as_str()), Some(&t.id.to_string()), now)?;
        event(conn, t.id, who, "merged", None, Some(&s.id.to_string()), now)?;
        diesel::update(tickets::table.find(t.id))
            .set((tickets::updated_at.eq(now), tickets::last_activity_at.eq(now)))
            .execute(conn)?;
        changelog::record(conn, "ticket", s.id, now)?;
        changelog::record(conn, "ticket", t.id, now)?;
        for e in moved {
            changelog::record(conn, "entry", e, now)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    store::ticket(&mut conn, target)?.ok_or(ServiceError::NotFound("ticket"))
}

// ---------------------------------------------------------------- history, watchers, tags

pub struct EventView {
    pub event: Event,
    pub actor_name: Option<String>,
}

/// The ticket's history, oldest first (staff only: it shows internal changes).
pub fn events_of(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<EventView>> {
    require_staff_view(who)?;
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, number)?;
    let rows: Vec<(Event, Option<String>, Option<String>)> = ticket_events::table
        .left_join(users::table.on(users::id.nullable().eq(ticket_events::actor_user_id)))
        .left_join(contacts::table.on(contacts::id.nullable().eq(ticket_events::actor_contact_id)))
        .filter(ticket_events::ticket_id.eq(t.id))
        .order(ticket_events::id)
        .select((Event::as_select(), users::name.nullable(), contacts::name.nullable()))
        .load(&mut conn)?;
    Ok(rows.into_iter().map(|(event, u, c)| EventView { event, actor_name: u.or(c) }).collect())
}

pub fn tags_of(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<String>> {
    require_staff_view(who)?;
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, number)?;
    Ok(store::tags(&mut conn, t.id)?)
}

pub struct WatcherView {
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub name: String,
    pub email: String,
}

pub fn watchers(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<WatcherView>> {
    require_staff_view(who)?;
    let mut conn = app.conn()?;
    let t = visible(&mut conn, who, number)?;
    type Row = (Option<i64>, Option<i64>, Option<String>, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> = ticket_watchers::table
        .left_join(users::table.on(users::id.nullable().eq(ticket_watchers::user_id)))
        .left_join(contacts::table.on(contacts::id.nullable().eq(ticket_watchers::contact_id)))
        .filter(ticket_watchers::ticket_id.eq(t.id))
        .order(ticket_watchers::id)
        .select((
            ticket_watchers::user_id,
            ticket_watchers::contact_id,
            users::name.nullable(),
            users::email.nullable(),
            contacts::name.nullable(),
            contacts::email.nullable(),
        ))
        .load(&mut conn)?;
    Ok(rows
        .into_iter()
        .map(|(u, c, un, ue, cn, ce)| WatcherView {
            user_id: u,
            contact_id: c,
            name: un.or(cn).unwrap_or_default(),
            email: ue.or(ce).unwrap_or_default(),
        })
        .collect())
}

// ---------------------------------------------------------------- auto-close

/// Job handler: closes a resolved ticket once it has had no activity for the configured
/// number of days; if there was activity since, moves the job to the new date. Idempotent.
pub fn auto_close(app: &App, payload: &serde_json::Value) -> Result<(), jobs::JobError> {
    let id = payload
        .get("ticket")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| jobs::JobError::Fatal("payload lacks ticket".into()))?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let Some(t) = store::lock(conn, id)? else { return Ok(()) };
        if t.status() != Status::Resolved {
            return Ok(());
        }
        let quiet_since = t.last_activity_at.max(t.resolved_at.unwrap_or(t.last_activity_at));
        let due = quiet_since + Duration::days(app.config.auto_close_days);
        if due > now {
            jobs::schedule(conn, AUTO_CLOSE_JOB, &json!({ "ticket": id }), due, Some(&format!("autoclose:{id}")), now)?;
            return Ok(());
        }
        set_status(conn, app, &Principal::System, &t, Status::Closed, now)?;
        sla::on_ticket(conn, app, id, sla::Trigger::Changed, now)?;
        changelog::record(conn, "ticket", id, now)?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    Ok(())
}
