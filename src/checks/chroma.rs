//! The `chroma` check: a Chroma server's heartbeat, version, collection count and the record
//! counts of named collections, over its `/api/v2` HTTP API.
//!
//! It talks through the shared HTTP transport ([`super::transport::Session`]): DNS,
//! connect, TLS and timeouts fail with the same error kinds as an `http` monitor (and
//! resolve in a `scratch` container), and the five-or-so calls of one check share one
//! keep-alive connection.

use schemars::JsonSchema;
use serde::Deserialize;

use std::time::Duration;

use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{Method, StatusCode};
use url::Url;

use super::kinds::{DefaultRule, Kind, check_url, url_secrets};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::values::vartype::Ty;
use crate::values::Secret;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChromaOptions {
    /// Base URL of the Chroma server, e.g. `http://chroma:8000` (the check adds `/api/v2/...`).
    pub url: String,
    #[serde(default = "d_tenant")]
    pub tenant: String,
    #[serde(default = "d_database")]
    pub database: String,
    /// Collections whose record counts are reported; a missing one is a finding.
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    /// Header that carries `token` (default `Authorization: Bearer`).
    #[serde(default)]
    pub auth_header: Option<String>,
    /// Accept any certificate (self-signed test targets).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn d_tenant() -> String {
    "default_tenant".into()
}
fn d_database() -> String {
    "default_database".into()
}
/// Chroma's answers here are tiny JSON documents; anything bigger is not Chroma.
const MAX_BODY: u64 = 1 << 20;

use super::transport::{Request, Session};

pub async fn check(c: &ChromaOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let base = match Url::parse(&c.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            return r.fail(CheckError::new(
                ErrorKind::Config,
                "url must be the Chroma server's http:// or https:// base URL, such as http://chroma:8000",
            ))
        }
    };
    let auth = match auth_header(c) {
        Ok(a) => a,
        Err(e) => return r.fail(e),
    };
    let mut api =
        Api { base, env, timeout: eff.timeout, auth, insecure: c.insecure_skip_verify, session: Session::default() };
    if let Err(e) = run(c, &mut api, &mut r).await {
        if !r.metrics.contains_key("heartbeat_ok") {
            r.set("heartbeat_ok", false);
        }
        r = r.fail(e);
    }
    r
}

/// `token` as a header: `Authorization: Bearer <token>` unless `auth_header` names another
/// header (`X-Chroma-Token`), which then carries the bare token.
fn auth_header(c: &ChromaOptions) -> Result<Option<(String, Secret)>, CheckError> {
    let Some(token) = c.token.as_ref().filter(|t| !t.is_empty()) else { return Ok(None) };
    let name = c.auth_header.as_deref().unwrap_or("Authorization").trim();
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| CheckError::new(ErrorKind::Config, format!("auth_header {name:?} is not a valid header name")))?;
    let value = if name == AUTHORIZATION { format!("Bearer {}", token.expose()) } else { token.expose().to_string() };
    HeaderValue::from_str(&value)
        .map_err(|_| CheckError::new(ErrorKind::Config, "token contains characters not allowed in an HTTP header"))?;
    Ok(Some((name.as_str().to_string(), Secret::new(value))))
}

async fn run(c: &ChromaOptions, api: &mut Api<'_>, r: &mut CheckResult) -> Result<(), CheckError> {
    let beat = api.get_json(&["heartbeat"]).await?;
    if beat.get("nanosecond heartbeat").is_none() {
        return Err(CheckError::new(
            ErrorKind::Protocol,
            format!("/api/v2/heartbeat answered {}, not a Chroma heartbeat; is url a Chroma server?", short(&beat)),
        ));
    }
    r.set("heartbeat_ok", true);
    match api.get_json(&["version"]).await? {
        serde_json::Value::String(v) => r.set("version", v),
        other => r.set("version", other.to_string()),
    }

    let db = ["tenants", c.tenant.as_str(), "databases", c.database.as_str()];
    // Chroma answers collections_count 0 for a database that does not exist; ask first.
    if api.get_opt(&db).await?.is_none() {
        return Err(CheckError::new(
            ErrorKind::Assertion,
            format!("database {:?} of tenant {:?} does not exist on this Chroma server", c.database, c.tenant),
        ));
    }
    let count = api.get_json(&[&db[..], &["collections_count"]].concat()).await?;
    r.set("collections_count", as_count(&count, "collections_count")?);

    let mut missing = Vec::new();
    for name in &c.collections {
        let Some(coll) = api.get_opt(&[&db[..], &["collections", name.as_str()]].concat()).await? else {
            missing.push(name.clone());
            continue;
        };
        let id = coll.get("id").and_then(|v| v.as_str()).ok_or_else(|| {
            CheckError::new(
                ErrorKind::Protocol,
                format!("collection {name:?} came back without an id: {}", short(&coll)),
            )
        })?;
        let n = api.get_json(&[&db[..], &["collections", id, "count"]].concat()).await?;
        r.set(&format!("records.{name}"), as_count(&n, "count")?);
    }
    r.set("collections_missing", serde_json::json!(missing));
    if !missing.is_empty() {
        r.status = Status::Degraded;
        r.message = Some(format!(
            "collection{} not found in {}/{}: {}",
            if missing.len() == 1 { "" } else { "s" },
            c.tenant,
            c.database,
            missing.join(", ")
        ));
    }
    Ok(())
}

fn as_count(v: &serde_json::Value, what: &str) -> Result<u64, CheckError> {
    v.as_u64().ok_or_else(|| CheckError::new(ErrorKind::Protocol, format!("{what} is {}, not a count", short(v))))
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        s.chars().take(119).collect::<String>() + "…"
    } else {
        s
    }
}

/// A tiny GET-only JSON client for one Chroma server, over one keep-alive connection.
struct Api<'a> {
    base: Url,
    env: &'a CheckEnv,
    timeout: Duration,
    auth: Option<(String, Secret)>,
    insecure: bool,
    session: Session,
}

impl Api<'_> {
    /// `/api/v2/` + segments, each percent-encoded, after any path the base URL has.
    fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.base.clone();
        u.set_query(None);
        u.set_fragment(None);
        if let Ok(mut p) = u.path_segments_mut() {
            p.pop_if_empty().extend(["api", "v2"]).extend(segments);
        }
        u
    }

    async fn get_json(&mut self, segments: &[&str]) -> Result<serde_json::Value, CheckError> {
        let url = self.url(segments);
        let (status, body) = self.get(&url).await?;
        if status == 404 {
            return Err(status_error(&url, status, &body));
        }
        parse(&url, &body)
    }

    /// Like [`Self::get_json`], with 404 as `None`.
    async fn get_opt(&mut self, segments: &[&str]) -> Result<Option<serde_json::Value>, CheckError> {
        let url = self.url(segments);
        let (status, body) = self.get(&url).await?;
        if status == 404 {
            return Ok(None);
        }
        parse(&url, &body).map(Some)
    }

    /// One GET under the timeout; returns 2xx and 404 answers, fails on the rest.
    async fn get(&mut self, url: &Url) -> Result<(u16, Vec<u8>), CheckError> {
        let mut req = Request::api(Method::GET, url.clone(), self.timeout, MAX_BODY);
        req.follow_redirects = false;
        req.insecure_skip_verify = self.insecure;
        req.headers.insert("Accept".into(), Secret::new("application/json"));
        if let Some((k, v)) = &self.auth {
            req.headers.insert(k.clone(), v.clone());
        }
        let resp = self.session.send(&req, self.env).await?;
        if (200..300).contains(&resp.status) || resp.status == 404 {
            Ok((resp.status, resp.body))
        } else {
            Err(status_error(url, resp.status, &resp.body))
        }
    }
}

fn parse(url: &Url, body: &[u8]) -> Result<serde_json::Value, CheckError> {
    serde_json::from_slice(body).map_err(|e| {
        CheckError::new(ErrorKind::Protocol, format!("{} answered something that is not JSON ({e})", url.path()))
    })
}

fn status_error(url: &Url, status: u16, body: &[u8]) -> CheckError {
    let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
    // Chroma's errors are `{"error": "...", "message": "..."}`; show the message.
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    let kind = if matches!(status, 401 | 403) { ErrorKind::Auth } else { ErrorKind::HttpStatus };
    let hint = if kind == ErrorKind::Auth { "; check `token` and `auth_header`" } else { "" };
    CheckError::new(
        kind,
        format!("GET {} answered HTTP {status} {reason}{detail}{hint}", url.path()).replace("  ", " "),
    )
}

impl Kind for ChromaOptions {
    const DEFAULT_RULES: &'static [DefaultRule] = &[DefaultRule::once(
        "chroma_collection_missing",
        "size(collections_missing) > 0",
        "Chroma {name} is missing collections: {collections_missing}",
        Severity::High,
    )];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("heartbeat_ok", B),
            ("version", S),
            ("collections_count", N),
            ("records", MAP_N),
            ("collections_missing", LIST_S),
        ]
    };
    fn secrets(&self, out: &mut Vec<String>) {
        url_secrets(&self.url, out);
        out.extend(self.token.iter().map(|t| t.expose().to_string()));
    }
    fn target(&self) -> String {
        self.url.clone()
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        check_url(&format!("{p}.url"), &self.url, err);
        if let Some(h) = &self.auth_header {
            if HeaderName::from_bytes(h.trim().as_bytes()).is_err() {
                err(&format!("{p}.auth_header"), format!("{h:?} is not a header name; write e.g. X-Chroma-Token"));
            }
        }
        for (j, c) in self.collections.iter().enumerate() {
            if c.trim().is_empty() {
                err(&format!("{p}.collections[{j}]"), "must not be empty".into());
            }
        }
    }
    const METRICS: &'static [(&'static str, Metric)] =
        &[("heartbeat_ok", Bool), ("version", Str), ("collections_count", Num), ("collections_missing", Strs)];
    const METRIC_PATTERNS: &'static [(&'static str, Metric)] = &[(r"^records\.", Metric::Num)];
    fn summary_parts(r: &CheckResult, parts: &mut Vec<String>) {
        if let Some(c) = r.metric_f64("collections_count") {
            parts.push(format!("{c} collections"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let env = CheckEnv::new(Default::default());
        let api = Api {
            base: Url::parse("https://h/chroma/").unwrap(),
            env: &env,
            timeout: Duration::from_secs(1),
            auth: None,
            insecure: false,
            session: Session::default(),
        };
        assert_eq!(
            api.url(&["tenants", "t", "databases", "d b", "collections", "a/b"]).as_str(),
            "https://h/chroma/api/v2/tenants/t/databases/d%20b/collections/a%2Fb"
        );
    }

    #[test]
    fn token_goes_in_bearer_or_the_named_header() {
        let mut c: ChromaOptions = yaml_serde::from_str("url: http://h\ntoken: tok123\n").unwrap();
        let (k, v) = auth_header(&c).unwrap().unwrap();
        assert_eq!((k.as_str(), v.expose()), ("authorization", "Bearer tok123"));
        c.auth_header = Some("X-Chroma-Token".into());
        let (k, v) = auth_header(&c).unwrap().unwrap();
        assert_eq!((k.as_str(), v.expose()), ("x-chroma-token", "tok123"));
    }
}
