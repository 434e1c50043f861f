//! Family B routes (seed 001): `/healthz`, `/metrics`, `/api/...` with the
//! `{"success": ..., "data"|"error": ...}` envelope.

pub mod health;

use axum::routing::get;
use axum::Router;

use super::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/status", get(health::status))
}
