//! GitHub issues as alerts: one issue per alert, opened, updated, reminded and closed to
//! follow `state.alerts` (the issue calls are in [`api`], what the issues say in [`body`]).
//! The issue links are copied onto the events the other channels send, and the open
//! issues tell reconciliation about maintenance and about overlapping runs.

pub mod api;
pub mod body;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use api::{
    labels_for, marker, parse_marker, refusal, Client, Issue, IssueError, IssuePatch, Label, NewIssue, LABEL,
    MAINTENANCE_LABEL,
};
pub use body::{bound_issue_body, issue_body, redact_targets_in, severity_icon};
use body::{resolved_comment, title, MAX_ISSUE_MESSAGE};

use super::channel::{Channel, Sending};
use super::{action, event, failed, AlertRun, Reconciled};
use crate::config::{GithubAlerts, Severity};
use crate::report::{Action, AlertAction};
use crate::state::{AlertRecord, PendingClose, State};
use crate::untrusted;

/// Kept at their old paths: callers outside `alerts` reach the shared client through them.
pub use crate::github::{api_url, token, Pace};

/// Opens the GitHub side of a run: the client and the open `vaktpost` issues (they tell
/// reconciliation about maintenance and about issues an overlapping run opened). `None`
/// when GitHub is off, in a dry run, or unreachable (then a failed action says why).
pub(super) async fn connect(run: &AlertRun<'_>, actions: &mut Vec<AlertAction>) -> Option<(Client, Vec<Issue>)> {
    let cfg = run.config.alerts.github.as_ref().filter(|g| g.enabled)?;
    if run.dry_run {
        return None;
    }
    match github_client(run, cfg) {
        Ok(client) => match client.list("open", 20).await {
            Ok(open) => Some((client, open)),
            Err(e) => {
                actions.push(failed("*", "github", run.redactor.redact_text(&e.to_string())));
                None
            }
        },
        Err(e) => {
            actions.push(failed("*", "github", e.to_string()));
            None
        }
    }
}

/// Whether an open issue carries the maintenance label (suppresses every monitor).
pub(super) fn in_maintenance(open: &[Issue]) -> bool {
    open.iter().any(|i| i.has_label(MAINTENANCE_LABEL))
}

/// The GitHub issues channel's share of reconciliation: issues opened, updated, reminded
/// and closed to match `state.alerts` and what resolved ([`plan_issues`], then
/// [`execute`]); the issue links copied onto the events the other channels send. Without a
/// listing (GitHub unreachable) the issues of what resolved wait in `state.pending_close`;
/// in a dry run the actions say "not sent".
pub(super) async fn sync(
    run: &AlertRun<'_>,
    gh: Option<&(Client, Vec<Issue>)>,
    state: &mut State,
    resolved_records: &[(String, AlertRecord)],
    out: &mut Reconciled,
    now: DateTime<Utc>,
) {
    let gh_cfg = run.config.alerts.github.as_ref().filter(|g| g.enabled);
    if let (Some(cfg), Some((client, open))) = (gh_cfg, gh) {
        let ops = plan_issues(cfg, state, open, resolved_records, now);
        execute(run, cfg, client, ops, state, &mut out.actions, now).await;
        // Issue links for the other channels.
        for ev in out.opened.iter_mut() {
            ev.issue_url = state.alerts.get(&ev.fingerprint).and_then(|r| r.issue_url.clone());
        }
        for (ev, (_, rec)) in out.resolved.iter_mut().zip(resolved_records) {
            ev.issue_url = rec.issue_url.clone();
        }
        for ev in out.notices.iter_mut() {
            ev.issue_url = state.alerts.get(&ev.fingerprint).and_then(|r| r.issue_url.clone());
        }
    } else if gh_cfg.is_some() && !run.dry_run {
        // GitHub could not be listed this run: the issues of what resolved are closed by
        // the next run that reaches it, instead of staying open for good.
        for (fp, rec) in resolved_records {
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
}

fn github_client(run: &AlertRun<'_>, cfg: &GithubAlerts) -> Result<Client, IssueError> {
    let ctx = run.ctx;
    let token = token(ctx).ok_or_else(|| IssueError::Invalid(
        "alerts.github is on but no token is set; give the action `github_token` or set GITHUB_TOKEN (the job needs `permissions: issues: write`)".into(),
    ))?;
    let repo = cfg.repository.as_deref().or_else(|| ctx.var("GITHUB_REPOSITORY")).ok_or_else(|| {
        IssueError::Invalid(
            "alerts.github is on but the repository is unknown; set alerts.github.repository or GITHUB_REPOSITORY"
                .into(),
        )
    })?;
    Client::new(api_url(ctx), repo, token, Pace::of(ctx, run.deadline))
}

/// What the GitHub channel does this run, decided from the state and the listing of open
/// issues alone ([`plan_issues`]); [`execute`] makes the calls.
#[derive(Debug, Clone, PartialEq)]
pub enum IssueOp {
    /// An earlier resolution's issue could not be closed then: close it now.
    ClosePending { fp: String, number: u64, comment: String },
    /// A pending close that is moot: the alert is back, or a person closed the issue.
    DropPending { fp: String },
    /// An open alert, with its record as the listing leaves it (an issue found by its
    /// marker is adopted: opened by an overlapping run, or before a state loss), and
    /// what to do with its issue.
    Alert { fp: String, record: AlertRecord, then: AlertStep },
    /// Resolved, and its issue is still open: close as completed, then comment.
    Close { fp: String, number: u64, comment: String, url: Option<String> },
}

/// What an open alert's issue needs.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertStep {
    /// Nothing: the issue says what the alert says, or a person closed it while the problem
    /// goes on (that is respected: no reopen).
    Keep,
    /// No issue: open one, after looking for its marker once more (an overlapping run may
    /// have opened it since the listing), reopening the last closed one with `reopen: reopen`.
    Open,
    /// The severity or message changed: new title and body (and severity labels).
    Update { number: u64, severity_changed: bool },
    /// Unchanged but still failing after `remind_every`: a comment.
    Remind { number: u64 },
}

/// Decides, without I/O, what each issue needs: pending closes first, then every open
/// alert at or above `min_severity` (in fingerprint order), then what resolved.
pub fn plan_issues(
    cfg: &GithubAlerts,
    state: &State,
    open: &[Issue],
    resolved: &[(String, AlertRecord)],
    now: DateTime<Utc>,
) -> Vec<IssueOp> {
    let mut by_fp: BTreeMap<String, Vec<&Issue>> = BTreeMap::new();
    for i in open {
        if let Some(fp) = i.fingerprint() {
            by_fp.entry(fp).or_default().push(i);
        }
    }
    let mut ops = Vec::new();
    for (fp, pc) in &state.pending_close {
        // Back again, or closed by a person meanwhile: nothing left to close.
        if state.alerts.contains_key(fp) || !open.iter().any(|i| i.number == pc.issue_number) {
            ops.push(IssueOp::DropPending { fp: fp.clone() });
        } else {
            ops.push(IssueOp::ClosePending { fp: fp.clone(), number: pc.issue_number, comment: pc.comment.clone() });
        }
    }
    let min = cfg.min_severity.unwrap_or(Severity::Low);
    for (fp, rec) in state.alerts.iter().filter(|(_, r)| r.severity >= min) {
        let existing = by_fp.get(fp).and_then(|v| v.iter().min_by_key(|i| i.number)).copied();
        let mut record = rec.clone();
        let then = match (rec.issue_number, existing) {
            (_, Some(issue)) => {
                record.issue_number = Some(issue.number);
                record.issue_url = Some(issue.html_url.clone());
                if rec.issue_number.is_none() {
                    // Adopted: it shows this alert if its title does (else the next run updates it).
                    record.issue_severity = (issue.title == title(rec)).then_some(rec.severity);
                    record.issue_message = Some(rec.message.clone());
                    match record.issue_severity {
                        Some(_) => next_step(cfg, rec, &record, true, now),
                        None => AlertStep::Keep,
                    }
                } else {
                    next_step(cfg, rec, &record, true, now)
                }
            }
            (Some(_), None) => next_step(cfg, rec, &record, false, now),
            (None, None) => AlertStep::Open,
        };
        ops.push(IssueOp::Alert { fp: fp.clone(), record, then });
    }
    for (fp, rec) in resolved {
        let number = rec.issue_number.or_else(|| by_fp.get(fp).and_then(|v| v.first()).map(|i| i.number));
        let Some(n) = number else { continue };
        if by_fp.get(fp).is_none_or(|v| !v.iter().any(|i| i.number == n)) {
            continue; // already closed by someone
        }
        ops.push(IssueOp::Close {
            fp: fp.clone(),
            number: n,
            comment: resolved_comment(rec, now),
            url: rec.issue_url.clone(),
        });
    }
    ops
}

/// An issue's next step once it is known: update when the alert changed, remind when due.
/// `open_now`: the issue is in this run's listing of open issues.
fn next_step(
    cfg: &GithubAlerts,
    rec: &AlertRecord,
    shown: &AlertRecord,
    open_now: bool,
    now: DateTime<Utc>,
) -> AlertStep {
    let Some(number) = shown.issue_number.filter(|_| open_now) else { return AlertStep::Keep };
    let severity_changed = shown.issue_severity != Some(rec.severity);
    if severity_changed || shown.issue_message.as_deref() != Some(rec.message.as_str()) {
        return AlertStep::Update { number, severity_changed };
    }
    if reminder_due(cfg, rec, now) {
        return AlertStep::Remind { number };
    }
    AlertStep::Keep
}

fn reminder_due(cfg: &GithubAlerts, rec: &AlertRecord, now: DateTime<Utc>) -> bool {
    let Some(every) = cfg.remind_every else { return false };
    let last = rec.last_reminded_at.unwrap_or(rec.first_seen);
    (now - last).to_std().unwrap_or_default() >= every.get()
}

/// Carries out [`plan_issues`]'s operations in order: the GitHub calls, the records they
/// change (`state.alerts`, `state.pending_close`) and one action per alert for the report.
#[allow(clippy::too_many_arguments)]
async fn execute(
    run: &AlertRun<'_>,
    cfg: &GithubAlerts,
    client: &Client,
    ops: Vec<IssueOp>,
    state: &mut State,
    actions: &mut Vec<AlertAction>,
    now: DateTime<Utc>,
) {
    let redact = |e: IssueError| run.redactor.redact_text(&e.to_string());
    let mut fresh_list: Option<Vec<Issue>> = None;
    for op in ops {
        match op {
            IssueOp::DropPending { fp } => {
                state.pending_close.remove(&fp);
            }
            IssueOp::ClosePending { fp, number, comment } => match close_issue(client, number, &comment).await {
                Ok(()) => {
                    state.pending_close.remove(&fp);
                    actions.push(AlertAction { issue_number: Some(number), ..action(&fp, "github", Action::Resolved) });
                }
                Err(e) => actions.push(AlertAction { issue_number: Some(number), ..failed(&fp, "github", redact(e)) }),
            },
            IssueOp::Alert { fp, mut record, then } => {
                let Some(rec) = state.alerts.get(&fp).cloned() else { continue };
                let mut act = Action::Unchanged;
                let mut error = None;
                let mut then = then;
                if then == AlertStep::Open {
                    // Look for the marker again right before creating.
                    if fresh_list.is_none() {
                        fresh_list = client.list("open", 20).await.ok();
                    }
                    let found = fresh_list.as_ref().and_then(|l| {
                        l.iter().filter(|i| i.fingerprint().as_deref() == Some(fp.as_str())).min_by_key(|i| i.number)
                    });
                    then = AlertStep::Keep;
                    if let Some(issue) = found {
                        record.issue_number = Some(issue.number);
                        record.issue_url = Some(issue.html_url.clone());
                        record.issue_severity = Some(rec.severity);
                        record.issue_message = Some(rec.message.clone());
                        if reminder_due(cfg, &rec, now) {
                            then = AlertStep::Remind { number: issue.number };
                        }
                    } else {
                        match open_issue(run, cfg, client, &fp, &rec).await {
                            Ok((issue, warning)) => {
                                // Opened, with what GitHub refused (an assignee) to fix.
                                error = warning.map(|w| run.redactor.redact_text(&w));
                                record.issue_number = Some(issue.number);
                                record.issue_url = Some(issue.html_url.clone());
                                record.issue_severity = Some(rec.severity);
                                record.issue_message = Some(rec.message.clone());
                                record.last_reminded_at = Some(now);
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
                match then {
                    AlertStep::Keep | AlertStep::Open => {}
                    AlertStep::Update { number, severity_changed } => {
                        let body = issue_body(&fp, &rec, run, cfg.redact_targets);
                        let t = title(&rec);
                        // Title and body only: labels change through add/remove, so labels a
                        // person added (`acknowledged`, `vaktpost:maintenance`) stay.
                        let patch = IssuePatch { title: Some(&t), body: Some(&body), ..Default::default() };
                        let res = match client.update(number, &patch).await {
                            Ok(_) if severity_changed => {
                                client.set_severity_labels(number, rec.severity, &cfg.labels).await
                            }
                            Ok(_) => Ok(()),
                            Err(e) => Err(e),
                        };
                        match res {
                            Ok(()) => {
                                record.issue_severity = Some(rec.severity);
                                record.issue_message = Some(rec.message.clone());
                                act = Action::Updated;
                            }
                            Err(e) => {
                                act = Action::Failed;
                                error = Some(redact(e));
                            }
                        }
                    }
                    AlertStep::Remind { number } => {
                        let since = event::human_span((now - rec.first_seen).num_seconds().max(0) as u64);
                        let text = format!(
                            "Still failing after {since}: {}",
                            untrusted::markdown(&run.redactor.redact_text(&rec.message), MAX_ISSUE_MESSAGE)
                        );
                        match client.comment(number, &text).await {
                            Ok(()) => {
                                record.last_reminded_at = Some(now);
                                act = Action::Updated;
                            }
                            Err(e) => {
                                act = Action::Failed;
                                error = Some(redact(e));
                            }
                        }
                    }
                }
                actions.push(AlertAction {
                    issue_number: record.issue_number,
                    url: record.issue_url.clone(),
                    error,
                    ..action(&fp, "github", act)
                });
                state.alerts.insert(fp, record);
            }
            IssueOp::Close { fp, number, comment, url } => match close_issue(client, number, &comment).await {
                Ok(()) => actions.push(AlertAction {
                    issue_number: Some(number),
                    url,
                    ..action(&fp, "github", Action::Resolved)
                }),
                Err(e) => {
                    state.pending_close.insert(fp.clone(), PendingClose { issue_number: number, comment });
                    actions.push(AlertAction { issue_number: Some(number), url, ..failed(&fp, "github", redact(e)) });
                }
            },
        }
    }
}

async fn open_issue(
    run: &AlertRun<'_>,
    cfg: &GithubAlerts,
    client: &Client,
    fp: &str,
    rec: &AlertRecord,
) -> Result<(Issue, Option<String>), IssueError> {
    let body = issue_body(fp, rec, run, cfg.redact_targets);
    let t = title(rec);
    if cfg.reopen.as_deref() == Some("reopen") {
        let closed = client.list("closed", 5).await?;
        if let Some(old) = closed.iter().filter(|i| i.fingerprint().as_deref() == Some(fp)).max_by_key(|i| i.number) {
            let patch = IssuePatch { title: Some(&t), body: Some(&body), state: Some("open"), ..Default::default() };
            let issue = client.update(old.number, &patch).await?;
            client.set_severity_labels(old.number, rec.severity, &cfg.labels).await?;
            let text = untrusted::markdown(&run.redactor.redact_text(&rec.message), MAX_ISSUE_MESSAGE);
            client.comment(old.number, &format!("Reopened: {text}")).await?;
            return Ok((issue, None));
        }
    }
    let new = NewIssue {
        title: &t,
        body: &body,
        labels: labels_for(rec.severity, &cfg.labels),
        assignees: cfg.assignees.clone(),
    };
    client.create(&new).await
}

/// Closes as completed, then comments: a close that fails posts nothing, so its retry on
/// the next run does not comment twice.
async fn close_issue(client: &Client, n: u64, comment: &str) -> Result<(), IssueError> {
    let patch = IssuePatch { state: Some("closed"), state_reason: Some("completed"), ..Default::default() };
    client.update(n, &patch).await?;
    client.comment(n, comment).await
}

/// After a create, close any newer duplicate an overlapping run made for the same fingerprint.
async fn dedupe_after_create(client: &Client, fp: &str, mine: u64) {
    let Ok(list) = client.list("open", 20).await else { return };
    let mut same: Vec<u64> = list.iter().filter(|i| i.fingerprint().as_deref() == Some(fp)).map(|i| i.number).collect();
    same.sort_unstable();
    if let Some(&keep) = same.first() {
        for n in same.into_iter().filter(|n| *n != keep && *n == mine) {
            let _ = client.comment(n, &format!("Duplicate of #{keep} (opened by an overlapping run).")).await;
            let patch = IssuePatch { state: Some("closed"), state_reason: Some("not_planned"), ..Default::default() };
            let _ = client.update(n, &patch).await;
        }
    }
}

/// The GitHub issues channel. Issues follow each alert through [`sync`] during
/// reconciliation (they run before the notice channels, whose messages link them); as a
/// [`Channel`] it takes no events and answers `test-alert`.
pub struct Issues<'a>(pub &'a GithubAlerts);

impl Channel for Issues<'_> {
    fn name(&self) -> &'static str {
        "github"
    }

    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            let client = github_client(run, self.0)?;
            let body = format!(
                "🧪 **Test alert from vaktpost.** No action is needed; this issue closes itself.\n\n{}",
                run.ctx.run_url().map(|u| format!("[Workflow run]({u})")).unwrap_or_default()
            );
            let (issue, _) = client
                .create(&NewIssue {
                    title: "🧪 vaktpost test alert",
                    body: &body,
                    labels: vec![LABEL.to_string()],
                    assignees: vec![],
                })
                .await?;
            close_issue(&client, issue.number, "Test alert delivered; closing.").await?;
            Ok(format!("opened and closed issue #{}", issue.number))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> GithubAlerts {
        yaml_serde::from_str(yaml).unwrap()
    }

    fn record(sev: Severity, message: &str, issue: Option<u64>) -> AlertRecord {
        let t = "2026-11-30T10:00:00Z".parse().unwrap();
        AlertRecord {
            monitor: "api".into(),
            rule: "endpoint_down".into(),
            severity: sev,
            message: message.into(),
            first_seen: t,
            last_seen: t,
            issue_number: issue,
            issue_url: issue.map(|n| format!("https://github.com/acme/shop/issues/{n}")),
            issue_severity: issue.map(|_| sev),
            issue_message: issue.map(|_| message.to_string()),
            last_reminded_at: None,
            flapping: false,
            values: Default::default(),
        }
    }

    fn issue(number: u64, fp: &str, title: &str) -> Issue {
        Issue {
            number,
            title: title.into(),
            body: Some(format!("text\n\n{}\n", marker(fp))),
            state: "open".into(),
            labels: vec![],
            html_url: format!("https://github.com/acme/shop/issues/{number}"),
            pull_request: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    /// The channel's decisions are plain data: each case of an alert's issue, from the
    /// state and the listing alone.
    #[test]
    fn issue_plans_follow_the_alert_and_the_listing() {
        let fp = "api/endpoint_down";
        let c = cfg("{}");
        let mut st = State::default();
        // No issue anywhere: open one.
        st.alerts.insert(fp.into(), record(Severity::High, "down", None));
        let ops = plan_issues(&c, &st, &[], &[], now());
        assert!(matches!(&ops[..], [IssueOp::Alert { then: AlertStep::Open, .. }]), "{ops:?}");
        // An issue with its marker that the state does not know: adopted, nothing sent.
        let rec = &st.alerts[fp];
        let listed = [issue(7, fp, &title(rec)), issue(9, fp, "newer duplicate")];
        let ops = plan_issues(&c, &st, &listed, &[], now());
        match &ops[..] {
            [IssueOp::Alert { record, then: AlertStep::Keep, .. }] => {
                assert_eq!((record.issue_number, record.issue_severity), (Some(7), Some(Severity::High)));
            }
            other => panic!("{other:?}"),
        }
        // Its title differs: adopted as not showing the alert, so the next run updates it.
        let ops = plan_issues(&c, &st, &[issue(7, fp, "old title")], &[], now());
        assert!(
            matches!(&ops[..], [IssueOp::Alert { record, then: AlertStep::Keep, .. }] if record.issue_severity.is_none())
        );
        // Known issue, severity changed: update with labels; message only: update without.
        st.alerts
            .insert(fp.into(), AlertRecord { severity: Severity::Medium, ..record(Severity::High, "down", Some(7)) });
        let ops = plan_issues(&c, &st, &[issue(7, fp, "t")], &[], now());
        assert!(
            matches!(&ops[..], [IssueOp::Alert { then: AlertStep::Update { number: 7, severity_changed: true }, .. }]),
            "{ops:?}"
        );
        st.alerts
            .insert(fp.into(), AlertRecord { message: "still down".into(), ..record(Severity::High, "down", Some(7)) });
        let ops = plan_issues(&c, &st, &[issue(7, fp, "t")], &[], now());
        assert!(matches!(&ops[..], [IssueOp::Alert { then: AlertStep::Update { severity_changed: false, .. }, .. }]));
        // Closed by a person while the problem goes on: left alone, never reopened.
        let ops = plan_issues(&c, &st, &[], &[], now());
        assert!(matches!(&ops[..], [IssueOp::Alert { then: AlertStep::Keep, .. }]));
        // Unchanged: a reminder only when `remind_every` has passed.
        st.alerts.insert(fp.into(), record(Severity::High, "down", Some(7)));
        assert!(matches!(
            &plan_issues(&cfg("remind_every: 1h"), &st, &[issue(7, fp, "t")], &[], now())[..],
            [IssueOp::Alert { then: AlertStep::Remind { number: 7 }, .. }]
        ));
        assert!(matches!(
            &plan_issues(&cfg("remind_every: 3h"), &st, &[issue(7, fp, "t")], &[], now())[..],
            [IssueOp::Alert { then: AlertStep::Keep, .. }]
        ));
        // Under min_severity: no issue at all.
        assert!(plan_issues(
            &cfg("min_severity: high"),
            &State { alerts: [(fp.to_string(), record(Severity::Low, "x", None))].into(), ..State::default() },
            &[],
            &[],
            now()
        )
        .is_empty());
    }

    #[test]
    fn resolutions_close_open_issues_and_pending_closes_are_retried_or_dropped() {
        let fp = "api/endpoint_down";
        let c = cfg("{}");
        let st = State::default();
        let resolved = [(fp.to_string(), record(Severity::High, "down", Some(7)))];
        let ops = plan_issues(&c, &st, &[issue(7, fp, "t")], &resolved, now());
        match &ops[..] {
            [IssueOp::Close { number: 7, comment, .. }] => {
                assert!(comment.starts_with("✅ Resolved after 2h"), "{comment}")
            }
            other => panic!("{other:?}"),
        }
        // Already closed by someone: nothing to do.
        assert!(plan_issues(&c, &st, &[], &resolved, now()).is_empty());
        // A pending close is retried while its issue is open, dropped once it is closed or
        // the alert is back.
        let mut st = State::default();
        st.pending_close.insert(fp.into(), PendingClose { issue_number: 7, comment: "done".into() });
        assert!(matches!(
            &plan_issues(&c, &st, &[issue(7, fp, "t")], &[], now())[..],
            [IssueOp::ClosePending { number: 7, .. }]
        ));
        assert!(matches!(&plan_issues(&c, &st, &[], &[], now())[..], [IssueOp::DropPending { .. }]));
        st.alerts.insert(fp.into(), record(Severity::High, "down", Some(7)));
        assert!(matches!(&plan_issues(&c, &st, &[issue(7, fp, "t")], &[], now())[0], IssueOp::DropPending { .. }));
    }

    #[test]
    fn markers_round_trip() {
        let m = marker("api/endpoint_down");
        assert_eq!(m, "<!-- vaktpost:fingerprint=api/endpoint_down -->");
        assert_eq!(parse_marker(&format!("text\n\n{m}\n")), Some("api/endpoint_down".into()));
        assert_eq!(parse_marker(&marker("a--b/r")), Some("a--b/r".into()));
        assert_eq!(parse_marker("no marker"), None);
    }

    // Regression: a 100 KB message or name made issue bodies pass GitHub's 65,536 characters.
    #[test]
    fn issue_bodies_stay_under_githubs_limit_and_keep_their_marker() {
        let marker = marker("api/endpoint_down");
        let b = bound_issue_body("é".repeat(200_000), &marker);
        assert!(b.chars().count() <= untrusted::MAX_ISSUE_BODY, "{}", b.chars().count());
        assert!(b.ends_with(&format!("{marker}\n")));
        assert_eq!(parse_marker(&b).as_deref(), Some("api/endpoint_down"));
        assert!(b.contains("Cut to stay under GitHub's issue size limit"));
        let small = bound_issue_body("short\n\n".into(), &marker);
        assert_eq!(small, format!("short\n\n{marker}\n"));
    }
}
