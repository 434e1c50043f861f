//! Operations reports: their periods, and the scheduler actor that generates the daily
//! report after midnight and the weekly report on Monday in the configured time zone.
//!
//! Exactly once: a scheduled period is *claimed* in the store (its (type, start) is
//! unique), and only the claimer generates it. The scheduler claims whatever period is
//! the latest complete one at every tick, so a period missed while Warden was down is
//! generated when it comes back; a claim whose generation died with the process is
//! taken over once it is stale.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::settings::RuntimeSettings;
use crate::sla::{local_midnight, Tz};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Daily,
    Weekly,
}

impl ReportKind {
    pub fn parse(s: &str) -> Option<ReportKind> {
        match s {
            "daily" => Some(ReportKind::Daily),
            "weekly" => Some(ReportKind::Weekly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Daily => "daily",
            ReportKind::Weekly => "weekly",
        }
    }

    /// The period a report of this kind covers when none is given: yesterday, or the
    /// last 7 days (both ending at today's local midnight).
    pub fn default_period(self, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = now.with_timezone(&tz).date_naive();
        let days = match self {
            ReportKind::Daily => 1,
            ReportKind::Weekly => 7,
        };
        (local_midnight(today - Duration::days(days), tz), local_midnight(today, tz))
    }

    /// The latest complete period the scheduler owes: yesterday, or last week
    /// (Monday to Monday).
    pub fn due_period(self, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let today = now.with_timezone(&tz).date_naive();
        match self {
            ReportKind::Daily => self.default_period(now, tz),
            ReportKind::Weekly => {
                let monday =
                    today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                (local_midnight(monday - Duration::days(7), tz), local_midnight(monday, tz))
            }
        }
    }
}

/// The periods due at `now` under the settings.
pub fn due(
    now: DateTime<Utc>,
    s: &RuntimeSettings,
) -> Vec<(ReportKind, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    for (kind, on) in
        [(ReportKind::Daily, s.daily_report_enabled), (ReportKind::Weekly, s.weekly_report_enabled)]
    {
        if on {
            let (start, end) = kind.due_period(now, s.report_timezone);
            out.push((kind, start, end));
        }
    }
    out
}

/// What the scheduler needs from the shell.
#[async_trait]
pub trait ReportPort: Send + Sync + 'static {
    /// Claims a scheduled period; the new report's id, or `None` when it was claimed
    /// before (by this node or another, now or before a restart).
    async fn claim(
        &self,
        kind: ReportKind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        tz: Tz,
    ) -> Result<Option<i64>, String>;

    /// Scheduled reports whose generation was claimed but never finished and is stale
    /// (the process died); each returned id is claimed again for the caller.
    async fn take_over_stale(&self) -> Result<Vec<i64>, String>;

    /// Builds a claimed report, stores it and announces it.
    async fn generate(&self, id: i64) -> Result<(), String>;
}

pub struct ReportScheduler;

pub struct SchedulerArgs {
    pub port: Arc<dyn ReportPort>,
    pub clock: Arc<dyn Clock>,
    pub settings: watch::Receiver<RuntimeSettings>,
    pub every: StdDuration,
    /// Off: the actor exists (so shutdown is uniform) but never claims.
    pub enabled: bool,
}

pub struct SchedulerState {
    port: Arc<dyn ReportPort>,
    clock: Arc<dyn Clock>,
    settings: watch::Receiver<RuntimeSettings>,
}

#[derive(Debug)]
pub enum SchedulerMsg {
    /// Claim what is due.
    Tick,
    /// Generate claimed reports, one after the other.
    Generate(Vec<i64>),
}

impl SchedulerState {
    /// Claims every due period and stale claim; the ids this scheduler now owns.
    async fn claim_due(&self) -> Vec<i64> {
        let settings = self.settings.borrow().clone();
        let mut ids = Vec::new();
        for (kind, start, end) in due(self.clock.now(), &settings) {
            match self.port.claim(kind, start, end, settings.report_timezone).await {
                Ok(Some(id)) => {
                    tracing::info!(report_id = id, kind = kind.as_str(), %start, "report period claimed");
                    ids.push(id);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(kind = kind.as_str(), error = %e, "could not claim a report period")
                }
            }
        }
        match self.port.take_over_stale().await {
            Ok(stale) => ids.extend(stale),
            Err(e) => tracing::error!(error = %e, "could not look for unfinished reports"),
        }
        ids
    }
}

impl Actor for ReportScheduler {
    type Msg = SchedulerMsg;
    type State = SchedulerState;
    type Arguments = SchedulerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SchedulerMsg>,
        args: SchedulerArgs,
    ) -> Result<SchedulerState, ActorProcessingErr> {
        let st = SchedulerState { port: args.port, clock: args.clock, settings: args.settings };
        if !args.enabled {
            return Ok(st);
        }
        // Claims happen before start-up completes; generating happens in the mailbox.
        let ids = st.claim_due().await;
        if !ids.is_empty() {
            myself.cast(SchedulerMsg::Generate(ids))?;
        }
        drop(myself.send_interval(args.every, || SchedulerMsg::Tick));
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<SchedulerMsg>,
        msg: SchedulerMsg,
        st: &mut SchedulerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SchedulerMsg::Tick => {
                let ids = st.claim_due().await;
                if !ids.is_empty() {
                    myself.cast(SchedulerMsg::Generate(ids))?;
                }
            }
            SchedulerMsg::Generate(ids) => {
                for id in ids {
                    if let Err(e) = st.port.generate(id).await {
                        tracing::error!(report_id = id, error = %e, "report generation failed");
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeZone;

    use super::*;
    use crate::clock::ManualClock;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn periods_are_local_days_and_weeks() {
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        // 2026-11-23 is a Monday; 01:00 UTC is 09:00 in Shanghai.
        let now = at(2026, 11, 23, 1);
        assert_eq!(
            ReportKind::Daily.due_period(now, shanghai),
            (at(2026, 11, 21, 16), at(2026, 11, 22, 16))
        );
        assert_eq!(
            ReportKind::Weekly.due_period(now, shanghai),
            (at(2026, 11, 15, 16), at(2026, 11, 22, 16))
        );
        // Sunday evening: last week is still the one before.
        let sunday = at(2026, 11, 22, 12);
        assert_eq!(
            ReportKind::Weekly.due_period(sunday, Tz::UTC),
            (at(2026, 11, 9, 0), at(2026, 11, 16, 0))
        );
        assert_eq!(
            ReportKind::Weekly.default_period(sunday, Tz::UTC),
            (at(2026, 11, 15, 0), at(2026, 11, 22, 0))
        );
        let mut s = RuntimeSettings { report_timezone: Tz::UTC, ..RuntimeSettings::default() };
        assert_eq!(due(now, &s).len(), 2);
        s.weekly_report_enabled = false;
        assert_eq!(
            due(now, &s),
            vec![(ReportKind::Daily, at(2026, 11, 22, 0), at(2026, 11, 23, 0))]
        );
    }

    /// Claims once per (kind, start), like the store's unique index.
    #[derive(Default)]
    struct MemPort {
        claimed: Mutex<Vec<(ReportKind, DateTime<Utc>)>>,
        generated: Mutex<Vec<i64>>,
    }

    #[async_trait]
    impl ReportPort for MemPort {
        async fn claim(
            &self,
            kind: ReportKind,
            start: DateTime<Utc>,
            _end: DateTime<Utc>,
            _tz: Tz,
        ) -> Result<Option<i64>, String> {
            let mut c = self.claimed.lock().unwrap();
            if c.contains(&(kind, start)) {
                return Ok(None);
            }
            c.push((kind, start));
            Ok(Some(c.len() as i64))
        }
        async fn take_over_stale(&self) -> Result<Vec<i64>, String> {
            Ok(Vec::new())
        }
        async fn generate(&self, id: i64) -> Result<(), String> {
            self.generated.lock().unwrap().push(id);
            Ok(())
        }
    }

    async fn generated(port: &MemPort, n: usize) -> Vec<i64> {
        for _ in 0..200 {
            if port.generated.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
        port.generated.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn each_period_is_generated_once_across_restarts_and_the_next_day_adds_one() {
        let port = Arc::new(MemPort::default());
        let clock = Arc::new(ManualClock::new(at(2026, 11, 23, 1)));
        let settings = RuntimeSettings { report_timezone: Tz::UTC, ..RuntimeSettings::default() };
        let (_tx, rx) = watch::channel(settings);
        let start = |port: Arc<MemPort>,
                     clock: Arc<ManualClock>,
                     rx: watch::Receiver<RuntimeSettings>| async move {
            let args = SchedulerArgs {
                port,
                clock,
                settings: rx,
                every: StdDuration::from_secs(3600),
                enabled: true,
            };
            Actor::spawn(None, ReportScheduler, args).await.unwrap()
        };
        let (a, ha) = start(Arc::clone(&port), Arc::clone(&clock), rx.clone()).await;
        assert_eq!(port.claimed.lock().unwrap().len(), 2, "daily and weekly claimed at start");
        assert_eq!(generated(&port, 2).await, vec![1, 2]);
        a.stop(None);
        ha.await.unwrap();
        // A restart the same day claims nothing new.
        let (b, hb) = start(Arc::clone(&port), Arc::clone(&clock), rx.clone()).await;
        assert_eq!(port.claimed.lock().unwrap().len(), 2);
        // The next day owes one more daily report.
        clock.set(at(2026, 11, 24, 0) + Duration::minutes(5));
        b.cast(SchedulerMsg::Tick).unwrap();
        assert_eq!(generated(&port, 3).await, vec![1, 2, 3]);
        assert_eq!(port.claimed.lock().unwrap()[2], (ReportKind::Daily, at(2026, 11, 23, 0)));
        b.stop(None);
        hb.await.unwrap();
    }
}
