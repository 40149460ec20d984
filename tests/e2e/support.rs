//! The test harness: starts the real `wrench` binary on a free port with a fresh data dir
//! and a fresh database (SQLite file or a new PostgreSQL database), and talks to it over
//! HTTP like a user would.

use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@msp.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares a story test once per database backend, named with the backend.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let f: fn($crate::support::Backend) = $body;
                f($crate::support::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                let f: fn($crate::support::Backend) = $body;
                $crate::support::mark_postgres_ran(concat!(module_path!(), "::postgres"));
                f($crate::support::Backend::Postgres)
            }
        }
    };
}

/// `make test` checks that at least one PostgreSQL test ran (a marker per test).
pub fn mark_postgres_ran(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pg-tests-ran");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(name.replace("::", "-")), b"ran\n");
}

pub fn postgres_admin_url() -> String {
    std::env::var("WRENCH_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{n}_{}", std::process::id(), t % 1_000_000_000)
}

pub fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A database for one test: a SQLite file inside the data dir, or a fresh PostgreSQL
/// database dropped afterwards.
pub struct TestDb {
    pub backend: Backend,
    pub url: Option<String>,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => TestDb { backend, url: None, pg_name: None },
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = unique("wrench_test").to_lowercase();
                let mut conn = diesel::PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for the postgres tests: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create database");
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin.clone());
                TestDb { backend, url: Some(format!("{base}/{name}")), pg_name: Some(name) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut conn) = diesel::PgConnection::establish(&postgres_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
    }
}

pub struct ServerBuilder {
    backend: Backend,
    env: Vec<(String, String)>,
    admin_env: bool,
    clock: Option<String>,
    data_dir: Option<PathBuf>,
}

impl ServerBuilder {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn without_admin_env(mut self) -> Self {
        self.admin_env = false;
        self
    }
    /// Starts with a manual clock at this RFC 3339 time (`WRENCH_CLOCK_FILE`).
    pub fn clock(mut self, at: &str) -> Self {
        self.clock = Some(at.into());
        self
    }
    pub fn data_dir(mut self, dir: PathBuf) -> Self {
        self.data_dir = Some(dir);
        self
    }
    pub fn start(self) -> Server {
        let db = TestDb::new(self.backend);
        let dir = self.data_dir.unwrap_or_else(|| temp_dir("wrench_data"));
        let mut server =
            Server { db, dir, port: 0, child: None, env: self.env, admin_env: self.admin_env, clock_file: None };
        if let Some(at) = self.clock {
            let f = server.dir.join("clock");
            std::fs::write(&f, &at).expect("clock file");
            server.clock_file = Some(f);
        }
        server.spawn();
        server
    }
}

pub struct Server {
    pub db: TestDb,
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    env: Vec<(String, String)>,
    admin_env: bool,
    pub clock_file: Option<PathBuf>,
}

pub fn server(backend: Backend) -> ServerBuilder {
    ServerBuilder { backend, env: Vec::new(), admin_env: true, clock: None, data_dir: None }
}

pub fn wrench_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wrench")
}

impl Server {
    /// The environment the server (and CLI commands run against it) sees.
    pub fn command_env(&self) -> Vec<(String, String)> {
        let mut env =
            vec![("WRENCH_DATA_DIR".to_string(), self.dir.display().to_string()), ("WRENCH_LOG".into(), "info".into())];
        if let Some(url) = &self.db.url {
            env.push(("WRENCH_DATABASE_URL".into(), url.clone()));
        }
        if self.admin_env {
            env.push(("WRENCH_ADMIN_EMAIL".into(), ADMIN_EMAIL.into()));
            env.push(("WRENCH_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()));
        }
        if let Some(c) = &self.clock_file {
            env.push(("WRENCH_CLOCK_FILE".into(), c.display().to_string()));
        }
        env.extend(self.env.iter().cloned());
        env
    }

    /// Runs `wrench ARGS` with the server's environment; returns (status, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let mut cmd = Command::new(wrench_bin());
        cmd.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in self.command_env() {
            cmd.env(k, v);
        }
        let mut child =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run wrench");
        child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    fn spawn(&mut self) {
        self.spawn_on(free_port());
    }

    /// Starts a stopped server again on the same port (clients keep their URL).
    pub fn start_again(&mut self) {
        let port = self.port;
        self.spawn_on(port);
    }

    fn spawn_on(&mut self, port: u16) {
        self.port = port;
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log")).expect("log file");
        let mut cmd = Command::new(wrench_bin());
        cmd.arg("serve").env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in self.command_env() {
            cmd.env(k, v);
        }
        cmd.env("WRENCH_BIND", format!("127.0.0.1:{}", self.port));
        let child = cmd.stdout(log.try_clone().expect("log")).stderr(log).spawn().expect("spawn wrench serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("wrench serve exited with {status}:\n{}", self.log_tail());
                }
            }
            if let Ok(r) = self.get("/healthz") {
                if r.status == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "wrench serve did not answer /healthz in 60 s:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGKILL when `hard`), keeping its data dir and database.
    pub fn stop(&mut self, hard: bool) {
        if let Some(mut c) = self.child.take() {
            if !hard {
                let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = c.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop(false);
        self.spawn();
    }

    /// The server process id (for RSS measurements).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Moves the manual clock.
    pub fn set_clock(&self, at: &str) {
        let f = self.clock_file.as_ref().expect("server started with .clock()");
        let tmp = f.with_extension("tmp");
        std::fs::write(&tmp, at).expect("clock");
        std::fs::rename(&tmp, f).expect("clock");
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, String> {
        http_request(self.port, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Result<Response, String> {
        self.request("GET", path, &[], None)
    }

    /// A GraphQL request; panics on transport errors, returns (HTTP status, JSON body).
    pub fn gql_raw(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let body = json!({ "query": query, "variables": variables }).to_string();
        self.gql_body(token, &body)
    }

    pub fn gql_body(&self, token: Option<&str>, body: &str) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let r = self
            .request("POST", "/graphql", &headers, Some(body.as_bytes()))
            .unwrap_or_else(|e| panic!("POST /graphql: {e}\n{}", self.log_tail()));
        let v: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", r.status, String::from_utf8_lossy(&r.body)));
        (r.status, v)
    }

    /// A GraphQL request that must succeed without any error; returns `data`.
    pub fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, v) = self.gql_raw(token, query, variables);
        assert_eq!(status, 200, "HTTP {status}: {v}");
        assert!(v.get("errors").is_none(), "GraphQL errors: {v}");
        v["data"].clone()
    }

    /// A mutation whose payload must carry no user errors; returns the payload.
    pub fn mutate(&self, token: &str, field: &str, query: &str, variables: Value) -> Value {
        let data = self.gql(Some(token), query, variables);
        let payload = data[field].clone();
        assert_eq!(payload["errors"], json!([]), "{field} returned user errors: {payload}");
        payload
    }

    pub fn login(&self, email: &str, password: &str) -> String {
        let data = self.gql(
            None,
            "mutation($e:String!,$p:String!){ login(email:$e, password:$p){ token errors { field message } } }",
            json!({ "e": email, "p": password }),
        );
        data["login"]["token"].as_str().unwrap_or_else(|| panic!("login of {email} failed: {data}")).to_string()
    }

    pub fn admin(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- server log ({}) ---\n{}", self.dir.display(), self.log_tail());
        }
        self.stop(true);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A small HTTP/1.1 client over a plain TCP socket: no redirects followed, every header
/// visible, any method and body.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    if let Some(b) = body {
        s.write_all(b).map_err(|e| e.to_string())?;
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked =
        headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(Response { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..pos]).split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// A small fixture builder: an admin token, and helpers to create companies, people and
/// tickets through the public API.
pub struct World<'a> {
    pub server: &'a Server,
    pub admin: String,
}

impl<'a> World<'a> {
    pub fn new(server: &'a Server) -> Self {
        World { admin: server.admin(), server }
    }

    pub fn company(&self, name: &str, domains: &[&str]) -> String {
        let p = self.server.mutate(
            &self.admin,
            "createCompany",
            "mutation($i: CompanyFields!){ createCompany(input:$i){ company { id name } errors { field message } } }",
            json!({ "i": { "name": name, "emailDomains": domains } }),
        );
        p["company"]["id"].as_str().expect("company id").to_string()
    }

    /// A contact with a portal password; returns (id, token).
    pub fn contact(&self, company: &str, name: &str, email: &str) -> (String, String) {
        let p = self.server.mutate(
            &self.admin,
            "createContact",
            "mutation($i: ContactFields!){ createContact(input:$i){ contact { id } errors { field message } } }",
            json!({ "i": { "companyId": company, "name": name, "email": email, "password": "portal password 1" } }),
        );
        let id = p["contact"]["id"].as_str().expect("contact id").to_string();
        (id, self.server.login(email, "portal password 1"))
    }

    /// A staff user; returns (id, token).
    pub fn staff(&self, name: &str, email: &str, role: &str) -> (String, String) {
        let p = self.server.mutate(
            &self.admin,
            "createUser",
            "mutation($i: UserFields!){ createUser(input:$i){ user { id } errors { field message } } }",
            json!({ "i": { "name": name, "email": email, "role": role, "password": "staff password 1" } }),
        );
        let id = p["user"]["id"].as_str().expect("user id").to_string();
        (id, self.server.login(email, "staff password 1"))
    }

    pub fn ticket(&self, token: &str, subject: &str, body: &str) -> i64 {
        let p = self.server.mutate(
            token,
            "createTicket",
            "mutation($i: CreateTicketInput!){ createTicket(input:$i){ ticket { number } errors { field message } } }",
            json!({ "i": { "subject": subject, "body": body } }),
        );
        p["ticket"]["number"].as_i64().expect("ticket number")
    }
}

/// A real SMTP server on loopback: Debian's python3-aiosmtpd delivering into a Maildir
/// under `dir` (used by the mail stories and the outbound benchmark).
pub struct Smtp {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Smtp {
    pub fn start(port: u16, dir: &Path) -> Smtp {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.join(sub)).expect("maildir");
        }
        let mut s = Smtp { port, dir: dir.to_path_buf(), child: None };
        s.spawn();
        s
    }

    /// Starts the server (again) on its port; returns once it accepts connections.
    pub fn spawn(&mut self) {
        // Debian's package installs for the system interpreter (not a pyenv or venv one).
        let python = if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{}", self.port),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (Debian's python3-aiosmtpd) is needed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The Maildir folder delivered messages land in.
    pub fn maildir(&self) -> PathBuf {
        self.dir.join("new")
    }

    /// How many messages have been delivered so far.
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.maildir()).map(|d| d.filter_map(|e| e.ok()).count()).unwrap_or(0)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}
