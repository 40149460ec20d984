//! Outbound mail: notifications are queued as durable jobs in the same transaction as the
//! change that caused them, with their stamped Message-ID fixed at that moment, so a retry
//! (SMTP down, crash mid-send) sends the same message again rather than a new one. The job
//! worker sends them with lettre: to `WRENCH_SMTP_URL`, or as `.eml` files into
//! `DATA_DIR/mail-spool/` by default.
//!
//! Every message carries the stamp (in its Message-ID), References/In-Reply-To for mail
//! clients, the `[#NUMBER]` subject tag, a Reply-To with the signed reply token,
//! `Auto-Submitted: auto-replied` when automatic, and the loop header.

use super::autoreply::LOOP_HEADER;
use super::{store, threading};
use crate::app::App;
use crate::db::DbConn;
use crate::jobs::JobError;
use crate::schema::{contacts, mail_messages, users};
use crate::tickets::model::{Status, Ticket};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::Transport as _;
use serde_json::json;
use std::sync::OnceLock;

pub const SEND_JOB: &str = "mail.send";

/// The domain Wrench's own addresses and Message-IDs use.
pub fn own_domain(app: &App) -> String {
    app.config.mail_from.rsplit_once('@').map(|(_, d)| d.to_lowercase()).unwrap_or_else(|| app.config.public_host())
}

/// The host named in the loop header (one per installation).
pub fn loop_id(app: &App) -> String {
    app.config.public_host()
}

#[derive(Debug, Clone)]
pub struct OutMail {
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub body: String,
    pub ticket: Option<i64>,
    /// ack, reply, status, reset, release…
    pub kind: &'static str,
    /// Sent by the system on its own (an acknowledgement, a status notice), not a person.
    pub automatic: bool,
    /// The message this answers, when it is not yet recorded on the ticket.
    pub answers: Option<String>,
}

/// Queues one message; returns its Message-ID, or `None` when the address hard-bounced
/// before (no mail is sent to it until someone fixes it).
pub fn queue(conn: &mut DbConn, app: &App, mail: OutMail, now: NaiveDateTime) -> QueryResult<Option<String>> {
    Ok(queue_all(conn, app, vec![mail], now)?.pop())
}

/// Queues many messages at once (a burst of SLA warnings and breaches, a release mailed to
/// thousands); returns how many were queued.
pub fn queue_many(conn: &mut DbConn, app: &App, mails: Vec<OutMail>, now: NaiveDateTime) -> QueryResult<usize> {
    Ok(queue_all(conn, app, mails, now)?.len())
}

/// The one way mail is queued, in the caller's transaction, with a handful of queries for
/// the whole set: one look-up of undeliverable addresses (skipped) and of the tickets'
/// threads, multi-row inserts of the messages and their send jobs. Every message gets a
/// stamped Message-ID, References / In-Reply-To from its ticket's thread, the `[#N]` tag and
/// a Reply-To with the signed token. Returns the Message-IDs queued.
fn queue_all(conn: &mut DbConn, app: &App, mails: Vec<OutMail>, now: NaiveDateTime) -> QueryResult<Vec<String>> {
    use crate::schema::mail_undeliverable;
    use std::collections::{HashMap, HashSet};
    let mut mails: Vec<OutMail> = mails
        .into_iter()
        .map(|m| OutMail { to: m.to.trim().to_lowercase(), ..m })
        .filter(|m| !m.to.is_empty())
        .collect();
    let mut addresses: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    let mut undeliverable: HashSet<String> = HashSet::new();
    for chunk in addresses.chunks(500) {
        let found: Vec<String> = mail_undeliverable::table
            .filter(mail_undeliverable::email.eq_any(chunk))
            .select(mail_undeliverable::email)
            .load(conn)?;
        undeliverable.extend(found);
    }
    mails.retain(|m| !undeliverable.contains(&m.to));
    let mut ticket_ids: Vec<i64> = mails.iter().filter_map(|m| m.ticket).collect();
    ticket_ids.sort_unstable();
    ticket_ids.dedup();
    let threads = store::thread_ids_of(conn, &ticket_ids, 20)?;
    let domain = own_domain(app);
    struct Prepared {
        message_id: String,
        subject: String,
        payload: serde_json::Value,
    }
    let mut prepared: Vec<(Prepared, &OutMail)> = Vec::with_capacity(mails.len());
    for mail in &mails {
        let message_id = threading::stamped_message_id(&app.keys, mail.ticket, &domain);
        let (mut references, mut in_reply_to) = mail.ticket.and_then(|t| threads.get(&t)).cloned().unwrap_or_default();
        if let Some(a) = mail.answers.clone() {
            if !references.contains(&a) {
                references.push(a.clone());
            }
            in_reply_to = Some(a);
        }
        let reply_to = match mail.ticket {
            Some(t) => threading::plus_address(&app.config.mail_from, &threading::reply_token(&app.keys, t)),
            None => app.config.mail_from.clone(),
        };
        let subject = match mail.ticket {
            Some(t) if threading::subject_tag(&mail.subject).is_none() => format!("[#{t}] {}", mail.subject),
            _ => mail.subject.clone(),
        };
        let payload = json!({
            "message_id": message_id,
            "to": mail.to,
            "to_name": mail.to_name,
            "subject": subject,
            "body": mail.body,
            "reply_to": reply_to,
            "in_reply_to": in_reply_to.or_else(|| references.last().cloned()),
            "references": references,
            "automatic": mail.automatic,
            // A copy of what was sent is kept for the ticket's staff. Mail about no ticket
            // (a password reset link above all) is not kept: it is nobody's to read again.
            "keep_copy": mail.ticket.is_some(),
        });
        prepared.push((Prepared { message_id, subject, payload }, mail));
    }
    for chunk in prepared.chunks_mut(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(p, mail)| {
                (
                    mail_messages::direction.eq("out"),
                    mail_messages::message_id.eq(&p.message_id),
                    mail_messages::ticket_id.eq(mail.ticket),
                    mail_messages::kind.eq(mail.kind),
                    mail_messages::status.eq("queued"),
                    mail_messages::from_addr.eq(&app.config.mail_from),
                    mail_messages::to_addr.eq(&mail.to),
                    mail_messages::subject.eq(&p.subject),
                    mail_messages::created_at.eq(now),
                )
            })
            .collect();
        // The send job names its message's row (to mark it sent).
        let returned = (mail_messages::message_id, mail_messages::id);
        let row_ids: HashMap<String, i64> = match conn {
            DbConn::Sqlite(c) => {
                diesel::insert_into(mail_messages::table).values(&rows).returning(returned).get_results(c)?
            }
            DbConn::Postgres(c) => {
                diesel::insert_into(mail_messages::table).values(&rows).returning(returned).get_results(c)?
            }
        }
        .into_iter()
        .collect();
        let jobs: Vec<crate::jobs::NewJob> = chunk
            .iter_mut()
            .map(|(p, _)| {
                p.payload["row"] = json!(row_ids.get(&p.message_id));
                crate::jobs::NewJob {
                    payload: p.payload.to_string(),
                    run_at: now,
                    dedupe_key: Some(format!("mail:{}", p.message_id)),
                }
            })
            .collect();
        crate::jobs::insert_many(conn, SEND_JOB, &jobs, now)?;
    }
    Ok(prepared.into_iter().map(|(p, _)| p.message_id).collect())
}

fn contact_address(conn: &mut DbConn, id: i64) -> QueryResult<Option<(String, String)>> {
    contacts::table
        .find(id)
        .filter(contacts::active.eq(true))
        .select((contacts::email, contacts::name))
        .first(conn)
        .optional()
}

fn ticket_link(app: &App, t: &Ticket) -> String {
    format!("{}/tickets/{}", app.config.public_url, t.id)
}

/// "We received your request": to the sender of mail that opened a ticket.
pub fn acknowledge(
    conn: &mut DbConn,
    app: &App,
    t: &Ticket,
    to: &str,
    to_name: &str,
    answers: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let body = format!(
        "Hello {},\n\nwe received your request and opened ticket #{}: {}\n\nReply to this message to add to it.\n{}\n",
        if to_name.is_empty() { to } else { to_name },
        t.id,
        t.subject,
        ticket_link(app, t)
    );
    queue(
        conn,
        app,
        OutMail {
            to: to.into(),
            to_name: to_name.into(),
            subject: format!("Received: {}", t.subject),
            body,
            ticket: Some(t.id),
            kind: "ack",
            automatic: true,
            answers: answers.map(str::to_string),
        },
        now,
    )
}

/// A technician's public reply, to the requester and the contacts watching the ticket.
pub fn on_staff_reply(
    conn: &mut DbConn,
    app: &App,
    t: &Ticket,
    author: &str,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    for (email, name) in customer_addresses(conn, t)? {
        queue(
            conn,
            app,
            OutMail {
                to: email,
                to_name: name,
                subject: format!("Re: {}", t.subject),
                body: format!("{author} wrote:\n\n{body}\n\n-- \n{}\n", ticket_link(app, t)),
                ticket: Some(t.id),
                kind: "reply",
                automatic: false,
                answers: None,
            },
            now,
        )?;
    }
    Ok(())
}

/// A status change the customer should hear about.
pub fn on_status_change(conn: &mut DbConn, app: &App, t: &Ticket, to: Status, now: NaiveDateTime) -> QueryResult<()> {
    let Some(r) = t.requester_id else { return Ok(()) };
    let Some((email, name)) = contact_address(conn, r)? else { return Ok(()) };
    queue(
        conn,
        app,
        OutMail {
            to: email,
            to_name: name,
            subject: format!("{} is now {}", t.subject, to.label().to_lowercase()),
            body: format!(
                "Ticket #{} ({}) is now {}.\n\nReply to this message if anything is still wrong.\n{}\n",
                t.id,
                t.subject,
                to.label().to_lowercase(),
                ticket_link(app, t)
            ),
            ticket: Some(t.id),
            kind: "status",
            automatic: true,
            answers: None,
        },
        now,
    )?;
    Ok(())
}

/// The requester and contact watchers of a ticket, each once.
fn customer_addresses(conn: &mut DbConn, t: &Ticket) -> QueryResult<Vec<(String, String)>> {
    use crate::schema::ticket_watchers;
    let mut ids: Vec<i64> = t.requester_id.into_iter().collect();
    let watchers: Vec<Option<i64>> = ticket_watchers::table
        .filter(ticket_watchers::ticket_id.eq(t.id))
        .select(ticket_watchers::contact_id)
        .load(conn)?;
    for w in watchers.into_iter().flatten() {
        if !ids.contains(&w) {
            ids.push(w);
        }
    }
    let mut out = Vec::new();
    for id in ids {
        if let Some(a) = contact_address(conn, id)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// A staff user's address (for mail to technicians).
pub fn user_address(conn: &mut DbConn, id: i64) -> QueryResult<Option<(String, String)>> {
    users::table.find(id).select((users::email, users::name)).first(conn).optional()
}

// ---------------------------------------------------------------- sending

fn header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

fn mailbox(name: &str, address: &str) -> Result<Mailbox, JobError> {
    let addr = address.parse().map_err(|e| JobError::Fatal(format!("bad address {address:?}: {e}")))?;
    Ok(Mailbox::new(if name.is_empty() { None } else { Some(name.to_string()) }, addr))
}

/// Builds the message a queued job describes (the same bytes on every attempt, apart
/// from the Date).
pub fn build(app: &App, p: &serde_json::Value) -> Result<lettre::Message, JobError> {
    let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let message_id = s("message_id");
    if message_id.is_empty() {
        return Err(JobError::Fatal("payload lacks message_id".into()));
    }
    let from = mailbox("", &app.config.mail_from)?;
    let mut b = lettre::Message::builder()
        .from(from)
        .to(mailbox(&s("to_name"), &s("to"))?)
        .reply_to(mailbox("", &s("reply_to"))?)
        .subject(s("subject"))
        .message_id(Some(format!("<{message_id}>")))
        .date(app.clock.now().into())
        .raw_header(header(LOOP_HEADER, &loop_id(app)));
    let refs: Vec<String> = p
        .get("references")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).map(|x| format!("<{x}>")).collect())
        .unwrap_or_default();
    if !refs.is_empty() {
        b = b.references(refs.join(" "));
    }
    let irt = s("in_reply_to");
    if !irt.is_empty() {
        b = b.in_reply_to(format!("<{irt}>"));
    }
    if p.get("automatic").and_then(|v| v.as_bool()).unwrap_or(false) {
        b = b
            .raw_header(header("Auto-Submitted", "auto-replied"))
            .raw_header(header("X-Auto-Response-Suppress", "All"));
    }
    b.body(s("body")).map_err(|e| JobError::Fatal(format!("building the message: {e}")))
}

enum Sender {
    Smtp(Box<lettre::SmtpTransport>),
    Spool(std::path::PathBuf),
}

fn transport(app: &App) -> Result<&'static Sender, JobError> {
    static T: OnceLock<Result<Sender, String>> = OnceLock::new();
    let t = T.get_or_init(|| match &app.config.smtp_url {
        // Sessions are pooled and reused: a connection, greeting, EHLO (and TLS) per message
        // cost more than the message. A session the server dropped is noticed (NOOP) and
        // replaced; idle ones close after a minute.
        Some(url) => lettre::SmtpTransport::from_url(url)
            .map(|b| {
                let pool = PoolConfig::new()
                    .max_size(crate::jobs::PARALLEL as u32)
                    .idle_timeout(std::time::Duration::from_secs(60));
                Sender::Smtp(Box::new(b.timeout(Some(std::time::Duration::from_secs(20))).pool_config(pool).build()))
            })
            .map_err(|e| format!("WRENCH_SMTP_URL: {e}")),
        None => Ok(Sender::Spool(app.config.data_dir.join("mail-spool"))),
    });
    t.as_ref().map_err(|e| JobError::Retry(e.clone()))
}

fn safe_name(message_id: &str) -> String {
    message_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '@') { c } else { '_' })
        .collect()
}

/// Job handler: sends one queued message. Idempotent for the spool (same file name);
/// over SMTP a crash between sending and finishing the job repeats the same Message-ID.
/// The bytes of ticket mail are kept in the blob store first, so staff can download exactly
/// what went out (`mail_messages.raw_sha256`, as for received mail).
pub fn send(app: &App, payload: &serde_json::Value) -> Result<(), JobError> {
    let message = build(app, payload)?;
    let message_id = payload.get("message_id").and_then(|v| v.as_str()).unwrap_or("");
    let bytes = message.formatted();
    let row = payload.get("row").and_then(|v| v.as_i64());
    let keep = payload.get("keep_copy").and_then(|v| v.as_bool()).unwrap_or(false);
    let kept = if keep && row.is_some() {
        let sha = super::store::put_blob(&app.config.data_dir, &bytes)
            .map_err(|e| JobError::Retry(format!("keeping a copy of the message: {e}")))?;
        Some(sha)
    } else {
        None
    };
    match transport(app)? {
        Sender::Spool(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| JobError::Retry(format!("mail spool {}: {e}", dir.display())))?;
            let path = dir.join(format!("{}.eml", safe_name(message_id)));
            let tmp = dir.join(format!(".{}.tmp", safe_name(message_id)));
            std::fs::write(&tmp, &bytes)
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map_err(|e| JobError::Retry(format!("writing {}: {e}", path.display())))?;
        }
        Sender::Smtp(smtp) => {
            if let Err(e) = smtp.send_raw(message.envelope(), &bytes) {
                return Err(if e.is_permanent() {
                    JobError::Fatal(format!("the SMTP server refused the message: {e}"))
                } else {
                    JobError::Retry(format!("SMTP: {e}"))
                });
            }
        }
    }
    if let Some(row) = row {
        if let Ok(mut conn) = app.conn() {
            let _ = diesel::update(mail_messages::table.find(row))
                .set((
                    mail_messages::status.eq("sent"),
                    mail_messages::resolved_at.eq(app.now()),
                    mail_messages::raw_sha256.eq(kept),
                ))
                .execute(&mut conn);
        }
    }
    Ok(())
}
