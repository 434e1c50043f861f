//! Operations reports (seed 000 §Reports): list, detail, generate on demand, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::report::ReportKind;

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{
    AdminUser, AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser, PageQuery,
};
use crate::http::state::AppState;
use crate::storage::reports::ReportRow;
use crate::storage::stored_json;

const KINDS_MSG: &str = "Input should be 'daily' or 'weekly'";

fn report_json(r: &ReportRow, full: bool) -> Value {
    let mut v = json!({
        "id": r.id, "title": r.title, "report_type": r.report_type, "period_start": r.period_start,
        "period_end": r.period_end, "timezone": r.timezone, "status": r.status, "summary": r.summary,
        "engine": r.engine, "scheduled": r.scheduled, "generated_by": r.generated_by,
        "created_at": r.created_at, "completed_at": r.completed_at,
    });
    if full {
        v["content"] = json!(r.content);
        v["body"] = stored_json(Some(&r.body));
    }
    v
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportsQuery {
    /// daily or weekly
    pub report_type: Option<String>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

/// Reports, newest period first (without their Markdown and data; see the detail).
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", security(("bearer" = [])), params(ReportsQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<ReportsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(20, 100)?;
    let kind = q.report_type.filter(|k| !k.is_empty());
    if kind.as_deref().is_some_and(|k| ReportKind::parse(k).is_none()) {
        return Err(ApiError::field(&["query", "report_type"], "enum", KINDS_MSG));
    }
    let found = state.db.list_reports(kind.as_deref(), page, page_size).await?;
    let items: Vec<Value> = found.items.iter().map(|r| report_json(r, false)).collect();
    Ok(Json(json!({"items": items, "total": found.total, "page": page, "page_size": page_size})))
}

/// One report with its Markdown `content` and structured `body`.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "report"), (status = 404, description = "报告不存在")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let r = state.db.report(id).await?.ok_or_else(|| ApiError::not_found("报告不存在"))?;
    Ok(Json(report_json(&r, true)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerateIn {
    /// daily or weekly (default daily)
    pub report_type: Option<String>,
    /// With `period_end`; default yesterday (daily) or the last 7 days (weekly) in the
    /// `report_timezone` setting.
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
}

/// Build a report now from the period's data; answers the finished report.
#[utoipa::path(post, path = "/api/v1/reports/generate", tag = "reports", security(("bearer" = [])), request_body = GenerateIn,
    responses((status = 200, description = "report"), (status = 422, description = "bad type or period")))]
pub async fn generate(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<GenerateIn>,
) -> Result<Json<Value>, ApiError> {
    let kind = match body.report_type.as_deref() {
        None => ReportKind::Daily,
        Some(k) => ReportKind::parse(k)
            .ok_or_else(|| ApiError::field(&["body", "report_type"], "enum", KINDS_MSG))?,
    };
    let tz = state.runtime_settings().report_timezone;
    let (start, end) = match (body.period_start, body.period_end) {
        (None, None) => kind.default_period(state.clock.now(), tz),
        (Some(s), Some(e)) => (s, e),
        (Some(_), None) => {
            return Err(ApiError::field(
                &["body", "period_end"],
                "missing",
                "period_end is required with period_start",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::field(
                &["body", "period_start"],
                "missing",
                "period_start is required with period_end",
            ))
        }
    };
    if end <= start {
        return Err(ApiError::field(
            &["body", "period_end"],
            "value_error",
            "period_end must be after period_start",
        ));
    }
    if (end - start).num_days() > 366 {
        return Err(ApiError::field(
            &["body", "period_end"],
            "value_error",
            "a report may span at most 366 days",
        ));
    }
    let id = state.reports.request(kind, start, end, tz, Some(user.id)).await?;
    let row = state.reports.generate(id).await.map_err(ApiError::internal)?;
    audit(
        &state,
        Audit::new(Some(user.id), "generate_report", "report").resource(id).ip(&ip).detail(
            json!({"report_type": kind.as_str(), "period_start": start, "period_end": end}),
        ),
    )
    .await;
    Ok(Json(report_json(&row, true)))
}

/// Delete a report (admin).
#[utoipa::path(delete, path = "/api/v1/reports/{id}", tag = "reports", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "{detail: 报告已删除}"), (status = 404, description = "报告不存在")))]
pub async fn delete(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !state.db.delete_report(id).await? {
        return Err(ApiError::not_found("报告不存在"));
    }
    audit(&state, Audit::new(Some(user.id), "delete_report", "report").resource(id).ip(&ip)).await;
    Ok((StatusCode::OK, Json(json!({"detail": "报告已删除"}))))
}
