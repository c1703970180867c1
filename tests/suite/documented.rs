//! Issue 20, "documented but untested": each documented config key, variable and option
//! proved through the binary — a config in a temp dir, local servers on 127.0.0.1, the
//! effect read from the report, the summary, the annotations or the state directory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::Utc;

/// Reads one request head; returns its path.
fn read_head(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let target = first.split_whitespace().nth(1)?;
    Some(target.split('?').next().unwrap_or("/").to_string())
}

fn respond(mut stream: TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A threaded HTTP/1.1 server: `/ok` (200), `/fail` (500), `/mem` (`{"percent":72}`),
/// `/hang` (never answers); counts requests per path.
pub struct Site {
    pub port: u16,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Site {
    pub fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let h = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let h = h.clone();
                std::thread::spawn(move || {
                    let Some(path) = read_head(&stream) else { return };
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    match path.as_str() {
                        "/ok" => respond(stream, "200 OK", r#"{"status":"ok"}"#),
                        "/fail" => respond(stream, "500 Internal Server Error", "boom"),
                        "/mem" => respond(stream, "200 OK", r#"{"percent":72}"#),
                        // Held open until the client gives up (the read sees its close).
                        "/hang" => {
                            let mut buf = [0u8; 64];
                            let _ = std::io::Read::read(&mut &stream, &mut buf);
                        }
                        _ => respond(stream, "404 Not Found", "nope"),
                    }
                });
            }
        });
        Site { port, hits }
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A temp dir to run the binary in.
pub struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { dir: tempfile::tempdir().unwrap() }
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    /// Runs the binary here with only `PATH` and `env` set.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
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
    pub fn report(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path("vaktpost-report.json")).unwrap()).unwrap()
    }
    pub fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
    }
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// The checks of a report by name.
pub fn checks(report: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    report["checks"].as_array().unwrap().iter().map(|c| (c["name"].as_str().unwrap().to_string(), c.clone())).collect()
}

fn monitor(name: &str, url: &str) -> String {
    format!("  - {{name: {name}, type: http, url: \"{url}\"}}\n")
}

// ---------------------------------------------------------------- state:

#[test]
fn state_path_is_where_state_and_history_land() {
    let site = Site::start();
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &format!("state: {{path: var/mon-state}}\nmonitors:\n{}", monitor("api", &site.url("/ok"))),
    );
    let o = d.run(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(d.path("var/mon-state/state.json").is_file(), "{}", text(&o));
    assert!(d.path("var/mon-state/history").is_dir());
    assert!(!d.path(".vaktpost").exists(), "the default state directory was used too");
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

/// Seeds a history directory with a raw segment of `days_ago` days ago (gzip) and a
/// rollups file of `months_ago` months ago; returns their paths.
fn seed_old_history(d: &Dir, days_ago: i64, months_ago: u32) -> (PathBuf, PathBuf) {
    let now = Utc::now();
    let day = (now - chrono::Duration::days(days_ago)).date_naive();
    let t = day.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp_millis();
    let seg = d.path(&format!(".vaktpost/history/samples-{day}.jsonl.gz"));
    std::fs::create_dir_all(seg.parent().unwrap()).unwrap();
    std::fs::write(&seg, gz(&format!("{{\"m\":\"api\",\"t\":{t},\"s\":\"up\",\"rt\":5.0}}\n"))).unwrap();
    let month = now.date_naive().with_day0(0).unwrap().checked_sub_months(chrono::Months::new(months_ago)).unwrap();
    let roll = d.path(&format!(".vaktpost/history/rollups-{}.json", month.format("%Y-%m")));
    std::fs::write(&roll, format!("{{\"{month}\":{{}}}}")).unwrap();
    (seg, roll)
}

use chrono::Datelike;

#[test]
fn retention_and_rollup_retention_prune_history() {
    let site = Site::start();
    // A raw segment 6 days old and rollups 5 months old: the defaults (7 days, 400 days)
    // keep both; `retention: 4d` and `rollup_retention: 60d` delete both.
    let with_defaults = Dir::new();
    with_defaults.write("vaktpost.yml", &format!("monitors:\n{}", monitor("api", &site.url("/ok"))));
    let (seg, roll) = seed_old_history(&with_defaults, 6, 5);
    let o = with_defaults.run(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(seg.exists(), "the default retention (7d) keeps a 6-day-old segment");
    assert!(roll.exists(), "the default rollup_retention (400d) keeps 5-month-old rollups");

    let configured = Dir::new();
    configured.write(
        "vaktpost.yml",
        &format!("state: {{retention: 4d, rollup_retention: 60d}}\nmonitors:\n{}", monitor("api", &site.url("/ok"))),
    );
    let (seg, roll) = seed_old_history(&configured, 6, 5);
    let o = configured.run(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!seg.exists(), "retention: 4d deletes a 6-day-old raw segment");
    assert!(!roll.exists(), "rollup_retention: 60d drops 5-month-old rollups");
    let today = Utc::now().date_naive();
    assert!(configured.path(&format!(".vaktpost/history/samples-{today}.jsonl")).exists(), "this run's samples");
}

/// 14 raw samples of `mem` at a steadily growing percent over the last 3 hours.
fn seed_growing_memory(d: &Dir) {
    let now = Utc::now().timestamp_millis();
    let mut by_day: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..14i64 {
        let t = now - 3 * 3_600_000 + i * 12 * 60_000;
        let day = chrono::DateTime::from_timestamp_millis(t).unwrap().date_naive().to_string();
        let line = format!("{{\"m\":\"mem\",\"t\":{t},\"s\":\"up\",\"rt\":5.0,\"mem\":{{\"percent\":{}}}}}\n", 50 + i);
        by_day.entry(day).or_default().push_str(&line);
    }
    for (day, lines) in by_day {
        d.write(&format!(".vaktpost/history/samples-{day}.jsonl"), &lines);
    }
}

#[test]
fn leak_window_sets_the_memory_trend_window() {
    let site = Site::start();
    // Three hours of growth: too short for the default 24h window (a leak needs samples
    // spanning half of it), enough for a 4h one.
    let mut suspected = vec![];
    for state in ["", "state: {leak_window: 4h}\n"] {
        let d = Dir::new();
        d.write(
            "vaktpost.yml",
            &format!(
                "{state}monitors:\n  - {{name: mem, type: http, url: \"{}\", extract: {{percent: /percent}}}}\n",
                site.url("/mem")
            ),
        );
        seed_growing_memory(&d);
        let o = d.run(&["run", "--fail-on", "never"], &[]);
        assert_eq!(code(&o), 0, "{}", text(&o));
        let r = d.report();
        let m = &r["history"]["mem"]["memory"]["percent"];
        assert!(m.is_object(), "no percent trend: {}", r["history"]);
        suspected.push((
            m["leak_suspected"].as_bool().unwrap(),
            r["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "memory_leak_suspected"),
        ));
    }
    assert_eq!(suspected, vec![(false, false), (true, true)]);
}

// ---------------------------------------------------------------- report:

#[test]
fn report_title_and_max_summary_rows_cap_the_table_failing_first() {
    let site = Site::start();
    let d = Dir::new();
    let mut ms = String::new();
    for n in ["a_ok", "b_ok", "c_ok"] {
        ms.push_str(&monitor(n, &site.url("/ok")));
    }
    for n in ["x_fail", "y_fail"] {
        ms.push_str(&monitor(n, &site.url("/fail")));
    }
    d.write(
        "vaktpost.yml",
        &format!("defaults: {{confirm: false}}\nreport: {{title: Nightly prod, max_summary_rows: 2}}\nmonitors:\n{ms}"),
    );
    let o = d.run(&["run", "--summary", "summary.md", "--fail-on", "never"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let md = d.read("summary.md");
    assert!(md.starts_with("## 🔴 Nightly prod: 2 open problems: Endpoint x_fail is down (and 1 more)"), "{md}");
    let table = md.split("### Monitors").nth(1).unwrap();
    let rows: Vec<&str> = table
        .split("\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| | Monitor"))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].contains("x_fail") && rows[1].contains("y_fail"), "{table}");
    assert!(table.contains("_3 more monitors not shown; all are in the JSON report._"), "{table}");
    assert_eq!(d.report()["checks"].as_array().unwrap().len(), 5);
}

// ---------------------------------------------------------------- defaults:

/// Holds each request until `limit` are waiting together (or every expected request has
/// arrived), and records the most in flight at once, per server and over both.
struct Gate {
    ports: [u16; 2],
    max: Arc<Mutex<[usize; 3]>>,
}

fn gate(limit: usize, total: usize) -> Gate {
    #[derive(Default)]
    struct S {
        now: [usize; 3],
        max: [usize; 3],
        waiting: usize,
        arrived: usize,
        batch: usize,
    }
    let state: Arc<(Mutex<S>, Condvar)> = Arc::default();
    let max = Arc::new(Mutex::new([0usize; 3]));
    let mut ports = [0u16; 2];
    for (i, port) in ports.iter_mut().enumerate() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        *port = listener.local_addr().unwrap().port();
        let (state, max) = (state.clone(), max.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (state, max) = (state.clone(), max.clone());
                std::thread::spawn(move || {
                    if read_head(&stream).is_none() {
                        return;
                    }
                    let (lock, cv) = &*state;
                    let mut s = lock.lock().unwrap();
                    s.now[i] += 1;
                    s.now[2] += 1;
                    for k in [i, 2] {
                        s.max[k] = s.max[k].max(s.now[k]);
                    }
                    *max.lock().unwrap() = s.max;
                    s.arrived += 1;
                    s.waiting += 1;
                    let mine = s.batch;
                    if s.waiting >= limit || s.arrived >= total {
                        s.batch += 1;
                        s.waiting = 0;
                        cv.notify_all();
                    }
                    // Bounded: a broken limit must not hang the test.
                    let (mut s, _) = cv.wait_timeout_while(s, Duration::from_secs(60), |s| s.batch == mine).unwrap();
                    s.now[i] -= 1;
                    s.now[2] -= 1;
                    drop(s);
                    respond(stream, "200 OK", "{}");
                });
            }
        });
    }
    Gate { ports, max }
}

#[test]
fn concurrency_limits_monitors_in_flight() {
    let g = gate(3, 12);
    let d = Dir::new();
    let mut ms = String::new();
    for k in 0..12 {
        ms.push_str(&monitor(&format!("m{k}"), &format!("http://127.0.0.1:{}/{k}", g.ports[k % 2])));
    }
    d.write("vaktpost.yml", &format!("defaults: {{concurrency: 3}}\nmonitors:\n{ms}"));
    let o = d.run(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(g.max.lock().unwrap()[2], 3, "most requests in flight at once over both servers");
}

#[test]
fn per_host_concurrency_limits_each_host_port() {
    // Two servers, two monitors in flight on each at most: four in all.
    let g = gate(4, 16);
    let d = Dir::new();
    let mut ms = String::new();
    for k in 0..16 {
        ms.push_str(&monitor(&format!("m{k}"), &format!("http://127.0.0.1:{}/{k}", g.ports[k % 2])));
    }
    d.write("vaktpost.yml", &format!("defaults: {{per_host_concurrency: 2}}\nmonitors:\n{ms}"));
    let o = d.run(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let max = *g.max.lock().unwrap();
    assert_eq!(max, [2, 2, 4], "in flight at once: per server, and over both");
}

#[test]
fn defaults_deadline_cuts_a_slow_monitor() {
    let site = Site::start();
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &format!(
            "defaults: {{deadline: 2s, timeout: 600s, confirm: false}}\nmonitors:\n{}{}",
            monitor("fast", &site.url("/ok")),
            monitor("stuck", &site.url("/hang"))
        ),
    );
    let t0 = std::time::Instant::now();
    let o = d.run(&["run", "--fail-on", "never"], &[]);
    let took = t0.elapsed();
    assert_eq!(code(&o), 0, "{}", text(&o));
    // The monitor's own timeout is 600 s; the run ends at the 2 s deadline (plus the
    // alert minute at most).
    assert!(took < Duration::from_secs(120), "took {took:?}");
    let c = checks(&d.report());
    assert_eq!(c["fast"]["status"], "up");
    assert_eq!(c["stuck"]["status"], "down");
    assert_eq!(c["stuck"]["error"]["kind"], "timeout");
    assert_eq!(c["stuck"]["error"]["message"], "the run's deadline passed before this check finished");
}

#[test]
fn defaults_labels_apply_to_every_monitor_and_rules_see_them() {
    let site = Site::start();
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &format!(
            "defaults: {{labels: {{team: core, env: prod}}}}\nmonitors:\n{}  - {{name: b, type: http, url: \"{}\", labels: {{team: web}}}}\nrules:\n  - {{name: core_owned, condition: \"labels.team == 'core' && labels.env == 'prod'\", message: \"{{name}} is core's\", severity: low}}\n",
            monitor("a", &site.url("/ok")),
            site.url("/ok")
        ),
    );
    let o = d.run(&["run", "--fail-on", "never"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = d.report();
    let c = checks(&r);
    assert_eq!(c["a"]["labels"], serde_json::json!({"team": "core", "env": "prod"}));
    assert_eq!(c["b"]["labels"], serde_json::json!({"team": "web", "env": "prod"}), "a monitor's own label wins");
    let fired: Vec<&str> = r["findings"].as_array().unwrap().iter().map(|f| f["monitor"].as_str().unwrap()).collect();
    assert_eq!(fired, vec!["a"]);
}

// ---------------------------------------------------------------- monitors and rules

#[test]
fn enabled_false_monitor_is_not_checked() {
    let site = Site::start();
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &format!(
            "monitors:\n{}  - {{name: off, type: http, url: \"{}\", enabled: false}}\n",
            monitor("on", &site.url("/ok")),
            site.url("/fail")
        ),
    );
    let o = d.run(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(site.hits("/fail"), 0, "a disabled monitor was requested");
    let r = d.report();
    assert_eq!(checks(&r).keys().collect::<Vec<_>>(), vec!["on"]);
    assert_eq!(r["counts"]["monitors"], 1, "{}", r["counts"]);
}

#[test]
fn rule_monitors_globs_and_escalate() {
    let site = Site::start();
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &format!(
            "monitors:\n  - {{name: api_prod, type: http, url: \"{u}\", labels: {{tier: prod}}}}\n  - {{name: api_dev, type: http, url: \"{u}\", labels: {{tier: dev}}}}\n  - {{name: web, type: http, url: \"{u}\", labels: {{tier: prod}}}}\nrules:\n  - name: answered\n    condition: status_code == 200\n    message: \"{{name}} answered\"\n    severity: low\n    monitors: [\"api_*\"]\n    escalate: [{{when: \"labels.tier == 'prod'\", severity: high}}]\n",
            u = site.url("/ok")
        ),
    );
    let o = d.run(&["run", "--fail-on", "never"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = d.report();
    let got: BTreeMap<String, String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "answered")
        .map(|f| (f["monitor"].as_str().unwrap().to_string(), f["severity"].as_str().unwrap().to_string()))
        .collect();
    let want: BTreeMap<String, String> =
        [("api_dev", "low"), ("api_prod", "high")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(got, want, "web matches no glob; api_prod escalates");
}

// ---------------------------------------------------------------- CLI and environment

fn ran(d: &Dir) -> Vec<String> {
    let r = d.report();
    checks(&r).into_iter().filter(|(_, c)| c["status"] != "skipped").map(|(n, _)| n).collect()
}

#[test]
fn only_takes_globs_comma_lists_and_repeats() {
    let site = Site::start();
    let d = Dir::new();
    let mut ms = String::new();
    for n in ["api_a", "api_b", "web", "db"] {
        ms.push_str(&monitor(n, &site.url("/ok")));
    }
    d.write("vaktpost.yml", &format!("monitors:\n{ms}"));
    let o = d.run(&["run", "--only", "api_*,db"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(ran(&d), vec!["api_a", "api_b", "db"]);
    let o = d.run(&["run", "--only", "web", "--only", "api_b"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(ran(&d), vec!["api_b", "web"]);
    let o = d.run(&["run"], &[("INPUT_ONLY", "d?")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(ran(&d), vec!["db"]);
    assert_eq!(site.hits("/ok"), 3 + 2 + 1);
}

#[test]
fn config_discovery_order() {
    let site = Site::start();
    let d = Dir::new();
    let cfg = |name: &str| format!("monitors:\n{}", monitor(name, &site.url("/ok")));
    let which = |env: &[(&str, &str)]| {
        let o = d.run(&["run"], env);
        assert_eq!(code(&o), 0, "{}", text(&o));
        ran(&d)
    };
    d.write("monitoring/config/external_monitors.yml", &cfg("from_seed_path"));
    assert_eq!(which(&[]), vec!["from_seed_path"]);
    d.write(".github/vaktpost.yml", &cfg("from_dot_github"));
    assert_eq!(which(&[]), vec!["from_dot_github"]);
    d.write("vaktpost.yml", &cfg("from_vaktpost_yml"));
    assert_eq!(which(&[]), vec!["from_vaktpost_yml"]);
    d.write("elsewhere/mine.yml", &cfg("from_input_config"));
    assert_eq!(which(&[("INPUT_CONFIG", "elsewhere/mine.yml")]), vec!["from_input_config"]);
    // An empty input is GitHub's "not given".
    assert_eq!(which(&[("INPUT_CONFIG", "")]), vec!["from_vaktpost_yml"]);
}

#[test]
fn monitoring_interval_is_the_default_interval() {
    let site = Site::start();
    let d = Dir::new();
    d.write("vaktpost.yml", &format!("monitors:\n{}", monitor("api", &site.url("/ok"))));
    let env = [("MONITORING_INTERVAL", "3600")];
    let o = d.run(&["run"], &env);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(site.hits("/ok"), 1);
    // Checked a moment ago: with a 1-hour default interval it is not due.
    let o = d.run(&["run"], &env);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(site.hits("/ok"), 1, "checked again within MONITORING_INTERVAL");
    let c = checks(&d.report());
    assert_eq!(c["api"]["status"], "skipped");
    assert!(c["api"]["last_checked_at"].is_string());
    // `--only` runs a selected monitor regardless of its interval.
    let o = d.run(&["run", "--only", "api"], &env);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(site.hits("/ok"), 2, "--only runs it regardless of interval");
    // Without it the default interval is 0: every run.
    let o = d.run(&["run"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(site.hits("/ok"), 3);
    // `defaults.interval` set in the config wins over the variable.
    d.write("vaktpost.yml", &format!("defaults: {{interval: 0}}\nmonitors:\n{}", monitor("api", &site.url("/ok"))));
    let o = d.run(&["run"], &env);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(site.hits("/ok"), 4, "defaults.interval: 0 checks every run despite MONITORING_INTERVAL");
}

#[test]
fn unwritable_state_directory_is_exit_3() {
    let site = Site::start();
    let d = Dir::new();
    // A regular file where the state directory's parent should be: no mkdir can work,
    // even as root.
    d.write("blocker", "a file\n");
    d.write(
        "vaktpost.yml",
        &format!("state: {{path: blocker/state}}\nmonitors:\n{}", monitor("api", &site.url("/ok"))),
    );
    let o = d.run(&["run"], &[]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let r = d.report();
    assert_eq!(checks(&r)["api"]["status"], "up", "the report is still written");
    let notes = r["notes"].to_string();
    assert!(notes.contains("blocker"), "the note says what failed: {notes}");
}

#[test]
fn annotations_by_severity_in_github_actions() {
    let site = Site::start();
    let d = Dir::new();
    let rule = |name: &str, sev: &str| {
        format!("  - {{name: {name}, condition: \"status_code == 200\", message: \"{name} on {{name}}\", severity: {sev}}}\n")
    };
    d.write(
        "vaktpost.yml",
        &format!(
            "monitors:\n{}rules:\n{}{}{}",
            monitor("api", &site.url("/ok")),
            rule("r_low", "low"),
            rule("r_medium", "medium"),
            rule("r_high", "high")
        ),
    );
    let o = d.run(&["run", "--fail-on", "never"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = |prefix: &str, msg: &str| out.lines().any(|l| l.starts_with(prefix) && l.ends_with(msg));
    assert!(line("::notice ", "::r_low on api"), "{out}");
    assert!(line("::warning ", "::r_medium on api"), "{out}");
    assert!(line("::error ", "::r_high on api"), "{out}");
    // Outside GitHub Actions: none.
    let o = d.run(&["run", "--fail-on", "never"], &[]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("::notice"), "{}", text(&o));
}
