//! A raw-socket server for hostile-peer tests: each connection gets whatever bytes a test
//! scripts (headers that never end, RESP without a CRLF, plaintext on a TLS port), which
//! no HTTP or Redis library server would send, so the client's bounds meet the worst.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Listens on 127.0.0.1; each connection runs the script on its own thread. Scripts end
/// when the client hangs up (a write fails), so endless ones stop with the test's check.
pub struct RawServer {
    port: u16,
}

impl RawServer {
    pub fn start(script: impl Fn(&mut TcpStream) -> std::io::Result<()> + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let script = Arc::new(script);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let script = script.clone();
                std::thread::spawn(move || {
                    let _ = script(&mut conn);
                });
            }
        });
        RawServer { port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }
}

/// Reads what the client sends first: up to the end of an HTTP head, or whatever arrived
/// within a short wait (a RESP command, a TLS ClientHello, or nothing).
pub fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while got.len() < 1 << 20 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if got.windows(4).any(|w| w == b"\r\n\r\n") || got.first().is_some_and(|b| *b != b'G' && *b != b'H') {
            break;
        }
    }
    got
}

/// Writes `head`, then `chunk` again and again until the client goes away.
pub fn endless(s: &mut TcpStream, head: &[u8], chunk: &[u8]) -> std::io::Result<()> {
    s.write_all(head)?;
    loop {
        s.write_all(chunk)?;
    }
}

/// Writes `head`, then one byte of `body` every `every`, until done or the client goes away.
pub fn trickle(s: &mut TcpStream, head: &[u8], body: &[u8], every: Duration) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    s.write_all(head)?;
    for b in body {
        // sleep-ok: a trickling server is what this fake simulates
        std::thread::sleep(every);
        s.write_all(std::slice::from_ref(b))?;
    }
    Ok(())
}

/// The process's peak resident set size in bytes (`VmHWM`), on Linux; 0 elsewhere.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
