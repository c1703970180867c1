//! The webhook, Discord, Teams and PagerDuty channels against local receivers that check
//! every payload against the service's documented shape and limits (`alert_receiver::
//! peers`): signatures verified with the secret, 429 + `Retry-After` waited on the
//! virtual clock, 4xx refusals not retried, and through the binary a run that opens and
//! then resolves an alert, `test-alert`, `min_severity`/`enabled: false` and bad configs.

use crate::alert_receiver::peers::{self, hmac_hex};
use crate::alert_receiver::{recording_waiter, Receiver, Reply};
use crate::channels_cli::{actions, text, Dir};

use chrono::{TimeZone, Utc};
use serde_json::Value;
use vaktpost::alerts::{discord, pagerduty, teams, webhook, AlertEvent, EventKind, Notice, SendError};
use vaktpost::config::{DiscordAlerts, PagerdutyAlerts, Secret, Severity, TeamsAlerts, WebhookAlerts};

const SECRET: &str = "whsec-Shared-0-secret";
const TOKEN: &str = "DiscordTok3n0in0the0path0XyZ";
const SIG: &str = "TeamsSig0sekret0value0123";
const ROUTING_KEY: &str = "R0UT1NGKEYabcdef0123456789abcdef";
const RUN_URL: &str = "https://github.com/acme/shop/actions/runs/42";

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
        issue_url: Some("https://github.com/acme/shop/issues/7".to_string()),
        details: vec![("status_code".into(), "503".into()), ("response_time_ms".into(), "12".into())],
    }
}

fn notice(events: Vec<AlertEvent>) -> Notice {
    Notice { events, run_url: Some(RUN_URL.to_string()), title: "vaktpost".to_string() }
}

fn opened() -> Notice {
    notice(vec![
        event(EventKind::Opened, "api_health", Severity::High, "Endpoint api_health is down"),
        event(EventKind::Opened, "memory_status", Severity::Medium, "Memory usage is 93%"),
    ])
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// The bodies a receiver accepted, parsed; panics on any it refused (with why).
fn accepted(rx: &Receiver) -> Vec<Value> {
    rx.requests()
        .iter()
        .map(|r| {
            assert!(r.rejected.is_none(), "the receiver refused a payload: {:?}", r.rejected);
            serde_json::from_slice(&r.body).expect("JSON")
        })
        .collect()
}

fn webhook_cfg(rx: &Receiver, secret: Option<&str>, template: Option<&str>) -> WebhookAlerts {
    WebhookAlerts {
        enabled: true,
        url: Secret::new(rx.url("/hooks/vaktpost?token=abc123token")),
        secret: secret.map(Secret::new),
        template: template.map(str::to_string),
        min_severity: None,
    }
}

async fn webhook_rx(secret: Option<&str>, templated: bool) -> Receiver {
    Receiver::start_as(peers::webhook(secret, templated), Reply::new(401, "bad signature"), Vec::new(), Reply::ok())
        .await
}

// ------------------------------------------------------------------------ webhook

#[tokio::test]
async fn webhook_posts_the_documented_body_signed_with_the_secret() {
    let rx = webhook_rx(Some(SECRET), false).await;
    let now = Utc::now();
    webhook::send(&client(), &webhook_cfg(&rx, Some(SECRET), None), &opened(), now, &recording_waiter(10).0)
        .await
        .expect("delivered");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert!(r.content_type.as_deref().is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(r.header("x-vaktpost-signature"), Some(hmac_hex(SECRET, &r.body).as_str()));
    let v = &accepted(&rx)[0];
    assert_eq!(v["kind"], "opened");
    assert_eq!(v["summary"], "2 alerts opened");
    assert_eq!(v["events"][0]["fingerprint"], "api_health/endpoint_down");
    assert_eq!(v["events"][1]["severity"], "medium");
    assert_eq!(v["events"][0]["links"]["issue"], "https://github.com/acme/shop/issues/7");
    assert_eq!(v["events"][0]["links"]["run"], RUN_URL);
    assert_eq!(v["events"][0]["details"]["status_code"], "503");
    assert!(!String::from_utf8_lossy(&r.body).contains(SECRET), "the secret signs the body, it is not in it");
}

#[tokio::test]
async fn webhook_signed_with_another_secret_is_refused_by_the_receiver_and_not_retried() {
    let rx = webhook_rx(Some("the-receivers-own-secret"), false).await;
    let (w, slept) = recording_waiter(10);
    let err = webhook::send(&client(), &webhook_cfg(&rx, Some(SECRET), None), &opened(), Utc::now(), &w)
        .await
        .expect_err("the signature does not verify");
    assert!(matches!(err, SendError::Rejected(_)), "{err:?}");
    assert!(err.message().contains("401") && err.message().contains("alerts.webhook.secret"), "{err}");
    assert!(!err.message().contains("abc123token"), "{err}");
    assert_eq!(rx.requests().len(), 1);
    assert!(slept.ms().is_empty());
}

#[tokio::test]
async fn webhook_resolve_says_when_and_how_long() {
    let rx = webhook_rx(None, false).await;
    let n = notice(vec![event(EventKind::Resolved, "api_health", Severity::High, "Endpoint api_health is down")]);
    webhook::send(&client(), &webhook_cfg(&rx, None, None), &n, Utc::now(), &recording_waiter(10).0)
        .await
        .expect("delivered");
    let v = &accepted(&rx)[0];
    assert!(rx.requests()[0].header("x-vaktpost-signature").is_none(), "no secret, no signature");
    assert_eq!(v["kind"], "resolved");
    assert_eq!(v["events"][0]["resolved_at"], "2025-01-02T03:42:00Z");
    assert_eq!(v["events"][0]["duration_s"], 2520);
    assert_eq!(v["summary"], "Resolved after 42m: api_health: Endpoint api_health is down");
}

#[tokio::test]
async fn webhook_template_shapes_the_body_and_the_signature_covers_its_bytes() {
    let rx = webhook_rx(Some(SECRET), true).await;
    let t = r#"{"text": {{ summary }}, "alerts": [{% for e in events %}{"name": {{ e.monitor }}, "sev": {{ e.severity }}}{% if not loop.last %},{% endif %}{% endfor %}]}"#;
    let mut n = opened();
    n.events[0].monitor = "quote\" \\ and }} {{ braces".into();
    webhook::send(&client(), &webhook_cfg(&rx, Some(SECRET), Some(t)), &n, Utc::now(), &recording_waiter(10).0)
        .await
        .expect("delivered");
    let v = &accepted(&rx)[0];
    assert_eq!(
        *v,
        serde_json::json!({"text": "2 alerts opened", "alerts": [
            {"name": "quote\" \\ and }} {{ braces", "sev": "high"},
            {"name": "memory_status", "sev": "medium"}
        ]})
    );
}

#[tokio::test]
async fn webhook_rate_limited_waits_its_retry_after_on_the_virtual_clock() {
    let rx = Receiver::start_as(
        peers::webhook(None, false),
        Reply::new(400, "bad"),
        vec![Reply::new(429, "slow down").header("Retry-After", "3")],
        Reply::ok(),
    )
    .await;
    let (w, slept) = recording_waiter(30);
    webhook::send(&client(), &webhook_cfg(&rx, None, None), &opened(), Utc::now(), &w).await.expect("delivered");
    assert_eq!(slept.ms(), [3000]);
    assert_eq!(rx.requests().len(), 2);
}

// ------------------------------------------------------------------------ Discord

fn discord_cfg(rx: &Receiver) -> DiscordAlerts {
    DiscordAlerts {
        enabled: true,
        webhook_url: Secret::new(rx.url(&format!("/api/webhooks/1234/{TOKEN}"))),
        min_severity: None,
    }
}

async fn discord_rx(script: Vec<Reply>) -> Receiver {
    Receiver::start_as(peers::discord(), peers::discord_invalid(), script, Reply::new(204, "")).await
}

#[tokio::test]
async fn discord_embeds_are_coloured_by_severity_and_ping_nobody() {
    let rx = discord_rx(Vec::new()).await;
    let mut n = opened();
    n.events[1].message = "@everyone <@123> **bold** [x](https://evil.example)".into();
    discord::send(&client(), &discord_cfg(&rx), &n, &recording_waiter(10).0).await.expect("delivered");
    let v = &accepted(&rx)[0];
    assert_eq!(v["embeds"][0]["color"], 0xd73a49);
    assert_eq!(v["embeds"][1]["color"], 0xfb8500);
    assert_eq!(v["embeds"][0]["url"], "https://github.com/acme/shop/issues/7");
    let desc = v["embeds"][1]["description"].as_str().unwrap_or("");
    assert!(
        desc.contains("\\<@\u{200b}123\\>")
            && !desc.contains("@everyone")
            && !desc.contains("**")
            && !desc.contains("]("),
        "{desc}"
    );
    assert!(v["content"].as_str().unwrap_or("").contains(&format!("[Workflow run]({RUN_URL})")), "{}", v["content"]);
    assert_eq!(v["allowed_mentions"], serde_json::json!({"parse": []}));
}

#[tokio::test]
async fn discord_three_hundred_long_events_stay_within_discords_limits() {
    let rx = discord_rx(Vec::new()).await;
    let long = "é".repeat(5000);
    let events: Vec<AlertEvent> = (0..300)
        .map(|i| event(EventKind::Opened, &format!("m{i}_{}", "x".repeat(190)), Severity::Low, &long))
        .collect();
    discord::send(&client(), &discord_cfg(&rx), &notice(events), &recording_waiter(10).0).await.expect("delivered");
    let v = &accepted(&rx)[0];
    assert_eq!(v["embeds"].as_array().map(Vec::len), Some(10));
    assert_eq!(v["embeds"][9]["description"], "…and 291 more");
}

#[tokio::test]
async fn discord_429_with_retry_after_is_waited_then_delivered() {
    let limited = Reply::new(429, r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#)
        .header("Retry-After", "1.5");
    let rx = discord_rx(vec![limited.clone(), limited]).await;
    let (w, slept) = recording_waiter(30);
    discord::send(&client(), &discord_cfg(&rx), &opened(), &w).await.expect("delivered after the limit");
    assert_eq!(slept.ms(), [1500, 1500]);
    assert_eq!(rx.requests().len(), 3);
    accepted(&rx);
}

#[tokio::test]
async fn discord_400_and_unknown_webhook_are_rejected_once_without_the_token() {
    for (reply, want) in [
        (peers::discord_invalid(), "50035"),
        (Reply::new(404, r#"{"message": "Unknown Webhook", "code": 10015}"#), "create a new one"),
    ] {
        let rx = discord_rx(Vec::new()).await;
        let rx2 = Receiver::start_as(peers::discord(), peers::discord_invalid(), Vec::new(), reply).await;
        drop(rx);
        let (w, slept) = recording_waiter(30);
        let err = discord::send(&client(), &discord_cfg(&rx2), &opened(), &w).await.expect_err("refused");
        assert!(matches!(err, SendError::Rejected(_)) && err.message().contains(want), "{err:?}");
        assert!(!err.message().contains(TOKEN), "{err}");
        assert_eq!(rx2.requests().len(), 1, "not retried");
        assert!(slept.ms().is_empty());
    }
}

// ------------------------------------------------------------------------ Teams

fn teams_cfg(rx: &Receiver) -> TeamsAlerts {
    TeamsAlerts {
        enabled: true,
        webhook_url: Secret::new(rx.url(&format!(
            "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
        ))),
        min_severity: None,
    }
}

async fn teams_rx(script: Vec<Reply>, default: Reply) -> Receiver {
    Receiver::start_as(peers::teams(), peers::teams_invalid(), script, default).await
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_in_a_workflows_message() {
    let rx = teams_rx(Vec::new(), Reply::new(202, "")).await;
    teams::send(&client(), &teams_cfg(&rx), &opened(), &recording_waiter(10).0).await.expect("delivered");
    let v = &accepted(&rx)[0];
    let card = &v["attachments"][0]["content"];
    assert_eq!(card["body"][1]["style"], "attention");
    assert_eq!(card["body"][2]["style"], "warning");
    assert_eq!(card["actions"][0]["url"], RUN_URL);
    let all = v.to_string();
    assert!(all.contains("api_health") && all.contains("Memory usage is 93%") && all.contains("GitHub issue"), "{all}");
}

#[tokio::test]
async fn teams_many_events_stay_under_28_kb() {
    let rx = teams_rx(Vec::new(), Reply::new(202, "")).await;
    let long = "😀".repeat(1500);
    let events: Vec<AlertEvent> =
        (0..100).map(|i| event(EventKind::Opened, &format!("m{i}"), Severity::High, &long)).collect();
    teams::send(&client(), &teams_cfg(&rx), &notice(events), &recording_waiter(10).0).await.expect("delivered");
    let r = &rx.requests()[0];
    assert!(r.body.len() <= peers::TEAMS_MAX_BYTES && r.rejected.is_none(), "{} bytes", r.body.len());
    assert!(String::from_utf8_lossy(&r.body).contains("more"));
}

#[tokio::test]
async fn teams_429_then_accepted_and_404_rejected() {
    let rx = teams_rx(vec![Reply::new(429, "").header("Retry-After", "2")], Reply::new(202, "")).await;
    let (w, slept) = recording_waiter(30);
    teams::send(&client(), &teams_cfg(&rx), &opened(), &w).await.expect("delivered");
    assert_eq!(slept.ms(), [2000]);

    let gone = r#"{"error":{"code":"WorkflowNotFound","message":"The workflow could not be found."}}"#;
    let rx = teams_rx(Vec::new(), Reply::new(404, gone)).await;
    let (w, slept) = recording_waiter(30);
    let err = teams::send(&client(), &teams_cfg(&rx), &opened(), &w).await.expect_err("gone");
    assert!(matches!(err, SendError::Rejected(_)), "{err:?}");
    assert!(err.message().contains("WorkflowNotFound") && err.message().contains("alerts.teams.webhook_url"), "{err}");
    assert!(!err.message().contains(SIG), "{err}");
    assert_eq!((rx.requests().len(), slept.ms().len()), (1, 0));
}

// ------------------------------------------------------------------------ PagerDuty

fn pd_cfg(rx: &Receiver) -> PagerdutyAlerts {
    PagerdutyAlerts {
        enabled: true,
        routing_key: Secret::new(ROUTING_KEY),
        events_url: Some(rx.url("/v2/enqueue")),
        min_severity: None,
    }
}

async fn pd_rx(script: Vec<Reply>) -> Receiver {
    Receiver::start_as(peers::pagerduty(), peers::pagerduty_invalid("bad"), script, peers::pagerduty_accepted()).await
}

#[tokio::test]
async fn pagerduty_triggers_one_event_per_alert_and_resolves_by_dedup_key() {
    let rx = pd_rx(Vec::new()).await;
    pagerduty::send(&client(), &pd_cfg(&rx), &opened(), &recording_waiter(10).0).await.expect("delivered");
    let resolved =
        notice(vec![event(EventKind::Resolved, "api_health", Severity::High, "Endpoint api_health is down")]);
    pagerduty::send(&client(), &pd_cfg(&rx), &resolved, &recording_waiter(10).0).await.expect("delivered");
    let events = accepted(&rx);
    assert_eq!(events.len(), 3, "two triggers, one resolve");
    assert!(rx.requests().iter().all(|r| r.target == "/v2/enqueue"));
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[0]["dedup_key"], "api_health/endpoint_down");
    assert_eq!(events[0]["payload"]["severity"], "critical");
    assert_eq!(events[0]["payload"]["summary"], "api_health: Endpoint api_health is down");
    assert_eq!(events[0]["payload"]["source"], "api_health");
    assert_eq!(events[0]["payload"]["class"], "endpoint_down");
    assert_eq!(events[0]["links"][0]["href"], "https://github.com/acme/shop/issues/7");
    assert_eq!(events[0]["client_url"], RUN_URL);
    assert_eq!(events[1]["payload"]["severity"], "error");
    assert_eq!(events[1]["dedup_key"], "memory_status/endpoint_down");
    assert_eq!(events[2]["event_action"], "resolve");
    assert_eq!(events[2]["dedup_key"], "api_health/endpoint_down");
}

#[tokio::test]
async fn pagerduty_429_is_retried_and_400_is_rejected_once_without_the_key() {
    let rx = pd_rx(vec![Reply::new(429, "").header("Retry-After", "4"), Reply::new(429, "")]).await;
    let (w, slept) = recording_waiter(60);
    let n = notice(vec![event(EventKind::Opened, "api_health", Severity::Low, "down")]);
    pagerduty::send(&client(), &pd_cfg(&rx), &n, &w).await.expect("delivered");
    let ms = slept.ms();
    assert_eq!(ms.len(), 2, "{ms:?}");
    assert_eq!(ms[0], 4000, "Retry-After honoured");
    assert!((1000..=2000).contains(&ms[1]), "no Retry-After: the delivery backoff ({ms:?})");
    assert_eq!(accepted(&rx)[0]["payload"]["severity"], "warning");

    let rx = Receiver::start_as(
        peers::pagerduty(),
        peers::pagerduty_invalid("bad"),
        Vec::new(),
        peers::pagerduty_invalid("'routing_key' is invalid"),
    )
    .await;
    let (w, slept) = recording_waiter(60);
    let err = pagerduty::send(&client(), &pd_cfg(&rx), &n, &w).await.expect_err("invalid event");
    assert!(matches!(err, SendError::Rejected(_)), "{err:?}");
    assert!(err.message().contains("invalid") && err.message().contains("alerts.pagerduty.routing_key"), "{err}");
    assert!(!err.message().contains(ROUTING_KEY));
    assert_eq!((rx.requests().len(), slept.ms().len()), (1, 0));
}

#[tokio::test]
async fn pagerduty_5xx_is_retried_with_the_delivery_backoff() {
    let rx = pd_rx(vec![Reply::new(500, ""), Reply::new(503, "")]).await;
    let (w, slept) = recording_waiter(60);
    pagerduty::send(&client(), &pd_cfg(&rx), &opened(), &w).await.expect("delivered");
    assert_eq!(rx.requests().len(), 4, "the first event after two 5xx, the second at once");
    assert_eq!(slept.ms().len(), 2);
}

// ------------------------------------------------------------------------ through the binary

struct Peers {
    webhook: Receiver,
    discord: Receiver,
    teams: Receiver,
    pagerduty: Receiver,
}

impl Peers {
    async fn start() -> Peers {
        Peers {
            webhook: webhook_rx(Some(SECRET), false).await,
            discord: discord_rx(Vec::new()).await,
            teams: teams_rx(Vec::new(), Reply::new(202, "")).await,
            pagerduty: pd_rx(Vec::new()).await,
        }
    }

    /// The `alerts:` entries of all four, with `extra` lines per channel.
    fn yaml(&self, extra: &[(&str, &str)]) -> String {
        let more = |name: &str| {
            extra.iter().filter(|(n, _)| *n == name).map(|(_, l)| format!("    {l}\n")).collect::<String>()
        };
        format!(
            "  webhook:\n    url: {}\n    secret: {SECRET}\n{}  discord:\n    webhook_url: {}\n{}  teams:\n    webhook_url: \"{}\"\n{}  pagerduty:\n    routing_key: {ROUTING_KEY}\n    events_url: {}\n{}",
            self.webhook.url("/hook?token=abc123token"),
            more("webhook"),
            discord_cfg(&self.discord).webhook_url.expose(),
            more("discord"),
            teams_cfg(&self.teams).webhook_url.expose(),
            more("teams"),
            self.pagerduty.url("/v2/enqueue"),
            more("pagerduty"),
        )
    }
}

fn one_monitor(url: &str, alerts: &str) -> String {
    format!("defaults:\n  confirm: false\nmonitors:\n  - name: web\n    type: http\n    url: {url}\nalerts:\n{alerts}")
}

fn no_secret_in(s: &str) {
    for secret in [SECRET, TOKEN, SIG, ROUTING_KEY, "abc123token"] {
        assert!(!s.contains(secret), "{secret} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_opens_then_two_passing_runs_resolve_through_all_four_channels() {
    let (down, up) = (Receiver::start(Vec::new(), Reply::new(500, "boom")).await, Receiver::ok().await);
    let p = Peers::start().await;
    let d = Dir::new();
    d.write("vaktpost.yml", &one_monitor(&down.url("/health"), &p.yaml(&[])));
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = d.json("vaktpost-report.json");
    for ch in ["webhook", "discord", "teams", "pagerduty"] {
        let acts = actions(&report, ch);
        assert!(acts.len() == 1 && acts[0]["action"] == "opened" && acts[0]["error"].is_null(), "{ch}: {report}");
    }
    let hooks = accepted(&p.webhook);
    assert_eq!((hooks.len(), &hooks[0]["kind"]), (1, &Value::from("opened")));
    assert_eq!(accepted(&p.discord).len(), 1);
    assert_eq!(accepted(&p.teams).len(), 1);
    let pd = accepted(&p.pagerduty);
    assert_eq!(pd.len(), 1);
    assert_eq!((&pd[0]["event_action"], &pd[0]["dedup_key"]), (&"trigger".into(), &"web/endpoint_down".into()));

    // Back up: endpoint_down resolves after two passing runs.
    d.write("vaktpost.yml", &one_monitor(&up.url("/health"), &p.yaml(&[])));
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "the finding holds until it resolves: {}", text(&o));
    assert_eq!(accepted(&p.pagerduty).len(), 1, "nothing while the alert waits to resolve");
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = d.json("vaktpost-report.json");
    for ch in ["webhook", "discord", "teams", "pagerduty"] {
        let acts = actions(&report, ch);
        assert!(acts.len() == 1 && acts[0]["action"] == "resolved", "{ch}: {report}");
    }
    let hooks = accepted(&p.webhook);
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[1]["kind"], "resolved");
    assert_eq!(accepted(&p.discord)[1]["embeds"][0]["color"], 0x28a745);
    assert_eq!(accepted(&p.teams)[1]["attachments"][0]["content"]["body"][1]["style"], "good");
    let pd = accepted(&p.pagerduty);
    assert_eq!(pd.len(), 2);
    assert_eq!((&pd[1]["event_action"], &pd[1]["dedup_key"]), (&"resolve".into(), &"web/endpoint_down".into()));
    no_secret_in(&format!("{}{}", text(&o), d.all_files()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pagerduty_delivery_stays_pending_and_is_sent_next_run() {
    let down = Receiver::start(Vec::new(), Reply::new(500, "boom")).await;
    let pd = Receiver::start_as(
        peers::pagerduty(),
        peers::pagerduty_invalid("bad"),
        vec![peers::pagerduty_invalid("'payload.summary' is missing")],
        peers::pagerduty_accepted(),
    )
    .await;
    let d = Dir::new();
    let alerts = format!("  pagerduty:\n    routing_key: {ROUTING_KEY}\n    events_url: {}\n", pd.url("/v2/enqueue"));
    d.write("vaktpost.yml", &one_monitor(&down.url("/"), &alerts));
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = d.json("vaktpost-report.json");
    let acts = actions(&report, "pagerduty");
    assert_eq!(acts[0]["action"], "failed", "{report}");
    assert!(acts[0]["error"].as_str().unwrap_or("").contains("payload.summary"), "{report}");
    assert_eq!(pd.requests().len(), 1, "a 400 is not retried");
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(pd.requests().len(), 2, "the pending trigger goes out on the next run");
    assert_eq!(actions(&d.json("vaktpost-report.json"), "pagerduty")[0]["action"], "opened");
    no_secret_in(&format!("{}{}", text(&o), d.all_files()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_alert_reaches_each_new_channel_clearly_marked() {
    let p = Peers::start().await;
    let d = Dir::new();
    d.write("vaktpost.yml", &one_monitor("https://site.example/", &p.yaml(&[])));
    let o = d.run(&["test-alert", "--channel", "pagerduty"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("pagerduty  ok      triggered and resolved a test event"), "{}", text(&o));
    let pd = accepted(&p.pagerduty);
    assert_eq!(pd.len(), 2);
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["payload"]["severity"], "info");
    assert!(pd[0]["payload"]["summary"].as_str().unwrap_or("").starts_with("[TEST]"));
    assert_eq!((&pd[1]["event_action"], &pd[1]["dedup_key"]), (&"resolve".into(), &pd[0]["dedup_key"]));
    assert!(p.webhook.requests().is_empty() && p.discord.requests().is_empty(), "--channel sends only there");

    let o = d.run(&["test-alert"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for line in ["webhook    ok      sent (signed)", "discord    ok      sent", "teams      ok      sent"] {
        assert!(text(&o).contains(line), "{line}: {}", text(&o));
    }
    assert_eq!(accepted(&p.webhook)[0]["kind"], "test");
    assert!(accepted(&p.discord)[0]["content"].as_str().unwrap_or("").starts_with("🧪 TEST"));
    assert!(accepted(&p.teams)[0].to_string().contains("🧪 TEST"));
    no_secret_in(&text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_severity_and_enabled_false_choose_what_the_new_channels_get() {
    let down = Receiver::start(Vec::new(), Reply::new(500, "boom")).await;
    let up = Receiver::ok().await;
    let p = Peers::start().await;
    let d = Dir::new();
    let alerts =
        p.yaml(&[("discord", "min_severity: high"), ("teams", "enabled: false"), ("pagerduty", "min_severity: high")]);
    // web_down: endpoint_down (high); web_odd: a medium finding of its own rule.
    let yaml = format!(
        "defaults:\n  confirm: false\nmonitors:\n  - name: web_down\n    type: http\n    url: {}\n  - name: web_odd\n    type: http\n    url: {}\nrules:\n  - name: odd_status\n    condition: status_code == 200\n    message: \"{{name}} answered 200\"\n    severity: medium\n    monitors: [web_odd]\nalerts:\n{alerts}",
        down.url("/"),
        up.url("/"),
    );
    d.write("vaktpost.yml", &yaml);
    let o = d.run(&["run"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let hook = &accepted(&p.webhook)[0];
    assert_eq!(hook["events"].as_array().map(Vec::len), Some(2), "webhook takes every severity: {hook}");
    let disc = accepted(&p.discord)[0].to_string();
    assert!(disc.contains("web\\\\_down") && !disc.contains("odd"), "Discord only high: {disc}");
    assert!(p.teams.requests().is_empty(), "enabled: false sends nothing");
    let pd = accepted(&p.pagerduty);
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0]["dedup_key"], "web_down/endpoint_down");
    assert!(actions(&d.json("vaktpost-report.json"), "teams").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_channel_settings_are_located_errors_exit_2_and_send_nothing() {
    let p = Peers::start().await;
    let good = p.yaml(&[]);
    for (bad, from, to, want) in [
        (
            "webhook url",
            p.webhook.url("/hook?token=abc123token"),
            "ftp://hooks.example/x".to_string(),
            "alerts.webhook.url: is not a valid http(s) URL",
        ),
        (
            "discord url",
            discord_cfg(&p.discord).webhook_url.expose().to_string(),
            "discord.com/api/webhooks/1/x".into(),
            "alerts.discord.webhook_url: is not a valid http(s) URL",
        ),
        (
            "teams url",
            teams_cfg(&p.teams).webhook_url.expose().to_string(),
            "file:///etc/passwd".into(),
            "alerts.teams.webhook_url: is not a valid http(s) URL",
        ),
        (
            "events url",
            p.pagerduty.url("/v2/enqueue"),
            "mailto:x@example.com".into(),
            "alerts.pagerduty.events_url: is not a valid http(s) URL",
        ),
        (
            "routing key",
            ROUTING_KEY.to_string(),
            "short".into(),
            "alerts.pagerduty.routing_key: is not a PagerDuty integration key",
        ),
    ] {
        let d = Dir::new();
        d.write("vaktpost.yml", &one_monitor("https://site.example/", &good.replace(&from, &to)));
        for cmd in [&["validate"][..], &["run"], &["test-alert"]] {
            let o = d.run(cmd).await;
            assert_eq!(o.status.code(), Some(2), "{bad} {cmd:?}: {}", text(&o));
            assert!(text(&o).contains("vaktpost.yml:") && text(&o).contains(want), "{bad}: {}", text(&o));
        }
    }
    for (template, want) in [
        (r#"'{"m": {{ events[0].mesage }}}'"#, "alerts.webhook.template: does not render: undefined value"),
        (r#"'{"m": {{ events[0].message }'"#, "alerts.webhook.template: does not render: syntax error"),
        (r#"'{"m": "{{ summary }}"}'"#, "alerts.webhook.template: does not render JSON"),
    ] {
        let d = Dir::new();
        let yaml = one_monitor("https://site.example/", &p.yaml(&[("webhook", &format!("template: {template}"))]));
        d.write("vaktpost.yml", &yaml);
        let o = d.run(&["run"]).await;
        assert_eq!(o.status.code(), Some(2), "{template}: {}", text(&o));
        let line = yaml.lines().position(|l| l.contains("template:")).map(|i| i + 1).unwrap_or(0);
        assert!(
            text(&o).contains(&format!("vaktpost.yml:{line}:")) && text(&o).contains(want),
            "{template}: {}",
            text(&o)
        );
    }
    for rx in [&p.webhook, &p.discord, &p.teams, &p.pagerduty] {
        assert!(rx.requests().is_empty(), "nothing is sent with a bad config");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_severity_change_updates_the_new_channels_and_not_slack() {
    let up = Receiver::ok().await;
    let p = Peers::start().await;
    let slack = Receiver::ok().await;
    let d = Dir::new();
    let config = |severity: &str| {
        format!(
            "defaults:\n  confirm: false\nmonitors:\n  - name: web\n    type: http\n    url: {}\nrules:\n  - name: odd_status\n    condition: status_code == 200\n    message: \"{{name}} answered 200\"\n    severity: {severity}\nalerts:\n{}  slack:\n    webhook_url: {}\n",
            up.url("/"),
            p.yaml(&[]),
            slack.url("/services/T000/B000/x"),
        )
    };
    d.write("vaktpost.yml", &config("medium"));
    let o = d.run(&["run", "--fail-on", "never"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    d.write("vaktpost.yml", &config("high"));
    let o = d.run(&["run", "--fail-on", "never"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let pd = accepted(&p.pagerduty);
    assert_eq!(pd.len(), 2, "a trigger at open and one with the new severity");
    assert_eq!((&pd[0]["payload"]["severity"], &pd[1]["payload"]["severity"]), (&"error".into(), &"critical".into()));
    assert_eq!(pd[0]["dedup_key"], pd[1]["dedup_key"]);
    let hooks = accepted(&p.webhook);
    assert_eq!((&hooks[1]["kind"], &hooks[1]["events"][0]["kind"]), (&"updated".into(), &"changed".into()));
    assert!(accepted(&p.discord)[1]["embeds"][0]["title"].as_str().unwrap_or("").contains("Severity now high"));
    assert_eq!(accepted(&p.teams).len(), 2);
    assert_eq!(slack.requests().len(), 1, "Slack keeps to open and resolve");
    let report = d.json("vaktpost-report.json");
    assert_eq!(actions(&report, "pagerduty")[0]["action"], "updated", "{report}");
}
