//! Heartbeat (dead man's switch): a ping at the end of every run, so that a workflow
//! that silently stops running — GitHub disables schedules in inactive repositories — is
//! noticed by a service elsewhere (healthchecks.io style: the URL on success, `/fail` on failure).

use std::time::Duration;

use tokio::time::Instant;

use super::slack::{describe_error, parse_endpoint, scrub};
use crate::config::Secret;

/// One request attempt (capped by the deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A ping is cheap and late is still useful, but it must not hold the run up for long.
const MAX_ATTEMPTS: u32 = 3;

/// The URL to ping: `url` itself when the run went well, else `url` with `/fail` appended
/// to its path (a trailing slash is dropped first; the query string and fragment stay):
/// `https://hc-ping.com/uuid?x=1` → `https://hc-ping.com/uuid/fail?x=1`.
pub fn ping_url(url: &Secret, ok: bool) -> Result<reqwest::Url, String> {
    let mut u = parse_endpoint(url, "alerts.heartbeat.url", "https://hc-ping.com/<uuid>")?;
    if !ok {
        let path = format!("{}/fail", u.path().trim_end_matches('/'));
        u.set_path(&path);
    }
    Ok(u)
}

/// Pings the heartbeat URL (`GET`), retrying briefly on 5xx, 408, 429, connection
/// failures and timeouts, never past `deadline`. Errors never contain the URL.
pub async fn ping(client: &reqwest::Client, url: &Secret, ok: bool, deadline: Instant) -> Result<(), String> {
    let target = ping_url(url, ok)?;
    let mut last = String::from("no attempt made before the run's deadline");
    for attempt in 1..=MAX_ATTEMPTS {
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            break;
        };
        let sent = client.get(target.clone()).timeout(REQUEST_TIMEOUT.min(left)).send().await;
        match sent {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let code = resp.status().as_u16();
                last = format!("HTTP {code}");
                if !matches!(code, 408 | 429 | 500..=599) {
                    return Err(format!("heartbeat ping was refused: {last}; check alerts.heartbeat.url"));
                }
            }
            Err(e) => {
                let retryable = e.is_timeout() || e.is_connect();
                last = scrub(&describe_error(e), url);
                if !retryable {
                    return Err(format!("heartbeat ping failed: {last}"));
                }
            }
        }
        if attempt == MAX_ATTEMPTS {
            break;
        }
        let wait = Duration::from_millis(300 << attempt);
        if Instant::now() + wait >= deadline {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    Err(format!("heartbeat ping failed: {last}"))
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
