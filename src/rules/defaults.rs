//! The default rules: the seed's `ALERT_RULES` (endpoint_down, high_memory,
//! slow_response) with the seed's messages, the other rules that apply to any kind with
//! the variables they name, then each kind's own (`Kind::DEFAULT_RULES`, beside the kind
//! in `src/checks/`), in the order of the kinds list.

use crate::checks::kinds::{DefaultRule, DEFAULT_RULES};
use crate::config::{Escalation, RuleConfig, Severity};

/// The rules that are not one kind's. `endpoint_down` needs no `for:` because a failing
/// check is already confirmed within the run; it waits for two passing runs to close, so
/// one lucky request during an outage does not close and reopen the issue. Latency and
/// memory are noisy figures and need consecutive bad runs (see [`DefaultRule`]).
const GENERAL: &[DefaultRule] = &[
    DefaultRule {
        resolve_after: 2,
        ..DefaultRule::once("endpoint_down", "!up", "Endpoint {name} is down", Severity::High)
    },
    DefaultRule {
        for_runs: 2,
        resolve_after: 2,
        ..DefaultRule::once("high_memory", "percent > 90", "Memory usage is {percent}%", Severity::Medium)
    },
    DefaultRule {
        for_runs: 3,
        resolve_after: 2,
        ..DefaultRule::once("slow_response", "response_time > 2", "Response time is {response_time}s", Severity::Low)
    },
    // From the history's memory trend of any monitor with a memory series.
    DefaultRule {
        resolve_after: 2,
        ..DefaultRule::once(
            "memory_leak_suspected",
            "memory_leak_suspected",
            "{name} memory grows {memory_slope_per_day}/day; full in ~{days_to_full} days",
            Severity::Medium,
        )
    },
    // `redis`, `system` and `chroma` monitors: the threshold is the monitor's own
    // `max_memory_percent`; without it the rule does not apply.
    DefaultRule {
        for_runs: 2,
        resolve_after: 2,
        ..DefaultRule::once(
            "memory_over_limit",
            "percent > max_memory_percent",
            "Memory usage of {name} is {percent}%, over its max_memory_percent of {max_memory_percent}%",
            Severity::Medium,
        )
    },
];

/// Every default rule as the config would write it: the general ones, then each kind's.
pub fn default_rules() -> Vec<RuleConfig> {
    GENERAL.iter().chain(DEFAULT_RULES.iter().flat_map(|k| k.iter())).map(to_config).collect()
}

fn to_config(d: &DefaultRule) -> RuleConfig {
    RuleConfig {
        name: d.name.into(),
        condition: Some(d.condition.into()),
        message: Some(d.message.into()),
        severity: Some(d.severity),
        escalate: Some(
            d.escalate
                .iter()
                .map(|(when, severity)| Escalation { when: (*when).into(), severity: *severity })
                .collect(),
        ),
        monitors: None,
        for_runs: Some(d.for_runs),
        resolve_after: Some(d.resolve_after),
        enabled: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A default rule's name is unique across the general list and every kind's, so a
    /// config's `rules:` entry of that name overrides exactly one rule.
    #[test]
    fn default_rule_names_are_unique() {
        let rules = default_rules();
        let mut names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "a default rule name is repeated");
        assert!(n >= 28, "{n}");
    }
}
