//! What a check kind is, and the macro that registers the kinds. Each kind is a file in `src/checks/` that holds its options
//! type (the keys of its monitors, with their docs for the JSON Schema), its `check`
//! function, and an `impl Kind` for the options: its secrets, what it points at, its
//! validation, its metrics for the report schema, its rule variables and its summary cell.
//! [`kinds!`] turns the list (in `checks/mod.rs`) into the kinds' `mod` declarations, the
//! serde-facing [`MonitorKind`] enum and every `match` over kinds (type names, secrets,
//! targets, validation, rule variables, the check dispatch), so adding a kind is its file
//! plus one line in that list; the compiler then asks for the rest (`Kind` has no default
//! for `secrets`, `target`, `validate`, `METRICS` or `VARIABLES`).

use serde::de::DeserializeOwned;

use super::metrics::Metric;
use super::CheckResult;
use crate::values::vartype::Ty;

/// What a check kind provides beside its `check` function, implemented by its options type.
pub trait Kind {
    /// Every secret value in the options (tokens, passwords, credentials inside URLs), for
    /// redaction of free text. Values shorter than 3 characters are dropped by the loader.
    /// No default: a kind whose secrets are forgotten would print them.
    fn secrets(&self, out: &mut Vec<String>);
    /// What the monitor points at, before redaction (the report redacts it).
    fn target(&self) -> String;
    /// Checks of the options beyond serde's (URLs, ranges, regexes). `at` is the monitor's
    /// path (`monitors[3]`); `monitor_named` says whether the config has a monitor of that
    /// name. Report each problem with `err(path, message)`.
    fn validate(&self, at: &str, monitor_named: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String));
    /// The metrics this kind's check sets, by name, for the report schema.
    const METRICS: &'static [(&'static str, Metric)];
    /// The rule variables the kind's results offer (its metrics and its
    /// [`Kind::rule_variables`]), with their types, for type-checking conditions.
    const VARIABLES: &'static [(&'static str, Ty)];
    /// Metric families named by a regex (`^records\.`).
    const METRIC_PATTERNS: &'static [(&'static str, Metric)] = &[];
    /// The shape of any other metric (an `http` monitor's `extract:` names), or `None`
    /// when the map is closed.
    const OPEN_METRICS: Option<Metric> = None;
    /// Variables the options give the rules (thresholds the default rules compare with),
    /// beside the result's metrics.
    fn rule_variables(&self, _r: &CheckResult) -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }
    /// The kind's own parts of the summary's key-metric cell.
    fn summary_parts(_r: &CheckResult, _parts: &mut Vec<String>) {}
}

/// One kind's metrics for the report schema (see [`super::metrics::typed_metrics`]).
pub struct KindMetrics {
    pub kind: &'static str,
    pub metrics: &'static [(&'static str, Metric)],
    pub patterns: &'static [(&'static str, Metric)],
    pub open: Option<Metric>,
}

/// Reads a kind's options from the config's value for that kind, so the loader keeps its
/// own error paths (see `config::load`).
pub trait ReadOptions {
    type Error;
    fn read<T: DeserializeOwned>(&mut self) -> Result<T, Self::Error>;
}

macro_rules! kinds {
    ($($name:literal => $variant:ident($module:ident::$opts:ident)),+ $(,)?) => {
        $(pub mod $module;)+

        /// A monitor's type and its options (`type: http` and the http keys, …).
        #[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
        #[serde(tag = "type")]
        pub enum MonitorKind {
            $(#[serde(rename = $name)] $variant($crate::checks::$module::$opts),)+
        }

        /// Every `type:`, in the order of the list.
        pub const TYPES: &[&str] = &[$($name),+];

        /// Every kind's metrics, for the report schema.
        pub const METRICS: &[$crate::checks::kinds::KindMetrics] = &[$($crate::checks::kinds::KindMetrics {
            kind: $name,
            metrics: <$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::METRICS,
            patterns: <$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::METRIC_PATTERNS,
            open: <$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::OPEN_METRICS,
        }),+];

        impl MonitorKind {
            pub fn type_name(&self) -> &'static str {
                match self { $(MonitorKind::$variant(_) => $name,)+ }
            }
            pub fn secrets(&self, out: &mut Vec<String>) {
                match self { $(MonitorKind::$variant(o) => $crate::checks::kinds::Kind::secrets(o, out),)+ }
            }
            pub fn target(&self) -> String {
                match self { $(MonitorKind::$variant(o) => $crate::checks::kinds::Kind::target(o),)+ }
            }
            pub fn validate(&self, at: &str, monitor_named: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
                match self { $(MonitorKind::$variant(o) => $crate::checks::kinds::Kind::validate(o, at, monitor_named, err),)+ }
            }
            pub fn rule_variables(&self, r: &$crate::checks::CheckResult) -> Vec<(&'static str, serde_json::Value)> {
                match self { $(MonitorKind::$variant(o) => $crate::checks::kinds::Kind::rule_variables(o, r),)+ }
            }
            /// The options of `type: ty`, read by `reader`; `None` for an unknown type.
            pub fn read<R: $crate::checks::kinds::ReadOptions>(ty: &str, reader: &mut R) -> Option<Result<MonitorKind, R::Error>> {
                match ty {
                    $($name => Some(reader.read().map(MonitorKind::$variant)),)+
                    _ => None,
                }
            }
            /// Runs the kind's check.
            pub async fn check(&self, eff: &$crate::checks::Effective, env: &$crate::checks::CheckEnv, r: $crate::checks::CheckResult) -> $crate::checks::CheckResult {
                match self { $(MonitorKind::$variant(o) => $crate::checks::$module::check(o, eff, env, r).await,)+ }
            }
        }

        /// The rule variables of a kind, by its `type` (none for an unknown one).
        pub fn variables(kind: &str) -> &'static [(&'static str, $crate::values::vartype::Ty)] {
            match kind {
                $($name => <$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::VARIABLES,)+
                _ => &[],
            }
        }

        /// The kind's parts of the summary's key-metric cell, by the result's `type`.
        pub fn summary_parts(r: &$crate::checks::CheckResult, parts: &mut Vec<String>) {
            match r.kind.as_str() {
                $($name => <$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::summary_parts(r, parts),)+
                _ => {}
            }
        }
    };
}
pub(crate) use kinds;

/// The list itself is in `checks/mod.rs` (`kinds! { … }`), next to the modules it declares;
/// these are its items under this module's name.
pub use super::{summary_parts, variables, MonitorKind, METRICS, TYPES};

/// An `http://` or `https://` URL with a host, for options that name an API or a page.
pub fn check_url(path: &str, u: &str, err: &mut dyn FnMut(&str, String)) {
    match url::Url::parse(u) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        Ok(url) => err(path, format!("must be an http:// or https:// URL, got scheme \"{}\"", url.scheme())),
        Err(e) => err(
            path,
            format!(
                "invalid URL {:?}: {e}; use a full URL such as https://example.com/health",
                crate::redact::redact_url_str(u)
            ),
        ),
    }
}

/// `max_memory_percent` in (0, 100], `min_hit_rate` a ratio in [0, 1], `max_fragmentation_ratio` > 0.
pub fn check_memory_thresholds(
    p: &str,
    max_percent: Option<f64>,
    min_hit_rate: Option<f64>,
    max_frag: Option<f64>,
    err: &mut dyn FnMut(&str, String),
) {
    if let Some(v) = max_percent.filter(|v| v.is_nan() || *v <= 0.0 || *v > 100.0) {
        err(&format!("{p}.max_memory_percent"), format!("must be a percentage above 0 and at most 100, got {v}"));
    }
    if let Some(v) = min_hit_rate.filter(|v| !(0.0..=1.0).contains(v)) {
        err(&format!("{p}.min_hit_rate"), format!("must be a ratio between 0 and 1 (0.9 means 90%), got {v}"));
    }
    if let Some(v) = max_frag.filter(|v| v.is_nan() || *v <= 0.0) {
        err(&format!("{p}.max_fragmentation_ratio"), format!("must be more than 0 (e.g. 1.5), got {v}"));
    }
}

/// Credentials inside a URL (userinfo password, secret query parameters), also when the
/// URL does not parse: what `secrets` adds for a kind's URL options.
pub fn url_secrets(url: &str, out: &mut Vec<String>) {
    out.extend(crate::redact::url_secrets(url));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde tag of every variant is its name in [`TYPES`] (one list, both ways).
    #[test]
    fn every_type_reads_back_as_itself() {
        struct Null;
        impl ReadOptions for Null {
            type Error = String;
            fn read<T: DeserializeOwned>(&mut self) -> Result<T, String> {
                Err("not read".into())
            }
        }
        for t in TYPES {
            assert!(MonitorKind::read(t, &mut Null).is_some(), "{t}");
        }
        assert_eq!(METRICS.iter().map(|k| k.kind).collect::<Vec<_>>(), TYPES);
    }
}
