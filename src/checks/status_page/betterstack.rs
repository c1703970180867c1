//! Better Stack (Better Uptime) status pages' `/index.json`, JSON:API style:
//! `data.attributes.aggregate_state` (`operational | degraded | downtime | maintenance`),
//! and in `included[]` the resources (components), their sections (groups) and the
//! status reports (incidents and maintenances).

use serde_json::Value;

use super::{arr, first_s, s, Component, Event, Level, Page};

pub fn parse(doc: &Value) -> Result<Page, String> {
    let Some(raw) = doc.pointer("/data/attributes/aggregate_state").and_then(Value::as_str) else {
        return Err("no data.attributes.aggregate_state: not a Better Stack index.json".into());
    };
    let mut page = Page { lists_all_components: true, ..Page::default() };
    page.indicator = Some(match super::norm(raw).as_str() {
        "operational" => Level::None,
        "degraded" => Level::Minor,
        "downtime" => Level::Major,
        "maintenance" => Level::Maintenance,
        _ => {
            page.unrecognized.push(format!("aggregate_state: {raw}"));
            Level::Minor
        }
    });
    let included = arr(doc, "included");
    let section = |id: &Value| {
        included
            .iter()
            .find(|x| s(x, "type") == Some("status_page_section") && x.get("id").map(id_str) == Some(id_str(id)))
            .and_then(|x| x.pointer("/attributes/name").and_then(Value::as_str))
            .map(str::to_string)
    };
    for x in included {
        let Some(a) = x.get("attributes") else { continue };
        match s(x, "type") {
            Some("status_page_resource") => {
                let Some(name) = first_s(a, &["public_name", "name"]) else { continue };
                let status = page.comp_status(name, s(a, "status").unwrap_or(""));
                let group = a.get("status_page_section_id").and_then(section);
                page.components.push(Component { name: name.to_string(), group, status });
            }
            Some("status_report") => {
                // Reports that have ended are history.
                if a.get("ends_at").is_some_and(|v| !v.is_null()) {
                    continue;
                }
                let state = s(a, "aggregate_state").unwrap_or("");
                if matches!(super::norm(state).as_str(), "operational" | "resolved") {
                    continue;
                }
                let title = first_s(a, &["title", "name"]).unwrap_or("(untitled report)").to_string();
                let url = first_s(a, &["url", "public_url"]).map(str::to_string);
                if s(a, "report_type") == Some("maintenance") || super::norm(state) == "maintenance" {
                    page.maintenances.push(Event { url, level: Level::Maintenance, components: vec![], title });
                } else {
                    let level = page.incident_level(&title, Some(state));
                    page.incidents.push(Event { url, level, components: vec![], title });
                }
            }
            _ => {}
        }
    }
    Ok(page)
}

/// JSON:API ids are strings, but some pages write numbers.
fn id_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
