//! What a check produces, and how a monitor is sent to its check kind (listed in `kinds.rs`).
//! A check never returns `Err` for a target problem: a target that is down is a
//! [`CheckResult`] with `status: down` and an [`ErrorKind`].

pub mod kinds;
pub mod metrics;
pub mod monitor;
pub mod net;
pub mod transport;

// The one list of check kinds: `type:` => variant(module::options). Each line also declares
// the kind's module (`src/checks/<module>.rs`); see `kinds.rs`.
kinds::kinds! {
    "http" => Http(http::HttpOptions),
    "ssl" => Ssl(ssl::SslOptions),
    "redis" => Redis(redis::RedisOptions),
    "chroma" => Chroma(chroma::ChromaOptions),
    "status_page" => StatusPage(status_page::StatusPageOptions),
    "railway" => Railway(railway::RailwayOptions),
    "system" => System(system::SystemOptions),
    "tcp" => Tcp(tcp::TcpOptions),
    "dns" => Dns(dns::DnsOptions),
    "domain" => Domain(domain::DomainOptions),
    "log_files" => LogFiles(log_files::LogFilesOptions),
}

use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use kinds::Kind;
pub use monitor::{Common, Monitor, COMMON_KEYS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Degraded,
    Down,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
            Status::Skipped => "skipped",
        }
    }
    /// Reachable and serving, possibly slowly.
    pub fn is_up(self) -> bool {
        matches!(self, Status::Up | Status::Degraded)
    }
    pub fn emoji(self) -> &'static str {
        match self {
            Status::Up => "🟢",
            Status::Degraded => "🟡",
            Status::Down => "🔴",
            Status::Skipped => "⚪",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Dns,
    Connect,
    Timeout,
    Tls,
    HttpStatus,
    Assertion,
    Protocol,
    Auth,
    Config,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Assertion => "assertion",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Auth => "auth",
            ErrorKind::Config => "config",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CheckError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CheckError { kind, message: message.into() }
    }
}

/// How a failing check was confirmed within the run (SPEC §3 "Trust before alerting").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Confirmation {
    /// Checks made in this run: the first plus its re-checks.
    pub attempts: u32,
    /// What the first check saw.
    pub first_error: CheckError,
    /// A re-check passed: the failure was a blip and the result is the passing one.
    pub recovered: bool,
    /// Why re-checking stopped before `confirm.attempts` (the run's deadline was near).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_short: Option<String>,
}

/// Metric values: numbers, strings, booleans, or lists of strings, by name.
pub type Metrics = serde_json::Map<String, serde_json::Value>;

/// The outcome of one monitor in one run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = metrics::typed_metrics)]
pub struct CheckResult {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// What was checked, with credentials and secret query parameters redacted.
    pub target: String,
    pub status: Status,
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    #[schemars(with = "metrics::MetricsSchema")]
    pub metrics: Metrics,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CheckError>,
    /// Why the status is `degraded`, or other notes for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `skipped`: when this monitor last ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The monitor's `depends_on` (upstream monitors such as a provider's status page),
    /// so outputs can say when an upstream incident explains a failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// In-run confirmation of a failure: how many checks this run made and what the first
    /// one saw. Absent when the first check passed (healthy runs pay nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirmation>,
    /// The monitor keeps changing state (see `defaults.flapping`); its availability alert
    /// stays open for the episode.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flapping: bool,
    /// Data this check keeps for its next run (counters for deltas, file offsets), saved
    /// in the state and handed back as [`Effective::prev`]. Not part of the report.
    #[serde(skip)]
    #[schemars(skip)]
    pub carry: Option<serde_json::Value>,
}

impl CheckResult {
    pub fn new(m: &Monitor, target: String, started_at: DateTime<Utc>) -> Self {
        CheckResult {
            name: m.common.name.clone(),
            kind: m.kind.type_name().to_string(),
            target,
            status: Status::Up,
            started_at,
            duration_ms: 0.0,
            metrics: Metrics::new(),
            error: None,
            message: None,
            last_checked_at: None,
            labels: m.common.labels.clone(),
            depends_on: m.common.depends_on.clone(),
            confirm: None,
            flapping: false,
            carry: None,
        }
    }

    pub fn fail(mut self, err: CheckError) -> Self {
        self.status = Status::Down;
        self.error = Some(err);
        self
    }

    pub fn metric_f64(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).and_then(|v| v.as_f64())
    }

    pub fn set(&mut self, name: &str, v: impl Into<serde_json::Value>) {
        self.metrics.insert(name.to_string(), v.into());
    }
}

/// Settings resolved from the monitor and `defaults`.
#[derive(Debug, Clone)]
pub struct Effective {
    pub timeout: Duration,
    pub retries: u32,
    pub samples: u32,
    /// What this monitor's previous check left in [`CheckResult::carry`], if any.
    pub prev: Option<serde_json::Value>,
}

/// Shared, per-run resources for checks (DNS resolver, TLS configs, redaction).
pub struct CheckEnv {
    pub net: net::Net,
    pub redactor: crate::redact::Redactor,
    /// How retries wait: the run's sleep and seed (`retry::run`).
    pub waiter: crate::retry::Waiter,
}

impl CheckEnv {
    /// Fresh network state, real sleeps: for tests and embedding.
    pub fn new(redactor: crate::redact::Redactor) -> CheckEnv {
        CheckEnv { net: net::Net::new(), redactor, waiter: crate::retry::Waiter::real() }
    }
}

/// What a monitor points at, redacted, for the report.
pub fn target_of(m: &Monitor, redactor: &crate::redact::Redactor) -> String {
    redactor.redact_url(&m.kind.target())
}

/// Runs one monitor once. Never panics on target behaviour; never returns `Err`.
pub async fn run_check(m: &Monitor, eff: &Effective, env: &CheckEnv, started_at: DateTime<Utc>) -> CheckResult {
    let t0 = std::time::Instant::now();
    let result = CheckResult::new(m, target_of(m, &env.redactor), started_at);
    let mut result = m.kind.check(eff, env, result).await;
    result.duration_ms = ms(t0.elapsed());
    scrub(&mut result, &env.redactor);
    result
}

/// Longest error message or note a result keeps: remote text (a 200 KB URL, a body) must
/// not flood the report, the summary, issues and the run log.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// Where a check's text enters its result for good: secrets redacted first (so a cut
/// never leaves half a secret), then bounded.
fn scrub(r: &mut CheckResult, redactor: &crate::redact::Redactor) {
    let clean = |s: &str| crate::untrusted::bound(&redactor.redact_text(s), MAX_MESSAGE_CHARS);
    if let Some(e) = &mut r.error {
        e.message = clean(&e.message);
    }
    if let Some(m) = &mut r.message {
        *m = clean(m);
    }
    // String metrics (extracted values, status-page titles) can echo a request's secrets.
    for v in r.metrics.values_mut() {
        match v {
            serde_json::Value::String(s) => *s = redactor.redact_text(s),
            serde_json::Value::Array(a) => {
                for x in a.iter_mut() {
                    if let serde_json::Value::String(s) = x {
                        *s = redactor.redact_text(s);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Milliseconds with three decimals, the unit of every `*_ms` field.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}
