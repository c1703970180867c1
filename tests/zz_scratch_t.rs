mod smtp_sink;
use std::time::Duration;
use vaktpost::alerts::{email, AlertEvent, EventKind, Notice};
use vaktpost::config::{EmailAlerts, Secret, Severity};
#[tokio::test]
async fn timing() {
    let t = std::time::Instant::now();
    let sink = smtp_sink::SmtpSink::start(smtp_sink::Listen::Plain);
    println!("started {:?}", t.elapsed());
    let ev = AlertEvent { kind: EventKind::Opened, fingerprint: "a/b".into(), monitor: "m".into(), rule: "r".into(), severity: Severity::High, message: "x".into(), first_seen: chrono::Utc::now(), resolved_at: None, issue_url: None, details: vec![] };
    let n = Notice { events: vec![ev], run_url: None, title: "vaktpost".into() };
    let cfg = EmailAlerts { enabled: true, smtp_url: Some(Secret::new(format!("smtp://127.0.0.1:{}?tls=none", sink.port))), from: None, to: vec!["a@b.c".into()], min_severity: None };
    email::send(&cfg, &n, tokio::time::Instant::now() + Duration::from_secs(20)).await.unwrap();
    println!("sent {:?}", t.elapsed());
    let _ = sink.messages();
    println!("read {:?}", t.elapsed());
}
