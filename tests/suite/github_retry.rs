//! How vaktpost waits on GitHub (issues client and data branch): every wait goes through
//! the run's sleep and is measured on the run's clock, so these tests inject a recording
//! sleep and a clock years away from the machine's, assert the waits, and take no wall
//! time. Also the data branch under GitHub's replication lag and branch protection.

use crate::github_branch_fake::{self, FakeGitData};
use crate::github_fake::{self, FakeGithub};
use crate::support::clock::{recording_sleep, Slept};

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use vaktpost::alerts::github::{Client, IssueError, Pace};
use vaktpost::config::Secret;
use vaktpost::context::RunContext;
use vaktpost::state::github_branch::{snapshot, BranchError, BranchStore, Changes, DEFAULT_BRANCH};

/// The run's clock: a fixed instant far from now, so a wait computed from the machine's
/// clock instead would be off by years.
fn run_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 3, 14, 15, 9, 26).unwrap()
}

/// A run context on `run_now()` whose sleep records what it is asked and returns at once.
fn recording_ctx() -> (RunContext, Slept) {
    let (sleep, slept) = recording_sleep();
    let mut ctx = RunContext::with_env(BTreeMap::new(), std::env::temp_dir());
    ctx.clock = Arc::new(run_now);
    ctx.sleep = sleep;
    ctx.seed = 42;
    (ctx, slept)
}

fn pace(ctx: &RunContext, within: Duration) -> Pace {
    Pace::of(ctx, tokio::time::Instant::now() + within)
}

fn client(gh: &FakeGithub, pace: Pace) -> Client {
    Client::new(&gh.url, &gh.repo, github_fake::TOKEN, pace).unwrap()
}

#[tokio::test]
async fn a_primary_rate_limit_waits_until_its_reset_on_the_runs_clock() {
    for status in [403, 429] {
        let gh = FakeGithub::start().await;
        gh.seed("x", "<!-- vaktpost:fingerprint=a/b -->", &["vaktpost"], "open", false);
        gh.primary_rate_limit("GET", "/repos/acme/shop/issues", status, run_now().timestamp() + 30, 1);
        let (ctx, s) = recording_ctx();
        let started = std::time::Instant::now();
        let list = client(&gh, pace(&ctx, Duration::from_secs(300))).list("open", 5).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(s.waits(), [Duration::from_secs(30)], "HTTP {status}");
        assert_eq!(gh.count("GET", "/issues"), 2);
        assert!(started.elapsed() < Duration::from_secs(20), "virtual wait, no wall time");
    }
}

#[tokio::test]
async fn a_rate_limit_wait_past_the_deadline_is_not_started_and_the_error_says_so() {
    let gh = FakeGithub::start().await;
    gh.primary_rate_limit("GET", "/repos/acme/shop/issues", 403, run_now().timestamp() + 30, 1);
    let (ctx, s) = recording_ctx();
    let e = client(&gh, pace(&ctx, Duration::from_secs(10))).list("open", 5).await.unwrap_err();
    assert!(s.waits().is_empty(), "{:?}", s.waits());
    assert!(e.is_retryable() && matches!(e, IssueError::Unreachable(_)), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("GitHub rate limit: HTTP 403 (API rate limit exceeded"), "{e}");
    assert!(e.contains("not retried, as the next attempt (in 30s) would pass the run's deadline"), "{e}");
    assert_eq!(gh.count("GET", "/issues"), 1);
}

#[tokio::test]
async fn a_secondary_rate_limit_waits_a_minute_as_github_advises() {
    let gh = FakeGithub::start().await;
    gh.secondary_rate_limit("POST", "/repos/acme/shop/issues", 1);
    let (ctx, s) = recording_ctx();
    let new = vaktpost::alerts::github::NewIssue {
        title: "t",
        body: "b",
        labels: vec!["vaktpost".into()],
        assignees: vec![],
    };
    let (issue, warning) = client(&gh, pace(&ctx, Duration::from_secs(300))).create(&new).await.unwrap();
    assert_eq!((issue.number, warning), (1, None));
    assert_eq!(s.waits(), [Duration::from_secs(60)]);
    assert_eq!(gh.count("POST", "/issues"), 2);
    assert_eq!(gh.issues().len(), 1, "one issue: the limited POST created nothing");
}

#[tokio::test]
async fn server_errors_back_off_through_the_runs_sleep_and_a_create_is_not_retried() {
    let gh = FakeGithub::start().await;
    gh.fault("GET", "/repos/acme/shop/issues", 502, &[], "Bad Gateway", 2);
    let (ctx, s) = recording_ctx();
    let c = client(&gh, pace(&ctx, Duration::from_secs(300)));
    c.list("open", 5).await.unwrap();
    assert_eq!(s.waits(), [Duration::from_millis(500), Duration::from_secs(1)]);
    gh.fault("POST", "/repos/acme/shop/issues", 502, &[], "Bad Gateway", 1);
    let new = vaktpost::alerts::github::NewIssue { title: "t", body: "b", labels: vec![], assignees: vec![] };
    let e = c.create(&new).await.unwrap_err();
    assert!(matches!(e, IssueError::Refused { status: 502, .. }) && e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains("HTTP 502"), "{e}");
    assert_eq!(gh.count("POST", "/issues"), 1);
    assert_eq!(s.waits().len(), 2, "no wait for a create");
}

// ---- data branch -------------------------------------------------------------------

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn state_json(monitors: &[(&str, &str)]) -> String {
    let m: serde_json::Map<String, serde_json::Value> =
        monitors.iter().map(|(n, s)| (n.to_string(), serde_json::json!({"last_status": s, "findings": []}))).collect();
    serde_json::to_string_pretty(&serde_json::json!({"version": 1, "monitors": m, "rules": {}})).unwrap()
}

fn store(fake: &FakeGitData, ctx: &RunContext, within: Duration) -> BranchStore {
    let deadline = tokio::time::Instant::now() + within;
    BranchStore::new(&fake.url, &fake.repo, DEFAULT_BRANCH, &Secret::new(github_branch_fake::TOKEN), deadline)
        .unwrap()
        .with_today(run_now().date_naive())
        .with_pace(Pace::of(ctx, deadline))
}

fn branch_state(fake: &FakeGitData) -> serde_json::Value {
    let files = fake.with(|r| r.files(DEFAULT_BRANCH));
    serde_json::from_slice(&files["state.json"]).unwrap()
}

/// A branch whose head is today's (on the run's clock), so no daily fresh root interferes.
fn seeded(fake: &FakeGitData, state: &str) {
    let today = run_now().to_rfc3339();
    fake.with(|r| {
        let c = r.commit_files(DEFAULT_BRANCH, &[("state.json", Some(state.as_bytes()))], "seed");
        r.commits.get_mut(&c).unwrap().date = today;
    });
}

// GitHub's replicas can answer a ref read just after a write with the previous commit:
// the usual cause of repeated "not a fast forward". vaktpost re-reads, merges and retries
// until the replica catches up, within its attempts, and loses neither writer's data.
#[tokio::test]
async fn stale_refs_after_a_write_converge_and_keep_both_writers_data() {
    let fake = FakeGitData::start().await;
    seeded(&fake, &state_json(&[("api", "up"), ("web", "up")]));
    let today = run_now().to_rfc3339();
    fake.with(|r| r.stale_reads = 2);
    let (ctx, s) = recording_ctx();

    // Writer A: api went down; its ref update lands, and replicas lag behind it.
    let a = tempfile::tempdir().unwrap();
    let sa = store(&fake, &ctx, Duration::from_secs(120));
    let head = sa.pull(a.path()).await.unwrap();
    let before = snapshot(a.path()).unwrap();
    write(a.path(), "state.json", &state_json(&[("api", "down"), ("web", "up")]));
    let ch = Changes::new(before, snapshot(a.path()).unwrap());
    let synced = sa.sync(a.path(), head, "A", |d| ch.reapply(d)).await.unwrap();
    assert_eq!(synced.attempts, 1);
    fake.with(|r| {
        let c = r.head(DEFAULT_BRANCH).unwrap();
        r.commits.get_mut(&c).unwrap().date = today.clone();
    });

    // Writer B reads right after: the replica still shows the seed commit.
    let b = tempfile::tempdir().unwrap();
    let sb = store(&fake, &ctx, Duration::from_secs(120));
    let head = sb.pull(b.path()).await.unwrap();
    assert_eq!(fake.with(|r| r.stale_served), 1, "B's first read was stale");
    let before = snapshot(b.path()).unwrap();
    write(b.path(), "state.json", &state_json(&[("api", "up"), ("web", "degraded"), ("db", "up")]));
    let ch = Changes::new(before, snapshot(b.path()).unwrap());
    let mut applied = 0;
    let synced = sb
        .sync(b.path(), head, "B", |d| {
            applied += 1;
            ch.reapply(d)
        })
        .await
        .unwrap();
    assert_eq!(fake.with(|r| r.stale_served), 2);
    assert_eq!((synced.attempts, applied), (3, 2), "two refused pushes on stale heads, then a merge");
    assert_eq!(s.waits().len(), 2, "each retry waited through the run's sleep: {:?}", s.waits());
    for (i, w) in s.waits().iter().enumerate() {
        let base = Duration::from_millis(250) * 2u32.pow(i as u32);
        assert!(*w >= base && *w < base * 2, "wait {i}: {w:?}");
    }
    let st = branch_state(&fake);
    assert_eq!(st["monitors"]["api"]["last_status"], "down", "A's update survived: {st}");
    assert_eq!(st["monitors"]["web"]["last_status"], "degraded", "B's update: {st}");
    assert_eq!(st["monitors"]["db"]["last_status"], "up", "B's new monitor: {st}");
}

#[tokio::test]
async fn a_replica_lagging_past_every_attempt_gives_up_with_the_state_kept_locally() {
    let fake = FakeGitData::start().await;
    seeded(&fake, &state_json(&[("api", "up")]));
    // Another writer moves the branch, and the replicas lag for longer than vaktpost retries.
    fake.with(|r| {
        r.stale_reads = 50;
        r.commit_files(DEFAULT_BRANCH, &[("other.json", Some(b"{}"))], "other");
    });
    let (ctx, s) = recording_ctx();
    let dir = tempfile::tempdir().unwrap();
    let st = store(&fake, &ctx, Duration::from_secs(120));
    let head = st.pull(dir.path()).await.unwrap();
    assert!(!dir.path().join("other.json").exists(), "the stale head was read");
    let before = snapshot(dir.path()).unwrap();
    write(dir.path(), "state.json", &state_json(&[("api", "down")]));
    let ch = Changes::new(before, snapshot(dir.path()).unwrap());
    let e = st.sync(dir.path(), head, "mine", |d| ch.reapply(d)).await.unwrap_err();
    assert!(matches!(e, BranchError::GaveUp { attempts: 5, .. }), "{e}");
    assert!(e.to_string().contains("not a fast forward") && e.to_string().contains("kept locally"), "{e}");
    assert_eq!(s.waits().len(), 4, "{:?}", s.waits());
    // Nothing lost: our state is in the directory, the other writer's on the branch.
    assert!(std::fs::read_to_string(dir.path().join("state.json")).unwrap().contains("down"));
    assert!(fake.with(|r| r.files(DEFAULT_BRANCH)).contains_key("other.json"));
}

#[tokio::test]
async fn a_protected_data_branch_is_a_clear_error_and_never_retried() {
    for message in
        ["Protected branch update failed for refs/heads/vaktpost-data.", "Required status check \"build\" is expected."]
    {
        let fake = FakeGitData::start().await;
        seeded(&fake, &state_json(&[("api", "up")]));
        fake.protect(DEFAULT_BRANCH, message);
        let (ctx, s) = recording_ctx();
        let dir = tempfile::tempdir().unwrap();
        let st = store(&fake, &ctx, Duration::from_secs(120));
        let head = st.pull(dir.path()).await.unwrap();
        write(dir.path(), "state.json", &state_json(&[("api", "down")]));
        let e = st.sync(dir.path(), head, "run", |_| Ok(())).await.unwrap_err();
        assert!(matches!(e, BranchError::Protected { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("branch vaktpost-data is protected") && text.contains(message), "{text}");
        assert!(text.contains("`state.branch`") && text.contains("kept locally"), "{text}");
        assert_eq!(fake.count("PATCH", "/git/refs/heads/vaktpost-data"), 1, "not retried");
        assert!(s.waits().is_empty());
        // Nothing lost: the run's state is still in the directory, the branch unchanged.
        assert!(std::fs::read_to_string(dir.path().join("state.json")).unwrap().contains("down"));
        assert_eq!(branch_state(&fake)["monitors"]["api"]["last_status"], "up");
    }
}

#[tokio::test]
async fn a_rate_limited_branch_read_waits_for_the_reset_on_the_runs_clock() {
    let fake = FakeGitData::start().await;
    seeded(&fake, &state_json(&[("api", "up")]));
    fake.rate_limit("GET", "/git/ref/heads/", 429, run_now().timestamp() + 20, 1);
    let (ctx, s) = recording_ctx();
    let dir = tempfile::tempdir().unwrap();
    let head = store(&fake, &ctx, Duration::from_secs(120)).pull(dir.path()).await.unwrap();
    assert!(head.is_some());
    assert_eq!(s.waits(), [Duration::from_secs(20)]);
    assert!(dir.path().join("state.json").exists());

    // A reset past the deadline: not waited for, and the error says why.
    fake.rate_limit("GET", "/git/ref/heads/", 403, run_now().timestamp() + 600, 1);
    let e = store(&fake, &ctx, Duration::from_secs(60)).pull(dir.path()).await.unwrap_err();
    assert!(e.to_string().contains("rate limit") && e.to_string().contains("deadline"), "{e}");
    assert_eq!(s.waits().len(), 1);
}

// The fake answers a bare listing as GitHub does: newest first, 30 a page, and a Link
// header to `/repositories/{id}/issues` that keeps the query and serves the same list.
#[tokio::test]
async fn the_issues_fake_follows_githubs_list_defaults_and_link_form() {
    let gh = FakeGithub::start().await;
    for n in 0..35 {
        gh.seed(&format!("i{n}"), "", &["Vaktpost"], "open", false);
    }
    let get = |url: String| async move {
        reqwest::Client::new()
            .get(url)
            .header("authorization", format!("Bearer {}", github_fake::TOKEN))
            .send()
            .await
            .unwrap()
    };
    let r = get(format!("{}/repos/acme/shop/issues?labels=vaktpost", gh.url)).await;
    let link = r.headers()["link"].to_str().unwrap().to_string();
    let page: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(page.len(), 30);
    assert_eq!(page[0]["number"], 35, "newest first by default");
    let id = gh.repo_id("acme/shop");
    let next = format!("{}/repositories/{id}/issues?labels=vaktpost&page=2", gh.url);
    assert!(link.starts_with(&format!("<{next}>; rel=\"next\"")), "{link}");
    let page2: Vec<serde_json::Value> = get(next).await.json().await.unwrap();
    assert_eq!(page2.len(), 5);
    assert_eq!(page2[4]["number"], 1);
    let asc: Vec<serde_json::Value> =
        get(format!("{}/repos/acme/shop/issues?direction=asc&per_page=2", gh.url)).await.json().await.unwrap();
    assert_eq!((asc[0]["number"].as_u64(), asc[1]["number"].as_u64()), (Some(1), Some(2)));
    let repo: serde_json::Value = get(format!("{}/repos/acme/shop", gh.url)).await.json().await.unwrap();
    assert_eq!(repo["id"], id);
}
