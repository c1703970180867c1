//! "Did you mean …?" for a mistyped key, type, preset or variable name.

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
