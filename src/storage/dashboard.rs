//! Read-side aggregates for the dashboard, and retention.

use chrono::{DateTime, Utc};

use super::{with_pool, Db};

/// Levels counted as errors on the dashboard.
pub const ERROR_LEVELS: &str = "('ERROR','CRITICAL','FATAL')";

/// One hourly bucket of averages.
#[derive(Debug, Clone, Default)]
pub struct HourAverages {
    pub hour: i64,
    pub avg_cpu: Option<f64>,
    pub avg_mem: Option<f64>,
}

/// Tables with time-series rows and their time column, for retention.
const RETAINED: [(&str, &str); 4] = [
    ("host_metrics", "recorded_at"),
    ("service_checks", "checked_at"),
    ("db_metrics", "recorded_at"),
    ("logs", "timestamp"),
];

impl Db {
    /// Host counts by stored status: (total, online).
    pub async fn host_counts(&self) -> Result<(i64, i64), sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'online' THEN 1 ELSE 0 END), 0) FROM hosts")
            .fetch_one(pool).await)
    }

    /// Error-level log lines since `since`.
    pub async fn error_log_count(&self, since: DateTime<Utc>) -> Result<i64, sqlx::Error> {
        let sql =
            format!("SELECT COUNT(*) FROM logs WHERE timestamp >= $1 AND level IN {ERROR_LEVELS}");
        with_pool!(self, pool => sqlx::query_scalar(&sql).bind(since).fetch_one(pool).await)
    }

    /// Hourly CPU/memory averages since `since` (hours as Unix seconds).
    pub async fn hourly_usage(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<HourAverages>, sqlx::Error> {
        let rows: Vec<(i64, Option<f64>, Option<f64>)> = match self {
            Db::Sqlite(pool) => sqlx::query_as(
                "SELECT (CAST(strftime('%s', recorded_at) AS INTEGER) / 3600) * 3600 AS h, AVG(cpu_percent), \
                 AVG(memory_percent) FROM host_metrics WHERE recorded_at >= $1 GROUP BY h")
                .bind(since).fetch_all(pool).await?,
            Db::Postgres(pool) => sqlx::query_as(
                "SELECT (FLOOR(EXTRACT(EPOCH FROM recorded_at) / 3600) * 3600)::BIGINT AS h, AVG(cpu_percent), \
                 AVG(memory_percent) FROM host_metrics WHERE recorded_at >= $1 GROUP BY 1")
                .bind(since).fetch_all(pool).await?,
        };
        Ok(rows
            .into_iter()
            .map(|(hour, avg_cpu, avg_mem)| HourAverages { hour, avg_cpu, avg_mem })
            .collect())
    }

    /// Hourly error-log counts since `since`.
    pub async fn hourly_errors(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => sqlx::query_as(&format!(
                "SELECT (CAST(strftime('%s', timestamp) AS INTEGER) / 3600) * 3600 AS h, COUNT(*) FROM logs \
                 WHERE timestamp >= $1 AND level IN {ERROR_LEVELS} GROUP BY h"))
                .bind(since).fetch_all(pool).await,
            Db::Postgres(pool) => sqlx::query_as(&format!(
                "SELECT (FLOOR(EXTRACT(EPOCH FROM timestamp) / 3600) * 3600)::BIGINT AS h, COUNT(*) FROM logs \
                 WHERE timestamp >= $1 AND level IN {ERROR_LEVELS} GROUP BY 1"))
                .bind(since).fetch_all(pool).await,
        }
    }

    /// Deletes time-series rows older than `cutoff`, in chunks so writers are never
    /// blocked for long. Returns the number of rows deleted.
    pub async fn delete_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let mut total = 0;
        for (table, column) in RETAINED {
            let sql = format!(
                "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < $1 LIMIT 5000)"
            );
            loop {
                let n = with_pool!(self, pool => sqlx::query(&sql).bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))?;
                total += n;
                if n < 5000 {
                    break;
                }
            }
        }
        Ok(total)
    }
}
