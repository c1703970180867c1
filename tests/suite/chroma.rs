//! The `chroma` check against a real Chroma server (one per test binary, started on first
//! use; every test makes its own uniquely named collections), plus a scripted HTTP server
//! for what a local Chroma does not do: token auth, and answers that are not Chroma's.

use crate::support;

use std::sync::atomic::{AtomicUsize, Ordering};

use support::services::{chroma, findings, fired, not_fired, FakeHttp};
use support::{assert_down, assert_up, load, num, run_loaded, text};
use vaktpost::checks::{ErrorKind, Status};

/// A collection name no other test (or earlier run against the same server) uses.
fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// A config with one `chroma` monitor named `vectors`; `extra` lines are more keys of it.
fn yaml(url: &str, extra: &str) -> String {
    let mut s = format!("monitors:\n  - name: vectors\n    type: chroma\n    url: \"{url}\"\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

#[tokio::test]
async fn reports_heartbeat_version_collections_and_record_counts() {
    let c = chroma();
    let (docs, empty) = (unique("docs"), unique("empty"));
    let id = c.create_collection(&docs);
    c.add_records(&id, 3);
    c.create_collection(&empty);
    let l = load(&yaml(&c.url(), &format!("collections: [{docs}, {empty}]")));
    let r = run_loaded(&l).await;
    assert_up(&r);
    assert_eq!(r.metrics["heartbeat_ok"], true);
    assert!(!text(&r, "version").is_empty());
    assert!(num(&r, "collections_count") >= 2.0, "{r:#?}");
    assert_eq!(num(&r, &format!("records.{docs}")), 3.0);
    assert_eq!(num(&r, &format!("records.{empty}")), 0.0);
    assert_eq!(r.metrics["collections_missing"], serde_json::json!([]));
    assert!(findings(&l, &r).is_empty(), "{:?}", findings(&l, &r));
    assert!(vaktpost::report::summary::key_metric(&r).contains("collections"));

    // Rules read record counts as a map: `records.<name>` (or `records["name"]`).
    let rules = format!(
        "rules:\n  - name: docs_small\n    condition: records.{docs} < 10\n    message: \"{{name}} has {{records.{docs}}} docs\"\n  - name: indexed\n    condition: records[\"{empty}\"] == 0\n"
    );
    let l = load(&format!("{}{rules}", yaml(&c.url(), &format!("collections: [{docs}, {empty}]"))));
    assert_eq!(fired(&l, &r, "docs_small"), "vectors has 3 docs");
    fired(&l, &r, "indexed");
}

#[tokio::test]
async fn missing_collection_is_a_finding_not_a_crash() {
    let c = chroma();
    let (present, missing) = (unique("present"), unique("missing"));
    c.create_collection(&present);
    let l = load(&yaml(&c.url(), &format!("collections: [{present}, {missing}]")));
    let r = run_loaded(&l).await;
    assert_eq!(r.status, Status::Degraded, "{r:#?}");
    assert!(r.error.is_none(), "{r:#?}");
    assert_eq!(num(&r, &format!("records.{present}")), 0.0);
    assert!(!r.metrics.contains_key(&format!("records.{missing}")));
    assert_eq!(r.metrics["collections_missing"], serde_json::json!([missing]));
    assert_eq!(
        r.message.as_deref(),
        Some(format!("collection not found in default_tenant/default_database: {missing}").as_str())
    );
    assert_eq!(fired(&l, &r, "chroma_collection_missing"), format!("Chroma vectors is missing collections: {missing}"));
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn unknown_database_is_down_not_an_empty_database() {
    let c = chroma();
    let l = load(&yaml(&c.url(), "database: no_such_db"));
    let r = run_loaded(&l).await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("no_such_db") && msg.contains("does not exist"), "{msg}");
    assert_eq!(r.metrics["heartbeat_ok"], true, "the server itself answered");
}

#[tokio::test]
async fn nothing_listening_is_connect_with_heartbeat_false() {
    let port = support::server::closed_port();
    let r = run_loaded(&load(&yaml(&format!("http://127.0.0.1:{port}"), ""))).await;
    assert_down(&r, ErrorKind::Connect);
    assert_eq!(r.metrics["heartbeat_ok"], false);
}

#[tokio::test]
async fn silent_server_times_out() {
    let srv = support::server::TestServer::silent().await;
    let r = run_loaded(&load(&yaml(&format!("http://127.0.0.1:{}", srv.port()), "timeout: 0.5"))).await;
    let msg = assert_down(&r, ErrorKind::Timeout);
    assert!(msg.contains("/api/v2/heartbeat"), "{msg}");
}

/// A Chroma stand-in that wants `token` in the header its config names.
fn fake_chroma(header: &'static str, want: &'static str) -> FakeHttp {
    FakeHttp::start(move |req| {
        if req.headers.get(header).map(String::as_str) != Some(want) {
            return (401, r#"{"error":"AuthError","message":"Unauthorized"}"#.into());
        }
        let db = "/api/v2/tenants/default_tenant/databases/default_database";
        match req.path.as_str() {
            "/api/v2/heartbeat" => (200, r#"{"nanosecond heartbeat": 1}"#.into()),
            "/api/v2/version" => (200, r#""1.0.0""#.into()),
            p if p == db => (200, r#"{"id":"x","name":"default_database"}"#.into()),
            p if p == format!("{db}/collections_count") => (200, "1".into()),
            p if p == format!("{db}/collections/docs") => (200, r#"{"id":"c0ffee","name":"docs"}"#.into()),
            p if p == format!("{db}/collections/c0ffee/count") => (200, "42".into()),
            _ => (404, r#"{"error":"NotFoundError","message":"nope"}"#.into()),
        }
    })
}

#[tokio::test]
async fn token_goes_in_a_bearer_header_by_default() {
    let srv = fake_chroma("authorization", "Bearer tok-abc-123");
    let l = load(&yaml(&srv.url(""), "collections: [docs]\ntoken: tok-abc-123"));
    let r = run_loaded(&l).await;
    assert_up(&r);
    assert_eq!(num(&r, "records.docs"), 42.0);
    // Heartbeat, version, database, collections_count, collection, count: one connection.
    assert_eq!(srv.seen().len(), 6, "{:?}", srv.seen());
    assert_eq!(srv.connections(), 1);
}

#[tokio::test]
async fn token_goes_in_x_chroma_token_when_configured() {
    let srv = fake_chroma("x-chroma-token", "tok-xyz-789");
    let l = load(&yaml(&srv.url(""), "token: tok-xyz-789\nauth_header: X-Chroma-Token"));
    assert_up(&run_loaded(&l).await);
}

#[tokio::test]
async fn wrong_token_is_auth_and_never_printed() {
    let srv = fake_chroma("authorization", "Bearer right-token");
    let l = load(&yaml(&srv.url(""), "token: wrong-token-456"));
    let r = run_loaded(&l).await;
    let msg = assert_down(&r, ErrorKind::Auth);
    assert!(msg.contains("HTTP 401") && msg.contains("token"), "{msg}");
    assert!(!serde_json::to_string(&r).unwrap().contains("wrong-token-456"));
}

#[tokio::test]
async fn a_server_that_is_not_chroma_is_a_protocol_error() {
    let srv = FakeHttp::start(|_| (200, r#"{"status":"ok"}"#.into()));
    let r = run_loaded(&load(&yaml(&srv.url(""), ""))).await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("not a Chroma heartbeat"), "{msg}");
}

#[tokio::test]
async fn base_url_path_is_kept() {
    let srv = FakeHttp::start(|req| match req.path.as_str() {
        "/chroma/api/v2/heartbeat" => (200, r#"{"nanosecond heartbeat": 1}"#.into()),
        "/chroma/api/v2/version" => (200, r#""1.0.0""#.into()),
        "/chroma/api/v2/tenants/t1/databases/d1" => (200, "{}".into()),
        "/chroma/api/v2/tenants/t1/databases/d1/collections_count" => (200, "0".into()),
        _ => (404, "{}".into()),
    });
    let r = run_loaded(&load(&yaml(&srv.url("/chroma/"), "tenant: t1\ndatabase: d1"))).await;
    assert_up(&r);
    assert_eq!(num(&r, "collections_count"), 0.0);
}
