//! Slack incoming-webhook channel: one Block Kit message per notice (what opened, or what
//! resolved, in one run), coloured by severity, with a plain-text fallback. Rendering
//! ([`payload`]) is apart from delivery ([`send`]) so it is checked without a network.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use super::channel::{self, Channel, SendError, Sending};
use super::event::{AlertEvent, EventKind, Notice};
use super::post::{clip, describe_error, error_body, one_line, scrub, with_text};
use super::AlertRun;
use crate::config::{Secret, Severity, SlackAlerts};
use crate::{retry, untrusted};

/// Slack's documented limits: blocks per message, characters of a section's text, of a
/// header's text, and of the top-level `text`.
pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_CHARS: usize = 3000;
pub const MAX_HEADER_CHARS: usize = 150;
pub const MAX_TEXT_CHARS: usize = 4000;
/// Details listed per event, and the longest detail value and error shown in one.
const MAX_DETAILS: usize = 16;
const MAX_DETAIL: usize = 200;
const MAX_ERROR_DETAIL: usize = 1000;
/// The fallback text's first line (a one-event headline carries the monitor and message).
const MAX_FALLBACK_HEADLINE: usize = 300;

pub const COLOR_HIGH: &str = "#d73a49";
pub const COLOR_MEDIUM: &str = "#fb8500";
pub const COLOR_LOW: &str = "#0366d6";
pub const COLOR_RESOLVED: &str = "#28a745";
pub const COLOR_TEST: &str = "#8b949e";

/// What marks a test message, in the header and the fallback text.
pub const TEST_BANNER: &str = "🧪 TEST — vaktpost test alert, no action needed";

/// One request attempt (capped by the deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One attempt's outcome.
enum Attempt {
    Sent,
    /// An HTTP answer other than 2xx: status, `Retry-After`, Slack's (scrubbed) body.
    Refused {
        status: u16,
        retry_after: Option<Duration>,
        text: String,
    },
    /// No answer: the (scrubbed) reason and whether another attempt could help.
    Transport {
        text: String,
        retryable: bool,
    },
    /// The run's deadline passed before this attempt could start.
    NoTime,
}

/// Slack's waits honoured up to a minute (never past the run's deadline).
const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

/// The retry policy of the Slack channel: [`retry::Policy::delivery`] (6 attempts).
pub fn policy() -> retry::Policy {
    retry::Policy::delivery(MAX_SERVER_WAIT)
}

/// Posts `notice` to the webhook as one message. Retries 429 (after its `Retry-After`),
/// 408, 5xx and connection failures per [`policy`], through `waiter` and never past its
/// deadline; any other 4xx fails at once with Slack's error code and what to do about it.
/// Errors never contain the webhook URL.
pub async fn send(
    client: &reqwest::Client,
    webhook_url: &Secret,
    notice: &Notice,
    waiter: &retry::Waiter,
) -> Result<(), SendError> {
    if notice.events.is_empty() {
        return Ok(());
    }
    let url = parse_endpoint(webhook_url, "alerts.slack.webhook_url", "https://hooks.slack.com/services/…")
        .map_err(SendError::Rejected)?;
    let body = serde_json::to_vec(&payload(notice))
        .map_err(|e| SendError::Rejected(format!("Slack: cannot encode the message: {e}")))?;
    let attempt = |_| {
        let (url, body) = (url.clone(), body.clone());
        async move {
            let left = match waiter.left() {
                Some(d) if d.is_zero() => return Attempt::NoTime,
                Some(d) => REQUEST_TIMEOUT.min(d),
                None => REQUEST_TIMEOUT,
            };
            let sent = client
                .post(url)
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(body)
                .timeout(left)
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => Attempt::Sent,
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = retry::retry_after(resp.headers());
                    let text = scrub(&error_body(resp).await, webhook_url);
                    Attempt::Refused { status, retry_after, text }
                }
                Err(e) => {
                    let retryable = e.is_timeout() || e.is_connect();
                    Attempt::Transport { text: scrub(&describe_error(e), webhook_url), retryable }
                }
            }
        }
    };
    let judge = |a: &Attempt| match a {
        Attempt::Refused { status, retry_after, .. } => retry::Next::for_status(*status, *retry_after),
        Attempt::Transport { retryable: true, .. } => retry::Next::Retry,
        _ => retry::Next::Done,
    };
    let out = retry::run(&policy(), waiter, attempt, judge).await;
    let last = match out.value {
        Attempt::Sent => return Ok(()),
        Attempt::NoTime if out.attempts == 1 => {
            return Err(SendError::Retryable("Slack: not sent, as the run's deadline had passed".into()))
        }
        Attempt::NoTime => "the run's deadline passed".to_string(),
        Attempt::Refused { status: 429, text, .. } => format!("rate limited by Slack (HTTP 429{})", with_text(&text)),
        Attempt::Refused { status: status @ (408 | 500..=599), text, .. } => {
            format!("HTTP {status}{}", with_text(&text))
        }
        Attempt::Refused { status, text, .. } => return Err(SendError::Rejected(rejection(status, &text))),
        Attempt::Transport { text, retryable: false } => return Err(SendError::Rejected(format!("Slack: {text}"))),
        Attempt::Transport { text, .. } => text,
    };
    Err(SendError::Retryable(match out.stop {
        retry::Stop::Deadline { .. } | retry::Stop::ServerWait { .. } => format!("Slack: {last}{}", out.stop.clause()),
        _ => format!("Slack: not delivered after {} attempt(s); last: {last}", out.attempts),
    }))
}

/// The Slack channel: one incoming webhook, events at or above `min_severity`.
pub struct Slack<'a>(pub &'a SlackAlerts);

impl Slack<'_> {
    fn post<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        Box::pin(async move {
            let url = self.0.webhook_url.as_ref().ok_or_else(|| {
                SendError::Rejected("alerts.slack.webhook_url is not set (or SLACK_WEBHOOK_URL)".into())
            })?;
            send(&super::deliver::http_client(), url, notice, &run.waiter()).await
        })
    }
}

impl Channel for Slack<'_> {
    fn name(&self) -> &'static str {
        "slack"
    }

    /// None without a webhook: there is nowhere to send, and nothing is queued for it.
    fn min_severity(&self) -> Option<Severity> {
        self.0.webhook_url.as_ref().map(|_| self.0.min_severity.unwrap_or(Severity::Low))
    }

    fn open<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        self.post(run, notice)
    }

    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            let notice = channel::test_notice(run);
            self.post(run, &notice).await.map(|_| "sent".to_string())
        })
    }
}

/// The error for a 4xx that is not retried: Slack's code and what the user can do.
/// Codes from Slack's incoming-webhook errors (400 `invalid_payload`/`invalid_blocks`,
/// 403 `action_prohibited`, 404 `channel_not_found`/`no_service`, 410 `channel_is_archived`).
pub fn rejection(status: u16, text: &str) -> String {
    let code = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
    let todo = match code {
        "invalid_payload" | "invalid_blocks" | "invalid_blocks_format" | "invalid_attachments"
        | "too_many_attachments" | "missing_text_or_fallback_or_attachments" => {
            "Slack could not accept the message vaktpost built; this is a vaktpost bug: please report it with this error (the alert stays pending)"
        }
        "action_prohibited" => {
            "the workspace restricts posting through this webhook; ask a Slack admin to allow the app, or create a new incoming webhook and set it in alerts.slack.webhook_url (SLACK_WEBHOOK_URL)"
        }
        "channel_not_found" => {
            "the webhook's channel no longer exists; create an incoming webhook for a live channel and set it in alerts.slack.webhook_url (SLACK_WEBHOOK_URL)"
        }
        "channel_is_archived" => {
            "the webhook's channel is archived; unarchive it, or point the webhook at a live channel (a new incoming webhook in alerts.slack.webhook_url / SLACK_WEBHOOK_URL)"
        }
        "no_service" | "no_team" | "invalid_token" => {
            "the webhook was revoked or never existed; create a new incoming webhook and set it in alerts.slack.webhook_url (SLACK_WEBHOOK_URL)"
        }
        "user_not_found" => "the webhook's user does not exist; create a new incoming webhook",
        _ => "check alerts.slack.webhook_url (SLACK_WEBHOOK_URL)",
    };
    format!("Slack rejected the message (HTTP {status}{}), not retried: {todo}", with_text(text))
}

/// The message for `notice`: a header block, then an attachment (for its colour bar) with
/// one section per event, "…and N more" when they do not fit, and a footer with the run link.
pub fn payload(notice: &Notice) -> Value {
    let header = json!({
        "type": "header",
        "text": {"type": "plain_text", "text": clip(&headline(notice), MAX_HEADER_CHARS), "emoji": true}
    });
    let footer = footer(notice);
    // Header and footer take two of the 50 blocks.
    let room = MAX_BLOCKS - 2;
    let n = notice.events.len();
    let shown = if n <= room { n } else { room - 1 };
    let mut blocks: Vec<Value> = notice.events[..shown].iter().map(section).collect();
    if shown < n {
        blocks.push(mrkdwn_section(format!("…and {} more", n - shown)));
    }
    blocks.push(footer);
    json!({
        "text": fallback_text(notice),
        "blocks": [header],
        "attachments": [{"color": color(notice), "blocks": blocks}],
    })
}

/// The colour bar: the highest severity that opened; green when everything resolved;
/// grey for a test.
pub fn color(notice: &Notice) -> &'static str {
    let opened = notice.events.iter().filter(|e| e.kind == EventKind::Opened).map(|e| e.severity).max();
    match opened {
        Some(Severity::High) => COLOR_HIGH,
        Some(Severity::Medium) => COLOR_MEDIUM,
        Some(Severity::Low) => COLOR_LOW,
        None if notice.events.iter().any(|e| e.kind == EventKind::Resolved) => COLOR_RESOLVED,
        None => COLOR_TEST,
    }
}

pub fn severity_emoji(s: Severity) -> &'static str {
    match s {
        Severity::High => "🔴",
        Severity::Medium => "🟠",
        Severity::Low => "🔵",
    }
}

/// Escapes the three characters Slack's mrkdwn treats as control characters
/// ([`untrusted::slack`], unbounded: for text that is ours or already bounded).
pub fn escape(s: &str) -> String {
    untrusted::slack(s, usize::MAX)
}

/// `<url|text>` for an http(s) URL, with the text escaped; `None` for anything else, so a
/// malformed URL never breaks the markup.
pub fn link(url: &str, text: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let href = u.as_str().replace('&', "&amp;").replace('|', "%7C").replace('<', "%3C").replace('>', "%3E");
    Some(format!("<{href}|{}>", escape(text)))
}

fn headline(notice: &Notice) -> String {
    let count = |k: EventKind| notice.events.iter().filter(|e| e.kind == k).count();
    let (opened, resolved, test) = (count(EventKind::Opened), count(EventKind::Resolved), count(EventKind::Test));
    if test > 0 && opened == 0 && resolved == 0 {
        return TEST_BANNER.to_string();
    }
    let icon = match color(notice) {
        COLOR_RESOLVED => "✅",
        _ => notice
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Opened)
            .map(|e| e.severity)
            .max()
            .map(severity_emoji)
            .unwrap_or("🔔"),
    };
    if let [e] = notice.events.as_slice() {
        if let Some(label) = e.kind.flap_label() {
            return format!("{label}: {}: {}", one_line(&e.monitor), one_line(&e.message));
        }
    }
    let flaps = count(EventKind::Flapping) + count(EventKind::Settled);
    match (opened, resolved, notice.events.first()) {
        (0, 0, _) if flaps > 0 => format!("🔁 {} changed", alerts(flaps)),
        (1, 0, Some(e)) | (0, 1, Some(e)) if notice.events.len() == 1 => {
            let verb = if opened == 1 { "" } else { "Resolved: " };
            format!("{icon} {verb}{}: {}", one_line(&e.monitor), one_line(&e.message))
        }
        (o, 0, _) => format!("{icon} {} opened", alerts(o)),
        (0, r, _) => format!("{icon} {} resolved", alerts(r)),
        (o, r, _) => format!("{icon} {} opened, {r} resolved", alerts(o)),
    }
}

fn alerts(n: usize) -> String {
    if n == 1 {
        "1 alert".to_string()
    } else {
        format!("{n} alerts")
    }
}

fn kind_label(e: &AlertEvent) -> String {
    match e.kind {
        EventKind::Opened => format!("{} *{}*", severity_emoji(e.severity), e.severity.as_str().to_uppercase()),
        EventKind::Resolved => match e.duration_text() {
            Some(d) => format!("✅ *Resolved after {d}*"),
            None => "✅ *Resolved*".to_string(),
        },
        EventKind::Flapping | EventKind::Settled => format!("*{}*", e.kind.flap_label().unwrap_or_default()),
        EventKind::Test => "🧪 *TEST*".to_string(),
        EventKind::Changed => format!("*{}*", e.change_label()),
    }
}

fn section(e: &AlertEvent) -> Value {
    let mut t = String::new();
    t.push_str(&kind_label(e));
    t.push_str(" · *");
    push_escaped(&mut t, &one_line(&e.monitor), 150);
    t.push_str("* · ");
    push_escaped(&mut t, &one_line(&e.rule), 100);
    t.push('\n');
    push_escaped(&mut t, &e.message, 1200);
    if e.kind == EventKind::Test {
        t.push_str("\n_vaktpost test alert, no action needed_");
    }
    // The details whole, the rule's values first (see `plan::details_for`): a value that
    // does not fit is left out and counted, never cut in half.
    let mut left_out = 0;
    for (k, v) in e.details.iter().take(MAX_DETAILS) {
        let max = if k == "error" { MAX_ERROR_DETAIL } else { MAX_DETAIL };
        let v = one_line(v);
        let escaped = escape(&v);
        if escaped.chars().count() > max && k != "error" {
            left_out += 1;
            continue;
        }
        t.push_str("\n• ");
        push_escaped(&mut t, &one_line(k), 40);
        t.push_str(": ");
        push_escaped(&mut t, &v, max);
    }
    left_out += e.details.len().saturating_sub(MAX_DETAILS);
    if left_out > 0 {
        t.push_str(&format!("\n• …{left_out} more in the issue and the JSON report"));
    }
    if let Some(l) = e.issue_url.as_deref().filter(|u| u.len() <= 500).and_then(|u| link(u, "GitHub issue")) {
        t.push('\n');
        t.push_str(&l);
    }
    mrkdwn_section(t)
}

fn footer(notice: &Notice) -> Value {
    let title = if notice.title.trim().is_empty() { "vaktpost" } else { notice.title.trim() };
    let mut t = String::new();
    push_escaped(&mut t, &one_line(title), 200);
    if let Some(l) = notice.run_url.as_deref().filter(|u| u.len() <= 1000).and_then(|u| link(u, "Workflow run")) {
        t.push_str(" · ");
        t.push_str(&l);
    }
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": t}]})
}

fn mrkdwn_section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cap_lines(text, MAX_SECTION_CHARS)}})
}

/// The top-level `text`: notifications and clients without Block Kit show it.
fn fallback_text(notice: &Notice) -> String {
    let mut out = untrusted::slack(&headline(notice), MAX_FALLBACK_HEADLINE);
    // Room kept for the "…and N more" line.
    let budget = MAX_TEXT_CHARS - 40;
    let mut used = out.chars().count();
    for (i, e) in notice.events.iter().enumerate() {
        let what = match e.kind {
            EventKind::Opened => format!("{} {} opened", severity_emoji(e.severity), e.severity.as_str()),
            EventKind::Resolved => match e.duration_text() {
                Some(d) => format!("✅ resolved after {d}"),
                None => "✅ resolved".to_string(),
            },
            EventKind::Flapping | EventKind::Settled => e.kind.flap_label().unwrap_or_default().to_string(),
            EventKind::Test => "🧪 TEST".to_string(),
            EventKind::Changed => e.change_label(),
        };
        let mut line = String::from("\n");
        push_escaped(&mut line, &format!("{what}: {}: {}", one_line(&e.monitor), one_line(&e.message)), 300);
        let len = line.chars().count();
        if used + len > budget {
            out.push_str(&format!("\n…and {} more", notice.events.len() - i));
            break;
        }
        used += len;
        out.push_str(&line);
    }
    out
}

/// Appends `s` escaped for mrkdwn, stopping (with "…") before the escaped text would pass
/// `max` chars, so an entity is never cut in half ([`untrusted::slack`]).
fn push_escaped(out: &mut String, s: &str, max: usize) {
    out.push_str(&untrusted::slack(s, max));
}

/// Last guard on a section's length: cut at a line break so no link or entity is split.
fn cap_lines(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut out = String::new();
    let mut n = 0;
    for line in text.split('\n') {
        let len = line.chars().count() + 1;
        if n + len > max - 2 {
            break;
        }
        if n > 0 {
            out.push('\n');
        }
        out.push_str(line);
        n += len;
    }
    out.push_str("\n…");
    out
}

pub(crate) use crate::config::endpoints::parse_endpoint;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_slacks_three_characters() {
        assert_eq!(escape("a & b <c> d"), "a &amp; b &lt;c&gt; d");
        let mut s = String::new();
        push_escaped(&mut s, "&&&&", 8);
        assert_eq!(s, "&amp;…");
    }

    #[test]
    fn links_escape_their_parts() {
        assert_eq!(
            link("https://example.com/x?a=1&b=2", "run <1>").as_deref(),
            Some("<https://example.com/x?a=1&amp;b=2|run &lt;1&gt;>")
        );
        assert_eq!(link("javascript:alert(1)", "x"), None);
        assert_eq!(link("not a url", "x"), None);
    }

    #[test]
    fn scrub_removes_webhook_tokens() {
        let s = Secret::new("https://hooks.example/services/T000/B000/sekrit-token-123");
        let t = scrub("failed for https://hooks.example/services/T000/B000/sekrit-token-123 and sekrit-token-123", &s);
        assert!(!t.contains("sekrit"), "{t}");
    }

    /// Every mrkdwn and plain text of a payload.
    fn texts(v: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match v {
            Value::Object(m) => {
                if let (Some(Value::String(t)), Some(Value::String(kind))) = (m.get("text"), m.get("type")) {
                    out.push((kind.clone(), t.clone()));
                }
                for x in m.values() {
                    out.extend(texts(x));
                }
            }
            Value::Array(a) => a.iter().for_each(|x| out.extend(texts(x))),
            _ => {}
        }
        out
    }

    // Regression: `webhook_url: "notaurl"` aborted every run with a finding (its error,
    // which ends in "…", was redacted by slicing inside that character).
    #[tokio::test]
    async fn an_invalid_webhook_url_is_an_error_not_a_panic() {
        let notice = Notice { events: vec![AlertEvent::sample("api", "down")], run_url: None, title: String::new() };
        let e =
            send(&reqwest::Client::new(), &Secret::new("notaurl"), &notice, &retry::Waiter::real()).await.unwrap_err();
        let e = e.to_string();
        assert!(e.contains("alerts.slack.webhook_url") && !e.contains("notaurl"), "{e}");
        let redacted = crate::redact::Redactor::new(&["notaurl".into()]).redact_text(&e);
        assert_eq!(redacted, e);
    }

    // Regression: a 100 KB monitor name and message went into Slack texts unbounded.
    #[test]
    fn huge_names_and_messages_stay_within_slacks_limits() {
        let big = "<!channel> & ".repeat(10_000);
        for n in [1, 3, 60] {
            let notice = Notice { events: vec![AlertEvent::sample(&big, &big); n], run_url: None, title: big.clone() };
            let p = payload(&notice);
            let fallback = p["text"].as_str().unwrap();
            assert!(fallback.chars().count() <= MAX_TEXT_CHARS, "{}", fallback.chars().count());
            for (kind, t) in texts(&p) {
                let max = if kind == "plain_text" { MAX_HEADER_CHARS } else { MAX_SECTION_CHARS };
                assert!(t.chars().count() <= max, "{kind}: {} chars", t.chars().count());
                if kind == "mrkdwn" {
                    assert!(!t.contains("<!channel>"), "{t}");
                }
            }
            assert!(!fallback.contains("<!channel>"));
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn no_remote_text_forms_slack_markup(monitor in "\\PC{0,300}", message in "\\PC{0,3000}") {
                let notice = Notice { events: vec![AlertEvent::sample(&monitor, &message)], run_url: None, title: String::new() };
                let p = payload(&notice);
                for (kind, t) in texts(&p) {
                    let max = if kind == "plain_text" { MAX_HEADER_CHARS } else { MAX_SECTION_CHARS };
                    prop_assert!(t.chars().count() <= max);
                    if kind == "mrkdwn" {
                        prop_assert!(!t.contains(['<', '>']), "{:?}", t);
                    }
                }
                let fallback = p["text"].as_str().unwrap_or_default();
                prop_assert!(!fallback.contains(['<', '>']) && fallback.chars().count() <= MAX_TEXT_CHARS);
            }
        }
    }
}
