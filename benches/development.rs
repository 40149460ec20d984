//! Development threads: the thread list sorted by votes at 50,000 threads and 1,000,000
//! votes, a thread with 1,000 comments (p50/p99 over HTTP GraphQL), and the release fan-out
//! to 10,000 subscribers (time until every notice is queued).

use crate::common::{concurrent, percentiles};
use crate::support::{server, Backend, Server};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wrench_backend::db::DbConn;
use wrench_backend::schema::{
    companies, contacts, dev_comments, dev_release_notices, dev_subscriptions, dev_threads, dev_votes, products,
    releases,
};

const THREADS: i64 = 50_000;
const VOTERS: i64 = 20_000;
const VOTES_PER_VOTER: i64 = 50;
const COMMENTS: i64 = 1_000;
const FANOUT: i64 = 10_000;

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

fn bench_backend(b: Backend) -> Value {
    let s = server(b).env("WRENCH_LOG", "warn").start();
    let admin = s.admin();
    let pool = pool(&s);
    let mut conn = pool.get().expect("conn");
    let now = chrono::Utc::now().naive_utc();
    let t0 = Instant::now();
    let company: i64 = diesel::insert_into(companies::table)
        .values((
            companies::name.eq("Voters Inc"),
            companies::name_key.eq("voters inc"),
            companies::phone.eq(""),
            companies::notes.eq(""),
            companies::created_at.eq(now),
            companies::updated_at.eq(now),
        ))
        .returning(companies::id)
        .get_result(&mut *conn)
        .expect("company");
    let product: i64 = diesel::insert_into(products::table)
        .values((products::name.eq("Wrench"), products::description.eq(""), products::created_at.eq(now)))
        .returning(products::id)
        .get_result(&mut *conn)
        .expect("product");
    let release: i64 = diesel::insert_into(releases::table)
        .values((
            releases::product_id.eq(product),
            releases::version.eq("2.0"),
            releases::build.eq("2.0.1"),
            releases::status.eq("beta"),
            releases::notes.eq(""),
            releases::created_at.eq(now),
        ))
        .returning(releases::id)
        .get_result(&mut *conn)
        .expect("release");
    let contact_rows: Vec<_> = (0..VOTERS.max(FANOUT))
        .map(|i| {
            (
                contacts::company_id.eq(company),
                contacts::email.eq(format!("voter{i}@voters.example")),
                contacts::name.eq(format!("Voter {i}")),
                contacts::phone.eq(""),
                contacts::active.eq(true),
                contacts::auth_version.eq(1i64),
                contacts::timezone.eq("UTC"),
                contacts::created_at.eq(now),
                contacts::updated_at.eq(now),
            )
        })
        .collect();
    bulk!(&mut conn, contacts::table, contact_rows);
    let first_contact: i64 = contacts::table
        .select(diesel::dsl::min(contacts::id))
        .first::<Option<i64>>(&mut *conn)
        .expect("min")
        .unwrap_or(1);
    // Votes: each voter votes for 50 threads, skewed toward low ids so counts differ.
    let mut counts = vec![0i64; THREADS as usize];
    let mut vote_rows = Vec::with_capacity((VOTERS * VOTES_PER_VOTER) as usize);
    for v in 0..VOTERS {
        for k in 0..VOTES_PER_VOTER {
            let t = ((v * 7919 + k * k * 104_729) % THREADS) * ((k % 3) + 1) % THREADS;
            vote_rows.push((v, t));
        }
    }
    vote_rows.sort_unstable();
    vote_rows.dedup();
    for (_, t) in &vote_rows {
        counts[*t as usize] += 1;
    }
    let thread_rows: Vec<_> = (0..THREADS)
        .map(|i| {
            (
                dev_threads::kind.eq(if i % 3 == 0 { "feature" } else { "bug" }),
                dev_threads::title.eq(format!("Thread {i}: export to PDF fails for large tickets")),
                dev_threads::description
                    .eq("Steps to reproduce: open a ticket with 500 replies, export, watch it time out."),
                dev_threads::product_id.eq(product),
                dev_threads::status.eq("triaged"),
                dev_threads::visibility.eq(if i % 10 == 0 { "internal" } else { "public" }),
                dev_threads::shortcut.eq(format!("b{i:09}")),
                dev_threads::vote_count.eq(counts[i as usize]),
                dev_threads::subscriber_count.eq(0i64),
                dev_threads::last_activity_at.eq(now - chrono::Duration::seconds(i)),
                dev_threads::created_at.eq(now),
            )
        })
        .collect();
    bulk!(&mut conn, dev_threads::table, thread_rows);
    let first_thread: i64 = dev_threads::table
        .select(diesel::dsl::min(dev_threads::id))
        .first::<Option<i64>>(&mut *conn)
        .expect("min")
        .unwrap_or(1);
    let votes: Vec<_> = vote_rows
        .iter()
        .map(|(v, t)| {
            (
                dev_votes::thread_id.eq(first_thread + t),
                dev_votes::user_id.eq(None::<i64>),
                dev_votes::contact_id.eq(Some(first_contact + v)),
                dev_votes::created_at.eq(now),
            )
        })
        .collect();
    bulk!(&mut conn, dev_votes::table, votes);
    // One thread with 1,000 comments; another with 10,000 subscribers, fixed in the release.
    let busy = first_thread + 1;
    let comments: Vec<_> = (0..COMMENTS)
        .map(|i| {
            (
                dev_comments::thread_id.eq(busy),
                dev_comments::internal.eq(i % 7 == 0),
                dev_comments::author_user_id.eq(None::<i64>),
                dev_comments::author_contact_id.eq(Some(first_contact + i % 100)),
                dev_comments::body.eq(format!(
                    "Comment {i}: still happening on build 1.9.{i}, attached logs show the worker timing out."
                )),
                dev_comments::created_at.eq(now),
            )
        })
        .collect();
    bulk!(&mut conn, dev_comments::table, comments);
    let shipped = first_thread + 2;
    let subs: Vec<_> = (0..FANOUT)
        .map(|i| {
            (
                dev_subscriptions::thread_id.eq(shipped),
                dev_subscriptions::user_id.eq(None::<i64>),
                dev_subscriptions::contact_id.eq(Some(first_contact + i)),
                dev_subscriptions::created_at.eq(now),
            )
        })
        .collect();
    bulk!(&mut conn, dev_subscriptions::table, subs);
    diesel::update(dev_threads::table.find(shipped))
        .set((
            dev_threads::status.eq("fixed"),
            dev_threads::fixed_in_release_id.eq(release),
            dev_threads::subscriber_count.eq(FANOUT),
        ))
        .execute(&mut *conn)
        .expect("fixed");
    diesel::sql_query("ANALYZE").execute(&mut *conn).expect("analyze");
    let seeded_s = t0.elapsed().as_secs_f64();

    let contact_token = {
        s.gql(Some(&admin), "mutation($i:ID!){ updateContact(id:$i, input:{password:\"portal password 1\"}){ contact { id } errors { message } } }", json!({ "i": first_contact.to_string() }));
        s.login("voter0@voters.example", "portal password 1")
    };
    let list_q = "{ devThreads(sort: VOTES, first: 50) { pageInfo { hasNextPage endCursor } edges { node { id title status voteCount subscriberCount } } } }";
    let page_q = "query($i:ID){ devThread(id:$i){ title voteCount comments { authorName body createdAt } } }";
    let mut figures =
        json!({ "threads": THREADS, "votes": vote_rows.len(), "seed_s": (seeded_s * 10.0).round() / 10.0 });
    for (who, token) in [("staff", &admin), ("customer", &contact_token)] {
        for _ in 0..10 {
            s.gql(Some(token), list_q, json!({}));
        }
        let (_, lat) = concurrent(1, 200, |_, _| {
            let d = s.gql(Some(token), list_q, json!({}));
            assert_eq!(d["devThreads"]["edges"].as_array().map(|e| e.len()), Some(50));
        });
        figures[format!("list_by_votes_{who}")] = percentiles(lat);
        let (_, lat) = concurrent(1, 100, |_, _| {
            let d = s.gql(Some(token), page_q, json!({ "i": busy.to_string() }));
            assert!(d["devThread"]["comments"].as_array().map(|c| c.len()).unwrap_or(0) > 800);
        });
        figures[format!("thread_1000_comments_{who}")] = percentiles(lat);
    }
    // Fan-out: from the mutation to every notice committed.
    let started = Instant::now();
    s.gql(
        Some(&admin),
        "mutation($r:ID!){ markReleaseReleased(id:$r){ release { status } errors { message } } }",
        json!({ "r": release.to_string() }),
    );
    let mutation_ms = started.elapsed().as_secs_f64() * 1000.0;
    loop {
        let n: i64 = dev_release_notices::table
            .filter(dev_release_notices::release_id.eq(release))
            .count()
            .get_result(&mut *conn)
            .expect("count");
        if n >= FANOUT {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "fan-out did not finish: {n}");
        std::thread::sleep(Duration::from_millis(10));
    }
    figures["release_fanout"] = json!({ "subscribers": FANOUT, "mutation_ms": mutation_ms.round(), "all_queued_ms": (started.elapsed().as_secs_f64() * 1000.0).round() });
    figures
}
