//! What the alert channels are given: findings that opened or resolved in this run,
//! already redacted and rendered-ready. Channels never see raw responses or config
//! secrets (beyond their own destination).

#[cfg(test)]
use crate::config::Severity;
pub use crate::state::events::{AlertEvent, EventKind};

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

    /// How a severity change reads, in every channel: "↕️ Severity now high".
    pub fn change_label(&self) -> String {
        format!("{} Severity now {}", "\u{2195}\u{fe0f}", self.severity.as_str())
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

impl Notice {
    /// What the notice is, in one word: `test`, `resolved` (everything in it resolved),
    /// `opened` (something opened) or `updated` (flapping or severity changes only).
    pub fn kind(&self) -> &'static str {
        let all = |k: EventKind| !self.events.is_empty() && self.events.iter().all(|e| e.kind == k);
        if self.events.iter().any(|e| e.kind == EventKind::Test) {
            "test"
        } else if all(EventKind::Resolved) {
            "resolved"
        } else if self.events.iter().any(|e| e.kind == EventKind::Opened) {
            "opened"
        } else {
            "updated"
        }
    }

    /// One plain line saying what happened, unescaped and unbounded (each channel
    /// neutralises and bounds it): `api_health: Endpoint api_health is down` for one
    /// opened alert, `Resolved: …`, `↕️ Severity now high: …`, `3 alerts opened, 1
    /// resolved`, `vaktpost test alert`.
    pub fn summary(&self) -> String {
        let count = |k: EventKind| self.events.iter().filter(|e| e.kind == k).count();
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        if count(EventKind::Test) > 0 {
            return "vaktpost test alert".to_string();
        }
        if let [e] = self.events.as_slice() {
            let what = format!("{}: {}", flat(&e.monitor), flat(&e.message));
            return match e.kind {
                EventKind::Opened => what,
                EventKind::Resolved => match e.duration_text() {
                    Some(d) => format!("Resolved after {d}: {what}"),
                    None => format!("Resolved: {what}"),
                },
                EventKind::Changed => format!("{}: {what}", e.change_label()),
                k => format!("{}: {what}", k.flap_label().unwrap_or_default()),
            };
        }
        let n = |k: usize| if k == 1 { "1 alert".to_string() } else { format!("{k} alerts") };
        let (o, r) = (count(EventKind::Opened), count(EventKind::Resolved));
        let changed = self.events.len() - o - r;
        let mut parts = Vec::new();
        if o > 0 {
            parts.push(format!("{} opened", n(o)));
        }
        if r > 0 {
            parts.push(if parts.is_empty() { format!("{} resolved", n(r)) } else { format!("{r} resolved") });
        }
        if changed > 0 {
            parts.push(if parts.is_empty() { format!("{} changed", n(changed)) } else { format!("{changed} changed") });
        }
        parts.join(", ")
    }
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
    use super::*;

    // The events a channel failed to deliver live in users' state files: a state.json
    // written before `AlertEvent` moved under `state` loads, and saves back byte for byte.
    #[test]
    fn pending_events_of_an_old_state_file_load_and_save_unchanged() {
        let old = include_str!("../../tests/fixtures/state/pending-v1.json");
        let state: crate::state::State = serde_json::from_str(old).unwrap_or_else(|e| panic!("{e}"));
        let slack = &state.pending["slack"];
        assert_eq!(slack.len(), 3);
        assert_eq!(slack[1].kind, EventKind::Resolved);
        assert_eq!(slack[1].duration_text().as_deref(), Some("2h"));
        assert_eq!(state.pending["email"][0].kind, EventKind::Settled);
        assert_eq!(slack[0].details[1], ("error".to_string(), "[timeout] no answer".to_string()));
        let again = serde_json::to_string_pretty(&state).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, old);
    }

    #[test]
    fn spans_read_like_people_write_them() {
        use super::human_span;
        assert_eq!(human_span(42 * 60), "42m");
        assert_eq!(human_span(3 * 3600 + 5 * 60), "3h 5m");
        assert_eq!(human_span(2 * 86400 + 4 * 3600 + 59), "2d 4h");
        assert_eq!(human_span(9), "9s");
    }
}
