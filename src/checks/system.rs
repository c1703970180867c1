//! The `system` check: memory of the machine vaktpost runs on, for self-hosted runners
//! next to the app. The numbers are the seed's psutil `virtual_memory()` ones: on Linux
//! `total` is MemTotal, `available` is MemAvailable, `percent` is (total − available) /
//! total × 100 rounded to one decimal; sysinfo reads them on Linux, macOS and Windows.

use schemars::JsonSchema;
use serde::Deserialize;

use sysinfo::{MemoryRefreshKind, RefreshKind, System};

use super::kinds::{check_memory_thresholds, Kind};
use super::metrics::Metric::{self, *};
use super::{CheckEnv, CheckError, CheckResult, Effective, ErrorKind, Status};
use crate::values::vartype::Ty;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemOptions {
    /// `percent` (used = total − available) above this ⇒ `degraded`.
    #[serde(default)]
    pub max_memory_percent: Option<f64>,
}

/// The metric leak detection trends for this check (bytes).
pub const MEMORY_SERIES: &[&str] = &["used"];

pub async fn check(o: &SystemOptions, _: &Effective, _: &CheckEnv, mut r: CheckResult) -> CheckResult {
    // A file read or a syscall: quick, but blocking, so off the async workers.
    let read = tokio::task::spawn_blocking(|| {
        let sys =
            System::new_with_specifics(RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()));
        (sys.total_memory(), sys.available_memory())
    })
    .await;
    let Ok((total, available)) = read else {
        return r.fail(CheckError::new(ErrorKind::Protocol, "reading this machine's memory failed"));
    };
    evaluate(o, total, available, &mut r);
    r
}

fn evaluate(o: &SystemOptions, total: u64, available: u64, r: &mut CheckResult) {
    if total == 0 {
        *r = r.clone().fail(CheckError::new(
            ErrorKind::Protocol,
            "this platform reports no memory total; the system monitor cannot measure it here",
        ));
        return;
    }
    let used = total.saturating_sub(available);
    let percent = (used as f64 / total as f64 * 1000.0).round() / 10.0;
    r.set("total", total);
    r.set("available", available);
    r.set("used", used);
    r.set("percent", percent);
    r.set("memory_series", serde_json::json!(MEMORY_SERIES));
    r.set("memory_limit", total);
    r.status = Status::Up;
    if let Some(max) = o.max_memory_percent {
        if percent > max {
            r.status = Status::Degraded;
            r.message = Some(format!("memory at {percent}%, over max_memory_percent {max}%"));
        }
    }
}

impl Kind for SystemOptions {
    const VARIABLES: &'static [(&'static str, Ty)] = {
        use crate::values::vartype::short::*;
        &[
            ("total", N),
            ("available", N),
            ("used", N),
            ("percent", N),
            ("memory_series", LIST_S),
            ("memory_limit", N),
            ("max_memory_percent", N),
        ]
    };
    fn secrets(&self, _: &mut Vec<String>) {}
    const CONFIRMS: bool = false;
    fn target(&self) -> String {
        "this machine".to_string()
    }
    fn validate(&self, p: &str, _: &dyn Fn(&str) -> bool, err: &mut dyn FnMut(&str, String)) {
        check_memory_thresholds(p, self.max_memory_percent, None, None, err)
    }
    const METRICS: &'static [(&'static str, Metric)] = &[
        ("total", Num),
        ("available", Num),
        ("used", Num),
        ("percent", Num),
        ("memory_series", Strs),
        ("memory_limit", Num),
    ];
    fn rule_variables(&self, _: &CheckResult) -> Vec<(&'static str, serde_json::Value)> {
        self.max_memory_percent.map(|v| ("max_memory_percent", serde_json::json!(v))).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_psutils() {
        let m: crate::checks::Monitor =
            yaml_serde::from_str("name: s\ntype: system\nmax_memory_percent: 50\n").unwrap();
        let crate::checks::MonitorKind::System(o) = &m.kind else { unreachable!() };
        let mut r = CheckResult::new(&m, "this machine".into(), chrono::Utc::now());
        evaluate(o, 8_000, 2_001, &mut r);
        assert_eq!(r.metric_f64("percent"), Some(75.0));
        assert_eq!(r.metric_f64("used"), Some(5_999.0));
        assert_eq!(r.status, Status::Degraded);
        assert_eq!(r.message.as_deref(), Some("memory at 75%, over max_memory_percent 50%"));
    }
}
