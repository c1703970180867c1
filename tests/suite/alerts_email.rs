//! The email channel end to end against a real SMTP server (aiosmtpd): plain for local
//! relays, STARTTLS and implicit TLS with a self-signed certificate, and the failures.

use crate::smtp_sink;

use crate::alert_receiver::recording_waiter;
use chrono::{TimeZone, Utc};
use smtp_sink::{free_port, self_signed, Listen, Script, SmtpSink};
use vaktpost::alerts::{email, AlertEvent, EventKind, Notice};
use vaktpost::config::{EmailAlerts, Secret, Severity};
use vaktpost::retry::Waiter;

const RUN_URL: &str = "https://github.com/acme/shop/actions/runs/42";
const ISSUE_URL: &str = "https://github.com/acme/shop/issues/7";

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
        issue_url: Some(ISSUE_URL.to_string()),
        details: vec![("status_code".into(), "503".into())],
    }
}

fn notice(events: Vec<AlertEvent>) -> Notice {
    Notice { events, run_url: Some(RUN_URL.to_string()), title: "vaktpost".to_string() }
}

fn cfg(url: &str) -> EmailAlerts {
    EmailAlerts {
        enabled: true,
        smtp_url: Some(Secret::new(url)),
        from: Some("monitor@acme.test".to_string()),
        to: vec!["oncall@acme.test".to_string(), "Ops Team <ops@acme.test>".to_string()],
        min_severity: None,
        ca_file: None,
    }
}

/// A waiter with `secs` left whose sleeps return at once.
fn waiter(secs: u64) -> Waiter {
    recording_waiter(secs).0
}

fn down() -> Notice {
    notice(vec![event(EventKind::Opened, "api_health", Severity::High, "Endpoint api_health is down")])
}

fn str_of<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

#[tokio::test]
async fn one_opened_event_arrives_with_subject_sender_recipients_and_body() {
    let sink = SmtpSink::start(Listen::Plain);
    let c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    email::send(&c, None, &down(), &waiter(20)).await.expect("sent");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(str_of(m, "subject"), "[vaktpost] 🔴 opened: api_health: Endpoint api_health is down");
    assert_eq!(str_of(m, "from"), "monitor@acme.test");
    assert_eq!(str_of(m, "mail_from"), "monitor@acme.test");
    assert!(str_of(m, "to").contains("oncall@acme.test") && str_of(m, "to").contains("Ops Team <ops@acme.test>"));
    assert_eq!(m["rcpt_tos"], serde_json::json!(["oncall@acme.test", "ops@acme.test"]));
    let plain = str_of(m, "plain");
    for want in [
        "HIGH OPENED",
        "api_health (endpoint_down)",
        "Endpoint api_health is down",
        "status_code: 503",
        ISSUE_URL,
        RUN_URL,
    ] {
        assert!(plain.contains(want), "missing {want:?} in:\n{plain}");
    }
    let html = str_of(m, "html");
    assert!(html.contains(&format!("href=\"{ISSUE_URL}\"")) && html.contains("Endpoint api_health is down"), "{html}");
    assert!(!str_of(m, "message_id").is_empty() && !str_of(m, "date").is_empty());
}

#[tokio::test]
async fn several_events_get_a_count_in_the_subject_and_each_in_the_body() {
    let sink = SmtpSink::start(Listen::Plain);
    let c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    let n = notice(vec![
        event(EventKind::Opened, "api_health", Severity::High, "Endpoint api_health is down"),
        event(EventKind::Opened, "memory_status", Severity::Medium, "Memory usage is 93%"),
        event(EventKind::Opened, "search", Severity::Low, "Response time is 2.5s"),
    ]);
    email::send(&c, None, &n, &waiter(20)).await.expect("sent");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(str_of(&msgs[0], "subject"), "[vaktpost] 3 alerts opened");
    let plain = str_of(&msgs[0], "plain");
    for want in ["api_health", "memory_status", "search", "Memory usage is 93%", "🟠 MEDIUM", "🔵 LOW"] {
        assert!(plain.contains(want), "missing {want:?} in:\n{plain}");
    }
}

#[tokio::test]
async fn a_resolved_event_says_how_long_it_lasted() {
    let sink = SmtpSink::start(Listen::Plain);
    let c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    let n = notice(vec![event(EventKind::Resolved, "api_health", Severity::High, "Endpoint api_health is down")]);
    email::send(&c, None, &n, &waiter(20)).await.expect("sent");
    let m = &sink.messages()[0];
    assert_eq!(str_of(m, "subject"), "[vaktpost] ✅ resolved after 42m: api_health: Endpoint api_health is down");
    assert!(str_of(m, "plain").contains("RESOLVED after 42m"), "{}", str_of(m, "plain"));
}

#[tokio::test]
async fn a_test_alert_is_clearly_marked() {
    let sink = SmtpSink::start(Listen::Plain);
    let c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    let n = notice(vec![event(EventKind::Test, "vaktpost", Severity::Low, "This is a test alert")]);
    email::send(&c, None, &n, &waiter(20)).await.expect("sent");
    let m = &sink.messages()[0];
    assert!(str_of(m, "subject").starts_with("[vaktpost] 🧪 TEST"), "{}", str_of(m, "subject"));
    assert!(str_of(m, "plain").starts_with("🧪 TEST — vaktpost test alert, no action needed."));
    assert!(str_of(m, "html").contains("TEST — vaktpost test alert, no action needed"));
}

#[tokio::test]
async fn the_sender_defaults_to_vaktpost_at_this_host() {
    let sink = SmtpSink::start(Listen::Plain);
    let mut c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    c.from = None;
    // The host name a real run reads once into its context.
    let host = vaktpost::context::RunContext::from_process().hostname;
    email::send(&c, host.as_deref(), &down(), &waiter(20)).await.expect("sent");
    let from = str_of(&sink.messages()[0], "from").to_string();
    assert!(from.starts_with("vaktpost@") && from.len() > "vaktpost@".len(), "{from}");
}

#[tokio::test]
async fn starttls_is_required_by_default_and_nothing_is_sent_without_it() {
    let sink = SmtpSink::start(Listen::Plain);
    // smtp:// without tls=none means STARTTLS required; this server does not offer it.
    let c = cfg(&format!("smtp://127.0.0.1:{}", sink.port));
    let err = email::send(&c, None, &down(), &waiter(20)).await.expect_err("no STARTTLS offered").to_string();
    assert!(err.to_lowercase().contains("tls"), "{err}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn starttls_with_a_trusted_certificate_delivers() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = self_signed(certs.path());
    let sink = SmtpSink::start(Listen::StartTls { cert: &cert, key: &key });
    let c = cfg(&format!("smtp://127.0.0.1:{}", sink.port));
    email::send_trusting(&c, None, &down(), &waiter(20), pem.as_bytes()).await.expect("sent over STARTTLS");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["tls"], true, "the message went over TLS");
}

#[tokio::test]
async fn starttls_with_an_untrusted_certificate_fails() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, _) = self_signed(certs.path());
    let sink = SmtpSink::start(Listen::StartTls { cert: &cert, key: &key });
    let c = cfg(&format!("smtp://127.0.0.1:{}", sink.port));
    let err = email::send(&c, None, &down(), &waiter(20)).await.expect_err("self-signed is not trusted").to_string();
    assert!(err.to_lowercase().contains("certificate") || err.to_lowercase().contains("tls"), "{err}");
    assert!(sink.messages().is_empty());
}

/// A private CA for the SMTP server: `ca_file` makes the normal send path trust it, and a
/// file without a certificate is refused with the path and what to give, nothing sent.
#[tokio::test]
async fn ca_file_trusts_a_private_smtp_certificate() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = self_signed(certs.path());
    let sink = SmtpSink::start(Listen::StartTls { cert: &cert, key: &key });
    let ca = certs.path().join("smtp-ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let mut c = cfg(&format!("smtp://127.0.0.1:{}", sink.port));
    c.ca_file = Some(ca.display().to_string());
    email::send(&c, None, &down(), &waiter(20)).await.expect("sent over STARTTLS to a CA from ca_file");
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.messages()[0]["tls"].as_bool(), Some(true));

    let bad = certs.path().join("not-a-ca.pem");
    std::fs::write(&bad, "hello").unwrap();
    c.ca_file = Some(bad.display().to_string());
    let err = email::send(&c, None, &down(), &waiter(20)).await.expect_err("no certificate in the file");
    assert!(!err.is_retryable(), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("alerts.email.ca_file") && err.contains("not-a-ca.pem") && err.contains("no PEM certificate"),
        "{err}"
    );
    c.ca_file = Some(certs.path().join("missing.pem").display().to_string());
    let err = email::send(&c, None, &down(), &waiter(20)).await.expect_err("missing file").to_string();
    assert!(err.contains("cannot read it"), "{err}");
    assert_eq!(sink.messages().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn smtps_implicit_tls_delivers() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = self_signed(certs.path());
    let sink = SmtpSink::start(Listen::Implicit { cert: &cert, key: &key });
    let c = cfg(&format!("smtps://127.0.0.1:{}", sink.port));
    email::send_trusting(&c, None, &down(), &waiter(20), pem.as_bytes()).await.expect("sent over implicit TLS");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["tls"], true);
}

#[tokio::test]
async fn nothing_listening_fails_without_the_credentials() {
    let port = free_port();
    let c = cfg(&format!("smtps://alerts%40acme.test:hunter2pw@127.0.0.1:{port}"));
    let err = email::send(&c, None, &down(), &waiter(10)).await.expect_err("nothing listens").to_string();
    assert!(!err.contains("hunter2pw") && !err.contains("alerts@acme.test"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "names the server: {err}");
}

#[tokio::test]
async fn missing_settings_say_which_one() {
    let mut c = cfg("smtp://127.0.0.1:25?tls=none");
    c.smtp_url = None;
    let err = email::send(&c, None, &down(), &waiter(5)).await.expect_err("no smtp_url").to_string();
    assert!(err.contains("alerts.email.smtp_url") && err.contains("SMTP_URL"), "{err}");

    let mut c = cfg("smtp://127.0.0.1:25?tls=none");
    c.to.clear();
    let err = email::send(&c, None, &down(), &waiter(5)).await.expect_err("no recipients").to_string();
    assert!(err.contains("alerts.email.to") && err.contains("ALERT_EMAIL"), "{err}");

    let mut c = cfg("smtp://127.0.0.1:25?tls=none");
    c.to = vec!["not an address".into()];
    let err = email::send(&c, None, &down(), &waiter(5)).await.expect_err("bad recipient").to_string();
    assert!(err.contains("not an address"), "{err}");

    let c = cfg("smtp://user:hunter2pw@127.0.0.1:25?tls=none");
    let err = email::send(&c, None, &down(), &waiter(5)).await.expect_err("credentials over plain text").to_string();
    assert!(err.contains("unencrypted") && !err.contains("hunter2pw"), "{err}");
}

const USER: &str = "alerts@acme.test";
const PASSWORD: &str = "s3cret-Pw-9";

/// The documented submission form: `smtp://user:pass@host:port`, the `@` in the user
/// name percent-encoded.
fn submission_url(scheme: &str, port: u16, password: &str) -> String {
    format!("{scheme}://alerts%40acme.test:{password}@127.0.0.1:{port}")
}

fn auth_script() -> Script {
    Script { auth: Some((USER.into(), PASSWORD.into())), ..Script::default() }
}

#[tokio::test]
async fn auth_plain_over_starttls_with_the_documented_url_form_delivers() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = self_signed(certs.path());
    let sink = SmtpSink::scripted(Listen::StartTls { cert: &cert, key: &key }, auth_script());
    let c = cfg(&submission_url("smtp", sink.port, PASSWORD));
    email::send_trusting(&c, None, &down(), &waiter(20), pem.as_bytes()).await.expect("sent with AUTH");
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0]["tls"].as_bool(), str_of(&msgs[0], "auth_user")), (Some(true), USER));
    assert_eq!(sink.events()[0], format!("AUTH PLAIN {USER} ok"), "{:?}", sink.events());
}

#[tokio::test]
async fn auth_login_is_used_when_the_server_offers_only_login() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = self_signed(certs.path());
    let script = Script { login_only: true, ..auth_script() };
    let sink = SmtpSink::scripted(Listen::StartTls { cert: &cert, key: &key }, script);
    let c = cfg(&submission_url("smtp", sink.port, PASSWORD));
    email::send_trusting(&c, None, &down(), &waiter(20), pem.as_bytes()).await.expect("sent with AUTH LOGIN");
    assert_eq!(sink.events()[0], format!("AUTH LOGIN {USER} ok"), "{:?}", sink.events());
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn auth_over_implicit_tls_delivers() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = self_signed(certs.path());
    let sink = SmtpSink::scripted(Listen::Implicit { cert: &cert, key: &key }, auth_script());
    let c = cfg(&submission_url("smtps", sink.port, PASSWORD));
    email::send_trusting(&c, None, &down(), &waiter(20), pem.as_bytes()).await.expect("sent with AUTH");
    assert_eq!(str_of(&sink.messages()[0], "auth_user"), USER);
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_535_error_without_the_password_and_not_retried() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key, pem) = self_signed(certs.path());
    let sink = SmtpSink::scripted(Listen::StartTls { cert: &cert, key: &key }, auth_script());
    let c = cfg(&submission_url("smtp", sink.port, "wrong-Pw-77"));
    let (w, slept) = recording_waiter(20);
    let err = email::send_trusting(&c, None, &down(), &w, pem.as_bytes()).await.expect_err("535").to_string();
    assert!(err.contains("SMTP authentication failed") && err.contains("535"), "{err}");
    assert!(err.contains("alerts.email.smtp_url"), "says where to fix it: {err}");
    assert!(!err.contains("wrong-Pw-77") && !err.contains(USER), "{err}");
    assert_eq!(sink.events(), [format!("AUTH PLAIN {USER} refused")]);
    assert!(slept.ms().is_empty(), "a 535 is permanent");
    assert!(sink.messages().is_empty());
}

/// One refused recipient: lettre stops at the refused RCPT, so no one gets the message
/// (README: "a refused recipient … nobody gets it"); the error names the address, and
/// the alert stays pending for the next run.
#[tokio::test]
async fn a_recipient_refused_with_550_is_reported_and_no_one_gets_it() {
    let script = Script { reject_rcpt: vec!["ops@acme.test".into()], ..Script::default() };
    let sink = SmtpSink::scripted(Listen::Plain, script);
    let c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    let (w, slept) = recording_waiter(20);
    let err = email::send(&c, None, &down(), &w).await.expect_err("550").to_string();
    assert!(err.contains("550") && err.contains("ops@acme.test") && err.contains("alerts.email.to"), "{err}");
    assert!(err.contains("no one"), "{err}");
    assert!(slept.ms().is_empty(), "a 550 is permanent");
    assert!(sink.messages().is_empty());
    assert!(!sink.events().contains(&"DATA".to_string()), "{:?}", sink.events());
}

#[tokio::test]
async fn a_421_is_retried_once_after_the_delivery_backoff() {
    let sink = SmtpSink::scripted(Listen::Plain, Script { busy: 1, ..Script::default() });
    let c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    let (w, slept) = recording_waiter(60);
    email::send(&c, None, &down(), &w).await.expect("sent on the retry");
    let ms = slept.ms();
    let base = email::policy().backoff(1).as_millis();
    assert!(ms.len() == 1 && ms[0] >= base && ms[0] <= 2 * base, "{ms:?}");
    assert_eq!(sink.events().iter().filter(|e| e.starts_with("MAIL")).count(), 2);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_server_that_stays_at_421_gives_a_clear_error_after_the_policys_attempts() {
    let sink = SmtpSink::scripted(Listen::Plain, Script { busy: 100, ..Script::default() });
    let c = cfg(&format!("smtp://127.0.0.1:{}?tls=none", sink.port));
    let (w, slept) = recording_waiter(60);
    let err = email::send(&c, None, &down(), &w).await.expect_err("421 for ever").to_string();
    assert_eq!(slept.ms().len(), 1);
    let attempts = email::policy().attempts;
    assert_eq!(sink.events().iter().filter(|e| e.starts_with("MAIL")).count(), attempts as usize);
    assert!(err.contains("421") && err.contains(&format!("after {attempts} attempts")), "{err}");
    assert!(err.contains("try again later") && err.contains("pending"), "{err}");
}
