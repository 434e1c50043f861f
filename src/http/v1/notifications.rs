//! Notification channels, the delivery log, and templates (seed 000 §Notifications,
//! §Notification Templates). Every change is told to the dispatcher, which reloads.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::notify::retry::Verdict;

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{
    AdminUser, AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser,
};
use crate::http::state::AppState;
use crate::notify::channel::{masked, unmask, ChannelConfig, ChannelType};
use crate::notify::dispatcher::test_message;
use crate::notify::template::{self, KINDS};
use crate::storage::notifications::{
    ChannelFields, ChannelRow, NotificationRow, TemplateFields, TemplateRow,
};

const CHANNEL_TYPES_MSG: &str =
    "Input should be 'dingtalk', 'feishu', 'wecom', 'email' or 'webhook'";

// ---------------------------------------------------------------- channels

/// A channel as created or updated. `type` is accepted as well as `channel_type`
/// (VigilOps' own clients send `type`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChannelIn {
    pub name: Option<String>,
    pub channel_type: Option<String>,
    #[serde(rename = "type")]
    pub type_alias: Option<String>,
    /// Per-type settings; secrets are never returned.
    #[schema(value_type = Object)]
    pub config: Option<Value>,
    pub is_enabled: Option<bool>,
}

fn channel_json(row: &ChannelRow) -> Value {
    let config: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
    json!({
        "id": row.id,
        "name": row.name,
        "channel_type": row.channel_type,
        "type": row.channel_type,
        "config": masked(&config),
        "is_enabled": row.is_enabled,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
}

/// Checks a channel's type and configuration; the 422 names the bad field.
fn check_channel(state: &AppState, fields: &ChannelFields) -> Result<ChannelType, ApiError> {
    if fields.name.trim().is_empty() {
        return Err(ApiError::field(&["body", "name"], "value_error", "name must not be empty"));
    }
    let Some(kind) = ChannelType::parse(&fields.channel_type) else {
        return Err(ApiError::field(&["body", "channel_type"], "enum", CHANNEL_TYPES_MSG));
    };
    let config: Value = serde_json::from_str(&fields.config).unwrap_or(Value::Null);
    ChannelConfig::parse(kind, &config, state.notifier.transports.feishu_app_configured())
        .map_err(|e| {
            let mut loc = vec!["body", "config"];
            loc.extend(e.field.split('.').filter(|s| !s.is_empty()));
            ApiError::field(
                &loc,
                "value_error",
                format!("config.{}: {}", e.field, e.message).replace("config.: ", "config: "),
            )
        })?;
    Ok(kind)
}

/// Notification channels, oldest first.
#[utoipa::path(get, path = "/api/v1/notification-channels", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "array of channels (secrets masked)")))]
pub async fn list_channels(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let rows = state.db.list_channels().await?;
    Ok(Json(Value::Array(rows.iter().map(channel_json).collect())))
}

/// Create a channel; its configuration is checked for its type.
#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "notifications", security(("bearer" = [])),
    request_body = ChannelIn, responses((status = 201, description = "channel"), (status = 422, description = "bad field")))]
pub async fn create_channel(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<ChannelIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(name) = body.name else {
        return Err(ApiError::field(&["body", "name"], "missing", "Field required"));
    };
    let Some(channel_type) = body.channel_type.or(body.type_alias) else {
        return Err(ApiError::field(&["body", "channel_type"], "missing", "Field required"));
    };
    let Some(config) = body.config else {
        return Err(ApiError::field(&["body", "config"], "missing", "Field required"));
    };
    let fields = ChannelFields {
        name,
        channel_type,
        config: config.to_string(),
        is_enabled: body.is_enabled.unwrap_or(true),
    };
    check_channel(&state, &fields)?;
    let row = state.db.create_channel(&fields, state.clock.now()).await?;
    state.notifier.reload();
    audit(
        &state,
        Audit::new(Some(user.id), "create_notification_channel", "notification_channel")
            .resource(row.id)
            .ip(&ip)
            .detail(json!({"name": row.name, "channel_type": row.channel_type})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(channel_json(&row))))
}

async fn channel_or_404(state: &AppState, id: i64) -> Result<ChannelRow, ApiError> {
    state.db.channel_by_id(id).await?.ok_or_else(|| ApiError::not_found("Channel not found"))
}

/// Update a channel. Masked secrets sent back unchanged keep their stored values.
#[utoipa::path(put, path = "/api/v1/notification-channels/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ChannelIn,
    responses((status = 200, description = "channel"), (status = 404, description = "Channel not found")))]
pub async fn update_channel(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<ChannelIn>,
) -> Result<Json<Value>, ApiError> {
    let current = channel_or_404(&state, id).await?;
    let stored: Value = serde_json::from_str(&current.config).unwrap_or(Value::Null);
    let fields = ChannelFields {
        name: body.name.unwrap_or(current.name),
        channel_type: body.channel_type.or(body.type_alias).unwrap_or(current.channel_type),
        config: body.config.map(|c| unmask(&c, &stored)).unwrap_or(stored).to_string(),
        is_enabled: body.is_enabled.unwrap_or(current.is_enabled),
    };
    check_channel(&state, &fields)?;
    let row = state
        .db
        .update_channel(id, &fields, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("Channel not found"))?;
    state.notifier.reload();
    audit(
        &state,
        Audit::new(Some(user.id), "update_notification_channel", "notification_channel")
            .resource(id)
            .ip(&ip),
    )
    .await;
    Ok(Json(channel_json(&row)))
}

/// Delete a channel; its pending messages are marked failed.
#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204, description = "deleted"), (status = 404, description = "Channel not found")))]
pub async fn delete_channel(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    if !state.db.delete_channel(id).await? {
        return Err(ApiError::not_found("Channel not found"));
    }
    state.notifier.reload();
    audit(
        &state,
        Audit::new(Some(user.id), "delete_notification_channel", "notification_channel")
            .resource(id)
            .ip(&ip),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test message through the real channel (one attempt, no retries) and report
/// the outcome.
#[utoipa::path(post, path = "/api/v1/notification-channels/{id}/test", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "{success, status, response_code, error}"), (status = 404, description = "Channel not found")))]
pub async fn test_channel(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let row = channel_or_404(&state, id).await?;
    let Some(kind) = ChannelType::parse(&row.channel_type) else {
        return Err(ApiError::bad_request(format!("unknown channel type '{}'", row.channel_type)));
    };
    let value: Value = serde_json::from_str(&row.config).unwrap_or(Value::Null);
    let config =
        ChannelConfig::parse(kind, &value, state.notifier.transports.feishu_app_configured())
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "the channel's configuration is invalid: config.{}: {}",
                    e.field, e.message
                ))
            })?;
    let templates = state.db.list_templates().await?;
    let locale = state.runtime_settings().locale;
    let message = test_message(kind, &templates, &locale, state.clock.now());
    let outcome = state.notifier.transports.send(&config, &message).await;
    let delivered = outcome.verdict == Verdict::Delivered;
    audit(
        &state,
        Audit::new(Some(user.id), "test_notification_channel", "notification_channel")
            .resource(id)
            .ip(&ip)
            .detail(json!({"success": delivered})),
    )
    .await;
    Ok(Json(json!({
        "success": delivered,
        "status": if delivered { "sent" } else { "failed" },
        "channel_id": id,
        "response_code": outcome.response_code,
        "error": outcome.error,
        "title": message.title,
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    pub alert_id: Option<i64>,
    /// 1–200, default 50
    pub limit: Option<i64>,
}

fn log_json(row: &NotificationRow) -> Value {
    json!({
        "id": row.id,
        "alert_id": row.alert_id,
        "channel_id": row.channel_id,
        "kind": row.kind,
        "status": row.status,
        "response_code": row.response_code,
        "error": row.error,
        "retries": row.retries,
        "sent_at": row.sent_at.unwrap_or(row.created_at),
    })
}

/// Delivery log: one row per finished message (sent or failed), newest first.
#[utoipa::path(get, path = "/api/v1/notification-channels/logs", tag = "notifications", security(("bearer" = [])),
    params(LogsQuery), responses((status = 200, description = "array of delivery log rows")))]
pub async fn logs(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        let msg = if limit < 1 {
            "Input should be greater than or equal to 1"
        } else {
            "Input should be less than or equal to 200"
        };
        let kind = if limit < 1 { "greater_than_equal" } else { "less_than_equal" };
        return Err(ApiError::field(&["query", "limit"], kind, msg));
    }
    let rows = state.db.notification_logs(q.alert_id, limit).await?;
    Ok(Json(Value::Array(rows.iter().map(log_json).collect())))
}

// ---------------------------------------------------------------- templates

/// A template as created or updated. `subject_template` is accepted for
/// `title_template` (VigilOps' own name).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplateIn {
    pub name: Option<String>,
    /// dingtalk, feishu, wecom, email, webhook or all
    pub channel_type: Option<String>,
    /// alert (default), approval, remediation or report
    pub kind: Option<String>,
    pub title_template: Option<String>,
    pub subject_template: Option<String>,
    pub body_template: Option<String>,
    pub is_default: Option<bool>,
}

fn template_json(row: &TemplateRow, unknown: Option<Vec<String>>) -> Value {
    let mut v = json!({
        "id": row.id,
        "name": row.name,
        "channel_type": row.channel_type,
        "kind": row.kind,
        "locale": row.locale,
        "title_template": row.title_template,
        "subject_template": row.title_template,
        "body_template": row.body_template,
        "is_default": row.is_default,
        "is_builtin": row.is_builtin,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    });
    if let Some(unknown) = unknown {
        v["unknown_variables"] = json!(unknown);
    }
    v
}

/// Validates a template's fields: syntax errors are 422s naming the field; unknown
/// variables are returned (they render empty).
fn check_template(f: &TemplateFields) -> Result<Vec<String>, ApiError> {
    if f.name.trim().is_empty() {
        return Err(ApiError::field(&["body", "name"], "value_error", "name must not be empty"));
    }
    if f.channel_type != "all" && ChannelType::parse(&f.channel_type).is_none() {
        return Err(ApiError::field(
            &["body", "channel_type"],
            "enum",
            "Input should be 'dingtalk', 'feishu', 'wecom', 'email', 'webhook' or 'all'",
        ));
    }
    if !KINDS.contains(&f.kind.as_str()) {
        return Err(ApiError::field(
            &["body", "kind"],
            "enum",
            "Input should be 'alert', 'approval', 'remediation' or 'report'",
        ));
    }
    if f.body_template.trim().is_empty() {
        return Err(ApiError::field(
            &["body", "body_template"],
            "value_error",
            "body_template must not be empty",
        ));
    }
    let mut unknown = Vec::new();
    for (field, source) in
        [("title_template", f.title_template.as_deref()), ("body_template", Some(&f.body_template))]
    {
        let Some(source) = source else { continue };
        match template::validate(source) {
            Ok(u) => unknown.extend(u),
            Err(p) => return Err(ApiError::field(&["body", field], "value_error", p.message)),
        }
    }
    unknown.sort();
    unknown.dedup();
    Ok(unknown)
}

/// Templates, newest first (built-in ones included).
#[utoipa::path(get, path = "/api/v1/notification-templates", tag = "notification-templates", security(("bearer" = [])),
    responses((status = 200, description = "array of templates")))]
pub async fn list_templates(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<Value>, ApiError> {
    let rows = state.db.list_templates().await?;
    Ok(Json(Value::Array(rows.iter().map(|r| template_json(r, None)).collect())))
}

/// Create a template; `is_default` clears the default of the same channel type (and
/// kind). The response lists variables the template uses that Warden does not know.
#[utoipa::path(post, path = "/api/v1/notification-templates", tag = "notification-templates", security(("bearer" = [])),
    request_body = TemplateIn, responses((status = 200, description = "template with unknown_variables")))]
pub async fn create_template(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ip: ClientIp,
    AppJson(body): AppJson<TemplateIn>,
) -> Result<Json<Value>, ApiError> {
    let Some(name) = body.name else {
        return Err(ApiError::field(&["body", "name"], "missing", "Field required"));
    };
    let Some(channel_type) = body.channel_type else {
        return Err(ApiError::field(&["body", "channel_type"], "missing", "Field required"));
    };
    let Some(body_template) = body.body_template else {
        return Err(ApiError::field(&["body", "body_template"], "missing", "Field required"));
    };
    let fields = TemplateFields {
        name,
        channel_type,
        kind: body.kind.unwrap_or_else(|| "alert".into()),
        title_template: body.title_template.or(body.subject_template),
        body_template,
        is_default: body.is_default.unwrap_or(false),
    };
    let unknown = check_template(&fields)?;
    let row = state
        .db
        .save_template(None, &fields, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::internal("insert returned no row"))?;
    state.notifier.reload();
    audit(
        &state,
        Audit::new(Some(user.id), "create_notification_template", "notification_template")
            .resource(row.id)
            .ip(&ip),
    )
    .await;
    Ok(Json(template_json(&row, Some(unknown))))
}

async fn template_or_404(state: &AppState, id: i64) -> Result<TemplateRow, ApiError> {
    state.db.template_by_id(id).await?.ok_or_else(|| ApiError::not_found("模板不存在"))
}

/// Update a template (built-in ones too).
#[utoipa::path(put, path = "/api/v1/notification-templates/{id}", tag = "notification-templates", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = TemplateIn,
    responses((status = 200, description = "template with unknown_variables"), (status = 404, description = "模板不存在")))]
pub async fn update_template(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<TemplateIn>,
) -> Result<Json<Value>, ApiError> {
    let current = template_or_404(&state, id).await?;
    let fields = TemplateFields {
        name: body.name.unwrap_or(current.name),
        channel_type: body.channel_type.unwrap_or(current.channel_type),
        kind: body.kind.unwrap_or(current.kind),
        title_template: body.title_template.or(body.subject_template).or(current.title_template),
        body_template: body.body_template.unwrap_or(current.body_template),
        is_default: body.is_default.unwrap_or(current.is_default),
    };
    let unknown = check_template(&fields)?;
    let row = state
        .db
        .save_template(Some(id), &fields, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("模板不存在"))?;
    state.notifier.reload();
    audit(
        &state,
        Audit::new(Some(user.id), "update_notification_template", "notification_template")
            .resource(id)
            .ip(&ip),
    )
    .await;
    Ok(Json(template_json(&row, Some(unknown))))
}

/// Delete a template; built-in templates cannot be deleted (400).
#[utoipa::path(delete, path = "/api/v1/notification-templates/{id}", tag = "notification-templates", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "{detail}"), (status = 400, description = "built-in"), (status = 404, description = "模板不存在")))]
pub async fn delete_template(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let current = template_or_404(&state, id).await?;
    if current.is_builtin {
        return Err(ApiError::bad_request("Built-in templates cannot be deleted"));
    }
    if !state.db.delete_template(id).await? {
        return Err(ApiError::not_found("模板不存在"));
    }
    state.notifier.reload();
    audit(
        &state,
        Audit::new(Some(user.id), "delete_notification_template", "notification_template")
            .resource(id)
            .ip(&ip),
    )
    .await;
    Ok(Json(json!({"detail": "已删除"})))
}
