//! The `redis` check against real `redis-server` processes: every SPEC metric, the memory
//! rules on a full `maxmemory`, passwords and ACL users, a server killed mid-test, hit-rate
//! deltas across runs and across a restart, TLS, unix sockets, and servers that are not
//! Redis (garbage, silence, nothing listening).

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::services::{findings, fired, not_fired, Redis};
use support::{assert_down, assert_up, load, load_with_env, num, text};
use vaktpost::checks::{run_check, CheckEnv, CheckResult, ErrorKind, Status};
use vaktpost::config::Loaded;

/// A config with one `redis` monitor named `cache`; `extra` lines are more keys of it.
fn yaml(url: &str, extra: &str) -> String {
    let mut s = format!("monitors:\n  - name: cache\n    type: redis\n    url: \"{url}\"\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// Runs the monitor as the runner does, with `prev` as what its last run carried.
async fn run_prev(l: &Loaded, prev: Option<serde_json::Value>) -> CheckResult {
    let m = &l.config.monitors[0];
    let mut eff = vaktpost::runner::effective(&l.config, m);
    eff.prev = prev;
    let env = CheckEnv::new(vaktpost::redact::Redactor::new(&l.secrets));
    run_check(m, &eff, &env, chrono::Utc::now()).await
}

async fn run(l: &Loaded) -> CheckResult {
    run_prev(l, None).await
}

fn set(c: &mut redis::Connection, k: &str, v: &str) {
    let _: () = redis::cmd("SET").arg(k).arg(v).query(c).expect("SET");
}

/// GETs `hits` existing and `misses` missing keys.
fn lookups(c: &mut redis::Connection, hits: usize, misses: usize) {
    set(c, "present", "1");
    for _ in 0..hits {
        let _: Option<String> = redis::cmd("GET").arg("present").query(c).expect("GET");
    }
    for i in 0..misses {
        let _: Option<String> = redis::cmd("GET").arg(format!("absent{i}")).query(c).expect("GET");
    }
}

/// Writes 8 KiB values until Redis refuses (noeviction) or `max` keys are written.
fn fill(c: &mut redis::Connection, max: usize) -> usize {
    let value = "x".repeat(8 * 1024);
    for i in 0..max {
        let r: redis::RedisResult<()> = redis::cmd("SET").arg(format!("k{i}")).arg(&value).query(c);
        if r.is_err() {
            return i;
        }
    }
    max
}

#[tokio::test]
async fn reports_every_spec_metric_in_bytes() {
    let srv = Redis::start(&[]);
    let l = load(&yaml(&srv.url(), ""));
    let r = run(&l).await;
    assert_up(&r);
    assert_eq!(r.target, srv.url());
    for k in ["used_memory", "used_memory_rss", "used_memory_peak", "total_system_memory"] {
        assert!(num(&r, k) > 0.0, "{k} in {r:#?}");
    }
    assert_eq!(num(&r, "maxmemory"), 0.0);
    // maxmemory 0: the share of the machine's memory, and the report says so.
    assert_eq!(text(&r, "percent_of"), "total_system_memory");
    let expect = num(&r, "used_memory") / num(&r, "total_system_memory") * 100.0;
    assert!((num(&r, "percent") - expect).abs() < 0.01, "{r:#?}");
    assert_eq!(num(&r, "memory_limit"), num(&r, "total_system_memory"));
    assert!(num(&r, "fragmentation_ratio") > 0.0);
    assert_eq!(num(&r, "evicted_keys"), 0.0);
    assert!(num(&r, "connected_clients") >= 1.0);
    assert_eq!(num(&r, "rejected_connections"), 0.0);
    assert_eq!(text(&r, "hit_rate_scope"), "lifetime");
    assert_eq!(r.metrics["memory_series"], serde_json::json!(["used_memory", "used_memory_rss"]));
    assert!(!r.metrics.contains_key("evicted_keys_delta"), "no delta on a first run: {r:#?}");
    assert!(!r.metrics.contains_key("hit_rate"), "no lookups yet, so no rate: {r:#?}");
    assert!(text(&r, "redis_version").contains('.'));
    assert!(r.carry.is_some(), "counters are carried to the next run");
    let key = vaktpost::report::summary::key_metric(&r);
    assert!(key.contains(" of ") && key.contains("iB"), "human-readable bytes in the summary: {key}");
    assert!(findings(&l, &r).is_empty(), "{:?}", findings(&l, &r));
}

#[tokio::test]
async fn full_maxmemory_fires_high_memory_and_the_monitors_own_limit() {
    let srv = Redis::start(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    let written = fill(&mut srv.conn(), 10_000);
    assert!(written > 10 && written < 10_000, "noeviction should refuse writes at 2mb, wrote {written}");
    let l = load(&yaml(&srv.url(), "max_memory_percent: 80"));
    let r = run(&l).await;
    assert_eq!(r.status, Status::Degraded, "{r:#?}");
    assert_eq!(num(&r, "maxmemory"), 2.0 * 1024.0 * 1024.0);
    assert_eq!(text(&r, "percent_of"), "maxmemory");
    assert!(num(&r, "percent") > 90.0, "{r:#?}");
    assert!(r.message.as_deref().unwrap_or("").contains("over max_memory_percent 80%"), "{r:#?}");
    let msg = fired(&l, &r, "high_memory");
    assert_eq!(msg, format!("Memory usage is {}%", vaktpost::rules::format_value(&r.metrics["percent"])));
    let own = fired(&l, &r, "memory_over_limit");
    assert!(own.contains("over its max_memory_percent of 80%"), "{own}");
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn password_in_url_or_option_is_up_and_a_wrong_one_is_auth() {
    let pw = "s3cret-Pa55word";
    let srv = Redis::start(&["--requirepass", pw]);
    let port = srv.port;

    let l = load(&yaml(&format!("redis://:{pw}@127.0.0.1:{port}"), ""));
    let r = run(&l).await;
    assert_up(&r);
    assert_eq!(r.target, format!("redis://***@127.0.0.1:{port}"), "the target names the host, not the password");

    let l = load_with_env(&yaml(&srv.url(), "password: ${REDIS_PASSWORD}"), &[("REDIS_PASSWORD", pw)]);
    assert_up(&run(&l).await);

    for (url, extra, wrong) in [
        (format!("redis://:wrong-password-1@127.0.0.1:{port}"), "", "wrong-password-1"),
        (srv.url(), "password: wrong-password-2", "wrong-password-2"),
    ] {
        let l = load(&yaml(&url, extra));
        let r = run(&l).await;
        let msg = assert_down(&r, ErrorKind::Auth);
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains(wrong) && !json.contains(pw), "a password leaked: {json}");
        assert!(msg.contains("password"), "the message says what to check: {msg}");
        fired(&l, &r, "endpoint_down");
    }

    let l = load(&yaml(&srv.url(), ""));
    assert_down(&run(&l).await, ErrorKind::Auth);
}

#[tokio::test]
async fn acl_user_from_url_or_option_authenticates() {
    let srv = Redis::start(&["--user", "default", "off", "--user", "alice", "on", ">alice-pass", "~*", "&*", "+@all"]);
    let port = srv.port;
    assert_up(&run(&load(&yaml(&format!("redis://alice:alice-pass@127.0.0.1:{port}"), ""))).await);
    assert_up(&run(&load(&yaml(&srv.url(), "username: alice\npassword: alice-pass"))).await);
    let r = run(&load(&yaml(&srv.url(), "username: alice\npassword: nope-nope"))).await;
    assert_down(&r, ErrorKind::Auth);
}

#[tokio::test]
async fn killed_server_is_down_with_connect_and_keeps_the_last_counters() {
    let mut srv = Redis::start(&[]);
    let l = load(&yaml(&srv.url(), ""));
    let first = run(&l).await;
    assert_up(&first);
    srv.kill();
    let r = run_prev(&l, first.carry.clone()).await;
    let msg = assert_down(&r, ErrorKind::Connect);
    assert!(msg.contains("127.0.0.1"), "{msg}");
    assert_eq!(r.carry, first.carry, "a failed run keeps the baseline for the next good one");
    assert_eq!(fired(&l, &r, "endpoint_down"), "Endpoint cache is down");
}

#[tokio::test]
async fn hit_rate_is_over_the_interval_and_lifetime_after_a_restart() {
    let mut srv = Redis::start(&[]);
    let l = load(&yaml(&srv.url(), ""));
    lookups(&mut srv.conn(), 3, 1);
    let r1 = run(&l).await;
    assert_eq!((num(&r1, "hit_rate"), text(&r1, "hit_rate_scope")), (0.75, "lifetime"));

    lookups(&mut srv.conn(), 1, 3);
    let r2 = run_prev(&l, r1.carry.clone()).await;
    // Lifetime would be 4/8 = 0.5; the interval alone is 1 hit in 4 lookups.
    assert_eq!((num(&r2, "hit_rate"), text(&r2, "hit_rate_scope")), (0.25, "interval"));
    assert_eq!(num(&r2, "lookups"), 4.0);
    assert_eq!(r2.metrics["restarted"], false);
    assert_eq!(num(&r2, "evicted_keys_delta"), 0.0);

    srv.restart();
    lookups(&mut srv.conn(), 2, 0);
    let r3 = run_prev(&l, r2.carry.clone()).await;
    assert_up(&r3);
    assert_eq!(r3.metrics["restarted"], true, "{r3:#?}");
    assert_eq!((num(&r3, "hit_rate"), text(&r3, "hit_rate_scope")), (1.0, "lifetime"));
}

#[tokio::test]
async fn hit_rate_and_fragmentation_thresholds_degrade_and_fire() {
    let srv = Redis::start(&[]);
    let l = load(&yaml(&srv.url(), "min_hit_rate: 0.9\nmax_fragmentation_ratio: 0.01"));
    lookups(&mut srv.conn(), 1, 3);
    let r = run(&l).await;
    assert_eq!(r.status, Status::Degraded, "{r:#?}");
    let m = r.message.clone().unwrap_or_default();
    assert!(m.contains("under min_hit_rate 0.9") && m.contains("over max_fragmentation_ratio 0.01"), "{m}");
    assert_eq!(
        fired(&l, &r, "redis_hit_rate_low"),
        "Cache hit rate of cache is 0.25 (lifetime), under its min_hit_rate of 0.9"
    );
    assert!(fired(&l, &r, "redis_fragmentation_high").starts_with("Memory fragmentation of cache is "));
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn evictions_and_rejected_connections_since_the_last_run_are_findings() {
    let srv = Redis::start(&["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru", "--maxclients", "3"]);
    let l = load(&yaml(&srv.url(), ""));
    let r1 = run(&l).await;
    assert_up(&r1);
    not_fired(&l, &r1, "redis_evicting");

    fill(&mut srv.conn(), 1_000);
    // Three clients fill maxclients; the fourth is turned away.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"+PONG"), "{:?}", String::from_utf8_lossy(&buf[..n]));
        held.push(s);
    }
    let mut extra = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reply = String::new();
    let _ = extra.read_to_string(&mut reply);
    assert!(reply.contains("max number of clients"), "{reply:?}");
    drop(held);
    drop(extra);

    // The server notices the closed clients on its next event loop turn, and may count
    // evictions a little later (eviction can continue in the background): poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let r2 = loop {
        let r = run_prev(&l, r1.carry.clone()).await;
        let settled = r.status != Status::Down
            && r.metric_f64("evicted_keys_delta").is_some_and(|d| d > 0.0)
            && r.metric_f64("rejected_connections_delta").is_some_and(|d| d >= 1.0);
        if settled || Instant::now() > deadline {
            break r;
        }
        // sleep-ok: the poll interval of a loop bounded by `deadline`
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_up(&r2);
    assert!(num(&r2, "evicted_keys_delta") > 0.0, "{r2:#?}");
    assert!(num(&r2, "rejected_connections_delta") >= 1.0, "{r2:#?}");
    let ev = fired(&l, &r2, "redis_evicting");
    assert!(ev.starts_with("cache evicted ") && ev.ends_with(" keys since the last run (memory full)"), "{ev}");
    let rej = fired(&l, &r2, "redis_rejecting_connections");
    assert!(rej.contains("connections since the last run (maxclients reached)"), "{rej}");

    // Nothing new since then: the findings resolve.
    let r3 = run_prev(&l, r2.carry.clone()).await;
    assert_eq!(num(&r3, "evicted_keys_delta"), 0.0);
    not_fired(&l, &r3, "redis_evicting");
    not_fired(&l, &r3, "redis_rejecting_connections");
}

/// A TCP server that answers every connection with `reply` (or nothing) and holds it open.
fn fake_server(reply: Option<&'static [u8]>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                if let Some(reply) = reply {
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(reply);
                }
                // sleep-ok: the fake holds the connection open (a silent server)
                std::thread::sleep(Duration::from_secs(10));
            });
        }
    });
    port
}

#[tokio::test]
async fn a_server_that_is_not_redis_is_a_protocol_error() {
    let port = fake_server(Some(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
    let r = run(&load(&yaml(&format!("redis://127.0.0.1:{port}"), "timeout: 3"))).await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("Redis protocol"), "{msg}");
}

#[tokio::test]
async fn a_silent_server_times_out_on_the_timeout() {
    let port = fake_server(None);
    let t0 = Instant::now();
    let r = run(&load(&yaml(&format!("redis://127.0.0.1:{port}"), "timeout: 0.5"))).await;
    let msg = assert_down(&r, ErrorKind::Timeout);
    assert!(msg.contains("timed out after 500ms while waiting for the INFO reply"), "{msg}");
    // A real 0.5 s socket timeout: ten times that is the bound.
    assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
}

#[tokio::test]
async fn connect_errors_are_retried_with_backoff_in_virtual_time() {
    let port = support::server::closed_port();
    let (r, waits) = support::clock::run_yaml_virtual(&yaml(&format!("redis://127.0.0.1:{port}"), "retries: 2")).await;
    assert_down(&r, ErrorKind::Connect);
    assert_eq!(num(&r, "attempts"), 3.0);
    assert_eq!(support::clock::ms(&waits), [200, 400]);
}

#[tokio::test]
async fn protocol_errors_are_not_retried() {
    let port = fake_server(Some(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
    let (r, waits) =
        support::clock::run_yaml_virtual(&yaml(&format!("redis://127.0.0.1:{port}"), "timeout: 3\nretries: 2")).await;
    assert_down(&r, ErrorKind::Protocol);
    assert_eq!(num(&r, "attempts"), 1.0);
    assert!(waits.is_empty(), "{waits:?}");
}

#[tokio::test]
async fn nothing_listening_is_connect() {
    let port = support::server::closed_port();
    assert_down(&run(&load(&yaml(&format!("redis://127.0.0.1:{port}"), ""))).await, ErrorKind::Connect);
}

#[tokio::test]
async fn unix_socket_and_database_number_work() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("redis.sock");
    let sock_s = sock.to_str().unwrap().to_string();
    let srv = Redis::start(&["--unixsocket", &sock_s, "--unixsocketperm", "700"]);
    assert_up(&run(&load(&yaml(&format!("unix://{sock_s}?db=3"), ""))).await);
    assert_up(&run(&load(&yaml(&format!("{}/5", srv.url()), ""))).await);
    // SELECT 99 is refused by a 16-database server: that is the server's answer, not a crash.
    let r = run(&load(&yaml(&format!("{}/99", srv.url()), ""))).await;
    assert_eq!(r.status, Status::Down, "{r:#?}");
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
fn write_cert(dir: &Path) -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.key_pair.serialize_pem()).unwrap();
    (c.to_str().unwrap().to_string(), k.to_str().unwrap().to_string())
}

#[tokio::test]
async fn rediss_speaks_tls_and_verifies_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_cert(dir.path());
    let srv = Redis::start(&[
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &cert,
        "--tls-auth-clients",
        "no",
        "--requirepass",
        "tls-password",
    ]);
    let url = format!("rediss://:tls-password@127.0.0.1:{}", srv.port);
    let r = run(&load(&yaml(&url, "insecure_skip_verify: true"))).await;
    assert_up(&r);
    assert!(num(&r, "used_memory") > 0.0);
    // The same server without trusting its self-signed certificate.
    assert_down(&run(&load(&yaml(&url, ""))).await, ErrorKind::Tls);
    // Plain redis:// to a TLS-only port gets no Redis answer.
    let r = run(&load(&yaml(&format!("redis://:tls-password@127.0.0.1:{}", srv.port), "timeout: 2"))).await;
    assert_eq!(r.status, Status::Down, "{r:#?}");
}

#[test]
fn two_cli_runs_share_counters_through_the_state() {
    let srv = Redis::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vaktpost.yml");
    std::fs::write(&cfg, yaml(&srv.url(), "")).unwrap();
    let run_cli = || {
        let o = Command::new(env!("CARGO_BIN_EXE_vaktpost"))
            .args(["run", "-c", "vaktpost.yml", "--summary", "summary.md"])
            .current_dir(dir.path())
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("vaktpost-report.json")).unwrap()).unwrap();
        report["checks"][0].clone()
    };
    lookups(&mut srv.conn(), 1, 1);
    let first = run_cli();
    assert_eq!(first["metrics"]["hit_rate_scope"], "lifetime", "{first:#}");
    lookups(&mut srv.conn(), 3, 0);
    let second = run_cli();
    assert_eq!(second["metrics"]["hit_rate_scope"], "interval", "{second:#}");
    assert_eq!(second["metrics"]["hit_rate"], 1.0, "{second:#}");
    assert!(second.get("carry").is_none(), "carry stays out of the report");
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("hit rate 100.0%"), "{summary}");
}

/// `INFO` of a managed or old server: memory figures, but neither `maxmemory` nor
/// `total_system_memory`.
const INFO_WITHOUT_LIMITS: &str = "# Server\r\nredis_version:3.0.7\r\nredis_mode:standalone\r\nos:Amazon ElastiCache\r\narch_bits:64\r\nrun_id:0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c\r\nuptime_in_seconds:86400\r\n\r\n# Clients\r\nconnected_clients:12\r\nblocked_clients:0\r\n\r\n# Memory\r\nused_memory:104857600\r\nused_memory_human:100.00M\r\nused_memory_rss:125829120\r\nused_memory_peak:115343360\r\nmem_fragmentation_ratio:1.20\r\n\r\n# Stats\r\nkeyspace_hits:900\r\nkeyspace_misses:100\r\nevicted_keys:0\r\nrejected_connections:0\r\n";

/// A raw-socket RESP server on loopback: `INFO` is answered with `info` as a bulk string,
/// `PING` with `+PONG`, anything else with `+OK`. Returns the port.
fn fake_resp_server(info: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    // One array command (`*N\r\n$len\r\narg\r\n…`) is complete when it has
                    // 1 + 2N lines.
                    let text = String::from_utf8_lossy(&pending).to_string();
                    let Some(count) =
                        text.strip_prefix('*').and_then(|t| t.split("\r\n").next()?.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    if text.matches("\r\n").count() < 1 + 2 * count {
                        continue;
                    }
                    let reply = match text.split("\r\n").nth(2).map(str::to_ascii_uppercase).as_deref() {
                        Some("INFO") => format!("${}\r\n{info}\r\n", info.len()),
                        Some("PING") => "+PONG\r\n".to_string(),
                        _ => "+OK\r\n".to_string(),
                    };
                    pending.clear();
                    if s.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Regression: a server that reports neither maxmemory nor total_system_memory silently
/// had no `percent`, so `max_memory_percent` and high_memory quietly checked nothing.
#[tokio::test]
async fn unknown_memory_percent_is_said_and_max_memory_percent_is_named_as_unchecked() {
    let port = fake_resp_server(INFO_WITHOUT_LIMITS);
    let url = format!("redis://127.0.0.1:{port}");

    let l = load(&yaml(&url, ""));
    let r = run(&l).await;
    assert_up(&r);
    assert_eq!(num(&r, "used_memory"), 104857600.0);
    assert_eq!(num(&r, "maxmemory"), 0.0);
    assert_eq!(text(&r, "redis_version"), "3.0.7");
    assert_eq!(num(&r, "hit_rate"), 0.9);
    for absent in ["percent", "percent_of", "memory_limit", "total_system_memory"] {
        assert!(!r.metrics.contains_key(absent), "no number is invented for {absent}: {r:#?}");
    }
    assert_eq!(r.metrics["percent_unknown"], true);
    assert_eq!(
        r.message.as_deref(),
        Some("memory percent unknown: the server reports neither maxmemory nor total_system_memory; the memory rules (high_memory) cannot apply")
    );
    assert!(findings(&l, &r).is_empty(), "{:?}", findings(&l, &r));

    let l = load(&yaml(&url, "max_memory_percent: 80"));
    let r = run(&l).await;
    assert_up(&r);
    assert!(!r.metrics.contains_key("percent"));
    assert_eq!(
        r.message.as_deref(),
        Some("memory percent unknown: the server reports neither maxmemory nor total_system_memory; max_memory_percent 80% cannot be checked")
    );
    not_fired(&l, &r, "memory_over_limit");
    not_fired(&l, &r, "high_memory");

    // Beside a threshold that does fail, both are said.
    let l = load(&yaml(&url, "max_memory_percent: 80\nmax_fragmentation_ratio: 1.1"));
    let r = run(&l).await;
    assert_eq!(r.status, Status::Degraded, "{r:#?}");
    let msg = r.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("fragmentation ratio 1.2 is over max_fragmentation_ratio 1.1; memory percent unknown"),
        "{msg}"
    );
}

/// The real server reports total_system_memory, so no such note.
#[tokio::test]
async fn a_real_server_has_a_percent_and_no_unknown_note() {
    let srv = Redis::start(&[]);
    let r = run(&load(&yaml(&srv.url(), "max_memory_percent: 99"))).await;
    assert_up(&r);
    assert!(r.metrics.contains_key("percent"), "{r:#?}");
    assert!(!r.metrics.contains_key("percent_unknown"));
    assert_eq!(r.message, None);
}
