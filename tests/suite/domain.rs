//! The `domain` check against a local RDAP server answering with the shapes registries
//! really send (RFC 9083): Verisign-style events and a registrar vCard, a registry that
//! publishes no expiration event and redacts its entities, 404 for an unknown domain, an
//! HTML error page; the `domain_expiring` rule at its thresholds; bad options.

use std::collections::BTreeMap;

use chrono::{Duration, SecondsFormat, Utc};

use super::documented::{code, text as out_text, Dir};
use crate::support::services::{findings, fired, not_fired, FakeHttp};
use crate::support::tls::{routes, Reply, Server};
use crate::support::{assert_down, assert_status, load, num, run_loaded, text};
use vaktpost::checks::{ErrorKind, Status};
use vaktpost::config::Severity;

/// A domain object as Verisign's RDAP server shapes it, expiring in `days` (and an hour).
fn verisign(domain: &str, days: i64) -> String {
    let exp = (Utc::now() + Duration::days(days) + Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    serde_json::json!({
        "objectClassName": "domain",
        "handle": "2138514_DOMAIN_COM-VRSN",
        "ldhName": domain.to_uppercase(),
        "links": [{"value": format!("https://rdap.verisign.com/com/v1/domain/{domain}"), "rel": "self", "href": format!("https://rdap.verisign.com/com/v1/domain/{domain}"), "type": "application/rdap+json"}],
        "status": ["client delete prohibited", "client transfer prohibited", "client update prohibited"],
        "entities": [{
            "objectClassName": "entity",
            "handle": "292",
            "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": "292"}],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "MarkMonitor Inc."]]],
            "entities": [{"objectClassName": "entity", "roles": ["abuse"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", ""], ["tel", {"type": "voice"}, "uri", "tel:+1.2086851750"]]]}]
        }],
        "events": [
            {"eventAction": "registration", "eventDate": "1997-09-15T04:00:00Z"},
            {"eventAction": "expiration", "eventDate": exp},
            {"eventAction": "last update of RDAP database", "eventDate": "2026-11-30T10:00:00Z"}
        ],
        "secureDNS": {"delegationSigned": false},
        "nameservers": [{"objectClassName": "nameserver", "ldhName": "NS1.EXAMPLE.COM"}],
        "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_0", "icann_rdap_response_profile_0"],
        "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}]
    })
    .to_string()
}

/// A registry that publishes no expiration event and redacts its entities (RFC 9537).
fn no_expiry(domain: &str) -> String {
    serde_json::json!({
        "objectClassName": "domain",
        "ldhName": domain,
        "status": ["active"],
        "entities": [{
            "objectClassName": "entity",
            "roles": ["registrar"],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "REDACTED FOR PRIVACY"]]]
        }],
        "events": [{"eventAction": "registration", "eventDate": "2001-03-02T00:00:00Z"}],
        "redacted": [{"name": {"type": "Registrar Name"}, "method": "replacementValue"}],
        "rdapConformance": ["rdap_level_0", "redacted"]
    })
    .to_string()
}

fn rdap(body: String) -> Reply {
    Reply::new(200, &body).header("Content-Type", "application/rdap+json")
}

fn yaml(rdap_url: &str, domain: &str, extra: &str) -> String {
    let mut s = format!(
        "defaults: {{confirm: false, retries: 0}}\nmonitors:\n  - name: reg\n    type: domain\n    domain: {domain}\n    rdap_url: \"{rdap_url}\"\n"
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

async fn server() -> Server {
    Server::start(
        None,
        routes(vec![
            ("/rdap/domain/far.com", rdap(verisign("far.com", 200))),
            ("/rdap/domain/soon.com", rdap(verisign("soon.com", 20))),
            ("/rdap/domain/urgent.com", rdap(verisign("urgent.com", 3))),
            ("/rdap/domain/lapsed.com", rdap(verisign("lapsed.com", -3))),
            ("/rdap/domain/quiet.example", rdap(no_expiry("quiet.example"))),
            (
                "/rdap/domain/html.com",
                Reply::new(200, "<html>Service Unavailable</html>").header("Content-Type", "text/html"),
            ),
            (
                "/rdap/domain/gone.com",
                Reply::new(404, r#"{"errorCode":404,"title":"Not Found"}"#)
                    .header("Content-Type", "application/rdap+json"),
            ),
        ]),
    )
    .await
}

#[tokio::test]
async fn expiry_registrar_and_status_from_a_verisign_shaped_answer() {
    let s = server().await;
    let base = format!("http://127.0.0.1:{}/rdap/", s.port());
    let l = load(&yaml(&base, "far.com", ""));
    let r = run_loaded(&l).await;
    assert_status(&r, Status::Up);
    assert_eq!(num(&r, "days_left"), 200.0);
    assert!(text(&r, "expires_at").ends_with('Z'), "{r:#?}");
    assert_eq!(text(&r, "registrar"), "MarkMonitor Inc.");
    assert_eq!(text(&r, "status"), "client delete prohibited, client transfer prohibited, client update prohibited");
    not_fired(&l, &r, "domain_expiring");
    // A registration is not a certificate.
    not_fired(&l, &r, "cert_expiring");

    let l = load(&yaml(&base, "soon.com", ""));
    let r = run_loaded(&l).await;
    assert_status(&r, Status::Degraded);
    assert!(r.message.as_deref().unwrap().contains("expires in 20 days"), "{r:#?}");
    assert_eq!(fired(&l, &r, "domain_expiring"), "Domain soon.com expires in 20 days");
    not_fired(&l, &r, "cert_expiring");
    let sev = |l, r| findings(l, r).into_iter().find(|f| f.0 == "domain_expiring").map(|f| f.1);
    assert_eq!(sev(&l, &r), Some(Severity::Medium));

    let l = load(&yaml(&base, "urgent.com", ""));
    let r = run_loaded(&l).await;
    assert_eq!(sev(&l, &r), Some(Severity::High));
    // The monitor's own thresholds.
    let l = load(&yaml(&base, "urgent.com", "warning_days: 2\ncritical_days: 1"));
    let r = run_loaded(&l).await;
    assert_status(&r, Status::Up);
    not_fired(&l, &r, "domain_expiring");

    let l = load(&yaml(&base, "lapsed.com", ""));
    let r = run_loaded(&l).await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("expired on"), "{msg}");
    assert_eq!(num(&r, "days_left"), -3.0);
    assert_eq!(sev(&l, &r), Some(Severity::High));
}

#[tokio::test]
async fn no_expiration_event_is_said_not_alarmed_and_redacted_registrars_are_left_out() {
    let s = server().await;
    let base = format!("http://127.0.0.1:{}/rdap", s.port()); // no trailing slash: added
    let l = load(&yaml(&base, "quiet.example", ""));
    let r = run_loaded(&l).await;
    assert_status(&r, Status::Up);
    assert!(r.message.as_deref().unwrap().contains("publishes no expiration date"), "{r:#?}");
    assert!(!r.metrics.contains_key("days_left") && !r.metrics.contains_key("registrar"), "{r:#?}");
    assert_eq!(text(&r, "status"), "active");
    assert!(findings(&l, &r).is_empty(), "{:?}", findings(&l, &r));
}

#[tokio::test]
async fn unknown_domains_and_non_rdap_answers_fail_clearly() {
    let s = server().await;
    let base = format!("http://127.0.0.1:{}/rdap/", s.port());
    let msg = assert_down(&run_loaded(&load(&yaml(&base, "gone.com", ""))).await, ErrorKind::HttpStatus);
    assert!(msg.contains("no registration for gone.com (404)"), "{msg}");
    let msg = assert_down(&run_loaded(&load(&yaml(&base, "html.com", ""))).await, ErrorKind::Protocol);
    assert!(msg.contains("not JSON") && msg.contains("text/html"), "{msg}");
    let closed = crate::support::server::closed_port();
    let r = run_loaded(&load(&yaml(&format!("http://127.0.0.1:{closed}/"), "far.com", ""))).await;
    assert_down(&r, ErrorKind::Connect);
}

#[tokio::test]
async fn the_lookup_asks_for_rdap_json_at_rdap_url_domain_name() {
    let body = verisign("far.com", 90);
    let fake = FakeHttp::start(move |_| (200, body.clone()));
    let r = run_loaded(&load(&yaml(&fake.url("/v1/"), "FAR.com.", ""))).await;
    assert_status(&r, Status::Up);
    let seen = fake.seen();
    assert_eq!(seen[0].path, "/v1/domain/far.com");
    assert!(seen[0].headers["accept"].starts_with("application/rdap+json"), "{:?}", seen[0].headers);
}

#[test]
fn tlds_outside_the_bootstrap_bad_urls_and_thresholds_are_located_errors_exit_2() {
    let bad = "monitors:\n  - {name: a, type: domain, domain: example.zzz}\n  \
               - {name: b, type: domain, domain: 'https://example.com', rdap_url: 'ftp://rdap.example/'}\n  \
               - {name: c, type: domain, domain: example.com, warning_days: 5, critical_days: 9}\n  \
               - {name: d, type: domain, domain: example.zzz, rdap_url: 'https://rdap.nic.zzz/'}\n";
    let Err(errs) = vaktpost::load_str(bad, "t.yml", &BTreeMap::new()) else { panic!("invalid config loaded") };
    let paths: Vec<&str> = errs.iter().map(|d| d.path.as_str()).collect();
    for want in ["monitors[0].domain", "monitors[1].domain", "monitors[1].rdap_url", "monitors[2].critical_days"] {
        assert!(paths.contains(&want), "{want} in {errs:#?}");
    }
    assert!(!paths.iter().any(|p| p.starts_with("monitors[3]")), "rdap_url makes any TLD fine: {errs:#?}");
    let zzz = errs.iter().find(|d| d.path == "monitors[0].domain").unwrap();
    assert!(zzz.message.contains("no server for .zzz; set rdap_url"), "{zzz}");
    let d = Dir::new();
    d.write("vaktpost.yml", bad);
    let o = d.run(&["validate"], &[]);
    assert_eq!(code(&o), 2, "{}", out_text(&o));
}
