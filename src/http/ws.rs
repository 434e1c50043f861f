//! WebSockets: the dashboard push, the live log stream, and the agent channel.
//! Users authenticate with the JWT in `?token=`; agents with their agent token in the
//! `Authorization`/`X-Agent-Token` header or `?token=`. A missing or bad credential
//! gets the socket closed with code 1008 and a reason.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use warden_actors::host::HostMsg;
use warden_actors::model::LiveEvent;

use super::error::ApiError;
use super::extract::{authenticate, authenticate_agent, bearer, AppPath, AppQuery};
use super::state::AppState;
use super::v1::agent::owned_host;

/// How often the dashboard summary is pushed without changes.
const DASHBOARD_EVERY: Duration = Duration::from_secs(30);

/// The upgrade, or a JSON 400/426 for a plain HTTP request to a WebSocket route.
fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    ws.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("this route needs a WebSocket upgrade: {}", e.body_text()),
        )
    })
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

async fn close(mut socket: WebSocket, reason: String) {
    let frame = CloseFrame { code: axum::extract::ws::close_code::POLICY, reason: reason.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Checks the user token of a WebSocket request; `Err` holds the close reason.
async fn user_from_query(state: &AppState, token: Option<&str>) -> Result<(), String> {
    let token =
        token.filter(|t| !t.is_empty()).ok_or("missing token: pass ?token=<access token>")?;
    authenticate(state, token)
        .await
        .map(|_| ())
        .map_err(|e| format!("invalid token: {}", e.message))
}

/// `WS /api/v1/ws/dashboard`: the summary at once, every 30 s, and on every host or
/// service status change (bursts are coalesced into one push).
#[utoipa::path(get, path = "/api/v1/ws/dashboard", tag = "dashboard",
    params(("token" = String, Query, description = "access JWT")),
    responses((status = 101, description = "WebSocket: JSON summary frames {timestamp, hosts, services, alerts, recent_1h, avg_usage, health_score}")))]
pub async fn dashboard(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<TokenQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    Ok(upgrade(ws)?.on_upgrade(move |socket| async move {
        match user_from_query(&state, q.token.as_deref()).await {
            Ok(()) => dashboard_loop(state, socket).await,
            Err(reason) => close(socket, reason).await,
        }
    }))
}

async fn push_summary(state: &AppState, socket: &mut WebSocket) -> bool {
    match super::v1::dashboard::summary(state).await {
        Ok(v) => socket.send(Message::Text(v.to_string().into())).await.is_ok(),
        Err(e) => {
            tracing::warn!(error = %e.message, "could not compute the dashboard summary");
            true
        }
    }
}

async fn dashboard_loop(state: AppState, mut socket: WebSocket) {
    let mut events = state.runtime.events.subscribe();
    let mut tick = tokio::time::interval(DASHBOARD_EVERY);
    loop {
        let push = tokio::select! {
            _ = tick.tick() => true,
            ev = events.recv() => match ev {
                Ok(LiveEvent::HostStatusChanged { .. } | LiveEvent::ServiceStatusChanged { .. }) | Err(RecvError::Lagged(_)) => {
                    // Coalesce whatever else is already queued into this one push.
                    while let Ok(_ev) = events.try_recv() {}
                    true
                }
                Ok(_) => false,
                Err(RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => false,
            },
        };
        if push && !push_summary(&state, &mut socket).await {
            return;
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LogStreamQuery {
    pub token: Option<String>,
    pub host_id: Option<i64>,
    pub service: Option<String>,
    /// One level or a comma-separated list.
    pub level: Option<String>,
}

/// `WS /ws/logs`: every ingested line matching the filters, as a JSON object.
#[utoipa::path(get, path = "/ws/logs", tag = "logs",
    params(("token" = String, Query, description = "access JWT"), ("host_id" = Option<i64>, Query),
           ("service" = Option<String>, Query), ("level" = Option<String>, Query, description = "one or a comma list")),
    responses((status = 101, description = "WebSocket: one JSON frame per log line")))]
pub async fn logs(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<LogStreamQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    Ok(upgrade(ws)?.on_upgrade(move |socket| async move {
        match user_from_query(&state, q.token.as_deref()).await {
            Ok(()) => logs_loop(state, socket, q).await,
            Err(reason) => close(socket, reason).await,
        }
    }))
}

async fn logs_loop(state: AppState, mut socket: WebSocket, q: LogStreamQuery) {
    let levels: Vec<String> = q
        .level
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(|l| l.trim().to_ascii_uppercase())
        .filter(|l| !l.is_empty())
        .collect();
    let mut events = state.runtime.events.subscribe();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(LiveEvent::LogsIngested(lines)) => {
                    for line in lines.iter() {
                        let wanted = q.host_id.is_none_or(|h| line.host_id.0 == h)
                            && q.service.as_deref().is_none_or(|s| line.service.as_deref() == Some(s))
                            && (levels.is_empty() || levels.contains(&line.level));
                        if wanted {
                            let text = serde_json::to_string(line).unwrap_or_default();
                            if socket.send(Message::Text(text.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    let notice = json!({"type": "lagged", "missed": n}).to_string();
                    if socket.send(Message::Text(notice.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

static CONNECTIONS: AtomicU64 = AtomicU64::new(1);

/// The agent token of a WebSocket request: header (either style) or `?token=`.
fn agent_token<'a>(parts: &'a Parts, query: Option<&'a str>) -> Option<&'a str> {
    parts
        .headers
        .get("x-agent-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| bearer(parts))
        .or(query)
        .filter(|t| !t.is_empty())
}

/// `WS /api/v1/agent/ws/{host_id}`: answers `ping` with `pong`, marks the agent
/// connected while open, and carries commands from the host actor to the agent.
#[utoipa::path(get, path = "/api/v1/agent/ws/{host_id}", tag = "agent", security(("agent_token" = [])),
    params(("host_id" = i64, Path), ("token" = Option<String>, Query, description = "agent token, if not in a header")),
    responses((status = 101, description = "WebSocket: {type: ping} → {type: pong}; {type: exec_command, ...} to the agent")))]
pub async fn agent(
    State(state): State<AppState>,
    AppPath(host_id): AppPath<i64>,
    AppQuery(q): AppQuery<TokenQuery>,
    parts: Parts,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = upgrade(ws)?;
    let token = agent_token(&parts, q.token.as_deref()).map(str::to_string);
    Ok(ws.on_upgrade(move |socket| async move {
        let Some(token) = token else {
            return close(socket, "missing agent token".into()).await;
        };
        let auth = match authenticate_agent(&state, &token).await {
            Ok(a) => a,
            Err(e) => return close(socket, e.message).await,
        };
        match owned_host(&state, auth, host_id) {
            Ok(entry) => {
                agent_loop(entry.actor, socket, host_id, Arc::clone(&state.agent_commands)).await
            }
            Err(e) => close(socket, e.message).await,
        }
    }))
}

async fn agent_loop(
    actor: ractor::ActorRef<HostMsg>,
    mut socket: WebSocket,
    host_id: i64,
    commands: Arc<crate::remediation::AgentCommands>,
) {
    let connection = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    if actor.cast(HostMsg::AgentConnected { connection, sender: tx }).is_err() {
        return close(socket, "host is restarting; reconnect".into()).await;
    }
    loop {
        tokio::select! {
            outgoing = rx.recv() => match outgoing {
                Some(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Text(text))) => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    match v.get("type").and_then(Value::as_str) {
                        Some("ping") => {
                            if socket.send(Message::Text(json!({"type": "pong"}).to_string().into())).await.is_err() {
                                break;
                            }
                        }
                        // Output and results of commands the remediation executor sent.
                        Some(kind) => {
                            if !commands.deliver(host_id, &v) {
                                tracing::debug!(host_id, kind, "unsolicited agent message");
                            }
                        }
                        None => tracing::debug!(host_id, "ignoring a non-JSON agent message"),
                    }
                }
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = actor.cast(HostMsg::AgentDisconnected { connection });
}
