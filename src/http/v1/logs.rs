//! Log search and statistics (seed 000 §Logs).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::extract::{AppQuery, AuthUser, PageQuery};
use crate::http::state::AppState;
use crate::storage::logs::LogFilter;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Full-text (substring) search in the message.
    pub q: Option<String>,
    pub host_id: Option<i64>,
    pub service: Option<String>,
    /// Comma-separated levels, e.g. `ERROR,WARN`.
    pub level: Option<String>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    /// `1h` (default) or `1d`; stats only.
    pub period: Option<String>,
}

impl LogsQuery {
    fn filter(&self) -> Result<LogFilter, ApiError> {
        let mut levels = Vec::new();
        for l in self
            .level
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let l = l.to_ascii_uppercase();
            if l.len() > 16 || !l.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(ApiError::field(
                    &["query", "level"],
                    "value_error",
                    format!("'{l}' is not a log level"),
                ));
            }
            levels.push(l);
        }
        if let (Some(s), Some(e)) = (self.start_time, self.end_time) {
            if s > e {
                return Err(ApiError::field(
                    &["query", "start_time"],
                    "value_error",
                    "start_time is after end_time",
                ));
            }
        }
        Ok(LogFilter {
            q: self.q.clone().filter(|q| !q.trim().is_empty()),
            host_id: self.host_id,
            service: self.service.clone().filter(|s| !s.is_empty()),
            levels,
            start: self.start_time,
            end: self.end_time,
        })
    }
}

/// Search logs, newest first.
#[utoipa::path(get, path = "/api/v1/logs", tag = "logs", security(("bearer" = [])), params(LogsQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn search(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(50, 200)?;
    let p = state.db.search_logs(&q.filter()?, page, page_size).await?;
    Ok(Json(json!({"items": p.items, "total": p.total, "page": page, "page_size": page_size})))
}

/// Counts by level and by time bucket.
#[utoipa::path(get, path = "/api/v1/logs/stats", tag = "logs", security(("bearer" = [])), params(LogsQuery),
    responses((status = 200, description = "{by_level, by_time}")))]
pub async fn stats(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let bucket = match q.period.as_deref().unwrap_or("1h") {
        "1h" => 3600,
        "1d" => 86_400,
        _ => {
            return Err(ApiError::field(
                &["query", "period"],
                "enum",
                "Input should be '1h' or '1d'",
            ))
        }
    };
    let mut filter = q.filter()?;
    if filter.start.is_none() {
        // Without a range, statistics cover the last 24 hours (7 days for daily buckets).
        let span =
            if bucket == 3600 { chrono::Duration::hours(24) } else { chrono::Duration::days(7) };
        filter.start = Some(state.clock.now() - span);
    }
    let by_level = state.db.log_levels(&filter).await?;
    let by_time = state.db.log_buckets(&filter, bucket).await?;
    Ok(Json(json!({"by_level": by_level, "by_time": by_time})))
}
