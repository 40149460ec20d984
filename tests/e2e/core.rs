//! Core ticketing stories: people, tickets, permissions, validation, paging, concurrency,
//! credentials, rate limits, backup and restore.

use crate::both;
use crate::support::{server, Backend, World, ADMIN_EMAIL, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::collections::HashSet;

const TICKET_FIELDS: &str = "number subject status priority company { name } requester { email }";

fn ticket_by_number(s: &crate::support::Server, token: &str, n: i64) -> Value {
    s.gql(
        Some(token),
        &format!("query($n:Int!){{ ticket(number:$n){{ {TICKET_FIELDS} thread {{ body internal authorKind }} }} }}"),
        json!({ "n": n }),
    )["ticket"]
        .clone()
}

both!(a_customer_sees_replies_but_never_notes_or_other_companies, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme Ltd", &["acme.example"]);
    let globex = w.company("Globex", &["globex.example"]);
    let (_, pat) = w.contact(&acme, "Pat Customer", "pat@acme.example");
    let (_, eve) = w.contact(&globex, "Eve Other", "eve@globex.example");
    let (_, tech) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");

    let n = w.ticket(&pat, "Printer offline", "The printer on floor 2 is offline.");
    let t = ticket_by_number(&s, &tech, n);
    assert_eq!(t["status"], "NEW");
    assert_eq!(t["company"]["name"], "Acme Ltd", "a contact's ticket belongs to their company");
    assert_eq!(t["requester"]["email"], "pat@acme.example");

    s.mutate(&tech, "addReply", "mutation($n:Int!){ addReply(input:{number:$n, body:\"Rebooting it now.\"}){ entry { id } errors { field message } } }", json!({ "n": n }));
    s.mutate(&tech, "addInternalNote", "mutation($n:Int!){ addInternalNote(input:{number:$n, body:\"Customer's toner is empty too, SECRET\"}){ entry { id internal } errors { field message } } }", json!({ "n": n }));

    // The technician sees both, the note marked internal; the ticket moved to open.
    let t = ticket_by_number(&s, &tech, n);
    assert_eq!(t["status"], "OPEN", "a staff reply opens a new ticket");
    let thread = t["thread"].as_array().unwrap();
    assert_eq!(thread.len(), 3);
    assert_eq!(thread.iter().filter(|e| e["internal"] == true).count(), 1);

    // The customer sees the reply and not the note, through every door.
    let t = ticket_by_number(&s, &pat, n);
    let bodies: Vec<&str> = t["thread"].as_array().unwrap().iter().map(|e| e["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["The printer on floor 2 is offline.", "Rebooting it now."]);
    assert!(!t.to_string().contains("SECRET"));
    let (_, v) = s.gql_raw(Some(&pat), "query($n:Int!){ ticket(number:$n){ events { kind } } }", json!({ "n": n }));
    assert!(v["errors"][0]["message"].as_str().unwrap_or("").contains("not allowed"), "history is staff-only: {v}");
    let (_, v) = s.gql_raw(
        Some(&pat),
        "query($n:Int!){ ticket(number:$n){ assignee { name } queue { name } tags } }",
        json!({ "n": n }),
    );
    assert!(v["errors"].as_array().map(|e| e.len()).unwrap_or(0) >= 3, "staff-only fields refused: {v}");

    // Another company's contact gets nothing: by number, by list, by filter.
    assert_eq!(ticket_by_number(&s, &eve, n), Value::Null);
    let list = s.gql(Some(&eve), "{ tickets(first: 50) { totalCount edges { node { number } } } }", json!({}));
    assert_eq!(list["tickets"]["totalCount"], 0);
    let filtered = s.gql(
        Some(&eve),
        "query($c:ID){ tickets(filter:{companyId:$c}) { totalCount edges { node { number } } } }",
        json!({ "c": acme }),
    );
    assert_eq!(filtered["tickets"]["totalCount"], 0);
    assert_eq!(
        s.gql(Some(&eve), "query($c:ID!){ company(id:$c){ name } }", json!({ "c": acme }))["company"],
        Value::Null
    );
    let (_, v) = s.gql_raw(
        Some(&eve),
        "mutation($n:Int!){ addReply(input:{number:$n, body:\"let me in\"}){ entry { id } errors { field message } } }",
        json!({ "n": n }),
    );
    assert_eq!(v["data"]["addReply"]["entry"], Value::Null);
    assert!(v["data"]["addReply"]["errors"][0]["message"].as_str().unwrap().contains("not found"), "{v}");
    // Nor may a contact do staff work on their own ticket.
    let (_, v) = s.gql_raw(Some(&pat), "mutation($n:Int!){ updateTicket(input:{number:$n, status: RESOLVED}){ ticket { number } errors { field message } } }", json!({ "n": n }));
    assert_eq!(v["data"]["updateTicket"]["ticket"], Value::Null, "{v}");

    // The customer's own list shows their ticket.
    let mine = s.gql(Some(&pat), "{ tickets { totalCount edges { node { number } } } }", json!({}));
    assert_eq!(mine["tickets"]["totalCount"], 1);

    // Notifications: the customer heard about the reply, not about the note.
    let inbox = s.gql(
        Some(&pat),
        "{ viewer { unreadNotifications } notifications { edges { node { kind title } } } }",
        json!({}),
    );
    let kinds: Vec<&str> = inbox["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["ticket.reply"]);
    let marked = s.mutate(
        &pat,
        "markNotificationsRead",
        "mutation{ markNotificationsRead { marked errors { field message } } }",
        json!({}),
    );
    assert_eq!(marked["marked"], 1);
    assert_eq!(s.gql(Some(&pat), "{ viewer { unreadNotifications } }", json!({}))["viewer"]["unreadNotifications"], 0);
});

both!(validation_errors_name_the_field, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let data = s.gql(Some(&w.admin), "mutation{ createCompany(input:{name:\"\", emailDomains:[\"not a domain\"]}){ company { id } errors { field message } } }", json!({}));
    let errors = data["createCompany"]["errors"].as_array().unwrap().clone();
    let fields: HashSet<&str> = errors.iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, HashSet::from(["name", "emailDomains"]), "{errors:?}");
    assert_eq!(data["createCompany"]["company"], Value::Null);

    let acme = w.company("Acme", &["acme.example"]);
    let data = s.gql(Some(&w.admin), "mutation($c:ID!){ createContact(input:{companyId:$c, name:\"X\", email:\"not-an-email\", password:\"short\"}){ contact { id } errors { field message } } }", json!({ "c": acme }));
    let errors = data["createContact"]["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["field"] == "email" && e["message"].as_str().unwrap().contains("valid email")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e["field"] == "password" && e["message"].as_str().unwrap().contains("at least 10")),
        "{errors:?}"
    );

    let data = s.gql(
        Some(&w.admin),
        "mutation{ createTicket(input:{subject:\"   \", body:\"\"}){ ticket { number } errors { field message } } }",
        json!({}),
    );
    let fields: HashSet<&str> =
        data["createTicket"]["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, HashSet::from(["subject", "body"]));

    let data = s.gql(
        Some(&w.admin),
        "mutation{ createCompany(input:{name:\"Acme\"}){ company { id } errors { field message } } }",
        json!({}),
    );
    assert_eq!(data["createCompany"]["errors"][0]["field"], "name", "duplicate names are refused: {data}");

    // The workflow: closed is final, and the message says what is allowed.
    let n = w.ticket(&w.admin, "Workflow", "body");
    let bad = s.gql(Some(&w.admin), "mutation($n:Int!){ updateTicket(input:{number:$n, status: CLOSED}){ ticket { status } errors { field message } } }", json!({ "n": n }));
    let e = &bad["updateTicket"]["errors"][0];
    assert_eq!(e["field"], "status");
    assert!(e["message"].as_str().unwrap().contains("allowed: open"), "{e}");
    for status in ["RESOLVED", "CLOSED"] {
        s.mutate(&w.admin, "updateTicket", &format!("mutation($n:Int!){{ updateTicket(input:{{number:$n, status: {status}}}){{ ticket {{ status }} errors {{ field message }} }} }}"), json!({ "n": n }));
    }
    let again = s.gql(Some(&w.admin), "mutation($n:Int!){ updateTicket(input:{number:$n, status: OPEN}){ ticket { status } errors { field message } } }", json!({ "n": n }));
    assert!(again["updateTicket"]["errors"][0]["message"].as_str().unwrap().contains("closed is final"));

    // Page size is capped; a bogus cursor is a clear error, not a 500.
    let (status, v) = s.gql_raw(Some(&w.admin), "{ tickets(first: 101) { totalCount } }", json!({}));
    assert_eq!(status, 200);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("between 1 and 100"), "{v}");
    let (_, v) = s.gql_raw(Some(&w.admin), "{ tickets(after: \"garbage\") { totalCount } }", json!({}));
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("cursor"), "{v}");
});

both!(paging_250_tickets_with_identical_timestamps_returns_each_once, |b: Backend| {
    // A stopped clock: every ticket gets exactly the same created_at.
    let s = server(b).clock("2026-03-01T09:00:00Z").start();
    let w = World::new(&s);
    let mut created = HashSet::new();
    for i in 0..250 {
        created.insert(w.ticket(&w.admin, &format!("Ticket {i}"), "same second"));
    }
    for sort in
        ["", ", sort:{field: CREATED_AT, direction: ASC}", ", sort:{field: UPDATED_AT}", ", sort:{field: PRIORITY}"]
    {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let q = format!("query($a:String){{ tickets(first: 7, after:$a{sort}) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ number }} }} }} }}");
            let page = s.gql(Some(&w.admin), &q, json!({ "a": after }))["tickets"].clone();
            assert_eq!(page["totalCount"], 250);
            let edges = page["edges"].as_array().unwrap();
            assert!(edges.len() <= 7);
            seen.extend(edges.iter().map(|e| e["node"]["number"].as_i64().unwrap()));
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(String::from);
        }
        assert_eq!(seen.len(), 250, "sort {sort:?}: every ticket exactly once");
        assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), created, "sort {sort:?}");
    }
});

both!(twenty_concurrent_updates_of_one_ticket_all_land, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let n = w.ticket(&w.admin, "Busy ticket", "everyone at once");
    let barrier = std::sync::Barrier::new(20);
    std::thread::scope(|scope| {
        for i in 0..20 {
            let (s, admin, barrier) = (&s, &w.admin, &barrier);
            scope.spawn(move || {
                barrier.wait();
                s.mutate(admin, "updateTicket", "mutation($n:Int!,$t:[String!]){ updateTicket(input:{number:$n, addTags:$t}){ ticket { number } errors { field message } } }", json!({ "n": n, "t": [format!("tag-{i}")] }));
            });
        }
    });
    let t = s.gql(Some(&w.admin), "query($n:Int!){ ticket(number:$n){ tags events { kind } } }", json!({ "n": n }))
        ["ticket"]
        .clone();
    assert_eq!(t["tags"].as_array().unwrap().len(), 20, "every tag landed: {t}");
    let tag_events = t["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "tag_added").count();
    assert_eq!(tag_events, 20, "one event per update");
});

both!(revoked_tokens_and_deactivated_users_stop_at_once, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let (uid, tech_jwt) = w.staff("Tina", "tina@msp.test", "TECHNICIAN");
    let p = s.mutate(&tech_jwt, "createApiToken", "mutation{ createApiToken(input:{name:\"ci\", scope: WRITE}){ token apiToken { id prefix } errors { field message } } }", json!({}));
    let api = p["token"].as_str().unwrap().to_string();
    assert!(api.starts_with("wrn_"));
    let token_id = p["apiToken"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        s.gql(Some(&api), "{ viewer { user { email } } }", json!({}))["viewer"]["user"]["email"],
        "tina@msp.test"
    );

    // A read-only token cannot write; a write token cannot administrate.
    let ro = s.mutate(
        &tech_jwt,
        "createApiToken",
        "mutation{ createApiToken(input:{name:\"ro\", scope: READ}){ token errors { field message } } }",
        json!({}),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let d = s.gql(
        Some(&ro),
        "mutation{ createTicket(input:{subject:\"x\", body:\"y\"}){ ticket { number } errors { field message } } }",
        json!({}),
    );
    assert!(d["createTicket"]["errors"][0]["message"].as_str().unwrap().contains("not allowed"));

    s.mutate(
        &tech_jwt,
        "revokeApiToken",
        "mutation($i:ID!){ revokeApiToken(id:$i){ apiToken { revokedAt } errors { field message } } }",
        json!({ "i": token_id }),
    );
    let (status, _) = s.gql_raw(Some(&api), "{ viewer { kind } }", json!({}));
    assert_eq!(status, 401, "a revoked token stops at once");
    assert_eq!(
        s.gql(Some(&ro), "{ viewer { kind } }", json!({}))["viewer"]["kind"],
        "staff",
        "other tokens keep working"
    );

    s.mutate(
        &w.admin,
        "updateUser",
        "mutation($i:ID!){ updateUser(id:$i, input:{active:false}){ user { active } errors { field message } } }",
        json!({ "i": uid }),
    );
    let (status, _) = s.gql_raw(Some(&tech_jwt), "{ viewer { kind } }", json!({}));
    assert_eq!(status, 401, "a deactivated user's JWT stops at once");
    let (status, _) = s.gql_raw(Some(&ro), "{ viewer { kind } }", json!({}));
    assert_eq!(status, 401, "and so do their API tokens");
    let d = s.gql(
        None,
        "mutation{ login(email:\"tina@msp.test\", password:\"staff password 1\"){ token errors { field message } } }",
        json!({}),
    );
    assert_eq!(d["login"]["token"], Value::Null);

    // A password change also ends earlier sign-ins.
    let (uid2, jwt2) = w.staff("Uma", "uma@msp.test", "TECHNICIAN");
    // Changing one's own password needs the current one (a stolen token alone is not enough).
    let q = "mutation($i:ID!,$c:String){ updateUser(id:$i, input:{password:\"a brand new password\", currentPassword:$c}){ user { id } errors { field message } } }";
    let d = s.gql(Some(&jwt2), q, json!({ "i": uid2 }));
    assert_eq!(d["updateUser"]["errors"][0]["field"], "currentPassword", "{d}");
    let d = s.gql(Some(&jwt2), q, json!({ "i": uid2, "c": "wrong password 1" }));
    assert_eq!(d["updateUser"]["errors"][0]["field"], "currentPassword", "{d}");
    s.mutate(&jwt2, "updateUser", q, json!({ "i": uid2, "c": "staff password 1" }));
    assert_eq!(s.gql_raw(Some(&jwt2), "{ viewer { kind } }", json!({})).0, 401);
    s.login("uma@msp.test", "a brand new password");

    // The audit log saw it all.
    let log =
        s.gql(Some(&w.admin), "{ auditLog(first: 50) { edges { node { action detail actorName } } } }", json!({}));
    let actions: Vec<&str> =
        log["auditLog"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["action"].as_str().unwrap()).collect();
    for a in ["token.create", "token.revoke", "user.update", "user.create"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    // And only admins read it.
    let (_, v) = s.gql_raw(Some(&ro), "{ auditLog { totalCount } }", json!({}));
    assert!(v["errors"].is_array());
});

both!(batched_logins_are_refused_past_the_limit, |b: Backend| {
    let s = server(b).start();
    // Ten aliased wrong attempts in one operation, then the right password in a batch.
    let many: String = (0..10)
        .map(|i| {
            format!("a{i}: login(email: \"{ADMIN_EMAIL}\", password: \"wrong {i}\") {{ token errors {{ message }} }} ")
        })
        .collect();
    let d = s.gql(None, &format!("mutation {{ {many} }}"), json!({}));
    for i in 0..10 {
        assert_eq!(d[format!("a{i}")]["token"], Value::Null);
    }
    let right = json!({ "query": "mutation($e:String!,$p:String!){ login(email:$e, password:$p){ token errors { message } } }", "variables": { "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD } });
    let (status, v) = s.gql_body(None, &json!([right]).to_string());
    assert_eq!(status, 200);
    assert_eq!(
        v[0]["data"]["login"]["token"],
        Value::Null,
        "the 11th attempt is refused even with the right password: {v}"
    );
    assert!(v[0]["data"]["login"]["errors"][0]["message"].as_str().unwrap().contains("too many attempts"), "{v}");

    // More than ten login fields or operations in one request are refused before running.
    let eleven: String =
        (0..11).map(|i| format!("a{i}: login(email: \"x{i}@y.z\", password: \"w\") {{ token }} ")).collect();
    let (status, v) = s.gql_raw(None, &format!("mutation {{ {eleven} }}"), json!({}));
    assert_eq!(status, 400, "{v}");
    let batch: Vec<Value> = (0..11).map(|_| json!({ "query": "{ viewer { kind } }" })).collect();
    let (status, _) = s.gql_body(None, &Value::Array(batch).to_string());
    assert_eq!(status, 400);
});

both!(depth_and_cost_limits_refuse_before_running, |b: Backend| {
    let s = server(b).start();
    let admin = s.admin();
    let deep = "{ tickets { edges { node { company { contacts { edges { node { company { contacts { edges { node { name } } } } } } } } } } } }";
    let (status, v) = s.gql_raw(Some(&admin), deep, json!({}));
    assert_eq!(status, 400);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("deep"), "{v}");
    let costly = "{ tickets(first: 100) { edges { node { company { contacts(first: 100) { edges { node { company { contacts(first: 100) { totalCount } } } } } } } } } }";
    let (status, v) = s.gql_raw(Some(&admin), costly, json!({}));
    assert_eq!(status, 400, "{v}");
    // The standard introspection query is always allowed.
    let intro = "query IntrospectionQuery { __schema { queryType { name } types { ...FullType } } } fragment FullType on __Type { kind name fields(includeDeprecated: true) { name args { ...InputValue } type { ...TypeRef } } inputFields { ...InputValue } } fragment InputValue on __InputValue { name type { ...TypeRef } defaultValue } fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";
    let d = s.gql(None, intro, json!({}));
    assert_eq!(d["__schema"]["queryType"]["name"], "Query");
    // An admin can turn introspection off.
    assert_eq!(
        s.gql(Some(&admin), "mutation{ setGraphqlIntrospection(enabled:false) }", json!({}))["setGraphqlIntrospection"],
        false
    );
    let (_, v) = s.gql_raw(None, "{ __schema { queryType { name } } }", json!({}));
    assert!(v["errors"].is_array(), "{v}");
});

both!(links_merges_and_follow_ups, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let other = w.company("Other", &[]);
    let (_, pat) = w.contact(&acme, "Pat", "pat@acme.example");
    let (_, oli) = w.contact(&other, "Oli", "oli@other.example");
    let a = w.ticket(&pat, "VPN down", "first report");
    let b2 = w.ticket(&pat, "VPN still down", "second report");
    let c = w.ticket(&oli, "VPN down too", "other company");

    s.mutate(&w.admin, "linkTickets", "mutation($a:Int!,$b:Int!){ linkTickets(input:{number:$a, otherNumber:$b, kind: RELATED}){ link { otherNumber } errors { field message } } }", json!({ "a": a, "b": c }));
    let dup = s.gql(Some(&w.admin), "mutation($a:Int!,$b:Int!){ linkTickets(input:{number:$a, otherNumber:$b, kind: RELATED}){ link { otherNumber } errors { field message } } }", json!({ "a": c, "b": a }));
    assert!(dup["linkTickets"]["errors"][0]["message"].as_str().unwrap().contains("already linked"));

    let refused = s.gql(Some(&w.admin), "mutation($a:Int!,$b:Int!){ mergeTickets(input:{sourceNumber:$a, targetNumber:$b}){ ticket { number } errors { field message } } }", json!({ "a": c, "b": a }));
    assert!(refused["mergeTickets"]["errors"][0]["message"].as_str().unwrap().contains("different companies"));

    let merged = s.mutate(&w.admin, "mergeTickets", "mutation($a:Int!,$b:Int!){ mergeTickets(input:{sourceNumber:$a, targetNumber:$b}){ ticket { number thread { body } } errors { field message } } }", json!({ "a": b2, "b": a }));
    let bodies: Vec<&str> =
        merged["ticket"]["thread"].as_array().unwrap().iter().map(|e| e["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["first report", "second report"]);
    let gone = s.gql(Some(&w.admin), "query($n:Int!){ ticket(number:$n){ status mergedInto } }", json!({ "n": b2 }));
    assert_eq!(gone["ticket"], json!({ "status": "CLOSED", "mergedInto": a }));
    let list = s.gql(Some(&pat), "{ tickets { totalCount } }", json!({}));
    assert_eq!(list["tickets"]["totalCount"], 1, "merged tickets leave the list");
    // A reply to the merged ticket lands on the surviving one.
    let r = s.mutate(&pat, "addReply", "mutation($n:Int!){ addReply(input:{number:$n, body:\"any news?\"}){ ticket { number } errors { field message } } }", json!({ "n": b2 }));
    assert_eq!(r["ticket"]["number"], a);

    // Closed is final: the customer's later message opens a follow-up linked to it.
    for st in ["RESOLVED", "CLOSED"] {
        s.mutate(&w.admin, "updateTicket", &format!("mutation($n:Int!){{ updateTicket(input:{{number:$n, status:{st}}}){{ ticket {{ status }} errors {{ field message }} }} }}"), json!({ "n": a }));
    }
    let r = s.mutate(&pat, "addReply", "mutation($n:Int!){ addReply(input:{number:$n, body:\"it broke again\"}){ ticket { number status } errors { field message } } }", json!({ "n": a }));
    let follow = r["ticket"]["number"].as_i64().unwrap();
    assert_ne!(follow, a);
    assert_eq!(r["ticket"]["status"], "NEW");
    let links = s.gql(
        Some(&w.admin),
        "query($n:Int!){ ticket(number:$n){ links { kind otherNumber } } }",
        json!({ "n": follow }),
    );
    assert_eq!(links["ticket"]["links"], json!([{ "kind": "FOLLOW_UP_OF", "otherNumber": a }]));
    let staff = s.gql(
        Some(&w.admin),
        "mutation($n:Int!){ addReply(input:{number:$n, body:\"x\"}){ entry { id } errors { field message } } }",
        json!({ "n": a }),
    );
    assert!(staff["addReply"]["errors"][0]["message"].as_str().unwrap().contains("closed"));

    // Time.
    let t = s.mutate(&w.admin, "logTime", "mutation($n:Int!){ logTime(input:{number:$n, minutes: 45, billable: true, note:\"onsite\"}){ timeEntry { minutes billable } errors { field message } } }", json!({ "n": follow }));
    assert_eq!(t["timeEntry"], json!({ "minutes": 45, "billable": true }));
    let bad = s.gql(
        Some(&w.admin),
        "mutation($n:Int!){ logTime(input:{number:$n, minutes: 0}){ timeEntry { minutes } errors { field message } } }",
        json!({ "n": follow }),
    );
    assert_eq!(bad["logTime"]["errors"][0]["field"], "minutes");
});

both!(resolved_tickets_close_after_seven_quiet_days, |b: Backend| {
    let s = server(b).clock("2026-05-01T10:00:00Z").start();
    let w = World::new(&s);
    let n = w.ticket(&w.admin, "Auto close me", "body");
    s.mutate(&w.admin, "updateTicket", "mutation($n:Int!){ updateTicket(input:{number:$n, status: RESOLVED}){ ticket { status } errors { field message } } }", json!({ "n": n }));
    s.set_clock("2026-05-08T09:59:00Z");
    std::thread::sleep(std::time::Duration::from_millis(800));
    // A week later the old sign-in has expired: sign in again to look.
    let st = |s: &crate::support::Server| {
        s.gql(Some(&s.admin()), "query($n:Int!){ ticket(number:$n){ status } }", json!({ "n": n }))["ticket"]["status"]
            .clone()
    };
    assert_eq!(st(&s), "RESOLVED", "not yet seven days");
    s.set_clock("2026-05-08T10:00:01Z");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while st(&s) != "CLOSED" {
        assert!(std::time::Instant::now() < deadline, "the ticket did not close");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
});

both!(backup_wipe_restore_keeps_everything, |b: Backend| {
    let mut s = server(b).start();
    let w = World::new(&s);
    let n = w.ticket(&w.admin, "Remember me", "precious data");
    let archive = crate::support::temp_dir("backup").join("wrench-backup.tar");
    let (code, out, err) = s.cli(&["backup", archive.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("backup written"), "{out}");
    s.stop(false);
    let secret_before = std::fs::read(s.dir.join("secret")).unwrap();
    if b == Backend::Sqlite {
        // Wipe the data directory entirely, then restore into it.
        std::fs::remove_dir_all(&s.dir).unwrap();
        std::fs::create_dir_all(&s.dir).unwrap();
        let (code, out, err) = s.cli(&["restore", archive.to_str().unwrap()], b"");
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(std::fs::read(s.dir.join("secret")).unwrap(), secret_before);
        s.restart();
        let admin = s.admin();
        let t =
            s.gql(Some(&admin), "query($n:Int!){ ticket(number:$n){ subject thread { body } } }", json!({ "n": n }));
        assert_eq!(t["ticket"]["subject"], "Remember me");
        assert_eq!(t["ticket"]["thread"][0]["body"], "precious data");
    } else {
        // PostgreSQL: the archive holds the secret (the database is pg_dump's job).
        std::fs::remove_file(s.dir.join("secret")).unwrap();
        let (code, out, err) = s.cli(&["restore", archive.to_str().unwrap()], b"");
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(std::fs::read(s.dir.join("secret")).unwrap(), secret_before);
        s.restart();
        s.admin();
    }
});

#[test]
fn the_initial_admin_password_is_written_0600_when_no_admin_is_configured() {
    use std::os::unix::fs::PermissionsExt;
    let s = server(Backend::Sqlite).without_admin_env().start();
    let path = s.dir.join("initial-admin-password");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let content = std::fs::read_to_string(&path).unwrap();
    let mut lines = content.lines();
    let (email, password) = (lines.next().unwrap(), lines.next().unwrap());
    s.login(email, password);
    assert!(s.log_tail().contains("initial-admin-password"), "the log says where the password is");
    // A restart never resets it.
    drop(s);
}

#[test]
fn schema_graphql_matches_wrench_schema() {
    let out = std::process::Command::new(crate::support::wrench_bin()).arg("schema").env_clear().output().unwrap();
    assert!(out.status.success());
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(String::from_utf8(out.stdout).unwrap() == file, "schema.graphql is stale: run `make schema`");
}

#[test]
fn healthz_reports_the_manual_clock_and_hides_details_from_strangers() {
    let s = server(Backend::Sqlite).clock("2026-01-01T00:00:00Z").start();
    let r = s.get("/healthz").unwrap();
    let v = r.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["clock"], "manual");
    assert!(v.get("details").is_none());
    let admin = s.admin();
    let r = s.request("GET", "/healthz", &[("Authorization", &format!("Bearer {admin}"))], None).unwrap();
    assert!(r.json()["details"]["change_log_head"].is_number());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn an_unknown_database_scheme_is_an_error_naming_the_accepted_ones() {
    let out = std::process::Command::new(crate::support::wrench_bin())
        .arg("migrate")
        .env_clear()
        .env("WRENCH_DATA_DIR", crate::support::temp_dir("scheme"))
        .env("WRENCH_DATABASE_URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sqlite://") && err.contains("postgres://"), "{err}");
}

#[test]
fn every_command_has_help_and_user_create_reads_the_password_from_stdin() {
    for cmd in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["schema", "--help"],
        &["user", "create", "--help"],
        &["backup", "--help"],
        &["restore", "--help"],
        &["mailgate", "--help"],
    ] {
        let out = std::process::Command::new(crate::support::wrench_bin()).args(cmd).env_clear().output().unwrap();
        assert!(out.status.success(), "{cmd:?} --help failed");
    }
    let help = std::process::Command::new(crate::support::wrench_bin()).args(["mailgate", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for code in ["75", "65"] {
        assert!(text.contains(code), "mailgate --help lists exit code {code}: {text}");
    }

    let s = server(Backend::Sqlite).start();
    let (code, out, err) = s.cli(
        &["user", "create", "--email", "Night.Shift@MSP.test", "--name", "Night Shift", "--role", "technician"],
        b"a long enough password\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    let token = s.login("night.shift@msp.test", "a long enough password");
    assert_eq!(
        s.gql(Some(&token), "{ viewer { user { email role } } }", json!({}))["viewer"]["user"],
        json!({ "email": "night.shift@msp.test", "role": "TECHNICIAN" })
    );
    let (code, _, err) =
        s.cli(&["user", "create", "--email", "x@msp.test", "--name", "X", "--role", "technician"], b"short\n");
    assert_ne!(code, 0);
    assert!(err.contains("password"), "{err}");
}
