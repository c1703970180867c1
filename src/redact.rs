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
        let mut out = self.replace_secrets(text.to_string());
        if out.contains("://") {
            out = out
                .split(' ')
                .map(|w| if w.contains("://") { redact_url_str(w) } else { w.to_string() })
                .collect::<Vec<_>>()
                .join(" ");
            // A URL parser normalises (lower-cases hosts, say), which can spell a secret anew.
            out = self.replace_secrets(out);
        }
        out
    }

    fn replace_secrets(&self, mut out: String) -> String {
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
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
/// A URL that does not parse is redacted textually, so a bad URL in a config never echoes
/// its password or token.
pub fn redact_url_str(word: &str) -> String {
    let start = word.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(0);
    let end = word
        .char_indices()
        .rev()
        .find(|(_, c)| !matches!(c, ')' | ',' | '.' | ';' | '"' | '\'' | ']' | '>'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(word.len());
    let (Some(pre), Some(core), Some(post)) = (word.get(..start), word.get(start..end), word.get(end..)) else {
        return word.to_string();
    };
    if start >= end || !core.contains("://") {
        return word.to_string();
    }
    let Ok(mut u) = Url::parse(core) else { return format!("{pre}{}{post}", redact_url_text(core)) };
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

/// The parts of a URL-like text, found without a URL parser: the userinfo (before the
/// last `@` of the part before `?`/`#`), and the query's `name=value` pairs.
struct UrlParts<'a> {
    /// Byte range of the userinfo in the text.
    userinfo: Option<(usize, usize)>,
    /// (name, byte range of the value) of each query parameter.
    params: Vec<(&'a str, (usize, usize))>,
}

fn url_parts(text: &str) -> Option<UrlParts<'_>> {
    let after = text.find("://")? + 3;
    let rest = text.get(after..)?;
    let head_end = rest.find(['?', '#']).unwrap_or(rest.len());
    let userinfo = rest.get(..head_end)?.rfind('@').map(|at| (after, after + at));
    let mut params = Vec::new();
    if let Some(q) = rest.find('?') {
        let q_start = after + q + 1;
        let q_text = text.get(q_start..)?;
        let q_end = q_text.find('#').unwrap_or(q_text.len());
        let mut pos = q_start;
        for pair in q_text.get(..q_end)?.split(['&', ';']) {
            if let Some(eq) = pair.find('=') {
                params.push((&pair[..eq], (pos + eq + 1, pos + pair.len())));
            }
            pos += pair.len() + 1;
        }
    }
    Some(UrlParts { userinfo, params })
}

/// [`redact_url_str`] for a URL that does not parse: the same redactions, by position.
fn redact_url_text(text: &str) -> String {
    let Some(parts) = url_parts(text) else { return text.to_string() };
    let mut cuts: Vec<(usize, usize)> = parts.userinfo.into_iter().collect();
    cuts.extend(parts.params.iter().filter(|(k, _)| is_secret_param(&decode(k))).map(|(_, r)| *r));
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (a, b) in cuts {
        if a < at {
            continue;
        }
        out.push_str(text.get(at..a).unwrap_or(""));
        out.push_str("***");
        at = b;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// The secrets a URL carries, for redaction and `::add-mask::`: the userinfo password (as
/// written and decoded), the `Authorization: Basic` value the http check builds from the
/// userinfo, and the values of secret-looking query parameters. Found textually when the
/// URL does not parse.
pub fn url_secrets(raw: &str) -> Vec<String> {
    use base64::Engine;
    let raw = raw.trim();
    let mut out = Vec::new();
    let (user, pass, params): (String, Option<String>, Vec<(String, String)>) = match Url::parse(raw) {
        Ok(u) => {
            let raw_q: Vec<(String, String)> = u
                .query()
                .unwrap_or("")
                .split(['&', ';'])
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (u.username().to_string(), u.password().map(str::to_string), raw_q)
        }
        Err(_) => {
            let Some(parts) = url_parts(raw) else { return out };
            let info = parts.userinfo.and_then(|(a, b)| raw.get(a..b)).unwrap_or("");
            let (user, pass) = match info.split_once(':') {
                Some((u, p)) => (u.to_string(), Some(p.to_string())),
                None => (info.to_string(), None),
            };
            let params = parts
                .params
                .iter()
                .filter_map(|(k, (a, b))| raw.get(*a..*b).map(|v| (k.to_string(), v.to_string())))
                .collect();
            (user, pass, params)
        }
    };
    let pct = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    if let Some(p) = &pass {
        out.push(p.clone());
        out.push(pct(p));
    }
    if !user.is_empty() {
        // What the http check sends (src/checks/http.rs): base64 of the decoded `user:pass`.
        let basic = format!("{}:{}", pct(&user), pass.as_deref().map(pct).unwrap_or_default());
        out.push(base64::engine::general_purpose::STANDARD.encode(basic));
    }
    for (k, v) in params {
        if is_secret_param(&decode(&k)) && !v.is_empty() {
            out.push(v.clone());
            out.push(decode(&v));
        }
    }
    out.retain(|s| s.len() >= 3);
    out.sort();
    out.dedup();
    out
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

    // Regression: a word with `://` that ends in a non-ASCII character was sliced inside
    // that character and aborted the run.
    #[test]
    fn url_ending_in_a_non_ascii_character_does_not_panic() {
        assert_eq!(redact_url_str("\"https://x.example/é\","), "\"https://x.example/é\",");
        assert_eq!(redact_url_str("https://u:p@x.example/café"), "https://***@x.example/caf%C3%A9");
        let r = Redactor::new(&[]);
        assert_eq!(r.redact_text("see https://hooks.slack.com/services/…"), "see https://hooks.slack.com/services/…");
    }

    // Regression: a URL that does not parse was echoed with its password and token.
    #[test]
    fn unparsable_urls_lose_credentials_by_position() {
        assert_eq!(
            redact_url_str("https://alice:hunter2@exa mple.com/x?token=t0k&page=2#f"),
            "https://***@exa mple.com/x?token=***&page=2#f"
        );
        assert_eq!(redact_url_str("http://[::1/?api_key=abc"), "http://[::1/?api_key=***");
    }

    #[test]
    fn url_secrets_include_what_the_http_check_sends() {
        let s = url_secrets("http://alice:s3cr%40t@h.example/x?token=tok-1&page=2");
        // base64("alice:s3cr@t")
        for want in ["s3cr%40t", "s3cr@t", "YWxpY2U6czNjckB0", "tok-1"] {
            assert!(s.contains(&want.to_string()), "{want} not in {s:?}");
        }
        assert!(!s.contains(&"2".to_string()) && !s.iter().any(|x| x == "alice"), "{s:?}");
        let s = url_secrets("https://bob:pw-xyz@exa mple.com/?sig=abcd");
        assert!(s.contains(&"pw-xyz".to_string()) && s.contains(&"abcd".to_string()), "{s:?}");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn redaction_never_panics_and_never_shows_a_secret(
                secret in "[a-z0-9]{6,24}",
                before in "\\PC{0,40}",
                after in "\\PC{0,40}",
                url_like in any::<bool>(),
            ) {
                let r = Redactor::new(&[format!("Bearer {secret}")]);
                let text = if url_like {
                    // The URL parser lower-cases the host: it must not spell the secret anew.
                    let host = secret.to_uppercase();
                    format!("{before}https://{host}.example/{after}?token={secret}é {after}")
                } else {
                    format!("{before}{secret}{after}")
                };
                let out = r.redact_text(&text);
                prop_assert!(!out.contains(&secret), "{:?} -> {:?}", text, out);
                let out = r.redact_url(&text);
                prop_assert!(!out.contains(&secret), "{:?} -> {:?}", text, out);
            }

            #[test]
            fn url_redaction_never_panics_and_hides_userinfo(s in "\\PC{0,60}", pw in "[a-z0-9]{8,16}") {
                let _ = redact_url_str(&s);
                let _ = url_secrets(&s);
                let url = format!("https://u:{pw}@{s}");
                let out = redact_url_str(&url);
                prop_assert!(!out.contains(&pw) || s.contains(&pw), "{:?} -> {:?}", url, out);
            }
        }
    }
}
