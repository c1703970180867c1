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
    gh.gh.lock().unwrap().list_delay = std::time::Duration::from_millis(150);
    let t = target();
    t.status.store(500, Ordering::SeqCst);
    let a = Dir::new(&config(t.port, ""));
    let b = Dir::new(&config(t.port, ""));
    let env = env_with(&gh, &[]);
    let mut ca = a.cmd(&["run", "--fail-on", "never"], &env).spawn().unwrap();
    let mut cb = b.cmd(&["run", "--fail-on", "never"], &env).spawn().unwrap();
    assert!(ca.wait().unwrap().success());
    assert!(cb.wait().unwrap().success());
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
    assert!(gh.requests().iter().any(|r| r.method == "GET" && r.query.contains("page=2")), "pagination followed");
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
