//! The `tcp` check: a connection to `host:port` (optionally TLS), optionally a line sent
//! and a regex expected in the reply — SMTP, SSH and FTP banners, Redis `PING`/`+PONG`,
//! any line protocol. The connection is vaktpost's own ([`super::net`]: hickory DNS,
//! connect over every address, rustls), so it fails with the same error kinds as `http`.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::kinds::Kind;
use super::metrics::Metric::{self, *};
use super::{ms, CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::retry::{self, Next, Policy};
use crate::values::duration::format_duration;
use crate::values::vartype::Ty;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpOptions {
    /// Host name or IP address.
    pub host: String,
    /// TCP port, 1–65535.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// Speak TLS after connecting (SMTPS, rediss, any TLS service).
    #[serde(default)]
    pub tls: bool,
    /// TLS server name (SNI and certificate name), when it differs from `host`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// TLS: accept any certificate (self-signed internal services).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Sent after connecting; `\r\n` is appended unless it already ends in a newline
    /// (`PING` for Redis, `EHLO vaktpost` for SMTP).
    #[serde(default)]
    pub send: Option<String>,
    /// A regular expression the reply (or the server's greeting) must match, e.g.
    /// `^\+PONG` or `^220 `. Without `expect` and `send` the check only connects.
    #[serde(default)]
    pub expect: Option<String>,
}

/// Most bytes read while waiting for `expect` to match: banners and short replies fit
/// many times over; a server that streams without end is cut here.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Characters of the reply kept as the `banner` metric.
pub const MAX_BANNER_CHARS: usize = 256;

/// What one attempt saw.
struct Exchange {
    dns: Duration,
    connect: Duration,
    tls: Option<Duration>,
    total: Duration,
    reply: Option<String>,
}

fn port_of(o: &TcpOptions) -> u16 {
    u16::try_from(o.port).unwrap_or(0)
}

pub async fn check(o: &TcpOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let expect = match o.expect.as_deref().map(Regex::new).transpose() {
        Ok(re) => re,
        Err(e) => return r.fail(CheckError::new(ErrorKind::Config, format!("expect is not a valid regex: {e}"))),
    };
    let op = |_| {
        let (expect, phase, seen) = (expect.as_ref(), Cell::new("resolving the host"), RefCell::new(Vec::new()));
        async move {
            match tokio::time::timeout(eff.timeout, exchange(o, expect, env, &phase, &seen)).await {
                Ok(res) => res,
                // A reply came and did not match, and the server then waited: its answer
                // is the reply, not the wait.
                Err(_) => match (expect, text(&seen.borrow())) {
                    (Some(re), Some(got)) => {
                        let how = format!("and nothing more within {}", format_duration(eff.timeout));
                        Err((mismatch(re, &got, &how), Some(got)))
                    }
                    (_, got) => Err((
                        CheckError::new(
                            ErrorKind::Timeout,
                            format!("timed out after {} while {}", format_duration(eff.timeout), phase.get()),
                        ),
                        got,
                    )),
                },
            }
        }
    };
    // Connect errors and timeouts are retried (`retry::run`, the check policy); a reply
    // that does not match is the server's answer, not a blip.
    let judge = |res: &Result<Exchange, (CheckError, Option<String>)>| match res {
        Err((e, _)) if matches!(e.kind, ErrorKind::Connect | ErrorKind::Timeout) => Next::Retry,
        _ => Next::Done,
    };
    let out = retry::run(&Policy::check(eff.retries), &env.waiter, op, judge).await;
    r.set("attempts", out.attempts as u64);
    match out.value {
        Ok(x) => {
            r.set("dns_ms", ms(x.dns));
            r.set("connect_ms", ms(x.connect));
            if let Some(t) = x.tls {
                r.set("tls_ms", ms(t));
            }
            r.set("response_time_ms", ms(x.total));
            if let Some(reply) = &x.reply {
                r.set("banner", banner(reply));
            }
            r.status = Status::Up;
            r
        }
        Err((mut e, reply)) => {
            if let Some(reply) = reply.as_deref().filter(|s| !s.is_empty()) {
                r.set("banner", banner(reply));
            }
            e.message.push_str(&out.stop.clause());
            r.fail(e)
        }
    }
}

/// The `banner` metric: the start of the reply, one line per line, bounded. The text is
/// the server's (untrusted); each output neutralises it for its medium, and the result's
/// scrub redacts it.
fn banner(reply: &str) -> String {
    let cleaned: String = reply
        .trim_end_matches(['\r', '\n', '\0'])
        .chars()
        .take(MAX_BANNER_CHARS + 1)
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    crate::untrusted::bound(&cleaned, MAX_BANNER_CHARS)
}

async fn exchange(
    o: &TcpOptions,
    expect: Option<&Regex>,
    env: &CheckEnv,
    phase: &Cell<&'static str>,
    seen: &RefCell<Vec<u8>>,
) -> Result<Exchange, (CheckError, Option<String>)> {
    let start = Instant::now();
    phase.set("resolving the host");
    let addrs = env.net.resolve(&o.host).await.map_err(|e| (e, None))?;
    let dns = start.elapsed();
    phase.set("connecting");
    let t0 = Instant::now();
    let tcp = env.net.connect(&addrs, port_of(o)).await.map_err(|e| (e, None))?;
    let connect = t0.elapsed();
    let (tls, reply) = if o.tls {
        phase.set("in the TLS handshake");
        let t0 = Instant::now();
        let name = o.server_name.as_deref().unwrap_or(&o.host);
        let stream = env.net.tls(tcp, name, o.insecure_skip_verify).await.map_err(|e| (e, None))?;
        let tls = t0.elapsed();
        (Some(tls), talk(stream, o, expect, phase, seen).await?)
    } else {
        (None, talk(tcp, o, expect, phase, seen).await?)
    };
    Ok(Exchange { dns, connect, tls, total: start.elapsed(), reply })
}

/// Sends `send`, then reads until `expect` matches (or, with `send` and no `expect`, the
/// first bytes of the reply). `None` when there is nothing to read for.
async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    o: &TcpOptions,
    expect: Option<&Regex>,
    phase: &Cell<&'static str>,
    seen: &RefCell<Vec<u8>>,
) -> Result<Option<String>, (CheckError, Option<String>)> {
    if let Some(line) = &o.send {
        phase.set("sending");
        let mut bytes = line.clone().into_bytes();
        if !line.ends_with('\n') {
            bytes.extend_from_slice(b"\r\n");
        }
        s.write_all(&bytes).await.map_err(|e| (io_error("sending", &e), None))?;
        let _ = s.flush().await;
    }
    if expect.is_none() && o.send.is_none() {
        return Ok(None);
    }
    phase.set(if o.send.is_some() { "waiting for the reply" } else { "waiting for the greeting" });
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await;
        // What has come so far stays readable for the timeout's message.
        let mut buf = seen.borrow_mut();
        let n = match n {
            Ok(n) => n,
            Err(e) => return Err((io_error("reading the reply", &e), text(&buf))),
        };
        if n == 0 {
            let seen = text(&buf).unwrap_or_default();
            return match expect {
                None if !buf.is_empty() => Ok(Some(seen)),
                None => Err((
                    CheckError::new(ErrorKind::Connect, "the server closed the connection without replying"),
                    None,
                )),
                Some(re) if re.is_match(&seen) => Ok(Some(seen)),
                Some(re) => Err((mismatch(re, &seen, "then closed the connection"), Some(seen))),
            };
        }
        let room = MAX_REPLY_BYTES.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..n.min(room)]);
        let seen = text(&buf).unwrap_or_default();
        match expect {
            None => return Ok(Some(seen)),
            Some(re) if re.is_match(&seen) => return Ok(Some(seen)),
            Some(re) if buf.len() >= MAX_REPLY_BYTES => {
                return Err((mismatch(re, &seen, &format!("in its first {} KiB", MAX_REPLY_BYTES >> 10)), Some(seen)))
            }
            Some(_) => {}
        }
    }
}

fn text(buf: &[u8]) -> Option<String> {
    (!buf.is_empty()).then(|| String::from_utf8_lossy(buf).into_owned())
}

fn mismatch(re: &Regex, seen: &str, how: &str) -> CheckError {
    let got = if seen.is_empty() { "nothing".to_string() } else { format!("{:?}", banner(seen)) };
    CheckError::new(
        ErrorKind::Assertion,
        format!("the reply does not match expect /{}/: the server sent {got} {how}", re.as_str()),
    )
}

fn io_error(what: &str, e: &std::io::Error) -> CheckError {
    use std::io::ErrorKind as K;
    let kind = match e.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => ErrorKind::Connect,
        _ => ErrorKind::Protocol,
    };
    CheckError::new(kind, format!("{what} failed: {e}"))
}

impl Kind for TcpOptions {
    fn secrets(&self, _: &mut Vec<String>) {}
    fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
    fn host_key(&self) -> Option<String> {
        Some(self.target())
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        if self.host.trim().is_empty() || self.host.contains("://") || self.host.contains('/') {
            err(&format!("{p}.host"), format!("must be a host name or IP address such as db.example.com, got {:?}", self.host));
        }
        if !(1..=65535).contains(&self.port) {
            err(&format!("{p}.port"), format!("must be a TCP port from 1 to 65535, got {}", self.port));
        }
        if let Some(re) = &self.expect {
            if let Err(e) = Regex::new(re) {
                err(&format!("{p}.expect"), format!("invalid regular expression: {e}"));
            }
        }
        if !self.tls && (self.server_name.is_some() || self.insecure_skip_verify) {
            let key = if self.server_name.is_some() { "server_name" } else { "insecure_skip_verify" };
            err(&format!("{p}.{key}"), "only applies with tls: true; add tls: true or remove it".into());
        }
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("attempts", Num),
        ("dns_ms", Num),
        ("connect_ms", Num),
        ("tls_ms", Num),
        ("response_time_ms", Num),
        ("banner", Str),
    ];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("attempts", N),
            ("dns_ms", N),
            ("connect_ms", N),
            ("tls_ms", N),
            ("response_time_ms", N),
            ("response_time", N),
            ("banner", S),
        ]
    };
    fn summary_parts(r: &CheckResult, parts: &mut Vec<String>) {
        if let Some(c) = r.metric_f64("connect_ms") {
            parts.push(format!("connect {c:.0} ms"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_is_one_bounded_line_set_without_controls() {
        assert_eq!(banner("+PONG\r\n"), "+PONG");
        assert_eq!(banner("a\u{1b}[31mb\r\nc\n"), "a [31mb \nc");
        let long = "x".repeat(10_000);
        assert_eq!(banner(&long).chars().count(), MAX_BANNER_CHARS);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any reply a server sends becomes a banner of at most 256 characters with no
        /// control character but newlines, so it cannot rewrite a terminal or a summary.
        #[test]
        fn any_reply_is_a_bounded_banner_without_controls(reply in "(?s).{0,600}") {
            let b = banner(&reply);
            proptest::prop_assert!(b.chars().count() <= MAX_BANNER_CHARS);
            proptest::prop_assert!(b.chars().all(|c| !c.is_control() || c == '\n'));
        }
    }
}
