//! Checks that span fields or need parsing beyond serde: unique names, URLs, methods,
//! header names, JSON pointers, ranges (CEL conditions through [`RuleCheck`]). Reported through a callback so
//! the loader can locate each one.

use std::collections::BTreeSet;

use super::model::*;
use super::Secret;

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
    // Channel URLs are secrets: a bad one is named by its setting, never shown. Empty ones
    // are left to the channel, which says what to set.
    let set = |s: &Option<Secret>| s.as_ref().filter(|u| !u.expose().trim().is_empty()).cloned();
    if let Some(u) = c.alerts.slack.as_ref().filter(|s| s.enabled).and_then(|s| set(&s.webhook_url)) {
        if let Err(e) =
            super::endpoints::parse_endpoint(&u, "alerts.slack.webhook_url", "https://hooks.slack.com/services/…")
        {
            err("alerts.slack.webhook_url", unprefixed(&e, "alerts.slack.webhook_url"));
        }
    }
    if let Some(u) = c.alerts.email.as_ref().filter(|e| e.enabled).and_then(|e| set(&e.smtp_url)) {
        if let Err(e) = super::endpoints::parse_smtp_url(&u) {
            err("alerts.email.smtp_url", unprefixed(&e, "alerts.email.smtp_url"));
        }
    }
    if let Some(u) = c.alerts.heartbeat.as_ref().and_then(|h| set(&Some(h.url.clone()))) {
        if let Err(e) = super::endpoints::ping_url(&u, true) {
            err("alerts.heartbeat.url", unprefixed(&e, "alerts.heartbeat.url"));
        }
    }
    let mut url = |setting: &str, u: Option<Secret>, example: &str| {
        if let Some(u) = u {
            if let Err(e) = super::endpoints::parse_endpoint(&u, setting, example) {
                err(setting, unprefixed(&e, setting));
            }
        }
    };
    if let Some(w) = c.alerts.webhook.as_ref().filter(|w| w.enabled) {
        url("alerts.webhook.url", set(&Some(w.url.clone())), "https://hooks.example.com/vaktpost");
    }
    if let Some(d) = c.alerts.discord.as_ref().filter(|d| d.enabled) {
        url(
            "alerts.discord.webhook_url",
            set(&Some(d.webhook_url.clone())),
            "https://discord.com/api/webhooks/<id>/<token>",
        );
    }
    if let Some(t) = c.alerts.teams.as_ref().filter(|t| t.enabled) {
        url(
            "alerts.teams.webhook_url",
            set(&Some(t.webhook_url.clone())),
            "the HTTP POST URL of a Teams Workflows \"When a Teams webhook request is received\" trigger",
        );
    }
    if let Some(p) = c.alerts.pagerduty.as_ref().filter(|p| p.enabled) {
        if let Some(e) = &p.events_url {
            url("alerts.pagerduty.events_url", Some(Secret::new(e.clone())), super::endpoints::PAGERDUTY_EVENTS_URL);
        }
    }
    if let Some(w) = c.alerts.webhook.as_ref().filter(|w| w.enabled) {
        if let Some(t) = &w.template {
            if let Err(e) = super::template::check(t) {
                err("alerts.webhook.template", e);
            }
        }
        if w.secret.as_ref().is_some_and(|s| s.expose().is_empty()) {
            err("alerts.webhook.secret", "is empty; set a shared secret (${WEBHOOK_SECRET}) or remove the key".into());
        }
    }
    if let Some(p) = c.alerts.pagerduty.as_ref().filter(|p| p.enabled) {
        let k = p.routing_key.expose().trim();
        // Empty (`${PAGERDUTY_ROUTING_KEY:-}`) is left to the channel, which says what to set.
        let is_key = k.len() == 32 && k.chars().all(|c| c.is_ascii_alphanumeric());
        if !k.is_empty() && !is_key {
            err(
                "alerts.pagerduty.routing_key",
                "is not a PagerDuty integration key (32 letters and digits); copy the Integration Key of an Events API v2 integration on the service".into(),
            );
        }
    }
    if let Some(g) = &c.alerts.github {
        if let Some(r) = &g.reopen {
            if !matches!(r.as_str(), "new" | "reopen") {
                err("alerts.github.reopen", format!("must be \"new\" or \"reopen\", got {r:?}"));
            }
        }
    }
}

/// A channel's error without its leading setting name, which the diagnostic already shows.
fn unprefixed(e: &str, setting: &str) -> String {
    e.strip_prefix(setting).map(str::trim_start).unwrap_or(e).to_string()
}
