//! AI insights: stored analyses (logs, root cause) and their review status.

use chrono::{DateTime, Utc};

use super::{page_bounds, with_pool, Db, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InsightRow {
    pub id: i64,
    pub insight_type: String,
    pub severity: String,
    pub title: String,
    pub summary: String,
    pub details: String,
    pub engine: String,
    pub status: String,
    pub related_host_id: Option<i64>,
    pub related_alert_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, insight_type, severity, title, summary, details, engine, status, related_host_id, \
    related_alert_id, created_by, created_at, updated_at";

/// An insight to store.
#[derive(Debug, Clone)]
pub struct NewInsight<'a> {
    pub insight_type: &'a str,
    pub severity: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub details: &'a serde_json::Value,
    pub engine: &'a str,
    pub related_host_id: Option<i64>,
    pub related_alert_id: Option<i64>,
    pub created_by: Option<i64>,
}

impl Db {
    pub async fn create_insight(
        &self,
        i: &NewInsight<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO ai_insights (insight_type, severity, title, summary, details, engine, related_host_id, \
             related_alert_id, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             RETURNING id")
            .bind(i.insight_type).bind(i.severity).bind(i.title).bind(i.summary).bind(i.details.to_string())
            .bind(i.engine).bind(i.related_host_id).bind(i.related_alert_id).bind(i.created_by).bind(now)
            .fetch_one(pool).await)
    }

    /// Insights, newest first, optionally filtered by severity and status.
    pub async fn list_insights(
        &self,
        severity: Option<&str>,
        status: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Page<InsightRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let filter = "WHERE ($1 = '' OR severity = $1) AND ($2 = '' OR status = $2)";
        let sql = format!("SELECT {COLUMNS} FROM ai_insights {filter} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4");
        let count_sql = format!("SELECT COUNT(*) FROM ai_insights {filter}");
        let (severity, status) = (severity.unwrap_or(""), status.unwrap_or(""));
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar(&count_sql).bind(severity).bind(status).fetch_one(pool).await?;
            let items = sqlx::query_as(&sql).bind(severity).bind(status).bind(limit).bind(offset).fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    /// Sets an insight's review status; the updated row, `None` when it does not exist.
    pub async fn set_insight_status(
        &self,
        id: i64,
        status: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<InsightRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE ai_insights SET status = $2, updated_at = $3 WHERE id = $1 RETURNING {COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(status).bind(now).fetch_optional(pool).await)
    }
}
