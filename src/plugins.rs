//! Runs the diagnostic plugins of the registry against live data: arguments checked
//! against the plugin's JSON Schema, each call bounded by the plugin's timeout, and
//! every call recorded (usage, duration, success) for `/api/plugins/{name}`.
//! Remediation plugins are proposals: they are never called, only turned into runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use warden_actors::clock::Clock;
use warden_actors::ids::HostId;
use warden_actors::plugins::{check_arguments, find, Category};
use warden_actors::registry::Registry;
use warden_actors::remediation::runbook::builtins;

use crate::storage::alerts::AlertFilter;
use crate::storage::incidents::IncidentFilter;
use crate::storage::logs::LogFilter;
use crate::storage::Db;

/// What one call did, as the `tool_call` timeline event records it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginCall {
    pub tool: String,
    pub parameters: Value,
    pub result: Value,
    pub duration_ms: i64,
    pub success: bool,
}

pub struct PluginRunner {
    pub db: Db,
    pub registry: Arc<Registry>,
    pub clock: Arc<dyn Clock>,
}

fn db_err(e: sqlx::Error) -> String {
    format!("query failed: {e}")
}

fn int(args: &Value, key: &str) -> Option<i64> {
    args.get(key).and_then(Value::as_i64)
}

fn text<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn limit(args: &Value, default: i64) -> u32 {
    int(args, "limit").unwrap_or(default).clamp(1, 200) as u32
}

impl PluginRunner {
    /// Calls a diagnostic plugin; problems (unknown plugin, bad arguments, timeout, a
    /// failed query) come back as an unsuccessful call with an `error` result.
    pub async fn call(&self, name: &str, args: Value, incident: Option<&str>) -> PluginCall {
        let started = Instant::now();
        let outcome = match find(name) {
            None => Err(format!("unknown plugin '{name}'")),
            Some(p) if p.category == Category::Remediation => {
                Err(format!("'{name}' is a remediation plugin: it is proposed, not called"))
            }
            Some(p) => match check_arguments(&p.parameters, &args) {
                problems if !problems.is_empty() => {
                    Err(format!("invalid arguments: {}", problems.join("; ")))
                }
                _ => match tokio::time::timeout(
                    Duration::from_secs(p.timeout_secs),
                    self.run(name, &args),
                )
                .await
                {
                    Ok(result) => result.map_err(|e| format!("{name} failed: {e}")),
                    Err(_) => Err(format!("{name} timed out after {} s", p.timeout_secs)),
                },
            },
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let success = outcome.is_ok();
        let result = outcome.unwrap_or_else(|error| json!({"error": error}));
        if find(name).is_some() {
            let recorded = self
                .db
                .record_plugin_call(name, incident, duration_ms, success, self.clock.now())
                .await;
            if let Err(e) = recorded {
                tracing::warn!(plugin = name, error = %e, "could not record a plugin call");
            }
        }
        PluginCall { tool: name.to_string(), parameters: args, result, duration_ms, success }
    }

    async fn run(&self, name: &str, args: &Value) -> Result<Value, String> {
        let now = self.clock.now();
        match name {
            "list_hosts" => {
                let hosts = self.db.all_hosts().await.map_err(db_err)?;
                let items: Vec<Value> = hosts
                    .iter()
                    .filter(|h| text(args, "status").is_none_or(|s| h.status == s))
                    .filter(|h| text(args, "group_name").is_none_or(|g| h.group_name.as_deref() == Some(g)))
                    .take(200)
                    .map(|h| json!({"id": h.id, "hostname": h.hostname, "status": h.status, "ip": h.ip_address,
                                    "group_name": h.group_name, "last_heartbeat": h.last_heartbeat}))
                    .collect();
                Ok(json!({"hosts": items}))
            }
            "get_host_metrics" => {
                let id = int(args, "host_id").unwrap_or_default();
                let Some(host) = self.db.host_by_id(id).await.map_err(db_err)? else {
                    return Ok(json!({"found": false, "host_id": id}));
                };
                let live = self.registry.host(HostId(id)).map(|e| e.live);
                let latest = live.as_ref().and_then(|l| l.metrics()).map(|m| json!(*m));
                let status = live.map_or_else(|| host.status.clone(), |l| l.status().to_string());
                Ok(
                    json!({"found": true, "host_id": id, "hostname": host.hostname, "status": status, "latest": latest}),
                )
            }
            "search_logs" => {
                let minutes = int(args, "minutes").unwrap_or(60);
                let levels = text(args, "level")
                    .map(|l| {
                        l.split(',')
                            .map(|s| s.trim().to_uppercase())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                let filter = LogFilter {
                    q: text(args, "query").map(str::to_string),
                    host_id: int(args, "host_id"),
                    service: None,
                    levels,
                    start: Some(now - chrono::Duration::minutes(minutes)),
                    end: None,
                };
                let found =
                    self.db.search_logs(&filter, 1, limit(args, 20)).await.map_err(db_err)?;
                Ok(json!({"total": found.total, "logs": found.items}))
            }
            "recent_alerts" => {
                let filter = AlertFilter {
                    status: text(args, "status").map(str::to_string),
                    severity: None,
                    host_id: int(args, "host_id"),
                };
                let found =
                    self.db.list_alerts(&filter, 1, limit(args, 20)).await.map_err(db_err)?;
                Ok(json!({"total": found.total, "alerts": found.items}))
            }
            "service_status" => {
                let services = self.db.all_services().await.map_err(db_err)?;
                let items: Vec<Value> = services
                    .iter()
                    .filter(|s| int(args, "host_id").is_none_or(|h| s.host_id == h))
                    .filter(|s| text(args, "name").is_none_or(|n| s.name.eq_ignore_ascii_case(n)))
                    .take(200)
                    .map(|s| json!({"id": s.id, "host_id": s.host_id, "name": s.name, "type": s.kind, "status": s.status,
                                    "last_error": s.last_error, "status_changed_at": s.status_changed_at}))
                    .collect();
                Ok(json!({"services": items}))
            }
            "database_status" => {
                let dbs = self.db.list_databases(int(args, "host_id")).await.map_err(db_err)?;
                let dbs: Vec<_> = dbs
                    .into_iter()
                    .filter(|d| text(args, "name").is_none_or(|n| d.name.eq_ignore_ascii_case(n)))
                    .collect();
                let ids: Vec<i64> = dbs.iter().map(|d| d.id).collect();
                let metrics = self.db.latest_db_metrics(&ids).await.map_err(db_err)?;
                let items: Vec<Value> = dbs
                    .iter()
                    .map(|d| {
                        let latest = metrics.iter().find(|m| m.database_id == d.id).map(|m| json!(m.values));
                        json!({"id": d.id, "host_id": d.host_id, "name": d.name, "db_type": d.db_type,
                               "status": d.status, "latest": latest, "last_metric_at": d.last_metric_at})
                    })
                    .collect();
                Ok(json!({"databases": items}))
            }
            "service_dependencies" => {
                let service = text(args, "service").unwrap_or_default();
                let context: Value = match self.db.environment_context().await.map_err(db_err)? {
                    Some((data, _)) => serde_json::from_str(&data).unwrap_or(Value::Null),
                    None => Value::Null,
                };
                let services = context["services"].as_array().cloned().unwrap_or_default();
                let depends_on = |s: &Value| {
                    s["dependencies"]
                        .as_array()
                        .is_some_and(|d| d.iter().any(|x| x.as_str() == Some(service)))
                };
                let own = services.iter().find(|s| s["name"].as_str() == Some(service));
                let dependents: Vec<&Value> =
                    services.iter().filter(|s| depends_on(s)).map(|s| &s["name"]).collect();
                Ok(json!({"service": service, "known": own.is_some(),
                          "dependencies": own.map(|s| s["dependencies"].clone()).unwrap_or(json!([])),
                          "dependents": dependents}))
            }
            "search_knowledge" => {
                let found = self
                    .db
                    .list_knowledge(text(args, "category"), text(args, "query"), 1, limit(args, 5))
                    .await
                    .map_err(db_err)?;
                let items: Vec<Value> = found
                    .items
                    .iter()
                    .map(|k| {
                        json!({"id": k.id, "title": k.title, "category": k.category,
                                    "content": k.content.chars().take(500).collect::<String>()})
                    })
                    .collect();
                Ok(json!({"total": found.total, "entries": items}))
            }
            "incident_history" => {
                let search = text(args, "title").or(text(args, "service")).map(str::to_string);
                let filter = IncidentFilter { search, ..IncidentFilter::default() };
                let found =
                    self.db.list_incidents(&filter, 1, limit(args, 10)).await.map_err(db_err)?;
                let items: Vec<Value> = found
                    .items
                    .iter()
                    .map(|i| json!({"id": i.id, "title": i.title, "status": i.status, "resolution": i.resolution,
                                    "created_at": i.created_at, "resolved_at": i.resolved_at}))
                    .collect();
                Ok(json!({"total": found.total, "incidents": items}))
            }
            "list_runbooks" => {
                let mut all: Vec<_> = self
                    .db
                    .list_custom_runbooks()
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|r| r.runbook())
                    .collect();
                all.extend(builtins());
                let wanted = text(args, "alert_type");
                let items: Vec<Value> = all
                    .iter()
                    .filter(|r| wanted.is_none_or(|t| r.match_alert_types.iter().any(|m| m == t)))
                    .map(|r| json!({"name": r.name, "description": r.description, "risk_level": r.risk_level,
                                    "match_alert_types": r.match_alert_types}))
                    .collect();
                Ok(json!({"runbooks": items}))
            }
            other => Err(format!("'{other}' has no implementation")),
        }
    }
}
