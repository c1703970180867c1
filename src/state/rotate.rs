//! Rotation of the history store's raw segments, like logrotate with `compress`,
//! `delaycompress`, `rotate N`: yesterday's segment stays plain, older ones are
//! gzip-compressed, and segments beyond `retention` are deleted — their days live on as
//! daily rollups (built from the hourly aggregates, see `agg.rs`), which are kept for
//! `rollup_retention`. Runs under the store's lock, after each run's samples are written.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use super::agg::History;
use super::history::{gzip, read_rollups, remove_file, segments, write_rollups, HistoryConfig, Rollup, Sample};

/// The rollups of one day's samples, as the store builds them: the samples replayed
/// through the aggregates; `next` holds the samples of the following day, whose first
/// sample per monitor ends the day's last gap.
pub fn rollups_of(day: &[Sample], next: &[Sample]) -> BTreeMap<String, Rollup> {
    let mut h = History::default();
    h.add(day);
    let first: Vec<Sample> = {
        let mut seen = std::collections::BTreeSet::new();
        let mut v: Vec<&Sample> = next.iter().collect();
        v.sort_by_key(|s| s.t);
        v.into_iter().filter(|s| seen.insert(s.m.clone())).cloned().collect()
    };
    h.add(&first);
    let Some(d) = day.first().map(|s| s.time().date_naive()) else { return BTreeMap::new() };
    h.fold_before(d.succ_opt().unwrap_or(d));
    h.days.remove(&d).unwrap_or_default()
}

pub(crate) fn rotate(
    dir: &Path,
    now: DateTime<Utc>,
    cfg: &HistoryConfig,
    notes: &mut Vec<String>,
) -> std::io::Result<()> {
    let today = now.date_naive();
    let keep_from = today - chrono::Duration::days(cfg.retention_days);
    for seg in segments(dir) {
        if seg.day < keep_from {
            remove_file(&seg.path)?;
        } else if !seg.gz && seg.day < today - chrono::Duration::days(1) {
            // Compress every kept segment older than yesterday (`delaycompress`).
            let bytes = match crate::fsutil::read(&seg.path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let gz = seg.path.with_extension("jsonl.gz");
            crate::fsutil::write_atomic(&gz, &gzip(&bytes)?)?;
            remove_file(&seg.path)?;
        }
    }
    prune_rollups(dir, today - chrono::Duration::days(cfg.rollup_retention_days), now, notes)
}

/// Drops rollups of days before `cutoff`: whole month files, and old days of the month
/// the cutoff falls in.
fn prune_rollups(dir: &Path, cutoff: NaiveDate, now: DateTime<Utc>, notes: &mut Vec<String>) -> std::io::Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(ym) = name.strip_prefix("rollups-").and_then(|r| r.strip_suffix(".json")) else { continue };
        let Ok(first) = NaiveDate::parse_from_str(&format!("{ym}-01"), "%Y-%m-%d") else { continue };
        let next_month = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
        if next_month <= cutoff {
            remove_file(&e.path())?;
        } else if first < cutoff {
            let mut file = read_rollups(&e.path(), true, now, notes);
            let before = file.len();
            file.retain(|d, _| *d >= cutoff);
            if file.len() != before {
                write_rollups(&e.path(), &file)?;
            }
        }
    }
    Ok(())
}
