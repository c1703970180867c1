//! Railway's own status API (`https://api.railwaystatus.com/status`): `components[]` whose
//! entries may nest further components (groups), `incidents[]` and `maintenances[]`.
//! Status names are compared case-insensitively (`OPERATIONAL`, `Degraded`, …), and the
//! nested list and title keys are read under each name Railway has used.

use serde_json::Value;

use super::{arr, first_s, s, Component, Event, Level, Page};

const CHILDREN: &[&str] = &["children", "components", "subcomponents", "items"];

pub fn parse(doc: &Value) -> Result<Page, String> {
    if !doc.get("components").is_some_and(Value::is_array) {
        return Err("no components array: not Railway's status API".into());
    }
    let mut page = Page { lists_all_components: true, ..Page::default() };
    if let Some(raw) = first_s(doc, &["status", "indicator"]) {
        page.indicator = Some(
            Level::from_indicator(raw).or_else(|| super::CompStatus::parse(raw).map(|c| c.level())).unwrap_or_else(
                || {
                    page.unrecognized.push(format!("status: {raw}"));
                    Level::Minor
                },
            ),
        );
    }
    walk(&mut page, arr(doc, "components"), None, 0);
    for i in arr(doc, "incidents") {
        let st = super::norm(s(i, "status").unwrap_or(""));
        if matches!(st.as_str(), "resolved" | "completed" | "postmortem") {
            continue;
        }
        let title = first_s(i, &["title", "name"]).unwrap_or("(untitled incident)").to_string();
        let level = page.incident_level(&title, first_s(i, &["impact", "severity"]));
        page.incidents.push(Event {
            url: first_s(i, &["url", "link", "shortlink"]).map(str::to_string),
            level,
            components: names(i),
            title,
        });
    }
    for m in arr(doc, "maintenances") {
        let st = super::norm(s(m, "status").unwrap_or(""));
        if matches!(st.as_str(), "scheduled" | "upcoming" | "notstarted" | "notstartedyet" | "completed" | "resolved") {
            continue;
        }
        let title = first_s(m, &["title", "name"]).unwrap_or("(untitled maintenance)").to_string();
        page.maintenances.push(Event {
            url: first_s(m, &["url", "link", "shortlink"]).map(str::to_string),
            level: Level::Maintenance,
            components: names(m),
            title,
        });
    }
    Ok(page)
}

/// Leaves become components; an entry with children is a group (its own status is a
/// roll-up of theirs) and names them. Depth is bounded against hostile nesting.
fn walk(page: &mut Page, list: &[Value], group: Option<&str>, depth: usize) {
    if depth > 8 {
        return;
    }
    for c in list {
        let Some(name) = first_s(c, &["name", "title"]) else { continue };
        let children = CHILDREN.iter().map(|k| arr(c, k)).find(|a| !a.is_empty());
        match children {
            Some(kids) => walk(page, kids, Some(name), depth + 1),
            None => {
                let status = page.comp_status(name, s(c, "status").unwrap_or(""));
                page.components.push(Component { name: name.to_string(), group: group.map(str::to_string), status });
            }
        }
    }
}

/// Affected component names: strings, or objects with `name`.
fn names(e: &Value) -> Vec<String> {
    ["components", "affectedComponents", "affected_components"]
        .iter()
        .flat_map(|k| arr(e, k))
        .filter_map(|c| c.as_str().or_else(|| s(c, "name")).map(str::to_string))
        .collect()
}
