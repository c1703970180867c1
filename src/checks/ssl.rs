//! The `ssl` check: one TLS handshake, then the served chain read with x509-parser.
//! A certificate that fails validation is still inspected and reported (days left,
//! names, issuer) — that is the point of a certificate monitor — so the verifier records
//! rustls's verdict instead of aborting the handshake.

use schemars::JsonSchema;
use serde::Deserialize;

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncWriteExt;

use super::kinds::{DefaultRule, Kind};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::{ms, CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::retry::{self, Next, Policy};
use crate::values::vartype::Ty;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SslOptions {
    pub host: String,
    #[serde(default = "d_443")]
    pub port: u16,
    /// SNI name, when it differs from `host`.
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default = "d_warning_days")]
    pub warning_days: u32,
    #[serde(default = "d_critical_days")]
    pub critical_days: u32,
    /// "1.2" or "1.3".
    #[serde(default)]
    pub min_tls_version: Option<String>,
    /// PEM file with a private CA to trust.
    #[serde(default)]
    pub ca_file: Option<String>,
}

fn d_443() -> u16 {
    443
}
fn d_warning_days() -> u32 {
    30
}
fn d_critical_days() -> u32 {
    7
}

const DAY: i64 = 86_400;

/// What vaktpost reads from one certificate.
#[derive(Debug, Clone)]
pub struct CertFacts {
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses from subjectAltName.
    pub sans: Vec<String>,
}

impl CertFacts {
    /// Parses a DER certificate; `None` when it is not a certificate x509-parser can read.
    pub fn parse(der: &[u8]) -> Option<CertFacts> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let v = cert.validity();
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for n in &ext.value.general_names {
                match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => sans.push(d.to_string()),
                    x509_parser::extensions::GeneralName::IPAddress(b) => {
                        if let Some(ip) = ip_of(b) {
                            sans.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(CertFacts {
            not_before: v.not_before.timestamp(),
            not_after: v.not_after.timestamp(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans,
        })
    }

    fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    fn label(&self) -> &str {
        if self.subject.is_empty() {
            "(no subject)"
        } else {
            &self.subject
        }
    }
}

fn ip_of(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

/// Whole days from `now` until `not_after`, rounded down: negative once expired, and a
/// certificate with 9.9 days left has 9 (as `openssl x509 -checkend` counts).
pub fn days_left(not_after: i64, now: DateTime<Utc>) -> i64 {
    not_after.saturating_sub(now.timestamp()).div_euclid(DAY)
}

/// RFC 3339 in UTC, seconds precision.
pub fn rfc3339(ts: i64) -> String {
    match DateTime::<Utc>::from_timestamp(ts, 0) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => ts.to_string(),
    }
}

fn date(ts: i64) -> String {
    match DateTime::<Utc>::from_timestamp(ts, 0) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => ts.to_string(),
    }
}

fn days(n: i64) -> String {
    if n.abs() == 1 {
        format!("{n} day")
    } else {
        format!("{n} days")
    }
}

/// Sets `days_left` and `not_after` of a leaf certificate (also used by https `http` monitors).
pub fn set_expiry(r: &mut CheckResult, leaf: &CertFacts) {
    let d = days_left(leaf.not_after, r.started_at);
    r.set("days_left", d);
    r.set("not_after", rfc3339(leaf.not_after));
}

pub fn tls_version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "1.3",
        rustls::ProtocolVersion::TLSv1_2 => "1.2",
        _ => "other",
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Delegates every decision to rustls's WebPKI verifier but only records its verdict on
/// the certificate, so the handshake completes and the chain can be read. Handshake
/// signatures are still checked: the server must hold the key of the certificate it
/// shows. One instance per connection, so verdicts never mix.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    verdict: Mutex<Option<Result<(), rustls::Error>>>,
}

impl Recording {
    fn verdict(&self) -> Option<Result<(), rustls::Error>> {
        match self.verdict.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let v = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now).map(|_| ());
        match self.verdict.lock() {
            Ok(mut g) => *g = Some(v),
            Err(p) => *p.into_inner() = Some(v),
        }
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The trust anchors: `ca_file` (it replaces the built-in roots, like curl's `--cacert`),
/// or the webpki roots compiled into the binary.
async fn verifier(s: &SslOptions) -> Result<Arc<WebPkiServerVerifier>, CheckError> {
    let mut roots = rustls::RootCertStore::empty();
    match &s.ca_file {
        None => roots.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        Some(path) => {
            let bytes = tokio::fs::read(path).await.map_err(|e| {
                CheckError::new(
                    ErrorKind::Config,
                    format!("cannot read ca_file {path}: {e}; give a PEM file of CA certificates"),
                )
            })?;
            let mut n = 0;
            for (i, der) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
                let der = der.map_err(|e| {
                    CheckError::new(
                        ErrorKind::Config,
                        format!("ca_file {path}: PEM block {} is unreadable: {e}", i + 1),
                    )
                })?;
                roots.add(der).map_err(|e| {
                    CheckError::new(
                        ErrorKind::Config,
                        format!("ca_file {path}: certificate {} is not a usable CA certificate: {e}", i + 1),
                    )
                })?;
                n += 1;
            }
            if n == 0 {
                return Err(CheckError::new(
                    ErrorKind::Config,
                    format!("ca_file {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
                ));
            }
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| CheckError::new(ErrorKind::Config, format!("cannot build the certificate verifier: {e}")))
}

fn client_config(verifier: Arc<Recording>, tls13_only: bool) -> Result<ClientConfig, CheckError> {
    let versions: &[&'static rustls::SupportedProtocolVersion] =
        if tls13_only { &[&rustls::version::TLS13] } else { &[&rustls::version::TLS13, &rustls::version::TLS12] };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| CheckError::new(ErrorKind::Config, format!("cannot configure TLS versions: {e}")))?;
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

/// What one completed handshake showed.
struct Handshake {
    certs: Vec<CertificateDer<'static>>,
    version: Option<rustls::ProtocolVersion>,
    verdict: Option<Result<(), rustls::Error>>,
    dns: Duration,
    connect: Duration,
    tls: Duration,
}

pub async fn check(s: &SslOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let sni = s.server_name.clone().unwrap_or_else(|| s.host.clone());
    let sni = sni.trim_start_matches('[').trim_end_matches(']').to_string();
    let server_name = match ServerName::try_from(sni.clone()) {
        Ok(n) => n,
        Err(_) => return r.fail(CheckError::new(ErrorKind::Config, format!("{sni:?} is not a valid TLS server name"))),
    };
    let base = match verifier(s).await {
        Ok(v) => v,
        Err(e) => return r.fail(e),
    };
    let tls13_only = s.min_tls_version.as_deref() == Some("1.3");

    // Connect errors and timeouts are retried (`retry::run`, the check policy).
    let op = |_| {
        let (base, server_name, phase) = (base.clone(), &server_name, Cell::new("resolving the host"));
        async move {
            let rec = Arc::new(Recording { inner: base, verdict: Mutex::new(None) });
            let cfg = Arc::new(client_config(rec.clone(), tls13_only)?);
            match tokio::time::timeout(eff.timeout, handshake(s, server_name, cfg, &rec, env, tls13_only, &phase)).await
            {
                Ok(res) => res,
                Err(_) => Err(CheckError::new(
                    ErrorKind::Timeout,
                    format!(
                        "timed out after {} while {}",
                        crate::values::duration::format_duration(eff.timeout),
                        phase.get()
                    ),
                )),
            }
        }
    };
    let judge = |res: &Result<Handshake, CheckError>| match res {
        Err(e) if matches!(e.kind, ErrorKind::Connect | ErrorKind::Timeout) => Next::Retry,
        _ => Next::Done,
    };
    let out = retry::run(&Policy::check(eff.retries), &env.waiter, op, judge).await;
    let attempts = out.attempts;
    let hs = match out.value {
        Ok(hs) => hs,
        Err(mut e) => {
            e.message.push_str(&out.stop.clause());
            r.set("attempts", attempts as u64);
            return r.fail(e);
        }
    };
    r.set("attempts", attempts as u64);
    r.set("dns_ms", ms(hs.dns));
    r.set("connect_ms", ms(hs.connect));
    r.set("tls_ms", ms(hs.tls));
    inspect(s, &server_name, hs, &mut r);
    r
}

async fn handshake(
    s: &SslOptions,
    server_name: &ServerName<'static>,
    cfg: Arc<ClientConfig>,
    rec: &Recording,
    env: &CheckEnv,
    tls13_only: bool,
    phase: &Cell<&'static str>,
) -> Result<Handshake, CheckError> {
    phase.set("resolving the host");
    let t0 = std::time::Instant::now();
    let addrs = env.net.resolve(&s.host).await?;
    let dns = t0.elapsed();

    phase.set("connecting");
    let t0 = std::time::Instant::now();
    let tcp = env.net.connect(&addrs, s.port).await?;
    let connect = t0.elapsed();

    phase.set("in the TLS handshake");
    let t0 = std::time::Instant::now();
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(server_name.clone(), tcp)
        .await
        .map_err(|e| handshake_error(&e, tls13_only))?;
    let tls_time = t0.elapsed();
    let (_, conn) = tls.get_ref();
    let certs = conn.peer_certificates().map(|c| c.to_vec()).unwrap_or_default();
    let version = conn.protocol_version();
    // Say goodbye properly (close_notify), off the clock: the outcome does not matter.
    tokio::spawn(async move {
        let mut tls = tls;
        let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
    });
    Ok(Handshake { certs, version, verdict: rec.verdict(), dns, connect, tls: tls_time })
}

fn handshake_error(e: &std::io::Error, tls13_only: bool) -> CheckError {
    use rustls::AlertDescription as A;
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    let msg = match inner {
        Some(
            err @ (rustls::Error::AlertReceived(A::ProtocolVersion | A::HandshakeFailure)
            | rustls::Error::PeerIncompatible(_)),
        ) if tls13_only => {
            format!("the server does not offer TLS 1.3, which min_tls_version \"1.3\" requires ({err})")
        }
        Some(rustls::Error::InvalidMessage(m)) => {
            format!("TLS handshake failed: the server's answer is not TLS ({m:?}); is this port serving TLS?")
        }
        Some(err) => format!("TLS handshake failed: {err}"),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake".to_string()
        }
        None => format!("TLS handshake failed: {e}"),
    };
    let kind = if inner.is_none() && e.kind() == std::io::ErrorKind::ConnectionReset {
        ErrorKind::Connect
    } else {
        ErrorKind::Tls
    };
    CheckError::new(kind, msg)
}

/// Metrics from the served chain, and the status they mean.
fn inspect(s: &SslOptions, server_name: &ServerName<'static>, hs: Handshake, r: &mut CheckResult) {
    if let Some(v) = hs.version {
        r.set("tls_version", tls_version_name(v));
    }
    let Some(leaf_der) = hs.certs.first() else {
        r.status = Status::Down;
        r.error = Some(CheckError::new(ErrorKind::Tls, "the server sent no certificate"));
        return;
    };
    let Some(leaf) = CertFacts::parse(leaf_der) else {
        r.status = Status::Down;
        r.error = Some(CheckError::new(ErrorKind::Tls, "the server's certificate cannot be parsed as X.509"));
        return;
    };
    let now = r.started_at;
    let chain: Vec<CertFacts> = hs.certs[1..].iter().filter_map(|d| CertFacts::parse(d)).collect();

    set_expiry(r, &leaf);
    let leaf_days = days_left(leaf.not_after, now);
    r.set("issuer", leaf.issuer.clone());
    r.set("subject", leaf.subject.clone());
    r.set("sans", leaf.sans.clone());
    r.set("chain_length", hs.certs.len() as u64);
    let earliest = chain.iter().min_by_key(|c| c.not_after);
    let chain_days = earliest.map(|c| days_left(c.not_after, now));
    if let (Some(c), Some(d)) = (earliest, chain_days) {
        r.set("chain_days_left", d);
        r.set("chain_not_after", rfc3339(c.not_after));
    }

    // The verifier checks the chain before the name, so a name error means the chain passed.
    let (chain_valid, chain_error) = match &hs.verdict {
        Some(Ok(())) => (true, None),
        Some(Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ))) => (true, None),
        Some(Err(e)) => (false, Some(describe(e, &leaf, &chain, now))),
        None => (false, Some("the certificate was not verified".to_string())),
    };
    let hostname_error = match rustls::server::ParsedCertificate::try_from(leaf_der) {
        Ok(p) => match rustls::client::verify_server_name(&p, server_name) {
            Ok(()) => None,
            Err(_) => Some(format!(
                "certificate is not valid for {}; it covers {}",
                server_name.to_str(),
                if leaf.sans.is_empty() { "no names".to_string() } else { leaf.sans.join(", ") }
            )),
        },
        Err(e) => Some(format!("certificate names cannot be read: {e}")),
    };
    let expired = leaf_days < 0 || chain_days.is_some_and(|d| d < 0);
    r.set("chain_valid", chain_valid);
    if let Some(e) = &chain_error {
        r.set("chain_error", e.clone());
    }
    r.set("hostname_valid", hostname_error.is_none());
    r.set("expired", expired);
    let problems: Vec<String> = chain_error.into_iter().chain(hostname_error).collect();
    if !problems.is_empty() {
        r.set("cert_error", problems.join("; "));
    }

    let warn = i64::from(s.warning_days);
    if !problems.is_empty() || leaf_days < 0 {
        r.status = Status::Down;
        let msg = if problems.is_empty() { describe_expired(&leaf, now) } else { problems.join("; ") };
        r.error = Some(CheckError::new(ErrorKind::Tls, msg));
    } else if leaf_days < warn {
        r.status = Status::Degraded;
        r.message = Some(format!(
            "certificate expires in {} (on {}), under warning_days {}",
            days(leaf_days),
            date(leaf.not_after),
            s.warning_days
        ));
    } else if let (Some(c), Some(d)) = (earliest, chain_days.filter(|d| *d < warn)) {
        // Still valid with an expired certificate in the chain: the path was built around
        // it (an expired cross-sign), which older clients may not manage.
        r.status = Status::Degraded;
        r.message = Some(if d < 0 {
            format!("the server still sends certificate \"{}\", which expired on {}", c.label(), date(c.not_after))
        } else {
            format!(
                "intermediate certificate \"{}\" expires in {} (on {}), under warning_days {}",
                c.label(),
                days(d),
                date(c.not_after),
                s.warning_days
            )
        });
    } else {
        r.status = Status::Up;
    }
}

fn describe_expired(leaf: &CertFacts, now: DateTime<Utc>) -> String {
    format!("certificate expired on {} ({} ago)", date(leaf.not_after), days(-days_left(leaf.not_after, now)))
}

/// Why the chain did not validate, in words a person acts on.
fn describe(e: &rustls::Error, leaf: &CertFacts, chain: &[CertFacts], now: DateTime<Utc>) -> String {
    use CertificateError as C;
    let t = now.timestamp();
    let rustls::Error::InvalidCertificate(c) = e else { return e.to_string() };
    match c {
        C::Expired | C::ExpiredContext { .. } => {
            if leaf.not_after < t {
                describe_expired(leaf, now)
            } else if let Some(i) = chain.iter().filter(|i| i.not_after < t).min_by_key(|i| i.not_after) {
                format!("intermediate certificate \"{}\" expired on {}", i.label(), date(i.not_after))
            } else {
                "a certificate in the chain has expired".to_string()
            }
        }
        C::NotValidYet | C::NotValidYetContext { .. } => {
            if leaf.not_before > t {
                format!("certificate is not valid before {}", rfc3339(leaf.not_before))
            } else {
                "a certificate in the chain is not valid yet".to_string()
            }
        }
        C::UnknownIssuer if leaf.self_issued() && chain.is_empty() => {
            "self-signed certificate, not issued by a trusted certificate authority (for a private CA, set ca_file)"
                .to_string()
        }
        C::UnknownIssuer => format!(
            "issued by an unknown certificate authority ({}); the server may not send its intermediate certificates, or the CA is private (set ca_file)",
            leaf.issuer
        ),
        C::BadSignature => "a certificate in the chain has an invalid signature".to_string(),
        C::Revoked => "the certificate has been revoked".to_string(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "the certificate is not meant for TLS server authentication (extended key usage)".to_string()
        }
        other => format!("invalid certificate: {other}"),
    }
}

impl Kind for SslOptions {
    /// Expiry against the monitor's `warning_days`/`critical_days`; an intermediate that
    /// expires before the leaf; a certificate that is not trusted or not for this name.
    /// Expiry is `cert_expiring`'s (or `cert_chain_expiring`'s) to report, so
    /// `cert_invalid` leaves expired chains out, and waits a run for a mid-rotation blip.
    const DEFAULT_RULES: &'static [DefaultRule] = &[
        DefaultRule {
            escalate: &[("days_left < critical_days", Severity::High)],
            ..DefaultRule::once(
                "cert_expiring",
                "days_left < warning_days",
                "Certificate for {name} expires in {days_left} days",
                Severity::Medium,
            )
        },
        DefaultRule {
            escalate: &[("chain_days_left < critical_days", Severity::High)],
            ..DefaultRule::once(
                "cert_chain_expiring",
                "chain_days_left < warning_days && chain_days_left < days_left",
                "An intermediate certificate served for {name} expires in {chain_days_left} days, before the certificate itself",
                Severity::Medium,
            )
        },
        DefaultRule {
            for_runs: 2,
            ..DefaultRule::once(
                "cert_invalid",
                "!hostname_valid || (!chain_valid && !expired)",
                "Certificate for {name} is not valid: {cert_error}",
                Severity::High,
            )
        },
    ];
    fn secrets(&self, _: &mut Vec<String>) {}
    fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
    fn host_key(&self) -> Option<String> {
        Some(self.target())
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        if self.host.trim().is_empty() || self.host.contains("://") {
            err(&format!("{p}.host"), format!("must be a host name such as api.example.com, got {:?}", self.host));
        }
        if self.critical_days > self.warning_days {
            err(&format!("{p}.critical_days"), "must not be more than warning_days".into());
        }
        if let Some(v) = &self.min_tls_version {
            if !matches!(v.as_str(), "1.2" | "1.3") {
                err(&format!("{p}.min_tls_version"), format!("must be \"1.2\" or \"1.3\", got {v:?}"));
            }
        }
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("days_left", Num),
        ("not_after", Str),
        ("attempts", Num),
        ("dns_ms", Num),
        ("connect_ms", Num),
        ("tls_ms", Num),
        ("tls_version", Str),
        ("issuer", Str),
        ("subject", Str),
        ("sans", Strs),
        ("chain_length", Num),
        ("chain_days_left", Num),
        ("chain_not_after", Str),
        ("chain_valid", Bool),
        ("chain_error", Str),
        ("hostname_valid", Bool),
        ("expired", Bool),
        ("cert_error", Str),
    ];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("days_left", N),
            ("not_after", S),
            ("warning_days", N),
            ("critical_days", N),
            ("attempts", N),
            ("dns_ms", N),
            ("connect_ms", N),
            ("tls_ms", N),
            ("tls_version", S),
            ("issuer", S),
            ("subject", S),
            ("sans", LIST_S),
            ("chain_length", N),
            ("chain_days_left", N),
            ("chain_not_after", S),
            ("chain_valid", B),
            ("chain_error", S),
            ("hostname_valid", B),
            ("expired", B),
            ("cert_error", S),
        ]
    };
    fn rule_variables(&self, _: &CheckResult) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("warning_days", serde_json::json!(self.warning_days)),
            ("critical_days", serde_json::json!(self.critical_days)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        let now = DateTime::<Utc>::from_timestamp(1_000_000_000, 0).unwrap();
        let t = now.timestamp();
        assert_eq!(days_left(t + 10 * DAY + 5, now), 10);
        assert_eq!(days_left(t + 10 * DAY - 5, now), 9);
        assert_eq!(days_left(t - 5, now), -1);
        assert_eq!(days_left(t - 3 * DAY, now), -3);
    }

    #[test]
    fn rfc3339_is_utc_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
