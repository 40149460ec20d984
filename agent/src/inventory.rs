//! What the machine is: read from /proc, /sys, os-release and a few standard commands
//! (dpkg-query or rpm, systemctl, df, ip). Every source is optional: a missing one gives an
//! empty list or nulls, never an error, so `wrench-agent inventory` works anywhere without root.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Runs a command and returns its stdout when it exits 0.
fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).env("LC_ALL", "C").output().ok()?;
    if !out.status.success() {
        crate::log(&format!("{cmd} exited with {}", out.status));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub fn hostname() -> String {
    read("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| run("hostname", &[]).map(|s| s.trim().to_string()))
        .unwrap_or_default()
}

fn os_release() -> BTreeMap<String, String> {
    let text = read("/etc/os-release").or_else(|| read("/usr/lib/os-release")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').trim_matches('\'').to_string()))
        .collect()
}

fn os() -> Value {
    let rel = os_release();
    let kernel = read("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .or_else(|| run("uname", &["-r"]).map(|s| s.trim().to_string()))
        .unwrap_or_default();
    json!({
        "name": rel.get("PRETTY_NAME").or_else(|| rel.get("NAME")).cloned().unwrap_or_else(|| "Linux".into()),
        "id": rel.get("ID").cloned().unwrap_or_default(),
        "version": rel.get("VERSION_ID").or_else(|| rel.get("VERSION")).cloned().unwrap_or_default(),
        "kernel": kernel,
        "arch": std::env::consts::ARCH,
    })
}

fn cpu() -> Value {
    let text = read("/proc/cpuinfo").unwrap_or_default();
    let mut model = String::new();
    let mut threads = 0u64;
    let mut cores: BTreeMap<(String, String), ()> = BTreeMap::new();
    let mut phys = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => threads += 1,
            "model name" | "Model" | "cpu model" if model.is_empty() => model = v.to_string(),
            "physical id" => phys = v.to_string(),
            "core id" => {
                cores.insert((phys.clone(), v.to_string()), ());
            }
            _ => {}
        }
    }
    let cores = if cores.is_empty() { threads } else { cores.len() as u64 };
    json!({ "model": model, "cores": cores, "threads": threads })
}

fn meminfo() -> BTreeMap<String, u64> {
    read("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let kb: u64 = v.split_whitespace().next()?.parse().ok()?;
            Some((k.trim().to_string(), kb * 1024))
        })
        .collect()
}

fn memory() -> Value {
    let m = meminfo();
    json!({
        "total_bytes": m.get("MemTotal").copied().unwrap_or(0),
        "available_bytes": m.get("MemAvailable").copied().unwrap_or(0),
        "swap_total_bytes": m.get("SwapTotal").copied().unwrap_or(0),
        "swap_free_bytes": m.get("SwapFree").copied().unwrap_or(0),
    })
}

/// Uptime in seconds and the 1/5/15-minute load averages.
pub fn uptime() -> Value {
    let up: f64 =
        read("/proc/uptime").and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok())).unwrap_or(0.0);
    let load: Vec<f64> = read("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    json!({ "seconds": up as u64, "load": load })
}

fn disks() -> Vec<Value> {
    let Ok(dir) = std::fs::read_dir("/sys/block") else { return Vec::new() };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if ["loop", "ram", "zram", "dm-", "sr", "fd", "md", "nbd"].iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let p = e.path();
        let sectors: u64 = read_trim(&p.join("size")).and_then(|s| s.parse().ok()).unwrap_or(0);
        if sectors == 0 {
            continue;
        }
        out.push(json!({
            "name": name,
            "size_bytes": sectors * 512,
            "model": read_trim(&p.join("device/model")).unwrap_or_default(),
            "serial": read_trim(&p.join("device/serial")).unwrap_or_default(),
            "rotational": read_trim(&p.join("queue/rotational")).map(|s| s == "1").unwrap_or(false),
        }));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    out
}

const PSEUDO_FS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "squashfs",
    "efivarfs",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "bpf",
    "fusectl",
    "configfs",
    "autofs",
    "nsfs",
    "ramfs",
    "hugetlbfs",
    "binfmt_misc",
];

/// Mounted filesystems with their usage (from `df`, which needs no root).
pub fn filesystems() -> Vec<Value> {
    let Some(text) = run("df", &["-P", "-T", "-B1"]) else { return Vec::new() };
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 7 {
            continue;
        }
        let (device, fstype) = (f[0], f[1]);
        let mount = f[6..].join(" ");
        if PSEUDO_FS.contains(&fstype) || !seen.insert(mount.clone()) {
            continue;
        }
        let size: u64 = f[2].parse().unwrap_or(0);
        let used: u64 = f[3].parse().unwrap_or(0);
        let avail: u64 = f[4].parse().unwrap_or(0);
        if size == 0 {
            continue;
        }
        let pct =
            if used + avail > 0 { (used as f64 * 100.0 / (used + avail) as f64 * 10.0).round() / 10.0 } else { 0.0 };
        out.push(json!({
            "mount": mount,
            "device": device,
            "type": fstype,
            "size_bytes": size,
            "used_bytes": used,
            "available_bytes": avail,
            "used_percent": pct,
        }));
    }
    out
}

fn interfaces() -> Vec<Value> {
    let mut by_name: BTreeMap<String, (String, String, u64, Vec<String>)> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let p = e.path();
            let mac = read_trim(&p.join("address")).unwrap_or_default();
            let state = read_trim(&p.join("operstate")).unwrap_or_default();
            let mtu = read_trim(&p.join("mtu")).and_then(|s| s.parse().ok()).unwrap_or(0);
            by_name.insert(name, (mac, state, mtu, Vec::new()));
        }
    }
    if let Some(text) = run("ip", &["-j", "addr", "show"]) {
        if let Ok(Value::Array(list)) = serde_json::from_str::<Value>(&text) {
            for ifc in list {
                let Some(name) = ifc["ifname"].as_str() else { continue };
                let entry = by_name.entry(name.to_string()).or_insert_with(|| {
                    (
                        ifc["address"].as_str().unwrap_or_default().to_string(),
                        ifc["operstate"].as_str().unwrap_or_default().to_lowercase(),
                        ifc["mtu"].as_u64().unwrap_or(0),
                        Vec::new(),
                    )
                });
                for a in ifc["addr_info"].as_array().into_iter().flatten() {
                    if let (Some(local), Some(len)) = (a["local"].as_str(), a["prefixlen"].as_u64()) {
                        entry.3.push(format!("{local}/{len}"));
                    }
                }
            }
        }
    }
    by_name
        .into_iter()
        .map(|(name, (mac, state, mtu, mut addresses))| {
            addresses.sort();
            json!({ "name": name, "mac": mac, "state": state, "mtu": mtu, "addresses": addresses })
        })
        .collect()
}

/// Installed packages from dpkg (Debian family) or rpm (Red Hat family).
/// `WRENCH_AGENT_DPKG_ADMINDIR` points dpkg-query at another database (tests, chroots).
pub fn packages() -> Vec<Value> {
    let admindir = std::env::var("WRENCH_AGENT_DPKG_ADMINDIR").ok().filter(|s| !s.is_empty());
    let has_dpkg = admindir.is_some() || Path::new("/var/lib/dpkg/status").exists();
    let mut out = Vec::new();
    if has_dpkg {
        let admin_arg = admindir.map(|d| format!("--admindir={d}"));
        let mut args: Vec<&str> = Vec::new();
        if let Some(a) = &admin_arg {
            args.push(a);
        }
        args.extend(["-W", "-f", "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n"]);
        if let Some(text) = run("dpkg-query", &args) {
            for line in text.lines() {
                let f: Vec<&str> = line.split('\t').collect();
                // Only installed packages ("ii", "hi"…), not removed ones with config left.
                if f.len() >= 4 && f[3].get(1..2) == Some("i") {
                    out.push(json!({ "name": f[0], "version": f[1], "arch": f[2], "manager": "dpkg" }));
                }
            }
        }
    } else if let Some(text) = run("rpm", &["-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n"]) {
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() >= 3 {
                out.push(json!({ "name": f[0], "version": f[1], "arch": f[2], "manager": "rpm" }));
            }
        }
    }
    out.sort_by(|a, b| (a["name"].as_str(), a["arch"].as_str()).cmp(&(b["name"].as_str(), b["arch"].as_str())));
    out
}

/// systemd services and their state (`running`, `exited`, `failed`, `dead`…); empty
/// where systemd is not running.
pub fn services() -> Vec<Value> {
    if !Path::new("/run/systemd/system").exists() {
        return Vec::new();
    }
    let Some(text) =
        run("systemctl", &["list-units", "--type=service", "--all", "--no-legend", "--plain", "--no-pager"])
    else {
        return Vec::new();
    };
    let mut out: Vec<Value> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 || f[1] == "not-found" {
                return None;
            }
            let name = f[0].trim_end_matches(".service");
            Some(json!({ "name": name, "state": f[3], "active": f[2] }))
        })
        .collect();
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    out
}

/// The full inventory (CONTRACT.md shape).
pub fn collect() -> Value {
    json!({
        "schema_version": 1,
        "hostname": hostname(),
        "os": os(),
        "cpu": cpu(),
        "memory": memory(),
        "uptime": uptime(),
        "disks": disks(),
        "filesystems": filesystems(),
        "interfaces": interfaces(),
        "packages": packages(),
        "services": services(),
    })
}

/// The parts of an inventory that say what the machine is, without the figures that move
/// every minute (usage, free memory, uptime, load): its hash decides when to send it again.
pub fn content_hash(inv: &Value) -> String {
    let mut stable = inv.clone();
    if let Some(o) = stable.as_object_mut() {
        o.remove("uptime");
        if let Some(m) = o.get_mut("memory").and_then(Value::as_object_mut) {
            m.remove("available_bytes");
            m.remove("swap_free_bytes");
        }
        if let Some(fs) = o.get_mut("filesystems").and_then(Value::as_array_mut) {
            for f in fs.iter_mut().filter_map(Value::as_object_mut) {
                f.remove("used_bytes");
                f.remove("available_bytes");
                f.remove("used_percent");
            }
        }
        if let Some(sv) = o.get_mut("services").and_then(Value::as_array_mut) {
            // A service's state changing is health, reported in each heartbeat.
            for s in sv.iter_mut().filter_map(Value::as_object_mut) {
                s.remove("state");
                s.remove("active");
            }
        }
    }
    format!("{:016x}", fnv1a(stable.to_string().as_bytes()))
}

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// The health figures a heartbeat carries.
pub fn health() -> Value {
    let m = meminfo();
    let fs: Vec<Value> = filesystems()
        .into_iter()
        .map(|f| json!({ "mount": f["mount"], "used_percent": f["used_percent"], "size_bytes": f["size_bytes"] }))
        .collect();
    json!({
        "uptime": uptime(),
        "memory_total_bytes": m.get("MemTotal").copied().unwrap_or(0),
        "memory_available_bytes": m.get("MemAvailable").copied().unwrap_or(0),
        "filesystems": fs,
        "services": services(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_usage_but_not_packages() {
        let a = json!({"hostname":"h","filesystems":[{"mount":"/","used_percent":10.0}],"packages":[{"name":"a"}]});
        let mut b = a.clone();
        b["filesystems"][0]["used_percent"] = json!(55.0);
        assert_eq!(content_hash(&a), content_hash(&b));
        b["packages"][0]["name"] = json!("b");
        assert_ne!(content_hash(&a), content_hash(&b));
    }
}
