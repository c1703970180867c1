//! Gatus's `config.yaml` (https://github.com/TwiN/gatus#configuration): `endpoints`
//! become `http`, `tcp` (`tcp://`, `tls://`) and `dns` monitors; conditions become the
//! monitor's own assertions where vaktpost has one (`[STATUS] ==` → `expected_status`,
//! `[BODY].path ==` → `json`, `pat(*text*)` → `body_contains`, `[DNS_RCODE]` →
//! `expected_rcode`) and CEL rules otherwise; `[DOMAIN_EXPIRATION]` becomes a `domain`
//! monitor; alert thresholds become `for`/`resolve_after`; `alerting` providers vaktpost
//! has become `alerts`. Gatus's `${VAR}` references are kept as they are.

use std::collections::BTreeMap;

use yaml_serde::{Mapping, Value};

use super::{brief, dur, go_duration_secs, q, scalar, Monitor, Out};

pub(super) fn translate(map: &Mapping, out: &mut Out) {
    let mut thresholds: BTreeMap<(u32, u32), Vec<String>> = BTreeMap::new();
    if let Some(Value::Sequence(eps)) = map.get("endpoints") {
        for (i, ep) in eps.iter().enumerate() {
            let Value::Mapping(e) = ep else {
                out.skipped(format!("endpoints[{i}] is not a mapping"));
                continue;
            };
            endpoint(e, i, out, &mut thresholds);
        }
    }
    if let Some(v) = map.get("external-endpoints") {
        out.skipped(format!(
            "external-endpoints ({} pushed from outside; vaktpost checks from the runner)",
            match v {
                Value::Sequence(s) => format!("{} endpoints", s.len()),
                _ => "a value".into(),
            }
        ));
    }
    // One `endpoint_down` for every endpoint: Gatus's thresholds are per alert, vaktpost's
    // per rule. The most common pair wins; any other is named.
    if let Some(((f, s), names)) = thresholds.iter().max_by_key(|(_, n)| n.len()) {
        out.rule(vec![
            "name: endpoint_down".into(),
            format!("for: {f}"),
            format!("resolve_after: {s}"),
            format!(
                "# from Gatus's failure-threshold {f} / success-threshold {s} ({} of its alerting endpoints)",
                names.len()
            ),
        ]);
        for ((f2, s2), others) in thresholds.iter().filter(|(k, _)| **k != (*f, *s)) {
            for n in others {
                out.skipped(format!(
                    "endpoint {n:?}: failure-threshold {f2} / success-threshold {s2} (endpoint_down uses {f}/{s} for all)"
                ));
            }
        }
    }
    alerting(map.get("alerting"), out);
    for (k, v) in map {
        let Some(key) = k.as_str() else { continue };
        if matches!(key, "endpoints" | "external-endpoints" | "alerting") {
            continue;
        }
        let why = match key {
            "storage" => " (vaktpost keeps history in its state directory or data branch)",
            "ui" | "web" => " (vaktpost's status site is `vaktpost pages`)",
            "maintenance" => " (write alerts.maintenance windows)",
            "connectivity" => " (vaktpost's defaults.canary)",
            _ => "",
        };
        out.skipped(format!("{key}: {}{why}", brief(v)));
    }
}

/// What one condition became.
enum Cond {
    /// A line of the monitor.
    Key(String),
    /// A CEL condition that must hold (the rule fires when it does not).
    Rule(String),
    /// A `domain` monitor with these warning days.
    Domain(u32),
    /// Nothing to write: vaktpost does it anyway.
    Implicit,
    No(String),
}

fn split(c: &str) -> Option<(&str, &str, &str)> {
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        if let Some((l, r)) = c.split_once(op) {
            return Some((l.trim(), op, r.trim()));
        }
    }
    None
}

fn json_value(v: &str) -> String {
    if v == "true" || v == "false" || v.parse::<f64>().is_ok() {
        v.to_string()
    } else {
        q(v)
    }
}

/// `[BODY].a.b[0]` → `/a/b/0`.
fn pointer(path: &str) -> Option<String> {
    let mut out = String::new();
    for part in path.split('.') {
        let (name, idx) = match part.split_once('[') {
            Some((n, rest)) => (n, Some(rest.trim_end_matches(']'))),
            None => (part, None),
        };
        if name.is_empty() && idx.is_none() {
            return None;
        }
        if !name.is_empty() {
            out.push('/');
            out.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        if let Some(i) = idx {
            i.parse::<usize>().ok()?;
            out.push('/');
            out.push_str(i);
        }
    }
    Some(out)
}

fn days_of(v: &str) -> Option<u32> {
    go_duration_secs(v).map(|s| (s / 86400.0).ceil().max(1.0) as u32)
}

fn condition(c: &str, kind: &str) -> Cond {
    let Some((l, op, r)) = split(c) else { return Cond::No(format!("condition {c:?}")) };
    let num = |r: &str| r.parse::<f64>().ok();
    match (l, kind) {
        ("[CONNECTED]", _) if op == "==" && r == "true" => Cond::Implicit,
        ("[STATUS]", "http") if op == "==" => {
            if let Some(inner) = r.strip_prefix("any(").and_then(|x| x.strip_suffix(')')) {
                let codes: Vec<&str> = inner.split(',').map(str::trim).collect();
                if codes.iter().all(|c| c.parse::<u16>().is_ok()) {
                    return Cond::Key(format!("expected_status: [{}]", codes.join(", ")));
                }
            }
            match r.parse::<u16>() {
                Ok(n) => Cond::Key(format!("expected_status: {n}")),
                Err(_) => Cond::No(format!("condition {c:?}")),
            }
        }
        ("[STATUS]", "http") if num(r).is_some() => Cond::Rule(format!("status_code {op} {r}")),
        ("[RESPONSE_TIME]", _) if num(r).is_some() => Cond::Rule(format!("response_time_ms {op} {r}")),
        ("[CERTIFICATE_EXPIRATION]", "http") if matches!(op, ">" | ">=") => match days_of(r) {
            Some(d) => Cond::Rule(format!("days_left >= {d}")),
            None => Cond::No(format!("condition {c:?}")),
        },
        ("[DOMAIN_EXPIRATION]", _) if matches!(op, ">" | ">=") => match days_of(r) {
            Some(d) => Cond::Domain(d),
            None => Cond::No(format!("condition {c:?}")),
        },
        ("[DNS_RCODE]", "dns") if op == "==" => Cond::Key(format!("expected_rcode: {}", q(&r.to_ascii_uppercase()))),
        ("[BODY]", "dns") if op == "==" && !r.contains('(') => Cond::Key(format!("expected: [{}]", q(r))),
        ("[BODY]", "http" | "tcp") if op == "==" => match r.strip_prefix("pat(").and_then(|x| x.strip_suffix(')')) {
            Some(p) if p.starts_with('*') && p.ends_with('*') && p.len() >= 2 && !p[1..p.len() - 1].contains('*') => {
                let text = &p[1..p.len() - 1];
                if kind == "http" {
                    Cond::Key(format!("body_contains: {}", q(text)))
                } else {
                    Cond::Key(format!("expect: {}", q(&regex::escape(text))))
                }
            }
            _ => Cond::No(format!("condition {c:?}")),
        },
        (path, "http") if path.starts_with("[BODY].") && op == "==" && !r.contains('(') => {
            match pointer(&path["[BODY].".len()..]) {
                Some(p) => Cond::Key(format!("json: {{{}: {}}}", q(&p), json_value(r))),
                None => Cond::No(format!("condition {c:?}")),
            }
        }
        _ => Cond::No(format!("condition {c:?}")),
    }
}

fn endpoint(e: &Mapping, i: usize, out: &mut Out, thresholds: &mut BTreeMap<(u32, u32), Vec<String>>) {
    let get = |k: &str| e.get(k);
    let raw_name = get("name").and_then(scalar).unwrap_or_else(|| format!("endpoint {}", i + 1));
    let Some(url) = get("url").and_then(scalar) else {
        out.skipped(format!("endpoint {raw_name:?} has no url"));
        return;
    };
    if get("enabled").is_some_and(|v| matches!(v, Value::Bool(false))) {
        out.skipped(format!("endpoint {raw_name:?} (enabled: false)"));
        return;
    }
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    let is_dns = get("dns").is_some();
    let kind = match scheme.as_str() {
        _ if is_dns => "dns",
        "http" | "https" => "http",
        "tcp" | "tls" => "tcp",
        other => {
            let what = if other.is_empty() { "no scheme".to_string() } else { format!("{other}://") };
            out.skipped(format!("endpoint {raw_name:?}: {url} ({what} has no vaktpost check)"));
            return;
        }
    };
    let name = out.unique(&raw_name);
    let mut m = Monitor::new(&name, kind);
    let mut handled = vec!["name", "url", "conditions", "alerts", "dns", "enabled"];
    match kind {
        "http" => {
            m.kv("url", q(&url));
            handled.extend(["method", "headers", "body"]);
            if let Some(method) = get("method").and_then(scalar) {
                m.kv("method", q(&method.to_ascii_uppercase()));
            }
            if let Some(Value::Mapping(h)) = get("headers") {
                m.lines.push("headers:".into());
                for (k, v) in h {
                    if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                        m.lines.push(format!("  {}: {}", q(k), q(&v)));
                    }
                }
            }
            if let Some(b) = get("body").and_then(scalar) {
                m.kv("body", q(&b));
            }
        }
        "tcp" => {
            let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) => (h.trim_start_matches('[').trim_end_matches(']'), p.trim_end_matches('/')),
                None => (rest, ""),
            };
            m.kv("host", q(host));
            m.kv("port", if port.parse::<u16>().is_ok() { port.to_string() } else { "443".to_string() });
            if port.parse::<u16>().is_err() {
                m.not_translated(format!("port of {url:?}; 443 assumed"));
            }
            if scheme == "tls" {
                m.kv("tls", "true");
            }
            handled.push("body");
            if let Some(b) = get("body").and_then(scalar) {
                m.kv("send", q(&b));
            }
        }
        _ => {
            let d = match get("dns") {
                Some(Value::Mapping(d)) => d.clone(),
                _ => Mapping::new(),
            };
            let query = d.get("query-name").and_then(scalar).unwrap_or_default();
            let ty = d.get("query-type").and_then(scalar).unwrap_or_else(|| "A".into()).to_ascii_uppercase();
            if !["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA"].contains(&ty.as_str()) || query.is_empty() {
                out.skipped(format!("endpoint {raw_name:?}: dns query {query:?} of type {ty} (vaktpost asks A, AAAA, CNAME, MX, TXT, NS or SOA)"));
                return;
            }
            m.kv("query", q(&query));
            m.kv("record_type", &ty);
            let server = url.split_once("://").map(|(_, r)| r).unwrap_or(&url).trim_end_matches('/');
            if crate::checks::dns::parse_resolver(server).is_ok() {
                m.kv("resolver", q(server));
            } else {
                m.not_translated(format!("resolver {url:?} (vaktpost asks an IP address; the run's resolver is used)"));
            }
        }
    }
    if let Some(iv) = get("interval").and_then(scalar).and_then(|v| go_duration_secs(&v)) {
        m.kv("interval", dur(iv));
        handled.push("interval");
    }
    if let Some(g) = get("group").and_then(scalar) {
        m.kv("labels", format!("{{group: {}}}", q(&g)));
        handled.push("group");
    }
    if let Some(Value::Mapping(c)) = get("client") {
        handled.push("client");
        for (k, v) in c {
            match (k.as_str(), v) {
                (Some("insecure"), Value::Bool(true)) if kind != "dns" => {
                    if kind == "tcp" && scheme != "tls" {
                        continue;
                    }
                    m.kv("insecure_skip_verify", "true")
                }
                (Some("insecure"), Value::Bool(false)) => {}
                (Some("timeout"), v) => match scalar(v).and_then(|s| go_duration_secs(&s)) {
                    Some(t) => m.kv("timeout", dur(t)),
                    None => m.not_translated(format!("client.timeout: {}", brief(v))),
                },
                (Some(k), v) => m.not_translated(format!("client.{k}: {}", brief(v))),
                _ => {}
            }
        }
    }
    // Conditions: the monitor's own keys first (json entries merged), then rules.
    let mut json: Vec<String> = Vec::new();
    let mut rules: Vec<(String, String)> = Vec::new();
    let mut domain_days = None;
    if let Some(Value::Sequence(cs)) = get("conditions") {
        for c in cs.iter().filter_map(scalar) {
            match condition(&c, kind) {
                Cond::Key(k) if k.starts_with("json: {") => json.push(k["json: {".len()..k.len() - 1].to_string()),
                Cond::Key(k) => {
                    let key = k.split(':').next().unwrap_or_default().to_string();
                    if m.lines.iter().any(|l| l.split(':').next() == Some(key.as_str())) {
                        m.not_translated(format!("condition {c:?} ({key} is already set by another condition)"));
                    } else {
                        m.lines.push(k)
                    }
                }
                Cond::Rule(cel) => rules.push((c.clone(), cel)),
                Cond::Domain(d) => domain_days = Some(d),
                Cond::Implicit => {}
                Cond::No(what) => m.not_translated(what),
            }
        }
    }
    if !json.is_empty() {
        m.lines.push(format!("json: {{{}}}", json.join(", ")));
    }
    // Alerts: the thresholds (for endpoint_down), and what vaktpost cannot say per alert.
    let (mut for_runs, mut resolve_after) = (None, None);
    if let Some(Value::Sequence(alerts)) = get("alerts") {
        for a in alerts {
            let Value::Mapping(a) = a else { continue };
            let f = a.get("failure-threshold").and_then(scalar).and_then(|v| v.parse().ok()).unwrap_or(3);
            let s = a.get("success-threshold").and_then(scalar).and_then(|v| v.parse().ok()).unwrap_or(2);
            for_runs.get_or_insert(f);
            resolve_after.get_or_insert(s);
            for (k, v) in a {
                match k.as_str() {
                    Some("type" | "failure-threshold" | "success-threshold" | "send-on-resolved" | "enabled") => {}
                    Some(k) => m.not_translated(format!("alerts[].{k}: {}", brief(v))),
                    None => {}
                }
            }
        }
    }
    for (k, v) in e {
        let Some(key) = k.as_str() else { continue };
        if !handled.contains(&key) {
            m.not_translated(format!("{key}: {}", brief(v)));
        }
    }
    if !out.monitor(m) {
        return;
    }
    if let (Some(f), Some(s)) = (for_runs, resolve_after) {
        thresholds.entry((f, s)).or_default().push(name.clone());
    }
    for (n, (gatus, cel)) in rules.into_iter().enumerate() {
        let rule = format!("{}_condition_{}", slug(&name), n + 1);
        out.rule(vec![
            format!("name: {}", q(&rule)),
            format!("condition: {}", q(&format!("!({cel})"))),
            format!("message: {}", q(&format!("{{name}} fails the Gatus condition {gatus}"))),
            "severity: high".into(),
            format!("monitors: [{}]", q(&name)),
            format!("for: {}", for_runs.unwrap_or(1)),
            format!("resolve_after: {}", resolve_after.unwrap_or(1)),
        ]);
    }
    if let Some(days) = domain_days {
        let host = url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let domain = registered_domain(&host);
        if crate::checks::domain::bootstrap_url(&domain).is_some() {
            let dn = out.unique(&format!("{name} domain"));
            let mut d = Monitor::new(&dn, "domain");
            d.kv("domain", q(&domain));
            d.kv("warning_days", days.to_string());
            d.kv("critical_days", days.min(7).to_string());
            d.kv("interval", "1d");
            let _ = out.monitor(d);
        } else {
            out.skipped(format!(
                "{name}: [DOMAIN_EXPIRATION] for {domain:?} (no RDAP server known for its TLD; add a domain monitor with rdap_url)"
            ));
        }
    }
}

/// The registered domain of a host: its last two labels, or three under a known
/// second-level suffix (`co.uk`). No public suffix list is shipped, so this is a guess
/// the output's `domain:` line shows.
fn registered_domain(host: &str) -> String {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let n = labels.len();
    let second_level = ["co", "com", "org", "net", "ac", "gov", "edu"];
    let take = if n >= 3 && second_level.contains(&labels[n - 2]) && labels[n - 1].len() == 2 { 3 } else { 2 };
    labels[n.saturating_sub(take)..].join(".")
}

fn slug(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    out.truncate(60);
    out
}

/// Characters escaped in a URL's user and password.
const USERINFO: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'_').remove(b'~');

/// `alerting:` providers vaktpost has become `alerts`; the others are named.
fn alerting(v: Option<&Value>, out: &mut Out) {
    let Some(Value::Mapping(a)) = v else { return };
    for (k, v) in a {
        let Some(key) = k.as_str() else { continue };
        let cfg = match v {
            Value::Mapping(m) => m.clone(),
            _ => Mapping::new(),
        };
        let s = |k: &str| cfg.get(k).and_then(scalar);
        match key {
            "slack" => {
                out.alert("slack:");
                out.alert(format!("  webhook_url: {}", q(&secret(s("webhook-url"), "SLACK_WEBHOOK_URL"))));
            }
            "email" => {
                let host = s("host").unwrap_or_default();
                let port = s("port").unwrap_or_else(|| "587".into());
                let user = s("username").or(s("from")).unwrap_or_default();
                let scheme = if port == "465" { "smtps" } else { "smtp" };
                let pass = secret(s("password"), "SMTP_PASSWORD");
                let enc = |x: &str| percent_encoding::utf8_percent_encode(x, USERINFO).to_string();
                let cred = if user.is_empty() {
                    String::new()
                } else if pass.starts_with("${") {
                    format!("{}:{pass}@", enc(&user))
                } else {
                    format!("{}:{}@", enc(&user), enc(&pass))
                };
                out.alert("email:");
                if pass.starts_with("${") {
                    out.alert("  # the password goes into a URL: percent-encode : / @ ? # in it");
                }
                out.alert(format!("  smtp_url: {}", q(&format!("{scheme}://{cred}{host}:{port}"))));
                if let Some(f) = s("from") {
                    out.alert(format!("  from: {}", q(&f)));
                }
                let to: Vec<String> = s("to").map(|t| t.split(',').map(|x| q(x.trim())).collect()).unwrap_or_default();
                if !to.is_empty() {
                    out.alert(format!("  to: [{}]", to.join(", ")));
                }
            }
            "github" => {
                out.alert("github:");
                if let Some(repo) = s("repository-url") {
                    let r = repo.trim_end_matches('/').trim_end_matches(".git");
                    let parts: Vec<&str> = r.rsplitn(3, '/').collect();
                    if parts.len() >= 2 {
                        out.alert(format!("  repository: {}", q(&format!("{}/{}", parts[1], parts[0]))));
                    }
                }
                out.alert("  # the token is GITHUB_TOKEN, from the workflow");
            }
            other => {
                out.alert(format!("# not translated: alerting.{other} (vaktpost alerts to github, slack and email)"))
            }
        }
    }
}

/// A secret value as a `${VAR}` reference: Gatus's own reference when it is one, else
/// `fallback` (the literal is not copied into the output).
fn secret(v: Option<String>, fallback: &str) -> String {
    match v {
        Some(x) if x.trim_start().starts_with("${") => x,
        _ => format!("${{{fallback}}}"),
    }
}
