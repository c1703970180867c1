//! Generic webhook channel: one JSON POST per notice (what opened or changed, or what
//! resolved, in one run) to a URL of the user's, in a documented shape ([`body`]) or the
//! user's own MiniJinja template of it (`config::template`), signed with HMAC-SHA256 of
//! the exact body bytes when a `secret` is set (GitHub's `X-Hub-Signature-256` scheme).

use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::channel::{self, Channel, SendError, Sending};
use super::event::{AlertEvent, EventKind, Notice};
use super::post::{self, Post, Refusal};
use super::AlertRun;
use crate::config::{Severity, WebhookAlerts};
use crate::{retry, untrusted};

/// `sha256=<64 lower-case hex digits>`: HMAC-SHA256 of the body, keyed with `secret`.
pub const SIGNATURE_HEADER: &str = "x-vaktpost-signature";
/// `opened`, `resolved`, `updated` or `test` ([`Notice::kind`]).
pub const EVENT_HEADER: &str = "x-vaktpost-event";
/// The body's shape; raised only with a change a receiver must know about.
pub const VERSION: u32 = 1;
/// Events in one body; the rest are counted in `more`.
pub const MAX_EVENTS: usize = 50;
pub const MAX_MESSAGE_CHARS: usize = 1000;
pub const MAX_NAME_CHARS: usize = 200;
const MAX_DETAILS: usize = 16;
const MAX_DETAIL_KEY: usize = 60;
const MAX_DETAIL_VALUE: usize = 200;
const MAX_URL: usize = 2000;
const MAX_SUMMARY: usize = 300;

/// The default body for `notice`, sent at `sent_at`; also what a template renders over.
/// Every text is bounded and free of control characters; at most [`MAX_EVENTS`] events.
pub fn body(notice: &Notice, sent_at: DateTime<Utc>) -> Value {
    let shown = notice.events.len().min(MAX_EVENTS);
    let events: Vec<Value> = notice.events[..shown].iter().map(|e| event(e, notice.run_url.as_deref())).collect();
    json!({
        "version": VERSION,
        "kind": notice.kind(),
        "title": untrusted::plain(if notice.title.trim().is_empty() { "vaktpost" } else { notice.title.trim() }, MAX_NAME_CHARS),
        "summary": untrusted::plain(&notice.summary(), MAX_SUMMARY),
        "run_url": link(notice.run_url.as_deref()),
        "sent_at": time(sent_at),
        "events": events,
        "more": notice.events.len() - shown,
    })
}

fn event(e: &AlertEvent, run_url: Option<&str>) -> Value {
    let details: Map<String, Value> = e
        .details
        .iter()
        .take(MAX_DETAILS)
        .map(|(k, v)| (untrusted::plain(k, MAX_DETAIL_KEY), Value::String(untrusted::plain(v, MAX_DETAIL_VALUE))))
        .collect();
    let kind = match e.kind {
        EventKind::Opened => "opened",
        EventKind::Resolved => "resolved",
        EventKind::Flapping => "flapping",
        EventKind::Settled => "settled",
        EventKind::Changed => "changed",
        EventKind::Test => "test",
    };
    json!({
        "kind": kind,
        "fingerprint": untrusted::plain(&e.fingerprint, 2 * MAX_NAME_CHARS + 1),
        "monitor": untrusted::plain(&e.monitor, MAX_NAME_CHARS),
        "rule": untrusted::plain(&e.rule, MAX_NAME_CHARS),
        "severity": e.severity.as_str(),
        "message": untrusted::plain(&e.message, MAX_MESSAGE_CHARS),
        "first_seen": time(e.first_seen),
        "resolved_at": e.resolved_at.map(time),
        "duration_s": e.resolved_at.map(|r| (r - e.first_seen).num_seconds().max(0)),
        "links": {"issue": link(e.issue_url.as_deref()), "run": link(run_url)},
        "details": details,
    })
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An http(s) URL of at most [`MAX_URL`] bytes, or `null`.
fn link(u: Option<&str>) -> Value {
    match u.map(str::trim).and_then(|u| url::Url::parse(u).ok()) {
        Some(u) if matches!(u.scheme(), "http" | "https") && u.as_str().len() <= MAX_URL => json!(u.as_str()),
        _ => Value::Null,
    }
}

/// `sha256=<hex>` of `body` keyed with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match <Hmac<Sha256>>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The bytes to POST: the template's output, or the default body.
pub fn render(cfg: &WebhookAlerts, notice: &Notice, sent_at: DateTime<Utc>) -> Result<Vec<u8>, SendError> {
    let b = body(notice, sent_at);
    match &cfg.template {
        Some(t) => crate::config::template::render(t, &b)
            .map(String::into_bytes)
            .map_err(|e| SendError::Rejected(format!("alerts.webhook.template {e}"))),
        None => {
            serde_json::to_vec(&b).map_err(|e| SendError::Rejected(format!("webhook: cannot encode the body: {e}")))
        }
    }
}

/// Posts `notice` (nothing when it is empty) with its signature, per [`post::post`].
pub async fn send(
    client: &reqwest::Client,
    cfg: &WebhookAlerts,
    notice: &Notice,
    sent_at: DateTime<Utc>,
    waiter: &retry::Waiter,
) -> Result<(), SendError> {
    if notice.events.is_empty() {
        return Ok(());
    }
    let url = post::endpoint(&cfg.url, "alerts.webhook.url", "https://hooks.example.com/vaktpost")?;
    let body = render(cfg, notice, sent_at)?;
    let mut headers = vec![(HeaderName::from_static(EVENT_HEADER), HeaderValue::from_static(notice.kind()))];
    if let Some(secret) = cfg.secret.as_ref().filter(|s| !s.expose().is_empty()) {
        let sig = signature(secret.expose().as_bytes(), &body);
        let value = HeaderValue::from_str(&sig)
            .map_err(|_| SendError::Rejected("webhook: cannot build the signature header".into()))?;
        headers.push((HeaderName::from_static(SIGNATURE_HEADER), value));
    }
    let p = Post { service: "webhook", setting: "alerts.webhook.url", url, secret: &cfg.url, body, headers };
    post::post(client, &p, waiter, &rejection).await
}

/// A final 4xx: the receiver's answer and what to check.
pub fn rejection(r: &Refusal) -> String {
    let todo = match r.status {
        401 | 403 => "the receiver refused the request; check alerts.webhook.secret matches the receiver's, and alerts.webhook.url",
        404 | 410 => "nothing receives at alerts.webhook.url; check the URL",
        413 => "the body is too large for the receiver; raise its limit or use alerts.webhook.template to send less",
        _ => "check the receiver's answer and alerts.webhook.template",
    };
    format!("webhook rejected the body (HTTP {}{}), not retried: {todo}", r.status, post::with_text(&r.text))
}

/// The webhook channel: one URL, events at or above `min_severity`, severity changes too.
pub struct Webhook<'a>(pub &'a WebhookAlerts);

impl Webhook<'_> {
    fn post<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        Box::pin(
            async move { send(&super::deliver::http_client(), self.0, notice, run.ctx.now(), &run.waiter()).await },
        )
    }
}

impl Channel for Webhook<'_> {
    fn name(&self) -> &'static str {
        "webhook"
    }

    /// None with an empty URL: nowhere to send, and nothing is queued for it.
    fn min_severity(&self) -> Option<Severity> {
        (!self.0.url.expose().trim().is_empty()).then(|| self.0.min_severity.unwrap_or(Severity::Low))
    }

    fn takes_changes(&self) -> bool {
        true
    }

    fn open<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        self.post(run, notice)
    }

    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            if self.0.url.expose().trim().is_empty() {
                return Err(SendError::Rejected("alerts.webhook.url is empty; set it".into()));
            }
            let notice = channel::test_notice(run);
            self.post(run, &notice).await?;
            Ok(if self.0.secret.is_some() { "sent (signed)".to_string() } else { "sent".to_string() })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn cfg(template: Option<&str>) -> WebhookAlerts {
        WebhookAlerts {
            enabled: true,
            url: Secret::new("https://hooks.example.com/x"),
            secret: Some(Secret::new("shh")),
            template: template.map(str::to_string),
            min_severity: None,
        }
    }

    /// The shape of a JSON value: objects by their keys (recursively), arrays by their
    /// first element, scalars by nothing (a null and a string are the same shape).
    fn shape(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
            Value::Array(a) => Value::Array(a.iter().take(1).map(shape).collect()),
            _ => Value::Null,
        }
    }

    // The samples `validate` tries templates on must be the body the channel renders.
    #[test]
    fn the_validation_samples_have_the_bodys_shape() {
        let mut e = AlertEvent::sample("api_health", "down");
        e.issue_url = Some("https://github.com/acme/shop/issues/7".into());
        let n = Notice { events: vec![e], run_url: Some("https://github.com/r".into()), title: "vaktpost".into() };
        let mut real = shape(&body(&n, chrono::DateTime::UNIX_EPOCH));
        // Details are free-form: compare the object, not its keys.
        real["events"][0]["details"] = json!({});
        for s in crate::config::template::samples() {
            let mut s = shape(&s);
            s["events"][0]["details"] = json!({});
            assert_eq!(s, real);
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_exact_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_template_shapes_the_body_and_a_failing_one_is_rejected() {
        let n = Notice { events: vec![AlertEvent::sample("api", "down")], run_url: None, title: String::new() };
        let out = render(&cfg(Some(r#"{"text": {{ summary }}, "sev": {{ events[0].severity }}}"#)), &n, Utc::now())
            .unwrap_or_default();
        let v: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(v, json!({"text": "api: down", "sev": "high"}));
        let e = render(&cfg(Some(r#"{"x": {{ nope }}}"#)), &n, Utc::now()).unwrap_err();
        assert!(!e.is_retryable() && e.message().contains("alerts.webhook.template"), "{e}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn hostile_text_stays_bounded_valid_json_without_the_secret(
                monitor in "\\PC{0,400}", message in "(\\PC|[\\x00-\\x1f\\u{202e}\"\\\\]){0,3000}", n in 1usize..70,
            ) {
                let mut e = AlertEvent::sample(&monitor, &message);
                e.details.push((message.clone(), monitor.clone()));
                let notice = Notice { events: vec![e; n], run_url: Some(message.clone()), title: monitor.clone() };
                let c = cfg(None);
                let bytes = render(&c, &notice, Utc::now()).unwrap_or_default();
                prop_assert!(bytes.len() <= crate::config::template::MAX_BODY_BYTES, "{} bytes", bytes.len());
                let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                prop_assert!(v["events"].as_array().is_some_and(|a| a.len() == n.min(MAX_EVENTS)));
                prop_assert_eq!(v["more"].as_u64(), Some(n.saturating_sub(MAX_EVENTS) as u64));
                let bad = ['\r', '\u{202e}', '\0'];
                let clean = v["events"][0]["message"].as_str().is_some_and(|m| m.chars().count() <= MAX_MESSAGE_CHARS && !m.contains(bad));
                prop_assert!(clean);
                let text = String::from_utf8_lossy(&bytes);
                prop_assert!(!text.contains("shh") || monitor.contains("shh") || message.contains("shh"));
                prop_assert!(!text.contains("hooks.example.com"));
            }
        }
    }
}
