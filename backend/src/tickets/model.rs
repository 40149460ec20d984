//! Tickets, their thread (public replies and internal notes), time entries, links and events.

use crate::schema::{ticket_entries, ticket_events, ticket_links, tickets, time_entries};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    New,
    Open,
    WaitingOnCustomer,
    WaitingOnThirdParty,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::New,
        Status::Open,
        Status::WaitingOnCustomer,
        Status::WaitingOnThirdParty,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::WaitingOnCustomer => "waiting_on_customer",
            Status::WaitingOnThirdParty => "waiting_on_third_party",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::Open => "Open",
            Status::WaitingOnCustomer => "Waiting on customer",
            Status::WaitingOnThirdParty => "Waiting on third party",
            Status::Resolved => "Resolved",
            Status::Closed => "Closed",
        }
    }

    /// Not yet resolved or closed.
    pub fn is_active(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed)
    }

    /// The enforced workflow:
    /// new → open / waiting (either) / resolved; open ↔ either waiting state;
    /// any of these → resolved; resolved → open (reopen) or closed; closed is final.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        match (self, to) {
            (a, b) if a == b => false,
            (New, Open | WaitingOnCustomer | WaitingOnThirdParty | Resolved) => true,
            (Open, WaitingOnCustomer | WaitingOnThirdParty | Resolved) => true,
            (WaitingOnCustomer | WaitingOnThirdParty, Open | Resolved) => true,
            (Resolved, Open | Closed) => true,
            _ => false,
        }
    }

    /// Where this status may go, for error messages and forms.
    pub fn next_states(self) -> Vec<Status> {
        Status::ALL.into_iter().filter(|s| self.can_become(*s)).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    Low = 1,
    Normal = 2,
    High = 3,
    Urgent = 4,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    pub fn rank(self) -> i64 {
        self as i64
    }
    pub fn from_rank(r: i64) -> Priority {
        match r {
            1 => Priority::Low,
            3 => Priority::High,
            4 => Priority::Urgent,
            _ => Priority::Normal,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Normal => "Normal",
            Priority::High => "High",
            Priority::Urgent => "Urgent",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: i64,
    pub subject: String,
    pub company_id: Option<i64>,
    pub requester_id: Option<i64>,
    pub status: String,
    pub priority: i64,
    pub queue_id: i64,
    pub assignee_id: Option<i64>,
    pub merged_into_id: Option<i64>,
    pub source: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_activity_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// The next running SLA deadline (far future when none), kept by `sla::service`.
    pub sla_due_at: NaiveDateTime,
}

impl Ticket {
    /// The human ticket number (the row id: unique, never reused).
    pub fn number(&self) -> i64 {
        self.id
    }
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Open)
    }
    pub fn priority(&self) -> Priority {
        Priority::from_rank(self.priority)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Reply,
    Note,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Reply => "reply",
            EntryKind::Note => "note",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ticket_entries)]
pub struct Entry {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub author_user_id: Option<i64>,
    pub author_contact_id: Option<i64>,
    pub author_label: String,
    pub body: String,
    pub body_html: Option<String>,
    pub created_at: NaiveDateTime,
}

impl Entry {
    pub fn is_note(&self) -> bool {
        self.kind == "note"
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = time_entries)]
pub struct TimeEntry {
    pub id: i64,
    pub ticket_id: i64,
    pub user_id: i64,
    pub entry_id: Option<i64>,
    pub minutes: i64,
    pub billable: bool,
    pub note: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Related,
    DuplicateOf,
    MergedInto,
    FollowUpOf,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Related => "related",
            LinkKind::DuplicateOf => "duplicate_of",
            LinkKind::MergedInto => "merged_into",
            LinkKind::FollowUpOf => "follow_up_of",
        }
    }
    pub fn parse(s: &str) -> Option<LinkKind> {
        [LinkKind::Related, LinkKind::DuplicateOf, LinkKind::MergedInto, LinkKind::FollowUpOf]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ticket_links)]
pub struct Link {
    pub id: i64,
    pub ticket_id: i64,
    pub other_ticket_id: i64,
    pub kind: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ticket_events)]
pub struct Event {
    pub id: i64,
    pub ticket_id: i64,
    pub actor_user_id: Option<i64>,
    pub actor_contact_id: Option<i64>,
    pub kind: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: NaiveDateTime,
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn workflow_allows_exactly_the_documented_transitions() {
        let allowed = [
            (New, Open),
            (New, WaitingOnCustomer),
            (New, WaitingOnThirdParty),
            (New, Resolved),
            (Open, WaitingOnCustomer),
            (Open, WaitingOnThirdParty),
            (Open, Resolved),
            (WaitingOnCustomer, Open),
            (WaitingOnCustomer, Resolved),
            (WaitingOnThirdParty, Open),
            (WaitingOnThirdParty, Resolved),
            (Resolved, Open),
            (Resolved, Closed),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
        assert!(Closed.next_states().is_empty(), "closed is final");
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            assert_eq!(Priority::from_rank(p.rank()), p);
        }
    }
}
