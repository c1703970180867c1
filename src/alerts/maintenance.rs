//! Maintenance windows: while one is active, alerts for the monitors it covers are
//! suppressed (checks still run, the report says "suppressed"). A window is one-off
//! (`start: "2026-12-01T02:00"`) or recurring (`start: "02:00"`, optionally on
//! `weekdays`), in a time zone (default UTC).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};

use crate::config::MaintenanceWindow;

pub use crate::config::endpoints::check;
use crate::config::endpoints::{parse_start, parse_tz, parse_weekday, Start};

/// Whether `w` covers `now` (monitor filtering is separate: [`covers`]).
pub fn active(w: &MaintenanceWindow, now: DateTime<Utc>) -> bool {
    let (Ok(start), Ok(tz)) = (parse_start(&w.start), parse_tz(w.timezone.as_deref())) else { return false };
    let Ok(len) = Duration::from_std(w.duration.get()) else { return false };
    let days: Vec<Weekday> = w.weekdays.iter().filter_map(|d| parse_weekday(d).ok()).collect();
    let within = |local_start: NaiveDateTime| {
        tz.from_local_datetime(&local_start).earliest().is_some_and(|s| {
            let s = s.with_timezone(&Utc);
            s <= now && now < s + len
        })
    };
    match start {
        Start::Once(dt) => within(dt),
        Start::Daily(t) => {
            let today: NaiveDate = now.with_timezone(&tz).date_naive();
            let back = len.num_days() + 1;
            (0..=back)
                .filter_map(|i| today.checked_sub_signed(Duration::days(i)))
                .any(|d| (days.is_empty() || days.contains(&d.weekday())) && within(d.and_time(t)))
        }
    }
}

/// The occurrences of `w` that overlap `[from, to]`, as UTC (start, end), oldest first;
/// at most `max` (a daily window over a long span is bounded).
pub fn occurrences(
    w: &MaintenanceWindow,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let (Ok(start), Ok(tz)) = (parse_start(&w.start), parse_tz(w.timezone.as_deref())) else { return vec![] };
    let Ok(len) = Duration::from_std(w.duration.get()) else { return vec![] };
    let days: Vec<Weekday> = w.weekdays.iter().filter_map(|d| parse_weekday(d).ok()).collect();
    let at = |local: NaiveDateTime| {
        tz.from_local_datetime(&local).earliest().map(|s| s.with_timezone(&Utc)).filter(|s| *s <= to && from < *s + len)
    };
    match start {
        Start::Once(dt) => at(dt).map(|s| (s, s + len)).into_iter().collect(),
        Start::Daily(t) => {
            let first = (from - len).with_timezone(&tz).date_naive() - Duration::days(1);
            let last = to.with_timezone(&tz).date_naive();
            first
                .iter_days()
                .take_while(|d| *d <= last)
                .take(400)
                .filter(|d| days.is_empty() || days.contains(&d.weekday()))
                .filter_map(|d| at(d.and_time(t)))
                .map(|s| (s, s + len))
                .take(max)
                .collect()
        }
    }
}

/// Whether an active window suppresses alerts for `monitor`.
pub fn covers(windows: &[MaintenanceWindow], monitor: &str, now: DateTime<Utc>) -> bool {
    windows.iter().any(|w| {
        active(w, now) && (w.monitors.is_empty() || crate::rules::globs(&w.monitors).is_ok_and(|g| g.is_match(monitor)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    fn window(start: &str, dur: u64, tz: Option<&str>, days: &[&str]) -> MaintenanceWindow {
        MaintenanceWindow {
            start: start.into(),
            duration: Dur::secs(dur),
            timezone: tz.map(String::from),
            weekdays: days.iter().map(|s| s.to_string()).collect(),
            monitors: vec![],
            reason: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn one_off_window() {
        let w = window("2026-12-01T02:00", 7200, None, &[]);
        assert!(!active(&w, at("2026-12-01T01:59:59Z")));
        assert!(active(&w, at("2026-12-01T02:00:00Z")));
        assert!(active(&w, at("2026-12-01T03:59:59Z")));
        assert!(!active(&w, at("2026-12-01T04:00:00Z")));
    }

    #[test]
    fn recurring_window_in_a_time_zone_across_midnight() {
        // 23:00–01:00 Stockholm (UTC+1 in winter) on Saturdays.
        let w = window("23:00", 7200, Some("Europe/Stockholm"), &["sat"]);
        assert!(active(&w, at("2026-11-28T22:30:00Z")), "Sat 23:30 local");
        assert!(active(&w, at("2026-11-28T23:30:00Z")), "Sun 00:30 local, window began Saturday");
        assert!(!active(&w, at("2026-11-29T22:30:00Z")), "Sunday evening is not a window");
        assert!(!active(&w, at("2026-11-28T21:59:00Z")));
    }

    #[test]
    fn occurrences_of_a_weekly_window() {
        let w = window("23:00", 7200, Some("Europe/Stockholm"), &["sat"]);
        let got = occurrences(&w, at("2026-11-28T23:30:00Z"), at("2026-12-13T00:00:00Z"), 10);
        let starts: Vec<String> = got.iter().map(|(s, _)| s.to_rfc3339()).collect();
        assert_eq!(starts, ["2026-11-28T22:00:00+00:00", "2026-12-05T22:00:00+00:00", "2026-12-12T22:00:00+00:00"]);
        let once = window("2026-12-01T02:00", 3600, None, &[]);
        assert_eq!(occurrences(&once, at("2026-12-01T03:30:00Z"), at("2026-12-02T00:00:00Z"), 5), vec![]);
        assert_eq!(occurrences(&once, at("2026-11-01T00:00:00Z"), at("2026-12-02T00:00:00Z"), 5).len(), 1);
    }

    #[test]
    fn bad_windows_are_explained() {
        let w = window("25:99", 0, Some("Mars/Olympus"), &["funday"]);
        let keys: Vec<&str> = check(&w).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["start", "timezone", "weekdays", "duration"]);
    }
}
