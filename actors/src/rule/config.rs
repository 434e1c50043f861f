//! A rule as its actor sees it, and how it judges an observation into per-target
//! verdicts.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::eval::Operator;
use super::state::RulePolicy;
use crate::ids::{HostId, RuleId, ServiceId};
use crate::model::{HostStatus, LogLine, MetricsSnapshot, ServiceStatus};
use crate::registry::Registry;

/// What a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// A host metric compared with the threshold.
    Metric { metric: String },
    /// Log lines containing a keyword (case-insensitive), optionally of one level and
    /// service. Fires on a match; resolves after a quiet cooldown.
    LogKeyword { keyword: String, level: Option<String>, service: Option<String> },
    /// A database metric compared with the threshold, optionally for one database.
    DbMetric { name: String, db_id: Option<i64> },
    /// A host that went offline.
    HostOffline,
    /// A service that went down.
    ServiceDown,
}

/// Which targets a rule applies to; empty parts match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFilter {
    #[serde(default)]
    pub host_ids: Vec<i64>,
    #[serde(default)]
    pub group_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl TargetFilter {
    pub fn is_empty(&self) -> bool {
        self.host_ids.is_empty() && self.group_name.is_none() && self.tags.is_empty()
    }

    /// Whether the host passes the filter (looked up in the registry for group/tags).
    pub fn admits(&self, host: HostId, registry: &Registry) -> bool {
        if self.is_empty() {
            return true;
        }
        if !self.host_ids.is_empty() && !self.host_ids.contains(&host.0) {
            return false;
        }
        if self.group_name.is_none() && self.tags.is_empty() {
            return true;
        }
        let Some(entry) = registry.host(host) else { return false };
        let group_ok =
            self.group_name.as_ref().is_none_or(|g| entry.group_name.as_ref() == Some(g));
        let tags_ok = self.tags.iter().all(|t| entry.tags.contains(t));
        group_ok && tags_ok
    }
}

/// A rule's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    pub id: RuleId,
    pub name: String,
    pub severity: String,
    pub kind: RuleKind,
    pub operator: Operator,
    pub threshold: f64,
    pub policy: RulePolicy,
    pub filter: TargetFilter,
    pub enabled: bool,
}

/// What a rule watches happen (fanned out by the rule supervisor).
#[derive(Debug, Clone)]
pub enum Observation {
    HostMetrics {
        host: HostId,
        metrics: Arc<MetricsSnapshot>,
    },
    HostStatus {
        host: HostId,
        hostname: String,
        status: HostStatus,
    },
    ServiceStatus {
        service: ServiceId,
        host: HostId,
        name: String,
        status: ServiceStatus,
        error: Option<String>,
    },
    Logs(Arc<Vec<LogLine>>),
    DbMetrics {
        database_id: i64,
        host: HostId,
        db_name: String,
        values: Arc<Vec<(String, f64)>>,
    },
}

/// A target, cheap to copy and hash (the fan-out checks it for every sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKey {
    Host(HostId),
    Service(ServiceId),
    Db(i64),
}

impl std::fmt::Display for TargetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetKey::Host(h) => write!(f, "host:{h}"),
            TargetKey::Service(s) => write!(f, "service:{s}"),
            TargetKey::Db(d) => write!(f, "db:{d}"),
        }
    }
}

impl std::str::FromStr for TargetKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, id) = s.split_once(':').ok_or_else(|| format!("bad target '{s}'"))?;
        let id: i64 = id.parse().map_err(|_| format!("bad target '{s}'"))?;
        match kind {
            "host" => Ok(TargetKey::Host(HostId(id))),
            "service" => Ok(TargetKey::Service(ServiceId(id))),
            "db" => Ok(TargetKey::Db(id)),
            _ => Err(format!("bad target '{s}'")),
        }
    }
}

/// One target's verdict under a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `host:1`, `service:3`, `db:2`.
    pub target: String,
    pub key: TargetKey,
    pub host_id: Option<HostId>,
    pub service_id: Option<ServiceId>,
    pub database_id: Option<i64>,
    pub breached: bool,
    pub value: f64,
    /// A one-line description of what was seen, for the alert's title and message.
    pub subject: String,
}

/// The value of a named host metric in a report.
pub fn host_metric(m: &MetricsSnapshot, name: &str) -> Option<f64> {
    match name {
        "cpu_percent" => m.cpu_percent,
        "cpu_load_1" => m.cpu_load_1,
        "cpu_load_5" => m.cpu_load_5,
        "cpu_load_15" => m.cpu_load_15,
        "memory_used_mb" => m.memory_used_mb,
        "memory_percent" => m.memory_percent,
        "disk_used_mb" => m.disk_used_mb,
        "disk_total_mb" => m.disk_total_mb,
        "disk_percent" => m.disk_percent,
        "net_bytes_sent" => m.net_bytes_sent,
        "net_bytes_recv" => m.net_bytes_recv,
        "net_send_rate_kb" => m.net_send_rate_kb,
        "net_recv_rate_kb" => m.net_recv_rate_kb,
        "net_packet_loss_rate" => m.net_packet_loss_rate,
        _ => None,
    }
}

impl RuleConfig {
    /// The verdicts this observation yields under the rule that `wanted` accepts
    /// (given the target and whether it is breached). Nothing is formatted for a
    /// target that is not wanted, so quiet samples cost no allocation.
    pub fn judge(
        &self,
        obs: &Observation,
        registry: &Registry,
        wanted: impl Fn(TargetKey, bool) -> bool,
    ) -> Vec<Verdict> {
        let host_target = |host: HostId, breached: bool, value: f64, subject: String| Verdict {
            target: format!("host:{host}"),
            key: TargetKey::Host(host),
            host_id: Some(host),
            service_id: None,
            database_id: None,
            breached,
            value,
            subject,
        };
        match (&self.kind, obs) {
            (RuleKind::Metric { metric }, Observation::HostMetrics { host, metrics }) => {
                if !self.filter.admits(*host, registry) {
                    return Vec::new();
                }
                let Some(v) = host_metric(metrics, metric) else { return Vec::new() };
                let breached = self.operator.breached(v, self.threshold);
                if !wanted(TargetKey::Host(*host), breached) {
                    return Vec::new();
                }
                vec![host_target(
                    *host,
                    breached,
                    v,
                    format!("{metric} = {v} ({} {})", self.operator, self.threshold),
                )]
            }
            (RuleKind::HostOffline, Observation::HostStatus { host, hostname, status }) => {
                if !self.filter.admits(*host, registry) {
                    return Vec::new();
                }
                let off = *status == HostStatus::Offline;
                if !wanted(TargetKey::Host(*host), off) {
                    return Vec::new();
                }
                vec![host_target(
                    *host,
                    off,
                    if off { 1.0 } else { 0.0 },
                    format!("host {hostname} is {status}"),
                )]
            }
            (
                RuleKind::ServiceDown,
                Observation::ServiceStatus { service, host, name, status, error },
            ) => {
                if !self.filter.admits(*host, registry) || *status == ServiceStatus::Unknown {
                    return Vec::new();
                }
                let down = *status == ServiceStatus::Down;
                if !wanted(TargetKey::Service(*service), down) {
                    return Vec::new();
                }
                let why = error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                vec![Verdict {
                    target: format!("service:{service}"),
                    key: TargetKey::Service(*service),
                    host_id: Some(*host),
                    service_id: Some(*service),
                    database_id: None,
                    breached: down,
                    value: if down { 1.0 } else { 0.0 },
                    subject: format!("service {name} is {status}{why}"),
                }]
            }
            (RuleKind::LogKeyword { keyword, level, service }, Observation::Logs(lines)) => {
                let needle = keyword.to_lowercase();
                let mut out: Vec<Verdict> = Vec::new();
                for line in lines.iter() {
                    let wanted = level.as_ref().is_none_or(|l| l.eq_ignore_ascii_case(&line.level))
                        && service
                            .as_ref()
                            .is_none_or(|s| line.service.as_deref() == Some(s.as_str()))
                        && line.message.to_lowercase().contains(&needle)
                        && self.filter.admits(line.host_id, registry)
                        && wanted(TargetKey::Host(line.host_id), true);
                    if wanted && !out.iter().any(|v| v.host_id == Some(line.host_id)) {
                        let excerpt: String = line.message.chars().take(200).collect();
                        out.push(host_target(
                            line.host_id,
                            true,
                            1.0,
                            format!("log matched '{keyword}': {excerpt}"),
                        ));
                    }
                }
                out
            }
            (
                RuleKind::DbMetric { name, db_id },
                Observation::DbMetrics { database_id, host, db_name, values },
            ) => {
                if db_id.is_some_and(|d| d != *database_id) || !self.filter.admits(*host, registry)
                {
                    return Vec::new();
                }
                let Some(v) = values.iter().find(|(k, _)| k == name).map(|(_, v)| *v) else {
                    return Vec::new();
                };
                let breached = self.operator.breached(v, self.threshold);
                if !wanted(TargetKey::Db(*database_id), breached) {
                    return Vec::new();
                }
                vec![Verdict {
                    target: format!("db:{database_id}"),
                    key: TargetKey::Db(*database_id),
                    host_id: Some(*host),
                    service_id: None,
                    database_id: Some(*database_id),
                    breached,
                    value: v,
                    subject: format!(
                        "database {db_name}: {name} = {v} ({} {})",
                        self.operator, self.threshold
                    ),
                }]
            }
            _ => Vec::new(),
        }
    }
}
