//! Search at size: 1,000,000 thread entries across 100,000 tickets of generated support
//! text (SQLite). Index build time from scratch (`wrench reindex`), query p50/p99 over HTTP
//! GraphQL for a single word, two words, a phrase, a filtered query and a typo, the same
//! queries in-process against tantivy as the floor (ratio), and how long a write takes to
//! become searchable under a steady 200 writes/s.
//!
//! `WRENCH_BENCH_SEARCH_TICKETS` scales it down (entries are ten per ticket).

use crate::common::{concurrent, percentiles};
use crate::support::{server, Backend, Server};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wrench_backend::db::DbConn;
use wrench_backend::schema::{companies, contacts, queues, ticket_entries, tickets};
use wrench_backend::search::query::{self, Builder};
use wrench_backend::search::{read_pointer, Generation};

const ENTRIES_PER_TICKET: i64 = 10;
const COMPANIES: i64 = 200;

const DEVICES: &[&str] = &[
    "printer",
    "laptop",
    "monitor",
    "scanner",
    "router",
    "firewall",
    "switch",
    "server",
    "desktop",
    "phone",
    "headset",
    "docking station",
    "NAS",
    "UPS",
    "projector",
    "keyboard",
    "webcam",
    "tablet",
];
const PROBLEMS: &[&str] = &[
    "does not turn on",
    "keeps rebooting",
    "is very slow",
    "shows a paper jam",
    "lost its network connection",
    "cannot print double-sided",
    "makes a grinding noise",
    "displays a blue screen",
    "will not connect to wifi",
    "has a flickering screen",
    "rejects my password",
    "overheats after an hour",
    "drops calls",
    "is offline",
];
const PLACES: &[&str] = &[
    "on the second floor",
    "in reception",
    "in the warehouse",
    "in meeting room B",
    "at the branch office",
    "in accounting",
    "at home",
    "in the server room",
    "in the training room",
];
const SENTENCES: &[&str] = &[
    "I restarted it twice but nothing changed.",
    "This started after the update last Tuesday.",
    "Could someone have a look today? We have a deadline.",
    "The error message says the driver could not be loaded.",
    "We checked the cables and they seem fine.",
    "Please send a technician, the whole team is blocked.",
    "I have attached a photo of the error on the display.",
    "Thanks, that fixed it for now but it came back this morning.",
    "Can you replace the toner cartridge while you are here?",
    "The backup job failed again with a timeout.",
    "Outlook keeps asking for the password every few minutes.",
    "The VPN disconnects whenever the laptop goes to sleep.",
    "Our internet connection has been dropping all week.",
    "The license for the accounting software expires on Friday.",
    "We will be in the office until five if you need access.",
];
const STATUSES: &[&str] = &["new", "open", "waiting_on_customer", "open", "resolved", "closed", "open"];

pub fn run() -> Value {
    let tickets: i64 =
        std::env::var("WRENCH_BENCH_SEARCH_TICKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    bench(tickets)
}

fn pool(s: &Server) -> wrench_backend::db::DbPool {
    let url = wrench_backend::config::DatabaseUrl::Sqlite(s.dir.join("wrench.db"));
    wrench_backend::db::open_pool(&url, 1).expect("pool")
}

macro_rules! bulk {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(1000) {
            let chunk = chunk.to_vec();
            wrench_backend::db::write_tx($conn, |c| match c {
                DbConn::Sqlite(c) => diesel::insert_into($table).values(&chunk).execute(c),
                DbConn::Postgres(c) => diesel::insert_into($table).values(&chunk).execute(c),
            })
            .expect("bulk insert");
        }
    };
}

/// A small deterministic generator (no dependency, same text every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.next() % from.len()]
    }
    fn body(&mut self, n: usize) -> String {
        (0..n).map(|_| self.pick(SENTENCES)).collect::<Vec<_>>().join(" ")
    }
}

fn seed(conn: &mut DbConn, n_tickets: i64) {
    let now = chrono::Utc::now().naive_utc();
    let company_rows: Vec<_> = (0..COMPANIES)
        .map(|i| {
            (
                companies::name.eq(format!("Company {i}")),
                companies::name_key.eq(format!("company {i}")),
                companies::phone.eq(""),
                companies::notes.eq(""),
                companies::created_at.eq(now),
                companies::updated_at.eq(now),
            )
        })
        .collect();
    bulk!(conn, companies::table, company_rows);
    let first_company: i64 =
        companies::table.select(diesel::dsl::min(companies::id)).first::<Option<i64>>(conn).expect("min").unwrap_or(1);
    let contact_rows: Vec<_> = (0..COMPANIES)
        .map(|i| {
            (
                contacts::company_id.eq(first_company + i),
                contacts::email.eq(format!("user{i}@company{i}.example")),
                contacts::name.eq(format!("User {i}")),
                contacts::phone.eq(""),
                contacts::active.eq(true),
                contacts::auth_version.eq(1i64),
                contacts::timezone.eq("UTC"),
                contacts::created_at.eq(now),
                contacts::updated_at.eq(now),
            )
        })
        .collect();
    bulk!(conn, contacts::table, contact_rows);
    let first_contact: i64 =
        contacts::table.select(diesel::dsl::min(contacts::id)).first::<Option<i64>>(conn).expect("min").unwrap_or(1);
    let queue: i64 = queues::table.select(queues::id).order(queues::id).first(conn).expect("queue");
    let mut rng = Lcg(42);
    let mut next_ticket: i64 =
        tickets::table.select(diesel::dsl::max(tickets::id)).first::<Option<i64>>(conn).expect("max").unwrap_or(0);
    let batch = 1000;
    let mut made = 0;
    while made < n_tickets {
        let count = batch.min(n_tickets - made);
        let mut ticket_rows = Vec::with_capacity(count as usize);
        let mut entry_rows = Vec::with_capacity((count * ENTRIES_PER_TICKET) as usize);
        for k in 0..count {
            let i = made + k;
            let c = i % COMPANIES;
            let at = now - chrono::Duration::minutes((n_tickets - i) * 5);
            let subject = format!("{} {} {}", rng.pick(DEVICES), rng.pick(PROBLEMS), rng.pick(PLACES));
            let mut s = subject.clone();
            if let Some(f) = s.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            ticket_rows.push((
                tickets::subject.eq(s),
                tickets::company_id.eq(Some(first_company + c)),
                tickets::requester_id.eq(Some(first_contact + c)),
                tickets::status.eq(STATUSES[i as usize % STATUSES.len()]),
                tickets::priority.eq(2i64),
                tickets::queue_id.eq(queue),
                tickets::source.eq("bench"),
                tickets::created_at.eq(at),
                tickets::updated_at.eq(at),
                tickets::last_activity_at.eq(at),
            ));
            next_ticket += 1;
            for e in 0..ENTRIES_PER_TICKET {
                let note = e > 0 && e % 4 == 0;
                let body = if e == 0 {
                    format!("Our {subject}. {}", rng.body(3))
                } else {
                    {
                        let n = 2 + rng.next() % 3;
                        rng.body(n)
                    }
                };
                entry_rows.push((
                    ticket_entries::ticket_id.eq(next_ticket),
                    ticket_entries::kind.eq(if note { "note" } else { "reply" }),
                    ticket_entries::author_user_id.eq(None::<i64>),
                    ticket_entries::author_contact_id.eq(Some(first_contact + c)),
                    ticket_entries::author_label.eq(""),
                    ticket_entries::body.eq(body),
                    ticket_entries::created_at.eq(at + chrono::Duration::minutes(e)),
                ));
            }
        }
        bulk!(conn, tickets::table, ticket_rows);
        bulk!(conn, ticket_entries::table, entry_rows);
        made += count;
    }
}

const QUERIES: &[(&str, &str)] = &[
    ("single_word", "toner"),
    ("two_words", "printer jam"),
    ("phrase", "\"paper jam\""),
    ("filtered", "status:open company:\"Company 7\""),
    ("typo", "scannr"),
];

const Q: &str = "query($q:String!){ search(query:$q, first:20){ totalCount edges { kind node { __typename } } } }";

fn bench(n_tickets: i64) -> Value {
    let mut s = server(Backend::Sqlite).env("WRENCH_LOG", "warn").start();
    let admin = s.admin();
    let pool = pool(&s);
    let t0 = Instant::now();
    {
        let mut conn = pool.get().expect("conn");
        seed(&mut conn, n_tickets);
        diesel::sql_query("ANALYZE").execute(&mut *conn).expect("analyze");
    }
    let seed_s = t0.elapsed().as_secs_f64();
    // Build from scratch while the server runs (it switches to the new generation).
    let t = Instant::now();
    let (code, out, err) = s.cli(&["reindex"], b"");
    assert_eq!(code, 0, "reindex: {out}\n{err}");
    let build_s = t.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = s.gql(Some(&admin), Q, json!({ "q": "toner" }));
        if d["search"]["totalCount"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not switch to the rebuilt index");
        std::thread::sleep(Duration::from_millis(200));
    }
    let dir = s.dir.join("index");
    let g = Generation::open(&dir, &read_pointer(&dir).expect("pointer")).expect("open index");
    let mut figures = json!({
        "tickets": n_tickets,
        "entries": n_tickets * ENTRIES_PER_TICKET,
        "seed_s": (seed_s * 10.0).round() / 10.0,
        "index_build_s": (build_s * 10.0).round() / 10.0,
        "index_bytes": g.size_bytes(),
    });
    for (name, q) in QUERIES {
        for _ in 0..10 {
            s.gql(Some(&admin), Q, json!({ "q": q }));
        }
        let (_, lat) = concurrent(1, 200, |_, _| {
            let d = s.gql(Some(&admin), Q, json!({ "q": q }));
            assert!(d["search"]["totalCount"].as_i64().unwrap_or(0) > 0, "{q}: {d}");
        });
        let http = percentiles(lat);
        let resolved = {
            let mut conn = pool.get().expect("conn");
            lookups(&mut conn, q)
        };
        let floor = percentiles(in_process(&g, q, &resolved));
        let ratio = http["p50_ms"].as_f64().unwrap_or(0.0) / floor["p50_ms"].as_f64().unwrap_or(1.0).max(0.001);
        figures[*name] = json!({ "query": q, "http": http, "tantivy_in_process": floor, "http_over_floor_p50": (ratio * 10.0).round() / 10.0 });
    }
    figures["lag_at_200_writes_per_s"] = lag_under_load(&s, &admin);
    s.stop(false);
    figures
}

type Resolved = BTreeMap<(query::Lookup, String), Vec<String>>;

/// What the server looks up in the database before it builds a query (here only
/// `company:NAME`, by exact name), so the in-process floor runs the same index query.
fn lookups(conn: &mut DbConn, text: &str) -> Resolved {
    let mut out = Resolved::new();
    for (lookup, value) in query::parse(text, 0).expect("parse").lookups() {
        if lookup == query::Lookup::Company {
            let ids: Vec<i64> = companies::table
                .filter(companies::name_key.eq(value.trim().to_lowercase()))
                .select(companies::id)
                .load(conn)
                .expect("company");
            assert!(!ids.is_empty(), "no company {value:?}");
            out.insert((lookup, value), ids.into_iter().map(|i| i.to_string()).collect());
        }
    }
    out
}

/// The same query in-process: parse, build, search top 20 with the total (the floor); the
/// database look-ups are done before (`lookups`), as they are not the index's work.
fn in_process(g: &Generation, text: &str, resolved: &Resolved) -> Vec<u64> {
    let searcher = g.reader.searcher();
    let analyzer = g.index.tokenizer_for_field(g.fields.body).expect("analyzer");
    (0..200)
        .map(|_| {
            let t = Instant::now();
            let parsed = query::parse(text, 0).expect("parse");
            let mut b = Builder { fields: &g.fields, analyzer: analyzer.clone(), resolved, fuzzy: text == "scannr" };
            let q = b.build(&parsed).expect("query");
            let _ = searcher
                .search(
                    &*q,
                    &(
                        wrench_backend::search::tantivy::collector::TopDocs::with_limit(20).order_by_score(),
                        wrench_backend::search::tantivy::collector::Count,
                    ),
                )
                .expect("search");
            t.elapsed().as_micros() as u64
        })
        .collect()
}

/// Replies at a steady 200/s for 10 s; every 500 ms a probe reply with a unique word is
/// written and timed until search finds it.
fn lag_under_load(s: &Server, admin: &str) -> Value {
    let n = s.gql(
        Some(admin),
        "mutation{ createTicket(input:{subject:\"Load target\", body:\"load\"}){ ticket { number } } }",
        json!({}),
    )["createTicket"]["ticket"]["number"]
        .as_i64()
        .expect("ticket");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut lags: Vec<u64> = Vec::new();
    let written = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let stop = &stop;
                scope.spawn(move || {
                    let started = Instant::now();
                    let mut i: u64 = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        // 4 writers × 50/s = 200 writes/s.
                        let due = started + Duration::from_millis(i * 20);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        s.gql(Some(admin), "mutation($n:Int!,$b:String!){ addInternalNote(input:{number:$n, body:$b}){ entry { id } } }", json!({ "n": n, "b": format!("load note {w} {i}") }));
                        i += 1;
                    }
                    i
                })
            })
            .collect();
        for k in 0..20 {
            std::thread::sleep(Duration::from_millis(500));
            let word = format!("probe{k}x{}", std::process::id());
            let t = Instant::now();
            s.gql(
                Some(admin),
                "mutation($n:Int!,$b:String!){ addInternalNote(input:{number:$n, body:$b}){ entry { id } } }",
                json!({ "n": n, "b": word }),
            );
            loop {
                let d = s.gql(Some(admin), Q, json!({ "q": word }));
                if d["search"]["totalCount"].as_i64().unwrap_or(0) > 0 {
                    break;
                }
                if t.elapsed() > Duration::from_secs(30) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            lags.push(t.elapsed().as_micros() as u64);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writers.into_iter().map(|w| w.join().unwrap_or(0)).sum::<u64>()
    });
    json!({ "writes": written, "time_to_searchable": percentiles(lags) })
}
