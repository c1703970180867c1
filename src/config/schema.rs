//! The config's JSON Schema accepts what the loader accepts. The loader replaces `${VAR}`
//! and `${VAR:-default}` before it types values (see `interp.rs`, `load.rs`), so a number,
//! boolean or enum may be written as one `${...}`: [`AcceptInterpolation`] adds that
//! alternative to every such schema, in one place, instead of field by field.

use schemars::transform::{transform_subschemas, Transform};
use schemars::Schema;
use serde_json::{json, Map, Value};

/// A whole value that is one `${NAME}` or `${NAME:-default}` (what the loader retypes).
pub const INTERPOLATION_PATTERN: &str = r"^\s*\$\{[A-Za-z0-9_]+(:-[^}]*)?\}\s*$";

/// The name of the definition every wrapped schema refers to.
pub const INTERPOLATION_DEF: &str = "Interpolation";

/// Keywords that describe a value rather than constrain it; they stay on the outer schema
/// so editors still show them.
const METADATA: &[&str] = &["title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"];

/// Schema transform: every number, integer, boolean (optionally nullable) and enum schema
/// becomes `anyOf: [itself, Interpolation]`, and the root gets the `Interpolation`
/// definition. Strings already accept `${...}`; durations and sizes say so in their own
/// schemas (`duration.rs`).
#[derive(Clone, Default)]
pub struct AcceptInterpolation {
    depth: usize,
}

impl Transform for AcceptInterpolation {
    fn transform(&mut self, schema: &mut Schema) {
        self.depth += 1;
        transform_subschemas(self, schema);
        self.depth -= 1;
        if wants_interpolation(schema) {
            wrap(schema);
        }
        if self.depth == 0 {
            if let Some(defs) = schema.ensure_object().get_mut("$defs").and_then(Value::as_object_mut) {
                defs.insert(
                    INTERPOLATION_DEF.into(),
                    json!({
                        "description": "`${VAR}` or `${VAR:-default}`: replaced from the environment before the value is read, so it stands for a number, boolean or enum value too.",
                        "type": "string",
                        "pattern": INTERPOLATION_PATTERN,
                    }),
                );
            }
        }
    }
}

fn wants_interpolation(schema: &Schema) -> bool {
    let Some(o) = schema.as_object() else { return false };
    if o.contains_key("enum") {
        return true;
    }
    let types: Vec<&str> = match o.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    types.iter().any(|t| *t != "null") && types.iter().all(|t| matches!(*t, "integer" | "number" | "boolean" | "null"))
}

fn wrap(schema: &mut Schema) {
    let o = schema.ensure_object();
    let mut outer = Map::new();
    for k in METADATA {
        if let Some(v) = o.remove(*k) {
            outer.insert((*k).to_string(), v);
        }
    }
    let inner = Value::Object(std::mem::take(o));
    outer.insert("anyOf".into(), json!([inner, {"$ref": format!("#/$defs/{INTERPOLATION_DEF}")}]));
    *o = outer;
}
