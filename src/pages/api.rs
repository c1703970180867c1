//! The site's JSON: shields.io endpoint badges (`badges/<monitor>/*.json`, `badges/site.json`)
//! and an Atlassian-Statuspage-compatible `api/v2/summary.json` and `api/v2/status.json`,
//! so any status aggregator (vaktpost's own `status_page` check included) can read the site.

use serde_json::{json, Value};

use super::model::{millis, percent, Health, MonitorView, Site};

/// shields.io caches endpoint badges at least this long; a site rebuilt every few
/// minutes gains nothing from asking for less.
const BADGE_CACHE_SECONDS: u64 = 300;

/// One shields.io endpoint badge (https://shields.io/badges/endpoint-badge).
pub fn badge(label: &str, message: &str, color: &str) -> Value {
    let message = if message.is_empty() { "unknown" } else { message };
    json!({
        "schemaVersion": 1,
        "label": label,
        "message": message,
        "color": color,
        "cacheSeconds": BADGE_CACHE_SECONDS,
    })
}

fn health_color(h: Health) -> &'static str {
    match h {
        Health::Up => "brightgreen",
        Health::Degraded => "yellow",
        Health::Maintenance => "blue",
        Health::Down => "red",
        Health::Unknown => "lightgrey",
    }
}

fn uptime_color(u: Option<f64>) -> &'static str {
    match u {
        None => "lightgrey",
        Some(u) if u >= 99.9 => "brightgreen",
        Some(u) if u >= 99.0 => "green",
        Some(u) if u >= 98.0 => "yellowgreen",
        Some(u) if u >= 95.0 => "yellow",
        Some(u) if u >= 90.0 => "orange",
        Some(_) => "red",
    }
}

fn response_color(ms: Option<f64>) -> &'static str {
    match ms {
        None => "lightgrey",
        Some(ms) if ms < 300.0 => "brightgreen",
        Some(ms) if ms < 800.0 => "green",
        Some(ms) if ms < 1500.0 => "yellow",
        Some(ms) if ms < 3000.0 => "orange",
        Some(_) => "red",
    }
}

/// A monitor's badges: (file name, JSON).
pub fn monitor_badges(m: &MonitorView) -> Vec<(&'static str, Value)> {
    let status = match m.health {
        Health::Up => "up",
        Health::Degraded => "degraded",
        Health::Down => "down",
        Health::Maintenance => "maintenance",
        Health::Unknown => "no data",
    };
    let mut out = vec![("status.json", badge(&m.name, status, health_color(m.health)))];
    for (file, label, w) in
        [("uptime-24h.json", "uptime 24h", 0), ("uptime-7d.json", "uptime 7d", 1), ("uptime-30d.json", "uptime 30d", 2)]
    {
        let u = m.uptime[w].value;
        out.push((file, badge(label, &percent(u), uptime_color(u))));
    }
    let rt = m.response_ms.map(millis).unwrap_or_else(|| "no data".into());
    out.push(("response-time.json", badge("response time", &rt, response_color(m.response_ms))));
    out
}

/// The whole site's badge.
pub fn site_badge(site: &Site) -> Value {
    let color = match site.overall.key {
        "operational" => "brightgreen",
        "degraded" => "yellow",
        "maintenance" => "blue",
        "outage" => "red",
        _ => "lightgrey",
    };
    badge("status", &site.overall.text.to_lowercase(), color)
}

fn page(site: &Site) -> Value {
    json!({
        "id": "vaktpost",
        "name": site.title,
        "url": site.url.clone().unwrap_or_default(),
        "time_zone": site.timezone,
        "updated_at": site.generated_at.to_rfc3339(),
    })
}

fn status(site: &Site) -> Value {
    json!({"indicator": site.overall.indicator, "description": site.overall.description})
}

/// `api/v2/status.json`: the page and its overall status.
pub fn status_json(site: &Site) -> Value {
    json!({"page": page(site), "status": status(site)})
}

/// `api/v2/summary.json`: page, status, components (public monitors with a status),
/// unresolved incidents, and maintenances in progress or scheduled.
pub fn summary_json(site: &Site) -> Value {
    let updated = site.generated_at.to_rfc3339();
    let component = |m: &MonitorView, status: &str, pos: usize| {
        json!({
            "id": m.slug,
            "name": m.name,
            "status": status,
            "created_at": updated,
            "updated_at": m.last_check_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| updated.clone()),
            "position": pos + 1,
            "description": m.description,
            "showcase": true,
            "start_date": null,
            "group_id": null,
            "page_id": "vaktpost",
            "group": false,
            "only_show_if_degraded": false,
        })
    };
    let components: Vec<Value> = site
        .monitors
        .iter()
        .filter_map(|m| m.health.component_status().map(|s| (m, s)))
        .enumerate()
        .map(|(i, (m, s))| component(m, s, i))
        .collect();
    let by_name = |name: &str| site.monitors.iter().find(|m| m.name == name);
    let incidents: Vec<Value> = site
        .open_incidents
        .iter()
        .map(|x| {
            let comps: Vec<Value> = by_name(&x.monitor)
                .and_then(|m| m.health.component_status().map(|s| (m, s)))
                .map(|(m, s)| json!({"id": m.slug, "name": m.name, "status": s}))
                .into_iter()
                .collect();
            let impact = match x.severity {
                "high" => "major",
                "medium" => "minor",
                _ => "none",
            };
            json!({
                "id": x.id,
                "name": x.title,
                "status": "investigating",
                "created_at": x.started_at.to_rfc3339(),
                "updated_at": updated,
                "monitoring_at": null,
                "resolved_at": null,
                "impact": impact,
                "shortlink": x.issue_url,
                "started_at": x.started_at.to_rfc3339(),
                "page_id": "vaktpost",
                "incident_updates": [],
                "components": comps,
            })
        })
        .collect();
    let maintenances: Vec<Value> = site
        .maintenance
        .iter()
        .map(|w| {
            let comps: Vec<Value> = site
                .monitors
                .iter()
                .filter(|m| w.monitors.is_empty() || w.monitors.contains(&m.name))
                .filter_map(|m| m.health.component_status().map(|s| json!({"id": m.slug, "name": m.name, "status": s})))
                .collect();
            json!({
                "id": w.id,
                "name": w.title,
                "status": if w.active { "in_progress" } else { "scheduled" },
                "created_at": updated,
                "updated_at": updated,
                "monitoring_at": null,
                "resolved_at": null,
                "impact": "maintenance",
                "shortlink": null,
                "started_at": w.start_at.to_rfc3339(),
                "scheduled_for": w.start_at.to_rfc3339(),
                "scheduled_until": w.end_at.to_rfc3339(),
                "page_id": "vaktpost",
                "incident_updates": [],
                "components": comps,
            })
        })
        .collect();
    json!({
        "page": page(site),
        "components": components,
        "incidents": incidents,
        "scheduled_maintenances": maintenances,
        "status": status(site),
    })
}
