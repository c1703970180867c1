//! A local HTTP receiver for the alert channel tests (Slack webhook, heartbeat): an
//! in-process hyper server on 127.0.0.1:0 that records every request and answers from a
//! script (e.g. "429 with Retry-After twice, then 200 ok"), plus a validator that checks
//! a Slack payload against Block Kit's structure and documented limits.
//!
//! Like Slack, it is hostile: every JSON POST is validated first, and one that breaks
//! Block Kit's structure or limits is answered `400 invalid_blocks` (what Slack answers)
//! whatever the script says, so a payload vaktpost gets wrong fails the test that sent
//! it. [`Reply::slack`] gives Slack's documented incoming-webhook errors: the status and
//! the plain-text body Slack sends (`invalid_payload`, `channel_is_archived`, …).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

pub mod peers;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply { status, headers: Vec::new(), body: body.to_string() }
    }
    pub fn ok() -> Reply {
        Reply::new(200, "ok")
    }
    /// One of Slack's documented incoming-webhook errors, as Slack sends it: the status
    /// for the code and the code itself as a `text/html` body (Slack's content type).
    pub fn slack(code: &str) -> Reply {
        let status = match code {
            "invalid_payload" | "invalid_blocks" | "invalid_blocks_format" | "user_not_found" => 400,
            "action_prohibited" => 403,
            "channel_not_found" | "no_service" => 404,
            "channel_is_archived" => 410,
            "rate_limited" => 429,
            "rollup_error" => 500,
            other => panic!("not a Slack incoming-webhook error: {other}"),
        };
        Reply::new(status, code).header("content-type", "text/html")
    }
    /// Slack's rate limit: 429 with `Retry-After: secs`.
    pub fn rate_limited(secs: u64) -> Reply {
        Reply::slack("rate_limited").header("Retry-After", &secs.to_string())
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

/// What the receiver got.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub content_type: Option<String>,
    /// Every header, names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Why the receiver refused the payload with `400 invalid_blocks`, if it did.
    pub rejected: Option<String>,
    /// The status it was answered with.
    pub status: u16,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How a receiver judges a JSON POST, as the service it stands for would: the reason for
/// refusing it, answered with `refusal`.
pub type Validate = Arc<dyn Fn(&Recorded) -> Result<(), String> + Send + Sync>;

struct Inner {
    script: VecDeque<Reply>,
    default: Reply,
    requests: Vec<Recorded>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Answers with `script` in order, then with `default` for ever; refuses a JSON POST
    /// that is not valid Block Kit as Slack does.
    pub async fn start(script: Vec<Reply>, default: Reply) -> Receiver {
        let slack: Validate = Arc::new(|r: &Recorded| validate_slack(&r.body).map(drop));
        Receiver::start_as(slack, Reply::slack("invalid_blocks"), script, default).await
    }

    /// Like [`Receiver::start`], for another service: `validate` judges every JSON POST,
    /// and one it refuses is answered `refusal` whatever the script says.
    pub async fn start_as(validate: Validate, refusal: Reply, script: Vec<Reply>, default: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let inner = Arc::new(Mutex::new(Inner { script: script.into(), default, requests: Vec::new() }));
        let shared = inner.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let shared = shared.clone();
                let (validate, refusal) = (validate.clone(), refusal.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let shared = shared.clone();
                        let (validate, refusal) = (validate.clone(), refusal.clone());
                        async move {
                            let method = req.method().to_string();
                            let target = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                            let content_type =
                                req.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
                            let headers: Vec<(String, String)> = req
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())
                                })
                                .collect();
                            let body =
                                req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                            let mut rec =
                                Recorded { method, target, content_type, headers, body, rejected: None, status: 0 };
                            if rec.method == "POST"
                                && rec.content_type.as_deref().is_some_and(|c| c.starts_with("application/json"))
                            {
                                rec.rejected = validate(&rec).err();
                            }
                            let reply = {
                                let mut g = shared.lock().expect("receiver lock");
                                let reply = if rec.rejected.is_some() {
                                    refusal.clone()
                                } else {
                                    let d = g.default.clone();
                                    g.script.pop_front().unwrap_or(d)
                                };
                                rec.status = reply.status;
                                g.requests.push(rec);
                                reply
                            };
                            let mut resp = hyper::Response::builder().status(reply.status);
                            for (k, v) in &reply.headers {
                                resp = resp.header(k.as_str(), v.as_str());
                            }
                            Ok::<_, Infallible>(resp.body(Full::new(Bytes::from(reply.body))).expect("response"))
                        }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Receiver { addr, inner, task }
    }

    /// Always 200 "ok".
    pub async fn ok() -> Receiver {
        Receiver::start(Vec::new(), Reply::ok()).await
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().expect("receiver lock").requests.clone()
    }
}

/// Slack's documented limits, checked independently of the code under test.
pub const SLACK_MAX_BLOCKS: usize = 50;
pub const SLACK_MAX_SECTION: usize = 3000;
pub const SLACK_MAX_HEADER: usize = 150;
pub const SLACK_MAX_TEXT: usize = 4000;
const KNOWN_BLOCKS: &[&str] =
    &["section", "header", "context", "divider", "actions", "image", "rich_text", "input", "file", "video"];

/// Checks a webhook body as Slack would: JSON object, `text` present, known block types,
/// at most 50 blocks across the message and its attachments, text limits, and mrkdwn with
/// `&`, `<`, `>` escaped outside `<url|text>` links. Returns the parsed payload.
pub fn validate_slack(body: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("payload is not a JSON object")?;
    let text = obj.get("text").and_then(Value::as_str).ok_or("`text` (the fallback) is missing")?;
    if text.trim().is_empty() {
        return Err("`text` is empty".into());
    }
    if text.chars().count() > SLACK_MAX_TEXT {
        return Err(format!("`text` has {} chars, over {SLACK_MAX_TEXT}", text.chars().count()));
    }
    check_mrkdwn(text)?;
    let mut blocks: Vec<&Value> = Vec::new();
    if let Some(b) = obj.get("blocks") {
        blocks.extend(b.as_array().ok_or("`blocks` is not an array")?);
    }
    if let Some(atts) = obj.get("attachments") {
        for a in atts.as_array().ok_or("`attachments` is not an array")? {
            if let Some(c) = a.get("color") {
                let c = c.as_str().ok_or("attachment color is not a string")?;
                let hex = c.strip_prefix('#').ok_or("attachment color does not start with #")?;
                if hex.len() != 6 || !hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
                    return Err(format!("attachment color {c:?} is not #rrggbb"));
                }
            }
            if let Some(b) = a.get("blocks") {
                blocks.extend(b.as_array().ok_or("attachment `blocks` is not an array")?);
            }
        }
    }
    if blocks.len() > SLACK_MAX_BLOCKS {
        return Err(format!("{} blocks, over {SLACK_MAX_BLOCKS}", blocks.len()));
    }
    for (i, b) in blocks.iter().enumerate() {
        let t = b.get("type").and_then(Value::as_str).ok_or(format!("block {i} has no type"))?;
        if !KNOWN_BLOCKS.contains(&t) {
            return Err(format!("block {i} has unknown type {t:?}"));
        }
        match t {
            "header" => {
                let tx = b.get("text").ok_or(format!("header {i} has no text"))?;
                if tx.get("type").and_then(Value::as_str) != Some("plain_text") {
                    return Err(format!("header {i} text is not plain_text"));
                }
                let s = tx.get("text").and_then(Value::as_str).ok_or(format!("header {i} text is not a string"))?;
                if s.is_empty() || s.chars().count() > SLACK_MAX_HEADER {
                    return Err(format!("header {i} text has {} chars (1..={SLACK_MAX_HEADER})", s.chars().count()));
                }
            }
            "section" => {
                let tx = b.get("text").ok_or(format!("section {i} has no text"))?;
                let kind = tx.get("type").and_then(Value::as_str).unwrap_or("");
                if kind != "mrkdwn" && kind != "plain_text" {
                    return Err(format!("section {i} text type {kind:?}"));
                }
                let s = tx.get("text").and_then(Value::as_str).ok_or(format!("section {i} text is not a string"))?;
                if s.is_empty() || s.chars().count() > SLACK_MAX_SECTION {
                    return Err(format!("section {i} text has {} chars (1..={SLACK_MAX_SECTION})", s.chars().count()));
                }
                if kind == "mrkdwn" {
                    check_mrkdwn(s).map_err(|e| format!("section {i}: {e}"))?;
                }
            }
            "context" => {
                let els = b.get("elements").and_then(Value::as_array).ok_or(format!("context {i} has no elements"))?;
                if els.is_empty() || els.len() > 10 {
                    return Err(format!("context {i} has {} elements (1..=10)", els.len()));
                }
                for e in els {
                    if e.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                        let s = e.get("text").and_then(Value::as_str).unwrap_or("");
                        check_mrkdwn(s).map_err(|e| format!("context {i}: {e}"))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(v)
}

/// Every `<…>` is a link `<http…|text>`; outside them no raw `<` or `>`; every `&` starts
/// `&amp;`, `&lt;` or `&gt;`.
fn check_mrkdwn(s: &str) -> Result<(), String> {
    let mut rest = s;
    let mut outside = String::new();
    while let Some(i) = rest.find('<') {
        outside.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find('>').ok_or_else(|| format!("unclosed '<' in {s:?}"))?;
        let inner = &after[..end];
        let (url, text) = inner.split_once('|').ok_or_else(|| format!("'<' that is not a link in {s:?}"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(' ') {
            return Err(format!("bad link URL {url:?}"));
        }
        if text.contains('<') {
            return Err(format!("unescaped '<' in link text {text:?}"));
        }
        outside.push_str(text);
        rest = &after[end + 1..];
    }
    outside.push_str(rest);
    if outside.contains('>') {
        return Err(format!("unescaped '>' in {s:?}"));
    }
    for (i, _) in outside.match_indices('&') {
        let tail = &outside[i..];
        if !(tail.starts_with("&amp;") || tail.starts_with("&lt;") || tail.starts_with("&gt;")) {
            return Err(format!("unescaped '&' in {s:?}"));
        }
    }
    Ok(())
}

pub use crate::support::clock::Slept;

/// A run context whose sleep records each wait and returns at once (the channel tests'
/// virtual clock), and the waiter a run with `deadline_secs` left would hand a channel.
pub fn recording_waiter(deadline_secs: u64) -> (vaktpost::retry::Waiter, Slept) {
    let (sleep, slept) = crate::support::clock::recording_sleep();
    let mut ctx = vaktpost::context::RunContext::with_env(Default::default(), std::env::temp_dir());
    ctx.sleep = sleep;
    ctx.seed = 7;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(deadline_secs);
    (ctx.waiter(Some(deadline)), slept)
}
