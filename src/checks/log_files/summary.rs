//! The `log_files` kind's section of the job summary: "Logs".

use std::fmt::Write;

use crate::checks::{CheckResult, Status};
use crate::markdown::{cell, code, code_cell};
use crate::values::duration::format_bytes;

/// "Logs": per `log_files` monitor, rotation health, this run's top error groups and
/// security events by category. Absent when no `log_files` monitor ran.
pub(super) fn logs(all: &[CheckResult], md: &mut String, max_rows: usize) {
    let list: Vec<&CheckResult> =
        all.iter().filter(|r| r.kind == "log_files" && r.status != Status::Skipped).collect();
    if list.is_empty() {
        return;
    }
    let _ = writeln!(md, "### Logs\n");
    let bytes = |k: &str, r: &CheckResult| format_bytes(r.metric_f64(k).unwrap_or(0.0) as u64);
    for r in list.iter().take(max_rows) {
        let n = |k: &str| r.metric_f64(k).unwrap_or(0.0);
        if let Some(e) = &r.error {
            let _ = writeln!(md, "**{}** {} {}\n", cell(&r.name), r.status.emoji(), cell(&e.message));
            continue;
        }
        let mut facts = vec![format!(
            "{} file{} ({} rotated, {} compressed), {} in all",
            n("files"),
            if n("files") == 1.0 { "" } else { "s" },
            n("rotated_files"),
            n("compressed_files"),
            bytes("total_bytes", r)
        )];
        if let Some(f) = r.metrics.get("largest_file").and_then(|v| v.as_str()) {
            facts.push(format!("largest {} {}", code(f), bytes("largest_bytes", r)));
        }
        if let Some(a) = r.metrics.get("oldest_uncompressed_age").and_then(|v| v.as_str()) {
            facts.push(format!("oldest uncompressed rotated file {}", cell(a)));
        }
        facts.push(format!("{} read this run", bytes("bytes_read", r)));
        let _ = writeln!(md, "**{}** {} {}\n", cell(&r.name), r.status.emoji(), facts.join(" · "));
        if let Some(m) = &r.message {
            let _ = writeln!(md, "- ⚠️ rotation: {}", cell(m));
        }
        let skipped = n("binary_lines_skipped");
        let _ = writeln!(
            md,
            "- {} error events in {} groups ({} new){}",
            n("error_count"),
            n("error_groups_total"),
            n("new_error_groups"),
            if skipped > 0.0 { format!("; {skipped} binary lines skipped") } else { String::new() }
        );
        let sec = r.metrics.get("security_summary").and_then(|v| v.as_str()).unwrap_or("");
        let _ = writeln!(
            md,
            "- {} security events{}\n",
            n("security_events"),
            if sec.is_empty() { String::new() } else { format!(" ({})", cell(sec)) }
        );
        let groups = r.metrics.get("error_groups").and_then(|v| v.as_array()).cloned().unwrap_or_default();
        if !groups.is_empty() {
            let _ = writeln!(md, "| Error group | Count | First seen | Last seen | Sample |");
            let _ = writeln!(md, "|---|---|---|---|---|");
            for g in groups.iter().take(max_rows) {
                let s = |k: &str| g.get(k).and_then(|v| v.as_str()).unwrap_or("");
                let new = if g.get("new").and_then(|v| v.as_bool()) == Some(true) { " 🆕" } else { "" };
                let _ = writeln!(
                    md,
                    "| {}{new} | {} | {} | {} | {} |",
                    code_cell(s("fingerprint")),
                    g.get("count").and_then(|v| v.as_u64()).unwrap_or(0),
                    cell(s("first_seen")),
                    cell(s("last_seen")),
                    cell(s("sample"))
                );
            }
            md.push('\n');
        }
    }
}

