//! Service topology (seed 000 §Service Topology): the dependency graph with custom or
//! inferred edges, saved layouts, dependency editing, suggestions, the multi-server
//! overview and the legacy `/topology/servers*` and `/topology/service-groups` views.

use std::collections::{BTreeMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use warden_actors::ai::root_cause::NeighbourState;
use warden_actors::topology::{
    infer_edges, port_of, server_edges, Edge, ServerRef, ServiceNode, UpstreamRef,
};

use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{AppJson, AppPath, AppQuery, AuthUser, ClientIp, OperatorUser};
use crate::http::state::AppState;
use crate::http::v1::servers::{self, server_json, ServerIn};
use crate::storage::stored_json;
use crate::storage::topology::{DependencyFields, DependencyRow, TopologyServiceRow};

const DEPENDENCY_TYPES: &[&str] = &["calls", "depends_on", "publishes_to"];
const MAX_POSITIONS: usize = 10_000;

fn service_node(s: &TopologyServiceRow) -> ServiceNode {
    let mut addresses = vec![s.hostname.to_ascii_lowercase()];
    for ip in [&s.ip_address, &s.private_ip, &s.public_ip].into_iter().flatten() {
        addresses.push(ip.to_ascii_lowercase());
    }
    // A check on localhost names the service's own host.
    let (target_host, _) = warden_actors::topology::split_address(&s.target);
    if !target_host.is_empty() && !matches!(target_host.as_str(), "localhost" | "127.0.0.1" | "::1")
    {
        addresses.push(target_host);
    }
    ServiceNode {
        id: s.id,
        name: s.name.clone(),
        kind: s.kind.clone(),
        host_id: s.host_id,
        host_addresses: addresses,
        port: port_of(&s.target),
    }
}

fn dependency_json(d: &DependencyRow) -> Value {
    json!({
        "id": d.id, "source": d.source_service_id, "target": d.target_service_id,
        "source_service_id": d.source_service_id, "target_service_id": d.target_service_id,
        "type": d.dependency_type, "dependency_type": d.dependency_type,
        "description": d.description.clone().unwrap_or_default(), "manual": true, "created_at": d.created_at,
    })
}

fn inferred_json(e: &Edge) -> Value {
    json!({"source": e.source, "target": e.target, "type": e.kind, "description": e.description,
           "manual": false, "via": e.via})
}

/// The services as graph nodes and the edges Warden would infer between them.
async fn inferred(
    state: &AppState,
) -> Result<(Vec<TopologyServiceRow>, Vec<ServiceNode>, Vec<Edge>), ApiError> {
    let services = state.db.topology_services().await?;
    let nodes: Vec<ServiceNode> = services.iter().map(service_node).collect();
    let servers = state.db.all_servers().await?;
    let upstreams: Vec<UpstreamRef> = state
        .db
        .upstreams(None)
        .await?
        .into_iter()
        .map(|u| UpstreamRef {
            host_id: servers.iter().find(|s| s.id == u.server_id).and_then(|s| s.host_id),
            upstream_name: u.upstream_name,
            backend_address: u.backend_address,
        })
        .collect();
    let edges = infer_edges(&nodes, &upstreams);
    Ok((services, nodes, edges))
}

/// The services linked to any of `services` by an edge of the graph (custom edges when
/// there are any, inferred ones otherwise), with how they are linked: `depends_on` when
/// one of `services` depends on it, `dependent` when it depends on one of them.
pub async fn neighbours(
    state: &AppState,
    services: &[i64],
) -> Result<Vec<NeighbourState>, ApiError> {
    let (rows, _, inferred_edges) = inferred(state).await?;
    let custom = state.db.list_dependencies().await?;
    let edges: Vec<(i64, i64)> = if custom.is_empty() {
        inferred_edges.iter().map(|e| (e.source, e.target)).collect()
    } else {
        custom.iter().map(|d| (d.source_service_id, d.target_service_id)).collect()
    };
    let mut out = Vec::new();
    for (source, target) in edges {
        let (other, relation) = match (services.contains(&source), services.contains(&target)) {
            (true, false) => (target, "depends_on"),
            (false, true) => (source, "dependent"),
            _ => continue,
        };
        if let Some(s) = rows.iter().find(|r| r.id == other) {
            out.push(NeighbourState {
                name: s.name.clone(),
                hostname: Some(s.hostname.clone()),
                status: s.status.clone(),
                relation: relation.to_string(),
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GraphQuery {
    /// Which saved layout to return (default `default`).
    pub layout: Option<String>,
}

/// The service graph: nodes, custom edges (or inferred ones when there are none),
/// hosts, and the caller's saved positions.
#[utoipa::path(get, path = "/api/v1/topology", tag = "topology", security(("bearer" = [])), params(GraphQuery),
    responses((status = 200, description = "{nodes, edges, hosts, saved_positions, has_custom_deps}")))]
pub async fn graph(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(q): AppQuery<GraphQuery>,
) -> Result<Json<Value>, ApiError> {
    let (services, nodes, inferred_edges) = inferred(&state).await?;
    let custom = state.db.list_dependencies().await?;
    let edges: Vec<Value> = if custom.is_empty() {
        inferred_edges.iter().map(inferred_json).collect()
    } else {
        custom.iter().map(dependency_json).collect()
    };
    let node_json: Vec<Value> = services
        .iter()
        .zip(&nodes)
        .map(|(s, n)| {
            json!({"id": s.id, "name": s.name, "type": s.kind, "status": s.status, "group": n.group(),
                   "host": s.hostname, "host_id": s.host_id, "port": n.port})
        })
        .collect();
    let mut hosts = BTreeMap::new();
    for s in &services {
        hosts.entry(s.host_id).or_insert_with(|| s.hostname.clone());
    }
    let hosts: Vec<Value> =
        hosts.into_iter().map(|(id, name)| json!({"id": id, "name": name})).collect();
    let layout = q.layout.unwrap_or_else(|| "default".into());
    let saved = state.db.layout(user.id, &layout).await?;
    Ok(Json(json!({
        "nodes": node_json, "edges": edges, "hosts": hosts,
        "saved_positions": saved.as_deref().map_or(Value::Null, |p| stored_json(Some(p))),
        "has_custom_deps": !custom.is_empty(),
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LayoutIn {
    /// Layout name (default `default`).
    pub name: Option<String>,
    /// Node id → `{x, y}`.
    #[schema(value_type = Object)]
    pub positions: Option<Value>,
}

fn layout_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.map(|n| n.trim().to_string()).unwrap_or_else(|| "default".into());
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field(
            &["body", "name"],
            "string_length",
            "String should have 1 to 100 characters",
        ));
    }
    Ok(name)
}

/// Save the caller's node positions under a layout name.
#[utoipa::path(post, path = "/api/v1/topology/layout", tag = "topology", security(("bearer" = [])), request_body = LayoutIn,
    responses((status = 200, description = "{detail: 布局已保存, name, positions}"), (status = 422, description = "bad positions")))]
pub async fn save_layout(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<LayoutIn>,
) -> Result<Json<Value>, ApiError> {
    let name = layout_name(body.name)?;
    let Some(Value::Object(positions)) = body.positions else {
        return Err(ApiError::field(
            &["body", "positions"],
            "dict_type",
            "positions must be an object of node id → {x, y}",
        ));
    };
    if positions.len() > MAX_POSITIONS {
        return Err(ApiError::field(
            &["body", "positions"],
            "too_long",
            format!("at most {MAX_POSITIONS} positions"),
        ));
    }
    for (node, p) in &positions {
        let ok =
            ["x", "y"].iter().all(|k| p.get(k).and_then(Value::as_f64).is_some_and(f64::is_finite));
        if !ok || node.is_empty() {
            return Err(ApiError::field(
                &["body", "positions", node],
                "value_error",
                format!("position of node '{node}' must be {{\"x\": number, \"y\": number}}"),
            ));
        }
    }
    let positions = Value::Object(positions);
    state.db.save_layout(user.id, &name, &positions.to_string(), state.clock.now()).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "save_topology_layout", "topology_layout")
            .ip(&ip)
            .detail(json!({"name": name})),
    )
    .await;
    Ok(Json(json!({"detail": "布局已保存", "name": name, "positions": positions})))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LayoutQuery {
    /// Layout name (default `default`).
    pub name: Option<String>,
}

/// Forget the caller's saved positions for a layout.
#[utoipa::path(delete, path = "/api/v1/topology/layout", tag = "topology", security(("bearer" = [])), params(LayoutQuery),
    responses((status = 200, description = "{detail: 布局已重置}")))]
pub async fn reset_layout(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppQuery(q): AppQuery<LayoutQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = layout_name(q.name)?;
    let existed = state.db.delete_layout(user.id, &name).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "reset_topology_layout", "topology_layout")
            .ip(&ip)
            .detail(json!({"name": name})),
    )
    .await;
    Ok(Json(json!({"detail": "布局已重置", "name": name, "existed": existed})))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DependencyIn {
    pub source_service_id: Option<i64>,
    pub target_service_id: Option<i64>,
    /// calls, depends_on or publishes_to (default calls)
    pub dependency_type: Option<String>,
    pub description: Option<String>,
}

/// Checks one dependency; `loc` prefixes the field path (a list index for batches).
fn check_dependency(loc: &[&str], d: DependencyIn) -> Result<DependencyFields, ApiError> {
    let at = |name: &str| {
        let mut l = vec!["body"];
        l.extend_from_slice(loc);
        l.push(name);
        l.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let err = |name: &str, kind: &str, msg: String| {
        let l = at(name);
        let refs: Vec<&str> = l.iter().map(String::as_str).collect();
        ApiError::field(&refs, kind, msg)
    };
    let Some(source) = d.source_service_id else {
        return Err(err("source_service_id", "missing", "Field required".into()));
    };
    let Some(target) = d.target_service_id else {
        return Err(err("target_service_id", "missing", "Field required".into()));
    };
    if source == target {
        return Err(err(
            "target_service_id",
            "value_error",
            "a service cannot depend on itself".into(),
        ));
    }
    let kind = d.dependency_type.unwrap_or_else(|| "calls".into());
    if !DEPENDENCY_TYPES.contains(&kind.as_str()) {
        return Err(err(
            "dependency_type",
            "enum",
            "Input should be 'calls', 'depends_on' or 'publishes_to'".into(),
        ));
    }
    let description = d.description.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if description.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(err(
            "description",
            "string_too_long",
            "String should have at most 200 characters".into(),
        ));
    }
    Ok(DependencyFields {
        source_service_id: source,
        target_service_id: target,
        dependency_type: kind,
        description,
    })
}

/// 404 naming the first service that does not exist.
async fn services_exist(state: &AppState, deps: &[DependencyFields]) -> Result<(), ApiError> {
    let known: HashSet<i64> = state.db.service_ids().await?;
    for d in deps {
        for id in [d.source_service_id, d.target_service_id] {
            if !known.contains(&id) {
                return Err(ApiError::not_found(format!("服务 {id} 不存在")));
            }
        }
    }
    Ok(())
}

/// Add a custom dependency (404 unknown service, 409 duplicate, 422 self-edge). Once
/// any custom dependency exists the graph shows custom edges only.
#[utoipa::path(post, path = "/api/v1/topology/dependencies", tag = "topology", security(("bearer" = [])),
    request_body = DependencyIn,
    responses((status = 201, description = "dependency"), (status = 404, description = "服务 N 不存在"),
    (status = 409, description = "依赖关系已存在"), (status = 422, description = "bad field or self-edge")))]
pub async fn create_dependency(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<DependencyIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let fields = check_dependency(&[], body)?;
    services_exist(&state, std::slice::from_ref(&fields)).await?;
    let Some(row) = state.db.create_dependency(&fields, Some(user.id), state.clock.now()).await?
    else {
        return Err(ApiError::conflict("依赖关系已存在"));
    };
    audit(
        &state,
        Audit::new(Some(user.id), "create_dependency", "service_dependency")
            .resource(row.id)
            .ip(&ip)
            .detail(json!({"source": row.source_service_id, "target": row.target_service_id})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(dependency_json(&row))))
}

/// Delete one custom dependency.
#[utoipa::path(delete, path = "/api/v1/topology/dependencies/{id}", tag = "topology", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "{detail: 已删除}"), (status = 404, description = "依赖关系不存在")))]
pub async fn delete_dependency(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    if !state.db.delete_dependency(id).await? {
        return Err(ApiError::not_found("依赖关系不存在"));
    }
    audit(
        &state,
        Audit::new(Some(user.id), "delete_dependency", "service_dependency").resource(id).ip(&ip),
    )
    .await;
    Ok(Json(json!({"detail": "已删除"})))
}

/// Delete every custom dependency; the graph goes back to inferred edges.
#[utoipa::path(delete, path = "/api/v1/topology/dependencies", tag = "topology", security(("bearer" = [])),
    responses((status = 200, description = "{detail: 所有自定义依赖已清空, deleted}")))]
pub async fn clear_dependencies(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
) -> Result<Json<Value>, ApiError> {
    let deleted = state.db.clear_dependencies().await?;
    audit(
        &state,
        Audit::new(Some(user.id), "clear_dependencies", "service_dependency")
            .ip(&ip)
            .detail(json!({"deleted": deleted})),
    )
    .await;
    Ok(Json(json!({"detail": "所有自定义依赖已清空", "deleted": deleted})))
}

/// Suggested dependencies. With an LLM configured the model reads the services (name,
/// type, host, port, group) and the existing edges; its suggestions are kept only when
/// both ends exist, differ, and are not linked yet. Without one, the edges the rules
/// infer (nginx upstreams, well-known ports, same-host middleware) that are not custom
/// dependencies yet.
#[utoipa::path(post, path = "/api/v1/topology/ai-suggest", tag = "topology", security(("bearer" = [])),
    responses((status = 200, description = "{suggestions, total, message, engine}"), (status = 502, description = "the LLM failed")))]
pub async fn suggest(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let (services, nodes, edges) = inferred(&state).await?;
    let existing: HashSet<(i64, i64)> = state
        .db
        .list_dependencies()
        .await?
        .iter()
        .map(|d| (d.source_service_id, d.target_service_id))
        .collect();
    let cfg = super::ai::llm_config(&state);
    let suggestions: Vec<Value> = match &cfg {
        None => edges
            .iter()
            .filter(|e| !existing.contains(&(e.source, e.target)))
            .map(|e| json!({"source": e.source, "target": e.target, "type": e.kind, "description": e.description, "via": e.via}))
            .collect(),
        Some(cfg) => {
            let listed: Vec<Value> = services
                .iter()
                .zip(&nodes)
                .map(|(s, n)| json!({"id": s.id, "name": s.name, "type": s.kind, "host": s.hostname, "port": n.port, "group": n.group()}))
                .collect();
            let known: HashSet<i64> = services.iter().map(|s| s.id).collect();
            let system = "You are a senior operations architect. From the services below, infer the dependencies                 between them. Answer with a JSON object {\"suggestions\": [{\"source\": service id, \"target\": service id, \
                \"type\": \"calls\" or \"depends_on\", \"description\": short reason}]}. Suggest only dependencies you are \
                confident of and none that already exist.";
            let user = format!(
                "Services:\n{}\nExisting dependencies (source, target): {:?}",
                serde_json::to_string_pretty(&listed).unwrap_or_default(),
                existing
            );
            state
                .llm
                .json(cfg, system, &user, |v| {
                    let items = v["suggestions"].as_array().ok_or("\"suggestions\" must be a list")?;
                    let mut out = Vec::new();
                    for i in items {
                        let (Some(source), Some(target)) = (i["source"].as_i64(), i["target"].as_i64()) else {
                            return Err("every suggestion needs integer \"source\" and \"target\"".to_string());
                        };
                        let kind = i["type"].as_str().unwrap_or("depends_on");
                        // Unknown ids, self-edges and existing links are dropped, not fatal.
                        if source == target || !known.contains(&source) || !known.contains(&target)
                            || existing.contains(&(source, target)) || !DEPENDENCY_TYPES.contains(&kind)
                        {
                            continue;
                        }
                        out.push(json!({"source": source, "target": target, "type": kind,
                                        "description": i["description"].as_str().unwrap_or_default()}));
                    }
                    Ok(out)
                })
                .await
                .map_err(super::ai::llm_failed)?
        }
    };
    Ok(Json(json!({
        "total": suggestions.len(),
        "message": format!("分析了 {} 个服务,推荐 {} 条新依赖关系", services.len(), suggestions.len()),
        "suggestions": suggestions,
        "engine": if cfg.is_some() { "llm" } else { "rules" },
    })))
}

/// Apply a list of dependencies at once; pairs that already exist are skipped. Every
/// item is checked first: one bad item refuses the whole list.
#[utoipa::path(post, path = "/api/v1/topology/ai-suggest/apply", tag = "topology", security(("bearer" = [])),
    request_body = Vec<DependencyIn>,
    responses((status = 200, description = "{detail: 已应用 N 条依赖关系, created}"), (status = 404, description = "unknown service"),
    (status = 422, description = "bad item")))]
pub async fn apply_suggestions(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppJson(body): AppJson<Vec<DependencyIn>>,
) -> Result<Json<Value>, ApiError> {
    if body.len() > 1000 {
        return Err(ApiError::field(&["body"], "too_long", "List should have at most 1000 items"));
    }
    let mut deps = Vec::with_capacity(body.len());
    for (i, d) in body.into_iter().enumerate() {
        deps.push(check_dependency(&[&i.to_string()], d)?);
    }
    services_exist(&state, &deps).await?;
    let created = state.db.create_dependencies(&deps, Some(user.id), state.clock.now()).await?;
    audit(
        &state,
        Audit::new(Some(user.id), "apply_dependencies", "service_dependency")
            .ip(&ip)
            .detail(json!({"submitted": deps.len(), "created": created})),
    )
    .await;
    Ok(Json(json!({"detail": format!("已应用 {created} 条依赖关系"), "created": created})))
}

/// Every server, the server-to-server edges their nginx upstreams imply, and counts.
#[utoipa::path(get, path = "/api/v1/topology/multi-server", tag = "topology", security(("bearer" = [])),
    responses((status = 200, description = "{servers, edges, summary}")))]
pub async fn multi_server(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let servers = state.db.all_servers().await?;
    let refs: Vec<ServerRef> = servers
        .iter()
        .map(|s| ServerRef {
            id: s.id,
            hostname: s.hostname.clone(),
            ip_address: s.ip_address.clone(),
        })
        .collect();
    let ups: Vec<(i64, String, String)> = state
        .db
        .upstreams(None)
        .await?
        .into_iter()
        .map(|u| (u.server_id, u.upstream_name, u.backend_address))
        .collect();
    let edges: Vec<Value> = server_edges(&refs, &ups)
        .iter()
        .map(|e| {
            json!({"from_server": e.from_server, "to_server": e.to_server, "from_id": e.from_id, "to_id": e.to_id,
                   "via": "nginx_upstream", "upstream": e.upstream})
        })
        .collect();
    let nodes: Vec<Value> = servers.iter().map(|s| server_json(&state, s)).collect();
    let count = |status: &str| nodes.iter().filter(|n| n["status"] == status).count();
    let groups = state.db.all_groups().await?.len();
    Ok(Json(json!({
        "summary": {"server_count": nodes.len(), "online_count": count("online"), "offline_count": count("offline"),
                    "service_group_count": groups, "edge_count": edges.len()},
        "servers": nodes, "edges": edges,
    })))
}

/// Every server with its summary metrics (legacy view; not paginated).
#[utoipa::path(get, path = "/api/v1/topology/servers", tag = "topology", security(("bearer" = [])),
    responses((status = 200, description = "[server]")))]
pub async fn list_servers(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let servers = state.db.all_servers().await?;
    Ok(Json(Value::Array(servers.iter().map(|s| server_json(&state, s)).collect())))
}

/// Register a server (legacy path; same as `POST /api/v1/servers`).
#[utoipa::path(post, path = "/api/v1/topology/servers", tag = "topology", security(("bearer" = [])), request_body = ServerIn,
    responses((status = 201, description = "server"), (status = 422, description = "bad field or duplicate hostname")))]
pub async fn create_server(
    state: State<AppState>,
    user: OperatorUser,
    ip: ClientIp,
    body: AppJson<ServerIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    servers::create(state, user, ip, body).await
}

/// A server with its services, upstreams and summary metrics (legacy view).
#[utoipa::path(get, path = "/api/v1/topology/servers/{id}", tag = "topology", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "{server, services, upstreams, nginx_upstreams}"),
    (status = 404, description = "服务器不存在")))]
pub async fn get_server(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(servers::server_detail(&state, id).await?))
}

/// Delete a server with its services and upstreams (legacy path).
#[utoipa::path(delete, path = "/api/v1/topology/servers/{id}", tag = "topology", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "{detail: 已删除}"), (status = 404, description = "服务器不存在")))]
pub async fn delete_server(
    State(state): State<AppState>,
    OperatorUser(user): OperatorUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<Json<Value>, ApiError> {
    servers::remove_server(&state, user.id, &ip, id).await?;
    Ok(Json(json!({"detail": "已删除"})))
}

/// Every service group with the servers that run it (legacy view).
#[utoipa::path(get, path = "/api/v1/topology/service-groups", tag = "topology", security(("bearer" = [])),
    responses((status = 200, description = "[group with servers]")))]
pub async fn service_groups(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let groups = state.db.all_groups().await?;
    let members = state.db.members(None, None).await?;
    let out: Vec<Value> = groups
        .iter()
        .map(|g| {
            let servers: Vec<Value> = members
                .iter()
                .filter(|m| m.group_id == g.id)
                .map(|m| {
                    json!({"server_id": m.server_id, "hostname": m.hostname, "ip_address": m.ip_address,
                           "server_status": m.server_status, "port": m.port, "pid": m.pid,
                           "service_status": m.status, "cpu_percent": m.cpu_percent, "mem_mb": m.mem_mb})
                })
                .collect();
            json!({"id": g.id, "name": g.name, "category": g.category, "created_at": g.created_at,
                   "server_count": g.server_count, "instance_count": servers.len(), "servers": servers})
        })
        .collect();
    Ok(Json(Value::Array(out)))
}
