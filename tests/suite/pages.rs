//! The status site (`vaktpost pages`): HTML rendered from a generated 90-day history with
//! gaps, incidents and maintenance (a snapshot, timings fixed by a fixed clock), badges
//! against the shields.io endpoint schema, `api/v2/summary.json` read back by vaktpost's own
//! `status_page` check over HTTP, hostile names escaped, targets kept off a redacted site,
//! bad input, and the site in a real browser (headless Chromium) at phone and desktop
//! widths in light and dark mode.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use vaktpost::checks::Status;
use vaktpost::config::{Loaded, Severity};
use vaktpost::pages::{self, Files, Inputs, Paths};
use vaktpost::redact::Redactor;
use vaktpost::state::agg::History;
use vaktpost::state::history::{self, HistoryConfig, Sample};
use vaktpost::state::{AlertRecord, MonitorState, ResolvedAlert, State};

use crate::support;

/// The fixed "now" of every generated site: timings in the HTML are all derived from it.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap()
}

fn sample(m: &str, t: i64, s: Status, rt: f64) -> Sample {
    Sample {
        m: m.into(),
        t,
        s,
        rt: Some(rt),
        n: 1,
        e: u32::from(s == Status::Down),
        ek: (s == Status::Down).then(|| "timeout".into()),
        em: (s == Status::Down).then(|| "timed out after # ms".into()),
        mem: BTreeMap::new(),
        lim: None,
        kh: None,
        km: None,
        er: None,
    }
}

fn config_yaml(extra_monitors: &str, extra: &str) -> String {
    format!(
        r#"monitors:
  - name: api
    type: http
    url: https://api.internal.corp.example/health
    description: The public API
  - name: web
    type: http
    url: https://www.internal.corp.example/
  - name: db
    type: ssl
    host: db.internal.corp.example
    port: 5432
  - name: newcomer
    type: http
    url: https://new.internal.corp.example/
  - name: never_checked
    type: http
    url: https://never.internal.corp.example/
  - name: secret_backend
    type: http
    url: https://secret.internal.corp.example/
    public: false
{extra_monitors}alerts:
  maintenance:
    - start: "2026-06-30T11:00"
      duration: 2h
      monitors: [db]
      reason: Database upgrade
    - start: "03:00"
      duration: 30m
      weekdays: [sat]
      reason: Weekly restart
pages:
  title: Example status
  description: Is it us or is it you?
  links:
    - name: Home
      url: https://example.com/
{extra}"#
    )
}

/// 90 days of 30-minute samples: `api` has a 6-day gap (40–45 days ago) and a 3-hour
/// outage 20 days ago, `web` a degraded day 10 days ago, `db` is slow, `newcomer` only
/// has 10 days, `never_checked` nothing; plus the hidden `secret_backend`.
fn history_samples(now: DateTime<Utc>, extra: &[&str]) -> Vec<Sample> {
    let step = 30 * 60_000;
    let end = now.timestamp_millis();
    let start = end - 90 * 86_400_000 + step;
    let mut out = Vec::new();
    let mut t = start - start.rem_euclid(step);
    let mut k = 0u64;
    while t <= end {
        let age_days = (end - t) / 86_400_000;
        let jitter = ((k.wrapping_mul(2654435761) >> 7) % 40) as f64;
        if !(40..=45).contains(&age_days) {
            let ago = end - t;
            let down = (20 * 86_400_000..20 * 86_400_000 + 3 * 3_600_000).contains(&ago) || ago < 42 * 60_000;
            out.push(sample("api", t, if down { Status::Down } else { Status::Up }, 80.0 + jitter));
        }
        let web = if age_days == 10 { Status::Degraded } else { Status::Up };
        out.push(sample("web", t, web, 120.0 + jitter * 2.0));
        out.push(sample("db", t, Status::Up, 900.0 + jitter * 10.0));
        if age_days < 10 {
            out.push(sample("newcomer", t, Status::Up, 40.0 + jitter));
        }
        out.push(sample("secret_backend", t, Status::Up, 10.0));
        for m in extra {
            out.push(sample(m, t, Status::Up, 50.0 + jitter));
        }
        t += step;
        k += 1;
    }
    out
}

/// The state: last checks, one open incident on `api` (with its issue), two resolved.
fn state(now: DateTime<Utc>, extra: &[&str]) -> State {
    let mut s = State::default();
    let at = now - Duration::minutes(3);
    for (m, st) in [("api", Status::Down), ("web", Status::Up), ("db", Status::Up), ("newcomer", Status::Up)] {
        s.monitors.insert(m.into(), MonitorState::new(at, st));
    }
    for m in extra {
        s.monitors.insert(m.to_string(), MonitorState::new(at, Status::Up));
    }
    s.monitors.insert("secret_backend".into(), MonitorState::new(at, Status::Down));
    s.alerts.insert(
        "api/endpoint_down".into(),
        AlertRecord {
            monitor: "api".into(),
            rule: "endpoint_down".into(),
            severity: Severity::High,
            message: "Endpoint api is down".into(),
            first_seen: now - Duration::minutes(42),
            last_seen: at,
            issue_number: Some(7),
            issue_url: Some("https://github.com/example/status/issues/7".into()),
            issue_severity: None,
            issue_message: None,
            last_reminded_at: None,
            flapping: false,
            values: Default::default(),
        },
    );
    s.alerts.insert(
        "secret_backend/endpoint_down".into(),
        AlertRecord {
            monitor: "secret_backend".into(),
            rule: "endpoint_down".into(),
            severity: Severity::High,
            message: "Endpoint secret_backend is down".into(),
            first_seen: now - Duration::hours(2),
            last_seen: at,
            issue_number: None,
            issue_url: None,
            issue_severity: None,
            issue_message: None,
            last_reminded_at: None,
            flapping: false,
            values: Default::default(),
        },
    );
    let resolved = |m: &str, msg: &str, ago_days: i64, hours: i64| ResolvedAlert {
        monitor: m.into(),
        rule: "endpoint_down".into(),
        severity: Severity::Medium,
        message: msg.into(),
        first_seen: now - Duration::days(ago_days),
        resolved_at: now - Duration::days(ago_days) + Duration::hours(hours),
        issue_url: None,
    };
    s.resolved.insert("api/endpoint_down@a".into(), resolved("api", "Endpoint api is down", 20, 3));
    s.resolved.insert("web/slow_response@b".into(), resolved("web", "Response time is 2.4s", 10, 20));
    s
}

/// A state directory holding the generated history (written as the store writes it) and
/// the state; the config loaded.
struct Fixture {
    dir: tempfile::TempDir,
    loaded: Loaded,
    state: State,
    history: History,
}

fn fixture_with(extra_yaml: &str, extra_monitors: &[&str]) -> Fixture {
    let monitors: String = extra_monitors
        .iter()
        .map(|m| format!("  - name: {m}\n    type: http\n    url: https://{m}.internal.corp.example/\n"))
        .collect();
    let loaded = support::load(&config_yaml(&monitors, extra_yaml));
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::default();
    h.add(&history_samples(now(), extra_monitors));
    history::write_store(dir.path(), now(), &HistoryConfig::default(), h).unwrap();
    let state = state(now(), extra_monitors);
    vaktpost::state::save(dir.path(), &state).unwrap();
    let (history, notes) = history::load_days(dir.path(), now(), 91);
    assert!(notes.is_empty(), "{notes:?}");
    Fixture { dir, loaded, state, history }
}

fn fixture() -> Fixture {
    fixture_with("", &[])
}

fn generate(f: &Fixture) -> (pages::Site, Files) {
    let redactor = Redactor::new(&f.loaded.secrets);
    let inputs = Inputs {
        config: &f.loaded.config,
        state: &f.state,
        history: &f.history,
        report: None,
        redactor: &redactor,
        now: now(),
    };
    pages::generate(&inputs, &Paths { templates: None, logo: None }).unwrap()
}

fn file<'a>(files: &'a Files, name: &str) -> &'a str {
    let b = files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} not generated")).1.as_slice();
    std::str::from_utf8(b).unwrap()
}

fn json(files: &Files, name: &str) -> serde_json::Value {
    serde_json::from_str(file(files, name)).unwrap()
}

// ------------------------------------------------------------------------------ model

#[test]
fn the_site_shows_gaps_incidents_maintenance_and_hides_private_monitors() {
    let f = fixture();
    let (site, files) = generate(&f);
    let names: Vec<&str> = site.monitors.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["api", "web", "db", "newcomer", "never_checked"]);
    assert!(files.iter().all(|(n, _)| !n.contains("secret_backend")));
    assert!(files.iter().all(|(_, b)| !String::from_utf8_lossy(b).contains("secret_backend")));

    let m = |n: &str| site.monitors.iter().find(|m| m.name == n).unwrap();
    // The gap: six days from noon to noon, so five whole calendar days without data.
    let api = m("api");
    assert_eq!(api.bar.len(), 90);
    assert_eq!(api.bar.iter().filter(|c| c.class == "n").count(), 5, "{:?}", api.bar);
    assert!(api.bar.iter().any(|c| c.title.ends_with(", no data")));
    // The outage day (3 hours down) is red-orange with its incident in the tooltip.
    let outage = &api.bar[89 - 20];
    assert_eq!(outage.class, "r", "{outage:?}");
    assert!(outage.title.contains("87.5%") && outage.title.contains("1 incident"), "{outage:?}");
    assert_eq!(api.status, "down");
    assert_eq!(api.open_incidents, 1);
    // Degraded counts as up in uptime (as in the report); partial history has 10 days.
    assert_eq!(m("web").bar[89 - 10].class, "l", "the degraded day carries an incident");
    assert_eq!(m("newcomer").days_with_data, 11, "ten days back from noon touch eleven dates");
    assert_eq!(m("never_checked").days_with_data, 0);
    assert_eq!(m("never_checked").status, "unknown");
    assert!(m("never_checked").uptime.iter().all(|w| w.text == "no data"));
    // `db` is under maintenance now.
    assert_eq!(m("db").status, "maintenance");
    assert_eq!(site.maintenance.iter().filter(|w| w.active).count(), 1);
    assert!(site.maintenance.iter().any(|w| !w.active && w.title == "Weekly restart"));
    assert_eq!(site.overall.key, "outage");
    assert_eq!(site.overall.indicator, "major");
    assert_eq!(site.open_incidents.len(), 1);
    assert_eq!(site.past_incidents.len(), 2);
    // Charts: 24 hourly points, 30 and 90 daily, p95 above p50.
    let c = &api.charts;
    assert_eq!(c.iter().map(|s| s.points.len()).collect::<Vec<_>>(), [24, 30, 90]);
    assert!(c[0].points.iter().all(|p| p.p50.is_some() && p.p95 >= p.p50));
    assert_eq!(c[2].points.iter().filter(|p| p.p50.is_none()).count(), 5);
}

#[test]
fn uptime_figures_are_the_reports() {
    let f = fixture();
    let (site, _) = generate(&f);
    let fig = vaktpost::state::figures::compute(&f.history, now(), std::time::Duration::from_secs(86_400));
    for m in &site.monitors {
        let Some(x) = fig.get(&m.name) else { continue };
        assert_eq!(m.uptime[0].value, x.w24h.uptime, "{}", m.name);
        assert_eq!(m.uptime[1].value, x.w7d.uptime, "{}", m.name);
        assert_eq!(m.uptime[2].value, x.w30d.uptime, "{}", m.name);
    }
}

/// What changes between runs of the same site: nothing, since the clock is fixed; the
/// `Updated …` line is still normalised so the snapshot reads as the page does.
fn strip_timings(html: &str) -> String {
    let re = regex::Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC").unwrap();
    re.replace_all(html, "<time>").into_owned()
}

/// Compares with tests/fixtures/pages/`name`; `VAKTPOST_UPDATE_SNAPSHOTS=1` rewrites it.
fn snapshot(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pages").join(name);
    if std::env::var_os("VAKTPOST_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with VAKTPOST_UPDATE_SNAPSHOTS=1 to create it", path.display()));
    if want != got {
        let line = want.lines().zip(got.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{} differs from the rendered page at line {}:\nwant: {}\ngot:  {}\n(run with VAKTPOST_UPDATE_SNAPSHOTS=1 to accept)",
            path.display(),
            line + 1,
            want.lines().nth(line).unwrap_or(""),
            got.lines().nth(line).unwrap_or("")
        );
    }
}

#[test]
fn rendered_pages_match_their_snapshots() {
    let f = fixture();
    let (_, files) = generate(&f);
    snapshot("index.html", &strip_timings(file(&files, "index.html")));
    snapshot("incidents.html", &strip_timings(file(&files, "incidents.html")));
    snapshot("monitor-api.html", &strip_timings(file(&files, "monitors/api.html")));
}

#[test]
fn the_page_needs_nothing_from_outside() {
    let f = fixture();
    let (_, files) = generate(&f);
    for (name, bytes) in files.iter().filter(|(n, _)| n.ends_with(".html")) {
        let html = String::from_utf8_lossy(bytes);
        assert!(!html.contains("<script"), "{name}: no JavaScript needed");
        for attr in ["src=\"http", "src=\"//", "href=\"//", "url(", "@import"] {
            assert!(!html.contains(attr), "{name} loads something from outside: {attr}");
        }
        // The only <link>s are the local stylesheet and an empty icon (no favicon request).
        for l in html.match_indices("<link ") {
            let tag = &html[l.0..html[l.0..].find('>').map(|e| l.0 + e).unwrap_or(html.len())];
            assert!(
                (tag.contains("style.css\"") || tag.contains("href=\"data:,\"")) && !tag.contains("://"),
                "{name}: {tag}"
            );
        }
    }
    let css = file(&files, "style.css");
    assert!(!css.contains("url(") && !css.contains("@import") && css.contains("prefers-color-scheme:dark"));
    assert!(css.len() < 8 * 1024, "one small CSS file: {} bytes", css.len());
}

#[test]
fn redacted_targets_appear_nowhere_on_the_site() {
    let open = fixture();
    let (_, files) = generate(&open);
    assert!(file(&files, "monitors/api.html").contains("api.internal.corp.example"), "shown when not redacted");

    let yaml = config_yaml("", "").replace("alerts:\n", "alerts:\n  github:\n    redact_targets: true\n");
    let mut f = fixture();
    f.loaded = support::load(&yaml);
    // A message that names the host is scrubbed too.
    f.state.alerts.get_mut("api/endpoint_down").unwrap().message =
        "GET https://api.internal.corp.example/health failed on api.internal.corp.example".into();
    let (_, files) = generate(&f);
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("corp.example"), "{name} shows a target: {text:.300}");
    }
}

// ------------------------------------------------------------------------------ badges

/// The shields.io endpoint schema (https://shields.io/badges/endpoint-badge): required
/// `schemaVersion: 1`, `label` (may be empty), a non-empty `message`; optional styling keys.
fn shields_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["schemaVersion", "label", "message"],
        "additionalProperties": false,
        "properties": {
            "schemaVersion": {"const": 1},
            "label": {"type": "string"},
            "message": {"type": "string", "minLength": 1},
            "color": {"type": "string", "minLength": 1},
            "labelColor": {"type": "string"},
            "isError": {"type": "boolean"},
            "namedLogo": {"type": "string"},
            "logoSvg": {"type": "string"},
            "logoColor": {"type": "string"},
            "logoWidth": {"type": "number"},
            "style": {"enum": ["plastic", "flat", "flat-square", "for-the-badge", "social"]},
            "cacheSeconds": {"type": "integer", "minimum": 300}
        }
    })
}

#[test]
fn badges_follow_the_shields_endpoint_schema() {
    let f = fixture();
    let (site, files) = generate(&f);
    let schema = jsonschema::validator_for(&shields_schema()).unwrap();
    let colors = ["brightgreen", "green", "yellowgreen", "yellow", "orange", "red", "blue", "lightgrey"];
    let mut n = 0;
    for (name, _) in files.iter().filter(|(n, _)| n.starts_with("badges/")) {
        let b = json(&files, name);
        let errors: Vec<String> = schema.iter_errors(&b).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?} in {b}");
        assert!(colors.contains(&b["color"].as_str().unwrap()), "{name}: {b}");
        n += 1;
    }
    assert_eq!(n, site.monitors.len() * 5 + 1);
    assert_eq!(json(&files, "badges/api/status.json")["message"], "down");
    assert_eq!(json(&files, "badges/api/status.json")["color"], "red");
    assert_eq!(json(&files, "badges/db/status.json")["message"], "maintenance");
    assert_eq!(json(&files, "badges/never_checked/uptime-24h.json")["message"], "no data");
    assert_eq!(json(&files, "badges/newcomer/uptime-7d.json")["message"], "100%");
    let rt = json(&files, "badges/db/response-time.json");
    assert_eq!(rt["message"], "1.1 s", "db answers in about a second: {rt}");
    assert_eq!(json(&files, "badges/api/response-time.json")["message"], "100 ms");
    assert_eq!(json(&files, "badges/site.json")["message"], "partial outage");
}

// ------------------------------------------------------------------- Statuspage API

/// A static file server on 127.0.0.1 for a generated site, logging every path requested.
pub struct StaticSite {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl StaticSite {
    pub fn serve(root: &Path) -> StaticSite {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, root) = (seen.clone(), root.to_path_buf());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, root) = (log.clone(), root.clone());
                std::thread::spawn(move || serve_file(stream, &root, &log));
            }
        });
        StaticSite { port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_file(stream: std::net::TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let target = first.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_string();
    log.lock().unwrap().push(target.clone());
    let rel = target.trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') { format!("{rel}index.html") } else { rel.to_string() };
    let path = root.join(&rel);
    let inside = !rel.split('/').any(|p| p == "..");
    let (status, body) = match std::fs::read(&path) {
        Ok(b) if inside => ("200 OK", b),
        _ => ("404 Not Found", b"not found".to_vec()),
    };
    let ctype = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = out.write_all(head.as_bytes()).and_then(|_| out.write_all(&body));
}

fn write_to_tmp(files: &Files) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    pages::write_site(out.path(), files).unwrap();
    out
}

#[tokio::test]
async fn summary_json_reads_back_through_the_status_page_check() {
    let f = fixture();
    let (site, files) = generate(&f);
    let out = write_to_tmp(&files);
    let server = StaticSite::serve(out.path());
    let yaml = format!(
        "monitors:\n  - name: upstream\n    type: status_page\n    provider: statuspage\n    url: \"{}\"\n",
        server.url("/api/v2/summary.json")
    );
    let loaded = support::load(&yaml);
    let r = support::run_loaded(&loaded).await;
    assert_eq!(r.error.as_ref().map(|e| e.message.clone()), None, "{r:#?}");
    assert_eq!(support::text(&r, "provider"), "statuspage");
    assert_eq!(support::text(&r, "page_indicator"), site.overall.indicator);
    // Every public monitor with a status is a component, with its status, exactly.
    let want: BTreeMap<String, String> = site
        .monitors
        .iter()
        .filter_map(|m| m.health.component_status().map(|s| (format!("components.{}", m.name), s.to_string())))
        .collect();
    let got: BTreeMap<String, String> = r
        .metrics
        .iter()
        .filter(|(k, _)| k.starts_with("components."))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got["components.api"], "major_outage");
    assert_eq!(got["components.db"], "under_maintenance");
    assert_eq!(got["components.web"], "operational");
    // Open incidents and maintenances in progress, by title and link.
    let titles: Vec<String> = site.open_incidents.iter().map(|x| x.title.clone()).collect();
    assert_eq!(r.metrics["incident_titles"], serde_json::json!(titles));
    assert_eq!(r.metrics["incident_urls"], serde_json::json!(["https://github.com/example/status/issues/7"]));
    assert_eq!(r.metrics["maintenance_titles"], serde_json::json!(["Database upgrade"]));
    // The check's own verdict: a major outage on a component is critical upstream.
    assert_eq!(support::text(&r, "indicator"), "critical");
    assert_eq!(r.status, Status::Degraded);
    assert!(r.metrics.get("unrecognized_statuses").is_none(), "{r:#?}");

    // status.json: the same page and status.
    let st = json(&files, "api/v2/status.json");
    let sum = json(&files, "api/v2/summary.json");
    assert_eq!(st["status"], sum["status"]);
    assert_eq!(st["page"], sum["page"]);
    assert_eq!(sum["status"]["description"], "Partial System Outage");
}

#[tokio::test]
async fn a_healthy_site_reads_back_as_operational() {
    let mut f = fixture();
    f.state.alerts.clear();
    f.state.monitors.get_mut("api").unwrap().last_status = Status::Up;
    f.loaded =
        support::load(&config_yaml("", "").replace("      monitors: [db]\n", "      monitors: [nothing_public]\n"));
    let (site, files) = generate(&f);
    assert_eq!(site.overall.key, "operational");
    let out = write_to_tmp(&files);
    let server = StaticSite::serve(out.path());
    let yaml = format!(
        "monitors:\n  - name: upstream\n    type: status_page\n    provider: statuspage\n    url: \"{}\"\n",
        server.url("/")
    );
    let r = support::run_loaded(&support::load(&yaml)).await;
    support::assert_up(&r);
    assert_eq!(support::text(&r, "indicator"), "none");
    assert_eq!(r.metrics["incidents"], 0);
    assert_eq!(server.seen(), ["/api/v2/summary.json"], "the check finds the API from the site's root");
}

// ------------------------------------------------------------------------- bad input

#[test]
fn empty_state_renders_no_data_and_never_fails() {
    let loaded = support::load(&config_yaml("", ""));
    let redactor = Redactor::new(&loaded.secrets);
    let (state, history) = (State::default(), History::default());
    let inputs = Inputs {
        config: &loaded.config,
        state: &state,
        history: &history,
        report: None,
        redactor: &redactor,
        now: now(),
    };
    let (site, files) = pages::generate(&inputs, &Paths { templates: None, logo: None }).unwrap();
    assert_eq!(site.overall.key, "unknown");
    let index = file(&files, "index.html");
    assert!(index.contains("No data yet"));
    assert_eq!(index.matches("class=n title=").count(), 90 * site.monitors.len());
    assert_eq!(json(&files, "api/v2/summary.json")["components"], serde_json::json!([]));
    assert_eq!(json(&files, "badges/api/status.json")["message"], "no data");
}

fn vaktpost() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vaktpost"))
}

#[test]
fn the_cli_writes_the_site_and_an_unwritable_out_is_exit_3_naming_it() {
    let f = fixture();
    let cfg = f.dir.path().join("vaktpost.yml");
    std::fs::write(&cfg, config_yaml("", "")).unwrap();
    let out = f.dir.path().join("site");
    let o = vaktpost()
        .args([
            "pages",
            "-c",
            cfg.to_str().unwrap(),
            "--state",
            f.dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("pages: 5 monitors"), "{stdout}");
    for p in [
        "index.html",
        "incidents.html",
        "style.css",
        "monitors/api.html",
        "badges/api/status.json",
        "api/v2/summary.json",
    ] {
        assert!(out.join(p).is_file(), "{p}");
    }

    // A file where the directory should be: nothing can be written under it.
    let blocked = f.dir.path().join("blocked");
    std::fs::write(&blocked, b"a file").unwrap();
    let target = blocked.join("site");
    let o = vaktpost()
        .args([
            "pages",
            "-c",
            cfg.to_str().unwrap(),
            "--state",
            f.dir.path().to_str().unwrap(),
            "--out",
            target.to_str().unwrap(),
        ])
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&target.display().to_string()) && stderr.contains("status site"), "{stderr}");

    // A broken user template is the config's problem: exit 2, naming the file.
    let tdir = f.dir.path().join("tpl");
    std::fs::create_dir_all(&tdir).unwrap();
    std::fs::write(tdir.join("index.html"), "{% for %}").unwrap();
    std::fs::write(&cfg, config_yaml("", "  templates: tpl\n")).unwrap();
    let o = vaktpost()
        .args([
            "pages",
            "-c",
            cfg.to_str().unwrap(),
            "--state",
            f.dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tpl/index.html"), "{stderr}");
}

#[test]
fn user_templates_override_the_built_in_ones() {
    let f = fixture();
    let tdir = tempfile::tempdir().unwrap();
    std::fs::write(
        tdir.path().join("index.html"),
        "{% extends \"base.html\" %}{% block main %}<p>{{ site.monitors|length }} monitors: {% for m in site.monitors %}{{ m.name }} {% endfor %}</p>{% endblock %}",
    )
    .unwrap();
    std::fs::write(tdir.path().join("style.css"), "body{color:red}").unwrap();
    let redactor = Redactor::new(&f.loaded.secrets);
    let inputs = Inputs {
        config: &f.loaded.config,
        state: &f.state,
        history: &f.history,
        report: None,
        redactor: &redactor,
        now: now(),
    };
    let paths = Paths { templates: Some(tdir.path().to_path_buf()), logo: None };
    let (_, files) = pages::generate(&inputs, &paths).unwrap();
    assert!(file(&files, "index.html").contains("<p>5 monitors: api web db newcomer never_checked </p>"));
    assert_eq!(file(&files, "style.css"), "body{color:red}");
    assert!(file(&files, "monitors/api.html").contains("Response time"), "the others stay built in");
}

#[test]
fn config_errors_are_located() {
    let bad = config_yaml("", "  timezone: Mars/Olympus\n  logo: https://cdn.example/logo.png\n")
        .replace("url: https://example.com/", "url: \"javascript:alert(1)\"");
    let Err(diags) = vaktpost::load_str(&bad, "vaktpost.yml", &Default::default()) else {
        panic!("invalid config loaded")
    };
    let text: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    let all = text.join("\n");
    assert!(all.contains("pages.timezone") && all.contains("Mars/Olympus"), "{all}");
    assert!(all.contains("pages.logo") && all.contains("local file"), "{all}");
    assert!(all.contains("pages.links[0].url"), "{all}");
}

// ---------------------------------------------------------------------------- budgets

#[test]
fn the_index_of_a_50_monitor_site_is_under_200_kb() {
    let extra: Vec<String> = (0..45).map(|i| format!("service-{i:02}")).collect();
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let f = fixture_with("", &refs);
    let (site, files) = generate(&f);
    assert_eq!(site.monitors.len(), 50);
    let size = file(&files, "index.html").len();
    assert!(size <= 200 * 1024, "index.html of 50 monitors is {size} bytes");
    eprintln!("index.html, 50 monitors: {size} bytes");
}

// ---------------------------------------------------------------------- hostile text

mod hostile {
    use super::*;
    use proptest::prelude::*;

    /// Markup outside tags: every `<` that opens a tag is one the template wrote.
    fn tags(html: &str) -> Vec<String> {
        let re = regex::Regex::new(r"</?([a-zA-Z][a-zA-Z0-9]*)").unwrap();
        re.captures_iter(html).map(|c| c[1].to_ascii_lowercase()).collect()
    }

    /// Every file of a one-monitor site whose name, description, title and incident are
    /// `name` and `title`.
    fn site_of(name: &str, title: &str) -> Files {
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let yaml = format!(
            "monitors:\n  - name: \"{}\"\n    type: http\n    url: https://x.example/\n    description: \"{}\"\npages:\n  title: \"{}\"\n",
            q(name),
            q(title),
            q(title)
        );
        let loaded = support::load(&yaml);
        let mut state = State::default();
        state.monitors.insert(name.to_string(), MonitorState::new(now(), Status::Down));
        state.alerts.insert(
            format!("{name}/endpoint_down"),
            AlertRecord {
                monitor: name.to_string(),
                rule: "endpoint_down".into(),
                severity: Severity::High,
                message: title.to_string(),
                first_seen: now(),
                last_seen: now(),
                issue_number: None,
                issue_url: Some(format!("javascript:{title}")),
                issue_severity: None,
                issue_message: None,
                last_reminded_at: None,
                flapping: false,
                values: Default::default(),
            },
        );
        let history = History::default();
        let redactor = Redactor::new(&[]);
        let inputs = Inputs {
            config: &loaded.config,
            state: &state,
            history: &history,
            report: None,
            redactor: &redactor,
            now: now(),
        };
        pages::generate(&inputs, &Paths { templates: None, logo: None }).unwrap().1
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn hostile_names_and_titles_are_text(name in "[a-z][<>&\"' a-z/=.]{0,30}", title in "[<>&\"' a-zA-Z:/()=]{1,60}") {
            let files = site_of(&name, &title);
            let twin = site_of("plain", "plain title");
            for (path, bytes) in files.iter().filter(|(n, _)| n.ends_with(".html")) {
                prop_assert!(!path.contains("..") && path.matches('/').count() <= 1, "{}", path);
                let html = String::from_utf8_lossy(bytes);
                let other = twin
                    .iter()
                    .find(|(n, _)| n == path || (n.starts_with("monitors/") && path.starts_with("monitors/")))
                    .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                // The same tags as the site of a plain name: nothing the text brought.
                prop_assert_eq!(tags(&html), tags(&other), "{}", path);
                prop_assert!(!html.contains("javascript:"), "{}", path);
            }
            for (path, bytes) in files.iter().filter(|(n, _)| n.ends_with(".json")) {
                prop_assert!(serde_json::from_slice::<serde_json::Value>(bytes).is_ok(), "{}", path);
                prop_assert!(!path.contains(".."), "{}", path);
            }
        }
    }
}

// -------------------------------------------------------------------- in a browser

fn chromium_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VAKTPOST_CHROMIUM") {
        return PathBuf::from(p);
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium", "/snap/bin/chromium"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("chromium not found: install it (scripts/test.sh does: apt-get install chromium) or set VAKTPOST_CHROMIUM");
}

/// Headless Chromium with its own profile, no network beyond loopback (every other host
/// resolves to nothing), logging the page's console to stderr.
fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(chromium_bin())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
            "--virtual-time-budget=3000",
        ])
        .args(args)
        .output()
        .expect("start chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Console messages from the page (`CONSOLE(…)` lines and uncaught errors), not
/// Chromium's own noise.
fn console_errors(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_site_in_a_real_browser_at_phone_and_desktop_widths_light_and_dark() {
    let f = fixture();
    let (site, files) = generate(&f);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pages");
    std::fs::create_dir_all(&shots).unwrap();
    let out = write_to_tmp(&files);
    let server = StaticSite::serve(out.path());
    let profile = tempfile::tempdir().unwrap();

    // The DOM: every monitor with its 90 cells, the banner, no script.
    let dom = chromium(profile.path(), &["--dump-dom", &server.url("/index.html")]);
    let html = String::from_utf8_lossy(&dom.stdout);
    for m in &site.monitors {
        assert!(html.contains(&format!("href=\"monitors/{}.html\"", m.slug)), "{} not in the DOM", m.name);
    }
    assert_eq!(html.matches("<i class=\"").count(), 90 * site.monitors.len(), "bars in the DOM");
    assert!(html.contains("Partial outage"));
    assert!(
        console_errors(&String::from_utf8_lossy(&dom.stderr)).is_empty(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = chromium(profile.path(), &["--dump-dom", &server.url("/monitors/api.html")]);
    let html = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 3, "three charts");

    for (name, size, dark) in [
        ("desktop-light", "1280,1400", false),
        ("desktop-dark", "1280,1400", true),
        ("phone-light", "390,1600", false),
        ("phone-dark", "390,1600", true),
    ] {
        let png = shots.join(format!("index-{name}.png"));
        let _ = std::fs::remove_file(&png);
        let scheme =
            if dark { "--blink-settings=preferredColorScheme=0" } else { "--blink-settings=preferredColorScheme=1" };
        let o = chromium(
            profile.path(),
            &[
                scheme,
                &format!("--screenshot={}", png.display()),
                &format!("--window-size={size}"),
                &server.url("/index.html"),
            ],
        );
        let errors = console_errors(&String::from_utf8_lossy(&o.stderr));
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{name}: {} bytes", bytes.len());
    }
    let png = shots.join("monitor-desktop-light.png");
    chromium(
        profile.path(),
        &[
            "--blink-settings=preferredColorScheme=1",
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
            &server.url("/monitors/api.html"),
        ],
    );
    assert!(png.is_file());

    // Nothing asked for that the site does not have, and nothing else at all.
    let seen = server.seen();
    for p in &seen {
        let rel = p.trim_start_matches('/');
        assert!(out.path().join(rel).is_file(), "the browser asked for {p}, which the site does not have");
    }
    assert!(seen.iter().any(|p| p == "/style.css"), "{seen:?}");
    assert!(seen.iter().all(|p| p.ends_with(".html") || p.ends_with(".css")), "{seen:?}");
}

#[test]
fn a_site_rebuilt_in_place_rewrites_only_what_changed_and_never_follows_a_link() {
    let f = fixture();
    let (_, files) = generate(&f);
    let out = write_to_tmp(&files);
    let index = out.path().join("index.html");
    let style = out.path().join("style.css");
    // Mark two files: one whose content the next build changes, one it keeps.
    std::fs::write(&index, b"stale").unwrap();
    // An old modification time on the kept file: any rewrite would move it to now.
    let kept = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options().write(true).open(&style).unwrap().set_modified(kept).unwrap();
    // A link planted where a badge goes, pointing outside the site.
    let outside = f.dir.path().join("outside.txt");
    std::fs::write(&outside, b"not the site's").unwrap();
    let badge = out.path().join("badges/api/status.json");
    std::fs::remove_file(&badge).unwrap();
    std::os::unix::fs::symlink(&outside, &badge).unwrap();

    let bytes = pages::write_site(out.path(), &files).unwrap();
    assert_eq!(bytes, files.iter().map(|(_, b)| b.len() as u64).sum::<u64>());
    let want = |rel: &str| &files.iter().find(|(p, _)| p == rel).unwrap().1;
    assert_eq!(&std::fs::read(&index).unwrap(), want("index.html"), "a changed file is rewritten");
    assert_eq!(std::fs::metadata(&style).unwrap().modified().unwrap(), kept, "an unchanged file is left alone");
    assert!(!std::fs::symlink_metadata(&badge).unwrap().file_type().is_symlink(), "the link is replaced");
    assert_eq!(&std::fs::read(&badge).unwrap(), want("badges/api/status.json"));
    assert_eq!(std::fs::read(&outside).unwrap(), b"not the site's", "nothing is written through the link");
}
