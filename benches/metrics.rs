//! Issue 17's budget: building and writing the metrics for 1,000 monitors adds ≤ 50 ms
//! to a run. Builds a report of N http monitors with every figure a run gives them (phase
//! timings, status code, TLS expiry, labels, 24h/7d/30d history), then times, per
//! iteration, what a run adds: the model, the text file written atomically (the file
//! output), and the Pushgateway body, the snappy remote-write request and the OTLP
//! request (what the endpoints are sent). Exit code 0 when the median is within budget.
//!
//! `cargo bench --bench metrics -- [--monitors N] [--runs R]`

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
    let (mut file, mut endpoints) = (Vec::new(), Vec::new());
    let mut sizes = (0, 0, 0, 0, 0);
    let mut parts: Vec<[Duration; 8]> = Vec::new();
    for i in 0..runs + 2 {
        // The file output: model, render, atomic write.
        let t0 = Instant::now();
        let out = metrics::write_file(&path, &report, None);
        let t_file = t0.elapsed();
        assert!(out.ok, "{out:?}");
        // What the endpoints are sent (the model again, as a run builds it once more).
        let t1 = Instant::now();
        let model = metrics::build(&report);
        let pgw = text::render(&model, &[]);
        let labels = [("job".to_string(), "vaktpost".to_string()), ("instance".to_string(), "acme/site".to_string())];
        let rw = remote_write::encoded_body(&model, &labels).unwrap();
        let ot = otlp::encode(&model, "vaktpost", "acme/site");
        let t_endpoints = t1.elapsed();
        // The parts, for the record.
        let p0 = Instant::now();
        let m = metrics::build(&report);
        let p1 = Instant::now();
        let t = text::render(&m, &m.common);
        let p2 = Instant::now();
        vaktpost::fsutil::replace(&path, t.as_bytes()).unwrap();
        let p3 = Instant::now();
        let _ = text::render(&m, &[]);
        let p4 = Instant::now();
        let _ = remote_write::encoded_body(&m, &labels).unwrap();
        let p5 = Instant::now();
        let _ = otlp::encode(&m, "vaktpost", "acme/site");
        let p6 = Instant::now();
        // The former ways, for comparison: prost message trees, and the fsync'd write.
        let _ = remote_write::body(&remote_write::request(&m, &labels)).unwrap();
        let _ = otlp::body(&otlp::request(&m, "vaktpost", "acme/site"));
        let p8 = Instant::now();
        vaktpost::fsutil::write_atomic(&path, t.as_bytes()).unwrap();
        let p9 = Instant::now();
        parts.push([p1 - p0, p2 - p1, p3 - p2, p4 - p3, p5 - p4, p6 - p5, p8 - p6, p9 - p8]);
        if i >= 2 {
            file.push(t_file);
            endpoints.push(t_endpoints);
        }
        sizes = (model.series_count(), std::fs::metadata(&path).unwrap().len() as usize, pgw.len(), rw.len(), ot.len());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (f, e) = (median(&mut file), median(&mut endpoints));
    let names = [
        "model",
        "text",
        "atomic write (rename, no fsync)",
        "Pushgateway body",
        "remote write",
        "OTLP",
        "(former: prost remote write + OTLP)",
        "(former: atomic write with fsync)",
    ];
    for (k, name) in names.iter().enumerate() {
        let mut v: Vec<Duration> = parts.iter().skip(2).map(|p| p[k]).collect();
        println!("  part {name}: {:.1} ms", median(&mut v).as_secs_f64() * 1000.0);
    }
    let total = f + e;
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("metrics for {n} monitors ({} series), median of {runs} runs:", sizes.0);
    println!("  file (model + text + atomic write, {} KB):           {}", sizes.1 / 1000, ms(f));
    println!(
        "  endpoints (model + Pushgateway {} KB + remote write {} KB + OTLP {} KB): {}",
        sizes.2 / 1000,
        sizes.3 / 1000,
        sizes.4 / 1000,
        ms(e)
    );
    println!(
        "  all outputs: {} (budget ≤ {}) {}",
        ms(total),
        ms(BUDGET),
        if total <= BUDGET { "PASS" } else { "FAIL" }
    );
    if total > BUDGET {
        std::process::exit(1);
    }
}
