//! Family B routes (seed 001): `/healthz`, `/metrics`, `/api/...` with the
//! `{"success": ..., "data"|"error": ...}` envelope.

pub mod config;
pub mod health;
pub mod incidents;
pub mod knowledge;
pub mod lark;
pub mod plugins;

use axum::routing::{get, post};
use axum::{Json, Router};

use serde_json::{json, Value};

use super::error::ApiError;
use super::state::AppState;

/// Family-B `page` and `page_size`: page ≥ 1, page_size 1–100 (default 20); 400 naming
/// the parameter otherwise.
pub fn page_params(page: Option<i64>, page_size: Option<i64>) -> Result<(u32, u32), ApiError> {
    let page = page.unwrap_or(1);
    if page < 1 || page > i64::from(u32::MAX) {
        return Err(ApiError::field(&["query", "page"], "value_error", "必须是正整数"));
    }
    let size = page_size.unwrap_or(20);
    if !(1..=100).contains(&size) {
        return Err(ApiError::field(
            &["query", "page_size"],
            "value_error",
            "必须是 1 到 100 之间的整数",
        ));
    }
    Ok((page as u32, size as u32))
}

/// A family-B page of items.
pub fn paged(items: Vec<Value>, total: i64, page: u32, page_size: u32) -> Json<Value> {
    let total_pages = (total + i64::from(page_size) - 1) / i64::from(page_size);
    Json(json!({"success": true, "data": {
        "items": items, "total": total, "page": page, "page_size": page_size, "total_pages": total_pages,
    }}))
}

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
