//! `App`: what every service call needs — configuration, the pool, the clock, the keys,
//! and the handles that wake background workers. Built once at start, shared as `Arc<App>`.

use crate::accounts::ratelimit::RateLimiter;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{DbPool, PooledConn};
use crate::error::{ServiceError, ServiceResult};
use crate::keys::Keys;
use chrono::NaiveDateTime;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

pub struct App {
    pub config: Config,
    pub pool: DbPool,
    pub clock: Arc<dyn Clock>,
    pub keys: Keys,
    /// Wakes the job worker early when a job is queued or moved earlier.
    pub jobs_wake: Arc<Notify>,
    /// Wakes change-log readers (the search indexer) after a commit.
    pub changes_wake: Arc<Notify>,
    /// Failed sign-ins, per account and per client address (API and web share it).
    pub login_limiter: RateLimiter,
    pub login_ip_limiter: RateLimiter,
    /// Password reset requests, per email address and per client address (web and API share it).
    pub reset_limiter: RateLimiter,
    pub reset_ip_limiter: RateLimiter,
    /// GraphQL introspection (an admin may turn it off).
    pub introspection: AtomicBool,
    /// The search index in use (fed by `search::indexer`).
    pub search: crate::search::Search,
}

impl App {
    pub fn new(config: Config, pool: DbPool, clock: Arc<dyn Clock>, keys: Keys) -> Self {
        let search = crate::search::Search::new(config.data_dir.join("index"));
        App {
            search,
            config,
            pool,
            clock,
            keys,
            jobs_wake: Arc::new(Notify::new()),
            changes_wake: Arc::new(Notify::new()),
            login_limiter: RateLimiter::new(10, chrono::Duration::minutes(15)),
            login_ip_limiter: RateLimiter::new(30, chrono::Duration::minutes(15)),
            reset_limiter: RateLimiter::new(crate::accounts::resets::PER_ADDRESS_PER_HOUR, chrono::Duration::hours(1)),
            reset_ip_limiter: RateLimiter::new(
                crate::accounts::resets::PER_CLIENT_PER_HOUR,
                chrono::Duration::hours(1),
            ),
            introspection: AtomicBool::new(true),
        }
    }

    pub fn introspection_enabled(&self) -> bool {
        self.introspection.load(Ordering::Relaxed)
    }

    pub fn conn(&self) -> ServiceResult<PooledConn> {
        self.pool.get().map_err(ServiceError::from)
    }

    pub fn now(&self) -> NaiveDateTime {
        self.clock.now_naive()
    }

    /// Called after a transaction that wrote change-log rows or jobs has committed.
    pub fn committed(&self) {
        self.jobs_wake.notify_one();
        self.changes_wake.notify_waiters();
    }
}
