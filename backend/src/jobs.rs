//! Durable background work. A job is a row: kind, JSON payload, when it is due, and an
//! optional dedupe key (scheduling the same key again moves the job instead of adding one).
//! Services queue jobs in the same transaction as the change that caused them. The worker
//! claims due jobs with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's IMMEDIATE
//! write lock serialises claims), runs the kind's handler (up to `PARALLEL` jobs at once),
//! and deletes the job on success or reschedules it with backoff (5 s, doubling, capped at
//! 5 minutes). A crash mid-job leaves
//! the lease to expire, so the job runs again: handlers must be idempotent.
//!
//! The worker sleeps until the earliest due job (an indexed MIN over `run_at`), or until a
//! commit wakes it; it never scans tickets on a timer.

use crate::app::App;
use crate::db::{write_tx, DbConn};
use crate::error::ServiceError;
use crate::schema::jobs;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// How long a claimed job is reserved for its worker before another may take it.
pub const LEASE_SECONDS: i64 = 60;
/// Far-future due date for jobs that failed for good; kept (not deleted) for inspection.
fn parked() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or(NaiveDateTime::MAX)
}

/// Queues a job. With a dedupe key, an existing job of that key is replaced (moved).
pub fn schedule(
    conn: &mut DbConn,
    kind: &str,
    payload: &serde_json::Value,
    run_at: NaiveDateTime,
    dedupe_key: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    if let Some(key) = dedupe_key {
        diesel::delete(jobs::table.filter(jobs::dedupe_key.eq(key))).execute(conn)?;
    }
    diesel::insert_into(jobs::table)
        .values((
            jobs::kind.eq(kind),
            jobs::payload.eq(payload.to_string()),
            jobs::dedupe_key.eq(dedupe_key),
            jobs::run_at.eq(run_at),
            jobs::attempts.eq(0),
            jobs::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A job for `insert_many`.
pub struct NewJob {
    pub payload: String,
    pub run_at: NaiveDateTime,
    pub dedupe_key: Option<String>,
}

/// Queues many jobs of one kind with multi-row inserts (a burst of mail, a batch of fired
/// deadlines). Unlike `schedule` it replaces nothing: the caller cancels the keys it moves
/// (`cancel_many`) or uses keys that cannot exist yet (a fresh Message-ID), so the mail queue
/// makes no look-up for jobs to replace.
pub fn insert_many(conn: &mut DbConn, kind: &str, new: &[NewJob], now: NaiveDateTime) -> QueryResult<()> {
    for chunk in new.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|j| {
                (
                    jobs::kind.eq(kind),
                    jobs::payload.eq(&j.payload),
                    jobs::dedupe_key.eq(j.dedupe_key.as_deref()),
                    jobs::run_at.eq(j.run_at),
                    jobs::attempts.eq(0i64),
                    jobs::created_at.eq(now),
                )
            })
            .collect();
        match conn {
            DbConn::Sqlite(c) => diesel::insert_into(jobs::table).values(&rows).execute(c)?,
            DbConn::Postgres(c) => diesel::insert_into(jobs::table).values(&rows).execute(c)?,
        };
    }
    Ok(())
}

/// Removes the scheduled jobs of these dedupe keys.
pub fn cancel_many(conn: &mut DbConn, keys: &[&str]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in keys.chunks(500) {
        n += diesel::delete(jobs::table.filter(jobs::dedupe_key.eq_any(chunk))).execute(conn)?;
    }
    Ok(n)
}

/// Removes a scheduled job by its dedupe key (e.g. a deadline that no longer applies).
pub fn cancel(conn: &mut DbConn, dedupe_key: &str) -> QueryResult<usize> {
    diesel::delete(jobs::table.filter(jobs::dedupe_key.eq(dedupe_key))).execute(conn)
}

#[derive(Debug, Clone, Queryable)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Try again later (SMTP down, database busy…).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (bad payload); parked with the error for an admin to see.
    #[error("{0}")]
    Fatal(String),
}

impl From<ServiceError> for JobError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Internal(r) => JobError::Retry(format!("internal error {r}")),
            other => JobError::Fatal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        JobError::Retry(format!("database: {e}"))
    }
}

pub type JobHandler = Arc<dyn Fn(&App, &serde_json::Value) -> Result<(), JobError> + Send + Sync>;

/// Handlers by job kind; features register theirs at start.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, JobHandler>,
    /// Kinds whose claimed jobs run one after another, never beside each other.
    serial: std::collections::HashSet<String>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }
    pub fn register(&mut self, kind: &str, handler: JobHandler) {
        self.handlers.insert(kind.to_string(), handler);
    }
    /// A kind whose handler already does a burst's work in batches (SLA deadlines): beside
    /// each other, its jobs would compete for the same rows and wait on each other's locks.
    pub fn register_serial(&mut self, kind: &str, handler: JobHandler) {
        self.serial.insert(kind.to_string());
        self.register(kind, handler);
    }
    pub fn kinds(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }
}

type DueFilter = diesel::dsl::And<
    diesel::dsl::LtEq<jobs::run_at, NaiveDateTime>,
    diesel::dsl::Or<diesel::dsl::IsNull<jobs::locked_until>, diesel::dsl::Lt<jobs::locked_until, NaiveDateTime>>,
>;

/// Due and not leased (or the lease ran out).
fn due_filter(now: NaiveDateTime) -> DueFilter {
    jobs::run_at.le(now).and(jobs::locked_until.is_null().or(jobs::locked_until.lt(now)))
}

/// Claims up to `limit` due jobs, setting their lease.
pub fn claim(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<ClaimedJob>> {
    write_tx(conn, |conn| {
        let ids: Vec<i64> = match conn {
            DbConn::Postgres(pg) => jobs::table
                .filter(due_filter(now))
                .order((jobs::run_at.asc(), jobs::id.asc()))
                .limit(limit)
                .select(jobs::id)
                .for_update()
                .skip_locked()
                .load(pg)?,
            DbConn::Sqlite(_) => jobs::table
                .filter(due_filter(now))
                .order((jobs::run_at.asc(), jobs::id.asc()))
                .limit(limit)
                .select(jobs::id)
                .load(conn)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
            .set((jobs::locked_until.eq(now + Duration::seconds(LEASE_SECONDS)), jobs::attempts.eq(jobs::attempts + 1)))
            .execute(conn)?;
        jobs::table
            .filter(jobs::id.eq_any(&ids))
            .order((jobs::run_at.asc(), jobs::id.asc()))
            .select((jobs::id, jobs::kind, jobs::payload, jobs::attempts))
            .load(conn)
    })
}

/// The earliest time any job becomes claimable (due, or its lease runs out).
/// Both look-ups walk an index in order and stop at the first row (`jobs_due`, and the
/// partial `jobs_leased`), so a wake-up costs the same with a million waiting deadlines.
pub fn next_due(conn: &mut DbConn) -> QueryResult<Option<NaiveDateTime>> {
    let unlocked: Option<NaiveDateTime> = jobs::table
        .filter(jobs::locked_until.is_null())
        .order((jobs::run_at.asc(), jobs::id.asc()))
        .select(jobs::run_at)
        .first(conn)
        .optional()?;
    let leased: Option<NaiveDateTime> = jobs::table
        .filter(jobs::locked_until.is_not_null())
        .order(jobs::locked_until.asc())
        .select(jobs::locked_until)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten();
    Ok(match (unlocked, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    let secs = 5i64.saturating_mul(1i64 << exp.min(10));
    Duration::seconds(secs.min(300))
}

fn finish(app: &App, job: &ClaimedJob, result: Result<(), JobError>) -> QueryResult<()> {
    let mut conn = app.pool.get().map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))?;
    let now = app.now();
    match result {
        Ok(()) => {
            diesel::delete(jobs::table.filter(jobs::id.eq(job.id))).execute(&mut *conn)?;
        }
        Err(JobError::Retry(msg)) => {
            tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, "job failed, will retry: {msg}");
            diesel::update(jobs::table.filter(jobs::id.eq(job.id)))
                .set((
                    jobs::run_at.eq(now + backoff(job.attempts)),
                    jobs::locked_until.eq(None::<NaiveDateTime>),
                    jobs::last_error.eq(msg),
                ))
                .execute(&mut *conn)?;
        }
        Err(JobError::Fatal(msg)) => {
            tracing::error!(job = job.id, kind = %job.kind, "job failed for good: {msg}");
            diesel::update(jobs::table.filter(jobs::id.eq(job.id)))
                .set((
                    jobs::run_at.eq(parked()),
                    jobs::locked_until.eq(None::<NaiveDateTime>),
                    jobs::last_error.eq(msg),
                ))
                .execute(&mut *conn)?;
        }
    }
    Ok(())
}

/// Claims and runs every due job once; returns how many ran. Used by the worker loop and
/// directly by tests and benchmarks.
pub fn run_due(app: &App, registry: &Registry, batch: i64) -> Result<usize, ServiceError> {
    let mut conn = app.conn()?;
    let claimed = claim(&mut conn, app.now(), batch)?;
    drop(conn);
    let n = claimed.len();
    // The claimed jobs run on up to PARALLEL threads: most of a job's time is waiting (an
    // SMTP server's answers, the database), so one slow job does not hold up the rest. Jobs
    // that touch the same rows serialise on their locks, as they do across processes. The
    // serial kinds' jobs form one unit of work, run in claim order.
    let (serial, parallel): (Vec<&ClaimedJob>, Vec<&ClaimedJob>) =
        claimed.iter().partition(|j| registry.serial.contains(&j.kind));
    let mut units: Vec<Vec<&ClaimedJob>> = parallel.into_iter().map(|j| vec![j]).collect();
    if !serial.is_empty() {
        units.insert(0, serial);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: std::sync::Mutex<Option<ServiceError>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(units.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(unit) = units.get(i) else { break };
                for job in unit {
                    if let Err(e) = finish(app, job, run_one(app, registry, job)) {
                        *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.into());
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// How many claimed jobs run at once (also the SMTP connection pool's size).
pub const PARALLEL: usize = 6;

fn run_one(app: &App, registry: &Registry, job: &ClaimedJob) -> Result<(), JobError> {
    match registry.handlers.get(&job.kind) {
        Some(handler) => match serde_json::from_str::<serde_json::Value>(&job.payload) {
            Ok(payload) => handler(app, &payload),
            Err(e) => Err(JobError::Fatal(format!("bad payload: {e}"))),
        },
        None => Err(JobError::Fatal(format!("no handler for job kind {:?}", job.kind))),
    }
}

/// The worker loop: runs due jobs, then sleeps until the next one is due or a commit wakes it.
pub async fn worker(app: Arc<App>, registry: Arc<Registry>) {
    loop {
        let (a, r) = (app.clone(), registry.clone());
        let ran = tokio::task::spawn_blocking(move || run_due(&a, &r, 32)).await;
        match ran {
            Ok(Ok(n)) if n > 0 => continue,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("job worker: {e}"),
            Err(e) => tracing::error!("job worker task failed: {e}"),
        }
        let a = app.clone();
        let next = tokio::task::spawn_blocking(move || {
            let mut conn = a.conn().ok()?;
            next_due(&mut conn).ok().flatten()
        })
        .await
        .ok()
        .flatten();
        // A manual (test) clock can jump at any moment: look again soon.
        let cap = if app.clock.is_manual() { Duration::milliseconds(200) } else { Duration::seconds(60) };
        let wait = match next {
            Some(at) => (at - app.now()).clamp(Duration::milliseconds(5), cap),
            None => cap,
        };
        let wait = wait.to_std().unwrap_or(std::time::Duration::from_millis(200));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.jobs_wake.notified() => {}
        }
    }
}
