//! `vaktpost merge`: shard reports combined into one, as if one run had checked every
//! monitor. Pure: alerting on the merged report is the pipeline's next stage.

use std::collections::HashSet;

use super::{Counts, Report, RunStatus, TOP_ERRORS};

/// Why shard reports cannot be merged (a usage error: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("merge needs at least one report")]
    NoReports,
    #[error("cannot merge report schema_version {theirs} with {ours}; use reports from the same vaktpost version")]
    SchemaVersion { theirs: u32, ours: u32 },
}

/// Combines shard reports into one: checks in the order given (a monitor reported twice
/// keeps its first result), findings de-duplicated by fingerprint, counts and status
/// recomputed.
pub fn merge_reports(reports: Vec<Report>) -> Result<Report, MergeError> {
    let mut it = reports.into_iter();
    let mut out = it.next().ok_or(MergeError::NoReports)?;
    let mut shards: Vec<String> = out.run.shard.iter().cloned().collect();
    let mut names: HashSet<String> = out.checks.iter().map(|c| c.name.clone()).collect();
    let mut fps: HashSet<String> = out.findings.iter().map(|f| f.fingerprint.clone()).collect();
    // One shard whose runner lost its network makes the whole run inconclusive.
    let mut inconclusive = out.run.inconclusive.clone();
    for r in it {
        if inconclusive.is_none() {
            inconclusive = r.run.inconclusive.clone();
        }
        if r.schema_version != out.schema_version {
            return Err(MergeError::SchemaVersion { theirs: r.schema_version, ours: out.schema_version });
        }
        shards.extend(r.run.shard.iter().cloned());
        out.run.started_at = out.run.started_at.min(r.run.started_at);
        out.run.finished_at = out.run.finished_at.max(r.run.finished_at);
        out.checks.extend(r.checks.into_iter().filter(|c| names.insert(c.name.clone())));
        out.findings.extend(r.findings.into_iter().filter(|f| fps.insert(f.fingerprint.clone())));
        out.notes.extend(r.notes.into_iter().filter(|n| !n.starts_with("sharded run:")));
        out.history.extend(r.history);
        for g in r.top_errors {
            match out.top_errors.iter_mut().find(|x| x.fingerprint == g.fingerprint) {
                Some(x) => {
                    x.count += g.count;
                    if g.last_seen >= x.last_seen && g.latest.is_some() {
                        x.latest = g.latest.clone();
                    }
                    x.first_seen = x.first_seen.min(g.first_seen);
                    x.last_seen = x.last_seen.max(g.last_seen);
                    x.monitors.extend(g.monitors);
                }
                None => out.top_errors.push(g),
            }
        }
    }
    out.top_errors.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    out.top_errors.truncate(TOP_ERRORS);
    out.notes.retain(|n| !n.starts_with("sharded run:"));
    out.run.duration_ms = crate::checks::ms((out.run.finished_at - out.run.started_at).to_std().unwrap_or_default());
    out.run.shard = None;
    out.run.merged_shards = shards;
    let c = Counts::tally(&out.checks, &out.findings);
    out.status = RunStatus::of_counts(&c);
    if let Some(why) = &inconclusive {
        out.status = RunStatus::Inconclusive;
        out.run.inconclusive = Some(why.clone());
    }
    out.counts = c;
    out.alerts.clear();
    Ok(out)
}
