//! Which monitors run (`--only`, `--shard`, `interval`), and running them: bounded
//! concurrency overall and per host:port, one deadline for the whole run, results back
//! in config order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use globset::{Glob, GlobSetBuilder};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::checks::{self, CheckEnv, CheckError, CheckResult, Confirmation, Effective, ErrorKind, Status};
use crate::config::{Config, Confirm, Monitor, MonitorKind};
use crate::state::State;

pub mod gate;

/// `K/N`: this process runs shard K (1-based) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("invalid shard {s:?}; write K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.trim().split_once('/').ok_or_else(err)?;
        let (index, total): (u32, u32) = (k.trim().parse().map_err(|_| err())?, n.trim().parse().map_err(|_| err())?);
        if index == 0 || total == 0 || index > total {
            return Err(err());
        }
        Ok(Shard { index, total })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl Shard {
    /// Stable by name: the same monitor lands in the same shard on every run and machine.
    pub fn owns(&self, name: &str) -> bool {
        let h = Sha256::digest(name.as_bytes());
        let n = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        (n % self.total as u64) as u32 == self.index - 1
    }
}

#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub only: Vec<String>,
    pub shard: Option<Shard>,
}

/// What this run does with each monitor, by config index.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Run,
    /// Checked recently enough: skipped, with when it last ran.
    Skip(DateTime<Utc>),
    /// Not selected (`--only`, `--shard`, `enabled: false`): absent from the report.
    Exclude,
}

/// Decides per monitor. `--only` takes names or globs.
pub fn plan(config: &Config, sel: &Selection, state: &State, now: DateTime<Utc>) -> Result<Vec<Decision>, String> {
    let only = if sel.only.is_empty() {
        None
    } else {
        let mut b = GlobSetBuilder::new();
        for o in &sel.only {
            b.add(Glob::new(o).map_err(|e| format!("--only {o:?}: {e}"))?);
        }
        Some(b.build().map_err(|e| e.to_string())?)
    };
    if let Some(set) = &only {
        for o in &sel.only {
            let g = Glob::new(o).map_err(|e| e.to_string())?.compile_matcher();
            if !config.monitors.iter().any(|m| g.is_match(&m.common.name)) {
                return Err(format!("--only {o:?} matches no monitor in the config"));
            }
        }
        let _ = set;
    }
    Ok(config
        .monitors
        .iter()
        .map(|m| {
            let name = &m.common.name;
            if !m.common.enabled
                || only.as_ref().is_some_and(|s| !s.is_match(name))
                || sel.shard.is_some_and(|s| !s.owns(name))
            {
                return Decision::Exclude;
            }
            let interval = m.common.interval.or(config.defaults.interval).map(|d| d.get()).unwrap_or_default();
            // Explicitly selected monitors always run.
            if interval.is_zero() || !sel.only.is_empty() {
                return Decision::Run;
            }
            match state.monitors.get(name) {
                Some(ms) if is_fresh(ms.last_checked_at, interval, now) => Decision::Skip(ms.last_checked_at),
                _ => Decision::Run,
            }
        })
        .collect())
}

/// Cron runs drift by seconds to minutes, so a monitor is due a little early:
/// 10% of its interval, at most one minute.
fn is_fresh(last: DateTime<Utc>, interval: Duration, now: DateTime<Utc>) -> bool {
    let slack = (interval / 10).min(Duration::from_secs(60));
    let elapsed = (now - last).to_std().unwrap_or_default();
    elapsed + slack < interval
}

pub fn effective(config: &Config, m: &Monitor) -> Effective {
    let d = &config.defaults;
    let samples = match &m.kind {
        MonitorKind::Http(h) => h.samples.unwrap_or(d.samples),
        _ => 1,
    };
    Effective {
        timeout: m.common.timeout.unwrap_or(d.timeout).get(),
        retries: m.common.retries.unwrap_or(d.retries),
        samples,
        prev: None,
    }
}

fn host_key(m: &Monitor) -> String {
    m.kind.host_key().unwrap_or_else(|| m.kind.type_name().to_string())
}

/// How the runner tells time and waits, from the [`crate::context::RunContext`].
#[derive(Clone)]
pub struct Timing {
    pub now: crate::context::Clock,
    pub sleep: crate::context::Sleep,
    /// In-run confirmation of failures; gate mode turns it off (its own re-checks confirm).
    pub confirm: bool,
}

impl Timing {
    pub fn from_context(ctx: &crate::context::RunContext) -> Self {
        Timing { now: ctx.clock.clone(), sleep: ctx.sleep.clone(), confirm: true }
    }
}

/// The confirmation a monitor gets: its own `confirm`, else `defaults.confirm`; off for
/// kinds whose failures a re-check cannot change (local files and memory, bad config).
pub fn confirm_of(config: &Config, m: &Monitor) -> Confirm {
    if !m.kind.confirms() {
        return Confirm::OFF;
    }
    m.common.confirm.unwrap_or(config.defaults.confirm)
}

fn worth_confirming(r: &CheckResult) -> bool {
    r.status == Status::Down && r.error.as_ref().is_none_or(|e| e.kind != ErrorKind::Config)
}

/// Runs the monitors at `indices` and returns their results in the same order.
/// `progress` is called after each result with (done, total).
///
/// A check that fails is re-checked after a pause (growing) up to `confirm.attempts`
/// times before its result counts: the first passing re-check is the result (a blip), or
/// the last failure is (confirmed). Re-checks run concurrently with the other monitors
/// and never past the run's deadline.
pub async fn run(
    config: &Config,
    state: &State,
    indices: &[usize],
    env: Arc<CheckEnv>,
    deadline: Instant,
    timing: &Timing,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Vec<CheckResult> {
    let per_host = config.defaults.per_host_concurrency.max(1);
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let jobs: Vec<(usize, &Monitor, Arc<Semaphore>)> = indices
        .iter()
        .map(|&i| {
            let m = &config.monitors[i];
            let sem = hosts.entry(host_key(m)).or_insert_with(|| Arc::new(Semaphore::new(per_host))).clone();
            (i, m, sem)
        })
        .collect();
    let total = jobs.len();
    let mut done = 0;
    let now = &*timing.now;
    let mut stream = futures::stream::iter(jobs.into_iter().enumerate().map(|(pos, (_, m, sem))| {
        let env = env.clone();
        let mut eff = effective(config, m);
        eff.prev = state.monitors.get(&m.common.name).and_then(|s| s.data.clone());
        let confirm = if timing.confirm { confirm_of(config, m) } else { Confirm::OFF };
        async move {
            let (sem, eff, env) = (&sem, &eff, &env);
            let once = move || async move {
                let started = now();
                let work = async {
                    let _permit = sem.acquire().await;
                    checks::run_check(m, eff, env, now()).await
                };
                match tokio::time::timeout_at(deadline, work).await {
                    Ok(r) => (r, false),
                    Err(_) => {
                        let mut r = CheckResult::new(m, checks::target_of(m, &env.redactor), started).fail(
                            CheckError::new(ErrorKind::Timeout, "the run's deadline passed before this check finished"),
                        );
                        r.duration_ms = checks::ms((now() - started).to_std().unwrap_or_default());
                        (r, true)
                    }
                }
            };
            let (mut r, past_deadline) = once().await;
            if confirm.is_on() && !past_deadline && worth_confirming(&r) {
                let started_at = r.started_at;
                let first_error =
                    r.error.clone().unwrap_or_else(|| CheckError::new(ErrorKind::Protocol, "check failed"));
                let mut c = Confirmation { attempts: 1, first_error, recovered: false, cut_short: None };
                let mut pause = confirm.pause.get();
                while c.attempts <= confirm.attempts && worth_confirming(&r) {
                    // A re-check needs its pause and one timeout before the deadline.
                    if Instant::now() + pause + eff.timeout >= deadline {
                        c.cut_short = Some("the run's deadline was too near for another re-check".into());
                        break;
                    }
                    (timing.sleep)(pause).await;
                    pause = pause.saturating_mul(2);
                    c.attempts += 1;
                    let (again, past) = once().await;
                    r = again;
                    if past {
                        break;
                    }
                }
                c.recovered = r.status != Status::Down;
                r.started_at = started_at;
                r.confirm = Some(c);
            }
            (pos, r)
        }
    }))
    .buffer_unordered(config.defaults.concurrency.max(1));
    let mut out: Vec<Option<CheckResult>> = vec![None; total];
    while let Some((pos, r)) = stream.next().await {
        out[pos] = Some(r);
        done += 1;
        progress(done, total);
    }
    out.into_iter().flatten().collect()
}

/// Every selected monitor's result in config order: `ran` (the results of the due ones,
/// in plan order) and a skipped result for each one not due yet.
pub fn in_config_order(
    config: &Config,
    decisions: &[Decision],
    ran: Vec<CheckResult>,
    state: &State,
    env: &CheckEnv,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    let mut ran = ran.into_iter();
    let mut results = Vec::new();
    for (i, d) in decisions.iter().enumerate() {
        match d {
            Decision::Run => results.extend(ran.next()),
            Decision::Skip(last) => {
                let m = &config.monitors[i];
                let last_status = state.monitors.get(&m.common.name).map(|s| s.last_status);
                results.push(skipped(m, env, *last, now, last_status));
            }
            Decision::Exclude => {}
        }
    }
    results
}

/// A result for a monitor that was not due this run.
pub fn skipped(
    m: &Monitor,
    env: &CheckEnv,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    last_status: Option<Status>,
) -> CheckResult {
    let mut r = CheckResult::new(m, checks::target_of(m, &env.redactor), now);
    r.status = Status::Skipped;
    r.last_checked_at = Some(last);
    r.message = Some(match last_status {
        Some(s) => {
            format!("not due yet (interval); last result {} at {}", s.as_str(), last.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        None => format!("not due yet (interval); last checked at {}", last.format("%Y-%m-%d %H:%M:%S UTC")),
    });
    r
}

// ---------------------------------------------------------------- the run's options and outcome

/// vaktpost's own failures (exit code 3), as opposed to findings about targets.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Write(#[from] crate::fsutil::WriteError),
    #[error("{0}")]
    Usage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub report_path: std::path::PathBuf,
    /// Where to write the summary besides `$GITHUB_STEP_SUMMARY`.
    pub summary_path: Option<std::path::PathBuf>,
    pub fail_on: crate::report::FailOn,
    pub selection: Selection,
    pub dry_run: bool,
    pub state_dir: std::path::PathBuf,
    /// Overrides `defaults.deadline`.
    pub deadline: Option<Duration>,
    /// Gate mode: re-run failing checks until healthy or this long has passed.
    pub wait: Option<Duration>,
    /// The metrics text file (`--metrics`, else `metrics.file`).
    pub metrics_path: Option<std::path::PathBuf>,
    /// Also render the status site here after the outputs (`run --pages DIR`).
    pub pages_dir: Option<std::path::PathBuf>,
}

impl RunOptions {
    pub fn new(ctx: &crate::context::RunContext, config: &crate::config::Config) -> Self {
        RunOptions {
            report_path: ctx.path("vaktpost-report.json"),
            summary_path: None,
            fail_on: crate::report::FailOn::Level(crate::config::Severity::High),
            selection: Selection::default(),
            dry_run: false,
            state_dir: ctx.path(config.state.path.as_deref().unwrap_or(".vaktpost")),
            deadline: None,
            wait: None,
            metrics_path: config.metrics.file.as_deref().map(|f| ctx.path(f)),
            pages_dir: None,
        }
    }
}

/// What a run produced: the report and the state to save.
pub struct Outcome {
    pub report: crate::report::Report,
    pub state: crate::state::State,
    /// The state as loaded, which `state` was derived from: saving merges another run's
    /// changes since then instead of overwriting them.
    pub base: crate::state::State,
    /// The history as loaded, with this run's samples added; `write_outputs` takes it to
    /// save without reading the store again.
    pub history: std::sync::Mutex<Option<crate::state::agg::History>>,
    /// What was read from the data branch (`state.backend: github`), to push on top of.
    pub branch: Option<crate::state::github_branch::BranchPulled>,
    /// The run's metrics model, when the endpoints were sent it: the metrics file reuses it.
    pub metrics: Option<crate::metrics::Model>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_names_stably() {
        let names: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        let shards: Vec<Shard> = (1..=4).map(|k| Shard { index: k, total: 4 }).collect();
        for n in &names {
            assert_eq!(shards.iter().filter(|s| s.owns(n)).count(), 1, "{n}");
        }
        let first: usize = names.iter().filter(|n| shards[0].owns(n)).count();
        assert!(first > 20 && first < 80, "uneven split: {first}");
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert_eq!("2/3".parse::<Shard>().unwrap(), Shard { index: 2, total: 3 });
    }

    #[test]
    fn interval_allows_cron_drift() {
        let now = Utc::now();
        let hour = Duration::from_secs(3600);
        assert!(is_fresh(now - chrono::Duration::minutes(30), hour, now));
        assert!(!is_fresh(now - chrono::Duration::seconds(3590), hour, now));
        assert!(!is_fresh(now - chrono::Duration::hours(2), hour, now));
    }
}
