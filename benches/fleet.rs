//! The SPEC §8 benchmark: the real release binary against an in-process loopback server.
//!
//! * `run` case: N `http` monitors (default 1,000) against one listener on 127.0.0.1 that
//!   answers every request after L ms (default 100); the whole `vaktpost run` (spawn to
//!   exit, report and summary written) is timed R times (default 3, after 1 untimed
//!   warm-up run). Budgets: N ≤ 1,000 ⇒ ≤ 1 s and ≤ 64 MB; N ≤ 10,000 ⇒ ≤ 10 s and
//!   ≤ 256 MB (both only for L = 100 ms). PASS means median wall time and largest peak
//!   RSS are within budget.
//! * `validate` case: `vaktpost validate` on a 50-monitor config, 20 times; budget: median
//!   ≤ 20 ms.
//!
//! A run only counts when it is correct: exit code 0, `counts.monitors == counts.up == N`
//! in the JSON report, a non-empty summary, and the server saw each path `/m/{i}` exactly
//! once. Peak RSS is the child's own `ru_maxrss` from `wait4`. Linux charges a child
//! with the RSS high-water mark of the address space it had before `exec` — the parent's,
//! whether it was started by `fork` or `posix_spawn` (a /bin/true started by a 300 MB
//! process reports 300 MB) — so the children are started by a small launcher process
//! (this program re-executed with `__launch`, about 2 MB), not by this process with its
//! server and its thousands of sockets.
//!
//! Usage: `cargo bench --bench fleet -- [--monitors N] [--latency-ms L] [--runs R]
//! [--warmup W] [--validate | --no-validate] [--validate-runs V] [--bin PATH] [--keep]
//! [--keep-state]`
//! (or `scripts/bench.sh` with the same arguments). Exit code 0 when every case passes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const LAUNCH: &str = "__launch";
const VALIDATE_MONITORS: usize = 50;

const USAGE: &str = "usage: fleet [--monitors N] [--latency-ms L] [--runs R] [--warmup W] \
[--validate | --no-validate] [--validate-runs V] [--bin PATH] [--keep] [--keep-state]

  --monitors N       http monitors in the run case (default 1000)
  --latency-ms L     the server answers after L ms (default 100)
  --runs R           timed runs of `vaktpost run` (default 3)
  --warmup W         untimed runs first (default 1)
  --validate         only the validate case (50 monitors)
  --no-validate      only the run case
  --validate-runs V  timed runs of `vaktpost validate` (default 20)
  --bin PATH         the vaktpost binary (default: the one cargo built for this bench)
  --keep             keep the temporary directory (configs, reports, outputs)
  --keep-state       one state directory for all runs (default: a fresh one per run)";

struct Opts {
    monitors: usize,
    latency_ms: u64,
    runs: usize,
    warmup: usize,
    run_case: bool,
    validate_case: bool,
    validate_runs: usize,
    bin: PathBuf,
    keep: bool,
    keep_state: bool,
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        monitors: 1000,
        latency_ms: 100,
        runs: 3,
        warmup: 1,
        run_case: true,
        validate_case: true,
        validate_runs: 20,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_vaktpost")),
        keep: false,
        keep_state: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{name} needs a value"))
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{name}: {v:?} is not a number"))
        }
        match key {
            // `cargo bench` passes --bench to harness = false targets.
            "--bench" => {}
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--monitors" => o.monitors = num(key, value(key)?)?,
            "--latency-ms" => o.latency_ms = num(key, value(key)?)?,
            "--runs" => o.runs = num(key, value(key)?)?,
            "--warmup" => o.warmup = num(key, value(key)?)?,
            "--validate-runs" => o.validate_runs = num(key, value(key)?)?,
            "--validate" => o.run_case = false,
            "--no-validate" => o.validate_case = false,
            "--bin" => o.bin = PathBuf::from(value(key)?),
            "--keep" => o.keep = true,
            "--keep-state" => o.keep_state = true,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if o.monitors == 0 || o.runs == 0 || o.validate_runs == 0 {
        return Err("--monitors, --runs and --validate-runs must be at least 1".into());
    }
    if !o.run_case && !o.validate_case {
        return Err("--validate and --no-validate leave nothing to run".into());
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(LAUNCH) {
        std::process::exit(launcher(&args[1..]));
    }
    let opts = parse_args(&args).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2);
    });
    if !opts.bin.is_file() {
        eprintln!("error: no vaktpost binary at {}; run `cargo build --release` first", opts.bin.display());
        std::process::exit(2);
    }
    let nofile = raise_nofile();
    let dir = std::env::temp_dir().join(format!("vaktpost-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the temporary directory");

    println!(
        "vaktpost fleet benchmark — binary {}, {} CPUs, load average {}, RLIMIT_NOFILE {nofile}, work dir {}",
        opts.bin.display(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load_average(),
        dir.display()
    );
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if opts.run_case {
        let (row, note) = run_case(&opts, &dir);
        rows.push(row);
        notes.extend(note);
    }
    if opts.validate_case {
        rows.push(validate_case(&opts, &dir));
    }
    println!();
    print_table(&rows);
    for n in &notes {
        println!("{n}");
    }
    if opts.keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::process::exit(if rows.iter().all(|r| r.verdict == "PASS" || r.verdict == "ok") { 0 } else { 1 });
}

/// Soft RLIMIT_NOFILE = hard: the server holds one socket per check in flight.
fn raise_nofile() -> u64 {
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 0;
        }
        if l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &l);
            let _ = libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        }
        l.rlim_cur as u64
    }
}

// ---------------------------------------------------------------------------------------
// Launching and measuring one child

/// What one child process did.
struct Measured {
    wall: Duration,
    /// The child's own peak RSS, KiB.
    maxrss_kib: u64,
    /// `exit N` or `signal N`.
    status: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Measured {
    fn ok(&self) -> bool {
        self.status == "exit 0"
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// Launcher mode: `__launch STDOUT STDERR BIN ARGS...`. Spawns BIN, reaps it with
/// `wait4`, prints `WALL_NS MAXRSS_KIB STATUS`.
fn launcher(args: &[String]) -> i32 {
    let [out, err, bin, rest @ ..] = args else {
        eprintln!("usage: {LAUNCH} STDOUT STDERR BIN ARGS...");
        return 2;
    };
    let (out, err) = match (std::fs::File::create(out), std::fs::File::create(err)) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("cannot create the output files: {e}");
            return 2;
        }
    };
    let mut cmd = Command::new(bin);
    cmd.args(rest).stdin(Stdio::null()).stdout(out).stderr(err);
    let t0 = Instant::now();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {bin}: {e}");
            return 2;
        }
    };
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; the pid is our own child, not yet reaped.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            eprintln!("wait4: {e}");
            return 2;
        }
    }
    let wall = t0.elapsed();
    // The child is reaped; dropping `child` does not wait again.
    drop(child);
    let st = if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status}")
    };
    println!("{} {} {st}", wall.as_nanos(), ru.ru_maxrss);
    0
}

/// Runs `bin args` through the launcher; outputs go to `dir/{tag}.stdout|stderr`.
fn launch(opts: &Opts, dir: &Path, tag: &str, args: &[&str]) -> Measured {
    let stdout = dir.join(format!("{tag}.stdout"));
    let stderr = dir.join(format!("{tag}.stderr"));
    let me = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(me);
    cmd.arg(LAUNCH).arg(&stdout).arg(&stderr).arg(&opts.bin).args(args).current_dir(dir).stdin(Stdio::null());
    // Nothing from the surrounding CI may change what vaktpost does.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("INPUT_")
            || k.starts_with("GITHUB_")
            || matches!(k.as_ref(), "MONITORING_INTERVAL" | "ALERT_EMAIL" | "SLACK_WEBHOOK_URL" | "CI")
        {
            cmd.env_remove(k.as_ref());
        }
    }
    let out = cmd.output().expect("run the launcher");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace();
    let parsed = (|| {
        let ns: u64 = f.next()?.parse().ok()?;
        let kib: u64 = f.next()?.parse().ok()?;
        let status = f.collect::<Vec<_>>().join(" ");
        Some((ns, kib, status))
    })();
    let Some((ns, kib, status)) = parsed else {
        panic!("the launcher failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    };
    Measured { wall: Duration::from_nanos(ns), maxrss_kib: kib, status, stdout, stderr }
}

// ---------------------------------------------------------------------------------------
// The loopback server

#[derive(Default)]
struct Stats {
    served: AtomicUsize,
    /// Requests for a path other than `/m/{i}` with i < N, or malformed.
    bad: AtomicUsize,
    accept_errors: AtomicUsize,
    /// Requests between their head arriving and their answer going out. A monitor's next
    /// request cannot arrive before the answer to its last, so the peak is exactly how
    /// many checks vaktpost had in flight against this host.
    inflight: AtomicUsize,
    peak_inflight: AtomicUsize,
    /// Requests per monitor path.
    hits: Vec<AtomicUsize>,
}

struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

/// A fresh listener on 127.0.0.1 (a new port per run keeps TIME_WAIT from earlier runs
/// out of the way of new connections).
fn start_server(rt: &tokio::runtime::Runtime, n: usize, latency: Duration) -> std::io::Result<Server> {
    let _guard = rt.enter();
    let sock = TcpSocket::new_v4()?;
    sock.set_reuseaddr(true)?;
    sock.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let listener = sock.listen(4096)?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats { hits: (0..n).map(|_| AtomicUsize::new(0)).collect(), ..Default::default() });
    let st = stats.clone();
    let task = rt.spawn(async move {
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    tokio::spawn(serve(s, st.clone(), latency));
                }
                Err(_) => {
                    st.accept_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    });
    Ok(Server { addr, stats, task })
}

async fn serve(mut s: TcpStream, st: Arc<Stats>, latency: Duration) {
    if answer(&mut s, &st, latency).await.is_err() {
        st.bad.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads one request head, waits `latency`, answers 200 with a small JSON body (404 for
/// an unknown path) and closes.
async fn answer(s: &mut TcpStream, st: &Stats, latency: Duration) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
    let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
    let target = std::str::from_utf8(line).ok().and_then(|l| l.split(' ').nth(1)).unwrap_or_default();
    let index = target.strip_prefix("/m/").and_then(|i| i.parse::<usize>().ok()).filter(|&i| i < st.hits.len());
    let now = st.inflight.fetch_add(1, Ordering::Relaxed) + 1;
    st.peak_inflight.fetch_max(now, Ordering::Relaxed);
    tokio::time::sleep(latency).await;
    st.inflight.fetch_sub(1, Ordering::Relaxed);
    let (status, body) = match index {
        Some(i) => {
            st.hits[i].fetch_add(1, Ordering::Relaxed);
            ("200 OK", format!("{{\"status\":\"ok\",\"monitor\":{i}}}"))
        }
        None => {
            st.bad.fetch_add(1, Ordering::Relaxed);
            ("404 Not Found", "{\"status\":\"not found\"}".to_string())
        }
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).await?;
    s.shutdown().await?;
    st.served.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The cases

struct Row {
    case: &'static str,
    monitors: usize,
    latency: String,
    runs: usize,
    walls: Vec<Duration>,
    in_run: Option<Duration>,
    peak_rss_kib: u64,
    budget: String,
    /// PASS / FAIL against the budget, `ok` when there is no budget, or why the runs were wrong.
    verdict: String,
}

fn fleet_config(n: usize, addr: SocketAddr) -> String {
    let mut s = String::with_capacity(n * 72 + 128);
    s.push_str("# Generated by benches/fleet.rs: http monitors, default concurrency, no overrides.\nmonitors:\n");
    for i in 0..n {
        let _ = writeln!(s, "  - name: m{i:05}\n    type: http\n    url: http://{addr}/m/{i}");
    }
    s
}

/// Returns the row and notes (server concurrency, the floor it implies).
fn run_case(opts: &Opts, dir: &Path) -> (Row, Vec<String>) {
    let n = opts.monitors;
    let latency = Duration::from_millis(opts.latency_ms);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("start the server runtime");
    let config = dir.join("fleet.yml");
    let report = dir.join("report.json");
    let summary = dir.join("summary.md");
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    let mut in_run = Vec::new();
    let mut peaks = Vec::new();
    let mut problems = Vec::new();
    let total = opts.warmup + opts.runs;
    println!(
        "run case: {n} http monitors, server latency {} ms, {} warm-up + {} timed runs",
        opts.latency_ms, opts.warmup, opts.runs
    );
    for k in 0..total {
        let warm = k < opts.warmup;
        let server = start_server(&rt, n, latency).expect("start the loopback server");
        std::fs::write(&config, fleet_config(n, server.addr)).expect("write the config");
        let _ = std::fs::remove_file(&report);
        let _ = std::fs::remove_file(&summary);
        // A fresh state directory per run, so every run does the same work (the history
        // would otherwise grow from run to run); --keep-state carries it over instead.
        let state = dir.join(if opts.keep_state { "state".to_string() } else { format!("state{k}") });
        let args = [
            "run",
            "-c",
            path_str(&config),
            "--report",
            path_str(&report),
            "--summary",
            path_str(&summary),
            "--state",
            path_str(&state),
            "--fail-on",
            "never",
        ];
        let m = launch(opts, dir, &format!("run{k}"), &args);
        server.task.abort();
        let st = &server.stats;
        let mut wrong = Vec::new();
        if !m.ok() {
            wrong.push(format!("{} (stderr: {})", m.status, m.stderr_tail()));
        }
        let rep: Option<serde_json::Value> = std::fs::read(&report).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let count = |k: &str| rep.as_ref().and_then(|r| r["counts"][k].as_u64()).unwrap_or(0) as usize;
        let (monitors, up) = (count("monitors"), count("up"));
        if rep.is_none() {
            wrong.push("no readable report".into());
        } else if monitors != n || up != n {
            let first_err = rep
                .as_ref()
                .and_then(|r| r["checks"].as_array()?.iter().find(|c| c["status"] != "up").map(|c| c.to_string()));
            wrong.push(format!("report counts: monitors {monitors}, up {up}, want {n}; first not up: {first_err:?}"));
        }
        if std::fs::metadata(&summary).map(|m| m.len()).unwrap_or(0) == 0 {
            wrong.push("no summary written".into());
        }
        let served = st.served.load(Ordering::Relaxed);
        let once = st.hits.iter().filter(|h| h.load(Ordering::Relaxed) == 1).count();
        if served != n || once != n || st.bad.load(Ordering::Relaxed) > 0 {
            wrong.push(format!(
                "server: {served} answered, {once}/{n} paths hit exactly once, {} bad, {} accept errors",
                st.bad.load(Ordering::Relaxed),
                st.accept_errors.load(Ordering::Relaxed)
            ));
        }
        let run_ms = rep.as_ref().and_then(|r| r["run"]["duration_ms"].as_f64());
        let peak = st.peak_inflight.load(Ordering::Relaxed);
        eprintln!(
            "  {} {}: wall {}, peak RSS {}, in-run {}, up {up}/{n}, server peak concurrency {peak}{}",
            if warm { "warm-up" } else { "run" },
            if warm { k + 1 } else { k + 1 - opts.warmup },
            secs(m.wall),
            mb(m.maxrss_kib),
            run_ms.map(|ms| secs(Duration::from_secs_f64(ms / 1000.0))).unwrap_or_else(|| "-".into()),
            if wrong.is_empty() { String::new() } else { format!("  WRONG: {}", wrong.join("; ")) }
        );
        problems.extend(wrong);
        if !warm {
            walls.push(m.wall);
            rss.push(m.maxrss_kib);
            in_run.extend(run_ms.map(|ms| Duration::from_secs_f64(ms / 1000.0)));
            peaks.push(peak);
        }
    }
    drop(rt);

    // SPEC §8 budgets, stated for a 100 ms server.
    let budget = match (opts.latency_ms, n) {
        (100, 0..=1000) => Some((Duration::from_secs(1), 64)),
        (100, 1001..=10_000) => Some((Duration::from_secs(10), 256)),
        _ => None,
    };
    let peak_rss = rss.iter().copied().max().unwrap_or(0);
    let med = median(&walls);
    let verdict = if !problems.is_empty() {
        "WRONG".to_string()
    } else {
        match budget {
            Some((t, m)) if med <= t && peak_rss * 1024 <= m * 1_000_000 => "PASS".into(),
            Some(_) => "FAIL".into(),
            None => "ok".into(),
        }
    };
    let mut notes = Vec::new();
    let conc = peaks.iter().copied().max().unwrap_or(0);
    if conc > 0 {
        let waves = n.div_ceil(conc);
        notes.push(format!(
            "run case: the server saw at most {conc} requests at once, so {n} monitors need {waves} rounds \
             of {} ms: a floor of {} before any overhead",
            opts.latency_ms,
            secs(latency * waves as u32)
        ));
    }
    if !in_run.is_empty() {
        notes.push(format!(
            "run case: median wall − median in-run (report run.duration_ms) = {} outside checks and rules \
             (process start, config load, outputs, exit)",
            secs(med.saturating_sub(median(&in_run)))
        ));
    }
    let row = Row {
        case: "run",
        monitors: n,
        latency: format!("{} ms", opts.latency_ms),
        runs: walls.len(),
        in_run: (!in_run.is_empty()).then(|| median(&in_run)),
        walls,
        peak_rss_kib: peak_rss,
        budget: budget.map(|(t, m)| format!("≤ {} s, ≤ {m} MB", t.as_secs())).unwrap_or_else(|| "-".into()),
        verdict,
    };
    (row, notes)
}

/// A realistic 50-monitor config: http monitors with options, ssl monitors, a rule.
fn validate_config() -> String {
    let mut s = String::from(
        "# Generated by benches/fleet.rs for the validate budget.\n\
         defaults:\n  timeout: 5s\n  retries: 1\n  labels:\n    team: platform\n\
         rules:\n  - name: very_slow\n    condition: response_time > 5\n    message: \"{name} takes {response_time}s\"\n    severity: medium\n\
         monitors:\n",
    );
    for i in 0..VALIDATE_MONITORS {
        if i % 5 == 4 {
            let _ = writeln!(
                s,
                "  - name: cert_{i:02}\n    type: ssl\n    host: svc{i}.example.com\n    port: 443\n    interval: 3600\n    warning_days: 21"
            );
        } else {
            let _ = writeln!(
                s,
                "  - name: api_{i:02}\n    type: http\n    url: https://svc{i}.example.com/health\n    interval: 60\n    \
                 timeout: 5\n    expected_status: [200, 204]\n    max_response_time: 800ms\n    body_contains: ok\n    \
                 json:\n      /status: ok\n    labels:\n      service: svc{i}"
            );
        }
    }
    s
}

fn validate_case(opts: &Opts, dir: &Path) -> Row {
    let config = dir.join("validate.yml");
    std::fs::write(&config, validate_config()).expect("write the validate config");
    let args = ["validate", "-c", path_str(&config)];
    println!("validate case: {VALIDATE_MONITORS} monitors, 1 warm-up + {} timed runs", opts.validate_runs);
    let mut problems = Vec::new();
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    for k in 0..=opts.validate_runs {
        let m = launch(opts, dir, "validate", &args);
        let out = std::fs::read_to_string(&m.stdout).unwrap_or_default();
        if !m.ok() || !out.contains(&format!("valid — {VALIDATE_MONITORS} monitors")) {
            problems.push(format!("{}: {} {}", m.status, out.trim(), m.stderr_tail()));
        }
        if k > 0 {
            walls.push(m.wall);
            rss.push(m.maxrss_kib);
        }
    }
    if let Some(p) = problems.first() {
        eprintln!("  validate WRONG: {p}");
    }
    let med = median(&walls);
    let budget = Duration::from_millis(20);
    Row {
        case: "validate",
        monitors: VALIDATE_MONITORS,
        latency: "-".into(),
        runs: walls.len(),
        in_run: None,
        peak_rss_kib: rss.iter().copied().max().unwrap_or(0),
        walls,
        budget: "≤ 20 ms".into(),
        verdict: if !problems.is_empty() {
            "WRONG".into()
        } else if med <= budget {
            "PASS".into()
        } else {
            "FAIL".into()
        },
    }
}

// ---------------------------------------------------------------------------------------
// Output

fn print_table(rows: &[Row]) {
    let head = [
        "case",
        "monitors",
        "latency",
        "runs",
        "wall min",
        "median",
        "max",
        "in-run med",
        "peak RSS",
        "budget",
        "result",
    ];
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let mut sorted = r.walls.clone();
        sorted.sort();
        table.push(vec![
            r.case.to_string(),
            r.monitors.to_string(),
            r.latency.clone(),
            r.runs.to_string(),
            secs(sorted.first().copied().unwrap_or_default()),
            secs(median(&r.walls)),
            secs(sorted.last().copied().unwrap_or_default()),
            r.in_run.map(secs).unwrap_or_else(|| "-".into()),
            mb(r.peak_rss_kib),
            r.budget.clone(),
            r.verdict.clone(),
        ]);
    }
    let widths: Vec<usize> =
        (0..head.len()).map(|c| table.iter().map(|row| row[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = std::io::stdout().lock();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| {
                let pad = widths[c] - v.chars().count();
                // Text columns left-aligned, figures right-aligned.
                if matches!(c, 0 | 9 | 10) {
                    format!("{v}{}", " ".repeat(pad))
                } else {
                    format!("{}{v}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
}

/// The 1-minute load average: other work on the machine skews the figures.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("?").to_string()
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    match s.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2,
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// KiB (as `ru_maxrss` reports it on Linux) as decimal megabytes, the unit of the budget.
fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}
