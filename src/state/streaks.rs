//! Where the rule streaks live between runs: [`State`] is the streak engine's store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{MonitorState, State};
use crate::checks::CheckResult;
use crate::rules::{Finding, RuleState, StreakStore};

impl StreakStore for State {
    fn streaks(&mut self) -> &mut BTreeMap<String, RuleState> {
        &mut self.rules
    }

    fn last_findings(&self, monitor: &str) -> &[Finding] {
        self.monitors.get(monitor).map(|ms| ms.findings.as_slice()).unwrap_or_default()
    }

    fn flaps(&self, monitor: &str) -> usize {
        self.monitors.get(monitor).map(|ms| ms.flips.len()).unwrap_or(0)
    }

    fn settled(&self, monitor: &str, now: DateTime<Utc>) -> bool {
        self.monitors.get(monitor).is_some_and(|ms| ms.settled_in(now))
    }

    fn record(&mut self, r: &CheckResult, findings: &[Finding]) {
        let ms = self.monitors.entry(r.name.clone()).or_insert_with(|| MonitorState::new(r.started_at, r.status));
        ms.last_checked_at = r.started_at;
        ms.last_status = r.status;
        ms.findings = findings.to_vec();
        ms.data = r.carry.clone();
    }
}
