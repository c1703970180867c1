//! Rules that mean what they say: a rule that cannot be evaluated is a `rule_error`
//! finding across runs, `validate` rejects unknown variables and type errors with a
//! location, every shipped config's rules validate, and the variable catalogue
//! `validate` checks against covers what real checks produce.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::server::TestServer;
use support::{load, run_loaded};
use vaktpost::checks::{CheckResult, Status};
use vaktpost::config::{Diagnostic, Loaded, Severity};
use vaktpost::load_str;
use vaktpost::rules::{vars, Finding};
use vaktpost::state::State;

fn diags(yaml: &str) -> Vec<Diagnostic> {
    match load_str(yaml, "t.yml", &BTreeMap::new()) {
        Ok(_) => vec![],
        Err(d) => d,
    }
}

/// The single diagnostic `yaml` gets, as `path: message` (plus its line).
fn only_error(yaml: &str) -> (String, usize) {
    let d = diags(yaml);
    assert_eq!(d.len(), 1, "expected one diagnostic, got {d:#?}\n---\n{yaml}");
    (format!("{}: {}", d[0].path, d[0].message), d[0].line)
}

fn assert_valid(yaml: &str) {
    let d = diags(yaml);
    assert!(d.is_empty(), "expected no diagnostics, got {d:#?}\n---\n{yaml}");
}

const HTTP: &str = "monitors:\n  - name: api\n    type: http\n    url: https://api.example.com/health\n";

// ---------------------------------------------------------------- rule errors at run time

fn result(loaded: &Loaded, response_time_ms: f64) -> CheckResult {
    let mut r =
        CheckResult::new(&loaded.config.monitors[0], "https://api.example.com/health".into(), chrono::Utc::now());
    r.set("response_time_ms", response_time_ms);
    r
}

fn evaluate(loaded: &Loaded, r: &CheckResult, state: &mut State) -> Vec<Finding> {
    let rules = vaktpost::rules::build(&loaded.config.rules).unwrap_or_else(|e| panic!("{e:?}"));
    vaktpost::evaluate(&loaded.config, &rules, std::slice::from_ref(r), state, chrono::Utc::now())
}

#[test]
fn erroring_rule_is_a_finding_at_once_and_resolves_when_it_evaluates_again() {
    // `for: 3` would hide a holding rule for two runs; an error is reported on the first.
    let l = load(&format!(
        "{HTTP}rules:\n  - name: slow_response\n    condition: response_time > 2.0 && 1/0 == 1\n    for: 3\n"
    ));
    let mut state = State::default();
    let f = evaluate(&l, &result(&l, 2500.0), &mut state);
    let err: Vec<&Finding> = f.iter().filter(|f| f.rule == "slow_response").collect();
    assert_eq!(err.len(), 1, "{f:#?}");
    let e = err[0];
    assert_eq!(e.fingerprint, "api/slow_response");
    assert_eq!(e.severity, Severity::Low, "the rule's own severity");
    assert_eq!(e.category.as_deref(), Some("rule_error"));
    assert_eq!(
        e.message,
        "rule `slow_response` could not be evaluated for api: division by zero; fix its condition (`vaktpost validate` checks names and types)"
    );
    let notes = vaktpost::rules::errors::notes(&f);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("Rule errors: `slow_response` could not be evaluated for api: division by zero"),
        "{notes:?}"
    );

    // Still failing: still reported, once.
    let f = evaluate(&l, &result(&l, 2500.0), &mut state);
    assert_eq!(f.iter().filter(|f| f.category.as_deref() == Some("rule_error")).count(), 1, "{f:#?}");

    // `false && error` is false in CEL: the rule evaluates again, and the error resolves.
    let f = evaluate(&l, &result(&l, 100.0), &mut state);
    assert!(f.iter().all(|f| f.rule != "slow_response"), "{f:#?}");
    assert!(!state.rules.contains_key("api/slow_response"), "state cleaned: {:?}", state.rules);
    assert!(vaktpost::rules::errors::notes(&f).is_empty());
}

#[test]
fn rule_error_then_holding_rule_keeps_the_fingerprint_and_first_seen() {
    let l =
        load(&format!("{HTTP}rules:\n  - name: tiered\n    condition: labels.tier == 'gold'\n    severity: high\n"));
    let mut state = State::default();
    // No `tier` label: CEL's "no such key" is an error on a result that has `labels`.
    let f = evaluate(&l, &result(&l, 100.0), &mut state);
    let e = f.iter().find(|f| f.rule == "tiered").unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!((e.category.as_deref(), e.severity), (Some("rule_error"), Severity::High));
    assert!(e.message.contains("no such key: tier"), "{}", e.message);
    let since = state.rules["api/tiered"].first_seen;
    assert!(since.is_some());

    let mut r = result(&l, 100.0);
    r.labels.insert("tier".into(), "gold".into());
    let f = evaluate(&l, &r, &mut state);
    let held = f.iter().find(|f| f.rule == "tiered").unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(held.category, None, "a normal finding again");
    assert_eq!(held.fingerprint, "api/tiered");
    assert_eq!(state.rules["api/tiered"].first_seen, since, "the issue's `since` stays");
}

#[test]
fn skipped_monitor_carries_its_rule_error_but_not_its_note() {
    let l = load(&format!("{HTTP}rules:\n  - name: broken\n    condition: up && 1/0 == 1\n"));
    let mut state = State::default();
    evaluate(&l, &result(&l, 100.0), &mut state);
    let mut skipped = result(&l, 100.0);
    skipped.status = Status::Skipped;
    let f = evaluate(&l, &skipped, &mut state);
    let e = f.iter().find(|f| f.rule == "broken").unwrap_or_else(|| panic!("{f:#?}"));
    assert!(e.carried_over);
    assert!(vaktpost::rules::errors::notes(&f).is_empty(), "last run's error is not this run's news");
}

// ---------------------------------------------------------------- validate

#[test]
fn misspelt_variable_is_located_with_did_you_mean() {
    let yaml = format!("{HTTP}rules:\n  - name: slow\n    condition: respons_time > 2\n");
    let (e, line) = only_error(&yaml);
    assert!(
        e.starts_with(
            "rules[0].condition: unknown variable \"respons_time\" (did you mean \"response_time\"?); the monitors this rule applies to (http) provide: "
        ),
        "{e}"
    );
    assert!(e.contains("response_time_ms") && e.contains("uptime_24h"), "{e}");
    assert_eq!(line, 7, "the condition's line");
}

#[test]
fn misspelt_variable_in_an_escalation_is_located() {
    let yaml = format!(
        "{HTTP}rules:\n  - name: slow\n    condition: response_time > 2.0\n    escalate:\n      - when: respone_time > 5.0\n        severity: high\n"
    );
    let (e, _) = only_error(&yaml);
    assert!(
        e.starts_with("rules[0].escalate[0].when: unknown variable \"respone_time\" (did you mean \"response_time\"?)"),
        "{e}"
    );
}

#[test]
fn type_errors_unknown_functions_and_non_bool_conditions_are_invalid() {
    for (cond, want) in [
        ("status > 3", "no matching overload"),
        ("foo(up)", "unknown function or variable \"foo\""),
        ("response_time + 1.0", "not true or false"),
        ("response_time_ms / 1000 > 2.0", "write number literals with a decimal point"),
        ("up || foo(up)", "\"foo\""),
        ("name.startsWith(1)", "no matching overload"),
    ] {
        let (e, _) = only_error(&format!("{HTTP}rules:\n  - name: r\n    condition: {cond:?}\n"));
        assert!(e.starts_with("rules[0].condition: "), "{cond}: {e}");
        assert!(e.contains(want), "{cond}: expected {want:?} in {e}");
        assert!(e.contains("checked for http monitors"), "{e}");
    }
}

#[test]
fn runtime_only_errors_and_macros_validate() {
    for cond in [
        "up && 1/0 == 1",
        "labels.team == 'core'",
        "has(labels.team) && labels.team == 'core'",
        "[1, 2].exists(x, x > 0) || up",
        "security_rules.exists(r, r.startsWith('security_'))",
        "security_rules.size() > 0 || [1].all(x, x > 0)",
        "size(['a'].map(s, s + name)) > 0",
        "['a', 'b'].filter(s, s == status).size() == 0",
        "days_to_full == 'unknown' || memory_slope_per_day > 0.0",
        "flapping || flaps > 3",
        "type == 'http' && error_kind == 'timeout'",
        "uptime_24h < 0.99 && p95_24h_ms > 800",
    ] {
        assert_valid(&format!("{HTTP}rules:\n  - name: r\n    condition: {cond:?}\n"));
    }
}

#[test]
fn per_type_variables_extracts_and_dotted_metrics_validate() {
    assert_valid(
        "monitors:\n  - name: mem\n    type: http\n    url: https://a.example.com/memory\n    extract:\n      heap: /heap\n  - name: c\n    type: chroma\n    url: http://localhost:8000\n  - name: sp\n    type: status_page\n    preset: openai\n  - name: logs\n    type: log_files\n    path: /var/log/*.log\n\
rules:\n  - name: heap\n    condition: heap > 90\n    monitors: [mem]\n  - name: docs\n    condition: records.docs < 1\n  - name: api\n    condition: components.api != 'operational'\n  - name: stale\n    condition: stale_files.exists(f, f.endsWith('.log')) && app_up\n  - name: groups\n    condition: error_groups.exists(g, g.count > 10)\n",
    );
    // An extract name is a variable of its monitor only.
    let (e, _) = only_error(
        "monitors:\n  - name: cert\n    type: ssl\n    host: api.example.com\nrules:\n  - name: heap\n    condition: heap > 90\n",
    );
    assert!(
        e.starts_with(
            "rules[0].condition: unknown variable \"heap\"; the monitors this rule applies to (ssl) provide: "
        ),
        "{e}"
    );
}

#[test]
fn variables_that_never_meet_on_one_monitor_are_invalid() {
    let (e, _) = only_error(
        "monitors:\n  - name: cert\n    type: ssl\n    host: api.example.com\n  - name: box\n    type: system\nrules:\n  - name: odd\n    condition: days_left < 3 && percent > 90\n",
    );
    assert!(
        e.contains("no monitor this rule applies to (ssl, system) has all of \"days_left\", \"percent\" together"),
        "{e}"
    );
}

#[test]
fn monitors_globs_that_match_nothing_are_invalid() {
    let (e, _) = only_error(&format!("{HTTP}rules:\n  - name: slow_response\n    monitors: [\"web*\", db]\n"));
    assert_eq!(e, "rules[0].monitors: no monitor matches \"web*\", \"db\"; the monitors are: api");
}

#[test]
fn conditions_over_4096_characters_are_invalid() {
    let long = vec!["up"; 1100].join(" || ");
    let (e, _) = only_error(&format!("{HTTP}rules:\n  - name: long\n    condition: \"{long}\"\n"));
    assert!(
        e.starts_with(
            "rules[0].condition: the condition is 6596 characters long; keep conditions under 4096 characters"
        ),
        "{e}"
    );
}

#[test]
fn default_rules_are_not_type_checked_against_monitors_without_their_variables() {
    // `high_memory` reads `percent`, which an ssl monitor never has: not an error.
    assert_valid("monitors:\n  - name: cert\n    type: ssl\n    host: api.example.com\n");
    // Overriding only a default's severity writes no condition to check.
    assert_valid(
        "monitors:\n  - name: cert\n    type: ssl\n    host: api.example.com\nrules:\n  - name: high_memory\n    severity: high\n",
    );
}

/// Every `*.yml` under `dir`, recursively.
fn yml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            yml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_rule_in_every_shipped_config_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    yml_files(&root.join("config"), &mut files);
    for e in std::fs::read_dir(root.join("examples")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".vaktpost.yml") {
            files.push(p);
        }
    }
    let env: BTreeMap<String, String> = [
        ("MONITORING_INTERVAL", "300"),
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x"),
        ("ALERT_EMAIL", "alerts@example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut checked = 0;
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        // Workflow files live beside the configs (`config/init/workflow.yml`).
        let top: serde_json::Value = yaml_serde::from_str(&text).unwrap_or_default();
        if top.get("jobs").is_some() {
            continue;
        }
        checked += 1;
        let bad: Vec<String> = match load_str(&text, &p.display().to_string(), &env) {
            Ok(_) => vec![],
            Err(d) => d.iter().filter(|d| d.path.starts_with("rules")).map(|d| d.to_string()).collect(),
        };
        assert!(bad.is_empty(), "{}: {bad:#?}", p.display());
    }
    assert!(checked >= 7, "only {checked} configs found");
}

// ---------------------------------------------------------------- the catalogue is true

/// Every metric key of `r` is in the catalogue of its type, and so is every variable
/// `rules::variables` makes of it (`response_time`, thresholds, security rules, …).
fn assert_catalogued(l: &Loaded, r: &CheckResult) {
    let m = l.config.monitors.iter().find(|m| m.common.name == r.name).unwrap();
    let cat = vars::for_monitor(m);
    let extract: Vec<&String> = match &m.kind {
        vaktpost::config::MonitorKind::Http(h) => h.extract.keys().collect(),
        _ => vec![],
    };
    assert!(!r.metrics.is_empty(), "{r:#?}");
    for k in r.metrics.keys() {
        assert!(
            vars::knows_metric(&r.kind, k) || extract.contains(&k),
            "{} metric {k:?} is not in the catalogue",
            r.kind
        );
    }
    for (k, v) in vaktpost::rules::variables(m, r, &BTreeMap::new()) {
        let ty = cat.get(&k).unwrap_or_else(|| panic!("{} variable {k:?} is not in the catalogue", r.kind));
        let fits = matches!(
            (ty, &v),
            (vars::Ty::Number, serde_json::Value::Number(_))
                | (vars::Ty::Bool, serde_json::Value::Bool(_))
                | (vars::Ty::Str, serde_json::Value::String(_))
                | (vars::Ty::List(_), serde_json::Value::Array(_))
                | (vars::Ty::Map(_), serde_json::Value::Object(_))
                | (vars::Ty::Dyn, _)
        );
        assert!(fits, "{} variable {k:?} is {v} but the catalogue says {}", r.kind, ty.name());
    }
}

#[tokio::test]
async fn catalogue_covers_a_real_https_check_with_extract_security_and_version() {
    let s = TestServer::start_tls().await;
    let plain = support::server::closed_port();
    let l = load(&format!(
        "monitors:\n  - name: mem\n    type: http\n    url: \"{}\"\n    insecure_skip_verify: true\n    samples: 2\n    extract:\n      percent: /percent\n    security:\n      http_url: \"http://127.0.0.1:{plain}/\"\n",
        s.url("/memory/status")
    ));
    let r = run_loaded(&l).await;
    for k in ["days_left", "tls_version", "percent", "security_violations", "p95_ms"] {
        assert!(r.metrics.contains_key(k), "{k} missing: {r:#?}");
    }
    assert_catalogued(&l, &r);

    let l = load(&format!(
        "monitors:\n  - name: ver\n    type: http\n    url: \"{}\"\n    insecure_skip_verify: true\n    expect_version: \"{}\"\n",
        s.url("/versioned"),
        support::server::SHA
    ));
    let r = run_loaded(&l).await;
    assert!(r.metrics.contains_key("version"), "{r:#?}");
    assert_catalogued(&l, &r);
}

#[tokio::test]
async fn catalogue_covers_a_failing_http_check() {
    let l = load(&format!(
        "monitors:\n  - name: gone\n    type: http\n    url: \"http://127.0.0.1:{}/\"\n    timeout: 2s\n",
        support::server::closed_port()
    ));
    let r = run_loaded(&l).await;
    assert_eq!(r.status, Status::Down);
    assert_catalogued(&l, &r);
}

#[tokio::test]
async fn catalogue_covers_the_system_check() {
    let l = load("monitors:\n  - name: host\n    type: system\n    max_memory_percent: 99\n");
    let r = run_loaded(&l).await;
    assert!(r.metrics.contains_key("percent"), "{r:#?}");
    assert_catalogued(&l, &r);
}

#[tokio::test]
async fn catalogue_covers_the_log_files_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.log"), "ERROR boom\nINFO fine\nERROR boom\n").unwrap();
    std::fs::write(dir.path().join("app.log.1"), "old\n").unwrap();
    let l = load(&format!(
        "monitors:\n  - name: logs\n    type: log_files\n    path: \"{}/app.log*\"\n    max_file_bytes: 1MB\n    max_age: 2d\n    stale_after: 1d\n    max_errors: 1\n",
        dir.path().display()
    ));
    let r = run_loaded(&l).await;
    assert!(r.metrics.contains_key("error_count"), "{r:#?}");
    assert_catalogued(&l, &r);
}
