//! The database: one portable diesel schema over SQLite (embedded default) and PostgreSQL.
//! The backend is picked from the URL scheme; migrations for both are embedded and applied
//! on start; SQLite write transactions begin IMMEDIATE so writers queue instead of failing.

use crate::config::DatabaseUrl;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// The backend type of `DbConn`, for boxed queries.
pub type Backend = MultiBackend;

pub type DbPool = Pool<ConnectionManager<DbConn>>;
pub type PooledConn = PooledConnection<ConnectionManager<DbConn>>;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("migration failed: {0}")]
    Migrate(String),
}

#[derive(Debug)]
struct SqliteSetup;

impl CustomizeConnection<DbConn, diesel::r2d2::Error> for SqliteSetup {
    fn on_acquire(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        if let DbConn::Sqlite(c) = conn {
            c.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

fn connection_url(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite(path) => path.to_string_lossy().into_owned(),
        DatabaseUrl::Postgres(u) => u.clone(),
    }
}

/// Opens a pool. SQLite's parent directory is created if needed.
pub fn open_pool(url: &DatabaseUrl, size: u32) -> Result<DbPool, DbError> {
    if let DatabaseUrl::Sqlite(path) = url {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| DbError::Open(format!("{}: {e}", parent.display())))?;
        }
    }
    let manager = ConnectionManager::<DbConn>::new(connection_url(url));
    Pool::builder()
        .max_size(size)
        // Open connections on demand: many servers (tests, several instances) share one
        // PostgreSQL and its connection limit.
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SqliteSetup))
        .build(manager)
        .map_err(|e| DbError::Open(e.to_string()))
}

/// Applies every pending migration of the connection's backend; returns how many ran.
pub fn migrate(conn: &mut DbConn) -> Result<usize, DbError> {
    let ran = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConn::Postgres(c) => {
            // Several processes may start at once against one database: serialise migrations.
            c.batch_execute("SELECT pg_advisory_lock(7263101)").map_err(|e| DbError::Migrate(e.to_string()))?;
            let r = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
            let _ = c.batch_execute("SELECT pg_advisory_unlock(7263101)");
            r
        }
    };
    ran.map_err(|e| DbError::Migrate(e.to_string()))
}

/// SQLite admits one writer at a time, and a connection that finds the write lock taken
/// waits in SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10, 15… ms)
/// instead of waking when the lock frees: with a few concurrent writers, short transactions
/// spent most of their time asleep. So this process's write transactions queue here first
/// and the next one is woken as soon as the previous one has finished; SQLite's own lock
/// and busy timeout still order them against other processes and autocommit writes. A
/// writer that waits longer than the busy timeout, or whose thread already holds the gate,
/// goes ahead without it (and meets SQLite's lock as before), so the gate cannot deadlock.
struct WriterGate {
    busy: Mutex<bool>,
    freed: Condvar,
}

static SQLITE_WRITERS: WriterGate = WriterGate { busy: Mutex::new(false), freed: Condvar::new() };
const GATE_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    static HOLDS_GATE: Cell<bool> = const { Cell::new(false) };
}

/// A place in the writer queue; leaving it (drop) wakes the next writer.
struct GatePass {
    held: bool,
}

impl WriterGate {
    fn enter(&'static self) -> GatePass {
        if HOLDS_GATE.with(Cell::get) {
            return GatePass { held: false };
        }
        let deadline = Instant::now() + GATE_TIMEOUT;
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return GatePass { held: false };
            }
            busy = match self.freed.wait_timeout(busy, left) {
                Ok((b, _)) => b,
                Err(p) => p.into_inner().0,
            };
        }
        *busy = true;
        HOLDS_GATE.with(|h| h.set(true));
        GatePass { held: true }
    }
}

impl Drop for GatePass {
    fn drop(&mut self) {
        if self.held {
            HOLDS_GATE.with(|h| h.set(false));
            *SQLITE_WRITERS.busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
            SQLITE_WRITERS.freed.notify_one();
        }
    }
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (so the write lock is
/// taken up front and waits on busy_timeout rather than failing at the first write),
/// after queueing in this process's writer gate; a plain transaction on PostgreSQL.
/// Commits on Ok, rolls back on Err.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // Held until the transaction has committed or rolled back (dropped on return).
    let _pass = match conn {
        DbConn::Sqlite(c) => {
            let pass = SQLITE_WRITERS.enter();
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            Some(pass)
        }
        DbConn::Postgres(c) => {
            AnsiTransactionManager::begin_transaction(c)?;
            None
        }
    };
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// A read-only transaction that sees one snapshot (REPEATABLE READ on PostgreSQL; a SQLite
/// read transaction is a snapshot already), so a page and its count agree.
pub fn read_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?,
        DbConn::Postgres(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    }
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

pub fn is_postgres(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Postgres(_))
}

/// True when the error is a unique-constraint violation (same meaning on both backends).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
