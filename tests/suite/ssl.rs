//! The `ssl` check, certificate metrics of https `http` monitors, the certificate rules,
//! and security events — against local TLS servers with rcgen certificates.

use crate::support;
use crate::support::tls;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::*;
use tls::{in_days, leaf, pem_file, routes, Chain, Reply, Server, Versions};
use vaktpost::checks::{CheckResult, ErrorKind, Status};
use vaktpost::config::{Loaded, Severity};

/// A config with one `ssl` monitor named `cert` for localhost:`port`; `extra` are more
/// keys of the monitor, one per line.
fn ssl_yaml(port: u16, extra: &str) -> String {
    let mut s = format!("monitors:\n  - name: cert\n    type: ssl\n    host: localhost\n    port: {port}\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

async fn run_ssl(port: u16, extra: &str) -> (Loaded, CheckResult) {
    let loaded = load(&ssl_yaml(port, extra));
    let r = run_loaded(&loaded).await;
    (loaded, r)
}

/// The default rules that fire for the first monitor's result: (rule, severity, message).
fn findings(loaded: &Loaded, r: &CheckResult) -> Vec<(String, Severity, String)> {
    let rules = match vaktpost::rules::build(&[]) {
        Ok(r) => r,
        Err(e) => panic!("default rules do not compile: {e:?}"),
    };
    let vars = vaktpost::rules::variables(&loaded.config.monitors[0], r, &BTreeMap::new());
    rules
        .iter()
        .filter(|rule| rule.applies_to(&r.name))
        .filter_map(|rule| rule.check(&vars).map(|s| (rule.name.clone(), s, rule.render(&vars))))
        .collect()
}

fn finding<'a>(list: &'a [(String, Severity, String)], rule: &str) -> Option<&'a (String, Severity, String)> {
    list.iter().find(|(n, _, _)| n == rule)
}

fn flag(r: &CheckResult, name: &str) -> bool {
    r.metrics
        .get(name)
        .and_then(|v| v.as_bool())
        .unwrap_or_else(|| panic!("metric {name} missing or not a bool in {r:#?}"))
}

fn list(r: &CheckResult, name: &str) -> Vec<String> {
    r.metrics
        .get(name)
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("metric {name} missing or not a list in {r:#?}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------- ssl: valid and untrusted chains

#[tokio::test]
async fn private_ca_chain_is_up_with_ca_file() {
    let chain = Chain::new(90);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (loaded, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    assert_up(&r);
    assert_eq!(r.kind, "ssl");
    assert_eq!(r.target, format!("localhost:{}", s.port()));
    assert_eq!(num(&r, "days_left"), 90.0);
    assert!(flag(&r, "chain_valid"));
    assert!(flag(&r, "hostname_valid"));
    assert!(!flag(&r, "expired"));
    assert!(r.metrics.get("chain_error").is_none(), "{r:#?}");
    assert_eq!(text(&r, "tls_version"), "1.3");
    assert_eq!(list(&r, "sans"), ["localhost"]);
    assert!(text(&r, "issuer").contains("vaktpost Test Intermediate"), "{r:#?}");
    assert!(text(&r, "subject").contains("localhost"), "{r:#?}");
    let not_after = chrono::DateTime::parse_from_rfc3339(text(&r, "not_after")).expect("RFC 3339 not_after");
    let days = (not_after.timestamp() - chrono::Utc::now().timestamp()) / 86_400;
    assert_eq!(days, 90, "{r:#?}");
    assert_eq!(num(&r, "chain_days_left"), 365.0);
    assert_eq!(num(&r, "chain_length"), 2.0);
    assert!(findings(&loaded, &r).is_empty(), "{:#?}", findings(&loaded, &r));
}

#[tokio::test]
async fn private_ca_without_ca_file_fails_the_chain_but_still_reports_expiry() {
    let chain = Chain::new(90);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let (loaded, r) = run_ssl(s.port(), "").await;
    let msg = assert_down(&r, ErrorKind::Tls);
    assert!(msg.contains("unknown certificate authority"), "{msg}");
    assert!(!flag(&r, "chain_valid"));
    assert!(text(&r, "chain_error").contains("unknown certificate authority"), "{r:#?}");
    assert!(flag(&r, "hostname_valid"), "the name is right, only the issuer is unknown");
    assert_eq!(num(&r, "days_left"), 90.0);
    assert_eq!(num(&r, "chain_days_left"), 365.0);
    let f = findings(&loaded, &r);
    let (_, sev, message) = finding(&f, "cert_invalid").unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(*sev, Severity::High);
    assert!(message.starts_with("Certificate for cert is not valid: issued by an unknown"), "{message}");
    assert!(finding(&f, "cert_expiring").is_none(), "{f:#?}");
}

#[tokio::test]
async fn self_signed_certificate_is_reported_as_self_signed() {
    let cert = leaf(&["localhost"], in_days(-1, 0), in_days(200, 1), None);
    let s = Server::tls(tls::server_config(&[&cert], Versions::Default)).await;
    let (loaded, r) = run_ssl(s.port(), "").await;
    let msg = assert_down(&r, ErrorKind::Tls);
    assert!(msg.contains("self-signed"), "{msg}");
    assert!(!flag(&r, "chain_valid"));
    assert!(flag(&r, "hostname_valid"));
    assert_eq!(num(&r, "days_left"), 200.0);
    assert!(r.metrics.get("chain_days_left").is_none(), "only a leaf was served: {r:#?}");
    assert_eq!(text(&r, "issuer"), text(&r, "subject"));
    let f = findings(&loaded, &r);
    assert!(
        finding(&f, "cert_invalid").is_some_and(|(_, s, m)| *s == Severity::High && m.contains("self-signed")),
        "{f:#?}"
    );
}

#[tokio::test]
async fn self_signed_certificate_trusted_through_ca_file_is_up() {
    let cert = leaf(&["localhost"], in_days(-1, 0), in_days(200, 1), None);
    let s = Server::tls(tls::server_config(&[&cert], Versions::Default)).await;
    let ca = pem_file(&cert.pem());
    let (_, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    // Pinning a self-signed certificate: it is its own trust anchor.
    assert_up(&r);
    assert!(flag(&r, "chain_valid"));
    assert_eq!(num(&r, "days_left"), 200.0);
}

#[tokio::test]
async fn wrong_hostname_is_invalid_but_chain_is_valid() {
    let chain = Chain::with(90, 365, &["other.example"]);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (loaded, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    let msg = assert_down(&r, ErrorKind::Tls);
    assert!(msg.contains("not valid for localhost") && msg.contains("other.example"), "{msg}");
    assert!(flag(&r, "chain_valid"), "{r:#?}");
    assert!(!flag(&r, "hostname_valid"));
    assert_eq!(list(&r, "sans"), ["other.example"]);
    let f = findings(&loaded, &r);
    let (_, sev, message) = finding(&f, "cert_invalid").unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(*sev, Severity::High);
    assert!(message.contains("not valid for localhost"), "{message}");
}

#[tokio::test]
async fn server_name_overrides_the_name_checked_and_sent() {
    let chain = Chain::with(90, 365, &["other.example"]);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (_, r) = run_ssl(s.port(), &format!("server_name: other.example\nca_file: \"{}\"", ca.path().display())).await;
    assert_up(&r);
    assert!(flag(&r, "hostname_valid"));
}

#[tokio::test]
async fn ip_address_host_is_checked_against_ip_sans() {
    let chain = Chain::with(90, 365, &["127.0.0.1"]);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let yaml = format!(
        "monitors:\n  - name: cert\n    type: ssl\n    host: 127.0.0.1\n    port: {}\n    ca_file: \"{}\"\n",
        s.port(),
        ca.path().display()
    );
    let r = run_yaml(&yaml).await;
    assert_up(&r);
    assert_eq!(list(&r, "sans"), ["127.0.0.1"]);
}

// ---------------------------------------------------------------- ssl: expiry

#[tokio::test]
async fn leaf_expiring_in_10_days_is_degraded_with_a_medium_finding() {
    let chain = Chain::new(10);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (loaded, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    assert_status(&r, Status::Degraded);
    assert!(r.error.is_none(), "{r:#?}");
    let why = r.message.as_deref().unwrap_or_default();
    assert!(why.contains("10 days") && why.contains("warning_days 30"), "{why}");
    assert_eq!(num(&r, "days_left"), 10.0);
    let f = findings(&loaded, &r);
    assert_eq!(
        f,
        [("cert_expiring".to_string(), Severity::Medium, "Certificate for cert expires in 10 days".to_string())]
    );
}

#[tokio::test]
async fn leaf_expiring_in_3_days_is_high() {
    let chain = Chain::new(3);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (loaded, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    assert_status(&r, Status::Degraded);
    assert_eq!(num(&r, "days_left"), 3.0);
    let f = findings(&loaded, &r);
    assert_eq!(
        f,
        [("cert_expiring".to_string(), Severity::High, "Certificate for cert expires in 3 days".to_string())]
    );
}

#[tokio::test]
async fn warning_and_critical_days_come_from_the_monitor() {
    let chain = Chain::new(10);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (loaded, r) =
        run_ssl(s.port(), &format!("warning_days: 60\ncritical_days: 14\nca_file: \"{}\"", ca.path().display())).await;
    assert_status(&r, Status::Degraded);
    let f = findings(&loaded, &r);
    assert_eq!(finding(&f, "cert_expiring").map(|x| x.1), Some(Severity::High), "{f:#?}");
    let (loaded, r) =
        run_ssl(s.port(), &format!("warning_days: 5\ncritical_days: 2\nca_file: \"{}\"", ca.path().display())).await;
    assert_up(&r);
    assert!(findings(&loaded, &r).is_empty());
}

#[tokio::test]
async fn expired_leaf_is_down_with_a_high_finding() {
    let root = tls::ca("Root", in_days(-400, 0), in_days(3650, 0), None);
    let cert = leaf(&["localhost"], in_days(-100, 0), in_days(-2, 1), Some(&root));
    let s = Server::tls(tls::server_config(&[&cert], Versions::Default)).await;
    let ca = pem_file(&root.pem());
    let (loaded, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    let msg = assert_down(&r, ErrorKind::Tls);
    assert!(msg.contains("expired on") && msg.contains("2 days ago"), "{msg}");
    assert_eq!(num(&r, "days_left"), -2.0);
    assert!(flag(&r, "expired"));
    assert!(!flag(&r, "chain_valid"));
    let f = findings(&loaded, &r);
    let names: Vec<&str> = f.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["endpoint_down", "cert_expiring"], "expiry is not reported twice: {f:#?}");
    assert!(f.iter().all(|(_, s, _)| *s == Severity::High), "{f:#?}");
}

#[tokio::test]
async fn intermediate_expiring_before_the_leaf_is_reported_separately() {
    // The intermediate ends in 5 days, the leaf in 60.
    let chain = Chain::with(60, 5, &["localhost"]);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (loaded, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    assert_status(&r, Status::Degraded);
    assert_eq!(num(&r, "days_left"), 60.0);
    assert_eq!(num(&r, "chain_days_left"), 5.0);
    assert!(num(&r, "chain_days_left") < num(&r, "days_left"));
    let why = r.message.as_deref().unwrap_or_default();
    assert!(why.contains("intermediate") && why.contains("vaktpost Test Intermediate"), "{why}");
    let f = findings(&loaded, &r);
    assert_eq!(f.len(), 1, "{f:#?}");
    let (name, sev, message) = &f[0];
    assert_eq!((name.as_str(), *sev), ("cert_chain_expiring", Severity::High));
    assert!(message.contains("expires in 5 days"), "{message}");
}

// ---------------------------------------------------------------- ssl: protocol and failures

#[tokio::test]
async fn tls12_only_server_reports_tls_version_1_2() {
    let chain = Chain::new(90);
    let s = Server::tls(chain.server(Versions::Tls12Only)).await;
    let ca = pem_file(&chain.root.pem());
    let (_, r) = run_ssl(s.port(), &format!("ca_file: \"{}\"", ca.path().display())).await;
    assert_up(&r);
    assert_eq!(text(&r, "tls_version"), "1.2");
}

#[tokio::test]
async fn tls12_only_server_fails_min_tls_version_1_3() {
    let chain = Chain::new(90);
    let s = Server::tls(chain.server(Versions::Tls12Only)).await;
    let ca = pem_file(&chain.root.pem());
    let (_, r) = run_ssl(s.port(), &format!("min_tls_version: \"1.3\"\nca_file: \"{}\"", ca.path().display())).await;
    let msg = assert_down(&r, ErrorKind::Tls);
    assert!(msg.contains("does not offer TLS 1.3") && msg.contains("min_tls_version"), "{msg}");
}

#[tokio::test]
async fn tls13_server_meets_min_tls_version_1_3() {
    let chain = Chain::new(90);
    let s = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    let (_, r) = run_ssl(s.port(), &format!("min_tls_version: \"1.3\"\nca_file: \"{}\"", ca.path().display())).await;
    assert_up(&r);
    assert_eq!(text(&r, "tls_version"), "1.3");
}

#[tokio::test]
async fn handshake_that_never_completes_times_out_within_the_deadline() {
    let s = Server::silent().await;
    let t0 = Instant::now();
    let (_, r) = run_ssl(s.port(), "timeout: 1").await;
    let took = t0.elapsed();
    let msg = assert_down(&r, ErrorKind::Timeout);
    assert!(msg.contains("TLS handshake"), "{msg}");
    // A real 1 s socket timeout: at least that, at most ten times that.
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn connect_errors_are_retried_with_backoff_in_virtual_time() {
    let (r, waits) = support::clock::run_yaml_virtual(&ssl_yaml(server::closed_port(), "retries: 2")).await;
    assert_down(&r, ErrorKind::Connect);
    assert_eq!(num(&r, "attempts"), 3.0);
    assert_eq!(support::clock::ms(&waits), [200, 400]);
}

#[tokio::test]
async fn certificate_errors_are_not_retried() {
    let chain = Chain::new(90);
    let s = Server::tls(chain.server(Versions::Default)).await;
    // No ca_file: the test CA is unknown, so verification fails; another try would too.
    let (r, waits) = support::clock::run_yaml_virtual(&ssl_yaml(s.port(), "retries: 2")).await;
    assert_down(&r, ErrorKind::Tls);
    assert_eq!(num(&r, "attempts"), 1.0);
    assert!(waits.is_empty(), "{waits:?}");
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let (_, r) = run_ssl(server::closed_port(), "").await;
    assert_down(&r, ErrorKind::Connect);
}

#[tokio::test]
async fn plain_http_port_is_a_tls_error() {
    // Like nginx on a plain-HTTP port: the ClientHello is garbage, answered with a 400.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            let _ = tcp.shutdown().await;
        }
    });
    let (_, r) = run_ssl(port, "timeout: 3").await;
    server.abort();
    let msg = assert_down(&r, ErrorKind::Tls);
    assert!(msg.contains("not TLS") || msg.contains("closed"), "{msg}");
}

#[tokio::test]
async fn unreadable_ca_file_is_a_config_error() {
    let (_, r) = run_ssl(server::closed_port(), "ca_file: /nonexistent/ca.pem").await;
    let msg = assert_down(&r, ErrorKind::Config);
    assert!(msg.contains("ca_file") && msg.contains("/nonexistent/ca.pem"), "{msg}");
    let junk = pem_file("not a certificate");
    let (_, r) = run_ssl(server::closed_port(), &format!("ca_file: \"{}\"", junk.path().display())).await;
    let msg = assert_down(&r, ErrorKind::Config);
    assert!(msg.contains("no PEM certificate"), "{msg}");
}

#[tokio::test]
async fn seed_ssl_cert_monitor_shape_runs_against_a_local_tls_server() {
    let chain = Chain::new(45);
    let s = Server::tls(chain.server(Versions::Default)).await;
    // The seed's monitor exactly (host, port, interval, warning_days), pointed here.
    let seed = format!(
        "monitors:\n  - name: ssl_cert\n    type: ssl\n    host: localhost\n    port: {}\n    interval: 3600\n    warning_days: 30\n",
        s.port()
    );
    let r = run_yaml(&seed).await;
    assert_eq!(r.name, "ssl_cert");
    assert_eq!(num(&r, "days_left"), 45.0);
    assert!(!flag(&r, "chain_valid"), "a private CA is not in the built-in roots");
    // With the private CA trusted, the same shape is up.
    let ca = pem_file(&chain.root.pem());
    let r = run_yaml(&format!("{seed}    ca_file: \"{}\"\n", ca.path().display())).await;
    assert_up(&r);
    assert_eq!(num(&r, "days_left"), 45.0);
}

// ---------------------------------------------------------------- http: certificate metrics

#[tokio::test]
async fn https_http_monitor_reports_certificate_expiry_and_cert_expiring_applies() {
    let chain = Chain::new(10);
    let s = Server::start(Some(chain.server(Versions::Default)), routes(vec![("/", Reply::new(200, "ok"))])).await;
    let loaded = load(&http_yaml(&format!("https://localhost:{}/", s.port()), "insecure_skip_verify: true"));
    let r = run_loaded(&loaded).await;
    assert_up(&r);
    assert_eq!(num(&r, "days_left"), 10.0);
    assert_eq!(text(&r, "tls_version"), "1.3");
    assert!(chrono::DateTime::parse_from_rfc3339(text(&r, "not_after")).is_ok(), "{r:#?}");
    let f = findings(&loaded, &r);
    assert_eq!(
        f,
        [("cert_expiring".to_string(), Severity::Medium, "Certificate for t expires in 10 days".to_string())]
    );
}

#[tokio::test]
async fn plain_http_monitor_has_no_certificate_metrics() {
    let s = Server::start(None, routes(vec![("/", Reply::new(200, "ok"))])).await;
    let r = run_http(&format!("http://127.0.0.1:{}/", s.port()), "").await;
    assert_up(&r);
    for m in ["days_left", "not_after", "tls_version", "security_violations"] {
        assert!(r.metrics.get(m).is_none(), "{m} in {r:#?}");
    }
}

// ---------------------------------------------------------------- security events

const HSTS: (&str, &str) = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains");

/// A page with every protection, and 404 for the forbidden paths.
fn compliant_page() -> Reply {
    Reply::new(200, "<html>ok</html>")
        .header("Content-Type", "text/html")
        .header(HSTS.0, HSTS.1)
        .header("X-Content-Type-Options", "nosniff")
        .header("Content-Security-Policy", "default-src 'self'")
        .header("Set-Cookie", "sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// An HTTPS site answering `/` with `page` and `/.env` with `env`, and a plain-HTTP site
/// answering `/` with `plain` (`None`: a 301 to the HTTPS site).
async fn sites(page: Reply, env: Reply, plain: Option<Reply>) -> (Server, Server) {
    let chain = Chain::new(200);
    let https = Server::start(
        Some(chain.server(Versions::Default)),
        routes(vec![("/", page), ("/.env", env), ("/.git/HEAD", Reply::new(403, "forbidden"))]),
    )
    .await;
    let plain = plain
        .unwrap_or_else(|| Reply::new(301, "").header("Location", &format!("https://localhost:{}/", https.port())));
    let plain = Server::start(None, routes(vec![("/", plain)])).await;
    (https, plain)
}

async fn run_security(https: &Server, plain: &Server, block: &str) -> (Loaded, CheckResult) {
    let extra =
        format!("insecure_skip_verify: true\nsecurity:\n  http_url: \"http://127.0.0.1:{}/\"\n{block}", plain.port());
    let loaded = load(&http_yaml(&format!("https://localhost:{}/", https.port()), &extra));
    let r = run_loaded(&loaded).await;
    (loaded, r)
}

fn violations(r: &CheckResult) -> Vec<(String, String)> {
    r.metrics
        .get("security_violations")
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("no security_violations in {r:#?}"))
        .iter()
        .map(|v| {
            (v["rule"].as_str().unwrap_or_default().to_string(), v["message"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn security_findings(loaded: &Loaded, r: &CheckResult) -> Vec<(String, Severity, String)> {
    findings(loaded, r).into_iter().filter(|(n, _, _)| n.starts_with("security_")).collect()
}

#[tokio::test]
async fn compliant_site_has_no_security_violations() {
    let (https, plain) = sites(compliant_page(), Reply::new(404, "nope"), None).await;
    let (loaded, r) = run_security(&https, &plain, "").await;
    assert_up(&r);
    assert!(violations(&r).is_empty(), "{:#?}", violations(&r));
    assert!(security_findings(&loaded, &r).is_empty());
}

#[tokio::test]
async fn every_violation_becomes_its_own_security_finding() {
    let page =
        Reply::new(200, "<html>ok</html>").header("Content-Type", "text/html").header("Set-Cookie", "sid=abc; Path=/");
    let env = Reply::new(200, "DATABASE_URL=postgres://x").header("Content-Type", "text/plain");
    let (https, plain) = sites(page, env, Some(Reply::new(200, "plain page"))).await;
    let (loaded, r) = run_security(&https, &plain, "").await;
    assert_up(&r);
    let got: Vec<String> = violations(&r).into_iter().map(|(rule, _)| rule).collect();
    assert_eq!(
        got,
        [
            "security_hsts_missing",
            "security_https_redirect",
            "security_nosniff_missing",
            "security_csp_missing",
            "security_insecure_cookie",
            "security_forbidden_path"
        ]
    );
    let f = security_findings(&loaded, &r);
    let by_rule: BTreeMap<&str, (Severity, &str)> = f.iter().map(|(n, s, m)| (n.as_str(), (*s, m.as_str()))).collect();
    assert_eq!(by_rule.len(), 6, "{f:#?}");
    assert_eq!(by_rule["security_forbidden_path"].0, Severity::High);
    assert_eq!(by_rule["security_forbidden_path"].1, "t: publicly served: /.env (HTTP 200)");
    assert_eq!(by_rule["security_hsts_missing"].0, Severity::Medium);
    assert!(by_rule["security_https_redirect"].1.contains("answers HTTP 200 instead of redirecting"), "{f:#?}");
    assert!(by_rule["security_insecure_cookie"].1.contains("sid (no Secure, no HttpOnly)"), "{f:#?}");
    assert_eq!(by_rule["security_nosniff_missing"].0, Severity::Low);
    assert_eq!(by_rule["security_csp_missing"].0, Severity::Low);
    for (name, _, _) in &f {
        assert_eq!(vaktpost::rules::category_of(name).as_deref(), Some("security"));
    }
    // The secret in /.env is never repeated anywhere.
    assert!(!format!("{r:?}").contains("postgres://x"));
}

#[tokio::test]
async fn short_hsts_max_age_is_a_violation() {
    let page = compliant_page();
    let mut page = Reply { headers: page.headers.into_iter().filter(|(k, _)| k != HSTS.0).collect(), ..page };
    page.headers.push((HSTS.0.into(), "max-age=300".into()));
    let (https, plain) = sites(page, Reply::new(404, ""), None).await;
    let (loaded, r) = run_security(&https, &plain, "").await;
    let v = violations(&r);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].0, "security_hsts_max_age");
    assert!(v[0].1.contains("300s") && v[0].1.contains("180d"), "{v:#?}");
    let f = security_findings(&loaded, &r);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].1, Severity::Low);
    // A lower minimum accepts it.
    let (_, r) = run_security(&https, &plain, "  min_hsts_max_age: 60").await;
    assert!(violations(&r).is_empty(), "{:#?}", violations(&r));
}

#[tokio::test]
async fn plain_http_redirecting_to_plain_http_is_a_violation() {
    let to_http = Reply::new(302, "").header("Location", "http://example.invalid/");
    let (https, plain) = sites(compliant_page(), Reply::new(404, ""), Some(to_http)).await;
    let (_, r) = run_security(&https, &plain, "").await;
    let v = violations(&r);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].0, "security_https_redirect");
    assert!(v[0].1.contains("redirects to http://"), "{v:#?}");
}

#[tokio::test]
async fn plain_http_not_offered_is_not_a_violation() {
    let (https, _plain) = sites(compliant_page(), Reply::new(404, ""), None).await;
    let extra =
        format!("insecure_skip_verify: true\nsecurity:\n  http_url: \"http://127.0.0.1:{}/\"\n", server::closed_port());
    let r = run_http(&format!("https://localhost:{}/", https.port()), &extra).await;
    assert!(violations(&r).is_empty(), "{:#?}", violations(&r));
}

#[tokio::test]
async fn single_page_app_catch_all_is_not_a_forbidden_path() {
    let chain = Chain::new(200);
    // Every path, /.env included, gets the same page.
    let spa: tls::Routes = std::sync::Arc::new(|_: &str| compliant_page());
    let https = Server::start(Some(chain.server(Versions::Default)), spa).await;
    let extra = "insecure_skip_verify: true\nsecurity:\n  redirect_https: false\n";
    let r = run_http(&format!("https://localhost:{}/", https.port()), extra).await;
    assert!(violations(&r).is_empty(), "{:#?}", violations(&r));
}

#[tokio::test]
async fn security_block_chooses_the_checks() {
    let page = Reply::new(200, "<html>ok</html>").header("Content-Type", "text/html");
    let git = Reply::new(200, "ref: refs/heads/main\n").header("Content-Type", "text/plain");
    let chain = Chain::new(200);
    let https = Server::start(
        Some(chain.server(Versions::Default)),
        routes(vec![("/", page), ("/.git/HEAD", git), ("/backup.zip", Reply::new(200, "PK"))]),
    )
    .await;
    let extra = "insecure_skip_verify: true\nsecurity:\n  hsts: false\n  redirect_https: false\n  nosniff: false\n  csp: false\n  cookies: false\n  forbidden_paths: [/backup.zip, /.git/HEAD]\n";
    let r = run_http(&format!("https://localhost:{}/", https.port()), extra).await;
    let v = violations(&r);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(
        v[0],
        (
            "security_forbidden_path".to_string(),
            "publicly served: /backup.zip (HTTP 200), /.git/HEAD (HTTP 200)".to_string()
        )
    );
}

#[tokio::test]
async fn security_false_or_absent_checks_nothing() {
    let s = Server::start(None, routes(vec![("/", Reply::new(200, "ok"))])).await;
    let r = run_http(&format!("http://127.0.0.1:{}/", s.port()), "security: false").await;
    assert!(r.metrics.get("security_violations").is_none(), "{r:#?}");
}

#[tokio::test]
async fn http_url_monitor_checks_its_own_redirect_and_skips_hsts() {
    let page = compliant_page();
    let s = Server::start(None, routes(vec![("/", page)])).await;
    let r = run_http(&format!("http://127.0.0.1:{}/", s.port()), "security: true").await;
    let rules: Vec<String> = violations(&r).into_iter().map(|(rule, _)| rule).collect();
    assert_eq!(rules, ["security_https_redirect"], "HSTS means nothing over plain HTTP");
}

#[test]
fn unknown_security_key_gets_did_you_mean() {
    let yaml =
        "monitors:\n  - name: t\n    type: http\n    url: https://example.com\n    security:\n      hstss: true\n";
    let err = match vaktpost::load_str(yaml, "t.yml", &BTreeMap::new()) {
        Ok(_) => panic!("should not load"),
        Err(d) => format!("{d:?}"),
    };
    assert!(err.contains("hstss") && err.contains("did you mean") && err.contains("hsts"), "{err}");
}

// ---------------------------------------------------------------- end to end

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_lists_security_events_in_the_summary_and_report() {
    let page = Reply::new(200, "<html>ok</html>").header("Content-Type", "text/html").header(HSTS.0, HSTS.1);
    let env = Reply::new(200, "SECRET=1").header("Content-Type", "text/plain");
    let (https, plain) = sites(page, env, Some(Reply::new(200, "plain"))).await;
    let chain = Chain::new(10);
    let cert_server = Server::tls(chain.server(Versions::Default)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, chain.root.pem()).expect("write ca");
    let config = format!(
        "monitors:
  - name: web
    type: http
    url: https://localhost:{}/
    insecure_skip_verify: true
    security:
      http_url: http://127.0.0.1:{}/
  - name: ssl_cert
    type: ssl
    host: localhost
    port: {}
    interval: 3600
    warning_days: 30
    ca_file: {}
",
        https.port(),
        plain.port(),
        cert_server.port(),
        ca.display()
    );
    std::fs::write(dir.path().join("vaktpost.yml"), config).expect("write config");
    let cwd = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(["run", "--fail-on", "high", "--summary", "summary.md"]).current_dir(&cwd).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        c.output().expect("run vaktpost")
    })
    .await
    .expect("join");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "security_forbidden_path is high: {printed}");

    let md = std::fs::read_to_string(dir.path().join("summary.md")).expect("summary");
    let start = md.find("### Security events").unwrap_or_else(|| panic!("no Security events section:\n{md}"));
    let section = &md[start..md[start..].find("### Monitors").map(|i| start + i).unwrap_or(md.len())];
    assert!(section.contains("🔴 `web/security_forbidden_path` web: publicly served: /.env (HTTP 200)"), "{section}");
    for rule in ["security_https_redirect", "security_nosniff_missing", "security_csp_missing"] {
        assert!(section.contains(&format!("`web/{rule}`")), "{rule} missing:\n{section}");
    }
    assert!(!section.contains("security_hsts_missing"), "{section}");
    // Security events are not repeated under Findings; the certificate finding is there.
    let findings_part = &md[..start];
    assert!(!findings_part.contains("security_"), "{md}");
    assert!(findings_part.contains("`ssl_cert/cert_expiring` Certificate for ssl_cert expires in 10 days"), "{md}");
    assert!(md.contains("| 🟡 | ssl_cert | ssl | degraded |"), "{md}");
    assert!(md.contains("10 days left"), "{md}");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("vaktpost-report.json")).expect("report")).expect("json");
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/report.schema.json")).expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("validator");
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let findings = report["findings"].as_array().expect("findings");
    let sec: Vec<&serde_json::Value> = findings.iter().filter(|f| f["category"] == "security").collect();
    assert_eq!(sec.len(), 4, "{findings:#?}");
    assert!(sec.iter().any(|f| f["fingerprint"] == "web/security_forbidden_path" && f["severity"] == "high"));
    let cert = findings.iter().find(|f| f["fingerprint"] == "ssl_cert/cert_expiring").expect("cert finding");
    assert!(cert.get("category").is_none(), "{cert}");
    let checks = report["checks"].as_array().expect("checks");
    assert_eq!(checks[1]["metrics"]["days_left"], 10);
    assert_eq!(checks[1]["metrics"]["chain_valid"], true);
    assert_eq!(checks[0]["metrics"]["security_violations"].as_array().map(|a| a.len()), Some(4));
}

// ---------------------------------------------------------------- documented defaults

/// The `| key | default | meaning |` rows of a README section, key ⇒ default.
fn readme_table(section: &str) -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let start = readme.find(section).unwrap_or_else(|| panic!("README has no section {section}"));
    let mut rows = BTreeMap::new();
    for line in readme[start..].lines().skip(1) {
        if line.starts_with("###") {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[1].starts_with('`') && !rows.contains_key(cells[1].trim_matches('`')) {
            rows.insert(cells[1].trim_matches('`').to_string(), cells[2].trim_matches('`').to_string());
        }
    }
    rows
}

#[test]
fn documented_ssl_and_security_defaults_are_the_real_ones() {
    let yaml = "monitors:\n  - name: c\n    type: ssl\n    host: example.com\n  - name: w\n    type: http\n    url: https://example.com\n    security: true\n";
    let loaded = load(yaml);
    let vaktpost::config::MonitorKind::Ssl(s) = &loaded.config.monitors[0].kind else { panic!("not ssl") };
    let doc = readme_table("### `ssl`");
    assert_eq!(doc["port"], s.port.to_string());
    assert_eq!(doc["warning_days"], s.warning_days.to_string());
    assert_eq!(doc["critical_days"], s.critical_days.to_string());
    assert_eq!(doc["server_name"], "host");
    assert!(s.server_name.is_none() && s.ca_file.is_none() && s.min_tls_version.is_none());

    let vaktpost::config::MonitorKind::Http(h) = &loaded.config.monitors[1].kind else { panic!("not http") };
    let sec = h.security.as_deref().expect("security: true turns every check on");
    let doc = readme_table("### Security events");
    for (key, on) in [
        ("hsts", sec.hsts),
        ("redirect_https", sec.redirect_https),
        ("nosniff", sec.nosniff),
        ("csp", sec.csp),
        ("cookies", sec.cookies),
    ] {
        assert_eq!(doc[key], on.to_string(), "README security table, key {key}");
    }
    assert_eq!(doc["min_hsts_max_age"], sec.min_hsts_max_age.to_string());
    assert_eq!(doc["forbidden_paths"], format!("[{}]", sec.forbidden_paths.join(", ")));
}
