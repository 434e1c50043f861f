//! User management, admin only (seed 000 §User Management).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use warden_actors::ports::BusEvent;
use warden_actors::role::Role;

use super::auth::{check_email, check_name, check_new_password, UserOut};
use crate::auth::password;
use crate::http::audit::{audit, Audit};
use crate::http::error::ApiError;
use crate::http::extract::{AdminUser, AppJson, AppPath, AppQuery, ClientIp, PageQuery};
use crate::http::state::AppState;
use crate::storage::is_unique_violation;
use crate::storage::users::UserChanges;

const ROLE_MESSAGE: &str = "角色必须为 admin / operator / viewer";
const NOT_FOUND: &str = "用户不存在";

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserOut>,
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserCreate {
    pub email: String,
    pub name: String,
    pub password: String,
    /// admin, operator or viewer (default viewer)
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role: Option<String>,
    pub is_active: Option<bool>,
    /// Feishu open_id (`ou_…`); an empty string clears it.
    pub feishu_open_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordReset {
    pub new_password: String,
}

fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse().map_err(|_| ApiError::bad_request(ROLE_MESSAGE))
}

/// Drops cached credentials of a user here and on every other node.
fn user_changed(state: &AppState, id: i64) {
    state.users.invalidate(id);
    state.bus.publish(BusEvent::UserChanged { user_id: id });
}

/// List users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = UserList), (status = 403, description = "权限不足")))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<Json<UserList>, ApiError> {
    let (page, page_size) = q.resolve(20, 100)?;
    let p = state.db.list_users(page, page_size).await?;
    Ok(Json(UserList {
        items: p.items.into_iter().map(Into::into).collect(),
        total: p.total,
        page,
        page_size,
    }))
}

/// Create a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = UserCreate,
    responses((status = 201, body = UserOut), (status = 400, description = "invalid role"),
              (status = 409, description = "邮箱已被注册"), (status = 422, description = "invalid input")))]
pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppJson(body): AppJson<UserCreate>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let email = check_email(&body.email)?;
    let name = check_name(&body.name)?;
    check_new_password("password", &body.password)?;
    let role = parse_role(body.role.as_deref().unwrap_or("viewer"))?;
    let hash = password::hash(body.password).await.map_err(ApiError::internal)?;
    let user = match state.db.create_user(&email, &name, &hash, Some(role), state.clock.now()).await
    {
        Ok(u) => u,
        Err(e) if is_unique_violation(&e) => return Err(ApiError::conflict("邮箱已被注册")),
        Err(e) => return Err(e.into()),
    };
    audit(
        &state,
        Audit::new(Some(admin.id), "create_user", "user")
            .resource(user.id)
            .ip(&ip)
            .detail(json!({"email": user.email, "role": user.role})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = UserOut), (status = 404, description = "用户不存在")))]
pub async fn get_one(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(id): AppPath<i64>,
) -> Result<Json<UserOut>, ApiError> {
    let user = state.db.user_by_id(id).await?.ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    Ok(Json(user.into()))
}

/// Change name, role or active flag (partial). Disabling a user ends their sessions.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = UserOut), (status = 404, description = "用户不存在"),
              (status = 409, description = "would leave no active admin")))]
pub async fn update(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<UserUpdate>,
) -> Result<Json<UserOut>, ApiError> {
    let mut changes = UserChanges::default();
    let mut detail = Map::new();
    if let Some(name) = &body.name {
        let name = check_name(name)?;
        detail.insert("name".into(), Value::String(name.clone()));
        changes.name = Some(name);
    }
    if let Some(role) = &body.role {
        let role = parse_role(role)?;
        detail.insert("role".into(), Value::String(role.to_string()));
        changes.role = Some(role);
    }
    if let Some(active) = body.is_active {
        detail.insert("is_active".into(), Value::Bool(active));
        changes.is_active = Some(active);
    }
    if let Some(open_id) = &body.feishu_open_id {
        let open_id = open_id.trim();
        if open_id.chars().count() > 128 || open_id.chars().any(char::is_whitespace) {
            return Err(ApiError::field(
                &["body", "feishu_open_id"],
                "value_error",
                "feishu_open_id must be a Feishu id such as ou_… (no spaces, at most 128 characters)",
            ));
        }
        detail.insert("feishu_open_id".into(), Value::String(open_id.to_string()));
        changes.feishu_open_id = Some(open_id.to_string());
    }
    let user = match state.db.update_user(id, &changes, state.clock.now()).await {
        Err(crate::storage::users::StoreError::Db(e)) if is_unique_violation(&e) => {
            return Err(ApiError::conflict("feishu_open_id is already mapped to another user"))
        }
        other => other?,
    };
    user_changed(&state, id);
    audit(
        &state,
        Audit::new(Some(admin.id), "update_user", "user")
            .resource(id)
            .ip(&ip)
            .detail(Value::Object(detail)),
    )
    .await;
    Ok(Json(user.into()))
}

/// Delete a user. Admins cannot delete themselves.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, description = "不能删除自己"), (status = 404, description = "用户不存在"),
              (status = 409, description = "would leave no active admin")))]
pub async fn remove(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
) -> Result<StatusCode, ApiError> {
    if admin.id == id {
        return Err(ApiError::bad_request("不能删除自己"));
    }
    let user = state.db.delete_user(id).await?;
    user_changed(&state, id);
    audit(
        &state,
        Audit::new(Some(admin.id), "delete_user", "user")
            .resource(id)
            .ip(&ip)
            .detail(json!({"email": user.email})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a new password; the user's existing tokens stop working.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = PasswordReset,
    responses((status = 200, description = "{\"status\": \"ok\"}"), (status = 404, description = "用户不存在"),
              (status = 422, description = "password too short")))]
pub async fn reset_password(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<PasswordReset>,
) -> Result<Json<Value>, ApiError> {
    check_new_password("new_password", &body.new_password)?;
    if state.db.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found(NOT_FOUND));
    }
    let hash = password::hash(body.new_password).await.map_err(ApiError::internal)?;
    state
        .db
        .set_password(id, &hash, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    user_changed(&state, id);
    audit(&state, Audit::new(Some(admin.id), "reset_password", "user").resource(id).ip(&ip)).await;
    Ok(Json(json!({"status": "ok"})))
}
