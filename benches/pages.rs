//! SPEC §8 status-site budget: `vaktpost pages` for 1,000 monitors × 90 days of history in
//! ≤ 1 s, and the index page of a 50-monitor site ≤ 200 KB. Builds a store once (daily
//! rollups for the older days, hourly aggregates of 5-minute runs for today and yesterday,
//! a few incidents), then runs the release binary's `vaktpost pages` on it, end to end
//! (config, state, history, report-less render, ~7,000 files written), several times.
//!
//! `scripts/bench.sh --pages` or
//! `cargo bench --bench pages -- [--monitors N] [--days D] [--runs R] [--keep DIR]`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use vaktpost::checks::Status;
use vaktpost::config::Severity;
use vaktpost::state::agg::{bucket_of, day_start_ms, Agg, History, DAY_MS};
use vaktpost::state::history::{self, HistoryConfig, Sample};
use vaktpost::state::{AlertRecord, MonitorState, ResolvedAlert, State};

const STEP_MS: i64 = 5 * 60_000;
const BUDGET: Duration = Duration::from_secs(1);
const INDEX_BUDGET: usize = 200 * 1024;

/// The binary reads the real clock, so the store is built up to now.
fn now0() -> DateTime<Utc> {
    let n = Utc::now();
    Utc.timestamp_millis_opt(n.timestamp_millis() - n.timestamp_millis().rem_euclid(STEP_MS)).unwrap()
}

fn name(m: usize) -> String {
    format!("monitor-{m:04}")
}

fn rt(m: usize, k: u64) -> f64 {
    let x = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 33;
    80.0 + (x % 80) as f64 + (m % 13) as f64 * 10.0
}

/// A day of 5-minute runs as its rollup: 288 samples, one in 50 monitors down an hour.
fn day_agg(m: usize, day: i64) -> Agg {
    let mut a = Agg::default();
    let down = if m % 50 == 7 && day % 9 == 0 { 12 } else { 0 };
    a.count = 288;
    a.up = 288 - down;
    a.down = down;
    a.requests = 288;
    a.errors = down;
    a.known_ms = DAY_MS;
    a.up_ms = DAY_MS - down as i64 * STEP_MS;
    for k in 0..288u64 {
        let v = rt(m, day as u64 * 288 + k);
        a.hist.add(bucket_of(v), 1);
        a.min_ms = Some(a.min_ms.map_or(v, |x| x.min(v)));
        a.max_ms = Some(a.max_ms.map_or(v, |x| x.max(v)));
    }
    a
}

fn build(dir: &Path, monitors: usize, days: i64) {
    let now = now0();
    let mut h = History::default();
    // Older days: rollups (compacted to percentiles by the store, as real ones are).
    let today = now.date_naive();
    for back in 2..days {
        let d = today - chrono::Duration::days(back);
        let per = h.days.entry(d).or_default();
        for m in 0..monitors {
            per.insert(name(m), day_agg(m, back));
        }
    }
    // Yesterday and today: 5-minute runs through the real fold.
    let start = day_start_ms(today - chrono::Duration::days(1));
    let mut t = start;
    while t <= now.timestamp_millis() {
        let run: Vec<Sample> = (0..monitors)
            .map(|m| Sample {
                m: name(m),
                t,
                s: Status::Up,
                rt: Some(rt(m, (t / STEP_MS) as u64)),
                n: 1,
                e: 0,
                ek: None,
                em: None,
                mem: BTreeMap::new(),
                lim: None,
                kh: None,
                km: None,
                er: None,
            })
            .collect();
        h.add(&run);
        t += STEP_MS;
    }
    history::write_store(dir, now, &HistoryConfig::default(), h).unwrap();
    let mut s = State::default();
    for m in 0..monitors {
        s.monitors.insert(name(m), MonitorState::new(now, if m % 97 == 3 { Status::Down } else { Status::Up }));
    }
    for m in (0..monitors).filter(|m| m % 97 == 3) {
        let rec = AlertRecord {
            monitor: name(m),
            rule: "endpoint_down".into(),
            severity: Severity::High,
            message: format!("Endpoint {} is down", name(m)),
            first_seen: now - chrono::Duration::minutes(30),
            last_seen: now,
            issue_number: Some(m as u64),
            issue_url: Some(format!("https://github.com/example/status/issues/{m}")),
            issue_severity: None,
            issue_message: None,
            last_reminded_at: None,
            flapping: false,
            values: Default::default(),
        };
        s.alerts.insert(format!("{}/endpoint_down", name(m)), rec);
        for k in 0..3 {
            let first = now - chrono::Duration::days(5 + 20 * k);
            s.resolved.insert(
                format!("{}/endpoint_down@{k}", name(m)),
                ResolvedAlert {
                    monitor: name(m),
                    rule: "endpoint_down".into(),
                    severity: Severity::High,
                    message: format!("Endpoint {} is down", name(m)),
                    first_seen: first,
                    resolved_at: first + chrono::Duration::hours(1),
                    issue_url: None,
                },
            );
        }
    }
    vaktpost::state::save(dir, &s).unwrap();
}

fn config(monitors: usize) -> String {
    let mut y = String::from(
        "alerts:\n  maintenance:\n    - start: \"03:00\"\n      duration: 30m\n      weekdays: [sun]\n      reason: Weekly restart\npages:\n  title: Fleet status\nmonitors:\n",
    );
    for m in 0..monitors {
        y.push_str(&format!("  - name: {}\n    type: http\n    url: https://svc-{m}.example.com/health\n", name(m)));
    }
    y
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let get = |name: &str, d: i64| -> i64 {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(d)
    };
    let (monitors, days, runs) = (get("--monitors", 1000) as usize, get("--days", 90), get("--runs", 5));
    let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/vaktpost");
    assert!(exe.is_file(), "{} missing: run `cargo build --release` (scripts/bench.sh --pages does)", exe.display());
    if let Some(i) = args.iter().position(|a| a == "--stages") {
        stages(Path::new(&args[i + 1]), Path::new(&args[i + 2]));
        return;
    }
    let keep = args.iter().position(|a| a == "--keep").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();

    let mut ok = true;
    for (n, label) in [(monitors, "site"), (50, "index-size")] {
        let state = dir.join(format!("state-{n}"));
        let t = Instant::now();
        eprintln!("building {days} days × {n} monitors …");
        build(&state, n, days);
        eprintln!("built in {:.1}s", t.elapsed().as_secs_f64());
        let cfg = dir.join(format!("vaktpost-{n}.yml"));
        std::fs::write(&cfg, config(n)).unwrap();
        let mut out = dir.join(format!("site-{n}"));
        let mut times = Vec::new();
        for k in 0..if label == "site" { runs } else { 1 } {
            // Each run writes a fresh directory, as a workflow's `vaktpost pages --out _site`
            // does on a new runner; they are all deleted after the last run. (Deleting
            // thousands of files right before a run bills their freeing to it: on this
            // machine's disk, mounted with `discard`, that alone doubles the time.)
            out = dir.join(format!("site-{n}-{k}"));
            let _ = std::fs::remove_dir_all(&out);
            let _ = Command::new("sync").status();
            let t0 = Instant::now();
            let o = Command::new(&exe)
                .args(["pages", "-c", cfg.to_str().unwrap(), "--state", state.to_str().unwrap()])
                .args(["--report", dir.join("none.json").to_str().unwrap(), "--out", out.to_str().unwrap()])
                .output()
                .unwrap();
            times.push(t0.elapsed());
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let written: Vec<PathBuf> = (0..times.len()).map(|k| dir.join(format!("site-{n}-{k}"))).collect();
        times.sort();
        let median = times[times.len() / 2];
        let files = walk(&out);
        let bytes: u64 = files.iter().map(|p| p.metadata().map(|m| m.len()).unwrap_or(0)).sum();
        let index = std::fs::metadata(out.join("index.html")).map(|m| m.len() as usize).unwrap_or(0);
        if keep.is_none() {
            for w in &written {
                let _ = std::fs::remove_dir_all(w);
            }
        }
        if label == "site" {
            println!("vaktpost pages: {n} monitors × {days} days of history");
            println!("  files written        {:>8}", files.len());
            println!("  site size            {:>8.1} MB", bytes as f64 / 1e6);
            println!("  index.html           {:>8.1} KB", index as f64 / 1024.0);
            println!(
                "  wall time (median of {runs}) {:>6.0} ms  (budget {} ms)",
                median.as_secs_f64() * 1000.0,
                BUDGET.as_millis()
            );
            let all: Vec<String> = times.iter().map(|t| format!("{:.0}", t.as_secs_f64() * 1000.0)).collect();
            println!("  every run (ms)       {:>8}", all.join(" "));
            if median > BUDGET {
                ok = false;
                println!("  OVER BUDGET");
            }
        } else {
            println!(
                "index.html of a {n}-monitor site: {:.1} KB (budget {} KB)",
                index as f64 / 1024.0,
                INDEX_BUDGET / 1024
            );
            if index > INDEX_BUDGET {
                ok = false;
                println!("  OVER BUDGET");
            }
        }
    }
    std::process::exit(if ok { 0 } else { 1 });
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// `--stages STATE CONFIG`: where the time goes, in process (load, model, render, write).
fn stages(state: &Path, cfg: &Path) {
    let t = Instant::now();
    let loaded = vaktpost::load_file(cfg, &BTreeMap::new()).unwrap_or_else(|d| panic!("{d:?}"));
    let t_cfg = t.elapsed();
    let now = Utc::now();
    let (st, _) = vaktpost::state::load(state, now);
    let (h, _) = history::load_days(state, now, 91);
    let t_load = t.elapsed();
    let redactor = vaktpost::redact::Redactor::new(&loaded.secrets);
    let inputs = vaktpost::pages::Inputs {
        config: &loaded.config,
        state: &st,
        history: &h,
        report: None,
        redactor: &redactor,
        now,
    };
    let site = vaktpost::pages::build(&inputs);
    let t_model = t.elapsed();
    let r = vaktpost::pages::Renderer::new(None).unwrap();
    let t0 = Instant::now();
    let _ = minijinja::Value::from(minijinja::value::Serde(&site));
    let t_ser = t0.elapsed();
    let t0 = Instant::now();
    let _ = r.index(&vaktpost::pages::Renderer::site_value(&site)).unwrap();
    let t_index = t0.elapsed();
    let t0 = Instant::now();
    for i in 0..site.monitors.len() {
        let _ = r.monitor(&site, i).unwrap();
    }
    let t_mon = t0.elapsed();
    let t0 = Instant::now();
    for m in &site.monitors {
        for c in &m.charts {
            let _ = vaktpost::pages::render::chart_svg(c);
        }
    }
    let t_svg = t0.elapsed();
    let t0 = Instant::now();
    for m in &site.monitors {
        let _ = minijinja::Value::from(minijinja::value::Serde(m));
    }
    let t_mser = t0.elapsed();
    let t0 = Instant::now();
    let _ = r.incidents(&vaktpost::pages::Renderer::site_value(&site)).unwrap();
    let t_inc = t0.elapsed();
    let t0 = Instant::now();
    for m in &site.monitors {
        for (_, b) in vaktpost::pages::api::monitor_badges(m) {
            let _ = serde_json::to_vec_pretty(&b);
        }
    }
    let t_badges = t0.elapsed();
    let t0 = Instant::now();
    let _ = serde_json::to_vec_pretty(&vaktpost::pages::api::summary_json(&site));
    let _ = serde_json::to_vec_pretty(&vaktpost::pages::api::status_json(&site));
    let t_api = t0.elapsed();
    eprintln!("one thread: incidents {t_inc:?}, badges {t_badges:?}, api {t_api:?}");
    eprintln!("one thread: site to Value {t_ser:?}, index {t_index:?}, monitor pages {t_mon:?} (svg {t_svg:?}, monitor to Value {t_mser:?})");
    let paths = vaktpost::pages::Paths { templates: None, logo: None };
    let g = Instant::now();
    let (_, files) = vaktpost::pages::generate(&inputs, &paths).unwrap();
    let t_generate = g.elapsed();
    // A fresh directory beside the state, as a workflow's _site, kept: deleting thousands
    // of files bills their freeing to whatever writes next on this machine's disk.
    let out = tempfile::tempdir_in(state.parent().unwrap_or(Path::new("."))).unwrap().keep();
    let w = Instant::now();
    vaktpost::pages::write_site(&out, &files).unwrap();
    let t_write = w.elapsed();
    eprintln!(
        "config {t_cfg:?} load {:?} model {:?} generate (model again + render) {t_generate:?} write {t_write:?}; {} monitors; site in {}",
        t_load - t_cfg,
        t_model - t_load,
        site.monitors.len(),
        out.display()
    );
}
