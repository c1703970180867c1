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

/// A security-event rule: it holds when the check reported a violation of this name,
/// whose message is the variable of the same name.
fn security(name: &str, severity: Severity) -> RuleConfig {
    rule(name, &format!("'{name}' in security_rules"), &format!("{{name}}: {{{name}}}"), severity, vec![])
}

/// `for:` and `resolve_after:` of each default rule (runs), chosen so that a one-off
/// failure never alerts while a real problem opens on its first or second run and closes on
/// the first or second run after it ends. `endpoint_down` needs no `for:` because a failing
/// check is already confirmed within the run; it waits for two passing runs to close, so
/// one lucky request during an outage does not close and reopen the issue. Threshold rules
/// on noisy figures (latency, memory, hit rate) need consecutive bad runs. Rules on facts
/// that do not blip (certificate dates, a provider's own status page, deployment status,
/// per-run log and eviction counts) fire and resolve at once.
pub const STREAKS: &[(&str, u32, u32)] = &[
    ("endpoint_down", 1, 2),
    ("high_memory", 2, 2),
    ("slow_response", 3, 2),
    ("cert_expiring", 1, 1),
    ("cert_chain_expiring", 1, 1),
    ("cert_invalid", 2, 1),
    ("memory_leak_suspected", 1, 2),
    ("provider_degraded", 1, 1),
    ("memory_over_limit", 2, 2),
    ("redis_hit_rate_low", 2, 2),
    ("redis_fragmentation_high", 3, 2),
    ("redis_evicting", 1, 1),
    ("redis_rejecting_connections", 1, 1),
    ("railway_deployment_failed", 1, 1),
    ("railway_build_stuck", 1, 1),
    ("log_file_too_large", 1, 1),
    ("log_rotation_stale", 1, 1),
    ("log_file_stopped_growing", 1, 1),
    ("log_new_errors", 1, 1),
    ("log_errors", 1, 1),
    ("log_security_events", 1, 1),
    ("chroma_collection_missing", 1, 1),
];

/// The default `for:` and `resolve_after:` of a default rule (1 and 1 for `security_*`
/// and any rule not in [`STREAKS`]).
pub fn streaks(name: &str) -> (u32, u32) {
    STREAKS.iter().find(|(n, _, _)| *n == name).map(|(_, f, r)| (*f, *r)).unwrap_or((1, 1))
}

pub fn default_rules() -> Vec<RuleConfig> {
    let mut rules = all_rules();
    for r in &mut rules {
        let (f, ra) = streaks(&r.name);
        r.for_runs = Some(f);
        r.resolve_after = Some(ra);
    }
    rules
}

fn all_rules() -> Vec<RuleConfig> {
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
        // `ssl` monitors: an intermediate that expires before the leaf, and a certificate
        // that is not trusted or not for this name. Expiry is `cert_expiring`'s (or
        // `cert_chain_expiring`'s) to report, so `cert_invalid` leaves expired chains out.
        rule(
            "cert_chain_expiring",
            "chain_days_left < warning_days && chain_days_left < days_left",
            "An intermediate certificate served for {name} expires in {chain_days_left} days, before the certificate itself",
            Severity::Medium,
            vec![Escalation { when: "chain_days_left < critical_days".into(), severity: Severity::High }],
        ),
        rule(
            "cert_invalid",
            "!hostname_valid || (!chain_valid && !expired)",
            "Certificate for {name} is not valid: {cert_error}",
            Severity::High,
            vec![],
        ),
        // Security events of `http` monitors with `security:`; see checks/http/security.rs.
        security("security_hsts_missing", Severity::Medium),
        security("security_hsts_max_age", Severity::Low),
        security("security_https_redirect", Severity::Medium),
        security("security_nosniff_missing", Severity::Low),
        security("security_csp_missing", Severity::Low),
        security("security_insecure_cookie", Severity::Medium),
        security("security_forbidden_path", Severity::High),
        rule(
            "memory_leak_suspected",
            "memory_leak_suspected",
            "{name} memory grows {memory_slope_per_day}/day; full in ~{days_to_full} days",
            Severity::Medium,
            vec![],
        ),
        // `status_page` monitors: `indicator` is computed for the watched components, and
        // `status_summary` names the incidents (with links) and affected components.
        rule(
            "provider_degraded",
            "indicator != 'none'",
            "{name}: {indicator} — {status_summary}",
            Severity::Low,
            vec![Escalation {
                when: "indicator == 'major' || indicator == 'critical'".into(),
                severity: Severity::Medium,
            }],
        ),
        // `redis`, `system` and `chroma` monitors: thresholds come from the monitor's
        // own options, which `rules::variables` exposes; without the option the rule does
        // not apply. Counter deltas exist from a monitor's second run on.
        rule(
            "memory_over_limit",
            "percent > max_memory_percent",
            "Memory usage of {name} is {percent}%, over its max_memory_percent of {max_memory_percent}%",
            Severity::Medium,
            vec![],
        ),
        rule(
            "redis_hit_rate_low",
            "hit_rate < min_hit_rate",
            "Cache hit rate of {name} is {hit_rate} ({hit_rate_scope}), under its min_hit_rate of {min_hit_rate}",
            Severity::Low,
            vec![],
        ),
        rule(
            "redis_fragmentation_high",
            "fragmentation_ratio > max_fragmentation_ratio",
            "Memory fragmentation of {name} is {fragmentation_ratio}, over its max_fragmentation_ratio of {max_fragmentation_ratio}",
            Severity::Low,
            vec![],
        ),
        rule(
            "redis_evicting",
            "evicted_keys_delta > 0",
            "{name} evicted {evicted_keys_delta} keys since the last run (memory full)",
            Severity::Low,
            vec![],
        ),
        rule(
            "redis_rejecting_connections",
            "rejected_connections_delta > 0",
            "{name} rejected {rejected_connections_delta} connections since the last run (maxclients reached)",
            Severity::Medium,
            vec![],
        ),
        // `railway` monitors: the latest deployment failed, or has been building too long.
        rule(
            "railway_deployment_failed",
            "deployment_status == 'FAILED' || deployment_status == 'CRASHED'",
            "Railway deployment {deployment_id} of {name} is {deployment_status}",
            Severity::High,
            vec![],
        ),
        rule(
            "railway_build_stuck",
            "deployment_in_progress && deployment_age_s > max_build_time_s",
            "Railway deployment {deployment_id} of {name} has been {deployment_status} for {deployment_age}",
            Severity::Medium,
            vec![],
        ),
        // `log_files` monitors: rotation health against the monitor's own thresholds
        // (the rule does not apply when the option is not set), new error groups, error
        // and security-event volume per run. Messages point at the logrotate config.
        rule(
            "log_file_too_large",
            "largest_bytes > max_file_bytes",
            "{name}: {largest_file} is {largest_size}, over max_file_bytes ({max_file_size}); rotation is not keeping up — check that logrotate covers this file (`logrotate -d <config>`) and add `maxsize`",
            Severity::Medium,
            vec![],
        ),
        rule(
            "log_rotation_stale",
            "oldest_uncompressed_age_s > max_age_s",
            "{name}: {oldest_uncompressed_file} was rotated {oldest_uncompressed_age} ago and is still uncompressed (max_age {max_age}); logrotate has stopped running or compressing — check `compress`/`delaycompress` and run `logrotate -f <config>`",
            Severity::Low,
            vec![],
        ),
        rule(
            "log_file_stopped_growing",
            "size(stale_files) > 0 && app_up",
            "{name}: {stale_files} not written for over {stale_after} while the app is up; it may still write to a rotated-away file — check `postrotate` (reload the app) or use `copytruncate` in the logrotate config",
            Severity::Medium,
            vec![],
        ),
        rule(
            "log_new_errors",
            "new_error_groups > 0",
            "{name}: {new_error_groups} new error group(s) in the logs, e.g. {new_error_sample}",
            Severity::Low,
            vec![],
        ),
        rule(
            "log_errors",
            "error_count > max_errors",
            "{name}: {error_count} error events since the last run, over max_errors {max_errors}; most frequent: {top_error}",
            Severity::Medium,
            vec![],
        ),
        rule(
            "log_security_events",
            "security_events > security_threshold",
            "{name}: {security_events} security events since the last run ({security_summary}), over security_threshold {security_threshold}",
            Severity::Medium,
            vec![],
        ),
        rule(
            "chroma_collection_missing",
            "size(collections_missing) > 0",
            "Chroma {name} is missing collections: {collections_missing}",
            Severity::High,
            vec![],
        ),
    ]
}
