//! The `chroma` check: a Chroma server's heartbeat, version, collection count and the record
//! counts of named collections, over its `/api/v2` HTTP API.
//!
//! It drives hyper over the connection [`super::net`] opens rather than using reqwest: DNS,
//! connect, TLS and timeouts then fail with the same error kinds as an `http` monitor (and
//! resolve in a `scratch` container), and the five-or-so calls of one check share one
//! keep-alive connection.

use schemars::JsonSchema;
use serde::Deserialize;

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, HOST, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo};
use url::Url;

use super::kinds::{DefaultRule, Kind, check_url, url_secrets};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::values::duration::format_duration;
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

const UA: &str = concat!("vaktpost/", env!("CARGO_PKG_VERSION"), " (+https://github.com/vaktpost/vaktpost)");
/// Chroma's answers here are tiny JSON documents; anything bigger is not Chroma.
const MAX_BODY: usize = 1 << 20;

use super::transport::Io;

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
    let mut api = Api { base, env, timeout: eff.timeout, auth, insecure: c.insecure_skip_verify, conn: None };
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
fn auth_header(c: &ChromaOptions) -> Result<Option<(HeaderName, HeaderValue)>, CheckError> {
    let Some(token) = c.token.as_ref().filter(|t| !t.is_empty()) else { return Ok(None) };
    let name = c.auth_header.as_deref().unwrap_or("Authorization").trim();
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| CheckError::new(ErrorKind::Config, format!("auth_header {name:?} is not a valid header name")))?;
    let value = if name == AUTHORIZATION { format!("Bearer {}", token.expose()) } else { token.expose().to_string() };
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| CheckError::new(ErrorKind::Config, "token contains characters not allowed in an HTTP header"))?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
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

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

struct Conn {
    sender: Sender,
    _task: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A tiny GET-only JSON client for one Chroma server.
struct Api<'a> {
    base: Url,
    env: &'a CheckEnv,
    timeout: Duration,
    auth: Option<(HeaderName, HeaderValue)>,
    insecure: bool,
    conn: Option<Conn>,
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
        let mut phase = "connecting";
        let res = tokio::time::timeout(self.timeout, self.exchange(url, &mut phase)).await;
        let (status, body) = res.map_err(|_| {
            CheckError::new(
                ErrorKind::Timeout,
                format!("timed out after {} while {phase} ({})", format_duration(self.timeout), url.path()),
            )
        })??;
        if (200..300).contains(&status) || status == 404 {
            Ok((status, body))
        } else {
            Err(status_error(url, status, &body))
        }
    }

    async fn exchange(&mut self, url: &Url, phase: &mut &'static str) -> Result<(u16, Vec<u8>), CheckError> {
        let reusable = match &mut self.conn {
            Some(Conn { sender: Sender::H1(s), .. }) => s.ready().await.is_ok(),
            Some(Conn { sender: Sender::H2(s), .. }) => s.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            self.conn = Some(self.connect(phase).await?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(CheckError::new(ErrorKind::Connect, "no connection to the Chroma server"));
        };
        let h2 = matches!(conn.sender, Sender::H2(_));
        let uri: http::Uri =
            if h2 { url.as_str().parse() } else { url[url::Position::BeforePath..url::Position::AfterQuery].parse() }
                .map_err(|e| CheckError::new(ErrorKind::Config, format!("cannot use URL path {}: {e}", url.path())))?;
        let mut req = Request::get(uri)
            .body(Empty::<Bytes>::new())
            .map_err(|e| CheckError::new(ErrorKind::Config, format!("cannot build the request: {e}")))?;
        let headers = req.headers_mut();
        if !h2 {
            if let Some(v) = super::transport::host_header(url) {
                headers.insert(HOST, v);
            }
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(UA));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some((k, v)) = &self.auth {
            headers.insert(k.clone(), v.clone());
        }
        *phase = "waiting for the response";
        let resp = match &mut conn.sender {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
        .map_err(|e| hyper_error(&e))?;
        let status = resp.status().as_u16();
        *phase = "reading the body";
        let body = Limited::new(resp.into_body(), MAX_BODY).collect().await.map_err(|e| {
            CheckError::new(ErrorKind::Protocol, format!("reading the answer to {} failed: {e}", url.path()))
        })?;
        Ok((status, body.to_bytes().to_vec()))
    }

    async fn connect(&self, phase: &mut &'static str) -> Result<Conn, CheckError> {
        let host = self.base.host_str().unwrap_or_default().to_string();
        let port = self.base.port_or_known_default().unwrap_or(80);
        *phase = "resolving the host";
        let addrs = self.env.net.resolve(&host).await?;
        *phase = "connecting";
        let tcp = self.env.net.connect(&addrs, port).await?;
        let mut h2 = false;
        let io: Box<dyn Io> = if self.base.scheme() == "https" {
            *phase = "in the TLS handshake";
            let tls = self.env.net.tls(tcp, &host, self.insecure).await?;
            h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        *phase = "starting HTTP";
        let io = TokioIo::new(io);
        let (sender, task) = if h2 {
            let (s, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.map_err(|e| hyper_error(&e))?;
            (Sender::H2(s), tokio::spawn(async move { drop(conn.await) }))
        } else {
            let (s, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| hyper_error(&e))?;
            (Sender::H1(s), tokio::spawn(async move { drop(conn.await) }))
        };
        Ok(Conn { sender, _task: AbortOnDrop(task) })
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

fn hyper_error(e: &hyper::Error) -> CheckError {
    let msg = super::transport::describe_hyper(e);
    if e.is_parse() || e.is_parse_status() {
        CheckError::new(ErrorKind::Protocol, format!("the server does not speak HTTP as expected: {msg}"))
    } else {
        CheckError::new(ErrorKind::Connect, format!("the connection to the Chroma server failed: {msg}"))
    }
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
            conn: None,
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
        assert_eq!((k.as_str(), v.to_str().unwrap()), ("authorization", "Bearer tok123"));
        c.auth_header = Some("X-Chroma-Token".into());
        let (k, v) = auth_header(&c).unwrap().unwrap();
        assert_eq!((k.as_str(), v.to_str().unwrap()), ("x-chroma-token", "tok123"));
    }
}
