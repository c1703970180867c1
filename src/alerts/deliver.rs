//! Hands this run's opened and resolved events to Slack and email (each filtered by its
//! `min_severity`), together with anything an earlier run failed to deliver. A failed
//! delivery keeps its events pending in the state.

use super::{AlertEvent, AlertRun, Notice, Reconciled};
use crate::config::Severity;
use crate::report::{Action, AlertAction};
use crate::state::State;

/// Delivers to every configured channel except GitHub (handled in reconciliation).
pub async fn deliver(run: &AlertRun<'_>, recon: &Reconciled, state: &mut State) -> Vec<AlertAction> {
    let mut out = Vec::new();
    let alerts = &run.config.alerts;
    let channels: Vec<(&str, Severity)> = [
        alerts
            .slack
            .as_ref()
            .filter(|s| s.enabled && s.webhook_url.is_some())
            .map(|s| ("slack", s.min_severity.unwrap_or(Severity::Low))),
        alerts.email.as_ref().filter(|e| e.enabled).map(|e| ("email", e.min_severity.unwrap_or(Severity::Low))),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (channel, min) in channels {
        let mut events: Vec<AlertEvent> = state.pending.remove(channel).unwrap_or_default();
        events.extend(
            recon.opened.iter().chain(&recon.notices).chain(&recon.resolved).filter(|e| e.severity >= min).cloned(),
        );
        if events.is_empty() {
            continue;
        }
        let acts: Vec<AlertAction> = events
            .iter()
            .map(|e| AlertAction {
                fingerprint: e.fingerprint.clone(),
                channel: channel.to_string(),
                action: match e.kind {
                    super::EventKind::Resolved => Action::Resolved,
                    super::EventKind::Flapping | super::EventKind::Settled => Action::Updated,
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
        // One message for what opened and one for what resolved.
        let (opened, resolved): (Vec<AlertEvent>, Vec<AlertEvent>) =
            events.iter().cloned().partition(|e| e.kind != super::EventKind::Resolved);
        let mut failed: Vec<AlertEvent> = Vec::new();
        let mut error = None;
        for batch in [opened, resolved] {
            if batch.is_empty() {
                continue;
            }
            let notice = Notice { events: batch.clone(), run_url: run.ctx.run_url(), title: title(run) };
            if let Err(e) = send(run, channel, &notice).await {
                error = Some(run.redactor.redact_text(&e));
                failed.extend(batch);
            }
        }
        for a in acts {
            let did_fail = failed.iter().any(|f| f.fingerprint == a.fingerprint);
            out.push(if did_fail { AlertAction { action: Action::Failed, error: error.clone(), ..a } } else { a });
        }
        if !failed.is_empty() {
            state.pending.insert(channel.to_string(), failed);
        }
    }
    out
}

fn title(run: &AlertRun<'_>) -> String {
    run.config.report.title.clone().unwrap_or_else(|| "vaktpost".into())
}

/// Sends one notice through one channel.
pub async fn send(run: &AlertRun<'_>, channel: &str, notice: &Notice) -> Result<(), String> {
    let alerts = &run.config.alerts;
    let waiter = run.waiter();
    match channel {
        "slack" => {
            let s = alerts.slack.as_ref().ok_or("Slack is not configured")?;
            let url = s.webhook_url.as_ref().ok_or("alerts.slack.webhook_url is not set (or SLACK_WEBHOOK_URL)")?;
            super::slack::send(&http_client(), url, notice, &waiter).await
        }
        "email" => {
            let e = alerts.email.as_ref().ok_or("email is not configured")?;
            super::email::send(e, run.ctx.hostname.as_deref(), notice, &waiter).await
        }
        other => Err(format!("unknown channel {other}")),
    }
}

/// The HTTP client for webhook-style channels.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("vaktpost/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap_or_default()
}
