//! The `status_page` kind's parts of the job summary: the "Upstream status" section and
//! the note on a failing monitor's row when a provider it `depends_on` reports trouble.

use std::fmt::Write;

use crate::checks::{CheckResult, Status};
use crate::markdown::{cell, code, safe_link};

/// This kind's `type:`.
const KIND: &str = "status_page";

/// The `depends_on` status pages of `r` that report anything but `none`: (name, indicator).
pub(super) fn upstream_troubles<'a>(all: &'a [CheckResult], r: &CheckResult) -> Vec<(&'a str, &'a str)> {
    r.depends_on
        .iter()
        .filter_map(|d| all.iter().find(|c| &c.name == d && c.kind == KIND))
        .filter_map(|c| {
            let i = c.metrics.get("indicator").and_then(|v| v.as_str())?;
            (i != "none").then_some((c.name.as_str(), i))
        })
        .collect()
}

/// "Upstream status": what the `status_page` monitors report (incidents with links,
/// affected components, maintenances), then every failing monitor whose `depends_on`
/// names one of them, so a reader sees that the provider's incident may explain it.
/// Absent when no status page reports anything.
pub(super) fn upstream_status(all: &[CheckResult], md: &mut String, max_rows: usize, max_bytes: usize) {
    let strs = |r: &CheckResult, k: &str| -> Vec<String> {
        r.metrics
            .get(k)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    };
    let indicator = |r: &CheckResult| r.metrics.get("indicator").and_then(|v| v.as_str()).unwrap_or("none").to_string();
    let pages: Vec<&CheckResult> =
        all.iter().filter(|r| r.kind == KIND && indicator(r) != "none").collect();
    if pages.is_empty() {
        return;
    }
    // Incident titles as links, when the provider gave a usable one.
    let incidents = |r: &CheckResult| -> Vec<String> {
        let urls = strs(r, "incident_urls");
        strs(r, "incident_titles")
            .iter()
            .enumerate()
            .map(|(i, t)| match urls.get(i).filter(|u| safe_link(u)) {
                Some(u) => format!("[{}]({u})", cell(t)),
                None => cell(t),
            })
            .collect()
    };
    let _ = writeln!(md, "### Upstream status\n");
    // A quarter of the summary's budget at most, so the monitors table always fits.
    let budget = md.len() + max_bytes / 4;
    for p in pages.iter().take(max_rows) {
        if md.len() > budget {
            let _ = writeln!(md, "- …more upstream problems in the JSON report");
            break;
        }
        let _ = writeln!(md, "- {} **{}** reports {}", p.status.emoji(), cell(&p.name), code(&indicator(p)));
        for i in incidents(p).iter().take(10) {
            let _ = writeln!(md, "  - incident: {i}");
        }
        let comps = strs(p, "affected_components");
        if !comps.is_empty() {
            let shown: Vec<String> = comps.iter().take(10).map(|c| cell(c)).collect();
            let more = if comps.len() > 10 { format!(" and {} more", comps.len() - 10) } else { String::new() };
            let _ = writeln!(md, "  - components: {}{more}", shown.join(", "));
        }
        for m in strs(p, "maintenance_titles").iter().take(5) {
            let _ = writeln!(md, "  - maintenance: {}", cell(m));
        }
    }
    let affected: Vec<(&CheckResult, Vec<&CheckResult>)> = all
        .iter()
        .filter(|r| matches!(r.status, Status::Down | Status::Degraded) && r.kind != KIND)
        .filter_map(|r| {
            let ups: Vec<&CheckResult> =
                r.depends_on.iter().filter_map(|d| pages.iter().find(|p| &p.name == d).copied()).collect();
            (!ups.is_empty()).then_some((r, ups))
        })
        .collect();
    if !affected.is_empty() {
        let _ = writeln!(md, "\n**Failing monitors whose provider reports trouble**\n");
        for (r, ups) in affected.iter().take(max_rows) {
            if md.len() > budget + max_bytes / 8 {
                let _ = writeln!(md, "- …more in the JSON report");
                break;
            }
            let why: Vec<String> = ups
                .iter()
                .map(|u| {
                    let inc = incidents(u);
                    let what = if inc.is_empty() { String::new() } else { format!(": {}", inc.join(", ")) };
                    format!("{} reports {}{what}", code(&u.name), cell(&indicator(u)))
                })
                .collect();
            let _ = writeln!(
                md,
                "- {} {} is {} while {}",
                r.status.emoji(),
                code(&r.name),
                r.status.as_str(),
                why.join("; ")
            );
        }
    }
    md.push('\n');
}

