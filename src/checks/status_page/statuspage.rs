//! Atlassian Statuspage's `/api/v2/summary.json`, also served by incident.io pages (OpenAI's)
//! as a compatible API: `status.indicator`, `components[]` (groups are containers whose
//! members carry `group_id`), unresolved `incidents[]` and `scheduled_maintenances[]`.

use serde_json::Value;
use url::Url;

use super::{arr, first_s, s, Component, Event, Level, Page};

pub fn parse(doc: &Value, fetched: &Url) -> Result<Page, String> {
    let indicator_raw = doc.pointer("/status/indicator").and_then(Value::as_str);
    // Keys that are present but null, or a components list with nothing named in it, say
    // nothing about the page: reading them as "no trouble" would report `up` for `{}`.
    let named = arr(doc, "components").iter().any(|c| s(c, "name").is_some());
    if indicator_raw.is_none() && !named {
        return Err(format!("not a Statuspage summary: {}", missing(doc)));
    }
    let mut page = Page { lists_all_components: true, ..Page::default() };
    if let Some(raw) = indicator_raw {
        page.indicator = Some(Level::from_indicator(raw).unwrap_or_else(|| {
            page.unrecognized.push(format!("indicator: {raw}"));
            Level::Minor
        }));
    }
    page.description = doc.pointer("/status/description").and_then(Value::as_str).map(str::to_string);
    // Incident links: `shortlink`, else the page's own incident URL.
    let base = doc
        .pointer("/page/url")
        .and_then(Value::as_str)
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| fetched.origin().ascii_serialization());

    let comps = arr(doc, "components");
    let group_name =
        |id: &str| comps.iter().find(|c| s(c, "id") == Some(id)).and_then(|c| s(c, "name")).map(str::to_string);
    for c in comps {
        if c.get("group").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let Some(name) = s(c, "name") else { continue };
        let raw = s(c, "status").unwrap_or("");
        let status = page.comp_status(name, raw);
        let group = s(c, "group_id").and_then(group_name);
        page.components.push(Component { name: name.to_string(), group, status });
    }

    for i in arr(doc, "incidents") {
        let st = super::norm(s(i, "status").unwrap_or(""));
        if matches!(st.as_str(), "resolved" | "postmortem" | "completed") {
            continue;
        }
        let title = s(i, "name").unwrap_or("(untitled incident)").to_string();
        let level = page.incident_level(&title, s(i, "impact"));
        page.incidents.push(Event { url: link(i, &base, "incidents"), level, components: names(i), title });
    }
    for m in arr(doc, "scheduled_maintenances") {
        // Only maintenances under way; `scheduled` ones are announcements.
        let st = super::norm(s(m, "status").unwrap_or(""));
        if !matches!(st.as_str(), "inprogress" | "verifying" | "maintenanceinprogress") {
            continue;
        }
        let title = s(m, "name").unwrap_or("(untitled maintenance)").to_string();
        page.maintenances.push(Event {
            url: link(m, &base, "incidents"),
            level: Level::Maintenance,
            components: names(m),
            title,
        });
    }
    Ok(page)
}

/// What the document lacks, in the words of its own keys.
fn missing(doc: &Value) -> String {
    let status = match doc.get("status") {
        None => "no status",
        Some(Value::Null) => "status is null",
        Some(v) if v.get("indicator").is_some_and(|i| !i.is_null()) => "status.indicator is not a string",
        Some(_) => "no status.indicator",
    };
    let components = match doc.get("components") {
        None => "no components",
        Some(Value::Null) => "components is null",
        Some(Value::Array(a)) if a.is_empty() => "components is empty",
        Some(Value::Array(_)) => "no component has a name",
        Some(_) => "components is not a list",
    };
    format!("{status} and {components}")
}

fn link(e: &Value, base: &str, kind: &str) -> Option<String> {
    first_s(e, &["shortlink", "url"]).map(str::to_string).or_else(|| s(e, "id").map(|id| format!("{base}/{kind}/{id}")))
}

/// Names of the components an incident lists (objects with `name`).
fn names(e: &Value) -> Vec<String> {
    arr(e, "components").iter().filter_map(|c| s(c, "name")).map(str::to_string).collect()
}
