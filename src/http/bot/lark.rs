//! Feishu (Lark) callbacks: `POST /lark/event` (URL verification, alert-bot messages
//! becoming incidents) and `POST /lark/card/action` (Approve/Reject and diagnosis
//! buttons). Both verify the request (PROTOCOLS.md §3–§4) before reading it, and answer
//! 503 while neither a verification token nor an encrypt key is configured.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use warden_actors::incident::event;

use crate::http::error::ApiError;
use crate::http::extract::{parse_json, ClientIp, RawBody};
use crate::http::state::AppState;
use crate::http::v1::remediations::decide_run;
use crate::incidents::TextAlert;
use crate::integrations::alertmanager::token_matches;
use crate::integrations::feishu::{decrypt, message_text, sha1_signature, sha256_signature};
use crate::storage::incidents::IncidentChange;

/// How long an event id is remembered (Feishu retries for about 7 h).
const DEDUP_SECS: u64 = 8 * 3600;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The request's JSON, decrypted when it is `{"encrypt": …}`.
fn plaintext(state: &AppState, raw: &[u8]) -> Result<Value, ApiError> {
    let body: Value = parse_json(raw)?;
    let Some(encrypted) = body.get("encrypt").and_then(Value::as_str).filter(|e| !e.is_empty())
    else {
        return Ok(body);
    };
    let key = &state.feishu().encrypt_key;
    if key.is_empty() {
        return Err(ApiError::bad_request(
            "encrypted callback but feishu.encrypt_key is not configured",
        ));
    }
    let text = decrypt(key, encrypted)
        .map_err(|e| ApiError::bad_request(format!("could not decrypt the callback: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|_| ApiError::bad_request("the decrypted callback is not JSON"))
}

fn configured(state: &AppState) -> Result<(), ApiError> {
    let f = &state.feishu();
    if f.verification_token.is_empty() && f.encrypt_key.is_empty() {
        return Err(ApiError::unavailable(
            "Feishu callbacks are not configured (set FEISHU_VERIFICATION_TOKEN or FEISHU_ENCRYPT_KEY)",
        ));
    }
    Ok(())
}

/// Checks `X-Lark-Signature`. Events: the SHA-256 scheme when an encrypt key is set.
/// Cards: 64 hex digits → SHA-256 with the encrypt key, 40 → SHA-1 with the verification
/// token; a card without a signature is refused.
fn check_signature(
    state: &AppState,
    headers: &HeaderMap,
    raw: &[u8],
    card: bool,
) -> Result<(), ApiError> {
    let f = &state.feishu();
    let signature = header(headers, "x-lark-signature").to_ascii_lowercase();
    if signature.is_empty() && (card || !f.encrypt_key.is_empty()) {
        return Err(ApiError::unauthorized("missing X-Lark-Signature"));
    }
    if signature.is_empty() {
        return Ok(());
    }
    let timestamp = header(headers, "x-lark-request-timestamp");
    let nonce = header(headers, "x-lark-request-nonce");
    let expected = match signature.len() {
        64 if !f.encrypt_key.is_empty() => sha256_signature(timestamp, nonce, &f.encrypt_key, raw),
        40 if card && !f.verification_token.is_empty() => {
            sha1_signature(timestamp, nonce, &f.verification_token, raw)
        }
        _ => {
            return Err(ApiError::unauthorized(
                "X-Lark-Signature does not match a configured scheme",
            ))
        }
    };
    if !token_matches(&signature, &expected) {
        return Err(ApiError::unauthorized("invalid X-Lark-Signature"));
    }
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| ApiError::unauthorized("missing X-Lark-Request-Timestamp"))?;
    let skew = (state.clock.now().timestamp() - sent).unsigned_abs();
    if skew > f.max_skew_secs {
        return Err(ApiError::unauthorized(format!(
            "stale request: timestamp is {skew} s away from now"
        )));
    }
    Ok(())
}

/// The verification token of a 2.0 (`header.token`) or 1.0 (`token`) envelope.
fn check_token(state: &AppState, body: &Value) -> Result<(), ApiError> {
    let expected = &state.feishu().verification_token;
    if expected.is_empty() {
        return Ok(()); // the encrypt-key signature already proved the sender
    }
    let token = body
        .pointer("/header/token")
        .or_else(|| body.get("token"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if token_matches(token, expected) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("invalid verification token"))
    }
}

/// `true` the first time an event id is seen.
async fn first_delivery(state: &AppState, body: &Value) -> bool {
    let id = body.pointer("/header/event_id").or_else(|| body.get("uuid")).and_then(Value::as_str);
    let Some(id) = id.filter(|i| !i.is_empty()) else { return true };
    // A cache failure must not drop the event: process it (at worst twice).
    state.cache.set_nx(&format!("feishu:event:{id}"), DEDUP_SECS).await.unwrap_or(true)
}

fn challenge(state: &AppState, body: &Value) -> Option<Result<Json<Value>, ApiError>> {
    if body.get("type").and_then(Value::as_str) != Some("url_verification") {
        return None;
    }
    let answer = check_token(state, body).map(|()| {
        Json(json!({"challenge": body.get("challenge").cloned().unwrap_or(Value::Null)}))
    });
    Some(answer)
}

/// Feishu event subscription.
#[utoipa::path(post, path = "/lark/event", tag = "feishu",
    responses((status = 200, description = "{challenge} or {msg: success}"), (status = 401, description = "bad signature or token"),
              (status = 503, description = "Feishu callbacks not configured")))]
pub async fn event(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> Result<Json<Value>, ApiError> {
    configured(&state)?;
    let body = plaintext(&state, &raw)?;
    if let Some(answer) = challenge(&state, &body) {
        return answer;
    }
    check_signature(&state, &headers, &raw, false)?;
    check_token(&state, &body)?;
    if !first_delivery(&state, &body).await {
        return Ok(Json(json!({"msg": "success"})));
    }
    let kind = body
        .pointer("/header/event_type")
        .or_else(|| body.pointer("/event/type"))
        .and_then(Value::as_str);
    if kind == Some("im.message.receive_v1") {
        if let Some(alert) = alert_message(&state, &body["event"]) {
            // Answer within Feishu's 3 s; the incident is opened in the background.
            let incidents = std::sync::Arc::clone(&state.incidents);
            tokio::spawn(async move {
                if let Err(e) = incidents.receive_text(&alert).await {
                    tracing::error!(error = %e, "could not open an incident from a Feishu message");
                }
            });
        }
    }
    Ok(Json(json!({"msg": "success"})))
}

/// A message from a configured alert bot, as an alert; `None` for anything else.
fn alert_message(state: &AppState, event: &Value) -> Option<TextAlert> {
    let bots = state.feishu().alert_bots();
    let ids = event.pointer("/sender/sender_id")?.as_object()?;
    let mut candidates: Vec<&str> = ids.values().filter_map(Value::as_str).collect();
    candidates.extend(event.pointer("/sender/app_id").and_then(Value::as_str));
    let sender = candidates.into_iter().find(|id| bots.iter().any(|b| b == id))?;
    let message = event.get("message")?;
    let kind = message.get("message_type").and_then(Value::as_str).unwrap_or("text");
    let text =
        message_text(kind, message.get("content").and_then(Value::as_str).unwrap_or_default());
    if text.trim().is_empty() {
        return None;
    }
    Some(TextAlert {
        message: text,
        sender_id: Some(sender.to_string()),
        chat_id: message.get("chat_id").and_then(Value::as_str).map(str::to_string),
        metadata: message.get("message_id").map(|id| json!({"feishu_message_id": id})),
        channel: "feishu",
    })
}

fn toast(kind: &str, zh: &str, en: &str) -> Value {
    json!({"type": kind, "content": zh, "i18n": {"zh_cn": zh, "en_us": en}})
}

/// A card that replaces the buttons once a decision is taken.
fn decided_card(text: &str) -> Value {
    json!({"type": "raw", "data": {
        "config": {"wide_screen_mode": true},
        "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}],
    }})
}

fn as_id(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Feishu card button callback.
#[utoipa::path(post, path = "/lark/card/action", tag = "feishu",
    responses((status = 200, description = "{toast, card?}"), (status = 401, description = "bad signature or token"),
              (status = 503, description = "Feishu callbacks not configured")))]
pub async fn card_action(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> Result<Json<Value>, ApiError> {
    configured(&state)?;
    let body = plaintext(&state, &raw)?;
    if let Some(answer) = challenge(&state, &body) {
        return answer;
    }
    check_signature(&state, &headers, &raw, true)?;
    // The 2.0 envelope carries the verification token; a legacy click carries the card's
    // update token instead and rests on its signature.
    if body.get("schema").is_some() {
        check_token(&state, &body)?;
    }
    let inner = if body.get("schema").is_some() { &body["event"] } else { &body };
    let operator = inner
        .pointer("/operator/open_id")
        .or_else(|| inner.get("open_id"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = inner.pointer("/action/value").cloned().unwrap_or(Value::Null);
    let value = match value {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
        other => other,
    };
    Ok(Json(click(&state, &ip, operator, &value).await))
}

async fn click(state: &AppState, ip: &ClientIp, operator: &str, value: &Value) -> Value {
    let user = match state.db.user_by_feishu_open_id(operator).await {
        Ok(Some(user)) if user.role().allows(warden_actors::role::Role::Operator) => user,
        Ok(_) => {
            return json!({"toast": toast("error", "你没有审批权限:该飞书账号未绑定 Warden 操作员", "Not allowed: this Feishu user is not mapped to a Warden operator")})
        }
        Err(e) => {
            tracing::error!(error = %e, "could not look up a Feishu operator");
            return json!({"toast": toast("error", "服务器内部错误", "Internal error")});
        }
    };
    let action = value.get("action").and_then(Value::as_str).unwrap_or_default();
    let kind = value.get("kind").and_then(Value::as_str);
    let incident = value.get("incident_id").and_then(Value::as_str);
    let action = match (action, kind) {
        ("approve", Some("diagnosis_approval")) => "confirm_diagnosis",
        ("reject", Some("diagnosis_approval")) => "reject_diagnosis",
        (a, _) => a,
    };
    match action {
        "approve" | "reject" => {
            let run = match as_id(value.get("remediation_id").or_else(|| value.get("run_id"))) {
                Some(run) => Some(run),
                None => incident_run(state, incident).await,
            };
            let Some(run) = run else {
                return json!({"toast": toast("error", "找不到待审批的修复", "No remediation waiting for approval")});
            };
            decide_click(state, ip, &user, run, action == "approve").await
        }
        "confirm_diagnosis" | "reject_diagnosis" => {
            diagnosis_click(state, &user.email, incident, action == "confirm_diagnosis").await
        }
        _ => json!({"toast": toast("error", "未知的操作", "Unknown action")}),
    }
}

/// The run of an incident's alert waiting for approval (or its newest run).
async fn incident_run(state: &AppState, incident: Option<&str>) -> Option<i64> {
    let incident = state.db.incident(incident?).await.ok()??;
    let alert = incident.alert_id?;
    if let Ok(Some(run)) = state.db.pending_run_for_alert(alert).await {
        return Some(run.id);
    }
    state.db.latest_run_for_alert(alert).await.ok()?.map(|r| r.id)
}

async fn decide_click(
    state: &AppState,
    ip: &ClientIp,
    user: &crate::storage::users::UserRow,
    run: i64,
    approve: bool,
) -> Value {
    match decide_run(state, user.id, ip, run, approve, Some("via Feishu".into()), "feishu").await {
        Ok(row) => {
            let (zh, en) =
                if approve { ("已批准", "approved") } else { ("已拒绝", "rejected") };
            let text = format!("修复 #{run} {zh}(操作人 {})", user.email);
            json!({"toast": toast("success", &format!("{zh} #{run}"), &format!("Run #{run} {en}")),
                   "card": decided_card(&text), "status": row.status})
        }
        Err(e)
            if e.status == axum::http::StatusCode::BAD_REQUEST
                || e.status == axum::http::StatusCode::NOT_FOUND =>
        {
            // Already decided (a double click, a retry): say by whom.
            let by = match state.db.run_events(run).await {
                Ok(events) => events
                    .iter()
                    .rev()
                    .find(|e| matches!(e.to_status.as_str(), "approved" | "rejected" | "expired"))
                    .map(|e| format!("{} ({})", e.actor, e.to_status)),
                Err(_) => None,
            };
            let by = by.unwrap_or_else(|| e.message.clone());
            json!({"toast": toast("info", &format!("已处理:{by}"), &format!("Already handled: {by}"))})
        }
        Err(e) => json!({"toast": toast("error", &e.message, &e.message)}),
    }
}

async fn diagnosis_click(
    state: &AppState,
    by: &str,
    incident: Option<&str>,
    confirm: bool,
) -> Value {
    let Some(id) = incident else {
        return json!({"toast": toast("error", "缺少 incident_id", "incident_id is missing")});
    };
    let done = match state.db.incident_events(id).await {
        Ok(events) => events
            .into_iter()
            .find(|e| e.kind == event::DIAGNOSIS_CONFIRMED || e.kind == event::DIAGNOSIS_REJECTED),
        Err(e) => {
            tracing::error!(error = %e, "could not read an incident timeline");
            return json!({"toast": toast("error", "服务器内部错误", "Internal error")});
        }
    };
    if let Some(done) = done {
        let who = serde_json::from_str::<Value>(&done.data)
            .ok()
            .and_then(|d| d["by"].as_str().map(str::to_string))
            .unwrap_or_default();
        return json!({"toast": toast("info", &format!("已处理:{who} ({})", done.kind), &format!("Already handled by {who}"))});
    }
    let change = IncidentChange {
        status: (!confirm).then_some("escalated"),
        ..IncidentChange::event(
            if confirm { event::DIAGNOSIS_CONFIRMED } else { event::DIAGNOSIS_REJECTED },
            json!({"by": by}),
        )
    };
    match state.db.change_incident(id, &change, state.clock.now()).await {
        Ok(true) => {
            let (zh, en) = if confirm {
                ("诊断已确认", "Diagnosis confirmed")
            } else {
                ("诊断已驳回,已升级", "Diagnosis rejected; escalated")
            };
            json!({"toast": toast("success", zh, en), "card": decided_card(&format!("{id}: {zh}(操作人 {by})"))})
        }
        Ok(false) => json!({"toast": toast("error", "Incident 不存在", "Incident not found")}),
        Err(e) => {
            tracing::error!(error = %e, "could not record a diagnosis decision");
            json!({"toast": toast("error", "服务器内部错误", "Internal error")})
        }
    }
}
