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
    /// Where the run's metrics went (`metrics:`, `--metrics`), one entry per output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics_outputs: Vec<MetricsOutput>,
    /// What is different from the previous run: alerts that opened, resolved, or started
    /// or stopped flapping, and monitors whose status changed.
    #[serde(default)]
    pub changes: Changes,
}

/// One metrics output of the run: the file, the Pushgateway, remote write or OTLP.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct MetricsOutput {
    /// `file`, `pushgateway`, `remote_write` or `otlp`.
    pub output: String,
    /// The path or URL (credentials redacted).
    pub target: String,
    /// Series written or sent.
    pub series: usize,
    pub ok: bool,
    /// Why it failed (secrets redacted); the next run writes or sends again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The difference from the previous run, what a reader wants first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Changes {
    /// Alerts that opened this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opened: Vec<ChangedAlert>,
    /// Alerts that resolved this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<ChangedAlert>,
    /// Open alerts whose monitor started flapping this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flapping: Vec<ChangedAlert>,
    /// Open alerts whose flapping episode settled this run (the problem goes on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settled: Vec<ChangedAlert>,
    /// Monitors whose status differs from the one their previous check had.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<StatusChange>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }
}

/// One alert in [`Changes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangedAlert {
    pub fingerprint: String,
    pub monitor: String,
    pub severity: Severity,
    pub message: String,
    /// How long it lasted (resolved alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lasted: Option<String>,
    /// The GitHub issue tracking it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_url: Option<String>,
}

/// A monitor whose status changed since its previous check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatusChange {
    pub monitor: String,
    pub from: Status,
    pub to: Status,
}

/// What a run saw of the GitHub API's rate limit (`x-ratelimit-remaining` and
/// `x-ratelimit-limit` of its last answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RateLimit {
    pub remaining: u64,
    pub limit: u64,
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
    /// The GitHub API rate limit after this run's last request to it (absent when the run
    /// made none): how much of the hour's budget is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_rate_limit: Option<RateLimit>,
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
            metrics_outputs: Vec::new(),
            changes: Changes::default(),
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

pub use crate::checks::metrics::{typed_metrics, MetricsSchema};
