//! The `railway` check: the latest deployment of a Railway service, read over Railway's
//! public GraphQL API, so a failed, crashed or stuck deploy becomes a finding even when
//! the previous deployment still answers HTTP checks.
//!
//! The query (Railway's `deployments` connection, newest first):
//!
//! ```graphql
//! query VaktpostLatestDeployment($input: DeploymentListInput!, $first: Int) {
//!   deployments(input: $input, first: $first) {
//!     edges { node { id status createdAt staticUrl } }
//!   }
//! }
//! ```
//!
//! with `input: {serviceId, environmentId?, projectId?}` and `first: 1`. An account or
//! workspace token goes in `Authorization: Bearer`, a project token in
//! `Project-Access-Token`. GraphQL reports most failures as `errors` in an HTTP 200
//! answer; those are failures here too. A 429 is waited out once when `Retry-After` (or
//! `X-RateLimit-Reset`) asks for a short wait, and reported otherwise.

use schemars::JsonSchema;
use serde::Deserialize;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::Method;
use serde_json::{json, Value};
use url::Url;

use super::kinds::{DefaultRule, Kind, check_url, url_secrets};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::transport::{api_request, with_retries, ApiResponse, Request};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::retry::{self, Next, Policy, Stop};
use crate::values::duration::format_duration;
use crate::values::vartype::Ty;
use crate::values::{Dur, Secret};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RailwayOptions {
    /// The service whose latest deployment is checked (Railway dashboard: service
    /// settings, or `railway status --json`).
    pub service_id: String,
    /// The environment (e.g. production) of that service; without it Railway answers
    /// for all of the service's environments.
    #[serde(default)]
    pub environment_id: Option<String>,
    /// The project, to narrow the query further (optional).
    #[serde(default)]
    pub project_id: Option<String>,
    /// An account or workspace token, sent as `Authorization: Bearer`. Defaults to
    /// `${RAILWAY_TOKEN}` when neither `token` nor `project_token` is set.
    #[serde(default)]
    pub token: Option<Secret>,
    /// A project token, sent as `Project-Access-Token` (what the Railway CLI reads from
    /// `RAILWAY_TOKEN`; write `project_token: ${RAILWAY_TOKEN}` for one).
    #[serde(default)]
    pub project_token: Option<Secret>,
    /// Railway's public GraphQL endpoint; default `https://backboard.railway.com/graphql/v2`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// A deployment still building or deploying after this long is stuck (default 20m).
    #[serde(default)]
    pub max_build_time: Option<Dur>,
}

pub const DEFAULT_API_URL: &str = "https://backboard.railway.com/graphql/v2";
/// `max_build_time` when unset: Railway builds usually finish in minutes.
pub const DEFAULT_MAX_BUILD_TIME: Duration = Duration::from_secs(20 * 60);
/// The longest rate-limit wait a check sits through before reporting it instead.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);

const QUERY: &str = "query VaktpostLatestDeployment($input: DeploymentListInput!, $first: Int) { deployments(input: $input, first: $first) { edges { node { id status createdAt staticUrl } } } }";

/// Statuses of a deployment that is still on its way.
const IN_PROGRESS: &[&str] = &["QUEUED", "WAITING", "INITIALIZING", "BUILDING", "DEPLOYING", "NEEDS_APPROVAL"];

pub async fn check(o: &RailwayOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let url = match Url::parse(o.api_url.as_deref().unwrap_or(DEFAULT_API_URL)) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            return r.fail(CheckError::new(
                ErrorKind::Config,
                format!("api_url must be a full http(s) URL such as {DEFAULT_API_URL}"),
            ))
        }
    };
    let mut headers = BTreeMap::new();
    headers.insert("Content-Type".to_string(), Secret::new("application/json"));
    headers.insert("Accept".to_string(), Secret::new("application/json"));
    match (&o.token, &o.project_token) {
        (Some(t), _) if !t.is_empty() => {
            headers.insert("Authorization".into(), Secret::new(format!("Bearer {}", t.expose())));
        }
        (_, Some(t)) if !t.is_empty() => {
            headers.insert("Project-Access-Token".into(), t.clone());
        }
        _ => {
            return r.fail(CheckError::new(
                ErrorKind::Config,
                "no Railway token: set RAILWAY_TOKEN (an account or workspace token), or `token:` / `project_token:` on the monitor",
            ))
        }
    }
    let mut input = serde_json::Map::new();
    input.insert("serviceId".into(), json!(o.service_id));
    if let Some(e) = &o.environment_id {
        input.insert("environmentId".into(), json!(e));
    }
    if let Some(p) = &o.project_id {
        input.insert("projectId".into(), json!(p));
    }
    let body = json!({"query": QUERY, "variables": {"input": input, "first": 1}}).to_string();
    let max_build = o.max_build_time.map(|d| d.get()).unwrap_or(DEFAULT_MAX_BUILD_TIME);
    r.set("max_build_time_s", max_build.as_secs());

    let resp = match post(&url, &headers, &body, eff, env, r.started_at, &mut r).await {
        Ok(resp) => resp,
        Err(e) => return r.fail(e),
    };
    match read(o, &resp, max_build, &mut r) {
        Ok(()) => r,
        Err(e) => r.fail(e),
    }
}

/// POSTs the query; waits out one short rate limit (`retry::run`: one more attempt, a
/// wait of at most 10 s, never past the run's deadline).
async fn post(
    url: &Url,
    headers: &BTreeMap<String, Secret>,
    body: &str,
    eff: &Effective,
    env: &CheckEnv,
    now: DateTime<Utc>,
    r: &mut CheckResult,
) -> Result<ApiResponse, CheckError> {
    let mut req = Request::api(Method::POST, url.clone(), eff.timeout, 1 << 20);
    req.headers = headers.clone();
    req.body = Some(body.to_string());
    let op = |_| with_retries(eff.retries, &env.waiter, |_| api_request(req.clone(), env));
    let judge = |res: &Result<ApiResponse, CheckError>| match res {
        Ok(resp) if resp.status == 429 => rate_limit_wait(resp, now).map_or(Next::Done, Next::RetryAfter),
        _ => Next::Done,
    };
    let policy = Policy { max_server_wait: MAX_RATE_LIMIT_WAIT, ..Policy::check(1) };
    let out = retry::run(&policy, &env.waiter, op, judge).await;
    if let Some(w) = out.waits.first() {
        r.set("rate_limited_wait_ms", w.as_millis() as u64);
    }
    let resp = out.value?;
    if let Some(n) = header(&resp, "x-ratelimit-remaining").and_then(|v| v.parse::<u64>().ok()) {
        r.set("rate_limit_remaining", n);
    }
    if resp.status != 429 {
        return Ok(resp);
    }
    let after = rate_limit_wait(&resp, now)
        .map(|w| format!("; Railway asks to retry after {}", format_duration(w)))
        .unwrap_or_default();
    let deadline = match out.stop {
        Stop::Deadline { .. } => "; not waited out, as that would pass the run's deadline",
        _ => "",
    };
    Err(CheckError::new(
        ErrorKind::HttpStatus,
        format!(
            "Railway's API answered HTTP 429 Too Many Requests{after}{deadline}; check this monitor less often (interval) or share fewer checks per token"
        ),
    ))
}

fn header<'a>(resp: &'a ApiResponse, name: &str) -> Option<&'a str> {
    resp.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// `Retry-After` seconds, else `X-RateLimit-Reset` (epoch seconds) from now.
fn rate_limit_wait(resp: &ApiResponse, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(secs) = header(resp, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let reset = header(resp, "x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())?;
    Some(Duration::from_secs(reset.saturating_sub(now.timestamp()).max(0) as u64))
}

fn read(o: &RailwayOptions, resp: &ApiResponse, max_build: Duration, r: &mut CheckResult) -> Result<(), CheckError> {
    if matches!(resp.status, 401 | 403) {
        return Err(auth_error(&format!("HTTP {}", resp.status)));
    }
    let doc: Option<Value> = serde_json::from_slice(&resp.body).ok();
    if !(200..300).contains(&resp.status) {
        let detail = doc.as_ref().and_then(error_messages).map(|m| format!(": {m}")).unwrap_or_default();
        return Err(CheckError::new(
            ErrorKind::HttpStatus,
            format!("Railway's API answered HTTP {}{detail}", resp.status),
        ));
    }
    let Some(doc) = doc else {
        return Err(CheckError::new(
            ErrorKind::Protocol,
            "Railway's API answered something that is not JSON; is api_url Railway's GraphQL endpoint?",
        ));
    };
    if let Some(msgs) = error_messages(&doc) {
        let lower = msgs.to_lowercase();
        if lower.contains("not authorized") || lower.contains("unauthorized") || lower.contains("forbidden") {
            return Err(auth_error(&msgs));
        }
        return Err(CheckError::new(
            ErrorKind::Protocol,
            format!("Railway's API answered GraphQL errors: {msgs}; check service_id and environment_id"),
        ));
    }
    let Some(edges) = doc.pointer("/data/deployments/edges").and_then(Value::as_array) else {
        return Err(CheckError::new(
            ErrorKind::Protocol,
            "Railway's answer has no data.deployments.edges; is api_url Railway's GraphQL endpoint?",
        ));
    };
    let Some(node) = edges.first().and_then(|e| e.get("node")) else {
        let env = o.environment_id.as_deref().map(|e| format!(" in environment {e}")).unwrap_or_default();
        return Err(CheckError::new(
            ErrorKind::Assertion,
            format!("service {}{env} has no deployments; check service_id and environment_id", o.service_id),
        ));
    };
    let status = node.get("status").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
    r.set("deployment_status", status.clone());
    if let Some(id) = node.get("id").and_then(Value::as_str) {
        r.set("deployment_id", id);
    }
    if let Some(u) = node.get("staticUrl").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        r.set("deployment_url", u);
    }
    let created = node.get("createdAt").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let age = created.map(|c| (r.started_at - c.with_timezone(&Utc)).num_seconds().max(0) as u64);
    if let Some(c) = created {
        r.set("deployment_created_at", c.with_timezone(&Utc).to_rfc3339());
    }
    if let Some(a) = age {
        r.set("deployment_age_s", a);
        r.set("deployment_age", format_duration(Duration::from_secs(a)));
    }
    let in_progress = IN_PROGRESS.contains(&status.as_str());
    r.set("deployment_in_progress", in_progress);

    let (st, msg) = match status.as_str() {
        "SUCCESS" | "SLEEPING" | "SKIPPED" => (Status::Up, None),
        "FAILED" => {
            (Status::Degraded, Some("the latest deployment FAILED; the previous one may still be serving".to_string()))
        }
        "CRASHED" => (Status::Degraded, Some("the latest deployment CRASHED".to_string())),
        "REMOVED" | "REMOVING" => (Status::Degraded, Some(format!("the latest deployment is {status}"))),
        s if in_progress => match age {
            Some(a) if a > max_build.as_secs() => (
                Status::Degraded,
                Some(format!(
                    "the latest deployment has been {s} for {}, over max_build_time {}",
                    format_duration(Duration::from_secs(a)),
                    format_duration(max_build)
                )),
            ),
            _ => (Status::Up, None),
        },
        _ => {
            r.set("unrecognized_statuses", json!([format!("deployment_status: {status}")]));
            (Status::Degraded, Some(format!("Railway reports a deployment status vaktpost does not know: {status:?}")))
        }
    };
    r.status = st;
    r.message = msg;
    Ok(())
}

/// `errors[].message` joined, when the answer has GraphQL errors.
fn error_messages(doc: &Value) -> Option<String> {
    let errs = doc.get("errors")?.as_array()?;
    if errs.is_empty() {
        return None;
    }
    let msgs: Vec<String> = errs
        .iter()
        .map(|e| e.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| e.to_string()))
        .map(|m| m.chars().take(200).collect())
        .collect();
    Some(msgs.join("; "))
}

fn auth_error(detail: &str) -> CheckError {
    CheckError::new(
        ErrorKind::Auth,
        format!(
            "Railway rejected the token ({detail}); an account or workspace token goes in `token` (RAILWAY_TOKEN), a project token in `project_token`"
        ),
    )
}

impl Kind for RailwayOptions {
    /// The latest deployment failed, or has been building too long.
    const DEFAULT_RULES: &'static [DefaultRule] = &[
        DefaultRule::once(
            "railway_deployment_failed",
            "deployment_status == 'FAILED' || deployment_status == 'CRASHED'",
            "Railway deployment {deployment_id} of {name} is {deployment_status}",
            Severity::High,
        ),
        DefaultRule::once(
            "railway_build_stuck",
            "deployment_in_progress && deployment_age_s > max_build_time_s",
            "Railway deployment {deployment_id} of {name} has been {deployment_status} for {deployment_age}",
            Severity::Medium,
        ),
    ];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("max_build_time_s", N),
            ("rate_limit_remaining", N),
            ("rate_limited_wait_ms", N),
            ("deployment_status", S),
            ("deployment_id", S),
            ("deployment_url", S),
            ("deployment_created_at", S),
            ("deployment_age_s", N),
            ("deployment_age", S),
            ("deployment_in_progress", B),
            ("unrecognized_statuses", LIST_S),
        ]
    };
    fn secrets(&self, out: &mut Vec<String>) {
        if let Some(u) = &self.api_url {
            url_secrets(u, out);
        }
        out.extend(self.token.iter().chain(&self.project_token).map(|t| t.expose().to_string()));
    }
    fn target(&self) -> String {
        format!("railway service {}", self.service_id)
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        if let Some(u) = &self.api_url {
            check_url(&format!("{p}.api_url"), u, err);
        }
        if self.service_id.trim().is_empty() {
            err(&format!("{p}.service_id"), "must be the Railway service's id (a UUID)".into());
        }
        if self.token.is_some() && self.project_token.is_some() {
            err(
                &format!("{p}.project_token"),
                "set `token` (account or workspace token) or `project_token`, not both".into(),
            );
        }
        if self.max_build_time.is_some_and(|d| d.get().is_zero()) {
            err(&format!("{p}.max_build_time"), "must be more than 0".into());
        }
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("max_build_time_s", Num),
        ("rate_limit_remaining", Num),
        ("rate_limited_wait_ms", Num),
        ("deployment_status", Str),
        ("deployment_id", Str),
        ("deployment_url", Str),
        ("deployment_created_at", Str),
        ("deployment_age_s", Num),
        ("deployment_age", Str),
        ("deployment_in_progress", Bool),
        ("unrecognized_statuses", Strs),
    ];
    fn summary_parts(r: &CheckResult, parts: &mut Vec<String>) {
        if let Some(s) = r.metrics.get("deployment_status").and_then(|v| v.as_str()) {
            parts.push(s.to_string());
        }
    }
}
