//! Metrics out (SPEC §6 "Metrics") against real servers: Debian's `prometheus-pushgateway`
//! and `prometheus` (with its remote-write receiver), started on free loopback ports by
//! these tests (installed by scripts/test.sh); `promtool check metrics` on the file; an
//! OTLP receiver here that decodes the protobuf with OpenTelemetry's published messages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;

use super::support::services::{free_port, http_json, FakeHttp};

fn bin(var: &str, names: &[&str], package: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return p.into();
    }
    for n in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
            let p = Path::new(dir).join(n);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("{} not found: install it (scripts/test.sh does: apt-get install {package}) or set {var}", names[0]);
}

fn prometheus_bin() -> PathBuf {
    bin("VAKTPOST_PROMETHEUS", &["prometheus"], "prometheus")
}
fn pushgateway_bin() -> PathBuf {
    bin("VAKTPOST_PUSHGATEWAY", &["prometheus-pushgateway", "pushgateway"], "prometheus-pushgateway")
}
fn promtool_bin() -> PathBuf {
    bin("VAKTPOST_PROMTOOL", &["promtool"], "prometheus")
}

/// A child process killed when dropped.
struct Proc {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd(port, dir)` on a free port until `ready` answers 200 (a few ports tried).
fn start(what: &str, ready: &str, cmd: impl Fn(u16, &Path) -> Command) -> Proc {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = cmd(port, dir.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect(what);
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            if get(port, ready).is_some_and(|(s, _)| s == 200) {
                return Proc { child, port, _dir: dir };
            }
            // sleep-ok: the poll interval of a bounded wait for a server to be ready
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{what} did not start");
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Some((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn pushgateway() -> Proc {
    start("prometheus-pushgateway", "/-/ready", |port, _| {
        let mut c = Command::new(pushgateway_bin());
        c.arg(format!("--web.listen-address=127.0.0.1:{port}"));
        c
    })
}

/// Prometheus scraping `scrape` (a Pushgateway, `honor_labels`) every second, with its
/// remote-write receiver on.
fn prometheus(scrape: Option<u16>) -> Proc {
    start("prometheus", "/-/ready", |port, dir| {
        let jobs = match scrape {
            Some(p) => format!(
                "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{p}']\n"
            ),
            None => String::new(),
        };
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{jobs}")).unwrap();
        let mut c = Command::new(prometheus_bin());
        c.arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver");
        c
    })
}

/// `query` on Prometheus: the instant vector as (labels, value).
fn query(port: u16, q: &str) -> Vec<(serde_json::Value, String)> {
    let enc: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let (status, v) = http_json(port, "GET", &format!("/api/v1/query?query={enc}"), None);
    assert_eq!(status, 200, "{q}: {v}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["metric"].clone(), r["value"][1].as_str().unwrap().to_string()))
        .collect()
}

/// Polls `query` until it has a result (real clock, bounded).
fn query_until(port: u16, q: &str, bound: Duration) -> Vec<(serde_json::Value, String)> {
    let until = Instant::now() + bound;
    loop {
        let r = query(port, q);
        if !r.is_empty() || Instant::now() > until {
            return r;
        }
        // sleep-ok: the poll interval of a bounded wait for Prometheus to scrape or ingest
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        Run { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    /// `vaktpost run` with `config` and `args`, `--fail-on never`.
    fn run(&self, config: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        std::fs::write(self.path("vaktpost.yml"), config).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_vaktpost"));
        c.args(["run", "--fail-on", "never"]).args(args).current_dir(self.dir.path()).env_clear();
        if let Ok(p) = std::env::var("PATH") {
            c.env("PATH", p);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
    fn report(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path("vaktpost-report.json")).unwrap()).unwrap()
    }
}

fn ok_target() -> FakeHttp {
    FakeHttp::start(|_| (200, "{\"ok\":true}".into()))
}

/// Two monitors (one up, one down on a wrong status), no confirmation, then `metrics`.
fn config(target: &FakeHttp, up: &str, down: &str, metrics: &str) -> String {
    format!(
        "defaults:\n  confirm: false\nmonitors:\n  - name: {up}\n    type: http\n    url: {}\n    labels: {{team: web, \"app.kubernetes.io/name\": shop, job: x}}\n  - name: {down}\n    type: http\n    url: {}\n    expected_status: 201\n{metrics}",
        target.url("/health"),
        target.url("/health"),
    )
}

fn assert_ran(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pushgateway_push_is_scraped_by_prometheus_with_the_grouping_key() {
    let (pgw, target) = (pushgateway(), ok_target());
    let prom = prometheus(Some(pgw.port));
    let run = Run::new();
    let metrics = format!("metrics:\n  pushgateway:\n    url: http://127.0.0.1:{}\n", pgw.port);
    let out = run.run(&config(&target, "pg_api", "pg_broken", &metrics), &[], &[("GITHUB_REPOSITORY", "acme/site")]);
    assert_ran(&out);
    let r = run.report();
    assert_eq!(r["metrics_outputs"][0]["output"], "pushgateway", "{r:#}");
    assert_eq!(r["metrics_outputs"][0]["ok"], true, "{r:#}");

    let up = query_until(prom.port, "probe_success{monitor=\"pg_api\"}", Duration::from_secs(30));
    assert_eq!(up.len(), 1, "{up:?}");
    let (labels, value) = &up[0];
    assert_eq!(value, "1");
    assert_eq!(labels["job"], "vaktpost");
    assert_eq!(labels["instance"], "acme/site");
    assert_eq!(labels["type"], "http");
    assert_eq!(labels["team"], "web");
    assert_eq!(labels["app_kubernetes_io_name"], "shop");
    assert_eq!(labels["label_job"], "x", "a monitor label named job does not clash: {labels}");
    let down = query_until(prom.port, "probe_success{monitor=\"pg_broken\"}", Duration::from_secs(30));
    assert_eq!(down.iter().map(|d| d.1.as_str()).collect::<Vec<_>>(), ["0"]);
    let code = query_until(prom.port, "probe_http_status_code{monitor=\"pg_broken\"}", Duration::from_secs(30));
    assert_eq!(code[0].1, "200");
    let status = query_until(
        prom.port,
        "vaktpost_monitor_status{monitor=\"pg_broken\",status=\"down\"}",
        Duration::from_secs(30),
    );
    assert_eq!(status[0].1, "1");
    let phases = query_until(prom.port, "probe_http_duration_seconds{monitor=\"pg_api\"}", Duration::from_secs(30));
    let mut names: Vec<String> = phases.iter().map(|p| p.0["phase"].as_str().unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names, ["connect", "processing", "resolve", "tls", "transfer"]);
    let findings = query_until(prom.port, "vaktpost_findings", Duration::from_secs(30));
    assert_eq!(findings.len(), 3, "{findings:?}");

    // The next run's PUT replaces the group: a monitor that is gone leaves with it.
    let out = run.run(&config(&target, "pg_api", "pg_renamed", &metrics), &[], &[("GITHUB_REPOSITORY", "acme/site")]);
    assert_ran(&out);
    let (_, body) = get(pgw.port, "/metrics").unwrap();
    assert!(body.contains("monitor=\"pg_renamed\""), "{body}");
    assert!(!body.contains("pg_broken"), "the group was replaced: {body}");
}

#[test]
fn shards_push_under_their_own_grouping_keys() {
    let (pgw, target) = (pushgateway(), ok_target());
    let run = Run::new();
    let metrics = format!(
        "metrics:\n  instance: fleet\n  pushgateway:\n    url: http://127.0.0.1:{}\n    job: monitors\n",
        pgw.port
    );
    let cfg = config(&target, "s_one", "s_two", &metrics);
    for shard in ["1/2", "2/2"] {
        assert_ran(&run.run(&cfg, &["--shard", shard], &[]));
    }
    let (_, body) = get(pgw.port, "/metrics").unwrap();
    for shard in ["1/2", "2/2"] {
        let line = format!("vaktpost_run_duration_seconds{{instance=\"fleet\",job=\"monitors\",shard=\"{shard}\"}}");
        assert!(body.contains(&line), "{line} in {body}");
    }
    // Each monitor is in exactly one shard's group.
    for m in ["s_one", "s_two"] {
        let lines = body.lines().filter(|l| l.starts_with("probe_success{") && l.contains(&format!("monitor=\"{m}\"")));
        let lines: Vec<&str> = lines.collect();
        assert_eq!(lines.len(), 1, "{body}");
        assert!(lines[0].contains("shard=\"") && lines[0].contains("job=\"monitors\""), "{lines:?}");
    }
}

#[test]
fn remote_write_lands_in_prometheus() {
    let (prom, target) = (prometheus(None), ok_target());
    let run = Run::new();
    let metrics = format!(
        "metrics:\n  remote_write:\n    url: http://127.0.0.1:{}/api/v1/write\n    bearer_token: rw-s3cret-token\n",
        prom.port
    );
    let out = run.run(&config(&target, "rw_api", "rw_broken", &metrics), &[], &[("GITHUB_REPOSITORY", "acme/site")]);
    assert_ran(&out);
    let r = run.report();
    assert_eq!(r["metrics_outputs"][0]["ok"], true, "{r:#}");
    let up = query_until(prom.port, "probe_success{monitor=\"rw_api\"}", Duration::from_secs(20));
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0].1, "1");
    assert_eq!(up[0].0["job"], "vaktpost");
    assert_eq!(up[0].0["instance"], "acme/site");
    let down = query_until(prom.port, "probe_success{monitor=\"rw_broken\"}", Duration::from_secs(20));
    assert_eq!(down[0].1, "0");
    let dur = query_until(prom.port, "probe_duration_seconds{monitor=\"rw_api\"}", Duration::from_secs(20));
    let secs: f64 = dur[0].1.parse().unwrap();
    assert!(secs > 0.0 && secs < 10.0, "{secs}");
    assert!(!std::fs::read_to_string(run.path("vaktpost-report.json")).unwrap().contains("rw-s3cret-token"));
}

#[test]
fn the_file_passes_promtool_with_hostile_names() {
    let target = ok_target();
    let run = Run::new();
    let names = ["\"q\\\\uo\\\"te\"", "\"ünïcødé {x=\\\"y\\\"} # HELP\""];
    let cfg = format!(
        "defaults:\n  confirm: false\nmonitors:\n  - name: {}\n    type: http\n    url: {}\n    labels: {{\"9 bad-key\": \"v\\\\\\\"\\n\", __name__: evil}}\n  - name: {}\n    type: http\n    url: {}\n",
        names[0],
        target.url("/h"),
        names[1],
        target.url("/h")
    );
    // `out` is a file, so out/vaktpost.prom cannot be written: a note, exit 0, and with the
    // opt-in flag exit 3.
    std::fs::write(run.path("out"), "not a directory").unwrap();
    let out = run.run(&cfg, &["--metrics", "out/vaktpost.prom"], &[]);
    assert_ran(&out);
    let r = run.report();
    assert_eq!(r["metrics_outputs"][0]["ok"], false, "{r:#}");
    assert!(r["notes"].to_string().contains("metrics: file"), "{r:#}");
    let out = run.run(&cfg, &["--metrics", "out/vaktpost.prom", "--fail-on-metrics-error"], &[]);
    assert_eq!(out.status.code(), Some(3));

    std::fs::remove_file(run.path("out")).unwrap();
    assert_ran(&run.run(&cfg, &["--metrics", "out/vaktpost.prom"], &[]));
    let text = std::fs::read_to_string(run.path("out/vaktpost.prom")).unwrap();
    assert!(text.contains("monitor=\"q\\\\uo\\\"te\""), "{text}");
    assert!(text.contains("_9_bad_key=\"v\\\\\\\"\\n\""), "{text}");
    assert!(text.contains("label_name__=\"evil\""), "{text}");
    let mut check = Command::new(promtool_bin())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let res = check.wait_with_output().unwrap();
    assert!(
        res.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    // metrics.file from the config works too.
    let with_file = format!("{cfg}metrics:\n  file: out/from-config.prom\n");
    assert_ran(&run.run(&with_file, &[], &[]));
    assert!(std::fs::read_to_string(run.path("out/from-config.prom")).unwrap().contains("# TYPE probe_success gauge"));
}

/// One request an [`OtlpReceiver`] took.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A threaded HTTP/1.1 receiver on 127.0.0.1 that reads bodies and answers `status`.
struct OtlpReceiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl OtlpReceiver {
    fn start(status: u16, reply: &'static str) -> OtlpReceiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut out = s.try_clone().unwrap();
                    let mut r = BufReader::new(s);
                    let mut first = String::new();
                    let _ = r.read_line(&mut first);
                    let mut headers = Vec::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                        }
                    }
                    let len: usize =
                        headers.iter().find(|h| h.0 == "content-length").map(|h| h.1.parse().unwrap()).unwrap_or(0);
                    let mut body = vec![0; len.min(16 << 20)];
                    let _ = r.read_exact(&mut body);
                    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                    log.lock().unwrap().push(Received { path, headers, body });
                    let _ = write!(
                        out,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                });
            }
        });
        OtlpReceiver { port, got }
    }
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|a| a.key == key).and_then(|a| match a.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    })
}

#[test]
fn otlp_sends_gauges_with_units_attributes_and_headers() {
    let (rx, target) = (OtlpReceiver::start(200, ""), ok_target());
    let run = Run::new();
    let metrics = format!(
        "metrics:\n  otlp:\n    endpoint: http://127.0.0.1:{}\n    headers:\n      Authorization: Bearer ${{OTLP_TOKEN}}\n",
        rx.port
    );
    let env = [("OTLP_TOKEN", "otlp-s3cret-xyz"), ("GITHUB_REPOSITORY", "acme/site")];
    let out = run.run(&config(&target, "o_api", "o_broken", &metrics), &["--shard", "1/1"], &env);
    assert_ran(&out);
    let got = rx.got();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.path, "/v1/metrics");
    let h = |k: &str| req.headers.iter().find(|h| h.0 == k).map(|h| h.1.as_str());
    assert_eq!(h("content-type"), Some("application/x-protobuf"));
    assert_eq!(h("authorization"), Some("Bearer otlp-s3cret-xyz"));
    let msg = ExportMetricsServiceRequest::decode(&req.body[..]).unwrap();
    let rm = &msg.resource_metrics[0];
    let res = &rm.resource.as_ref().unwrap().attributes;
    assert_eq!(attr(res, "service.name"), Some("vaktpost"));
    assert_eq!(attr(res, "service.instance.id"), Some("acme/site"));
    let sm = &rm.scope_metrics[0];
    assert_eq!(sm.scope.as_ref().unwrap().name, "vaktpost");
    let metric = |n: &str| sm.metrics.iter().find(|m| m.name == n).unwrap_or_else(|| panic!("{n}"));
    let points = |n: &str| match metric(n).data.as_ref().unwrap() {
        metric::Data::Gauge(g) => g.data_points.clone(),
        other => panic!("{n} is not a gauge: {other:?}"),
    };
    assert_eq!(metric("probe_duration_seconds").unit, "s");
    assert_eq!(metric("probe_success").unit, "");
    assert!(!metric("probe_success").description.is_empty());
    let success = points("probe_success");
    let of = |m: &str| {
        success.iter().find(|p| attr(&p.attributes, "monitor") == Some(m)).unwrap_or_else(|| panic!("{m}")).clone()
    };
    let (up, down) = (of("o_api"), of("o_broken"));
    assert_eq!(up.value, Some(number_data_point::Value::AsDouble(1.0)));
    assert_eq!(down.value, Some(number_data_point::Value::AsDouble(0.0)));
    assert_eq!(attr(&up.attributes, "type"), Some("http"));
    assert_eq!(attr(&up.attributes, "team"), Some("web"));
    assert_eq!(attr(&up.attributes, "shard"), Some("1/1"));
    assert!(up.time_unix_nano > 1_600_000_000_000_000_000);
    let phases = points("probe_http_duration_seconds");
    assert!(phases.iter().any(|p| attr(&p.attributes, "phase") == Some("processing")));
    assert!(!std::fs::read_to_string(run.path("vaktpost-report.json")).unwrap().contains("otlp-s3cret-xyz"));
}

#[test]
fn a_refusing_endpoint_is_a_redacted_note_and_exit_3_only_on_request() {
    let (rx, target) = (OtlpReceiver::start(401, "token otlp-s3cret-xyz is not valid"), ok_target());
    let run = Run::new();
    let metrics = format!(
        "metrics:\n  otlp:\n    endpoint: http://127.0.0.1:{}/custom/v1/metrics\n    headers: {{X-Api-Key: otlp-s3cret-xyz}}\n",
        rx.port
    );
    let cfg = config(&target, "f_api", "f_broken", &metrics);
    let out = run.run(&cfg, &[], &[]);
    assert_ran(&out);
    assert_eq!(rx.got()[0].path, "/custom/v1/metrics");
    assert_eq!(rx.got().len(), 1, "401 is not retried");
    let text = std::fs::read_to_string(run.path("vaktpost-report.json")).unwrap();
    assert!(!text.contains("otlp-s3cret-xyz"), "{text}");
    let r = run.report();
    let o = &r["metrics_outputs"][0];
    assert_eq!(o["ok"], false);
    let e = o["error"].as_str().unwrap();
    assert!(e.contains("HTTP 401") && e.contains("credentials"), "{e}");
    assert!(r["notes"].to_string().contains("metrics: otlp"), "{r:#}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics output(s) failed"));
    let out = run.run(&cfg, &["--fail-on-metrics-error"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    // A dry run sends nothing.
    let before = rx.got().len();
    assert_ran(&run.run(&cfg, &["--dry-run"], &[]));
    assert_eq!(rx.got().len(), before);
}

#[test]
fn bad_metrics_settings_are_located_config_errors() {
    let run = Run::new();
    let cfg = "monitors: []\nmetrics:\n  pushgateway: {url: 'ftp://x'}\n  remote_write: {url: 'http://x/api/v1/write', bearer_token: t, username: u, password: p}\n  otlp: {endpoint: 'http://x', headers: {'bad header': v}}\n";
    std::fs::write(run.path("vaktpost.yml"), cfg).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vaktpost"))
        .arg("validate")
        .current_dir(run.dir.path())
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    for want in ["metrics.pushgateway.url", "not both", "metrics.otlp.headers.bad header"] {
        assert!(err.contains(want), "{want} in {err}");
    }
}
