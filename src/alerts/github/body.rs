//! What an alert's issue says: its title, its body (what failed, since when, the figures,
//! the run link, the marker), the resolve comment and the reminders. Everything remote in
//! them is redacted and neutralised for Markdown, and every text stays within GitHub's
//! limits.

use chrono::{DateTime, Utc};

use super::api::marker;
use crate::alerts::{event, AlertRun};
use crate::config::Severity;
use crate::markdown::{cell, code, code_cell};
use crate::state::AlertRecord;
use crate::untrusted;

pub fn severity_icon(s: Severity) -> &'static str {
    match s {
        Severity::High => "🔴",
        Severity::Medium => "🟠",
        Severity::Low => "🔵",
    }
}

/// The issue title: one line, no control characters, within GitHub's 256 characters.
pub(super) fn title(rec: &AlertRecord) -> String {
    untrusted::issue_title(&format!("{} {}: {}", severity_icon(rec.severity), rec.monitor, rec.message))
}

/// Longest finding message in an issue body or comment.
pub(super) const MAX_ISSUE_MESSAGE: usize = 2000;

/// The issue body: what failed, since when, key metrics, the run link, the marker.
pub fn issue_body(fp: &str, rec: &AlertRecord, run: &AlertRun<'_>, redact_targets: bool) -> String {
    let check = run.checks.iter().find(|c| c.name == rec.monitor);
    let scrub = |s: &str| {
        let s = run.redactor.redact_text(s);
        if redact_targets {
            redact_targets_in(&s, check.map(|c| c.target.as_str()))
        } else {
            s
        }
    };
    let mut b = String::new();
    b.push_str(&format!(
        "**{}** · severity **{}** · rule {}\n\n",
        untrusted::markdown(&scrub(&rec.message), MAX_ISSUE_MESSAGE),
        rec.severity.as_str(),
        code(&rec.rule)
    ));
    b.push_str("| | |\n|---|---|\n");
    b.push_str(&format!("| Monitor | {} |\n", code_cell(&rec.monitor)));
    if let Some(c) = check {
        b.push_str(&format!("| Type | {} |\n", cell(&c.kind)));
        if !redact_targets {
            b.push_str(&format!("| Target | {} |\n", cell(&c.target)));
        }
        b.push_str(&format!("| Status | {} {} |\n", c.status.emoji(), c.status.as_str()));
        if let Some(e) = &c.error {
            b.push_str(&format!("| Error | {} {} |\n", code_cell(e.kind.as_str()), cell(&scrub(&e.message))));
        }
    }
    b.push_str(&format!("| Since | {} |\n", rec.first_seen.format("%Y-%m-%d %H:%M UTC")));
    b.push_str(&format!("| Last seen | {} |\n", rec.last_seen.format("%Y-%m-%d %H:%M UTC")));
    if let Some(c) = check {
        let metrics: Vec<String> = c
            .metrics
            .iter()
            .filter_map(|(k, v)| {
                let t = crate::rules::format_value(v);
                (t.len() <= 80).then(|| format!("{} {}", code(k), cell(&scrub(&t))))
            })
            .take(20)
            .collect();
        if !metrics.is_empty() {
            b.push_str(&format!("\n**Metrics:** {}\n", metrics.join(" · ")));
        }
    }
    if let Some(u) = run.ctx.run_url() {
        b.push_str(&format!("\n[Workflow run]({u})\n"));
    }
    b.push_str("\n_Opened by vaktpost; it updates this issue when the severity or message changes and closes it when the problem resolves._\n\n");
    bound_issue_body(b, &marker(fp))
}

/// `text` then `marker`, within GitHub's 65,536 characters: the text is cut (with a note)
/// so the marker, which finds the issue again, stays whole.
pub fn bound_issue_body(text: String, marker: &str) -> String {
    const NOTE: &str = "\n\n_Cut to stay under GitHub's issue size limit; see the JSON report._\n\n";
    let tail = marker.chars().count() + 1;
    let mut b = if text.chars().count() + tail <= untrusted::MAX_ISSUE_BODY {
        text
    } else {
        let room = untrusted::MAX_ISSUE_BODY.saturating_sub(tail + NOTE.chars().count());
        untrusted::bound(&text, room) + NOTE
    };
    b.push_str(marker);
    b.push('\n');
    untrusted::bound(&b, untrusted::MAX_ISSUE_BODY)
}

/// Hostnames and URLs out of text, for issue bodies in public repositories.
fn redact_targets_in(text: &str, target: Option<&str>) -> String {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(' ') {
        if w.contains("://") {
            out.push("[url]".into());
        } else {
            out.push(w.to_string());
        }
    }
    let mut s = out.join(" ");
    if let Some(t) = target {
        let host = url::Url::parse(t)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| t.split(':').next().unwrap_or("").to_string());
        if host.len() >= 3 {
            s = s.replace(&host, "[host]");
        }
    }
    s
}

pub(super) fn resolved_comment(rec: &AlertRecord, now: DateTime<Utc>) -> String {
    let took = event::human_span((now - rec.first_seen).num_seconds().max(0) as u64);
    format!(
        "✅ Resolved after {took} (first seen {}, last seen {}).",
        rec.first_seen.format("%Y-%m-%d %H:%M UTC"),
        rec.last_seen.format("%Y-%m-%d %H:%M UTC")
    )
}
