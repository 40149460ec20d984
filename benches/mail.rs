//! The mail gateway: messages per second through `POST /mail/inbound` (4 concurrent
//! clients) and through the real `wrench mailgate` binary (4 pipes in parallel), on SQLite
//! and PostgreSQL. The mix: new tickets and replies (References to an earlier message),
//! about 10 KB each, every tenth with a 30 KB attachment. Outbound acknowledgements go to
//! the spool meanwhile (the job worker runs alongside).
//!
//! Outbound: messages per second delivered to a real SMTP server on loopback (Debian's
//! python3-aiosmtpd). Staff replies are queued while the SMTP server is down and the
//! server's manual clock stands still (each send fails once and waits for its retry); then
//! the SMTP server starts, the clock moves past the retries, and the time until the SMTP
//! server holds every message is measured.

use crate::common::{concurrent, percentiles};
use crate::support::{free_port, server, temp_dir, wrench_bin, Backend, Smtp};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-mail-token";
const HTTP_MESSAGES: usize = 2_000;
const PIPE_MESSAGES: usize = 400;
const CLIENTS: usize = 4;
const OUTBOUND_MESSAGES: usize = 600;
const OUTBOUND_TICKETS: usize = 20;

pub fn run() -> Value {
    let mut out = json!({});
    for b in [Backend::Sqlite, Backend::Postgres] {
        let name = format!("{b:?}").to_lowercase();
        eprintln!("   {name}");
        out[&name] = bench_backend(b);
        out[&name]["outbound_smtp"] = bench_outbound(b);
    }
    out
}

/// Message `i` of client `c`: every third one replies to the client's previous new ticket.
fn message(tag: &str, c: usize, i: usize) -> String {
    let filler: String = "The printer on the second floor prints blank pages again. ".repeat(170);
    let refs = if i % 3 == 2 { format!("References: <{tag}-{c}-{}@acme.example>\r\n", i - 1) } else { String::new() };
    let base = format!(
        "From: Pat {c} <pat{c}@acme.example>\r\nTo: support@msp.test\r\nSubject: Printer {c}-{i}\r\n\
Message-ID: <{tag}-{c}-{i}@acme.example>\r\n{refs}MIME-Version: 1.0\r\n"
    );
    if i.is_multiple_of(10) {
        let attachment = "QUJD".repeat(10_000);
        format!(
            "{base}Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n{filler}\r\n\
--B\r\nContent-Type: application/octet-stream; name=\"log.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--B--\r\n"
        )
    } else {
        format!("{base}Content-Type: text/plain\r\n\r\n{filler}\r\n")
    }
}

fn bench_backend(b: Backend) -> Value {
    let s = server(b).env("WRENCH_MAIL_TOKEN", TOKEN).env("WRENCH_MAIL_FROM", "support@msp.test").start();
    let w = crate::support::World::new(&s);
    w.company("Acme", &["acme.example"]);
    let auth = format!("Bearer {TOKEN}");

    let per = HTTP_MESSAGES / CLIENTS;
    let (wall, lat) = concurrent(CLIENTS, per, |c, i| {
        let raw = message("h", c, i);
        let r = s
            .request(
                "POST",
                "/mail/inbound",
                &[("Content-Type", "message/rfc822"), ("Authorization", &auth)],
                Some(raw.as_bytes()),
            )
            .expect("POST /mail/inbound");
        assert_eq!(r.status, 200, "{}", r.text());
    });
    let http_rate = (per * CLIENTS) as f64 / wall.as_secs_f64();

    let per_pipe = PIPE_MESSAGES / CLIENTS;
    let url = s.base();
    let (pipe_wall, pipe_lat) = concurrent(CLIENTS, per_pipe, |c, i| {
        let raw = message("g", c, i);
        let mut child = Command::new(wrench_bin())
            .args(["mailgate", "--url", &url, "--recipient", "support@msp.test"])
            .env("WRENCH_MAIL_TOKEN", TOKEN)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("wrench mailgate");
        child.stdin.take().expect("stdin").write_all(raw.as_bytes()).expect("pipe");
        assert_eq!(child.wait().expect("wait").code(), Some(0));
    });
    let pipe_rate = (per_pipe * CLIENTS) as f64 / pipe_wall.as_secs_f64();

    json!({
        "inbound_http": { "messages": per * CLIENTS, "clients": CLIENTS, "msgs_per_s": http_rate, "latency": percentiles(lat) },
        "mailgate_4_pipes": { "messages": per_pipe * CLIENTS, "pipes": CLIENTS, "msgs_per_s": pipe_rate, "latency": percentiles(pipe_lat) },
    })
}

/// Outbound: `OUTBOUND_MESSAGES` staff replies (one mail each, to the requester) delivered
/// over SMTP.
fn bench_outbound(b: Backend) -> Value {
    let port = free_port();
    let dir = temp_dir("bench_smtp");
    let url = format!("smtp://127.0.0.1:{port}");
    let s = server(b)
        .env("WRENCH_MAIL_FROM", "support@msp.test")
        .env("WRENCH_SMTP_URL", &url)
        .clock("2026-11-28T09:00:00Z")
        .start();
    let w = crate::support::World::new(&s);
    let acme = w.company("Acme", &["acme.example"]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let tickets: Vec<i64> =
        (0..OUTBOUND_TICKETS).map(|i| w.ticket(&pat, &format!("Printer {i}"), "It prints blank pages.")).collect();
    let body = "Please try the other tray and tell us whether the pages stay blank. ".repeat(20);
    let per = OUTBOUND_MESSAGES / CLIENTS;
    let (queue_wall, _) = concurrent(CLIENTS, per, |c, i| {
        let n = tickets[(c * per + i) % tickets.len()];
        s.mutate(
            &w.admin,
            "addReply",
            "mutation($n:Int!,$b:String!){ addReply(input:{number:$n, body:$b}){ entry { id } errors { field message } } }",
            json!({ "n": n, "b": format!("{body}({c}-{i})") }),
        );
    });
    // Every send has failed once by now (nothing listens) and waits for the clock.
    std::thread::sleep(Duration::from_secs(2));
    let smtp = Smtp::start(port, &dir);
    assert_eq!(smtp.count(), 0, "nothing is delivered before the clock moves");
    let started = Instant::now();
    s.set_clock("2026-11-28T09:10:00Z");
    let total = per * CLIENTS;
    let deadline = started + Duration::from_secs(300);
    let mut first = None;
    while smtp.count() < total {
        if first.is_none() && smtp.count() > 0 {
            first = Some(started.elapsed());
        }
        assert!(Instant::now() < deadline, "only {} of {total} messages arrived:\n{}", smtp.count(), s.log_tail());
        std::thread::sleep(Duration::from_millis(5));
    }
    let wall = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.count(), total, "a message arrived twice");
    json!({
        "messages": total,
        "msgs_per_s": total as f64 / wall.as_secs_f64(),
        "first_ms": first.map(|d| d.as_secs_f64() * 1000.0),
        "queued_per_s": total as f64 / queue_wall.as_secs_f64(),
    })
}
