//! The store port the host and service actors need: restore on (re)start and persist
//! status changes. Bulk writes (metrics, checks, logs) go through the shell's
//! group-commit writer, not through here.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{HostId, ServiceId};
use crate::model::{HostRecord, HostStatus, ServiceRecord, ServiceStatus};
use crate::sla::{SlaEffect, SlaRule, Standing, Tz};

/// A service's SLA rule and where it stands in the rule's current window.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaSnapshot {
    pub rule: SlaRule,
    pub tz: Tz,
    pub standing: Standing,
}

/// A store operation failed (connection lost, timeout); the caller may retry.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store error: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait ActorStore: Send + Sync + 'static {
    /// The host as stored, `None` when it was deleted.
    async fn load_host(&self, id: HostId) -> Result<Option<HostRecord>, StoreError>;

    /// Persists a status transition and when it happened.
    async fn set_host_status(
        &self,
        id: HostId,
        status: HostStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records the last heartbeat; batched and best effort (called at most once a
    /// minute per host), so it never blocks the actor.
    fn record_last_seen(&self, id: HostId, at: DateTime<Utc>);

    /// Records the latest disk partitions (JSON); batched and best effort.
    fn record_partitions(&self, id: HostId, json: std::sync::Arc<str>);

    /// The service as stored, `None` when it was deleted.
    async fn load_service(&self, id: ServiceId) -> Result<Option<ServiceRecord>, StoreError>;

    /// Stores the result of a server-side probe as a check row.
    async fn record_check(
        &self,
        id: ServiceId,
        status: ServiceStatus,
        response_time_ms: Option<f64>,
        status_code: Option<i64>,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Persists a service status transition with the error that caused it, if any.
    async fn set_service_status(
        &self,
        id: ServiceId,
        status: ServiceStatus,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The service's SLA rule and its standing at `now` (downtime so far in the
    /// window, current down span, open violation); `None` when it has no rule.
    async fn sla_snapshot(
        &self,
        id: ServiceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SlaSnapshot>, StoreError>;

    /// Records a violation starting or ending.
    async fn record_sla(
        &self,
        id: ServiceId,
        effect: &SlaEffect,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
