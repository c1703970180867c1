//! Reconciliation without I/O: this run's findings against the alerts in the state, at a
//! given time, into what changed — alerts that opened, resolved, or started or stopped
//! flapping, and what maintenance suppressed. The channels act on the result afterwards
//! (`github::sync` for issues, `deliver` for Slack and email), so every lifecycle rule is
//! unit-tested here without a network.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{action, maintenance, AlertEvent, AlertRun, EventKind};
use crate::checks::CheckResult;
use crate::config::Severity;
use crate::report::{Action, AlertAction};
use crate::rules::Finding;
use crate::state::{AlertRecord, State};

/// What changed this run, per fingerprint.
#[derive(Debug, Default)]
pub struct Plan {
    /// Findings that opened an alert (the record is in `state.alerts`).
    pub opened: Vec<AlertEvent>,
    /// Alerts whose finding is gone, with their record (removed from `state.alerts`).
    pub resolved: Vec<(AlertEvent, AlertRecord)>,
    /// Open alerts whose flapping episode started or settled.
    pub notices: Vec<AlertEvent>,
    /// Open alerts whose severity changed (for the channels that take changes).
    pub changes: Vec<AlertEvent>,
    /// Fingerprints left alone because maintenance covers their monitor.
    pub suppressed: Vec<AlertAction>,
}

/// Findings ⇄ the open alerts in `state.alerts`, at `now`. `maintenance_issue`: an open
/// issue labelled `vaktpost:maintenance` suppresses every monitor. Only monitors this run
/// checked (`run.checks`) can resolve. Touches `state.alerts` only; no I/O.
pub fn plan(
    run: &AlertRun<'_>,
    findings: &[Finding],
    state: &mut State,
    now: DateTime<Utc>,
    maintenance_issue: bool,
) -> Plan {
    let mut out = Plan::default();
    let suppressed =
        |monitor: &str| maintenance_issue || maintenance::covers(&run.config.alerts.maintenance, monitor, now);
    let in_scope: BTreeSet<&str> = run.checks.iter().map(|c| c.name.as_str()).collect();
    let current: BTreeMap<&str, &Finding> = findings.iter().map(|f| (f.fingerprint.as_str(), f)).collect();

    for (fp, f) in &current {
        match state.alerts.get_mut(*fp) {
            Some(rec) => {
                if !f.carried_over {
                    rec.last_seen = now;
                }
                let severity_changed = rec.severity != f.severity && !f.carried_over;
                rec.severity = f.severity;
                rec.message = f.message.clone();
                if !f.carried_over {
                    rec.values = f.values.clone();
                }
                if severity_changed && !suppressed(&f.monitor) {
                    let rec = rec.clone();
                    out.changes.push(event(EventKind::Changed, fp, Some(&rec), Some(f), now, run));
                }
                // A flapping episode starting or settling on an open alert: one notice each.
                if f.flapping != rec.flapping && !f.carried_over {
                    rec.flapping = f.flapping;
                    let kind = if f.flapping { EventKind::Flapping } else { EventKind::Settled };
                    let rec = rec.clone();
                    if !suppressed(&f.monitor) {
                        out.notices.push(event(kind, fp, Some(&rec), Some(f), now, run));
                    }
                }
            }
            None if suppressed(&f.monitor) => out.suppressed.push(action(fp, "all", Action::Suppressed)),
            None => {
                let first_seen = state.rules.get(*fp).and_then(|r| r.first_seen).unwrap_or(now);
                state.alerts.insert(
                    fp.to_string(),
                    AlertRecord {
                        monitor: f.monitor.clone(),
                        rule: f.rule.clone(),
                        severity: f.severity,
                        message: f.message.clone(),
                        first_seen,
                        last_seen: now,
                        issue_number: None,
                        issue_url: None,
                        issue_severity: None,
                        issue_message: None,
                        last_reminded_at: None,
                        flapping: f.flapping,
                        values: f.values.clone(),
                    },
                );
                out.opened.push(event(EventKind::Opened, fp, state.alerts.get(*fp), Some(f), now, run));
            }
        }
    }
    let gone: Vec<String> = state
        .alerts
        .iter()
        .filter(|(fp, rec)| !current.contains_key(fp.as_str()) && in_scope.contains(rec.monitor.as_str()))
        .map(|(fp, _)| fp.clone())
        .collect();
    for fp in gone {
        let Some(rec) = state.alerts.get(&fp) else { continue };
        if suppressed(&rec.monitor) {
            out.suppressed.push(action(&fp, "all", Action::Suppressed));
            continue;
        }
        if let Some(rec) = state.alerts.remove(&fp) {
            state.record_resolved(&fp, &rec, now);
            let mut ev = event(EventKind::Resolved, &fp, Some(&rec), None, now, run);
            ev.resolved_at = Some(now);
            out.resolved.push((ev, rec));
        }
    }
    out
}

pub(super) fn event(
    kind: EventKind,
    fp: &str,
    rec: Option<&AlertRecord>,
    finding: Option<&Finding>,
    now: DateTime<Utc>,
    run: &AlertRun<'_>,
) -> AlertEvent {
    let (monitor, rule, severity, message, first_seen) = match rec {
        Some(r) => (r.monitor.clone(), r.rule.clone(), r.severity, r.message.clone(), r.first_seen),
        None => (String::new(), String::new(), Severity::Low, String::new(), now),
    };
    let check = run.checks.iter().find(|c| c.name == monitor);
    let none = BTreeMap::new();
    let values = finding.map(|f| &f.values).unwrap_or(&none);
    let details = if check.is_some() || !values.is_empty() { details_for(check, values) } else { Vec::new() };
    AlertEvent {
        kind,
        fingerprint: fp.to_string(),
        monitor,
        rule,
        severity,
        message: run.redactor.redact_text(&message),
        first_seen,
        resolved_at: None,
        issue_url: rec.and_then(|r| r.issue_url.clone()),
        details: details.into_iter().map(|(k, v)| (k, run.redactor.redact_text(&v))).collect(),
    }
}

/// Other metrics an alert shows after the rule's own values, the error and the target.
pub const OTHER_METRICS: usize = 4;
/// Longest metric value an alert shows; a longer one is left out, never cut.
const MAX_METRIC_CHARS: usize = 80;
/// Metrics that say most about a result, shown first among the others when present.
const TELLING: &[&str] = &["status_code", "response_time_ms", "percent", "error_rate", "p95_ms", "days_left"];

/// What an alert says about its finding, most telling first: the values of the variables
/// the rule fired on (`percent: 93`), the error, the status and the target, then at most
/// [`OTHER_METRICS`] other metrics. Values are whole or left out.
pub fn details_for(c: Option<&CheckResult>, values: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut d: Vec<(String, String)> = values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let Some(c) = c else { return d };
    if let Some(e) = &c.error {
        d.push(("error".into(), format!("[{}] {}", e.kind.as_str(), e.message)));
    }
    d.push(("status".into(), c.status.as_str().to_string()));
    if !c.target.is_empty() {
        d.push(("target".into(), c.target.clone()));
    }
    let shown = |k: &str, d: &[(String, String)]| d.iter().any(|(x, _)| x == k);
    let telling = TELLING.iter().filter_map(|k| c.metrics.get_key_value(*k));
    let rest = c.metrics.iter().filter(|(k, _)| !TELLING.contains(&k.as_str()));
    let mut others = 0;
    for (k, v) in telling.chain(rest) {
        if others == OTHER_METRICS {
            break;
        }
        if v.is_object() || shown(k, &d) {
            continue;
        }
        let text = crate::rules::format_value(v);
        if text.chars().count() <= MAX_METRIC_CHARS {
            d.push((k.clone(), text));
            others += 1;
        }
    }
    d
}

/// Key facts of a result as text pairs (error, status, target, a few metrics), for an
/// alert without a rule's values.
pub fn details_of(c: &CheckResult) -> Vec<(String, String)> {
    details_for(Some(c), &BTreeMap::new())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::context::RunContext;
    use crate::redact::Redactor;

    const YAML: &str = "monitors:\n  - name: api\n    type: http\n    url: https://api.example.com/health\n  - name: web\n    type: http\n    url: https://web.example.com/\n";

    fn finding(monitor: &str, message: &str) -> Finding {
        Finding {
            rule: "endpoint_down".into(),
            monitor: monitor.into(),
            severity: Severity::High,
            message: message.into(),
            fingerprint: format!("{monitor}/endpoint_down"),
            carried_over: false,
            category: None,
            flapping: false,
            values: Default::default(),
        }
    }

    /// Plans one run of `findings` at `now`, with `checked` the monitors this run checked.
    fn plan_at(
        state: &mut State,
        findings: &[Finding],
        checked: &[&str],
        now: DateTime<Utc>,
        maintenance_issue: bool,
    ) -> Plan {
        let loaded = crate::load_str(YAML, "t.yml", &BTreeMap::new()).unwrap_or_else(|e| panic!("{e:?}"));
        let config = &loaded.config;
        let checks: Vec<CheckResult> = config
            .monitors
            .iter()
            .filter(|m| checked.contains(&m.common.name.as_str()))
            .map(|m| CheckResult::new(m, "https://example.com".into(), now))
            .collect();
        let ctx = RunContext::with_env(BTreeMap::new(), ".".into());
        let redactor = Redactor::new(&[]);
        let run = AlertRun {
            config,
            ctx: &ctx,
            redactor: &redactor,
            checks: &checks,
            dry_run: false,
            deadline: tokio::time::Instant::now(),
        };
        plan(&run, findings, state, now, maintenance_issue)
    }

    fn at(h: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        chrono::Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_finding_opens_once_and_a_second_run_changes_nothing() {
        let mut state = State::default();
        let p = plan_at(&mut state, &[finding("api", "down")], &["api"], at(1), false);
        assert_eq!(p.opened.len(), 1);
        assert_eq!(p.opened[0].fingerprint, "api/endpoint_down");
        assert_eq!(state.alerts["api/endpoint_down"].first_seen, at(1));
        let again = plan_at(&mut state, &[finding("api", "down")], &["api"], at(2), false);
        assert!(again.opened.is_empty() && again.resolved.is_empty() && again.notices.is_empty());
        assert_eq!(state.alerts["api/endpoint_down"].last_seen, at(2));
    }

    #[test]
    fn a_gone_finding_resolves_only_when_its_monitor_was_checked() {
        let mut state = State::default();
        plan_at(&mut state, &[finding("api", "down")], &["api"], at(1), false);
        // `api` was not checked this run (interval, shard): its alert stays open.
        let p = plan_at(&mut state, &[], &["web"], at(2), false);
        assert!(p.resolved.is_empty());
        assert!(state.alerts.contains_key("api/endpoint_down"));
        let p = plan_at(&mut state, &[], &["api"], at(3), false);
        assert_eq!(p.resolved.len(), 1);
        let (ev, rec) = &p.resolved[0];
        assert_eq!((ev.kind, ev.resolved_at, rec.first_seen), (EventKind::Resolved, Some(at(3)), at(1)));
        assert_eq!(ev.duration_text().as_deref(), Some("2h"));
        assert!(state.alerts.is_empty());
    }

    #[test]
    fn maintenance_suppresses_opening_and_resolving() {
        let mut state = State::default();
        let p = plan_at(&mut state, &[finding("api", "down")], &["api"], at(1), true);
        assert!(p.opened.is_empty() && state.alerts.is_empty());
        assert_eq!(p.suppressed.len(), 1);
        assert_eq!((p.suppressed[0].channel.as_str(), p.suppressed[0].action), ("all", Action::Suppressed));
        plan_at(&mut state, &[finding("api", "down")], &["api"], at(2), false);
        let p = plan_at(&mut state, &[], &["api"], at(3), true);
        assert!(p.resolved.is_empty() && state.alerts.contains_key("api/endpoint_down"));
    }

    #[test]
    fn a_flapping_episode_starting_and_settling_gives_one_notice_each() {
        let mut state = State::default();
        plan_at(&mut state, &[finding("api", "down")], &["api"], at(1), false);
        let flapping = Finding { flapping: true, ..finding("api", "down") };
        let p = plan_at(&mut state, std::slice::from_ref(&flapping), &["api"], at(2), false);
        assert_eq!(p.notices.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Flapping]);
        let p = plan_at(&mut state, &[flapping], &["api"], at(3), false);
        assert!(p.notices.is_empty());
        let p = plan_at(&mut state, &[finding("api", "down")], &["api"], at(4), false);
        assert_eq!(p.notices.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Settled]);
    }

    #[test]
    fn a_severity_change_on_an_open_alert_is_one_change_event() {
        let mut state = State::default();
        let medium = Finding { severity: Severity::Medium, ..finding("api", "down") };
        plan_at(&mut state, std::slice::from_ref(&medium), &["api"], at(1), false);
        let p = plan_at(&mut state, &[finding("api", "down")], &["api"], at(2), false);
        assert_eq!(
            p.changes.iter().map(|e| (e.kind, e.severity)).collect::<Vec<_>>(),
            [(EventKind::Changed, Severity::High)]
        );
        assert!(p.opened.is_empty() && p.notices.is_empty());
        let p = plan_at(&mut state, &[finding("api", "down")], &["api"], at(3), false);
        assert!(p.changes.is_empty(), "unchanged: no event");
        // A carried-over finding (the monitor was not checked) changes nothing.
        let carried = Finding { carried_over: true, ..medium };
        assert!(plan_at(&mut state, &[carried], &[], at(4), false).changes.is_empty());
    }

    #[test]
    fn a_carried_over_finding_keeps_its_last_seen() {
        let mut state = State::default();
        plan_at(&mut state, &[finding("api", "down")], &["api"], at(1), false);
        let carried = Finding { carried_over: true, message: "still down".into(), ..finding("api", "down") };
        plan_at(&mut state, &[carried], &[], at(2), false);
        let rec = &state.alerts["api/endpoint_down"];
        assert_eq!((rec.last_seen, rec.message.as_str()), (at(1), "still down"));
    }
}
