//! Writing a report's outputs: the JSON file, the job summary (`$GITHUB_STEP_SUMMARY`,
//! appended as GitHub expects, and `--summary`), and the step outputs (`$GITHUB_OUTPUT`).

use std::path::{Path, PathBuf};

use super::Report;
use crate::context::RunContext;
use crate::fsutil::{self, WriteError};

/// Where the outputs go, and how the summary is rendered (`report:` in the config).
pub struct Targets<'a> {
    pub report: &'a Path,
    /// Besides `$GITHUB_STEP_SUMMARY`.
    pub summary: Option<&'a Path>,
    pub title: Option<&'a str>,
    pub max_rows: usize,
}

/// Writes every output; returns where the summary went.
pub fn write(ctx: &RunContext, report: &Report, to: &Targets) -> Result<Vec<PathBuf>, WriteError> {
    let rp = to.report;
    fsutil::write_atomic_with(rp, |w| super::write_json(w, report)).map_err(WriteError::of("the report", rp))?;

    let md = super::summary::render(report, to.title, to.max_rows);
    let mut summary_paths = Vec::new();
    let mut targets: Vec<(PathBuf, bool)> = Vec::new();
    if let Some(p) = ctx.var("GITHUB_STEP_SUMMARY") {
        targets.push((PathBuf::from(p), true));
    }
    if let Some(p) = to.summary {
        targets.push((p.to_path_buf(), false));
    }
    for (p, append) in targets {
        let res = if append { fsutil::append(&p, md.as_bytes()) } else { fsutil::write_atomic(&p, md.as_bytes()) };
        res.map_err(WriteError::of("the job summary", &p))?;
        summary_paths.push(p);
    }
    if let Some(p) = ctx.var("GITHUB_OUTPUT") {
        // Inside a Docker action the workspace is mounted at another path than later steps
        // see; a path relative to the workspace works for both.
        let shown = |p: &Path| match ctx.var("GITHUB_WORKSPACE").and_then(|w| p.strip_prefix(w).ok()) {
            Some(rel) => rel.display().to_string(),
            None => p.display().to_string(),
        };
        let sp = to.summary.or(summary_paths.first().map(|p| p.as_path())).map(shown);
        let text = super::actions::outputs(report, &shown(rp), sp.as_deref(), ctx.seed);
        let p = Path::new(p);
        fsutil::append(p, text.as_bytes()).map_err(WriteError::of("step outputs", p))?;
    }
    Ok(summary_paths)
}
