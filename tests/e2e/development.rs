//! Development threads: move a ticket into a bug, join by shortcut, vote, merge duplicates,
//! ship a release and tell exactly the right people once.

use crate::both;
use crate::support::{Backend, Server, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const THREAD: &str =
    "id title status voteCount subscriberCount shortcut joinUrl visibility viewerHasVoted viewerIsSubscribed";

fn notifications(s: &Server, token: &str, kind: &str) -> Vec<String> {
    let d = s.gql(Some(token), "{ notifications(first: 100) { edges { node { kind title } } } }", json!({}));
    d["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == kind)
        .map(|e| e["node"]["title"].as_str().unwrap().to_string())
        .collect()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Setup {
    product: String,
    release: String,
}

fn product_and_release(s: &Server, staff: &str) -> Setup {
    let p = s.mutate(staff, "createProduct", "mutation{ createProduct(name:\"Wrench\", description:\"our PSA\"){ product { id } errors { field message } } }", json!({}));
    let product = p["product"]["id"].as_str().unwrap().to_string();
    let r = s.mutate(staff, "createRelease", "mutation($p:ID){ createRelease(input:{productId:$p, version:\"2.0 beta\", build:\"1.9.21\", status: BETA}){ release { id status } errors { field message } } }", json!({ "p": product }));
    Setup { product, release: r["release"]["id"].as_str().unwrap().to_string() }
}

both!(a_ticket_moves_into_a_bug_customers_join_vote_and_hear_when_it_ships, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let (_, tech) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (_, gina) = w.contact(&globex, "Gina Globex", "gina@globex.example");
    let (_, quiet) = w.contact(&globex, "Quinn Quiet", "quinn@globex.example");
    let setup = product_and_release(&s, &tech);

    // Pat's support request is really a bug: the technician moves it into a new thread.
    let n = w.ticket(
        &pat,
        "Export crashes with umlauts",
        "Exporting a ticket with ü in the subject crashes the PDF export.",
    );
    let moved = s.mutate(
        &tech,
        "moveTicketToDevelopment",
        &format!("mutation($n:Int!,$p:ID){{ moveTicketToDevelopment(input:{{number:$n, resolve:true, newThread:{{kind: BUG, productId:$p, visibility: PUBLIC, labels:[\"export\"]}}}}){{ thread {{ {THREAD} description }} ticket {{ status thread {{ body }} developmentThreads {{ id }} }} errors {{ field message }} }} }}"),
        json!({ "n": n, "p": setup.product }),
    );
    let thread = moved["thread"].clone();
    let tid = thread["id"].as_str().unwrap().to_string();
    assert_eq!(thread["title"], "Export crashes with umlauts", "the title is carried over");
    assert!(thread["description"].as_str().unwrap().contains("PDF export"), "the description is carried over");
    assert_eq!(moved["ticket"]["status"], "RESOLVED");
    let last = moved["ticket"]["thread"].as_array().unwrap().last().unwrap()["body"].as_str().unwrap().to_string();
    assert!(last.contains(thread["joinUrl"].as_str().unwrap()), "the public reply points to the thread: {last}");
    let shortcut = thread["shortcut"].as_str().unwrap().to_string();
    assert_eq!(shortcut.len(), 10);

    // The requester is subscribed and sees the link from the ticket.
    let mine = s.gql(
        Some(&pat),
        &format!("query($n:Int!){{ ticket(number:$n){{ developmentThreads {{ {THREAD} }} }} }}"),
        json!({ "n": n }),
    );
    let t = &mine["ticket"]["developmentThreads"][0];
    assert_eq!(t["viewerIsSubscribed"], true);
    assert_eq!(t["subscriberCount"], 2, "the requester and the technician");

    // Gina (another company) joins by the shortcut in one step and votes; a second vote does not count.
    let joined = s.mutate(
        &gina,
        "joinThread",
        &format!(
            "mutation($s:String!){{ joinThread(shortcut:$s){{ thread {{ {THREAD} }} errors {{ field message }} }} }}"
        ),
        json!({ "s": shortcut.to_uppercase() }),
    );
    assert_eq!(joined["thread"]["viewerIsSubscribed"], true);
    for _ in 0..2 {
        s.mutate(
            &gina,
            "voteThread",
            &format!("mutation($i:ID!){{ voteThread(id:$i){{ thread {{ {THREAD} }} errors {{ field message }} }} }}"),
            json!({ "i": tid }),
        );
    }
    s.mutate(
        &pat,
        "voteThread",
        "mutation($i:ID!){ voteThread(id:$i){ thread { id } errors { field message } } }",
        json!({ "i": tid }),
    );
    let seen = s.gql(
        Some(&gina),
        &format!("query($i:ID){{ devThread(id:$i){{ {THREAD} comments {{ authorName body }} }} }}"),
        json!({ "i": tid }),
    );
    assert_eq!(seen["devThread"]["voteCount"], 2, "one vote per person");
    assert_eq!(seen["devThread"]["viewerHasVoted"], true);
    // Unvote and vote again: still one.
    s.mutate(
        &gina,
        "unvoteThread",
        "mutation($i:ID!){ unvoteThread(id:$i){ thread { voteCount } errors { field message } } }",
        json!({ "i": tid }),
    );
    let again = s.mutate(
        &gina,
        "voteThread",
        "mutation($i:ID!){ voteThread(id:$i){ thread { voteCount } errors { field message } } }",
        json!({ "i": tid }),
    );
    assert_eq!(again["thread"]["voteCount"], 2);

    // Customers see counts, never who: voter names are staff-only, other customers' comments are anonymous.
    s.mutate(&pat, "addDevComment", "mutation($i:ID!){ addDevComment(id:$i, body:\"Happens with ö too\"){ comment { id } errors { field message } } }", json!({ "i": tid }));
    s.mutate(&tech, "addDevComment", "mutation($i:ID!){ addDevComment(id:$i, body:\"Root cause: font subsetting\", internal: true){ comment { id } errors { field message } } }", json!({ "i": tid }));
    let (_, v) = s.gql_raw(Some(&gina), "query($i:ID){ devThread(id:$i){ voters } }", json!({ "i": tid }));
    assert!(v["errors"].is_array(), "voters are staff-only: {v}");
    let gina_view = s.gql(
        Some(&gina),
        "query($i:ID){ devThread(id:$i){ comments { authorName body internal } } }",
        json!({ "i": tid }),
    );
    let text = gina_view.to_string();
    assert!(!text.contains("Pat") && !text.contains("Acme") && !text.contains("font subsetting"), "{text}");
    assert!(text.contains("A customer"), "{text}");
    let staff_view =
        s.gql(Some(&tech), "query($i:ID){ devThread(id:$i){ voters subscribers ticketNumbers } }", json!({ "i": tid }));
    assert!(
        staff_view["devThread"]["voters"].to_string().contains("Gina Globex (Globex)"),
        "staff see names: {staff_view}"
    );
    assert_eq!(staff_view["devThread"]["ticketNumbers"], json!([n]));

    // A second ticket, still open, is attached to the same thread.
    let n2 = w.ticket(&gina, "PDF export broken", "Same crash here.");
    s.mutate(&tech, "moveTicketToDevelopment", "mutation($n:Int!,$t:ID){ moveTicketToDevelopment(input:{number:$n, threadId:$t}){ thread { id } errors { field message } } }", json!({ "n": n2, "t": tid }));

    // Invalid transitions are refused with a clear message.
    let bad = s.gql(Some(&tech), "mutation($i:ID!){ updateDevThread(id:$i, input:{status: RELEASED}){ thread { id } errors { field message } } }", json!({ "i": tid }));
    assert!(bad["updateDevThread"]["errors"][0]["message"].as_str().unwrap().contains("marked released"), "{bad}");
    let bad = s.gql(
        Some(&tech),
        "mutation($i:ID!){ updateDevThread(id:$i, input:{status: FIXED}){ thread { id } errors { field message } } }",
        json!({ "i": tid }),
    );
    assert_eq!(bad["updateDevThread"]["errors"][0]["field"], "fixedInReleaseId");
    let fixed = s.mutate(&tech, "updateDevThread", "mutation($i:ID!,$r:ID){ updateDevThread(id:$i, input:{status: FIXED, fixedInReleaseId:$r}){ thread { status fixedIn { build } } errors { field message } } }", json!({ "i": tid, "r": setup.release }));
    assert_eq!(fixed["thread"], json!({ "status": "FIXED", "fixedIn": { "build": "1.9.21" } }));
    // Subscribers heard about the status change (not the technician who made it).
    assert_eq!(notifications(&s, &gina, "dev.status").len(), 1);
    assert!(notifications(&s, &tech, "dev.status").is_empty());

    // Ship it: subscribers and linked requesters hear once each, open linked tickets get a reply naming the build.
    s.mutate(
        &tech,
        "markReleaseReleased",
        "mutation($r:ID!){ markReleaseReleased(id:$r){ release { status releaseDate } errors { field message } } }",
        json!({ "r": setup.release }),
    );
    wait_for("the release notices", || notifications(&s, &pat, "dev.released").len() == 1);
    wait_for("the reply on the open ticket", || {
        let t =
            s.gql(Some(&gina), "query($n:Int!){ ticket(number:$n){ thread { body authorKind } } }", json!({ "n": n2 }));
        t["ticket"]["thread"].as_array().unwrap().iter().any(|e| e["body"].as_str().unwrap().contains("build 1.9.21"))
    });
    let status = s.gql(Some(&gina), "query($i:ID){ devThread(id:$i){ status } }", json!({ "i": tid }));
    assert_eq!(status["devThread"]["status"], "RELEASED");
    for (who, token) in [("pat", &pat), ("gina", &gina), ("tech", &tech)] {
        assert_eq!(notifications(&s, token, "dev.released").len(), 1, "{who} hears exactly once");
    }
    assert!(notifications(&s, &quiet, "dev.released").is_empty(), "people not following hear nothing");
    // The resolved ticket got no reply; the release mark cannot be repeated to spam people.
    let t1 = s.gql(Some(&pat), "query($n:Int!){ ticket(number:$n){ status thread { body } } }", json!({ "n": n }));
    assert!(!t1.to_string().contains("build 1.9.21"), "resolved tickets are not replied to: {t1}");
    let again = s.gql(
        Some(&tech),
        "mutation($r:ID!){ updateRelease(id:$r, input:{status: BETA}){ release { status } errors { field message } } }",
        json!({ "r": setup.release }),
    );
    assert_eq!(again["updateRelease"]["errors"][0]["field"], "status");
    // A thread fixed later in the already-shipped build is released at once; earlier listeners are not told twice.
    let other = s.mutate(&tech, "createDevThread", "mutation($p:ID){ createDevThread(input:{kind: BUG, title:\"Second bug\", productId:$p}){ thread { id } errors { field message } } }", json!({ "p": setup.product }));
    let oid = other["thread"]["id"].as_str().unwrap().to_string();
    s.mutate(
        &gina,
        "subscribeThread",
        "mutation($i:ID!){ subscribeThread(id:$i){ thread { id } errors { field message } } }",
        json!({ "i": oid }),
    );
    s.mutate(&tech, "updateDevThread", "mutation($i:ID!,$r:ID){ updateDevThread(id:$i, input:{status: FIXED, fixedInReleaseId:$r}){ thread { status } errors { field message } } }", json!({ "i": oid, "r": setup.release }));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(notifications(&s, &gina, "dev.released").len(), 1, "told once per release, whatever the replays");
});

both!(duplicates_move_votes_without_double_counting, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let setup = product_and_release(&s, &w.admin);
    let acme = w.company("Acme", &[]);
    let (_, a) = w.contact(&acme, "A", "a@acme.example");
    let (_, b2) = w.contact(&acme, "B", "b@acme.example");
    let (_, c) = w.contact(&acme, "C", "c@acme.example");
    let mk = |title: &str| {
        let p = s.mutate(&w.admin, "createDevThread", "mutation($p:ID,$t:String){ createDevThread(input:{kind: FEATURE, title:$t, productId:$p}){ thread { id } errors { field message } } }", json!({ "p": setup.product, "t": title }));
        p["thread"]["id"].as_str().unwrap().to_string()
    };
    let keep = mk("Dark mode");
    let dup = mk("Night theme please");
    let vote = |token: &str, id: &str| {
        s.mutate(
            token,
            "voteThread",
            "mutation($i:ID!){ voteThread(id:$i){ thread { id } errors { field message } } }",
            json!({ "i": id }),
        );
    };
    vote(&a, &keep);
    vote(&b2, &keep);
    vote(&b2, &dup);
    vote(&c, &dup);
    let merged = s.mutate(&w.admin, "markThreadDuplicate", "mutation($d:ID!,$k:ID!){ markThreadDuplicate(id:$d, survivorId:$k){ thread { voteCount subscriberCount } errors { field message } } }", json!({ "d": dup, "k": keep }));
    assert_eq!(merged["thread"]["voteCount"], 3, "A, B and C: B voted on both and counts once");
    assert_eq!(merged["thread"]["subscriberCount"], 4, "the three voters and the admin who created both");
    let d = s.gql(Some(&c), "query($i:ID){ devThread(id:$i){ status voteCount duplicateOfId } }", json!({ "i": dup }));
    assert_eq!(d["devThread"], json!({ "status": "DUPLICATE", "voteCount": 0, "duplicateOfId": keep }));
    let refused = s.gql(
        Some(&c),
        "mutation($i:ID!){ voteThread(id:$i){ thread { id } errors { field message } } }",
        json!({ "i": dup }),
    );
    assert!(refused["voteThread"]["errors"][0]["message"].as_str().unwrap().contains("duplicate"));
    // Sorted by votes, the survivor comes first.
    let list = s.gql(Some(&c), "{ devThreads(sort: VOTES) { totalCount edges { node { id voteCount } } } }", json!({}));
    assert_eq!(list["devThreads"]["edges"][0]["node"]["id"], keep.as_str());
});

both!(customers_never_see_internal_threads, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let setup = product_and_release(&s, &w.admin);
    let acme = w.company("Acme", &[]);
    let (_, pat) = w.contact(&acme, "Pat", "pat@acme.example");
    let p = s.mutate(&w.admin, "createDevThread", "mutation($p:ID){ createDevThread(input:{kind: BUG, title:\"Security hardening\", productId:$p, visibility: INTERNAL}){ thread { id shortcut } errors { field message } } }", json!({ "p": setup.product }));
    let id = p["thread"]["id"].as_str().unwrap().to_string();
    let shortcut = p["thread"]["shortcut"].as_str().unwrap().to_string();
    assert_eq!(
        s.gql(Some(&pat), "query($i:ID){ devThread(id:$i){ title } }", json!({ "i": id }))["devThread"],
        Value::Null
    );
    assert_eq!(
        s.gql(Some(&pat), "query($s:String){ devThread(shortcut:$s){ title } }", json!({ "s": shortcut }))["devThread"],
        Value::Null
    );
    assert_eq!(s.gql(Some(&pat), "{ devThreads { totalCount } }", json!({}))["devThreads"]["totalCount"], 0);
    let join = s.gql(
        Some(&pat),
        "mutation($s:String!){ joinThread(shortcut:$s){ thread { id } errors { field message } } }",
        json!({ "s": shortcut }),
    );
    assert!(join["joinThread"]["errors"][0]["message"].as_str().unwrap().contains("not found"));
    let vote = s.gql(
        Some(&pat),
        "mutation($i:ID!){ voteThread(id:$i){ thread { id } errors { field message } } }",
        json!({ "i": id }),
    );
    assert_eq!(vote["voteThread"]["thread"], Value::Null);
    // Staff see it.
    assert_eq!(s.gql(Some(&w.admin), "{ devThreads { totalCount } }", json!({}))["devThreads"]["totalCount"], 1);
    // Moving a ticket needs an explicit choice of visibility (the customer's words are carried over).
    let n = w.ticket(&pat, "Login page leaks stack trace", "Our server srv-db-01 shows a stack trace.");
    let d = s.gql(Some(&w.admin), "mutation($n:Int!,$p:ID){ moveTicketToDevelopment(input:{number:$n, newThread:{kind: BUG, productId:$p}}){ thread { id } errors { field message } } }", json!({ "n": n, "p": setup.product }));
    assert_eq!(d["moveTicketToDevelopment"]["errors"][0]["field"], "visibility", "{d}");
    // Attached to the internal thread, the ticket's requester still hears when the fix ships,
    // but never the internal title.
    s.mutate(&w.admin, "moveTicketToDevelopment", "mutation($n:Int!,$t:ID){ moveTicketToDevelopment(input:{number:$n, threadId:$t}){ thread { id } errors { field message } } }", json!({ "n": n, "t": id }));
    s.mutate(&w.admin, "updateDevThread", "mutation($i:ID!,$r:ID){ updateDevThread(id:$i, input:{status: FIXED, fixedInReleaseId:$r}){ thread { status } errors { field message } } }", json!({ "i": id, "r": setup.release }));
    s.mutate(
        &w.admin,
        "markReleaseReleased",
        "mutation($r:ID!){ markReleaseReleased(id:$r){ release { status } errors { field message } } }",
        json!({ "r": setup.release }),
    );
    wait_for("the customer's release notice", || !notifications(&s, &pat, "dev.released").is_empty());
    wait_for("the reply on the ticket", || {
        s.gql(Some(&pat), "query($n:Int!){ ticket(number:$n){ thread { body } } }", json!({ "n": n }))
            .to_string()
            .contains("build 1.9.21")
    });
    let everything = format!(
        "{:?} {}",
        notifications(&s, &pat, "dev.released"),
        s.gql(
            Some(&pat),
            "query($n:Int!){ ticket(number:$n){ thread { body } developmentThreads { id } } }",
            json!({ "n": n })
        )
    );
    assert!(!everything.contains("Security hardening"), "the internal title never reaches the customer: {everything}");
    assert!(everything.contains("\"developmentThreads\":[]"), "{everything}");
    assert_eq!(notifications(&s, &w.admin, "dev.released").len(), 1);
    // And customers cannot create threads or products.
    let (_, v) = s.gql_raw(Some(&pat), "mutation($p:ID){ createDevThread(input:{kind: BUG, title:\"x\", productId:$p}){ thread { id } errors { field message } } }", json!({ "p": setup.product }));
    assert_eq!(v["data"]["createDevThread"]["thread"], Value::Null);
});

/// The value of the first `<option value="…">NAME</option>` on a page.
fn option_value(html: &str, name: &str) -> String {
    let end = html.find(&format!("\">{name}</option>")).unwrap_or_else(|| panic!("no option {name:?}"));
    let start = html[..end].rfind("value=\"").unwrap() + "value=\"".len();
    html[start..end].split('"').next().unwrap().to_string()
}

fn thread_id(loc: &str) -> i64 {
    loc.trim_start_matches("/development/").split('?').next().unwrap().parse().unwrap_or_else(|_| panic!("{loc}"))
}

both!(the_whole_development_loop_works_in_the_browser, |b: Backend| {
    use crate::web::{location, Web};
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme Ltd", &["acme.example"]);
    let globex = w.company("Globex", &["globex.example"]);
    let (_, pat_token) = w.contact(&acme, "Pat Customer", "pat@acme.example");
    let (_, eve_token) = w.contact(&globex, "Eve Other", "eve@globex.example");
    w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let n = w.ticket(&pat_token, "CSV export crashes", "Exporting the invoice list to CSV crashes the app.");

    let mut terry = Web::new(&s);
    assert_eq!(terry.sign_in("terry@msp.test", "staff password 1").status, 303);
    // Products and releases.
    terry.get("/development/products");
    assert_eq!(terry.post("/development/products", &[("name", ""), ("description", "")]).status, 422);
    assert_eq!(terry.post("/development/products", &[("name", "Wrench"), ("description", "our PSA")]).status, 303);
    let page = terry.get("/development/products").text();
    let product = option_value(&page, "Wrench");
    let r = terry.post(
        "/development/releases",
        &[("productId", &product), ("version", "2.0 beta"), ("build", "1.9.21"), ("status", "beta"), ("notes", "")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let page = terry.get("/development/products").text();
    let action = page.split("action=\"/development/releases/").nth(1).expect("a release to mark released");
    let release = action.split('/').next().unwrap().to_string();

    // Move the ticket into a new bug: the visibility must be chosen, and the input is kept.
    let ticket_page = terry.get(&format!("/tickets/{n}")).text();
    assert!(ticket_page.contains("Move to Development"));
    let fields = [
        ("mode", "new"),
        ("kind", "bug"),
        ("productId", product.as_str()),
        ("title", "CSV export crashes on large lists"),
        ("description", ""),
    ];
    let r = terry.post(&format!("/tickets/{n}/move"), &fields);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("choose public or internal") && r.text().contains("CSV export crashes on large lists"));
    let mut with_vis = fields.to_vec();
    with_vis.push(("visibility", "public"));
    let r = terry.post(&format!("/tickets/{n}/move"), &with_vis);
    assert_eq!(r.status, 303, "{}", r.text());
    let bug = thread_id(&location(&r));
    let page = terry.get(&format!("/development/{bug}")).text();
    assert!(page.contains("CSV export crashes on large lists") && page.contains("Exporting the invoice list"));
    assert!(page.contains(&format!("/tickets/{n}")), "staff see the linked ticket");
    assert!(page.contains("Pat Customer (Acme Ltd)"), "staff see who follows");
    let code = page.split("/dev/j/").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(
        terry.get(&format!("/tickets/{n}")).text().contains(&format!("/development/{bug}")),
        "the ticket shows the link"
    );

    // The requester sees the link on their ticket and follows the thread already.
    let mut pat = Web::new(&s);
    pat.sign_in("pat@acme.example", "portal password 1");
    let t = pat.get(&format!("/tickets/{n}")).text();
    assert!(t.contains(&format!("/development/{bug}")) && t.contains("/dev/j/"), "link and the reply pointing to it");
    let p = pat.get(&format!("/development/{bug}")).text();
    assert!(p.contains("Stop following"), "the requester is subscribed");
    assert!(!p.contains("Terry Tech</li>") && !p.contains("Voters"), "no names of followers for customers");

    // A second customer follows the shortcut: sign in first, then joined in one step.
    let mut eve = Web::new(&s);
    let r = eve.get(&format!("/dev/j/{code}"));
    assert_eq!(r.status, 303);
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));
    eve.get(&location(&r));
    let r = eve.post(
        "/login",
        &[("email", "eve@globex.example"), ("password", "portal password 1"), ("next", &format!("/dev/j/{code}"))],
    );
    assert_eq!(location(&r), format!("/dev/j/{code}"));
    let r = eve.get(&format!("/dev/j/{code}"));
    assert_eq!(location(&r), format!("/development/{bug}?done=joined"));
    let p = eve.get(&format!("/development/{bug}")).text();
    assert!(p.contains("Stop following"));
    assert!(!p.contains("Acme") && !p.contains("Pat Customer"), "a public thread never names who reported it");
    // One vote per person: voting twice counts once; the vote can be withdrawn.
    assert_eq!(eve.post(&format!("/development/{bug}/vote"), &[]).status, 303);
    assert_eq!(eve.post(&format!("/development/{bug}/vote"), &[]).status, 303);
    let votes = s.gql(
        Some(&eve_token),
        "query($id:ID!){ devThread(id:$id){ voteCount viewerHasVoted } }",
        json!({ "id": bug.to_string() }),
    );
    assert_eq!(votes["devThread"], json!({ "voteCount": 1, "viewerHasVoted": true }), "{votes}");
    assert!(eve.get(&format!("/development/{bug}")).text().contains("Withdraw my vote"));
    assert_eq!(eve.post(&format!("/development/{bug}/comment"), &[("body", "Same here with 5,000 rows.")]).status, 303);
    // Customers cannot use staff forms.
    assert_eq!(eve.post(&format!("/development/{bug}/update"), &[("status", "declined")]).status, 403);
    assert_eq!(eve.get("/development/new").status, 403);
    assert_eq!(eve.get("/development/products").status, 403);

    // An invalid transition is refused with a clear message beside the form.
    let r = terry.post(&format!("/development/{bug}/update"), &[("status", "released"), ("was_status", "new")]);
    assert_eq!(r.status, 422, "only shipping the release makes a thread released");
    assert!(r.text().contains("field-error") || r.text().contains("error-summary"));
    for (from, to) in [("new", "triaged"), ("triaged", "planned"), ("planned", "in_progress")] {
        let r = terry.post(&format!("/development/{bug}/update"), &[("status", to), ("was_status", from)]);
        assert_eq!(r.status, 303, "{from} -> {to}: {}", r.text());
    }
    let r = terry.post(
        &format!("/development/{bug}/update"),
        &[
            ("status", "fixed"),
            ("was_status", "in_progress"),
            ("fixedInReleaseId", &release),
            ("was_fixedInReleaseId", ""),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    // A staff note stays with staff.
    terry.get(&format!("/development/{bug}"));
    assert_eq!(
        terry.post(&format!("/development/{bug}/comment"), &[("body", "ROOT CAUSE: buffer"), ("internal", "1")]).status,
        303
    );
    assert!(!eve.get(&format!("/development/{bug}")).text().contains("ROOT CAUSE"));

    // An internal thread is invisible to customers, in the list and by address.
    let r = terry.post(
        "/development/new",
        &[
            ("kind", "feature"),
            ("title", "Internal refactor of exports"),
            ("description", "x"),
            ("productId", &product),
            ("visibility", "internal"),
            ("labels", ""),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let internal = thread_id(&location(&r));
    assert_eq!(pat.get(&format!("/development/{internal}")).status, 404);
    let list = pat.get("/development").text();
    assert!(list.contains("CSV export crashes on large lists") && !list.contains("Internal refactor"));
    assert!(terry.get("/development?sort=activity").text().contains("Internal refactor"));

    // Shipping the release tells the followers and replies on the linked ticket.
    terry.get("/development/products");
    assert_eq!(terry.post(&format!("/development/releases/{release}/released"), &[]).status, 303);
    wait_for("the release notices", || {
        notifications(&s, &eve_token, "dev.released").len() == 1
            && notifications(&s, &pat_token, "dev.released").len() == 1
    });
    wait_for("the reply on the ticket", || pat.get(&format!("/tickets/{n}")).text().contains("1.9.21"));
    assert!(eve.get(&format!("/development/{bug}")).text().contains("Released"));
});

both!(customers_following_fixes_get_one_release_mail_listing_them, |b: Backend| {
    let s = crate::support::server(b).env("WRENCH_MAIL_FROM", "support@msp.test").start();
    let w = World::new(&s);
    let setup = product_and_release(&s, &w.admin);
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (_, ivy) = w.contact(&globex, "Ivy Globex", "ivy@globex.example");
    w.contact(&globex, "Quinn Quiet", "quinn@globex.example");
    let thread = |title: &str, visibility: &str| {
        let p = s.mutate(&w.admin, "createDevThread", &format!("mutation($p:ID,$t:String){{ createDevThread(input:{{kind: BUG, title:$t, productId:$p, visibility: {visibility}}}){{ thread {{ id }} errors {{ field message }} }} }}"), json!({ "p": setup.product, "t": title }));
        p["thread"]["id"].as_str().unwrap().to_string()
    };
    let export = thread("Export crashes with umlauts", "PUBLIC");
    let search = thread("Search misses attachments", "PUBLIC");
    let secret = thread("Security hardening of the login", "INTERNAL");
    // Pat follows both public threads (one through a moved ticket); Ivy's ticket sits on the internal one.
    let n = w.ticket(&pat, "Export broken", "The PDF export crashes.");
    s.mutate(&w.admin, "moveTicketToDevelopment", "mutation($n:Int!,$t:ID){ moveTicketToDevelopment(input:{number:$n, threadId:$t}){ thread { id } errors { field message } } }", json!({ "n": n, "t": export }));
    s.mutate(
        &pat,
        "subscribeThread",
        "mutation($i:ID!){ subscribeThread(id:$i){ thread { id } errors { field message } } }",
        json!({ "i": search }),
    );
    let m = w.ticket(&ivy, "Login shows a stack trace", "Our login page shows a stack trace.");
    s.mutate(&w.admin, "moveTicketToDevelopment", "mutation($n:Int!,$t:ID){ moveTicketToDevelopment(input:{number:$n, threadId:$t}){ thread { id } errors { field message } } }", json!({ "n": m, "t": secret }));
    for id in [&export, &search, &secret] {
        s.mutate(&w.admin, "updateDevThread", "mutation($i:ID!,$r:ID){ updateDevThread(id:$i, input:{status: FIXED, fixedInReleaseId:$r}){ thread { status } errors { field message } } }", json!({ "i": id, "r": setup.release }));
    }
    s.mutate(
        &w.admin,
        "markReleaseReleased",
        "mutation($r:ID!){ markReleaseReleased(id:$r){ release { status } errors { field message } } }",
        json!({ "r": setup.release }),
    );
    let release_mails = |to: &str| -> Vec<String> {
        crate::reset::mails_to(&s, to)
            .into_iter()
            .filter(|m| m.contains("shipped") && m.contains("you follow"))
            .collect()
    };
    wait_for("Pat's release mail", || !release_mails("pat@acme.example").is_empty());
    // Ivy's ticket got its reply mail: by then the whole fan-out has been sent.
    wait_for("Ivy's ticket reply by mail", || {
        crate::reset::mails_to(&s, "ivy@globex.example").iter().any(|m| m.contains("1.9.21"))
    });
    let pats = release_mails("pat@acme.example");
    assert_eq!(pats.len(), 1, "one mail per customer per release, not one per thread: {pats:?}");
    let mail = &pats[0];
    assert!(mail.contains("Subject: Wrench 2.0 beta (build 1.9.21) shipped 2 fixes you follow"), "{mail}");
    assert!(mail.contains("Export crashes with umlauts") && mail.contains("Search misses attachments"), "{mail}");
    assert!(!mail.contains("Security hardening"), "never an internal title: {mail}");
    assert!(!mail.contains("[#"), "not about a ticket: {mail}");
    let ivys = crate::reset::mails_to(&s, "ivy@globex.example");
    assert!(release_mails("ivy@globex.example").is_empty(), "Ivy follows no public thread");
    assert!(ivys.iter().all(|m| !m.contains("Security hardening")), "the internal title never reaches Ivy: {ivys:?}");
    assert!(crate::reset::mails_to(&s, "quinn@globex.example").is_empty(), "people not following hear nothing");
});
