//! Issue 17's budget: building and writing the metrics for 1,000 monitors adds ≤ 50 ms
//! to a run. Builds a report of N http monitors with every figure a run gives them (phase
//! timings, status code, TLS expiry, labels, 24h/7d/30d history), then times, per
//! iteration, exactly what a run does with them: `metrics::push` (the model, the
//! Pushgateway, remote-write and OTLP bodies, and the three requests, here to a local
//! receiver that reads each body and answers 200) and `metrics::write_file` from the same
//! model (the text file, written atomically). Exit code 0 when the median is within budget.
//! The parts are timed one by one as well, for the record.
//!
//! `cargo bench --bench metrics -- [--monitors N] [--runs R]`

use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use serde_json::json;
use vaktpost::metrics::{self, otlp, remote_write, text};
use vaktpost::report::Report;

const BUDGET: Duration = Duration::from_millis(50);

fn report(n: usize) -> Report {
    let checks: Vec<_> = (0..n)
        .map(|i| {
            json!({
                "name": format!("monitor-{i:04}"), "type": "http", "target": format!("https://svc{i}.example/health"),
                "status": if i % 50 == 7 { "down" } else { "up" }, "started_at": "2026-03-31T23:55:00Z",
                "duration_ms": 120.5 + i as f64 % 30.0,
                "labels": {"team": format!("team-{}", i % 12), "env": "prod", "tier": "web"},
                "metrics": {
                    "status_code": 200, "response_time_ms": 118.0, "samples": 1, "errors": 0, "error_rate": 0.0,
                    "p50_ms": 118.0, "p95_ms": 118.0, "dns_ms": 1.2, "connect_ms": 3.4, "tls_ms": 12.5,
                    "ttfb_ms": 95.0, "transfer_ms": 4.1, "body_bytes": 512,
                    "not_after": "2026-06-01T00:00:00Z", "days_left": 61
                }
            })
        })
        .collect();
    let history: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| {
            (
                format!("monitor-{i:04}"),
                json!({"uptime_24h": 99.9, "error_rate_24h": 0.001, "samples_24h": 288, "uptime_7d": 99.95,
                       "error_rate_7d": 0.0005, "samples_7d": 2016, "uptime_30d": 99.99, "error_rate_30d": 0.0001,
                       "samples_30d": 8640, "p50_24h_ms": 110.0, "p95_24h_ms": 180.0, "p99_24h_ms": 250.0,
                       "p50_7d_ms": 111.0, "p95_7d_ms": 185.0, "p99_7d_ms": 260.0}),
            )
        })
        .collect();
    let r = json!({
        "schema_version": 1, "tool": {"name": "vaktpost", "version": "bench"},
        "run": {"started_at": "2026-03-31T23:55:00Z", "finished_at": "2026-03-31T23:55:01Z", "duration_ms": 1000.0,
                "dry_run": false, "config": "vaktpost.yml", "fail_on": "high"},
        "status": "down",
        "counts": {"monitors": n, "up": n - n / 50, "degraded": 0, "down": n / 50, "skipped": 0, "findings": n / 50,
                   "high": n / 50, "medium": 0, "low": 0},
        "checks": checks, "findings": [], "alerts": [], "history": history, "notes": []
    });
    serde_json::from_value(r).expect("a valid report")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, runs) = (arg("--monitors", 1000), arg("--runs", 20).max(1));
    let report = report(n);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vaktpost.prom");
    let sink = receiver();
    let cfg: vaktpost::config::MetricsConfig = serde_json::from_value(json!({
        "pushgateway": {"url": sink},
        "remote_write": {"url": format!("{sink}/api/v1/write")},
        "otlp": {"endpoint": sink},
        "instance": "acme/site",
    }))
    .unwrap();
    let ctx = vaktpost::context::RunContext::with_env(Default::default(), dir.path().to_path_buf());
    let redactor = vaktpost::redact::Redactor::new(&[]);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut run_path = Vec::new();
    let mut sizes = (0, 0, 0, 0, 0);
    let mut parts: Vec<[Duration; 8]> = Vec::new();
    for i in 0..runs + 2 {
        // What a run does: push (model, bodies, requests), then the file from that model.
        let mut r = report.clone();
        let push = metrics::Push {
            ctx: &ctx,
            config: &cfg,
            redactor: &redactor,
            dry_run: false,
            deadline: tokio::time::Instant::now() + Duration::from_secs(30),
        };
        let t0 = Instant::now();
        let model = rt.block_on(metrics::push(&push, &mut r)).expect("endpoints are configured");
        let out = metrics::write_file(&path, &r, Some(&model));
        let t_run = t0.elapsed();
        assert!(out.ok, "{out:?}");
        assert!(r.metrics_outputs.len() == 3 && r.metrics_outputs.iter().all(|o| o.ok), "{:?}", r.metrics_outputs);
        if i >= 2 {
            run_path.push(t_run);
        }
        // The parts, for the record.
        let labels = [("job".to_string(), "vaktpost".to_string()), ("instance".to_string(), "acme/site".to_string())];
        let p0 = Instant::now();
        let m = metrics::build(&report);
        let p1 = Instant::now();
        let t = text::render(&m, &m.common);
        let p2 = Instant::now();
        vaktpost::fsutil::replace(&path, t.as_bytes()).unwrap();
        let p3 = Instant::now();
        let pgw = text::render(&m, &[]);
        let p4 = Instant::now();
        let raw = remote_write::encode(&m, &labels);
        let p4b = Instant::now();
        let rw = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let p5 = Instant::now();
        if i == 2 {
            eprintln!("  remote write: encode {:?}, snappy {:?} ({} KB raw)", p4b - p4, p5 - p4b, raw.len() / 1000);
        }
        let ot = otlp::encode(&m, "vaktpost", "acme/site");
        let p6 = Instant::now();
        let reqs = metrics::requests(&cfg, &m, "vaktpost", "acme/site");
        let p7 = Instant::now();
        assert!(reqs.iter().all(|r| r.is_ok()));
        // The former ways, for comparison: prost message trees, and the fsync'd write.
        let _ = remote_write::body(&remote_write::request(&m, &labels)).unwrap();
        let _ = otlp::body(&otlp::request(&m, "vaktpost", "acme/site"));
        let p8 = Instant::now();
        vaktpost::fsutil::write_atomic(&path, t.as_bytes()).unwrap();
        let p9 = Instant::now();
        parts.push([p1 - p0, p2 - p1, p3 - p2, p4 - p3, p5 - p4, p6 - p5, p7 - p6, p8 - p7]);
        let _ = p9;
        sizes = (m.series_count(), t.len(), pgw.len(), rw.len(), ot.len());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let names = [
        "model",
        "text",
        "atomic write (rename, no fsync)",
        "Pushgateway body",
        "remote write body (protobuf + snappy)",
        "OTLP body",
        "the three bodies as a run builds them (in parallel)",
        "(former: prost remote write + OTLP)",
    ];
    for (k, name) in names.iter().enumerate() {
        let mut v: Vec<Duration> = parts.iter().skip(2).map(|p| p[k]).collect();
        println!("  part {name}: {:.1} ms", median(&mut v).as_secs_f64() * 1000.0);
    }
    let total = median(&mut run_path);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("metrics for {n} monitors ({} series), median of {runs} runs:", sizes.0);
    println!(
        "  sizes: file {} KB, Pushgateway {} KB, remote write {} KB, OTLP {} KB",
        sizes.1 / 1000,
        sizes.2 / 1000,
        sizes.3 / 1000,
        sizes.4 / 1000
    );
    println!(
        "  a run's metrics (push to three local receivers + the file): {} (budget ≤ {}) {}",
        ms(total),
        ms(BUDGET),
        if total <= BUDGET { "PASS" } else { "FAIL" }
    );
    if total > BUDGET {
        std::process::exit(1);
    }
}

/// A local HTTP receiver: reads each request's body (Content-Length) and answers 200,
/// on keep-alive connections, one thread each. Returns its base URL.
fn receiver() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    if w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}
