//! Checks that span fields or need parsing beyond serde: unique names, URLs, methods,
//! header names, JSON pointers, CEL conditions, ranges. Reported through a callback so
//! the loader can locate each one.

use std::collections::BTreeSet;

use super::model::*;
use super::Secret;

/// Longest monitor name.
pub const MAX_NAME_CHARS: usize = 200;

pub fn validate(c: &Config, err: &mut dyn FnMut(&str, String)) {
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
        match &m.kind {
            MonitorKind::Http(h) => http(&p, h, err),
            MonitorKind::Ssl(s) => {
                if s.host.trim().is_empty() || s.host.contains("://") {
                    err(&format!("{p}.host"), format!("must be a host name such as api.example.com, got {:?}", s.host));
                }
                if s.critical_days > s.warning_days {
                    err(&format!("{p}.critical_days"), "must not be more than warning_days".into());
                }
                if let Some(v) = &s.min_tls_version {
                    if !matches!(v.as_str(), "1.2" | "1.3") {
                        err(&format!("{p}.min_tls_version"), format!("must be \"1.2\" or \"1.3\", got {v:?}"));
                    }
                }
            }
            MonitorKind::Redis(r) => {
                let u = r.url.expose();
                if !(u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("unix://"))
                    || url::Url::parse(u).is_err()
                {
                    err(&format!("{p}.url"), "must be a redis://, rediss:// or unix:// URL".into());
                }
                memory_thresholds(&p, r.max_memory_percent, r.min_hit_rate, r.max_fragmentation_ratio, err);
            }
            MonitorKind::Chroma(ch) => {
                url_check(&format!("{p}.url"), &ch.url, err);
                if let Some(h) = &ch.auth_header {
                    if http::HeaderName::from_bytes(h.trim().as_bytes()).is_err() {
                        err(
                            &format!("{p}.auth_header"),
                            format!("{h:?} is not a header name; write e.g. X-Chroma-Token"),
                        );
                    }
                }
                for (j, c) in ch.collections.iter().enumerate() {
                    if c.trim().is_empty() {
                        err(&format!("{p}.collections[{j}]"), "must not be empty".into());
                    }
                }
            }
            MonitorKind::StatusPage(s) => {
                if s.url.is_none() && s.preset.is_none() {
                    err(&p, "a status_page monitor needs `url` or `preset`".into());
                }
                if let Some(u) = &s.url {
                    url_check(&format!("{p}.url"), u, err);
                }
                if let Some(pr) = &s.provider {
                    const P: &[&str] = crate::checks::status_page::PROVIDERS;
                    if !P.contains(&pr.as_str()) {
                        err(&format!("{p}.provider"), format!("unknown provider {pr:?}{}", super::diag::hint(pr, P)));
                    }
                }
                if let Some(pr) = &s.preset {
                    let names: Vec<&str> = crate::checks::status_page::PRESETS.iter().map(|p| p.name).collect();
                    if !names.contains(&pr.to_ascii_lowercase().as_str()) {
                        err(
                            &format!("{p}.preset"),
                            format!(
                                "unknown preset {pr:?}{}; known presets: {} (or set `url` to any status page)",
                                super::diag::hint(pr, &names),
                                names.join(", ")
                            ),
                        );
                    }
                }
                for (j, c) in s.components.iter().enumerate() {
                    if c.trim().is_empty() {
                        err(&format!("{p}.components[{j}]"), "must not be empty".into());
                    }
                }
            }
            MonitorKind::Railway(r) => {
                if let Some(u) = &r.api_url {
                    url_check(&format!("{p}.api_url"), u, err);
                }
                if r.service_id.trim().is_empty() {
                    err(&format!("{p}.service_id"), "must be the Railway service's id (a UUID)".into());
                }
                if r.token.is_some() && r.project_token.is_some() {
                    err(
                        &format!("{p}.project_token"),
                        "set `token` (account or workspace token) or `project_token`, not both".into(),
                    );
                }
                if r.max_build_time.is_some_and(|d| d.get().is_zero()) {
                    err(&format!("{p}.max_build_time"), "must be more than 0".into());
                }
            }
            MonitorKind::LogFiles(l) => {
                if let Err(e) = globset::Glob::new(&l.path) {
                    err(&format!("{p}.path"), format!("invalid glob: {e}"));
                }
                if let Some(re) = &l.error_pattern {
                    if let Err(e) = regex::Regex::new(re) {
                        err(&format!("{p}.error_pattern"), format!("invalid regular expression: {e}"));
                    }
                }
                for (j, sp) in l.security_patterns.iter().enumerate() {
                    if let Err(e) = regex::Regex::new(sp.pattern()) {
                        err(&format!("{p}.security_patterns[{j}]"), format!("invalid regular expression: {e}"));
                    }
                    let n = sp.name();
                    if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        err(
                            &format!("{p}.security_patterns[{j}].name"),
                            format!("{n:?} is not a category name; use letters, digits and _ (it is a metric key)"),
                        );
                    }
                }
                if let Some(app) = &l.app_monitor {
                    if !c.monitors.iter().any(|o| &o.common.name == app) {
                        err(&format!("{p}.app_monitor"), format!("no monitor is named \"{app}\""));
                    }
                }
                if l.max_bytes_per_run.0 < 1024 {
                    err(&format!("{p}.max_bytes_per_run"), "must be at least 1KiB (one long line)".into());
                }
                if l.max_file_bytes.is_some_and(|b| b.0 == 0) {
                    err(&format!("{p}.max_file_bytes"), "must be more than 0".into());
                }
                for (key, d) in [("max_age", l.max_age), ("stale_after", l.stale_after)] {
                    if d.is_some_and(|d| d.get().is_zero()) {
                        err(&format!("{p}.{key}"), "must be more than 0, e.g. \"2d\"".into());
                    }
                }
            }
            MonitorKind::System(s) => memory_thresholds(&p, s.max_memory_percent, None, None, err),
        }
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
    if let Err(errs) = crate::rules::build(&c.rules) {
        for (path, msg) in errs {
            err(&path, msg);
        }
    }
    crate::rules::typecheck::check(c, err);

    if let Some(b) = &c.state.backend {
        if !matches!(b.as_str(), "file" | "github") {
            err("state.backend", format!("must be \"file\" or \"github\", got {b:?}"));
        }
    }
    if let Some(b) = &c.state.branch {
        if let Err(e) = crate::state::github_branch::check_branch_name(b) {
            err("state.branch", format!("{e}; use a name such as vaktpost-data"));
        }
    }
    for (i, w) in c.alerts.maintenance.iter().enumerate() {
        for (key, msg) in crate::alerts::maintenance::check(w) {
            err(&format!("alerts.maintenance[{i}].{key}"), msg);
        }
    }
    // Channel URLs are secrets: a bad one is named by its setting, never shown. Empty ones
    // are left to the channel, which says what to set.
    let set = |s: &Option<Secret>| s.as_ref().filter(|u| !u.expose().trim().is_empty()).cloned();
    if let Some(u) = c.alerts.slack.as_ref().filter(|s| s.enabled).and_then(|s| set(&s.webhook_url)) {
        if let Err(e) =
            crate::alerts::slack::parse_endpoint(&u, "alerts.slack.webhook_url", "https://hooks.slack.com/services/…")
        {
            err("alerts.slack.webhook_url", unprefixed(&e, "alerts.slack.webhook_url"));
        }
    }
    if let Some(u) = c.alerts.email.as_ref().filter(|e| e.enabled).and_then(|e| set(&e.smtp_url)) {
        if let Err(e) = crate::alerts::email::parse_smtp_url(&u) {
            err("alerts.email.smtp_url", unprefixed(&e, "alerts.email.smtp_url"));
        }
    }
    if let Some(u) = c.alerts.heartbeat.as_ref().and_then(|h| set(&Some(h.url.clone()))) {
        if let Err(e) = crate::alerts::heartbeat::ping_url(&u, true) {
            err("alerts.heartbeat.url", unprefixed(&e, "alerts.heartbeat.url"));
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

/// `max_memory_percent` in (0, 100], `min_hit_rate` a ratio in [0, 1], `max_fragmentation_ratio` > 0.
fn memory_thresholds(
    p: &str,
    max_percent: Option<f64>,
    min_hit_rate: Option<f64>,
    max_frag: Option<f64>,
    err: &mut dyn FnMut(&str, String),
) {
    if let Some(v) = max_percent.filter(|v| v.is_nan() || *v <= 0.0 || *v > 100.0) {
        err(&format!("{p}.max_memory_percent"), format!("must be a percentage above 0 and at most 100, got {v}"));
    }
    if let Some(v) = min_hit_rate.filter(|v| !(0.0..=1.0).contains(v)) {
        err(&format!("{p}.min_hit_rate"), format!("must be a ratio between 0 and 1 (0.9 means 90%), got {v}"));
    }
    if let Some(v) = max_frag.filter(|v| v.is_nan() || *v <= 0.0) {
        err(&format!("{p}.max_fragmentation_ratio"), format!("must be more than 0 (e.g. 1.5), got {v}"));
    }
}

fn url_check(path: &str, u: &str, err: &mut dyn FnMut(&str, String)) {
    match url::Url::parse(u) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        Ok(url) => err(path, format!("must be an http:// or https:// URL, got scheme \"{}\"", url.scheme())),
        Err(e) => err(
            path,
            format!(
                "invalid URL {:?}: {e}; use a full URL such as https://example.com/health",
                crate::redact::redact_url_str(u)
            ),
        ),
    }
}

fn http(p: &str, h: &HttpOptions, err: &mut dyn FnMut(&str, String)) {
    url_check(&format!("{p}.url"), &h.url, err);
    if http::Method::from_bytes(h.method.to_ascii_uppercase().as_bytes()).is_err() || h.method.is_empty() {
        err(&format!("{p}.method"), format!("invalid HTTP method {:?}", h.method));
    }
    for (k, v) in &h.headers {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            err(&format!("{p}.headers.{k}"), format!("invalid header name {k:?}"));
        } else if http::HeaderValue::from_str(v.expose()).is_err() {
            err(&format!("{p}.headers.{k}"), "header value contains characters not allowed in HTTP headers".into());
        }
    }
    if let Some(s) = h.samples {
        if s == 0 || s > 1000 {
            err(&format!("{p}.samples"), format!("must be between 1 and 1000, got {s}"));
        }
    }
    for ptr in h.json.keys() {
        if !ptr.is_empty() && !ptr.starts_with('/') {
            err(&format!("{p}.json"), format!("{ptr:?} is not a JSON pointer; write it like \"/status\""));
        }
    }
    for (name, ptr) in &h.extract {
        if !ptr.is_empty() && !ptr.starts_with('/') {
            err(&format!("{p}.extract.{name}"), format!("{ptr:?} is not a JSON pointer; write it like \"/percent\""));
        }
        let ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            err(
                &format!("{p}.extract.{name}"),
                "metric names must be letters, digits and _ (they are rule variables)".into(),
            );
        }
    }
    if let Some(v) = &h.version_from {
        let ok = v.strip_prefix("header:").is_some_and(|n| http::HeaderName::from_bytes(n.trim().as_bytes()).is_ok())
            || v.strip_prefix("json:").is_some_and(|ptr| ptr.is_empty() || ptr.starts_with('/'));
        if !ok {
            err(&format!("{p}.version_from"), format!("must be \"json:/pointer\" or \"header:Name\", got {v:?}"));
        }
    }
    if h.max_redirects > 50 {
        err(&format!("{p}.max_redirects"), "must be at most 50".into());
    }
    if h.max_body_bytes.0 == 0 {
        err(&format!("{p}.max_body_bytes"), "must be more than 0".into());
    }
}
