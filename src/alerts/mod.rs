//! Alerts: reconcile this run's findings with the alerts that are open, then tell each
//! channel what opened and what resolved. Keyed by fingerprint (`monitor/rule`);
//! idempotent across runs (a second run with the same findings changes nothing); a
//! channel that fails keeps its events pending in the state for the next run.

pub mod deliver;
pub mod email;
pub mod event;
pub mod github;
pub mod heartbeat;
pub mod maintenance;
pub mod slack;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use tokio::time::Instant;

pub use event::{AlertEvent, EventKind, Notice};

use crate::checks::CheckResult;
use crate::config::{Config, GithubAlerts, Severity};
use crate::context::RunContext;
use crate::redact::Redactor;
use crate::report::summary::{cell, code, code_cell};
use crate::report::{Action, AlertAction};
use crate::rules::Finding;
use crate::state::{AlertRecord, PendingClose, State};
use crate::untrusted;

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
}

fn action(fp: &str, channel: &str, a: Action) -> AlertAction {
    AlertAction {
        fingerprint: fp.to_string(),
        channel: channel.to_string(),
        action: a,
        issue_number: None,
        url: None,
        error: None,
    }
}

/// Findings ⇄ open alerts. Updates `state.alerts`; talks to GitHub when it is configured.
pub async fn reconcile(run: &AlertRun<'_>, findings: &[Finding], state: &mut State) -> Reconciled {
    let now = run.ctx.now();
    let mut out = Reconciled::default();
    let gh_cfg = run.config.alerts.github.as_ref().filter(|g| g.enabled);

    // GitHub first: its open issues tell us about maintenance and about issues that
    // an overlapping run already opened.
    let mut gh: Option<(github::Client, Vec<github::Issue>)> = None;
    if let (Some(cfg), false) = (gh_cfg, run.dry_run) {
        match github_client(run, cfg) {
            Ok(client) => match client.list("open", 20).await {
                Ok(open) => gh = Some((client, open)),
                Err(e) => out.actions.push(failed("*", "github", run.redactor.redact_text(&e))),
            },
            Err(e) => out.actions.push(failed("*", "github", e)),
        }
    }
    let maintenance_issue =
        gh.as_ref().is_some_and(|(_, open)| open.iter().any(|i| i.has_label(github::MAINTENANCE_LABEL)));
    let suppressed =
        |monitor: &str| maintenance_issue || maintenance::covers(&run.config.alerts.maintenance, monitor, now);

    let in_scope: BTreeSet<&str> = run.checks.iter().map(|c| c.name.as_str()).collect();
    let current: BTreeMap<&str, &Finding> = findings.iter().map(|f| (f.fingerprint.as_str(), f)).collect();

    for (fp, f) in &current {
        match state.alerts.get_mut(*fp) {
            Some(rec) => {
                if !f.carried_over {
                    rec.last_seen = now;
                }
                rec.severity = f.severity;
                rec.message = f.message.clone();
                // A flapping episode starting or settling on an open alert: one notice each.
                if f.flapping != rec.flapping && !f.carried_over {
                    rec.flapping = f.flapping;
                    let kind = if f.flapping { EventKind::Flapping } else { EventKind::Settled };
                    let rec = rec.clone();
                    if !suppressed(&f.monitor) {
                        out.notices.push(event(kind, fp, Some(&rec), now, run));
                    }
                }
            }
            None if suppressed(&f.monitor) => out.actions.push(action(fp, "all", Action::Suppressed)),
            None => {
                let first_seen = state.rules.get(*fp).and_then(|r| r.first_seen).unwrap_or(now);
                state.alerts.insert(
                    fp.to_string(),
                    AlertRecord {
                        monitor: f.monitor.clone(),
                        rule: f.rule.clone(),
                        severity: f.severity,
                        message: f.message.clone(),
                        first_seen,
                        last_seen: now,
                        issue_number: None,
                        issue_url: None,
                        issue_severity: None,
                        issue_message: None,
                        last_reminded_at: None,
                        flapping: f.flapping,
                    },
                );
                out.opened.push(event(EventKind::Opened, fp, state.alerts.get(*fp), now, run));
            }
        }
    }
    let gone: Vec<String> = state
        .alerts
        .iter()
        .filter(|(fp, rec)| !current.contains_key(fp.as_str()) && in_scope.contains(rec.monitor.as_str()))
        .map(|(fp, _)| fp.clone())
        .collect();
    let mut resolved_records = Vec::new();
    for fp in gone {
        let Some(rec) = state.alerts.get(&fp) else { continue };
        if suppressed(&rec.monitor) {
            out.actions.push(action(&fp, "all", Action::Suppressed));
            continue;
        }
        if let Some(rec) = state.alerts.remove(&fp) {
            let mut ev = event(EventKind::Resolved, &fp, Some(&rec), now, run);
            ev.resolved_at = Some(now);
            out.resolved.push(ev);
            resolved_records.push((fp, rec));
        }
    }

    if let (Some(cfg), Some((client, open))) = (gh_cfg, gh.as_ref()) {
        sync_github(run, cfg, client, open, state, &resolved_records, &mut out, now).await;
        // Issue links for the other channels.
        for ev in out.opened.iter_mut() {
            ev.issue_url = state.alerts.get(&ev.fingerprint).and_then(|r| r.issue_url.clone());
        }
        for (ev, (_, rec)) in out.resolved.iter_mut().zip(&resolved_records) {
            ev.issue_url = rec.issue_url.clone();
        }
        for ev in out.notices.iter_mut() {
            ev.issue_url = state.alerts.get(&ev.fingerprint).and_then(|r| r.issue_url.clone());
        }
    } else if gh_cfg.is_some() && !run.dry_run {
        // GitHub could not be listed this run: the issues of what resolved are closed by
        // the next run that reaches it, instead of staying open for good.
        for (fp, rec) in &resolved_records {
            if let Some(n) = rec.issue_number {
                state
                    .pending_close
                    .insert(fp.clone(), PendingClose { issue_number: n, comment: resolved_comment(rec, now) });
            }
        }
    } else if gh_cfg.is_some() && run.dry_run {
        for ev in &out.opened {
            out.actions.push(AlertAction {
                error: Some("dry run: not sent".into()),
                ..action(&ev.fingerprint, "github", Action::Opened)
            });
        }
        for ev in &out.resolved {
            out.actions.push(AlertAction {
                error: Some("dry run: not sent".into()),
                ..action(&ev.fingerprint, "github", Action::Resolved)
            });
        }
    }
    out
}

fn failed(fp: &str, channel: &str, e: String) -> AlertAction {
    AlertAction { error: Some(e), ..action(fp, channel, Action::Failed) }
}

fn github_client(run: &AlertRun<'_>, cfg: &GithubAlerts) -> Result<github::Client, String> {
    let ctx = run.ctx;
    let token = github::token(ctx).ok_or(
        "alerts.github is on but no token is set; give the action `github_token` or set GITHUB_TOKEN (the job needs `permissions: issues: write`)",
    )?;
    let repo = cfg.repository.as_deref().or_else(|| ctx.var("GITHUB_REPOSITORY")).ok_or(
        "alerts.github is on but the repository is unknown; set alerts.github.repository or GITHUB_REPOSITORY",
    )?;
    github::Client::new(github::api_url(ctx), repo, token, github::Pace::of(ctx, run.deadline))
}

fn event(kind: EventKind, fp: &str, rec: Option<&AlertRecord>, now: DateTime<Utc>, run: &AlertRun<'_>) -> AlertEvent {
    let (monitor, rule, severity, message, first_seen) = match rec {
        Some(r) => (r.monitor.clone(), r.rule.clone(), r.severity, r.message.clone(), r.first_seen),
        None => (String::new(), String::new(), Severity::Low, String::new(), now),
    };
    let details = run.checks.iter().find(|c| c.name == monitor).map(details_of).unwrap_or_default();
    AlertEvent {
        kind,
        fingerprint: fp.to_string(),
        monitor,
        rule,
        severity,
        message: run.redactor.redact_text(&message),
        first_seen,
        resolved_at: None,
        issue_url: rec.and_then(|r| r.issue_url.clone()),
        details: details.into_iter().map(|(k, v)| (k, run.redactor.redact_text(&v))).collect(),
    }
}

/// Key facts of a result as text pairs (error, status code, timings, extracted values).
pub fn details_of(c: &CheckResult) -> Vec<(String, String)> {
    let mut d = vec![("status".to_string(), c.status.as_str().to_string())];
    if let Some(e) = &c.error {
        d.push(("error".into(), format!("[{}] {}", e.kind.as_str(), e.message)));
    }
    for (k, v) in c.metrics.iter().take(12) {
        let text = crate::rules::format_value(v);
        if text.len() <= 120 {
            d.push((k.clone(), text));
        }
    }
    d
}

/// The issue title: one line, no control characters, within GitHub's 256 characters.
fn title(rec: &AlertRecord) -> String {
    untrusted::issue_title(&format!("{} {}: {}", github::severity_icon(rec.severity), rec.monitor, rec.message))
}

/// Longest finding message in an issue body or comment.
const MAX_ISSUE_MESSAGE: usize = 2000;

/// The issue body: what failed, since when, key metrics, the run link, the marker.
pub fn issue_body(fp: &str, rec: &AlertRecord, run: &AlertRun<'_>, redact_targets: bool) -> String {
    let check = run.checks.iter().find(|c| c.name == rec.monitor);
    let scrub = |s: &str| {
        let s = run.redactor.redact_text(s);
        if redact_targets {
            redact_targets_in(&s, check.map(|c| c.target.as_str()))
        } else {
            s
        }
    };
    let mut b = String::new();
    b.push_str(&format!(
        "**{}** · severity **{}** · rule {}\n\n",
        untrusted::markdown(&scrub(&rec.message), MAX_ISSUE_MESSAGE),
        rec.severity.as_str(),
        code(&rec.rule)
    ));
    b.push_str("| | |\n|---|---|\n");
    b.push_str(&format!("| Monitor | {} |\n", code_cell(&rec.monitor)));
    if let Some(c) = check {
        b.push_str(&format!("| Type | {} |\n", cell(&c.kind)));
        if !redact_targets {
            b.push_str(&format!("| Target | {} |\n", cell(&c.target)));
        }
        b.push_str(&format!("| Status | {} {} |\n", c.status.emoji(), c.status.as_str()));
        if let Some(e) = &c.error {
            b.push_str(&format!("| Error | {} {} |\n", code_cell(e.kind.as_str()), cell(&scrub(&e.message))));
        }
    }
    b.push_str(&format!("| Since | {} |\n", rec.first_seen.format("%Y-%m-%d %H:%M UTC")));
    b.push_str(&format!("| Last seen | {} |\n", rec.last_seen.format("%Y-%m-%d %H:%M UTC")));
    if let Some(c) = check {
        let metrics: Vec<String> = c
            .metrics
            .iter()
            .filter_map(|(k, v)| {
                let t = crate::rules::format_value(v);
                (t.len() <= 80).then(|| format!("{} {}", code(k), cell(&scrub(&t))))
            })
            .take(20)
            .collect();
        if !metrics.is_empty() {
            b.push_str(&format!("\n**Metrics:** {}\n", metrics.join(" · ")));
        }
    }
    if let Some(u) = run.ctx.run_url() {
        b.push_str(&format!("\n[Workflow run]({u})\n"));
    }
    b.push_str("\n_Opened by vaktpost; it updates this issue when the severity or message changes and closes it when the problem resolves._\n\n");
    bound_issue_body(b, &github::marker(fp))
}

/// `text` then `marker`, within GitHub's 65,536 characters: the text is cut (with a note)
/// so the marker, which finds the issue again, stays whole.
pub fn bound_issue_body(text: String, marker: &str) -> String {
    const NOTE: &str = "\n\n_Cut to stay under GitHub's issue size limit; see the JSON report._\n\n";
    let tail = marker.chars().count() + 1;
    let mut b = if text.chars().count() + tail <= untrusted::MAX_ISSUE_BODY {
        text
    } else {
        let room = untrusted::MAX_ISSUE_BODY.saturating_sub(tail + NOTE.chars().count());
        untrusted::bound(&text, room) + NOTE
    };
    b.push_str(marker);
    b.push('\n');
    untrusted::bound(&b, untrusted::MAX_ISSUE_BODY)
}

/// Hostnames and URLs out of text, for issue bodies in public repositories.
fn redact_targets_in(text: &str, target: Option<&str>) -> String {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(' ') {
        if w.contains("://") {
            out.push("[url]".into());
        } else {
            out.push(w.to_string());
        }
    }
    let mut s = out.join(" ");
    if let Some(t) = target {
        let host = url::Url::parse(t)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| t.split(':').next().unwrap_or("").to_string());
        if host.len() >= 3 {
            s = s.replace(&host, "[host]");
        }
    }
    s
}

#[allow(clippy::too_many_arguments)]
async fn sync_github(
    run: &AlertRun<'_>,
    cfg: &GithubAlerts,
    client: &github::Client,
    open: &[github::Issue],
    state: &mut State,
    resolved: &[(String, AlertRecord)],
    out: &mut Reconciled,
    now: DateTime<Utc>,
) {
    let mut by_fp: BTreeMap<String, Vec<&github::Issue>> = BTreeMap::new();
    for i in open {
        if let Some(fp) = i.fingerprint() {
            by_fp.entry(fp).or_default().push(i);
        }
    }
    let min = cfg.min_severity.unwrap_or(Severity::Low);
    let redact = |e: String| run.redactor.redact_text(&e);

    // Issues of earlier resolutions that could not be closed then.
    let retry_close: Vec<(String, PendingClose)> =
        state.pending_close.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (fp, pc) in retry_close {
        // Back again, or closed by a person meanwhile: nothing left to close.
        if state.alerts.contains_key(&fp) || !open.iter().any(|i| i.number == pc.issue_number) {
            state.pending_close.remove(&fp);
            continue;
        }
        match close_issue(client, pc.issue_number, &pc.comment).await {
            Ok(()) => {
                state.pending_close.remove(&fp);
                out.actions.push(AlertAction {
                    issue_number: Some(pc.issue_number),
                    ..action(&fp, "github", Action::Resolved)
                });
            }
            Err(e) => out
                .actions
                .push(AlertAction { issue_number: Some(pc.issue_number), ..failed(&fp, "github", redact(e)) }),
        }
    }

    // Active alerts: adopt, create, update or leave alone.
    let fps: Vec<String> = state.alerts.keys().cloned().collect();
    let mut fresh_list: Option<Vec<github::Issue>> = None;
    for fp in fps {
        let Some(rec) = state.alerts.get(&fp).cloned() else { continue };
        if rec.severity < min {
            continue;
        }
        let existing = by_fp.get(&fp).and_then(|v| v.iter().min_by_key(|i| i.number)).copied();
        let mut rec2 = rec.clone();
        let mut act = Action::Unchanged;
        let mut error = None;
        match (rec.issue_number, existing) {
            (_, Some(issue)) => {
                rec2.issue_number = Some(issue.number);
                rec2.issue_url = Some(issue.html_url.clone());
                if rec.issue_number.is_none() {
                    // Opened by an overlapping run (or before a state loss): adopt it.
                    rec2.issue_severity = Some(rec.severity);
                    rec2.issue_message = Some(rec.message.clone());
                    if issue.title != title(&rec) {
                        rec2.issue_severity = None;
                    }
                }
            }
            (Some(_), None) => {
                // Closed by a person while the problem goes on: respect that, do not reopen.
            }
            (None, None) => {
                // Look for the marker again right before creating: an overlapping run may
                // have opened the issue since our first listing.
                if fresh_list.is_none() {
                    fresh_list = client.list("open", 20).await.ok();
                }
                let found = fresh_list.as_ref().and_then(|l| {
                    l.iter().filter(|i| i.fingerprint().as_deref() == Some(fp.as_str())).min_by_key(|i| i.number)
                });
                if let Some(issue) = found {
                    rec2.issue_number = Some(issue.number);
                    rec2.issue_url = Some(issue.html_url.clone());
                    rec2.issue_severity = Some(rec.severity);
                    rec2.issue_message = Some(rec.message.clone());
                } else {
                    match open_issue(run, cfg, client, &fp, &rec).await {
                        Ok((issue, warning)) => {
                            // Opened, with what GitHub refused (an assignee) to fix.
                            error = warning.map(redact);
                            rec2.issue_number = Some(issue.number);
                            rec2.issue_url = Some(issue.html_url.clone());
                            rec2.issue_severity = Some(rec.severity);
                            rec2.issue_message = Some(rec.message.clone());
                            rec2.last_reminded_at = Some(now);
                            act = Action::Opened;
                            // Two runs racing past the check: keep the oldest issue.
                            dedupe_after_create(client, &fp, issue.number).await;
                        }
                        Err(e) => {
                            act = Action::Failed;
                            error = Some(redact(e));
                        }
                    }
                }
            }
        }
        if act == Action::Unchanged {
            if let Some(n) = rec2.issue_number.filter(|_| rec2.issue_severity.is_some() || rec.issue_number.is_some()) {
                let changed = rec2.issue_severity != Some(rec.severity)
                    || rec2.issue_message.as_deref() != Some(rec.message.as_str());
                let open_now = existing.is_some() || rec.issue_number.is_none();
                if changed && open_now {
                    let body = issue_body(&fp, &rec, run, cfg.redact_targets);
                    let t = title(&rec);
                    // Title and body only: labels change through add/remove, so labels a
                    // person added (`acknowledged`, `vaktpost:maintenance`) stay.
                    let patch = github::IssuePatch { title: Some(&t), body: Some(&body), ..Default::default() };
                    let severity_changed = rec2.issue_severity != Some(rec.severity);
                    let res = match client.update(n, &patch).await {
                        Ok(_) if severity_changed => client.set_severity_labels(n, rec.severity, &cfg.labels).await,
                        Ok(_) => Ok(()),
                        Err(e) => Err(e),
                    };
                    match res {
                        Ok(_) => {
                            rec2.issue_severity = Some(rec.severity);
                            rec2.issue_message = Some(rec.message.clone());
                            act = Action::Updated;
                        }
                        Err(e) => {
                            act = Action::Failed;
                            error = Some(redact(e));
                        }
                    }
                } else if let (Some(every), true) = (cfg.remind_every, open_now) {
                    let last = rec.last_reminded_at.unwrap_or(rec.first_seen);
                    if (now - last).to_std().unwrap_or_default() >= every.get() {
                        let since = event::human_span((now - rec.first_seen).num_seconds().max(0) as u64);
                        let text = format!(
                            "Still failing after {since}: {}",
                            untrusted::markdown(&run.redactor.redact_text(&rec.message), MAX_ISSUE_MESSAGE)
                        );
                        match client.comment(n, &text).await {
                            Ok(()) => {
                                rec2.last_reminded_at = Some(now);
                                act = Action::Updated;
                            }
                            Err(e) => {
                                act = Action::Failed;
                                error = Some(redact(e));
                            }
                        }
                    }
                }
            }
        }
        out.actions.push(AlertAction {
            issue_number: rec2.issue_number,
            url: rec2.issue_url.clone(),
            error,
            ..action(&fp, "github", act)
        });
        state.alerts.insert(fp, rec2);
    }

    // Resolved: comment, then close as completed.
    for (fp, rec) in resolved {
        let number = rec.issue_number.or_else(|| by_fp.get(fp).and_then(|v| v.first()).map(|i| i.number));
        let Some(n) = number else { continue };
        if by_fp.get(fp).is_none_or(|v| !v.iter().any(|i| i.number == n)) {
            continue; // already closed by someone
        }
        let comment = resolved_comment(rec, now);
        let url = rec.issue_url.clone();
        match close_issue(client, n, &comment).await {
            Ok(()) => {
                out.actions.push(AlertAction { issue_number: Some(n), url, ..action(fp, "github", Action::Resolved) })
            }
            Err(e) => {
                state.pending_close.insert(fp.clone(), PendingClose { issue_number: n, comment });
                out.actions.push(AlertAction { issue_number: Some(n), url, ..failed(fp, "github", redact(e)) });
            }
        }
    }
}

fn resolved_comment(rec: &AlertRecord, now: DateTime<Utc>) -> String {
    let took = event::human_span((now - rec.first_seen).num_seconds().max(0) as u64);
    format!(
        "✅ Resolved after {took} (first seen {}, last seen {}).",
        rec.first_seen.format("%Y-%m-%d %H:%M UTC"),
        rec.last_seen.format("%Y-%m-%d %H:%M UTC")
    )
}

async fn open_issue(
    run: &AlertRun<'_>,
    cfg: &GithubAlerts,
    client: &github::Client,
    fp: &str,
    rec: &AlertRecord,
) -> Result<(github::Issue, Option<String>), String> {
    let body = issue_body(fp, rec, run, cfg.redact_targets);
    let t = title(rec);
    if cfg.reopen.as_deref() == Some("reopen") {
        let closed = client.list("closed", 5).await?;
        if let Some(old) = closed.iter().filter(|i| i.fingerprint().as_deref() == Some(fp)).max_by_key(|i| i.number) {
            let patch =
                github::IssuePatch { title: Some(&t), body: Some(&body), state: Some("open"), ..Default::default() };
            let issue = client.update(old.number, &patch).await?;
            client.set_severity_labels(old.number, rec.severity, &cfg.labels).await?;
            let text = untrusted::markdown(&run.redactor.redact_text(&rec.message), MAX_ISSUE_MESSAGE);
            client.comment(old.number, &format!("Reopened: {text}")).await?;
            return Ok((issue, None));
        }
    }
    let new = github::NewIssue {
        title: &t,
        body: &body,
        labels: github::labels_for(rec.severity, &cfg.labels),
        assignees: cfg.assignees.clone(),
    };
    client.create(&new).await
}

/// Closes as completed, then comments: a close that fails posts nothing, so its retry on
/// the next run does not comment twice.
async fn close_issue(client: &github::Client, n: u64, comment: &str) -> Result<(), String> {
    let patch = github::IssuePatch { state: Some("closed"), state_reason: Some("completed"), ..Default::default() };
    client.update(n, &patch).await?;
    client.comment(n, comment).await
}

/// After a create, close any newer duplicate an overlapping run made for the same fingerprint.
async fn dedupe_after_create(client: &github::Client, fp: &str, mine: u64) {
    let Ok(list) = client.list("open", 20).await else { return };
    let mut same: Vec<u64> = list.iter().filter(|i| i.fingerprint().as_deref() == Some(fp)).map(|i| i.number).collect();
    same.sort_unstable();
    if let Some(&keep) = same.first() {
        for n in same.into_iter().filter(|n| *n != keep && *n == mine) {
            let _ = client.comment(n, &format!("Duplicate of #{keep} (opened by an overlapping run).")).await;
            let patch =
                github::IssuePatch { state: Some("closed"), state_reason: Some("not_planned"), ..Default::default() };
            let _ = client.update(n, &patch).await;
        }
    }
}

/// `vaktpost test-alert`: a clearly marked message through each selected channel that is
/// configured. Returns (channel, Ok(what happened) | Err(why)) per channel.
pub async fn test_alert(run: &AlertRun<'_>, only: Option<&str>) -> Vec<(String, Result<String, String>)> {
    let now = run.ctx.now();
    let alerts = &run.config.alerts;
    let want = |c: &str| only.is_none_or(|o| o == "all" || o == c);
    let ev = AlertEvent {
        kind: EventKind::Test,
        fingerprint: "vaktpost/test_alert".into(),
        monitor: "vaktpost".into(),
        rule: "test_alert".into(),
        severity: Severity::Low,
        message: "This is a test alert from vaktpost. No action is needed.".into(),
        first_seen: now,
        resolved_at: None,
        issue_url: None,
        details: vec![],
    };
    let notice = Notice { events: vec![ev], run_url: run.ctx.run_url(), title: "vaktpost test alert".into() };
    let mut out = Vec::new();
    if let Some(cfg) = alerts.github.as_ref().filter(|g| g.enabled && want("github")) {
        let res = async {
            let client = github_client(run, cfg)?;
            let body = format!(
                "🧪 **Test alert from vaktpost.** No action is needed; this issue closes itself.\n\n{}",
                run.ctx.run_url().map(|u| format!("[Workflow run]({u})")).unwrap_or_default()
            );
            let (issue, _) = client
                .create(&github::NewIssue {
                    title: "🧪 vaktpost test alert",
                    body: &body,
                    labels: vec![github::LABEL.to_string()],
                    assignees: vec![],
                })
                .await?;
            close_issue(&client, issue.number, "Test alert delivered; closing.").await?;
            Ok(format!("opened and closed issue #{}", issue.number))
        }
        .await;
        out.push(("github".to_string(), res.map_err(|e: String| run.redactor.redact_text(&e))));
    }
    for (channel, on) in [
        ("slack", alerts.slack.as_ref().is_some_and(|s| s.enabled)),
        ("email", alerts.email.as_ref().is_some_and(|e| e.enabled)),
    ] {
        if on && want(channel) {
            let res = deliver::send(run, channel, &notice).await.map(|_| "sent".to_string());
            out.push((channel.to_string(), res.map_err(|e| run.redactor.redact_text(&e))));
        }
    }
    if let Some(h) = alerts.heartbeat.as_ref().filter(|_| want("heartbeat")) {
        let res =
            heartbeat::ping(&deliver::http_client(), &h.url, true, &run.waiter()).await.map(|_| "pinged".to_string());
        out.push(("heartbeat".to_string(), res.map_err(|e| run.redactor.redact_text(&e))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression: a 100 KB message or name made issue bodies pass GitHub's 65,536 characters.
    #[test]
    fn issue_bodies_stay_under_githubs_limit_and_keep_their_marker() {
        let marker = github::marker("api/endpoint_down");
        let b = bound_issue_body("é".repeat(200_000), &marker);
        assert!(b.chars().count() <= untrusted::MAX_ISSUE_BODY, "{}", b.chars().count());
        assert!(b.ends_with(&format!("{marker}\n")));
        assert_eq!(github::parse_marker(&b).as_deref(), Some("api/endpoint_down"));
        assert!(b.contains("Cut to stay under GitHub's issue size limit"));
        let small = bound_issue_body("short\n\n".into(), &marker);
        assert_eq!(small, format!("short\n\n{marker}\n"));
    }
}
