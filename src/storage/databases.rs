//! Monitored databases (created by agents' reports), their metrics history, and the
//! database targets admins configure for agents to collect from.

use chrono::{DateTime, Utc};

use super::{with_pool, Db};

/// A monitored database.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DatabaseRow {
    pub id: i64,
    pub host_id: i64,
    pub name: String,
    pub db_type: String,
    pub status: String,
    pub slow_queries_detail: Option<String>,
    pub last_metric_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const DB_COLUMNS: &str =
    "id, host_id, name, db_type, status, slow_queries_detail, last_metric_at, created_at, updated_at";

/// One database metrics report.
#[derive(Debug, Clone, Default, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct DbMetricValues {
    pub connections_total: Option<f64>,
    pub connections_active: Option<f64>,
    pub connections_max: Option<f64>,
    pub database_size_mb: Option<f64>,
    pub slow_queries: Option<f64>,
    pub tables_count: Option<f64>,
    pub transactions_committed: Option<f64>,
    pub transactions_rolled_back: Option<f64>,
    pub qps: Option<f64>,
    pub tablespace_used_pct: Option<f64>,
    pub lock_waits: Option<f64>,
    pub deadlocks: Option<f64>,
}

impl DbMetricValues {
    /// Every metric with its name, in [`DB_METRIC_FIELDS`] order.
    pub fn named(&self) -> [(&'static str, Option<f64>); 12] {
        [
            ("connections_total", self.connections_total),
            ("connections_active", self.connections_active),
            ("connections_max", self.connections_max),
            ("database_size_mb", self.database_size_mb),
            ("slow_queries", self.slow_queries),
            ("tables_count", self.tables_count),
            ("transactions_committed", self.transactions_committed),
            ("transactions_rolled_back", self.transactions_rolled_back),
            ("qps", self.qps),
            ("tablespace_used_pct", self.tablespace_used_pct),
            ("lock_waits", self.lock_waits),
            ("deadlocks", self.deadlocks),
        ]
    }
}

/// A stored database metrics row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DbMetricRow {
    pub id: i64,
    pub database_id: i64,
    #[sqlx(flatten)]
    pub values: DbMetricValues,
    pub extra: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

pub const DB_METRIC_FIELDS: [&str; 12] = [
    "connections_total",
    "connections_active",
    "connections_max",
    "database_size_mb",
    "slow_queries",
    "tables_count",
    "transactions_committed",
    "transactions_rolled_back",
    "qps",
    "tablespace_used_pct",
    "lock_waits",
    "deadlocks",
];

/// A database target an agent collects from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DbTargetRow {
    pub id: i64,
    pub host_id: i64,
    pub db_type: String,
    pub db_host: String,
    pub db_port: i64,
    pub db_name: String,
    pub username: String,
    pub password: String,
    pub interval_sec: i64,
    pub connect_timeout_sec: i64,
    pub is_active: bool,
    pub extra_config: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fields of a target as written by an admin.
#[derive(Debug, Clone)]
pub struct DbTargetFields {
    pub host_id: i64,
    pub db_type: String,
    pub db_host: String,
    pub db_port: i64,
    pub db_name: String,
    pub username: String,
    pub password: String,
    pub interval_sec: i64,
    pub connect_timeout_sec: i64,
    pub is_active: bool,
    pub extra_config: Option<String>,
}

const TARGET_COLUMNS: &str =
    "id, host_id, db_type, db_host, db_port, db_name, username, password, interval_sec, \
                              connect_timeout_sec, is_active, extra_config, created_at, updated_at";

impl Db {
    /// Finds or creates the monitored database and records its latest status and slow
    /// queries.
    pub async fn upsert_database(
        &self,
        host_id: i64,
        name: &str,
        db_type: &str,
        status: &str,
        slow_queries_detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<DatabaseRow, sqlx::Error> {
        let sql = format!(
            "INSERT INTO monitored_databases (host_id, name, db_type, status, slow_queries_detail, last_metric_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $6) \
             ON CONFLICT (host_id, name, db_type) DO UPDATE SET status = excluded.status, \
             slow_queries_detail = COALESCE(excluded.slow_queries_detail, monitored_databases.slow_queries_detail), \
             last_metric_at = excluded.last_metric_at, updated_at = excluded.updated_at RETURNING {DB_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(host_id).bind(name).bind(db_type).bind(status).bind(slow_queries_detail).bind(now)
            .fetch_one(pool).await)
    }

    pub async fn list_databases(
        &self,
        host_id: Option<i64>,
    ) -> Result<Vec<DatabaseRow>, sqlx::Error> {
        let sql = format!("SELECT {DB_COLUMNS} FROM monitored_databases WHERE ($1 IS NULL OR host_id = $1) ORDER BY id");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(host_id).fetch_all(pool).await)
    }

    pub async fn database_by_id(&self, id: i64) -> Result<Option<DatabaseRow>, sqlx::Error> {
        let sql = format!("SELECT {DB_COLUMNS} FROM monitored_databases WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    /// The newest metrics row of each of the given databases.
    pub async fn latest_db_metrics(&self, ids: &[i64]) -> Result<Vec<DbMetricRow>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let cols = DB_METRIC_FIELDS.join(", ");
        let sql = format!(
            "SELECT id, database_id, {cols}, extra, recorded_at FROM db_metrics WHERE id IN \
             (SELECT MAX(id) FROM db_metrics WHERE database_id IN ({list}) GROUP BY database_id)"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn db_metrics_since(
        &self,
        database_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<DbMetricRow>, sqlx::Error> {
        let cols = DB_METRIC_FIELDS.join(", ");
        let sql = format!(
            "SELECT * FROM (SELECT id, database_id, {cols}, extra, recorded_at FROM db_metrics \
             WHERE database_id = $1 AND recorded_at >= $2 ORDER BY recorded_at DESC LIMIT 10000) t ORDER BY recorded_at"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(database_id).bind(since).fetch_all(pool).await)
    }

    pub async fn create_db_target(
        &self,
        f: &DbTargetFields,
        now: DateTime<Utc>,
    ) -> Result<DbTargetRow, sqlx::Error> {
        let sql = format!(
            "INSERT INTO db_targets (host_id, db_type, db_host, db_port, db_name, username, password, interval_sec, \
             connect_timeout_sec, is_active, extra_config, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {TARGET_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(f.host_id).bind(&f.db_type).bind(&f.db_host).bind(f.db_port).bind(&f.db_name)
            .bind(&f.username).bind(&f.password).bind(f.interval_sec).bind(f.connect_timeout_sec)
            .bind(f.is_active).bind(&f.extra_config).bind(now)
            .fetch_one(pool).await)
    }

    pub async fn update_db_target(
        &self,
        id: i64,
        f: &DbTargetFields,
        now: DateTime<Utc>,
    ) -> Result<Option<DbTargetRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE db_targets SET host_id = $2, db_type = $3, db_host = $4, db_port = $5, db_name = $6, \
             username = $7, password = $8, interval_sec = $9, connect_timeout_sec = $10, is_active = $11, \
             extra_config = $12, updated_at = $13 WHERE id = $1 RETURNING {TARGET_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).bind(f.host_id).bind(&f.db_type).bind(&f.db_host).bind(f.db_port).bind(&f.db_name)
            .bind(&f.username).bind(&f.password).bind(f.interval_sec).bind(f.connect_timeout_sec)
            .bind(f.is_active).bind(&f.extra_config).bind(now)
            .fetch_optional(pool).await)
    }

    pub async fn db_target_by_id(&self, id: i64) -> Result<Option<DbTargetRow>, sqlx::Error> {
        let sql = format!("SELECT {TARGET_COLUMNS} FROM db_targets WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn delete_db_target(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM db_targets WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() == 1))
    }

    /// Targets, optionally of one host and only active ones.
    pub async fn list_db_targets(
        &self,
        host_id: Option<i64>,
        active_only: bool,
    ) -> Result<Vec<DbTargetRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {TARGET_COLUMNS} FROM db_targets WHERE ($1 IS NULL OR host_id = $1) \
             AND ($2 = FALSE OR is_active = TRUE) ORDER BY id"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(host_id).bind(active_only).fetch_all(pool).await)
    }
}
