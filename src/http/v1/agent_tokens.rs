//! Agent tokens, admin only (seed 000 §Agent Tokens). The full token is shown once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use warden_actors::ports::BusEvent;

use crate::auth::agent_token;
use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{AdminUser, AppJson, AppPath, ClientIp};
use crate::http::state::AppState;
use crate::storage::agent_tokens::AgentTokenRow;

#[derive(Debug, Deserialize, ToSchema)]
pub struct AgentTokenCreate {
    /// 1 to 100 characters.
    pub name: String,
}

/// A token as listed: prefix only.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTokenOut {
    pub id: i64,
    pub name: String,
    pub token_prefix: String,
    pub is_active: bool,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<AgentTokenRow> for AgentTokenOut {
    fn from(r: AgentTokenRow) -> Self {
        AgentTokenOut {
            id: r.id,
            name: r.name,
            token_prefix: r.token_prefix,
            is_active: r.is_active,
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A token just created: the only time the full value is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTokenCreated {
    #[serde(flatten)]
    pub token_info: AgentTokenOut,
    pub token: String,
}

/// Create a token.
#[utoipa::path(post, path = "/api/v1/agent-tokens", tag = "agent-tokens", security(("bearer" = [])),
    request_body = AgentTokenCreate, responses((status = 201, body = AgentTokenCreated), (status = 403, description = "权限不足")))]
pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppJson(body): AppJson<AgentTokenCreate>,
) -> Result<(StatusCode, Json<AgentTokenCreated>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field(
            &["body", "name"],
            "string_length",
            "String should have 1 to 100 characters",
        ));
    }
    let token = agent_token::generate();
    let hash = agent_token::hash(&state.token_key, &token);
    let row = state
        .db
        .create_agent_token(name, &hash, &agent_token::prefix(&token), admin.id, state.clock.now())
        .await?;
    audit(
        &state,
        Audit::new(Some(admin.id), "create_agent_token", "agent_token")
            .resource(row.id)
            .ip(&ip)
            .detail(json!({"name": row.name, "token_prefix": row.token_prefix})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(AgentTokenCreated { token_info: row.into(), token })))
}

/// Every token, newest first, without the token values.
#[utoipa::path(get, path = "/api/v1/agent-tokens", tag = "agent-tokens", security(("bearer" = [])),
    responses((status = 200, body = Vec<AgentTokenOut>)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<Vec<AgentTokenOut>>, ApiError> {
    Ok(Json(state.db.list_agent_tokens().await?.into_iter().map(Into::into).collect()))
}

/// Revoke a token (soft): it is rejected from the next request on.
#[utoipa::path(delete, path = "/api/v1/agent-tokens/{id}", tag = "agent-tokens", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, description = "Token not found")))]
pub async fn revoke(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    let row = state
        .db
        .revoke_agent_token(id, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("Token not found"))?;
    state.agent_tokens.invalidate_token(id);
    state.bus.publish(BusEvent::AgentTokenRevoked { token_id: id });
    audit(
        &state,
        Audit::new(Some(admin.id), "revoke_agent_token", "agent_token")
            .resource(id)
            .ip(&ip)
            .detail(json!({"name": row.name})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
