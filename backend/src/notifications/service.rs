//! Posting notifications and reading a principal's inbox.

use crate::accounts::auth::Principal;
use crate::app::App;
use crate::db::{write_tx, DbConn};
use crate::error::{ServiceError, ServiceResult};
use crate::paging::{Page, PageRequest};
use crate::schema::notifications;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: i64,
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub ticket_id: Option<i64>,
    pub link: String,
    pub read_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipient {
    User(i64),
    Contact(i64),
}

#[derive(Clone, Copy)]
pub struct NewNotification<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub ticket_id: Option<i64>,
    pub link: &'a str,
}

/// Posts one notification to each recipient (duplicates removed), in the caller's
/// transaction; many recipients (release notices to thousands) go in multi-row inserts.
pub fn post(
    conn: &mut DbConn,
    recipients: &[Recipient],
    n: &NewNotification<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let mut seen = std::collections::HashSet::new();
    let items: Vec<(Recipient, NewNotification<'_>)> =
        recipients.iter().copied().filter(|r| seen.insert(*r)).map(|r| (r, *n)).collect();
    post_many(conn, &items, now)
}

fn recipient_of(who: &Principal) -> ServiceResult<Recipient> {
    match who {
        Principal::Staff(s) => Ok(Recipient::User(s.user_id)),
        Principal::Contact(c) => Ok(Recipient::Contact(c.contact_id)),
        Principal::System => Err(ServiceError::Forbidden),
        Principal::Anonymous => Err(ServiceError::Unauthenticated),
    }
}

type Boxed<'a> = notifications::BoxedQuery<'a, crate::db::Backend>;

fn mine<'a>(r: Recipient) -> Boxed<'a> {
    match r {
        Recipient::User(id) => notifications::table.filter(notifications::user_id.eq(id)).into_boxed(),
        Recipient::Contact(id) => notifications::table.filter(notifications::contact_id.eq(id)).into_boxed(),
    }
}

/// The caller's inbox, newest first.
pub fn list(app: &App, who: &Principal, unread_only: bool, page: &PageRequest) -> ServiceResult<Page<Notification>> {
    let r = recipient_of(who)?;
    let mut conn = app.conn()?;
    let offset = page.offset()?;
    let build = || {
        let q = mine(r);
        if unread_only {
            q.filter(notifications::read_at.is_null())
        } else {
            q
        }
    };
    let total: i64 = build().count().get_result(&mut conn)?;
    let rows = build()
        .order(notifications::id.desc())
        .offset(offset)
        .limit(page.first + 1)
        .select(Notification::as_select())
        .load(&mut conn)?;
    Ok(Page::from_offset(rows, offset, page.first, total))
}

pub fn unread_count(app: &App, who: &Principal) -> ServiceResult<i64> {
    let r = recipient_of(who)?;
    let mut conn = app.conn()?;
    Ok(mine(r).filter(notifications::read_at.is_null()).count().get_result(&mut conn)?)
}

/// Marks the given notifications (or, with `None`, all) of the caller as read; returns how
/// many changed. Ids that are not the caller's are ignored.
pub fn mark_read(app: &App, who: &Principal, ids: Option<&[i64]>) -> ServiceResult<i64> {
    let r = recipient_of(who)?;
    let mut conn = app.conn()?;
    let now = app.now();
    // One UPDATE, whatever the number of unread notifications.
    let n = write_tx(&mut conn, |conn| {
        let unread = notifications::table.filter(notifications::read_at.is_null());
        let read = notifications::read_at.eq(now);
        match (r, ids) {
            (Recipient::User(u), None) => {
                diesel::update(unread.filter(notifications::user_id.eq(u))).set(read).execute(conn)
            }
            (Recipient::User(u), Some(ids)) => {
                diesel::update(unread.filter(notifications::user_id.eq(u)).filter(notifications::id.eq_any(ids)))
                    .set(read)
                    .execute(conn)
            }
            (Recipient::Contact(c), None) => {
                diesel::update(unread.filter(notifications::contact_id.eq(c))).set(read).execute(conn)
            }
            (Recipient::Contact(c), Some(ids)) => {
                diesel::update(unread.filter(notifications::contact_id.eq(c)).filter(notifications::id.eq_any(ids)))
                    .set(read)
                    .execute(conn)
            }
        }
    })?;
    Ok(n as i64)
}

/// Posts many different notifications, one row per (recipient, notification), with
/// multi-row inserts in the caller's transaction (a burst of SLA warnings and breaches).
/// The caller removes duplicates.
pub fn post_many(conn: &mut DbConn, items: &[(Recipient, NewNotification<'_>)], now: NaiveDateTime) -> QueryResult<()> {
    for chunk in items.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(r, n)| {
                let (user_id, contact_id) = match r {
                    Recipient::User(id) => (Some(*id), None),
                    Recipient::Contact(id) => (None, Some(*id)),
                };
                (
                    notifications::user_id.eq(user_id),
                    notifications::contact_id.eq(contact_id),
                    notifications::kind.eq(n.kind),
                    notifications::title.eq(n.title),
                    notifications::body.eq(n.body),
                    notifications::ticket_id.eq(n.ticket_id),
                    notifications::link.eq(n.link),
                    notifications::created_at.eq(now),
                )
            })
            .collect();
        match conn {
            DbConn::Sqlite(c) => diesel::insert_into(notifications::table).values(&rows).execute(c)?,
            DbConn::Postgres(c) => diesel::insert_into(notifications::table).values(&rows).execute(c)?,
        };
    }
    Ok(())
}
