//! The console: the state and what changed in its first two lines (as the job summary),
//! then one line per monitor, aligned, then findings and the counts. Plain text so it
//! reads the same in a terminal and in a CI log; every field goes through
//! [`untrusted::console`], so nothing a target sends can start a workflow command.

use std::fmt::Write;

use super::model::Report;
use super::summary::key_metric;
use crate::untrusted;

/// Longest details or finding message on one console line.
const MAX_DETAILS: usize = 2000;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    // Line 1: the state; line 2: what changed (the job summary's first two lines).
    let (icon, headline) = super::summary::headline(report);
    let _ = writeln!(out, "{icon} {}", untrusted::console(&headline, MAX_DETAILS));
    let _ = writeln!(out, "{}\n", untrusted::console(&super::summary::changed_line(report), MAX_DETAILS));
    let w = report.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(7).clamp(7, 40);
    let _ = writeln!(out, "{:<w$}  {:<11}  {:<8}  {:<28}  DETAILS", "MONITOR", "TYPE", "STATUS", "METRIC");
    for c in &report.checks {
        let details = c
            .error
            .as_ref()
            .map(|e| format!("[{}] {}", e.kind.as_str(), e.message))
            .or_else(|| c.message.clone())
            .unwrap_or_default();
        let name = untrusted::console(&c.name, 40);
        let _ = writeln!(
            out,
            "{name:<w$}  {:<11}  {:<8}  {:<28}  {}",
            untrusted::console(&c.kind, 40),
            c.status.as_str(),
            untrusted::console(&key_metric(c), 200),
            untrusted::console(&details, MAX_DETAILS)
        );
    }
    if !report.findings.is_empty() {
        let _ = writeln!(out, "\nFINDINGS");
        for f in &report.findings {
            let _ = writeln!(
                out,
                "  {:<6}  {}  {}",
                f.severity.as_str(),
                untrusted::console(&f.fingerprint, 200),
                untrusted::console(&f.message, MAX_DETAILS)
            );
        }
    }
    let c = &report.counts;
    let _ = writeln!(
        out,
        "\n{}: {} up, {} degraded, {} down, {} skipped; {} findings ({} high, {} medium, {} low) in {:.2}s",
        report.status.as_str(),
        c.up,
        c.degraded,
        c.down,
        c.skipped,
        c.findings,
        c.high,
        c.medium,
        c.low,
        report.run.duration_ms / 1000.0
    );
    out
}
