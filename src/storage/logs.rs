//! Log search (each backend's own text index) and statistics.

use chrono::{DateTime, Utc};

use super::{page_bounds, with_pool, Db, Page};

/// A stored log line with its host's name.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct LogRow {
    pub id: i64,
    pub host_id: i64,
    pub hostname: Option<String>,
    pub service: Option<String>,
    pub source: Option<String>,
    pub level: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// Log search filters.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub q: Option<String>,
    pub host_id: Option<i64>,
    pub service: Option<String>,
    /// Upper-case levels; empty = any.
    pub levels: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Per-level count.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct LevelCount {
    pub level: String,
    pub count: i64,
}

/// Per-bucket count.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TimeCount {
    pub time_bucket: DateTime<Utc>,
    pub count: i64,
}

impl LogRow {
    /// The line as the AI rules engine reads it.
    pub fn entry(&self) -> warden_actors::ai::logs::LogEntry {
        warden_actors::ai::logs::LogEntry {
            hostname: self.hostname.clone().unwrap_or_else(|| format!("host-{}", self.host_id)),
            service: self.service.clone().unwrap_or_default(),
            level: self.level.clone(),
            message: self.message.clone(),
            timestamp: self.timestamp,
        }
    }
}

impl LogFilter {
    /// ERROR-or-worse lines between two times.
    pub fn errors(start: DateTime<Utc>, end: DateTime<Utc>) -> LogFilter {
        LogFilter {
            levels: ["ERROR", "CRITICAL", "FATAL"].map(String::from).to_vec(),
            start: Some(start),
            end: Some(end),
            ..LogFilter::default()
        }
    }

    /// The WHERE clause and its text parameters for one backend. Numbers and times
    /// are bound; the level list is validated to `[A-Z]+` before it gets here.
    fn clause(&self, db: &Db) -> (String, Option<String>) {
        let mut w = vec![
            "($1 IS NULL OR l.host_id = $1)".to_string(),
            "($2 IS NULL OR l.service = $2)".to_string(),
            "($3 IS NULL OR l.timestamp >= $3)".to_string(),
            "($4 IS NULL OR l.timestamp <= $4)".to_string(),
        ];
        if !self.levels.is_empty() {
            let list = self.levels.iter().map(|l| format!("'{l}'")).collect::<Vec<_>>().join(",");
            w.push(format!("l.level IN ({list})"));
        }
        let mut q_param = None;
        if let Some(q) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            match db {
                // The trigram FTS index answers substring queries of 3+ characters.
                Db::Sqlite(_) if q.chars().count() >= 3 => {
                    w.push("l.id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH $5)".into());
                    q_param = Some(format!("\"{}\"", q.replace('"', "\"\"")));
                }
                _ => {
                    let like = super::hosts::like_pattern(q);
                    let op = if matches!(db, Db::Postgres(_)) { "ILIKE" } else { "LIKE" };
                    w.push(format!("l.message {op} $5 ESCAPE '\\'"));
                    q_param = Some(like);
                }
            }
        } else {
            w.push("($5 IS NULL)".into());
        }
        (w.join(" AND "), q_param)
    }
}

impl Db {
    pub async fn search_logs(
        &self,
        f: &LogFilter,
        page: u32,
        page_size: u32,
    ) -> Result<Page<LogRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let (clause, q) = f.clause(self);
        let count_sql = format!("SELECT COUNT(*) FROM logs l WHERE {clause}");
        let list_sql = format!(
            "SELECT l.id, l.host_id, h.hostname, l.service, l.source, l.level, l.message, l.timestamp \
             FROM logs l LEFT JOIN hosts h ON h.id = l.host_id WHERE {clause} \
             ORDER BY l.timestamp DESC, l.id DESC LIMIT $6 OFFSET $7"
        );
        with_pool!(self, pool => {
            let total = sqlx::query_scalar(&count_sql.replace("LIMIT $6 OFFSET $7", ""))
                .bind(f.host_id).bind(&f.service).bind(f.start).bind(f.end).bind(&q)
                .fetch_one(pool).await?;
            let items = sqlx::query_as(&list_sql)
                .bind(f.host_id).bind(&f.service).bind(f.start).bind(f.end).bind(&q).bind(limit).bind(offset)
                .fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    pub async fn log_levels(&self, f: &LogFilter) -> Result<Vec<LevelCount>, sqlx::Error> {
        let (clause, q) = f.clause(self);
        let sql = format!("SELECT l.level, COUNT(*) AS count FROM logs l WHERE {clause} GROUP BY l.level ORDER BY l.level");
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(f.host_id).bind(&f.service).bind(f.start).bind(f.end).bind(&q).fetch_all(pool).await)
    }

    /// Counts per time bucket of `bucket_secs`, computed in SQL.
    pub async fn log_buckets(
        &self,
        f: &LogFilter,
        bucket_secs: i64,
    ) -> Result<Vec<TimeCount>, sqlx::Error> {
        let (clause, q) = f.clause(self);
        let rows: Vec<(i64, i64)> = match self {
            Db::Sqlite(pool) => {
                let sql = format!(
                    "SELECT (CAST(strftime('%s', l.timestamp) AS INTEGER) / {bucket_secs}) * {bucket_secs} AS b, \
                     COUNT(*) FROM logs l WHERE {clause} GROUP BY b ORDER BY b"
                );
                sqlx::query_as(&sql)
                    .bind(f.host_id)
                    .bind(&f.service)
                    .bind(f.start)
                    .bind(f.end)
                    .bind(&q)
                    .fetch_all(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                let sql = format!(
                    "SELECT (FLOOR(EXTRACT(EPOCH FROM l.timestamp) / {bucket_secs}) * {bucket_secs})::BIGINT AS b, \
                     COUNT(*) FROM logs l WHERE {clause} GROUP BY 1 ORDER BY 1"
                );
                sqlx::query_as(&sql)
                    .bind(f.host_id)
                    .bind(&f.service)
                    .bind(f.start)
                    .bind(f.end)
                    .bind(&q)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(b, count)| TimeCount {
                time_bucket: DateTime::from_timestamp(b, 0).unwrap_or_default(),
                count,
            })
            .collect())
    }
}
