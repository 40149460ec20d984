//! SLA rules: which clocks a ticket runs, when they pause, meet and breach, the deadline
//! jobs that fire warnings and breaches, escalation, and the admin's policies and calendars.
//!
//! The ticket service calls `on_ticket` inside its own transaction after every change, so a
//! clock never disagrees with the ticket it measures. `on_ticket` reconciles the ticket's
//! clocks with its current state: it closes or opens running segments, re-measures the
//! stored segments under the current policy, target and calendar, fires what is due (marking
//! the clock row in the same transaction as the notification, so each fires exactly once),
//! and moves the clock's deadline job (one job per clock, keyed `sla:<clock id>`).

use super::calendar::{self, BusinessCalendar, Holiday, OpenInterval, Segment};
use super::model::{
    encode_segments, no_deadline, CalendarRow, Clock, ClockEvent, ClockKind, ClockState, Policy, PolicyTargets,
};
use super::store;
use crate::accounts::auth::Principal;
use crate::app::App;
use crate::audit;
use crate::changelog;
use crate::clock::to_utc;
use crate::db::{write_tx, DbConn};
use crate::error::{Checks, ServiceError, ServiceResult};
use crate::jobs;
use crate::mail::outbound::{self, OutMail};
use crate::notifications::service::{self as notify, NewNotification, Recipient};
use crate::schema::{sla_calendars, sla_clocks, sla_company_policies, sla_events, sla_policies, tickets, users};
use crate::tickets::model::{Priority, Status, Ticket};
use chrono::{DateTime, Duration, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde_json::json;
use std::collections::HashMap;

pub const DEADLINE_JOB: &str = "sla.deadline";
pub const REMEASURE_JOB: &str = "sla.remeasure";

/// What just happened to the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Created,
    /// A public reply by staff: meets first response and next update.
    StaffReply,
    /// A public reply by the customer: re-arms next update.
    CustomerReply,
    /// Status, priority, company, queue or assignee may have changed.
    Changed,
    /// A deadline job fell due.
    Deadline,
}

/// The policy and calendar a ticket's clocks follow.
pub struct Rules {
    pub policy: Option<Policy>,
    pub calendar: Option<BusinessCalendar>,
    pub targets: PolicyTargets,
}

impl Rules {
    pub fn load(conn: &mut DbConn, company_id: Option<i64>) -> QueryResult<Rules> {
        let policy = store::policy_for(conn, company_id)?;
        let calendar = match policy.as_ref().and_then(|p| p.calendar_id) {
            Some(id) => store::calendar(conn, id)?.and_then(|c| c.calendar()),
            None => None,
        };
        let targets = policy.as_ref().map(|p| p.targets()).unwrap_or_default();
        Ok(Rules { policy, calendar, targets })
    }
    fn policy_id(&self) -> Option<i64> {
        self.policy.as_ref().map(|p| p.id)
    }
    fn calendar_id(&self) -> Option<i64> {
        self.policy.as_ref().and_then(|p| p.calendar_id)
    }
    fn warn_percent(&self) -> i64 {
        self.policy.as_ref().map(|p| p.warn_percent).unwrap_or(75).clamp(1, 100)
    }
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc().trunc_subsecs(6)
}

fn job_key(clock_id: i64) -> String {
    format!("sla:{clock_id}")
}

/// The one hook the ticket service calls, inside its transaction, after a change.
pub fn on_ticket(
    conn: &mut DbConn,
    app: &App,
    ticket_id: i64,
    trigger: Trigger,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    let Some(t) = crate::tickets::store::ticket(conn, ticket_id)? else { return Ok(()) };
    let rules = Rules::load(conn, t.company_id)?;
    let escalate = sync(conn, app, &t, &rules, trigger, now, true)?;
    // Re-measure under the new priority; a second breach cannot escalate again.
    if (escalate.raise_priority || escalate.reassign_to.is_some()) && apply_escalation(conn, &t, &escalate, now)? {
        if let Some(t) = crate::tickets::store::ticket(conn, ticket_id)? {
            sync(conn, app, &t, &rules, Trigger::Changed, now, false)?;
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Escalation {
    raise_priority: bool,
    reassign_to: Option<i64>,
}

/// What the clock of `kind` should be doing now.
struct Wanted {
    exists: bool,
    /// Start a fresh cycle (next update after a customer message).
    rearm: bool,
    run: bool,
    met_now: bool,
    reopen: bool,
}

fn wanted(kind: ClockKind, c: Option<&Clock>, t: &Ticket, rules: &Rules, trigger: Trigger) -> Wanted {
    let status = t.status();
    let closed = !status.is_active() || t.merged_into_id.is_some();
    let met = c.is_some_and(|c| c.met_at.is_some());
    match kind {
        ClockKind::FirstResponse => {
            let met_now = trigger == Trigger::StaffReply && !met;
            Wanted { exists: true, rearm: false, run: !closed && !met && !met_now, met_now, reopen: false }
        }
        ClockKind::NextUpdate => {
            let rearm = trigger == Trigger::CustomerReply && (c.is_none() || met);
            let armed = c.is_some() || rearm;
            let met = met && !rearm;
            let met_now = armed && trigger == Trigger::StaffReply && !met;
            Wanted { exists: armed, rearm, run: armed && !closed && !met && !met_now, met_now, reopen: false }
        }
        ClockKind::Resolution => {
            let waiting = status == Status::WaitingOnCustomer
                || (status == Status::WaitingOnThirdParty
                    && rules.policy.as_ref().is_some_and(|p| p.pause_on_third_party));
            Wanted {
                exists: true,
                rearm: false,
                run: !closed && !waiting,
                met_now: closed && !met,
                reopen: !closed && met,
            }
        }
    }
}

fn fresh_clock(t: &Ticket, kind: ClockKind, start: NaiveDateTime) -> Clock {
    Clock {
        id: 0,
        ticket_id: t.id,
        kind: kind.as_str().into(),
        state: ClockState::Paused.as_str().into(),
        policy_id: None,
        calendar_id: None,
        target_minutes: None,
        segments: "[]".into(),
        running_since: None,
        warn_at: None,
        due_at: None,
        warned_at: None,
        breached_at: None,
        met_at: None,
        started_at: start,
        updated_at: start,
    }
}

/// When the clock's job should next run: its warning or breach, whichever comes first and
/// has not fired. Only a running clock can still reach one.
fn pending(c: &Clock) -> Option<NaiveDateTime> {
    c.running_since?;
    let warn = c.warn_at.filter(|_| c.warned_at.is_none() && c.breached_at.is_none());
    let due = c.due_at.filter(|_| c.breached_at.is_none());
    match (warn, due) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn state_of(c: &Clock) -> ClockState {
    if c.breached_at.is_some() {
        ClockState::Breached
    } else if c.met_at.is_some() {
        ClockState::Met
    } else if c.running_since.is_some() {
        ClockState::Running
    } else {
        ClockState::Paused
    }
}

/// Recomputes `warn_at` and `due_at` from the stored segments under the clock's target.
fn measure(c: &mut Clock, cal: Option<&BusinessCalendar>, warn_percent: i64) {
    let Some(target) = c.target_minutes else {
        c.warn_at = None;
        c.due_at = None;
        return;
    };
    let segments = c.segments();
    let full = Duration::minutes(target);
    let warn = Duration::seconds(target * 60 * warn_percent / 100);
    c.due_at = calendar::crossing(cal, &segments, full).map(naive);
    c.warn_at = calendar::crossing(cal, &segments, warn).map(naive);
}

/// Business seconds the clock has run until `now`.
pub fn run_seconds(c: &Clock, cal: Option<&BusinessCalendar>, now: NaiveDateTime) -> i64 {
    calendar::run_time(cal, &c.segments(), to_utc(now)).num_seconds()
}

/// A metric event waiting to be written (a ticket's changes, or a batch's, go in one INSERT).
struct EventRow {
    ticket_id: i64,
    clock_kind: String,
    event: &'static str,
    elapsed_seconds: i64,
    target_minutes: Option<i64>,
    due_at: Option<NaiveDateTime>,
    company_id: Option<i64>,
    assignee_id: Option<i64>,
}

fn event_row(
    t: &Ticket,
    c: &Clock,
    event: &'static str,
    cal: Option<&BusinessCalendar>,
    now: NaiveDateTime,
) -> EventRow {
    EventRow {
        ticket_id: t.id,
        clock_kind: c.kind.clone(),
        event,
        elapsed_seconds: run_seconds(c, cal, now),
        target_minutes: c.target_minutes,
        due_at: c.due_at,
        company_id: t.company_id,
        assignee_id: t.assignee_id,
    }
}

fn write_events(conn: &mut DbConn, events: &[EventRow], now: NaiveDateTime) -> QueryResult<()> {
    for chunk in events.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|e| {
                (
                    sla_events::ticket_id.eq(e.ticket_id),
                    sla_events::clock_kind.eq(&e.clock_kind),
                    sla_events::event.eq(e.event),
                    sla_events::elapsed_seconds.eq(e.elapsed_seconds),
                    sla_events::target_minutes.eq(e.target_minutes),
                    sla_events::due_at.eq(e.due_at),
                    sla_events::company_id.eq(e.company_id),
                    sla_events::assignee_id.eq(e.assignee_id),
                    sla_events::created_at.eq(now),
                )
            })
            .collect();
        // Multi-row inserts need the concrete backend.
        match conn {
            DbConn::Sqlite(c) => diesel::insert_into(sla_events::table).values(&rows).execute(c)?,
            DbConn::Postgres(c) => diesel::insert_into(sla_events::table).values(&rows).execute(c)?,
        };
    }
    Ok(())
}

/// Reconciles the ticket's clocks with its state; returns the escalation a breach asks for.
fn sync(
    conn: &mut DbConn,
    app: &App,
    t: &Ticket,
    rules: &Rules,
    trigger: Trigger,
    now: NaiveDateTime,
    may_escalate: bool,
) -> ServiceResult<Escalation> {
    let mut existing: HashMap<ClockKind, Clock> =
        store::clocks_of(conn, t.id)?.into_iter().map(|c| (c.kind(), c)).collect();
    let cal = rules.calendar.as_ref();
    let targets = *rules.targets.for_priority(t.priority());
    let mut escalation = Escalation::default();
    let mut next_due: Option<NaiveDateTime> = None;
    let mut rows: Vec<EventRow> = Vec::new();
    for kind in ClockKind::ALL {
        let old = existing.remove(&kind);
        let w = wanted(kind, old.as_ref(), t, rules, trigger);
        if !w.exists {
            continue;
        }
        let mut events: Vec<&'static str> = Vec::new();
        let is_new = old.is_none();
        let mut c = match (&old, w.rearm) {
            (Some(o), true) => {
                let mut c = fresh_clock(t, kind, now);
                c.id = o.id;
                events.push("started");
                c
            }
            (Some(o), false) => o.clone(),
            (None, _) => {
                // Resolution and first response count from the ticket's opening.
                let start = if kind == ClockKind::NextUpdate { now } else { t.created_at };
                let mut c = fresh_clock(t, kind, start);
                if w.run {
                    c.running_since = Some(start);
                }
                events.push("started");
                c
            }
        };
        let old_pending = old.as_ref().filter(|_| !w.rearm).and_then(pending);
        // Re-measure under the current policy, target and calendar (a met clock keeps the
        // target it was judged by).
        if c.met_at.is_none() || w.reopen {
            let target = targets.get(kind);
            let (p, k) = (rules.policy_id(), rules.calendar_id());
            if !is_new && !w.rearm && (c.target_minutes != target || c.policy_id != p || c.calendar_id != k) {
                events.push("remeasured");
            }
            c.target_minutes = target;
            c.policy_id = p;
            c.calendar_id = k;
        }
        if w.reopen {
            c.met_at = None;
            events.push("reopened");
        }
        // Close or open the running segment.
        match (c.running_since, w.run) {
            (Some(since), false) => {
                let mut segs = c.segments();
                segs.pop();
                segs.push(Segment { start: to_utc(since), end: Some(to_utc(now.max(since))) });
                c.segments = encode_segments(&segs);
                c.running_since = None;
                if !w.met_now {
                    events.push("paused");
                }
            }
            (None, true) => {
                c.running_since = Some(now);
                if !events.contains(&"started") {
                    events.push("resumed");
                }
            }
            _ => {}
        }
        measure(&mut c, cal, rules.warn_percent());
        // Fire what fell due (the job may not have run yet, or the server was down).
        let due_now = c.due_at.is_some_and(|d| d <= now) && c.breached_at.is_none();
        let warn_now =
            !due_now && c.warn_at.is_some_and(|d| d <= now) && c.warned_at.is_none() && c.breached_at.is_none();
        if due_now {
            c.breached_at = Some(now);
            c.warned_at = c.warned_at.or(Some(now));
            events.push("breached");
        } else if warn_now && c.met_at.is_none() && !w.met_now {
            c.warned_at = Some(now);
            events.push("warned");
        }
        if w.met_now {
            c.met_at = Some(now);
            events.push("met");
        }
        c.state = state_of(&c).as_str().into();
        c.updated_at = now;
        let changed = old.as_ref().is_none_or(|o| !same_row(o, &c));
        if changed {
            c.id = save(conn, &c)?;
        }
        rows.extend(events.iter().map(|e| event_row(t, &c, e, cal, now)));
        if events.contains(&"warned") {
            notify_warning(conn, app, t, &c, now)?;
        }
        if events.contains(&"breached") {
            notify_breach(conn, app, t, &c, now)?;
            if let Some(p) = rules.policy.as_ref().filter(|_| may_escalate) {
                escalation.raise_priority |= p.breach_raise_priority;
                escalation.reassign_to = escalation.reassign_to.or(p.breach_reassign_to);
            }
        }
        let new_pending = pending(&c);
        // A deadline job re-arms itself (its row is deleted once the handler returns).
        if new_pending != old_pending || w.rearm || trigger == Trigger::Deadline {
            match new_pending {
                Some(at) => {
                    jobs::schedule(conn, DEADLINE_JOB, &json!({ "ticket": t.id }), at, Some(&job_key(c.id)), now)?
                }
                None => {
                    jobs::cancel(conn, &job_key(c.id))?;
                }
            }
        }
        if c.running_since.is_some() {
            if let Some(d) = c.due_at {
                next_due = Some(next_due.map_or(d, |n| n.min(d)));
            }
        }
    }
    write_events(conn, &rows, now)?;
    let sort_key = next_due.unwrap_or_else(no_deadline);
    if sort_key != t.sla_due_at {
        diesel::update(tickets::table.find(t.id)).set(tickets::sla_due_at.eq(sort_key)).execute(conn)?;
    }
    Ok(escalation)
}

fn same_row(a: &Clock, b: &Clock) -> bool {
    a.state == b.state
        && a.policy_id == b.policy_id
        && a.calendar_id == b.calendar_id
        && a.target_minutes == b.target_minutes
        && a.segments == b.segments
        && a.running_since == b.running_since
        && a.warn_at == b.warn_at
        && a.due_at == b.due_at
        && a.warned_at == b.warned_at
        && a.breached_at == b.breached_at
        && a.met_at == b.met_at
        && a.started_at == b.started_at
}

fn save(conn: &mut DbConn, c: &Clock) -> QueryResult<i64> {
    let values = (
        sla_clocks::state.eq(&c.state),
        sla_clocks::policy_id.eq(c.policy_id),
        sla_clocks::calendar_id.eq(c.calendar_id),
        sla_clocks::target_minutes.eq(c.target_minutes),
        sla_clocks::segments.eq(&c.segments),
        sla_clocks::running_since.eq(c.running_since),
        sla_clocks::warn_at.eq(c.warn_at),
        sla_clocks::due_at.eq(c.due_at),
        sla_clocks::warned_at.eq(c.warned_at),
        sla_clocks::breached_at.eq(c.breached_at),
        sla_clocks::met_at.eq(c.met_at),
        sla_clocks::started_at.eq(c.started_at),
        sla_clocks::updated_at.eq(c.updated_at),
    );
    if c.id == 0 {
        diesel::insert_into(sla_clocks::table)
            .values((sla_clocks::ticket_id.eq(c.ticket_id), sla_clocks::kind.eq(&c.kind), values))
            .returning(sla_clocks::id)
            .get_result(conn)
    } else {
        diesel::update(sla_clocks::table.find(c.id)).set(values).execute(conn)?;
        Ok(c.id)
    }
}

// ---------------------------------------------------------------- notifications and escalation

fn due_text(c: &Clock) -> String {
    c.due_at.map(|d| format!("{} UTC", d.format("%Y-%m-%d %H:%M"))).unwrap_or_default()
}

fn notify_warning(conn: &mut DbConn, app: &App, t: &Ticket, c: &Clock, now: NaiveDateTime) -> QueryResult<()> {
    let recipients: Vec<Recipient> = match t.assignee_id {
        Some(a) => vec![Recipient::User(a)],
        None => crate::tickets::service::dispatchers(conn, t.queue_id)?,
    };
    post(conn, app, &recipients, "sla.warning", &warning_title(t, c), t, now)
}

fn notify_breach(conn: &mut DbConn, app: &App, t: &Ticket, c: &Clock, now: NaiveDateTime) -> QueryResult<()> {
    let mut recipients: Vec<Recipient> = t.assignee_id.map(Recipient::User).into_iter().collect();
    recipients.extend(crate::tickets::service::dispatchers(conn, t.queue_id)?);
    recipients.extend(store::admins(conn)?.into_iter().map(Recipient::User));
    post(conn, app, &recipients, "sla.breach", &breach_title(t, c), t, now)
}

fn warning_title(t: &Ticket, c: &Clock) -> String {
    format!("SLA warning on #{}: {} due {}", t.id, c.kind().label().to_lowercase(), due_text(c))
}

fn breach_title(t: &Ticket, c: &Clock) -> String {
    format!("SLA breached on #{}: {} was due {}", t.id, c.kind().label().to_lowercase(), due_text(c))
}

fn post(
    conn: &mut DbConn,
    app: &App,
    recipients: &[Recipient],
    kind: &str,
    title: &str,
    t: &Ticket,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let link = format!("/tickets/{}", t.id);
    notify::post(
        conn,
        recipients,
        &NewNotification { kind, title, body: &t.subject, ticket_id: Some(t.id), link: &link },
        now,
    )?;
    let mut users: Vec<i64> = recipients
        .iter()
        .filter_map(|r| match r {
            Recipient::User(u) => Some(*u),
            Recipient::Contact(_) => None,
        })
        .collect();
    users.sort_unstable();
    users.dedup();
    let addresses = store::staff_addresses(conn, &users)?;
    let mails = users.iter().filter_map(|u| addresses.get(u)).map(|(email, name)| sla_mail(app, email, name, title, t));
    queue_mail(conn, app, mails.collect(), now)
}

/// The mail a staff member gets for an SLA warning or breach: automatic, tagged `[#N]`.
fn sla_mail(app: &App, email: &str, name: &str, title: &str, t: &Ticket) -> OutMail {
    OutMail {
        to: email.to_string(),
        to_name: name.to_string(),
        subject: format!("{title}: {}", t.subject),
        body: format!("{title}.\n\nTicket #{}: {}\n{}/tickets/{}\n", t.id, t.subject, app.config.public_url, t.id),
        ticket: Some(t.id),
        kind: "sla",
        automatic: true,
        answers: None,
    }
}

/// The one place SLA mail is queued, in the same transaction as the in-app notification
/// (so mail fires exactly once too): one message per staff recipient, through the mail
/// gateway's outbound queue (SMTP, or the spool in the embedded default).
fn queue_mail(conn: &mut DbConn, app: &App, mails: Vec<OutMail>, now: NaiveDateTime) -> QueryResult<()> {
    if !mails.is_empty() {
        outbound::queue_many(conn, app, mails, now)?;
    }
    Ok(())
}

/// Raises the priority one step and/or reassigns, as the policy asks; true if anything changed.
fn apply_escalation(conn: &mut DbConn, t: &Ticket, e: &Escalation, now: NaiveDateTime) -> ServiceResult<bool> {
    let mut changed = false;
    let system = Principal::System;
    if e.raise_priority && t.priority() != Priority::Urgent {
        let to = Priority::from_rank(t.priority + 1);
        diesel::update(tickets::table.find(t.id)).set(tickets::priority.eq(to.rank())).execute(conn)?;
        crate::tickets::service::event(
            conn,
            t.id,
            &system,
            "priority",
            Some(t.priority().as_str()),
            Some(to.as_str()),
            now,
        )?;
        changed = true;
    }
    if let Some(u) = e.reassign_to.filter(|u| Some(*u) != t.assignee_id) {
        let user: Option<(String, bool)> =
            users::table.find(u).select((users::name, users::active)).first(conn).optional()?;
        if let Some((name, true)) = user {
            let old: Option<String> = match t.assignee_id {
                Some(a) => users::table.find(a).select(users::name).first(conn).optional()?,
                None => None,
            };
            diesel::update(tickets::table.find(t.id)).set(tickets::assignee_id.eq(u)).execute(conn)?;
            crate::tickets::service::event(conn, t.id, &system, "assignee", old.as_deref(), Some(&name), now)?;
            notify::post(
                conn,
                &[Recipient::User(u)],
                &NewNotification {
                    kind: "ticket.update",
                    title: &format!("Ticket #{} was assigned to you after an SLA breach: {}", t.id, t.subject),
                    body: "",
                    ticket_id: Some(t.id),
                    link: &format!("/tickets/{}", t.id),
                },
                now,
            )?;
            changed = true;
        }
    }
    if changed {
        diesel::update(tickets::table.find(t.id)).set(tickets::updated_at.eq(now)).execute(conn)?;
        changelog::record(conn, "ticket", t.id, now)?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------- jobs

/// Job handler: a clock's warning or breach fell due. Deadlines come in bursts (a morning's
/// tickets breach together), so the handler fires every warning and breach that is due, a
/// batch per transaction (`fire_due`), and then reconciles its own ticket as before, which
/// re-arms its job if anything is left. Everything is re-checked under the tickets' locks, so
/// a job that runs twice (or late, or alongside another worker) fires nothing twice.
pub fn deadline_job(app: &App, payload: &serde_json::Value) -> Result<(), jobs::JobError> {
    let id = payload
        .get("ticket")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| jobs::JobError::Fatal("payload lacks ticket".into()))?;
    let mut conn = app.conn()?;
    // Bounded, so a clock that stays due whatever is done to it cannot keep one job busy;
    // whatever is left fires with the next due job.
    for _ in 0..MAX_BATCHES {
        let now = app.now();
        let (seen, fired) = write_tx(&mut conn, |conn| fire_due(conn, app, now, BATCH))?;
        app.committed();
        if seen < BATCH as usize || fired == 0 {
            break;
        }
    }
    let now = app.now();
    write_tx(&mut conn, |conn| {
        if crate::tickets::store::lock(conn, id)?.is_some() {
            on_ticket(conn, app, id, Trigger::Deadline, now)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    Ok(())
}

/// How many due clocks one transaction fires at most.
const BATCH: i64 = 1000;
/// How many batches one deadline job runs at most.
const MAX_BATCHES: usize = 100;

/// A warning or breach the batch fires on the fast path.
struct Fired<'a> {
    clock: Clock,
    ticket: &'a Ticket,
    breach: bool,
    cal: Option<&'a BusinessCalendar>,
}

/// Company → contract policy id, policy id → its rules, and the default policy's rules.
type BatchRules = (HashMap<i64, i64>, HashMap<i64, Rules>, Option<Rules>);

/// Loads the rules of every company in `tickets` at once: company → policy id, policy id → rules.
fn rules_for_tickets(conn: &mut DbConn, tickets: &[Ticket]) -> QueryResult<BatchRules> {
    let mut companies: Vec<i64> = tickets.iter().filter_map(|t| t.company_id).collect();
    companies.sort_unstable();
    companies.dedup();
    let mut policies: HashMap<i64, Policy> = HashMap::new();
    let mut contract: HashMap<i64, i64> = HashMap::new();
    for chunk in companies.chunks(500) {
        for (company, p) in store::company_policies(conn, chunk)? {
            contract.insert(company, p.id);
            policies.insert(p.id, p);
        }
    }
    let default = store::default_policy(conn)?;
    let mut calendars: HashMap<i64, Option<BusinessCalendar>> = HashMap::new();
    let mut rules_of = |conn: &mut DbConn, p: Policy| -> QueryResult<Rules> {
        let calendar = match p.calendar_id {
            Some(id) => match calendars.get(&id) {
                Some(c) => c.clone(),
                None => {
                    let c = store::calendar(conn, id)?.and_then(|c| c.calendar());
                    calendars.insert(id, c.clone());
                    c
                }
            },
            None => None,
        };
        let targets = p.targets();
        Ok(Rules { policy: Some(p), calendar, targets })
    };
    let mut rules = HashMap::new();
    for (id, p) in policies {
        rules.insert(id, rules_of(conn, p)?);
    }
    let default = match default {
        Some(p) => Some(rules_of(conn, p)?),
        None => None,
    };
    Ok((contract, rules, default))
}

/// Whether `c`, due at `now`, can fire without the per-ticket reconciliation: it runs as the
/// ticket's state says it should, under the policy, target and calendar it was measured by,
/// and its breach asks for no escalation. Anything else takes `on_ticket`.
fn fast_path(c: &Clock, t: &Ticket, rules: &Rules, breach: bool) -> bool {
    let kind = c.kind();
    let w = wanted(kind, Some(c), t, rules, Trigger::Deadline);
    if !w.exists || !w.run || w.rearm || w.met_now || w.reopen {
        return false;
    }
    let target = rules.targets.for_priority(t.priority()).get(kind);
    if c.target_minutes != target || c.policy_id != rules.policy_id() || c.calendar_id != rules.calendar_id() {
        return false;
    }
    let mut m = c.clone();
    measure(&mut m, rules.calendar.as_ref(), rules.warn_percent());
    if m.due_at != c.due_at || m.warn_at != c.warn_at {
        return false;
    }
    let escalates = rules.policy.as_ref().is_some_and(|p| p.breach_raise_priority || p.breach_reassign_to.is_some());
    !(breach && escalates)
}

/// Fires up to `limit` due warnings and breaches in the caller's transaction, with a few
/// queries for the whole batch: the due clocks (two index range scans), their tickets (locked;
/// on PostgreSQL tickets another transaction holds are skipped and fire with their own job),
/// the policies and calendars once per batch, the queues' dispatchers and the admins once,
/// then multi-row inserts of metric events, notifications, mail and jobs, and one UPDATE per
/// kind of clock change. Tickets that need more than firing (re-measuring, escalation) take
/// the per-ticket `on_ticket`. Returns (due clocks seen, clocks fired).
pub fn fire_due(conn: &mut DbConn, app: &App, now: NaiveDateTime, limit: i64) -> ServiceResult<(usize, usize)> {
    let (breaches, warnings) = store::due_clocks(conn, now, limit)?;
    let seen = breaches.len().max(warnings.len());
    if seen == 0 {
        return Ok((0, 0));
    }
    let mut ticket_ids: Vec<i64> = breaches.iter().chain(warnings.iter()).map(|(_, t)| *t).collect();
    ticket_ids.sort_unstable();
    ticket_ids.dedup();
    // Lock the tickets (the per-ticket paths hold the ticket's lock while they write its clocks).
    let mut tickets: Vec<Ticket> = Vec::with_capacity(ticket_ids.len());
    for chunk in ticket_ids.chunks(500) {
        let rows: Vec<Ticket> = match conn {
            DbConn::Postgres(pg) => tickets::table
                .filter(tickets::id.eq_any(chunk))
                .order(tickets::id)
                .select(Ticket::as_select())
                .for_update()
                .skip_locked()
                .load(pg)?,
            DbConn::Sqlite(_) => {
                tickets::table.filter(tickets::id.eq_any(chunk)).select(Ticket::as_select()).load(conn)?
            }
        };
        tickets.extend(rows);
    }
    // Read the clocks again under the locks: another worker may have fired them meanwhile.
    let ids: Vec<i64> = tickets.iter().map(|t| t.id).collect();
    let mut clocks: HashMap<i64, Vec<Clock>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for c in store::clocks_of_many(conn, chunk)? {
            clocks.entry(c.ticket_id).or_default().push(c);
        }
    }
    let (contract, rules, default) = rules_for_tickets(conn, &tickets)?;
    let rules_of = |t: &Ticket| -> Option<&Rules> {
        match t.company_id.and_then(|c| contract.get(&c)) {
            Some(p) => rules.get(p),
            None => default.as_ref(),
        }
    };
    let mut fired: Vec<Fired> = Vec::new();
    let mut slow: Vec<i64> = Vec::new();
    for t in &tickets {
        let Some(r) = rules_of(t) else {
            slow.push(t.id);
            continue;
        };
        let mut due: Vec<Fired> = Vec::new();
        let mut fast = true;
        for c in clocks.remove(&t.id).unwrap_or_default() {
            if c.running_since.is_none() || c.met_at.is_some() || c.breached_at.is_some() {
                continue;
            }
            let breach = c.due_at.is_some_and(|d| d <= now);
            let warn = !breach && c.warned_at.is_none() && c.warn_at.is_some_and(|w| w <= now);
            if !breach && !warn {
                continue;
            }
            fast &= fast_path(&c, t, r, breach);
            due.push(Fired { clock: c, ticket: t, breach, cal: r.calendar.as_ref() });
        }
        if due.is_empty() {
            continue;
        }
        if fast {
            fired.extend(due);
        } else {
            slow.push(t.id);
        }
    }
    for id in &slow {
        on_ticket(conn, app, *id, Trigger::Deadline, now)?;
    }
    if fired.is_empty() {
        return Ok((seen, slow.len()));
    }

    // The clocks: one UPDATE per kind of change.
    let ids_where =
        |f: &dyn Fn(&Fired) -> bool| -> Vec<i64> { fired.iter().filter(|x| f(x)).map(|x| x.clock.id).collect() };
    let warned = ids_where(&|x| !x.breach);
    let breached_unwarned = ids_where(&|x| x.breach && x.clock.warned_at.is_none());
    let breached_warned = ids_where(&|x| x.breach && x.clock.warned_at.is_some());
    for chunk in warned.chunks(500) {
        diesel::update(sla_clocks::table.filter(sla_clocks::id.eq_any(chunk)))
            .set((sla_clocks::warned_at.eq(now), sla_clocks::updated_at.eq(now)))
            .execute(conn)?;
    }
    for chunk in breached_unwarned.chunks(500) {
        diesel::update(sla_clocks::table.filter(sla_clocks::id.eq_any(chunk)))
            .set((
                sla_clocks::state.eq(ClockState::Breached.as_str()),
                sla_clocks::breached_at.eq(now),
                sla_clocks::warned_at.eq(now),
                sla_clocks::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    for chunk in breached_warned.chunks(500) {
        diesel::update(sla_clocks::table.filter(sla_clocks::id.eq_any(chunk)))
            .set((
                sla_clocks::state.eq(ClockState::Breached.as_str()),
                sla_clocks::breached_at.eq(now),
                sla_clocks::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    for f in &mut fired {
        f.clock.warned_at = f.clock.warned_at.or(Some(now));
        if f.breach {
            f.clock.breached_at = Some(now);
        }
        f.clock.state = state_of(&f.clock).as_str().into();
        f.clock.updated_at = now;
    }

    // Metric events.
    let rows: Vec<EventRow> = fired
        .iter()
        .map(|f| event_row(f.ticket, &f.clock, if f.breach { "breached" } else { "warned" }, f.cal, now))
        .collect();
    write_events(conn, &rows, now)?;

    // Who hears about it: warnings go to the assignee (else the queue's dispatchers),
    // breaches to the assignee, the queue's dispatchers and the admins.
    let mut queues: Vec<i64> = fired.iter().map(|f| f.ticket.queue_id).collect();
    queues.sort_unstable();
    queues.dedup();
    let dispatchers = store::dispatchers_of_queues(conn, &queues)?;
    let admins = if fired.iter().any(|f| f.breach) { store::admins(conn)? } else { Vec::new() };
    let no_one: Vec<i64> = Vec::new();
    let notices: Vec<(Vec<i64>, String, &Fired)> = fired
        .iter()
        .map(|f| {
            let t = f.ticket;
            let queue = dispatchers.get(&t.queue_id).unwrap_or(&no_one);
            let mut to: Vec<i64> = t.assignee_id.into_iter().collect();
            if f.breach || t.assignee_id.is_none() {
                to.extend(queue);
            }
            if f.breach {
                to.extend(&admins);
            }
            let mut seen = std::collections::HashSet::new();
            to.retain(|u| seen.insert(*u));
            let title = if f.breach { breach_title(t, &f.clock) } else { warning_title(t, &f.clock) };
            (to, title, f)
        })
        .collect();
    let links: Vec<String> = notices.iter().map(|(_, _, f)| format!("/tickets/{}", f.ticket.id)).collect();
    let items: Vec<(Recipient, NewNotification)> = notices
        .iter()
        .zip(&links)
        .flat_map(|((to, title, f), link)| {
            to.iter().map(move |u| {
                (
                    Recipient::User(*u),
                    NewNotification {
                        kind: if f.breach { "sla.breach" } else { "sla.warning" },
                        title,
                        body: &f.ticket.subject,
                        ticket_id: Some(f.ticket.id),
                        link,
                    },
                )
            })
        })
        .collect();
    notify::post_many(conn, &items, now)?;
    let mut users: Vec<i64> = notices.iter().flat_map(|(to, _, _)| to.iter().copied()).collect();
    users.sort_unstable();
    users.dedup();
    let addresses = store::staff_addresses(conn, &users)?;
    let mails: Vec<OutMail> = notices
        .iter()
        .flat_map(|(to, title, f)| {
            to.iter().filter_map(|u| addresses.get(u)).map(|(email, name)| sla_mail(app, email, name, title, f.ticket))
        })
        .collect();
    queue_mail(conn, app, mails, now)?;

    // Jobs: a warned clock's job moves to its breach; a breached clock has none left.
    let keys: Vec<String> = fired.iter().map(|f| job_key(f.clock.id)).collect();
    jobs::cancel_many(conn, &keys.iter().map(String::as_str).collect::<Vec<_>>())?;
    let next: Vec<jobs::NewJob> = fired
        .iter()
        .filter_map(|f| {
            pending(&f.clock).map(|at| jobs::NewJob {
                payload: json!({ "ticket": f.ticket.id }).to_string(),
                run_at: at,
                dedupe_key: Some(job_key(f.clock.id)),
            })
        })
        .collect();
    jobs::insert_many(conn, DEADLINE_JOB, &next, now)?;
    Ok((seen, fired.len() + slow.len()))
}

/// Job handler: re-measures the open tickets of a policy (after the policy, its calendar or
/// a company's contract changed), a batch per transaction.
pub fn remeasure_job(app: &App, payload: &serde_json::Value) -> Result<(), jobs::JobError> {
    let mut conn = app.conn()?;
    let tickets_to_do: Vec<i64> = if let Some(c) = payload.get("company").and_then(|v| v.as_i64()) {
        tickets::table
            .filter(tickets::company_id.eq(c))
            .filter(tickets::status.ne_all(["resolved", "closed"]))
            .select(tickets::id)
            .load(&mut conn)?
    } else if let Some(p) = payload.get("policy").and_then(|v| v.as_i64()) {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let batch = store::open_tickets_of_policy(&mut conn, p, after, 1000)?;
            let Some(last) = batch.last() else { break };
            after = *last;
            all.extend(batch);
        }
        all
    } else {
        return Err(jobs::JobError::Fatal("payload names neither policy nor company".into()));
    };
    for chunk in tickets_to_do.chunks(200) {
        let now = app.now();
        write_tx(&mut conn, |conn| {
            for id in chunk {
                if crate::tickets::store::lock(conn, *id)?.is_some() {
                    on_ticket(conn, app, *id, Trigger::Changed, now)?;
                }
            }
            Ok::<_, ServiceError>(())
        })?;
    }
    app.committed();
    Ok(())
}

// ---------------------------------------------------------------- reading clocks

/// A clock as the API and the web UI show it.
#[derive(Debug, Clone)]
pub struct ClockView {
    pub kind: ClockKind,
    pub state: ClockState,
    pub target_minutes: Option<i64>,
    pub started_at: NaiveDateTime,
    pub due_at: Option<NaiveDateTime>,
    pub warn_at: Option<NaiveDateTime>,
    /// Business seconds left (negative: overdue by that much); `None` without a target or once met.
    pub remaining_seconds: Option<i64>,
    pub elapsed_seconds: i64,
    /// The warning threshold has passed (and the clock still runs or waits).
    pub past_warning: bool,
    pub met_at: Option<NaiveDateTime>,
    pub breached_at: Option<NaiveDateTime>,
}

fn view(c: &Clock, cal: Option<&BusinessCalendar>, now: NaiveDateTime) -> ClockView {
    let elapsed = run_seconds(c, cal, now);
    let remaining = c.target_minutes.filter(|_| c.met_at.is_none()).map(|t| t * 60 - elapsed);
    ClockView {
        kind: c.kind(),
        state: c.state(),
        target_minutes: c.target_minutes,
        started_at: c.started_at,
        due_at: c.due_at,
        warn_at: c.warn_at,
        remaining_seconds: remaining,
        elapsed_seconds: elapsed,
        past_warning: c.met_at.is_none() && c.warn_at.is_some_and(|w| w <= now),
        met_at: c.met_at,
        breached_at: c.breached_at,
    }
}

/// Calendars by id, loaded once for a set of clocks.
fn calendars_for(conn: &mut DbConn, clocks: &[Clock]) -> QueryResult<HashMap<i64, BusinessCalendar>> {
    let mut ids: Vec<i64> = clocks.iter().filter_map(|c| c.calendar_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    for id in ids {
        if let Some(cal) = store::calendar(conn, id)?.and_then(|c| c.calendar()) {
            out.insert(id, cal);
        }
    }
    Ok(out)
}

fn views(conn: &mut DbConn, clocks: Vec<Clock>, now: NaiveDateTime) -> QueryResult<Vec<(i64, ClockView)>> {
    let cals = calendars_for(conn, &clocks)?;
    Ok(clocks
        .iter()
        .filter(|c| c.target_minutes.is_some())
        .map(|c| (c.ticket_id, view(c, c.calendar_id.and_then(|id| cals.get(&id)), now)))
        .collect())
}

/// The ticket's clocks that have a target (staff only; customers see none).
pub fn clocks_of(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<ClockView>> {
    if !who.is_staff() {
        who.require_signed_in()?;
        return Ok(Vec::new());
    }
    let mut conn = app.conn()?;
    let t = crate::tickets::service::visible(&mut conn, who, number)?;
    let clocks = store::clocks_of(&mut conn, t.id)?;
    Ok(views(&mut conn, clocks, app.now())?.into_iter().map(|(_, v)| v).collect())
}

/// Clocks of many tickets at once (for lists); staff only, empty for anyone else.
pub fn clocks_of_tickets(app: &App, who: &Principal, ids: &[i64]) -> ServiceResult<HashMap<i64, Vec<ClockView>>> {
    let mut out: HashMap<i64, Vec<ClockView>> = HashMap::new();
    if !who.is_staff() || ids.is_empty() {
        return Ok(out);
    }
    let mut conn = app.conn()?;
    let clocks = store::clocks_of_many(&mut conn, ids)?;
    for (tid, v) in views(&mut conn, clocks, app.now())? {
        out.entry(tid).or_default().push(v);
    }
    Ok(out)
}

/// The clock a badge shows: breached first, then the running one due soonest.
pub fn headline(clocks: &[ClockView]) -> Option<&ClockView> {
    clocks
        .iter()
        .filter(|c| matches!(c.state, ClockState::Running | ClockState::Breached) && c.met_at.is_none())
        .min_by_key(|c| (c.state != ClockState::Breached, c.remaining_seconds.unwrap_or(i64::MAX)))
}

/// "2h 05m left" / "overdue 1d 3h": for badges.
pub fn remaining_text(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let span = if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m")
    };
    if seconds < 0 {
        format!("overdue {span}")
    } else {
        format!("{span} left")
    }
}

/// The ticket's clock history (staff only).
pub fn events_of(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<ClockEvent>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    let t = crate::tickets::service::visible(&mut conn, who, number)?;
    Ok(store::events_of(&mut conn, t.id)?)
}

// ---------------------------------------------------------------- calendars (admin)

#[derive(Debug, Clone, Default)]
pub struct CalendarInput {
    pub name: String,
    pub timezone: String,
    pub hours: Vec<OpenInterval>,
    pub holidays: Vec<Holiday>,
}

fn check_calendar(input: &CalendarInput) -> ServiceResult<()> {
    let mut checks = Checks::new();
    let n = input.name.trim().chars().count();
    checks.check(n > 0 && n <= 100, "name", "is required (at most 100 characters)");
    checks.check(!input.hours.is_empty(), "hours", "give at least one open interval");
    if let Err(e) = BusinessCalendar::new(input.timezone.trim(), &input.hours, input.holidays.clone()) {
        let field = if matches!(e, calendar::CalendarError::UnknownZone(_)) { "timezone" } else { "hours" };
        checks.add(field, e.to_string());
    }
    checks.finish()
}

fn unique_name(e: diesel::result::Error, what: &str) -> ServiceError {
    if crate::db::is_unique_violation(&e) {
        ServiceError::invalid("name", format!("another {what} already has this name"))
    } else {
        e.into()
    }
}

pub fn list_calendars(app: &App, who: &Principal) -> ServiceResult<Vec<CalendarRow>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(store::calendars(&mut conn)?)
}

pub fn get_calendar(app: &App, who: &Principal, id: i64) -> ServiceResult<CalendarRow> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    store::calendar(&mut conn, id)?.ok_or(ServiceError::NotFound("calendar"))
}

fn to_json<T: serde::Serialize>(v: &T) -> ServiceResult<String> {
    serde_json::to_string(v).map_err(ServiceError::internal)
}

pub fn create_calendar(app: &App, who: &Principal, input: CalendarInput) -> ServiceResult<CalendarRow> {
    who.require_admin()?;
    check_calendar(&input)?;
    let mut conn = app.conn()?;
    let now = app.now();
    let (hours, holidays) = (to_json(&input.hours)?, to_json(&input.holidays)?);
    let id = write_tx(&mut conn, |conn| {
        let id: i64 = diesel::insert_into(sla_calendars::table)
            .values((
                sla_calendars::name.eq(input.name.trim()),
                sla_calendars::timezone.eq(input.timezone.trim()),
                sla_calendars::hours.eq(&hours),
                sla_calendars::holidays.eq(&holidays),
                sla_calendars::created_at.eq(now),
                sla_calendars::updated_at.eq(now),
            ))
            .returning(sla_calendars::id)
            .get_result(conn)
            .map_err(|e| unique_name(e, "calendar"))?;
        audit::record(conn, who, "sla.calendar.create", "sla_calendar", Some(id), input.name.trim(), now)?;
        Ok::<_, ServiceError>(id)
    })?;
    store::calendar(&mut conn, id)?.ok_or(ServiceError::NotFound("calendar"))
}

pub fn update_calendar(app: &App, who: &Principal, id: i64, input: CalendarInput) -> ServiceResult<CalendarRow> {
    who.require_admin()?;
    check_calendar(&input)?;
    let mut conn = app.conn()?;
    let now = app.now();
    let (hours, holidays) = (to_json(&input.hours)?, to_json(&input.holidays)?);
    write_tx(&mut conn, |conn| {
        let n = diesel::update(sla_calendars::table.find(id))
            .set((
                sla_calendars::name.eq(input.name.trim()),
                sla_calendars::timezone.eq(input.timezone.trim()),
                sla_calendars::hours.eq(&hours),
                sla_calendars::holidays.eq(&holidays),
                sla_calendars::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| unique_name(e, "calendar"))?;
        if n == 0 {
            return Err(ServiceError::NotFound("calendar"));
        }
        audit::record(conn, who, "sla.calendar.update", "sla_calendar", Some(id), input.name.trim(), now)?;
        // Every policy on this calendar re-measures its open tickets.
        let policies: Vec<i64> =
            sla_policies::table.filter(sla_policies::calendar_id.eq(id)).select(sla_policies::id).load(conn)?;
        for p in policies {
            jobs::schedule(
                conn,
                REMEASURE_JOB,
                &json!({ "policy": p }),
                now,
                Some(&format!("sla-remeasure:p{p}")),
                now,
            )?;
        }
        Ok(())
    })?;
    app.committed();
    store::calendar(&mut conn, id)?.ok_or(ServiceError::NotFound("calendar"))
}

pub fn delete_calendar(app: &App, who: &Principal, id: i64) -> ServiceResult<()> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let used: i64 = sla_policies::table.filter(sla_policies::calendar_id.eq(id)).count().get_result(conn)?;
        if used > 0 {
            return Err(ServiceError::Conflict("policies use this calendar; change them first".into()));
        }
        let n = diesel::delete(sla_calendars::table.find(id)).execute(conn)?;
        if n == 0 {
            return Err(ServiceError::NotFound("calendar"));
        }
        audit::record(conn, who, "sla.calendar.delete", "sla_calendar", Some(id), "", now)?;
        Ok(())
    })
}

// ---------------------------------------------------------------- policies (admin)

#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub name: String,
    pub calendar_id: Option<i64>,
    pub targets: PolicyTargets,
    pub warn_percent: Option<i64>,
    pub pause_on_third_party: bool,
    pub breach_raise_priority: bool,
    pub breach_reassign_to: Option<i64>,
    pub is_default: bool,
}

fn check_policy(conn: &mut DbConn, input: &PolicyInput) -> ServiceResult<()> {
    let mut checks = Checks::new();
    let n = input.name.trim().chars().count();
    checks.check(n > 0 && n <= 100, "name", "is required (at most 100 characters)");
    if let Some(w) = input.warn_percent {
        checks.check((1..=99).contains(&w), "warnPercent", "must be between 1 and 99");
    }
    for p in Priority::ALL {
        let t = input.targets.for_priority(p);
        for k in ClockKind::ALL {
            if let Some(m) = t.get(k) {
                if !(1..=60 * 24 * 365).contains(&m) {
                    checks.add("targets", format!("{} {}: minutes must be 1 to 525600", p.as_str(), k.as_str()));
                }
            }
        }
    }
    if let Some(c) = input.calendar_id {
        if store::calendar(conn, c)?.is_none() {
            checks.add("calendarId", "no such calendar");
        }
    }
    if let Some(u) = input.breach_reassign_to {
        let active: Option<bool> = users::table.find(u).select(users::active).first(conn).optional()?;
        checks.check(active == Some(true), "breachReassignTo", "no such active staff user");
    }
    checks.finish()
}

pub fn list_policies(app: &App, who: &Principal) -> ServiceResult<Vec<Policy>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(store::policies(&mut conn)?)
}

pub fn get_policy(app: &App, who: &Principal, id: i64) -> ServiceResult<Policy> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    store::policy(&mut conn, id)?.ok_or(ServiceError::NotFound("policy"))
}

fn make_default(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(sla_policies::table.filter(sla_policies::id.ne(id)).filter(sla_policies::is_default.eq(true)))
        .set(sla_policies::is_default.eq(false))
        .execute(conn)?;
    diesel::update(sla_policies::table.find(id)).set(sla_policies::is_default.eq(true)).execute(conn)?;
    Ok(())
}

pub fn create_policy(app: &App, who: &Principal, input: PolicyInput) -> ServiceResult<Policy> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let targets = to_json(&input.targets)?;
    let id = write_tx(&mut conn, |conn| {
        check_policy(conn, &input)?;
        let id: i64 = diesel::insert_into(sla_policies::table)
            .values((
                sla_policies::name.eq(input.name.trim()),
                sla_policies::is_default.eq(false),
                sla_policies::calendar_id.eq(input.calendar_id),
                sla_policies::targets.eq(&targets),
                sla_policies::warn_percent.eq(input.warn_percent.unwrap_or(75)),
                sla_policies::pause_on_third_party.eq(input.pause_on_third_party),
                sla_policies::breach_raise_priority.eq(input.breach_raise_priority),
                sla_policies::breach_reassign_to.eq(input.breach_reassign_to),
                sla_policies::created_at.eq(now),
                sla_policies::updated_at.eq(now),
            ))
            .returning(sla_policies::id)
            .get_result(conn)
            .map_err(|e| unique_name(e, "policy"))?;
        if input.is_default {
            remeasure_default_tickets(conn, now)?;
            make_default(conn, id)?;
        }
        audit::record(conn, who, "sla.policy.create", "sla_policy", Some(id), input.name.trim(), now)?;
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    store::policy(&mut conn, id)?.ok_or(ServiceError::NotFound("policy"))
}

/// Tickets on the old default policy move to the new one: re-measure them.
fn remeasure_default_tickets(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<()> {
    if let Some(old) = store::default_policy(conn)? {
        jobs::schedule(
            conn,
            REMEASURE_JOB,
            &json!({ "policy": old.id }),
            now,
            Some(&format!("sla-remeasure:p{}", old.id)),
            now,
        )?;
    }
    Ok(())
}

pub fn update_policy(app: &App, who: &Principal, id: i64, input: PolicyInput) -> ServiceResult<Policy> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let targets = to_json(&input.targets)?;
    write_tx(&mut conn, |conn| {
        let old = store::policy(conn, id)?.ok_or(ServiceError::NotFound("policy"))?;
        check_policy(conn, &input)?;
        if old.is_default && !input.is_default {
            return Err(ServiceError::invalid("isDefault", "make another policy the default instead"));
        }
        diesel::update(sla_policies::table.find(id))
            .set((
                sla_policies::name.eq(input.name.trim()),
                sla_policies::calendar_id.eq(input.calendar_id),
                sla_policies::targets.eq(&targets),
                sla_policies::warn_percent.eq(input.warn_percent.unwrap_or(old.warn_percent)),
                sla_policies::pause_on_third_party.eq(input.pause_on_third_party),
                sla_policies::breach_raise_priority.eq(input.breach_raise_priority),
                sla_policies::breach_reassign_to.eq(input.breach_reassign_to),
                sla_policies::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| unique_name(e, "policy"))?;
        if input.is_default && !old.is_default {
            remeasure_default_tickets(conn, now)?;
            make_default(conn, id)?;
        }
        jobs::schedule(conn, REMEASURE_JOB, &json!({ "policy": id }), now, Some(&format!("sla-remeasure:p{id}")), now)?;
        audit::record(conn, who, "sla.policy.update", "sla_policy", Some(id), input.name.trim(), now)?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    store::policy(&mut conn, id)?.ok_or(ServiceError::NotFound("policy"))
}

pub fn delete_policy(app: &App, who: &Principal, id: i64) -> ServiceResult<()> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let p = store::policy(conn, id)?.ok_or(ServiceError::NotFound("policy"))?;
        if p.is_default {
            return Err(ServiceError::Conflict(
                "the default policy cannot be deleted; make another the default".into(),
            ));
        }
        let used: i64 =
            sla_company_policies::table.filter(sla_company_policies::policy_id.eq(id)).count().get_result(conn)?;
        if used > 0 {
            return Err(ServiceError::Conflict(format!("{used} companies use this policy; move them first")));
        }
        jobs::schedule(conn, REMEASURE_JOB, &json!({ "policy": id }), now, Some(&format!("sla-remeasure:p{id}")), now)?;
        diesel::delete(sla_policies::table.find(id)).execute(conn)?;
        audit::record(conn, who, "sla.policy.delete", "sla_policy", Some(id), &p.name, now)?;
        Ok(())
    })?;
    app.committed();
    Ok(())
}

/// Attaches a policy to a company (its contract), or back to the default with `None`.
pub fn set_company_policy(app: &App, who: &Principal, company_id: i64, policy_id: Option<i64>) -> ServiceResult<()> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        if crate::accounts::store::company(conn, company_id)?.is_none() {
            return Err(ServiceError::invalid("companyId", "no such company"));
        }
        diesel::delete(sla_company_policies::table.find(company_id)).execute(conn)?;
        if let Some(p) = policy_id {
            if store::policy(conn, p)?.is_none() {
                return Err(ServiceError::invalid("policyId", "no such policy"));
            }
            diesel::insert_into(sla_company_policies::table)
                .values((sla_company_policies::company_id.eq(company_id), sla_company_policies::policy_id.eq(p)))
                .execute(conn)?;
        }
        jobs::schedule(
            conn,
            REMEASURE_JOB,
            &json!({ "company": company_id }),
            now,
            Some(&format!("sla-remeasure:c{company_id}")),
            now,
        )?;
        audit::record(
            conn,
            who,
            "sla.company_policy",
            "company",
            Some(company_id),
            &policy_id.map(|p| p.to_string()).unwrap_or_else(|| "default".into()),
            now,
        )?;
        Ok(())
    })?;
    app.committed();
    Ok(())
}

pub fn company_policy(app: &App, who: &Principal, company_id: i64) -> ServiceResult<Option<Policy>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(store::policy_for(&mut conn, Some(company_id))?)
}

// ---------------------------------------------------------------- breach report

#[derive(Debug, Clone, Default)]
pub struct ReportRow {
    /// Company or technician id; `None`: no company / unassigned.
    pub id: Option<i64>,
    pub met: i64,
    pub breached: i64,
    pub first_responses: i64,
    pub avg_first_response_seconds: Option<i64>,
    pub p90_first_response_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct BreachReport {
    pub by_company: Vec<ReportRow>,
    pub by_technician: Vec<ReportRow>,
    pub total: ReportRow,
}

#[derive(Default)]
struct Acc {
    met: i64,
    breached: i64,
    first: Vec<i64>,
}

impl Acc {
    fn add(&mut self, e: &ClockEvent) {
        if e.target_minutes.is_none() {
            // A clock without a target can be neither met nor breached.
            return;
        }
        match e.event.as_str() {
            "met" => {
                self.met += 1;
                if e.clock_kind == ClockKind::FirstResponse.as_str() {
                    self.first.push(e.elapsed_seconds);
                }
            }
            "breached" => self.breached += 1,
            _ => {}
        }
    }
    fn row(mut self, id: Option<i64>) -> ReportRow {
        self.first.sort_unstable();
        let n = self.first.len();
        let avg = (n > 0).then(|| self.first.iter().sum::<i64>() / n as i64);
        // Nearest-rank 90th percentile.
        let p90 = (n > 0).then(|| self.first[((n * 9).div_ceil(10)).clamp(1, n) - 1]);
        ReportRow {
            id,
            met: self.met,
            breached: self.breached,
            first_responses: n as i64,
            avg_first_response_seconds: avg,
            p90_first_response_seconds: p90,
        }
    }
}

/// Met and breached clocks in `[from, to)` per company and per technician (the assignee when
/// it happened), with average and 90th-percentile first response (business time). Admins only.
pub fn breach_report(
    app: &App,
    who: &Principal,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> ServiceResult<BreachReport> {
    who.require_admin()?;
    if to <= from {
        return Err(ServiceError::invalid("to", "must be after from"));
    }
    let mut conn = app.conn()?;
    let events = store::outcomes(&mut conn, from, to)?;
    let mut companies: HashMap<Option<i64>, Acc> = HashMap::new();
    let mut techs: HashMap<Option<i64>, Acc> = HashMap::new();
    let mut total = Acc::default();
    for e in &events {
        companies.entry(e.company_id).or_default().add(e);
        techs.entry(e.assignee_id).or_default().add(e);
        total.add(e);
    }
    let rows = |m: HashMap<Option<i64>, Acc>| {
        let mut v: Vec<ReportRow> = m.into_iter().map(|(id, a)| a.row(id)).collect();
        v.sort_by_key(|r| (r.id.is_none(), r.id));
        v
    };
    Ok(BreachReport { by_company: rows(companies), by_technician: rows(techs), total: total.row(None) })
}

/// At-risk and breached tickets for the technician dashboard: running clocks past their
/// warning (or overdue), soonest first. Staff only.
pub fn at_risk(app: &App, who: &Principal, limit: i64) -> ServiceResult<Vec<(Ticket, ClockView)>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    let now = app.now();
    let clocks: Vec<Clock> = sla_clocks::table
        .filter(sla_clocks::running_since.is_not_null())
        .filter(sla_clocks::warn_at.le(now))
        .order(sla_clocks::due_at.asc())
        .limit(limit)
        .select(Clock::as_select())
        .load(&mut conn)?;
    let ids: Vec<i64> = clocks.iter().map(|c| c.ticket_id).collect();
    let tickets: HashMap<i64, Ticket> = tickets::table
        .filter(tickets::id.eq_any(&ids))
        .select(Ticket::as_select())
        .load(&mut conn)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut out = Vec::new();
    for (tid, v) in views(&mut conn, clocks, now)? {
        if let Some(t) = tickets.get(&tid) {
            out.push((t.clone(), v));
        }
    }
    Ok(out)
}
