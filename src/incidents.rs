//! Incidents (seed 001): opened from firing alerts (rule engine, Alertmanager) and from
//! free-text alerts (`POST /api/alert`), deduplicated by fingerprint, and given a
//! timeline as remediation runs move. Stream events for `GET /api/events` go out on a
//! bounded broadcast: a client that falls behind is dropped, never buffered for.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use warden_actors::broadcast::Broadcaster;
use warden_actors::clock::Clock;
use warden_actors::incident::event;
use warden_actors::incident::parse::{fingerprint, parse_alert, severity_from_warden};
use warden_actors::incident::rules::{conclude, plan, Facts, ESCALATE_BELOW};
use warden_actors::model::{AlertEventKind, LiveEvent, RunChange};
use warden_actors::ports::RemediationStore;
use warden_actors::remediation::runbook::{builtins, select, AlertFacts};

use crate::plugins::PluginRunner;
use crate::storage::incidents::{IncidentChange, NewIncident};
use crate::storage::remediation::DbRemediationStore;
use crate::storage::Db;

/// Events a slow `/api/events` client may fall behind by before it is dropped.
pub const STREAM_CAPACITY: usize = 256;

/// One `/api/events` event: its name and JSON data.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub name: &'static str,
    pub data: Value,
}

pub struct Incidents {
    db: Db,
    clock: Arc<dyn Clock>,
    stream: broadcast::Sender<StreamEvent>,
    plugins: Arc<PluginRunner>,
    /// Diagnoses running at once; the rest wait their turn, so an alert storm does not
    /// turn into a query storm against the store ingestion writes to.
    diagnoses: Arc<tokio::sync::Semaphore>,
    diagnosis_delay: std::time::Duration,
    llm: Arc<crate::llm::LlmClient>,
    integrations: tokio::sync::watch::Receiver<crate::integrations::live::Integrations>,
    bounds: crate::diagnosis::Bounds,
}

/// How an incident is diagnosed: the LLM (when configured) or the rules engine.
pub struct DiagnosisEngine {
    pub llm: Arc<crate::llm::LlmClient>,
    pub integrations: tokio::sync::watch::Receiver<crate::integrations::live::Integrations>,
    pub bounds: crate::diagnosis::Bounds,
}

/// Diagnoses that may run at the same time.
const CONCURRENT_DIAGNOSES: usize = 2;

/// A tool call result kept in the timeline is cut to this many characters.
const RESULT_CHARS: usize = 2000;

/// A free-text alert as received.
#[derive(Debug, Clone, Default)]
pub struct TextAlert {
    pub message: String,
    pub sender_id: Option<String>,
    pub chat_id: Option<String>,
    pub metadata: Option<Value>,
    /// `api` or `feishu`: the source when there is no sender.
    pub channel: &'static str,
}

impl Incidents {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        plugins: Arc<PluginRunner>,
        diagnosis_delay: std::time::Duration,
        engine: DiagnosisEngine,
    ) -> Arc<Self> {
        let (stream, _) = broadcast::channel(STREAM_CAPACITY);
        let diagnoses = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DIAGNOSES));
        let DiagnosisEngine { llm, integrations, bounds } = engine;
        Arc::new(Self {
            db,
            clock,
            stream,
            plugins,
            diagnoses,
            diagnosis_delay,
            llm,
            integrations,
            bounds,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StreamEvent> {
        self.stream.subscribe()
    }

    fn publish(&self, name: &'static str, data: Value) {
        // No subscriber is fine: the stream is live only.
        let _ = self.stream.send(StreamEvent { name, data });
    }

    /// Opens (or deduplicates) an incident from a free-text alert.
    pub async fn receive_text(
        self: &Arc<Self>,
        alert: &TextAlert,
    ) -> Result<(String, bool), sqlx::Error> {
        let p = parse_alert(&alert.message);
        let scope = p.namespace.as_deref().or(p.host.as_deref());
        let new = NewIncident {
            fingerprint: fingerprint(&p.title, p.service.as_deref(), scope),
            title: p.title,
            severity: p.severity,
            category: p.category,
            description: p.description,
            source: alert.sender_id.clone().unwrap_or_else(|| alert.channel.to_string()),
            service: p.service,
            namespace: p.namespace,
            host_id: None,
            alert_id: None,
            received: json!({"message": alert.message, "sender_id": alert.sender_id,
                             "chat_id": alert.chat_id, "metadata": alert.metadata}),
        };
        self.open(&new).await
    }

    async fn open(self: &Arc<Self>, new: &NewIncident) -> Result<(String, bool), sqlx::Error> {
        let (id, duplicate) = self.db.open_incident(new, self.clock.now()).await?;
        if !duplicate {
            self.publish(
                "incident_created",
                json!({"id": id, "title": new.title, "severity": new.severity}),
            );
            let me = Arc::clone(self);
            let incident = id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(me.diagnosis_delay).await;
                let Ok(_permit) = Arc::clone(&me.diagnoses).acquire_owned().await else { return };
                if let Err(e) = me.diagnose(&incident).await {
                    tracing::error!(incident, error = %e, "diagnosis failed");
                }
            });
        }
        Ok((id, duplicate))
    }

    /// Records one tool call of a diagnosis as a `tool_call` event.
    async fn record_call(
        &self,
        id: &str,
        call: &crate::plugins::PluginCall,
        engine: &str,
        step: u32,
    ) -> Result<(), sqlx::Error> {
        let data = json!({"tool": call.tool, "parameters": call.parameters, "result": summarised(&call.result),
                          "duration_ms": call.duration_ms, "success": call.success, "engine": engine, "step": step});
        self.db
            .change_incident(id, &IncidentChange::event(event::TOOL_CALL, data), self.clock.now())
            .await
            .map(|_| ())
    }

    /// The diagnosis: with an LLM configured, its bounded tool-calling loop; otherwise
    /// (or when the LLM fails, which the diagnosis then says) the rules engine's
    /// planned plugin calls. Every call is a `tool_call` event, then the conclusion; a
    /// confidence below 0.3 escalates.
    async fn diagnose(&self, id: &str) -> Result<(), sqlx::Error> {
        let Some(row) = self.db.incident(id).await? else { return Ok(()) };
        if row.status == "resolved" {
            return Ok(()); // recovered before its turn came: nothing to explain
        }
        let llm = self.integrations.borrow().llm_config();
        let engine = if llm.is_some() { "llm" } else { "rules" };
        let started = IncidentChange {
            status: Some("diagnosing"),
            expect_status: Some("open"),
            ..IncidentChange::event(event::DIAGNOSIS_STARTED, json!({"engine": engine}))
        };
        self.db.change_incident(id, &started, self.clock.now()).await?;
        let facts =
            Facts { title: row.title.clone(), service: row.service.clone(), host_id: row.host_id };
        let mut llm_error = None;
        let mut outcome = None;
        if let Some(cfg) = &llm {
            let described = json!({"id": row.id, "title": row.title, "severity": row.severity, "category": row.category,
                                   "description": row.description, "service": row.service, "namespace": row.namespace,
                                   "host_id": row.host_id, "alert_id": row.alert_id, "opened_at": row.created_at});
            // Each call goes on the timeline as it happens.
            let result = crate::diagnosis::diagnose(
                &self.llm,
                cfg,
                &self.plugins,
                id,
                &described,
                self.bounds,
                |call, step| async move {
                    if let Err(e) = self.record_call(id, &call, "llm", step).await {
                        tracing::error!(incident = id, error = %e, "could not record a tool call");
                    }
                },
            )
            .await;
            match result {
                Ok(d) => outcome = Some(d),
                Err(e) => {
                    tracing::warn!(incident = id, error = %e, "LLM diagnosis failed; the rules engine diagnoses");
                    llm_error = Some(e.to_string());
                }
            }
        }
        let d = match outcome {
            Some(d) => d,
            None => {
                let mut results = Vec::new();
                for (step, (tool, args)) in plan(&facts).into_iter().enumerate() {
                    let call = self.plugins.call(tool, args, Some(id)).await;
                    self.record_call(id, &call, "rules", step as u32 + 1).await?;
                    results.push((call.tool, call.result));
                }
                conclude(&facts, &results)
            }
        };
        let engine = if llm.is_some() && llm_error.is_none() { "llm" } else { "rules" };
        let now = self.clock.now();
        let mut diagnosis = d.to_json();
        diagnosis["diagnosed_at"] = json!(now);
        diagnosis["engine"] = json!(engine);
        if let Some(e) = &llm_error {
            diagnosis["llm_error"] = json!(e);
        }
        let escalate = d.confidence < ESCALATE_BELOW;
        // Only a diagnosis that still owns the status escalates (a run may have taken
        // the incident over meanwhile).
        let owns_status = self.db.incident(id).await?.is_some_and(|i| i.status == "diagnosing");
        let completed = IncidentChange {
            status: Some(if escalate { "escalated" } else { "open" }),
            expect_status: Some("diagnosing"),
            diagnosis: Some(&diagnosis),
            ..IncidentChange::event(
                event::DIAGNOSIS_COMPLETED,
                json!({"conclusion": d.conclusion, "confidence": d.confidence, "engine": engine,
                       "llm_error": llm_error}),
            )
        };
        self.db.change_incident(id, &completed, now).await?;
        self.publish(
            "diagnosis_completed",
            json!({"incident_id": id, "conclusion": d.conclusion, "confidence": d.confidence}),
        );
        if escalate && owns_status {
            let reason = format!("diagnosis confidence {} is below {ESCALATE_BELOW}", d.confidence);
            self.db
                .change_incident(
                    id,
                    &IncidentChange::event(event::INCIDENT_ESCALATED, json!({"reason": reason})),
                    now,
                )
                .await?;
        } else if !escalate {
            self.propose(id, &d).await?;
        }
        Ok(())
    }

    /// The proposal step: the runbook that answers the diagnosed incident (custom
    /// runbooks first), recorded as the incident's proposal. A remediation run of the
    /// incident's alert, if one starts, records its own proposal over this one.
    async fn propose(
        &self,
        id: &str,
        d: &warden_actors::incident::rules::Diagnosis,
    ) -> Result<(), sqlx::Error> {
        let Some(row) = self.db.incident(id).await? else { return Ok(()) };
        if row.proposal_json.is_some() || row.status != "open" {
            return Ok(());
        }
        let alert = match row.alert_id {
            Some(a) => self.db.alert_by_id(a).await?,
            None => None,
        };
        let rule = match alert.as_ref().and_then(|a| a.rule_id) {
            Some(r) => self.db.rule_by_id(r).await?,
            None => None,
        };
        let hostname = match row.host_id {
            Some(h) => self.db.host_by_id(h).await?.map(|h| h.hostname),
            None => None,
        };
        let facts = AlertFacts {
            alert_id: row.alert_id.unwrap_or(0),
            host_id: row.host_id,
            hostname,
            host_tags: Vec::new(),
            service: row.service.clone(),
            alert_type: rule
                .as_ref()
                .map(|r| r.fields.rule_type.clone())
                .or_else(|| alert.as_ref().map(|a| a.source.clone()))
                .unwrap_or_else(|| row.source.clone()),
            metric: rule.as_ref().and_then(|r| r.fields.metric.clone()),
            title: row.title.clone(),
            // The conclusion's words count too: it names what the diagnosis found.
            message: format!("{}\n{}", row.description, d.conclusion),
            severity: row.severity.clone(),
            status: "firing".into(),
        };
        // The same set, in the same order, that remediation matches alerts against.
        let mut runbooks = match DbRemediationStore(self.db.clone()).custom_runbooks().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(incident = id, error = %e, "could not load the runbooks to propose one");
                return Ok(());
            }
        };
        runbooks.extend(builtins());
        let Some(r) = select(&runbooks, &facts) else { return Ok(()) };
        let risk = risk_of(r.risk_level.as_str());
        let now = self.clock.now();
        let proposal = json!({
            "runbook": r.name, "description": r.description, "risk_level": risk, "source": "diagnosis",
            "steps": r.steps.iter().map(|s| s.command.as_str()).collect::<Vec<_>>(),
            "rollback_plan": r.steps.iter().filter_map(|s| s.rollback_command.as_deref()).collect::<Vec<_>>(),
            "estimated_duration_seconds": r.steps.iter().chain(&r.verify_steps).map(|s| s.timeout_sec).sum::<u64>(),
            "proposed_at": now,
        });
        let change = IncidentChange {
            proposal: Some(&proposal),
            ..IncidentChange::event(
                event::PROPOSAL_CREATED,
                json!({"runbook": r.name, "risk_level": risk, "source": "diagnosis"}),
            )
        };
        if self.db.change_incident(id, &change, now).await? {
            self.publish("proposal_created", json!({"incident_id": id, "risk_level": risk}));
        }
        Ok(())
    }

    async fn on_alert_fired(self: &Arc<Self>, alert_id: i64) -> Result<(), sqlx::Error> {
        let Some(alert) = self.db.alert_by_id(alert_id).await? else { return Ok(()) };
        let facts = DbRemediationStore(self.db.clone()).alert_facts(alert_id).await.ok().flatten();
        let hostname = facts.as_ref().and_then(|f| f.hostname.clone());
        let service = facts.as_ref().and_then(|f| f.service.clone());
        // A rule's alert is the same problem while its rule and target are; an external
        // alert brings its own fingerprint.
        let key = match (&alert.fingerprint, alert.rule_id) {
            (Some(fp), _) => format!("{} {fp}", alert.source),
            (None, Some(rule)) => format!("rule {rule}"),
            (None, None) => alert.title.clone(),
        };
        let new = NewIncident {
            fingerprint: fingerprint(&key, service.as_deref(), hostname.as_deref()),
            title: alert.title.clone(),
            severity: severity_from_warden(&alert.severity).to_string(),
            category: facts.as_ref().map_or_else(
                || "general".into(),
                |f| category_of(&f.alert_type, f.metric.as_deref()),
            ),
            description: alert.message.clone().unwrap_or_default(),
            source: alert.source.clone(),
            service,
            namespace: None,
            host_id: alert.host_id,
            alert_id: Some(alert_id),
            received: json!({"message": alert.message.clone().unwrap_or_else(|| alert.title.clone()),
                             "sender_id": alert.source, "alert_id": alert_id, "hostname": hostname}),
        };
        self.open(&new).await.map(|_| ())
    }

    async fn on_alert_resolved(&self, alert_id: i64) -> Result<(), sqlx::Error> {
        let Some(incident) = self.db.incident_for_alert(alert_id).await? else { return Ok(()) };
        if incident.status == "resolved" {
            return Ok(());
        }
        self.resolve(&incident.id, "auto_recovered", json!({"alert_id": alert_id})).await
    }

    async fn resolve(
        &self,
        id: &str,
        resolution: &'static str,
        data: Value,
    ) -> Result<(), sqlx::Error> {
        let mut data = data;
        data["resolution"] = json!(resolution);
        let change = IncidentChange {
            status: Some("resolved"),
            resolution: Some(resolution),
            ..IncidentChange::event(event::INCIDENT_RESOLVED, data)
        };
        if self.db.change_incident(id, &change, self.clock.now()).await? {
            self.publish("incident_resolved", json!({"incident_id": id, "resolution": resolution}));
        }
        Ok(())
    }

    /// A remediation run moved: the incident of its alert records it.
    async fn on_run(&self, c: &RunChange) -> Result<(), sqlx::Error> {
        let Some(incident) = self.db.incident_for_alert(c.alert_id).await? else { return Ok(()) };
        if incident.status == "resolved" {
            return Ok(());
        }
        let id = incident.id.as_str();
        let risk = risk_of(&c.risk_level);
        let mut proposal = c.proposal.clone();
        proposal["risk_level"] = json!(risk);
        proposal["runbook"] = json!(c.runbook);
        proposal["run_id"] = json!(c.run_id);
        proposal["proposed_at"] = json!(c.at);
        let by = json!({"by": c.actor, "comment": c.comment, "run_id": c.run_id});
        let now = self.clock.now();
        let change =
            |status, event, data| IncidentChange { status, ..IncidentChange::event(event, data) };
        match c.status.as_str() {
            "pending_approval" | "blocked" | "approved" if c.actor == "system" => {
                let proposed = IncidentChange {
                    proposal: Some(&proposal),
                    ..change(
                        None,
                        event::PROPOSAL_CREATED,
                        json!({"run_id": c.run_id, "runbook": c.runbook, "risk_level": risk}),
                    )
                };
                self.db.change_incident(id, &proposed, now).await?;
                self.publish("proposal_created", json!({"incident_id": id, "risk_level": risk}));
                let follow = match c.status.as_str() {
                    "pending_approval" => change(
                        Some("awaiting_approval"),
                        event::APPROVAL_REQUESTED,
                        json!({"run_id": c.run_id, "reason": c.reason}),
                    ),
                    "blocked" => change(
                        Some("escalated"),
                        event::INCIDENT_ESCALATED,
                        json!({"run_id": c.run_id, "reason": c.reason}),
                    ),
                    _ => return Ok(()),
                };
                self.db.change_incident(id, &follow, now).await?;
            }
            "approved" => {
                self.db.change_incident(id, &change(None, event::APPROVED, by), now).await?;
            }
            "rejected" | "expired" => {
                let kind = if c.status == "rejected" {
                    event::REJECTED
                } else {
                    event::INCIDENT_ESCALATED
                };
                let mut data = by;
                data["reason"] = json!(c.reason);
                self.db.change_incident(id, &change(Some("escalated"), kind, data), now).await?;
            }
            "executing" => {
                let data = json!({"run_id": c.run_id, "runbook": c.runbook});
                self.db
                    .change_incident(
                        id,
                        &change(Some("executing"), event::EXECUTION_STARTED, data),
                        now,
                    )
                    .await?;
            }
            "success" | "failed" => {
                let success = c.status == "success" && c.verification_passed != Some(false);
                let duration = c.duration_secs.unwrap_or(0.0).round() as i64;
                let execution = json!({"success": success, "duration": duration, "executed_at": c.at,
                    "output": c.output, "run_id": c.run_id, "reason": c.reason,
                    "verification_passed": c.verification_passed});
                let status = if success { None } else { Some("escalated") };
                let done = IncidentChange {
                    execution: Some(&execution),
                    ..change(
                        status,
                        event::EXECUTION_COMPLETED,
                        json!({"run_id": c.run_id, "success": success, "duration": duration}),
                    )
                };
                self.db.change_incident(id, &done, now).await?;
                self.publish(
                    "execution_completed",
                    json!({"incident_id": id, "success": success, "duration": duration}),
                );
                if success && c.verification_passed == Some(true) {
                    self.resolve(id, "fixed", json!({"run_id": c.run_id})).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Follows the event stream: alerts open and resolve incidents, runs write their
    /// timelines. Events are handled one at a time, in order.
    pub fn follow(self: Arc<Self>, events: &Broadcaster) -> tokio::task::JoinHandle<()> {
        let mut rx = events.subscribe();
        tokio::spawn(async move {
            loop {
                let ev = match rx.recv().await {
                    Ok(ev) => ev,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "incident timelines fell behind the event stream"
                        );
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                let outcome = match &ev {
                    LiveEvent::Alert(a) if a.kind == AlertEventKind::Fired => {
                        self.on_alert_fired(a.alert_id.0).await
                    }
                    LiveEvent::Alert(a) if a.kind == AlertEventKind::Resolved => {
                        self.on_alert_resolved(a.alert_id.0).await
                    }
                    LiveEvent::RunChanged(c) => self.on_run(c).await,
                    _ => Ok(()),
                };
                if let Err(e) = outcome {
                    tracing::error!(error = %e, "could not record an incident event");
                }
            }
        })
    }
}

/// A result as the timeline keeps it: whole when short, else its first characters.
pub(crate) fn summarised(result: &Value) -> Value {
    let text = result.to_string();
    if text.chars().count() <= RESULT_CHARS {
        return result.clone();
    }
    json!({"summary": text.chars().take(RESULT_CHARS).collect::<String>(), "truncated": true})
}

/// Seed 001's risk words for a runbook's risk level.
fn risk_of(level: &str) -> &'static str {
    match level {
        "auto" => "low",
        "confirm" => "medium",
        _ => "high",
    }
}

fn category_of(alert_type: &str, metric: Option<&str>) -> String {
    let c = match (alert_type, metric) {
        ("db_metric", _) => "database",
        ("service_down", _) => "application",
        ("host_offline", _) => "infrastructure",
        ("log_keyword", _) => "application",
        ("metric", Some(m)) if m.starts_with("net_") => "network",
        ("metric", _) => "resource",
        ("alertmanager", _) => "monitoring",
        _ => "general",
    };
    c.to_string()
}
