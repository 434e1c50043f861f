//! The audit log: who did what to which resource, from where.

use chrono::{DateTime, Utc};

use super::{page_bounds, with_pool, Db, Page};

/// One audit entry to record.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub user_id: Option<i64>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<i64>,
    pub detail: Option<String>,
    pub ip_address: Option<String>,
}

/// A stored audit entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<i64>,
    pub detail: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Filters for listing the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
}

impl Db {
    pub async fn record_audit(
        &self,
        entry: &AuditEntry<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO audit_logs (user_id, action, resource_type, resource_id, detail, ip_address, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.user_id)
        .bind(entry.action)
        .bind(entry.resource_type)
        .bind(entry.resource_id)
        .bind(entry.detail.as_deref())
        .bind(entry.ip_address.as_deref())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// Newest first.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: u32,
        page_size: u32,
    ) -> Result<Page<AuditRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        // NULL parameters switch a filter off, so one statement serves every combination.
        let filter_sql = "($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR action = $2) \
                          AND ($3 IS NULL OR resource_type = $3)";
        let count_sql = format!("SELECT COUNT(*) FROM audit_logs WHERE {filter_sql}");
        let list_sql = format!(
            "SELECT id, user_id, action, resource_type, resource_id, detail, ip_address, created_at \
             FROM audit_logs WHERE {filter_sql} ORDER BY id DESC LIMIT $4 OFFSET $5"
        );
        with_pool!(self, pool => {
            let total = sqlx::query_scalar(&count_sql)
                .bind(filter.user_id)
                .bind(filter.action.as_deref())
                .bind(filter.resource_type.as_deref())
                .fetch_one(pool)
                .await?;
            let items = sqlx::query_as(&list_sql)
                .bind(filter.user_id)
                .bind(filter.action.as_deref())
                .bind(filter.resource_type.as_deref())
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            Ok(Page { items, total })
        })
    }
}
