//! GitHub issues as alerts, through octocrab (authenticated client, base URL, timeouts).
//! Responses are read into the few fields we use, so GitHub Enterprise variations and
//! new fields never break parsing. Every request goes through [`retry::run`] with the
//! run's waiter: rate-limit headers are honoured within the run's deadline (the reset
//! measured on the run's clock); a create is never retried blindly.

use std::time::Duration;

use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::Severity;
use crate::context::{Clock, RunContext};
use crate::retry::{self, Next, Policy, Stop, Waiter};
use crate::untrusted;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

/// The token a run uses for GitHub (the action's `github_token` input, else `GITHUB_TOKEN`).
pub fn token(ctx: &crate::context::RunContext) -> Option<crate::config::Secret> {
    ctx.var("INPUT_GITHUB_TOKEN").or_else(|| ctx.var("GITHUB_TOKEN")).map(crate::config::Secret::new)
}

/// The REST API base URL (`GITHUB_API_URL`, set by Actions and by GitHub Enterprise runners).
pub fn api_url(ctx: &crate::context::RunContext) -> &str {
    ctx.var("GITHUB_API_URL").unwrap_or("https://api.github.com")
}

/// An authenticated octocrab client for raw requests, with the timeouts every caller uses.
pub fn octocrab(api_url: &str, token: &str) -> Result<octocrab::Octocrab, String> {
    octocrab::Octocrab::builder()
        .base_uri(api_url.trim_end_matches('/'))
        .map_err(|e| format!("invalid GitHub API URL: {e}"))?
        .personal_token(token.to_string())
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)))
        .build()
        .map_err(|e| format!("cannot build the GitHub client: {e}"))
}

/// How requests to GitHub wait: the run's [`Waiter`] (its sleep, deadline and seed) and
/// its clock, which `x-ratelimit-reset` (a Unix time) is measured against.
#[derive(Clone)]
pub struct Pace {
    pub waiter: Waiter,
    pub clock: Clock,
}

impl Pace {
    /// The run's sleep, seed and clock, waiting no later than `deadline`.
    pub fn of(ctx: &RunContext, deadline: Instant) -> Pace {
        Pace { waiter: ctx.waiter(Some(deadline.into_std())), clock: ctx.clock.clone() }
    }

    /// Real sleeps and the real clock, until `deadline`: for code outside a run.
    pub fn real(deadline: Instant) -> Pace {
        Pace { waiter: Waiter::real().until(deadline.into_std()), clock: Arc::new(chrono::Utc::now) }
    }
}

/// Attempts of one request: rate-limit waits and 5xx retries together.
pub const REQUEST_ATTEMPTS: u32 = 6;
/// Attempts of one request that keeps answering 5xx.
const SERVER_ERROR_ATTEMPTS: u32 = 3;

/// The retry policy of GitHub requests: 500 ms doubling backoff after a 5xx, and a rate
/// limit's wait honoured up to an hour (GitHub's primary window) — in practice the run's
/// deadline decides.
pub fn policy() -> Policy {
    Policy {
        attempts: REQUEST_ATTEMPTS,
        min_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(2),
        max_server_wait: Duration::from_secs(3600),
        jitter: false,
    }
}

/// One raw request through [`retry::run`]: rate limits are waited out while the deadline
/// allows, 5xx retried (POSTs only when `retry_post`: the caller knows the POST is
/// idempotent). The final answer is returned whatever its status; `Err` means no usable
/// answer (no connection, or a rate limit that could not be waited out).
pub async fn request(
    octo: &octocrab::Octocrab,
    verb: Verb,
    url: &str,
    body: Option<&serde_json::Value>,
    pace: &Pace,
    retry_post: bool,
) -> Result<(StatusCode, HeaderMap, String), String> {
    type Answer = Result<(StatusCode, HeaderMap, String), String>;
    let op = |attempt: u32| async move {
        let res = match verb {
            Verb::Get => octo._get(url).await,
            Verb::Post => octo._post(url, body).await,
            Verb::Patch => octo._patch(url, body).await,
            Verb::Delete => octo._delete(url, body).await,
        };
        let answer: Answer = match res {
            Ok(resp) => {
                let status = resp.status();
                let headers = resp.headers().clone();
                let text = octo.body_to_string(resp).await.unwrap_or_default();
                Ok((status, headers, text))
            }
            Err(e) => Err(format!("GitHub request failed: {}", octo_message(&e))),
        };
        (attempt, answer)
    };
    let now = || (pace.clock)().timestamp();
    let judge = |(attempt, a): &(u32, Answer)| match a {
        Ok((status, _, _)) if status.is_success() => Next::Done,
        Ok((status, h, text)) => match rate_limit_wait(*status, h, text, now()) {
            Some(wait) => Next::RetryAfter(wait),
            None if status.is_server_error()
                && (verb != Verb::Post || retry_post)
                && *attempt < SERVER_ERROR_ATTEMPTS =>
            {
                Next::Retry
            }
            None => Next::Done,
        },
        Err(_) => Next::Done,
    };
    let out = retry::run(&policy(), &pace.waiter, op, judge).await;
    let (_, answer) = out.value;
    let (status, headers, text) = answer?;
    if !status.is_success() && rate_limit_wait(status, &headers, &text, now()).is_some() {
        let why = match out.stop {
            Stop::Exhausted => format!("; still limited after {} attempts", out.attempts),
            s => s.clause(),
        };
        return Err(format!(
            "GitHub rate limit: HTTP {} ({}){why}; the next run tries again",
            status.as_u16(),
            github_message(&text)
        ));
    }
    Ok((status, headers, text))
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

fn octo_message(e: &octocrab::Error) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or(&s).to_string()
}

/// GitHub's `message` field of an error body, or the body's start.
pub fn github_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .map(|m| untrusted::bound(&m, 500))
        .unwrap_or_else(|| untrusted::bound(body, 200))
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

/// How long GitHub asks us to wait, if this response is a rate limit (primary or secondary).
/// `now` is the run's clock as Unix seconds (`x-ratelimit-reset` is a Unix time).
pub fn rate_limit_wait(status: StatusCode, h: &HeaderMap, body: &str, now: i64) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let num = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(s) = num("retry-after") {
        return Some(Duration::from_secs(s));
    }
    if num("x-ratelimit-remaining") == Some(0) {
        let now = now.max(0) as u64;
        let reset = num("x-ratelimit-reset").unwrap_or(now + 60);
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    if status == StatusCode::TOO_MANY_REQUESTS || body.to_ascii_lowercase().contains("secondary rate limit") {
        // GitHub's advice for secondary limits without retry-after: wait at least a minute.
        return Some(Duration::from_secs(60));
    }
    None
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(h: &HeaderMap) -> Option<String> {
    let link = h.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
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

    #[test]
    fn rate_limit_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h, "", 0), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        // The reset is measured against the run's clock, not the machine's.
        let now = 1_700_000_000i64;
        h.insert("x-ratelimit-reset", (now + 30).to_string().parse().unwrap());
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h, "", now), Some(Duration::from_secs(30)));
        assert_eq!(rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h, "", now + 40), Some(Duration::from_secs(1)));
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &HeaderMap::new(), "Resource not accessible", now), None);
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &HeaderMap::new(), "You have exceeded a secondary rate limit", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(rate_limit_wait(StatusCode::NOT_FOUND, &h, "", now), None);
    }

    #[test]
    fn link_header_next() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::LINK,
            "<https://api.github.com/repos/o/r/issues?page=2>; rel=\"next\", <https://api.github.com/repos/o/r/issues?page=5>; rel=\"last\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://api.github.com/repos/o/r/issues?page=2"));
    }
}
