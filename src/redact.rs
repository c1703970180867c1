//! Keeps secrets out of every output. Configured secret values are replaced wherever
//! they appear; URLs lose their userinfo and secret-looking query parameters.

use url::Url;

const SECRET_PARAMS: &[&str] =
    &["token", "key", "secret", "password", "passwd", "pwd", "sig", "signature", "auth", "credential"];

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: &[String]) -> Self {
        let mut v: Vec<String> = Vec::new();
        for s in secrets {
            if s.len() >= 3 {
                v.push(s.clone());
            }
            // "Bearer abc123": the token alone must go too.
            for part in s.split_whitespace() {
                if part.len() >= 6 && part != s {
                    v.push(part.to_string());
                }
            }
        }
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        Redactor { secrets: v }
    }

    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// Replaces configured secrets, then redacts anything that looks like a URL.
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        if out.contains("://") {
            out = out
                .split(' ')
                .map(|w| if w.contains("://") { redact_url_str(w) } else { w.to_string() })
                .collect::<Vec<_>>()
                .join(" ");
        }
        out
    }

    pub fn redact_url(&self, url: &str) -> String {
        self.redact_text(&redact_url_str(url))
    }
}

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| {
        n == *p
            || n.ends_with(&format!("_{p}"))
            || n.ends_with(&format!("-{p}"))
            || n.starts_with(&format!("{p}_"))
            || (n.contains(p) && *p != "key" && *p != "sig" && *p != "auth")
    }) || n == "apikey"
        || n == "api_key"
        || n == "access_token"
}

/// Redacts userinfo and secret query parameters of one URL (a word that may carry punctuation).
pub fn redact_url_str(word: &str) -> String {
    let start = word.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0);
    let end = word
        .rfind(|c: char| !matches!(c, ')' | ',' | '.' | ';' | '"' | '\'' | ']' | '>'))
        .map(|i| i + 1)
        .unwrap_or(word.len());
    if start >= end {
        return word.to_string();
    }
    let (pre, core, post) = (&word[..start], &word[start..end], &word[end..]);
    let Ok(mut u) = Url::parse(core) else { return word.to_string() };
    if !core.contains("://") {
        return word.to_string();
    }
    let mut changed = false;
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("***");
        let _ = u.set_password(None);
        changed = true;
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if pairs.iter().any(|(k, _)| is_secret_param(k)) {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                if is_secret_param(k) {
                    q.append_pair(k, "***");
                } else {
                    q.append_pair(k, v);
                }
            }
            let q = q.finish().replace("%2A%2A%2A", "***");
            u.set_query(Some(&q));
            changed = true;
        }
    }
    if !changed {
        return word.to_string();
    }
    format!("{pre}{u}{post}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_secret_params() {
        assert_eq!(
            redact_url_str("https://user:pw@example.com/x?a=1&token=abc"),
            "https://***@example.com/x?a=1&token=***"
        );
        assert_eq!(
            redact_url_str("https://example.com/?api_key=1&sig=2&page=3"),
            "https://example.com/?api_key=***&sig=***&page=3"
        );
        assert_eq!(redact_url_str("https://example.com/health"), "https://example.com/health");
    }

    #[test]
    fn configured_secrets_vanish_from_text() {
        let r = Redactor::new(&["Bearer sk-abcdef123".to_string()]);
        assert_eq!(r.redact_text("sent sk-abcdef123 to (https://a:b@h/)"), "sent *** to (https://***@h/)");
    }
}
