//! The dashboard (seed 000 §Dashboard): hourly trends and the live summary pushed over
//! `WS /api/v1/ws/dashboard`.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::{DurationRound, SecondsFormat};
use serde_json::{json, Value};
use warden_actors::classify::{health_score, HealthInputs};
use warden_actors::model::HostStatus;

use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::state::AppState;

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The summary the dashboard WebSocket pushes. Hosts and usage come from the host
/// actors' live views; services, logs and alerts from the store ("firing" counts every
/// open alert, acknowledged or not).
pub async fn summary(state: &AppState) -> Result<Value, ApiError> {
    let lives = state.runtime.registry.host_lives();
    let total = lives.len() as u64;
    let (mut online, mut n, mut cpu, mut mem, mut disk) = (0u64, 0u32, 0.0, 0.0, 0.0);
    let (mut n_mem, mut n_disk) = (0u32, 0u32);
    for (_, live) in &lives {
        if live.status() != HostStatus::Online {
            continue;
        }
        online += 1;
        if let Some(m) = live.metrics() {
            if let Some(c) = m.cpu_percent {
                cpu += c;
                n += 1;
            }
            if let Some(x) = m.memory_percent {
                mem += x;
                n_mem += 1;
            }
            if let Some(x) = m.disk_percent {
                disk += x;
                n_disk += 1;
            }
        }
    }
    let avg = |sum: f64, count: u32| (count > 0).then(|| round1(sum / f64::from(count)));
    let (avg_cpu, avg_mem, avg_disk) = (avg(cpu, n), avg(mem, n_mem), avg(disk, n_disk));
    let services = state.db.service_stats().await?;
    let now = state.clock.now();
    let errors_1h = state.db.error_log_count(now - chrono::Duration::hours(1)).await?;
    let (alerts_total, alerts_open, alerts_1h) =
        state.db.alert_counts(now - chrono::Duration::hours(1)).await?;
    let score = health_score(HealthInputs {
        hosts_total: total,
        hosts_offline: total - online,
        services_total: services.total as u64,
        services_down: services.unhealthy as u64,
        alerts_firing: alerts_open as u64,
        avg_cpu,
        avg_mem,
    });
    Ok(json!({
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Secs, false),
        "hosts": {"total": total, "online": online, "offline": total - online},
        "services": {"total": services.total, "up": services.healthy, "down": services.unhealthy},
        "alerts": {"total": alerts_total, "firing": alerts_open},
        "recent_1h": {"alert_count": alerts_1h, "error_log_count": errors_1h},
        "avg_usage": {"cpu_percent": avg_cpu.unwrap_or(0.0), "memory_percent": avg_mem.unwrap_or(0.0),
                      "disk_percent": avg_disk.unwrap_or(0.0)},
        "health_score": score,
    }))
}

/// The last 24 hours in hourly buckets (oldest first, the current hour last).
#[utoipa::path(get, path = "/api/v1/dashboard/trends", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, description = "{\"trends\": [{hour, avg_cpu, avg_mem, alert_count, error_log_count}]}")))]
pub async fn trends(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let current = now.duration_trunc(chrono::Duration::hours(1)).unwrap_or(now);
    let first = current - chrono::Duration::hours(23);
    let usage: HashMap<i64, (Option<f64>, Option<f64>)> = state
        .db
        .hourly_usage(first)
        .await?
        .into_iter()
        .map(|h| (h.hour, (h.avg_cpu, h.avg_mem)))
        .collect();
    let errors: HashMap<i64, i64> = state.db.hourly_errors(first).await?.into_iter().collect();
    let alerts: HashMap<i64, i64> = state.db.hourly_alerts(first).await?.into_iter().collect();
    let trends: Vec<Value> = (0..24)
        .map(|i| {
            let hour = first + chrono::Duration::hours(i);
            let key = hour.timestamp();
            let (cpu, mem) = usage.get(&key).copied().unwrap_or((None, None));
            json!({
                "hour": hour.to_rfc3339_opts(SecondsFormat::Secs, false),
                "avg_cpu": cpu.map(round1), "avg_mem": mem.map(round1),
                "alert_count": alerts.get(&key).copied().unwrap_or(0),
                "error_log_count": errors.get(&key).copied().unwrap_or(0),
            })
        })
        .collect();
    Ok(Json(json!({"trends": trends})))
}
