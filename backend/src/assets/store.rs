//! Diesel queries for assets; no permission checks here (they live in `service.rs`).

use super::model::{Asset, AssetAlert, AssetChange, AssetLog, Change, CheckSetting};
use crate::db::DbConn;
use crate::schema::{asset_alerts, asset_changes, asset_check_settings, asset_logs, asset_reports, assets};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub fn asset(conn: &mut DbConn, id: i64) -> QueryResult<Option<Asset>> {
    assets::table.find(id).select(Asset::as_select()).first(conn).optional()
}

/// Loads an asset for update, so a heartbeat and the offline job for one asset serialise:
/// `FOR UPDATE` on PostgreSQL; SQLite's IMMEDIATE transaction already holds the write lock.
/// (A no-op `UPDATE … SET id = id` would run the foreign-key checks of every table that
/// references assets on SQLite.)
pub fn lock(conn: &mut DbConn, id: i64) -> QueryResult<Option<Asset>> {
    match conn {
        DbConn::Postgres(pg) => assets::table.find(id).select(Asset::as_select()).for_update().first(pg).optional(),
        DbConn::Sqlite(_) => asset(conn, id),
    }
}

pub struct NewAsset<'a> {
    pub company_id: i64,
    pub hostname: &'a str,
    pub source: &'a str,
    pub device_id: &'a str,
}

pub fn insert(conn: &mut DbConn, a: &NewAsset, now: NaiveDateTime) -> QueryResult<i64> {
    diesel::insert_into(assets::table)
        .values((
            assets::company_id.eq(a.company_id),
            assets::hostname.eq(a.hostname),
            assets::source.eq(a.source),
            assets::device_id.eq(a.device_id),
            assets::created_at.eq(now),
        ))
        .returning(assets::id)
        .get_result(conn)
}

/// Remembers a report id; false when it was seen before (a spooled report sent twice).
pub fn first_delivery(
    conn: &mut DbConn,
    asset_id: i64,
    report_id: &str,
    kind: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let seen: i64 = asset_reports::table
        .filter(asset_reports::asset_id.eq(asset_id))
        .filter(asset_reports::report_id.eq(report_id))
        .count()
        .get_result(conn)?;
    if seen > 0 {
        return Ok(false);
    }
    diesel::insert_into(asset_reports::table)
        .values((
            asset_reports::asset_id.eq(asset_id),
            asset_reports::report_id.eq(report_id),
            asset_reports::kind.eq(kind),
            asset_reports::received_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

pub fn prune_reports(conn: &mut DbConn, asset_id: i64, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        asset_reports::table.filter(asset_reports::asset_id.eq(asset_id)).filter(asset_reports::received_at.lt(before)),
    )
    .execute(conn)
}

pub fn insert_changes(conn: &mut DbConn, asset_id: i64, changes: &[Change], now: NaiveDateTime) -> QueryResult<()> {
    for chunk in changes.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|c| {
                (
                    asset_changes::asset_id.eq(asset_id),
                    asset_changes::kind.eq(c.kind),
                    asset_changes::subject.eq(&c.subject),
                    asset_changes::old_value.eq(c.old.as_deref()),
                    asset_changes::new_value.eq(c.new.as_deref()),
                    asset_changes::seen_at.eq(now),
                )
            })
            .collect();
        // Multi-row inserts need the concrete backend.
        match conn {
            DbConn::Sqlite(c) => diesel::insert_into(asset_changes::table).values(&rows).execute(c)?,
            DbConn::Postgres(c) => diesel::insert_into(asset_changes::table).values(&rows).execute(c)?,
        };
    }
    Ok(())
}

/// Newest first, keyset by id.
pub fn changes(conn: &mut DbConn, asset_id: i64, before_id: Option<i64>, limit: i64) -> QueryResult<Vec<AssetChange>> {
    let mut q = asset_changes::table.filter(asset_changes::asset_id.eq(asset_id)).into_boxed();
    if let Some(b) = before_id {
        q = q.filter(asset_changes::id.lt(b));
    }
    q.order(asset_changes::id.desc()).limit(limit).select(AssetChange::as_select()).load(conn)
}

pub fn insert_logs(
    conn: &mut DbConn,
    asset_id: i64,
    lines: &[(String, String)],
    now: NaiveDateTime,
) -> QueryResult<()> {
    for chunk in lines.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(source, line)| {
                (
                    asset_logs::asset_id.eq(asset_id),
                    asset_logs::source.eq(source),
                    asset_logs::line.eq(line),
                    asset_logs::received_at.eq(now),
                )
            })
            .collect();
        // Multi-row inserts need the concrete backend.
        match conn {
            DbConn::Sqlite(c) => diesel::insert_into(asset_logs::table).values(&rows).execute(c)?,
            DbConn::Postgres(c) => diesel::insert_into(asset_logs::table).values(&rows).execute(c)?,
        };
    }
    Ok(())
}

/// Applies the retention limit: nothing older than `before`, at most `keep` lines per asset.
pub fn prune_logs(conn: &mut DbConn, asset_id: i64, before: NaiveDateTime, keep: i64) -> QueryResult<()> {
    diesel::delete(
        asset_logs::table.filter(asset_logs::asset_id.eq(asset_id)).filter(asset_logs::received_at.lt(before)),
    )
    .execute(conn)?;
    let cut: Option<i64> = asset_logs::table
        .filter(asset_logs::asset_id.eq(asset_id))
        .order(asset_logs::id.desc())
        .offset(keep)
        .select(asset_logs::id)
        .first(conn)
        .optional()?;
    if let Some(cut) = cut {
        diesel::delete(asset_logs::table.filter(asset_logs::asset_id.eq(asset_id)).filter(asset_logs::id.le(cut)))
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Part of the line (case-sensitive substring).
    pub contains: Option<String>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub fn logs(conn: &mut DbConn, asset_id: i64, q: &LogQuery) -> QueryResult<Vec<AssetLog>> {
    let mut b = asset_logs::table.filter(asset_logs::asset_id.eq(asset_id)).into_boxed();
    if let Some(s) = q.since {
        b = b.filter(asset_logs::received_at.ge(s));
    }
    if let Some(u) = q.until {
        b = b.filter(asset_logs::received_at.lt(u));
    }
    if let Some(c) = &q.contains {
        b = b.filter(asset_logs::line.like(format!("%{}%", crate::accounts::service::escape_like(c))).escape('\\'));
    }
    if let Some(id) = q.before_id {
        b = b.filter(asset_logs::id.lt(id));
    }
    b.order(asset_logs::id.desc()).limit(q.limit).select(AssetLog::as_select()).load(conn)
}

pub fn open_alert(conn: &mut DbConn, asset_id: i64, check_key: &str) -> QueryResult<Option<AssetAlert>> {
    asset_alerts::table
        .filter(asset_alerts::asset_id.eq(asset_id))
        .filter(asset_alerts::check_key.eq(check_key))
        .filter(asset_alerts::resolved_at.is_null())
        .select(AssetAlert::as_select())
        .first(conn)
        .optional()
}

pub fn open_alerts(conn: &mut DbConn, asset_id: i64) -> QueryResult<Vec<AssetAlert>> {
    asset_alerts::table
        .filter(asset_alerts::asset_id.eq(asset_id))
        .filter(asset_alerts::resolved_at.is_null())
        .order(asset_alerts::id.asc())
        .select(AssetAlert::as_select())
        .load(conn)
}

pub fn alerts(conn: &mut DbConn, asset_id: i64, limit: i64) -> QueryResult<Vec<AssetAlert>> {
    asset_alerts::table
        .filter(asset_alerts::asset_id.eq(asset_id))
        .order(asset_alerts::id.desc())
        .limit(limit)
        .select(AssetAlert::as_select())
        .load(conn)
}

/// Check settings that apply to an asset: its own, its company's (most specific first).
pub fn check_settings(conn: &mut DbConn, asset_id: i64, company_id: i64) -> QueryResult<Vec<CheckSetting>> {
    asset_check_settings::table
        .filter(asset_check_settings::scope.eq_any([format!("asset:{asset_id}"), format!("company:{company_id}")]))
        .select(CheckSetting::as_select())
        .load(conn)
}
