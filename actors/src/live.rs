//! Per-host live view: what the host actor knows that readers (host list, dashboard)
//! need without a round trip through the actor's mailbox. Only the host actor writes
//! it; it outlives actor restarts, so latest metrics survive a crash.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::model::{HostStatus, MetricsSnapshot};

/// The live view of one host.
#[derive(Debug)]
pub struct HostLive {
    status: AtomicU8,
    agent_connected: AtomicBool,
    /// Unix milliseconds of the last heartbeat or report; 0 when none.
    last_seen_ms: AtomicI64,
    metrics: RwLock<Option<Arc<MetricsSnapshot>>>,
    /// The latest `disk_partitions` report, as JSON.
    partitions: RwLock<Option<Arc<str>>>,
}

impl HostLive {
    pub fn new(status: HostStatus, last_seen: Option<DateTime<Utc>>) -> Self {
        let live = HostLive {
            status: AtomicU8::new(0),
            agent_connected: AtomicBool::new(false),
            last_seen_ms: AtomicI64::new(0),
            metrics: RwLock::new(None),
            partitions: RwLock::new(None),
        };
        live.set_status(status);
        if let Some(at) = last_seen {
            live.set_last_seen(at);
        }
        live
    }

    pub fn status(&self) -> HostStatus {
        match self.status.load(Ordering::Relaxed) {
            0 => HostStatus::Online,
            _ => HostStatus::Offline,
        }
    }

    pub fn set_status(&self, status: HostStatus) {
        let v = match status {
            HostStatus::Online => 0,
            HostStatus::Offline => 1,
        };
        self.status.store(v, Ordering::Relaxed);
    }

    pub fn agent_connected(&self) -> bool {
        self.agent_connected.load(Ordering::Relaxed)
    }

    pub fn set_agent_connected(&self, connected: bool) {
        self.agent_connected.store(connected, Ordering::Relaxed);
    }

    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        match self.last_seen_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }

    pub fn set_last_seen(&self, at: DateTime<Utc>) {
        self.last_seen_ms.store(at.timestamp_millis(), Ordering::Relaxed);
    }

    pub fn metrics(&self) -> Option<Arc<MetricsSnapshot>> {
        self.metrics.read().expect("live metrics lock is never poisoned").clone()
    }

    pub fn partitions(&self) -> Option<Arc<str>> {
        self.partitions.read().expect("live partitions lock is never poisoned").clone()
    }

    pub fn set_partitions(&self, json: Arc<str>) {
        *self.partitions.write().expect("live partitions lock is never poisoned") = Some(json);
    }

    pub fn set_metrics(&self, metrics: Arc<MetricsSnapshot>) {
        *self.metrics.write().expect("live metrics lock is never poisoned") = Some(metrics);
    }
}
