//! Trust before alerting (SPEC §3): a monitor that keeps changing state is flapping (one
//! alert for the episode, not one per flip), and a run whose runner lost its own network
//! is inconclusive (it changes no alert and no streak). Confirmation of single failures
//! lives in the runner, where the re-checks run.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::checks::{CheckResult, Status};
use crate::config::Config;
use crate::context::RunContext;
use crate::state::State;

// The availability rule a flapping episode holds open, and its message, are the streak
// engine's (`rules::streaks`), which applies them.
pub use crate::rules::streaks::{flapping_message, AVAILABILITY_RULE};

/// Records this run's up/down transitions per monitor and decides who is flapping.
/// Sets `flapping` on the results and keeps the episode in the monitor's state.
/// Call it once per conclusive run, before the rules.
pub fn observe_flapping(config: &Config, results: &mut [CheckResult], state: &mut State, now: DateTime<Utc>) {
    let f = config.defaults.flapping;
    let window = chrono::Duration::from_std(f.window.get()).unwrap_or(chrono::Duration::hours(1));
    let settle = chrono::Duration::from_std(f.settle.get()).unwrap_or(chrono::Duration::minutes(15));
    for r in results.iter_mut() {
        if r.status == Status::Skipped {
            // Carried over: keep marking an ongoing episode.
            r.flapping = state.monitors.get(&r.name).is_some_and(|m| m.flapping_since.is_some());
            continue;
        }
        let Some(ms) = state.monitors.get_mut(&r.name) else { continue };
        ms.settled_at = None;
        if !f.enabled {
            ms.flips.clear();
            ms.flapping_since = None;
            continue;
        }
        if ms.last_status != Status::Skipped && ms.last_status.is_up() != r.status.is_up() {
            ms.flips.push(now);
        }
        ms.flips.retain(|t| now - *t <= window);
        match ms.flapping_since {
            None if ms.flips.len() >= f.transitions as usize => ms.flapping_since = Some(now),
            Some(_) => {
                let last_flip = ms.flips.last().copied();
                if last_flip.is_none_or(|t| now - t >= settle) {
                    // Settled: start counting afresh so the old flips do not restart it.
                    ms.flapping_since = None;
                    ms.settled_at = Some(now);
                    ms.flips.clear();
                }
            }
            None => {}
        }
        r.flapping = ms.flapping_since.is_some();
    }
}

/// Why this run's failures say nothing about the targets, if they do not: the configured
/// canary failed too, or (without a canary, with GitHub alerts on) the GitHub API the run
/// talks to cannot be reached. A run where nothing failed is always conclusive, and so is
/// one where the runner's network demonstrably works: all of the user's own hosts failing
/// at once is an outage.
pub async fn inconclusive(ctx: &RunContext, config: &Config, results: &[CheckResult], dry_run: bool) -> Option<String> {
    if !results.iter().any(|r| r.status == Status::Down) {
        return None;
    }
    if let Some(canary) = &config.defaults.canary {
        if let Some(c) = results.iter().find(|r| &r.name == canary && r.status != Status::Skipped) {
            return (c.status == Status::Down).then(|| {
                let why =
                    c.error.as_ref().map(|e| format!(" ({}: {})", e.kind.as_str(), e.message)).unwrap_or_default();
                format!("the canary monitor `{canary}` failed too{why}")
            });
        }
    }
    let github = config.alerts.github.as_ref().is_some_and(|g| g.enabled);
    if !github || dry_run {
        return None;
    }
    let api = crate::alerts::github::api_url(ctx).to_string();
    match reach(ctx, &api).await {
        Ok(()) => None,
        Err(e) => Some(format!("the runner could not reach the GitHub API at {api} ({e})")),
    }
}

/// Any HTTP answer from `url` shows the network works; only a failure to connect (DNS,
/// refused, reset, timeout) counts, twice in a row, a few seconds apart.
async fn reach(ctx: &RunContext, url: &str) -> Result<(), String> {
    let client = crate::alerts::deliver::http_client();
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            (ctx.sleep)(Duration::from_secs(3)).await;
        }
        match client.get(url).timeout(Duration::from_secs(10)).send().await {
            Ok(_) => return Ok(()),
            Err(e) => {
                last = if e.is_timeout() {
                    "timed out".into()
                } else if e.is_connect() {
                    "connection failed".into()
                } else if e.is_builder() {
                    // A malformed GITHUB_API_URL says nothing about the network; the
                    // alerting step reports it.
                    return Ok(());
                } else {
                    e.to_string()
                }
            }
        }
    }
    Err(last)
}
