//! Network building blocks shared by the checks: a pure-Rust DNS resolver (works in a
//! `scratch` container, reads /etc/resolv.conf and /etc/hosts), TCP connect over every
//! resolved address, and TLS client configs with the built-in webpki roots.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{CheckError, ErrorKind};

pub struct Net {
    resolver: TokioResolver,
    verified: Arc<ClientConfig>,
    insecure: Arc<ClientConfig>,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    pub fn new() -> Net {
        let provider = TokioConnectionProvider::default();
        let mut builder = match TokioResolver::builder(provider.clone()) {
            Ok(b) => b,
            // No /etc/resolv.conf (some minimal containers): fall back to public resolvers'
            // defaults rather than failing every check.
            Err(_) => TokioResolver::builder_with_config(ResolverConfig::default(), provider),
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = Duration::from_secs(3);
        opts.attempts = 2;
        let resolver = builder.build();
        Net { resolver, verified: Arc::new(tls_config(false)), insecure: Arc::new(tls_config(true)) }
    }

    /// Resolves a host name (an IP literal is returned as is).
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, CheckError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        if bare.eq_ignore_ascii_case("localhost") || bare.to_ascii_lowercase().ends_with(".localhost") {
            return Ok(vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]);
        }
        if bare.to_ascii_lowercase().trim_end_matches('.').ends_with(".invalid") {
            // RFC 6761: never resolves; answer without asking a server.
            return Err(CheckError::new(
                ErrorKind::Dns,
                format!("DNS lookup of {bare} failed: the .invalid domain never resolves"),
            ));
        }
        match self.resolver.lookup_ip(bare).await {
            Ok(l) => {
                let ips: Vec<IpAddr> = l.iter().collect();
                if ips.is_empty() {
                    Err(CheckError::new(ErrorKind::Dns, format!("DNS lookup of {bare} returned no addresses")))
                } else {
                    Ok(ips)
                }
            }
            Err(e) => Err(CheckError::new(ErrorKind::Dns, format!("DNS lookup of {bare} failed: {e}"))),
        }
    }

    /// Connects to the first address that accepts.
    pub async fn connect(&self, addrs: &[IpAddr], port: u16) -> Result<TcpStream, CheckError> {
        let mut last = None;
        for ip in addrs {
            match TcpStream::connect(SocketAddr::new(*ip, port)).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = Some((ip, e)),
            }
        }
        let msg = match last {
            Some((ip, e)) => format!("cannot connect to {}: {e}", SocketAddr::new(*ip, port)),
            None => "no address to connect to".to_string(),
        };
        Err(CheckError::new(ErrorKind::Connect, msg))
    }

    /// TLS handshake with ALPN `h2`, `http/1.1`.
    pub async fn tls(&self, tcp: TcpStream, host: &str, insecure: bool) -> Result<TlsStream<TcpStream>, CheckError> {
        let cfg = if insecure { self.insecure.clone() } else { self.verified.clone() };
        let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let name = ServerName::try_from(bare.clone())
            .map_err(|_| CheckError::new(ErrorKind::Tls, format!("{bare} is not a valid TLS server name")))?;
        TlsConnector::from(cfg).connect(name, tcp).await.map_err(|e| {
            CheckError::new(ErrorKind::Tls, format!("TLS handshake with {bare} failed: {}", tls_message(&e)))
        })
    }
}

fn tls_message(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => format!("invalid certificate: {c:?}"),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(insecure: bool) -> ClientConfig {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().unwrap_or_else(|_| {
            ClientConfig::builder_with_provider(provider())
                .with_protocol_versions(rustls::DEFAULT_VERSIONS)
                .expect("ring supports the default TLS versions")
        });
    let mut cfg = if insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider()))).with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    cfg
}

/// `insecure_skip_verify: true`: any certificate is accepted, signatures are still checked.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
