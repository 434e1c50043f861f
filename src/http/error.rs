//! One error type for the whole API, rendered per family.
//!
//! [`ApiError`] renders the family A shape (`{"detail": ...}`, FastAPI style, with the
//! 422 list for validation problems) and stores itself in the response extensions.
//! The family B router re-renders any such response as the
//! `{"success": false, "error": {code, message, details}}` envelope (see
//! [`bot_envelope`]), so extractors and helpers are shared by both families.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use warden_actors::{DomainError, ErrorKind};

use crate::storage::users::StoreError;

/// One field-level validation problem, FastAPI style.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: String,
    pub loc: Vec<Value>,
    pub msg: String,
}

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub fields: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), fields: Vec::new(), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// A 422 with the given problems.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = fields.first().map(|f| f.msg.clone()).unwrap_or_default();
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, message, fields, retry_after: None }
    }

    /// A 422 for one field. `loc` is like `["body", "email"]`.
    pub fn field(loc: &[&str], kind: &str, msg: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            kind: kind.into(),
            loc: loc.iter().map(|s| Value::String((*s).to_string())).collect(),
            msg: msg.into(),
        }])
    }

    /// A 500 whose cause is logged here, once, and never shown to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed with an internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    /// A 503 naming the dependency that is down.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        let status = match err.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => return ApiError::internal(err),
        };
        let mut api = ApiError::new(status, err.message());
        api.retry_after = err.retry_after_secs();
        api
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %err, "database unavailable");
                ApiError::unavailable("database unavailable")
            }
            _ => ApiError::internal(format!("database error: {err}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Domain(d) => d.into(),
            StoreError::Db(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.fields.is_empty() {
            json!({ "detail": self.message })
        } else {
            json!({ "detail": self.fields })
        };
        let mut res = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res.extensions_mut().insert(self);
        res
    }
}

/// The family B error code for a status.
fn bot_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "VALIDATION_ERROR",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        429 => "RATE_LIMITED",
        503 => "SERVICE_UNAVAILABLE",
        _ => "INTERNAL_ERROR",
    }
}

impl ApiError {
    /// The family B envelope for this error. Validation problems become 400 with
    /// `details: [{field, message}]`, as seed 001 specifies.
    pub fn to_bot_response(&self) -> Response {
        let (status, message, details) = if !self.fields.is_empty() {
            let details: Vec<Value> = self
                .fields
                .iter()
                .map(|f| {
                    let field = f
                        .loc
                        .iter()
                        .skip(1)
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(".");
                    json!({ "field": field, "message": f.msg })
                })
                .collect();
            (StatusCode::BAD_REQUEST, "参数验证失败".to_string(), Some(Value::Array(details)))
        } else {
            match self.status {
                StatusCode::UNAUTHORIZED => {
                    (self.status, "未认证".to_string(), Some(json!({ "reason": self.message })))
                }
                StatusCode::INTERNAL_SERVER_ERROR => {
                    (self.status, "服务器内部错误".to_string(), None)
                }
                _ => (self.status, self.message.clone(), None),
            }
        };
        let mut error = json!({ "code": bot_code(status), "message": message });
        if let Some(details) = details {
            error["details"] = details;
        }
        let mut res = (status, Json(json!({ "success": false, "error": error }))).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// Middleware for the family B router: re-renders every [`ApiError`] response as the
/// envelope.
pub async fn bot_envelope(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    match res.extensions().get::<ApiError>() {
        Some(err) => err.to_bot_response(),
        None => res,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(res: Response) -> Value {
        let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn validation_errors_render_as_fastapi_422_and_as_bot_400() {
        let err = ApiError::field(&["body", "email"], "missing", "Field required");
        let v1 = err.clone().into_response();
        assert_eq!(v1.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body(v1).await,
            json!({"detail": [{"type": "missing", "loc": ["body", "email"], "msg": "Field required"}]})
        );
        let bot = err.to_bot_response();
        assert_eq!(bot.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            body(bot).await,
            json!({"success": false, "error": {"code": "VALIDATION_ERROR", "message": "参数验证失败",
                   "details": [{"field": "email", "message": "Field required"}]}})
        );
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let res = ApiError::internal("secret table missing").into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = body(res).await.to_string();
        assert!(!text.contains("secret"));
        let bot = ApiError::internal("secret").to_bot_response();
        assert_eq!(
            body(bot).await,
            json!({"success": false, "error": {"code": "INTERNAL_ERROR", "message": "服务器内部错误"}})
        );
    }

    #[tokio::test]
    async fn rate_limited_errors_carry_retry_after() {
        let res = ApiError::from(DomainError::rate_limited("too many", 42)).into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "42");
    }
}
