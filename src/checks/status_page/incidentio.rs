//! incident.io's widget API (`/api/v1/summary`): `ongoing_incidents[]` with
//! `current_worst_impact` (`degraded_performance | partial_outage | full_outage`) and
//! `affected_components[]`, and `in_progress_maintenances[]`. It lists only affected
//! components, so a watched component it does not name is operational.
//! (incident.io's Statuspage-compatible `/api/v2/summary.json` is read by `statuspage`.)

use serde_json::Value;

use super::{arr, first_s, s, CompStatus, Component, Event, Level, Page};

pub fn is_widget(doc: &Value) -> bool {
    doc.get("ongoing_incidents").is_some_and(Value::is_array)
        || doc.get("in_progress_maintenances").is_some_and(Value::is_array)
}

pub fn parse(doc: &Value) -> Result<Page, String> {
    if !is_widget(doc) {
        return Err("no ongoing_incidents or in_progress_maintenances: not incident.io's widget API".into());
    }
    let mut page = Page { lists_all_components: false, ..Page::default() };
    for i in arr(doc, "ongoing_incidents") {
        let st = super::norm(s(i, "status").unwrap_or(""));
        if st == "resolved" {
            continue;
        }
        let title = s(i, "name").unwrap_or("(untitled incident)").to_string();
        let impact = s(i, "current_worst_impact");
        let level = page.incident_level(&title, impact);
        let comps = affected(i);
        for (name, group, raw) in &comps {
            // A component's own status when given, else the incident's worst impact.
            let status = match raw.as_deref().or(impact) {
                Some(raw) => page.comp_status(name, raw),
                None => CompStatus::Degraded,
            };
            push_worst(&mut page, name, group.clone(), status);
        }
        page.incidents.push(Event {
            url: first_s(i, &["url", "permalink"]).map(str::to_string),
            level,
            components: comps.into_iter().map(|c| c.0).collect(),
            title,
        });
    }
    for m in arr(doc, "in_progress_maintenances") {
        let title = s(m, "name").unwrap_or("(untitled maintenance)").to_string();
        let comps = affected(m);
        for (name, group, _) in &comps {
            push_worst(&mut page, name, group.clone(), CompStatus::Maintenance);
        }
        page.maintenances.push(Event {
            url: first_s(m, &["url", "permalink"]).map(str::to_string),
            level: Level::Maintenance,
            components: comps.into_iter().map(|c| c.0).collect(),
            title,
        });
    }
    Ok(page)
}

/// `(name, group_name, status)` of each affected component.
fn affected(e: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    arr(e, "affected_components")
        .iter()
        .filter_map(|c| {
            let name = s(c, "name")?.to_string();
            Some((
                name,
                s(c, "group_name").map(str::to_string),
                first_s(c, &["current_status", "status"]).map(str::to_string),
            ))
        })
        .collect()
}

/// A component named by several events keeps its worst status.
fn push_worst(page: &mut Page, name: &str, group: Option<String>, status: CompStatus) {
    match page.components.iter_mut().find(|c| c.name == name && c.group == group) {
        Some(c) if status.level() > c.status.level() => c.status = status,
        Some(_) => {}
        None => page.components.push(Component { name: name.to_string(), group, status }),
    }
}
