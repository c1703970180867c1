//! `vaktpost import upptime|gatus FILE` on configs in both tools' documented shapes (their
//! README examples, secrets, tcp-ping, DNS, certificate and domain-expiry conditions,
//! thresholds, alert providers): the output passes vaktpost's loader with the expected
//! monitors and rules, and says what it did not translate; the wrong tool's file or a
//! file that is not YAML is a located error, exit 2.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::documented::{code, text, Dir};
use vaktpost::checks::MonitorKind;
use vaktpost::import::{import, Tool};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import").join(name))
        .unwrap()
}

/// Loads an import's output with its variables set, as `vaktpost validate` would.
fn load(out: &vaktpost::import::Imported) -> vaktpost::config::Loaded {
    // A whole value (a webhook URL) is a URL; a part of one (a password in smtp_url) a word.
    let env: BTreeMap<String, String> = out
        .variables
        .iter()
        .map(|v| {
            let whole = out.text.contains(&format!("\"${{{v}}}\""));
            (v.clone(), if whole { "https://example.com/secret" } else { "secret" }.to_string())
        })
        .collect();
    vaktpost::load_str(&out.text, "imported.yml", &env).unwrap_or_else(|d| panic!("{d:#?}\n---\n{}", out.text))
}

fn kinds(l: &vaktpost::config::Loaded) -> BTreeMap<String, &MonitorKind> {
    l.config.monitors.iter().map(|m| (m.common.name.clone(), &m.kind)).collect()
}

#[test]
fn upptime_readme_sites_become_http_tcp_and_ssl_monitors() {
    let out = import(Tool::Upptime, &fixture("upptimerc.yml"), ".upptimerc.yml").unwrap();
    let l = load(&out);
    let k = kinds(&l);
    assert_eq!(l.config.monitors.len(), 8, "{}", out.text);
    let MonitorKind::Http(post) = k["POST to Google"] else { panic!("{}", out.text) };
    assert_eq!(post.method, "POST");
    assert_eq!(post.max_response_time.map(|d| d.get().as_millis()), Some(5000));
    assert!(out.text.contains("expected_status: [200, 201]"));
    // Upptime's `$SECRET` syntax stays a reference, never a value.
    let MonitorKind::Http(api) = k["Secret API"] else { panic!() };
    assert_eq!(api.url, "https://secret/health");
    assert!(out.text.contains("\"Bearer ${SECRET_TOKEN}\""), "{}", out.text);
    assert_eq!(out.variables, vec!["SECRET_SITE", "SECRET_TOKEN"]);
    assert!(api.insecure_skip_verify && api.body_contains.is_some());
    let MonitorKind::Tcp(tcp) = k["Cloud API"] else { panic!() };
    assert_eq!((tcp.host.as_str(), tcp.port), ("api.hetzner.cloud", 443));
    assert!(matches!(k["Certificate"], MonitorKind::Ssl(s) if s.host == "example.com"));
    // Issues go where Upptime's went, to the same people.
    let gh = l.config.alerts.github.as_ref().unwrap();
    assert_eq!(gh.repository.as_deref(), Some("upptime/upptime"));
    assert_eq!(gh.assignees, vec!["AnandChowdhary", "octocat"]);
    for what in ["check \"ws\"", "status-website", "workflowSchedule", "icon"] {
        assert!(out.text.lines().any(|l| l.contains("# not translated") && l.contains(what)), "{what}: {}", out.text);
    }
    assert_eq!(out.not_translated, 4);
}

#[test]
fn gatus_readme_endpoints_conditions_and_alerting_translate() {
    let out = import(Tool::Gatus, &fixture("gatus.yaml"), "config.yaml").unwrap();
    let l = load(&out);
    let k = kinds(&l);
    let MonitorKind::Http(w) = k["website"] else { panic!("{}", out.text) };
    assert_eq!(w.json.get("/status"), Some(&serde_json::json!("UP")));
    assert!(out.text.contains("expected_status: 200"));
    assert_eq!(l.config.monitors[0].common.interval.map(|d| d.get().as_secs()), Some(300));
    let MonitorKind::Http(h) = k["make-sure-header-is-rendered"] else { panic!() };
    assert!(h.body_contains.is_some());
    let MonitorKind::Domain(d) = k["make-sure-header-is-rendered domain"] else { panic!("{}", out.text) };
    assert_eq!((d.domain.as_str(), d.warning_days), ("example.org", 30));
    let MonitorKind::Dns(dns) = k["example-dns-query"] else { panic!() };
    assert_eq!(
        (dns.query.as_str(), dns.resolver.as_deref(), dns.expected_rcode.as_str()),
        ("example.com", Some("8.8.8.8"), "NOERROR")
    );
    assert_eq!(dns.expected, vec!["93.184.215.14"]);
    let MonitorKind::Tcp(redis) = k["redis"] else { panic!() };
    assert_eq!((redis.send.as_deref(), redis.expect.as_deref()), (Some("PING"), Some("PONG")));
    let MonitorKind::Http(fe) = k["front-end"] else { panic!() };
    assert!(fe.insecure_skip_verify && fe.method == "POST");
    assert_eq!(l.config.monitors.iter().find(|m| m.common.name == "front-end").unwrap().common.labels["group"], "core");
    // Conditions without a monitor key are rules on that monitor; thresholds are for/resolve_after.
    let rule = |n: &str| l.config.rules.iter().find(|r| r.name == n).unwrap_or_else(|| panic!("{n}: {}", out.text));
    let rt = rule("website_condition_1");
    assert_eq!(rt.condition.as_deref(), Some("!(response_time_ms < 300)"));
    assert_eq!((rt.for_runs, rt.resolve_after), (Some(3), Some(2)));
    assert_eq!(rule("make_sure_header_is_rendered_condition_1").condition.as_deref(), Some("!(days_left >= 2)"));
    assert_eq!((rule("endpoint_down").for_runs, rule("endpoint_down").resolve_after), (Some(3), Some(2)));
    // Providers vaktpost has; literal secrets become references, never copied.
    assert!(out.text.contains("webhook_url: \"${SLACK_WEBHOOK_URL}\""));
    assert!(!out.text.contains("hooks.slack.com"), "{}", out.text);
    assert!(l.config.alerts.email.is_some());
    for what in ["icmp-ping", "ssh-example", "alerting.discord", "storage", "len([BODY].data)", "description"] {
        assert!(out.text.lines().any(|l| l.contains("# not translated") && l.contains(what)), "{what}: {}", out.text);
    }
}

#[test]
fn the_cli_prints_a_config_that_validate_accepts() {
    let d = Dir::new();
    d.write("config.yaml", &fixture("gatus.yaml"));
    let o = d.run(&["import", "gatus", "config.yaml"], &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    d.write("vaktpost.yml", &String::from_utf8_lossy(&o.stdout));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not translated"), "{}", text(&o));
    let env =
        [("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X"), ("EMAIL_PASSWORD", "pw"), ("API_TOKEN", "t")];
    let o = d.run(&["validate"], &env);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("valid — 6 monitors"), "{}", text(&o));
}

#[test]
fn the_wrong_tool_or_not_yaml_is_a_located_error_exit_2() {
    let e = import(Tool::Upptime, &fixture("gatus.yaml"), "config.yaml").unwrap_err();
    assert!(
        e[0].message.contains("looks like a Gatus config") && e[0].message.contains("vaktpost import gatus"),
        "{e:?}"
    );
    assert!(e[0].line > 1, "at the endpoints key: {e:?}");
    let e = import(Tool::Gatus, &fixture("upptimerc.yml"), ".upptimerc.yml").unwrap_err();
    assert!(
        e[0].message.contains("looks like a Upptime config") || e[0].message.contains("looks like an Upptime config"),
        "{e:?}"
    );
    let e = import(Tool::Gatus, "endpoints:\n  - name: x\n    url: [unclosed\n", "c.yaml").unwrap_err();
    assert!(e[0].message.starts_with("not a YAML file") && e[0].line >= 3, "{e:?}");
    let e = import(Tool::Gatus, "just some text", "c.yaml").unwrap_err();
    assert!(e[0].message.contains("YAML mapping"), "{e:?}");

    let d = Dir::new();
    d.write(".upptimerc.yml", &fixture("upptimerc.yml"));
    let o = d.run(&["import", "gatus", ".upptimerc.yml"], &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(o.stdout.is_empty(), "nothing printed on stdout: {}", text(&o));
    assert!(text(&o).contains(".upptimerc.yml:4:1: this looks like a"), "{}", text(&o));
    let o = d.run(&["import", "gatus", "missing.yaml"], &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever names, URLs, headers and conditions a file holds, import never panics,
    /// and what it returns loads (it checks that itself; an error is a diagnostic).
    #[test]
    fn arbitrary_endpoints_never_panic_and_output_loads(
        name in "\\PC{0,30}",
        url in prop_oneof![Just("https://a.example.com/x".to_string()), Just("tcp://h:1".to_string()), "\\PC{0,20}"],
        header in "\\PC{0,20}",
        cond in prop_oneof![Just("[STATUS] == 200".to_string()), Just("[BODY].a.b == 1".to_string()), "\\PC{0,30}"],
    ) {
        let yaml = format!(
            "endpoints:\n  - name: {}\n    url: {}\n    headers: {{X: {}}}\n    conditions: [{}]\n",
            serde_json::to_string(&name).unwrap(), serde_json::to_string(&url).unwrap(),
            serde_json::to_string(&header).unwrap(), serde_json::to_string(&cond).unwrap()
        );
        match import(Tool::Gatus, &yaml, "p.yaml") {
            Ok(out) => { load(&out); }
            Err(d) => prop_assert!(!d.is_empty() && !d[0].message.contains("internal error"), "{d:?}\n{yaml}"),
        }
        let up = format!("sites:\n  - name: {}\n    url: {}\n    headers: [{}]\n", serde_json::to_string(&name).unwrap(), serde_json::to_string(&url).unwrap(), serde_json::to_string(&header).unwrap());
        match import(Tool::Upptime, &up, "p.yml") {
            Ok(out) => { load(&out); }
            Err(d) => prop_assert!(!d[0].message.contains("internal error"), "{d:?}\n{up}"),
        }
    }
}
