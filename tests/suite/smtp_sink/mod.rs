//! A real SMTP server for the email tests: aiosmtpd's `SMTP` protocol served by a small
//! Python script that binds 127.0.0.1:0 (so parallel tests never race for a port), prints
//! the port, and writes every message it accepts, parsed by Python's `email` package
//! (decoded subject, from, to, plain and HTML parts), as one JSON file per message. It
//! exits when its stdin closes, so a killed test run leaves no server behind.
//!
//! [`Script`] makes it answer like a real submission server can: AUTH PLAIN/LOGIN
//! required (aiosmtpd's authenticator; only after STARTTLS, or on implicit TLS, as on
//! port 587/465), `535 5.7.8` for wrong credentials, `550 5.1.1` for a refused
//! recipient, `421 4.3.2` ("try again later") for the first N transactions. Every SMTP
//! event it sees (AUTH, MAIL, RCPT, DATA) is logged in order for tests to assert on.
//! Missing aiosmtpd fails the test loudly with the install command; it never skips.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const SERVER: &str = r#"
import asyncio, email, email.policy, json, os, ssl, sys, threading
from aiosmtpd.smtp import SMTP, AuthResult

SCRIPT = json.loads(os.environ.get("VAKTPOST_SMTP_SCRIPT") or "{}")

# A fixed name: the default, socket.getfqdn(), can wait seconds on a reverse DNS lookup.
NAME = "smtp-sink.test"

class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0
        self.busy = int(SCRIPT.get("busy", 0))

    def log(self, line):
        with open(os.path.join(self.outdir, "events.log"), "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        want = SCRIPT["auth"]
        login = auth_data.login.decode("utf-8", "replace")
        ok = login == want["user"] and auth_data.password.decode("utf-8", "replace") == want["password"]
        self.log("AUTH %s %s %s" % (mechanism, login, "ok" if ok else "refused"))
        # aiosmtpd answers a failure with 535 5.7.8 Authentication credentials invalid.
        return AuthResult(success=ok, handled=False, auth_data=login)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.log("MAIL " + address)
        if self.busy > 0:
            self.busy -= 1
            return "421 4.3.2 Service not available, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.log("RCPT " + address)
        if address in SCRIPT.get("reject_rcpt", []):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

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
            "auth_user": session.auth_data if session.authenticated else None,
            "tls": session.ssl is not None
            or (server.transport is not None and server.transport.get_extra_info("ssl_object") is not None),
        }
        self.log("DATA")
        path = os.path.join(self.outdir, "msg%04d.json" % self.n)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"

def exit_when_parent_goes():
    sys.stdin.read()
    os._exit(0)

async def main():
    mode, outdir = sys.argv[1], sys.argv[2]
    ctx = None
    if mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    handler = Handler(outdir)
    loop = asyncio.get_running_loop()
    auth = {}
    if "auth" in SCRIPT:
        # AUTH only over TLS: after STARTTLS, or on an implicit-TLS connection (which
        # aiosmtpd does not count as STARTTLS, hence auth_require_tls off there).
        auth = dict(authenticator=handler.authenticate, auth_required=True,
                    auth_require_tls=(mode != "implicit"),
                    auth_exclude_mechanism=SCRIPT.get("exclude_mechanisms", []))
    if mode == "starttls":
        server = await loop.create_server(lambda: SMTP(handler, hostname=NAME, tls_context=ctx, require_starttls=True, **auth), "127.0.0.1", 0)
    elif mode == "implicit":
        server = await loop.create_server(lambda: SMTP(handler, hostname=NAME, **auth), "127.0.0.1", 0, ssl=ctx)
    else:
        server = await loop.create_server(lambda: SMTP(handler, hostname=NAME, **auth), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    await server.serve_forever()

asyncio.run(main())
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

/// How the server answers (the default: accept everything, no AUTH).
#[derive(Default, Clone)]
pub struct Script {
    /// AUTH required with this user name and password (PLAIN and LOGIN offered).
    pub auth: Option<(String, String)>,
    /// Offer only LOGIN (PLAIN excluded), to exercise the other mechanism.
    pub login_only: bool,
    /// Recipients answered `550 5.1.1 … Recipient address rejected`.
    pub reject_rcpt: Vec<String>,
    /// The first `busy` MAIL commands are answered `421 4.3.2 Service not available, try again later`.
    pub busy: u32,
}

impl Script {
    fn json(&self) -> String {
        let mut v = serde_json::json!({"reject_rcpt": self.reject_rcpt, "busy": self.busy});
        if let Some((u, p)) = &self.auth {
            v["auth"] = serde_json::json!({"user": u, "password": p});
        }
        if self.login_only {
            v["exclude_mechanisms"] = serde_json::json!(["PLAIN"]);
        }
        v.to_string()
    }
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
    pub fn start(listen: Listen<'_>) -> SmtpSink {
        SmtpSink::scripted(listen, Script::default())
    }

    pub fn scripted(listen: Listen<'_>, answers: Script) -> SmtpSink {
        require_aiosmtpd();
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("mail");
        std::fs::create_dir(&out).expect("mail dir");
        let script = dir.path().join("vaktpost_smtp_sink.py");
        std::fs::write(&script, SERVER).expect("write the server script");
        let mut cmd = Command::new("python3");
        cmd.arg(&script);
        match listen {
            Listen::Plain => cmd.arg("plain").arg(&out),
            Listen::StartTls { cert, key } => cmd.arg("starttls").arg(&out).arg(cert).arg(key),
            Listen::Implicit { cert, key } => cmd.arg("implicit").arg(&out).arg(cert).arg(key),
        };
        cmd.env("VAKTPOST_SMTP_SCRIPT", answers.json());
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start python3 with aiosmtpd");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("the aiosmtpd test server did not start (printed {line:?}): {err}");
        };
        SmtpSink { port, child, dir }
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// The SMTP events seen so far, in order: `AUTH PLAIN user ok`, `MAIL a@b`, `RCPT c@d`, `DATA`.
    pub fn events(&self) -> Vec<String> {
        std::fs::read_to_string(self.mail_dir().join("events.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
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
