//! The JSON Schemas against what vaktpost really accepts and writes: every shipped config,
//! example and README YAML block passes both the loader and the config schema; `${VAR}`
//! validates wherever a number, duration or boolean goes; invalid configs fail both; and
//! real reports from many kinds of runs validate against the (closed) report schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::alert_receiver::Receiver;
use crate::support::server::closed_port;
use crate::support::services::Redis;
use crate::support::tls::{pem_file, routes, Chain, Reply, Server, Versions};

fn manifest(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn validator(which: &str) -> jsonschema::Validator {
    let path = manifest(&format!("schemas/{which}.schema.json"));
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema_errors(v: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    v.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path)).collect()
}

/// The YAML as an editor's language server sees it: not interpolated, merge keys applied.
fn yaml_json(text: &str) -> serde_json::Value {
    let mut v: yaml_serde::Value = yaml_serde::from_str(text).unwrap_or_else(|e| panic!("YAML: {e}\n---\n{text}"));
    v.apply_merge().unwrap();
    serde_json::to_value(&v).unwrap()
}

/// Sample values for the variables `text` uses without a default (those with one get it).
fn sample_env(text: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for part in text.split("${").skip(1) {
        let Some(end) = part.find('}') else { continue };
        let expr = &part[..end];
        if expr.contains(":-") || expr.is_empty() || !expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let value = if expr.contains("PORT") {
            "6379"
        } else if expr.starts_with("REDIS") && expr.ends_with("URL") {
            "redis://127.0.0.1:6379"
        } else if expr.ends_with("URL") {
            "https://example.com/hook"
        } else if expr.ends_with("ROUTING_KEY") {
            // PagerDuty integration keys are 32 letters and digits; `validate` checks.
            "R0UT1NGKEYabcdef0123456789abcdef"
        } else if expr.ends_with("DIR") {
            "/var/log/app"
        } else {
            "sample-value-1234567"
        };
        env.insert(expr.to_string(), value.to_string());
    }
    env
}

/// Loader and schema both accept `text`, a whole config.
fn assert_valid_config(text: &str, what: &str, schema: &jsonschema::Validator) {
    let env = sample_env(text);
    if let Err(d) = vaktpost::load_str(text, what, &env) {
        let msgs: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        panic!("{what}: the loader rejects it (env {env:?}):\n{}\n---\n{text}", msgs.join("\n"));
    }
    let errors = schema_errors(schema, &yaml_json(text));
    assert!(errors.is_empty(), "{what}: the config schema rejects what the loader accepts: {errors:#?}\n---\n{text}");
}

const WORKFLOW_KEYS: &[&str] =
    &["name", "on", "permissions", "concurrency", "env", "defaults", "jobs", "steps", "runs-on", "uses", "with"];

/// Workflow YAML parses and has only workflow (or job) keys; each step uses an action or runs a command.
fn assert_workflow_yaml(text: &str, what: &str) {
    let v = yaml_json(text);
    let keys: Vec<&String> = v.as_object().unwrap_or_else(|| panic!("{what}: not a mapping")).keys().collect();
    for k in &keys {
        assert!(WORKFLOW_KEYS.contains(&k.as_str()), "{what}: {k:?} is not a workflow key");
    }
    let steps: Vec<&serde_json::Value> = match (v.get("steps"), v.get("jobs")) {
        (Some(s), _) => s.as_array().unwrap().iter().collect(),
        (None, Some(jobs)) => jobs
            .as_object()
            .unwrap()
            .values()
            .flat_map(|j| j.get("steps").and_then(|s| s.as_array()).into_iter().flatten())
            .collect(),
        _ => Vec::new(),
    };
    for s in steps {
        assert!(s.get("uses").is_some() || s.get("run").is_some(), "{what}: a step with neither uses nor run: {s}");
    }
}

fn is_workflow(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|o| o.contains_key("jobs") || o.contains_key("steps") || o.contains_key("permissions"))
}

fn yml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_config_passes_the_loader_and_the_schema() {
    let schema = validator("config");
    let mut files = Vec::new();
    yml_files(&manifest("config"), &mut files);
    yml_files(&manifest("examples"), &mut files);
    files.sort();
    let (mut configs, mut workflows) = (Vec::new(), Vec::new());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let what = f.strip_prefix(manifest("")).unwrap().display().to_string();
        if is_workflow(&yaml_json(&text)) {
            assert!(!what.ends_with(".vaktpost.yml"), "{what} is named as a config but is a workflow");
            assert_workflow_yaml(&text, &what);
            workflows.push(what);
        } else {
            assert_valid_config(&text, &what, &schema);
            configs.push(what);
        }
    }
    for must in [
        "config/seed/external_monitors.yml",
        "config/logs.yml",
        "config/init/vaktpost.yml",
        "examples/gate.vaktpost.yml",
    ] {
        assert!(configs.iter().any(|c| c == must), "{must} was not checked as a config: {configs:?}");
    }
    assert!(workflows.iter().any(|w| w == "config/init/workflow.yml"), "{workflows:?}");
}

/// The README's ```yaml blocks, with the line each starts on.
fn readme_yaml_blocks() -> Vec<(usize, String)> {
    let readme = std::fs::read_to_string(manifest("README.md")).unwrap();
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in readme.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```yaml" => current = Some((i + 1, String::new())),
            Some(_) if line.trim_start().starts_with("```") => out.push(current.take().unwrap()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

/// Wrapped around a README fragment without monitors (named so the README's `api_*` globs match).
const MINIMAL_MONITORS: &str = "monitors:\n  - name: api_example\n    type: http\n    url: https://example.com/\n";

#[test]
fn every_readme_yaml_block_passes_the_loader_and_the_schema() {
    let schema = validator("config");
    let blocks = readme_yaml_blocks();
    assert!(blocks.len() >= 8, "README yaml blocks: {}", blocks.len());
    let top: BTreeSet<&str> = vaktpost::config::TOP_LEVEL_KEYS.iter().copied().collect();
    let mut kinds = BTreeMap::<&str, usize>::new();
    for (line, text) in &blocks {
        let what = format!("README.md:{line}");
        let v = yaml_json(text);
        // The rule, by content: a list is a fragment of `monitors:`; a mapping of config
        // keys is a config (given a monitor when it has none); workflow keys are workflow
        // YAML; anything else is a README bug.
        let kind = match &v {
            // Another tool's config shown as `vaktpost import`'s input: its translation
            // must pass the loader and the schema.
            _ if text.starts_with("# vaktpost import ") => {
                let tool = text["# vaktpost import ".len()..].split_whitespace().next().unwrap_or_default();
                let tool =
                    vaktpost::import::Tool::parse(tool).unwrap_or_else(|| panic!("{what}: unknown tool {tool:?}"));
                let out = vaktpost::import::import(tool, text, &what).unwrap_or_else(|d| panic!("{what}: {d:#?}"));
                assert_valid_config(&out.text, &format!("{what} imported"), &schema);
                "import input"
            }
            serde_json::Value::Array(_) => {
                let indented = if text.starts_with(' ') {
                    text.clone()
                } else {
                    text.lines().map(|l| format!("  {l}\n")).collect()
                };
                assert_valid_config(&format!("monitors:\n{indented}"), &what, &schema);
                "monitor list"
            }
            serde_json::Value::Object(o) if o.keys().all(|k| top.contains(k.as_str())) => {
                if o.contains_key("monitors") {
                    assert_valid_config(text, &what, &schema);
                    "config"
                } else {
                    assert_valid_config(&format!("{text}{MINIMAL_MONITORS}"), &what, &schema);
                    "config fragment"
                }
            }
            _ if is_workflow(&v) => {
                assert_workflow_yaml(text, &what);
                "workflow"
            }
            _ => panic!("{what}: neither a vaktpost config, a fragment of one, nor workflow YAML:\n{text}"),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    for k in ["monitor list", "config", "config fragment", "workflow"] {
        assert!(kinds.contains_key(k), "no README block of kind {k}: {kinds:?}");
    }
}

/// The README's `config/logs.yml` block is that file (without its leading comment).
#[test]
fn readme_logs_block_is_config_logs_yml() {
    let marker = "# config/logs.yml";
    let blocks = readme_yaml_blocks();
    let (_, block) = blocks
        .iter()
        .find(|(_, t)| t.lines().next().is_some_and(|l| l.contains(marker)))
        .expect("README has the config/logs.yml block");
    let file = std::fs::read_to_string(manifest("config/logs.yml")).unwrap();
    let body: Vec<&str> = file.lines().skip_while(|l| l.starts_with('#')).map(str::trim_end).collect();
    let mut shown: Vec<String> = block.lines().map(|l| l.trim_end().to_string()).collect();
    shown[0] = shown[0].replace(marker, "").trim_end().to_string();
    assert_eq!(shown, body, "README's config/logs.yml block and config/logs.yml differ: make them agree");
}

#[test]
fn interpolation_in_numbers_durations_booleans_and_enums_validates() {
    let schema = validator("config");
    let text = r#"
defaults:
  timeout: ${T:-5}
  retries: ${RETRIES}
  deadline: ${DEADLINE:-2m}
  concurrency: ${CONCURRENCY:-8}
  confirm: ${CONFIRM:-false}
  flapping:
    transitions: ${FLAPS:-4}
    window: ${WINDOW}h
monitors:
  - name: cache
    type: redis
    url: redis://127.0.0.1:${REDIS_PORT}
    max_memory_percent: ${MAX_MEM:-90.5}
    insecure_skip_verify: ${INSECURE:-false}
  - name: cert
    type: ssl
    host: example.com
    port: ${REDIS_PORT}
    warning_days: ${WARN_DAYS:-30}
  - name: web
    type: http
    url: https://example.com/
    samples: ${SAMPLES:-3}
    max_response_time: "${MAX_RT:-800ms}"
    expected_status: ${STATUS:-200}
    follow_redirects: ${FOLLOW:-true}
    max_body_bytes: ${MAX_BODY:-1048576}
    enabled: ${WEB_ON:-true}
rules:
  - name: slow_response
    condition: response_time > 1
    severity: ${SLOW_SEVERITY:-medium}
    for: ${SLOW_FOR:-2}
"#;
    let env: BTreeMap<String, String> =
        [("RETRIES", "2"), ("WINDOW", "1"), ("REDIS_PORT", "6380")].map(|(k, v)| (k.to_string(), v.to_string())).into();
    let loaded = vaktpost::load_str(text, "interp.yml", &env).unwrap_or_else(|d| panic!("{d:#?}"));
    let c = &loaded.config;
    assert_eq!(c.defaults.retries, 2);
    assert_eq!(c.defaults.timeout.get(), std::time::Duration::from_secs(5));
    assert_eq!(c.defaults.flapping.window.get(), std::time::Duration::from_secs(3600));
    assert!(!c.defaults.confirm.is_on());
    let vaktpost::config::MonitorKind::Ssl(ssl) = &c.monitors[1].kind else { panic!() };
    assert_eq!(ssl.port, 6380);
    assert_eq!(c.rules[0].severity, Some(vaktpost::config::Severity::Medium));
    let errors = schema_errors(&schema, &yaml_json(text));
    assert!(errors.is_empty(), "the schema rejects ${{VAR}} the loader accepts: {errors:#?}");
}

#[test]
fn invalid_configs_fail_both_the_loader_and_the_schema() {
    let schema = validator("config");
    let web = "  - name: web\n    type: http\n    url: https://example.com/\n";
    let cases: Vec<(&str, String)> = vec![
        ("wrong type", format!("defaults:\n  retries: many\nmonitors:\n{web}")),
        ("wrong type of a monitor key", format!("monitors:\n{web}    samples: [1]\n")),
        ("negative duration", format!("defaults:\n  timeout: -1\nmonitors:\n{web}")),
        ("duration that is a word", format!("defaults:\n  deadline: soon\nmonitors:\n{web}")),
        ("text around ${} in a number", format!("defaults:\n  retries: x${{R:-1}}\nmonitors:\n{web}")),
        ("unknown top-level key", format!("alrets: {{}}\nmonitors:\n{web}")),
        ("unknown defaults key", format!("defaults:\n  timeuot: 5\nmonitors:\n{web}")),
        ("unknown monitor key", format!("monitors:\n{web}    expectd_status: 200\n")),
        ("key of another monitor type", format!("monitors:\n{web}    warning_days: 3\n")),
        ("bad monitor type", "monitors:\n  - name: web\n    type: htp\n    url: https://example.com/\n".to_string()),
        (
            "bad severity",
            format!("monitors:\n{web}rules:\n  - name: r\n    condition: status == \"down\"\n    severity: critical\n"),
        ),
        ("missing required url", "monitors:\n  - name: web\n    type: http\n".to_string()),
        ("missing monitor name", "monitors:\n  - type: http\n    url: https://example.com/\n".to_string()),
    ];
    for (what, text) in &cases {
        assert!(
            vaktpost::load_str(text, "bad.yml", &BTreeMap::new()).is_err(),
            "{what}: the loader accepts it\n{text}"
        );
        assert!(!schema_errors(&schema, &yaml_json(text)).is_empty(), "{what}: the schema accepts it\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Real reports against the report schema
// ---------------------------------------------------------------------------------------

/// Runs the binary in `dir` with only `PATH` from this process and `env`; blocking, so call
/// it through `spawn_blocking` while the test's servers answer.
fn vaktpost(dir: &Path, args: &[String], env: &[(String, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
    c.args(args).current_dir(dir).env_clear();
    if let Ok(p) = std::env::var("PATH") {
        c.env("PATH", p);
    }
    c.envs(env.iter().cloned());
    c.output().unwrap()
}

async fn run_bin(dir: &Path, args: &[&str]) -> Output {
    let (dir, args) = (dir.to_path_buf(), args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    tokio::task::spawn_blocking(move || vaktpost(&dir, &args, &[])).await.unwrap()
}

fn read_report(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn out_text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// What a set of reports shows, so the test knows it validated every kind of output.
fn features(r: &serde_json::Value) -> BTreeSet<String> {
    let mut f = BTreeSet::new();
    for c in r["checks"].as_array().unwrap() {
        f.insert(format!("{} {}", c["type"].as_str().unwrap(), c["status"].as_str().unwrap()));
        for key in ["confirm", "error", "message", "labels", "depends_on"] {
            if c.get(key).is_some() {
                f.insert(format!("check.{key}"));
            }
        }
        if c["flapping"] == true {
            f.insert("flapping".into());
        }
    }
    for key in ["findings", "alerts", "top_errors", "notes"] {
        if r[key].as_array().is_some_and(|a| !a.is_empty()) {
            f.insert(key.into());
        }
    }
    if r["history"].as_object().is_some_and(|h| !h.is_empty()) {
        f.insert("history".into());
    }
    for key in ["gate", "inconclusive", "merged_shards", "shard"] {
        if r["run"].get(key).is_some() {
            f.insert(format!("run.{key}"));
        }
    }
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_reports_of_many_kinds_of_runs_validate_against_the_report_schema() {
    let schema = validator("report");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let statuspage =
        std::fs::read_to_string(manifest("tests/fixtures/status_pages/statuspage_major_outage.json")).unwrap();
    let site = Server::start(
        None,
        routes(vec![
            ("/ok", Reply::new(200, r#"{"status":"ok","percent":42}"#).header("content-type", "application/json")),
            ("/api/v2/summary.json", Reply::new(200, &statuspage).header("content-type", "application/json")),
            (
                "/rdap/domain/example.com",
                Reply::new(
                    200,
                    r#"{"objectClassName":"domain","ldhName":"example.com","status":["active"],"events":[{"eventAction":"expiration","eventDate":"2099-08-13T04:00:00Z"}],"entities":[{"roles":["registrar"],"vcardArray":["vcard",[["version",{},"text","4.0"],["fn",{},"text","Example Registrar"]]]}]}"#,
                )
                .header("content-type", "application/rdap+json"),
            ),
        ]),
    )
    .await;
    let zone = crate::dns::zone();
    let chain = Chain::new(90);
    let tls = Server::tls(chain.server(Versions::Default)).await;
    let ca = pem_file(&chain.root.pem());
    // Up, down, up, down, …: one request per run (confirm off), so it flaps.
    let flapper = Receiver::start(
        (0..8)
            .map(|i| {
                if i % 2 == 0 {
                    crate::alert_receiver::Reply::ok()
                } else {
                    crate::alert_receiver::Reply::new(500, "boom")
                }
            })
            .collect(),
        crate::alert_receiver::Reply::ok(),
    )
    .await;
    let slack = Receiver::ok().await;
    let redis = Redis::start(&[]);
    let dead = closed_port();

    let config = format!(
        r#"defaults:
  timeout: 2s
  confirm: false
  flapping: {{transitions: 2, window: 1h, settle: 30m}}
monitors:
  - name: web_up
    type: http
    url: http://127.0.0.1:{ok}/ok
    extract: {{percent: /percent}}
    labels: {{team: web}}
  - name: web_down
    type: http
    url: http://127.0.0.1:{dead}/health
    confirm: {{attempts: 1, pause: 0.01}}
    depends_on: [upstream]
  - name: flapper
    type: http
    url: {flap}
  - name: cert
    type: ssl
    host: localhost
    port: {tls_port}
    ca_file: "{ca}"
  - name: cache
    type: redis
    url: {redis}
  - name: host
    type: system
  - name: app_logs
    type: log_files
    path: "{logs}/*.log"
    stale_after: 1h
    max_age: 1d
  - name: upstream
    type: status_page
    url: http://127.0.0.1:{page}/api/v2/summary.json
    provider: statuspage
  - name: cache_ping
    type: tcp
    host: 127.0.0.1
    port: {redis_port}
    send: PING
    expect: '^\+PONG'
  - name: registration
    type: domain
    domain: example.com
    rdap_url: http://127.0.0.1:{ok}/rdap/
  - name: zone_mx
    type: dns
    query: zone.test
    record_type: MX
    resolver: 127.0.0.1:{dns_port}
alerts:
  slack:
    webhook_url: {hook}
"#,
        redis_port = redis.port,
        dns_port = zone.port,
        ok = site.port(),
        flap = flapper.url("/flap"),
        tls_port = tls.port(),
        ca = ca.path().display(),
        redis = redis.url(),
        page = site.port(),
        hook = slack.url("/hook"),
        logs = d.join("logs").display(),
    );
    std::fs::write(d.join("vaktpost.yml"), &config).unwrap();
    std::fs::create_dir_all(d.join("logs")).unwrap();
    std::fs::write(
        d.join("logs/app.log"),
        "INFO started\nERROR payment failed id=1\n127.0.0.1 - - \"GET /.env HTTP/1.1\" 404 0\n",
    )
    .unwrap();
    std::fs::write(d.join("logs/app.log.1"), "INFO old\n").unwrap();
    let mut reports: Vec<(String, serde_json::Value)> = Vec::new();
    for i in 0..4 {
        let report = format!("run{i}.json");
        let o =
            run_bin(d, &["run", "--fail-on", "never", "--log-file", "off", "--state", "st", "--report", &report]).await;
        assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
        reports.push((report.clone(), read_report(&d.join(&report))));
    }
    // Gate mode on the healthy monitor.
    let o = run_bin(
        d,
        &["run", "--only", "web_up", "--wait", "5s", "--log-file", "off", "--state", "st", "--report", "gate.json"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    reports.push(("gate.json".into(), read_report(&d.join("gate.json"))));
    // Two shards and their merge (alerts are sent by the merge).
    for k in ["1/2", "2/2"] {
        let name = format!("shard{}.json", &k[..1]);
        let o = run_bin(
            d,
            &["run", "--shard", k, "--fail-on", "never", "--log-file", "off", "--state", "sharded", "--report", &name],
        )
        .await;
        assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
        reports.push((name.clone(), read_report(&d.join(&name))));
    }
    let o = run_bin(
        d,
        &["merge", "shard1.json", "shard2.json", "--fail-on", "never", "--state", "sharded", "--report", "merged.json"],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    reports.push(("merged.json".into(), read_report(&d.join("merged.json"))));
    // A canary that fails: the run is inconclusive.
    let canary = format!(
        "defaults:\n  canary: outside\n  confirm: false\nmonitors:\n  - name: outside\n    type: http\n    url: http://127.0.0.1:{dead}/\n  - name: api\n    type: http\n    url: http://127.0.0.1:{dead}/api\n"
    );
    std::fs::write(d.join("canary.yml"), canary).unwrap();
    let o = run_bin(
        d,
        &[
            "run",
            "-c",
            "canary.yml",
            "--fail-on",
            "never",
            "--log-file",
            "off",
            "--state",
            "canary",
            "--report",
            "inconclusive.json",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", out_text(&o));
    reports.push(("inconclusive.json".into(), read_report(&d.join("inconclusive.json"))));

    // The tcp, domain and dns kinds' metrics are in the (closed) schema they validate against.
    let first = &reports[0].1["checks"];
    for (name, metric) in [("cache_ping", "banner"), ("registration", "expires_at"), ("zone_mx", "answers")] {
        let c = first.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
        assert_eq!(c["status"], "up", "{c}");
        assert!(c["metrics"].get(metric).is_some(), "{c}");
    }
    let mut seen = BTreeSet::new();
    for (name, r) in &reports {
        let errors = schema_errors(&schema, r);
        assert!(errors.is_empty(), "{name} does not validate against schemas/report.schema.json: {errors:#?}");
        seen.extend(features(r));
    }
    for want in [
        "http up",
        "http down",
        "ssl up",
        "redis up",
        "system up",
        "log_files up",
        "status_page degraded",
        "check.confirm",
        "check.error",
        "check.labels",
        "check.depends_on",
        "flapping",
        "findings",
        "alerts",
        "top_errors",
        "history",
        "run.gate",
        "run.inconclusive",
        "run.merged_shards",
        "run.shard",
    ] {
        assert!(seen.contains(want), "no report showed {want:?}; seen: {seen:?}");
    }
    assert!(!slack.requests().is_empty(), "the slack alert was sent");
    // The open-ended metric families are in the reports the schema checked.
    let first = &reports[0].1;
    let metrics =
        |name: &str| first["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["metrics"].clone();
    assert_eq!(metrics("web_up")["percent"], 42.0, "an extract: metric");
    assert!(
        metrics("upstream").as_object().unwrap().keys().any(|k| k.starts_with("components.")),
        "{}",
        metrics("upstream")
    );
    assert!(metrics("app_logs")["error_groups"].as_array().is_some_and(|g| !g.is_empty()), "{}", metrics("app_logs"));
    assert!(
        metrics("app_logs")["security_by_category"].as_object().is_some_and(|g| !g.is_empty()),
        "{}",
        metrics("app_logs")
    );

    // Closed: a field the schema does not know fails, wherever it is added.
    for pointer in [
        "",
        "/run",
        "/tool",
        "/counts",
        "/checks/0",
        "/checks/1/error",
        "/checks/1/confirm",
        "/findings/0",
        "/alerts/0",
        "/top_errors/0",
        "/run/gate",
    ] {
        let (name, mut r) = reports
            .iter()
            .find(|(_, r)| r.pointer(pointer).is_some())
            .map(|(n, r)| (n.clone(), r.clone()))
            .unwrap_or_else(|| panic!("no report has {pointer}"));
        r.pointer_mut(pointer).unwrap().as_object_mut().unwrap().insert("not_in_the_schema".into(), 1.into());
        assert!(!schema.is_valid(&r), "{name}: a new field at {pointer} validates: the schema is open there");
    }
    let (_, sample) = &reports[3];
    let history_monitor = sample["history"].as_object().unwrap().keys().next().unwrap().clone();
    let mut r = sample.clone();
    r["history"][&history_monitor]["uptime_1y"] = 1.into();
    assert!(!schema.is_valid(&r), "an unknown history figure validates");
    let mut r = sample.clone();
    r["checks"][0]["metrics"]["nested"] = serde_json::json!({"a": {"b": 1}});
    assert!(!schema.is_valid(&r), "a nested metric object validates");
    // Metrics are typed by check kind: an unknown ssl metric, or a known one of the wrong type, fails.
    let ssl = sample["checks"].as_array().unwrap().iter().position(|c| c["type"] == "ssl").unwrap();
    let mut r = sample.clone();
    r["checks"][ssl]["metrics"]["brand_new_metric"] = 1.into();
    assert!(!schema.is_valid(&r), "an ssl metric without a schema validates");
    let mut r = sample.clone();
    r["checks"][ssl]["metrics"]["days_left"] = "soon".into();
    assert!(!schema.is_valid(&r), "a string days_left validates");
}
