//! Microsoft Teams channel: one POST per notice to a Teams Workflows (Power Automate)
//! webhook — Microsoft retired the Office 365 connector webhooks — with an Adaptive Card
//! 1.4 attachment, the shape the "Post to a channel when a webhook request is received"
//! template expects. Remote text sits only in `TextRun`s, which render no Markdown, and
//! the whole request stays under Teams' ~28 KB message limit (in UTF-8 bytes).

use serde_json::{json, Value};

use super::channel::{self, Channel, SendError, Sending};
use super::event::{AlertEvent, EventKind, Notice};
use super::post::{self, Post, Refusal};
use super::AlertRun;
use crate::config::{Severity, TeamsAlerts};
use crate::{retry, untrusted};

/// The request body's bytes, at most (Teams documents "approximately 28 KB").
pub const MAX_PAYLOAD_BYTES: usize = 28_000;
/// Events a card shows at most; more are counted ("…and N more").
pub const MAX_EVENTS: usize = 20;
pub const CARD_VERSION: &str = "1.4";
pub const CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// What marks a test card, in its headline.
pub const TEST_BANNER: &str = "🧪 TEST — vaktpost test alert, no action needed";

const MAX_MESSAGE: usize = 1000;
const MAX_NAME: usize = 200;
const MAX_DETAILS: usize = 8;

/// The container style of an event: Adaptive Cards' `attention`, `warning`, `accent`,
/// `good` (resolved) and `emphasis` (test).
pub fn style(e: &AlertEvent) -> &'static str {
    match (e.kind, e.severity) {
        (EventKind::Resolved, _) => "good",
        (EventKind::Test, _) => "emphasis",
        (_, Severity::High) => "attention",
        (_, Severity::Medium) => "warning",
        (_, Severity::Low) => "accent",
    }
}

fn run(text: String) -> Value {
    json!({"type": "TextRun", "text": text})
}

fn bold(text: String) -> Value {
    json!({"type": "TextRun", "text": text, "weight": "Bolder"})
}

fn rich(inlines: Vec<Value>) -> Value {
    json!({"type": "RichTextBlock", "inlines": inlines})
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

/// An http(s) URL, for `Action.OpenUrl`.
fn http_url(u: Option<&str>) -> Option<String> {
    let u = url::Url::parse(u?.trim()).ok()?;
    (matches!(u.scheme(), "http" | "https") && u.as_str().len() <= 2000).then(|| u.to_string())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn event(e: &AlertEvent) -> Value {
    let mut items = vec![
        rich(vec![
            bold(label(e)),
            run(format!(" · {}", untrusted::plain(&one_line(&e.monitor), MAX_NAME))),
            run(format!(" · {}", untrusted::plain(&one_line(&e.rule), MAX_NAME))),
        ]),
        rich(vec![run(untrusted::plain(&e.message, MAX_MESSAGE))]),
    ];
    if !e.details.is_empty() {
        let mut inlines = Vec::new();
        for (i, (k, v)) in e.details.iter().take(MAX_DETAILS).enumerate() {
            let sep = if i == 0 { "" } else { "\n" };
            inlines.push(bold(format!("{sep}{}: ", untrusted::plain(&one_line(k), 40))));
            inlines.push(run(untrusted::plain(&one_line(v), 200)));
        }
        items.push(json!({"type": "RichTextBlock", "inlines": inlines, "isSubtle": true}));
    }
    if let Some(u) = http_url(e.issue_url.as_deref()) {
        items.push(
            json!({"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "GitHub issue", "url": u}]}),
        );
    }
    json!({"type": "Container", "style": style(e), "separator": true, "spacing": "Medium", "items": items})
}

fn headline(notice: &Notice) -> Value {
    let text = if notice.kind() == "test" {
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
        format!("{icon} {}", untrusted::plain(&one_line(&notice.summary()), 300))
    };
    json!({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, "weight": "Bolder", "size": "Medium"}]})
}

/// The Workflows message for `notice` with the first `shown` events.
fn message(notice: &Notice, shown: usize) -> Value {
    let mut body = vec![headline(notice)];
    body.extend(notice.events[..shown].iter().map(event));
    if shown < notice.events.len() {
        body.push(rich(vec![run(format!("…and {} more", notice.events.len() - shown))]));
    }
    let title = if notice.title.trim().is_empty() { "vaktpost" } else { notice.title.trim() };
    body.push(json!({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": untrusted::plain(&one_line(title), 100), "isSubtle": true, "size": "Small"}]}));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    });
    if let Some(u) = http_url(notice.run_url.as_deref()) {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Workflow run", "url": u}]);
    }
    json!({
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": null, "content": card}],
    })
}

/// The request body for `notice`: as many events (up to [`MAX_EVENTS`]) as keep it within
/// [`MAX_PAYLOAD_BYTES`], the rest counted.
pub fn payload(notice: &Notice) -> Vec<u8> {
    let mut shown = notice.events.len().min(MAX_EVENTS);
    loop {
        let bytes = serde_json::to_vec(&message(notice, shown)).unwrap_or_default();
        if bytes.len() <= MAX_PAYLOAD_BYTES || shown == 0 {
            return bytes;
        }
        shown -= 1;
    }
}

/// Posts `notice` (nothing when it is empty).
pub async fn send(
    client: &reqwest::Client,
    cfg: &TeamsAlerts,
    notice: &Notice,
    waiter: &retry::Waiter,
) -> Result<(), SendError> {
    if notice.events.is_empty() {
        return Ok(());
    }
    let setting = "alerts.teams.webhook_url";
    let url = post::endpoint(&cfg.webhook_url, setting, "the HTTP POST URL of a Teams Workflows webhook trigger")?;
    let p =
        Post { service: "Teams", setting, url, secret: &cfg.webhook_url, body: payload(notice), headers: Vec::new() };
    post::post(client, &p, waiter, &rejection).await
}

/// A final 4xx with Power Automate's error (`{"error": {"code": …, "message": …}}`).
pub fn rejection(r: &Refusal) -> String {
    let err: Option<Value> = serde_json::from_str::<Value>(&r.text).ok().map(|v| v["error"].clone());
    let code = err.as_ref().and_then(|e| e["code"].as_str()).unwrap_or("").to_string();
    let todo = match r.status {
        401 | 403 => "the workflow refused the URL's signature; copy the trigger's HTTP POST URL again (with its sig parameter) into alerts.teams.webhook_url",
        404 => "the workflow or its trigger no longer exists (or is turned off); turn it on, or create a Workflows webhook and set alerts.teams.webhook_url",
        413 => "the card is over Teams' size limit; this is a vaktpost bug: please report it",
        400 => "the workflow could not read the card; use the \"Post to a channel when a webhook request is received\" template, or report this as a vaktpost bug",
        _ => "check alerts.teams.webhook_url",
    };
    let code = if code.is_empty() { String::new() } else { format!(", {code}") };
    format!("Teams rejected the card (HTTP {}{code}{}), not retried: {todo}", r.status, post::with_text(&r.text))
}

/// The Teams channel: one Workflows webhook, events at or above `min_severity`.
pub struct Teams<'a>(pub &'a TeamsAlerts);

impl Channel for Teams<'_> {
    fn name(&self) -> &'static str {
        "teams"
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

    /// Every `text` of a TextBlock (which renders Markdown) in a card: there must be none
    /// carrying remote text.
    fn text_blocks(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if m.get("type").and_then(Value::as_str) == Some("TextBlock") {
                    out.push(m.get("text").and_then(Value::as_str).unwrap_or("").to_string());
                }
                m.values().for_each(|x| text_blocks(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| text_blocks(x, out)),
            _ => {}
        }
    }

    #[test]
    fn styles_follow_severity_and_resolution() {
        let mut e = AlertEvent::sample("api", "down");
        assert_eq!(style(&e), "attention");
        e.kind = EventKind::Resolved;
        assert_eq!(style(&e), "good");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn hostile_text_stays_under_28_kb_in_text_runs_only(monitor in "\\PC{0,400}", message in "\\PC{0,4000}", n in 1usize..40) {
                let mut e = AlertEvent::sample(&monitor, &message);
                e.details = vec![(message.clone(), message.clone()); 12];
                let notice = Notice { events: vec![e; n], run_url: Some(message.clone()), title: monitor.clone() };
                let bytes = payload(&notice);
                prop_assert!(bytes.len() <= MAX_PAYLOAD_BYTES, "{} bytes", bytes.len());
                let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
                prop_assert_eq!(&v["attachments"][0]["content"]["version"], "1.4");
                let mut blocks = Vec::new();
                text_blocks(&v, &mut blocks);
                prop_assert!(blocks.is_empty());
            }
        }
    }
}
