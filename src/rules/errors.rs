//! A rule that cannot be evaluated on a result that has its variables is a finding
//! (`category: rule_error`), never a silent skip: otherwise a typo or a type mismatch
//! would look exactly like a healthy system.

use chrono::{DateTime, Utc};

use super::{Finding, Rule, RuleState};

/// The category of a finding that says a rule could not be evaluated.
pub const RULE_ERROR: &str = "rule_error";

/// At most this many monitors are named in one note; the rest are counted.
const NOTE_MONITORS: usize = 5;

/// The finding for a rule that failed on `monitor` with `error`, recorded in `rs`.
///
/// It fires at once (an error is not a blip, so `for:` does not delay it) under the
/// rule's own fingerprint and severity, and it resolves on the first run where the rule
/// evaluates again: the streak restarts (keeping `first_seen` for an issue that stays
/// open), so a clear run resets the state and a holding run counts from one.
pub fn finding(rule: &Rule, monitor: &str, error: &str, rs: &mut RuleState, now: DateTime<Utc>) -> Finding {
    let f = Finding {
        rule: rule.name.clone(),
        monitor: monitor.to_string(),
        severity: rule.severity,
        message: format!(
            "rule `{}` could not be evaluated for {monitor}: {error}; fix its condition (`vaktpost validate` checks names and types)",
            rule.name
        ),
        fingerprint: format!("{monitor}/{}", rule.name),
        carried_over: false,
        category: Some(RULE_ERROR.to_string()),
        flapping: false,
        values: Default::default(),
    };
    rs.failing = 0;
    rs.passing = 0;
    rs.active = false;
    rs.first_seen.get_or_insert(now);
    rs.last_seen = Some(now);
    rs.finding = None;
    f
}

/// One note per rule and error for this run's rule errors ("Rule errors" in the job
/// summary's notes), naming the monitors it failed on. Carried-over findings of
/// skipped monitors are last run's news and left out.
pub fn notes(findings: &[Finding]) -> Vec<String> {
    let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for f in findings.iter().filter(|f| f.category.as_deref() == Some(RULE_ERROR) && !f.carried_over) {
        let error = error_of(f);
        match groups.iter_mut().find(|(r, e, _)| *r == f.rule && *e == error) {
            Some((_, _, monitors)) => monitors.push(&f.monitor),
            None => groups.push((&f.rule, error, vec![&f.monitor])),
        }
    }
    groups
        .into_iter()
        .map(|(rule, error, monitors)| {
            let mut on = monitors.iter().take(NOTE_MONITORS).copied().collect::<Vec<_>>().join(", ");
            if monitors.len() > NOTE_MONITORS {
                on.push_str(&format!(" (+{} more)", monitors.len() - NOTE_MONITORS));
            }
            format!("Rule errors: `{rule}` could not be evaluated for {on}: {error}; the rule is reported as a finding until it evaluates again")
        })
        .collect()
}

/// The error part of a rule-error finding's message.
fn error_of(f: &Finding) -> &str {
    let head = format!("rule `{}` could not be evaluated for {}: ", f.rule, f.monitor);
    let rest = f.message.strip_prefix(head.as_str()).unwrap_or(&f.message);
    rest.strip_suffix("; fix its condition (`vaktpost validate` checks names and types)").unwrap_or(rest)
}
