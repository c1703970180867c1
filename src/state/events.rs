//! The alert events a channel could not deliver, as `state.json` keeps them (`pending`,
//! by channel) until a later run sends them. Data only, beside the state that persists
//! it; `alerts` renders and sends them (and re-exports them as `alerts::AlertEvent`).
//! The serialized shape is what users' state files hold: change it only with a migration
//! (`tests/fixtures/state/pending-v1.json` pins it).

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
    /// An open alert's severity changed (an `escalate` condition, a certificate passing
    /// `critical_days`). Only channels that track alerts one by one are told
    /// ([`crate::alerts::Channel::takes_changes`]: webhook, Discord, Teams, PagerDuty).
    Changed,
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
