//! The report: plain data that every output (JSON, job summary, console, annotations)
//! is rendered from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::{CheckResult, Status};
use crate::config::Severity;
use crate::rules::Finding;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub run: RunInfo,
    /// Worst status of the checks that ran (`up`, `degraded`, `down`), or `inconclusive`
    /// when the runner itself could not reach the network (see `run.inconclusive`).
    pub status: RunStatus,
    pub counts: Counts,
    /// One per selected monitor, in config order.
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    pub alerts: Vec<AlertAction>,
    /// Per monitor history aggregates (uptime, error rate, percentiles) when history is kept.
    #[schemars(with = "BTreeMap<String, HistoryFigures>")]
    pub history: BTreeMap<String, serde_json::Value>,
    /// Failures grouped by error kind and normalized message across monitors and runs, seen
    /// in the last 7 days, most frequent first (at most 10).
    #[serde(default)]
    pub top_errors: Vec<crate::state::agg::ErrorGroup>,
    /// Things the user should know that are not findings (state repaired, seed variables used).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_run_url: Option<String>,
    pub dry_run: bool,
    pub config: String,
    pub fail_on: String,
    /// Gate mode (`--wait`): how the wait went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// Why this run is inconclusive: its failures say nothing about the targets (the
    /// canary failed, or the GitHub API was unreachable). Nothing was opened, closed or sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive: Option<String>,
    /// For a merged report: the shards it was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_shards: Vec<String>,
}

/// The run as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Up,
    Degraded,
    Down,
    /// The runner lost its network: health was not shown either way.
    Inconclusive,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Up => "up",
            RunStatus::Degraded => "degraded",
            RunStatus::Down => "down",
            RunStatus::Inconclusive => "inconclusive",
        }
    }

    /// Worst of the counted check statuses.
    pub fn of_counts(c: &Counts) -> Self {
        if c.down > 0 {
            RunStatus::Down
        } else if c.degraded > 0 {
            RunStatus::Degraded
        } else {
            RunStatus::Up
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Gate {
    /// Check rounds, the first included.
    pub attempts: u32,
    /// Time from the first round until every check passed the gate; absent when it never did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_after_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    pub monitors: usize,
    pub up: usize,
    pub degraded: usize,
    pub down: usize,
    pub skipped: usize,
    pub findings: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

impl Counts {
    /// The counts of a report: its checks by status, its findings by severity.
    pub fn tally(checks: &[CheckResult], findings: &[Finding]) -> Counts {
        let mut c = Counts { monitors: checks.len(), findings: findings.len(), ..Default::default() };
        for r in checks {
            match r.status {
                Status::Up => c.up += 1,
                Status::Degraded => c.degraded += 1,
                Status::Down => c.down += 1,
                Status::Skipped => c.skipped += 1,
            }
        }
        for f in findings {
            match f.severity {
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Low => c.low += 1,
            }
        }
        c
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Opened,
    Updated,
    Resolved,
    Unchanged,
    Suppressed,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AlertAction {
    pub fingerprint: String,
    pub channel: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Report {
    /// A run's report before alerting: counts and status from its checks and findings;
    /// alerts, history and top errors are added by the stages that produce them.
    pub fn new(run: RunInfo, checks: Vec<CheckResult>, findings: Vec<Finding>, notes: Vec<String>) -> Report {
        let counts = Counts::tally(&checks, &findings);
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool { name: "vaktpost".into(), version: env!("CARGO_PKG_VERSION").into() },
            run,
            status: RunStatus::of_counts(&counts),
            counts,
            checks,
            findings,
            alerts: Vec::new(),
            history: BTreeMap::new(),
            top_errors: Vec::new(),
            notes,
        }
    }

    pub fn worst_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The gate level from `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Level(Severity),
    Never,
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "high" => Ok(FailOn::Level(Severity::High)),
            "medium" => Ok(FailOn::Level(Severity::Medium)),
            "low" => Ok(FailOn::Level(Severity::Low)),
            "never" | "none" => Ok(FailOn::Never),
            other => Err(format!("invalid --fail-on {other:?}; use high, medium, low or never")),
        }
    }
}

impl std::fmt::Display for FailOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailOn::Level(s) => f.write_str(s.as_str()),
            FailOn::Never => f.write_str("never"),
        }
    }
}

impl FailOn {
    /// Whether the report's findings reach the gate. An inconclusive run trips any gate
    /// level: health was not shown.
    pub fn trips(&self, report: &Report) -> bool {
        match self {
            FailOn::Never => false,
            FailOn::Level(_) if report.status == RunStatus::Inconclusive => true,
            FailOn::Level(level) => report.findings.iter().any(|f| f.severity >= *level),
        }
    }
}

/// The shape of `history[monitor]` as `state::figures::Figures::to_json` writes it (for the
/// JSON Schema only; the tests validate real reports against it).
#[allow(dead_code)]
#[derive(JsonSchema)]
pub struct HistoryFigures {
    /// Percent of the known time the monitor was up, per window; null without samples.
    uptime_24h: Option<f64>,
    uptime_7d: Option<f64>,
    uptime_30d: Option<f64>,
    /// Failed requests / requests, per window; null without requests.
    error_rate_24h: Option<f64>,
    error_rate_7d: Option<f64>,
    error_rate_30d: Option<f64>,
    /// Samples the window saw.
    samples_24h: u64,
    samples_7d: u64,
    samples_30d: u64,
    p50_24h_ms: Option<f64>,
    p95_24h_ms: Option<f64>,
    p99_24h_ms: Option<f64>,
    p50_7d_ms: Option<f64>,
    p95_7d_ms: Option<f64>,
    p99_7d_ms: Option<f64>,
    /// Redis: keyspace hits / lookups over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hit_rate_24h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hit_rate_7d: Option<f64>,
    /// Memory series ⇒ its trend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memory: Option<BTreeMap<String, MemoryTrend>>,
    /// Median response time per hour of the last 24h, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_time_24h_ms: Option<Vec<Option<f64>>>,
}

/// `state::figures::Trend` in the report.
#[allow(dead_code)]
#[derive(JsonSchema)]
pub struct MemoryTrend {
    slope_per_day: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days_to_full: Option<f64>,
    samples: u64,
    positive_share: f64,
    growth: f64,
    leak_suspected: bool,
}

/// `checks[].metrics`: an open map by design (`extract` names, log security categories),
/// so the values are typed: a scalar, a list, or a flat object of scalars.
pub struct MetricsSchema;

impl JsonSchema for MetricsSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Metrics".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let scalar = serde_json::json!({"type": ["number", "string", "boolean", "null"]});
        let flat = serde_json::json!({"type": "object", "additionalProperties": scalar});
        schemars::json_schema!({
            "description": "Metric name ⇒ value: a number, string, boolean or null; a list of those or of flat objects (`error_groups`, `security_violations`); or a flat object (`security_by_category`).",
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    scalar,
                    {"type": "array", "items": {"anyOf": [scalar, flat]}},
                    flat
                ]
            }
        })
    }
}

/// Metric value shapes for [`KIND_METRICS`].
#[derive(Clone, Copy)]
enum M {
    /// A number (null when a figure was not finite).
    Num,
    Str,
    Bool,
    /// A list of strings.
    Strs,
    /// A list of flat objects.
    Objs,
    /// A flat object of scalars.
    Map,
}

/// Each check kind's metrics, by name (see the README's **Metrics** lines). A kind's map is
/// closed, apart from the families listed in [`KIND_PATTERNS`] and an `http` monitor's
/// `extract:` names (numbers), so a metric added without its schema fails the tests.
const KIND_METRICS: &[(&str, &[(&str, M)])] = {
    use M::*;
    &[
        (
            "http",
            &[
                ("response_time_ms", Num),
                ("samples", Num),
                ("errors", Num),
                ("error_rate", Num),
                ("p50_ms", Num),
                ("p95_ms", Num),
                ("dns_ms", Num),
                ("connect_ms", Num),
                ("tls_ms", Num),
                ("ttfb_ms", Num),
                ("transfer_ms", Num),
                ("attempts", Num),
                ("status_code", Num),
                ("body_bytes", Num),
                ("redirects", Num),
                ("http_version", Str),
                ("tls_version", Str),
                ("days_left", Num),
                ("not_after", Str),
                ("version", Str),
                ("security_violations", Objs),
            ],
        ),
        (
            "ssl",
            &[
                ("days_left", Num),
                ("not_after", Str),
                ("attempts", Num),
                ("dns_ms", Num),
                ("connect_ms", Num),
                ("tls_ms", Num),
                ("tls_version", Str),
                ("issuer", Str),
                ("subject", Str),
                ("sans", Strs),
                ("chain_length", Num),
                ("chain_days_left", Num),
                ("chain_not_after", Str),
                ("chain_valid", Bool),
                ("chain_error", Str),
                ("hostname_valid", Bool),
                ("expired", Bool),
                ("cert_error", Str),
            ],
        ),
        (
            "redis",
            &[
                ("attempts", Num),
                ("used_memory", Num),
                ("used_memory_rss", Num),
                ("used_memory_peak", Num),
                ("maxmemory", Num),
                ("total_system_memory", Num),
                ("percent", Num),
                ("percent_of", Str),
                ("memory_limit", Num),
                ("memory_series", Strs),
                ("fragmentation_ratio", Num),
                ("maxmemory_policy", Str),
                ("connected_clients", Num),
                ("blocked_clients", Num),
                ("redis_version", Str),
                ("uptime_s", Num),
                ("evicted_keys", Num),
                ("rejected_connections", Num),
                ("keyspace_hits", Num),
                ("keyspace_misses", Num),
                ("restarted", Bool),
                ("evicted_keys_delta", Num),
                ("rejected_connections_delta", Num),
                ("lookups", Num),
                ("keyspace_hits_delta", Num),
                ("keyspace_misses_delta", Num),
                ("hit_rate_scope", Str),
                ("hit_rate", Num),
                ("percent_unknown", Bool),
            ],
        ),
        (
            "chroma",
            &[("heartbeat_ok", Bool), ("version", Str), ("collections_count", Num), ("collections_missing", Strs)],
        ),
        (
            "status_page",
            &[
                ("provider", Str),
                ("indicator", Str),
                ("page_indicator", Str),
                ("affected_components", Strs),
                ("incidents", Num),
                ("incident_titles", Strs),
                ("incident_urls", Strs),
                ("maintenances", Num),
                ("maintenance_titles", Strs),
                ("unrecognized_statuses", Strs),
                ("status_summary", Str),
                ("components_missing", Strs),
            ],
        ),
        (
            "railway",
            &[
                ("max_build_time_s", Num),
                ("rate_limit_remaining", Num),
                ("rate_limited_wait_ms", Num),
                ("deployment_status", Str),
                ("deployment_id", Str),
                ("deployment_url", Str),
                ("deployment_created_at", Str),
                ("deployment_age_s", Num),
                ("deployment_age", Str),
                ("deployment_in_progress", Bool),
                ("unrecognized_statuses", Strs),
            ],
        ),
        (
            "system",
            &[
                ("total", Num),
                ("available", Num),
                ("used", Num),
                ("percent", Num),
                ("memory_series", Strs),
                ("memory_limit", Num),
            ],
        ),
        (
            "log_files",
            &[
                ("files", Num),
                ("rotated_files", Num),
                ("compressed_files", Num),
                ("total_bytes", Num),
                ("largest_bytes", Num),
                ("largest_file", Str),
                ("largest_size", Str),
                ("oldest_uncompressed_age_s", Num),
                ("oldest_uncompressed_file", Str),
                ("oldest_uncompressed_age", Str),
                ("stale_files", Strs),
                ("bytes_read", Num),
                ("bytes_skipped", Num),
                ("lines_read", Num),
                ("binary_lines_skipped", Num),
                ("rotations", Num),
                ("truncations", Num),
                ("error_count", Num),
                ("error_groups_total", Num),
                ("new_error_groups", Num),
                ("new_error_sample", Str),
                ("top_error", Str),
                ("error_groups", Objs),
                ("security_events", Num),
                ("security_by_category", Map),
                ("security_samples", Map),
                ("security_summary", Str),
            ],
        ),
    ]
};

/// Metric families whose names carry a key: `components.<name>` (status), `records.<collection>`.
const KIND_PATTERNS: &[(&str, &str, M)] =
    &[("status_page", r"^components\.", M::Str), ("chroma", r"^records\.", M::Num)];

fn metric_schema(m: M) -> serde_json::Value {
    use serde_json::json;
    let scalar = json!({"type": ["number", "string", "boolean", "null"]});
    match m {
        M::Num => json!({"type": ["number", "null"]}),
        M::Str => json!({"type": "string"}),
        M::Bool => json!({"type": "boolean"}),
        M::Strs => json!({"type": "array", "items": {"type": "string"}}),
        M::Objs => json!({"type": "array", "items": {"type": "object", "additionalProperties": scalar}}),
        M::Map => json!({"type": "object", "additionalProperties": scalar}),
    }
}

/// Schema transform on `CheckResult`: `metrics` typed by the check's `type`.
pub fn typed_metrics(schema: &mut schemars::Schema) {
    use serde_json::json;
    let mut cases = Vec::new();
    for (kind, metrics) in KIND_METRICS {
        let props: serde_json::Map<String, serde_json::Value> =
            metrics.iter().map(|(name, m)| (name.to_string(), metric_schema(*m))).collect();
        let patterns: serde_json::Map<String, serde_json::Value> = KIND_PATTERNS
            .iter()
            .filter(|(k, _, _)| k == kind)
            .map(|(_, p, m)| (p.to_string(), metric_schema(*m)))
            .collect();
        let additional = if *kind == "http" { metric_schema(M::Num) } else { json!(false) };
        let mut metrics = json!({"type": "object", "properties": props, "additionalProperties": additional});
        if !patterns.is_empty() {
            metrics["patternProperties"] = patterns.into();
        }
        // `additionalProperties: true` keeps these wrappers open (the report schema closes
        // every object that does not say).
        cases.push(json!({
            "if": {"properties": {"type": {"const": kind}}, "required": ["type"], "additionalProperties": true},
            "then": {"properties": {"metrics": metrics}, "additionalProperties": true}
        }));
    }
    schema.insert("allOf".into(), cases.into());
}
