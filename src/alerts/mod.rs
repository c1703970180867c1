//! Alerts: reconcile this run's findings with the alerts that are open, then tell each
//! channel what opened and what resolved. Keyed by fingerprint (`monitor/rule`);
//! idempotent across runs (a second run with the same findings changes nothing); a
//! channel that fails keeps its events pending in the state for the next run.
//!
//! [`run`] is the whole of it: [`plan`] decides without I/O what opened, resolved or
//! changed; `github::sync` brings the issues in line; [`deliver`] hands the events to
//! the notice channels ([`channel::configured`] lists them). The heartbeat pings after
//! the report is built ([`heartbeat::beat`]).

pub mod channel;
pub mod deliver;
pub mod discord;
pub mod email;
pub mod event;
pub mod github;
pub mod heartbeat;
pub mod maintenance;
pub mod pagerduty;
pub mod plan;
pub mod post;
pub mod slack;
pub mod teams;
pub mod webhook;

use tokio::time::Instant;

pub use channel::{Channel, SendError};
pub use event::{AlertEvent, EventKind, Notice};
pub use github::{bound_issue_body, issue_body};
pub use plan::details_of;

use crate::checks::CheckResult;
use crate::config::Config;
use crate::context::RunContext;
use crate::redact::Redactor;
use crate::report::{Action, AlertAction};
use crate::rules::Finding;
use crate::state::State;

/// What reconciliation needs from the run.
pub struct AlertRun<'a> {
    pub config: &'a Config,
    pub ctx: &'a RunContext,
    pub redactor: &'a Redactor,
    pub checks: &'a [CheckResult],
    pub dry_run: bool,
    pub deadline: Instant,
}

impl AlertRun<'_> {
    /// How this run's deliveries wait between attempts: the run's sleep, until its deadline.
    pub fn waiter(&self) -> crate::retry::Waiter {
        self.ctx.waiter(Some(self.deadline.into_std()))
    }
}

/// The outcome: every action taken (or that failed), and the events for the other channels.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub actions: Vec<AlertAction>,
    pub opened: Vec<AlertEvent>,
    pub resolved: Vec<AlertEvent>,
    /// Open alerts whose flapping episode started or settled.
    pub notices: Vec<AlertEvent>,
    /// Open alerts whose severity changed.
    pub changes: Vec<AlertEvent>,
}

pub(crate) fn action(fp: &str, channel: &str, a: Action) -> AlertAction {
    AlertAction {
        fingerprint: fp.to_string(),
        channel: channel.to_string(),
        action: a,
        issue_number: None,
        url: None,
        error: None,
    }
}

/// Reconciles and delivers: the alert actions of this run (GitHub's, then the notice
/// channels'), with what reconciliation found.
pub async fn run(run: &AlertRun<'_>, findings: &[Finding], state: &mut State) -> (Reconciled, Vec<AlertAction>) {
    let channels = channel::configured(run.config);
    let recon = reconcile(run, findings, state).await;
    let mut actions = recon.actions.clone();
    actions.extend(deliver::deliver(run, &channels, &recon, state).await);
    (recon, actions)
}

/// Findings ⇄ open alerts. Updates `state.alerts`; talks to GitHub when it is configured.
pub async fn reconcile(run: &AlertRun<'_>, findings: &[Finding], state: &mut State) -> Reconciled {
    let now = run.ctx.now();
    let mut out = Reconciled::default();
    // GitHub first: its open issues tell us about maintenance and about issues that
    // an overlapping run already opened.
    let gh = github::connect(run, &mut out.actions).await;
    let maintenance_issue = gh.as_ref().is_some_and(|(_, open)| github::in_maintenance(open));
    let planned = plan::plan(run, findings, state, now, maintenance_issue);
    out.actions.extend(planned.suppressed);
    out.opened = planned.opened;
    out.notices = planned.notices;
    out.changes = planned.changes;
    let mut resolved_records = Vec::new();
    for (ev, rec) in planned.resolved {
        resolved_records.push((ev.fingerprint.clone(), rec));
        out.resolved.push(ev);
    }
    github::sync(run, gh.as_ref(), state, &resolved_records, &mut out, now).await;
    out
}

pub(crate) fn failed(fp: &str, channel: &str, e: String) -> AlertAction {
    AlertAction { error: Some(e), ..action(fp, channel, Action::Failed) }
}

/// `vaktpost test-alert`: a clearly marked message through each selected channel that is
/// configured. Returns (channel, Ok(what happened) | Err(why)) per channel.
pub async fn test_alert(run: &AlertRun<'_>, only: Option<&str>) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for ch in channel::configured(run.config) {
        if only.is_none_or(|o| o == "all" || o == ch.name()) {
            let res = ch.test(run).await.map_err(|e| run.redactor.redact_text(e.message()));
            out.push((ch.name().to_string(), res));
        }
    }
    out
}
