//! Everything a run reads from its surroundings, read once: environment variables
//! (`INPUT_*`, `GITHUB_*`, `CI`, the seed's variables), the clock and the working
//! directory. Tests build a `RunContext` directly instead of touching the process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub use crate::retry::{tokio_sleep, Sleep};

#[derive(Clone)]
pub struct RunContext {
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub clock: Clock,
    pub sleep: Sleep,
    /// stderr is a terminal: show a progress line.
    pub is_tty: bool,
    /// The run's randomness (retry jitter, output delimiters): random per process, fixed in tests.
    pub seed: u64,
    /// This machine's host name when it is a usable DNS name (the email channel's HELO
    /// and default sender); `None` in tests unless they set one.
    pub hostname: Option<String>,
    /// The GitHub API's `x-ratelimit-remaining` and `x-ratelimit-limit` of the last answer
    /// any GitHub request of this run got (`github::request` records them), for the
    /// summary's footer.
    pub github_rate: Arc<std::sync::Mutex<Option<(u64, u64)>>>,
}

impl RunContext {
    pub fn from_process() -> Self {
        use is_terminal::IsTerminal;
        RunContext {
            env: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            clock: Arc::new(Utc::now),
            sleep: tokio_sleep(),
            is_tty: std::io::stderr().is_terminal(),
            seed: random_seed(),
            hostname: local_hostname(),
            github_rate: Default::default(),
        }
    }

    /// A context with the given variables and the real clock, for tests and embedding.
    pub fn with_env(env: BTreeMap<String, String>, cwd: PathBuf) -> Self {
        RunContext {
            env,
            cwd,
            clock: Arc::new(Utc::now),
            sleep: tokio_sleep(),
            is_tty: false,
            seed: 0,
            hostname: None,
            github_rate: Default::default(),
        }
    }

    /// How retries of this run wait: its sleep and seed, with `deadline`.
    pub fn waiter(&self, deadline: Option<std::time::Instant>) -> crate::retry::Waiter {
        crate::retry::Waiter { sleep: self.sleep.clone(), deadline, seed: self.seed }
    }

    /// The GitHub API rate limit the last GitHub answer of this run reported, as
    /// (remaining, limit).
    pub fn github_rate(&self) -> Option<(u64, u64)> {
        self.github_rate.lock().ok().and_then(|g| *g)
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// A variable's value when it is set and not blank (GitHub sets unset inputs to "").
    pub fn var(&self, k: &str) -> Option<&str> {
        self.env.get(k).map(|s| s.as_str()).filter(|s| !s.trim().is_empty())
    }

    pub fn github_actions(&self) -> bool {
        self.var("GITHUB_ACTIONS") == Some("true")
    }

    /// Link to this workflow run, when running in GitHub Actions.
    pub fn run_url(&self) -> Option<String> {
        let server = self.var("GITHUB_SERVER_URL").unwrap_or("https://github.com");
        Some(format!(
            "{}/{}/actions/runs/{}",
            server.trim_end_matches('/'),
            self.var("GITHUB_REPOSITORY")?,
            self.var("GITHUB_RUN_ID")?
        ))
    }

    pub fn path(&self, p: &str) -> PathBuf {
        let pb = PathBuf::from(p);
        if pb.is_absolute() {
            pb
        } else {
            self.cwd.join(pb)
        }
    }
}

/// A random `u64` from the standard library's per-process hash keys (no extra crate for
/// what only spreads retries apart).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

/// The kernel's host name (`/proc/sys/kernel/hostname`, else `/etc/hostname`), when it is
/// letters, digits, `-` and `.` only.
fn local_hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
}
