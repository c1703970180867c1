//! One JSON POST to a webhook-style service under the delivery retry policy, shared by
//! the webhook, Discord, Teams and PagerDuty channels (Slack keeps its own, with Slack's
//! error codes): 429 waits its `Retry-After` (up to a minute, never past the run's
//! deadline), 408, 5xx and lost connections back off and retry, any other answer is
//! final. Errors name the service and the setting, and never contain the URL or a token.

use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};

use super::channel::SendError;
use crate::config::Secret;
use crate::retry;

/// One request attempt (capped by the deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Error bodies are short JSON documents; read no more than this.
const MAX_ERROR_BODY: usize = 4096;
/// A service's waits are honoured up to a minute (never past the run's deadline).
const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

/// The retry policy of the webhook-style channels: [`retry::Policy::delivery`].
pub fn policy() -> retry::Policy {
    retry::Policy::delivery(MAX_SERVER_WAIT)
}

/// What to send, and how to speak of it.
pub struct Post<'a> {
    /// "Discord", "PagerDuty": how errors name the service.
    pub service: &'static str,
    /// The setting that holds the destination, named in errors.
    pub setting: &'static str,
    pub url: url::Url,
    /// Scrubbed from every error (with its path segments and query).
    pub secret: &'a Secret,
    pub body: Vec<u8>,
    /// Extra headers (a signature); `Content-Type` is JSON in UTF-8.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// An HTTP answer that was not a success, as a service's rejection message sees it.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    /// Up to 300 characters of the (scrubbed, one-line) body.
    pub text: String,
}

enum Attempt {
    Sent,
    Refused { status: u16, retry_after: Option<Duration>, text: String },
    Transport { text: String, retryable: bool },
    NoTime,
}

/// Posts `p` until it is accepted (any 2xx), a final refusal, or the policy or the
/// deadline ends it. `reject` turns a final 4xx into what to do about it.
pub async fn post(
    client: &reqwest::Client,
    p: &Post<'_>,
    waiter: &retry::Waiter,
    reject: &(dyn Fn(&Refusal) -> String + Sync),
) -> Result<(), SendError> {
    let attempt = |_| async move {
        let left = match waiter.left() {
            Some(d) if d.is_zero() => return Attempt::NoTime,
            Some(d) => REQUEST_TIMEOUT.min(d),
            None => REQUEST_TIMEOUT,
        };
        let mut req = client
            .post(p.url.clone())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(p.body.clone())
            .timeout(left);
        for (k, v) in &p.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => Attempt::Sent,
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = retry_after(resp.headers());
                let text = scrub(&error_body(resp).await, p.secret);
                Attempt::Refused { status, retry_after, text }
            }
            Err(e) => {
                let retryable = e.is_timeout() || e.is_connect();
                Attempt::Transport { text: scrub(&describe_error(e), p.secret), retryable }
            }
        }
    };
    let judge = |a: &Attempt| match a {
        Attempt::Refused { status, retry_after, .. } => retry::Next::for_status(*status, *retry_after),
        Attempt::Transport { retryable: true, .. } => retry::Next::Retry,
        _ => retry::Next::Done,
    };
    let out = retry::run(&policy(), waiter, attempt, judge).await;
    let service = p.service;
    let last = match out.value {
        Attempt::Sent => return Ok(()),
        Attempt::NoTime if out.attempts == 1 => {
            return Err(SendError::Retryable(format!("{service}: not sent, as the run's deadline had passed")))
        }
        Attempt::NoTime => "the run's deadline passed".to_string(),
        Attempt::Refused { status: 429, text, .. } => {
            format!("rate limited by {service} (HTTP 429{})", with_text(&text))
        }
        Attempt::Refused { status: status @ (408 | 500..=599), text, .. } => {
            format!("HTTP {status}{}", with_text(&text))
        }
        Attempt::Refused { status, text, .. } => return Err(SendError::Rejected(reject(&Refusal { status, text }))),
        Attempt::Transport { text, retryable: false } => {
            return Err(SendError::Rejected(format!("{service}: {text}; check {}", p.setting)))
        }
        Attempt::Transport { text, .. } => text,
    };
    Err(SendError::Retryable(match out.stop {
        retry::Stop::Deadline { .. } | retry::Stop::ServerWait { .. } => {
            format!("{service}: {last}{}", out.stop.clause())
        }
        _ => format!("{service}: not delivered after {} attempt(s); last: {last}", out.attempts),
    }))
}

/// `Retry-After` in whole seconds ([`retry::retry_after`]) or, as Discord sends it, in
/// fractional seconds (`0.5`), rounded up to the millisecond.
fn retry_after(h: &http::HeaderMap) -> Option<Duration> {
    retry::retry_after(h).or_else(|| {
        let v: f64 = h.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
        (0.0..86_400.0).contains(&v).then(|| Duration::from_millis((v * 1000.0).ceil() as u64))
    })
}

/// The destination of `secret` as an http(s) URL, or what to set.
pub fn endpoint(secret: &Secret, setting: &str, example: &str) -> Result<url::Url, SendError> {
    if secret.expose().trim().is_empty() {
        return Err(SendError::Rejected(format!("{setting} is empty; set it (for example from a repository secret)")));
    }
    crate::config::endpoints::parse_endpoint(secret, setting, example).map_err(SendError::Rejected)
}

pub(crate) fn with_text(t: &str) -> String {
    if t.is_empty() {
        String::new()
    } else {
        format!(": {t}")
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Up to [`MAX_ERROR_BODY`] bytes of an error response, read for at most 2 s.
pub(crate) async fn error_bytes(mut resp: reqwest::Response) -> Vec<u8> {
    let mut buf: Vec<u8> = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.extend_from_slice(&chunk);
            if buf.len() >= MAX_ERROR_BODY {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
    buf.truncate(MAX_ERROR_BODY);
    buf
}

/// [`error_bytes`], printable and on one line.
pub(crate) async fn error_body(resp: reqwest::Response) -> String {
    let buf = error_bytes(resp).await;
    let text: String = String::from_utf8_lossy(&buf).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    clip(&one_line(&text), 300)
}

/// A transport error as text, without the request URL (reqwest puts it in `Display`).
pub(crate) fn describe_error(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut parts: Vec<String> = Vec::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    if parts.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {}", parts.join(": "))
    }
}

/// Removes the secret URL, its path and its long path segments (webhook tokens) from `text`.
pub(crate) fn scrub(text: &str, secret: &Secret) -> String {
    let raw = secret.expose().trim();
    let mut needles: Vec<String> = vec![raw.to_string()];
    if let Ok(u) = url::Url::parse(raw) {
        needles.push(u.as_str().to_string());
        needles.push(u.path().to_string());
        if let Some(q) = u.query() {
            needles.push(q.to_string());
            needles.extend(q.split('&').filter_map(|kv| kv.split_once('=')).map(|(_, v)| v.to_string()));
        }
        needles.extend(u.path_segments().into_iter().flatten().map(str::to_string));
    }
    needles.retain(|n| n.len() >= 8);
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = text.to_string();
    for n in &needles {
        out = out.replace(n.as_str(), "***");
    }
    out
}

/// A JSON `{"message": …}`-style field of an error body, when it has one.
pub(crate) fn json_field(text: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_whole_and_fractional_seconds() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("0.25"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("NaN"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn scrub_removes_tokens_in_paths_and_queries() {
        let s = Secret::new("https://x.example/workflows/abc/invoke?api-version=1&sig=sekrit-signature-9");
        let t = scrub("bad sig sekrit-signature-9 for /workflows/abc/invoke", &s);
        assert!(!t.contains("sekrit") && !t.contains("/workflows/abc/invoke"), "{t}");
    }
}
