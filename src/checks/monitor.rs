//! A monitor as the config file has it: the keys every type shares ([`Common`]) and
//! its type's own options ([`MonitorKind`], listed in `kinds.rs`). It lives with the
//! checks because a check reads it; `config` composes monitors into the file format.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema};
use serde::Deserialize;
use serde_json::{json, Value};

use super::kinds::MonitorKind;
use crate::values::confirm::ConfirmSchema;
use crate::values::{Confirm, Dur};

/// One monitor: the fields every type has, and the type's own options. Unknown keys are
/// errors, in the schema too (see [`close_monitor`]).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = close_monitor)]
pub struct Monitor {
    #[serde(flatten)]
    pub common: Common,
    #[serde(flatten)]
    pub kind: MonitorKind,
}

/// Keys every monitor accepts, whatever its type.
pub const COMMON_KEYS: &[&str] = &[
    "name",
    "type",
    "interval",
    "timeout",
    "retries",
    "confirm",
    "labels",
    "description",
    "enabled",
    "depends_on",
    "public",
];

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
    /// `false` leaves the monitor off the status site (`vaktpost pages`): no page, no
    /// badge, no component in its API. It is still checked and alerted on.
    #[serde(default = "d_true")]
    pub public: bool,
}

fn d_true() -> bool {
    true
}

/// The monitor schema rejects unknown keys as the loader does. Its common keys and each
/// type's own keys live in different subschemas (`properties` and `oneOf`), so each type's
/// branch lists the common keys too and gets `additionalProperties: false`: this works in
/// editors that implement only draft 7, where `unevaluatedProperties` is ignored.
pub fn close_monitor(schema: &mut Schema) {
    let common: Vec<String> =
        schema.get("properties").and_then(Value::as_object).map(|p| p.keys().cloned().collect()).unwrap_or_default();
    let Some(branches) = schema.get_mut("oneOf").and_then(Value::as_array_mut) else { return };
    for branch in branches.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(props) = branch.entry("properties").or_insert_with(|| json!({})).as_object_mut() {
            for k in &common {
                // Checked by the outer `properties`; listed here so it is not "additional".
                props.entry(k.clone()).or_insert(Value::Bool(true));
            }
        }
        branch.insert("additionalProperties".into(), Value::Bool(false));
    }
}
