//! The `log_files` check, for self-hosted runners on the app's machine: is log rotation
//! healthy (file sizes, rotated files left uncompressed, files that stopped growing),
//! which error groups and security events appeared since the last run. Where each file
//! was read up to (its identity and offset) is kept in the state between runs, so every
//! line is read once, across rotation and truncation, and never more than
//! `max_bytes_per_run` per file per run.

pub mod events;
mod summary;

use schemars::JsonSchema;

use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::kinds::{DefaultRule, Kind};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::redact::Redactor;
use crate::values::duration::{format_bytes, format_duration};
use crate::values::vartype::Ty;
use crate::values::{ByteSize, Dur};
use events::{Assembler, Classifier, Tally};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogFilesOptions {
    /// A glob such as `/var/log/app/*.log` (`*` stays within one directory, `**` crosses
    /// them). Rotated siblings (`app.log.1`, `app.log.2.gz`, `app.log-20260101`) are found
    /// next to each match for the rotation-health figures.
    pub path: String,
    /// A live log file larger than this ⇒ `degraded` and `log_file_too_large`
    /// (rotation is not keeping up). Default: not checked.
    #[serde(default)]
    pub max_file_bytes: Option<ByteSize>,
    /// A rotated file still uncompressed this long after its last write ⇒ `degraded`
    /// and `log_rotation_stale` (compression or rotation stopped). Default: not checked.
    #[serde(default)]
    pub max_age: Option<Dur>,
    /// A live log file not written for this long ⇒ `degraded` and
    /// `log_file_stopped_growing` (the app writes to a rotated-away file, or stopped
    /// logging). Default: not checked.
    #[serde(default)]
    pub stale_after: Option<Dur>,
    /// The monitor of the app that writes these logs (e.g. its health endpoint):
    /// `log_file_stopped_growing` then fires only while that monitor is up. Default:
    /// none (a stale file fires regardless).
    #[serde(default)]
    pub app_monitor: Option<String>,
    /// Regex for lines that start an error event. Default: `ERROR`, `FATAL`, `CRITICAL`,
    /// `level=error`, `"level":"error"` and similar; Python tracebacks and Rust panics
    /// are always events.
    #[serde(default)]
    pub error_pattern: Option<String>,
    /// More security-event patterns: a regex (category `custom`) or `{name, pattern}`.
    /// They add to the built-in categories unless `security_defaults: false`.
    #[serde(default)]
    pub security_patterns: Vec<SecurityPattern>,
    /// Keep the built-in security categories (`sensitive_path`, `auth_failure`,
    /// `http_401_403`). Default: true.
    #[serde(default = "d_true")]
    pub security_defaults: bool,
    /// More security events than this in one run ⇒ `log_security_events`. Default: 20.
    #[serde(default = "d_security_threshold")]
    pub security_threshold: u64,
    /// More error events than this in one run ⇒ `log_errors`. Default: not checked
    /// (new error groups are reported by `log_new_errors` regardless).
    #[serde(default)]
    pub max_errors: Option<u64>,
    /// Bytes read per file per run; a larger backlog is skipped to its newest part.
    /// Default: 8MiB.
    #[serde(default = "d_max_bytes_per_run")]
    pub max_bytes_per_run: ByteSize,
}

fn d_security_threshold() -> u64 {
    20
}

fn d_max_bytes_per_run() -> ByteSize {
    ByteSize(8 << 20)
}

/// A security-event pattern of a `log_files` monitor.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SecurityPattern {
    /// A regex; matching lines count under category `custom`.
    Regex(String),
    /// A named category.
    Named(NamedPattern),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedPattern {
    /// The category, e.g. `sql_injection`; a metric key, so letters, digits and `_`.
    pub name: String,
    pub pattern: String,
}

impl SecurityPattern {
    pub fn name(&self) -> &str {
        match self {
            SecurityPattern::Regex(_) => "custom",
            SecurityPattern::Named(n) => &n.name,
        }
    }
    pub fn pattern(&self) -> &str {
        match self {
            SecurityPattern::Regex(p) => p,
            SecurityPattern::Named(n) => &n.pattern,
        }
    }
}

fn d_true() -> bool {
    true
}

/// Error groups listed in the report, most frequent first.
pub const TOP_GROUPS: usize = 10;
/// Error groups remembered between runs (for first_seen and "new"), most recent kept.
pub const REMEMBERED_GROUPS: usize = 500;
/// Directory entries looked at while expanding the glob.
const MAX_WALK: usize = 20_000;

/// `app.log.1`, `app.log.2.gz`, `app.log-20261126`, `app.log-2026-11-26.gz`: a rotated
/// copy of `app.log`.
static ROTATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<base>.+?)[.-](?:\d{1,4}|\d{4}-?\d{2}-?\d{2}(?:[-_T]?\d{2,6})?)(?P<comp>\.(?:gz|bz2|xz|zst|lz4|Z|zip))?$",
    )
    .expect("valid built-in pattern")
});

/// Where one file was read up to, kept in the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Mark {
    dev: u64,
    ino: u64,
    offset: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Seen {
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Carry {
    #[serde(default)]
    files: BTreeMap<String, Mark>,
    #[serde(default)]
    groups: BTreeMap<String, Seen>,
}

/// One file found for the monitor.
#[derive(Debug)]
struct Found {
    path: PathBuf,
    meta: Metadata,
    rotated: bool,
    compressed: bool,
}

pub async fn check(o: &LogFilesOptions, eff: &Effective, env: &CheckEnv, r: CheckResult) -> CheckResult {
    let redactor = &env.redactor;
    let (o, prev, red, fallback) = (o.clone(), eff.prev.clone(), redactor.clone(), r.clone());
    // Directory walks and file reads: blocking, so off the async workers.
    match tokio::task::spawn_blocking(move || scan(&o, prev.as_ref(), &red, r)).await {
        Ok(r) => r,
        Err(_) => fallback.fail(CheckError::new(ErrorKind::Protocol, "reading the log files failed unexpectedly")),
    }
}

/// The variables `log_files` monitors offer to the default rules: their thresholds.
pub fn rule_variables(o: &LogFilesOptions) -> Vec<(&'static str, serde_json::Value)> {
    let mut v = vec![("security_threshold", json!(o.security_threshold))];
    if let Some(b) = o.max_file_bytes {
        v.push(("max_file_bytes", json!(b.0)));
        v.push(("max_file_size", json!(format_bytes(b.0))));
    }
    if let Some(d) = o.max_age {
        v.push(("max_age_s", json!(d.get().as_secs())));
        v.push(("max_age", json!(format_duration(d.get()))));
    }
    if let Some(d) = o.stale_after {
        v.push(("stale_after", json!(format_duration(d.get()))));
    }
    // Without `app_monitor` the app counts as up; with it, `app_variables` says.
    if o.app_monitor.is_none() {
        v.push(("app_up", json!(true)));
    }
    if let Some(n) = o.max_errors {
        v.push(("max_errors", json!(n)));
    }
    v
}

/// `app_up` for `log_files` monitors with `app_monitor`: whether that monitor is up in
/// this run, or was at its last check (`last_status`, from the state) when it did not run
/// now. Unknown ⇒ not set, and `log_file_stopped_growing` does not apply.
pub fn app_variables(
    monitors: &[super::Monitor],
    results: &[CheckResult],
    last_status: &dyn Fn(&str) -> Option<Status>,
    extra: &mut BTreeMap<String, BTreeMap<String, serde_json::Value>>,
) {
    for m in monitors {
        let super::MonitorKind::LogFiles(o) = &m.kind else { continue };
        let Some(app) = &o.app_monitor else { continue };
        let status = results
            .iter()
            .find(|r| &r.name == app)
            .map(|r| r.status)
            .filter(|s| *s != Status::Skipped)
            .or_else(|| last_status(app));
        if let Some(s) = status {
            extra.entry(m.common.name.clone()).or_default().insert("app_up".into(), json!(s.is_up()));
        }
    }
}

/// The whole check, synchronously: find files, measure rotation health, read what was
/// written since the last run.
pub fn scan(
    o: &LogFilesOptions,
    prev: Option<&serde_json::Value>,
    redactor: &Redactor,
    mut r: CheckResult,
) -> CheckResult {
    let now = r.started_at;
    // A run that fails early keeps what the last one carried (offsets, known groups).
    r.carry = prev.cloned();
    let prev_carry: Option<Carry> = prev.and_then(|v| serde_json::from_value(v.clone()).ok());
    let baseline = prev_carry.is_none();
    let prev_carry = prev_carry.unwrap_or_default();

    let mut security: Vec<(String, String)> = Vec::new();
    if o.security_defaults {
        security.extend(events::DEFAULT_SECURITY.iter().map(|(n, p)| (n.to_string(), p.to_string())));
    }
    security.extend(o.security_patterns.iter().map(|p| (p.name().to_string(), p.pattern().to_string())));
    let classifier = match Classifier::new(o.error_pattern.as_deref(), &security) {
        Ok(c) => c,
        Err(e) => return r.fail(CheckError::new(ErrorKind::Config, e)),
    };

    let found = match discover(&o.path) {
        Ok(f) => f,
        Err(e) => return r.fail(CheckError::new(ErrorKind::Config, e)),
    };
    let live: Vec<&Found> = found.iter().filter(|f| !f.rotated).collect();
    if live.is_empty() {
        return r.fail(CheckError::new(
            ErrorKind::Assertion,
            format!(
                "no log file matches {}{}; check the path, and that this job runs on the app's machine (a self-hosted runner)",
                o.path,
                if found.is_empty() { String::new() } else { format!(" (only {} rotated files)", found.len()) }
            ),
        ));
    }

    // Rotation health.
    let age_s = |m: &Metadata| -> Option<u64> {
        let t: DateTime<Utc> = m.modified().ok()?.into();
        Some((now - t).num_seconds().max(0) as u64)
    };
    let largest = live.iter().max_by_key(|f| (f.meta.len(), std::cmp::Reverse(f.path.clone())));
    let total_bytes: u64 = found.iter().map(|f| f.meta.len()).sum();
    r.set("files", live.len());
    r.set("rotated_files", found.iter().filter(|f| f.rotated).count());
    r.set("compressed_files", found.iter().filter(|f| f.compressed).count());
    r.set("total_bytes", total_bytes);
    let mut problems = Vec::new();
    if let Some(l) = largest {
        r.set("largest_bytes", l.meta.len());
        r.set("largest_file", l.path.display().to_string());
        r.set("largest_size", format_bytes(l.meta.len()));
        if let Some(max) = o.max_file_bytes.filter(|m| l.meta.len() > m.0) {
            problems.push(format!(
                "{} is {}, over max_file_bytes {}",
                l.path.display(),
                format_bytes(l.meta.len()),
                format_bytes(max.0)
            ));
        }
    }
    let oldest = found
        .iter()
        .filter(|f| f.rotated && !f.compressed)
        .filter_map(|f| age_s(&f.meta).map(|a| (a, f)))
        .max_by_key(|(a, f)| (*a, std::cmp::Reverse(f.path.clone())));
    if let Some((age, f)) = oldest {
        r.set("oldest_uncompressed_age_s", age);
        r.set("oldest_uncompressed_file", f.path.display().to_string());
        r.set("oldest_uncompressed_age", format_duration(Duration::from_secs(age)));
        if let Some(max) = o.max_age.filter(|m| age > m.get().as_secs()) {
            problems.push(format!(
                "{} was rotated but is still uncompressed after {}, over max_age {}",
                f.path.display(),
                format_duration(Duration::from_secs(age)),
                format_duration(max.get())
            ));
        }
    }
    if let Some(stale) = o.stale_after {
        let list: Vec<String> = live
            .iter()
            .filter(|f| age_s(&f.meta).is_some_and(|a| a > stale.get().as_secs()))
            .map(|f| f.path.display().to_string())
            .collect();
        if !list.is_empty() {
            problems.push(format!("{} not written for over {}", list.join(", "), format_duration(stale.get())));
        }
        r.set("stale_files", json!(list));
    }

    // New lines since the last run.
    let mut tally = Tally::default();
    let mut marks = BTreeMap::new();
    let mut io = IoFigures::default();
    let mut unreadable = Vec::new();
    let mut denied = 0;
    for f in &live {
        let key = f.path.display().to_string();
        match read_file(
            f,
            prev_carry.files.get(&key),
            &found,
            o.max_bytes_per_run.0,
            &classifier,
            now,
            &mut tally,
            &mut io,
        ) {
            Ok(mark) => {
                marks.insert(key, mark);
            }
            Err(e) => {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    denied += 1;
                    "; let the runner's user read it (e.g. add it to the `adm` group)"
                } else {
                    ""
                };
                unreadable.push(format!("cannot read {key}: {e}{hint}"));
            }
        }
    }
    // A live file of the last run that is gone now (renamed by logrotate, no new one
    // opened yet): finish its rotated copy; the new file is read from its start later.
    for (key, m) in &prev_carry.files {
        if live.iter().any(|f| f.path.display().to_string() == *key) {
            continue;
        }
        let old = found.iter().find(|o| o.rotated && !o.compressed && identity(&o.meta) == (m.dev, m.ino));
        if let Some(old) = old {
            io.rotations += 1;
            let name = old.path.display().to_string();
            let budget = o.max_bytes_per_run.0;
            let res = read_region(
                &old.path,
                &name,
                m.offset,
                old.meta.len(),
                budget,
                false,
                &classifier,
                now,
                &mut tally,
                &mut io,
            );
            if let Err(e) = res {
                unreadable.push(format!("cannot read {name}: {e}"));
            }
        }
    }
    r.set("bytes_read", io.bytes_read);
    r.set("bytes_skipped", io.bytes_skipped);
    r.set("lines_read", tally.lines);
    r.set("binary_lines_skipped", tally.binary_lines_skipped);
    r.set("rotations", io.rotations);
    r.set("truncations", io.truncations);

    // Error groups: this run's, with first/last seen across runs.
    let mut groups = prev_carry.groups;
    // (fingerprint, this run's group, new, count across runs)
    let mut listed: Vec<(String, events::Group, bool, u64)> = Vec::new();
    for (fp, g) in &tally.groups {
        let (first, last) = (g.first_seen.unwrap_or(now), g.last_seen.unwrap_or(now));
        let is_new = !baseline && !groups.contains_key(fp);
        let seen = groups.entry(fp.clone()).or_insert(Seen { first_seen: first, last_seen: last, count: 0 });
        seen.first_seen = seen.first_seen.min(first);
        seen.last_seen = seen.last_seen.max(last);
        seen.count += g.count;
        let mut g = g.clone();
        g.first_seen = Some(seen.first_seen);
        listed.push((fp.clone(), g, is_new, seen.count));
    }
    listed.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
    let new_groups: Vec<_> = listed.iter().filter(|x| x.2).collect();
    r.set("error_count", tally.error_count);
    r.set("error_groups_total", listed.len());
    r.set("new_error_groups", new_groups.len());
    if let Some(n) = new_groups.first() {
        r.set("new_error_sample", redactor.redact_text(&n.1.sample));
    }
    if let Some(t) = listed.first() {
        r.set("top_error", redactor.redact_text(&t.1.sample));
    }
    let top: Vec<serde_json::Value> = listed
        .iter()
        .take(TOP_GROUPS)
        .map(|(fp, g, new, total)| {
            json!({
                "fingerprint": fp,
                "count": g.count,
                "total": total,
                "first_seen": g.first_seen,
                "last_seen": g.last_seen,
                "sample": redactor.redact_text(&g.sample),
                "file": g.file,
                "new": new,
            })
        })
        .collect();
    r.set("error_groups", json!(top));

    let sec_total: u64 = tally.security.values().sum();
    r.set("security_events", sec_total);
    r.set("security_by_category", json!(tally.security));
    let samples: BTreeMap<&String, String> =
        tally.security_samples.iter().map(|(k, v)| (k, redactor.redact_text(v))).collect();
    r.set("security_samples", json!(samples));
    r.set("security_summary", tally.security.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "));

    // Remember the newest groups only.
    if groups.len() > REMEMBERED_GROUPS {
        let mut by_age: Vec<(DateTime<Utc>, String)> = groups.iter().map(|(k, s)| (s.last_seen, k.clone())).collect();
        by_age.sort();
        for (_, k) in by_age.into_iter().take(groups.len() - REMEMBERED_GROUPS) {
            groups.remove(&k);
        }
    }
    r.carry = serde_json::to_value(Carry { files: marks, groups }).ok();

    if !unreadable.is_empty() && unreadable.len() == live.len() {
        let kind = if denied > 0 { ErrorKind::Auth } else { ErrorKind::Protocol };
        return r.fail(CheckError::new(kind, unreadable.join("; ")));
    }
    problems.extend(unreadable);
    if !problems.is_empty() {
        r.status = Status::Degraded;
        r.message = Some(format!(
            "{}; check the logrotate config for these files (`logrotate -d` shows what it would do)",
            problems.join("; ")
        ));
    } else {
        r.status = Status::Up;
    }
    r
}

#[derive(Debug, Default)]
struct IoFigures {
    bytes_read: u64,
    bytes_skipped: u64,
    rotations: u64,
    truncations: u64,
}

/// (device, inode): a file's identity across renames.
#[cfg(unix)]
fn identity(m: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// Without inodes a file is known by its name; rotation then shows as truncation.
#[cfg(not(unix))]
fn identity(_: &Metadata) -> (u64, u64) {
    (0, 0)
}

/// Reads the new part of one live file (and the unread rest of its previous self, when
/// it was rotated away since the last run). Returns where the next run starts.
#[allow(clippy::too_many_arguments)]
fn read_file(
    f: &Found,
    prev: Option<&Mark>,
    found: &[Found],
    budget: u64,
    c: &Classifier,
    now: DateTime<Utc>,
    t: &mut Tally,
    io: &mut IoFigures,
) -> std::io::Result<Mark> {
    let (dev, ino) = identity(&f.meta);
    let size = f.meta.len();
    let mut budget = budget;
    let name = f.path.display().to_string();
    let mut start = 0;
    if let Some(m) = prev {
        if (m.dev, m.ino) == (dev, ino) {
            if size < m.offset {
                io.truncations += 1;
            } else {
                start = m.offset;
            }
        } else {
            io.rotations += 1;
            // The old file, renamed to a rotated name and not yet compressed: finish it.
            let old = found.iter().find(|o| o.rotated && !o.compressed && identity(&o.meta) == (m.dev, m.ino));
            if let Some(old) = old {
                if old.meta.len() > m.offset {
                    let oname = old.path.display().to_string();
                    let used = read_region(&old.path, &oname, m.offset, old.meta.len(), budget, false, c, now, t, io)?;
                    budget = budget.saturating_sub(used.0);
                }
            }
        }
    }
    if budget == 0 {
        // The rotated file took this run's budget; the new one is read next run.
        return Ok(Mark { dev, ino, offset: start });
    }
    let (_, end) = read_region(&f.path, &name, start, size, budget, true, c, now, t, io)?;
    Ok(Mark { dev, ino, offset: end })
}

/// Reads lines of `path` between `start` and `size`, at most `budget` bytes: a larger
/// backlog is skipped to its newest `budget` bytes, from the next line start on.
/// Returns (bytes read, offset reached).
#[allow(clippy::too_many_arguments)]
fn read_region(
    path: &Path,
    name: &str,
    start: u64,
    size: u64,
    budget: u64,
    live: bool,
    c: &Classifier,
    now: DateTime<Utc>,
    t: &mut Tally,
    io: &mut IoFigures,
) -> std::io::Result<(u64, u64)> {
    if size <= start {
        return Ok((0, start));
    }
    let mut file = File::open(path)?;
    let mut from = start;
    if size - start > budget {
        from = size - budget;
        // Mid-line: the rest of that line is skipped too, unless a line ends right before.
        file.seek(SeekFrom::Start(from - 1))?;
        let mut b = [0u8; 1];
        file.read_exact(&mut b)?;
        if b[0] != b'\n' {
            let mut rd = BufReader::new((&mut file).take(size - from));
            let n = skip_line(&mut rd)?;
            from += n;
        }
        io.bytes_skipped += from - start;
    }
    file.seek(SeekFrom::Start(from))?;
    let mut rd = BufReader::with_capacity(64 * 1024, file);
    let mut asm = Assembler::new(c, name, now);
    let stats = events::read_lines(&mut rd, size - from, live, &mut |l| asm.line(l, t))?;
    asm.finish(t);
    t.binary_lines_skipped += stats.binary_lines;
    io.bytes_read += stats.consumed;
    Ok((stats.consumed, from + stats.consumed))
}

/// Consumes through the next newline (or to the end), keeping nothing; returns the count.
fn skip_line(rd: &mut impl std::io::BufRead) -> std::io::Result<u64> {
    let mut n = 0u64;
    loop {
        let buf = rd.fill_buf()?;
        if buf.is_empty() {
            return Ok(n);
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            rd.consume(i + 1);
            return Ok(n + i as u64 + 1);
        }
        let len = buf.len();
        rd.consume(len);
        n += len as u64;
    }
}

/// Files matching the glob (live), and rotated copies of names the glob matches
/// (`app.log.1` for `*.log`, also when `app.log` itself is gone).
fn discover(glob: &str) -> Result<Vec<Found>, String> {
    let matcher = globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob {glob:?}: {e}"))?
        .compile_matcher();
    let is_match = |p: &Path| matcher.is_match(p.strip_prefix("./").unwrap_or(p));
    let (mut base, mut depth) = glob_base(glob);
    // A literal file path (there or rotated away): look at its directory, for its
    // rotated copies too.
    if !base.is_dir() {
        base = base.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        depth = 1;
    }
    let mut all: BTreeMap<PathBuf, bool> = BTreeMap::new();
    let mut stack = vec![(base, 0usize)];
    let mut visited = 0;
    while let Some((dir, d)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            visited += 1;
            if visited > MAX_WALK {
                return Err(format!(
                    "the glob {glob:?} walks more than {MAX_WALK} directory entries; make it more specific"
                ));
            }
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if d + 1 < depth {
                    stack.push((p, d + 1));
                }
                continue;
            }
            // A rotated name of a name the glob matches is rotated even when the glob
            // matches it too (`*.log*`).
            if rotated_base(&p).is_some_and(|(dir, name)| is_match(&dir.join(name))) {
                all.insert(p, true);
            } else if is_match(&p) {
                all.insert(p, false);
            }
        }
    }
    let mut out = Vec::new();
    for (path, rotated) in all {
        // A file rotated away between listing and stat is simply not there this run.
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if !meta.is_file() {
            continue;
        }
        let compressed = rotated
            && path
                .extension()
                .is_some_and(|e| matches!(e.to_str(), Some("gz" | "bz2" | "xz" | "zst" | "lz4" | "Z" | "zip")));
        out.push(Found { path, meta, rotated, compressed });
    }
    Ok(out)
}

/// (directory, live file name) of a rotated file name.
fn rotated_base(p: &Path) -> Option<(PathBuf, String)> {
    let name = p.file_name()?.to_str()?;
    let c = ROTATED.captures(name)?;
    Some((p.parent()?.to_path_buf(), c["base"].to_string()))
}

/// The literal directory a glob starts in, and how deep below it matches can be.
fn glob_base(glob: &str) -> (PathBuf, usize) {
    let p = Path::new(glob);
    let mut base = PathBuf::new();
    let mut rest = 0;
    let mut deep = false;
    let mut in_pattern = false;
    for comp in p.components() {
        let s = comp.as_os_str().to_string_lossy();
        if !in_pattern && !s.contains(['*', '?', '[', '{']) {
            base.push(comp);
        } else {
            in_pattern = true;
            rest += 1;
            deep |= s.contains("**");
        }
    }
    if base.as_os_str().is_empty() {
        base.push(".");
    }
    (base, if deep { 32 } else { rest.max(1) })
}

impl Kind for LogFilesOptions {
    /// Rotation health against the monitor's own thresholds (a rule does not apply when
    /// its option is not set), new error groups, error and security-event volume per run.
    /// Messages point at the logrotate config.
    const DEFAULT_RULES: &'static [DefaultRule] = &[
        DefaultRule::once(
            "log_file_too_large",
            "largest_bytes > max_file_bytes",
            "{name}: {largest_file} is {largest_size}, over max_file_bytes ({max_file_size}); rotation is not keeping up — check that logrotate covers this file (`logrotate -d <config>`) and add `maxsize`",
            Severity::Medium,
        ),
        DefaultRule::once(
            "log_rotation_stale",
            "oldest_uncompressed_age_s > max_age_s",
            "{name}: {oldest_uncompressed_file} was rotated {oldest_uncompressed_age} ago and is still uncompressed (max_age {max_age}); logrotate has stopped running or compressing — check `compress`/`delaycompress` and run `logrotate -f <config>`",
            Severity::Low,
        ),
        DefaultRule::once(
            "log_file_stopped_growing",
            "size(stale_files) > 0 && app_up",
            "{name}: {stale_files} not written for over {stale_after} while the app is up; it may still write to a rotated-away file — check `postrotate` (reload the app) or use `copytruncate` in the logrotate config",
            Severity::Medium,
        ),
        DefaultRule::once(
            "log_new_errors",
            "new_error_groups > 0",
            "{name}: {new_error_groups} new error group(s) in the logs, e.g. {new_error_sample}",
            Severity::Low,
        ),
        DefaultRule::once(
            "log_errors",
            "error_count > max_errors",
            "{name}: {error_count} error events since the last run, over max_errors {max_errors}; most frequent: {top_error}",
            Severity::Medium,
        ),
        DefaultRule::once(
            "log_security_events",
            "security_events > security_threshold",
            "{name}: {security_events} security events since the last run ({security_summary}), over security_threshold {security_threshold}",
            Severity::Medium,
        ),
    ];
    /// The check's metrics, then `log_files::rule_variables` (thresholds) and `app_up`.
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("files", N),
            ("rotated_files", N),
            ("compressed_files", N),
            ("total_bytes", N),
            ("largest_bytes", N),
            ("largest_file", S),
            ("largest_size", S),
            ("oldest_uncompressed_age_s", N),
            ("oldest_uncompressed_file", S),
            ("oldest_uncompressed_age", S),
            ("stale_files", LIST_S),
            ("bytes_read", N),
            ("bytes_skipped", N),
            ("lines_read", N),
            ("binary_lines_skipped", N),
            ("rotations", N),
            ("truncations", N),
            ("error_count", N),
            ("error_groups_total", N),
            ("new_error_groups", N),
            ("new_error_sample", S),
            ("top_error", S),
            ("error_groups", LIST_D),
            ("security_events", N),
            ("security_by_category", MAP_N),
            ("security_samples", MAP_S),
            ("security_summary", S),
            ("security_threshold", N),
            ("max_file_bytes", N),
            ("max_file_size", S),
            ("max_age_s", N),
            ("max_age", S),
            ("stale_after", S),
            ("app_up", B),
            ("max_errors", N),
        ]
    };
    fn secrets(&self, _: &mut Vec<String>) {}
    const CONFIRMS: bool = false;
    fn target(&self) -> String {
        self.path.clone()
    }
    fn validate(&self, p: &str, monitor_named: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        if let Err(e) = globset::Glob::new(&self.path) {
            err(&format!("{p}.path"), format!("invalid glob: {e}"));
        }
        if let Some(re) = &self.error_pattern {
            if let Err(e) = Regex::new(re) {
                err(&format!("{p}.error_pattern"), format!("invalid regular expression: {e}"));
            }
        }
        for (j, sp) in self.security_patterns.iter().enumerate() {
            if let Err(e) = Regex::new(sp.pattern()) {
                err(&format!("{p}.security_patterns[{j}]"), format!("invalid regular expression: {e}"));
            }
            let n = sp.name();
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                err(
                    &format!("{p}.security_patterns[{j}].name"),
                    format!("{n:?} is not a category name; use letters, digits and _ (it is a metric key)"),
                );
            }
        }
        if let Some(app) = &self.app_monitor {
            if !monitor_named(app) {
                err(&format!("{p}.app_monitor"), format!("no monitor is named \"{app}\""));
            }
        }
        if self.max_bytes_per_run.0 < 1024 {
            err(&format!("{p}.max_bytes_per_run"), "must be at least 1KiB (one long line)".into());
        }
        if self.max_file_bytes.is_some_and(|b| b.0 == 0) {
            err(&format!("{p}.max_file_bytes"), "must be more than 0".into());
        }
        for (key, d) in [("max_age", self.max_age), ("stale_after", self.stale_after)] {
            if d.is_some_and(|d| d.get().is_zero()) {
                err(&format!("{p}.{key}"), "must be more than 0, e.g. \"2d\"".into());
            }
        }
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("files", Num),
        ("rotated_files", Num),
        ("compressed_files", Num),
        ("total_bytes", Num),
        ("largest_bytes", Num),
        ("largest_file", Str),
        ("largest_size", Str),
        ("oldest_uncompressed_age_s", Num),
        ("oldest_uncompressed_file", Str),
        ("oldest_uncompressed_age", Str),
        ("stale_files", Strs),
        ("bytes_read", Num),
        ("bytes_skipped", Num),
        ("lines_read", Num),
        ("binary_lines_skipped", Num),
        ("rotations", Num),
        ("truncations", Num),
        ("error_count", Num),
        ("error_groups_total", Num),
        ("new_error_groups", Num),
        ("new_error_sample", Str),
        ("top_error", Str),
        ("error_groups", Objs),
        ("security_events", Num),
        ("security_by_category", Map),
        ("security_samples", Map),
        ("security_summary", Str),
    ];
    fn rule_variables(&self, _: &CheckResult) -> Vec<(&'static str, serde_json::Value)> {
        rule_variables(self)
    }
    fn summary_parts(r: &CheckResult, parts: &mut Vec<String>) {
        if let Some(n) = r.metric_f64("error_count") {
            parts.push(format!("{n} errors"));
        }
        if let Some(n) = r.metric_f64("security_events").filter(|n| *n > 0.0) {
            parts.push(format!("{n} security events"));
        }
    }
    fn summary_section(all: &[CheckResult], md: &mut String, max_rows: usize, _max_bytes: usize) {
        summary::logs(all, md, max_rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names() {
        for (n, base) in [
            ("app.log.1", "app.log"),
            ("app.log.2.gz", "app.log"),
            ("app.log-20261126", "app.log"),
            ("app.log-2026-11-26.gz", "app.log"),
        ] {
            assert_eq!(rotated_base(Path::new(n)).map(|b| b.1), Some(base.to_string()), "{n}");
        }
        assert_eq!(rotated_base(Path::new("/x/app.log")), None);
    }

    #[test]
    fn glob_bases() {
        assert_eq!(glob_base("/var/log/geometra/*.log"), (PathBuf::from("/var/log/geometra"), 1));
        assert_eq!(glob_base("/var/log/**/*.log"), (PathBuf::from("/var/log"), 32));
        assert_eq!(glob_base("/var/log/app.log"), (PathBuf::from("/var/log/app.log"), 1));
    }
}
