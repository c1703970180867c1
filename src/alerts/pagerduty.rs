//! PagerDuty channel, over the Events API v2: PagerDuty tracks alerts one by one, so each
//! event of a notice becomes one event there — `trigger` for an alert that opened or
//! changed, `resolve` for one that resolved — with `dedup_key` the fingerprint, so a
//! repeated send (a pending notice retried next run) is deduplicated, not a second page.
//! The routing key goes in the body, as the API requires, and nowhere else.

use chrono::SecondsFormat;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::channel::{self, Channel, SendError, Sending};
use super::event::{AlertEvent, EventKind, Notice};
use super::post::{self, Post, Refusal};
use super::AlertRun;
use crate::config::{endpoints::PAGERDUTY_EVENTS_URL, PagerdutyAlerts, Secret, Severity};
use crate::{retry, untrusted};

/// The Events API v2's documented limits: `payload.summary` and `dedup_key` in characters.
pub const MAX_SUMMARY: usize = 1024;
pub const MAX_DEDUP_KEY: usize = 255;
/// `source`, `component`, `group`, `class`: kept as short as the summary's first words.
const MAX_FIELD: usize = 255;
const MAX_DETAILS: usize = 16;
/// An event is at most 512 KB; ours stay far below (bounded texts, at most 16 details).
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

/// PagerDuty's severity for a vaktpost one: `critical`, `error`, `warning`; a test is `info`.
pub fn severity(e: &AlertEvent) -> &'static str {
    match (e.kind, e.severity) {
        (EventKind::Test, _) => "info",
        (_, Severity::High) => "critical",
        (_, Severity::Medium) => "error",
        (_, Severity::Low) => "warning",
    }
}

/// The fingerprint as `dedup_key`; one longer than PagerDuty's 255 characters is cut and
/// ends in `#` and the SHA-256 of the whole fingerprint, so it stays unique and stable.
pub fn dedup_key(fingerprint: &str) -> String {
    if fingerprint.chars().count() <= MAX_DEDUP_KEY {
        return fingerprint.to_string();
    }
    let digest = hex::encode(Sha256::digest(fingerprint.as_bytes()));
    let head: String = fingerprint.chars().take(MAX_DEDUP_KEY - 1 - digest.len()).collect();
    format!("{head}#{digest}")
}

/// `trigger` or `resolve`.
pub fn action(e: &AlertEvent) -> &'static str {
    if e.kind == EventKind::Resolved {
        "resolve"
    } else {
        "trigger"
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn http_url(u: Option<&str>) -> Option<String> {
    let u = url::Url::parse(u?.trim()).ok()?;
    (matches!(u.scheme(), "http" | "https") && u.as_str().len() <= 2000).then(|| u.to_string())
}

/// The summary PagerDuty shows as the alert's title.
pub fn summary(e: &AlertEvent) -> String {
    let what = format!("{}: {}", one_line(&e.monitor), one_line(&e.message));
    let text = match e.kind {
        EventKind::Test => "[TEST] vaktpost test alert, no action needed".to_string(),
        EventKind::Flapping | EventKind::Settled => format!("{}: {what}", e.kind.flap_label().unwrap_or_default()),
        _ => what,
    };
    untrusted::plain(&text, MAX_SUMMARY)
}

/// The Events API v2 body for one event.
pub fn event_body(routing_key: &Secret, e: &AlertEvent, run_url: Option<&str>, title: &str) -> Value {
    let mut v = json!({
        "routing_key": routing_key.expose(),
        "event_action": action(e),
        "dedup_key": dedup_key(&e.fingerprint),
    });
    if e.kind == EventKind::Resolved {
        return v;
    }
    let mut details: Map<String, Value> = Map::new();
    details.insert("message".into(), json!(untrusted::plain(&e.message, 2000)));
    details.insert("fingerprint".into(), json!(untrusted::plain(&e.fingerprint, 2 * MAX_FIELD)));
    details.insert("first_seen".into(), json!(e.first_seen.to_rfc3339_opts(SecondsFormat::Secs, true)));
    for (k, val) in e.details.iter().take(MAX_DETAILS) {
        details.entry(untrusted::plain(k, 60)).or_insert_with(|| json!(untrusted::plain(val, 300)));
    }
    let monitor = untrusted::plain(&one_line(&e.monitor), MAX_FIELD);
    v["payload"] = json!({
        "summary": summary(e),
        "source": if monitor.trim().is_empty() { "vaktpost".to_string() } else { monitor.clone() },
        "severity": severity(e),
        "timestamp": e.first_seen.to_rfc3339_opts(SecondsFormat::Secs, true),
        "component": monitor,
        "group": untrusted::plain(&one_line(if title.trim().is_empty() { "vaktpost" } else { title }), MAX_FIELD),
        "class": untrusted::plain(&one_line(&e.rule), MAX_FIELD),
        "custom_details": details,
    });
    v["client"] = json!("vaktpost");
    let mut links = Vec::new();
    if let Some(u) = http_url(e.issue_url.as_deref()) {
        links.push(json!({"href": u, "text": "GitHub issue"}));
    }
    if let Some(u) = http_url(run_url) {
        v["client_url"] = json!(u);
        links.push(json!({"href": u, "text": "Workflow run"}));
    }
    v["links"] = json!(links);
    v
}

/// Sends one Events API event per event of `notice`, in order; every event is tried.
/// The first failure is returned (the notice stays pending, and resending is harmless:
/// PagerDuty deduplicates by `dedup_key`).
pub async fn send(
    client: &reqwest::Client,
    cfg: &PagerdutyAlerts,
    notice: &Notice,
    waiter: &retry::Waiter,
) -> Result<(), SendError> {
    let mut first_error = None;
    let mut failed = 0;
    for e in &notice.events {
        if let Err(err) = send_one(client, cfg, e, notice, waiter).await {
            failed += 1;
            first_error.get_or_insert(err);
        }
    }
    match first_error {
        None => Ok(()),
        Some(e) if notice.events.len() == 1 => Err(e),
        Some(e) => {
            let msg = format!("{failed} of {} events failed; first: {}", notice.events.len(), e.message());
            Err(if e.is_retryable() { SendError::Retryable(msg) } else { SendError::Rejected(msg) })
        }
    }
}

/// One event: its body to `events_url`.
pub async fn send_one(
    client: &reqwest::Client,
    cfg: &PagerdutyAlerts,
    e: &AlertEvent,
    notice: &Notice,
    waiter: &retry::Waiter,
) -> Result<(), SendError> {
    if cfg.routing_key.expose().trim().is_empty() {
        return Err(SendError::Rejected(
            "alerts.pagerduty.routing_key is empty; set it to the Integration Key of an Events API v2 integration"
                .into(),
        ));
    }
    let raw = Secret::new(cfg.events_url.clone().unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_string()));
    let setting = "alerts.pagerduty.events_url";
    let url = post::endpoint(&raw, setting, PAGERDUTY_EVENTS_URL)?;
    let body = serde_json::to_vec(&event_body(&cfg.routing_key, e, notice.run_url.as_deref(), &notice.title))
        .map_err(|e| SendError::Rejected(format!("PagerDuty: cannot encode the event: {e}")))?;
    let p = Post { service: "PagerDuty", setting, url, secret: &cfg.routing_key, body, headers: Vec::new() };
    post::post(client, &p, waiter, &rejection).await
}

/// A final 4xx: PagerDuty's `{"status": "invalid event", "message": …, "errors": […]}`.
pub fn rejection(r: &Refusal) -> String {
    let v: Value = serde_json::from_str(&r.text).unwrap_or_default();
    let errors: Vec<&str> =
        v["errors"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let what = match (v["message"].as_str(), errors.is_empty()) {
        (Some(m), false) => format!(": {m} ({})", errors.join("; ")),
        (Some(m), true) => format!(": {m}"),
        _ => post::with_text(&r.text),
    };
    let todo = if errors.iter().any(|e| e.contains("routing_key")) || matches!(r.status, 401 | 403 | 404) {
        "check alerts.pagerduty.routing_key is the Integration Key of an Events API v2 integration (and alerts.pagerduty.events_url)"
    } else if r.status == 400 {
        "PagerDuty could not accept the event vaktpost built; this is a vaktpost bug: please report it with this error (the alert stays pending)"
    } else {
        "check alerts.pagerduty.events_url"
    };
    format!("PagerDuty rejected the event (HTTP {}{what}), not retried: {todo}", r.status)
}

/// The PagerDuty channel: events at or above `min_severity`, severity changes too.
pub struct Pagerduty<'a>(pub &'a PagerdutyAlerts);

impl Channel for Pagerduty<'_> {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    fn min_severity(&self) -> Option<Severity> {
        (!self.0.routing_key.expose().trim().is_empty()).then(|| self.0.min_severity.unwrap_or(Severity::Low))
    }

    fn takes_changes(&self) -> bool {
        true
    }

    fn open<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        Box::pin(async move { send(&super::deliver::http_client(), self.0, notice, &run.waiter()).await })
    }

    /// A `trigger` of severity `info`, marked as a test, then its `resolve`, so no test
    /// incident stays open.
    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            let notice = channel::test_notice(run);
            let client = super::deliver::http_client();
            let waiter = run.waiter();
            send(&client, self.0, &notice, &waiter).await?;
            let mut resolved = notice.clone();
            for e in &mut resolved.events {
                e.kind = EventKind::Resolved;
                e.resolved_at = Some(run.ctx.now());
            }
            send(&client, self.0, &resolved, &waiter).await?;
            Ok(format!("triggered and resolved a test event (dedup_key {})", dedup_key(&notice.events[0].fingerprint)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_map_to_pagerdutys_enum() {
        let mut e = AlertEvent::sample("api", "down");
        for (s, want) in [(Severity::High, "critical"), (Severity::Medium, "error"), (Severity::Low, "warning")] {
            e.severity = s;
            assert_eq!(severity(&e), want);
        }
        e.kind = EventKind::Test;
        assert_eq!(severity(&e), "info");
    }

    #[test]
    fn long_fingerprints_become_stable_unique_255_character_keys() {
        let a = format!("{}/r", "m".repeat(300));
        let b = format!("{}/s", "m".repeat(300));
        assert_eq!(dedup_key("api/endpoint_down"), "api/endpoint_down");
        assert_eq!(dedup_key(&a).chars().count(), 255);
        assert_ne!(dedup_key(&a), dedup_key(&b));
        assert_eq!(dedup_key(&a), dedup_key(&a));
    }

    #[test]
    fn a_resolve_carries_only_the_key_action_and_dedup_key() {
        let mut e = AlertEvent::sample("api", "down");
        e.kind = EventKind::Resolved;
        let v = event_body(&Secret::new("k".repeat(32)), &e, None, "");
        assert_eq!(v, json!({"routing_key": "k".repeat(32), "event_action": "resolve", "dedup_key": "api/r"}));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn hostile_text_makes_a_valid_bounded_event(monitor in "\\PC{0,600}", message in "(\\PC|[\\x00-\\x1f\"]){0,5000}") {
                let mut e = AlertEvent::sample(&monitor, &message);
                e.fingerprint = format!("{monitor}/r");
                e.details = vec![(message.clone(), message.clone()); 40];
                let key = Secret::new("R0UT1NGKEY0000000000000000000000");
                let v = event_body(&key, &e, Some(&message), &monitor);
                let bytes = serde_json::to_vec(&v).unwrap_or_default();
                prop_assert!(bytes.len() <= MAX_EVENT_BYTES);
                let p = &v["payload"];
                prop_assert!(p["summary"].as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= MAX_SUMMARY));
                prop_assert!(p["source"].as_str().is_some_and(|s| !s.trim().is_empty()));
                prop_assert!(["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or("")));
                prop_assert!(v["dedup_key"].as_str().is_some_and(|k| k.chars().count() <= MAX_DEDUP_KEY));
                // The key is in `routing_key` and nowhere else.
                prop_assert_eq!(String::from_utf8_lossy(&bytes).matches(key.expose()).count(), 1);
            }
        }
    }
}
