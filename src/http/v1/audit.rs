//! The audit log, admin only (seed 000 §Audit Logs).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::ApiError;
use crate::http::extract::{AdminUser, AppQuery, PageQuery};
use crate::http::state::AppState;
use crate::storage::audit::{AuditFilter, AuditRow};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub user_id: Option<i64>,
    /// login, login_failed, register, create_user, update_user, delete_user,
    /// reset_password, create_agent_token, revoke_agent_token, update_settings
    pub action: Option<String>,
    /// user, agent_token, settings
    pub resource_type: Option<String>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: i64,
    pub user_id: Option<i64>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<i64>,
    /// JSON text with the details of the change, or null.
    pub detail: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditRow> for AuditOut {
    fn from(r: AuditRow) -> Self {
        AuditOut {
            id: r.id,
            user_id: r.user_id,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            detail: r.detail,
            ip_address: r.ip_address,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditOut>,
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit-logs", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 403, description = "权限不足")))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let (page, page_size) = PageQuery { page: q.page, page_size: q.page_size }.resolve(20, 100)?;
    let filter = AuditFilter {
        user_id: q.user_id,
        action: q.action.filter(|s| !s.is_empty()),
        resource_type: q.resource_type.filter(|s| !s.is_empty()),
    };
    let p = state.db.list_audit(&filter, page, page_size).await?;
    Ok(Json(AuditList {
        items: p.items.into_iter().map(Into::into).collect(),
        total: p.total,
        page,
        page_size,
    }))
}
