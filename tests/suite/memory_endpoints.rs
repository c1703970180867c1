//! The seed's app-level memory endpoints (`/memory/status`, `/memory/chroma`,
//! `/memory/redis`) as the shipped `config/memory-endpoints.yml` monitors them: `http`
//! monitors with `extract: {percent: /percent}`, so the seed's `high_memory` rule applies.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::services::FakeHttp;

#[test]
fn high_memory_fires_for_every_memory_endpoint_over_90_percent() {
    let app = FakeHttp::start(|req| match req.path.as_str() {
        "/memory/status" | "/memory/chroma" | "/memory/redis" => (200, r#"{"percent": 93}"#.into()),
        _ => (404, "{}".into()),
    });
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/memory-endpoints.yml");
    let run = |only: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vaktpost"))
            .arg("run")
            .args(only)
            .arg("-c")
            .arg(&config)
            .current_dir(dir.path())
            .env_clear()
            .env("API_URL", format!("http://127.0.0.1:{}", app.port))
            .output()
            .unwrap()
    };
    // high_memory needs two runs over the line (`for: 2`): one high reading is no alert.
    let first = run(&[]);
    assert_eq!(first.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("vaktpost-report.json")).unwrap()).unwrap();
    assert!(report["findings"].as_array().unwrap().is_empty(), "{report:#}");
    // The monitors' `interval: 300` would skip them now; `--only` checks them regardless.
    let o = run(&["--only", "memory_*"]);
    // high_memory is medium; the default gate is high.
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("vaktpost-report.json")).unwrap()).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    for c in checks {
        assert_eq!(c["status"], "up", "{c:#}");
        assert_eq!(c["metrics"]["percent"], 93.0, "{c:#}");
    }
    let mut fired: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "high_memory")
        .map(|f| (f["monitor"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
        .collect();
    fired.sort();
    let want: Vec<(String, String)> = ["memory_chroma", "memory_redis", "memory_status"]
        .iter()
        .map(|m| (m.to_string(), "Memory usage is 93%".to_string()))
        .collect();
    assert_eq!(fired, want, "{report:#}");
    let paths: Vec<String> = app.seen().into_iter().map(|s| s.path).collect();
    for p in ["/memory/status", "/memory/chroma", "/memory/redis"] {
        assert!(paths.iter().any(|x| x == p), "{p} not requested: {paths:?}");
    }
}
