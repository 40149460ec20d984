//! Products, releases, threads and what hangs off them.

use crate::schema::{dev_comments, dev_threads, products, releases};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStatus {
    Planned,
    Beta,
    Released,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Planned => "planned",
            ReleaseStatus::Beta => "beta",
            ReleaseStatus::Released => "released",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [ReleaseStatus::Planned, ReleaseStatus::Beta, ReleaseStatus::Released].into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = releases)]
pub struct Release {
    pub id: i64,
    pub product_id: i64,
    pub version: String,
    pub build: String,
    pub status: String,
    pub release_date: Option<NaiveDateTime>,
    pub notes: String,
    pub created_at: NaiveDateTime,
}

impl Release {
    pub fn status(&self) -> ReleaseStatus {
        ReleaseStatus::parse(&self.status).unwrap_or(ReleaseStatus::Planned)
    }
    /// "2.0 beta (build 1.9.21)"
    pub fn label(&self) -> String {
        format!("{} (build {})", self.version, self.build)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadKind {
    Bug,
    Feature,
}

impl ThreadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadKind::Bug => "bug",
            ThreadKind::Feature => "feature",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bug" => Some(ThreadKind::Bug),
            "feature" => Some(ThreadKind::Feature),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadStatus {
    New,
    Triaged,
    Planned,
    InProgress,
    Fixed,
    Released,
    Declined,
    Duplicate,
}

impl ThreadStatus {
    pub const ALL: [ThreadStatus; 8] = [
        ThreadStatus::New,
        ThreadStatus::Triaged,
        ThreadStatus::Planned,
        ThreadStatus::InProgress,
        ThreadStatus::Fixed,
        ThreadStatus::Released,
        ThreadStatus::Declined,
        ThreadStatus::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::New => "new",
            ThreadStatus::Triaged => "triaged",
            ThreadStatus::Planned => "planned",
            ThreadStatus::InProgress => "in_progress",
            ThreadStatus::Fixed => "fixed",
            ThreadStatus::Released => "released",
            ThreadStatus::Declined => "declined",
            ThreadStatus::Duplicate => "duplicate",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        ThreadStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            ThreadStatus::New => "New",
            ThreadStatus::Triaged => "Triaged",
            ThreadStatus::Planned => "Planned",
            ThreadStatus::InProgress => "In progress",
            ThreadStatus::Fixed => "Fixed",
            ThreadStatus::Released => "Released",
            ThreadStatus::Declined => "Declined",
            ThreadStatus::Duplicate => "Duplicate",
        }
    }

    /// Transitions a person may make with `updateThread`. Work moves forward
    /// (new → triaged → planned → in progress → fixed) and may skip ahead or step back one
    /// planning stage; a fix that did not hold goes back to in progress; a declined thread
    /// may be reconsidered. `released` comes only from marking the fixing release released,
    /// `duplicate` only from merging into the surviving thread; both are final.
    pub fn can_become(self, to: ThreadStatus) -> bool {
        use ThreadStatus::*;
        match (self, to) {
            (a, b) if a == b => false,
            (_, Released | Duplicate) => false,
            (New, Triaged | Planned | InProgress | Fixed | Declined) => true,
            (Triaged, Planned | InProgress | Fixed | Declined) => true,
            (Planned, Triaged | InProgress | Fixed | Declined) => true,
            (InProgress, Planned | Fixed | Declined) => true,
            (Fixed, InProgress) => true,
            (Declined, Triaged) => true,
            _ => false,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, ThreadStatus::Released | ThreadStatus::Duplicate)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Internal,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Visibility::Public),
            "internal" => Some(Visibility::Internal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = dev_threads)]
pub struct DevThread {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub product_id: i64,
    pub affected_release_id: Option<i64>,
    pub fixed_in_release_id: Option<i64>,
    pub status: String,
    pub duplicate_of_id: Option<i64>,
    pub visibility: String,
    pub owner_user_id: Option<i64>,
    pub shortcut: String,
    pub vote_count: i64,
    pub subscriber_count: i64,
    pub last_activity_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

impl DevThread {
    pub fn status(&self) -> ThreadStatus {
        ThreadStatus::parse(&self.status).unwrap_or(ThreadStatus::New)
    }
    pub fn kind(&self) -> ThreadKind {
        ThreadKind::parse(&self.kind).unwrap_or(ThreadKind::Bug)
    }
    pub fn visibility(&self) -> Visibility {
        Visibility::parse(&self.visibility).unwrap_or(Visibility::Internal)
    }
    pub fn is_public(&self) -> bool {
        self.visibility() == Visibility::Public
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = dev_comments)]
pub struct DevComment {
    pub id: i64,
    pub thread_id: i64,
    pub internal: bool,
    pub author_user_id: Option<i64>,
    pub author_contact_id: Option<i64>,
    pub body: String,
    pub created_at: NaiveDateTime,
}

#[cfg(test)]
mod tests {
    use super::ThreadStatus::*;
    use super::*;

    #[test]
    fn released_and_duplicate_come_only_from_their_actions_and_are_final() {
        for from in ThreadStatus::ALL {
            assert!(!from.can_become(Released), "{from:?} -> released");
            assert!(!from.can_become(Duplicate), "{from:?} -> duplicate");
        }
        for to in ThreadStatus::ALL {
            assert!(!Released.can_become(to));
            assert!(!Duplicate.can_become(to));
        }
        assert!(
            New.can_become(Triaged)
                && Triaged.can_become(Planned)
                && Planned.can_become(InProgress)
                && InProgress.can_become(Fixed)
        );
        assert!(Fixed.can_become(InProgress), "a fix that did not hold");
        assert!(!Fixed.can_become(New));
        assert!(Declined.can_become(Triaged) && !Declined.can_become(Fixed));
    }
}
