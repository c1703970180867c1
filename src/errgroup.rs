//! Error grouping: one normalized form for messages that differ only in the variable
//! parts (timestamps, ids, numbers, addresses), so that `timed out after 5003ms` and
//! `timed out after 4998ms` — or two log lines for different request ids — count as one
//! error group. Used by the history store's "Top errors" and the `log_files` monitor.

use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

/// Longest normalized message kept, in bytes (on a char boundary).
pub const MAX_NORMALIZED: usize = 200;

/// Variable parts, most specific first; each is replaced by a placeholder.
/// The flag marks patterns that replace a match only when it contains a digit.
static PATTERNS: LazyLock<Vec<(Regex, &'static str, bool)>> = LazyLock::new(|| {
    [
        // 2026-11-26T23:50:39.123Z, 2026-11-26 23:50:39,123 +0100, 26/Nov/2026:23:50:39 +0000
        (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|\s?[+-]\d{2}:?\d{2})?", "<ts>", false),
        (r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(\s[+-]\d{4})?", "<ts>", false),
        (r"\b\d{4}-\d{2}-\d{2}\b", "<date>", false),
        (r"\b\d{2}:\d{2}:\d{2}([.,]\d+)?\b", "<time>", false),
        (r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>", false),
        (r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b", "<ip>", false),
        (r"(?i)\b0x[0-9a-f]+\b", "<hex>", false),
        // Hex ids, hashes and commit SHAs: at least 8 hex digits, one of them a digit
        // (so words made of the letters a–f stay words).
        (r"(?i)\b[0-9a-f]{8,}\b", "<hex>", true),
        (r"\d+", "#", false),
    ]
    .into_iter()
    .map(|(p, r, d)| (Regex::new(p).expect("valid built-in pattern"), r, d))
    .collect()
});

/// The message with variable parts replaced, whitespace collapsed, cut at
/// [`MAX_NORMALIZED`] bytes.
pub fn normalize(msg: &str) -> String {
    let mut s: String = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    for (re, with, needs_digit) in PATTERNS.iter() {
        if !re.is_match(&s) {
            continue;
        }
        s = if *needs_digit {
            re.replace_all(&s, |c: &regex::Captures| {
                let m = &c[0];
                if m.bytes().any(|b| b.is_ascii_digit()) {
                    with.to_string()
                } else {
                    m.to_string()
                }
            })
            .into_owned()
        } else {
            re.replace_all(&s, *with).into_owned()
        };
    }
    truncate(&mut s, MAX_NORMALIZED);
    s
}

/// Single-quoted one-word values, as in Python's `KeyError: 'user:1234'` or
/// `invalid literal for int() with base 10: 'abc'`; an apostrophe (`can't`) is left alone.
static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"'[^'\s]{1,120}'").expect("valid built-in pattern"));

/// [`normalize`] for log lines: single-quoted one-word values (the input an exception
/// complains about, a thread name) are folded too, so one bug fed different inputs is
/// one group. Kept apart from `normalize` because history's groups are API error
/// messages, where such quotes rarely carry variable data.
pub fn normalize_log(line: &str) -> String {
    normalize(&QUOTED.replace_all(line, "'<v>'"))
}

/// A short stable id for a group: the first 16 hex digits of SHA-256 over
/// `kind` and the normalized message.
pub fn fingerprint(kind: &str, normalized: &str) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(normalized.as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// Cuts `s` to at most `max` bytes on a char boundary.
pub fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_parts_are_folded() {
        assert_eq!(normalize("timed out after 5003ms"), "timed out after #ms");
        assert_eq!(normalize("timed out after 4998ms"), "timed out after #ms");
        assert_eq!(
            normalize("2026-11-26T23:50:39.123Z ERROR request 3f2c1a9e-0b1d-4c2e-9f00-1234567890ab failed"),
            "<ts> ERROR request <uuid> failed"
        );
        assert_eq!(
            normalize("connect to 10.0.0.12:6379 refused (os error 111)"),
            "connect to <ip> refused (os error #)"
        );
        assert_eq!(normalize("commit 9fceb02d0ae598e95dc970b74767f19372d61af8 bad"), "commit <hex> bad");
        assert_eq!(normalize("ptr 0xDEADBEEF   null"), "ptr <hex> null");
        assert_eq!(
            normalize(r#"1.2.3.4 - - [26/Nov/2026:10:00:01 +0000] "GET /.env HTTP/1.1" 404"#),
            r#"<ip> - - [<ts>] "GET /.env HTTP/#.#" #"#
        );
        // Words made of hex letters only stay words.
        assert_eq!(normalize("deadbeefcafe is fine"), "deadbeefcafe is fine");
    }

    #[test]
    fn log_lines_fold_quoted_values_but_not_apostrophes() {
        assert_eq!(
            normalize_log("ValueError: invalid literal for int() with base 10: 'abc'"),
            normalize_log("ValueError: invalid literal for int() with base 10: 'xyz42'")
        );
        assert_eq!(normalize_log("KeyError: 'user:1234'"), "KeyError: '<v>'");
        assert_eq!(normalize_log("can't reach 'db' (don't retry)"), "can't reach '<v>' (don't retry)");
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let s = normalize(&"å".repeat(500));
        assert!(s.len() <= MAX_NORMALIZED && s.len() >= MAX_NORMALIZED - 1);
    }

    #[test]
    fn fingerprint_depends_on_kind_and_message() {
        let a = fingerprint("timeout", "timed out after #ms");
        assert_eq!(a.len(), 16);
        assert_eq!(a, fingerprint("timeout", "timed out after #ms"));
        assert_ne!(a, fingerprint("connect", "timed out after #ms"));
    }
}
