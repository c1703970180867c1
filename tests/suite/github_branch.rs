//! The GitHub data-branch state store (`state.backend: github`) against a stateful fake of
//! GitHub's Git Data API: one commit per run, conflicts from concurrent writers, GitHub's
//! error answers, raw samples kept local, and the binary carrying state across runners.

use crate::github_branch_fake;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use github_branch_fake::{FakeGitData, TOKEN};
use vaktpost::config::Secret;
use vaktpost::state::github_branch::{BranchError, BranchStore, Changes, PushOutcome, DEFAULT_BRANCH};

fn store(fake: &FakeGitData) -> BranchStore {
    store_with(fake, TOKEN)
}

fn store_with(fake: &FakeGitData, token: &str) -> BranchStore {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    BranchStore::new(&fake.url, &fake.repo, DEFAULT_BRANCH, &Secret::new(token), deadline).unwrap()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn state_json(monitors: &[(&str, &str)]) -> String {
    let m: serde_json::Map<String, serde_json::Value> = monitors
        .iter()
        .map(|(n, s)| {
            (
                n.to_string(),
                serde_json::json!({"last_checked_at": "2026-11-26T10:00:00Z", "last_status": s, "findings": []}),
            )
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({"version": 1, "monitors": m, "rules": {}})).unwrap()
}

fn branch_files(fake: &FakeGitData) -> BTreeMap<String, String> {
    fake.with(|r| r.files(DEFAULT_BRANCH))
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).to_string()))
        .collect()
}

fn commits(fake: &FakeGitData) -> usize {
    fake.with(|r| r.history(DEFAULT_BRANCH).len())
}

/// A state dir with state.json, an aggregate, raw samples and scratch files.
fn populated(dir: &Path) {
    write(dir, "state.json", &state_json(&[("api", "up")]));
    write(dir, "history/rollups-2026-11.json", r#"{"2026-11-18": {"api": {"count": 3}}}"#);
    write(dir, "history/samples-2026-11-26.jsonl", "{\"m\":\"api\",\"raw-sample-marker\":1}\n");
    write(dir, "history/samples-2026-11-20.jsonl.gz", "raw-gz-marker");
    write(dir, "history/.lock", "123");
    write(dir, "state.json.corrupt-20261126T100000Z", "{bad");
}

#[tokio::test]
async fn first_push_creates_the_branch_with_one_commit_without_raw_samples() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    assert_eq!(s.pull(dir.path()).await.unwrap(), None, "no branch yet: nothing pulled");
    assert!(dir.path().join("history/samples-2026-11-26.jsonl").exists(), "pull without a branch changes nothing");

    let out = s.push(dir.path(), None, "first").await.unwrap();
    assert!(matches!(out, PushOutcome::Committed { created_branch: true, changed: 2, .. }), "{out:?}");
    assert_eq!(commits(&fake), 1);
    let files = branch_files(&fake);
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), ["history/rollups-2026-11.json", "state.json"]);
    for r in fake.requests() {
        assert!(!r.body.contains("raw-sample-marker") && !r.path.contains("samples-"), "raw samples sent: {r:?}");
        assert!(!r.body.contains(TOKEN), "token in a body: {r:?}");
    }
    // The ref was created with POST /git/refs, one blob per file, one tree, one commit.
    assert_eq!(fake.count("POST", "/git/refs"), 1);
    assert_eq!(fake.count("POST", "/git/blobs"), 2);
    assert_eq!(fake.count("POST", "/git/trees"), 1);
    assert_eq!(fake.count("POST", "/git/commits"), 1);
}

#[tokio::test]
async fn pull_restores_the_state_into_an_empty_dir_and_removes_what_the_branch_dropped() {
    let fake = FakeGitData::start().await;
    fake.with(|r| {
        r.commit_files(
            DEFAULT_BRANCH,
            &[
                ("state.json", Some(state_json(&[("api", "down")]).as_bytes())),
                ("history/rollups-2026-11.json", Some(b"{}")),
                // Someone's notes in the branch: kept there, not copied (not ours to mirror).
                ("history/samples-2026-11-01.jsonl", Some(b"x\n")),
            ],
            "seed",
        )
    });
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "history/rollups-2026-10.json", "{}");
    write(dir.path(), "history/samples-2026-11-26.jsonl", "local raw\n");
    let head = store(&fake).pull(dir.path()).await.unwrap().expect("branch exists");
    assert_eq!(head.files.len(), 2, "{head:?}");
    let st = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(st.contains("\"down\""), "{st}");
    assert!(!dir.path().join("history/rollups-2026-10.json").exists(), "a file the branch lacks is removed");
    assert!(dir.path().join("history/samples-2026-11-26.jsonl").exists(), "raw samples stay");
    assert!(!dir.path().join("history/samples-2026-11-01.jsonl").exists(), "raw samples are not pulled");
    // Pulling again downloads nothing: local blob ids match.
    fake.clear_requests();
    store(&fake).pull(dir.path()).await.unwrap();
    assert_eq!(fake.count("GET", ""), 3, "ref, commit, tree only: {:?}", fake.requests());
}

#[tokio::test]
async fn each_run_adds_exactly_one_commit_and_an_unchanged_state_none() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    s.push(dir.path(), None, "run 1").await.unwrap();

    // Run 2 on another runner: empty dir, pull, change, push.
    let dir2 = tempfile::tempdir().unwrap();
    let head = s.pull(dir2.path()).await.unwrap();
    write(dir2.path(), "state.json", &state_json(&[("api", "down")]));
    write(dir2.path(), "history/errors.json", "{}");
    std::fs::remove_file(dir2.path().join("history/rollups-2026-11.json")).unwrap();
    fake.clear_requests();
    let out = s.push(dir2.path(), head.as_ref(), "run 2").await.unwrap();
    assert!(matches!(out, PushOutcome::Committed { created_branch: false, changed: 3, .. }), "{out:?}");
    assert_eq!(commits(&fake), 2);
    assert_eq!(fake.count("POST", "/git/commits"), 1);
    assert_eq!(fake.count("PATCH", "/git/refs/heads/vaktpost-data"), 1);
    let patch = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    let body: serde_json::Value = serde_json::from_str(&patch.body).unwrap();
    assert_eq!(body["force"], false, "never force-pushes: {body}");
    let tree = fake.requests().into_iter().find(|r| r.path.ends_with("/git/trees")).unwrap();
    let tree: serde_json::Value = serde_json::from_str(&tree.body).unwrap();
    assert!(tree["base_tree"].is_string(), "{tree}");
    assert!(
        tree["tree"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "history/rollups-2026-11.json" && e["sha"].is_null()),
        "deletion as sha: null: {tree}"
    );
    let files = branch_files(&fake);
    assert!(files["state.json"].contains("\"down\""));
    assert!(!files.contains_key("history/rollups-2026-11.json"));

    // Run 3: nothing changed ⇒ no blob, tree or commit.
    let head = s.pull(dir2.path()).await.unwrap();
    fake.clear_requests();
    assert_eq!(s.push(dir2.path(), head.as_ref(), "run 3").await.unwrap(), PushOutcome::Unchanged);
    assert!(fake.requests().iter().all(|r| r.method == "GET"), "{:?}", fake.requests());
    assert_eq!(commits(&fake), 2);
}

#[tokio::test]
async fn a_409_on_the_ref_update_is_retried_as_one_more_commit() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    s.push(dir.path(), None, "run 1").await.unwrap();
    let head = s.pull(dir.path()).await.unwrap();
    let before = vaktpost::state::github_branch::snapshot(dir.path()).unwrap();
    write(dir.path(), "state.json", &state_json(&[("api", "down")]));
    let changes = Changes::new(before, vaktpost::state::github_branch::snapshot(dir.path()).unwrap());
    fake.fault("PATCH", "/git/refs/heads/", 409, "Reference update failed", 1);
    let synced = s.sync(dir.path(), head, "run 2", |d| changes.reapply(d)).await.unwrap();
    assert_eq!(synced.attempts, 2);
    assert!(matches!(synced.outcome, PushOutcome::Committed { .. }));
    assert_eq!(commits(&fake), 2, "one commit for the run, not one per attempt on the branch");
    assert!(branch_files(&fake)["state.json"].contains("\"down\""));
}

#[tokio::test]
async fn a_concurrent_writer_between_pull_and_push_keeps_both_writers_data() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "state.json", &state_json(&[("api", "up"), ("web", "up")]));
    write(dir.path(), "history/rollups-2026-11.json", r#"{"2026-11-18": {"api": {"count": 3}}}"#);
    let s = store(&fake);
    s.push(dir.path(), None, "run 1").await.unwrap();

    // Shard A pulls, then runs its checks (api went down) …
    let a = tempfile::tempdir().unwrap();
    let head = s.pull(a.path()).await.unwrap();
    let before = vaktpost::state::github_branch::snapshot(a.path()).unwrap();
    write(a.path(), "state.json", &state_json(&[("api", "down"), ("web", "up")]));
    write(
        a.path(),
        "history/rollups-2026-11.json",
        r#"{"2026-11-18": {"api": {"count": 3}}, "2026-11-19": {"api": {"count": 4}}}"#,
    );
    let changes = Changes::new(before, vaktpost::state::github_branch::snapshot(a.path()).unwrap());

    // … while shard B commits its own update (web degraded, a new monitor, its rollups).
    let theirs_state = state_json(&[("api", "up"), ("web", "degraded"), ("db", "up")]);
    fake.with(|r| {
        r.before_ref_update = Some(Box::new(move |r| {
            r.commit_files(
                DEFAULT_BRANCH,
                &[
                    ("state.json", Some(theirs_state.as_bytes())),
                    (
                        "history/rollups-2026-11.json",
                        Some(br#"{"2026-11-18": {"api": {"count": 3}, "web": {"count": 7}}}"#),
                    ),
                ],
                "shard B",
            );
        }))
    });
    let mut applied = 0;
    let synced = s
        .sync(a.path(), head, "shard A", |d| {
            applied += 1;
            changes.reapply(d)
        })
        .await
        .unwrap();
    assert_eq!((synced.attempts, applied), (2, 1), "re-pulled and re-applied once");
    assert_eq!(fake.count("PATCH", "/git/refs/heads/vaktpost-data"), 2);
    assert_eq!(commits(&fake), 3, "run 1, shard B, shard A");

    let files = branch_files(&fake);
    let st: serde_json::Value = serde_json::from_str(&files["state.json"]).unwrap();
    assert_eq!(st["monitors"]["api"]["last_status"], "down", "A's update: {st}");
    assert_eq!(st["monitors"]["web"]["last_status"], "degraded", "B's update: {st}");
    assert_eq!(st["monitors"]["db"]["last_status"], "up", "B's new monitor: {st}");
    let ro: serde_json::Value = serde_json::from_str(&files["history/rollups-2026-11.json"]).unwrap();
    assert_eq!(ro["2026-11-18"]["web"]["count"], 7, "{ro}");
    assert_eq!(ro["2026-11-19"]["api"]["count"], 4, "{ro}");
    // The local dir is what was pushed.
    let local: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(local, st);
}

#[tokio::test]
async fn a_branch_created_concurrently_is_merged_into() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = store(&fake);
    let head = s.pull(dir.path()).await.unwrap();
    assert!(head.is_none());
    let before = vaktpost::state::github_branch::snapshot(dir.path()).unwrap();
    write(dir.path(), "state.json", &state_json(&[("api", "up")]));
    let changes = Changes::new(before, vaktpost::state::github_branch::snapshot(dir.path()).unwrap());
    let other = state_json(&[("web", "up")]);
    fake.with(|r| {
        r.before_ref_update = Some(Box::new(move |r| {
            r.commit_files(DEFAULT_BRANCH, &[("state.json", Some(other.as_bytes()))], "other runner");
        }))
    });
    let synced = s.sync(dir.path(), head, "first", |d| changes.reapply(d)).await.unwrap();
    assert_eq!(synced.attempts, 2);
    let st: serde_json::Value = serde_json::from_str(&branch_files(&fake)["state.json"]).unwrap();
    assert!(st["monitors"].get("api").is_some() && st["monitors"].get("web").is_some(), "{st}");
}

#[tokio::test]
async fn persistent_non_fast_forward_gives_up_after_five_attempts_with_a_clear_error() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    s.push(dir.path(), None, "run 1").await.unwrap();
    let head = s.pull(dir.path()).await.unwrap();
    let before = vaktpost::state::github_branch::snapshot(dir.path()).unwrap();
    write(dir.path(), "state.json", &state_json(&[("api", "down")]));
    let changes = Changes::new(before, vaktpost::state::github_branch::snapshot(dir.path()).unwrap());
    fake.fault("PATCH", "/git/refs/heads/", 422, "Update is not a fast forward", 100);
    let err = s.sync(dir.path(), head, "run 2", |d| changes.reapply(d)).await.unwrap_err();
    assert!(matches!(err, BranchError::GaveUp { attempts: 5, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("not a fast forward") && msg.contains("next run"), "{msg}");
    assert_eq!(fake.count("PATCH", "/git/refs/heads/vaktpost-data"), 5);
    assert_eq!(commits(&fake), 1, "the branch is untouched");
}

#[tokio::test]
async fn an_empty_repository_is_reported_with_what_to_do() {
    let fake = FakeGitData::start().await;
    fake.with(|r| r.empty = true);
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    assert_eq!(s.pull(dir.path()).await.unwrap(), None, "an empty repository has no branch to pull");
    let err = s.sync(dir.path(), None, "first", |_| Ok(())).await.unwrap_err();
    assert!(matches!(err, BranchError::EmptyRepository(_)), "{err:?}");
    assert!(err.to_string().contains("push a first commit"), "{err}");
}

#[tokio::test]
async fn a_403_says_which_permission_the_workflow_needs() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    fake.fault("POST", "/git/blobs", 403, "Resource not accessible by integration", 1);
    let err = store(&fake).push(dir.path(), None, "first").await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BranchError::Forbidden { status: 403, .. }), "{err:?}");
    assert!(msg.contains("permissions: contents: write") && msg.contains("Resource not accessible"), "{msg}");
    assert!(fake.with(|r| r.refs.is_empty()));
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_never_shown() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = "ghp_wrongTokenThatMustNotLeak42";
    let err = store_with(&fake, secret).pull(dir.path()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, BranchError::Forbidden { status: 401, .. }), "{err:?}");
    assert!(msg.contains("Bad credentials") && !msg.contains(secret), "{msg}");
    assert!(!format!("{:?}", store_with(&fake, secret)).contains(secret));
}

#[tokio::test]
async fn server_errors_are_retried() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    fake.fault("GET", "/git/ref/heads/", 502, "Server Error", 1);
    fake.fault("POST", "/git/blobs", 500, "Server Error", 1);
    fake.fault("POST", "/git/trees", 503, "Service Unavailable", 1);
    assert_eq!(s.pull(dir.path()).await.unwrap(), None);
    let out = s.push(dir.path(), None, "first").await.unwrap();
    assert!(matches!(out, PushOutcome::Committed { .. }), "{out:?}");
    assert_eq!(commits(&fake), 1);
    // A lasting outage is an error naming the status.
    fake.fault("GET", "/git/ref/heads/", 503, "Service Unavailable", 10);
    let err = s.pull(dir.path()).await.unwrap_err();
    assert!(err.to_string().contains("HTTP 503"), "{err}");
}

#[tokio::test]
async fn a_truncated_tree_is_an_error_not_a_partial_pull() {
    let fake = FakeGitData::start().await;
    fake.with(|r| {
        r.commit_files(DEFAULT_BRANCH, &[("state.json", Some(b"{}"))], "seed");
        r.truncate_trees = true;
    });
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "history/rollups-2026-10.json", "{}");
    let err = store(&fake).pull(dir.path()).await.unwrap_err();
    assert!(matches!(err, BranchError::Truncated(_)), "{err:?}");
    assert!(dir.path().join("history/rollups-2026-10.json").exists(), "nothing removed");
}

// ---- the binary, end to end ----

fn target() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            });
        }
    });
    port
}

fn run_bin(cwd: &Path, env: &[(String, String)]) -> (std::process::Output, serde_json::Value) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
    c.args(["run", "--fail-on", "never"]).current_dir(cwd).env_clear();
    if let Ok(p) = std::env::var("PATH") {
        c.env("PATH", p);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let report = std::fs::read(cwd.join("vaktpost-report.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_default();
    (o, report)
}

/// Two runs on fresh runners (empty state dir each time): the second sees the first's
/// state through the branch, so a `for: 2` rule fires only then; 50 monitors, one commit
/// per run; raw samples never leave the runner.
#[test]
fn state_carries_across_runners_through_the_branch_with_one_commit_per_run() {
    let fake = FakeGitData::start_blocking();
    let port = target();
    let mut cfg = String::from("monitors:\n");
    for i in 0..50 {
        cfg.push_str(&format!("  - name: m{i:02}\n    type: http\n    url: http://127.0.0.1:{port}/h{i}\n"));
    }
    cfg.push_str(
        "rules:\n  - name: seen_twice\n    condition: up\n    message: \"{name} was up twice\"\n    severity: low\n    for: 2\n    monitors: [m00]\nstate:\n  backend: github\n",
    );
    let mut env = fake.env();
    env.push(("GITHUB_RUN_ID".into(), "777".into()));

    let mut reports = Vec::new();
    for run in 1..=2 {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("vaktpost.yml"), &cfg).unwrap();
        let before = fake.count("POST", "/git/commits");
        let (o, report) = run_bin(d.path(), &env);
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "run {run}: {out}");
        assert!(!out.contains(TOKEN), "token printed: {out}");
        assert_eq!(report["counts"]["up"], 50, "run {run}: {report}");
        assert_eq!(fake.count("POST", "/git/commits") - before, 1, "run {run}: one commit for 50 monitors");
        assert!(
            d.path().join(".vaktpost/history").read_dir().unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("samples-")),
            "raw samples are kept locally"
        );
        reports.push(report);
    }
    let fired = |r: &serde_json::Value| r["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "seen_twice");
    assert!(!fired(&reports[0]), "first run: streak 1 of 2: {}", reports[0]["findings"]);
    assert!(fired(&reports[1]), "second run continues the streak from the branch: {}", reports[1]["findings"]);
    let notes = reports[0]["notes"].to_string();
    assert!(notes.contains("state branch vaktpost-data created"), "{notes}");

    assert_eq!(commits(&fake), 2);
    let files = branch_files(&fake);
    assert!(files.contains_key("state.json"), "{:?}", files.keys());
    assert!(files.keys().all(|k| !k.contains("samples-") && !k.contains(".lock")), "{:?}", files.keys());
    assert!(fake.with(|r| r.history(DEFAULT_BRANCH)[0].message.contains("run 777")));

    // A dry run neither reads nor writes the branch.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("vaktpost.yml"), &cfg).unwrap();
    fake.clear_requests();
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
    c.args(["run", "--fail-on", "never", "--dry-run"]).current_dir(d.path()).env_clear();
    for (k, v) in &env {
        c.env(k, v);
    }
    assert_eq!(c.output().unwrap().status.code(), Some(0));
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[test]
fn config_rejects_an_unknown_backend_and_a_bad_branch_name() {
    let load = |y: &str| vaktpost::load_str(y, "vaktpost.yml", &BTreeMap::new());
    assert!(load("monitors:\n  - name: site\n    type: http\n    url: https://site.example\nstate:\n  backend: github\n  branch: data/vaktpost\n").is_ok());
    for (y, want) in [
        ("monitors:\n  - name: site\n    type: http\n    url: https://site.example\nstate:\n  backend: s3\n", "state.backend"),
        ("monitors:\n  - name: site\n    type: http\n    url: https://site.example\nstate:\n  backend: github\n  branch: \"my data\"\n", "state.branch"),
        ("monitors:\n  - name: site\n    type: http\n    url: https://site.example\nstate:\n  backend: github\n  branch: a..b\n", "state.branch"),
        ("monitors:\n  - name: site\n    type: http\n    url: https://site.example\nstate:\n  backend: github\n  branch: -x\n", "state.branch"),
    ] {
        let err = format!("{:?}", load(y).err().unwrap_or_else(|| panic!("accepted: {y}")));
        assert!(err.contains(want), "{y}: {err}");
    }
}

fn backdate_head(fake: &FakeGitData) {
    fake.with(|g| {
        let h = g.head(DEFAULT_BRANCH).unwrap();
        g.commits.get_mut(&h).unwrap().date = "2020-01-01T12:00:00Z".into();
    });
}

fn last_patch_force(fake: &FakeGitData) -> serde_json::Value {
    let patch = fake.requests().into_iter().rfind(|r| r.method == "PATCH").unwrap();
    serde_json::from_str::<serde_json::Value>(&patch.body).unwrap()["force"].clone()
}

#[tokio::test]
async fn the_first_push_of_a_day_is_a_fresh_root_commit_with_the_full_tree() {
    // Regression: the data branch grew by one commit per run forever.
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    s.push(dir.path(), None, "run 1").await.unwrap();
    for (i, status) in [(2, "down"), (3, "up")] {
        let head = s.pull(dir.path()).await.unwrap();
        write(dir.path(), "state.json", &state_json(&[("api", status)]));
        s.push(dir.path(), head.as_ref(), &format!("run {i}")).await.unwrap();
    }
    assert_eq!(commits(&fake), 3, "one commit per run within a day");
    assert_eq!(last_patch_force(&fake), false);

    // The head is from an earlier day: this run's commit starts the branch again.
    backdate_head(&fake);
    let head = s.pull(dir.path()).await.unwrap();
    write(dir.path(), "state.json", &state_json(&[("api", "degraded")]));
    fake.clear_requests();
    let out = s.push(dir.path(), head.as_ref(), "run 4").await.unwrap();
    assert!(matches!(out, PushOutcome::Committed { created_branch: false, .. }), "{out:?}");
    assert_eq!(commits(&fake), 1, "a root commit");
    assert_eq!(last_patch_force(&fake), true);
    let files = branch_files(&fake);
    assert!(files["state.json"].contains("\"degraded\""), "{files:?}");
    assert!(files.contains_key("history/rollups-2026-11.json"), "the full tree, not only the change: {files:?}");

    // The same day's next run chains on it again, without force.
    let head = s.pull(dir.path()).await.unwrap();
    write(dir.path(), "state.json", &state_json(&[("api", "up")]));
    fake.clear_requests();
    s.push(dir.path(), head.as_ref(), "run 5").await.unwrap();
    assert_eq!(commits(&fake), 2);
    assert_eq!(last_patch_force(&fake), false);
}

#[tokio::test]
async fn the_daily_fresh_commit_never_overwrites_a_writer_that_moved_the_branch() {
    let fake = FakeGitData::start().await;
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    let s = store(&fake);
    s.push(dir.path(), None, "run 1").await.unwrap();
    backdate_head(&fake);
    let head = s.pull(dir.path()).await.unwrap();
    let before = snapshot_of(dir.path());
    write(dir.path(), "state.json", &state_json(&[("api", "down")]));
    let changes = Changes::new(before, snapshot_of(dir.path()));
    // Another run commits between this run's pull and its push.
    let theirs = fake.with(|g| {
        g.commit_files(
            DEFAULT_BRANCH,
            &[("state.json", Some(state_json(&[("api", "up"), ("web", "up")]).as_bytes()))],
            "other",
        )
    });
    let err = s.push(dir.path(), head.as_ref(), "run 2").await.unwrap_err();
    assert!(matches!(err, BranchError::Conflict(_)), "{err}");
    assert_eq!(fake.with(|g| g.head(DEFAULT_BRANCH)), Some(theirs.clone()), "not forced over");
    // sync pulls the other writer's head (today's) and commits on top of it.
    let synced = s.sync(dir.path(), head, "run 2", |d| changes.reapply(d)).await.unwrap();
    assert_eq!(synced.attempts, 2);
    let files = branch_files(&fake);
    assert!(files["state.json"].contains("\"web\"") && files["state.json"].contains("\"down\""), "{files:?}");
    assert_eq!(fake.with(|g| g.history(DEFAULT_BRANCH)[1].message.clone()), "other");
}

fn snapshot_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    vaktpost::state::github_branch::snapshot(dir).unwrap()
}

/// Through the binary: a protected data branch is a note that says what to do, the run
/// still succeeds and keeps its state locally; after the protection is lifted, the next run
/// writes it.
#[test]
fn a_protected_data_branch_is_a_note_with_what_to_do_and_the_state_is_kept() {
    let fake = FakeGitData::start_blocking();
    fake.with(|r| {
        r.commit_files(DEFAULT_BRANCH, &[("README.md", Some(b"data"))], "first");
    });
    fake.protect(DEFAULT_BRANCH, "Protected branch update failed for refs/heads/vaktpost-data.");
    let port = target();
    let cfg = format!(
        "monitors:\n  - name: api\n    type: http\n    url: http://127.0.0.1:{port}/\nstate:\n  backend: github\n"
    );
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("vaktpost.yml"), &cfg).unwrap();
    let (o, report) = run_bin(d.path(), &fake.env());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let notes = report["notes"].to_string();
    assert!(notes.contains("state branch not written: branch vaktpost-data is protected"), "{notes}");
    assert!(notes.contains("use a data branch no protection rule or ruleset covers"), "{notes}");
    assert_eq!(fake.count("PATCH", "/git/refs/heads/vaktpost-data"), 1, "not retried");
    assert!(d.path().join(".vaktpost/state.json").exists(), "kept locally");
    assert!(!branch_files(&fake).contains_key("state.json"));
    fake.with(|r| r.protected.clear());
    let (_, report) = run_bin(d.path(), &fake.env());
    assert!(!report["notes"].to_string().contains("not written"), "{}", report["notes"]);
    assert!(branch_files(&fake).contains_key("state.json"));
}

/// Through the binary: a run right after another run's write reads a lagging replica
/// (the previous commit); it still ends on one branch holding both runs' monitors.
#[test]
fn a_run_right_after_a_write_meets_a_stale_ref_and_still_merges() {
    let fake = FakeGitData::start_blocking();
    let port = target();
    let cfg = |name: &str| {
        format!("monitors:\n  - name: {name}\n    type: http\n    url: http://127.0.0.1:{port}/\nstate:\n  backend: github\n")
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(a.path().join("vaktpost.yml"), cfg("alpha")).unwrap();
    std::fs::write(b.path().join("vaktpost.yml"), cfg("beta")).unwrap();
    fake.with(|r| {
        r.commit_files(DEFAULT_BRANCH, &[("README.md", Some(b"data"))], "first");
    });
    let (o, _) = run_bin(a.path(), &fake.env());
    assert_eq!(o.status.code(), Some(0));
    // Another tool commits, and replicas lag one read behind that update.
    fake.with(|r| {
        r.stale_reads = 1;
        r.commit_files(DEFAULT_BRANCH, &[("note.txt", Some(b"x"))], "another tool");
    });
    let (o, report) = run_bin(b.path(), &fake.env());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fake.with(|r| r.stale_served) >= 1, "the stale read happened");
    let notes = report["notes"].to_string();
    assert!(notes.contains("merged and committed"), "{notes}");
    let files = branch_files(&fake);
    let st: serde_json::Value = serde_json::from_str(&files["state.json"]).unwrap();
    assert!(st["monitors"].get("alpha").is_some() && st["monitors"].get("beta").is_some(), "{st}");
    assert!(files.contains_key("note.txt"), "{:?}", files.keys());
}
