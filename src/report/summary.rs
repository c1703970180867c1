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

pub fn render(report: &Report, title: Option<&str>, max_rows: usize) -> String {
    let mut md = String::new();
    let c = &report.counts;
    let ran = c.up + c.degraded + c.down;
    let (icon, headline) = match report.status {
        RunStatus::Inconclusive => ("❔", "inconclusive: the runner could not reach the network".to_string()),
        RunStatus::Down => ("🔴", format!("{} of {ran} monitors down", c.down)),
        RunStatus::Degraded => ("🟡", format!("{} of {ran} monitors degraded", c.degraded)),
        _ if ran == 0 => ("⚪", "no monitor was due".to_string()),
        _ => ("🟢", format!("all {ran} monitors up")),
    };
    let title = title.unwrap_or("vaktpost");
    let _ = writeln!(md, "## {icon} {}: {headline}\n", cell(title));
    if let Some(why) = &report.run.inconclusive {
        let _ = writeln!(
            md,
            "> [!WARNING]\n> **This run is inconclusive**: {}. Its failures say nothing about the targets, so no issue was opened or closed, nothing was sent, and every streak was kept for the next run.\n",
            cell(why)
        );
    }
    let mut facts = vec![];
    if c.skipped > 0 {
        facts.push(format!("{} skipped", c.skipped));
    }
    facts.push(format!("{} finding{}", c.findings, if c.findings == 1 { "" } else { "s" }));
    if c.findings > 0 {
        facts.push(format!("🔴 {} high · 🟠 {} medium · 🔵 {} low", c.high, c.medium, c.low));
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

    // Security events get their own section below, so they are not listed twice.
    let is_security = |f: &&Finding| f.category.as_deref() == Some("security");
    if report.findings.iter().any(|f| !is_security(&f)) {
        let _ = writeln!(md, "### Findings\n");
        for sev in [Severity::High, Severity::Medium, Severity::Low] {
            let list: Vec<_> = report.findings.iter().filter(|f| f.severity == sev && !is_security(f)).collect();
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(md, "**{} {}**\n", sev_icon(sev), sev.as_str());
            for f in list.iter().take(max_rows) {
                let carried = if f.carried_over { " _(from the last check)_" } else { "" };
                let _ = writeln!(md, "- {} {}{carried}", code(&f.fingerprint), cell(&f.message));
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
            let first = format!("`{}` {}", c.first_error.kind.as_str(), c.first_error.message);
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
    }
    if !report.notes.is_empty() {
        let _ = writeln!(md, "\n### Notes\n");
        for n in &report.notes {
            let _ = writeln!(md, "- {}", cell(n));
        }
    }
    if let Some(u) = &report.run.github_run_url {
        let _ = writeln!(md, "\n<sub>[workflow run]({u}) · vaktpost {}</sub>", report.tool.version);
    }
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
            cell(&g.message),
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

/// Most lines in the response-time chart: the slowest monitors by 24h p95.
const CHART_LINES: usize = 3;

/// A Mermaid `xychart-beta` of hourly median response times over the last 24h for the
/// slowest monitors (a few KiB at most). Hours without a sample repeat the last known value.
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
    slow.truncate(CHART_LINES);
    let max = slow.iter().flat_map(|s| s.2.iter()).fold(0f64, |a, b| a.max(*b));
    let _ = writeln!(md, "\n### Response time, last 24h\n");
    let _ = writeln!(md, "```mermaid\nxychart-beta");
    let _ = writeln!(md, "    title \"Hourly median response time (ms)\"");
    let hours: Vec<String> =
        (0..24).rev().map(|h| if h == 0 { "\"now\"".into() } else { format!("\"-{h}h\"") }).collect();
    let _ = writeln!(md, "    x-axis [{}]", hours.join(", "));
    let _ = writeln!(md, "    y-axis \"ms\" 0 --> {}", (max * 1.1).ceil().max(1.0));
    for (_, _, line) in &slow {
        let vals: Vec<String> = line.iter().map(|v| format!("{v:.0}")).collect();
        let _ = writeln!(md, "    line [{}]", vals.join(", "));
    }
    let _ = writeln!(md, "```\n");
    let legend: Vec<String> = slow
        .iter()
        .enumerate()
        .map(|(i, (n, p95, _))| format!("{}. {} (p95 {})", i + 1, code(n), fmt_ms(*p95)))
        .collect();
    let _ = writeln!(md, "Lines in order: {}", legend.join(" · "));
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
