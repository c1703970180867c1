//! The configuration as plain serde types. Loading (YAML, `${VAR}`, locations) lives in
//! `load.rs`; checks that need more than one field live in `validate.rs`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize};

use crate::values::confirm::ConfirmSchema;
use crate::values::{ByteSize, Confirm, Dur, OneOrMany, Secret, StatusSpec};

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
}

pub const TOP_LEVEL_KEYS: &[&str] = &["defaults", "monitors", "rules", "alerts", "state", "report"];

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

/// One monitor: the fields every type has, and the type's own options. Unknown keys are
/// errors, in the schema too (see [`super::schema::close_monitor`]).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = super::schema::close_monitor)]
pub struct Monitor {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub kind: MonitorKind,
}

/// Keys every monitor accepts, whatever its type.
pub const COMMON_KEYS: &[&str] =
    &["name", "type", "interval", "timeout", "retries", "confirm", "labels", "description", "enabled", "depends_on"];

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Common {
    /// Unique name; it names the monitor in findings, issues and the report.
    pub name: String,
    /// Check at most this often (seconds or "5m"); 0 means every run.
    #[serde(default)]
    pub interval: Option<Dur>,
    /// Timeout of one request / connection attempt.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Extra attempts for retryable failures.
    #[serde(default)]
    pub retries: Option<u32>,
    /// In-run confirmation of a failure (overrides `defaults.confirm`).
    #[serde(default)]
    #[schemars(with = "Option<ConfirmSchema>")]
    pub confirm: Option<Confirm>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `false` keeps the monitor in the file without running it.
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Upstream monitors (e.g. a status page) this one depends on.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

fn d_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MonitorKind {
    Http(HttpOptions),
    Ssl(SslOptions),
    Redis(RedisOptions),
    Chroma(ChromaOptions),
    StatusPage(StatusPageOptions),
    Railway(RailwayOptions),
    System(SystemOptions),
    LogFiles(LogFilesOptions),
}

impl MonitorKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            MonitorKind::Http(_) => "http",
            MonitorKind::Ssl(_) => "ssl",
            MonitorKind::Redis(_) => "redis",
            MonitorKind::Chroma(_) => "chroma",
            MonitorKind::StatusPage(_) => "status_page",
            MonitorKind::Railway(_) => "railway",
            MonitorKind::System(_) => "system",
            MonitorKind::LogFiles(_) => "log_files",
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// `http://` or `https://` URL.
    pub url: String,
    #[serde(default = "d_get")]
    pub method: String,
    /// Request headers; values are secrets and never printed.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// 200, [200, 204], "2xx", or ["2xx", 404]. Default "2xx".
    #[serde(default)]
    pub expected_status: Option<StatusSpec>,
    /// Slower than this (median over samples) ⇒ `degraded`.
    #[serde(default)]
    pub max_response_time: Option<Dur>,
    /// Requests per run; error rate and percentiles come from them.
    #[serde(default)]
    pub samples: Option<u32>,
    /// Text (or list of texts) the body must contain.
    #[serde(default)]
    pub body_contains: Option<OneOrMany>,
    /// Text (or list of texts) the body must not contain.
    #[serde(default)]
    pub body_not_contains: Option<OneOrMany>,
    /// JSON pointer ⇒ expected value, e.g. `{"/status": "ok"}`.
    #[serde(default)]
    pub json: BTreeMap<String, serde_json::Value>,
    /// Metric name ⇒ JSON pointer of a numeric field, e.g. `{percent: /percent}`.
    #[serde(default)]
    pub extract: BTreeMap<String, String>,
    /// The deployed version must equal this (a 7+ character prefix of a commit SHA also matches).
    #[serde(default)]
    pub expect_version: Option<String>,
    /// Where the version is read: `json:/version` (default) or `header:X-Version`.
    #[serde(default)]
    pub version_from: Option<String>,
    #[serde(default = "d_true")]
    pub follow_redirects: bool,
    #[serde(default = "d_max_redirects")]
    pub max_redirects: u32,
    /// Largest body read, after decompression; larger is a failure.
    #[serde(default = "d_max_body")]
    pub max_body_bytes: ByteSize,
    /// Accept any certificate (self-signed test targets). Certificate problems are
    /// still reported by an `ssl` monitor.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Security events: `true` for every check, or a block that chooses them.
    #[serde(default, deserialize_with = "de_security")]
    #[schemars(with = "Option<SecuritySetting>")]
    pub security: Option<Box<SecurityOptions>>,
}

fn d_get() -> String {
    "GET".into()
}

/// The checks behind `security:` on an `http` monitor; each is on unless set to `false`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityOptions {
    /// HTTPS responses carry `Strict-Transport-Security`.
    #[serde(default = "d_true")]
    pub hsts: bool,
    /// Smallest acceptable HSTS `max-age`.
    #[serde(default = "d_min_hsts_max_age")]
    pub min_hsts_max_age: Dur,
    /// Plain HTTP redirects to HTTPS.
    #[serde(default = "d_true")]
    pub redirect_https: bool,
    /// The plain-HTTP URL to try for `redirect_https`; default: the monitor's URL with
    /// `http://` on port 80 (an https URL on another port is then not tried).
    #[serde(default)]
    pub http_url: Option<String>,
    /// Responses carry `X-Content-Type-Options: nosniff`.
    #[serde(default = "d_true")]
    pub nosniff: bool,
    /// Responses carry a `Content-Security-Policy`.
    #[serde(default = "d_true")]
    pub csp: bool,
    /// Every `Set-Cookie` has `Secure` and `HttpOnly`.
    #[serde(default = "d_true")]
    pub cookies: bool,
    /// Paths on the monitor's origin that must not be served (a 2xx is a violation).
    #[serde(default = "d_forbidden_paths")]
    pub forbidden_paths: Vec<String>,
}

impl Default for SecurityOptions {
    fn default() -> Self {
        SecurityOptions {
            hsts: true,
            min_hsts_max_age: d_min_hsts_max_age(),
            redirect_https: true,
            http_url: None,
            nosniff: true,
            csp: true,
            cookies: true,
            forbidden_paths: d_forbidden_paths(),
        }
    }
}

// Mozilla's HTTP Observatory asks for at least six months.
fn d_min_hsts_max_age() -> Dur {
    Dur::secs(180 * 86_400)
}
fn d_forbidden_paths() -> Vec<String> {
    ["/.env", "/.git/HEAD", "/.git/config", "/server-status"].map(String::from).to_vec()
}

/// `security:` as written: `true`/`false` or a block (for the JSON Schema).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum SecuritySetting {
    On(bool),
    Options(SecurityOptions),
}

fn de_security<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<SecurityOptions>>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<Box<SecurityOptions>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("true, false, or a block such as {hsts: true, forbidden_paths: [/.env]}")
        }
        fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
            Ok(on.then(Box::default))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SecurityOptions::deserialize(de::value::MapAccessDeserializer::new(map)).map(|o| Some(Box::new(o)))
        }
    }
    d.deserialize_any(V)
}
fn d_max_redirects() -> u32 {
    10
}
fn d_max_body() -> ByteSize {
    ByteSize(10 << 20)
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SslOptions {
    pub host: String,
    #[serde(default = "d_443")]
    pub port: u16,
    /// SNI name, when it differs from `host`.
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default = "d_warning_days")]
    pub warning_days: u32,
    #[serde(default = "d_critical_days")]
    pub critical_days: u32,
    /// "1.2" or "1.3".
    #[serde(default)]
    pub min_tls_version: Option<String>,
    /// PEM file with a private CA to trust.
    #[serde(default)]
    pub ca_file: Option<String>,
}

fn d_443() -> u16 {
    443
}
fn d_warning_days() -> u32 {
    30
}
fn d_critical_days() -> u32 {
    7
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisOptions {
    /// `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS) or
    /// `unix:///path/to.sock?db=N`; credentials in it are secrets.
    pub url: Secret,
    /// ACL user; overrides the URL's.
    #[serde(default)]
    pub username: Option<String>,
    /// Overrides the URL's password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// `percent` (of maxmemory, or of total_system_memory) above this ⇒ `degraded`.
    #[serde(default)]
    pub max_memory_percent: Option<f64>,
    /// `hit_rate` (0–1) below this ⇒ `degraded`.
    #[serde(default)]
    pub min_hit_rate: Option<f64>,
    /// `fragmentation_ratio` (RSS / used) above this ⇒ `degraded`.
    #[serde(default)]
    pub max_fragmentation_ratio: Option<f64>,
    /// `rediss://`: accept any certificate (self-signed managed Redis).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChromaOptions {
    /// Base URL of the Chroma server, e.g. `http://chroma:8000` (the check adds `/api/v2/...`).
    pub url: String,
    #[serde(default = "d_tenant")]
    pub tenant: String,
    #[serde(default = "d_database")]
    pub database: String,
    /// Collections whose record counts are reported; a missing one is a finding.
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    /// Header that carries `token` (default `Authorization: Bearer`).
    #[serde(default)]
    pub auth_header: Option<String>,
    /// Accept any certificate (self-signed test targets).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn d_tenant() -> String {
    "default_tenant".into()
}
fn d_database() -> String {
    "default_database".into()
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPageOptions {
    /// The status page's JSON API (`https://status.example.com/api/v2/summary.json`), or
    /// just the page (`https://status.example.com`): the provider's usual path is then
    /// tried. With `preset`, overrides the preset's URL (a mirror, a test server).
    #[serde(default)]
    pub url: Option<String>,
    /// `openai`, `railway`, `github`, `cloudflare`, `vercel`, `anthropic`: sets `url` and
    /// `provider`.
    #[serde(default)]
    pub preset: Option<String>,
    /// `auto` (default: detected from the JSON), `statuspage`, `incidentio`, `instatus`,
    /// `railway`, `betterstack`, `checkly`.
    #[serde(default)]
    pub provider: Option<String>,
    /// Component names to watch (case-insensitive, also inside groups; a group's name
    /// watches all its members); empty watches the whole page.
    #[serde(default)]
    pub components: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RailwayOptions {
    /// The service whose latest deployment is checked (Railway dashboard: service
    /// settings, or `railway status --json`).
    pub service_id: String,
    /// The environment (e.g. production) of that service; without it Railway answers
    /// for all of the service's environments.
    #[serde(default)]
    pub environment_id: Option<String>,
    /// The project, to narrow the query further (optional).
    #[serde(default)]
    pub project_id: Option<String>,
    /// An account or workspace token, sent as `Authorization: Bearer`. Defaults to
    /// `${RAILWAY_TOKEN}` when neither `token` nor `project_token` is set.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A project token, sent as `Project-Access-Token` (what the Railway CLI reads from
    /// `RAILWAY_TOKEN`; write `project_token: ${RAILWAY_TOKEN}` for one).
    #[serde(default)]
    pub project_token: Option<Secret>,
    /// Railway's public GraphQL endpoint; default `https://backboard.railway.com/graphql/v2`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// A deployment still building or deploying after this long is stuck (default 20m).
    #[serde(default)]
    pub max_build_time: Option<Dur>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemOptions {
    /// `percent` (used = total − available) above this ⇒ `degraded`.
    #[serde(default)]
    pub max_memory_percent: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogFilesOptions {
    /// A glob such as `/var/log/app/*.log` (`*` stays within one directory, `**` crosses
    /// them). Rotated siblings (`app.log.1`, `app.log.2.gz`, `app.log-20260101`) are found
    /// next to each match for the rotation-health figures.
    pub path: String,
    /// A live log file larger than this ⇒ `degraded` and `log_file_too_large`
    /// (rotation is not keeping up). Default: not checked.
    #[serde(default)]
    pub max_file_bytes: Option<ByteSize>,
    /// A rotated file still uncompressed this long after its last write ⇒ `degraded`
    /// and `log_rotation_stale` (compression or rotation stopped). Default: not checked.
    #[serde(default)]
    pub max_age: Option<Dur>,
    /// A live log file not written for this long ⇒ `degraded` and
    /// `log_file_stopped_growing` (the app writes to a rotated-away file, or stopped
    /// logging). Default: not checked.
    #[serde(default)]
    pub stale_after: Option<Dur>,
    /// The monitor of the app that writes these logs (e.g. its health endpoint):
    /// `log_file_stopped_growing` then fires only while that monitor is up. Default:
    /// none (a stale file fires regardless).
    #[serde(default)]
    pub app_monitor: Option<String>,
    /// Regex for lines that start an error event. Default: `ERROR`, `FATAL`, `CRITICAL`,
    /// `level=error`, `"level":"error"` and similar; Python tracebacks and Rust panics
    /// are always events.
    #[serde(default)]
    pub error_pattern: Option<String>,
    /// More security-event patterns: a regex (category `custom`) or `{name, pattern}`.
    /// They add to the built-in categories unless `security_defaults: false`.
    #[serde(default)]
    pub security_patterns: Vec<SecurityPattern>,
    /// Keep the built-in security categories (`sensitive_path`, `auth_failure`,
    /// `http_401_403`). Default: true.
    #[serde(default = "d_true")]
    pub security_defaults: bool,
    /// More security events than this in one run ⇒ `log_security_events`. Default: 20.
    #[serde(default = "d_security_threshold")]
    pub security_threshold: u64,
    /// More error events than this in one run ⇒ `log_errors`. Default: not checked
    /// (new error groups are reported by `log_new_errors` regardless).
    #[serde(default)]
    pub max_errors: Option<u64>,
    /// Bytes read per file per run; a larger backlog is skipped to its newest part.
    /// Default: 8MiB.
    #[serde(default = "d_max_bytes_per_run")]
    pub max_bytes_per_run: ByteSize,
}

fn d_security_threshold() -> u64 {
    20
}

fn d_max_bytes_per_run() -> ByteSize {
    ByteSize(8 << 20)
}

/// A security-event pattern of a `log_files` monitor.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SecurityPattern {
    /// A regex; matching lines count under category `custom`.
    Regex(String),
    /// A named category.
    Named(NamedPattern),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedPattern {
    /// The category, e.g. `sql_injection`; a metric key, so letters, digits and `_`.
    pub name: String,
    pub pattern: String,
}

impl SecurityPattern {
    pub fn name(&self) -> &str {
        match self {
            SecurityPattern::Regex(_) => "custom",
            SecurityPattern::Named(n) => &n.name,
        }
    }
    pub fn pattern(&self) -> &str {
        match self {
            SecurityPattern::Regex(p) => p,
            SecurityPattern::Named(n) => &n.pattern,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

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

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    #[serde(default)]
    pub github: Option<GithubAlerts>,
    #[serde(default)]
    pub slack: Option<SlackAlerts>,
    #[serde(default)]
    pub email: Option<EmailAlerts>,
    #[serde(default)]
    pub heartbeat: Option<HeartbeatAlerts>,
    /// Windows in which alerts are suppressed (checks still run).
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
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

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// `owner/name`; defaults to `$GITHUB_REPOSITORY`.
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub assignees: Vec<String>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub remind_every: Option<Dur>,
    /// `new` (open a new issue) or `reopen` (reopen the last one).
    #[serde(default)]
    pub reopen: Option<String>,
    /// Keep hostnames and URLs out of issue bodies (public repositories).
    #[serde(default)]
    pub redact_targets: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Defaults to `$SLACK_WEBHOOK_URL`.
    #[serde(default)]
    pub webhook_url: Option<Secret>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailAlerts {
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// `smtp://user:pass@host:587` (STARTTLS) or `smtps://…:465`.
    #[serde(default)]
    pub smtp_url: Option<Secret>,
    #[serde(default)]
    pub from: Option<String>,
    /// Defaults to `$ALERT_EMAIL`.
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub min_severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatAlerts {
    pub url: Secret,
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
