//! The `redis` check: memory, clients, evictions and the cache hit rate, read from `INFO`.
//! vaktpost opens the connection itself (hickory DNS, TCP, rustls from [`super::net`]), so a
//! `rediss://` target resolves, times out and fails TLS exactly like an `https` monitor, and
//! the `redis` crate only speaks RESP and the AUTH handshake over that stream.
//!
//! Counters (`keyspace_hits`, `evicted_keys`, …) only mean something as changes, so the
//! check carries them to its next run ([`CheckResult::carry`]) and reports the deltas.

use schemars::JsonSchema;

use std::cell::Cell;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo, RedisError};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use url::Url;

use super::kinds::{DefaultRule, Kind, check_memory_thresholds};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::retry::{self, Next, Policy};
use crate::values::duration::format_duration;
use crate::values::vartype::Ty;
use crate::values::Secret;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisOptions {
    /// `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS) or
    /// `unix:///path/to.sock?db=N`; credentials in it are secrets.
    pub url: Secret,
    /// ACL user; overrides the URL's.
    #[serde(default)]
    pub username: Option<String>,
    /// Overrides the URL's password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// `percent` (of maxmemory, or of total_system_memory) above this ⇒ `degraded`.
    #[serde(default)]
    pub max_memory_percent: Option<f64>,
    /// `hit_rate` (0–1) below this ⇒ `degraded`.
    #[serde(default)]
    pub min_hit_rate: Option<f64>,
    /// `fragmentation_ratio` (RSS / used) above this ⇒ `degraded`.
    #[serde(default)]
    pub max_fragmentation_ratio: Option<f64>,
    /// `rediss://`: accept any certificate (self-signed managed Redis).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// The metrics leak detection trends for this check (bytes).
pub const MEMORY_SERIES: &[&str] = &["used_memory", "used_memory_rss"];

use super::transport::Io;

/// Most bytes read from one connection: the handshake replies and `INFO` (a few KB on a
/// real server) fit many times over. The `redis` crate buffers a reply until it is whole,
/// so without this an endless `+AAAA…` or a huge bulk length would be buffered forever.
pub const MAX_REPLY_BYTES: u64 = 4 << 20;

/// A stream whose reads fail once more than `cap` bytes have come in, and which says so
/// in `tripped` so the check can report `protocol` rather than a broken connection.
struct Capped<S> {
    inner: S,
    read: u64,
    cap: u64,
    tripped: Arc<AtomicBool>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.read = self.read.saturating_add((buf.filled().len() - before) as u64);
        if self.read > self.cap {
            // The bytes of this read are dropped with the connection; nothing keeps them.
            buf.set_filled(before);
            self.tripped.store(true, Ordering::Relaxed);
            return Poll::Ready(Err(std::io::Error::other(over_cap_message(self.cap))));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn over_cap_message(cap: u64) -> String {
    format!(
        "the server sent more than {} MiB without completing a Redis reply (INFO is a few KB); is this a Redis server?",
        cap >> 20
    )
}

/// Where and as whom to connect, from the URL and the `username`/`password` options.
struct Target {
    addr: Addr,
    db: i64,
    username: Option<String>,
    password: Option<String>,
}

enum Addr {
    Tcp {
        host: String,
        port: u16,
        tls: bool,
    },
    #[cfg_attr(not(unix), allow(dead_code))]
    Unix(String),
}

/// What this check keeps for its next run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Carry {
    run_id: String,
    keyspace_hits: u64,
    keyspace_misses: u64,
    evicted_keys: u64,
    rejected_connections: u64,
}

pub async fn check(o: &RedisOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    // A failed run keeps the last counters, so the next good run still has a baseline.
    r.carry = eff.prev.clone();
    let target = match parse_target(o) {
        Ok(t) => t,
        Err(e) => return r.fail(e),
    };
    // Connect errors and timeouts are retried (`retry::run`, the check policy).
    let judge = |res: &Result<String, CheckError>| match res {
        Err(e) if matches!(e.kind, ErrorKind::Connect | ErrorKind::Timeout) => Next::Retry,
        _ => Next::Done,
    };
    let out = retry::run(&Policy::check(eff.retries), &env.waiter, |_| fetch_info(o, &target, eff, env), judge).await;
    r.set("attempts", out.attempts as u64);
    let info = out.value.map_err(|mut e| {
        e.message.push_str(&out.stop.clause());
        e
    });
    match info {
        Ok(text) => match evaluate(o, &text, eff.prev.as_ref(), &mut r) {
            Ok(()) => {}
            Err(e) => r = r.fail(e),
        },
        Err(e) => r = r.fail(e),
    }
    scrub(&mut r, &target);
    r
}

/// The password may sit in the URL percent-encoded; the redactor knows the whole URL and
/// the `password` option, so the decoded URL password is removed here.
fn scrub(r: &mut CheckResult, t: &Target) {
    let Some(p) = t.password.as_deref().filter(|p| p.len() >= 3) else { return };
    if let Some(e) = &mut r.error {
        e.message = e.message.replace(p, "***");
    }
    if let Some(m) = &mut r.message {
        *m = m.replace(p, "***");
    }
}

fn config_err(msg: impl Into<String>) -> CheckError {
    CheckError::new(ErrorKind::Config, msg)
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn parse_target(o: &RedisOptions) -> Result<Target, CheckError> {
    // Messages here never quote the URL: it may carry a password.
    let url = Url::parse(o.url.expose())
        .map_err(|e| config_err(format!("url is not a valid URL ({e}); write redis://host:6379/0")))?;
    let db_err =
        |v: &str| config_err(format!("database {v:?} in the URL is not a number; write e.g. redis://host:6379/0"));
    let (addr, db) = match url.scheme() {
        "redis" | "rediss" => {
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| config_err("url has no host; write redis://host:6379"))?
                .to_string();
            let port = url.port().unwrap_or(6379);
            let path = url.path().trim_matches('/');
            let db = if path.is_empty() { 0 } else { path.parse::<i64>().map_err(|_| db_err(path))? };
            (Addr::Tcp { host, port, tls: url.scheme() == "rediss" }, db)
        }
        "unix" => {
            let db = match url.query_pairs().find(|(k, _)| k == "db") {
                Some((_, v)) => v.parse::<i64>().map_err(|_| db_err(&v))?,
                None => 0,
            };
            (Addr::Unix(decode(url.path())), db)
        }
        other => {
            return Err(config_err(format!("unsupported scheme {other:?}; use redis://, rediss:// (TLS) or unix://")))
        }
    };
    let username = o.username.clone().or_else(|| Some(decode(url.username())).filter(|u| !u.is_empty()));
    let password = o
        .password
        .as_ref()
        .map(|p| p.expose().to_string())
        .or_else(|| url.password().map(decode))
        .or_else(|| url.query_pairs().find(|(k, _)| k == "password").map(|(_, v)| v.into_owned()))
        .filter(|p| !p.is_empty());
    Ok(Target { addr, db, username, password })
}

/// Connects, authenticates and reads `INFO`, the whole exchange under the monitor's
/// timeout and at most [`MAX_REPLY_BYTES`] read.
async fn fetch_info(o: &RedisOptions, t: &Target, eff: &Effective, env: &CheckEnv) -> Result<String, CheckError> {
    let tripped = Arc::new(AtomicBool::new(false));
    let res = fetch_capped(o, t, eff, env, &tripped, MAX_REPLY_BYTES).await;
    // Past the cap the crate sees a failed read; what happened is the server's answer.
    if tripped.load(Ordering::Relaxed) {
        return Err(CheckError::new(ErrorKind::Protocol, over_cap_message(MAX_REPLY_BYTES)));
    }
    res
}

async fn fetch_capped(
    o: &RedisOptions,
    t: &Target,
    eff: &Effective,
    env: &CheckEnv,
    tripped: &Arc<AtomicBool>,
    cap: u64,
) -> Result<String, CheckError> {
    let deadline = tokio::time::Instant::now() + eff.timeout;
    let phase = Cell::new("resolving the host");
    let timed_out = |phase: &str| {
        CheckError::new(ErrorKind::Timeout, format!("timed out after {} while {phase}", format_duration(eff.timeout)))
    };
    let (mut conn, mut driver) = tokio::time::timeout_at(deadline, connect(o, t, env, &phase, tripped, cap))
        .await
        .map_err(|_| timed_out(phase.get()))??;
    // The connection's driver runs beside the query rather than in a spawned task, so the
    // socket is closed the moment the check returns.
    let info = redis::cmd("INFO");
    let query = info.query_async::<String>(&mut conn);
    tokio::pin!(query);
    let exchange = async {
        tokio::select! {
            res = &mut query => Ok(res),
            // The driver ends when the connection breaks; the pending query then holds the reason.
            _ = &mut driver => match futures::FutureExt::now_or_never(&mut query) {
                Some(res) => Ok(res),
                None => Err(CheckError::new(
                    ErrorKind::Connect,
                    "the server closed the connection before answering INFO",
                )),
            },
        }
    };
    let res =
        tokio::time::timeout_at(deadline, exchange).await.map_err(|_| timed_out("waiting for the INFO reply"))??;
    res.map_err(|e| redis_error(&e, "INFO"))
}

type Driver = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

async fn connect(
    o: &RedisOptions,
    t: &Target,
    env: &CheckEnv,
    phase: &Cell<&'static str>,
    tripped: &Arc<AtomicBool>,
    cap: u64,
) -> Result<(MultiplexedConnection, Driver), CheckError> {
    let stream: Box<dyn Io> = match &t.addr {
        Addr::Tcp { host, port, tls } => {
            phase.set("resolving the host");
            let addrs = env.net.resolve(host).await?;
            phase.set("connecting");
            let tcp = env.net.connect(&addrs, *port).await?;
            if *tls {
                phase.set("in the TLS handshake");
                Box::new(env.net.tls(tcp, host, o.insecure_skip_verify).await?)
            } else {
                Box::new(tcp)
            }
        }
        #[cfg(unix)]
        Addr::Unix(path) => {
            phase.set("connecting");
            Box::new(tokio::net::UnixStream::connect(path).await.map_err(|e| {
                CheckError::new(ErrorKind::Connect, format!("cannot connect to the unix socket {path}: {e}"))
            })?)
        }
        #[cfg(not(unix))]
        Addr::Unix(_) => return Err(config_err("unix:// sockets are not supported on this platform")),
    };
    let stream = Capped { inner: stream, read: 0, cap, tripped: tripped.clone() };
    phase.set("authenticating");
    let mut info = RedisConnectionInfo::default().set_db(t.db).set_skip_set_lib_name();
    if let Some(u) = &t.username {
        info = info.set_username(u);
    }
    if let Some(p) = &t.password {
        info = info.set_password(p);
    }
    // vaktpost's own timeouts bound every step; none from the crate.
    let config = AsyncConnectionConfig::new().set_response_timeout(None).set_connection_timeout(None);
    let (conn, driver) = MultiplexedConnection::new_with_config(&info, stream, config)
        .await
        .map_err(|e| redis_error(&e, "the connection handshake"))?;
    Ok((conn, Box::pin(driver)))
}

/// Maps a client or server error to an [`ErrorKind`]. Server texts never contain the
/// password (Redis answers `WRONGPASS invalid username-password pair`).
fn redis_error(e: &RedisError, during: &str) -> CheckError {
    use redis::ErrorKind as K;
    let text = e.to_string();
    let upper = text.to_ascii_uppercase();
    let code = e.code().unwrap_or("");
    let auth = e.kind() == K::AuthenticationFailed
        || matches!(code, "WRONGPASS" | "NOAUTH" | "NOPERM")
        || upper.contains("WRONGPASS")
        || upper.contains("NOAUTH")
        || upper.contains("INVALID PASSWORD")
        || upper.contains("AUTHENTICATION REQUIRED")
        || upper.contains("WITHOUT ANY PASSWORD CONFIGURED");
    if auth {
        return CheckError::new(
            ErrorKind::Auth,
            format!("Redis refused the credentials during {during}: {text}; check `password` and `username` (or the URL's user:password)"),
        );
    }
    if e.is_timeout() {
        return CheckError::new(ErrorKind::Timeout, format!("timed out during {during}: {text}"));
    }
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        return CheckError::new(ErrorKind::Connect, format!("the connection failed during {during}: {text}"));
    }
    let what = match e.kind() {
        K::Parse | K::UnexpectedReturnType => "the server did not answer in the Redis protocol",
        _ => "Redis answered with an error",
    };
    CheckError::new(ErrorKind::Protocol, format!("{what} during {during}: {text}"))
}

/// `INFO` text (`key:value` lines, `# Section` headers) as a map.
pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// Turns `INFO` into metrics, deltas since the previous run, the carry, and the status.
fn evaluate(
    o: &RedisOptions,
    text: &str,
    prev: Option<&serde_json::Value>,
    r: &mut CheckResult,
) -> Result<(), CheckError> {
    let info = parse_info(text);
    let int = |k: &str| info.get(k).and_then(|v| v.parse::<u64>().ok());
    let float = |k: &str| info.get(k).and_then(|v| v.parse::<f64>().ok()).filter(|f| f.is_finite());
    let used = int("used_memory").ok_or_else(|| {
        CheckError::new(
            ErrorKind::Protocol,
            "the INFO reply has no used_memory field; is this a Redis server (or a proxy that hides INFO)?",
        )
    })?;
    let maxmemory = int("maxmemory").unwrap_or(0);
    let total_system = int("total_system_memory").unwrap_or(0);

    r.set("used_memory", used);
    for k in ["used_memory_rss", "used_memory_peak"] {
        if let Some(v) = int(k) {
            r.set(k, v);
        }
    }
    r.set("maxmemory", maxmemory);
    if total_system > 0 {
        r.set("total_system_memory", total_system);
    }
    let limit = if maxmemory > 0 {
        Some(("maxmemory", maxmemory))
    } else if total_system > 0 {
        Some(("total_system_memory", total_system))
    } else {
        None
    };
    if let Some((of, limit)) = limit {
        r.set("percent", round(used as f64 / limit as f64 * 100.0, 2));
        r.set("percent_of", of);
        r.set("memory_limit", limit);
    }
    r.set("memory_series", serde_json::json!(MEMORY_SERIES));
    if let Some(f) = float("mem_fragmentation_ratio") {
        r.set("fragmentation_ratio", f);
    }
    if let Some(p) = info.get("maxmemory_policy") {
        r.set("maxmemory_policy", p.as_str());
    }
    for k in ["connected_clients", "blocked_clients"] {
        if let Some(v) = int(k) {
            r.set(k, v);
        }
    }
    if let Some(v) = info.get("redis_version") {
        r.set("redis_version", v.as_str());
    }
    if let Some(v) = int("uptime_in_seconds") {
        r.set("uptime_s", v);
    }

    let now = Carry {
        run_id: info.get("run_id").cloned().unwrap_or_default(),
        keyspace_hits: int("keyspace_hits").unwrap_or(0),
        keyspace_misses: int("keyspace_misses").unwrap_or(0),
        evicted_keys: int("evicted_keys").unwrap_or(0),
        rejected_connections: int("rejected_connections").unwrap_or(0),
    };
    r.set("evicted_keys", now.evicted_keys);
    r.set("rejected_connections", now.rejected_connections);
    r.set("keyspace_hits", now.keyspace_hits);
    r.set("keyspace_misses", now.keyspace_misses);

    let before = prev.and_then(|v| serde_json::from_value::<Carry>(v.clone()).ok());
    // A restart (new run_id) or CONFIG RESETSTAT (counters went down) starts the counters
    // at zero: what they say now is what happened since then, all inside this interval.
    let reset = before.as_ref().map(|b| {
        let restarted = !b.run_id.is_empty() && b.run_id != now.run_id;
        let went_down = now.keyspace_hits < b.keyspace_hits
            || now.keyspace_misses < b.keyspace_misses
            || now.evicted_keys < b.evicted_keys
            || now.rejected_connections < b.rejected_connections;
        (restarted, restarted || went_down)
    });
    let (hits, misses, scope) = match (&before, reset) {
        (Some(b), Some((restarted, reset))) => {
            r.set("restarted", restarted);
            let base = if reset { Carry::default() } else { b.clone() };
            r.set("evicted_keys_delta", now.evicted_keys.saturating_sub(base.evicted_keys));
            r.set("rejected_connections_delta", now.rejected_connections.saturating_sub(base.rejected_connections));
            if reset {
                (now.keyspace_hits, now.keyspace_misses, "lifetime")
            } else {
                (
                    now.keyspace_hits.saturating_sub(b.keyspace_hits),
                    now.keyspace_misses.saturating_sub(b.keyspace_misses),
                    "interval",
                )
            }
        }
        _ => (now.keyspace_hits, now.keyspace_misses, "lifetime"),
    };
    let lookups = hits.saturating_add(misses);
    r.set("lookups", lookups);
    // The history store sums these over 24h/7d for a window hit rate; lifetime counts
    // (first run, restart) would swamp it, so only interval deltas are recorded.
    if scope == "interval" {
        r.set("keyspace_hits_delta", hits);
        r.set("keyspace_misses_delta", misses);
    }
    r.set("hit_rate_scope", scope);
    // No lookups, no rate: `min_hit_rate` and the hit-rate rule then do not apply.
    let hit_rate = (lookups > 0).then(|| round(hits as f64 / lookups as f64, 4));
    if let Some(h) = hit_rate {
        r.set("hit_rate", h);
    }
    r.carry = serde_json::to_value(&now).ok();

    let mut over = Vec::new();
    if let (Some(max), Some(p)) = (o.max_memory_percent, r.metric_f64("percent")) {
        if p > max {
            over.push(format!(
                "memory at {p}% of {}, over max_memory_percent {max}%",
                r.metrics.get("percent_of").and_then(|v| v.as_str()).unwrap_or("the limit")
            ));
        }
    }
    if let (Some(min), Some(h)) = (o.min_hit_rate, hit_rate) {
        if h < min {
            over.push(format!("hit rate {h} ({scope}) is under min_hit_rate {min}"));
        }
    }
    if let (Some(max), Some(f)) = (o.max_fragmentation_ratio, r.metric_f64("fragmentation_ratio")) {
        if f > max {
            over.push(format!("fragmentation ratio {f} is over max_fragmentation_ratio {max}"));
        }
    }
    r.status = Status::Up;
    let mut notes = Vec::new();
    if !over.is_empty() {
        r.status = Status::Degraded;
        notes = over;
    }
    // Managed services and old servers may report neither limit: say so rather than leave
    // `percent` silently absent (and the memory rules silently not applying). No number
    // is invented, and the status is not changed by what cannot be known.
    if limit.is_none() {
        let mut note =
            "memory percent unknown: the server reports neither maxmemory nor total_system_memory".to_string();
        match o.max_memory_percent {
            Some(max) => note.push_str(&format!("; max_memory_percent {max}% cannot be checked")),
            None => note.push_str("; the memory rules (high_memory) cannot apply"),
        }
        r.set("percent_unknown", true);
        notes.push(note);
    }
    if !notes.is_empty() {
        r.message = Some(notes.join("; "));
    }
    Ok(())
}

impl Kind for RedisOptions {
    /// Thresholds come from the monitor's own options (`rule_variables`); without the
    /// option the rule does not apply. Counter deltas exist from a monitor's second run on.
    const DEFAULT_RULES: &'static [DefaultRule] = &[
        DefaultRule {
            for_runs: 2,
            resolve_after: 2,
            ..DefaultRule::once(
                "redis_hit_rate_low",
                "hit_rate < min_hit_rate",
                "Cache hit rate of {name} is {hit_rate} ({hit_rate_scope}), under its min_hit_rate of {min_hit_rate}",
                Severity::Low,
            )
        },
        DefaultRule {
            for_runs: 3,
            resolve_after: 2,
            ..DefaultRule::once(
                "redis_fragmentation_high",
                "fragmentation_ratio > max_fragmentation_ratio",
                "Memory fragmentation of {name} is {fragmentation_ratio}, over its max_fragmentation_ratio of {max_fragmentation_ratio}",
                Severity::Low,
            )
        },
        DefaultRule::once(
            "redis_evicting",
            "evicted_keys_delta > 0",
            "{name} evicted {evicted_keys_delta} keys since the last run (memory full)",
            Severity::Low,
        ),
        DefaultRule::once(
            "redis_rejecting_connections",
            "rejected_connections_delta > 0",
            "{name} rejected {rejected_connections_delta} connections since the last run (maxclients reached)",
            Severity::Medium,
        ),
    ];
    fn secrets(&self, out: &mut Vec<String>) {
        // The URL's password is the secret, not its host: the report still names the
        // target, as `redis://***@host:6379`.
        match Url::parse(self.url.expose()) {
            Ok(u) => {
                let query = u.query_pairs().filter(|(k, _)| k == "password").map(|(_, v)| v.into_owned());
                for p in u.password().into_iter().map(str::to_string).chain(query) {
                    out.push(percent_encoding::percent_decode_str(&p).decode_utf8_lossy().into_owned());
                    out.push(p);
                }
            }
            Err(_) => out.push(self.url.expose().to_string()),
        }
        if let Some(p) = &self.password {
            out.push(p.expose().to_string())
        }
    }
    fn target(&self) -> String {
        self.url.expose().to_string()
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        let u = self.url.expose();
        if !(u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("unix://"))
            || Url::parse(u).is_err()
        {
            err(&format!("{p}.url"), "must be a redis://, rediss:// or unix:// URL".into());
        }
        check_memory_thresholds(p, self.max_memory_percent, self.min_hit_rate, self.max_fragmentation_ratio, err);
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("attempts", Num),
        ("used_memory", Num),
        ("used_memory_rss", Num),
        ("used_memory_peak", Num),
        ("maxmemory", Num),
        ("total_system_memory", Num),
        ("percent", Num),
        ("percent_of", Str),
        ("memory_limit", Num),
        ("memory_series", Strs),
        ("fragmentation_ratio", Num),
        ("maxmemory_policy", Str),
        ("connected_clients", Num),
        ("blocked_clients", Num),
        ("redis_version", Str),
        ("uptime_s", Num),
        ("evicted_keys", Num),
        ("rejected_connections", Num),
        ("keyspace_hits", Num),
        ("keyspace_misses", Num),
        ("restarted", Bool),
        ("evicted_keys_delta", Num),
        ("rejected_connections_delta", Num),
        ("lookups", Num),
        ("keyspace_hits_delta", Num),
        ("keyspace_misses_delta", Num),
        ("hit_rate_scope", Str),
        ("hit_rate", Num),
        ("percent_unknown", Bool),
    ];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("attempts", N),
            ("used_memory", N),
            ("used_memory_rss", N),
            ("used_memory_peak", N),
            ("maxmemory", N),
            ("total_system_memory", N),
            ("percent", N),
            ("percent_unknown", B),
            ("percent_of", S),
            ("memory_limit", N),
            ("memory_series", LIST_S),
            ("fragmentation_ratio", N),
            ("maxmemory_policy", S),
            ("connected_clients", N),
            ("blocked_clients", N),
            ("redis_version", S),
            ("uptime_s", N),
            ("evicted_keys", N),
            ("rejected_connections", N),
            ("keyspace_hits", N),
            ("keyspace_misses", N),
            ("restarted", B),
            ("evicted_keys_delta", N),
            ("rejected_connections_delta", N),
            ("lookups", N),
            ("keyspace_hits_delta", N),
            ("keyspace_misses_delta", N),
            ("hit_rate_scope", S),
            ("hit_rate", N),
            ("max_memory_percent", N),
            ("min_hit_rate", N),
            ("max_fragmentation_ratio", N),
        ]
    };
    fn rule_variables(&self, _: &CheckResult) -> Vec<(&'static str, serde_json::Value)> {
        let t = [
            ("max_memory_percent", self.max_memory_percent),
            ("min_hit_rate", self.min_hit_rate),
            ("max_fragmentation_ratio", self.max_fragmentation_ratio),
        ];
        t.into_iter().filter_map(|(k, v)| v.map(|v| (k, serde_json::json!(v)))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Secret;

    fn opts(url: &str) -> RedisOptions {
        RedisOptions {
            url: Secret::new(url),
            username: None,
            password: None,
            max_memory_percent: None,
            min_hit_rate: None,
            max_fragmentation_ratio: None,
            insecure_skip_verify: false,
        }
    }

    #[test]
    fn url_parts_and_option_overrides() {
        let t = parse_target(&opts("rediss://al%40ice:p%3Ass@cache.example:6380/3")).unwrap();
        assert!(matches!(&t.addr, Addr::Tcp { host, port: 6380, tls: true } if host == "cache.example"));
        assert_eq!((t.db, t.username.as_deref(), t.password.as_deref()), (3, Some("al@ice"), Some("p:ss")));
        let mut o = opts("redis://:urlpw@h");
        o.password = Some(Secret::new("cfgpw"));
        o.username = Some("bob".into());
        let t = parse_target(&o).unwrap();
        assert_eq!((t.db, t.username.as_deref(), t.password.as_deref()), (0, Some("bob"), Some("cfgpw")));
        assert!(parse_target(&opts("redis://h/x")).is_err());
        assert!(matches!(parse_target(&opts("unix:///tmp/r.sock?db=2")).unwrap(), Target { db: 2, .. }));
    }

    const INFO: &str = "# Server\r\nredis_version:7.2.4\r\nrun_id:abc\r\n\r\n# Memory\r\nused_memory:1000\r\nused_memory_rss:1500\r\nused_memory_peak:1200\r\nmaxmemory:0\r\ntotal_system_memory:4000\r\nmem_fragmentation_ratio:1.50\r\n# Stats\r\nkeyspace_hits:30\r\nkeyspace_misses:10\r\nevicted_keys:5\r\nrejected_connections:0\r\n";

    #[test]
    fn info_becomes_metrics_with_lifetime_rate_on_first_run() {
        let m: crate::checks::Monitor =
            yaml_serde::from_str("name: r\ntype: redis\nurl: redis://h\nmax_fragmentation_ratio: 1.2\n").unwrap();
        let crate::checks::MonitorKind::Redis(o) = &m.kind else { unreachable!() };
        let mut r = CheckResult::new(&m, "t".into(), chrono::Utc::now());
        evaluate(o, INFO, None, &mut r).unwrap();
        assert_eq!(r.metric_f64("percent"), Some(25.0));
        assert_eq!(r.metrics["percent_of"], "total_system_memory");
        assert_eq!(r.metric_f64("hit_rate"), Some(0.75));
        assert_eq!(r.metrics["hit_rate_scope"], "lifetime");
        assert!(!r.metrics.contains_key("evicted_keys_delta"));
        assert_eq!(r.status, Status::Degraded, "{r:?}");

        let prev = r.carry.clone();
        let next =
            INFO.replace("keyspace_hits:30", "keyspace_hits:31").replace("keyspace_misses:10", "keyspace_misses:13");
        let mut r2 = CheckResult::new(&m, "t".into(), chrono::Utc::now());
        evaluate(o, &next.replace("evicted_keys:5", "evicted_keys:9"), prev.as_ref(), &mut r2).unwrap();
        assert_eq!(r2.metric_f64("hit_rate"), Some(0.25));
        assert_eq!(r2.metrics["hit_rate_scope"], "interval");
        assert_eq!(r2.metric_f64("evicted_keys_delta"), Some(4.0));

        let restarted = INFO.replace("run_id:abc", "run_id:def").replace("keyspace_hits:30", "keyspace_hits:1");
        let mut r3 = CheckResult::new(&m, "t".into(), chrono::Utc::now());
        evaluate(o, &restarted, r2.carry.as_ref(), &mut r3).unwrap();
        assert_eq!(r3.metrics["hit_rate_scope"], "lifetime");
        assert_eq!(r3.metrics["restarted"], true);
        assert_eq!(r3.metric_f64("evicted_keys_delta"), Some(5.0));
    }

    #[tokio::test]
    async fn capped_stream_fails_past_the_cap_and_says_so() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for (sent, cap, over) in [(10usize, 10u64, false), (100, 10, true), (5000, 4096, true)] {
            let (mut tx, rx) = tokio::io::duplex(1024);
            let tripped = Arc::new(AtomicBool::new(false));
            let mut capped = Capped { inner: rx, read: 0, cap, tripped: tripped.clone() };
            tokio::spawn(async move {
                let _ = tx.write_all(&vec![b'x'; sent]).await;
            });
            let mut got = Vec::new();
            let res = capped.read_to_end(&mut got).await;
            assert_eq!((res.is_err(), tripped.load(Ordering::Relaxed)), (over, over), "{sent} bytes, cap {cap}");
            assert!(got.len() as u64 <= cap, "{} bytes kept past a cap of {cap}", got.len());
        }
    }

    #[test]
    fn no_used_memory_is_a_protocol_error() {
        let m: crate::checks::Monitor = yaml_serde::from_str("name: r\ntype: redis\nurl: redis://h\n").unwrap();
        let crate::checks::MonitorKind::Redis(o) = &m.kind else { unreachable!() };
        let mut r = CheckResult::new(&m, "t".into(), chrono::Utc::now());
        assert_eq!(evaluate(o, "hello", None, &mut r).unwrap_err().kind, ErrorKind::Protocol);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// INFO from a hostile server: any text, and field lists with any values (numbers
        /// out of range, NaN, negatives), never panics, and every number it reports is finite.
        #[test]
        fn info_of_any_shape_never_panics(
            noise in "(?s).{0,400}",
            fields in proptest::collection::vec(
                (proptest::sample::select(vec!["used_memory", "maxmemory", "total_system_memory",
                    "mem_fragmentation_ratio", "keyspace_hits", "keyspace_misses", "evicted_keys",
                    "run_id", "uptime_in_seconds", "rejected_connections"]),
                 "[-+0-9.eEnaNif:x]{0,24}"),
                0..16),
            prev_hits in proptest::option::of(0u64..u64::MAX),
        ) {
            let m: crate::checks::Monitor =
                yaml_serde::from_str("name: r\ntype: redis\nurl: redis://h\nmax_memory_percent: 80\n").unwrap();
            let crate::checks::MonitorKind::Redis(o) = &m.kind else { unreachable!() };
            let mut text = noise.clone();
            for (k, v) in &fields {
                text.push_str(&format!("\r\n{k}:{v}"));
            }
            let prev = prev_hits.map(|h| serde_json::json!({"run_id": "", "keyspace_hits": h, "keyspace_misses": h / 2,
                "evicted_keys": 0, "rejected_connections": 0}));
            let mut r = CheckResult::new(&m, "t".into(), chrono::Utc::now());
            let _ = evaluate(o, &text, prev.as_ref(), &mut r);
            for (k, v) in &r.metrics {
                if let Some(f) = v.as_f64() {
                    proptest::prop_assert!(f.is_finite(), "{k} = {f}");
                }
            }
        }
    }
}
