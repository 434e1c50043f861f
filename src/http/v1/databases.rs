//! Monitored databases (seed 000 §Database Monitoring) and the database targets admins
//! configure for agents (passwords are never shown to users).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{AdminUser, AppJson, AppPath, AppQuery, AuthUser, ClientIp};
use crate::http::state::AppState;
use crate::storage::databases::{DatabaseRow, DbMetricRow, DbTargetFields, DbTargetRow};

fn metrics_json(m: &DbMetricRow) -> Value {
    let mut v = json!(m.values);
    v["recorded_at"] = json!(m.recorded_at);
    v["extra"] =
        m.extra.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null);
    v
}

fn database_json(d: &DatabaseRow, latest: Option<&DbMetricRow>) -> Value {
    json!({
        "id": d.id, "host_id": d.host_id, "name": d.name, "db_type": d.db_type, "status": d.status,
        "last_metric_at": d.last_metric_at, "created_at": d.created_at, "updated_at": d.updated_at,
        "latest_metrics": latest.map_or(Value::Null, metrics_json),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DatabasesQuery {
    pub host_id: Option<i64>,
}

/// Monitored databases with their latest metrics.
#[utoipa::path(get, path = "/api/v1/databases", tag = "databases", security(("bearer" = [])), params(DatabasesQuery),
    responses((status = 200, description = "{\"databases\": [...], \"total\": n}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<DatabasesQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = state.db.list_databases(q.host_id).await?;
    let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
    let latest: HashMap<i64, DbMetricRow> =
        state.db.latest_db_metrics(&ids).await?.into_iter().map(|m| (m.database_id, m)).collect();
    let items: Vec<Value> = rows.iter().map(|d| database_json(d, latest.get(&d.id))).collect();
    Ok(Json(json!({"databases": items, "total": items.len()})))
}

async fn database_or_404(state: &AppState, id: i64) -> Result<DatabaseRow, ApiError> {
    state.db.database_by_id(id).await?.ok_or_else(|| ApiError::not_found("Database not found"))
}

/// One monitored database with its latest metrics.
#[utoipa::path(get, path = "/api/v1/databases/{id}", tag = "databases", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "database"), (status = 404, description = "Database not found")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let d = database_or_404(&state, id).await?;
    let latest = state.db.latest_db_metrics(&[id]).await?;
    Ok(Json(database_json(&d, latest.first())))
}

/// The latest slow queries reported for the database.
#[utoipa::path(get, path = "/api/v1/databases/{id}/slow-queries", tag = "databases", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "{database_id, slow_queries: [...]}")))]
pub async fn slow_queries(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let d = database_or_404(&state, id).await?;
    let list = d
        .slow_queries_detail
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(json!([]));
    Ok(Json(json!({"database_id": id, "slow_queries": list})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// 1h (default), 6h, 24h, 7d or 30d
    pub period: Option<String>,
}

/// Metrics history of the database over a period.
#[utoipa::path(get, path = "/api/v1/databases/{id}/metrics", tag = "databases", security(("bearer" = [])),
    params(("id" = i64, Path), PeriodQuery), responses((status = 200, description = "array of metric points")))]
pub async fn metrics(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<PeriodQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let hours = match q.period.as_deref().unwrap_or("1h") {
        "1h" => 1,
        "6h" => 6,
        "24h" | "1d" => 24,
        "7d" => 24 * 7,
        "30d" => 24 * 30,
        _ => {
            return Err(ApiError::field(
                &["query", "period"],
                "enum",
                "Input should be '1h', '6h', '24h', '7d' or '30d'",
            ))
        }
    };
    database_or_404(&state, id).await?;
    let since = state.clock.now() - chrono::Duration::hours(hours);
    Ok(Json(state.db.db_metrics_since(id, since).await?.iter().map(metrics_json).collect()))
}

// ---------------------------------------------------------------- targets (admin)

#[derive(Debug, Deserialize, ToSchema)]
pub struct TargetIn {
    pub host_id: i64,
    /// postgres, mysql, oracle, ...
    pub db_type: String,
    pub db_host: String,
    pub db_port: i64,
    pub db_name: String,
    pub username: String,
    /// Write-only; omitted on update keeps the stored password.
    pub password: Option<String>,
    pub interval_sec: Option<i64>,
    pub connect_timeout_sec: Option<i64>,
    pub is_active: Option<bool>,
    #[schema(value_type = Object)]
    pub extra_config: Option<Value>,
}

fn target_json(t: &DbTargetRow) -> Value {
    json!({
        "id": t.id, "host_id": t.host_id, "db_type": t.db_type, "db_host": t.db_host, "db_port": t.db_port,
        "db_name": t.db_name, "username": t.username, "has_password": !t.password.is_empty(),
        "interval_sec": t.interval_sec, "connect_timeout_sec": t.connect_timeout_sec, "is_active": t.is_active,
        "extra_config": t.extra_config.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
        "created_at": t.created_at, "updated_at": t.updated_at,
    })
}

async fn target_fields(
    state: &AppState,
    b: TargetIn,
    old_password: Option<String>,
) -> Result<DbTargetFields, ApiError> {
    let text = |name: &str, v: &str, max: usize| -> Result<String, ApiError> {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > max {
            return Err(ApiError::field(
                &["body", name],
                "string_length",
                format!("String should have 1 to {max} characters"),
            ));
        }
        Ok(v.to_string())
    };
    if state.db.host_by_id(b.host_id).await?.is_none() {
        return Err(ApiError::field(
            &["body", "host_id"],
            "value_error",
            format!("host {} does not exist", b.host_id),
        ));
    }
    if !(1..=65_535).contains(&b.db_port) {
        return Err(ApiError::field(
            &["body", "db_port"],
            "value_error",
            "Input should be between 1 and 65535",
        ));
    }
    let interval_sec = b.interval_sec.unwrap_or(60);
    if !(5..=86_400).contains(&interval_sec) {
        return Err(ApiError::field(
            &["body", "interval_sec"],
            "value_error",
            "Input should be between 5 and 86400",
        ));
    }
    let connect_timeout_sec = b.connect_timeout_sec.unwrap_or(10);
    if !(1..=300).contains(&connect_timeout_sec) {
        return Err(ApiError::field(
            &["body", "connect_timeout_sec"],
            "value_error",
            "Input should be between 1 and 300",
        ));
    }
    let extra_config = match b.extra_config {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(_) => {
            return Err(ApiError::field(
                &["body", "extra_config"],
                "type_error",
                "extra_config must be an object",
            ))
        }
    };
    let password = match (b.password, old_password) {
        (Some(p), _) => p,
        (None, Some(old)) => old,
        (None, None) => {
            return Err(ApiError::field(&["body", "password"], "missing", "Field required"))
        }
    };
    Ok(DbTargetFields {
        host_id: b.host_id,
        db_type: text("db_type", &b.db_type, 32)?.to_ascii_lowercase(),
        db_host: text("db_host", &b.db_host, 255)?,
        db_port: b.db_port,
        db_name: text("db_name", &b.db_name, 255)?,
        username: text("username", &b.username, 255)?,
        password,
        interval_sec,
        connect_timeout_sec,
        is_active: b.is_active.unwrap_or(true),
        extra_config,
    })
}

/// Database targets (no passwords).
#[utoipa::path(get, path = "/api/v1/databases/targets", tag = "databases", security(("bearer" = [])),
    responses((status = 200, description = "array of targets")))]
pub async fn list_targets(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(state.db.list_db_targets(None, false).await?.iter().map(target_json).collect()))
}

/// Create a database target for a host's agent.
#[utoipa::path(post, path = "/api/v1/databases/targets", tag = "databases", security(("bearer" = [])),
    request_body = TargetIn, responses((status = 201, description = "target (no password)")))]
pub async fn create_target(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppJson(body): AppJson<TargetIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let fields = target_fields(&state, body, None).await?;
    let t = state.db.create_db_target(&fields, state.clock.now()).await?;
    audit(
        &state,
        Audit::new(Some(admin.id), "create_db_target", "db_target")
            .resource(t.id)
            .ip(&ip)
            .detail(json!({"host_id": t.host_id, "db_type": t.db_type, "db_name": t.db_name})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(target_json(&t))))
}

/// Replace a database target; an omitted password keeps the stored one.
#[utoipa::path(put, path = "/api/v1/databases/targets/{id}", tag = "databases", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = TargetIn,
    responses((status = 200, description = "target (no password)"), (status = 404, description = "Database target not found")))]
pub async fn update_target(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<TargetIn>,
) -> Result<Json<Value>, ApiError> {
    let old = state
        .db
        .db_target_by_id(id)
        .await?
        .ok_or_else(|| ApiError::not_found("Database target not found"))?;
    let fields = target_fields(&state, body, Some(old.password)).await?;
    let t = state
        .db
        .update_db_target(id, &fields, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("Database target not found"))?;
    audit(&state, Audit::new(Some(admin.id), "update_db_target", "db_target").resource(id).ip(&ip))
        .await;
    Ok(Json(target_json(&t)))
}

/// Delete a database target.
#[utoipa::path(delete, path = "/api/v1/databases/targets/{id}", tag = "databases", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, description = "Database target not found")))]
pub async fn delete_target(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    if !state.db.delete_db_target(id).await? {
        return Err(ApiError::not_found("Database target not found"));
    }
    audit(&state, Audit::new(Some(admin.id), "delete_db_target", "db_target").resource(id).ip(&ip))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
