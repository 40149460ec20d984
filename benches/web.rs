//! Web UI: server time to render the ticket list (50 rows, filtered by status and company,
//! 100,000 tickets) and a ticket page with a 500-entry thread, measured over HTTP with a
//! signed-in session (p50/p99), plus the bytes of each page, on SQLite and PostgreSQL.

use crate::common::{concurrent, percentiles};
use crate::support::{http_request, server, Backend, Server};
use diesel::prelude::*;
use serde_json::{json, Value};
use wrench_backend::schema::{ticket_entries, ticket_events, tickets};

const SEEDED: i64 = 100_000;
const THREAD: i64 = 500;
const RUNS: usize = 300;

pub fn run() -> Value {
    let mut out = json!({});
    for b in [Backend::Sqlite, Backend::Postgres] {
        let name = format!("{b:?}").to_lowercase();
        eprintln!("   {name}");
        out[&name] = bench_backend(b);
    }
    out
}

/// Signs in through the login form; returns the Cookie header of the session.
fn sign_in(s: &Server) -> String {
    let r = http_request(s.port, "GET", "/login", &[], None).expect("GET /login");
    let pre = cookie(&r.headers_all("set-cookie"), "wrench_pre");
    let html = r.text();
    let marker = "name=\"csrf_token\" value=\"";
    let i = html.find(marker).expect("csrf") + marker.len();
    let csrf: String = html[i..].chars().take_while(|c| *c != '"').collect();
    let body = format!(
        "email={}&password={}&csrf_token={csrf}",
        crate::support::ADMIN_EMAIL.replace('@', "%40"),
        crate::support::ADMIN_PASSWORD.replace(' ', "+")
    );
    let cookie_header = format!("wrench_pre={pre}");
    let r = http_request(
        s.port,
        "POST",
        "/login",
        &[("Cookie", &cookie_header), ("Content-Type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    )
    .expect("POST /login");
    assert_eq!(r.status, 303, "sign-in failed: {}", r.text());
    format!("wrench_session={}", cookie(&r.headers_all("set-cookie"), "wrench_session"))
}

fn cookie(set: &[&str], name: &str) -> String {
    set.iter()
        .filter_map(|c| c.split(';').next()?.strip_prefix(&format!("{name}=")).map(str::to_string))
        .next()
        .unwrap_or_default()
}

fn measure(s: &Server, cookie: &str, path: &str, expect: &str) -> Value {
    let get = || {
        let r = http_request(s.port, "GET", path, &[("Cookie", cookie)], None).expect("GET");
        assert_eq!(r.status, 200, "{path}");
        r
    };
    let first = get();
    assert!(first.text().contains(expect), "{path} lacks {expect:?}");
    let bytes = first.body.len();
    for _ in 0..20 {
        get();
    }
    let (_, lat) = concurrent(1, RUNS, |_, _| {
        get();
    });
    json!({ "path": path, "bytes": bytes, "latency": percentiles(lat) })
}

fn bench_backend(b: Backend) -> Value {
    let s = server(b).env("WRENCH_LOG", "warn").start();
    eprintln!("   seeding {SEEDED} tickets and a {THREAD}-entry thread");
    let company = crate::core::seed(&s, SEEDED);
    let long = seed_thread(&s, THREAD);
    let cookie = sign_in(&s);
    let list = measure(&s, &cookie, &format!("/tickets?status=open&company={company}"), "Seeded ticket");
    let page = measure(&s, &cookie, &format!("/tickets/{long}"), "Thread entry 499");
    json!({
        "tickets_in_db": SEEDED,
        "ticket_list_50_rows_filtered": list,
        "ticket_page_500_entries": page,
    })
}

/// One ticket with `n` thread entries (every fifth an internal note) and an event each.
fn seed_thread(s: &Server, n: i64) -> i64 {
    let url = match &s.db.url {
        Some(u) => wrench_backend::config::DatabaseUrl::Postgres(u.clone()),
        None => wrench_backend::config::DatabaseUrl::Sqlite(s.dir.join("wrench.db")),
    };
    let pool = wrench_backend::db::open_pool(&url, 1).expect("pool");
    let mut conn = pool.get().expect("conn");
    let now = chrono::Utc::now().naive_utc();
    let queue: i64 = wrench_backend::schema::queues::table
        .select(wrench_backend::schema::queues::id)
        .first(&mut *conn)
        .expect("queue");
    let id: i64 = diesel::insert_into(tickets::table)
        .values((
            tickets::subject.eq("A long conversation about the mail server"),
            tickets::status.eq("open"),
            tickets::priority.eq(2i64),
            tickets::queue_id.eq(queue),
            tickets::source.eq("bench"),
            tickets::created_at.eq(now),
            tickets::updated_at.eq(now),
            tickets::last_activity_at.eq(now),
        ))
        .returning(tickets::id)
        .get_result(&mut *conn)
        .expect("ticket");
    let entries: Vec<_> = (0..n)
        .map(|k| {
            (
                ticket_entries::ticket_id.eq(id),
                ticket_entries::kind.eq(if k % 5 == 4 { "note" } else { "reply" }),
                ticket_entries::author_user_id.eq(Some(1i64)),
                ticket_entries::author_label.eq(""),
                ticket_entries::body.eq(format!(
                    "Thread entry {k}: checked the queue on the mail server again; the deferred count is \
                     down to {k} and the relay answers within the timeout. Will look again in an hour."
                )),
                ticket_entries::created_at.eq(now + chrono::Duration::seconds(k)),
            )
        })
        .collect();
    let events: Vec<_> = (0..n)
        .map(|k| {
            (
                ticket_events::ticket_id.eq(id),
                ticket_events::actor_user_id.eq(Some(1i64)),
                ticket_events::kind.eq(if k % 5 == 4 { "note" } else { "reply" }),
                ticket_events::new_value.eq(Some(k.to_string())),
                ticket_events::created_at.eq(now + chrono::Duration::seconds(k)),
            )
        })
        .collect();
    wrench_backend::db::write_tx(&mut conn, |c| match c {
        wrench_backend::db::DbConn::Sqlite(c) => {
            for chunk in entries.chunks(100) {
                diesel::insert_into(ticket_entries::table).values(chunk).execute(c)?;
            }
            for chunk in events.chunks(100) {
                diesel::insert_into(ticket_events::table).values(chunk).execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        }
        wrench_backend::db::DbConn::Postgres(c) => {
            diesel::insert_into(ticket_entries::table).values(&entries).execute(c)?;
            diesel::insert_into(ticket_events::table).values(&events).execute(c)?;
            Ok(())
        }
    })
    .expect("seed thread");
    id
}
