//! The Slack channel end to end against a local webhook receiver that checks every
//! payload against Block Kit's structure and limits.

use crate::alert_receiver;

use alert_receiver::{recording_waiter, validate_slack, Receiver, Reply};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use vaktpost::alerts::{slack, AlertEvent, EventKind, Notice};
use vaktpost::config::{Secret, Severity};
use vaktpost::retry::Waiter;

const RUN_URL: &str = "https://github.com/acme/shop/actions/runs/42?check_suite_focus=true&x=1";
const TOKEN: &str = "XyZsekret0token0in0path";

fn event(kind: EventKind, monitor: &str, severity: Severity, message: &str) -> AlertEvent {
    let first_seen = Utc.with_ymd_and_hms(2025, 1, 2, 3, 0, 0).single().expect("valid date");
    AlertEvent {
        kind,
        fingerprint: format!("{monitor}/endpoint_down"),
        monitor: monitor.to_string(),
        rule: "endpoint_down".to_string(),
        severity,
        message: message.to_string(),
        first_seen,
        resolved_at: (kind == EventKind::Resolved).then(|| first_seen + chrono::Duration::minutes(42)),
        issue_url: Some(format!("https://github.com/acme/shop/issues/{}", monitor.len())),
        details: vec![("status_code".into(), "503".into()), ("response_time_ms".into(), "12".into())],
    }
}

fn notice(events: Vec<AlertEvent>) -> Notice {
    Notice { events, run_url: Some(RUN_URL.to_string()), title: "vaktpost".to_string() }
}

/// A waiter with `secs` left whose sleeps return at once (recorded, unasserted).
fn waiter(secs: u64) -> Waiter {
    recording_waiter(secs).0
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn webhook(rx: &Receiver) -> Secret {
    Secret::new(rx.url(&format!("/services/T000/B000/{TOKEN}")))
}

/// The one request the receiver got, validated as Block Kit.
fn only_payload(rx: &Receiver) -> Value {
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1, "expected exactly one POST, got {}", reqs.len());
    assert_eq!(reqs[0].method, "POST");
    assert!(reqs[0].content_type.as_deref().unwrap_or("").starts_with("application/json"));
    match validate_slack(&reqs[0].body) {
        Ok(v) => v,
        Err(e) => panic!("invalid Slack payload: {e}\n{}", String::from_utf8_lossy(&reqs[0].body)),
    }
}

fn color(v: &Value) -> &str {
    v["attachments"][0]["color"].as_str().unwrap_or("")
}

#[tokio::test]
async fn opened_notice_with_two_events_is_one_red_message_with_links() {
    let rx = Receiver::ok().await;
    let n = notice(vec![
        event(EventKind::Opened, "api_health", Severity::High, "Endpoint api_health is down"),
        event(EventKind::Opened, "memory_status", Severity::Medium, "Memory usage is 93%"),
    ]);
    slack::send(&client(), &webhook(&rx), &n, &waiter(10)).await.expect("delivered");
    let v = only_payload(&rx);
    assert_eq!(rx.requests()[0].target, format!("/services/T000/B000/{TOKEN}"));
    assert_eq!(color(&v), "#d73a49", "the highest severity (high) sets the colour");
    let all = v.to_string();
    for want in [
        "api_health",
        "memory_status",
        "Endpoint api_health is down",
        "Memory usage is 93%",
        "<https://github.com/acme/shop/issues/10|GitHub issue>",
        // The run URL's `&` is escaped inside the link, as Slack's docs say.
        "<https://github.com/acme/shop/actions/runs/42?check_suite_focus=true&amp;x=1|Workflow run>",
        "🔴",
        "🟠",
        "status_code",
    ] {
        assert!(all.contains(want), "missing {want:?} in {all}");
    }
    assert!(v["text"].as_str().unwrap_or("").contains("2 alerts opened"), "{}", v["text"]);
    assert_eq!(v["blocks"][0]["type"], "header");
}

#[tokio::test]
async fn resolved_notice_says_how_long_it_lasted_in_green() {
    let rx = Receiver::ok().await;
    let n = notice(vec![event(EventKind::Resolved, "api_health", Severity::High, "Endpoint api_health is down")]);
    slack::send(&client(), &webhook(&rx), &n, &waiter(10)).await.expect("delivered");
    let v = only_payload(&rx);
    assert_eq!(color(&v), "#28a745");
    let all = v.to_string();
    assert!(all.contains("Resolved after 42m"), "{all}");
    assert!(v["text"].as_str().unwrap_or("").contains("resolved after 42m"), "{}", v["text"]);
}

#[tokio::test]
async fn severity_sets_the_colour_of_an_opened_message() {
    for (sev, want) in [(Severity::High, "#d73a49"), (Severity::Medium, "#fb8500"), (Severity::Low, "#0366d6")] {
        let n = notice(vec![event(EventKind::Opened, "m", sev, "x")]);
        assert_eq!(slack::color(&n), want);
        assert_eq!(slack::payload(&n)["attachments"][0]["color"], want);
    }
}

#[tokio::test]
async fn test_alert_is_grey_and_clearly_marked() {
    let rx = Receiver::ok().await;
    let n = notice(vec![event(EventKind::Test, "vaktpost", Severity::Low, "This is a test alert")]);
    slack::send(&client(), &webhook(&rx), &n, &waiter(10)).await.expect("delivered");
    let v = only_payload(&rx);
    assert_eq!(color(&v), "#8b949e");
    assert_eq!(v["blocks"][0]["text"]["text"], "🧪 TEST — vaktpost test alert, no action needed");
    assert!(v["text"].as_str().unwrap_or("").starts_with("🧪 TEST — vaktpost test alert, no action needed"));
}

#[tokio::test]
async fn two_hundred_events_stay_within_slack_limits_with_and_more() {
    let rx = Receiver::ok().await;
    let long = "x".repeat(5000);
    let events: Vec<AlertEvent> = (0..200)
        .map(|i| event(EventKind::Opened, &format!("monitor_{i:03}_{}", "m".repeat(200)), Severity::Low, &long))
        .collect();
    slack::send(&client(), &webhook(&rx), &notice(events), &waiter(10)).await.expect("delivered");
    let v = only_payload(&rx);
    let att_blocks = v["attachments"][0]["blocks"].as_array().map(Vec::len).unwrap_or(0);
    let top_blocks = v["blocks"].as_array().map(Vec::len).unwrap_or(0);
    assert!(att_blocks + top_blocks <= 50, "{} blocks", att_blocks + top_blocks);
    let all = v.to_string();
    assert!(all.contains("…and 153 more"), "47 shown, 153 counted: {}", &all[all.len().saturating_sub(600)..]);
    let text = v["text"].as_str().unwrap_or("");
    assert!(text.chars().count() <= 4000 && text.contains("…and "), "fallback: {} chars", text.chars().count());
}

#[tokio::test]
async fn markup_in_messages_is_escaped() {
    let rx = Receiver::ok().await;
    let n = notice(vec![event(EventKind::Opened, "a<b>&c", Severity::High, "got <html> & <!channel> back")]);
    slack::send(&client(), &webhook(&rx), &n, &waiter(10)).await.expect("delivered");
    let v = only_payload(&rx); // the validator rejects raw `<`, `>` and bare `&`
    let all = v.to_string();
    assert!(all.contains("got &lt;html&gt; &amp; &lt;!channel&gt; back"), "{all}");
}

#[tokio::test]
async fn rate_limited_twice_then_delivered_in_three_posts() {
    let rx = Receiver::start(vec![Reply::rate_limited(1), Reply::rate_limited(1)], Reply::ok()).await;
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")]);
    let (w, slept) = recording_waiter(20);
    slack::send(&client(), &webhook(&rx), &n, &w).await.expect("delivered after the limit");
    assert_eq!(rx.requests().len(), 3);
    assert_eq!(slept.ms(), [1000, 1000], "Retry-After: 1 was honoured twice");
    for r in rx.requests() {
        validate_slack(&r.body).expect("every attempt is valid");
    }
}

#[tokio::test]
async fn retry_after_5_is_one_five_second_wait() {
    let rx = Receiver::start(vec![Reply::rate_limited(5)], Reply::ok()).await;
    let (w, slept) = recording_waiter(60);
    slack::send(&client(), &webhook(&rx), &down(), &w).await.expect("delivered after the limit");
    assert_eq!(slept.ms(), [5000]);
    assert_eq!(rx.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_past_the_deadline_gives_up_at_once() {
    let rx = Receiver::start(Vec::new(), Reply::rate_limited(30)).await;
    let (w, slept) = recording_waiter(3);
    let err = slack::send(&client(), &webhook(&rx), &down(), &w).await.expect_err("cannot wait 30 s").to_string();
    assert!(slept.ms().is_empty(), "did not wait for a Retry-After past the deadline");
    assert!(err.contains("429") && err.contains("rate_limited") && err.contains("deadline"), "{err}");
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn a_retry_after_over_a_minute_is_not_honoured() {
    let rx = Receiver::start(Vec::new(), Reply::rate_limited(600)).await;
    let (w, slept) = recording_waiter(3600);
    let err = slack::send(&client(), &webhook(&rx), &down(), &w).await.expect_err("cannot wait 10 min").to_string();
    assert!(slept.ms().is_empty());
    assert!(err.contains("429") && err.contains("asked to wait 10m"), "{err}");
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn rollup_error_500_is_retried_with_the_delivery_backoff_then_reported() {
    let rx = Receiver::start(Vec::new(), Reply::slack("rollup_error")).await;
    let (w, slept) = recording_waiter(600);
    let err = slack::send(&client(), &webhook(&rx), &down(), &w).await.expect_err("500 for ever").to_string();
    assert_eq!(rx.requests().len(), 6, "the delivery policy's 6 attempts");
    let policy = slack::policy();
    let ms = slept.ms();
    assert_eq!(ms.len(), 5, "{ms:?}");
    for (i, m) in ms.iter().enumerate() {
        let base = policy.backoff(i as u32 + 1).as_millis();
        assert!(*m >= base && *m <= 2 * base, "wait {i}: {m} ms outside [{base}, {}]", 2 * base);
    }
    assert!(err.contains("500") && err.contains("rollup_error") && err.contains("6 attempt"), "{err}");
}

/// Each 4xx of Slack's incoming-webhook errors: one POST, no wait, and an error naming
/// Slack's code and what to do, without the webhook.
#[tokio::test]
async fn slacks_4xx_errors_are_not_retried_and_say_what_to_do() {
    for (code, status, todo) in [
        ("invalid_payload", 400, "vaktpost bug"),
        ("invalid_blocks", 400, "vaktpost bug"),
        ("action_prohibited", 403, "Slack admin"),
        ("channel_not_found", 404, "live channel"),
        ("no_service", 404, "new incoming webhook"),
        ("channel_is_archived", 410, "point the webhook at a live channel"),
    ] {
        let rx = Receiver::start(Vec::new(), Reply::slack(code)).await;
        let hook = webhook(&rx);
        let (w, slept) = recording_waiter(60);
        let err = slack::send(&client(), &hook, &down(), &w).await.expect_err(code).to_string();
        assert_eq!(rx.requests().len(), 1, "{code}: a 4xx is not retried");
        assert!(slept.ms().is_empty(), "{code}");
        assert!(err.contains(code) && err.contains(&format!("HTTP {status}")) && err.contains(todo), "{code}: {err}");
        assert!(err.contains("alerts.slack.webhook_url") || todo == "vaktpost bug", "{code}: names the setting: {err}");
        assert!(!err.contains(TOKEN) && !err.contains("/services/"), "{err}");
    }
}

/// The receiver is as strict as Slack: a payload over Block Kit's limits is refused.
#[tokio::test]
async fn the_receiver_refuses_a_payload_over_slacks_limits_as_slack_does() {
    let rx = Receiver::ok().await;
    let too_long = serde_json::json!({
        "text": "x",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a".repeat(3001)}}],
    });
    let resp = client().post(rx.url("/services/T/B/x")).json(&too_long).send().await.expect("posted");
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.text().await.expect("body"), "invalid_blocks");
    assert!(rx.requests()[0].rejected.as_deref().unwrap_or("").contains("3001 chars"));
    let fine =
        serde_json::json!({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}]});
    let resp = client().post(rx.url("/services/T/B/x")).json(&fine).send().await.expect("posted");
    assert_eq!(resp.status().as_u16(), 200);
}

fn down() -> Notice {
    notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")])
}

#[tokio::test]
async fn server_error_is_retried_then_delivered() {
    let rx = Receiver::start(vec![Reply::new(503, "")], Reply::ok()).await;
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")]);
    slack::send(&client(), &webhook(&rx), &n, &waiter(10)).await.expect("delivered on the retry");
    assert_eq!(rx.requests().len(), 2);
}

#[tokio::test]
async fn no_service_404_fails_with_slacks_reason_and_without_the_webhook() {
    let rx = Receiver::start(Vec::new(), Reply::new(404, "no_service")).await;
    let hook = webhook(&rx);
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")]);
    let err = slack::send(&client(), &hook, &n, &waiter(10)).await.expect_err("404 is a failure").to_string();
    assert!(err.contains("no_service") && err.contains("404"), "{err}");
    assert!(!err.contains(hook.expose()) && !err.contains(TOKEN) && !err.contains("/services/"), "{err}");
    assert_eq!(rx.requests().len(), 1, "a 4xx is not retried");
}

#[tokio::test]
async fn invalid_payload_400_is_reported() {
    let rx = Receiver::start(Vec::new(), Reply::new(400, "invalid_payload")).await;
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")]);
    let err = slack::send(&client(), &webhook(&rx), &n, &waiter(10)).await.expect_err("400 is a failure").to_string();
    assert!(err.contains("invalid_payload"), "{err}");
}

#[tokio::test]
async fn an_echoed_webhook_url_is_scrubbed_from_the_error() {
    // A proxy that echoes the request line must not leak the token through the error.
    let rx0 = Receiver::ok().await;
    let hook = webhook(&rx0);
    let echo = format!("forbidden: POST {}", hook.expose());
    let rx = Receiver::start(Vec::new(), Reply::new(403, &echo)).await;
    let hook = webhook(&rx);
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")]);
    let err = slack::send(&client(), &hook, &n, &waiter(10)).await.expect_err("403").to_string();
    assert!(!err.contains(TOKEN), "{err}");
}

#[tokio::test]
async fn nothing_listening_fails_without_leaking_the_token() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let hook = Secret::new(format!("http://127.0.0.1:{port}/services/T000/B000/{TOKEN}"));
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")]);
    let err = slack::send(&client(), &hook, &n, &waiter(2)).await.expect_err("nothing listens").to_string();
    assert!(!err.contains(TOKEN) && !err.contains("/services/"), "{err}");
    assert!(err.contains("connect"), "{err}");
}

#[tokio::test]
async fn a_malformed_webhook_url_names_the_setting_not_the_value() {
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::High, "down")]);
    let err = slack::send(&client(), &Secret::new(format!("hooks.slack.com/{TOKEN}")), &n, &waiter(2))
        .await
        .expect_err("not a URL")
        .to_string();
    assert!(err.contains("alerts.slack.webhook_url") && !err.contains(TOKEN), "{err}");
}

#[tokio::test]
async fn an_empty_notice_sends_nothing() {
    let rx = Receiver::ok().await;
    slack::send(&client(), &webhook(&rx), &notice(Vec::new()), &waiter(2)).await.expect("nothing to do");
    assert!(rx.requests().is_empty());
}
