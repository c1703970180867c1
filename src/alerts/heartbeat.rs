//! Heartbeat (dead man's switch): a ping at the end of every run, so that a workflow
//! that silently stops running — GitHub disables schedules in inactive repositories — is
//! noticed by a service elsewhere (healthchecks.io style: the URL on success, `/fail` on failure).

use std::time::Duration;

use super::channel::{Channel, SendError, Sending};
use super::post::{describe_error, scrub};
use super::AlertRun;
use crate::config::{Config, HeartbeatAlerts, Secret};
use crate::context::RunContext;
use crate::redact::Redactor;
use crate::report::{Action, AlertAction};
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
pub async fn ping(client: &reqwest::Client, url: &Secret, ok: bool, waiter: &retry::Waiter) -> Result<(), SendError> {
    let target = ping_url(url, ok).map_err(SendError::Rejected)?;
    // Ok(None): pinged; Ok(Some((status, retry_after))): refused; Err: no answer.
    type Attempt = Result<Option<(u16, Option<Duration>)>, NoAnswer>;
    let attempt = |_| {
        let target = target.clone();
        async move {
            let timeout = match waiter.left() {
                Some(d) if d.is_zero() => return Err(NoAnswer::NoTime),
                Some(d) => REQUEST_TIMEOUT.min(d),
                None => REQUEST_TIMEOUT,
            };
            match client.get(target).timeout(timeout).send().await {
                Ok(resp) if resp.status().is_success() => Ok(None),
                Ok(resp) => Ok(Some((resp.status().as_u16(), retry::retry_after(resp.headers())))),
                Err(e) => {
                    let retryable = e.is_timeout() || e.is_connect();
                    Err(NoAnswer::Transport { text: scrub(&describe_error(e), url), retryable })
                }
            }
        }
    };
    let judge = |a: &Attempt| match a {
        Ok(Some((status, retry_after))) => retry::Next::for_status(*status, *retry_after),
        Err(NoAnswer::Transport { retryable: true, .. }) => retry::Next::Retry,
        _ => retry::Next::Done,
    };
    let out = retry::run(&policy(), waiter, attempt, judge).await;
    let clause = out.stop.clause();
    match out.value {
        Ok(None) => Ok(()),
        Ok(Some((code, _))) if retry::Next::for_status(code, None) != retry::Next::Done => Err(SendError::Retryable(
            format!("heartbeat ping failed: HTTP {code} after {} attempt(s){clause}", out.attempts),
        )),
        Ok(Some((code, _))) => {
            Err(SendError::Rejected(format!("heartbeat ping was refused: HTTP {code}; check alerts.heartbeat.url")))
        }
        Err(NoAnswer::NoTime) => Err(SendError::Retryable(format!(
            "heartbeat ping failed: no attempt made before the run's deadline{clause}"
        ))),
        Err(NoAnswer::Transport { text, retryable: true }) => {
            Err(SendError::Retryable(format!("heartbeat ping failed: {text}{clause}")))
        }
        Err(NoAnswer::Transport { text, retryable: false }) => {
            Err(SendError::Rejected(format!("heartbeat ping failed: {text}{clause}")))
        }
    }
}

/// An attempt without an HTTP answer.
enum NoAnswer {
    /// The run's deadline passed before it could start.
    NoTime,
    /// The (scrubbed) reason, and whether another attempt could help (timeout, connect).
    Transport { text: String, retryable: bool },
}

/// The heartbeat channel: it takes no events; [`beat`] pings once per run.
pub struct Heartbeat<'a>(pub &'a HeartbeatAlerts);

impl Channel for Heartbeat<'_> {
    fn name(&self) -> &'static str {
        "heartbeat"
    }

    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            ping(&super::deliver::http_client(), &self.0.url, true, &run.waiter()).await.map(|_| "pinged".to_string())
        })
    }
}

/// Dead man's switch: the ping after every (non-dry) run, `/fail` when the run is not
/// `ok` (its gate tripped). `None` when no heartbeat is configured or this is a dry run.
pub async fn beat(
    ctx: &RunContext,
    config: &Config,
    redactor: &Redactor,
    dry_run: bool,
    ok: bool,
    deadline: tokio::time::Instant,
) -> Option<AlertAction> {
    let (Some(h), false) = (&config.alerts.heartbeat, dry_run) else { return None };
    let waiter = ctx.waiter(Some(deadline.into_std()));
    let res = ping(&super::deliver::http_client(), &h.url, ok, &waiter).await;
    Some(AlertAction {
        fingerprint: "*".into(),
        channel: "heartbeat".into(),
        action: if res.is_ok() { Action::Updated } else { Action::Failed },
        issue_number: None,
        url: None,
        error: res.err().map(|e| redactor.redact_text(e.message())),
    })
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
