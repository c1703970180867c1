//! Heartbeat (dead man's switch): a ping at the end of every run, so that a workflow
//! that silently stops running — GitHub disables schedules in inactive repositories — is
//! noticed by a service elsewhere (healthchecks.io style: the URL on success, `/fail` on failure).

use std::time::Duration;

use super::slack::{describe_error, scrub};
use crate::config::Secret;
use crate::retry;

/// One request attempt (capped by the deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub use crate::config::endpoints::ping_url;

/// A ping is cheap and late is still useful, but it must not hold the run up for long:
/// the delivery policy with 3 attempts, a server's wait up to 10 s.
pub fn policy() -> retry::Policy {
    retry::Policy::delivery(Duration::from_secs(10)).attempts(3)
}

/// Pings the heartbeat URL (`GET`), retrying per [`policy`] on 5xx, 408, 429 (after its
/// `Retry-After`), connection failures and timeouts, through `waiter` and never past its
/// deadline. Errors never contain the URL.
pub async fn ping(client: &reqwest::Client, url: &Secret, ok: bool, waiter: &retry::Waiter) -> Result<(), String> {
    let target = ping_url(url, ok)?;
    // Ok(None): pinged; Ok(Some((status, retry_after))): refused; Err((text, retryable)).
    type Attempt = Result<Option<(u16, Option<Duration>)>, (String, bool)>;
    let attempt = |_| {
        let target = target.clone();
        async move {
            let timeout = match waiter.left() {
                Some(d) if d.is_zero() => return Err(("no attempt made before the run's deadline".to_string(), false)),
                Some(d) => REQUEST_TIMEOUT.min(d),
                None => REQUEST_TIMEOUT,
            };
            match client.get(target).timeout(timeout).send().await {
                Ok(resp) if resp.status().is_success() => Ok(None),
                Ok(resp) => Ok(Some((resp.status().as_u16(), retry::retry_after(resp.headers())))),
                Err(e) => {
                    let retryable = e.is_timeout() || e.is_connect();
                    Err((scrub(&describe_error(e), url), retryable))
                }
            }
        }
    };
    let judge = |a: &Attempt| match a {
        Ok(Some((429, Some(w)))) => retry::Next::RetryAfter(*w),
        Ok(Some((408 | 429 | 500..=599, _))) | Err((_, true)) => retry::Next::Retry,
        _ => retry::Next::Done,
    };
    let out = retry::run(&policy(), waiter, attempt, judge).await;
    match out.value {
        Ok(None) => Ok(()),
        Ok(Some((code @ (408 | 429 | 500..=599), _))) => {
            Err(format!("heartbeat ping failed: HTTP {code} after {} attempt(s){}", out.attempts, out.stop.clause()))
        }
        Ok(Some((code, _))) => Err(format!("heartbeat ping was refused: HTTP {code}; check alerts.heartbeat.url")),
        Err((text, _)) => Err(format!("heartbeat ping failed: {text}{}", out.stop.clause())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(u: &str) -> String {
        ping_url(&Secret::new(u), false).map(|u| u.to_string()).unwrap_or_else(|e| e)
    }

    #[test]
    fn fail_suffix_goes_on_the_path() {
        assert_eq!(fail("https://hc-ping.com/uuid"), "https://hc-ping.com/uuid/fail");
        assert_eq!(fail("https://hc-ping.com/uuid/"), "https://hc-ping.com/uuid/fail");
        assert_eq!(fail("https://hc-ping.com/uuid?x=1"), "https://hc-ping.com/uuid/fail?x=1");
        assert_eq!(fail("https://hc-ping.com/uuid/?x=1#f"), "https://hc-ping.com/uuid/fail?x=1#f");
        assert_eq!(fail("https://example.com"), "https://example.com/fail");
        let ok = ping_url(&Secret::new("https://hc-ping.com/uuid?x=1"), true).map(|u| u.to_string());
        assert_eq!(ok.as_deref(), Ok("https://hc-ping.com/uuid?x=1"));
    }

    #[test]
    fn a_bad_url_is_named_by_setting_not_value() {
        let e = fail("ftp://secret-host/x");
        assert!(e.contains("alerts.heartbeat.url") && !e.contains("secret-host"), "{e}");
    }
}
