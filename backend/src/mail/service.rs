//! Rules of the gateway: who a message is from, which ticket it belongs to, whether it is
//! trusted, and where it is filed — all in one transaction that first claims the message's
//! Message-ID, so a redelivered message is filed once and acknowledged only after commit.
//! Also the admin's quarantine (list, release, discard) and the address → queue routes.

use super::autoreply::{self, Automatic};
use super::bounce::{self, Report};
use super::parse::{self, Mailbox, ParsedMail};
use super::{outbound, store, threading};
use crate::accounts::auth::{Principal, Scope};
use crate::accounts::model::{Contact, User};
use crate::accounts::store as accounts;
use crate::app::App;
use crate::changelog;
use crate::db::{write_tx, DbConn};
use crate::error::{ServiceError, ServiceResult};
use crate::paging::{Page, PageRequest};
use crate::schema::{mail_attachments, mail_messages, ticket_entries, tickets};
use crate::tickets::model::{EntryKind, LinkKind, Status, Ticket};
use crate::tickets::service::{self as tickets_svc, NewTicket, ReplyInput};
use crate::tickets::store as tickets_store;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

pub const DEFAULT_MAX_BYTES: usize = 25 * 1024 * 1024;
/// Automatic acknowledgements one address receives per day at most.
pub const ACKS_PER_DAY: i64 = 10;
pub const ROUTE_PREFIX: &str = "mail.route.";

/// The inbound size limit (`WRENCH_MAIL_MAX_BYTES`, default 25 MB).
pub fn max_bytes() -> usize {
    std::env::var("WRENCH_MAIL_MAX_BYTES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_MAX_BYTES)
}

/// What happened to a delivered message (the endpoint's JSON answer).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// accepted, duplicate, quarantined or dropped.
    pub status: &'static str,
    /// new_ticket, reply, follow_up, note, bounce, held, dropped.
    pub outcome: String,
    pub ticket: Option<i64>,
    pub message_id: String,
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the message is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("the message cannot be read: {0}")]
    Unparseable(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

enum FileError {
    Duplicate,
    Service(ServiceError),
}

impl From<diesel::result::Error> for FileError {
    fn from(e: diesel::result::Error) -> Self {
        FileError::Service(e.into())
    }
}

impl From<ServiceError> for FileError {
    fn from(e: ServiceError) -> Self {
        FileError::Service(e)
    }
}

fn io_err(what: &str, e: std::io::Error) -> ServiceError {
    ServiceError::internal(format!("{what}: {e}"))
}

fn receipt_of(m: &store::MailMessage, status: &'static str) -> Receipt {
    Receipt {
        status,
        outcome: m.kind.clone(),
        ticket: m.ticket_id,
        message_id: m.message_id.clone(),
        reason: (!m.reason.is_empty()).then(|| m.reason.clone()),
    }
}

// ---------------------------------------------------------------- ingest

/// Files one raw message delivered for `recipient` (the envelope recipient, if known).
pub fn ingest(app: &App, raw: &[u8], recipient: Option<&str>) -> Result<Receipt, IngestError> {
    let limit = max_bytes();
    if raw.len() > limit {
        return Err(IngestError::TooLarge(limit));
    }
    let raw_sha = crate::keys::sha256_hex(raw);
    let parsed = match parse::parse(raw) {
        Ok(p) => p,
        Err(e) => {
            record_rejected(app, &format!("sha256:{raw_sha}"), raw, recipient, &e.to_string(), None)?;
            return Err(IngestError::Unparseable(e.to_string()));
        }
    };
    let key = parsed.message_id.clone().unwrap_or_else(|| format!("sha256:{raw_sha}"));
    {
        let mut conn = app.conn()?;
        if let Some(m) = store::by_message_id(&mut conn, &key).map_err(ServiceError::from)? {
            return Ok(receipt_of(&m, "duplicate"));
        }
    }
    // The message and its attachments are content-addressed: writing them before the
    // transaction is harmless, and they are durable before the commit references them.
    let mut blobs: Vec<&[u8]> = vec![raw];
    blobs.extend(parsed.attachments.iter().map(|a| a.bytes.as_slice()));
    let mut shas = store::put_blobs(&app.config.data_dir, &blobs).map_err(|e| io_err("storing the message", e))?;
    shas.remove(0);
    Ok(file(app, &parsed, &key, &raw_sha, raw.len(), recipient, None, &shas)?)
}

/// Records a message refused before filing (unparseable, too large) in the quarantine list.
pub fn record_rejected(
    app: &App,
    key: &str,
    raw: &[u8],
    recipient: Option<&str>,
    reason: &str,
    size: Option<usize>,
) -> ServiceResult<()> {
    let head = parse::parse(raw).ok();
    let sha = if size.is_none() {
        Some(store::put_blob(&app.config.data_dir, raw).map_err(|e| io_err("storing the message", e))?)
    } else {
        None
    };
    let mut conn = app.conn()?;
    let now = app.now();
    let r = diesel::insert_into(mail_messages::table)
        .values((
            mail_messages::direction.eq("in"),
            mail_messages::message_id.eq(key),
            mail_messages::kind.eq("held"),
            mail_messages::status.eq(if size.is_some() { "rejected" } else { "held" }),
            mail_messages::reason.eq(reason),
            mail_messages::from_addr.eq(head
                .as_ref()
                .and_then(|h| h.from.as_ref())
                .map(|f| f.address.clone())
                .unwrap_or_default()),
            mail_messages::to_addr.eq(recipient.unwrap_or("")),
            mail_messages::subject.eq(head.as_ref().map(|h| h.subject.clone()).unwrap_or_default()),
            mail_messages::raw_sha256.eq(sha),
            mail_messages::size.eq(size.unwrap_or(raw.len()) as i64),
            mail_messages::created_at.eq(now),
        ))
        .execute(&mut *conn);
    match r {
        Ok(_) => Ok(()),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Claims the Message-ID (the unique row), decides and files, in one transaction.
#[allow(clippy::too_many_arguments)]
fn file(
    app: &App,
    parsed: &ParsedMail,
    key: &str,
    raw_sha: &str,
    size: usize,
    recipient: Option<&str>,
    released: Option<i64>,
    blobs: &[String],
) -> ServiceResult<Receipt> {
    let mut conn = app.conn()?;
    let now = app.now();
    let result = write_tx(&mut conn, |conn| {
        let row = match released {
            Some(id) => id,
            None => {
                let r = diesel::insert_into(mail_messages::table)
                    .values((
                        mail_messages::direction.eq("in"),
                        mail_messages::message_id.eq(key),
                        mail_messages::kind.eq("processing"),
                        mail_messages::status.eq("processing"),
                        mail_messages::from_addr.eq(parsed
                            .from
                            .as_ref()
                            .map(|f| f.address.clone())
                            .unwrap_or_default()),
                        mail_messages::to_addr.eq(recipient.unwrap_or("").to_lowercase()),
                        mail_messages::subject.eq(&parsed.subject),
                        mail_messages::raw_sha256.eq(raw_sha),
                        mail_messages::size.eq(size as i64),
                        mail_messages::created_at.eq(now),
                    ))
                    .returning(mail_messages::id)
                    .get_result::<i64>(conn);
                match r {
                    Ok(id) => id,
                    Err(e) if crate::db::is_unique_violation(&e) => return Err(FileError::Duplicate),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let outcome = decide_and_file(conn, app, parsed, recipient, released.is_some(), blobs, now)?;
        diesel::update(mail_messages::table.find(row))
            .set((
                mail_messages::ticket_id.eq(outcome.ticket),
                mail_messages::entry_id.eq(outcome.entry),
                mail_messages::kind.eq(&outcome.kind),
                mail_messages::status.eq(outcome.status),
                mail_messages::reason.eq(outcome.reason.clone().unwrap_or_default()),
            ))
            .execute(conn)?;
        Ok(Receipt {
            status: match outcome.status {
                "held" => "quarantined",
                "dropped" => "dropped",
                _ => "accepted",
            },
            outcome: outcome.kind,
            ticket: outcome.ticket,
            message_id: key.to_string(),
            reason: outcome.reason,
        })
    });
    match result {
        Ok(r) => {
            app.committed();
            Ok(r)
        }
        Err(FileError::Duplicate) => {
            let m = store::by_message_id(&mut conn, key)?.ok_or(ServiceError::NotFound("message"))?;
            Ok(receipt_of(&m, "duplicate"))
        }
        Err(FileError::Service(e)) => Err(e),
    }
}

struct Outcome {
    ticket: Option<i64>,
    entry: Option<i64>,
    kind: String,
    /// filed, held or dropped
    status: &'static str,
    reason: Option<String>,
}

impl Outcome {
    fn filed(kind: &str, ticket: i64, entry: i64) -> Self {
        Outcome { ticket: Some(ticket), entry: Some(entry), kind: kind.into(), status: "filed", reason: None }
    }
    fn held(reason: &str) -> Self {
        Outcome { ticket: None, entry: None, kind: "held".into(), status: "held", reason: Some(reason.into()) }
    }
    fn dropped(reason: &str) -> Self {
        Outcome { ticket: None, entry: None, kind: "dropped".into(), status: "dropped", reason: Some(reason.into()) }
    }
}

enum Sender {
    Staff(User),
    Contact(Contact),
    /// Nobody Wrench knows: filed without a company, named by their address.
    Stranger(Mailbox),
}

impl Sender {
    fn principal(&self) -> Principal {
        match self {
            Sender::Staff(u) => Principal::staff(u, Scope::Full),
            Sender::Contact(c) => Principal::contact(c),
            Sender::Stranger(_) => Principal::System,
        }
    }
}

/// Does an `Authentication-Results` header from the trusted receiving MTA say DMARC passed
/// for the From domain (or DKIM passed with a signing domain aligned with it)?
pub fn authenticated(m: &ParsedMail, trusted: Option<&str>, from_domain: &str) -> bool {
    let Some(trusted) = trusted.map(str::trim).filter(|t| !t.is_empty()) else { return false };
    let prop = |r: &str, name: &str| -> Option<String> {
        r.split_whitespace()
            .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim_matches(['"', ';', ')', '(']).to_ascii_lowercase())
    };
    let aligned = |d: &str| {
        d == from_domain || from_domain.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{from_domain}"))
    };
    for v in m.headers_named("authentication-results") {
        let mut parts = v.split(';');
        let id = parts.next().unwrap_or("").split_whitespace().next().unwrap_or("");
        if !id.eq_ignore_ascii_case(trusted) {
            continue;
        }
        for r in parts {
            let r = r.trim().to_ascii_lowercase();
            let verdict = r.split_whitespace().next().unwrap_or("");
            if verdict == "dmarc=pass" {
                match prop(&r, "header.from") {
                    Some(d) if !aligned(&d) => continue,
                    _ => return true,
                }
            }
            if verdict == "dkim=pass" {
                let d = prop(&r, "header.d")
                    .or_else(|| prop(&r, "header.i").map(|i| i.rsplit('@').next().unwrap_or("").to_string()));
                if d.is_some_and(|d| aligned(&d)) {
                    return true;
                }
            }
        }
    }
    false
}

/// The queue an envelope recipient routes to (`mail.route.ADDRESS` settings), if any.
fn route(conn: &mut DbConn, recipient: Option<&str>) -> QueryResult<Option<i64>> {
    let Some(r) = recipient.map(|r| r.trim().to_lowercase()).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let base = match r.rsplit_once('@') {
        Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
        None => r.clone(),
    };
    for key in [base.as_str(), "default"] {
        if let Some(v) = crate::settings::get(conn, &format!("{ROUTE_PREFIX}{key}"))? {
            if let Ok(q) = v.parse::<i64>() {
                if accounts::queue(conn, q)?.is_some() {
                    return Ok(Some(q));
                }
            }
        }
    }
    Ok(None)
}

fn allowed_on(conn: &mut DbConn, sender: &Sender, t: &Ticket) -> QueryResult<bool> {
    Ok(match sender {
        Sender::Staff(_) => true,
        Sender::Contact(c) => t.company_id == Some(c.company_id),
        Sender::Stranger(m) => t.company_id.is_none() && store::sender_wrote_on(conn, t.id, &m.address)?,
    })
}

/// An internal note written by the gateway, labelled with who it came from.
fn note(conn: &mut DbConn, ticket_id: i64, label: &str, body: &str, now: NaiveDateTime) -> ServiceResult<i64> {
    let body = if body.trim().is_empty() { "(empty message)" } else { body };
    let entry = tickets_svc::insert_entry(conn, ticket_id, EntryKind::Note, &Principal::System, body, None, now)?;
    diesel::update(ticket_entries::table.find(entry)).set(ticket_entries::author_label.eq(label)).execute(conn)?;
    tickets_svc::event(conn, ticket_id, &Principal::System, "note", None, Some(&entry.to_string()), now)?;
    diesel::update(tickets::table.find(ticket_id)).set(tickets::updated_at.eq(now)).execute(conn)?;
    changelog::record(conn, "ticket", ticket_id, now)?;
    changelog::record(conn, "entry", entry, now)?;
    Ok(entry)
}

fn first_entry(conn: &mut DbConn, ticket_id: i64) -> QueryResult<i64> {
    ticket_entries::table
        .filter(ticket_entries::ticket_id.eq(ticket_id))
        .order(ticket_entries::id.desc())
        .select(ticket_entries::id)
        .first(conn)
}

/// A reply from someone with no contact record, on a ticket they opened by mail.
fn stranger_reply(
    conn: &mut DbConn,
    app: &App,
    t: Ticket,
    label: &str,
    body: &str,
    html: Option<&str>,
    now: NaiveDateTime,
) -> ServiceResult<(i64, i64, &'static str)> {
    if t.status() == Status::Closed {
        let id = tickets_svc::create_in(
            conn,
            app,
            &Principal::System,
            NewTicket { subject: t.subject.clone(), body: body.into(), source: "mail".into(), ..Default::default() },
            now,
        )?;
        tickets_svc::insert_link(conn, id, t.id, LinkKind::FollowUpOf, now)?;
        let entry = first_entry(conn, id)?;
        diesel::update(ticket_entries::table.find(entry))
            .set((ticket_entries::author_label.eq(label), ticket_entries::body_html.eq(html)))
            .execute(conn)?;
        return Ok((id, entry, "follow_up"));
    }
    let entry = tickets_svc::insert_entry(conn, t.id, EntryKind::Reply, &Principal::System, body, html, now)?;
    diesel::update(ticket_entries::table.find(entry)).set(ticket_entries::author_label.eq(label)).execute(conn)?;
    tickets_svc::event(conn, t.id, &Principal::System, "reply", None, Some(&entry.to_string()), now)?;
    if matches!(t.status(), Status::Resolved | Status::WaitingOnCustomer) {
        tickets_svc::set_status(conn, app, &Principal::System, &t, Status::Open, now)?;
    }
    diesel::update(tickets::table.find(t.id))
        .set((tickets::updated_at.eq(now), tickets::last_activity_at.eq(now)))
        .execute(conn)?;
    changelog::record(conn, "ticket", t.id, now)?;
    changelog::record(conn, "entry", entry, now)?;
    Ok((t.id, entry, "reply"))
}

/// People on Cc from the requester's company become watchers (new contacts are created for
/// addresses in the company's domains).
fn cc_watchers(conn: &mut DbConn, parsed: &ParsedMail, t: &Ticket, now: NaiveDateTime) -> ServiceResult<()> {
    let Some(company) = t.company_id else { return Ok(()) };
    for m in parsed.cc.iter().chain(parsed.to.iter()) {
        let contact = match accounts::contact_by_email(conn, &m.address)? {
            Some(c) => Some(c.id).filter(|_| c.company_id == company && c.active),
            None => match accounts::company_by_domain(conn, m.domain())? {
                Some(co) if co.id == company => {
                    let name = if m.name.is_empty() { m.address.clone() } else { m.name.clone() };
                    Some(crate::accounts::service::insert_contact(conn, company, &name, &m.address, "", None, now)?)
                }
                _ => None,
            },
        };
        if let Some(c) = contact.filter(|c| Some(*c) != t.requester_id) {
            tickets_svc::watch_as_contact(conn, t.id, c)?;
        }
    }
    Ok(())
}

fn file_attachments(
    conn: &mut DbConn,
    parsed: &ParsedMail,
    blobs: &[String],
    ticket_id: i64,
    entry_id: i64,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    let mut html = parsed.html.clone();
    for (a, sha) in parsed.attachments.iter().zip(blobs) {
        let id: i64 = diesel::insert_into(mail_attachments::table)
            .values((
                mail_attachments::ticket_id.eq(ticket_id),
                mail_attachments::entry_id.eq(entry_id),
                mail_attachments::filename.eq(&a.filename),
                mail_attachments::content_type.eq(&a.content_type),
                mail_attachments::content_id.eq(&a.content_id),
                mail_attachments::size.eq(a.bytes.len() as i64),
                mail_attachments::sha256.eq(sha),
                mail_attachments::created_at.eq(now),
            ))
            .returning(mail_attachments::id)
            .get_result(conn)?;
        if let (Some(h), Some(cid)) = (html.as_mut(), a.content_id.as_ref()) {
            *h = h.replace(&format!("cid:{cid}"), &format!("/mail/attachments/{id}"));
        }
    }
    if html != parsed.html && html.is_some() {
        diesel::update(ticket_entries::table.find(entry_id)).set(ticket_entries::body_html.eq(html)).execute(conn)?;
    }
    Ok(())
}

fn file_report(
    conn: &mut DbConn,
    app: &App,
    parsed: &ParsedMail,
    report: &Report,
    now: NaiveDateTime,
) -> ServiceResult<Outcome> {
    let mut stamped = threading::stamped_ids_in(&app.keys, &parsed.report_text);
    for r in parsed.referenced_ids() {
        if let Some(t) = threading::verify_stamp(&app.keys, &r) {
            if !stamped.iter().any(|(s, _)| *s == r) {
                stamped.push((r, t));
            }
        }
    }
    let Some((original_id, ticket)) = stamped.first().cloned() else {
        return Ok(Outcome::dropped("backscatter: a report about mail Wrench never sent"));
    };
    let original = store::by_message_id(conn, &original_id)?;
    let from = parsed.from.as_ref().map(|f| f.display()).unwrap_or_else(|| "mail system".into());
    let (text, hard_addrs) = match report {
        Report::Failed(failures) => {
            let mut lines = Vec::new();
            let mut hard = Vec::new();
            for f in failures {
                let addr = f
                    .recipient
                    .clone()
                    .filter(|r| r.contains('@'))
                    .or_else(|| original.as_ref().map(|o| o.to_addr.clone()))
                    .unwrap_or_default()
                    .to_lowercase();
                lines.push(format!(
                    "Delivery failure{}: mail to {} could not be delivered, {}{}{}.",
                    if f.hard { " (permanent)" } else { "" },
                    if addr.is_empty() { "a recipient" } else { &addr },
                    f.reason.label(),
                    f.status.as_deref().map(|s| format!(" (status {s})")).unwrap_or_default(),
                    if f.diagnostic.is_empty() { String::new() } else { format!(": {}", f.diagnostic) },
                ));
                if f.hard && !addr.is_empty() {
                    hard.push((addr, f.reason.label(), f.status.clone().unwrap_or_default()));
                }
            }
            (lines.join("\n"), hard)
        }
        Report::Delivered => ("Delivery report: the mail was delivered.".to_string(), Vec::new()),
        Report::Feedback => ("A recipient's mail provider reported the mail as abuse/spam.".to_string(), Vec::new()),
        _ => (String::new(), Vec::new()),
    };
    for (addr, reason, status) in &hard_addrs {
        store::mark_undeliverable(conn, addr, &format!("hard bounce: {reason}"), status, ticket, now)?;
    }
    match ticket {
        Some(t) if tickets_store::ticket(conn, t)?.is_some() => {
            let entry = note(conn, t, &format!("Delivery report from {from}"), &text, now)?;
            Ok(Outcome::filed("bounce", t, entry))
        }
        _ => Ok(Outcome {
            ticket: None,
            entry: None,
            kind: "bounce".into(),
            status: "filed",
            reason: Some(text).filter(|t| !t.is_empty()),
        }),
    }
}

/// The decision for one message, inside the filing transaction.
fn decide_and_file(
    conn: &mut DbConn,
    app: &App,
    parsed: &ParsedMail,
    recipient: Option<&str>,
    released: bool,
    blobs: &[String],
    now: NaiveDateTime,
) -> ServiceResult<Outcome> {
    let automatic = autoreply::classify(parsed, &outbound::loop_id(app), &app.config.mail_from);
    if automatic == Automatic::Own {
        return Ok(Outcome::dropped("Wrench's own mail came back"));
    }
    let report = if automatic == Automatic::Yes { bounce::classify(parsed) } else { Report::None };
    if matches!(report, Report::Failed(_) | Report::Delivered | Report::Feedback) {
        return file_report(conn, app, parsed, &report, now);
    }
    let Some(from) = parsed.from.clone() else { return Ok(Outcome::held("the message has no From address")) };

    // Who is writing: From decides (never Reply-To).
    let own_domain = outbound::own_domain(app);
    let staff_user = accounts::user_by_email(conn, &from.address)?.filter(|u| u.active);
    let claims_msp = staff_user.is_some() || from.domain() == own_domain;
    if claims_msp && !released && !authenticated(parsed, app.config.trusted_authserv_id.as_deref(), from.domain()) {
        return Ok(Outcome::held(
            "claims a staff or MSP address but carries no DMARC or aligned DKIM pass from the trusted receiving server",
        ));
    }
    let sender = match staff_user {
        Some(u) => Sender::Staff(u),
        None => match accounts::contact_by_email(conn, &from.address)? {
            Some(c) if c.active => Sender::Contact(c),
            Some(_) => Sender::Stranger(from.clone()),
            None => match accounts::company_by_domain(conn, from.domain())? {
                Some(company) if !claims_msp => {
                    let name = if from.name.is_empty() { from.address.clone() } else { from.name.clone() };
                    let id = crate::accounts::service::insert_contact(
                        conn,
                        company.id,
                        &name,
                        &from.address,
                        "",
                        None,
                        now,
                    )?;
                    Sender::Contact(accounts::contact(conn, id)?.ok_or(ServiceError::NotFound("contact"))?)
                }
                _ => Sender::Stranger(from.clone()),
            },
        },
    };

    // Which ticket: (1) signed token, (2) known Message-IDs, (3) subject tag if allowed.
    let mut addresses: Vec<String> = recipient.map(|r| vec![r.to_string()]).unwrap_or_default();
    addresses.extend(parsed.to.iter().chain(parsed.cc.iter()).map(|m| m.address.clone()));
    for h in ["delivered-to", "x-original-to", "envelope-to"] {
        addresses.extend(parsed.headers_named(h).map(|v| v.trim().trim_matches(['<', '>']).to_string()));
    }
    let refs = parsed.referenced_ids();
    let mut found = addresses
        .iter()
        .find_map(|a| threading::token_in_address(&app.keys, a))
        .or_else(|| refs.iter().find_map(|r| threading::token_in_message_id(&app.keys, r)));
    if found.is_none() {
        found = store::ticket_of_ids(conn, &refs)?;
    }
    let mut by_tag = false;
    if found.is_none() {
        if let Some(n) = threading::subject_tag(&parsed.subject) {
            if let Some(t) = tickets_store::ticket(conn, n)? {
                if allowed_on(conn, &sender, &t)? {
                    found = Some(n);
                    by_tag = true;
                }
            }
        }
    }
    let ticket = match found {
        Some(n) => match tickets_store::lock(conn, n)? {
            Some(t) => Some(tickets_svc::follow_merges(conn, t)?),
            None => None,
        },
        None => None,
    };
    let label = from.display();
    let shown = threading::trim_reply(&parsed.text);

    if let Some(t) = ticket {
        let allowed = by_tag || allowed_on(conn, &sender, &t)?;
        if automatic == Automatic::Yes {
            let entry = note(conn, t.id, &format!("Automatic reply from {label}"), &shown, now)?;
            file_attachments(conn, parsed, blobs, t.id, entry, now)?;
            return Ok(Outcome::filed("note", t.id, entry));
        }
        if !allowed {
            let who = match &sender {
                Sender::Contact(_) => "a contact of another company",
                _ => "someone not on this ticket",
            };
            let entry = note(conn, t.id, &format!("Mail from {label} ({who})"), &shown, now)?;
            file_attachments(conn, parsed, blobs, t.id, entry, now)?;
            return Ok(Outcome::filed("note", t.id, entry));
        }
        let input = ReplyInput { body: shown.clone(), body_html: parsed.html.clone(), ..Default::default() };
        let (ticket_id, entry, kind) = match &sender {
            Sender::Staff(_) if t.status() == Status::Closed => {
                (t.id, note(conn, t.id, &format!("Mail from {label} (ticket closed)"), &shown, now)?, "note")
            }
            Sender::Stranger(_) => stranger_reply(conn, app, t.clone(), &label, &shown, parsed.html.as_deref(), now)?,
            s => {
                let was = t.id;
                let filed = tickets_svc::reply_in(conn, app, &s.principal(), t.clone(), input, now)?;
                (filed.ticket_id, filed.entry_id, if filed.ticket_id == was { "reply" } else { "follow_up" })
            }
        };
        file_attachments(conn, parsed, blobs, ticket_id, entry, now)?;
        if let (Sender::Contact(_), Some(t)) = (&sender, tickets_store::ticket(conn, ticket_id)?) {
            cc_watchers(conn, parsed, &t, now)?;
        }
        return Ok(Outcome::filed(kind, ticket_id, entry));
    }

    // A new ticket. Robots answering nobody, and vacation notices, open none.
    if automatic == Automatic::Yes {
        let auto_reply = parsed.header("auto-submitted").is_some_and(|v| v.to_ascii_lowercase().contains("replied"))
            || matches!(report, Report::Vacation)
            || parsed.header("x-autoreply").is_some()
            || parsed.header("x-autorespond").is_some();
        if auto_reply {
            return Ok(Outcome::dropped("an automatic reply that belongs to no ticket"));
        }
    }
    let who = sender.principal();
    let input = NewTicket {
        subject: threading::clean_subject(&parsed.subject),
        body: if parsed.text.trim().is_empty() { "(empty message)".into() } else { parsed.text.trim_end().to_string() },
        source: "mail".into(),
        ..Default::default()
    };
    let id = tickets_svc::create_in(conn, app, &who, input, now)?;
    let entry = first_entry(conn, id)?;
    if let Sender::Stranger(m) = &sender {
        diesel::update(ticket_entries::table.find(entry))
            .set(ticket_entries::author_label.eq(m.display()))
            .execute(conn)?;
    }
    if parsed.html.is_some() {
        diesel::update(ticket_entries::table.find(entry))
            .set(ticket_entries::body_html.eq(&parsed.html))
            .execute(conn)?;
    }
    if !matches!(sender, Sender::Stranger(_)) {
        if let Some(q) = route(conn, recipient)? {
            diesel::update(tickets::table.find(id)).set(tickets::queue_id.eq(q)).execute(conn)?;
        }
    }
    file_attachments(conn, parsed, blobs, id, entry, now)?;
    let t = tickets_store::ticket(conn, id)?.ok_or(ServiceError::NotFound("ticket"))?;
    cc_watchers(conn, parsed, &t, now)?;
    if automatic == Automatic::No && !matches!(sender, Sender::Staff(_)) {
        let since = now - Duration::days(1);
        if store::acks_since(conn, &from.address, since)? < ACKS_PER_DAY {
            outbound::acknowledge(conn, app, &t, &from.address, &from.name, parsed.message_id.as_deref(), now)?;
        }
    }
    Ok(Outcome::filed("new_ticket", id, entry))
}

// ---------------------------------------------------------------- quarantine

pub const QUARANTINE_STATES: [&str; 5] = ["held", "dropped", "rejected", "released", "discarded"];

/// Held, rejected and dropped mail, newest first (admins). With `include_resolved`, also
/// released and discarded messages.
pub fn quarantine(
    app: &App,
    who: &Principal,
    include_resolved: bool,
    page: &PageRequest,
) -> ServiceResult<Page<store::MailMessage>> {
    who.require_admin()?;
    let states: Vec<&str> = if include_resolved { QUARANTINE_STATES.to_vec() } else { QUARANTINE_STATES[..3].to_vec() };
    let mut conn = app.conn()?;
    let offset = page.offset()?;
    let total: i64 = mail_messages::table
        .filter(mail_messages::direction.eq("in"))
        .filter(mail_messages::status.eq_any(&states))
        .count()
        .get_result(&mut conn)?;
    let rows = mail_messages::table
        .filter(mail_messages::direction.eq("in"))
        .filter(mail_messages::status.eq_any(&states))
        .order(mail_messages::id.desc())
        .offset(offset)
        .limit(page.first + 1)
        .select(store::MailMessage::as_select())
        .load(&mut conn)?;
    Ok(Page::from_offset(rows, offset, page.first, total))
}

fn held(conn: &mut DbConn, id: i64) -> ServiceResult<store::MailMessage> {
    let m = store::message(conn, id)?.ok_or(ServiceError::NotFound("held message"))?;
    if m.direction != "in" || m.status != "held" {
        return Err(ServiceError::Conflict(format!("message {id} is {}, not held", m.status)));
    }
    Ok(m)
}

/// Files a held message as it would have been filed had it passed the check.
pub fn release(app: &App, who: &Principal, id: i64) -> ServiceResult<Receipt> {
    who.require_admin()?;
    let m = {
        let mut conn = app.conn()?;
        held(&mut conn, id)?
    };
    let sha = m.raw_sha256.clone().ok_or_else(|| ServiceError::Conflict("the message was not kept".into()))?;
    let raw = store::get_blob(&app.config.data_dir, &sha).map_err(|e| io_err("reading the held message", e))?;
    let parsed = parse::parse(&raw).map_err(|e| ServiceError::Conflict(format!("the message cannot be read: {e}")))?;
    let recipient = Some(m.to_addr.clone()).filter(|r| !r.is_empty());
    let attachments: Vec<&[u8]> = parsed.attachments.iter().map(|a| a.bytes.as_slice()).collect();
    let blobs = store::put_blobs(&app.config.data_dir, &attachments).map_err(|e| io_err("storing an attachment", e))?;
    let r = file(app, &parsed, &m.message_id, &sha, raw.len(), recipient.as_deref(), Some(m.id), &blobs)?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        diesel::update(mail_messages::table.find(id))
            .set((mail_messages::resolved_at.eq(now), mail_messages::resolved_by.eq(who.user_id())))
            .execute(conn)?;
        crate::audit::record(conn, who, "mail.release", "mail_message", Some(id), &m.message_id, now)?;
        Ok::<_, ServiceError>(())
    })?;
    Ok(r)
}

/// Discards a held message for good (the raw message stays in the blob store).
pub fn discard(app: &App, who: &Principal, id: i64) -> ServiceResult<store::MailMessage> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let m = held(conn, id)?;
        diesel::update(mail_messages::table.find(id))
            .set((
                mail_messages::status.eq("discarded"),
                mail_messages::resolved_at.eq(now),
                mail_messages::resolved_by.eq(who.user_id()),
            ))
            .execute(conn)?;
        crate::audit::record(conn, who, "mail.discard", "mail_message", Some(id), &m.message_id, now)?;
        Ok::<_, ServiceError>(())
    })?;
    store::message(&mut conn, id)?.ok_or(ServiceError::NotFound("message"))
}

// ---------------------------------------------------------------- routes, attachments

/// Routes mail for `address` (an envelope recipient, or `default`) to a queue; `None` removes it.
pub fn set_route(app: &App, who: &Principal, address: &str, queue_id: Option<i64>) -> ServiceResult<()> {
    who.require_admin()?;
    let address = address.trim().to_lowercase();
    if address != "default" && !address.contains('@') {
        return Err(ServiceError::invalid("address", "must be an email address or \"default\""));
    }
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let key = format!("{ROUTE_PREFIX}{address}");
        match queue_id {
            Some(q) => {
                if accounts::queue(conn, q)?.is_none() {
                    return Err(ServiceError::invalid("queueId", "no such queue"));
                }
                crate::settings::set(conn, &key, &q.to_string())?;
            }
            None => {
                diesel::delete(crate::schema::settings::table.find(&key)).execute(conn)?;
            }
        }
        crate::audit::record(conn, who, "mail.route", "setting", None, &format!("{address} -> {queue_id:?}"), now)?;
        Ok(())
    })
}

pub fn routes(app: &App, who: &Principal) -> ServiceResult<Vec<(String, i64)>> {
    who.require_admin()?;
    use crate::schema::settings;
    let mut conn = app.conn()?;
    let rows: Vec<(String, String)> = settings::table
        .filter(settings::key.like(format!("{ROUTE_PREFIX}%")))
        .order(settings::key)
        .select((settings::key, settings::value))
        .load(&mut conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(ROUTE_PREFIX)?.to_string(), v.parse().ok()?)))
        .collect())
}

/// The attachments of a ticket the caller may see.
pub fn attachments(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<store::MailAttachment>> {
    let mut conn = app.conn()?;
    let t = tickets_svc::visible(&mut conn, who, number)?;
    attachments_in(&mut conn, who, t.id)
}

fn attachments_in(conn: &mut DbConn, who: &Principal, ticket_id: i64) -> ServiceResult<Vec<store::MailAttachment>> {
    let mut rows = store::attachments_of(conn, ticket_id)?;
    if !who.is_staff() {
        // Attachments of internal notes (mail filed as a note) are staff-only.
        let notes: Vec<i64> = ticket_entries::table
            .filter(ticket_entries::ticket_id.eq(ticket_id))
            .filter(ticket_entries::kind.eq("note"))
            .select(ticket_entries::id)
            .load(conn)?;
        rows.retain(|a| a.entry_id.is_none_or(|e| !notes.contains(&e)));
    }
    Ok(rows)
}

fn mail_in(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<store::MailMessage>> {
    mail_messages::table
        .filter(mail_messages::ticket_id.eq(ticket_id))
        .order(mail_messages::id)
        .select(store::MailMessage::as_select())
        .load(conn)
}

/// What a ticket page shows of its mail, with one visibility check: the attachments the
/// caller may see, and (staff only; empty for contacts) every message received or sent.
pub fn of_ticket(
    app: &App,
    who: &Principal,
    number: i64,
) -> ServiceResult<(Vec<store::MailAttachment>, Vec<store::MailMessage>)> {
    let mut conn = app.conn()?;
    let t = tickets_svc::visible(&mut conn, who, number)?;
    let files = attachments_in(&mut conn, who, t.id)?;
    let mail = if who.is_staff() { mail_in(&mut conn, t.id)? } else { Vec::new() };
    Ok((files, mail))
}

/// One attachment's metadata and bytes, if the caller may see its ticket.
pub fn download(app: &App, who: &Principal, id: i64) -> ServiceResult<(store::MailAttachment, Vec<u8>)> {
    who.require_signed_in()?;
    let a = {
        let mut conn = app.conn()?;
        store::attachment(&mut conn, id)?.ok_or(ServiceError::NotFound("attachment"))?
    };
    let visible = attachments(app, who, a.ticket_id).map_err(|_| ServiceError::NotFound("attachment"))?;
    if !visible.iter().any(|v| v.id == id) {
        return Err(ServiceError::NotFound("attachment"));
    }
    let bytes = store::get_blob(&app.config.data_dir, &a.sha256).map_err(|e| io_err("reading an attachment", e))?;
    Ok((a, bytes))
}

/// A message exactly as it arrived or was sent (an `.eml`), for staff who may see its ticket;
/// mail on no ticket (the quarantine list) is for admins. Contacts never get it: the
/// original carries headers and parts (notes' attachments, other recipients) the portal
/// does not show. Anything else is "not found", so ids cannot be probed.
pub fn raw_message(app: &App, who: &Principal, id: i64) -> ServiceResult<(store::MailMessage, Vec<u8>)> {
    who.require_signed_in()?;
    let not_found = || ServiceError::NotFound("message");
    if !who.is_staff() {
        return Err(not_found());
    }
    let mut conn = app.conn()?;
    let m = store::message(&mut conn, id)?.ok_or_else(not_found)?;
    let allowed =
        who.require_admin().is_ok() || m.ticket_id.is_some_and(|t| tickets_svc::visible(&mut conn, who, t).is_ok());
    drop(conn);
    if !allowed {
        return Err(not_found());
    }
    let sha = m.raw_sha256.clone().ok_or_else(not_found)?;
    let raw = store::get_blob(&app.config.data_dir, &sha).map_err(|e| io_err("reading the original message", e))?;
    Ok((m, raw))
}

/// Every mail message of a ticket, sent and received, oldest first (staff).
pub fn ticket_mail(app: &App, who: &Principal, number: i64) -> ServiceResult<Vec<store::MailMessage>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    let t = tickets_svc::visible(&mut conn, who, number)?;
    Ok(mail_in(&mut conn, t.id)?)
}

/// Is this address flagged undeliverable (a hard bounce)?
pub fn undeliverable(app: &App, who: &Principal, email: &str) -> ServiceResult<bool> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(store::is_undeliverable(&mut conn, &email.trim().to_lowercase())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_trusted_authserv_id_counts() {
        let mail =
            |ar: &str| parse::parse(format!("From: tina@msp.test\r\n{ar}Subject: x\r\n\r\nb").as_bytes()).unwrap();
        let pass = mail("Authentication-Results: mx.msp.test; spf=pass; dkim=pass header.d=msp.test; dmarc=pass header.from=msp.test\r\n");
        assert!(authenticated(&pass, Some("mx.msp.test"), "msp.test"));
        assert!(!authenticated(&pass, Some("other.example"), "msp.test"));
        assert!(!authenticated(&pass, None, "msp.test"));
        let fail = mail("Authentication-Results: mx.msp.test; dmarc=fail header.from=msp.test\r\n");
        assert!(!authenticated(&fail, Some("mx.msp.test"), "msp.test"));
        let dkim_other = mail("Authentication-Results: mx.msp.test; dkim=pass header.d=evil.example\r\n");
        assert!(!authenticated(&dkim_other, Some("mx.msp.test"), "msp.test"));
        let dkim_aligned = mail("Authentication-Results: mx.msp.test 1; dkim=pass header.i=@mail.msp.test\r\n");
        assert!(authenticated(&dkim_aligned, Some("mx.msp.test"), "msp.test"));
    }
}
