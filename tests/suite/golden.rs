//! Golden outputs: what a person reads — the job summary, the console, the GitHub issues
//! (title, body, resolve comment), the Slack message and the email — for scripted
//! situations (all up; one new high; a resolve; a medium memory finding; a flapping
//! monitor; 500 monitors), each replayed as whole runs on a virtual clock against the
//! GitHub fake, a Slack receiver and a real SMTP server. Timings, ports and versions are
//! stripped; the rest must match `tests/golden/<situation>.md` exactly.
//!
//! `VAKTPOST_BLESS=1 cargo test --test suite golden::` rewrites the files; review the diff.
//!
//! `summary_renders_in_chromium_light_and_dark` renders a three-day replay's summary as
//! GitHub does (GFM via pulldown-cmark, Mermaid from the npm package) in headless
//! Chromium and checks every chart drew; its screenshots land in `target/glance/`.

use crate::alert_receiver;
use crate::github_fake::FakeGithub;
use crate::smtp_sink::{self, SmtpSink};
use crate::support::services::FakeHttp;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};

type Clock = Arc<Mutex<DateTime<Utc>>>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
}

/// What the scripted targets answer; the test sets it between runs.
#[derive(Clone, Default)]
struct Knobs {
    /// `shop_api`'s status code.
    api: Arc<AtomicU16>,
    /// `memory_status`'s `percent`.
    memory: Arc<AtomicU64>,
    /// `catalog`'s delay in ms (the screenshot's slow monitor; 0 in the goldens).
    slow_ms: Arc<AtomicU64>,
}

/// The outside world of one situation: targets, GitHub, Slack, SMTP, a state directory
/// and a virtual clock.
struct Bench {
    knobs: Knobs,
    app: FakeHttp,
    gh: FakeGithub,
    slack: alert_receiver::Receiver,
    smtp: SmtpSink,
    dir: tempfile::TempDir,
    clock: Clock,
}

impl Bench {
    async fn start() -> Bench {
        smtp_sink::require_aiosmtpd();
        let knobs = Knobs::default();
        knobs.api.store(200, Ordering::SeqCst);
        knobs.memory.store(61, Ordering::SeqCst);
        let k = knobs.clone();
        let app = FakeHttp::start(move |req| match req.path.as_str() {
            "/api" => (k.api.load(Ordering::SeqCst), r#"{"ok": true}"#.into()),
            "/memory" => (200, format!(r#"{{"percent": {}}}"#, k.memory.load(Ordering::SeqCst))),
            "/catalog" => {
                let ms = k.slow_ms.load(Ordering::SeqCst);
                // sleep-ok: the screenshot's slow monitor takes real time to answer.
                std::thread::sleep(std::time::Duration::from_millis(ms));
                (200, "{}".into())
            }
            _ => (200, "{}".into()),
        });
        Bench {
            knobs,
            app,
            gh: FakeGithub::start().await,
            slack: alert_receiver::Receiver::ok().await,
            smtp: SmtpSink::start(smtp_sink::Listen::Plain),
            dir: tempfile::tempdir().unwrap(),
            clock: Arc::new(Mutex::new(t0())),
        }
    }

    /// The config: `monitors` (YAML list items) plus the three alert channels.
    fn config(&self, monitors: &str, extra: &str) -> vaktpost::config::Loaded {
        let yaml = format!(
            "defaults:\n  timeout: 5\n{extra}monitors:\n{monitors}alerts:\n  github: {{}}\n  slack:\n    webhook_url: {}\n  email:\n    smtp_url: smtp://127.0.0.1:{}?tls=none\n    to: [oncall@example.com]\n    from: vaktpost@example.com\n",
            self.slack.url("/services/T0/B0/golden"),
            self.smtp.port
        );
        vaktpost::load_str(&yaml, "vaktpost.yml", &BTreeMap::new()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn standard(&self) -> String {
        format!(
            "  - name: shop_api\n    type: http\n    url: {}\n  - name: web\n    type: http\n    url: {}\n  - name: memory_status\n    type: http\n    url: {}\n    extract: {{percent: /percent}}\n",
            self.app.url("/api"),
            self.app.url("/web"),
            self.app.url("/memory")
        )
    }

    fn ctx(&self) -> vaktpost::context::RunContext {
        let mut env: BTreeMap<String, String> = self.gh.env().into_iter().collect();
        env.insert("GITHUB_SERVER_URL".into(), "https://github.com".into());
        env.insert("GITHUB_RUN_ID".into(), "1234".into());
        let mut ctx = vaktpost::context::RunContext::with_env(env, self.dir.path().to_path_buf());
        let c = self.clock.clone();
        ctx.clock = Arc::new(move || *c.lock().unwrap());
        let c = self.clock.clone();
        ctx.sleep = Arc::new(move |d| {
            *c.lock().unwrap() += Duration::from_std(d).unwrap();
            Box::pin(async {})
        });
        ctx
    }

    /// One scheduled run `every` after the last; what it produced.
    async fn run(&self, loaded: &vaktpost::config::Loaded, every: Duration) -> Produced {
        *self.clock.lock().unwrap() += every;
        let (slack_before, mail_before) = (self.slack.requests().len(), self.smtp.messages().len());
        let ctx = self.ctx();
        let opts = vaktpost::RunOptions::new(&ctx, &loaded.config);
        let out = vaktpost::run(&ctx, loaded, &opts, &|_, _| {}).await.unwrap();
        vaktpost::write_outputs(&ctx, loaded, &opts, &out).unwrap();
        let rows = loaded.config.report.max_summary_rows.unwrap_or(500);
        Produced {
            summary: vaktpost::report::summary::render(&out.report, None, rows),
            console: vaktpost::report::console::render(&out.report),
            slack: self.slack.requests()[slack_before..]
                .iter()
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect(),
            email: self.smtp.messages()[mail_before..].to_vec(),
            report: out.report,
        }
    }
}

struct Produced {
    report: vaktpost::report::Report,
    summary: String,
    console: String,
    slack: Vec<serde_json::Value>,
    email: Vec<serde_json::Value>,
}

/// Every mrkdwn and plain text of a Slack payload, in order.
fn slack_texts(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let (Some(serde_json::Value::String(t)), Some(_)) = (m.get("text"), m.get("type")) {
                out.push(t.clone());
            }
            for (k, x) in m {
                if k != "text" || !x.is_string() {
                    slack_texts(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| slack_texts(x, out)),
        _ => {}
    }
}

/// One situation's outputs as one Markdown document: the last run's summary and console,
/// every issue, and the Slack messages and emails the last run sent.
fn document(b: &Bench, p: &Produced) -> String {
    let mut d = String::new();
    d.push_str("<!-- Golden output of tests/suite/golden.rs; VAKTPOST_BLESS=1 rewrites it. -->\n\n");
    d.push_str("# Job summary\n\n");
    d.push_str(&p.summary);
    d.push_str("\n# Console\n\n```text\n");
    d.push_str(&p.console);
    d.push_str("```\n\n# GitHub issues\n\n");
    let issues = b.gh.issues();
    if issues.is_empty() {
        d.push_str("(none)\n\n");
    }
    for i in issues.iter().take(5) {
        d.push_str(&format!("## #{} ({}) {}\n\n", i.number, i.state, i.title));
        d.push_str("```markdown\n");
        d.push_str(&i.body);
        d.push_str("```\n\n");
        for c in &i.comments {
            d.push_str(&format!("Comment:\n\n```markdown\n{c}\n```\n\n"));
        }
    }
    if issues.len() > 5 {
        d.push_str(&format!("…and {} more issues\n\n", issues.len() - 5));
    }
    d.push_str("# Slack (this run)\n\n");
    if p.slack.is_empty() {
        d.push_str("(nothing sent)\n\n");
    }
    for m in &p.slack {
        d.push_str(&format!("Fallback text:\n\n```text\n{}\n```\n\nBlocks:\n\n", m["text"].as_str().unwrap_or("")));
        let mut texts = Vec::new();
        slack_texts(&m["blocks"], &mut texts);
        slack_texts(&m["attachments"], &mut texts);
        for t in texts {
            d.push_str(&format!("```text\n{t}\n```\n\n"));
        }
    }
    d.push_str("# Email (this run)\n\n");
    if p.email.is_empty() {
        d.push_str("(nothing sent)\n\n");
    }
    for m in &p.email {
        d.push_str(&format!(
            "Subject: {}\n\n```text\n{}\n```\n\n",
            m["subject"].as_str().unwrap_or(""),
            m["plain"].as_str().unwrap_or("").replace("\r\n", "\n").trim_end()
        ));
    }
    strip(&d, b.app.port, gh_port(&b.gh))
}

fn gh_port(gh: &FakeGithub) -> Option<u16> {
    let url = gh.env().into_iter().find(|(k, _)| k == "GITHUB_API_URL")?.1;
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

/// Timings, ports and the version out, so the document is the same on every machine.
fn strip(s: &str, app_port: u16, gh_port: Option<u16>) -> String {
    use regex::Regex;
    let mut s = s.replace(&format!("127.0.0.1:{app_port}"), "127.0.0.1:<app>");
    if let Some(p) = gh_port {
        s = s.replace(&format!("127.0.0.1:{p}"), "127.0.0.1:<github>");
    }
    s = s.replace(env!("CARGO_PKG_VERSION"), "<version>");
    // Which monitors are charted depends on measured times: the section is checked by
    // `summary_renders_in_chromium_light_and_dark` instead.
    let chart = Regex::new(r"(?s)### Response time, last 24h\n.*?\n(### |<sub>)").unwrap();
    s = chart.replace_all(&s, "### Response time, last 24h\n\n(timings: not compared)\n\n$1").into_owned();
    let t = Regex::new(r"\b\d+(\.\d+)?(ms|s)\b").unwrap();
    let s = t.replace_all(&s, "<t>").into_owned();
    // Timing metrics by name (`response_time_ms: 9.53`, `| \`p95_ms\` | 9.53 |`).
    let named = Regex::new(r"(_ms`?(?: \|)?:? )\d+(\.\d+)?").unwrap();
    let s = named.replace_all(&s, "$1<t>").into_owned();
    // Console columns are padded to the widest metric, which holds a timing.
    let pad = Regex::new(r"<t>( +)").unwrap();
    pad.replace_all(&s, "<t> ").into_owned()
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.md"))
}

/// Compares `doc` with `tests/golden/<name>.md` (or writes it under `VAKTPOST_BLESS=1`).
fn check_golden(name: &str, doc: &str) {
    let path = golden_path(name);
    if std::env::var_os("VAKTPOST_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, doc).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("{} is missing: run `VAKTPOST_BLESS=1 cargo test --test suite golden::` and review it", path.display())
    });
    if want != doc {
        let line = want
            .lines()
            .zip(doc.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(doc.lines().count()));
        panic!(
            "{} differs from this run's output at line {}:\n  golden: {:?}\n  now:    {:?}\nIf the change is meant, rerun with VAKTPOST_BLESS=1 and review the diff.",
            path.display(),
            line + 1,
            want.lines().nth(line).unwrap_or("(end)"),
            doc.lines().nth(line).unwrap_or("(end)")
        );
    }
}

const EVERY: Duration = Duration::minutes(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_all_up() {
    let b = Bench::start().await;
    let loaded = b.config(&b.standard(), "");
    b.run(&loaded, EVERY).await;
    let p = b.run(&loaded, EVERY).await;
    assert!(
        p.summary.starts_with("## 🟢 vaktpost: all 3 monitors up\n\n**No change since the last run**"),
        "{}",
        p.summary
    );
    assert!(p.console.starts_with("🟢 all 3 monitors up\nno change since the last run\n"), "{}", p.console);
    assert!(p.slack.is_empty() && p.email.is_empty());
    check_golden("all_up", &document(&b, &p));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_one_new_high() {
    let b = Bench::start().await;
    let loaded = b.config(&b.standard(), "");
    b.run(&loaded, EVERY).await;
    b.knobs.api.store(503, Ordering::SeqCst);
    let p = b.run(&loaded, EVERY).await;
    assert!(p.summary.starts_with("## 🔴 vaktpost: 1 open problem: Endpoint shop_api is down\n"), "{}", p.summary);
    assert!(p.summary.contains("**Since the last run: 1 opened (shop_api) · shop_api up → down**"), "{}", p.summary);
    let issue = &b.gh.issues()[0];
    // The issue leads with the state, then what the check saw: the error before any metric.
    let body_lines: Vec<&str> = issue.body.lines().collect();
    assert!(body_lines[0].starts_with("🔴 **Endpoint shop_api is down** — `shop_api` failing since"), "{}", issue.body);
    let error_row = issue.body.find("| Error |").unwrap();
    assert!(error_row < issue.body.find("| Target |").unwrap(), "{}", issue.body);
    assert_eq!(p.slack.len(), 1);
    assert_eq!(p.email.len(), 1);
    check_golden("one_new_high", &document(&b, &p));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_a_resolve() {
    let b = Bench::start().await;
    let loaded = b.config(&b.standard(), "");
    b.run(&loaded, EVERY).await;
    b.knobs.api.store(503, Ordering::SeqCst);
    for _ in 0..36 {
        b.run(&loaded, EVERY).await;
    }
    b.knobs.api.store(200, Ordering::SeqCst);
    // endpoint_down resolves after two passing runs.
    b.run(&loaded, EVERY).await;
    let p = b.run(&loaded, EVERY).await;
    assert!(
        p.summary.starts_with("## 🟢 vaktpost: all 3 monitors up\n\n**Since the last run: 1 resolved (shop_api)**"),
        "{}",
        p.summary
    );
    assert!(p.summary.contains("- ✅ resolved after 3h 10m: `shop_api` Endpoint shop_api is down"), "{}", p.summary);
    let issue = &b.gh.issues()[0];
    assert_eq!(issue.state, "closed");
    assert!(
        issue.comments[0].starts_with("✅ Resolved after 3h 10m: `endpoint_down` no longer holds for `shop_api`."),
        "{:?}",
        issue.comments
    );
    check_golden("a_resolve", &document(&b, &p));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_a_medium_memory_finding() {
    let b = Bench::start().await;
    let loaded = b.config(&b.standard(), "");
    b.run(&loaded, EVERY).await;
    b.knobs.memory.store(93, Ordering::SeqCst);
    // high_memory needs two runs over the line.
    b.run(&loaded, EVERY).await;
    let p = b.run(&loaded, EVERY).await;
    // Regression: the headline said "all 3 monitors up" while this finding was open.
    assert!(
        p.summary.starts_with("## 🟠 vaktpost: 1 open problem: memory_status: Memory usage is 93%\n"),
        "{}",
        p.summary
    );
    assert!(p.console.starts_with("🟠 1 open problem: memory_status: Memory usage is 93%\n"), "{}", p.console);
    // Regression: the alert listed a dozen generic metrics and cut off before `percent`.
    let mut texts = Vec::new();
    slack_texts(&p.slack[0]["attachments"], &mut texts);
    let section = &texts[0];
    let details: Vec<&str> = section.lines().filter(|l| l.starts_with("• ")).collect();
    assert_eq!(details.first(), Some(&"• percent: 93"), "{section}");
    assert!(details.len() <= 8 && !section.contains("more details"), "{section}");
    let body = &b.gh.issues()[0].body;
    let table = body.find("| | |").unwrap();
    assert!(body[table..].lines().nth(2).unwrap().starts_with("| `percent` | 93 |"), "{body}");
    let plain = p.email[0]["plain"].as_str().unwrap();
    let first_detail =
        plain.lines().find(|l| l.starts_with("    ") && l.contains(": ") && !l.contains("First seen")).unwrap();
    assert_eq!(first_detail.trim(), "percent: 93", "{plain}");
    check_golden("medium_memory", &document(&b, &p));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_a_flapping_monitor() {
    let b = Bench::start().await;
    let loaded = b.config(&b.standard(), "");
    b.run(&loaded, EVERY).await;
    let mut started = None;
    for i in 0..12u16 {
        b.knobs.api.store(if i % 2 == 0 { 503 } else { 200 }, Ordering::SeqCst);
        let p = b.run(&loaded, EVERY).await;
        if !p.report.changes.flapping.is_empty() {
            started = Some(p);
            break;
        }
    }
    let p = started.expect("shop_api starts flapping within 12 runs");
    assert!(p.summary.contains("1 started flapping (shop_api)"), "{}", p.summary);
    assert!(p.summary.contains("- 🔁 started flapping: `shop_api`"), "{}", p.summary);
    check_golden("flapping", &document(&b, &p));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_500_monitors() {
    let b = Bench::start().await;
    let mut monitors = String::new();
    for i in 0..500 {
        let path = if i % 167 == 42 { "/api" } else { "/web" };
        monitors.push_str(&format!("  - name: svc_{i:03}\n    type: http\n    url: {}\n", b.app.url(path)));
    }
    // No confirmation: 500 concurrent re-check pauses on one virtual clock would move the
    // sample times by the order they happen to run in.
    let loaded = b.config(&monitors, "  confirm: false\nreport:\n  max_summary_rows: 20\n");
    b.run(&loaded, EVERY).await;
    b.knobs.api.store(503, Ordering::SeqCst);
    let p = b.run(&loaded, EVERY).await;
    assert!(
        p.summary.starts_with("## 🔴 vaktpost: 3 open problems: Endpoint svc_042 is down (and 2 more)\n"),
        "{}",
        p.summary
    );
    assert!(p.summary.contains("480 more monitors not shown"), "{}", p.summary);
    assert!(p.summary.len() < 64 * 1024, "{} bytes", p.summary.len());
    check_golden("500_monitors", &document(&b, &p));
}

// ---------------------------------------------------------------------------------------
// The summary as GitHub renders it, in headless Chromium.

/// Chromium: `VAKTPOST_CHROMIUM`, else the usual paths; panics with how to install it.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("VAKTPOST_CHROMIUM") {
        return p.into();
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "these tests need Chromium: `apt-get install chromium` (or set VAKTPOST_CHROMIUM); scripts/test.sh installs it"
    );
}

/// The pinned Mermaid bundle, installed by scripts/test.sh.
pub const MERMAID_PIN: &str = "11.12.0";

/// `mermaid.min.js`: `VAKTPOST_MERMAID`, else `~/.cache/vaktpost/mermaid-<pin>`; panics with
/// how to install it.
fn mermaid_js() -> PathBuf {
    if let Some(p) = std::env::var_os("VAKTPOST_MERMAID") {
        return p.into();
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let p = home.join(format!(".cache/vaktpost/mermaid-{MERMAID_PIN}/node_modules/mermaid/dist/mermaid.min.js"));
    if p.exists() {
        return p;
    }
    panic!(
        "these tests need Mermaid {MERMAID_PIN}: `npm install --prefix ~/.cache/vaktpost/mermaid-{MERMAID_PIN} mermaid@{MERMAID_PIN}` (or set VAKTPOST_MERMAID to its dist/mermaid.min.js); scripts/test.sh installs it"
    );
}

/// The summary Markdown as GitHub shows it: GFM (tables, strikethrough, task lists) to
/// HTML, ```mermaid blocks as `<pre class="mermaid">` run by the local Mermaid, GitHub's
/// colours for light or dark.
pub fn github_html(md: &str, mermaid: &Path, dark: bool) -> String {
    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut in_mermaid = false;
    let events = Parser::new_ext(md, opts).map(|e| match e {
        Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if &*lang == "mermaid" => {
            in_mermaid = true;
            Event::Html("<pre class=\"mermaid\">".into())
        }
        Event::End(TagEnd::CodeBlock) if in_mermaid => {
            in_mermaid = false;
            Event::Html("</pre>\n".into())
        }
        Event::Text(t) if in_mermaid => Event::Html(html_escape(&t).into()),
        other => other,
    });
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, events);
    let (bg, fg, border, muted, link, theme) = if dark {
        ("#0d1117", "#f0f6fc", "#3d444d", "#9198a1", "#4493f8", "dark")
    } else {
        ("#ffffff", "#1f2328", "#d1d9e0", "#59636e", "#0969da", "default")
    };
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>vaktpost summary</title>
<style>
body {{ background: {bg}; color: {fg}; font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; font-size: 14px; line-height: 1.5; margin: 0; padding: 24px 32px; }}
h2 {{ font-size: 1.5em; border-bottom: 1px solid {border}; padding-bottom: .3em; }}
h3 {{ font-size: 1.25em; margin-top: 24px; }}
table {{ border-collapse: collapse; display: block; overflow: auto; }}
th, td {{ border: 1px solid {border}; padding: 6px 13px; }}
code {{ background: rgba(129,139,152,.15); border-radius: 6px; padding: .2em .4em; font-size: 85%; }}
sub {{ color: {muted}; }}
a {{ color: {link}; }}
pre.mermaid {{ background: transparent; }}
</style></head><body>
{body}
<script src="file://{mermaid}"></script>
<script>mermaid.initialize({{ startOnLoad: true, theme: "{theme}" }});</script>
</body></html>"#,
        mermaid = mermaid.display()
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Runs Chromium headless on `page` with `args`; its stdout.
fn chromium_run(page: &Path, args: &[String]) -> String {
    let out = std::process::Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The issue's three simulated days: four monitors of different scales (a 3 ms web page,
/// a 300 ms catalog), a 3-hour outage of the shop API on day two, and a memory spike at
/// the end, one run an hour.
async fn three_days(b: &Bench) -> Produced {
    let monitors = format!("{}  - name: catalog\n    type: http\n    url: {}\n", b.standard(), b.app.url("/catalog"));
    let loaded = b.config(&monitors, "");
    let runs = 3 * 24;
    let mut last = None;
    for k in 0..runs {
        let now = t0() + Duration::hours(k + 1);
        let down = now >= t0() + Duration::hours(30) && now < t0() + Duration::hours(33);
        b.knobs.api.store(if down { 503 } else { 200 }, Ordering::SeqCst);
        b.knobs.memory.store(if k >= runs - 2 { 93 } else { 55 + (k as u64 * 7) % 20 }, Ordering::SeqCst);
        // The catalog is slow by day.
        let hour = (now.timestamp() / 3600) % 24;
        b.knobs.slow_ms.store(if (8..20).contains(&hour) { 260 } else { 120 }, Ordering::SeqCst);
        last = Some(b.run(&loaded, Duration::hours(1)).await);
    }
    last.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_renders_in_chromium_light_and_dark() {
    let (chromium_bin, mermaid) = (chromium(), mermaid_js());
    let _ = chromium_bin;
    let b = Bench::start().await;
    let p = three_days(&b).await;
    let md = &p.summary;
    assert!(md.starts_with("## 🟠 vaktpost: 1 open problem: memory_status: Memory usage is 93%\n"), "{md}");
    // Each slow monitor has its own chart and scale, titled with its name (no legend).
    // Regression: one chart with a 300 ms line and three 3 ms lines on the floor. Now the
    // slow monitor has its own chart, titled with its name (no legend), and the fast ones
    // are named as not charted.
    let charts = md.matches("```mermaid").count();
    assert_eq!(charts, 1, "{md}");
    assert!(md.contains("title \"catalog: hourly median"), "{md}");
    assert!(md.contains("3 faster monitors not charted"), "{md}");
    assert!(!md.contains("Lines in order"), "{md}");
    // Top errors show a real message, not the normaliser's key.
    assert!(md.contains("HTTP 503"), "{md}");
    assert!(!md.contains("HTTP # "), "{md}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/glance");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("summary.md"), md).unwrap();
    for (mode, dark) in [("light", false), ("dark", true)] {
        let page = out.join(format!("summary-{mode}.html"));
        std::fs::write(&page, github_html(md, &mermaid, dark)).unwrap();
        let mut args = vec![];
        if dark {
            args.push("--force-dark-mode".to_string());
        }
        let dom = chromium_run(&page, &[args.clone(), vec!["--dump-dom".into()]].concat());
        let drawn = dom.matches("aria-roledescription=\"xychart\"").count();
        assert_eq!(drawn, charts, "{mode}: {drawn} of {charts} charts drew");
        assert!(!dom.contains("Syntax error"), "{mode}: Mermaid could not parse a chart");
        let png = out.join(format!("summary-{mode}.png"));
        let _ = std::fs::remove_file(&png);
        chromium_run(
            &page,
            &[args, vec![format!("--screenshot={}", png.display()), "--window-size=1000,2000".into()]].concat(),
        );
        assert!(std::fs::metadata(&png).map(|m| m.len() > 10_000).unwrap_or(false), "{mode}: no screenshot");
    }
}
