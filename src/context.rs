//! Everything a run reads from its surroundings, read once: environment variables
//! (`INPUT_*`, `GITHUB_*`, `CI`, the seed's variables), the clock and the working
//! directory. Tests build a `RunContext` directly instead of touching the process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How a run waits (confirmation pauses, gate backoff): `tokio::time::sleep` in a real run;
/// a test's virtual clock advances instead, so a replayed week takes no wall time.
pub type Sleep = Arc<dyn Fn(std::time::Duration) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// The real sleep.
pub fn tokio_sleep() -> Sleep {
    Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

#[derive(Clone)]
pub struct RunContext {
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub clock: Clock,
    pub sleep: Sleep,
    /// stderr is a terminal: show a progress line.
    pub is_tty: bool,
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
        }
    }

    /// A context with the given variables and the real clock, for tests and embedding.
    pub fn with_env(env: BTreeMap<String, String>, cwd: PathBuf) -> Self {
        RunContext { env, cwd, clock: Arc::new(Utc::now), sleep: tokio_sleep(), is_tty: false }
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
