//! The state kept between runs: when each monitor last ran (for `interval`), its last
//! findings (carried while it is skipped), and rule streaks (for `for:` and
//! `resolve_after:`). One JSON file, written atomically; a corrupt file is moved aside
//! and reported, never silently dropped.

pub mod agg;
pub mod figures;
pub mod github_branch;
pub mod history;
pub mod rotate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::Status;
use crate::rules::Finding;

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
    pub pending: BTreeMap<String, Vec<crate::alerts::AlertEvent>>,
    /// Issues of resolved alerts that could not be closed yet, by fingerprint.
    #[serde(default)]
    pub pending_close: BTreeMap<String, PendingClose>,
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

/// Consecutive outcomes of one rule on one monitor (key: the fingerprint).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RuleState {
    #[serde(default)]
    pub failing: u32,
    #[serde(default)]
    pub passing: u32,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_seen: Option<DateTime<Utc>>,
    /// The finding as it was last emitted (kept while waiting for `resolve_after`).
    #[serde(default)]
    pub finding: Option<Finding>,
}

/// Loads the state in `dir`. Missing is empty; unreadable JSON is moved aside with a note.
pub fn load(dir: &Path, now: DateTime<Utc>) -> (State, Vec<String>) {
    let file = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (State::default(), vec![]),
        Err(e) => {
            return (
                State::default(),
                vec![format!("state file {} could not be read ({e}); starting without state", file.display())],
            )
        }
    };
    match serde_json::from_str::<State>(&text) {
        Ok(s) => (s, vec![]),
        Err(e) => {
            let aside = dir.join(format!("{STATE_FILE}.corrupt-{}", now.format("%Y%m%dT%H%M%SZ")));
            let moved = std::fs::rename(&file, &aside).is_ok();
            let note = if moved {
                format!(
                    "state file {} was corrupt ({e}); moved to {} and started fresh",
                    file.display(),
                    aside.display()
                )
            } else {
                format!("state file {} was corrupt ({e}) and could not be moved aside; started fresh", file.display())
            };
            (State::default(), vec![note])
        }
    }
}

/// Writes the state atomically (temporary file, then rename).
pub fn save(dir: &Path, state: &State) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join(STATE_FILE);
    let mut s = state.clone();
    s.version = 1;
    let text = serde_json::to_vec_pretty(&s).map_err(std::io::Error::other)?;
    crate::report::write_atomic(&file, &text)?;
    Ok(file)
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

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::default();
        s.monitors.insert(
            "a".into(),
            MonitorState {
                last_checked_at: Utc::now(),
                last_status: Status::Up,
                findings: vec![],
                data: None,
                flips: vec![],
                flapping_since: None,
                settled_at: None,
            },
        );
        save(dir.path(), &s).unwrap();
        let (back, notes) = load(dir.path(), Utc::now());
        assert!(notes.is_empty());
        assert_eq!(back.monitors.len(), 1);
    }
}
