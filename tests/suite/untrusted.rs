//! Nothing a monitored system sends can crash a run, inject a workflow command or a live
//! Markdown link, or leak a secret: the real binary against a hostile target (a status page
//! whose incident title is an attack, an endpoint that echoes request headers, huge and
//! non-ASCII JSON values), with GitHub issues and Slack alerting on, in GitHub Actions mode.

use crate::github_fake;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use github_fake::FakeGithub;
use pulldown_cmark::{Event, Options, Parser, Tag};

/// The incident title a hostile status page serves: workflow commands after newlines and a
/// CR, a v1 `##[` command, Markdown and HTML that would render live, mentions, Slack
/// control sequences, a NUL, and a URL that ends in a non-ASCII character.
const HOSTILE_TITLE: &str = "outage @octocat <img src=x onerror=alert(1)> [click](https://evil.example/p) \
    ![i](https://evil.example/i.png)\n::stop-commands::pwned\n::error title=injected::gotcha\r::warning::cr \
    ##[error]v1 `tick` *em* | pipe <!channel> <@U123> <https://evil.example|slack> \u{0}nul see https://evil.example/café";

const PASSWORD: &str = "s3cr3t-pass";
const URL_TOKEN: &str = "tok-value-123";
const BEARER: &str = "bearer-tok-456";
/// base64("alice:s3cr3t-pass"): what the http check sends as `Authorization: Basic`.
const BASIC: &str = "YWxpY2U6czNjcjN0LXBhc3M=";

/// `/status.json` (the hostile page), `/echo` (request headers as JSON), `/long` (a 200 KB
/// JSON value), `/nonascii` (a URL value ending in `é`).
fn hostile() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut first = String::new();
                let _ = r.read_line(&mut first);
                let mut headers = serde_json::Map::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.insert(k.to_ascii_lowercase(), v.trim().into());
                    }
                }
                let path = first.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_string();
                let body = match path.as_str() {
                    "/status.json" => serde_json::json!({
                        "status": {"indicator": "major", "description": "Major outage"},
                        "components": [{"name": "API", "status": "major_outage"}],
                        "incidents": [{"name": HOSTILE_TITLE, "status": "investigating", "impact": "major"}],
                    }),
                    "/echo" => serde_json::Value::Object(headers),
                    "/long" => serde_json::json!({"v": "x".repeat(200 * 1024)}),
                    "/nonascii" => serde_json::json!({"link": "https://x.example/é"}),
                    _ => serde_json::json!({}),
                }
                .to_string();
                let _ = write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// A Slack-like receiver that records message bodies.
fn slack() -> (String, Arc<Mutex<Vec<String>>>) {
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
    (url, bodies)
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
    fn cmd(&self, args: &[&str], env: &[(String, String)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(args).current_dir(self.0.path()).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
    fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.path(p)).unwrap_or_default()
    }
}

fn all_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p, String::from_utf8_lossy(&b).into_owned()));
        }
    }
    out
}

/// Links, images and raw HTML that CommonMark (with GitHub's tables and strikethrough)
/// finds in `md`.
fn live_markdown(md: &str) -> Vec<String> {
    let mut found = Vec::new();
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match ev {
            Event::Start(Tag::Link { dest_url, .. }) => found.push(format!("link {dest_url}")),
            Event::Start(Tag::Image { dest_url, .. }) => found.push(format!("image {dest_url}")),
            Event::Html(h) | Event::InlineHtml(h) => found.push(format!("html {h}")),
            _ => {}
        }
    }
    found
}

fn config(port: u16, slack_url: &str) -> String {
    format!(
        r#"monitors:
  - name: upstream
    type: status_page
    url: http://127.0.0.1:{port}/status.json
    provider: statuspage
  - name: echo
    type: http
    url: http://alice:{PASSWORD}@127.0.0.1:{port}/echo?token={URL_TOKEN}
    json:
      /authorization: "nope"
  - name: long
    type: http
    url: http://127.0.0.1:{port}/long
    headers:
      Authorization: "Bearer {BEARER}"
    json:
      /v: "short"
  - name: nonascii
    type: http
    url: http://127.0.0.1:{port}/nonascii
    json:
      /link: "y"
alerts:
  github: {{}}
  slack:
    webhook_url: {slack_url}
"#
    )
}

// Regression: redaction sliced inside `é` (a URL ending in a non-ASCII character in a JSON
// value or a status-page title) and aborted the run; status-page text reached the console,
// summary, issues and Slack unescaped; the Basic value from URL userinfo leaked.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_target_cannot_crash_inject_or_leak_across_every_output() {
    let gh = FakeGithub::start().await;
    let port = hostile();
    let (slack_url, slack_bodies) = slack();
    let d = Dir::new(&config(port, &slack_url));
    let mut env = gh.env();
    env.push(("GITHUB_ACTIONS".into(), "true".into()));
    env.push(("GITHUB_STEP_SUMMARY".into(), d.path("summary.md").display().to_string()));
    let o = d.cmd(&["run", "--fail-on", "never", "--log-file", "logs/monitor.log"], &env);
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "no panic, a normal exit:\n{stdout}\n{stderr}");

    // Console: every line the runner could read as a command is one of ours.
    for line in stdout.lines().chain(stderr.lines()) {
        let t = line.trim_start();
        if t.starts_with("::") {
            let ours = t.starts_with("::add-mask::")
                || ["::error title=vaktpost ", "::warning title=vaktpost ", "::notice title=vaktpost "]
                    .iter()
                    .any(|p| t.starts_with(p));
            assert!(ours, "a remote workflow command reached the log: {line:?}");
        }
        assert!(!line.contains("##["), "a v1 workflow command reached the log: {line:?}");
    }
    assert!(stdout.contains("stop-commands::pwned"), "the text is shown, escaped: {stdout}");
    // Masks for every credential the URL carries, the Basic value included.
    for s in [PASSWORD, URL_TOKEN, BASIC, BEARER] {
        assert!(stdout.contains(&format!("::add-mask::{s}\n")), "no mask for {s}: {stdout}");
    }

    // Secrets: not in the report, the state, the history, the run log or the summary.
    let report: serde_json::Value = serde_json::from_str(&d.read("vaktpost-report.json")).unwrap();
    let echo = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "echo").unwrap();
    assert!(echo["error"]["message"].as_str().unwrap().contains("/authorization"), "{echo}");
    for (path, text) in all_files(d.0.path()) {
        if path.ends_with("vaktpost.yml") {
            continue;
        }
        for s in [PASSWORD, URL_TOKEN, BASIC, BEARER] {
            assert!(!text.contains(s), "{s} leaked into {}", path.display());
        }
    }
    for r in gh.requests() {
        for s in [PASSWORD, URL_TOKEN, BASIC] {
            assert!(!r.body.contains(s), "{s} sent to GitHub: {}", r.body);
        }
    }

    // Bounded: a 200 KB remote value becomes an error message of at most 2,000 characters.
    let long = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "long").unwrap();
    let msg = long["error"]["message"].as_str().unwrap();
    assert!(msg.chars().count() <= 2000 && msg.ends_with('…'), "{} chars", msg.chars().count());

    // Job summary: nothing live, no mention, and the monitors table keeps its columns.
    let md = d.read("summary.md");
    let live: Vec<String> =
        live_markdown(&md).into_iter().filter(|l| l.contains("evil") || l.contains("img")).collect();
    assert!(live.is_empty(), "{live:?}\n{md}");
    assert!(!md.contains("@octocat"), "{md}");
    assert!(md.contains("@\u{200b}octocat"), "{md}");

    // The issue: one clean title, a body with nothing live.
    let issues = gh.issues();
    let up = issues.iter().find(|i| i.body.contains("fingerprint=upstream/provider_degraded")).expect("issue");
    assert!(!up.title.chars().any(|c| c.is_control()), "{:?}", up.title);
    assert!(up.title.chars().count() <= 256, "{}", up.title.chars().count());
    let live = live_markdown(&up.body);
    assert!(live.iter().all(|l| l.starts_with("html <!-- vaktpost:fingerprint=")), "{live:?}\n{}", up.body);
    assert!(!up.body.contains("@octocat"), "{}", up.body);

    // Slack: no `<!channel>`, `<@U…>` or `<url|text>` formed from the remote text.
    let bodies = slack_bodies.lock().unwrap().clone();
    assert!(!bodies.is_empty());
    for b in &bodies {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        let text = v.to_string();
        for bad in ["<!channel>", "<@U123>", "<https://evil.example"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
    }
}

// Regression: `alerts.slack.webhook_url: "notaurl"` passed validate, then every run with a
// finding aborted.
#[test]
fn invalid_channel_urls_are_rejected_by_validate_at_their_line() {
    let d = Dir::new(
        "monitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:9/\nalerts:\n  slack:\n    webhook_url: notaurl\n  email:\n    smtp_url: \"http://user:mailpw123@mail.example\"\n    to: [a@example.com]\n  heartbeat:\n    url: \"ftp://hc.example/x\"\n",
    );
    let o = d.cmd(&["validate"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("vaktpost.yml:7:18: alerts.slack.webhook_url: is not a valid http(s) URL"), "{err}");
    assert!(err.contains("vaktpost.yml:9:15: alerts.email.smtp_url: must start with smtp:// or smtps://"), "{err}");
    assert!(err.contains("vaktpost.yml:12:10: alerts.heartbeat.url: is not a valid http(s) URL"), "{err}");
    assert!(!err.contains("mailpw123") && !err.contains("hc.example"), "{err}");

    // The same webhook from the environment: rejected too, and a run never starts.
    let d = Dir::new("monitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:9/\n");
    let o = d.cmd(&["run"], &[("SLACK_WEBHOOK_URL".into(), "notaurl".into())]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}

// Regression: an unparsable URL was echoed verbatim, password and `token=` included, by
// `validate` (and as the report's target by `run`).
#[test]
fn unparsable_url_is_shown_without_its_credentials() {
    let d = Dir::new(
        "monitors:\n  - name: api\n    type: http\n    url: \"https://alice:hunter2-pw@exa mple.com/x?token=tok-abc-999&page=2\"\n",
    );
    let o = d.cmd(&["validate"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("\"https://***@exa mple.com/x?token=***&page=2\""), "{err}");
    assert!(!err.contains("hunter2-pw") && !err.contains("tok-abc-999"), "{err}");
}

// Regression: a 100 KB monitor name made issue bodies pass GitHub's 65,536 characters.
#[test]
fn an_overlong_monitor_name_is_rejected() {
    let name = "n".repeat(100 * 1024);
    let d = Dir::new(&format!("monitors:\n  - name: {name}\n    type: http\n    url: http://127.0.0.1:9/\n"));
    let o = d.cmd(&["validate"], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("monitors[0].name: must be at most 200 characters"),
        "{}",
        err.chars().take(300).collect::<String>()
    );
}
