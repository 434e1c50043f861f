//! Alerts and alert rules (seed 000 §Alerts, §Alert Rules). Rules are owned by their
//! actors: every change here is told to the rule's actor, which applies it at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::ids::{AlertId, HostId, RuleId};
use warden_actors::model::{AlertEvent, AlertEventKind, LiveEvent};

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{
    AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser, PageQuery,
};
use crate::http::state::AppState;
use crate::storage::alerts::{AlertFilter, AlertRow, RuleFields, RuleRow};

const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];

// ---------------------------------------------------------------- alerts

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// firing, acknowledged or resolved
    pub status: Option<String>,
    /// critical, warning or info
    pub severity: Option<String>,
    pub host_id: Option<i64>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

/// List alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), params(AlertsQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<AlertsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(20, 100)?;
    let status = q.status.filter(|s| !s.is_empty());
    if status.as_deref().is_some_and(|s| !["firing", "acknowledged", "resolved"].contains(&s)) {
        return Err(ApiError::field(
            &["query", "status"],
            "enum",
            "Input should be 'firing', 'acknowledged' or 'resolved'",
        ));
    }
    let severity = q.severity.filter(|s| !s.is_empty());
    if severity.as_deref().is_some_and(|s| !SEVERITIES.contains(&s)) {
        return Err(ApiError::field(
            &["query", "severity"],
            "enum",
            "Input should be 'critical', 'warning' or 'info'",
        ));
    }
    let p = state
        .db
        .list_alerts(&AlertFilter { status, severity, host_id: q.host_id }, page, page_size)
        .await?;
    Ok(Json(json!({"items": p.items, "total": p.total, "page": page, "page_size": page_size})))
}

async fn alert_or_404(state: &AppState, id: i64) -> Result<AlertRow, ApiError> {
    state.db.alert_by_id(id).await?.ok_or_else(|| ApiError::not_found("Alert not found"))
}

/// One alert.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = AlertRow), (status = 404, description = "Alert not found")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<AlertRow>, ApiError> {
    Ok(Json(alert_or_404(&state, id).await?))
}

/// Acknowledge a firing alert (records who and when); 400 when it is resolved.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = AlertRow), (status = 400, description = "Alert already resolved"),
              (status = 404, description = "Alert not found")))]
pub async fn ack(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<AlertRow>, ApiError> {
    let now = state.clock.now();
    let alert = match state.db.acknowledge_alert(id, user.id, now).await? {
        Some(a) => a,
        None => {
            let current = alert_or_404(&state, id).await?;
            if current.status == "resolved" {
                return Err(ApiError::bad_request("Alert already resolved"));
            }
            return Ok(Json(current)); // already acknowledged: nothing changes
        }
    };
    state.runtime.events.emit(LiveEvent::Alert(AlertEvent {
        alert_id: AlertId(alert.id),
        rule_id: alert.rule_id.map(RuleId),
        kind: AlertEventKind::Acknowledged,
        severity: alert.severity.clone(),
        title: alert.title.clone(),
        message: alert.message.clone(),
        host_id: alert.host_id.map(HostId),
        metric_value: alert.metric_value,
        at: now,
    }));
    audit(&state, Audit::new(Some(user.id), "ack_alert", "alert").resource(id).ip(&ip)).await;
    Ok(Json(alert))
}

// ---------------------------------------------------------------- rules

fn rule_json(r: &RuleRow) -> Value {
    let mut v = json!(r);
    let parse = |s: &Option<String>| {
        s.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()).unwrap_or(Value::Null)
    };
    v["target_filter"] = parse(&r.fields.target_filter);
    v["notification_channel_ids"] = match parse(&r.fields.notification_channel_ids) {
        Value::Null => json!([]),
        other => other,
    };
    v
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RulesQuery {
    pub is_enabled: Option<bool>,
}

/// Alert rules (built-in and custom).
#[utoipa::path(get, path = "/api/v1/alert-rules", tag = "alert-rules", security(("bearer" = [])), params(RulesQuery),
    responses((status = 200, description = "array of rules")))]
pub async fn list_rules(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<RulesQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(state.db.list_rules(q.is_enabled).await?.iter().map(rule_json).collect()))
}

/// A rule as written by a client; on update, absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RuleIn {
    pub name: Option<String>,
    pub description: Option<String>,
    /// metric (default), log_keyword, db_metric, host_offline or service_down
    pub rule_type: Option<String>,
    /// For metric rules: cpu_percent, memory_percent, disk_percent, cpu_load_1, ...
    pub metric: Option<String>,
    /// >, <, >=, <=, ==, != (default >)
    pub operator: Option<String>,
    pub threshold: Option<f64>,
    /// critical, warning (default) or info
    pub severity: Option<String>,
    /// How long a breach must hold before firing (default 0).
    pub duration_seconds: Option<i64>,
    /// Minimum time between notifications for one target (default 300).
    pub cooldown_seconds: Option<i64>,
    pub continuous_alert: Option<bool>,
    /// HH:MM (UTC); with silence_end, a daily window without notifications.
    pub silence_start: Option<String>,
    pub silence_end: Option<String>,
    /// host (default), service or database
    pub target_type: Option<String>,
    /// `{"host_ids": [1, 2], "group_name": "web", "tags": ["prod"]}`
    #[schema(value_type = Object)]
    pub target_filter: Option<Value>,
    pub log_keyword: Option<String>,
    pub log_level: Option<String>,
    pub log_service: Option<String>,
    pub db_metric_name: Option<String>,
    pub db_id: Option<i64>,
    pub notification_channel_ids: Option<Vec<i64>>,
    pub is_enabled: Option<bool>,
}

/// Applies `input` over `base` and checks the result; 422 names the bad field.
fn merge(mut f: RuleFields, input: RuleIn) -> Result<RuleFields, ApiError> {
    let bad = |field: &str, msg: String| ApiError::field(&["body", field], "value_error", msg);
    let trimmed = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(n) = input.name {
        f.name = n.trim().to_string();
    }
    if f.name.is_empty() || f.name.chars().count() > 200 {
        return Err(ApiError::field(
            &["body", "name"],
            "string_length",
            "String should have 1 to 200 characters",
        ));
    }
    f.description = input.description.or(f.description);
    if let Some(t) = input.rule_type {
        f.rule_type = t.trim().to_string();
    }
    f.metric = input.metric.and_then(trimmed).or(f.metric);
    if let Some(o) = input.operator {
        f.operator = o.trim().to_string();
    }
    f.threshold = input.threshold.or(f.threshold);
    if let Some(s) = input.severity {
        f.severity = s.trim().to_ascii_lowercase();
    }
    if !SEVERITIES.contains(&f.severity.as_str()) {
        return Err(bad("severity", "severity must be critical, warning or info".into()));
    }
    if let Some(d) = input.duration_seconds {
        f.duration_seconds = d;
    }
    if !(0..=86_400).contains(&f.duration_seconds) {
        return Err(bad("duration_seconds", "Input should be between 0 and 86400".into()));
    }
    if let Some(c) = input.cooldown_seconds {
        f.cooldown_seconds = c;
    }
    if !(0..=86_400).contains(&f.cooldown_seconds) {
        return Err(bad("cooldown_seconds", "Input should be between 0 and 86400".into()));
    }
    f.continuous_alert = input.continuous_alert.unwrap_or(f.continuous_alert);
    f.silence_start = input.silence_start.and_then(trimmed).or(f.silence_start);
    f.silence_end = input.silence_end.and_then(trimmed).or(f.silence_end);
    if let Some(t) = input.target_type {
        f.target_type = t.trim().to_string();
    }
    if !["host", "service", "database"].contains(&f.target_type.as_str()) {
        return Err(bad("target_type", "target_type must be host, service or database".into()));
    }
    match input.target_filter {
        None => {}
        Some(Value::Null) => f.target_filter = None,
        Some(v @ Value::Object(_)) => f.target_filter = Some(v.to_string()),
        Some(_) => {
            return Err(ApiError::field(
                &["body", "target_filter"],
                "type_error",
                "target_filter must be an object",
            ))
        }
    }
    f.log_keyword = input.log_keyword.and_then(trimmed).or(f.log_keyword);
    f.log_level = input.log_level.and_then(trimmed).map(|l| l.to_ascii_uppercase()).or(f.log_level);
    f.log_service = input.log_service.and_then(trimmed).or(f.log_service);
    f.db_metric_name = input.db_metric_name.and_then(trimmed).or(f.db_metric_name);
    f.db_id = input.db_id.or(f.db_id);
    if let Some(ids) = input.notification_channel_ids {
        f.notification_channel_ids = Some(json!(ids).to_string());
    }
    f.is_enabled = input.is_enabled.unwrap_or(f.is_enabled);
    f.config(0).map_err(|(field, msg)| {
        let kind = if msg == "Field required" { "missing" } else { "value_error" };
        ApiError::field(&["body", field], kind, msg)
    })?;
    Ok(f)
}

fn new_rule_defaults() -> RuleFields {
    RuleFields {
        rule_type: "metric".into(),
        operator: ">".into(),
        severity: "warning".into(),
        cooldown_seconds: 300,
        target_type: "host".into(),
        is_enabled: true,
        ..RuleFields::default()
    }
}

/// Tells the rule's actor about the stored rule.
async fn apply_rule(state: &AppState, row: &RuleRow) -> Result<(), ApiError> {
    let config = row
        .fields
        .config(row.id)
        .map_err(|(f, m)| ApiError::internal(format!("stored rule invalid: {f}: {m}")))?;
    state.runtime.upsert_rule(config).await?;
    if !row.fields.is_enabled {
        state.db.resolve_rule_alerts(row.id, state.clock.now()).await?;
    }
    Ok(())
}

/// Create a rule; it is evaluated from the next observation on.
#[utoipa::path(post, path = "/api/v1/alert-rules", tag = "alert-rules", security(("bearer" = [])),
    request_body = RuleIn,
    responses((status = 201, description = "rule"), (status = 422, description = "invalid rule, field named in loc")))]
pub async fn create_rule(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<RuleIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.name.is_none() {
        return Err(ApiError::field(&["body", "name"], "missing", "Field required"));
    }
    let fields = merge(new_rule_defaults(), body)?;
    let row = state.db.create_rule(&fields, state.clock.now()).await?;
    apply_rule(&state, &row).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "create_alert_rule", "alert_rule")
            .resource(row.id)
            .ip(&ip)
            .detail(json!({"name": row.fields.name, "rule_type": row.fields.rule_type})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(rule_json(&row))))
}

async fn rule_or_404(state: &AppState, id: i64) -> Result<RuleRow, ApiError> {
    state.db.rule_by_id(id).await?.ok_or_else(|| ApiError::not_found("Alert rule not found"))
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/alert-rules/{id}", tag = "alert-rules", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "rule"), (status = 404, description = "Alert rule not found")))]
pub async fn get_rule(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(rule_json(&rule_or_404(&state, id).await?)))
}

/// Partially update a rule; the change applies at once. Disabling resolves its alerts.
#[utoipa::path(put, path = "/api/v1/alert-rules/{id}", tag = "alert-rules", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RuleIn,
    responses((status = 200, description = "rule"), (status = 404, description = "Alert rule not found")))]
pub async fn update_rule(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<RuleIn>,
) -> Result<Json<Value>, ApiError> {
    let current = rule_or_404(&state, id).await?;
    let fields = merge(current.fields, body)?;
    let row = state
        .db
        .update_rule(id, &fields, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("Alert rule not found"))?;
    apply_rule(&state, &row).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "update_alert_rule", "alert_rule").resource(id).ip(&ip),
    )
    .await;
    Ok(Json(rule_json(&row)))
}

/// Delete a custom rule (built-in rules can be disabled, not deleted).
#[utoipa::path(delete, path = "/api/v1/alert-rules/{id}", tag = "alert-rules", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, description = "Cannot delete built-in rule"), (status = 404, description = "Alert rule not found")))]
pub async fn delete_rule(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    let rule = rule_or_404(&state, id).await?;
    if rule.is_builtin {
        return Err(ApiError::bad_request("Cannot delete built-in rule"));
    }
    state.runtime.remove_rule(RuleId(id)).await?;
    state.db.resolve_rule_alerts(id, state.clock.now()).await?;
    state.db.delete_rule(id).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "delete_alert_rule", "alert_rule")
            .resource(id)
            .ip(&ip)
            .detail(json!({"name": rule.fields.name})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
