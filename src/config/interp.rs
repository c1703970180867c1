//! `${VAR}` and `${VAR:-default}` in config strings, from the environment the run was
//! given (never the process environment directly). `$${` writes a literal `${`.

use std::collections::BTreeMap;

#[derive(Debug, PartialEq, Eq)]
pub enum InterpError {
    Unset(String),
    Malformed(String),
}

/// Replaces every `${...}` in `s`. Returns the new string and the variables it used.
pub fn interpolate(s: &str, env: &BTreeMap<String, String>) -> Result<(String, Vec<String>), InterpError> {
    let mut out = String::with_capacity(s.len());
    let mut used = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(r) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = r;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body.find('}').ok_or_else(|| InterpError::Malformed(format!("unclosed \"${{\" in {s:?}")))?;
            let expr = &body[..end];
            let (name, default) = match expr.find(":-") {
                Some(p) => (&expr[..p], Some(&expr[p + 2..])),
                None => (expr, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(InterpError::Malformed(format!(
                    "\"${{{expr}}}\" is not a variable reference; write ${{NAME}} or ${{NAME:-default}} (use $${{ for a literal ${{)"
                )));
            }
            used.push(name.to_string());
            match (env.get(name), default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(InterpError::Unset(name.to_string())),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok((out, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> BTreeMap<String, String> {
        [("HOST".to_string(), "api.example.com".to_string()), ("EMPTY".to_string(), String::new())].into()
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        let (s, used) = interpolate("https://${HOST}/x?${PORT:-443}", &env()).unwrap();
        assert_eq!(s, "https://api.example.com/x?443");
        assert_eq!(used, vec!["HOST", "PORT"]);
        assert_eq!(interpolate("${EMPTY:-d}", &env()).unwrap().0, "d");
        assert_eq!(interpolate("cost $5 $${HOST}", &env()).unwrap().0, "cost $5 ${HOST}");
    }

    #[test]
    fn unset_variable_is_named() {
        assert_eq!(interpolate("${NOPE}", &env()), Err(InterpError::Unset("NOPE".into())));
        assert!(matches!(interpolate("${a b}", &env()), Err(InterpError::Malformed(_))));
        assert!(matches!(interpolate("${HOST", &env()), Err(InterpError::Malformed(_))));
    }
}
