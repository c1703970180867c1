//! Config loading is total (SPEC §9 "no panic on any input: config"): any text, and
//! YAML-shaped text built from vaktpost's own keys with hostile values, loads or fails
//! with located diagnostics — never a panic, and every diagnostic is bounded.

use std::collections::BTreeMap;

use proptest::prelude::*;

const KEYS: &[&str] = &[
    "defaults",
    "monitors",
    "rules",
    "alerts",
    "state",
    "report",
    "name",
    "type",
    "url",
    "timeout",
    "interval",
    "confirm",
    "flapping",
    "canary",
    "condition",
    "for",
    "resolve_after",
    "github",
    "slack",
    "webhook_url",
    "webhook",
    "discord",
    "teams",
    "pagerduty",
    "template",
    "routing_key",
    "events_url",
    "extract",
    "json",
    "expected_status",
    "retention",
    "attempts",
    "pause",
];
const VALUES: &[&str] = &[
    "http",
    "ssl",
    "redis",
    "5",
    "-1",
    "1e309",
    "\"5s\"",
    "\"${X}\"",
    "\"${X:-3}\"",
    "[]",
    "{}",
    "~",
    "\"https://é.example/é?token=x\"",
    "\"!up\"",
    "\"1/0 == 1\"",
    "true",
    "\"\\u0000\"",
    "&a",
    "*a",
    "[1, [2, [3]]]",
    "\"notaurl\"",
    "\"::error::x\"",
];

fn yamlish() -> impl Strategy<Value = String> {
    let line = (0usize..4, prop::sample::select(KEYS), prop::option::of(prop::sample::select(VALUES)), any::<bool>());
    prop::collection::vec(line, 0..30).prop_map(|lines| {
        let mut out = String::new();
        for (depth, key, value, dash) in lines {
            out.push_str(&"  ".repeat(depth));
            if dash {
                out.push_str("- ");
            }
            out.push_str(key);
            out.push(':');
            if let Some(v) = value {
                out.push(' ');
                out.push_str(v);
            }
            out.push('\n');
        }
        out
    })
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let env: BTreeMap<String, String> = [("X".to_string(), "9".to_string())].into();
    if let Err(diags) = vaktpost::load_str(text, "p.yml", &env) {
        prop_assert!(!diags.is_empty());
        for d in diags.iter().take(50) {
            let s = d.to_string();
            prop_assert!(s.chars().count() < 20_000, "diagnostic of {} chars", s.chars().count());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_loads_or_is_diagnosed(text in "(?s).{0,600}") {
        check(&text)?;
    }

    #[test]
    fn yaml_shaped_configs_load_or_are_diagnosed(text in yamlish()) {
        check(&text)?;
    }
}
