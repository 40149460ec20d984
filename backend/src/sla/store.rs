//! Diesel queries for SLA calendars, policies, clocks and metric events.

use super::model::{CalendarRow, Clock, ClockEvent, Policy};
use crate::db::DbConn;
use crate::schema::{queue_members, sla_calendars, sla_clocks, sla_company_policies, sla_events, sla_policies, users};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

pub fn calendar(conn: &mut DbConn, id: i64) -> QueryResult<Option<CalendarRow>> {
    sla_calendars::table.find(id).select(CalendarRow::as_select()).first(conn).optional()
}

pub fn calendars(conn: &mut DbConn) -> QueryResult<Vec<CalendarRow>> {
    sla_calendars::table.order(sla_calendars::name).select(CalendarRow::as_select()).load(conn)
}

pub fn policy(conn: &mut DbConn, id: i64) -> QueryResult<Option<Policy>> {
    sla_policies::table.find(id).select(Policy::as_select()).first(conn).optional()
}

pub fn policies(conn: &mut DbConn) -> QueryResult<Vec<Policy>> {
    sla_policies::table
        .order((sla_policies::is_default.desc(), sla_policies::name))
        .select(Policy::as_select())
        .load(conn)
}

pub fn default_policy(conn: &mut DbConn) -> QueryResult<Option<Policy>> {
    sla_policies::table
        .filter(sla_policies::is_default.eq(true))
        .order(sla_policies::id)
        .select(Policy::as_select())
        .first(conn)
        .optional()
}

/// The company's contract policy, else the default (one query: status changes call this).
pub fn policy_for(conn: &mut DbConn, company_id: Option<i64>) -> QueryResult<Option<Policy>> {
    let Some(c) = company_id else { return default_policy(conn) };
    sla_policies::table
        .left_join(
            sla_company_policies::table
                .on(sla_company_policies::policy_id.eq(sla_policies::id).and(sla_company_policies::company_id.eq(c))),
        )
        .filter(sla_company_policies::company_id.is_not_null().or(sla_policies::is_default.eq(true)))
        // The contract first, then the default.
        .order((sla_company_policies::company_id.is_null().asc(), sla_policies::id.asc()))
        .select(Policy::as_select())
        .first(conn)
        .optional()
}

pub fn company_policy_id(conn: &mut DbConn, company_id: i64) -> QueryResult<Option<i64>> {
    sla_company_policies::table.find(company_id).select(sla_company_policies::policy_id).first(conn).optional()
}

pub fn clocks_of(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<Clock>> {
    sla_clocks::table
        .filter(sla_clocks::ticket_id.eq(ticket_id))
        .order(sla_clocks::id)
        .select(Clock::as_select())
        .load(conn)
}

pub fn clocks_of_many(conn: &mut DbConn, ticket_ids: &[i64]) -> QueryResult<Vec<Clock>> {
    if ticket_ids.is_empty() {
        return Ok(Vec::new());
    }
    sla_clocks::table
        .filter(sla_clocks::ticket_id.eq_any(ticket_ids))
        .order(sla_clocks::id)
        .select(Clock::as_select())
        .load(conn)
}

pub fn events_of(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<ClockEvent>> {
    sla_events::table
        .filter(sla_events::ticket_id.eq(ticket_id))
        .order(sla_events::id)
        .select(ClockEvent::as_select())
        .load(conn)
}

/// Outcomes (met / breached) recorded in `[from, to)`.
pub fn outcomes(conn: &mut DbConn, from: NaiveDateTime, to: NaiveDateTime) -> QueryResult<Vec<ClockEvent>> {
    sla_events::table
        .filter(sla_events::created_at.ge(from))
        .filter(sla_events::created_at.lt(to))
        .filter(sla_events::event.eq_any(["met", "breached"]))
        .order(sla_events::id)
        .select(ClockEvent::as_select())
        .load(conn)
}

/// Active admins (they hear about every breach).
pub fn admins(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    users::table.filter(users::role.eq("admin")).filter(users::active.eq(true)).select(users::id).load(conn)
}

/// Tickets whose clocks follow a policy and still run or wait (for re-measuring).
pub fn open_tickets_of_policy(conn: &mut DbConn, policy_id: i64, after: i64, limit: i64) -> QueryResult<Vec<i64>> {
    sla_clocks::table
        .filter(sla_clocks::policy_id.eq(policy_id))
        .filter(sla_clocks::state.eq_any(["running", "paused"]))
        .filter(sla_clocks::ticket_id.gt(after))
        .select(sla_clocks::ticket_id)
        .distinct()
        .order(sla_clocks::ticket_id)
        .limit(limit)
        .load(conn)
}

/// Addresses (email, name) of active staff users, by id.
pub fn staff_addresses(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, (String, String)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, String, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .filter(users::active.eq(true))
            .select((users::id, users::email, users::name))
            .load(conn)?;
        out.extend(rows.into_iter().map(|(id, e, n)| (id, (e, n))));
    }
    Ok(out)
}

/// Active dispatchers of each of the given queues.
pub fn dispatchers_of_queues(conn: &mut DbConn, queue_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<i64>>> {
    let rows: Vec<(i64, i64)> = queue_members::table
        .inner_join(users::table)
        .filter(queue_members::queue_id.eq_any(queue_ids))
        .filter(queue_members::is_dispatcher.eq(true))
        .filter(users::active.eq(true))
        .order((queue_members::queue_id, queue_members::user_id))
        .select((queue_members::queue_id, queue_members::user_id))
        .load(conn)?;
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for (q, u) in rows {
        out.entry(q).or_default().push(u);
    }
    Ok(out)
}

/// Contract policies of the given companies (companies without one follow the default).
pub fn company_policies(conn: &mut DbConn, company_ids: &[i64]) -> QueryResult<Vec<(i64, Policy)>> {
    sla_company_policies::table
        .inner_join(sla_policies::table)
        .filter(sla_company_policies::company_id.eq_any(company_ids))
        .select((sla_company_policies::company_id, Policy::as_select()))
        .load(conn)
}

/// A clock's id and its ticket's id.
pub type ClockOfTicket = (i64, i64);

/// Ids of running clocks whose breach (`due_at`) or warning (`warn_at`, not yet fired) is
/// due at `now`, soonest first; each walks its own index (`sla_clocks_due`,
/// `sla_clocks_warn_pending`) and stops after `limit`.
pub fn due_clocks(
    conn: &mut DbConn,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<(Vec<ClockOfTicket>, Vec<ClockOfTicket>)> {
    let breaches = sla_clocks::table
        .filter(sla_clocks::state.eq("running"))
        .filter(sla_clocks::due_at.le(now))
        .order(sla_clocks::due_at)
        .limit(limit)
        .select((sla_clocks::id, sla_clocks::ticket_id))
        .load(conn)?;
    let warnings = sla_clocks::table
        .filter(sla_clocks::running_since.is_not_null())
        .filter(sla_clocks::warned_at.is_null())
        .filter(sla_clocks::warn_at.le(now))
        .order(sla_clocks::warn_at)
        .limit(limit)
        .select((sla_clocks::id, sla_clocks::ticket_id))
        .load(conn)?;
    Ok((breaches, warnings))
}
