//! The history store (SPEC §5) with an injected clock: time-weighted uptime over irregular
//! gaps, rotation and retention across simulated days, rollups equal to the raw data they
//! replace, leak detection, overlapping runs, damaged segments, and a whole run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use vaktpost::checks::Status;
use vaktpost::state::figures::{self, Figures};
use vaktpost::state::history::{self, History, HistoryConfig, Sample};
use vaktpost::state::rotate;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
}

fn at(ms: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::milliseconds(ms)
}

fn sample(m: &str, ms: i64, s: Status, rt: f64) -> Sample {
    let down = s == Status::Down;
    Sample {
        m: m.into(),
        t: at(ms).timestamp_millis(),
        s,
        rt: Some(rt),
        n: 1,
        e: u32::from(down),
        ek: down.then(|| "timeout".to_string()),
        em: down.then(|| "timed out after #ms".to_string()),
        er: down.then(|| "timed out after 5003ms".to_string()),
        mem: BTreeMap::new(),
        lim: None,
        kh: None,
        km: None,
    }
}

/// Samples of monitor `m` the aggregates hold.
fn count(h: &History, m: &str) -> u64 {
    h.buckets(m).iter().map(|b| b.2.count).sum()
}

fn figures_at(dir: &Path, now: DateTime<Utc>, leak_window: Duration) -> (BTreeMap<String, Figures>, Vec<String>) {
    let (h, notes) = history::load(dir, now, true);
    (figures::compute(&h, now, leak_window), notes)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("history"))
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Cheap deterministic noise in [-1, 1].
fn noise(i: u64) -> f64 {
    let x = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 33;
    (x % 2001) as f64 / 1000.0 - 1.0
}

#[test]
fn uptime_weights_irregular_gaps_and_a_long_silence_counts_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig::default();
    // Runs at 0, 5, 12 (down), 17, 22 and, after six silent hours, 382 and 387 minutes.
    let runs = [
        (0, Status::Up),
        (5, Status::Up),
        (12, Status::Down),
        (17, Status::Up),
        (22, Status::Up),
        (382, Status::Up),
        (387, Status::Up),
    ];
    for (m, s) in runs {
        let notes = history::save(dir.path(), at(m * MIN), &cfg, &[sample("api", m * MIN, s, 100.0)]).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
    }
    let (f, notes) = figures_at(dir.path(), at(387 * MIN), cfg.leak_window);
    assert!(notes.is_empty(), "{notes:?}");
    let w = &f["api"].w24h;
    // Usual gap 5 min ⇒ a sample speaks for at most 10 min: known 5+7+5+5+10+5 = 37 min,
    // down 5 of them. Counting samples would say 85.7%; trusting the silence, 98.7%.
    let expected = 32.0 / 37.0 * 100.0;
    assert!((w.uptime.unwrap() - expected).abs() < 1e-9, "{w:?}");
    assert_eq!(w.samples, 7);
    assert!((w.error_rate.unwrap() - 1.0 / 7.0).abs() < 1e-12);
    let vars = f["api"].variables();
    assert!(vars.contains_key("uptime_24h") && vars.contains_key("uptime_7d") && vars.contains_key("uptime_30d"));
    assert_eq!(vars["p95_24h_ms"], serde_json::json!(100.0));
}

#[test]
fn an_empty_run_writes_nothing_and_missing_state_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let (f, notes) = figures_at(dir.path(), t0(), Duration::from_secs(86_400));
    assert!(f.is_empty() && notes.is_empty());
    assert!(history::save(dir.path(), t0(), &HistoryConfig::default(), &[]).unwrap().is_empty());
    assert!(!dir.path().join("history").exists());
}

/// Twelve simulated days, one run per hour, two monitors, raw retention 3 days.
#[test]
fn retention_compresses_and_folds_days_into_rollups_equal_to_the_raw_data() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig { retention_days: 3, ..HistoryConfig::default() };
    let mut all: Vec<Sample> = Vec::new();
    for h in 0..12 * 24 {
        let t = h * HOUR + 30 * MIN;
        let down = h % 17 == 5;
        let run = vec![
            sample("a", t, if down { Status::Down } else { Status::Up }, 50.0 + (h % 24) as f64),
            sample(
                "b",
                t + MIN,
                if h % 5 == 0 { Status::Degraded } else { Status::Up },
                200.0 + noise(h as u64) * 50.0,
            ),
        ];
        let notes = history::save(dir.path(), at(t + MIN), &cfg, &run).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        all.extend(run);
    }
    // Day 12 is today: today's and yesterday's raw segments plain, two more days gzipped,
    // older raw days deleted; hourly aggregates for today and yesterday, daily rollups
    // for every day before.
    let files = names(dir.path());
    let expected: Vec<String> = vec![
        "errors.json".into(),
        "hours-2025-03-11.json".into(),
        "hours-2025-03-12.json".into(),
        "rollups-2025-03.json".into(),
        "samples-2025-03-09.jsonl.gz".into(),
        "samples-2025-03-10.jsonl.gz".into(),
        "samples-2025-03-11.jsonl".into(),
        "samples-2025-03-12.jsonl".into(),
        "tails.json".into(),
    ];
    assert_eq!(files, expected);
    let gz = std::fs::read(dir.path().join("history/samples-2025-03-09.jsonl.gz")).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");

    // Each rolled-up day equals the rollup of the raw samples it replaced.
    let rollups: BTreeMap<chrono::NaiveDate, BTreeMap<String, history::Rollup>> =
        serde_json::from_slice(&std::fs::read(dir.path().join("history/rollups-2025-03.json")).unwrap()).unwrap();
    assert_eq!(rollups.len(), 10, "days 1–10 rolled up");
    for (day, per) in &rollups {
        let of_day = |d: chrono::NaiveDate| -> Vec<Sample> {
            all.iter().filter(|s| s.time().date_naive() == d).cloned().collect()
        };
        let mut expected = rotate::rollups_of(&of_day(*day), &of_day(day.succ_opt().unwrap()));
        // Days past HIST_DAYS keep p50/p95/p99 instead of the latency histogram.
        let today = chrono::NaiveDate::from_ymd_opt(2025, 3, 12).unwrap();
        if *day < today - chrono::Duration::days(vaktpost::state::agg::HIST_DAYS) {
            for a in expected.values_mut() {
                assert!(a.compact());
            }
        }
        assert_eq!(per, &expected, "{day}");
        let a = &per["a"];
        assert_eq!(a.count, 24);
        assert_eq!(a.up + a.degraded + a.down, 24);
        let downs = of_day(*day).iter().filter(|s| s.m == "a" && s.s == Status::Down).count() as u64;
        assert_eq!(a.down, downs);
        assert_eq!(a.max_ms, Some(73.0));
        assert_eq!(a.known_ms, 24 * HOUR, "hourly runs cover the whole day");
        if downs > 0 {
            assert_eq!(a.error_kinds["timeout"], downs);
        }
    }

    // Figures from rollups + raw equal the figures from all the raw data.
    let now = at(12 * DAY - 20 * MIN);
    let (from_store, notes) = figures_at(dir.path(), now, cfg.leak_window);
    assert!(notes.is_empty(), "{notes:?}");
    let mut raw = History::default();
    raw.add(&all);
    let from_raw = figures::compute(&raw, now, cfg.leak_window);
    for m in ["a", "b"] {
        let (s, r) = (&from_store[m], &from_raw[m]);
        assert_eq!(s.w24h, r.w24h, "{m}");
        assert!((s.w30d.uptime.unwrap() - r.w30d.uptime.unwrap()).abs() < 1e-9, "{m}: {:?} vs {:?}", s.w30d, r.w30d);
        assert!((s.w30d.error_rate.unwrap() - r.w30d.error_rate.unwrap()).abs() < 1e-12, "{m}");
        assert_eq!(s.w30d.samples, r.w30d.samples, "{m}");
        assert_eq!(s.p95_24h_ms, r.p95_24h_ms, "{m}");
    }
    assert!(from_store["a"].w30d.uptime.unwrap() < 100.0);

    // Rollups past rollup_retention go: with 5 days, days before 2025-03-07 are dropped.
    let short = HistoryConfig { retention_days: 3, rollup_retention_days: 5, ..HistoryConfig::default() };
    history::save(dir.path(), at(12 * DAY - 10 * MIN), &short, &[sample("a", 12 * DAY - 10 * MIN, Status::Up, 1.0)])
        .unwrap();
    let rollups: BTreeMap<chrono::NaiveDate, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("history/rollups-2025-03.json")).unwrap()).unwrap();
    let first = rollups.keys().next().unwrap().to_string();
    assert_eq!(first, "2025-03-07");
}

fn memory_sample(ms: i64, used: f64, limit: f64) -> Sample {
    let mut s = sample("cache", ms, Status::Up, 1.0);
    s.mem.insert("used_memory".into(), used);
    s.lim = Some(limit);
    s
}

fn leak_vars(samples: &[Sample], now_ms: i64) -> (Figures, BTreeMap<String, serde_json::Value>) {
    let mut h = History::default();
    h.add(samples);
    let f = figures::compute(&h, at(now_ms), Duration::from_secs(86_400)).remove("cache").unwrap();
    let v = f.variables();
    (f, v)
}

#[test]
fn steady_growth_with_noise_is_a_leak_and_the_default_rule_fires() {
    // 5-minute runs for a day: 1 GB growing 10% a day, ±3% noise, limit 4 GB.
    let base = 1e9;
    let samples: Vec<Sample> = (0..288)
        .map(|i| {
            let t = i * 5 * MIN;
            memory_sample(t, base * (1.0 + 0.10 * t as f64 / DAY as f64) * (1.0 + 0.03 * noise(i as u64)), 4e9)
        })
        .collect();
    let (f, v) = leak_vars(&samples, 287 * 5 * MIN);
    let t = &f.memory["used_memory"];
    assert!(t.leak_suspected, "{t:?}");
    assert!((t.slope_per_day / 1e8 - 1.0).abs() < 0.25, "slope ≈ 100 MB/day: {t:?}");
    let dtf = t.days_to_full.unwrap();
    assert!((20.0..40.0).contains(&dtf), "(4 GB − 1.1 GB) / 0.1 GB a day ≈ 29 days: {dtf}");
    assert_eq!(v["memory_leak_suspected"], serde_json::json!(true));

    let rules = vaktpost::rules::build(&[]).unwrap();
    let rule = rules.iter().find(|r| r.name == "memory_leak_suspected").unwrap();
    let mut vars = v.clone();
    vars.insert("name".into(), serde_json::json!("cache"));
    assert_eq!(rule.check(&vars), Some(vaktpost::config::Severity::Medium));
    let msg = rule.render(&vars);
    assert!(msg.starts_with("cache memory grows ") && msg.contains("/day; full in ~"), "{msg}");
    assert!(!msg.contains("{days_to_full}"), "{msg}");
}

#[test]
fn sawtooth_growth_with_restarts_and_flat_noise_are_not_leaks() {
    // Grows 4% an hour, restarts (back to base) every 6 hours.
    let base = 1e9;
    let saw: Vec<Sample> = (0..288)
        .map(|i| {
            let t = i * 5 * MIN;
            let since_restart = (t % (6 * HOUR)) as f64 / HOUR as f64;
            memory_sample(t, base * (1.0 + 0.04 * since_restart) * (1.0 + 0.005 * noise(i as u64)), 4e9)
        })
        .collect();
    let (f, v) = leak_vars(&saw, 287 * 5 * MIN);
    assert!(!f.memory["used_memory"].leak_suspected, "{:?}", f.memory);
    assert_eq!(v["memory_leak_suspected"], serde_json::json!(false));

    let flat: Vec<Sample> =
        (0..288).map(|i| memory_sample(i * 5 * MIN, base * (1.0 + 0.05 * noise(i as u64)), 4e9)).collect();
    let (f, _) = leak_vars(&flat, 287 * 5 * MIN);
    assert!(!f.memory["used_memory"].leak_suspected, "{:?}", f.memory);
}

#[test]
fn concurrent_runs_on_one_store_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig::default();
    let threads: Vec<_> = (0..8)
        .map(|k| {
            let dir = dir.path().to_path_buf();
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                for i in 0..15 {
                    let t = i * 5 * MIN + k * 1000;
                    let notes =
                        history::save(&dir, at(t), &cfg, &[sample(&format!("m{k}"), t, Status::Up, 1.0)]).unwrap();
                    assert!(notes.is_empty(), "{notes:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (h, notes) = history::load(dir.path(), at(DAY / 2), true);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(h.tails.len(), 8);
    for k in 0..8 {
        assert_eq!(count(&h, &format!("m{k}")), 15, "m{k}");
    }
    let raw = std::fs::read_to_string(dir.path().join("history/samples-2025-03-01.jsonl")).unwrap();
    assert_eq!(raw.lines().count(), 8 * 15, "every raw sample appended once");
    assert!(!dir.path().join("history/.lock").exists(), "lock released");
}

#[test]
fn a_truncated_raw_segment_is_repaired_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig::default();
    for i in 0..4 {
        history::save(dir.path(), at(i * HOUR), &cfg, &[sample("a", i * HOUR, Status::Up, 1.0)]).unwrap();
    }
    let seg = dir.path().join("history/samples-2025-03-01.jsonl");
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &bytes[..bytes.len() - 20]).unwrap();
    let notes = history::save(dir.path(), at(5 * HOUR), &cfg, &[sample("a", 5 * HOUR, Status::Up, 1.0)]).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("moved to") && notes[0].contains("3 readable samples kept"), "{notes:?}");
    assert!(names(dir.path()).iter().any(|n| n.starts_with("samples-2025-03-01.jsonl.corrupt-")));
    let raw = std::fs::read_to_string(&seg).unwrap();
    assert_eq!(raw.lines().count(), 4, "3 readable + the new one");
    assert!(raw.lines().all(|l| serde_json::from_str::<Sample>(l).is_ok()));
    // The aggregates never lost the cut sample.
    let (h, notes) = history::load(dir.path(), at(5 * HOUR), true);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(count(&h, "a"), 5);
}

#[test]
fn corrupt_aggregates_are_moved_aside_and_rebuilt_from_the_raw_samples() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig::default();
    let mut all = Vec::new();
    for i in 0..(3 * 24) {
        let s = sample("a", i * HOUR, if i % 7 == 3 { Status::Down } else { Status::Up }, 10.0 + i as f64);
        history::save(dir.path(), at(i * HOUR), &cfg, std::slice::from_ref(&s)).unwrap();
        all.push(s);
    }
    let now = at(3 * DAY - HOUR + MIN);
    let (before, notes) = figures_at(dir.path(), now, cfg.leak_window);
    assert!(notes.is_empty(), "{notes:?}");
    let hours = dir.path().join("history/hours-2025-03-03.json");
    std::fs::write(&hours, b"{\"a\": {\"0\": {\"count\": 1, ").unwrap();

    // A dry run reads around it and touches nothing.
    let (after, notes) = figures_at_repair(dir.path(), now, false);
    assert_eq!(after["a"].w24h, before["a"].w24h);
    assert!(notes.iter().any(|n| n.contains("hours-2025-03-03.json") && n.contains("dry run")), "{notes:?}");
    assert!(std::fs::read(&hours).unwrap().starts_with(b"{\"a\": {\"0\": {\"count\": 1, "));

    // A real run moves it aside, rebuilds from the raw samples and says so.
    let next = sample("a", 3 * DAY - HOUR + MIN, Status::Up, 5.0);
    let notes = history::save(dir.path(), now, &cfg, std::slice::from_ref(&next)).unwrap();
    assert!(notes.iter().any(|n| n.contains("was corrupt") && n.contains("moved to")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("rebuilt from the raw samples")), "{notes:?}");
    all.push(next);
    let (h, notes) = history::load(dir.path(), now, true);
    assert!(notes.is_empty(), "{notes:?}");
    let mut raw = History::default();
    raw.add(&all);
    let (f, r) = (figures::compute(&h, now, cfg.leak_window), figures::compute(&raw, now, cfg.leak_window));
    assert_eq!(f["a"].w24h, r["a"].w24h);
    assert_eq!(count(&h, "a"), 3 * 24 + 1);

    // A cut-off gzip segment keeps what decompresses, and says so.
    let gz = dir.path().join("history/samples-2025-02-27.jsonl.gz");
    let lines: Vec<Sample> = (0..200).map(|i| sample("a", -2 * DAY + i * MIN, Status::Up, 1.0)).collect();
    let mut text = Vec::new();
    for s in &lines {
        text.extend(serde_json::to_vec(s).unwrap());
        text.push(b'\n');
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &text).unwrap();
    let full = enc.finish().unwrap();
    std::fs::write(&gz, &full[..full.len() / 2]).unwrap();
    std::fs::remove_file(dir.path().join("history/tails.json")).unwrap();
    let (h, notes) = history::load(dir.path(), now, true);
    assert!(notes.iter().any(|n| n.contains("samples-2025-02-27.jsonl.gz") && n.contains("damaged")), "{notes:?}");
    let c = count(&h, "a");
    assert!(c > 3 * 24 + 1 && c < 3 * 24 + 1 + 200, "the readable part of the gzip segment is kept: {c}");
}

fn figures_at_repair(dir: &Path, now: DateTime<Utc>, repair: bool) -> (BTreeMap<String, Figures>, Vec<String>) {
    let (h, notes) = history::load(dir, now, repair);
    (figures::compute(&h, now, Duration::from_secs(86_400)), notes)
}

#[test]
fn window_hit_rate_sums_interval_deltas_and_skips_a_counter_reset() {
    let mut h = History::default();
    let mut run = |i: i64, kh: Option<u64>, km: Option<u64>| {
        let mut s = sample("cache", i * 5 * MIN, Status::Up, 1.0);
        (s.kh, s.km) = (kh, km);
        h.add(&[s]);
    };
    run(0, None, None); // first run: only lifetime counters
    run(1, Some(90), Some(10));
    run(2, Some(60), Some(40));
    run(3, None, None); // restart: lifetime counters again, left out
    run(4, Some(50), Some(50));
    let f = &figures::compute(&h, at(20 * MIN), Duration::from_secs(86_400))["cache"];
    assert_eq!(f.hit_rate_24h, Some(200.0 / 300.0));
    assert_eq!(f.variables()["hit_rate_24h"], serde_json::json!(0.6667));
}

#[test]
fn errors_are_grouped_by_kind_and_normalized_message_across_monitors_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig::default();
    let fail = |m: &str, ms: i64, kind: &str, msg: &str| {
        let mut s = sample(m, ms, Status::Down, 1.0);
        s.ek = Some(kind.into());
        s.em = Some(history::normalize_message(msg));
        s
    };
    history::save(
        dir.path(),
        at(0),
        &cfg,
        &[
            fail("api", 0, "timeout", "timed out after 5003ms"),
            fail("web", 0, "connect", "connect to 10.0.0.7:443 refused"),
        ],
    )
    .unwrap();
    history::save(
        dir.path(),
        at(5 * MIN),
        &cfg,
        &[
            fail("api", 5 * MIN, "timeout", "timed out after 4998ms"),
            fail("auth", 5 * MIN, "timeout", "timed out after 12ms"),
        ],
    )
    .unwrap();
    history::save(dir.path(), at(10 * MIN), &cfg, &[sample("api", 10 * MIN, Status::Up, 1.0)]).unwrap();
    let (h, _) = history::load(dir.path(), at(11 * MIN), true);
    let top = h.top_errors(at(11 * MIN), 7, 10);
    assert_eq!(top.len(), 2);
    assert_eq!((top[0].kind.as_str(), top[0].message.as_str(), top[0].count), ("timeout", "timed out after #ms", 3));
    assert_eq!(top[0].monitors.iter().map(String::as_str).collect::<Vec<_>>(), vec!["api", "auth"]);
    assert_eq!((top[0].first_seen, top[0].last_seen), (at(0), at(5 * MIN)));
    assert_eq!((top[1].message.as_str(), top[1].count), ("connect to <ip> refused", 1));
    // Eight days later the groups are out of the 7-day view.
    assert!(h.top_errors(at(8 * DAY), 7, 10).is_empty());
}

/// A whole run, three times on a moving clock: history written, figures in the report and
/// in the rules; a dry run writes no history.
#[tokio::test]
async fn runs_keep_history_and_rules_see_uptime() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "monitors:\n  - name: host\n    type: system\nrules:\n  - name: uptime_seen\n    condition: uptime_24h >= 0.0\n    message: \"{name} up {uptime_24h}% over 24h\"\n    severity: low\n";
    let loaded = vaktpost::load_str(yaml, "test.yml", &BTreeMap::new()).unwrap();
    let now = Arc::new(Mutex::new(t0()));
    let clock = now.clone();
    let mut ctx = vaktpost::context::RunContext::with_env(BTreeMap::new(), dir.path().to_path_buf());
    ctx.clock = Arc::new(move || *clock.lock().unwrap());
    let mut opts = vaktpost::RunOptions::new(&ctx, &loaded.config);
    opts.fail_on = vaktpost::report::FailOn::Never;
    let mut last = None;
    for i in 0..3 {
        *now.lock().unwrap() = t0() + chrono::Duration::minutes(5 * i);
        let out = vaktpost::run(&ctx, &loaded, &opts, &|_, _| {}).await.unwrap();
        vaktpost::write_outputs(&ctx, &loaded, &opts, &out).unwrap();
        last = Some(out);
    }
    let report = last.unwrap().report;
    let h = &report.history["host"];
    assert_eq!(h["samples_24h"], serde_json::json!(3), "{h:#}");
    assert_eq!(h["uptime_24h"], serde_json::json!(100.0), "{h:#}");
    let f = report.findings.iter().find(|f| f.rule == "uptime_seen").expect("rule on uptime_24h fired");
    assert_eq!(f.message, "host up 100% over 24h");
    assert_eq!(
        names(&ctx.cwd.join(".vaktpost")),
        vec!["errors.json", "hours-2025-03-01.json", "samples-2025-03-01.jsonl", "tails.json"]
    );

    // The summary shows the uptime columns, and a response-time chart once there are timings.
    let mut report = report;
    let md = vaktpost::report::summary::render(&report, None, 500);
    assert!(md.contains("| Uptime 24h | Uptime 7d | p95 24h |") && md.contains("| 100.00% | 100.00% | — |"), "{md}");
    assert!(!md.contains("xychart-beta"));
    let mut hours = vec![serde_json::Value::Null; 24];
    hours[3] = serde_json::json!(120.0);
    hours[20] = serde_json::json!(480.0);
    let h = report.history.get_mut("host").unwrap();
    h["p95_24h_ms"] = serde_json::json!(480.0);
    h["response_time_24h_ms"] = serde_json::json!(hours);
    let md = vaktpost::report::summary::render(&report, None, 500);
    assert!(md.contains("```mermaid\n---\nconfig:") && md.contains("\nxychart-beta\n"), "{md}");
    assert!(md.contains("line [120, 120, 120, 120, "), "{md}");
    // Each chart is titled with its monitor and p95: no legend below it.
    assert!(md.contains("title \"host: hourly median, p95 24h 480ms\""), "{md}");

    let dry = tempfile::tempdir().unwrap();
    let mut dctx = ctx.clone();
    dctx.cwd = dry.path().to_path_buf();
    let mut dopts = vaktpost::RunOptions::new(&dctx, &loaded.config);
    dopts.dry_run = true;
    let out = vaktpost::run(&dctx, &loaded, &dopts, &|_, _| {}).await.unwrap();
    vaktpost::write_outputs(&dctx, &loaded, &dopts, &out).unwrap();
    assert!(!dry.path().join(".vaktpost/history").exists());
}

#[test]
fn a_failed_save_takes_its_raw_samples_out_again() {
    // Regression: raw samples were appended although the aggregates were not written.
    let dir = tempfile::tempdir().unwrap();
    let cfg = HistoryConfig::default();
    for i in 0..3 {
        history::save(dir.path(), at(i * HOUR), &cfg, &[sample("a", i * HOUR, Status::Up, 1.0)]).unwrap();
    }
    let seg = dir.path().join("history/samples-2025-03-01.jsonl");
    let before = std::fs::read(&seg).unwrap();
    // A directory where the error groups file belongs: the aggregate write fails.
    let errors = dir.path().join("history/errors.json");
    std::fs::remove_file(&errors).unwrap();
    std::fs::create_dir(&errors).unwrap();
    let res = history::save(dir.path(), at(3 * HOUR), &cfg, &[sample("a", 3 * HOUR, Status::Down, 1.0)]);
    assert!(res.is_err(), "{res:?}");
    assert_eq!(std::fs::read(&seg).unwrap(), before, "the raw segment is as it was");
    std::fs::remove_dir(&errors).unwrap();
    history::save(dir.path(), at(4 * HOUR), &cfg, &[sample("a", 4 * HOUR, Status::Up, 1.0)]).unwrap();
    assert_eq!(std::fs::read_to_string(&seg).unwrap().lines().count(), 4);
}
