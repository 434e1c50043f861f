//! RemediationSupervisor: creates runs (automatically for firing alerts when
//! `auto_remediation` is on, or on request), decides them with the policy, spawns a
//! RemediationRunActor for each run that has something to do, routes approvals to it,
//! and turns a run whose actor or process died mid-way into `failed: interrupted`.
//!
//! Runs are created one at a time here, so the quota counts the supervisor reads always
//! include the run decided just before.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::actor::{
    announce, notify_finished, run_vars, Decision as Approval, DecisionError, RemediationRunActor,
    RunDeps, RunMsg, RunSpec,
};
use super::guard::CommandGuard;
use super::policy::{decide, Decision, Limits};
use super::run::{next, RunEvent, RunStatus};
use super::runbook::{builtins, render, select, AlertFacts, Runbook, Step};
use crate::model::{AlertEventKind, LiveEvent, NotifyKind, NotifyRequest};
use crate::ports::remediation::{Change, NewRun, StoredRun};
use crate::settings::RuntimeSettings;

/// Who asked for a run.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A firing alert, with `auto_remediation` on.
    Auto,
    /// `POST /api/v1/alerts/{id}/remediate`.
    Manual { user_id: i64, by: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("Alert not found")]
    AlertNotFound,
    #[error("Alert is already resolved")]
    AlertResolved,
    #[error("A remediation is already in progress for this alert")]
    InProgress,
    /// Only for automatic triggers: a manual one records a blocked run instead.
    #[error("No runbook matches this alert")]
    NoRunbook,
    #[error("{0}")]
    Store(String),
}

pub enum RemediationMsg {
    /// Start-up: fail runs interrupted by the last shutdown, re-arm pending approvals.
    Recover(RpcReplyPort<usize>),
    Trigger {
        alert_id: i64,
        trigger: Trigger,
        reply: RpcReplyPort<Result<i64, TriggerError>>,
    },
    Decide {
        run_id: i64,
        approve: bool,
        decision: Approval,
        reply: RpcReplyPort<Result<(), DecisionError>>,
    },
    /// A firing alert seen on the event stream.
    AlertFired {
        alert_id: i64,
    },
}

pub struct RemediationSupervisor;

pub struct RemediationArgs {
    pub deps: RunDeps,
    pub settings: watch::Receiver<RuntimeSettings>,
}

pub struct RemediationState {
    deps: RunDeps,
    settings: watch::Receiver<RuntimeSettings>,
    runs: HashMap<i64, ActorRef<RunMsg>>,
    children: HashMap<ActorId, i64>,
}

impl Actor for RemediationSupervisor {
    type Msg = RemediationMsg;
    type State = RemediationState;
    type Arguments = RemediationArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RemediationMsg>,
        args: RemediationArgs,
    ) -> Result<RemediationState, ActorProcessingErr> {
        let mut events = args.deps.events.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(LiveEvent::Alert(a)) if a.kind == AlertEventKind::Fired => {
                        if myself
                            .cast(RemediationMsg::AlertFired { alert_id: a.alert_id.0 })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "auto-remediation fell behind the event stream");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(RemediationState {
            deps: args.deps,
            settings: args.settings,
            runs: HashMap::new(),
            children: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RemediationMsg>,
        msg: RemediationMsg,
        st: &mut RemediationState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RemediationMsg::Recover(reply) => {
                let count = st.recover_all(&myself).await;
                let _ = reply.send(count);
            }
            RemediationMsg::Trigger { alert_id, trigger, reply } => {
                let _ = reply.send(st.trigger(&myself, alert_id, trigger).await);
            }
            RemediationMsg::AlertFired { alert_id } => {
                if st.settings.borrow().auto_remediation {
                    match st.trigger(&myself, alert_id, Trigger::Auto).await {
                        Ok(_) | Err(TriggerError::InProgress | TriggerError::NoRunbook) => {}
                        Err(e) => {
                            tracing::warn!(alert_id, error = %e, "automatic remediation failed to start")
                        }
                    }
                }
            }
            RemediationMsg::Decide { run_id, approve, decision, reply } => {
                match st.runs.get(&run_id) {
                    Some(actor) => {
                        let msg = if approve { RunMsg::Approve } else { RunMsg::Reject };
                        let _ = actor.cast(msg(decision, reply));
                    }
                    None => {
                        let verb = if approve { "approve" } else { "reject" };
                        let status = st.stored_status(run_id).await;
                        let _ = reply.send(Err(DecisionError::WrongStatus { verb, status }));
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RemediationMsg>,
        event: SupervisionEvent,
        st: &mut RemediationState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, ..) => {
                if let Some(run) = st.children.remove(&cell.get_id()) {
                    st.runs.remove(&run);
                }
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                if let Some(run) = st.children.remove(&cell.get_id()) {
                    st.runs.remove(&run);
                    tracing::error!(run, error = %err, "a remediation run actor failed");
                    st.recover(&myself, run).await;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl RemediationState {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.deps.clock.now()
    }

    async fn stored_status(&self, run_id: i64) -> RunStatus {
        // A run without an actor is terminal or was just interrupted; the store knows.
        match self.deps.store.unfinished_runs().await {
            Ok(runs) => runs
                .iter()
                .find(|r| r.spec.id == run_id)
                .map_or(RunStatus::Failed, |r| r.spec.status),
            Err(_) => RunStatus::Failed,
        }
    }

    async fn spawn_run(&mut self, myself: &ActorRef<RemediationMsg>, spec: RunSpec) {
        let id = spec.id;
        match Actor::spawn_linked(
            None,
            RemediationRunActor,
            (spec, self.deps.clone()),
            myself.get_cell(),
        )
        .await
        {
            Ok((actor, _)) => {
                self.children.insert(actor.get_id(), id);
                self.runs.insert(id, actor);
            }
            Err(e) => {
                tracing::error!(run = id, error = %e, "could not start a remediation run actor");
                self.interrupt(id, "could not start the run").await;
            }
        }
    }

    /// Fails a run that was under way; `true` when it was.
    async fn interrupt(&self, run_id: i64, reason: &str) -> bool {
        self.interrupt_change(run_id, reason).await.is_some()
    }

    async fn interrupt_change(&self, run_id: i64, reason: &str) -> Option<Change> {
        let change = Change {
            reason: Some(reason.to_string()),
            ..Change::system(RunStatus::Failed, self.now())
        };
        for from in [RunStatus::Executing, RunStatus::Approved, RunStatus::Pending] {
            match self.deps.store.record(run_id, from, &change).await {
                Ok(true) => return Some(change),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(run = run_id, error = %e, "could not mark a run interrupted");
                    return None;
                }
            }
        }
        None
    }

    async fn recover_all(&mut self, myself: &ActorRef<RemediationMsg>) -> usize {
        let runs = match self.deps.store.unfinished_runs().await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::error!(error = %e, "could not load unfinished remediation runs");
                return 0;
            }
        };
        let count = runs.len();
        for run in runs {
            self.recover_stored(myself, run).await;
        }
        count
    }

    async fn recover(&mut self, myself: &ActorRef<RemediationMsg>, run_id: i64) {
        match self.deps.store.unfinished_runs().await {
            Ok(runs) => {
                if let Some(run) = runs.into_iter().find(|r| r.spec.id == run_id) {
                    self.recover_stored(myself, run).await;
                }
            }
            Err(e) => tracing::error!(run = run_id, error = %e, "could not reload a failed run"),
        }
    }

    /// A waiting run gets its actor (and deadline) back; one that was under way is
    /// failed as interrupted and never re-executed.
    async fn recover_stored(&mut self, myself: &ActorRef<RemediationMsg>, run: StoredRun) {
        let StoredRun { spec, .. } = run;
        if spec.status == RunStatus::PendingApproval {
            self.spawn_run(myself, spec).await;
        } else if let Some(change) = self.interrupt_change(spec.id, "interrupted").await {
            tracing::warn!(
                run = spec.id,
                "remediation run interrupted; marked failed, not re-executed"
            );
            announce(&self.deps.events, &spec, &change, None, None);
            notify_finished(&self.deps.events, &spec, RunStatus::Failed, "interrupted");
        }
    }

    async fn trigger(
        &mut self,
        myself: &ActorRef<RemediationMsg>,
        alert_id: i64,
        trigger: Trigger,
    ) -> Result<i64, TriggerError> {
        let store = Arc::clone(&self.deps.store);
        let facts = store
            .alert_facts(alert_id)
            .await
            .map_err(|e| TriggerError::Store(e.to_string()))?
            .ok_or(TriggerError::AlertNotFound)?;
        if facts.status == "resolved" {
            return Err(TriggerError::AlertResolved);
        }
        let mut runbooks =
            store.custom_runbooks().await.map_err(|e| TriggerError::Store(e.to_string()))?;
        runbooks.extend(builtins());
        let chosen = select(&runbooks, &facts).map(|r| rendered(r, &facts));
        if chosen.is_none() && matches!(trigger, Trigger::Auto) {
            // Nothing answers this alert; an automatic trigger leaves no record.
            return Err(TriggerError::NoRunbook);
        }
        let settings = self.settings.borrow().clone();
        let runbook = chosen.clone().unwrap_or_else(|| no_runbook(&facts));
        let (triggered_by, user) = match &trigger {
            Trigger::Auto => ("auto", None),
            Trigger::Manual { user_id, .. } => ("manual", Some(*user_id)),
        };
        let new = NewRun {
            alert_id,
            host_id: facts.host_id.map(crate::ids::HostId),
            runbook: runbook.clone(),
            triggered_by: triggered_by.into(),
            triggered_by_user: user,
            diagnosis: diagnosis(&facts, chosen.as_ref()),
            executor: settings.remediation_executor.clone(),
            created_at: self.now(),
        };
        let id = store
            .create_run(&new)
            .await
            .map_err(|e| TriggerError::Store(e.to_string()))?
            .ok_or(TriggerError::InProgress)?;
        let decision = match &chosen {
            None => Decision::Block("no runbook matches this alert".into()),
            Some(runbook) => {
                let since = self.now() - ChronoDuration::hours(1);
                let usage = store
                    .usage(facts.host_id.map(crate::ids::HostId), since)
                    .await
                    .map_err(|e| TriggerError::Store(e.to_string()))?;
                let limits = Limits {
                    hourly_quota: settings.hourly_quota,
                    per_host_hour: settings.remediation_max_per_host_hour,
                    breaker_failures: settings.remediation_circuit_breaker,
                };
                let commands: Vec<String> =
                    runbook.commands().map(|(_, c)| c.to_string()).collect();
                let guard = CommandGuard::new(&settings.forbidden_verbs);
                decide(runbook, &commands, &guard, &facts.host_tags, usage, limits)
            }
        };
        let now = self.now();
        let (event, change) = match &decision {
            Decision::Execute => (RunEvent::Approve, Change::system(RunStatus::Approved, now)),
            Decision::AskApproval(reason) => (
                RunEvent::AskApproval,
                Change {
                    reason: Some(reason.clone()),
                    approval_deadline: Some(
                        now + ChronoDuration::seconds(
                            settings.remediation_approval_timeout_secs as i64,
                        ),
                    ),
                    ..Change::system(RunStatus::PendingApproval, now)
                },
            ),
            Decision::Block(reason) => (
                RunEvent::Block,
                Change { reason: Some(reason.clone()), ..Change::system(RunStatus::Blocked, now) },
            ),
        };
        let status =
            next(RunStatus::Pending, event).map_err(|e| TriggerError::Store(e.to_string()))?;
        let deadline = change.approval_deadline;
        store
            .record(id, RunStatus::Pending, &change)
            .await
            .map_err(|e| TriggerError::Store(e.to_string()))?;
        let recorded = change.clone();
        let spec = RunSpec {
            id,
            alert_id,
            host_id: facts.host_id.map(crate::ids::HostId),
            hostname: facts.hostname.clone(),
            status,
            runbook,
            executor: settings.remediation_executor,
            approval_deadline: deadline,
        };
        announce(&self.deps.events, &spec, &recorded, None, None);
        match decision {
            Decision::Block(reason) => {
                notify_finished(&self.deps.events, &spec, RunStatus::Blocked, &reason)
            }
            Decision::AskApproval(reason) => {
                let mut vars = run_vars(&spec);
                vars.insert("reason".into(), json!(reason));
                self.deps.events.emit(LiveEvent::Notify(Box::new(NotifyRequest {
                    kind: NotifyKind::ApprovalRequested,
                    alert_id: Some(alert_id),
                    run_id: Some(id),
                    channel_ids: None,
                    vars,
                })));
                self.spawn_run(myself, spec).await;
            }
            Decision::Execute => self.spawn_run(myself, spec).await,
        }
        Ok(id)
    }
}

/// The runbook with every command rendered for the alert.
fn rendered(runbook: &Runbook, facts: &AlertFacts) -> Runbook {
    let step = |s: &Step| Step {
        command: render(&s.command, facts),
        rollback_command: s.rollback_command.as_deref().map(|c| render(c, facts)),
        ..s.clone()
    };
    Runbook {
        steps: runbook.steps.iter().map(step).collect(),
        verify_steps: runbook.verify_steps.iter().map(step).collect(),
        ..runbook.clone()
    }
}

/// What a manual trigger records when no runbook answers the alert.
fn no_runbook(facts: &AlertFacts) -> Runbook {
    Runbook {
        id: None,
        name: String::new(),
        description: format!("no runbook matches alert {}", facts.alert_id),
        match_alert_types: Vec::new(),
        trigger_keywords: Vec::new(),
        risk_level: super::runbook::RiskLevel::Block,
        safety_checks: Vec::new(),
        steps: Vec::new(),
        verify_steps: Vec::new(),
    }
}

/// The rule-based diagnosis stored with a run (the LLM one replaces it when configured).
fn diagnosis(facts: &AlertFacts, runbook: Option<&Runbook>) -> Value {
    let matched_by = runbook.map(|r| {
        if r.match_alert_types.iter().any(|t| t == &facts.alert_type) {
            format!("alert type {}", facts.alert_type)
        } else if let Some(metric) =
            facts.metric.as_ref().filter(|m| r.match_alert_types.contains(m))
        {
            format!("metric {metric}")
        } else {
            "keyword in the alert text".to_string()
        }
    });
    json!({
        "source": "rules",
        "alert": {"id": facts.alert_id, "title": facts.title, "severity": facts.severity, "type": facts.alert_type, "metric": facts.metric},
        "root_cause": runbook.map(|r| r.description.clone()),
        "runbook": runbook.map(|r| r.name.clone()),
        "matched_by": matched_by,
        "confidence": if runbook.is_some() { 0.6 } else { 0.0 },
    })
}
