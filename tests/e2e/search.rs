//! Full-text search: what was written a moment ago is found and what was merged away is
//! not; a customer never sees another company's documents or an internal note, counts
//! included; typos, every piece of the query syntax, crashes, late PostgreSQL commits and a
//! rebuild under write load.

use crate::both;
use crate::support::{Backend, Server, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SEARCH: &str = r#"query($q:String!,$f:Int,$a:String){ search(query:$q, first:$f, after:$a){
  totalCount fuzzy ticketNumber
  edges { cursor kind score node { __typename
    ... on TicketHit { number subject subjectHtml snippetHtml status tags }
    ... on ReplyHit { id ticketNumber snippetHtml authorName }
    ... on NoteHit { id ticketNumber snippetHtml }
    ... on CompanyHit { id name }
    ... on ContactHit { id name email }
    ... on DevThreadHit { id title }
    ... on DevCommentHit { id threadId internal snippetHtml } } }
  pageInfo { hasNextPage hasPreviousPage endCursor }
  facets { kind { value count filter } status { value count filter } company { label count filter } }
  groups { kind label totalCount edges { kind } } } }"#;

fn search_page(s: &Server, token: &str, q: &str, first: i64, after: Option<&str>) -> Value {
    s.gql(Some(token), SEARCH, json!({ "q": q, "f": first, "a": after }))["search"].clone()
}

fn search(s: &Server, token: &str, q: &str) -> Value {
    search_page(s, token, q, 100, None)
}

fn total(r: &Value) -> i64 {
    r["totalCount"].as_i64().unwrap()
}

/// (kind, number-or-id) of every hit, in order.
fn hits(r: &Value) -> Vec<(String, i64)> {
    r["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            let id = n["number"]
                .as_i64()
                .or_else(|| n["ticketNumber"].as_i64())
                .or_else(|| n["id"].as_str().and_then(|i| i.parse().ok()))
                .unwrap_or(-1);
            (e["kind"].as_str().unwrap().to_string(), id)
        })
        .collect()
}

fn tickets_found(r: &Value) -> Vec<i64> {
    let mut v: Vec<i64> = hits(r).into_iter().filter(|(k, _)| k == "ticket").map(|(_, n)| n).collect();
    v.sort();
    v
}

/// Waits (the index commits in batches) until the search satisfies `ok`.
fn eventually(s: &Server, token: &str, q: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = s.gql_raw(Some(token), SEARCH, json!({ "q": q, "f": 100 }));
        let building = v["errors"][0]["message"].as_str().is_some_and(|m| m.contains("being built"));
        let r = if building { Value::Null } else { search(s, token, q) };
        if !building && ok(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "search {q:?} never satisfied the condition; last answer: {r}\n{}",
            s.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ticket_as(s: &Server, token: &str, input: Value) -> i64 {
    let p = s.mutate(
        token,
        "createTicket",
        "mutation($i: CreateTicketInput!){ createTicket(input:$i){ ticket { number } errors { field message } } }",
        json!({ "i": input }),
    );
    p["ticket"]["number"].as_i64().unwrap()
}

fn reply(s: &Server, token: &str, n: i64, body: &str) {
    s.mutate(
        token,
        "addReply",
        "mutation($n:Int!,$b:String!){ addReply(input:{number:$n, body:$b}){ entry { id } errors { field message } } }",
        json!({ "n": n, "b": body }),
    );
}

fn note(s: &Server, token: &str, n: i64, body: &str) {
    s.mutate(
        token,
        "addInternalNote",
        "mutation($n:Int!,$b:String!){ addInternalNote(input:{number:$n, body:$b}){ entry { id } errors { field message } } }",
        json!({ "n": n, "b": body }),
    );
}

fn product(s: &Server, token: &str) -> String {
    let p = s.mutate(token, "createProduct", "mutation{ createProduct(name:\"Wrench\", description:\"our PSA\"){ product { id } errors { field message } } }", json!({}));
    p["product"]["id"].as_str().unwrap().to_string()
}

fn thread(s: &Server, token: &str, product: &str, title: &str, description: &str, visibility: &str) -> String {
    let p = s.mutate(
        token,
        "createDevThread",
        "mutation($i: DevThreadFields!){ createDevThread(input:$i){ thread { id } errors { field message } } }",
        json!({ "i": { "kind": "BUG", "title": title, "description": description, "productId": product, "visibility": visibility } }),
    );
    p["thread"]["id"].as_str().unwrap().to_string()
}

fn health_details(s: &Server, admin: &str) -> Value {
    let auth = format!("Bearer {admin}");
    let r = s.request("GET", "/healthz", &[("Authorization", auth.as_str())], None).unwrap();
    assert_eq!(r.status, 200);
    r.json()["details"].clone()
}

both!(finds_what_was_just_written_and_forgets_what_was_merged_away, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let (_, tech) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let acme = w.company("Acme", &["acme.example"]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");

    let a = w.ticket(&pat, "Plotter refuses large sheets", "The plotter in the drafting room refuses A0 sheets.");
    let r = eventually(&s, &tech, "plotter", |r| tickets_found(r) == vec![a]);
    let html = r["edges"][0]["node"]["subjectHtml"].as_str().unwrap();
    assert!(html.contains("<mark>Plotter</mark>"), "{html}");
    reply(&s, &tech, a, "Replaced the pinch rollers of the plotter.");
    note(&s, &tech, a, "Rollers were on backorder, zanzibar supplier.");
    eventually(&s, &tech, "rollers", |r| {
        let k: Vec<String> = hits(r).into_iter().map(|(k, _)| k).collect();
        k.contains(&"reply".to_string()) && k.contains(&"note".to_string())
    });
    eventually(&s, &tech, "zanzibar", |r| total(r) == 1);
    // A ticket's status change reaches its replies and notes (they are filtered by it too);
    // a later reply that leaves the ticket's fields alone keeps them.
    s.mutate(&tech, "updateTicket", "mutation($n:Int!){ updateTicket(input:{number:$n, status: WAITING_ON_CUSTOMER}){ ticket { number } errors { field message } } }", json!({ "n": a }));
    eventually(&s, &tech, "rollers status:waiting_on_customer", |r| total(r) == 2);
    note(&s, &tech, a, "Ordered spare rollers.");
    eventually(&s, &tech, "rollers status:waiting_on_customer", |r| total(r) == 3);

    // Companies and contacts are found too (staff).
    eventually(&s, &tech, "acme.example", |r| {
        let k: Vec<String> = hits(r).into_iter().map(|(k, _)| k).collect();
        k.contains(&"company".to_string()) && k.contains(&"contact".to_string())
    });

    // A duplicate ticket merged into the first one is no longer found as a ticket; its
    // thread is found on the surviving ticket.
    let dup = w.ticket(&pat, "Plotter again: quetzal error", "Now it shows a quetzal error on the panel.");
    reply(&s, &pat, dup, "The quetzal error is back after lunch.");
    eventually(&s, &tech, "quetzal", |r| tickets_found(r) == vec![dup]);
    s.mutate(&tech, "mergeTickets", "mutation($a:Int!,$b:Int!){ mergeTickets(input:{sourceNumber:$a, targetNumber:$b}){ ticket { number } errors { field message } } }", json!({ "a": dup, "b": a }));
    let r = eventually(&s, &tech, "quetzal", |r| tickets_found(r).is_empty() && total(r) >= 1);
    assert!(hits(&r).iter().all(|(k, n)| k == "reply" && *n == a), "the moved thread is on #{a}: {r}");

    // A development thread marked as a duplicate disappears from the index.
    let p = product(&s, &tech);
    let keep = thread(&s, &tech, &p, "Export crashes on umlauts", "PDF export crashes.", "PUBLIC");
    let gone = thread(&s, &tech, &p, "Export crash with capybara", "The capybara export crashes.", "PUBLIC");
    eventually(&s, &tech, "capybara", |r| hits(r).iter().any(|(k, _)| k == "thread"));
    s.mutate(&tech, "markThreadDuplicate", "mutation($i:ID!,$s:ID!){ markThreadDuplicate(id:$i, survivorId:$s){ thread { id } errors { field message } } }", json!({ "i": gone, "s": keep }));
    eventually(&s, &tech, "capybara", |r| total(r) == 0);

    // Admins see the index's figures.
    let d = health_details(&s, &w.admin);
    let search = &d["search"];
    assert_eq!(search["state"], "ready", "{d}");
    assert!(search["documents_by_kind"]["ticket"].as_i64().unwrap() >= 1, "{d}");
    assert!(search["size_bytes"].as_i64().unwrap() > 0, "{d}");
    assert!(search["lag"].as_i64().is_some(), "{d}");
    let anonymous = s.get("/healthz").unwrap().json();
    assert!(anonymous.get("details").is_none(), "no details without an admin: {anonymous}");
});

both!(a_contact_never_sees_another_company_or_an_internal_note, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let (_, tech) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (_, gina) = w.contact(&globex, "Gina Globex", "gina@globex.example");

    let mine = w.ticket(&pat, "Printer toner streaks", "Our printer leaves streaks.");
    reply(&s, &tech, mine, "Please send a printer test page.");
    note(&s, &tech, mine, "Printer lease ends soon, upsell a new printer.");
    let theirs = w.ticket(&gina, "Printer offline", "The Globex printer is offline.");
    reply(&s, &tech, theirs, "Printer driver updated.");
    let p = product(&s, &tech);
    thread(&s, &tech, &p, "Printer queue view", "Show the printer queue in the portal.", "PUBLIC");
    thread(&s, &tech, &p, "Printer billing secret", "Staff only printer billing idea.", "INTERNAL");

    // Staff see all seven documents mentioning printers.
    eventually(&s, &tech, "printer", |r| total(r) == 7);
    let r = search(&s, &pat, "printer");
    let found = hits(&r);
    assert_eq!(total(&r), 3, "Pat's ticket, the public reply on it and the public thread: {r}");
    assert_eq!(found.len(), 3);
    assert!(found.contains(&("ticket".into(), mine)) && found.contains(&("reply".into(), mine)), "{found:?}");
    assert!(found.iter().any(|(k, _)| k == "thread"), "{found:?}");
    assert!(!found.iter().any(|(k, n)| k == "note" || *n == theirs), "{found:?}");
    let kinds: i64 = r["facets"]["kind"].as_array().unwrap().iter().map(|f| f["count"].as_i64().unwrap()).sum();
    assert_eq!(kinds, 3, "facet counts agree with what Pat may see: {r}");
    // The same hits grouped by kind: every hit once, in its kind's group, counts from the facets.
    let groups = r["groups"].as_array().unwrap();
    let mut grouped: Vec<&str> = Vec::new();
    for g in groups {
        let kind = g["kind"].as_str().unwrap();
        assert!(!grouped.contains(&kind), "one group per kind: {r}");
        grouped.push(kind);
        let edges = g["edges"].as_array().unwrap();
        assert!(edges.iter().all(|e| e["kind"] == kind), "{r}");
        assert_eq!(g["totalCount"].as_u64().unwrap() as usize, edges.len(), "{r}");
    }
    let in_groups: usize = groups.iter().map(|g| g["edges"].as_array().unwrap().len()).sum();
    assert_eq!(in_groups, 3, "{r}");
    assert_eq!(grouped[0], r["edges"][0]["kind"].as_str().unwrap(), "the best hit's kind comes first: {r}");
    assert_eq!(r["facets"]["company"], json!([]), "{r}");

    // Asking for notes or the other company's words finds nothing, counts included.
    assert_eq!(total(&search(&s, &pat, "kind:note printer")), 0);
    assert_eq!(total(&search(&s, &pat, "lease upsell")), 0);
    assert_eq!(total(&search(&s, &pat, "offline")), 0);
    assert_eq!(total(&search(&s, &pat, "company:globex")), 0);
    assert_eq!(total(&search(&s, &pat, "billing")), 0);
    assert_eq!(search(&s, &pat, &format!("#{theirs}"))["ticketNumber"], Value::Null);
    // Paging never leaks either: every page of one result holds only Pat's documents.
    let mut after: Option<String> = None;
    let mut seen = 0;
    loop {
        let page = search_page(&s, &pat, "printer", 1, after.as_deref());
        seen += page["edges"].as_array().unwrap().len();
        assert_eq!(total(&page), 3);
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(seen, 3);
    // Gina sees hers.
    assert_eq!(tickets_found(&search(&s, &gina, "printer")), vec![theirs]);
    // Staff-only filters are refused for customers with a clear message.
    let (status, v) = s.gql_raw(Some(&pat), SEARCH, json!({ "q": "tag:vip" }));
    assert_eq!(status, 200);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("for staff"), "{v}");
});

both!(typos_relevance_snippets_and_every_piece_of_syntax, |b: Backend| {
    let s = crate::support::server(b).clock("2026-03-01T10:00:00Z").start();
    let w = World::new(&s);
    let (terry_id, tech_before) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    let (pat_id, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (gina_id, _) = w.contact(&globex, "Gina Globex", "gina@globex.example");

    let old = w.ticket(
        &pat,
        "Printer jams on floor three",
        "The printer on floor three jams with <script>alert(1)</script> labels.",
    );
    let old_toner = w.ticket(&tech_before, "Toner smudge on pages", "Grey toner smudge on every page.");
    s.set_clock("2026-03-20T10:00:00Z");
    // Sign-ins from three weeks ago have expired.
    let tech = s.login("terry@msp.test", "staff password 1");
    let new_toner = w.ticket(&tech, "Toner smudge on pages", "Grey toner smudge on every page.");
    let scanner = ticket_as(
        &s,
        &tech,
        json!({ "subject": "Scanner offline", "body": "The scanner in reception is offline.", "requesterId": gina_id, "priority": "HIGH", "assigneeId": terry_id, "tags": ["hardware"] }),
    );
    let newer = ticket_as(
        &s,
        &tech,
        json!({ "subject": "Printer jams again", "body": "Same printer issue as before.", "requesterId": pat_id }),
    );
    s.mutate(&tech, "updateTicket", "mutation($n:Int!){ updateTicket(input:{number:$n, status: RESOLVED}){ ticket { number } errors { field message } } }", json!({ "n": scanner }));
    eventually(&s, &tech, "status:resolved", |r| tickets_found(r) == vec![scanner]);
    eventually(&s, &tech, "again", |r| tickets_found(r) == vec![newer]);

    // Words (all required), phrases, exclusion, OR.
    assert_eq!(tickets_found(&search(&s, &tech, "printer floor")), vec![old]);
    assert_eq!(tickets_found(&search(&s, &tech, "printer scanner")), Vec::<i64>::new());
    assert_eq!(tickets_found(&search(&s, &tech, "\"jams on floor\"")), vec![old]);
    assert_eq!(tickets_found(&search(&s, &tech, "\"floor jams\"")), Vec::<i64>::new());
    assert_eq!(tickets_found(&search(&s, &tech, "printer -floor")), vec![newer]);
    assert_eq!(tickets_found(&search(&s, &tech, "printer OR scanner")), vec![old, scanner, newer]);
    // Fields.
    assert_eq!(tickets_found(&search(&s, &tech, "subject:again")), vec![newer]);
    assert_eq!(tickets_found(&search(&s, &tech, "body:reception")), vec![scanner]);
    assert_eq!(tickets_found(&search(&s, &tech, "subject:reception")), Vec::<i64>::new());
    assert_eq!(tickets_found(&search(&s, &tech, "from:pat kind:ticket")), vec![old, newer]);
    assert_eq!(tickets_found(&search(&s, &tech, "company:globex")), vec![scanner]);
    assert_eq!(tickets_found(&search(&s, &tech, "company:\"Acme\" printer")), vec![old, newer]);
    assert_eq!(tickets_found(&search(&s, &tech, "priority:high")), vec![scanner]);
    assert_eq!(tickets_found(&search(&s, &tech, "assignee:terry")), vec![scanner]);
    assert_eq!(tickets_found(&search(&s, &tech, "assignee:me")), vec![scanner]);
    assert_eq!(tickets_found(&search(&s, &tech, "tag:hardware")), vec![scanner]);
    assert_eq!(tickets_found(&search(&s, &tech, &format!("number:{old}"))), vec![old]);
    assert_eq!(tickets_found(&search(&s, &tech, "status:new printer")), vec![old, newer]);
    // Dates: absolute and relative to now (2026-03-20).
    assert_eq!(tickets_found(&search(&s, &tech, "printer created:<2026-03-10")), vec![old]);
    assert_eq!(tickets_found(&search(&s, &tech, "printer created:>2026-03-10")), vec![newer]);
    assert_eq!(tickets_found(&search(&s, &tech, "created:2026-03-01 kind:ticket")), vec![old, old_toner]);
    assert_eq!(tickets_found(&search(&s, &tech, "printer updated:<7d")), vec![newer]);
    assert_eq!(tickets_found(&search(&s, &tech, "printer updated:>7d")), vec![old]);
    // A number alone goes to the ticket.
    assert_eq!(search(&s, &tech, &format!("#{old}"))["ticketNumber"], json!(old));
    assert_eq!(search(&s, &tech, &format!("{newer}"))["ticketNumber"], json!(newer));

    // A typo finds the word when the exact word finds nothing.
    let r = search(&s, &tech, "printr");
    assert_eq!(r["fuzzy"], true, "{r}");
    assert_eq!(tickets_found(&r), vec![old, newer]);
    assert!(r["edges"][0]["node"]["subjectHtml"].as_str().unwrap().contains("<mark>Printer</mark>"), "{r}");
    let exact = search(&s, &tech, "printer");
    assert_eq!(exact["fuzzy"], false);
    // Recency: of two equally relevant tickets the newer ranks first.
    let r = search(&s, &tech, "toner smudge");
    assert_eq!(hits(&r), vec![("ticket".to_string(), new_toner), ("ticket".to_string(), old_toner)], "{r}");

    // Snippets are escaped HTML with the matches marked.
    let r = search(&s, &tech, "labels");
    let snip = r["edges"][0]["node"]["snippetHtml"].as_str().unwrap();
    assert!(snip.contains("&lt;script&gt;") && !snip.contains("<script>"), "{snip}");
    assert!(snip.contains("<mark>labels</mark>"), "{snip}");

    // Facets count over all pages.
    let r = search_page(&s, &tech, "printer OR scanner", 1, None);
    assert_eq!(r["edges"].as_array().unwrap().len(), 1);
    let status = r["facets"]["status"].as_array().unwrap();
    assert!(status.contains(&json!({ "value": "resolved", "count": 1, "filter": "status:resolved" })), "{r}");
    let companies = r["facets"]["company"].as_array().unwrap();
    assert!(companies.iter().any(|c| c["label"] == "Acme" && c["filter"] == "company:\"Acme\""), "{r}");
    let next = search_page(&s, &tech, "printer OR scanner", 1, r["pageInfo"]["endCursor"].as_str());
    assert_eq!(next["pageInfo"]["hasPreviousPage"], true);
    assert_ne!(hits(&next)[0], hits(&r)[0]);

    // Malformed queries get a clear error, not a 500.
    for (q, needle) in [
        ("\"paper jam", "quote is not closed"),
        ("status:bogus", "not a status"),
        ("colour:red", "not a field"),
        ("created:yesterday", "not a date range"),
        ("printer OR", "OR needs"),
    ] {
        let (status, v) = s.gql_raw(Some(&tech), SEARCH, json!({ "q": q }));
        assert_eq!(status, 200, "{q}: {v}");
        let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{q}: {v}");
        assert_eq!(v["errors"][0]["extensions"]["code"], "INVALID", "{q}: {v}");
    }
    // Signed out: no search at all.
    let (_, v) = s.gql_raw(None, SEARCH, json!({ "q": "printer" }));
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("sign in"), "{v}");
});

both!(a_crash_mid_indexing_loses_nothing_and_a_new_schema_rebuilds, |b: Backend| {
    let mut s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let mut made = Vec::new();
    for i in 0..40 {
        made.push(w.ticket(&pat, &format!("Wombat report {i}"), &format!("Wombat number {i} in the server room.")));
    }
    // Killed without warning while the last changes wait for their batch.
    s.stop(true);
    s.restart();
    let admin = s.admin();
    let r = eventually(&s, &admin, "wombat kind:ticket", |r| total(r) == 40);
    let _ = r;
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = search_page(&s, &admin, "wombat kind:ticket", 100, after.as_deref());
        all.extend(tickets_found(&page));
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    all.sort();
    made.sort();
    assert_eq!(all, made);

    // An index written by another schema version is rebuilt at start.
    let before = health_details(&s, &admin)["search"]["generation"].as_str().unwrap().to_string();
    s.stop(false);
    let meta = s.dir.join("index").join(&before).join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let current = format!("\\\"schema\\\":{}", wrench_backend::search::schema::SCHEMA_VERSION);
    assert!(text.contains(&current), "{text}");
    std::fs::write(&meta, text.replace(&current, "\\\"schema\\\":0")).unwrap();
    s.restart();
    let admin = s.admin();
    eventually(&s, &admin, "wombat kind:ticket", |r| total(r) == 40);
    let after_gen = health_details(&s, &admin)["search"]["generation"].as_str().unwrap().to_string();
    assert_ne!(before, after_gen, "a new generation was built");
    assert!(!s.dir.join("index").join(&before).exists(), "the old generation is removed");
});

#[test]
fn postgres_late_commits_below_the_cursor_are_indexed() {
    use diesel::{Connection, RunQueryDsl};
    crate::support::mark_postgres_ran("search::postgres_late_commits_below_the_cursor_are_indexed");
    let s = crate::support::server(Backend::Postgres).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let x = w.ticket(&pat, "First ticket", "nothing special");
    let y = w.ticket(&pat, "Second ticket", "nothing special either");
    eventually(&s, &w.admin, "special", |r| total(r) == 2);
    let url = s.db.url.clone().unwrap();
    let mut a = diesel::PgConnection::establish(&url).unwrap();
    let mut b = diesel::PgConnection::establish(&url).unwrap();
    // A takes the lower change-log id but commits last.
    diesel::sql_query("BEGIN").execute(&mut a).unwrap();
    diesel::sql_query(format!("UPDATE tickets SET subject = 'Zebrafish tank leaking' WHERE id = {x}"))
        .execute(&mut a)
        .unwrap();
    diesel::sql_query(format!("INSERT INTO change_log (entity, entity_id, created_at) VALUES ('ticket', {x}, now())"))
        .execute(&mut a)
        .unwrap();
    diesel::sql_query("BEGIN").execute(&mut b).unwrap();
    diesel::sql_query(format!("UPDATE tickets SET subject = 'Walrus in the lobby' WHERE id = {y}"))
        .execute(&mut b)
        .unwrap();
    diesel::sql_query(format!("INSERT INTO change_log (entity, entity_id, created_at) VALUES ('ticket', {y}, now())"))
        .execute(&mut b)
        .unwrap();
    diesel::sql_query("COMMIT").execute(&mut b).unwrap();
    eventually(&s, &w.admin, "walrus", |r| tickets_found(r) == vec![y]);
    // The indexer has read past A's id by now; A commits late.
    std::thread::sleep(Duration::from_millis(1500));
    diesel::sql_query("COMMIT").execute(&mut a).unwrap();
    eventually(&s, &w.admin, "zebrafish", |r| tickets_found(r) == vec![x]);
}

both!(reindex_under_write_load_loses_nothing, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    for i in 0..20 {
        w.ticket(&pat, &format!("Narwhal before {i}"), "written before the rebuild");
    }
    let admin = w.admin.clone();
    eventually(&s, &admin, "narwhal", |r| total(r) == 20);
    let before = health_details(&s, &admin)["search"]["generation"].as_str().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let written = std::thread::scope(|scope| {
        let stop2 = stop.clone();
        let (s2, pat2) = (&s, pat.clone());
        let writer = scope.spawn(move || {
            let mut n = 0;
            let w2 = World { server: s2, admin: String::new() };
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                w2.ticket(&pat2, &format!("Narwhal during {n}"), "written while rebuilding");
                n += 1;
            }
            n
        });
        std::thread::sleep(Duration::from_millis(300));
        let (code, out, err) = s.cli(&["reindex"], b"");
        assert_eq!(code, 0, "reindex failed: {out}\n{err}");
        assert!(out.contains("built search index generation"), "{out}");
        assert!(err.contains("reindex: 100%"), "a line per 10 % without a terminal: {err}");
        // Keep writing while the server switches to the new generation.
        let deadline = Instant::now() + Duration::from_secs(15);
        while health_details(&s, &admin)["search"]["generation"].as_str().unwrap() == before {
            assert!(Instant::now() < deadline, "the server never switched generations:\n{}", s.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap()
    });
    assert!(written > 0);
    eventually(&s, &admin, "narwhal kind:ticket", |r| total(r) == 20 + written);
    eventually(&s, &admin, "narwhal during", |r| total(r) == written);
});

both!(the_search_page_shows_marked_snippets_facet_links_and_pages, |b: Backend| {
    use crate::web::{location, Web};
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (_, gina) = w.contact(&globex, "Gina Globex", "gina@globex.example");
    let mut mine = Vec::new();
    for i in 0..22 {
        mine.push(w.ticket(&pat, &format!("Gizmo {i} broken"), "The <b>gizmo</b> is broken again."));
    }
    let theirs = w.ticket(&gina, "Gizmo at Globex", "Globex gizmo secret.");
    eventually(&s, &w.admin, "gizmo kind:ticket", |r| total(r) == 23);

    let mut staff = Web::new(&s);
    staff.sign_in(crate::support::ADMIN_EMAIL, crate::support::ADMIN_PASSWORD);
    let home = staff.get("/tickets");
    assert!(home.text().contains("action=\"/search\""), "the header has a search box");
    let r = staff.get("/search?q=gizmo+kind%3Aticket");
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("23 results"), "{html}");
    assert!(html.contains("<mark>gizmo</mark>") || html.contains("<mark>Gizmo</mark>"), "{html}");
    assert!(html.contains("&lt;b&gt;") && !html.contains("<b>gizmo"), "snippets are escaped: {html}");
    assert!(
        html.contains("href=\"/search?q=gizmo+kind%3Aticket+status%3Anew\""),
        "facet links narrow the query: {html}"
    );
    assert!(html.contains("company%3A%22Globex%22"), "{html}");
    let next = html.split("rel=\"next\"").next().and_then(|h| h.rsplit("href=\"").next()).unwrap().to_string();
    let next = next.trim_end_matches("\" ").trim_end_matches('"').replace("&amp;", "&").replace("&#38;", "&");
    let page2 = staff.get(&next);
    assert_eq!(page2.status, 200, "{next}");
    assert!(page2.text().contains("rel=\"prev\""), "{}", page2.text());
    // A ticket number alone opens the ticket; a malformed query says what is wrong.
    let go = staff.get(&format!("/search?q=%23{}", mine[0]));
    assert_eq!(go.status, 303);
    assert_eq!(location(&go), format!("/tickets/{}", mine[0]));
    let bad = staff.get("/search?q=%22gizmo");
    assert_eq!(bad.status, 422);
    assert!(bad.text().contains("quote is not closed"), "{}", bad.text());

    // Admins see the index's figures in the admin UI.
    let admin_page = staff.get("/admin").text();
    assert!(admin_page.contains("Search index") && admin_page.contains("Tickets: 23"), "{admin_page}");

    // The portal: Pat's search never shows Globex.
    let mut portal = Web::new(&s);
    portal.sign_in("pat@acme.example", "portal password 1");
    let r = portal.get("/search?q=gizmo");
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("22 results"), "{html}");
    assert!(!html.contains("Globex") && !html.contains(&format!("/tickets/{theirs}\"")), "{html}");
    assert!(portal.get("/tickets").text().contains("action=\"/search\""));
});
