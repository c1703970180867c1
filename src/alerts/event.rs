//! What the alert channels are given: findings that opened or resolved in this run,
//! already redacted and rendered-ready. Channels never see raw responses or config
//! secrets (beyond their own destination).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Opened,
    Resolved,
    /// An open alert's monitor started flapping: the alert stays open for the episode.
    Flapping,
    /// A flapping episode settled while the problem goes on.
    Settled,
    /// `vaktpost test-alert`: clearly marked, changes nothing.
    Test,
}

impl EventKind {
    /// How a flapping notice reads, in every channel.
    pub fn flap_label(self) -> Option<&'static str> {
        match self {
            EventKind::Flapping => Some("🔁 Flapping"),
            EventKind::Settled => Some("〰️ No longer flapping, still failing"),
            _ => None,
        }
    }
}

/// One finding's moment: it started, or it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub kind: EventKind,
    pub fingerprint: String,
    pub monitor: String,
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub first_seen: DateTime<Utc>,
    /// Set for `Resolved`.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The GitHub issue tracking it, when there is one.
    #[serde(default)]
    pub issue_url: Option<String>,
    /// Key metrics as `name: value` text, redacted.
    #[serde(default)]
    pub details: Vec<(String, String)>,
}

impl AlertEvent {
    /// An opened high-severity event for channel tests.
    #[cfg(test)]
    pub(crate) fn sample(monitor: &str, message: &str) -> AlertEvent {
        AlertEvent {
            kind: EventKind::Opened,
            fingerprint: format!("{monitor}/r"),
            monitor: monitor.into(),
            rule: "r".into(),
            severity: Severity::High,
            message: message.into(),
            first_seen: chrono::DateTime::UNIX_EPOCH,
            resolved_at: None,
            issue_url: None,
            details: vec![("error".into(), message.into())],
        }
    }

    /// "42m", "3h 5m", "2d 4h": how long it lasted, for resolve messages.
    pub fn duration_text(&self) -> Option<String> {
        let end = self.resolved_at?;
        Some(human_span((end - self.first_seen).num_seconds().max(0) as u64))
    }
}

/// A batch for one channel in one run: the events plus links that apply to all of them.
#[derive(Debug, Clone, Default)]
pub struct Notice {
    pub events: Vec<AlertEvent>,
    /// Link to the workflow run, when running in GitHub Actions.
    pub run_url: Option<String>,
    /// Summary title (the config's `report.title`, default "vaktpost").
    pub title: String,
}

pub fn human_span(secs: u64) -> String {
    let (d, h, m) = (secs / 86400, (secs % 86400) / 3600, (secs % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_read_like_people_write_them() {
        use super::human_span;
        assert_eq!(human_span(42 * 60), "42m");
        assert_eq!(human_span(3 * 3600 + 5 * 60), "3h 5m");
        assert_eq!(human_span(2 * 86400 + 4 * 3600 + 59), "2d 4h");
        assert_eq!(human_span(9), "9s");
    }
}
