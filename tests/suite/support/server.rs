//! An in-process HTTP/1.1 (and HTTPS, and HTTP/2-over-TLS) server on 127.0.0.1:0 whose
//! routes misbehave on purpose, for driving the `http` check end to end.
//!
//! The HTTP/1.1 side is written by hand on a raw TCP stream so that a route can do
//! what no well-behaved server library would: reset the connection, never answer,
//! lie about the body length, stream 50 MB, or send a gzip bomb. Every request is
//! recorded (method, target, headers, body) and counted per path, so tests can
//! assert what the check sent and how often it retried.
//!
//! Routes (by path; the query string is ignored for routing):
//!
//! | path | behaviour |
//! | --- | --- |
//! | `/ok` | 200, [`OK_BODY`] |
//! | `/json` | 200, [`JSON_DOC`] |
//! | `/memory/status` | 200, [`MEMORY_STATUS`] (`{"percent": 93, ...}` like the seed's) |
//! | `/status/{code}` | that status, body `status {code}` |
//! | `/slow/{ms}` | waits `ms` milliseconds, then 200 [`OK_BODY`] |
//! | `/flaky/{n}` | the first `n` requests get 503, later ones 200 [`OK_BODY`] |
//! | `/flaky-retry-after/{n}[/{secs}]` | like `/flaky/{n}`, the 503s carry `Retry-After: secs` (default 1) |
//! | `/alternate` | odd-numbered requests 200, even-numbered 500 |
//! | `/reset` | reads the request, then resets the connection (SO_LINGER 0) |
//! | `/close` | reads the request, then closes the connection cleanly without answering |
//! | `/hang` | reads the request, never answers |
//! | `/slow-body` | headers (Content-Length 100) and 10 bytes, then nothing |
//! | `/truncated` | says Content-Length 1000, sends 9 bytes, closes |
//! | `/garbage` | answers with bytes that are not HTTP |
//! | `/big` | 200 with a [`BIG_LEN`] (50 MiB) body, streamed in 64 KiB writes |
//! | `/gzip-bomb` | ~100 KB of gzip that inflates to [`BOMB_LEN`] (100 MiB) of zeros |
//! | `/gzip` | [`GZIP_TEXT`], gzip-encoded |
//! | `/bad-gzip` | `Content-Encoding: gzip` on a body that is not gzip |
//! | `/loop` | 302 to `/loop` |
//! | `/r3` → `/r2` → `/r1` → `/ok` | 302 (absolute URL), 301, 307 (relative `ok`) |
//! | `/see-other` | 303 to `/echo` |
//! | `/temp-redirect` | 307 to `/echo` |
//! | `/moved` | 301 to `/echo` |
//! | `/to-ftp` | 302 to an `ftp://` URL |
//! | `/leak` | 302 to `/leak?` + the same query (relative Location) |
//! | `/leak-abs` | 302 to `http://host/leak-abs?` + the same query (absolute Location) |
//! | `/not-json` | 200, a body that is not JSON |
//! | `/binary` | 200, [`BINARY_BODY`] (not UTF-8) |
//! | `/versioned` | 200, `X-Version: SHA` header and `{"version": SHA}` |
//! | `/goto?to=URL` | 302 to `URL` |
//! | `/chunked` | 200, a JSON body in three chunks (`Transfer-Encoding: chunked`) |
//! | `/reset-mid-body` | headers (Content-Length 1000) and 10 bytes, then a reset |
//! | `/echo` | 200 `{"echo":true}` (every route records; this one just answers plainly) |
//! | anything else | 404 |

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const OK_BODY: &str = r#"{"status":"ok","version":"1.4.2"}"#;
pub const SHA: &str = "3f2a9c1d8e7b6a5f4e3d2c1b0a99887766554433";
pub const JSON_DOC: &str = r#"{"status":"ok","version":"v2.3.1","build":{"sha":"3f2a9c1d8e7b6a5f4e3d2c1b0a99887766554433","number":42},"ready":true,"text":"hello","items":[1,2,3]}"#;
pub const MEMORY_STATUS: &str =
    r#"{"percent": 93, "used_mb": "512", "healthy": true, "label": "high", "nested": {"v": null}}"#;
pub const GZIP_TEXT: &str = r#"{"status":"ok","message":"hello from gzip"}"#;
pub const NOT_JSON: &str = "this is {not json";
/// Invalid UTF-8 around an ASCII "ok".
pub const BINARY_BODY: &[u8] = &[0xff, 0xfe, b'o', b'k', 0x80, 0x00, 0xc3, 0x28];
pub const BIG_LEN: u64 = 50 << 20;
pub const BOMB_LEN: u64 = 100 << 20;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The request target as sent (`/path?query`, or an absolute URI).
    pub target: String,
    /// The path without the query.
    pub path: String,
    /// Header names lowercased, in the order received. For HTTP/2 the authority is
    /// recorded as `:authority`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    hits: Mutex<HashMap<String, usize>>,
    requests: Mutex<Vec<Recorded>>,
    body_bytes: Mutex<HashMap<String, u64>>,
    /// Paths whose streamed body ended (sent in full, or the client went away).
    body_done: Mutex<Vec<String>>,
    body_done_notify: tokio::sync::Notify,
    connections: AtomicUsize,
}

impl State {
    /// Records a request and returns its number (1-based) among requests to its path.
    fn record(&self, r: Recorded) -> usize {
        let mut hits = self.hits.lock().unwrap();
        let n = hits.entry(r.path.clone()).or_insert(0);
        *n += 1;
        let n = *n;
        self.requests.lock().unwrap().push(r);
        n
    }
    fn add_body_bytes(&self, path: &str, n: u64) {
        *self.body_bytes.lock().unwrap().entry(path.to_string()).or_insert(0) += n;
    }
}

#[derive(Clone)]
enum Mode {
    /// The routes above, over plain TCP or TLS.
    Routes(Option<Arc<rustls::ServerConfig>>),
    /// Every connection is reset right after it is accepted.
    ResetOnAccept,
    /// Every connection is accepted and then left alone: nothing is read or written.
    Silent,
    /// HTTP/2 over TLS (hyper), every path answers 200 [`OK_BODY`].
    H2(Arc<rustls::ServerConfig>),
}

/// A running server; it stops accepting when dropped.
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TestServer {
    /// Plain HTTP/1.1 with the routes.
    pub async fn start() -> TestServer {
        Self::spawn(Mode::Routes(None)).await
    }
    /// HTTPS (HTTP/1.1 via ALPN) with the routes and a fresh self-signed certificate for `localhost`.
    pub async fn start_tls() -> TestServer {
        Self::spawn(Mode::Routes(Some(server_config(&[b"http/1.1"])))).await
    }
    /// HTTPS that only speaks HTTP/2 (ALPN `h2`), self-signed for `localhost`.
    pub async fn start_h2() -> TestServer {
        Self::spawn(Mode::H2(server_config(&[b"h2"]))).await
    }
    /// Resets every connection as soon as it is accepted.
    pub async fn reset_on_accept() -> TestServer {
        Self::spawn(Mode::ResetOnAccept).await
    }
    /// Accepts connections and never reads or answers (not even a TLS handshake).
    pub async fn silent() -> TestServer {
        Self::spawn(Mode::Silent).await
    }

    /// Plain HTTP/1.1 with the routes on [::1]; `None` where IPv6 loopback is missing.
    pub async fn start_ipv6() -> Option<TestServer> {
        let listener = TcpListener::bind("[::1]:0").await.ok()?;
        Some(Self::serve(listener, Mode::Routes(None)))
    }

    async fn spawn(mode: Mode) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        Self::serve(listener, mode)
    }

    fn serve(listener: TcpListener, mode: Mode) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let tls = matches!(mode, Mode::Routes(Some(_)) | Mode::H2(_));
        let state = Arc::new(State::default());
        let st = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                st.connections.fetch_add(1, Ordering::SeqCst);
                let st = st.clone();
                let mode = mode.clone();
                tokio::spawn(async move { serve_conn(tcp, addr, mode, st).await });
            }
        });
        TestServer { addr, tls, state, accept }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT{path}`, or `https://localhost:PORT{path}` for a TLS server
    /// (the certificate is for `localhost`).
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.port())
        } else if self.addr.is_ipv6() {
            format!("http://[::1]:{}{path}", self.port())
        } else {
            format!("http://127.0.0.1:{}{path}", self.port())
        }
    }

    /// Requests received for `path` (without query).
    pub fn hits(&self, path: &str) -> usize {
        self.state.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests received, over all paths.
    pub fn total_hits(&self) -> usize {
        self.state.hits.lock().unwrap().values().sum()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// Body bytes successfully written for `path` (streamed routes only: `/big`).
    pub fn body_bytes_written(&self, path: &str) -> u64 {
        self.state.body_bytes.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Waits (at most `bound`) until a streamed body for `path` has ended, then returns
    /// the bytes written for it; panics when it did not end in time.
    pub async fn wait_body_done(&self, path: &str, bound: Duration) -> u64 {
        let until = tokio::time::Instant::now() + bound;
        loop {
            let notified = self.state.body_done_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.state.body_done.lock().unwrap().iter().any(|p| p == path) {
                return self.body_bytes_written(path);
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                panic!("the body for {path} did not end within {bound:?}");
            }
        }
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The server side of a connection, plain or TLS; gives the TCP socket for SO_LINGER.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {
    fn tcp(&self) -> &TcpStream;
}
impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}
impl Conn for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

async fn serve_conn(tcp: TcpStream, addr: SocketAddr, mode: Mode, st: Arc<State>) {
    match mode {
        Mode::ResetOnAccept => reset(tcp),
        Mode::Silent => drain_until_closed(tcp).await,
        Mode::Routes(None) => handle(tcp, addr, st).await,
        Mode::Routes(Some(cfg)) => {
            if let Ok(tls) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                handle(tls, addr, st).await
            }
        }
        Mode::H2(cfg) => {
            if let Ok(tls) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                serve_h2(tls, st).await
            }
        }
    }
}

/// Closes with RST instead of FIN.
fn reset<C: Conn>(c: C) {
    let _ = c.tcp().set_zero_linger();
    drop(c);
}

/// Holds the connection open, reading and discarding, until the peer goes away.
async fn drain_until_closed<S: AsyncRead + Unpin>(mut s: S) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

struct Req {
    method: String,
    target: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Reads one HTTP/1.1 request (head and Content-Length body). `None` on EOF or nonsense.
async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut body = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while body.len() < len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    // An absolute-form target ("http://host/path"): route by its path.
    let path = match path.find("://") {
        Some(i) => path[i + 3..].find('/').map(|j| path[i + 3 + j..].to_string()).unwrap_or_else(|| "/".into()),
        None => path,
    };
    Some(Req { method, target, path, query, headers, body })
}

enum Body {
    Bytes(Vec<u8>),
    /// `len` copies of `byte`, written in 64 KiB pieces.
    Repeat(u8, u64),
}

enum Action {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
    },
    /// Write these bytes as they are, then close.
    Raw(Vec<u8>),
    /// Write these bytes (a head and part of a body), then never write again.
    RawThenHang(Vec<u8>),
    /// Write these bytes, then reset the connection.
    RawThenReset(Vec<u8>),
    Reset,
    Close,
    Hang,
}

fn respond(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Action {
    Action::Respond {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: Body::Bytes(body.into()),
    }
}

fn json(body: &str) -> Action {
    respond(200, "application/json", body)
}

fn redirect(status: u16, location: String) -> Action {
    Action::Respond { status, headers: vec![("Location".into(), location)], body: Body::Bytes(Vec::new()) }
}

fn with_header(mut a: Action, name: &str, value: &str) -> Action {
    if let Action::Respond { headers, .. } = &mut a {
        headers.push((name.to_string(), value.to_string()));
    }
    a
}

async fn route(req: &Req, hit: usize, addr: SocketAddr) -> Action {
    let host = req.header("host").map(str::to_string).unwrap_or_else(|| addr.to_string());
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let num = |s: &str| s.parse::<u64>().unwrap_or(0);
    match segs.as_slice() {
        ["ok"] => json(OK_BODY),
        ["json"] => json(JSON_DOC),
        ["memory", "status"] => json(MEMORY_STATUS),
        ["status", code] => {
            let code = code.parse::<u16>().unwrap_or(500);
            respond(code, "text/plain", format!("status {code}"))
        }
        ["slow", ms] => {
            // sleep-ok: a slow server is what this route simulates
            tokio::time::sleep(Duration::from_millis(num(ms))).await;
            json(OK_BODY)
        }
        ["flaky", n] if hit as u64 <= num(n) => respond(503, "text/plain", "try again"),
        ["flaky", _] => json(OK_BODY),
        ["flaky-retry-after", n, rest @ ..] if hit as u64 <= num(n) => {
            with_header(respond(503, "text/plain", "try again"), "Retry-After", rest.first().unwrap_or(&"1"))
        }
        ["flaky-retry-after", ..] => json(OK_BODY),
        ["alternate"] if hit % 2 == 0 => respond(500, "text/plain", "boom"),
        ["alternate"] => json(OK_BODY),
        ["reset"] => Action::Reset,
        ["reset-mid-body"] => Action::RawThenReset(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n0123456789".to_vec(),
        ),
        ["close"] => Action::Close,
        ["hang"] => Action::Hang,
        ["slow-body"] => Action::RawThenHang(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/plain\r\n\r\n0123456789".to_vec(),
        ),
        ["truncated"] => Action::Raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nonly this".to_vec(),
        ),
        ["garbage"] => Action::Raw(b"SOMETHING THAT IS NOT HTTP AT ALL\r\n\r\n".to_vec()),
        ["big"] => Action::Respond {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: Body::Repeat(b'a', BIG_LEN),
        },
        ["gzip-bomb"] => with_header(respond(200, "application/octet-stream", gzip_bomb().to_vec()), "Content-Encoding", "gzip"),
        ["gzip"] => with_header(respond(200, "application/json", gzip(GZIP_TEXT.as_bytes())), "Content-Encoding", "gzip"),
        ["bad-gzip"] => with_header(respond(200, "text/plain", "plain text, not gzip at all"), "Content-Encoding", "gzip"),
        ["loop"] => redirect(302, "/loop".into()),
        ["r3"] => redirect(302, format!("http://{host}/r2")),
        ["r2"] => redirect(301, "/r1".into()),
        ["r1"] => redirect(307, "ok".into()),
        ["see-other"] => redirect(303, "/echo".into()),
        ["temp-redirect"] => redirect(307, "/echo".into()),
        ["moved"] => redirect(301, "/echo".into()),
        ["to-ftp"] => redirect(302, "ftp://example.com/file".into()),
        ["leak"] => redirect(302, format!("/leak?{}", req.query)),
        ["leak-abs"] => redirect(302, format!("http://{host}/leak-abs?{}", req.query)),
        ["not-json"] => respond(200, "application/json", NOT_JSON),
        ["binary"] => respond(200, "application/octet-stream", BINARY_BODY),
        ["versioned"] => with_header(json(&format!(r#"{{"version":"{SHA}"}}"#)), "X-Version", SHA),
        ["echo"] => json(r#"{"echo":true}"#),
        ["goto"] => {
            let to = url::form_urlencoded::parse(req.query.as_bytes())
                .find(|(k, _)| k == "to")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| "/ok".into());
            redirect(302, to)
        }
        ["chunked"] => Action::Raw(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n\
              7\r\n{\"statu\r\n8\r\ns\":\"ok\",\r\n11\r\n\"chunks\":\"three\"}\r\n0\r\n\r\n"
                .to_vec(),
        ),
        _ => respond(404, "text/plain", "not found"),
    }
}

async fn handle<C: Conn>(mut c: C, addr: SocketAddr, st: Arc<State>) {
    let Some(req) = read_request(&mut c).await else { return };
    let hit = st.record(Recorded {
        method: req.method.clone(),
        target: req.target.clone(),
        path: req.path.clone(),
        headers: req.headers.clone(),
        body: req.body.clone(),
    });
    match route(&req, hit, addr).await {
        Action::Reset => reset(c),
        Action::Close => {
            let _ = c.shutdown().await;
        }
        Action::Hang => drain_until_closed(c).await,
        Action::Raw(bytes) => {
            let _ = c.write_all(&bytes).await;
            let _ = c.shutdown().await;
        }
        Action::RawThenReset(bytes) => {
            let _ = c.write_all(&bytes).await;
            let _ = c.flush().await;
            // Let the bytes reach the client before the reset discards what is unsent.
            // sleep-ok: the fake's own pacing (a server that resets mid-body), not test synchronisation
            tokio::time::sleep(Duration::from_millis(50)).await;
            reset(c)
        }
        Action::RawThenHang(bytes) => {
            let _ = c.write_all(&bytes).await;
            let _ = c.flush().await;
            drain_until_closed(c).await
        }
        Action::Respond { status, headers, body } => {
            let reason =
                http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Whatever");
            let no_body = matches!(status, 204 | 304) || (100..200).contains(&status);
            let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            let len = match &body {
                Body::Bytes(b) => b.len() as u64,
                Body::Repeat(_, n) => *n,
            };
            if !no_body {
                head.push_str(&format!("Content-Length: {len}\r\n"));
            }
            head.push_str("Connection: close\r\n\r\n");
            if c.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            if !no_body && req.method != "HEAD" {
                match body {
                    Body::Bytes(b) => {
                        let _ = c.write_all(&b).await;
                    }
                    Body::Repeat(byte, n) => {
                        let piece = vec![byte; 64 * 1024];
                        let mut left = n;
                        while left > 0 {
                            let k = left.min(piece.len() as u64) as usize;
                            if c.write_all(&piece[..k]).await.is_err() {
                                break;
                            }
                            st.add_body_bytes(&req.path, k as u64);
                            left -= k as u64;
                        }
                        st.body_done.lock().unwrap().push(req.path.clone());
                        st.body_done_notify.notify_waiters();
                    }
                }
            }
            let _ = c.flush().await;
            let _ = c.shutdown().await;
        }
    }
}

async fn serve_h2(tls: tokio_rustls::server::TlsStream<TcpStream>, st: Arc<State>) {
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let st = st.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.map(|c| c.to_bytes().to_vec()).unwrap_or_default();
            let mut headers: Vec<(String, String)> = Vec::new();
            if let Some(a) = parts.uri.authority() {
                headers.push((":authority".into(), a.to_string()));
            }
            for (k, v) in &parts.headers {
                headers.push((k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()));
            }
            st.record(Recorded {
                method: parts.method.to_string(),
                target: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                path: parts.uri.path().to_string(),
                headers,
                body,
            });
            let resp = hyper::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(OK_BODY.as_bytes())))
                .unwrap();
            Ok::<_, Infallible>(resp)
        }
    });
    let _ =
        hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(tls), svc).await;
}

/// A TLS server config with a fresh self-signed certificate for `localhost`.
fn server_config(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("self-signed certificate");
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// `data`, gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A gzip member that inflates to [`BOMB_LEN`] zero bytes, built without compressing
/// 100 MiB: one MiB of zeros is deflated once with a full flush (which ends on a byte
/// boundary and leaves the stream self-contained, with no final-block bit), that
/// piece is repeated, a final empty block ends the stream, and the CRC of the whole is
/// combined from the CRC of one piece.
pub fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        use flate2::{Compress, Compression, Crc, FlushCompress};
        const PIECE: usize = 1 << 20;
        let zeros = vec![0u8; PIECE];
        let mut c = Compress::new(Compression::best(), false);
        let mut piece = Vec::with_capacity(64 * 1024);
        c.compress_vec(&zeros, &mut piece, FlushCompress::Full).unwrap();
        assert_eq!(c.total_in(), PIECE as u64, "one deflate call should take the whole piece");
        let mut fin = Compress::new(Compression::best(), false);
        let mut tail = Vec::with_capacity(64);
        fin.compress_vec(&[], &mut tail, FlushCompress::Finish).unwrap();

        let pieces = (BOMB_LEN as usize) / PIECE;
        let mut one = Crc::new();
        one.update(&zeros);
        let mut crc = Crc::new();
        for _ in 0..pieces {
            crc.combine(&one);
        }
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        for _ in 0..pieces {
            out.extend_from_slice(&piece);
        }
        out.extend_from_slice(&tail);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(BOMB_LEN as u32).to_le_bytes());
        out
    })
}
