//! The `vaktpost` command line: parses arguments (and their `INPUT_*` action inputs),
//! calls the library, prints, and maps the outcome to the exit codes of SPEC §2. Errors
//! are anyhow chains with context, printed once as `error: {:#}`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use vaktpost::config::{self, Diagnostic, Loaded};
use vaktpost::context::RunContext;
use vaktpost::report::{self, FailOn};
use vaktpost::runner::{Selection, Shard};
use vaktpost::{RunError, RunOptions};

const EXIT_OK: u8 = 0;
const EXIT_FINDINGS: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERNAL: u8 = 3;

/// A usage error (exit 2), as an error or as the context of one; any other error that
/// ends a command is vaktpost's own failure (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

/// A failure already reported (config diagnostics are printed one per line), with its
/// exit code.
#[derive(Debug, thiserror::Error)]
#[error("exit {0}")]
struct Reported(u8);

/// The exit code of an error that ended a command, and whether it still needs printing.
fn exit_code(e: &anyhow::Error) -> (u8, bool) {
    if let Some(Reported(code)) = e.downcast_ref::<Reported>() {
        return (*code, false);
    }
    let usage = e.downcast_ref::<Usage>().is_some() || matches!(e.downcast_ref::<RunError>(), Some(RunError::Usage(_)));
    (if usage { EXIT_USAGE } else { EXIT_INTERNAL }, true)
}

#[derive(Parser)]
#[command(
    name = "vaktpost",
    version,
    about = "Post-deployment monitoring that runs inside CI",
    propagate_version = true
)]
struct Cli {
    /// Config file. Default: $INPUT_CONFIG, vaktpost.yml, .github/vaktpost.yml,
    /// monitoring/config/external_monitors.yml (the first that exists).
    #[arg(short, long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run all due checks once, evaluate rules, write the report and summary.
    Run(RunArgs),
    /// Check the config without network access; exit 0 when valid, 2 when not.
    Validate,
    /// Send a clearly marked test alert through each configured channel.
    TestAlert {
        /// Only this channel.
        #[arg(long, value_parser = channel_names(), default_value = "all")]
        channel: String,
    },
    /// Combine shard reports into one report and summary, and send alerts once.
    Merge(MergeArgs),
    /// Write a starter vaktpost.yml and .github/workflows/vaktpost.yml (never overwrites).
    Init,
    /// Translate an Upptime `.upptimerc.yml` or a Gatus `config.yaml` into a vaktpost config on stdout.
    Import {
        #[arg(value_parser = ["upptime", "gatus"])]
        tool: String,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Render the static status site, badges and Statuspage-compatible JSON from the
    /// state and the last report.
    Pages(PagesArgs),
    /// Print the JSON Schema of the config or the report.
    Schema {
        #[arg(value_parser = ["config", "report"])]
        which: String,
    },
}

#[derive(Args)]
struct PagesArgs {
    /// Directory to write the site to (created when missing; files are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// State directory (default: state.path from the config, else .vaktpost).
    #[arg(long, env = "INPUT_STATE", value_name = "PATH")]
    state: Option<PathBuf>,
    /// The last run's JSON report, for the freshest status (missing is fine).
    #[arg(long, env = "INPUT_REPORT", default_value = "vaktpost-report.json", value_name = "PATH")]
    report: PathBuf,
}

#[derive(Args)]
struct MergeArgs {
    /// Shard reports (from `vaktpost run --shard K/N`).
    #[arg(required = true, value_name = "REPORT.json")]
    reports: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

/// Options shared by `run` and `merge`.
#[derive(Args)]
struct OutputArgs {
    /// Where to write the JSON report.
    #[arg(long, env = "INPUT_REPORT", default_value = "vaktpost-report.json", value_name = "PATH")]
    report: PathBuf,
    /// Also write the job summary markdown here.
    #[arg(long, env = "INPUT_SUMMARY", value_name = "PATH")]
    summary: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, env = "INPUT_FAIL_ON", default_value = "high", value_name = "high|medium|low|never")]
    fail_on: FailOn,
    /// Evaluate everything, send nothing, save no state.
    #[arg(long, env = "INPUT_DRY_RUN")]
    dry_run: bool,
    /// State directory (default: state.path from the config, else .vaktpost).
    #[arg(long, env = "INPUT_STATE", value_name = "PATH")]
    state: Option<PathBuf>,
    /// Deadline for the whole run (overrides defaults.deadline), e.g. 2m.
    #[arg(long, env = "INPUT_DEADLINE", value_parser = parse_dur, value_name = "DURATION")]
    deadline: Option<std::time::Duration>,
    /// Exit 3 when an alert could not be delivered.
    #[arg(long, env = "INPUT_FAIL_ON_ALERT_ERROR")]
    fail_on_alert_error: bool,
    /// Write the metrics in the Prometheus text format here (overrides metrics.file).
    #[arg(long, env = "INPUT_METRICS", value_name = "PATH")]
    metrics: Option<PathBuf>,
    /// Exit 3 when the metrics file or a metrics endpoint failed.
    #[arg(long, env = "INPUT_FAIL_ON_METRICS_ERROR")]
    fail_on_metrics_error: bool,
    /// Append this run to a JSON-lines log, rotated daily, 7 kept (`off` for none).
    /// Default: monitoring/logs/monitor.log with the seed's monitoring/config/external_monitors.yml, else none.
    #[arg(long, env = "INPUT_LOG_FILE", value_name = "PATH")]
    log_file: Option<String>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// Only these monitors (names or globs; repeatable or comma-separated).
    #[arg(long, env = "INPUT_ONLY", value_delimiter = ',', value_name = "NAME")]
    only: Vec<String>,
    /// Run shard K of N (stable split by monitor name); alerts are left to `vaktpost merge`.
    #[arg(long, env = "INPUT_SHARD", value_name = "K/N")]
    shard: Option<Shard>,
    /// Gate mode: re-run failing checks until they pass or this long has passed, e.g. 5m.
    #[arg(long, env = "INPUT_WAIT", value_parser = parse_dur, value_name = "DURATION")]
    wait: Option<std::time::Duration>,
    /// Only validate the config (same as `vaktpost validate`).
    #[arg(long)]
    validate: bool,
    /// Also render the status site into this directory after the run (see `vaktpost pages`).
    #[arg(long, env = "INPUT_PAGES", value_name = "DIR")]
    pages: Option<PathBuf>,
}

fn parse_dur(s: &str) -> Result<std::time::Duration, String> {
    config::duration::parse_duration(s)
}

fn main() -> ExitCode {
    // GitHub sets every declared input, "" when the workflow does not give it; an empty
    // input means "use the default", so drop it before clap reads `INPUT_*`.
    // Single-threaded here: nothing else reads the environment yet.
    for (k, v) in std::env::vars_os() {
        let key = k.to_string_lossy();
        if key.starts_with("INPUT_") && v.to_string_lossy().trim().is_empty() {
            std::env::remove_var(&k);
        }
    }
    let cli = Cli::parse();
    let ctx = RunContext::from_process();
    let done = match cli.command {
        Command::Schema { which } => {
            let s = if which == "config" { report::config_schema() } else { report::report_schema() };
            println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            Ok(EXIT_OK)
        }
        Command::Validate => validate(&ctx, cli.config.as_deref()),
        Command::Import { tool, file } => import(&ctx, &tool, &file),
        Command::TestAlert { channel } => test_alert(&ctx, cli.config.as_deref(), &channel),
        Command::Merge(args) => merge(&ctx, cli.config.as_deref(), args),
        Command::Init => init(&ctx),
        Command::Pages(args) => pages(&ctx, cli.config.as_deref(), args),
        Command::Run(args) if args.validate => validate(&ctx, cli.config.as_deref()),
        Command::Run(args) => run(&ctx, cli.config.as_deref(), args),
    };
    ExitCode::from(done.unwrap_or_else(|e| {
        let (code, print) = exit_code(&e);
        if print {
            eprintln!("error: {e:#}");
        }
        code
    }))
}

fn load(ctx: &RunContext, explicit: Option<&std::path::Path>) -> Result<Loaded> {
    let Some(path) = config::find_config(explicit, &ctx.env, &ctx.cwd) else {
        return Err(Usage(format!(
            "no config file found; pass --config PATH or create one of: {}",
            config::DEFAULT_PATHS.join(", ")
        ))
        .into());
    };
    let path = if path.is_absolute() { path } else { ctx.cwd.join(&path) };
    let shown = path.strip_prefix(&ctx.cwd).map(|p| p.to_path_buf()).unwrap_or(path.clone());
    vaktpost::load_file(&shown_or(&path, &shown), &ctx.env).map_err(|diags| {
        print_diags(&diags);
        Reported(EXIT_USAGE).into()
    })
}

fn shown_or(abs: &std::path::Path, rel: &std::path::Path) -> PathBuf {
    if rel.exists() {
        rel.to_path_buf()
    } else {
        abs.to_path_buf()
    }
}

fn print_diags(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("error: {d}");
    }
    eprintln!("{} problem{} found; nothing was checked", diags.len(), if diags.len() == 1 { "" } else { "s" });
}

fn validate(ctx: &RunContext, explicit: Option<&std::path::Path>) -> Result<u8> {
    let l = load(ctx, explicit)?;
    let kinds: std::collections::BTreeMap<&str, usize> =
        l.config.monitors.iter().fold(Default::default(), |mut m, x| {
            *m.entry(x.kind.type_name()).or_default() += 1;
            m
        });
    let list = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
    println!(
        "{}: valid — {} monitors ({list}), {} rules",
        l.file,
        l.config.monitors.len(),
        vaktpost::rules::merged(&l.config.rules).len()
    );
    for n in &l.notes {
        println!("note: {n}");
    }
    Ok(EXIT_OK)
}

/// `vaktpost import`: the translation on stdout, what to review on stderr.
fn import(ctx: &RunContext, tool: &str, file: &std::path::Path) -> Result<u8> {
    let tool = vaktpost::import::Tool::parse(tool)
        .ok_or_else(|| Usage(format!("unknown tool {tool:?}; use upptime or gatus")))?;
    let path = if file.is_absolute() { file.to_path_buf() } else { ctx.cwd.join(file) };
    let shown = file.display().to_string();
    let text = match std::fs::read(&path) {
        Ok(b) if b.len() > vaktpost::import::MAX_INPUT_BYTES => {
            return Err(Usage(format!(
                "{shown} is larger than {} MiB; is it a config file?",
                vaktpost::import::MAX_INPUT_BYTES >> 20
            ))
            .into())
        }
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return Err(Usage(format!("cannot read {shown}: {e}")).into()),
    };
    match vaktpost::import::import(tool, &text, &shown) {
        Ok(out) => {
            print!("{}", out.text);
            eprintln!(
                "translated {shown}; {} thing{} not translated (see the `# not translated` comments)",
                out.not_translated,
                if out.not_translated == 1 { "" } else { "s" }
            );
            Ok(EXIT_OK)
        }
        Err(diags) => {
            for d in &diags {
                eprintln!("error: {d}");
            }
            Err(Reported(EXIT_USAGE).into())
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// `--channel`'s values: every channel of the config's list, and `all`.
fn channel_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(vaktpost::config::CHANNELS.iter().copied().chain(["all"]))
}

fn test_alert(ctx: &RunContext, explicit: Option<&std::path::Path>, channel: &str) -> Result<u8> {
    let loaded = load(ctx, explicit)?;
    let results = runtime()?.block_on(vaktpost::test_alert(ctx, &loaded, Some(channel)));
    if results.is_empty() {
        let sections: Vec<String> = vaktpost::config::CHANNELS.iter().map(|c| format!("alerts.{c}")).collect();
        return Err(Usage(format!(
            "no alert channel is configured{}; configure one of {} (the seed's SLACK_WEBHOOK_URL and ALERT_EMAIL turn on Slack and email)",
            if channel == "all" { String::new() } else { format!(" for --channel {channel}") },
            sections.join(", ")
        ))
        .into());
    }
    let mut failed = false;
    // A channel's answer (Slack's error body, SMTP replies) is remote text.
    let line = |s: &str| vaktpost::untrusted::console(s, 2000);
    for (ch, res) in &results {
        match res {
            Ok(what) => println!("{ch:<10} ok      {}", line(what)),
            Err(why) => {
                failed = true;
                println!("{ch:<10} FAILED  {}", line(why));
            }
        }
    }
    Ok(if failed { EXIT_FINDINGS } else { EXIT_OK })
}

/// `RunOptions` from the shared output flags.
fn options(ctx: &RunContext, loaded: &Loaded, out: OutputArgs) -> RunOptions {
    let mut opts = RunOptions::new(ctx, &loaded.config);
    opts.report_path = ctx.path(&out.report.to_string_lossy());
    opts.summary_path = out.summary.map(|p| ctx.path(&p.to_string_lossy()));
    opts.fail_on = out.fail_on;
    opts.dry_run = out.dry_run;
    if let Some(s) = out.state {
        opts.state_dir = ctx.path(&s.to_string_lossy());
    }
    opts.deadline = out.deadline;
    if let Some(m) = out.metrics {
        opts.metrics_path = Some(ctx.path(&m.to_string_lossy()));
    }
    opts
}

fn run(ctx: &RunContext, explicit: Option<&std::path::Path>, args: RunArgs) -> Result<u8> {
    let loaded = load(ctx, explicit)?;
    if ctx.github_actions() {
        print!("{}", report::actions::masks(&loaded.secrets));
    }
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let fail_on = FailOnErrors { alerts: args.out.fail_on_alert_error, metrics: args.out.fail_on_metrics_error };
    let log = log_path(ctx, &loaded, args.out.log_file.as_deref());
    let mut opts = options(ctx, &loaded, args.out);
    opts.selection = Selection {
        only: args.only.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        shard: args.shard,
    };
    opts.wait = args.wait;
    opts.pages_dir = args.pages.map(|p| ctx.path(&p.to_string_lossy()));

    let runtime = runtime()?;
    let tty = ctx.is_tty;
    let progress = move |done: usize, total: usize| {
        if tty {
            eprint!("\rchecking {done}/{total}…");
            if done == total {
                eprint!("\r\x1b[K");
            }
        }
    };
    let outcome = runtime.block_on(vaktpost::run(ctx, &loaded, &opts, &progress));
    finish(ctx, &loaded, &opts, outcome, fail_on, log.as_deref())
}

fn merge(ctx: &RunContext, explicit: Option<&std::path::Path>, args: MergeArgs) -> Result<u8> {
    let loaded = load(ctx, explicit)?;
    let mut reports = Vec::new();
    for p in &args.reports {
        let path = ctx.path(&p.to_string_lossy());
        let not_a_report = || Usage(format!("{}: not a vaktpost report", p.display()));
        let bytes = std::fs::read(&path).with_context(not_a_report)?;
        reports.push(serde_json::from_slice::<report::Report>(&bytes).with_context(not_a_report)?);
    }
    if ctx.github_actions() {
        print!("{}", report::actions::masks(&loaded.secrets));
    }
    let fail_on = FailOnErrors { alerts: args.out.fail_on_alert_error, metrics: args.out.fail_on_metrics_error };
    let log = log_path(ctx, &loaded, args.out.log_file.as_deref());
    let opts = options(ctx, &loaded, args.out);
    let outcome = runtime()?.block_on(vaktpost::merge(ctx, &loaded, reports, &opts));
    finish(ctx, &loaded, &opts, outcome, fail_on, log.as_deref())
}

/// The run log's path: `--log-file`, else the seed layout's default, else none.
fn log_path(ctx: &RunContext, loaded: &Loaded, arg: Option<&str>) -> Option<PathBuf> {
    match arg {
        Some(a) if vaktpost::runlog::is_off(a) => None,
        Some(a) => Some(ctx.path(a)),
        None => vaktpost::runlog::default_path(&ctx.path(&loaded.file)),
    }
}

/// Appends to the run log; trouble there is a warning, never a failed run.
fn write_log(
    loaded: &Loaded,
    log: Option<&std::path::Path>,
    lines: impl FnOnce(&vaktpost::redact::Redactor) -> Vec<String>,
) {
    let Some(path) = log else { return };
    let redactor = vaktpost::redact::Redactor::new(&loaded.secrets);
    if let Err(e) = vaktpost::runlog::append(path, &lines(&redactor)) {
        eprintln!("warning: run log not written: {e}");
    }
}

/// `--fail-on-alert-error`, `--fail-on-metrics-error`: delivery failures that make exit 3.
struct FailOnErrors {
    alerts: bool,
    metrics: bool,
}

/// Writes the outputs, prints, and picks the exit code.
fn finish(
    ctx: &RunContext,
    loaded: &Loaded,
    opts: &RunOptions,
    outcome: Result<vaktpost::Outcome, RunError>,
    fail_on_errors: FailOnErrors,
    log: Option<&std::path::Path>,
) -> Result<u8> {
    // A failed run is in the run log too, with the whole chain.
    let failed = |e: RunError| {
        let e = anyhow::Error::new(e);
        write_log(loaded, log, |r| vec![vaktpost::runlog::failure_line(ctx.now(), &format!("{e:#}"), r)]);
        e
    };
    let outcome = outcome.map_err(failed)?;
    let written = vaktpost::write_outputs(ctx, loaded, opts, &outcome).map_err(|e| {
        write_log(loaded, log, |r| vaktpost::runlog::lines(&outcome.report, r));
        failed(e)
    })?;
    write_log(loaded, log, |r| vaktpost::runlog::lines(&outcome.report, r));
    let report = &outcome.report;
    if ctx.github_actions() {
        print!("{}", report::actions::annotations(report));
    }
    print!("{}", report::console::render(report));
    println!("report: {}", opts.report_path.display());
    for p in &written.summary_paths {
        println!("summary: {}", p.display());
    }
    let alert_failures = report.alerts.iter().filter(|a| a.action == report::Action::Failed).count();
    if alert_failures > 0 {
        eprintln!("warning: {alert_failures} alert action(s) failed; they are retried on the next run (see the report's alerts)");
    }
    if written.metrics_failures > 0 {
        eprintln!(
            "warning: {} metrics output(s) failed; the next run sends them again (see the report's metrics_outputs)",
            written.metrics_failures
        );
    }
    Ok(if (fail_on_errors.alerts && alert_failures > 0) || (fail_on_errors.metrics && written.metrics_failures > 0) {
        EXIT_INTERNAL
    } else if opts.fail_on.trips(report) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// `vaktpost pages`: the status site from the state, the history and the last report.
fn pages(ctx: &RunContext, explicit: Option<&std::path::Path>, args: PagesArgs) -> Result<u8> {
    let loaded = load(ctx, explicit)?;
    let report_path = ctx.path(&args.report.to_string_lossy());
    let report = match std::fs::read(&report_path) {
        Ok(bytes) => match serde_json::from_slice::<report::Report>(&bytes) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!(
                    "warning: {} is not a vaktpost report ({e}); the site shows the state's last checks",
                    report_path.display()
                );
                None
            }
        },
        Err(_) => None,
    };
    let state_dir = match &args.state {
        Some(s) => ctx.path(&s.to_string_lossy()),
        None => ctx.path(loaded.config.state.path.as_deref().unwrap_or(".vaktpost")),
    };
    let out = ctx.path(&args.out.to_string_lossy());
    let redactor = vaktpost::redact::Redactor::new(&loaded.secrets);
    let paths = vaktpost::pages::Paths::of(&loaded.config.pages, &ctx.cwd);
    let src = vaktpost::pages::Sources { state_dir: &state_dir, report: report.as_ref(), now: ctx.now() };
    let done = vaktpost::pages::publish(&loaded.config, &redactor, &paths, &src, &out).map_err(|e| match e {
        vaktpost::pages::PagesError::Config(m) => anyhow::Error::new(Usage(m)),
        other => anyhow::Error::new(other),
    })?;
    for n in &done.notes {
        eprintln!("note: {n}");
    }
    println!(
        "pages: {} monitors, {} files ({:.1} KB) in {}",
        done.monitors,
        done.files,
        done.bytes as f64 / 1024.0,
        out.display()
    );
    Ok(EXIT_OK)
}

const INIT_CONFIG: &str = include_str!("../config/init/vaktpost.yml");
const INIT_WORKFLOW: &str = include_str!("../config/init/workflow.yml");

/// What `init` says about the schedule's cost (upptime/upptime#692: a `*/5` monitor on a
/// private repository overran the free minutes).
const INIT_COST_NOTE: &str = "cost: the workflow runs every 5 minutes, 288 jobs a day; on a private repository each job is billed at least 1 minute (about 8,600 minutes a month, over the 2,000 free minutes of GitHub Free). Cheaper: a longer cron interval (*/15 is 96 jobs a day), or heavy monitors on a slower `interval:` in vaktpost.yml. Public repositories are not billed.";

/// `vaktpost init`: starter files; refuses to overwrite anything.
fn init(ctx: &RunContext) -> Result<u8> {
    let files = [(ctx.path("vaktpost.yml"), INIT_CONFIG), (ctx.path(".github/workflows/vaktpost.yml"), INIT_WORKFLOW)];
    let existing: Vec<String> =
        files.iter().filter(|(p, _)| p.exists()).map(|(p, _)| p.display().to_string()).collect();
    if !existing.is_empty() {
        return Err(Usage(format!(
            "{} already exist{}; vaktpost init never overwrites (move them away first)",
            existing.join(" and "),
            if existing.len() == 1 { "s" } else { "" }
        ))
        .into());
    }
    for (path, text) in &files {
        let res = path.parent().map(std::fs::create_dir_all).unwrap_or(Ok(())).and_then(|_| std::fs::write(path, text));
        res.with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!("next: edit the URLs in vaktpost.yml, run `vaktpost validate`, then commit both files");
    println!("{INIT_COST_NOTE}");
    Ok(EXIT_OK)
}
