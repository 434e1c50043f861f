//! Knowledge base entries and the environment context.

use chrono::{DateTime, Utc};

use super::{page_bounds, with_pool, Db, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnowledgeRow {
    pub id: i64,
    pub title: String,
    pub content: String,
    pub category: String,
    /// JSON list of strings.
    pub tags: String,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct KnowledgeFields {
    pub title: String,
    pub content: String,
    pub category: String,
    pub tags: Vec<String>,
}

const COLUMNS: &str = "id, title, content, category, tags, created_by, created_at, updated_at";

impl Db {
    pub async fn list_knowledge(
        &self,
        category: Option<&str>,
        search: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Page<KnowledgeRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let like = search.map(|s| format!("%{}%", s.to_lowercase()));
        let filter = "WHERE ($1 IS NULL OR category = $1) AND ($2 IS NULL OR LOWER(title) LIKE $2 \
             OR LOWER(content) LIKE $2 OR LOWER(tags) LIKE $2)";
        let count_sql = format!("SELECT COUNT(*) FROM knowledge_entries {filter}");
        let sql = format!(
            "SELECT {COLUMNS} FROM knowledge_entries {filter} ORDER BY updated_at DESC, id DESC LIMIT $3 OFFSET $4"
        );
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar(&count_sql).bind(category).bind(&like).fetch_one(pool).await?;
            let items = sqlx::query_as(&sql).bind(category).bind(&like).bind(limit).bind(offset)
                .fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    pub async fn knowledge(&self, id: i64) -> Result<Option<KnowledgeRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM knowledge_entries WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn create_knowledge(
        &self,
        f: &KnowledgeFields,
        by: i64,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeRow, sqlx::Error> {
        let sql = format!(
            "INSERT INTO knowledge_entries (title, content, category, tags, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
        );
        let tags = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&f.title).bind(&f.content).bind(&f.category).bind(tags).bind(by).bind(now)
            .fetch_one(pool).await)
    }

    pub async fn update_knowledge(
        &self,
        id: i64,
        f: &KnowledgeFields,
        now: DateTime<Utc>,
    ) -> Result<Option<KnowledgeRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE knowledge_entries SET title = $2, content = $3, category = $4, tags = $5, updated_at = $6 \
             WHERE id = $1 RETURNING {COLUMNS}"
        );
        let tags = serde_json::to_string(&f.tags).unwrap_or_else(|_| "[]".into());
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).bind(&f.title).bind(&f.content).bind(&f.category).bind(tags).bind(now)
            .fetch_optional(pool).await)
    }

    pub async fn delete_knowledge(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM knowledge_entries WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() > 0))
    }

    /// The stored environment context document, if any was saved.
    pub async fn environment_context(
        &self,
    ) -> Result<Option<(String, DateTime<Utc>)>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as("SELECT data, updated_at FROM environment_context WHERE id = 1")
            .fetch_optional(pool).await)
    }

    pub async fn save_environment_context(
        &self,
        data: &str,
        by: i64,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO environment_context (id, data, updated_by, updated_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at")
            .bind(data).bind(by).bind(now).execute(pool).await.map(|_| ()))
    }
}

/// Usage of one plugin from its recorded calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginUsage {
    pub calls: i64,
    pub avg_duration_secs: Option<f64>,
    pub success_rate: Option<f64>,
}

impl Db {
    /// Records one plugin call (diagnosis writes these as it calls tools).
    pub async fn record_plugin_call(
        &self,
        plugin: &str,
        incident_id: Option<&str>,
        duration_ms: i64,
        success: bool,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO plugin_calls (plugin, incident_id, duration_ms, success, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(plugin).bind(incident_id).bind(duration_ms).bind(success).bind(at)
            .execute(pool).await.map(|_| ()))
    }

    /// Usage per plugin name, from the recorded calls.
    pub async fn plugin_usage(
        &self,
    ) -> Result<std::collections::HashMap<String, PluginUsage>, sqlx::Error> {
        let rows: Vec<(String, i64, Option<f64>, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT plugin, COUNT(*), AVG(CAST(duration_ms AS DOUBLE PRECISION)), \
             SUM(CASE WHEN success THEN 1 ELSE 0 END) FROM plugin_calls GROUP BY plugin")
            .fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(name, calls, avg_ms, ok)| {
                let usage = PluginUsage {
                    calls,
                    avg_duration_secs: avg_ms.map(|ms| (ms / 10.0).round() / 100.0),
                    success_rate: (calls > 0)
                        .then(|| (ok as f64 / calls as f64 * 100.0).round() / 100.0),
                };
                (name, usage)
            })
            .collect())
    }
}
