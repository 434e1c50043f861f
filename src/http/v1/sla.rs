//! SLA management (seed 000 §SLA Management): rules, the live status board with error
//! budgets, violations, and the availability report. Availability is time-weighted
//! (see `warden_actors::sla`); windows and dates are in the `report_timezone` setting.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::ai::Lang;
use warden_actors::ids::ServiceId;
use warden_actors::service::ServiceMsg;
use warden_actors::sla::{availability, budget_secs, local_midnight, Tz, Window};

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser};
use crate::http::state::AppState;
use crate::storage::sla::{SlaRuleRow, ViolationRow};

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn rule_json(r: &SlaRuleRow) -> Value {
    json!({"id": r.id, "service_id": r.service_id, "service_name": r.service_name, "name": r.name,
           "target_percent": r.target_percent, "calculation_window": r.calculation_window,
           "created_at": r.created_at, "updated_at": r.updated_at})
}

pub fn violation_json(v: &ViolationRow) -> Value {
    json!({"id": v.id, "sla_rule_id": v.sla_rule_id, "service_id": v.service_id, "service_name": v.service_name,
           "started_at": v.started_at, "ended_at": v.ended_at, "duration_seconds": v.duration_seconds,
           "description": v.description, "created_at": v.created_at})
}

/// Tells the service's actor its rule changed.
pub fn reload(state: &AppState, service_id: i64) {
    if let Some(e) = state.runtime.registry.service(ServiceId(service_id)) {
        let _ = e.actor.cast(ServiceMsg::ReloadSla);
    }
}

/// Every SLA rule with its service's name.
#[utoipa::path(get, path = "/api/v1/sla/rules", tag = "sla", security(("bearer" = [])),
    responses((status = 200, description = "[rule]")))]
pub async fn list_rules(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let rules = state.db.list_sla_rules().await?;
    Ok(Json(Value::Array(rules.iter().map(rule_json).collect())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleIn {
    pub service_id: Option<i64>,
    /// Default "<service> SLA".
    pub name: Option<String>,
    /// 0 < target ≤ 100 (default 99.9)
    pub target_percent: Option<f64>,
    /// daily, weekly or monthly (default monthly)
    pub calculation_window: Option<String>,
}

/// Create a service's SLA rule (one per service).
#[utoipa::path(post, path = "/api/v1/sla/rules", tag = "sla", security(("bearer" = [])), request_body = RuleIn,
    responses((status = 201, description = "rule"), (status = 400, description = "Service already has an SLA rule"),
    (status = 404, description = "服务不存在"), (status = 422, description = "bad field")))]
pub async fn create_rule(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<RuleIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(service_id) = body.service_id else {
        return Err(ApiError::field(&["body", "service_id"], "missing", "Field required"));
    };
    let target = body.target_percent.unwrap_or(99.9);
    if !(target > 0.0 && target <= 100.0) {
        return Err(ApiError::field(
            &["body", "target_percent"],
            "value_error",
            "target_percent must be greater than 0 and at most 100",
        ));
    }
    let window = body.calculation_window.unwrap_or_else(|| "monthly".into());
    if Window::parse(&window).is_none() {
        return Err(ApiError::field(
            &["body", "calculation_window"],
            "enum",
            format!("Input should be {}", Window::NAMES),
        ));
    }
    let name = body.name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(ApiError::field(
            &["body", "name"],
            "string_too_long",
            "String should have at most 200 characters",
        ));
    }
    let service = state
        .db
        .service_by_id(service_id)
        .await?
        .ok_or_else(|| ApiError::not_found("服务不存在"))?;
    let name = name.unwrap_or_else(|| format!("{} SLA", service.name));
    let Some(id) =
        state.db.create_sla_rule(service_id, &name, target, &window, state.clock.now()).await?
    else {
        return Err(ApiError::bad_request("Service already has an SLA rule"));
    };
    reload(&state, service_id);
    audit(
        &state,
        Audit::new(Some(user.id), "create_sla_rule", "sla_rule")
            .resource(id)
            .ip(&ip)
            .detail(json!({"service_id": service_id, "target_percent": target, "calculation_window": window})),
    )
    .await;
    let row = state
        .db
        .sla_rule_for_service(service_id)
        .await?
        .ok_or_else(|| ApiError::not_found("规则不存在"))?;
    Ok((StatusCode::CREATED, Json(rule_json(&row))))
}

/// Delete an SLA rule (its recorded violations stay; an open one ends now).
#[utoipa::path(delete, path = "/api/v1/sla/rules/{id}", tag = "sla", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "{detail: 已删除}"), (status = 404, description = "规则不存在")))]
pub async fn delete_rule(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let Some(service_id) = state.db.delete_sla_rule(id).await? else {
        return Err(ApiError::not_found("规则不存在"));
    };
    // Nothing will end an open violation of a rule that is gone.
    state.db.close_violation(id, state.clock.now()).await?;
    reload(&state, service_id);
    audit(&state, Audit::new(Some(user.id), "delete_sla_rule", "sla_rule").resource(id).ip(&ip))
        .await;
    Ok(Json(json!({"detail": "已删除"})))
}

/// Each rule over its current window: time-weighted availability, whether it is met,
/// the error budget left, and the checks counted.
#[utoipa::path(get, path = "/api/v1/sla/status", tag = "sla", security(("bearer" = [])),
    responses((status = 200, description = "[{rule_id, service_id, service_name, target_percent, actual_percent, is_met, error_budget_remaining_minutes, calculation_window, total_checks, down_checks}]")))]
pub async fn status(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let tz = state.runtime_settings().report_timezone;
    let now = state.clock.now();
    let mut out = Vec::new();
    for r in state.db.list_sla_rules().await? {
        let window = Window::parse(&r.calculation_window).unwrap_or(Window::Monthly);
        let (start, end) = window.bounds(now, tz);
        let (prior, checks) = state.db.checks_between(r.service_id, start, now).await?;
        let a = availability(prior, &checks, start, now);
        let actual = a.percent();
        let budget = budget_secs(r.target_percent, start, end);
        out.push(json!({
            "rule_id": r.id, "service_id": r.service_id, "service_name": r.service_name, "name": r.name,
            "target_percent": r.target_percent, "actual_percent": actual,
            "is_met": actual.map(|p| p >= r.target_percent),
            "error_budget_minutes": round2(budget / 60.0),
            "error_budget_remaining_minutes": actual.map(|_| round2((budget - a.down_secs) / 60.0)),
            "downtime_minutes": round2(a.down_secs / 60.0),
            "calculation_window": r.calculation_window, "window_start": start, "window_end": end,
            "total_checks": a.total_checks, "down_checks": a.down_checks,
        }));
    }
    Ok(Json(Value::Array(out)))
}

/// A `YYYY-MM-DD` query date, or a 422 naming the parameter.
fn date(name: &str, v: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d").map(Some).map_err(|_| {
            ApiError::field(
                &["query", name],
                "date_from_datetime_parsing",
                format!("'{v}' is not a date like 2026-02-20"),
            )
        }),
    }
}

/// `[start of first day, end of last day)` in the time zone; 422 when the end is
/// before the start.
fn day_range(
    first: NaiveDate,
    last: NaiveDate,
    tz: Tz,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    if last < first {
        return Err(ApiError::field(
            &["query", "end_date"],
            "value_error",
            "end_date must not be before start_date",
        ));
    }
    Ok((local_midnight(first, tz), local_midnight(last + Duration::days(1), tz)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ViolationsQuery {
    /// First day (YYYY-MM-DD, in the report time zone).
    pub start_date: Option<String>,
    /// Last day, inclusive.
    pub end_date: Option<String>,
    pub service_id: Option<i64>,
}

/// Recorded violations, newest first.
#[utoipa::path(get, path = "/api/v1/sla/violations", tag = "sla", security(("bearer" = [])), params(ViolationsQuery),
    responses((status = 200, description = "[violation]"), (status = 422, description = "bad date")))]
pub async fn violations(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<ViolationsQuery>,
) -> Result<Json<Value>, ApiError> {
    let tz = state.runtime_settings().report_timezone;
    let first = date("start_date", q.start_date.as_deref())?;
    let last = date("end_date", q.end_date.as_deref())?;
    if let (Some(f), Some(l)) = (first, last) {
        day_range(f, l, tz)?;
    }
    let from = first.map(|d| local_midnight(d, tz));
    let to = last.map(|d| local_midnight(d + Duration::days(1), tz));
    let rows = state.db.list_violations(from, to, q.service_id).await?;
    Ok(Json(Value::Array(rows.iter().map(violation_json).collect())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    pub service_id: Option<i64>,
    /// Only `monthly` (the last 30 days, today included) when no dates are given.
    pub period: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

/// Availability of one service over days: overall, per day, violations, downtime and
/// a summary sentence in the configured locale.
#[utoipa::path(get, path = "/api/v1/sla/report", tag = "sla", security(("bearer" = [])), params(ReportQuery),
    responses((status = 200, description = "{service_id, service_name, target_percent, period_start, period_end, overall_availability, daily_trend, violations, total_downtime_minutes, summary}"),
    (status = 404, description = "服务不存在"), (status = 422, description = "bad parameter")))]
pub async fn report(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    let Some(service_id) = q.service_id else {
        return Err(ApiError::field(&["query", "service_id"], "missing", "Field required"));
    };
    if q.period.as_deref().is_some_and(|p| p != "monthly") {
        return Err(ApiError::field(&["query", "period"], "enum", "Input should be 'monthly'"));
    }
    let settings = state.runtime_settings();
    let tz = settings.report_timezone;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let first = date("start_date", q.start_date.as_deref())?.unwrap_or(today - Duration::days(29));
    let last = date("end_date", q.end_date.as_deref())?.unwrap_or(today);
    let (from, to) = day_range(first, last, tz)?;
    if (last - first).num_days() > 366 {
        return Err(ApiError::field(
            &["query", "end_date"],
            "value_error",
            "the period may span at most 366 days",
        ));
    }
    let service = state
        .db
        .service_by_id(service_id)
        .await?
        .ok_or_else(|| ApiError::not_found("服务不存在"))?;
    let rule = state.db.sla_rule_for_service(service_id).await?;
    let target = rule.as_ref().map_or(99.9, |r| r.target_percent);
    // Nothing after now is observed.
    let end = to.min(now);
    let (prior, checks) = state.db.checks_between(service_id, from, end.max(from)).await?;
    let overall = availability(prior, &checks, from, end);
    let mut trend = Vec::new();
    let mut day = first;
    while day <= last {
        let (d0, d1) =
            (local_midnight(day, tz), local_midnight(day + Duration::days(1), tz).min(end));
        let before = checks.iter().rev().find(|c| c.at < d0).map(|c| c.up).or(prior);
        let a = availability(before, &checks, d0, d1);
        trend.push(json!({"date": day.format("%Y-%m-%d").to_string(), "availability": a.percent(),
                          "downtime_minutes": round2(a.down_secs / 60.0)}));
        day += Duration::days(1);
    }
    let violations = state.db.list_violations(Some(from), Some(to), Some(service_id)).await?;
    let downtime = round2(overall.down_secs / 60.0);
    let met = overall.percent().map(|p| p >= target);
    let summary = match (Lang::from_locale(&settings.locale), overall.percent()) {
        (Lang::Zh, Some(p)) => format!(
            "服务 {} 在报告期间内可用率 {p}%,{} SLA 目标 {target}%。累计停机 {downtime} 分钟,违规 {} 次。",
            service.name,
            if met == Some(true) { "达到" } else { "未达到" },
            violations.len()
        ),
        (Lang::Zh, None) => format!("服务 {} 在报告期间内没有检查记录,无法计算可用率。", service.name),
        (Lang::En, Some(p)) => format!(
            "Service {} was available {p}% of the period, {} its SLA target of {target}%. Downtime {downtime} minutes, {} violation(s).",
            service.name,
            if met == Some(true) { "meeting" } else { "missing" },
            violations.len()
        ),
        (Lang::En, None) => format!("Service {} has no checks in the period; availability is unknown.", service.name),
    };
    Ok(Json(json!({
        "service_id": service_id, "service_name": service.name, "target_percent": target,
        "period_start": first.format("%Y-%m-%d").to_string(), "period_end": last.format("%Y-%m-%d").to_string(),
        "timezone": tz.name(),
        "overall_availability": overall.percent(), "is_met": met,
        "daily_trend": trend,
        "violations": violations.iter().map(violation_json).collect::<Vec<_>>(),
        "total_downtime_minutes": downtime,
        "total_checks": overall.total_checks, "down_checks": overall.down_checks,
        "summary": summary,
    })))
}
