//! The knowledge base and the environment context (seed 001): what operators tell
//! Warden about their systems, read by diagnosis as context.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser};
use crate::http::state::AppState;
use crate::storage::knowledge::{KnowledgeFields, KnowledgeRow};

const NOT_FOUND: &str = "知识条目不存在";
const MAX_CONTENT: usize = 256 * 1024;

fn entry_json(r: &KnowledgeRow) -> Value {
    let tags: Value = serde_json::from_str(&r.tags).unwrap_or_else(|_| json!([]));
    json!({"id": r.id, "title": r.title, "content": r.content, "category": r.category, "tags": tags,
           "created_by": r.created_by, "created_at": r.created_at, "updated_at": r.updated_at})
}

fn ok(data: Value) -> Json<Value> {
    Json(json!({"success": true, "data": data}))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KnowledgeQuery {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    pub category: Option<String>,
    /// In the title, content or tags
    pub search: Option<String>,
}

/// List knowledge entries.
#[utoipa::path(get, path = "/api/knowledge", tag = "knowledge", security(("bearer" = [])), params(KnowledgeQuery),
    responses((status = 200, description = "{success, data: {items, total, page, page_size, total_pages}}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<KnowledgeQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = super::page_params(q.page, q.page_size)?;
    let category = q.category.filter(|c| !c.trim().is_empty());
    let search = q.search.filter(|s| !s.trim().is_empty());
    let found =
        state.db.list_knowledge(category.as_deref(), search.as_deref(), page, page_size).await?;
    let items: Vec<Value> = found.items.iter().map(entry_json).collect();
    Ok(super::paged(items, found.total, page, page_size))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct KnowledgeIn {
    pub title: Option<String>,
    pub content: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// Builds the fields over `base` (the stored entry on update); names the bad field.
fn fields(body: KnowledgeIn, base: Option<&KnowledgeRow>) -> Result<KnowledgeFields, ApiError> {
    let text = |v: Option<String>,
                old: Option<&String>,
                name: &str,
                max: usize|
     -> Result<String, ApiError> {
        let v = v.map(|s| s.trim().to_string()).or_else(|| old.cloned()).unwrap_or_default();
        if v.is_empty() {
            return Err(ApiError::field(&["body", name], "missing", "必填字段"));
        }
        if v.len() > max {
            return Err(ApiError::field(
                &["body", name],
                "string_too_long",
                format!("不能超过 {max} 字节"),
            ));
        }
        Ok(v)
    };
    let title = text(body.title, base.map(|b| &b.title), "title", 200)?;
    let content = text(body.content, base.map(|b| &b.content), "content", MAX_CONTENT)?;
    let category = body
        .category
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .or_else(|| base.map(|b| b.category.clone()))
        .unwrap_or_else(|| "general".into());
    let tags = match body.tags {
        Some(tags) => {
            tags.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
        }
        None => base.map(|b| serde_json::from_str(&b.tags).unwrap_or_default()).unwrap_or_default(),
    };
    Ok(KnowledgeFields { title, content, category, tags })
}

/// Create a knowledge entry.
#[utoipa::path(post, path = "/api/knowledge", tag = "knowledge", security(("bearer" = [])), request_body = KnowledgeIn,
    responses((status = 201, description = "{success, data: entry}"), (status = 400, description = "参数验证失败")))]
pub async fn create(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<KnowledgeIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let f = fields(body, None)?;
    let row = state.db.create_knowledge(&f, user.id, state.clock.now()).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "create_knowledge", "knowledge").resource(row.id).ip(&ip),
    )
    .await;
    Ok((StatusCode::CREATED, ok(entry_json(&row))))
}

/// One knowledge entry.
#[utoipa::path(get, path = "/api/knowledge/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "{success, data: entry}"), (status = 404, description = "知识条目不存在")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let row = state.db.knowledge(id).await?.ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    Ok(ok(entry_json(&row)))
}

/// Update a knowledge entry (fields left out keep their value).
#[utoipa::path(put, path = "/api/knowledge/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = KnowledgeIn,
    responses((status = 200, description = "{success, data: entry}"), (status = 404, description = "知识条目不存在")))]
pub async fn update(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<KnowledgeIn>,
) -> Result<Json<Value>, ApiError> {
    let current = state.db.knowledge(id).await?.ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    let f = fields(body, Some(&current))?;
    let row = state
        .db
        .update_knowledge(id, &f, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    audit(&state, Audit::new(Some(user.id), "update_knowledge", "knowledge").resource(id).ip(&ip))
        .await;
    Ok(ok(entry_json(&row)))
}

/// Delete a knowledge entry.
#[utoipa::path(delete, path = "/api/knowledge/{id}", tag = "knowledge", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "{success, message}"), (status = 404, description = "知识条目不存在")))]
pub async fn remove(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    if !state.db.delete_knowledge(id).await? {
        return Err(ApiError::not_found(NOT_FOUND));
    }
    audit(&state, Audit::new(Some(user.id), "delete_knowledge", "knowledge").resource(id).ip(&ip))
        .await;
    Ok(Json(json!({"success": true, "message": "已删除"})))
}

// ---------------------------------------------------------------- environment context

fn default_context() -> Value {
    json!({"services": [], "infrastructure": {}, "alert_definitions": {}})
}

/// The environment context: services and their dependencies, infrastructure, what
/// each alert level means.
#[utoipa::path(get, path = "/api/environment-context", tag = "knowledge", security(("bearer" = [])),
    responses((status = 200, description = "{success, data: {services, infrastructure, alert_definitions}}")))]
pub async fn get_context(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let data = match state.db.environment_context().await? {
        Some((text, updated_at)) => {
            let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|_| default_context());
            v["updated_at"] = json!(updated_at);
            v
        }
        None => default_context(),
    };
    Ok(ok(data))
}

/// Checks one section of the context; the error names the field.
fn check_section(key: &str, value: &Value) -> Result<(), ApiError> {
    let bad = |field: &str, msg: &str| {
        Err(ApiError::field(&["body", field], "value_error", msg.to_string()))
    };
    match key {
        "services" => {
            let Some(items) = value.as_array() else { return bad("services", "必须是数组") };
            for (i, s) in items.iter().enumerate() {
                let at = format!("services.{i}");
                if s.get("name").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
                    return bad(&format!("{at}.name"), "必填字段");
                }
                if let Some(deps) = s.get("dependencies") {
                    if !deps.as_array().is_some_and(|d| d.iter().all(Value::is_string)) {
                        return bad(&format!("{at}.dependencies"), "必须是字符串数组");
                    }
                }
            }
            Ok(())
        }
        "infrastructure" if value.is_object() => Ok(()),
        "infrastructure" => bad("infrastructure", "必须是对象"),
        "alert_definitions"
            if value.as_object().is_some_and(|o| o.values().all(Value::is_string)) =>
        {
            Ok(())
        }
        "alert_definitions" => bad("alert_definitions", "必须是字符串值的对象"),
        other => bad(other, "未知字段(允许 services, infrastructure, alert_definitions)"),
    }
}

/// Replace sections of the environment context (sections left out keep their value).
#[utoipa::path(put, path = "/api/environment-context", tag = "knowledge", security(("bearer" = [])),
    responses((status = 200, description = "{success, data: context}"), (status = 400, description = "参数验证失败")))]
pub async fn put_context(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    for (key, value) in &body {
        check_section(key, value)?;
    }
    let mut data = match state.db.environment_context().await? {
        Some((text, _)) => serde_json::from_str(&text).unwrap_or_else(|_| default_context()),
        None => default_context(),
    };
    for (key, value) in body {
        data[key.as_str()] = value;
    }
    state.db.save_environment_context(&data.to_string(), user.id, state.clock.now()).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "update_environment_context", "environment_context").ip(&ip),
    )
    .await;
    Ok(ok(data))
}
