//! The metric model: plain data built from the report (its checks and its `history`
//! figures), rendered afterwards by each output. blackbox_exporter's names where one
//! exists (so Grafana's blackbox dashboards work), `vaktpost_*` for the rest; every
//! family is a gauge (each run is one observation).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::checks::{CheckResult, Status};
use crate::report::Report;

/// One metric family: its name, help, OTLP unit and series.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    /// The UCUM unit for OTLP (`s`, `By`, `1`), chosen so that Prometheus's OTLP
    /// translation keeps the name as it is; empty for counts, codes and timestamps.
    pub unit: &'static str,
    pub series: Vec<Series>,
}

/// One series: its labels (valid Prometheus label names, values as given) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Every family of one run, in [`FAMILIES`] order, plus the labels every series carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub families: Vec<Family>,
    /// `shard="K/N"` on a sharded run (the Pushgateway carries it in the grouping key).
    pub common: Vec<(String, String)>,
    /// When the run finished: remote write and OTLP timestamps.
    pub time: DateTime<Utc>,
}

impl Model {
    pub fn series_count(&self) -> usize {
        self.families.iter().map(|f| f.series.len()).sum()
    }
}

macro_rules! families {
    ($($id:ident = $name:literal, $unit:literal, $help:literal;)*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Clone, Copy)]
        enum Id { $($id,)* }
        /// (name, unit, help) of every family, in output order: the README's list.
        pub const FAMILIES: &[(&str, &str, &str)] = &[$(($name, $unit, $help),)*];
    };
}

families! {
    SUCCESS = "probe_success", "", "Whether the check succeeded (1: up or degraded, 0: down).";
    DURATION = "probe_duration_seconds", "s", "How long the check took, in seconds.";
    HTTP_STATUS = "probe_http_status_code", "", "HTTP status code of the last response.";
    HTTP_PHASE = "probe_http_duration_seconds", "s", "Duration of each phase of the HTTP request (median over the run's samples), in seconds.";
    SSL_EXPIRY = "probe_ssl_earliest_cert_expiry", "", "Earliest expiry of the served certificates, in Unix seconds.";
    DNS = "probe_dns_lookup_time_seconds", "s", "DNS lookup time, in seconds.";
    STATUS = "vaktpost_monitor_status", "", "The monitor's status in this run: 1 for the current one, 0 for the others.";
    UPTIME = "vaktpost_uptime_ratio", "1", "Share of the window the monitor was up (degraded counts as up), from vaktpost's history.";
    ERRORS = "vaktpost_error_ratio", "1", "Failed requests over requests in the window, from vaktpost's history.";
    RESPONSE = "vaktpost_response_time_seconds", "s", "Response-time percentiles (50, 95, 99) over the window, from vaktpost's history.";
    MEMORY = "vaktpost_memory_bytes", "By", "Memory series of the monitor (Redis used_memory, system used, ...), in bytes.";
    MEMORY_LIMIT = "vaktpost_memory_limit_bytes", "By", "What bounds the monitor's memory (maxmemory, total), in bytes.";
    MEMORY_USED = "vaktpost_memory_used_ratio", "1", "Memory used over its limit.";
    MEMORY_SLOPE = "vaktpost_memory_slope_per_day", "", "Trend of a memory series over the leak window (Theil-Sen), in the series' unit (bytes, or percent) per day.";
    MEMORY_LEAK = "vaktpost_memory_leak_suspected", "", "Whether the memory series grows steadily over the leak window (1) or not (0).";
    HIT = "vaktpost_redis_hit_ratio", "1", "Redis keyspace hits over lookups: window run is since the previous run.";
    CHROMA_COLLECTIONS = "vaktpost_chroma_collections", "", "Collections in the Chroma database.";
    CHROMA_RECORDS = "vaktpost_chroma_records", "", "Records in each watched Chroma collection.";
    FINDINGS = "vaktpost_findings", "", "Findings of this run by severity.";
    RUN_DURATION = "vaktpost_run_duration_seconds", "s", "How long the run took, in seconds.";
    RUN_TIME = "vaktpost_last_run_timestamp_seconds", "", "When the run finished, in Unix seconds.";
}

/// Label names every series may carry (or the outputs add); a monitor label of the same
/// name is written `label_<name>`.
pub const RESERVED: &[&str] = &[
    "monitor",
    "type",
    "job",
    "instance",
    "shard",
    "phase",
    "status",
    "window",
    "quantile",
    "series",
    "collection",
    "severity",
];

/// Longest label value kept, in bytes (Mimir's default limit is 2048).
pub const MAX_LABEL_VALUE: usize = 1024;

/// A valid Prometheus label name from a monitor label's key: `[a-zA-Z_][a-zA-Z0-9_]*`,
/// invalid characters as `_`, never `__`-prefixed (reserved by Prometheus) nor one of
/// [`RESERVED`].
pub fn label_name(raw: &str) -> String {
    let mut s: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if s.starts_with("__") || RESERVED.contains(&s.as_str()) {
        s = format!("label_{}", s.trim_start_matches('_'));
    }
    s
}

/// A label value bounded to [`MAX_LABEL_VALUE`] bytes, on a character boundary.
pub fn label_value(v: &str) -> String {
    if v.len() <= MAX_LABEL_VALUE {
        return v.to_string();
    }
    let mut end = MAX_LABEL_VALUE;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    v[..end].to_string()
}

struct Builder {
    families: Vec<Family>,
}

impl Builder {
    fn add(&mut self, f: Id, labels: &[(String, String)], extra: &[(&str, &str)], value: f64) {
        // One allocation for the vector: the monitor's labels, then the series' own.
        let mut l = Vec::with_capacity(labels.len() + extra.len());
        l.extend_from_slice(labels);
        l.extend(extra.iter().map(|(k, v)| (k.to_string(), label_value(v))));
        self.families[f as usize].series.push(Series { labels: l, value });
    }
}

fn secs(ms: f64) -> f64 {
    ms / 1000.0
}

fn rfc3339_secs(v: Option<&Value>) -> Option<f64> {
    let s = v?.as_str()?;
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp() as f64)
}

/// The model of one report: per monitor, then the run's own figures.
pub fn build(report: &Report) -> Model {
    let families = FAMILIES.iter().map(|(name, unit, help)| Family { name, unit, help, series: Vec::new() }).collect();
    let mut b = Builder { families };
    for c in &report.checks {
        monitor(&mut b, c, report.history.get(&c.name));
    }
    let none: &[(String, String)] = &[];
    let counts = &report.counts;
    for (sev, n) in [("high", counts.high), ("medium", counts.medium), ("low", counts.low)] {
        b.add(Id::FINDINGS, none, &[("severity", sev)], n as f64);
    }
    b.add(Id::RUN_DURATION, none, &[], secs(report.run.duration_ms));
    b.add(Id::RUN_TIME, none, &[], report.run.finished_at.timestamp_millis() as f64 / 1000.0);
    let common = report.run.shard.iter().map(|s| ("shard".to_string(), s.clone())).collect();
    Model { families: b.families, common, time: report.run.finished_at }
}

fn monitor(b: &mut Builder, c: &CheckResult, history: Option<&Value>) {
    let mut labels = vec![("monitor".to_string(), label_value(&c.name)), ("type".to_string(), label_value(&c.kind))];
    for (k, v) in &c.labels {
        let name = label_name(k);
        if !labels.iter().any(|(n, _)| *n == name) {
            labels.push((name, label_value(v)));
        }
    }
    let l = &labels;
    for s in [Status::Up, Status::Degraded, Status::Down, Status::Skipped] {
        b.add(Id::STATUS, l, &[("status", s.as_str())], (c.status == s) as u8 as f64);
    }
    // A skipped monitor was not checked this run: no probe figures, only its history.
    if c.status != Status::Skipped {
        let m = |k: &str| c.metric_f64(k);
        b.add(Id::SUCCESS, l, &[], (c.status != Status::Down) as u8 as f64);
        b.add(Id::DURATION, l, &[], secs(c.duration_ms));
        if c.kind == "http" {
            if let Some(code) = m("status_code") {
                b.add(Id::HTTP_STATUS, l, &[], code);
            }
            let phases = [
                ("resolve", "dns_ms"),
                ("connect", "connect_ms"),
                ("tls", "tls_ms"),
                ("processing", "ttfb_ms"),
                ("transfer", "transfer_ms"),
            ];
            for (phase, key) in phases {
                if let Some(v) = m(key) {
                    b.add(Id::HTTP_PHASE, l, &[("phase", phase)], secs(v));
                }
            }
        }
        let expiry = [rfc3339_secs(c.metrics.get("not_after")), rfc3339_secs(c.metrics.get("chain_not_after"))];
        if let Some(e) = expiry.into_iter().flatten().reduce(f64::min) {
            b.add(Id::SSL_EXPIRY, l, &[], e);
        }
        if let Some(v) = m("dns_ms") {
            b.add(Id::DNS, l, &[], secs(v));
        }
        let series = c.metrics.get("memory_series").and_then(Value::as_array);
        for s in series.into_iter().flatten().filter_map(Value::as_str) {
            if let Some(v) = m(s) {
                b.add(Id::MEMORY, l, &[("series", s)], v);
            }
        }
        if let Some(v) = m("memory_limit") {
            b.add(Id::MEMORY_LIMIT, l, &[], v);
        }
        if let Some(p) = m("percent").filter(|_| series.is_some()) {
            b.add(Id::MEMORY_USED, l, &[], p / 100.0);
        }
        if let Some(h) = m("hit_rate") {
            b.add(Id::HIT, l, &[("window", "run")], h);
        }
        if c.kind == "chroma" {
            if let Some(n) = m("collections_count") {
                b.add(Id::CHROMA_COLLECTIONS, l, &[], n);
            }
            for (k, v) in &c.metrics {
                if let (Some(coll), Some(n)) = (k.strip_prefix("records."), v.as_f64()) {
                    b.add(Id::CHROMA_RECORDS, l, &[("collection", coll)], n);
                }
            }
        }
    }
    let Some(h) = history else { return };
    let f = |k: &str| h.get(k).and_then(Value::as_f64);
    for w in ["24h", "7d", "30d"] {
        if let Some(u) = f(&format!("uptime_{w}")) {
            b.add(Id::UPTIME, l, &[("window", w)], u / 100.0);
        }
        if let Some(e) = f(&format!("error_rate_{w}")) {
            b.add(Id::ERRORS, l, &[("window", w)], e);
        }
    }
    for w in ["24h", "7d"] {
        // `percentile`, not `quantile`: Prometheus keeps that label for summaries (promtool).
        for p in ["50", "95", "99"] {
            if let Some(ms) = f(&format!("p{p}_{w}_ms")) {
                b.add(Id::RESPONSE, l, &[("percentile", p), ("window", w)], secs(ms));
            }
        }
        if let Some(r) = f(&format!("hit_rate_{w}")) {
            b.add(Id::HIT, l, &[("window", w)], r);
        }
    }
    for (series, t) in h.get("memory").and_then(Value::as_object).into_iter().flatten() {
        if let Some(s) = t.get("slope_per_day").and_then(Value::as_f64) {
            b.add(Id::MEMORY_SLOPE, l, &[("series", series)], s);
        }
        if let Some(s) = t.get("leak_suspected").and_then(Value::as_bool) {
            b.add(Id::MEMORY_LEAK, l, &[("series", series)], s as u8 as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_valid_and_never_reserved() {
        assert_eq!(label_name("team"), "team");
        assert_eq!(label_name("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(label_name("1st"), "_1st");
        assert_eq!(label_name(""), "_");
        assert_eq!(label_name("__name__"), "label_name__");
        assert_eq!(label_name("job"), "label_job");
        assert_eq!(label_name("monitor"), "label_monitor");
    }

    #[test]
    fn label_values_are_bounded_on_a_char_boundary() {
        let v = "é".repeat(MAX_LABEL_VALUE);
        let b = label_value(&v);
        assert!(b.len() <= MAX_LABEL_VALUE && b.len() >= MAX_LABEL_VALUE - 1);
    }

    #[test]
    fn every_family_name_follows_prometheus_naming() {
        for (name, unit, _) in FAMILIES {
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            match *unit {
                "s" => assert!(name.ends_with("_seconds"), "{name}"),
                "By" => assert!(name.ends_with("_bytes"), "{name}"),
                "1" => assert!(name.ends_with("_ratio"), "{name}"),
                _ => {}
            }
        }
    }
}
