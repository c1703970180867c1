//! Real backing services for the integration tests: `redis-server` processes on free
//! ports, one Chroma server per test binary, and a tiny scriptable HTTP server.
//!
//! A missing tool is a loud failure with an install hint, never a skipped test: a suite
//! that silently skips its Redis tests in CI proves nothing. `./scripts/test.sh` installs
//! both tools; `VAKTPOST_REDIS_SERVER` and `VAKTPOST_CHROMA` point at other binaries.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use vaktpost::checks::CheckResult;
use vaktpost::config::{Loaded, Severity};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind 127.0.0.1:0")
}

/// Kills `pid` once this test process is gone, so an aborted test run leaves no server
/// behind; removes `dir` afterwards. Ends by itself when `pid` ends first.
fn watchdog(pid: u32, dir: Option<&Path>) {
    let me = std::process::id();
    let rm = dir.map(|d| format!("rm -rf '{}'", d.display())).unwrap_or_default();
    let script = format!(
        "while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         kill {pid} 2>/dev/null; sleep 2; kill -9 {pid} 2>/dev/null; {rm}"
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

// ---------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------

pub fn redis_server_bin() -> String {
    std::env::var("VAKTPOST_REDIS_SERVER").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "redis-server".into())
}

/// A `redis-server` on 127.0.0.1, killed when dropped.
pub struct Redis {
    pub port: u16,
    /// `requirepass`, when started with one (used by [`Redis::conn`]).
    pub password: Option<String>,
    args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Redis {
    /// Starts a server with extra `redis-server` arguments, e.g. `["--maxmemory", "2mb"]`.
    pub fn start(extra: &[&str]) -> Redis {
        let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let password = args.iter().position(|a| a == "--requirepass").and_then(|i| args.get(i + 1)).cloned();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut last = String::new();
        // A free port can be taken between the probe and the bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            match spawn_redis(port, &args, dir.path()) {
                Ok(child) => return Redis { port, password, args, dir, child: Some(child) },
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain (blocking) client for test setup.
    pub fn conn(&self) -> redis::Connection {
        let url = match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        };
        redis::Client::open(url).and_then(|c| c.get_connection()).expect("test client connects to redis-server")
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the server and starts a fresh one on the same port (new run_id, counters at 0).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match spawn_redis(self.port, &self.args, self.dir.path()) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                Err(e) if Instant::now() > deadline => panic!("redis-server did not restart: {e}"),
                // sleep-ok: the poll interval of a loop bounded by `deadline`
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `redis-server` on `port` and waits until it answers; the error carries its log.
fn spawn_redis(port: u16, args: &[String], dir: &Path) -> Result<Child, String> {
    let bin = redis_server_bin();
    let log = dir.join(format!("redis-{port}.log"));
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    // With a certificate the port speaks TLS only (`--tls-port`), and readiness is a TCP accept.
    let tls = args.iter().any(|a| a == "--tls-cert-file");
    let port_arg = port.to_string();
    let ports: &[&str] = if tls { &["--port", "0", "--tls-port", &port_arg] } else { &["--port", &port_arg] };
    let mut cmd = Command::new(&bin);
    cmd.args(ports)
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot start {bin:?}: {e}. Install Redis (`apt-get install -y redis-server`, or run \
             ./scripts/test.sh, which does) or set VAKTPOST_REDIS_SERVER to a redis-server binary"
        ),
    };
    watchdog(child.id(), None);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("{bin} exited with {st}:\n{}", tail(&log)));
        }
        if if tls { TcpStream::connect(("127.0.0.1", port)).is_ok() } else { ping(port) } {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{bin} did not answer PING within 15 s:\n{}", tail(&log)));
        }
        // sleep-ok: the poll interval of a loop bounded by `deadline`
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `+PONG`, or `-NOAUTH` when a password is set: either way the server is serving.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf[0] == b'+' || buf[0] == b'-'))
}

// ---------------------------------------------------------------------------------------
// Chroma
// ---------------------------------------------------------------------------------------

pub fn chroma_bin() -> PathBuf {
    match std::env::var("VAKTPOST_CHROMA") {
        Ok(s) if !s.is_empty() => PathBuf::from(s),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-chroma/bin/chroma"),
    }
}

/// The one Chroma server of this test binary (its start takes seconds).
pub struct Chroma {
    pub port: u16,
}

impl Chroma {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn db_path(&self, rest: &str) -> String {
        format!("/api/v2/tenants/default_tenant/databases/default_database{rest}")
    }

    /// Creates a collection and returns its id.
    pub fn create_collection(&self, name: &str) -> String {
        let (status, v) =
            http_json(self.port, "POST", &self.db_path("/collections"), Some(&serde_json::json!({"name": name})));
        assert_eq!(status, 200, "creating collection {name}: {v}");
        v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
    }

    /// Adds `n` records with 2-dimensional embeddings.
    pub fn add_records(&self, id: &str, n: usize) {
        let ids: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let embeddings: Vec<[f32; 2]> = (0..n).map(|i| [i as f32, 1.0]).collect();
        let body = serde_json::json!({"ids": ids, "embeddings": embeddings});
        let (status, v) = http_json(self.port, "POST", &self.db_path(&format!("/collections/{id}/add")), Some(&body));
        assert!(status == 200 || status == 201, "adding records: HTTP {status} {v}");
    }
}

/// Starts the Chroma server on first use; panics with an install hint when it cannot.
pub fn chroma() -> &'static Chroma {
    static CHROMA: OnceLock<Chroma> = OnceLock::new();
    CHROMA.get_or_init(start_chroma)
}

fn start_chroma() -> Chroma {
    let bin = chroma_bin();
    let dir = tempfile::Builder::new().prefix("vaktpost-chroma-").tempdir().expect("temp dir").keep();
    let log = dir.join("chroma.log");
    let port = free_port();
    let out = std::fs::File::create(&log).expect("chroma log file");
    let spawned = Command::new(&bin)
        .args(["run", "--host", "127.0.0.1", "--port", &port.to_string(), "--path"])
        .arg(dir.join("data"))
        .env("ANONYMIZED_TELEMETRY", "False")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot start Chroma at {}: {e}. Run ./scripts/test.sh (it creates .venv-chroma with \
             `python3 -m venv .venv-chroma && .venv-chroma/bin/pip install chromadb`) or set \
             VAKTPOST_CHROMA to a `chroma` executable",
            bin.display()
        ),
    };
    watchdog(child.id(), Some(&dir));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("Chroma ({}) exited with {st} while starting:\n{}", bin.display(), tail(&log));
        }
        if let Ok((200, v)) = try_http_json(port, "GET", "/api/v2/heartbeat", None) {
            if v.get("nanosecond heartbeat").is_some() {
                // The child handle is dropped without waiting: the watchdog ends the server.
                std::mem::forget(child);
                return Chroma { port };
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Chroma ({}) gave no heartbeat within 60 s:\n{}", bin.display(), tail(&log));
        }
        // sleep-ok: the poll interval of a loop bounded by `deadline`
        std::thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// One blocking HTTP/1.1 request to 127.0.0.1 with a JSON body; panics on transport errors.
pub fn http_json(port: u16, method: &str, path: &str, body: Option<&serde_json::Value>) -> (u16, serde_json::Value) {
    try_http_json(port, method, path, body).unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

fn try_http_json(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<(u16, serde_json::Value), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let payload = if chunked { dechunk(rest) } else { rest.to_string() };
    let v = serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
    Ok((status, v))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One request as [`FakeHttp`] received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
}

type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A threaded HTTP/1.1 server on 127.0.0.1 answering JSON from a closure, recording requests.
pub struct FakeHttp {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeHttp {
    pub fn start(handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (handler, log) = (handler.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        FakeHttp { port, seen, connections }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Keep-alive HTTP/1.1: requests without bodies (GET), answered until the client closes.
fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Seen>>) {
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
        let seen = Seen { path, headers };
        let (status, body) = handler(&seen);
        if let Ok(mut l) = log.lock() {
            l.push(seen);
        }
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------

/// The rules (defaults plus the config's) that hold for `r`: (rule, severity, message).
pub fn findings(loaded: &Loaded, r: &CheckResult) -> Vec<(String, Severity, String)> {
    let rules = vaktpost::rules::build(&loaded.config.rules).unwrap_or_else(|e| panic!("rules: {e:?}"));
    let m = loaded.config.monitors.iter().find(|m| m.common.name == r.name).expect("monitor of the result");
    let vars = vaktpost::rules::variables(m, r, &BTreeMap::new());
    rules
        .iter()
        .filter(|rule| rule.applies_to(&r.name))
        .filter_map(|rule| rule.check(&vars).map(|sev| (rule.name.clone(), sev, rule.render(&vars))))
        .collect()
}

/// The message of rule `name` among [`findings`]; panics, listing them, when it did not fire.
pub fn fired(loaded: &Loaded, r: &CheckResult, name: &str) -> String {
    let all = findings(loaded, r);
    all.iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, _, m)| m.clone())
        .unwrap_or_else(|| panic!("rule {name} did not fire; fired: {all:?}\nresult: {r:#?}"))
}

/// Asserts that rule `name` does not hold for `r`.
pub fn not_fired(loaded: &Loaded, r: &CheckResult, name: &str) {
    let all = findings(loaded, r);
    assert!(all.iter().all(|(n, _, _)| n != name), "rule {name} fired: {all:?}\nresult: {r:#?}");
}
