//! GitHub issues as alerts, through octocrab (authenticated client, base URL, timeouts).
//! Responses are read into the few fields we use, so GitHub Enterprise variations and
//! new fields never break parsing. Every request honours GitHub's rate-limit headers
//! within the run's deadline; a create is never retried blindly.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::Severity;
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
    deadline: Instant,
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

/// One raw request, waiting out rate limits while `deadline` allows and retrying 5xx
/// (POSTs only when `retry_post`: the caller knows the POST is idempotent). The final
/// answer is returned whatever its status; `Err` means no usable answer.
pub async fn request(
    octo: &octocrab::Octocrab,
    verb: Verb,
    url: &str,
    body: Option<&serde_json::Value>,
    deadline: Instant,
    retry_post: bool,
) -> Result<(StatusCode, HeaderMap, String), String> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let res = match verb {
            Verb::Get => octo._get(url).await,
            Verb::Post => octo._post(url, body).await,
            Verb::Patch => octo._patch(url, body).await,
            Verb::Delete => octo._delete(url, body).await,
        };
        let resp = res.map_err(|e| format!("GitHub request failed: {}", octo_message(&e)))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = octo.body_to_string(resp).await.unwrap_or_default();
        if status.is_success() {
            return Ok((status, headers, text));
        }
        if let Some(wait) = rate_limit_wait(status, &headers, &text) {
            if Instant::now() + wait < deadline && attempt < 6 {
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(format!(
                "GitHub rate limit: HTTP {}; waiting {}s would pass the run's deadline",
                status.as_u16(),
                wait.as_secs()
            ));
        }
        if status.is_server_error() && (verb != Verb::Post || retry_post) && attempt < 3 {
            let wait = Duration::from_millis(500 * attempt as u64);
            if Instant::now() + wait < deadline {
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        return Ok((status, headers, text));
    }
}

impl Client {
    pub fn new(api_url: &str, repo: &str, token: &str, deadline: Instant) -> Result<Client, String> {
        let api = api_url.trim_end_matches('/').to_string();
        let octo = octocrab(&api, token)?;
        if !repo.contains('/') {
            return Err(format!("repository {repo:?} is not owner/name"));
        }
        Ok(Client { octo, api, repo: repo.to_string(), deadline })
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
        let (status, headers, text) = request(&self.octo, verb, url, body, self.deadline, false).await?;
        if status.is_success() {
            return Ok((status, headers, text));
        }
        Err(format!("GitHub answered HTTP {}: {}", status.as_u16(), github_message(&text)))
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

    pub async fn create(&self, new: &NewIssue<'_>) -> Result<Issue, String> {
        // Last guard on GitHub's limits; the callers already render within them.
        let (title, text) = (untrusted::issue_title(new.title), untrusted::bound(new.body, untrusted::MAX_ISSUE_BODY));
        let new = NewIssue { title: &title, body: &text, labels: new.labels.clone(), assignees: new.assignees.clone() };
        let body = serde_json::to_value(&new).map_err(|e| e.to_string())?;
        let (_, _, text) = self.send(Verb::Post, &self.url("/issues"), Some(&body)).await?;
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer to issue create: {e}"))
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
        let (status, _, text) = request(&self.octo, Verb::Delete, &url, None, self.deadline, false).await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(format!("GitHub answered HTTP {}: {}", status.as_u16(), github_message(&text)))
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

/// How long GitHub asks us to wait, if this response is a rate limit (primary or secondary).
pub fn rate_limit_wait(status: StatusCode, h: &HeaderMap, body: &str) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let num = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(s) = num("retry-after") {
        return Some(Duration::from_secs(s));
    }
    if num("x-ratelimit-remaining") == Some(0) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
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
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h, ""), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        h.insert("x-ratelimit-reset", (now + 3).to_string().parse().unwrap());
        let w = rate_limit_wait(StatusCode::FORBIDDEN, &h, "").unwrap();
        assert!(w.as_secs() >= 2 && w.as_secs() <= 3, "{w:?}");
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &HeaderMap::new(), "Resource not accessible"), None);
        assert_eq!(rate_limit_wait(StatusCode::NOT_FOUND, &h, ""), None);
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
