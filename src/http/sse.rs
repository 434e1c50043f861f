//! Server-sent event streams: `GET /api/v1/demo/alerts/stream` (public) sends a
//! `connected` event, then an `alert` event whenever an alert fires (and `diagnosis`
//! events once incidents are diagnosed), with keep-alive comments every 15 s.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use warden_actors::model::{AlertEventKind, LiveEvent};

use super::state::AppState;

/// Live alert stream for demos and dashboards.
#[utoipa::path(get, path = "/api/v1/demo/alerts/stream", tag = "demo",
    responses((status = 200, description = "text/event-stream: `connected`, then `alert` {alert_id, rule_id, title, severity, message, host_id, metric_value, fired_at}", content_type = "text/event-stream")))]
pub async fn demo_alerts(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.runtime.events.subscribe();
    let connected =
        Event::default().event("connected").data(json!({"status": "connected"}).to_string());
    let alerts = stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(LiveEvent::Alert(a)) if a.kind == AlertEventKind::Fired => {
                    let data = json!({
                        "alert_id": a.alert_id, "rule_id": a.rule_id, "title": a.title, "severity": a.severity,
                        "message": a.message, "host_id": a.host_id, "metric_value": a.metric_value, "fired_at": a.at,
                    });
                    let event = Event::default().event("alert").data(data.to_string());
                    return Some((Ok(event), rx));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let stream = stream::once(async move { Ok(connected) }).chain(alerts);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keepalive"))
}
