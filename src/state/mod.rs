//! The state kept between runs: when each monitor last ran (for `interval`), its last
//! findings (carried while it is skipped), and rule streaks (for `for:` and
//! `resolve_after:`). One JSON file, written atomically; a corrupt file is moved aside
//! and reported, never silently dropped.

pub mod agg;
pub mod events;
pub mod figures;
pub mod github_branch;
pub mod history;
pub mod rotate;
mod streaks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::Status;
use crate::fsutil::WriteError;
use crate::rules::Finding;
/// Rule streaks are the rules' type, kept here under `rules` in `state.json`.
pub use crate::rules::RuleState;

pub const STATE_FILE: &str = "state.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub monitors: BTreeMap<String, MonitorState>,
    #[serde(default)]
    pub rules: BTreeMap<String, RuleState>,
    /// Open alerts by fingerprint.
    #[serde(default)]
    pub alerts: BTreeMap<String, AlertRecord>,
    /// Events a channel failed to deliver, by channel; sent again on the next run.
    #[serde(default)]
    pub pending: BTreeMap<String, Vec<events::AlertEvent>>,
    /// Issues of resolved alerts that could not be closed yet, by fingerprint.
    #[serde(default)]
    pub pending_close: BTreeMap<String, PendingClose>,
    /// Alerts that resolved, for the status site's incident history, by
    /// `fingerprint@first_seen` (see [`State::record_resolved`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved: BTreeMap<String, ResolvedAlert>,
}

/// A past incident: an alert from open to resolved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResolvedAlert {
    pub monitor: String,
    pub rule: String,
    pub severity: crate::config::Severity,
    pub message: String,
    pub first_seen: DateTime<Utc>,
    pub resolved_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_url: Option<String>,
}

/// Days resolved alerts are kept (the status site shows 90).
pub const RESOLVED_KEEP_DAYS: i64 = 90;
/// Most resolved alerts kept (the most recent).
pub const RESOLVED_KEEP: usize = 500;

impl State {
    /// Keeps `rec` as a past incident resolved at `now`, forgetting those older than
    /// [`RESOLVED_KEEP_DAYS`] and beyond the [`RESOLVED_KEEP`] most recent.
    pub fn record_resolved(&mut self, fp: &str, rec: &AlertRecord, now: DateTime<Utc>) {
        let key = format!("{fp}@{}", rec.first_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.resolved.insert(
            key,
            ResolvedAlert {
                monitor: rec.monitor.clone(),
                rule: rec.rule.clone(),
                severity: rec.severity,
                message: rec.message.clone(),
                first_seen: rec.first_seen,
                resolved_at: now,
                issue_url: rec.issue_url.clone(),
            },
        );
        let cutoff = now - chrono::Duration::days(RESOLVED_KEEP_DAYS);
        self.resolved.retain(|_, r| r.resolved_at >= cutoff);
        if self.resolved.len() > RESOLVED_KEEP {
            let mut by_age: Vec<(DateTime<Utc>, String)> =
                self.resolved.iter().map(|(k, r)| (r.resolved_at, k.clone())).collect();
            by_age.sort();
            for (_, k) in by_age.iter().take(self.resolved.len() - RESOLVED_KEEP) {
                self.resolved.remove(k);
            }
        }
    }
}

/// An ongoing problem that alerts were raised for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertRecord {
    pub monitor: String,
    pub rule: String,
    pub severity: crate::config::Severity,
    pub message: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    #[serde(default)]
    pub issue_number: Option<u64>,
    #[serde(default)]
    pub issue_url: Option<String>,
    /// Severity and message the issue shows, to update only on change.
    #[serde(default)]
    pub issue_severity: Option<crate::config::Severity>,
    #[serde(default)]
    pub issue_message: Option<String>,
    #[serde(default)]
    pub last_reminded_at: Option<DateTime<Utc>>,
    /// The alert is held open by a flapping episode.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flapping: bool,
    /// The values of the variables its rule fired on, as the last run saw them
    /// (`Finding::values`): what its issue leads with.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingClose {
    pub issue_number: u64,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MonitorState {
    pub last_checked_at: DateTime<Utc>,
    pub last_status: Status,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The check's own carry-over data (see `CheckResult::carry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// When its up/down state changed within the flapping window (see `trust.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flips: Vec<DateTime<Utc>>,
    /// Start of the current flapping episode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping_since: Option<DateTime<Utc>>,
    /// The run in which the last flapping episode settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<DateTime<Utc>>,
}

impl MonitorState {
    /// A monitor's state after its first check: no findings, carry or flapping yet.
    pub fn new(last_checked_at: DateTime<Utc>, last_status: Status) -> Self {
        MonitorState {
            last_checked_at,
            last_status,
            findings: vec![],
            data: None,
            flips: vec![],
            flapping_since: None,
            settled_at: None,
        }
    }

    /// Whether its flapping episode ended in the run at `now`.
    pub fn settled_in(&self, now: DateTime<Utc>) -> bool {
        self.settled_at == Some(now)
    }
}

/// Loads the state in `dir`. Missing or empty is empty state; anything else that is not
/// a state file (a symlink, invalid UTF-8 or JSON, the wrong shape, a truncated write) is
/// moved aside with a note, never overwritten in place.
pub fn load(dir: &Path, now: DateTime<Utc>) -> (State, Vec<String>) {
    let file = dir.join(STATE_FILE);
    let bytes = match crate::fsutil::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (State::default(), vec![]),
        Err(e) if crate::fsutil::is_symlink(&e) => {
            let moved = crate::fsutil::move_aside(&file, now);
            return (State::default(), vec![crate::fsutil::symlink_note(&file, moved.as_deref())]);
        }
        Err(e) => {
            return (
                State::default(),
                vec![format!("state file {} could not be read ({e}); starting without state", file.display())],
            )
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return (State::default(), vec![]);
    }
    match parse(&bytes) {
        Ok(s) => (s, vec![]),
        Err(e) => {
            let note = match crate::fsutil::move_aside(&file, now) {
                Some(aside) => format!(
                    "state file {} was corrupt ({e}); moved to {} and started fresh (streaks for `for:` start over)",
                    file.display(),
                    aside.display()
                ),
                None => format!(
                    "state file {} was corrupt ({e}) and could not be moved aside; started fresh",
                    file.display()
                ),
            };
            (State::default(), vec![note])
        }
    }
}

/// A state file's bytes as [`State`]: UTF-8, JSON, and the right shape.
fn parse(bytes: &[u8]) -> Result<State, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    serde_json::from_str::<State>(text).map_err(|e| e.to_string())
}

/// Writes the state atomically (temporary file, then rename). Overwrites whatever is
/// there; runs use [`save_merged`].
pub fn save(dir: &Path, state: &State) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join(STATE_FILE);
    let mut s = state.clone();
    s.version = 1;
    let text = serde_json::to_vec_pretty(&s).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(&file, &text)?;
    Ok(file)
}

/// How long a save waits for another run holding the state directory's lock.
pub const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Saves `ours` (the state a run derived from `base`, what it loaded) without losing what
/// an overlapping run saved meanwhile: under the state directory's lock the file is read
/// again and, when another run changed it, merged key by key (monitors, rules, alerts,
/// pending, pending_close; the data branch's three-way merge), then replaced atomically.
/// Returns the notes of the save (a merge, a file that had to be replaced).
pub fn save_merged(
    dir: &Path,
    base: &State,
    ours: &State,
    lock_timeout: std::time::Duration,
) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let _lock = crate::fsutil::Lock::acquire(dir, lock_timeout)?;
    let file = dir.join(STATE_FILE);
    let mut notes = Vec::new();
    let theirs = match crate::fsutil::read(&file) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => None,
        Ok(b) => match parse(&b) {
            Ok(s) => Some(s),
            Err(e) => {
                notes.push(format!("state file {} became corrupt during the run ({e}); replaced", file.display()));
                None
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        // The atomic rename below replaces the link itself, never its target.
        Err(e) if crate::fsutil::is_symlink(&e) => {
            notes.push(format!("{} became a symlink during the run; replaced, never followed", file.display()));
            None
        }
        Err(e) => return Err(e),
    };
    let versioned = |s: &State| State { version: 1, ..s.clone() };
    let ours = versioned(ours);
    let merged = match theirs.map(|t| versioned(&t)) {
        Some(t) if t != versioned(base) && t != ours => {
            let v = |s: &State| serde_json::to_value(s).unwrap_or_default();
            let m = github_branch::merge_json(&v(&versioned(base)), &v(&ours), &v(&t), 2);
            match serde_json::from_value::<State>(m) {
                Ok(m) => {
                    notes.push("another run saved the state meanwhile; merged monitor by monitor".into());
                    m
                }
                Err(_) => ours,
            }
        }
        _ => ours,
    };
    let text = serde_json::to_vec_pretty(&merged).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(&file, &text)?;
    Ok(notes)
}

/// What a run saves besides its state: the history it loaded (with its samples added)
/// and this run's results, or `None` when it saves no history (a merge, whose shards
/// saved theirs).
pub struct RunHistory<'a> {
    pub loaded: Option<agg::History>,
    /// This run's results; empty for an inconclusive run, which adds no samples.
    pub results: &'a [crate::checks::CheckResult],
}

/// The save stage of a run: the history, then the state (merged with another run's
/// changes since `base`), then the data branch (`branch`: what was pulled and the commit
/// message). Returns the notes for the report and the first save that failed, if any;
/// the branch failing never fails the run (the state is saved locally either way).
pub fn save_run(
    ctx: &crate::context::RunContext,
    cfg: &crate::config::StateConfig,
    dir: &Path,
    base: &State,
    ours: &State,
    history: Option<RunHistory>,
    branch: Option<(&github_branch::BranchPulled, String)>,
) -> (Vec<String>, Option<WriteError>) {
    let mut notes = Vec::new();
    let mut failed = None;
    if let Some(h) = history {
        let hcfg = history::HistoryConfig::from_config(cfg);
        match history::save_loaded(dir, ctx.now(), &hcfg, &history::samples_from(h.results), h.loaded) {
            Ok(n) => notes.extend(n),
            Err(source) => {
                let path = history::history_dir(dir);
                notes.push(format!("history not saved this run: {source} ({}); the run exits 3", path.display()));
                failed = Some(WriteError { what: "the history", path, source });
            }
        }
    }
    match save_merged(dir, base, ours, LOCK_TIMEOUT) {
        Ok(n) => {
            notes.extend(n);
            if let Some((pulled, message)) = branch {
                notes.extend(github_branch::push_for_run(ctx, cfg, dir, pulled, &message));
            }
        }
        Err(source) => {
            let e = WriteError { what: "the state", path: dir.join(STATE_FILE), source };
            notes.push(format!("state not saved this run: {e}: {}; the run exits 3", e.source));
            if branch.is_some() {
                notes.push("state branch not written: the local state could not be saved".into());
            }
            failed.get_or_insert(e);
        }
    }
    (notes, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_state_is_moved_aside_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        let (s, notes) = load(dir.path(), Utc::now());
        assert_eq!(s, State::default());
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("corrupt"), "{notes:?}");
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert!(names.iter().any(|n| n.starts_with("state.json.corrupt-")), "{names:?}");
    }

    fn names(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
    }

    fn monitor(status: Status) -> MonitorState {
        MonitorState {
            last_checked_at: Utc::now(),
            last_status: status,
            findings: vec![],
            data: None,
            flips: vec![],
            flapping_since: None,
            settled_at: None,
        }
    }

    #[test]
    fn invalid_utf8_state_is_moved_aside_not_overwritten() {
        // Regression: read_to_string failed with InvalidData and the file was overwritten.
        for bad in
            [&b"\xff\xfe{\"monitors\":{}}"[..], b"[1,2]", b"{\"monitors\": 5}", b"{\"monitors\": {\"a\": {\"last_"]
        {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(STATE_FILE), bad).unwrap();
            let (s, notes) = load(dir.path(), Utc::now());
            assert_eq!(s, State::default());
            assert!(notes.len() == 1 && notes[0].contains("corrupt"), "{notes:?}");
            let aside: Vec<String> =
                names(dir.path()).into_iter().filter(|n| n.starts_with("state.json.corrupt-")).collect();
            assert_eq!(aside.len(), 1, "{:?}", String::from_utf8_lossy(bad));
            assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), bad);
            assert!(!dir.path().join(STATE_FILE).exists());
        }
    }

    #[test]
    fn empty_state_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), b"\n").unwrap();
        let (s, notes) = load(dir.path(), Utc::now());
        assert_eq!((s, notes), (State::default(), vec![]));
    }

    #[test]
    fn symlinked_state_is_moved_aside_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), br#"{"monitors":{}}"#).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join(STATE_FILE)).unwrap();
        let (_, notes) = load(dir.path(), Utc::now());
        assert!(notes.len() == 1 && notes[0].contains("symlink"), "{notes:?}");
        let mut s = State::default();
        s.monitors.insert("a".into(), monitor(Status::Up));
        save_merged(dir.path(), &State::default(), &s, LOCK_TIMEOUT).unwrap();
        assert_eq!(std::fs::read(outside.path()).unwrap(), br#"{"monitors":{}}"#);
        assert!(!std::fs::symlink_metadata(dir.path().join(STATE_FILE)).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_save_keeps_what_another_run_saved_since_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut base = State::default();
        base.monitors.insert("shared".into(), monitor(Status::Up));
        save(dir.path(), &base).unwrap();
        let (base, _) = load(dir.path(), Utc::now());
        // Two runs load the same state; the other one saves first.
        let mut theirs = base.clone();
        theirs.monitors.insert("b".into(), monitor(Status::Down));
        theirs.rules.insert("b/endpoint_down".into(), RuleState { failing: 2, ..Default::default() });
        save_merged(dir.path(), &base, &theirs, LOCK_TIMEOUT).unwrap();
        let mut ours = base.clone();
        ours.monitors.insert("a".into(), monitor(Status::Degraded));
        ours.monitors.remove("shared");
        let notes = save_merged(dir.path(), &base, &ours, LOCK_TIMEOUT).unwrap();
        assert!(notes.iter().any(|n| n.contains("merged")), "{notes:?}");
        let (back, _) = load(dir.path(), Utc::now());
        let keys: Vec<&str> = back.monitors.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(back.rules["b/endpoint_down"].failing, 2);
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::default();
        s.monitors.insert("a".into(), MonitorState::new(Utc::now(), Status::Up));
        save(dir.path(), &s).unwrap();
        let (back, notes) = load(dir.path(), Utc::now());
        assert!(notes.is_empty());
        assert_eq!(back.monitors.len(), 1);
    }
}
