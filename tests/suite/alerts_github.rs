//! Issue-based alerting end to end: the real binary, a target that goes down and up, a
//! stateful fake of GitHub's issues API, and a Slack receiver.

use crate::github_fake;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use github_fake::{FakeGithub, TOKEN};

/// An HTTP target whose status code the test sets, and a Slack-like receiver that records bodies.
struct Target {
    port: u16,
    status: Arc<AtomicU16>,
}

fn target() -> Target {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let status = Arc::new(AtomicU16::new(200));
    let s = status.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let code = s.load(Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let _ = write!(c, "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            });
        }
    });
    Target { port, status }
}

struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

fn receiver() -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/services/T000/B000/slacksecretpath", l.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = bodies.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            b.lock().unwrap().push(String::from_utf8_lossy(&body).to_string());
            let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    Receiver { url, bodies }
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(config: &str) -> Dir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("vaktpost.yml"), config).unwrap();
        Dir(d)
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.path().join(p)
    }
    fn cmd(&self, args: &[&str], env: &[(String, String)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(args).current_dir(self.0.path()).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }
    fn run(&self, env: &[(String, String)]) -> (Output, serde_json::Value) {
        let o = self.cmd(&["run", "--fail-on", "never"], env).output().unwrap();
        let report = std::fs::read(self.path("vaktpost-report.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_default();
        (o, report)
    }
}

fn actions(report: &serde_json::Value, channel: &str) -> Vec<String> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["channel"] == channel)
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn config(port: u16, extra: &str) -> String {
    format!(
        "defaults:\n  confirm: {{pause: 10ms}}\nmonitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:{port}/health?token=url-secret-value-42\n    headers:\n      X-Api-Key: ${{API_KEY}}\n{extra}alerts:\n  github:\n    labels: [production]\n"
    )
}

fn env_with(gh: &FakeGithub, more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut e = gh.env();
    e.push(("API_KEY".into(), "header-secret-value-77".into()));
    for (k, v) in more {
        e.push((k.to_string(), v.to_string()));
    }
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn down_three_runs_then_up_keeps_one_issue_and_closes_it() {
    let gh = FakeGithub::start().await;
    let t = target();
    let slack = receiver();
    let cfg = format!("{}  slack:\n    webhook_url: {}\n", config(t.port, ""), slack.url);
    let d = Dir::new(&cfg);
    let env = env_with(&gh, &[]);
    t.status.store(503, Ordering::SeqCst);
    let mut gh_actions = vec![];
    for _ in 0..3 {
        let (o, rep) = d.run(&env);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        gh_actions.push(actions(&rep, "github"));
    }
    assert_eq!(gh_actions, [vec!["opened"], vec!["unchanged"], vec!["unchanged"]]);
    let issues = gh.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let i = &issues[0];
    assert_eq!(i.title, "🔴 api: Endpoint api is down");
    assert_eq!(i.labels, ["vaktpost", "severity:high", "production"]);
    assert!(i.body.contains("<!-- vaktpost:fingerprint=api/endpoint_down -->"), "{}", i.body);
    assert!(i.body.contains("HTTP 503"), "{}", i.body);
    assert_eq!(i.state, "open");

    // endpoint_down resolves after two passing runs: one lucky run does not close it.
    t.status.store(200, Ordering::SeqCst);
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["unchanged"]);
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["resolved"]);
    let i = &gh.issues()[0];
    assert_eq!(i.state, "closed");
    assert_eq!(i.state_reason.as_deref(), Some("completed"));
    assert_eq!(i.comments.len(), 1, "{:?}", i.comments);
    assert!(i.comments[0].starts_with("✅ Resolved after "), "{}", i.comments[0]);
    assert!(i.comments[0].contains("first seen"), "{}", i.comments[0]);

    // Up again: nothing more happens anywhere.
    let (_, rep) = d.run(&env);
    assert!(actions(&rep, "github").is_empty());
    assert_eq!(gh.issues().len(), 1);

    let bodies = slack.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one Slack message on open, one on resolve: {bodies:#?}");
    assert!(bodies[0].contains("Endpoint api is down"));
    assert!(bodies[1].contains("Resolved after"), "{}", bodies[1]);
    assert!(bodies[0].contains("https://github.com/acme/shop/issues/1"), "issue link in Slack: {}", bodies[0]);

    // Secrets never left the process in any request body.
    for r in gh.requests() {
        for s in ["url-secret-value-42", "header-secret-value-77", TOKEN] {
            assert!(!r.body.contains(s), "{s} in {} {}: {}", r.method, r.path, r.body);
        }
    }
    for b in &bodies {
        assert!(!b.contains("url-secret-value-42") && !b.contains("header-secret-value-77"), "{b}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flapping_endpoint_with_for_2_opens_nothing() {
    let gh = FakeGithub::start().await;
    let t = target();
    let d = Dir::new(
        &config(t.port, "rules:\n  - name: endpoint_down\n    for: 2\n")
            .replace("defaults:\n", "defaults:\n  flapping: false\n"),
    );
    let env = env_with(&gh, &[]);
    for code in [503, 200, 503, 200, 503, 200] {
        t.status.store(code, Ordering::SeqCst);
        let (o, _) = d.run(&env);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    assert!(gh.issues().is_empty());
    assert!(gh.requests().iter().all(|r| r.method == "GET"), "only listings");
}

#[tokio::test(flavor = "multi_thread")]
async fn flapping_endpoint_opens_one_issue_for_the_episode() {
    let gh = FakeGithub::start().await;
    let t = target();
    let d = Dir::new(&config(t.port, "rules:\n  - name: endpoint_down\n    for: 2\n"));
    let env = env_with(&gh, &[]);
    let mut gh_actions = vec![];
    for code in [503, 200, 503, 200, 503, 200, 503] {
        t.status.store(code, Ordering::SeqCst);
        let (o, rep) = d.run(&env);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        gh_actions.push(actions(&rep, "github"));
    }
    // The fourth state change within the hour (run 5) makes it flapping, which `for: 2`
    // cannot hide: one issue that stays open through the flips.
    let issues = gh.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].state, "open");
    assert!(issues[0].title.contains("api is flapping"), "{}", issues[0].title);
    assert!(gh_actions[..4].iter().all(|a| a.is_empty()), "{gh_actions:?}");
    assert_eq!(gh_actions[4], ["opened"], "{gh_actions:?}");
    assert!(gh_actions[5..].iter().all(|a| a == &["unchanged"]), "{gh_actions:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_runs_open_one_issue() {
    let gh = FakeGithub::start().await;
    // The first listing is held until the other run's listing arrives: the runs overlap.
    gh.gh.lock().unwrap().list_barrier = Some(2);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let a = Dir::new(&config(t.port, ""));
    let b = Dir::new(&config(t.port, ""));
    let env = env_with(&gh, &[]);
    let mut ca = a.cmd(&["run", "--fail-on", "never"], &env).spawn().unwrap();
    let mut cb = b.cmd(&["run", "--fail-on", "never"], &env).spawn().unwrap();
    assert!(ca.wait().unwrap().success());
    assert!(cb.wait().unwrap().success());
    assert!(gh.gh.lock().unwrap().barrier_met, "the two runs did not overlap");
    let open: Vec<_> = gh.issues().into_iter().filter(|i| i.state == "open").collect();
    assert_eq!(open.len(), 1, "{:#?}", gh.issues());
    // A later run from either state converges on the same single issue.
    let (_, rep) = a.run(&env);
    assert_eq!(actions(&rep, "github"), ["unchanged"]);
    assert_eq!(gh.issues().iter().filter(|i| i.state == "open").count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_500_on_create_leaves_no_duplicate_next_run() {
    let gh = FakeGithub::start().await;
    gh.fault("POST", "/repos/acme/shop/issues", 500, &[], "Server Error", 1);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&config(t.port, ""));
    let env = env_with(&gh, &[]);
    let (o, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["failed"], "{}", text(&o));
    assert!(rep["alerts"][0]["error"].as_str().unwrap().contains("HTTP 500"));
    let posts = gh.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "a create is never retried blindly");
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["opened"]);
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["unchanged"]);
    assert_eq!(gh.issues().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_alert_error_exits_3() {
    let gh = FakeGithub::start().await;
    gh.fault("POST", "/repos/acme/shop/issues", 502, &[], "Bad Gateway", 1);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&config(t.port, ""));
    let o = d.cmd(&["run", "--fail-on", "never", "--fail-on-alert-error"], &env_with(&gh, &[])).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_waited_out() {
    let gh = FakeGithub::start().await;
    let reset = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1).to_string();
    gh.fault(
        "GET",
        "/repos/acme/shop/issues",
        403,
        &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)],
        "API rate limit exceeded",
        1,
    );
    gh.fault(
        "POST",
        "/repos/acme/shop/issues",
        429,
        &[("retry-after", "1")],
        "You have exceeded a secondary rate limit",
        1,
    );
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&config(t.port, ""));
    let (o, rep) = d.run(&env_with(&gh, &[]));
    assert_eq!(actions(&rep, "github"), ["opened"], "{}\n{}", text(&o), rep["alerts"]);
    assert_eq!(gh.issues().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_issue_on_a_later_page_is_adopted_and_pull_requests_ignored() {
    let gh = FakeGithub::start().await;
    for n in 0..150 {
        gh.seed(
            &format!("other {n}"),
            &format!("x\n<!-- vaktpost:fingerprint=other{n}/endpoint_down -->"),
            &["vaktpost"],
            "open",
            false,
        );
    }
    // A pull request carrying the marker must never be taken for the alert's issue.
    gh.seed("PR", "<!-- vaktpost:fingerprint=api/endpoint_down -->", &["vaktpost"], "open", true);
    let ours = gh.seed(
        "🔴 api: Endpoint api is down",
        "old\n<!-- vaktpost:fingerprint=api/endpoint_down -->",
        &["vaktpost", "severity:high"],
        "open",
        false,
    );
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&config(t.port, ""));
    let (o, rep) = d.run(&env_with(&gh, &[]));
    let gha: Vec<&serde_json::Value> =
        rep["alerts"].as_array().unwrap().iter().filter(|a| a["channel"] == "github").collect();
    assert_eq!(gha.len(), 1, "{}", text(&o));
    assert_eq!(gha[0]["issue_number"], ours);
    assert_ne!(gha[0]["action"], "opened");
    // GitHub's Link header points at /repositories/{id}/issues; vaktpost follows it, and
    // asks for everything it relies on rather than GitHub's defaults (created, desc, 30).
    let id = gh.repo_id("acme/shop");
    let lists: Vec<_> =
        gh.requests().into_iter().filter(|r| r.method == "GET" && r.path.ends_with("/issues")).collect();
    assert!(
        lists.iter().any(|r| r.path == format!("/repositories/{id}/issues") && r.query.contains("page=2")),
        "pagination followed: {lists:#?}"
    );
    for q in ["state=open", "labels=vaktpost", "sort=created", "direction=asc", "per_page=100"] {
        assert!(lists.iter().all(|r| r.query.split('&').any(|kv| kv == q)), "{q} in every listing: {lists:#?}");
    }
    assert_eq!(gh.issues().len(), 151, "nothing created (PRs are not counted)");
}

#[tokio::test(flavor = "multi_thread")]
async fn maintenance_label_and_windows_suppress_alerts() {
    let gh = FakeGithub::start().await;
    let m = gh.seed("Planned DB upgrade", "", &["vaktpost", "vaktpost:maintenance"], "open", false);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&config(t.port, ""));
    let (o, rep) = d.run(&env_with(&gh, &[]));
    assert_eq!(actions(&rep, "all"), ["suppressed"], "{}", text(&o));
    assert_eq!(gh.issues().len(), 1);
    assert_eq!(rep["checks"][0]["status"], "down", "checks still run");
    // Maintenance over: the alert opens.
    gh.gh.lock().unwrap().issues.iter_mut().find(|i| i.number == m).unwrap().state = "closed".into();
    let (_, rep) = d.run(&env_with(&gh, &[]));
    assert_eq!(actions(&rep, "github"), ["opened"]);

    // A configured window covering every day, all day.
    let gh2 = FakeGithub::start().await;
    let d2 = Dir::new(&format!(
        "{}  maintenance:\n    - start: \"00:00\"\n      duration: 24h\n      monitors: [\"ap*\"]\n",
        config(t.port, "")
    ));
    let (_, rep) = d2.run(&env_with(&gh2, &[]));
    assert_eq!(actions(&rep, "all"), ["suppressed"]);
    assert!(gh2.issues().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn message_change_updates_the_issue_once() {
    let gh = FakeGithub::start().await;
    let t = target();
    let d =
        Dir::new(&config(t.port, "rules:\n  - name: endpoint_down\n    message: \"{name} answers {status_code}\"\n"));
    let env = env_with(&gh, &[]);
    t.status.store(500, Ordering::SeqCst);
    d.run(&env);
    t.status.store(503, Ordering::SeqCst);
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["updated"]);
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["unchanged"]);
    let i = &gh.issues()[0];
    assert_eq!(i.title, "🔴 api: api answers 503");
    let patches = gh.requests().iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(patches, 1);
}

// Regression: a severity change sent `labels` in the PATCH, which replaces the whole set,
// so labels people added (`acknowledged`, `vaktpost:maintenance`) disappeared.
#[tokio::test(flavor = "multi_thread")]
async fn severity_change_keeps_labels_people_added() {
    let gh = FakeGithub::start().await;
    let t = target();
    let cfg = format!(
        "defaults:\n  confirm: false\nmonitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:{}/health\n    expected_status: [200, 500, 503]\nrules:\n  - name: server_errors\n    condition: status_code >= 500.0\n    message: \"{{name}} answers {{status_code}}\"\n    severity: low\n    escalate:\n      - when: status_code == 503.0\n        severity: high\nalerts:\n  github:\n    labels: [production]\n",
        t.port
    );
    let d = Dir::new(&cfg);
    let env = env_with(&gh, &[]);
    t.status.store(500, Ordering::SeqCst);
    let (o, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["opened"], "{}", text(&o));
    assert_eq!(gh.issues()[0].labels, ["vaktpost", "severity:low", "production"]);
    // A triager labels the issue.
    gh.gh.lock().unwrap().issues[0].labels.extend(["acknowledged".to_string(), "team:payments".to_string()]);
    t.status.store(503, Ordering::SeqCst);
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["updated"]);
    let i = &gh.issues()[0];
    assert!(i.title.starts_with("🔴 api: api answers 503"), "{}", i.title);
    let mut labels = i.labels.clone();
    labels.sort();
    assert_eq!(labels, ["acknowledged", "production", "severity:high", "team:payments", "vaktpost"]);
    // No request replaced the label set.
    for r in gh.requests().iter().filter(|r| r.method == "PATCH") {
        assert!(!r.body.contains("\"labels\""), "PATCH with labels: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redact_targets_keeps_hosts_out_of_issue_bodies() {
    let gh = FakeGithub::start().await;
    let t = target();
    let cfg = config(t.port, "").replace("labels: [production]", "redact_targets: true");
    let d = Dir::new(&cfg);
    t.status.store(500, Ordering::SeqCst);
    d.run(&env_with(&gh, &[]));
    let body = &gh.issues()[0].body;
    assert!(!body.contains("127.0.0.1"), "{body}");
    assert!(!body.contains("http://"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_sends_nothing() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&config(t.port, ""));
    let o = d.cmd(&["run", "--dry-run", "--fail-on", "never"], &env_with(&gh, &[])).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(gh.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn test_alert_opens_and_closes_a_marked_issue() {
    let gh = FakeGithub::start().await;
    let d =
        Dir::new("monitors:\n  - name: site\n    type: http\n    url: https://site.example\nalerts:\n  github: {}\n");
    let o = d.cmd(&["test-alert"], &gh.env()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("github     ok      opened and closed issue #1"), "{}", text(&o));
    let i = &gh.issues()[0];
    assert!(i.title.contains("test alert"));
    assert_eq!(i.state, "closed");
    // A failing channel makes the command fail.
    gh.fault("POST", "/repos/acme/shop/issues", 500, &[], "boom", 1);
    let o = d.cmd(&["test-alert", "--channel", "github"], &gh.env()).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILED"));
    // Nothing configured is a usage error.
    let d2 = Dir::new("monitors:\n  - name: site\n    type: http\n    url: https://site.example\n");
    let o = d2.cmd(&["test-alert"], &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// Records request lines (method and path) and answers 200.
fn path_recorder() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            s.lock().unwrap().push(first.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
            let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
        }
    });
    (base, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeat_pings_every_run_and_fail_when_the_gate_trips() {
    let (base, seen) = path_recorder();
    let t = target();
    let d = Dir::new(&format!(
        "monitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:{}/\nalerts:\n  heartbeat:\n    url: {base}/ping/abc-123?rid=7\n",
        t.port
    ));
    let o = d.cmd(&["run"], &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    t.status.store(500, Ordering::SeqCst);
    let o = d.cmd(&["run"], &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = d.cmd(&["run", "--dry-run"], &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(*seen.lock().unwrap(), ["GET /ping/abc-123?rid=7", "GET /ping/abc-123/fail?rid=7"]);
}

/// A config whose `alerts.github` section has `keys` (indented lines, or "" for none).
fn gh_config(port: u16, rules: &str, keys: &str) -> String {
    format!(
        "defaults:\n  confirm: {{pause: 10ms}}\nmonitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:{port}/health\n{rules}alerts:\n  github:\n    labels: [production]\n{keys}"
    )
}

fn github_alerts(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["alerts"].as_array().unwrap().iter().filter(|a| a["channel"] == "github").cloned().collect()
}

fn error_of(a: &serde_json::Value) -> String {
    a["error"].as_str().unwrap_or("").to_string()
}

// The commonest real failure: the workflow's token lacks `issues: write`, GitHub answers
// 403 "Resource not accessible by integration".
#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_issues_write_says_to_grant_it_and_the_next_run_opens() {
    let gh = FakeGithub::start().await;
    gh.forbid_integration("POST", "/repos/acme/shop/issues", 1);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", ""));
    let env = env_with(&gh, &[("GITHUB_ACTIONS", "true")]);
    let (o, rep) = d.run(&env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let a = github_alerts(&rep);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["action"], "failed");
    let e = error_of(&a[0]);
    assert!(e.contains("HTTP 403: Resource not accessible by integration"), "{e}");
    assert!(e.contains("permissions: issues: write"), "{e}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines().any(|l| l.starts_with("::warning title=vaktpost github alert api/endpoint_down (failed)::")
            && l.contains("issues: write")),
        "an annotation says what to do: {out}"
    );
    assert!(gh.issues().is_empty());
    // The finding stayed pending: the next run opens the issue.
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["opened"]);
    assert_eq!(gh.issues().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn issues_disabled_is_reported_and_the_alert_opens_once_they_are_on() {
    let gh = FakeGithub::start().await;
    gh.gh.lock().unwrap().repos[0].has_issues = false;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", ""));
    let env = env_with(&gh, &[]);
    let (o, rep) = d.run(&env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let a = github_alerts(&rep);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["action"], "failed");
    let e = error_of(&a[0]);
    assert!(e.contains("HTTP 410: Issues are disabled for this repo"), "{e}");
    assert!(e.contains("issues are disabled in acme/shop"), "{e}");
    assert!(e.contains("alerts.github.repository"), "{e}");
    gh.gh.lock().unwrap().repos[0].has_issues = true;
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["opened"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_assignee_still_opens_the_issue_and_reports_the_assignee() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", "    assignees: [octocat, ghost-user]\n"));
    let (o, rep) = d.run(&env_with(&gh, &[]));
    let a = github_alerts(&rep);
    assert_eq!(a.len(), 1, "{}", text(&o));
    assert_eq!(a[0]["action"], "opened", "{a:?}");
    let e = error_of(&a[0]);
    assert!(e.contains("opened without assignees"), "{e}");
    assert!(e.contains("octocat, ghost-user") && e.contains("assignees invalid: ghost-user"), "{e}");
    let issues = gh.issues();
    assert_eq!(issues.len(), 1);
    assert!(issues[0].assignees.is_empty());
    let posts: Vec<_> =
        gh.requests().into_iter().filter(|r| r.method == "POST" && r.path.ends_with("/issues")).collect();
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert!(posts[0].body.contains("ghost-user") && !posts[1].body.contains("assignees"), "{posts:#?}");

    // Valid assignees are assigned on open.
    let gh2 = FakeGithub::start().await;
    let d2 = Dir::new(&gh_config(t.port, "", "    assignees: [octocat, monalisa]\n"));
    let (_, rep) = d2.run(&env_with(&gh2, &[]));
    assert_eq!(actions(&rep, "github"), ["opened"]);
    assert!(github_alerts(&rep)[0]["error"].is_null());
    assert_eq!(gh2.issues()[0].assignees, ["octocat", "monalisa"]);
}

// A primary rate limit whose reset is half an hour away: the run does not sleep past its
// deadline, says so, and the next run opens the issue.
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_past_the_deadline_is_not_waited_out_and_the_next_run_opens() {
    let gh = FakeGithub::start().await;
    let reset = chrono::Utc::now().timestamp() + 1800;
    gh.primary_rate_limit("POST", "/repos/acme/shop/issues", 403, reset, 1);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", ""));
    let env = env_with(&gh, &[]);
    let started = std::time::Instant::now();
    let (o, rep) = d.run(&env);
    assert!(started.elapsed() < std::time::Duration::from_secs(600), "it waited for the reset");
    let a = github_alerts(&rep);
    assert_eq!(a[0]["action"], "failed", "{}", text(&o));
    let e = error_of(&a[0]);
    assert!(e.contains("GitHub rate limit: HTTP 403 (API rate limit exceeded"), "{e}");
    assert!(e.contains("would pass the run's deadline") && e.contains("the next run tries again"), "{e}");
    assert_eq!(gh.count("POST", "/issues"), 1, "nothing was retried");
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["opened"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn issues_go_to_the_configured_repository() {
    let gh = FakeGithub::start().await;
    let ops = gh.add_repo("acme/ops", true);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", "    repository: acme/ops\n"));
    let env = env_with(&gh, &[]);
    let (o, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["opened"], "{}", text(&o));
    assert_eq!(gh.issues_in("acme/ops").len(), 1);
    assert!(gh.issues_in("acme/shop").is_empty());
    assert_eq!(github_alerts(&rep)[0]["url"], "https://github.com/acme/ops/issues/1");
    // (`GET /` is the reachability probe of the runner-outage check.)
    for r in gh.requests().into_iter().filter(|r| r.path != "/") {
        assert!(
            r.path.starts_with("/repos/acme/ops/") || r.path.starts_with(&format!("/repositories/{ops}/")),
            "{r:?}"
        );
    }
    // Resolution closes it there.
    t.status.store(200, Ordering::SeqCst);
    d.run(&env);
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["resolved"]);
    assert_eq!(gh.issues_in("acme/ops")[0].state, "closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn min_severity_keeps_lower_findings_out_of_issues() {
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let rules = "rules:\n  - name: server_errors\n    condition: status_code >= 500.0\n    severity: low\n";
    let mon = |cfg: String| cfg.replace("/health\n", "/health\n    expected_status: [200, 500]\n");
    let gh = FakeGithub::start().await;
    let d = Dir::new(&mon(gh_config(t.port, rules, "    min_severity: medium\n")));
    let (o, rep) = d.run(&env_with(&gh, &[]));
    assert!(
        rep["findings"].as_array().unwrap().iter().any(|f| f["fingerprint"] == "api/server_errors"),
        "{}",
        text(&o)
    );
    assert!(actions(&rep, "github").is_empty(), "{}", rep["alerts"]);
    assert!(gh.requests().iter().all(|r| r.method == "GET"), "nothing created");
    // The same finding at min_severity low opens an issue.
    let gh2 = FakeGithub::start().await;
    let d2 = Dir::new(&mon(gh_config(t.port, rules, "    min_severity: low\n")));
    let (_, rep) = d2.run(&env_with(&gh2, &[]));
    assert_eq!(actions(&rep, "github"), ["opened"]);
}

/// Moves the alert's last reminder (or first sighting) back by `days` in the state file.
fn age_alert(d: &Dir, fp: &str, days: i64) {
    let p = d.path(".vaktpost/state.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let then = (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    let rec = &mut v["alerts"][fp];
    assert!(rec.is_object(), "no alert {fp} in {v}");
    rec["last_reminded_at"] = serde_json::json!(then);
    rec["first_seen"] = serde_json::json!(then);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn remind_every_comments_once_per_period() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", "    remind_every: 1d\n"));
    let env = env_with(&gh, &[]);
    assert_eq!(actions(&d.run(&env).1, "github"), ["opened"]);
    assert_eq!(actions(&d.run(&env).1, "github"), ["unchanged"]);
    assert!(gh.issues()[0].comments.is_empty());
    age_alert(&d, "api/endpoint_down", 2);
    let (o, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["updated"], "{}", text(&o));
    let c = gh.issues()[0].comments.clone();
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("Still failing after 2d"), "{}", c[0]);
    assert_eq!(actions(&d.run(&env).1, "github"), ["unchanged"]);
    assert_eq!(gh.issues()[0].comments.len(), 1, "one reminder per period");

    // Without remind_every an old alert gets no reminder.
    let gh2 = FakeGithub::start().await;
    let d2 = Dir::new(&gh_config(t.port, "", ""));
    d2.run(&env_with(&gh2, &[]));
    age_alert(&d2, "api/endpoint_down", 2);
    assert_eq!(actions(&d2.run(&env_with(&gh2, &[])).1, "github"), ["unchanged"]);
    assert!(gh2.issues()[0].comments.is_empty());
}

/// Down, then up for two runs (the issue closes), then down again.
fn episode_twice(d: &Dir, t: &Target, env: &[(String, String)]) -> Vec<Vec<String>> {
    let mut out = vec![];
    for code in [500, 200, 200, 500] {
        t.status.store(code, Ordering::SeqCst);
        out.push(actions(&d.run(env).1, "github"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn reopen_reopens_the_last_closed_issue_and_new_opens_another() {
    let t = target();
    let gh = FakeGithub::start().await;
    let d = Dir::new(&gh_config(t.port, "", "    reopen: reopen\n"));
    let got = episode_twice(&d, &t, &env_with(&gh, &[]));
    assert_eq!(got, [vec!["opened"], vec!["unchanged"], vec!["resolved"], vec!["opened"]]);
    let issues = gh.issues();
    assert_eq!(issues.len(), 1, "reopened, not a new one: {issues:#?}");
    assert_eq!(issues[0].state, "open");
    assert_eq!(issues[0].state_reason.as_deref(), Some("reopened"));
    assert!(issues[0].comments.last().unwrap().starts_with("Reopened: "), "{:?}", issues[0].comments);

    let gh = FakeGithub::start().await;
    let d = Dir::new(&gh_config(t.port, "", "    reopen: new\n"));
    let got = episode_twice(&d, &t, &env_with(&gh, &[]));
    assert_eq!(got, [vec!["opened"], vec!["unchanged"], vec!["resolved"], vec!["opened"]]);
    let issues = gh.issues();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    assert_eq!((issues[0].state.as_str(), issues[1].state.as_str()), ("closed", "open"));
}

#[tokio::test(flavor = "multi_thread")]
async fn enabled_false_sends_nothing() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", "    enabled: false\n"));
    let (o, rep) = d.run(&env_with(&gh, &[]));
    assert_eq!(rep["findings"].as_array().unwrap().len(), 1, "{}", text(&o));
    assert!(actions(&rep, "github").is_empty());
    assert!(gh.requests().is_empty(), "{:#?}", gh.requests());
}

// README: "An issue that a person closed while the problem goes on is left closed."
#[tokio::test(flavor = "multi_thread")]
async fn an_issue_a_person_closed_stays_closed_while_the_problem_goes_on() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", "    reopen: reopen\n"));
    let env = env_with(&gh, &[]);
    assert_eq!(actions(&d.run(&env).1, "github"), ["opened"]);
    gh.edit(1, |i| {
        i.state = "closed".into();
        i.state_reason = Some("not_planned".into());
    });
    let writes = gh.requests().iter().filter(|r| r.method != "GET").count();
    for _ in 0..2 {
        let (o, rep) = d.run(&env);
        assert_eq!(actions(&rep, "github"), ["unchanged"], "{}", text(&o));
    }
    assert_eq!(gh.issues().len(), 1, "not recreated");
    assert_eq!(gh.issues()[0].state, "closed", "not reopened");
    assert_eq!(gh.requests().iter().filter(|r| r.method != "GET").count(), writes, "nothing written");
    // It resolves: nothing is posted on the closed issue.
    t.status.store(200, Ordering::SeqCst);
    d.run(&env);
    d.run(&env);
    assert!(gh.issues()[0].comments.is_empty(), "{:?}", gh.issues()[0].comments);
    assert_eq!(gh.requests().iter().filter(|r| r.method != "GET").count(), writes);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_close_is_retried_next_run_with_one_comment() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", ""));
    let env = env_with(&gh, &[]);
    d.run(&env);
    t.status.store(200, Ordering::SeqCst);
    d.run(&env);
    gh.forbid_integration("PATCH", "/repos/acme/shop/issues/1", 1);
    let (o, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["failed"], "{}", text(&o));
    assert!(error_of(&github_alerts(&rep)[0]).contains("issues: write"));
    assert_eq!(gh.issues()[0].state, "open");
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["resolved"]);
    let i = &gh.issues()[0];
    assert_eq!(i.state, "closed");
    assert_eq!(i.comments.len(), 1, "{:?}", i.comments);
    assert!(i.comments[0].starts_with("✅ Resolved after"));
}

// Regression: when the listing failed in the run where the problem resolved, the issue was
// forgotten and stayed open for good.
#[tokio::test(flavor = "multi_thread")]
async fn a_resolution_while_github_cannot_be_listed_closes_the_issue_next_run() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", ""));
    let env = env_with(&gh, &[]);
    d.run(&env);
    t.status.store(200, Ordering::SeqCst);
    d.run(&env);
    gh.forbid_integration("GET", "/repos/acme/shop/issues", 1);
    let (o, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["failed"], "{}", text(&o));
    assert_eq!(gh.issues()[0].state, "open");
    let (_, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["resolved"], "{}", rep["alerts"]);
    assert_eq!(gh.issues()[0].state, "closed");
    assert_eq!(gh.issues()[0].comments.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn input_github_token_wins_over_github_token() {
    let gh = FakeGithub::start().await;
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let d = Dir::new(&gh_config(t.port, "", ""));
    let mut env: Vec<(String, String)> = gh.env().into_iter().filter(|(k, _)| k != "GITHUB_TOKEN").collect();
    env.push(("GITHUB_TOKEN".into(), "ghs_theOtherTokenNotForIssues000".into()));
    env.push(("INPUT_GITHUB_TOKEN".into(), TOKEN.into()));
    let (o, rep) = d.run(&env);
    assert_eq!(actions(&rep, "github"), ["opened"], "{}", text(&o));
    let reqs: Vec<_> = gh.requests().into_iter().filter(|r| r.path != "/").collect();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(r.auth.as_deref(), Some(format!("Bearer {TOKEN}").as_str()), "{} {}", r.method, r.path);
    }
    // And GITHUB_TOKEN alone is used when the input is blank (GitHub sets unset inputs to "").
    let gh2 = FakeGithub::start().await;
    let mut env2 = gh2.env();
    env2.push(("INPUT_GITHUB_TOKEN".into(), "".into()));
    let (_, rep) = Dir::new(&gh_config(t.port, "", "")).run(&env2);
    assert_eq!(actions(&rep, "github"), ["opened"]);
}
