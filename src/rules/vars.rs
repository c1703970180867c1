//! The catalogue of rule variables: what each monitor type's results can offer a
//! condition, with its type. `validate` checks names and types against it, so it lists
//! what the code really sets (`src/checks/*.rs`, `rules::variables`, the history
//! figures); a test runs real checks and fails when one sets a key not listed here.

use std::collections::BTreeMap;

use crate::config::{Monitor, MonitorKind};

use crate::values::vartype::short::*;
pub use crate::values::vartype::Ty;

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

/// The variables a monitor type's own check and thresholds produce (not the common ones),
/// as each kind declares them (`checks::Kind::VARIABLES`).
pub fn for_type(kind: &str) -> &'static [(&'static str, Ty)] {
    crate::checks::kinds::variables(kind)
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
