//! Family A routes (`/api/v1/...`, seed 000): one file per resource.

pub mod agent_tokens;
pub mod audit;
pub mod auth;
pub mod settings;
pub mod users;

use axum::routing::{delete, get, post, put};
use axum::Router;

use super::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{id}", get(users::get_one).put(users::update).delete(users::remove))
        .route("/api/v1/users/{id}/password", put(users::reset_password))
        .route("/api/v1/agent-tokens", get(agent_tokens::list).post(agent_tokens::create))
        .route("/api/v1/agent-tokens/{id}", delete(agent_tokens::revoke))
        .route("/api/v1/settings", get(settings::get_all).put(settings::update))
        .route("/api/v1/audit-logs", get(audit::list))
}
