//! Parsers of the config's endpoint and window values: the Slack webhook, SMTP and
//! heartbeat URLs, the data branch's name, maintenance windows. Pure functions, so
//! validation (`validate.rs`) and the channels that use the values (`alerts::*`,
//! `state::github_branch`) read them the same way; those modules re-export them.

use chrono::{NaiveDateTime, NaiveTime, Weekday};
use chrono_tz::Tz;

use super::MaintenanceWindow;
use crate::values::Secret;

/// PagerDuty's public Events API v2 endpoint, `alerts.pagerduty.events_url`'s default.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A validated http(s) URL from a secret. The error names the setting, never the value.
pub fn parse_endpoint(secret: &Secret, setting: &str, example: &str) -> Result<url::Url, String> {
    match url::Url::parse(secret.expose().trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(format!("{setting} is not a valid http(s) URL; use a full URL such as {example}")),
    }
}

/// The URL to ping: `url` itself when the run went well, else `url` with `/fail` appended
/// to its path (a trailing slash is dropped first; the query string and fragment stay):
/// `https://hc-ping.com/uuid?x=1` → `https://hc-ping.com/uuid/fail?x=1`.
pub fn ping_url(url: &Secret, ok: bool) -> Result<url::Url, String> {
    let mut u = parse_endpoint(url, "alerts.heartbeat.url", "https://hc-ping.com/<uuid>")?;
    if !ok {
        let path = format!("{}/fail", u.path().trim_end_matches('/'));
        u.set_path(&path);
    }
    Ok(u)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain connect, then STARTTLS, which the server must offer.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: no TLS at all.
    None,
}

/// A parsed `smtp_url`. `Debug` shows no password (it is a [`Secret`]).
#[derive(Debug, Clone)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

/// Parses `smtp_url` (forms in the module docs). Errors never contain the URL.
pub fn parse_smtp_url(url: &Secret) -> Result<SmtpTarget, String> {
    let bad = |why: &str| {
        format!("alerts.email.smtp_url {why}; use smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465 or smtp://host:25?tls=none")
    };
    let u = url::Url::parse(url.expose().trim()).map_err(|_| bad("is not a valid URL"))?;
    let host = match u.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(bad("has no host")),
    };
    let mut tls_param: Option<String> = None;
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "tls" => tls_param = Some(v.to_ascii_lowercase()),
            _ => {
                return Err(bad(&format!("has an unknown parameter {:?} (only tls=required or tls=none)", k.as_ref())))
            }
        }
    }
    let security = match (u.scheme(), tls_param.as_deref()) {
        ("smtps", None) => Security::Implicit,
        ("smtp", None | Some("required")) => Security::StartTls,
        ("smtp", Some("none")) => Security::None,
        ("smtps", Some(_)) => return Err(bad("uses smtps://, which is always TLS; drop the tls parameter")),
        ("smtp", Some(_)) => return Err(bad("has tls set to something other than required or none")),
        _ => return Err(bad("must start with smtp:// or smtps://")),
    };
    let port = u.port().unwrap_or(match security {
        Security::StartTls => 587,
        Security::Implicit => 465,
        Security::None => 25,
    });
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let username = Some(decode(u.username())).filter(|s| !s.is_empty());
    let password = u.password().map(|p| Secret::new(decode(p)));
    if security == Security::None && (username.is_some() || password.is_some()) {
        return Err(bad("has credentials but tls=none would send them unencrypted; use STARTTLS or smtps://"));
    }
    if password.is_some() && username.is_none() {
        return Err(bad("has a password but no user name"));
    }
    Ok(SmtpTarget { host, port, security, username, password })
}

/// A git ref name check for `state.branch` (git's `check-ref-format` rules for one branch).
pub fn check_branch_name(b: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{b:?} is not a valid branch name: {why}"));
    if b.is_empty() {
        return bad("it is empty");
    }
    if b.starts_with('-') {
        return bad("it starts with '-'");
    }
    if b.starts_with('/') || b.ends_with('/') || b.contains("//") {
        return bad("it starts or ends with '/' or has an empty part");
    }
    if b.ends_with('.') || b.ends_with(".lock") || b.contains("..") || b.contains("@{") || b == "@" {
        return bad("it contains '..' or '@{', ends with '.' or '.lock', or is '@'");
    }
    if let Some(c) = b.chars().find(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(*c)) {
        return bad(&format!("{c:?} is not allowed"));
    }
    if b.split('/').any(|p| p.starts_with('.') || p.ends_with(".lock")) {
        return bad("a part starts with '.' or ends with '.lock'");
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Once(NaiveDateTime),
    Daily(NaiveTime),
}

pub fn parse_start(s: &str) -> Result<Start, String> {
    let t = s.trim();
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(Start::Once(d));
        }
    }
    for f in ["%H:%M:%S", "%H:%M"] {
        if let Ok(d) = NaiveTime::parse_from_str(t, f) {
            return Ok(Start::Daily(d));
        }
    }
    Err(format!("invalid start {t:?}; write \"2026-12-01T02:00\" for one window or \"02:00\" for every day"))
}

pub fn parse_tz(s: Option<&str>) -> Result<Tz, String> {
    match s {
        None => Ok(Tz::UTC),
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| format!("unknown time zone {name:?}; use an IANA name such as Europe/Stockholm")),
    }
}

pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    s.trim().parse::<Weekday>().map_err(|_| format!("invalid weekday {s:?}; use mon, tue, wed, thu, fri, sat or sun"))
}

/// Every problem with a maintenance window, for validation: (key, message).
pub fn check(w: &MaintenanceWindow) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Err(e) = parse_start(&w.start) {
        out.push(("start", e));
    }
    if let Err(e) = parse_tz(w.timezone.as_deref()) {
        out.push(("timezone", e));
    }
    for d in &w.weekdays {
        if let Err(e) = parse_weekday(d) {
            out.push(("weekdays", e));
        }
    }
    if w.duration.get().is_zero() {
        out.push(("duration", "must be more than 0".into()));
    }
    if let Err(e) = crate::values::globs(&w.monitors) {
        out.push(("monitors", e));
    }
    out
}
