//! The SLA engine: business calendars and their arithmetic, policies with per-priority
//! targets, per-ticket clocks that pause, meet and breach, deadline jobs that warn and
//! escalate exactly once (also across restarts), and the breach report.
pub mod calendar;
pub mod graphql;
pub mod model;
pub mod service;
pub mod store;
