//! The `log_files` monitor on generated log directories: a healthy rotated set, a 2 GB
//! sparse file, an old uncompressed `.1`, rotation and truncation between runs, Python
//! tracebacks and Rust panics, an access log with a 401 burst and `/.env` probes, and
//! invalid UTF-8. Every count is asserted exactly.

use crate::support;

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use support::load;
use support::services::{fired, not_fired};
use vaktpost::checks::{run_check, CheckEnv, CheckResult, Status};
use vaktpost::config::Loaded;

const LOG_RULES: &[&str] = &[
    "log_file_too_large",
    "log_rotation_stale",
    "log_file_stopped_growing",
    "log_new_errors",
    "log_errors",
    "log_security_events",
];

fn yaml(dir: &Path, extra: &str) -> String {
    let mut s = format!("monitors:\n  - name: app_logs\n    type: log_files\n    path: \"{}/*.log\"\n", dir.display());
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// Runs the monitor once with what the previous run carried.
async fn run(l: &Loaded, prev: Option<&CheckResult>) -> CheckResult {
    let m = &l.config.monitors[0];
    let mut eff = vaktpost::runner::effective(&l.config, m);
    eff.prev = prev.and_then(|p| p.carry.clone());
    let env = CheckEnv::new(vaktpost::redact::Redactor::new(&l.secrets));
    run_check(m, &eff, &env, chrono::Utc::now()).await
}

fn n(r: &CheckResult, k: &str) -> u64 {
    r.metrics.get(k).and_then(|v| v.as_u64()).unwrap_or_else(|| panic!("metric {k} missing in {r:#?}"))
}

fn write(p: &Path, text: &[u8]) {
    std::fs::write(p, text).unwrap();
}

fn append(p: &Path, text: &str) {
    OpenOptions::new().append(true).open(p).unwrap().write_all(text.as_bytes()).unwrap();
}

fn age(p: &Path, by: Duration) {
    File::options().write(true).open(p).unwrap().set_modified(SystemTime::now() - by).unwrap();
}

fn category(r: &CheckResult, c: &str) -> u64 {
    r.metrics["security_by_category"].get(c).and_then(|v| v.as_u64()).unwrap_or(0)
}

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_healthy_rotated_set_is_up_and_fires_nothing() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let live = b"2026-11-26T10:00:00Z INFO started\n2026-11-26T10:00:01Z INFO ready\n";
    write(&dir.join("app.log"), live);
    write(&dir.join("app.log.1"), &[b'x'; 1000]);
    age(&dir.join("app.log.1"), HOUR);
    for i in 2..=7 {
        write(&dir.join(format!("app.log.{i}.gz")), &[b'z'; 100]);
    }
    write(&dir.join("notes.txt"), b"not a log\n");
    let l = load(&yaml(dir, "max_file_bytes: 10MB\nmax_age: 2d\nstale_after: 1h"));
    let r = run(&l, None).await;
    assert_eq!(r.status, Status::Up, "{r:#?}");
    assert_eq!(n(&r, "files"), 1);
    assert_eq!(n(&r, "rotated_files"), 7);
    assert_eq!(n(&r, "compressed_files"), 6);
    assert_eq!(n(&r, "largest_bytes"), live.len() as u64);
    assert_eq!(n(&r, "total_bytes"), live.len() as u64 + 1000 + 600);
    let a = n(&r, "oldest_uncompressed_age_s");
    assert!((3600..=3605).contains(&a), "{a}");
    assert_eq!(r.metrics["stale_files"], serde_json::json!([]));
    assert_eq!(n(&r, "lines_read"), 2);
    assert_eq!(n(&r, "error_count"), 0);
    assert_eq!(n(&r, "security_events"), 0);
    for rule in LOG_RULES {
        not_fired(&l, &r, rule);
    }
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn a_2gb_sparse_file_past_max_file_bytes_is_read_only_at_its_tail() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.log");
    let tail = "\n2026-11-26T10:00:00Z ERROR disk full on /dev/sda1\n2026-11-26T10:00:01Z INFO ok\n";
    let size: u64 = 2 << 30;
    let mut f = File::create(&p).unwrap();
    f.set_len(size - tail.len() as u64).unwrap();
    f.seek(SeekFrom::End(0)).unwrap();
    f.write_all(tail.as_bytes()).unwrap();
    drop(f);
    let l = load(&yaml(d.path(), "max_file_bytes: 1GiB\nmax_bytes_per_run: 64KiB"));
    let r = run(&l, None).await;
    assert_eq!(r.status, Status::Degraded, "{r:#?}");
    assert_eq!(n(&r, "largest_bytes"), size);
    assert_eq!(n(&r, "total_bytes"), size);
    // The zeros up to the tail's first newline are skipped, the two lines after it read.
    assert_eq!(n(&r, "bytes_skipped"), size - tail.len() as u64 + 1);
    assert_eq!(n(&r, "bytes_read"), tail.len() as u64 - 1);
    assert_eq!(n(&r, "lines_read"), 2);
    assert_eq!(n(&r, "binary_lines_skipped"), 0);
    assert_eq!(n(&r, "error_count"), 1);
    let msg = fired(&l, &r, "log_file_too_large");
    assert_eq!(
        msg,
        format!(
            "app_logs: {} is 2.0 GiB, over max_file_bytes (1.0 GiB); rotation is not keeping up — check that logrotate covers this file (`logrotate -d <config>`) and add `maxsize`",
            p.display()
        )
    );
    assert!(r.message.as_deref().unwrap_or("").contains("logrotate"), "{r:#?}");
    // A second run with nothing new reads nothing.
    let r2 = run(&l, Some(&r)).await;
    assert_eq!((n(&r2, "bytes_read"), n(&r2, "bytes_skipped"), n(&r2, "lines_read")), (0, 0, 0));
}

#[tokio::test]
async fn an_old_uncompressed_dot_1_means_rotation_stopped() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("app.log"), b"INFO fine\n");
    write(&d.path().join("app.log.1"), b"INFO old\n");
    age(&d.path().join("app.log.1"), 72 * HOUR);
    write(&d.path().join("app.log.2.gz"), b"gz");
    age(&d.path().join("app.log.2.gz"), 96 * HOUR);
    let l = load(&yaml(d.path(), "max_age: 2d"));
    let r = run(&l, None).await;
    assert_eq!(r.status, Status::Degraded, "{r:#?}");
    assert_eq!((n(&r, "files"), n(&r, "rotated_files"), n(&r, "compressed_files")), (1, 2, 1));
    let a = n(&r, "oldest_uncompressed_age_s");
    assert!((259_200..=259_205).contains(&a), "{a}");
    let msg = fired(&l, &r, "log_rotation_stale");
    assert!(msg.starts_with(&format!("app_logs: {}/app.log.1 was rotated 3d", d.path().display())), "{msg}");
    assert!(msg.contains("(max_age 2d)") && msg.contains("logrotate -f"), "{msg}");
    not_fired(&l, &r, "log_file_too_large");
}

#[tokio::test]
async fn a_file_that_stopped_growing_is_reported() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("app.log"), b"INFO a\n");
    write(&d.path().join("worker.log"), b"INFO b\n");
    age(&d.path().join("worker.log"), 3 * HOUR);
    let l = load(&yaml(d.path(), "stale_after: 1h"));
    let r = run(&l, None).await;
    assert_eq!(r.status, Status::Degraded);
    let worker = format!("{}/worker.log", d.path().display());
    assert_eq!(r.metrics["stale_files"], serde_json::json!([worker]));
    let msg = fired(&l, &r, "log_file_stopped_growing");
    assert!(msg.starts_with(&format!("app_logs: {worker} not written for over 1h while the app is up;")), "{msg}");
    assert!(msg.contains("postrotate") && msg.contains("copytruncate"), "{msg}");
}

#[tokio::test]
async fn rotation_between_runs_finishes_the_old_file_then_reads_the_new_one() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.log");
    write(&p, b"2026-11-26T10:00:00Z INFO a\n2026-11-26T10:00:01Z ERROR db timeout after 5003ms\n2026-11-26T10:00:02Z INFO b\n");
    let l = load(&yaml(d.path(), ""));
    let r1 = run(&l, None).await;
    assert_eq!((n(&r1, "lines_read"), n(&r1, "error_count"), n(&r1, "error_groups_total")), (3, 1, 1));
    // First run: a baseline, nothing is "new".
    assert_eq!(n(&r1, "new_error_groups"), 0);
    not_fired(&l, &r1, "log_new_errors");

    // Between runs: two more lines, then logrotate renames and the app opens a new file.
    append(&p, "2026-11-26T10:01:00Z ERROR cache miss storm on shard 7\n2026-11-26T10:01:01Z INFO c\n");
    std::fs::rename(&p, d.path().join("app.log.1")).unwrap();
    write(&p, b"2026-11-26T10:02:00Z ERROR db timeout after 4998ms\n2026-11-26T10:02:01Z INFO d\n");
    let r2 = run(&l, Some(&r1)).await;
    assert_eq!(n(&r2, "rotations"), 1);
    assert_eq!(n(&r2, "truncations"), 0);
    assert_eq!(n(&r2, "lines_read"), 4);
    assert_eq!(n(&r2, "error_count"), 2);
    assert_eq!(n(&r2, "error_groups_total"), 2);
    assert_eq!(n(&r2, "new_error_groups"), 1);
    let groups = r2.metrics["error_groups"].as_array().unwrap();
    let db = groups.iter().find(|g| g["sample"].as_str().unwrap().contains("db timeout")).unwrap();
    assert_eq!(db["count"], 1);
    assert_eq!(db["total"], 2);
    assert_eq!(db["new"], false);
    // first_seen is remembered from the first run; last_seen is this run's line.
    assert_eq!(db["first_seen"], "2026-11-26T10:00:01Z");
    assert_eq!(db["last_seen"], "2026-11-26T10:02:00Z");
    assert_eq!(
        fired(&l, &r2, "log_new_errors"),
        "app_logs: 1 new error group(s) in the logs, e.g. 2026-11-26T10:01:00Z ERROR cache miss storm on shard 7"
    );

    // Third run: nothing new anywhere.
    let r3 = run(&l, Some(&r2)).await;
    assert_eq!((n(&r3, "lines_read"), n(&r3, "error_count"), n(&r3, "rotations")), (0, 0, 0));
}

#[tokio::test]
async fn a_truncated_file_is_read_from_its_start() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.log");
    write(&p, b"INFO 1\nINFO 2\nINFO 3\nINFO 4\nERROR five\n");
    let l = load(&yaml(d.path(), ""));
    let r1 = run(&l, None).await;
    assert_eq!((n(&r1, "lines_read"), n(&r1, "error_count")), (5, 1));
    // copytruncate: same file, cut to zero, then written again.
    OpenOptions::new().write(true).open(&p).unwrap().set_len(0).unwrap();
    append(&p, "ERROR after truncate\nINFO 2\n");
    let r2 = run(&l, Some(&r1)).await;
    assert_eq!(n(&r2, "truncations"), 1);
    assert_eq!(n(&r2, "rotations"), 0);
    assert_eq!((n(&r2, "lines_read"), n(&r2, "error_count")), (2, 1));
    // A line still being written waits for the next run.
    append(&p, "ERROR half a li");
    let r3 = run(&l, Some(&r2)).await;
    assert_eq!((n(&r3, "lines_read"), n(&r3, "error_count")), (0, 0));
    append(&p, "ne\n");
    let r4 = run(&l, Some(&r3)).await;
    assert_eq!((n(&r4, "lines_read"), n(&r4, "error_count")), (1, 1));
    assert_eq!(r4.metrics["error_groups"][0]["sample"], "ERROR half a line");
}

#[tokio::test]
async fn tracebacks_and_panics_are_one_event_each_grouped_by_fingerprint() {
    let d = tempfile::tempdir().unwrap();
    let text = concat!(
        "2026-11-26 10:00:00,001 INFO request ok\n",
        "2026-11-26 10:00:01,002 ERROR Exception in /api/items/17\n",
        "Traceback (most recent call last):\n",
        "  File \"/app/views.py\", line 42, in get\n",
        "    item = int(raw)\n",
        "ValueError: invalid literal for int() with base 10: 'abc'\n",
        "Traceback (most recent call last):\n",
        "  File \"/app/cache.py\", line 7, in <module>\n",
        "    value = store['user:1234']\n",
        "KeyError: 'user:1234'\n",
        "2026-11-26 10:00:03,000 ERROR Exception in /api/items/99\n",
        "Traceback (most recent call last):\n",
        "  File \"/app/views.py\", line 42, in get\n",
        "    item = int(raw)\n",
        "ValueError: invalid literal for int() with base 10: 'xyz'\n",
        "thread 'tokio-runtime-worker' panicked at src/worker.rs:88:14:\n",
        "index out of bounds: the len is 3 but the index is 7\n",
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        "thread 'tokio-runtime-worker' panicked at src/worker.rs:88:14:\n",
        "index out of bounds: the len is 5 but the index is 12\n",
        "2026-11-26T10:00:05Z ERROR connect to 10.0.0.12:5432 refused after 5003ms\n",
        "2026-11-26T10:00:06Z ERROR connect to 10.0.0.13:5432 refused after 4998ms\n",
        "2026-11-26T10:00:07Z INFO done\n",
    );
    write(&d.path().join("app.log"), text.as_bytes());
    let l = load(&yaml(d.path(), "max_errors: 5"));
    let r = run(&l, None).await;
    assert_eq!(n(&r, "lines_read"), 23);
    assert_eq!(n(&r, "error_count"), 7);
    assert_eq!(n(&r, "error_groups_total"), 4);
    let groups = r.metrics["error_groups"].as_array().unwrap();
    let counts: Vec<u64> = groups.iter().map(|g| g["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [2, 2, 2, 1]);
    let sample_of = |needle: &str| {
        groups
            .iter()
            .find(|g| g["sample"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no group with {needle}: {groups:#?}"))
    };
    assert_eq!(sample_of("ValueError")["count"], 2);
    assert_eq!(
        sample_of("ValueError")["sample"],
        "2026-11-26 10:00:01,002 ERROR Exception in /api/items/17 — ValueError: invalid literal for int() with base 10: 'abc'"
    );
    assert_eq!(sample_of("ValueError")["first_seen"], "2026-11-26T10:00:01.002Z");
    assert_eq!(sample_of("ValueError")["last_seen"], "2026-11-26T10:00:03Z");
    assert_eq!(sample_of("KeyError")["count"], 1);
    assert_eq!(sample_of("KeyError")["sample"], "KeyError: 'user:1234'");
    assert_eq!(sample_of("panicked")["count"], 2);
    assert_eq!(
        sample_of("panicked")["sample"],
        "thread 'tokio-runtime-worker' panicked at src/worker.rs:88:14: — index out of bounds: the len is 3 but the index is 7"
    );
    assert_eq!(sample_of("refused")["count"], 2);
    let msg = fired(&l, &r, "log_errors");
    assert!(
        msg.starts_with("app_logs: 7 error events since the last run, over max_errors 5; most frequent: "),
        "{msg}"
    );
}

#[tokio::test]
async fn an_access_log_burst_of_401s_and_env_probes_fires_security_events() {
    let d = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..25 {
        text.push_str(&format!(
            "203.0.113.9 - - [26/Nov/2026:10:00:{:02} +0000] \"POST /api/login HTTP/1.1\" 401 43 \"-\" \"python-requests/2.31\"\n",
            i
        ));
    }
    for p in ["/.env", "/.env", "/api/.env", "/.git/config", "/wp-login.php"] {
        text.push_str(&format!(
            "198.51.100.7 - - [26/Nov/2026:10:01:00 +0000] \"GET {p} HTTP/1.1\" 404 0 \"-\" \"zgrab\"\n"
        ));
    }
    text.push_str("192.0.2.1 - - [26/Nov/2026:10:02:00 +0000] \"GET /admin HTTP/1.1\" 403 0 \"-\" \"curl\"\n");
    text.push_str("192.0.2.1 - - [26/Nov/2026:10:02:01 +0000] \"GET /health HTTP/1.1\" 200 401 \"-\" \"curl\"\n");
    text.push_str("Nov 26 10:03:00 host sshd[811]: Failed password for root from 203.0.113.9 port 2222 ssh2\n");
    write(&d.path().join("access.log"), text.as_bytes());
    let l = load(&yaml(d.path(), ""));
    let r = run(&l, None).await;
    assert_eq!(n(&r, "lines_read"), 33);
    assert_eq!(category(&r, "http_401_403"), 26);
    assert_eq!(category(&r, "sensitive_path"), 5);
    assert_eq!(category(&r, "auth_failure"), 1);
    assert_eq!(n(&r, "security_events"), 32);
    assert_eq!(n(&r, "error_count"), 0);
    assert_eq!(
        fired(&l, &r, "log_security_events"),
        "app_logs: 32 security events since the last run (auth_failure: 1, http_401_403: 26, sensitive_path: 5), over security_threshold 20"
    );
    assert_eq!(
        r.metrics["security_samples"]["sensitive_path"],
        "198.51.100.7 - - [26/Nov/2026:10:01:00 +0000] \"GET /.env HTTP/1.1\" 404 0 \"-\" \"zgrab\""
    );
    // Under the threshold: counted, not alerted.
    let l = load(&yaml(d.path(), "security_threshold: 40"));
    let r = run(&l, None).await;
    assert_eq!(n(&r, "security_events"), 32);
    not_fired(&l, &r, "log_security_events");
}

#[tokio::test]
async fn custom_security_patterns_add_categories() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("app.log"), b"WARN sql injection attempt: ' OR 1=1 --\nWARN blocked ' OR 1=1\nINFO ok\n");
    let l = load(&yaml(
        d.path(),
        "security_defaults: false\nsecurity_patterns:\n  - \"OR 1=1\"\n  - name: sqli_comment\n    pattern: \"--$\"",
    ));
    let r = run(&l, None).await;
    // The first pattern a line matches is its category.
    assert_eq!(category(&r, "custom"), 2);
    assert_eq!(category(&r, "sqli_comment"), 0);
    assert_eq!(n(&r, "security_events"), 2);
}

#[tokio::test]
async fn invalid_utf8_and_nul_lines_are_skipped_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    text.extend_from_slice(b"2026-11-26T10:00:00Z ERROR valid line\n");
    text.extend_from_slice(b"2026-11-26T10:00:01Z ERROR bad \xff\xfe bytes\n");
    text.extend_from_slice(b"\x00\x00\x00\x00 ERROR with nul\n");
    text.extend_from_slice(b"caf\xc3\xa9 INFO valid utf-8\n");
    text.extend_from_slice(b"\xc3\x28 broken two-byte\n");
    write(&d.path().join("app.log"), &text);
    let l = load(&yaml(d.path(), ""));
    let r = run(&l, None).await;
    assert_eq!(n(&r, "lines_read"), 2);
    assert_eq!(n(&r, "binary_lines_skipped"), 3);
    assert_eq!(n(&r, "error_count"), 1);
    assert_eq!(n(&r, "bytes_read"), text.len() as u64);
}

#[tokio::test]
async fn secrets_in_log_lines_are_redacted_from_samples() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path().join("app.log"),
        b"ERROR upstream https://admin:hunter22@api.internal/v1?token=abc123 failed with s3cr3t-value\n",
    );
    let l = support::load_with_env(
        &format!(
            "{}  - name: api\n    type: http\n    url: https://example.com\n    headers:\n      X-Key: ${{KEY}}\n",
            yaml(d.path(), "")
        ),
        &[("KEY", "s3cr3t-value")],
    );
    let r = run(&l, None).await;
    let s = r.metrics["error_groups"][0]["sample"].as_str().unwrap();
    assert_eq!(s, "ERROR upstream https://***@api.internal/v1?token=*** failed with ***");
    assert!(!serde_json::to_string(&r.metrics).unwrap().contains("hunter22"));
}

#[tokio::test]
async fn no_matching_file_is_down_with_a_hint() {
    let d = tempfile::tempdir().unwrap();
    let l = load(&yaml(d.path(), ""));
    let r = run(&l, None).await;
    assert_eq!(r.status, Status::Down);
    let e = r.error.as_ref().unwrap();
    assert!(e.message.starts_with("no log file matches ") && e.message.contains("self-hosted runner"), "{e:?}");
}

#[test]
fn bad_patterns_and_limits_are_config_errors() {
    let y = "monitors:\n  - name: l\n    type: log_files\n    path: /var/log/*.log\n    error_pattern: \"(\"\n    security_patterns:\n      - \"[\"\n      - name: \"bad name\"\n        pattern: x\n    max_bytes_per_run: 10\n    max_age: 0\n";
    let Err(errs) = vaktpost::load_str(y, "t.yml", &Default::default()) else { panic!("invalid config accepted") };
    let paths: Vec<&str> = errs.iter().map(|d| d.path.as_str()).collect();
    for want in [
        "monitors[0].error_pattern",
        "monitors[0].security_patterns[0]",
        "monitors[0].security_patterns[1].name",
        "monitors[0].max_bytes_per_run",
        "monitors[0].max_age",
    ] {
        assert!(paths.contains(&want), "{want} not in {errs:#?}");
    }
}

/// The whole pipeline twice: offsets survive in the saved state, the findings fire with
/// the same alerting as any monitor, and the summary and report carry the Logs data.
#[tokio::test]
async fn two_whole_runs_keep_offsets_in_state_and_the_summary_has_a_logs_section() {
    use std::sync::{Arc, Mutex};
    let work = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let p = logs.path().join("app.log");
    write(&p, b"2026-11-26T10:00:00Z ERROR boot failed: config 'db' missing\n");
    let l = load(&yaml(logs.path(), "max_file_bytes: 1KB"));
    let t0 = chrono::Utc::now();
    let now = Arc::new(Mutex::new(t0));
    let clock = now.clone();
    let mut ctx = vaktpost::context::RunContext::with_env(Default::default(), work.path().to_path_buf());
    ctx.clock = Arc::new(move || *clock.lock().unwrap());
    let mut opts = vaktpost::RunOptions::new(&ctx, &l.config);
    opts.fail_on = vaktpost::report::FailOn::Never;

    let out = vaktpost::run(&ctx, &l, &opts, &|_, _| {}).await.unwrap();
    vaktpost::write_outputs(&ctx, &l, &opts, &out).unwrap();
    let c = &out.report.checks[0];
    assert_eq!((n(c, "lines_read"), n(c, "error_count"), n(c, "new_error_groups")), (1, 1, 0));

    append(&p, &format!("2026-11-26T10:05:00Z ERROR payment 8812 declined\n{}\n", "x".repeat(1100)));
    *now.lock().unwrap() = t0 + chrono::Duration::minutes(5);
    let out = vaktpost::run(&ctx, &l, &opts, &|_, _| {}).await.unwrap();
    vaktpost::write_outputs(&ctx, &l, &opts, &out).unwrap();
    let c = &out.report.checks[0];
    assert_eq!(c.status, Status::Degraded, "{c:#?}");
    assert_eq!((n(c, "lines_read"), n(c, "error_count"), n(c, "new_error_groups")), (2, 1, 1));
    let rules: Vec<&str> = out.report.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["log_file_too_large", "log_new_errors"]);

    let md = vaktpost::report::summary::render(&out.report, None, 500);
    let logs_md = &md[md.find("### Logs").expect("a Logs section")..];
    assert!(logs_md.contains("**app_logs** 🟡 1 file (0 rotated, 0 compressed), 1.2 KiB in all"), "{logs_md}");
    assert!(logs_md.contains("- 1 error events in 1 groups (1 new)"), "{logs_md}");
    assert!(logs_md.contains("- 0 security events"), "{logs_md}");
    assert!(
        logs_md.contains(
            "🆕 | 1 | 2026-11-26T10:05:00Z | 2026-11-26T10:05:00Z | 2026-11-26T10:05:00Z ERROR payment 8812 declined |"
        ),
        "{logs_md}"
    );
    assert!(logs_md.contains("- ⚠️ rotation: "), "{logs_md}");
    // The report carries the same data.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("vaktpost-report.json")).unwrap()).unwrap();
    assert_eq!(json["checks"][0]["metrics"]["error_groups"][0]["count"], 1);
    assert_eq!(json["checks"][0]["metrics"]["security_events"], 0);
}

#[tokio::test]
async fn a_double_star_glob_finds_nested_logs_and_dateext_rotations() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("api/v1")).unwrap();
    std::fs::create_dir_all(d.path().join("worker")).unwrap();
    write(&d.path().join("api/v1/access.log"), b"INFO a\n");
    write(&d.path().join("api/v1/access.log-20261125"), b"INFO old\n");
    write(&d.path().join("api/v1/access.log-20261124.gz"), b"gz");
    write(&d.path().join("worker/jobs.log"), b"ERROR job 12 failed\n");
    write(&d.path().join("worker/jobs.txt"), b"ERROR not a log\n");
    let l = load(&format!(
        "monitors:\n  - name: app_logs\n    type: log_files\n    path: \"{}/**/*.log\"\n",
        d.path().display()
    ));
    let r = run(&l, None).await;
    assert_eq!((n(&r, "files"), n(&r, "rotated_files"), n(&r, "compressed_files")), (2, 2, 1));
    assert_eq!((n(&r, "lines_read"), n(&r, "error_count")), (2, 1));
}

#[tokio::test]
async fn a_backlog_over_max_bytes_per_run_is_skipped_to_its_newest_lines() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.log");
    write(&p, b"INFO start\n");
    let l = load(&yaml(d.path(), "max_bytes_per_run: 1KiB"));
    let r1 = run(&l, None).await;
    assert_eq!(n(&r1, "lines_read"), 1);
    // 100 lines of 20 bytes (2000 bytes) since the last run; 1024 bytes are read.
    let mut more = String::new();
    for i in 0..100 {
        more.push_str(&format!("ERROR job {i:05} bad\n"));
    }
    assert_eq!(more.len(), 2000);
    append(&p, &more);
    let r2 = run(&l, Some(&r1)).await;
    // 2000 - 1024 = 976 = 48 lines and 16 bytes: the partial 49th line is skipped too.
    assert_eq!(n(&r2, "bytes_skipped"), 980);
    assert_eq!(n(&r2, "bytes_read"), 1020);
    assert_eq!(n(&r2, "lines_read"), 51);
    assert_eq!(n(&r2, "error_count"), 51);
    assert_eq!(n(&r2, "error_groups_total"), 1);
    let r3 = run(&l, Some(&r2)).await;
    assert_eq!((n(&r3, "bytes_read"), n(&r3, "bytes_skipped")), (0, 0));
}

/// "A file that stopped growing while the app is up": with `app_monitor`, the rule
/// follows that monitor's status in the same run.
#[tokio::test]
async fn stopped_growing_fires_only_while_the_app_monitor_is_up() {
    let logs = tempfile::tempdir().unwrap();
    write(&logs.path().join("app.log"), b"INFO a\n");
    age(&logs.path().join("app.log"), 2 * HOUR);
    for (app, up) in [("host", true), ("api", false)] {
        let work = tempfile::tempdir().unwrap();
        let y = format!(
            "{}    stale_after: 1h\n    app_monitor: {app}\n  - name: host\n    type: system\n  - name: api\n    type: http\n    url: http://127.0.0.1:9/health\n    timeout: 2\n",
            yaml(logs.path(), "")
        );
        let l = load(&y);
        let ctx = vaktpost::context::RunContext::with_env(Default::default(), work.path().to_path_buf());
        let mut opts = vaktpost::RunOptions::new(&ctx, &l.config);
        opts.fail_on = vaktpost::report::FailOn::Never;
        let out = vaktpost::run(&ctx, &l, &opts, &|_, _| {}).await.unwrap();
        assert_eq!(out.report.checks[0].status, Status::Degraded);
        let fired: Vec<&str> =
            out.report.findings.iter().filter(|f| f.monitor == "app_logs").map(|f| f.rule.as_str()).collect();
        if up {
            assert_eq!(fired, ["log_file_stopped_growing"]);
        } else {
            assert_eq!(fired, Vec::<&str>::new());
        }
    }
}

#[tokio::test]
async fn a_file_rotated_away_before_the_app_reopens_it_is_still_read_to_its_end() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.log");
    write(&p, b"ERROR a 1\n");
    let l = load(&yaml(d.path(), ""));
    let r1 = run(&l, None).await;
    assert_eq!(n(&r1, "error_count"), 1);
    append(&p, "ERROR b 2\n");
    std::fs::rename(&p, d.path().join("app.log.1")).unwrap();
    // No app.log yet: down, and the offsets are kept for the next run.
    let r2 = run(&l, Some(&r1)).await;
    assert_eq!(r2.status, Status::Down);
    assert!(r2.error.as_ref().unwrap().message.contains("(only 1 rotated files)"), "{r2:#?}");
    assert_eq!(r2.carry, r1.carry);
    write(&p, b"ERROR c 3\n");
    let r3 = run(&l, Some(&r2)).await;
    assert_eq!((n(&r3, "rotations"), n(&r3, "lines_read"), n(&r3, "error_count")), (1, 2, 2));

    // With another live file in the set, the rotated copy is finished at once.
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.log");
    write(&p, b"ERROR a 1\n");
    write(&d.path().join("other.log"), b"INFO x\n");
    let l = load(&yaml(d.path(), ""));
    let r1 = run(&l, None).await;
    append(&p, "ERROR b 2\n");
    std::fs::rename(&p, d.path().join("app.log.1")).unwrap();
    let r2 = run(&l, Some(&r1)).await;
    assert_eq!((n(&r2, "rotations"), n(&r2, "lines_read"), n(&r2, "error_count")), (1, 1, 1));
    write(&p, b"ERROR c 3\n");
    let r3 = run(&l, Some(&r2)).await;
    assert_eq!((n(&r3, "rotations"), n(&r3, "lines_read"), n(&r3, "error_count")), (0, 1, 1));
}

#[tokio::test]
async fn a_literal_path_finds_its_rotated_copies() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("app.log"), b"INFO a\n");
    write(&d.path().join("app.log.1"), b"INFO b\n");
    write(&d.path().join("other.log"), b"INFO c\n");
    let l = load(&format!(
        "monitors:\n  - name: app_logs\n    type: log_files\n    path: \"{}/app.log\"\n",
        d.path().display()
    ));
    let r = run(&l, None).await;
    assert_eq!((n(&r, "files"), n(&r, "rotated_files"), n(&r, "lines_read")), (1, 1, 1));
}

/// The README's `log_files` table states the real defaults (as tests/docs.rs does for
/// the other kinds).
#[test]
fn documented_defaults_are_the_real_ones() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("### `log_files`").expect("README has a log_files section");
    let doc: std::collections::BTreeMap<String, String> = readme[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("###"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() > 3 && cells[1].starts_with('`'))
                .then(|| (cells[1].trim_matches('`').to_string(), cells[2].trim_matches('`').to_string()))
        })
        .collect();
    let l = load("monitors:\n  - name: l\n    type: log_files\n    path: /x/*.log\n");
    let vaktpost::config::MonitorKind::LogFiles(o) = &l.config.monitors[0].kind else { panic!() };
    assert_eq!(doc["security_defaults"], o.security_defaults.to_string());
    assert_eq!(doc["security_threshold"], o.security_threshold.to_string());
    assert_eq!(vaktpost::config::duration::parse_bytes(&doc["max_bytes_per_run"]).unwrap(), o.max_bytes_per_run.0);
    for unset in ["max_file_bytes", "max_age", "stale_after", "app_monitor", "max_errors", "security_patterns"] {
        assert_eq!(doc[unset], "—", "{unset}");
    }
    assert!(o.max_file_bytes.is_none() && o.max_age.is_none() && o.stale_after.is_none());
    assert!(o.app_monitor.is_none() && o.max_errors.is_none() && o.security_patterns.is_empty());
}

// ---------------------------------------------------------------- real formats (tests/fixtures/logs)

fn log_fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One run over a fixture copied to `app.log`, with the default patterns.
async fn run_fixture(name: &str) -> (Loaded, CheckResult) {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("app.log"), &log_fixture(name));
    let l = load(&yaml(d.path(), ""));
    let r = run(&l, None).await;
    (l, r)
}

/// (count, sample) of each listed error group, most frequent first.
fn groups(r: &CheckResult) -> Vec<(u64, String)> {
    r.metrics["error_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["count"].as_u64().unwrap(), g["sample"].as_str().unwrap().to_string()))
        .collect()
}

/// Regression: nginx writes its levels in lower case (`[error]`), so the default pattern
/// counted 0 errors in a real error log.
#[tokio::test]
async fn nginx_error_log_counts_error_crit_alert_emerg_but_not_warn_notice_info() {
    let (_, r) = run_fixture("nginx_error.log").await;
    assert_eq!(n(&r, "lines_read"), 12);
    assert_eq!(n(&r, "error_count"), 6, "{:#?}", groups(&r));
    assert_eq!(n(&r, "error_groups_total"), 5, "{:#?}", groups(&r));
    let g = groups(&r);
    // Two upstream failures for different clients and item ids are one group.
    assert_eq!(g[0].0, 2);
    assert!(
        g[0].1.starts_with("2026/11/26 10:00:01 [error] 31#31: *1021 connect() failed (111: Connection refused)"),
        "{g:#?}"
    );
    for level in ["[crit]", "[alert]", "[emerg]"] {
        assert!(g.iter().any(|(c, s)| *c == 1 && s.contains(level)), "{level} missing: {g:#?}");
    }
    assert!(g.iter().all(|(_, s)| !s.contains("[warn]") && !s.contains("[notice]") && !s.contains("[info]")), "{g:#?}");
    // The `GET /.env` probe in the error line is a security event too.
    assert_eq!(category(&r, "sensitive_path"), 1);
    assert_eq!(n(&r, "security_events"), 1);
}

/// Regression: Apache 2.4 writes `[module:level]` in lower case, and its weekday names
/// split one recurring error into one group per day.
#[tokio::test]
async fn apache_error_log_counts_module_levels_and_one_error_is_one_group_across_days() {
    let (_, r) = run_fixture("apache_error.log").await;
    assert_eq!(n(&r, "lines_read"), 12);
    assert_eq!(n(&r, "error_count"), 8, "{:#?}", groups(&r));
    assert_eq!(n(&r, "error_groups_total"), 6, "{:#?}", groups(&r));
    let g = groups(&r);
    // Sunday's and Monday's proxy failures: one group each for mod_proxy and mod_proxy_http.
    assert_eq!(g.iter().map(|x| x.0).collect::<Vec<_>>(), [2, 2, 1, 1, 1, 1], "{g:#?}");
    assert!(
        g.iter().any(|(c, s)| *c == 2 && s.starts_with("[Sun Dec 04 05:10:01.000001 2022] [proxy:error]")),
        "{g:#?}"
    );
    assert!(g.iter().any(|(c, s)| *c == 2 && s.contains("[proxy_http:error]")), "{g:#?}");
    for level in ["[core:crit]", "[authz_core:error]", "[core:alert]", "[:error]"] {
        assert!(g.iter().any(|(_, s)| s.contains(level)), "{level} missing: {g:#?}");
    }
    assert!(g.iter().all(|(_, s)| !s.contains(":warn]") && !s.contains(":notice]") && !s.contains(":info]")), "{g:#?}");
    assert_eq!(n(&r, "security_events"), 0);
}

/// Regression: syslog's month names made `logrotate: ALERT exited abnormally` a new
/// group every month, so each month change raised `log_new_errors`.
#[tokio::test]
async fn one_syslog_error_across_a_month_change_is_one_group_and_not_new() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("syslog.log");
    write(&p, &log_fixture("syslog_june.log"));
    let l = load(&yaml(d.path(), ""));
    let june = run(&l, None).await;
    assert_eq!((n(&june, "error_count"), n(&june, "error_groups_total")), (1, 1));
    append(&p, &String::from_utf8(log_fixture("syslog_july.log")).unwrap());
    let july = run(&l, Some(&june)).await;
    assert_eq!(n(&july, "lines_read"), 5);
    assert_eq!(n(&july, "error_count"), 2);
    assert_eq!(n(&july, "error_groups_total"), 1);
    assert_eq!(n(&july, "new_error_groups"), 0);
    let g = &july.metrics["error_groups"][0];
    assert_eq!(g["total"], 3, "{g:#}");
    assert_eq!(g["new"], false);
    assert_eq!(
        g["sample"],
        "Jul 1 06:25:02 web1 logrotate: ALERT exited abnormally with [1]".replace("Jul 1", "Jul  1")
    );
    not_fired(&l, &july, "log_new_errors");
}

#[tokio::test]
async fn python_tracebacks_are_one_event_each_keyed_by_their_exception() {
    let (_, r) = run_fixture("python_tracebacks.log").await;
    assert_eq!(n(&r, "lines_read"), 41);
    assert_eq!(n(&r, "error_count"), 4, "{:#?}", groups(&r));
    assert_eq!(n(&r, "error_groups_total"), 3, "{:#?}", groups(&r));
    let g = groups(&r);
    assert_eq!(
        g[0],
        (
            2,
            "2026-11-26 10:00:05,120 ERROR django.request Internal Server Error: /api/orders/17 — orders.models.Order.DoesNotExist: Order matching query does not exist."
                .to_string()
        )
    );
    assert!(
        g.contains(&(1, "Exception in thread worker-2: — ZeroDivisionError: division by zero".to_string())),
        "{g:#?}"
    );
    // A chained traceback is one event, keyed by the exception it ended with.
    assert!(g.contains(&(1, "LookupError: cache miss".to_string())), "{g:#?}");
    assert_eq!(r.metrics["error_groups"][0]["first_seen"], "2026-11-26T10:00:05.120Z");
    assert_eq!(r.metrics["error_groups"][0]["last_seen"], "2026-11-26T10:00:07.310Z");
}

/// Regression: current Rust writes `thread 'main' (26110) panicked at …`; only the form
/// without the thread id started a panic event.
#[tokio::test]
async fn rust_panics_with_and_without_thread_id_are_events_with_their_message() {
    let (_, r) = run_fixture("rust_panics.log").await;
    assert_eq!(n(&r, "lines_read"), 20);
    assert_eq!(n(&r, "error_count"), 4, "{:#?}", groups(&r));
    assert_eq!(n(&r, "error_groups_total"), 2, "{:#?}", groups(&r));
    let mut g = groups(&r);
    g.sort();
    // The same panic under both header forms is one group; so is one panic in two threads.
    assert_eq!(
        g,
        [
            (
                2,
                "thread 'main' panicked at src/config.rs:80:14: — called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, message: \"No such file or directory\" }"
                    .to_string()
            ),
            (
                2,
                "thread 'tokio-runtime-worker' (26115) panicked at src/queue.rs:212:9: — attempt to subtract with overflow"
                    .to_string()
            ),
        ]
    );
}

/// sshd's lower-case `error:`/`fatal:` messages are errors; "no error" in a sentence is not.
#[tokio::test]
async fn sshd_error_and_fatal_messages_count_and_no_error_prose_does_not() {
    let (_, r) = run_fixture("sshd_auth.log").await;
    assert_eq!(n(&r, "lines_read"), 12);
    assert_eq!(n(&r, "error_count"), 5, "{:#?}", groups(&r));
    assert_eq!(n(&r, "error_groups_total"), 4, "{:#?}", groups(&r));
    let g = groups(&r);
    assert_eq!(
        g[0],
        (
            2,
            "Nov 26 10:00:01 web1 sshd[1234]: error: kex_exchange_identification: Connection closed by remote host"
                .to_string()
        )
    );
    assert!(g.iter().any(|(_, s)| s.contains("sshd[1238]: fatal: Timeout before authentication")), "{g:#?}");
    assert!(g.iter().all(|(_, s)| !s.contains("no error")), "{g:#?}");
    assert_eq!(category(&r, "auth_failure"), 1);
    assert_eq!(n(&r, "security_events"), 1);
}
