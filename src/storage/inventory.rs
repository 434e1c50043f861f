//! Inventory: servers, service groups, the services each server runs in a group, and
//! the nginx upstreams each server declares.
//!
//! A server is linked to the agent-registered host with the same hostname at read time
//! (a join, not a stored id), so a host that registers after the server was created,
//! or a server renamed to match a host, links without any extra step.

use chrono::{DateTime, Utc};

use super::{is_unique_violation, page_bounds, with_pool, BeginWrite, Db, Page};

/// Inserts a server's upstreams inside the caller's transaction.
macro_rules! insert_upstreams {
    ($tx:ident, $server_id:expr, $ups:expr, $now:expr) => {
        for u in $ups {
            sqlx::query(
                "INSERT INTO nginx_upstreams (server_id, upstream_name, backend_address, weight, status, parsed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind($server_id)
            .bind(&u.upstream_name)
            .bind(&u.backend_address)
            .bind(u.weight)
            .bind(&u.status)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// A server with its link to a host and its service summary.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServerRow {
    pub id: i64,
    pub hostname: String,
    pub ip_address: Option<String>,
    pub label: Option<String>,
    pub os: Option<String>,
    pub tags: Option<String>,
    /// The linked host's status when there is one, else the stored status.
    pub status: String,
    /// The status stored for the server itself.
    pub stored_status: String,
    pub last_seen: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub host_id: Option<i64>,
    pub service_count: i64,
    pub cpu_avg: Option<f64>,
    pub mem_avg: Option<f64>,
}

const SERVER_SELECT: &str = "SELECT s.id, s.hostname, s.ip_address, s.label, s.os, s.tags, \
    COALESCE(h.status, s.status) AS status, s.status AS stored_status, COALESCE(h.last_heartbeat, s.last_seen) AS last_seen, \
    s.created_at, s.updated_at, h.id AS host_id, \
    (SELECT COUNT(*) FROM server_services ss WHERE ss.server_id = s.id) AS service_count, \
    (SELECT AVG(ss.cpu_percent) FROM server_services ss WHERE ss.server_id = s.id) AS cpu_avg, \
    (SELECT AVG(ss.mem_mb) FROM server_services ss WHERE ss.server_id = s.id) AS mem_avg \
    FROM servers s LEFT JOIN hosts h ON h.hostname = s.hostname";

/// The fields of a server that create and update set.
#[derive(Debug, Clone)]
pub struct ServerFields {
    pub hostname: String,
    pub ip_address: Option<String>,
    pub label: Option<String>,
    pub os: Option<String>,
    pub tags: Option<String>,
    pub status: String,
}

/// One nginx upstream backend as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UpstreamRow {
    pub id: i64,
    pub server_id: i64,
    pub upstream_name: String,
    pub backend_address: String,
    pub weight: i64,
    pub status: String,
    pub parsed_at: DateTime<Utc>,
}

/// An upstream backend to store.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFields {
    pub upstream_name: String,
    pub backend_address: String,
    pub weight: i64,
    pub status: String,
}

/// A service group with how many distinct servers run it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub server_count: i64,
}

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.category, g.description, g.color, g.created_at, g.updated_at, \
    (SELECT COUNT(DISTINCT ss.server_id) FROM server_services ss WHERE ss.group_id = g.id) AS server_count \
    FROM service_groups g";

#[derive(Debug, Clone)]
pub struct GroupFields {
    pub name: String,
    pub category: String,
    pub description: Option<String>,
    pub color: Option<String>,
}

/// One service instance: a group's service running on a server, with the names of both.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub id: i64,
    pub server_id: i64,
    pub group_id: i64,
    pub port: Option<i64>,
    pub pid: Option<i64>,
    pub status: String,
    pub cpu_percent: f64,
    pub mem_mb: f64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub group_name: String,
    pub group_category: String,
    pub hostname: String,
    pub ip_address: Option<String>,
    pub server_status: String,
}

const MEMBER_SELECT: &str = "SELECT ss.id, ss.server_id, ss.group_id, ss.port, ss.pid, ss.status, \
    ss.cpu_percent, ss.mem_mb, ss.created_at, ss.updated_at, g.name AS group_name, \
    g.category AS group_category, s.hostname, s.ip_address, COALESCE(h.status, s.status) AS server_status \
    FROM server_services ss JOIN service_groups g ON g.id = ss.group_id \
    JOIN servers s ON s.id = ss.server_id LEFT JOIN hosts h ON h.hostname = s.hostname";

#[derive(Debug, Clone)]
pub struct MemberFields {
    pub server_id: i64,
    pub port: Option<i64>,
    pub pid: Option<i64>,
    pub status: String,
    pub cpu_percent: f64,
    pub mem_mb: f64,
}

/// Why a write was refused.
#[derive(Debug)]
pub enum InventoryError {
    /// A unique value (hostname, group name, membership) is taken.
    Duplicate,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for InventoryError {
    fn from(e: sqlx::Error) -> Self {
        if is_unique_violation(&e) {
            InventoryError::Duplicate
        } else {
            InventoryError::Db(e)
        }
    }
}

impl Db {
    /// Servers, newest first, optionally filtered by (effective) status and by a search
    /// over hostname, label and IP address.
    pub async fn list_servers(
        &self,
        status: Option<&str>,
        search: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Page<ServerRow>, sqlx::Error> {
        let filter = "WHERE ($1 = '' OR COALESCE(h.status, s.status) = $1) AND ($2 = '' OR \
            LOWER(s.hostname) LIKE $2 OR LOWER(COALESCE(s.label, '')) LIKE $2 OR LOWER(COALESCE(s.ip_address, '')) LIKE $2)";
        let pattern = search.map_or(String::new(), |s| format!("%{}%", s.to_lowercase()));
        let status = status.unwrap_or("");
        let (offset, limit) = page_bounds(page, page_size);
        let count_sql = format!(
            "SELECT COUNT(*) FROM servers s LEFT JOIN hosts h ON h.hostname = s.hostname {filter}"
        );
        let sql = format!("{SERVER_SELECT} {filter} ORDER BY s.id DESC LIMIT $3 OFFSET $4");
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar(&count_sql).bind(status).bind(&pattern).fetch_one(pool).await?;
            let items = sqlx::query_as(&sql).bind(status).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    /// Every server, oldest first (topology views).
    pub async fn all_servers(&self) -> Result<Vec<ServerRow>, sqlx::Error> {
        let sql = format!("{SERVER_SELECT} ORDER BY s.id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn server_by_id(&self, id: i64) -> Result<Option<ServerRow>, sqlx::Error> {
        let sql = format!("{SERVER_SELECT} WHERE s.id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    /// Creates a server and, when given, its upstreams, in one transaction.
    pub async fn create_server(
        &self,
        f: &ServerFields,
        upstreams: Option<&[UpstreamFields]>,
        now: DateTime<Utc>,
    ) -> Result<i64, InventoryError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO servers (hostname, ip_address, label, os, tags, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id")
                .bind(&f.hostname).bind(&f.ip_address).bind(&f.label).bind(&f.os).bind(&f.tags)
                .bind(&f.status).bind(now).fetch_one(&mut *tx).await?;
            if let Some(ups) = upstreams {
                insert_upstreams!(tx, id, ups, now);
            }
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Replaces a server's fields and, when given, its upstreams; `Ok(false)` when the
    /// server does not exist.
    pub async fn update_server(
        &self,
        id: i64,
        f: &ServerFields,
        upstreams: Option<&[UpstreamFields]>,
        now: DateTime<Utc>,
    ) -> Result<bool, InventoryError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE servers SET hostname = $2, ip_address = $3, label = $4, os = $5, tags = $6, \
                 status = $7, updated_at = $8 WHERE id = $1")
                .bind(id).bind(&f.hostname).bind(&f.ip_address).bind(&f.label).bind(&f.os).bind(&f.tags)
                .bind(&f.status).bind(now).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            if let Some(ups) = upstreams {
                sqlx::query("DELETE FROM nginx_upstreams WHERE server_id = $1").bind(id).execute(&mut *tx).await?;
                insert_upstreams!(tx, id, ups, now);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Deletes a server (its services and upstreams go with it); the hostname it had.
    pub async fn delete_server(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar("DELETE FROM servers WHERE id = $1 RETURNING hostname")
            .bind(id).fetch_optional(pool).await)
    }

    /// The server for an agent's host: found by hostname, or created from the host's
    /// identity the first time the agent reports something server-scoped.
    pub async fn server_for_host(
        &self,
        hostname: &str,
        ip_address: Option<&str>,
        os: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO servers (hostname, ip_address, os, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'online', $4, $4) ON CONFLICT (hostname) DO NOTHING")
                .bind(hostname).bind(ip_address).bind(os).bind(now).execute(pool).await?;
            sqlx::query_scalar("SELECT id FROM servers WHERE hostname = $1").bind(hostname).fetch_one(pool).await
        })
    }

    /// Replaces every upstream of a server in one transaction.
    pub async fn replace_upstreams(
        &self,
        server_id: i64,
        upstreams: &[UpstreamFields],
        now: DateTime<Utc>,
    ) -> Result<(), InventoryError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM nginx_upstreams WHERE server_id = $1").bind(server_id).execute(&mut *tx).await?;
            insert_upstreams!(tx, server_id, upstreams, now);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Upstreams of one server, or of every server when `None`.
    pub async fn upstreams(&self, server_id: Option<i64>) -> Result<Vec<UpstreamRow>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT id, server_id, upstream_name, backend_address, weight, status, parsed_at FROM nginx_upstreams \
             WHERE $1 < 0 OR server_id = $1 ORDER BY server_id, upstream_name, id")
            .bind(server_id.unwrap_or(-1)).fetch_all(pool).await)
    }

    // ------------------------------------------------------------ service groups

    pub async fn list_groups(
        &self,
        category: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Page<GroupRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let category = category.unwrap_or("");
        let sql = format!(
            "{GROUP_SELECT} WHERE ($1 = '' OR g.category = $1) ORDER BY g.id LIMIT $2 OFFSET $3"
        );
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM service_groups WHERE ($1 = '' OR category = $1)")
                .bind(category).fetch_one(pool).await?;
            let items = sqlx::query_as(&sql).bind(category).bind(limit).bind(offset).fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    pub async fn all_groups(&self) -> Result<Vec<GroupRow>, sqlx::Error> {
        let sql = format!("{GROUP_SELECT} ORDER BY g.id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn group_by_id(&self, id: i64) -> Result<Option<GroupRow>, sqlx::Error> {
        let sql = format!("{GROUP_SELECT} WHERE g.id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn create_group(
        &self,
        f: &GroupFields,
        now: DateTime<Utc>,
    ) -> Result<i64, InventoryError> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO service_groups (name, category, description, color, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id")
            .bind(&f.name).bind(&f.category).bind(&f.description).bind(&f.color).bind(now)
            .fetch_one(pool).await)?)
    }

    /// `Ok(false)` when the group does not exist.
    pub async fn update_group(
        &self,
        id: i64,
        f: &GroupFields,
        now: DateTime<Utc>,
    ) -> Result<bool, InventoryError> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE service_groups SET name = $2, category = $3, description = $4, color = $5, updated_at = $6 WHERE id = $1")
            .bind(id).bind(&f.name).bind(&f.category).bind(&f.description).bind(&f.color).bind(now)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Deletes a group (its memberships go with it); the name it had.
    pub async fn delete_group(&self, id: i64) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar("DELETE FROM service_groups WHERE id = $1 RETURNING name")
            .bind(id).fetch_optional(pool).await)
    }

    /// Service instances of a server (`by_server`) or of a group, oldest first.
    pub async fn members(
        &self,
        server_id: Option<i64>,
        group_id: Option<i64>,
    ) -> Result<Vec<MemberRow>, sqlx::Error> {
        let sql = format!(
            "{MEMBER_SELECT} WHERE ($1 < 0 OR ss.server_id = $1) AND ($2 < 0 OR ss.group_id = $2) ORDER BY ss.id"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(server_id.unwrap_or(-1)).bind(group_id.unwrap_or(-1)).fetch_all(pool).await)
    }

    pub async fn member_by_id(&self, id: i64) -> Result<Option<MemberRow>, sqlx::Error> {
        let sql = format!("{MEMBER_SELECT} WHERE ss.id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn add_member(
        &self,
        group_id: i64,
        f: &MemberFields,
        now: DateTime<Utc>,
    ) -> Result<i64, InventoryError> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO server_services (server_id, group_id, port, pid, status, cpu_percent, mem_mb, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id")
            .bind(f.server_id).bind(group_id).bind(f.port).bind(f.pid).bind(&f.status)
            .bind(f.cpu_percent).bind(f.mem_mb).bind(now).fetch_one(pool).await)?)
    }

    /// Removes every instance of a group on a server; how many there were.
    pub async fn remove_member(&self, group_id: i64, server_id: i64) -> Result<u64, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM server_services WHERE group_id = $1 AND server_id = $2")
            .bind(group_id).bind(server_id).execute(pool).await.map(|r| r.rows_affected()))
    }
}
