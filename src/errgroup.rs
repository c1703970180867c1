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
    let mut s = fold(msg);
    truncate(&mut s, MAX_NORMALIZED);
    s
}

/// Whitespace collapsed and the variable parts replaced, not yet cut.
fn fold(msg: &str) -> String {
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
    s
}

/// Single-quoted one-word values, as in Python's `KeyError: 'user:1234'` or
/// `invalid literal for int() with base 10: 'abc'`; an apostrophe (`can't`) is left alone.
static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"'[^'\s]{1,120}'").expect("valid built-in pattern"));

/// English month and weekday names, full and abbreviated, as whole words in any case:
/// the dates of syslog (`Jun  3 06:25:01`) and Apache (`[Sun Dec 04 04:47:44 2022]`).
/// The placeholders are chosen so that no cut-off prefix of one is itself a name.
static MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
    )
    .expect("valid built-in pattern")
});
static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)\b")
        .expect("valid built-in pattern")
});
/// One character of a regex word (`\w`), so a cut never makes a new word.
static WORD_CHAR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\w$").expect("valid built-in pattern"));

/// [`normalize`] for log lines, which also folds the names of months and weekdays (one
/// recurring error logged in June and in July, or on Sunday and Monday, is one group) and
/// single-quoted one-word values (the input an exception complains about, a thread name),
/// so one bug fed different inputs is one group. Kept apart from `normalize` because
/// history's groups are vaktpost's own error messages, where such quotes rarely carry
/// variable data and "may" is a word. The result is cut between words, so normalizing it
/// again gives it back unchanged.
pub fn normalize_log(line: &str) -> String {
    let mut s = fold(line);
    for (re, with) in [(&*MONTH, "<mmm>"), (&*WEEKDAY, "<ddd>")] {
        if re.is_match(&s) {
            s = re.replace_all(&s, with).into_owned();
        }
    }
    // After the numbers are folded, so `'user:1234'` and a 200-digit `'…'` fold alike.
    if QUOTED.is_match(&s) {
        s = QUOTED.replace_all(&s, "'<v>'").into_owned();
    }
    truncate_words(&mut s, MAX_NORMALIZED);
    s
}

/// Cuts `s` to at most `max` bytes, before the word the cut would split (unless one word
/// fills it all), without trailing whitespace.
fn truncate_words(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let is_word = |c: char| WORD_CHAR.is_match(c.encode_utf8(&mut [0u8; 4]));
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let splits_word = s[..end].chars().next_back().is_some_and(is_word) && s[end..].chars().next().is_some_and(is_word);
    if splits_word {
        if let Some((i, c)) = s[..end].char_indices().rev().find(|(_, c)| !is_word(*c)) {
            end = i + c.len_utf8();
        }
    }
    s.truncate(end);
    let kept = s.trim_end().len();
    s.truncate(kept);
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
    fn log_lines_fold_month_and_weekday_names_as_whole_words() {
        // syslog across a month change, Apache across days: one group each.
        assert_eq!(
            normalize_log("Jun 30 06:25:03 web1 logrotate: ALERT exited abnormally with [1]"),
            normalize_log("Jul  1 06:25:02 web1 logrotate: ALERT exited abnormally with [1]")
        );
        assert_eq!(
            normalize_log("[Sun Dec 04 05:10:01.000001 2022] [proxy:error] AH00957: failed"),
            "[<ddd> <mmm> # <time> #] [proxy:error] AH#: failed"
        );
        assert_eq!(
            normalize_log("[Mon Dec 05 09:00:00.500000 2022] [proxy:error] AH00957: failed"),
            normalize_log("[Sun Dec 04 05:10:01.000001 2022] [proxy:error] AH00957: failed")
        );
        for (a, b) in [("September", "OCTOBER"), ("sept", "Sep"), ("Wednesday", "thurs"), ("tue", "Saturday")] {
            assert_eq!(normalize_log(&format!("x {a} y")), normalize_log(&format!("x {b} y")), "{a} {b}");
        }
        // Whole words only: names inside words stay.
        assert_eq!(normalize_log("monitor sunset decimal junebug mayor"), "monitor sunset decimal junebug mayor");
        // History's normalizer keeps words: "may" is one there.
        assert_eq!(normalize("you may retry"), "you may retry");
    }

    #[test]
    fn a_cut_log_key_ends_between_words_and_normalizes_to_itself() {
        let s = normalize_log(&format!("{} Sunday", "word ".repeat(39)));
        assert!(s.len() <= MAX_NORMALIZED, "{}", s.len());
        assert_eq!(normalize_log(&s), s);
        // A cut inside a word drops that word rather than leave a prefix ("Sun") behind.
        let s = normalize_log(&format!("{}Sunny", "a".repeat(MAX_NORMALIZED - 4)));
        assert!(!s.ends_with("Sun") && normalize_log(&s) == s, "{s}");
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

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Log-like text: words, numbers, dates, quotes, brackets and any character.
        fn logish() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("Jun".to_string()),
                Just("Sunday".to_string()),
                Just("may".to_string()),
                Just("'user:1234'".to_string()),
                Just("2026-11-26T10:00:00Z".to_string()),
                Just("10.0.0.1:80".to_string()),
                Just("0xdeadbeef".to_string()),
                Just("  ".to_string()),
                "[a-zA-Z]{1,12}",
                "[0-9]{1,200}",
                "'[^']{0,130}'",
                any::<String>(),
            ];
            prop::collection::vec(piece, 0..60).prop_map(|v| v.join(" "))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn normalize_log_is_bounded_and_idempotent(line in logish()) {
                let once = normalize_log(&line);
                prop_assert!(once.len() <= MAX_NORMALIZED);
                prop_assert_eq!(normalize_log(&once), once.clone());
                prop_assert_eq!(normalize(&line).len() <= MAX_NORMALIZED, true);
            }

            #[test]
            fn normalize_log_never_panics_on_any_text(line in any::<String>()) {
                let once = normalize_log(&line);
                prop_assert!(once.len() <= MAX_NORMALIZED);
                prop_assert_eq!(normalize_log(&once), once);
            }
        }
    }
}
