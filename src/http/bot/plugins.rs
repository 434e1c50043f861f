//! The plugin registry (seed 001): the tools diagnosis may call, with their JSON-schema
//! parameters and usage measured from recorded calls.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use warden_actors::plugins::{find, registry, Category, PluginSpec};

use crate::http::error::ApiError;
use crate::http::extract::{AppPath, AuthUser};
use crate::http::state::AppState;
use crate::storage::knowledge::PluginUsage;

fn plugin_json(p: &PluginSpec) -> Value {
    json!({"name": p.name, "description": p.description, "category": p.category.as_str(),
           "parameters": p.parameters, "timeout": p.timeout_secs, "requires_approval": p.needs_approval})
}

/// Every plugin with its category and parameters.
#[utoipa::path(get, path = "/api/plugins", tag = "plugins", security(("bearer" = [])),
    responses((status = 200, description = "{success, data: {plugins, total, diagnostic, remediation}}")))]
pub async fn list(_user: AuthUser) -> Json<Value> {
    let all = registry();
    let count = |c: Category| all.iter().filter(|p| p.category == c).count();
    Json(json!({"success": true, "data": {
        "plugins": all.iter().map(plugin_json).collect::<Vec<_>>(),
        "total": all.len(),
        "diagnostic": count(Category::Diagnostic),
        "remediation": count(Category::Remediation),
    }}))
}

/// One plugin, with usage_count, avg_duration (seconds) and success_rate (0–1) from its
/// recorded calls (null rates until it has been called).
#[utoipa::path(get, path = "/api/plugins/{name}", tag = "plugins", security(("bearer" = [])),
    params(("name" = String, Path)), responses((status = 200, description = "{success, data: plugin}"), (status = 404, description = "插件不存在")))]
pub async fn get_one(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(name): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    let plugin = find(&name).ok_or_else(|| ApiError::not_found("插件不存在"))?;
    let usage =
        state.db.plugin_usage().await?.remove(plugin.name).unwrap_or_else(PluginUsage::default);
    let mut data = plugin_json(&plugin);
    data["usage_count"] = json!(usage.calls);
    data["avg_duration"] = json!(usage.avg_duration_secs);
    data["success_rate"] = json!(usage.success_rate);
    Ok(Json(json!({"success": true, "data": data})))
}
