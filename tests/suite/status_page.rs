//! `status_page` monitors against every provider shape, served from fixture files
//! (tests/fixtures/status_pages/) by a local server: healthy pages, degraded components,
//! major outages, maintenance, an incident in "monitoring" with indicator `none`, nested
//! groups, unknown status values, and pages that are not status JSON at all.

use crate::support;

use std::path::Path;
use std::process::Command;

use serde_json::json;
use support::services::{not_fired, FakeHttp};
use support::{assert_down, assert_status, assert_up, load, num, text};
use vaktpost::checks::{CheckResult, ErrorKind, Status};
use vaktpost::config::{Loaded, Severity};

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/status_pages").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Serves `/f/<fixture>` from the fixtures, `/status/<code>` as that status, 404 otherwise.
fn pages() -> FakeHttp {
    FakeHttp::start(|req| {
        if let Some(name) = req.path.strip_prefix("/f/") {
            return (200, fixture(name));
        }
        if let Some(code) = req.path.strip_prefix("/status/").and_then(|c| c.parse().ok()) {
            return (code, "{}".into());
        }
        match req.path.as_str() {
            "/weird" => (200, r#"{"hello": "world"}"#.into()),
            _ => (404, r#"{"error":"not found"}"#.into()),
        }
    })
}

/// Loads one `status_page` monitor named `upstream` (extra keys one per line) and runs it.
async fn run(url: &str, extra: &str) -> (Loaded, CheckResult) {
    let mut yaml = format!("monitors:\n  - name: upstream\n    type: status_page\n    url: \"{url}\"\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str("    ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    let loaded = load(&yaml);
    let r = support::run_loaded(&loaded).await;
    (loaded, r)
}

/// One `status_page` monitor for `url`, run with a recording sleep: the result and waits.
async fn run_virtual(url: &str, extra: &str) -> (CheckResult, Vec<std::time::Duration>) {
    let mut yaml = format!("monitors:\n  - name: upstream\n    type: status_page\n    url: \"{url}\"\n");
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str("    ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    support::clock::run_yaml_virtual(&yaml).await
}

fn list(r: &CheckResult, name: &str) -> serde_json::Value {
    r.metrics.get(name).cloned().unwrap_or_else(|| panic!("metric {name} missing in {r:#?}"))
}

fn finding(loaded: &Loaded, r: &CheckResult, rule: &str) -> (Severity, String) {
    let all = support::services::findings(loaded, r);
    all.into_iter()
        .find(|(n, _, _)| n == rule)
        .map(|(_, s, m)| (s, m))
        .unwrap_or_else(|| panic!("rule {rule} did not fire for {r:#?}"))
}

// ---------------------------------------------------------------- Atlassian Statuspage

#[tokio::test]
async fn healthy_statuspage_is_up_with_every_component_operational() {
    let s = pages();
    let (l, r) = run(&s.url("/f/statuspage_healthy.json"), "").await;
    assert_up(&r);
    assert_eq!(text(&r, "provider"), "statuspage");
    assert_eq!(text(&r, "indicator"), "none");
    assert_eq!(text(&r, "page_indicator"), "none");
    assert_eq!(num(&r, "incidents"), 0.0);
    assert_eq!(text(&r, "components.Actions"), "operational");
    assert_eq!(text(&r, "components.Git Operations"), "operational");
    assert_eq!(list(&r, "affected_components"), json!([]));
    assert_eq!(text(&r, "status_summary"), "all operational");
    not_fired(&l, &r, "provider_degraded");
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn degraded_component_is_a_low_finding_with_the_incident_title_and_link() {
    let s = pages();
    let (l, r) = run(&s.url("/f/statuspage_degraded_component.json"), "").await;
    assert_status(&r, Status::Degraded);
    assert_eq!(text(&r, "indicator"), "minor");
    assert_eq!(text(&r, "components.Actions"), "degraded_performance");
    assert_eq!(num(&r, "incidents"), 1.0);
    assert_eq!(list(&r, "incident_titles"), json!(["Disruption with some GitHub services"]));
    assert_eq!(list(&r, "incident_urls"), json!(["https://stspg.io/x8dr3h"]));
    assert_eq!(
        finding(&l, &r, "provider_degraded"),
        (
            Severity::Low,
            "upstream: minor — Disruption with some GitHub services (https://stspg.io/x8dr3h); Actions (degraded_performance)"
                .to_string()
        )
    );
    // Upstream trouble is not our endpoint being down.
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn major_outage_is_a_medium_finding_and_the_monitor_stays_degraded_not_down() {
    let s = pages();
    let (l, r) = run(&s.url("/f/statuspage_major_outage.json"), "").await;
    assert_status(&r, Status::Degraded);
    assert!(r.error.is_none());
    assert_eq!(text(&r, "indicator"), "critical");
    assert_eq!(text(&r, "components.Git Operations"), "major_outage");
    assert_eq!(text(&r, "components.API Requests"), "partial_outage");
    assert_eq!(
        list(&r, "affected_components"),
        json!(["Git Operations (major_outage)", "API Requests (partial_outage)"])
    );
    assert_eq!(list(&r, "incident_titles"), json!(["Incident with Git Operations and API Requests"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);
    not_fired(&l, &r, "endpoint_down");
}

#[tokio::test]
async fn components_filter_ignores_outages_of_unwatched_components() {
    let s = pages();
    let (l, r) = run(&s.url("/f/statuspage_major_outage.json"), "components: [pages, WEBHOOKS]").await;
    assert_up(&r);
    assert_eq!(text(&r, "indicator"), "none");
    // The page as a whole is still critical; that is reported but not ours.
    assert_eq!(text(&r, "page_indicator"), "critical");
    assert_eq!(num(&r, "incidents"), 0.0);
    assert_eq!(text(&r, "components.Pages"), "operational");
    assert!(!r.metrics.contains_key("components.Git Operations"), "{r:#?}");
    assert_eq!(list(&r, "components_missing"), json!([]));
    not_fired(&l, &r, "provider_degraded");

    let (l, r) = run(&s.url("/f/statuspage_major_outage.json"), "components: [api requests]").await;
    // API Requests is in a partial outage and named by the critical incident.
    assert_eq!(text(&r, "indicator"), "critical");
    assert_eq!(num(&r, "incidents"), 1.0);
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);
}

#[tokio::test]
async fn maintenance_in_progress_is_reported_and_scheduled_ones_are_not() {
    let s = pages();
    let (l, r) = run(&s.url("/f/statuspage_maintenance.json"), "").await;
    assert_status(&r, Status::Degraded);
    assert_eq!(text(&r, "indicator"), "maintenance");
    assert_eq!(text(&r, "components.Pages"), "under_maintenance");
    assert_eq!(num(&r, "maintenances"), 1.0);
    assert_eq!(list(&r, "maintenance_titles"), json!(["GitHub Pages database migration"]));
    assert_eq!(num(&r, "incidents"), 0.0);
    assert_eq!(
        finding(&l, &r, "provider_degraded"),
        (
            Severity::Low,
            "upstream: maintenance — Pages (under_maintenance); maintenance: GitHub Pages database migration"
                .to_string()
        )
    );
}

#[tokio::test]
async fn incident_in_monitoring_with_indicator_none_still_counts() {
    let s = pages();
    let (l, r) = run(&s.url("/f/statuspage_monitoring_indicator_none.json"), "").await;
    assert_eq!(text(&r, "page_indicator"), "none");
    assert_eq!(text(&r, "indicator"), "minor");
    assert_status(&r, Status::Degraded);
    assert_eq!(list(&r, "incident_titles"), json!(["Delayed webhook deliveries"]));
    assert_eq!(list(&r, "incident_urls"), json!(["https://stspg.io/p0o9i8"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Low);
    // Watching only other components, the webhook incident is not ours.
    let (_, r) = run(&s.url("/f/statuspage_monitoring_indicator_none.json"), "components: [Actions]").await;
    assert_eq!(text(&r, "indicator"), "none");
    assert_up(&r);
}

#[tokio::test]
async fn groups_are_containers_and_a_group_name_watches_its_members() {
    let s = pages();
    let (_, r) = run(&s.url("/f/statuspage_groups.json"), "").await;
    assert!(!r.metrics.contains_key("components.Europe"), "groups are not components: {r:#?}");
    assert_eq!(text(&r, "components.Frankfurt, Germany - (FRA)"), "partial_outage");
    assert_eq!(text(&r, "components.Ashburn, VA, United States - (IAD)"), "operational");
    assert_eq!(text(&r, "indicator"), "major");

    let (l, r) = run(&s.url("/f/statuspage_groups.json"), "components: [europe]").await;
    assert_eq!(text(&r, "indicator"), "major");
    assert_eq!(text(&r, "components.Amsterdam, Netherlands - (AMS)"), "operational");
    assert_eq!(list(&r, "incident_titles"), json!(["Network performance issues in Frankfurt, Germany - (FRA)"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);

    let (_, r) = run(&s.url("/f/statuspage_groups.json"), "components: [North America]").await;
    assert_up(&r);
    assert_eq!(text(&r, "indicator"), "none");
    assert_eq!(num(&r, "incidents"), 0.0);

    let (_, r) = run(&s.url("/f/statuspage_groups.json"), "components: [\"frankfurt, germany - (fra)\"]").await;
    assert_eq!(text(&r, "indicator"), "major");
}

#[tokio::test]
async fn unknown_status_values_are_degraded_and_reported_raw() {
    let s = pages();
    let (l, r) = run(&s.url("/f/statuspage_unknown_status.json"), "").await;
    assert_status(&r, Status::Degraded);
    assert!(r.error.is_none());
    assert_eq!(text(&r, "indicator"), "minor");
    assert_eq!(text(&r, "components.Copilot"), "degraded_performance");
    assert_eq!(list(&r, "unrecognized_statuses"), json!(["indicator: elevated", "Copilot: partial_degradation"]));
    let (sev, msg) = finding(&l, &r, "provider_degraded");
    assert_eq!(sev, Severity::Low);
    assert!(msg.contains("unrecognized status Copilot: partial_degradation"), "{msg}");
}

#[tokio::test]
async fn a_watched_component_missing_from_the_page_is_named() {
    let s = pages();
    let (_, r) = run(&s.url("/f/statuspage_healthy.json"), "components: [Actionz, pages]").await;
    assert_status(&r, Status::Degraded);
    assert_eq!(list(&r, "components_missing"), json!(["Actionz"]));
    let msg = r.message.clone().unwrap_or_default();
    assert!(
        msg.starts_with("watched component not on the page: Actionz; the page has: Git Operations, API Requests"),
        "{msg}"
    );
}

// ---------------------------------------------------------------- incident.io

#[tokio::test]
async fn openai_preset_reads_incidentio_compatible_summary_with_maintenance() {
    let s = pages();
    let (l, r) = run(&s.url("/f/incidentio_summary_maintenance.json"), "preset: openai").await;
    assert_eq!(text(&r, "provider"), "incidentio");
    assert_eq!(text(&r, "page_indicator"), "maintenance");
    assert_eq!(text(&r, "indicator"), "maintenance");
    assert_eq!(text(&r, "components.Batch"), "under_maintenance");
    assert_eq!(list(&r, "maintenance_titles"), json!(["Batch API scheduled maintenance"]));
    assert!(!r.metrics.contains_key("components.APIs"), "groups are not components: {r:#?}");
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Low);

    let (_, r) =
        run(&s.url("/f/incidentio_summary_maintenance.json"), "preset: openai\ncomponents: [Chat Completions]").await;
    assert_up(&r);
    assert_eq!(text(&r, "indicator"), "none");
    assert_eq!(num(&r, "maintenances"), 0.0);
}

#[tokio::test]
async fn openai_preset_outage_of_a_watched_component() {
    let s = pages();
    let (l, r) =
        run(&s.url("/f/incidentio_summary_outage.json"), "preset: openai\ncomponents: [chat completions]").await;
    assert_eq!(text(&r, "indicator"), "major");
    assert_eq!(text(&r, "components.Chat Completions"), "partial_outage");
    assert_eq!(list(&r, "incident_titles"), json!(["Elevated error rates on Chat Completions"]));
    assert_eq!(list(&r, "incident_urls"), json!(["https://status.openai.com/incidents/01JWR3K5C8D9E0F1G2H3J4K5M6"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);
}

#[tokio::test]
async fn incidentio_widget_api_outage_healthy_and_maintenance() {
    let s = pages();
    let (l, r) = run(&s.url("/f/incidentio_widget_outage.json"), "provider: incidentio").await;
    assert_eq!(text(&r, "provider"), "incidentio");
    assert_eq!(text(&r, "indicator"), "critical");
    assert_eq!(num(&r, "incidents"), 2.0);
    assert_eq!(
        list(&r, "incident_titles"),
        json!(["ChatGPT unavailable for all users", "Increased latency for fine-tuning jobs"])
    );
    assert_eq!(text(&r, "components.Login"), "major_outage");
    assert_eq!(text(&r, "components.Fine-tuning"), "degraded_performance");
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);
    assert!(!r.metrics.contains_key("page_indicator"));

    // Auto-detected too; watching the APIs group leaves only the fine-tuning incident.
    let (l, r) = run(&s.url("/f/incidentio_widget_outage.json"), "components: [APIs]").await;
    assert_eq!(text(&r, "provider"), "incidentio");
    assert_eq!(text(&r, "indicator"), "minor");
    assert_eq!(list(&r, "incident_titles"), json!(["Increased latency for fine-tuning jobs"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Low);
    // The widget lists only affected components: an unnamed one is not "missing".
    assert!(!r.metrics.contains_key("components_missing"));

    let (_, r) = run(&s.url("/f/incidentio_widget_healthy.json"), "").await;
    assert_up(&r);
    assert_eq!(text(&r, "indicator"), "none");

    let (_, r) = run(&s.url("/f/incidentio_widget_maintenance.json"), "").await;
    assert_eq!(text(&r, "indicator"), "maintenance");
    assert_eq!(text(&r, "components.Batch"), "under_maintenance");
    assert_eq!(list(&r, "maintenance_titles"), json!(["Batch API scheduled maintenance"]));
}

/// The README's rule over one component works as written.
#[tokio::test]
async fn rules_can_read_one_component_by_name() {
    let s = pages();
    let yaml = format!(
        "monitors:\n  - name: openai\n    type: status_page\n    preset: openai\n    url: {}\nrules:\n  - name: chat_completions_down\n    condition: components[\"Chat Completions\"] != 'operational'\n    message: \"Chat Completions is degraded on {{name}}\"\n    severity: high\n",
        s.url("/f/incidentio_summary_outage.json")
    );
    let l = load(&yaml);
    let r = support::run_loaded(&l).await;
    assert_eq!(
        finding(&l, &r, "chat_completions_down"),
        (Severity::High, "Chat Completions is degraded on openai".into())
    );
    let yaml = yaml.replace("incidentio_summary_outage", "incidentio_summary_maintenance");
    let l = load(&yaml);
    let r = support::run_loaded(&l).await;
    not_fired(&l, &r, "chat_completions_down");
}

// ---------------------------------------------------------------- Railway, Instatus, Better Stack

#[tokio::test]
async fn railway_preset_reads_nested_groups_case_insensitively() {
    let s = pages();
    let (l, r) = run(&s.url("/f/railway_healthy.json"), "preset: railway").await;
    assert_up(&r);
    assert_eq!(text(&r, "provider"), "railway");
    assert_eq!(text(&r, "components.EU West"), "operational");
    assert!(!r.metrics.contains_key("components.Regions"));
    not_fired(&l, &r, "provider_degraded");

    let (l, r) = run(&s.url("/f/railway_degraded.json"), "preset: railway").await;
    assert_eq!(text(&r, "indicator"), "major");
    assert_eq!(text(&r, "page_indicator"), "minor");
    assert_eq!(text(&r, "components.Builds"), "partial_outage");
    assert_eq!(text(&r, "components.EU West"), "degraded_performance");
    assert_eq!(text(&r, "components.Dashboard"), "operational");
    assert_eq!(list(&r, "incident_titles"), json!(["Builds are slow to start"]));
    assert_eq!(list(&r, "incident_urls"), json!(["https://status.railway.com/incident/inc_9f8e7d"]));
    assert_eq!(num(&r, "maintenances"), 0.0);
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);

    // A nested group's name watches its members only.
    let (_, r) = run(&s.url("/f/railway_degraded.json"), "preset: railway\ncomponents: [regions]").await;
    assert_eq!(text(&r, "indicator"), "minor");
    assert_eq!(num(&r, "incidents"), 0.0);
    assert_eq!(list(&r, "affected_components"), json!(["EU West (degraded_performance)"]));
}

#[tokio::test]
async fn instatus_pages() {
    let s = pages();
    let (_, r) = run(&s.url("/f/instatus_healthy.json"), "").await;
    assert_up(&r);
    assert_eq!(text(&r, "provider"), "instatus");

    let (l, r) = run(&s.url("/f/instatus_incident.json"), "provider: instatus").await;
    assert_eq!(text(&r, "page_indicator"), "minor");
    assert_eq!(text(&r, "indicator"), "critical");
    assert_eq!(list(&r, "incident_titles"), json!(["Checkout API returning errors"]));
    assert_eq!(list(&r, "incident_urls"), json!(["https://acme.instatus.com/cl9x1y2z3"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);

    let (_, r) = run(&s.url("/f/instatus_maintenance.json"), "").await;
    assert_eq!(text(&r, "indicator"), "maintenance");
    assert_eq!(list(&r, "maintenance_titles"), json!(["Database upgrade"]));
}

#[tokio::test]
async fn betterstack_pages() {
    let s = pages();
    let (_, r) = run(&s.url("/f/betterstack_healthy.json"), "").await;
    assert_up(&r);
    assert_eq!(text(&r, "provider"), "betterstack");
    assert_eq!(text(&r, "components.API"), "operational");

    let (l, r) = run(&s.url("/f/betterstack_downtime.json"), "provider: betterstack").await;
    assert_eq!(text(&r, "indicator"), "critical");
    assert_eq!(text(&r, "page_indicator"), "major");
    assert_eq!(text(&r, "components.API"), "major_outage");
    assert_eq!(list(&r, "incident_titles"), json!(["API is down"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);

    // The open report names no components; the page shows API down, so it is API's.
    let (l, r) = run(&s.url("/f/betterstack_downtime.json"), "components: [website]").await;
    assert_eq!(num(&r, "incidents"), 0.0);
    assert_eq!(text(&r, "indicator"), "none");
    assert_eq!(text(&r, "components.Website"), "operational");
    not_fired(&l, &r, "provider_degraded");
}

// ---------------------------------------------------------------- incidents that name no components

/// One provider shape: `outage` shows `other` degraded and an open incident that names no
/// components; `no_signal` shows every component operational and such an incident.
struct Unnamed {
    outage: &'static str,
    no_signal: &'static str,
    extra: &'static str,
    healthy: &'static str,
    other: &'static str,
    title: &'static str,
    no_signal_level: &'static str,
}

async fn check_unnamed_attribution(s: &FakeHttp, c: &Unnamed) {
    let watch = |name: &str| format!("{}\ncomponents: [\"{name}\"]", c.extra);
    // The page says which component is in trouble: an incident without components is not
    // the healthy component's.
    let (l, r) = run(&s.url(&format!("/f/{}", c.outage)), &watch(c.healthy)).await;
    assert_up(&r);
    assert_eq!(text(&r, "indicator"), "none", "{}: {r:#?}", c.outage);
    assert_eq!(num(&r, "incidents"), 0.0, "{}", c.outage);
    assert_eq!(list(&r, "incident_titles"), json!([]), "{}", c.outage);
    not_fired(&l, &r, "provider_degraded");
    // It is the degraded component's (beside any incident that names it).
    let (l, r) = run(&s.url(&format!("/f/{}", c.outage)), &watch(c.other)).await;
    let titles = list(&r, "incident_titles");
    assert!(titles.as_array().is_some_and(|t| t.contains(&json!(c.title))), "{}: {titles}", c.outage);
    finding(&l, &r, "provider_degraded");
    // No component is degraded: the incident may be anyone's, so it counts for the watch.
    let (l, r) = run(&s.url(&format!("/f/{}", c.no_signal)), &watch(c.healthy)).await;
    assert_status(&r, Status::Degraded);
    assert_eq!(text(&r, "indicator"), c.no_signal_level, "{}: {r:#?}", c.no_signal);
    assert_eq!(num(&r, "incidents"), 1.0, "{}", c.no_signal);
    finding(&l, &r, "provider_degraded");
}

/// Regression: an incident naming no components was counted against every watched
/// component, a false provider_degraded for the healthy ones while another was in outage.
#[tokio::test]
async fn incident_without_components_is_not_counted_against_a_healthy_watched_component() {
    let s = pages();
    for c in [
        Unnamed {
            outage: "statuspage_unnamed_incident_outage.json",
            no_signal: "statuspage_unnamed_incident_no_signal.json",
            extra: "provider: statuspage",
            healthy: "Actions",
            other: "API Requests",
            title: "We are investigating elevated error rates",
            no_signal_level: "minor",
        },
        Unnamed {
            outage: "incidentio_widget_unnamed_incident_outage.json",
            no_signal: "incidentio_widget_unnamed_incident_no_signal.json",
            extra: "provider: incidentio",
            healthy: "Chat Completions",
            other: "Login",
            title: "Elevated errors for some users",
            no_signal_level: "major",
        },
        Unnamed {
            outage: "instatus_unnamed_incident_outage.json",
            no_signal: "instatus_unnamed_incident_no_signal.json",
            extra: "provider: instatus",
            healthy: "Website",
            other: "Checkout API",
            title: "Investigating errors",
            no_signal_level: "major",
        },
        Unnamed {
            outage: "betterstack_downtime.json",
            no_signal: "betterstack_unnamed_report_no_signal.json",
            extra: "provider: betterstack",
            healthy: "Website",
            other: "API",
            title: "API is down",
            no_signal_level: "minor",
        },
        Unnamed {
            outage: "railway_unnamed_incident_outage.json",
            no_signal: "railway_unnamed_incident_no_signal.json",
            extra: "provider: railway",
            healthy: "Dashboard",
            other: "Builds",
            title: "Elevated failures",
            no_signal_level: "critical",
        },
        Unnamed {
            outage: "incidentio_proxy_unnamed_incident_outage.json",
            no_signal: "incidentio_proxy_unnamed_incident_no_signal.json",
            extra: "provider: incidentio",
            healthy: "Chat Completions",
            other: "Login",
            title: "Elevated errors for some users",
            no_signal_level: "major",
        },
        Unnamed {
            outage: "checkly_unnamed_incident_outage.json",
            no_signal: "checkly_unnamed_incident_no_signal.json",
            extra: "provider: checkly",
            healthy: "Website",
            other: "Payments",
            title: "Investigating failed payments",
            no_signal_level: "major",
        },
    ] {
        check_unnamed_attribution(&s, &c).await;
    }
}

// ---------------------------------------------------------------- Checkly

/// Regression: a Checkly page (`status: "HAS_ISSUES"`, incidents with `severity: "MAJOR"`
/// and `affectedServices`) was read as Instatus and reported `minor` with no incidents.
#[tokio::test]
async fn checkly_page_is_detected_and_its_severity_and_services_are_read() {
    let s = pages();
    let (l, r) = run(&s.url("/f/checkly_major.json"), "").await;
    assert_eq!(text(&r, "provider"), "checkly");
    assert_status(&r, Status::Degraded);
    assert_eq!(text(&r, "page_indicator"), "minor");
    assert_eq!(text(&r, "indicator"), "major");
    // The resolved incident is history.
    assert_eq!(num(&r, "incidents"), 2.0);
    assert_eq!(list(&r, "incident_titles"), json!(["Checkout API returning 500s", "Slow dashboard"]));
    assert_eq!(list(&r, "incident_urls"), json!(["https://status.acme.dev/incidents/inc-1", ""]));
    assert_eq!(text(&r, "components.Checkout API"), "partial_outage");
    assert_eq!(text(&r, "components.Dashboard"), "degraded_performance");
    assert_eq!(text(&r, "components.Website"), "operational");
    assert_eq!(text(&r, "components.Payments"), "operational");
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);

    // Named explicitly, and watched by service or by card (group).
    let (_, r) = run(&s.url("/f/checkly_major.json"), "provider: checkly\ncomponents: [website]").await;
    assert_up(&r);
    assert_eq!(text(&r, "indicator"), "none");
    let (l, r) = run(&s.url("/f/checkly_major.json"), "provider: checkly\ncomponents: [Tools]").await;
    assert_eq!(text(&r, "indicator"), "minor");
    assert_eq!(list(&r, "incident_titles"), json!(["Slow dashboard"]));
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Low);
    let (_, r) = run(&s.url("/f/checkly_major.json"), "provider: checkly\ncomponents: [Checkout APl]").await;
    assert_eq!(list(&r, "components_missing"), json!(["Checkout APl"]));

    let (l, r) = run(&s.url("/f/checkly_operational.json"), "").await;
    assert_up(&r);
    assert_eq!(text(&r, "provider"), "checkly");
    assert_eq!(text(&r, "indicator"), "none");
    assert_eq!(text(&r, "components.Checkout API"), "operational");
    not_fired(&l, &r, "provider_degraded");
}

#[tokio::test]
async fn checkly_severities_map_to_the_indicator_scale() {
    let s = FakeHttp::start(|req| {
        let sev = req.path.trim_start_matches('/').to_string();
        let doc = json!({
            "status": "HAS_ISSUES",
            "services": [{"id": "a", "name": "API"}],
            "incidents": [{"id": "i", "name": "Trouble", "severity": sev, "lastUpdateStatus": "INVESTIGATING",
                           "affectedServices": [{"id": "a", "name": "API"}]}]
        });
        (200, doc.to_string())
    });
    for (sev, indicator, component) in [
        ("MINOR", "minor", "degraded_performance"),
        ("MEDIUM", "major", "partial_outage"),
        ("MAJOR", "major", "partial_outage"),
        ("CRITICAL", "critical", "major_outage"),
    ] {
        let (_, r) = run(&s.url(&format!("/{sev}")), "provider: checkly").await;
        assert_eq!(text(&r, "indicator"), indicator, "{sev}");
        assert_eq!(text(&r, "components.API"), component, "{sev}");
    }
    let (_, r) = run(&s.url("/SEVERE"), "provider: checkly").await;
    assert_eq!(text(&r, "indicator"), "minor");
    assert_eq!(list(&r, "unrecognized_statuses"), json!(["severity of \"Trouble\": SEVERE"]));
}

// ---------------------------------------------------------------- incident.io's /proxy feed

/// Regression: incident.io's grouped `/proxy/<page>` feed was refused as "not a
/// Statuspage summary"; it is read as incident.io, with groups and every component.
#[tokio::test]
async fn incidentio_proxy_feed_is_read_with_groups_and_every_component() {
    let s = pages();
    let (l, r) = run(&s.url("/f/incidentio_proxy_outage.json"), "preset: openai").await;
    assert_eq!(text(&r, "provider"), "incidentio");
    assert_eq!(text(&r, "indicator"), "major");
    assert_eq!(text(&r, "components.Chat Completions"), "partial_outage");
    assert_eq!(text(&r, "components.Login"), "operational");
    assert_eq!(list(&r, "incident_titles"), json!(["Elevated error rates on Chat Completions"]));
    assert_eq!(list(&r, "incident_urls"), json!(["https://status.openai.com/incidents/01JWR3K5C8D9E0F1G2H3J4K5M6"]));
    // A scheduled maintenance that has not started is not one in progress.
    assert_eq!(num(&r, "maintenances"), 0.0);
    assert_eq!(finding(&l, &r, "provider_degraded").0, Severity::Medium);

    let (_, r) = run(&s.url("/f/incidentio_proxy_outage.json"), "components: [ChatGPT]").await;
    assert_up(&r);
    assert_eq!(text(&r, "components.Conversations"), "operational");
    let (_, r) = run(&s.url("/f/incidentio_proxy_outage.json"), "components: [apis]").await;
    assert_eq!(text(&r, "indicator"), "major");
    // The feed lists every component, so a typo is named.
    let (_, r) =
        run(&s.url("/f/incidentio_proxy_healthy.json"), "provider: incidentio\ncomponents: [Chat Completion]").await;
    assert_eq!(list(&r, "components_missing"), json!(["Chat Completion"]));
    let (_, r) = run(&s.url("/f/incidentio_proxy_healthy.json"), "").await;
    assert_up(&r);
    assert_eq!(text(&r, "indicator"), "none");

    // Read as a Statuspage summary, the error says what the feed is and what to set.
    let (_, r) = run(&s.url("/f/incidentio_proxy_outage.json"), "provider: statuspage").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert_eq!(
        msg,
        "/f/incidentio_proxy_outage.json: not a Statuspage summary: no status and no components; this is incident.io's grouped /proxy/<page> feed: set provider: incidentio (or auto)"
    );
}

// ---------------------------------------------------------------- broken pages

#[tokio::test]
async fn truncated_json_is_a_protocol_error_not_an_outage() {
    let s = pages();
    let (l, r) = run(&s.url("/f/truncated.json"), "").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.starts_with("/f/truncated.json answered invalid or truncated JSON (EOF while parsing"), "{msg}");
    assert!(!r.metrics.contains_key("indicator"));
    not_fired(&l, &r, "provider_degraded");
}

#[tokio::test]
async fn html_instead_of_json_says_where_the_json_is() {
    let s = pages();
    let (_, r) = run(&s.url("/f/not_json.html"), "preset: github").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert_eq!(
        msg,
        "/f/not_json.html answered HTML, not JSON: point url at the page's JSON API (e.g. /api/v2/summary.json for Statuspage and incident.io pages) or use a preset"
    );
}

#[tokio::test]
async fn http_errors_and_unknown_json_are_reported_by_kind() {
    let s = pages();
    let (_, r) = run(&s.url("/status/503"), "").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(msg, "GET /status/503 answered HTTP 503 Service Unavailable; check the status page URL");

    let (_, r) = run(&s.url("/weird"), "").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert!(msg.contains("is JSON but not a status page vaktpost knows"), "{msg}");

    // A named provider that does not match the JSON says so.
    let (_, r) = run(&s.url("/f/statuspage_healthy.json"), "provider: instatus").await;
    let msg = assert_down(&r, ErrorKind::Protocol);
    assert_eq!(
        msg,
        "/f/statuspage_healthy.json: no page.status: not an Instatus summary.json; the JSON looks like a statuspage page: set provider: statuspage (or auto)"
    );
}

// Regression: `provider: statuspage` read `{}` and all-null pages as "no trouble" and reported `up`.
#[tokio::test]
async fn statuspage_json_without_status_or_components_is_a_protocol_error_not_up() {
    let cases = [
        ("{}", "no status and no components"),
        (r#"{"page":null,"status":null}"#, "status is null and no components"),
        (r#"{"page":null,"status":null,"components":null,"incidents":null}"#, "status is null and components is null"),
        (r#"{"status":{},"components":[]}"#, "no status.indicator and components is empty"),
        (
            r#"{"status":{"indicator":null},"components":[null,{"status":"operational"}]}"#,
            "no status.indicator and no component has a name",
        ),
        (
            r#"{"status":{"indicator":3},"components":{}}"#,
            "status.indicator is not a string and components is not a list",
        ),
    ];
    for (body, why) in cases {
        let s = FakeHttp::start(move |_| (200, body.to_string()));
        let (_, r) = run(&s.url("/api/v2/summary.json"), "provider: statuspage").await;
        let msg = assert_down(&r, ErrorKind::Protocol);
        assert_eq!(msg, format!("/api/v2/summary.json: not a Statuspage summary: {why}"), "{body}");
    }
    // The same page as an incident.io summary (read by the Statuspage parser) is refused too.
    let s = FakeHttp::start(|_| (200, r#"{"status":null}"#.to_string()));
    let (_, r) = run(&s.url("/api/v2/summary.json"), "provider: incidentio").await;
    assert!(assert_down(&r, ErrorKind::Protocol).contains("not a Statuspage summary"), "{r:#?}");
    // A page with only components (no status block) still reads.
    let s = FakeHttp::start(|_| (200, r#"{"components":[{"name":"API","status":"operational"}]}"#.to_string()));
    let (_, r) = run(&s.url("/api/v2/summary.json"), "provider: statuspage").await;
    assert_up(&r);
}

#[tokio::test]
async fn bare_page_url_tries_the_usual_json_paths() {
    let s = FakeHttp::start(|req| match req.path.as_str() {
        "/summary.json" => (200, fixture("instatus_incident.json")),
        _ => (404, "{}".into()),
    });
    let (_, r) = run(&s.url("/"), "").await;
    assert_eq!(text(&r, "provider"), "instatus");
    assert_eq!(text(&r, "indicator"), "critical");
    let paths: Vec<String> = s.seen().into_iter().map(|x| x.path).collect();
    assert_eq!(paths, ["/api/v2/summary.json", "/summary.json"]);
    assert_eq!(r.target, s.url("/"));

    let (_, r) = run(&s.url(""), "provider: statuspage").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert!(msg.starts_with("no status JSON found at http://127.0.0.1:"), "{msg}");
    assert!(msg.contains("(tried /api/v2/summary.json)"), "{msg}");
}

#[tokio::test]
async fn retries_ride_out_a_transient_5xx() {
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = n.clone();
    let s = FakeHttp::start(move |_| {
        if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            (502, "{}".into())
        } else {
            (200, fixture("statuspage_healthy.json"))
        }
    });
    let (r, waits) = run_virtual(&s.url("/api/v2/summary.json"), "retries: 1").await;
    assert_up(&r);
    assert_eq!(n.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(waits, [std::time::Duration::from_millis(200)]);
    // Without retries the 502 is the answer.
    let s = FakeHttp::start(|_| (502, "{}".into()));
    let (_, r) = run(&s.url("/api/v2/summary.json"), "").await;
    assert_down(&r, ErrorKind::HttpStatus);
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_and_one_over_10s_is_reported_not_retried() {
    use support::fake_api::{ApiReply, FakeApi};
    let healthy: serde_json::Value = serde_json::from_str(&fixture("statuspage_healthy.json")).unwrap();
    let page = healthy.clone();
    let a = FakeApi::start(move |_, n| {
        if n == 1 {
            ApiReply::json(503, json!({})).header("Retry-After", "3")
        } else {
            ApiReply::json(200, page.clone())
        }
    });
    let (r, waits) = run_virtual(&a.url("/api/v2/summary.json"), "retries: 2").await;
    assert_up(&r);
    assert_eq!(waits, [std::time::Duration::from_secs(3)]);

    let a = FakeApi::start(|_, _| ApiReply::json(503, json!({})).header("Retry-After", "11"));
    let (r, waits) = run_virtual(&a.url("/api/v2/summary.json"), "retries: 2").await;
    let msg = assert_down(&r, ErrorKind::HttpStatus);
    assert!(
        msg.contains("answered HTTP 503 Service Unavailable; not retried, as the server asked to wait 11s; check the status page URL"),
        "{msg}"
    );
    assert!(waits.is_empty(), "{waits:?}");
    assert_eq!(a.seen().len(), 1);
}

// ---------------------------------------------------------------- end to end

/// The binary's job summary names the upstream incident next to the failing monitor that
/// depends on the provider, and the report carries the provider_degraded finding.
#[test]
fn summary_shows_upstream_incident_next_to_a_failing_dependent_monitor() {
    let s = pages();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vaktpost.yml");
    std::fs::write(
        &config,
        format!(
            "monitors:\n  - name: openai\n    type: status_page\n    preset: openai\n    url: {}\n    components: [Chat Completions]\n  - name: chat_api\n    type: http\n    url: {}\n    depends_on: [openai]\n  - name: website\n    type: http\n    url: {}\n",
            s.url("/f/incidentio_summary_outage.json"),
            s.url("/status/503"),
            s.url("/f/statuspage_healthy.json"),
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_vaktpost"))
        .args(["run", "-c"])
        .arg(&config)
        .args(["--summary", "summary.md"])
        .current_dir(dir.path())
        .env_clear()
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    // chat_api is down: endpoint_down is high, the default gate.
    assert_eq!(o.status.code(), Some(1), "{out}");
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    let link =
        "[Elevated error rates on Chat Completions](https://status.openai.com/incidents/01JWR3K5C8D9E0F1G2H3J4K5M6)";
    assert!(md.contains("### Upstream status\n\n- 🟡 **openai** reports `major`\n"), "{md}");
    assert!(md.contains(&format!("  - incident: {link}\n")), "{md}");
    assert!(md.contains("  - components: Chat Completions (partial_outage)\n"), "{md}");
    assert!(md.contains(&format!("- 🔴 `chat_api` is down while `openai` reports major: {link}\n")), "{md}");
    assert!(!md.contains("`website` is"), "{md}");
    // And in the monitor's own row of the table.
    let row = md.lines().find(|l| l.starts_with("| 🔴 | chat_api |")).expect("chat_api row");
    assert!(row.contains("⚠️ upstream `openai` reports major"), "{row}");
    let row = md.lines().find(|l| l.contains("| website |")).expect("website row");
    assert!(!row.contains("upstream"), "{row}");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("vaktpost-report.json")).unwrap()).unwrap();
    let f: Vec<&serde_json::Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "provider_degraded").collect();
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["monitor"], "openai");
    assert_eq!(f[0]["severity"], "medium");
    assert_eq!(
        f[0]["message"],
        "openai: major — Elevated error rates on Chat Completions (https://status.openai.com/incidents/01JWR3K5C8D9E0F1G2H3J4K5M6); Chat Completions (partial_outage)"
    );
    let chat = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "chat_api").unwrap();
    assert_eq!(chat["depends_on"], json!(["openai"]));
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

// ---------------------------------------------------------------- validation

#[test]
fn config_mistakes_are_located_with_did_you_mean() {
    let env = std::collections::BTreeMap::new();
    let yaml = "monitors:\n  - name: a\n    type: status_page\n    preset: opeani\n  - name: b\n    type: status_page\n    url: https://status.example.com\n    provider: statuspag\n    components: [\"\"]\n  - name: c\n    type: railway\n    service_id: svc\n    token: t1\n    project_token: t2\n    max_build_time: 0\n";
    let errs = match vaktpost::load_str(yaml, "t.yml", &env) {
        Ok(_) => panic!("loaded"),
        Err(d) => format!("{d:#?}"),
    };
    for want in [
        r#"unknown preset \"opeani\"; did you mean \"openai\"?; known presets: openai, railway, github, cloudflare, vercel, anthropic"#,
        r#"unknown provider \"statuspag\"; did you mean \"statuspage\"?"#,
        "monitors[1].components[0]",
        "set `token` (account or workspace token) or `project_token`, not both",
        "monitors[2].max_build_time",
    ] {
        assert!(errs.contains(want), "missing {want:?} in {errs}");
    }
}

#[tokio::test]
async fn a_bare_checkly_page_url_asks_for_its_json_url() {
    let port = support::server::closed_port();
    let (_, r) = run(&format!("http://127.0.0.1:{port}/"), "provider: checkly").await;
    let msg = assert_down(&r, ErrorKind::Config);
    assert_eq!(msg, "checkly pages have no usual JSON path: set url to the page's JSON API itself, not just the page");
}

#[test]
fn checkly_is_a_provider_validate_knows() {
    let env = std::collections::BTreeMap::new();
    let ok = "monitors:\n  - name: a\n    type: status_page\n    url: https://status.example.com/api/status\n    provider: checkly\n";
    assert!(vaktpost::load_str(ok, "t.yml", &env).is_ok());
    let typo = ok.replace("provider: checkly", "provider: chekly");
    let errs = match vaktpost::load_str(&typo, "t.yml", &env) {
        Ok(_) => panic!("loaded"),
        Err(d) => format!("{d:#?}"),
    };
    assert!(errs.contains(r#"unknown provider \"chekly\"; did you mean \"checkly\"?"#), "{errs}");
}

/// Thousands of troubled providers leave room for the monitors table under GitHub's limit.
#[test]
fn upstream_section_is_bounded_in_a_huge_summary() {
    let long = "Elevated error rates ".repeat(20);
    let mut checks = Vec::new();
    for i in 0..3000 {
        checks.push(json!({
            "name": format!("provider_{i}"), "type": "status_page", "target": "https://status.example.com",
            "status": "degraded", "started_at": "2025-06-02T14:00:00Z", "duration_ms": 1.0,
            "metrics": {"indicator": "major", "incident_titles": [long, long], "incident_urls": ["https://x.example/1", "https://x.example/2"],
                        "affected_components": ["API (partial_outage)"], "maintenance_titles": []}
        }));
        checks.push(json!({
            "name": format!("app_{i}"), "type": "http", "target": "https://app.example.com", "status": "down",
            "started_at": "2025-06-02T14:00:00Z", "duration_ms": 1.0, "metrics": {}, "depends_on": [format!("provider_{i}")]
        }));
    }
    let report: vaktpost::report::Report = serde_json::from_value(json!({
        "schema_version": 1, "tool": {"name": "vaktpost", "version": "0"},
        "run": {"started_at": "2025-06-02T14:00:00Z", "finished_at": "2025-06-02T14:00:01Z", "duration_ms": 1000.0,
                "dry_run": false, "config": "v.yml", "fail_on": "high"},
        "status": "down",
        "counts": {"monitors": 6000, "up": 0, "degraded": 3000, "down": 3000, "skipped": 0, "findings": 0, "high": 0, "medium": 0, "low": 0},
        "checks": checks, "findings": [], "alerts": [], "history": {}, "notes": []
    }))
    .unwrap();
    let md = vaktpost::report::summary::render(&report, None, 500);
    assert!(md.len() <= vaktpost::report::summary::MAX_BYTES + 200, "{}", md.len());
    assert!(md.contains("- …more upstream problems in the JSON report"));
    assert!(md.contains("### Monitors"), "the monitors table was crowded out");
    assert!(md.contains("- 🔴 `app_0` is down while `provider_0` reports major: "));
}
