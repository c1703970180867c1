//! Shared helpers for the integration tests: a fault-injecting local HTTP(S) server
//! (`server`) and small wrappers that load a YAML config and run its first monitor.
//!
//! Compiled once into the `suite` binary (and by `tests/hostile.rs`), and not every
//! binary uses every helper.
#![allow(dead_code)]

pub mod clock;
pub mod fake_api;
pub mod raw;
pub mod server;
pub mod services;
pub mod tls;

use std::collections::BTreeMap;

use vaktpost::checks::{run_check, CheckEnv, CheckResult, ErrorKind, Status};
use vaktpost::config::Loaded;
use vaktpost::load_str;

/// A config with one `http` monitor named `t`. `extra` holds more keys of the monitor,
/// one per line, written as at the top level (they are indented here).
pub fn http_yaml(url: &str, extra: &str) -> String {
    let mut s = format!("monitors:\n  - name: t\n    type: http\n    url: \"{url}\"\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// Loads `yaml` with the given environment; panics with the diagnostics if it does not load.
pub fn load_with_env(yaml: &str, env: &[(&str, &str)]) -> Loaded {
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    match load_str(yaml, "test.yml", &env) {
        Ok(l) => l,
        Err(d) => panic!("config did not load: {d:#?}\n---\n{yaml}"),
    }
}

pub fn load(yaml: &str) -> Loaded {
    load_with_env(yaml, &[])
}

/// Runs the first monitor of `loaded` once, as the runner would.
pub async fn run_loaded(loaded: &Loaded) -> CheckResult {
    let m = &loaded.config.monitors[0];
    let eff = vaktpost::runner::effective(&loaded.config, m);
    let cenv = CheckEnv::new(vaktpost::redact::Redactor::new(&loaded.secrets));
    run_check(m, &eff, &cenv, chrono::Utc::now()).await
}

/// Loads and runs a whole config.
pub async fn run_yaml(yaml: &str) -> CheckResult {
    run_loaded(&load(yaml)).await
}

/// Loads and runs one `http` monitor (see [`http_yaml`]).
pub async fn run_http(url: &str, extra: &str) -> CheckResult {
    run_yaml(&http_yaml(url, extra)).await
}

/// A numeric metric; panics, showing the result, when it is missing or not a number.
pub fn num(r: &CheckResult, name: &str) -> f64 {
    r.metric_f64(name).unwrap_or_else(|| panic!("metric {name} missing or not a number in {r:#?}"))
}

/// A string metric; panics, showing the result, when it is missing or not a string.
pub fn text<'a>(r: &'a CheckResult, name: &str) -> &'a str {
    r.metrics
        .get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("metric {name} missing or not a string in {r:#?}"))
}

pub fn assert_status(r: &CheckResult, want: Status) {
    assert_eq!(r.status, want, "unexpected status in {r:#?}");
}

/// Asserts status `down` (or whatever `r.status` must be for an error) and the error kind;
/// returns the error message.
pub fn assert_error(r: &CheckResult, kind: ErrorKind) -> String {
    let e = r.error.as_ref().unwrap_or_else(|| panic!("expected a {kind:?} error in {r:#?}"));
    assert_eq!(e.kind, kind, "unexpected error kind in {r:#?}");
    e.message.clone()
}

/// Asserts `up` with no error.
pub fn assert_up(r: &CheckResult) {
    assert_eq!(r.status, Status::Up, "expected up: {r:#?}");
    assert!(r.error.is_none(), "expected no error: {r:#?}");
}

/// Asserts `down` with an error of `kind`; returns the error message.
pub fn assert_down(r: &CheckResult, kind: ErrorKind) -> String {
    assert_eq!(r.status, Status::Down, "expected down: {r:#?}");
    assert_error(r, kind)
}
