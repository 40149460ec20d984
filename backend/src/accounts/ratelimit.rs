//! Failed sign-in limits, per account and per client address. An attempt is reserved before
//! the password is checked (so concurrent or batched attempts cannot slip past the limit)
//! and forgiven when it succeeds. Time comes from the injected clock.

use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

pub struct RateLimiter {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimiter { max, window, hits: Mutex::new(HashMap::new()) }
    }

    /// Reserves one attempt for `key`; `Err(seconds)` says how long until one is free.
    pub fn reserve(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if hits.len() > 100_000 {
            let window = self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| now - *t < window));
        }
        let q = hits.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now - *t >= self.window) {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = (oldest + self.window - now).num_seconds().max(1);
            return Err(wait as u64);
        }
        q.push_back(now);
        Ok(())
    }

    /// Gives back the attempt reserved at `now` (the sign-in succeeded).
    pub fn forgive(&self, key: &str) {
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = hits.get_mut(key) {
            q.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_the_window_passes() {
        let rl = RateLimiter::new(3, Duration::minutes(15));
        let t0 = Utc::now();
        for _ in 0..3 {
            assert!(rl.reserve("a", t0).is_ok());
        }
        assert!(rl.reserve("a", t0).is_err());
        assert!(rl.reserve("b", t0).is_ok(), "keys are independent");
        assert!(rl.reserve("a", t0 + Duration::minutes(15)).is_ok());
    }

    #[test]
    fn forgiven_attempts_do_not_count() {
        let rl = RateLimiter::new(2, Duration::minutes(15));
        let t0 = Utc::now();
        for _ in 0..5 {
            assert!(rl.reserve("a", t0).is_ok());
            rl.forgive("a");
        }
    }
}
