//! The agent API (seed 000 §Agent Data Reporting): registration, heartbeats, metrics,
//! services and their checks, database metrics, logs, and the database targets an
//! agent collects from. Agents authenticate with an agent token; unknown fields in
//! bodies are ignored (real agents send more than the seed lists).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use warden_actors::classify::{database_status, service_category};
use warden_actors::host::HostMsg;
use warden_actors::ids::{HostId, ServiceId};
use warden_actors::model::{LiveEvent, LogLine, MetricsSnapshot, ServiceStatus};
use warden_actors::registry::HostEntry;
use warden_actors::service::ServiceMsg;

use crate::http::error::ApiError;
use crate::http::extract::{AgentAuth, AppJson, AppQuery};
use crate::http::state::AppState;
use crate::storage::databases::DbMetricValues;
use crate::storage::hosts::HostRegistration;
use crate::storage::services::ServiceRegistration;
use crate::storage::writer::{NewCheck, NewDbMetric, NewLog, WriteError};

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        tracing::warn!(error = %e, "write not acknowledged");
        ApiError::unavailable("could not store the report; retry")
    }
}

/// The registry entry of a host the calling agent owns: 404 when unknown, 403 when it
/// belongs to another agent token.
pub fn owned_host(state: &AppState, agent: AgentAuth, host_id: i64) -> Result<HostEntry, ApiError> {
    match state.runtime.registry.host(HostId(host_id)) {
        None => Err(ApiError::not_found(format!("Host {host_id} not found"))),
        Some(e) if e.token_id != Some(agent.token_id) => Err(ApiError::forbidden(format!(
            "Host {host_id} is not registered with this agent token"
        ))),
        Some(e) => Ok(e),
    }
}

fn field(name: &str, kind: &str, msg: impl Into<String>) -> ApiError {
    ApiError::field(&["body", name], kind, msg)
}

/// A report time: the agent's when given (not too far in the future), else now.
fn report_time(
    state: &AppState,
    name: &str,
    ts: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, ApiError> {
    let now = state.clock.now();
    match ts {
        None => Ok(now),
        Some(t) if t > now + chrono::Duration::seconds(state.config.ingest.max_clock_skew_secs) => {
            Err(field(
                name,
                "value_error",
                format!(
                    "timestamp {} is in the future",
                    t.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            ))
        }
        Some(t) => Ok(t),
    }
}

fn opt_text(v: Option<String>, max: usize) -> Option<String> {
    v.map(|s| s.trim().chars().take(max).collect::<String>()).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------- register

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterIn {
    pub hostname: String,
    pub display_name: Option<String>,
    pub ip_address: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub arch: Option<String>,
    pub cpu_cores: Option<i64>,
    pub memory_total_mb: Option<i64>,
    pub agent_version: Option<String>,
    /// A list (`["web"]`) or an object (`{"web": true}`).
    #[schema(value_type = Object)]
    pub tags: Option<Value>,
    pub group_name: Option<String>,
    #[schema(value_type = Object)]
    pub network_info: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterOut {
    pub host_id: i64,
    pub hostname: String,
    pub status: &'static str,
    pub created: bool,
}

/// Register (or re-register) the agent's host; idempotent by hostname.
#[utoipa::path(post, path = "/api/v1/agent/register", tag = "agent", request_body = RegisterIn,
    security(("agent_token" = [])),
    responses((status = 200, body = RegisterOut), (status = 401, description = "Invalid or revoked agent token"),
              (status = 422, description = "invalid input")))]
pub async fn register(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<RegisterIn>,
) -> Result<Json<RegisterOut>, ApiError> {
    let hostname = body.hostname.trim().to_string();
    if hostname.is_empty() || hostname.len() > 255 {
        return Err(field("hostname", "string_length", "String should have 1 to 255 characters"));
    }
    for (name, v) in [("cpu_cores", body.cpu_cores), ("memory_total_mb", body.memory_total_mb)] {
        if v.is_some_and(|n| n < 0) {
            return Err(field(
                name,
                "greater_than_equal",
                "Input should be greater than or equal to 0",
            ));
        }
    }
    let tags = match body.tags {
        None | Some(Value::Null) => None,
        Some(v @ (Value::Array(_) | Value::Object(_))) => Some(v.to_string()),
        Some(_) => return Err(field("tags", "type_error", "tags must be a list or an object")),
    };
    let network_info = match body.network_info {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(_) => {
            return Err(field("network_info", "type_error", "network_info must be an object"))
        }
    };
    let reg = HostRegistration {
        hostname,
        display_name: opt_text(body.display_name, 255),
        ip_address: opt_text(body.ip_address, 64),
        private_ip: opt_text(body.private_ip, 64),
        public_ip: opt_text(body.public_ip, 64),
        os: opt_text(body.os, 128),
        os_version: opt_text(body.os_version, 128),
        arch: opt_text(body.arch, 64),
        cpu_cores: body.cpu_cores,
        memory_total_mb: body.memory_total_mb,
        agent_version: opt_text(body.agent_version, 64),
        tags,
        group_name: opt_text(body.group_name, 128),
        network_info,
    };
    let now = state.clock.now();
    let (row, created) = state.db.register_host(&reg, agent.token_id, now).await?;
    state.runtime.ensure_host(row.record(), Some(agent.token_id)).await?;
    // Registration is a sign of life: the actor brings the host online.
    if let Some(entry) = state.runtime.registry.host(HostId(row.id)) {
        let _ = entry.actor.cast(HostMsg::RecordHeartbeat { at: now });
    }
    Ok(Json(RegisterOut { host_id: row.id, hostname: row.hostname, status: "online", created }))
}

// ---------------------------------------------------------------- heartbeat

#[derive(Debug, Deserialize, ToSchema)]
pub struct HeartbeatIn {
    pub host_id: i64,
}

/// Heartbeat: keeps the host online. No database write: the host actor holds it.
#[utoipa::path(post, path = "/api/v1/agent/heartbeat", tag = "agent", request_body = HeartbeatIn,
    security(("agent_token" = [])),
    responses((status = 200, description = "{\"status\": \"ok\", \"server_time\": \"...\"}"),
              (status = 403, description = "host of another token"), (status = 404, description = "unknown host")))]
pub async fn heartbeat(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<HeartbeatIn>,
) -> Result<Json<Value>, ApiError> {
    let entry = owned_host(&state, agent, body.host_id)?;
    let now = state.clock.now();
    entry.actor.cast(HostMsg::RecordHeartbeat { at: now }).map_err(|_| {
        ApiError::unavailable(format!("host {} is restarting; retry", body.host_id))
    })?;
    Ok(Json(json!({"status": "ok", "server_time": now.to_rfc3339_opts(SecondsFormat::Secs, true)})))
}

// ---------------------------------------------------------------- metrics

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct DiskPartition {
    pub mountpoint: Option<String>,
    pub device: Option<String>,
    pub fstype: Option<String>,
    pub total_mb: Option<f64>,
    pub used_mb: Option<f64>,
    pub percent: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MetricsIn {
    pub host_id: i64,
    pub cpu_percent: Option<f64>,
    pub cpu_load_1: Option<f64>,
    pub cpu_load_5: Option<f64>,
    pub cpu_load_15: Option<f64>,
    pub memory_used_mb: Option<f64>,
    pub memory_percent: Option<f64>,
    pub disk_used_mb: Option<f64>,
    pub disk_total_mb: Option<f64>,
    pub disk_percent: Option<f64>,
    pub net_bytes_sent: Option<f64>,
    pub net_bytes_recv: Option<f64>,
    pub net_send_rate_kb: Option<f64>,
    pub net_recv_rate_kb: Option<f64>,
    pub net_packet_loss_rate: Option<f64>,
    pub agent_cpu_percent: Option<f64>,
    pub agent_memory_rss_mb: Option<f64>,
    pub agent_thread_count: Option<f64>,
    pub agent_uptime_seconds: Option<f64>,
    pub agent_open_files: Option<f64>,
    pub disk_partitions: Option<Vec<DiskPartition>>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// Checks a value's range; `max` None means unbounded above.
fn in_range(name: &str, v: Option<f64>, min: f64, max: Option<f64>) -> Result<(), ApiError> {
    let Some(x) = v else { return Ok(()) };
    if !x.is_finite() || x < min || max.is_some_and(|m| x > m) {
        let bound = match max {
            Some(m) => format!("between {min} and {m}"),
            None => format!("greater than or equal to {min}"),
        };
        return Err(field(name, "value_error", format!("Input should be {bound} (got {x})")));
    }
    Ok(())
}

impl MetricsIn {
    fn validate(&self) -> Result<(), ApiError> {
        let pct = Some(100.0);
        for (name, v) in [
            ("cpu_percent", self.cpu_percent),
            ("memory_percent", self.memory_percent),
            ("disk_percent", self.disk_percent),
            ("net_packet_loss_rate", self.net_packet_loss_rate),
        ] {
            in_range(name, v, 0.0, pct)?;
        }
        // The agent's own CPU may exceed 100 % on several cores.
        in_range("agent_cpu_percent", self.agent_cpu_percent, 0.0, Some(100_000.0))?;
        for (name, v) in [
            ("cpu_load_1", self.cpu_load_1),
            ("cpu_load_5", self.cpu_load_5),
            ("cpu_load_15", self.cpu_load_15),
            ("memory_used_mb", self.memory_used_mb),
            ("disk_used_mb", self.disk_used_mb),
            ("disk_total_mb", self.disk_total_mb),
            ("net_bytes_sent", self.net_bytes_sent),
            ("net_bytes_recv", self.net_bytes_recv),
            ("net_send_rate_kb", self.net_send_rate_kb),
            ("net_recv_rate_kb", self.net_recv_rate_kb),
            ("agent_memory_rss_mb", self.agent_memory_rss_mb),
            ("agent_thread_count", self.agent_thread_count),
            ("agent_uptime_seconds", self.agent_uptime_seconds),
            ("agent_open_files", self.agent_open_files),
        ] {
            in_range(name, v, 0.0, None)?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsOut {
    pub status: &'static str,
    pub metric_id: i64,
}

/// Report host metrics. Answered 201 only after the row is committed.
#[utoipa::path(post, path = "/api/v1/agent/metrics", tag = "agent", request_body = MetricsIn,
    security(("agent_token" = [])),
    responses((status = 201, body = MetricsOut), (status = 422, description = "out-of-range value, named in loc")))]
pub async fn metrics(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<MetricsIn>,
) -> Result<(StatusCode, Json<MetricsOut>), ApiError> {
    let entry = owned_host(&state, agent, body.host_id)?;
    body.validate()?;
    let recorded_at = report_time(&state, "timestamp", body.timestamp)?;
    let partitions = match &body.disk_partitions {
        Some(p) => {
            for (i, part) in p.iter().enumerate() {
                if part.percent.is_some_and(|x| !(0.0..=100.0).contains(&x)) {
                    return Err(ApiError::field(
                        &["body", "disk_partitions", &i.to_string(), "percent"],
                        "value_error",
                        "Input should be between 0 and 100",
                    ));
                }
            }
            Some(Arc::<str>::from(serde_json::to_string(p).unwrap_or_default()))
        }
        None => None,
    };
    let snapshot = MetricsSnapshot {
        cpu_percent: body.cpu_percent,
        cpu_load_1: body.cpu_load_1,
        cpu_load_5: body.cpu_load_5,
        cpu_load_15: body.cpu_load_15,
        memory_used_mb: body.memory_used_mb,
        memory_percent: body.memory_percent,
        disk_used_mb: body.disk_used_mb,
        disk_total_mb: body.disk_total_mb,
        disk_percent: body.disk_percent,
        net_bytes_sent: body.net_bytes_sent,
        net_bytes_recv: body.net_bytes_recv,
        net_send_rate_kb: body.net_send_rate_kb,
        net_recv_rate_kb: body.net_recv_rate_kb,
        net_packet_loss_rate: body.net_packet_loss_rate,
        agent_cpu_percent: body.agent_cpu_percent,
        agent_memory_rss_mb: body.agent_memory_rss_mb,
        agent_thread_count: body.agent_thread_count,
        agent_uptime_seconds: body.agent_uptime_seconds,
        agent_open_files: body.agent_open_files,
        recorded_at,
    };
    let metric_id = state.writer.metric(body.host_id, snapshot.clone()).await?;
    let _ = entry.actor.cast(HostMsg::RecordMetrics { metrics: Arc::new(snapshot), partitions });
    Ok((StatusCode::CREATED, Json(MetricsOut { status: "ok", metric_id })))
}

// ---------------------------------------------------------------- services

#[derive(Debug, Deserialize, ToSchema)]
pub struct ServiceRegisterIn {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    pub host_id: i64,
    pub check_interval: Option<i64>,
    pub timeout: Option<i64>,
}

/// Register a monitored service; idempotent by (host, name). The category is derived
/// from the name, type and target.
#[utoipa::path(post, path = "/api/v1/agent/services/register", tag = "agent", request_body = ServiceRegisterIn,
    security(("agent_token" = [])),
    responses((status = 200, description = "{\"service_id\": 1, \"created\": true}")))]
pub async fn register_service(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<ServiceRegisterIn>,
) -> Result<Json<Value>, ApiError> {
    owned_host(&state, agent, body.host_id)?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(field("name", "string_length", "String should have 1 to 255 characters"));
    }
    let kind = body.kind.trim().to_ascii_lowercase();
    if kind.is_empty() || kind.len() > 32 {
        return Err(field("type", "string_length", "String should have 1 to 32 characters"));
    }
    let interval = body.check_interval.unwrap_or(60);
    if !(1..=86_400).contains(&interval) {
        return Err(field("check_interval", "value_error", "Input should be between 1 and 86400"));
    }
    let timeout = body.timeout.unwrap_or(10);
    if !(1..=3_600).contains(&timeout) {
        return Err(field("timeout", "value_error", "Input should be between 1 and 3600"));
    }
    let category = service_category(&name, &kind, &body.target).to_string();
    let reg = ServiceRegistration {
        host_id: body.host_id,
        name,
        kind,
        target: body.target.trim().chars().take(2048).collect(),
        check_interval: interval,
        timeout,
        category,
    };
    let (row, created) = state.db.register_service(&reg, state.clock.now()).await?;
    state.runtime.ensure_service(row.record()).await?;
    Ok(Json(json!({"service_id": row.id, "created": created, "category": row.category})))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckIn {
    pub service_id: i64,
    /// `up` or `down`.
    pub status: String,
    pub response_time_ms: Option<f64>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// Report a service check result. Answered 201 only after the row is committed.
#[utoipa::path(post, path = "/api/v1/agent/services", tag = "agent", request_body = CheckIn,
    security(("agent_token" = [])),
    responses((status = 201, description = "{\"status\": \"ok\", \"check_id\": 1}")))]
pub async fn report_check(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<CheckIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let service = state
        .runtime
        .registry
        .service(ServiceId(body.service_id))
        .ok_or_else(|| ApiError::not_found(format!("Service {} not found", body.service_id)))?;
    owned_host(&state, agent, service.host_id.0)?;
    let status = match body.status.trim().to_ascii_lowercase().as_str() {
        "up" | "healthy" | "ok" => ServiceStatus::Up,
        "down" | "unhealthy" | "error" => ServiceStatus::Down,
        other => {
            return Err(field(
                "status",
                "enum",
                format!("Input should be 'up' or 'down' (got '{other}')"),
            ))
        }
    };
    in_range("response_time_ms", body.response_time_ms, 0.0, None)?;
    let checked_at = report_time(&state, "checked_at", body.checked_at)?;
    let error = opt_text(body.error, 4096);
    let check_id = state
        .writer
        .check(NewCheck {
            service_id: body.service_id,
            status: status.as_str().to_string(),
            response_time_ms: body.response_time_ms,
            status_code: body.status_code,
            error: error.clone(),
            checked_at,
        })
        .await?;
    let _ = service.actor.cast(ServiceMsg::RecordCheck { status, error, at: checked_at });
    Ok((StatusCode::CREATED, Json(json!({"status": "ok", "check_id": check_id}))))
}

// ---------------------------------------------------------------- db metrics

#[derive(Debug, Deserialize, ToSchema)]
pub struct DbMetricsIn {
    pub host_id: i64,
    pub db_name: String,
    pub db_type: String,
    pub connections_total: Option<f64>,
    pub connections_active: Option<f64>,
    pub connections_max: Option<f64>,
    pub database_size_mb: Option<f64>,
    pub slow_queries: Option<f64>,
    pub tables_count: Option<f64>,
    pub transactions_committed: Option<f64>,
    pub transactions_rolled_back: Option<f64>,
    pub qps: Option<f64>,
    pub tablespace_used_pct: Option<f64>,
    pub lock_waits: Option<f64>,
    pub deadlocks: Option<f64>,
    #[schema(value_type = Object)]
    pub extra: Option<Value>,
    /// Items `{query, duration_ms}` or `{sql_id, avg_seconds, executions, sql_text}`.
    #[schema(value_type = Vec<Object>)]
    pub slow_queries_detail: Option<Vec<Value>>,
    pub timestamp: Option<DateTime<Utc>>,
}

/// Report database metrics; creates the monitored database on first report.
#[utoipa::path(post, path = "/api/v1/agent/db-metrics", tag = "agent", request_body = DbMetricsIn,
    security(("agent_token" = [])),
    responses((status = 201, description = "{\"status\": \"ok\", \"database_id\": 1, \"metric_id\": 1}")))]
pub async fn db_metrics(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<DbMetricsIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    owned_host(&state, agent, body.host_id)?;
    let name = body.db_name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(field("db_name", "string_length", "String should have 1 to 255 characters"));
    }
    let db_type = body.db_type.trim().to_ascii_lowercase();
    if db_type.is_empty() || db_type.len() > 32 {
        return Err(field("db_type", "string_length", "String should have 1 to 32 characters"));
    }
    let extra = match &body.extra {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(field("extra", "type_error", "extra must be an object")),
    };
    // The Oracle collector reports tablespace usage inside `extra`.
    let tablespace = body.tablespace_used_pct.or_else(|| {
        extra.as_ref().and_then(|m| m.get("tablespace_used_pct")).and_then(Value::as_f64)
    });
    let values = DbMetricValues {
        connections_total: body.connections_total,
        connections_active: body.connections_active,
        connections_max: body.connections_max,
        database_size_mb: body.database_size_mb,
        slow_queries: body.slow_queries,
        tables_count: body.tables_count,
        transactions_committed: body.transactions_committed,
        transactions_rolled_back: body.transactions_rolled_back,
        qps: body.qps,
        tablespace_used_pct: tablespace,
        lock_waits: body.lock_waits,
        deadlocks: body.deadlocks,
    };
    for (n, v) in values.named() {
        let max = (n == "tablespace_used_pct").then_some(100.0);
        in_range(n, v, 0.0, max)?;
    }
    let recorded_at = report_time(&state, "timestamp", body.timestamp)?;
    let slow = body
        .slow_queries_detail
        .as_ref()
        .map(|v| Value::Array(normalize_slow_queries(v)).to_string());
    let status = database_status(
        values.connections_total,
        values.connections_max,
        values.tablespace_used_pct,
    );
    let database = state
        .db
        .upsert_database(body.host_id, name, &db_type, status, slow.as_deref(), state.clock.now())
        .await?;
    let named: Vec<(String, f64)> =
        values.named().into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect();
    let metric_id = state
        .writer
        .db_metric(NewDbMetric {
            database_id: database.id,
            values,
            extra: extra.map(|m| Value::Object(m).to_string()),
            recorded_at,
        })
        .await?;
    // Rules judge the report once it is committed.
    state.runtime.events.emit(LiveEvent::DbMetricsRecorded {
        host_id: HostId(body.host_id),
        database_id: database.id,
        db_name: database.name.clone(),
        values: Arc::new(named),
    });
    Ok((
        StatusCode::CREATED,
        Json(json!({"status": "ok", "database_id": database.id, "metric_id": metric_id})),
    ))
}

/// Accepts both slow-query shapes and keeps one: `{query, duration_ms}` plus the
/// Oracle fields when present.
fn normalize_slow_queries(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .take(100)
        .filter_map(|item| {
            let o = item.as_object()?;
            let query = o.get("query").or_else(|| o.get("sql_text")).and_then(Value::as_str)?;
            let duration_ms = o
                .get("duration_ms")
                .and_then(Value::as_f64)
                .or_else(|| o.get("avg_seconds").and_then(Value::as_f64).map(|s| s * 1000.0));
            let mut out = json!({"query": query.chars().take(8192).collect::<String>(), "duration_ms": duration_ms});
            for key in ["sql_id", "executions", "avg_seconds"] {
                if let Some(v) = o.get(key) {
                    out[key] = v.clone();
                }
            }
            Some(out)
        })
        .collect()
}

// ---------------------------------------------------------------- logs

#[derive(Debug, Deserialize, ToSchema)]
pub struct LogIn {
    pub host_id: i64,
    pub service: Option<String>,
    pub source: Option<String>,
    pub level: Option<String>,
    pub message: String,
    pub timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LogsIn {
    pub logs: Vec<LogIn>,
}

/// Ingest a batch of log lines; broadcast to `/ws/logs` after commit.
#[utoipa::path(post, path = "/api/v1/agent/logs", tag = "agent", request_body = LogsIn,
    security(("agent_token" = [])),
    responses((status = 201, description = "{\"received\": 5}"), (status = 413, description = "batch too large")))]
pub async fn logs(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppJson(body): AppJson<LogsIn>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let max = state.config.ingest.max_log_batch;
    if body.logs.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("log batch of {} lines exceeds the limit of {max}", body.logs.len()),
        ));
    }
    let mut checked = std::collections::HashSet::new();
    let mut rows = Vec::with_capacity(body.logs.len());
    for (i, l) in body.logs.into_iter().enumerate() {
        let idx = i.to_string();
        if checked.insert(l.host_id) {
            owned_host(&state, agent, l.host_id)?;
        }
        if l.message.is_empty() {
            return Err(ApiError::field(
                &["body", "logs", &idx, "message"],
                "string_too_short",
                "message must not be empty",
            ));
        }
        let level = l
            .level
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("INFO")
            .to_ascii_uppercase();
        if level.len() > 16 || !level.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ApiError::field(
                &["body", "logs", &idx, "level"],
                "value_error",
                "level must be a word like INFO or ERROR",
            ));
        }
        let timestamp = report_time(&state, "timestamp", l.timestamp).map_err(|_| {
            ApiError::field(
                &["body", "logs", &idx, "timestamp"],
                "value_error",
                "timestamp is in the future",
            )
        })?;
        rows.push(NewLog {
            host_id: l.host_id,
            service: opt_text(l.service, 255),
            source: opt_text(l.source, 1024),
            level,
            message: l.message.chars().take(65_536).collect(),
            timestamp,
        });
    }
    let received = rows.len();
    if received > 0 {
        let ids = state.writer.logs(rows.clone()).await?;
        let lines: Vec<LogLine> = rows
            .into_iter()
            .zip(ids)
            .map(|(r, id)| LogLine {
                id,
                host_id: HostId(r.host_id),
                service: r.service,
                source: r.source,
                level: r.level,
                message: r.message,
                timestamp: r.timestamp,
            })
            .collect();
        state.runtime.events.emit(LiveEvent::LogsIngested(Arc::new(lines)));
    }
    Ok((StatusCode::CREATED, Json(json!({"received": received}))))
}

// ---------------------------------------------------------------- db targets

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetsQuery {
    pub host_id: i64,
}

/// The active database targets this host's agent should collect from (with
/// credentials: only the owning agent sees them).
#[utoipa::path(get, path = "/api/v1/agent/db-targets", tag = "agent", params(TargetsQuery),
    security(("agent_token" = [])), responses((status = 200, description = "{\"items\": [...]}")))]
pub async fn db_targets(
    State(state): State<AppState>,
    agent: AgentAuth,
    AppQuery(q): AppQuery<TargetsQuery>,
) -> Result<Json<Value>, ApiError> {
    owned_host(&state, agent, q.host_id)?;
    let items: Vec<Value> = state
        .db
        .list_db_targets(Some(q.host_id), true)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id, "host_id": t.host_id, "db_type": t.db_type, "db_host": t.db_host,
                "db_port": t.db_port, "db_name": t.db_name, "username": t.username, "password": t.password,
                "interval_sec": t.interval_sec, "connect_timeout_sec": t.connect_timeout_sec,
                "extra_config": t.extra_config.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
            })
        })
        .collect();
    Ok(Json(json!({"items": items})))
}
