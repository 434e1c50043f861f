//! SLA arithmetic: calculation windows in the configured time zone, time-weighted
//! availability from a service's checks, error budgets, and the tracker a service actor
//! keeps to record a violation when downtime breaks its rule's budget.
//!
//! **Availability is time-weighted.** Between two checks the service is taken to be in
//! the state the earlier check reported; a down span runs from a `down` check to the
//! next `up` check (or to the end of the period). The state at the start of a period is
//! the last check before it. Time before the first known check is not observed and is
//! left out of both sides, so a service added mid-month is judged on the time it was
//! watched: `availability = 1 − down time / observed time`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
pub use chrono_tz::Tz;

/// How long an SLA rule's window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Daily,
    Weekly,
    Monthly,
}

impl Window {
    pub const NAMES: &'static str = "'daily', 'weekly' or 'monthly'";

    pub fn parse(s: &str) -> Option<Window> {
        match s {
            "daily" => Some(Window::Daily),
            "weekly" => Some(Window::Weekly),
            "monthly" => Some(Window::Monthly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Daily => "daily",
            Window::Weekly => "weekly",
            Window::Monthly => "monthly",
        }
    }

    /// The window containing `now`: today, this week (from Monday) or this month, as
    /// local midnights in `tz`.
    pub fn bounds(self, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = now.with_timezone(&tz).date_naive();
        let (first, next) = match self {
            Window::Daily => (today, today + Duration::days(1)),
            Window::Weekly => {
                let monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                (monday, monday + Duration::days(7))
            }
            Window::Monthly => {
                let first = today.with_day(1).unwrap_or(today);
                let next = if first.month() == 12 {
                    NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
                };
                (first, next.unwrap_or(first + Duration::days(31)))
            }
        };
        (local_midnight(first, tz), local_midnight(next, tz))
    }
}

/// The instant a local date starts in `tz` (the first valid instant on a DST gap day).
pub fn local_midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..4 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.with_timezone(&Utc);
        }
        t += Duration::hours(1);
    }
    Utc.from_utc_datetime(&t)
}

/// One check: when, and whether the service was up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    pub at: DateTime<Utc>,
    pub up: bool,
}

/// Availability of one period.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Availability {
    /// Seconds of the period with a known state.
    pub observed_secs: f64,
    pub down_secs: f64,
    /// Checks inside the period, and how many were `down`.
    pub total_checks: u64,
    pub down_checks: u64,
}

impl Availability {
    /// Percent up over the observed time, rounded to 4 decimals; `None` when nothing
    /// was observed.
    pub fn percent(&self) -> Option<f64> {
        (self.observed_secs > 0.0).then(|| {
            let p = 100.0 * (1.0 - self.down_secs / self.observed_secs);
            (p.clamp(0.0, 100.0) * 10_000.0).round() / 10_000.0
        })
    }
}

/// Time-weighted availability over `[from, to)`; `prior` is the state of the last check
/// before `from`, and `checks` are sorted by time (those outside the period are ignored).
pub fn availability(
    prior: Option<bool>,
    checks: &[Check],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Availability {
    let mut a = Availability::default();
    if to <= from {
        return a;
    }
    let mut state = prior;
    let mut since = from;
    for c in checks.iter().filter(|c| c.at >= from && c.at < to) {
        if let Some(up) = state {
            let span = (c.at - since).num_milliseconds() as f64 / 1000.0;
            a.observed_secs += span;
            if !up {
                a.down_secs += span;
            }
        }
        state = Some(c.up);
        since = c.at;
        a.total_checks += 1;
        if !c.up {
            a.down_checks += 1;
        }
    }
    if let Some(up) = state {
        let span = (to - since).num_milliseconds() as f64 / 1000.0;
        a.observed_secs += span;
        if !up {
            a.down_secs += span;
        }
    }
    a
}

/// Downtime a window allows, in seconds.
pub fn budget_secs(
    target_percent: f64,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
) -> f64 {
    let total = (window_end - window_start).num_seconds() as f64;
    // Millisecond precision: 99.9 % is not exact in binary.
    (total * (1.0 - target_percent / 100.0) * 1000.0).round() / 1000.0
}

/// A rule as the tracker needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaRule {
    pub id: i64,
    pub target_percent: f64,
    pub window: Window,
}

/// Where a service stands in its rule's current window (restored from the store).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Down time in the window that has ended (closed spans).
    pub closed_down_secs: f64,
    /// When the current down span began, if the service is down.
    pub down_since: Option<DateTime<Utc>>,
    /// The start of the open violation, if one is recorded and not ended.
    pub open_violation: Option<DateTime<Utc>>,
}

/// What the tracker asks its actor to record.
#[derive(Debug, Clone, PartialEq)]
pub enum SlaEffect {
    ViolationStarted { rule_id: i64, started_at: DateTime<Utc>, down_secs: f64, budget_secs: f64 },
    ViolationEnded { rule_id: i64, ended_at: DateTime<Utc> },
}

/// The error budget of one service: downtime in its window, and the violation that is
/// open while the budget is spent and the service is down.
#[derive(Debug, Clone)]
pub struct SlaTracker {
    pub rule: SlaRule,
    pub tz: Tz,
    pub standing: Standing,
}

impl SlaTracker {
    pub fn new(rule: SlaRule, tz: Tz, standing: Standing) -> Self {
        Self { rule, tz, standing }
    }

    fn down_secs(&self, now: DateTime<Utc>) -> f64 {
        let open = self.standing.down_since.map_or(0.0, |s| {
            (now - s.max(self.standing.window_start)).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.standing.closed_down_secs + open
    }

    /// Moves into the window containing `now`; an open violation ends where the old
    /// window ends (the new window has a fresh budget).
    fn roll(&mut self, now: DateTime<Utc>, effects: &mut Vec<SlaEffect>) {
        while now >= self.standing.window_end {
            let end = self.standing.window_end;
            if self.standing.open_violation.take().is_some() {
                effects.push(SlaEffect::ViolationEnded { rule_id: self.rule.id, ended_at: end });
            }
            let (start, next_end) = self.rule.window.bounds(end, self.tz);
            self.standing.window_start = start;
            self.standing.window_end = next_end.max(end + Duration::seconds(1));
            self.standing.closed_down_secs = 0.0;
        }
    }

    /// A check (or a status the actor concluded) at `at`.
    pub fn observe(&mut self, up: bool, at: DateTime<Utc>) -> Vec<SlaEffect> {
        let mut effects = Vec::new();
        self.roll(at, &mut effects);
        match (up, self.standing.down_since) {
            (true, Some(since)) => {
                self.standing.closed_down_secs +=
                    (at - since.max(self.standing.window_start)).num_milliseconds().max(0) as f64
                        / 1000.0;
                self.standing.down_since = None;
                if self.standing.open_violation.take().is_some() {
                    effects.push(SlaEffect::ViolationEnded { rule_id: self.rule.id, ended_at: at });
                }
            }
            (false, None) => self.standing.down_since = Some(at),
            _ => {}
        }
        if !up && self.standing.open_violation.is_none() {
            let budget = budget_secs(
                self.rule.target_percent,
                self.standing.window_start,
                self.standing.window_end,
            );
            let down = self.down_secs(at);
            if down > budget {
                // The moment the budget ran out, within the current down span.
                let over = Duration::milliseconds(((down - budget) * 1000.0).round() as i64);
                let since = self.standing.down_since.unwrap_or(at).max(self.standing.window_start);
                let started_at = (at - over).max(since);
                self.standing.open_violation = Some(started_at);
                effects.push(SlaEffect::ViolationStarted {
                    rule_id: self.rule.id,
                    started_at,
                    down_secs: down,
                    budget_secs: budget,
                });
            }
        }
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64, m: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap()
            + Duration::hours(h)
            + Duration::minutes(m)
    }

    fn check(h: i64, m: i64, up: bool) -> Check {
        Check { at: t(h, m), up }
    }

    #[test]
    fn windows_are_local_days_weeks_and_months() {
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        // 2026-03-10 is a Tuesday; 17:00 UTC is already the 11th in Shanghai.
        let now = t(17, 0);
        let (s, e) = Window::Daily.bounds(now, shanghai);
        assert_eq!(
            (s, e),
            (
                Utc.with_ymd_and_hms(2026, 3, 10, 16, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 3, 11, 16, 0, 0).unwrap()
            )
        );
        let (s, e) = Window::Weekly.bounds(now, Tz::UTC);
        assert_eq!(
            (s, e),
            (
                Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 3, 16, 0, 0, 0).unwrap()
            )
        );
        let (s, e) =
            Window::Monthly.bounds(Utc.with_ymd_and_hms(2026, 12, 31, 12, 0, 0).unwrap(), Tz::UTC);
        assert_eq!(
            (s, e),
            (
                Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
            )
        );
        // A DST day in New York is 23 hours long.
        let ny: Tz = "America/New_York".parse().unwrap();
        let (s, e) = Window::Daily.bounds(Utc.with_ymd_and_hms(2026, 3, 8, 12, 0, 0).unwrap(), ny);
        assert_eq!((e - s).num_hours(), 23);
    }

    #[test]
    fn availability_weighs_time_not_check_counts() {
        // Up at 0:00, down at 1:00, up again at 1:30; period 0:00–4:00.
        let checks = [
            check(0, 0, true),
            check(1, 0, false),
            check(1, 10, false),
            check(1, 20, false),
            check(1, 30, true),
        ];
        let a = availability(None, &checks, t(0, 0), t(4, 0));
        assert_eq!((a.observed_secs, a.down_secs), (4.0 * 3600.0, 1800.0));
        assert_eq!((a.total_checks, a.down_checks), (5, 3));
        assert_eq!(a.percent(), Some(87.5));
        // A down state carried in from before the period counts from its start.
        let a = availability(Some(false), &[check(0, 30, true)], t(0, 0), t(1, 0));
        assert_eq!(a.percent(), Some(50.0));
        // Time before the first check is not observed.
        let a = availability(None, &[check(2, 0, true), check(3, 0, false)], t(0, 0), t(4, 0));
        assert_eq!((a.observed_secs, a.percent()), (7200.0, Some(50.0)));
        assert_eq!(availability(None, &[], t(0, 0), t(4, 0)).percent(), None);
        assert_eq!(availability(Some(true), &[], t(0, 0), t(4, 0)).percent(), Some(100.0));
    }

    #[test]
    fn a_violation_opens_when_the_budget_runs_out_and_closes_on_recovery() {
        // 99 % of a day allows 864 s (14.4 min) down.
        let rule = SlaRule { id: 7, target_percent: 99.0, window: Window::Daily };
        let (start, end) = Window::Daily.bounds(t(0, 0), Tz::UTC);
        let standing = Standing {
            window_start: start,
            window_end: end,
            closed_down_secs: 600.0,
            down_since: None,
            open_violation: None,
        };
        let mut tr = SlaTracker::new(rule, Tz::UTC, standing);
        assert!(tr.observe(false, t(1, 0)).is_empty(), "600 s spent, 264 s left");
        assert!(tr.observe(false, t(1, 4)).is_empty(), "840 s: still within budget");
        let effects = tr.observe(false, t(1, 5));
        assert_eq!(
            effects,
            vec![SlaEffect::ViolationStarted {
                rule_id: 7,
                started_at: t(1, 4) + Duration::seconds(24),
                down_secs: 900.0,
                budget_secs: 864.0
            }]
        );
        assert!(tr.observe(false, t(1, 6)).is_empty(), "one violation per down span");
        assert_eq!(
            tr.observe(true, t(1, 30)),
            vec![SlaEffect::ViolationEnded { rule_id: 7, ended_at: t(1, 30) }]
        );
        // Budget already spent: the next down check opens one at once.
        assert!(
            matches!(tr.observe(false, t(2, 0))[..], [SlaEffect::ViolationStarted { started_at, .. }] if started_at == t(2, 0))
        );
        // The next day has a fresh budget: the open violation ends at midnight.
        let effects = tr.observe(false, t(24, 5));
        assert_eq!(effects, vec![SlaEffect::ViolationEnded { rule_id: 7, ended_at: t(24, 0) }]);
        assert!(tr.observe(true, t(24, 6)).is_empty());
    }
}
