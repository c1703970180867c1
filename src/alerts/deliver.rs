//! Hands this run's opened and resolved events to the notice channels (Slack, email,
//! webhook, Discord, Teams, PagerDuty: each filtered by its `min_severity`; severity
//! changes only to those that take them), together with anything an earlier run failed to
//! deliver. A failed delivery keeps its events pending in the state.

use super::channel::Channel;
use super::{AlertEvent, AlertRun, EventKind, Notice, Reconciled};
use crate::report::{Action, AlertAction};
use crate::state::State;

/// Delivers to every channel of `channels` ([`super::channel::configured`]) that takes
/// events (GitHub issues are synced in reconciliation).
pub async fn deliver(
    run: &AlertRun<'_>,
    channels: &[Box<dyn Channel + '_>],
    recon: &Reconciled,
    state: &mut State,
) -> Vec<AlertAction> {
    let mut out = Vec::new();
    for ch in channels {
        let Some(min) = ch.min_severity() else { continue };
        let name = ch.name();
        let mut events: Vec<AlertEvent> = state.pending.remove(name).unwrap_or_default();
        let changes: &[AlertEvent] = if ch.takes_changes() { &recon.changes } else { &[] };
        events.extend(
            recon
                .opened
                .iter()
                .chain(&recon.notices)
                .chain(changes)
                .chain(&recon.resolved)
                .filter(|e| e.severity >= min)
                .cloned(),
        );
        if events.is_empty() {
            continue;
        }
        let acts: Vec<AlertAction> = events
            .iter()
            .map(|e| AlertAction {
                fingerprint: e.fingerprint.clone(),
                channel: name.to_string(),
                action: match e.kind {
                    EventKind::Resolved => Action::Resolved,
                    EventKind::Flapping | EventKind::Settled | EventKind::Changed => Action::Updated,
                    _ => Action::Opened,
                },
                issue_number: None,
                url: e.issue_url.clone(),
                error: None,
            })
            .collect();
        if run.dry_run {
            out.extend(acts.into_iter().map(|a| AlertAction { error: Some("dry run: not sent".into()), ..a }));
            continue;
        }
        // One message for what opened (or changed) and one for what resolved.
        let (opened, resolved): (Vec<AlertEvent>, Vec<AlertEvent>) =
            events.iter().cloned().partition(|e| e.kind != EventKind::Resolved);
        let mut failed: Vec<AlertEvent> = Vec::new();
        let mut error = None;
        for (batch, resolves) in [(opened, false), (resolved, true)] {
            if batch.is_empty() {
                continue;
            }
            let notice = Notice { events: batch.clone(), run_url: run.ctx.run_url(), title: title(run) };
            if let Err(e) = send(ch.as_ref(), run, &notice, resolves).await {
                error = Some(run.redactor.redact_text(e.message()));
                failed.extend(batch);
            }
        }
        for a in acts {
            let did_fail = failed.iter().any(|f| f.fingerprint == a.fingerprint);
            out.push(if did_fail { AlertAction { action: Action::Failed, error: error.clone(), ..a } } else { a });
        }
        if !failed.is_empty() {
            state.pending.insert(name.to_string(), failed);
        }
    }
    out
}

/// One batch through `ch`: `resolve` for what resolved, `open` when something opened,
/// else `update` (only flapping notices).
async fn send(ch: &dyn Channel, run: &AlertRun<'_>, notice: &Notice, resolves: bool) -> Result<(), super::SendError> {
    if resolves {
        ch.resolve(run, notice).await
    } else if notice.events.iter().any(|e| e.kind == EventKind::Opened) {
        ch.open(run, notice).await
    } else {
        ch.update(run, notice).await
    }
}

fn title(run: &AlertRun<'_>) -> String {
    run.config.report.title.clone().unwrap_or_else(|| "vaktpost".into())
}

/// The HTTP client for webhook-style channels.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("vaktpost/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap_or_default()
}
