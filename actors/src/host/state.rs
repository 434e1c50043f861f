//! The host state machine: online/offline from heartbeats and a deadline. Pure: every
//! transition takes `now` and returns the effects the actor must carry out.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::model::{HostRecord, HostStatus};

/// `last_heartbeat` is persisted at most this often while a host stays online.
pub const LAST_SEEN_EVERY: Duration = Duration::seconds(60);

/// What the actor must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEffect {
    /// Persist the new status and emit it as an event.
    StatusChanged { status: HostStatus, at: DateTime<Utc> },
    /// Send `DeadlinePassed { generation }` to self after `after`.
    ScheduleDeadline { after: std::time::Duration, generation: u64 },
    /// Persist the last heartbeat time (batched, best effort).
    PersistLastSeen(DateTime<Utc>),
}

/// The state of one host.
#[derive(Debug, Clone)]
pub struct HostState {
    pub hostname: Arc<str>,
    pub status: HostStatus,
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// The start of the current silence window: the last heartbeat, or when the actor
    /// (re)started if later, so a restart gives an online host a full window.
    window_start: DateTime<Utc>,
    last_persisted: Option<DateTime<Utc>>,
    timeout: Duration,
    generation: u64,
    deadline_pending: bool,
}

impl HostState {
    /// Rebuilds the state from the store at `now`, with the deadline timer to start.
    pub fn restore(
        record: &HostRecord,
        timeout: Duration,
        now: DateTime<Utc>,
    ) -> (Self, Vec<HostEffect>) {
        let mut s = HostState {
            hostname: Arc::from(record.hostname.as_str()),
            status: record.status,
            last_heartbeat: record.last_heartbeat,
            window_start: now,
            last_persisted: record.last_heartbeat,
            timeout,
            generation: 0,
            deadline_pending: false,
        };
        let effects = if s.status == HostStatus::Online { s.schedule(now) } else { Vec::new() };
        (s, effects)
    }

    fn due(&self) -> DateTime<Utc> {
        let base = self.last_heartbeat.map_or(self.window_start, |hb| hb.max(self.window_start));
        base + self.timeout
    }

    fn schedule(&mut self, now: DateTime<Utc>) -> Vec<HostEffect> {
        self.generation += 1;
        self.deadline_pending = true;
        let after = (self.due() - now).to_std().unwrap_or_default();
        vec![HostEffect::ScheduleDeadline { after, generation: self.generation }]
    }

    /// A heartbeat (or any report) arrived.
    pub fn on_heartbeat(&mut self, now: DateTime<Utc>) -> Vec<HostEffect> {
        let mut effects = Vec::new();
        self.last_heartbeat = Some(now);
        if self.status != HostStatus::Online {
            self.status = HostStatus::Online;
            effects.push(HostEffect::StatusChanged { status: HostStatus::Online, at: now });
        }
        if !self.deadline_pending {
            effects.extend(self.schedule(now));
        }
        if self.last_persisted.is_none_or(|t| now - t >= LAST_SEEN_EVERY) {
            self.last_persisted = Some(now);
            effects.push(HostEffect::PersistLastSeen(now));
        }
        effects
    }

    /// The deadline timer fired. A stale generation is ignored; an early firing (a
    /// heartbeat arrived since it was set) re-arms it for the rest of the window.
    pub fn on_deadline(&mut self, generation: u64, now: DateTime<Utc>) -> Vec<HostEffect> {
        if generation != self.generation {
            return Vec::new();
        }
        self.deadline_pending = false;
        if self.status != HostStatus::Online {
            return Vec::new();
        }
        if now >= self.due() {
            self.status = HostStatus::Offline;
            vec![HostEffect::StatusChanged { status: HostStatus::Offline, at: now }]
        } else {
            self.schedule(now)
        }
    }

    /// The `heartbeat_timeout` setting changed: re-arm with the new window.
    pub fn apply_timeout(&mut self, timeout: Duration, now: DateTime<Utc>) -> Vec<HostEffect> {
        self.timeout = timeout;
        if self.status == HostStatus::Online {
            self.schedule(now)
        } else {
            self.generation += 1;
            self.deadline_pending = false;
            Vec::new()
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}
