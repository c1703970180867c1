//! The Slack, email and heartbeat channels through the binary: what a user sees when a
//! channel fails (Slack's documented webhook errors, SMTP refusals), that a failed
//! delivery keeps the alert for the next run and never prints a secret, `min_severity`
//! and `enabled: false`, `vaktpost test-alert --channel`, and `vaktpost merge` alerting
//! once with its documented flags.

use crate::alert_receiver::{validate_slack, Receiver, Reply};
use crate::smtp_sink::{self_signed, Listen, SmtpSink};

use std::path::PathBuf;
use std::process::{Command, Output};

const TOKEN: &str = "XyZsekret0token0in0path";
const PASSWORD: &str = "s3cret-Pw-9";

/// A temporary working directory the binary runs in (also used by `alerts_webhooks`).
pub(crate) struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    pub(crate) fn new() -> Dir {
        Dir { dir: tempfile::tempdir().expect("temp dir") }
    }
    pub(crate) fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    pub(crate) fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("write");
    }
    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
    pub(crate) fn json(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    /// Runs the binary off the async runtime, so the in-process receivers keep serving.
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(args).current_dir(self.dir.path()).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        tokio::task::spawn_blocking(move || c.output().expect("run vaktpost")).await.expect("join")
    }
    /// Every file vaktpost wrote here (state, report, summary, logs), as text.
    pub(crate) fn all_files(&self) -> String {
        let mut out = String::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n != "vaktpost.yml") {
                    out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()));
                }
            }
        }
        out
    }
}

pub(crate) fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

async fn targets() -> (Receiver, Receiver) {
    (Receiver::start(Vec::new(), Reply::new(500, "boom")).await, Receiver::ok().await)
}

/// A down monitor (endpoint_down, high), an up one with a medium finding of its own rule
/// (odd_status), and the given `alerts:` section; no in-run confirmation (no 3 s pause).
fn config(down: &Receiver, up: &Receiver, alerts: &str) -> String {
    format!(
        "defaults:\n  confirm: false\nmonitors:\n  - name: web_down\n    type: http\n    url: {}\n  - name: web_odd\n    type: http\n    url: {}\nrules:\n  - name: odd_status\n    condition: status_code == 200\n    message: \"{{name}} answered 200\"\n    severity: medium\n    monitors: [web_odd]\nalerts:\n{alerts}",
        down.url("/health"),
        up.url("/health"),
    )
}

fn slack_yaml(rx: &Receiver, extra: &str) -> String {
    format!("  slack:\n    webhook_url: {}\n{extra}", rx.url(&format!("/services/T000/B000/{TOKEN}")))
}

/// The Slack messages a receiver accepted (answered 200), each validated as Block Kit.
fn slack_messages(rx: &Receiver) -> Vec<serde_json::Value> {
    rx.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.status == 200)
        .map(|r| validate_slack(&r.body).expect("valid Block Kit"))
        .collect()
}

pub(crate) fn actions<'a>(report: &'a serde_json::Value, channel: &str) -> Vec<&'a serde_json::Value> {
    report["alerts"].as_array().map(|a| a.iter().filter(|x| x["channel"] == channel).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_4xx_errors_fail_once_with_what_to_do_and_keep_the_alert_for_the_next_run() {
    for (code, todo) in [
        ("invalid_payload", "vaktpost bug"),
        ("invalid_blocks", "vaktpost bug"),
        ("action_prohibited", "Slack admin"),
        ("channel_not_found", "live channel"),
        ("channel_is_archived", "point the webhook at a live channel"),
    ] {
        let (down, up) = targets().await;
        let slack = Receiver::start(vec![Reply::slack(code)], Reply::ok()).await;
        let d = Dir::new();
        d.write("vaktpost.yml", &config(&down, &up, &slack_yaml(&slack, "")));
        let o = d.run(&["run", "--summary", "summary.md"]).await;
        assert_eq!(o.status.code(), Some(1), "{code}: the high finding sets the exit code: {}", text(&o));
        assert_eq!(slack.requests().len(), 1, "{code}: a 4xx is not retried");
        let report = d.json("vaktpost-report.json");
        let failed = actions(&report, "slack");
        assert!(!failed.is_empty() && failed.iter().all(|a| a["action"] == "failed"), "{code}: {failed:?}");
        let err = failed[0]["error"].as_str().unwrap_or("");
        assert!(err.contains(code) && err.contains(todo), "{code}: {err}");
        assert!(d.read("summary.md").contains(code), "{code}: the summary shows the failure");
        let everything = format!("{}{}", text(&o), d.all_files());
        assert!(!everything.contains(TOKEN) && !everything.contains("/services/T000"), "{code}: webhook leaked");

        // The next run (the endpoint still down, so nothing new opens) sends what failed.
        let o = d.run(&["run"]).await;
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let msgs = slack_messages(&slack);
        assert_eq!(msgs.len(), 1, "{code}: the pending alert is delivered on the next run");
        let all = msgs[0].to_string();
        assert!(all.contains("web_down") && all.contains("odd_status"), "{code}: {all}");
        let report = d.json("vaktpost-report.json");
        assert!(actions(&report, "slack").iter().all(|a| a["action"] == "opened"), "{report}");
        // And it is not sent a third time.
        d.run(&["run"]).await;
        assert_eq!(slack_messages(&slack).len(), 1, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_rollup_error_and_429_are_retried_within_the_run() {
    let (down, up) = targets().await;
    let slack = Receiver::start(vec![Reply::slack("rollup_error"), Reply::rate_limited(1)], Reply::ok()).await;
    let d = Dir::new();
    d.write("vaktpost.yml", &config(&down, &up, &slack_yaml(&slack, "")));
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(slack.requests().len(), 3, "500, then 429, then delivered");
    assert!(slack.requests().iter().all(|r| r.rejected.is_none()), "each attempt is a valid message");
    assert_eq!(slack_messages(&slack).len(), 1);
    let report = d.json("vaktpost-report.json");
    assert!(actions(&report, "slack").iter().all(|a| a["action"] == "opened" && a["error"].is_null()), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_severity_and_enabled_false_choose_what_each_channel_gets() {
    let (down, up) = targets().await;
    let slack = Receiver::ok().await;
    let sink = SmtpSink::start(Listen::Plain);
    let email = format!(
        "  email:\n    smtp_url: smtp://127.0.0.1:{}?tls=none\n    from: monitor@acme.test\n    to: [oncall@acme.test]\n",
        sink.port
    );
    // Slack only high; email medium and up: both findings.
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &config(
            &down,
            &up,
            &format!("{}{email}    min_severity: medium\n", slack_yaml(&slack, "    min_severity: high\n")),
        ),
    );
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msgs = slack_messages(&slack);
    assert_eq!(msgs.len(), 1);
    let all = msgs[0].to_string();
    assert!(all.contains("web_down") && !all.contains("odd_status"), "Slack got only the high finding: {all}");
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "one email for what opened");
    let plain = mails[0]["plain"].as_str().unwrap_or("");
    assert!(plain.contains("web_down") && plain.contains("web_odd answered 200"), "{plain}");

    // Email only high: the medium finding is not mailed.
    let (slack2, sink2) = (Receiver::ok().await, SmtpSink::start(Listen::Plain));
    let d = Dir::new();
    let email2 = format!(
        "  email:\n    smtp_url: smtp://127.0.0.1:{}?tls=none\n    to: [oncall@acme.test]\n    min_severity: high\n",
        sink2.port
    );
    d.write("vaktpost.yml", &config(&down, &up, &format!("{}{email2}", slack_yaml(&slack2, "    enabled: false\n"))));
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(slack2.requests().is_empty(), "enabled: false sends nothing");
    let mails = sink2.messages();
    assert_eq!(mails.len(), 1);
    let plain = mails[0]["plain"].as_str().unwrap_or("");
    assert!(plain.contains("web_down") && !plain.contains("web_odd answered 200"), "{plain}");
    let report = d.json("vaktpost-report.json");
    assert!(actions(&report, "slack").is_empty(), "a disabled channel has no actions: {report}");

    // Email disabled too: nothing reaches the SMTP server.
    let sink3 = SmtpSink::start(Listen::Plain);
    let d = Dir::new();
    let email3 = format!(
        "  email:\n    smtp_url: smtp://127.0.0.1:{}?tls=none\n    to: [oncall@acme.test]\n    enabled: false\n",
        sink3.port
    );
    d.write("vaktpost.yml", &config(&down, &up, &email3));
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(sink3.messages().is_empty() && sink3.events().is_empty(), "{:?}", sink3.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_through_the_binary_lands_with_subject_and_body_and_never_shows_the_password() {
    let (down, up) = targets().await;
    let sink = SmtpSink::start(Listen::Plain);
    let d = Dir::new();
    let email = format!(
        "  email:\n    smtp_url: smtp://127.0.0.1:{}?tls=none\n    from: monitor@acme.test\n    to: [oncall@acme.test]\n    min_severity: high\n",
        sink.port
    );
    d.write("vaktpost.yml", &config(&down, &up, &email));
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "{}", text(&o));
    assert_eq!(mails[0]["subject"], "[vaktpost] 🔴 opened: web_down: Endpoint web_down is down");
    assert_eq!(mails[0]["rcpt_tos"], serde_json::json!(["oncall@acme.test"]));
    let plain = mails[0]["plain"].as_str().unwrap_or("");
    assert!(plain.contains("HIGH OPENED") && plain.contains("web_down (endpoint_down)"), "{plain}");

    // The documented submission form, against a server whose certificate is not trusted:
    // the delivery fails, and the password shows nowhere.
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, _) = self_signed(certs.path());
    let tls = SmtpSink::start(Listen::StartTls { cert: &cert, key: &key });
    let d = Dir::new();
    let email = format!(
        "  email:\n    smtp_url: smtp://alerts%40acme.test:{PASSWORD}@127.0.0.1:{}\n    to: [oncall@acme.test]\n",
        tls.port
    );
    d.write("vaktpost.yml", &config(&down, &up, &email));
    let o = d.run(&["run", "--summary", "summary.md", "--fail-on-alert-error"]).await;
    assert_eq!(o.status.code(), Some(3), "--fail-on-alert-error: {}", text(&o));
    let report = d.json("vaktpost-report.json");
    let failed = actions(&report, "email");
    assert!(!failed.is_empty() && failed.iter().all(|a| a["action"] == "failed"), "{report}");
    assert!(failed[0]["error"].as_str().unwrap_or("").to_lowercase().contains("certificate"), "{failed:?}");
    let everything = format!("{}{}", text(&o), d.all_files());
    assert!(!everything.contains(PASSWORD), "the SMTP password leaked");
    assert!(tls.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_alert_channel_sends_only_to_the_named_channel() {
    let slack = Receiver::ok().await;
    let beat = Receiver::ok().await;
    let sink = SmtpSink::start(Listen::Plain);
    let d = Dir::new();
    let up = Receiver::ok().await;
    let yaml = format!(
        "monitors:\n  - name: web\n    type: http\n    url: {}\nalerts:\n{}  email:\n    smtp_url: smtp://127.0.0.1:{}?tls=none\n    to: [oncall@acme.test]\n  heartbeat:\n    url: {}\n",
        up.url("/"),
        slack_yaml(&slack, ""),
        sink.port,
        beat.url("/ping/uuid-1")
    );
    d.write("vaktpost.yml", &yaml);
    let counts = || (slack.requests().len(), sink.messages().len(), beat.requests().len());

    let o = d.run(&["test-alert", "--channel", "slack"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(counts(), (1, 0, 0));
    assert!(slack_messages(&slack)[0].to_string().contains("TEST"));
    let o = d.run(&["test-alert", "--channel", "email"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(counts(), (1, 1, 0));
    assert!(sink.messages()[0]["subject"].as_str().unwrap_or("").contains("TEST"));
    let o = d.run(&["test-alert", "--channel", "heartbeat"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(counts(), (1, 1, 1));
    assert_eq!(beat.requests()[0].target, "/ping/uuid-1");
    let o = d.run(&["test-alert", "--channel", "all"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(counts(), (2, 2, 2));
    for ch in ["slack", "email", "heartbeat"] {
        assert!(text(&o).contains(ch), "one line per channel: {}", text(&o));
    }

    // One channel failing: exit 1, the others still sent, the failure named.
    let archived = Receiver::start(Vec::new(), Reply::slack("channel_is_archived")).await;
    let d = Dir::new();
    d.write("vaktpost.yml", &yaml.replace(&slack.url("/"), &archived.url("/")));
    let o = d.run(&["test-alert", "--channel", "all"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("channel_is_archived") && !text(&o).contains(TOKEN), "{}", text(&o));
    assert_eq!((sink.messages().len(), beat.requests().len()), (3, 3), "the other channels still sent");
    let o = d.run(&["test-alert", "--channel", "slack"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!((sink.messages().len(), beat.requests().len()), (3, 3), "--channel slack sends only to Slack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_alerts_once_for_a_finding_in_several_shard_reports_and_takes_its_flags() {
    let (down, up) = targets().await;
    let slack = Receiver::ok().await;
    let sink = SmtpSink::start(Listen::Plain);
    let beat = Receiver::ok().await;
    let d = Dir::new();
    let alerts = format!(
        "{}  email:\n    smtp_url: smtp://127.0.0.1:{}?tls=none\n    to: [oncall@acme.test]\n  heartbeat:\n    url: {}\n",
        slack_yaml(&slack, ""),
        sink.port,
        beat.url("/ping/merge")
    );
    d.write("vaktpost.yml", &config(&down, &up, &alerts));
    // Two shard reports that both carry the findings (a re-run shard, an overlapping matrix).
    for f in ["a.json", "b.json"] {
        let o = d.run(&["run", "--shard", "1/1", "--report", f, "--state", "shard-state"]).await;
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    }
    assert!(
        slack.requests().is_empty() && sink.messages().is_empty() && beat.requests().is_empty(),
        "shards send nothing"
    );

    // --dry-run: nothing sent, no state saved.
    let o = d.run(&["merge", "--dry-run", "--state", "merged-state", "--report", "dry.json", "a.json", "b.json"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(slack.requests().is_empty() && sink.messages().is_empty() && beat.requests().is_empty());
    assert!(!d.path("merged-state/state.json").exists(), "a dry run saves no state");

    let o = d
        .run(&[
            "merge",
            "--state",
            "merged-state",
            "--report",
            "merged.json",
            "--summary",
            "merged.md",
            "--fail-on",
            "never",
            "--deadline",
            "2m",
            "--log-file",
            "merge.log",
            "a.json",
            "b.json",
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "--fail-on never: {}", text(&o));
    let msgs = slack_messages(&slack);
    assert_eq!(msgs.len(), 1, "one Slack message for the merged findings");
    let all = msgs[0].to_string();
    assert!(all.contains("web_down") && all.contains("odd_status") && all.contains("2 alerts opened"), "{all}");
    let mails = sink.messages();
    assert_eq!(mails.len(), 1, "one email");
    assert_eq!(mails[0]["subject"], "[vaktpost] 2 alerts opened");
    assert_eq!(beat.requests().len(), 1, "one heartbeat");
    let report = d.json("merged.json");
    assert_eq!(actions(&report, "slack").len(), 2, "{report}");
    assert_eq!(actions(&report, "email").len(), 2, "{report}");
    assert!(d.read("merged.md").contains("merged from"), "{}", d.read("merged.md"));
    assert!(d.path("merged-state").is_dir(), "--state is where the merge keeps its state");
    assert!(d.read("merge.log").lines().count() >= 1, "--log-file appends the run");

    // Merging again: the alerts are open already; nothing is sent twice.
    let o = d.run(&["merge", "--state", "merged-state", "--report", "again.json", "a.json", "b.json"]).await;
    assert_eq!(o.status.code(), Some(1), "--fail-on high by default: {}", text(&o));
    assert_eq!((slack_messages(&slack).len(), sink.messages().len()), (1, 1));

    // --fail-on-alert-error: a merge whose Slack delivery fails exits 3.
    let archived = Receiver::start(Vec::new(), Reply::slack("channel_is_archived")).await;
    std::fs::write(
        d.path("vaktpost.yml"),
        d.read("vaktpost.yml").replace(&slack.url("/services"), &archived.url("/services")),
    )
    .expect("write");
    let o = d
        .run(&["merge", "--state", "fresh-state", "--report", "m3.json", "--fail-on-alert-error", "a.json", "b.json"])
        .await;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(archived.requests().len(), 1);
    assert!(!text(&o).contains(TOKEN));
}
