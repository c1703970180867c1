//! The `status_page` check: a provider's public status JSON (Atlassian Statuspage,
//! incident.io, Instatus, Better Stack, Railway's own status API) read into one model —
//! components, open incidents, maintenances in progress — so the `provider_degraded` rule
//! and the summary's "Upstream status" section work the same whatever page a provider runs.
//!
//! Each provider's JSON shape is parsed in its own submodule. This file resolves presets,
//! fetches (trying the provider's usual path when `url` is just the page), applies the
//! `components` filter, and turns the page into a status and metrics.
//!
//! A provider's trouble makes this monitor `degraded`, never `down`: `down` means vaktpost
//! could not read the page (HTML, invalid JSON, HTTP errors), which is a different problem
//! from an upstream incident, and `provider_degraded` carries the upstream severity.

mod betterstack;
mod checkly;
mod incidentio;
mod instatus;
mod railway;
mod statuspage;
mod summary;

use schemars::JsonSchema;
use serde::Deserialize;

use http::Method;
use serde_json::Value;
use url::Url;

use super::kinds::{DefaultRule, Kind, check_url, url_secrets};
use crate::values::Severity;
use super::metrics::Metric::{self, *};
use super::transport::{api_request, with_retries, Request};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::values::hint::hint;
use crate::values::vartype::Ty;
use crate::values::Secret;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPageOptions {
    /// The status page's JSON API (`https://status.example.com/api/v2/summary.json`), or
    /// just the page (`https://status.example.com`): the provider's usual path is then
    /// tried. With `preset`, overrides the preset's URL (a mirror, a test server).
    #[serde(default)]
    pub url: Option<String>,
    /// `openai`, `railway`, `github`, `cloudflare`, `vercel`, `anthropic`: sets `url` and
    /// `provider`.
    #[serde(default)]
    pub preset: Option<String>,
    /// `auto` (default: detected from the JSON), `statuspage`, `incidentio`, `instatus`,
    /// `railway`, `betterstack`, `checkly`.
    #[serde(default)]
    pub provider: Option<String>,
    /// Component names to watch (case-insensitive, also inside groups; a group's name
    /// watches all its members); empty watches the whole page.
    #[serde(default)]
    pub components: Vec<String>,
}

/// Values of `provider:`.
pub const PROVIDERS: &[&str] = &["auto", "statuspage", "incidentio", "instatus", "railway", "betterstack", "checkly"];

/// A well-known status page: `preset: openai` sets its URL and provider.
pub struct Preset {
    pub name: &'static str,
    pub url: &'static str,
    pub provider: &'static str,
}

/// The presets, documented in the README's `status_page` section.
pub const PRESETS: &[Preset] = &[
    // OpenAI's page moved to incident.io, which serves a Statuspage-compatible summary.
    Preset { name: "openai", url: "https://status.openai.com/api/v2/summary.json", provider: "incidentio" },
    Preset { name: "railway", url: "https://api.railwaystatus.com/status", provider: "railway" },
    Preset { name: "github", url: "https://www.githubstatus.com/api/v2/summary.json", provider: "statuspage" },
    Preset { name: "cloudflare", url: "https://www.cloudflarestatus.com/api/v2/summary.json", provider: "statuspage" },
    Preset { name: "vercel", url: "https://www.vercel-status.com/api/v2/summary.json", provider: "statuspage" },
    Preset { name: "anthropic", url: "https://status.anthropic.com/api/v2/summary.json", provider: "statuspage" },
];

/// Status pages are small documents; GitHub's summary is ~10 KiB, big pages ~1 MiB.
const MAX_BODY: u64 = 8 << 20;
/// Most `components.<name>` metrics one result carries (the rest are still evaluated).
const MAX_COMPONENT_METRICS: usize = 200;

/// How bad things are, in Statuspage's indicator words. Ordered: the worst wins, and a
/// maintenance is less bad than any incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    None,
    Maintenance,
    Minor,
    Major,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Maintenance => "maintenance",
            Level::Minor => "minor",
            Level::Major => "major",
            Level::Critical => "critical",
        }
    }

    /// `status.indicator` values (any case).
    pub fn from_indicator(raw: &str) -> Option<Level> {
        match norm(raw).as_str() {
            "none" => Some(Level::None),
            "minor" => Some(Level::Minor),
            "major" => Some(Level::Major),
            "critical" => Some(Level::Critical),
            "maintenance" => Some(Level::Maintenance),
            _ => None,
        }
    }

    /// An incident's impact, in indicator words or component-status words
    /// (`full_outage`, `MAJOROUTAGE`); `None` when the word is unknown.
    pub fn from_impact(raw: &str) -> Option<Level> {
        Level::from_indicator(raw).or_else(|| CompStatus::parse(raw).map(CompStatus::level))
    }
}

/// A component's state, in Statuspage's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompStatus {
    Operational,
    Degraded,
    PartialOutage,
    MajorOutage,
    Maintenance,
}

impl CompStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CompStatus::Operational => "operational",
            CompStatus::Degraded => "degraded_performance",
            CompStatus::PartialOutage => "partial_outage",
            CompStatus::MajorOutage => "major_outage",
            CompStatus::Maintenance => "under_maintenance",
        }
    }

    pub fn level(self) -> Level {
        match self {
            CompStatus::Operational => Level::None,
            CompStatus::Degraded => Level::Minor,
            CompStatus::PartialOutage => Level::Major,
            CompStatus::MajorOutage => Level::Critical,
            CompStatus::Maintenance => Level::Maintenance,
        }
    }

    /// Every provider's component-status words, compared without case or separators
    /// (`major_outage`, `MAJOROUTAGE`, `Major Outage`); `None` for a word none uses.
    pub fn parse(raw: &str) -> Option<CompStatus> {
        Some(match norm(raw).as_str() {
            "operational" | "up" | "ok" | "notmonitored" => CompStatus::Operational,
            "degradedperformance" | "degraded" | "hasissues" => CompStatus::Degraded,
            "partialoutage" | "partial" => CompStatus::PartialOutage,
            "majoroutage" | "fulloutage" | "outage" | "downtime" | "down" => CompStatus::MajorOutage,
            "undermaintenance" | "maintenance" | "maintenanceinprogress" | "inprogress" => CompStatus::Maintenance,
            _ => return None,
        })
    }
}

/// Lowercase letters and digits only: `Major Outage`, `major_outage` and `MAJOROUTAGE` agree.
pub fn norm(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// One leaf component (groups are containers; their members carry the group's name).
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub group: Option<String>,
    pub status: CompStatus,
}

/// An open incident or a maintenance in progress.
#[derive(Debug, Clone)]
pub struct Event {
    pub title: String,
    pub url: Option<String>,
    pub level: Level,
    /// Names of the components it affects; empty when the provider does not say.
    pub components: Vec<String>,
}

/// A status page in the common model.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The page's own overall indicator, when it states one.
    pub indicator: Option<Level>,
    /// The page's own words for its state ("All Systems Operational").
    pub description: Option<String>,
    pub components: Vec<Component>,
    /// Whether `components` is the page's full list (a watched name missing from it is
    /// then a typo) or only the affected ones (incident.io's widget API).
    pub lists_all_components: bool,
    pub incidents: Vec<Event>,
    pub maintenances: Vec<Event>,
    /// Status values no known provider uses, as `what: value`; each counted as degraded.
    pub unrecognized: Vec<String>,
}

impl Page {
    /// A component status as written, recording unknown words (read as degraded).
    fn comp_status(&mut self, what: &str, raw: &str) -> CompStatus {
        CompStatus::parse(raw).unwrap_or_else(|| {
            self.unrecognized.push(format!("{what}: {raw}"));
            CompStatus::Degraded
        })
    }

    /// An open incident's level: its impact, at least `minor` (an incident in
    /// "monitoring" can have impact `none` while it is still open).
    fn incident_level(&mut self, title: &str, impact: Option<&str>) -> Level {
        let level = match impact {
            None | Some("") => Level::Minor,
            Some(raw) => Level::from_impact(raw).unwrap_or_else(|| {
                self.unrecognized.push(format!("impact of {title:?}: {raw}"));
                Level::Minor
            }),
        };
        level.max(Level::Minor)
    }
}

// Small JSON readers shared by the providers.
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}
/// The first string of `keys` present in `v`.
pub(crate) fn first_s<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| s(v, k).filter(|x| !x.is_empty()))
}

pub async fn check(o: &StatusPageOptions, eff: &Effective, env: &CheckEnv, mut r: CheckResult) -> CheckResult {
    let (url, provider) = match resolve(o) {
        Ok(x) => x,
        Err(e) => return r.fail(e),
    };
    r.target = env.redactor.redact_url(url.as_str());
    match fetch_page(&url, provider, eff, env).await {
        Ok((kind, page)) => {
            evaluate(o, kind, &page, &mut r);
            r
        }
        Err(e) => r.fail(e),
    }
}

/// The URL and provider from `url`, `preset` and `provider`.
fn resolve(o: &StatusPageOptions) -> Result<(Url, &'static str), CheckError> {
    let preset = match &o.preset {
        Some(p) => Some(PRESETS.iter().find(|x| x.name.eq_ignore_ascii_case(p)).ok_or_else(|| {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
            CheckError::new(
                ErrorKind::Config,
                format!("unknown preset {p:?}; use one of {} or set url", names.join(", ")),
            )
        })?),
        None => None,
    };
    let raw = o.url.as_deref().or(preset.map(|p| p.url)).ok_or_else(|| {
        CheckError::new(ErrorKind::Config, "a status_page monitor needs `url` or `preset` (e.g. preset: openai)")
    })?;
    let url = match Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        _ => {
            return Err(CheckError::new(
                ErrorKind::Config,
                "url must be a full http(s) URL such as https://status.example.com/api/v2/summary.json",
            ))
        }
    };
    let provider = match o.provider.as_deref() {
        Some(p) => PROVIDERS.iter().copied().find(|x| *x == p).ok_or_else(|| {
            CheckError::new(ErrorKind::Config, format!("unknown provider {p:?}; use one of {}", PROVIDERS.join(", ")))
        })?,
        None => preset.map(|p| p.provider).unwrap_or("auto"),
    };
    Ok((url, provider))
}

/// The paths to try when `url` names only the page (no path).
fn candidate_paths(provider: &str) -> &'static [&'static str] {
    match provider {
        "statuspage" => &["/api/v2/summary.json"],
        "incidentio" => &["/api/v2/summary.json", "/api/v1/summary"],
        "instatus" => &["/summary.json"],
        "betterstack" => &["/index.json"],
        "railway" => &["/status"],
        // No documented JSON path: the URL must name it.
        "checkly" => &[],
        _ => &["/api/v2/summary.json", "/summary.json", "/index.json", "/api/v1/summary"],
    }
}

/// Fetches and parses the page; returns the shape that was read (`statuspage`, …).
async fn fetch_page(
    url: &Url,
    provider: &'static str,
    eff: &Effective,
    env: &CheckEnv,
) -> Result<(&'static str, Page), CheckError> {
    if !matches!(url.path(), "" | "/") {
        let doc = fetch_json(url, eff, env).await?;
        return parse(provider, &doc, url).map_err(|m| CheckError::new(ErrorKind::Protocol, m));
    }
    let mut first_err = None;
    let paths = candidate_paths(provider);
    if paths.is_empty() {
        return Err(CheckError::new(
            ErrorKind::Config,
            format!(
                "{provider} pages have no usual JSON path: set url to the page's JSON API itself, not just the page"
            ),
        ));
    }
    for path in paths {
        let mut u = url.clone();
        u.set_path(path);
        let res = match fetch_json(&u, eff, env).await {
            Ok(doc) => parse(provider, &doc, &u).map_err(|m| CheckError::new(ErrorKind::Protocol, m)),
            Err(e) => Err(e),
        };
        match res {
            Ok(x) => return Ok(x),
            // Only "not here" answers move on; a timeout or TLS failure will not improve.
            Err(e) if matches!(e.kind, ErrorKind::HttpStatus | ErrorKind::Protocol) => {
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    let e = first_err.unwrap_or_else(|| CheckError::new(ErrorKind::Protocol, "no status API found"));
    Err(CheckError::new(
        e.kind,
        format!(
            "no status JSON found at {} (tried {}); first answer: {}. Set url to the page's JSON API or set provider",
            url.origin().ascii_serialization(),
            paths.join(", "),
            e.message
        ),
    ))
}

async fn fetch_json(url: &Url, eff: &Effective, env: &CheckEnv) -> Result<Value, CheckError> {
    let mut req = Request::api(Method::GET, url.clone(), eff.timeout, MAX_BODY);
    req.headers.insert("Accept".to_string(), Secret::new("application/json"));
    let resp = with_retries(eff.retries, &env.waiter, |_| api_request(req.clone(), env)).await?;
    if !(200..300).contains(&resp.status) {
        let reason = http::StatusCode::from_u16(resp.status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        return Err(CheckError::new(
            ErrorKind::HttpStatus,
            format!(
                "GET {} answered HTTP {} {reason}{}; check the status page URL",
                url.path(),
                resp.status,
                resp.retry_note
            )
            .replace(" ;", ";"),
        ));
    }
    decode_json(url.path(), &resp.body)
}

/// A page's body as JSON: HTML and anything else that is not JSON is a `protocol` error
/// that says where the JSON is.
fn decode_json(path: &str, body: &[u8]) -> Result<Value, CheckError> {
    let head = body.iter().position(|b| !b.is_ascii_whitespace()).map_or(&[][..], |i| &body[i..]);
    if head.starts_with(b"<") {
        return Err(CheckError::new(
            ErrorKind::Protocol,
            format!(
                "{path} answered HTML, not JSON: point url at the page's JSON API (e.g. /api/v2/summary.json for Statuspage and incident.io pages) or use a preset"
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        CheckError::new(
            ErrorKind::Protocol,
            format!("{path} answered invalid or truncated JSON ({e}); is url the page's JSON API?"),
        )
    })
}

/// A fetched body read as the given (or detected) provider's page.
pub fn read_page(provider: &'static str, body: &[u8], url: &Url) -> Result<(&'static str, Page), CheckError> {
    let doc = decode_json(url.path(), body)?;
    parse(provider, &doc, url).map_err(|m| CheckError::new(ErrorKind::Protocol, m))
}

/// The JSON read with the given (or detected) provider's parser.
fn parse(provider: &'static str, doc: &Value, url: &Url) -> Result<(&'static str, Page), String> {
    let kind = match provider {
        "auto" => detect(doc).ok_or_else(|| {
            format!(
                "{} is JSON but not a status page vaktpost knows (Statuspage, incident.io, Instatus, Better Stack, Railway, Checkly); set provider or check url",
                url.path()
            )
        })?,
        // incident.io serves three shapes: its Statuspage-compatible summary, its widget
        // API and the grouped `/proxy/<page>` feed.
        "incidentio" if incidentio::is_widget(doc) || incidentio::is_proxy(doc) => "incidentio",
        "incidentio" => "statuspage",
        other => other,
    };
    if !doc.is_object() {
        return Err(format!("{} answered JSON that is not an object; is url the page's JSON API?", url.path()));
    }
    let page = match kind {
        "statuspage" => statuspage::parse(doc, url),
        "incidentio" => incidentio::parse(doc),
        "instatus" => instatus::parse(doc),
        "betterstack" => betterstack::parse(doc),
        "railway" => railway::parse(doc),
        "checkly" => checkly::parse(doc),
        other => Err(format!("unknown provider {other:?}")),
    }
    .map_err(|m| {
        // The JSON may be another provider's: say which, and what to set.
        let hint = match detect(doc) {
            Some("incidentio") if incidentio::is_proxy(doc) => {
                "; this is incident.io's grouped /proxy/<page> feed: set provider: incidentio (or auto)".to_string()
            }
            Some(other) if other != kind => {
                format!("; the JSON looks like a {other} page: set provider: {other} (or auto)")
            }
            _ => String::new(),
        };
        format!("{}: {m}{hint}", url.path())
    })?;
    // Report the provider the user named (incident.io's compatible summary is incidentio).
    Ok((if provider == "incidentio" { "incidentio" } else { kind }, page))
}

/// The provider whose shape `doc` has.
pub fn detect(doc: &Value) -> Option<&'static str> {
    if incidentio::is_widget(doc) || incidentio::is_proxy(doc) {
        Some("incidentio")
    } else if doc.pointer("/status/indicator").is_some() {
        Some("statuspage")
    } else if checkly::is_checkly(doc) {
        // Before Instatus: a Checkly page's `status: "HAS_ISSUES"` is not Instatus's.
        Some("checkly")
    } else if doc.pointer("/page/status").is_some_and(Value::is_string) || doc.get("activeIncidents").is_some() {
        Some("instatus")
    } else if doc.pointer("/data/attributes/aggregate_state").is_some() {
        Some("betterstack")
    } else if doc.get("components").is_some_and(Value::is_array)
        && (doc.get("incidents").is_some() || doc.get("maintenances").is_some())
    {
        Some("railway")
    } else {
        None
    }
}

/// Status and metrics from the page, for the watched components.
fn evaluate(o: &StatusPageOptions, provider: &str, page: &Page, r: &mut CheckResult) {
    let watch: Vec<String> = o.components.iter().map(|c| c.trim().to_lowercase()).collect();
    let watched_name = |n: &str| watch.contains(&n.trim().to_lowercase());
    let is_watched =
        |c: &Component| watch.is_empty() || watched_name(&c.name) || c.group.as_deref().is_some_and(watched_name);
    let comps: Vec<&Component> = page.components.iter().filter(|c| is_watched(c)).collect();
    // Names of everything watched, groups included, for matching incidents' components.
    let watched_names: Vec<String> = comps
        .iter()
        .flat_map(|c| std::iter::once(c.name.to_lowercase()).chain(c.group.as_ref().map(|g| g.to_lowercase())))
        .chain(watch.iter().cloned())
        .collect();
    let names_watched = |names: &[String]| names.iter().any(|n| watched_names.contains(&n.trim().to_lowercase()));
    // An event that names no components belongs to the components the page itself shows
    // in that state (degraded for an incident, under maintenance for a maintenance); only
    // a page that shows no such component leaves it to every watched component.
    let in_state = |c: &Component, maintenance: bool| {
        if maintenance {
            c.status == CompStatus::Maintenance
        } else {
            c.status.level() > Level::Maintenance
        }
    };
    let unnamed_is_ours = |maintenance: bool| {
        let shown: Vec<&Component> = page.components.iter().filter(|c| in_state(c, maintenance)).collect();
        shown.is_empty() || shown.iter().any(|c| is_watched(c))
    };
    let (incident_ours, maintenance_ours) = (unnamed_is_ours(false), unnamed_is_ours(true));
    let relevant = |e: &Event, unnamed_ours: bool| {
        watch.is_empty() || names_watched(&e.components) || (e.components.is_empty() && unnamed_ours)
    };
    let incidents: Vec<&Event> = page.incidents.iter().filter(|e| relevant(e, incident_ours)).collect();
    let maintenances: Vec<&Event> = page.maintenances.iter().filter(|e| relevant(e, maintenance_ours)).collect();

    let mut level = Level::None;
    if watch.is_empty() {
        level = level.max(page.indicator.unwrap_or(Level::None));
    }
    for c in &comps {
        level = level.max(c.status.level());
    }
    for e in &incidents {
        level = level.max(e.level);
    }
    if !maintenances.is_empty() {
        level = level.max(Level::Maintenance);
    }

    r.set("provider", provider);
    r.set("indicator", level.as_str());
    if let Some(p) = page.indicator {
        r.set("page_indicator", p.as_str());
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in comps.iter().take(MAX_COMPONENT_METRICS) {
        // Two groups may each have an "API"; the second is named "Group/API".
        let key = if seen.insert(c.name.to_lowercase()) {
            c.name.clone()
        } else {
            format!("{}/{}", c.group.as_deref().unwrap_or("?"), c.name)
        };
        r.set(&format!("components.{key}"), c.status.as_str());
    }
    let affected: Vec<String> = comps
        .iter()
        .filter(|c| c.status != CompStatus::Operational)
        .map(|c| format!("{} ({})", c.name, c.status.as_str()))
        .collect();
    r.set("affected_components", serde_json::json!(affected));
    r.set("incidents", incidents.len() as u64);
    r.set("incident_titles", serde_json::json!(incidents.iter().map(|e| e.title.clone()).collect::<Vec<_>>()));
    r.set(
        "incident_urls",
        serde_json::json!(incidents.iter().map(|e| e.url.clone().unwrap_or_default()).collect::<Vec<_>>()),
    );
    r.set("maintenances", maintenances.len() as u64);
    r.set("maintenance_titles", serde_json::json!(maintenances.iter().map(|e| e.title.clone()).collect::<Vec<_>>()));
    if !page.unrecognized.is_empty() {
        r.set("unrecognized_statuses", serde_json::json!(page.unrecognized));
    }

    let mut parts: Vec<String> = incidents
        .iter()
        .map(|e| match &e.url {
            Some(u) if !u.is_empty() => format!("{} ({u})", e.title),
            _ => e.title.clone(),
        })
        .collect();
    parts.extend(affected.iter().cloned());
    parts.extend(maintenances.iter().map(|e| format!("maintenance: {}", e.title)));
    parts.extend(page.unrecognized.iter().map(|u| format!("unrecognized status {u}")));
    if parts.is_empty() && level != Level::None {
        parts.push(page.description.clone().unwrap_or_else(|| "the page gives no details".into()));
    }
    let summary = if parts.is_empty() { "all operational".to_string() } else { parts.join("; ") };
    r.set("status_summary", summary.clone());

    let mut notes = Vec::new();
    if level != Level::None {
        r.status = Status::Degraded;
        notes.push(format!("provider reports {}: {summary}", level.as_str()));
    }
    if !watch.is_empty() && page.lists_all_components {
        let known: Vec<String> = page
            .components
            .iter()
            .flat_map(|c| std::iter::once(c.name.to_lowercase()).chain(c.group.as_ref().map(|g| g.to_lowercase())))
            .collect();
        let missing: Vec<&String> = o.components.iter().filter(|w| !known.contains(&w.trim().to_lowercase())).collect();
        r.set("components_missing", serde_json::json!(missing));
        if !missing.is_empty() {
            r.status = Status::Degraded;
            let mut names: Vec<&str> = page.components.iter().map(|c| c.name.as_str()).collect();
            names.dedup();
            let shown: Vec<&str> = names.iter().copied().take(15).collect();
            notes.push(format!(
                "watched component{} not on the page: {}; the page has: {}{}",
                if missing.len() == 1 { "" } else { "s" },
                missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "),
                shown.join(", "),
                if names.len() > shown.len() { ", …" } else { "" }
            ));
        }
    }
    if !notes.is_empty() {
        r.message = Some(notes.join("; "));
    }
}

impl Kind for StatusPageOptions {
    /// `indicator` is computed for the watched components, and `status_summary` names the
    /// incidents (with links) and affected components.
    const DEFAULT_RULES: &'static [DefaultRule] = &[DefaultRule {
        escalate: &[("indicator == 'major' || indicator == 'critical'", Severity::Medium)],
        ..DefaultRule::once("provider_degraded", "indicator != 'none'", "{name}: {indicator} — {status_summary}", Severity::Low)
    }];
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("provider", S),
            ("indicator", S),
            ("page_indicator", S),
            ("components", MAP_S),
            ("affected_components", LIST_S),
            ("incidents", N),
            ("incident_titles", LIST_S),
            ("incident_urls", LIST_S),
            ("maintenances", N),
            ("maintenance_titles", LIST_S),
            ("unrecognized_statuses", LIST_S),
            ("status_summary", S),
            ("components_missing", LIST_S),
        ]
    };
    fn secrets(&self, out: &mut Vec<String>) {
        if let Some(u) = &self.url {
            url_secrets(u, out);
        }
    }
    fn target(&self) -> String {
        self.url.clone().or_else(|| self.preset.clone()).unwrap_or_default()
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        if self.url.is_none() && self.preset.is_none() {
            err(p, "a status_page monitor needs `url` or `preset`".into());
        }
        if let Some(u) = &self.url {
            check_url(&format!("{p}.url"), u, err);
        }
        if let Some(pr) = &self.provider {
            if !PROVIDERS.contains(&pr.as_str()) {
                err(&format!("{p}.provider"), format!("unknown provider {pr:?}{}", hint(pr, PROVIDERS)));
            }
        }
        if let Some(pr) = &self.preset {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
            if !names.contains(&pr.to_ascii_lowercase().as_str()) {
                err(
                    &format!("{p}.preset"),
                    format!(
                        "unknown preset {pr:?}{}; known presets: {} (or set `url` to any status page)",
                        hint(pr, &names),
                        names.join(", ")
                    ),
                );
            }
        }
        for (j, c) in self.components.iter().enumerate() {
            if c.trim().is_empty() {
                err(&format!("{p}.components[{j}]"), "must not be empty".into());
            }
        }
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("provider", Str),
        ("indicator", Str),
        ("page_indicator", Str),
        ("affected_components", Strs),
        ("incidents", Num),
        ("incident_titles", Strs),
        ("incident_urls", Strs),
        ("maintenances", Num),
        ("maintenance_titles", Strs),
        ("unrecognized_statuses", Strs),
        ("status_summary", Str),
        ("components_missing", Strs),
    ];
    const METRIC_PATTERNS: &'static [(&'static str, Metric)] = &[(r"^components\.", Metric::Str)];
    fn summary_parts(r: &CheckResult, parts: &mut Vec<String>) {
        if let Some(i) = r.metrics.get("indicator").and_then(|v| v.as_str()) {
            let n = r.metric_f64("incidents").unwrap_or(0.0);
            parts.push(if n > 0.0 { format!("{i} · {n} incidents") } else { i.to_string() });
        }
    }
    fn summary_section(all: &[CheckResult], md: &mut String, max_rows: usize, max_bytes: usize) {
        summary::upstream_status(all, md, max_rows, max_bytes);
    }
    fn row_notes(all: &[CheckResult], r: &CheckResult) -> Vec<String> {
        summary::upstream_troubles(all, r)
            .into_iter()
            .map(|(name, indicator)| {
                format!("⚠️ upstream {} reports {}", crate::markdown::code_cell(name), crate::markdown::cell(indicator))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_words_of_every_provider_agree() {
        for (raw, want) in [
            ("operational", CompStatus::Operational),
            ("OPERATIONAL", CompStatus::Operational),
            ("degraded_performance", CompStatus::Degraded),
            ("DEGRADEDPERFORMANCE", CompStatus::Degraded),
            ("Partial Outage", CompStatus::PartialOutage),
            ("full_outage", CompStatus::MajorOutage),
            ("downtime", CompStatus::MajorOutage),
            ("UNDERMAINTENANCE", CompStatus::Maintenance),
        ] {
            assert_eq!(CompStatus::parse(raw), Some(want), "{raw}");
        }
        assert_eq!(CompStatus::parse("on_fire"), None);
    }

    #[test]
    fn levels_order_maintenance_below_incidents() {
        assert!(Level::Maintenance < Level::Minor && Level::Minor < Level::Major && Level::Major < Level::Critical);
        assert_eq!(Level::from_impact("MAJOROUTAGE"), Some(Level::Critical));
        assert_eq!(Level::from_impact("maintenance"), Some(Level::Maintenance));
    }

    #[test]
    fn presets_resolve_and_url_overrides() {
        let o: StatusPageOptions = yaml_serde::from_str("preset: OpenAI\n").unwrap();
        let (u, p) = resolve(&o).unwrap();
        assert_eq!((u.as_str(), p), ("https://status.openai.com/api/v2/summary.json", "incidentio"));
        let o: StatusPageOptions = yaml_serde::from_str("preset: railway\nurl: http://127.0.0.1:9/status\n").unwrap();
        let (u, p) = resolve(&o).unwrap();
        assert_eq!((u.as_str(), p), ("http://127.0.0.1:9/status", "railway"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// JSON built from the keys and words the providers read, nested a few levels.
        fn doc() -> impl Strategy<Value = Value> {
            let key = prop_oneof![
                Just("status"),
                Just("indicator"),
                Just("page"),
                Just("components"),
                Just("incidents"),
                Just("scheduled_maintenances"),
                Just("name"),
                Just("group"),
                Just("group_id"),
                Just("id"),
                Just("impact"),
                Just("ongoing_incidents"),
                Just("in_progress_maintenances"),
                Just("affected_components"),
                Just("component_id"),
                Just("summary"),
                Just("structure"),
                Just("items"),
                Just("current_worst_impact"),
                Just("activeIncidents"),
                Just("activeMaintenances"),
                Just("data"),
                Just("attributes"),
                Just("aggregate_state"),
                Just("included"),
                Just("type"),
                Just("children"),
                Just("maintenances"),
                Just("services"),
                Just("cards"),
                Just("affectedServices"),
                Just("severity"),
                Just("lastUpdateStatus"),
                Just("ends_at"),
                Just("report_type"),
                Just("status_page_section_id"),
                Just("public_name"),
            ]
            .prop_map(str::to_string);
            let word = prop_oneof![
                Just("operational"),
                Just("major_outage"),
                Just("HAS_ISSUES"),
                Just("MAJOR"),
                Just("none"),
                Just("critical"),
                Just("resolved"),
                Just("in_progress"),
                Just("maintenance"),
                Just("downtime"),
                Just("status_page_resource"),
                Just("status_report"),
                Just("API"),
                Just("")
            ]
            .prop_map(|w| Value::String(w.to_string()));
            let leaf = prop_oneof![
                word,
                any::<String>().prop_map(Value::String),
                any::<i64>().prop_map(Value::from),
                any::<bool>().prop_map(Value::Bool),
                Just(Value::Null),
            ];
            leaf.prop_recursive(5, 64, 6, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((key.clone(), inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        fn url() -> Url {
            Url::parse("http://127.0.0.1:9/api/v2/summary.json").unwrap_or_else(|_| unreachable!())
        }

        /// Reads then evaluates as the check does, watching `watch`.
        fn evaluate_all(provider: &'static str, body: &[u8], watch: &[String]) -> Result<CheckResult, CheckError> {
            let (kind, page) = read_page(provider, body, &url())?;
            let m: crate::checks::Monitor =
                yaml_serde::from_str("name: s\ntype: status_page\nurl: http://127.0.0.1:9/x\n")
                    .map_err(|_| CheckError::new(ErrorKind::Config, "test monitor"))?;
            let crate::checks::MonitorKind::StatusPage(o) = &m.kind else { unreachable!() };
            let mut o = o.clone();
            o.components = watch.to_vec();
            let mut r = CheckResult::new(&m, "t".into(), chrono::Utc::now());
            evaluate(&o, kind, &page, &mut r);
            Ok(r)
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn any_json_never_panics_and_stays_bounded(
                d in doc(),
                watch in prop::collection::vec(prop_oneof![Just("API".to_string()), "[A-Za-z ]{0,8}"], 0..3),
            ) {
                let body = serde_json::to_vec(&d).unwrap_or_default();
                for provider in PROVIDERS {
                    match evaluate_all(provider, &body, &watch) {
                        Ok(r) => {
                            let comps = r.metrics.keys().filter(|k| k.starts_with("components.")).count();
                            prop_assert!(comps <= MAX_COMPONENT_METRICS);
                            prop_assert!(matches!(r.status, Status::Up | Status::Degraded));
                            let indicator = r.metrics.get("indicator").and_then(Value::as_str).unwrap_or("");
                            prop_assert!(["none", "minor", "major", "critical", "maintenance"].contains(&indicator));
                        }
                        Err(e) => prop_assert_eq!(e.kind, ErrorKind::Protocol),
                    }
                }
            }

            #[test]
            fn any_bytes_never_panic_and_html_or_garbage_is_protocol(
                bytes in prop::collection::vec(any::<u8>(), 0..2048),
                html in "[ \t\r\n]{0,3}<[!a-zA-Z][^\u{0}]{0,200}",
            ) {
                for provider in PROVIDERS {
                    if let Err(e) = evaluate_all(provider, &bytes, &[]) {
                        prop_assert_eq!(e.kind, ErrorKind::Protocol);
                    }
                    if serde_json::from_slice::<Value>(&bytes).is_err() {
                        let e = read_page(provider, &bytes, &url()).err();
                        prop_assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Protocol));
                    }
                    let e = read_page(provider, html.as_bytes(), &url()).err();
                    prop_assert!(e.as_ref().is_some_and(|e| e.kind == ErrorKind::Protocol && e.message.contains("answered HTML")), "{e:?}");
                }
            }
        }
    }
}
