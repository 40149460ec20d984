//! Rules and permissions for assets: enrollment keys and agent credentials (staff), the
//! OCS/FusionInventory basic credentials (staff), what agents may write (their own asset
//! only), and who may read what (staff everything; a contact their own company's assets).

use super::alerts::{self, Check, CheckKind};
use super::model::{
    diff, AgentCredential, Asset, AssetAlert, AssetChange, AssetLog, Change, EnrollmentKey, Inventory, OcsCredential,
};
use super::store::{self, LogQuery, NewAsset};
use crate::accounts::auth::Principal;
use crate::accounts::{password, store as accounts};
use crate::app::App;
use crate::audit;
use crate::changelog;
use crate::db::{read_tx, write_tx, DbConn};
use crate::error::{Checks, ServiceError, ServiceResult};
use crate::keys::{random_token, sha256_hex};
use crate::paging::{decode_cursor, encode_cursor, Page, PageRequest};
use crate::schema::{asset_agents, asset_check_settings, asset_enrollment_keys, assets, ocs_credentials};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Value;

pub const ENROLLMENT_KEY_PREFIX: &str = "wre_";
pub const AGENT_TOKEN_PREFIX: &str = "wra_";
/// Log retention: nothing older than this many days, at most this many lines per asset.
pub const LOG_RETENTION_DAYS: i64 = 14;
pub const LOG_MAX_LINES_PER_ASSET: i64 = 20_000;
/// Report ids are remembered this long to drop a spooled report delivered twice.
const REPORT_ID_DAYS: i64 = 14;
pub const MAX_LOG_LINES_PER_REPORT: usize = 2_000;
const MAX_LOG_LINE: usize = 4_000;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

// ---------------------------------------------------------------- visibility

fn visible(conn: &mut DbConn, who: &Principal, id: i64) -> ServiceResult<Asset> {
    who.require_signed_in()?;
    let a = store::asset(conn, id)?.ok_or(ServiceError::NotFound("asset"))?;
    match who.confined_to_company() {
        Some(c) if c != a.company_id => Err(ServiceError::NotFound("asset")),
        _ => Ok(a),
    }
}

pub fn get(app: &App, who: &Principal, id: i64) -> ServiceResult<Asset> {
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)
}

#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    pub company_id: Option<i64>,
    /// Part of the hostname, or the exact name of installed software.
    pub search: Option<String>,
    pub software: Option<String>,
    pub source: Option<String>,
    /// Only assets with an open alert.
    pub alerting: Option<bool>,
}

/// Assets by hostname. Contacts see their own company's only, whatever the filter says.
pub fn list(app: &App, who: &Principal, f: &AssetFilter, req: &PageRequest) -> ServiceResult<Page<Asset>> {
    who.require_signed_in()?;
    let company = match who.confined_to_company() {
        Some(c) => {
            if f.company_id.is_some_and(|x| x != c) {
                return Ok(Page { items: Vec::new(), total: 0, has_next: false, has_previous: false });
            }
            Some(c)
        }
        None => f.company_id,
    };
    let offset = req.offset()?;
    let mut conn = app.conn()?;
    read_tx(&mut conn, |conn| {
        let build = || {
            let mut q = assets::table.into_boxed::<crate::db::Backend>();
            if let Some(c) = company {
                q = q.filter(assets::company_id.eq(c));
            }
            if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                let like = format!("%{}%", crate::accounts::service::escape_like(&s.to_lowercase()));
                q = q.filter(lower(assets::hostname).like(like).escape('\\'));
            }
            if let Some(s) = f.software.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                // The snapshot is JSON text: look for the package's exact name field.
                let needle = format!("\"name\":{}", serde_json::Value::String(s.to_string()));
                let like = format!("%{}%", crate::accounts::service::escape_like(&needle));
                q = q.filter(assets::snapshot.like(like).escape('\\'));
            }
            if let Some(src) = &f.source {
                q = q.filter(assets::source.eq(src.clone()));
            }
            if f.alerting == Some(true) {
                q = q.filter(
                    assets::id.eq_any(
                        crate::schema::asset_alerts::table
                            .filter(crate::schema::asset_alerts::resolved_at.is_null())
                            .select(crate::schema::asset_alerts::asset_id),
                    ),
                );
            }
            q
        };
        let total = if req.count { build().count().get_result(conn)? } else { -1 };
        let rows = build()
            .order((assets::hostname.asc(), assets::id.asc()))
            .offset(offset)
            .limit(req.first + 1)
            .select(Asset::as_select())
            .load(conn)?;
        Ok(Page::from_offset(rows, offset, req.first, total))
    })
}

/// An asset's history, newest first.
pub fn changes(app: &App, who: &Principal, id: i64, req: &PageRequest) -> ServiceResult<Page<AssetChange>> {
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)?;
    let before = match &req.after {
        None => None,
        Some(c) => Some(
            decode_cursor(c)
                .and_then(|s| s.strip_prefix("c:").and_then(|n| n.parse::<i64>().ok()))
                .ok_or_else(|| ServiceError::invalid("after", "is not a cursor from this list"))?,
        ),
    };
    let mut rows = store::changes(&mut conn, id, before, req.first + 1)?;
    let has_next = rows.len() as i64 > req.first;
    rows.truncate(req.first as usize);
    Ok(Page {
        items: rows.into_iter().map(|c| (encode_cursor(&format!("c:{}", c.id)), c)).collect(),
        total: -1,
        has_next,
        has_previous: before.is_some(),
    })
}

/// Log lines of an asset, newest first, by time range and text (staff only: logs can carry
/// anything a machine writes).
pub fn logs(app: &App, who: &Principal, id: i64, q: LogQuery) -> ServiceResult<Vec<AssetLog>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)?;
    let q = LogQuery { limit: q.limit.clamp(1, 1000), ..q };
    Ok(store::logs(&mut conn, id, &q)?)
}

pub fn alerts(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<AssetAlert>> {
    let mut conn = app.conn()?;
    visible(&mut conn, who, id)?;
    Ok(store::alerts(&mut conn, id, 100)?)
}

pub fn checks(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<Check>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    let a = visible(&mut conn, who, id)?;
    Ok(alerts::checks_for(&mut conn, &a)?)
}

pub fn agents_of(app: &App, who: &Principal, id: i64) -> ServiceResult<Vec<AgentCredential>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    Ok(asset_agents::table
        .filter(asset_agents::asset_id.eq(id))
        .order(asset_agents::id.desc())
        .select(AgentCredential::as_select())
        .load(&mut conn)?)
}

// ---------------------------------------------------------------- check settings

#[derive(Debug, Clone)]
pub struct CheckInput {
    pub company_id: Option<i64>,
    pub asset_id: Option<i64>,
    pub kind: CheckKind,
    pub enabled: bool,
    pub threshold: Option<i64>,
    pub pattern: Option<String>,
}

/// Overrides a check for a company or one asset (staff).
pub fn set_check(app: &App, who: &Principal, input: CheckInput) -> ServiceResult<Vec<Check>> {
    who.require_staff_write()?;
    let mut checks = Checks::new();
    match input.kind {
        CheckKind::Offline => checks.check(
            input.threshold.is_none_or(|t| (1..=10_080).contains(&t)),
            "threshold",
            "minutes must be between 1 and 10080",
        ),
        CheckKind::Filesystem => checks.check(
            input.threshold.is_none_or(|t| (1..=100).contains(&t)),
            "threshold",
            "percent must be between 1 and 100",
        ),
        _ => checks.check(input.threshold.is_none(), "threshold", "this check takes no threshold"),
    }
    if let Some(p) = &input.pattern {
        checks.check(p.chars().count() <= 500, "pattern", "must be at most 500 characters");
    }
    let (scope, company_id, asset_id) = match (input.company_id, input.asset_id) {
        (Some(c), None) => (format!("company:{c}"), Some(c), None),
        (None, Some(a)) => (format!("asset:{a}"), None, Some(a)),
        _ => return Err(ServiceError::invalid("assetId", "give either a company or an asset")),
    };
    checks.finish()?;
    let now = app.now();
    let mut conn = app.conn()?;
    let asset = write_tx(&mut conn, |conn| {
        let asset = match asset_id {
            Some(a) => Some(store::asset(conn, a)?.ok_or_else(|| ServiceError::invalid("assetId", "no such asset"))?),
            None => None,
        };
        if let Some(c) = company_id {
            accounts::company(conn, c)?.ok_or_else(|| ServiceError::invalid("companyId", "no such company"))?;
        }
        diesel::delete(
            asset_check_settings::table
                .filter(asset_check_settings::scope.eq(&scope))
                .filter(asset_check_settings::check_kind.eq(input.kind.as_str())),
        )
        .execute(conn)?;
        diesel::insert_into(asset_check_settings::table)
            .values((
                asset_check_settings::scope.eq(&scope),
                asset_check_settings::company_id.eq(company_id),
                asset_check_settings::asset_id.eq(asset_id),
                asset_check_settings::check_kind.eq(input.kind.as_str()),
                asset_check_settings::enabled.eq(input.enabled),
                asset_check_settings::threshold.eq(input.threshold),
                asset_check_settings::pattern.eq(input.pattern.as_deref().map(str::trim)),
                asset_check_settings::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            who,
            "asset.check.set",
            "asset_check",
            None,
            &format!("{scope} {}", input.kind.as_str()),
            now,
        )?;
        Ok::<_, ServiceError>(asset)
    })?;
    match asset {
        Some(a) => Ok(alerts::checks_for(&mut conn, &a)?),
        None => Ok(alerts::effective(
            &asset_check_settings::table
                .filter(asset_check_settings::scope.eq(&scope))
                .select(super::model::CheckSetting::as_select())
                .load(&mut conn)?,
            0,
            company_id.unwrap_or(0),
        )),
    }
}

// ---------------------------------------------------------------- enrollment keys

/// Creates an enrollment key for a company; the secret is returned once.
pub fn create_enrollment_key(
    app: &App,
    who: &Principal,
    company_id: i64,
    label: &str,
) -> ServiceResult<(EnrollmentKey, String)> {
    who.require_staff_write()?;
    let label = label.trim();
    let mut checks = Checks::new();
    checks.check(label.chars().count() <= 100, "label", "must be at most 100 characters");
    checks.finish()?;
    let secret = format!("{ENROLLMENT_KEY_PREFIX}{}", random_token(24));
    let now = app.now();
    let mut conn = app.conn()?;
    let id = write_tx(&mut conn, |conn| {
        accounts::company(conn, company_id)?.ok_or_else(|| ServiceError::invalid("companyId", "no such company"))?;
        let id: i64 = diesel::insert_into(asset_enrollment_keys::table)
            .values((
                asset_enrollment_keys::company_id.eq(company_id),
                asset_enrollment_keys::label.eq(label),
                asset_enrollment_keys::key_hash.eq(sha256_hex(secret.as_bytes())),
                asset_enrollment_keys::key_hint.eq(&secret[..ENROLLMENT_KEY_PREFIX.len() + 4]),
                asset_enrollment_keys::created_by.eq(who.user_id()),
                asset_enrollment_keys::created_at.eq(now),
            ))
            .returning(asset_enrollment_keys::id)
            .get_result(conn)?;
        audit::record(conn, who, "asset.enrollment_key.create", "enrollment_key", Some(id), label, now)?;
        Ok::<_, ServiceError>(id)
    })?;
    let key = asset_enrollment_keys::table.find(id).select(EnrollmentKey::as_select()).first(&mut conn)?;
    Ok((key, secret))
}

pub fn revoke_enrollment_key(app: &App, who: &Principal, id: i64) -> ServiceResult<EnrollmentKey> {
    who.require_staff_write()?;
    let now = app.now();
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        let n =
            diesel::update(asset_enrollment_keys::table.find(id).filter(asset_enrollment_keys::revoked_at.is_null()))
                .set(asset_enrollment_keys::revoked_at.eq(Some(now)))
                .execute(conn)?;
        if n > 0 {
            audit::record(conn, who, "asset.enrollment_key.revoke", "enrollment_key", Some(id), "", now)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    asset_enrollment_keys::table
        .find(id)
        .select(EnrollmentKey::as_select())
        .first(&mut conn)
        .optional()?
        .ok_or(ServiceError::NotFound("enrollment key"))
}

pub fn list_enrollment_keys(app: &App, who: &Principal, company_id: Option<i64>) -> ServiceResult<Vec<EnrollmentKey>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    let mut q = asset_enrollment_keys::table.into_boxed();
    if let Some(c) = company_id {
        q = q.filter(asset_enrollment_keys::company_id.eq(c));
    }
    Ok(q.order(asset_enrollment_keys::id.desc()).select(EnrollmentKey::as_select()).load(&mut conn)?)
}

/// An agent trades an enrollment key for its own credential and a new asset of the key's
/// company. The key is the only authentication here.
pub fn enroll(app: &App, key: &str, hostname: &str) -> ServiceResult<(i64, String)> {
    let hostname: String = hostname.trim().chars().take(255).collect();
    let hostname = if hostname.is_empty() { "unnamed".to_string() } else { hostname };
    let token = format!("{AGENT_TOKEN_PREFIX}{}", random_token(32));
    let now = app.now();
    let mut conn = app.conn()?;
    let asset_id = write_tx(&mut conn, |conn| {
        let k: EnrollmentKey = asset_enrollment_keys::table
            .filter(asset_enrollment_keys::key_hash.eq(sha256_hex(key.trim().as_bytes())))
            .select(EnrollmentKey::as_select())
            .first(conn)
            .optional()?
            .filter(|k| k.revoked_at.is_none())
            .ok_or(ServiceError::Unauthenticated)?;
        let asset_id = store::insert(
            conn,
            &NewAsset { company_id: k.company_id, hostname: &hostname, source: "agent", device_id: "" },
            now,
        )?;
        diesel::insert_into(asset_agents::table)
            .values((
                asset_agents::asset_id.eq(asset_id),
                asset_agents::enrollment_key_id.eq(Some(k.id)),
                asset_agents::token_hash.eq(sha256_hex(token.as_bytes())),
                asset_agents::created_at.eq(now),
            ))
            .execute(conn)?;
        diesel::update(asset_enrollment_keys::table.find(k.id))
            .set(asset_enrollment_keys::use_count.eq(asset_enrollment_keys::use_count + 1))
            .execute(conn)?;
        changelog::record(conn, "asset", asset_id, now)?;
        Ok::<_, ServiceError>(asset_id)
    })?;
    app.committed();
    tracing::info!(asset = asset_id, "agent enrolled");
    Ok((asset_id, token))
}

/// Revokes an agent's credential (staff): its reports are refused from then on.
pub fn revoke_agent(app: &App, who: &Principal, agent_id: i64) -> ServiceResult<AgentCredential> {
    who.require_staff_write()?;
    let now = app.now();
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        let n = diesel::update(asset_agents::table.find(agent_id).filter(asset_agents::revoked_at.is_null()))
            .set(asset_agents::revoked_at.eq(Some(now)))
            .execute(conn)?;
        if n > 0 {
            audit::record(conn, who, "asset.agent.revoke", "asset_agent", Some(agent_id), "", now)?;
            // A revoked agent is expected to fall silent: no offline alert for it.
            let asset_id: i64 = asset_agents::table.find(agent_id).select(asset_agents::asset_id).first(conn)?;
            let active: i64 = asset_agents::table
                .filter(asset_agents::asset_id.eq(asset_id))
                .filter(asset_agents::revoked_at.is_null())
                .count()
                .get_result(conn)?;
            if active == 0 {
                crate::jobs::cancel(conn, &alerts::offline_key(asset_id))?;
            }
        }
        Ok::<_, ServiceError>(())
    })?;
    asset_agents::table
        .find(agent_id)
        .select(AgentCredential::as_select())
        .first(&mut conn)
        .optional()?
        .ok_or(ServiceError::NotFound("agent credential"))
}

/// Who an agent credential belongs to.
#[derive(Debug, Clone, Copy)]
pub struct AgentIdentity {
    pub agent_id: i64,
    pub asset_id: i64,
}

pub fn authenticate_agent(app: &App, token: &str) -> ServiceResult<AgentIdentity> {
    if !token.starts_with(AGENT_TOKEN_PREFIX) {
        return Err(ServiceError::Unauthenticated);
    }
    let mut conn = app.conn()?;
    let row: Option<(i64, i64, Option<NaiveDateTime>)> = asset_agents::table
        .filter(asset_agents::token_hash.eq(sha256_hex(token.as_bytes())))
        .select((asset_agents::id, asset_agents::asset_id, asset_agents::revoked_at))
        .first(&mut conn)
        .optional()?;
    match row {
        Some((agent_id, asset_id, None)) => Ok(AgentIdentity { agent_id, asset_id }),
        _ => Err(ServiceError::Unauthenticated),
    }
}

// ---------------------------------------------------------------- reports

/// One report from wrench-agent (see agent/src/main.rs).
#[derive(Debug, Deserialize)]
pub struct Report {
    pub report_id: String,
    /// When given, must be the credential's own asset.
    #[serde(default)]
    pub asset_id: Option<i64>,
    #[serde(default)]
    pub content_hash: Option<String>,
    #[serde(default)]
    pub health: Option<Value>,
    #[serde(default)]
    pub inventory: Option<Inventory>,
    #[serde(default)]
    pub logs: Vec<LogLine>,
}

#[derive(Debug, Deserialize)]
pub struct LogLine {
    #[serde(default)]
    pub source: String,
    pub line: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub asset_id: i64,
    /// The report had been delivered before; nothing was written again.
    pub duplicate: bool,
    /// The server has no inventory of this asset yet: send it.
    pub inventory_wanted: bool,
}

pub fn ingest(app: &App, agent: AgentIdentity, report: Report) -> ServiceResult<Outcome> {
    let mut checks = Checks::new();
    let rid = report.report_id.trim();
    checks.check(!rid.is_empty() && rid.len() <= 64, "report_id", "must be 1 to 64 characters");
    checks.check(report.logs.len() <= MAX_LOG_LINES_PER_REPORT, "logs", "too many lines in one report");
    if let Some(inv) = &report.inventory {
        checks.check(inv.packages.len() <= 100_000, "inventory.packages", "too many packages");
    }
    checks.finish()?;
    if report.asset_id.is_some_and(|a| a != agent.asset_id) {
        // An agent writes its own asset only.
        return Err(ServiceError::Forbidden);
    }
    let logs: Vec<(String, String)> = report
        .logs
        .iter()
        .map(|l| (l.source.chars().take(200).collect(), l.line.chars().take(MAX_LOG_LINE).collect()))
        .collect();
    let now = app.now();
    let mut conn = app.conn()?;
    let outcome = write_tx(&mut conn, |conn| {
        let asset = store::lock(conn, agent.asset_id)?.ok_or(ServiceError::Unauthenticated)?;
        let kind = if report.inventory.is_some() { "inventory" } else { "heartbeat" };
        if !store::first_delivery(conn, asset.id, rid, kind, now)? {
            return Ok(Outcome { asset_id: asset.id, duplicate: true, inventory_wanted: false });
        }
        diesel::update(asset_agents::table.find(agent.agent_id))
            .set(asset_agents::last_used_at.eq(Some(now)))
            .execute(conn)?;
        let health = report.health.as_ref().map(|h| h.to_string());
        diesel::update(assets::table.find(asset.id))
            .set((assets::last_seen_at.eq(Some(now)), assets::health.eq(health.or(asset.health.clone()))))
            .execute(conn)?;
        let mut asset = asset;
        if let Some(inv) = &report.inventory {
            apply_inventory(conn, &asset, inv, report.content_hash.as_deref().unwrap_or(""), now)?;
            store::prune_reports(conn, asset.id, now - Duration::days(REPORT_ID_DAYS))?;
        }
        if !logs.is_empty() {
            store::insert_logs(conn, asset.id, &logs, now)?;
            store::prune_logs(conn, asset.id, now - Duration::days(LOG_RETENTION_DAYS), LOG_MAX_LINES_PER_ASSET)?;
        }
        let has_snapshot = asset.snapshot.is_some() || report.inventory.is_some();
        alerts::on_report(conn, app, &asset, report.health.as_ref(), report.inventory.as_ref(), &logs, now)?;
        asset.last_seen_at = Some(now);
        Ok::<_, ServiceError>(Outcome { asset_id: asset.id, duplicate: false, inventory_wanted: !has_snapshot })
    })?;
    app.committed();
    Ok(outcome)
}

/// Stores a new snapshot and the history of what changed since the last one.
pub fn apply_inventory(
    conn: &mut DbConn,
    asset: &Asset,
    inv: &Inventory,
    hash: &str,
    now: NaiveDateTime,
) -> ServiceResult<Vec<Change>> {
    let changes = match &asset.snapshot {
        Some(_) => diff(&asset.inventory(), inv),
        None => vec![Change {
            kind: "first_inventory",
            subject: inv.hostname.clone(),
            old: None,
            new: Some(format!(
                "{} packages, {} disks, {} interfaces",
                inv.packages.len(),
                inv.disks.len(),
                inv.interfaces.len()
            )),
        }],
    };
    let snapshot = serde_json::to_string(inv).map_err(|e| ServiceError::internal(format!("snapshot: {e}")))?;
    let hostname: String = if inv.hostname.trim().is_empty() {
        asset.hostname.clone()
    } else {
        inv.hostname.trim().chars().take(255).collect()
    };
    diesel::update(assets::table.find(asset.id))
        .set((
            assets::hostname.eq(hostname),
            assets::os_name.eq(&inv.os.name),
            assets::os_version.eq(&inv.os.version),
            assets::kernel.eq(&inv.os.kernel),
            assets::snapshot.eq(Some(snapshot)),
            assets::content_hash.eq(hash),
            assets::inventory_at.eq(Some(now)),
            assets::last_seen_at.eq(Some(now)),
        ))
        .execute(conn)?;
    store::insert_changes(conn, asset.id, &changes, now)?;
    changelog::record(conn, "asset", asset.id, now)?;
    Ok(changes)
}

// ---------------------------------------------------------------- OCS / FusionInventory credentials

pub fn create_ocs_credential(
    app: &App,
    who: &Principal,
    company_id: i64,
    username: &str,
    password_text: Option<&str>,
) -> ServiceResult<(OcsCredential, String)> {
    who.require_staff_write()?;
    let username = username.trim();
    let mut checks = Checks::new();
    checks.check(
        !username.is_empty()
            && username.len() <= 100
            && !username.contains(':')
            && !username.chars().any(char::is_whitespace),
        "username",
        "must be 1 to 100 characters, without spaces or colons",
    );
    let secret = match password_text {
        Some(p) => {
            if let Some(msg) = password::check_strength(p) {
                checks.add("password", msg);
            }
            p.to_string()
        }
        None => random_token(18),
    };
    checks.finish()?;
    let hash = password::hash(&secret).map_err(ServiceError::internal)?;
    let now = app.now();
    let mut conn = app.conn()?;
    let id = write_tx(&mut conn, |conn| {
        accounts::company(conn, company_id)?.ok_or_else(|| ServiceError::invalid("companyId", "no such company"))?;
        let taken: i64 =
            ocs_credentials::table.filter(ocs_credentials::username.eq(username)).count().get_result(conn)?;
        if taken > 0 {
            return Err(ServiceError::invalid("username", "is already used"));
        }
        let id: i64 = diesel::insert_into(ocs_credentials::table)
            .values((
                ocs_credentials::company_id.eq(company_id),
                ocs_credentials::username.eq(username),
                ocs_credentials::password_hash.eq(&hash),
                ocs_credentials::created_at.eq(now),
            ))
            .returning(ocs_credentials::id)
            .get_result(conn)?;
        audit::record(conn, who, "asset.ocs_credential.create", "ocs_credential", Some(id), username, now)?;
        Ok(id)
    })?;
    let c = ocs_credentials::table.find(id).select(OcsCredential::as_select()).first(&mut conn)?;
    Ok((c, secret))
}

pub fn revoke_ocs_credential(app: &App, who: &Principal, id: i64) -> ServiceResult<OcsCredential> {
    who.require_staff_write()?;
    let now = app.now();
    let mut conn = app.conn()?;
    write_tx(&mut conn, |conn| {
        let n = diesel::update(ocs_credentials::table.find(id).filter(ocs_credentials::revoked_at.is_null()))
            .set(ocs_credentials::revoked_at.eq(Some(now)))
            .execute(conn)?;
        if n > 0 {
            audit::record(conn, who, "asset.ocs_credential.revoke", "ocs_credential", Some(id), "", now)?;
        }
        Ok::<_, ServiceError>(())
    })?;
    ocs_credentials::table
        .find(id)
        .select(OcsCredential::as_select())
        .first(&mut conn)
        .optional()?
        .ok_or(ServiceError::NotFound("OCS credential"))
}

pub fn list_ocs_credentials(app: &App, who: &Principal, company_id: Option<i64>) -> ServiceResult<Vec<OcsCredential>> {
    who.require_staff()?;
    let mut conn = app.conn()?;
    let mut q = ocs_credentials::table.into_boxed();
    if let Some(c) = company_id {
        q = q.filter(ocs_credentials::company_id.eq(c));
    }
    Ok(q.order(ocs_credentials::id.desc()).select(OcsCredential::as_select()).load(&mut conn)?)
}

/// The company of HTTP basic credentials given by an OCS/FusionInventory agent.
pub fn authenticate_ocs(app: &App, username: &str, password_text: &str) -> ServiceResult<i64> {
    let mut conn = app.conn()?;
    let row = ocs_credentials::table
        .filter(ocs_credentials::username.eq(username))
        .filter(ocs_credentials::revoked_at.is_null())
        .select(OcsCredential::as_select())
        .first(&mut conn)
        .optional()?;
    let stored = row.as_ref().map(|r| r.password_hash.as_str()).unwrap_or_else(|| password::dummy_hash());
    // Verify even for an unknown name, so timing says nothing about which names exist.
    let ok = password::verify(password_text, stored);
    match row {
        Some(r) if ok => Ok(r.company_id),
        _ => Err(ServiceError::Unauthenticated),
    }
}

/// Files an OCS inventory for a device of the credentials' company: the device id names
/// the asset within that company only.
pub fn ingest_ocs(app: &App, company_id: i64, device_id: &str, inv: &Inventory) -> ServiceResult<i64> {
    let device_id: String = device_id.trim().chars().take(255).collect();
    if device_id.is_empty() {
        return Err(ServiceError::invalid("DEVICEID", "is required"));
    }
    let now = app.now();
    let mut conn = app.conn()?;
    let id = write_tx(&mut conn, |conn| {
        let existing: Option<i64> = assets::table
            .filter(assets::company_id.eq(company_id))
            .filter(assets::source.eq("ocs"))
            .filter(assets::device_id.eq(&device_id))
            .select(assets::id)
            .first(conn)
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                let hostname = if inv.hostname.is_empty() { device_id.as_str() } else { inv.hostname.as_str() };
                store::insert(conn, &NewAsset { company_id, hostname, source: "ocs", device_id: &device_id }, now)?
            }
        };
        let asset = store::lock(conn, id)?.ok_or(ServiceError::NotFound("asset"))?;
        apply_inventory(conn, &asset, inv, "", now)?;
        alerts::on_report(conn, app, &asset, None, Some(inv), &[], now)?;
        Ok::<_, ServiceError>(id)
    })?;
    app.committed();
    Ok(id)
}

/// Names of companies, for lists.
pub fn company_name(app: &App, id: i64) -> ServiceResult<String> {
    let mut conn = app.conn()?;
    Ok(accounts::company(&mut conn, id)?.map(|c| c.name).unwrap_or_default())
}
