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

/// The issue body: the state in its first line (what holds, on which monitor, since
/// when), what changed in its second (the rule that opened it, when it was last seen),
/// then the details — the values the rule fired on first, the error and the target, a few
/// other metrics — the run link and the marker.
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
        "{} **{}** — {} failing since {}\n\n",
        severity_icon(rec.severity),
        untrusted::markdown(&scrub(&rec.message), MAX_ISSUE_MESSAGE),
        code(&rec.monitor),
        rec.first_seen.format("%Y-%m-%d %H:%M UTC")
    ));
    b.push_str(&format!(
        "Opened by rule {} at severity **{}** · last seen {}\n\n",
        code(&rec.rule),
        rec.severity.as_str(),
        rec.last_seen.format("%Y-%m-%d %H:%M UTC")
    ));
    b.push_str("| | |\n|---|---|\n");
    let details = crate::alerts::plan::details_for(check, &rec.values);
    for (k, v) in &details {
        match k.as_str() {
            "error" => {
                let e = check.and_then(|c| c.error.as_ref());
                let kind = e.map(|e| code_cell(e.kind.as_str())).unwrap_or_default();
                let text = e.map(|e| e.message.as_str()).unwrap_or(v);
                b.push_str(&format!("| Error | {kind} {} |\n", cell(&scrub(text))));
            }
            "status" => {
                let emoji = check.map(|c| c.status.emoji()).unwrap_or_default();
                b.push_str(&format!("| Status | {emoji} {} |\n", cell(v)));
            }
            "target" if redact_targets => {}
            "target" => b.push_str(&format!("| Target | {} |\n", cell(v))),
            _ => b.push_str(&format!("| {} | {} |\n", code_cell(k), cell(&scrub(v)))),
        }
    }
    b.push_str(&format!("| Monitor | {} |\n", code_cell(&rec.monitor)));
    if let Some(c) = check {
        b.push_str(&format!("| Type | {} |\n", cell(&c.kind)));
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
pub fn redact_targets_in(text: &str, target: Option<&str>) -> String {
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

/// The comment that closes an issue: the state (resolved, after how long) first, then
/// what no longer holds, then the times.
pub(super) fn resolved_comment(rec: &AlertRecord, now: DateTime<Utc>) -> String {
    let took = event::human_span((now - rec.first_seen).num_seconds().max(0) as u64);
    format!(
        "✅ Resolved after {took}: {} no longer holds for {}.\n\nIt was first seen {}, last seen {}, and resolved {}.",
        code(&rec.rule),
        code(&rec.monitor),
        rec.first_seen.format("%Y-%m-%d %H:%M UTC"),
        rec.last_seen.format("%Y-%m-%d %H:%M UTC"),
        now.format("%Y-%m-%d %H:%M UTC")
    )
}
