//! The configuration as plain serde types. Loading (YAML, `${VAR}`, locations) lives in
//! `load.rs`; checks that need more than one field live in `validate.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize};

use crate::checks::Monitor;
use crate::values::confirm::ConfirmSchema;
use crate::values::{Confirm, Dur, Secret};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults applied to every monitor that does not set its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// What to check.
    #[serde(default)]
    pub monitors: Vec<Monitor>,
    /// Rules that turn results into findings. A rule with the name of a default rule
    /// replaces it; `enabled: false` turns a default rule off.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Where alerts go.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Where state and history are kept.
    #[serde(default)]
    pub state: StateConfig,
    /// Report and job summary options.
    #[serde(default)]
    pub report: ReportConfig,
    /// The run's results as Prometheus metrics: a text file, a Pushgateway, remote write,
    /// OTLP (README "Metrics").
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The static status site `vaktpost pages` renders.
    #[serde(default)]
    pub pages: PagesConfig,
}

pub const TOP_LEVEL_KEYS: &[&str] = &["defaults", "monitors", "rules", "alerts", "state", "report", "metrics", "pages"];

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Per-request timeout.
    #[serde(default = "d_timeout")]
    pub timeout: Dur,
    /// Extra attempts for retryable failures (connect errors, timeouts, 5xx, 408, 429).
    #[serde(default)]
    pub retries: u32,
    /// Requests per run for `http` monitors (error rate and percentiles come from these).
    #[serde(default = "d_one")]
    pub samples: u32,
    /// Monitors checked at once.
    #[serde(default = "d_concurrency")]
    pub concurrency: usize,
    /// Monitors checked at once against one host:port.
    #[serde(default = "d_per_host")]
    pub per_host_concurrency: usize,
    /// Check each monitor at most this often; 0 means every run. Defaults to
    /// `$MONITORING_INTERVAL` (the seed's variable) when that is set.
    #[serde(default)]
    pub interval: Option<Dur>,
    /// The whole run's deadline; checks still running then end as `timeout`.
    #[serde(default = "d_deadline")]
    pub deadline: Dur,
    /// Labels added to every monitor (and to its findings).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Re-check a failing monitor within the run before it counts as `down`
    /// (`false` turns it off; a monitor's own `confirm` wins).
    #[serde(default)]
    #[schemars(with = "ConfirmSchema")]
    pub confirm: Confirm,
    /// When a monitor that keeps changing state counts as flapping (`false` turns it off).
    #[serde(default)]
    #[schemars(with = "FlappingSchema")]
    pub flapping: Flapping,
    /// A monitor of something outside your own systems (a public site): when it fails, the
    /// runner's own network is in doubt and the run is `inconclusive`.
    #[serde(default)]
    pub canary: Option<String>,
}

/// Flap detection: a monitor whose up/down state changed at least `transitions` times
/// within `window` is flapping until it has kept one state for `settle`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Flapping {
    pub enabled: bool,
    pub transitions: u32,
    pub window: Dur,
    pub settle: Dur,
}

pub const FLAPPING_DEFAULT: Flapping =
    Flapping { enabled: true, transitions: 4, window: Dur::secs(3600), settle: Dur::secs(15 * 60) };

impl Default for Flapping {
    fn default() -> Self {
        FLAPPING_DEFAULT
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FlappingFields {
    /// State changes (up→down or down→up) within `window` that make a monitor flapping
    /// (2 to 100; default 4).
    #[serde(default)]
    transitions: Option<u32>,
    /// How far back state changes count (default 1h).
    #[serde(default)]
    window: Option<Dur>,
    /// How long a flapping monitor must keep one state to settle (default 15m).
    #[serde(default)]
    settle: Option<Dur>,
}

/// `false`, or `{transitions, window, settle}`.
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum FlappingSchema {
    OnOff(bool),
    Settings(FlappingFields),
}

impl<'de> Deserialize<'de> for Flapping {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Flapping;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`false`, `true`, or {transitions: 4, window: 1h, settle: 15m}")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flapping, E> {
                Ok(Flapping { enabled: v, ..FLAPPING_DEFAULT })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Flapping, A::Error> {
                let f = FlappingFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let fl = Flapping {
                    enabled: true,
                    transitions: f.transitions.unwrap_or(FLAPPING_DEFAULT.transitions),
                    window: f.window.unwrap_or(FLAPPING_DEFAULT.window),
                    settle: f.settle.unwrap_or(FLAPPING_DEFAULT.settle),
                };
                if !(2..=100).contains(&fl.transitions) {
                    return Err(de::Error::custom(format!(
                        "flapping.transitions must be between 2 and 100, got {}",
                        fl.transitions
                    )));
                }
                if fl.window.get().is_zero() || fl.window.get() > std::time::Duration::from_secs(7 * 86400) {
                    return Err(de::Error::custom("flapping.window must be more than 0 and at most 7d"));
                }
                if fl.settle.get() > fl.window.get() {
                    return Err(de::Error::custom("flapping.settle must not be longer than flapping.window"));
                }
                Ok(fl)
            }
        }
        d.deserialize_any(V)
    }
}

fn d_timeout() -> Dur {
    Dur::secs(10)
}
fn d_one() -> u32 {
    1
}
// Sized so 1,000 monitors on one host with 100 ms latency finish in 4 rounds (SPEC §8).
fn d_concurrency() -> usize {
    512
}
fn d_per_host() -> usize {
    256
}
fn d_deadline() -> Dur {
    Dur::secs(300)
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            timeout: d_timeout(),
            retries: 0,
            samples: 1,
            concurrency: d_concurrency(),
            per_host_concurrency: d_per_host(),
            interval: None,
            deadline: d_deadline(),
            labels: BTreeMap::new(),
            confirm: Confirm::default(),
            flapping: Flapping::default(),
            canary: None,
        }
    }
}
pub(super) fn d_true() -> bool {
    true
}

/// How serious a finding is; a value type checks use too (their default rules), so it
/// lives in `values`.
pub use crate::values::Severity;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    /// CEL expression over the result's variables. Required for a new rule.
    #[serde(default)]
    pub condition: Option<String>,
    /// Text with `{name}` and `{variable}` placeholders.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Raise the severity when another CEL condition holds.
    #[serde(default)]
    pub escalate: Option<Vec<Escalation>>,
    /// Monitor names or globs this rule applies to (default: all).
    #[serde(default)]
    pub monitors: Option<Vec<String>>,
    /// Consecutive failing runs before the rule fires.
    #[serde(default, rename = "for")]
    pub for_runs: Option<u32>,
    /// Consecutive passing runs before a finding resolves.
    #[serde(default)]
    pub resolve_after: Option<u32>,
    #[serde(default = "d_true")]
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub when: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// `"2026-12-01T02:00"` (once) or `"02:00"` (every day, or on `weekdays`).
    pub start: String,
    pub duration: Dur,
    /// IANA time zone of `start`; default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// `mon` … `sun`; empty means every day.
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// Monitor names or globs; empty means all.
    #[serde(default)]
    pub monitors: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

// The alert channels' sections and `AlertsConfig` are in `config::channels`.
pub use super::channels::*;

/// Metrics outputs, each optional (SPEC §6 "Metrics"). A failing endpoint is a note in the
/// report, never a failed run (unless `--fail-on-metrics-error`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Write the Prometheus text exposition format here, atomically (node_exporter's
    /// textfile collector: a `*.prom` file in its `--collector.textfile.directory`).
    /// `--metrics PATH` overrides it.
    #[serde(default)]
    pub file: Option<String>,
    /// The `instance` label (Pushgateway grouping key, remote write label, OTLP
    /// `service.instance.id`). Default: `$GITHUB_REPOSITORY`, else the host name, else `vaktpost`.
    #[serde(default)]
    pub instance: Option<String>,
    /// Push to a Prometheus Pushgateway, replacing this run's group.
    #[serde(default)]
    pub pushgateway: Option<PushgatewayConfig>,
    /// Prometheus remote write (protobuf + snappy): Prometheus's own receiver, Mimir, Grafana Cloud.
    #[serde(default)]
    pub remote_write: Option<RemoteWriteConfig>,
    /// OTLP/HTTP protobuf metrics (an OpenTelemetry Collector, or any OTLP receiver).
    #[serde(default)]
    pub otlp: Option<OtlpConfig>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushgatewayConfig {
    /// The Pushgateway's base URL, e.g. `http://pushgateway:9091` (userinfo is sent as basic auth).
    pub url: String,
    /// The `job` of the grouping key (default `vaktpost`); also the `job` of remote write and OTLP.
    #[serde(default)]
    pub job: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// The receiver's URL, e.g. `http://prometheus:9090/api/v1/write`.
    pub url: String,
    /// `Authorization: Bearer …` (not with `username`/`password`).
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// Basic auth user (Grafana Cloud: the instance ID).
    #[serde(default)]
    pub username: Option<String>,
    /// Basic auth password (Grafana Cloud: an access-policy token).
    #[serde(default)]
    pub password: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// The OTLP/HTTP base endpoint, e.g. `http://collector:4318`; `/v1/metrics` is appended
    /// unless the path already ends with it.
    pub endpoint: String,
    /// Extra request headers, e.g. `Authorization: Bearer ${OTLP_TOKEN}`; values are secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Directory of the state store (default `.vaktpost`).
    #[serde(default)]
    pub path: Option<String>,
    /// `file` (default) or `github`: also kept in a branch of the repository through the
    /// GitHub API (one commit per run; raw samples stay local).
    #[serde(default)]
    pub backend: Option<String>,
    /// Raw samples kept, in whole days (default 7 days); older days become daily rollups.
    #[serde(default)]
    pub retention: Option<Dur>,
    /// Daily rollups kept, in whole days (default 400 days).
    #[serde(default)]
    pub rollup_retention: Option<Dur>,
    /// Window of the memory-leak trend (default 24h).
    #[serde(default)]
    pub leak_window: Option<Dur>,
    /// Branch of the data-branch store (`backend: github`), default `vaktpost-data`.
    #[serde(default)]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Title of the job summary.
    #[serde(default)]
    pub title: Option<String>,
    /// Most monitor rows in the job summary (failing ones first); default 500.
    #[serde(default)]
    pub max_summary_rows: Option<usize>,
}

/// The status site (`vaktpost pages --out DIR`, `vaktpost run --pages DIR`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagesConfig {
    /// The site's title (default "Status").
    #[serde(default)]
    pub title: Option<String>,
    /// One line under the title.
    #[serde(default)]
    pub description: Option<String>,
    /// A local image file (PNG, SVG, JPEG, WebP, GIF), copied into the site; never a URL,
    /// so the site makes no external request.
    #[serde(default)]
    pub logo: Option<String>,
    /// Links in the site's header (your home page, a support address).
    #[serde(default)]
    pub links: Vec<PageLink>,
    /// IANA time zone the site shows times in (default UTC); days of the uptime bars are
    /// UTC days, as the history keeps them.
    #[serde(default)]
    pub timezone: Option<String>,
    /// A directory of templates overriding the built-in ones by file name (`index.html`,
    /// `monitor.html`, `incidents.html`, `base.html`, `style.css`).
    #[serde(default)]
    pub templates: Option<String>,
    /// The site's public address (e.g. `https://owner.github.io/repo/`), used in
    /// `api/v2/summary.json`'s `page.url`; default none.
    #[serde(default)]
    pub url: Option<String>,
}

/// A header link of the status site.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageLink {
    pub name: String,
    /// `https://…`, `mailto:…`, or a path relative to the site.
    pub url: String,
}
