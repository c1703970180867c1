//! Streaks: a rule's verdicts across runs become findings. A condition must hold `for:`
//! runs before it fires and stop holding for `resolve_after:` runs before it resolves; a
//! skipped monitor carries its last findings; a flapping monitor holds its availability
//! finding open for the episode. The streaks are kept by the state store through
//! [`StreakStore`], so rules never import the store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{category_of, Finding, Rule, Verdict};
use crate::checks::{CheckResult, Status};
use crate::config::{Config, Flapping, Monitor};

/// The note of a run whose deadline passed before every rule was evaluated.
pub const RULES_CUT_NOTE: &str = "rules not evaluated: the run's deadline passed";

/// The rule whose alert a flapping episode holds open: the monitor's availability.
pub const AVAILABILITY_RULE: &str = "endpoint_down";

/// The message of a flapping monitor's availability alert. It stays the same for the
/// whole episode, so the issue is updated once when flapping starts, not on every flip.
pub fn flapping_message(name: &str, f: &Flapping) -> String {
    format!(
        "{name} is flapping: up and down {} or more times within {}",
        f.transitions,
        crate::human::format_duration(f.window.get())
    )
}

/// Consecutive outcomes of one rule on one monitor (key: the fingerprint).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RuleState {
    #[serde(default)]
    pub failing: u32,
    #[serde(default)]
    pub passing: u32,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_seen: Option<DateTime<Utc>>,
    /// The finding as it was last emitted (kept while waiting for `resolve_after`).
    #[serde(default)]
    pub finding: Option<Finding>,
}

/// What the streak engine keeps between runs and reads of each monitor's last run.
/// `state::State` implements it (the streaks are its `rules`, the rest its `monitors`).
pub trait StreakStore {
    /// The streaks by fingerprint (`monitor/rule`).
    fn streaks(&mut self) -> &mut BTreeMap<String, RuleState>;
    /// The findings of the monitor's last check, carried while it is skipped.
    fn last_findings(&self, monitor: &str) -> &[Finding];
    /// The monitor's up/down flips within the flapping window.
    fn flaps(&self, monitor: &str) -> usize;
    /// Whether the monitor's flapping episode ended in this run (the run at `now`).
    fn settled(&self, monitor: &str, now: DateTime<Utc>) -> bool;
    /// Records this run's check of the monitor and the findings it had.
    fn record(&mut self, r: &CheckResult, findings: &[Finding]);
}

/// Applies the rules to each result, tracking streaks in `state` for `for:` and
/// `resolve_after:`. Skipped monitors carry their last findings.
pub fn evaluate<S: StreakStore + ?Sized>(
    config: &Config,
    rules: &[Rule],
    results: &[CheckResult],
    state: &mut S,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    evaluate_until(config, rules, results, state, now, &BTreeMap::new(), None, &mut Vec::new())
}

/// [`evaluate`] with extra variables per monitor (the history figures: `uptime_24h`, …),
/// stopping once `deadline` has passed: the rules not evaluated keep their streaks as they
/// were, and `notes` gets [`RULES_CUT_NOTE`] with what was left out.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_until<S: StreakStore + ?Sized>(
    config: &Config,
    rules: &[Rule],
    results: &[CheckResult],
    state: &mut S,
    now: DateTime<Utc>,
    extra: &BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    deadline: Option<Instant>,
    notes: &mut Vec<String>,
) -> Vec<Finding> {
    let mut skipped = 0usize;
    let mut skipped_monitors = std::collections::BTreeSet::new();
    let none = BTreeMap::new();
    let mut out = Vec::new();
    let by_name: std::collections::HashMap<&str, &Monitor> =
        config.monitors.iter().map(|m| (m.common.name.as_str(), m)).collect();
    for r in results {
        let Some(m) = by_name.get(r.name.as_str()).copied() else { continue };
        if r.status == Status::Skipped {
            out.extend(state.last_findings(&r.name).iter().cloned().map(|mut f| {
                f.carried_over = true;
                f
            }));
            continue;
        }
        let mut vars = super::variables(m, r, extra.get(&r.name).unwrap_or(&none));
        let flaps = state.flaps(&r.name);
        vars.insert("flapping".into(), serde_json::json!(r.flapping));
        vars.insert("flaps".into(), serde_json::json!(flaps));
        let settled = state.settled(&r.name, now);
        let mut mine = Vec::new();
        for rule in rules.iter().filter(|rule| rule.applies_to(&r.name)) {
            let fp = format!("{}/{}", r.name, rule.name);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                skipped += 1;
                skipped_monitors.insert(r.name.clone());
                // What it said last run stands until a run can evaluate it again.
                if let Some(f) = state.streaks().get(&fp).filter(|rs| rs.active).and_then(|rs| rs.finding.clone()) {
                    mine.push(Finding { carried_over: true, ..f });
                }
                continue;
            }
            let rs = state.streaks().entry(fp.clone()).or_default();
            if rule.name == AVAILABILITY_RULE {
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
                        message: flapping_message(&r.name, &config.defaults.flapping),
                        fingerprint: fp.clone(),
                        carried_over: false,
                        category: None,
                        flapping: true,
                        values: BTreeMap::new(),
                    };
                    rs.finding = Some(f.clone());
                    mine.push(f);
                    continue;
                }
                if settled && r.status.is_up() {
                    // Settled while up: the episode is over and has been stable long enough.
                    state.streaks().remove(&fp);
                    continue;
                }
            }
            let verdict = rule.verdict(&vars);
            if let Verdict::Error(e) = &verdict {
                mine.push(super::errors::finding(rule, &r.name, e, rs, now));
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
                            category: category_of(&rule.name),
                            flapping: false,
                            values: rule.values(&vars),
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
            if *rs == RuleState::default() {
                state.streaks().remove(&fp);
            }
        }
        state.record(r, &mine);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckResult;
    use crate::state::State;
    use std::time::Duration;

    #[test]
    fn rules_stop_at_an_injected_deadline_and_keep_their_streaks() {
        let yaml = "monitors:\n  - name: api\n    type: http\n    url: https://api.example.com/health\nrules:\n  - name: slow_response\n    condition: response_time > 2.0\n    for: 1\n";
        let loaded = crate::load_str(yaml, "t.yml", &BTreeMap::new()).unwrap_or_else(|e| panic!("{e:?}"));
        let rules = super::super::build(&loaded.config.rules).unwrap_or_else(|e| panic!("{e:?}"));
        let mut r = CheckResult::new(&loaded.config.monitors[0], "https://api.example.com/health".into(), Utc::now());
        r.set("response_time_ms", 5000.0);
        let results = [r];
        let extra = BTreeMap::new();
        let mut state = State::default();
        let mut notes = Vec::new();
        let later = Instant::now() + Duration::from_secs(3600);
        let f =
            evaluate_until(&loaded.config, &rules, &results, &mut state, Utc::now(), &extra, Some(later), &mut notes);
        assert!(f.iter().any(|f| f.rule == "slow_response" && !f.carried_over), "{f:?}");
        assert!(notes.is_empty(), "{notes:?}");
        let streaks = state.rules.clone();
        // The deadline has passed: no rule runs, streaks stay, the active finding stands.
        let past = Instant::now();
        let f =
            evaluate_until(&loaded.config, &rules, &results, &mut state, Utc::now(), &extra, Some(past), &mut notes);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with(RULES_CUT_NOTE) && notes[0].contains("api"), "{notes:?}");
        assert_eq!(state.rules, streaks);
        assert!(f.iter().any(|f| f.rule == "slow_response" && f.carried_over), "{f:?}");
    }
}
