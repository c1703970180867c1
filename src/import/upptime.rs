//! Upptime's `.upptimerc.yml` (https://upptime.js.org/docs/configuration): `sites` become
//! `http`, `tcp` (`check: tcp-ping`) and `ssl` (`check: ssl`) monitors; `owner`/`repo`
//! and `assignees` become `alerts.github`, since Upptime's incidents are GitHub issues too.
//! Upptime's secrets (`$SECRET_NAME` in URLs and headers) become `${SECRET_NAME}`.

use yaml_serde::{Mapping, Value};

use super::{brief, env_refs, q, scalar, Monitor, Out};

/// Top-level keys that configure Upptime's own site, workflows or repository, with what
/// vaktpost has instead.
const ELSEWHERE: &[(&str, &str)] = &[
    ("status-website", "vaktpost's status site is `vaktpost pages --out DIR`"),
    ("workflowSchedule", "set the schedule in the workflow that runs vaktpost"),
    ("commitMessages", "vaktpost keeps history in its state, not in commits"),
    ("skipDescriptionUpdate", ""),
    ("skipTopicsUpdate", ""),
    ("skipHomepageUpdate", ""),
    ("i18n", ""),
    ("user-agent", "vaktpost sends its own User-Agent; set a `User-Agent` header per monitor"),
    ("PAT", ""),
    ("delay", ""),
    ("runner", ""),
    ("notifications", "configure alerts.slack / alerts.email (Upptime reads these from secrets)"),
];

pub(super) fn translate(map: &Mapping, out: &mut Out) {
    let get = |k: &str| map.get(k);
    let mut assignees: Vec<String> = strings(get("assignees"));
    if let Some(Value::Sequence(sites)) = get("sites") {
        for (i, site) in sites.iter().enumerate() {
            let Value::Mapping(s) = site else {
                out.skipped(format!("sites[{i}] is not a mapping"));
                continue;
            };
            site_monitor(s, i, out, &mut assignees);
        }
    }
    for (k, v) in map {
        let Some(key) = k.as_str() else { continue };
        match key {
            "sites" | "assignees" | "owner" | "repo" => {}
            other => {
                let why = ELSEWHERE.iter().find(|(k, _)| *k == other).map(|(_, w)| *w).unwrap_or("");
                let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
                out.alert(format!("# not translated: {other}: {}{why}", brief(v)));
            }
        }
    }
    let owner = get("owner").and_then(scalar);
    let repo = get("repo").and_then(scalar);
    // Upptime's incidents are GitHub issues in its repository: vaktpost's are too.
    let mut gh = Vec::new();
    if let (Some(o), Some(r)) = (owner, repo) {
        gh.push(format!("  repository: {}", q(&format!("{o}/{r}"))));
    }
    assignees.sort();
    assignees.dedup();
    if !assignees.is_empty() {
        gh.push(format!("  assignees: [{}]", assignees.iter().map(|a| q(a)).collect::<Vec<_>>().join(", ")));
    }
    if gh.is_empty() {
        out.alert("github: {}");
    } else {
        out.alert("github:");
        for l in gh {
            out.alert(l);
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(s)) => s.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
        None => Vec::new(),
    }
}

fn site_monitor(s: &Mapping, i: usize, out: &mut Out, assignees: &mut Vec<String>) {
    let get = |k: &str| s.get(k);
    let name = get("name").and_then(scalar).unwrap_or_else(|| format!("site {}", i + 1));
    let Some(url) = get("url").and_then(scalar) else {
        out.skipped(format!("site {name:?} has no url"));
        return;
    };
    let url = env_refs(&url);
    let check = get("check").and_then(scalar).unwrap_or_else(|| "http".into());
    let name = out.unique(&name);
    let mut m;
    let mut handled: Vec<&str> = vec!["name", "url", "check", "assignees"];
    match check.as_str() {
        "tcp-ping" => {
            m = Monitor::new(&name, "tcp");
            let host = url.trim_start_matches("https://").trim_start_matches("http://");
            let host = host.split(['/', '?']).next().unwrap_or(host);
            m.kv("host", q(host));
            match get("port").and_then(scalar).and_then(|p| p.parse::<u32>().ok()) {
                Some(p) => m.kv("port", p.to_string()),
                None => {
                    m.kv("port", "443");
                    m.not_translated("tcp-ping without `port`; 443 assumed, check it");
                }
            }
            handled.extend(["port", "ipv6"]);
            if get("ipv6").is_some() {
                m.not_translated("ipv6 (vaktpost connects to every resolved address)");
            }
        }
        "ssl" => {
            m = Monitor::new(&name, "ssl");
            let host = url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or(url.clone());
            m.kv("host", q(&host));
            if let Some(p) = get("port").and_then(scalar) {
                m.kv("port", p);
                handled.push("port");
            }
        }
        "http" | "" => {
            m = Monitor::new(&name, "http");
            m.kv("url", q(&url));
            if let Some(method) = get("method").and_then(scalar) {
                m.kv("method", q(&method.to_ascii_uppercase()));
            }
            handled.extend(["method", "expectedStatusCodes", "maxResponseTime", "headers", "body"]);
            let codes: Vec<String> = strings(get("expectedStatusCodes"));
            if !codes.is_empty() {
                m.kv("expected_status", format!("[{}]", codes.join(", ")));
            }
            if let Some(ms) = get("maxResponseTime").and_then(scalar).and_then(|v| v.parse::<u64>().ok()) {
                m.kv("max_response_time", format!("{ms}ms"));
            }
            let headers = strings(get("headers"));
            if !headers.is_empty() {
                m.lines.push("headers:".into());
                for h in headers {
                    match h.split_once(':') {
                        Some((k, v)) if !k.trim().is_empty() => {
                            m.lines.push(format!("  {}: {}", q(k.trim()), q(&env_refs(v.trim()))))
                        }
                        _ => m.not_translated(format!("header {h:?} (not `Name: value`)")),
                    }
                }
            }
            if let Some(b) = get("body").and_then(scalar) {
                m.kv("body", q(&env_refs(&b)));
            }
            handled.extend([
                "__dangerous__insecure",
                "__dangerous__disable_verify_peer",
                "__dangerous__body_down_if_text_missing",
            ]);
            let insecure = ["__dangerous__insecure", "__dangerous__disable_verify_peer"]
                .iter()
                .any(|k| get(k).is_some_and(|v| matches!(v, Value::Bool(true))));
            if insecure {
                m.kv("insecure_skip_verify", "true");
            }
            if let Some(t) = get("__dangerous__body_down_if_text_missing").and_then(scalar) {
                m.kv("body_contains", q(&t));
            }
            if let Some(t) = get("__dangerous__body_down").and_then(scalar) {
                m.kv("body_not_contains", q(&t));
                handled.push("__dangerous__body_down");
            }
        }
        other => {
            out.skipped(format!("site {name:?}: check {other:?} (vaktpost has http, tcp and ssl checks; no {other})"));
            return;
        }
    }
    assignees.extend(strings(get("assignees")));
    for (k, v) in s {
        let Some(key) = k.as_str() else { continue };
        if handled.contains(&key) {
            continue;
        }
        let why = match key {
            "icon" | "slug" => " (status-site presentation)",
            "type" | "location" => " (Globalping locations; vaktpost checks from the runner)",
            "__dangerous__body_degraded" | "__dangerous__body_degraded_if_text_missing" => {
                " (vaktpost's body checks mark a monitor down, not degraded)"
            }
            _ => "",
        };
        m.not_translated(format!("{key}: {}{why}", brief(v)));
    }
    let _ = out.monitor(m);
}
