//! Security events of an `http` monitor (`security:`): response headers (HSTS,
//! nosniff, CSP), cookie flags, plain HTTP redirecting to HTTPS, and paths that must
//! not be public. Violations become the `security_violations` metric; the rules engine
//! turns each into a `security_*` finding.

use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use url::Url;

use super::{probe, Response};
use super::{HttpOptions, SecurityOptions};
use crate::checks::{CheckEnv, Effective};

pub const HSTS_MISSING: &str = "security_hsts_missing";
pub const HSTS_MAX_AGE: &str = "security_hsts_max_age";
pub const HTTPS_REDIRECT: &str = "security_https_redirect";
pub const NOSNIFF_MISSING: &str = "security_nosniff_missing";
pub const CSP_MISSING: &str = "security_csp_missing";
pub const INSECURE_COOKIE: &str = "security_insecure_cookie";
pub const FORBIDDEN_PATH: &str = "security_forbidden_path";

/// Every violation's rule name, in report order; each is also a rule variable.
pub const RULES: &[&str] =
    &[HSTS_MISSING, HSTS_MAX_AGE, HTTPS_REDIRECT, NOSNIFF_MISSING, CSP_MISSING, INSECURE_COOKIE, FORBIDDEN_PATH];

/// One broken expectation; `rule` is the name of the default rule that reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub rule: &'static str,
    pub message: String,
}

fn v(rule: &'static str, message: impl Into<String>) -> Violation {
    Violation { rule, message: message.into() }
}

pub fn to_metric(list: &[Violation]) -> serde_json::Value {
    serde_json::Value::Array(list.iter().map(|v| serde_json::json!({"rule": v.rule, "message": v.message})).collect())
}

/// Runs the chosen checks against `main` (the monitor's own response) and a few probes.
/// Messages name paths and headers, never the host, so they are safe in public issues.
pub async fn check(
    o: &SecurityOptions,
    h: &HttpOptions,
    url: &Url,
    main: &Response,
    eff: &Effective,
    env: &CheckEnv,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let header = |name: &str| main.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);

    // HSTS only means something on HTTPS responses; browsers ignore it over plain HTTP
    // (redirect_https covers that side).
    if o.hsts && main.tls_version.is_some() {
        match header("strict-transport-security") {
            None | Some("") => out.push(v(HSTS_MISSING, "HTTPS response has no Strict-Transport-Security header")),
            Some(value) => {
                let min = o.min_hsts_max_age.get().as_secs();
                match max_age(value) {
                    Some(age) if age >= min => {}
                    Some(age) => out.push(v(
                        HSTS_MAX_AGE,
                        format!(
                            "Strict-Transport-Security max-age is {age}s ({}), under the required {}",
                            human_secs(age),
                            human_secs(min)
                        ),
                    )),
                    None => out
                        .push(v(HSTS_MAX_AGE, "Strict-Transport-Security has no valid max-age directive".to_string())),
                }
            }
        }
    }

    let redirect = if o.redirect_https { plain_http_url(o, url) } else { None };
    let forbidden: Vec<Url> = o
        .forbidden_paths
        .iter()
        .filter_map(|p| {
            let p = if p.starts_with('/') { p.clone() } else { format!("/{p}") };
            url.join(&p).ok()
        })
        .collect();
    // The probes run at once; each has the monitor's timeout.
    let redirect_probe = async {
        match &redirect {
            Some(u) => Some(probe(h, u, eff, env).await),
            None => None,
        }
    };
    let path_probes = futures::future::join_all(forbidden.iter().map(|u| probe(h, u, eff, env)));
    let (redirect_res, path_res) = futures::join!(redirect_probe, path_probes);

    if let (Some(u), Some(Ok(resp))) = (&redirect, &redirect_res) {
        let port = u.port_or_known_default().unwrap_or(80);
        match resp.status {
            301 | 302 | 303 | 307 | 308 => {
                let to = resp.headers.get(LOCATION).and_then(|l| l.to_str().ok()).and_then(|l| u.join(l).ok());
                match to {
                    Some(t) if t.scheme() == "https" => {}
                    Some(t) => out.push(v(
                        HTTPS_REDIRECT,
                        format!("plain HTTP (port {port}) redirects to {}:// instead of https://", t.scheme()),
                    )),
                    None => out.push(v(
                        HTTPS_REDIRECT,
                        format!("plain HTTP (port {port}) answers {} without a usable Location", resp.status),
                    )),
                }
            }
            s if (200..300).contains(&s) => out.push(v(
                HTTPS_REDIRECT,
                format!("plain HTTP (port {port}) answers HTTP {s} instead of redirecting to HTTPS"),
            )),
            // An error page over plain HTTP serves no content to downgrade; a refused
            // connection means plain HTTP is not offered at all. Neither is a violation.
            _ => {}
        }
    }

    if o.nosniff && !header("x-content-type-options").is_some_and(|x| x.eq_ignore_ascii_case("nosniff")) {
        out.push(v(NOSNIFF_MISSING, "response has no X-Content-Type-Options: nosniff header"));
    }

    if o.csp && header("content-security-policy").is_none_or(str::is_empty) {
        let msg = if header("content-security-policy-report-only").is_some() {
            "response has only Content-Security-Policy-Report-Only, which does not enforce a policy"
        } else {
            "response has no Content-Security-Policy header"
        };
        out.push(v(CSP_MISSING, msg));
    }

    if o.cookies {
        let bad: Vec<String> = main
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .filter_map(cookie_problem)
            .collect();
        if !bad.is_empty() {
            out.push(v(INSECURE_COOKIE, format!("cookies set without protection: {}", bad.join(", "))));
        }
    }

    let served: Vec<(&Url, &Response)> = forbidden
        .iter()
        .zip(&path_res)
        .filter_map(|(u, r)| r.as_ref().ok().map(|r| (u, r)))
        .filter(|(_, r)| (200..300).contains(&r.status) && r.status != 204)
        .collect();
    if !served.is_empty() {
        // A site that answers every path with the same page (a single-page app's
        // catch-all route) would otherwise "serve" /.env: ask for a path that cannot
        // exist and discount answers that look like it.
        let canary = url.join(&format!("/.vaktpost-canary-{}", canary_token(env.waiter.seed, url))).ok();
        let catch_all = match &canary {
            Some(c) => probe(h, c, eff, env).await.ok().filter(|r| (200..300).contains(&r.status)),
            None => None,
        };
        let exposed: Vec<String> = served
            .iter()
            .filter(|(_, r)| !catch_all.as_ref().is_some_and(|c| looks_alike(c, r)))
            .map(|(u, r)| format!("{} (HTTP {})", u.path(), r.status))
            .collect();
        if !exposed.is_empty() {
            out.push(v(FORBIDDEN_PATH, format!("publicly served: {}", exposed.join(", "))));
        }
    }
    out.sort_by_key(|v| order(v.rule));
    out
}

fn order(rule: &str) -> usize {
    RULES.iter().position(|r| *r == rule).unwrap_or(usize::MAX)
}

/// The URL to try over plain HTTP, if there is one to try.
fn plain_http_url(o: &SecurityOptions, url: &Url) -> Option<Url> {
    if let Some(u) = &o.http_url {
        return Url::parse(u).ok().filter(|u| u.scheme() == "http");
    }
    match url.scheme() {
        "http" => Some(url.clone()),
        // https on 443 ⇒ http on 80; on any other port the plain-HTTP port is unknown.
        _ if url.port().is_none() => {
            let mut u = url.clone();
            u.set_scheme("http").ok()?;
            Some(u)
        }
        _ => None,
    }
}

/// `max-age` of a Strict-Transport-Security value (directives are case-insensitive and
/// the value may be quoted).
pub fn max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|d| {
        let (k, v) = d.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("max-age") {
            v.trim().trim_matches('"').parse().ok()
        } else {
            None
        }
    })
}

/// `name (no Secure, no HttpOnly)` for a Set-Cookie value that lacks a flag.
pub fn cookie_problem(set_cookie: &str) -> Option<String> {
    let mut parts = set_cookie.split(';');
    let name = parts.next()?.split('=').next()?.trim();
    let mut secure = false;
    let mut http_only = false;
    for attr in parts {
        let key = attr.split('=').next().unwrap_or("").trim();
        secure |= key.eq_ignore_ascii_case("secure");
        http_only |= key.eq_ignore_ascii_case("httponly");
    }
    let mut missing = Vec::new();
    if !secure {
        missing.push("no Secure");
    }
    if !http_only {
        missing.push("no HttpOnly");
    }
    (!missing.is_empty()).then(|| format!("{name} ({})", missing.join(", ")))
}

/// The same body, or both HTML pages (a catch-all that embeds a per-request nonce).
fn looks_alike(catch_all: &Response, r: &Response) -> bool {
    let html = |x: &Response| {
        x.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("text/html"))
    };
    catch_all.body == r.body || (html(catch_all) && html(r))
}

/// A path segment no site has: from the run's seed (random per process, fixed in tests)
/// and the target, so the randomness comes through the run like every other.
fn canary_token(seed: u64, url: &Url) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (seed, url.as_str()).hash(&mut h);
    format!("{:x}", h.finish() & 0xffff_ffff_ffff)
}

fn human_secs(s: u64) -> String {
    match s {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_max_age_is_read_case_insensitively_and_quoted() {
        assert_eq!(max_age("max-age=31536000; includeSubDomains"), Some(31_536_000));
        assert_eq!(max_age("includeSubDomains; Max-Age=\"300\""), Some(300));
        assert_eq!(max_age("includeSubDomains"), None);
    }

    #[test]
    fn cookie_flags_are_attributes_not_values() {
        assert_eq!(cookie_problem("a=1; Secure; HttpOnly; Path=/"), None);
        assert_eq!(cookie_problem("sid=secure; Path=/"), Some("sid (no Secure, no HttpOnly)".into()));
        assert_eq!(cookie_problem("t=1; secure"), Some("t (no HttpOnly)".into()));
    }
}
