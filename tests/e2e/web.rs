//! Web UI stories over real HTTP, like a browser without JavaScript: cookies, forms with
//! their CSRF tokens, redirects. Each page and form is checked for its status codes,
//! refusals (another company's contact gets 404, contacts are refused technician pages),
//! CSRF rejection, validation messages with the input kept, and the security headers.

use crate::both;
use crate::support::{server, Backend, Response, Server, World, ADMIN_EMAIL, ADMIN_PASSWORD};
use serde_json::json;
use std::collections::BTreeMap;

/// A cookie-keeping client that speaks HTML forms.
pub struct Web<'a> {
    pub s: &'a Server,
    pub cookies: BTreeMap<String, String>,
    /// The CSRF token of the last page that had a form.
    pub csrf: String,
}

impl<'a> Web<'a> {
    pub fn new(s: &'a Server) -> Self {
        Web { s, cookies: BTreeMap::new(), csrf: String::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, r: &Response) {
        for c in r.headers_all("set-cookie") {
            let first = c.split(';').next().unwrap_or("");
            let (k, v) = first.split_once('=').unwrap_or((first, ""));
            let removed = c.to_ascii_lowercase().contains("max-age=0") || v.is_empty();
            if removed {
                self.cookies.remove(k.trim());
            } else {
                self.cookies.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        if let Some(t) = find_csrf(&r.text()) {
            self.csrf = t;
        }
    }

    pub fn get(&mut self, path: &str) -> Response {
        let cookie = self.cookie_header();
        let r = self.s.request("GET", path, &[("Cookie", cookie.as_str())], None).expect("GET");
        self.keep(&r);
        r
    }

    /// POSTs the fields as a form, adding the current CSRF token unless one is given.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        if !fields.iter().any(|(k, _)| *k == "csrf_token") {
            all.push(("csrf_token", csrf.as_str()));
        }
        self.post_raw(path, &all)
    }

    pub fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = encode(fields);
        let cookie = self.cookie_header();
        let r = self
            .s
            .request(
                "POST",
                path,
                &[("Cookie", cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")],
                Some(body.as_bytes()),
            )
            .expect("POST");
        self.keep(&r);
        r
    }

    /// Signs in through the login form and, like a browser, follows the redirect (which
    /// gives the signed-in session's CSRF token); returns the answer to the POST.
    pub fn sign_in(&mut self, email: &str, password: &str) -> Response {
        self.get("/login");
        let r = self.post("/login", &[("email", email), ("password", password)]);
        let (mut status, mut to) = (r.status, location(&r));
        for _ in 0..5 {
            if status != 303 || !to.starts_with('/') {
                break;
            }
            let next = self.get(&to);
            (status, to) = (next.status, location(&next));
        }
        r
    }
}

pub fn find_csrf(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf_token\" value=\"")?;
    let rest = &html[i + "name=\"csrf_token\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", pct(k), pct(v))).collect::<Vec<_>>().join("&")
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn location(r: &Response) -> String {
    r.header("location").unwrap_or("").to_string()
}

fn assert_security_headers(r: &Response, what: &str) {
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'; script-src 'none'; frame-ancestors 'none'"),
        "{what}: CSP"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{what}");
}

/// The number after `/tickets/` in a redirect.
fn ticket_number(loc: &str) -> i64 {
    let rest = loc.split("/tickets/").nth(1).unwrap_or_else(|| panic!("no ticket in {loc:?}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

fn staff_pw() -> &'static str {
    "staff password 1"
}

both!(signing_in_needs_the_csrf_token_and_sessions_end_on_sign_out_and_expiry, |b: Backend| {
    let s = server(b).clock("2026-11-28T10:00:00Z").start();
    let mut w = Web::new(&s);

    let r = w.get("/tickets");
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/login?next=%2Ftickets");
    assert_security_headers(&r, "a redirect");

    let r = w.get("/login?next=%2Ftickets");
    assert_eq!(r.status, 200);
    assert_security_headers(&r, "the login page");
    let html = r.text();
    for field in ["name=\"email\"", "name=\"password\"", "name=\"csrf_token\""] {
        assert!(html.contains(field), "login form lacks {field}");
    }
    let pre = r.headers_all("set-cookie").join("\n");
    assert!(pre.contains("HttpOnly") && pre.contains("SameSite=Lax"), "{pre}");

    // No token, a wrong token, a token of another visitor: 403.
    let creds = [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", "/tickets")];
    assert_eq!(w.post_raw("/login", &creds).status, 403);
    let mut wrong = creds.to_vec();
    wrong.push(("csrf_token", "00ff"));
    assert_eq!(w.post_raw("/login", &wrong).status, 403);
    let mut other = Web::new(&s);
    other.get("/login");
    let mut theirs = creds.to_vec();
    theirs.push(("csrf_token", other.csrf.as_str()));
    assert_eq!(w.post_raw("/login", &theirs).status, 403, "a token from another visitor's cookie");

    // A wrong password: the form again, the email kept, a message beside the field.
    let r = w.post("/login", &[("email", ADMIN_EMAIL), ("password", "nope"), ("next", "/tickets")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("the email or password is wrong"), "{}", r.text());
    assert!(r.text().contains(&format!("value=\"{ADMIN_EMAIL}\"")), "the email is kept");

    // Right: a session cookie and back to where we wanted to go.
    let r = w.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", "/tickets")]);
    assert_eq!(r.status, 303);
    assert_eq!(location(&r), "/tickets");
    let set = r.header("set-cookie").unwrap_or("").to_string();
    assert!(set.starts_with("wrench_session=") && set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    assert!(!set.contains("Secure"), "plain http: no Secure flag");
    let r = w.get("/tickets");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<html"));
    assert_security_headers(&r, "the ticket list");

    // `next` never leaves the site.
    let mut evil = Web::new(&s);
    evil.get("/login");
    let r = evil.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", "//evil.example/x")]);
    assert_eq!(location(&r), "/");

    // Sign out ends the session on the server: the old cookie is worthless.
    let stolen = w.cookies.get("wrench_session").cloned().unwrap();
    assert_eq!(w.post("/logout", &[]).status, 303);
    let mut thief = Web::new(&s);
    thief.cookies.insert("wrench_session".into(), stolen);
    assert_eq!(thief.get("/dashboard").status, 303, "a signed-out session must not work");

    // Idle expiry on the server's clock.
    let mut e = Web::new(&s);
    assert_eq!(e.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    assert_eq!(e.get("/dashboard").status, 200);
    s.set_clock("2026-11-28T23:00:00Z");
    let r = e.get("/dashboard");
    assert_eq!(r.status, 303, "13 idle hours later the session is over");
    assert!(location(&r).starts_with("/login"));

    // The stylesheet: cached, with the same headers.
    let r = e.get("/static/wrench.css");
    assert_eq!(r.status, 200);
    assert!(r.header("cache-control").unwrap_or("").contains("max-age"));
    assert_security_headers(&r, "the stylesheet");
    let r = e.get("/no/such/page");
    assert_eq!(r.status, 404);
    assert_security_headers(&r, "a 404 page");
});

both!(a_contact_sees_their_company_in_the_portal_and_nothing_else, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme Ltd", &["acme.example"]);
    let globex = w.company("Globex", &["globex.example"]);
    let (_, pat_token) = w.contact(&acme, "Pat Customer", "pat@acme.example");
    let (_, _) = w.contact(&acme, "Sam Colleague", "sam@acme.example");
    let (_, eve_token) = w.contact(&globex, "Eve Other", "eve@globex.example");
    let (_, tech) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let mine = w.ticket(&pat_token, "Printer offline", "The printer on floor 2 is offline.");
    let theirs = w.ticket(&eve_token, "Globex VPN down", "Our VPN is down.");
    s.mutate(&tech, "addInternalNote", "mutation($n:Int!){ addInternalNote(input:{number:$n, body:\"SECRET toner note\"}){ entry { id } errors { field message } } }", json!({ "n": mine }));
    s.mutate(&tech, "addReply", "mutation($n:Int!){ addReply(input:{number:$n, body:\"We are on it.\"}){ entry { id } errors { field message } } }", json!({ "n": mine }));

    // Sam, a colleague at Acme, signs in to the portal.
    let mut sam = Web::new(&s);
    assert_eq!(sam.sign_in("sam@acme.example", "portal password 1").status, 303);
    let r = sam.get("/");
    assert_eq!(location(&r), "/tickets", "contacts start at their company's tickets");
    let list = sam.get("/tickets").text();
    assert!(list.contains("Printer offline"), "the company's tickets are listed");
    assert!(!list.contains("Globex VPN down"), "never another company's");
    assert!(!list.contains("Terry Tech") && !list.contains("Assignee"), "no staff-only fields");

    let page = sam.get(&format!("/tickets/{mine}"));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("We are on it.") && html.contains("The printer on floor 2 is offline."));
    assert!(!html.contains("SECRET"), "internal notes never reach a contact");
    assert!(!html.contains("/note") && !html.contains("Queue"), "no staff forms or fields");

    // Another company's ticket, however asked for: 404.
    assert_eq!(sam.get(&format!("/tickets/{theirs}")).status, 404);
    assert_eq!(sam.post(&format!("/tickets/{theirs}/reply"), &[("body", "let me in")]).status, 404);
    // Technician pages refuse contacts.
    for p in ["/dashboard", "/companies", "/contacts", "/admin", "/admin/users", "/admin/tokens", "/account/security"] {
        assert_eq!(sam.get(p).status, 403, "{p}");
    }
    assert_eq!(sam.post(&format!("/tickets/{mine}/note"), &[("body", "x")]).status, 403);
    assert_eq!(sam.post(&format!("/tickets/{mine}/update"), &[("status", "closed")]).status, 403);
    // Staff filters are no way in either.
    let r = sam.get(&format!("/tickets?assignee=none&company={globex}"));
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("Globex VPN down"));

    // Sam replies; a blank reply is refused with the message beside the field.
    let r = sam.post(&format!("/tickets/{mine}/reply"), &[("body", "   ")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("is required"));
    let r = sam.post(&format!("/tickets/{mine}/reply"), &[("body", "Thanks! <b>bold</b>")]);
    assert_eq!(r.status, 303);
    let html = sam.get(&format!("/tickets/{mine}")).text();
    assert!(
        html.contains("Thanks! &#60;b&#62;bold&#60;/b&#62;") || html.contains("Thanks! &lt;b&gt;bold&lt;/b&gt;"),
        "escaped: {html}"
    );

    // And opens a new ticket; the missing subject is named and the message kept.
    let r = sam.post("/tickets/new", &[("subject", ""), ("body", "Mail bounces")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("Subject") && r.text().contains("Mail bounces"));
    let r = sam.post("/tickets/new", &[("subject", "Mail bounces"), ("body", "Since this morning.")]);
    assert_eq!(r.status, 303);
    let n = ticket_number(&location(&r));
    let t = s.gql(
        Some(&tech),
        "query($n:Int!){ ticket(number:$n){ company { name } requester { email } } }",
        json!({ "n": n }),
    );
    assert_eq!(t["ticket"]["company"]["name"], "Acme Ltd");
    assert_eq!(t["ticket"]["requester"]["email"], "sam@acme.example");
    // CSRF on the portal too.
    assert_eq!(sam.post(&format!("/tickets/{mine}/reply"), &[("body", "x"), ("csrf_token", "bad")]).status, 403);
});

both!(a_technician_works_a_ticket_in_the_console, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme Ltd", &["acme.example"]);
    let (_, pat) = w.contact(&acme, "Pat Customer", "pat@acme.example");
    let (terry_id, _) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let (_, _) = w.staff("Dana Dispatch", "dana@msp.test", "TECHNICIAN");
    let other = w.ticket(&pat, "Printer still offline", "Same printer.");

    let mut t = Web::new(&s);
    assert_eq!(t.sign_in("terry@msp.test", staff_pw()).status, 303);
    assert_eq!(location(&t.get("/")), "/dashboard");
    let dash = t.get("/dashboard");
    assert_eq!(dash.status, 200);
    let d = dash.text();
    assert!(d.contains("My open tickets") && d.contains("Unassigned") && d.contains("Recently updated"));
    assert!(d.contains("id=\"sla-at-risk\""), "the place kept for SLA at-risk tickets");

    // A new ticket on behalf of Pat: an unknown email is named, the input kept.
    let r = t.post(
        "/tickets/new",
        &[("requesterEmail", "nobody@acme.example"), ("subject", "Printer offline"), ("body", "Floor 2")],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("no contact has this email") && r.text().contains("value=\"Printer offline\""));
    let r = t.post(
        "/tickets/new",
        &[
            ("requesterEmail", "pat@acme.example"),
            ("subject", "Printer offline"),
            ("body", "Floor 2"),
            ("priority", "high"),
            ("tags", "printer, Floor 2"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let n = ticket_number(&location(&r));
    let page = t.get(&format!("/tickets/{n}")).text();
    assert!(page.contains("Acme Ltd") && page.contains("Pat Customer") && page.contains("High"));
    assert!(page.contains(">printer<") && page.contains(">floor-2<"), "tags normalised");

    // Reply, with time; a note; both in the thread, the note told apart.
    assert_eq!(
        t.post(&format!("/tickets/{n}/reply"), &[("body", "Rebooting it now."), ("minutes", "15"), ("billable", "on")])
            .status,
        303
    );
    assert_eq!(t.post(&format!("/tickets/{n}/note"), &[("body", "Toner is low too.")]).status, 303);
    let page = t.get(&format!("/tickets/{n}")).text();
    assert!(page.contains("class=\"entry reply\"") && page.contains("class=\"entry note\""));
    assert!(page.contains("Internal note") && page.contains("Toner is low too."));
    assert!(page.contains("15 min"), "time total shown");

    // Validation: messages beside the fields, input kept.
    let r = t.post(&format!("/tickets/{n}/time"), &[("minutes", "lots"), ("note", "diagnosis")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("Minutes must be a whole number") && r.text().contains("value=\"diagnosis\""));
    let r = t.post(&format!("/tickets/{n}/time"), &[("minutes", "5000")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("between 1 and 1440"));
    let r = t.post(&format!("/tickets/{n}/note"), &[("body", "")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("is required"));
    let r = t.post(
        &format!("/tickets/{n}/update"),
        &[("status", "closed"), ("priority", "high"), ("assigneeId", "none"), ("queueId", "1"), ("tags", "printer")],
    );
    assert_eq!(r.status, 422, "open cannot become closed");
    assert!(r.text().contains("cannot go from open to closed"), "{}", r.text());

    // Status, priority, assignee, queue and tags in one form.
    let r = t.post(
        &format!("/tickets/{n}/update"),
        &[
            ("status", "waiting_on_customer"),
            ("priority", "urgent"),
            ("assigneeId", terry_id.as_str()),
            ("queueId", "1"),
            ("tags", "printer, hardware"),
        ],
    );
    assert_eq!(r.status, 303);
    let page = t.get(&format!("/tickets/{n}")).text();
    assert!(page.contains("Waiting on customer") && page.contains("Urgent") && page.contains(">hardware<"));
    assert!(page.contains("changed the status from Open to Waiting on customer"), "the history");

    // Log time, link, merge.
    assert_eq!(t.post(&format!("/tickets/{n}/time"), &[("minutes", "20"), ("note", "on site")]).status, 303);
    let r = t.post(&format!("/tickets/{n}/link"), &[("otherNumber", "999999"), ("kind", "related")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("there is no ticket #999999"));
    assert_eq!(
        t.post(&format!("/tickets/{n}/link"), &[("otherNumber", &other.to_string()), ("kind", "related")]).status,
        303
    );
    assert!(t.get(&format!("/tickets/{n}")).text().contains(&format!("href=\"/tickets/{other}\"")));
    let r = t.post(&format!("/tickets/{other}/merge"), &[("targetNumber", &n.to_string())]);
    assert_eq!(r.status, 303);
    assert_eq!(ticket_number(&location(&r)), n);
    let page = t.get(&format!("/tickets/{n}")).text();
    assert!(page.contains("Same printer."), "the merged thread moved over");

    // The ticket list finds it by URL filters.
    let r =
        t.get(&format!("/tickets?status=waiting_on_customer&priority=urgent&company={acme}&assignee=me&tag=hardware"));
    assert!(r.text().contains("Printer offline"));
    let r = t.get("/tickets?status=resolved");
    assert!(!r.text().contains(">Printer offline<"));
    let r = t.get("/tickets?status=bogus");
    assert!(r.text().contains("is not a status"), "a bad filter is named");

    // Pat's reply notifies the assignee: the unread count shows in the header.
    s.mutate(&pat, "addReply", "mutation($n:Int!){ addReply(input:{number:$n, body:\"Printer works now\"}){ entry { id } errors { field message } } }", json!({ "n": n }));
    let d = t.get("/dashboard").text();
    assert!(d.contains("<span class=\"badge\">1"), "unread count in the header");
    let inbox = t.get("/notifications").text();
    assert!(inbox.contains("Pat Customer replied on #"));
    assert_eq!(t.post("/notifications/read", &[("all", "1")]).status, 303);
    assert!(!t.get("/dashboard").text().contains("class=\"badge\""));
});

both!(companies_and_contacts_are_listed_searched_created_and_edited, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let mut t = Web::new(&s);
    t.sign_in("terry@msp.test", staff_pw());
    t.get("/companies/new");
    let r = t.post("/companies/new", &[("name", ""), ("emailDomains", "not a domain"), ("phone", "555")]);
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("is required") && r.text().contains("is not a domain") && r.text().contains("value=\"555\"")
    );
    let r = t.post(
        "/companies/new",
        &[("name", "Initech"), ("emailDomains", "initech.example, initech.test"), ("phone", "555")],
    );
    assert_eq!(r.status, 303);
    let company = location(&r).split('/').nth(2).unwrap().split('?').next().unwrap().to_string();
    t.post("/companies/new", &[("name", "Umbrella Corp"), ("emailDomains", "")]);
    let list = t.get("/companies?q=init").text();
    assert!(list.contains("Initech") && !list.contains("Umbrella"), "search by name");
    let r = t.post("/companies/new", &[("name", "initech")]);
    assert!(r.text().contains("another company already has this name"));

    let r = t.post(
        &format!("/companies/{company}/edit"),
        &[("name", "Initech Inc"), ("emailDomains", "initech.example"), ("phone", "556"), ("notes", "VIP")],
    );
    assert_eq!(r.status, 303);
    let page = t.get(&format!("/companies/{company}")).text();
    assert!(page.contains("Initech Inc") && page.contains("VIP") && !page.contains("initech.test"));

    let r = t.post("/contacts/new", &[("companyId", company.as_str()), ("name", "Peter"), ("email", "not-an-email")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("is not a valid email address") && r.text().contains("value=\"Peter\""));
    let r = t.post(
        "/contacts/new",
        &[("companyId", company.as_str()), ("name", "Peter Gibbons"), ("email", "peter@initech.example")],
    );
    assert_eq!(r.status, 303);
    let contact = location(&r).split('/').nth(2).unwrap().split('?').next().unwrap().to_string();
    assert!(t.get("/contacts?q=gibb").text().contains("peter@initech.example"));
    assert!(
        t.get(&format!("/companies/{company}")).text().contains("Peter Gibbons"),
        "the company page lists its contacts"
    );
    let r = t.post(
        &format!("/contacts/{contact}/edit"),
        &[
            ("companyId", company.as_str()),
            ("name", "Peter G."),
            ("email", "peter@initech.example"),
            ("phone", "1"),
            ("active", "on"),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(t.get(&format!("/contacts/{contact}")).text().contains("Peter G."));
    // A new ticket from the contact's page knows the requester.
    let r = t.get(&format!("/tickets/new?requester={contact}"));
    assert!(r.text().contains("value=\"peter@initech.example\""));
});

both!(an_invite_link_sets_a_contacts_password_once, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme Ltd", &["acme.example"]);
    let p = s.mutate(
        &w.admin,
        "createContact",
        "mutation($i: ContactFields!){ createContact(input:$i){ contact { id } errors { field message } } }",
        json!({ "i": { "companyId": acme, "name": "Nora New", "email": "nora@acme.example" } }),
    );
    let nora = p["contact"]["id"].as_str().unwrap().to_string();
    let mut admin = Web::new(&s);
    admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(admin.get(&format!("/contacts/{nora}")).text().contains("no password yet"));
    let r = admin.post(&format!("/contacts/{nora}/invite"), &[]);
    assert_eq!(r.status, 200);
    let html = r.text();
    let start = html.find("/invite/").expect("an invite link is shown");
    let link: String = html[start..].chars().take_while(|c| *c != '<' && *c != '"').collect();
    assert!(!admin.get(&format!("/contacts/{nora}")).text().contains(&link), "the link is shown only once");

    let mut nora_web = Web::new(&s);
    let r = nora_web.get(&link);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("nora@acme.example"));
    let r = nora_web.post(&link, &[("password", "a long new password"), ("password2", "something else")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("the two passwords differ"));
    let r = nora_web.post(&link, &[("password", "short"), ("password2", "short")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("at least 10 characters"));
    let r = nora_web.post(&link, &[("password", "a long new password"), ("password2", "a long new password")]);
    assert_eq!(r.status, 303);
    assert!(location(&r).starts_with("/login?done=invite"));
    assert_eq!(nora_web.get(&link).status, 404, "the link works once");
    assert_eq!(nora_web.sign_in("nora@acme.example", "a long new password").status, 303);
    assert_eq!(nora_web.get("/tickets").status, 200);
    assert_eq!(Web::new(&s).get("/invite/made-up-token").status, 404);
});

both!(deactivating_a_user_ends_their_web_session_at_once, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let (terry, _) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let mut t = Web::new(&s);
    t.sign_in("terry@msp.test", staff_pw());
    assert_eq!(t.get("/dashboard").status, 200);
    // Technicians may not administer.
    assert_eq!(t.get("/admin/users").status, 403);
    assert_eq!(
        t.post(
            &format!("/admin/users/{terry}"),
            &[("name", "Terry"), ("email", "terry@msp.test"), ("role", "admin"), ("active", "on")]
        )
        .status,
        403
    );

    let mut a = Web::new(&s);
    a.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    let r = a.post(
        &format!("/admin/users/{terry}"),
        &[("name", "Terry Tech"), ("email", "terry@msp.test"), ("role", "technician")],
    );
    assert_eq!(r.status, 303);
    let r = t.get("/dashboard");
    assert_eq!(r.status, 303, "the deactivated technician's session ends at once");
    assert!(location(&r).starts_with("/login"));
    assert_eq!(t.sign_in("terry@msp.test", staff_pw()).status, 422);
});

both!(admin_pages_manage_users_queues_tokens_and_show_the_audit_log, |b: Backend| {
    let s = server(b).start();
    let mut a = Web::new(&s);
    a.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(a.get("/admin").status, 200);
    a.get("/admin/users/new");
    let r = a.post(
        "/admin/users/new",
        &[("name", "Nia New"), ("email", "nia@msp.test"), ("role", "technician"), ("password", "short")],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("at least 10 characters") && r.text().contains("value=\"nia@msp.test\""));
    let r = a.post(
        "/admin/users/new",
        &[("name", "Nia New"), ("email", "nia@msp.test"), ("role", "technician"), ("password", "a good long password")],
    );
    assert_eq!(r.status, 303);
    assert!(a.get("/admin/users").text().contains("nia@msp.test"));

    let r = a.post("/admin/queues/new", &[("name", "Network")]);
    assert_eq!(r.status, 303);
    let q = location(&r).split('/').nth(3).unwrap().split('?').next().unwrap().to_string();
    let users = s.gql(Some(&s.admin()), "{ users(first: 10) { edges { node { id email } } } }", json!({}));
    let nia =
        users["users"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["email"] == "nia@msp.test").unwrap()
            ["node"]["id"]
            .as_str()
            .unwrap()
            .to_string();
    let r = a.post(
        &format!("/admin/queues/{q}"),
        &[("name", "Network"), ("member", nia.as_str()), ("dispatcher", nia.as_str())],
    );
    assert_eq!(r.status, 303);
    let page = a.get(&format!("/admin/queues/{q}")).text();
    assert!(page.contains(&format!("name=\"dispatcher\" value=\"{nia}\" checked")), "{page}");
    assert_eq!(a.post("/admin/queues/new", &[("name", "Network")]).status, 422);

    // A token is shown once, works, and stops when revoked.
    let r = a.post("/admin/tokens/new", &[("name", "monitoring"), ("scope", "read"), ("days", "30"), ("userId", "1")]);
    assert_eq!(r.status, 200);
    let html = r.text();
    let i = html.find("wrn_").expect("the token is shown");
    let token: String = html[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    assert!(!a.get("/admin/tokens").text().contains(&token), "never shown again");
    assert!(s.gql(Some(&token), "{ viewer { __typename } }", json!({}))["viewer"].is_object());
    let list = a.get("/admin/tokens").text();
    let j = list.find("/revoke\"").unwrap();
    let id: String = list[..j].rsplit("/admin/tokens/").next().unwrap().to_string();
    assert_eq!(a.post(&format!("/admin/tokens/{id}/revoke"), &[]).status, 303);
    let (_, v) = s.gql_raw(Some(&token), "{ tickets(first:1) { totalCount } }", json!({}));
    assert!(v["errors"].is_array(), "a revoked token stops working: {v}");

    let audit = a.get("/admin/audit").text();
    for action in ["user.create", "queue.create", "queue.update", "token.create", "token.revoke"] {
        assert!(audit.contains(action), "audit log lacks {action}");
    }
});

/// The current TOTP code for a base32 secret at a Unix time.
pub fn totp_code(secret: &str, at: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let t = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).unwrap();
    t.generate(at as u64)
}

pub fn secret_on(html: &str) -> String {
    let i = html.find("class=\"secret\">").expect("the key is shown") + "class=\"secret\">".len();
    html[i..].chars().take_while(|c| *c != '<').collect()
}

both!(two_factor_sign_in_with_totp_and_recovery_codes, |b: Backend| {
    let t0 = 1_796_119_200i64; // 2026-12-01T10:00:00Z
    let s = server(b).clock("2026-12-01T10:00:00Z").start();
    let w = World::new(&s);
    w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let mut t = Web::new(&s);
    t.sign_in("terry@msp.test", staff_pw());
    assert!(t.get("/account/security").text().contains("is <strong>off</strong>"));
    assert_eq!(t.post("/account/security/start", &[]).status, 303);
    let page = t.get("/account/security").text();
    assert!(page.contains("<svg") && page.contains("aria-label=\"QR code"), "a QR code rendered on the server");
    let secret = secret_on(&page);
    let r = t.post("/account/security/confirm", &[("code", "000000")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("that code does not match"));
    let r = t.post("/account/security/confirm", &[("code", &totp_code(&secret, t0))]);
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("Your recovery codes"));
    let codes: Vec<String> = html.split("<code>").skip(1).map(|c| c.split('<').next().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    t.post("/logout", &[]);

    // Password, then code.
    let r = t.sign_in("terry@msp.test", staff_pw());
    assert_eq!(r.status, 303);
    assert!(location(&r).starts_with("/login/code"));
    assert_eq!(t.get("/dashboard").status, 303, "nothing but the code page until the code is given");
    let page = t.get("/login/code");
    assert_eq!(page.status, 200);
    let r = t.post("/login/code", &[("code", "123456")]);
    assert_eq!(r.status, 422, "{:?} {}", t.cookies, page.text());
    let used = totp_code(&secret, t0);
    let r = t.post("/login/code", &[("code", &used)]);
    assert_eq!(r.status, 422, "the code used to turn it on cannot be replayed");
    s.set_clock("2026-12-01T10:00:30Z");
    let r = t.post("/login/code", &[("code", &totp_code(&secret, t0 + 30))]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(t.get("/dashboard").status, 200);
    t.post("/logout", &[]);

    // A recovery code works once.
    t.sign_in("terry@msp.test", staff_pw());
    t.get("/login/code");
    assert_eq!(t.post("/login/code", &[("code", &codes[0].to_uppercase())]).status, 303);
    assert_eq!(t.get("/dashboard").status, 200);
    assert_eq!(t.post("/logout", &[]).status, 303);
    t.sign_in("terry@msp.test", staff_pw());
    t.get("/login/code");
    assert_eq!(t.post("/login/code", &[("code", &codes[0])]).status, 422);

    // The API asks for the code too.
    let q = "mutation($e:String!,$p:String!,$c:String){ login(email:$e, password:$p, totpCode:$c){ token errors { field message } } }";
    let d = s.gql(None, q, json!({ "e": "terry@msp.test", "p": staff_pw() }));
    assert!(d["login"]["token"].is_null());
    assert_eq!(d["login"]["errors"][0]["field"], "totpCode");
    s.set_clock("2026-12-01T10:01:30Z");
    let d = s.gql(None, q, json!({ "e": "terry@msp.test", "p": staff_pw(), "c": totp_code(&secret, t0 + 90) }));
    assert!(d["login"]["token"].is_string(), "{d}");

    // An admin requires two-factor sign-in: staff without it must set it up first.
    w.staff("Nia New", "nia@msp.test", "TECHNICIAN");
    let mut a = Web::new(&s);
    a.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert_eq!(a.post("/admin/security", &[("require_totp", "on")]).status, 303);
    let mut n = Web::new(&s);
    let r = n.sign_in("nia@msp.test", staff_pw());
    assert_eq!(location(&r), "/account/security");
    assert_eq!(location(&n.get("/dashboard")), "/account/security");
    assert_eq!(n.get("/account/security").status, 200);
    n.post("/account/security/start", &[]);
    let secret = secret_on(&n.get("/account/security").text());
    let r = n.post("/account/security/confirm", &[("code", &totp_code(&secret, t0 + 90))]);
    assert_eq!(r.status, 200);
    assert_eq!(n.get("/dashboard").status, 200, "set up: now fully signed in");
    assert!(a.get("/admin/audit").text().contains("totp.enable"));
});

both!(times_are_shown_in_the_viewers_time_zone, |b: Backend| {
    let s = server(b).clock("2026-11-28T10:00:00Z").start();
    let w = World::new(&s);
    let n = w.ticket(&w.admin, "Clock check", "What time is it?");
    let mut a = Web::new(&s);
    a.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert!(a.get(&format!("/tickets/{n}")).text().contains("28 Nov 2026, 10:00"));
    let r = a.post("/account", &[("name", "Administrator"), ("timezone", "Mars/Olympus")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("is not an IANA time zone"));
    assert_eq!(a.post("/account", &[("name", "Administrator"), ("timezone", "Australia/Adelaide")]).status, 303);
    // Adelaide is UTC+10:30 in November (summer time).
    let page = a.get(&format!("/tickets/{n}")).text();
    assert!(page.contains("28 Nov 2026, 20:30") && page.contains("times in Australia/Adelaide"), "{page}");

    // A new password needs the current one, and ends the session: sign in again with it.
    a.get("/account");
    let r = a.post(
        "/account",
        &[
            ("name", "Administrator"),
            ("timezone", "UTC"),
            ("current_password", "wrong"),
            ("new_password", "another long password"),
            ("new_password2", "another long password"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("that is not your current password"));
    let r = a.post(
        "/account",
        &[
            ("name", "Administrator"),
            ("timezone", "UTC"),
            ("current_password", ADMIN_PASSWORD),
            ("new_password", "another long password"),
            ("new_password2", "another long password"),
        ],
    );
    assert_eq!(location(&r), "/login?done=password");
    assert_eq!(a.get("/dashboard").status, 303, "the old session ended with the password change");
    assert_eq!(a.sign_in(ADMIN_EMAIL, "another long password").status, 303);
});

both!(web_sign_in_shares_the_apis_rate_limit, |b: Backend| {
    let s = server(b).start();
    let mut w = Web::new(&s);
    w.get("/login");
    for i in 0..10 {
        assert_eq!(w.post("/login", &[("email", ADMIN_EMAIL), ("password", "wrong")]).status, 422, "attempt {i}");
    }
    let r = w.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]);
    assert_eq!(r.status, 429, "the eleventh attempt is refused, even with the right password");
    assert!(r.text().contains("too many attempts"));
    let d = s.gql(
        None,
        "mutation($e:String!,$p:String!){ login(email:$e, password:$p){ token errors { message } } }",
        json!({ "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD }),
    );
    assert!(d["login"]["token"].is_null(), "the API counts the web's failures: {d}");
});

both!(session_cookies_are_secure_behind_an_https_public_url, |b: Backend| {
    let s = server(b).env("WRENCH_PUBLIC_URL", "https://help.msp.test").start();
    let mut w = Web::new(&s);
    let r = w.get("/login");
    assert!(r.header("set-cookie").unwrap_or("").contains("Secure"), "the pre-session cookie too");
    let r = w.post("/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]);
    assert_eq!(r.status, 303);
    let set = r.header("set-cookie").unwrap_or("").to_string();
    assert!(set.starts_with("wrench_session=") && set.contains("Secure") && set.contains("HttpOnly"), "{set}");
});

both!(saving_the_ticket_form_changes_only_what_was_changed_and_next_never_leaves_the_site, |b: Backend| {
    let s = server(b).start();
    let w = World::new(&s);
    let (tina_id, _) = w.staff("Tina Tech", "tina@msp.test", "TECHNICIAN");
    let n = w.ticket(&w.admin, "Shared ticket", "two people at once");
    let mut web = Web::new(&s);
    web.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    // The admin opens the ticket page (unassigned); meanwhile someone assigns it over the API.
    let page = web.get(&format!("/tickets/{n}"));
    assert_eq!(page.status, 200);
    s.mutate(&w.admin, "updateTicket", "mutation($n:Int!,$a:ID){ updateTicket(input:{number:$n, assigneeId:$a}){ ticket { number } errors { field message } } }", json!({ "n": n, "a": tina_id }));
    // The stale page's form still shows "Unassigned"; changing only the priority must keep Tina.
    let r = web.post(
        &format!("/tickets/{n}/update"),
        &[
            ("status", "new"),
            ("was_status", "new"),
            ("priority", "high"),
            ("was_priority", "normal"),
            ("assigneeId", "none"),
            ("was_assigneeId", "none"),
            ("queueId", "1"),
            ("was_queueId", "1"),
            ("tags", ""),
            ("was_tags", ""),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let t =
        s.gql(Some(&w.admin), "query($n:Int!){ ticket(number:$n){ priority assignee { name } } }", json!({ "n": n }));
    assert_eq!(t["ticket"], json!({ "priority": "HIGH", "assignee": { "name": "Tina Tech" } }));

    // `next` only ever leads to a local path.
    // (as a link carries it, as the form posts it back decoded)
    let evils = [
        ("/%09/evil.example", "/\t/evil.example"),
        ("//evil.example", "//evil.example"),
        ("/%5Cevil.example", "/\\evil.example"),
        ("https://evil.example", "https://evil.example"),
        ("/%C3%A9vil.example", "/évil.example"),
    ];
    for (evil, decoded) in evils {
        let mut web = Web::new(&s);
        web.get(&format!("/login?next={evil}"));
        let r = web.post(
            &format!("/login?next={evil}"),
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", decoded)],
        );
        assert_eq!(r.status, 303, "{evil}: {}", r.text());
        let loc = location(&r);
        assert!(
            loc.starts_with('/') && !loc.starts_with("//") && !loc.contains("evil") && !loc.contains('\t'),
            "{evil} -> {loc:?}"
        );
    }
});
