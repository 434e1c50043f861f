//! Family B routes (seed 001): `/healthz`, `/metrics`, `/api/...` with the
//! `{"success": ..., "data"|"error": ...}` envelope.

pub mod config;
pub mod health;
pub mod incidents;
pub mod knowledge;
pub mod lark;
pub mod plugins;

use axum::routing::{get, post};
use axum::Router;

use super::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/status", get(health::status))
        .route("/api/incidents", get(incidents::list))
        .route("/api/incidents/{id}", get(incidents::get_one))
        .route("/api/incidents/{id}/events", get(incidents::events))
        .route("/api/alert", post(incidents::receive))
        .route("/api/events", get(incidents::stream))
        .route("/api/knowledge", get(knowledge::list).post(knowledge::create))
        .route(
            "/api/knowledge/{id}",
            get(knowledge::get_one).put(knowledge::update).delete(knowledge::remove),
        )
        .route("/api/environment-context", get(knowledge::get_context).put(knowledge::put_context))
        .route("/api/config", get(config::get).put(config::put))
        .route("/api/plugins", get(plugins::list))
        .route("/api/plugins/{name}", get(plugins::get_one))
        .route("/lark/event", post(lark::event))
        .route("/lark/card/action", post(lark::card_action))
}
