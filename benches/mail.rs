//! The mail gateway: messages per second through `POST /mail/inbound` (4 concurrent
//! clients) and through the real `wrench mailgate` binary (4 pipes in parallel), on SQLite
//! and PostgreSQL. The mix: new tickets and replies (References to an earlier message),
//! about 10 KB each, every tenth with a 30 KB attachment. Outbound acknowledgements go to
//! the spool meanwhile (the job worker runs alongside).

use crate::common::{concurrent, percentiles};
use crate::support::{server, wrench_bin, Backend};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const TOKEN: &str = "bench-mail-token";
const HTTP_MESSAGES: usize = 2_000;
const PIPE_MESSAGES: usize = 400;
const CLIENTS: usize = 4;

pub fn run() -> Value {
    let mut out = json!({});
    for b in [Backend::Sqlite, Backend::Postgres] {
        let name = format!("{b:?}").to_lowercase();
        eprintln!("   {name}");
        out[&name] = bench_backend(b);
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
