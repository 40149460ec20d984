//! GraphQL types and resolvers for SLA clocks, policies, calendars and the breach report.

use super::calendar::{Holiday, OpenInterval, DAY_MINUTES};
use super::model::{CalendarRow, ClockKind, ClockState, Policy, PolicyTargets, Targets};
use super::service::{self, BreachReport, CalendarInput, ClockView, PolicyInput, ReportRow};
use crate::error::{ServiceError, ServiceResult};
use crate::graphql::{id_arg, naive, opt_id, payload, to_id, utc, Ctx, OrField, UserError};
use crate::tickets::graphql::PriorityGql;
use crate::tickets::model::Priority;
use chrono::{DateTime, NaiveDate, Utc};
use juniper::{graphql_object, FieldResult, GraphQLEnum, GraphQLInputObject, GraphQLObject, ID};

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "SlaClockKind")]
pub enum ClockKindGql {
    FirstResponse,
    NextUpdate,
    Resolution,
}

impl From<ClockKind> for ClockKindGql {
    fn from(k: ClockKind) -> Self {
        match k {
            ClockKind::FirstResponse => ClockKindGql::FirstResponse,
            ClockKind::NextUpdate => ClockKindGql::NextUpdate,
            ClockKind::Resolution => ClockKindGql::Resolution,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "SlaClockState")]
pub enum ClockStateGql {
    Running,
    Paused,
    Met,
    Breached,
}

impl From<ClockState> for ClockStateGql {
    fn from(s: ClockState) -> Self {
        match s {
            ClockState::Running => ClockStateGql::Running,
            ClockState::Paused => ClockStateGql::Paused,
            ClockState::Met => ClockStateGql::Met,
            ClockState::Breached => ClockStateGql::Breached,
        }
    }
}

fn int(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

pub struct SlaClockGql(pub ClockView);

#[graphql_object(name = "SlaClock", context = Ctx)]
/// One SLA target of a ticket and how it stands (times computed by the server, in business
/// time of the policy's calendar when it has one).
impl SlaClockGql {
    fn kind(&self) -> ClockKindGql {
        self.0.kind.into()
    }
    fn state(&self) -> ClockStateGql {
        self.0.state.into()
    }
    /// The target in minutes.
    fn target_minutes(&self) -> Option<i32> {
        self.0.target_minutes.map(int)
    }
    fn started_at(&self) -> DateTime<Utc> {
        utc(self.0.started_at)
    }
    /// When the target is (or was) reached; null while paused short of it.
    fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at.map(utc)
    }
    /// When the warning threshold is (or was) reached.
    fn warn_at(&self) -> Option<DateTime<Utc>> {
        self.0.warn_at.map(utc)
    }
    /// Business seconds left; negative when overdue; null once met.
    fn remaining_seconds(&self) -> Option<i32> {
        self.0.remaining_seconds.map(int)
    }
    /// Business seconds past the target (0 when not overdue); null once met.
    fn overdue_seconds(&self) -> Option<i32> {
        self.0.remaining_seconds.map(|r| int((-r).max(0)))
    }
    /// Business seconds the clock has run.
    fn elapsed_seconds(&self) -> i32 {
        int(self.0.elapsed_seconds)
    }
    fn met_at(&self) -> Option<DateTime<Utc>> {
        self.0.met_at.map(utc)
    }
    fn breached_at(&self) -> Option<DateTime<Utc>> {
        self.0.breached_at.map(utc)
    }
}

/// `Ticket.slaClocks`: empty for customers.
pub async fn clocks_of_ticket(ctx: &Ctx, number: i64) -> FieldResult<Vec<SlaClockGql>> {
    let views = ctx.run(move |app, who| service::clocks_of(app, who, number)).await.gql()?;
    Ok(views.into_iter().map(SlaClockGql).collect())
}

// ---------------------------------------------------------------- calendars

fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn parse_hhmm(field: &str, s: &str) -> ServiceResult<u16> {
    let bad = || ServiceError::invalid(field, format!("{s:?} is not a time like 09:00 (00:00 to 24:00)"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let total = h.checked_mul(60).and_then(|x| x.checked_add(m)).ok_or_else(bad)?;
    if m >= 60 || total > DAY_MINUTES {
        return Err(bad());
    }
    Ok(total)
}

#[derive(GraphQLObject)]
#[graphql(name = "SlaOpenHours")]
/// Open hours on one weekday, in the calendar's local time.
pub struct OpenHoursGql {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: i32,
    /// "09:00".
    pub start: String,
    /// "17:00"; "24:00" is midnight at the end of the day.
    pub end: String,
}

#[derive(GraphQLObject)]
#[graphql(name = "SlaHoliday")]
pub struct HolidayGql {
    /// YYYY-MM-DD.
    pub date: String,
    /// Recurs on this month and day every year.
    pub yearly: bool,
    pub name: String,
}

pub struct CalendarGql(pub CalendarRow);

#[graphql_object(name = "SlaCalendar", context = Ctx)]
/// Business hours: a time zone, weekly open hours and holidays.
impl CalendarGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    /// IANA time zone, e.g. Australia/Adelaide.
    fn timezone(&self) -> &str {
        &self.0.timezone
    }
    fn hours(&self) -> Vec<OpenHoursGql> {
        self.0
            .hours()
            .into_iter()
            .map(|h| OpenHoursGql { weekday: i32::from(h.weekday), start: hhmm(h.start), end: hhmm(h.end) })
            .collect()
    }
    fn holidays(&self) -> Vec<HolidayGql> {
        self.0
            .holidays()
            .into_iter()
            .map(|h| HolidayGql { date: h.date.to_string(), yearly: h.yearly, name: h.name })
            .collect()
    }
}

#[derive(GraphQLInputObject)]
#[graphql(name = "SlaOpenHoursInput")]
pub struct OpenHoursInput {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: i32,
    pub start: String,
    pub end: String,
}

#[derive(GraphQLInputObject)]
#[graphql(name = "SlaHolidayInput")]
pub struct HolidayInput {
    /// YYYY-MM-DD.
    pub date: String,
    pub yearly: Option<bool>,
    pub name: Option<String>,
}

#[derive(GraphQLInputObject)]
#[graphql(name = "SlaCalendarInput")]
pub struct CalendarFields {
    pub name: String,
    pub timezone: String,
    pub hours: Vec<OpenHoursInput>,
    pub holidays: Option<Vec<HolidayInput>>,
}

impl CalendarFields {
    fn into_input(self) -> ServiceResult<CalendarInput> {
        let mut hours = Vec::new();
        for h in self.hours {
            let weekday = u8::try_from(h.weekday)
                .ok()
                .filter(|w| *w < 7)
                .ok_or_else(|| ServiceError::invalid("hours", "weekday must be 0 (Monday) to 6 (Sunday)"))?;
            hours.push(OpenInterval {
                weekday,
                start: parse_hhmm("hours", &h.start)?,
                end: parse_hhmm("hours", &h.end)?,
            });
        }
        let mut holidays = Vec::new();
        for h in self.holidays.unwrap_or_default() {
            let date = NaiveDate::parse_from_str(h.date.trim(), "%Y-%m-%d").map_err(|_| {
                ServiceError::invalid("holidays", format!("{:?} is not a date like 2026-12-25", h.date))
            })?;
            holidays.push(Holiday { date, yearly: h.yearly.unwrap_or(false), name: h.name.unwrap_or_default() });
        }
        Ok(CalendarInput { name: self.name, timezone: self.timezone, hours, holidays })
    }
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct SlaCalendarPayload {
    pub calendar: Option<CalendarGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
pub struct SlaDeletePayload {
    pub ok: bool,
    pub errors: Vec<UserError>,
}

fn deleted(r: ServiceResult<()>) -> FieldResult<SlaDeletePayload> {
    let (ok, errors) = payload(r)?;
    Ok(SlaDeletePayload { ok: ok.is_some(), errors })
}

pub async fn calendars(ctx: &Ctx) -> FieldResult<Vec<CalendarGql>> {
    Ok(ctx.run(service::list_calendars).await.gql()?.into_iter().map(CalendarGql).collect())
}

pub async fn create_calendar(ctx: &Ctx, input: CalendarFields) -> FieldResult<SlaCalendarPayload> {
    let (calendar, errors) =
        payload(ctx.run(move |app, who| service::create_calendar(app, who, input.into_input()?)).await)?;
    Ok(SlaCalendarPayload { calendar: calendar.map(CalendarGql), errors })
}

pub async fn update_calendar(ctx: &Ctx, id: ID, input: CalendarFields) -> FieldResult<SlaCalendarPayload> {
    let (calendar, errors) = payload(
        ctx.run(move |app, who| service::update_calendar(app, who, id_arg("id", &id)?, input.into_input()?)).await,
    )?;
    Ok(SlaCalendarPayload { calendar: calendar.map(CalendarGql), errors })
}

pub async fn delete_calendar(ctx: &Ctx, id: ID) -> FieldResult<SlaDeletePayload> {
    deleted(ctx.run(move |app, who| service::delete_calendar(app, who, id_arg("id", &id)?)).await)
}

// ---------------------------------------------------------------- policies

#[derive(GraphQLObject)]
#[graphql(name = "SlaPriorityTargets")]
/// Targets in minutes for one priority; null: no target.
pub struct PriorityTargetsGql {
    pub priority: PriorityGql,
    pub first_response_minutes: Option<i32>,
    pub next_update_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
}

pub struct PolicyGql(pub Policy);

#[graphql_object(name = "SlaPolicy", context = Ctx)]
/// Targets per priority, counted in calendar time or in a calendar's business hours.
impl PolicyGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Applies to every company without a policy of its own.
    fn is_default(&self) -> bool {
        self.0.is_default
    }
    /// Null: targets count calendar time.
    fn calendar_id(&self) -> Option<ID> {
        self.0.calendar_id.map(to_id)
    }
    fn targets(&self) -> Vec<PriorityTargetsGql> {
        let t = self.0.targets();
        Priority::ALL
            .into_iter()
            .map(|p| {
                let x = t.for_priority(p);
                PriorityTargetsGql {
                    priority: p.into(),
                    first_response_minutes: x.first_response.map(int),
                    next_update_minutes: x.next_update.map(int),
                    resolution_minutes: x.resolution.map(int),
                }
            })
            .collect()
    }
    /// Warn when this share of a target has passed.
    fn warn_percent(&self) -> i32 {
        int(self.0.warn_percent)
    }
    /// Waiting on a third party pauses resolution too.
    fn pause_on_third_party(&self) -> bool {
        self.0.pause_on_third_party
    }
    /// On breach, raise the ticket's priority one step.
    fn breach_raise_priority(&self) -> bool {
        self.0.breach_raise_priority
    }
    /// On breach, assign the ticket to this user.
    fn breach_reassign_to_id(&self) -> Option<ID> {
        self.0.breach_reassign_to.map(to_id)
    }
}

#[derive(GraphQLInputObject)]
#[graphql(name = "SlaPriorityTargetsInput")]
pub struct PriorityTargetsInput {
    pub priority: PriorityGql,
    pub first_response_minutes: Option<i32>,
    pub next_update_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
}

#[derive(GraphQLInputObject)]
#[graphql(name = "SlaPolicyInput")]
pub struct PolicyFields {
    pub name: String,
    /// Omit for calendar time.
    pub calendar_id: Option<ID>,
    /// Priorities left out have no targets.
    pub targets: Vec<PriorityTargetsInput>,
    /// Default 75.
    pub warn_percent: Option<i32>,
    pub pause_on_third_party: Option<bool>,
    pub breach_raise_priority: Option<bool>,
    pub breach_reassign_to_id: Option<ID>,
    pub is_default: Option<bool>,
}

impl PolicyFields {
    fn into_input(self) -> ServiceResult<PolicyInput> {
        let mut targets = PolicyTargets::default();
        for t in self.targets {
            *targets.for_priority_mut(t.priority.into()) = Targets {
                first_response: t.first_response_minutes.map(i64::from),
                next_update: t.next_update_minutes.map(i64::from),
                resolution: t.resolution_minutes.map(i64::from),
            };
        }
        Ok(PolicyInput {
            name: self.name,
            calendar_id: opt_id("calendarId", &self.calendar_id)?,
            targets,
            warn_percent: self.warn_percent.map(i64::from),
            pause_on_third_party: self.pause_on_third_party.unwrap_or(false),
            breach_raise_priority: self.breach_raise_priority.unwrap_or(false),
            breach_reassign_to: opt_id("breachReassignToId", &self.breach_reassign_to_id)?,
            is_default: self.is_default.unwrap_or(false),
        })
    }
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct SlaPolicyPayload {
    pub policy: Option<PolicyGql>,
    pub errors: Vec<UserError>,
}

pub async fn policies(ctx: &Ctx) -> FieldResult<Vec<PolicyGql>> {
    Ok(ctx.run(service::list_policies).await.gql()?.into_iter().map(PolicyGql).collect())
}

pub async fn create_policy(ctx: &Ctx, input: PolicyFields) -> FieldResult<SlaPolicyPayload> {
    let (policy, errors) =
        payload(ctx.run(move |app, who| service::create_policy(app, who, input.into_input()?)).await)?;
    Ok(SlaPolicyPayload { policy: policy.map(PolicyGql), errors })
}

pub async fn update_policy(ctx: &Ctx, id: ID, input: PolicyFields) -> FieldResult<SlaPolicyPayload> {
    let (policy, errors) = payload(
        ctx.run(move |app, who| service::update_policy(app, who, id_arg("id", &id)?, input.into_input()?)).await,
    )?;
    Ok(SlaPolicyPayload { policy: policy.map(PolicyGql), errors })
}

pub async fn delete_policy(ctx: &Ctx, id: ID) -> FieldResult<SlaDeletePayload> {
    deleted(ctx.run(move |app, who| service::delete_policy(app, who, id_arg("id", &id)?)).await)
}

pub async fn set_company_policy(ctx: &Ctx, company_id: ID, policy_id: Option<ID>) -> FieldResult<SlaDeletePayload> {
    deleted(
        ctx.run(move |app, who| {
            service::set_company_policy(app, who, id_arg("companyId", &company_id)?, opt_id("policyId", &policy_id)?)
        })
        .await,
    )
}

// ---------------------------------------------------------------- breach report

#[derive(GraphQLObject)]
#[graphql(name = "SlaReportRow")]
/// Outcomes of one company or technician (null id: no company / unassigned).
pub struct ReportRowGql {
    pub id: Option<ID>,
    pub met: i32,
    pub breached: i32,
    /// First responses counted for the average and percentile.
    pub first_responses: i32,
    /// Business seconds.
    pub avg_first_response_seconds: Option<i32>,
    /// Business seconds (nearest rank).
    pub p90_first_response_seconds: Option<i32>,
}

impl From<ReportRow> for ReportRowGql {
    fn from(r: ReportRow) -> Self {
        ReportRowGql {
            id: r.id.map(to_id),
            met: int(r.met),
            breached: int(r.breached),
            first_responses: int(r.first_responses),
            avg_first_response_seconds: r.avg_first_response_seconds.map(int),
            p90_first_response_seconds: r.p90_first_response_seconds.map(int),
        }
    }
}

#[derive(GraphQLObject)]
#[graphql(name = "SlaBreachReport")]
pub struct BreachReportGql {
    pub by_company: Vec<ReportRowGql>,
    /// By the ticket's assignee when the clock was met or breached.
    pub by_technician: Vec<ReportRowGql>,
    pub total: ReportRowGql,
}

impl From<BreachReport> for BreachReportGql {
    fn from(r: BreachReport) -> Self {
        BreachReportGql {
            by_company: r.by_company.into_iter().map(Into::into).collect(),
            by_technician: r.by_technician.into_iter().map(Into::into).collect(),
            total: r.total.into(),
        }
    }
}

pub async fn breach_report(ctx: &Ctx, from: DateTime<Utc>, to: DateTime<Utc>) -> FieldResult<BreachReportGql> {
    let r = ctx.run(move |app, who| service::breach_report(app, who, naive(from), naive(to))).await.gql()?;
    Ok(r.into())
}
