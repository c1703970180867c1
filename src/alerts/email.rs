//! Email channel: one message per notice over SMTP (lettre), for teams that live in their
//! inbox or whose seed config only had `ALERT_EMAIL`. The server URL carries credentials,
//! so it is parsed here into a form whose errors and `Debug` never show them.
//!
//! Supported `smtp_url` forms (parsed here, not by lettre's `from_url`, whose bare
//! `smtp://` means *unencrypted*):
//!
//! | URL | connection | default port |
//! | --- | --- | --- |
//! | `smtp://user:pass@host:587` | STARTTLS, required (no upgrade ⇒ error, nothing sent) | 587 |
//! | `smtp://…?tls=required` | the same, said explicitly | 587 |
//! | `smtps://user:pass@host:465` | implicit TLS from the first byte | 465 |
//! | `smtp://host:25?tls=none` | plain text, for a local relay or test server; credentials are refused | 25 |

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::time::Instant;

use super::channel::{self, Channel, SendError, Sending};
use super::event::{AlertEvent, EventKind, Notice};
use super::slack::severity_emoji;
use super::AlertRun;
#[cfg(test)]
use crate::config::Secret;
use crate::config::{EmailAlerts, Severity};
use crate::{retry, untrusted};

/// Longest wait for one SMTP command (capped by the deadline).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Events listed in one message; the rest are counted.
const MAX_LISTED: usize = 500;
/// Characters of the subject, of a monitor or rule name, of a message, of a URL.
const MAX_SUBJECT: usize = 200;
const MAX_NAME: usize = 200;
const MAX_MESSAGE: usize = 2000;
const MAX_URL: usize = 1000;

/// How the connection is secured.
pub use crate::config::endpoints::{parse_smtp_url, Security, SmtpTarget};

/// Sends `notice` as one email to every address in `cfg.to`, introducing itself as
/// `hostname` (the run's [`crate::context::RunContext::hostname`]; also the default
/// sender's domain). Missing settings, bad addresses and SMTP failures come back as
/// messages without credentials.
pub async fn send(
    cfg: &EmailAlerts,
    hostname: Option<&str>,
    notice: &Notice,
    waiter: &retry::Waiter,
) -> Result<(), SendError> {
    let roots = match &cfg.ca_file {
        Some(path) => Some(read_ca_file(path)?),
        None => None,
    };
    send_inner(cfg, hostname, notice, waiter, roots.as_deref()).await
}

/// Largest `ca_file` read: a bundle of a few hundred CA certificates.
const MAX_CA_FILE: u64 = 1 << 20;

/// The PEM text of `alerts.email.ca_file`, bounded; the error says what to give instead.
fn read_ca_file(path: &str) -> Result<Vec<u8>, SendError> {
    use std::io::Read;
    let rejected = |why: String| {
        SendError::Rejected(format!(
            "alerts.email.ca_file {path}: {why}; give a PEM file of the CA certificate(s) that signed the SMTP server's certificate"
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| rejected(format!("cannot read it ({e})")))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE + 1).read_to_end(&mut pem).map_err(|e| rejected(format!("cannot read it ({e})")))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(rejected(format!("it is larger than {MAX_CA_FILE} bytes")));
    }
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(rejected("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    Ok(pem)
}

/// [`send`], also trusting the given PEM certificates as roots — for tests against a
/// local TLS server with a self-signed certificate.
#[doc(hidden)]
pub async fn send_trusting(
    cfg: &EmailAlerts,
    hostname: Option<&str>,
    notice: &Notice,
    waiter: &retry::Waiter,
    roots_pem: &[u8],
) -> Result<(), SendError> {
    send_inner(cfg, hostname, notice, waiter, Some(roots_pem)).await
}

async fn send_inner(
    cfg: &EmailAlerts,
    host_name: Option<&str>,
    notice: &Notice,
    waiter: &retry::Waiter,
    roots_pem: Option<&[u8]>,
) -> Result<(), SendError> {
    use SendError::Rejected;
    if notice.events.is_empty() {
        return Ok(());
    }
    let Some(url) = cfg.smtp_url.as_ref().filter(|s| !s.expose().trim().is_empty()) else {
        return Err(Rejected("email alerts need an SMTP server: set alerts.email.smtp_url (or the SMTP_URL environment variable), e.g. smtp://user:pass@smtp.example.com:587".into()));
    };
    if cfg.to.iter().all(|t| t.trim().is_empty()) {
        return Err(Rejected(
            "email alerts need recipients: set alerts.email.to (or the ALERT_EMAIL environment variable)".into(),
        ));
    }
    let target = parse_smtp_url(url).map_err(Rejected)?;
    let scrub = |s: String| scrub_credentials(s, &target);

    let from_text = cfg.from.clone().filter(|f| !f.trim().is_empty()).unwrap_or_else(|| default_from(host_name));
    let from: Mailbox = from_text
        .trim()
        .parse()
        .map_err(|_| Rejected(format!("alerts.email.from {from_text:?} is not an email address; write e.g. vaktpost@example.com or \"vaktpost <vaktpost@example.com>\"")))?;
    let mut builder = Message::builder().from(from).subject(subject(notice));
    for t in cfg.to.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let mb: Mailbox = t.parse().map_err(|_| {
            Rejected(format!("alerts.email.to: {t:?} is not an email address; write e.g. oncall@example.com"))
        })?;
        builder = builder.to(mb);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(text_body(notice), html_body(notice)))
        .map_err(|e| Rejected(format!("email: cannot build the message: {e}")))?;

    let tls = || -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(target.host.clone());
        if let Some(pem) = roots_pem {
            let cert = Certificate::from_pem(pem).map_err(|e| format!("email: bad root certificate: {e}"))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| format!("email: TLS setup failed: {e}"))
    };
    let mut tb = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.as_str()).port(target.port).tls(
        match target.security {
            Security::StartTls => Tls::Required(tls().map_err(Rejected)?),
            Security::Implicit => Tls::Wrapper(tls().map_err(Rejected)?),
            Security::None => Tls::None,
        },
    );
    if let Some(h) = host_name {
        tb = tb.hello_name(ClientId::Domain(h.to_string()));
    }
    if let (Some(user), Some(pass)) = (&target.username, &target.password) {
        tb = tb.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
    } else if let Some(user) = &target.username {
        tb = tb.credentials(Credentials::new(user.clone(), String::new()));
    }

    let server = format!("{}:{}", target.host, target.port);
    let deadline = waiter.deadline.map(Instant::from_std);
    // Err((text, status, transient, why)) from one attempt.
    type Attempt = Result<(), (String, Option<String>, bool, Failure)>;
    let attempt = |_| {
        let (tb, message, server) = (tb.clone(), message.clone(), &server);
        async move {
            let left = match waiter.left() {
                Some(d) if d.is_zero() => {
                    let text = format!("email to {server}: not sent before the run's deadline");
                    return Err((text, None, false, Failure::Deadline));
                }
                Some(d) => COMMAND_TIMEOUT.min(d),
                None => COMMAND_TIMEOUT,
            };
            let transport = tb.timeout(Some(left)).build::<Tokio1Executor>();
            let sent = match deadline {
                Some(d) => tokio::time::timeout_at(d, transport.send(message)).await,
                None => Ok(transport.send(message).await),
            };
            match sent {
                Ok(Ok(_)) => Ok(()),
                Err(_) => {
                    Err((format!("email to {server}: timed out at the run's deadline"), None, false, Failure::Deadline))
                }
                Ok(Err(e)) => {
                    let why = if e.is_permanent() || e.is_client() || e.is_tls() {
                        Failure::Refused
                    } else {
                        Failure::Transient
                    };
                    Err((scrub(smtp_error_text(&e)), e.status().map(|c| c.to_string()), e.is_transient(), why))
                }
            }
        }
    };
    let judge = |a: &Attempt| match a {
        Err((_, _, true, _)) => retry::Next::Retry,
        _ => retry::Next::Done,
    };
    let out = retry::run(&policy(), waiter, attempt, judge).await;
    let Err((mut text, status, transient, why)) = out.value else { return Ok(()) };
    if why == Failure::Deadline {
        return Err(SendError::Retryable(text));
    }
    if text.contains("STARTTLS") {
        text.push_str("; use smtps:// for implicit TLS, or ?tls=none for a local relay without TLS");
    }
    let what = match status.as_deref() {
        Some("535" | "534" | "530") => {
            return Err(Rejected(format!(
                "email via {server} failed: SMTP authentication failed ({text}); check the user name and password in alerts.email.smtp_url (SMTP_URL)"
            )))
        }
        Some("550" | "551" | "553" | "554") => {
            "; the server refused the sender or a recipient, so no one in alerts.email.to got the message: check alerts.email.to and alerts.email.from"
        }
        _ if transient => "; the server asked to try again later, and the alert stays pending for the next run",
        _ => "",
    };
    let tries = if out.attempts > 1 { format!(" after {} attempts", out.attempts) } else { String::new() };
    let text = format!("email via {server} failed{tries}: {text}{what}{}", out.stop.clause());
    Err(match why {
        Failure::Refused => Rejected(text),
        _ => SendError::Retryable(text),
    })
}

/// How an SMTP attempt failed: out of time, refused for good (5xx, a client or TLS error),
/// or transiently (a 4xx reply, a lost connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Deadline,
    Refused,
    Transient,
}

/// The email channel: one message per notice to every address in `alerts.email.to`.
pub struct Email<'a>(pub &'a EmailAlerts);

impl Channel for Email<'_> {
    fn name(&self) -> &'static str {
        "email"
    }

    fn min_severity(&self) -> Option<Severity> {
        Some(self.0.min_severity.unwrap_or(Severity::Low))
    }

    fn open<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        Box::pin(async move { send(self.0, run.ctx.hostname.as_deref(), notice, &run.waiter()).await })
    }

    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            let notice = channel::test_notice(run);
            self.open(run, &notice).await.map(|_| "sent".to_string())
        })
    }
}

/// The email channel's retry policy: transient (4xx) replies such as greylisting or
/// `421 try again later` get one more attempt after the delivery backoff.
pub fn policy() -> retry::Policy {
    retry::Policy::delivery(Duration::from_secs(10)).attempts(2)
}

/// `[vaktpost] 🔴 opened: api_health: Endpoint api_health is down` for one event,
/// `[vaktpost] 3 alerts opened` for several.
pub fn subject(notice: &Notice) -> String {
    let tag = if notice.title.trim().is_empty() { "vaktpost" } else { notice.title.trim() };
    let count = |k: EventKind| notice.events.iter().filter(|e| e.kind == k).count();
    let (opened, resolved, test) = (count(EventKind::Opened), count(EventKind::Resolved), count(EventKind::Test));
    let body = match notice.events.as_slice() {
        [e] => match e.kind {
            EventKind::Opened => format!("{} opened: {}: {}", severity_emoji(e.severity), e.monitor, e.message),
            EventKind::Resolved => match e.duration_text() {
                Some(d) => format!("✅ resolved after {d}: {}: {}", e.monitor, e.message),
                None => format!("✅ resolved: {}: {}", e.monitor, e.message),
            },
            EventKind::Flapping | EventKind::Settled => {
                format!("{}: {}: {}", e.kind.flap_label().unwrap_or_default(), e.monitor, e.message)
            }
            EventKind::Test => format!("🧪 TEST: {}: {} (test alert, no action needed)", e.monitor, e.message),
            EventKind::Changed => format!("{}: {}: {}", e.change_label(), e.monitor, e.message),
        },
        _ if test > 0 && opened == 0 && resolved == 0 => format!("🧪 TEST: {test} test alerts, no action needed"),
        _ if resolved == 0 && test == 0 => format!("{opened} alerts opened"),
        _ if opened == 0 && test == 0 => format!("{resolved} alerts resolved"),
        _ => {
            let mut parts = Vec::new();
            for (n, what) in [(opened, "opened"), (resolved, "resolved"), (test, "test")] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            format!("{} alerts: {}", notice.events.len(), parts.join(", "))
        }
    };
    untrusted::email_header(&format!("[{tag}] {body}"), MAX_SUBJECT)
}

/// The plain-text body: a headline, then each event with its details and links.
pub fn text_body(notice: &Notice) -> String {
    let mut out = String::new();
    if notice.events.iter().any(|e| e.kind == EventKind::Test) {
        out.push_str("🧪 TEST — vaktpost test alert, no action needed.\n\n");
    }
    out.push_str(&subject(notice));
    out.push_str("\n\n");
    // Each piece on its own line, so a newline in it cannot pass for a line of ours.
    let line = |s: &str, max: usize| untrusted::email_header(s, max);
    for e in notice.events.iter().take(MAX_LISTED) {
        out.push_str(&format!("{}  {} ({})\n", event_label(e), line(&e.monitor, MAX_NAME), line(&e.rule, MAX_NAME)));
        let message = untrusted::email_text(&e.message, MAX_MESSAGE);
        out.push_str(&format!("    {}\n", message.replace('\n', "\n    ")));
        out.push_str(&format!("    First seen: {}\n", e.first_seen.format("%Y-%m-%d %H:%M:%S UTC")));
        if let Some(r) = e.resolved_at {
            out.push_str(&format!("    Resolved:   {}\n", r.format("%Y-%m-%d %H:%M:%S UTC")));
        }
        for (k, v) in &e.details {
            out.push_str(&format!("    {}: {}\n", line(k, MAX_NAME), line(v, MAX_MESSAGE)));
        }
        if let Some(u) = &e.issue_url {
            out.push_str(&format!("    Issue: {}\n", line(u, MAX_URL)));
        }
        out.push('\n');
    }
    if notice.events.len() > MAX_LISTED {
        out.push_str(&format!("…and {} more\n\n", notice.events.len() - MAX_LISTED));
    }
    if let Some(u) = &notice.run_url {
        out.push_str(&format!("Workflow run: {}\n\n", line(u, MAX_URL)));
    }
    out.push_str("-- \nSent by vaktpost (alerts.email).\n");
    out
}

/// The HTML alternative: the same content, escaped.
pub fn html_body(notice: &Notice) -> String {
    let mut out = String::from("<!DOCTYPE html><html><body style=\"font-family:sans-serif\">");
    if notice.events.iter().any(|e| e.kind == EventKind::Test) {
        out.push_str("<p style=\"background:#fff3cd;padding:8px\"><strong>🧪 TEST — vaktpost test alert, no action needed.</strong></p>");
    }
    out.push_str(&format!("<h2>{}</h2><ul>", html(&subject(notice))));
    for e in notice.events.iter().take(MAX_LISTED) {
        out.push_str(&format!(
            "<li><p><strong>{} {}</strong> ({})<br>{}<br><small>First seen {}</small></p>",
            html(&event_label(e)),
            untrusted::html(&e.monitor, MAX_NAME),
            untrusted::html(&e.rule, MAX_NAME),
            untrusted::html(&e.message, MAX_MESSAGE),
            e.first_seen.format("%Y-%m-%d %H:%M:%S UTC")
        ));
        if !e.details.is_empty() {
            out.push_str("<ul>");
            for (k, v) in &e.details {
                out.push_str(&format!(
                    "<li>{}: {}</li>",
                    untrusted::html(k, MAX_NAME),
                    untrusted::html(v, MAX_MESSAGE)
                ));
            }
            out.push_str("</ul>");
        }
        if let Some(u) = e.issue_url.as_deref().filter(|u| is_http(u)) {
            out.push_str(&format!("<p><a href=\"{}\">GitHub issue</a></p>", html(u)));
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
    if notice.events.len() > MAX_LISTED {
        out.push_str(&format!("<p>…and {} more</p>", notice.events.len() - MAX_LISTED));
    }
    if let Some(u) = notice.run_url.as_deref().filter(|u| is_http(u)) {
        out.push_str(&format!("<p><a href=\"{}\">Workflow run</a></p>", html(u)));
    }
    out.push_str("<p><small>Sent by vaktpost (alerts.email).</small></p></body></html>");
    out
}

/// `vaktpost@<this machine's host name>`, or `vaktpost@localhost` when it has none usable.
pub fn default_from(hostname: Option<&str>) -> String {
    match hostname {
        Some(h) if format!("vaktpost@{h}").parse::<lettre::Address>().is_ok() => format!("vaktpost@{h}"),
        _ => "vaktpost@localhost".to_string(),
    }
}

fn event_label(e: &AlertEvent) -> String {
    match e.kind {
        EventKind::Opened => format!("{} {} OPENED", severity_emoji(e.severity), e.severity.as_str().to_uppercase()),
        EventKind::Resolved => match e.duration_text() {
            Some(d) => format!("✅ RESOLVED after {d}"),
            None => "✅ RESOLVED".to_string(),
        },
        EventKind::Flapping => "🔁 FLAPPING".to_string(),
        EventKind::Settled => "〰️ NO LONGER FLAPPING, STILL FAILING".to_string(),
        EventKind::Test => "🧪 TEST".to_string(),
        EventKind::Changed => e.change_label().to_uppercase(),
    }
}

fn smtp_error_text(e: &lettre::transport::smtp::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

fn scrub_credentials(mut text: String, t: &SmtpTarget) -> String {
    if let Some(p) = t.password.as_ref().map(|p| p.expose()).filter(|p| p.len() >= 3) {
        text = text.replace(p, "***");
    }
    if let Some(u) = t.username.as_deref().filter(|u| u.len() >= 3) {
        text = text.replace(u, "***");
    }
    text
}

fn is_http(u: &str) -> bool {
    u.starts_with("https://") || u.starts_with("http://")
}

/// HTML for text that is ours or already bounded (URLs are checked by [`is_http`]).
fn html(s: &str) -> String {
    untrusted::html(s, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(u: &str) -> Result<SmtpTarget, String> {
        parse_smtp_url(&Secret::new(u))
    }

    #[test]
    fn url_forms_pick_the_documented_security_and_port() {
        let t = parse("smtp://user:p%40ss@mail.example.com").unwrap();
        assert_eq!((t.security, t.port, t.username.as_deref()), (Security::StartTls, 587, Some("user")));
        assert_eq!(t.password.as_ref().map(|p| p.expose()), Some("p@ss"));
        assert_eq!(parse("smtp://h:2525?tls=required").unwrap().security, Security::StartTls);
        let t = parse("smtps://u:p@h").unwrap();
        assert_eq!((t.security, t.port), (Security::Implicit, 465));
        let t = parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((t.security, t.port, t.host.as_str()), (Security::None, 2525, "127.0.0.1"));
        assert_eq!(parse("smtp://localhost?tls=none").unwrap().port, 25);
    }

    #[test]
    fn bad_urls_say_why_without_the_secret() {
        for (u, why) in [
            ("http://u:hunter2@h", "smtp://"),
            ("smtp://u:hunter2@h?tls=none", "unencrypted"),
            ("smtp://u:hunter2@h?tls=maybe", "required or none"),
            ("smtp://u:hunter2@h?password=x", "unknown parameter"),
            ("not a url hunter2", "not a valid URL"),
        ] {
            let e = parse(u).unwrap_err();
            assert!(e.contains(why) && !e.contains("hunter2"), "{u}: {e}");
        }
    }

    #[test]
    fn default_sender_uses_the_host_name_when_it_is_usable() {
        assert_eq!(default_from(Some("runner-1.example.com")), "vaktpost@runner-1.example.com");
        assert_eq!(default_from(Some("bad host")), "vaktpost@localhost");
        assert_eq!(default_from(None), "vaktpost@localhost");
    }

    // Regression: remote text with CR/LF and control characters reached the subject and
    // the plain-text body as they were.
    #[test]
    fn remote_text_cannot_add_headers_or_raw_html() {
        let hostile = "down\r\nBcc: victim@example.com\r\n\r\n<script>x</script>\u{7}\u{0}";
        let notice =
            Notice { events: vec![AlertEvent::sample("api", hostile)], run_url: None, title: "t\r\nX: y".into() };
        let s = subject(&notice);
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert!(s.chars().count() <= MAX_SUBJECT);
        let text = text_body(&notice);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert!(!text.lines().any(|l| l.starts_with("Bcc:")), "a remote line passes for a header line: {text}");
        let html = html_body(&notice);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
        let huge = AlertEvent::sample(&"n".repeat(100_000), &"m".repeat(100_000));
        let notice = Notice { events: vec![huge], run_url: None, title: String::new() };
        assert!(text_body(&notice).chars().count() < 10_000);
        assert!(html_body(&notice).chars().count() < 10_000);
    }
}
