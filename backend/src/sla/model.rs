//! SLA types: calendars, policies and their per-priority targets, per-ticket clocks and the
//! metric events every clock change leaves behind.

use super::calendar::{BusinessCalendar, Holiday, OpenInterval, Segment};
use crate::schema::{sla_calendars, sla_clocks, sla_events, sla_policies};
use crate::tickets::model::Priority;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// What a clock measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockKind {
    /// Opening → the first public staff reply.
    FirstResponse,
    /// A customer's message → the next public staff reply.
    NextUpdate,
    /// Opening → resolved, paused while waiting on the customer.
    Resolution,
}

impl ClockKind {
    pub const ALL: [ClockKind; 3] = [ClockKind::FirstResponse, ClockKind::NextUpdate, ClockKind::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "first_response",
            ClockKind::NextUpdate => "next_update",
            ClockKind::Resolution => "resolution",
        }
    }
    pub fn parse(s: &str) -> Option<ClockKind> {
        ClockKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "First response",
            ClockKind::NextUpdate => "Next update",
            ClockKind::Resolution => "Resolution",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockState {
    Running,
    Paused,
    Met,
    Breached,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Paused => "paused",
            ClockState::Met => "met",
            ClockState::Breached => "breached",
        }
    }
    pub fn parse(s: &str) -> Option<ClockState> {
        [ClockState::Running, ClockState::Paused, ClockState::Met, ClockState::Breached]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Targets in minutes for one priority; `None`: no target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    pub first_response: Option<i64>,
    pub next_update: Option<i64>,
    pub resolution: Option<i64>,
}

impl Targets {
    pub fn get(&self, kind: ClockKind) -> Option<i64> {
        match kind {
            ClockKind::FirstResponse => self.first_response,
            ClockKind::NextUpdate => self.next_update,
            ClockKind::Resolution => self.resolution,
        }
    }
}

/// Targets by priority.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyTargets {
    #[serde(default)]
    pub low: Targets,
    #[serde(default)]
    pub normal: Targets,
    #[serde(default)]
    pub high: Targets,
    #[serde(default)]
    pub urgent: Targets,
}

impl PolicyTargets {
    pub fn for_priority(&self, p: Priority) -> &Targets {
        match p {
            Priority::Low => &self.low,
            Priority::Normal => &self.normal,
            Priority::High => &self.high,
            Priority::Urgent => &self.urgent,
        }
    }
    pub fn for_priority_mut(&mut self, p: Priority) -> &mut Targets {
        match p {
            Priority::Low => &mut self.low,
            Priority::Normal => &mut self.normal,
            Priority::High => &mut self.high,
            Priority::Urgent => &mut self.urgent,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sla_calendars)]
pub struct CalendarRow {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub hours: String,
    pub holidays: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl CalendarRow {
    pub fn hours(&self) -> Vec<OpenInterval> {
        serde_json::from_str(&self.hours).unwrap_or_default()
    }
    pub fn holidays(&self) -> Vec<Holiday> {
        serde_json::from_str(&self.holidays).unwrap_or_default()
    }
    /// The calendar to compute with; a stored row was validated when written.
    pub fn calendar(&self) -> Option<BusinessCalendar> {
        BusinessCalendar::new(&self.timezone, &self.hours(), self.holidays()).ok()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sla_policies)]
pub struct Policy {
    pub id: i64,
    pub name: String,
    pub is_default: bool,
    pub calendar_id: Option<i64>,
    pub targets: String,
    pub warn_percent: i64,
    pub pause_on_third_party: bool,
    pub breach_raise_priority: bool,
    pub breach_reassign_to: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Policy {
    pub fn targets(&self) -> PolicyTargets {
        serde_json::from_str(&self.targets).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sla_clocks)]
pub struct Clock {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub state: String,
    pub policy_id: Option<i64>,
    pub calendar_id: Option<i64>,
    pub target_minutes: Option<i64>,
    pub segments: String,
    pub running_since: Option<NaiveDateTime>,
    pub warn_at: Option<NaiveDateTime>,
    pub due_at: Option<NaiveDateTime>,
    pub warned_at: Option<NaiveDateTime>,
    pub breached_at: Option<NaiveDateTime>,
    pub met_at: Option<NaiveDateTime>,
    pub started_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Clock {
    pub fn kind(&self) -> ClockKind {
        ClockKind::parse(&self.kind).unwrap_or(ClockKind::Resolution)
    }
    pub fn state(&self) -> ClockState {
        ClockState::parse(&self.state).unwrap_or(ClockState::Paused)
    }
    /// Every stretch the clock ran, the open one last.
    pub fn segments(&self) -> Vec<Segment> {
        let mut out = decode_segments(&self.segments);
        if let Some(s) = self.running_since {
            out.push(Segment { start: crate::clock::to_utc(s), end: None });
        }
        out
    }
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Closed segments as JSON `[[start_us, end_us], …]`.
pub fn decode_segments(s: &str) -> Vec<Segment> {
    let pairs: Vec<(i64, i64)> = serde_json::from_str(s).unwrap_or_default();
    pairs.into_iter().map(|(a, b)| Segment { start: from_micros(a), end: Some(from_micros(b)) }).collect()
}

pub fn encode_segments(segments: &[Segment]) -> String {
    let pairs: Vec<(i64, i64)> =
        segments.iter().filter_map(|s| s.end.map(|e| (s.start.timestamp_micros(), e.timestamp_micros()))).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sla_events)]
pub struct ClockEvent {
    pub id: i64,
    pub ticket_id: i64,
    pub clock_kind: String,
    pub event: String,
    pub elapsed_seconds: i64,
    pub target_minutes: Option<i64>,
    pub due_at: Option<NaiveDateTime>,
    pub company_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// The "no deadline" value of `tickets.sla_due_at` (sorts after every real deadline).
pub fn no_deadline() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or(NaiveDateTime::MAX)
}
