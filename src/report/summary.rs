//! The job summary (`$GITHUB_STEP_SUMMARY`): headline, monitors table, findings by
//! severity, alert actions. Failing monitors come first when rows are capped, and the
//! whole text stays far below GitHub's 1 MiB limit.

use std::fmt::Write;

use super::model::{Action, Report, RunStatus};
use crate::checks::{CheckResult, Status};
use crate::config::Severity;
use crate::rules::Finding;
// Re-exported for `alerts`, which renders issue bodies with them; `crate::markdown` is
// their home.
use crate::markdown::safe_link;
pub use crate::markdown::{cell, code, code_cell};

/// GitHub rejects step summaries over 1 MiB; stay well under it.
pub const MAX_BYTES: usize = 900 * 1024;

/// The run's state in one line, without Markdown: the worst open problem, or how many
/// monitors are up. The summary's headline and the console's first line.
pub fn headline(report: &Report) -> (&'static str, String) {
    let c = &report.counts;
    let ran = c.up + c.degraded + c.down;
    if report.status == RunStatus::Inconclusive {
        return ("❔", "inconclusive: the runner could not reach the network".to_string());
    }
    // The worst open finding, first in report order among those of its severity.
    let worst = report.findings.iter().fold(None::<&Finding>, |w, f| match w {
        Some(w) if w.severity >= f.severity => Some(w),
        _ => Some(f),
    });
    if let Some(f) = worst {
        let n = report.findings.len();
        let more = if n > 1 { format!(" (and {} more)", n - 1) } else { String::new() };
        let what = if f.message.contains(&f.monitor) {
            one_line(&f.message)
        } else {
            format!("{}: {}", f.monitor, one_line(&f.message))
        };
        let s = if n == 1 { "" } else { "s" };
        return (sev_icon(f.severity), format!("{n} open problem{s}: {what}{more}"));
    }
    match report.status {
        RunStatus::Down => ("🔴", format!("{} of {ran} monitors down", c.down)),
        RunStatus::Degraded => ("🟡", format!("{} of {ran} monitors degraded", c.degraded)),
        _ if ran == 0 => ("⚪", "no monitor was due".to_string()),
        _ => ("🟢", format!("all {ran} monitors up")),
    }
}

/// What changed since the previous run, in one line without Markdown: "1 opened ·
/// memory_status up → degraded", or "no change".
pub fn changed_line(report: &Report) -> String {
    let ch = &report.changes;
    let mut parts: Vec<String> = Vec::new();
    let names = |list: &[super::model::ChangedAlert]| {
        let mut v: Vec<&str> = list.iter().take(3).map(|a| a.monitor.as_str()).collect();
        v.dedup();
        let more = list.len().saturating_sub(3);
        format!("{}{}", v.join(", "), if more > 0 { format!(" +{more}") } else { String::new() })
    };
    if !ch.opened.is_empty() {
        parts.push(format!("{} opened ({})", ch.opened.len(), names(&ch.opened)));
    }
    if !ch.resolved.is_empty() {
        parts.push(format!("{} resolved ({})", ch.resolved.len(), names(&ch.resolved)));
    }
    if !ch.flapping.is_empty() {
        parts.push(format!("{} started flapping ({})", ch.flapping.len(), names(&ch.flapping)));
    }
    if !ch.settled.is_empty() {
        parts.push(format!("{} stopped flapping ({})", ch.settled.len(), names(&ch.settled)));
    }
    for s in ch.status.iter().take(3) {
        parts.push(format!("{} {} → {}", s.monitor, s.from.as_str(), s.to.as_str()));
    }
    if ch.status.len() > 3 {
        parts.push(format!("{} more status changes", ch.status.len() - 3));
    }
    let skipped = report.counts.skipped;
    if skipped > 0 {
        parts.push(format!("{skipped} skipped (not due)"));
    }
    if report.status == RunStatus::Inconclusive {
        return "nothing opened or closed: this run says nothing about the targets".into();
    }
    if parts.is_empty() {
        "no change since the last run".into()
    } else {
        format!("since the last run: {}", parts.join(" · "))
    }
}

fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::untrusted::bound(&s, 200)
}

pub fn render(report: &Report, title: Option<&str>, max_rows: usize) -> String {
    let mut md = String::new();
    let c = &report.counts;
    // Line 1: the state. Line 2: what changed. Then the facts and the details.
    let (icon, headline) = headline(report);
    let title = title.unwrap_or("vaktpost");
    let _ = writeln!(md, "## {icon} {}: {}\n", cell(title), cell(&headline));
    let _ = writeln!(md, "**{}**\n", cell(&capitalized(&changed_line(report))));
    if let Some(why) = &report.run.inconclusive {
        let _ = writeln!(
            md,
            "> [!WARNING]\n> **This run is inconclusive**: {}. Its failures say nothing about the targets, so no issue was opened or closed, nothing was sent, and every streak was kept for the next run.\n",
            cell(why)
        );
    }
    let ran = c.up + c.degraded + c.down;
    let mut facts = vec![format!("{ran} checked: {} up · {} degraded · {} down", c.up, c.degraded, c.down)];
    if c.findings > 0 {
        facts.push(format!("findings: 🔴 {} high · 🟠 {} medium · 🔵 {} low", c.high, c.medium, c.low));
    }
    if let Some(s) = &report.run.shard {
        facts.push(format!("shard {s}"));
    }
    if let Some(g) = &report.run.gate {
        facts.push(match g.healthy_after_ms {
            Some(ms) => format!("✅ healthy after {:.1}s ({} attempts)", ms / 1000.0, g.attempts),
            None => format!("❌ still failing after {} attempts", g.attempts),
        });
    }
    if !report.run.merged_shards.is_empty() {
        facts.push(format!("merged from {} shards", report.run.merged_shards.len()));
    }
    if report.run.dry_run {
        facts.push("dry run: nothing sent".into());
    }
    facts.push(format!("took {:.1}s", report.run.duration_ms / 1000.0));
    let _ = writeln!(md, "{}\n", facts.join(" · "));

    what_changed(&mut md, report, max_rows);

    // Security events get their own section below, so they are not listed twice.
    let is_security = |f: &&Finding| f.category.as_deref() == Some("security");
    if report.findings.iter().any(|f| !is_security(&f)) {
        let _ = writeln!(md, "### Open problems\n");
        for sev in [Severity::High, Severity::Medium, Severity::Low] {
            let list: Vec<_> = report.findings.iter().filter(|f| f.severity == sev && !is_security(f)).collect();
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(md, "**{} {}**\n", sev_icon(sev), sev.as_str());
            for f in list.iter().take(max_rows) {
                let carried = if f.carried_over { " _(from the last check)_" } else { "" };
                let flap = if f.flapping { " 🔁" } else { "" };
                let _ = writeln!(md, "- {} {}{flap}{carried}", code(&f.fingerprint), cell(&f.message));
            }
            if list.len() > max_rows {
                let _ = writeln!(md, "- …and {} more (see the JSON report)", list.len() - max_rows);
            }
            md.push('\n');
        }
    }
    security_events(&mut md, report, max_rows);
    // The kinds' own sections (a provider's incidents, log rotation health), in the order
    // of the kinds list.
    crate::checks::kinds::summary_sections(&report.checks, &mut md, max_rows, MAX_BYTES);

    let _ = writeln!(md, "### Monitors\n");
    let _ = writeln!(md, "| | Monitor | Type | Status | Uptime 24h | Uptime 7d | p95 24h | Key metric | Details |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    let mut order: Vec<&CheckResult> = report.checks.iter().collect();
    if order.len() > max_rows {
        // Problems first, so a capped table still shows everything that matters.
        order.sort_by_key(|r| match r.status {
            Status::Down => 0,
            Status::Degraded => 1,
            Status::Up => 2,
            Status::Skipped => 3,
        });
    }
    for r in order.iter().take(max_rows) {
        // Rendered piece by piece: the code spans are ours, the text is not.
        let mut details = r
            .error
            .as_ref()
            .map(|e| format!("{} {}", code_cell(e.kind.as_str()), cell(&e.message)))
            .or_else(|| r.message.as_deref().map(cell))
            .unwrap_or_default();
        if let Some(c) = r.confirm.as_ref().filter(|c| c.recovered) {
            let first = format!("`{}` {}", c.first_error.kind.as_str(), cell(&c.first_error.message));
            details = format!("blip: passed on re-check {} after {first}", c.attempts - 1);
        }
        // A failing monitor whose provider reports trouble says so in its own row.
        if r.status != Status::Up {
            for note in crate::checks::kinds::row_notes(&report.checks, r) {
                details.push(' ');
                details.push_str(&note);
            }
        }
        let h = report.history.get(&r.name);
        let fig = |k: &str| h.and_then(|h| h.get(k)).and_then(|v| v.as_f64());
        let pct = |k: &str| fig(k).map(|u| format!("{u:.2}%")).unwrap_or_else(|| "—".into());
        let p95 = fig("p95_24h_ms").map(fmt_ms).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.status.emoji(),
            cell(&r.name),
            r.kind,
            if r.flapping { format!("{} · 🔁 flapping", r.status.as_str()) } else { r.status.as_str().to_string() },
            pct("uptime_24h"),
            pct("uptime_7d"),
            p95,
            cell(&key_metric(r)),
            details
        );
        if md.len() > MAX_BYTES {
            break;
        }
    }
    if order.len() > max_rows {
        let _ = writeln!(md, "\n_{} more monitors not shown; all are in the JSON report._", order.len() - max_rows);
    }

    response_time_chart(&mut md, report);
    top_errors(&mut md, report);

    if !report.alerts.is_empty() {
        let _ = writeln!(md, "\n### Alerts\n");
        for a in report.alerts.iter().take(max_rows) {
            let link = a
                .url
                .as_ref()
                .filter(|u| safe_link(u))
                .map(|u| format!(" [{}]({u})", a.issue_number.map(|n| format!("#{n}")).unwrap_or("link".into())))
                .unwrap_or_default();
            let err = a.error.as_ref().map(|e| format!(" — {}", cell(e))).unwrap_or_default();
            let verb = match a.action {
                Action::Opened => "opened",
                Action::Updated => "updated",
                Action::Resolved => "resolved",
                Action::Unchanged => "unchanged",
                Action::Suppressed => "suppressed",
                Action::Failed => "⚠️ failed",
            };
            let _ = writeln!(md, "- {} {} {verb}{link}{err}", cell(&a.channel), code(&a.fingerprint));
        }
        if report.alerts.len() > max_rows {
            let _ = writeln!(md, "- …and {} more (see the JSON report)", report.alerts.len() - max_rows);
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(md, "\n### Notes\n");
        for n in &report.notes {
            let _ = writeln!(md, "- {}", cell(n));
        }
    }
    footer(&mut md, report);
    if md.len() > MAX_BYTES {
        let mut cut = MAX_BYTES;
        while !md.is_char_boundary(cut) {
            cut -= 1;
        }
        md.truncate(cut);
        md.push_str("\n\n_Summary truncated to stay under GitHub's 1 MiB limit; see the JSON report._\n");
    }
    md
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "What changed": each alert that opened, resolved or started or stopped flapping this
/// run, and each monitor whose status changed — absent when nothing did.
fn what_changed(md: &mut String, report: &Report, max_rows: usize) {
    let ch = &report.changes;
    if ch.is_empty() {
        return;
    }
    let _ = writeln!(md, "### What changed\n");
    let link = |a: &super::model::ChangedAlert| {
        a.issue_url.as_deref().filter(|u| safe_link(u)).map(|u| format!(" · [issue]({u})")).unwrap_or_default()
    };
    let mut lines: Vec<String> = Vec::new();
    for a in &ch.opened {
        lines.push(format!("- {} opened: {} {}{}", sev_icon(a.severity), code(&a.monitor), cell(&a.message), link(a)));
    }
    for a in &ch.resolved {
        let lasted = a.lasted.as_deref().map(|d| format!(" after {d}")).unwrap_or_default();
        lines.push(format!("- ✅ resolved{lasted}: {} {}{}", code(&a.monitor), cell(&a.message), link(a)));
    }
    for a in &ch.flapping {
        lines.push(format!("- 🔁 started flapping: {} {}{}", code(&a.monitor), cell(&a.message), link(a)));
    }
    for a in &ch.settled {
        lines.push(format!(
            "- 〰️ stopped flapping, still failing: {} {}{}",
            code(&a.monitor),
            cell(&a.message),
            link(a)
        ));
    }
    for s in &ch.status {
        lines.push(format!("- {} {} {} → {}", s.to.emoji(), code(&s.monitor), s.from.as_str(), s.to.as_str()));
    }
    let n = lines.len();
    for l in lines.into_iter().take(max_rows) {
        let _ = writeln!(md, "{l}");
    }
    if n > max_rows {
        let _ = writeln!(md, "- …and {} more (see the JSON report's `changes`)", n - max_rows);
    }
    md.push('\n');
}

/// The last line: the workflow run, the version, and what is left of the GitHub API's
/// hourly rate limit after this run.
fn footer(md: &mut String, report: &Report) {
    let mut parts = Vec::new();
    if let Some(u) = report.run.github_run_url.as_deref().filter(|u| safe_link(u)) {
        parts.push(format!("[workflow run]({u})"));
    }
    parts.push(format!("vaktpost {}", report.tool.version));
    if let Some(r) = report.run.github_rate_limit {
        parts.push(format!(
            "GitHub API: {} of {} requests left this hour",
            crate::human::thousands(r.remaining),
            crate::human::thousands(r.limit)
        ));
    }
    let _ = writeln!(md, "\n<sub>{}</sub>", parts.join(" · "));
}

/// "Security events": the `security` findings, or a line saying the checked monitors
/// had none. Absent when no monitor has `security:` on.
fn security_events(md: &mut String, report: &Report, max_rows: usize) {
    let checked = report.checks.iter().filter(|r| r.metrics.contains_key("security_violations")).count();
    let events: Vec<&Finding> = report.findings.iter().filter(|f| f.category.as_deref() == Some("security")).collect();
    if checked == 0 && events.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Security events\n");
    if events.is_empty() {
        let s = if checked == 1 { "" } else { "s" };
        let _ = writeln!(md, "✅ no violations on {checked} monitor{s} with security checks\n");
        return;
    }
    let mut sorted = events;
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in sorted.iter().take(max_rows) {
        let carried = if f.carried_over { " _(from the last check)_" } else { "" };
        let _ = writeln!(md, "- {} {} {}{carried}", sev_icon(f.severity), code(&f.fingerprint), cell(&f.message));
    }
    if sorted.len() > max_rows {
        let _ = writeln!(md, "- …and {} more (see the JSON report)", sorted.len() - max_rows);
    }
    md.push('\n');
}

/// "Top errors": failures grouped across monitors and runs (the report's `top_errors`).
fn top_errors(md: &mut String, report: &Report) {
    if report.top_errors.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n### Top errors (7 days)\n");
    let _ = writeln!(md, "| Count | Kind | Error | Monitors | First seen | Last seen |");
    let _ = writeln!(md, "|---:|---|---|---|---|---|");
    for g in &report.top_errors {
        let mut monitors: Vec<String> = g.monitors.iter().take(5).map(|m| code_cell(m)).collect();
        if g.monitors.len() > 5 {
            monitors.push(format!("+{} more", g.monitors.len() - 5));
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            g.count,
            code_cell(&g.kind),
            cell(g.latest.as_deref().unwrap_or(&g.message)),
            monitors.join(", "),
            g.first_seen.format("%Y-%m-%d %H:%M"),
            g.last_seen.format("%Y-%m-%d %H:%M")
        );
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else {
        format!("{ms:.0}ms")
    }
}

/// Most charts in the response-time section: the slowest monitors by 24h p95.
pub const CHARTS: usize = 3;

/// "Response time, last 24h": one small Mermaid `xychart-beta` per slow monitor (24h p95
/// of [`SLOW_P95_MS`] or more; at most [`CHARTS`], slowest first), each on its own scale, so a 3 ms monitor beside a
/// 300 ms one is not a flat line on the floor, and each titled with its monitor, so no
/// legend is needed. Hours without a sample repeat the last known value.
fn response_time_chart(md: &mut String, report: &Report) {
    let mut slow: Vec<(&str, f64, Vec<f64>)> = Vec::new();
    for r in &report.checks {
        let Some(h) = report.history.get(&r.name) else { continue };
        let (Some(p95), Some(hours)) =
            (h.get("p95_24h_ms").and_then(|v| v.as_f64()), h.get("response_time_24h_ms").and_then(|v| v.as_array()))
        else {
            continue;
        };
        let raw: Vec<Option<f64>> = hours.iter().map(|v| v.as_f64()).collect();
        if raw.iter().flatten().count() < 2 {
            continue;
        }
        let mut last = raw.iter().flatten().next().copied().unwrap_or(0.0);
        let line = raw
            .into_iter()
            .map(|v| {
                last = v.unwrap_or(last);
                last
            })
            .collect();
        slow.push((r.name.as_str(), p95, line));
    }
    if slow.is_empty() {
        return;
    }
    slow.sort_by(|a, b| b.1.total_cmp(&a.1));
    // Slow monitors get a chart each; a fast one's line would be noise.
    let charted = slow.iter().filter(|s| s.1 >= SLOW_P95_MS).count().min(CHARTS);
    let more = slow.len() - charted;
    slow.truncate(charted);
    let _ = writeln!(md, "\n### Response time, last 24h\n");
    if charted == 0 {
        let _ = writeln!(md, "Every monitor's 24h p95 is under {SLOW_P95_MS:.0}ms: nothing to chart.");
        return;
    }
    let n = slow.iter().map(|s| s.2.len()).max().unwrap_or(24);
    // One label per hour, distinct (Mermaid puts equal labels on one point): the hour of
    // the day (UTC) each bucket ends in, oldest first.
    let end = report.run.finished_at;
    let hours: Vec<String> =
        (0..n).rev().map(|h| format!("\"{}\"", (end - chrono::Duration::hours(h as i64)).format("%H"))).collect();
    for (name, p95, line) in &slow {
        let max = line.iter().fold(0f64, |a, b| a.max(*b)).max(*p95);
        let _ = writeln!(md, "```mermaid");
        let _ = writeln!(
            md,
            "---\nconfig:\n  xyChart:\n    width: 900\n    height: 260\n  themeVariables:\n    xyChart:\n      plotColorPalette: \"{CHART_COLOR}\"\n---"
        );
        let _ = writeln!(md, "xychart-beta");
        let _ = writeln!(md, "    title \"{}: hourly median, p95 24h {}\"", mermaid_text(name), fmt_ms(*p95));
        let _ = writeln!(md, "    x-axis \"hour (UTC)\" [{}]", hours.join(", "));
        let _ = writeln!(md, "    y-axis \"ms\" 0 --> {}", nice_ceiling(max * 1.1));
        let vals: Vec<String> = line.iter().map(|v| format!("{v:.0}")).collect();
        let _ = writeln!(md, "    line [{}]", vals.join(", "));
        let _ = writeln!(md, "```\n");
    }
    if more > 0 {
        let _ = writeln!(
            md,
            "_{more} faster monitor{} not charted; {} p95 is in the table above._",
            if more == 1 { "" } else { "s" },
            if more == 1 { "its" } else { "their" }
        );
    }
}

/// A monitor is charted when its 24h p95 is at least this (ms).
const SLOW_P95_MS: f64 = 100.0;
/// The chart's line: GitHub's accent blue, legible on light and dark backgrounds.
const CHART_COLOR: &str = "#1f6feb";

/// A monitor name as Mermaid title text: no quotes or markup, bounded.
fn mermaid_text(s: &str) -> String {
    s.chars()
        .take(60)
        .map(|c| if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/') { c } else { '_' })
        .collect()
}

/// The y-axis top: a round multiple (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8) of a power of ten at or above `x`, so the ticks are round.
fn nice_ceiling(x: f64) -> f64 {
    if !x.is_finite() || x <= 1.0 {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= x)
        .unwrap_or(10.0 * p)
}

fn sev_icon(s: Severity) -> &'static str {
    match s {
        Severity::High => "🔴",
        Severity::Medium => "🟠",
        Severity::Low => "🔵",
    }
}

/// The one number that says most about a result.
pub fn key_metric(r: &CheckResult) -> String {
    let f = |k: &str| r.metric_f64(k);
    if r.status == Status::Skipped {
        return "—".into();
    }
    let mut parts = vec![];
    if let Some(code) = f("status_code") {
        parts.push(format!("HTTP {code}"));
    }
    if let Some(ms) = f("response_time_ms") {
        parts.push(if ms >= 1000.0 { format!("{:.2}s", ms / 1000.0) } else { format!("{ms:.0}ms") });
    }
    if let (Some(e), Some(n)) = (f("errors"), f("samples")) {
        if n > 1.0 {
            parts.push(format!("{e}/{n} errors"));
        }
    }
    // Memory monitors name their byte series (`memory_series`) and what bounds them.
    let used = r
        .metrics
        .get("memory_series")
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|n| n.as_str())
        .and_then(&f);
    let bytes = |v: f64| crate::config::duration::format_bytes(v.max(0.0) as u64);
    match (used, f("memory_limit"), f("percent")) {
        (Some(u), Some(l), Some(p)) => parts.push(format!("{} of {} ({p:.1}%)", bytes(u), bytes(l))),
        (_, _, Some(p)) => parts.push(format!("{p:.1}% memory")),
        (Some(u), _, None) => parts.push(format!("{} used", bytes(u))),
        _ => {}
    }
    if let Some(h) = f("hit_rate") {
        parts.push(format!("hit rate {:.1}%", h * 100.0));
    }
    if let Some(d) = f("days_left") {
        parts.push(format!("{d:.0} days left"));
    }
    crate::checks::kinds::summary_parts(r, &mut parts);
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(kind: &str, metrics: serde_json::Value) -> CheckResult {
        CheckResult {
            name: "m".into(),
            kind: kind.into(),
            target: String::new(),
            status: Status::Up,
            started_at: chrono::DateTime::UNIX_EPOCH,
            duration_ms: 0.0,
            metrics: metrics.as_object().cloned().unwrap_or_default(),
            error: None,
            message: None,
            last_checked_at: None,
            labels: Default::default(),
            depends_on: vec![],
            confirm: None,
            flapping: false,
            carry: None,
        }
    }

    #[test]
    fn key_metric_of_every_kind() {
        use serde_json::json;
        assert_eq!(
            key_metric(&result("http", json!({"status_code": 200, "response_time_ms": 1234.0}))),
            "HTTP 200 · 1.23s"
        );
        assert_eq!(
            key_metric(&result("status_page", json!({"indicator": "major", "incidents": 2}))),
            "major · 2 incidents"
        );
        assert_eq!(key_metric(&result("status_page", json!({"indicator": "none", "incidents": 0}))), "none");
        assert_eq!(key_metric(&result("railway", json!({"deployment_status": "CRASHED"}))), "CRASHED");
        assert_eq!(
            key_metric(&result("log_files", json!({"error_count": 3, "security_events": 25}))),
            "3 errors · 25 security events"
        );
        assert_eq!(key_metric(&result("log_files", json!({"error_count": 0, "security_events": 0}))), "0 errors");
    }
}
