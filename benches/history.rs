//! SPEC §8 history budget: load + update + save of a store holding 30 days of 5-minute
//! history for 1,000 monitors in ≤ 300 ms. Builds the store once (raw segments for the
//! retention days, hourly aggregates for today and yesterday, daily rollups before), then
//! measures, in a fresh process so peak memory is the run's own, what a run does with
//! it: load the aggregates, add this run's 1,000 samples, compute every figure, save.
//!
//! `cargo bench --bench history -- [--monitors N] [--days D] [--runs R] [--keep DIR]`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use vaktpost::checks::Status;
use vaktpost::state::history::{self, History, HistoryConfig, Sample};

const STEP_MS: i64 = 5 * 60_000;
const BUDGET: Duration = Duration::from_millis(300);

fn now0() -> DateTime<Utc> {
    // 23:55, the fullest moment of a day: 24 hourly buckets today, 24 yesterday.
    Utc.with_ymd_and_hms(2026, 3, 31, 23, 55, 0).unwrap()
}

fn noise(i: u64) -> f64 {
    let x = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 33;
    (x % 2001) as f64 / 1000.0 - 1.0
}

fn run_samples(monitors: usize, t: i64) -> Vec<Sample> {
    (0..monitors)
        .map(|m| {
            let k = (t / STEP_MS) as u64 * 7919 + m as u64;
            // One monitor in 50 fails now and then, with a handful of distinct errors.
            let down = m % 50 == 7 && k % 11 == 0;
            Sample {
                m: format!("monitor-{m:04}"),
                t,
                s: if down { Status::Down } else { Status::Up },
                rt: Some(80.0 + 40.0 * noise(k) + (m % 13) as f64 * 10.0),
                n: 1,
                e: u32::from(down),
                ek: down.then(|| "timeout".to_string()),
                em: down.then(|| format!("timed out after # ms on endpoint {}", m % 5)),
                er: None,
                mem: BTreeMap::new(),
                lim: None,
                kh: None,
                km: None,
            }
        })
        .collect()
}

fn build(dir: &Path, monitors: usize, days: i64) {
    let now = now0().timestamp_millis();
    let start = now - days * 86_400_000;
    let cfg = HistoryConfig::default();
    let mut h = History::default();
    let mut t = start;
    let mut raw: BTreeMap<chrono::NaiveDate, Vec<u8>> = BTreeMap::new();
    let keep_raw_from = (now0() - chrono::Duration::days(cfg.retention_days)).date_naive();
    while t < now {
        let run = run_samples(monitors, t);
        h.add(&run);
        let day = DateTime::from_timestamp_millis(t).unwrap().date_naive();
        if day >= keep_raw_from {
            let buf = raw.entry(day).or_default();
            for s in &run {
                serde_json::to_writer(&mut *buf, s).unwrap();
                buf.push(b'\n');
            }
        }
        t += STEP_MS;
    }
    let hdir = history::history_dir(dir);
    std::fs::create_dir_all(&hdir).unwrap();
    for (day, bytes) in raw {
        std::fs::write(hdir.join(format!("samples-{}.jsonl", day.format("%Y-%m-%d"))), bytes).unwrap();
    }
    history::write_store(dir, now0(), &cfg, h).unwrap();
}

/// User + system CPU time of this process, in µs (a steadier figure than wall time on a
/// busy machine).
fn cpu_us() -> u64 {
    // /proc/self/stat fields 14 and 15: utime and stime in clock ticks (100 Hz on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?) * 10_000)
        })
        .unwrap_or(0)
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// One run's history work, as `vaktpost run` does it.
fn measure(dir: &Path, monitors: usize, k: i64) -> Duration {
    let now = now0() + chrono::Duration::milliseconds(k * 1000);
    let cfg = HistoryConfig::default();
    let t0 = Instant::now();
    let (mut h, notes) = history::load(dir, now, true);
    assert!(notes.is_empty(), "{notes:?}");
    let t_load = t0.elapsed();
    let run = run_samples(monitors, now.timestamp_millis());
    h.add(&run);
    let figures = vaktpost::state::figures::compute(&h, now, cfg.leak_window);
    let top = h.top_errors(now, 7, 10);
    let t_fig = t0.elapsed();
    let notes = history::save_loaded(dir, now, &cfg, &run, Some(h)).unwrap();
    let took = t0.elapsed();
    if std::env::var_os("VAKTPOST_BENCH_STAGES").is_some() {
        eprintln!("load {t_load:?} add+figures {:?} save {:?}", t_fig - t_load, took - t_fig);
    }
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(figures.len(), monitors);
    assert!(figures.values().all(|f| f.w30d.samples > 0 && f.p95_7d_ms.is_some()));
    assert!(!top.is_empty());
    took
}

fn du(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(history::history_dir(dir)).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let kind = if name.ends_with(".jsonl.gz") {
            "raw samples, gzip"
        } else if name.ends_with(".jsonl") {
            "raw samples, plain"
        } else if name.starts_with("hours-") {
            "hourly aggregates"
        } else if name.starts_with("rollups-") {
            "daily rollups"
        } else {
            "tails + errors"
        };
        *out.entry(kind.to_string()).or_default() += e.metadata().map(|m| m.len()).unwrap_or(0);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let get = |name: &str, d: i64| -> i64 {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(d)
    };
    let (monitors, days, runs) = (get("--monitors", 1000) as usize, get("--days", 30), get("--runs", 7));
    if let Some(i) = args.iter().position(|a| a == "--measure-one") {
        let dir = PathBuf::from(&args[i + 1]);
        let k: i64 = args[i + 2].parse().unwrap();
        let took = measure(&dir, monitors, k);
        println!("{} {} {}", took.as_micros(), vm_hwm_kb(), cpu_us());
        return;
    }
    let keep = args.iter().position(|a| a == "--keep").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let t = Instant::now();
    eprintln!("building {days} days × {monitors} monitors at 5-minute runs …");
    // A rotation as the runs would have done it: gzip and retention on the raw segments.
    build(&dir, monitors, days);
    eprintln!("built in {:.1}s", t.elapsed().as_secs_f64());
    let sizes = du(&dir);

    let exe = std::env::current_exe().unwrap();
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut hwm = 0;
    for k in 1..=runs {
        let out = Command::new(&exe)
            .args(["--monitors", &monitors.to_string(), "--measure-one", dir.to_str().unwrap(), &k.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace();
        let us: u64 = it.next().unwrap().parse().unwrap();
        hwm = hwm.max(it.next().unwrap().parse::<u64>().unwrap());
        cpu.push(Duration::from_micros(it.next().unwrap().parse().unwrap()));
        times.push(Duration::from_micros(us));
    }
    times.sort();
    cpu.sort();
    let median = times[times.len() / 2];
    println!("history store: {monitors} monitors × {days} days at 5-minute runs");
    for (k, v) in &sizes {
        println!("  {k:<22} {:>8.1} MB", *v as f64 / 1e6);
    }
    println!("  {:<22} {:>8.1} MB", "total", sizes.values().sum::<u64>() as f64 / 1e6);
    println!(
        "load + update + figures + save: median {:.0} ms (min {:.0}, max {:.0}, {runs} runs); peak RSS {:.1} MB; budget {} ms",
        median.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        hwm as f64 / 1024.0,
        BUDGET.as_millis()
    );
    println!(
        "  CPU time of the whole process (build of the run's samples included): median {:.0} ms",
        cpu[cpu.len() / 2].as_secs_f64() * 1000.0
    );
    if median > BUDGET {
        std::process::exit(1);
    }
}
