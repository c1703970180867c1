//! Alert quality over a replayed week (SPEC §3 "Trust before alerting"): whole runs on a
//! virtual clock (through `RunContext`: the clock, and the pauses between re-checks), a
//! `*/5` schedule whose runs are late by minutes and sometimes dropped, blips of both kinds
//! (one failed request; a failure window of a few seconds), two real outages, a flapping
//! stretch and a runner that loses its network — against the stateful GitHub issues fake
//! and a Slack receiver. Exact counts of issues, Slack messages and how many runs late
//! each issue opened and closed. The README's "Alert quality" table comes from here.

use crate::alert_receiver;
use crate::github_fake;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use http_body_util::Full;
use hyper_util::rt::TokioIo;

use github_fake::FakeGithub;
use vaktpost::report::RunStatus;

type Clock = Arc<Mutex<DateTime<Utc>>>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

fn at(day: i64, h: i64, m: i64) -> DateTime<Utc> {
    t0() + Duration::days(day) + Duration::hours(h) + Duration::minutes(m)
}

/// A small deterministic generator (xorshift64*), so the week is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One scheduled run as it happened.
#[derive(Debug, Clone)]
struct Run {
    start: DateTime<Utc>,
    blip: Option<Blip>,
    /// The runner has no network in this run.
    offline: bool,
}

#[derive(Debug, Clone, Copy)]
enum Blip {
    /// The next request fails, the one after it does not.
    OneRequest,
    /// Every request fails for this many seconds from the run's start.
    Window(i64),
}

/// What happened to the target, in virtual time.
struct World {
    outages: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Alternating down/up slots of five minutes, down first.
    flapping: (DateTime<Utc>, DateTime<Utc>),
    offline: (DateTime<Utc>, DateTime<Utc>),
    runs: Vec<Run>,
}

impl World {
    fn week() -> World {
        let outages = vec![(at(1, 10, 2), at(1, 10, 43)), (at(3, 2, 0), at(3, 5, 7))];
        let flapping = (at(4, 14, 0), at(4, 15, 0));
        let offline = (at(5, 9, 0), at(5, 9, 40));
        let mut rng = Rng(0x5eed_2026_0301);
        let mut runs = Vec::new();
        for k in 0..7 * 288 {
            let slot = t0() + Duration::minutes(5 * k);
            let in_flap = slot >= flapping.0 - Duration::minutes(5) && slot < flapping.1 + Duration::minutes(20);
            // GitHub's cron drops some runs (never inside the flapping stretch, whose
            // pattern is one slot down, one slot up) and starts the rest minutes late.
            let dropped = rng.unit() < 0.03;
            let late = Duration::seconds((rng.unit() * 240.0) as i64);
            let blip_draw = rng.unit();
            let kind_draw = rng.unit();
            if dropped && !in_flap {
                continue;
            }
            let start = slot + late;
            let offline_now = start >= offline.0 && start < offline.1;
            let quiet = !outages.iter().any(|(a, b)| start >= *a - Duration::minutes(1) && start < *b)
                && !in_flap
                && !offline_now;
            let blip = (quiet && blip_draw < 0.04).then(|| {
                if kind_draw < 0.5 {
                    Blip::OneRequest
                } else {
                    Blip::Window(2 + (kind_draw * 12.0) as i64 % 7)
                }
            });
            runs.push(Run { start, blip, offline: offline_now });
        }
        World { outages, flapping, offline, runs }
    }

    fn in_flap_down(&self, t: DateTime<Utc>) -> bool {
        let (a, b) = self.flapping;
        t >= a && t < b && ((t - a).num_minutes() / 5) % 2 == 0
    }
}

/// The monitored service: answers 200, or 503 while the script says it is failing.
struct Target {
    url: String,
    fail_next: Arc<AtomicU32>,
    fail_until: Arc<Mutex<Option<DateTime<Utc>>>>,
    /// Requests answered; a blip must be re-checked, so this counts the re-checks too.
    requests: Arc<AtomicU32>,
}

async fn target(clock: Clock, world: Arc<World>) -> Target {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    let fail_next = Arc::new(AtomicU32::new(0));
    let fail_until: Arc<Mutex<Option<DateTime<Utc>>>> = Arc::new(Mutex::new(None));
    let requests = Arc::new(AtomicU32::new(0));
    let (fnx, fu, rq) = (fail_next.clone(), fail_until.clone(), requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (clock, world, fnx, fu, rq) = (clock.clone(), world.clone(), fnx.clone(), fu.clone(), rq.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                    let now = *clock.lock().unwrap();
                    rq.fetch_add(1, Ordering::SeqCst);
                    let one = fnx.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
                    let window = fu.lock().unwrap().is_some_and(|u| now < u);
                    let outage = world.outages.iter().any(|(a, b)| now >= *a && now < *b);
                    let failing = one || window || outage || world.in_flap_down(now);
                    let (code, body) = if failing { (503, "unavailable") } else { (200, "ok") };
                    let resp = hyper::Response::builder().status(code).body(Full::new(Bytes::from(body))).unwrap();
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Target { url, fail_next, fail_until, requests }
}

/// What a week produced.
#[derive(Debug, Default)]
struct Tally {
    issues_opened: usize,
    slack_messages: usize,
    /// Per issue: the run index that opened it and the run index that closed it.
    issue_runs: Vec<(usize, Option<usize>)>,
    inconclusive_runs: usize,
    /// Runs whose report marks the monitor flapping.
    flapping_runs: usize,
    /// Re-checks that turned a failure into a pass (blips absorbed).
    recovered: usize,
    /// Each Slack message's fallback text.
    slack_texts: Vec<String>,
}

/// Replays the week with `defaults` lines added under `defaults:` and a `rules:` section.
async fn replay(defaults: &str, rules: &str) -> (Arc<World>, Tally) {
    let world = Arc::new(World::week());
    let clock: Clock = Arc::new(Mutex::new(t0()));
    let tgt = target(clock.clone(), world.clone()).await;
    let gh = FakeGithub::start().await;
    let slack = alert_receiver::Receiver::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "defaults:\n  timeout: 10\n{defaults}monitors:\n  - name: shop_api\n    type: http\n    url: {}\n{rules}alerts:\n  github: {{}}\n  slack:\n    webhook_url: {}\n",
        tgt.url,
        slack.url("/services/T0/B0/quality")
    );
    let loaded = vaktpost::load_str(&yaml, "week.yml", &BTreeMap::new()).unwrap();
    let env: BTreeMap<String, String> = gh.env().into_iter().collect();
    let mut ctx = vaktpost::context::RunContext::with_env(env.clone(), dir.path().to_path_buf());
    let c = clock.clone();
    ctx.clock = Arc::new(move || *c.lock().unwrap());
    let c = clock.clone();
    // Pauses advance the virtual clock and return at once.
    ctx.sleep = Arc::new(move |d| {
        let mut g = c.lock().unwrap();
        *g += Duration::from_std(d).unwrap();
        Box::pin(async {})
    });
    // The runner without a network: the GitHub API it talks to is unreachable too.
    let mut offline_ctx = ctx.clone();
    offline_ctx.env.insert("GITHUB_API_URL".into(), "http://127.0.0.1:1".into());
    let mut opts = vaktpost::RunOptions::new(&ctx, &loaded.config);
    opts.fail_on = vaktpost::report::FailOn::Level(vaktpost::config::Severity::High);

    let mut tally = Tally::default();
    let mut open_by_number: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, run) in world.runs.iter().enumerate() {
        {
            let mut g = clock.lock().unwrap();
            *g = (*g).max(run.start);
        }
        match run.blip {
            Some(Blip::OneRequest) => tgt.fail_next.store(1, Ordering::SeqCst),
            Some(Blip::Window(s)) => *tgt.fail_until.lock().unwrap() = Some(run.start + Duration::seconds(s)),
            None => {}
        }
        let rctx = if run.offline { &offline_ctx } else { &ctx };
        // Offline, nothing answers: the target drops off the network too.
        let out = if run.offline {
            *tgt.fail_until.lock().unwrap() = Some(run.start + Duration::minutes(4));
            vaktpost::run(rctx, &loaded, &opts, &|_, _| {}).await.unwrap()
        } else {
            vaktpost::run(rctx, &loaded, &opts, &|_, _| {}).await.unwrap()
        };
        *tgt.fail_until.lock().unwrap() = None;
        tgt.fail_next.store(0, Ordering::SeqCst);
        vaktpost::write_outputs(rctx, &loaded, &opts, &out).unwrap();
        let r = &out.report;
        if r.status == RunStatus::Inconclusive {
            tally.inconclusive_runs += 1;
            assert!(r.alerts.is_empty(), "an inconclusive run acts on no alert: {:?}", r.alerts);
            assert!(opts.fail_on.trips(r), "an inconclusive run fails the gate");
        }
        let c = &r.checks[0];
        let recovered = c.confirm.as_ref().is_some_and(|c| c.recovered);
        // What a person reads: the summary marks a flapping monitor and names a blip.
        if (c.flapping && tally.flapping_runs == 0) || (recovered && tally.recovered == 0) {
            let md = vaktpost::report::summary::render(r, None, 500);
            let want = if c.flapping { "down · 🔁 flapping" } else { "blip: passed on re-check" };
            assert!(md.contains(want) || md.contains("up · 🔁 flapping"), "{md}");
        }
        tally.flapping_runs += c.flapping as usize;
        tally.recovered += recovered as usize;
        for a in r.alerts.iter().filter(|a| a.channel == "github") {
            match a.action {
                vaktpost::report::Action::Opened => {
                    open_by_number.insert(a.issue_number.unwrap(), tally.issue_runs.len());
                    tally.issue_runs.push((i, None));
                }
                vaktpost::report::Action::Resolved => {
                    let k = open_by_number[&a.issue_number.unwrap()];
                    tally.issue_runs[k].1 = Some(i);
                }
                _ => {}
            }
        }
    }
    tally.issues_opened = gh.issues().len();
    tally.slack_messages = slack.requests().len();
    tally.slack_texts = slack
        .requests()
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["text"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert!(tgt.requests.load(Ordering::SeqCst) as usize >= world.runs.len());
    (world, tally)
}

/// Index of the first run that starts at or after `t`.
fn first_run_from(world: &World, t: DateTime<Utc>) -> usize {
    world.runs.iter().position(|r| r.start >= t).unwrap()
}

fn blip_runs(world: &World) -> usize {
    world.runs.iter().filter(|r| r.blip.is_some()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_on_defaults_opens_one_issue_per_real_problem() {
    let (world, t) = replay("", "").await;
    // The README's "Alert quality" figures: 1,967 runs, 76 blip runs of both kinds.
    assert_eq!((world.runs.len(), blip_runs(&world)), (1967, 76));
    assert!(world.runs.iter().any(|r| matches!(r.blip, Some(Blip::OneRequest))));
    assert!(world.runs.iter().any(|r| matches!(r.blip, Some(Blip::Window(s)) if s > 6)));
    // Two outages and the flapping episode; no blip and no offline run opens anything.
    assert_eq!(t.issues_opened, 3, "{t:#?}");
    assert_eq!(t.issue_runs.len(), 3);
    assert_eq!(t.recovered, blip_runs(&world), "every blip is absorbed by a re-check");
    // Each outage opens in the first run that starts inside it and closes on the second run
    // after it ends (resolve_after: 2).
    for (k, (a, b)) in world.outages.iter().enumerate() {
        let (opened, closed) = t.issue_runs[k];
        assert_eq!(opened, first_run_from(&world, *a), "outage {k} opens in its first run");
        assert_eq!(closed, Some(first_run_from(&world, *b) + 1), "outage {k} closes one run after the first good run");
    }
    // The flapping stretch: one issue, opened by its first down run, held open while it
    // flaps, closed once it has been stable for `settle` (15m).
    let (opened, closed) = t.issue_runs[2];
    assert_eq!(opened, first_run_from(&world, world.flapping.0));
    let last_flip = world.runs.iter().filter(|r| r.start < world.flapping.1).map(|r| r.start).max().unwrap();
    let settle = first_run_from(&world, last_flip + Duration::minutes(15));
    assert_eq!(closed, Some(settle), "the episode closes when it settles");
    assert!(t.flapping_runs >= 8, "{t:#?}");
    // Slack: open + resolve per outage; open + "flapping" + resolve for the episode.
    assert_eq!(t.slack_messages, 7, "{t:#?}");
    let kinds: Vec<&str> = t
        .slack_texts
        .iter()
        .map(|s| {
            if s.contains("Flapping") {
                "flapping"
            } else if s.contains("Resolved") {
                "resolved"
            } else {
                "opened"
            }
        })
        .collect();
    assert_eq!(
        kinds,
        ["opened", "resolved", "opened", "resolved", "opened", "flapping", "resolved"],
        "{:#?}",
        t.slack_texts
    );
    // The runner outage: every run in it is inconclusive and changes nothing.
    let offline = world.runs.iter().filter(|r| r.offline).count();
    assert!(offline >= 7);
    assert_eq!(t.inconclusive_runs, offline);
    let _ = world.offline;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_without_any_trust_features_is_mostly_noise() {
    // vaktpost 0.1: no confirmation, no flap detection, open on one failing run and close
    // on one passing run. Every blip alerts (two blips in a row share one issue).
    let (world, t) = replay(
        "  confirm: false\n  flapping: false\n",
        "rules:\n  - name: endpoint_down\n    for: 1\n    resolve_after: 1\n",
    )
    .await;
    let blips = blip_runs(&world);
    // Each blip, and each of the six down slots of the flapping stretch, is an issue.
    assert!(t.issues_opened >= 2 + 6 + blips * 9 / 10, "{t:#?} blips {blips}");
    assert_eq!(t.recovered, 0);
    assert_eq!(t.inconclusive_runs, world.runs.iter().filter(|r| r.offline).count());
    assert_eq!((t.issues_opened, t.slack_messages), (81, 161), "update the README's Alert quality table");
    assert_eq!(t.flapping_runs, 0);
}

/// A target whose status code the test sets (0: drop the connection).
async fn status_server(code: Arc<std::sync::atomic::AtomicU16>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let code = code.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                    let c = code.load(Ordering::SeqCst);
                    let resp = hyper::Response::builder().status(c).body(Full::new(Bytes::from("x"))).unwrap();
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    url
}

/// A context on a virtual clock whose pauses advance it.
fn virtual_ctx(env: BTreeMap<String, String>, dir: &std::path::Path) -> (vaktpost::context::RunContext, Clock) {
    let clock: Clock = Arc::new(Mutex::new(t0()));
    let mut ctx = vaktpost::context::RunContext::with_env(env, dir.to_path_buf());
    let c = clock.clone();
    ctx.clock = Arc::new(move || *c.lock().unwrap());
    let c = clock.clone();
    ctx.sleep = Arc::new(move |d| {
        *c.lock().unwrap() += Duration::from_std(d).unwrap();
        Box::pin(async {})
    });
    (ctx, clock)
}

fn codes(n: usize) -> Vec<Arc<std::sync::atomic::AtomicU16>> {
    (0..n).map(|_| Arc::new(std::sync::atomic::AtomicU16::new(200))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_makes_the_run_inconclusive_and_keeps_every_streak() {
    let c = codes(2);
    let (own, canary) = (status_server(c[0].clone()).await, status_server(c[1].clone()).await);
    let gh = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "defaults:\n  canary: public_site\nmonitors:\n  - name: api\n    type: http\n    url: {own}\n  - name: public_site\n    type: http\n    url: {canary}\nrules:\n  - name: endpoint_down\n    for: 2\nalerts:\n  github: {{}}\n"
    );
    let loaded = vaktpost::load_str(&yaml, "t.yml", &BTreeMap::new()).unwrap();
    let (ctx, clock) = virtual_ctx(gh.env().into_iter().collect(), dir.path());
    let opts = vaktpost::RunOptions::new(&ctx, &loaded.config);
    let step = |codes: (u16, u16)| {
        c[0].store(codes.0, Ordering::SeqCst);
        c[1].store(codes.1, Ordering::SeqCst);
        *clock.lock().unwrap() += Duration::minutes(5);
        (ctx.clone(), opts.clone())
    };
    // Run 1: api down (streak 1 of 2), canary up: conclusive.
    let (ctx1, o) = step((503, 200));
    let out = vaktpost::run(&ctx1, &loaded, &o, &|_, _| {}).await.unwrap();
    vaktpost::write_outputs(&ctx1, &loaded, &o, &out).unwrap();
    assert_eq!(out.report.status, RunStatus::Down);
    assert_eq!(out.state.rules["api/endpoint_down"].failing, 1);
    // Run 2: both down: the runner's network is in doubt. Nothing moves.
    let (ctx2, o) = step((503, 503));
    let out = vaktpost::run(&ctx2, &loaded, &o, &|_, _| {}).await.unwrap();
    vaktpost::write_outputs(&ctx2, &loaded, &o, &out).unwrap();
    assert_eq!(out.report.status, RunStatus::Inconclusive);
    let why = out.report.run.inconclusive.as_deref().unwrap();
    assert!(why.contains("canary monitor `public_site` failed"), "{why}");
    assert!(out.report.alerts.is_empty() && gh.issues().is_empty());
    assert_eq!(out.state.rules["api/endpoint_down"].failing, 1, "the streak is kept, not advanced");
    assert!(o.fail_on.trips(&out.report), "inconclusive fails the gate");
    let md = vaktpost::report::summary::render(&out.report, None, 500);
    assert!(md.contains("inconclusive") && md.contains("This run is inconclusive"), "{md}");
    let json = serde_json::to_value(&out.report).unwrap();
    assert_eq!(json["status"], "inconclusive");
    // One warning annotation, not an error per finding the run could not confirm.
    let ann = vaktpost::report::actions::annotations(&out.report);
    assert!(ann.starts_with("::warning title=vaktpost run inconclusive::") && ann.lines().count() == 1, "{ann}");
    // Run 3: the canary answers again and api is still down: streak 2 of 2, the issue opens.
    let (ctx3, o) = step((503, 200));
    let out = vaktpost::run(&ctx3, &loaded, &o, &|_, _| {}).await.unwrap();
    vaktpost::write_outputs(&ctx3, &loaded, &o, &out).unwrap();
    assert_eq!(out.report.status, RunStatus::Down);
    assert_eq!(gh.issues().len(), 1);
    assert!(gh.issues()[0].title.contains("api"), "{:?}", gh.issues()[0].title);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_own_hosts_down_while_github_answers_is_an_outage() {
    let c = codes(3);
    let mut monitors = String::new();
    for (i, code) in c.iter().enumerate() {
        code.store(503, Ordering::SeqCst);
        monitors
            .push_str(&format!("  - name: host{i}\n    type: http\n    url: {}\n", status_server(code.clone()).await));
    }
    let gh = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("monitors:\n{monitors}alerts:\n  github: {{}}\n");
    let loaded = vaktpost::load_str(&yaml, "t.yml", &BTreeMap::new()).unwrap();
    let (ctx, _clock) = virtual_ctx(gh.env().into_iter().collect(), dir.path());
    let opts = vaktpost::RunOptions::new(&ctx, &loaded.config);
    let out = vaktpost::run(&ctx, &loaded, &opts, &|_, _| {}).await.unwrap();
    assert_eq!(out.report.status, RunStatus::Down);
    assert_eq!(gh.issues().len(), 3, "every host's issue opens in the run where it starts");
    // Each failure was confirmed: three checks, the first error kept.
    for r in &out.report.checks {
        let c = r.confirm.as_ref().expect("confirmed");
        assert_eq!((c.attempts, c.recovered), (3, false), "{c:?}");
        assert_eq!(c.first_error.kind, vaktpost::checks::ErrorKind::HttpStatus);
    }

    // The same outage on a runner that cannot reach GitHub either: inconclusive, nothing opens.
    let gh2 = FakeGithub::start().await;
    let dir2 = tempfile::tempdir().unwrap();
    let mut env: BTreeMap<String, String> = gh2.env().into_iter().collect();
    env.insert("GITHUB_API_URL".into(), "http://127.0.0.1:1".into());
    let (ctx2, _c) = virtual_ctx(env, dir2.path());
    let opts2 = vaktpost::RunOptions::new(&ctx2, &loaded.config);
    let out = vaktpost::run(&ctx2, &loaded, &opts2, &|_, _| {}).await.unwrap();
    assert_eq!(out.report.status, RunStatus::Inconclusive);
    assert!(out.report.run.inconclusive.as_deref().unwrap().contains("could not reach the GitHub API"));
    assert!(gh2.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_reports_attempts_and_stays_inside_the_deadline() {
    let c = codes(1);
    c[0].store(503, Ordering::SeqCst);
    let url = status_server(c[0].clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |yaml: String| {
        let dir = dir.path().to_path_buf();
        async move {
            let loaded = vaktpost::load_str(&yaml, "t.yml", &BTreeMap::new()).unwrap();
            let (ctx, clock) = virtual_ctx(BTreeMap::new(), &dir);
            let mut opts = vaktpost::RunOptions::new(&ctx, &loaded.config);
            opts.dry_run = true;
            let out = vaktpost::run(&ctx, &loaded, &opts, &|_, _| {}).await.unwrap();
            let waited = *clock.lock().unwrap() - t0();
            (out.report.checks[0].clone(), waited)
        }
    };
    // Default: re-checks after 3 s and 6 s more.
    let (r, waited) = run(format!("monitors:\n  - name: a\n    type: http\n    url: {url}\n")).await;
    assert_eq!(r.status, vaktpost::checks::Status::Down);
    let conf = r.confirm.unwrap();
    assert_eq!((conf.attempts, conf.recovered, conf.cut_short), (3, false, None));
    assert_eq!(waited, Duration::seconds(9));
    // Per monitor: off.
    let (r, waited) =
        run(format!("monitors:\n  - name: a\n    type: http\n    url: {url}\n    confirm: false\n")).await;
    assert!(r.confirm.is_none() && waited == Duration::zero());
    // Custom attempts and pause.
    let (r, waited) = run(format!(
        "defaults:\n  confirm: {{attempts: 3, pause: 1s}}\nmonitors:\n  - name: a\n    type: http\n    url: {url}\n"
    ))
    .await;
    assert_eq!(r.confirm.unwrap().attempts, 4);
    assert_eq!(waited, Duration::seconds(1 + 2 + 4));
    // A deadline too near for a re-check (pause + timeout) cuts confirmation short.
    let (r, _) = run(format!(
        "defaults:\n  deadline: 5s\n  timeout: 4s\nmonitors:\n  - name: a\n    type: http\n    url: {url}\n"
    ))
    .await;
    let conf = r.confirm.unwrap();
    assert_eq!(conf.attempts, 1);
    assert!(conf.cut_short.unwrap().contains("deadline"));
    // A healthy monitor pays nothing.
    c[0].store(200, Ordering::SeqCst);
    let (r, waited) = run(format!("monitors:\n  - name: a\n    type: http\n    url: {url}\n")).await;
    assert!(r.confirm.is_none() && waited == Duration::zero());
}

#[test]
fn confirm_flapping_and_canary_settings_are_validated() {
    let bad = [
        ("defaults:\n  confirm: {attempts: 11}\n", "confirm.attempts must be between 0 and 10"),
        ("defaults:\n  confirm: {pause: 2m}\n", "confirm.pause must be at most 60s"),
        ("defaults:\n  confirm: {tries: 2}\n", "tries"),
        ("defaults:\n  confirm: maybe\n", "attempts"),
        ("defaults:\n  flapping: {transitions: 1}\n", "flapping.transitions must be between 2 and 100"),
        ("defaults:\n  flapping: {window: 10m, settle: 1h}\n", "settle must not be longer"),
        ("defaults:\n  canary: publc_site\n", "did you mean \"public_site\""),
    ];
    for (defaults, want) in bad {
        let yaml =
            format!("{defaults}monitors:\n  - name: public_site\n    type: http\n    url: https://example.com\n");
        let err =
            vaktpost::load_str(&yaml, "t.yml", &BTreeMap::new()).err().unwrap_or_else(|| panic!("{defaults} loads"));
        let text = err.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
        assert!(text.contains(want), "{defaults}: {text}");
        assert!(text.contains("t.yml:"), "located: {text}");
    }
    let ok = "defaults:\n  confirm: {attempts: 1, pause: 500ms}\n  flapping: false\n  canary: public_site\nmonitors:\n  - name: public_site\n    type: http\n    url: https://example.com\n    confirm: true\n";
    let l = vaktpost::load_str(ok, "t.yml", &BTreeMap::new()).unwrap();
    assert_eq!(l.config.defaults.confirm.attempts, 1);
    assert!(!l.config.defaults.flapping.enabled);
}
