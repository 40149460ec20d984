//! Assets and server agents: the real `wrench-agent` on this machine enrolls with a company's
//! key, its inventory arrives and matches the machine, a package change shows in the
//! history, a server outage fills the spool and every report arrives once afterwards;
//! Debian's FusionInventory agent feeds the company whose credentials it used; a silent
//! agent opens one ticket that its next heartbeat resolves; contacts and agent credentials
//! reach their own assets only.

use crate::both;
use crate::support::{temp_dir, Backend, Server, World};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn agent_bin() -> PathBuf {
    let p = Path::new(crate::support::wrench_bin()).with_file_name("wrench-agent");
    assert!(p.exists(), "{} is missing: build it with `cargo build --workspace --bins` (make test does)", p.display());
    p
}

fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn machine_hostname() -> String {
    sh("hostname", &[])
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One agent install: its state dir and the environment it runs with.
struct Agent {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Agent {
    fn new() -> Agent {
        Agent { dir: temp_dir("wrench_agent"), env: Vec::new() }
    }
    fn env(mut self, k: &str, v: &str) -> Agent {
        self.env.push((k.into(), v.into()));
        self
    }
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(agent_bin());
        c.args(args).env("WRENCH_AGENT_DIR", &self.dir);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().expect("run wrench-agent");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }
    fn enroll(&self, s: &Server, key: &str) {
        let (code, _, err) = self.run(&["enroll", "--server", &s.base(), "--key", key]);
        assert_eq!(code, 0, "enroll failed: {err}");
    }
    fn once(&self) -> i32 {
        let (code, _, err) = self.run(&["run", "--once"]);
        eprintln!("wrench-agent run --once: exit {code}\n{err}");
        code
    }
    fn credential(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join("credential.json")).expect("credential")).unwrap()
    }
    fn spooled(&self) -> usize {
        std::fs::read_dir(self.dir.join("spool"))
            .map(|d| d.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "json")).count())
            .unwrap_or(0)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn enrollment_key(s: &Server, token: &str, company: &str) -> String {
    let p = s.mutate(
        token,
        "createEnrollmentKey",
        "mutation($c:ID!){ createEnrollmentKey(companyId:$c, label:\"servers\"){ key enrollmentKey { id hint } errors { field message } } }",
        json!({ "c": company }),
    );
    p["key"].as_str().expect("key").to_string()
}

const ASSET: &str = "id companyId hostname source lastSeenAt osName kernel
    inventory { hostname cpuThreads memoryBytes packageCount packages { name version arch manager } interfaces { name addresses } filesystems { mount usedPercent } }";

fn asset(s: &Server, token: &str, id: i64) -> Value {
    let d =
        s.gql(Some(token), &format!("query($id:ID!){{ asset(id:$id){{ {ASSET} }} }}"), json!({ "id": id.to_string() }));
    d["asset"].clone()
}

fn history(s: &Server, token: &str, id: i64) -> Vec<(String, String, String)> {
    let d = s.gql(
        Some(token),
        "query($id:ID!){ asset(id:$id){ changes(first:100){ edges { node { kind subject description } } } } }",
        json!({ "id": id.to_string() }),
    );
    d["asset"]["changes"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["kind"].as_str().unwrap().into(),
                n["subject"].as_str().unwrap().into(),
                n["description"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn log_lines(s: &Server, token: &str, id: i64) -> Vec<String> {
    let d = s.gql(
        Some(token),
        "query($id:ID!){ asset(id:$id){ logs(first:1000){ line } } }",
        json!({ "id": id.to_string() }),
    );
    d["asset"]["logs"].as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap().to_string()).collect()
}

fn append(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    writeln!(f, "{line}").unwrap();
}

/// A copy of this machine's dpkg database with one package's version changed and another
/// removed; returns (dir, changed package, new version, removed package).
fn modified_dpkg_db(dir: &Path) -> (PathBuf, String, String, String) {
    let db = dir.join("dpkg");
    std::fs::create_dir_all(&db).unwrap();
    let status = std::fs::read_to_string("/var/lib/dpkg/status").expect("dpkg status");
    let removed = sh("dpkg-query", &["-W", "-f", "${Package}\n", "sed"]);
    let mut out = Vec::new();
    for stanza in status.split("\n\n") {
        let name = stanza.lines().find_map(|l| l.strip_prefix("Package: ")).unwrap_or("");
        if name == removed {
            continue;
        }
        if name == "bash" {
            let s: Vec<String> =
                stanza
                    .lines()
                    .map(|l| {
                        if l.starts_with("Version: ") {
                            "Version: 99.0-wrench-test".to_string()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect();
            out.push(s.join("\n"));
        } else {
            out.push(stanza.to_string());
        }
    }
    std::fs::write(db.join("status"), out.join("\n\n")).unwrap();
    (db, "bash".into(), "99.0-wrench-test".into(), removed)
}

#[test]
fn inventory_prints_this_machine_without_enrollment() {
    let a = Agent::new();
    let (code, out, err) = a.run(&["inventory"]);
    assert_eq!(code, 0, "{err}");
    let inv: Value = serde_json::from_str(&out).expect("one JSON object on stdout");
    assert_eq!(inv["schema_version"], 1);
    assert_eq!(inv["hostname"], machine_hostname());
    let kernel = sh("uname", &["-r"]);
    assert_eq!(inv["os"]["kernel"], kernel);
    for k in ["disks", "filesystems", "interfaces", "packages", "services"] {
        assert!(inv[k].is_array(), "{k} is not a list: {inv}");
    }
    let version = sh("dpkg-query", &["-W", "-f", "${Version}", "bash"]);
    let bash = inv["packages"].as_array().unwrap().iter().find(|p| p["name"] == "bash").expect("bash listed");
    assert_eq!(bash["version"], version);
    assert_eq!(bash["manager"], "dpkg");
    assert!(inv["interfaces"].as_array().unwrap().iter().any(|i| i["name"] == "lo"));
    assert!(!a.dir.join("credential.json").exists(), "inventory must not enroll");
}

both!(the_agent_enrolls_and_its_inventory_logs_and_changes_arrive, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let key = enrollment_key(&s, &w.admin, &acme);
    let dir = temp_dir("wrench_agent_fixture");
    let syslog = dir.join("syslog");
    append(&syslog, "before enrollment: old news");
    let a = Agent::new().env("WRENCH_AGENT_LOG_FILES", syslog.to_str().unwrap());

    // A wrong key is refused and writes no credential.
    let (code, _, err) = a.run(&["enroll", "--server", &s.base(), "--key", "wre_not-a-key"]);
    assert_ne!(code, 0);
    assert!(err.contains("401"), "{err}");
    a.enroll(&s, &key);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(a.dir.join("credential.json")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the credential must be private");
    let id = a.credential()["asset_id"].as_i64().unwrap();

    append(&syslog, "first report line one");
    assert_eq!(a.once(), 0);
    let got = asset(&s, &w.admin, id);
    assert_eq!(got["companyId"], acme.as_str());
    assert_eq!(got["source"], "agent");
    assert_eq!(got["hostname"], machine_hostname());
    assert_eq!(got["inventory"]["hostname"], machine_hostname());
    assert_eq!(got["kernel"], sh("uname", &["-r"]));
    let bash_version = sh("dpkg-query", &["-W", "-f", "${Version}", "bash"]);
    let pkgs = got["inventory"]["packages"].as_array().unwrap();
    assert!(
        pkgs.iter().any(|p| p["name"] == "bash" && p["version"] == bash_version.as_str()),
        "bash {bash_version} missing"
    );
    let installed =
        sh("dpkg-query", &["-W", "-f", "${db:Status-Abbrev}\n"]).lines().filter(|l| l.get(1..2) == Some("i")).count();
    assert_eq!(got["inventory"]["packageCount"], installed);
    assert!(got["lastSeenAt"].is_string());
    assert_eq!(history(&s, &w.admin, id)[0].0, "first_inventory");
    let lines = log_lines(&s, &w.admin, id);
    assert!(lines.contains(&"first report line one".to_string()), "{lines:?}");

    // The machine's software changes (a dpkg database with bash upgraded and sed removed).
    let (db, changed, version, removed) = modified_dpkg_db(&dir);
    let a = a.env("WRENCH_AGENT_DPKG_ADMINDIR", db.to_str().unwrap());
    append(&syslog, "second report line");
    assert_eq!(a.once(), 0);
    let h = history(&s, &w.admin, id);
    let arch = sh("dpkg-query", &["-W", "-f", "${Architecture}", "bash"]);
    assert!(
        h.iter()
            .any(|(k, sub, d)| k == "software_upgraded" && sub == &format!("{changed}:{arch}") && d.contains(&version)),
        "no upgrade in {h:?}"
    );
    assert!(h.iter().any(|(k, sub, _)| k == "software_removed" && sub.starts_with(&format!("{removed}:"))), "{h:?}");
    let after = asset(&s, &w.admin, id);
    assert!(after["inventory"]["packages"].as_array().unwrap().iter().all(|p| p["name"] != removed.as_str()));

    // Nothing changed: a heartbeat only, and no new history.
    assert_eq!(a.once(), 0);
    assert_eq!(history(&s, &w.admin, id).len(), h.len());
    let lines = log_lines(&s, &w.admin, id);
    for l in ["first report line one", "second report line"] {
        assert_eq!(lines.iter().filter(|x| *x == l).count(), 1, "{l} not exactly once in {lines:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
});

both!(a_server_outage_fills_the_spool_and_every_report_arrives_once, |b: Backend| {
    let mut s = crate::support::server(b).start();
    let (admin, key) = {
        let w = World::new(&s);
        let acme = w.company("Acme", &[]);
        (w.admin.clone(), enrollment_key(&s, &w.admin, &acme))
    };
    let dir = temp_dir("wrench_agent_fixture");
    let syslog = dir.join("syslog");
    append(&syslog, "line 0");
    let a = Agent::new()
        .env("WRENCH_AGENT_LOG_FILES", syslog.to_str().unwrap())
        .env("WRENCH_AGENT_INTERVAL", "1")
        .env("WRENCH_AGENT_RETRY_BASE_MS", "300");
    a.enroll(&s, &key);
    let id = a.credential()["asset_id"].as_i64().unwrap();
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let mut daemon = a.command(&["run"]).stderr(log).spawn().expect("start the agent daemon");
    wait_for("the first report", 20, || log_lines(&s, &admin, id).contains(&"line 0".to_string()));

    s.stop(false);
    for i in 1..=4 {
        append(&syslog, &format!("line {i}"));
        std::thread::sleep(Duration::from_millis(1100));
    }
    wait_for("reports to pile up in the spool", 20, || a.spooled() >= 3);
    s.start_again();
    wait_for("the spool to drain", 60, || a.spooled() == 0);
    wait_for("every line", 20, || log_lines(&s, &admin, id).len() >= 5);
    let _ = daemon.kill();
    let _ = daemon.wait();
    let lines = log_lines(&s, &admin, id);
    for i in 0..=4 {
        let l = format!("line {i}");
        assert_eq!(lines.iter().filter(|x| **x == l).count(), 1, "{l} not exactly once in {lines:?}");
    }
    let agent_log = std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
    assert!(agent_log.contains("retrying"), "the agent never retried:\n{agent_log}");
    let _ = std::fs::remove_dir_all(&dir);
});

fn fusioninventory() -> Option<String> {
    let found = Command::new("sh").args(["-c", "command -v fusioninventory-agent"]).output().ok()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    if path.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "fusioninventory-agent is not installed but CI is set (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED: fusioninventory-agent is not installed (apt-get install fusioninventory-agent); CI is unset"
        );
        return None;
    }
    Some(path)
}

fn run_fusioninventory(bin: &str, s: &Server, user: &str, password: &str) -> (i32, String) {
    let dir = temp_dir("fusioninventory");
    std::fs::write(dir.join("agent.cfg"), "").unwrap();
    let out = Command::new(bin)
        .args([
            &format!("--server={}/ocsinventory", s.base()),
            &format!("--user={user}"),
            &format!("--password={password}"),
            "--no-category=printer,usb,input,environment,process,user,local_user,local_group,battery,sound,video,controller,slot,virtualmachine,licenseinfo,antivirus",
            "--tasks=inventory",
            "--force",
            "--no-httpd",
            "--timeout=60",
            "--logger=stderr",
            &format!("--conf-file={}", dir.join("agent.cfg").display()),
        ])
        .env("TMPDIR", &dir)
        .output()
        .expect("run fusioninventory-agent");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

fn ocs_assets(s: &Server, token: &str, company: &str) -> Vec<Value> {
    let d = s.gql(
        Some(token),
        "query($c:ID){ assets(filter:{companyId:$c, source:\"ocs\"}){ edges { node { id hostname companyId deviceId inventory { packageCount osName } } } } }",
        json!({ "c": company }),
    );
    d["assets"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

both!(fusioninventory_agent_feeds_the_company_whose_credentials_it_used, |b: Backend| {
    let Some(bin) = fusioninventory() else { return };
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    let p = s.mutate(
        &w.admin,
        "createOcsCredential",
        "mutation($c:ID!){ createOcsCredential(input:{companyId:$c, username:\"acme-ocs\"}){ password credential { id username } errors { field message } } }",
        json!({ "c": acme }),
    );
    let password = p["password"].as_str().unwrap().to_string();
    s.mutate(
        &w.admin,
        "createOcsCredential",
        "mutation($c:ID!){ createOcsCredential(input:{companyId:$c, username:\"globex-ocs\", password:\"globex secret 12\"}){ password errors { field message } } }",
        json!({ "c": globex }),
    );

    // No credentials: a challenge the agents answer; wrong ones: refused, nothing stored.
    let r = s.request("POST", "/ocsinventory", &[("Content-Type", "application/x-compress")], Some(b"x")).unwrap();
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").unwrap_or("").starts_with("Basic realm="), "{:?}", r.headers);
    let (_, out) = run_fusioninventory(&bin, &s, "acme-ocs", "wrong password 1");
    assert!(ocs_assets(&s, &w.admin, &acme).is_empty(), "wrong credentials stored something:\n{out}");
    assert!(ocs_assets(&s, &w.admin, &globex).is_empty());

    let (code, out) = run_fusioninventory(&bin, &s, "acme-ocs", &password);
    assert_eq!(code, 0, "fusioninventory-agent failed:\n{out}");
    let got = ocs_assets(&s, &w.admin, &acme);
    assert_eq!(got.len(), 1, "expected one asset for Acme:\n{out}");
    assert_eq!(
        got[0]["hostname"].as_str().unwrap().split('.').next().unwrap(),
        machine_hostname().split('.').next().unwrap()
    );
    assert!(got[0]["inventory"]["packageCount"].as_i64().unwrap() > 10, "{:?}", got[0]);
    assert!(ocs_assets(&s, &w.admin, &globex).is_empty(), "the other company got the device");

    // The same device again updates the same asset.
    let (code, out) = run_fusioninventory(&bin, &s, "acme-ocs", &password);
    assert_eq!(code, 0, "{out}");
    assert_eq!(ocs_assets(&s, &w.admin, &acme).len(), 1);
});

fn ticket(s: &Server, token: &str, n: i64) -> Value {
    s.gql(Some(token), "query($n:Int!){ ticket(number:$n){ number status subject company { id } } }", json!({ "n": n }))
        ["ticket"]
        .clone()
}

fn alerts(s: &Server, token: &str, id: i64) -> Vec<Value> {
    let d = s.gql(
        Some(token),
        "query($id:ID!){ asset(id:$id){ alerts { checkKey ticketNumber resolvedAt failures } } }",
        json!({ "id": id.to_string() }),
    );
    d["asset"]["alerts"].as_array().unwrap().clone()
}

fn alert_ticket_count(s: &Server, token: &str, hostname: &str) -> usize {
    let d = s.gql(Some(token), "{ tickets(first:100){ edges { node { subject } } } }", json!({}));
    d["tickets"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["subject"].as_str().unwrap_or("").starts_with(&format!("[{hostname}]")))
        .count()
}

both!(a_silent_agent_opens_one_ticket_and_its_next_heartbeat_resolves_it, |b: Backend| {
    let s = crate::support::server(b).clock("2026-11-28T09:00:00Z").start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let key = enrollment_key(&s, &w.admin, &acme);
    let dir = temp_dir("wrench_agent_fixture");
    let syslog = dir.join("syslog");
    append(&syslog, "quiet");
    let a = Agent::new().env("WRENCH_AGENT_LOG_FILES", syslog.to_str().unwrap());
    a.enroll(&s, &key);
    let id = a.credential()["asset_id"].as_i64().unwrap();
    // Only silence is checked here: no surprises from this machine's real disks or services.
    for kind in ["FILESYSTEM", "SERVICE", "LOG"] {
        s.mutate(
            &w.admin,
            "setAssetCheck",
            &format!("mutation($c:ID){{ setAssetCheck(input:{{companyId:$c, kind:{kind}, enabled:false}}){{ checks {{ kind enabled origin }} errors {{ field message }} }} }}"),
            json!({ "c": acme }),
        );
    }
    let p = s.mutate(
        &w.admin,
        "setAssetCheck",
        "mutation($a:ID){ setAssetCheck(input:{assetId:$a, kind:OFFLINE, enabled:true, threshold:15}){ checks { kind enabled threshold origin } errors { field message } } }",
        json!({ "a": id.to_string() }),
    );
    let offline = p["checks"].as_array().unwrap().iter().find(|c| c["kind"] == "OFFLINE").unwrap().clone();
    assert_eq!((offline["threshold"].as_i64(), offline["origin"].as_str()), (Some(15), Some("asset")));
    assert_eq!(a.once(), 0);
    let hostname = asset(&s, &w.admin, id)["hostname"].as_str().unwrap().to_string();

    // 10 minutes of silence is within the asset's 15-minute limit.
    s.set_clock("2026-11-28T09:10:00Z");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alerts(&s, &w.admin, id).is_empty());

    s.set_clock("2026-11-28T09:16:00Z");
    wait_for("the offline alert", 15, || !alerts(&s, &w.admin, id).is_empty());
    let open = alerts(&s, &w.admin, id);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["checkKey"], "offline");
    assert!(open[0]["resolvedAt"].is_null());
    let n = open[0]["ticketNumber"].as_i64().unwrap();
    let t = ticket(&s, &w.admin, n);
    assert_eq!(t["company"]["id"], acme.as_str());
    assert_eq!(t["status"], "NEW");

    // More silence adds nothing new.
    s.set_clock("2026-11-28T09:40:00Z");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(alerts(&s, &w.admin, id).len(), 1);
    assert_eq!(alert_ticket_count(&s, &w.admin, &hostname), 1);

    // The agent reports: the alert recovers and its ticket is resolved with a note.
    assert_eq!(a.once(), 0);
    let after = alerts(&s, &w.admin, id);
    assert_eq!(after.len(), 1);
    assert!(after[0]["resolvedAt"].is_string(), "{after:?}");
    assert_eq!(ticket(&s, &w.admin, n)["status"], "RESOLVED");
    let thread = s.gql(Some(&w.admin), "query($n:Int!){ ticket(number:$n){ thread { body } } }", json!({ "n": n }));
    assert!(thread.to_string().contains("Recovered"), "{thread}");
    assert_eq!(alert_ticket_count(&s, &w.admin, &hostname), 1);
    let _ = std::fs::remove_dir_all(&dir);
});

both!(contacts_see_their_own_company_assets_and_agents_write_only_their_own, |b: Backend| {
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    let (_, pat) = w.contact(&acme, "Pat Acme", "pat@acme.example");
    let a1 = Agent::new().env("WRENCH_AGENT_LOG_FILES", "/nonexistent");
    a1.enroll(&s, &enrollment_key(&s, &w.admin, &acme));
    let a2 = Agent::new().env("WRENCH_AGENT_LOG_FILES", "/nonexistent");
    a2.enroll(&s, &enrollment_key(&s, &w.admin, &globex));
    assert_eq!(a1.once(), 0);
    assert_eq!(a2.once(), 0);
    let (id1, id2) = (a1.credential()["asset_id"].as_i64().unwrap(), a2.credential()["asset_id"].as_i64().unwrap());

    // Pat sees Acme's asset only, whatever the filter says.
    let d = s.gql(Some(&pat), "{ assets { totalCount edges { node { id companyId } } } }", json!({}));
    assert_eq!(d["assets"]["totalCount"], 1);
    assert_eq!(d["assets"]["edges"][0]["node"]["id"], id1.to_string());
    let d = s.gql(Some(&pat), "query($c:ID){ assets(filter:{companyId:$c}) { totalCount } }", json!({ "c": globex }));
    assert_eq!(d["assets"]["totalCount"], 0);
    assert!(asset(&s, &pat, id2).is_null());
    assert_eq!(asset(&s, &pat, id1)["hostname"], machine_hostname());
    // Staff see both; contacts cannot make keys.
    let d = s.gql(Some(&w.admin), "{ assets { totalCount } }", json!({}));
    assert_eq!(d["assets"]["totalCount"], 2);

    // Search finds assets by hostname and by installed software, inside the same walls.
    let found = |token: &str, q: &str| -> Vec<String> {
        let d = s.gql(
            Some(token),
            "query($q:String!){ search(query:$q, first:50){ totalCount edges { kind node { ... on AssetHit { id hostname } } } } }",
            json!({ "q": q }),
        );
        let mut ids: Vec<String> = d["search"]["edges"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["kind"] == "asset")
                    .map(|e| e["node"]["id"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    };
    let host = machine_hostname();
    let mut both_ids = vec![id1.to_string(), id2.to_string()];
    both_ids.sort();
    wait_for("both assets in the search index", 20, || found(&w.admin, &format!("kind:asset \"{host}\"")) == both_ids);
    assert_eq!(
        found(&pat, &format!("kind:asset \"{host}\"")),
        vec![id1.to_string()],
        "a contact finds only their company's asset"
    );
    wait_for("installed software in the search index", 20, || found(&w.admin, "kind:asset bash") == both_ids);
    assert_eq!(found(&pat, "kind:asset bash"), vec![id1.to_string()]);
    let d = s.gql(
        Some(&pat),
        "mutation($c:ID!){ createEnrollmentKey(companyId:$c){ key errors { message } } }",
        json!({ "c": acme }),
    );
    assert!(d["createEnrollmentKey"]["key"].is_null());

    // Agent 1's credential cannot write asset 2.
    let token1 = a1.credential()["token"].as_str().unwrap().to_string();
    let forged = json!({ "report_id": "forged-1", "asset_id": id2, "inventory": { "hostname": "evil" } }).to_string();
    let auth = format!("Bearer {token1}");
    let r = s
        .request(
            "POST",
            "/api/agent/report",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(forged.as_bytes()),
        )
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(asset(&s, &w.admin, id2)["hostname"], machine_hostname());
    // No credential, or an agent token used as an API token: nothing.
    let r = s
        .request("POST", "/api/agent/report", &[("Content-Type", "application/json")], Some(forged.as_bytes()))
        .unwrap();
    assert_eq!(r.status, 401);
    let (_, v) = s.gql_raw(Some(&token1), "{ assets { totalCount } }", json!({}));
    assert!(v.get("errors").is_some() || v["data"]["assets"].is_null(), "an agent token reads the API: {v}");

    // A revoked credential is refused; the agent keeps its report in the spool.
    let d = s.gql(Some(&w.admin), "query($id:ID!){ asset(id:$id){ agents { id } } }", json!({ "id": id1.to_string() }));
    let agent_id = d["asset"]["agents"][0]["id"].as_str().unwrap().to_string();
    s.mutate(
        &w.admin,
        "revokeAgentCredential",
        "mutation($id:ID!){ revokeAgentCredential(id:$id){ agent { revokedAt } errors { message } } }",
        json!({ "id": agent_id }),
    );
    assert_eq!(a1.once(), 75);
    assert_eq!(a1.spooled(), 1);
});

both!(technicians_read_an_asset_page_and_revoke_its_agent_on_the_web, |b: Backend| {
    use crate::web::Web;
    let s = crate::support::server(b).start();
    let w = World::new(&s);
    let acme = w.company("Acme", &[]);
    let globex = w.company("Globex", &[]);
    w.contact(&globex, "Gina Globex", "gina@globex.example");
    let dir = temp_dir("wrench_agent_fixture");
    let a = Agent::new().env("WRENCH_AGENT_LOG_FILES", "/nonexistent");
    a.enroll(&s, &enrollment_key(&s, &w.admin, &acme));
    assert_eq!(a.once(), 0);
    let (db, _, version, _) = modified_dpkg_db(&dir);
    let a = a.env("WRENCH_AGENT_DPKG_ADMINDIR", db.to_str().unwrap());
    assert_eq!(a.once(), 0);
    let id = a.credential()["asset_id"].as_i64().unwrap();

    let mut web = Web::new(&s);
    web.sign_in(crate::support::ADMIN_EMAIL, crate::support::ADMIN_PASSWORD);
    let list = web.get(&format!("/assets?company={acme}"));
    assert_eq!(list.status, 200);
    assert!(list.text().contains(&format!("href=\"/assets/{id}\"")), "{}", list.text());
    let page = web.get(&format!("/assets/{id}"));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&machine_hostname()) && html.contains("Installed software"), "{html}");
    assert!(html.contains("changed from") && html.contains(&version), "no readable history in {html}");

    // Keys: CSRF required; a new key is shown once.
    let r = web.post_raw("/assets/keys", &[("company", &acme), ("label", "web"), ("csrf_token", "forged")]);
    assert_eq!(r.status, 403);
    web.get("/assets/keys");
    let r = web.post("/assets/keys", &[("company", &acme), ("label", "web")]);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("wre_"), "{}", r.text());

    // Revoking the agent on its page stops its reports.
    let page = web.get(&format!("/assets/{id}")).text();
    let action = page
        .split("action=\"/assets/agents/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("revoke form")
        .to_string();
    let r = web.post(&format!("/assets/agents/{action}"), &[]);
    assert_eq!(r.status, 303);
    assert_eq!(a.once(), 75);

    // Another company's contact: not found.
    let mut gina = Web::new(&s);
    gina.sign_in("gina@globex.example", "portal password 1");
    assert_eq!(gina.get(&format!("/assets/{id}")).status, 404);
    assert!(!gina.get("/assets").text().contains(&format!("/assets/{id}\"")));
    let _ = std::fs::remove_dir_all(&dir);
});
