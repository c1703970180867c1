//! Config diagnostics: where, which key, what is wrong, and what was probably meant.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Key path such as `monitors[1].expected_status`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let dist = strsim::damerau_levenshtein(&w, &c.to_ascii_lowercase());
        let allowed = (c.len().max(w.len()) / 3).max(1);
        let score = strsim::jaro_winkler(&w, &c.to_ascii_lowercase());
        if (dist <= allowed || score >= 0.9) && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

/// `; did you mean "x"?` or nothing.
pub fn hint(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(c) => format!("; did you mean \"{c}\"?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn typos_find_their_key() {
        let keys = ["expected_status", "expect_version", "extract", "url"];
        assert_eq!(did_you_mean("expectd_status", keys), Some("expected_status"));
        assert_eq!(did_you_mean("ulr", keys), Some("url"));
        assert_eq!(did_you_mean("completely_different", keys), None);
    }
}
