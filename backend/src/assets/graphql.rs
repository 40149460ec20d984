//! GraphQL for assets: the asset list with filters, an asset's inventory, history, logs,
//! checks and alerts (with their tickets), enrollment keys, agent credentials and the
//! OCS/FusionInventory credentials. Resolvers are thin: every call goes to `service.rs`.

use super::alerts::{Check, CheckKind};
use super::model::{
    AgentCredential, Asset, AssetAlert, AssetChange, AssetLog, EnrollmentKey, Inventory, OcsCredential,
};
use super::service::{self, AssetFilter, CheckInput};
use super::store::LogQuery;
use crate::accounts::graphql::{not_found_as_none, CompanyGql};
use crate::connection;
use crate::graphql::{id_arg, opt_id, page_request, payload, to_id, utc, Ctx, OrField, UserError};
use crate::tickets::graphql::TicketGql;
use chrono::{DateTime, Utc};
use juniper::{graphql_object, FieldResult, GraphQLEnum, GraphQLInputObject, GraphQLObject, ID};

#[derive(Debug, Clone, Copy, PartialEq, Eq, GraphQLEnum)]
#[graphql(name = "AssetCheckKind")]
pub enum CheckKindGql {
    /// The agent sent nothing for `threshold` minutes.
    Offline,
    /// A filesystem is at least `threshold` percent full.
    Filesystem,
    /// A service is not running (`pattern`: comma-separated names; empty: any failed service).
    Service,
    /// A log line contains one of the `|`-separated alternatives of `pattern` (any case).
    Log,
}

impl From<CheckKindGql> for CheckKind {
    fn from(k: CheckKindGql) -> Self {
        match k {
            CheckKindGql::Offline => CheckKind::Offline,
            CheckKindGql::Filesystem => CheckKind::Filesystem,
            CheckKindGql::Service => CheckKind::Service,
            CheckKindGql::Log => CheckKind::Log,
        }
    }
}

impl From<CheckKind> for CheckKindGql {
    fn from(k: CheckKind) -> Self {
        match k {
            CheckKind::Offline => CheckKindGql::Offline,
            CheckKind::Filesystem => CheckKindGql::Filesystem,
            CheckKind::Service => CheckKindGql::Service,
            CheckKind::Log => CheckKindGql::Log,
        }
    }
}

fn big(n: u64) -> f64 {
    n as f64
}

pub struct AssetGql(pub Asset);

#[graphql_object(name = "Asset", context = Ctx)]
/// A machine of a client company, fed by wrench-agent or an OCS/FusionInventory agent.
impl AssetGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn company_id(&self) -> ID {
        to_id(self.0.company_id)
    }
    async fn company(&self, ctx: &Ctx) -> FieldResult<Option<CompanyGql>> {
        crate::accounts::graphql::company(ctx, to_id(self.0.company_id)).await
    }
    fn hostname(&self) -> &str {
        &self.0.hostname
    }
    /// "agent" (wrench-agent) or "ocs" (OCS Inventory / FusionInventory).
    fn source(&self) -> &str {
        &self.0.source
    }
    /// The OCS device id (empty for wrench-agent).
    fn device_id(&self) -> &str {
        &self.0.device_id
    }
    fn os_name(&self) -> &str {
        &self.0.os_name
    }
    fn os_version(&self) -> &str {
        &self.0.os_version
    }
    fn kernel(&self) -> &str {
        &self.0.kernel
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
    /// The last report of any kind.
    fn last_seen_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_seen_at.map(utc)
    }
    /// When the current inventory arrived.
    fn inventory_at(&self) -> Option<DateTime<Utc>> {
        self.0.inventory_at.map(utc)
    }
    /// The current snapshot; null before the first inventory.
    fn inventory(&self) -> Option<InventoryGql> {
        self.0.snapshot.as_ref().map(|_| InventoryGql(self.0.inventory()))
    }
    /// The last heartbeat's health figures as JSON (uptime, load, memory, filesystem usage, services).
    fn health(&self) -> Option<String> {
        self.0.health.clone()
    }
    /// What changed, newest first.
    async fn changes(
        &self,
        ctx: &Ctx,
        first: Option<i32>,
        after: Option<String>,
    ) -> FieldResult<AssetChangeConnection> {
        let req = page_request(first, after)?;
        let id = self.0.id;
        let page = ctx.run(move |app, who| service::changes(app, who, id, &req)).await.gql()?;
        Ok(AssetChangeConnection::from_page(page, AssetChangeGql))
    }
    /// Log lines, newest first, received in [since, until) and containing `contains` (staff only).
    async fn logs(
        &self,
        ctx: &Ctx,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        contains: Option<String>,
        first: Option<i32>,
    ) -> FieldResult<Vec<AssetLogGql>> {
        let id = self.0.id;
        let q = LogQuery {
            since: since.map(|t| t.naive_utc()),
            until: until.map(|t| t.naive_utc()),
            contains: contains.filter(|c| !c.is_empty()),
            before_id: None,
            limit: i64::from(first.unwrap_or(100)),
        };
        Ok(ctx.run(move |app, who| service::logs(app, who, id, q)).await.gql()?.into_iter().map(AssetLogGql).collect())
    }
    /// Alerts of this asset's checks (open and resolved), newest first.
    async fn alerts(&self, ctx: &Ctx) -> FieldResult<Vec<AssetAlertGql>> {
        let id = self.0.id;
        Ok(ctx.run(move |app, who| service::alerts(app, who, id)).await.gql()?.into_iter().map(AssetAlertGql).collect())
    }
    /// The checks that apply, with where each setting comes from (staff only).
    async fn checks(&self, ctx: &Ctx) -> FieldResult<Vec<AssetCheckGql>> {
        let id = self.0.id;
        Ok(ctx.run(move |app, who| service::checks(app, who, id)).await.gql()?.into_iter().map(AssetCheckGql).collect())
    }
    /// Agent credentials issued for this asset (staff only).
    async fn agents(&self, ctx: &Ctx) -> FieldResult<Vec<AgentCredentialGql>> {
        let id = self.0.id;
        Ok(ctx
            .run(move |app, who| service::agents_of(app, who, id))
            .await
            .gql()?
            .into_iter()
            .map(AgentCredentialGql)
            .collect())
    }
}

connection!(AssetConnection, AssetEdge, AssetGql, "A page of assets.");
connection!(AssetChangeConnection, AssetChangeEdge, AssetChangeGql, "A page of an asset's history.");

pub struct InventoryGql(pub Inventory);

#[graphql_object(name = "AssetInventory", context = Ctx)]
impl InventoryGql {
    fn hostname(&self) -> &str {
        &self.0.hostname
    }
    fn os_name(&self) -> &str {
        &self.0.os.name
    }
    fn os_version(&self) -> &str {
        &self.0.os.version
    }
    fn kernel(&self) -> &str {
        &self.0.os.kernel
    }
    fn arch(&self) -> &str {
        &self.0.os.arch
    }
    fn cpu_model(&self) -> &str {
        &self.0.cpu.model
    }
    fn cpu_cores(&self) -> i32 {
        i32::try_from(self.0.cpu.cores).unwrap_or(i32::MAX)
    }
    fn cpu_threads(&self) -> i32 {
        i32::try_from(self.0.cpu.threads).unwrap_or(i32::MAX)
    }
    fn memory_bytes(&self) -> f64 {
        big(self.0.memory.total_bytes)
    }
    fn manufacturer(&self) -> Option<&str> {
        self.0.bios.as_ref().map(|b| b.manufacturer.as_str())
    }
    fn model(&self) -> Option<&str> {
        self.0.bios.as_ref().map(|b| b.model.as_str())
    }
    fn serial_number(&self) -> Option<&str> {
        self.0.bios.as_ref().map(|b| b.serial.as_str())
    }
    fn disks(&self) -> Vec<AssetDisk> {
        self.0
            .disks
            .iter()
            .map(|d| AssetDisk {
                name: d.name.clone(),
                size_bytes: big(d.size_bytes),
                model: d.model.clone(),
                serial: d.serial.clone(),
            })
            .collect()
    }
    fn filesystems(&self) -> Vec<AssetFilesystem> {
        self.0
            .filesystems
            .iter()
            .map(|f| AssetFilesystem {
                mount: f.mount.clone(),
                device: f.device.clone(),
                fs_type: f.fs_type.clone(),
                size_bytes: big(f.size_bytes),
                used_bytes: big(f.used_bytes),
                used_percent: f.used_percent,
            })
            .collect()
    }
    fn interfaces(&self) -> Vec<AssetInterface> {
        self.0
            .interfaces
            .iter()
            .map(|i| AssetInterface {
                name: i.name.clone(),
                mac: i.mac.clone(),
                state: i.state.clone(),
                addresses: i.addresses.clone(),
            })
            .collect()
    }
    /// Installed software; `search` matches part of the name.
    fn packages(&self, search: Option<String>) -> Vec<AssetPackage> {
        let s = search.map(|s| s.to_lowercase()).filter(|s| !s.is_empty());
        self.0
            .packages
            .iter()
            .filter(|p| s.as_ref().is_none_or(|s| p.name.to_lowercase().contains(s)))
            .map(|p| AssetPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                manager: p.manager.clone(),
            })
            .collect()
    }
    fn package_count(&self) -> i32 {
        i32::try_from(self.0.packages.len()).unwrap_or(i32::MAX)
    }
    fn services(&self) -> Vec<AssetService> {
        self.0.services.iter().map(|s| AssetService { name: s.name.clone(), state: s.state.clone() }).collect()
    }
}

#[derive(GraphQLObject)]
pub struct AssetDisk {
    pub name: String,
    pub size_bytes: f64,
    pub model: String,
    pub serial: String,
}

#[derive(GraphQLObject)]
pub struct AssetFilesystem {
    pub mount: String,
    pub device: String,
    #[graphql(name = "type")]
    pub fs_type: String,
    pub size_bytes: f64,
    pub used_bytes: f64,
    pub used_percent: f64,
}

#[derive(GraphQLObject)]
pub struct AssetInterface {
    pub name: String,
    pub mac: String,
    pub state: String,
    /// Addresses with their prefix length, e.g. "10.0.0.5/24".
    pub addresses: Vec<String>,
}

#[derive(GraphQLObject)]
pub struct AssetPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// dpkg, rpm, or what an OCS agent said (registry, deb…).
    pub manager: String,
}

#[derive(GraphQLObject)]
pub struct AssetService {
    pub name: String,
    pub state: String,
}

pub struct AssetChangeGql(pub AssetChange);

#[graphql_object(name = "AssetChange", context = Ctx)]
/// One entry of an asset's history.
impl AssetChangeGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// software_installed, software_removed, software_upgraded, disk_added, disk_removed,
    /// filesystem_added, filesystem_removed, interface_added, interface_removed,
    /// address_added, address_removed, service_added, service_removed, hostname_changed,
    /// os_changed, kernel_changed, cpu_changed, memory_changed, first_inventory.
    fn kind(&self) -> &str {
        &self.0.kind
    }
    fn subject(&self) -> &str {
        &self.0.subject
    }
    fn old_value(&self) -> Option<&str> {
        self.0.old_value.as_deref()
    }
    fn new_value(&self) -> Option<&str> {
        self.0.new_value.as_deref()
    }
    /// A readable sentence, e.g. "openssl:amd64 changed from 3.0.1 to 3.0.2".
    fn description(&self) -> String {
        self.0.describe()
    }
    fn seen_at(&self) -> DateTime<Utc> {
        utc(self.0.seen_at)
    }
}

pub struct AssetLogGql(pub AssetLog);

#[graphql_object(name = "AssetLogLine", context = Ctx)]
impl AssetLogGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// The journal, or the log file the line came from.
    fn source(&self) -> &str {
        &self.0.source
    }
    fn line(&self) -> &str {
        &self.0.line
    }
    fn received_at(&self) -> DateTime<Utc> {
        utc(self.0.received_at)
    }
}

pub struct AssetAlertGql(pub AssetAlert);

#[graphql_object(name = "AssetAlert", context = Ctx)]
/// A failing check and the ticket it opened.
impl AssetAlertGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    /// offline, filesystem:/MOUNT, service:NAME or log.
    fn check_key(&self) -> &str {
        &self.0.check_key
    }
    fn detail(&self) -> &str {
        &self.0.detail
    }
    fn opened_at(&self) -> DateTime<Utc> {
        utc(self.0.opened_at)
    }
    fn last_failed_at(&self) -> DateTime<Utc> {
        utc(self.0.last_failed_at)
    }
    /// How many times the check failed while this alert was open.
    fn failures(&self) -> i32 {
        i32::try_from(self.0.failures).unwrap_or(i32::MAX)
    }
    fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at.map(utc)
    }
    fn ticket_number(&self) -> Option<i32> {
        self.0.ticket_id.and_then(|t| i32::try_from(t).ok())
    }
    async fn ticket(&self, ctx: &Ctx) -> FieldResult<Option<TicketGql>> {
        match self.0.ticket_id.and_then(|t| i32::try_from(t).ok()) {
            Some(n) => crate::tickets::graphql::ticket(ctx, n).await,
            None => Ok(None),
        }
    }
}

pub struct AssetCheckGql(pub Check);

#[graphql_object(name = "AssetCheck", context = Ctx)]
/// A check as it applies: the default, or a company's or the asset's own setting.
impl AssetCheckGql {
    fn kind(&self) -> CheckKindGql {
        self.0.kind.into()
    }
    fn enabled(&self) -> bool {
        self.0.enabled
    }
    fn threshold(&self) -> Option<i32> {
        self.0.threshold.and_then(|t| i32::try_from(t).ok())
    }
    fn pattern(&self) -> Option<&str> {
        self.0.pattern.as_deref()
    }
    /// "default", "company" or "asset".
    fn origin(&self) -> &str {
        self.0.origin
    }
}

pub struct EnrollmentKeyGql(pub EnrollmentKey);

#[graphql_object(name = "EnrollmentKey", context = Ctx)]
/// A per-company key agents trade for their own credential (`wrench-agent enroll`).
impl EnrollmentKeyGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn company_id(&self) -> ID {
        to_id(self.0.company_id)
    }
    fn label(&self) -> &str {
        &self.0.label
    }
    /// The first characters of the key, to tell keys apart.
    fn hint(&self) -> &str {
        &self.0.key_hint
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
    fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(utc)
    }
    /// How many agents enrolled with it.
    fn use_count(&self) -> i32 {
        i32::try_from(self.0.use_count).unwrap_or(i32::MAX)
    }
}

pub struct AgentCredentialGql(pub AgentCredential);

#[graphql_object(name = "AgentCredential", context = Ctx)]
impl AgentCredentialGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn asset_id(&self) -> ID {
        to_id(self.0.asset_id)
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
    fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(utc)
    }
    fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(utc)
    }
}

pub struct OcsCredentialGql(pub OcsCredential);

#[graphql_object(name = "OcsCredential", context = Ctx)]
/// HTTP basic credentials OCS/FusionInventory agents of one company use at /ocsinventory.
impl OcsCredentialGql {
    fn id(&self) -> ID {
        to_id(self.0.id)
    }
    fn company_id(&self) -> ID {
        to_id(self.0.company_id)
    }
    fn username(&self) -> &str {
        &self.0.username
    }
    fn created_at(&self) -> DateTime<Utc> {
        utc(self.0.created_at)
    }
    fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(utc)
    }
}

#[derive(GraphQLInputObject, Default)]
pub struct AssetFilterInput {
    pub company_id: Option<ID>,
    /// Part of the hostname.
    pub search: Option<String>,
    /// Exact name of installed software.
    pub software: Option<String>,
    /// "agent" or "ocs".
    pub source: Option<String>,
    /// Only assets with an open alert.
    pub alerting: Option<bool>,
}

#[derive(GraphQLInputObject)]
pub struct CreateOcsCredentialInput {
    pub company_id: ID,
    pub username: String,
    /// Omit to have one generated (returned once).
    pub password: Option<String>,
}

#[derive(GraphQLInputObject)]
pub struct SetAssetCheckInput {
    /// Set for a company…
    pub company_id: Option<ID>,
    /// …or for one asset (wins over its company's setting).
    pub asset_id: Option<ID>,
    pub kind: CheckKindGql,
    pub enabled: bool,
    pub threshold: Option<i32>,
    pub pattern: Option<String>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct CreateEnrollmentKeyPayload {
    pub enrollment_key: Option<EnrollmentKeyGql>,
    /// The key itself, shown this once.
    pub key: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct EnrollmentKeyPayload {
    pub enrollment_key: Option<EnrollmentKeyGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct AgentCredentialPayload {
    pub agent: Option<AgentCredentialGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct CreateOcsCredentialPayload {
    pub credential: Option<OcsCredentialGql>,
    /// The password, shown this once.
    pub password: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct OcsCredentialPayload {
    pub credential: Option<OcsCredentialGql>,
    pub errors: Vec<UserError>,
}

#[derive(GraphQLObject)]
#[graphql(context = Ctx)]
pub struct AssetChecksPayload {
    /// The checks as they now apply to the asset (or the company).
    pub checks: Vec<AssetCheckGql>,
    pub errors: Vec<UserError>,
}

// ---------------------------------------------------------------- resolvers (called from root.rs)

pub async fn asset(ctx: &Ctx, id: ID) -> FieldResult<Option<AssetGql>> {
    let r = ctx.run(move |app, who| service::get(app, who, id_arg("id", &id)?)).await;
    not_found_as_none(r).map(|o| o.map(AssetGql))
}

pub async fn assets(
    ctx: &Ctx,
    count: bool,
    filter: Option<AssetFilterInput>,
    first: Option<i32>,
    after: Option<String>,
) -> FieldResult<AssetConnection> {
    let mut req = page_request(first, after)?;
    req.count = count;
    let f = filter.unwrap_or_default();
    let page = ctx
        .run(move |app, who| {
            let filter = AssetFilter {
                company_id: opt_id("companyId", &f.company_id)?,
                search: f.search,
                software: f.software,
                source: f.source,
                alerting: f.alerting,
            };
            service::list(app, who, &filter, &req)
        })
        .await
        .gql()?;
    Ok(AssetConnection::from_page(page, AssetGql))
}

pub async fn enrollment_keys(ctx: &Ctx, company_id: Option<ID>) -> FieldResult<Vec<EnrollmentKeyGql>> {
    let rows = ctx
        .run(move |app, who| service::list_enrollment_keys(app, who, opt_id("companyId", &company_id)?))
        .await
        .gql()?;
    Ok(rows.into_iter().map(EnrollmentKeyGql).collect())
}

pub async fn ocs_credentials(ctx: &Ctx, company_id: Option<ID>) -> FieldResult<Vec<OcsCredentialGql>> {
    let rows = ctx
        .run(move |app, who| service::list_ocs_credentials(app, who, opt_id("companyId", &company_id)?))
        .await
        .gql()?;
    Ok(rows.into_iter().map(OcsCredentialGql).collect())
}

pub async fn create_enrollment_key(
    ctx: &Ctx,
    company_id: ID,
    label: Option<String>,
) -> FieldResult<CreateEnrollmentKeyPayload> {
    let r = ctx
        .run(move |app, who| {
            service::create_enrollment_key(app, who, id_arg("companyId", &company_id)?, label.as_deref().unwrap_or(""))
        })
        .await;
    let (v, errors) = payload(r)?;
    let (k, secret) = v.map(|(k, s)| (Some(EnrollmentKeyGql(k)), Some(s))).unwrap_or((None, None));
    Ok(CreateEnrollmentKeyPayload { enrollment_key: k, key: secret, errors })
}

pub async fn revoke_enrollment_key(ctx: &Ctx, id: ID) -> FieldResult<EnrollmentKeyPayload> {
    let r = ctx.run(move |app, who| service::revoke_enrollment_key(app, who, id_arg("id", &id)?)).await;
    let (v, errors) = payload(r)?;
    Ok(EnrollmentKeyPayload { enrollment_key: v.map(EnrollmentKeyGql), errors })
}

pub async fn revoke_agent_credential(ctx: &Ctx, id: ID) -> FieldResult<AgentCredentialPayload> {
    let r = ctx.run(move |app, who| service::revoke_agent(app, who, id_arg("id", &id)?)).await;
    let (v, errors) = payload(r)?;
    Ok(AgentCredentialPayload { agent: v.map(AgentCredentialGql), errors })
}

pub async fn create_ocs_credential(
    ctx: &Ctx,
    input: CreateOcsCredentialInput,
) -> FieldResult<CreateOcsCredentialPayload> {
    let r = ctx
        .run(move |app, who| {
            service::create_ocs_credential(
                app,
                who,
                id_arg("companyId", &input.company_id)?,
                &input.username,
                input.password.as_deref(),
            )
        })
        .await;
    let (v, errors) = payload(r)?;
    let (c, p) = v.map(|(c, p)| (Some(OcsCredentialGql(c)), Some(p))).unwrap_or((None, None));
    Ok(CreateOcsCredentialPayload { credential: c, password: p, errors })
}

pub async fn revoke_ocs_credential(ctx: &Ctx, id: ID) -> FieldResult<OcsCredentialPayload> {
    let r = ctx.run(move |app, who| service::revoke_ocs_credential(app, who, id_arg("id", &id)?)).await;
    let (v, errors) = payload(r)?;
    Ok(OcsCredentialPayload { credential: v.map(OcsCredentialGql), errors })
}

pub async fn set_asset_check(ctx: &Ctx, input: SetAssetCheckInput) -> FieldResult<AssetChecksPayload> {
    let r = ctx
        .run(move |app, who| {
            service::set_check(
                app,
                who,
                CheckInput {
                    company_id: opt_id("companyId", &input.company_id)?,
                    asset_id: opt_id("assetId", &input.asset_id)?,
                    kind: input.kind.into(),
                    enabled: input.enabled,
                    threshold: input.threshold.map(i64::from),
                    pattern: input.pattern,
                },
            )
        })
        .await;
    let (v, errors) = payload(r)?;
    Ok(AssetChecksPayload { checks: v.unwrap_or_default().into_iter().map(AssetCheckGql).collect(), errors })
}
