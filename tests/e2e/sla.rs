//! SLA stories on the real binary with a manual clock (`WRENCH_CLOCK_FILE`): business-hours
//! deadlines, pauses, re-measuring on a priority change, and warnings and breaches that fire
//! exactly once, also across a restart. Nothing sleeps except short polls for the job worker.

use crate::both;
use crate::support::{server, Backend, Server, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CLOCKS: &str = "query($n:Int!){ ticket(number:$n){ slaClocks { kind state targetMinutes dueAt warnAt \
                      remainingSeconds overdueSeconds elapsedSeconds metAt breachedAt } } }";

/// Tokens live 12 hours by the server's (manual) clock: sign in again after a jump.
fn tech_token(s: &Server) -> String {
    s.login("tess@msp.example", "staff password 1")
}

fn clocks(s: &Server, token: &str, number: i64) -> Vec<Value> {
    let d = s.gql(Some(token), CLOCKS, json!({ "n": number }));
    d["ticket"]["slaClocks"].as_array().cloned().unwrap_or_default()
}

fn clock(s: &Server, token: &str, number: i64, kind: &str) -> Value {
    clocks(s, token, number)
        .into_iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} clock on #{number}: {:?}", clocks(s, token, number)))
}

fn notifications(s: &Server, token: &str, kind: &str) -> Vec<Value> {
    let d = s.gql(Some(token), "{ notifications(first:100){ edges { node { kind title ticketNumber } } } }", json!({}));
    d["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .filter(|n| n["kind"] == kind)
        .collect()
}

/// Polls until `kind` notifications reach `want` (the worker runs on its own), then checks
/// a little longer that no more arrive.
fn expect_notifications(s: &Server, token: &str, kind: &str, want: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = notifications(s, token, kind);
        if got.len() >= want {
            break;
        }
        assert!(Instant::now() < deadline, "waited for {want} {kind} notifications, have {}: {got:?}", got.len());
        std::thread::sleep(Duration::from_millis(100));
    }
    // A duplicate would come from the same worker pass; give it a few more turns.
    std::thread::sleep(Duration::from_millis(900));
    let got = notifications(s, token, kind);
    assert_eq!(got.len(), want, "{kind} notifications: {got:?}");
    got
}

fn create_calendar(s: &Server, admin: &str, name: &str, zone: &str) -> String {
    let hours: Vec<Value> = (0..5).map(|d| json!({ "weekday": d, "start": "09:00", "end": "17:00" })).collect();
    let p = s.mutate(
        admin,
        "createSlaCalendar",
        "mutation($i:SlaCalendarInput!){ createSlaCalendar(input:$i){ calendar { id timezone hours { weekday start end } } errors { field message } } }",
        json!({ "i": { "name": name, "timezone": zone, "hours": hours,
                       "holidays": [{ "date": "2020-12-25", "yearly": true, "name": "Christmas" }] } }),
    );
    assert_eq!(p["calendar"]["hours"][0], json!({ "weekday": 0, "start": "09:00", "end": "17:00" }));
    p["calendar"]["id"].as_str().unwrap().to_string()
}

fn create_policy(s: &Server, admin: &str, input: Value) -> String {
    let p = s.mutate(
        admin,
        "createSlaPolicy",
        "mutation($i:SlaPolicyInput!){ createSlaPolicy(input:$i){ policy { id name } errors { field message } } }",
        json!({ "i": input }),
    );
    p["policy"]["id"].as_str().unwrap().to_string()
}

fn attach(s: &Server, admin: &str, company: &str, policy: &str) {
    s.mutate(
        admin,
        "setCompanySlaPolicy",
        "mutation($c:ID!,$p:ID){ setCompanySlaPolicy(companyId:$c, policyId:$p){ ok errors { field message } } }",
        json!({ "c": company, "p": policy }),
    );
}

fn reply(s: &Server, token: &str, number: i64, body: &str, status: Option<&str>) {
    s.mutate(
        token,
        "addReply",
        "mutation($i:AddReplyInput!){ addReply(input:$i){ errors { field message } } }",
        json!({ "i": { "number": number, "body": body, "status": status } }),
    );
}

fn update(s: &Server, token: &str, input: Value) {
    s.mutate(
        token,
        "updateTicket",
        "mutation($i:UpdateTicketInput!){ updateTicket(input:$i){ ticket { number } errors { field message } } }",
        json!({ "i": input }),
    );
}

both!(friday_afternoon_under_nine_to_five_lands_on_monday, |backend: Backend| {
    // Friday 2026-11-27 16:00 in London (GMT).
    let s = server(backend).clock("2026-11-27T16:00:00Z").start();
    let w = World::new(&s);
    let cal = create_calendar(&s, &w.admin, "London office", "Europe/London");
    let targets: Vec<Value> = ["LOW", "NORMAL", "HIGH", "URGENT"]
        .iter()
        .map(|p| json!({ "priority": p, "firstResponseMinutes": 240, "resolutionMinutes": 960 }))
        .collect();
    let policy =
        create_policy(&s, &w.admin, json!({ "name": "Business hours", "calendarId": cal, "targets": targets }));
    let acme = w.company("Acme", &["acme.example"]);
    attach(&s, &w.admin, &acme, &policy);
    let (_, alice) = w.contact(&acme, "Alice", "alice@acme.example");
    let other = w.company("Other", &["other.example"]);
    let (_, bob) = w.contact(&other, "Bob", "bob@other.example");

    let n = w.ticket(&alice, "Printer on fire", "Smoke everywhere");
    // 1 business hour on Friday, 3 on Monday: Monday 12:00.
    let fr = clock(&s, &w.admin, n, "FIRST_RESPONSE");
    assert_eq!(fr["state"], "RUNNING");
    assert_eq!(fr["targetMinutes"], 240);
    assert_eq!(fr["dueAt"], "2026-11-30T12:00:00Z");
    assert_eq!(fr["warnAt"], "2026-11-30T11:00:00Z", "75 % of 4 h = 3 h");
    assert_eq!(fr["remainingSeconds"], 4 * 3600);
    // Two business days: 1 h Friday + 8 h Monday + 7 h Tuesday = Tuesday 16:00.
    assert_eq!(clock(&s, &w.admin, n, "RESOLUTION")["dueAt"], "2026-12-01T16:00:00Z");

    // Over the weekend the business clock stands still.
    s.set_clock("2026-11-29T12:00:00Z");
    let admin = s.admin();
    let fr = clock(&s, &admin, n, "FIRST_RESPONSE");
    assert_eq!(fr["remainingSeconds"], 3 * 3600);
    assert_eq!(fr["elapsedSeconds"], 3600);

    // The default policy counts calendar time: 24 hours, no resolution target.
    s.set_clock("2026-11-27T16:00:00Z");
    let m = w.ticket(&bob, "Mail down", "No mail since noon");
    let admin = s.admin();
    let all = clocks(&s, &admin, m);
    assert_eq!(all.len(), 1, "default policy: first response only: {all:?}");
    assert_eq!(all[0]["kind"], "FIRST_RESPONSE");
    assert_eq!(all[0]["dueAt"], "2026-11-28T16:00:00Z");

    // The ticket list sorts and filters by the next deadline.
    let d = s.gql(
        Some(&admin),
        "{ tickets(sort:{field:SLA_DUE_AT, direction:ASC}, filter:{slaDueBefore:\"2026-11-29T00:00:00Z\"}){ edges { node { number slaDueAt } } } }",
        json!({}),
    );
    let listed: Vec<i64> =
        d["tickets"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["number"].as_i64().unwrap()).collect();
    assert_eq!(listed, vec![m], "only the default-policy ticket is due before Sunday");
    let d = s.gql(
        Some(&admin),
        "{ tickets(sort:{field:SLA_DUE_AT, direction:ASC}){ edges { node { number } } } }",
        json!({}),
    );
    let order: Vec<i64> =
        d["tickets"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["number"].as_i64().unwrap()).collect();
    assert_eq!(order, vec![m, n]);
    // Customers see no clocks.
    assert_eq!(clocks(&s, &alice, n), Vec::<Value>::new());
});

both!(waiting_on_customer_for_a_week_does_not_breach, |backend: Backend| {
    let s = server(backend).clock("2026-11-02T09:00:00Z").start();
    let w = World::new(&s);
    let targets: Vec<Value> = ["LOW", "NORMAL", "HIGH", "URGENT"]
        .iter()
        .map(|p| json!({ "priority": p, "firstResponseMinutes": 60, "nextUpdateMinutes": 120, "resolutionMinutes": 480 }))
        .collect();
    let policy = create_policy(&s, &w.admin, json!({ "name": "Eight hours", "targets": targets }));
    let acme = w.company("Acme", &["acme.example"]);
    attach(&s, &w.admin, &acme, &policy);
    let (_, alice) = w.contact(&acme, "Alice", "alice@acme.example");
    let n = w.ticket(&alice, "VPN", "Cannot connect");

    // Staff answer after 30 minutes and wait for the customer.
    s.set_clock("2026-11-02T09:30:00Z");
    reply(&s, &w.admin, n, "Which client version?", Some("WAITING_ON_CUSTOMER"));
    let fr = clock(&s, &w.admin, n, "FIRST_RESPONSE");
    assert_eq!(fr["state"], "MET");
    assert_eq!(fr["metAt"], "2026-11-02T09:30:00Z");
    let res = clock(&s, &w.admin, n, "RESOLUTION");
    assert_eq!(res["state"], "PAUSED");
    assert_eq!(res["dueAt"], Value::Null);

    // A week later: nothing breached, nothing lost.
    s.set_clock("2026-11-09T09:30:00Z");
    let (admin, alice) = (s.admin(), s.login("alice@acme.example", "portal password 1"));
    std::thread::sleep(Duration::from_millis(600));
    let res = clock(&s, &admin, n, "RESOLUTION");
    assert_eq!(res["state"], "PAUSED");
    assert_eq!(res["remainingSeconds"], 480 * 60 - 1800);
    assert_eq!(notifications(&s, &admin, "sla.breach"), Vec::<Value>::new());

    // The customer answers: resolution runs again from where it stood.
    reply(&s, &alice, n, "Version 5.2", None);
    let res = clock(&s, &admin, n, "RESOLUTION");
    assert_eq!(res["state"], "RUNNING");
    assert_eq!(res["dueAt"], "2026-11-09T17:00:00Z", "7.5 hours left from 09:30");
    let nu = clock(&s, &admin, n, "NEXT_UPDATE");
    assert_eq!(nu["state"], "RUNNING", "the customer's message re-arms next update");
    assert_eq!(nu["dueAt"], "2026-11-09T11:30:00Z");
    // A staff reply meets it.
    reply(&s, &admin, n, "Thanks, fixed in 5.3", None);
    assert_eq!(clock(&s, &admin, n, "NEXT_UPDATE")["state"], "MET");
});

both!(priority_change_mid_way_remeasures_without_losing_time, |backend: Backend| {
    let s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let w = World::new(&s);
    let t = |m: i64| json!({ "firstResponseMinutes": 1440, "resolutionMinutes": m });
    let mut targets = Vec::new();
    for (p, m) in [("LOW", 1000), ("NORMAL", 600), ("HIGH", 300), ("URGENT", 120)] {
        let mut v = t(m);
        v["priority"] = json!(p);
        targets.push(v);
    }
    let policy = create_policy(&s, &w.admin, json!({ "name": "Tiered", "targets": targets }));
    let acme = w.company("Acme", &["acme.example"]);
    attach(&s, &w.admin, &acme, &policy);
    let (_, alice) = w.contact(&acme, "Alice", "alice@acme.example");
    let n = w.ticket(&alice, "Server slow", "Since this morning");
    assert_eq!(clock(&s, &w.admin, n, "RESOLUTION")["dueAt"], "2026-11-02T18:00:00Z");

    // Paused for 30 minutes in between: that time never counts.
    s.set_clock("2026-11-02T08:30:00Z");
    update(&s, &w.admin, json!({ "number": n, "status": "WAITING_ON_CUSTOMER" }));
    s.set_clock("2026-11-02T09:00:00Z");
    update(&s, &w.admin, json!({ "number": n, "status": "OPEN" }));
    s.set_clock("2026-11-02T09:30:00Z");
    // 60 minutes have run; urgent allows 120: due 10:30.
    update(&s, &w.admin, json!({ "number": n, "priority": "URGENT" }));
    let res = clock(&s, &w.admin, n, "RESOLUTION");
    assert_eq!(res["targetMinutes"], 120);
    assert_eq!(res["dueAt"], "2026-11-02T10:30:00Z");
    assert_eq!(res["remainingSeconds"], 3600);
    // Back down to low: 1000 minutes from the same 60 already run.
    update(&s, &w.admin, json!({ "number": n, "priority": "LOW" }));
    let res = clock(&s, &w.admin, n, "RESOLUTION");
    assert_eq!(res["dueAt"], "2026-11-03T01:10:00Z", "09:30 + 940 min");
    assert_eq!(res["elapsedSeconds"], 3600);
    assert_eq!(res["state"], "RUNNING");
});

both!(breach_while_the_server_was_down_fires_once_on_start, |backend: Backend| {
    let mut s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let (tech_id, acme, admin) = {
        let w = World::new(&s);
        let (tech_id, _) = w.staff("Tess Tech", "tess@msp.example", "TECHNICIAN");
        (tech_id, w.company("Acme", &["acme.example"]), w.admin.clone())
    };
    let p = s.mutate(
        &admin,
        "createTicket",
        "mutation($i:CreateTicketInput!){ createTicket(input:$i){ ticket { number } errors { field message } } }",
        json!({ "i": { "subject": "Backups failing", "body": "Since Friday", "companyId": acme, "assigneeId": tech_id } }),
    );
    let n = p["ticket"]["number"].as_i64().unwrap();
    assert_eq!(clock(&s, &admin, n, "FIRST_RESPONSE")["dueAt"], "2026-11-03T08:00:00Z");

    s.stop(false);
    s.set_clock("2026-11-03T09:00:00Z");
    s.restart();
    let (admin, tech) = (s.admin(), tech_token(&s));
    let breaches = expect_notifications(&s, &tech, "sla.breach", 1);
    assert_eq!(breaches[0]["ticketNumber"], n);
    expect_notifications(&s, &admin, "sla.breach", 1);
    // The warning's moment passed too, but the breach supersedes it.
    assert_eq!(notifications(&s, &tech, "sla.warning"), Vec::<Value>::new());
    let fr = clock(&s, &admin, n, "FIRST_RESPONSE");
    assert_eq!(fr["state"], "BREACHED");
    assert_eq!(fr["overdueSeconds"], 3600);

    // Another restart later: nothing fires again.
    s.stop(true);
    s.set_clock("2026-11-04T09:00:00Z");
    s.restart();
    let (admin, tech) = (s.admin(), tech_token(&s));
    expect_notifications(&s, &tech, "sla.breach", 1);
    // A late reply does not turn the breach into a success.
    reply(&s, &tech, n, "Looking into it", None);
    assert_eq!(clock(&s, &admin, n, "FIRST_RESPONSE")["state"], "BREACHED");
});

both!(warning_at_75_percent_then_breach_each_exactly_once, |backend: Backend| {
    let s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let w = World::new(&s);
    let (tech_id, _) = w.staff("Tess Tech", "tess@msp.example", "TECHNICIAN");
    let acme = w.company("Acme", &["acme.example"]);
    let p = s.mutate(
        &w.admin,
        "createTicket",
        "mutation($i:CreateTicketInput!){ createTicket(input:$i){ ticket { number } errors { field message } } }",
        json!({ "i": { "subject": "Disk full", "body": "C: at 99 %", "companyId": acme, "assigneeId": tech_id } }),
    );
    let n = p["ticket"]["number"].as_i64().unwrap();
    // 75 % of the default 24 hours: 18 hours.
    s.set_clock("2026-11-03T01:59:00Z");
    let (admin, tech) = (s.admin(), tech_token(&s));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(notifications(&s, &tech, "sla.warning"), Vec::<Value>::new(), "not yet at 75 %");
    s.set_clock("2026-11-03T02:00:00Z");
    let warned = expect_notifications(&s, &tech, "sla.warning", 1);
    assert_eq!(warned[0]["ticketNumber"], n);
    assert_eq!(notifications(&s, &tech, "sla.breach"), Vec::<Value>::new());
    s.set_clock("2026-11-03T06:00:00Z");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(notifications(&s, &tech, "sla.warning").len(), 1);

    s.set_clock("2026-11-03T08:00:00Z");
    expect_notifications(&s, &tech, "sla.breach", 1);
    expect_notifications(&s, &admin, "sla.breach", 1);
    s.set_clock("2026-11-04T08:00:00Z");
    let (admin, tech) = (s.admin(), tech_token(&s));
    expect_notifications(&s, &tech, "sla.breach", 1);
    assert_eq!(notifications(&s, &tech, "sla.warning").len(), 1);
    assert_eq!(clock(&s, &admin, n, "FIRST_RESPONSE")["state"], "BREACHED");

    // The breach report counts it, for the company and for the technician.
    let d = s.gql(
        Some(&admin),
        "{ slaBreachReport(from:\"2026-11-01T00:00:00Z\", to:\"2026-12-01T00:00:00Z\"){ \
           byCompany { id met breached } byTechnician { id met breached } total { met breached } } }",
        json!({}),
    );
    let r = &d["slaBreachReport"];
    assert_eq!(r["total"]["breached"], 1);
    assert_eq!(r["byCompany"], json!([{ "id": acme, "met": 0, "breached": 1 }]));
    assert_eq!(r["byTechnician"], json!([{ "id": tech_id, "met": 0, "breached": 1 }]));
});

both!(breach_report_averages_first_responses, |backend: Backend| {
    let s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    let (_, alice) = w.contact(&acme, "Alice", "alice@acme.example");
    // Ten tickets answered after 1..=10 hours.
    let mut numbers = Vec::new();
    for i in 0..10 {
        numbers.push(w.ticket(&alice, &format!("Case {i}"), "Help"));
    }
    for (i, n) in numbers.iter().enumerate() {
        s.set_clock(&format!("2026-11-02T{:02}:00:00Z", 9 + i));
        reply(&s, &w.admin, *n, "On it", None);
    }
    let d = s.gql(
        Some(&w.admin),
        "{ slaBreachReport(from:\"2026-11-02T00:00:00Z\", to:\"2026-11-03T00:00:00Z\"){ \
           byCompany { id met breached firstResponses avgFirstResponseSeconds p90FirstResponseSeconds } } }",
        json!({}),
    );
    let row = &d["slaBreachReport"]["byCompany"][0];
    assert_eq!(row["id"], acme.as_str());
    assert_eq!(row["met"], 10);
    assert_eq!(row["breached"], 0);
    assert_eq!(row["avgFirstResponseSeconds"], 5 * 3600 + 1800, "mean of 1..=10 hours");
    assert_eq!(row["p90FirstResponseSeconds"], 9 * 3600, "nearest rank");
    // Technicians may not read the report.
    let (_, tech) = w.staff("Tess", "tess@msp.example", "TECHNICIAN");
    let (_, v) = s.gql_raw(
        Some(&tech),
        "{ slaBreachReport(from:\"2026-11-02T00:00:00Z\", to:\"2026-11-03T00:00:00Z\"){ total { met } } }",
        json!({}),
    );
    assert!(v["errors"][0]["message"].as_str().unwrap_or_default().contains("not allowed"), "{v}");
});

both!(admin_manages_policies_and_calendars, |backend: Backend| {
    let s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let w = World::new(&s);
    // The default policy is there out of the box.
    let d = s.gql(
        Some(&w.admin),
        "{ slaPolicies { name isDefault calendarId warnPercent targets { priority firstResponseMinutes nextUpdateMinutes resolutionMinutes } } }",
        json!({}),
    );
    let p = &d["slaPolicies"][0];
    assert_eq!(p["isDefault"], true);
    assert_eq!(p["calendarId"], Value::Null);
    assert_eq!(p["warnPercent"], 75);
    for t in p["targets"].as_array().unwrap() {
        assert_eq!(t["firstResponseMinutes"], 1440);
        assert_eq!(t["nextUpdateMinutes"], 1440);
        assert_eq!(t["resolutionMinutes"], Value::Null);
    }
    // Bad input is refused with field errors.
    let d = s.gql(
        Some(&w.admin),
        "mutation{ createSlaCalendar(input:{name:\"Mars\", timezone:\"Mars/Olympus\", hours:[{weekday:0,start:\"09:00\",end:\"17:00\"}]}){ calendar { id } errors { field message } } }",
        json!({}),
    );
    assert_eq!(d["createSlaCalendar"]["errors"][0]["field"], "timezone");
    let d = s.gql(
        Some(&w.admin),
        "mutation{ createSlaCalendar(input:{name:\"Late\", timezone:\"UTC\", hours:[{weekday:0,start:\"17:00\",end:\"09:00\"}]}){ calendar { id } errors { field message } } }",
        json!({}),
    );
    assert_eq!(d["createSlaCalendar"]["errors"][0]["field"], "hours");
    let cal = create_calendar(&s, &w.admin, "Adelaide", "Australia/Adelaide");
    let policy = create_policy(&s, &w.admin, json!({ "name": "Gold", "calendarId": cal, "targets": [] }));
    // A calendar in use cannot be deleted; a technician cannot manage either.
    let d = s.gql(
        Some(&w.admin),
        "mutation($i:ID!){ deleteSlaCalendar(id:$i){ ok errors { message } } }",
        json!({ "i": cal }),
    );
    assert_eq!(d["deleteSlaCalendar"]["ok"], false);
    let (_, tech) = w.staff("Tess", "tess@msp.example", "TECHNICIAN");
    let d = s.gql(
        Some(&tech),
        "mutation($i:ID!){ deleteSlaPolicy(id:$i){ ok errors { message } } }",
        json!({ "i": policy }),
    );
    assert_eq!(d["deleteSlaPolicy"]["ok"], false);
    let d = s.gql(
        Some(&w.admin),
        "mutation($i:ID!){ deleteSlaPolicy(id:$i){ ok errors { message } } }",
        json!({ "i": policy }),
    );
    assert_eq!(d["deleteSlaPolicy"]["ok"], true);
    let d = s.gql(
        Some(&w.admin),
        "mutation($i:ID!){ deleteSlaCalendar(id:$i){ ok errors { message } } }",
        json!({ "i": cal }),
    );
    assert_eq!(d["deleteSlaCalendar"]["ok"], true);
});

both!(web_badges_at_risk_section_and_admin_pages, |backend: Backend| {
    use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD};
    use crate::web::Web;
    let s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    let (_, alice) = w.contact(&acme, "Alice", "alice@acme.example");
    let n = w.ticket(&alice, "Laptop will not boot", "Black screen");
    // 19 of the default 24 hours gone: past the 75 % warning, 5 hours left.
    s.set_clock("2026-11-03T03:00:00Z");
    let mut web = Web::new(&s);
    assert_eq!(web.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    let admin = s.admin();
    let dash = web.get("/dashboard").text();
    let section = dash.split("id=\"sla-at-risk\"").nth(1).unwrap().split("</section>").next().unwrap().to_string();
    assert!(section.contains(&format!("#{n} Laptop will not boot")), "{section}");
    assert!(section.contains("sla-warn") && section.contains("5h 00m left"), "{section}");
    let list = web.get("/tickets").text();
    assert!(list.contains("5h 00m left"), "badge on the ticket list");
    let page = web.get(&format!("/tickets/{n}")).text();
    assert!(page.contains("First response (1 d)") && page.contains("5h 00m left"), "ticket page SLA panel");
    s.set_clock("2026-11-03T09:30:00Z");
    let list = web.get("/tickets").text();
    assert!(list.contains("sla-breached") && list.contains("overdue 1h 30m"), "overdue badge");

    // Admin pages: a calendar and a policy through plain forms.
    let r = web.get("/admin/sla");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Default: 24-hour promise"));
    web.get("/admin/sla/calendars/new");
    let r = web.post(
        "/admin/sla/calendars/new",
        &[("name", "Office"), ("timezone", "Europe/London"), ("hours", "Funday 9-5"), ("holidays", "")],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("Funday 9-5"), "the input is kept and named in the error");
    let r = web.post_raw(
        "/admin/sla/calendars/new",
        &[("name", "Office"), ("timezone", "Europe/London"), ("hours", "Mon 09:00-17:00"), ("csrf_token", "forged")],
    );
    assert_eq!(r.status, 403, "CSRF is checked");
    let r = web.post(
        "/admin/sla/calendars/new",
        &[
            ("name", "Office"),
            ("timezone", "Europe/London"),
            ("hours", "Mon 09:00-12:00\nMon 13:00-17:00\nTue 09:00-17:00"),
            ("holidays", "2026-12-25 yearly Christmas"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let d = s.gql(
        Some(&admin),
        "{ slaCalendars { id name hours { weekday start end } holidays { date yearly name } } }",
        json!({}),
    );
    let cal = &d["slaCalendars"][0];
    assert_eq!(cal["hours"].as_array().unwrap().len(), 3);
    assert_eq!(cal["holidays"][0], json!({ "date": "2026-12-25", "yearly": true, "name": "Christmas" }));
    let cal_id = cal["id"].as_str().unwrap().to_string();
    web.get("/admin/sla/policies/new");
    let r = web.post(
        "/admin/sla/policies/new",
        &[("name", "Gold"), ("calendar_id", &cal_id), ("normal_first_response", "240"), ("warn_percent", "80")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let d = s.gql(
        Some(&admin),
        "{ slaPolicies { name calendarId warnPercent targets { priority firstResponseMinutes } } }",
        json!({}),
    );
    let gold = d["slaPolicies"].as_array().unwrap().iter().find(|p| p["name"] == "Gold").unwrap().clone();
    assert_eq!(gold["calendarId"], cal_id.as_str());
    assert_eq!(gold["warnPercent"], 80);
    assert_eq!(gold["targets"][1], json!({ "priority": "NORMAL", "firstResponseMinutes": 240 }));
    // Technicians are refused the admin pages.
    s.mutate(
        &admin,
        "createUser",
        "mutation($i: UserFields!){ createUser(input:$i){ user { id } errors { field message } } }",
        json!({ "i": { "name": "Tess", "email": "tess@msp.example", "role": "TECHNICIAN", "password": "staff password 1" } }),
    );
    let mut tess = Web::new(&s);
    tess.sign_in("tess@msp.example", "staff password 1");
    assert_eq!(tess.get("/admin/sla").status, 403);
});

both!(contract_change_remeasures_and_breach_escalates, |backend: Backend| {
    let s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let w = World::new(&s);
    let (tess_id, _) = w.staff("Tess Tech", "tess@msp.example", "TECHNICIAN");
    let acme = w.company("Acme", &["acme.example"]);
    let (_, alice) = w.contact(&acme, "Alice", "alice@acme.example");
    let n = w.ticket(&alice, "Outage", "Everything is down");
    assert_eq!(clock(&s, &w.admin, n, "FIRST_RESPONSE")["targetMinutes"], 1440, "the default policy");

    // Ten minutes in, Acme signs a one-hour contract that escalates on breach.
    s.set_clock("2026-11-02T08:10:00Z");
    let targets: Vec<Value> = ["LOW", "NORMAL", "HIGH", "URGENT"]
        .iter()
        .map(|p| json!({ "priority": p, "firstResponseMinutes": 60 }))
        .collect();
    let policy = create_policy(
        &s,
        &w.admin,
        json!({ "name": "Platinum", "targets": targets, "breachRaisePriority": true, "breachReassignToId": tess_id }),
    );
    attach(&s, &w.admin, &acme, &policy);
    let deadline = Instant::now() + Duration::from_secs(20);
    while clock(&s, &w.admin, n, "FIRST_RESPONSE")["targetMinutes"] != 60 {
        assert!(Instant::now() < deadline, "the open ticket was not re-measured");
        std::thread::sleep(Duration::from_millis(100));
    }
    let fr = clock(&s, &w.admin, n, "FIRST_RESPONSE");
    assert_eq!(fr["dueAt"], "2026-11-02T09:00:00Z", "measured from the opening, nothing lost");
    assert_eq!(fr["remainingSeconds"], 50 * 60);

    s.set_clock("2026-11-02T09:01:00Z");
    expect_notifications(&s, &w.admin, "sla.breach", 1);
    let q = "query($n:Int!){ ticket(number:$n){ priority assignee { id } } }";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = s.gql(Some(&w.admin), q, json!({ "n": n }));
        if d["ticket"]["priority"] == "HIGH" && d["ticket"]["assignee"]["id"] == tess_id.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "no escalation: {d}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let tess = tech_token(&s);
    let told: Vec<Value> = notifications(&s, &tess, "ticket.update");
    assert_eq!(told.len(), 1, "Tess hears the ticket is hers: {told:?}");
    // Still exactly one breach after the escalation re-measured the ticket.
    expect_notifications(&s, &w.admin, "sla.breach", 1);
});

/// Every notification of `kind` the token's user has, as ticket numbers (all pages).
fn notified_tickets(s: &Server, token: &str, kind: &str) -> Vec<i64> {
    let q = "query($a:String){ notifications(first:100, after:$a){ edges { node { kind ticketNumber } } \
             pageInfo { hasNextPage endCursor } } }";
    let (mut out, mut after) = (Vec::new(), Value::Null);
    loop {
        let d = s.gql(Some(token), q, json!({ "a": after }));
        let page = &d["notifications"];
        for e in page["edges"].as_array().unwrap() {
            if e["node"]["kind"] == kind {
                out.push(e["node"]["ticketNumber"].as_i64().unwrap());
            }
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// SLA mail in the server's spool: (To, Subject, Auto-Submitted) of each message.
fn sla_mail(s: &Server) -> Vec<(String, String, String)> {
    let dir = s.dir.join("mail-spool");
    let files: Vec<std::path::PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
    let mut out = Vec::new();
    for p in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "eml")) {
        let raw = std::fs::read_to_string(&p).unwrap_or_default();
        let head = raw.split("\r\n\r\n").next().unwrap_or("").replace("\r\n ", " ").replace("\r\n\t", " ");
        let h = |name: &str| {
            head.lines()
                .find_map(|l| {
                    l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_default()
        };
        if h("Subject").contains("SLA ") {
            out.push((h("To"), h("Subject"), h("Auto-Submitted")));
        }
    }
    out.sort();
    out
}

/// Polls the spool until `want` SLA messages to `to` containing `needle` arrived, then checks
/// a little longer that no more come.
fn expect_mail(s: &Server, to: &str, needle: &str, want: usize) -> Vec<(String, String, String)> {
    let mine = || -> Vec<(String, String, String)> {
        sla_mail(s).into_iter().filter(|(t, subj, _)| t.contains(to) && subj.contains(needle)).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while mine().len() < want {
        assert!(Instant::now() < deadline, "waited for {want} {needle:?} mails to {to}: {:?}", sla_mail(s));
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(900));
    let got = mine();
    assert_eq!(got.len(), want, "{needle:?} mails to {to}: {got:?}");
    got
}

both!(three_hundred_breaches_in_the_same_second_fire_once_each, |backend: Backend| {
    let mut s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let (tech_id, admin) = {
        let w = World::new(&s);
        (w.staff("Tess Tech", "tess@msp.example", "TECHNICIAN").0, w.admin.clone())
    };
    let acme = World::new(&s).company("Acme", &["acme.example"]);
    let mut numbers = Vec::new();
    for i in 0..300 {
        let p = s.mutate(
            &admin,
            "createTicket",
            "mutation($i:CreateTicketInput!){ createTicket(input:$i){ ticket { number } errors { field message } } }",
            json!({ "i": { "subject": format!("Case {i}"), "body": "Help", "companyId": acme, "assigneeId": tech_id } }),
        );
        numbers.push(p["ticket"]["number"].as_i64().unwrap());
    }
    // All 300 first responses fall due at 2026-11-03T08:00: the clock jumps past them at once.
    s.set_clock("2026-11-03T08:30:00Z");
    let (admin, tech) = (s.admin(), tech_token(&s));
    let deadline = Instant::now() + Duration::from_secs(60);
    while notified_tickets(&s, &tech, "sla.breach").len() < numbers.len() {
        assert!(Instant::now() < deadline, "breaches so far: {}", notified_tickets(&s, &tech, "sla.breach").len());
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(900));
    let check = |s: &Server, tech: &str, admin: &str| {
        let mut got = notified_tickets(s, tech, "sla.breach");
        got.sort_unstable();
        assert_eq!(got, numbers, "each ticket's breach reaches its assignee exactly once");
        let mut got = notified_tickets(s, admin, "sla.breach");
        got.sort_unstable();
        assert_eq!(got, numbers, "and the admins");
        assert_eq!(notified_tickets(s, tech, "sla.warning"), Vec::<i64>::new(), "the breach supersedes the warning");
        // One "breached" metric event per clock.
        let d = s.gql(
            Some(admin),
            "{ slaBreachReport(from:\"2026-11-01T00:00:00Z\", to:\"2026-12-01T00:00:00Z\"){ \
               byTechnician { id met breached } total { met breached } } }",
            json!({}),
        );
        assert_eq!(d["slaBreachReport"]["total"]["breached"], 300);
        assert_eq!(d["slaBreachReport"]["byTechnician"], json!([{ "id": tech_id, "met": 0, "breached": 300 }]));
    };
    check(&s, &tech, &admin);
    for n in [numbers[0], numbers[150], numbers[299]] {
        let fr = clock(&s, &admin, n, "FIRST_RESPONSE");
        assert_eq!(fr["state"], "BREACHED");
        assert_eq!(fr["breachedAt"], "2026-11-03T08:30:00Z");
    }
    // One mail per breach to the assignee, tagged with its ticket.
    let mails = expect_mail(&s, "tess@msp.example", "SLA breached", 300);
    let mut tagged: Vec<i64> = mails
        .iter()
        .map(|(_, subj, _)| subj.split("[#").nth(1).and_then(|r| r.split(']').next()).unwrap().parse().unwrap())
        .collect();
    tagged.sort_unstable();
    assert_eq!(tagged, numbers);

    // A restart a day later fires nothing again.
    s.stop(true);
    s.set_clock("2026-11-04T08:30:00Z");
    s.restart();
    let (admin, tech) = (s.admin(), tech_token(&s));
    std::thread::sleep(Duration::from_millis(1500));
    check(&s, &tech, &admin);
    expect_mail(&s, "tess@msp.example", "SLA breached", 300);
});

both!(warning_and_breach_mail_reach_the_assignee_once, |backend: Backend| {
    let s = server(backend).clock("2026-11-02T08:00:00Z").start();
    let w = World::new(&s);
    let (tech_id, _) = w.staff("Tess Tech", "tess@msp.example", "TECHNICIAN");
    let acme = w.company("Acme", &["acme.example"]);
    let p = s.mutate(
        &w.admin,
        "createTicket",
        "mutation($i:CreateTicketInput!){ createTicket(input:$i){ ticket { number } errors { field message } } }",
        json!({ "i": { "subject": "Disk full", "body": "C: at 99 %", "companyId": acme, "assigneeId": tech_id } }),
    );
    let n = p["ticket"]["number"].as_i64().unwrap();
    assert_eq!(sla_mail(&s), Vec::<(String, String, String)>::new());
    // 75 % of the default 24 hours.
    s.set_clock("2026-11-03T02:00:00Z");
    let warned = expect_mail(&s, "tess@msp.example", "SLA warning", 1);
    let (_, subject, auto) = &warned[0];
    assert!(subject.starts_with(&format!("[#{n}] ")), "{subject}");
    assert!(subject.contains("Disk full"), "{subject}");
    assert_eq!(auto, "auto-replied");
    s.set_clock("2026-11-03T06:00:00Z");
    std::thread::sleep(Duration::from_millis(600));
    expect_mail(&s, "tess@msp.example", "SLA warning", 1);
    assert_eq!(expect_mail(&s, "tess@msp.example", "SLA breached", 0), vec![]);

    s.set_clock("2026-11-03T08:00:00Z");
    let breached = expect_mail(&s, "tess@msp.example", "SLA breached", 1);
    assert!(breached[0].1.starts_with(&format!("[#{n}] ")), "{breached:?}");
    // The admins hear about breaches too (not warnings).
    expect_mail(&s, "admin@msp.test", "SLA breached", 1);
    expect_mail(&s, "admin@msp.test", "SLA warning", 0);
    s.set_clock("2026-11-04T08:00:00Z");
    std::thread::sleep(Duration::from_millis(600));
    expect_mail(&s, "tess@msp.example", "SLA breached", 1);
    expect_mail(&s, "tess@msp.example", "SLA warning", 1);
});
