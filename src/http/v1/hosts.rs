//! Hosts (seed 000 §Host Management): list, detail with latest metrics, metrics history.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use warden_actors::ids::HostId;

use crate::http::error::ApiError;
use crate::http::extract::{AppPath, AppQuery, AuthUser};
use crate::http::state::AppState;
use crate::storage::hosts::{HostFilter, HostRow, MetricPoint};

fn parse_json(s: Option<&str>) -> Value {
    s.and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null)
}

/// A host as the API shows it; live fields (status, latest metrics, agent presence)
/// come from its actor's live view.
pub fn host_json(state: &AppState, h: &HostRow, detail: bool) -> Value {
    let live = state.runtime.registry.host(HostId(h.id)).map(|e| e.live);
    let status = live.as_ref().map_or(h.status.clone(), |l| l.status().as_str().to_string());
    let latest = live.as_ref().and_then(|l| l.metrics()).map_or(Value::Null, |m| json!(*m));
    let last_heartbeat = live.as_ref().and_then(|l| l.last_seen()).or(h.last_heartbeat);
    let mut v = json!({
        "id": h.id, "hostname": h.hostname, "display_name": h.display_name, "ip_address": h.ip_address,
        "private_ip": h.private_ip, "public_ip": h.public_ip, "os": h.os, "os_version": h.os_version,
        "arch": h.arch, "cpu_cores": h.cpu_cores, "memory_total_mb": h.memory_total_mb,
        "agent_version": h.agent_version, "tags": parse_json(h.tags.as_deref()), "group_name": h.group_name,
        "status": status, "last_heartbeat": last_heartbeat,
        "agent_connected": live.as_ref().is_some_and(|l| l.agent_connected()),
        "latest_metrics": latest, "created_at": h.created_at, "updated_at": h.updated_at,
    });
    if detail {
        let partitions = live.as_ref().and_then(|l| l.partitions());
        v["network_info"] = parse_json(h.network_info.as_deref());
        v["disk_partitions"] = parse_json(partitions.as_deref().or(h.disk_partitions.as_deref()));
        if v["disk_partitions"].is_null() {
            v["disk_partitions"] = json!([]);
        }
    }
    v
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HostsQuery {
    /// online or offline
    pub status: Option<String>,
    pub group_name: Option<String>,
    /// Matches hostname, display name or IP (case-insensitive substring).
    pub search: Option<String>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

/// List hosts.
#[utoipa::path(get, path = "/api/v1/hosts", tag = "hosts", security(("bearer" = [])), params(HostsQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<HostsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) =
        crate::http::extract::PageQuery { page: q.page, page_size: q.page_size }
            .resolve(20, 100)?;
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if s != "online" && s != "offline" {
            return Err(ApiError::field(
                &["query", "status"],
                "enum",
                "Input should be 'online' or 'offline'",
            ));
        }
    }
    let filter = HostFilter {
        status: q.status.filter(|s| !s.is_empty()),
        group_name: q.group_name.filter(|s| !s.is_empty()),
        search: q.search.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
    };
    let p = state.db.list_hosts(&filter, page, page_size).await?;
    let items: Vec<Value> = p.items.iter().map(|h| host_json(&state, h, false)).collect();
    Ok(Json(json!({"items": items, "total": p.total, "page": page, "page_size": page_size})))
}

async fn host_or_404(state: &AppState, id: i64) -> Result<HostRow, ApiError> {
    state.db.host_by_id(id).await?.ok_or_else(|| ApiError::not_found("Host not found"))
}

/// One host with latest metrics, disk partitions and network info.
#[utoipa::path(get, path = "/api/v1/hosts/{id}", tag = "hosts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "host"), (status = 404, description = "Host not found")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let h = host_or_404(&state, id).await?;
    Ok(Json(host_json(&state, &h, true)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// 1–720 (default 1)
    pub hours: Option<i64>,
    /// raw, 5min, 1h or 1d (default raw)
    pub interval: Option<String>,
}

/// Parses an interval name into a bucket length; `None` for raw.
pub fn bucket_secs(interval: &str) -> Result<Option<i64>, ApiError> {
    match interval {
        "raw" => Ok(None),
        "5min" => Ok(Some(300)),
        "1h" => Ok(Some(3600)),
        "1d" => Ok(Some(86_400)),
        _ => Err(ApiError::field(
            &["query", "interval"],
            "enum",
            "Input should be 'raw', '5min', '1h' or '1d'",
        )),
    }
}

/// Metrics history: raw points or SQL-side averages per bucket.
#[utoipa::path(get, path = "/api/v1/hosts/{id}/metrics", tag = "hosts", security(("bearer" = [])),
    params(("id" = i64, Path), MetricsQuery), responses((status = 200, body = Vec<MetricPoint>)))]
pub async fn metrics(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
    AppQuery(q): AppQuery<MetricsQuery>,
) -> Result<Json<Vec<MetricPoint>>, ApiError> {
    let hours = q.hours.unwrap_or(1);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::field(
            &["query", "hours"],
            "value_error",
            "Input should be between 1 and 720",
        ));
    }
    let bucket = bucket_secs(q.interval.as_deref().unwrap_or("raw"))?;
    host_or_404(&state, id).await?;
    let since = state.clock.now() - chrono::Duration::hours(hours);
    Ok(Json(state.db.host_metrics(id, since, bucket).await?))
}
