//! vaktpost: post-deployment monitoring that runs inside CI.
//!
//! One run is a straight pipeline: config → plan → checks → rules → report → outputs.
//! Each stage takes plain data and returns plain data; only the edges touch the world.

pub mod alerts;
pub mod checks;
pub mod config;
pub mod context;
pub mod errgroup;
pub mod human;
pub mod load;
pub mod redact;
pub mod report;
pub mod retry;
pub mod rules;
pub mod runlog;
pub mod runner;
pub mod state;
pub mod trust;
pub mod untrusted;
pub mod values;

pub use load::{load_file, load_str};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use checks::{CheckEnv, CheckResult, Status};
use config::{Config, Loaded};
use context::RunContext;
use report::{Counts, FailOn, Report, RunInfo, Tool};
use rules::{Finding, Rule};
use runner::{Decision, Selection};
use state::{MonitorState, State};

/// Error groups in the report and the summary's "Top errors", and how recent they must be.
const TOP_ERRORS: usize = 10;
const TOP_ERRORS_DAYS: i64 = 7;
/// Alerts get this long past the run's deadline, so a run whose checks timed out still
/// reports them; the whole run ends by the deadline plus this.
pub const ALERT_MINUTE: Duration = Duration::from_secs(60);
/// Rule evaluation stops this long past the run's deadline (the start of the alert minute).
pub const RULES_GRACE: Duration = Duration::from_secs(15);
/// The note of a run whose deadline passed before every rule was evaluated.
pub const RULES_CUT_NOTE: &str = "rules not evaluated: the run's deadline passed";

/// vaktpost's own failures (exit code 3), as opposed to findings about targets.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot write {what} to {path}: {source}; check that the directory exists and is writable")]
    Write { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub report_path: PathBuf,
    /// Where to write the summary besides `$GITHUB_STEP_SUMMARY`.
    pub summary_path: Option<PathBuf>,
    pub fail_on: FailOn,
    pub selection: Selection,
    pub dry_run: bool,
    pub state_dir: PathBuf,
    /// Overrides `defaults.deadline`.
    pub deadline: Option<Duration>,
    /// Gate mode: re-run failing checks until healthy or this long has passed.
    pub wait: Option<Duration>,
}

impl RunOptions {
    pub fn new(ctx: &RunContext, config: &Config) -> Self {
        RunOptions {
            report_path: ctx.path("vaktpost-report.json"),
            summary_path: None,
            fail_on: FailOn::Level(config::Severity::High),
            selection: Selection::default(),
            dry_run: false,
            state_dir: ctx.path(config.state.path.as_deref().unwrap_or(".vaktpost")),
            deadline: None,
            wait: None,
        }
    }
}

/// What a run produced: the report and the state to save.
pub struct Outcome {
    pub report: Report,
    pub state: State,
    /// The state as loaded, which `state` was derived from: saving merges another run's
    /// changes since then instead of overwriting them.
    pub base: State,
    /// The history as loaded, with this run's samples added; `write_outputs` takes it to
    /// save without reading the store again.
    pub history: std::sync::Mutex<Option<state::agg::History>>,
    /// What was read from the data branch (`state.backend: github`), to push on top of.
    pub branch: Option<BranchPulled>,
}

/// The data branch as `run`/`merge` pulled it into the state directory, and the directory's
/// mirrored files right after, so `write_outputs` can tell this run's changes apart.
#[derive(Debug, Clone)]
pub struct BranchPulled {
    pub head: Option<state::github_branch::Head>,
    pub before: BTreeMap<String, Vec<u8>>,
}

/// Whether the config keeps the state store in a data branch.
pub fn uses_branch(config: &Config) -> bool {
    config.state.backend.as_deref() == Some("github")
}

/// Pulls the data branch into the state directory before anything reads it. A failure is
/// a note, and the run then leaves the branch alone (it never writes what it could not read).
pub async fn pull_branch(ctx: &RunContext, config: &Config, opts: &RunOptions) -> (Option<BranchPulled>, Vec<String>) {
    use state::github_branch::{snapshot, BranchStore};
    if !uses_branch(config) || opts.dry_run {
        return (None, vec![]);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let pulled = async {
        let store = BranchStore::from_context(ctx, &config.state, deadline)?;
        let head = store.pull(&opts.state_dir).await?;
        let before = snapshot(&opts.state_dir)?;
        let note =
            head.is_none().then(|| format!("state branch {} does not exist yet; this run creates it", store.branch()));
        Ok::<_, state::github_branch::BranchError>((BranchPulled { head, before }, note))
    }
    .await;
    match pulled {
        Ok((p, note)) => (Some(p), note.into_iter().collect()),
        Err(e) => (
            None,
            vec![format!(
                "state branch not read: {e}; this run used the local state only and did not write the branch"
            )],
        ),
    }
}

/// Runs every due check once and evaluates the rules. Writes nothing.
pub async fn run(
    ctx: &RunContext,
    loaded: &Loaded,
    opts: &RunOptions,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Outcome, RunError> {
    let config = &loaded.config;
    let started = ctx.now();
    let t0 = std::time::Instant::now();
    let (branch, branch_notes) = pull_branch(ctx, config, opts).await;
    let (mut state, mut notes) = state::load(&opts.state_dir, started);
    let base = state.clone();
    notes.extend(branch_notes);
    notes.extend(loaded.notes.iter().cloned());
    let rules = rules::build(&config.rules).map_err(|e| RunError::Internal(format!("rules did not compile: {e:?}")))?;
    let decisions = runner::plan(config, &opts.selection, &state, started).map_err(RunError::Usage)?;

    let due: Vec<usize> = decisions.iter().enumerate().filter(|(_, d)| **d == Decision::Run).map(|(i, _)| i).collect();
    let deadline = tokio::time::Instant::now() + opts.deadline.unwrap_or(config.defaults.deadline.get());
    let env = Arc::new(CheckEnv {
        net: checks::net::Net::with_dns_server(
            checks::net::dns_server(ctx.var(checks::net::DNS_SERVER_VAR)).map_err(RunError::Usage)?,
        ),
        redactor: redact::Redactor::new(&loaded.secrets),
        waiter: ctx.waiter(Some(deadline.into_std())),
    });
    // Gate mode re-checks failures itself until the wait ends, so it needs no confirmation.
    let timing = runner::Timing { confirm: opts.wait.is_none(), ..runner::Timing::from_context(ctx) };
    let mut ran = runner::run(config, &state, &due, env.clone(), deadline, &timing, progress).await;
    let mut gate = None;
    if let Some(wait) = opts.wait {
        // The wait lives inside the run's deadline, never past it.
        let until = (tokio::time::Instant::now() + wait).min(deadline);
        let g =
            wait_until_healthy(config, &rules, &state, &due, &mut ran, &env, until, opts.fail_on, &timing, progress)
                .await;
        notes.push(match g.healthy_after_ms {
            Some(ms) => format!(
                "gate: healthy after {} ({} attempts)",
                config::duration::format_duration(Duration::from_millis(ms as u64)),
                g.attempts
            ),
            None => format!(
                "gate: still failing after waiting {} ({} attempts){}",
                config::duration::format_duration(wait),
                g.attempts,
                if until == deadline { "; the wait was cut short by the run's deadline" } else { "" }
            ),
        });
        gate = Some(g);
    }
    let mut ran = ran.into_iter();

    let mut results: Vec<CheckResult> = Vec::new();
    for (i, d) in decisions.iter().enumerate() {
        match d {
            Decision::Run => {
                if let Some(r) = ran.next() {
                    results.push(r)
                }
            }
            Decision::Skip(last) => {
                let m = &config.monitors[i];
                let last_status = state.monitors.get(&m.common.name).map(|s| s.last_status);
                results.push(runner::skipped(m, &env, *last, started, last_status));
            }
            Decision::Exclude => {}
        }
    }
    // History: what earlier runs left plus this run's samples, for uptime, percentiles and
    // leak detection (as report figures and rule variables). Written by `write_outputs`.
    // A run whose runner lost its network says nothing about the targets: it keeps every
    // streak, alert and sample as they were (SPEC §3 "Trust before alerting").
    let inconclusive = trust::inconclusive(ctx, config, &results, opts.dry_run).await;
    let (mut hist, hist_notes) = state::history::load(&opts.state_dir, started, !opts.dry_run);
    notes.extend(hist_notes);
    if inconclusive.is_none() {
        hist.add(&state::history::samples_from(&results));
    }
    let hcfg = state::history::HistoryConfig::from_config(&config.state);
    let figures = state::figures::compute(&hist, ctx.now(), hcfg.leak_window);
    let top_errors = hist.top_errors(ctx.now(), TOP_ERRORS_DAYS, TOP_ERRORS);
    let mut extra: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
        figures.iter().map(|(k, f)| (k.clone(), f.variables())).collect();
    let last_status = |n: &str| state.monitors.get(n).map(|s| s.last_status);
    checks::log_files::app_variables(&config.monitors, &results, &last_status, &mut extra);
    // Rules get the first part of the alert minute at most (a rule can be slow; the run
    // must still end by its deadline plus the alert minute).
    let rules_deadline = Some(deadline + RULES_GRACE);
    let findings = match &inconclusive {
        None => {
            trust::observe_flapping(config, &mut results, &mut state, ctx.now());
            evaluate_until(config, &rules, &results, &mut state, ctx.now(), &extra, rules_deadline, &mut notes)
        }
        // What the rules would say, for the report only; the state is not touched.
        Some(why) => {
            notes.push(format!(
                "inconclusive run: {why}; no issue was opened or closed, nothing was sent, and every streak was kept"
            ));
            evaluate_until(config, &rules, &results, &mut state.clone(), ctx.now(), &extra, rules_deadline, &mut notes)
        }
    };
    notes.extend(rules::errors::notes(&findings));

    // Alerts get their own minute past the checks' deadline, so a run whose checks
    // timed out still reports them.
    let alert_deadline = deadline + ALERT_MINUTE;
    let alert_run = alerts::AlertRun {
        config,
        ctx,
        redactor: &env.redactor,
        checks: &results,
        dry_run: opts.dry_run,
        deadline: alert_deadline,
    };
    // A sharded run leaves alerting to `vaktpost merge`, so a fleet never double-alerts.
    let sharded = opts.selection.shard.is_some();
    let mut actions = Vec::new();
    if sharded {
        notes.push("sharded run: alerts are reconciled and sent by `vaktpost merge`".into());
    } else if inconclusive.is_some() {
        // Nothing is opened, closed or sent; pending deliveries wait for the next run.
    } else {
        let recon = alerts::reconcile(&alert_run, &findings, &mut state).await;
        actions = recon.actions.clone();
        actions.extend(alerts::deliver::deliver(&alert_run, &recon, &mut state).await);
    }

    let finished = ctx.now();
    let mut report = build_report(ctx, loaded, opts, results, findings, notes, started, finished, t0.elapsed());
    report.alerts = actions;
    report.run.gate = gate;
    if let Some(why) = inconclusive {
        report.status = report::RunStatus::Inconclusive;
        report.run.inconclusive = Some(why);
    }
    let ran: std::collections::HashSet<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    report.history =
        figures.iter().filter(|(k, _)| ran.contains(k.as_str())).map(|(k, f)| (k.clone(), f.to_json())).collect();
    report.top_errors = top_errors;
    if !sharded {
        heartbeat(ctx, config, opts, &mut report, alert_deadline, &env.redactor).await;
    }
    Ok(Outcome { report, state, base, history: std::sync::Mutex::new(Some(hist)), branch })
}

/// Gate mode: re-runs the checks that fail the gate, with backoff, until none do or
/// `until` passes. `ran` holds the results of `due` (same order) and is updated in place.
#[allow(clippy::too_many_arguments)]
async fn wait_until_healthy(
    config: &Config,
    rules: &[Rule],
    state: &State,
    due: &[usize],
    ran: &mut [CheckResult],
    env: &Arc<CheckEnv>,
    until: tokio::time::Instant,
    fail_on: FailOn,
    timing: &runner::Timing,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> report::Gate {
    let t0 = std::time::Instant::now();
    let mut attempts = 1;
    let mut backoff = Duration::from_secs(1);
    loop {
        let failing: Vec<usize> =
            ran.iter().enumerate().filter(|(_, r)| trips_gate(config, rules, r, fail_on)).map(|(p, _)| p).collect();
        if failing.is_empty() {
            return report::Gate { attempts, healthy_after_ms: Some(checks::ms(t0.elapsed())) };
        }
        if tokio::time::Instant::now() + backoff >= until {
            return report::Gate { attempts, healthy_after_ms: None };
        }
        (timing.sleep)(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(15));
        let idx: Vec<usize> = failing.iter().map(|&p| due[p]).collect();
        let again = runner::run(config, state, &idx, env.clone(), until, timing, progress).await;
        for (p, r) in failing.into_iter().zip(again) {
            ran[p] = r;
        }
        attempts += 1;
    }
}

/// Whether a result keeps the gate closed: down, or a rule at or above `--fail-on` holds.
fn trips_gate(config: &Config, rules: &[Rule], r: &CheckResult, fail_on: FailOn) -> bool {
    if r.status == Status::Down {
        return true;
    }
    let FailOn::Level(level) = fail_on else { return false };
    let Some(m) = config.monitors.iter().find(|m| m.common.name == r.name) else { return false };
    let vars = rules::variables(m, r, &BTreeMap::new());
    rules.iter().filter(|rule| rule.applies_to(&r.name)).any(|rule| rule.trips(&vars, level))
}

/// Applies the rules to each result, tracking streaks in `state` for `for:` and
/// `resolve_after:`. Skipped monitors carry their last findings.
pub fn evaluate(
    config: &Config,
    rules: &[Rule],
    results: &[CheckResult],
    state: &mut State,
    now: chrono::DateTime<Utc>,
) -> Vec<Finding> {
    evaluate_until(config, rules, results, state, now, &BTreeMap::new(), None, &mut Vec::new())
}

/// [`evaluate`] with extra variables per monitor (the history figures: `uptime_24h`, …),
/// stopping once `deadline` has passed: the rules not evaluated keep their streaks as they
/// were, and `notes` gets [`RULES_CUT_NOTE`] with what was left out.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_until(
    config: &Config,
    rules: &[Rule],
    results: &[CheckResult],
    state: &mut State,
    now: chrono::DateTime<Utc>,
    extra: &BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    deadline: Option<tokio::time::Instant>,
    notes: &mut Vec<String>,
) -> Vec<Finding> {
    let mut skipped = 0usize;
    let mut skipped_monitors = std::collections::BTreeSet::new();
    let none = BTreeMap::new();
    let mut out = Vec::new();
    let by_name: std::collections::HashMap<&str, &config::Monitor> =
        config.monitors.iter().map(|m| (m.common.name.as_str(), m)).collect();
    for r in results {
        let Some(m) = by_name.get(r.name.as_str()).copied() else { continue };
        if r.status == Status::Skipped {
            if let Some(ms) = state.monitors.get(&r.name) {
                out.extend(ms.findings.iter().cloned().map(|mut f| {
                    f.carried_over = true;
                    f
                }));
            }
            continue;
        }
        let mut vars = rules::variables(m, r, extra.get(&r.name).unwrap_or(&none));
        let flaps = state.monitors.get(&r.name).map(|ms| ms.flips.len()).unwrap_or(0);
        vars.insert("flapping".into(), serde_json::json!(r.flapping));
        vars.insert("flaps".into(), serde_json::json!(flaps));
        let settled = trust::settled_now(state.monitors.get(&r.name), now);
        let mut mine = Vec::new();
        for rule in rules.iter().filter(|rule| rule.applies_to(&r.name)) {
            let fp = format!("{}/{}", r.name, rule.name);
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                skipped += 1;
                skipped_monitors.insert(r.name.clone());
                // What it said last run stands until a run can evaluate it again.
                if let Some(f) = state.rules.get(&fp).filter(|rs| rs.active).and_then(|rs| rs.finding.clone()) {
                    mine.push(Finding { carried_over: true, ..f });
                }
                continue;
            }
            let rs = state.rules.entry(fp.clone()).or_default();
            if rule.name == trust::AVAILABILITY_RULE {
                if r.flapping {
                    // A flapping episode holds the availability alert open, with one message.
                    rs.active = true;
                    rs.passing = 0;
                    rs.first_seen.get_or_insert(now);
                    rs.last_seen = Some(now);
                    let f = Finding {
                        rule: rule.name.clone(),
                        monitor: r.name.clone(),
                        severity: rule.severity,
                        message: trust::flapping_message(&r.name, &config.defaults.flapping),
                        fingerprint: fp.clone(),
                        carried_over: false,
                        category: None,
                        flapping: true,
                    };
                    rs.finding = Some(f.clone());
                    mine.push(f);
                    continue;
                }
                if settled && r.status.is_up() {
                    // Settled while up: the episode is over and has been stable long enough.
                    state.rules.remove(&fp);
                    continue;
                }
            }
            let verdict = rule.verdict(&vars);
            if let rules::Verdict::Error(e) = &verdict {
                mine.push(rules::errors::finding(rule, &r.name, e, rs, now));
            }
            match verdict.holds() {
                None if verdict.is_error() => {}
                Some(severity) => {
                    rs.failing += 1;
                    rs.passing = 0;
                    rs.first_seen.get_or_insert(now);
                    rs.last_seen = Some(now);
                    if rs.failing >= rule.for_runs {
                        rs.active = true;
                    }
                    if rs.active {
                        let f = Finding {
                            rule: rule.name.clone(),
                            monitor: r.name.clone(),
                            severity,
                            message: rule.render(&vars),
                            fingerprint: fp.clone(),
                            carried_over: false,
                            category: rules::category_of(&rule.name),
                            flapping: false,
                        };
                        rs.finding = Some(f.clone());
                        mine.push(f);
                    }
                }
                None => {
                    rs.failing = 0;
                    if rs.active {
                        rs.passing += 1;
                        if rs.passing >= rule.resolve_after {
                            *rs = Default::default();
                        } else if let Some(f) = rs.finding.clone() {
                            mine.push(f);
                        }
                    } else {
                        *rs = Default::default();
                    }
                }
            }
            if *rs == state::RuleState::default() {
                state.rules.remove(&fp);
            }
        }
        let ms = state.monitors.entry(r.name.clone()).or_insert_with(|| MonitorState::new(r.started_at, r.status));
        ms.last_checked_at = r.started_at;
        ms.last_status = r.status;
        ms.findings = mine.clone();
        ms.data = r.carry.clone();
        out.extend(mine);
    }
    if skipped > 0 {
        let names: Vec<&str> = skipped_monitors.iter().map(String::as_str).take(10).collect();
        let more = skipped_monitors.len().saturating_sub(names.len());
        notes.push(format!(
            "{RULES_CUT_NOTE}; {skipped} rule evaluation{} left out (monitors: {}{}), their streaks kept and active findings carried over",
            if skipped == 1 { "" } else { "s" },
            names.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    ctx: &RunContext,
    loaded: &Loaded,
    opts: &RunOptions,
    checks: Vec<CheckResult>,
    findings: Vec<Finding>,
    notes: Vec<String>,
    started: chrono::DateTime<Utc>,
    finished: chrono::DateTime<Utc>,
    took: Duration,
) -> Report {
    let mut c = Counts { monitors: checks.len(), ..Default::default() };
    for r in &checks {
        match r.status {
            Status::Up => c.up += 1,
            Status::Degraded => c.degraded += 1,
            Status::Down => c.down += 1,
            Status::Skipped => c.skipped += 1,
        }
    }
    c.findings = findings.len();
    for f in &findings {
        match f.severity {
            config::Severity::High => c.high += 1,
            config::Severity::Medium => c.medium += 1,
            config::Severity::Low => c.low += 1,
        }
    }
    let status = report::RunStatus::of_counts(&c);
    Report {
        schema_version: report::SCHEMA_VERSION,
        tool: Tool { name: "vaktpost".into(), version: env!("CARGO_PKG_VERSION").into() },
        run: RunInfo {
            started_at: started,
            finished_at: finished,
            duration_ms: checks::ms(took),
            shard: opts.selection.shard.map(|s| s.to_string()),
            github_run_url: ctx.run_url(),
            dry_run: opts.dry_run,
            config: loaded.file.clone(),
            fail_on: opts.fail_on.to_string(),
            gate: None,
            inconclusive: None,
            merged_shards: Vec::new(),
        },
        status,
        counts: c,
        checks,
        findings,
        alerts: Vec::new(),
        history: BTreeMap::new(),
        top_errors: Vec::new(),
        notes,
    }
}

/// `vaktpost test-alert`: per channel, what happened or why it failed.
pub async fn test_alert(
    ctx: &RunContext,
    loaded: &Loaded,
    channel: Option<&str>,
) -> Vec<(String, Result<String, String>)> {
    let redactor = redact::Redactor::new(&loaded.secrets);
    let run = alerts::AlertRun {
        config: &loaded.config,
        ctx,
        redactor: &redactor,
        checks: &[],
        dry_run: false,
        deadline: tokio::time::Instant::now() + Duration::from_secs(120),
    };
    alerts::test_alert(&run, channel).await
}

/// Where the outputs went.
#[derive(Debug, Default)]
pub struct Written {
    pub summary_paths: Vec<PathBuf>,
}

/// Writes the report, the job summary, the step outputs and (unless dry-run) the state.
pub fn write_outputs(
    ctx: &RunContext,
    loaded: &Loaded,
    opts: &RunOptions,
    outcome: &Outcome,
) -> Result<Written, RunError> {
    // History and state first, so a repair, a merge or a failure they meet is in this run's
    // report. A failed save is still exit 3 (SPEC §2), returned once every output is written.
    let mut notes = Vec::new();
    let mut save_failed: Option<RunError> = None;
    // A merged report's samples were saved by the shards' own runs.
    if !opts.dry_run && outcome.report.run.merged_shards.is_empty() {
        let cfg = state::history::HistoryConfig::from_config(&loaded.config.state);
        let samples = if outcome.report.status == report::RunStatus::Inconclusive {
            Vec::new()
        } else {
            state::history::samples_from(&outcome.report.checks)
        };
        let loaded_history = outcome.history.lock().ok().and_then(|mut h| h.take());
        match state::history::save_loaded(&opts.state_dir, ctx.now(), &cfg, &samples, loaded_history) {
            Ok(n) => notes.extend(n),
            Err(source) => {
                let path = state::history::history_dir(&opts.state_dir);
                notes.push(format!("history not saved this run: {source} ({}); the run exits 3", path.display()));
                save_failed = Some(RunError::Write { what: "the history", path, source });
            }
        }
    }
    if !opts.dry_run {
        match save_state(opts, &outcome.base, &outcome.state) {
            Ok(n) => {
                notes.extend(n);
                // The data branch gets the saved state before the report is written, so how
                // the push went is in the report.
                if let Some(pulled) = &outcome.branch {
                    notes.extend(push_branch(ctx, loaded, opts, pulled, &outcome.report));
                }
            }
            Err(e) => {
                notes.push(format!("state not saved this run: {e}; the run exits 3"));
                if outcome.branch.is_some() {
                    notes.push("state branch not written: the local state could not be saved".into());
                }
                save_failed.get_or_insert(e);
            }
        }
    }
    let patched = (!notes.is_empty()).then(|| {
        let mut r = outcome.report.clone();
        r.notes.extend(notes);
        r
    });
    let report = patched.as_ref().unwrap_or(&outcome.report);
    let rp = &opts.report_path;
    report::write_atomic_with(rp, |w| report::write_json(w, report)).map_err(|source| RunError::Write {
        what: "the report",
        path: rp.clone(),
        source,
    })?;

    let rc = &loaded.config.report;
    let md = report::summary::render(report, rc.title.as_deref(), rc.max_summary_rows.unwrap_or(500));
    let mut written = Written::default();
    let mut targets: Vec<(PathBuf, bool)> = Vec::new();
    if let Some(p) = ctx.var("GITHUB_STEP_SUMMARY") {
        targets.push((PathBuf::from(p), true));
    }
    if let Some(p) = &opts.summary_path {
        targets.push((p.clone(), false));
    }
    for (p, append) in targets {
        let res = if append { append_file(&p, md.as_bytes()) } else { report::write_atomic(&p, md.as_bytes()) };
        res.map_err(|source| RunError::Write { what: "the job summary", path: p.clone(), source })?;
        written.summary_paths.push(p);
    }
    if let Some(p) = ctx.var("GITHUB_OUTPUT") {
        // Inside a Docker action the workspace is mounted at another path than later steps
        // see; a path relative to the workspace works for both.
        let shown = |p: &std::path::Path| match ctx.var("GITHUB_WORKSPACE").and_then(|w| p.strip_prefix(w).ok()) {
            Some(rel) => rel.display().to_string(),
            None => p.display().to_string(),
        };
        let sp = opts.summary_path.as_deref().or(written.summary_paths.first().map(|p| p.as_path())).map(shown);
        let text = report::actions::outputs(report, &shown(rp), sp.as_deref());
        append_file(std::path::Path::new(p), text.as_bytes()).map_err(|source| RunError::Write {
            what: "step outputs",
            path: PathBuf::from(p),
            source,
        })?;
    }
    match save_failed {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

fn save_state(opts: &RunOptions, base: &State, st: &State) -> Result<Vec<String>, RunError> {
    state::save_merged(&opts.state_dir, base, st, state::LOCK_TIMEOUT).map_err(|source| RunError::Write {
        what: "the state",
        path: opts.state_dir.join(state::STATE_FILE),
        source,
    })
}

/// Pushes the state directory to the data branch as one commit, re-applying this run's
/// changes on top of a concurrent writer's. Returns notes for the report; a failure never
/// fails the run (the state is saved locally either way).
fn push_branch(
    ctx: &RunContext,
    loaded: &Loaded,
    opts: &RunOptions,
    pulled: &BranchPulled,
    report: &Report,
) -> Vec<String> {
    use state::github_branch::{snapshot, BranchStore, Changes, PushOutcome};
    let dir = opts.state_dir.as_path();
    let after = match snapshot(dir) {
        Ok(a) => a,
        Err(e) => return vec![format!("state branch not written: {e}")],
    };
    // state.json merges key by key with another writer's (monitors, rules, alerts), so
    // shards and overlapping runs keep each other's data; history aggregates merge by
    // monitor and hour (or day). Two writers that both added a sample to the same
    // monitor's same hour keep this run's aggregate: one sample of uptime, not a loss of
    // state, and only when two runs write one branch at the same moment.
    let changes = Changes::new(pulled.before.clone(), after);
    let c = &report.counts;
    let message = format!(
        "vaktpost state after run {} at {}\n\n{} monitors: {} up, {} degraded, {} down, {} skipped",
        ctx.var("GITHUB_RUN_ID").unwrap_or("(local)"),
        report.run.finished_at.format("%Y-%m-%dT%H:%M:%SZ"),
        c.monitors,
        c.up,
        c.degraded,
        c.down,
        c.skipped
    );
    let res = block_on_own_runtime(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let store = BranchStore::from_context(ctx, &loaded.config.state, deadline)?;
        let synced = store.sync(dir, pulled.head.clone(), &message, |d| changes.reapply(d)).await?;
        Ok::<_, state::github_branch::BranchError>((store.branch().to_string(), synced))
    });
    match res {
        Ok(Ok((branch, s))) => match s.outcome {
            PushOutcome::Committed { commit, created_branch, .. } if created_branch => {
                vec![format!("state branch {branch} created at {}", short(&commit))]
            }
            PushOutcome::Committed { commit, .. } if s.attempts > 1 => vec![format!(
                "state branch {branch}: another run wrote it meanwhile; merged and committed {} after {} attempts",
                short(&commit),
                s.attempts
            )],
            _ => vec![],
        },
        Ok(Err(e)) => vec![format!("state branch not written: {e}")],
        Err(e) => vec![format!("state branch not written: {e}")],
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Runs a future to completion on a runtime of its own, on a thread of its own:
/// `write_outputs` is synchronous and is called both outside a runtime (the binary) and
/// inside one (tests, embedders), where blocking the current runtime would panic.
fn block_on_own_runtime<F: std::future::Future + Send>(f: F) -> Result<F::Output, String>
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            Ok(rt.block_on(f))
        })
        .join()
        .map_err(|_| "the state branch writer panicked".to_string())?
    })
}

fn append_file(p: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
    f.write_all(bytes)
}

/// Combines shard reports into one: checks in the order given (a monitor reported twice
/// keeps its first result), findings de-duplicated by fingerprint, counts and status
/// recomputed.
pub fn merge_reports(reports: Vec<Report>) -> Result<Report, RunError> {
    let mut it = reports.into_iter();
    let mut out = it.next().ok_or_else(|| RunError::Usage("merge needs at least one report".into()))?;
    let mut shards: Vec<String> = out.run.shard.iter().cloned().collect();
    let mut names: std::collections::HashSet<String> = out.checks.iter().map(|c| c.name.clone()).collect();
    let mut fps: std::collections::HashSet<String> = out.findings.iter().map(|f| f.fingerprint.clone()).collect();
    // One shard whose runner lost its network makes the whole run inconclusive.
    let mut inconclusive = out.run.inconclusive.clone();
    for r in it {
        if inconclusive.is_none() {
            inconclusive = r.run.inconclusive.clone();
        }
        if r.schema_version != out.schema_version {
            return Err(RunError::Usage(format!(
                "cannot merge report schema_version {} with {}; use reports from the same vaktpost version",
                r.schema_version, out.schema_version
            )));
        }
        shards.extend(r.run.shard.iter().cloned());
        out.run.started_at = out.run.started_at.min(r.run.started_at);
        out.run.finished_at = out.run.finished_at.max(r.run.finished_at);
        out.checks.extend(r.checks.into_iter().filter(|c| names.insert(c.name.clone())));
        out.findings.extend(r.findings.into_iter().filter(|f| fps.insert(f.fingerprint.clone())));
        out.notes.extend(r.notes.into_iter().filter(|n| !n.starts_with("sharded run:")));
        out.history.extend(r.history);
        for g in r.top_errors {
            match out.top_errors.iter_mut().find(|x| x.fingerprint == g.fingerprint) {
                Some(x) => {
                    x.count += g.count;
                    x.first_seen = x.first_seen.min(g.first_seen);
                    x.last_seen = x.last_seen.max(g.last_seen);
                    x.monitors.extend(g.monitors);
                }
                None => out.top_errors.push(g),
            }
        }
    }
    out.top_errors.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    out.top_errors.truncate(TOP_ERRORS);
    out.notes.retain(|n| !n.starts_with("sharded run:"));
    out.run.duration_ms = checks::ms((out.run.finished_at - out.run.started_at).to_std().unwrap_or_default());
    out.run.shard = None;
    out.run.merged_shards = shards;
    let mut c = Counts { monitors: out.checks.len(), findings: out.findings.len(), ..Default::default() };
    for r in &out.checks {
        match r.status {
            Status::Up => c.up += 1,
            Status::Degraded => c.degraded += 1,
            Status::Down => c.down += 1,
            Status::Skipped => c.skipped += 1,
        }
    }
    for f in &out.findings {
        match f.severity {
            config::Severity::High => c.high += 1,
            config::Severity::Medium => c.medium += 1,
            config::Severity::Low => c.low += 1,
        }
    }
    out.status = report::RunStatus::of_counts(&c);
    if let Some(why) = &inconclusive {
        out.status = report::RunStatus::Inconclusive;
        out.run.inconclusive = Some(why.clone());
    }
    out.counts = c;
    out.alerts.clear();
    Ok(out)
}

/// `vaktpost merge`: one report from the shards' reports, and alerts reconciled once.
pub async fn merge(
    ctx: &RunContext,
    loaded: &Loaded,
    reports: Vec<Report>,
    opts: &RunOptions,
) -> Result<Outcome, RunError> {
    let mut report = merge_reports(reports)?;
    report.run.dry_run = opts.dry_run;
    report.run.fail_on = opts.fail_on.to_string();
    report.run.github_run_url = ctx.run_url().or(report.run.github_run_url);
    let (branch, branch_notes) = pull_branch(ctx, &loaded.config, opts).await;
    let (mut state, notes) = state::load(&opts.state_dir, ctx.now());
    let base = state.clone();
    report.notes.extend(notes);
    report.notes.extend(branch_notes);
    let redactor = redact::Redactor::new(&loaded.secrets);
    let deadline = tokio::time::Instant::now() + opts.deadline.unwrap_or(loaded.config.defaults.deadline.get());
    let run = alerts::AlertRun {
        config: &loaded.config,
        ctx,
        redactor: &redactor,
        checks: &report.checks,
        dry_run: opts.dry_run,
        deadline,
    };
    if report.status != report::RunStatus::Inconclusive {
        let recon = alerts::reconcile(&run, &report.findings, &mut state).await;
        let mut actions = recon.actions.clone();
        actions.extend(alerts::deliver::deliver(&run, &recon, &mut state).await);
        report.alerts = actions;
    }
    heartbeat(ctx, &loaded.config, opts, &mut report, deadline, &redactor).await;
    Ok(Outcome { report, state, base, history: std::sync::Mutex::new(None), branch })
}

/// Dead man's switch: a ping after every (non-dry) run, `/fail` when the gate trips.
async fn heartbeat(
    ctx: &RunContext,
    config: &Config,
    opts: &RunOptions,
    report: &mut Report,
    deadline: tokio::time::Instant,
    redactor: &redact::Redactor,
) {
    let (Some(h), false) = (&config.alerts.heartbeat, opts.dry_run) else { return };
    let ok = !opts.fail_on.trips(report);
    let waiter = ctx.waiter(Some(deadline.into_std()));
    let res = alerts::heartbeat::ping(&alerts::deliver::http_client(), &h.url, ok, &waiter).await;
    report.alerts.push(report::AlertAction {
        fingerprint: "*".into(),
        channel: "heartbeat".into(),
        action: if res.is_ok() { report::Action::Updated } else { report::Action::Failed },
        issue_number: None,
        url: None,
        error: res.err().map(|e| redactor.redact_text(&e)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_stop_at_an_injected_deadline_and_keep_their_streaks() {
        let yaml = "monitors:\n  - name: api\n    type: http\n    url: https://api.example.com/health\nrules:\n  - name: slow_response\n    condition: response_time > 2.0\n    for: 1\n";
        let loaded = crate::load_str(yaml, "t.yml", &BTreeMap::new()).unwrap_or_else(|e| panic!("{e:?}"));
        let rules = rules::build(&loaded.config.rules).unwrap_or_else(|e| panic!("{e:?}"));
        let mut r = CheckResult::new(&loaded.config.monitors[0], "https://api.example.com/health".into(), Utc::now());
        r.set("response_time_ms", 5000.0);
        let results = [r];
        let extra = BTreeMap::new();
        let mut state = State::default();
        let mut notes = Vec::new();
        let later = tokio::time::Instant::now() + Duration::from_secs(3600);
        let f =
            evaluate_until(&loaded.config, &rules, &results, &mut state, Utc::now(), &extra, Some(later), &mut notes);
        assert!(f.iter().any(|f| f.rule == "slow_response" && !f.carried_over), "{f:?}");
        assert!(notes.is_empty(), "{notes:?}");
        let streaks = state.rules.clone();
        // The deadline has passed: no rule runs, streaks stay, the active finding stands.
        let past = tokio::time::Instant::now();
        let f =
            evaluate_until(&loaded.config, &rules, &results, &mut state, Utc::now(), &extra, Some(past), &mut notes);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with(RULES_CUT_NOTE) && notes[0].contains("api"), "{notes:?}");
        assert_eq!(state.rules, streaks);
        assert!(f.iter().any(|f| f.rule == "slow_response" && f.carried_over), "{f:?}");
    }
}
