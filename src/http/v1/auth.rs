//! Registration, login, token refresh and the current user (seed 000 §Authentication).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use warden_actors::login_limit::{LoginDecision, LoginLimitPolicy};
use warden_actors::DomainError;

use crate::auth::{check_password, normalize_email, password, TokenKind, TokenPair};
use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{user_auth, AppJson, AuthUser, ClientIp};
use crate::http::state::AppState;
use crate::storage::is_unique_violation;
use crate::storage::users::UserRow;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// admin, operator or viewer
    pub role: String,
    pub is_active: bool,
    /// Feishu open_id mapped to this user (approvals from Feishu cards).
    pub feishu_open_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for UserOut {
    fn from(u: UserRow) -> Self {
        UserOut {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            is_active: u.is_active,
            feishu_open_id: u.feishu_open_id,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterIn {
    pub email: String,
    pub name: String,
    /// At least 8 characters.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginIn {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshIn {
    pub refresh_token: String,
}

/// Checks a display name: trimmed, 1 to 100 characters.
pub fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > 100 {
        return Err(ApiError::field(
            &["body", "name"],
            "string_length",
            "String should have 1 to 100 characters",
        ));
    }
    Ok(name.to_string())
}

/// Checks email syntax (422 naming the field) and normalises it.
pub fn check_email(email: &str) -> Result<String, ApiError> {
    normalize_email(email).map_err(|msg| ApiError::field(&["body", "email"], "value_error", msg))
}

/// Checks a new password (422 naming `field`).
pub fn check_new_password(field: &str, pw: &str) -> Result<(), ApiError> {
    check_password(pw).map_err(|msg| ApiError::field(&["body", field], "string_too_short", msg))
}

/// Issues a token pair and records its refresh token.
async fn issue_tokens(state: &AppState, user_id: i64, version: i64) -> Result<TokenPair, ApiError> {
    let now = state.clock.now();
    let (pair, refresh) = state.tokens.issue(user_id, version, now);
    state.db.insert_refresh_token(&refresh.jti, user_id, refresh.expires_at, now).await?;
    Ok(pair)
}

/// Register a user. The first user becomes admin; later ones viewer.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterIn,
    responses((status = 201, body = TokenPair), (status = 403, description = "self-registration disabled"),
              (status = 409, description = "Email already registered"), (status = 422, description = "invalid input")))]
pub async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    AppJson(body): AppJson<RegisterIn>,
) -> Result<(StatusCode, Json<TokenPair>), ApiError> {
    let email = check_email(&body.email)?;
    let name = check_name(&body.name)?;
    check_new_password("password", &body.password)?;
    if !state.runtime_settings().registration_enabled && state.db.count_users().await? > 0 {
        return Err(ApiError::forbidden(
            "Self-registration is disabled; ask an admin to create your account",
        ));
    }
    let hash = password::hash(body.password).await.map_err(ApiError::internal)?;
    let user = match state.db.create_user(&email, &name, &hash, None, state.clock.now()).await {
        Ok(u) => u,
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict("Email already registered"))
        }
        Err(e) => return Err(e.into()),
    };
    audit(
        &state,
        Audit::new(Some(user.id), "register", "user")
            .resource(user.id)
            .ip(&ip)
            .detail(json!({"email": user.email, "role": user.role})),
    )
    .await;
    let pair = issue_tokens(&state, user.id, user.token_version).await?;
    Ok((StatusCode::CREATED, Json(pair)))
}

/// Log in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = TokenPair), (status = 401, description = "Invalid credentials"),
              (status = 403, description = "Account disabled"), (status = 429, description = "too many failed attempts")))]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    AppJson(body): AppJson<LoginIn>,
) -> Result<Json<TokenPair>, ApiError> {
    let email = body.email.trim().to_lowercase();
    let client = ip.0.clone().unwrap_or_else(|| "unknown".into());
    let key = LoginLimitPolicy::key(&email, &client);
    let (failures, left) = state.cache.read_window(&key).await.unwrap_or((0, 0));
    if let LoginDecision::Refuse { retry_after_secs } = state.login_policy.decide(failures, left) {
        return Err(DomainError::rate_limited(
            format!("Too many failed login attempts; retry in {retry_after_secs} s"),
            retry_after_secs,
        )
        .into());
    }

    let user = state.db.user_by_email(&email).await?;
    let known = user.as_ref().map(|u| u.id);
    let phc = user
        .as_ref()
        .map_or_else(|| password::dummy_hash().to_string(), |u| u.hashed_password.clone());
    let ok = password::verify(body.password, phc).await && user.is_some();
    let Some(user) = user.filter(|_| ok) else {
        let _ = state.cache.incr_window(&key, state.login_policy.window_secs).await;
        audit(
            &state,
            Audit::new(known, "login_failed", "user").ip(&ip).detail(json!({"email": email})),
        )
        .await;
        return Err(ApiError::unauthorized("Invalid credentials"));
    };
    if !user.is_active {
        audit(
            &state,
            Audit::new(Some(user.id), "login_failed", "user")
                .resource(user.id)
                .ip(&ip)
                .detail(json!({"email": email, "reason": "account disabled"})),
        )
        .await;
        return Err(ApiError::forbidden("Account disabled"));
    }
    let _ = state.cache.delete(&key).await;
    audit(&state, Audit::new(Some(user.id), "login", "user").resource(user.id).ip(&ip)).await;
    Ok(Json(issue_tokens(&state, user.id, user.token_version).await?))
}

/// Trade a refresh token for a new pair; the old refresh token stops working.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshIn,
    responses((status = 200, body = TokenPair), (status = 401, description = "Invalid refresh token")))]
pub async fn refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshIn>,
) -> Result<Json<TokenPair>, ApiError> {
    let invalid = || ApiError::unauthorized("Invalid refresh token");
    let claims =
        state.tokens.verify(&body.refresh_token, TokenKind::Refresh).ok_or_else(invalid)?;
    let id = claims.user_id().ok_or_else(invalid)?;
    let user = user_auth(&state, id).await?.filter(|u| u.is_active);
    let Some(user) = user else {
        return Err(ApiError::unauthorized("User not found"));
    };
    if user.token_version != claims.ver {
        return Err(invalid());
    }
    if !state.db.consume_refresh_token(&claims.jti, id, state.clock.now()).await? {
        return Err(invalid());
    }
    Ok(Json(issue_tokens(&state, id, user.token_version).await?))
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401, description = "Not authenticated")))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<UserOut>, ApiError> {
    let row = state
        .db
        .user_by_id(user.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("User not found or inactive"))?;
    Ok(Json(row.into()))
}
