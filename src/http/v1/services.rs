//! Services (seed 000 §Service Monitoring): list with stats and per-host grouping,
//! detail with uptime, check history.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::extract::{AppPath, AppQuery, AuthUser, PageQuery};
use crate::http::state::AppState;
use crate::storage::services::{CheckRow, ServiceFilter, ServiceRow};

/// Uptime is computed over this window.
const UPTIME_HOURS: i64 = 24;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServicesQuery {
    /// up, down or unknown
    pub status: Option<String>,
    /// middleware, business or infrastructure
    pub category: Option<String>,
    pub host_id: Option<i64>,
    pub group_by_host: Option<bool>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

async fn services_json(state: &AppState, rows: &[ServiceRow]) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let since = state.clock.now() - chrono::Duration::hours(UPTIME_HOURS);
    let uptime: HashMap<i64, f64> =
        state.db.uptime_percent(&ids, since).await?.into_iter().collect();
    let mut host_ids: Vec<i64> = rows.iter().map(|s| s.host_id).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    let hosts: HashMap<i64, Value> = state
        .db
        .hosts_by_ids(&host_ids)
        .await?
        .into_iter()
        .map(|h| (h.id, json!({"id": h.id, "hostname": h.hostname, "ip": h.ip_address})))
        .collect();
    Ok(rows
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "name": s.name, "type": s.kind, "target": s.target, "host_id": s.host_id,
                "check_interval": s.check_interval, "timeout": s.timeout, "category": s.category,
                "status": s.status, "last_error": s.last_error, "status_changed_at": s.status_changed_at,
                "uptime_percent": uptime.get(&s.id).map(|p| (p * 100.0).round() / 100.0),
                "host_info": hosts.get(&s.host_id).cloned().unwrap_or(Value::Null),
                "created_at": s.created_at, "updated_at": s.updated_at,
            })
        })
        .collect())
}

/// List services with overall stats; `group_by_host` adds `host_groups`.
#[utoipa::path(get, path = "/api/v1/services", tag = "services", security(("bearer" = [])), params(ServicesQuery),
    responses((status = 200, description = "{items, total, page, page_size, stats, host_groups}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<ServicesQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(20, 100)?;
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if !["up", "down", "unknown"].contains(&s) {
            return Err(ApiError::field(
                &["query", "status"],
                "enum",
                "Input should be 'up', 'down' or 'unknown'",
            ));
        }
    }
    if let Some(c) = q.category.as_deref().filter(|s| !s.is_empty()) {
        if !["middleware", "business", "infrastructure"].contains(&c) {
            return Err(ApiError::field(
                &["query", "category"],
                "enum",
                "Input should be 'middleware', 'business' or 'infrastructure'",
            ));
        }
    }
    let filter = ServiceFilter {
        status: q.status.filter(|s| !s.is_empty()),
        category: q.category.filter(|s| !s.is_empty()),
        host_id: q.host_id,
    };
    let p = state.db.list_services(&filter, page, page_size).await?;
    let items = services_json(&state, &p.items).await?;
    let st = state.db.service_stats().await?;
    let mut host_groups = Vec::new();
    if q.group_by_host.unwrap_or(false) {
        let mut groups: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        for item in &items {
            groups
                .entry(item["host_id"].as_i64().unwrap_or_default())
                .or_default()
                .push(item.clone());
        }
        for (host_id, services) in groups {
            let info = services[0]["host_info"].clone();
            host_groups.push(json!({
                "host_id": host_id, "hostname": info["hostname"], "ip": info["ip"],
                "service_count": services.len(), "services": services,
            }));
        }
    }
    Ok(Json(json!({
        "items": items, "total": p.total, "page": page, "page_size": page_size,
        "stats": {"total": st.total, "healthy": st.healthy, "unhealthy": st.unhealthy,
                  "middleware": st.middleware, "business": st.business, "infrastructure": st.infrastructure},
        "host_groups": host_groups,
    })))
}

async fn service_or_404(state: &AppState, id: i64) -> Result<ServiceRow, ApiError> {
    state.db.service_by_id(id).await?.ok_or_else(|| ApiError::not_found("Service not found"))
}

/// One service with its uptime over the last 24 hours.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "service"), (status = 404, description = "Service not found")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let s = service_or_404(&state, id).await?;
    let mut items = services_json(&state, std::slice::from_ref(&s)).await?;
    Ok(Json(items.remove(0)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChecksQuery {
    /// 1–720 (default 24)
    pub hours: Option<i64>,
}

/// Check history, newest first.
#[utoipa::path(get, path = "/api/v1/services/{id}/checks", tag = "services", security(("bearer" = [])),
    params(("id" = i64, Path), ChecksQuery), responses((status = 200, body = Vec<CheckRow>)))]
pub async fn checks(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<ChecksQuery>,
) -> Result<Json<Vec<CheckRow>>, ApiError> {
    let hours = q.hours.unwrap_or(24);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::field(
            &["query", "hours"],
            "value_error",
            "Input should be between 1 and 720",
        ));
    }
    service_or_404(&state, id).await?;
    let since = state.clock.now() - chrono::Duration::hours(hours);
    Ok(Json(state.db.service_checks(id, since).await?))
}
