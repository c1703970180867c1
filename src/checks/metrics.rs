//! The report schema of `checks[].metrics`: each kind lists its metrics ([`super::kinds::Kind::METRICS`]),
//! and [`typed_metrics`] types a result's `metrics` by its `type`. A kind's map is closed,
//! apart from its [`super::kinds::Kind::METRIC_PATTERNS`] families and its
//! [`super::kinds::Kind::OPEN_METRICS`] (an `http` monitor's `extract:` names), so a metric
//! added without its schema fails the tests (see the README's **Metrics** lines).

use schemars::JsonSchema;

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

/// The shape of one metric's value.
#[derive(Clone, Copy)]
pub enum Metric {
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

fn metric_schema(m: Metric) -> serde_json::Value {
    use serde_json::json;
    let scalar = json!({"type": ["number", "string", "boolean", "null"]});
    match m {
        Metric::Num => json!({"type": ["number", "null"]}),
        Metric::Str => json!({"type": "string"}),
        Metric::Bool => json!({"type": "boolean"}),
        Metric::Strs => json!({"type": "array", "items": {"type": "string"}}),
        Metric::Objs => json!({"type": "array", "items": {"type": "object", "additionalProperties": scalar}}),
        Metric::Map => json!({"type": "object", "additionalProperties": scalar}),
    }
}

/// Schema transform on `CheckResult`: `metrics` typed by the check's `type`.
pub fn typed_metrics(schema: &mut schemars::Schema) {
    use serde_json::json;
    let mut cases = Vec::new();
    for k in super::kinds::METRICS {
        let props: serde_json::Map<String, serde_json::Value> =
            k.metrics.iter().map(|(name, m)| (name.to_string(), metric_schema(*m))).collect();
        let patterns: serde_json::Map<String, serde_json::Value> =
            k.patterns.iter().map(|(p, m)| (p.to_string(), metric_schema(*m))).collect();
        let additional = match k.open {
            Some(m) => metric_schema(m),
            None => json!(false),
        };
        let mut metrics = json!({"type": "object", "properties": props, "additionalProperties": additional});
        if !patterns.is_empty() {
            metrics["patternProperties"] = patterns.into();
        }
        // `additionalProperties: true` keeps these wrappers open (the report schema closes
        // every object that does not say).
        cases.push(json!({
            "if": {"properties": {"type": {"const": k.kind}}, "required": ["type"], "additionalProperties": true},
            "then": {"properties": {"metrics": metrics}, "additionalProperties": true}
        }));
    }
    schema.insert("allOf".into(), cases.into());
}
