//! The status site as plain data, built from the config, the state (alert records, past
//! incidents, last checks), the history aggregates and the last report. Everything shown
//! is computed by `state` (time-weighted uptime, daily rollups, percentiles) and only
//! arranged here; the templates in `render.rs` and the JSON in `api.rs` read this model.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::alerts::maintenance;
use crate::checks::{Monitor, Status};
use crate::config::{Config, Severity};
use crate::redact::Redactor;
use crate::report::Report;
use crate::state::agg::{day_start_ms, Agg, History, DAY_MS, HOUR_MS};
use crate::state::figures;
use crate::state::State;

/// Days in the uptime bars and the long chart.
pub const DAYS: i64 = 90;
/// Longest incident title or message shown (remote text can be long).
const MAX_TEXT: usize = 300;
/// How far ahead maintenance windows are announced.
const UPCOMING_DAYS: i64 = 7;

/// What the site is built from.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub state: &'a State,
    pub history: &'a History,
    /// The last run's report, when there is one: the freshest status of each monitor.
    pub report: Option<&'a Report>,
    pub redactor: &'a Redactor,
    pub now: DateTime<Utc>,
}

/// A monitor's state on the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Never checked (or no state): shown as "no data".
    Unknown,
    Up,
    Maintenance,
    Degraded,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Maintenance => "maintenance",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Health::Unknown => "No data",
            Health::Up => "Operational",
            Health::Maintenance => "Under maintenance",
            Health::Degraded => "Degraded",
            Health::Down => "Down",
        }
    }

    /// Atlassian Statuspage's component status (SPEC §6); `None` for a monitor never checked.
    pub fn component_status(self) -> Option<&'static str> {
        Some(match self {
            Health::Unknown => return None,
            Health::Up => "operational",
            Health::Maintenance => "under_maintenance",
            Health::Degraded => "degraded_performance",
            Health::Down => "major_outage",
        })
    }
}

/// The whole site's state: the banner, the Statuspage indicator.
#[derive(Debug, Clone, Serialize)]
pub struct Overall {
    /// `operational`, `degraded`, `outage`, `maintenance` (the banner's class).
    pub key: &'static str,
    pub text: &'static str,
    /// Statuspage's `status.indicator`: `none`, `minor`, `major`, `critical`, `maintenance`.
    pub indicator: &'static str,
    /// Statuspage's `status.description`.
    pub description: &'static str,
}

/// One cell of a 90-day bar.
#[derive(Debug, Clone, Serialize)]
pub struct DayCell {
    /// `n` no data, `g` ≥ 99.9 %, `l` ≥ 99 % or an incident, `o` ≥ 95 %, `r` below.
    pub class: &'static str,
    /// Tooltip: date, uptime, incidents.
    pub title: String,
}

/// An uptime figure of one window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub label: &'static str,
    /// `99.95%` or `no data`.
    pub text: String,
    #[serde(skip)]
    pub value: Option<f64>,
}

/// One point of a response-time chart.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub label: String,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// A response-time chart: p50 and p95 per hour or per day.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub id: &'static str,
    pub label: &'static str,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    /// Stable id (for the Statuspage API): a hash of fingerprint and start.
    pub id: String,
    pub title: String,
    pub monitor: String,
    pub monitor_slug: String,
    pub severity: &'static str,
    pub started: String,
    pub started_at: DateTime<Utc>,
    pub resolved: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Open for / lasted.
    pub duration: String,
    pub issue_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceView {
    pub id: String,
    pub title: String,
    /// Public monitors it covers; empty means every monitor.
    pub monitors: Vec<String>,
    pub start: String,
    pub end: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitorView {
    pub name: String,
    /// File-name-safe form of the name: `monitors/<slug>.html`, `badges/<slug>/`.
    pub slug: String,
    pub description: Option<String>,
    pub kind: String,
    /// What is checked; `None` with `alerts.github.redact_targets: true`.
    pub target: Option<String>,
    pub health: Health,
    pub status: &'static str,
    pub status_text: &'static str,
    pub last_check: Option<String>,
    pub last_check_at: Option<DateTime<Utc>>,
    /// Why it is degraded or down (secrets and, when asked, targets redacted).
    pub message: Option<String>,
    /// 24h, 7d, 30d, 90d.
    pub uptime: Vec<WindowView>,
    pub bar: Vec<DayCell>,
    /// Days of the bar with data.
    pub days_with_data: usize,
    pub p50_24h: Option<f64>,
    pub p95_24h: Option<f64>,
    /// The response time badge's figure: the 24h median, else the last run's.
    pub response_ms: Option<f64>,
    /// 24 hours, 30 days, 90 days (rendered to SVG for the monitor's page, not passed
    /// to templates as data).
    #[serde(skip)]
    pub charts: Vec<Series>,
    pub incidents: Vec<IncidentView>,
    pub open_incidents: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub name: String,
    pub url: String,
}

/// Everything the site shows.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub title: String,
    pub description: Option<String>,
    pub url: Option<String>,
    /// The logo's file name in the site, when `pages.logo` is set.
    pub logo: Option<String>,
    pub links: Vec<Link>,
    pub timezone: String,
    pub generated: String,
    pub generated_at: DateTime<Utc>,
    pub overall: Overall,
    pub monitors: Vec<MonitorView>,
    pub open_incidents: Vec<IncidentView>,
    pub past_incidents: Vec<IncidentView>,
    pub maintenance: Vec<MaintenanceView>,
    /// First and last day of the bars (`YYYY-MM-DD`).
    pub first_day: String,
    pub last_day: String,
}

/// A monitor name as a file name: itself when it is already safe (`[A-Za-z0-9._-]`, not
/// starting with a dot), else a cleaned form plus a short hash, so two names never share
/// a file and nothing climbs out of the site (`..`, `/`).
pub fn slug(name: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !name.is_empty()
        && name.len() <= 100
        && name.chars().all(safe)
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
    {
        return name.to_string();
    }
    let keep = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    let mut s: String = name.chars().map(|c| if keep(c) { c.to_ascii_lowercase() } else { '-' }).take(60).collect();
    s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    let h = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(name.as_bytes())[..4]);
    if s.is_empty() {
        format!("m-{h}")
    } else {
        format!("{s}-{h}")
    }
}

fn short_id(parts: &[&str]) -> String {
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    for p in parts {
        sha2::Digest::update(&mut h, p.as_bytes());
        sha2::Digest::update(&mut h, [0u8]);
    }
    hex::encode(&sha2::Digest::finalize(h)[..6])
}

/// `99.95%`: two decimals, cut (never rounded up to a 100 % that was not), `no data`.
pub fn percent(u: Option<f64>) -> String {
    match u {
        None => "no data".into(),
        Some(u) if u >= 100.0 => "100%".into(),
        Some(u) => {
            let cut = (u.max(0.0) * 100.0).floor() / 100.0;
            let s = format!("{cut:.2}");
            format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
        }
    }
}

/// `123 ms`, `1.2 s`.
pub fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{} ms", ms.round() as i64)
    }
}

fn fmt_time(t: DateTime<Utc>, tz: Tz) -> String {
    let l = t.with_timezone(&tz);
    if tz == Tz::UTC {
        l.format("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        l.format("%Y-%m-%d %H:%M %Z").to_string()
    }
}

fn duration_text(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let secs = (to - from).num_seconds().max(0) as u64;
    // Minutes are precise enough for an incident.
    let rounded = if secs >= 60 { secs - secs % 60 } else { secs };
    crate::human::format_duration(std::time::Duration::from_secs(rounded))
}

fn severity_str(s: Severity) -> &'static str {
    s.as_str()
}

/// Builds the site. Never fails: missing history, state or report are "no data".
pub fn build(i: &Inputs) -> Site {
    let pc = &i.config.pages;
    let tz: Tz = crate::config::endpoints::parse_tz(pc.timezone.as_deref()).unwrap_or(Tz::UTC);
    let redact_targets = i.config.alerts.github.as_ref().is_some_and(|g| g.redact_targets);
    let public: Vec<&Monitor> = i.config.monitors.iter().filter(|m| m.common.public && m.common.enabled).collect();
    let targets: BTreeMap<&str, String> =
        public.iter().map(|m| (m.common.name.as_str(), crate::checks::target_of(m, i.redactor))).collect();
    let scrub = |text: &str, monitor: &str| {
        let s = i.redactor.redact_text(text);
        let s = if redact_targets {
            crate::alerts::github::redact_targets_in(&s, targets.get(monitor).map(String::as_str))
        } else {
            s
        };
        crate::untrusted::bound(&s, MAX_TEXT)
    };
    let slugs: BTreeMap<&str, String> = public.iter().map(|m| (m.common.name.as_str(), slug(&m.common.name))).collect();

    // Incidents: open alerts and resolved ones, of public monitors.
    let incident = |fp: &str,
                    monitor: &str,
                    sev: Severity,
                    msg: &str,
                    from: DateTime<Utc>,
                    to: Option<DateTime<Utc>>,
                    url: &Option<String>| {
        IncidentView {
            id: short_id(&[fp, &from.to_rfc3339()]),
            title: scrub(msg, monitor),
            monitor: monitor.to_string(),
            monitor_slug: slugs.get(monitor).cloned().unwrap_or_default(),
            severity: severity_str(sev),
            started: fmt_time(from, tz),
            started_at: from,
            resolved: to.map(|t| fmt_time(t, tz)),
            resolved_at: to,
            duration: duration_text(from, to.unwrap_or(i.now)),
            issue_url: url.clone().filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        }
    };
    let mut open: Vec<IncidentView> = i
        .state
        .alerts
        .iter()
        .filter(|(_, r)| slugs.contains_key(r.monitor.as_str()))
        .map(|(fp, r)| incident(fp, &r.monitor, r.severity, &r.message, r.first_seen, None, &r.issue_url))
        .collect();
    open.sort_by_key(|x| std::cmp::Reverse(x.started_at));
    let cutoff = i.now - Duration::days(DAYS);
    let mut past: Vec<IncidentView> = i
        .state
        .resolved
        .iter()
        .filter(|(_, r)| slugs.contains_key(r.monitor.as_str()) && r.resolved_at >= cutoff)
        .map(|(k, r)| {
            let fp = k.split('@').next().unwrap_or(k);
            incident(fp, &r.monitor, r.severity, &r.message, r.first_seen, Some(r.resolved_at), &r.issue_url)
        })
        .collect();
    past.sort_by_key(|x| std::cmp::Reverse(x.resolved_at));

    // Maintenance: active and upcoming windows that cover a public monitor.
    let mut maint = Vec::new();
    for (k, w) in i.config.alerts.maintenance.iter().enumerate() {
        let covered: Vec<String> = if w.monitors.is_empty() {
            vec![]
        } else {
            let g = crate::rules::globs(&w.monitors).ok();
            public.iter().map(|m| m.common.name.clone()).filter(|n| g.as_ref().is_some_and(|g| g.is_match(n))).collect()
        };
        if !w.monitors.is_empty() && covered.is_empty() {
            continue;
        }
        for (s, e) in maintenance::occurrences(w, i.now, i.now + Duration::days(UPCOMING_DAYS), 3) {
            let title = w
                .reason
                .as_deref()
                .map(|r| crate::untrusted::bound(&i.redactor.redact_text(r), MAX_TEXT))
                .unwrap_or_else(|| "Scheduled maintenance".into());
            maint.push(MaintenanceView {
                id: short_id(&["maintenance", &k.to_string(), &s.to_rfc3339()]),
                title,
                monitors: covered.clone(),
                start: fmt_time(s, tz),
                end: fmt_time(e, tz),
                start_at: s,
                end_at: e,
                active: s <= i.now && i.now < e,
            });
        }
    }
    maint.sort_by_key(|m| m.start_at);

    // Figures per monitor: what the report's history section shows.
    let leak_window = crate::state::history::HistoryConfig::from_config(&i.config.state).leak_window;
    let all_figures = figures::compute(i.history, i.now, leak_window);
    let today = i.now.date_naive();
    let first = today - Duration::days(DAYS - 1);
    // The bars' and charts' labels are the same for every monitor: formatted once.
    let labels = Labels::new(first, today, i.now);
    let checks: BTreeMap<&str, &crate::checks::CheckResult> =
        i.report.map(|r| r.checks.iter().map(|c| (c.name.as_str(), c)).collect()).unwrap_or_default();

    let view = |m: &&Monitor| -> MonitorView {
        let name = m.common.name.as_str();
        let fig = all_figures.get(name).cloned().unwrap_or_default();
        let check = checks.get(name).filter(|c| c.status != Status::Skipped);
        let st = i.state.monitors.get(name);
        let last_status = check.map(|c| c.status).or(st.map(|s| s.last_status));
        let last_at = check.map(|c| c.started_at).or(st.map(|s| s.last_checked_at));
        let mut health = match last_status {
            Some(Status::Up) => Health::Up,
            Some(Status::Degraded) => Health::Degraded,
            Some(Status::Down) => Health::Down,
            Some(Status::Skipped) | None => Health::Unknown,
        };
        if maintenance::covers(&i.config.alerts.maintenance, name, i.now) && health != Health::Unknown {
            health = Health::Maintenance;
        }
        let message = check
            .filter(|c| c.status != Status::Up)
            .and_then(|c| c.error.as_ref().map(|e| e.message.clone()).or(c.message.clone()))
            .map(|t| scrub(&t, name));
        let mine: Vec<&IncidentView> = open.iter().chain(past.iter()).filter(|x| x.monitor == name).collect();
        // One pass over the monitor's buckets for the bar, the 90 days and the charts.
        let buckets = i.history.buckets(name);
        let (bar, days_with_data, daily) = day_bar(&buckets, first, today, &mine, &labels);
        let w90 = figures::window_in(i.history, name, &buckets, i.now, DAYS * DAY_MS);
        let uptime = vec![
            window_view("24 hours", fig.w24h.uptime),
            window_view("7 days", fig.w7d.uptime),
            window_view("30 days", fig.w30d.uptime),
            window_view("90 days", w90.uptime),
        ];
        let last_rt = check.and_then(|c| c.metric_f64("response_time_ms"));
        MonitorView {
            name: name.to_string(),
            slug: slugs[name].clone(),
            description: m.common.description.as_ref().map(|d| crate::untrusted::bound(d, MAX_TEXT)),
            kind: m.kind.type_name().to_string(),
            target: (!redact_targets).then(|| targets[name].clone()),
            health,
            status: health.as_str(),
            status_text: health.text(),
            last_check: last_at.map(|t| fmt_time(t, tz)),
            last_check_at: last_at,
            message,
            uptime,
            bar,
            days_with_data,
            p50_24h: fig.p50_24h_ms,
            p95_24h: fig.p95_24h_ms,
            response_ms: fig.p50_24h_ms.or(last_rt),
            charts: charts(&buckets, i.now, &daily, &labels),
            open_incidents: mine.iter().filter(|x| x.resolved_at.is_none()).count(),
            incidents: mine.into_iter().cloned().collect(),
        }
    };
    // Monitors are independent: a large fleet is split across the machine's cores.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
    let chunk = public.len().div_ceil(threads).max(100);
    let monitors: Vec<MonitorView> = std::thread::scope(|sc| {
        let view = &view;
        let handles: Vec<_> =
            public.chunks(chunk).map(|part| sc.spawn(move || part.iter().map(view).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });

    let overall = overall(&monitors);
    Site {
        title: pc.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| "Status".into()),
        description: pc.description.clone(),
        url: pc.url.clone(),
        logo: None,
        links: pc.links.iter().map(|l| Link { name: l.name.clone(), url: l.url.clone() }).collect(),
        timezone: tz.name().to_string(),
        generated: fmt_time(i.now, tz),
        generated_at: i.now,
        overall,
        monitors,
        open_incidents: open,
        past_incidents: past,
        maintenance: maint,
        first_day: first.to_string(),
        last_day: today.to_string(),
    }
}

fn window_view(label: &'static str, u: Option<f64>) -> WindowView {
    WindowView { label, text: percent(u), value: u }
}

/// The banner and the Statuspage indicator from the monitors' states.
pub fn overall(monitors: &[MonitorView]) -> Overall {
    let known: Vec<Health> = monitors.iter().map(|m| m.health).filter(|h| *h != Health::Unknown).collect();
    let down = known.iter().filter(|h| **h == Health::Down).count();
    if down > 0 && down == known.len() {
        Overall { key: "outage", text: "Major outage", indicator: "critical", description: "Major System Outage" }
    } else if down > 0 {
        Overall { key: "outage", text: "Partial outage", indicator: "major", description: "Partial System Outage" }
    } else if known.contains(&Health::Degraded) {
        Overall {
            key: "degraded",
            text: "Degraded performance",
            indicator: "minor",
            description: "Minor Service Outage",
        }
    } else if known.contains(&Health::Maintenance) {
        Overall {
            key: "maintenance",
            text: "Under maintenance",
            indicator: "maintenance",
            description: "Service Under Maintenance",
        }
    } else if known.is_empty() {
        Overall { key: "unknown", text: "No data yet", indicator: "none", description: "No Data Yet" }
    } else {
        Overall {
            key: "operational",
            text: "All systems operational",
            indicator: "none",
            description: "All Systems Operational",
        }
    }
}

/// Each day's p50 and p95, oldest first (`None`: no data that day), with its label.
type Daily<'l> = Vec<(&'l str, Option<(Option<f64>, Option<f64>)>)>;

/// The days' labels (`Sep 4`, oldest first) and the last 24 hours' (`13:00`).
struct Labels {
    days: Vec<String>,
    hours: Vec<String>,
}

impl Labels {
    fn new(first: NaiveDate, last: NaiveDate, now: DateTime<Utc>) -> Labels {
        let days = first
            .iter_days()
            .take_while(|d| *d <= last)
            .take(DAYS as usize)
            .map(|d| d.format("%b %-d").to_string())
            .collect();
        let now_ms = now.timestamp_millis();
        let this_hour = now_ms - now_ms.rem_euclid(HOUR_MS);
        let hours = (0..24)
            .map(|k| {
                let start = this_hour - (23 - k) * HOUR_MS;
                DateTime::from_timestamp_millis(start).map(|t| t.format("%H:00").to_string()).unwrap_or_default()
            })
            .collect();
        Labels { days, hours }
    }
}

/// One monitor's buckets (start ms, length ms, aggregate), oldest first.
type Buckets<'a> = [(i64, i64, &'a Agg)];

/// One monitor's days `first..=last` (UTC), from its buckets: each day (its hours merged
/// for the recent days) as a bar cell, plus its percentiles for the daily chart.
fn day_bar<'l>(
    buckets: &Buckets,
    first: NaiveDate,
    last: NaiveDate,
    incidents: &[&IncidentView],
    labels: &'l Labels,
) -> (Vec<DayCell>, usize, Daily<'l>) {
    let from = day_start_ms(first);
    let mut by_day: BTreeMap<i64, Vec<&Agg>> = BTreeMap::new();
    for (start, _, a) in buckets.iter().filter(|b| b.0 >= from) {
        by_day.entry(start - start.rem_euclid(DAY_MS)).or_default().push(a);
    }
    let mut cells = Vec::with_capacity(DAYS as usize);
    let mut daily = Vec::with_capacity(DAYS as usize);
    let mut with_data = 0;
    for (d, date) in first.iter_days().take_while(|d| *d <= last).zip(&labels.days) {
        let d0 = day_start_ms(d);
        // A day of one bucket (a rollup: a compacted one keeps only its percentiles, which
        // `merge` does not add up) is that bucket; a day of hours is their sum.
        let (u, pct) = match by_day.remove(&d0).as_deref() {
            None | Some([]) => (None, None),
            Some([a]) => (figures::uptime_of(a), Some(a.p50_p95())),
            Some(hours) => {
                let mut sum = Agg::default();
                for a in hours {
                    sum.merge(a);
                }
                (figures::uptime_of(&sum), Some(sum.p50_p95()))
            }
        };
        let (s, e) = (d0, d0 + DAY_MS);
        let n = incidents
            .iter()
            .filter(|x| {
                let a = x.started_at.timestamp_millis();
                let b = x.resolved_at.map_or(i64::MAX, |t| t.timestamp_millis());
                a < e && b >= s
            })
            .count();
        let class = match u {
            None => "n",
            Some(u) if u >= 99.9 && n == 0 => "g",
            Some(u) if u >= 99.0 => "l",
            Some(u) if u >= 95.0 => "o",
            Some(_) => "r",
        };
        let title = match (u, n) {
            (None, 0) => format!("{date}, no data"),
            (None, n) => format!("{date}, no data, {n} incident{}", if n == 1 { "" } else { "s" }),
            (Some(_), 0) => format!("{date}, {}", percent(u)),
            (Some(_), n) => format!("{date}, {}, {n} incident{}", percent(u), if n == 1 { "" } else { "s" }),
        };
        if u.is_some() {
            with_data += 1;
        }
        cells.push(DayCell { class, title });
        daily.push((date.as_str(), pct));
    }
    (cells, with_data, daily)
}

/// The response-time charts: the last 24 hours by the hour, 30 and 90 days by the day.
fn charts(buckets: &Buckets, now: DateTime<Utc>, daily: &Daily, labels: &Labels) -> Vec<Series> {
    let now_ms = now.timestamp_millis();
    let this_hour = now_ms - now_ms.rem_euclid(HOUR_MS);
    let hours: BTreeMap<i64, &Agg> =
        buckets.iter().filter(|b| b.1 == HOUR_MS && b.0 > this_hour - 24 * HOUR_MS).map(|b| (b.0, b.2)).collect();
    let hourly: Vec<Point> = (0..24)
        .map(|k| {
            let start = this_hour - (23 - k) * HOUR_MS;
            let (p50, p95) = hours.get(&start).map(|a| a.p50_p95()).unwrap_or((None, None));
            Point { label: labels.hours[k as usize].clone(), p50, p95 }
        })
        .collect();
    let day_points = |n: usize| -> Vec<Point> {
        daily[daily.len().saturating_sub(n)..]
            .iter()
            .map(|(label, pct)| {
                let (p50, p95) = pct.unwrap_or((None, None));
                Point { label: label.to_string(), p50, p95 }
            })
            .collect()
    };
    vec![
        Series { id: "24h", label: "Last 24 hours (hourly)", points: hourly },
        Series { id: "30d", label: "Last 30 days (daily)", points: day_points(30) },
        Series { id: "90d", label: "Last 90 days (daily)", points: day_points(DAYS as usize) },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names_and_distinct() {
        assert_eq!(slug("api_health"), "api_health");
        assert_eq!(slug("web-1.example"), "web-1.example");
        assert_ne!(slug("a..b"), "a..b");
        let a = slug("../etc/passwd");
        assert!(!a.contains('/') && !a.starts_with('.'), "{a}");
        assert_ne!(slug("a b"), slug("a/b"));
        assert!(slug("").starts_with("m-"));
        assert!(slug("Ünïcode name").is_ascii());
    }

    #[test]
    fn percentages_are_cut_not_rounded_up() {
        assert_eq!(percent(Some(100.0)), "100%");
        assert_eq!(percent(Some(99.999)), "99.99%");
        assert_eq!(percent(Some(99.5)), "99.5%");
        assert_eq!(percent(Some(0.0)), "0%");
        assert_eq!(percent(None), "no data");
    }
}
