//! What the webhook-style services accept, written from their documentation and
//! independent of the code under test: the generic webhook's documented body and its
//! HMAC signature, Discord's Execute Webhook limits, a Teams Workflows Adaptive Card, and
//! PagerDuty's Events API v2 event. Each validator refuses a payload the way the service
//! does (the status and body it documents), so a payload vaktpost gets wrong fails the
//! test that sent it.

use std::sync::Arc;

use chrono::DateTime;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{Recorded, Reply, Validate};

fn json(r: &Recorded) -> Result<Value, String> {
    serde_json::from_slice(&r.body).map_err(|e| format!("not JSON: {e}"))
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn http_url(v: &Value, what: &str) -> Result<(), String> {
    let s = v.as_str().ok_or(format!("{what} is not a string"))?;
    let u = url::Url::parse(s).map_err(|e| format!("{what} {s:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("{what} is not http(s): {s}"));
    }
    Ok(())
}

fn rfc3339(v: &Value, what: &str) -> Result<(), String> {
    let s = v.as_str().ok_or(format!("{what} is not a string"))?;
    DateTime::parse_from_rfc3339(s).map(drop).map_err(|e| format!("{what} {s:?} is not RFC 3339: {e}"))
}

// ---------------------------------------------------------------- generic webhook

/// `sha256=<hex HMAC-SHA256>` of `body` keyed with `secret`, as a receiver computes it.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A receiver that checks the signature (when it has a secret, as GitHub-style receivers
/// do, comparing the header with its own HMAC of the raw body) and, unless `templated`,
/// the documented default body.
pub fn webhook(secret: Option<&str>, templated: bool) -> Validate {
    let secret = secret.map(str::to_string);
    Arc::new(move |r: &Recorded| {
        if let Some(s) = &secret {
            let got = r.header("x-vaktpost-signature").ok_or("no X-Vaktpost-Signature header")?;
            if got != hmac_hex(s, &r.body) {
                return Err(format!("signature {got} does not match the body"));
            }
        }
        let v = json(r)?;
        if templated {
            return Ok(());
        }
        webhook_body(&v, r.header("x-vaktpost-event"))
    })
}

/// The default body as the README documents it.
pub fn webhook_body(v: &Value, event_header: Option<&str>) -> Result<(), String> {
    if v["version"] != 1 {
        return Err(format!("version {}", v["version"]));
    }
    let kind = v["kind"].as_str().ok_or("no kind")?;
    if !["opened", "resolved", "updated", "test"].contains(&kind) {
        return Err(format!("kind {kind:?}"));
    }
    if event_header != Some(kind) {
        return Err(format!("X-Vaktpost-Event {event_header:?} is not the body's kind {kind:?}"));
    }
    for k in ["title", "summary"] {
        if chars(&v[k]) == 0 {
            return Err(format!("{k} is missing or empty"));
        }
    }
    if !v["run_url"].is_null() {
        http_url(&v["run_url"], "run_url")?;
    }
    rfc3339(&v["sent_at"], "sent_at")?;
    v["more"].as_u64().ok_or("more is not a count")?;
    let events = v["events"].as_array().ok_or("events is not an array")?;
    if events.is_empty() || events.len() > 50 {
        return Err(format!("{} events", events.len()));
    }
    for e in events {
        let (monitor, rule) = (e["monitor"].as_str().ok_or("no monitor")?, e["rule"].as_str().ok_or("no rule")?);
        if e["fingerprint"] != format!("{monitor}/{rule}").as_str() {
            return Err(format!("fingerprint {} is not monitor/rule", e["fingerprint"]));
        }
        let k = e["kind"].as_str().unwrap_or("");
        if !["opened", "resolved", "flapping", "settled", "changed", "test"].contains(&k) {
            return Err(format!("event kind {k:?}"));
        }
        if !["high", "medium", "low"].contains(&e["severity"].as_str().unwrap_or("")) {
            return Err(format!("severity {}", e["severity"]));
        }
        e["message"].as_str().ok_or("no message")?;
        rfc3339(&e["first_seen"], "first_seen")?;
        match k {
            "resolved" => {
                rfc3339(&e["resolved_at"], "resolved_at")?;
                e["duration_s"].as_u64().ok_or("a resolved event has no duration_s")?;
            }
            _ if !e["resolved_at"].is_null() => return Err("resolved_at on an open event".into()),
            _ => {}
        }
        for l in ["issue", "run"] {
            if !e["links"][l].is_null() {
                http_url(&e["links"][l], l)?;
            }
        }
        let d = e["details"].as_object().ok_or("details is not an object")?;
        if d.values().any(|x| !x.is_string()) {
            return Err("a detail is not a string".into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- Discord

pub const DISCORD_CONTENT: usize = 2000;
pub const DISCORD_EMBEDS: usize = 10;
pub const DISCORD_TITLE: usize = 256;
pub const DISCORD_DESCRIPTION: usize = 4096;
pub const DISCORD_FIELDS: usize = 25;
pub const DISCORD_FIELD_NAME: usize = 256;
pub const DISCORD_FIELD_VALUE: usize = 1024;
pub const DISCORD_FOOTER: usize = 2048;
pub const DISCORD_TOTAL: usize = 6000;

/// Discord's answer to a body it cannot take (JSON error code 50035).
pub fn discord_invalid() -> Reply {
    Reply::new(400, r#"{"message": "Invalid Form Body", "code": 50035}"#).header("content-type", "application/json")
}

pub fn discord() -> Validate {
    Arc::new(|r: &Recorded| discord_body(&json(r)?))
}

/// An Execute Webhook body within Discord's documented limits.
pub fn discord_body(v: &Value) -> Result<(), String> {
    let embeds = v["embeds"].as_array().cloned().unwrap_or_default();
    if chars(&v["content"]) == 0 && embeds.is_empty() {
        return Err("neither content nor embeds".into());
    }
    if chars(&v["content"]) > DISCORD_CONTENT {
        return Err(format!("content has {} characters", chars(&v["content"])));
    }
    if embeds.len() > DISCORD_EMBEDS {
        return Err(format!("{} embeds", embeds.len()));
    }
    if !v["allowed_mentions"]["parse"].as_array().is_some_and(Vec::is_empty) {
        return Err("allowed_mentions does not turn mentions off".into());
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let (t, d, f) = (chars(&e["title"]), chars(&e["description"]), chars(&e["footer"]["text"]));
        if t > DISCORD_TITLE || d > DISCORD_DESCRIPTION || f > DISCORD_FOOTER {
            return Err(format!("embed {i}: title {t}, description {d}, footer {f}"));
        }
        total += t + d + f + chars(&e["author"]["name"]);
        if let Some(c) = e.get("color") {
            if c.as_u64().is_none_or(|c| c > 0xff_ffff) {
                return Err(format!("embed {i}: color {c}"));
            }
        }
        if let Some(ts) = e.get("timestamp") {
            rfc3339(ts, "timestamp")?;
        }
        if let Some(u) = e.get("url") {
            http_url(u, "embed url")?;
        }
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > DISCORD_FIELDS {
            return Err(format!("embed {i}: {} fields", fields.len()));
        }
        for f in &fields {
            let (n, val) = (chars(&f["name"]), chars(&f["value"]));
            if n == 0 || n > DISCORD_FIELD_NAME || val == 0 || val > DISCORD_FIELD_VALUE {
                return Err(format!("embed {i}: a field of name {n} and value {val} characters"));
            }
            total += n + val;
        }
    }
    if total > DISCORD_TOTAL {
        return Err(format!("{total} characters across the embeds"));
    }
    Ok(())
}

// ---------------------------------------------------------------- Teams

pub const TEAMS_MAX_BYTES: usize = 28_000;
const CARD_ELEMENTS: &[&str] = &[
    "TextBlock",
    "RichTextBlock",
    "TextRun",
    "Container",
    "ColumnSet",
    "Column",
    "FactSet",
    "Image",
    "ActionSet",
    "Action.OpenUrl",
];

/// Power Automate's answer to a body its trigger cannot parse.
pub fn teams_invalid() -> Reply {
    Reply::new(400, r#"{"error":{"code":"InvalidRequestContent","message":"The request content is not valid."}}"#)
        .header("content-type", "application/json")
}

pub fn teams() -> Validate {
    Arc::new(|r: &Recorded| {
        if r.body.len() > TEAMS_MAX_BYTES {
            return Err(format!("{} bytes, over Teams' ~28 KB", r.body.len()));
        }
        teams_body(&json(r)?)
    })
}

/// A Workflows message with one Adaptive Card 1.4 attachment of known elements.
pub fn teams_body(v: &Value) -> Result<(), String> {
    if v["type"] != "message" {
        return Err("type is not \"message\"".into());
    }
    let atts = v["attachments"].as_array().ok_or("no attachments")?;
    if atts.len() != 1 {
        return Err(format!("{} attachments", atts.len()));
    }
    let a = &atts[0];
    if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
        return Err(format!("contentType {}", a["contentType"]));
    }
    let card = &a["content"];
    if card["type"] != "AdaptiveCard" || card["version"] != "1.4" {
        return Err(format!("card type {} version {}", card["type"], card["version"]));
    }
    let body = card["body"].as_array().ok_or("card has no body")?;
    if body.is_empty() {
        return Err("card body is empty".into());
    }
    fn walk(v: &Value) -> Result<(), String> {
        match v {
            Value::Object(m) => {
                if let Some(t) = m.get("type").and_then(Value::as_str) {
                    if !CARD_ELEMENTS.contains(&t) && t != "AdaptiveCard" {
                        return Err(format!("unknown element {t}"));
                    }
                    if t == "TextRun" && !m.get("text").is_some_and(Value::is_string) {
                        return Err("a TextRun without text".into());
                    }
                    if t == "Action.OpenUrl" {
                        http_url(m.get("url").unwrap_or(&Value::Null), "Action.OpenUrl url")?;
                    }
                }
                m.values().try_for_each(walk)
            }
            Value::Array(a) => a.iter().try_for_each(walk),
            _ => Ok(()),
        }
    }
    walk(card)
}

// ---------------------------------------------------------------- PagerDuty

/// PagerDuty's success: 202 with the event's dedup key.
pub fn pagerduty_accepted() -> Reply {
    Reply::new(202, r#"{"status":"success","message":"Event processed","dedup_key":"k"}"#)
        .header("content-type", "application/json")
}

/// PagerDuty's 400 for an event it cannot take.
pub fn pagerduty_invalid(error: &str) -> Reply {
    Reply::new(
        400,
        &format!(r#"{{"status":"invalid event","message":"Event object is invalid","errors":["{error}"]}}"#),
    )
    .header("content-type", "application/json")
}

pub fn pagerduty() -> Validate {
    Arc::new(|r: &Recorded| {
        if r.body.len() > 512 * 1024 {
            return Err("over 512 KB".into());
        }
        pagerduty_event(&json(r)?)
    })
}

/// One Events API v2 alert event (trigger, acknowledge or resolve).
pub fn pagerduty_event(v: &Value) -> Result<(), String> {
    let key = v["routing_key"].as_str().ok_or("no routing_key")?;
    if key.len() != 32 {
        return Err("routing_key is not 32 characters".into());
    }
    let action = v["event_action"].as_str().ok_or("no event_action")?;
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        return Err(format!("event_action {action:?}"));
    }
    let dk = chars(&v["dedup_key"]);
    if dk > 255 || (action != "trigger" && dk == 0) {
        return Err(format!("dedup_key of {dk} characters"));
    }
    if action == "trigger" {
        let p = &v["payload"];
        let s = chars(&p["summary"]);
        if s == 0 || s > 1024 {
            return Err(format!("payload.summary of {s} characters"));
        }
        if chars(&p["source"]) == 0 {
            return Err("payload.source is missing".into());
        }
        if !["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or("")) {
            return Err(format!("payload.severity {}", p["severity"]));
        }
        if let Some(t) = p.get("timestamp") {
            rfc3339(t, "payload.timestamp")?;
        }
        if let Some(d) = p.get("custom_details") {
            if !d.is_object() {
                return Err("custom_details is not an object".into());
            }
        }
        for l in v["links"].as_array().cloned().unwrap_or_default() {
            http_url(&l["href"], "links[].href")?;
        }
    }
    Ok(())
}
