//! Shared measuring tools for the benchmarks: latency percentiles, concurrent clients,
//! process RSS, and the printed table.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    json!({ "cpus": cpus })
}

/// Latencies in microseconds → p50/p90/p99/max in milliseconds.
pub fn percentiles(mut us: Vec<u64>) -> Value {
    if us.is_empty() {
        return json!({});
    }
    us.sort_unstable();
    let at = |p: f64| us[(((us.len() - 1) as f64) * p).round() as usize] as f64 / 1000.0;
    json!({ "count": us.len(), "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": at(1.0) })
}

/// Runs `per_client` calls of `f(client, i)` on `clients` threads; returns (wall time, latencies µs).
pub fn concurrent<F>(clients: usize, per_client: usize, f: F) -> (Duration, Vec<u64>)
where
    F: Fn(usize, usize) + Sync,
{
    let started = Instant::now();
    let lat = std::sync::Mutex::new(Vec::with_capacity(clients * per_client));
    std::thread::scope(|s| {
        for c in 0..clients {
            let (f, lat) = (&f, &lat);
            s.spawn(move || {
                let mut mine = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let t = Instant::now();
                    f(c, i);
                    mine.push(t.elapsed().as_micros() as u64);
                }
                lat.lock().unwrap().extend(mine);
            });
        }
    });
    (started.elapsed(), lat.into_inner().unwrap())
}

/// Resident set size of a process in MiB (from /proc).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

pub fn print_table(name: &str, figures: &Value) {
    let mut rows = Vec::new();
    flatten("", figures, &mut rows);
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(10);
    println!("\n{name}");
    println!("{}", "-".repeat(w + 20));
    for (k, v) in rows {
        println!("{k:<w$}  {v}");
    }
}
