//! vaktpost's own run log, through the binary: JSON lines per run in the seed layout's
//! `monitoring/logs/monitor.log`, no secret in any of them, daily rotation with seven
//! kept and all but the newest rotated file gzipped, and a log that cannot be written
//! being a warning rather than a failed run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

const TOKEN: &str = "tok-9f8e7d6c5b4a";
const PASSWORD: &str = "pw-hunter2-secret";

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.path().join(p)
    }
    fn write(&self, name: &str, text: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.arg("run").args(args).current_dir(self.0.path()).env_clear().env("TOKEN", TOKEN);
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        c.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn kinds(ev: &[serde_json::Value]) -> Vec<&str> {
    ev.iter().map(|e| e["event"].as_str().unwrap()).collect()
}

/// A healthy local monitor (a log directory) and one that is down and carries secrets.
fn seed_layout(d: &Dir, with_secret_monitor: bool) {
    d.write("app/app.log", b"2026-11-26T10:00:00Z INFO up\n");
    let mut yaml = format!(
        "monitors:\n  - name: app_logs\n    type: log_files\n    path: \"{}/*.log\"\n",
        d.path("app").display()
    );
    if with_secret_monitor {
        yaml.push_str(&format!(
            "  - name: api\n    type: http\n    url: \"http://admin:{PASSWORD}@127.0.0.1:9/health?token=${{TOKEN}}\"\n    timeout: 2\n    headers:\n      Authorization: \"Bearer ${{TOKEN}}\"\n"
        ));
    }
    d.write("monitoring/config/external_monitors.yml", yaml.as_bytes());
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn gunzip(p: &Path) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap()).read_to_string(&mut s).unwrap();
    s
}

#[test]
fn seed_layout_logs_every_result_and_timing_as_json_lines_without_secrets() {
    let d = Dir::new();
    seed_layout(&d, true);
    let o = d.run(&["--state", "st"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let log = d.path("monitoring/logs/monitor.log");
    let ev = events(&log);
    assert_eq!(kinds(&ev), ["run_start", "check", "check", "finding", "run_end"]);
    assert_eq!(ev[0]["config"], "monitoring/config/external_monitors.yml");
    assert_eq!(
        (ev[1]["monitor"].as_str(), ev[1]["status"].as_str(), ev[1]["level"].as_str()),
        (Some("app_logs"), Some("up"), Some("info"))
    );
    assert_eq!(ev[1]["metrics"]["files"], 1);
    assert_eq!(ev[1]["metrics"]["lines_read"], 1);
    assert_eq!(
        (ev[2]["monitor"].as_str(), ev[2]["status"].as_str(), ev[2]["level"].as_str()),
        (Some("api"), Some("down"), Some("error"))
    );
    assert_eq!(ev[2]["error_kind"], "connect");
    assert!(ev[2]["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(ev[3]["rule"], "endpoint_down");
    assert_eq!(ev[3]["severity"], "high");
    let end = &ev[4];
    assert_eq!(
        (end["monitors"].as_u64(), end["up"].as_u64(), end["down"].as_u64(), end["findings"].as_u64()),
        (Some(2), Some(1), Some(1), Some(1))
    );
    assert_eq!(end["status"], "down");
    assert!(end["checks_ms"]["total"].as_f64().is_some() && end["checks_ms"]["p95"].as_f64().is_some(), "{end}");
    assert!(end["duration_ms"].as_f64().is_some());
    assert!(end["notes"].is_array(), "{end}");
    // No secret anywhere under monitoring/ (the log) or in the report.
    for f in [log.clone(), d.path("vaktpost-report.json")] {
        let t = std::fs::read_to_string(&f).unwrap();
        for s in [TOKEN, PASSWORD] {
            assert!(!t.contains(s), "{s} leaked into {}:\n{t}", f.display());
        }
    }
    assert!(std::fs::read_to_string(&log).unwrap().contains("http://***@127.0.0.1:9/health?token=***"));

    // A second run the same day appends to the same file.
    let o = d.run(&["--state", "st"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(events(&log).len(), 10);
    assert_eq!(std::fs::read_dir(d.path("monitoring/logs")).unwrap().count(), 1);
}

#[test]
fn the_log_rotates_daily_keeps_seven_and_gzips_all_but_the_newest() {
    let d = Dir::new();
    seed_layout(&d, false);
    let log = d.write("logs/monitor.log", b"{\"event\":\"from the day before\"}\n");
    d.write("logs/monitor.log.1", b"day-1\n");
    for i in 2..=7 {
        d.write(&format!("logs/monitor.log.{i}.gz"), &gz(&format!("day-{i}\n")));
    }
    // The last write was two days ago: the next write starts a new day's file.
    std::fs::File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 86_400))
        .unwrap();
    let o = d.run(&["--state", "st", "--log-file", "logs/monitor.log"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let mut names: Vec<String> = std::fs::read_dir(d.path("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "monitor.log",
            "monitor.log.1",
            "monitor.log.2.gz",
            "monitor.log.3.gz",
            "monitor.log.4.gz",
            "monitor.log.5.gz",
            "monitor.log.6.gz",
            "monitor.log.7.gz"
        ]
    );
    assert_eq!(kinds(&events(&log)), ["run_start", "check", "run_end"]);
    assert_eq!(std::fs::read_to_string(d.path("logs/monitor.log.1")).unwrap(), "{\"event\":\"from the day before\"}\n");
    assert_eq!(gunzip(&d.path("logs/monitor.log.2.gz")), "day-1\n");
    assert_eq!(gunzip(&d.path("logs/monitor.log.7.gz")), "day-6\n");
    // day-7 was the eighth rotated file: deleted.
    for i in 2..=7 {
        assert_ne!(gunzip(&d.path(&format!("logs/monitor.log.{i}.gz"))), "day-7\n");
    }
}

#[test]
fn an_unwritable_log_is_a_warning_not_a_failed_run() {
    let d = Dir::new();
    seed_layout(&d, false);
    d.write("blocker", b"a file, not a directory\n");
    let o = d.run(&["--state", "st", "--log-file", "blocker/monitor.log"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("warning: run log not written: cannot create"), "{}", text(&o));
    assert!(d.path("vaktpost-report.json").exists());
}

#[test]
fn log_file_off_turns_the_seed_default_off() {
    let d = Dir::new();
    seed_layout(&d, false);
    let o = d.run(&["--state", "st", "--log-file", "off"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!d.path("monitoring/logs").exists());
    // Without the seed layout there is no log unless asked for.
    std::fs::rename(d.path("monitoring/config/external_monitors.yml"), d.path("vaktpost.yml")).unwrap();
    let o = d.run(&["--state", "st"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!d.path("monitoring/logs").exists());
}
