//! Aggregates of the history store: what the figures are computed from, so a run reads a
//! few megabytes of summaries instead of every raw sample of the last week (30 days of
//! 5-minute runs of 1,000 monitors are 8.6 million samples). Each run's samples are
//! folded in as they arrive: into hourly aggregates for the last two days, and those into
//! daily ones (the rollups) after that. Everything here is additive, so a day's rollup is
//! exactly the sum of its hours, and a replay of the raw samples gives the same numbers.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::history::Sample;
use crate::checks::Status;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
/// Latency buckets grow by this ratio: a percentile read from them is within 1% of the
/// exact one (and clamped to the bucket's real min/max, so a constant series is exact).
const GAMMA: f64 = 1.02;
/// Days a rollup keeps its latency histogram (for 7-day percentiles); older days keep
/// p50/p95/p99 only, which keeps the rollups small.
pub const HIST_DAYS: i64 = 8;
/// Gaps remembered per monitor to judge its usual cadence.
const GAPS_KEPT: usize = 15;
/// Error groups not seen for this long are forgotten.
pub const ERROR_GROUP_TTL_DAYS: i64 = 30;
/// Most error groups kept (the least recently seen go first).
pub const MAX_ERROR_GROUPS: usize = 1000;

/// One monitor's hour or day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agg {
    pub count: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub up: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub degraded: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub down: u64,
    /// Requests and failed requests (for error rates).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: u64,
    /// Time-weighted: milliseconds covered by a sample of this bucket (the gap to the next
    /// sample, capped; see [`weight_cap`]), and of those, up.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub known_ms: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub up_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
    /// Percentiles of a compacted day (older than [`HIST_DAYS`]), whose histogram is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// Response times by log bucket (see [`bucket_of`]).
    #[serde(default, skip_serializing_if = "Hist::is_empty")]
    pub hist: Hist,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_kinds: BTreeMap<String, u64>,
    /// Redis keyspace hits and misses within the runs' intervals.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hits: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub misses: u64,
    /// Memory series: (time ms, value). Every point in an hour; one per hour (the
    /// median) in a day.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mem: BTreeMap<String, Vec<(i64, f64)>>,
    /// What the byte series are bounded by (`memory_limit`), last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lim: Option<f64>,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

fn is_zero_i64(x: &i64) -> bool {
    *x == 0
}

/// The histogram bucket of a response time: `ceil(log_γ(ms))`; 0 ms and less share one.
pub fn bucket_of(ms: f64) -> i32 {
    if ms <= 0.01 {
        return i32::MIN;
    }
    (ms.ln() / GAMMA.ln()).ceil() as i32
}

/// The value a bucket stands for: the point of least relative error in `(γ^(i-1), γ^i]`.
fn bucket_value(i: i32) -> f64 {
    if i == i32::MIN {
        return 0.0;
    }
    2.0 * GAMMA.powi(i) / (GAMMA + 1.0)
}

impl Agg {
    fn add_sample(&mut self, s: &Sample) {
        self.count += 1;
        match s.s {
            Status::Up => self.up += 1,
            Status::Degraded => self.degraded += 1,
            Status::Down => self.down += 1,
            Status::Skipped => {}
        }
        self.requests += u64::from(s.n);
        self.errors += u64::from(s.e);
        if let Some(k) = &s.ek {
            *self.error_kinds.entry(k.clone()).or_default() += 1;
        }
        if let Some(rt) = s.rt.filter(|v| v.is_finite()) {
            self.hist.add(bucket_of(rt), 1);
            self.min_ms = Some(self.min_ms.map_or(rt, |m| m.min(rt)));
            self.max_ms = Some(self.max_ms.map_or(rt, |m| m.max(rt)));
        }
        self.hits += s.kh.unwrap_or(0);
        self.misses += s.km.unwrap_or(0);
        for (k, v) in &s.mem {
            self.mem.entry(k.clone()).or_default().push((s.t, *v));
        }
        if s.lim.is_some() {
            self.lim = s.lim;
        }
    }

    /// Adds another bucket of the same monitor (hours into a day, two runs' views).
    pub fn merge(&mut self, o: &Agg) {
        self.count += o.count;
        self.up += o.up;
        self.degraded += o.degraded;
        self.down += o.down;
        self.requests += o.requests;
        self.errors += o.errors;
        self.known_ms += o.known_ms;
        self.up_ms += o.up_ms;
        self.min_ms = match (self.min_ms, o.min_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_ms = match (self.max_ms, o.max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.hist.merge(&o.hist);
        for (k, v) in &o.error_kinds {
            *self.error_kinds.entry(k.clone()).or_default() += v;
        }
        self.hits += o.hits;
        self.misses += o.misses;
        for (k, v) in &o.mem {
            let e = self.mem.entry(k.clone()).or_default();
            e.extend(v.iter().copied());
            e.sort_by_key(|p| p.0);
        }
        if o.lim.is_some() {
            self.lim = o.lim;
        }
    }

    /// Median and 95th percentile of this bucket's response times: from its histogram, or
    /// the percentiles kept when it was compacted.
    pub fn p50_p95(&self) -> (Option<f64>, Option<f64>) {
        if self.hist.is_empty() {
            return (self.p50_ms, self.p95_ms);
        }
        let [p50, p95] = hist_percentiles([self], [50.0, 95.0]);
        (p50, p95)
    }

    /// Replaces the histogram by its p50/p95/p99 (see [`HIST_DAYS`]); true if it changed.
    pub fn compact(&mut self) -> bool {
        if self.hist.is_empty() {
            return false;
        }
        [self.p50_ms, self.p95_ms, self.p99_ms] = hist_percentiles([&*self], [50.0, 95.0, 99.0]);
        self.hist = Hist::default();
        true
    }

    /// This hour's memory points thinned to one (the median value at the median time),
    /// as a day keeps them.
    fn thin_memory(&mut self) {
        for pts in self.mem.values_mut() {
            if pts.len() > 1 {
                let mut ts: Vec<i64> = pts.iter().map(|p| p.0).collect();
                let mut vs: Vec<f64> = pts.iter().map(|p| p.1).collect();
                ts.sort_unstable();
                vs.sort_by(f64::total_cmp);
                *pts = vec![(ts[ts.len() / 2], vs[vs.len() / 2])];
            }
        }
    }
}

/// A histogram of response times: (bucket, count) sorted by bucket, kept as one flat
/// JSON array `[bucket, count, bucket, count, …]` (compact, and fast to read back).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hist(pub Vec<(i32, u32)>);

impl Hist {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add(&mut self, bucket: i32, n: u32) {
        match self.0.binary_search_by_key(&bucket, |e| e.0) {
            Ok(i) => self.0[i].1 += n,
            Err(i) => self.0.insert(i, (bucket, n)),
        }
    }

    pub fn merge(&mut self, o: &Hist) {
        if self.0.is_empty() {
            self.0.clone_from(&o.0);
            return;
        }
        let mut out = Vec::with_capacity(self.0.len() + o.0.len());
        let (mut a, mut b) = (self.0.iter().peekable(), o.0.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    out.push((x.0, x.1 + y.1));
                    a.next();
                    b.next();
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    out.push(**x);
                    a.next();
                }
                (Some(_), Some(y)) => {
                    out.push(**y);
                    b.next();
                }
                (Some(x), None) => {
                    out.push(**x);
                    a.next();
                }
                (None, Some(y)) => {
                    out.push(**y);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.0 = out;
    }
}

impl Serialize for Hist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len() * 2))?;
        for (k, v) in &self.0 {
            seq.serialize_element(k)?;
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Hist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let flat: Vec<i64> = Vec::deserialize(d)?;
        if flat.len() % 2 != 0 {
            return Err(serde::de::Error::custom("a histogram needs (bucket, count) pairs"));
        }
        let mut h = Hist(Vec::with_capacity(flat.len() / 2));
        for pair in flat.chunks_exact(2) {
            let (k, v) = (i32::try_from(pair[0]), u32::try_from(pair[1]));
            match (k, v) {
                (Ok(k), Ok(v)) => h.add(k, v),
                _ => return Err(serde::de::Error::custom("histogram bucket or count out of range")),
            }
        }
        Ok(h)
    }
}

/// Nearest-rank percentiles over merged histograms (one merge for all of `ps`), clamped
/// to the real min and max.
pub fn hist_percentiles<'a, const N: usize>(aggs: impl IntoIterator<Item = &'a Agg>, ps: [f64; N]) -> [Option<f64>; N] {
    let mut merged = Hist::default();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for a in aggs {
        merged.merge(&a.hist);
        if let Some(m) = a.min_ms {
            lo = lo.min(m);
        }
        if let Some(m) = a.max_ms {
            hi = hi.max(m);
        }
    }
    let total: u64 = merged.0.iter().map(|e| u64::from(e.1)).sum();
    ps.map(|p| {
        if total == 0 {
            return None;
        }
        let rank = (((p / 100.0) * total as f64).ceil().max(1.0) as u64).min(total);
        let mut seen = 0;
        merged
            .0
            .iter()
            .find(|e| {
                seen += u64::from(e.1);
                seen >= rank
            })
            .map(|e| bucket_value(e.0).clamp(lo.min(hi), hi))
    })
}

/// One nearest-rank percentile (see [`hist_percentiles`]).
pub fn hist_percentile<'a>(aggs: impl IntoIterator<Item = &'a Agg>, p: f64) -> Option<f64> {
    hist_percentiles(aggs, [p])[0]
}

/// The longest stretch one sample speaks for: twice the monitor's usual gap (the median
/// of its recent gaps), between one minute and one hour. A longer silence is unknown.
pub fn weight_cap(gaps: &[i64]) -> i64 {
    const MIN: i64 = 60_000;
    const MAX: i64 = 3_600_000;
    let mut g: Vec<i64> = gaps.iter().copied().filter(|g| *g > 0).collect();
    if g.is_empty() {
        return MAX;
    }
    g.sort_unstable();
    (2 * g[g.len() / 2]).clamp(MIN, MAX)
}

/// A monitor's latest sample, whose weight is only known when the next one arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tail {
    pub t: i64,
    pub s: Status,
    #[serde(default)]
    pub gaps: Vec<i64>,
}

impl Tail {
    pub fn cap(&self) -> i64 {
        weight_cap(&self.gaps)
    }
}

/// Failures grouped by error kind and normalized message, across monitors and runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorGroup {
    pub fingerprint: String,
    pub kind: String,
    /// The message with numbers, ids, addresses and timestamps folded: the group's key.
    pub message: String,
    /// The latest real message of the group, redacted, at most 300 characters: what a
    /// person reads. Absent in groups saved before vaktpost kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Failed checks in this group since it was first seen.
    pub count: u64,
    pub monitors: BTreeSet<String>,
}

/// Hour of the day (0–23) and day of a Unix-millisecond time.
pub fn day_hour(t: i64) -> (NaiveDate, u8) {
    let dt = DateTime::from_timestamp_millis(t).unwrap_or_default();
    (dt.date_naive(), dt.hour() as u8)
}

pub fn day_start_ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|x| x.and_utc().timestamp_millis()).unwrap_or(0)
}

/// Hourly aggregates of one day: monitor → hour → aggregate.
pub type HoursFile = BTreeMap<String, BTreeMap<u8, Agg>>;
/// Daily rollups of one month: day → monitor → aggregate.
pub type RollupFile = BTreeMap<NaiveDate, BTreeMap<String, Agg>>;

/// A map read as its entries first, then built in one go: the files are written in key
/// order, so [`BTreeMap`]'s `from_iter` builds the tree from a sorted run instead of
/// inserting entries one by one (rebalancing, moving large aggregates about) as serde's
/// own map reader does. Same JSON, same result (a repeated key: the last one wins).
pub struct SortedMap<K, V>(pub BTreeMap<K, V>);

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for SortedMap<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<K, V> {
            type Value = SortedMap<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(m.size_hint().unwrap_or(0).min(4096));
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(SortedMap(v.into_iter().collect()))
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// [`RollupFile`] as it is read.
pub type RollupRead = BTreeMap<NaiveDate, SortedMap<String, Agg>>;

/// What the figures are computed from.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Recent days, by the hour.
    pub hours: BTreeMap<NaiveDate, HoursFile>,
    /// Older days (rollups), for days without hourly aggregates.
    pub days: RollupFile,
    pub tails: BTreeMap<String, Tail>,
    pub errors: BTreeMap<String, ErrorGroup>,
    /// Days whose hourly aggregates changed (and need writing).
    pub dirty: BTreeSet<NaiveDate>,
    /// Rebuilt from raw segments on load (a store from vaktpost 0.1, or corrupt aggregates).
    pub rebuilt: bool,
    /// Identity of the tails file when loaded (every save replaces it), so a save can tell
    /// whether another run saved in between and, if not, reuse what was loaded.
    pub stamp: Option<Stamp>,
}

/// A file's identity: inode, length and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(u64, u64, Option<std::time::SystemTime>);

impl Stamp {
    pub fn of(path: &std::path::Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let ino = 0;
        Some(Stamp(ino, m.len(), m.modified().ok()))
    }
}

impl History {
    /// Folds samples in, in time order per monitor.
    pub fn add(&mut self, samples: &[Sample]) {
        let mut sorted: Vec<&Sample> = samples.iter().collect();
        sorted.sort_by_key(|s| s.t);
        for s in sorted {
            self.add_one(s);
        }
    }

    fn bucket(&mut self, m: &str, t: i64) -> &mut Agg {
        let (day, hour) = day_hour(t);
        self.dirty.insert(day);
        self.hours.entry(day).or_default().entry(m.to_string()).or_default().entry(hour).or_default()
    }

    fn add_one(&mut self, s: &Sample) {
        if s.s == Status::Skipped {
            return;
        }
        match self.tails.get(&s.m).cloned() {
            Some(mut tail) if s.t > tail.t => {
                let gap = s.t - tail.t;
                tail.gaps.push(gap);
                if tail.gaps.len() > GAPS_KEPT {
                    tail.gaps.remove(0);
                }
                let w = gap.min(tail.cap());
                let b = self.bucket(&s.m, tail.t);
                b.known_ms += w;
                if tail.s.is_up() {
                    b.up_ms += w;
                }
                tail.t = s.t;
                tail.s = s.s;
                self.tails.insert(s.m.clone(), tail);
            }
            // A late sample (an overlapping run saved after a newer one): counted, but
            // the weights are already set by its neighbours.
            Some(_) => {}
            None => {
                self.tails.insert(s.m.clone(), Tail { t: s.t, s: s.s, gaps: vec![] });
            }
        }
        self.bucket(&s.m, s.t).add_sample(s);
        if let (Some(kind), Some(msg)) = (&s.ek, &s.em) {
            let fp = crate::errgroup::fingerprint(kind, msg);
            let at = s.time();
            let g = self.errors.entry(fp.clone()).or_insert_with(|| ErrorGroup {
                fingerprint: fp,
                kind: kind.clone(),
                message: msg.clone(),
                latest: None,
                first_seen: at,
                last_seen: at,
                count: 0,
                monitors: BTreeSet::new(),
            });
            g.count += 1;
            if at >= g.last_seen || g.latest.is_none() {
                if let Some(real) = &s.er {
                    g.latest = Some(real.clone());
                }
            }
            g.first_seen = g.first_seen.min(at);
            g.last_seen = g.last_seen.max(at);
            g.monitors.insert(s.m.clone());
        }
    }

    /// Moves hourly aggregates of days before `keep_from` into daily rollups; returns the
    /// days folded.
    pub fn fold_before(&mut self, keep_from: NaiveDate) -> Vec<NaiveDate> {
        let old: Vec<NaiveDate> = self.hours.range(..keep_from).map(|(d, _)| *d).collect();
        for d in &old {
            if let Some(per) = self.hours.remove(d) {
                let day = self.days.entry(*d).or_default();
                for (m, hours) in per {
                    let a = day.entry(m).or_default();
                    for mut h in hours.into_values() {
                        h.thin_memory();
                        a.merge(&h);
                    }
                }
            }
            self.dirty.remove(d);
        }
        old
    }

    /// Forgets error groups not seen since `ERROR_GROUP_TTL_DAYS` and keeps at most
    /// `MAX_ERROR_GROUPS`, the most recently seen.
    pub fn prune_errors(&mut self, now: DateTime<Utc>) {
        let cutoff = now - chrono::Duration::days(ERROR_GROUP_TTL_DAYS);
        self.errors.retain(|_, g| g.last_seen >= cutoff);
        if self.errors.len() > MAX_ERROR_GROUPS {
            let mut v: Vec<(DateTime<Utc>, String)> =
                self.errors.values().map(|g| (g.last_seen, g.fingerprint.clone())).collect();
            v.sort();
            for (_, fp) in v.iter().take(self.errors.len() - MAX_ERROR_GROUPS) {
                self.errors.remove(fp);
            }
        }
    }

    /// Error groups seen in the last `days`, most frequent first.
    pub fn top_errors(&self, now: DateTime<Utc>, days: i64, n: usize) -> Vec<ErrorGroup> {
        let cutoff = now - chrono::Duration::days(days);
        let mut v: Vec<&ErrorGroup> = self.errors.values().filter(|g| g.last_seen >= cutoff).collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
        v.into_iter().take(n).cloned().collect()
    }

    /// Every monitor with history.
    pub fn monitors(&self) -> BTreeSet<&String> {
        let mut names: BTreeSet<&String> = self.tails.keys().collect();
        for per in self.hours.values() {
            names.extend(per.keys());
        }
        for per in self.days.values() {
            names.extend(per.keys());
        }
        names
    }

    /// One monitor's buckets, oldest first: (start ms, length ms, aggregate). A day with
    /// hourly aggregates is not also counted as a day.
    pub fn buckets(&self, m: &str) -> Vec<(i64, i64, &Agg)> {
        let mut out = Vec::new();
        for (d, per) in &self.days {
            if self.hours.contains_key(d) {
                continue;
            }
            if let Some(a) = per.get(m) {
                out.push((day_start_ms(*d), DAY_MS, a));
            }
        }
        for (d, per) in &self.hours {
            if let Some(hours) = per.get(m) {
                let start = day_start_ms(*d);
                for (h, a) in hours {
                    out.push((start + i64::from(*h) * HOUR_MS, HOUR_MS, a));
                }
            }
        }
        out.sort_by_key(|b| b.0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_from_buckets_are_within_one_percent() {
        let mut a = Agg::default();
        let vals: Vec<f64> = (1..=1000).map(|i| f64::from(i) * 0.7 + 3.0).collect();
        for v in &vals {
            a.hist.add(bucket_of(*v), 1);
        }
        a.min_ms = Some(3.7);
        a.max_ms = Some(703.0);
        for p in [50.0, 95.0, 99.0] {
            let exact = vals[((p / 100.0) * 1000.0_f64).ceil() as usize - 1];
            let est = hist_percentile([&a], p).unwrap();
            assert!((est - exact).abs() / exact < 0.01, "p{p}: {est} vs {exact}");
        }
        // A constant series is exact.
        let mut c = Agg::default();
        c.hist.add(bucket_of(120.0), 5);
        c.min_ms = Some(120.0);
        c.max_ms = Some(120.0);
        assert_eq!(hist_percentile([&c], 95.0), Some(120.0));
    }

    #[test]
    fn weight_cap_is_twice_the_usual_gap() {
        assert_eq!(weight_cap(&[300_000; 10]), 600_000);
        assert_eq!(weight_cap(&[]), 3_600_000);
        assert_eq!(weight_cap(&[1_000]), 60_000);
    }
}

#[cfg(test)]
mod error_groups {
    use super::*;

    fn failed(t: i64, real: Option<&str>) -> Sample {
        Sample {
            m: "api".into(),
            t,
            s: Status::Down,
            rt: None,
            n: 1,
            e: 1,
            ek: Some("http_status".into()),
            em: Some(crate::errgroup::normalize("HTTP 503 Service Unavailable, expected 200")),
            er: real.map(str::to_string),
            mem: BTreeMap::new(),
            lim: None,
            kh: None,
            km: None,
        }
    }

    // Regression: "Top errors" showed the normaliser's key (`HTTP # Service Unavailable,
    // expected #`) instead of an error a person could read.
    #[test]
    fn a_group_keeps_its_latest_real_message_and_the_fingerprint_as_its_key() {
        let mut h = History::default();
        h.add(&[failed(1_000, Some("HTTP 502 Bad Gateway, expected 200"))]);
        h.add(&[failed(3_000, Some("HTTP 503 Service Unavailable, expected 200")), failed(2_000, None)]);
        let g = h.errors.values().next().unwrap();
        assert_eq!(g.message, "HTTP # Service Unavailable, expected #");
        assert_eq!(g.latest.as_deref(), Some("HTTP 503 Service Unavailable, expected 200"));
        assert_eq!(g.count, 3);
    }

    #[test]
    fn an_errors_file_saved_before_the_latest_message_loads() {
        let old = r#"{"abc":{"fingerprint":"abc","kind":"timeout","message":"timed out after #ms","first_seen":"2026-03-01T00:00:00Z","last_seen":"2026-03-02T00:00:00Z","count":4,"monitors":["api"]}}"#;
        let groups: BTreeMap<String, ErrorGroup> = serde_json::from_str(old).unwrap();
        assert_eq!(groups["abc"].latest, None);
        assert_eq!(serde_json::to_string(&groups).unwrap(), old, "saved back unchanged");
    }
}
