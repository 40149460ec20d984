//! The append-only change log: every service write adds a row naming what changed, in the
//! same transaction as the change, so readers tailing it by id (the search indexer) cannot
//! miss a change.

use crate::db::DbConn;
use crate::schema::change_log;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub fn record(conn: &mut DbConn, entity: &str, entity_id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(change_log::table)
        .values((change_log::entity.eq(entity), change_log::entity_id.eq(entity_id), change_log::created_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

pub fn head(conn: &mut DbConn) -> QueryResult<i64> {
    change_log::table.select(diesel::dsl::max(change_log::id)).first::<Option<i64>>(conn).map(|v| v.unwrap_or(0))
}

#[derive(Debug, Clone, Queryable)]
pub struct Change {
    pub id: i64,
    pub entity: String,
    pub entity_id: i64,
}

/// Changes with id greater than `after`, in id order.
pub fn since(conn: &mut DbConn, after: i64, limit: i64) -> QueryResult<Vec<Change>> {
    change_log::table
        .filter(change_log::id.gt(after))
        .order(change_log::id.asc())
        .limit(limit)
        .select((change_log::id, change_log::entity, change_log::entity_id))
        .load(conn)
}

/// Changes with `after < id <= upto`, in id order (the indexer's look back below its cursor).
pub fn between(conn: &mut DbConn, after: i64, upto: i64) -> QueryResult<Vec<Change>> {
    change_log::table
        .filter(change_log::id.gt(after))
        .filter(change_log::id.le(upto))
        .order(change_log::id.asc())
        .select((change_log::id, change_log::entity, change_log::entity_id))
        .load(conn)
}
