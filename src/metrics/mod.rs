//! The run's results as metrics (SPEC §6 "Metrics"): one [`model`] built from the report,
//! rendered per output — the text exposition file ([`text`], written with the other
//! outputs), the Pushgateway ([`push`]), Prometheus remote write ([`remote_write`]) and
//! OTLP/HTTP ([`otlp`]), sent by [`push`] after the report is built. A failing output
//! is a note and an entry in the report's `metrics_outputs`, never a failed run; every
//! request goes through [`crate::retry::run`] under the run's deadline, and no secret
//! reaches an error message.

pub mod model;
pub mod otlp;
mod pb;
pub mod push;
pub mod remote_write;
pub mod text;

use std::path::Path;
use std::time::Duration;

use crate::config::MetricsConfig;
use crate::context::RunContext;
use crate::redact::Redactor;
use crate::report::{MetricsOutput, Report};
use crate::retry;

pub use model::{build, Model};

/// The `job` when `metrics.pushgateway.job` is not set.
pub const DEFAULT_JOB: &str = "vaktpost";
/// One request attempt (capped by the deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The retry policy of metrics endpoints: 3 attempts, server waits honoured up to 30 s.
pub fn policy() -> retry::Policy {
    retry::Policy::delivery(Duration::from_secs(30)).attempts(3)
}

/// The `instance` label: `metrics.instance`, else `$GITHUB_REPOSITORY`, else the host
/// name, else `vaktpost`.
pub fn instance(ctx: &RunContext, m: &MetricsConfig) -> String {
    m.instance
        .clone()
        .or_else(|| ctx.var("GITHUB_REPOSITORY").filter(|r| !r.is_empty()).map(str::to_string))
        .or_else(|| ctx.hostname.clone())
        .unwrap_or_else(|| DEFAULT_JOB.to_string())
}

/// The `job` label of every output.
pub fn job(m: &MetricsConfig) -> String {
    m.pushgateway.as_ref().and_then(|p| p.job.clone()).unwrap_or_else(|| DEFAULT_JOB.to_string())
}

/// Writes the text exposition file atomically (a scraper never reads half a file), by
/// rename and without `fsync`: each run rewrites it, so durability across a power loss
/// is not worth the `fsync`'s time (see [`crate::fsutil::replace`]).
/// `model` is the run's, when the endpoints' stage built it already (else it is built here).
pub fn write_file(path: &Path, report: &Report, model: Option<&Model>) -> MetricsOutput {
    let built;
    let model = match model {
        Some(m) => m,
        None => {
            built = build(report);
            &built
        }
    };
    let body = text::render(model, &model.common);
    let res = crate::fsutil::replace(path, body.as_bytes());
    MetricsOutput {
        output: "file".into(),
        target: path.display().to_string(),
        series: model.series_count(),
        ok: res.is_ok(),
        error: res
            .err()
            .map(|e| format!("cannot write {}: {e}; make sure its directory exists and is writable", path.display())),
    }
}

/// The note for a failed output.
pub fn note(o: &MetricsOutput) -> String {
    format!(
        "metrics: {} ({}) failed: {}; the run's results are in the report, and the next run {} again",
        o.output,
        o.target,
        o.error.as_deref().unwrap_or("unknown error"),
        if o.output == "file" { "writes it" } else { "sends them" }
    )
}

/// How a request authenticates.
#[derive(Clone)]
pub enum Auth {
    None,
    Basic(String, Option<String>),
    Bearer(String),
}

/// One request to a metrics endpoint.
pub struct Request {
    /// `pushgateway`, `remote_write`, `otlp`.
    pub output: &'static str,
    /// The endpoint as a person names it ("the Pushgateway").
    pub what: &'static str,
    pub method: reqwest::Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub auth: Auth,
    /// Shared, not copied, by each attempt.
    pub body: bytes::Bytes,
    pub series: usize,
}

/// The run's metrics stage: what a run sends.
pub struct Push<'a> {
    pub ctx: &'a RunContext,
    pub config: &'a MetricsConfig,
    pub redactor: &'a Redactor,
    pub dry_run: bool,
    pub deadline: tokio::time::Instant,
}

/// A URL without its userinfo, and the userinfo as basic auth.
fn split_userinfo(raw: &str) -> Result<(url::Url, Auth), String> {
    let mut u = url::Url::parse(raw.trim()).map_err(|e| format!("not a valid URL ({e})"))?;
    let auth = if u.username().is_empty() {
        Auth::None
    } else {
        let dec = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        Auth::Basic(dec(u.username()), u.password().map(dec))
    };
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Ok((u, auth))
}

/// A scoped thread's result (its panic, raised again here).
fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The requests `model` makes for the configured endpoints (an error per bad one).
pub fn requests(m: &MetricsConfig, model: &Model, job: &str, instance: &str) -> Vec<Result<Request, MetricsOutput>> {
    let failed = |output: &str, target: &str, e: String| MetricsOutput {
        output: output.into(),
        target: crate::redact::redact_url_str(target),
        series: 0,
        ok: false,
        error: Some(e),
    };
    // The bodies first, each on its own thread (the remote-write one, protobuf and snappy,
    // is the largest): a run waits for the slowest of them, not for their sum.
    let rw_labels: Vec<(String, String)> = [("job", job), ("instance", instance)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(model.common.iter().cloned())
        .collect();
    let (mut pg_body, mut rw_body, mut otlp_body) = (None, None, None);
    std::thread::scope(|sc| {
        let rw = m.remote_write.as_ref().map(|_| sc.spawn(|| remote_write::encoded_body(model, &rw_labels)));
        let ot = m.otlp.as_ref().map(|_| sc.spawn(|| otlp::encode(model, job, instance)));
        pg_body = m.pushgateway.as_ref().map(|_| bytes::Bytes::from(text::render(model, &[])));
        rw_body = rw.map(joined);
        otlp_body = ot.map(joined).map(bytes::Bytes::from);
    });
    let mut out = Vec::new();
    if let Some(p) = &m.pushgateway {
        out.push(split_userinfo(&p.url).map_err(|e| failed("pushgateway", &p.url, e)).map(|(base, auth)| {
            let mut key = vec![("job".to_string(), job.to_string()), ("instance".to_string(), instance.to_string())];
            key.extend(model.common.iter().cloned());
            Request {
                output: "pushgateway",
                what: "the Pushgateway",
                method: reqwest::Method::PUT,
                url: push::group_url(&base, &key),
                headers: vec![("content-type".into(), text::CONTENT_TYPE.into())],
                auth,
                body: pg_body.take().unwrap_or_default(),
                series: model.series_count(),
            }
        }));
    }
    if let Some(r) = &m.remote_write {
        let body = rw_body.take().unwrap_or_else(|| Err("the remote-write body was not built".into()));
        let built = split_userinfo(&r.url).and_then(|(url, auth)| Ok((url, auth, bytes::Bytes::from(body?))));
        out.push(built.map_err(|e| failed("remote_write", &r.url, e)).map(|(url, auth, body)| {
            let auth = match (&r.bearer_token, &r.username) {
                (Some(t), _) => Auth::Bearer(t.expose().to_string()),
                (None, Some(u)) => Auth::Basic(u.clone(), r.password.as_ref().map(|p| p.expose().to_string())),
                (None, None) => auth,
            };
            Request {
                output: "remote_write",
                what: "the remote-write receiver",
                method: reqwest::Method::POST,
                url,
                headers: remote_write::HEADERS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                auth,
                body,
                series: model.series_count(),
            }
        }));
    }
    if let Some(o) = &m.otlp {
        let url = otlp::metrics_url(&o.endpoint);
        out.push(split_userinfo(&url).map_err(|e| failed("otlp", &o.endpoint, e)).map(|(url, auth)| {
            let mut headers = vec![("content-type".to_string(), otlp::CONTENT_TYPE.to_string())];
            headers.extend(o.headers.iter().map(|(k, v)| (k.clone(), v.expose().to_string())));
            Request {
                output: "otlp",
                what: "the OTLP receiver",
                method: reqwest::Method::POST,
                url,
                headers,
                auth,
                body: otlp_body.take().unwrap_or_default(),
                series: model.series_count(),
            }
        }));
    }
    out
}

/// Sends the run's metrics to every configured endpoint at once, recording each in
/// `report.metrics_outputs` and each failure as a note. A dry run sends nothing. Returns
/// the model it sent, for the metrics file to reuse (`None` when nothing was sent).
pub async fn push(p: &Push<'_>, report: &mut Report) -> Option<Model> {
    let m = p.config;
    if m.pushgateway.is_none() && m.remote_write.is_none() && m.otlp.is_none() {
        return None;
    }
    if p.dry_run {
        report.notes.push("dry run: metrics were not sent to the configured endpoints".into());
        return None;
    }
    let model = build(report);
    let (job, instance) = (job(m), instance(p.ctx, m));
    let client = crate::alerts::deliver::http_client();
    let waiter = p.ctx.waiter(Some(p.deadline.into_std()));
    let sends = requests(m, &model, &job, &instance).into_iter().map(|r| {
        let (client, waiter) = (&client, &waiter);
        async move {
            match r {
                Err(failed) => failed,
                Ok(req) => {
                    let res = send(client, &req, waiter).await;
                    MetricsOutput {
                        output: req.output.into(),
                        target: p.redactor.redact_text(&crate::redact::redact_url_str(req.url.as_str())),
                        series: req.series,
                        ok: res.is_ok(),
                        error: res.err().map(|e| p.redactor.redact_text(&e)),
                    }
                }
            }
        }
    });
    for o in futures::future::join_all(sends).await {
        if !o.ok {
            report.notes.push(note(&o));
        }
        report.metrics_outputs.push(o);
    }
    Some(model)
}

/// One attempt's outcome.
enum Attempt {
    Sent,
    Refused { status: u16, retry_after: Option<Duration>, text: String },
    Transport { text: String, retryable: bool },
    NoTime,
}

/// Sends `req`, retrying 408, 429 (after its `Retry-After`), 5xx and connection failures
/// per [`policy`] within the waiter's deadline. The error says what to check; it may
/// carry the endpoint's own (bounded, one-line) words, and the caller redacts it.
pub async fn send(client: &reqwest::Client, req: &Request, waiter: &retry::Waiter) -> Result<(), String> {
    let attempt = |_| async move {
        let left = match waiter.left() {
            Some(d) if d.is_zero() => return Attempt::NoTime,
            Some(d) => REQUEST_TIMEOUT.min(d),
            None => REQUEST_TIMEOUT,
        };
        let mut b = client.request(req.method.clone(), req.url.clone()).timeout(left).body(req.body.clone());
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b = match &req.auth {
            Auth::None => b,
            Auth::Basic(u, p) => b.basic_auth(u, p.as_ref()),
            Auth::Bearer(t) => b.bearer_auth(t),
        };
        match b.send().await {
            Ok(resp) if resp.status().is_success() => Attempt::Sent,
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = retry::retry_after(resp.headers());
                Attempt::Refused { status, retry_after, text: error_body(resp).await }
            }
            Err(e) => {
                let retryable = e.is_timeout() || e.is_connect();
                Attempt::Transport { text: describe(e), retryable }
            }
        }
    };
    let judge = |a: &Attempt| match a {
        Attempt::Refused { status, retry_after, .. } => retry::Next::for_status(*status, *retry_after),
        Attempt::Transport { retryable: true, .. } => retry::Next::Retry,
        _ => retry::Next::Done,
    };
    let out = retry::run(&policy(), waiter, attempt, judge).await;
    let what = req.what;
    let last = match out.value {
        Attempt::Sent => return Ok(()),
        Attempt::NoTime => return Err(format!("not sent to {what}: the run's deadline had passed")),
        Attempt::Refused { status, text, .. } => {
            let words = if text.is_empty() { String::new() } else { format!(": {text}") };
            format!("{what} answered HTTP {status}{words}; {}", hint(req.output, status))
        }
        Attempt::Transport { text, .. } => {
            format!("{what} could not be reached ({text}); check the URL and that the runner can reach it")
        }
    };
    Err(match out.stop {
        retry::Stop::Deadline { .. } | retry::Stop::ServerWait { .. } => format!("{last}{}", out.stop.clause()),
        _ if out.attempts > 1 => format!("{last} (after {} attempts)", out.attempts),
        _ => last,
    })
}

/// What to check after an HTTP error of an output.
fn hint(output: &str, status: u16) -> &'static str {
    match (output, status) {
        (_, 401 | 403) => "check the credentials (userinfo in the URL, bearer_token or username/password, or the OTLP headers)",
        ("pushgateway", 404) => "check metrics.pushgateway.url: the Pushgateway's base URL, without /metrics",
        ("remote_write", 404) => {
            "check metrics.remote_write.url (Prometheus: http://host:9090/api/v1/write, started with --web.enable-remote-write-receiver)"
        }
        ("otlp", 404) => "check metrics.otlp.endpoint: the OTLP/HTTP base URL (port 4318 by default); /v1/metrics is appended",
        ("pushgateway", 400) => {
            "the Pushgateway refused the metrics; another pusher may use the same group with other help or types"
        }
        (_, 400..=499) => "the endpoint refused the metrics; its answer above says why",
        _ => "the endpoint failed; the next run sends again",
    }
}

/// The endpoint's answer (the channels' bounded read), for the console.
async fn error_body(resp: reqwest::Response) -> String {
    let buf = crate::alerts::post::error_bytes(resp).await;
    crate::untrusted::console(String::from_utf8_lossy(&buf).trim(), 300)
}

/// A transport error without its URL (the channels' wording), for the console.
fn describe(e: reqwest::Error) -> String {
    crate::untrusted::console(&crate::alerts::post::describe_error(e), 300)
}
