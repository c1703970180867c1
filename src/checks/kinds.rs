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
use crate::values::Severity;

/// A rule a kind ships on by default: plain data, compiled with the general defaults by
/// `rules::defaults`, overridable by name in the config's `rules:`.
///
/// `for_runs` and `resolve_after` (runs) are chosen so that a one-off failure never alerts
/// while a real problem opens on its first or second run and closes on the first or second
/// run after it ends: threshold rules on noisy figures (latency, memory, hit rate) need
/// consecutive bad runs; rules on facts that do not blip (certificate dates, a provider's own
/// status page, deployment status, per-run log and eviction counts) fire and resolve at once.
#[derive(Debug, Clone, Copy)]
pub struct DefaultRule {
    pub name: &'static str,
    /// A CEL condition over the kind's rule variables.
    pub condition: &'static str,
    /// The finding's text, with `{name}` and `{variable}` placeholders.
    pub message: &'static str,
    pub severity: Severity,
    /// Conditions that raise the severity.
    pub escalate: &'static [(&'static str, Severity)],
    pub for_runs: u32,
    pub resolve_after: u32,
}

impl DefaultRule {
    /// A rule that fires and resolves on one run, without escalation.
    pub const fn once(name: &'static str, condition: &'static str, message: &'static str, severity: Severity) -> Self {
        DefaultRule { name, condition, message, severity, escalate: &[], for_runs: 1, resolve_after: 1 }
    }
}

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
    /// The rules this kind ships on by default (most kinds have some; `system` relies on
    /// the general memory rules).
    const DEFAULT_RULES: &'static [DefaultRule] = &[];
    /// The `host:port` the check talks to, so `defaults.per_host_concurrency` limits
    /// monitors of one host together; `None` groups the kind's monitors under its type.
    fn host_key(&self) -> Option<String> {
        None
    }
    /// Whether a failure is re-checked within the run (`confirm:`); `false` for kinds
    /// whose failures a re-check cannot change (local files and memory).
    const CONFIRMS: bool = true;
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
    /// The kind's own section of the job summary (Markdown, after the findings), given
    /// every result of the run: a provider's incidents, log rotation health. `max_rows`
    /// caps its lists and `max_bytes` is the whole summary's budget (a section takes a
    /// fraction of it). Writes nothing when the kind's monitors have nothing to say.
    fn summary_section(_all: &[CheckResult], _md: &mut String, _max_rows: usize, _max_bytes: usize) {}
    /// Notes (Markdown) for the summary row of a failing monitor `r` that this kind's
    /// monitors explain, e.g. "⚠️ upstream `openai` reports major" from a status page it
    /// `depends_on`.
    fn row_notes(_all: &[CheckResult], _r: &CheckResult) -> Vec<String> {
        Vec::new()
    }
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

        /// Every kind's default rules, in the order of the list.
        pub const DEFAULT_RULES: &[&[$crate::checks::kinds::DefaultRule]] =
            &[$(<$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::DEFAULT_RULES),+];

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
            pub fn host_key(&self) -> Option<String> {
                match self { $(MonitorKind::$variant(o) => $crate::checks::kinds::Kind::host_key(o),)+ }
            }
            pub fn confirms(&self) -> bool {
                match self { $(MonitorKind::$variant(_) => <$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::CONFIRMS,)+ }
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

        /// Every kind's own summary section, in the order of the list.
        pub fn summary_sections(all: &[$crate::checks::CheckResult], md: &mut String, max_rows: usize, max_bytes: usize) {
            $(<$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::summary_section(all, md, max_rows, max_bytes);)+
        }

        /// What the kinds say about failing monitor `r`'s summary row.
        pub fn row_notes(all: &[$crate::checks::CheckResult], r: &$crate::checks::CheckResult) -> Vec<String> {
            let mut out = Vec::new();
            $(out.extend(<$crate::checks::$module::$opts as $crate::checks::kinds::Kind>::row_notes(all, r));)+
            out
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
pub use super::{row_notes, summary_parts, summary_sections, variables, MonitorKind, DEFAULT_RULES, METRICS, TYPES};

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
