//! Reading a config file: YAML syntax, `${VAR}` interpolation, typed deserialization of
//! each section and each monitor on its own (so one bad monitor does not hide the next
//! problem), and the seed's environment variables. Every problem becomes a located
//! [`Diagnostic`]; all of them are returned at once.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use yaml_serde::{Mapping, Value};

use super::diag::{hint, Diagnostic};
use super::duration::{parse_duration, Dur};
use super::interp::{interpolate, InterpError};
use super::locate::{join_index, join_key, LocationIndex};
use super::model::*;
use super::secret::Secret;
use super::validate::RuleCheck;
use super::{Common, Monitor, MonitorKind, COMMON_KEYS};

/// A config that parsed and validated, with what it needs to run.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub file: String,
    /// Notes for the user that are not errors (seed variables picked up, channels off).
    pub notes: Vec<String>,
    /// Every secret value, for redaction of free text.
    pub secrets: Vec<String>,
}

struct Ctx<'a> {
    file: &'a str,
    index: LocationIndex,
    diags: Vec<Diagnostic>,
    /// Paths whose string came from a whole `${VAR}` and was turned into a number or bool.
    retyped: BTreeMap<String, String>,
}

impl Ctx<'_> {
    fn at_value(&mut self, path: &str, message: String) {
        let pos = self.index.value(path).unwrap_or(super::locate::Pos { line: 1, column: 1 });
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
            path: path.to_string(),
            message,
        });
    }
    fn at_key(&mut self, path: &str, message: String) {
        match self.index.key(path) {
            Some(pos) => self.diags.push(Diagnostic {
                file: self.file.to_string(),
                line: pos.line,
                column: pos.column,
                path: path.to_string(),
                message,
            }),
            None => self.at_value(path, message),
        }
    }
}

/// Parses, interpolates and validates `text`, the rules with `rules` (see `crate::load`,
/// which passes the real check). `file` is used in diagnostics only.
pub fn load_str_with(
    text: &str,
    file: &str,
    env: &BTreeMap<String, String>,
    rules: RuleCheck,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut root: Value = match yaml_serde::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
            return Err(vec![Diagnostic {
                file: file.to_string(),
                line,
                column,
                path: String::new(),
                message: format!("YAML syntax error: {}", strip_location(&e.to_string())),
            }]);
        }
    };
    if root.is_null() {
        root = Value::Mapping(Mapping::new());
    }
    if let Err(e) = root.apply_merge() {
        return Err(vec![Diagnostic {
            file: file.to_string(),
            line: 1,
            column: 1,
            path: String::new(),
            message: format!("YAML merge key error: {e}"),
        }]);
    }
    let mut cx = Ctx { file, index: LocationIndex::build(text), diags: Vec::new(), retyped: BTreeMap::new() };
    interpolate_tree(&mut root, "", env, &mut cx);

    let Value::Mapping(top) = root else {
        cx.at_value("", "the config must be a mapping with a `monitors:` list".into());
        return Err(cx.diags);
    };
    let mut config = Config::default();
    // How many entries `monitors:` lists: None when the key is absent; not-a-list is
    // reported by `monitors` itself.
    let mut listed: Option<Option<usize>> = None;
    let mut loaded_at: Vec<usize> = Vec::new();
    for (k, v) in top {
        let Some(key) = k.as_str().map(str::to_string) else {
            cx.at_value("", format!("top-level keys must be strings, got {k:?}"));
            continue;
        };
        match key.as_str() {
            "defaults" => {
                if let Some(d) = section(&mut cx, "defaults", v) {
                    config.defaults = d
                }
            }
            "rules" => {
                if let Some(r) = section(&mut cx, "rules", v) {
                    config.rules = r
                }
            }
            "alerts" => {
                if let Some(a) = section(&mut cx, "alerts", v) {
                    config.alerts = a
                }
            }
            "state" => {
                if let Some(s) = section(&mut cx, "state", v) {
                    config.state = s
                }
            }
            "report" => {
                if let Some(r) = section(&mut cx, "report", v) {
                    config.report = r
                }
            }
            "metrics" => {
                if let Some(m) = section(&mut cx, "metrics", v) {
                    config.metrics = m
                }
            }
            "pages" => {
                if let Some(p) = section(&mut cx, "pages", v) {
                    config.pages = p
                }
            }
            "monitors" => {
                listed = Some(match &v {
                    Value::Sequence(items) => Some(items.len()),
                    Value::Null => Some(0),
                    _ => None,
                });
                (config.monitors, loaded_at) = monitors(&mut cx, v)
            }
            other => {
                let msg = format!("unknown top-level key \"{other}\"{}", hint(other, TOP_LEVEL_KEYS));
                cx.at_key(other, msg);
            }
        }
    }

    let mut notes = Vec::new();
    apply_seed_env(&mut config, env, &mut notes, &mut cx);
    // `defaults.labels` are every monitor's labels; a monitor's own value for a key wins.
    for m in &mut config.monitors {
        for (k, v) in &config.defaults.labels {
            m.common.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // Validation indexes the monitors that loaded; a diagnostic names the monitor's
    // place in the file, which differs once an earlier monitor failed to load.
    let in_file = |path: &str| -> String {
        let Some((n, tail)) = path.strip_prefix("monitors[").and_then(|r| r.split_once(']')) else {
            return path.to_string();
        };
        match n.parse::<usize>().ok().and_then(|i| loaded_at.get(i)) {
            Some(at) => format!("monitors[{at}]{tail}"),
            None => path.to_string(),
        }
    };
    super::validate::validate(&config, &mut |path: &str, msg: String| cx.at_value(&in_file(path), msg), rules);
    nothing_to_check(&mut cx, &config, listed);

    if !cx.diags.is_empty() {
        cx.diags.sort_by_key(|d| (d.line, d.column));
        return Err(cx.diags);
    }
    let secrets = collect_secrets(&config);
    Ok(Loaded { config, file: file.to_string(), notes, secrets })
}

fn strip_location(msg: &str) -> String {
    // yaml_serde appends " at line L column C"; the diagnostic prefix already says where.
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn interpolate_tree(v: &mut Value, path: &str, env: &BTreeMap<String, String>, cx: &mut Ctx) {
    match v {
        Value::String(s) if s.contains('$') => match interpolate(s, env) {
            Ok((out, _)) => {
                let whole = s.trim().starts_with("${") && s.trim().ends_with('}') && s.matches("${").count() == 1;
                if whole {
                    if let Some(typed) = retype(&out) {
                        cx.retyped.insert(path.to_string(), out.clone());
                        *v = typed;
                        return;
                    }
                }
                *s = out;
            }
            Err(InterpError::Unset(name)) => cx.at_value(
                path,
                format!("environment variable {name} is not set; set it, or write ${{{name}:-default}}"),
            ),
            Err(InterpError::Malformed(m)) => cx.at_value(path, m),
        },
        Value::Sequence(seq) => {
            for (i, item) in seq.iter_mut().enumerate() {
                interpolate_tree(item, &join_index(path, i), env, cx);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let key = k.as_str().map(str::to_string).unwrap_or_default();
                interpolate_tree(item, &join_key(path, &key), env, cx);
            }
        }
        Value::Tagged(t) => interpolate_tree(&mut t.value, path, env, cx),
        _ => {}
    }
}

/// A whole-value `${PORT}` that reads as a number or bool becomes one, so
/// `port: ${REDIS_PORT}` works; it turns back into a string where a string is wanted.
fn retype(s: &str) -> Option<Value> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(i) = t.parse::<u64>() {
        return Some(Value::Number(i.into()));
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    if let Ok(f) = t.parse::<f64>() {
        if f.is_finite() {
            return Some(Value::Number(f.into()));
        }
    }
    match t {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ => None,
    }
}

/// Deserializes one value, reporting the first error with its full path. A retyped
/// `${VAR}` that was wanted as a string is turned back and the value tried again.
fn typed<T: DeserializeOwned>(cx: &mut Ctx, base: &str, mut v: Value) -> Result<T, (String, String)> {
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, T>(v.clone()) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let rel = path_string(e.path());
                let full = if rel.is_empty() {
                    base.to_string()
                } else if rel.starts_with('[') || base.is_empty() {
                    format!("{base}{rel}")
                } else {
                    format!("{base}.{rel}")
                };
                let msg = strip_location(&e.inner().to_string());
                if msg.starts_with("invalid type") {
                    if let Some(orig) = cx.retyped.remove(&full) {
                        if set_at(&mut v, base, &full, Value::String(orig)) {
                            continue;
                        }
                    }
                }
                return Err((full, msg));
            }
        }
    }
    Err((base.to_string(), "could not read this value".into()))
}

fn path_string(p: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in p.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Replaces the node at `full` (a path below `base`) inside `v`.
fn set_at(v: &mut Value, base: &str, full: &str, new: Value) -> bool {
    let rel = full.strip_prefix(base).unwrap_or(full).trim_start_matches('.');
    let mut cur = v;
    let mut rest = rel;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            let Ok(i) = r[..end].parse::<usize>() else { return false };
            let Some(next) = cur.as_sequence_mut().and_then(|s| s.get_mut(i)) else { return false };
            cur = next;
            rest = r.get(end + 1..).unwrap_or("").trim_start_matches('.');
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let key = &rest[..end];
            let Some(next) = cur.as_mapping_mut().and_then(|m| m.get_mut(key)) else { return false };
            cur = next;
            rest = rest[end..].trim_start_matches('.');
        }
    }
    *cur = new;
    true
}

/// Turns a serde message into ours: unknown keys get a did-you-mean, located at the key.
fn report(cx: &mut Ctx, path: String, msg: String, extra_keys: &[&str], what: &str) {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        let mut candidates = expected_list(&msg);
        candidates.extend(extra_keys.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let key_path =
            if path.ends_with(&format!(".{key}")) || path == key { path.clone() } else { join_key(&path, key) };
        let message = format!("unknown key \"{key}\"{what}{}", hint(key, &refs));
        cx.at_key(&key_path, message);
    } else if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let word = rest.split('`').next().unwrap_or("");
        let candidates = expected_list(&msg);
        let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let listed = candidates.join(", ");
        cx.at_value(&path, format!("unknown value \"{word}\"{} (expected one of: {listed})", hint(word, &refs)));
    } else {
        cx.at_value(&path, friendly_types(&msg));
    }
}

/// serde names Rust types ("expected u32"); say what to write instead.
fn friendly_types(msg: &str) -> String {
    let mut m = msg.to_string();
    for (rust, plain) in [
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        if m.ends_with(rust) {
            m = format!("{}{plain}", &m[..m.len() - rust.len()]);
        }
    }
    m
}

fn expected_list(msg: &str) -> Vec<String> {
    let Some(i) = msg.find("expected ") else { return Vec::new() };
    msg[i..].split('`').enumerate().filter(|(n, _)| n % 2 == 1).map(|(_, s)| s.to_string()).collect()
}

fn section<T: DeserializeOwned>(cx: &mut Ctx, name: &str, v: Value) -> Option<T> {
    let v = if v.is_null() { Value::Mapping(Mapping::new()) } else { v };
    match typed::<T>(cx, name, v) {
        Ok(t) => Some(t),
        Err((path, msg)) => {
            report(cx, path, msg, &[], "");
            None
        }
    }
}

use crate::checks::kinds::{ReadOptions, TYPES};

/// Reads a monitor's own options by its `type`, so errors keep their full key path.
fn kind_of(cx: &mut Ctx, path: &str, ty: &str, v: Value) -> Result<MonitorKind, (String, String)> {
    struct Reader<'a, 'b> {
        cx: &'a mut Ctx<'b>,
        path: &'a str,
        v: Option<Value>,
    }
    impl ReadOptions for Reader<'_, '_> {
        type Error = (String, String);
        fn read<T: DeserializeOwned>(&mut self) -> Result<T, (String, String)> {
            typed(self.cx, self.path, self.v.take().unwrap_or(Value::Null))
        }
    }
    match MonitorKind::read(ty, &mut Reader { cx, path, v: Some(v) }) {
        Some(k) => k,
        None => Err((
            join_key(path, "type"),
            format!(
                "unknown variant `{ty}`, expected one of {}",
                TYPES.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// The monitors that loaded, and the index in the file of each.
fn monitors(cx: &mut Ctx, v: Value) -> (Vec<Monitor>, Vec<usize>) {
    let items = match v {
        Value::Sequence(s) => s,
        Value::Null => return (Vec::new(), Vec::new()),
        _ => {
            cx.at_value("monitors", "`monitors` must be a list of monitors (each starting with `- name:`)".into());
            return (Vec::new(), Vec::new());
        }
    };
    let mut out = Vec::new();
    let mut at = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let path = join_index("monitors", i);
        let Value::Mapping(map) = item else {
            cx.at_value(&path, "each monitor must be a mapping with at least `name` and `type`".into());
            continue;
        };
        let mut common = Mapping::new();
        let mut kind = Mapping::new();
        for (k, v) in map {
            let is_common = k.as_str().is_some_and(|s| COMMON_KEYS.contains(&s) && s != "type");
            if is_common {
                common.insert(k, v);
            } else {
                kind.insert(k, v);
            }
        }
        if !kind.contains_key("type") {
            cx.at_value(&path, format!("missing key \"type\" (one of: {})", TYPES.join(", ")));
            continue;
        }
        let ty = kind.remove("type").unwrap_or(Value::Null);
        let c = typed::<Common>(cx, &path, Value::Mapping(common));
        let k = match ty.as_str() {
            Some(t) => kind_of(cx, &path, t, Value::Mapping(kind)),
            None => Err((join_key(&path, "type"), format!("`type` must be a string, one of: {}", TYPES.join(", ")))),
        };
        let what = ty.as_str().map(|t| format!(" for a {t} monitor")).unwrap_or_default();
        match (c, k) {
            (Ok(common), Ok(kind)) => {
                out.push(Monitor { common, kind });
                at.push(i);
            }
            (c, k) => {
                if let Err((p, m)) = c {
                    report(cx, p, m, &[], "");
                }
                if let Err((p, m)) = k {
                    report(cx, p, m, COMMON_KEYS, &what);
                }
            }
        }
    }
    (out, at)
}

/// A config that checks nothing would make a green gate that means nothing: no monitors,
/// or every one `enabled: false`. Monitors that failed to load are already reported.
fn nothing_to_check(cx: &mut Ctx, config: &Config, listed: Option<Option<usize>>) {
    match listed {
        None | Some(Some(0)) => {
            let at = if listed.is_some() { "monitors" } else { "" };
            cx.at_key(at, "the config has no monitors; add at least one under `monitors:`".into());
        }
        Some(Some(n)) if n == config.monitors.len() && config.monitors.iter().all(|m| !m.common.enabled) => {
            let at = join_key(&join_index("monitors", 0), "enabled");
            let msg = if n == 1 {
                "the only monitor has `enabled: false`, so nothing would be checked; enable it".to_string()
            } else {
                format!("all {n} monitors have `enabled: false`, so nothing would be checked; enable at least one")
            };
            cx.at_value(&at, msg);
        }
        _ => {}
    }
}

/// The seed's environment variables: `MONITORING_INTERVAL` is the default interval,
/// `SLACK_WEBHOOK_URL` turns Slack on, `ALERT_EMAIL` is the default recipient.
fn apply_seed_env(config: &mut Config, env: &BTreeMap<String, String>, notes: &mut Vec<String>, cx: &mut Ctx) {
    let get = |k: &str| env.get(k).filter(|v| !v.trim().is_empty()).cloned();
    if config.defaults.interval.is_none() {
        if let Some(v) = get("MONITORING_INTERVAL") {
            match parse_duration(&v) {
                Ok(d) => {
                    config.defaults.interval = Some(Dur(d));
                    notes.push(format!("default interval {} from MONITORING_INTERVAL", Dur(d)));
                }
                Err(e) => cx.at_value("defaults.interval", format!("MONITORING_INTERVAL: {e}")),
            }
        }
    }
    if let Some(url) = get("SLACK_WEBHOOK_URL") {
        match &mut config.alerts.slack {
            None => {
                config.alerts.slack =
                    Some(SlackAlerts { enabled: true, webhook_url: Some(Secret::new(url)), min_severity: None });
                notes.push("Slack alerts on from SLACK_WEBHOOK_URL".into());
            }
            Some(s) if s.webhook_url.is_none() => s.webhook_url = Some(Secret::new(url)),
            Some(_) => {}
        }
    }
    // SPEC §3: a `railway` monitor's token comes from `${RAILWAY_TOKEN}` unless set.
    if let Some(token) = get("RAILWAY_TOKEN") {
        for m in &mut config.monitors {
            if let MonitorKind::Railway(r) = &mut m.kind {
                if r.token.is_none() && r.project_token.is_none() {
                    r.token = Some(Secret::new(token.clone()));
                }
            }
        }
    }
    if let Some(to) = get("ALERT_EMAIL") {
        let recipients: Vec<String> = to.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        match &mut config.alerts.email {
            None => {
                config.alerts.email = Some(EmailAlerts {
                    enabled: true,
                    smtp_url: get("SMTP_URL").map(Secret::new),
                    from: None,
                    to: recipients,
                    min_severity: None,
                    ca_file: None,
                });
                notes.push("email alerts to ALERT_EMAIL".into());
            }
            Some(e) if e.to.is_empty() => e.to = recipients,
            Some(_) => {}
        }
    }
}

fn collect_secrets(c: &Config) -> Vec<String> {
    let mut s = super::channels::Secrets::default();
    for m in &c.monitors {
        let mut found = Vec::new();
        m.kind.secrets(&mut found);
        for x in found {
            s.add_str(&x);
        }
    }
    for (_, ch) in c.alerts.sections() {
        ch.secrets(&mut s);
    }
    let m = &c.metrics;
    let urls = [
        m.pushgateway.as_ref().map(|p| &p.url),
        m.remote_write.as_ref().map(|r| &r.url),
        m.otlp.as_ref().map(|o| &o.endpoint),
    ];
    for u in urls.into_iter().flatten() {
        for x in crate::redact::url_secrets(u) {
            s.add_str(&x);
        }
    }
    if let Some(r) = &m.remote_write {
        for x in [&r.bearer_token, &r.password].into_iter().flatten() {
            s.add(x);
        }
    }
    for v in m.otlp.iter().flat_map(|o| o.headers.values()) {
        s.add(v);
    }
    s.0.into_iter().collect()
}
