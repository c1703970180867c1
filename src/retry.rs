//! The one retry policy: every caller that tries again (checks, channels, the GitHub
//! client, the data branch) goes through [`run`], so "what is retried, how long we wait,
//! what a server's `Retry-After` may ask, and that no wait crosses the run's deadline"
//! is decided here once.
//!
//! - The caller says what an attempt's outcome asks for ([`Next`]): done, retry after
//!   backoff, or retry after the wait the server asked for.
//! - Backoff is exponential from `min_delay`, capped at `max_delay`, with jitter when the
//!   policy asks for it (the schedule comes from `backon`; its jitter seed comes from the
//!   run, so a test's run is repeatable).
//! - A server's wait longer than `max_server_wait` is not honoured: the attempt's outcome
//!   is returned as is ([`Stop::ServerWait`]) — a monitor run has no minutes to spare.
//! - No wait starts that would end past the deadline ([`Stop::Deadline`]).
//! - Waits go through the run's [`Sleep`], so tests on a virtual clock take no wall time,
//!   and every wait is recorded in [`Outcome::waits`] for tests to assert on.

use std::time::{Duration, Instant};

use backon::BackoffBuilder;

/// How a run waits (retry backoff, confirmation pauses, gate backoff):
/// `tokio::time::sleep` in a real run; a test's virtual clock advances instead, so a
/// replayed week takes no wall time.
pub type Sleep = std::sync::Arc<dyn Fn(Duration) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// The real sleep.
pub fn tokio_sleep() -> Sleep {
    std::sync::Arc::new(|d| Box::pin(tokio::time::sleep(d)))
}

/// What one attempt's outcome asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Success, or a failure that another attempt would not change.
    Done,
    /// A transient failure: try again after backoff.
    Retry,
    /// The server said when to come back (`Retry-After`, a rate-limit reset).
    RetryAfter(Duration),
}

/// Why [`run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The last outcome asked for nothing more.
    Done,
    /// Every attempt the policy allows was made.
    Exhausted,
    /// The next wait would have ended past the deadline.
    Deadline { wait: Duration },
    /// The server asked for a longer wait than the policy honours.
    ServerWait { wait: Duration },
}

impl Stop {
    /// A clause for an error message when retrying stopped early ("" when it did not).
    pub fn clause(&self) -> String {
        use crate::human::format_duration;
        match self {
            Stop::Done | Stop::Exhausted => String::new(),
            Stop::Deadline { wait } => {
                format!(
                    "; not retried, as the next attempt (in {}) would pass the run's deadline",
                    format_duration(*wait)
                )
            }
            Stop::ServerWait { wait } => {
                format!("; not retried, as the server asked to wait {}", format_duration(*wait))
            }
        }
    }
}

/// How a caller retries.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Attempts in all, the first included; at least 1.
    pub attempts: u32,
    /// The first backoff.
    pub min_delay: Duration,
    /// No backoff is longer than this.
    pub max_delay: Duration,
    /// The longest server-requested wait honoured.
    pub max_server_wait: Duration,
    /// Spread backoffs over `[delay, 2·delay)` so many clients do not retry in step.
    pub jitter: bool,
}

impl Policy {
    /// `retries` retries after the first attempt (a monitor's `retries:`), 200 ms doubling
    /// to 3 s, `Retry-After` up to 10 s: the policy of every check.
    pub fn check(retries: u32) -> Policy {
        Policy {
            attempts: retries.saturating_add(1),
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(3),
            max_server_wait: Duration::from_secs(10),
            jitter: false,
        }
    }

    /// Delivery to a channel or API: 6 attempts, 1 s doubling to 8 s with jitter, the
    /// server's wait up to `max_server_wait`.
    pub fn delivery(max_server_wait: Duration) -> Policy {
        Policy {
            attempts: 6,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_server_wait,
            jitter: true,
        }
    }

    pub fn attempts(mut self, n: u32) -> Policy {
        self.attempts = n.max(1);
        self
    }

    /// The backoff before retry `n` (1-based), without jitter: for callers that must
    /// say how long they would wait.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1).min(16)).unwrap_or(u32::MAX);
        self.min_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// How and until when a caller may wait: the run's sleep, its deadline and its seed.
#[derive(Clone)]
pub struct Waiter {
    pub sleep: Sleep,
    pub deadline: Option<Instant>,
    /// Seeds the jitter; the run's random seed ([`crate::context::RunContext::seed`]).
    pub seed: u64,
}

impl Waiter {
    /// Real sleeps, no deadline: for code outside a run (tests, `test-alert`).
    pub fn real() -> Waiter {
        Waiter { sleep: tokio_sleep(), deadline: None, seed: 0 }
    }

    pub fn until(mut self, deadline: Instant) -> Waiter {
        self.deadline = Some(deadline);
        self
    }

    /// Time left before the deadline (`None`: no deadline); zero once it passed.
    pub fn left(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Waits `d` through the run's sleep.
    pub async fn sleep(&self, d: Duration) {
        (self.sleep)(d).await
    }
}

/// The value of the last attempt, how many attempts were made, why retrying stopped,
/// and every wait in between.
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub attempts: u32,
    pub stop: Stop,
    pub waits: Vec<Duration>,
}

/// Runs `op` (given the 1-based attempt number) until `judge` says done, the policy's
/// attempts are spent, or a wait would cross the deadline or exceed what the policy
/// honours. Returns the last attempt's value.
pub async fn run<T, F, Fut, J>(policy: &Policy, waiter: &Waiter, mut op: F, mut judge: J) -> Outcome<T>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = T>,
    J: FnMut(&T) -> Next,
{
    let mut schedule = schedule(policy, waiter.seed);
    let mut waits = Vec::new();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let value = op(attempt).await;
        let next = judge(&value);
        let done = |stop| Outcome { value, attempts: attempt, stop, waits: waits.clone() };
        let wait = match next {
            Next::Done => return done(Stop::Done),
            _ if attempt >= policy.attempts.max(1) => return done(Stop::Exhausted),
            Next::RetryAfter(w) if w > policy.max_server_wait => return done(Stop::ServerWait { wait: w }),
            Next::RetryAfter(w) => w,
            Next::Retry => schedule.next().unwrap_or(policy.max_delay),
        };
        if waiter.deadline.is_some_and(|d| Instant::now() + wait >= d) {
            return done(Stop::Deadline { wait });
        }
        waits.push(wait);
        waiter.sleep(wait).await;
    }
}

/// The backoff schedule: `backon`'s exponential builder, capped, jittered with `seed`.
fn schedule(policy: &Policy, seed: u64) -> impl Iterator<Item = Duration> {
    let mut b = backon::ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_factor(2.0)
        .with_max_times(policy.attempts as usize);
    if policy.jitter {
        b = b.with_jitter().with_jitter_seed(seed);
    }
    b.build()
}

impl Next {
    /// What an HTTP delivery's answer asks for: 408, 429 and 5xx are transient (a 429
    /// after its `Retry-After` when it gives one); every other status is final.
    pub fn for_status(status: u16, retry_after: Option<Duration>) -> Next {
        match (status, retry_after) {
            (429, Some(w)) => Next::RetryAfter(w),
            (408 | 429 | 500..=599, _) => Next::Retry,
            _ => Next::Done,
        }
    }
}

/// The value of an HTTP `Retry-After` header given as seconds (the form every API we
/// call uses; an HTTP date is not honoured and the caller backs off instead).
pub fn retry_after(h: &http::HeaderMap) -> Option<Duration> {
    let v = h.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses_are_retried_and_a_429_waits_as_told() {
        let w = Duration::from_secs(7);
        assert_eq!(Next::for_status(429, Some(w)), Next::RetryAfter(w));
        for s in [408, 429, 500, 502, 503, 599] {
            assert_eq!(Next::for_status(s, None), Next::Retry, "{s}");
        }
        for s in [200, 204, 301, 400, 401, 403, 404, 413, 422, 600] {
            assert_eq!(Next::for_status(s, Some(w)), Next::Done, "{s}");
        }
    }
    use std::sync::{Arc, Mutex};

    /// A sleep that records what it was asked to wait and returns at once.
    fn recording() -> (Waiter, Arc<Mutex<Vec<Duration>>>) {
        let slept = Arc::new(Mutex::new(Vec::new()));
        let s = slept.clone();
        let sleep: Sleep = Arc::new(move |d| {
            s.lock().unwrap().push(d);
            Box::pin(async {})
        });
        (Waiter { sleep, deadline: None, seed: 7 }, slept)
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    }

    #[test]
    fn backs_off_exponentially_up_to_the_cap_and_counts_attempts() {
        let (w, slept) = recording();
        let out = block(run(&Policy::check(5), &w, |n| async move { n }, |_| Next::Retry));
        assert_eq!(out.attempts, 6);
        assert_eq!(out.stop, Stop::Exhausted);
        let ms: Vec<u128> = slept.lock().unwrap().iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3000]);
        assert_eq!(out.waits, *slept.lock().unwrap());
        assert_eq!(Policy::check(5).backoff(3), Duration::from_millis(800));
        assert_eq!(Policy::check(5).backoff(30), Duration::from_secs(3));
    }

    #[test]
    fn done_stops_at_once_and_a_success_after_retries_is_returned() {
        let (w, slept) = recording();
        let out =
            block(run(&Policy::check(3), &w, |n| async move { n }, |n| if *n == 3 { Next::Done } else { Next::Retry }));
        assert_eq!((out.value, out.attempts, out.stop), (3, 3, Stop::Done));
        assert_eq!(slept.lock().unwrap().len(), 2);
    }

    #[test]
    fn server_wait_is_honoured_up_to_the_policy_and_refused_beyond() {
        let (w, slept) = recording();
        let asked = Next::RetryAfter(Duration::from_secs(4));
        let out = block(run(&Policy::check(1), &w, |n| async move { n }, |_| asked));
        assert_eq!(*slept.lock().unwrap(), [Duration::from_secs(4)]);
        assert_eq!(out.stop, Stop::Exhausted);

        let (w, slept) = recording();
        let out =
            block(run(&Policy::check(3), &w, |n| async move { n }, |_| Next::RetryAfter(Duration::from_secs(11))));
        assert_eq!(out.stop, Stop::ServerWait { wait: Duration::from_secs(11) });
        assert_eq!(out.attempts, 1);
        assert!(slept.lock().unwrap().is_empty());
        assert!(out.stop.clause().contains("asked to wait 11s"), "{}", out.stop.clause());
    }

    #[test]
    fn no_wait_crosses_the_deadline() {
        let (w, slept) = recording();
        let w = w.until(Instant::now() + Duration::from_secs(5));
        let out = block(run(&Policy::check(3), &w, |n| async move { n }, |_| Next::RetryAfter(Duration::from_secs(6))));
        assert_eq!(out.stop, Stop::Deadline { wait: Duration::from_secs(6) });
        assert!(slept.lock().unwrap().is_empty());
        assert!(out.stop.clause().contains("deadline"));
    }

    #[test]
    fn jitter_spreads_waits_and_is_repeatable_for_a_seed() {
        let waits = |seed| {
            let (mut w, _) = recording();
            w.seed = seed;
            block(run(&Policy::delivery(Duration::from_secs(60)), &w, |n| async move { n }, |_| Next::Retry)).waits
        };
        let a = waits(1);
        assert_eq!(a, waits(1), "one seed, one schedule");
        assert_eq!(a.len(), 5);
        for (i, d) in a.iter().enumerate() {
            let base = Policy::delivery(Duration::ZERO).backoff(i as u32 + 1);
            assert!(*d >= base && *d <= base * 2, "wait {i}: {d:?} outside [{base:?}, 2·{base:?}]");
        }
    }
}
