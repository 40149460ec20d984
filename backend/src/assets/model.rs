//! Assets and what is known about them: the normalised inventory both agent protocols map
//! onto (wrench-agent JSON, OCS/FusionInventory XML), the rows, and the diff that turns two
//! snapshots into a readable history of changes.

use crate::schema::{
    asset_agents, asset_alerts, asset_changes, asset_check_settings, asset_enrollment_keys, asset_logs, assets,
    ocs_credentials,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = assets)]
pub struct Asset {
    pub id: i64,
    pub company_id: i64,
    pub hostname: String,
    pub source: String,
    pub device_id: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub snapshot: Option<String>,
    pub content_hash: String,
    pub health: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: Option<NaiveDateTime>,
    pub inventory_at: Option<NaiveDateTime>,
}

impl Asset {
    pub fn inventory(&self) -> Inventory {
        self.snapshot.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
    }
    pub fn health(&self) -> Option<serde_json::Value> {
        self.health.as_deref().and_then(|s| serde_json::from_str(s).ok())
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = asset_enrollment_keys)]
pub struct EnrollmentKey {
    pub id: i64,
    pub company_id: i64,
    pub label: String,
    pub key_hash: String,
    pub key_hint: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub use_count: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = asset_agents)]
pub struct AgentCredential {
    pub id: i64,
    pub asset_id: i64,
    pub enrollment_key_id: Option<i64>,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = asset_changes)]
pub struct AssetChange {
    pub id: i64,
    pub asset_id: i64,
    pub kind: String,
    pub subject: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub seen_at: NaiveDateTime,
}

impl AssetChange {
    /// One readable line, e.g. "openssl upgraded from 3.0.1 to 3.0.2".
    pub fn describe(&self) -> String {
        let old = self.old_value.as_deref().unwrap_or("");
        let new = self.new_value.as_deref().unwrap_or("");
        let s = &self.subject;
        match self.kind.as_str() {
            "software_installed" => format!("{s} {new} installed"),
            "software_removed" => format!("{s} {old} removed"),
            "software_upgraded" => format!("{s} changed from {old} to {new}"),
            "disk_added" => format!("disk {s} added ({new})"),
            "disk_removed" => format!("disk {s} removed ({old})"),
            "filesystem_added" => format!("filesystem {s} mounted ({new})"),
            "filesystem_removed" => format!("filesystem {s} unmounted ({old})"),
            "address_added" => format!("{s}: address {new} added"),
            "address_removed" => format!("{s}: address {old} removed"),
            "interface_added" => format!("network interface {s} added"),
            "interface_removed" => format!("network interface {s} removed"),
            "service_added" => format!("service {s} added"),
            "service_removed" => format!("service {s} removed"),
            "first_inventory" => format!("first inventory received: {new}"),
            _ => format!("{s} changed from {old} to {new}"),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = asset_logs)]
pub struct AssetLog {
    pub id: i64,
    pub asset_id: i64,
    pub source: String,
    pub line: String,
    pub received_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = asset_alerts)]
pub struct AssetAlert {
    pub id: i64,
    pub asset_id: i64,
    pub check_key: String,
    pub ticket_id: Option<i64>,
    pub detail: String,
    pub opened_at: NaiveDateTime,
    pub last_failed_at: NaiveDateTime,
    pub failures: i64,
    pub noted_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = asset_check_settings)]
pub struct CheckSetting {
    pub id: i64,
    pub scope: String,
    pub company_id: Option<i64>,
    pub asset_id: Option<i64>,
    pub check_kind: String,
    pub enabled: bool,
    pub threshold: Option<i64>,
    pub pattern: Option<String>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ocs_credentials)]
pub struct OcsCredential {
    pub id: i64,
    pub company_id: i64,
    pub username: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

// ---------------------------------------------------------------- the normalised inventory

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Os {
    pub name: String,
    pub version: String,
    pub kernel: String,
    pub arch: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Cpu {
    pub model: String,
    pub cores: u64,
    pub threads: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Memory {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub swap_total_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Disk {
    pub name: String,
    pub size_bytes: u64,
    pub model: String,
    pub serial: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Filesystem {
    pub mount: String,
    pub device: String,
    #[serde(rename = "type")]
    pub fs_type: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub used_percent: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    pub state: String,
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub manager: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Service {
    pub name: String,
    pub state: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Bios {
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub bios_vendor: String,
    pub bios_version: String,
    pub bios_date: String,
}

/// What a machine is, whichever agent described it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Inventory {
    pub hostname: String,
    pub os: Os,
    pub cpu: Cpu,
    pub memory: Memory,
    pub bios: Option<Bios>,
    pub disks: Vec<Disk>,
    pub filesystems: Vec<Filesystem>,
    pub interfaces: Vec<Interface>,
    pub packages: Vec<Package>,
    pub services: Vec<Service>,
}

/// One entry of an asset's history, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: &'static str,
    pub subject: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

fn change(kind: &'static str, subject: &str, old: Option<String>, new: Option<String>) -> Change {
    Change { kind, subject: subject.to_string(), old, new }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / 1024.0 / 1024.0 / 1024.0)
}

/// What changed from one snapshot to the next, in a stable order.
pub fn diff(old: &Inventory, new: &Inventory) -> Vec<Change> {
    let mut out = Vec::new();
    let mut field = |kind: &'static str, subject: &str, a: &str, b: &str| {
        if a != b {
            out.push(change(kind, subject, Some(a.to_string()), Some(b.to_string())));
        }
    };
    field("hostname_changed", "hostname", &old.hostname, &new.hostname);
    field(
        "os_changed",
        "operating system",
        format!("{} {}", old.os.name, old.os.version).trim(),
        format!("{} {}", new.os.name, new.os.version).trim(),
    );
    field("kernel_changed", "kernel", &old.os.kernel, &new.os.kernel);
    field("cpu_changed", "CPU", &cpu_label(&old.cpu), &cpu_label(&new.cpu));
    // Memory as the machine reports it moves by a few MiB between boots: compare in GiB.
    field("memory_changed", "memory", &gib(old.memory.total_bytes), &gib(new.memory.total_bytes));

    // Software, keyed by name and architecture.
    let key = |p: &Package| (p.name.clone(), p.arch.clone());
    let a: BTreeMap<_, _> = old.packages.iter().map(|p| (key(p), p)).collect();
    let b: BTreeMap<_, _> = new.packages.iter().map(|p| (key(p), p)).collect();
    let label = |(n, arch): &(String, String)| if arch.is_empty() { n.clone() } else { format!("{n}:{arch}") };
    for (k, p) in &b {
        match a.get(k) {
            None => out.push(change("software_installed", &label(k), None, Some(p.version.clone()))),
            Some(q) if q.version != p.version => {
                out.push(change("software_upgraded", &label(k), Some(q.version.clone()), Some(p.version.clone())))
            }
            _ => {}
        }
    }
    for (k, p) in &a {
        if !b.contains_key(k) {
            out.push(change("software_removed", &label(k), Some(p.version.clone()), None));
        }
    }

    // Disks by name (and serial, so a swapped disk shows as removed and added).
    let dk = |d: &Disk| {
        format!("{}{}", d.name, if d.serial.is_empty() { String::new() } else { format!(" ({})", d.serial) })
    };
    let a: BTreeMap<_, _> = old.disks.iter().map(|d| (dk(d), d)).collect();
    let b: BTreeMap<_, _> = new.disks.iter().map(|d| (dk(d), d)).collect();
    for (k, d) in &b {
        if !a.contains_key(k) {
            out.push(change("disk_added", k, None, Some(gib(d.size_bytes))));
        }
    }
    for (k, d) in &a {
        if !b.contains_key(k) {
            out.push(change("disk_removed", k, Some(gib(d.size_bytes)), None));
        }
    }

    let a: BTreeMap<_, _> = old.filesystems.iter().map(|f| (f.mount.clone(), f)).collect();
    let b: BTreeMap<_, _> = new.filesystems.iter().map(|f| (f.mount.clone(), f)).collect();
    for (k, f) in &b {
        if !a.contains_key(k) {
            out.push(change("filesystem_added", k, None, Some(format!("{} {}", f.device, gib(f.size_bytes)))));
        }
    }
    for (k, f) in &a {
        if !b.contains_key(k) {
            out.push(change("filesystem_removed", k, Some(format!("{} {}", f.device, gib(f.size_bytes))), None));
        }
    }

    // Interfaces and their addresses.
    let a: BTreeMap<_, _> = old.interfaces.iter().map(|i| (i.name.clone(), i)).collect();
    let b: BTreeMap<_, _> = new.interfaces.iter().map(|i| (i.name.clone(), i)).collect();
    for (k, i) in &b {
        let before: BTreeSet<&String> = match a.get(k) {
            None => {
                out.push(change("interface_added", k, None, Some(i.mac.clone())));
                BTreeSet::new()
            }
            Some(o) => o.addresses.iter().collect(),
        };
        let after: BTreeSet<&String> = i.addresses.iter().collect();
        for addr in after.difference(&before) {
            out.push(change("address_added", k, None, Some((*addr).clone())));
        }
        for addr in before.difference(&after) {
            out.push(change("address_removed", k, Some((*addr).clone()), None));
        }
    }
    for (k, i) in &a {
        if !b.contains_key(k) {
            for addr in &i.addresses {
                out.push(change("address_removed", k, Some(addr.clone()), None));
            }
            out.push(change("interface_removed", k, Some(i.mac.clone()), None));
        }
    }

    let a: BTreeSet<&String> = old.services.iter().map(|s| &s.name).collect();
    let b: BTreeSet<&String> = new.services.iter().map(|s| &s.name).collect();
    for s in b.difference(&a) {
        out.push(change("service_added", s, None, None));
    }
    for s in a.difference(&b) {
        out.push(change("service_removed", s, None, None));
    }
    out
}

fn cpu_label(c: &Cpu) -> String {
    if c.model.is_empty() && c.threads == 0 {
        return String::new();
    }
    format!("{} ({} cores, {} threads)", c.model, c.cores, c.threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(n: &str, v: &str) -> Package {
        Package { name: n.into(), version: v.into(), arch: "amd64".into(), manager: "dpkg".into() }
    }

    #[test]
    fn software_disks_and_addresses_show_up_in_the_diff() {
        let old = Inventory {
            hostname: "web1".into(),
            packages: vec![pkg("bash", "5.2"), pkg("curl", "8.0"), pkg("vim", "9.0")],
            disks: vec![Disk { name: "sda".into(), size_bytes: 1 << 30, ..Default::default() }],
            interfaces: vec![Interface {
                name: "eth0".into(),
                addresses: vec!["10.0.0.5/24".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut new = old.clone();
        new.packages = vec![pkg("bash", "5.3"), pkg("curl", "8.0"), pkg("nginx", "1.26")];
        new.disks.push(Disk { name: "sdb".into(), size_bytes: 2 << 30, ..Default::default() });
        new.interfaces[0].addresses = vec!["10.0.0.6/24".into()];
        let kinds: Vec<(&str, String)> = diff(&old, &new).into_iter().map(|c| (c.kind, c.subject)).collect();
        assert_eq!(
            kinds,
            vec![
                ("software_upgraded", "bash:amd64".to_string()),
                ("software_installed", "nginx:amd64".to_string()),
                ("software_removed", "vim:amd64".to_string()),
                ("disk_added", "sdb".to_string()),
                ("address_added", "eth0".to_string()),
                ("address_removed", "eth0".to_string()),
            ]
        );
        assert!(diff(&new, &new).is_empty());
    }
}
