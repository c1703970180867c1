//! Gate mode (`--wait`): a deploy pipeline waits until the monitors are healthy instead
//! of failing on the first check. Failing checks are re-run with backoff, inside the run's
//! deadline, until none trips the gate or the wait ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::Timing;
use crate::checks::{CheckEnv, CheckResult, Status};
use crate::config::Config;
use crate::report::{FailOn, Gate};
use crate::rules::{self, Rule};
use crate::state::State;

/// The gate of a run: waits until healthy or `wait` has passed (never past `deadline`),
/// updating `ran` (the results of `due`, same order) in place. Returns how it went and the
/// run's note about it.
#[allow(clippy::too_many_arguments)]
pub async fn wait(
    config: &Config,
    rules: &[Rule],
    state: &State,
    due: &[usize],
    ran: &mut [CheckResult],
    env: &Arc<CheckEnv>,
    wait: Duration,
    deadline: tokio::time::Instant,
    fail_on: FailOn,
    timing: &Timing,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> (Gate, String) {
    let until = (tokio::time::Instant::now() + wait).min(deadline);
    let g = wait_until_healthy(config, rules, state, due, ran, env, until, fail_on, timing, progress).await;
    let note = match g.healthy_after_ms {
        Some(ms) => format!(
            "gate: healthy after {} ({} attempts)",
            crate::human::format_duration(Duration::from_millis(ms as u64)),
            g.attempts
        ),
        None => format!(
            "gate: still failing after waiting {} ({} attempts){}",
            crate::human::format_duration(wait),
            g.attempts,
            if until == deadline { "; the wait was cut short by the run's deadline" } else { "" }
        ),
    };
    (g, note)
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
    timing: &Timing,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Gate {
    let t0 = std::time::Instant::now();
    let mut attempts = 1;
    let mut backoff = Duration::from_secs(1);
    loop {
        let failing: Vec<usize> =
            ran.iter().enumerate().filter(|(_, r)| trips_gate(config, rules, r, fail_on)).map(|(p, _)| p).collect();
        if failing.is_empty() {
            return Gate { attempts, healthy_after_ms: Some(crate::checks::ms(t0.elapsed())) };
        }
        if tokio::time::Instant::now() + backoff >= until {
            return Gate { attempts, healthy_after_ms: None };
        }
        (timing.sleep)(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(15));
        let idx: Vec<usize> = failing.iter().map(|&p| due[p]).collect();
        let again = super::run(config, state, &idx, env.clone(), until, timing, progress).await;
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
