//! Diesel queries for the mail gateway, and the content-addressed blob store (raw
//! messages and attachments under `DATA_DIR/files/ab/SHA256`, written once, never changed).

use crate::db::DbConn;
use crate::schema::{mail_attachments, mail_messages, mail_undeliverable};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_messages)]
pub struct MailMessage {
    pub id: i64,
    pub direction: String,
    pub message_id: String,
    pub ticket_id: Option<i64>,
    pub entry_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub from_addr: String,
    pub to_addr: String,
    pub subject: String,
    pub raw_sha256: Option<String>,
    pub size: i64,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
    pub resolved_by: Option<i64>,
}

impl MailMessage {
    /// Where staff download the message as it arrived or was sent (an `.eml`), if it was kept.
    pub fn raw_url(&self) -> Option<String> {
        self.raw_sha256.as_ref().map(|_| format!("/mail/messages/{}/raw", self.id))
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_attachments)]
pub struct MailAttachment {
    pub id: i64,
    pub ticket_id: i64,
    pub entry_id: Option<i64>,
    pub filename: String,
    pub content_type: String,
    pub content_id: Option<String>,
    pub size: i64,
    pub sha256: String,
    pub created_at: NaiveDateTime,
}

// ---------------------------------------------------------------- blobs

fn blob_path(data_dir: &Path, sha: &str) -> PathBuf {
    let prefix = sha.get(..2).unwrap_or("00");
    data_dir.join("files").join(prefix).join(sha)
}

/// Stores bytes under their SHA-256 and returns the hash; on disk for good when it
/// returns. See `put_blobs`.
pub fn put_blob(data_dir: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let mut shas = put_blobs(data_dir, &[bytes])?;
    shas.pop().ok_or_else(|| std::io::Error::other("no blob stored"))
}

/// Stores several blobs (a message and its attachments) under their SHA-256 and returns
/// the hashes in order. Every one is on disk for good when this returns, so a commit may
/// reference them.
///
/// A new blob is written to a temporary file and renamed into place; then all files and
/// their directories are synced, so one journal commit carries them all rather than one
/// per file. A blob already present is kept when it is whole (length and hash match) and
/// written again otherwise (a crash between the rename and the sync); it is synced too, in
/// case the attempt that wrote it crashed before syncing.
pub fn put_blobs(data_dir: &Path, blobs: &[&[u8]]) -> std::io::Result<Vec<String>> {
    let mut shas: Vec<String> = Vec::with_capacity(blobs.len());
    let mut files: Vec<PathBuf> = Vec::new();
    for bytes in blobs {
        let sha = crate::keys::sha256_hex(bytes);
        let path = blob_path(data_dir, &sha);
        if !shas.contains(&sha) {
            if !intact(&path, &sha, bytes.len()) {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let tmp = path.with_extension(format!("tmp{}", crate::keys::random_token(6)));
                std::fs::File::create(&tmp)?.write_all(bytes)?;
                std::fs::rename(&tmp, &path)?;
            }
            files.push(path);
        }
        shas.push(sha);
    }
    let mut dirs: Vec<&Path> = Vec::new();
    for path in &files {
        std::fs::File::open(path)?.sync_all()?;
        if let Some(parent) = path.parent().filter(|p| !dirs.contains(p)) {
            dirs.push(parent);
        }
    }
    for dir in dirs {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(shas)
}

/// Is the blob at `path` whole (its length and hash match its name)?
fn intact(path: &Path, sha: &str, len: usize) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == len as u64 => std::fs::read(path).is_ok_and(|b| crate::keys::sha256_hex(&b) == sha),
        _ => false,
    }
}

pub fn get_blob(data_dir: &Path, sha: &str) -> std::io::Result<Vec<u8>> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a content hash"));
    }
    std::fs::read(blob_path(data_dir, sha))
}

// ---------------------------------------------------------------- messages

pub fn by_message_id(conn: &mut DbConn, message_id: &str) -> QueryResult<Option<MailMessage>> {
    mail_messages::table
        .filter(mail_messages::message_id.eq(message_id))
        .select(MailMessage::as_select())
        .first(conn)
        .optional()
}

pub fn message(conn: &mut DbConn, id: i64) -> QueryResult<Option<MailMessage>> {
    mail_messages::table.find(id).select(MailMessage::as_select()).first(conn).optional()
}

/// The ticket of the newest known message among these Message-IDs (sent or received).
pub fn ticket_of_ids(conn: &mut DbConn, ids: &[String]) -> QueryResult<Option<i64>> {
    if ids.is_empty() {
        return Ok(None);
    }
    mail_messages::table
        .filter(mail_messages::message_id.eq_any(ids))
        .filter(mail_messages::ticket_id.is_not_null())
        .order(mail_messages::id.desc())
        .select(mail_messages::ticket_id)
        .first::<Option<i64>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Did this address send mail that was filed on the ticket?
pub fn sender_wrote_on(conn: &mut DbConn, ticket_id: i64, address: &str) -> QueryResult<bool> {
    let n: i64 = mail_messages::table
        .filter(mail_messages::ticket_id.eq(ticket_id))
        .filter(mail_messages::direction.eq("in"))
        .filter(mail_messages::from_addr.eq(address))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A ticket's mail thread: its Message-IDs oldest first, and the newest inbound one.
pub type Thread = (Vec<String>, Option<String>);

/// Message-IDs of a ticket's mail, oldest first (for References), at most `limit`, and the
/// newest received one (for In-Reply-To).
pub fn thread_ids(conn: &mut DbConn, ticket_id: i64, limit: i64) -> QueryResult<Thread> {
    let rows: Vec<(String, String)> = mail_messages::table
        .filter(mail_messages::ticket_id.eq(ticket_id))
        .filter(mail_messages::status.ne("held"))
        .order(mail_messages::id.desc())
        .limit(limit)
        .select((mail_messages::message_id, mail_messages::direction))
        .load(conn)?;
    Ok(thread_of(rows))
}

/// `thread_ids` of many tickets with one query per 500 tickets (a burst of SLA mail).
pub fn thread_ids_of(
    conn: &mut DbConn,
    tickets: &[i64],
    limit: usize,
) -> QueryResult<std::collections::HashMap<i64, Thread>> {
    if let [one] = tickets {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        return Ok([(*one, thread_ids(conn, *one, limit)?)].into_iter().collect());
    }
    let mut newest: std::collections::HashMap<i64, Vec<(String, String)>> = Default::default();
    for chunk in tickets.chunks(500) {
        let rows: Vec<(Option<i64>, String, String)> = mail_messages::table
            .filter(mail_messages::ticket_id.eq_any(chunk))
            .filter(mail_messages::status.ne("held"))
            .order(mail_messages::id.desc())
            .select((mail_messages::ticket_id, mail_messages::message_id, mail_messages::direction))
            .load(conn)?;
        for (t, m, d) in rows {
            let v = newest.entry(t.unwrap_or_default()).or_default();
            if v.len() < limit {
                v.push((m, d));
            }
        }
    }
    Ok(newest.into_iter().map(|(t, rows)| (t, thread_of(rows))).collect())
}

/// From a ticket's messages, newest first: the Message-IDs oldest first (without the hashes
/// that stand in for missing ones) and the newest inbound one.
fn thread_of(mut rows: Vec<(String, String)>) -> Thread {
    let last_in = rows.iter().find(|(_, d)| d == "in").map(|(m, _)| m.clone());
    rows.reverse();
    (rows.into_iter().map(|(m, _)| m).filter(|m| !m.starts_with("sha256:")).collect(), last_in)
}

/// How many automatic acknowledgements went to an address since `since`.
pub fn acks_since(conn: &mut DbConn, address: &str, since: NaiveDateTime) -> QueryResult<i64> {
    mail_messages::table
        .filter(mail_messages::to_addr.eq(address))
        .filter(mail_messages::kind.eq("ack"))
        .filter(mail_messages::created_at.ge(since))
        .count()
        .get_result(conn)
}

pub fn is_undeliverable(conn: &mut DbConn, address: &str) -> QueryResult<bool> {
    let n: i64 = mail_undeliverable::table.filter(mail_undeliverable::email.eq(address)).count().get_result(conn)?;
    Ok(n > 0)
}

pub fn mark_undeliverable(
    conn: &mut DbConn,
    address: &str,
    reason: &str,
    status: &str,
    ticket_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(mail_undeliverable::table.filter(mail_undeliverable::email.eq(address))).execute(conn)?;
    diesel::insert_into(mail_undeliverable::table)
        .values((
            mail_undeliverable::email.eq(address),
            mail_undeliverable::reason.eq(reason),
            mail_undeliverable::status.eq(status),
            mail_undeliverable::ticket_id.eq(ticket_id),
            mail_undeliverable::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn attachments_of(conn: &mut DbConn, ticket_id: i64) -> QueryResult<Vec<MailAttachment>> {
    mail_attachments::table
        .filter(mail_attachments::ticket_id.eq(ticket_id))
        .order(mail_attachments::id)
        .select(MailAttachment::as_select())
        .load(conn)
}

pub fn attachment(conn: &mut DbConn, id: i64) -> QueryResult<Option<MailAttachment>> {
    mail_attachments::table.find(id).select(MailAttachment::as_select()).first(conn).optional()
}
