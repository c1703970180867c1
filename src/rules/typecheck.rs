//! `validate`'s check of the rules a config writes: every variable a condition reads
//! exists for a monitor the rule applies to, the condition type-checks (evaluated once on
//! typed placeholders), and `monitors:` globs match something. Without it a misspelt
//! variable would silently disable its rule and the gate would stay green.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value as Json};

use super::vars::{self, Ty};
use crate::config::diag::did_you_mean;
use crate::config::Config;

/// Checks every enabled rule of the config (not the built-in defaults, which apply only
/// where their variables exist). Compile errors are `rules::build`'s to report.
pub fn check(c: &Config, err: &mut dyn FnMut(&str, String)) {
    // One catalogue per kind of monitor (type and `extract:` names), however many
    // monitors and rules there are: a fleet of 1,000 alike monitors checks like one.
    let mut distinct: Vec<Catalogue> = Vec::new();
    let mut seen: BTreeMap<(&str, Vec<&String>), usize> = BTreeMap::new();
    let mut catalogue_of: Vec<usize> = Vec::with_capacity(c.monitors.len());
    for m in &c.monitors {
        let extract = match &m.kind {
            crate::config::MonitorKind::Http(h) => h.extract.keys().collect(),
            _ => Vec::new(),
        };
        let i = *seen.entry((m.kind.type_name(), extract)).or_insert_with(|| {
            distinct.push((m.kind.type_name(), vars::for_monitor(m)));
            distinct.len() - 1
        });
        catalogue_of.push(i);
    }
    for (i, r) in c.rules.iter().enumerate() {
        if !r.enabled {
            continue;
        }
        let path = format!("rules[{i}]");
        let applies: Vec<&Catalogue> = match &r.monitors {
            None => distinct.iter().collect(),
            Some(globs) => {
                let Ok(set) = super::globs(globs) else { continue };
                let hit: BTreeSet<usize> = c
                    .monitors
                    .iter()
                    .zip(&catalogue_of)
                    .filter(|(m, _)| set.is_match(&m.common.name))
                    .map(|(_, i)| *i)
                    .collect();
                let hit: Vec<&Catalogue> = hit.into_iter().map(|i| &distinct[i]).collect();
                if hit.is_empty() {
                    let mut names: Vec<String> = c.monitors.iter().take(20).map(|m| m.common.name.clone()).collect();
                    if c.monitors.len() > 20 {
                        names.push(format!("… (+{} more)", c.monitors.len() - 20));
                    }
                    err(
                        &format!("{path}.monitors"),
                        format!(
                            "no monitor matches {}; the monitors are: {}",
                            globs.iter().map(|g| format!("{g:?}")).collect::<Vec<_>>().join(", "),
                            if names.is_empty() { "(none)".to_string() } else { names.join(", ") }
                        ),
                    );
                    continue;
                }
                hit
            }
        };
        if applies.is_empty() {
            continue;
        }
        if let Some(cond) = &r.condition {
            if let Some(m) = check_expr(cond, &applies) {
                err(&format!("{path}.condition"), m);
            }
        }
        for (j, e) in r.escalate.iter().flatten().enumerate() {
            if let Some(m) = check_expr(&e.when, &applies) {
                err(&format!("{path}.escalate[{j}].when"), m);
            }
        }
    }
}

/// A monitor's type and the variables its results can have.
type Catalogue = (&'static str, BTreeMap<String, Ty>);

/// What is wrong with one condition for the monitors of these catalogues, if anything.
fn check_expr(src: &str, cats: &[&Catalogue]) -> Option<String> {
    let program = super::compile(src).ok()?;
    let used = super::vars_of(&program);
    let types: BTreeSet<&str> = cats.iter().map(|(t, _)| *t).collect();
    let types = types.into_iter().collect::<Vec<_>>().join(", ");
    let known: BTreeSet<&str> = cats.iter().flat_map(|(_, c)| c.keys().map(String::as_str)).collect();

    let unknown: Vec<&String> = used.iter().filter(|v| !known.contains(v.as_str())).collect();
    if let Some(v) = unknown.first() {
        let hint =
            did_you_mean(v, known.iter().copied()).map(|c| format!(" (did you mean \"{c}\"?)")).unwrap_or_default();
        let more = if unknown.len() > 1 {
            format!(" (also unknown: {})", unknown[1..].iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", "))
        } else {
            String::new()
        };
        return Some(format!(
            "unknown variable {v:?}{hint}{more}; the monitors this rule applies to ({types}) provide: {}",
            known.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }

    // One evaluation per monitor type whose results can have all the variables at once.
    let mut tried = BTreeSet::new();
    for (kind, cat) in cats.iter().copied() {
        if !used.iter().all(|v| cat.contains_key(v)) || !tried.insert(*kind) {
            continue;
        }
        if let Err(m) = typecheck(&program, &used, kind, cat) {
            return Some(format!("{m} (checked for {kind} monitors with placeholder values)"));
        }
    }
    if tried.is_empty() {
        return Some(format!(
            "no monitor this rule applies to ({types}) has all of {} together, so the rule never applies; \
             split it into rules for one monitor type each, or set `monitors:`",
            used.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    None
}

/// Evaluates on placeholders, once with every bool true and once with every bool false
/// (so both sides of `&&`/`||` and `?:` are reached). A `Dyn` variable is tried as a
/// number, a string and a bool; the condition passes if one of them works. Errors that
/// depend on values (division by zero, a missing map key) are not type errors.
fn typecheck(program: &cel::Program, used: &[String], kind: &str, cat: &BTreeMap<String, Ty>) -> Result<(), String> {
    let dyn_used = used.iter().any(|v| cat.get(v) == Some(&Ty::Dyn));
    let dyn_as: &[Ty] = if dyn_used { &[Ty::Number, Ty::Str, Ty::Bool] } else { &[Ty::Number] };
    let mut first_err = None;
    'assignments: for d in dyn_as {
        for truth in [true, false] {
            let values: BTreeMap<String, Json> = used
                .iter()
                .filter_map(|v| {
                    let t = *cat.get(v)?;
                    let t = if t == Ty::Dyn { *d } else { t };
                    Some((v.clone(), placeholder(v, t, truth, kind)))
                })
                .collect();
            let res = match super::execute(program, used, &values) {
                Ok(cel::Value::Bool(_)) => Ok(()),
                Ok(other) => Err(super::not_a_bool(&other)),
                Err(e) if is_type_error(&e) => Err(super::error_text(&e)),
                Err(_) => Ok(()),
            };
            if let Err(m) = res {
                first_err.get_or_insert(m);
                continue 'assignments;
            }
        }
        return Ok(());
    }
    Err(first_err.unwrap_or_default())
}

/// A value of type `t`: lists hold one element (of a known type), maps are empty (so a
/// key lookup is a runtime miss, not a type error).
fn placeholder(name: &str, t: Ty, truth: bool, kind: &str) -> Json {
    match t {
        Ty::Bool => json!(truth),
        Ty::Number => json!(1.0),
        Ty::Str => match name {
            "status" => json!(if truth { "up" } else { "down" }),
            "type" => json!(kind),
            _ => json!("placeholder"),
        },
        Ty::List(Ty::Dyn) => json!([]),
        Ty::List(e) => json!([placeholder("", *e, truth, kind)]),
        Ty::Map(_) => json!({}),
        Ty::Dyn => json!(null),
    }
}

/// Errors that no value of the right types avoids: wrong operand types, an unknown
/// function, a method on the wrong type.
fn is_type_error(e: &cel::ExecutionError) -> bool {
    use cel::ExecutionError as E;
    matches!(
        e,
        E::NoSuchOverload(_)
            | E::UnexpectedType { .. }
            | E::UndeclaredReference(_)
            | E::NotSupportedAsMethod { .. }
            | E::UnsupportedBinaryOperator(..)
            | E::ValuesNotComparable(..)
            | E::InvalidArgumentCount { .. }
            | E::UnsupportedTargetType { .. }
            | E::MissingArgumentOrTarget
            | E::UnsupportedIndex(..)
            | E::UnsupportedKeyType(_)
    )
}
