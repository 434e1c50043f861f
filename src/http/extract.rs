//! Extractors whose rejections have the contract's shape: FastAPI-style 422 for bodies,
//! queries and paths, 413 for oversized bodies, and the authentication extractors
//! ([`AuthUser`] and its role-checking wrappers, [`AgentAuth`]).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use warden_actors::role::Role;

use super::error::{ApiError, FieldError};
use super::state::AppState;
use crate::auth::cache::{AgentTokenAuth, UserAuth};
use crate::auth::{agent_token, TokenKind};

fn loc(parts: impl IntoIterator<Item = String>) -> Vec<Value> {
    parts.into_iter().map(Value::String).collect()
}

/// Splits a serde path like `a.b[0]` into location segments (numbers for indices).
fn path_segments(path: &serde_path_to_error::Path) -> Vec<Value> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(Value::from(*index)),
            Segment::Map { key } => Some(Value::String(key.clone())),
            Segment::Enum { variant } => Some(Value::String(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// Turns a deserialisation error into a FastAPI-style problem under `root`
/// (`body` or `query`).
fn field_error(root: &str, path: &serde_path_to_error::Path, msg: &str) -> FieldError {
    let mut location = vec![Value::String(root.to_string())];
    location.extend(path_segments(path));
    // serde reports a missing field at its parent; FastAPI points at the field itself.
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        location.push(Value::String(name.to_string()));
        return FieldError { kind: "missing".into(), loc: location, msg: "Field required".into() };
    }
    let kind = if msg.starts_with("invalid type") {
        "type_error"
    } else if msg.starts_with("unknown variant") {
        "enum"
    } else {
        "value_error"
    };
    // Drop serde_json's " at line L column C" suffix: the location says where.
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    FieldError { kind: kind.into(), loc: location, msg: msg.to_string() }
}

/// The raw request body; a body over the limit is 413 in the contract's shape.
#[derive(Debug, Clone, Default)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body is larger than the configured limit",
                )
            } else {
                ApiError::bad_request(format!("could not read request body: {e}"))
            }
        })
    }
}

/// A JSON body; malformed JSON, wrong types and missing fields are 422 with the
/// location of the problem, a body over the limit is 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        parse_json(&bytes).map(AppJson)
    }
}

/// Parses a JSON document with contract-shaped errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation(vec![FieldError {
            kind: "missing".into(),
            loc: loc(["body".to_string()]),
            msg: "Field required".into(),
        }]));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let inner = err.inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::validation(vec![FieldError {
                    kind: "json_invalid".into(),
                    loc: vec![Value::String("body".into()), Value::from(inner.column())],
                    msg: format!("JSON decode error: {inner}"),
                }]));
            }
            Err(ApiError::validation(vec![field_error("body", err.path(), &inner.to_string())]))
        }
    }
}

/// Query parameters with contract-shaped errors (422, `loc: ["query", name]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de).map(AppQuery).map_err(|err| {
            ApiError::validation(vec![field_error("query", err.path(), &err.inner().to_string())])
        })
    }
}

/// Path parameters with contract-shaped errors (422, `loc: ["path", name]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind as PathErr;
        use axum::extract::rejection::PathRejection;
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(AppPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let (key, msg) = match e.kind() {
                    PathErr::ParseErrorAtKey { key, value, expected_type } => (
                        Some(key.clone()),
                        format!(
                            "Input should be a valid {expected_type}, unable to parse '{value}'"
                        ),
                    ),
                    PathErr::ParseError { value, expected_type }
                    | PathErr::ParseErrorAtIndex { value, expected_type, .. } => (
                        None,
                        format!(
                            "Input should be a valid {expected_type}, unable to parse '{value}'"
                        ),
                    ),
                    other => (None, other.to_string()),
                };
                let key = match key {
                    Some(k) => Some(k),
                    None => sole_param_name(parts, state).await,
                };
                let mut location = vec!["path".to_string()];
                location.extend(key);
                Err(ApiError::validation(vec![FieldError {
                    kind: "type_error".into(),
                    loc: loc(location),
                    msg,
                }]))
            }
            Err(other) => Err(ApiError::internal(format!("path extraction failed: {other}"))),
        }
    }
}

/// The route's path parameter name when it has exactly one (axum names the parameter
/// in its error only when a route has several).
async fn sole_param_name<S: Send + Sync>(parts: &mut Parts, state: &S) -> Option<String> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, state).await.ok()?;
    let names: Vec<String> = params.iter().map(|(k, _)| k.to_string()).collect();
    match names.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// `page` and `page_size` query parameters; the bounds are the route's.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    pub page: Option<i64>,
    /// Items per page (default and maximum depend on the route).
    pub page_size: Option<i64>,
}

impl PageQuery {
    /// The page and page size, or a 422 naming the parameter that is out of range.
    pub fn resolve(self, default_size: u32, max_size: u32) -> Result<(u32, u32), ApiError> {
        let page = self.page.unwrap_or(1);
        if page < 1 || page > i64::from(u32::MAX) {
            return Err(ApiError::field(
                &["query", "page"],
                "greater_than_equal",
                "Input should be greater than or equal to 1",
            ));
        }
        let size = self.page_size.unwrap_or(i64::from(default_size));
        if size < 1 || size > i64::from(max_size) {
            return Err(ApiError::field(
                &["query", "page_size"],
                "value_error",
                format!("Input should be between 1 and {max_size}"),
            ));
        }
        Ok((page as u32, size as u32))
    }
}

/// 422 at `loc` unless `value` is one of `allowed` (the message lists them).
pub fn one_of(loc: &[&str], value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    Err(ApiError::field(loc, "enum", format!("Input should be {}", names.join(", "))))
}

/// The client's address: the first `X-Forwarded-For` entry when
/// `server.trust_forwarded_for` is set, otherwise the peer address.
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.server.trust_forwarded_for {
            if let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                return Ok(ClientIp(Some(first.to_string())));
            }
        }
        let peer =
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ci| ci.0.ip().to_string());
        Ok(ClientIp(peer))
    }
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// A logged-in user (valid access JWT, active account, current token version).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: i64,
    pub role: Role,
}

impl AuthUser {
    /// 403 unless the user's role allows `required`.
    pub fn require(&self, required: Role) -> Result<(), ApiError> {
        if self.role.allows(required) {
            Ok(())
        } else {
            Err(ApiError::forbidden("权限不足"))
        }
    }
}

/// Checks an access token and returns the user it belongs to.
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state
        .tokens
        .verify(token, TokenKind::Access)
        .ok_or_else(|| ApiError::unauthorized("Invalid token"))?;
    let id = claims.user_id().ok_or_else(|| ApiError::unauthorized("Invalid token"))?;
    let user = user_auth(state, id).await?;
    match user {
        Some(u) if u.is_active && u.token_version == claims.ver => {
            Ok(AuthUser { id, role: u.role })
        }
        Some(u) if u.is_active => Err(ApiError::unauthorized("Token has been revoked")),
        _ => Err(ApiError::unauthorized("User not found or inactive")),
    }
}

/// The auth facts of a user, from the cache or the database.
pub async fn user_auth(state: &AppState, id: i64) -> Result<Option<UserAuth>, ApiError> {
    if let Some(u) = state.users.get(id) {
        return Ok(Some(u));
    }
    let Some(row) = state.db.user_by_id(id).await? else {
        return Ok(None);
    };
    let auth = UserAuth {
        id,
        role: row.role(),
        is_active: row.is_active,
        token_version: row.token_version,
    };
    state.users.put(auth.clone());
    Ok(Some(auth))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| ApiError::unauthorized("Not authenticated"))?;
        authenticate(state, token).await
    }
}

/// Defines an extractor for a logged-in user whose role allows `$role` (403 otherwise).
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub AuthUser);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                let user = AuthUser::from_request_parts(parts, state).await?;
                user.require($role)?;
                Ok($name(user))
            }
        }
    };
}

role_extractor!(
    /// A logged-in user with the `operator` or `admin` role (writes).
    OperatorUser,
    Role::Operator
);
role_extractor!(
    /// A logged-in user with the `admin` role.
    AdminUser,
    Role::Admin
);

/// An agent authenticated by an agent token, sent as `X-Agent-Token: <token>` (seed)
/// or `Authorization: Bearer <token>` (what the VigilOps agent sends).
#[derive(Debug, Clone, Copy)]
pub struct AgentAuth {
    pub token_id: i64,
}

/// Checks an agent token: cached when known and active; `last_used_at` written at most
/// once a minute per token, off the request path.
pub async fn authenticate_agent(state: &AppState, token: &str) -> Result<AgentAuth, ApiError> {
    let hash = agent_token::hash(&state.token_key, token);
    let auth = match state.agent_tokens.get(&hash) {
        Some(a) => a,
        None => match state.db.agent_token_by_hash(&hash).await? {
            Some(row) if row.is_active => {
                let a = AgentTokenAuth { token_id: row.id };
                state.agent_tokens.put(hash.clone(), a);
                a
            }
            _ => return Err(ApiError::unauthorized("Invalid or revoked agent token")),
        },
    };
    if state.agent_tokens.touch_due(&hash) {
        let db = state.db.clone();
        let now = state.clock.now();
        tokio::spawn(async move {
            if let Err(e) = db.touch_agent_token(auth.token_id, now).await {
                tracing::warn!(error = %e, token_id = auth.token_id, "could not record agent token use");
            }
        });
    }
    Ok(AgentAuth { token_id: auth.token_id })
}

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("x-agent-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .or_else(|| bearer(parts))
            .ok_or_else(|| ApiError::unauthorized("Missing agent token"))?;
        authenticate_agent(state, token).await
    }
}
