//! The audit log of administrative actions (users, roles, queues, tokens, passwords…):
//! who did what to which record, when. Written in the same transaction as the action.

pub mod graphql;

use crate::accounts::auth::Principal;
use crate::db::DbConn;
use crate::error::ServiceResult;
use crate::paging::{Page, PageRequest};
use crate::schema::{audit_log, users};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    pub detail: String,
    pub created_at: NaiveDateTime,
}

pub fn record(
    conn: &mut DbConn,
    actor: &Principal,
    action: &str,
    target_kind: &str,
    target_id: Option<i64>,
    detail: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_user_id.eq(actor.user_id()),
            audit_log::action.eq(action),
            audit_log::target_kind.eq(target_kind),
            audit_log::target_id.eq(target_id),
            audit_log::detail.eq(detail),
            audit_log::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Newest first; admins only.
pub fn list(
    app: &crate::app::App,
    who: &Principal,
    page: &PageRequest,
) -> ServiceResult<Page<(AuditEntry, Option<String>)>> {
    who.require_admin()?;
    let mut conn = app.conn()?;
    let offset = page.offset()?;
    let total: i64 = audit_log::table.count().get_result(&mut conn)?;
    let rows: Vec<(AuditEntry, Option<String>)> = audit_log::table
        .left_join(users::table)
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(page.first + 1)
        .select((AuditEntry::as_select(), users::name.nullable()))
        .load(&mut conn)?;
    Ok(Page::from_offset(rows, offset, page.first, total))
}
