//! Assets: how many agent heartbeats per second and full (distinct) inventories per minute
//! the server absorbs on SQLite and PostgreSQL, over HTTP like the agents; and the real
//! agent's own CPU time and peak memory for one `run --once` report.

use crate::common::{concurrent, percentiles};
use crate::support::{http_request, server, Backend, Server, World};
use serde_json::{json, Value};
use std::path::Path;

const AGENTS: usize = 200;
const CLIENTS: usize = 8;
const HEARTBEATS_PER_CLIENT: usize = 250;
const INVENTORY_CLIENTS: usize = 4;
const INVENTORIES_PER_CLIENT: usize = 50;
const PACKAGES: usize = 800;

pub fn run() -> Value {
    let mut out = json!({});
    for b in [Backend::Sqlite, Backend::Postgres] {
        let name = format!("{b:?}").to_lowercase();
        eprintln!("   {name}");
        out[&name] = bench_backend(b);
    }
    out["agent"] = agent_cost();
    out
}

fn post(s: &Server, path: &str, token: Option<&str>, body: &str) -> u16 {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        h.push(("Authorization", a.as_str()));
    }
    http_request(s.port, "POST", path, &h, Some(body.as_bytes())).map(|r| r.status).unwrap_or(0)
}

fn enrollment_key(s: &Server, w: &World) -> String {
    let company = w.company("Fleet Inc", &[]);
    let p = s.mutate(
        &w.admin,
        "createEnrollmentKey",
        "mutation($c:ID!){ createEnrollmentKey(companyId:$c){ key errors { message } } }",
        json!({ "c": company }),
    );
    p["key"].as_str().unwrap().to_string()
}

fn inventory(agent: usize, n: usize) -> Value {
    let packages: Vec<Value> = (0..PACKAGES)
        .map(|i| json!({ "name": format!("pkg-{i}"), "version": format!("1.{}.{}", i, if i == n % PACKAGES { n } else { 0 }), "arch": "amd64", "manager": "dpkg" }))
        .collect();
    json!({
        "schema_version": 1,
        "hostname": format!("host-{agent}"),
        "os": { "name": "Debian GNU/Linux 12", "version": "12", "kernel": "6.1.0" },
        "cpu": { "model": "EPYC", "cores": 4, "threads": 8 },
        "memory": { "total_bytes": 8u64 << 30 },
        "disks": [{ "name": "vda", "size_bytes": 100u64 << 30 }],
        "filesystems": [{ "mount": "/", "device": "/dev/vda1", "type": "ext4", "size_bytes": 100u64 << 30, "used_percent": 40.0 }],
        "interfaces": [{ "name": "eth0", "mac": "02:00:00:00:00:01", "addresses": [format!("10.0.{}.{}/24", agent / 250, agent % 250)] }],
        "packages": packages,
        "services": [],
    })
}

fn bench_backend(b: Backend) -> Value {
    let s = server(b).env("WRENCH_LOG", "warn").start();
    let w = World::new(&s);
    let key = enrollment_key(&s, &w);
    let tokens: Vec<String> = (0..AGENTS)
        .map(|i| {
            let r = http_request(
                s.port,
                "POST",
                "/api/agent/enroll",
                &[("Content-Type", "application/json")],
                Some(json!({ "key": key, "hostname": format!("host-{i}") }).to_string().as_bytes()),
            )
            .unwrap();
            r.json()["token"].as_str().unwrap().to_string()
        })
        .collect();

    // Distinct full inventories (each differs from the asset's previous one).
    let (wall, lat) = concurrent(INVENTORY_CLIENTS, INVENTORIES_PER_CLIENT, |c, i| {
        let agent = (c * INVENTORIES_PER_CLIENT + i) % AGENTS;
        let body = json!({ "report_id": format!("inv-{c}-{i}"), "inventory": inventory(agent, c * 1000 + i), "content_hash": format!("{c}-{i}") });
        assert_eq!(post(&s, "/api/agent/report", Some(&tokens[agent]), &body.to_string()), 200);
    });
    let inventories = (INVENTORY_CLIENTS * INVENTORIES_PER_CLIENT) as f64;
    let inv_per_min = inventories / wall.as_secs_f64() * 60.0;

    let health = json!({ "uptime": { "seconds": 1000, "load": [0.1, 0.1, 0.1] }, "memory_total_bytes": 8u64 << 30, "memory_available_bytes": 4u64 << 30,
        "filesystems": [{ "mount": "/", "used_percent": 40.0, "size_bytes": 100u64 << 30 }], "services": [] });
    let (hb_wall, hb_lat) = concurrent(CLIENTS, HEARTBEATS_PER_CLIENT, |c, i| {
        let agent = (c * HEARTBEATS_PER_CLIENT + i) % AGENTS;
        let body = json!({ "report_id": format!("hb-{c}-{i}"), "health": health, "logs": [{ "source": "/var/log/syslog", "line": format!("heartbeat {c} {i}") }] });
        assert_eq!(post(&s, "/api/agent/report", Some(&tokens[agent]), &body.to_string()), 200);
    });
    let heartbeats = (CLIENTS * HEARTBEATS_PER_CLIENT) as f64;
    json!({
        "heartbeats_per_s": (heartbeats / hb_wall.as_secs_f64()).round(),
        "heartbeat_latency": percentiles(hb_lat),
        "full_inventories_per_min": inv_per_min.round(),
        "inventory_packages": PACKAGES,
        "inventory_latency": percentiles(lat),
        "server_rss_mib": crate::common::rss_mib(s.pid()),
    })
}

/// CPU time and peak RSS of one `wrench-agent run --once` (inventory, hash, logs, send),
/// measured by GNU time's getrusage of the child.
fn agent_cost() -> Value {
    let bin = Path::new(crate::support::wrench_bin()).with_file_name("wrench-agent");
    let s = server(Backend::Sqlite).env("WRENCH_LOG", "warn").start();
    let w = World::new(&s);
    let key = enrollment_key(&s, &w);
    let dir = crate::support::temp_dir("bench_agent");
    let run = |args: &[&str]| {
        std::process::Command::new("/usr/bin/time")
            .arg("-f")
            .arg("%U %S %M")
            .arg(&bin)
            .args(args)
            .env("WRENCH_AGENT_DIR", &dir)
            .output()
            .expect("run wrench-agent under /usr/bin/time")
    };
    let out = run(&["enroll", "--server", &s.base(), "--key", &key]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut samples = Vec::new();
    for _ in 0..5 {
        let out = run(&["run", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("");
        let f: Vec<f64> = last.split_whitespace().filter_map(|v| v.parse().ok()).collect();
        if f.len() == 3 {
            samples.push((f[0] + f[1], f[2] / 1024.0));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let first = samples.first().copied().unwrap_or_default();
    let max_cpu = samples.iter().map(|s| s.0).fold(0.0, f64::max);
    let max_rss = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    json!({
        "first_report_cpu_ms": (first.0 * 1000.0).round(),
        "max_report_cpu_ms": (max_cpu * 1000.0).round(),
        "peak_rss_mib": (max_rss * 10.0).round() / 10.0,
        "reports": samples.len(),
    })
}
