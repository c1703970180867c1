//! The GitHub REST client every GitHub caller shares: the alert issues (`alerts::github`)
//! and the data branch (`state::github_branch`). One request function through
//! [`retry::run`] with the run's waiter: rate-limit headers are honoured within the run's
//! deadline (the reset measured on the run's clock), 5xx retried, a POST only when the
//! caller says it is idempotent. A leaf: it imports only `context`, `retry` and `untrusted`.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use crate::context::{Clock, RunContext};
use crate::retry::{self, Next, Policy, Stop, Waiter};
use crate::untrusted;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Patch,
    Delete,
}

/// The token a run uses for GitHub (the action's `github_token` input, else `GITHUB_TOKEN`).
pub fn token(ctx: &RunContext) -> Option<&str> {
    ctx.var("INPUT_GITHUB_TOKEN").or_else(|| ctx.var("GITHUB_TOKEN"))
}

/// The REST API base URL (`GITHUB_API_URL`, set by Actions and by GitHub Enterprise runners).
pub fn api_url(ctx: &RunContext) -> &str {
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
    /// Where the rate limit of each answer is recorded (the run's
    /// [`RunContext::github_rate`]).
    pub rate: Arc<std::sync::Mutex<Option<(u64, u64)>>>,
}

impl Pace {
    /// The run's sleep, seed and clock, waiting no later than `deadline`.
    pub fn of(ctx: &RunContext, deadline: Instant) -> Pace {
        Pace { waiter: ctx.waiter(Some(deadline.into_std())), clock: ctx.clock.clone(), rate: ctx.github_rate.clone() }
    }

    /// Real sleeps and the real clock, until `deadline`: for code outside a run.
    pub fn real(deadline: Instant) -> Pace {
        Pace {
            waiter: Waiter::real().until(deadline.into_std()),
            clock: Arc::new(chrono::Utc::now),
            rate: Default::default(),
        }
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
                if let Some(seen) = rate_limit_seen(&headers) {
                    if let Ok(mut g) = pace.rate.lock() {
                        *g = Some(seen);
                    }
                }
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

/// `x-ratelimit-remaining` and `x-ratelimit-limit` of an answer, when it has both.
pub fn rate_limit_seen(h: &HeaderMap) -> Option<(u64, u64)> {
    let num = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    Some((num("x-ratelimit-remaining")?, num("x-ratelimit-limit")?))
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(h: &HeaderMap) -> Option<String> {
    let link = h.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
