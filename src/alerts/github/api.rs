//! The GitHub issues API as vaktpost uses it: list, create, update, labels, comments; the
//! marker that finds an alert's issue again; and what a refusal tells the user to fix.
//! Responses are read into the few fields we use, so GitHub Enterprise variations and new
//! fields never break parsing. Requests go through the shared REST client
//! ([`crate::github::request`]); a create is never retried blindly.

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::config::Severity;
use crate::github::{github_message, next_link, octocrab, request, Pace, Verb};
use crate::untrusted;

/// Why an issue call failed, sorted by what a caller does about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// GitHub answered and refused: its status, its message and what to do.
    #[error("{message}")]
    Refused { status: u16, message: String },
    /// No usable answer: the connection, a timeout, a rate limit that would outlast the
    /// run's deadline. The next run may well get through.
    #[error("{0}")]
    Unreachable(String),
    /// A setting that cannot work (no repository, a malformed API URL), or an answer
    /// vaktpost could not read.
    #[error("{0}")]
    Invalid(String),
}

impl IssueError {
    /// Whether another attempt (in the next run) may succeed: no answer, a 5xx, a 429.
    pub fn is_retryable(&self) -> bool {
        match self {
            IssueError::Unreachable(_) => true,
            IssueError::Refused { status, .. } => *status >= 500 || *status == 429,
            IssueError::Invalid(_) => false,
        }
    }

    fn unexpected(what: &str, e: serde_json::Error) -> IssueError {
        IssueError::Invalid(format!("unexpected answer to {what} from GitHub: {e}"))
    }
}

impl From<IssueError> for super::super::SendError {
    fn from(e: IssueError) -> Self {
        if e.is_retryable() {
            super::super::SendError::Retryable(e.to_string())
        } else {
            super::super::SendError::Rejected(e.to_string())
        }
    }
}

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
    pub fn new(api_url: &str, repo: &str, token: &str, pace: Pace) -> Result<Client, IssueError> {
        let api = api_url.trim_end_matches('/').to_string();
        let octo = octocrab(&api, token).map_err(IssueError::Invalid)?;
        if !repo.contains('/') {
            return Err(IssueError::Invalid(format!("repository {repo:?} is not owner/name")));
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
    ) -> Result<(StatusCode, HeaderMap, String), IssueError> {
        let (status, headers, text) =
            request(&self.octo, verb, url, body, &self.pace, false).await.map_err(IssueError::Unreachable)?;
        if status.is_success() {
            return Ok((status, headers, text));
        }
        Err(refusal(status, &text, &self.repo))
    }

    /// Issues with the `vaktpost` label (`state`: open, closed or all), pull requests left out.
    pub async fn list(&self, state: &str, max_pages: usize) -> Result<Vec<Issue>, IssueError> {
        let mut out = Vec::new();
        let mut url =
            self.url(&format!("/issues?state={state}&labels={LABEL}&per_page=100&sort=created&direction=asc"));
        for _ in 0..max_pages {
            let (_, headers, text) = self.send(Verb::Get, &url, None).await?;
            let page: Vec<Issue> =
                serde_json::from_str(&text).map_err(|e| IssueError::unexpected("the issue list", e))?;
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
    pub async fn create(&self, new: &NewIssue<'_>) -> Result<(Issue, Option<String>), IssueError> {
        // Last guard on GitHub's limits; the callers already render within them.
        let (title, text) = (untrusted::issue_title(new.title), untrusted::bound(new.body, untrusted::MAX_ISSUE_BODY));
        let mut new =
            NewIssue { title: &title, body: &text, labels: new.labels.clone(), assignees: new.assignees.clone() };
        let mut warning = None;
        loop {
            let body = serde_json::to_value(&new).map_err(|e| IssueError::Invalid(e.to_string()))?;
            let (status, _, text) =
                request(&self.octo, Verb::Post, &self.url("/issues"), Some(&body), &self.pace, false)
                    .await
                    .map_err(IssueError::Unreachable)?;
            if status.is_success() {
                let issue = serde_json::from_str(&text).map_err(|e| IssueError::unexpected("an issue create", e))?;
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

    pub async fn update(&self, number: u64, patch: &IssuePatch<'_>) -> Result<Issue, IssueError> {
        let title = patch.title.map(untrusted::issue_title);
        let text = patch.body.map(|b| untrusted::bound(b, untrusted::MAX_ISSUE_BODY));
        let patch = IssuePatch {
            title: title.as_deref(),
            body: text.as_deref(),
            labels: patch.labels.clone(),
            state: patch.state,
            state_reason: patch.state_reason,
        };
        let body = serde_json::to_value(&patch).map_err(|e| IssueError::Invalid(e.to_string()))?;
        let (_, _, text) = self.send(Verb::Patch, &self.url(&format!("/issues/{number}")), Some(&body)).await?;
        serde_json::from_str(&text).map_err(|e| IssueError::unexpected("an issue update", e))
    }

    /// Adds labels to an issue, keeping every label it has (GitHub's "add labels"; a
    /// PATCH with `labels` would replace the set and drop the labels people added).
    pub async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), IssueError> {
        let body = serde_json::json!({ "labels": labels });
        self.send(Verb::Post, &self.url(&format!("/issues/{number}/labels")), Some(&body)).await.map(|_| ())
    }

    /// Removes one label from an issue; a label the issue does not have (404) is fine.
    pub async fn remove_label(&self, number: u64, name: &str) -> Result<(), IssueError> {
        let enc = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
        let url = self.url(&format!("/issues/{number}/labels/{enc}"));
        let (status, _, text) =
            request(&self.octo, Verb::Delete, &url, None, &self.pace, false).await.map_err(IssueError::Unreachable)?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(refusal(status, &text, &self.repo))
    }

    /// Brings an issue's severity label in line (`severity:<level>` of vaktpost and the
    /// configured labels), touching no other label.
    pub async fn set_severity_labels(
        &self,
        number: u64,
        severity: Severity,
        extra: &[String],
    ) -> Result<(), IssueError> {
        let want = labels_for(severity, extra);
        for level in [Severity::High, Severity::Medium, Severity::Low].into_iter().filter(|l| *l != severity) {
            self.remove_label(number, &format!("severity:{}", level.as_str())).await?;
        }
        self.add_labels(number, &want).await
    }

    pub async fn comment(&self, number: u64, text: &str) -> Result<(), IssueError> {
        let body = serde_json::json!({ "body": untrusted::bound(text, untrusted::MAX_ISSUE_BODY) });
        self.send(Verb::Post, &self.url(&format!("/issues/{number}/comments")), Some(&body)).await.map(|_| ())
    }
}

/// A refused request as the report shows it: GitHub's status and message, and what to do.
pub fn refusal(status: StatusCode, body: &str, repo: &str) -> IssueError {
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
    IssueError::Refused {
        status: status.as_u16(),
        message: format!("GitHub answered HTTP {}: {message}{hint}", status.as_u16()),
    }
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

pub fn labels_for(severity: Severity, extra: &[String]) -> Vec<String> {
    let mut l = vec![LABEL.to_string(), format!("severity:{}", severity.as_str())];
    for e in extra {
        if !l.contains(e) {
            l.push(e.clone());
        }
    }
    l
}
