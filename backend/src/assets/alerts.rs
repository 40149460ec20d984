//! Checks on assets and the tickets they open. Four kinds: the agent is silent for N
//! minutes, a filesystem is above X % full, a service is not running, a log line matches a
//! pattern. Defaults here, overridable per company and per asset (asset wins).
//!
//! A failing check opens one ticket for that asset and check (with the asset's company, so
//! the company's SLA applies), adds a note to it at most hourly while the problem persists,
//! and resolves it with a note when the check recovers. "Silent" is a durable job per asset
//! whose due time every report moves (dedupe key), so nothing scans assets on a timer.
//! All times come from the injected clock.

use super::model::{Asset, AssetAlert, CheckSetting, Inventory};
use super::store;
use crate::accounts::auth::Principal;
use crate::app::App;
use crate::changelog;
use crate::db::{write_tx, DbConn};
use crate::error::{ServiceError, ServiceResult};
use crate::jobs::{self, JobError};
use crate::schema::{asset_alerts, tickets};
use crate::tickets::model::{EntryKind, Priority, Status};
use crate::tickets::service as tickets_service;
use crate::tickets::store as tickets_store;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const OFFLINE_JOB: &str = "asset.offline";
/// While a problem persists, its ticket hears about it at most this often.
const NOTE_EVERY_MINUTES: i64 = 60;
/// A log alert recovers after this long without a matching line.
const LOG_QUIET_MINUTES: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckKind {
    Offline,
    Filesystem,
    Service,
    Log,
}

impl CheckKind {
    pub const ALL: [CheckKind; 4] = [CheckKind::Offline, CheckKind::Filesystem, CheckKind::Service, CheckKind::Log];
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Offline => "offline",
            CheckKind::Filesystem => "filesystem",
            CheckKind::Service => "service",
            CheckKind::Log => "log",
        }
    }
    pub fn parse(s: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A check as it applies to one asset, and where its setting came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub kind: CheckKind,
    pub enabled: bool,
    /// Offline: minutes of silence. Filesystem: percent used.
    pub threshold: Option<i64>,
    /// Service: comma-separated names that must be running (empty: any failed service).
    /// Log: alternatives separated by `|`, matched case-insensitively.
    pub pattern: Option<String>,
    /// "default", "company" or "asset".
    pub origin: &'static str,
}

pub fn defaults() -> Vec<Check> {
    vec![
        Check { kind: CheckKind::Offline, enabled: true, threshold: Some(10), pattern: None, origin: "default" },
        Check { kind: CheckKind::Filesystem, enabled: true, threshold: Some(90), pattern: None, origin: "default" },
        Check { kind: CheckKind::Service, enabled: true, threshold: None, pattern: None, origin: "default" },
        Check {
            kind: CheckKind::Log,
            enabled: true,
            threshold: None,
            pattern: Some("Out of memory: Killed process|Kernel panic|I/O error".into()),
            origin: "default",
        },
    ]
}

/// The checks that apply to an asset: its own setting, else its company's, else the default.
pub fn effective(settings: &[CheckSetting], asset_id: i64, company_id: i64) -> Vec<Check> {
    let asset_scope = format!("asset:{asset_id}");
    let company_scope = format!("company:{company_id}");
    defaults()
        .into_iter()
        .map(|d| {
            let pick = |scope: &str| settings.iter().find(|s| s.scope == scope && s.check_kind == d.kind.as_str());
            match (pick(&asset_scope), pick(&company_scope)) {
                (Some(s), _) => from_setting(&d, s, "asset"),
                (None, Some(s)) => from_setting(&d, s, "company"),
                _ => d,
            }
        })
        .collect()
}

fn from_setting(d: &Check, s: &CheckSetting, origin: &'static str) -> Check {
    Check {
        kind: d.kind,
        enabled: s.enabled,
        threshold: s.threshold.or(d.threshold),
        pattern: s.pattern.clone().filter(|p| !p.trim().is_empty()).or_else(|| d.pattern.clone()),
        origin,
    }
}

pub fn checks_for(conn: &mut DbConn, asset: &Asset) -> QueryResult<Vec<Check>> {
    let settings = store::check_settings(conn, asset.id, asset.company_id)?;
    Ok(effective(&settings, asset.id, asset.company_id))
}

fn get(checks: &[Check], kind: CheckKind) -> Check {
    checks.iter().find(|c| c.kind == kind).cloned().unwrap_or(Check {
        kind,
        enabled: false,
        threshold: None,
        pattern: None,
        origin: "default",
    })
}

/// Case-insensitive match of any `|`-separated alternative.
pub fn log_matches(pattern: &str, line: &str) -> bool {
    let lower = line.to_lowercase();
    pattern.split('|').map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()).any(|p| lower.contains(&p))
}

pub fn offline_key(asset_id: i64) -> String {
    format!("asset-offline:{asset_id}")
}

/// Runs every check a report can decide, inside the report's transaction: moves the
/// offline job, then opens, adds to or resolves alerts.
pub fn on_report(
    conn: &mut DbConn,
    app: &App,
    asset: &Asset,
    health: Option<&Value>,
    inventory: Option<&Inventory>,
    logs: &[(String, String)],
    now: NaiveDateTime,
) -> ServiceResult<()> {
    let checks = checks_for(conn, asset)?;
    let open: BTreeMap<String, AssetAlert> =
        store::open_alerts(conn, asset.id)?.into_iter().map(|a| (a.check_key.clone(), a)).collect();

    // Silence: only our own agent promises to report every minute.
    let offline = get(&checks, CheckKind::Offline);
    if asset.source == "agent" && offline.enabled {
        let minutes = offline.threshold.unwrap_or(10).max(1);
        jobs::schedule(
            conn,
            OFFLINE_JOB,
            &json!({ "asset": asset.id }),
            now + Duration::minutes(minutes),
            Some(&offline_key(asset.id)),
            now,
        )?;
    } else {
        jobs::cancel(conn, &offline_key(asset.id))?;
    }
    if let Some(a) = open.get("offline") {
        let since = asset.last_seen_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default();
        recover(
            conn,
            app,
            a,
            &format!("The agent reported again at {}; it had been silent since {since}.", fmt(now)),
            now,
        )?;
    }

    // Filesystems: the heartbeat's figures, else the inventory's.
    let fs = get(&checks, CheckKind::Filesystem);
    let usage: Option<Vec<(String, f64)>> = health
        .and_then(|h| h["filesystems"].as_array())
        .map(|list| {
            list.iter()
                .filter_map(|f| Some((f["mount"].as_str()?.to_string(), f["used_percent"].as_f64().unwrap_or(0.0))))
                .collect()
        })
        .or_else(|| inventory.map(|i| i.filesystems.iter().map(|f| (f.mount.clone(), f.used_percent)).collect()));
    if let Some(usage) = usage {
        let limit = fs.threshold.unwrap_or(90) as f64;
        let mut failing = BTreeMap::new();
        if fs.enabled {
            for (mount, pct) in usage {
                if pct >= limit {
                    failing.insert(format!("filesystem:{mount}"), (mount, pct));
                }
            }
        }
        for (key, (mount, pct)) in &failing {
            let detail = format!("Filesystem {mount} is {pct:.1} % full (limit {limit:.0} %).");
            fail(
                conn,
                app,
                asset,
                key,
                &format!("filesystem {mount} above {limit:.0} %"),
                &detail,
                Priority::High,
                now,
            )?;
        }
        for (key, a) in open.iter().filter(|(k, _)| k.starts_with("filesystem:") && !failing.contains_key(*k)) {
            let mount = key.trim_start_matches("filesystem:");
            recover(conn, app, a, &format!("Filesystem {mount} is back below {limit:.0} % (at {}).", fmt(now)), now)?;
        }
    }

    // Services.
    let sv = get(&checks, CheckKind::Service);
    let states: Option<Vec<(String, String)>> = health
        .and_then(|h| h["services"].as_array())
        .map(|list| {
            list.iter()
                .filter_map(|s| Some((s["name"].as_str()?.to_string(), s["state"].as_str().unwrap_or("").to_string())))
                .collect()
        })
        .or_else(|| inventory.map(|i| i.services.iter().map(|s| (s.name.clone(), s.state.clone())).collect()));
    if let Some(states) = states {
        let mut failing: BTreeMap<String, String> = BTreeMap::new();
        if sv.enabled {
            let wanted: Vec<String> = sv
                .pattern
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(|s| s.trim().trim_end_matches(".service").to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if wanted.is_empty() {
                for (name, state) in &states {
                    if state == "failed" {
                        failing.insert(format!("service:{name}"), format!("Service {name} has failed."));
                    }
                }
            } else if !states.is_empty() {
                for name in wanted {
                    match states.iter().find(|(n, _)| *n == name) {
                        Some((_, st)) if st == "running" => {}
                        Some((_, st)) => {
                            failing.insert(format!("service:{name}"), format!("Service {name} is not running ({st})."));
                        }
                        None => {
                            failing.insert(format!("service:{name}"), format!("Service {name} is not installed."));
                        }
                    }
                }
            }
        }
        for (key, detail) in &failing {
            let name = key.trim_start_matches("service:");
            fail(conn, app, asset, key, &format!("service {name} not running"), detail, Priority::High, now)?;
        }
        for (key, a) in open.iter().filter(|(k, _)| k.starts_with("service:") && !failing.contains_key(*k)) {
            let name = key.trim_start_matches("service:");
            recover(conn, app, a, &format!("Service {name} is running again (at {}).", fmt(now)), now)?;
        }
    }

    // Log lines.
    let lg = get(&checks, CheckKind::Log);
    let matching: Vec<&(String, String)> = match (&lg.pattern, lg.enabled) {
        (Some(p), true) => logs.iter().filter(|(_, line)| log_matches(p, line)).collect(),
        _ => Vec::new(),
    };
    if let Some((source, line)) = matching.first() {
        let detail = format!(
            "{} log line(s) matched \"{}\"; the first, from {source}:\n\n    {line}",
            matching.len(),
            lg.pattern.as_deref().unwrap_or("")
        );
        fail(conn, app, asset, "log", "log line matched", &detail, Priority::Normal, now)?;
    } else if let Some(a) = open.get("log") {
        if !lg.enabled || a.last_failed_at + Duration::minutes(LOG_QUIET_MINUTES) <= now {
            recover(conn, app, a, &format!("No matching log line since {}.", fmt(a.last_failed_at)), now)?;
        }
    }
    Ok(())
}

fn fmt(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A failing check: opens the alert and its ticket, or adds to the open one.
#[allow(clippy::too_many_arguments)]
pub fn fail(
    conn: &mut DbConn,
    app: &App,
    asset: &Asset,
    key: &str,
    title: &str,
    detail: &str,
    priority: Priority,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    if let Some(a) = store::open_alert(conn, asset.id, key)? {
        let note_due = a.noted_at + Duration::minutes(NOTE_EVERY_MINUTES) <= now;
        diesel::update(asset_alerts::table.find(a.id))
            .set((
                asset_alerts::failures.eq(asset_alerts::failures + 1),
                asset_alerts::last_failed_at.eq(now),
                asset_alerts::detail.eq(detail),
            ))
            .execute(conn)?;
        if note_due {
            if let Some(t) = a.ticket_id {
                let body = format!("Still failing ({} checks since {}): {detail}", a.failures + 1, fmt(a.opened_at));
                note(conn, t, &body, now)?;
            }
            diesel::update(asset_alerts::table.find(a.id)).set(asset_alerts::noted_at.eq(now)).execute(conn)?;
        }
        return Ok(());
    }
    let subject: String = format!("[{}] {title}", asset.hostname).chars().take(200).collect();
    let body = format!(
        "{detail}\n\nAsset: {} (#{}), {}/assets/{}\nCheck: {key}\nSeen at: {}\n\nThis ticket resolves itself when the check recovers.",
        asset.hostname,
        asset.id,
        app.config.public_url,
        asset.id,
        fmt(now)
    );
    let ticket_id = tickets_service::create_in(
        conn,
        app,
        &Principal::System,
        tickets_service::NewTicket {
            subject,
            body,
            company_id: Some(asset.company_id),
            priority: Some(priority),
            source: "agent".into(),
            ..Default::default()
        },
        now,
    )?;
    diesel::insert_into(asset_alerts::table)
        .values((
            asset_alerts::asset_id.eq(asset.id),
            asset_alerts::check_key.eq(key),
            asset_alerts::ticket_id.eq(Some(ticket_id)),
            asset_alerts::detail.eq(detail),
            asset_alerts::opened_at.eq(now),
            asset_alerts::last_failed_at.eq(now),
            asset_alerts::failures.eq(1),
            asset_alerts::noted_at.eq(now),
        ))
        .execute(conn)?;
    changelog::record(conn, "asset", asset.id, now)?;
    tracing::info!(asset = asset.id, check = key, ticket = ticket_id, "alert opened");
    Ok(())
}

/// A check that recovered: the alert closes and its ticket is resolved with a note.
pub fn recover(conn: &mut DbConn, app: &App, a: &AssetAlert, why: &str, now: NaiveDateTime) -> ServiceResult<()> {
    diesel::update(asset_alerts::table.find(a.id)).set(asset_alerts::resolved_at.eq(Some(now))).execute(conn)?;
    if let Some(tid) = a.ticket_id {
        note(conn, tid, &format!("Recovered: {why}"), now)?;
        if let Some(t) = tickets_store::lock(conn, tid)? {
            if t.status().is_active() && t.status().can_become(Status::Resolved) {
                tickets_service::set_status(conn, app, &Principal::System, &t, Status::Resolved, now)?;
                changelog::record(conn, "ticket", tid, now)?;
            }
        }
    }
    changelog::record(conn, "asset", a.asset_id, now)?;
    tracing::info!(asset = a.asset_id, check = %a.check_key, "alert recovered");
    Ok(())
}

/// An internal note on an alert's ticket, written by the system.
fn note(conn: &mut DbConn, ticket_id: i64, body: &str, now: NaiveDateTime) -> ServiceResult<()> {
    let who = Principal::System;
    let entry = tickets_service::insert_entry(conn, ticket_id, EntryKind::Note, &who, body, None, now)?;
    tickets_service::event(conn, ticket_id, &who, "note", None, Some(&entry.to_string()), now)?;
    diesel::update(tickets::table.find(ticket_id))
        .set((tickets::updated_at.eq(now), tickets::last_activity_at.eq(now)))
        .execute(conn)?;
    changelog::record(conn, "ticket", ticket_id, now)?;
    changelog::record(conn, "entry", entry, now)?;
    Ok(())
}

/// Job handler: the agent has been silent since its last report. Idempotent: a report
/// since the job was queued moved it, and a job that finds a recent report reschedules.
pub fn offline_job(app: &App, payload: &Value) -> Result<(), JobError> {
    let id = payload["asset"].as_i64().ok_or_else(|| JobError::Fatal("payload lacks asset".into()))?;
    let mut conn = app.conn()?;
    let now = app.now();
    write_tx(&mut conn, |conn| {
        let Some(asset) = store::lock(conn, id)? else { return Ok(()) };
        let check = get(&checks_for(conn, &asset)?, CheckKind::Offline);
        if !check.enabled || asset.source != "agent" {
            return Ok(());
        }
        let minutes = check.threshold.unwrap_or(10).max(1);
        let last = asset.last_seen_at.unwrap_or(asset.created_at);
        let due = last + Duration::minutes(minutes);
        let key = offline_key(id);
        if due > now {
            jobs::schedule(conn, OFFLINE_JOB, &json!({ "asset": id }), due, Some(&key), now)?;
            return Ok(());
        }
        let silent = (now - last).num_minutes();
        let detail = format!("No report from the agent since {} ({silent} minutes; limit {minutes}).", fmt(last));
        fail(conn, app, &asset, "offline", "agent silent", &detail, Priority::High, now)?;
        // Look again in an hour, to note on the ticket that it is still silent.
        jobs::schedule(
            conn,
            OFFLINE_JOB,
            &json!({ "asset": id }),
            now + Duration::minutes(NOTE_EVERY_MINUTES),
            Some(&key),
            now,
        )?;
        Ok::<_, ServiceError>(())
    })?;
    app.committed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(scope: &str, kind: &str, enabled: bool, threshold: Option<i64>) -> CheckSetting {
        CheckSetting {
            id: 1,
            scope: scope.into(),
            company_id: None,
            asset_id: None,
            check_kind: kind.into(),
            enabled,
            threshold,
            pattern: None,
            updated_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn asset_overrides_company_overrides_default() {
        let s = vec![
            setting("company:3", "filesystem", true, Some(80)),
            setting("asset:7", "filesystem", true, Some(95)),
            setting("company:3", "offline", false, None),
        ];
        let on7 = effective(&s, 7, 3);
        let fs = on7.iter().find(|c| c.kind == CheckKind::Filesystem).unwrap();
        assert_eq!((fs.threshold, fs.origin), (Some(95), "asset"));
        let on8 = effective(&s, 8, 3);
        let fs = on8.iter().find(|c| c.kind == CheckKind::Filesystem).unwrap();
        assert_eq!((fs.threshold, fs.origin), (Some(80), "company"));
        let off = on8.iter().find(|c| c.kind == CheckKind::Offline).unwrap();
        assert!(!off.enabled);
        let other = effective(&s, 9, 4);
        assert_eq!(other, defaults());
    }

    #[test]
    fn log_patterns_are_alternatives_ignoring_case() {
        assert!(log_matches("disk failure|kernel panic", "Nov 28 KERNEL PANIC - not syncing"));
        assert!(!log_matches("disk failure|kernel panic", "all good"));
        assert!(!log_matches(" | ", "anything"));
    }
}
