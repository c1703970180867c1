//! Figures derived from history, per monitor: time-weighted uptime and error rates over
//! 24h/7d/30d, latency percentiles, and memory-leak detection. They go into the report's
//! `history` and, as variables, to the rules (`uptime_24h`, `memory_leak_suspected`, …).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::agg::{hist_percentile, hist_percentiles, Agg, History, DAY_MS, HOUR_MS};

/// A memory series: (time ms, value).
type Points = Vec<(i64, f64)>;
/// A fall of this fraction from one sample to the next is a restart: the trend starts over.
const RESTART_DROP: f64 = 0.2;
/// Fewest samples (after the last restart) before a trend is judged.
pub const LEAK_MIN_SAMPLES: usize = 12;
/// Growth over the observed stretch, relative to its typical value, to call it significant.
pub const LEAK_MIN_GROWTH: f64 = 0.05;
/// Share of pairwise slopes that must be positive to call the growth sustained.
pub const LEAK_MIN_POSITIVE: f64 = 0.75;
/// Theil–Sen over at most this many points (evenly thinned), to bound the pair count.
const LEAK_MAX_POINTS: usize = 120;

/// A window's uptime and error rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Window {
    /// Percent of the known time the monitor was up (degraded counts as up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<f64>,
    /// Failed requests / requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Samples (raw runs plus rolled-up ones) the window saw.
    pub samples: u64,
}

/// One memory series' trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// Theil–Sen slope in the series' unit per day.
    pub slope_per_day: f64,
    /// Days until the series reaches its limit at this slope; absent without a limit or growth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_to_full: Option<f64>,
    /// Samples since the window start or the last restart.
    pub samples: usize,
    /// Share of pairwise slopes that are positive.
    pub positive_share: f64,
    /// Growth over the observed stretch relative to its median value.
    pub growth: f64,
    pub leak_suspected: bool,
}

/// Everything history says about one monitor.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub w24h: Window,
    pub w7d: Window,
    pub w30d: Window,
    pub p50_24h_ms: Option<f64>,
    pub p95_24h_ms: Option<f64>,
    pub p99_24h_ms: Option<f64>,
    pub p50_7d_ms: Option<f64>,
    pub p95_7d_ms: Option<f64>,
    pub p99_7d_ms: Option<f64>,
    pub memory: BTreeMap<String, Trend>,
    /// Redis: keyspace hits / lookups over the window, from the runs' interval deltas.
    pub hit_rate_24h: Option<f64>,
    pub hit_rate_7d: Option<f64>,
    /// Median response time per hour of the last 24h, oldest first (for the summary chart).
    pub hourly_24h_ms: Vec<Option<f64>>,
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl Figures {
    /// Latency percentiles by their report and variable names.
    fn percentiles(&self) -> [(&'static str, Option<f64>); 6] {
        [
            ("p50_24h_ms", self.p50_24h_ms),
            ("p95_24h_ms", self.p95_24h_ms),
            ("p99_24h_ms", self.p99_24h_ms),
            ("p50_7d_ms", self.p50_7d_ms),
            ("p95_7d_ms", self.p95_7d_ms),
            ("p99_7d_ms", self.p99_7d_ms),
        ]
    }

    /// Window hit rates (Redis), rounded to 4 places, by their report and variable names.
    fn hit_rates(&self) -> [(&'static str, Option<f64>); 2] {
        [
            ("hit_rate_24h", self.hit_rate_24h.map(|h| round(h, 4))),
            ("hit_rate_7d", self.hit_rate_7d.map(|h| round(h, 4))),
        ]
    }

    /// The report's `history[monitor]` object.
    pub fn to_json(&self) -> Value {
        let mut o = serde_json::Map::new();
        for (w, win) in [("24h", &self.w24h), ("7d", &self.w7d), ("30d", &self.w30d)] {
            o.insert(format!("uptime_{w}"), json!(win.uptime.map(|u| round(u, 3))));
            o.insert(format!("error_rate_{w}"), json!(win.error_rate.map(|u| round(u, 5))));
            o.insert(format!("samples_{w}"), json!(win.samples));
        }
        for (k, v) in self.percentiles() {
            o.insert(k.into(), json!(v));
        }
        for (k, x) in self.hit_rates() {
            if let Some(x) = x {
                o.insert(k.into(), json!(x));
            }
        }
        if !self.memory.is_empty() {
            o.insert("memory".into(), json!(self.memory));
        }
        if self.hourly_24h_ms.iter().any(Option::is_some) {
            let h: Vec<Option<f64>> = self.hourly_24h_ms.iter().map(|x| x.map(|v| round(v, 1))).collect();
            o.insert("response_time_24h_ms".into(), json!(h));
        }
        Value::Object(o)
    }

    /// The rule variables: only figures that exist, so a rule on a missing one does not apply.
    pub fn variables(&self) -> BTreeMap<String, Value> {
        let mut v = BTreeMap::new();
        for (w, win) in [("24h", &self.w24h), ("7d", &self.w7d), ("30d", &self.w30d)] {
            if let Some(u) = win.uptime {
                v.insert(format!("uptime_{w}"), json!(round(u, 3)));
            }
            if let Some(e) = win.error_rate {
                v.insert(format!("error_rate_{w}"), json!(round(e, 5)));
            }
        }
        for (k, x) in self.percentiles().into_iter().chain(self.hit_rates()) {
            if let Some(x) = x {
                v.insert(k.into(), json!(x));
            }
        }
        // The series that worries most: a suspected leak first, then the steepest growth.
        let worst = self.memory.iter().max_by(|a, b| {
            (a.1.leak_suspected, a.1.slope_per_day)
                .partial_cmp(&(b.1.leak_suspected, b.1.slope_per_day))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        if let Some((name, t)) = worst {
            v.insert("memory_leak_suspected".into(), json!(t.leak_suspected));
            v.insert("memory_leak_series".into(), json!(name));
            v.insert("memory_slope_per_day".into(), json!(round(t.slope_per_day, 2)));
            v.insert(
                "days_to_full".into(),
                t.days_to_full.map(|d| json!(round(d, 1))).unwrap_or_else(|| json!("unknown")),
            );
        }
        v
    }
}

/// A monitor's buckets: (start ms, length ms, aggregate).
pub type Buckets<'a> = [(i64, i64, &'a Agg)];

/// One monitor's uptime and error rate over `[now - span_ms, now]`, as the report's
/// 24h/7d/30d windows are computed (the status site's 90 days too).
pub fn window_of(h: &History, name: &str, now: DateTime<Utc>, span_ms: i64) -> Window {
    window_in(h, name, &h.buckets(name), now, span_ms)
}

/// [`window_of`] over the monitor's buckets already read (`h.buckets(name)`).
pub fn window_in(h: &History, name: &str, buckets: &Buckets, now: DateTime<Utc>, span_ms: i64) -> Window {
    let now_ms = now.timestamp_millis();
    window(buckets, open_of(h, name, now_ms), now_ms, span_ms)
}

/// A day's (or any single bucket's) uptime, by the same rule as a window: time-weighted,
/// or the share of samples up when no time is known yet.
pub fn uptime_of(a: &Agg) -> Option<f64> {
    let (start, len) = (0, DAY_MS);
    window(&[(start, len, a)], None, start + len, len).uptime
}

/// The open stretch of a monitor's latest sample at `now_ms`: (its time, weight so far, up).
fn open_of(h: &History, name: &str, now_ms: i64) -> Option<(i64, i64, bool)> {
    h.tails.get(name).map(|t| (t.t, (now_ms - t.t).clamp(0, t.cap()), t.s.is_up()))
}

/// Uptime and error rate of one monitor over `[now - span, now]`: each bucket counted by
/// the share of it inside the window, plus the open stretch of the latest sample (`open`:
/// its time, weight so far, and whether it was up).
fn window(buckets: &Buckets, open: Option<(i64, i64, bool)>, now: i64, span: i64) -> Window {
    let start = now - span;
    let (mut known, mut up, mut req, mut err, mut n, mut n_up) = (0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    for (b0, len, a) in buckets {
        // The share of the bucket's elapsed part (the current hour is still open) that
        // lies inside the window.
        let end = (b0 + len).min(now);
        let overlap = if end <= *b0 {
            f64::from(u8::from(*b0 >= start && *b0 <= now))
        } else {
            (end - (*b0).max(start)).max(0) as f64 / (end - b0) as f64
        };
        if overlap <= 0.0 {
            continue;
        }
        known += a.known_ms as f64 * overlap;
        up += a.up_ms as f64 * overlap;
        req += a.requests as f64 * overlap;
        err += a.errors as f64 * overlap;
        n += a.count as f64 * overlap;
        n_up += (a.up + a.degraded) as f64 * overlap;
    }
    if let Some((t, w, is_up)) = open {
        let (a, b) = (t.max(start), (t + w).min(now));
        if b > a {
            known += (b - a) as f64;
            if is_up {
                up += (b - a) as f64;
            }
        }
    }
    // No known time (a first run, one sample): uptime is the share of samples up.
    let uptime = if known > 0.0 {
        Some(up / known * 100.0)
    } else if n > 0.0 {
        Some(n_up / n * 100.0)
    } else {
        None
    };
    Window { uptime, error_rate: (req > 0.0).then(|| err / req), samples: n.round() as u64 }
}

/// The buckets that overlap `[from, now]`.
fn overlapping<'a>(buckets: &'a Buckets<'a>, from: i64) -> impl Iterator<Item = &'a Agg> + Clone {
    buckets.iter().filter(move |(b0, len, _)| b0 + len > from).map(|b| b.2)
}

fn hit_rate<'a>(aggs: impl Iterator<Item = &'a Agg>) -> Option<f64> {
    let (h, m) = aggs.fold((0u64, 0u64), |(h, m), a| (h + a.hits, m + a.misses));
    (h + m > 0).then(|| h as f64 / (h + m) as f64)
}

/// Theil–Sen trend of one series over `points` (time ms, value), after the last restart.
pub fn trend(points: &[(i64, f64)], limit: Option<f64>, window: Duration) -> Option<Trend> {
    // Start after the last sharp drop: a restart frees memory and starts a new trend.
    let from = points.windows(2).rposition(|w| w[0].1 > 0.0 && w[1].1 < w[0].1 * (1.0 - RESTART_DROP)).map(|i| i + 1);
    let pts = &points[from.unwrap_or(0)..];
    if pts.len() < 2 {
        return None;
    }
    let step = pts.len().div_ceil(LEAK_MAX_POINTS).max(1);
    let thin: Vec<(i64, f64)> = pts.iter().step_by(step).copied().collect();
    let mut slopes = Vec::with_capacity(thin.len() * thin.len() / 2);
    for i in 0..thin.len() {
        for j in i + 1..thin.len() {
            let dt = thin[j].0 - thin[i].0;
            if dt > 0 {
                slopes.push((thin[j].1 - thin[i].1) / dt as f64);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let positive_share = slopes.iter().filter(|s| **s > 0.0).count() as f64 / slopes.len() as f64;
    slopes.sort_by(f64::total_cmp);
    let slope = slopes[slopes.len() / 2];
    let slope_per_day = slope * DAY_MS as f64;
    let mut vals: Vec<f64> = pts.iter().map(|p| p.1).collect();
    vals.sort_by(f64::total_cmp);
    let median = vals[vals.len() / 2];
    let span = (pts[pts.len() - 1].0 - pts[0].0) as f64;
    let growth = if median > 0.0 { slope * span / median } else { 0.0 };
    let last = pts[pts.len() - 1].1;
    let days_to_full = match limit {
        Some(l) if slope_per_day > 0.0 && l > 0.0 => Some(((l - last) / slope_per_day).max(0.0)),
        _ => None,
    };
    // Sustained: enough samples spanning at least half the window since the last restart.
    let sustained = pts.len() >= LEAK_MIN_SAMPLES && span >= window.as_millis() as f64 / 2.0;
    let leak_suspected = sustained && slope > 0.0 && positive_share >= LEAK_MIN_POSITIVE && growth >= LEAK_MIN_GROWTH;
    Some(Trend { slope_per_day, days_to_full, samples: pts.len(), positive_share, growth, leak_suspected })
}

/// Monitor name → variable name → value: the rule variables the figures give each monitor.
pub type Variables = BTreeMap<String, BTreeMap<String, Value>>;

/// The history stage of a run: its samples added to `hist` (only when the run is
/// conclusive), the figures of every monitor, and their rule variables (`uptime_24h`, …).
pub fn of_run(
    hist: &mut History,
    results: &[crate::checks::CheckResult],
    conclusive: bool,
    cfg: &crate::config::StateConfig,
    now: DateTime<Utc>,
) -> (BTreeMap<String, Figures>, Variables) {
    if conclusive {
        hist.add(&super::history::samples_from(results));
    }
    let leak_window = super::history::HistoryConfig::from_config(cfg).leak_window;
    let figures = compute(hist, now, leak_window);
    let vars = figures.iter().map(|(k, f)| (k.clone(), f.variables())).collect();
    (figures, vars)
}

/// The figures of every monitor with history, at `now`.
pub fn compute(h: &History, now: DateTime<Utc>, leak_window: Duration) -> BTreeMap<String, Figures> {
    let names: Vec<&String> = h.monitors().into_iter().collect();
    // Monitors are independent; a large fleet is split across the machine's cores.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if threads < 2 || names.len() < 200 {
        return compute_for(h, &names, now, leak_window);
    }
    let chunk = names.len().div_ceil(threads);
    std::thread::scope(|sc| {
        let handles: Vec<_> =
            names.chunks(chunk).map(|part| sc.spawn(move || compute_for(h, part, now, leak_window))).collect();
        let mut out = BTreeMap::new();
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}

fn compute_for(h: &History, names: &[&String], now: DateTime<Utc>, leak_window: Duration) -> BTreeMap<String, Figures> {
    let now_ms = now.timestamp_millis();
    let this_hour = now_ms - now_ms.rem_euclid(HOUR_MS);
    let mut out = BTreeMap::new();
    for name in names.iter().copied() {
        let buckets = h.buckets(name);
        let open = open_of(h, name, now_ms);
        let mut f = Figures {
            w24h: window(&buckets, open, now_ms, DAY_MS),
            w7d: window(&buckets, open, now_ms, 7 * DAY_MS),
            w30d: window(&buckets, open, now_ms, 30 * DAY_MS),
            ..Default::default()
        };
        let (d1, d7) = (now_ms - DAY_MS, now_ms - 7 * DAY_MS);
        [f.p50_24h_ms, f.p95_24h_ms, f.p99_24h_ms] = hist_percentiles(overlapping(&buckets, d1), [50.0, 95.0, 99.0]);
        [f.p50_7d_ms, f.p95_7d_ms, f.p99_7d_ms] = hist_percentiles(overlapping(&buckets, d7), [50.0, 95.0, 99.0]);
        f.hit_rate_24h = hit_rate(overlapping(&buckets, d1));
        f.hit_rate_7d = hit_rate(overlapping(&buckets, d7));

        // The chart: the median of each of the last 24 clock hours, oldest first.
        f.hourly_24h_ms = (0..24)
            .map(|k| {
                let start = this_hour - (23 - k) * HOUR_MS;
                buckets.iter().find(|b| b.0 == start && b.1 == HOUR_MS).and_then(|b| hist_percentile([b.2], 50.0))
            })
            .collect();

        let from = now_ms - leak_window.as_millis() as i64;
        let mut series: BTreeMap<&str, (Points, Option<f64>)> = BTreeMap::new();
        for a in overlapping(&buckets, from) {
            for (k, pts) in &a.mem {
                let e = series.entry(k.as_str()).or_default();
                e.0.extend(pts.iter().copied().filter(|p| p.0 >= from));
                // Byte series are bounded by the monitor's limit; a percentage by 100.
                e.1 = if k == "percent" { Some(100.0) } else { a.lim.or(e.1) };
            }
        }
        for (k, (mut pts, lim)) in series {
            pts.sort_by_key(|p| p.0);
            if let Some(t) = trend(&pts, lim, leak_window) {
                f.memory.insert(k.to_string(), t);
            }
        }
        out.insert(name.clone(), f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;
    use crate::state::history::Sample;

    fn s(t: i64, st: Status) -> Sample {
        Sample {
            m: "a".into(),
            t,
            s: st,
            rt: None,
            n: 1,
            e: u32::from(st == Status::Down),
            ek: None,
            em: None,
            er: None,
            mem: BTreeMap::new(),
            lim: None,
            kh: None,
            km: None,
        }
    }

    fn w24(samples: &[Sample], now: i64) -> Window {
        let mut h = History::default();
        h.add(samples);
        compute(&h, DateTime::from_timestamp_millis(now).unwrap(), Duration::from_secs(86_400))["a"].w24h.clone()
    }

    #[test]
    fn uptime_is_weighted_by_gaps_not_counted() {
        // Up at 0, down at 5 min for 5 min, up from 10 min on; the window ends at 15 min.
        let m = 60_000;
        let v = vec![s(0, Status::Up), s(5 * m, Status::Down), s(10 * m, Status::Up), s(15 * m, Status::Up)];
        let w = w24(&v, 15 * m);
        assert_eq!(w.uptime.map(|u| round(u, 2)), Some(66.67));
        assert_eq!(w.error_rate, Some(0.25));
        assert_eq!(w.samples, 4);
    }

    #[test]
    fn a_single_first_sample_has_the_uptime_of_its_status() {
        assert_eq!(w24(&[s(0, Status::Down)], 0).uptime, Some(0.0));
    }
    #[test]
    fn restart_starts_a_new_trend() {
        let h = 3_600_000;
        let mut pts: Vec<(i64, f64)> = (0..20).map(|i| (i * h, 100.0 + i as f64 * 10.0)).collect();
        pts.push((20 * h, 90.0));
        pts.push((21 * h, 95.0));
        let t = trend(&pts, Some(1000.0), Duration::from_secs(24 * 3600)).unwrap();
        assert_eq!(t.samples, 2);
        assert!(!t.leak_suspected);
    }
}
