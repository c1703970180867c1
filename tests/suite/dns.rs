//! DNS through a real server: dnsmasq on 127.0.0.1 (installed by scripts/test.sh), with
//! vaktpost pointed at it by `VAKTPOST_DNS_SERVER`. A good answer reaches a local HTTP
//! server by name; NXDOMAIN, NODATA, SERVFAIL and an upstream that never answers each
//! end as a `down` check that says which. The `dns` check kind asks dnsmasq for every
//! record type of a zone the test writes (A, AAAA, CNAME, MX, TXT, and NS/SOA from its
//! `--auth-zone`).

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::documented::{checks, code, text, text as text_of, Dir, Site};
use super::support::services::free_port;
use crate::support::{assert_down, assert_up, num, run_yaml, text as mtext};
use vaktpost::checks::ErrorKind;

fn dnsmasq_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VAKTPOST_DNSMASQ") {
        return p.into();
    }
    for p in ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/usr/local/sbin/dnsmasq"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("dnsmasq not found: install it (scripts/test.sh does: apt-get install dnsmasq) or set VAKTPOST_DNSMASQ");
}

pub(crate) struct Dnsmasq {
    child: Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts dnsmasq answering only from its command line: `extra` are its records.
fn dnsmasq(extra: &[String]) -> Dnsmasq {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(dnsmasq_bin())
            .args([
                "--no-daemon",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--conf-file=/dev/null",
                &format!("--pid-file={}", dir.path().join("pid").display()),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        // Ready when it accepts TCP on its port (it listens on UDP and TCP together).
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Dnsmasq { child, port, _dir: dir };
            }
            // sleep-ok: the poll interval of a bounded wait for dnsmasq to listen
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("dnsmasq did not start");
}

/// An upstream DNS server that answers every query with SERVFAIL.
fn servfail_upstream() -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            // The question: labels up to the root, then type and class.
            let mut i = 12;
            while i < n && q[i] != 0 {
                i += 1 + q[i] as usize;
            }
            let end = (i + 5).min(n);
            let mut r = Vec::with_capacity(end);
            r.extend_from_slice(&q[..2]); // id
            r.push(0x80 | (q[2] & 0x01)); // QR, opcode 0, RD copied
            r.push(0x80 | 2); // RA, rcode SERVFAIL
            r.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question, nothing else
            r.extend_from_slice(&q[12..end]);
            let _ = sock.send_to(&r, from);
        }
    });
    port
}

/// A UDP port where nothing answers (bound and never read), and no TCP listener.
fn silent_udp() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = s.local_addr().unwrap().port();
    (s, p)
}

#[test]
fn dns_answers_and_failures_from_a_real_server() {
    let site = Site::start();
    let sf = servfail_upstream();
    let dns = dnsmasq(&[
        "--address=/good.vaktpost.test/127.0.0.1".into(),
        // Every other name under vaktpost.test is answered locally: NXDOMAIN.
        "--local=/vaktpost.test/".into(),
        // A name with a TXT record only: NOERROR with no A/AAAA data.
        "--txt-record=nodata.vaktpost.test,hello".into(),
        format!("--server=/broken.test/127.0.0.1#{sf}"),
    ]);
    let d = Dir::new();
    let p = site.port;
    d.write(
        "vaktpost.yml",
        &format!(
            "defaults: {{confirm: false}}\nmonitors:\n\
             - {{name: good, type: http, url: \"http://good.vaktpost.test:{p}/ok\"}}\n\
             - {{name: nx, type: http, url: \"http://missing.vaktpost.test:{p}/ok\"}}\n\
             - {{name: nodata, type: http, url: \"http://nodata.vaktpost.test:{p}/ok\"}}\n\
             - {{name: servfail, type: http, url: \"http://api.broken.test:{p}/ok\"}}\n"
        )
        .replace("\n- ", "\n  - "),
    );
    let server = format!("127.0.0.1:{}", dns.port);
    let o = d.run(&["run", "--fail-on", "never"], &[("VAKTPOST_DNS_SERVER", &server)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let c = checks(&d.report());
    assert_eq!(c["good"]["status"], "up", "{}", c["good"]);
    assert_eq!(site.hits("/ok"), 1, "the good name reached the local server");
    let err = |n: &str| {
        assert_eq!(c[n]["status"], "down", "{}", c[n]);
        assert_eq!(c[n]["error"]["kind"], "dns", "{}", c[n]);
        c[n]["error"]["message"].as_str().unwrap().to_string()
    };
    assert_eq!(
        err("nx"),
        "DNS lookup of missing.vaktpost.test failed: the name does not exist (NXDOMAIN); check the host name"
    );
    assert_eq!(
        err("nodata"),
        "DNS lookup of nodata.vaktpost.test failed: the name exists but has no A or AAAA record (NOERROR, no data); add an address record"
    );
    let m = err("servfail");
    assert!(m.starts_with("DNS lookup of api.broken.test failed: the DNS server could not answer (SERVFAIL)"), "{m}");
}

#[test]
fn dns_server_that_never_answers_is_a_timeout_while_resolving() {
    let site = Site::start();
    let (_silent, port) = silent_udp();
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        &format!(
            "defaults: {{confirm: false, timeout: 2s}}\nmonitors:\n  - {{name: api, type: http, url: \"http://api.vaktpost.test:{}/ok\"}}\n",
            site.port
        ),
    );
    let o = d.run(&["run", "--fail-on", "never"], &[("VAKTPOST_DNS_SERVER", &format!("127.0.0.1:{port}"))]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let c = checks(&d.report());
    assert_eq!(c["api"]["status"], "down");
    assert_eq!(c["api"]["error"]["kind"], "timeout", "{}", c["api"]);
    assert_eq!(c["api"]["error"]["message"], "timed out after 2s while resolving the host");
    assert_eq!(site.hits("/ok"), 0);
}

#[test]
fn dns_server_variable_must_be_an_address() {
    let d = Dir::new();
    d.write("vaktpost.yml", "monitors:\n  - {name: api, type: http, url: \"http://127.0.0.1:9/\"}\n");
    let o = d.run(&["run"], &[("VAKTPOST_DNS_SERVER", "dns.example")]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("VAKTPOST_DNS_SERVER=\"dns.example\" is not a DNS server address"), "{}", text(&o));
}

// ---- the `dns` check kind, against dnsmasq serving a zone the test writes ----

/// The zone: every record type a `dns` monitor asks for, answered by dnsmasq.
pub(crate) fn zone() -> Dnsmasq {
    dnsmasq(&[
        "--local-ttl=120".into(),
        "--auth-ttl=300".into(),
        "--local=/zone.test/".into(),
        "--host-record=a.zone.test,192.0.2.10,2001:db8::10".into(),
        "--host-record=multi.zone.test,192.0.2.1".into(),
        "--host-record=multi.zone.test,192.0.2.2".into(),
        "--cname=www.zone.test,a.zone.test".into(),
        "--mx-host=zone.test,mail.zone.test,10".into(),
        "--txt-record=zone.test,v=spf1 -all".into(),
        "--auth-zone=zone.test".into(),
        "--auth-server=ns1.zone.test,127.0.0.1".into(),
        "--auth-soa=2026120101,hostmaster.zone.test,1200,180,1209600".into(),
    ])
}

fn dns_yaml(port: u16, query: &str, ty: &str, extra: &str) -> String {
    let mut s = format!(
        "defaults: {{confirm: false, retries: 0}}\nmonitors:\n  - name: d\n    type: dns\n    query: {query}\n    record_type: {ty}\n    resolver: 127.0.0.1:{port}\n"
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

#[tokio::test]
async fn every_record_type_reports_rcode_answers_and_ttl() {
    let z = zone();
    let cases = [
        ("a.zone.test", "A", "192.0.2.10"),
        ("a.zone.test", "AAAA", "2001:db8::10"),
        ("multi.zone.test", "A", "192.0.2.2"),
        ("www.zone.test", "CNAME", "a.zone.test"),
        ("zone.test", "MX", "10 mail.zone.test"),
        ("zone.test", "TXT", "v=spf1 -all"),
        ("zone.test", "NS", "ns1.zone.test"),
        ("zone.test", "SOA", "ns1.zone.test hostmaster.zone.test 2026120101 1200 180 1209600 300"),
    ];
    for (q, ty, want) in cases {
        let r = run_yaml(&dns_yaml(z.port, q, ty, &format!("expected: [\"{want}\"]"))).await;
        assert_up(&r);
        assert_eq!(mtext(&r, "rcode"), "NOERROR");
        let answers: Vec<&str> = r.metrics["answers"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        assert!(answers.contains(&want), "{q} {ty}: {answers:?}");
        assert_eq!(num(&r, "ttl_min"), 300.0, "{q} {ty}");
        assert!(num(&r, "dns_ms") >= 0.0);
    }
    // Both A records of a name with two; an MX expected by its exchange alone, any case.
    let r = run_yaml(&dns_yaml(z.port, "multi.zone.test", "A", "expected: [192.0.2.1, 192.0.2.2]")).await;
    assert_eq!(r.metrics["answers"], serde_json::json!(["192.0.2.1", "192.0.2.2"]));
    assert_up(&run_yaml(&dns_yaml(z.port, "zone.test", "MX", "expected: [Mail.Zone.Test.]")).await);
}

#[tokio::test]
async fn missing_answers_and_wrong_rcodes_fail_with_what_was_answered() {
    let z = zone();
    let r = run_yaml(&dns_yaml(z.port, "a.zone.test", "A", "expected: [192.0.2.99]")).await;
    let msg = assert_down(&r, ErrorKind::Assertion);
    assert!(msg.contains("\"192.0.2.99\" not among the answers [192.0.2.10]"), "{msg}");

    let r = run_yaml(&dns_yaml(z.port, "nope.zone.test", "A", "")).await;
    let msg = assert_down(&r, ErrorKind::Dns);
    assert!(msg.contains("does not exist (NXDOMAIN)"), "{msg}");
    assert_eq!(mtext(&r, "rcode"), "NXDOMAIN");
    // A name that must not exist.
    assert_up(&run_yaml(&dns_yaml(z.port, "nope.zone.test", "A", "expected_rcode: NXDOMAIN")).await);
    let msg = assert_down(
        &run_yaml(&dns_yaml(z.port, "a.zone.test", "A", "expected_rcode: nxdomain")).await,
        ErrorKind::Assertion,
    );
    assert!(msg.contains("the name exists (NOERROR), expected_rcode is NXDOMAIN"), "{msg}");
    // NOERROR without data of the type.
    let msg = assert_down(&run_yaml(&dns_yaml(z.port, "a.zone.test", "TXT", "")).await, ErrorKind::Dns);
    assert!(msg.contains("has no TXT record (NOERROR, no data)"), "{msg}");
}

#[tokio::test]
async fn servfail_and_a_silent_resolver_are_dns_and_timeout() {
    let sf = servfail_upstream();
    let dns = dnsmasq(&[format!("--server=/broken.test/127.0.0.1#{sf}")]);
    let r = run_yaml(&dns_yaml(dns.port, "api.broken.test", "A", "")).await;
    let msg = assert_down(&r, ErrorKind::Dns);
    assert_eq!(mtext(&r, "rcode"), "SERVFAIL", "{msg}");
    let (_held, silent) = silent_udp();
    let r = run_yaml(&dns_yaml(silent, "api.example.com", "A", "timeout: 0.5")).await;
    assert_down(&r, ErrorKind::Timeout);
}

#[test]
fn dns_monitor_without_resolver_asks_the_runs_dns_server() {
    let z = zone();
    let d = Dir::new();
    d.write(
        "vaktpost.yml",
        "defaults: {confirm: false}\nmonitors:\n  - {name: mx, type: dns, query: zone.test, record_type: MX, expected: [mail.zone.test]}\n",
    );
    let server = format!("127.0.0.1:{}", z.port);
    let o = d.run(&["run", "--fail-on", "never"], &[("VAKTPOST_DNS_SERVER", &server)]);
    assert_eq!(code(&o), 0, "{}", text_of(&o));
    let c = checks(&d.report());
    assert_eq!(c["mx"]["status"], "up", "{}", c["mx"]);
    assert_eq!(c["mx"]["metrics"]["answers"], serde_json::json!(["10 mail.zone.test"]));
}

#[test]
fn unknown_record_types_resolvers_and_rcodes_are_located_errors_exit_2() {
    let bad = "monitors:\n  - {name: a, type: dns, query: example.com, record_type: SRV}\n  \
               - {name: b, type: dns, query: example.com, record_type: A, resolver: dns.google, expected_rcode: NXDOMIAN}\n  \
               - {name: c, type: dns, query: 'https://example.com/', record_type: A}\n";
    let Err(errs) = vaktpost::load_str(bad, "t.yml", &std::collections::BTreeMap::new()) else {
        panic!("invalid config loaded")
    };
    let paths: Vec<&str> = errs.iter().map(|d| d.path.as_str()).collect();
    // Regression: the problems of a monitor after one that failed to load were reported
    // under the previous monitor's index and line.
    for want in ["monitors[0].record_type", "monitors[1].resolver", "monitors[1].expected_rcode", "monitors[2].query"] {
        assert!(paths.iter().any(|p| p.starts_with(want)), "{want} in {errs:#?}");
    }
    assert!(errs.iter().all(|d| d.line > 0), "located: {errs:#?}");
    let rc = errs.iter().find(|d| d.path == "monitors[1].expected_rcode").unwrap();
    assert!(rc.message.contains("did you mean NXDOMAIN"), "{rc}");
    let d = Dir::new();
    d.write("vaktpost.yml", bad);
    let o = d.run(&["validate"], &[]);
    assert_eq!(code(&o), 2, "{}", text_of(&o));
    assert!(text_of(&o).contains("SRV"), "{}", text_of(&o));
}
