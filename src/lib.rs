//! vaktpost: post-deployment monitoring that runs inside CI.
//!
//! One run is a straight pipeline of named stages, each a call into the module that owns
//! it: load state → plan → check → gate → trust → history → rules → alerts → report →
//! metrics, then (in [`write_outputs`]) save → push → write. Each stage takes plain data
//! and returns plain data; only the edges touch the world.

pub mod alerts;
pub mod checks;
pub mod config;
pub mod context;
pub mod errgroup;
pub mod fsutil;
pub mod github;
pub mod human;
pub mod import;
pub mod load;
pub mod markdown;
pub mod metrics;
pub mod pages;
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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use checks::CheckEnv;
use config::{Config, Loaded};
use context::RunContext;
use report::{Report, RunInfo};
use runner::Decision;

pub use report::merge::merge_reports;
pub use rules::streaks::{evaluate, evaluate_until, RULES_CUT_NOTE};
pub use runner::{Outcome, RunError, RunOptions};
pub use state::github_branch::BranchPulled;

/// Alerts get this long past the run's deadline, so a run whose checks timed out still
/// reports them; the whole run ends by the deadline plus this.
pub const ALERT_MINUTE: Duration = Duration::from_secs(60);
/// Rule evaluation stops this long past the run's deadline (the start of the alert minute).
pub const RULES_GRACE: Duration = Duration::from_secs(15);

/// Runs every due check once and evaluates the rules. Writes nothing.
pub async fn run(
    ctx: &RunContext,
    loaded: &Loaded,
    opts: &RunOptions,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Outcome, RunError> {
    let config = &loaded.config;
    let (started, t0) = (ctx.now(), std::time::Instant::now());
    // Load: the data branch into the state directory, then the state.
    let (branch, branch_notes) = pull_branch(ctx, config, opts).await;
    let (mut state, mut notes) = state::load(&opts.state_dir, started);
    let base = state.clone();
    notes.extend(branch_notes);
    notes.extend(loaded.notes.iter().cloned());
    // Plan: the rules and which monitors are due.
    let rules = rules::build(&config.rules).map_err(|e| RunError::Internal(format!("rules did not compile: {e:?}")))?;
    let decisions = runner::plan(config, &opts.selection, &state, started).map_err(RunError::Usage)?;
    let due: Vec<usize> = decisions.iter().enumerate().filter(|(_, d)| **d == Decision::Run).map(|(i, _)| i).collect();
    // Check (and confirm failures, unless the gate re-checks them itself).
    let deadline = tokio::time::Instant::now() + opts.deadline.unwrap_or(config.defaults.deadline.get());
    let env = Arc::new(CheckEnv {
        net: checks::net::Net::with_dns_server(
            checks::net::dns_server(ctx.var(checks::net::DNS_SERVER_VAR)).map_err(RunError::Usage)?,
        ),
        redactor: redact::Redactor::new(&loaded.secrets),
        waiter: ctx.waiter(Some(deadline.into_std())),
    });
    let timing = runner::Timing { confirm: opts.wait.is_none(), ..runner::Timing::from_context(ctx) };
    let mut ran = runner::run(config, &state, &due, env.clone(), deadline, &timing, progress).await;
    // Gate (`--wait`): re-check failures until healthy, inside the run's deadline.
    let mut gate = None;
    if let Some(wait) = opts.wait {
        let (g, note) = runner::gate::wait(
            config,
            &rules,
            &state,
            &due,
            &mut ran,
            &env,
            wait,
            deadline,
            opts.fail_on,
            &timing,
            progress,
        )
        .await;
        notes.push(note);
        gate = Some(g);
    }
    let mut results = runner::in_config_order(config, &decisions, ran, &state, &env, started);
    // Trust: a run whose runner lost its network says nothing about the targets; it keeps
    // every streak, alert and sample as they were (SPEC §3 "Trust before alerting").
    let inconclusive = trust::inconclusive(ctx, config, &results, opts.dry_run).await;
    // History: earlier runs plus this one's samples, as report figures and rule variables.
    let (mut hist, hist_notes) = state::history::load(&opts.state_dir, started, !opts.dry_run);
    notes.extend(hist_notes);
    let conclusive = inconclusive.is_none();
    let (figures, mut extra) = state::figures::of_run(&mut hist, &results, conclusive, &config.state, ctx.now());
    let last_status = |n: &str| state.monitors.get(n).map(|s| s.last_status);
    checks::log_files::app_variables(&config.monitors, &results, &last_status, &mut extra);
    // Rules: streaks for `for:`/`resolve_after:`, within the first part of the alert minute.
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
    // Alerts, with their own minute past the checks' deadline. A sharded run leaves them to
    // `vaktpost merge`, so a fleet never double-alerts; an inconclusive one sends nothing
    // (pending deliveries wait for the next run).
    let alert_deadline = deadline + ALERT_MINUTE;
    let alert_run = alerts::AlertRun {
        config,
        ctx,
        redactor: &env.redactor,
        checks: &results,
        dry_run: opts.dry_run,
        deadline: alert_deadline,
    };
    let sharded = opts.selection.shard.is_some();
    let mut actions = Vec::new();
    let mut changes = report::Changes::default();
    if sharded {
        notes.push("sharded run: alerts are reconciled and sent by `vaktpost merge`".into());
    } else if inconclusive.is_none() {
        let (recon, acts) = alerts::run(&alert_run, &findings, &mut state).await;
        changes = changes_of(&recon);
        actions = acts;
    }
    // A run that says nothing about the targets changes no status either.
    if inconclusive.is_none() {
        changes.status = status_changes(&base, &results);
    }
    // Report.
    let run = RunInfo {
        started_at: started,
        finished_at: ctx.now(),
        duration_ms: checks::ms(t0.elapsed()),
        shard: opts.selection.shard.map(|s| s.to_string()),
        github_run_url: ctx.run_url(),
        dry_run: opts.dry_run,
        config: loaded.file.clone(),
        fail_on: opts.fail_on.to_string(),
        gate,
        inconclusive: None,
        merged_shards: Vec::new(),
        github_rate_limit: None,
    };
    let mut report = Report::new(run, results, findings, notes);
    report.alerts = actions;
    report.changes = changes;
    if let Some(why) = inconclusive {
        report.status = report::RunStatus::Inconclusive;
        report.run.inconclusive = Some(why);
    }
    let ran: std::collections::HashSet<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    report.history =
        figures.iter().filter(|(k, _)| ran.contains(k.as_str())).map(|(k, f)| (k.clone(), f.to_json())).collect();
    report.top_errors = hist.top_errors(ctx.now(), report::TOP_ERRORS_DAYS, report::TOP_ERRORS);
    if !sharded {
        let ok = !opts.fail_on.trips(&report);
        report
            .alerts
            .extend(alerts::heartbeat::beat(ctx, config, &env.redactor, opts.dry_run, ok, alert_deadline).await);
    }
    report.run.github_rate_limit = rate_limit(ctx);
    // Metrics: the report as series, sent to the configured endpoints (each shard under
    // its own grouping key); a failed send is a note. The file is written with the outputs.
    let push = metrics::Push {
        ctx,
        config: &config.metrics,
        redactor: &env.redactor,
        dry_run: opts.dry_run,
        deadline: alert_deadline,
    };
    let metrics = metrics::push(&push, &mut report).await;
    Ok(Outcome { report, state, base, history: std::sync::Mutex::new(Some(hist)), branch, metrics })
}

/// Pulls the data branch into the state directory (`state.backend: github`); a dry run
/// leaves the branch alone.
async fn pull_branch(ctx: &RunContext, config: &Config, opts: &RunOptions) -> (Option<BranchPulled>, Vec<String>) {
    if opts.dry_run {
        return (None, vec![]);
    }
    state::github_branch::pull_for_run(ctx, &config.state, &opts.state_dir).await
}

/// `vaktpost merge`: one report from the shards' reports, and alerts reconciled once.
pub async fn merge(
    ctx: &RunContext,
    loaded: &Loaded,
    reports: Vec<Report>,
    opts: &RunOptions,
) -> Result<Outcome, RunError> {
    let mut report = merge_reports(reports).map_err(|e| RunError::Usage(e.to_string()))?;
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
        let (recon, acts) = alerts::run(&run, &report.findings, &mut state).await;
        report.alerts = acts;
        report.changes = report::Changes { status: status_changes(&base, &report.checks), ..changes_of(&recon) };
    }
    let ok = !opts.fail_on.trips(&report);
    report.alerts.extend(alerts::heartbeat::beat(ctx, &loaded.config, &redactor, opts.dry_run, ok, deadline).await);
    report.run.github_rate_limit = rate_limit(ctx).or(report.run.github_rate_limit);
    Ok(Outcome { report, state, base, history: std::sync::Mutex::new(None), branch, metrics: None })
}

/// The alerts that opened, resolved, or started or stopped flapping in this run.
fn changes_of(recon: &alerts::Reconciled) -> report::Changes {
    let one = |e: &alerts::AlertEvent| report::ChangedAlert {
        fingerprint: e.fingerprint.clone(),
        monitor: e.monitor.clone(),
        severity: e.severity,
        message: e.message.clone(),
        lasted: e.duration_text(),
        issue_url: e.issue_url.clone(),
    };
    let of = |k: alerts::EventKind| recon.notices.iter().filter(|e| e.kind == k).map(one).collect();
    report::Changes {
        opened: recon.opened.iter().map(one).collect(),
        resolved: recon.resolved.iter().map(one).collect(),
        flapping: of(alerts::EventKind::Flapping),
        settled: of(alerts::EventKind::Settled),
        status: Vec::new(),
    }
}

/// Monitors checked this run whose status differs from their previous check's (in the
/// state as it was loaded). A first check, and a skipped monitor, change nothing.
fn status_changes(base: &state::State, checks: &[checks::CheckResult]) -> Vec<report::StatusChange> {
    checks
        .iter()
        .filter(|c| c.status != checks::Status::Skipped)
        .filter_map(|c| {
            let before = base.monitors.get(&c.name)?.last_status;
            (before != c.status && before != checks::Status::Skipped).then(|| report::StatusChange {
                monitor: c.name.clone(),
                from: before,
                to: c.status,
            })
        })
        .collect()
}

/// The GitHub API rate limit the run's last GitHub answer reported.
fn rate_limit(ctx: &RunContext) -> Option<report::RateLimit> {
    ctx.github_rate().map(|(remaining, limit)| report::RateLimit { remaining, limit })
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
    /// Metrics outputs (file or endpoints) that failed: exit 3 with `--fail-on-metrics-error`.
    pub metrics_failures: usize,
}

/// Writes the report, the job summary, the step outputs and (unless dry-run) the state.
pub fn write_outputs(
    ctx: &RunContext,
    loaded: &Loaded,
    opts: &RunOptions,
    outcome: &Outcome,
) -> Result<Written, RunError> {
    // Save history, state and the data branch first, so a repair, a merge or a failure
    // they meet is in this run's report. A failed save is still exit 3 (SPEC §2), returned
    // once every output is written.
    let (notes, save_failed) = if opts.dry_run {
        (Vec::new(), None)
    } else {
        // A merged report's samples were saved by the shards' own runs.
        let history = outcome.report.run.merged_shards.is_empty().then(|| state::RunHistory {
            loaded: outcome.history.lock().ok().and_then(|mut h| h.take()),
            results: if outcome.report.status == report::RunStatus::Inconclusive {
                &[]
            } else {
                &outcome.report.checks
            },
        });
        let message = || report::branch_commit_message(&outcome.report, ctx.var("GITHUB_RUN_ID"));
        let branch = outcome.branch.as_ref().map(|p| (p, message()));
        let (base, ours) = (&outcome.base, &outcome.state);
        state::save_run(ctx, &loaded.config.state, &opts.state_dir, base, ours, history, branch)
    };
    // The metrics file, before the report, so a failure to write it is in the report.
    let metrics_file =
        opts.metrics_path.as_deref().map(|p| metrics::write_file(p, &outcome.report, outcome.metrics.as_ref()));
    // Write: the report with the saves' and the metrics file's notes, the summary, the step
    // outputs. The data branch's push is GitHub's last answer of a run: its rate limit is
    // the one the footer shows.
    let rate = rate_limit(ctx).or(outcome.report.run.github_rate_limit);
    let patched =
        (!notes.is_empty() || metrics_file.is_some() || rate != outcome.report.run.github_rate_limit).then(|| {
            let mut r = outcome.report.clone();
            r.notes.extend(notes);
            r.run.github_rate_limit = rate;
            if let Some(f) = metrics_file {
                if !f.ok {
                    r.notes.push(metrics::note(&f));
                }
                r.metrics_outputs.push(f);
            }
            r
        });
    let report = patched.as_ref().unwrap_or(&outcome.report);
    let rc = &loaded.config.report;
    let targets = report::outputs::Targets {
        report: &opts.report_path,
        summary: opts.summary_path.as_deref(),
        title: rc.title.as_deref(),
        max_rows: rc.max_summary_rows.unwrap_or(500),
    };
    let summary_paths = report::outputs::write(ctx, report, &targets)?;
    if let Some(dir) = &opts.pages_dir {
        // The site reads the state and history as just saved (this run's samples included).
        let redactor = redact::Redactor::new(&loaded.secrets);
        let paths = pages::Paths::of(&loaded.config.pages, &ctx.cwd);
        let src = pages::Sources { state_dir: &opts.state_dir, report: Some(report), now: ctx.now() };
        match pages::publish(&loaded.config, &redactor, &paths, &src, dir) {
            Ok(_) => {}
            Err(pages::PagesError::Write(e)) => return Err(e.into()),
            Err(pages::PagesError::Config(m)) => return Err(RunError::Usage(m)),
        }
    }
    let metrics_failures = report.metrics_outputs.iter().filter(|o| !o.ok).count();
    match save_failed {
        Some(e) => Err(e.into()),
        None => Ok(Written { summary_paths, metrics_failures }),
    }
}
