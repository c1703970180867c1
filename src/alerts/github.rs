//! GitHub issues as alerts: the issue calls (list, create, update, labels, comments), the
//! marker that finds an alert's issue again, and what a refusal tells the user to fix.
//! Responses are read into the few fields we use, so GitHub Enterprise variations and
//! new fields never break parsing. Requests go through the shared REST client
//! ([`crate::github::request`]); a create is never retried blindly.

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::config::Severity;
use crate::untrusted;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::channel::{Channel, SendError, Sending};
use super::{action, event, failed, AlertRun, Reconciled};
use crate::config::GithubAlerts;
use crate::report::summary::{cell, code, code_cell};
use crate::report::{Action, AlertAction};
use crate::state::{AlertRecord, PendingClose, State};

/// Kept at their old paths: callers outside `alerts` reach the shared client through them.
pub use crate::github::{api_url, token, Pace};
use crate::github::{github_message, next_link, octocrab, request, Verb};

pub const LABEL: &str = "vaktpost";
pub const MAINTENANCE_LABEL: &str = "vaktpost:maintenance";
const MARKER_PREFIX: &str = "<!-- vaktpost:fingerprint=";

/// The hidden marker that finds an alert's issue again.
pub fn marker(fingerprint: &str) -> String {
    format!("{MARKER_PREFIX}{} -->", fingerprint.replace("--", "- -"))
}

/// The fingerprint in an issue body's marker, if any.
pub fn parse_marker(body: &str) -> Option<String> {
    let i = body.find(MARKER_PREFIX)? + MARKER_PREFIX.len();
    let rest = &body[i..];
    let end = rest.find(" -->")?;
    Some(rest[..end].replace("- -", "--"))
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub name: String,
}

/// The fields of GitHub's issue object that vaktpost reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    pub state: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    pub html_url: String,
    /// Present when the "issue" is a pull request (the issues API lists both).
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

impl Issue {
    pub fn fingerprint(&self) -> Option<String> {
        self.body.as_deref().and_then(parse_marker)
    }
    pub fn has_label(&self, l: &str) -> bool {
        self.labels.iter().any(|x| x.name.eq_ignore_ascii_case(l))
    }
}

#[derive(Debug, Serialize)]
pub struct NewIssue<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct IssuePatch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<&'a str>,
}

pub struct Client {
    octo: octocrab::Octocrab,
    api: String,
    repo: String,
    pace: Pace,
}

impl Client {
    pub fn new(api_url: &str, repo: &str, token: &str, pace: Pace) -> Result<Client, String> {
        let api = api_url.trim_end_matches('/').to_string();
        let octo = octocrab(&api, token)?;
        if !repo.contains('/') {
            return Err(format!("repository {repo:?} is not owner/name"));
        }
        Ok(Client { octo, api, repo: repo.to_string(), pace })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/repos/{}{path}", self.api, self.repo)
    }

    /// One request, waiting out rate limits while the deadline allows. GETs and PATCHes
    /// are retried on 5xx; POSTs are not (the caller looks for the marker first).
    async fn send(
        &self,
        verb: Verb,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, HeaderMap, String), String> {
        let (status, headers, text) = request(&self.octo, verb, url, body, &self.pace, false).await?;
        if status.is_success() {
            return Ok((status, headers, text));
        }
        Err(refusal(status, &text, &self.repo))
    }

    /// Issues with the `vaktpost` label (`state`: open, closed or all), pull requests left out.
    pub async fn list(&self, state: &str, max_pages: usize) -> Result<Vec<Issue>, String> {
        let mut out = Vec::new();
        let mut url =
            self.url(&format!("/issues?state={state}&labels={LABEL}&per_page=100&sort=created&direction=asc"));
        for _ in 0..max_pages {
            let (_, headers, text) = self.send(Verb::Get, &url, None).await?;
            let page: Vec<Issue> =
                serde_json::from_str(&text).map_err(|e| format!("unexpected issue list from GitHub: {e}"))?;
            out.extend(page.into_iter().filter(|i| i.pull_request.is_none()));
            match next_link(&headers) {
                Some(next) => url = next,
                None => break,
            }
        }
        Ok(out)
    }

    /// Opens an issue. When GitHub refuses an assignee (422, `assignees` invalid: not a
    /// collaborator, or a typo), the issue is opened without assignees, and the refusal is
    /// returned alongside so the report says so: an alert must not be lost to a typo.
    pub async fn create(&self, new: &NewIssue<'_>) -> Result<(Issue, Option<String>), String> {
        // Last guard on GitHub's limits; the callers already render within them.
        let (title, text) = (untrusted::issue_title(new.title), untrusted::bound(new.body, untrusted::MAX_ISSUE_BODY));
        let mut new =
            NewIssue { title: &title, body: &text, labels: new.labels.clone(), assignees: new.assignees.clone() };
        let mut warning = None;
        loop {
            let body = serde_json::to_value(&new).map_err(|e| e.to_string())?;
            let (status, _, text) =
                request(&self.octo, Verb::Post, &self.url("/issues"), Some(&body), &self.pace, false).await?;
            if status.is_success() {
                let issue =
                    serde_json::from_str(&text).map_err(|e| format!("unexpected answer to issue create: {e}"))?;
                return Ok((issue, warning));
            }
            // A 422 creates nothing, so trying again without assignees cannot duplicate.
            if status == StatusCode::UNPROCESSABLE_ENTITY
                && !new.assignees.is_empty()
                && invalid_field(&text, "assignees")
            {
                warning = Some(format!(
                    "opened without assignees: GitHub refused {} ({}); alerts.github.assignees must be GitHub logins with access to {}",
                    new.assignees.join(", "),
                    validation_detail(&text),
                    self.repo
                ));
                new.assignees.clear();
                continue;
            }
            return Err(refusal(status, &text, &self.repo));
        }
    }

    pub async fn update(&self, number: u64, patch: &IssuePatch<'_>) -> Result<Issue, String> {
        let title = patch.title.map(untrusted::issue_title);
        let text = patch.body.map(|b| untrusted::bound(b, untrusted::MAX_ISSUE_BODY));
        let patch = IssuePatch {
            title: title.as_deref(),
            body: text.as_deref(),
            labels: patch.labels.clone(),
            state: patch.state,
            state_reason: patch.state_reason,
        };
        let body = serde_json::to_value(&patch).map_err(|e| e.to_string())?;
        let (_, _, text) = self.send(Verb::Patch, &self.url(&format!("/issues/{number}")), Some(&body)).await?;
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer to issue update: {e}"))
    }

    /// Adds labels to an issue, keeping every label it has (GitHub's "add labels"; a
    /// PATCH with `labels` would replace the set and drop the labels people added).
    pub async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), String> {
        let body = serde_json::json!({ "labels": labels });
        self.send(Verb::Post, &self.url(&format!("/issues/{number}/labels")), Some(&body)).await.map(|_| ())
    }

    /// Removes one label from an issue; a label the issue does not have (404) is fine.
    pub async fn remove_label(&self, number: u64, name: &str) -> Result<(), String> {
        let enc = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
        let url = self.url(&format!("/issues/{number}/labels/{enc}"));
        let (status, _, text) = request(&self.octo, Verb::Delete, &url, None, &self.pace, false).await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(refusal(status, &text, &self.repo))
    }

    /// Brings an issue's severity label in line (`severity:<level>` of vaktpost and the
    /// configured labels), touching no other label.
    pub async fn set_severity_labels(&self, number: u64, severity: Severity, extra: &[String]) -> Result<(), String> {
        let want = labels_for(severity, extra);
        for level in [Severity::High, Severity::Medium, Severity::Low].into_iter().filter(|l| *l != severity) {
            self.remove_label(number, &format!("severity:{}", level.as_str())).await?;
        }
        self.add_labels(number, &want).await
    }

    pub async fn comment(&self, number: u64, text: &str) -> Result<(), String> {
        let body = serde_json::json!({ "body": untrusted::bound(text, untrusted::MAX_ISSUE_BODY) });
        self.send(Verb::Post, &self.url(&format!("/issues/{number}/comments")), Some(&body)).await.map(|_| ())
    }
}

/// A refused request as the report shows it: GitHub's status and message, and what to do.
pub fn refusal(status: StatusCode, body: &str, repo: &str) -> String {
    let message = github_message(body);
    let lower = message.to_ascii_lowercase();
    let hint = match status.as_u16() {
        401 => "; GitHub refused the token: check the action's `github_token` input (or GITHUB_TOKEN)".to_string(),
        403 if lower.contains("not accessible by integration") => format!(
            "; the workflow's token may not write issues in {repo}: give the job `permissions: issues: write` (for another repository, pass a token that can write its issues as `github_token`)"
        ),
        403 => format!("; check that the token may write issues in {repo} (`permissions: issues: write`)"),
        404 => format!(
            "; check alerts.github.repository (or GITHUB_REPOSITORY): {repo} does not exist or the token cannot see it"
        ),
        410 => format!(
            "; issues are disabled in {repo}: turn them on (Settings → General → Features → Issues) or set alerts.github.repository to a repository that has issues"
        ),
        422 => format!(" ({})", validation_detail(body)),
        _ => String::new(),
    };
    format!("GitHub answered HTTP {}: {message}{hint}", status.as_u16())
}

/// The `errors` of a 422 Validation Failed body, as `field: code` pairs.
fn validation_detail(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let parts: Vec<String> = v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let field = e["field"].as_str().unwrap_or("?");
                    let code = e["code"].as_str().unwrap_or("invalid");
                    match e["value"].as_str() {
                        Some(val) => format!("{field} {code}: {}", untrusted::bound(val, 100)),
                        None => format!("{field} {code}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if parts.is_empty() {
        "no details".into()
    } else {
        untrusted::bound(&parts.join("; "), 500)
    }
}

/// Whether a 422 body's `errors` name `field`.
fn invalid_field(body: &str, field: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    v["errors"].as_array().is_some_and(|a| a.iter().any(|e| e["field"].as_str() == Some(field)))
}

pub fn severity_icon(s: Severity) -> &'static str {
    match s {
        Severity::High => "🔴",
        Severity::Medium => "🟠",
        Severity::Low => "🔵",
    }
}

pub fn labels_for(severity: Severity, extra: &[String]) -> Vec<String> {
    let mut l = vec![LABEL.to_string(), format!("severity:{}", severity.as_str())];
    for e in extra {
        if !l.contains(e) {
            l.push(e.clone());
        }
    }
    l
}

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
                actions.push(failed("*", "github", run.redactor.redact_text(&e)));
                None
            }
        },
        Err(e) => {
            actions.push(failed("*", "github", e));
            None
        }
    }
}

/// Whether an open issue carries the maintenance label (suppresses every monitor).
pub(super) fn in_maintenance(open: &[Issue]) -> bool {
    open.iter().any(|i| i.has_label(MAINTENANCE_LABEL))
}

/// The GitHub issues channel's share of reconciliation: issues opened, updated, reminded
/// and closed to match `state.alerts` and what resolved; the issue links copied onto the
/// events the other channels send. Without a listing (GitHub unreachable) the issues of
/// what resolved wait in `state.pending_close`; in a dry run the actions say "not sent".
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
        sync_issues(run, cfg, client, open, state, resolved_records, out, now).await;
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

fn github_client(run: &AlertRun<'_>, cfg: &GithubAlerts) -> Result<Client, String> {
    let ctx = run.ctx;
    let token = token(ctx).ok_or(
        "alerts.github is on but no token is set; give the action `github_token` or set GITHUB_TOKEN (the job needs `permissions: issues: write`)",
    )?;
    let repo = cfg.repository.as_deref().or_else(|| ctx.var("GITHUB_REPOSITORY")).ok_or(
        "alerts.github is on but the repository is unknown; set alerts.github.repository or GITHUB_REPOSITORY",
    )?;
    Client::new(api_url(ctx), repo, token, Pace::of(ctx, run.deadline))
}

/// The issue title: one line, no control characters, within GitHub's 256 characters.
fn title(rec: &AlertRecord) -> String {
    untrusted::issue_title(&format!("{} {}: {}", severity_icon(rec.severity), rec.monitor, rec.message))
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
    bound_issue_body(b, &marker(fp))
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

/// Hostnames and URLs out of text, for issue bodies in public repositories (and the
/// status site).
pub fn redact_targets_in(text: &str, target: Option<&str>) -> String {
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
async fn sync_issues(
    run: &AlertRun<'_>,
    cfg: &GithubAlerts,
    client: &Client,
    open: &[Issue],
    state: &mut State,
    resolved: &[(String, AlertRecord)],
    out: &mut Reconciled,
    now: DateTime<Utc>,
) {
    let mut by_fp: BTreeMap<String, Vec<&Issue>> = BTreeMap::new();
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
    let mut fresh_list: Option<Vec<Issue>> = None;
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
                    let patch = IssuePatch { title: Some(&t), body: Some(&body), ..Default::default() };
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
    client: &Client,
    fp: &str,
    rec: &AlertRecord,
) -> Result<(Issue, Option<String>), String> {
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
async fn close_issue(client: &Client, n: u64, comment: &str) -> Result<(), String> {
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
/// reconciliation; as a [`Channel`] it takes no events and only answers `test-alert`.
pub struct Issues<'a>(pub &'a GithubAlerts);

impl Channel for Issues<'_> {
    fn name(&self) -> &'static str {
        "github"
    }

    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            let res = async {
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
            }
            .await;
            // The issue client's errors are text still; a test is re-run by hand.
            res.map_err(SendError::Rejected)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
