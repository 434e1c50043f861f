//! Monitored services and their check history.

use chrono::{DateTime, Utc};
use warden_actors::ids::{HostId, ServiceId};
use warden_actors::model::{ServiceRecord, ServiceStatus};

use super::{page_bounds, with_pool, Db, Page};

/// A stored service.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServiceRow {
    pub id: i64,
    pub host_id: i64,
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub target: String,
    pub check_interval: i64,
    pub timeout: i64,
    pub category: String,
    pub status: String,
    pub last_error: Option<String>,
    pub status_changed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ServiceRow {
    pub fn record(&self) -> ServiceRecord {
        ServiceRecord {
            id: ServiceId(self.id),
            host_id: HostId(self.host_id),
            name: self.name.clone(),
            check_interval_secs: self.check_interval.max(1) as u64,
            status: self.status.parse().unwrap_or(ServiceStatus::Unknown),
            kind: self.kind.clone(),
            target: self.target.clone(),
            timeout_secs: self.timeout.max(1) as u64,
        }
    }
}

const COLUMNS: &str =
    "id, host_id, name, type, target, check_interval, timeout, category, status, \
                       last_error, status_changed_at, created_at, updated_at";

/// What an agent registers.
#[derive(Debug, Clone)]
pub struct ServiceRegistration {
    pub host_id: i64,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub check_interval: i64,
    pub timeout: i64,
    pub category: String,
}

/// A stored check result.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct CheckRow {
    pub id: i64,
    pub service_id: i64,
    pub status: String,
    pub response_time_ms: Option<f64>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub checked_at: DateTime<Utc>,
}

/// Service list filters.
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub status: Option<String>,
    pub category: Option<String>,
    pub host_id: Option<i64>,
}

/// Counts over all services (ignoring paging and filters), for the list's `stats`.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ServiceStats {
    pub total: i64,
    pub healthy: i64,
    pub unhealthy: i64,
    pub middleware: i64,
    pub business: i64,
    pub infrastructure: i64,
}

impl Db {
    /// Registers or updates a service by (host, name); returns the row and whether it
    /// was new.
    pub async fn register_service(
        &self,
        reg: &ServiceRegistration,
        now: DateTime<Utc>,
    ) -> Result<(ServiceRow, bool), sqlx::Error> {
        let existing: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM services WHERE host_id = $1 AND name = $2")
            .bind(reg.host_id).bind(&reg.name).fetch_optional(pool).await)?;
        let sql = format!(
            "INSERT INTO services (host_id, name, type, target, check_interval, timeout, category, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'unknown', $8, $8) \
             ON CONFLICT (host_id, name) DO UPDATE SET type = excluded.type, target = excluded.target, \
             check_interval = excluded.check_interval, timeout = excluded.timeout, category = excluded.category, \
             updated_at = excluded.updated_at RETURNING {COLUMNS}"
        );
        let row = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(reg.host_id).bind(&reg.name).bind(&reg.kind).bind(&reg.target)
            .bind(reg.check_interval).bind(reg.timeout).bind(&reg.category).bind(now)
            .fetch_one(pool).await)?;
        Ok((row, existing.is_none()))
    }

    pub async fn service_by_id(&self, id: i64) -> Result<Option<ServiceRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn all_services(&self) -> Result<Vec<ServiceRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM services ORDER BY id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn set_service_status(
        &self,
        id: i64,
        status: ServiceStatus,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE services SET status = $2, last_error = $3, status_changed_at = $4 WHERE id = $1")
            .bind(id).bind(status.as_str()).bind(error).bind(at).execute(pool).await.map(|_| ()))
    }

    pub async fn list_services(
        &self,
        f: &ServiceFilter,
        page: u32,
        page_size: u32,
    ) -> Result<Page<ServiceRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let filter = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR category = $2) AND ($3 IS NULL OR host_id = $3)";
        let count_sql = format!("SELECT COUNT(*) FROM services WHERE {filter}");
        let list_sql = format!(
            "SELECT {COLUMNS} FROM services WHERE {filter} ORDER BY host_id, id LIMIT $4 OFFSET $5"
        );
        with_pool!(self, pool => {
            let total = sqlx::query_scalar(&count_sql)
                .bind(&f.status).bind(&f.category).bind(f.host_id).fetch_one(pool).await?;
            let items = sqlx::query_as(&list_sql)
                .bind(&f.status).bind(&f.category).bind(f.host_id).bind(limit).bind(offset)
                .fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    pub async fn service_stats(&self) -> Result<ServiceStats, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN status = 'up' THEN 1 ELSE 0 END), 0) AS healthy, \
             COALESCE(SUM(CASE WHEN status = 'down' THEN 1 ELSE 0 END), 0) AS unhealthy, \
             COALESCE(SUM(CASE WHEN category = 'middleware' THEN 1 ELSE 0 END), 0) AS middleware, \
             COALESCE(SUM(CASE WHEN category = 'business' THEN 1 ELSE 0 END), 0) AS business, \
             COALESCE(SUM(CASE WHEN category = 'infrastructure' THEN 1 ELSE 0 END), 0) AS infrastructure \
             FROM services").fetch_one(pool).await)
    }

    /// Percentage of `up` checks since `since` per service (services without checks
    /// are absent).
    pub async fn uptime_percent(
        &self,
        ids: &[i64],
        since: DateTime<Utc>,
    ) -> Result<Vec<(i64, f64)>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT service_id, 100.0 * SUM(CASE WHEN status = 'up' THEN 1 ELSE 0 END) / COUNT(*) AS pct \
             FROM service_checks WHERE service_id IN ({list}) AND checked_at >= $1 GROUP BY service_id"
        );
        let rows: Vec<(i64, f64)> = match self {
            Db::Sqlite(pool) => sqlx::query_as(&sql).bind(since).fetch_all(pool).await?,
            Db::Postgres(pool) => {
                let sql = sql.replace("AS pct", "::DOUBLE PRECISION AS pct");
                sqlx::query_as(&sql).bind(since).fetch_all(pool).await?
            }
        };
        Ok(rows)
    }

    pub async fn service_checks(
        &self,
        service_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<CheckRow>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT id, service_id, status, response_time_ms, status_code, error, checked_at FROM service_checks \
             WHERE service_id = $1 AND checked_at >= $2 ORDER BY checked_at DESC LIMIT 10000")
            .bind(service_id).bind(since).fetch_all(pool).await)
    }
}
