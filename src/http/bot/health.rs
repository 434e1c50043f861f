//! Liveness, Prometheus metrics and the system status overview.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::http::extract::AuthUser;
use crate::http::state::AppState;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `healthy` while the process answers.
    pub status: &'static str,
    pub version: &'static str,
    /// Seconds since start.
    pub uptime: u64,
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health { status: "healthy", version: VERSION, uptime: state.started.elapsed().as_secs() })
}

/// Warden's own metrics, Prometheus text format 0.0.4.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "text/plain; version=0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let start =
        state.clock.now() - chrono::Duration::from_std(state.started.elapsed()).unwrap_or_default();
    let mut text = state.metrics.render(VERSION, start.timestamp_millis() as f64 / 1000.0);
    state.notifier.metrics.render(&mut text);
    state.llm.metrics().render(&mut text);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// How long a dependency may take to answer a status ping.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The system overview (seed 001): incidents not resolved, runs waiting for approval;
/// the plugin registry size; LLM status until diagnosis is configured; dependencies from
/// real pings.
#[utoipa::path(get, path = "/api/status", tag = "system", security(("bearer" = [])),
    responses((status = 200, description = "{success, data: {status, version, uptime, active_incidents, pending_approvals, plugins_loaded, llm_status, database_status, redis_status}}")))]
pub async fn status(State(state): State<AppState>, _user: AuthUser) -> Json<Value> {
    let database_ok =
        matches!(tokio::time::timeout(PING_TIMEOUT, state.db.ping()).await, Ok(Ok(())));
    let redis_status = match state.redis_connected {
        None => "not_configured",
        Some(false) => "disconnected",
        Some(true) => match tokio::time::timeout(PING_TIMEOUT, state.cache.ping()).await {
            Ok(Ok(())) => "connected",
            _ => "disconnected",
        },
    };
    let (active_incidents, pending_approvals) = state.db.incident_counts().await.unwrap_or((0, 0));
    // A real check (the provider's model list with the configured key), cached a minute.
    let llm = state.integrations.borrow().llm_config();
    let (llm_status, llm_error) = match llm {
        None => ("not_configured", None),
        Some(cfg) => match state.llm.check(&cfg).await {
            Ok(()) => ("connected", None),
            Err(e) => ("error", Some(e)),
        },
    };
    Json(json!({
        "success": true,
        "data": {
            "status": if database_ok { "running" } else { "degraded" },
            "version": VERSION,
            "uptime": state.started.elapsed().as_secs(),
            "active_incidents": active_incidents,
            "pending_approvals": pending_approvals,
            "plugins_loaded": warden_actors::plugins::registry().len(),
            "llm_status": llm_status,
            "llm_error": llm_error,
            "database_status": if database_ok { "connected" } else { "disconnected" },
            "database_backend": state.db.backend(),
            "redis_status": redis_status,
        }
    }))
}
