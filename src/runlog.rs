//! vaktpost's own run log (`--log-file`; the seed's `monitoring/logs/monitor.log`): one
//! JSON object per line for the start and end of each run (totals and timings), every
//! check result, finding and alert action, so `tail -f` and `jq` show what vaktpost did
//! over time on a runner that keeps its files. Rotated daily by `file-rotate` like the
//! seed's logrotate (`daily`, `rotate 7`, `compress`, `delaycompress`). Every string is
//! redacted before it is written; a log that cannot be written is a warning, never a
//! failed run.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate, TimeFrequency};
use serde_json::{json, Map, Value};

use crate::checks::Status;
use crate::config::Severity;
use crate::redact::Redactor;
use crate::report::{Action, Report};

/// Rotated files kept: `monitor.log.1` … `monitor.log.7` (the seed's `rotate 7`).
pub const KEEP: usize = 7;
/// Rotated files left uncompressed, newest first (logrotate's `delaycompress`).
pub const UNCOMPRESSED: usize = 1;
/// Numeric metrics logged per check, at most.
const MAX_METRICS: usize = 40;

/// Where the seed layout puts the log: `monitoring/logs/monitor.log` next to
/// `monitoring/config/external_monitors.yml`, when that is the config in use.
pub fn default_path(config_file: &Path) -> Option<PathBuf> {
    if !config_file.ends_with("monitoring/config/external_monitors.yml") {
        return None;
    }
    Some(config_file.parent()?.parent()?.join("logs").join("monitor.log"))
}

/// `--log-file off` (or `none`, `-`) turns the log off, also in the seed layout.
pub fn is_off(arg: &str) -> bool {
    matches!(arg.trim().to_ascii_lowercase().as_str(), "off" | "none" | "-" | "false")
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Replaces secrets in every string of a value.
fn redact(v: &mut Value, r: &Redactor) {
    match v {
        Value::String(s) => *s = r.redact_text(s),
        Value::Array(a) => a.iter_mut().for_each(|x| redact(x, r)),
        Value::Object(o) => o.values_mut().for_each(|x| redact(x, r)),
        _ => {}
    }
}

fn line(mut v: Value, r: &Redactor) -> String {
    redact(&mut v, r);
    v.to_string()
}

fn level_of(s: Status) -> &'static str {
    match s {
        Status::Up | Status::Skipped => "info",
        Status::Degraded => "warn",
        Status::Down => "error",
    }
}

fn run_level(s: crate::report::RunStatus) -> &'static str {
    use crate::report::RunStatus;
    match s {
        RunStatus::Up => "info",
        RunStatus::Degraded | RunStatus::Inconclusive => "warn",
        RunStatus::Down => "error",
    }
}

/// The lines one run adds to the log, in order: `run_start`, one `check` per result, one
/// `finding` per finding, one `alert` per alert action, `run_end`.
pub fn lines(report: &Report, r: &Redactor) -> Vec<String> {
    let run = &report.run;
    let mut out = Vec::new();
    out.push(line(
        json!({
            "ts": ts(run.started_at), "level": "info", "event": "run_start",
            "version": report.tool.version, "config": run.config, "shard": run.shard,
            "dry_run": run.dry_run, "fail_on": run.fail_on, "run_url": run.github_run_url,
        }),
        r,
    ));
    for c in &report.checks {
        let metrics: Map<String, Value> = c
            .metrics
            .iter()
            .filter(|(_, v)| v.is_number() || v.is_boolean())
            .take(MAX_METRICS)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut v = json!({
            "ts": ts(c.started_at), "level": level_of(c.status), "event": "check",
            "monitor": c.name, "type": c.kind, "target": c.target, "status": c.status.as_str(),
            "duration_ms": c.duration_ms, "metrics": metrics,
        });
        if let Some(e) = &c.error {
            v["error_kind"] = json!(e.kind.as_str());
            v["error"] = json!(e.message);
        }
        if let Some(m) = &c.message {
            v["message"] = json!(m);
        }
        out.push(line(v, r));
    }
    for f in &report.findings {
        let level = match f.severity {
            Severity::High => "error",
            Severity::Medium => "warn",
            Severity::Low => "info",
        };
        out.push(line(
            json!({
                "ts": ts(run.finished_at), "level": level, "event": "finding", "monitor": f.monitor,
                "rule": f.rule, "severity": f.severity.as_str(), "message": f.message,
                "fingerprint": f.fingerprint, "carried_over": f.carried_over,
            }),
            r,
        ));
    }
    for a in &report.alerts {
        let mut v = json!({
            "ts": ts(run.finished_at), "level": if a.action == Action::Failed { "error" } else { "info" },
            "event": "alert", "channel": a.channel, "action": a.action, "fingerprint": a.fingerprint,
        });
        if let Some(n) = a.issue_number {
            v["issue_number"] = json!(n);
        }
        if let Some(u) = &a.url {
            v["url"] = json!(u);
        }
        if let Some(e) = &a.error {
            v["error"] = json!(e);
        }
        out.push(line(v, r));
    }
    // Performance: how long the checks took, next to the run's own duration.
    let mut ran: Vec<(f64, &str)> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Skipped)
        .map(|c| (c.duration_ms, c.name.as_str()))
        .collect();
    ran.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pct =
        |p: f64| -> Option<f64> { (!ran.is_empty()).then(|| ran[((ran.len() - 1) as f64 * p).round() as usize].0) };
    let c = &report.counts;
    out.push(line(
        json!({
            "ts": ts(run.finished_at), "level": run_level(report.status), "event": "run_end",
            "status": report.status.as_str(), "duration_ms": run.duration_ms,
            "monitors": c.monitors, "up": c.up, "degraded": c.degraded, "down": c.down, "skipped": c.skipped,
            "findings": c.findings, "high": c.high, "medium": c.medium, "low": c.low,
            "alerts": report.alerts.len(),
            "alert_failures": report.alerts.iter().filter(|a| a.action == Action::Failed).count(),
            "checks_ms": {
                "total": ran.iter().map(|x| x.0).sum::<f64>(),
                "p50": pct(0.5), "p95": pct(0.95), "max": ran.last().map(|x| x.0),
                "slowest": ran.last().map(|x| x.1),
            },
            "notes": report.notes,
        }),
        r,
    ));
    out
}

/// The line for a run that could not finish (vaktpost's own failure).
pub fn failure_line(at: DateTime<Utc>, error: &str, r: &Redactor) -> String {
    line(json!({"ts": ts(at), "level": "error", "event": "run_failed", "error": error}), r)
}

/// Appends `lines` to the log at `path` (absolute), rotating it first when its last
/// write was on an earlier day.
pub fn append(path: &Path, lines: &[String]) -> Result<(), String> {
    if lines.is_empty() {
        return Ok(());
    }
    let dir = match (path.parent(), path.file_name()) {
        (Some(d), Some(_)) if !d.as_os_str().is_empty() => d,
        _ => {
            return Err(format!(
                "{} is not a file path; pass --log-file like monitoring/logs/monitor.log",
                path.display()
            ))
        }
    };
    // file-rotate panics where it cannot create or list the directory; check first.
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // Overlapping runs (shards on one runner) must not rotate the same files at once.
    let _lock = crate::fsutil::Lock::acquire(dir, std::time::Duration::from_secs(10))
        .map_err(|e| format!("cannot lock {}: {e}", dir.display()))?;
    let mut w = FileRotate::new(
        path,
        AppendCount::new(KEEP),
        ContentLimit::Time(TimeFrequency::Daily),
        Compression::OnRotate(UNCOMPRESSED),
        None,
    );
    let mut buf = String::new();
    for l in lines {
        buf.push_str(l);
        buf.push('\n');
    }
    // One write: the rotation check happens once, so a run's lines stay in one file.
    w.write_all(buf.as_bytes()).and_then(|_| w.flush()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_layout_default() {
        assert_eq!(
            default_path(Path::new("/w/monitoring/config/external_monitors.yml")),
            Some(PathBuf::from("/w/monitoring/logs/monitor.log"))
        );
        assert_eq!(default_path(Path::new("/w/vaktpost.yml")), None);
        assert!(is_off("off") && is_off(" None ") && !is_off("x.log"));
    }
}
