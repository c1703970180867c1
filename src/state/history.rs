//! The history store: every run's results as raw samples in daily segment files under
//! `<state>/history/`, rotated like logrotate (see `rotate.rs`) into gzip and then into
//! daily rollups. Uptime, error rates, percentiles and leak detection read it back.
//!
//! Every file is replaced atomically (temporary sibling + rename) and every write holds
//! `history/.lock`, so a crash or two overlapping runs never leave half a file behind.
//! A segment with unreadable lines is moved aside, its readable lines kept, and the run
//! is told in a note.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{CheckResult, Status};
use crate::config::StateConfig;

pub const HISTORY_DIR: &str = "history";

/// Retention and detection settings, resolved from `state:`.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// Days of raw samples kept besides today (`state.retention`, default 7 days).
    pub retention_days: i64,
    /// Days of daily rollups kept (`state.rollup_retention`, default 400 days).
    pub rollup_retention_days: i64,
    /// Window of the memory trend (`state.leak_window`, default 24h).
    pub leak_window: Duration,
    /// How long a write waits for another run's lock.
    pub lock_timeout: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            retention_days: 7,
            rollup_retention_days: 400,
            leak_window: Duration::from_secs(24 * 3600),
            lock_timeout: Duration::from_secs(30),
        }
    }
}

impl HistoryConfig {
    pub fn from_config(c: &StateConfig) -> Self {
        let d = HistoryConfig::default();
        let days = |x: Option<crate::config::Dur>, dflt: i64| {
            x.map(|v| (v.get().as_secs() / 86_400).max(1) as i64).unwrap_or(dflt)
        };
        HistoryConfig {
            retention_days: days(c.retention, d.retention_days),
            rollup_retention_days: days(c.rollup_retention, d.rollup_retention_days),
            leak_window: c.leak_window.map(|v| v.get()).filter(|w| !w.is_zero()).unwrap_or(d.leak_window),
            lock_timeout: d.lock_timeout,
        }
    }
}

/// One monitor's result in one run, as kept in a segment (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Monitor name.
    pub m: String,
    /// Start of the check, Unix milliseconds.
    pub t: i64,
    pub s: Status,
    /// Response time in ms, when the check measures one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rt: Option<f64>,
    /// Requests made and how many failed (an `http` monitor with `samples: 5` makes 5).
    #[serde(default = "one")]
    pub n: u32,
    #[serde(default)]
    pub e: u32,
    /// Error kind and normalized message (digits folded to `#`), for error aggregation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ek: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub em: Option<String>,
    /// The error message as the check wrote it (already redacted), at most
    /// [`MAX_REAL_MESSAGE`] characters: what "Top errors" shows of a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub er: Option<String>,
    /// Memory series by name (bytes, or percent for app endpoints that report only that).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mem: BTreeMap<String, f64>,
    /// What the byte series are bounded by (`memory_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lim: Option<f64>,
    /// Redis keyspace hits and misses since the previous run (absent after a restart or
    /// on a first run, when only lifetime counters are known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kh: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub km: Option<u64>,
}

fn one() -> u32 {
    1
}

impl Sample {
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.t).unwrap_or_default()
    }
}

/// Longest real error message a sample and an error group keep, in characters.
pub const MAX_REAL_MESSAGE: usize = 300;

/// The message in its grouping form (see [`crate::errgroup::normalize`]).
pub fn normalize_message(msg: &str) -> String {
    crate::errgroup::normalize(msg)
}

/// The samples of one run: one per monitor that ran (skipped ones did not).
pub fn samples_from(results: &[CheckResult]) -> Vec<Sample> {
    results
        .iter()
        .filter(|r| r.status != Status::Skipped)
        .map(|r| {
            let mut mem = BTreeMap::new();
            let series = r.metrics.get("memory_series").and_then(|v| v.as_array());
            match series {
                Some(list) => {
                    for name in list.iter().filter_map(|n| n.as_str()) {
                        if let Some(v) = r.metric_f64(name) {
                            mem.insert(name.to_string(), v);
                        }
                    }
                }
                // App endpoints (`extract: {percent: /percent}`) have only a percentage.
                None => {
                    if let Some(p) = r.metric_f64("percent") {
                        mem.insert("percent".to_string(), p);
                    }
                }
            }
            let down = r.status == Status::Down;
            let n = r.metric_f64("samples").filter(|n| *n >= 1.0).map(|n| n as u32).unwrap_or(1);
            let e = match r.metric_f64("errors") {
                Some(e) if e >= 0.0 => (e as u32).min(n),
                _ => u32::from(down),
            };
            Sample {
                m: r.name.clone(),
                t: r.started_at.timestamp_millis(),
                s: r.status,
                rt: r.metric_f64("response_time_ms"),
                n,
                e: if down { e.max(1) } else { e },
                ek: r.error.as_ref().map(|x| x.kind.as_str().to_string()),
                em: r.error.as_ref().map(|x| normalize_message(&x.message)),
                er: r.error.as_ref().map(|x| crate::untrusted::bound(&x.message, MAX_REAL_MESSAGE)),
                mem,
                lim: r.metric_f64("memory_limit"),
                kh: r.metric_f64("keyspace_hits_delta").map(|v| v as u64),
                km: r.metric_f64("keyspace_misses_delta").map(|v| v as u64),
            }
        })
        .collect()
}

pub use super::agg::{Agg, ErrorGroup, History, HoursFile, RollupFile, Stamp, Tail};
/// The daily aggregate of one monitor (the name the store's files use).
pub type Rollup = Agg;

pub fn history_dir(state_dir: &Path) -> PathBuf {
    state_dir.join(HISTORY_DIR)
}

/// A raw segment file: its day and whether it is compressed.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub day: NaiveDate,
    pub path: PathBuf,
    pub gz: bool,
}

pub(crate) fn segment_name(day: NaiveDate) -> String {
    format!("samples-{}.jsonl", day.format("%Y-%m-%d"))
}

pub(crate) fn rollup_name(year: i32, month: u32) -> String {
    format!("rollups-{year:04}-{month:02}.json")
}

/// The raw segments in `dir`, oldest first. A day with both forms (a crash between
/// compressing and deleting) is listed once, as its complete `.gz`.
pub(crate) fn segments(dir: &Path) -> Vec<Segment> {
    let mut by_day: BTreeMap<NaiveDate, Segment> = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return vec![] };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("samples-") else { continue };
        let (date, gz) = if let Some(d) = rest.strip_suffix(".jsonl.gz") {
            (d, true)
        } else if let Some(d) = rest.strip_suffix(".jsonl") {
            (d, false)
        } else {
            continue;
        };
        let Ok(day) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else { continue };
        let seg = Segment { day, path: e.path(), gz };
        match by_day.get(&day) {
            Some(old) if old.gz => {}
            _ => {
                by_day.insert(day, seg);
            }
        }
    }
    by_day.into_values().collect()
}

/// Reads a segment's samples. Unreadable lines (a truncated write, a damaged gzip
/// stream) are skipped and, with `repair`, the file is moved aside and its readable
/// lines written back; either way a note says so.
pub(crate) fn read_segment(seg: &Segment, repair: bool, now: DateTime<Utc>, notes: &mut Vec<String>) -> Vec<Sample> {
    let file = match crate::fsutil::open_read(&seg.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![],
        Err(e) if crate::fsutil::is_symlink(&e) => {
            let moved = if repair { crate::fsutil::move_aside(&seg.path, now) } else { None };
            notes.push(crate::fsutil::symlink_note(&seg.path, moved.as_deref()));
            return vec![];
        }
        Err(e) => {
            notes.push(format!(
                "history segment {} could not be read ({e}); its samples are left out",
                seg.path.display()
            ));
            return vec![];
        }
    };
    let reader: Box<dyn Read> = if seg.gz { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut out = Vec::new();
    let mut bad = 0usize;
    let mut broken_stream = None;
    let mut br = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match br.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<Sample>(text) {
                    Ok(s) => out.push(s),
                    Err(_) => bad += 1,
                }
            }
            Err(e) => {
                broken_stream = Some(e);
                break;
            }
        }
    }
    if bad == 0 && broken_stream.is_none() {
        return out;
    }
    let what = match &broken_stream {
        Some(e) => format!("is damaged ({e}) after {} readable samples", out.len()),
        None => format!("has {bad} unreadable line{}", if bad == 1 { "" } else { "s" }),
    };
    if !repair {
        notes.push(format!(
            "history segment {} {what}; they are left out (dry run: file untouched)",
            seg.path.display()
        ));
        return out;
    }
    let aside = crate::fsutil::aside_path(&seg.path, now);
    let moved = std::fs::rename(&seg.path, &aside).is_ok();
    let kept = moved && write_segment(seg, &out).is_ok();
    notes.push(if kept {
        format!(
            "history segment {} {what}; moved to {} and its {} readable samples kept",
            seg.path.display(),
            aside.display(),
            out.len()
        )
    } else {
        format!("history segment {} {what} and could not be repaired; it is left out of this run", seg.path.display())
    });
    out
}

pub(crate) fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(samples.len() * 120);
    for s in samples {
        if serde_json::to_writer(&mut buf, s).is_ok() {
            buf.push(b'\n');
        }
    }
    buf
}

pub(crate) fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)?;
    enc.finish()
}

pub(crate) fn write_segment(seg: &Segment, samples: &[Sample]) -> std::io::Result<()> {
    let bytes = encode(samples);
    if seg.gz {
        crate::fsutil::write_atomic(&seg.path, &gzip(&bytes)?)
    } else {
        crate::fsutil::write_atomic(&seg.path, &bytes)
    }
}

pub(crate) const TAILS_FILE: &str = "tails.json";
pub(crate) const ERRORS_FILE: &str = "errors.json";

pub(crate) fn hours_name(day: NaiveDate) -> String {
    format!("hours-{}.json", day.format("%Y-%m-%d"))
}

/// Reads one of the store's JSON files. Missing is `Ok(None)`; a file that does not parse
/// is moved aside (with `repair`) and reported, and reads as `Err(())`.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    repair: bool,
    now: DateTime<Utc>,
    notes: &mut Vec<String>,
) -> Result<Option<T>, ()> {
    let bytes = match crate::fsutil::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if crate::fsutil::is_symlink(&e) => {
            let moved = if repair { crate::fsutil::move_aside(path, now) } else { None };
            notes.push(crate::fsutil::symlink_note(path, moved.as_deref()));
            return Err(());
        }
        Err(e) => {
            notes.push(format!("history file {} could not be read ({e}); left out", path.display()));
            return Err(());
        }
    };
    match serde_json::from_slice::<T>(&bytes) {
        Ok(v) => Ok(Some(v)),
        Err(e) if repair => {
            let aside = crate::fsutil::aside_path(path, now);
            let moved = std::fs::rename(path, &aside).is_ok();
            notes.push(format!(
                "history file {} was corrupt ({e}); {}",
                path.display(),
                if moved { format!("moved to {}", aside.display()) } else { "it could not be moved aside".into() }
            ));
            Err(())
        }
        Err(e) => {
            notes.push(format!("history file {} is corrupt ({e}); left out (dry run: file untouched)", path.display()));
            Err(())
        }
    }
}

pub(crate) fn write_json<T: Serialize>(path: &Path, v: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, &bytes)
}

pub(crate) fn read_rollups(path: &Path, repair: bool, now: DateTime<Utc>, notes: &mut Vec<String>) -> RollupFile {
    let read: Option<super::agg::RollupRead> = read_json(path, repair, now, notes).ok().flatten();
    read.map(|r| r.into_iter().map(|(day, per)| (day, per.0)).collect()).unwrap_or_default()
}

pub(crate) fn write_rollups(path: &Path, r: &RollupFile) -> std::io::Result<()> {
    if r.is_empty() {
        return remove_file(path);
    }
    write_json(path, r)
}

pub(crate) fn remove_file(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The days that have an hourly aggregate file.
pub(crate) fn hours_days(dir: &Path) -> Vec<NaiveDate> {
    let Ok(rd) = std::fs::read_dir(dir) else { return vec![] };
    let mut v: Vec<NaiveDate> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let d = name.strip_prefix("hours-")?.strip_suffix(".json")?.to_string();
            NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()
        })
        .collect();
    v.sort();
    v
}

/// Loads the aggregates: tails, error groups, every hourly file and (with `rollups:
/// Some(days)`) the daily rollups of the months covering the last `days` days. A store that has raw segments but no aggregates
/// (written by vaktpost 0.1, or whose aggregates were corrupt) is rebuilt from its raw
/// segments, in memory; `save` writes the rebuilt aggregates.
pub(crate) fn load_aggregates(
    dir: &Path,
    now: DateTime<Utc>,
    repair: bool,
    rollups: Option<i64>,
    notes: &mut Vec<String>,
) -> History {
    let mut h = History::default();
    if !dir.is_dir() {
        return h;
    }
    let mut rebuild = false;
    let stamp = Stamp::of(&dir.join(TAILS_FILE));
    let mut months = BTreeSet::new();
    let from = (now - chrono::Duration::days(rollups.unwrap_or(FIGURE_DAYS))).date_naive();
    if rollups.is_some() {
        let mut d = from;
        while d <= now.date_naive() {
            months.insert((d.year(), d.month()));
            let Some(next) = d.succ_opt() else { break };
            d = next;
        }
    }
    // The files are independent: parse them on as many threads (a few megabytes each
    // for a large fleet; parsing is most of a run's history cost).
    enum Part {
        Tails(Result<Option<BTreeMap<String, Tail>>, ()>),
        Errors(Result<Option<BTreeMap<String, ErrorGroup>>, ()>),
        Hours(NaiveDate, Result<Option<HoursFile>, ()>),
        Rollups(RollupFile),
    }
    let parts: Vec<(Part, Vec<String>)> = std::thread::scope(|sc| {
        let mut handles = Vec::new();
        handles.push(sc.spawn(|| {
            let mut n = Vec::new();
            (Part::Tails(read_json(&dir.join(TAILS_FILE), repair, now, &mut n)), n)
        }));
        handles.push(sc.spawn(|| {
            let mut n = Vec::new();
            (Part::Errors(read_json(&dir.join(ERRORS_FILE), repair, now, &mut n)), n)
        }));
        for day in hours_days(dir) {
            handles.push(sc.spawn(move || {
                let mut n = Vec::new();
                (Part::Hours(day, read_json(&dir.join(hours_name(day)), repair, now, &mut n)), n)
            }));
        }
        for (y, m) in &months {
            let path = dir.join(rollup_name(*y, *m));
            handles.push(sc.spawn(move || {
                let mut n = Vec::new();
                (Part::Rollups(read_rollups(&path, repair, now, &mut n)), n)
            }));
        }
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (part, n) in parts {
        notes.extend(n);
        match part {
            Part::Tails(Ok(Some(t))) => h.tails = t,
            Part::Tails(Ok(None)) => rebuild |= !segments(dir).is_empty(),
            Part::Tails(Err(())) | Part::Hours(_, Err(())) => rebuild = true,
            Part::Errors(Ok(Some(e))) => h.errors = e,
            Part::Errors(_) | Part::Hours(_, Ok(None)) => {}
            Part::Hours(day, Ok(Some(f))) => {
                h.hours.insert(day, f);
            }
            Part::Rollups(file) => h.days.extend(file.into_iter().filter(|(day, _)| *day >= from)),
        }
    }
    if rebuild {
        h = rebuild_from_raw(dir, now, repair, h, notes);
    } else {
        h.stamp = stamp;
    }
    h
}

/// Replays the raw segments into fresh aggregates (keeping rollups of days the segments
/// no longer cover, and the error groups).
fn rebuild_from_raw(dir: &Path, now: DateTime<Utc>, repair: bool, old: History, notes: &mut Vec<String>) -> History {
    let mut h = History { errors: BTreeMap::new(), ..History::default() };
    let mut raw_days = BTreeSet::new();
    for seg in segments(dir) {
        raw_days.insert(seg.day);
        let samples = read_segment(&seg, repair, now, notes);
        h.add(&samples);
    }
    let yesterday = now.date_naive() - chrono::Duration::days(1);
    h.fold_before(yesterday);
    for (d, per) in old.days {
        if !raw_days.contains(&d) {
            h.days.insert(d, per);
        }
    }
    if h.errors.is_empty() {
        h.errors = old.errors;
    }
    h.dirty = h.hours.keys().copied().collect();
    h.rebuilt = true;
    h
}

/// Loads what the derived figures need. Missing history is empty. With `repair` (not a
/// dry run) corrupt files are moved aside; the notes say what happened either way.
pub fn load(state_dir: &Path, now: DateTime<Utc>, repair: bool) -> (History, Vec<String>) {
    let mut notes = Vec::new();
    let dir = history_dir(state_dir);
    if repair {
        crate::fsutil::quarantine_symlinks(&dir, now, &mut notes);
    }
    let h = load_aggregates(&dir, now, repair, Some(FIGURE_DAYS), &mut notes);
    (h, notes)
}

/// Days of rollups a run loads: the longest figure window (30 days) and a day's margin.
pub const FIGURE_DAYS: i64 = 31;

/// [`load`] reaching `days` back (the status site's 90 days), read-only: nothing is
/// repaired or moved aside.
pub fn load_days(state_dir: &Path, now: DateTime<Utc>, days: i64) -> (History, Vec<String>) {
    let mut notes = Vec::new();
    let h = load_aggregates(&history_dir(state_dir), now, false, Some(days.max(FIGURE_DAYS)), &mut notes);
    (h, notes)
}

/// Appends samples to the raw segment of their day. The segment is append-only under the
/// lock; one that does not end a line (cut short by something other than vaktpost) is
/// repaired first rather than glued onto half a line.
///
/// Returns the segments appended to in place with their lengths before, so a save that
/// fails later can take this run's samples out again (raw samples and aggregates agree).
fn append_raw(
    dir: &Path,
    now: DateTime<Utc>,
    new: &[Sample],
    notes: &mut Vec<String>,
    appended: &mut Vec<(PathBuf, u64)>,
) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut by_day: BTreeMap<NaiveDate, Vec<Sample>> = BTreeMap::new();
    for s in new {
        by_day.entry(s.time().date_naive()).or_default().push(s.clone());
    }
    let existing = segments(dir);
    for (day, list) in by_day {
        match existing.iter().find(|s| s.day == day) {
            Some(seg) if seg.gz => {
                let mut all = read_segment(seg, true, now, notes);
                all.extend(list);
                write_segment(seg, &all)?;
            }
            Some(seg) => {
                // Never through a symlink: one planted in a restored cache would make the
                // run append to any file it can write.
                let mut f = match crate::fsutil::open_append(&seg.path) {
                    Ok(f) => f,
                    Err(e) if crate::fsutil::is_symlink(&e) => {
                        notes.push(crate::fsutil::symlink_note(
                            &seg.path,
                            crate::fsutil::move_aside(&seg.path, now).as_deref(),
                        ));
                        write_segment(&Segment { gz: false, ..seg.clone() }, &list)?;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let len = f.metadata()?.len();
                let mut last = [b'\n'];
                if len > 0 {
                    f.seek(SeekFrom::Start(len - 1))?;
                    std::io::Read::read_exact(&mut f, &mut last)?;
                }
                if last[0] != b'\n' {
                    drop(f);
                    let mut all = read_segment(seg, true, now, notes);
                    all.extend(list);
                    write_segment(seg, &all)?;
                    continue;
                }
                appended.push((seg.path.clone(), len));
                f.write_all(&encode(&list))?;
            }
            None => {
                let seg = Segment { day, path: dir.join(segment_name(day)), gz: false };
                write_segment(&seg, &list)?;
            }
        }
    }
    Ok(())
}

/// Adds this run's samples to the store and rotates it, under the lock: raw samples
/// appended to today's segment, aggregates updated, hourly aggregates of days before
/// yesterday folded into daily rollups. An empty run writes nothing. Returns notes for the
/// run (repairs, rebuilds, rotation problems).
pub fn save(state_dir: &Path, now: DateTime<Utc>, cfg: &HistoryConfig, new: &[Sample]) -> std::io::Result<Vec<String>> {
    save_loaded(state_dir, now, cfg, new, None)
}

/// [`save`], given what [`load`] returned with `new` already added: when no other run
/// saved since that load, it is written as is instead of being read again.
pub fn save_loaded(
    state_dir: &Path,
    now: DateTime<Utc>,
    cfg: &HistoryConfig,
    new: &[Sample],
    loaded: Option<History>,
) -> std::io::Result<Vec<String>> {
    if new.is_empty() {
        return Ok(vec![]);
    }
    let dir = history_dir(state_dir);
    let _lock = crate::fsutil::Lock::acquire(&dir, cfg.lock_timeout)?;
    let mut notes = Vec::new();
    crate::fsutil::quarantine_symlinks(&dir, now, &mut notes);
    let current = Stamp::of(&dir.join(TAILS_FILE));
    let h = match loaded {
        Some(mut h) if h.stamp.is_some() && h.stamp == current => {
            // Only today's and yesterday's hours change; the rollups were loaded for the
            // figures and are re-read below where a fold needs them.
            h.days.clear();
            h
        }
        _ => {
            let mut h = load_aggregates(&dir, now, true, None, &mut notes);
            if h.rebuilt {
                notes.push(format!("history aggregates rebuilt from the raw samples in {}", dir.display()));
            }
            h.add(new);
            h
        }
    };
    let mut appended = Vec::new();
    let res = append_raw(&dir, now, new, &mut notes, &mut appended)
        .and_then(|()| write_aggregates(&dir, now, cfg, h, &mut notes));
    if res.is_err() {
        // The aggregates were not all written: take this run's samples out of the raw
        // segments again, so a rebuild does not count a sample the aggregates lack.
        for (path, len) in appended {
            if let Ok(f) = crate::fsutil::open_append(&path) {
                let _ = f.set_len(len);
            }
        }
    }
    res.map(|()| notes)
}

/// The aggregate half of [`save_loaded`]: folds, hourly files, error groups, tails, rotation.
fn write_aggregates(
    dir: &Path,
    now: DateTime<Utc>,
    cfg: &HistoryConfig,
    mut h: History,
    notes: &mut Vec<String>,
) -> std::io::Result<()> {
    h.prune_errors(now);

    // Days before yesterday leave the hourly files for their month's rollups. Rollups are
    // written before the hourly file is deleted, so a crash in between only repeats the
    // fold (into the same, re-read rollup) on the next run. After a rebuild, every day it
    // folded from the raw samples is written too.
    let yesterday = now.date_naive() - chrono::Duration::days(1);
    let old: Vec<NaiveDate> = h.hours.range(..yesterday).map(|(d, _)| *d).collect();
    let mut to_write: BTreeSet<NaiveDate> = old.iter().copied().collect();
    if h.rebuilt {
        to_write.extend(h.days.keys());
    }
    if !to_write.is_empty() {
        let mut months: BTreeMap<(i32, u32), RollupFile> = BTreeMap::new();
        for d in &to_write {
            months
                .entry((d.year(), d.month()))
                .or_insert_with(|| read_rollups(&dir.join(rollup_name(d.year(), d.month())), true, now, notes));
        }
        // Fold on top of what a month file already holds for a day (a late sample), so
        // nothing is counted twice or lost.
        for d in &old {
            if let Some(per) = months.get(&(d.year(), d.month())).and_then(|f| f.get(d)) {
                h.days.entry(*d).or_insert_with(|| per.clone());
            }
        }
        h.fold_before(yesterday);
        for d in &to_write {
            if let (Some(file), Some(per)) = (months.get_mut(&(d.year(), d.month())), h.days.get(d)) {
                file.insert(*d, per.clone());
            }
        }
        for ((y, m), file) in &months {
            write_rollups(&dir.join(rollup_name(*y, *m)), file)?;
        }
        for d in &old {
            remove_file(&dir.join(hours_name(*d)))?;
        }
        compact_rollups(dir, now, notes)?;
    }
    for d in &h.dirty {
        if let Some(f) = h.hours.get(d) {
            write_json(&dir.join(hours_name(*d)), f)?;
        }
    }
    write_json(&dir.join(ERRORS_FILE), &h.errors)?;
    write_json(&dir.join(TAILS_FILE), &h.tails)?;
    super::rotate::rotate(dir, now, cfg, notes)?;
    Ok(())
}

/// Writes a whole [`History`] as the store (hourly files for today and yesterday, month
/// rollups before, tails and error groups), then rotates. For imports and benchmarks;
/// runs use [`save`].
pub fn write_store(state_dir: &Path, now: DateTime<Utc>, cfg: &HistoryConfig, mut h: History) -> std::io::Result<()> {
    let dir = history_dir(state_dir);
    let _lock = crate::fsutil::Lock::acquire(&dir, cfg.lock_timeout)?;
    let mut notes = Vec::new();
    h.fold_before(now.date_naive() - chrono::Duration::days(1));
    let mut months: BTreeMap<(i32, u32), RollupFile> = BTreeMap::new();
    for (d, per) in std::mem::take(&mut h.days) {
        months.entry((d.year(), d.month())).or_default().insert(d, per);
    }
    for ((y, m), file) in &months {
        write_rollups(&dir.join(rollup_name(*y, *m)), file)?;
    }
    for (d, f) in &h.hours {
        write_json(&dir.join(hours_name(*d)), f)?;
    }
    write_json(&dir.join(ERRORS_FILE), &h.errors)?;
    write_json(&dir.join(TAILS_FILE), &h.tails)?;
    compact_rollups(&dir, now, &mut notes)?;
    super::rotate::rotate(&dir, now, cfg, &mut notes)
}

/// Drops the latency histograms of rollups older than `HIST_DAYS` (keeping their
/// p50/p95/p99), in the month files that can hold such days. Once a day, at a fold.
fn compact_rollups(dir: &Path, now: DateTime<Utc>, notes: &mut Vec<String>) -> std::io::Result<()> {
    let before = now.date_naive() - chrono::Duration::days(super::agg::HIST_DAYS);
    let mut months = BTreeSet::new();
    for back in [0, 31] {
        let d = before - chrono::Duration::days(back);
        months.insert((d.year(), d.month()));
    }
    for (y, m) in months {
        let path = dir.join(rollup_name(y, m));
        let mut file = read_rollups(&path, true, now, notes);
        let mut changed = false;
        for (_, per) in file.range_mut(..before) {
            for a in per.values_mut() {
                changed |= a.compact();
            }
        }
        if changed {
            write_rollups(&path, &file)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(m: &str, t: i64, s: Status, rt: f64) -> Sample {
        Sample {
            m: m.into(),
            t,
            s,
            rt: Some(rt),
            n: 1,
            e: u32::from(s == Status::Down),
            ek: None,
            em: None,
            er: None,
            mem: BTreeMap::new(),
            lim: None,
            kh: None,
            km: None,
        }
    }

    #[test]
    fn messages_group_by_shape_not_numbers() {
        assert_eq!(normalize_message("timed out after 5003ms"), normalize_message("timed out after 12ms"));
        assert_eq!(normalize_message("HTTP 503 from 10.0.0.1"), "HTTP # from <ip>");
    }

    #[test]
    fn the_day_rollup_is_the_sum_of_its_hours() {
        const DAY: i64 = 86_400_000;
        let a = sample("a", DAY - 900_000, Status::Up, 10.0);
        let b = sample("a", DAY - 600_000, Status::Down, 30.0);
        let c = sample("a", DAY - 300_000, Status::Degraded, 20.0);
        let d = sample("a", DAY, Status::Up, 20.0);
        let r = &crate::state::rotate::rollups_of(&[a, b, c], &[d])["a"];
        assert_eq!((r.count, r.up, r.degraded, r.down, r.errors), (3, 1, 1, 1, 1));
        assert_eq!((r.known_ms, r.up_ms), (900_000, 600_000));
        assert_eq!(r.max_ms, Some(30.0));
    }
}
