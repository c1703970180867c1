//! `vaktpost import upptime|gatus FILE`: another monitor's config translated into a
//! vaktpost config (YAML text on stdout). Each tool's file is read as plain YAML values
//! (`upptime.rs`, `gatus.rs`), every key with a counterpart is written out, and every one
//! without gets a `# not translated: …` comment where it would go. The output is loaded
//! with vaktpost's own loader before it is returned, so what `import` prints validates.

mod gatus;
mod upptime;

use std::collections::{BTreeMap, BTreeSet};

use yaml_serde::Value;

use crate::config::Diagnostic;

/// The tools `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Upptime,
    Gatus,
}

impl Tool {
    pub fn parse(s: &str) -> Option<Tool> {
        match s {
            "upptime" => Some(Tool::Upptime),
            "gatus" => Some(Tool::Gatus),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Tool::Upptime => "upptime",
            Tool::Gatus => "gatus",
        }
    }
}

/// A translated config.
#[derive(Debug)]
pub struct Imported {
    /// The vaktpost config, YAML.
    pub text: String,
    /// The environment variables it references (`${VAR}`), which must be set to run it.
    pub variables: Vec<String>,
    /// How many things were not translated (each is a comment in `text`).
    pub not_translated: usize,
}

/// Largest input read (a config of thousands of endpoints is far below this).
pub const MAX_INPUT_BYTES: usize = 8 << 20;

/// Translates `text` (the file `file`) from `tool`'s format. Errors are located
/// diagnostics: not YAML, or the other tool's file (or neither's).
pub fn import(tool: Tool, text: &str, file: &str) -> Result<Imported, Vec<Diagnostic>> {
    let err = |line: usize, column: usize, message: String| {
        vec![Diagnostic { file: file.to_string(), line, column, path: String::new(), message }]
    };
    if text.len() > MAX_INPUT_BYTES {
        return Err(err(1, 1, format!("the file is larger than {} MiB; is it a config file?", MAX_INPUT_BYTES >> 20)));
    }
    let value: Value = match yaml_serde::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            return Err(err(line, column, format!("not a YAML file: {e}")));
        }
    };
    let Value::Mapping(map) = &value else {
        return Err(err(1, 1, format!("a {} config is a YAML mapping of keys; this file is not", tool.name())));
    };
    let has = |k: &str| map.get(k).is_some();
    let (want, other, other_tool) = match tool {
        Tool::Upptime => ("sites", "endpoints", "gatus"),
        Tool::Gatus => ("endpoints", "sites", "upptime"),
    };
    let gatus_external = tool == Tool::Gatus && has("external-endpoints");
    if !has(want) && !gatus_external {
        let (line, column) = key_position(text, other).unwrap_or((1, 1));
        let msg = if has(other) {
            format!(
                "this looks like a {} config (it has `{other}:`), not a {} one; run `vaktpost import {other_tool} {file}`",
                if other_tool == "gatus" { "Gatus" } else { "Upptime" },
                tool.name()
            )
        } else {
            format!("not a {} config: it has no `{want}:` list", tool.name())
        };
        return Err(err(line, column, msg));
    }
    let mut out = Out::default();
    match tool {
        Tool::Upptime => upptime::translate(map, &mut out),
        Tool::Gatus => gatus::translate(map, &mut out),
    }
    if out.monitors.is_empty() {
        let notes: Vec<&str> = out.top_notes.iter().map(|n| n.trim_start_matches("# not translated: ")).collect();
        let why = if notes.is_empty() { "it lists none".to_string() } else { notes.join("; ") };
        return Err(err(1, 1, format!("nothing in it translates to a vaktpost monitor: {why}")));
    }
    let imported = out.render(tool, file);
    // The promise of `import`: its output loads. Referenced variables get placeholders.
    if let Err(diags) = crate::load::load_str(&imported.text, "import output", &placeholders(&imported.text)) {
        let list = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; ");
        return Err(err(1, 1, format!("internal error: the translated config does not validate ({list}); please report this with the input file")));
    }
    Ok(imported)
}

/// Values for the `${VAR}`s of `text`, to load it without the real secrets: a whole
/// value (`"${SLACK_WEBHOOK_URL}"`) gets a URL, a part of one (a password in a URL, a
/// host) a plain word.
fn placeholders(text: &str) -> BTreeMap<String, String> {
    variables_in(text)
        .into_iter()
        .map(|v| {
            let whole = text.contains(&format!("\"${{{v}}}\""));
            let value = if whole { "https://placeholder.invalid/x" } else { "placeholder" };
            (v, value.to_string())
        })
        .collect()
}

/// `line:column` (1-based) of a top-level key, for messages about the file as a whole.
fn key_position(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().position(|l| l.starts_with(&format!("{key}:"))).map(|i| (i + 1, 1))
}

/// The config being written: monitors, rules and alerts as YAML lines, and the comments
/// for what has no counterpart.
#[derive(Default)]
pub(crate) struct Out {
    top_notes: Vec<String>,
    monitors: Vec<Vec<String>>,
    rules: Vec<Vec<String>>,
    alerts: Vec<String>,
    names: BTreeSet<String>,
    not_translated: usize,
}

/// One monitor's lines, `key: value` at the monitor's indentation.
#[derive(Default)]
pub(crate) struct Monitor {
    pub lines: Vec<String>,
}

impl Monitor {
    pub fn new(name: &str, ty: &str) -> Monitor {
        Monitor { lines: vec![format!("name: {}", q(name)), format!("type: {ty}")] }
    }
    pub fn kv(&mut self, k: &str, v: impl AsRef<str>) {
        self.lines.push(format!("{k}: {}", v.as_ref()));
    }
    pub fn not_translated(&mut self, what: impl AsRef<str>) {
        self.lines.push(format!("# not translated: {}", one_line(what.as_ref())));
    }
}

impl Out {
    /// A unique monitor name from `name` (another tool may repeat names across groups).
    pub fn unique(&mut self, name: &str) -> String {
        let base = {
            let n: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
            if n.trim().is_empty() {
                "monitor".to_string()
            } else {
                n.trim().to_string()
            }
        };
        let mut n = base.clone();
        let mut i = 2;
        while self.names.contains(&n) {
            n = format!("{base} {i}");
            i += 1;
        }
        self.names.insert(n.clone());
        n
    }
    /// Adds a monitor when it loads on its own; one vaktpost would reject (a URL that is
    /// not one, an empty host) becomes a `# not translated` line with the reason.
    pub fn monitor(&mut self, m: Monitor) -> bool {
        let mut text = String::from("monitors:\n");
        for (i, l) in m.lines.iter().enumerate() {
            text.push_str(if i == 0 { "  - " } else { "    " });
            text.push_str(l);
            text.push('\n');
        }
        if let Err(d) = crate::load::load_str(&text, "monitor", &placeholders(&text)) {
            let name = m.lines.first().map(|l| l.trim_start_matches("name: ").to_string()).unwrap_or_default();
            let why = d.iter().map(|d| format!("{}: {}", d.path, d.message)).collect::<Vec<_>>().join("; ");
            self.skipped(format!("monitor {name} ({why})"));
            return false;
        }
        self.not_translated += m.lines.iter().filter(|l| l.starts_with("# not translated")).count();
        self.monitors.push(m.lines);
        true
    }
    /// A whole item (an endpoint) that has no counterpart.
    pub fn skipped(&mut self, what: impl AsRef<str>) {
        self.not_translated += 1;
        self.top_notes.push(format!("# not translated: {}", one_line(what.as_ref())));
    }
    pub fn rule(&mut self, lines: Vec<String>) {
        self.rules.push(lines);
    }
    pub fn alert(&mut self, line: impl Into<String>) {
        let l = line.into();
        if l.starts_with("# not translated") {
            self.not_translated += 1;
        }
        self.alerts.push(l);
    }

    fn render(self, tool: Tool, file: &str) -> Imported {
        let mut s = String::new();
        s.push_str(&format!(
            "# vaktpost config translated by `vaktpost import {} {}`.\n# Review each `# not translated` comment: it names something vaktpost did not carry over.\n",
            tool.name(),
            one_line(file)
        ));
        let body_len = s.len();
        let mut body = String::new();
        if !self.top_notes.is_empty() {
            for n in &self.top_notes {
                body.push_str(n);
                body.push('\n');
            }
        }
        body.push_str("monitors:\n");
        if self.monitors.is_empty() {
            body.push_str("  []\n");
        }
        for m in &self.monitors {
            let mut first = true;
            for l in m {
                if first && !l.starts_with('#') {
                    body.push_str(&format!("  - {l}\n"));
                    first = false;
                } else {
                    body.push_str(&format!("    {l}\n"));
                }
            }
        }
        if !self.rules.is_empty() {
            body.push_str("rules:\n");
            for r in &self.rules {
                for (i, l) in r.iter().enumerate() {
                    body.push_str(&format!("{}{l}\n", if i == 0 { "  - " } else { "    " }));
                }
            }
        }
        if !self.alerts.is_empty() {
            body.push_str("alerts:\n");
            for l in &self.alerts {
                body.push_str(&format!("  {l}\n"));
            }
        }
        let variables = variables_in(&body);
        if !variables.is_empty() {
            s.push_str(&format!("# Set these environment variables (secrets) to run it: {}\n", variables.join(", ")));
        }
        let _ = body_len;
        s.push_str(&body);
        Imported { text: s, variables, not_translated: self.not_translated }
    }
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
pub(crate) fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Text for one comment line.
fn one_line(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    crate::untrusted::bound(&flat, 300)
}

/// Every `${VAR}` (without a default) in `text`, sorted, once each.
fn variables_in(text: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        if !inner.contains(":-") && !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.insert(inner.to_string());
        }
        rest = &after[end..];
    }
    out.into_iter().collect()
}

/// A YAML value as a scalar string, when it is one.
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A YAML value written inline for a comment.
pub(crate) fn brief(v: &Value) -> String {
    let s = match scalar(v) {
        Some(s) => s,
        None => serde_json::to_string(v).unwrap_or_default(),
    };
    crate::untrusted::bound(&s, 120)
}

/// A Go/Gatus duration (`5m`, `1h30m`, `10s`, `500ms`) in seconds.
pub(crate) fn go_duration_secs(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += n * match unit.as_str() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return None,
        };
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

/// A vaktpost duration string for `secs`.
pub(crate) fn dur(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}s", secs as u64)
    } else {
        format!("{}ms", (secs * 1000.0).round() as u64)
    }
}

/// `$NAME` (Upptime's secret syntax) as `${NAME}`; `${NAME}` is kept.
pub(crate) fn env_refs(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if b[i] == b'$' && i + 1 < s.len() && (b[i + 1].is_ascii_uppercase() || b[i + 1] == b'_') {
            let end = s[i + 1..]
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .map_or(s.len(), |j| i + 1 + j);
            out.push_str(&format!("${{{}}}", &s[i + 1..end]));
            i = end;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(go_duration_secs("1h30m"), Some(5400.0));
        assert_eq!(go_duration_secs("500ms"), Some(0.5));
        assert_eq!(go_duration_secs("x"), None);
        assert_eq!(env_refs("https://$HOST/a?k=$API_KEY&x=${KEEP}"), "https://${HOST}/a?k=${API_KEY}&x=${KEEP}");
        assert_eq!(variables_in("a ${A} ${B:-x} ${A}"), vec!["A".to_string()]);
    }
}
