//! Hosts: registration (idempotent by hostname), status, reads, and their metrics
//! history with SQL-side time bucketing.

use chrono::{DateTime, Utc};
use warden_actors::ids::HostId;
use warden_actors::model::{HostRecord, HostStatus};

use super::{page_bounds, with_pool, Db, Page};

/// What an agent registers.
#[derive(Debug, Clone, Default)]
pub struct HostRegistration {
    pub hostname: String,
    pub display_name: Option<String>,
    pub ip_address: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub arch: Option<String>,
    pub cpu_cores: Option<i64>,
    pub memory_total_mb: Option<i64>,
    pub agent_version: Option<String>,
    /// JSON text (a list or an object, as the agent sent it).
    pub tags: Option<String>,
    pub group_name: Option<String>,
    /// JSON text.
    pub network_info: Option<String>,
}

/// A stored host.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostRow {
    pub id: i64,
    pub hostname: String,
    pub display_name: Option<String>,
    pub ip_address: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub arch: Option<String>,
    pub cpu_cores: Option<i64>,
    pub memory_total_mb: Option<i64>,
    pub agent_version: Option<String>,
    pub tags: Option<String>,
    pub group_name: Option<String>,
    pub network_info: Option<String>,
    pub disk_partitions: Option<String>,
    pub status: String,
    pub agent_token_id: Option<i64>,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl HostRow {
    pub fn record(&self) -> HostRecord {
        HostRecord {
            id: HostId(self.id),
            hostname: self.hostname.clone(),
            status: self.status.parse().unwrap_or(HostStatus::Offline),
            last_heartbeat: self.last_heartbeat,
            group_name: self.group_name.clone(),
            tags: tag_names(self.tags.as_deref()),
        }
    }
}

/// Tag names from stored tags: list items, or the keys of an object (`{"web": true}`).
pub fn tag_names(json: Option<&str>) -> Vec<String> {
    match json.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()) {
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        Some(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

const COLUMNS: &str = "id, hostname, display_name, ip_address, private_ip, public_ip, os, os_version, \
     arch, cpu_cores, memory_total_mb, agent_version, tags, group_name, network_info, disk_partitions, \
     status, agent_token_id, last_heartbeat, created_at, updated_at";

/// Host list filters.
#[derive(Debug, Clone, Default)]
pub struct HostFilter {
    pub status: Option<String>,
    pub group_name: Option<String>,
    pub search: Option<String>,
}

/// Escapes LIKE wildcards so user input matches literally (with `ESCAPE '\'`).
pub fn like_pattern(s: &str) -> String {
    let escaped = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// One point of a host's metrics history (raw or averaged over a bucket).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct MetricPoint {
    pub recorded_at: DateTime<Utc>,
    pub cpu_percent: Option<f64>,
    pub cpu_load_1: Option<f64>,
    pub cpu_load_5: Option<f64>,
    pub cpu_load_15: Option<f64>,
    pub memory_used_mb: Option<f64>,
    pub memory_percent: Option<f64>,
    pub disk_used_mb: Option<f64>,
    pub disk_total_mb: Option<f64>,
    pub disk_percent: Option<f64>,
    pub net_bytes_sent: Option<f64>,
    pub net_bytes_recv: Option<f64>,
    pub net_send_rate_kb: Option<f64>,
    pub net_recv_rate_kb: Option<f64>,
    pub net_packet_loss_rate: Option<f64>,
}

/// The metric columns of `host_metrics` that history queries return (the host
/// metrics rules may watch).
const METRIC_FIELDS: &[&str] = warden_actors::rule::HOST_METRICS;

/// Raw points returned at most (newest kept).
pub const RAW_POINTS_MAX: i64 = 10_000;

impl Db {
    /// Registers or updates a host by hostname; returns the row and whether it was new.
    pub async fn register_host(
        &self,
        reg: &HostRegistration,
        token_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(HostRow, bool), sqlx::Error> {
        let existing: Option<i64> = with_pool!(self, pool =>
            sqlx::query_scalar("SELECT id FROM hosts WHERE hostname = $1").bind(&reg.hostname).fetch_optional(pool).await)?;
        // New hosts start offline: the heartbeat that follows registration brings them
        // online through their actor, which emits the event.
        let sql = format!(
            "INSERT INTO hosts (hostname, display_name, ip_address, private_ip, public_ip, os, os_version, arch, \
             cpu_cores, memory_total_mb, agent_version, tags, group_name, network_info, status, agent_token_id, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'offline', $15, $16, $16) \
             ON CONFLICT (hostname) DO UPDATE SET \
             display_name = COALESCE(excluded.display_name, hosts.display_name), \
             ip_address = COALESCE(excluded.ip_address, hosts.ip_address), \
             private_ip = COALESCE(excluded.private_ip, hosts.private_ip), \
             public_ip = COALESCE(excluded.public_ip, hosts.public_ip), \
             os = COALESCE(excluded.os, hosts.os), os_version = COALESCE(excluded.os_version, hosts.os_version), \
             arch = COALESCE(excluded.arch, hosts.arch), cpu_cores = COALESCE(excluded.cpu_cores, hosts.cpu_cores), \
             memory_total_mb = COALESCE(excluded.memory_total_mb, hosts.memory_total_mb), \
             agent_version = COALESCE(excluded.agent_version, hosts.agent_version), \
             tags = COALESCE(excluded.tags, hosts.tags), group_name = COALESCE(excluded.group_name, hosts.group_name), \
             network_info = COALESCE(excluded.network_info, hosts.network_info), \
             agent_token_id = excluded.agent_token_id, updated_at = excluded.updated_at \
             RETURNING {COLUMNS}"
        );
        let row: HostRow = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&reg.hostname)
            .bind(&reg.display_name)
            .bind(&reg.ip_address)
            .bind(&reg.private_ip)
            .bind(&reg.public_ip)
            .bind(&reg.os)
            .bind(&reg.os_version)
            .bind(&reg.arch)
            .bind(reg.cpu_cores)
            .bind(reg.memory_total_mb)
            .bind(&reg.agent_version)
            .bind(&reg.tags)
            .bind(&reg.group_name)
            .bind(&reg.network_info)
            .bind(token_id)
            .bind(now)
            .fetch_one(pool)
            .await)?;
        Ok((row, existing.is_none()))
    }

    pub async fn host_by_id(&self, id: i64) -> Result<Option<HostRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM hosts WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    /// The hosts with these ids (missing ones are skipped).
    pub async fn hosts_by_ids(&self, ids: &[i64]) -> Result<Vec<HostRow>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT {COLUMNS} FROM hosts WHERE id IN ({list})");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    /// Every host with its owning token, for spawning actors at start-up.
    pub async fn all_hosts(&self) -> Result<Vec<HostRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM hosts ORDER BY id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn list_hosts(
        &self,
        f: &HostFilter,
        page: u32,
        page_size: u32,
    ) -> Result<Page<HostRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let filter = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR group_name = $2) AND ($3 IS NULL OR \
                      LOWER(hostname) LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(display_name, '')) LIKE $3 ESCAPE '\\' \
                      OR LOWER(COALESCE(ip_address, '')) LIKE $3 ESCAPE '\\')";
        let search = f.search.as_deref().map(like_pattern);
        let count_sql = format!("SELECT COUNT(*) FROM hosts WHERE {filter}");
        let list_sql =
            format!("SELECT {COLUMNS} FROM hosts WHERE {filter} ORDER BY id LIMIT $4 OFFSET $5");
        with_pool!(self, pool => {
            let total = sqlx::query_scalar(&count_sql)
                .bind(&f.status).bind(&f.group_name).bind(&search)
                .fetch_one(pool).await?;
            let items = sqlx::query_as(&list_sql)
                .bind(&f.status).bind(&f.group_name).bind(&search).bind(limit).bind(offset)
                .fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    pub async fn set_host_status(
        &self,
        id: i64,
        status: HostStatus,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE hosts SET status = $2, status_changed_at = $3, \
             last_heartbeat = CASE WHEN $2 = 'online' AND (last_heartbeat IS NULL OR last_heartbeat < $3) \
             THEN $3 ELSE last_heartbeat END WHERE id = $1")
            .bind(id).bind(status.as_str()).bind(at).execute(pool).await.map(|_| ()))
    }

    /// The host's metrics since `since`: raw points (newest [`RAW_POINTS_MAX`]) when
    /// `bucket_secs` is `None`, otherwise averages per bucket, computed in SQL.
    pub async fn host_metrics(
        &self,
        host_id: i64,
        since: DateTime<Utc>,
        bucket_secs: Option<i64>,
    ) -> Result<Vec<MetricPoint>, sqlx::Error> {
        let cols = METRIC_FIELDS.join(", ");
        match bucket_secs {
            None => {
                let sql = format!(
                    "SELECT * FROM (SELECT recorded_at, {cols} FROM host_metrics WHERE host_id = $1 \
                     AND recorded_at >= $2 ORDER BY recorded_at DESC LIMIT {RAW_POINTS_MAX}) t ORDER BY recorded_at"
                );
                with_pool!(self, pool => sqlx::query_as(&sql).bind(host_id).bind(since).fetch_all(pool).await)
            }
            Some(bucket) => {
                let avgs: Vec<String> =
                    METRIC_FIELDS.iter().map(|c| format!("AVG({c}) AS {c}")).collect();
                let avgs = avgs.join(", ");
                match self {
                    Db::Sqlite(pool) => {
                        let sql = format!(
                            "SELECT (CAST(strftime('%s', recorded_at) AS INTEGER) / $3) * $3 AS bucket, {avgs} \
                             FROM host_metrics WHERE host_id = $1 AND recorded_at >= $2 GROUP BY bucket ORDER BY bucket"
                        );
                        let rows: Vec<BucketRow> = sqlx::query_as(&sql)
                            .bind(host_id)
                            .bind(since)
                            .bind(bucket)
                            .fetch_all(pool)
                            .await?;
                        Ok(rows.into_iter().map(BucketRow::point).collect())
                    }
                    Db::Postgres(pool) => {
                        let sql = format!(
                            "SELECT (FLOOR(EXTRACT(EPOCH FROM recorded_at) / $3) * $3)::BIGINT AS bucket, {avgs} \
                             FROM host_metrics WHERE host_id = $1 AND recorded_at >= $2 GROUP BY 1 ORDER BY 1"
                        );
                        let rows: Vec<BucketRow> = sqlx::query_as(&sql)
                            .bind(host_id)
                            .bind(since)
                            .bind(bucket as f64)
                            .fetch_all(pool)
                            .await?;
                        Ok(rows.into_iter().map(BucketRow::point).collect())
                    }
                }
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct BucketRow {
    bucket: i64,
    cpu_percent: Option<f64>,
    cpu_load_1: Option<f64>,
    cpu_load_5: Option<f64>,
    cpu_load_15: Option<f64>,
    memory_used_mb: Option<f64>,
    memory_percent: Option<f64>,
    disk_used_mb: Option<f64>,
    disk_total_mb: Option<f64>,
    disk_percent: Option<f64>,
    net_bytes_sent: Option<f64>,
    net_bytes_recv: Option<f64>,
    net_send_rate_kb: Option<f64>,
    net_recv_rate_kb: Option<f64>,
    net_packet_loss_rate: Option<f64>,
}

impl BucketRow {
    fn point(self) -> MetricPoint {
        MetricPoint {
            recorded_at: DateTime::from_timestamp(self.bucket, 0).unwrap_or_default(),
            cpu_percent: self.cpu_percent,
            cpu_load_1: self.cpu_load_1,
            cpu_load_5: self.cpu_load_5,
            cpu_load_15: self.cpu_load_15,
            memory_used_mb: self.memory_used_mb,
            memory_percent: self.memory_percent,
            disk_used_mb: self.disk_used_mb,
            disk_total_mb: self.disk_total_mb,
            disk_percent: self.disk_percent,
            net_bytes_sent: self.net_bytes_sent,
            net_bytes_recv: self.net_bytes_recv,
            net_send_rate_kb: self.net_send_rate_kb,
            net_recv_rate_kb: self.net_recv_rate_kb,
            net_packet_loss_rate: self.net_packet_loss_rate,
        }
    }
}
