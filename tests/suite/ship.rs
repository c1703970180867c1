//! Gate mode (`--wait`), `vaktpost merge` of shard reports, and `vaktpost init`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Answers 503 to the first `fail_first` requests, then 200 with `{"version": "abc1234"}`.
fn flaky(fail_first: usize) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let n = h.fetch_add(1, Ordering::SeqCst);
            let mut r = BufReader::new(c.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let (status, body) = if n < fail_first { ("503 X", "{}") } else { ("200 OK", r#"{"version":"abc1234"}"#) };
            let _ = write!(c, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (port, hits)
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.path().join(p)
    }
    fn write(&self, p: &str, text: &str) {
        std::fs::write(self.path(p), text).unwrap();
    }
    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(args).current_dir(self.0.path()).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        c.output().unwrap()
    }
    fn json(&self, p: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path(p)).unwrap()).unwrap()
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn wait_reruns_until_the_deploy_is_healthy() {
    let (port, hits) = flaky(2);
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &format!("monitors:\n  - name: app\n    type: http\n    url: http://127.0.0.1:{port}/\n    expect_version: abc1234def\n"),
    );
    let o = d.run(&["run", "--wait", "30s", "--summary", "s.md"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let rep = d.json("vaktpost-report.json");
    assert_eq!(rep["run"]["gate"]["attempts"], 3);
    assert!(rep["run"]["gate"]["healthy_after_ms"].as_f64().unwrap() >= 2500.0, "1 s + 2 s of backoff");
    assert_eq!(rep["checks"][0]["status"], "up");
    assert!(rep["findings"].as_array().unwrap().is_empty());
    let md = std::fs::read_to_string(d.path("s.md")).unwrap();
    assert!(md.contains("✅ healthy after"), "{md}");
}

#[test]
fn wait_gives_up_at_its_deadline_and_fails_the_gate() {
    let (port, _) = flaky(usize::MAX);
    let d = Dir::new();
    d.write("vaktpost.yml", &format!("monitors:\n  - name: app\n    type: http\n    url: http://127.0.0.1:{port}/\n"));
    let t0 = std::time::Instant::now();
    let o = d.run(&["run", "--wait", "3s"]);
    // Ten times the 3 s it waits.
    assert!(t0.elapsed() < std::time::Duration::from_secs(30), "{:?}", t0.elapsed());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rep = d.json("vaktpost-report.json");
    assert!(rep["run"]["gate"]["healthy_after_ms"].is_null());
    assert!(rep["run"]["gate"]["attempts"].as_u64().unwrap() >= 2);
}

#[test]
fn merge_combines_shards_and_alerts_once() {
    let (up, _) = flaky(0);
    let (down, _) = flaky(usize::MAX);
    let d = Dir::new();
    let mut yaml = String::from("monitors:\n");
    for i in 0..8 {
        let port = if i == 3 { down } else { up };
        yaml.push_str(&format!("  - name: m{i}\n    type: http\n    url: http://127.0.0.1:{port}/\n"));
    }
    d.write("vaktpost.yml", &yaml);
    let mut files = vec![];
    for k in 1..=2 {
        let f = format!("shard{k}.json");
        let o = d.run(&[
            "run",
            "--shard",
            &format!("{k}/2"),
            "--report",
            &f,
            "--fail-on",
            "never",
            "--state",
            &format!("st{k}"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let rep = d.json(&f);
        assert!(rep["alerts"].as_array().unwrap().is_empty(), "shards do not alert");
        assert!(rep["notes"].to_string().contains("vaktpost merge"));
        files.push(f);
    }
    let mut args = vec!["merge", "--report", "merged.json", "--summary", "merged.md"];
    args.extend(files.iter().map(String::as_str));
    let o = d.run(&args);
    assert_eq!(o.status.code(), Some(1), "the merged gate trips on m3: {}", text(&o));
    let rep = d.json("merged.json");
    assert_eq!(rep["counts"]["monitors"], 8);
    assert_eq!(rep["counts"]["down"], 1);
    assert_eq!(rep["status"], "down");
    assert_eq!(rep["run"]["merged_shards"], serde_json::json!(["1/2", "2/2"]));
    assert_eq!(rep["findings"][0]["fingerprint"], "m3/endpoint_down");
    let md = std::fs::read_to_string(d.path("merged.md")).unwrap();
    assert!(md.contains("merged from 2 shards"), "{md}");
    // Not a report: a usage error.
    d.write("junk.json", "{\"hello\": 1}");
    let o = d.run(&["merge", "junk.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn init_writes_valid_starters_and_never_overwrites() {
    let d = Dir::new();
    let o_first = d.run(&["init"]);
    assert_eq!(o_first.status.code(), Some(0), "{}", text(&o_first));
    let o = d.run(&["validate"]);
    assert_eq!(o.status.code(), Some(0), "generated config validates: {}", text(&o));
    let wf = std::fs::read_to_string(d.path(".github/workflows/vaktpost.yml")).unwrap();
    let parsed: yaml_serde::Value = yaml_serde::from_str(&wf).unwrap();
    assert!(parsed["jobs"]["monitor"]["steps"].as_sequence().unwrap().len() >= 3);
    // Regression: init wrote actions by tag (`actions/checkout@v4`, zizmor's
    // `unpinned-uses`) where the shipped examples pin by commit SHA. Every third-party
    // action is pinned exactly as examples/scheduled-monitor.yml pins it.
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scheduled-monitor.yml")).unwrap();
    let uses = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("uses: "))
            .map(|u| u.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    let (ours, theirs) = (uses(&wf), uses(&example));
    assert!(ours.len() >= 4, "{ours:?}");
    for u in &ours {
        let (action, pin) = u.split_once('@').unwrap();
        if action == "vaktpost/vaktpost" {
            assert_eq!(pin, "v0", "{u}");
            continue;
        }
        assert!(pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()), "{u} is not pinned by commit SHA");
        assert!(theirs.contains(u), "{u} is not pinned as examples/scheduled-monitor.yml pins it: {theirs:?}");
    }
    // Findings keep a frequent schedule's job green (no mail per failing run), as the example.
    let check = parsed["jobs"]["monitor"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["uses"].as_str() == Some("vaktpost/vaktpost@v0"))
        .unwrap();
    assert_eq!(check["with"]["fail_on"].as_str(), Some("never"));
    // The cost of the schedule is said where the user sees it.
    let said = text(&o_first);
    assert!(
        said.contains("288 jobs a day") && said.contains("2,000 free minutes") && said.contains("interval:"),
        "{said}"
    );
    d.write("vaktpost.yml", "# mine\n");
    let o = d.run(&["init"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(d.path("vaktpost.yml")).unwrap(), "# mine\n", "untouched");
}
