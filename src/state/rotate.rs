//! Rotation of the history store, like logrotate with `compress`, `delaycompress`,
//! `rotate N`: yesterday's segment stays plain, older ones are gzip-compressed, and
//! segments beyond `retention` are folded into daily rollups kept for `rollup_retention`.
//! Runs under the store's lock, after each run's samples are written.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::history::HistoryConfig;
use super::history::{
    gzip, read_rollups, read_segment, rollup_name, segments, write_rollups, Rollup, RollupFile, Sample, Segment,
};

/// Every sample of one day, grouped by monitor and sorted by time.
fn by_monitor(samples: &[Sample]) -> BTreeMap<&str, Vec<&Sample>> {
    let mut m: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        m.entry(s.m.as_str()).or_default().push(s);
    }
    for v in m.values_mut() {
        v.sort_by_key(|s| s.t);
    }
    m
}

/// The rollups of one day's samples; `next` holds the samples of the following segment,
/// whose first sample per monitor ends the day's last gap.
pub fn rollups_of(day: &[Sample], next: &[Sample]) -> BTreeMap<String, Rollup> {
    let mut first: HashMap<&str, i64> = HashMap::new();
    for s in next {
        let e = first.entry(s.m.as_str()).or_insert(s.t);
        *e = (*e).min(s.t);
    }
    by_monitor(day).into_iter().map(|(m, list)| (m.to_string(), Rollup::of(&list, first.get(m).copied()))).collect()
}

pub(crate) fn rotate(
    dir: &Path,
    now: DateTime<Utc>,
    cfg: &HistoryConfig,
    notes: &mut Vec<String>,
) -> std::io::Result<()> {
    let today = now.date_naive();
    let keep_from = today - chrono::Duration::days(cfg.retention_days);
    let segs = segments(dir);

    // Fold: rollups are written before the segment is deleted, so a crash in between
    // leaves the segment, which the next run folds again into the same rollup.
    let mut months: BTreeMap<(i32, u32), RollupFile> = BTreeMap::new();
    let mut folded: Vec<&Segment> = Vec::new();
    let mut cache: Option<(NaiveDate, Vec<Sample>)> = None;
    for (i, seg) in segs.iter().enumerate() {
        if seg.day >= keep_from {
            break;
        }
        let day = match cache.take() {
            Some((d, s)) if d == seg.day => s,
            _ => read_segment(seg, true, now, notes),
        };
        let next = match segs.get(i + 1) {
            Some(n) => read_segment(n, true, now, notes),
            None => Vec::new(),
        };
        let key = (seg.day.year(), seg.day.month());
        if let std::collections::btree_map::Entry::Vacant(v) = months.entry(key) {
            v.insert(read_rollups(&dir.join(rollup_name(key.0, key.1)), true, now, notes));
        }
        if let Some(file) = months.get_mut(&key) {
            file.insert(seg.day, rollups_of(&day, &next));
        }
        folded.push(seg);
        if let Some(n) = segs.get(i + 1) {
            cache = Some((n.day, next));
        }
    }
    for ((y, m), file) in &months {
        write_rollups(&dir.join(rollup_name(*y, *m)), file)?;
    }
    for seg in folded {
        remove(&seg.path)?;
    }

    // Compress every kept segment older than yesterday (`delaycompress`).
    for seg in segs.iter().filter(|s| !s.gz && s.day >= keep_from && s.day < today - chrono::Duration::days(1)) {
        let bytes = match std::fs::read(&seg.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let gz = seg.path.with_extension("jsonl.gz");
        crate::report::write_atomic(&gz, &gzip(&bytes)?)?;
        remove(&seg.path)?;
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
            remove(&e.path())?;
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

fn remove(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
