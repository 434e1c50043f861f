//! The axum HTTP facade: validates, authenticates, and answers from the store or (in
//! later issues) the actors. It holds no business rules.

pub mod audit;
pub mod bot;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod sse;
pub mod state;
pub mod v1;
pub mod ws;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use self::error::{bot_envelope, ApiError};
use self::state::AppState;

/// Whether a path belongs to family B (seed 001), whose errors use the envelope.
fn is_bot_path(path: &str) -> bool {
    path == "/healthz"
        || path == "/metrics"
        || path.starts_with("/lark/")
        || (path.starts_with("/api/") && !path.starts_with("/api/v1/"))
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.server.body_limit_bytes;
    let bot = bot::router().layer(middleware::from_fn(bot_envelope));
    Router::new()
        .merge(v1::router())
        .route("/api/v1/openapi.json", get(openapi::serve))
        .merge(bot)
        .route_layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Counts and times every matched request by its route template.
async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let res = next.run(req).await;
    state.metrics.observe(method.as_str(), &route, res.status().as_u16(), started.elapsed());
    res
}

fn render_for(path: &str, err: ApiError) -> Response {
    if is_bot_path(path) {
        err.to_bot_response()
    } else {
        err.into_response()
    }
}

async fn not_found(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    state.metrics.observe(method.as_str(), "unmatched", 404, std::time::Duration::ZERO);
    render_for(uri.path(), ApiError::not_found("Not Found"))
}

async fn method_not_allowed(uri: Uri) -> Response {
    render_for(uri.path(), ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"))
}
