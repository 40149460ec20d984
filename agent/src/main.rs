//! `wrench-agent`: Wrench's server agent. It enrolls once with a per-company key, then
//! sends a heartbeat with health figures every minute, the full inventory when it changed
//! (or once a day), and the new system log lines. Every report goes through an on-disk
//! spool first, so a server outage delays reports but loses none (up to the spool's bound).

mod inventory;
mod logs;
mod spool;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
wrench-agent: Wrench's server agent

Usage:
  wrench-agent inventory                          print this machine's inventory as JSON
  wrench-agent enroll --server URL --key KEY      trade an enrollment key for this agent's credential
  wrench-agent run [--once]                       send reports (as a daemon, or one report and exit)

Options:
  --dir DIR     state directory: credential (0600), spool, cursors
                (default $WRENCH_AGENT_DIR or /var/lib/wrench-agent)
  -h, --help    this help

Environment:
  WRENCH_AGENT_DIR              state directory
  WRENCH_AGENT_INTERVAL         seconds between heartbeats (default 60)
  WRENCH_AGENT_LOG_FILES        colon-separated log files to follow instead of the journal
  WRENCH_AGENT_DPKG_ADMINDIR    dpkg database to read packages from (default /var/lib/dpkg)
  WRENCH_AGENT_SPOOL_MAX        reports kept while the server is unreachable (default 1000)

Exit codes: 0 success; 1 usage or enrollment error; 75 reports left in the spool (run --once).
";

/// Retry after a failed delivery: 5 s, doubling, capped at 300 s.
const RETRY_BASE_MS: u64 = 5_000;
const RETRY_CAP_MS: u64 = 300_000;
/// A full inventory at least this often even when nothing changed.
const INVENTORY_EVERY_SECS: u64 = 86_400;

pub fn log(msg: &str) {
    eprintln!("wrench-agent: {msg}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(match real_main(&args) {
        Ok(code) => code,
        Err(e) => {
            log(&e);
            1
        }
    });
}

fn flag_value(args: &[String], name: &str) -> Result<Option<String>, String> {
    let prefix = format!("{name}=");
    for (i, a) in args.iter().enumerate() {
        if a == name {
            return args.get(i + 1).cloned().map(Some).ok_or_else(|| format!("{name} needs a value"));
        }
        if let Some(v) = a.strip_prefix(&prefix) {
            return Ok(Some(v.to_string()));
        }
    }
    Ok(None)
}

fn state_dir(args: &[String]) -> Result<PathBuf, String> {
    Ok(flag_value(args, "--dir")?
        .or_else(|| std::env::var("WRENCH_AGENT_DIR").ok().filter(|s| !s.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/wrench-agent")))
}

fn real_main(args: &[String]) -> Result<i32, String> {
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return Ok(if args.is_empty() { 1 } else { 0 });
    }
    match args[0].as_str() {
        "inventory" => {
            let inv = inventory::collect();
            println!("{}", serde_json::to_string_pretty(&inv).map_err(|e| e.to_string())?);
            Ok(0)
        }
        "enroll" => {
            let server = flag_value(args, "--server")?.ok_or("enroll needs --server URL")?;
            let key = flag_value(args, "--key")?.ok_or("enroll needs --key KEY")?;
            enroll(&state_dir(args)?, &server, &key)?;
            Ok(0)
        }
        "run" => {
            let dir = state_dir(args)?;
            let cred = Credential::load(&dir)?;
            if args.iter().any(|a| a == "--once") {
                run_once(&dir, &cred)
            } else {
                daemon(&dir, &cred)
            }
        }
        "--version" | "version" => {
            println!("wrench-agent {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        other => Err(format!("unknown command {other:?}; see wrench-agent --help")),
    }
}

// ---------------------------------------------------------------- credential and state

#[derive(Debug, Serialize, Deserialize)]
struct Credential {
    server: String,
    token: String,
    asset_id: i64,
}

impl Credential {
    fn path(dir: &Path) -> PathBuf {
        dir.join("credential.json")
    }
    fn load(dir: &Path) -> Result<Credential, String> {
        let p = Self::path(dir);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            format!("cannot read {} ({e}); enroll first: wrench-agent enroll --server URL --key KEY", p.display())
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{} is damaged ({e}); enroll again", p.display()))
    }
    fn save(&self, dir: &Path) -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let p = Self::path(dir);
        let tmp = p.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        let body = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        f.write_all(&body).and_then(|_| f.sync_all()).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &p).map_err(|e| format!("writing {}: {e}", p.display()))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    content_hash: String,
    #[serde(default)]
    inventory_sent_at: u64,
    #[serde(default)]
    cursors: logs::Cursors,
}

impl State {
    fn load(dir: &Path) -> State {
        std::fs::read_to_string(dir.join("state.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
    fn save(&self, dir: &Path) -> Result<(), String> {
        let p = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let body = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, body)
            .and_then(|_| std::fs::rename(&tmp, &p))
            .map_err(|e| format!("writing {}: {e}", p.display()))
    }
}

// ---------------------------------------------------------------- HTTP

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn post_json(url: &str, token: Option<&str>, body: &[u8]) -> Result<(u16, Value), String> {
    let mut req = http().post(url).header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(body).map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn enroll(dir: &Path, server: &str, key: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let server = server.trim_end_matches('/').to_string();
    let body = json!({ "key": key, "hostname": inventory::hostname() }).to_string();
    let (status, v) = post_json(&format!("{server}/api/agent/enroll"), None, body.as_bytes())?;
    if status != 200 {
        let msg = v["error"].as_str().unwrap_or("no reason given");
        return Err(format!("enrollment refused (HTTP {status}): {msg}"));
    }
    let token = v["token"].as_str().ok_or("the server's answer has no token")?.to_string();
    let asset_id = v["asset_id"].as_i64().ok_or("the server's answer has no asset_id")?;
    Credential { server, token, asset_id }.save(dir)?;
    // A new enrollment starts a fresh history: send the full inventory first.
    let mut st = State::load(dir);
    st.content_hash.clear();
    st.save(dir)?;
    log(&format!("enrolled as asset {asset_id}; credential in {}", Credential::path(dir).display()));
    Ok(())
}

// ---------------------------------------------------------------- reports

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// RFC 3339 in UTC from Unix seconds (civil-from-days, Howard Hinnant's algorithm).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn report_id() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_ok();
    if !ok {
        let n = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        b = (n ^ u128::from(std::process::id())).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Builds the next report and puts it in the spool; moves the cursors only then.
fn collect_into_spool(dir: &Path, spool: &spool::Spool) -> Result<(), String> {
    let mut st = State::load(dir);
    let now = unix_now();
    let inv = inventory::collect();
    let hash = inventory::content_hash(&inv);
    let send_inventory = hash != st.content_hash || now.saturating_sub(st.inventory_sent_at) >= INVENTORY_EVERY_SECS;
    let (lines, cursors) = logs::tail(&st.cursors);
    let report = json!({
        "report_id": report_id(),
        "collected_at": rfc3339(now),
        "agent_version": env!("CARGO_PKG_VERSION"),
        "hostname": inv["hostname"],
        "content_hash": hash,
        "health": inventory::health(),
        "inventory": if send_inventory { inv } else { Value::Null },
        "logs": lines,
    });
    spool.push(&report)?;
    if send_inventory {
        st.content_hash = hash;
        st.inventory_sent_at = now;
    }
    st.cursors = cursors;
    st.save(dir)
}

enum Delivery {
    /// Everything in the spool was delivered.
    Done,
    /// The server could not be reached or refused for now; try again later.
    Later(String),
}

/// Sends spooled reports oldest first; stops at the first one that cannot be delivered.
fn flush(dir: &Path, cred: &Credential, spool: &spool::Spool) -> Delivery {
    let url = format!("{}/api/agent/report", cred.server);
    for path in spool.pending() {
        let Ok(body) = std::fs::read(&path) else {
            spool.remove(&path);
            continue;
        };
        match post_json(&url, Some(&cred.token), &body) {
            Ok((200..=299, v)) => {
                spool.remove(&path);
                if v["inventory_wanted"].as_bool() == Some(true) {
                    // The server has no snapshot of us (new or reset): send it with the next report.
                    let mut st = State::load(dir);
                    st.content_hash.clear();
                    let _ = st.save(dir);
                }
            }
            Ok((s @ (400 | 413 | 422), v)) => {
                // This report can never be accepted: drop it rather than block the rest.
                log(&format!("the server rejected report {} (HTTP {s}: {}); dropped", path.display(), v["error"]));
                spool.remove(&path);
            }
            Ok((s @ (401 | 403), _)) => {
                return Delivery::Later(format!("the server refused this agent's credential (HTTP {s}); re-enroll"))
            }
            Ok((s, _)) => return Delivery::Later(format!("the server answered HTTP {s}")),
            Err(e) => return Delivery::Later(e),
        }
    }
    Delivery::Done
}

fn run_once(dir: &Path, cred: &Credential) -> Result<i32, String> {
    let spool = spool::Spool::open(dir)?;
    collect_into_spool(dir, &spool)?;
    match flush(dir, cred, &spool) {
        Delivery::Done => Ok(0),
        Delivery::Later(why) => {
            log(&format!("{why}; {} report(s) kept in the spool", spool.pending().len()));
            Ok(75)
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn daemon(dir: &Path, cred: &Credential) -> Result<i32, String> {
    let spool = spool::Spool::open(dir)?;
    let interval = Duration::from_secs(env_u64("WRENCH_AGENT_INTERVAL", 60).max(1));
    let base = Duration::from_millis(env_u64("WRENCH_AGENT_RETRY_BASE_MS", RETRY_BASE_MS).max(10));
    let cap = Duration::from_millis(RETRY_CAP_MS);
    log(&format!("running: asset {} reporting to {} every {}s", cred.asset_id, cred.server, interval.as_secs()));
    let mut next_collect = std::time::Instant::now();
    let mut next_send = std::time::Instant::now();
    let mut backoff = base;
    loop {
        let now = std::time::Instant::now();
        if now >= next_collect {
            if let Err(e) = collect_into_spool(dir, &spool) {
                log(&format!("could not spool a report: {e}"));
            }
            next_collect = now + interval;
        }
        if now >= next_send && !spool.pending().is_empty() {
            match flush(dir, cred, &spool) {
                Delivery::Done => backoff = base,
                Delivery::Later(why) => {
                    log(&format!("{why}; retrying in {}s", backoff.as_secs_f32()));
                    next_send = now + backoff;
                    backoff = (backoff * 2).min(cap);
                }
            }
        }
        let wake = if spool.pending().is_empty() { next_collect } else { next_collect.min(next_send) };
        std::thread::sleep(wake.saturating_duration_since(std::time::Instant::now()).max(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_854_600), "2026-11-28T08:30:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
