//! The `system` check on this machine: the same numbers as the seed's psutil
//! `virtual_memory()` (checked against /proc/meminfo on Linux), its threshold, and the
//! validation of every memory monitor's thresholds.

use crate::support;

use std::collections::BTreeMap;

use support::services::{fired, not_fired};
use support::{assert_up, load, num, run_loaded};
use vaktpost::checks::Status;

const YAML: &str = "monitors:\n  - name: host\n    type: system\n";

/// `MemTotal` and `MemAvailable` in bytes, as psutil reads them.
#[cfg(target_os = "linux")]
fn meminfo() -> (f64, f64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map(|kib| kib * 1024.0)
            .unwrap_or_else(|| panic!("{name} missing from /proc/meminfo"))
    };
    (field("MemTotal"), field("MemAvailable"))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn numbers_are_psutils_virtual_memory() {
    let l = load(YAML);
    let r = run_loaded(&l).await;
    assert_up(&r);
    assert_eq!(r.target, "this machine");
    let (total, available) = meminfo();
    assert_eq!(num(&r, "total"), total, "total is MemTotal");
    // Available moves while the test runs; it is MemAvailable within 5% of the total.
    assert!((num(&r, "available") - available).abs() < total * 0.05, "{r:#?} vs MemAvailable {available}");
    let (t, a) = (num(&r, "total"), num(&r, "available"));
    let percent = ((t - a) / t * 1000.0).round() / 10.0;
    assert_eq!(num(&r, "percent"), percent, "psutil: (total - available) / total, one decimal");
    assert_eq!(num(&r, "used"), t - a);
    assert_eq!(r.metrics["memory_series"], serde_json::json!(["used"]));
    assert_eq!(num(&r, "memory_limit"), t);
    let key = vaktpost::report::summary::key_metric(&r);
    assert!(key.contains("GiB") || key.contains("MiB"), "{key}");
    not_fired(&l, &r, "memory_over_limit");
}

#[tokio::test]
async fn over_max_memory_percent_degrades_and_fires() {
    let l = load(&format!("{YAML}    max_memory_percent: 0.1\n"));
    let r = run_loaded(&l).await;
    assert_eq!(r.status, Status::Degraded, "{r:#?}");
    assert!(r.message.as_deref().unwrap_or("").contains("over max_memory_percent 0.1%"), "{r:#?}");
    let msg = fired(&l, &r, "memory_over_limit");
    assert!(
        msg.starts_with("Memory usage of host is ") && msg.ends_with("over its max_memory_percent of 0.1%"),
        "{msg}"
    );
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn high_memory_applies_to_the_system_monitor() {
    let l = load(YAML);
    let mut r = run_loaded(&l).await;
    // The machine's real usage is whatever it is; the rule is what is under test.
    r.set("percent", 95.5);
    assert_eq!(fired(&l, &r, "high_memory"), "Memory usage is 95.5%");
}

#[test]
fn memory_thresholds_are_validated() {
    let yaml = "monitors:\n  - name: host\n    type: system\n    max_memory_percent: 0\n  - name: cache\n    type: redis\n    url: redis://h\n    min_hit_rate: 90\n    max_memory_percent: 150\n    max_fragmentation_ratio: -1\n  - name: vec\n    type: chroma\n    url: http://h\n    auth_header: \"bad header\"\n    collections: [\"\"]\n";
    let errs = match vaktpost::load_str(yaml, "t.yml", &BTreeMap::new()) {
        Ok(_) => panic!("invalid thresholds were accepted"),
        Err(e) => e,
    };
    let paths: Vec<&str> = errs.iter().map(|d| d.path.as_str()).collect();
    for want in [
        "monitors[0].max_memory_percent",
        "monitors[1].min_hit_rate",
        "monitors[1].max_memory_percent",
        "monitors[1].max_fragmentation_ratio",
        "monitors[2].auth_header",
        "monitors[2].collections[0]",
    ] {
        assert!(paths.contains(&want), "{want} not reported in {errs:#?}");
    }
    let hit = errs.iter().find(|d| d.path == "monitors[1].min_hit_rate").map(|d| d.message.clone()).unwrap_or_default();
    assert!(hit.contains("0.9 means 90%"), "{hit}");
}
