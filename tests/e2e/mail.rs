//! The email gateway: mail in through `POST /mail/inbound` and the real `wrench mailgate`,
//! threading by token, References and subject tag, exactly-once delivery, staff mail that
//! must prove itself, bounces and robots; mail out through the spool and a real SMTP server
//! (Debian's python3-aiosmtpd) that goes away mid-stream.

use crate::both;
use crate::support::{free_port, temp_dir, wrench_bin, Backend, Server, Smtp, World};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "mail-token-for-tests";
const AUTHSERV: &str = "mx.msp.test";

fn start(b: Backend, extra: &[(&str, &str)]) -> Server {
    let mut builder = crate::support::server(b)
        .env("WRENCH_MAIL_TOKEN", TOKEN)
        .env("WRENCH_MAIL_FROM", "support@msp.test")
        .env("WRENCH_TRUSTED_AUTHSERV_ID", AUTHSERV);
    for (k, v) in extra {
        builder = builder.env(k, v);
    }
    builder.start()
}

/// A plain message; `extra` is raw header lines ending in CRLF.
fn msg(from: &str, to: &str, subject: &str, id: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}\r\n{body}\r\n"
    )
}

fn post(s: &Server, raw: &str, to: Option<&str>) -> (u16, Value) {
    let path = match to {
        Some(t) => format!("/mail/inbound?to={}", t.replace('+', "%2B").replace('@', "%40")),
        None => "/mail/inbound".to_string(),
    };
    let auth = format!("Bearer {TOKEN}");
    let r = s
        .request("POST", &path, &[("Content-Type", "message/rfc822"), ("Authorization", &auth)], Some(raw.as_bytes()))
        .unwrap_or_else(|e| panic!("POST /mail/inbound: {e}\n{}", s.log_tail()));
    (r.status, r.json())
}

/// Posts a message that must be accepted; returns the ticket number.
fn accepted(s: &Server, raw: &str) -> (i64, String) {
    let (st, v) = post(s, raw, Some("support@msp.test"));
    assert_eq!(st, 200, "{v}\n{}", s.log_tail());
    assert_eq!(v["status"], "accepted", "{v}");
    (v["ticket"].as_i64().unwrap_or_else(|| panic!("no ticket in {v}")), v["outcome"].as_str().unwrap().to_string())
}

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Messages written to the server's spool (`.eml` files), parsed into header maps.
fn spool(s: &Server) -> Vec<Eml> {
    read_messages(&s.dir.join("mail-spool"))
}

#[derive(Debug, Clone)]
struct Eml {
    raw: String,
}

impl Eml {
    fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("").replace("\r\n ", " ").replace("\r\n\t", " ");
        let head = head.replace("\n ", " ");
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
    fn message_id(&self) -> String {
        self.header("Message-ID").unwrap_or_default().trim_matches(['<', '>']).to_string()
    }
    fn to(&self) -> String {
        self.header("To").unwrap_or_default()
    }
}

fn read_messages(dir: &Path) -> Vec<Eml> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).unwrap_or(".").starts_with('.'))
        .filter_map(|p| std::fs::read(&p).ok())
        .map(|b| Eml { raw: String::from_utf8_lossy(&b).replace("\r\n", "\n").replace('\n', "\r\n") })
        .collect()
}

fn thread(s: &Server, token: &str, n: i64) -> Vec<Value> {
    let d = s.gql(
        Some(token),
        "query($n:Int!){ ticket(number:$n){ thread { body authorKind internal } } }",
        json!({ "n": n }),
    );
    d["ticket"]["thread"].as_array().cloned().unwrap_or_default()
}

fn ticket(s: &Server, token: &str, n: i64) -> Value {
    s.gql(
        Some(token),
        "query($n:Int!){ ticket(number:$n){ number subject status company { name } requester { email } } }",
        json!({ "n": n }),
    )["ticket"]
        .clone()
}

both!(a_customer_mails_in_and_every_reply_finds_its_ticket, |b: Backend| {
    let s = start(b, &[]);
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    let (_, pat_token) = w.contact(&acme, "Pat Acme", "pat@acme.example");

    // A new ticket by mail, with a quoted signature kept out of nothing: the first message stays whole.
    let first = msg(
        "Pat Acme <Pat@Acme.example>",
        "support@msp.test",
        "Printer offline",
        "p1@acme.example",
        "",
        "The printer on floor 2 is offline.",
    );
    let (n, outcome) = accepted(&s, &first);
    assert_eq!(outcome, "new_ticket");
    let t = ticket(&s, &w.admin, n);
    assert_eq!(t["subject"], "Printer offline");
    assert_eq!(t["requester"]["email"], "pat@acme.example");
    assert_eq!(t["company"]["name"], "Acme");

    // The acknowledgement: stamped, tagged, with a signed Reply-To and the robot headers.
    let ack = wait_for("the acknowledgement in the spool", 20, || {
        spool(&s).into_iter().find(|m| m.to().contains("pat@acme.example"))
    });
    let subject = ack.header("Subject").unwrap();
    assert!(subject.contains(&format!("[#{n}]")), "{subject}");
    let reply_to = ack.header("Reply-To").unwrap();
    assert!(reply_to.starts_with(&format!("support+{n}-")) && reply_to.ends_with("@msp.test"), "{reply_to}");
    assert_eq!(ack.header("Auto-Submitted").as_deref(), Some("auto-replied"));
    assert!(ack.header("X-Wrench-Loop").is_some());
    assert!(ack.message_id().starts_with(&format!("wr.{n}-")), "{}", ack.message_id());
    assert_eq!(ack.header("In-Reply-To").as_deref(), Some("<p1@acme.example>"));

    // (1) By the signed token alone: new subject, no References.
    let by_token = msg(
        "pat@acme.example",
        &reply_to,
        "something else entirely",
        "p2@acme.example",
        "",
        "Token reply.\n\nOn Sat, Support wrote:\n> old stuff\n",
    );
    let (st, v) = post(&s, &by_token, Some(&reply_to));
    assert_eq!((st, v["ticket"].as_i64(), v["outcome"].as_str()), (200, Some(n), Some("reply")), "{v}");
    let entries = thread(&s, &w.admin, n);
    assert_eq!(entries.last().unwrap()["body"], "Token reply.", "quoted history is trimmed: {entries:?}");

    // (2) By References alone (no token anywhere, no tag): Pat answers their own first mail.
    let by_refs = msg(
        "pat@acme.example",
        "support@msp.test",
        "more details",
        "p3@acme.example",
        "References: <p1@acme.example>\r\n",
        "References reply.",
    );
    assert_eq!(accepted(&s, &by_refs), (n, "reply".to_string()));

    // (3) By the subject tag alone, from a colleague at Acme (a new contact from the domain).
    let by_tag = msg(
        "Sam Acme <sam@acme.example>",
        "support@msp.test",
        &format!("Re: [#{n}] Printer offline"),
        "s1@acme.example",
        "",
        "Tag reply.",
    );
    assert_eq!(accepted(&s, &by_tag), (n, "reply".to_string()));
    assert_eq!(thread(&s, &w.admin, n).len(), 4);

    // A stranger copying the tag does not join: a new ticket in triage, without a company.
    let stranger = msg(
        "mallory@evil.example",
        "support@msp.test",
        &format!("Re: [#{n}] Printer offline"),
        "m1@evil.example",
        "",
        "Let me in.",
    );
    let (m, outcome) = accepted(&s, &stranger);
    assert_ne!(m, n);
    assert_eq!(outcome, "new_ticket");
    assert_eq!(ticket(&s, &w.admin, m)["company"], Value::Null);
    assert_eq!(thread(&s, &w.admin, n).len(), 4, "the stranger's mail is not on Pat's ticket");
    assert!(thread(&s, &pat_token, n).iter().all(|e| e["body"] != "Let me in."));

    // The same message delivered three times is filed once.
    let again = msg(
        "pat@acme.example",
        "support@msp.test",
        "Re: Printer offline",
        "p4@acme.example",
        "In-Reply-To: <p1@acme.example>\r\n",
        "Once only.",
    );
    let answers: Vec<(u16, Value)> = (0..3).map(|_| post(&s, &again, None)).collect();
    assert_eq!(answers[0].1["status"], "accepted");
    for (st, v) in &answers[1..] {
        assert_eq!((*st, v["status"].as_str(), v["ticket"].as_i64()), (200, Some("duplicate"), Some(n)), "{v}");
    }
    let onces = thread(&s, &w.admin, n).iter().filter(|e| e["body"] == "Once only.").count();
    assert_eq!(onces, 1);

    // A reply to a resolved ticket reopens it.
    s.mutate(&w.admin, "updateTicket", "mutation($n:Int!){ updateTicket(input:{number:$n, status: RESOLVED}){ ticket { status } errors { field message } } }", json!({ "n": n }));
    let reopen = msg("pat@acme.example", &reply_to, "Re: resolved?", "p5@acme.example", "", "Still broken.");
    assert_eq!(accepted(&s, &reopen), (n, "reply".to_string()));
    assert_eq!(ticket(&s, &w.admin, n)["status"], "OPEN");
});

both!(staff_mail_counts_only_with_a_trusted_dmarc_pass, |b: Backend| {
    let s = start(b, &[]);
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    w.contact(&acme, "Pat Acme", "pat@acme.example");
    w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let (n, _) =
        accepted(&s, &msg("pat@acme.example", "support@msp.test", "VPN down", "v1@acme.example", "", "VPN is down."));
    let token_addr = wait_for("the acknowledgement", 20, || spool(&s).into_iter().find_map(|m| m.header("Reply-To")));

    // Trusted: the receiving MTA says DMARC passed for msp.test.
    let pass = format!("Authentication-Results: {AUTHSERV}; spf=pass smtp.mailfrom=msp.test; dkim=pass header.d=msp.test; dmarc=pass header.from=msp.test\r\n");
    let staff_mail = msg(
        "Terry Tech <terry@msp.test>",
        &token_addr,
        "Re: VPN down",
        "t1@msp.test",
        &pass,
        "Restarted the VPN gateway.",
    );
    let (st, v) = post(&s, &staff_mail, None);
    assert_eq!((st, v["outcome"].as_str(), v["ticket"].as_i64()), (200, Some("reply"), Some(n)), "{v}");
    let last = thread(&s, &w.admin, n).last().cloned().unwrap();
    assert_eq!(last["authorKind"], "staff", "{last}");
    // The staff reply goes out to Pat by mail.
    wait_for("the staff reply mailed to Pat", 20, || {
        spool(&s)
            .into_iter()
            .find(|m| m.raw.contains("Restarted the VPN gateway.") && m.to().contains("pat@acme.example"))
    });

    // The same without the header, or with a pass from an authserv-id nobody trusts: held.
    let bare = msg("terry@msp.test", &token_addr, "Re: VPN down", "t2@msp.test", "", "Send me the passwords.");
    let other = "Authentication-Results: mx.evil.example; dmarc=pass header.from=msp.test\r\n";
    let forged = msg("terry@msp.test", &token_addr, "Re: VPN down", "t3@msp.test", other, "Wire the money.");
    let msp_domain = msg("ceo@msp.test", "support@msp.test", "Urgent", "t4@msp.test", "", "Pay this invoice.");
    for raw in [&bare, &forged, &msp_domain] {
        let (st, v) = post(&s, raw, None);
        assert_eq!((st, v["status"].as_str()), (202, Some("quarantined")), "{v}");
    }
    let bodies: Vec<String> = thread(&s, &w.admin, n).iter().map(|e| e["body"].as_str().unwrap().to_string()).collect();
    assert!(!bodies.iter().any(|b| b.contains("passwords") || b.contains("money")), "{bodies:?}");

    // The admin sees them with the reason, releases one and discards another.
    let q = s.gql(
        Some(&w.admin),
        "{ mailQuarantine(first: 20){ totalCount edges { node { id messageId status reason fromAddress } } } }",
        json!({}),
    );
    let nodes: Vec<Value> =
        q["mailQuarantine"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert_eq!(nodes.len(), 3, "{q}");
    assert!(nodes.iter().all(|n| n["status"] == "held" && n["reason"].as_str().unwrap().contains("DMARC")), "{q}");
    let id_of = |mid: &str| nodes.iter().find(|n| n["messageId"] == mid).unwrap()["id"].as_str().unwrap().to_string();
    let released = s.mutate(
        &w.admin,
        "releaseMail",
        "mutation($id:ID!){ releaseMail(id:$id){ ticketNumber outcome errors { field message } } }",
        json!({ "id": id_of("t2@msp.test") }),
    );
    assert_eq!(released["ticketNumber"].as_i64(), Some(n), "{released}");
    assert!(thread(&s, &w.admin, n).iter().any(|e| e["body"] == "Send me the passwords."));
    let discarded = s.mutate(
        &w.admin,
        "discardMail",
        "mutation($id:ID!){ discardMail(id:$id){ message { status } errors { field message } } }",
        json!({ "id": id_of("t3@msp.test") }),
    );
    assert_eq!(discarded["message"]["status"], "discarded");
    let q = s.gql(Some(&w.admin), "{ mailQuarantine(first: 20){ totalCount } }", json!({}));
    assert_eq!(q["mailQuarantine"]["totalCount"], 1);
    // Technicians cannot see the quarantine.
    let tech = s.login("terry@msp.test", "staff password 1");
    let (_, v) = s.gql_raw(Some(&tech), "{ mailQuarantine(first: 5){ totalCount } }", json!({}));
    assert!(v["errors"].is_array(), "{v}");
});

fn dsn(original_id: &str, rcpt: &str, status: &str, diag: &str, id: &str) -> String {
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\nTo: support@msp.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <{id}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n\
--BB\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n\
--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n\
Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diag}\r\n\r\n\
--BB\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@msp.test\r\nTo: {rcpt}\r\nSubject: Received\r\nMessage-ID: <{original_id}>\r\n\r\n--BB--\r\n"
    )
}

both!(bounces_of_wrench_mail_land_on_the_ticket_and_backscatter_is_dropped, |b: Backend| {
    let s = start(b, &[]);
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (n, _) = accepted(&s, &msg("pat@acme.example", "support@msp.test", "Mailbox", "b1@acme.example", "", "Hello."));
    let ack = wait_for("the acknowledgement", 20, || spool(&s).into_iter().next());

    let bounce = dsn(
        &ack.message_id(),
        "pat@acme.example",
        "5.1.1",
        "550 5.1.1 <pat@acme.example>: User unknown",
        "dsn1@mx.acme.example",
    );
    let (st, v) = post(&s, &bounce, None);
    assert_eq!((st, v["outcome"].as_str(), v["ticket"].as_i64()), (200, Some("bounce"), Some(n)), "{v}");
    let last = thread(&s, &w.admin, n).last().cloned().unwrap();
    let body = last["body"].as_str().unwrap();
    assert!(body.contains("Delivery failure (permanent)") && body.contains("user unknown"), "{last}");
    let und = s.gql(Some(&w.admin), "{ mailUndeliverable(email: \"pat@acme.example\") }", json!({}));
    assert_eq!(und["mailUndeliverable"], true);

    // A bounce of mail Wrench never sent (a forged stamp, or none) is dropped and listed.
    let forged = format!("wr.{n}-00000000-00000000000000000000.abc.00000000.00000000000000000000@msp.test");
    for (i, orig) in [forged.as_str(), "spam123@msp.test"].iter().enumerate() {
        let back = dsn(orig, "victim@else.example", "5.1.1", "550 User unknown", &format!("dsn-x{i}@mx.else.example"));
        let (st, v) = post(&s, &back, None);
        assert_eq!((st, v["status"].as_str()), (202, Some("dropped")), "{v}");
    }
    assert_eq!(thread(&s, &w.admin, n).len(), 2);
    let q = s.gql(Some(&w.admin), "{ mailQuarantine(first: 20){ edges { node { status reason } } } }", json!({}));
    let dropped: Vec<&Value> =
        q["mailQuarantine"]["edges"].as_array().unwrap().iter().filter(|e| e["node"]["status"] == "dropped").collect();
    assert_eq!(dropped.len(), 2, "{q}");
    assert!(dropped[0]["node"]["reason"].as_str().unwrap().contains("backscatter"));
    let und = s.gql(Some(&w.admin), "{ mailUndeliverable(email: \"victim@else.example\") }", json!({}));
    assert_eq!(und["mailUndeliverable"], false);
});

both!(an_autoresponder_exchanges_at_most_one_message, |b: Backend| {
    let s = start(b, &[]);
    let w = World::new(&s);
    w.company("Acme", &["acme.example"]);
    let robot = "robot@acme.example";
    accepted(&s, &msg(robot, "support@msp.test", "Question", "r0@acme.example", "", "Hi."));
    // The robot answers every message it gets, half the time without any robot header.
    let mut answered = std::collections::HashSet::new();
    for round in 0..6 {
        let inbox: Vec<Eml> = spool(&s).into_iter().filter(|m| m.to().contains(robot)).collect();
        for m in inbox {
            if answered.insert(m.message_id()) {
                let headers = if round % 2 == 0 {
                    format!("In-Reply-To: <{}>\r\n", m.message_id())
                } else {
                    format!("In-Reply-To: <{}>\r\nAuto-Submitted: auto-replied\r\n", m.message_id())
                };
                let answer = msg(
                    robot,
                    &m.header("Reply-To").unwrap(),
                    &format!("Auto: {}", m.header("Subject").unwrap()),
                    &format!("r{round}-{}@acme.example", answered.len()),
                    &headers,
                    "I am away.",
                );
                let (st, _) = post(&s, &answer, None);
                assert_eq!(st, 200);
            }
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    let to_robot = spool(&s).into_iter().filter(|m| m.to().contains(robot)).count();
    assert_eq!(to_robot, 1, "Wrench sent the robot {to_robot} messages");
});

both!(attachments_and_inline_images_are_kept_for_those_who_may_see_the_ticket, |b: Backend| {
    let s = start(b, &[]);
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    let globex = w.company("Globex", &["globex.example"]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (_, gina) = w.contact(&globex, "Gina Globex", "gina@globex.example");
    let raw = "From: pat@acme.example\r\nTo: support@msp.test\r\nSubject: Screenshot\r\nMessage-ID: <att1@acme.example>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"M\"\r\n\r\n--M\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n\
--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See <img src=\"cid:shot1@acme\"><script>alert(1)</script></p>\r\n\
--R\r\nContent-Type: image/png\r\nContent-ID: <shot1@acme>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--R--\r\n\
--M\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--M--\r\n";
    let (n, _) = accepted(&s, raw);
    let d = s.gql(
        Some(&pat),
        "query($n:Int!){ ticketAttachments(number:$n){ id filename contentType size url } }",
        json!({ "n": n }),
    );
    let atts = d["ticketAttachments"].as_array().unwrap().clone();
    assert_eq!(atts.len(), 2, "{d}");
    let pdf = atts.iter().find(|a| a["filename"] == "report.pdf").unwrap();
    let url = pdf["url"].as_str().unwrap();
    let auth = format!("Bearer {pat}");
    let r = s.request("GET", url, &[("Authorization", &auth)], None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"%PDF-1.4\n");
    assert!(r.header("Content-Disposition").unwrap().starts_with("attachment"));
    let other = format!("Bearer {gina}");
    assert_eq!(s.request("GET", url, &[("Authorization", &other)], None).unwrap().status, 404);
    assert_eq!(s.get(url).unwrap().status, 401);
    // The HTML is sanitised and its cid: image points at the stored file.
    let e = s.gql(Some(&pat), "query($n:Int!){ ticket(number:$n){ thread { body bodyHtml } } }", json!({ "n": n }));
    let html = e["ticket"]["thread"][0]["bodyHtml"].as_str().unwrap_or("").to_string();
    assert!(html.contains("/mail/attachments/") && !html.contains("script"), "{html}");
});

both!(the_original_message_and_its_files_show_on_the_ticket_page_and_the_eml_is_staff_only, |b: Backend| {
    use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD};
    use crate::web::{location, Web};
    let s = start(b, &[]);
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    let globex = w.company("Globex", &["globex.example"]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (_, gina) = w.contact(&globex, "Gina Globex", "gina@globex.example");
    let (_, tech) = w.staff("Terry Tech", "terry@msp.test", "TECHNICIAN");
    let raw = "From: pat@acme.example\r\nTo: support@msp.test\r\nSubject: Invoice question\r\nMessage-ID: <orig1@acme.example>\r\n\
X-Internal-Route: hop-7\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"M\"\r\n\r\n--M\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nThe total looks wrong.\r\n--M\r\n\
Content-Type: application/pdf; name=\"invoice 42.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice 42.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--M--\r\n";
    let (n, _) = accepted(&s, raw);

    // Staff get the message byte for byte, as a download.
    let d = s.gql(
        Some(&tech),
        "query($n:Int!){ ticketMail(number:$n){ id direction messageId rawUrl } }",
        json!({ "n": n }),
    );
    let mail = d["ticketMail"].as_array().unwrap().clone();
    let received = mail.iter().find(|m| m["direction"] == "in").unwrap_or_else(|| panic!("{d}"));
    let url = received["rawUrl"].as_str().unwrap_or_else(|| panic!("no rawUrl: {d}")).to_string();
    let r = s.request("GET", &url, &[("Authorization", &format!("Bearer {tech}"))], None).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, raw.as_bytes(), "the original, unchanged");
    assert_eq!(r.header("Content-Type"), Some("message/rfc822"));
    assert!(r.header("Content-Disposition").unwrap().starts_with("attachment; filename=\"message-"), "a download");
    // Never for customers, their own ticket included; not for strangers; no probing ids.
    for who in [&pat, &gina] {
        let r = s.request("GET", &url, &[("Authorization", &format!("Bearer {who}"))], None).unwrap();
        assert_eq!(r.status, 404, "a contact must not get the raw message");
    }
    assert_eq!(s.get(&url).unwrap().status, 401);
    let r = s.request("GET", "/mail/messages/999999/raw", &[("Authorization", &format!("Bearer {tech}"))], None);
    assert_eq!(r.unwrap().status, 404);
    // What Wrench sent (the acknowledgement) is kept too, byte for byte what went out.
    let sent_url = wait_for("the acknowledgement sent and kept", 20, || {
        let d = s.gql(Some(&tech), "query($n:Int!){ ticketMail(number:$n){ direction rawUrl } }", json!({ "n": n }));
        d["ticketMail"].as_array()?.iter().find(|m| m["direction"] == "out")?["rawUrl"].as_str().map(str::to_string)
    });
    let r = s.request("GET", &sent_url, &[("Authorization", &format!("Bearer {tech}"))], None).unwrap();
    assert_eq!(r.status, 200);
    let spooled = spool(&s).into_iter().find(|m| m.to().contains("pat@acme.example")).expect("the spooled ack");
    assert_eq!(String::from_utf8_lossy(&r.body).replace("\r\n", "\n"), spooled.raw.replace("\r\n", "\n"));
    let r = s.request("GET", &sent_url, &[("Authorization", &format!("Bearer {pat}"))], None).unwrap();
    assert_eq!(r.status, 404, "not for contacts either");

    // Held mail (on no ticket until released): its original is for admins only.
    let spoof = msg(
        "terry@msp.test",
        "support@msp.test",
        &format!("Re: [#{n}] Invoice question"),
        "held1@msp.test",
        "",
        "Refund them twice.",
    );
    let (st, v) = post(&s, &spoof, None);
    assert_eq!((st, v["status"].as_str()), (202, Some("quarantined")), "{v}");
    let q = s.gql(Some(&w.admin), "{ mailQuarantine(first: 5){ edges { node { id rawUrl } } } }", json!({}));
    let held = q["mailQuarantine"]["edges"][0]["node"].clone();
    let held_url = held["rawUrl"].as_str().unwrap_or_else(|| panic!("{q}")).to_string();
    let r = s.request("GET", &held_url, &[("Authorization", &format!("Bearer {}", w.admin))], None);
    assert_eq!(r.unwrap().status, 200);
    let r = s.request("GET", &held_url, &[("Authorization", &format!("Bearer {tech}"))], None).unwrap();
    assert_eq!(r.status, 404, "a technician does not read the quarantine");

    // The staff ticket page: the file beside its reply, the .eml link, the mail list.
    let mut staff = Web::new(&s);
    staff.sign_in("terry@msp.test", "staff password 1");
    let page = staff.get(&format!("/tickets/{n}"));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("invoice 42.pdf") && html.contains("/mail/attachments/"), "the attachment is listed");
    assert!(html.contains(&url), "the original message is linked");
    assert!(html.contains("id=\"mail-h\""), "the mail list is shown");
    // The portal page lists the file for Pat but never the original.
    let mut portal = Web::new(&s);
    portal.sign_in("pat@acme.example", "portal password 1");
    let html = portal.get(&format!("/tickets/{n}")).text();
    assert!(html.contains("invoice 42.pdf"), "Pat sees the attachment");
    assert!(!html.contains("/mail/messages/") && !html.contains("X-Internal-Route"), "no original for Pat");

    // The admin's quarantine page: the held message, its original, release with CSRF only.
    assert_eq!(staff.get("/admin/mail").status, 403, "technicians are refused");
    let mut admin = Web::new(&s);
    admin.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD);
    let html = admin.get("/admin/mail").text();
    assert!(html.contains("terry@msp.test") && html.contains(&held_url), "{html}");
    let id = held["id"].as_str().unwrap();
    let release = format!("/admin/mail/{id}/release");
    assert_eq!(admin.post_raw(&release, &[]).status, 403, "no CSRF token");
    let r = admin.post(&release, &[]);
    assert_eq!((r.status, location(&r)), (303, format!("/tickets/{n}?done=mail-released")));
    assert!(thread(&s, &w.admin, n).iter().any(|e| e["body"] == "Refund them twice."), "filed on the ticket");
    assert!(admin.get("/admin/mail").text().contains("Nothing is waiting."));
    assert_eq!(admin.post(&release, &[]).status, 409, "released once");
});

fn mailgate(s_port: u16, raw: &[u8], token: &str) -> i32 {
    let mut child = Command::new(wrench_bin())
        .args(["mailgate", "--url", &format!("http://127.0.0.1:{s_port}"), "--recipient", "support@msp.test"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WRENCH_MAIL_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait().unwrap().code().unwrap_or(-1)
}

both!(the_mailgate_binary_reports_what_the_mta_should_do, |b: Backend| {
    let s = start(b, &[("WRENCH_MAIL_MAX_BYTES", "4000")]);
    let w = World::new(&s);
    w.company("Acme", &["acme.example"]);
    let raw = msg("pat@acme.example", "support@msp.test", "From the pipe", "gate1@acme.example", "", "Piped in.");
    assert_eq!(mailgate(s.port, raw.as_bytes(), TOKEN), 0, "accepted");
    assert_eq!(mailgate(s.port, raw.as_bytes(), TOKEN), 0, "duplicate");
    let big = msg("pat@acme.example", "support@msp.test", "Huge", "gate2@acme.example", "", &"x".repeat(10_000));
    assert_eq!(mailgate(s.port, big.as_bytes(), TOKEN), 65, "oversize bounces");
    assert_eq!(mailgate(s.port, b"", TOKEN), 65, "unparseable bounces");
    assert_eq!(mailgate(s.port, raw.as_bytes(), "wrong"), 75, "a wrong token is temporary");
    assert_eq!(mailgate(free_port(), raw.as_bytes(), TOKEN), 75, "server down");
    let d = s.gql(Some(&w.admin), "{ tickets(first: 10){ totalCount } }", json!({}));
    assert_eq!(d["tickets"]["totalCount"], 1, "the duplicate filed once");
    let q = s.gql(Some(&w.admin), "{ mailQuarantine(first: 10){ edges { node { status reason } } } }", json!({}));
    assert!(q.to_string().contains("rejected"), "the oversize message is listed: {q}");
});

/// What the SMTP server received (its Maildir's `new/`), parsed.
trait Received {
    fn received(&self) -> Vec<Eml>;
}

impl Received for Smtp {
    fn received(&self) -> Vec<Eml> {
        read_messages(&self.maildir())
    }
}

both!(notifications_reach_a_real_smtp_server_once_across_an_outage, |b: Backend| {
    let port = free_port();
    let dir = temp_dir("smtp");
    let mut smtp = Smtp::start(port, &dir);
    let url = format!("smtp://127.0.0.1:{port}");
    let s = start(b, &[("WRENCH_SMTP_URL", url.as_str())]);
    let w = World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    w.contact(&acme, "Pat Acme", "pat@acme.example");
    let (n, _) = accepted(&s, &msg("pat@acme.example", "support@msp.test", "Outage", "o1@acme.example", "", "Hello."));
    wait_for("the acknowledgement over SMTP", 30, || {
        smtp.received().into_iter().find(|m| m.to().contains("pat@acme.example"))
    });

    // The SMTP server goes away; the technician keeps replying.
    smtp.stop();
    for i in 0..3 {
        s.mutate(&w.admin, "addReply", "mutation($n:Int!,$b:String!){ addReply(input:{number:$n, body:$b}){ entry { id } errors { field message } } }", json!({ "n": n, "b": format!("Update {i}") }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    smtp.spawn();
    let all = wait_for("three replies after the outage", 60, || {
        let got = smtp.received();
        (got.iter().filter(|m| m.raw.contains("Update ")).count() >= 3).then_some(got)
    });
    std::thread::sleep(Duration::from_secs(2));
    let all = if smtp.received().len() > all.len() { smtp.received() } else { all };
    let mut ids: Vec<String> = all.iter().map(|m| m.message_id()).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "a message arrived twice");
    assert_eq!(total, 4, "the acknowledgement and three replies, each once");
    for i in 0..3 {
        assert_eq!(all.iter().filter(|m| m.raw.contains(&format!("Update {i}"))).count(), 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
});

both!(every_real_world_message_is_ingested_without_a_server_error, |b: Backend| {
    let Some(root) = ["../shared/mail", "../../shared/mail"]
        .iter()
        .map(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join(p))
        .find(|p| p.is_dir())
    else {
        assert!(std::env::var_os("CI").is_none(), "../shared/mail is missing and CI is set");
        eprintln!("skipped: ../shared/mail is missing");
        return;
    };
    let s = start(b, &[]);
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.extension().is_some_and(|x| x == "tsv" || x == "md")
                && !p.file_name().unwrap().to_string_lossy().starts_with("LICENSE")
                && !p.file_name().unwrap().to_string_lossy().starts_with("COPYING")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 600, "{} files", files.len());
    let auth = format!("Bearer {TOKEN}");
    let mut counts = std::collections::BTreeMap::new();
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let r = s
            .request(
                "POST",
                "/mail/inbound",
                &[("Content-Type", "message/rfc822"), ("Authorization", &auth)],
                Some(&raw),
            )
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", f.display(), s.log_tail()));
        assert!(r.status < 500, "{} answered {}: {}", f.display(), r.status, r.text());
        assert!(matches!(r.status, 200 | 202 | 413 | 422), "{} answered {}", f.display(), r.status);
        *counts.entry(r.status).or_insert(0) += 1;
    }
    eprintln!("{counts:?}");
    assert!(s.get("/healthz").unwrap().status == 200);
});
