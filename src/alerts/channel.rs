//! The alert channels as plug-ins: one [`Channel`] trait, implemented beside each channel
//! (`github.rs`, `slack.rs`, `email.rs`, `heartbeat.rs`, `webhook.rs`, `discord.rs`,
//! `teams.rs`, `pagerduty.rs`), and one place that lists the
//! configured ones ([`configured`]). Adding a channel means its file, its `impl Channel`
//! and one line in [`configured`]; delivery and `vaktpost test-alert` iterate the list.

use std::future::Future;
use std::pin::Pin;

use super::{AlertEvent, AlertRun, EventKind, Notice};
use crate::config::{Config, Severity};

/// Why a channel could not deliver, sorted by what a caller does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Transient: a 5xx, 408 or 429, a timeout or lost connection, an SMTP 4xx reply, the
    /// run's deadline. Trying again later (the next run) may well succeed.
    #[error("{0}")]
    Retryable(String),
    /// Refused in a way another attempt would repeat: a 4xx, an SMTP 5xx, a setting that is
    /// missing or malformed, a certificate that is not trusted. The message says what to fix.
    #[error("{0}")]
    Rejected(String),
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable(_))
    }

    /// The message, identical whichever the variant.
    pub fn message(&self) -> &str {
        match self {
            SendError::Retryable(m) | SendError::Rejected(m) => m,
        }
    }
}

/// What a channel's call returns: boxed, because the configured channels are a list of
/// `dyn Channel` (native `async fn` in traits is not object safe).
pub type Sending<'a, T> = Pin<Box<dyn Future<Output = Result<T, SendError>> + Send + 'a>>;

/// One alert channel. Notice channels (Slack, email) get this run's events in up to two
/// messages: [`Channel::open`] (or [`Channel::update`] when nothing opened) for what opened
/// or changed, [`Channel::resolve`] for what resolved. GitHub issues are synced per alert
/// by reconciliation (they decide maintenance and carry the issue links the other channels
/// show), and the heartbeat pings once per run: both take no events.
pub trait Channel: Send + Sync {
    /// The name in reports, `state.pending` and `--channel`.
    fn name(&self) -> &'static str;

    /// The lowest severity this channel is told about; `None` when it takes no events.
    fn min_severity(&self) -> Option<Severity> {
        None
    }

    /// Whether this channel is told when an open alert's severity changes
    /// ([`EventKind::Changed`], sent through [`Channel::update`] when nothing opened).
    /// Slack and email keep to one message at open and one at resolve (SPEC §4).
    fn takes_changes(&self) -> bool {
        false
    }

    /// Alerts that opened this run (with any that changed), as one message.
    fn open<'a>(&'a self, _run: &'a AlertRun<'a>, _notice: &'a Notice) -> Sending<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Open alerts that changed (a flapping episode started or settled), as one message.
    fn update<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        self.open(run, notice)
    }

    /// Alerts that resolved this run, as one message.
    fn resolve<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        self.open(run, notice)
    }

    /// `vaktpost test-alert`: a clearly marked message; what happened, in a few words.
    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String>;
}

/// The configured channels, in the order reports and `test-alert` list them. The one
/// place channels are registered.
pub fn configured(config: &Config) -> Vec<Box<dyn Channel + '_>> {
    let a = &config.alerts;
    let mut out: Vec<Box<dyn Channel + '_>> = Vec::new();
    if let Some(g) = a.github.as_ref().filter(|g| g.enabled) {
        out.push(Box::new(super::github::Issues(g)));
    }
    if let Some(s) = a.slack.as_ref().filter(|s| s.enabled) {
        out.push(Box::new(super::slack::Slack(s)));
    }
    if let Some(e) = a.email.as_ref().filter(|e| e.enabled) {
        out.push(Box::new(super::email::Email(e)));
    }
    if let Some(w) = a.webhook.as_ref().filter(|w| w.enabled) {
        out.push(Box::new(super::webhook::Webhook(w)));
    }
    if let Some(d) = a.discord.as_ref().filter(|d| d.enabled) {
        out.push(Box::new(super::discord::Discord(d)));
    }
    if let Some(t) = a.teams.as_ref().filter(|t| t.enabled) {
        out.push(Box::new(super::teams::Teams(t)));
    }
    if let Some(p) = a.pagerduty.as_ref().filter(|p| p.enabled) {
        out.push(Box::new(super::pagerduty::Pagerduty(p)));
    }
    if let Some(h) = a.heartbeat.as_ref() {
        out.push(Box::new(super::heartbeat::Heartbeat(h)));
    }
    out
}

/// The test notice every notice channel sends for `vaktpost test-alert`.
pub fn test_notice(run: &AlertRun<'_>) -> Notice {
    let ev = AlertEvent {
        kind: EventKind::Test,
        fingerprint: "vaktpost/test_alert".into(),
        monitor: "vaktpost".into(),
        rule: "test_alert".into(),
        severity: Severity::Low,
        message: "This is a test alert from vaktpost. No action is needed.".into(),
        first_seen: run.ctx.now(),
        resolved_at: None,
        issue_url: None,
        details: vec![],
    };
    Notice { events: vec![ev], run_url: run.ctx.run_url(), title: "vaktpost test alert".into() }
}
