//! The [`ActorStore`] port over [`Db`] and the writer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_actors::ids::{HostId, ServiceId};
use warden_actors::model::{HostRecord, HostStatus, ServiceRecord, ServiceStatus};
use warden_actors::ports::{ActorStore, StoreError};

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
}
