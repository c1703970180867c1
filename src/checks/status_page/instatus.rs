//! Instatus's `/summary.json`: `page.status` (`UP | HASISSUES | UNDERMAINTENANCE`),
//! `activeIncidents[]` and `activeMaintenances[]`. Components come from a separate API,
//! so they are read only when a `components` array is present.

use serde_json::Value;

use super::{arr, first_s, s, Component, Event, Level, Page};

pub fn parse(doc: &Value) -> Result<Page, String> {
    let Some(raw) = doc.pointer("/page/status").and_then(Value::as_str) else {
        return Err("no page.status: not an Instatus summary.json".into());
    };
    let mut page = Page::default();
    page.indicator = Some(match super::norm(raw).as_str() {
        "up" => Level::None,
        "hasissues" => Level::Minor,
        "undermaintenance" => Level::Maintenance,
        _ => {
            page.unrecognized.push(format!("page.status: {raw}"));
            Level::Minor
        }
    });
    for i in arr(doc, "activeIncidents") {
        let title = first_s(i, &["name", "title"]).unwrap_or("(untitled incident)").to_string();
        let level = page.incident_level(&title, s(i, "impact"));
        page.incidents.push(Event { url: s(i, "url").map(str::to_string), level, components: vec![], title });
    }
    for m in arr(doc, "activeMaintenances") {
        let st = super::norm(s(m, "status").unwrap_or(""));
        if matches!(st.as_str(), "notstartedyet" | "scheduled" | "completed") {
            continue;
        }
        let title = first_s(m, &["name", "title"]).unwrap_or("(untitled maintenance)").to_string();
        page.maintenances.push(Event {
            url: s(m, "url").map(str::to_string),
            level: Level::Maintenance,
            components: vec![],
            title,
        });
    }
    if let Some(comps) = doc.get("components").and_then(Value::as_array) {
        page.lists_all_components = true;
        for c in comps {
            let Some(name) = s(c, "name") else { continue };
            let status = page.comp_status(name, s(c, "status").unwrap_or(""));
            let group = c.pointer("/group/name").and_then(Value::as_str).map(str::to_string);
            page.components.push(Component { name: name.to_string(), group, status });
        }
    }
    Ok(page)
}
