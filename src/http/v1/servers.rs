//! Servers and server (service) groups (seed 000 §Server Management, §Server Groups),
//! and the nginx upstreams agents report for their server.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::ids::HostId;

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{
    one_of, AgentAuth, AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser, PageQuery,
};
use crate::http::state::AppState;
use crate::storage::inventory::{
    GroupFields, GroupRow, InventoryError, MemberFields, MemberRow, ServerFields, ServerRow,
    UpstreamFields, UpstreamRow,
};
use crate::storage::stored_json;

const SERVER_STATUSES: &[&str] = &["online", "offline", "unknown", "maintenance"];
const MEMBER_STATUSES: &[&str] = &["running", "stopped", "error"];
const UPSTREAM_STATUSES: &[&str] = &["up", "down", "backup"];

fn field(loc: &[&str], kind: &str, msg: impl Into<String>) -> ApiError {
    let mut full = vec!["body"];
    full.extend_from_slice(loc);
    ApiError::field(&full, kind, msg)
}

/// A trimmed optional text of at most `max` characters; empty means absent.
fn text(loc: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(v) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(field(
            &[loc],
            "string_too_long",
            format!("String should have at most {max} characters"),
        ));
    }
    Ok(Some(v))
}

fn round2(v: Option<f64>) -> Option<f64> {
    v.map(|v| (v * 100.0).round() / 100.0)
}

// ---------------------------------------------------------------- servers

/// A server as the API shows it; a server linked to an agent host shows the host's
/// live status.
pub fn server_json(state: &AppState, s: &ServerRow) -> Value {
    let live = s.host_id.and_then(|id| state.runtime.registry.host(HostId(id))).map(|e| e.live);
    let status = live.as_ref().map_or(s.status.clone(), |l| l.status().as_str().to_string());
    json!({
        "id": s.id, "hostname": s.hostname, "ip_address": s.ip_address, "label": s.label, "os": s.os,
        "tags": stored_json(s.tags.as_deref()), "status": status, "last_seen": s.last_seen,
        "host_id": s.host_id, "service_count": s.service_count,
        "cpu_avg": round2(s.cpu_avg), "mem_avg": round2(s.mem_avg),
        "created_at": s.created_at, "updated_at": s.updated_at,
    })
}

fn upstream_json(u: &UpstreamRow) -> Value {
    json!({
        "id": u.id, "server_id": u.server_id, "upstream_name": u.upstream_name,
        "backend_address": u.backend_address, "weight": u.weight, "status": u.status, "parsed_at": u.parsed_at,
    })
}

/// One service instance (a group's service on a server).
pub fn member_json(m: &MemberRow) -> Value {
    json!({
        "id": m.id, "server_id": m.server_id, "group_id": m.group_id, "group_name": m.group_name,
        "group_category": m.group_category, "hostname": m.hostname, "port": m.port, "pid": m.pid,
        "status": m.status, "cpu_percent": m.cpu_percent, "mem_mb": m.mem_mb,
        "created_at": m.created_at, "updated_at": m.updated_at,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ServersQuery {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    /// online, offline, unknown or maintenance
    pub status: Option<String>,
    /// Part of the hostname, label or IP address (case-insensitive).
    pub search: Option<String>,
}

/// Servers, newest first, with service count and the mean CPU and memory of their
/// services.
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers", security(("bearer" = [])), params(ServersQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn list(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<ServersQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(20, 100)?;
    let status = q.status.filter(|s| !s.is_empty());
    let search = q.search.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let found =
        state.db.list_servers(status.as_deref(), search.as_deref(), page, page_size).await?;
    let items: Vec<Value> = found.items.iter().map(|s| server_json(&state, s)).collect();
    Ok(Json(json!({"items": items, "total": found.total, "page": page, "page_size": page_size})))
}

async fn server_or_404(state: &AppState, id: i64) -> Result<ServerRow, ApiError> {
    state.db.server_by_id(id).await?.ok_or_else(|| ApiError::not_found("服务器不存在"))
}

/// A server with the services it runs and its nginx upstreams (and, when linked to an
/// agent host, that host's latest metrics). `upstreams` repeats `nginx_upstreams` for
/// the legacy topology clients.
pub async fn server_detail(state: &AppState, id: i64) -> Result<Value, ApiError> {
    let s = server_or_404(state, id).await?;
    let mut server = server_json(state, &s);
    let live = s.host_id.and_then(|h| state.runtime.registry.host(HostId(h))).map(|e| e.live);
    server["latest_metrics"] = live.and_then(|l| l.metrics()).map_or(Value::Null, |m| json!(*m));
    let services: Vec<Value> =
        state.db.members(Some(id), None).await?.iter().map(member_json).collect();
    let upstreams: Vec<Value> =
        state.db.upstreams(Some(id)).await?.iter().map(upstream_json).collect();
    Ok(
        json!({"server": server, "services": services, "nginx_upstreams": upstreams, "upstreams": upstreams}),
    )
}

/// One server with its services and nginx upstreams.
#[utoipa::path(get, path = "/api/v1/servers/{id}", tag = "servers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "{server, services, nginx_upstreams}"), (status = 404, description = "服务器不存在")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(server_detail(&state, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpstreamIn {
    pub upstream_name: Option<String>,
    pub backend_address: Option<String>,
    /// 1–1000 (default 1)
    pub weight: Option<i64>,
    /// up, down or backup (default up)
    pub status: Option<String>,
}

/// Checks a list of upstreams; a pair (name, address) may appear once.
fn check_upstreams(loc: &str, list: Vec<UpstreamIn>) -> Result<Vec<UpstreamFields>, ApiError> {
    let mut out: Vec<UpstreamFields> = Vec::with_capacity(list.len());
    for (i, u) in list.into_iter().enumerate() {
        let i = i.to_string();
        let name = u.upstream_name.map(|s| s.trim().to_string()).unwrap_or_default();
        if name.is_empty() || name.chars().count() > 255 {
            return Err(field(
                &[loc, &i, "upstream_name"],
                "string_length",
                "String should have 1 to 255 characters",
            ));
        }
        let address = u.backend_address.map(|s| s.trim().to_string()).unwrap_or_default();
        let (host, _) = warden_actors::topology::split_address(&address);
        if address.is_empty()
            || address.chars().count() > 255
            || host.is_empty()
            || address.contains(char::is_whitespace)
        {
            return Err(field(
                &[loc, &i, "backend_address"],
                "value_error",
                "backend_address must be host or host:port (e.g. 10.0.0.2:8001)",
            ));
        }
        let weight = u.weight.unwrap_or(1);
        if !(1..=1000).contains(&weight) {
            return Err(field(
                &[loc, &i, "weight"],
                "value_error",
                "Input should be between 1 and 1000",
            ));
        }
        let status = u.status.unwrap_or_else(|| "up".into());
        one_of(&["body", loc, &i, "status"], &status, UPSTREAM_STATUSES)?;
        if out.iter().any(|o| o.upstream_name == name && o.backend_address == address) {
            return Err(field(
                &[loc, &i],
                "value_error",
                format!("upstream {name} lists {address} twice"),
            ));
        }
        out.push(UpstreamFields { upstream_name: name, backend_address: address, weight, status });
    }
    Ok(out)
}

/// A server as created or updated; on update, absent fields keep their values and a
/// given `nginx_upstreams` list replaces the stored one.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ServerIn {
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    pub label: Option<String>,
    pub os: Option<String>,
    #[schema(value_type = Object)]
    pub tags: Option<Value>,
    /// online, offline, unknown or maintenance; a server linked to an agent host shows
    /// the host's status instead.
    pub status: Option<String>,
    pub nginx_upstreams: Option<Vec<UpstreamIn>>,
}

fn check_server(
    body: ServerIn,
    current: Option<&ServerRow>,
) -> Result<(ServerFields, Option<Vec<UpstreamFields>>), ApiError> {
    let hostname = match (body.hostname, current) {
        (Some(h), _) => h.trim().to_string(),
        (None, Some(c)) => c.hostname.clone(),
        (None, None) => return Err(field(&["hostname"], "missing", "Field required")),
    };
    if hostname.is_empty()
        || hostname.chars().count() > 255
        || hostname.contains(char::is_whitespace)
    {
        return Err(field(
            &["hostname"],
            "value_error",
            "hostname must be 1 to 255 characters without spaces",
        ));
    }
    let ip_address = match body.ip_address {
        Some(ip) => {
            let ip = ip.trim().to_string();
            if ip.is_empty() {
                None
            } else if ip.parse::<IpAddr>().is_err() {
                return Err(field(
                    &["ip_address"],
                    "ip_any_address",
                    format!("value is not a valid IPv4 or IPv6 address: {ip}"),
                ));
            } else {
                Some(ip)
            }
        }
        None => current.and_then(|c| c.ip_address.clone()),
    };
    let keep = |new: Option<String>, old: Option<&String>| new.or_else(|| old.cloned());
    let label = keep(text("label", body.label, 255)?, current.and_then(|c| c.label.as_ref()));
    let os = keep(text("os", body.os, 255)?, current.and_then(|c| c.os.as_ref()));
    let tags = match body.tags {
        Some(Value::Null) => None,
        Some(t @ (Value::Object(_) | Value::Array(_))) => Some(t.to_string()),
        Some(_) => return Err(field(&["tags"], "value_error", "tags must be an object or a list")),
        None => current.and_then(|c| c.tags.clone()),
    };
    let status = match body.status {
        Some(s) => {
            one_of(&["body", "status"], &s, SERVER_STATUSES)?;
            s
        }
        // The stored status, not the linked host's (which is only ever shown).
        None => current.map_or("unknown".to_string(), |c| c.stored_status.clone()),
    };
    let upstreams =
        body.nginx_upstreams.map(|u| check_upstreams("nginx_upstreams", u)).transpose()?;
    Ok((ServerFields { hostname, ip_address, label, os, tags, status }, upstreams))
}

fn duplicate_hostname(hostname: &str) -> ApiError {
    field(&["hostname"], "value_error", format!("hostname '{hostname}' 已存在"))
}

fn inventory_error(e: InventoryError, duplicate: impl FnOnce() -> ApiError) -> ApiError {
    match e {
        InventoryError::Duplicate => duplicate(),
        InventoryError::Db(e) => e.into(),
    }
}

/// Register a server (422 when the hostname is taken or the IP address is invalid).
#[utoipa::path(post, path = "/api/v1/servers", tag = "servers", security(("bearer" = [])), request_body = ServerIn,
    responses((status = 201, description = "server"), (status = 422, description = "bad field or duplicate hostname")))]
pub async fn create(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<ServerIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (fields, upstreams) = check_server(body, None)?;
    let id = state
        .db
        .create_server(&fields, upstreams.as_deref(), state.clock.now())
        .await
        .map_err(|e| inventory_error(e, || duplicate_hostname(&fields.hostname)))?;
    audit(
        &state,
        Audit::new(Some(user.id), "create_server", "server")
            .resource(id)
            .ip(&ip)
            .detail(json!({"hostname": fields.hostname})),
    )
    .await;
    let row = server_or_404(&state, id).await?;
    Ok((StatusCode::CREATED, Json(server_json(&state, &row))))
}

/// Update a server; absent fields keep their values.
#[utoipa::path(put, path = "/api/v1/servers/{id}", tag = "servers", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = ServerIn, responses((status = 200, description = "server"), (status = 404, description = "服务器不存在"),
    (status = 422, description = "bad field or duplicate hostname")))]
pub async fn update(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<ServerIn>,
) -> Result<Json<Value>, ApiError> {
    let current = server_or_404(&state, id).await?;
    let (fields, upstreams) = check_server(body, Some(&current))?;
    let found = state
        .db
        .update_server(id, &fields, upstreams.as_deref(), state.clock.now())
        .await
        .map_err(|e| inventory_error(e, || duplicate_hostname(&fields.hostname)))?;
    if !found {
        return Err(ApiError::not_found("服务器不存在"));
    }
    audit(&state, Audit::new(Some(user.id), "update_server", "server").resource(id).ip(&ip)).await;
    let row = server_or_404(&state, id).await?;
    Ok(Json(server_json(&state, &row)))
}

/// Delete a server, the services it runs and its upstreams.
pub async fn remove_server(
    state: &AppState,
    user_id: i64,
    ip: &ClientIp,
    id: i64,
) -> Result<String, ApiError> {
    let Some(hostname) = state.db.delete_server(id).await? else {
        return Err(ApiError::not_found("服务器不存在"));
    };
    audit(
        state,
        Audit::new(Some(user_id), "delete_server", "server")
            .resource(id)
            .ip(ip)
            .detail(json!({"hostname": hostname})),
    )
    .await;
    Ok(hostname)
}

/// Delete a server; its server services and nginx upstreams go with it.
#[utoipa::path(delete, path = "/api/v1/servers/{id}", tag = "servers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "{detail: 服务器 'x' 已删除}"), (status = 404, description = "服务器不存在")))]
pub async fn delete(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let hostname = remove_server(&state, user.id, &ip, id).await?;
    Ok(Json(json!({"detail": format!("服务器 '{hostname}' 已删除")})))
}

// ---------------------------------------------------------------- server groups

fn group_json(g: &GroupRow) -> Value {
    json!({
        "id": g.id, "name": g.name, "category": g.category, "description": g.description, "color": g.color,
        "server_count": g.server_count, "created_at": g.created_at, "updated_at": g.updated_at,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GroupsQuery {
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    pub category: Option<String>,
}

/// Service groups, oldest first, with how many servers run each.
#[utoipa::path(get, path = "/api/v1/server-groups", tag = "servers", security(("bearer" = [])), params(GroupsQuery),
    responses((status = 200, description = "{items, total, page, page_size}")))]
pub async fn list_groups(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(q): AppQuery<GroupsQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(50, 200)?;
    let category = q.category.filter(|c| !c.is_empty());
    let found = state.db.list_groups(category.as_deref(), page, page_size).await?;
    let items: Vec<Value> = found.items.iter().map(group_json).collect();
    Ok(Json(json!({"items": items, "total": found.total, "page": page, "page_size": page_size})))
}

async fn group_or_404(state: &AppState, id: i64) -> Result<GroupRow, ApiError> {
    state.db.group_by_id(id).await?.ok_or_else(|| ApiError::not_found("服务组不存在"))
}

/// A group with the servers that run it and each service instance.
#[utoipa::path(get, path = "/api/v1/server-groups/{id}", tag = "servers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "group with servers and services"), (status = 404, description = "服务组不存在")))]
pub async fn get_group(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let group = group_or_404(&state, id).await?;
    let members = state.db.members(None, Some(id)).await?;
    let mut servers: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for m in &members {
        if seen.insert(m.server_id) {
            if let Some(s) = state.db.server_by_id(m.server_id).await? {
                servers.push(server_json(&state, &s));
            }
        }
    }
    let mut v = group_json(&group);
    v["servers"] = Value::Array(servers);
    v["services"] = Value::Array(members.iter().map(member_json).collect());
    Ok(Json(v))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupIn {
    pub name: Option<String>,
    /// Free text such as database, cache, web, mq (default app).
    pub category: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
}

fn check_group(body: GroupIn, current: Option<&GroupRow>) -> Result<GroupFields, ApiError> {
    let name = match (body.name, current) {
        (Some(n), _) => n.trim().to_string(),
        (None, Some(c)) => c.name.clone(),
        (None, None) => return Err(field(&["name"], "missing", "Field required")),
    };
    if name.is_empty() || name.chars().count() > 100 {
        return Err(field(&["name"], "string_length", "String should have 1 to 100 characters"));
    }
    let category = text("category", body.category, 50)?
        .or_else(|| current.map(|c| c.category.clone()))
        .unwrap_or_else(|| "app".into());
    let description = text("description", body.description, 1000)?
        .or_else(|| current.and_then(|c| c.description.clone()));
    let color = text("color", body.color, 32)?.or_else(|| current.and_then(|c| c.color.clone()));
    Ok(GroupFields { name, category, description, color })
}

fn duplicate_group(name: &str) -> ApiError {
    ApiError::conflict(format!("服务组 '{name}' 已存在"))
}

/// Create a service group (409 when the name is taken).
#[utoipa::path(post, path = "/api/v1/server-groups", tag = "servers", security(("bearer" = [])), request_body = GroupIn,
    responses((status = 201, description = "group"), (status = 409, description = "name taken")))]
pub async fn create_group(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<GroupIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let fields = check_group(body, None)?;
    let id = state
        .db
        .create_group(&fields, state.clock.now())
        .await
        .map_err(|e| inventory_error(e, || duplicate_group(&fields.name)))?;
    audit(
        &state,
        Audit::new(Some(user.id), "create_server_group", "server_group")
            .resource(id)
            .ip(&ip)
            .detail(json!({"name": fields.name})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(group_json(&group_or_404(&state, id).await?))))
}

/// Update a service group; absent fields keep their values.
#[utoipa::path(put, path = "/api/v1/server-groups/{id}", tag = "servers", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = GroupIn, responses((status = 200, description = "group"), (status = 404, description = "服务组不存在"),
    (status = 409, description = "name taken")))]
pub async fn update_group(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<GroupIn>,
) -> Result<Json<Value>, ApiError> {
    let current = group_or_404(&state, id).await?;
    let fields = check_group(body, Some(&current))?;
    let found = state
        .db
        .update_group(id, &fields, state.clock.now())
        .await
        .map_err(|e| inventory_error(e, || duplicate_group(&fields.name)))?;
    if !found {
        return Err(ApiError::not_found("服务组不存在"));
    }
    audit(
        &state,
        Audit::new(Some(user.id), "update_server_group", "server_group").resource(id).ip(&ip),
    )
    .await;
    Ok(Json(group_json(&group_or_404(&state, id).await?)))
}

/// Delete a service group; its server services go with it.
#[utoipa::path(delete, path = "/api/v1/server-groups/{id}", tag = "servers", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "{detail: 服务组 'x' 已删除}"), (status = 404, description = "服务组不存在")))]
pub async fn delete_group(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let Some(name) = state.db.delete_group(id).await? else {
        return Err(ApiError::not_found("服务组不存在"));
    };
    audit(
        &state,
        Audit::new(Some(user.id), "delete_server_group", "server_group")
            .resource(id)
            .ip(&ip)
            .detail(json!({"name": name})),
    )
    .await;
    Ok(Json(json!({"detail": format!("服务组 '{name}' 已删除")})))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberIn {
    pub server_id: Option<i64>,
    /// 1–65535
    pub port: Option<i64>,
    pub pid: Option<i64>,
    /// running, stopped or error (default running)
    pub status: Option<String>,
    pub cpu_percent: Option<f64>,
    pub mem_mb: Option<f64>,
}

/// Add a server to a group: one service instance (409 when that server already runs
/// the group on that port).
#[utoipa::path(post, path = "/api/v1/server-groups/{id}/servers", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = MemberIn,
    responses((status = 201, description = "server service"), (status = 404, description = "服务组不存在 / 服务器不存在"),
    (status = 409, description = "already in the group")))]
pub async fn add_server(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<MemberIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(server_id) = body.server_id else {
        return Err(field(&["server_id"], "missing", "Field required"));
    };
    if body.port.is_some_and(|p| !(1..=65_535).contains(&p)) {
        return Err(field(&["port"], "value_error", "Input should be between 1 and 65535"));
    }
    if body.pid.is_some_and(|p| p < 0) {
        return Err(field(
            &["pid"],
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        ));
    }
    let status = body.status.unwrap_or_else(|| "running".into());
    one_of(&["body", "status"], &status, MEMBER_STATUSES)?;
    for (name, v) in [("cpu_percent", body.cpu_percent), ("mem_mb", body.mem_mb)] {
        if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(field(
                &[name],
                "greater_than_equal",
                "Input should be a number greater than or equal to 0",
            ));
        }
    }
    group_or_404(&state, id).await?;
    server_or_404(&state, server_id).await?;
    let fields = MemberFields {
        server_id,
        port: body.port,
        pid: body.pid,
        status,
        cpu_percent: body.cpu_percent.unwrap_or(0.0),
        mem_mb: body.mem_mb.unwrap_or(0.0),
    };
    let member_id = state.db.add_member(id, &fields, state.clock.now()).await.map_err(|e| {
        inventory_error(e, || {
            let port = fields.port.map_or("-".to_string(), |p| p.to_string());
            ApiError::conflict(format!("服务器 {server_id} 已在该服务组中 (端口 {port})"))
        })
    })?;
    audit(
        &state,
        Audit::new(Some(user.id), "add_server_to_group", "server_group")
            .resource(id)
            .ip(&ip)
            .detail(json!({"server_id": server_id, "port": fields.port})),
    )
    .await;
    let member =
        state.db.member_by_id(member_id).await?.ok_or_else(|| ApiError::not_found("关联不存在"))?;
    Ok((StatusCode::CREATED, Json(member_json(&member))))
}

/// Remove a server from a group (every instance it runs there).
#[utoipa::path(delete, path = "/api/v1/server-groups/{id}/servers/{server_id}", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path), ("server_id" = i64, Path)),
    responses((status = 200, description = "{detail: 已移除}"), (status = 404, description = "关联不存在")))]
pub async fn remove_server_from_group(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath((id, server_id)): AppPath<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    if state.db.remove_member(id, server_id).await? == 0 {
        return Err(ApiError::not_found("关联不存在"));
    }
    audit(
        &state,
        Audit::new(Some(user.id), "remove_server_from_group", "server_group")
            .resource(id)
            .ip(&ip)
            .detail(json!({"server_id": server_id})),
    )
    .await;
    Ok(Json(json!({"detail": "已移除"})))
}

// ---------------------------------------------------------------- agent upstreams

#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentUpstreamsIn {
    pub host_id: i64,
    /// The complete list of the host's nginx upstream backends; it replaces the stored one.
    pub upstreams: Vec<UpstreamIn>,
}

/// An agent reports its host's nginx upstreams (parsed from the nginx configuration).
/// The host's server (same hostname) is created when missing; the list replaces the
/// stored one.
#[utoipa::path(post, path = "/api/v1/agent/nginx-upstreams", tag = "agent", security(("agent_token" = [])),
    request_body = AgentUpstreamsIn,
    responses((status = 200, description = "{status: ok, server_id, count}"), (status = 404, description = "Host not found"),
    (status = 422, description = "bad upstream")))]
pub async fn agent_upstreams(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<AgentUpstreamsIn>,
) -> Result<Json<Value>, ApiError> {
    super::agent::owned_host(&state, agent, body.host_id)?;
    if body.upstreams.len() > 10_000 {
        return Err(field(&["upstreams"], "too_long", "List should have at most 10000 items"));
    }
    let upstreams = check_upstreams("upstreams", body.upstreams)?;
    let host = state
        .db
        .host_by_id(body.host_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Host not found"))?;
    let now = state.clock.now();
    let ip = host.ip_address.as_deref().or(host.private_ip.as_deref());
    let server_id = state.db.server_for_host(&host.hostname, ip, host.os.as_deref(), now).await?;
    state
        .db
        .replace_upstreams(server_id, &upstreams, now)
        .await
        .map_err(|e| inventory_error(e, || ApiError::conflict("duplicate upstream")))?;
    Ok(Json(json!({"status": "ok", "server_id": server_id, "count": upstreams.len()})))
}
