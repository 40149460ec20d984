//! Every timestamp comes from a `Clock`: the system clock in production, a manual clock in
//! unit tests, and a file (`WRENCH_CLOCK_FILE`) that end-to-end tests write "now" into.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use std::path::PathBuf;
use std::sync::Mutex;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    fn is_manual(&self) -> bool {
        false
    }
    /// The naive UTC time stored in the database, truncated to the microsecond so that
    /// SQLite and PostgreSQL round-trip it identically.
    fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc().trunc_subsecs(6)
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock the test moves by hand.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn is_manual(&self) -> bool {
        true
    }
}

/// Reads "now" (RFC 3339) from a file on every call; falls back to the last good value
/// (or the system clock) while the file is being rewritten.
pub struct FileClock {
    path: PathBuf,
    last: Mutex<Option<DateTime<Utc>>>,
}

impl FileClock {
    pub fn new(path: PathBuf) -> Self {
        FileClock { path, last: Mutex::new(None) }
    }
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        let read = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|t| t.with_timezone(&Utc));
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match read {
            Some(t) => {
                *last = Some(t);
                t
            }
            None => last.unwrap_or_else(Utc::now),
        }
    }
    fn is_manual(&self) -> bool {
        true
    }
}

pub fn to_utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(t, Utc)
}
