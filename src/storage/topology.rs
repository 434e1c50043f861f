//! Service topology: custom dependencies between services, and each user's saved node
//! positions per layout name.

use chrono::{DateTime, Utc};

use super::{is_unique_violation, with_pool, BeginWrite, Db};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DependencyRow {
    pub id: i64,
    pub source_service_id: i64,
    pub target_service_id: i64,
    pub dependency_type: String,
    pub description: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

const DEPENDENCY_COLUMNS: &str =
    "id, source_service_id, target_service_id, dependency_type, description, created_by, created_at";

#[derive(Debug, Clone)]
pub struct DependencyFields {
    pub source_service_id: i64,
    pub target_service_id: i64,
    pub dependency_type: String,
    pub description: Option<String>,
}

/// A monitored service as the topology graph shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TopologyServiceRow {
    pub id: i64,
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub target: String,
    pub status: String,
    pub host_id: i64,
    pub hostname: String,
    pub ip_address: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
}

impl Db {
    /// Every monitored service with its host's names and addresses, oldest first.
    pub async fn topology_services(&self) -> Result<Vec<TopologyServiceRow>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT s.id, s.name, s.type, s.target, s.status, s.host_id, h.hostname, h.ip_address, \
             h.private_ip, h.public_ip FROM services s JOIN hosts h ON h.id = s.host_id ORDER BY s.id")
            .fetch_all(pool).await)
    }

    pub async fn list_dependencies(&self) -> Result<Vec<DependencyRow>, sqlx::Error> {
        let sql = format!("SELECT {DEPENDENCY_COLUMNS} FROM service_dependencies ORDER BY id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    /// Creates a dependency; `Ok(None)` when the pair already has one.
    pub async fn create_dependency(
        &self,
        f: &DependencyFields,
        created_by: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<DependencyRow>, sqlx::Error> {
        let sql = format!(
            "INSERT INTO service_dependencies (source_service_id, target_service_id, dependency_type, description, \
             created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {DEPENDENCY_COLUMNS}"
        );
        let result = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(f.source_service_id).bind(f.target_service_id).bind(&f.dependency_type)
            .bind(&f.description).bind(created_by).bind(now).fetch_one(pool).await);
        match result {
            Err(e) if is_unique_violation(&e) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Creates every dependency whose pair has none yet, in one transaction; how many
    /// were created.
    pub async fn create_dependencies(
        &self,
        deps: &[DependencyFields],
        created_by: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut created = 0;
            for f in deps {
                created += sqlx::query(
                    "INSERT INTO service_dependencies (source_service_id, target_service_id, dependency_type, \
                     description, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (source_service_id, target_service_id) DO NOTHING")
                    .bind(f.source_service_id).bind(f.target_service_id).bind(&f.dependency_type)
                    .bind(&f.description).bind(created_by).bind(now)
                    .execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok(created)
        })
    }

    pub async fn delete_dependency(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM service_dependencies WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() > 0))
    }

    /// Deletes every custom dependency; how many there were.
    pub async fn clear_dependencies(&self) -> Result<u64, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM service_dependencies")
            .execute(pool).await.map(|r| r.rows_affected()))
    }

    /// The ids of every monitored service.
    pub async fn service_ids(&self) -> Result<std::collections::HashSet<i64>, sqlx::Error> {
        let ids: Vec<i64> = with_pool!(self, pool => sqlx::query_scalar("SELECT id FROM services")
            .fetch_all(pool).await)?;
        Ok(ids.into_iter().collect())
    }

    /// A user's saved positions for a layout (JSON text).
    pub async fn layout(&self, user_id: i64, name: &str) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "SELECT positions FROM topology_layouts WHERE user_id = $1 AND name = $2")
            .bind(user_id).bind(name).fetch_optional(pool).await)
    }

    pub async fn save_layout(
        &self,
        user_id: i64,
        name: &str,
        positions: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO topology_layouts (user_id, name, positions, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (user_id, name) DO UPDATE SET positions = excluded.positions, updated_at = excluded.updated_at")
            .bind(user_id).bind(name).bind(positions).bind(now).execute(pool).await.map(|_| ()))
    }

    /// Forgets a user's layout; whether there was one.
    pub async fn delete_layout(&self, user_id: i64, name: &str) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM topology_layouts WHERE user_id = $1 AND name = $2")
            .bind(user_id).bind(name).execute(pool).await.map(|r| r.rows_affected() > 0))
    }
}
