//! The binary end to end: exit codes, config diagnostics, outputs for GitHub Actions,
//! state across runs, the JSON report against its committed schema.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A tiny threaded HTTP/1.1 server: `/ok`, `/fail` (500), `/memory` (percent 93), `/count`,
/// `/together` (200 once two `/together` requests are in flight at once — a rendezvous, so
/// two runs overlap for sure — or after 60 s).
struct Site {
    port: u16,
    hits: Arc<AtomicUsize>,
}

fn site() -> Site {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let together = Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let h = h.clone();
            let together = together.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let target = first.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_string();
                if path == "/together" {
                    let (n, cv) = &*together;
                    let mut n = n.lock().unwrap();
                    *n += 1;
                    cv.notify_all();
                    let _ = cv.wait_timeout_while(n, std::time::Duration::from_secs(60), |n| *n < 2).unwrap();
                }
                let (status, body) = match path.as_str() {
                    "/together" => ("200 OK", "both arrived"),
                    "/ok" => ("200 OK", r#"{"status":"ok","version":"1.2.3"}"#),
                    "/memory" => ("200 OK", r#"{"percent":93}"#),
                    "/fail" => ("500 Internal Server Error", "boom"),
                    _ => ("404 Not Found", "nope"),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Site { port, hits }
}

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        Run { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }
    fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(args).current_dir(self.dir.path()).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
    fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(args).current_dir(self.dir.path()).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    }
    fn json(&self, name: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path(name)).unwrap()).unwrap()
    }
    fn report(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path("vaktpost-report.json")).unwrap()).unwrap()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn manifest(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn seed_config_validates_unchanged() {
    let r = Run::new();
    let seed = manifest("config/seed/external_monitors.yml");
    let o = r.cmd(&["validate", "-c", seed.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("3 monitors (2 http, 1 ssl)"), "{}", text(&o));
    let o = r.cmd(&["run", "--validate", "-c", seed.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn seed_environment_variables_are_read() {
    let r = Run::new();
    let seed = manifest("config/seed/external_monitors.yml");
    let o = r.cmd(
        &["validate", "-c", seed.to_str().unwrap()],
        &[
            ("MONITORING_INTERVAL", "300"),
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/secret"),
            ("ALERT_EMAIL", "alerts@example.com"),
        ],
    );
    let t = text(&o);
    assert_eq!(code(&o), 0, "{t}");
    assert!(t.contains("default interval 5m from MONITORING_INTERVAL"), "{t}");
    assert!(t.contains("Slack alerts on from SLACK_WEBHOOK_URL"), "{t}");
    assert!(t.contains("email alerts to ALERT_EMAIL"), "{t}");
    assert!(!t.contains("secret"), "webhook URL leaked: {t}");
}

#[test]
fn every_shipped_config_validates() {
    let r = Run::new();
    for entry in std::fs::read_dir(manifest("config")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yml") {
            let o = r.cmd(&["validate", "-c", p.to_str().unwrap()], &[]);
            assert_eq!(code(&o), 0, "{}: {}", p.display(), text(&o));
        }
    }
}

fn assert_invalid(yaml: &str, env: &[(&str, &str)], expect: &[&str]) {
    let r = Run::new();
    r.write("vaktpost.yml", yaml);
    let o = r.cmd(&["validate"], env);
    let t = text(&o);
    assert_eq!(code(&o), 2, "{t}");
    for e in expect {
        assert!(t.contains(e), "expected {e:?} in:\n{t}");
    }
    // run refuses the same config with the same code and checks nothing.
    let o = r.cmd(&["run"], env);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(!r.path("vaktpost-report.json").exists());
}

// Regression: a config with no monitors (or only disabled ones) passed and the gate was green.
#[test]
fn config_with_nothing_to_check_is_a_located_error() {
    for yaml in ["", "defaults:\n  timeout: 5s\n", "monitors:\n", "monitors: []\n"] {
        assert_invalid(yaml, &[], &["the config has no monitors; add at least one under `monitors:`"]);
    }
    assert_invalid(
        "defaults:\n  timeout: 5s\nmonitors: []\n",
        &[],
        &["vaktpost.yml:3:1: monitors: the config has no monitors"],
    );
    assert_invalid(
        "monitors:\n  - name: a\n    type: http\n    url: https://a.example\n    enabled: false\n  - name: b\n    type: http\n    url: https://b.example\n    enabled: false\n",
        &[],
        &["vaktpost.yml:5:14", "all 2 monitors have `enabled: false`, so nothing would be checked"],
    );
    // One monitor left on is a config that checks something.
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        "monitors:\n  - name: a\n    type: http\n    url: https://a.example\n    enabled: false\n  - name: b\n    type: http\n    url: https://b.example\n",
    );
    let o = r.cmd(&["validate"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

// Regression: `--config /dev/zero` was read forever, growing without bound.
#[test]
fn endless_or_huge_config_paths_are_refused_without_reading_them_whole() {
    let r = Run::new();
    let t0 = std::time::Instant::now();
    let o = r.cmd(&["validate", "-c", "/dev/zero"], &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("the config path is a character device"), "{}", text(&o));
    let dir = r.path("conf.d");
    std::fs::create_dir_all(&dir).unwrap();
    let o = r.cmd(&["validate", "-c", dir.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("the config path is a directory"), "{}", text(&o));
    // A regular file past 8 MiB (a YAML comment, so only its size is wrong).
    let big = r.path("big.yml");
    let mut f = std::fs::File::create(&big).unwrap();
    let line = format!("#{}\n", "x".repeat(1023));
    for _ in 0..(9 * 1024) {
        f.write_all(line.as_bytes()).unwrap();
    }
    drop(f);
    let o = r.cmd(&["run", "-c", big.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("config file is larger than 8 MiB"), "{}", text(&o));
    assert!(!r.path("vaktpost-report.json").exists());
    // Loose: each refusal is immediate, nowhere near this on a loaded runner.
    assert!(t0.elapsed() < std::time::Duration::from_secs(60), "{:?}", t0.elapsed());
}

// A pipe is read (`--config <(envsubst < template)`), still bounded.
#[cfg(unix)]
#[test]
fn config_from_a_pipe_is_read() {
    let r = Run::new();
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
    c.args(["validate", "-c", "/dev/stdin"]).current_dir(r.dir.path()).env_clear();
    c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"monitors:\n  - name: a\n    type: http\n    url: https://a.example\n").unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("1 monitors (1 http)"), "{}", text(&o));
}

#[test]
fn yaml_syntax_error_is_located() {
    assert_invalid(
        "monitors:\n  - name: a\n    type: http\n   url: x\n",
        &[],
        &["vaktpost.yml:4:", "YAML syntax error"],
    );
}

#[test]
fn unknown_key_gets_did_you_mean() {
    assert_invalid(
        "monitors:\n  - name: a\n    type: http\n    url: https://example.com\n    expectd_status: 200\n",
        &[],
        &["vaktpost.yml:5:5: monitors[0].expectd_status: unknown key", "did you mean \"expected_status\"?"],
    );
}

#[test]
fn wrong_type_is_located_with_key_path() {
    assert_invalid(
        "monitors:\n  - name: a\n    type: http\n    url: https://example.com\n    samples: many\n",
        &[],
        &["vaktpost.yml:5:14: monitors[0].samples: invalid type", "expected a whole number"],
    );
}

#[test]
fn duplicate_monitor_names_are_rejected() {
    assert_invalid(
        "monitors:\n  - name: a\n    type: http\n    url: https://example.com\n  - name: a\n    type: http\n    url: https://example.org\n",
        &[],
        &["vaktpost.yml:5:11: monitors[1].name: duplicate monitor name \"a\""],
    );
}

#[test]
fn bad_url_is_rejected() {
    assert_invalid(
        "monitors:\n  - name: a\n    type: http\n    url: example.com/health\n",
        &[],
        &["monitors[0].url: invalid URL", "https://example.com/health"],
    );
}

#[test]
fn unset_variable_is_named() {
    assert_invalid(
        "monitors:\n  - name: a\n    type: http\n    url: https://${API_HOST}/health\n",
        &[],
        &["vaktpost.yml:4:10: monitors[0].url: environment variable API_HOST is not set"],
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    assert_invalid(
        "defaults:\n  timeout: soon\nmonitors:\n  - name: a\n    type: htp\n  - name: b\n    type: http\n    url: https://x.example\n    expected_status: 700\nrules:\n  - name: r\n    condition: 'up &&'\nalrets: {}\n",
        &[],
        &[
            "defaults.timeout: invalid duration",
            "monitors[0].type: unknown value \"htp\"; did you mean \"http\"?",
            "monitors[1].expected_status: status code 700",
            "rules[0].condition: invalid CEL condition",
            "unknown top-level key \"alrets\"; did you mean \"alerts\"?",
            "5 problems found",
        ],
    );
}

#[test]
fn interpolated_values_work_and_numbers_convert() {
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        "monitors:\n  - name: a\n    type: http\n    url: http://127.0.0.1:${PORT}/ok\n    timeout: ${T:-5}\n    expected_status: ${CODE}\n",
    );
    let port = s.port.to_string();
    let o = r.cmd(&["run"], &[("PORT", &port), ("CODE", "200")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(r.report()["checks"][0]["status"], "up");
}

fn write_fleet(r: &Run, port: u16) {
    let logs = r.write("logs/app.log", "2026-11-26T10:00:00Z INFO started\n");
    let logs = logs.with_file_name("*.log");
    let logs = logs.display();
    r.write(
        "vaktpost.yml",
        &format!(
            "defaults:
  confirm: {{pause: 10ms}}
monitors:
  - name: healthy
    type: http
    url: http://127.0.0.1:{port}/ok
  - name: broken
    type: http
    url: http://user:pw@127.0.0.1:{port}/fail?token=s3cr3t-token&page=1
    headers:
      Authorization: Bearer ${{API_TOKEN}}
  - name: memory_status
    type: http
    url: http://127.0.0.1:{port}/memory
    extract: {{percent: /percent}}
  - name: app_logs
    type: log_files
    path: {logs}
"
        ),
    );
}

#[test]
fn exit_code_follows_fail_on() {
    let s = site();
    let r = Run::new();
    write_fleet(&r, s.port);
    let env = [("API_TOKEN", "tok-very-secret-123")];
    // broken is down: endpoint_down (high) ⇒ exit 1 at the default gate.
    let o = r.cmd(&["run"], &env);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = r.cmd(&["run", "--fail-on", "never"], &env);
    assert_eq!(code(&o), 0, "{}", text(&o));
    // Only memory_status: a medium finding passes the high gate and trips the medium one.
    let o = r.cmd(&["run", "--only", "memory_status"], &env);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = r.cmd(&["run", "--only", "memory_status", "--fail-on", "medium"], &env);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = r.cmd(&["run", "--fail-on", "sometimes"], &env);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let o = r.cmd(&["run", "--only", "no_such_monitor"], &env);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn report_is_complete_and_matches_committed_schema() {
    let s = site();
    let r = Run::new();
    write_fleet(&r, s.port);
    // Twice: high_memory fires on its second run over the line (`for: 2`).
    for _ in 0..2 {
        let o = r.cmd(&["run", "--fail-on", "never"], &[("API_TOKEN", "tok-very-secret-123")]);
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    let report = r.report();
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest("schemas/report.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["healthy", "broken", "memory_status", "app_logs"], "config order");
    assert_eq!(report["status"], "down");
    assert_eq!(report["checks"][1]["error"]["kind"], "http_status");
    assert_eq!(report["checks"][1]["metrics"]["status_code"], 500);
    assert_eq!(report["checks"][2]["metrics"]["percent"], 93.0);
    assert_eq!(report["checks"][3]["status"], "up");
    assert_eq!(report["checks"][3]["metrics"]["files"], 1);
    let findings: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["fingerprint"].as_str().unwrap().to_string(), f["severity"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        findings,
        [
            ("broken/endpoint_down".to_string(), "high".to_string()),
            ("memory_status/high_memory".to_string(), "medium".to_string())
        ]
    );
    assert_eq!(report["findings"][1]["message"], "Memory usage is 93%");
}

#[test]
fn committed_schemas_match_the_code() {
    let r = Run::new();
    for which in ["config", "report"] {
        let o = r.cmd(&["schema", which], &[]);
        assert_eq!(code(&o), 0);
        let generated: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let committed: serde_json::Value =
            serde_json::from_slice(&std::fs::read(manifest(&format!("schemas/{which}.schema.json"))).unwrap()).unwrap();
        assert_eq!(
            generated, committed,
            "schemas/{which}.schema.json is stale: run `vaktpost schema {which} > schemas/{which}.schema.json`"
        );
    }
}

#[test]
fn github_actions_outputs_summary_and_annotations() {
    let s = site();
    let r = Run::new();
    write_fleet(&r, s.port);
    std::fs::write(r.path("summary.md"), "previous step\n").unwrap();
    let out = r.path("output.txt");
    let sum = r.path("summary.md");
    let ws = r.dir.path().to_string_lossy().to_string();
    let env = [
        ("API_TOKEN", "tok-very-secret-123"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", sum.to_str().unwrap()),
        ("GITHUB_OUTPUT", out.to_str().unwrap()),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("INPUT_FAIL_ON", "never"),
        ("INPUT_REPORT", "out/report.json"),
        ("INPUT_SHARD", ""),
        ("GITHUB_WORKSPACE", ws.as_str()),
    ];
    // A first run, outside Actions, so high_memory (`for: 2`) fires in the one below.
    assert_eq!(code(&r.cmd(&["run", "--fail-on", "never"], &[("API_TOKEN", "tok-very-secret-123")])), 0);
    let o = r.cmd(&["run"], &env);
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(r.path("out/report.json").exists(), "INPUT_REPORT honoured");

    // Outputs: heredoc blocks, every key present.
    let outputs = std::fs::read_to_string(&out).unwrap();
    let mut parsed = BTreeMap::new();
    let mut lines = outputs.lines();
    while let Some(l) = lines.next() {
        let (k, delim) = l.split_once("<<").unwrap();
        let v = lines.next().unwrap();
        assert_eq!(lines.next().unwrap(), delim);
        parsed.insert(k.to_string(), v.to_string());
    }
    assert_eq!(parsed["status"], "down");
    assert_eq!(parsed["findings"], "2");
    assert_eq!(parsed["high"], "1");
    assert_eq!(parsed["medium"], "1");
    assert_eq!(parsed["low"], "0");
    // Relative to the workspace: the container's mount path means nothing to later steps.
    assert_eq!(parsed["report-path"], "out/report.json");
    assert_eq!(parsed["summary-path"], "summary.md");
    // Readable by later steps that run as another user than the action's root.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(r.path("out/report.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);

    // Summary appended, not overwritten.
    let md = std::fs::read_to_string(&sum).unwrap();
    assert!(md.starts_with("previous step\n"));
    // The headline is the worst open problem, the next line what changed.
    assert!(md.contains("## 🔴 vaktpost: 2 open problems: Endpoint broken is down (and 1 more)\n"), "{md}");
    assert!(md.contains("| 🔴 | broken | http | down |"), "{md}");
    assert!(md.contains("`memory_status/high_memory` Memory usage is 93%"), "{md}");
    assert!(md.contains("https://github.com/acme/shop/actions/runs/42"), "{md}");

    // Annotations, escaped; secrets masked first and never printed otherwise.
    assert!(stdout.contains("::error title=vaktpost broken/endpoint_down (high)::Endpoint broken is down"), "{stdout}");
    assert!(
        stdout.contains("::warning title=vaktpost memory_status/high_memory (medium)::Memory usage is 93%"),
        "{stdout}"
    );
    assert!(stdout.starts_with("::add-mask::"), "{stdout}");
    let after_masks: String = stdout.lines().filter(|l| !l.starts_with("::add-mask::")).collect::<Vec<_>>().join("\n");
    for secret in ["tok-very-secret-123", "s3cr3t-token", "user:pw"] {
        assert!(!after_masks.contains(secret), "{secret} leaked to stdout");
        assert!(!md.contains(secret), "{secret} leaked to the summary");
        let report = std::fs::read_to_string(r.path("out/report.json")).unwrap();
        assert!(!report.contains(secret), "{secret} leaked to the report");
    }
    let report = std::fs::read_to_string(r.path("out/report.json")).unwrap();
    assert!(report.contains("token=***&page=1"), "{report}");
    assert!(md.contains("HTTP 500"), "{md}");
}

#[test]
fn interval_skips_until_due_and_dry_run_saves_nothing() {
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!(
            "monitors:\n  - name: hourly\n    type: http\n    url: http://127.0.0.1:{p}/memory\n    interval: 1h\n    extract: {{percent: /percent}}\n  - name: always\n    type: http\n    url: http://127.0.0.1:{p}/ok\nrules:\n  - name: high_memory\n    for: 1\n",
            p = s.port
        ),
    );
    // A dry run checks everything but leaves no state behind.
    let o = r.cmd(&["run", "--dry-run", "--fail-on", "never"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!r.path(".vaktpost").exists());
    assert_eq!(s.hits.load(Ordering::SeqCst), 2);

    let o = r.cmd(&["run", "--fail-on", "medium"], &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(s.hits.load(Ordering::SeqCst), 4);
    // Second run within the hour: hourly is skipped (not requested) but its finding carries over.
    let o = r.cmd(&["run", "--fail-on", "medium"], &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(s.hits.load(Ordering::SeqCst), 5);
    let rep = r.report();
    assert_eq!(rep["checks"][0]["status"], "skipped");
    assert!(rep["checks"][0]["last_checked_at"].is_string());
    assert_eq!(rep["findings"][0]["fingerprint"], "hourly/high_memory");
    assert_eq!(rep["findings"][0]["carried_over"], true);
    // --only forces a check regardless of interval.
    let o = r.cmd(&["run", "--only", "hourly", "--fail-on", "never"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(s.hits.load(Ordering::SeqCst), 6);
}

#[test]
fn for_and_resolve_after_count_runs() {
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!(
            "monitors:\n  - name: m\n    type: http\n    url: http://127.0.0.1:{}/${{PATHX}}\nrules:\n  - name: endpoint_down\n    for: 2\n    resolve_after: 2\n",
            s.port
        ),
    );
    let run = |p: &str| {
        let o = r.cmd(&["run"], &[("PATHX", p)]);
        (code(&o), r.report()["findings"].as_array().unwrap().len())
    };
    assert_eq!(run("fail"), (0, 0), "first failure does not fire with for: 2");
    assert_eq!(run("fail"), (1, 1), "second consecutive failure fires");
    assert_eq!(run("ok"), (1, 1), "one pass does not resolve with resolve_after: 2");
    assert_eq!(run("ok"), (0, 0), "second pass resolves");
    assert_eq!(run("fail"), (0, 0), "streak starts over");
}

#[test]
fn shards_split_the_fleet_without_overlap() {
    let s = site();
    let r = Run::new();
    let mut yaml = String::from("monitors:\n");
    for i in 0..12 {
        yaml.push_str(&format!("  - name: m{i}\n    type: http\n    url: http://127.0.0.1:{}/ok\n", s.port));
    }
    r.write("vaktpost.yml", &yaml);
    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let o = r.cmd(&["run", "--shard", &shard], &[]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        let rep = r.report();
        assert_eq!(rep["run"]["shard"], shard.as_str());
        for c in rep["checks"].as_array().unwrap() {
            seen.push(c["name"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(seen, want);
    let o = r.cmd(&["run", "--shard", "4/3"], &[]);
    assert_eq!(code(&o), 2);
}

#[test]
fn unwritable_report_exits_3() {
    let s = site();
    let r = Run::new();
    write_fleet(&r, s.port);
    r.write("blocker", "a file, not a directory");
    let o = r.cmd(&["run", "--report", "blocker/report.json", "--fail-on", "never"], &[("API_TOKEN", "x")]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("cannot write the report"), "{}", text(&o));
}

#[test]
fn missing_config_is_a_usage_error() {
    let r = Run::new();
    let o = r.cmd(&["run"], &[]);
    assert_eq!(code(&o), 2);
    assert!(text(&o).contains("no config file found"), "{}", text(&o));
    // The seed's location is found without --config.
    std::fs::create_dir_all(r.path("monitoring/config")).unwrap();
    std::fs::copy(manifest("config/seed/external_monitors.yml"), r.path("monitoring/config/external_monitors.yml"))
        .unwrap();
    let o = r.cmd(&["validate"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn run_deadline_bounds_a_hung_target() {
    // A listener that accepts and never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            held.push(s);
        }
    });
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!(
            "defaults:\n  timeout: 30s\nmonitors:\n  - name: hung\n    type: http\n    url: http://127.0.0.1:{port}/\n"
        ),
    );
    let t0 = std::time::Instant::now();
    let o = r.cmd(&["run", "--deadline", "1s"], &[]);
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert_eq!(r.report()["checks"][0]["error"]["kind"], "timeout");
}

#[test]
fn misspelt_rule_variable_fails_validate_with_did_you_mean() {
    assert_invalid(
        "monitors:\n  - name: api\n    type: http\n    url: https://api.example.com/health\nrules:\n  - name: slow\n    condition: respons_time > 2\n",
        &[],
        &[
            "vaktpost.yml:7:",
            "rules[0].condition: unknown variable \"respons_time\" (did you mean \"response_time\"?); the monitors this rule applies to (http) provide:",
        ],
    );
}

#[test]
fn erroring_rule_is_reported_in_findings_notes_and_summary_and_trips_the_gate() {
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!(
            "monitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:{}/ok\nrules:\n  - name: broken\n    condition: up && 1/0 == 1\n    severity: medium\n    for: 3\n",
            s.port
        ),
    );
    let sum = r.path("summary.md");
    let o = r.cmd(&["run", "--fail-on", "medium", "--state", "st"], &[("GITHUB_STEP_SUMMARY", sum.to_str().unwrap())]);
    assert_eq!(code(&o), 1, "an erroring medium rule trips --fail-on medium: {}", text(&o));
    let rep = r.report();
    let f = rep["findings"].as_array().unwrap();
    let e = f.iter().find(|f| f["rule"] == "broken").unwrap_or_else(|| panic!("{rep:#}"));
    assert_eq!(e["category"], "rule_error");
    assert_eq!(e["fingerprint"], "api/broken");
    assert_eq!(e["severity"], "medium");
    let notes = rep["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap_or("")
            .starts_with("Rule errors: `broken` could not be evaluated for api: division by zero")),
        "{notes:?}"
    );
    let md = std::fs::read_to_string(&sum).unwrap();
    // Notes are neutralised for Markdown like any text that may carry remote content.
    assert!(md.contains("Rule errors: \\`broken\\` could not be evaluated"), "{md}");
    // Below the gate level it is still reported, and the gate stays open.
    let o = r.cmd(&["run", "--fail-on", "high", "--state", "st"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(r.report()["findings"].as_array().unwrap().iter().any(|f| f["category"] == "rule_error"));
}

fn notes(rep: &serde_json::Value) -> Vec<String> {
    rep["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

#[test]
fn history_that_cannot_be_saved_exits_3_with_the_note_in_the_report() {
    // Regression: a failed history save was only a note and the run exited 0.
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!("monitors:\n  - name: a\n    type: http\n    url: http://127.0.0.1:{}/ok\n", s.port),
    );
    r.write(".vaktpost/history", "a file where the history directory belongs");
    let o = r.cmd(&["run"], &[]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("cannot write the history"), "{}", text(&o));
    let n = notes(&r.report());
    assert!(n.iter().any(|n| n.starts_with("history not saved this run")), "{n:?}");
    // The state was still saved: only the history failed.
    assert!(r.json(".vaktpost/state.json")["monitors"]["a"].is_object());
}

#[test]
fn state_that_cannot_be_saved_exits_3_after_the_report() {
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!("monitors:\n  - name: a\n    type: http\n    url: http://127.0.0.1:{}/ok\n", s.port),
    );
    std::fs::create_dir_all(r.path(".vaktpost/state.json")).unwrap();
    let o = r.cmd(&["run"], &[]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let n = notes(&r.report());
    assert!(n.iter().any(|n| n.starts_with("state not saved this run")), "{n:?}");
}

#[test]
fn invalid_utf8_state_is_moved_aside_and_reported() {
    // Regression: non-UTF-8 state.json was overwritten instead of moved aside.
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!("monitors:\n  - name: a\n    type: http\n    url: http://127.0.0.1:{}/ok\n", s.port),
    );
    std::fs::create_dir_all(r.path(".vaktpost")).unwrap();
    std::fs::write(r.path(".vaktpost/state.json"), b"\xff\xfe\x00garbage").unwrap();
    let o = r.cmd(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let n = notes(&r.report());
    assert!(n.iter().any(|n| n.contains("state.json") && n.contains("corrupt") && n.contains("moved to")), "{n:?}");
    let aside: Vec<PathBuf> = std::fs::read_dir(r.path(".vaktpost"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read(&aside[0]).unwrap(), b"\xff\xfe\x00garbage");
}

#[test]
fn symlinked_history_files_are_never_written_through() {
    // Regression: a symlinked segment (a poisoned cache) was appended to.
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!("monitors:\n  - name: a\n    type: http\n    url: http://127.0.0.1:{}/ok\n", s.port),
    );
    let outside = r.write("outside/precious.txt", "do not touch\n");
    std::fs::create_dir_all(r.path(".vaktpost/history")).unwrap();
    let today = chrono::Utc::now().date_naive();
    let mut links = Vec::new();
    for day in [today.pred_opt().unwrap(), today, today.succ_opt().unwrap()] {
        let link = r.path(&format!(".vaktpost/history/samples-{}.jsonl", day.format("%Y-%m-%d")));
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        links.push(link);
    }
    std::os::unix::fs::symlink(&outside, r.path(".vaktpost/history/tails.json")).unwrap();
    for _ in 0..2 {
        let o = r.cmd(&["run"], &[]);
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"do not touch\n");
    let rep_notes = notes(&r.report());
    // The second run found nothing left to move aside; the first one's report said so.
    assert!(rep_notes.iter().all(|n| !n.contains("symlink")), "{rep_notes:?}");
    let moved = std::fs::read_dir(r.path(".vaktpost/history"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .count();
    assert_eq!(moved, 4);
    let seg = links.iter().find(|l| l.exists()).expect("a segment written for this run");
    assert!(!std::fs::symlink_metadata(seg).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(seg).unwrap().lines().count(), 2);
}

#[test]
fn two_overlapping_runs_on_one_state_directory_keep_both_monitors() {
    // Regression: the second run to save state.json overwrote the first one's update.
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!(
            "defaults:\n  timeout: 60s\nmonitors:\n  - name: a\n    type: http\n    url: http://127.0.0.1:{p}/together\n  - name: b\n    type: http\n    url: http://127.0.0.1:{p}/together\n",
            p = s.port
        ),
    );
    let ra = r.spawn(&["run", "--only", "a", "--report", "a.json"]);
    let rb = r.spawn(&["run", "--only", "b", "--report", "b.json"]);
    for child in [ra, rb] {
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    let (a, b) = (r.json("a.json"), r.json("b.json"));
    let at = |rep: &serde_json::Value, k: &str| {
        chrono::DateTime::parse_from_rfc3339(rep["run"][k].as_str().unwrap()).unwrap()
    };
    // Both were in flight at once (the server answered neither until both asked): each
    // started before the other finished.
    assert!(at(&a, "started_at") < at(&b, "finished_at") && at(&b, "started_at") < at(&a, "finished_at"));
    let st = r.json(".vaktpost/state.json");
    assert_eq!(st["monitors"]["a"]["last_status"], "up", "{st}");
    assert_eq!(st["monitors"]["b"]["last_status"], "up", "{st}");
}

#[test]
fn wait_lives_inside_the_deadline() {
    // Regression: `--wait` was added to `--deadline` instead of ending with it.
    let s = site();
    let r = Run::new();
    r.write(
        "vaktpost.yml",
        &format!("monitors:\n  - name: a\n    type: http\n    url: http://127.0.0.1:{}/fail\n", s.port),
    );
    let t0 = std::time::Instant::now();
    let o = r.cmd(&["run", "--wait", "120s", "--deadline", "2s"], &[]);
    // Ten times the 2 s it may wait; an uncapped wait takes 120 s.
    assert!(t0.elapsed() < std::time::Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_eq!(code(&o), 1, "{}", text(&o));
    let n = notes(&r.report());
    assert!(
        n.iter().any(|n| n.contains("gate: still failing") && n.contains("cut short by the run's deadline")),
        "{n:?}"
    );
}
