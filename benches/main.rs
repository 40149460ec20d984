//! `make bench`: Wrench's benchmark harness (not timed tests). Each benchmark starts the
//! real release binary, drives it over HTTP like the tests do, and returns its figures;
//! the harness writes them as JSON under `target/bench/NAME.json` (with the commit, the
//! build profile and the database settings) and prints a table.
//!
//! `make bench BENCH="core"` runs only the benchmarks whose name contains "core".
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/e2e/support.rs"]
#[allow(dead_code)]
pub mod support;

mod assets;
mod common;
mod core;
mod development;
mod mail;
mod search;
mod sla;
mod web;

use serde_json::{json, Value};

type Bench = fn() -> Value;

/// Every benchmark: (name, function). Features add theirs here.
const BENCHES: &[(&str, Bench)] = &[
    ("core", core::run),
    ("development", development::run),
    ("web", web::run),
    ("search", search::run),
    ("mail", mail::run),
    ("assets", assets::run),
    ("sla", sla::run),
];

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let out_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out_dir).expect("target/bench");
    for (name, f) in BENCHES {
        if !filters.is_empty() && !filters.iter().any(|x| name.contains(x.as_str())) {
            continue;
        }
        eprintln!("== bench {name}");
        let figures = f();
        let doc = json!({
            "bench": name,
            "commit": common::git_commit(),
            "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
            "machine": common::machine(),
            "postgres": support::postgres_admin_url(),
            "sqlite": "WAL, synchronous=NORMAL, busy_timeout=10s",
            "figures": figures,
        });
        let path = out_dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")).expect("write bench json");
        common::print_table(name, &doc["figures"]);
        eprintln!("   written to {}", path.display());
    }
}
