//! Domain records shared by actors, ports and the shell.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AlertId, HostId, ServiceId};

/// Whether a host's agent is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    Online,
    Offline,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Online => "online",
            HostStatus::Offline => "offline",
        }
    }
}

impl fmt::Display for HostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HostStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "online" => Ok(HostStatus::Online),
            "offline" => Ok(HostStatus::Offline),
            other => Err(format!("unknown host status '{other}'")),
        }
    }
}

/// Whether a service answers its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    Unknown,
    Up,
    Down,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Unknown => "unknown",
            ServiceStatus::Up => "up",
            ServiceStatus::Down => "down",
        }
    }
}

impl fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "unknown" => Ok(ServiceStatus::Unknown),
            "up" => Ok(ServiceStatus::Up),
            "down" => Ok(ServiceStatus::Down),
            other => Err(format!("unknown service status '{other}'")),
        }
    }
}

/// One host metrics report, as kept in memory for "latest metrics".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
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
    pub recorded_at: DateTime<Utc>,
}

/// What happened to an alert (for the notification dispatcher, incidents, dashboards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub alert_id: AlertId,
    pub rule_id: Option<crate::ids::RuleId>,
    pub kind: AlertEventKind,
    pub severity: String,
    pub title: String,
    pub message: Option<String>,
    pub host_id: Option<HostId>,
    pub metric_value: Option<f64>,
    pub at: DateTime<Utc>,
}

/// The kinds of [`AlertEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEventKind {
    Fired,
    Acknowledged,
    Resolved,
    /// A notification is due (first firing, a continuous repeat, or recovery).
    NotifyFired,
    NotifyRepeat,
    NotifyResolved,
}

/// What a host actor restores itself from.
#[derive(Debug, Clone)]
pub struct HostRecord {
    pub id: HostId,
    pub hostname: String,
    pub status: HostStatus,
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// For rule target filters.
    pub group_name: Option<String>,
    pub tags: Vec<String>,
}

/// What a service actor restores itself from.
#[derive(Debug, Clone)]
pub struct ServiceRecord {
    pub id: ServiceId,
    pub host_id: HostId,
    pub name: String,
    pub check_interval_secs: u64,
    pub status: ServiceStatus,
    /// Check type (`http`, `tcp`, ...) and target, for server-side checks.
    pub kind: String,
    pub target: String,
    pub timeout_secs: u64,
}

/// A stored log line, as broadcast to `/ws/logs` subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogLine {
    pub id: i64,
    pub host_id: HostId,
    pub service: Option<String>,
    pub source: Option<String>,
    pub level: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// Something observed that live views (WebSocket/SSE) and later subsystems (rules,
/// incidents) react to.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    HostStatusChanged {
        host_id: HostId,
        hostname: String,
        status: HostStatus,
        at: DateTime<Utc>,
    },
    ServiceStatusChanged {
        service_id: ServiceId,
        host_id: HostId,
        name: String,
        status: ServiceStatus,
        error: Option<String>,
        at: DateTime<Utc>,
    },
    AgentPresence {
        host_id: HostId,
        connected: bool,
    },
    MetricsRecorded {
        host_id: HostId,
        metrics: std::sync::Arc<MetricsSnapshot>,
    },
    /// A database metrics report was committed: metric name → value.
    DbMetricsRecorded {
        host_id: HostId,
        database_id: i64,
        db_name: String,
        values: std::sync::Arc<Vec<(String, f64)>>,
    },
    /// An alert opened, was acknowledged or resolved, or asks for a notification.
    Alert(AlertEvent),
    LogsIngested(std::sync::Arc<Vec<LogLine>>),
    /// Something to tell people about besides an alert: a remediation approval request
    /// or result, a finished report.
    Notify(Box<NotifyRequest>),
    /// A remediation run changed status (after the change was stored); incidents turn
    /// these into timeline events.
    RunChanged(Box<RunChange>),
    /// A remediation approval was decided; cards that asked for it are updated in place.
    ApprovalDecided {
        run_id: i64,
        approved: bool,
        by: String,
        at: DateTime<Utc>,
    },
}

impl LiveEvent {
    /// Events the notification dispatcher must not miss (they travel on a lossless lane
    /// besides the broadcast).
    pub fn is_notice(&self) -> bool {
        matches!(
            self,
            LiveEvent::Alert(AlertEvent {
                kind: AlertEventKind::NotifyFired
                    | AlertEventKind::NotifyRepeat
                    | AlertEventKind::NotifyResolved
                    | AlertEventKind::Acknowledged,
                ..
            }) | LiveEvent::Notify(_)
                | LiveEvent::ApprovalDecided { .. }
        )
    }
}

/// A stored remediation run transition, for incident timelines.
#[derive(Debug, Clone)]
pub struct RunChange {
    pub run_id: i64,
    pub alert_id: i64,
    /// The new status (`approved`, `executing`, `success`, …).
    pub status: String,
    /// `system` or the user's email.
    pub actor: String,
    pub comment: Option<String>,
    pub reason: Option<String>,
    pub runbook: String,
    /// `auto`, `confirm` or `block`.
    pub risk_level: String,
    /// The runbook as run (description, steps), for the incident's proposal.
    pub proposal: serde_json::Value,
    pub verification_passed: Option<bool>,
    /// Seconds from the start of execution, once it ended.
    pub duration_secs: Option<f64>,
    /// The last command's output, once execution ended.
    pub output: Option<String>,
    pub at: DateTime<Utc>,
}

/// What a [`LiveEvent::Notify`] asks to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    ApprovalRequested,
    RemediationFinished,
    ReportReady,
}

/// A notification request from remediation or reporting.
#[derive(Debug, Clone)]
pub struct NotifyRequest {
    pub kind: NotifyKind,
    pub alert_id: Option<i64>,
    pub run_id: Option<i64>,
    /// Channels to use; `None`: the alert rule's channels, else every enabled channel.
    pub channel_ids: Option<Vec<i64>>,
    /// Template variables (e.g. run_id, runbook, risk, commands, hostname).
    pub vars: serde_json::Map<String, serde_json::Value>,
}
