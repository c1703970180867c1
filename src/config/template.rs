//! The `alerts.webhook.template`: a MiniJinja template of the webhook's JSON body. It
//! lives with the config because `validate` must prove a template renders (with the
//! sample bodies below) before anything runs, and the webhook channel renders it the same
//! way. Values are inserted as JSON (`{{ e.message }}` is a quoted, escaped string), so
//! remote text cannot break out of the document; the output must parse as JSON.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{json, Value};

/// The largest body a template may produce.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Bounds a template's work (loops over `range(…)`, deep recursion): MiniJinja's fuel,
/// spent one unit per instruction.
const FUEL: u64 = 200_000;

/// Renders `template` over `body` (the default webhook body, as JSON). The error says
/// what failed and on which line of the template, never the values.
pub fn render(template: &str, body: &Value) -> Result<String, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Json);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    let out =
        env.render_str(template, minijinja::Value::from(minijinja::value::Serde(body))).map_err(|e| describe(&e))?;
    if out.len() > MAX_BODY_BYTES {
        return Err(format!(
            "renders {} bytes, over the {} KiB a webhook body may have; send fewer fields",
            out.len(),
            MAX_BODY_BYTES / 1024
        ));
    }
    if let Err(e) = serde_json::from_str::<Value>(&out) {
        return Err(format!(
            "does not render JSON ({e}); values are inserted as JSON already, so write {{{{ e.message }}}} without quotes around it"
        ));
    }
    Ok(out)
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        s.push_str(": ");
        s.push_str(d);
    }
    if let Some(line) = e.line() {
        s.push_str(&format!(" (template line {line})"));
    }
    format!("does not render: {s}; the body's fields are version, kind, title, summary, run_url, sent_at, events (each: kind, fingerprint, monitor, rule, severity, message, first_seen, resolved_at, duration_s, links.issue, links.run, details) and more")
}

/// Bodies shaped exactly like the webhook's default body (`alerts::webhook::body` keeps
/// to this shape; a test there compares them): one opened, one resolved and one test
/// notice, so a template is tried on each before a run relies on it.
pub fn samples() -> Vec<Value> {
    let event = |kind: &str, resolved: bool| {
        json!({
            "kind": kind,
            "fingerprint": "api_health/endpoint_down",
            "monitor": "api_health",
            "rule": "endpoint_down",
            "severity": "high",
            "message": "Endpoint api_health is down",
            "first_seen": "2025-01-02T03:00:00Z",
            "resolved_at": if resolved { json!("2025-01-02T03:42:00Z") } else { Value::Null },
            "duration_s": if resolved { json!(2520) } else { Value::Null },
            "links": {
                "issue": "https://github.com/acme/shop/issues/7",
                "run": "https://github.com/acme/shop/actions/runs/42"
            },
            "details": {"status": "down", "error": "[http_status] HTTP 503"}
        })
    };
    let body = |kind: &str, summary: &str, e: Value| {
        json!({
            "version": 1,
            "kind": kind,
            "title": "vaktpost",
            "summary": summary,
            "run_url": "https://github.com/acme/shop/actions/runs/42",
            "sent_at": "2025-01-02T03:42:00Z",
            "events": [e],
            "more": 0
        })
    };
    vec![
        body("opened", "api_health: Endpoint api_health is down", event("opened", false)),
        body("resolved", "Resolved: api_health: Endpoint api_health is down", event("resolved", true)),
        body("test", "vaktpost test alert", event("test", false)),
    ]
}

/// Renders `template` on every sample body: the first error, if any.
pub fn check(template: &str) -> Result<(), String> {
    samples().iter().try_for_each(|b| render(template, b).map(drop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_in_as_json_so_quotes_cannot_break_out() {
        let mut b = samples().remove(0);
        b["events"][0]["message"] = json!("x\", \"admin\": true, \"y\": \"");
        let out = render(r#"{"text": {{ events[0].message }}, "n": {{ events | length }}}"#, &b).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["text"], "x\", \"admin\": true, \"y\": \"");
        assert!(v.get("admin").is_none());
        assert_eq!(v["n"], 1);
    }

    #[test]
    fn a_misspelt_field_a_syntax_error_and_non_json_are_errors() {
        let e = check(r#"{"m": {{ events[0].mesage }}}"#).unwrap_err();
        assert!(e.contains("does not render") && e.contains("line 1"), "{e}");
        assert!(check("{\"m\": {{ events[0].message }").unwrap_err().contains("syntax"));
        assert!(check(r#"{"m": "{{ events[0].message }}"}"#).unwrap_err().contains("not render JSON"));
        assert!(check(r#"{"m": {{ summary }}}"#).is_ok());
    }

    #[test]
    fn a_runaway_loop_runs_out_of_fuel() {
        let e = check(r#"[{% for i in range(100000) %}{% for j in range(100000) %}1,{% endfor %}{% endfor %}0]"#)
            .unwrap_err();
        assert!(e.contains("does not render") || e.contains("bytes"), "{e}");
    }
}
