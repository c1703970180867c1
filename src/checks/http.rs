//! The `http` check. It drives hyper over its own connections (DNS, TCP, TLS, then one
//! request) so it can time each phase the way blackbox_exporter and curl do, bound
//! redirects, and cap the body after decompression.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{de, Deserialize, Deserializer, Serialize};

use std::cell::Cell;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use url::Url;

use super::kinds::{DefaultRule, Kind, check_url, url_secrets};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::transport::{attempt, exchange, retry_next, retryable_status, Request, Response, Timings};
use super::{ms, CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::retry::{self, Next, Policy};
use crate::values::vartype::Ty;
use crate::values::{ByteSize, Dur, OneOrMany, Secret, StatusItem, StatusSpec};

mod security;

/// The names of the security violations an `http` monitor with `security:` reports.
pub use security::RULES as SECURITY_RULES;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// `http://` or `https://` URL.
    pub url: String,
    #[serde(default = "d_get")]
    pub method: String,
    /// Request headers; values are secrets and never printed.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// 200, [200, 204], "2xx", or ["2xx", 404]. Default "2xx".
    #[serde(default)]
    pub expected_status: Option<StatusSpec>,
    /// Slower than this (median over samples) ⇒ `degraded`.
    #[serde(default)]
    pub max_response_time: Option<Dur>,
    /// Requests per run; error rate and percentiles come from them.
    #[serde(default)]
    pub samples: Option<u32>,
    /// Text (or list of texts) the body must contain.
    #[serde(default)]
    pub body_contains: Option<OneOrMany>,
    /// Text (or list of texts) the body must not contain.
    #[serde(default)]
    pub body_not_contains: Option<OneOrMany>,
    /// JSON pointer ⇒ expected value, e.g. `{"/status": "ok"}`.
    #[serde(default)]
    pub json: BTreeMap<String, serde_json::Value>,
    /// Metric name ⇒ JSON pointer of a numeric field, e.g. `{percent: /percent}`.
    #[serde(default)]
    pub extract: BTreeMap<String, String>,
    /// The deployed version must equal this (a 7+ character prefix of a commit SHA also matches).
    #[serde(default)]
    pub expect_version: Option<String>,
    /// Where the version is read: `json:/version` (default) or `header:X-Version`.
    #[serde(default)]
    pub version_from: Option<String>,
    #[serde(default = "d_true")]
    pub follow_redirects: bool,
    #[serde(default = "d_max_redirects")]
    pub max_redirects: u32,
    /// Largest body read, after decompression; larger is a failure.
    #[serde(default = "d_max_body")]
    pub max_body_bytes: ByteSize,
    /// Accept any certificate (self-signed test targets). Certificate problems are
    /// still reported by an `ssl` monitor.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Security events: `true` for every check, or a block that chooses them.
    #[serde(default, deserialize_with = "de_security")]
    #[schemars(with = "Option<SecuritySetting>")]
    pub security: Option<Box<SecurityOptions>>,
}

fn d_get() -> String {
    "GET".into()
}

/// The checks behind `security:` on an `http` monitor; each is on unless set to `false`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityOptions {
    /// HTTPS responses carry `Strict-Transport-Security`.
    #[serde(default = "d_true")]
    pub hsts: bool,
    /// Smallest acceptable HSTS `max-age`.
    #[serde(default = "d_min_hsts_max_age")]
    pub min_hsts_max_age: Dur,
    /// Plain HTTP redirects to HTTPS.
    #[serde(default = "d_true")]
    pub redirect_https: bool,
    /// The plain-HTTP URL to try for `redirect_https`; default: the monitor's URL with
    /// `http://` on port 80 (an https URL on another port is then not tried).
    #[serde(default)]
    pub http_url: Option<String>,
    /// Responses carry `X-Content-Type-Options: nosniff`.
    #[serde(default = "d_true")]
    pub nosniff: bool,
    /// Responses carry a `Content-Security-Policy`.
    #[serde(default = "d_true")]
    pub csp: bool,
    /// Every `Set-Cookie` has `Secure` and `HttpOnly`.
    #[serde(default = "d_true")]
    pub cookies: bool,
    /// Paths on the monitor's origin that must not be served (a 2xx is a violation).
    #[serde(default = "d_forbidden_paths")]
    pub forbidden_paths: Vec<String>,
}

impl Default for SecurityOptions {
    fn default() -> Self {
        SecurityOptions {
            hsts: true,
            min_hsts_max_age: d_min_hsts_max_age(),
            redirect_https: true,
            http_url: None,
            nosniff: true,
            csp: true,
            cookies: true,
            forbidden_paths: d_forbidden_paths(),
        }
    }
}

// Mozilla's HTTP Observatory asks for at least six months.
fn d_min_hsts_max_age() -> Dur {
    Dur::secs(180 * 86_400)
}
fn d_forbidden_paths() -> Vec<String> {
    ["/.env", "/.git/HEAD", "/.git/config", "/server-status"].map(String::from).to_vec()
}

/// `security:` as written: `true`/`false` or a block (for the JSON Schema).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum SecuritySetting {
    On(bool),
    Options(SecurityOptions),
}

fn de_security<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<SecurityOptions>>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<Box<SecurityOptions>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("true, false, or a block such as {hsts: true, forbidden_paths: [/.env]}")
        }
        fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
            Ok(on.then(Box::default))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SecurityOptions::deserialize(de::value::MapAccessDeserializer::new(map)).map(|o| Some(Box::new(o)))
        }
    }
    d.deserialize_any(V)
}
fn d_max_redirects() -> u32 {
    10
}
fn d_max_body() -> ByteSize {
    ByteSize(10 << 20)
}

fn d_true() -> bool {
    true
}

struct Sample {
    /// The last response, also when its status was wrong (for `status_code`).
    resp: Option<Response>,
    err: Option<CheckError>,
    timings: Timings,
    attempts: u32,
}

pub async fn check(h: &HttpOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let url = match Url::parse(&h.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            return r.fail(CheckError::new(
                ErrorKind::Config,
                "url must be a full http:// or https:// URL such as https://example.com/health",
            ))
        }
    };
    let method = match Method::from_bytes(h.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => return r.fail(CheckError::new(ErrorKind::Config, format!("invalid HTTP method {:?}", h.method))),
    };
    let req = request(h, &url, &method, eff.timeout);
    let samples_n = eff.samples.max(1);
    let mut samples = Vec::with_capacity(samples_n as usize);
    for _ in 0..samples_n {
        samples.push(sample(h, &req, eff, env).await);
    }
    let violations = match &h.security {
        Some(opts) => {
            // The headers of the response the metrics describe: the last good one, else the last.
            let main = samples
                .iter()
                .rev()
                .find(|s| s.err.is_none() && s.resp.is_some())
                .or_else(|| samples.iter().rev().find(|s| s.resp.is_some()))
                .and_then(|s| s.resp.as_ref());
            match main {
                Some(resp) => Some(security::check(opts, h, &url, resp, eff, env).await),
                None => None,
            }
        }
        None => None,
    };
    evaluate(h, samples, &mut r);
    if let Some(v) = violations {
        r.set("security_violations", security::to_metric(&v));
    }
    r
}

/// One extra GET for the security checks: no configured headers or credentials (what
/// anyone on the internet gets), no redirects followed, a small body cap.
async fn probe(h: &HttpOptions, url: &Url, eff: &Effective, env: &CheckEnv) -> Result<Response, CheckError> {
    let p = Request {
        method: Method::GET,
        url: url.clone(),
        headers: Default::default(),
        body: None,
        timeout: eff.timeout,
        follow_redirects: false,
        max_redirects: h.max_redirects,
        max_body_bytes: 256 << 10,
        insecure_skip_verify: h.insecure_skip_verify,
    };
    let mut t = Timings::default();
    let phase = Cell::new("resolving the host");
    match tokio::time::timeout(eff.timeout, exchange(&p, url, &Method::GET, Bytes::new(), false, env, &mut t, &phase))
        .await
    {
        Ok(res) => res,
        Err(_) => Err(CheckError::new(ErrorKind::Timeout, format!("timed out while {}", phase.get()))),
    }
}

/// The transport request of one sample of `h`.
fn request(h: &HttpOptions, url: &Url, method: &Method, timeout: std::time::Duration) -> Request {
    Request {
        method: method.clone(),
        url: url.clone(),
        headers: h.headers.clone(),
        body: h.body.clone(),
        timeout,
        follow_redirects: h.follow_redirects,
        max_redirects: h.max_redirects,
        max_body_bytes: h.max_body_bytes.0,
        insecure_skip_verify: h.insecure_skip_verify,
    }
}

/// One sample: an attempt, retried (`retry::run`, the check policy) while the failure is
/// retryable: connect errors, timeouts, 5xx, 408 and 429, after backoff or the server's
/// `Retry-After`.
async fn sample(h: &HttpOptions, req: &Request, eff: &Effective, env: &CheckEnv) -> Sample {
    type Tried = (Result<Response, (CheckError, Option<Response>)>, Timings);
    let op = |_| async move {
        let mut timings = Timings::default();
        let phase = Cell::new("resolving the host");
        let t0 = Instant::now();
        let res = tokio::time::timeout(eff.timeout, attempt(req, env, &mut timings, &phase)).await;
        timings.total = t0.elapsed();
        let outcome = match res {
            Ok(Ok(resp)) => match status_error(h, &resp) {
                Some(e) => Err((e, Some(resp))),
                None => Ok(resp),
            },
            Ok(Err(e)) => Err((e, None)),
            Err(_) => Err((
                CheckError::new(
                    ErrorKind::Timeout,
                    format!(
                        "timed out after {} while {}",
                        crate::values::duration::format_duration(eff.timeout),
                        phase.get()
                    ),
                ),
                None,
            )),
        };
        (outcome, timings)
    };
    let judge = |(res, _): &Tried| match res {
        Ok(_) => Next::Done,
        Err((e, resp)) => match e.kind {
            ErrorKind::Connect | ErrorKind::Timeout => Next::Retry,
            ErrorKind::HttpStatus => match resp {
                Some(r) if retryable_status(r.status) => retry_next(&r.headers),
                _ => Next::Done,
            },
            _ => Next::Done,
        },
    };
    let out = retry::run(&Policy::check(eff.retries), &env.waiter, op, judge).await;
    let ((res, timings), attempts) = (out.value, out.attempts);
    match res {
        Ok(resp) => Sample { resp: Some(resp), err: None, timings, attempts },
        Err((mut e, resp)) => {
            e.message.push_str(&out.stop.clause());
            Sample { resp, err: Some(e), timings, attempts }
        }
    }
}

fn status_error(h: &HttpOptions, resp: &Response) -> Option<CheckError> {
    let ok = match &h.expected_status {
        Some(spec) => spec.matches(resp.status),
        None => StatusSpec::One(StatusItem::Class(2)).matches(resp.status),
    };
    if ok {
        return None;
    }
    let want = h.expected_status.as_ref().map(|s| s.describe()).unwrap_or_else(|| "2xx".into());
    let reason = StatusCode::from_u16(resp.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    Some(CheckError::new(
        ErrorKind::HttpStatus,
        format!("HTTP {} {reason}, expected {want}", resp.status).replace("  ", " "),
    ))
}

/// Turns the samples into status, error and metrics.
fn evaluate(h: &HttpOptions, samples: Vec<Sample>, r: &mut CheckResult) {
    let n = samples.len();
    let mut errors = 0usize;
    let mut last_err: Option<CheckError> = None;
    let mut last_ok: Option<&Response> = None;
    let mut last_any: Option<&Response> = None;
    let mut ok_times = Vec::new();
    // Only samples that got a response have a response time (as in the seed's script).
    let mut resp_times = Vec::new();
    let mut phases: [Vec<f64>; 5] = Default::default();
    let mut attempts = 0;
    for s in &samples {
        attempts += s.attempts;
        let total = ms(s.timings.total);
        if s.resp.is_some() {
            resp_times.push(total);
        }
        for (i, d) in
            [s.timings.dns, s.timings.connect, s.timings.tls, s.timings.ttfb, s.timings.transfer].iter().enumerate()
        {
            phases[i].push(ms(*d));
        }
        if let Some(resp) = &s.resp {
            last_any = Some(resp);
        }
        let err = match (&s.err, &s.resp) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(resp)) => assertions(h, resp).err(),
            (None, None) => Some(CheckError::new(ErrorKind::Protocol, "no response")),
        };
        match err {
            None => {
                ok_times.push(total);
                last_ok = s.resp.as_ref();
            }
            Some(e) => {
                errors += 1;
                last_err = Some(e);
            }
        }
    }
    let times = if ok_times.is_empty() { &resp_times } else { &ok_times };
    let p50 = percentile(times, 50.0);
    if !times.is_empty() {
        r.set("response_time_ms", p50);
    }
    r.set("samples", n as u64);
    r.set("errors", errors as u64);
    r.set("error_rate", round4(errors as f64 / n.max(1) as f64));
    if !times.is_empty() {
        r.set("p50_ms", p50);
        r.set("p95_ms", percentile(times, 95.0));
    }
    for (i, name) in ["dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms"].iter().enumerate() {
        r.set(name, percentile(&phases[i], 50.0));
    }
    r.set("attempts", attempts as u64);
    if let Some(resp) = last_ok.or(last_any) {
        r.set("status_code", resp.status as u64);
        r.set("body_bytes", resp.body.len() as u64);
        r.set("redirects", resp.redirects as u64);
        r.set("http_version", resp.version);
        if let Some(v) = resp.tls_version {
            r.set("tls_version", v);
        }
        if let Some(c) = &resp.cert {
            super::ssl::set_expiry(r, c);
        }
        for (k, v) in extracts(h, resp).unwrap_or_default() {
            r.metrics.insert(k, v);
        }
        if h.expect_version.is_some() {
            if let Some(v) = read_version(h, resp) {
                r.set("version", v);
            }
        }
    }

    if errors == n {
        r.status = Status::Down;
        r.error = last_err;
    } else if errors > 0 {
        r.status = Status::Degraded;
        let e = last_err.unwrap_or_else(|| CheckError::new(ErrorKind::Protocol, "request failed"));
        r.message = Some(format!("{errors} of {n} requests failed; last: {}", e.message));
        r.error = Some(e);
    } else {
        r.status = Status::Up;
        if let Some(max) = h.max_response_time {
            let max_ms = ms(max.get());
            if p50 > max_ms {
                r.status = Status::Degraded;
                r.message = Some(format!(
                    "response time {} is over max_response_time {}",
                    fmt_ms(p50),
                    crate::values::duration::format_duration(max.get())
                ));
            }
        }
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else {
        format!("{v:.0}ms")
    }
}

fn round4(v: f64) -> f64 {
    (v * 10000.0).round() / 10000.0
}

/// Nearest-rank percentile of `v` (unsorted); 0 for an empty slice.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

fn parse_json(resp: &Response, why: &str) -> Result<serde_json::Value, CheckError> {
    serde_json::from_slice(&resp.body).map_err(|e| {
        CheckError::new(ErrorKind::Assertion, format!("response body is not valid JSON ({e}), but {why} needs it"))
    })
}

/// Body, JSON, extract and version assertions on a response whose status was right.
fn assertions(h: &HttpOptions, resp: &Response) -> Result<(), CheckError> {
    if let Some(needles) = &h.body_contains {
        let hay = String::from_utf8_lossy(&resp.body);
        for n in needles.items() {
            if !hay.contains(n) {
                return Err(CheckError::new(ErrorKind::Assertion, format!("body does not contain {n:?}")));
            }
        }
    }
    if let Some(needles) = &h.body_not_contains {
        let hay = String::from_utf8_lossy(&resp.body);
        for n in needles.items() {
            if hay.contains(n) {
                return Err(CheckError::new(ErrorKind::Assertion, format!("body contains {n:?}")));
            }
        }
    }
    if !h.json.is_empty() {
        let doc = parse_json(resp, "`json:`")?;
        for (ptr, want) in &h.json {
            match doc.pointer(ptr) {
                None => {
                    return Err(CheckError::new(
                        ErrorKind::Assertion,
                        format!("JSON {ptr} is missing, expected {want}"),
                    ))
                }
                Some(got) if !json_eq(got, want) => {
                    return Err(CheckError::new(ErrorKind::Assertion, format!("JSON {ptr} is {got}, expected {want}")))
                }
                _ => {}
            }
        }
    }
    extracts(h, resp)?;
    if let Some(want) = &h.expect_version {
        match read_version(h, resp) {
            None => {
                return Err(CheckError::new(
                    ErrorKind::Assertion,
                    format!(
                        "no version found at {}, expected {want}",
                        h.version_from.as_deref().unwrap_or("json:/version")
                    ),
                ))
            }
            Some(got) if !version_matches(&got, want) => {
                return Err(CheckError::new(
                    ErrorKind::Assertion,
                    format!("deployed version is {got}, expected {want}"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// `extract:` entries as numeric metrics. Booleans count as 0/1, numeric strings as numbers.
fn extracts(h: &HttpOptions, resp: &Response) -> Result<Vec<(String, serde_json::Value)>, CheckError> {
    if h.extract.is_empty() {
        return Ok(Vec::new());
    }
    let doc = parse_json(resp, "`extract:`")?;
    let mut out = Vec::new();
    for (name, ptr) in &h.extract {
        let v = doc.pointer(ptr).ok_or_else(|| {
            CheckError::new(ErrorKind::Assertion, format!("extract {name}: {ptr} is not in the response"))
        })?;
        let num = match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            serde_json::Value::String(s) => s.trim().trim_end_matches('%').parse::<f64>().ok(),
            _ => None,
        }
        .filter(|f| f.is_finite())
        .ok_or_else(|| CheckError::new(ErrorKind::Assertion, format!("extract {name}: {ptr} is {v}, not a number")))?;
        out.push((name.clone(), serde_json::json!(num)));
    }
    Ok(out)
}

fn read_version(h: &HttpOptions, resp: &Response) -> Option<String> {
    let from = h.version_from.as_deref().unwrap_or("json:/version");
    if let Some(name) = from.strip_prefix("header:") {
        return resp.headers.get(name.trim()).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
    }
    let ptr = from.strip_prefix("json:").unwrap_or(from);
    let doc: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    match doc.pointer(ptr)? {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Equal, or one a prefix of the other of at least 7 characters (short and full commit SHAs).
pub fn version_matches(got: &str, want: &str) -> bool {
    if got == want {
        return true;
    }
    let (short, long) = if got.len() < want.len() { (got, want) } else { (want, got) };
    short.len() >= 7 && long.starts_with(short) && short.chars().all(|c| c.is_ascii_hexdigit())
}

/// The checks of an `http` monitor's options beyond serde's.
fn validate(p: &str, h: &HttpOptions, err: &mut dyn FnMut(&str, String)) {
    check_url(&format!("{p}.url"), &h.url, err);
    if Method::from_bytes(h.method.to_ascii_uppercase().as_bytes()).is_err() || h.method.is_empty() {
        err(&format!("{p}.method"), format!("invalid HTTP method {:?}", h.method));
    }
    for (k, v) in &h.headers {
        if HeaderName::from_bytes(k.as_bytes()).is_err() {
            err(&format!("{p}.headers.{k}"), format!("invalid header name {k:?}"));
        } else if HeaderValue::from_str(v.expose()).is_err() {
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
        let ok = v.strip_prefix("header:").is_some_and(|n| HeaderName::from_bytes(n.trim().as_bytes()).is_ok())
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

impl Kind for HttpOptions {
    /// Security events of monitors with `security:` (see `http/security.rs`): each holds
    /// when the check reported a violation of its name, whose message is the variable of
    /// the same name.
    const DEFAULT_RULES: &'static [DefaultRule] = &[
        DefaultRule::once("security_hsts_missing", "'security_hsts_missing' in security_rules", "{name}: {security_hsts_missing}", Severity::Medium),
        DefaultRule::once("security_hsts_max_age", "'security_hsts_max_age' in security_rules", "{name}: {security_hsts_max_age}", Severity::Low),
        DefaultRule::once("security_https_redirect", "'security_https_redirect' in security_rules", "{name}: {security_https_redirect}", Severity::Medium),
        DefaultRule::once("security_nosniff_missing", "'security_nosniff_missing' in security_rules", "{name}: {security_nosniff_missing}", Severity::Low),
        DefaultRule::once("security_csp_missing", "'security_csp_missing' in security_rules", "{name}: {security_csp_missing}", Severity::Low),
        DefaultRule::once("security_insecure_cookie", "'security_insecure_cookie' in security_rules", "{name}: {security_insecure_cookie}", Severity::Medium),
        DefaultRule::once("security_forbidden_path", "'security_forbidden_path' in security_rules", "{name}: {security_forbidden_path}", Severity::High),
    ];
    fn secrets(&self, out: &mut Vec<String>) {
        url_secrets(&self.url, out);
        for v in self.headers.values() {
            out.push(v.expose().to_string());
            // `Bearer X`, `Basic X`, `Token X`: the credential alone, as the redactor has it.
            let parts: Vec<&str> = v.expose().split_whitespace().collect();
            out.extend(parts.iter().skip(1).filter(|p| p.len() >= 6).map(|p| p.to_string()));
        }
    }
    fn target(&self) -> String {
        self.url.clone()
    }
    fn host_key(&self) -> Option<String> {
        url::Url::parse(&self.url)
            .ok()
            .map(|u| format!("{}:{}", u.host_str().unwrap_or(""), u.port_or_known_default().unwrap_or(0)))
    }
    fn validate(&self, at: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        validate(at, self, err)
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("response_time_ms", Num),
        ("samples", Num),
        ("errors", Num),
        ("error_rate", Num),
        ("p50_ms", Num),
        ("p95_ms", Num),
        ("dns_ms", Num),
        ("connect_ms", Num),
        ("tls_ms", Num),
        ("ttfb_ms", Num),
        ("transfer_ms", Num),
        ("attempts", Num),
        ("status_code", Num),
        ("body_bytes", Num),
        ("redirects", Num),
        ("http_version", Str),
        ("tls_version", Str),
        ("days_left", Num),
        ("not_after", Str),
        ("version", Str),
        ("security_violations", Objs),
    ];
    /// `days_left`/`not_after` of a served leaf certificate (`ssl::set_expiry`, also https `http`).
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("response_time_ms", N),
            ("response_time", N),
            ("samples", N),
            ("errors", N),
            ("error_rate", N),
            ("p50_ms", N),
            ("p95_ms", N),
            ("dns_ms", N),
            ("connect_ms", N),
            ("tls_ms", N),
            ("ttfb_ms", N),
            ("transfer_ms", N),
            ("attempts", N),
            ("status_code", N),
            ("body_bytes", N),
            ("redirects", N),
            ("http_version", S),
            ("tls_version", S),
            ("days_left", N),
            ("not_after", S),
            ("warning_days", N),
            ("critical_days", N),
            ("version", S),
            ("security_violations", Ty::List(&MAP_S)),
            ("security_rules", LIST_S),
        ]
    };
    const OPEN_METRICS: Option<Metric> = Some(Metric::Num);
    fn rule_variables(&self, r: &CheckResult) -> Vec<(&'static str, serde_json::Value)> {
        // https monitors report `days_left` too; `cert_expiring` needs thresholds there,
        // and they are the `ssl` defaults (30 and 7 days).
        if r.metrics.contains_key("days_left") {
            vec![("warning_days", serde_json::json!(30)), ("critical_days", serde_json::json!(7))]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Strategy;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 100.0);
        assert_eq!(percentile(&[], 95.0), 0.0);
    }

    fn response(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            headers: http::HeaderMap::new(),
            body,
            version: "HTTP/1.1",
            tls_version: None,
            cert: None,
            redirects: 0,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// JSON assertions and `extract:` over any body (bytes, or JSON of any shape) and
        /// any pointer never panic; a failure is an assertion error with a bounded message.
        #[test]
        fn json_checks_of_any_body_never_panic(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            doc in proptest::prop_oneof![
                proptest::prelude::Just(serde_json::json!(null)),
                "(?s).{0,40}".prop_map(serde_json::Value::from),
                proptest::prelude::any::<f64>().prop_map(|f| serde_json::json!(f)),
                proptest::collection::btree_map("[a-z~0-9/]{0,4}", "[^\"]{0,12}", 0..5)
                    .prop_map(|m| serde_json::json!({"a": m, "percent": "93%", "b": [1, {"c": true}]})),
            ],
            use_raw in proptest::prelude::any::<bool>(),
            ptr in "(/[a-z~0-9]{0,4}){0,4}",
        ) {
            let body = if use_raw { raw } else { serde_json::to_vec(&doc).unwrap() };
            let yaml = format!(
                "name: a\ntype: http\nurl: https://example.com\njson: {{{ptr:?}: 1}}\nextract: {{x: {ptr:?}, p: /percent}}\nexpect_version: abc1234\n"
            );
            let m: crate::checks::Monitor = yaml_serde::from_str(&yaml).unwrap();
            let crate::checks::MonitorKind::Http(h) = &m.kind else { unreachable!() };
            let resp = response(body);
            if let Err(e) = assertions(h, &resp) {
                proptest::prop_assert!(e.message.chars().count() < 4_000, "{}", e.message);
            }
            let _ = extracts(h, &resp);
        }
    }

    #[test]
    fn short_sha_matches_full_sha() {
        assert!(version_matches("abc1234", "abc1234def5678"));
        assert!(!version_matches("abc", "abcdef0"));
        assert!(!version_matches("1.2.0", "1.2.1"));
    }
}
