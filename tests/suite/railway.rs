//! `railway` monitors against a local GraphQL endpoint standing in for Railway's public
//! API: every deployment status, GraphQL `errors` in an HTTP 200, auth failures, and 429
//! with `Retry-After`, plus the request vaktpost sends (query, variables, token header).

use crate::support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use support::fake_api::{ApiReply, ApiReq, FakeApi};
use support::services::{findings, not_fired};
use support::{assert_down, assert_status, assert_up, load_with_env, num, text};
use vaktpost::checks::{run_check, CheckEnv, CheckResult, ErrorKind, Status};
use vaktpost::config::{Loaded, Severity};

const NOW: &str = "2025-06-02T14:00:00Z";
const SERVICE: &str = "5f1c6d2e-8a3b-4c7d-9e0f-1a2b3c4d5e6f";
const ENVIRONMENT: &str = "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b";

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

/// Railway's answer with one deployment of `status`, created `age` before [`NOW`].
fn deployment(status: &str, age: Duration) -> Value {
    let created = now() - chrono::Duration::from_std(age).unwrap();
    json!({"data": {"deployments": {"edges": [{"node": {
        "id": "d3b07384-d9a0-4c9b-8f1e-2b7c6a5d4e3f",
        "status": status,
        "createdAt": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "staticUrl": "web-production-1a2b.up.railway.app"
    }}]}}})
}

fn api(reply: impl Fn(&ApiReq, usize) -> ApiReply + Send + Sync + 'static) -> FakeApi {
    FakeApi::start(reply)
}

fn yaml(api: &FakeApi, extra: &str) -> String {
    let mut y = format!(
        "monitors:\n  - name: web\n    type: railway\n    service_id: {SERVICE}\n    environment_id: {ENVIRONMENT}\n    api_url: {}\n",
        api.url("/graphql/v2")
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        y.push_str("    ");
        y.push_str(line);
        y.push('\n');
    }
    y
}

/// Runs the first monitor at [`NOW`], so ages are exact.
async fn run(loaded: &Loaded) -> CheckResult {
    run_virtual(loaded).await.0
}

/// [`run`] with a recording sleep (virtual time): the result and the waits it made.
async fn run_virtual(loaded: &Loaded) -> (CheckResult, Vec<Duration>) {
    let m = &loaded.config.monitors[0];
    let eff = vaktpost::runner::effective(&loaded.config, m);
    let mut env = CheckEnv::new(vaktpost::redact::Redactor::new(&loaded.secrets));
    let (waiter, slept) = support::clock::recording_waiter();
    env.waiter = waiter;
    let r = run_check(m, &eff, &env, now()).await;
    (r, slept.waits())
}

async fn check_virtual(api: &FakeApi, extra: &str) -> (CheckResult, Vec<Duration>) {
    run_virtual(&load_with_env(&yaml(api, extra), &[("RAILWAY_TOKEN", "rw-account-token-123")])).await
}

async fn check(api: &FakeApi, extra: &str) -> (Loaded, CheckResult) {
    let loaded = load_with_env(&yaml(api, extra), &[("RAILWAY_TOKEN", "rw-account-token-123")]);
    let r = run(&loaded).await;
    (loaded, r)
}

fn fired(l: &Loaded, r: &CheckResult, rule: &str) -> (Severity, String) {
    findings(l, r)
        .into_iter()
        .find(|(n, _, _)| n == rule)
        .map(|(_, s, m)| (s, m))
        .unwrap_or_else(|| panic!("{rule} did not fire: {r:#?}"))
}

#[tokio::test]
async fn success_is_up_and_sends_the_documented_query() {
    let a = api(|_, _| {
        ApiReply::json(200, deployment("SUCCESS", Duration::from_secs(3600))).header("X-RateLimit-Remaining", "998")
    });
    let (l, r) = check(&a, "").await;
    assert_up(&r);
    assert_eq!(text(&r, "deployment_status"), "SUCCESS");
    assert_eq!(text(&r, "deployment_id"), "d3b07384-d9a0-4c9b-8f1e-2b7c6a5d4e3f");
    assert_eq!(num(&r, "deployment_age_s"), 3600.0);
    assert_eq!(text(&r, "deployment_age"), "1h");
    assert_eq!(text(&r, "deployment_url"), "web-production-1a2b.up.railway.app");
    assert_eq!(num(&r, "rate_limit_remaining"), 998.0);
    assert_eq!(num(&r, "max_build_time_s"), 1200.0);
    assert!(findings(&l, &r).is_empty(), "{:?}", findings(&l, &r));

    let seen = a.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/graphql/v2"));
    assert_eq!(req.headers.get("authorization").map(String::as_str), Some("Bearer rw-account-token-123"));
    assert_eq!(req.headers.get("content-type").map(String::as_str), Some("application/json"));
    assert!(!req.headers.contains_key("project-access-token"));
    let body = req.json();
    assert_eq!(body["variables"], json!({"input": {"serviceId": SERVICE, "environmentId": ENVIRONMENT}, "first": 1}));
    let q = body["query"].as_str().unwrap();
    assert!(q.contains("deployments(input: $input, first: $first)"), "{q}");
    assert!(q.contains("edges { node { id status createdAt staticUrl } }"), "{q}");
    // The token never reaches the result.
    assert!(!serde_json::to_string(&r).unwrap().contains("rw-account-token-123"));
}

#[tokio::test]
async fn failed_and_crashed_deployments_are_high_findings() {
    for status in ["FAILED", "CRASHED"] {
        let a = api(move |_, _| ApiReply::json(200, deployment(status, Duration::from_secs(300))));
        let (l, r) = check(&a, "").await;
        assert_status(&r, Status::Degraded);
        assert!(r.error.is_none());
        assert_eq!(text(&r, "deployment_status"), status);
        assert_eq!(
            fired(&l, &r, "railway_deployment_failed"),
            (Severity::High, format!("Railway deployment d3b07384-d9a0-4c9b-8f1e-2b7c6a5d4e3f of web is {status}"))
        );
        // The result is readable: endpoint_down would report the same problem twice.
        not_fired(&l, &r, "endpoint_down");
        not_fired(&l, &r, "railway_build_stuck");
    }
}

#[tokio::test]
async fn building_past_max_build_time_is_stuck_and_before_it_is_fine() {
    for status in ["BUILDING", "DEPLOYING", "QUEUED", "INITIALIZING", "WAITING"] {
        let a = api(move |_, _| ApiReply::json(200, deployment(status, Duration::from_secs(2 * 3600))));
        let (l, r) = check(&a, "max_build_time: 30m").await;
        assert_status(&r, Status::Degraded);
        assert_eq!(
            r.message.as_deref(),
            Some(format!("the latest deployment has been {status} for 2h, over max_build_time 30m").as_str())
        );
        assert_eq!(
            fired(&l, &r, "railway_build_stuck"),
            (
                Severity::Medium,
                format!("Railway deployment d3b07384-d9a0-4c9b-8f1e-2b7c6a5d4e3f of web has been {status} for 2h")
            )
        );
        not_fired(&l, &r, "railway_deployment_failed");
    }
    let a = api(|_, _| ApiReply::json(200, deployment("BUILDING", Duration::from_secs(600))));
    let (l, r) = check(&a, "").await;
    assert_up(&r);
    assert_eq!(r.metrics["deployment_in_progress"], json!(true));
    not_fired(&l, &r, "railway_build_stuck");
}

#[tokio::test]
async fn other_statuses() {
    for (status, want) in [("SLEEPING", Status::Up), ("SKIPPED", Status::Up), ("REMOVED", Status::Degraded)] {
        let a = api(move |_, _| ApiReply::json(200, deployment(status, Duration::from_secs(60))));
        let (_, r) = check(&a, "").await;
        assert_status(&r, want);
    }
    // An unknown status is degraded with the raw value, never a crash.
    let a = api(|_, _| ApiReply::json(200, deployment("hibernating", Duration::from_secs(60))));
    let (l, r) = check(&a, "").await;
    assert_status(&r, Status::Degraded);
    assert_eq!(text(&r, "deployment_status"), "HIBERNATING");
    assert_eq!(r.metrics["unrecognized_statuses"], json!(["deployment_status: HIBERNATING"]));
    assert!(findings(&l, &r).is_empty(), "{:?}", findings(&l, &r));
}

#[tokio::test]
async fn graphql_errors_in_a_200_are_failures() {
    let a = api(|_, _| {
        ApiReply::json(
            200,
            json!({"errors": [{"message": "Problem processing request", "traceId": "123"}], "data": null}),
        )
    });
    let (l, r) = check(&a, "").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert_eq!(
        msg,
        "Railway's API answered GraphQL errors: Problem processing request; check service_id and environment_id"
    );
    assert_eq!(fired(&l, &r, "endpoint_down").0, Severity::High);

    let a = api(|_, _| ApiReply::json(200, json!({"errors": [{"message": "Not Authorized"}], "data": null})));
    let (_, r) = check(&a, "").await;
    let msg = assert_down(&r, ErrorKind::Auth);
    assert!(msg.starts_with("Railway rejected the token (Not Authorized); "), "{msg}");

    let a = api(|_, _| ApiReply::json(401, json!({"message": "Unauthorized"})));
    let (_, r) = check(&a, "").await;
    assert_down(&r, ErrorKind::Auth);

    let a = api(|_, _| ApiReply::json(500, json!({"errors": [{"message": "Internal server error"}]})));
    let (_, r) = check(&a, "").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(msg, "Railway's API answered HTTP 500: Internal server error");

    let a = api(|_, _| ApiReply { status: 200, headers: vec![], body: "<html>gateway</html>".into() });
    let (_, r) = check(&a, "").await;
    assert_down(&r, ErrorKind::Protocol);
}

#[tokio::test]
async fn no_deployments_is_an_assertion_failure() {
    let a = api(|_, _| ApiReply::json(200, json!({"data": {"deployments": {"edges": []}}})));
    let (_, r) = check(&a, "").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert_eq!(
        msg,
        format!(
            "service {SERVICE} in environment {ENVIRONMENT} has no deployments; check service_id and environment_id"
        )
    );
}

#[tokio::test]
async fn short_retry_after_is_waited_out_once() {
    let a = api(|_, n| {
        if n == 1 {
            ApiReply::json(429, json!({"message": "Too many requests"})).header("Retry-After", "1")
        } else {
            ApiReply::json(200, deployment("SUCCESS", Duration::from_secs(60)))
        }
    });
    let (r, waits) = check_virtual(&a, "").await;
    assert_up(&r);
    assert_eq!(waits, [Duration::from_secs(1)], "waited what Retry-After asked, once");
    assert_eq!(num(&r, "rate_limited_wait_ms"), 1000.0);
    assert_eq!(a.seen().len(), 2);
}

#[tokio::test]
async fn rate_limit_reset_is_waited_out_from_the_check_time() {
    // X-RateLimit-Reset (epoch seconds) 7 s after NOW, the check's start time.
    let reset = (now().timestamp() + 7).to_string();
    let a = api(move |_, n| {
        if n == 1 {
            ApiReply::json(429, json!({"message": "Too many requests"})).header("X-RateLimit-Reset", &reset)
        } else {
            ApiReply::json(200, deployment("SUCCESS", Duration::from_secs(60)))
        }
    });
    let (r, waits) = check_virtual(&a, "").await;
    assert_up(&r);
    assert_eq!(waits, [Duration::from_secs(7)]);
    assert_eq!(num(&r, "rate_limited_wait_ms"), 7000.0);
}

#[tokio::test]
async fn a_second_429_is_reported_not_waited_again() {
    let a = api(|_, _| ApiReply::json(429, json!({"message": "Too many requests"})).header("Retry-After", "2"));
    let (r, waits) = check_virtual(&a, "").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert!(
        msg.starts_with("Railway's API answered HTTP 429 Too Many Requests; Railway asks to retry after 2s"),
        "{msg}"
    );
    assert_eq!(waits, [Duration::from_secs(2)]);
    assert_eq!(a.seen().len(), 2);
}

#[tokio::test]
async fn long_retry_after_is_reported_without_hammering() {
    let a = api(|_, _| ApiReply::json(429, json!({"message": "Too many requests"})).header("Retry-After", "120"));
    let (r, waits) = check_virtual(&a, "retries: 2").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(
        msg,
        "Railway's API answered HTTP 429 Too Many Requests; Railway asks to retry after 2m; check this monitor less often (interval) or share fewer checks per token"
    );
    assert_eq!(a.seen().len(), 1, "not retried, whatever `retries` says");
    assert!(waits.is_empty(), "{waits:?}");
}

#[tokio::test]
async fn project_token_goes_in_its_own_header() {
    let a = api(|_, _| ApiReply::json(200, deployment("SUCCESS", Duration::from_secs(60))));
    let loaded = load_with_env(&yaml(&a, "project_token: ${RAILWAY_PROJECT}"), &[("RAILWAY_PROJECT", "proj-tok-456")]);
    let r = run(&loaded).await;
    assert_up(&r);
    let req = &a.seen()[0];
    assert_eq!(req.headers.get("project-access-token").map(String::as_str), Some("proj-tok-456"));
    assert!(!req.headers.contains_key("authorization"));
}

#[tokio::test]
async fn missing_token_is_a_config_error_that_says_where_to_put_it() {
    let a = api(|_, _| ApiReply::json(200, deployment("SUCCESS", Duration::from_secs(60))));
    let loaded = load_with_env(&yaml(&a, ""), &[]);
    let r = run(&loaded).await;
    let msg = assert_down(&r, ErrorKind::Config);
    assert!(msg.starts_with("no Railway token: set RAILWAY_TOKEN"), "{msg}");
    assert!(a.seen().is_empty());
}

#[tokio::test]
async fn retries_ride_out_a_transient_5xx() {
    let a = api(|_, n| {
        if n == 1 {
            ApiReply::json(503, json!({"message": "upstream unavailable"}))
        } else {
            ApiReply::json(200, deployment("SUCCESS", Duration::from_secs(60)))
        }
    });
    let (r, waits) = check_virtual(&a, "retries: 1").await;
    assert_up(&r);
    assert_eq!(a.seen().len(), 2);
    assert_eq!(waits, [Duration::from_millis(200)]);
}
