//! Checkly status pages: a top-level `status` (`OPERATIONAL`, `HAS_ISSUES`,
//! `UNDER_MAINTENANCE`, …), the page's services (`services[]`, or grouped in `cards[]` as
//! Checkly's dashboard groups them) and `incidents[]` whose `severity` is one of Checkly's
//! four (`MINOR`, `MEDIUM`, `MAJOR`, `CRITICAL`) and whose `affectedServices[]` name the
//! services hit. Checkly documents no public JSON for its pages, so the names follow its
//! API (`severity`, `lastUpdateStatus`, `services`) and are read under each spelling seen.

use serde_json::Value;

use super::{arr, first_s, s, CompStatus, Component, Event, Level, Page};

/// Checkly's incident severities on the indicator scale. `MEDIUM` sits above `MINOR`, so
/// it is `major` (a medium `provider_degraded`), like `MAJOR`.
pub fn severity(raw: &str) -> Option<Level> {
    match super::norm(raw).as_str() {
        "minor" | "low" => Some(Level::Minor),
        "medium" | "major" | "high" => Some(Level::Major),
        "critical" => Some(Level::Critical),
        "maintenance" => Some(Level::Maintenance),
        _ => None,
    }
}

/// Incidents as Checkly lists them, under either key.
fn incident_list(doc: &Value) -> impl Iterator<Item = &Value> {
    arr(doc, "incidents").iter().chain(arr(doc, "activeIncidents"))
}

/// Whether `doc` has Checkly's shape: incidents with `affectedServices` or a Checkly
/// severity word, or a top-level status word with services or cards beside it.
pub fn is_checkly(doc: &Value) -> bool {
    let checkly_incident =
        |i: &Value| i.get("affectedServices").is_some() || s(i, "severity").and_then(severity).is_some();
    let status_word = s(doc, "status").is_some_and(|w| {
        matches!(
            super::norm(w).as_str(),
            "operational"
                | "hasissues"
                | "undermaintenance"
                | "maintenance"
                | "degraded"
                | "partialoutage"
                | "majoroutage"
        )
    });
    doc.get("components").is_none()
        && (incident_list(doc).any(checkly_incident)
            || (status_word
                && (doc.get("services").is_some_and(Value::is_array) || doc.get("cards").is_some_and(Value::is_array))))
}

pub fn parse(doc: &Value) -> Result<Page, String> {
    if !is_checkly(doc) {
        return Err("no status with services or incidents with affectedServices: not a Checkly status page".into());
    }
    let mut page = Page::default();
    if let Some(raw) = s(doc, "status") {
        page.indicator = Some(match super::norm(raw).as_str() {
            "operational" | "up" => Level::None,
            "hasissues" | "degraded" => Level::Minor,
            "undermaintenance" | "maintenance" => Level::Maintenance,
            other => match CompStatus::parse(other) {
                Some(c) => c.level(),
                None => {
                    page.unrecognized.push(format!("status: {raw}"));
                    Level::Minor
                }
            },
        });
    }
    page.description = first_s(doc, &["statusDescription", "description"]).map(str::to_string);

    // Services: the page's full list when it gives one.
    let mut listed = false;
    for svc in arr(doc, "services") {
        listed = true;
        push_service(&mut page, svc, None);
    }
    for card in arr(doc, "cards") {
        listed = true;
        let group = first_s(card, &["name", "title"]).map(str::to_string);
        for svc in arr(card, "services") {
            push_service(&mut page, svc, group.clone());
        }
    }
    page.lists_all_components = listed;

    for i in incident_list(doc) {
        let state = first_s(i, &["lastUpdateStatus", "status"]).unwrap_or("");
        if matches!(super::norm(state).as_str(), "resolved" | "completed" | "postmortem") {
            continue;
        }
        let title = first_s(i, &["name", "title"]).unwrap_or("(untitled incident)").to_string();
        let level = match s(i, "severity") {
            Some(raw) => severity(raw).unwrap_or_else(|| {
                page.unrecognized.push(format!("severity of {title:?}: {raw}"));
                Level::Minor
            }),
            None => Level::Minor,
        }
        .max(Level::Minor);
        let names = affected(i);
        // A service an incident names is at least as bad as the incident (the page's own
        // word for it, when it gives one, may lag behind).
        for name in &names {
            let status = match level {
                Level::Critical => CompStatus::MajorOutage,
                Level::Major => CompStatus::PartialOutage,
                _ => CompStatus::Degraded,
            };
            match page.components.iter_mut().find(|c| c.name == *name) {
                Some(c) if c.status == CompStatus::Operational || c.status.level() < status.level() => {
                    c.status = status
                }
                Some(_) => {}
                None => page.components.push(Component { name: name.clone(), group: None, status }),
            }
        }
        page.incidents.push(Event {
            url: first_s(i, &["url", "link", "permalink"]).map(str::to_string),
            level,
            components: names,
            title,
        });
    }
    Ok(page)
}

fn push_service(page: &mut Page, svc: &Value, group: Option<String>) {
    let Some(name) = first_s(svc, &["name", "title"]) else { return };
    let status = match first_s(svc, &["status", "state"]) {
        Some(raw) => page.comp_status(name, raw),
        None => CompStatus::Operational,
    };
    page.components.push(Component { name: name.to_string(), group, status });
}

/// The names of the services an incident affects: strings, or objects with `name`.
fn affected(i: &Value) -> Vec<String> {
    ["affectedServices", "services"]
        .iter()
        .flat_map(|k| arr(i, k))
        .filter_map(|c| c.as_str().or_else(|| s(c, "name")).map(str::to_string))
        .collect()
}
