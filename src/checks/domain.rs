//! The `domain` check: when a domain's registration expires, from its registry over RDAP
//! (RFC 9083 responses, RFC 9082 `domain/{name}` lookups). The registry's base URL comes
//! from IANA's bootstrap file (RFC 9224), of which the binary ships a subset
//! (`domain/dns.json`), or from the monitor's `rdap_url`. The request goes through the
//! shared HTTP transport, so it fails with the same error kinds as an `http` monitor.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use http::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::kinds::{check_url, DefaultRule, Kind};
use super::metrics::Metric::{self, *};
use super::ssl::{days_left, rfc3339};
use super::transport::{api_request, with_retries, Request};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::values::vartype::Ty;
use crate::values::{Secret, Severity};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainOptions {
    /// The registered domain, e.g. `example.com` (IDNs in their `xn--` form).
    pub domain: String,
    /// The registry's RDAP base URL (ending in `/`); the lookup is
    /// `{rdap_url}domain/{domain}`. Default: from IANA's bootstrap shipped in the binary.
    #[serde(default)]
    pub rdap_url: Option<String>,
    /// Fewer days left ⇒ `degraded` and `domain_expiring` (medium).
    #[serde(default = "d_warning_days")]
    pub warning_days: u32,
    /// Fewer days left ⇒ `domain_expiring` is high.
    #[serde(default = "d_critical_days")]
    pub critical_days: u32,
}

fn d_warning_days() -> u32 {
    30
}
fn d_critical_days() -> u32 {
    7
}

/// Largest RDAP answer read (a domain object is a few KB; some registries add notices).
pub const MAX_RDAP_BYTES: u64 = 1 << 20;

/// IANA's bootstrap file format (RFC 9224 §4): `services` pairs a list of TLDs with the
/// base URLs of their registry's RDAP service. The copy in `domain/dns.json` holds the
/// common TLDs with their base URLs as IANA publishes them at
/// https://data.iana.org/rdap/dns.json; another TLD needs `rdap_url`.
#[derive(Deserialize)]
struct Bootstrap {
    services: Vec<(Vec<String>, Vec<String>)>,
}

static BOOTSTRAP: LazyLock<Vec<(Vec<String>, Vec<String>)>> = LazyLock::new(|| {
    serde_json::from_str::<Bootstrap>(include_str!("domain/dns.json")).map(|b| b.services).unwrap_or_default()
});

/// The bootstrap's base URL for `domain`: the entry with the longest matching label
/// suffix (RFC 9224 §4), its first (https) URL.
pub fn bootstrap_url(domain: &str) -> Option<&'static str> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    (0..labels.len()).find_map(|i| {
        let suffix = labels[i..].join(".");
        BOOTSTRAP.iter().find(|(tlds, _)| tlds.iter().any(|t| t.eq_ignore_ascii_case(&suffix))).and_then(|(_, urls)| {
            urls.iter().find(|u| u.starts_with("https://")).or(urls.first()).map(String::as_str)
        })
    })
}

fn base_url(o: &DomainOptions) -> Result<String, CheckError> {
    let base = match &o.rdap_url {
        Some(u) => u.clone(),
        None => bootstrap_url(&o.domain).map(str::to_string).ok_or_else(|| CheckError::new(ErrorKind::Config, no_bootstrap(&o.domain)))?,
    };
    Ok(if base.ends_with('/') { base } else { format!("{base}/") })
}

fn tld(domain: &str) -> String {
    domain.trim_end_matches('.').rsplit('.').next().unwrap_or_default().to_ascii_lowercase()
}

fn no_bootstrap(domain: &str) -> String {
    format!(
        "vaktpost's copy of the IANA RDAP bootstrap has no server for .{}; set rdap_url to the registry's RDAP base URL (listed at https://data.iana.org/rdap/dns.json)",
        tld(domain)
    )
}

pub async fn check(o: &DomainOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let domain = o.domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let url = match base_url(o).and_then(|b| {
        url::Url::parse(&format!("{b}domain/{domain}"))
            .map_err(|e| CheckError::new(ErrorKind::Config, format!("cannot build the RDAP URL from {b:?}: {e}")))
    }) {
        Ok(u) => u,
        Err(e) => return r.fail(e),
    };
    let mut req = Request::api(Method::GET, url, eff.timeout, MAX_RDAP_BYTES);
    // RFC 7480 §4.2: ask for RDAP JSON.
    req.headers.insert("accept".into(), Secret::new("application/rdap+json, application/json"));
    let resp = match with_retries(eff.retries, &env.waiter, |_| api_request(req.clone(), env)).await {
        Ok(resp) => resp,
        Err(e) => return r.fail(e),
    };
    match resp.status {
        200 => {}
        404 => {
            return r.fail(CheckError::new(
                ErrorKind::HttpStatus,
                format!(
                    "the RDAP server has no registration for {domain} (404): the domain is not registered, or rdap_url points at another registry's server{}",
                    resp.retry_note
                ),
            ))
        }
        s => {
            return r.fail(CheckError::new(
                ErrorKind::HttpStatus,
                format!("the RDAP server answered {s} for {domain}{}", resp.retry_note),
            ))
        }
    }
    let ctype = resp.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body: Value = match serde_json::from_slice(&resp.body) {
        Ok(v) => v,
        Err(e) => {
            return r.fail(CheckError::new(
                ErrorKind::Protocol,
                format!("the RDAP answer for {domain} is not JSON ({ctype:?}): {e}; is rdap_url an RDAP server?"),
            ))
        }
    };
    evaluate(o, &domain, &body, &mut r);
    r
}

/// Metrics and status from an RDAP domain object.
fn evaluate(o: &DomainOptions, domain: &str, body: &Value, r: &mut CheckResult) {
    if body.get("objectClassName").and_then(Value::as_str).is_some_and(|c| c != "domain") {
        *r = r.clone().fail(CheckError::new(
            ErrorKind::Protocol,
            format!("the RDAP answer for {domain} is not a domain object; is rdap_url the registry's base URL?"),
        ));
        return;
    }
    if let Some(reg) = registrar(body) {
        r.set("registrar", reg);
    }
    let statuses: Vec<String> = body
        .get("status")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).take(20).map(|s| crate::untrusted::bound(s, 100)).collect())
        .unwrap_or_default();
    if !statuses.is_empty() {
        r.set("status", statuses.join(", "));
    }
    let Some(expires) = expiration(body) else {
        // Some registries publish no expiration date: say so, without an alarm.
        r.status = Status::Up;
        r.message = Some(format!(
            "the registry publishes no expiration date for {domain} (no RDAP event \"expiration\"); its expiry cannot be watched over RDAP"
        ));
        return;
    };
    let days = days_left(expires.timestamp(), r.started_at);
    r.set("days_left", days);
    r.set("expires_at", rfc3339(expires.timestamp()));
    let date = expires.format("%Y-%m-%d");
    if days < 0 {
        *r = r.clone().fail(CheckError::new(
            ErrorKind::Assertion,
            format!("the registration of {domain} expired on {date}; renew it at the registrar"),
        ));
    } else if days < i64::from(o.warning_days) {
        r.status = Status::Degraded;
        r.message =
            Some(format!("the registration of {domain} expires in {days} days (on {date}), under warning_days {}", o.warning_days));
    } else {
        r.status = Status::Up;
    }
}

/// The date of the `expiration` event (RFC 9083 §4.5; RFC 8056 names the action).
fn expiration(body: &Value) -> Option<DateTime<Utc>> {
    body.get("events")?.as_array()?.iter().find_map(|e| {
        let action = e.get("eventAction")?.as_str()?;
        if !action.eq_ignore_ascii_case("expiration") {
            return None;
        }
        DateTime::parse_from_rfc3339(e.get("eventDate")?.as_str()?).ok().map(|d| d.with_timezone(&Utc))
    })
}

/// The `fn` of the entity with role `registrar` (its vCard, RFC 7095), else its handle;
/// `None` when redacted or absent.
fn registrar(body: &Value) -> Option<String> {
    let ent = body.get("entities")?.as_array()?.iter().find(|e| {
        e.get("roles").and_then(Value::as_array).is_some_and(|r| r.iter().any(|x| x.as_str() == Some("registrar")))
    })?;
    let fn_name = ent
        .get("vcardArray")
        .and_then(|v| v.get(1))
        .and_then(Value::as_array)
        .and_then(|props| props.iter().find(|p| p.get(0).and_then(Value::as_str) == Some("fn")))
        .and_then(|p| p.get(3))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.to_ascii_uppercase().contains("REDACTED"));
    let name = fn_name.or_else(|| ent.get("handle").and_then(Value::as_str).filter(|s| !s.trim().is_empty()))?;
    Some(crate::untrusted::bound(name, 200))
}

impl Kind for DomainOptions {
    /// Like `cert_expiring`, on the registration. Its thresholds are the variables
    /// `domain_warning_days`/`domain_critical_days`, so the certificate rules (which
    /// compare `days_left` with `warning_days`) do not also fire for a domain.
    const DEFAULT_RULES: &'static [DefaultRule] = &[DefaultRule {
        escalate: &[("days_left < domain_critical_days", Severity::High)],
        ..DefaultRule::once(
            "domain_expiring",
            "days_left < domain_warning_days",
            "Domain {domain} expires in {days_left} days",
            Severity::Medium,
        )
    }];
    fn secrets(&self, _: &mut Vec<String>) {}
    fn target(&self) -> String {
        self.domain.clone()
    }
    fn host_key(&self) -> Option<String> {
        base_url(self).ok().and_then(|u| url::Url::parse(&u).ok()).and_then(|u| u.host_str().map(str::to_string))
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        let d = self.domain.trim().trim_end_matches('.');
        let ok_label = |l: &str| {
            !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !d.contains('.') || !d.split('.').all(ok_label) {
            err(
                &format!("{p}.domain"),
                format!("must be a registered domain such as example.com (IDNs in their xn-- form), got {:?}", self.domain),
            );
        } else if self.rdap_url.is_none() && bootstrap_url(d).is_none() {
            err(&format!("{p}.domain"), no_bootstrap(d));
        }
        if let Some(u) = &self.rdap_url {
            check_url(&format!("{p}.rdap_url"), u, err);
        }
        if self.critical_days > self.warning_days {
            err(&format!("{p}.critical_days"), "must not be more than warning_days".into());
        }
    }
    const METRICS: &'static [(&'static str, Metric)] =
        &[("days_left", Num), ("expires_at", Str), ("registrar", Str), ("status", Str)];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("days_left", N),
            ("expires_at", S),
            ("registrar", S),
            ("domain", S),
            ("domain_warning_days", N),
            ("domain_critical_days", N),
        ]
    };
    fn rule_variables(&self, _: &CheckResult) -> Vec<(&'static str, Value)> {
        vec![
            ("domain", Value::from(self.domain.trim().trim_end_matches('.').to_ascii_lowercase())),
            ("domain_warning_days", Value::from(self.warning_days)),
            ("domain_critical_days", Value::from(self.critical_days)),
        ]
    }
    fn summary_parts(r: &CheckResult, parts: &mut Vec<String>) {
        if let Some(d) = r.metric_f64("days_left") {
            parts.push(format!("registration {d} days left"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_knows_common_tlds_by_longest_suffix() {
        assert_eq!(bootstrap_url("example.com"), Some("https://rdap.verisign.com/com/v1/"));
        assert_eq!(bootstrap_url("Sub.Example.DEV."), Some("https://pubapi.registry.google/rdap/"));
        assert_eq!(bootstrap_url("bbc.co.uk"), Some("https://rdap.nominet.uk/uk/"));
        assert_eq!(bootstrap_url("example.invalidtld"), None);
        assert!(BOOTSTRAP.len() >= 10);
    }

    fn result(json: &str) -> CheckResult {
        let m: crate::checks::Monitor =
            yaml_serde::from_str("name: d\ntype: domain\ndomain: example.com\n").unwrap();
        let crate::checks::MonitorKind::Domain(o) = &m.kind else { unreachable!() };
        let mut r = CheckResult::new(&m, "example.com".into(), Utc::now());
        if let Ok(v) = serde_json::from_str::<Value>(json) {
            evaluate(o, "example.com", &v, &mut r);
        }
        r
    }

    #[test]
    fn registrar_is_the_fn_of_the_registrar_entity_unless_redacted() {
        let r = result(
            r#"{"entities":[{"roles":["technical"],"vcardArray":["vcard",[["fn",{},"text","Tech"]]]},
                {"roles":["registrar"],"handle":"292","vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","REDACTED FOR PRIVACY"]]]}]}"#,
        );
        assert_eq!(r.metrics["registrar"], "292");
        assert_eq!(r.status, Status::Up);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// An RDAP answer of any shape (events, entities, statuses of any type) never
        /// panics, and its strings stay bounded.
        #[test]
        fn rdap_answers_of_any_shape_never_panic(
            action in proptest::sample::select(vec!["expiration", "EXPIRATION", "registration", "", "x"]),
            date in "[0-9TZ:+.-]{0,30}",
            name in "(?s).{0,300}",
            status in proptest::collection::vec(".{0,150}", 0..30),
            noise in "(?s).{0,200}",
        ) {
            let body = serde_json::json!({
                "objectClassName": "domain",
                "events": [{"eventAction": action, "eventDate": date}, {"eventAction": noise.clone()}, noise.clone()],
                "entities": [{"roles": ["registrar"], "vcardArray": ["vcard", [["fn", {}, "text", name]]]}, noise.clone()],
                "status": status,
            });
            let r = result(&body.to_string());
            proptest::prop_assert!(r.metrics.get("registrar").and_then(|v| v.as_str()).is_none_or(|s| s.chars().count() <= 200));
            proptest::prop_assert!(r.metrics.get("status").and_then(|v| v.as_str()).is_none_or(|s| s.chars().count() <= 20 * 102));
            let _ = result(&noise);
        }
    }
}
