//! The default rules: the seed's `ALERT_RULES` (endpoint_down, high_memory,
//! slow_response) with the seed's messages, plus the rules SPEC §3 adds for other kinds.

use crate::config::{Escalation, RuleConfig, Severity};

fn rule(name: &str, condition: &str, message: &str, severity: Severity, escalate: Vec<Escalation>) -> RuleConfig {
    RuleConfig {
        name: name.into(),
        condition: Some(condition.into()),
        message: Some(message.into()),
        severity: Some(severity),
        escalate: Some(escalate),
        monitors: None,
        for_runs: None,
        resolve_after: None,
        enabled: true,
    }
}

pub fn default_rules() -> Vec<RuleConfig> {
    vec![
        rule("endpoint_down", "!up", "Endpoint {name} is down", Severity::High, vec![]),
        rule("high_memory", "percent > 90", "Memory usage is {percent}%", Severity::Medium, vec![]),
        rule("slow_response", "response_time > 2", "Response time is {response_time}s", Severity::Low, vec![]),
        rule(
            "cert_expiring",
            "days_left < warning_days",
            "Certificate for {name} expires in {days_left} days",
            Severity::Medium,
            vec![Escalation { when: "days_left < critical_days".into(), severity: Severity::High }],
        ),
        rule(
            "memory_leak_suspected",
            "memory_leak_suspected",
            "{name} memory grows {memory_slope_per_day}/day; full in ~{days_to_full} days",
            Severity::Medium,
            vec![],
        ),
        rule(
            "provider_degraded",
            "indicator != 'none'",
            "{name}: {indicator}",
            Severity::Low,
            vec![Escalation {
                when: "indicator == 'major' || indicator == 'critical'".into(),
                severity: Severity::Medium,
            }],
        ),
    ]
}
