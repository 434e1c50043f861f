//! The service state machine: up/down from check results, and down when checks stop
//! arriving for three intervals while the host is online (a silent service must never
//! look healthy). Pure: transitions take `now` and return effects.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::model::{ServiceRecord, ServiceStatus};

/// Missing this many intervals' worth of checks marks the service down.
pub const MISSED_INTERVALS: i64 = 3;

/// What the actor must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEffect {
    /// Persist the new status (with the error that caused it) and emit it.
    StatusChanged { status: ServiceStatus, error: Option<String>, at: DateTime<Utc> },
    /// Send `DeadlinePassed { generation }` to self after `after`.
    ScheduleDeadline { after: std::time::Duration, generation: u64 },
}

#[derive(Debug, Clone)]
pub struct ServiceState {
    pub name: Arc<str>,
    pub status: ServiceStatus,
    pub last_check: Option<DateTime<Utc>>,
    window_start: DateTime<Utc>,
    interval_secs: u64,
    generation: u64,
    deadline_pending: bool,
}

impl ServiceState {
    pub fn restore(record: &ServiceRecord, now: DateTime<Utc>) -> (Self, Vec<ServiceEffect>) {
        let mut s = ServiceState {
            name: Arc::from(record.name.as_str()),
            status: record.status,
            last_check: None,
            window_start: now,
            interval_secs: record.check_interval_secs.max(1),
            generation: 0,
            deadline_pending: false,
        };
        let effects = s.schedule(now);
        (s, effects)
    }

    fn window(&self) -> Duration {
        Duration::seconds(self.interval_secs as i64 * MISSED_INTERVALS)
    }

    fn due(&self) -> DateTime<Utc> {
        let base = self.last_check.map_or(self.window_start, |c| c.max(self.window_start));
        base + self.window()
    }

    fn schedule(&mut self, now: DateTime<Utc>) -> Vec<ServiceEffect> {
        self.generation += 1;
        self.deadline_pending = true;
        let after = (self.due() - now).to_std().unwrap_or_default();
        vec![ServiceEffect::ScheduleDeadline { after, generation: self.generation }]
    }

    /// A check result arrived (`Unknown` is treated as no information and ignored).
    pub fn on_check(
        &mut self,
        status: ServiceStatus,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Vec<ServiceEffect> {
        let mut effects = Vec::new();
        if status == ServiceStatus::Unknown {
            return effects;
        }
        self.last_check = Some(now);
        if status != self.status {
            self.status = status;
            let error = if status == ServiceStatus::Down { error } else { None };
            effects.push(ServiceEffect::StatusChanged { status, error, at: now });
        }
        if !self.deadline_pending {
            effects.extend(self.schedule(now));
        }
        effects
    }

    /// The check deadline fired. Stale generations are ignored; an early firing
    /// re-arms; while the host is offline the service is not judged (a fresh window
    /// starts), since its agent cannot report.
    pub fn on_deadline(
        &mut self,
        generation: u64,
        now: DateTime<Utc>,
        host_online: bool,
    ) -> Vec<ServiceEffect> {
        if generation != self.generation {
            return Vec::new();
        }
        self.deadline_pending = false;
        if now < self.due() {
            return self.schedule(now);
        }
        if !host_online {
            self.window_start = now;
            return self.schedule(now);
        }
        if self.status == ServiceStatus::Down {
            return Vec::new();
        }
        self.status = ServiceStatus::Down;
        let silent = self.window().num_seconds();
        vec![ServiceEffect::StatusChanged {
            status: ServiceStatus::Down,
            error: Some(format!("no check result for {silent} s")),
            at: now,
        }]
    }

    /// The service was re-registered with another interval.
    pub fn apply_interval(&mut self, interval_secs: u64, now: DateTime<Utc>) -> Vec<ServiceEffect> {
        if interval_secs.max(1) == self.interval_secs {
            return Vec::new();
        }
        self.interval_secs = interval_secs.max(1);
        self.schedule(now)
    }
}
