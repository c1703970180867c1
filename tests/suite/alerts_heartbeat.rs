//! The heartbeat ping against a local receiver that records the paths it was called on.

use crate::alert_receiver;

use std::time::Duration;

use alert_receiver::{recording_waiter, Receiver, Reply};
use vaktpost::alerts::heartbeat;
use vaktpost::config::Secret;
use vaktpost::retry::Waiter;

const UUID: &str = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";

/// A waiter with `secs` left whose sleeps return at once.
fn waiter(secs: u64) -> Waiter {
    recording_waiter(secs).0
}

fn targets(rx: &Receiver) -> Vec<String> {
    rx.requests().into_iter().map(|r| format!("{} {}", r.method, r.target)).collect()
}

#[tokio::test]
async fn a_good_run_pings_the_url_itself() {
    let rx = Receiver::ok().await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    heartbeat::ping(&reqwest::Client::new(), &url, true, &waiter(5)).await.expect("pinged");
    assert_eq!(targets(&rx), vec![format!("GET /{UUID}")]);
}

#[tokio::test]
async fn a_failed_run_pings_fail_and_keeps_the_query() {
    let rx = Receiver::ok().await;
    let client = reqwest::Client::new();
    let with_query = Secret::new(rx.url(&format!("/{UUID}?rid=7&create=1")));
    heartbeat::ping(&client, &with_query, false, &waiter(5)).await.expect("pinged");
    let trailing_slash = Secret::new(rx.url(&format!("/ping/{UUID}/")));
    heartbeat::ping(&client, &trailing_slash, false, &waiter(5)).await.expect("pinged");
    heartbeat::ping(&client, &with_query, true, &waiter(5)).await.expect("pinged");
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
    heartbeat::ping(&reqwest::Client::new(), &url, true, &waiter(10)).await.expect("pinged on the retry");
    assert_eq!(targets(&rx), vec![format!("GET /{UUID}"), format!("GET /{UUID}")]);
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_an_error_without_the_url() {
    let rx = Receiver::start(Vec::new(), Reply::new(503, "")).await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    let (w, slept) = recording_waiter(60);
    let err = heartbeat::ping(&reqwest::Client::new(), &url, false, &w).await.expect_err("503 for ever").to_string();
    assert!(err.contains("503") && err.contains("3 attempt") && !err.contains(UUID), "{err}");
    assert_eq!(rx.requests().len(), 3, "three attempts in all");
    let policy = heartbeat::policy();
    let ms = slept.ms();
    assert_eq!(ms.len(), 2, "{ms:?}");
    for (i, m) in ms.iter().enumerate() {
        let base = policy.backoff(i as u32 + 1).as_millis();
        assert!(*m >= base && *m <= 2 * base, "wait {i}: {m} ms outside [{base}, {}]", 2 * base);
    }
}

#[tokio::test]
async fn not_found_is_not_retried_and_does_not_leak_the_url() {
    let rx = Receiver::start(Vec::new(), Reply::new(404, "not found")).await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    let err = heartbeat::ping(&reqwest::Client::new(), &url, true, &waiter(5)).await.expect_err("404").to_string();
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
    let err = heartbeat::ping(&reqwest::Client::new(), &url, true, &waiter(3)).await.expect_err("refused").to_string();
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
    let (w, slept) = recording_waiter(1);
    let err = heartbeat::ping(&reqwest::Client::new(), &url, true, &w).await.expect_err("hangs").to_string();
    // One attempt cut at the 1 s deadline, and no retry past it (bound: 10× the wait).
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(slept.ms().is_empty(), "{:?}", slept.ms());
    assert!(err.contains("timed out") && !err.contains(UUID), "{err}");
}

#[tokio::test]
async fn a_429_waits_its_retry_after_then_pings() {
    let rx = Receiver::start(vec![Reply::new(429, "slow down").header("Retry-After", "5")], Reply::ok()).await;
    let url = Secret::new(rx.url(&format!("/{UUID}")));
    let (w, slept) = recording_waiter(60);
    heartbeat::ping(&reqwest::Client::new(), &url, true, &w).await.expect("pinged after the wait");
    assert_eq!(slept.ms(), [5000]);
    assert_eq!(rx.requests().len(), 2);
}
