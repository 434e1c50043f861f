//! `POST /api/v1/webhooks/alertmanager`: Prometheus Alertmanager deliveries become
//! Warden alerts (seed 000 §Webhooks). Authenticated by a bearer token, optionally
//! signed; repeated deliveries are counted, not processed again.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use warden_actors::ids::{AlertId, HostId};
use warden_actors::model::{AlertEvent, AlertEventKind, LiveEvent};

use crate::http::error::ApiError;
use crate::http::extract::{parse_json, RawBody};
use crate::http::state::AppState;
use crate::integrations::alertmanager::{signature_matches, token_matches, AmAlert, Payload};
use crate::storage::alerts::ExternalAlert;

fn emit(state: &AppState, id: i64, kind: AlertEventKind, a: &AmAlert, host_id: Option<i64>) {
    state.runtime.events.emit(LiveEvent::Alert(AlertEvent {
        alert_id: AlertId(id),
        rule_id: None,
        kind,
        severity: a.severity().to_string(),
        title: a.title(),
        message: a.message(),
        host_id: host_id.map(HostId),
        metric_value: None,
        at: state.clock.now(),
    }));
}

/// Receive an Alertmanager webhook delivery.
#[utoipa::path(post, path = "/api/v1/webhooks/alertmanager", tag = "webhooks",
    request_body(content = Object, description = "Alertmanager webhook payload, version 4"),
    responses((status = 200, description = "status ok with received, deduplicated and processed counts"),
              (status = 400, description = "no alerts"), (status = 401, description = "bad token or signature"),
              (status = 503, description = "webhook not configured")))]
pub async fn alertmanager(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let cfg = &state.config.alertmanager;
    if cfg.webhook_token.is_empty() {
        return Err(ApiError::unavailable(
            "Alertmanager webhook is not configured (set ALERTMANAGER_WEBHOOK_TOKEN)",
        ));
    }
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or_else(|| ApiError::unauthorized("Missing webhook token"))?;
    if !token_matches(presented, &cfg.webhook_token) {
        return Err(ApiError::unauthorized("Invalid webhook token"));
    }
    if !cfg.webhook_secret.is_empty() {
        if let Some(sig) = headers.get("x-vigilops-signature").and_then(|v| v.to_str().ok()) {
            if !signature_matches(sig, &cfg.webhook_secret, &body) {
                return Err(ApiError::unauthorized("Invalid signature"));
            }
        }
    }
    let payload: Payload = parse_json(&body)?;
    if payload.alerts.is_empty() {
        return Err(ApiError::bad_request("payload has no alerts"));
    }
    let (mut deduplicated, mut processed) = (0, 0);
    let now = state.clock.now();
    for a in &payload.alerts {
        if a.status != "firing" && a.status != "resolved" {
            return Err(ApiError::bad_request(format!(
                "alert status must be firing or resolved (got '{}')",
                a.status
            )));
        }
    }
    for a in &payload.alerts {
        let fingerprint = a.fingerprint();
        let key = format!("am_dedup:{fingerprint}:{}:{}", a.starts_at.timestamp(), a.status);
        let first = state.cache.set_nx(&key, cfg.dedup_window_secs).await.unwrap_or(true);
        if !first {
            deduplicated += 1;
            continue;
        }
        processed += 1;
        let host_id = match a.instance_host() {
            Some(h) => state.db.host_id_by_name_or_ip(h).await?,
            None => None,
        };
        if a.is_firing() {
            let ext = ExternalAlert {
                fingerprint,
                host_id,
                severity: a.severity().to_string(),
                title: a.title(),
                message: a.message(),
                labels: json!(a.labels).to_string(),
                fired_at: a.starts_at,
            };
            let (id, new) = state.db.upsert_external_alert(&ext, now).await?;
            if new {
                emit(&state, id, AlertEventKind::Fired, a, host_id);
                emit(&state, id, AlertEventKind::NotifyFired, a, host_id);
            }
        } else if let Some(id) =
            state.db.resolve_external_alert(&fingerprint, a.ends_at.unwrap_or(now)).await?
        {
            emit(&state, id, AlertEventKind::Resolved, a, host_id);
            emit(&state, id, AlertEventKind::NotifyResolved, a, host_id);
        }
    }
    Ok(Json(json!({
        "status": "ok",
        "received": payload.alerts.len(),
        "deduplicated": deduplicated,
        "processed": processed,
    })))
}
