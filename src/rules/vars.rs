//! The catalogue of rule variables: what each monitor type's results can offer a
//! condition, with its type. `validate` checks names and types against it, so it lists
//! what the code really sets (`src/checks/*.rs`, `rules::variables`, the history
//! figures); a test runs real checks and fails when one sets a key not listed here.

use std::collections::BTreeMap;

use crate::config::{Monitor, MonitorKind};

/// The type of a variable as CEL sees it (every number is a double, see `rules::to_cel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ty {
    Bool,
    Number,
    Str,
    List(&'static Ty),
    /// A map with string keys, such as `labels` or `records` (from `records.<name>`).
    Map(&'static Ty),
    /// Any JSON value (e.g. `days_to_full`: a number, or `"unknown"`).
    Dyn,
}

use Ty::{Bool as B, Dyn as D, Number as N, Str as S};
const LIST_S: Ty = Ty::List(&S);
const LIST_D: Ty = Ty::List(&D);
const MAP_S: Ty = Ty::Map(&S);
const MAP_N: Ty = Ty::Map(&N);

impl Ty {
    pub fn name(self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Number => "number".into(),
            Ty::Str => "string".into(),
            Ty::List(t) => format!("list of {}", t.name()),
            Ty::Map(t) => format!("map of {}", t.name()),
            Ty::Dyn => "any".into(),
        }
    }
}

/// Every result has these (`rules::variables`, and the flap detector's two).
const COMMON: &[(&str, Ty)] = &[
    ("name", S),
    ("type", S),
    ("status", S),
    ("up", B),
    ("labels", MAP_S),
    ("error_kind", S),
    ("flapping", B),
    ("flaps", N),
];

/// The history figures (`state::figures::Figures::variables`), for any monitor with history.
const HISTORY: &[(&str, Ty)] = &[
    ("uptime_24h", N),
    ("uptime_7d", N),
    ("uptime_30d", N),
    ("error_rate_24h", N),
    ("error_rate_7d", N),
    ("error_rate_30d", N),
    ("p50_24h_ms", N),
    ("p95_24h_ms", N),
    ("p99_24h_ms", N),
    ("p50_7d_ms", N),
    ("p95_7d_ms", N),
    ("p99_7d_ms", N),
    ("hit_rate_24h", N),
    ("hit_rate_7d", N),
    ("memory_leak_suspected", B),
    ("memory_leak_series", S),
    ("memory_slope_per_day", N),
    ("days_to_full", D),
];

/// `days_left`/`not_after` of a served leaf certificate (`ssl::set_expiry`, also https `http`).
const HTTP: &[(&str, Ty)] = &[
    ("response_time_ms", N),
    ("response_time", N),
    ("samples", N),
    ("errors", N),
    ("error_rate", N),
    ("p50_ms", N),
    ("p95_ms", N),
    ("dns_ms", N),
    ("connect_ms", N),
    ("tls_ms", N),
    ("ttfb_ms", N),
    ("transfer_ms", N),
    ("attempts", N),
    ("status_code", N),
    ("body_bytes", N),
    ("redirects", N),
    ("http_version", S),
    ("tls_version", S),
    ("days_left", N),
    ("not_after", S),
    ("warning_days", N),
    ("critical_days", N),
    ("version", S),
    ("security_violations", Ty::List(&MAP_S)),
    ("security_rules", LIST_S),
];

const SSL: &[(&str, Ty)] = &[
    ("days_left", N),
    ("not_after", S),
    ("warning_days", N),
    ("critical_days", N),
    ("attempts", N),
    ("dns_ms", N),
    ("connect_ms", N),
    ("tls_ms", N),
    ("tls_version", S),
    ("issuer", S),
    ("subject", S),
    ("sans", LIST_S),
    ("chain_length", N),
    ("chain_days_left", N),
    ("chain_not_after", S),
    ("chain_valid", B),
    ("chain_error", S),
    ("hostname_valid", B),
    ("expired", B),
    ("cert_error", S),
];

const REDIS: &[(&str, Ty)] = &[
    ("attempts", N),
    ("used_memory", N),
    ("used_memory_rss", N),
    ("used_memory_peak", N),
    ("maxmemory", N),
    ("total_system_memory", N),
    ("percent", N),
    ("percent_unknown", B),
    ("percent_of", S),
    ("memory_limit", N),
    ("memory_series", LIST_S),
    ("fragmentation_ratio", N),
    ("maxmemory_policy", S),
    ("connected_clients", N),
    ("blocked_clients", N),
    ("redis_version", S),
    ("uptime_s", N),
    ("evicted_keys", N),
    ("rejected_connections", N),
    ("keyspace_hits", N),
    ("keyspace_misses", N),
    ("restarted", B),
    ("evicted_keys_delta", N),
    ("rejected_connections_delta", N),
    ("lookups", N),
    ("keyspace_hits_delta", N),
    ("keyspace_misses_delta", N),
    ("hit_rate_scope", S),
    ("hit_rate", N),
    ("max_memory_percent", N),
    ("min_hit_rate", N),
    ("max_fragmentation_ratio", N),
];

const CHROMA: &[(&str, Ty)] = &[
    ("heartbeat_ok", B),
    ("version", S),
    ("collections_count", N),
    ("records", MAP_N),
    ("collections_missing", LIST_S),
];

const STATUS_PAGE: &[(&str, Ty)] = &[
    ("provider", S),
    ("indicator", S),
    ("page_indicator", S),
    ("components", MAP_S),
    ("affected_components", LIST_S),
    ("incidents", N),
    ("incident_titles", LIST_S),
    ("incident_urls", LIST_S),
    ("maintenances", N),
    ("maintenance_titles", LIST_S),
    ("unrecognized_statuses", LIST_S),
    ("status_summary", S),
    ("components_missing", LIST_S),
];

const RAILWAY: &[(&str, Ty)] = &[
    ("max_build_time_s", N),
    ("rate_limit_remaining", N),
    ("rate_limited_wait_ms", N),
    ("deployment_status", S),
    ("deployment_id", S),
    ("deployment_url", S),
    ("deployment_created_at", S),
    ("deployment_age_s", N),
    ("deployment_age", S),
    ("deployment_in_progress", B),
    ("unrecognized_statuses", LIST_S),
];

const SYSTEM: &[(&str, Ty)] = &[
    ("total", N),
    ("available", N),
    ("used", N),
    ("percent", N),
    ("memory_series", LIST_S),
    ("memory_limit", N),
    ("max_memory_percent", N),
];

/// The check's metrics, then `log_files::rule_variables` (thresholds) and `app_up`.
const LOG_FILES: &[(&str, Ty)] = &[
    ("files", N),
    ("rotated_files", N),
    ("compressed_files", N),
    ("total_bytes", N),
    ("largest_bytes", N),
    ("largest_file", S),
    ("largest_size", S),
    ("oldest_uncompressed_age_s", N),
    ("oldest_uncompressed_file", S),
    ("oldest_uncompressed_age", S),
    ("stale_files", LIST_S),
    ("bytes_read", N),
    ("bytes_skipped", N),
    ("lines_read", N),
    ("binary_lines_skipped", N),
    ("rotations", N),
    ("truncations", N),
    ("error_count", N),
    ("error_groups_total", N),
    ("new_error_groups", N),
    ("new_error_sample", S),
    ("top_error", S),
    ("error_groups", LIST_D),
    ("security_events", N),
    ("security_by_category", MAP_N),
    ("security_samples", MAP_S),
    ("security_summary", S),
    ("security_threshold", N),
    ("max_file_bytes", N),
    ("max_file_size", S),
    ("max_age_s", N),
    ("max_age", S),
    ("stale_after", S),
    ("app_up", B),
    ("max_errors", N),
];

/// The variables a monitor type's own check and thresholds produce (not the common ones).
pub fn for_type(kind: &str) -> &'static [(&'static str, Ty)] {
    match kind {
        "http" => HTTP,
        "ssl" => SSL,
        "redis" => REDIS,
        "chroma" => CHROMA,
        "status_page" => STATUS_PAGE,
        "railway" => RAILWAY,
        "system" => SYSTEM,
        "log_files" => LOG_FILES,
        _ => &[],
    }
}

/// Every variable a result of this monitor can have: the common ones, the history
/// figures, its type's, and for `http` its `extract:` names (numbers) and security
/// rule names (each violation's message).
pub fn for_monitor(m: &Monitor) -> BTreeMap<String, Ty> {
    let mut v: BTreeMap<String, Ty> =
        COMMON.iter().chain(HISTORY).chain(for_type(m.kind.type_name())).map(|(k, t)| (k.to_string(), *t)).collect();
    if let MonitorKind::Http(h) = &m.kind {
        for rule in crate::checks::http::SECURITY_RULES {
            v.insert(rule.to_string(), S);
        }
        for name in h.extract.keys() {
            v.insert(name.clone(), N);
        }
    }
    v
}

/// Whether a metric key a check set is in the catalogue for `kind` (a dotted key
/// `records.docs` counts by its head, which the catalogue lists as a map).
pub fn knows_metric(kind: &str, key: &str) -> bool {
    let head = key.split_once('.').map_or(key, |(h, _)| h);
    let hit = |t: &[(&str, Ty)]| t.iter().any(|(k, ty)| *k == head && (head == key || matches!(ty, Ty::Map(_))));
    hit(for_type(kind)) || hit(COMMON)
}
