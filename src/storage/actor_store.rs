//! The [`ActorStore`] port over [`Db`] and the writer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_actors::ids::{HostId, ServiceId};
use warden_actors::model::{HostRecord, HostStatus, ServiceRecord, ServiceStatus};
use warden_actors::ports::{ActorStore, SlaSnapshot, StoreError};
use warden_actors::sla::{SlaEffect, SlaRule, Standing, Window};

use super::writer::{NewCheck, Writer};
use super::Db;

/// What the host and service actors persist through.
pub struct DbActorStore {
    pub db: Db,
    pub writer: Writer,
}

fn err(e: sqlx::Error) -> StoreError {
    StoreError(e.to_string())
}

#[async_trait]
impl ActorStore for DbActorStore {
    async fn load_host(&self, id: HostId) -> Result<Option<HostRecord>, StoreError> {
        Ok(self.db.host_by_id(id.0).await.map_err(err)?.map(|h| h.record()))
    }

    async fn set_host_status(
        &self,
        id: HostId,
        status: HostStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db.set_host_status(id.0, status, at).await.map_err(err)
    }

    fn record_last_seen(&self, id: HostId, at: DateTime<Utc>) {
        self.writer.last_seen(id.0, at);
    }

    fn record_partitions(&self, id: HostId, json: std::sync::Arc<str>) {
        self.writer.partitions(id.0, json);
    }

    async fn load_service(&self, id: ServiceId) -> Result<Option<ServiceRecord>, StoreError> {
        Ok(self.db.service_by_id(id.0).await.map_err(err)?.map(|s| s.record()))
    }

    async fn record_check(
        &self,
        id: ServiceId,
        status: ServiceStatus,
        response_time_ms: Option<f64>,
        status_code: Option<i64>,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let check = NewCheck {
            service_id: id.0,
            status: status.as_str().to_string(),
            response_time_ms,
            status_code,
            error: error.map(str::to_string),
            checked_at: at,
        };
        self.writer.check(check).await.map(|_| ()).map_err(|e| StoreError(e.to_string()))
    }

    async fn set_service_status(
        &self,
        id: ServiceId,
        status: ServiceStatus,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db.set_service_status(id.0, status, error, at).await.map_err(err)
    }

    async fn sla_snapshot(
        &self,
        id: ServiceId,
        now: DateTime<Utc>,
    ) -> Result<Option<SlaSnapshot>, StoreError> {
        let Some(rule) = self.db.sla_rule_for_service(id.0).await.map_err(err)? else {
            return Ok(None);
        };
        let Some(window) = Window::parse(&rule.calculation_window) else { return Ok(None) };
        let tz = self.db.report_timezone().await.map_err(err)?;
        let (start, end) = window.bounds(now, tz);
        let (prior, checks) = self.db.checks_between(id.0, start, now).await.map_err(err)?;
        // Closed down spans so far, and the open one (a down state carried in from
        // before the window counts from the window's start).
        let mut closed = 0.0;
        let mut down_since = (prior == Some(false)).then_some(start);
        for c in &checks {
            match (c.up, down_since) {
                (true, Some(since)) => {
                    closed += (c.at - since).num_milliseconds().max(0) as f64 / 1000.0;
                    down_since = None;
                }
                (false, None) => down_since = Some(c.at),
                _ => {}
            }
        }
        let open_violation = self.db.open_violation_start(rule.id).await.map_err(err)?;
        Ok(Some(SlaSnapshot {
            rule: SlaRule { id: rule.id, target_percent: rule.target_percent, window },
            tz,
            standing: Standing {
                window_start: start,
                window_end: end,
                closed_down_secs: closed,
                down_since,
                open_violation,
            },
        }))
    }

    async fn record_sla(
        &self,
        id: ServiceId,
        effect: &SlaEffect,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match effect {
            SlaEffect::ViolationStarted { rule_id, started_at, .. } => self
                .db
                .open_violation(*rule_id, id.0, *started_at, description, now)
                .await
                .map_err(err),
            SlaEffect::ViolationEnded { rule_id, ended_at } => {
                self.db.close_violation(*rule_id, *ended_at).await.map_err(err)
            }
        }
    }
}
