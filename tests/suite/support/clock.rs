//! Virtual time for retry tests: a [`Sleep`] that records what it was asked to wait and
//! returns at once, so a test asserts the waits themselves (200 ms, `Retry-After: 3`)
//! in milliseconds of wall time, whatever the machine's load.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use vaktpost::checks::{run_check, CheckEnv, CheckResult};
use vaktpost::config::Loaded;
use vaktpost::context::Sleep;
use vaktpost::retry::Waiter;

/// What a recording sleep was asked to wait, in order.
#[derive(Clone, Default)]
pub struct Slept(Arc<Mutex<Vec<Duration>>>);

impl Slept {
    pub fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }

    /// The waits in milliseconds of (virtual) wall time.
    pub fn ms(&self) -> Vec<u128> {
        self.waits().iter().map(|d| d.as_millis()).collect()
    }
}

/// A sleep that records each duration and returns immediately.
pub fn recording_sleep() -> (Sleep, Slept) {
    let slept = Slept::default();
    let rec = slept.0.clone();
    let sleep: Sleep = Arc::new(move |d| {
        rec.lock().unwrap().push(d);
        Box::pin(async {})
    });
    (sleep, slept)
}

/// A waiter on the recording sleep, with no deadline.
pub fn recording_waiter() -> (Waiter, Slept) {
    let (sleep, slept) = recording_sleep();
    (Waiter { sleep, deadline: None, seed: 0 }, slept)
}

/// Runs the first monitor of `loaded` once with a recording sleep; returns the result and
/// the waits its retries asked for.
pub async fn run_loaded_virtual(loaded: &Loaded) -> (CheckResult, Vec<Duration>) {
    let m = &loaded.config.monitors[0];
    let eff = vaktpost::runner::effective(&loaded.config, m);
    let mut cenv = CheckEnv::new(vaktpost::redact::Redactor::new(&loaded.secrets));
    let (waiter, slept) = recording_waiter();
    cenv.waiter = waiter;
    let r = run_check(m, &eff, &cenv, chrono::Utc::now()).await;
    (r, slept.waits())
}

/// Loads and runs a whole config with a recording sleep.
pub async fn run_yaml_virtual(yaml: &str) -> (CheckResult, Vec<Duration>) {
    run_loaded_virtual(&super::load(yaml)).await
}

/// One `http` monitor (see [`super::http_yaml`]) with a recording sleep.
pub async fn run_http_virtual(url: &str, extra: &str) -> (CheckResult, Vec<Duration>) {
    run_yaml_virtual(&super::http_yaml(url, extra)).await
}

/// Milliseconds of each wait, for compact assertions.
pub fn ms(waits: &[Duration]) -> Vec<u128> {
    waits.iter().map(|d| d.as_millis()).collect()
}
