//! Outputs, each a function of the [`Report`]: JSON file, job summary markdown,
//! GitHub step outputs and annotations, console table.

pub mod actions;
pub mod console;
pub mod merge;
pub mod model;
pub mod outputs;
pub mod summary;

pub use model::*;

/// Error groups in the report and the summary's "Top errors", and how recent they must be.
pub const TOP_ERRORS: usize = 10;
pub const TOP_ERRORS_DAYS: i64 = 7;

use std::io::Write;

/// The data branch's commit message for the state a run saved (`run_id`: GitHub's
/// `GITHUB_RUN_ID`, absent for a local run).
pub fn branch_commit_message(report: &Report, run_id: Option<&str>) -> String {
    let c = &report.counts;
    format!(
        "vaktpost state after run {} at {}\n\n{} monitors: {} up, {} degraded, {} down, {} skipped",
        run_id.unwrap_or("(local)"),
        report.run.finished_at.format("%Y-%m-%dT%H:%M:%SZ"),
        c.monitors,
        c.up,
        c.degraded,
        c.down,
        c.skipped
    )
}

/// Streams the report as pretty JSON with a final newline.
pub fn write_json(w: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}

/// The JSON Schema of the report, as committed in `schemas/report.schema.json`. Every
/// object vaktpost writes is closed (`additionalProperties: false`), so a new field
/// without a schema fails the tests that validate real reports.
pub fn report_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().with_transform(ClosedObjects).into_generator();
    let mut s = serde_json::to_value(generator.into_root_schema_for::<Report>()).unwrap_or_default();
    if let Some(o) = s.as_object_mut() {
        o.insert("$id".into(), "https://github.com/vaktpost/vaktpost/schemas/report.schema.json".into());
    }
    s
}

/// The JSON Schema of the config, as committed in `schemas/config.schema.json`.
pub fn config_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(crate::config::schema::AcceptInterpolation::default())
        .into_generator();
    let mut s = serde_json::to_value(generator.into_root_schema_for::<crate::config::Config>()).unwrap_or_default();
    if let Some(o) = s.as_object_mut() {
        o.insert("$id".into(), "https://github.com/vaktpost/vaktpost/schemas/config.schema.json".into());
    }
    s
}

/// Schema transform: an object schema with `properties` and no `additionalProperties`
/// gets `additionalProperties: false` (maps keep theirs).
#[derive(Clone)]
struct ClosedObjects;

impl schemars::transform::Transform for ClosedObjects {
    fn transform(&mut self, schema: &mut schemars::Schema) {
        schemars::transform::transform_subschemas(self, schema);
        if let Some(o) = schema.as_object_mut() {
            if o.contains_key("properties") && !o.contains_key("additionalProperties") {
                o.insert("additionalProperties".into(), false.into());
            }
        }
    }
}
