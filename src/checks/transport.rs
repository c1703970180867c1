//! The HTTP transport every HTTP-speaking check uses: vaktpost's own connections (DNS,
//! TCP, TLS through [`super::net::Net`], then one hyper request), so each phase is timed
//! the way blackbox_exporter and curl do, redirects are bounded, the body is capped after
//! decompression, and failures carry the same [`ErrorKind`]s whichever check sent them.
//! The `http` check builds a [`Request`] from its options; status pages and Railway build
//! one directly ([`Request::api`]) and send it with [`api_request`].

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::TryStreamExt;
use http::header::{HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, HOST, LOCATION, USER_AGENT};
use http::{HeaderMap, Method};
use http_body_util::{BodyStream, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, BufReader};
use tokio_util::io::StreamReader;
use url::Url;

use super::ssl::CertFacts;
use super::{CheckEnv, CheckError, ErrorKind};
use crate::retry::{self, Next, Policy};
use crate::values::Secret;

/// One request as the transport sends it.
#[derive(Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub url: Url,
    /// Sent to `url`'s origin only (a redirect elsewhere drops them). Values are secrets
    /// (tokens) and never printed.
    pub headers: BTreeMap<String, Secret>,
    pub body: Option<String>,
    /// For the whole exchange, redirects included ([`api_request`]; the `http` check
    /// times its samples itself).
    pub timeout: Duration,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    /// Largest body read, after decompression; larger is an error.
    pub max_body_bytes: u64,
    /// Accept any certificate (self-signed test targets).
    pub insecure_skip_verify: bool,
}

impl Request {
    /// A request to an API: redirects followed (at most 5), certificates verified.
    pub fn api(method: Method, url: Url, timeout: Duration, max_body_bytes: u64) -> Request {
        Request {
            method,
            url,
            headers: BTreeMap::new(),
            body: None,
            timeout,
            follow_redirects: true,
            max_redirects: 5,
            max_body_bytes,
            insecure_skip_verify: false,
        }
    }
}

pub(crate) const UA: &str = concat!("vaktpost/", env!("CARGO_PKG_VERSION"), " (+https://github.com/vaktpost/vaktpost)");

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timings {
    pub dns: Duration,
    pub connect: Duration,
    pub tls: Duration,
    pub ttfb: Duration,
    pub transfer: Duration,
    pub total: Duration,
}

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub version: &'static str,
    pub tls_version: Option<&'static str>,
    /// The leaf certificate of the TLS connection that carried this response.
    pub cert: Option<CertFacts>,
    pub redirects: u32,
}

/// A status another attempt may change: 5xx, 408 Request Timeout, 429 Too Many Requests.
pub(crate) fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// Retry after the server's `Retry-After` when it gave one, else after backoff.
pub(crate) fn retry_next(headers: &HeaderMap) -> Next {
    retry::retry_after(headers).map_or(Next::Retry, Next::RetryAfter)
}

/// One request, following redirects.
pub(crate) async fn attempt(
    h: &Request,
    env: &CheckEnv,
    t: &mut Timings,
    phase: &Cell<&'static str>,
) -> Result<Response, CheckError> {
    let start = &h.url;
    let mut url = start.clone();
    let mut method = h.method.clone();
    let mut body = h.body.clone().map(Bytes::from).unwrap_or_default();
    let mut redirects = 0;
    loop {
        // Configured headers and URL credentials go to the configured origin only; a
        // redirect elsewhere (another host, or https→http) drops them, as curl does.
        let credentials = url.origin() == start.origin();
        let mut resp = exchange(h, &url, &method, body.clone(), credentials, env, t, phase).await?;
        let is_redirect = matches!(resp.status, 301 | 302 | 303 | 307 | 308);
        if h.follow_redirects && is_redirect {
            if let Some(loc) = resp.headers.get(LOCATION).and_then(|v| v.to_str().ok()) {
                // Messages name the absolute URL, never the raw Location, so redaction of
                // secret query parameters applies to relative redirects too.
                let next = url.join(loc).map_err(|e| {
                    CheckError::new(ErrorKind::Protocol, format!("redirect to an invalid Location header: {e}"))
                })?;
                if redirects >= h.max_redirects {
                    return Err(CheckError::new(
                        ErrorKind::Protocol,
                        format!("too many redirects (more than {}); the last pointed to {next}", h.max_redirects),
                    ));
                }
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(CheckError::new(
                        ErrorKind::Protocol,
                        format!("redirect to unsupported scheme: {next}"),
                    ));
                }
                let to_get = resp.status == 303 || (matches!(resp.status, 301 | 302) && method == Method::POST);
                if to_get && method != Method::HEAD {
                    method = Method::GET;
                    body = Bytes::new();
                }
                url = next;
                redirects += 1;
                continue;
            }
        }
        resp.redirects = redirects;
        return Ok(resp);
    }
}

/// One request over a new connection (what [`attempt`] sends each hop over).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn exchange(
    h: &Request,
    url: &Url,
    method: &Method,
    body: Bytes,
    credentials: bool,
    env: &CheckEnv,
    t: &mut Timings,
    phase: &Cell<&'static str>,
) -> Result<Response, CheckError> {
    let mut conn = connect(url, h.insecure_skip_verify, env, t, phase).await?;
    send(&mut conn, h, url, method, body, credentials, t, phase).await
}

/// An open HTTP/1.1 or HTTP/2 connection to one origin, with what its TLS handshake saw.
struct Connection {
    sender: Sender,
    _task: AbortOnDrop,
    h2: bool,
    tls_version: Option<&'static str>,
    cert: Option<CertFacts>,
}

impl Connection {
    /// Whether another request can go over it (HTTP/1.1 keep-alive, HTTP/2 not closed).
    async fn ready(&mut self) -> bool {
        match &mut self.sender {
            Sender::H1(s) => s.ready().await.is_ok(),
            Sender::H2(s) => s.ready().await.is_ok(),
        }
    }
}

/// DNS, TCP and TLS (ALPN picks HTTP/2 or HTTP/1.1) to `url`'s origin, each phase timed.
async fn connect(
    url: &Url,
    insecure_skip_verify: bool,
    env: &CheckEnv,
    t: &mut Timings,
    phase: &Cell<&'static str>,
) -> Result<Connection, CheckError> {
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let https = url.scheme() == "https";

    phase.set("resolving the host");
    let t0 = Instant::now();
    let addrs = env.net.resolve(&host).await?;
    t.dns += t0.elapsed();

    phase.set("connecting");
    let t0 = Instant::now();
    let tcp = env.net.connect(&addrs, port).await?;
    t.connect += t0.elapsed();

    let mut h2 = false;
    let mut tls_version = None;
    let mut cert = None;
    let io: Box<dyn Io> = if https {
        phase.set("in the TLS handshake");
        let t0 = Instant::now();
        let tls = env.net.tls(tcp, &host, insecure_skip_verify).await?;
        t.tls += t0.elapsed();
        let (_, conn) = tls.get_ref();
        h2 = conn.alpn_protocol() == Some(b"h2");
        tls_version = conn.protocol_version().map(super::ssl::tls_version_name);
        cert = conn.peer_certificates().and_then(|c| c.first()).and_then(|d| CertFacts::parse(d));
        Box::new(tls)
    } else {
        Box::new(tcp)
    };

    phase.set("sending the request");
    let io = TokioIo::new(io);
    let (sender, conn_task) = if h2 {
        let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.map_err(hyper_error)?;
        (
            Sender::H2(s),
            tokio::spawn(async move {
                let _ = conn.await;
            }),
        )
    } else {
        let (s, conn) = hyper::client::conn::http1::handshake(io).await.map_err(hyper_error)?;
        (
            Sender::H1(s),
            tokio::spawn(async move {
                let _ = conn.await;
            }),
        )
    };
    Ok(Connection { sender, _task: AbortOnDrop(conn_task), h2, tls_version, cert })
}

/// One request over `conn`; the body read within `h.max_body_bytes`.
#[allow(clippy::too_many_arguments)]
async fn send(
    conn: &mut Connection,
    h: &Request,
    url: &Url,
    method: &Method,
    body: Bytes,
    credentials: bool,
    t: &mut Timings,
    phase: &Cell<&'static str>,
) -> Result<Response, CheckError> {
    let (h2, tls_version, cert) = (conn.h2, conn.tls_version, conn.cert.clone());
    let uri: http::Uri =
        if h2 { url.as_str().parse() } else { url[url::Position::BeforePath..url::Position::AfterQuery].parse() }
            .map_err(|e| CheckError::new(ErrorKind::Config, format!("cannot use URL {url}: {e}")))?;
    let mut req = http::Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(Full::new(body))
        .map_err(|e| CheckError::new(ErrorKind::Config, format!("cannot build the request: {e}")))?;
    let headers = req.headers_mut();
    if !h2 {
        if let Some(v) = host_header(url) {
            headers.insert(HOST, v);
        }
    }
    headers.insert(USER_AGENT, HeaderValue::from_static(UA));
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br, zstd"));
    if credentials && !url.username().is_empty() {
        // Credentials in the URL mean HTTP Basic auth, as in curl.
        use base64::Engine;
        let user = percent_encoding::percent_decode_str(url.username()).decode_utf8_lossy().into_owned();
        let pass = url
            .password()
            .map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
            .unwrap_or_default();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        if let Ok(v) = HeaderValue::from_str(&format!("Basic {token}")) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
    }
    for (k, v) in h.headers.iter().filter(|_| credentials) {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| CheckError::new(ErrorKind::Config, format!("invalid header name {k:?}")))?;
        let value = HeaderValue::from_str(v.expose())
            .map_err(|_| CheckError::new(ErrorKind::Config, format!("invalid value for header {k:?}")))?;
        headers.insert(name, value);
    }

    phase.set("waiting for the response headers");
    let t0 = Instant::now();
    let resp = match &mut conn.sender {
        Sender::H1(s) => s.send_request(req).await,
        Sender::H2(s) => s.send_request(req).await,
    }
    .map_err(hyper_error)?;
    t.ttfb += t0.elapsed();

    let status = resp.status().as_u16();
    let version = match resp.version() {
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_10 => "1.0",
        _ => "1.1",
    };
    let (parts, incoming) = resp.into_parts();
    let is_redirect =
        h.follow_redirects && matches!(status, 301 | 302 | 303 | 307 | 308) && parts.headers.contains_key(LOCATION);
    let body = if is_redirect || *method == Method::HEAD {
        Vec::new()
    } else {
        phase.set("reading the body");
        let t0 = Instant::now();
        let b = read_body(incoming, &parts.headers, h.max_body_bytes).await?;
        t.transfer += t0.elapsed();
        b
    };
    Ok(Response { status, headers: parts.headers, body, version, tls_version, cert, redirects: 0 })
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads at most `max` bytes of decoded body; more is an error, and reading stops there.
async fn read_body(body: hyper::body::Incoming, headers: &HeaderMap, max: u64) -> Result<Vec<u8>, CheckError> {
    let stream = Box::pin(
        BodyStream::new(body)
            .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) })
            .map_err(|e| std::io::Error::other(HyperIoError(e))),
    );
    let reader = StreamReader::new(stream);
    let encoding = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
    let decoded: Box<dyn AsyncRead + Unpin + Send> = match encoding.as_str() {
        "gzip" | "x-gzip" => Box::new(GzipDecoder::new(BufReader::new(reader))),
        "deflate" => Box::new(ZlibDecoder::new(BufReader::new(reader))),
        "br" => Box::new(BrotliDecoder::new(BufReader::new(reader))),
        "zstd" => Box::new(ZstdDecoder::new(BufReader::new(reader))),
        _ => Box::new(reader),
    };
    let mut buf = Vec::new();
    let res = decoded.take(max.saturating_add(1)).read_to_end(&mut buf).await;
    if let Err(e) = res {
        let kind = if is_reset(&e) { ErrorKind::Connect } else { ErrorKind::Protocol };
        let what = if encoding.is_empty() || kind == ErrorKind::Connect {
            "reading the body failed".to_string()
        } else {
            format!("decoding the {encoding} body failed")
        };
        return Err(CheckError::new(kind, format!("{what}: {}", io_message(&e))));
    }
    if buf.len() as u64 > max {
        let how = if encoding.is_empty() { String::new() } else { format!(" after {encoding} decoding") };
        return Err(CheckError::new(
            ErrorKind::Protocol,
            format!("response body is larger than max_body_bytes ({} bytes){how}", max),
        ));
    }
    Ok(buf)
}

#[derive(Debug)]
struct HyperIoError(hyper::Error);
impl std::fmt::Display for HyperIoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe_hyper(&self.0))
    }
}
impl std::error::Error for HyperIoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn io_message(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<HyperIoError>()) {
        Some(h) => h.to_string(),
        None => e.to_string(),
    }
}

fn is_reset(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            ) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// A hyper error with its chain of causes, `: `-separated.
pub(crate) fn describe_hyper(e: &hyper::Error) -> String {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

pub(crate) fn hyper_error(e: hyper::Error) -> CheckError {
    if is_reset(&e) {
        return CheckError::new(ErrorKind::Connect, format!("connection reset by the server ({})", describe_hyper(&e)));
    }
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return CheckError::new(
            ErrorKind::Connect,
            format!("the server closed the connection before answering ({})", describe_hyper(&e)),
        );
    }
    CheckError::new(ErrorKind::Protocol, format!("HTTP protocol error: {}", describe_hyper(&e)))
}

/// [`Request`] sent for another check kind that talks to an HTTP API (status pages,
/// Railway's GraphQL API): the same DNS, connect, TLS, redirect, decompression and body
/// cap as an `http` monitor, so failures carry the same error kinds, within
/// `req.timeout`. No status assertion and no retries: the caller decides what an answer
/// means (and wraps this in [`with_retries`]).
/// The answer to [`api_request`], whatever its status.
pub(crate) struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Why retrying stopped before `retries` ran out ("; not retried, as …"), or "":
    /// for the caller's message about this answer.
    pub retry_note: String,
}

impl From<Response> for ApiResponse {
    fn from(r: Response) -> Self {
        ApiResponse { status: r.status, headers: r.headers, body: r.body, retry_note: String::new() }
    }
}

/// The error of a request that ran out of its `timeout` while in `phase`.
fn timed_out(req: &Request, phase: &str) -> CheckError {
    CheckError::new(
        ErrorKind::Timeout,
        format!(
            "timed out after {} while {phase} ({})",
            crate::values::duration::format_duration(req.timeout),
            req.url.path()
        ),
    )
}

pub(crate) async fn api_request(req: Request, env: &CheckEnv) -> Result<ApiResponse, CheckError> {
    let mut t = Timings::default();
    let phase = Cell::new("resolving the host");
    match tokio::time::timeout(req.timeout, attempt(&req, env, &mut t, &phase)).await {
        Ok(res) => res.map(ApiResponse::from),
        Err(_) => Err(timed_out(&req, phase.get())),
    }
}

/// Several requests to one origin over one keep-alive connection, for a kind that makes a
/// few calls per check (`chroma`): the same DNS, connect, TLS, headers, decompression, body
/// cap and error kinds as [`api_request`], each request within its `timeout`; redirects are
/// not followed. A connection the server closed is opened again.
#[derive(Default)]
pub(crate) struct Session {
    conn: Option<Connection>,
}

impl Session {
    pub async fn send(&mut self, req: &Request, env: &CheckEnv) -> Result<ApiResponse, CheckError> {
        let mut t = Timings::default();
        let phase = Cell::new("connecting");
        let exchange = async {
            let reusable = match self.conn.as_mut() {
                Some(c) => c.ready().await,
                None => false,
            };
            if !reusable {
                self.conn = Some(connect(&req.url, req.insecure_skip_verify, env, &mut t, &phase).await?);
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err(CheckError::new(ErrorKind::Connect, "no connection to the server"));
            };
            let body = req.body.clone().map(Bytes::from).unwrap_or_default();
            send(conn, req, &req.url, &req.method, body, true, &mut t, &phase).await
        };
        match tokio::time::timeout(req.timeout, exchange).await {
            Ok(res) => res.map(ApiResponse::from),
            Err(_) => {
                // The connection is mid-request: never reuse it.
                self.conn = None;
                Err(timed_out(req, phase.get()))
            }
        }
    }
}

/// `f` again while it fails in a retryable way (connect, timeout, 5xx, 408, 429), up to
/// the monitor's `retries`, with backoff or the server's `Retry-After` (`retry::run`, the
/// check policy: a wait longer than 10 s, or one past the run's deadline, is not made).
/// Why retrying stopped early goes into the error, or into [`ApiResponse::retry_note`].
pub(crate) async fn with_retries<F, Fut>(retries: u32, waiter: &retry::Waiter, f: F) -> Result<ApiResponse, CheckError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<ApiResponse, CheckError>>,
{
    let judge = |res: &Result<ApiResponse, CheckError>| match res {
        Ok(r) if retryable_status(r.status) => retry_next(&r.headers),
        Ok(_) => Next::Done,
        Err(e) if matches!(e.kind, ErrorKind::Connect | ErrorKind::Timeout) => Next::Retry,
        Err(_) => Next::Done,
    };
    let out = retry::run(&Policy::check(retries), waiter, f, judge).await;
    let clause = out.stop.clause();
    match out.value {
        Ok(mut r) => {
            r.retry_note = clause;
            Ok(r)
        }
        Err(mut e) => {
            e.message.push_str(&clause);
            Err(e)
        }
    }
}

/// The `Host` header of an HTTP/1.1 request to `url`: host and, when not the scheme's
/// default, port (`url` leaves a default port out). HTTP/2 uses `:authority` instead.
pub fn host_header(url: &url::Url) -> Option<HeaderValue> {
    let host = url.host_str()?;
    let value = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    HeaderValue::from_str(&value).ok()
}
