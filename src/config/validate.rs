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
    validate_pages(&c.pages, err);
    if let Some(g) = &c.alerts.github {
        if let Some(r) = &g.reopen {
            if !matches!(r.as_str(), "new" | "reopen") {
                err("alerts.github.reopen", format!("must be \"new\" or \"reopen\", got {r:?}"));
            }
        }
    }
}

/// The status site's settings: a time zone that exists, a local logo, links that are
/// links (no `javascript:`).
fn validate_pages(p: &PagesConfig, err: &mut dyn FnMut(&str, String)) {
    if let Some(tz) = &p.timezone {
        if super::endpoints::parse_tz(Some(tz)).is_err() {
            err(
                "pages.timezone",
                format!("unknown time zone {tz:?}; use an IANA name such as Europe/Stockholm or UTC"),
            );
        }
    }
    if let Some(logo) = &p.logo {
        if logo.contains("://") || logo.starts_with("//") {
            err(
                "pages.logo",
                "must be a local file (the site makes no external requests); put the image in the repository and name its path"
                    .into(),
            );
        }
    }
    if let Some(u) = &p.url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            err(
                "pages.url",
                format!("must be the site's full address such as https://owner.github.io/repo/, got {u:?}"),
            );
        }
    }
    for (i, l) in p.links.iter().enumerate() {
        let u = l.url.trim().to_ascii_lowercase();
        let scheme =
            u.split_once(':').map(|(s, _)| s).filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+'));
        if matches!(scheme, Some(s) if !matches!(s, "http" | "https" | "mailto")) {
            err(
                &format!("pages.links[{i}].url"),
                format!("must be an http(s) or mailto link or a relative path, got {:?}", l.url),
            );
        }
        if l.name.trim().is_empty() {
            err(&format!("pages.links[{i}].name"), "must not be empty".into());
        }
    }
}

/// A channel's error without its leading setting name, which the diagnostic already shows.
fn unprefixed(e: &str, setting: &str) -> String {
    e.strip_prefix(setting).map(str::trim_start).unwrap_or(e).to_string()
}
