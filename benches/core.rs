//! Core ticketing: createTicket over HTTP GraphQL with 8 concurrent clients (tickets/s,
//! p50/p99), and `tickets(first: 50)` filtered by status and company on a 100,000-ticket
//! database (p50/p99), on SQLite and PostgreSQL; server RSS idle and after.

use crate::common::{concurrent, percentiles, rss_mib};
use crate::support::{server, Backend, Server};
use diesel::prelude::*;
use serde_json::{json, Value};
use wrench_backend::schema::{companies, tickets};

const CLIENTS: usize = 8;
const PER_CLIENT: usize = 400;
const SEEDED: i64 = 100_000;

pub fn run() -> Value {
    let mut out = json!({});
    for b in [Backend::Sqlite, Backend::Postgres] {
        let name = format!("{b:?}").to_lowercase();
        eprintln!("   {name}: create");
        out[&name] = bench_backend(b);
    }
    out
}

fn create_query() -> &'static str {
    "mutation($s:String!){ createTicket(input:{subject:$s, body:\"The printer on floor 2 shows error 49 again after the firmware update.\"}){ ticket { number } errors { message } } }"
}

fn bench_backend(b: Backend) -> Value {
    let s = server(b).env("WRENCH_LOG", "warn").start();
    let admin = s.admin();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = s.pid();
    let rss_idle = rss_mib(pid);
    // Warm up.
    for i in 0..50 {
        s.gql(Some(&admin), create_query(), json!({ "s": format!("warm {i}") }));
    }
    let (wall, lat) = concurrent(CLIENTS, PER_CLIENT, |c, i| {
        let d = s.gql(Some(&admin), create_query(), json!({ "s": format!("client {c} ticket {i}") }));
        assert!(d["createTicket"]["ticket"]["number"].is_number(), "{d}");
    });
    let created = (CLIENTS * PER_CLIENT) as f64;
    let create = json!({
        "clients": CLIENTS,
        "tickets": created,
        "tickets_per_s": (created / wall.as_secs_f64()).round(),
        "latency": percentiles(lat),
    });
    eprintln!("   seeding {SEEDED} tickets");
    let company = seed(&s, SEEDED);
    let list_q = "query($c:ID){ tickets(first: 50, filter:{status:[OPEN], companyId:$c}) { totalCount edges { node { number subject status priority updatedAt company { name } requester { name } assignee { name } } } } }";
    for _ in 0..20 {
        s.gql(Some(&admin), list_q, json!({ "c": company.to_string() }));
    }
    let (_, lat) = concurrent(1, 300, |_, _| {
        let d = s.gql(Some(&admin), list_q, json!({ "c": company.to_string() }));
        assert_eq!(d["tickets"]["edges"].as_array().map(|e| e.len()), Some(50), "{d}");
    });
    let list =
        json!({ "tickets_in_db": SEEDED, "filter": "status OPEN + company", "page": 50, "latency": percentiles(lat) });
    json!({ "create": create, "list_filtered_100k": list, "rss_mib": { "idle": rss_idle, "after": rss_mib(pid) } })
}

/// Bulk-loads `n` tickets spread over 50 companies and the six statuses, straight into the
/// database (the fixture, not what is measured). Returns a company id to filter by.
pub fn seed(s: &Server, n: i64) -> i64 {
    let url = match &s.db.url {
        Some(u) => wrench_backend::config::DatabaseUrl::Postgres(u.clone()),
        None => wrench_backend::config::DatabaseUrl::Sqlite(s.dir.join("wrench.db")),
    };
    let pool = wrench_backend::db::open_pool(&url, 1).expect("pool");
    let mut conn = pool.get().expect("conn");
    let now = chrono::Utc::now().naive_utc();
    let mut company_ids = Vec::new();
    for i in 0..50 {
        let id: i64 = diesel::insert_into(companies::table)
            .values((
                companies::name.eq(format!("Bench Company {i}")),
                companies::name_key.eq(format!("bench company {i}")),
                companies::phone.eq(""),
                companies::notes.eq(""),
                companies::created_at.eq(now),
                companies::updated_at.eq(now),
            ))
            .returning(companies::id)
            .get_result(&mut *conn)
            .expect("company");
        company_ids.push(id);
    }
    let statuses = ["new", "open", "waiting_on_customer", "waiting_on_third_party", "resolved", "closed"];
    let queue: i64 = wrench_backend::schema::queues::table
        .select(wrench_backend::schema::queues::id)
        .first(&mut *conn)
        .expect("queue");
    let mut i = 0;
    while i < n {
        let batch: Vec<_> = (i..(i + 1000).min(n))
            .map(|k| {
                let at = now - chrono::Duration::seconds(n - k);
                (
                    tickets::subject.eq(format!("Seeded ticket {k}: mailbox quota warning")),
                    tickets::company_id.eq(Some(company_ids[(k % 50) as usize])),
                    tickets::status.eq(statuses[((k / 50) % 6) as usize]),
                    tickets::priority.eq(1 + k % 4),
                    tickets::queue_id.eq(queue),
                    tickets::source.eq("bench"),
                    tickets::created_at.eq(at),
                    tickets::updated_at.eq(at),
                    tickets::last_activity_at.eq(at),
                )
            })
            .collect();
        // Multi-row inserts need the concrete backend.
        wrench_backend::db::write_tx(&mut conn, |c| match c {
            wrench_backend::db::DbConn::Sqlite(c) => diesel::insert_into(tickets::table).values(&batch).execute(c),
            wrench_backend::db::DbConn::Postgres(c) => diesel::insert_into(tickets::table).values(&batch).execute(c),
        })
        .expect("seed tickets");
        i += 1000;
    }
    if let wrench_backend::db::DbConn::Postgres(pg) = &mut *conn {
        diesel::sql_query("ANALYZE").execute(pg).expect("analyze");
    } else {
        diesel::sql_query("ANALYZE").execute(&mut *conn).expect("analyze");
    }
    company_ids[7]
}
