//! The `tcp` check against real servers on 127.0.0.1: a plain banner server (SMTP-like
//! greeting), a TLS one with an rcgen certificate, a real `redis-server` answering `PING`
//! with `+PONG`, and servers that misbehave (silent, endless, closed port); bad options are
//! located validation errors.

use std::collections::BTreeMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::documented::{code, text as out_text, Dir};
use crate::support::services::Redis;
use crate::support::tls::{Chain, Versions};
use crate::support::{assert_down, assert_up, load, num, run_loaded, run_yaml, text};
use vaktpost::checks::ErrorKind;

/// A config with one `tcp` monitor named `t` on 127.0.0.1:`port`; `extra` are more keys.
fn yaml(port: u16, extra: &str) -> String {
    let mut s = format!("defaults: {{confirm: false, retries: 0}}\nmonitors:\n  - name: t\n    type: tcp\n    host: 127.0.0.1\n    port: {port}\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// A server that greets each connection with `greeting`, then echoes one line back as
/// `250 <line>` and closes (`tls`: after a handshake with `cfg`).
async fn banner_server(greeting: &'static str, tls: Option<std::sync::Arc<rustls::ServerConfig>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = l.accept().await else { continue };
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(cfg) => {
                        if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                            greet(s, greeting).await
                        }
                    }
                    None => greet(tcp, greeting).await,
                }
            });
        }
    });
    port
}

async fn greet<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, greeting: &str) {
    let _ = s.write_all(greeting.as_bytes()).await;
    let mut buf = vec![0u8; 1024];
    let mut line = Vec::new();
    while !line.ends_with(b"\n") && line.len() < 1024 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => line.extend_from_slice(&buf[..n]),
        }
    }
    let reply = format!("250 {}\r\n", String::from_utf8_lossy(&line).trim_end());
    let _ = s.write_all(reply.as_bytes()).await;
    let _ = s.shutdown().await;
}

#[tokio::test]
async fn a_banner_server_connects_and_its_greeting_matches_expect() {
    let port = banner_server("220 mail.vaktpost.test ESMTP ready\r\n", None).await;
    // Connect only: no banner read.
    let r = run_yaml(&yaml(port, "")).await;
    assert_up(&r);
    assert!(num(&r, "connect_ms") >= 0.0 && num(&r, "response_time_ms") >= num(&r, "connect_ms"));
    assert!(!r.metrics.contains_key("banner") && !r.metrics.contains_key("tls_ms"), "{r:#?}");
    // The greeting against expect.
    let r = run_yaml(&yaml(port, "expect: '^220 '")).await;
    assert_up(&r);
    assert_eq!(text(&r, "banner"), "220 mail.vaktpost.test ESMTP ready");
    // A line sent and its reply.
    let r = run_yaml(&yaml(port, "send: EHLO vaktpost\nexpect: '250 EHLO vaktpost'")).await;
    assert_up(&r);
    assert!(text(&r, "banner").contains("250 EHLO vaktpost"), "{r:#?}");
    // A reply that does not match is an assertion, with what the server said.
    let r = run_yaml(&yaml(port, "timeout: 1\nexpect: '^\\+PONG'")).await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(
        msg.contains("does not match expect") && msg.contains("220 mail") && msg.contains("nothing more within 1s"),
        "{msg}"
    );
    assert_eq!(text(&r, "banner"), "220 mail.vaktpost.test ESMTP ready");
}

#[tokio::test]
async fn tls_banner_needs_a_trusted_certificate_or_insecure_skip_verify() {
    let chain = Chain::new(90);
    let port = banner_server("* OK IMAP4rev1 ready\r\n", Some(chain.server(Versions::Default))).await;
    let r =
        run_yaml(&yaml(port, "tls: true\nserver_name: localhost\ninsecure_skip_verify: true\nexpect: '^\\* OK'")).await;
    assert_up(&r);
    assert!(num(&r, "tls_ms") > 0.0, "{r:#?}");
    assert_eq!(text(&r, "banner"), "* OK IMAP4rev1 ready");
    // The private CA is not trusted by default.
    let msg = assert_down(&run_yaml(&yaml(port, "tls: true\nserver_name: localhost")).await, ErrorKind::Tls);
    assert!(msg.contains("TLS handshake with localhost failed"), "{msg}");
}

#[tokio::test]
async fn redis_server_answers_ping_with_pong() {
    let srv = Redis::start(&[]);
    let r = run_yaml(&yaml(srv.port, "send: PING\nexpect: '^\\+PONG'")).await;
    assert_up(&r);
    assert_eq!(text(&r, "banner"), "+PONG");
    // The default slow_response rule reads the response time of a tcp monitor too.
    let l = load(&yaml(srv.port, "send: PING\nexpect: '^\\+PONG'"));
    let r = run_loaded(&l).await;
    let vars = vaktpost::rules::variables(&l.config.monitors[0], &r, &BTreeMap::new());
    assert!(vars["response_time"].as_f64().unwrap() < 2.0, "{vars:?}");
}

#[tokio::test]
async fn silent_endless_and_closed_servers_fail_with_their_kinds() {
    // Accepts and never speaks: a timeout that says what it waited for.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..16 {
            if let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        }
    });
    let msg = assert_down(&run_yaml(&yaml(silent, "timeout: 0.5\nexpect: '^220'")).await, ErrorKind::Timeout);
    assert!(msg.contains("waiting for the greeting"), "{msg}");

    // Streams bytes without end: cut at the reply cap, an assertion, the banner bounded.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endless = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = l.accept().await {
            let chunk = vec![b'A'; 8192];
            for _ in 0..1024 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
    });
    let r = run_yaml(&yaml(endless, "timeout: 10\nexpect: '^220'")).await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("first 64 KiB"), "{msg}");
    assert_eq!(text(&r, "banner").chars().count(), vaktpost::checks::tcp::MAX_BANNER_CHARS);

    // Nothing listening.
    let closed = crate::support::server::closed_port();
    assert_down(&run_yaml(&yaml(closed, "")).await, ErrorKind::Connect);
}

#[test]
fn bad_ports_regexes_and_tls_options_are_located_errors_exit_2() {
    let bad = "monitors:\n  - name: a\n    type: tcp\n    host: db.example.com\n    port: 70000\n\
               \x20 - name: b\n    type: tcp\n    host: db.example.com\n    port: 0\n    expect: '(unclosed'\n\
               \x20 - name: c\n    type: tcp\n    host: db.example.com\n    port: 25\n    server_name: x\n";
    let Err(errs) = vaktpost::load_str(bad, "t.yml", &BTreeMap::new()) else { panic!("invalid config loaded") };
    let paths: Vec<&str> = errs.iter().map(|d| d.path.as_str()).collect();
    for want in ["monitors[0].port", "monitors[1].port", "monitors[1].expect", "monitors[2].server_name"] {
        assert!(paths.contains(&want), "{want} in {errs:#?}");
    }
    assert!(errs.iter().all(|d| d.line > 0), "located: {errs:#?}");
    let port = errs.iter().find(|d| d.path == "monitors[0].port").unwrap();
    assert!(port.message.contains("1 to 65535"), "{port}");
    let d = Dir::new();
    d.write("vaktpost.yml", bad);
    let o = d.run(&["validate"], &[]);
    assert_eq!(code(&o), 2, "{}", out_text(&o));
    assert!(out_text(&o).contains("invalid regular expression"), "{}", out_text(&o));
}
