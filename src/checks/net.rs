//! Network building blocks shared by the checks: a pure-Rust DNS resolver (works in a
//! `scratch` container, reads /etc/resolv.conf and /etc/hosts), TCP connect over every
//! resolved address, and TLS client configs with the built-in webpki roots.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, TokioResolver};
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

/// The variable that points every lookup at one DNS server (`ip` or `ip:port`, UDP and
/// TCP) instead of the system's resolv.conf and hosts file.
pub const DNS_SERVER_VAR: &str = "VAKTPOST_DNS_SERVER";

/// A resolver asking only `server` (no hosts file, no search domains), or the system's
/// configuration for `None`; 3 s per attempt, 2 attempts.
pub fn resolver(server: Option<SocketAddr>) -> TokioResolver {
    let provider = TokioConnectionProvider::default();
    let mut builder = match server {
        Some(a) => TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, vec![], NameServerConfigGroup::from_ips_clear(&[a.ip()], a.port(), true)),
            provider,
        ),
        None => match TokioResolver::builder(provider.clone()) {
            Ok(b) => b,
            // No /etc/resolv.conf (some minimal containers): fall back to public resolvers'
            // defaults rather than failing every check.
            Err(_) => TokioResolver::builder_with_config(ResolverConfig::default(), provider),
        },
    };
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    builder.build()
}

/// Reads [`DNS_SERVER_VAR`]: `None` when unset; an error that says what to write when it
/// is not an address.
pub fn dns_server(value: Option<&str>) -> Result<Option<SocketAddr>, String> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(Some(a));
    }
    match v.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => Ok(Some(SocketAddr::new(ip, 53))),
        Err(_) => Err(format!(
            "{DNS_SERVER_VAR}={v:?} is not a DNS server address; write an IP address with an optional port, e.g. 127.0.0.1:5353 or [::1]:53"
        )),
    }
}

impl Net {
    pub fn new() -> Net {
        Self::with_dns_server(None)
    }

    /// `server`: ask only this DNS server (no hosts file, no search domains); `None`: the
    /// system's configuration.
    pub fn with_dns_server(server: Option<SocketAddr>) -> Net {
        Net { resolver: resolver(server), verified: Arc::new(tls_config(false)), insecure: Arc::new(tls_config(true)) }
    }

    /// The run's resolver (the system's, or [`DNS_SERVER_VAR`]'s server), for checks that
    /// look up records themselves (`dns`).
    pub fn resolver(&self) -> &TokioResolver {
        &self.resolver
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
            Err(e) => Err(CheckError::new(ErrorKind::Dns, format!("DNS lookup of {bare} failed: {}", dns_why(&e)))),
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

/// What a failed lookup means, in words, with the DNS response code.
fn dns_why(e: &ResolveError) -> String {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { response_code: ResponseCode::NXDomain, .. }) => {
            "the name does not exist (NXDOMAIN); check the host name".into()
        }
        Some(ProtoErrorKind::NoRecordsFound { response_code: ResponseCode::NoError, .. }) => {
            "the name exists but has no A or AAAA record (NOERROR, no data); add an address record".into()
        }
        Some(ProtoErrorKind::NoRecordsFound { response_code: ResponseCode::ServFail, .. }) => {
            "the DNS server could not answer (SERVFAIL); its upstream or the domain's name servers are failing".into()
        }
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => {
            format!("the DNS server answered {}", response_code.to_str().to_ascii_uppercase())
        }
        Some(ProtoErrorKind::Timeout) => "no DNS server answered in time (timed out)".into(),
        _ => e.to_string(),
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
