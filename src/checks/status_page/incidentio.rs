//! incident.io's widget API (`/api/v1/summary`): `ongoing_incidents[]` with
//! `current_worst_impact` (`degraded_performance | partial_outage | full_outage`) and
//! `affected_components[]`, and `in_progress_maintenances[]`. It lists only affected
//! components, so a watched component it does not name is operational.
//! (incident.io's Statuspage-compatible `/api/v2/summary.json` is read by `statuspage`.)
//!
//! Also the grouped feed the page itself loads, `/proxy/<page host>`
//! (`https://status.openai.com/proxy/status.openai.com`): `summary.components[]` (every
//! component, by id), `summary.affected_components[]` (`component_id` + `status`; the
//! rest are operational), `summary.ongoing_incidents[]`, maintenances, and
//! `summary.structure.items[]` giving each component's group.

use serde_json::Value;

use super::{arr, first_s, s, CompStatus, Component, Event, Level, Page};

pub fn is_widget(doc: &Value) -> bool {
    doc.get("ongoing_incidents").is_some_and(Value::is_array)
        || doc.get("in_progress_maintenances").is_some_and(Value::is_array)
}

/// The `/proxy/<page>` feed: everything under `summary`.
pub fn is_proxy(doc: &Value) -> bool {
    doc.get("summary").is_some_and(|x| {
        x.is_object()
            && (x.get("components").is_some_and(Value::is_array)
                || x.get("ongoing_incidents").is_some_and(Value::is_array)
                || x.get("affected_components").is_some_and(Value::is_array))
    })
}

pub fn parse(doc: &Value) -> Result<Page, String> {
    if is_proxy(doc) {
        return parse_proxy(doc.get("summary").unwrap_or(&Value::Null));
    }
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

/// The grouped `/proxy/<page>` feed's `summary`.
fn parse_proxy(sum: &Value) -> Result<Page, String> {
    let id_of = |c: &Value| first_s(c, &["component_id", "id"]).map(str::to_string);
    // Group names by component id, from `structure.items[]`.
    let mut group_of: Vec<(String, String)> = Vec::new();
    let structure = sum.pointer("/structure/items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for item in structure {
        let Some(g) = item.get("group") else { continue };
        let Some(name) = s(g, "name") else { continue };
        for c in arr(g, "components") {
            if let Some(id) = id_of(c) {
                group_of.push((id, name.to_string()));
            }
        }
    }
    let group = |id: &str| group_of.iter().find(|(i, _)| i == id).map(|(_, g)| g.clone());
    let mut page = Page { lists_all_components: true, ..Page::default() };
    let statuses: Vec<(String, String)> = arr(sum, "affected_components")
        .iter()
        .filter_map(|a| Some((id_of(a)?, first_s(a, &["status", "current_status"])?.to_string())))
        .collect();
    let mut names: Vec<(String, String)> = Vec::new();
    for c in arr(sum, "components") {
        let (Some(id), Some(name)) = (id_of(c), s(c, "name")) else { continue };
        let status = match statuses.iter().find(|(i, _)| *i == id) {
            Some((_, raw)) => page.comp_status(name, raw),
            None => CompStatus::Operational,
        };
        page.components.push(Component { name: name.to_string(), group: group(&id), status });
        names.push((id, name.to_string()));
    }
    // An incident's components: by name, or by id looked up in the list.
    let affected = |e: &Value| -> Vec<String> {
        arr(e, "affected_components")
            .iter()
            .filter_map(|c| {
                s(c, "name")
                    .map(str::to_string)
                    .or_else(|| id_of(c).and_then(|id| names.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone())))
            })
            .collect()
    };
    for i in arr(sum, "ongoing_incidents") {
        if super::norm(s(i, "status").unwrap_or("")) == "resolved" {
            continue;
        }
        let title = s(i, "name").unwrap_or("(untitled incident)").to_string();
        let level = page.incident_level(&title, s(i, "current_worst_impact"));
        let components = affected(i);
        page.incidents.push(Event {
            url: first_s(i, &["url", "permalink"]).map(str::to_string),
            level,
            components,
            title,
        });
    }
    // Maintenances under way: all of `in_progress_maintenances`, and those of
    // `scheduled_maintenances` whose status says they have started.
    let started = |m: &Value, default: bool| match super::norm(s(m, "status").unwrap_or("")).as_str() {
        "maintenanceinprogress" | "inprogress" => true,
        "" => default,
        _ => false,
    };
    let under_way = arr(sum, "in_progress_maintenances")
        .iter()
        .filter(|m| started(m, true))
        .chain(arr(sum, "scheduled_maintenances").iter().filter(|m| started(m, false)));
    for m in under_way {
        let title = s(m, "name").unwrap_or("(untitled maintenance)").to_string();
        let components = affected(m);
        page.maintenances.push(Event {
            url: first_s(m, &["url", "permalink"]).map(str::to_string),
            level: Level::Maintenance,
            components,
            title,
        });
    }
    Ok(page)
}
