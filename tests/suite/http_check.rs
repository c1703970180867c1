//! The `http` check end to end, against the fault-injecting server in `tests/support`.
//! Each test starts its own server, so request counts are per test.

use crate::support;

use std::time::{Duration, Instant};

use support::clock::{self, run_http_virtual, run_yaml_virtual};
use support::server::{self, closed_port, TestServer};
use support::*;
use vaktpost::checks::{ErrorKind, Status};

/// Generous upper bound for "finished quickly" (debug builds on a 2-core machine).
const QUICK: Duration = Duration::from_secs(5);

/// The wall-clock bound for a test that waits `wait` (a real socket timeout): ten times
/// the wait, and never under [`QUICK`], so a loaded runner does not fail it.
fn bound(wait: Duration) -> Duration {
    (wait * 10).max(QUICK)
}

// ---------------------------------------------------------------- expected_status

#[tokio::test]
async fn default_expected_status_accepts_2xx() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/ok"), "").await;
    assert_up(&r);
    assert_eq!(num(&r, "status_code"), 200.0);
    assert_eq!(r.kind, "http");
    assert_eq!(r.target, s.url("/ok"));
}

#[tokio::test]
async fn default_expected_status_rejects_404() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/status/404"), "").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(num(&r, "status_code"), 404.0);
    assert!(msg.contains("404") && msg.contains("2xx"), "{msg}");
}

#[tokio::test]
async fn expected_status_as_int_matches() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/status/201"), "expected_status: 201").await);
}

#[tokio::test]
async fn expected_status_int_mismatch_is_down_with_http_status() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/ok"), "expected_status: 201").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(num(&r, "status_code"), 200.0);
    assert!(msg.contains("HTTP 200 OK") && msg.contains("expected 201"), "{msg}");
}

#[tokio::test]
async fn expected_status_as_list_matches_any_member() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/status/204"), "expected_status: [200, 204]").await;
    assert_up(&r);
    assert_eq!(num(&r, "status_code"), 204.0);
    assert_eq!(num(&r, "body_bytes"), 0.0);
}

#[tokio::test]
async fn expected_status_list_mismatch_names_every_member() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/status/202"), "expected_status: [200, 204]").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(num(&r, "status_code"), 202.0);
    assert!(msg.contains("expected 200, 204"), "{msg}");
}

#[tokio::test]
async fn expected_status_class_matches_the_whole_class() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/status/202"), "expected_status: \"2xx\"").await);
    assert_up(&run_http(&s.url("/status/418"), "expected_status: \"4XX\"").await);
    let r = run_http(&s.url("/status/404"), "expected_status: \"2xx\"").await;
    assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(num(&r, "status_code"), 404.0);
}

#[tokio::test]
async fn expected_status_mixed_list_of_class_and_code() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/status/404"), "expected_status: [\"2xx\", 404]").await);
    assert_up(&run_http(&s.url("/ok"), "expected_status: [\"2xx\", 404]").await);
    let r = run_http(&s.url("/status/500"), "expected_status: [\"2xx\", 404]").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(num(&r, "status_code"), 500.0);
    assert!(msg.contains("expected 2xx, 404"), "{msg}");
}

#[tokio::test]
async fn expected_5xx_is_up_and_not_retried() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/status/503"), "expected_status: 503\nretries: 2").await;
    assert_up(&r);
    assert_eq!(s.hits("/status/503"), 1);
    assert_eq!(num(&r, "attempts"), 1.0);
}

// ---------------------------------------------------------------- response time

#[tokio::test]
async fn slow_response_over_max_response_time_is_degraded() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/slow/300"), "max_response_time: \"100ms\"").await;
    assert_status(&r, Status::Degraded);
    let msg = r.message.as_deref().unwrap_or_default();
    assert!(msg.contains("max_response_time") && msg.contains("100ms"), "{r:#?}");
    assert!(num(&r, "response_time_ms") >= 300.0, "{r:#?}");
}

#[tokio::test]
async fn fast_response_under_max_response_time_is_up() {
    let s = TestServer::start().await;
    // A generous threshold: the point is "under it is up", not how fast a loaded runner is.
    let r = run_http(&s.url("/ok"), "max_response_time: \"30s\"").await;
    assert_up(&r);
    assert!(r.message.is_none(), "{r:#?}");
}

// ---------------------------------------------------------------- samples

#[tokio::test]
async fn samples_with_some_failures_are_degraded_with_error_rate() {
    let s = TestServer::start().await;
    // /alternate: requests 2 and 4 of 5 get a 500.
    let r = run_http(&s.url("/alternate"), "samples: 5\nretries: 0").await;
    assert_status(&r, Status::Degraded);
    assert_eq!(num(&r, "samples"), 5.0);
    assert_eq!(num(&r, "errors"), 2.0);
    assert_eq!(num(&r, "error_rate"), 0.4);
    assert_eq!(num(&r, "attempts"), 5.0);
    let p50 = num(&r, "p50_ms");
    let p95 = num(&r, "p95_ms");
    assert!(p50 > 0.0 && p95 >= p50, "{r:#?}");
    assert_eq!(s.hits("/alternate"), 5);
    assert_eq!(r.error.as_ref().map(|e| e.kind), Some(ErrorKind::HttpStatus), "{r:#?}");
    let msg = r.message.as_deref().unwrap_or_default();
    assert!(msg.contains("2 of 5"), "{msg}");
}

#[tokio::test]
async fn samples_all_failing_are_down() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/status/500"), "samples: 3").await;
    assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(num(&r, "samples"), 3.0);
    assert_eq!(num(&r, "errors"), 3.0);
    assert_eq!(num(&r, "error_rate"), 1.0);
    assert_eq!(s.hits("/status/500"), 3);
}

#[tokio::test]
async fn samples_default_comes_from_defaults_section() {
    let s = TestServer::start().await;
    let yaml =
        format!("defaults:\n  samples: 4\nmonitors:\n  - name: t\n    type: http\n    url: \"{}\"\n", s.url("/ok"));
    let r = run_yaml(&yaml).await;
    assert_up(&r);
    assert_eq!(num(&r, "samples"), 4.0);
    assert_eq!(s.hits("/ok"), 4);
}

// ---------------------------------------------------------------- phase timings

#[tokio::test]
async fn phase_timings_are_reported_and_ttfb_covers_server_delay() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/slow/200"), "").await;
    assert_up(&r);
    for m in ["dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms", "body_bytes", "response_time_ms"] {
        let v = num(&r, m);
        assert!(v >= 0.0 && v.is_finite(), "{m} = {v}");
    }
    assert!(num(&r, "ttfb_ms") >= 200.0, "{r:#?}");
    assert!(num(&r, "response_time_ms") >= num(&r, "ttfb_ms"), "{r:#?}");
    assert_eq!(num(&r, "tls_ms"), 0.0, "no TLS over http://");
    assert_eq!(num(&r, "body_bytes"), server::OK_BODY.len() as f64);
    assert_eq!(text(&r, "http_version"), "1.1");
    assert!(r.metrics.get("tls_version").is_none(), "{r:#?}");
    assert!(r.duration_ms >= 200.0, "{r:#?}");
}

// ---------------------------------------------------------------- body assertions

#[tokio::test]
async fn body_contains_all_needles_is_up() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/json"), "body_contains: [\"v2.3.1\", \"hello\"]").await);
    assert_up(&run_http(&s.url("/json"), "body_contains: \"ready\"").await);
}

#[tokio::test]
async fn body_contains_missing_needle_is_assertion() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/json"), "body_contains: [\"hello\", \"goodbye\"]").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("goodbye"), "{msg}");
    // The status was fine, and is still reported.
    assert_eq!(num(&r, "status_code"), 200.0);
}

#[tokio::test]
async fn body_not_contains_is_enforced() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/json"), "body_not_contains: \"error\"").await);
    let r = run_http(&s.url("/json"), "body_not_contains: [\"error\", \"hello\"]").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("hello"), "{msg}");
}

#[tokio::test]
async fn non_utf8_body_does_not_panic_and_fails_body_contains_cleanly() {
    let s = TestServer::start().await;
    // The ASCII part still matches...
    let r = run_http(&s.url("/binary"), "body_contains: \"ok\"").await;
    assert_up(&r);
    assert_eq!(num(&r, "body_bytes"), server::BINARY_BODY.len() as f64);
    // ...and a missing needle is an assertion, not a crash or a protocol error.
    let r = run_http(&s.url("/binary"), "body_contains: \"hello\"").await;
    assert_down(&r, ErrorKind::Assertion);
    // JSON assertions on it say it is not JSON.
    let r = run_http(&s.url("/binary"), "json:\n  \"/status\": ok").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("not valid JSON"), "{msg}");
}

// ---------------------------------------------------------------- JSON assertions

#[tokio::test]
async fn json_pointer_assertions_match() {
    let s = TestServer::start().await;
    let r = run_http(
        &s.url("/json"),
        "json:\n  \"/status\": ok\n  \"/build/number\": 42\n  \"/ready\": true\n  \"/items/1\": 2",
    )
    .await;
    assert_up(&r);
}

#[tokio::test]
async fn json_numbers_compare_by_value() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/json"), "json:\n  \"/build/number\": 42.0").await);
}

#[tokio::test]
async fn json_pointer_mismatch_is_assertion_with_both_values() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/json"), "json:\n  \"/status\": degraded").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("/status") && msg.contains("\"ok\"") && msg.contains("\"degraded\""), "{msg}");
}

#[tokio::test]
async fn json_type_mismatch_is_assertion() {
    let s = TestServer::start().await;
    // "42" (a string) is not 42 (a number).
    let r = run_http(&s.url("/json"), "json:\n  \"/build/number\": \"42\"").await;
    assert_down(&r, ErrorKind::Assertion);
}

#[tokio::test]
async fn json_missing_pointer_is_assertion() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/json"), "json:\n  \"/nope/deeper\": 1").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("/nope/deeper") && msg.contains("missing"), "{msg}");
}

#[tokio::test]
async fn json_assertion_on_invalid_json_is_assertion() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/not-json"), "json:\n  \"/status\": ok").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("not valid JSON"), "{msg}");
}

// ---------------------------------------------------------------- extract

#[tokio::test]
async fn extract_reads_percent_like_the_seed() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/memory/status"), "extract:\n  percent: /percent").await;
    assert_up(&r);
    assert_eq!(num(&r, "percent"), 93.0);
}

#[tokio::test]
async fn extract_turns_numeric_strings_and_booleans_into_numbers() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/memory/status"), "extract:\n  used: /used_mb\n  healthy: /healthy").await;
    assert_up(&r);
    assert_eq!(num(&r, "used"), 512.0);
    assert_eq!(num(&r, "healthy"), 1.0);
}

#[tokio::test]
async fn extract_of_a_non_number_is_assertion() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/memory/status"), "extract:\n  label: /label").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("label") && msg.contains("not a number"), "{msg}");
    assert!(r.metrics.get("label").is_none(), "{r:#?}");
    let r = run_http(&s.url("/memory/status"), "extract:\n  v: /nested/v").await;
    assert_down(&r, ErrorKind::Assertion);
}

#[tokio::test]
async fn extract_of_a_missing_pointer_is_assertion() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/memory/status"), "extract:\n  x: /not/here").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("/not/here"), "{msg}");
}

#[tokio::test]
async fn extract_on_invalid_json_is_assertion() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/not-json"), "extract:\n  percent: /percent").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("not valid JSON"), "{msg}");
}

// ---------------------------------------------------------------- expect_version

#[tokio::test]
async fn expect_version_reads_json_version_by_default() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/json"), "expect_version: v2.3.1").await;
    assert_up(&r);
    assert_eq!(text(&r, "version"), "v2.3.1");
}

#[tokio::test]
async fn expect_version_mismatch_names_both_versions() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/json"), "expect_version: v2.3.0").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("v2.3.1") && msg.contains("v2.3.0"), "{msg}");
    // The version found is still reported.
    assert_eq!(text(&r, "version"), "v2.3.1");
}

#[tokio::test]
async fn expect_version_from_header() {
    let s = TestServer::start().await;
    let r =
        run_http(&s.url("/versioned"), &format!("expect_version: {}\nversion_from: \"header:X-Version\"", server::SHA))
            .await;
    assert_up(&r);
    assert_eq!(text(&r, "version"), server::SHA);
    // Header names are case-insensitive.
    let r =
        run_http(&s.url("/versioned"), &format!("expect_version: {}\nversion_from: \"header:x-version\"", server::SHA))
            .await;
    assert_up(&r);
}

#[tokio::test]
async fn expect_version_short_sha_prefix_matches_full_sha() {
    let s = TestServer::start().await;
    let short = &server::SHA[..7];
    assert_up(
        &run_http(&s.url("/versioned"), &format!("expect_version: \"{short}\"\nversion_from: \"header:X-Version\""))
            .await,
    );
    assert_up(&run_http(&s.url("/versioned"), &format!("expect_version: \"{short}\"")).await);
    assert_up(
        &run_http(&s.url("/json"), &format!("expect_version: \"{short}\"\nversion_from: \"json:/build/sha\"")).await,
    );
}

#[tokio::test]
async fn expect_version_prefix_shorter_than_7_does_not_match() {
    let s = TestServer::start().await;
    let short = &server::SHA[..6];
    let r = run_http(&s.url("/versioned"), &format!("expect_version: \"{short}\"\nversion_from: \"header:X-Version\""))
        .await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains(server::SHA) && msg.contains(short), "{msg}");
}

#[tokio::test]
async fn expect_version_header_mismatch_names_both_versions() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/versioned"), "expect_version: \"0000000\"\nversion_from: \"header:X-Version\"").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains(server::SHA) && msg.contains("0000000"), "{msg}");
}

#[tokio::test]
async fn expect_version_missing_is_assertion_naming_the_source() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/memory/status"), "expect_version: v1").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("json:/version"), "{msg}");
    let r = run_http(&s.url("/ok"), "expect_version: v1\nversion_from: \"header:X-Version\"").await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("header:X-Version"), "{msg}");
}

// ---------------------------------------------------------------- redirects

#[tokio::test]
async fn redirect_chain_is_followed() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/r3"), "body_contains: \"1.4.2\"").await;
    assert_up(&r);
    assert_eq!(num(&r, "redirects"), 3.0);
    assert_eq!(num(&r, "status_code"), 200.0);
    for p in ["/r3", "/r2", "/r1", "/ok"] {
        assert_eq!(s.hits(p), 1, "{p}");
    }
}

#[tokio::test]
async fn redirect_loop_is_protocol_error_and_bounded() {
    let s = TestServer::start().await;
    let t0 = Instant::now();
    let r = run_http(&s.url("/loop"), "").await;
    assert!(t0.elapsed() < QUICK, "took {:?}", t0.elapsed());
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("too many redirects"), "{msg}");
    // The first request plus max_redirects (10) follow-ups.
    assert_eq!(s.hits("/loop"), 11);
}

#[tokio::test]
async fn redirect_loop_respects_max_redirects() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/loop"), "max_redirects: 2").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("more than 2"), "{msg}");
    assert_eq!(s.hits("/loop"), 3);
}

#[tokio::test]
async fn follow_redirects_false_returns_the_redirect_itself() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/loop"), "follow_redirects: false\nexpected_status: 302").await;
    assert_up(&r);
    assert_eq!(num(&r, "status_code"), 302.0);
    assert_eq!(num(&r, "redirects"), 0.0);
    assert_eq!(s.hits("/loop"), 1);
    // Without expected_status, a 302 is not 2xx.
    let r = run_http(&s.url("/r3"), "follow_redirects: false").await;
    assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(s.hits("/r2"), 0);
}

#[tokio::test]
async fn see_other_after_post_becomes_get_without_body() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/see-other"), "method: POST\nbody: \"{\\\"a\\\": 1}\"").await;
    assert_up(&r);
    let first = &s.requests_to("/see-other")[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.body, br#"{"a": 1}"#);
    let echo = &s.requests_to("/echo")[0];
    assert_eq!(echo.method, "GET");
    assert!(echo.body.is_empty(), "{echo:?}");
}

#[tokio::test]
async fn moved_permanently_after_post_becomes_get() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/moved"), "method: POST\nbody: payload").await);
    let echo = &s.requests_to("/echo")[0];
    assert_eq!(echo.method, "GET");
    assert!(echo.body.is_empty(), "{echo:?}");
}

#[tokio::test]
async fn temporary_redirect_keeps_method_and_body() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/temp-redirect"), "method: PUT\nbody: payload").await);
    let echo = &s.requests_to("/echo")[0];
    assert_eq!(echo.method, "PUT");
    assert_eq!(echo.body, b"payload");
}

#[tokio::test]
async fn head_stays_head_across_see_other() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/see-other"), "method: HEAD").await;
    assert_up(&r);
    assert_eq!(s.requests_to("/echo")[0].method, "HEAD");
    assert_eq!(num(&r, "body_bytes"), 0.0);
}

#[tokio::test]
async fn redirect_to_another_host_is_followed() {
    let s = TestServer::start().await;
    let to = format!("http://localhost:{}/echo", s.port());
    let r = run_http(&format!("{}?to={to}", s.url("/goto")), "").await;
    assert_up(&r);
    assert_eq!(num(&r, "redirects"), 1.0);
    assert_eq!(s.requests_to("/echo")[0].header("host"), Some(format!("localhost:{}", s.port()).as_str()));
}

#[tokio::test]
async fn secret_headers_are_not_forwarded_to_another_host_on_redirect() {
    let s = TestServer::start().await;
    // 127.0.0.1 -> localhost: another host (same server, so the test can see what arrived).
    let to = format!("http://localhost:{}/echo", s.port());
    let yaml = http_yaml(&format!("{}?to={to}", s.url("/goto")), "headers:\n  Authorization: \"Bearer ${TOKEN}\"");
    let r = run_loaded(&load_with_env(&yaml, &[("TOKEN", TOKEN)])).await;
    assert_up(&r);
    assert_eq!(s.requests_to("/goto")[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    let echo = &s.requests_to("/echo")[0];
    assert_eq!(echo.header("authorization"), None, "credentials followed a redirect to another host: {echo:?}");
}

#[tokio::test]
async fn secret_headers_are_kept_on_same_host_redirect() {
    let s = TestServer::start().await;
    let yaml = http_yaml(&s.url("/temp-redirect"), "headers:\n  Authorization: \"Bearer ${TOKEN}\"");
    let r = run_loaded(&load_with_env(&yaml, &[("TOKEN", TOKEN)])).await;
    assert_up(&r);
    assert_eq!(s.requests_to("/echo")[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
}

/// A redirect from https to plain http (another origin, readable on the wire) drops
/// every configured header and the URL's credentials, as it does for another host.
#[tokio::test]
async fn credentials_and_secret_headers_are_dropped_on_an_https_to_http_redirect() {
    let tls = TestServer::start_tls().await;
    let plain = TestServer::start().await;
    for to in [plain.url("/echo"), format!("http://localhost:{}/echo", plain.port())] {
        let from = format!("{}?to={to}", tls.url("/goto"));
        let yaml = http_yaml(
            &from,
            "timeout: 3s\ninsecure_skip_verify: true\nheaders:\n  Authorization: \"Bearer ${TOKEN}\"\n  Cookie: \"session=${TOKEN}\"\n  X-Api-Key: \"${TOKEN}\"",
        );
        let r = run_loaded(&load_with_env(&yaml, &[("TOKEN", TOKEN)])).await;
        assert_up(&r);
        assert_eq!(num(&r, "redirects"), 1.0);
        let first = tls.requests_to("/goto").pop().unwrap();
        assert_eq!(first.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()), "{first:?}");
        assert_eq!(first.header("cookie"), Some(format!("session={TOKEN}").as_str()));
        assert_eq!(first.header("x-api-key"), Some(TOKEN));
        let echo = plain.requests_to("/echo").pop().unwrap();
        for h in ["authorization", "cookie", "x-api-key"] {
            assert_eq!(echo.header(h), None, "{h} followed an https->http redirect to {to}: {echo:?}");
        }
        assert!(!format!("{echo:?}").contains(TOKEN), "the secret reached the plain-http hop: {echo:?}");
    }

    // Credentials in the URL (HTTP Basic) are dropped the same way.
    let from = format!("https://user:{TOKEN}@localhost:{}/goto?to={}", tls.port(), plain.url("/echo"));
    let r = run_http(&from, "timeout: 3s\ninsecure_skip_verify: true").await;
    assert_up(&r);
    let first = tls.requests_to("/goto").pop().unwrap();
    assert!(first.header("authorization").is_some_and(|v| v.starts_with("Basic ")), "{first:?}");
    let echo = plain.requests_to("/echo").pop().unwrap();
    assert_eq!(echo.header("authorization"), None, "{echo:?}");
}

#[tokio::test]
async fn redirect_to_unsupported_scheme_is_protocol_error() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/to-ftp"), "").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("ftp://"), "{msg}");
}

// ---------------------------------------------------------------- body size and encoding

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_is_capped_by_max_body_bytes_without_downloading_it_all() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/big"), "timeout: 20s").await;
    // A capped read, not a timeout: the check stopped reading at the cap.
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("max_body_bytes") && msg.contains("10485760"), "{msg}");
    // Once the server has noticed the closed connection, it was not made to send
    // everything: 10 MiB read plus socket buffers at most.
    let written = s.wait_body_done("/big", Duration::from_secs(30)).await;
    assert!(written < 32 << 20, "server wrote {written} of {} bytes", server::BIG_LEN);
}

#[tokio::test]
async fn max_body_bytes_is_inclusive() {
    let s = TestServer::start().await;
    let len = server::JSON_DOC.len();
    let r = run_http(&s.url("/json"), &format!("max_body_bytes: {len}")).await;
    assert_up(&r);
    assert_eq!(num(&r, "body_bytes"), len as f64);
    let r = run_http(&s.url("/json"), &format!("max_body_bytes: {}", len - 1)).await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("max_body_bytes"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bomb_is_capped_by_max_body_bytes() {
    let s = TestServer::start().await;
    let bomb = server::gzip_bomb();
    assert!(bomb.len() < 1 << 20, "the bomb itself is small ({} bytes)", bomb.len());
    // A capped read, not a timeout (which a full inflation could run into).
    let r = run_http(&s.url("/gzip-bomb"), "timeout: 20s").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("max_body_bytes") && msg.contains("after gzip decoding"), "{msg}");
}

#[tokio::test]
async fn gzip_bomb_fixture_is_valid_gzip() {
    // The bomb must be a real gzip stream, so the test above measures the cap and not
    // a decoding error. Inflate a prefix and check it is zeros.
    use std::io::Read;
    let mut d = flate2::read::GzDecoder::new(server::gzip_bomb()).take(3 << 20);
    let mut out = Vec::new();
    d.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), 3 << 20);
    assert!(out.iter().all(|b| *b == 0));
}

#[tokio::test]
async fn small_gzip_body_is_decoded_before_assertions() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/gzip"), "body_contains: \"hello from gzip\"\njson:\n  \"/status\": ok").await;
    assert_up(&r);
    assert_eq!(num(&r, "body_bytes"), server::GZIP_TEXT.len() as f64, "body_bytes counts decoded bytes");
}

#[tokio::test]
async fn invalid_gzip_body_is_protocol_error() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/bad-gzip"), "").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("gzip"), "{msg}");
}

#[tokio::test]
async fn chunked_body_is_reassembled() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/chunked"), "json:\n  \"/status\": ok\n  \"/chunks\": three").await;
    assert_up(&r);
    assert_eq!(num(&r, "body_bytes"), 32.0);
}

#[tokio::test]
async fn head_request_reads_no_body() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/ok"), "method: HEAD").await;
    assert_up(&r);
    assert_eq!(num(&r, "body_bytes"), 0.0);
    assert_eq!(s.requests_to("/ok")[0].method, "HEAD");
}

// ---------------------------------------------------------------- network failures

#[tokio::test]
async fn connection_reset_after_request_is_connect_error() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/reset"), "timeout: 3s").await;
    assert_down(&r, ErrorKind::Connect);
    assert_eq!(s.hits("/reset"), 1);
}

#[tokio::test]
async fn connection_reset_on_accept_is_connect_error() {
    let s = TestServer::reset_on_accept().await;
    let r = run_http(&s.url("/"), "timeout: 3s").await;
    assert_down(&r, ErrorKind::Connect);
}

#[tokio::test]
async fn connection_closed_without_answer_is_connect_error() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/close"), "timeout: 3s").await;
    let msg = assert_down(&r, ErrorKind::Connect);
    assert!(msg.contains("closed"), "{msg}");
}

#[tokio::test]
async fn connection_refused_is_connect_error() {
    let port = closed_port();
    // Refused at once, not after the timeout: a 60 s timeout, a bound of half that.
    let t0 = Instant::now();
    let r = run_http(&format!("http://127.0.0.1:{port}/"), "timeout: 60s").await;
    assert!(t0.elapsed() < Duration::from_secs(30), "took {:?}", t0.elapsed());
    let msg = assert_down(&r, ErrorKind::Connect);
    assert!(msg.contains(&port.to_string()), "{msg}");
}

#[tokio::test]
async fn unresolvable_host_is_dns_error() {
    let t0 = Instant::now();
    let r = run_http("http://nothing.invalid/", "timeout: 60s").await;
    assert!(t0.elapsed() < Duration::from_secs(30), "took {:?}", t0.elapsed());
    let msg = assert_down(&r, ErrorKind::Dns);
    assert!(msg.contains("nothing.invalid"), "{msg}");
}

#[tokio::test]
async fn server_that_never_answers_times_out_naming_the_phase() {
    let s = TestServer::start().await;
    let t0 = Instant::now();
    let r = run_http(&s.url("/hang"), "timeout: \"300ms\"").await;
    let took = t0.elapsed();
    assert!(took < bound(Duration::from_millis(300)), "took {took:?}");
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    let msg = assert_down(&r, ErrorKind::Timeout);
    assert!(msg.contains("300ms") && msg.contains("waiting for the response headers"), "{msg}");
}

#[tokio::test]
async fn silent_listener_times_out() {
    let s = TestServer::silent().await;
    let t0 = Instant::now();
    let r = run_http(&s.url("/"), "timeout: \"300ms\"").await;
    assert!(t0.elapsed() < bound(Duration::from_millis(300)), "took {:?}", t0.elapsed());
    assert_down(&r, ErrorKind::Timeout);
}

#[tokio::test]
async fn stalled_body_times_out_while_reading_the_body() {
    let s = TestServer::start().await;
    let t0 = Instant::now();
    let r = run_http(&s.url("/slow-body"), "timeout: \"300ms\"").await;
    assert!(t0.elapsed() < bound(Duration::from_millis(300)), "took {:?}", t0.elapsed());
    let msg = assert_down(&r, ErrorKind::Timeout);
    assert!(msg.contains("reading the body"), "{msg}");
}

#[tokio::test]
async fn tls_handshake_that_never_completes_times_out_naming_the_phase() {
    let s = TestServer::silent().await;
    let url = format!("https://localhost:{}/", s.port());
    let t0 = Instant::now();
    let r = run_http(&url, "timeout: \"300ms\"").await;
    assert!(t0.elapsed() < bound(Duration::from_millis(300)), "took {:?}", t0.elapsed());
    let msg = assert_down(&r, ErrorKind::Timeout);
    assert!(msg.contains("TLS handshake"), "{msg}");
}

#[tokio::test]
async fn truncated_body_is_an_error_not_a_success() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/truncated"), "timeout: 3s").await;
    assert_eq!(r.status, Status::Down, "{r:#?}");
    let e = r.error.as_ref().unwrap();
    assert!(matches!(e.kind, ErrorKind::Protocol | ErrorKind::Connect), "{r:#?}");
    assert!(e.message.contains("body"), "{r:#?}");
}

#[tokio::test]
async fn connection_reset_mid_body_is_connect_error() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/reset-mid-body"), "timeout: 3s").await;
    let msg = assert_down(&r, ErrorKind::Connect);
    assert!(msg.contains("body"), "{msg}");
}

#[tokio::test]
async fn ipv6_literal_url_is_checked() {
    let Some(s) = TestServer::start_ipv6().await else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    let r = run_http(&s.url("/echo"), "timeout: 3s").await;
    assert_up(&r);
    assert_eq!(s.requests_to("/echo")[0].header("host"), Some(format!("[::1]:{}", s.port()).as_str()));
}

#[tokio::test]
async fn non_http_answer_is_protocol_error() {
    let s = TestServer::start().await;
    let r = run_http(&s.url("/garbage"), "timeout: 3s").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("HTTP"), "{msg}");
}

// ---------------------------------------------------------------- retries
//
// Retries wait through the run's sleep: these tests record the waits (virtual time) and
// assert them exactly, in milliseconds of wall time.

#[tokio::test]
async fn retries_recover_from_transient_503() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/flaky/2"), "retries: 2").await;
    assert_up(&r);
    assert_eq!(num(&r, "attempts"), 3.0);
    assert_eq!(s.hits("/flaky/2"), 3);
    assert_eq!(clock::ms(&waits), [200, 400], "200 ms doubling");
}

#[tokio::test]
async fn one_503_then_200_waits_exactly_the_first_backoff_once() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/flaky/1"), "retries: 2").await;
    assert_up(&r);
    assert_eq!(num(&r, "attempts"), 2.0);
    assert_eq!(waits, [Duration::from_millis(200)]);
}

#[tokio::test]
async fn backoff_doubles_up_to_its_3s_cap() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/flaky/9"), "retries: 6").await;
    assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(num(&r, "attempts"), 7.0);
    assert_eq!(clock::ms(&waits), [200, 400, 800, 1600, 3000, 3000]);
}

#[tokio::test]
async fn retries_exhausted_report_the_last_failure() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/flaky/5"), "retries: 1").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(msg, "HTTP 503 Service Unavailable, expected 2xx");
    assert_eq!(num(&r, "attempts"), 2.0);
    assert_eq!(num(&r, "status_code"), 503.0);
    assert_eq!(s.hits("/flaky/5"), 2);
    assert_eq!(clock::ms(&waits), [200]);
}

#[tokio::test]
async fn retries_default_comes_from_defaults_section() {
    let s = TestServer::start().await;
    let yaml = format!(
        "defaults:\n  retries: 1\nmonitors:\n  - name: t\n    type: http\n    url: \"{}\"\n",
        s.url("/flaky/1")
    );
    let (r, waits) = run_yaml_virtual(&yaml).await;
    assert_up(&r);
    assert_eq!(s.hits("/flaky/1"), 2);
    assert_eq!(clock::ms(&waits), [200]);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/status/404"), "retries: 2").await;
    assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(s.hits("/status/404"), 1);
    assert_eq!(num(&r, "attempts"), 1.0);
    assert!(waits.is_empty(), "{waits:?}");
}

#[tokio::test]
async fn too_many_requests_is_retried() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/status/429"), "retries: 1").await;
    assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(s.hits("/status/429"), 2);
    assert_eq!(clock::ms(&waits), [200]);
}

#[tokio::test]
async fn assertion_failures_are_not_retried() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/ok"), "retries: 2\nbody_contains: \"not there\"").await;
    assert_down(&r, ErrorKind::Assertion);
    assert_eq!(s.hits("/ok"), 1);
    assert_eq!(num(&r, "attempts"), 1.0);
    assert!(waits.is_empty(), "{waits:?}");
}

#[tokio::test]
async fn timeouts_are_retried() {
    let s = TestServer::start().await;
    // Two real 200 ms socket timeouts; the backoff between them is virtual.
    let t0 = Instant::now();
    let (r, waits) = run_http_virtual(&s.url("/hang"), "timeout: \"200ms\"\nretries: 1").await;
    assert!(t0.elapsed() < bound(Duration::from_millis(400)), "took {:?}", t0.elapsed());
    assert_down(&r, ErrorKind::Timeout);
    assert_eq!(s.hits("/hang"), 2);
    assert_eq!(num(&r, "attempts"), 2.0);
    assert_eq!(clock::ms(&waits), [200]);
}

#[tokio::test]
async fn connection_resets_are_retried() {
    let s = TestServer::reset_on_accept().await;
    let (r, waits) = run_http_virtual(&s.url("/"), "timeout: 3s\nretries: 2").await;
    assert_down(&r, ErrorKind::Connect);
    assert_eq!(s.connections(), 3);
    assert_eq!(num(&r, "attempts"), 3.0);
    assert_eq!(clock::ms(&waits), [200, 400]);
}

#[tokio::test]
async fn retry_after_header_is_honoured() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/flaky-retry-after/1"), "retries: 1").await;
    assert_up(&r);
    assert_eq!(s.hits("/flaky-retry-after/1"), 2);
    // Retry-After: 1 (seconds) rather than the 200 ms first backoff.
    assert_eq!(waits, [Duration::from_secs(1)]);

    let (r, waits) = run_http_virtual(&s.url("/flaky-retry-after/1/3"), "retries: 2").await;
    assert_up(&r);
    assert_eq!(waits, [Duration::from_secs(3)]);
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_its_10s_cap() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/flaky-retry-after/1/10"), "retries: 1").await;
    assert_up(&r);
    assert_eq!(waits, [Duration::from_secs(10)], "10 s is within the cap");
}

#[tokio::test]
async fn retry_after_over_the_10s_cap_is_not_retried_and_the_report_says_so() {
    let s = TestServer::start().await;
    let (r, waits) = run_http_virtual(&s.url("/flaky-retry-after/1/11"), "retries: 3").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(msg, "HTTP 503 Service Unavailable, expected 2xx; not retried, as the server asked to wait 11s");
    assert_eq!(s.hits("/flaky-retry-after/1/11"), 1);
    assert_eq!(num(&r, "attempts"), 1.0);
    assert!(waits.is_empty(), "{waits:?}");
}

#[tokio::test]
async fn no_retry_wait_passes_the_run_deadline() {
    use vaktpost::checks::{run_check, CheckEnv};
    let s = TestServer::start().await;
    let loaded = load(&http_yaml(&s.url("/flaky-retry-after/1/3"), "retries: 2"));
    let m = &loaded.config.monitors[0];
    let eff = vaktpost::runner::effective(&loaded.config, m);
    let mut env = CheckEnv::new(vaktpost::redact::Redactor::new(&loaded.secrets));
    let (waiter, slept) = clock::recording_waiter();
    // 2 s left, the server asks for 3 s: the wait is not started.
    env.waiter = waiter.until(Instant::now() + Duration::from_secs(2));
    let r = run_check(m, &eff, &env, chrono::Utc::now()).await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert!(msg.ends_with("; not retried, as the next attempt (in 3s) would pass the run's deadline"), "{msg}");
    assert_eq!(num(&r, "attempts"), 1.0);
    assert!(slept.waits().is_empty());
}

// ---------------------------------------------------------------- request shape

#[tokio::test]
async fn request_method_body_and_headers_arrive_as_configured() {
    let s = TestServer::start().await;
    let extra = "method: post\nbody: '{\"ping\": 1}'\nheaders:\n  Content-Type: application/json\n  X-Custom: abc 123";
    let r = run_http(&s.url("/echo?a=1&b=two"), extra).await;
    assert_up(&r);
    let reqs = s.requests_to("/echo");
    assert_eq!(reqs.len(), 1);
    let q = &reqs[0];
    assert_eq!(q.method, "POST");
    assert_eq!(q.target, "/echo?a=1&b=two");
    assert_eq!(q.body, br#"{"ping": 1}"#);
    assert_eq!(q.header("content-type"), Some("application/json"));
    assert_eq!(q.header("x-custom"), Some("abc 123"));
    assert_eq!(q.header("content-length"), Some("11"));
    assert_eq!(q.header("host"), Some(format!("127.0.0.1:{}", s.port()).as_str()));
    let ua = q.header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("vaktpost/"), "{ua}");
    let ae = q.header("accept-encoding").unwrap_or_default();
    assert!(ae.contains("gzip"), "{ae}");
}

#[tokio::test]
async fn default_request_is_a_get_without_body() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/echo"), "").await);
    let q = &s.requests_to("/echo")[0];
    assert_eq!(q.method, "GET");
    assert!(q.body.is_empty());
    assert!(q.header("user-agent").unwrap_or_default().starts_with("vaktpost/"));
}

#[tokio::test]
async fn configured_user_agent_replaces_the_default() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/echo"), "headers:\n  User-Agent: my-probe/1.0").await);
    let q = &s.requests_to("/echo")[0];
    let uas: Vec<_> = q.headers.iter().filter(|(k, _)| k == "user-agent").collect();
    assert_eq!(uas.len(), 1, "{q:?}");
    assert_eq!(uas[0].1, "my-probe/1.0");
}

#[tokio::test]
async fn percent_encoded_path_and_query_are_sent_unchanged() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/echo?q=a%20b&x=%2F"), "").await);
    assert_eq!(s.requests_to("/echo")[0].target, "/echo?q=a%20b&x=%2F");
}

#[tokio::test]
async fn host_header_can_be_overridden_for_virtual_hosts() {
    let s = TestServer::start().await;
    assert_up(&run_http(&s.url("/echo"), "headers:\n  Host: app.internal.example").await);
    let q = &s.requests_to("/echo")[0];
    let hosts: Vec<_> = q.headers.iter().filter(|(k, _)| k == "host").collect();
    assert_eq!(hosts.len(), 1, "{q:?}");
    assert_eq!(hosts[0].1, "app.internal.example");
}

#[tokio::test]
async fn url_userinfo_is_sent_as_basic_auth() {
    let s = TestServer::start().await;
    let url = format!("http://user:pa55word@127.0.0.1:{}/echo", s.port());
    let r = run_http(&url, "").await;
    assert_up(&r);
    // base64("user:pa55word")
    assert_eq!(s.requests_to("/echo")[0].header("authorization"), Some("Basic dXNlcjpwYTU1d29yZA=="));
}

#[tokio::test]
async fn url_userinfo_is_redacted_from_the_target() {
    let port = closed_port();
    let r = run_http(&format!("http://user:pa55word@127.0.0.1:{port}/x"), "timeout: 3s").await;
    assert_down(&r, ErrorKind::Connect);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("pa55word"), "{json}");
    assert!(r.target.contains("***@127.0.0.1"), "{}", r.target);
}

// ---------------------------------------------------------------- secrets

const TOKEN: &str = "s3cr3t-t0ken-value-987";

#[tokio::test]
async fn secret_header_and_query_token_never_appear_in_the_result() {
    let port = closed_port();
    let yaml = http_yaml(
        &format!("http://127.0.0.1:{port}/health?token=${{TOKEN}}&page=2"),
        "timeout: 3s\nheaders:\n  Authorization: \"Bearer ${TOKEN}\"",
    );
    let loaded = load_with_env(&yaml, &[("TOKEN", TOKEN)]);
    let r = run_loaded(&loaded).await;
    assert_down(&r, ErrorKind::Connect);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains(TOKEN), "token leaked: {json}");
    assert!(r.target.contains("token=***"), "{}", r.target);
    assert!(r.target.contains("page=2"), "{}", r.target);
}

#[tokio::test]
async fn secret_in_absolute_redirect_location_is_redacted_from_the_error() {
    let s = TestServer::start().await;
    let yaml = http_yaml(&format!("{}?token=${{TOKEN}}", s.url("/leak-abs")), "max_redirects: 1");
    let loaded = load_with_env(&yaml, &[("TOKEN", TOKEN)]);
    let r = run_loaded(&loaded).await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("too many redirects"), "{msg}");
    assert!(msg.contains("token=***"), "{msg}");
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains(TOKEN), "token leaked: {json}");
    // It was really sent.
    assert_eq!(s.requests_to("/leak-abs")[0].target, format!("/leak-abs?token={TOKEN}"));
}

#[tokio::test]
async fn secret_header_value_is_redacted_even_where_it_is_not_a_url() {
    // The same token is a header secret, so it is scrubbed from free text wherever it
    // shows up, here in a relative Location echoed into the error.
    let s = TestServer::start().await;
    let yaml = http_yaml(
        &format!("{}?token=${{TOKEN}}", s.url("/leak")),
        "max_redirects: 1\nheaders:\n  X-Api-Token: \"${TOKEN}\"",
    );
    let loaded = load_with_env(&yaml, &[("TOKEN", TOKEN)]);
    let r = run_loaded(&loaded).await;
    assert_down(&r, ErrorKind::Protocol);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains(TOKEN), "token leaked: {json}");
    assert_eq!(s.requests_to("/leak")[0].header("x-api-token"), Some(TOKEN));
}

#[tokio::test]
async fn url_only_secret_in_relative_redirect_location_is_redacted() {
    // The token is only in the URL's query (no header carries it). A server that
    // redirects to a relative Location with the same query puts it in the error message.
    let s = TestServer::start().await;
    let yaml = http_yaml(&format!("{}?token=${{TOKEN}}", s.url("/leak")), "max_redirects: 1");
    let loaded = load_with_env(&yaml, &[("TOKEN", TOKEN)]);
    let r = run_loaded(&loaded).await;
    assert_down(&r, ErrorKind::Protocol);
    assert!(r.target.contains("token=***"), "{}", r.target);
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains(TOKEN), "token leaked: {json}");
}

// ---------------------------------------------------------------- HTTPS

#[tokio::test(flavor = "multi_thread")]
async fn self_signed_certificate_is_tls_error_by_default() {
    let s = TestServer::start_tls().await;
    let r = run_http(&s.url("/ok"), "timeout: 3s").await;
    let msg = assert_down(&r, ErrorKind::Tls);
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
    assert_eq!(s.total_hits(), 0, "no request is sent over an unverified connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn insecure_skip_verify_accepts_self_signed_certificate() {
    let s = TestServer::start_tls().await;
    let r = run_http(&s.url("/ok"), "timeout: 3s\ninsecure_skip_verify: true\nbody_contains: \"1.4.2\"").await;
    assert_up(&r);
    let v = text(&r, "tls_version");
    assert!(v == "1.3" || v == "1.2", "{v}");
    assert!(num(&r, "tls_ms") > 0.0, "{r:#?}");
    assert_eq!(text(&r, "http_version"), "1.1");
    let q = &s.requests_to("/ok")[0];
    assert_eq!(q.header("host"), Some(format!("localhost:{}", s.port()).as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn https_redirect_chain_over_tls() {
    let s = TestServer::start_tls().await;
    // /r2 -> /r1 -> /ok are relative, so they stay on https.
    let r = run_http(&s.url("/r2"), "timeout: 3s\ninsecure_skip_verify: true").await;
    assert_up(&r);
    assert_eq!(num(&r, "redirects"), 2.0);
    assert!(num(&r, "tls_ms") > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_is_negotiated_with_alpn() {
    let s = TestServer::start_h2().await;
    let r = run_http(
        &s.url("/h2/path?x=1"),
        "timeout: 3s\ninsecure_skip_verify: true\nmethod: POST\nbody: hi\nheaders:\n  X-Custom: yes",
    )
    .await;
    assert_up(&r);
    assert_eq!(text(&r, "http_version"), "2");
    let q = &s.requests_to("/h2/path")[0];
    assert_eq!(q.method, "POST");
    assert_eq!(q.target, "/h2/path?x=1");
    assert_eq!(q.body, b"hi");
    assert_eq!(q.header(":authority"), Some(format!("localhost:{}", s.port()).as_str()));
    assert_eq!(q.header("x-custom"), Some("yes"));
    assert!(q.header("user-agent").unwrap_or_default().starts_with("vaktpost/"));
}
