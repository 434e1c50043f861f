//! Incidents (seed 001): list, detail, timeline, free-text alert intake and the live
//! event stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};
use warden_actors::incident::parse::SEVERITIES;
use warden_actors::incident::STATUSES;

use crate::http::error::ApiError;
use crate::http::extract::{authenticate, bearer, AppJson, AppPath, AppQuery, AuthUser};
use crate::http::state::AppState;
use crate::incidents::TextAlert;
use crate::integrations::alertmanager::token_matches;
use crate::storage::incidents::{IncidentFilter, IncidentRow};
use crate::storage::stored_json;

const NOT_FOUND: &str = "Incident 不存在";

/// Seconds from creation to resolution (or to now while open).
fn duration(row: &IncidentRow, now: DateTime<Utc>) -> i64 {
    (row.resolved_at.unwrap_or(now) - row.created_at).num_seconds().max(0)
}

fn summary(row: &IncidentRow, now: DateTime<Utc>) -> Value {
    json!({
        "id": row.id, "title": row.title, "status": row.status, "severity": row.severity,
        "category": row.category, "source": row.source, "created_at": row.created_at,
        "resolved_at": row.resolved_at, "duration": duration(row, now),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentsQuery {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    /// open, diagnosing, awaiting_approval, executing, resolved, escalated
    pub status: Option<String>,
    /// critical, high, medium, low
    pub severity: Option<String>,
    /// YYYY-MM-DD (UTC day) or RFC 3339
    pub start_date: Option<String>,
    /// YYYY-MM-DD (inclusive) or RFC 3339
    pub end_date: Option<String>,
    /// In the id, title or description
    pub search: Option<String>,
}

fn date(name: &str, text: Option<String>, end: bool) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else { return Ok(None) };
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    let day = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::field(&["query", name], "value_error", "日期格式应为 YYYY-MM-DD 或 RFC 3339")
    })?;
    let day = if end { day.succ_opt().unwrap_or(day) } else { day };
    Ok(day.and_hms_opt(0, 0, 0).map(|d| d.and_utc()))
}

fn one_of(name: &str, value: Option<String>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::field(
            &["query", name],
            "enum",
            format!("必须是 {} 之一", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

/// List incidents, newest first.
#[utoipa::path(get, path = "/api/incidents", tag = "incidents", security(("bearer" = [])), params(IncidentsQuery),
    responses((status = 200, description = "{success, data: {items, total, page, page_size, total_pages}}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<IncidentsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = super::page_params(q.page, q.page_size)?;
    let filter = IncidentFilter {
        status: one_of("status", q.status, &STATUSES)?,
        severity: one_of("severity", q.severity, &SEVERITIES)?,
        start: date("start_date", q.start_date, false)?,
        end: date("end_date", q.end_date, true)?,
        search: q.search.filter(|s| !s.trim().is_empty()),
    };
    let found = state.db.list_incidents(&filter, page, page_size).await?;
    let now = state.clock.now();
    let items: Vec<Value> = found.items.iter().map(|r| summary(r, now)).collect();
    Ok(super::paged(items, found.total, page, page_size))
}

async fn events_of(state: &AppState, id: &str) -> Result<Vec<Value>, ApiError> {
    let rows = state.db.incident_events(id).await?;
    Ok(rows
        .iter()
        .map(|e| json!({"id": format!("evt_{:03}", e.seq), "type": e.kind, "timestamp": e.at, "data": stored_json(Some(&e.data))}))
        .collect())
}

async fn incident_or_404(state: &AppState, id: &str) -> Result<IncidentRow, ApiError> {
    state.db.incident(id).await?.ok_or_else(|| ApiError::not_found(NOT_FOUND))
}

/// One incident with its diagnosis, proposal, execution result and timeline.
#[utoipa::path(get, path = "/api/incidents/{id}", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "{success, data: incident}"), (status = 404, description = "Incident 不存在")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    let row = incident_or_404(&state, &id).await?;
    let mut data = summary(&row, state.clock.now());
    data["description"] = json!(row.description);
    data["fingerprint"] = json!(row.fingerprint);
    data["service"] = json!(row.service);
    data["namespace"] = json!(row.namespace);
    data["host_id"] = json!(row.host_id);
    data["alert_id"] = json!(row.alert_id);
    data["diagnosis"] = stored_json(row.diagnosis_json.as_deref());
    data["proposal"] = stored_json(row.proposal_json.as_deref());
    data["execution_result"] = stored_json(row.execution_json.as_deref());
    data["resolution"] = json!(row.resolution);
    data["events"] = json!(events_of(&state, &id).await?);
    data["updated_at"] = json!(row.updated_at);
    Ok(Json(json!({"success": true, "data": data})))
}

/// The incident's timeline, oldest first.
#[utoipa::path(get, path = "/api/incidents/{id}/events", tag = "incidents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, description = "{success, data: {events}}"), (status = 404, description = "Incident 不存在")))]
pub async fn events(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    incident_or_404(&state, &id).await?;
    Ok(Json(json!({"success": true, "data": {"events": events_of(&state, &id).await?}})))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AlertIn {
    pub message: Option<String>,
    pub sender_id: Option<String>,
    pub chat_id: Option<String>,
    pub timestamp: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Option<Value>,
}

/// A user's JWT, or the Alertmanager webhook token (scripts post alerts with it).
async fn alert_caller(state: &AppState, parts: &Parts) -> Result<(), ApiError> {
    let token = bearer(parts).ok_or_else(|| ApiError::unauthorized("未认证"))?;
    let webhook = &state.config.alertmanager.webhook_token;
    if !webhook.is_empty() && token_matches(token, webhook) {
        return Ok(());
    }
    authenticate(state, token).await.map(|_| ())
}

/// Receive a free-text alert: it becomes an incident (or a duplicate of an open one).
#[utoipa::path(post, path = "/api/alert", tag = "incidents", security(("bearer" = [])), request_body = AlertIn,
    responses((status = 200, description = "{success, data: {incident_id, status: accepted, message, duplicate?}}"),
              (status = 400, description = "参数验证失败")))]
pub async fn receive(
    State(state): State<AppState>,
    parts: Parts,
    AppJson(body): AppJson<AlertIn>,
) -> Result<Json<Value>, ApiError> {
    alert_caller(&state, &parts).await?;
    let message = body
        .message
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| ApiError::field(&["body", "message"], "missing", "必填字段"))?;
    if message.len() > 64 * 1024 {
        return Err(ApiError::field(&["body", "message"], "string_too_long", "不能超过 64 KiB"));
    }
    let alert = TextAlert {
        message,
        sender_id: body.sender_id.filter(|s| !s.is_empty()),
        chat_id: body.chat_id,
        metadata: body.metadata,
        channel: "api",
    };
    let (id, duplicate) = state.incidents.receive_text(&alert).await?;
    let mut data =
        json!({"incident_id": id, "status": "accepted", "message": "告警已接收，开始处理"});
    if duplicate {
        data["duplicate"] = json!(true);
    }
    Ok(Json(json!({"success": true, "data": data})))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The access JWT, for clients that cannot set headers (EventSource).
    pub token: Option<String>,
}

/// Live incident events: incident_created, diagnosis_completed, proposal_created,
/// execution_completed, incident_resolved; keep-alive comments every 15 s.
#[utoipa::path(get, path = "/api/events", tag = "incidents", security(("bearer" = [])), params(StreamQuery),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream")))]
pub async fn stream(
    State(state): State<AppState>,
    parts: Parts,
    AppQuery(q): AppQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let token = bearer(&parts)
        .map(str::to_string)
        .or(q.token)
        .ok_or_else(|| ApiError::unauthorized("未认证"))?;
    authenticate(&state, &token).await?;
    let rx = state.incidents.subscribe();
    let events = stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(ev) => Some((Ok(Event::default().event(ev.name).data(ev.data.to_string())), rx)),
            // A client that fell behind is dropped rather than buffered for.
            Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => None,
        }
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keepalive")))
}
