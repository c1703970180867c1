//! The README's documented defaults are the real defaults (lychee's check_default_values).

use std::collections::BTreeMap;

fn readme_table(section: &str) -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find(section).unwrap_or_else(|| panic!("README has no section {section}"));
    let mut rows = BTreeMap::new();
    for line in readme[start..].lines().skip(1) {
        if line.starts_with("###") {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[1].starts_with('`') {
            rows.insert(cells[1].trim_matches('`').to_string(), cells[2].trim_matches('`').to_string());
        }
    }
    rows
}

#[test]
fn documented_run_defaults_are_the_real_ones() {
    let doc = readme_table("### `defaults`");
    let real = serde_json::to_value(vaktpost::config::Defaults::default()).unwrap();
    for key in ["timeout", "retries", "samples", "concurrency", "per_host_concurrency", "deadline"] {
        let want = match &real[key] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(doc.get(key), Some(&want), "README defaults table, key {key}");
    }
}

#[test]
fn documented_http_defaults_are_the_real_ones() {
    let doc = readme_table("### `http`");
    let loaded = vaktpost::load_str(
        "monitors:\n  - name: a\n    type: http\n    url: https://example.com\n",
        "t.yml",
        &BTreeMap::new(),
    )
    .unwrap();
    let vaktpost::config::MonitorKind::Http(h) = &loaded.config.monitors[0].kind else { panic!() };
    assert_eq!(doc["method"], h.method);
    assert_eq!(doc["follow_redirects"], h.follow_redirects.to_string());
    assert_eq!(doc["max_redirects"], h.max_redirects.to_string());
    assert_eq!(vaktpost::config::duration::parse_bytes(&doc["max_body_bytes"]).unwrap(), h.max_body_bytes.0);
    assert_eq!(doc["insecure_skip_verify"], h.insecure_skip_verify.to_string());
    assert_eq!(doc["expected_status"], "2xx");
    assert!(h.expected_status.is_none(), "no expected_status means 2xx");
}

#[test]
fn documented_default_rules_are_the_real_ones() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("Default rules (the seed's").expect("README has the default rules table");
    // name ⇒ condition; `\|` is a pipe inside a cell.
    // name ⇒ (condition, for, resolve_after)
    let doc: BTreeMap<String, (String, String, String)> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.is_empty() || l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<String> =
                l.replace("\\|", "\u{1}").split('|').map(|c| c.trim().replace('\u{1}', "|")).collect();
            (cells.len() > 7 && cells[1].starts_with('`')).then(|| {
                (
                    cells[1].trim_matches('`').to_string(),
                    (cells[2].trim_matches('`').to_string(), cells[5].clone(), cells[6].clone()),
                )
            })
        })
        .collect();
    let real: BTreeMap<String, (String, String, String)> = vaktpost::rules::defaults::default_rules()
        .into_iter()
        .map(|r| {
            let streaks = (r.for_runs.unwrap_or(1).to_string(), r.resolve_after.unwrap_or(1).to_string());
            (r.name, (r.condition.unwrap_or_default(), streaks.0, streaks.1))
        })
        .collect();
    for (name, cond) in &real {
        // The security_* family is one row (`security_*`), detailed in its own section.
        if name.starts_with("security_") {
            continue;
        }
        assert_eq!(doc.get(name), Some(cond), "README default rules table, rule {name}");
    }
    for name in doc.keys().filter(|n| !n.contains('*')) {
        assert!(real.contains_key(name), "README documents a default rule {name} that does not exist");
    }
}
