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
const LOCK_FILE: &str = ".lock";
/// A lock older than this belongs to a run that died; a write takes seconds at most.
const STALE_LOCK: Duration = Duration::from_secs(120);

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
    /// Memory series by name (bytes, or percent for app endpoints that report only that).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mem: BTreeMap<String, f64>,
    /// What the byte series are bounded by (`memory_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lim: Option<f64>,
}

fn one() -> u32 {
    1
}

impl Sample {
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.t).unwrap_or_default()
    }
}

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
                mem,
                lim: r.metric_f64("memory_limit"),
            }
        })
        .collect()
}

/// One monitor's day, as kept after its raw samples are gone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    pub count: u64,
    pub up: u64,
    pub degraded: u64,
    pub down: u64,
    /// Requests and failed requests (for error rates).
    pub requests: u64,
    pub errors: u64,
    /// Time-weighted: milliseconds covered by a sample, and of those, up (see `weights`).
    pub known_ms: i64,
    pub up_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_kinds: BTreeMap<String, u64>,
}

impl Rollup {
    /// The rollup of one monitor's samples of one day (sorted by time); `next` is the time
    /// of its first sample after that day, which bounds the last sample's weight.
    pub fn of(samples: &[&Sample], next: Option<i64>) -> Rollup {
        let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
        let cap = weight_cap(&times);
        let mut r = Rollup::default();
        let mut rts = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            r.count += 1;
            match s.s {
                Status::Up => r.up += 1,
                Status::Degraded => r.degraded += 1,
                Status::Down => r.down += 1,
                Status::Skipped => {}
            }
            r.requests += u64::from(s.n);
            r.errors += u64::from(s.e);
            let nxt = times.get(i + 1).copied().or(next);
            let w = nxt.map(|n| (n - s.t).clamp(0, cap)).unwrap_or(0);
            r.known_ms += w;
            if s.s.is_up() {
                r.up_ms += w;
            }
            if let Some(k) = &s.ek {
                *r.error_kinds.entry(k.clone()).or_default() += 1;
            }
            if let Some(rt) = s.rt {
                rts.push(rt);
            }
        }
        rts.sort_by(f64::total_cmp);
        r.p50_ms = percentile(&rts, 50.0);
        r.p95_ms = percentile(&rts, 95.0);
        r.p99_ms = percentile(&rts, 99.0);
        r.max_ms = rts.last().copied();
        r
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// The longest stretch one sample speaks for: twice the monitor's usual gap (the median
/// gap between its samples), between one minute and one hour. A longer silence is unknown.
pub fn weight_cap(times: &[i64]) -> i64 {
    const MIN: i64 = 60_000;
    const MAX: i64 = 3_600_000;
    let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0).collect();
    if gaps.is_empty() {
        return MAX;
    }
    gaps.sort_unstable();
    (2 * gaps[gaps.len() / 2]).clamp(MIN, MAX)
}

/// What a run reads back: raw samples by monitor (sorted by time) and daily rollups.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub samples: BTreeMap<String, Vec<Sample>>,
    /// Day → monitor → rollup, for days whose raw segment is gone.
    pub rollups: BTreeMap<NaiveDate, BTreeMap<String, Rollup>>,
    /// Days that have a raw segment (their rollups, if any, are not used).
    pub raw_days: BTreeSet<NaiveDate>,
}

impl History {
    /// Adds this run's samples (kept sorted by time per monitor).
    pub fn add(&mut self, samples: &[Sample]) {
        for s in samples {
            let v = self.samples.entry(s.m.clone()).or_default();
            let pos = v.partition_point(|x| x.t <= s.t);
            v.insert(pos, s.clone());
            self.raw_days.insert(s.time().date_naive());
        }
    }
}

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
    let file = match std::fs::File::open(&seg.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![],
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
    let name = seg.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let aside = seg.path.with_file_name(format!("{name}.corrupt-{}", now.format("%Y%m%dT%H%M%SZ")));
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
        crate::report::write_atomic(&seg.path, &gzip(&bytes)?)
    } else {
        crate::report::write_atomic(&seg.path, &bytes)
    }
}

/// Month files of rollups: day → monitor → rollup.
pub(crate) type RollupFile = BTreeMap<NaiveDate, BTreeMap<String, Rollup>>;

pub(crate) fn read_rollups(path: &Path, repair: bool, now: DateTime<Utc>, notes: &mut Vec<String>) -> RollupFile {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return RollupFile::new(),
        Err(e) => {
            notes.push(format!("history rollups {} could not be read ({e}); left out", path.display()));
            return RollupFile::new();
        }
    };
    match serde_json::from_slice::<RollupFile>(&text) {
        Ok(r) => r,
        Err(e) => {
            if repair {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let aside = path.with_file_name(format!("{name}.corrupt-{}", now.format("%Y%m%dT%H%M%SZ")));
                let moved = std::fs::rename(path, &aside).is_ok();
                notes.push(format!(
                    "history rollups {} were corrupt ({e}); {}",
                    path.display(),
                    if moved { format!("moved to {}", aside.display()) } else { "could not be moved aside".into() }
                ));
            } else {
                notes.push(format!("history rollups {} are corrupt ({e}); left out", path.display()));
            }
            RollupFile::new()
        }
    }
}

pub(crate) fn write_rollups(path: &Path, r: &RollupFile) -> std::io::Result<()> {
    if r.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let bytes = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    crate::report::write_atomic(path, &bytes)
}

/// Loads what the derived figures need: every raw segment and the rollups of the last
/// 31 days. Missing history is empty. With `repair` (not a dry run) corrupt files are
/// moved aside; the notes say what happened either way.
pub fn load(state_dir: &Path, now: DateTime<Utc>, repair: bool) -> (History, Vec<String>) {
    let dir = history_dir(state_dir);
    let mut h = History::default();
    let mut notes = Vec::new();
    if !dir.is_dir() {
        return (h, notes);
    }
    for seg in segments(&dir) {
        let samples = read_segment(&seg, repair, now, &mut notes);
        h.raw_days.insert(seg.day);
        for s in samples {
            h.samples.entry(s.m.clone()).or_default().push(s);
        }
    }
    for v in h.samples.values_mut() {
        v.sort_by_key(|s| s.t);
    }
    let from = (now - chrono::Duration::days(31)).date_naive();
    let mut months = BTreeSet::new();
    let mut d = from;
    while d <= now.date_naive() {
        months.insert((d.year(), d.month()));
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    for (y, m) in months {
        for (day, per) in read_rollups(&dir.join(rollup_name(y, m)), repair, now, &mut notes) {
            if day >= from {
                h.rollups.insert(day, per);
            }
        }
    }
    (h, notes)
}

/// Holds `history/.lock` while alive. Created with O_EXCL; a lock left by a run that
/// died (older than two minutes) is taken over.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn acquire(dir: &Path, timeout: Duration) -> std::io::Result<Lock> {
        use std::io::Write;
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOCK_FILE);
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path).and_then(|m| m.modified()).ok().and_then(|m| m.elapsed().ok());
                    if age.is_some_and(|a| a > STALE_LOCK) {
                        // Another waiter may remove it first; either way, try again.
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if start.elapsed() > timeout {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::WouldBlock,
                            format!(
                                "{} is held by another vaktpost run; if none is running, delete it",
                                path.display()
                            ),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Appends this run's samples to today's segment and rotates the store, under the lock.
/// An empty run writes nothing. Returns notes for the run (repairs, rotation problems).
pub fn save(state_dir: &Path, now: DateTime<Utc>, cfg: &HistoryConfig, new: &[Sample]) -> std::io::Result<Vec<String>> {
    if new.is_empty() {
        return Ok(vec![]);
    }
    let dir = history_dir(state_dir);
    let _lock = Lock::acquire(&dir, cfg.lock_timeout)?;
    let mut notes = Vec::new();
    // Samples go to the segment of their own day (a run spanning midnight writes two).
    let mut by_day: BTreeMap<NaiveDate, Vec<&Sample>> = BTreeMap::new();
    for s in new {
        by_day.entry(s.time().date_naive()).or_default().push(s);
    }
    let existing = segments(&dir);
    for (day, list) in by_day {
        let owned: Vec<Sample> = list.into_iter().cloned().collect();
        match existing.iter().find(|s| s.day == day) {
            Some(seg) if seg.gz => {
                let mut all = read_segment(seg, true, now, &mut notes);
                all.extend(owned);
                write_segment(seg, &all)?;
            }
            Some(seg) => {
                let mut bytes = match std::fs::read(&seg.path) {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(e),
                };
                // A file that does not end a line was cut short by something other than
                // vaktpost (writes are atomic): repair it rather than glue onto half a line.
                if bytes.last().is_some_and(|b| *b != b'\n') {
                    let mut all = read_segment(seg, true, now, &mut notes);
                    all.extend(owned);
                    write_segment(seg, &all)?;
                    continue;
                }
                bytes.extend(encode(&owned));
                crate::report::write_atomic(&seg.path, &bytes)?;
            }
            None => {
                let seg = Segment { day, path: dir.join(segment_name(day)), gz: false };
                write_segment(&seg, &owned)?;
            }
        }
    }
    super::rotate::rotate(&dir, now, cfg, &mut notes)?;
    Ok(notes)
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
            mem: BTreeMap::new(),
            lim: None,
        }
    }

    #[test]
    fn messages_group_by_shape_not_numbers() {
        assert_eq!(normalize_message("timed out after 5003ms"), normalize_message("timed out after 12ms"));
        assert_eq!(normalize_message("HTTP 503 from 10.0.0.1"), "HTTP # from <ip>");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn weight_cap_is_twice_the_usual_gap() {
        let t: Vec<i64> = (0..10).map(|i| i * 300_000).collect();
        assert_eq!(weight_cap(&t), 600_000);
        assert_eq!(weight_cap(&[0]), 3_600_000);
    }

    #[test]
    fn rollup_counts_and_weights() {
        let a = sample("a", 0, Status::Up, 10.0);
        let b = sample("a", 300_000, Status::Down, 30.0);
        let c = sample("a", 600_000, Status::Degraded, 20.0);
        let r = Rollup::of(&[&a, &b, &c], Some(900_000));
        assert_eq!((r.count, r.up, r.degraded, r.down, r.errors), (3, 1, 1, 1, 1));
        assert_eq!((r.known_ms, r.up_ms), (900_000, 600_000));
        assert_eq!(r.max_ms, Some(30.0));
        assert_eq!(r.p50_ms, Some(20.0));
    }

    #[test]
    fn stale_lock_is_taken_over_and_live_lock_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let held = Lock::acquire(dir.path(), Duration::from_secs(1)).unwrap();
        let err = Lock::acquire(dir.path(), Duration::from_millis(50)).err().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        drop(held);
        assert!(Lock::acquire(dir.path(), Duration::from_millis(50)).is_ok());
    }
}
