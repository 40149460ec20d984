//! SLA scheduler: 1,000,000 open tickets with running clocks (rows inserted in bulk, each with
//! its deadline job), then on the real server (system clock): CPU while nothing is due, RSS
//! with and without the million deadlines waiting, the time to fire 10,000 breaches that fall
//! due in the same second, and the added cost of the clock recomputation in a status change.
//!
//! `WRENCH_BENCH_SLA_TICKETS` lowers the ticket count (e.g. for a quick run).

use crate::common::{percentiles, rss_mib};
use crate::support::{server, Backend, Server};
use chrono::{Duration as Span, NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wrench_backend::db::{write_tx, DbConn};
use wrench_backend::schema::{jobs, notifications, sla_clocks, sla_policies, tickets};
use wrench_backend::sla::service::{self as sla, Trigger};
use wrench_backend::tickets::model::Status;

const FIRE: i64 = 10_000;
const STATUS_CHANGES: usize = 300;
/// The default policy's first-response target (24 hours, every priority).
const TARGET_MINUTES: i64 = 24 * 60;

fn ticket_count() -> i64 {
    std::env::var("WRENCH_BENCH_SLA_TICKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

pub fn run() -> Value {
    let mut out = json!({});
    for b in [Backend::Sqlite, Backend::Postgres] {
        let name = format!("{b:?}").to_lowercase();
        eprintln!("   {name}");
        out[&name] = bench_backend(b);
    }
    out
}

fn pool(s: &Server) -> wrench_backend::db::DbPool {
    let url = match &s.db.url {
        Some(u) => wrench_backend::config::DatabaseUrl::Postgres(u.clone()),
        None => wrench_backend::config::DatabaseUrl::Sqlite(s.dir.join("wrench.db")),
    };
    wrench_backend::db::open_pool(&url, 2).expect("pool")
}

macro_rules! bulk {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(1000) {
            let chunk = chunk.to_vec();
            write_tx($conn, |c| match c {
                DbConn::Sqlite(c) => diesel::insert_into($table).values(&chunk).execute(c),
                DbConn::Postgres(c) => diesel::insert_into($table).values(&chunk).execute(c),
            })
            .expect("bulk insert");
        }
    };
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn breaches(conn: &mut DbConn) -> i64 {
    notifications::table.filter(notifications::kind.eq("sla.breach")).count().get_result(conn).unwrap_or(0)
}

fn queued_mail(conn: &mut DbConn) -> i64 {
    jobs::table
        .filter(jobs::kind.eq("mail.send"))
        .filter(jobs::last_error.is_null())
        .count()
        .get_result(conn)
        .unwrap_or(0)
}

fn bench_backend(b: Backend) -> Value {
    let n = ticket_count();
    let mut s = server(b).env("WRENCH_LOG", "warn").start();
    s.admin();
    std::thread::sleep(Duration::from_millis(1500));
    let rss_empty = rss_mib(s.pid());
    let pool = pool(&s);
    let mut conn = pool.get().expect("conn");
    let now = Utc::now().naive_utc();
    let policy: i64 = sla_policies::table
        .filter(sla_policies::is_default.eq(true))
        .select(sla_policies::id)
        .first(&mut *conn)
        .expect("default policy");

    // ---- seed: tickets opened an hour ago under the default policy (first response in 24
    // hours, warning at 75 %), so each clock is exactly what the policy computes.
    eprintln!("   seeding {n} tickets with running clocks");
    let t0 = Instant::now();
    let opened = now - Span::hours(1);
    let due = opened + Span::minutes(TARGET_MINUTES);
    let warn = opened + Span::minutes(TARGET_MINUTES * 75 / 100);
    let first_id: i64 = tickets::table
        .select(diesel::dsl::max(tickets::id))
        .first::<Option<i64>>(&mut *conn)
        .ok()
        .flatten()
        .unwrap_or(0)
        + 1;
    let ticket_rows: Vec<_> = (0..n)
        .map(|i| {
            (
                tickets::subject.eq(format!("Bench ticket {i}")),
                tickets::status.eq("open"),
                tickets::priority.eq(2i64),
                tickets::queue_id.eq(1i64),
                tickets::source.eq("bench"),
                tickets::created_at.eq(opened),
                tickets::updated_at.eq(opened),
                tickets::last_activity_at.eq(opened),
                tickets::sla_due_at.eq(due),
            )
        })
        .collect();
    bulk!(&mut *conn, tickets::table, ticket_rows);
    drop(ticket_rows);
    let clock_rows: Vec<_> = (0..n)
        .map(|i| {
            (
                sla_clocks::ticket_id.eq(first_id + i),
                sla_clocks::kind.eq("first_response"),
                sla_clocks::state.eq("running"),
                sla_clocks::policy_id.eq(policy),
                sla_clocks::target_minutes.eq(TARGET_MINUTES),
                sla_clocks::segments.eq("[]"),
                sla_clocks::running_since.eq(opened),
                sla_clocks::warn_at.eq(warn),
                sla_clocks::due_at.eq(due),
                sla_clocks::started_at.eq(opened),
                sla_clocks::updated_at.eq(opened),
            )
        })
        .collect();
    bulk!(&mut *conn, sla_clocks::table, clock_rows);
    drop(clock_rows);
    let first_clock: i64 = sla_clocks::table
        .filter(sla_clocks::ticket_id.eq(first_id))
        .select(sla_clocks::id)
        .first(&mut *conn)
        .expect("clock");
    let job_rows: Vec<_> = (0..n)
        .map(|i| {
            (
                jobs::kind.eq(sla::DEADLINE_JOB),
                jobs::payload.eq(json!({ "ticket": first_id + i }).to_string()),
                jobs::dedupe_key.eq(format!("sla:{}", first_clock + i)),
                jobs::run_at.eq(warn),
                jobs::attempts.eq(0i64),
                jobs::created_at.eq(opened),
            )
        })
        .collect();
    bulk!(&mut *conn, jobs::table, job_rows);
    drop(job_rows);
    let seed_s = t0.elapsed().as_secs_f64();

    // ---- 10,000 of them breach in the same second, shortly after the restart below.
    // Each moved clock stays what the policy computes (started 24 hours before, its warning at
    // 75 % already sent), so firing it is firing, not re-measuring a clock whose stored target
    // or deadlines disagree with its policy (which rightly takes the per-ticket path).
    let fire_at: NaiveDateTime = (Utc::now() + Span::seconds(40)).naive_utc().with_nanosecond(0).expect("whole second");
    let fire_ids: Vec<i64> = (0..FIRE).map(|i| first_id + i * (n / FIRE).max(1)).take(n.min(FIRE) as usize).collect();
    for chunk in fire_ids.chunks(500) {
        let chunk = chunk.to_vec();
        write_tx(&mut conn, |c| {
            diesel::update(sla_clocks::table.filter(sla_clocks::ticket_id.eq_any(&chunk)))
                .set((
                    sla_clocks::running_since.eq(fire_at - Span::minutes(TARGET_MINUTES)),
                    sla_clocks::warn_at.eq(fire_at - Span::minutes(TARGET_MINUTES / 4)),
                    sla_clocks::warned_at.eq(Some(fire_at - Span::minutes(TARGET_MINUTES / 4))),
                    sla_clocks::due_at.eq(fire_at),
                ))
                .execute(c)?;
            diesel::update(tickets::table.filter(tickets::id.eq_any(&chunk)))
                .set(tickets::sla_due_at.eq(fire_at))
                .execute(c)?;
            let keys: Vec<String> = chunk.iter().map(|t| format!("sla:{}", first_clock + (t - first_id))).collect();
            diesel::update(jobs::table.filter(jobs::dedupe_key.eq_any(&keys))).set(jobs::run_at.eq(fire_at)).execute(c)
        })
        .expect("due soon");
    }
    let before = breaches(&mut conn);

    // ---- restart: the scheduler starts with every deadline waiting.
    s.restart();
    s.admin();
    let pid = s.pid();
    std::thread::sleep(Duration::from_secs(2));
    let (c0, w0) = (cpu_seconds(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let idle_cpu_percent = 100.0 * (cpu_seconds(pid) - c0) / w0.elapsed().as_secs_f64();
    let rss_loaded = rss_mib(pid);

    // ---- wait for the 10,000 breaches.
    let fire_wall = (fire_at - Utc::now().naive_utc()).to_std().unwrap_or_default();
    std::thread::sleep(fire_wall);
    let t_fire = Instant::now();
    let want = before + fire_ids.len() as i64;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut fired = breaches(&mut conn);
    while fired < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        fired = breaches(&mut conn);
    }
    let fire_s = t_fire.elapsed().as_secs_f64();
    let rss_after_fire = rss_mib(pid);
    // The breaches queued their mail (assignee, dispatchers, admins): let the worker send it
    // before timing status changes, so they do not queue behind it for the database.
    let t_mail = Instant::now();
    let mail_queued = queued_mail(&mut conn);
    while queued_mail(&mut conn) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mail_s = t_mail.elapsed().as_secs_f64();

    // ---- status change: the same transaction with and without the clock recomputation.
    let status_change = status_change_cost(&s, first_id + 1, n);
    json!({
        "tickets": n,
        "seed_s": (seed_s * 10.0).round() / 10.0,
        "scheduler_idle_cpu_percent": (idle_cpu_percent * 100.0).round() / 100.0,
        "rss_mib_no_tickets": rss_empty.round(),
        "rss_mib_with_all_deadlines_waiting": rss_loaded.round(),
        "rss_mib_after_firing": rss_after_fire.round(),
        "deadlines_due_same_second": fire_ids.len(),
        "breaches_fired": fired - before,
        "seconds_to_fire_all": (fire_s * 1000.0).round() / 1000.0,
        "breach_mails_waiting_after_firing": mail_queued,
        "seconds_to_send_breach_mail": (mail_s * 10.0).round() / 10.0,
        "status_change": status_change,
    })
}

/// Opens the server's database in-process (same data dir and secret) and times status
/// changes on tickets with running clocks, with and without `sla::on_ticket`.
fn status_change_cost(s: &Server, first: i64, n: i64) -> Value {
    for (k, v) in s.command_env() {
        std::env::set_var(k, v);
    }
    let config = wrench_backend::config::Config::from_env().expect("config");
    let app = wrench_backend::server::build_app(config).expect("app");
    let mut conn = app.conn().expect("conn");
    let count = (STATUS_CHANGES as i64).min(n / 4).max(1);
    let mut run = |offset: i64, with_sla: bool| {
        let mut us = Vec::new();
        for i in 0..count {
            let id = first + offset + i;
            let now = app.now();
            let t0 = Instant::now();
            write_tx(&mut conn, |c| {
                let Some(t) = wrench_backend::tickets::store::lock(c, id)? else { return Ok(()) };
                let to = if t.status() == Status::Open { Status::WaitingOnCustomer } else { Status::Open };
                let system = wrench_backend::accounts::auth::Principal::System;
                wrench_backend::tickets::service::set_status(c, &app, &system, &t, to, now)?;
                if with_sla {
                    sla::on_ticket(c, &app, id, Trigger::Changed, now)?;
                }
                Ok::<_, wrench_backend::error::ServiceError>(())
            })
            .expect("status change");
            us.push(t0.elapsed().as_micros() as u64);
        }
        us
    };
    let without = run(0, false);
    let with = run(count, true);
    let p50 = |v: &[u64]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    json!({
        "changes": count,
        "without_sla": percentiles(without.clone()),
        "with_sla": percentiles(with.clone()),
        "added_p50_ms": (p50(&with) as f64 - p50(&without) as f64) / 1000.0,
    })
}
