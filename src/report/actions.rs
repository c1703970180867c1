//! GitHub Actions integration: step outputs (`$GITHUB_OUTPUT`, multi-line safe),
//! workflow-command annotations with GitHub's escaping, and `::add-mask::`.

use std::fmt::Write;

use super::model::Report;
use crate::config::Severity;
use crate::untrusted;

/// `name<<DELIM` blocks for `$GITHUB_OUTPUT`; a delimiter drawn from `seed` (the run's
/// `RunContext.seed`) that the value cannot contain.
pub fn outputs(report: &Report, report_path: &str, summary_path: Option<&str>, seed: u64) -> String {
    let c = &report.counts;
    let pairs = [
        ("status", report.status.as_str().to_string()),
        ("findings", c.findings.to_string()),
        ("high", c.high.to_string()),
        ("medium", c.medium.to_string()),
        ("low", c.low.to_string()),
        ("report-path", report_path.to_string()),
        ("summary-path", summary_path.unwrap_or("").to_string()),
    ];
    let mut out = String::new();
    for (k, v) in pairs {
        let mut delim = format!("ghadelimiter_{}", uuid_like(k, &v, seed));
        while v.contains(&delim) {
            delim.push('_');
        }
        let _ = write!(out, "{k}<<{delim}\n{v}\n{delim}\n");
    }
    out
}

fn uuid_like(k: &str, v: &str, seed: u64) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{k}{v}{seed}").as_bytes());
    hex::encode(&h[..12])
}

/// Longest annotation message and title (the runner shows annotations in a small box).
const MAX_ANNOTATION: usize = 4000;
const MAX_ANNOTATION_TITLE: usize = 255;

/// One `::error` / `::warning` / `::notice` line per finding, escaped by
/// [`untrusted::command_data`] and [`untrusted::command_property`].
pub fn annotations(report: &Report) -> String {
    let mut out = String::new();
    // An inconclusive run's findings say nothing about the targets: one warning instead.
    if let Some(why) = &report.run.inconclusive {
        let _ = writeln!(
            out,
            "::warning title={}::{}",
            untrusted::command_property("vaktpost run inconclusive", MAX_ANNOTATION_TITLE),
            untrusted::command_data(
                &format!("{why}; no issue was opened or closed and nothing was sent"),
                MAX_ANNOTATION
            )
        );
        return out;
    }
    for f in &report.findings {
        let level = match f.severity {
            Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low => "notice",
        };
        let title = format!("vaktpost {} ({})", f.fingerprint, f.severity.as_str());
        let _ = writeln!(
            out,
            "::{level} title={}::{}",
            untrusted::command_property(&title, MAX_ANNOTATION_TITLE),
            untrusted::command_data(&f.message, MAX_ANNOTATION)
        );
    }
    // An alert that failed (or went out only in part) says what to do where people look.
    for a in report.alerts.iter().filter(|a| a.error.is_some() && !report.run.dry_run) {
        let verb = serde_json::to_value(a.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let title = format!("vaktpost {} alert {} ({verb})", a.channel, a.fingerprint);
        let _ = writeln!(
            out,
            "::warning title={}::{}",
            untrusted::command_property(&title, MAX_ANNOTATION_TITLE),
            untrusted::command_data(a.error.as_deref().unwrap_or(""), MAX_ANNOTATION)
        );
    }
    out
}

/// `::add-mask::` lines so the runner hides secrets in every later log line.
pub fn masks(secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.contains('\n'))
        .map(|s| format!("::add-mask::{}\n", untrusted::mask_value(s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_exact_value() {
        assert_eq!(masks(&["50%\rx".into(), "two\nlines".into()]), "::add-mask::50%25%0Dx\n");
    }
}
