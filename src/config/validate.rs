//! Checks that span fields or need parsing beyond serde: unique names, URLs, methods,
//! header names, JSON pointers, ranges (CEL conditions through [`RuleCheck`]). Reported through a callback so
//! the loader can locate each one.

use std::collections::BTreeSet;

use super::model::*;

/// Longest monitor name.
pub const MAX_NAME_CHARS: usize = 200;

/// How the rules are checked (compiled, type-checked against the monitors): passed in by
/// `crate::load`, as `rules` sits above `config`.
pub type RuleCheck<'a> = &'a dyn Fn(&Config, &mut dyn FnMut(&str, String));

pub fn validate(c: &Config, err: &mut dyn FnMut(&str, String), rules: RuleCheck) {
    let d = &c.defaults;
    if d.concurrency == 0 {
        err("defaults.concurrency", "must be at least 1".into());
    }
    if d.per_host_concurrency == 0 {
        err("defaults.per_host_concurrency", "must be at least 1".into());
    }
    if d.samples == 0 || d.samples > 1000 {
        err("defaults.samples", format!("must be between 1 and 1000, got {}", d.samples));
    }
    if d.timeout.get().is_zero() {
        err("defaults.timeout", "must be more than 0".into());
    }
    if d.deadline.get().is_zero() {
        err("defaults.deadline", "must be more than 0".into());
    }

    if let Some(canary) = &d.canary {
        if !c.monitors.iter().any(|m| &m.common.name == canary) {
            let names: Vec<&str> = c.monitors.iter().map(|m| m.common.name.as_str()).collect();
            err(
                "defaults.canary",
                format!(
                    "{canary:?} is not a monitor in this config{}; name a monitor of a site outside your own systems",
                    super::diag::hint(canary, &names)
                ),
            );
        }
    }

    let mut names = BTreeSet::new();
    for (i, m) in c.monitors.iter().enumerate() {
        let p = format!("monitors[{i}]");
        let name = &m.common.name;
        if name.trim().is_empty() {
            err(&format!("{p}.name"), "must not be empty".into());
        } else if name.chars().any(|ch| ch.is_control()) {
            err(&format!("{p}.name"), "must not contain control characters".into());
        } else if name.chars().count() > MAX_NAME_CHARS {
            // A name is in every issue title, marker and Slack line: keep them within limits.
            err(&format!("{p}.name"), format!("must be at most {MAX_NAME_CHARS} characters"));
        } else if !names.insert(name.clone()) {
            err(&format!("{p}.name"), format!("duplicate monitor name \"{name}\"; names must be unique"));
        }
        if let Some(t) = m.common.timeout {
            if t.get().is_zero() {
                err(&format!("{p}.timeout"), "must be more than 0".into());
            }
        }
        m.kind.validate(&p, &|n| c.monitors.iter().any(|o| o.common.name == n), err);
        for (j, dep) in m.common.depends_on.iter().enumerate() {
            if !c.monitors.iter().any(|o| &o.common.name == dep) {
                err(&format!("{p}.depends_on[{j}]"), format!("no monitor is named \"{dep}\""));
            }
        }
    }

    let mut rule_names = BTreeSet::new();
    for (i, r) in c.rules.iter().enumerate() {
        if !rule_names.insert(r.name.clone()) {
            err(&format!("rules[{i}].name"), format!("duplicate rule name \"{}\"", r.name));
        }
    }
    // Conditions, messages and variables: `rules` sits above `config`, so the loader one
    // level up (`crate::load`) passes this check in.
    rules(c, err);

    if let Some(b) = &c.state.backend {
        if !matches!(b.as_str(), "file" | "github") {
            err("state.backend", format!("must be \"file\" or \"github\", got {b:?}"));
        }
    }
    if let Some(b) = &c.state.branch {
        if let Err(e) = super::endpoints::check_branch_name(b) {
            err("state.branch", format!("{e}; use a name such as vaktpost-data"));
        }
    }
    for (i, w) in c.alerts.maintenance.iter().enumerate() {
        for (key, msg) in super::endpoints::check(w) {
            err(&format!("alerts.maintenance[{i}].{key}"), msg);
        }
    }
    for (name, ch) in c.alerts.sections().into_iter().filter(|(_, ch)| ch.enabled()) {
        ch.validate(&format!("alerts.{name}"), err);
    }
}
