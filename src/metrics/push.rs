//! The Pushgateway: `PUT {url}/metrics/job/<job>/instance/<instance>[/shard/<K/N>]`
//! with the text format, which replaces every metric of that group (the previous run's
//! monitors that are gone go with it). Grouping-key values that are not plain URL path
//! characters are sent in the Pushgateway's `label@base64/<base64url>` form (a shard's
//! `1/4` always is).

use base64::Engine;

/// The label of a grouping-key path segment, plain or `@base64`.
fn segment(out: &mut String, name: &str, value: &str) {
    let plain =
        !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    out.push('/');
    out.push_str(name);
    if plain {
        out.push('/');
        out.push_str(value);
    } else if value.is_empty() {
        out.push_str("@base64/=");
    } else {
        out.push_str("@base64/");
        out.push_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value));
    }
}

/// The group's path below the Pushgateway's base URL, from its grouping key (in order).
pub fn group_path(key: &[(String, String)]) -> String {
    let mut p = String::from("/metrics");
    for (k, v) in key {
        segment(&mut p, k, v);
    }
    p
}

/// The group's URL: the base URL's path (a prefix, if any) joined with [`group_path`].
pub fn group_url(base: &url::Url, key: &[(String, String)]) -> url::Url {
    let mut u = base.clone();
    let prefix = base.path().trim_end_matches('/').to_string();
    u.set_path(&format!("{prefix}{}", group_path(key)));
    u.set_query(None);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn plain_values_stay_plain_and_others_are_base64url() {
        let k = key(&[("job", "vaktpost"), ("instance", "acme/site"), ("shard", "1/4")]);
        assert_eq!(group_path(&k), "/metrics/job/vaktpost/instance@base64/YWNtZS9zaXRl/shard@base64/MS80");
        assert_eq!(group_path(&key(&[("job", "")])), "/metrics/job@base64/=");
    }

    #[test]
    fn the_base_path_is_kept() {
        let base = url::Url::parse("https://pgw.example/prefix/?x=1").unwrap();
        let u = group_url(&base, &key(&[("job", "j")]));
        assert_eq!(u.as_str(), "https://pgw.example/prefix/metrics/job/j");
    }
}
