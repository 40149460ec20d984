//! SLA in the web UI: badges with the time left (computed on the server) on ticket lists and
//! the ticket page, the dashboard's "at risk and breached" section, and the admin pages for
//! policies and calendars (`admin`).

pub mod admin;

use crate::tickets::list::TicketRow;
use std::collections::HashMap;
use wrench_backend::accounts::auth::Principal;
use wrench_backend::app::App;
use wrench_backend::error::ServiceResult;
use wrench_backend::sla::model::ClockState;
use wrench_backend::sla::service::{self as sla, ClockView};
use wrench_backend::tickets::model::Ticket;

/// A clock as a small badge: "2h 05m left", "overdue 3h", "met", "paused".
#[derive(Debug, Clone)]
pub struct Badge {
    pub text: String,
    /// CSS modifier: ok, warn, breached, met, paused.
    pub class: &'static str,
    /// Which target, for the title and screen readers.
    pub label: &'static str,
}

impl Badge {
    pub fn of(v: &ClockView) -> Badge {
        let (text, class) = match v.state {
            ClockState::Met => ("met".to_string(), "met"),
            ClockState::Paused => ("paused".to_string(), "paused"),
            ClockState::Breached | ClockState::Running => {
                let r = v.remaining_seconds.unwrap_or(0);
                let class = if v.state == ClockState::Breached || r < 0 {
                    "breached"
                } else if v.past_warning {
                    "warn"
                } else {
                    "ok"
                };
                (sla::remaining_text(r), class)
            }
        };
        Badge { text, class, label: v.kind.label() }
    }
}

/// The headline badge of each ticket (staff only; empty for customers).
pub fn badges(app: &App, who: &Principal, ids: &[i64]) -> ServiceResult<HashMap<i64, Badge>> {
    let clocks = sla::clocks_of_tickets(app, who, ids)?;
    Ok(clocks.iter().filter_map(|(tid, cs)| sla::headline(cs).map(|c| (*tid, Badge::of(c)))).collect())
}

/// Puts each row's badge on it.
pub fn attach(rows: &mut [TicketRow], badges: &HashMap<i64, Badge>) {
    for r in rows {
        r.sla = badges.get(&r.number).cloned();
    }
}

/// One line of the ticket page's SLA panel.
pub struct ClockRow {
    pub badge: Badge,
    pub target: String,
    pub due_at: Option<chrono::NaiveDateTime>,
}

pub fn clock_rows(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<ClockRow>> {
    Ok(sla::clocks_of(app, who, number)?
        .iter()
        .map(|v| ClockRow {
            badge: Badge::of(v),
            target: v.target_minutes.map(minutes_text).unwrap_or_default(),
            due_at: v.due_at,
        })
        .collect())
}

/// "90 min", "8 h", "2 d 4 h".
pub fn minutes_text(m: i64) -> String {
    if m % 1440 == 0 {
        format!("{} d", m / 1440)
    } else if m >= 1440 {
        format!("{} d {} h", m / 1440, (m % 1440) / 60)
    } else if m % 60 == 0 {
        format!("{} h", m / 60)
    } else {
        format!("{m} min")
    }
}

/// A ticket in the dashboard's at-risk section.
pub struct AtRiskRow {
    pub number: i64,
    pub subject: String,
    pub badge: Badge,
}

pub fn at_risk(app: &App, who: &Principal, limit: i64) -> ServiceResult<Vec<AtRiskRow>> {
    Ok(sla::at_risk(app, who, limit)?
        .into_iter()
        .map(|(t, v): (Ticket, ClockView)| AtRiskRow { number: t.id, subject: t.subject, badge: Badge::of(&v) })
        .collect())
}
