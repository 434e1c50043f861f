//! `GET/PUT /api/config` (seed 001): the integration settings, secrets masked; a PUT
//! takes flat upper-case keys, checks them all, then applies them live.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use warden_actors::ports::BusEvent;

use crate::http::audit::{audit, Audit};
use crate::http::error::{ApiError, FieldError};
use crate::http::extract::{AdminUser, AppJson, AuthUser, ClientIp};
use crate::http::state::AppState;
use crate::integrations::live::{canonical, canonicalize, Kind, AS_SETTINGS};
use crate::notify::channel::MASK;

fn masked(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        MASK
    }
}

/// The current integration settings, secrets masked.
#[utoipa::path(get, path = "/api/config", tag = "config", security(("bearer" = [])),
    responses((status = 200, description = "{success, data: {llm, feishu, security, monitoring}}")))]
pub async fn get(State(state): State<AppState>, _user: AuthUser) -> Json<Value> {
    let live = state.integrations.borrow().clone();
    let settings = state.runtime_settings();
    let f = &live.feishu;
    Json(json!({"success": true, "data": {
        "llm": {"provider": live.llm.provider, "model": live.llm.model, "base_url": live.llm.base_url,
                "timeout": live.llm.timeout_secs, "api_key": masked(&live.llm.api_key)},
        "feishu": {"app_id": f.app_id, "app_secret": masked(&f.app_secret),
                   "verification_token": masked(&f.verification_token), "encrypt_key": masked(&f.encrypt_key),
                   "alert_bot_ids": f.alert_bots()},
        "security": {"allowed_namespaces": live.allowed_namespaces, "max_replica_change": live.max_replica_change,
                     "forbidden_verbs": settings.forbidden_verbs, "hourly_quota": settings.hourly_quota},
        "monitoring": {"enable_postgresql": live.enable_postgresql, "enable_redis": live.enable_redis,
                       "enable_aws": live.enable_aws},
    }}))
}

/// Change integration settings: every key is checked first, and nothing is applied if
/// one is unknown or invalid. A masked secret sent back keeps the stored one.
#[utoipa::path(put, path = "/api/config", tag = "config", security(("bearer" = [])), request_body = Object,
    responses((status = 200, description = "{success, message: 配置更新成功}"), (status = 400, description = "names the unknown key or bad value")))]
pub async fn put(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ip: ClientIp,
    AppJson(body): AppJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let mut overrides = BTreeMap::new();
    let mut settings = BTreeMap::new();
    let mut problems = Vec::new();
    for (key, value) in &body {
        let Some((name, kind)) = canonical(key) else {
            problems.push(FieldError {
                kind: "value_error".into(),
                loc: vec![json!("body"), json!(key)],
                msg: format!("unknown configuration key '{key}'"),
            });
            continue;
        };
        if kind == Kind::Secret && value.as_str() == Some(MASK) {
            continue;
        }
        match canonicalize(kind, value) {
            Ok(v) => match AS_SETTINGS.iter().find(|(k, _)| *k == name) {
                Some((_, setting)) => {
                    settings.insert(*setting, v);
                }
                None => {
                    overrides.insert(name, v);
                }
            },
            Err(msg) => problems.push(FieldError {
                kind: "value_error".into(),
                loc: vec![json!("body"), json!(key)],
                msg: format!("{key}: {msg}"),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    state.db.save_integration_config(&overrides, &settings, admin.id, state.clock.now()).await?;
    reload(&state).await?;
    crate::http::v1::settings::reload(&state).await?;
    // App-bot channels depend on the Feishu app credentials.
    state.notifier.reload();
    state.bus.publish(BusEvent::SettingsChanged);
    // Keys only: values may be secrets.
    let keys: Vec<&str> = overrides.keys().copied().chain(settings.keys().copied()).collect();
    audit(
        &state,
        Audit::new(Some(admin.id), "update_config", "config").ip(&ip).detail(json!({"keys": keys})),
    )
    .await;
    Ok(Json(json!({"success": true, "message": "配置更新成功"})))
}

/// Rebuilds the live integration settings from the file configuration and the store.
pub async fn reload(state: &AppState) -> Result<(), sqlx::Error> {
    let overrides = state.db.integration_overrides().await?;
    state
        .integrations
        .send_replace(crate::integrations::live::Integrations::new(&state.config, &overrides));
    Ok(())
}
