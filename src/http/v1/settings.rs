//! Runtime settings (seed 000 §System Settings): read by anyone logged in, written by
//! admins, applied without a restart.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use warden_actors::ports::BusEvent;
use warden_actors::settings::{validate_update, RuntimeSettings, CATALOG};

use crate::http::audit::{audit, Audit};
use crate::http::error::{ApiError, FieldError};
use crate::http::extract::{AdminUser, AppJson, AuthUser, ClientIp};
use crate::http::state::AppState;

/// One setting's value (always a string, as the seed shows) and description.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingOut {
    pub value: String,
    pub description: String,
}

/// Every known setting, defaults filled in.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = BTreeMap<String, SettingOut>)))]
pub async fn get_all(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<BTreeMap<&'static str, SettingOut>>, ApiError> {
    let stored = state.db.load_settings().await?;
    let out = CATALOG
        .iter()
        .map(|spec| {
            let value = stored.get(spec.key).cloned().unwrap_or_else(|| spec.default.to_string());
            (spec.key, SettingOut { value, description: spec.description.to_string() })
        })
        .collect();
    Ok(Json(out))
}

/// Update settings. Every key must be known and every value valid, or nothing changes.
#[utoipa::path(put, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])),
    request_body = Object,
    responses((status = 200, description = "{\"status\": \"ok\"}"),
              (status = 422, description = "unknown key or invalid value, named in loc")))]
pub async fn update(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppJson(body): AppJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let accepted = validate_update(&body).map_err(|errors| {
        ApiError::validation(
            errors
                .into_iter()
                .map(|e| FieldError {
                    kind: "value_error".into(),
                    loc: vec![Value::String("body".into()), Value::String(e.key)],
                    msg: e.message,
                })
                .collect(),
        )
    })?;
    if !accepted.is_empty() {
        state.db.save_settings(&accepted, admin.id, state.clock.now()).await?;
        reload(&state).await?;
        state.bus.publish(BusEvent::SettingsChanged);
    }
    audit(
        &state,
        Audit::new(Some(admin.id), "update_settings", "settings").ip(&ip).detail(json!(accepted)),
    )
    .await;
    Ok(Json(json!({"status": "ok"})))
}

/// Reads the settings from the store and tells every subscriber on this node.
pub async fn reload(state: &AppState) -> Result<(), sqlx::Error> {
    let stored = state.db.load_settings().await?;
    state.settings.send_replace(RuntimeSettings::from_stored(&stored));
    Ok(())
}
