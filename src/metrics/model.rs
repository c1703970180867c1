//! The metric model: plain data built from the report (its checks and its `history`
//! figures), rendered afterwards by each output. blackbox_exporter's names where one
//! exists (so Grafana's blackbox dashboards work), `vaktpost_*` for the rest; every
//! family is a gauge (each run is one observation).

use std::borrow::Cow;

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

/// A label of a series' own (`phase="tls"`, `window="24h"`): a static name, and a value
/// that is static but for the few taken from the report (memory series, collections).
pub type OwnLabel = (&'static str, Cow<'static, str>);

/// One series: its monitor's labels (an index into [`Model::sets`]), at most two labels
/// of its own after them, and its value. Label names are valid Prometheus names.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub set: u32,
    pub own: [Option<OwnLabel>; 2],
    pub value: f64,
}

impl Series {
    /// A series with only its set's labels.
    pub fn new(set: u32, value: f64) -> Series {
        Series { set, own: [None, None], value }
    }

    /// Its own labels, in order.
    pub fn own(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.own.iter().flatten().map(|(k, v)| (*k, v.as_ref()))
    }
}

/// Every family of one run, in [`FAMILIES`] order, plus the labels every series carries.
///
/// A monitor's labels (`monitor`, `type`, its own `labels`) are stored once, in `sets`,
/// and shared by its series: a thousand monitors make some 26,000 series, and copying
/// each monitor's label strings into each of its series was most of the model's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub families: Vec<Family>,
    /// Label sets the series point into; set 0 is empty (the run's own series).
    pub sets: Vec<Vec<(String, String)>>,
    /// `shard="K/N"` on a sharded run (the Pushgateway carries it in the grouping key).
    pub common: Vec<(String, String)>,
    /// When the run finished: remote write and OTLP timestamps.
    pub time: DateTime<Utc>,
}

impl Model {
    /// An empty model (no families, only the empty label set).
    pub fn empty(time: DateTime<Utc>) -> Model {
        Model { families: Vec::new(), sets: vec![Vec::new()], common: Vec::new(), time }
    }

    pub fn series_count(&self) -> usize {
        self.families.iter().map(|f| f.series.len()).sum()
    }

    /// Adds a label set; returns its index for [`Series::set`].
    pub fn add_set(&mut self, labels: Vec<(String, String)>) -> u32 {
        self.sets.push(labels);
        (self.sets.len() - 1) as u32
    }

    /// The labels of a series' set (its monitor's).
    pub fn set_of(&self, s: &Series) -> &[(String, String)] {
        self.sets.get(s.set as usize).map(Vec::as_slice).unwrap_or_default()
    }

    /// Every label of a series, `common` not included: its set's, then its own.
    pub fn labels<'a>(&'a self, s: &'a Series) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
        self.set_of(s).iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(s.own())
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
    model: Model,
}

/// A series' own labels: none, one or two, with static values.
fn own(labels: &[(&'static str, &'static str)]) -> [Option<OwnLabel>; 2] {
    let mut o = [None, None];
    for (slot, (k, v)) in o.iter_mut().zip(labels) {
        *slot = Some((*k, Cow::Borrowed(*v)));
    }
    o
}

/// One own label whose value comes from the report (bounded like every label value).
fn own_from(k: &'static str, v: &str) -> [Option<OwnLabel>; 2] {
    [Some((k, Cow::Owned(label_value(v)))), None]
}

impl Builder {
    fn add(&mut self, f: Id, set: u32, own: [Option<OwnLabel>; 2], value: f64) {
        self.families[f as usize].series.push(Series { set, own, value });
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
    let mut model = Model::empty(report.run.finished_at);
    model.sets.reserve(report.checks.len());
    let mut b = Builder { families, model };
    for c in &report.checks {
        monitor(&mut b, c, report.history.get(&c.name));
    }
    let counts = &report.counts;
    for (sev, n) in [("high", counts.high), ("medium", counts.medium), ("low", counts.low)] {
        b.add(Id::FINDINGS, 0, own(&[("severity", sev)]), n as f64);
    }
    b.add(Id::RUN_DURATION, 0, own(&[]), secs(report.run.duration_ms));
    b.add(Id::RUN_TIME, 0, own(&[]), report.run.finished_at.timestamp_millis() as f64 / 1000.0);
    let mut model = b.model;
    model.families = b.families;
    model.common = report.run.shard.iter().map(|s| ("shard".to_string(), s.clone())).collect();
    model
}

fn monitor(b: &mut Builder, c: &CheckResult, history: Option<&Value>) {
    let mut labels = vec![("monitor".to_string(), label_value(&c.name)), ("type".to_string(), label_value(&c.kind))];
    for (k, v) in &c.labels {
        let name = label_name(k);
        if !labels.iter().any(|(n, _)| *n == name) {
            labels.push((name, label_value(v)));
        }
    }
    let l = b.model.add_set(labels);
    for s in [Status::Up, Status::Degraded, Status::Down, Status::Skipped] {
        b.add(Id::STATUS, l, own(&[("status", s.as_str())]), (c.status == s) as u8 as f64);
    }
    // A skipped monitor was not checked this run: no probe figures, only its history.
    if c.status != Status::Skipped {
        let m = |k: &str| c.metric_f64(k);
        b.add(Id::SUCCESS, l, own(&[]), (c.status != Status::Down) as u8 as f64);
        b.add(Id::DURATION, l, own(&[]), secs(c.duration_ms));
        if c.kind == "http" {
            if let Some(code) = m("status_code") {
                b.add(Id::HTTP_STATUS, l, own(&[]), code);
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
                    b.add(Id::HTTP_PHASE, l, own(&[("phase", phase)]), secs(v));
                }
            }
        }
        let expiry = [rfc3339_secs(c.metrics.get("not_after")), rfc3339_secs(c.metrics.get("chain_not_after"))];
        if let Some(e) = expiry.into_iter().flatten().reduce(f64::min) {
            b.add(Id::SSL_EXPIRY, l, own(&[]), e);
        }
        if let Some(v) = m("dns_ms") {
            b.add(Id::DNS, l, own(&[]), secs(v));
        }
        let series = c.metrics.get("memory_series").and_then(Value::as_array);
        for s in series.into_iter().flatten().filter_map(Value::as_str) {
            if let Some(v) = m(s) {
                b.add(Id::MEMORY, l, own_from("series", s), v);
            }
        }
        if let Some(v) = m("memory_limit") {
            b.add(Id::MEMORY_LIMIT, l, own(&[]), v);
        }
        if let Some(p) = m("percent").filter(|_| series.is_some()) {
            b.add(Id::MEMORY_USED, l, own(&[]), p / 100.0);
        }
        if let Some(h) = m("hit_rate") {
            b.add(Id::HIT, l, own(&[("window", "run")]), h);
        }
        if c.kind == "chroma" {
            if let Some(n) = m("collections_count") {
                b.add(Id::CHROMA_COLLECTIONS, l, own(&[]), n);
            }
            for (k, v) in &c.metrics {
                if let (Some(coll), Some(n)) = (k.strip_prefix("records."), v.as_f64()) {
                    b.add(Id::CHROMA_RECORDS, l, own_from("collection", coll), n);
                }
            }
        }
    }
    let Some(h) = history else { return };
    let f = |k: &str| h.get(k).and_then(Value::as_f64);
    // The history figures' keys, spelt out (no key is formatted per monitor).
    for (w, uptime, errors) in [
        ("24h", "uptime_24h", "error_rate_24h"),
        ("7d", "uptime_7d", "error_rate_7d"),
        ("30d", "uptime_30d", "error_rate_30d"),
    ] {
        if let Some(u) = f(uptime) {
            b.add(Id::UPTIME, l, own(&[("window", w)]), u / 100.0);
        }
        if let Some(e) = f(errors) {
            b.add(Id::ERRORS, l, own(&[("window", w)]), e);
        }
    }
    let percentiles = [
        ("24h", [("50", "p50_24h_ms"), ("95", "p95_24h_ms"), ("99", "p99_24h_ms")], "hit_rate_24h"),
        ("7d", [("50", "p50_7d_ms"), ("95", "p95_7d_ms"), ("99", "p99_7d_ms")], "hit_rate_7d"),
    ];
    for (w, keys, hit) in percentiles {
        // `percentile`, not `quantile`: Prometheus keeps that label for summaries (promtool).
        for (p, key) in keys {
            if let Some(ms) = f(key) {
                b.add(Id::RESPONSE, l, own(&[("percentile", p), ("window", w)]), secs(ms));
            }
        }
        if let Some(r) = f(hit) {
            b.add(Id::HIT, l, own(&[("window", w)]), r);
        }
    }
    for (series, t) in h.get("memory").and_then(Value::as_object).into_iter().flatten() {
        if let Some(s) = t.get("slope_per_day").and_then(Value::as_f64) {
            b.add(Id::MEMORY_SLOPE, l, own_from("series", series), s);
        }
        if let Some(s) = t.get("leak_suspected").and_then(Value::as_bool) {
            b.add(Id::MEMORY_LEAK, l, own_from("series", series), s as u8 as f64);
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
