//! Password reset by mailed link: "Forgot your password?" on the sign-in page, the same
//! answer for known and unknown addresses, a link read from the mail spool that works once
//! and for an hour, every other session ended (API tokens kept), two-factor sign-in still
//! asked afterwards; the same for customer contacts and over GraphQL.

use crate::both;
use crate::support::{server, Backend, Server, World, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::web::{location, secret_on, totp_code, Web};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const T0: i64 = 1_796_119_200; // 2026-12-01T10:00:00Z
const NEW_PASSWORD: &str = "a brand new password";

/// The spooled messages to `to`, raw (headers and body), oldest first.
pub fn mails_to(s: &Server, to: &str) -> Vec<String> {
    let dir = s.dir.join("mail-spool");
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "eml"));
    let mut mails: Vec<(std::time::SystemTime, String)> = files
        .into_iter()
        .filter_map(|p| {
            let t = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            let raw = String::from_utf8_lossy(&std::fs::read(&p).ok()?).replace("\r\n", "\n");
            // Undo quoted-printable soft line breaks, so that links read whole.
            let qp = raw.to_ascii_lowercase().contains("content-transfer-encoding: quoted-printable");
            Some((t, if qp { raw.replace("=\n", "").replace("=3D", "=") } else { raw }))
        })
        .filter(|(_, m)| m.lines().any(|l| l.starts_with("To:") && l.to_lowercase().contains(to)))
        .collect();
    mails.sort();
    mails.into_iter().map(|(_, m)| m).collect()
}

fn wait_for_mail(s: &Server, to: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mails = mails_to(s, to);
        if mails.len() >= count {
            return mails[count - 1].clone();
        }
        assert!(Instant::now() < deadline, "timed out waiting for mail {count} to {to}\n{}", s.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The path of the reset link in a mail (`/reset/TOKEN`).
fn reset_path(mail: &str) -> String {
    let i = mail.find("/reset/").unwrap_or_else(|| panic!("no reset link in {mail}"));
    mail[i..].chars().take_while(|c| !c.is_whitespace()).collect()
}

fn header<'m>(mail: &'m str, name: &str) -> Option<&'m str> {
    let head = mail.split("\n\n").next().unwrap_or("");
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn gql_login(s: &Server, email: &str, password: &str) -> Value {
    s.gql(
        None,
        "mutation($e:String!,$p:String!){ login(email:$e, password:$p){ token errors { field message } } }",
        json!({ "e": email, "p": password }),
    )["login"]
        .clone()
}

fn request_reset(s: &Server, email: &str) -> Value {
    s.gql(
        None,
        "mutation($e:String!){ requestPasswordReset(email:$e){ accepted errors { field message } } }",
        json!({ "e": email }),
    )["requestPasswordReset"]
        .clone()
}

fn reset_password(s: &Server, token: &str, password: &str) -> Value {
    s.gql(
        None,
        "mutation($t:String!,$p:String!){ resetPassword(token:$t, password:$p){ done errors { field message } } }",
        json!({ "t": token, "p": password }),
    )["resetPassword"]
        .clone()
}

both!(a_technician_resets_a_forgotten_password_by_the_mailed_link, |b: Backend| {
    let s = server(b).clock("2026-12-01T10:00:00Z").env("WRENCH_MAIL_FROM", "support@msp.test").start();
    let w = World::new(&s);
    let (_, terry_jwt) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let api = s.mutate(
        &terry_jwt,
        "createApiToken",
        "mutation{ createApiToken(input:{name:\"ci\", scope: READ}){ token errors { field message } } }",
        json!({}),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Terry uses two-factor sign-in and is signed in on another computer.
    let mut other = Web::new(&s);
    other.sign_in("terry@msp.test", "staff password 1");
    other.post("/account/security/start", &[]);
    let secret = secret_on(&other.get("/account/security").text());
    assert_eq!(other.post("/account/security/confirm", &[("code", &totp_code(&secret, T0))]).status, 200);
    assert_eq!(other.get("/dashboard").status, 200);

    // The sign-in page links to the form; known and unknown addresses get the same answer.
    let mut web = Web::new(&s);
    let login = web.get("/login?email=terry%40msp.test").text();
    assert!(login.contains("href=\"/login/forgot?email=terry%40msp.test\""), "{login}");
    let r = web.get("/login/forgot?email=terry%40msp.test");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("value=\"terry@msp.test\""));
    assert_eq!(web.post("/login/forgot", &[("email", "terry")]).status, 422, "not an email address");
    let unknown = web.post("/login/forgot", &[("email", "nobody@msp.test")]);
    let known = web.post("/login/forgot", &[("email", "Terry@MSP.test")]);
    assert_eq!((unknown.status, location(&unknown)), (303, "/login?done=reset-sent".to_string()));
    assert_eq!((known.status, location(&known)), (unknown.status, location(&unknown)), "the same answer");
    assert!(web.get("/login?done=reset-sent").text().contains("If an account exists for that address"));
    // A form without its CSRF token is refused.
    assert_eq!(web.post_raw("/login/forgot", &[("email", "terry@msp.test")]).status, 403);

    let mail = wait_for_mail(&s, "terry@msp.test", 1);
    assert!(mails_to(&s, "nobody@msp.test").is_empty(), "no mail for an unknown address");
    assert_eq!(header(&mail, "Subject"), Some("Reset your Wrench password"));
    assert!(header(&mail, "In-Reply-To").is_none() && header(&mail, "References").is_none(), "not threaded: {mail}");
    assert_eq!(header(&mail, "Auto-Submitted"), Some("auto-replied"));
    let link = reset_path(&mail);
    assert!(mail.contains(&format!("{}{link}", s.base())), "a full link to this server: {mail}");

    // The form asks for the password twice, with the usual rules.
    let page = web.get(&link);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("terry@msp.test"));
    let r = web.post(&link, &[("password", NEW_PASSWORD), ("password2", "something else")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("the two passwords differ"));
    let r = web.post(&link, &[("password", "short"), ("password2", "short")]);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("at least 10 characters"));
    let r = web.post(&link, &[("password", NEW_PASSWORD), ("password2", NEW_PASSWORD)]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(location(&r).starts_with("/login?done=reset"));

    // Single use; every other sign-in ended; the API token still works.
    assert_eq!(web.get(&link).status, 404, "the link works once");
    assert_eq!(web.post(&link, &[("password", NEW_PASSWORD), ("password2", NEW_PASSWORD)]).status, 404);
    assert_eq!(other.get("/dashboard").status, 303, "the other session ended");
    let (status, v) = s.gql_raw(Some(&terry_jwt), "{ viewer { kind } }", json!({}));
    assert_eq!(status, 401, "the old JWT no longer works: {v}");
    let d = s.gql(Some(&api), "{ viewer { kind user { email } } }", json!({}));
    assert_eq!(d["viewer"]["user"]["email"], "terry@msp.test", "API tokens are left alone");

    // The old password fails; the new one works, and two-factor sign-in is still asked.
    assert!(gql_login(&s, "terry@msp.test", "staff password 1")["token"].is_null());
    assert_eq!(gql_login(&s, "terry@msp.test", NEW_PASSWORD)["errors"][0]["field"], "totpCode");
    let r = web.sign_in("terry@msp.test", NEW_PASSWORD);
    assert!(location(&r).starts_with("/login/code"), "the reset does not bypass two-factor sign-in");
    assert_eq!(web.get("/dashboard").status, 303);
    s.set_clock("2026-12-01T10:00:30Z");
    web.get("/login/code");
    assert_eq!(web.post("/login/code", &[("code", &totp_code(&secret, T0 + 30))]).status, 303);
    assert_eq!(web.get("/dashboard").status, 200);

    let mut admin = Web::new(&s);
    admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    let audit = admin.get("/admin/audit").text();
    assert!(audit.contains("user.password") && audit.contains("reset by mail"), "the audit log records it");
});

both!(a_customer_resets_by_link_which_expires_and_voids_the_others, |b: Backend| {
    let s = server(b).clock("2026-12-01T10:00:00Z").env("WRENCH_MAIL_FROM", "support@msp.test").start();
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    let (pat_id, _) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (gone_id, _) = w.contact(&acme, "Gone Acme", "gone@acme.example");
    s.mutate(
        &w.admin,
        "updateContact",
        "mutation($i:ID!){ updateContact(id:$i, input:{active:false}){ contact { id } errors { field message } } }",
        json!({ "i": gone_id }),
    );

    // Over GraphQL, the answer never tells whether the account exists.
    for email in ["pat@acme.example", "stranger@acme.example", "gone@acme.example"] {
        assert_eq!(request_reset(&s, email), json!({ "accepted": true, "errors": [] }), "{email}");
    }
    assert_eq!(request_reset(&s, "not an address")["errors"][0]["field"], "email");
    let first = reset_path(&wait_for_mail(&s, "pat@acme.example", 1));
    // An hour later, the link has expired.
    s.set_clock("2026-12-01T11:00:01Z");
    let mut web = Web::new(&s);
    let r = web.get(&first);
    assert_eq!(r.status, 404);
    assert!(r.text().contains("has expired or was already used"));
    let token = first.trim_start_matches("/reset/");
    assert_eq!(reset_password(&s, token, NEW_PASSWORD)["errors"][0]["field"], "token");
    assert!(mails_to(&s, "stranger@acme.example").is_empty() && mails_to(&s, "gone@acme.example").is_empty());

    // Two fresh links: using one voids the other.
    request_reset(&s, "pat@acme.example");
    let second = reset_path(&wait_for_mail(&s, "pat@acme.example", 2));
    request_reset(&s, "pat@acme.example");
    let third = reset_path(&wait_for_mail(&s, "pat@acme.example", 3));
    assert_ne!(second, third);
    let short = reset_password(&s, third.trim_start_matches("/reset/"), "short");
    assert_eq!(short["errors"][0]["field"], "password");
    assert_eq!(
        reset_password(&s, third.trim_start_matches("/reset/"), NEW_PASSWORD),
        json!({ "done": true, "errors": [] })
    );
    assert_eq!(reset_password(&s, third.trim_start_matches("/reset/"), NEW_PASSWORD)["done"], false, "once");
    assert_eq!(web.get(&second).status, 404, "the other open link was voided");
    assert!(gql_login(&s, "pat@acme.example", "portal password 1")["token"].is_null(), "the old password fails");
    assert_eq!(web.sign_in("pat@acme.example", NEW_PASSWORD).status, 303);
    assert_eq!(web.get("/tickets").status, 200);

    // Requests are limited per address (the same for unknown ones) and come back an hour later.
    for _ in 0..5 {
        assert_eq!(request_reset(&s, "flood@acme.example")["accepted"], true);
    }
    let refused = request_reset(&s, "flood@acme.example");
    assert_eq!(refused["accepted"], false);
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("too many"), "{refused}");
    s.set_clock("2026-12-01T12:00:02Z");
    assert_eq!(request_reset(&s, "flood@acme.example")["accepted"], true);

    // A link mailed to an address the account no longer has dies with the change.
    request_reset(&s, "pat@acme.example");
    let stale = reset_path(&wait_for_mail(&s, "pat@acme.example", 4));
    let moved = s.mutate(
        &w.admin,
        "updateContact",
        "mutation($i:ID!){ updateContact(id:$i, input:{email:\"pat.new@acme.example\"}){ contact { id } errors { field message } } }",
        json!({ "i": pat_id }),
    );
    assert!(moved["errors"].as_array().is_some_and(|e| e.is_empty()), "{moved}");
    assert_eq!(web.get(&stale).status, 404, "the link to the old address is void");
});
