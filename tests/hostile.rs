//! Hostile servers (SPEC §9: every reader is bounded in bytes and time). A raw-socket
//! server on 127.0.0.1 sends what no real server would — endless headers and bodies, a
//! trickle, a gzip bomb, RESP that never ends or claims 2^62 bytes, garbage, plaintext on
//! a TLS port — and a whole run (`vaktpost::run`) must finish near the monitor's timeout,
//! report the monitor `down` with the right error kind, and keep memory bounded.

#[path = "suite/support/mod.rs"]
mod support;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::raw::{endless, peak_rss, read_request, trickle, RawServer};
use vaktpost::checks::{CheckResult, ErrorKind, Status};

/// Every monitor here times out after this; a run may take at most ten times as long.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Peak RSS may grow by at most this over one case (the tests share one process).
const MAX_GROWTH: u64 = 200 << 20;

/// One monitor named `t` with no retries or confirmation; `extra` lines are more keys.
fn monitor(ty: &str, url: &str, extra: &str) -> String {
    let mut s = format!(
        "monitors:\n  - name: t\n    type: {ty}\n    url: \"{url}\"\n    timeout: {}s\n    retries: 0\n    confirm: false\n",
        TIMEOUT.as_secs()
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// Runs the config through `vaktpost::run` and checks the bounds every case shares: the
/// run ends within ten timeouts, the monitor is down with `kind`, and peak RSS grew by
/// less than [`MAX_GROWTH`]. Returns the result and how long the run took.
async fn run_bounded(yaml: &str, kind: ErrorKind) -> (CheckResult, Duration) {
    let loaded = support::load(yaml);
    let work = tempfile::tempdir().expect("temp dir");
    let ctx = vaktpost::context::RunContext::with_env(Default::default(), work.path().to_path_buf());
    let mut opts = vaktpost::RunOptions::new(&ctx, &loaded.config);
    opts.fail_on = vaktpost::report::FailOn::Never;
    let rss_before = peak_rss();
    // On Linux the memory bound is real, not a comparison of two zeros.
    assert!(cfg!(not(target_os = "linux")) || rss_before > 0, "VmHWM not read from /proc/self/status");
    let t0 = Instant::now();
    let out = vaktpost::run(&ctx, &loaded, &opts, &|_, _| {}).await.expect("run");
    let took = t0.elapsed();
    let rss_after = peak_rss();
    let r = out.report.checks.into_iter().next().expect("one check");
    assert!(took < TIMEOUT * 10, "the run took {took:?}, over ten timeouts: {r:#?}");
    assert_eq!(r.status, Status::Down, "{r:#?}");
    assert_eq!(r.error.as_ref().map(|e| e.kind), Some(kind), "{r:#?}");
    let growth = rss_after.saturating_sub(rss_before);
    assert!(growth < MAX_GROWTH, "peak RSS grew by {} MiB: {r:#?}", growth >> 20);
    (r, took)
}

fn message(r: &CheckResult) -> &str {
    r.error.as_ref().map(|e| e.message.as_str()).unwrap_or("")
}

/// Waits for the client to hang up, sending nothing.
fn silent(s: &mut TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(None)?;
    let mut buf = [0u8; 1024];
    while s.read(&mut buf)? > 0 {}
    Ok(())
}

// ---------------------------------------------------------------- HTTP

#[tokio::test(flavor = "multi_thread")]
async fn http_endless_headers_are_a_protocol_error() {
    let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
    let s = RawServer::start(move |c| {
        read_request(c);
        endless(c, b"HTTP/1.1 200 OK\r\n", line.as_bytes())
    });
    let (r, _) = run_bounded(&monitor("http", &s.url("http", "/"), ""), ErrorKind::Protocol).await;
    assert!(message(&r).contains("HTTP protocol error"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_endless_chunked_body_stops_at_max_body_bytes() {
    let chunk = format!("4000\r\n{}\r\n", "b".repeat(0x4000));
    let s = RawServer::start(move |c| {
        read_request(c);
        endless(c, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk.as_bytes())
    });
    let yaml = monitor("http", &s.url("http", "/"), "max_body_bytes: 1MiB");
    let (r, _) = run_bounded(&yaml, ErrorKind::Protocol).await;
    assert!(message(&r).contains("larger than max_body_bytes (1048576 bytes)"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_trickling_body_times_out_at_the_monitor_timeout() {
    let s = RawServer::start(|c| {
        read_request(c);
        let body = vec![b'x'; 10_000];
        trickle(c, b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n", &body, Duration::from_millis(100))
    });
    let (r, took) = run_bounded(&monitor("http", &s.url("http", "/"), ""), ErrorKind::Timeout).await;
    // The timeout covers the body, not only the head: the trickle kept bytes coming.
    assert!(took >= TIMEOUT, "timed out before the monitor's timeout ({took:?}): {r:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_gzip_bomb_is_bounded_by_max_body_bytes_after_decompression() {
    let bomb = support::server::gzip_bomb();
    let s = RawServer::start(move |c| {
        read_request(c);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", bomb.len());
        std::io::Write::write_all(c, head.as_bytes())?;
        std::io::Write::write_all(c, bomb)
    });
    let yaml = monitor("http", &s.url("http", "/"), "max_body_bytes: 1MiB");
    let (r, _) = run_bounded(&yaml, ErrorKind::Protocol).await;
    assert!(message(&r).contains("after gzip decoding"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_port_sending_plaintext_garbage_is_a_tls_error() {
    let s = RawServer::start(|c| {
        read_request(c);
        endless(c, b"", b"HELLO, THIS IS NOT TLS AT ALL\r\n")
    });
    let (r, _) = run_bounded(&monitor("http", &s.url("https", "/"), ""), ErrorKind::Tls).await;
    assert!(!message(&r).is_empty(), "{r:#?}");
    let (r, _) = run_bounded(&monitor("redis", &s.url("rediss", ""), ""), ErrorKind::Tls).await;
    assert!(!message(&r).is_empty(), "{r:#?}");
}

// ---------------------------------------------------------------- RESP

// Regression: an endless `+AAAA…` was buffered whole (2 GB RSS) and outlived the timeout.
#[tokio::test(flavor = "multi_thread")]
async fn resp_endless_simple_string_is_a_protocol_error_within_the_byte_cap() {
    let s = RawServer::start(|c| {
        read_request(c);
        endless(c, b"+", &[b'A'; 64 * 1024])
    });
    let (r, _) = run_bounded(&monitor("redis", &s.url("redis", ""), ""), ErrorKind::Protocol).await;
    assert!(message(&r).contains("more than 4 MiB without completing a Redis reply"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resp_bulk_length_of_two_to_the_62_is_bounded() {
    let head = format!("${}\r\n", 1u64 << 62);
    // Followed by bytes without end: the byte cap ends it, as protocol.
    let h = head.clone();
    let s = RawServer::start(move |c| {
        read_request(c);
        endless(c, h.as_bytes(), &[b'A'; 64 * 1024])
    });
    let (r, _) = run_bounded(&monitor("redis", &s.url("redis", ""), ""), ErrorKind::Protocol).await;
    assert!(message(&r).contains("more than 4 MiB"), "{r:#?}");
    // Followed by silence: the monitor's timeout ends it, with nothing reserved for 2^62 bytes.
    let s = RawServer::start(move |c| {
        read_request(c);
        std::io::Write::write_all(c, head.as_bytes())?;
        silent(c)
    });
    let (r, took) = run_bounded(&monitor("redis", &s.url("redis", ""), ""), ErrorKind::Timeout).await;
    assert!(took >= TIMEOUT, "{took:?}: {r:#?}");
    assert!(message(&r).contains("waiting for the INFO reply"), "{r:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resp_garbage_bytes_are_a_protocol_error() {
    // Bytes of no RESP type, once and then without end.
    let garbage: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80).collect();
    let g = garbage.clone();
    let s = RawServer::start(move |c| {
        read_request(c);
        std::io::Write::write_all(c, &g)?;
        silent(c)
    });
    let (r, _) = run_bounded(&monitor("redis", &s.url("redis", ""), ""), ErrorKind::Protocol).await;
    assert!(message(&r).contains("did not answer in the Redis protocol"), "{r:#?}");
    let s = RawServer::start(move |c| {
        read_request(c);
        endless(c, b"", &garbage)
    });
    run_bounded(&monitor("redis", &s.url("redis", ""), ""), ErrorKind::Protocol).await;
}
