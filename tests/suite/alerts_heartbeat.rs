//! The heartbeat ping against a local receiver that records the paths it was called on.

use crate::alert_receiver;

use std::time::Duration;

use alert_receiver::{Receiver, Reply};
use tokio::time::Instant;
use vaktpost::alerts::heartbeat;
use vaktpost::config::Secret;

const UUID: &str = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";

fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

fn targets(rx: &Receiver) -> Vec<String> {
    rx.requests().into_iter().map(|r| format!("{} {}", r.method, r.target)).collect()
}

#[tokio::test]
async fn a_good_run_pings_the_url_itself() {
    let rx = Receiver::ok().await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    heartbeat::ping(&reqwest::Client::new(), &url, true, deadline(5)).await.expect("pinged");
    assert_eq!(targets(&rx), vec![format!("GET /{UUID}")]);
}

#[tokio::test]
async fn a_failed_run_pings_fail_and_keeps_the_query() {
    let rx = Receiver::ok().await;
    let client = reqwest::Client::new();
    let with_query = Secret::new(rx.url(&format!("/{UUID}?rid=7&create=1")));
    heartbeat::ping(&client, &with_query, false, deadline(5)).await.expect("pinged");
    let trailing_slash = Secret::new(rx.url(&format!("/ping/{UUID}/")));
    heartbeat::ping(&client, &trailing_slash, false, deadline(5)).await.expect("pinged");
    heartbeat::ping(&client, &with_query, true, deadline(5)).await.expect("pinged");
    assert_eq!(
        targets(&rx),
        vec![
            format!("GET /{UUID}/fail?rid=7&create=1"),
            format!("GET /ping/{UUID}/fail"),
            format!("GET /{UUID}?rid=7&create=1"),
        ]
    );
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let rx = Receiver::start(vec![Reply::new(500, "oops")], Reply::ok()).await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    heartbeat::ping(&reqwest::Client::new(), &url, true, deadline(10)).await.expect("pinged on the retry");
    assert_eq!(targets(&rx), vec![format!("GET /{UUID}"), format!("GET /{UUID}")]);
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_an_error_without_the_url() {
    let rx = Receiver::start(Vec::new(), Reply::new(503, "")).await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    let err = heartbeat::ping(&reqwest::Client::new(), &url, false, deadline(10)).await.expect_err("503 for ever");
    assert!(err.contains("503") && !err.contains(UUID), "{err}");
    assert_eq!(rx.requests().len(), 3, "three attempts in all");
}

#[tokio::test]
async fn not_found_is_not_retried_and_does_not_leak_the_url() {
    let rx = Receiver::start(Vec::new(), Reply::new(404, "not found")).await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    let err = heartbeat::ping(&reqwest::Client::new(), &url, true, deadline(5)).await.expect_err("404");
    assert!(err.contains("404") && !err.contains(UUID) && !err.contains("127.0.0.1"), "{err}");
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn nothing_listening_fails_without_the_url() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = Secret::new(format!("http://127.0.0.1:{port}/{UUID}"));
    let err = heartbeat::ping(&reqwest::Client::new(), &url, true, deadline(3)).await.expect_err("refused");
    assert!(!err.contains(UUID), "{err}");
}

#[tokio::test]
async fn a_hung_receiver_is_bounded_by_the_deadline() {
    // Accepts connections and never answers.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let _hold = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            conns.push(s);
        }
    });
    let url = Secret::new(format!("http://{addr}/{UUID}"));
    let t0 = std::time::Instant::now();
    let err = heartbeat::ping(&reqwest::Client::new(), &url, true, deadline(1)).await.expect_err("hangs");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(err.contains("timed out") && !err.contains(UUID), "{err}");
}
