//! Rules turn results into findings. Conditions are CEL over the result's variables;
//! a rule that names a variable the result does not have does not apply to it, and a
//! rule that cannot be evaluated on a result that has its variables says so (a
//! `rule_error` finding) instead of going quiet.

pub mod defaults;
pub mod errors;
pub mod streaks;
pub mod typecheck;
pub mod vars;

pub use streaks::{evaluate, evaluate_until, RuleState, StreakStore};

use std::collections::BTreeMap;

use cel::{Context, Program, Value};
use globset::{Glob, GlobSet, GlobSetBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::checks::CheckResult;
use crate::config::{Monitor, RuleConfig, Severity};

pub struct Rule {
    pub name: String,
    pub condition: String,
    program: Program,
    vars: Vec<String>,
    /// The variables the message's `{placeholders}` name.
    message_vars: Vec<String>,
    pub message: String,
    pub severity: Severity,
    escalate: Vec<(Program, Vec<String>, Severity)>,
    monitors: Option<GlobSet>,
    pub for_runs: u32,
    pub resolve_after: u32,
}

/// A rule that holds for a monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub rule: String,
    pub monitor: String,
    pub severity: Severity,
    pub message: String,
    /// `monitor/rule`: the key alerts are tracked by.
    pub fingerprint: String,
    /// Present when the monitor was skipped this run and the finding is from its last check.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carried_over: bool,
    /// `security` for security events (rules named `security_*`), `rule_error` for a rule
    /// that could not be evaluated on this monitor's result; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The monitor is flapping: this availability finding is held open for the episode.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flapping: bool,
    /// The values of the variables the rule's condition and message name (`percent: 93`),
    /// as text: what alerts lead with. Absent for findings that were not a rule holding.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

/// The category of a rule's findings: rules named `security_*` report security events.
pub fn category_of(rule: &str) -> Option<String> {
    rule.starts_with("security_").then(|| "security".to_string())
}

pub use crate::values::globs;

/// The longest condition (in characters) vaktpost compiles. The CEL parser recurses per
/// nesting level and has panicked past column 65,535; with `panic = "abort"` in release
/// builds no `catch_unwind` can help there, so the limit is checked before parsing.
pub const MAX_CONDITION_CHARS: usize = 4096;

pub fn compile(src: &str) -> Result<Program, String> {
    let n = src.chars().count();
    if n > MAX_CONDITION_CHARS {
        return Err(format!(
            "the condition is {n} characters long; keep conditions under {MAX_CONDITION_CHARS} characters (split it into several rules)"
        ));
    }
    // Quoted, then cut: escaping can make a short condition long (`\u{1b}` is six characters).
    let program =
        parse_guarded(src).map_err(|m| format!("invalid CEL condition {}: {m}", shorten(&format!("{src:?}"), 200)))?;
    let steps = cost(program.expression());
    if steps > MAX_CONDITION_COST {
        return Err(format!(
            "the condition may take up to {steps} evaluation steps per monitor, over the limit of {MAX_CONDITION_COST}; nested macros (`exists`, `all`, `map`, `filter`) multiply their list sizes (a list that is not written out counts as {UNKNOWN_RANGE} items): nest fewer"
        ));
    }
    Ok(program)
}

/// The most evaluation steps one condition may take for one result, estimated before it
/// runs (the same idea as Kubernetes' CEL cost budget): one evaluation cannot be
/// interrupted, so a condition that could run for seconds is refused where it is written.
pub const MAX_CONDITION_COST: u64 = 1_000_000;
/// The size a macro's range counts as when it is not a list written in the condition (a
/// result variable, another macro's result): larger than any list a check reports.
pub const UNKNOWN_RANGE: u64 = 1_000;

/// Worst-case steps of an expression: one per node, and a comprehension (an expanded
/// macro) costs its range's size times its loop body.
fn cost(e: &cel::IdedExpr) -> u64 {
    use cel::common::ast::{EntryExpr, Expr};
    let sum = |it: &mut dyn Iterator<Item = &cel::IdedExpr>| it.fold(0u64, |a, x| a.saturating_add(cost(x)));
    let inner = match &e.expr {
        Expr::Unspecified | Expr::Ident(_) | Expr::Literal(_) => 0,
        Expr::Select(s) => cost(&s.operand),
        Expr::Call(c) => sum(&mut c.target.iter().map(|t| &**t).chain(c.args.iter())),
        Expr::List(l) => sum(&mut l.elements.iter()),
        Expr::Map(m) => m
            .entries
            .iter()
            .filter_map(|en| match &en.expr {
                EntryExpr::MapEntry(me) => Some(cost(&me.key).saturating_add(cost(&me.value))),
                _ => None,
            })
            .fold(0u64, u64::saturating_add),
        Expr::Struct(st) => st
            .entries
            .iter()
            .map(|en| match &en.expr {
                EntryExpr::StructField(f) => cost(&f.value),
                EntryExpr::MapEntry(me) => cost(&me.key).saturating_add(cost(&me.value)),
            })
            .fold(0u64, u64::saturating_add),
        Expr::Comprehension(c) => {
            let n = match &c.iter_range.expr {
                Expr::List(l) => l.elements.len() as u64,
                _ => UNKNOWN_RANGE,
            };
            let body = cost(&c.loop_cond).saturating_add(cost(&c.loop_step)).saturating_add(1);
            cost(&c.iter_range)
                .saturating_add(cost(&c.accu_init))
                .saturating_add(cost(&c.result))
                .saturating_add(n.saturating_mul(body))
        }
    };
    inner.saturating_add(1)
}

/// CEL's parser, with a panic inside it turned into an error (debug and test builds; the
/// release profile aborts on panic, which [`MAX_CONDITION_CHARS`] keeps out of reach).
fn parse_guarded(src: &str) -> Result<Program, String> {
    // The message is built here from the error's parts: CEL's own `Display` draws a caret
    // under the column and panics past column 65,535.
    let parsed = std::panic::catch_unwind(|| {
        Program::compile(src).map_err(|e| match e.errors.first() {
            Some(p) if p.pos.0 > 1 => format!("line {}, column {}: {}", p.pos.0, p.pos.1, p.msg),
            Some(p) => format!("column {}: {}", p.pos.1, p.msg),
            None => "syntax error".to_string(),
        })
    });
    match parsed {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(m)) => Err(shorten(&m, 300)),
        Err(_) => Err("the CEL parser failed on it; shorten or simplify the condition".into()),
    }
}

/// `s` cut to at most `max` characters, with `…` when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// CEL's type names: identifiers that resolve to types, not result variables
/// (`type(x) == int`). `type` is also a result variable, and every result has it.
const CEL_TYPE_NAMES: &[&str] = &["bool", "bytes", "double", "int", "list", "map", "null_type", "string", "uint"];

/// The result variables a program reads: its free identifiers. The variables a macro
/// binds (`x` in `list.exists(x, x > 0)`, and the accumulator of its expansion) are
/// bound inside the comprehension, not read from the result.
pub fn vars_of(p: &Program) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    free_idents(p.expression(), &mut Vec::new(), &mut out);
    out.into_iter().collect()
}

fn free_idents<'a>(e: &'a cel::IdedExpr, bound: &mut Vec<&'a str>, out: &mut std::collections::BTreeSet<String>) {
    use cel::common::ast::{EntryExpr, Expr};
    match &e.expr {
        Expr::Ident(name) => {
            if !name.starts_with('@') && !bound.contains(&name.as_str()) && !CEL_TYPE_NAMES.contains(&name.as_str()) {
                out.insert(name.clone());
            }
        }
        Expr::Select(s) => free_idents(&s.operand, bound, out),
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                free_idents(t, bound, out);
            }
            for a in &c.args {
                free_idents(a, bound, out);
            }
        }
        Expr::List(l) => {
            for x in &l.elements {
                free_idents(x, bound, out);
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    free_idents(&me.key, bound, out);
                    free_idents(&me.value, bound, out);
                }
            }
        }
        Expr::Struct(st) => {
            for entry in &st.entries {
                match &entry.expr {
                    EntryExpr::StructField(f) => free_idents(&f.value, bound, out),
                    EntryExpr::MapEntry(me) => {
                        free_idents(&me.key, bound, out);
                        free_idents(&me.value, bound, out);
                    }
                }
            }
        }
        Expr::Comprehension(c) => {
            // The range and the initial accumulator are read outside the loop's scope.
            free_idents(&c.iter_range, bound, out);
            free_idents(&c.accu_init, bound, out);
            let depth = bound.len();
            bound.push(&c.iter_var);
            if let Some(v2) = &c.iter_var2 {
                bound.push(v2);
            }
            bound.push(&c.accu_var);
            free_idents(&c.loop_cond, bound, out);
            free_idents(&c.loop_step, bound, out);
            free_idents(&c.result, bound, out);
            bound.truncate(depth);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Default rules overlaid with the config's: same name replaces (keeping unset fields),
/// `enabled: false` removes, a new name adds.
pub fn merged(cfg: &[RuleConfig]) -> Vec<RuleConfig> {
    let mut rules = defaults::default_rules();
    for r in cfg {
        match rules.iter_mut().find(|d| d.name == r.name) {
            Some(d) => {
                if let Some(c) = &r.condition {
                    d.condition = Some(c.clone());
                    if r.escalate.is_none() {
                        d.escalate = Some(vec![]);
                    }
                }
                if r.message.is_some() {
                    d.message = r.message.clone();
                }
                if r.severity.is_some() {
                    d.severity = r.severity;
                }
                if r.escalate.is_some() {
                    d.escalate = r.escalate.clone();
                }
                if r.monitors.is_some() {
                    d.monitors = r.monitors.clone();
                }
                if r.for_runs.is_some() {
                    d.for_runs = r.for_runs;
                }
                if r.resolve_after.is_some() {
                    d.resolve_after = r.resolve_after;
                }
                d.enabled = r.enabled;
            }
            None => rules.push(r.clone()),
        }
    }
    rules.retain(|r| r.enabled);
    rules
}

/// Compiles the merged rules. Errors carry the rule's index in the config (or None for a default).
pub fn build(cfg: &[RuleConfig]) -> Result<Vec<Rule>, Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for r in merged(cfg) {
        let path =
            cfg.iter().position(|c| c.name == r.name).map(|i| format!("rules[{i}]")).unwrap_or_else(|| "rules".into());
        let Some(cond) = &r.condition else {
            errs.push((
                path.clone(),
                format!("rule \"{}\" needs a `condition` (a CEL expression such as `!up`)", r.name),
            ));
            continue;
        };
        let program = match compile(cond) {
            Ok(p) => p,
            Err(e) => {
                errs.push((format!("{path}.condition"), e));
                continue;
            }
        };
        let mut escalate = Vec::new();
        for (i, e) in r.escalate.clone().unwrap_or_default().iter().enumerate() {
            match compile(&e.when) {
                Ok(p) => {
                    let v = vars_of(&p);
                    escalate.push((p, v, e.severity))
                }
                Err(m) => errs.push((format!("{path}.escalate[{i}].when"), m)),
            }
        }
        let monitors = match &r.monitors {
            None => None,
            Some(globs) => {
                let mut b = GlobSetBuilder::new();
                for (i, g) in globs.iter().enumerate() {
                    match Glob::new(g) {
                        Ok(g) => {
                            b.add(g);
                        }
                        Err(e) => errs.push((format!("{path}.monitors[{i}]"), format!("invalid glob {g:?}: {e}"))),
                    }
                }
                b.build().ok()
            }
        };
        let vars = vars_of(&program);
        let message = r.message.clone().unwrap_or_else(|| format!("{{name}}: {}", r.name));
        out.push(Rule {
            message_vars: placeholders(&message),
            name: r.name.clone(),
            condition: cond.clone(),
            program,
            vars,
            message,
            severity: r.severity.unwrap_or(Severity::Medium),
            escalate,
            monitors,
            for_runs: r.for_runs.unwrap_or(1).max(1),
            resolve_after: r.resolve_after.unwrap_or(1).max(1),
        });
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// The variables a result offers to conditions and messages.
pub fn variables(
    m: &Monitor,
    r: &CheckResult,
    extra: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, serde_json::Value> {
    use serde_json::json;
    let mut v = BTreeMap::new();
    for (k, val) in &r.metrics {
        v.insert(k.clone(), val.clone());
    }
    // CEL reads `records.docs` as field `docs` of `records`, so a dotted metric is also put
    // in a map under its first part (`records["my.coll"]` for names with dots).
    for (k, val) in &r.metrics {
        if let Some((head, tail)) = k.split_once('.') {
            if let Some(map) = v.entry(head.to_string()).or_insert_with(|| json!({})).as_object_mut() {
                map.insert(tail.to_string(), val.clone());
            }
        }
    }
    // The kind's own variables: thresholds the default rules compare against (a memory
    // monitor's, a log monitor's, a certificate's warning and critical days).
    v.extend(m.kind.rule_variables(r).into_iter().map(|(k, x)| (k.to_string(), x)));
    if let Some(ms) = r.metric_f64("response_time_ms") {
        v.insert("response_time".into(), json!(round3(ms / 1000.0)));
    }
    // Security events: `security_rules` lists the violated `security_*` rules, and each
    // violation's message is the variable of its rule's name (for that rule's message).
    if let Some(list) = r.metrics.get("security_violations").and_then(|x| x.as_array()) {
        let mut names = Vec::new();
        for item in list {
            if let (Some(rule), Some(msg)) = (item["rule"].as_str(), item["message"].as_str()) {
                names.push(json!(rule));
                v.insert(rule.to_string(), json!(msg));
            }
        }
        v.insert("security_rules".into(), json!(names));
    }
    for (k, val) in extra {
        v.insert(k.clone(), val.clone());
    }
    v.insert("name".into(), json!(r.name));
    v.insert("type".into(), json!(r.kind));
    v.insert("status".into(), json!(r.status.as_str()));
    v.insert("up".into(), json!(r.status.is_up()));
    v.insert("labels".into(), json!(r.labels));
    v.insert("error_kind".into(), json!(r.error.as_ref().map(|e| e.kind.as_str()).unwrap_or("")));
    v
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// CEL compares int and double only within one type, so every number is a double:
/// `percent > 90` then works whether the endpoint said 93 or 93.5.
fn to_cel(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(s.clone().into()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(to_cel).collect::<Vec<_>>().into()),
        serde_json::Value::Object(o) => {
            let m: std::collections::HashMap<String, Value> = o.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            Value::from(m)
        }
    }
}

/// What one condition says about one result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Eval {
    /// A variable it reads is not in the result.
    Missing,
    Bool(bool),
    /// It failed, or gave something other than a bool: CEL's error, bounded.
    Error(String),
}

/// The longest evaluation error kept in a finding or a note.
pub const MAX_ERROR_CHARS: usize = 300;

pub(crate) fn eval(program: &Program, vars: &[String], values: &BTreeMap<String, serde_json::Value>) -> Eval {
    if vars.iter().any(|v| !values.contains_key(v)) {
        return Eval::Missing;
    }
    match execute(program, vars, values) {
        Ok(Value::Bool(b)) => Eval::Bool(b),
        Ok(other) => Eval::Error(not_a_bool(&other)),
        Err(e) => Eval::Error(error_text(&e)),
    }
}

/// Runs the program with `vars` (all present in `values`) bound.
pub(crate) fn execute(
    program: &Program,
    vars: &[String],
    values: &BTreeMap<String, serde_json::Value>,
) -> cel::ResolveResult {
    // Building CEL's standard library is the costliest part of an evaluation; do it once
    // per thread (measured: ~155 ms of a 1,000-monitor run).
    thread_local! {
        static STDLIB: std::sync::Arc<cel::Env> = std::sync::Arc::new(cel::Env::stdlib());
    }
    let mut ctx = Context::with_env(STDLIB.with(|e| e.clone()));
    for name in vars {
        if let Some(v) = values.get(name) {
            ctx.add_variable_from_value(name.clone(), to_cel(v));
        }
    }
    program.execute(&ctx)
}

pub(crate) fn not_a_bool(v: &Value) -> String {
    format!("the condition gives a {} ({}), not true or false", v.type_of(), shorten(&format!("{v:?}"), 60))
}

/// CEL's error, short: the common runtime failures in plain words, the rest as CEL says it.
pub(crate) fn error_text(e: &cel::ExecutionError) -> String {
    use cel::ExecutionError as E;
    let m = match e {
        E::DivisionByZero(_) => "division by zero".to_string(),
        E::RemainderByZero(_) => "remainder by zero".to_string(),
        E::Overflow(op, _, _) => format!("integer overflow in {op}"),
        E::NoSuchKey(k) => format!("no such key: {k}"),
        E::UndeclaredReference(n) => format!("unknown function or variable {n:?}"),
        // Every result number is a double (see `to_cel`), and CEL does no mixed arithmetic.
        E::UnsupportedBinaryOperator(op, Value::Float(_), Value::Int(_))
        | E::UnsupportedBinaryOperator(op, Value::Int(_), Value::Float(_)) => format!(
            "cannot {op} a double and an int; variables are doubles, so write number literals with a decimal point (2.0, not 2)"
        ),
        other => other.to_string(),
    };
    shorten(&m, MAX_ERROR_CHARS)
}

/// What one rule says about one result.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A result variable the condition reads is missing from this result.
    NotApplicable,
    /// The condition is false.
    Clear,
    /// The condition holds, at this severity (after escalations).
    Holds(Severity),
    /// The result has the variables, but the condition (or an escalation) failed to
    /// evaluate or did not give a bool: CEL's error, at most [`MAX_ERROR_CHARS`].
    Error(String),
}

impl Verdict {
    /// The severity when the rule holds.
    pub fn holds(&self) -> Option<Severity> {
        match self {
            Verdict::Holds(s) => Some(*s),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Verdict::Error(_))
    }
}

impl Rule {
    pub fn applies_to(&self, monitor: &str) -> bool {
        self.monitors.as_ref().is_none_or(|g| g.is_match(monitor))
    }

    /// The rule's verdict on these variables. An escalation whose variables are missing
    /// does not raise the severity; one that fails makes the verdict an error, as the
    /// rule's own condition would.
    pub fn verdict(&self, values: &BTreeMap<String, serde_json::Value>) -> Verdict {
        match eval(&self.program, &self.vars, values) {
            Eval::Missing => Verdict::NotApplicable,
            Eval::Error(e) => Verdict::Error(e),
            Eval::Bool(false) => Verdict::Clear,
            Eval::Bool(true) => {
                let mut sev = self.severity;
                for (i, (p, vars, s)) in self.escalate.iter().enumerate() {
                    match eval(p, vars, values) {
                        Eval::Bool(true) if *s > sev => sev = *s,
                        Eval::Error(e) => {
                            return Verdict::Error(shorten(&format!("escalate[{i}]: {e}"), MAX_ERROR_CHARS))
                        }
                        _ => {}
                    }
                }
                Verdict::Holds(sev)
            }
        }
    }

    /// Some(severity) when the rule holds for these variables.
    pub fn check(&self, values: &BTreeMap<String, serde_json::Value>) -> Option<Severity> {
        self.verdict(values).holds()
    }

    /// Whether this result keeps a gate at `level` closed: the rule holds at or above it,
    /// or it cannot be evaluated and its own severity is at or above it.
    pub fn trips(&self, values: &BTreeMap<String, serde_json::Value>, level: Severity) -> bool {
        match self.verdict(values) {
            Verdict::Holds(s) => s >= level,
            Verdict::Error(_) => self.severity >= level,
            Verdict::NotApplicable | Verdict::Clear => false,
        }
    }

    /// The condition alone: Some(true/false), or None when it does not apply or fails.
    pub fn evaluates(&self, values: &BTreeMap<String, serde_json::Value>) -> Option<bool> {
        match eval(&self.program, &self.vars, values) {
            Eval::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The result variables the condition reads.
    pub fn variables(&self) -> &[String] {
        &self.vars
    }

    pub fn render(&self, values: &BTreeMap<String, serde_json::Value>) -> String {
        render_message(&self.message, values)
    }

    /// The values of the variables this rule's condition and message name, as text: the
    /// numbers it fired on (`percent: 93`, `max_memory_percent: 90`). Left out: what every
    /// alert shows anyway (the monitor's name, type, status), maps, and values longer than
    /// [`MAX_VALUE_CHARS`] — a value is shown whole or not at all.
    pub fn values(&self, values: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, String> {
        const SHOWN_ANYWAY: &[&str] = &["name", "type", "status", "up", "labels"];
        self.vars
            .iter()
            .chain(&self.message_vars)
            .filter(|k| !SHOWN_ANYWAY.contains(&k.as_str()))
            .filter_map(|k| {
                let v = values.get(k).or_else(|| dotted(values, k))?;
                if v.is_object() {
                    return None;
                }
                let text = format_value(v);
                (text.chars().count() <= MAX_VALUE_CHARS).then(|| (k.clone(), text))
            })
            .take(MAX_VALUES)
            .collect()
    }
}

/// Longest variable value a finding carries, in characters.
pub const MAX_VALUE_CHARS: usize = 120;
/// Most variable values a finding carries.
pub const MAX_VALUES: usize = 8;

/// `records.docs` read through its map (`records` → `docs`).
fn dotted<'a>(values: &'a BTreeMap<String, serde_json::Value>, key: &str) -> Option<&'a serde_json::Value> {
    let (head, tail) = key.split_once('.')?;
    values.get(head)?.get(tail)
}

/// The `{name}` placeholders of a message template, in order, each once.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) if j > 0 && after[..j].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') => {
                let key = after[..j].to_string();
                if !out.contains(&key) {
                    out.push(key);
                }
                rest = &after[j + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// `{name}`-style placeholders; unknown ones stay as written.
pub fn render_message(template: &str, values: &BTreeMap<String, serde_json::Value>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) if after[..j].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') && j > 0 => {
                let key = &after[..j];
                match values.get(key) {
                    Some(v) => out.push_str(&format_value(v)),
                    None => out.push_str(&rest[i..i + j + 2]),
                }
                rest = &after[j + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn format_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let s = format!("{:.2}", f);
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            }
            _ => n.to_string(),
        },
        // A list of names (`collections_missing`) reads as `a, b`.
        serde_json::Value::Array(a) if a.iter().all(|x| x.is_string()) => {
            a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vals(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn seed_rules_fire_with_seed_messages() {
        let rules = build(&[]).unwrap();
        let high = rules.iter().find(|r| r.name == "high_memory").unwrap();
        let v = vals(&[("percent", json!(93)), ("name", json!("memory_status"))]);
        assert_eq!(high.check(&v), Some(Severity::Medium));
        assert_eq!(high.render(&v), "Memory usage is 93%");
        let slow = rules.iter().find(|r| r.name == "slow_response").unwrap();
        let v = vals(&[("response_time", json!(2.345))]);
        assert_eq!(slow.check(&v), Some(Severity::Low));
        assert_eq!(slow.render(&v), "Response time is 2.35s");
    }

    #[test]
    fn missing_variable_means_rule_does_not_apply() {
        let rules = build(&[]).unwrap();
        let high = rules.iter().find(|r| r.name == "high_memory").unwrap();
        assert_eq!(high.evaluates(&vals(&[("up", json!(true))])), None);
    }

    #[test]
    fn escalation_raises_severity() {
        let rules = build(&[]).unwrap();
        let cert = rules.iter().find(|r| r.name == "cert_expiring").unwrap();
        let v = vals(&[("days_left", json!(3)), ("warning_days", json!(30)), ("critical_days", json!(7))]);
        assert_eq!(cert.check(&v), Some(Severity::High));
        let v = vals(&[("days_left", json!(10)), ("warning_days", json!(30)), ("critical_days", json!(7))]);
        assert_eq!(cert.check(&v), Some(Severity::Medium));
    }

    #[test]
    fn config_overrides_and_disables_defaults() {
        let cfg: Vec<RuleConfig> = yaml_serde::from_str(
            "- name: slow_response\n  condition: response_time > 0.5\n- name: high_memory\n  enabled: false\n- name: custom\n  condition: status == 'degraded'\n  severity: high\n",
        )
        .unwrap();
        let rules = build(&cfg).unwrap();
        assert!(rules.iter().all(|r| r.name != "high_memory"));
        let slow = rules.iter().find(|r| r.name == "slow_response").unwrap();
        assert_eq!(slow.condition, "response_time > 0.5");
        assert_eq!(slow.message, "Response time is {response_time}s");
        assert!(rules.iter().any(|r| r.name == "custom" && r.severity == Severity::High));
    }
}

#[cfg(test)]
mod cel_numbers {
    use super::*;
    use serde_json::json;

    #[test]
    fn int_literals_compare_with_metric_numbers() {
        let cfg: Vec<RuleConfig> = yaml_serde::from_str(
            "- name: a\n  condition: status_code == 503\n- name: b\n  condition: error_rate >= 0.5 && samples > 1\n- name: c\n  condition: labels.team == 'core'\n",
        )
        .unwrap();
        let rules = build(&cfg).unwrap();
        let v: BTreeMap<String, serde_json::Value> = [
            ("status_code".to_string(), json!(503)),
            ("error_rate".to_string(), json!(0.5)),
            ("samples".to_string(), json!(4)),
            ("labels".to_string(), json!({"team": "core"})),
        ]
        .into();
        for name in ["a", "b", "c"] {
            let r = rules.iter().find(|r| r.name == name).unwrap();
            assert_eq!(r.evaluates(&v), Some(true), "rule {name}");
        }
    }
}

#[cfg(test)]
mod macros_and_verdicts {
    use super::*;
    use serde_json::json;

    fn rule(condition: &str) -> Rule {
        let cfg: Vec<RuleConfig> =
            yaml_serde::from_str(&format!("- name: r\n  condition: {condition:?}\n  severity: high\n")).unwrap();
        build(&cfg).unwrap().into_iter().find(|r| r.name == "r").unwrap()
    }

    fn vals(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn base() -> BTreeMap<String, serde_json::Value> {
        vals(&[
            ("up", json!(true)),
            ("name", json!("api")),
            ("labels", json!({"team": "core"})),
            ("stale_files", json!(["/var/log/app.log", "/var/log/other.txt"])),
            ("sans", json!(["api", "www"])),
            ("error_groups", json!([{"count": 3}, {"count": 12}])),
            ("incident_titles", json!(["API outage", "Dashboard slow"])),
            ("percent", json!(93)),
        ])
    }

    #[test]
    fn macro_bound_variables_are_not_result_variables() {
        let r = rule("[1, 2].exists(x, x > 0) || up");
        assert_eq!(r.variables(), ["up"]);
        // Shadowing: `x` outside the macro is a result variable, inside it is bound.
        let r = rule("x > 0 && [1].exists(x, x > 0)");
        assert_eq!(r.variables(), ["x"]);
        // Nested comprehensions and the two-variable form.
        let r = rule("[[1]].all(l, l.exists(y, y > 0 && up))");
        assert_eq!(r.variables(), ["up"]);
        // Type names are not variables.
        let r = rule("type(percent) == double");
        assert_eq!(r.variables(), ["percent"]);
    }

    #[test]
    fn exists_alone_and_with_result_variables() {
        assert_eq!(rule("[1, 2].exists(x, x > 1)").verdict(&base()), Verdict::Holds(Severity::High));
        assert_eq!(rule("[1, 2].exists(x, x > 5) || up").verdict(&base()), Verdict::Holds(Severity::High));
        assert_eq!(rule("stale_files.exists(f, f.endsWith('.log'))").verdict(&base()), Verdict::Holds(Severity::High));
        assert_eq!(rule("stale_files.exists(f, f.endsWith('.gz'))").verdict(&base()), Verdict::Clear);
    }

    #[test]
    fn all_alone_and_with_result_variables() {
        assert_eq!(rule("[1, 2].all(x, x > 0)").verdict(&base()), Verdict::Holds(Severity::High));
        assert_eq!(rule("error_groups.all(g, g.count < 10)").verdict(&base()), Verdict::Clear);
        assert_eq!(rule("error_groups.all(g, g.count < 20) && up").verdict(&base()), Verdict::Holds(Severity::High));
    }

    #[test]
    fn exists_one_alone_and_with_result_variables() {
        assert_eq!(rule("[1, 2, 2].exists_one(x, x == 2)").verdict(&base()), Verdict::Clear);
        assert_eq!(rule("sans.exists_one(s, s == name)").verdict(&base()), Verdict::Holds(Severity::High));
    }

    #[test]
    fn map_alone_and_with_result_variables() {
        assert_eq!(rule("[1, 2].map(x, x * 2) == [2, 4]").verdict(&base()), Verdict::Holds(Severity::High));
        assert_eq!(rule("error_groups.map(g, g.count).exists(c, c > percent)").verdict(&base()), Verdict::Clear);
        assert_eq!(
            rule("error_groups.map(g, g.count).exists(c, c > 10)").verdict(&base()),
            Verdict::Holds(Severity::High)
        );
    }

    #[test]
    fn filter_alone_and_with_result_variables() {
        assert_eq!(rule("size([1, 2, 3].filter(x, x > 1)) == 2").verdict(&base()), Verdict::Holds(Severity::High));
        assert_eq!(
            rule("size(incident_titles.filter(t, t.contains('API'))) > 0 && up").verdict(&base()),
            Verdict::Holds(Severity::High)
        );
    }

    #[test]
    fn has_alone_and_with_result_variables() {
        assert_eq!(rule("has(labels.team) && labels.team == 'core'").verdict(&base()), Verdict::Holds(Severity::High));
        assert_eq!(rule("has(labels.owner)").verdict(&base()), Verdict::Clear);
        assert_eq!(rule("has({'a': 1}.a)").verdict(&base()), Verdict::Holds(Severity::High));
    }

    #[test]
    fn missing_result_variable_is_not_applicable() {
        assert_eq!(rule("[1].exists(x, x > 0) && days_left < 3").verdict(&base()), Verdict::NotApplicable);
    }

    fn error_of(condition: &str) -> String {
        match rule(condition).verdict(&base()) {
            Verdict::Error(e) => e,
            other => panic!("{condition}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn evaluation_failures_are_errors_not_silence() {
        assert_eq!(error_of("up && 1/0 == 1"), "division by zero");
        assert!(error_of("percent + 1.0").contains("not true or false"), "{}", error_of("percent + 1.0"));
        assert!(error_of("percent + 1 > 2.0").contains("write number literals with a decimal point"));
        assert!(error_of("foo(up)").contains("\"foo\""), "{}", error_of("foo(up)"));
        assert!(error_of("labels.owner == 'x'").contains("owner"), "{}", error_of("labels.owner == 'x'"));
        assert!(error_of("name > 3").contains("no matching overload"), "{}", error_of("name > 3"));
    }

    #[test]
    fn failing_escalation_is_an_error_too() {
        let cfg: Vec<RuleConfig> = yaml_serde::from_str(
            "- name: r\n  condition: up\n  escalate:\n    - when: 1/0 == 1\n      severity: high\n    - when: days_left < 3\n      severity: high\n",
        )
        .unwrap();
        let r = build(&cfg).unwrap().into_iter().find(|r| r.name == "r").unwrap();
        match r.verdict(&base()) {
            Verdict::Error(e) => assert_eq!(e, "escalate[0]: division by zero"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_messages_are_bounded() {
        let mut v = base();
        v.insert("key".into(), json!("k".repeat(5000)));
        let e = match rule("labels[key] == 'x'").verdict(&v) {
            Verdict::Error(e) => e,
            other => panic!("{other:?}"),
        };
        assert!(e.chars().count() <= MAX_ERROR_CHARS + 1, "{} chars", e.chars().count());
    }

    #[test]
    fn gate_trips_on_an_erroring_rule_at_its_severity() {
        let r = rule("up && 1/0 == 1");
        assert!(r.trips(&base(), Severity::High));
        assert!(!rule("up && 1/0 == 1 && false || false").trips(&vals(&[]), Severity::Low));
        assert!(!rule("!up").trips(&base(), Severity::Low));
    }

    #[test]
    fn conditions_over_the_limit_are_refused_before_parsing() {
        let long = format!("up || {}", vec!["up"; 1100].join(" || "));
        assert!(long.chars().count() > MAX_CONDITION_CHARS);
        let e = compile(&long).err().unwrap_or_default();
        assert!(e.contains("keep conditions under 4096 characters"), "{e}");
    }

    // Regression: seven nested macros over ten-item lists (10^7 steps, short enough to pass
    // the length limit) ran 14 s past a 3 s deadline; one evaluation cannot be interrupted.
    #[test]
    fn condition_of_ten_million_steps_is_refused_before_it_runs() {
        let list = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
        let mut cond = "true".to_string();
        for v in ["a", "b", "c", "d", "e", "f", "g"] {
            cond = format!("{list}.all({v}, {cond})");
        }
        assert!(cond.chars().count() < MAX_CONDITION_CHARS);
        let Err(e) = compile(&cond) else { panic!("a 10^7-step condition compiled") };
        assert!(e.contains("evaluation steps") && e.contains("nest fewer"), "{e}");
        // Three levels (about a thousand steps) are fine, and so is a macro over a result list.
        let mut ok = "true".to_string();
        for v in ["a", "b", "c"] {
            ok = format!("{list}.all({v}, {ok})");
        }
        assert!(compile(&ok).is_ok());
        assert!(compile("stale_files.exists(f, f.endsWith('.log')) && error_groups.all(g, g.count < 10)").is_ok());
        // Every default rule is far inside the budget.
        for r in defaults::default_rules() {
            assert!(compile(r.condition.as_deref().unwrap_or("true")).is_ok(), "{}", r.name);
        }
        assert!(compile(&"up || ".repeat(600)[..3000]).is_err(), "a dangling || is a syntax error");
        let ok = vec!["up"; 600].join(" || ");
        assert!(compile(&ok).is_ok());
    }

    #[test]
    fn an_escaped_condition_is_quoted_within_the_bound() {
        let e = compile(&format!("{}(", "\u{1b}".repeat(199))).err().unwrap_or_default();
        assert!(e.starts_with("invalid CEL condition \"\\u{1b}"), "{e}");
        assert!(e.chars().count() <= 540, "{} chars", e.chars().count());
    }

    #[test]
    fn syntax_error_past_column_65535_is_an_error_not_a_panic() {
        // Regression: the cel parser panicked (exit 134) on a syntax error past column 65,535.
        let src = format!("{} &&", "a".repeat(70_000));
        let e = parse_guarded(&src).err().unwrap_or_default();
        assert!(!e.is_empty());
        assert!(e.chars().count() <= 301, "{e}");
        assert!(e.starts_with("column 70004: Syntax error"), "{e}");
        let e = compile("up && ").err().unwrap_or_default();
        assert!(e.starts_with("invalid CEL condition \"up && \": column 7: Syntax error"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        // Regression: a condition of control characters came back as a 544-character error,
        // quoted with its escapes after the cut.
        fn compiling_any_text_never_panics_and_errors_are_bounded(src in "(\\PC|[\\x00-\\x1f\\x7f]){0,300}") {
            if let Err(e) = compile(&src) {
                proptest::prop_assert!(e.chars().count() <= 200 + 300 + 40, "{} chars", e.chars().count());
            }
        }

        #[test]
        fn conditions_from_cel_pieces_never_panic(parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "up", "percent", "labels", ".team", "(", ")", "[", "]", "1", "0", "/", "+", "&&", "||", "!",
                ">", "==", "'x'", ".exists(x, x > 0)", ".all(y,", "has(", ",", "size(", ".map(z, z)", "?", ":",
            ]),
            0..24,
        )) {
            let src = parts.join(" ");
            if let Ok(p) = compile(&src) {
                let vars = vars_of(&p);
                let _ = eval(&p, &vars, &base());
            }
        }
    }
}
