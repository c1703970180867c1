//! Discord channel: one "Execute Webhook" message per notice, with one embed per event
//! coloured by its severity (green once resolved, grey for a test), within Discord's
//! documented limits: content 2,000 characters; at most 10 embeds; title 256,
//! description 4,096, 25 fields of name 256 and value 1,024, footer 2,048; and 6,000
//! characters across all embeds of the message. Remote text goes through
//! [`untrusted::discord`] and `allowed_mentions` is empty, so nothing pings anyone.

use serde_json::{json, Value};

use super::channel::{self, Channel, SendError, Sending};
use super::event::{AlertEvent, EventKind, Notice};
use super::post::{self, Post, Refusal};
use super::AlertRun;
use crate::config::{DiscordAlerts, Severity};
use crate::{retry, untrusted};

pub const MAX_CONTENT: usize = 2000;
pub const MAX_EMBEDS: usize = 10;
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_FIELDS: usize = 25;
pub const MAX_FIELD_NAME: usize = 256;
pub const MAX_FIELD_VALUE: usize = 1024;
pub const MAX_FOOTER: usize = 2048;
pub const MAX_EMBED_TOTAL: usize = 6000;

pub const COLOR_HIGH: u32 = 0xd73a49;
pub const COLOR_MEDIUM: u32 = 0xfb8500;
pub const COLOR_LOW: u32 = 0x0366d6;
pub const COLOR_RESOLVED: u32 = 0x28a745;
pub const COLOR_TEST: u32 = 0x8b949e;

/// What marks a test message, in the content.
pub const TEST_BANNER: &str = "🧪 TEST — vaktpost test alert, no action needed";

/// Details shown per event, at most.
const MAX_DETAILS: usize = 8;

/// The colour of one event's embed.
pub fn color(e: &AlertEvent) -> u32 {
    match (e.kind, e.severity) {
        (EventKind::Resolved, _) => COLOR_RESOLVED,
        (EventKind::Test, _) => COLOR_TEST,
        (_, Severity::High) => COLOR_HIGH,
        (_, Severity::Medium) => COLOR_MEDIUM,
        (_, Severity::Low) => COLOR_LOW,
    }
}

fn label(e: &AlertEvent) -> String {
    match e.kind {
        EventKind::Opened => {
            format!("{} {}", super::slack::severity_emoji(e.severity), e.severity.as_str().to_uppercase())
        }
        EventKind::Resolved => match e.duration_text() {
            Some(d) => format!("✅ Resolved after {d}"),
            None => "✅ Resolved".to_string(),
        },
        EventKind::Changed => e.change_label(),
        EventKind::Test => "🧪 TEST".to_string(),
        k => k.flap_label().unwrap_or_default().to_string(),
    }
}

/// Characters Discord counts toward the 6,000 of a message's embeds.
pub fn embed_chars(embed: &Value) -> usize {
    let n = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let fields = embed["fields"].as_array().map_or(0, |f| f.iter().map(|f| n(&f["name"]) + n(&f["value"])).sum());
    n(&embed["title"]) + n(&embed["description"]) + n(&embed["footer"]["text"]) + n(&embed["author"]["name"]) + fields
}

/// An http(s) URL with `(` and `)` encoded, so it can sit in a Markdown link.
fn safe_url(u: Option<&str>) -> Option<String> {
    let u = url::Url::parse(u?.trim()).ok()?;
    (matches!(u.scheme(), "http" | "https") && u.as_str().len() <= 2000)
        .then(|| u.as_str().replace('(', "%28").replace(')', "%29"))
}

/// One event's embed, in at most `budget` counted characters.
fn embed(e: &AlertEvent, budget: usize) -> Value {
    let title_room = MAX_TITLE.min(budget / 4).max(8);
    let title = untrusted::discord(&format!("{} · {}", label(e), one_line(&e.monitor)), title_room);
    let mut description = untrusted::discord(&e.message, MAX_DESCRIPTION.min(budget / 2).max(8));
    let rule = format!("\nRule: {}", untrusted::discord(&one_line(&e.rule), 100));
    let mut used = title.chars().count() + description.chars().count();
    if used + rule.chars().count() <= budget {
        used += rule.chars().count();
        description.push_str(&rule);
    }
    let mut fields = Vec::new();
    for (k, v) in e.details.iter().take(MAX_DETAILS.min(MAX_FIELDS)) {
        let name = untrusted::discord(&one_line(k), 40);
        let value = untrusted::discord(&one_line(v), 100);
        let (name, value) = (non_empty(name), non_empty(value));
        let len = name.chars().count() + value.chars().count();
        if used + len > budget {
            break;
        }
        used += len;
        fields.push(json!({"name": name, "value": value, "inline": true}));
    }
    let mut out = json!({
        "title": title,
        "description": description,
        "color": color(e),
        "timestamp": e.resolved_at.unwrap_or(e.first_seen).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "fields": fields,
    });
    if let Some(u) = safe_url(e.issue_url.as_deref()) {
        out["url"] = json!(u);
    }
    out
}

/// Discord refuses an empty field name or value.
fn non_empty(s: String) -> String {
    if s.trim().is_empty() {
        "\u{2014}".to_string()
    } else {
        s
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The message for `notice`: content (the summary, the run link), one embed per event
/// (nine and a "…and N more" embed when there are more than ten), a footer on the last.
pub fn payload(notice: &Notice) -> Value {
    let n = notice.events.len();
    let shown = if n <= MAX_EMBEDS { n } else { MAX_EMBEDS - 1 };
    let footer_text = untrusted::discord(
        &one_line(if notice.title.trim().is_empty() { "vaktpost" } else { notice.title.trim() }),
        100,
    );
    // Room for the footer and the "…and N more" embed, kept out of every event's share.
    let reserve = footer_text.chars().count() + 40;
    let budget = (MAX_EMBED_TOTAL - reserve) / shown.max(1);
    let mut embeds: Vec<Value> = notice.events[..shown].iter().map(|e| embed(e, budget)).collect();
    if shown < n {
        embeds.push(json!({"description": format!("…and {} more", n - shown), "color": COLOR_TEST}));
    }
    if let Some(last) = embeds.last_mut() {
        last["footer"] = json!({"text": footer_text});
    }
    let mut content = if notice.kind() == "test" {
        TEST_BANNER.to_string()
    } else {
        let icon = match notice.kind() {
            "resolved" => "✅",
            _ => notice
                .events
                .iter()
                .filter(|e| e.kind != EventKind::Resolved)
                .map(|e| e.severity)
                .max()
                .map(super::slack::severity_emoji)
                .unwrap_or("🔔"),
        };
        format!("{icon} {}", untrusted::discord(&notice.summary(), 1000))
    };
    if let Some(u) = safe_url(notice.run_url.as_deref()) {
        let link = format!("\n[Workflow run]({u})");
        if content.chars().count() + link.chars().count() <= MAX_CONTENT {
            content.push_str(&link);
        }
    }
    json!({
        "content": content,
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    })
}

/// Posts `notice` to the webhook as one message (nothing when it is empty).
pub async fn send(
    client: &reqwest::Client,
    cfg: &DiscordAlerts,
    notice: &Notice,
    waiter: &retry::Waiter,
) -> Result<(), SendError> {
    if notice.events.is_empty() {
        return Ok(());
    }
    let setting = "alerts.discord.webhook_url";
    let url = post::endpoint(&cfg.webhook_url, setting, "https://discord.com/api/webhooks/<id>/<token>")?;
    let body = serde_json::to_vec(&payload(notice))
        .map_err(|e| SendError::Rejected(format!("Discord: cannot encode the message: {e}")))?;
    let p = Post { service: "Discord", setting, url, secret: &cfg.webhook_url, body, headers: Vec::new() };
    post::post(client, &p, waiter, &rejection).await
}

/// A final 4xx with Discord's JSON error (`{"message": …, "code": …}`) and what to do.
/// Codes from Discord's JSON error codes: 10015 Unknown Webhook, 50027 Invalid Webhook
/// Token, 50035 Invalid Form Body.
pub fn rejection(r: &Refusal) -> String {
    let code = post::json_field(&r.text, "code").unwrap_or_default();
    let message = post::json_field(&r.text, "message").unwrap_or_else(|| r.text.clone());
    let todo = match (r.status, code.as_str()) {
        (_, "10015") | (404, _) => {
            "the webhook was deleted; create a new one (channel settings → Integrations → Webhooks) and set alerts.discord.webhook_url"
        }
        (_, "50027") | (401 | 403, _) => {
            "the webhook's token is wrong; copy the webhook URL again into alerts.discord.webhook_url"
        }
        (400, _) => {
            "Discord could not accept the message vaktpost built; this is a vaktpost bug: please report it with this error (the alert stays pending)"
        }
        _ => "check alerts.discord.webhook_url",
    };
    let code = if code.is_empty() { String::new() } else { format!(", code {code}") };
    format!("Discord rejected the message (HTTP {}{code}{}), not retried: {todo}", r.status, post::with_text(&message))
}

/// The Discord channel: one webhook, events at or above `min_severity`.
pub struct Discord<'a>(pub &'a DiscordAlerts);

impl Channel for Discord<'_> {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn min_severity(&self) -> Option<Severity> {
        (!self.0.webhook_url.expose().trim().is_empty()).then(|| self.0.min_severity.unwrap_or(Severity::Low))
    }

    fn takes_changes(&self) -> bool {
        true
    }

    fn open<'a>(&'a self, run: &'a AlertRun<'a>, notice: &'a Notice) -> Sending<'a, ()> {
        Box::pin(async move { send(&super::deliver::http_client(), self.0, notice, &run.waiter()).await })
    }

    fn test<'a>(&'a self, run: &'a AlertRun<'a>) -> Sending<'a, String> {
        Box::pin(async move {
            let notice = channel::test_notice(run);
            send(&super::deliver::http_client(), self.0, &notice, &run.waiter()).await.map(|_| "sent".to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every limit Discord documents, checked on a payload.
    fn within_limits(p: &Value) -> Result<(), String> {
        let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        if len(&p["content"]) > MAX_CONTENT {
            return Err(format!("content {}", len(&p["content"])));
        }
        let embeds = p["embeds"].as_array().ok_or("no embeds")?;
        if embeds.len() > MAX_EMBEDS {
            return Err(format!("{} embeds", embeds.len()));
        }
        let total: usize = embeds.iter().map(embed_chars).sum();
        if total > MAX_EMBED_TOTAL {
            return Err(format!("{total} embed characters"));
        }
        for e in embeds {
            if len(&e["title"]) > MAX_TITLE || len(&e["description"]) > MAX_DESCRIPTION {
                return Err("title or description".into());
            }
            let fields = e["fields"].as_array().map(Vec::as_slice).unwrap_or_default();
            if fields.len() > MAX_FIELDS {
                return Err("fields".into());
            }
            for f in fields {
                let (n, v) = (len(&f["name"]), len(&f["value"]));
                if n == 0 || n > MAX_FIELD_NAME || v == 0 || v > MAX_FIELD_VALUE {
                    return Err(format!("field {n}/{v}"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn colours_follow_severity_and_resolution() {
        let mut e = AlertEvent::sample("api", "down");
        assert_eq!(color(&e), COLOR_HIGH);
        e.severity = Severity::Low;
        assert_eq!(color(&e), COLOR_LOW);
        e.kind = EventKind::Resolved;
        assert_eq!(color(&e), COLOR_RESOLVED);
        assert_eq!(payload(&Notice { events: vec![e], ..Default::default() })["embeds"][0]["color"], COLOR_RESOLVED);
    }

    #[test]
    fn many_events_fit_in_ten_embeds_and_six_thousand_characters() {
        let big = "**x** @everyone ".repeat(2000);
        for n in [1, 2, 10, 11, 300] {
            let notice = Notice { events: vec![AlertEvent::sample(&big, &big); n], run_url: None, title: big.clone() };
            let p = payload(&notice);
            within_limits(&p).unwrap_or_else(|e| panic!("{n} events: {e}"));
            if n > 10 {
                assert_eq!(p["embeds"][9]["description"], format!("…and {} more", n - 9));
            }
            assert!(!p.to_string().contains("@everyone"));
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn hostile_text_stays_within_discords_limits(monitor in "\\PC{0,400}", message in "\\PC{0,5000}", n in 1usize..14) {
                let mut e = AlertEvent::sample(&monitor, &message);
                e.details = vec![(message.clone(), monitor.clone()); 30];
                let notice = Notice { events: vec![e; n], run_url: Some(message.clone()), title: monitor.clone() };
                let p = payload(&notice);
                prop_assert!(within_limits(&p).is_ok(), "{:?}", within_limits(&p));
                prop_assert_eq!(&p["allowed_mentions"], &json!({"parse": []}));
                let bytes = serde_json::to_vec(&p).unwrap_or_default();
                prop_assert!(serde_json::from_slice::<Value>(&bytes).is_ok());
            }
        }
    }
}
