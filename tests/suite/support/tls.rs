//! Certificates made with rcgen for the `ssl` and security tests (private CAs,
//! intermediates, leaves with chosen validity windows and names), and a small local
//! HTTP(S) server whose answers a test chooses per path.
//!
//! Used by tests/ssl.rs through `#[path]`, so tests/support/mod.rs stays as it is.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// `now + days` (and `hours`), for validity windows.
pub fn in_days(days: i64, hours: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(days) + time::Duration::hours(hours)
}

/// A certificate and its key.
pub struct Issued {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Issued {
    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

fn sign(params: CertificateParams, issuer: Option<&Issued>) -> Issued {
    let key = KeyPair::generate().expect("key pair");
    let cert = match issuer {
        Some(i) => params.signed_by(&key, &i.cert, &i.key).expect("sign certificate"),
        None => params.self_signed(&key).expect("self-sign certificate"),
    };
    Issued { cert, key }
}

/// A CA certificate (a root when `issuer` is None, else an intermediate).
pub fn ca(
    cn: &str,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
    issuer: Option<&Issued>,
) -> Issued {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, "vaktpost tests");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = not_before;
    p.not_after = not_after;
    sign(p, issuer)
}

/// A server certificate for `names` (DNS names or IP addresses); self-signed when
/// `issuer` is None.
pub fn leaf(
    names: &[&str],
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
    issuer: Option<&Issued>,
) -> Issued {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("params");
    p.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = not_before;
    p.not_after = not_after;
    sign(p, issuer)
}

/// A root, an intermediate signed by it, and a `localhost` leaf signed by the
/// intermediate, valid for `leaf_days` (plus an hour, so `days_left` reads exactly that).
pub struct Chain {
    pub root: Issued,
    pub intermediate: Issued,
    pub leaf: Issued,
}

impl Chain {
    pub fn new(leaf_days: i64) -> Chain {
        Self::with(leaf_days, 365, &["localhost"])
    }
    pub fn with(leaf_days: i64, intermediate_days: i64, names: &[&str]) -> Chain {
        let root = ca("vaktpost Test Root CA", in_days(-30, 0), in_days(3650, 0), None);
        let intermediate =
            ca("vaktpost Test Intermediate", in_days(-30, 0), in_days(intermediate_days, 1), Some(&root));
        let leaf = leaf(names, in_days(-30, 0), in_days(leaf_days, 1), Some(&intermediate));
        Chain { root, intermediate, leaf }
    }
    /// The server config that sends leaf + intermediate.
    pub fn server(&self, versions: Versions) -> Arc<rustls::ServerConfig> {
        server_config(&[&self.leaf, &self.intermediate], versions)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    Default,
    Tls12Only,
}

/// A rustls server config presenting `chain` (the first is the leaf whose key is used).
pub fn server_config(chain: &[&Issued], versions: Versions) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider);
    let builder = match versions {
        Versions::Default => builder.with_safe_default_protocol_versions(),
        Versions::Tls12Only => builder.with_protocol_versions(&[&rustls::version::TLS12]),
    }
    .expect("TLS versions");
    let certs: Vec<CertificateDer<'static>> = chain.iter().map(|c| c.der()).collect();
    let mut cfg =
        builder.with_no_client_auth().with_single_cert(certs, chain[0].private_key()).expect("server certificate");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

/// Writes `pem` to a temporary file (kept while the returned value lives).
pub fn pem_file(pem: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    std::io::Write::write_all(&mut f, pem.as_bytes()).expect("write PEM");
    f
}

/// What the server answers for one path.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply { status, headers: Vec::new(), body: body.to_string() }
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

pub type Routes = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// Answers `pairs` by exact path, and 404 for anything else.
pub fn routes(pairs: Vec<(&str, Reply)>) -> Routes {
    let table: Vec<(String, Reply)> = pairs.into_iter().map(|(p, r)| (p.to_string(), r)).collect();
    Arc::new(move |path: &str| {
        table.iter().find(|(p, _)| p == path).map(|(_, r)| r.clone()).unwrap_or_else(|| Reply::new(404, "not found"))
    })
}

/// A local server on 127.0.0.1; it stops accepting when dropped.
pub struct Server {
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Server {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// HTTPS (`Some(config)`) or plain HTTP, answering with `routes`. A client that only
    /// does the handshake (the `ssl` check) is fine: the server then reads nothing.
    pub async fn start(tls: Option<Arc<rustls::ServerConfig>>, routes: Routes) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let routes = routes.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(cfg) => {
                            if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                                answer(s, routes).await
                            }
                        }
                        None => answer(tcp, routes).await,
                    }
                });
            }
        });
        Server { addr, accept }
    }

    /// TLS only: handshakes and then answers nothing (the `ssl` check needs no more).
    pub async fn tls(cfg: Arc<rustls::ServerConfig>) -> Server {
        Self::start(Some(cfg), routes(vec![])).await
    }

    /// Accepts TCP connections and never says a word (no TLS handshake).
    pub async fn silent() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let accept = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                if let Ok((tcp, _)) = listener.accept().await {
                    held.push(tcp);
                }
            }
        });
        Server { addr, accept }
    }
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, routes: Routes) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let reply = routes(path);
    let reason = http::StatusCode::from_u16(reply.status).ok().and_then(|c| c.canonical_reason()).unwrap_or("Status");
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", reply.body.len()));
    out.push_str(&reply.body);
    let _ = s.write_all(out.as_bytes()).await;
    let _ = s.flush().await;
    let _ = s.shutdown().await;
}
