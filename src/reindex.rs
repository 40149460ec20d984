//! `wrench reindex`: builds a new search index generation from the database while a running
//! server keeps serving the old one; the server switches within seconds and replays what
//! changed meanwhile. Shows a progress bar with an ETA on a terminal, a line per 10 % otherwise.

use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::time::Instant;
use wrench_backend::config::Config;
use wrench_backend::search::indexer::{self, Progress};

#[derive(clap::Args)]
pub struct Args {}

struct Report {
    terminal: bool,
    started: Instant,
    last_decile: i64,
    last_draw: Option<Instant>,
}

fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

impl Progress for Report {
    fn update(&mut self, done: u64, total: u64) {
        let total = total.max(1);
        let pct = (done.min(total) * 100) / total;
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if done > 0 { elapsed * (total - done.min(total)) as f64 / done as f64 } else { 0.0 };
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let now = Instant::now();
            if done < total && self.last_draw.is_some_and(|t| now.duration_since(t).as_millis() < 100) {
                return;
            }
            self.last_draw = Some(now);
            let width = 30;
            let filled = (pct as usize * width) / 100;
            let _ = write!(
                err,
                "\r[{}{}] {pct:3}% {done}/{total} documents, elapsed {}, ETA {} ",
                "#".repeat(filled),
                " ".repeat(width - filled),
                clock(elapsed),
                clock(eta)
            );
            if done >= total {
                let _ = writeln!(err);
            }
        } else {
            let decile = (pct / 10) as i64;
            if decile > self.last_decile {
                self.last_decile = decile;
                let _ = writeln!(
                    err,
                    "reindex: {}% ({done}/{total} documents, elapsed {}, ETA {})",
                    decile * 10,
                    clock(elapsed),
                    clock(eta)
                );
            }
        }
    }
}

pub fn run(config: Config, _args: Args) -> anyhow::Result<()> {
    let pool = wrench_backend::db::open_pool(&config.database, 2)?;
    {
        let mut conn = pool.get().context("connecting to the database")?;
        wrench_backend::db::migrate(&mut conn)?;
    }
    let dir = config.data_dir.join("index");
    let mut report =
        Report { terminal: std::io::stderr().is_terminal(), started: Instant::now(), last_decile: -1, last_draw: None };
    let (name, payload) = indexer::rebuild(&pool, &dir, &mut report)?;
    println!(
        "built search index generation {name} in {:.1} s (up to change {}); a running server switches to it within seconds",
        report.started.elapsed().as_secs_f64(),
        payload.cursor
    );
    Ok(())
}
