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
    for (name, ch) in c.alerts.sections().into_iter().filter(|(_, ch)| ch.enabled()) {
        ch.validate(&format!("alerts.{name}"), err);
    }
    metrics(&c.metrics, err);
    validate_pages(&c.pages, err);
}

/// `metrics:`: endpoints are http(s) URLs, auth is one kind, header names are header names.
fn metrics(m: &super::MetricsConfig, err: &mut dyn FnMut(&str, String)) {
    let url = |u: &str, key: &str, example: &str, err: &mut dyn FnMut(&str, String)| {
        if let Err(e) = super::endpoints::parse_endpoint(&Secret::new(u), key, example) {
            err(key, super::channels::unprefixed(&e, key));
        }
    };
    if let Some(f) = m.file.as_deref().filter(|f| f.trim().is_empty()) {
        err(
            "metrics.file",
            format!(
                "is empty ({f:?}); give a path such as /var/lib/node_exporter/textfile/vaktpost.prom, or remove it"
            ),
        );
    }
    if m.instance.as_deref().is_some_and(|i| i.trim().is_empty()) {
        err("metrics.instance", "is empty; remove it for the default ($GITHUB_REPOSITORY, else the host name)".into());
    }
    if let Some(p) = &m.pushgateway {
        url(&p.url, "metrics.pushgateway.url", "http://pushgateway:9091", err);
        if p.job.as_deref().is_some_and(|j| j.trim().is_empty()) {
            err(
                "metrics.pushgateway.job",
                "is empty; the Pushgateway needs a job name (the default is vaktpost)".into(),
            );
        }
    }
    if let Some(r) = &m.remote_write {
        url(&r.url, "metrics.remote_write.url", "https://prometheus:9090/api/v1/write", err);
        if r.bearer_token.is_some() && (r.username.is_some() || r.password.is_some()) {
            err("metrics.remote_write", "set either bearer_token or username/password, not both".into());
        }
        if r.password.is_some() != r.username.is_some() {
            err("metrics.remote_write", "basic auth needs both username and password".into());
        }
    }
    if let Some(o) = &m.otlp {
        url(&o.endpoint, "metrics.otlp.endpoint", "http://otel-collector:4318", err);
        for (k, v) in &o.headers {
            if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                err(&format!("metrics.otlp.headers.{k}"), "is not a valid HTTP header name".into());
            } else if http::HeaderValue::from_str(v.expose()).is_err() {
                err(
                    &format!("metrics.otlp.headers.{k}"),
                    "has a value that is not a valid HTTP header value (control characters?)".into(),
                );
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
