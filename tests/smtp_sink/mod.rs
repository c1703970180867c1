//! A real SMTP server for the email tests: aiosmtpd (`python3 -m aiosmtpd`) with a small
//! handler that writes every message it accepts, parsed by Python's `email` package
//! (decoded subject, from, to, plain and HTML parts), as one JSON file per message.
//! Missing aiosmtpd fails the test loudly with the install command; it never skips.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const HANDLER: &str = r#"
import email, email.policy, json, os

class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        def part(kind):
            p = msg.get_body(preferencelist=(kind,))
            return p.get_content() if p is not None else None
        doc = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "date": str(msg["date"]),
            "message_id": str(msg["message-id"]),
            "plain": part("plain"),
            "html": part("html"),
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            "tls": session.ssl is not None
            or (server.transport is not None and server.transport.get_extra_info("ssl_object") is not None),
        }
        path = os.path.join(self.outdir, "msg%04d.json" % self.n)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"
"#;

/// Panics with an install hint when aiosmtpd is missing.
pub fn require_aiosmtpd() {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "aiosmtpd is not installed, and the email tests need a real SMTP server.\n\
         Install it with:  python3 -m pip install aiosmtpd\n\
         (./scripts/test.sh does this on a clean machine.)"
    );
}

/// How the server secures connections.
pub enum Listen<'a> {
    Plain,
    /// STARTTLS offered (and required by aiosmtpd before MAIL) with this cert and key.
    StartTls {
        cert: &'a Path,
        key: &'a Path,
    },
    /// Implicit TLS on connect.
    Implicit {
        cert: &'a Path,
        key: &'a Path,
    },
}

pub struct SmtpSink {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl SmtpSink {
    pub fn start(tls: Listen<'_>) -> SmtpSink {
        require_aiosmtpd();
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("mail");
        std::fs::create_dir(&out).expect("mail dir");
        std::fs::write(dir.path().join("vaktpost_smtp_sink.py"), HANDLER).expect("write handler");
        let port = free_port();
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "aiosmtpd", "-n", "-c", "vaktpost_smtp_sink.Handler", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .env("PYTHONPATH", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match tls {
            Listen::Plain => {}
            Listen::StartTls { cert, key } => {
                cmd.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
            }
            Listen::Implicit { cert, key } => {
                cmd.arg("--smtpscert").arg(cert).arg("--smtpskey").arg(key);
            }
        }
        cmd.arg(&out);
        let mut child = cmd.spawn().expect("start python3 -m aiosmtpd");
        let t0 = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("aiosmtpd exited early ({status}): {err}");
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "aiosmtpd did not listen on {port} within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink { port, child, dir }
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Messages received so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.mail_dir())
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "json"));
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read message")).expect("message JSON"))
            .collect()
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files in `dir`;
/// returns (cert path, key path, cert PEM).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("self-signed certificate");
    let cert_pem = ck.cert.pem();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key, ck.key_pair.serialize_pem()).expect("write key");
    (cert, key, cert_pem)
}
