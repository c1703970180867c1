//! From log bytes to events: a bounded line reader (long lines cut, binary lines
//! skipped), multi-line error events (Python tracebacks, Rust panics, indented stack
//! frames kept with the line that opened them) grouped by the shared `errgroup`
//! fingerprint, and security-event counting by category.

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDateTime, Utc};
use regex::Regex;

use crate::errgroup;

/// Longest line kept, in bytes; the rest of a longer line is read and dropped.
pub const MAX_LINE: usize = 16 * 1024;
/// Longest sample kept per error group or security category, in bytes.
pub const MAX_SAMPLE: usize = 300;

/// Lines that open an error event unless the monitor sets `error_pattern`: upper-case
/// level words; `level=error` and JSON `"level":"error"`; nginx's and Apache's bracketed
/// levels, which they write in lower case (`[error]`, `[crit]`, `[alert]`, `[emerg]`, and
/// Apache 2.4's `[proxy:error]`; never `[warn]`, `[notice]`, `[info]`); a lower-case
/// `error:`/`fatal:` that opens the message after a syslog tag or at the start of the
/// line (`sshd[123]: error: kex_exchange_identification: …`, `error: could not …`), so
/// "finished with no error: ok" stays out; and Java's uncaught-exception header.
pub const DEFAULT_ERROR_PATTERN: &str = r#"\b(?:ERROR|FATAL|CRITICAL|SEVERE|EMERG|ALERT|CRIT|PANIC)\b|(?i:\blevel"?\s*[=:]\s*"?(?:error|fatal|critical|panic)\b)|(?i:\[(?:[\w-]*:)?(?:error|crit|alert|emerg)\])|(?:^|[\w\])]: )(?:error|fatal): |^Exception in thread "#;

/// Built-in security categories, checked in this order; a line counts once, in the
/// first category it matches.
pub const DEFAULT_SECURITY: &[(&str, &str)] = &[
    (
        "sensitive_path",
        r#"(?i)"(?:GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|PROPFIND) [^" ]*(?:/\.env\b|/\.git(?:/|\b)|/\.aws/|/\.ssh/|/\.htpasswd|/wp-admin|/wp-login\.php|/xmlrpc\.php|/phpmyadmin|/server-status|/etc/passwd|/actuator/env|\.\./)"#,
    ),
    (
        "auth_failure",
        r"(?i)authentication fail|failed password for|invalid (?:user|password|credentials|api key|token)\b|login failed|unauthorized access|permission denied for user|auth(?:entication)? error",
    ),
    ("http_401_403", r#"" (?:401|403) (?:\d+|-)"#),
];

static TRACEBACK: &str = "Traceback (most recent call last):";
/// A Rust panic header: `thread 'main' panicked at src/x.rs:1:2:`, and in current Rust
/// with the thread's id, `thread 'main' (26110) panicked at src/x.rs:1:2:`.
static PANIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"thread '[^']*'(?: \(\d+\))? panicked at ").expect("valid built-in pattern"));
/// The thread id of a current panic header, left out of the group key so that one panic
/// is one group across toolchains and processes.
static PANIC_TID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.*?thread '[^']*') \(\d+\)( panicked at )").expect("valid built-in pattern"));
/// The last line of a Python traceback: `ValueError: bad`, `KeyboardInterrupt`.
static EXCEPTION_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][\w.]*(?::.*)?$").expect("valid built-in pattern"));
static ISO_TS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?")
        .expect("valid built-in pattern")
});
static CLF_TS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\[(\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]").expect("valid built-in pattern")
});

/// The patterns one monitor uses.
pub struct Classifier {
    error: Regex,
    security: Vec<(String, Regex)>,
}

impl Classifier {
    /// Config validation has compiled these already; an error here names the pattern.
    pub fn new(error_pattern: Option<&str>, security: &[(String, String)]) -> Result<Self, String> {
        let error = Regex::new(error_pattern.unwrap_or(DEFAULT_ERROR_PATTERN))
            .map_err(|e| format!("error_pattern is not a valid regular expression: {e}"))?;
        let mut sec = Vec::new();
        for (name, p) in security {
            let re = Regex::new(p)
                .map_err(|e| format!("security pattern {name:?} is not a valid regular expression: {e}"))?;
            sec.push((name.clone(), re));
        }
        Ok(Classifier { error, security: sec })
    }
}

/// One error group's figures for this run.
#[derive(Debug, Clone)]
pub struct Group {
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub sample: String,
    pub file: String,
}

/// What the lines read this run added up to.
#[derive(Debug, Default)]
pub struct Tally {
    pub lines: u64,
    pub binary_lines_skipped: u64,
    pub error_count: u64,
    /// By fingerprint.
    pub groups: BTreeMap<String, Group>,
    pub security: BTreeMap<String, u64>,
    pub security_samples: BTreeMap<String, String>,
}

#[derive(Debug, PartialEq)]
enum Mode {
    /// Opened by an error line; indented lines and a following traceback belong to it.
    Generic,
    /// Inside a Python traceback.
    Traceback,
    /// After a traceback's exception line: only "During handling of the above
    /// exception…" continues it (a traceback right after is a new event).
    TracebackDone,
    /// After "During handling…": the chained traceback follows.
    TracebackChain,
    /// After a panic header that ends in `:`: the next line is the message.
    PanicMessage,
    /// After a panic's message: notes and backtrace frames.
    Panic,
}

#[derive(Debug)]
struct Open {
    first: String,
    last_key: Option<String>,
    mode: Mode,
    ts: Option<DateTime<Utc>>,
}

/// Assembles lines of one file into events and counts them into a [`Tally`].
pub struct Assembler<'a> {
    c: &'a Classifier,
    file: String,
    open: Option<Open>,
    /// Time for events whose lines carry no timestamp.
    now: DateTime<Utc>,
}

impl<'a> Assembler<'a> {
    pub fn new(c: &'a Classifier, file: &str, now: DateTime<Utc>) -> Self {
        Assembler { c, file: file.to_string(), open: None, now }
    }

    /// One line of text (no newline).
    pub fn line(&mut self, l: &str, t: &mut Tally) {
        t.lines += 1;
        for (cat, re) in &self.c.security {
            if re.is_match(l) {
                *t.security.entry(cat.clone()).or_default() += 1;
                t.security_samples.entry(cat.clone()).or_insert_with(|| sample(l));
                break;
            }
        }
        if let Some(open) = &mut self.open {
            if continues(open, l) {
                return;
            }
            self.finish(t);
        }
        let trimmed = l.trim_start();
        let mode = if trimmed.starts_with(TRACEBACK) {
            Mode::Traceback
        } else if PANIC.is_match(l) {
            if l.trim_end().ends_with(':') {
                Mode::PanicMessage
            } else {
                Mode::Panic
            }
        } else if self.c.error.is_match(l) {
            Mode::Generic
        } else {
            return;
        };
        self.open = Some(Open { first: l.trim_end().to_string(), last_key: None, mode, ts: timestamp(l) });
    }

    /// Ends the event in progress (at the end of the data read).
    pub fn finish(&mut self, t: &mut Tally) {
        let Some(open) = self.open.take() else { return };
        let first_is_tb = open.first.trim_start().starts_with(TRACEBACK);
        let key = match (&open.last_key, first_is_tb) {
            (Some(k), true) => k.clone(),
            (Some(k), false) => format!("{} — {k}", open.first),
            (None, _) => open.first.clone(),
        };
        let fp = errgroup::fingerprint("log", &errgroup::normalize_log(&PANIC_TID.replace(&key, "$1$2")));
        let ts = open.ts.unwrap_or(self.now);
        t.error_count += 1;
        let g = t.groups.entry(fp).or_insert_with(|| Group {
            count: 0,
            first_seen: None,
            last_seen: None,
            sample: sample(&key),
            file: self.file.clone(),
        });
        g.count += 1;
        g.first_seen = Some(g.first_seen.map_or(ts, |f| f.min(ts)));
        g.last_seen = Some(g.last_seen.map_or(ts, |l| l.max(ts)));
    }
}

/// Whether `l` belongs to the open event (and updates it).
fn continues(open: &mut Open, l: &str) -> bool {
    let indented = l.starts_with([' ', '\t']);
    let trimmed = l.trim();
    match open.mode {
        Mode::Generic => {
            if trimmed.starts_with(TRACEBACK) {
                open.mode = Mode::Traceback;
                true
            } else {
                indented && !trimmed.is_empty() || trimmed.starts_with("Caused by:")
            }
        }
        Mode::Traceback => {
            if indented || trimmed.is_empty() || trimmed.starts_with(TRACEBACK) {
                true
            } else if EXCEPTION_LINE.is_match(trimmed) {
                open.last_key = Some(trimmed.to_string());
                open.mode = Mode::TracebackDone;
                true
            } else {
                false
            }
        }
        Mode::TracebackDone | Mode::TracebackChain => {
            if trimmed.starts_with("During handling of the above exception")
                || trimmed.starts_with("The above exception was the direct cause")
            {
                open.mode = Mode::TracebackChain;
                true
            } else if trimmed.is_empty() {
                true
            } else if open.mode == Mode::TracebackChain && trimmed.starts_with(TRACEBACK) {
                open.mode = Mode::Traceback;
                true
            } else {
                false
            }
        }
        Mode::PanicMessage => {
            open.last_key = Some(trimmed.to_string());
            open.mode = Mode::Panic;
            true
        }
        Mode::Panic => {
            // Backtrace frames are indented; a line such as `12:30:01 INFO` is not one.
            indented || trimmed.starts_with("note: ") || trimmed.starts_with("stack backtrace:")
        }
    }
}

fn sample(l: &str) -> String {
    let mut s = l.trim().to_string();
    errgroup::truncate(&mut s, MAX_SAMPLE);
    s
}

/// The first ISO-8601 or access-log timestamp in a line (UTC when it names no offset).
pub fn timestamp(l: &str) -> Option<DateTime<Utc>> {
    if let Some(c) = ISO_TS.captures(l) {
        let frac = c.get(3).map(|m| m.as_str()).unwrap_or("0");
        let base = format!("{}T{}.{frac}", &c[1], &c[2]);
        let naive = NaiveDateTime::parse_from_str(&base, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        let offset = match c.get(4).map(|m| m.as_str()) {
            None | Some("Z") => 0,
            Some(o) => {
                let digits: String = o[1..].chars().filter(|c| c.is_ascii_digit()).collect();
                let h: i64 = digits.get(..2)?.parse().ok()?;
                let m: i64 = digits.get(2..4)?.parse().ok()?;
                let secs = h * 3600 + m * 60;
                if o.starts_with('-') {
                    -secs
                } else {
                    secs
                }
            }
        };
        return Some(naive.and_utc() - chrono::Duration::seconds(offset));
    }
    let c = CLF_TS.captures(l)?;
    DateTime::parse_from_str(&c[1], "%d/%b/%Y:%H:%M:%S %z").ok().map(|d| d.with_timezone(&Utc))
}

/// What [`read_lines`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadStats {
    /// Bytes up to the end of the last line handed out: where the next read starts.
    pub consumed: u64,
    pub binary_lines: u64,
}

/// Reads at most `limit` bytes of lines from `r`. Lines that contain NUL or are not
/// UTF-8 are counted as binary and skipped; lines over [`MAX_LINE`] are cut. A last
/// line without a newline is left unread when `leave_partial` (the writer may be in the
/// middle of it), unless it is already [`MAX_LINE`] long.
pub fn read_lines(
    r: &mut impl BufRead,
    limit: u64,
    leave_partial: bool,
    on_line: &mut dyn FnMut(&str),
) -> io::Result<ReadStats> {
    let mut stats = ReadStats::default();
    let mut pos = 0u64;
    let mut line: Vec<u8> = Vec::new();
    let mut line_len = 0u64;
    let mut cut = false;
    let mut emit = |line: &[u8], cut: bool, stats: &mut ReadStats| {
        let mut l = line;
        if l.last() == Some(&b'\r') {
            l = &l[..l.len() - 1];
        }
        if l.contains(&0) {
            stats.binary_lines += 1;
            return;
        }
        match std::str::from_utf8(l) {
            Ok(s) => on_line(s),
            // A cut inside a multi-byte character is not binary.
            Err(e) if cut && e.error_len().is_none() => {
                on_line(std::str::from_utf8(&l[..e.valid_up_to()]).unwrap_or(""))
            }
            Err(_) => stats.binary_lines += 1,
        }
    };
    while pos < limit {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let avail = (buf.len() as u64).min(limit - pos) as usize;
        let chunk = &buf[..avail];
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (avail, false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        if take > room {
            cut = true;
        }
        line.extend_from_slice(&chunk[..take.min(room)]);
        line_len += take as u64;
        let used = if done { take + 1 } else { take };
        r.consume(used);
        pos += used as u64;
        if done {
            emit(&line, cut, &mut stats);
            stats.consumed = pos;
            line.clear();
            line_len = 0;
            cut = false;
        }
    }
    if line_len > 0 && (!leave_partial || line_len >= MAX_LINE as u64) {
        emit(&line, cut, &mut stats);
        stats.consumed = pos;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> Classifier {
        let sec: Vec<(String, String)> = DEFAULT_SECURITY.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect();
        Classifier::new(None, &sec).unwrap()
    }

    fn tally(text: &str) -> Tally {
        let c = classifier();
        let mut a = Assembler::new(&c, "app.log", Utc::now());
        let mut t = Tally::default();
        let mut cur = io::Cursor::new(text.as_bytes());
        read_lines(&mut cur, u64::MAX, false, &mut |l| a.line(l, &mut t)).unwrap();
        a.finish(&mut t);
        t
    }

    #[test]
    fn a_logged_python_exception_is_one_event_keyed_by_its_exception() {
        let t = tally(
            "2026-11-26 10:00:00,123 ERROR Exception in handler\nTraceback (most recent call last):\n  File \"app.py\", line 10, in <module>\n    foo()\nValueError: invalid literal for int() with base 10: 'abc'\n2026-11-26 10:00:01,000 INFO ok\n",
        );
        assert_eq!(t.error_count, 1);
        assert_eq!(t.lines, 6);
        let g = t.groups.values().next().unwrap();
        assert_eq!(
            g.sample,
            "2026-11-26 10:00:00,123 ERROR Exception in handler — ValueError: invalid literal for int() with base 10: 'abc'"
        );
        assert_eq!(g.first_seen.unwrap().to_rfc3339(), "2026-11-26T10:00:00.123+00:00");
    }

    #[test]
    fn a_chained_traceback_is_one_event_keyed_by_the_last_exception() {
        let t = tally(
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nKeyError: 'x'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"a.py\", line 3, in <module>\nRuntimeError: lookup failed\nTraceback (most recent call last):\n  File \"b.py\", line 1, in <module>\nOSError: disk\n",
        );
        assert_eq!(t.error_count, 2);
        let samples: Vec<&str> = t.groups.values().map(|g| g.sample.as_str()).collect();
        assert!(samples.contains(&"RuntimeError: lookup failed") && samples.contains(&"OSError: disk"), "{samples:?}");
    }

    #[test]
    fn a_rust_panic_keeps_its_message_line() {
        let t = tally(
            "thread 'main' panicked at src/main.rs:4:5:\nindex out of bounds: the len is 3 but the index is 7\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\nthread 'main' panicked at src/main.rs:4:5:\nindex out of bounds: the len is 2 but the index is 9\n",
        );
        assert_eq!(t.error_count, 2);
        assert_eq!(t.groups.len(), 1, "{:?}", t.groups);
    }

    #[test]
    fn lower_case_levels_of_nginx_apache_and_sshd_open_events_and_prose_does_not() {
        let c = classifier();
        for l in [
            "2026/11/26 10:00:01 [error] 31#31: *1 connect() failed",
            "2026/11/26 10:00:01 [crit] 31#31: SSL_do_handshake() failed",
            "2026/11/26 10:00:01 [alert] 1#1: worker process 31 exited on signal 9",
            "2026/11/26 10:00:01 [emerg] 1#1: bind() failed",
            "[Sun Dec 04 05:10:01.000001 2022] [proxy:error] [pid 8] AH00957: failed",
            "[Wed Dec 07 00:00:00 2022] [:error] [pid 13] PHP Fatal error:  Uncaught Error",
            "[Mon Dec 05 09:02:00 2022] [core:crit] [pid 10] AH00023: no mutex",
            "Nov 26 10:00:01 web1 sshd[1234]: error: kex_exchange_identification: Connection closed",
            "Nov 26 10:00:05 web1 sshd[1238]: fatal: Timeout before authentication",
            "error: could not compile `app`",
        ] {
            assert!(c.error.is_match(l), "not an error: {l}");
        }
        for l in [
            "2026/11/26 10:00:03 [warn] 31#31: *1023 an upstream response is buffered",
            "2026/11/26 09:59:58 [notice] 1#1: start worker processes",
            "2026/11/26 10:00:08 [info] 32#32: client closed keepalive connection",
            "[Mon Dec 05 09:01:00 2022] [ssl:warn] [pid 1] AH01909: certificate does NOT include an ID",
            "[Sun Dec 04 04:47:44 2022] [mpm_event:notice] [pid 1] AH00489: resuming normal operations",
            "Nov 26 10:00:09 web1 app[99]: request finished with no error: status 200",
            "Nov 26 10:00:10 web1 app[99]: no errors found during self-check",
            "2026-11-26 10:00:00 INFO error_rate=0.01 errors: none",
        ] {
            assert!(!c.error.is_match(l), "an error: {l}");
        }
    }

    #[test]
    fn a_panic_header_with_a_thread_id_opens_a_panic_with_its_message() {
        let t = tally(
            "thread 'main' (26110) panicked at src/x.rs:80:14:\nboom\nnote: run with `RUST_BACKTRACE=1`\nthread 'main' panicked at src/x.rs:80:14:\nboom\n",
        );
        assert_eq!(t.error_count, 2);
        assert_eq!(t.groups.len(), 1, "{:?}", t.groups);
        assert_eq!(
            t.groups.values().next().map(|g| g.sample.as_str()),
            Some("thread 'main' (26110) panicked at src/x.rs:80:14: — boom")
        );
    }

    #[test]
    fn long_and_binary_lines() {
        let mut text = "x".repeat(MAX_LINE + 10).into_bytes();
        text.extend_from_slice(b"\nbad \xff\xfe utf8\nnul\0here\nok\n");
        let mut n = 0;
        let s = read_lines(&mut io::Cursor::new(&text), u64::MAX, true, &mut |l| {
            n += 1;
            assert!(l.len() <= MAX_LINE);
        })
        .unwrap();
        assert_eq!((n, s.binary_lines, s.consumed), (2, 2, text.len() as u64));
    }

    #[test]
    fn a_partial_last_line_waits_for_the_next_run() {
        let text = b"one\ntwo\nthr";
        let mut seen = vec![];
        let s = read_lines(&mut io::Cursor::new(text), u64::MAX, true, &mut |l| seen.push(l.to_string())).unwrap();
        assert_eq!(seen, ["one", "two"]);
        assert_eq!(s.consumed, 8);
    }

    #[test]
    fn access_log_categories() {
        let t = tally(concat!(
            "1.2.3.4 - - [26/Nov/2026:10:00:01 +0000] \"GET /.env HTTP/1.1\" 404 12 \"-\" \"curl\"\n",
            "1.2.3.4 - - [26/Nov/2026:10:00:02 +0000] \"POST /login HTTP/1.1\" 401 12 \"-\" \"curl\"\n",
            "1.2.3.4 - - [26/Nov/2026:10:00:03 +0000] \"GET /admin HTTP/1.1\" 403 - \"-\" \"curl\"\n",
            "1.2.3.4 - - [26/Nov/2026:10:00:04 +0000] \"GET /ok HTTP/1.1\" 200 401 \"-\" \"curl\"\n",
            "sshd[1]: Failed password for root from 1.2.3.4\n",
        ));
        assert_eq!(t.security.get("sensitive_path"), Some(&1));
        assert_eq!(t.security.get("http_401_403"), Some(&2));
        assert_eq!(t.security.get("auth_failure"), Some(&1));
        assert_eq!(t.error_count, 0);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Lines as logs write them, and anything else.
        fn line() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("Traceback (most recent call last):".to_string()),
                Just("  File \"a.py\", line 1, in <module>".to_string()),
                Just("ValueError: bad".to_string()),
                Just("During handling of the above exception, another exception occurred:".to_string()),
                Just("thread 'main' (1) panicked at src/a.rs:1:2:".to_string()),
                Just("note: run with `RUST_BACKTRACE=1`".to_string()),
                Just("2026/11/26 10:00:01 [error] 1#1: failed".to_string()),
                Just("Nov 26 10:00:01 h sshd[1]: error: kex".to_string()),
                Just("1.2.3.4 - - [26/Nov/2026:10:00:01 +0000] \"GET /.env HTTP/1.1\" 401 1".to_string()),
                Just(String::new()),
                "[ \t]{0,3}[A-Za-z:\\[\\]'() ]{0,40}",
                any::<String>(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn assembling_any_lines_is_bounded(lines in prop::collection::vec(line(), 0..40)) {
                static C: LazyLock<Classifier> = LazyLock::new(classifier);
                let mut a = Assembler::new(&C, "app.log", Utc::now());
                let mut t = Tally::default();
                for l in &lines {
                    a.line(l, &mut t);
                }
                a.finish(&mut t);
                prop_assert_eq!(t.lines, lines.len() as u64);
                prop_assert!(t.error_count <= t.lines);
                prop_assert!(t.groups.len() as u64 <= t.error_count);
                prop_assert_eq!(t.groups.values().map(|g| g.count).sum::<u64>(), t.error_count);
                prop_assert!(t.groups.values().all(|g| g.sample.len() <= MAX_SAMPLE));
                prop_assert!(t.security_samples.values().all(|s| s.len() <= MAX_SAMPLE));
                prop_assert!(t.security.values().sum::<u64>() <= t.lines);
            }

            #[test]
            fn reading_any_bytes_is_bounded(bytes in prop::collection::vec(any::<u8>(), 0..4096), partial in any::<bool>()) {
                let mut n = 0u64;
                let s = read_lines(&mut io::Cursor::new(&bytes), u64::MAX, partial, &mut |l| {
                    n += 1;
                    assert!(l.len() <= MAX_LINE);
                })
                .unwrap();
                prop_assert!(s.consumed <= bytes.len() as u64);
                prop_assert!(n + s.binary_lines <= bytes.len() as u64 + 1);
                if !partial {
                    prop_assert_eq!(s.consumed, bytes.len() as u64);
                }
            }
        }
    }
}
