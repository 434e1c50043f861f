//! RemediationRunActor: one per run that still has something to do (wait for an
//! approval, execute). It persists every transition before acting on it, runs the steps
//! in order through the chosen executor, rolls back what was done when a step fails,
//! verifies, notifies, and stops once the run is terminal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::{json, Map, Value};

use crate::broadcast::Broadcaster;
use crate::clock::Clock;
use crate::ids::HostId;
use crate::model::{AlertEvent, AlertEventKind, LiveEvent, NotifyKind, NotifyRequest, RunChange};
use crate::ports::remediation::{Change, StepResult};
use crate::ports::{CommandOutcome, CommandRunner, RemediationStore};
use crate::remediation::run::{next, RunEvent, RunStatus};
use crate::remediation::runbook::{Runbook, Step};

/// Output kept per stream and step; the rest is cut with a note.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// What every run actor shares.
#[derive(Clone)]
pub struct RunDeps {
    pub store: Arc<dyn RemediationStore>,
    pub runner: Arc<dyn CommandRunner>,
    pub clock: Arc<dyn Clock>,
    pub events: Broadcaster,
}

/// A run as its actor starts it: already `approved` (execute now) or `pending_approval`
/// (wait for a decision until the deadline).
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub id: i64,
    pub alert_id: i64,
    pub host_id: Option<HostId>,
    pub hostname: Option<String>,
    pub status: RunStatus,
    /// Commands already rendered for the alert.
    pub runbook: Runbook,
    pub executor: String,
    pub approval_deadline: Option<DateTime<Utc>>,
}

/// A person's decision on a pending run.
#[derive(Debug, Clone)]
pub struct Decision {
    pub by: String,
    pub by_id: Option<i64>,
    pub comment: Option<String>,
}

/// Why a decision was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("Cannot {verb} remediation in status: {}", status.as_str())]
    WrongStatus { verb: &'static str, status: RunStatus },
    #[error("{0}")]
    Store(String),
}

pub enum RunMsg {
    Approve(Decision, RpcReplyPort<Result<(), DecisionError>>),
    Reject(Decision, RpcReplyPort<Result<(), DecisionError>>),
    /// The approval deadline passed (may be early after a clock change: re-checked).
    Expire,
    /// Start executing (sent to itself once approved).
    Execute,
}

pub struct RemediationRunActor;

pub struct RunState {
    spec: RunSpec,
    deps: RunDeps,
    /// When execution started, for the duration of the run.
    started: Option<DateTime<Utc>>,
    /// The last command's output, for the incident's execution result.
    last_output: Option<String>,
}

impl Actor for RemediationRunActor {
    type Msg = RunMsg;
    type State = RunState;
    type Arguments = (RunSpec, RunDeps);

    async fn pre_start(
        &self,
        myself: ActorRef<RunMsg>,
        (spec, deps): (RunSpec, RunDeps),
    ) -> Result<RunState, ActorProcessingErr> {
        match spec.status {
            RunStatus::Approved => {
                myself.cast(RunMsg::Execute)?;
            }
            RunStatus::PendingApproval => {
                let deadline = spec.approval_deadline.unwrap_or_else(|| deps.clock.now());
                let wait = (deadline - deps.clock.now()).to_std().unwrap_or(Duration::ZERO);
                myself.send_after(wait, || RunMsg::Expire);
            }
            other => {
                return Err(
                    format!("run {} cannot be driven from {}", spec.id, other.as_str()).into()
                )
            }
        }
        Ok(RunState { spec, deps, started: None, last_output: None })
    }

    async fn handle(
        &self,
        myself: ActorRef<RunMsg>,
        msg: RunMsg,
        st: &mut RunState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RunMsg::Approve(decision, reply) => {
                let outcome = st.decide(RunEvent::Approve, "approve", &decision).await;
                let approved = outcome.is_ok();
                let _ = reply.send(outcome);
                if approved {
                    st.announce_decision(true, &decision.by);
                    myself.cast(RunMsg::Execute)?;
                }
            }
            RunMsg::Reject(decision, reply) => {
                let outcome = st.decide(RunEvent::Reject, "reject", &decision).await;
                let rejected = outcome.is_ok();
                let _ = reply.send(outcome);
                if rejected {
                    st.announce_decision(false, &decision.by);
                    let reason = decision.comment.unwrap_or_else(|| "Rejected by operator".into());
                    st.notify_finished(RunStatus::Rejected, &reason);
                    myself.stop(None);
                }
            }
            RunMsg::Expire => {
                if st.spec.status != RunStatus::PendingApproval {
                    return Ok(());
                }
                let deadline = st.spec.approval_deadline.unwrap_or_else(|| st.deps.clock.now());
                let now = st.deps.clock.now();
                if now < deadline {
                    let wait = (deadline - now).to_std().unwrap_or(Duration::ZERO);
                    myself.send_after(wait, || RunMsg::Expire);
                    return Ok(());
                }
                let reason = "approval deadline passed".to_string();
                let change = Change {
                    reason: Some(reason.clone()),
                    ..Change::system(RunStatus::Expired, now)
                };
                if st.advance(RunEvent::Expire, change).await? {
                    st.announce_decision(false, "system");
                    st.notify_finished(RunStatus::Expired, &reason);
                }
                myself.stop(None);
            }
            RunMsg::Execute => {
                st.execute().await?;
                myself.stop(None);
            }
        }
        Ok(())
    }
}

impl RunState {
    /// Persists `change` if the lifecycle allows `event` now; `false` when another
    /// writer moved the run first (it is then left alone).
    async fn advance(
        &mut self,
        event: RunEvent,
        change: Change,
    ) -> Result<bool, ActorProcessingErr> {
        let to = next(self.spec.status, event)?;
        debug_assert_eq!(to, change.to);
        let from = self.spec.status;
        let store = Arc::clone(&self.deps.store);
        let id = self.spec.id;
        let moved =
            crate::deps::with_retry("record a run transition", || store.record(id, from, &change))
                .await?;
        if moved {
            self.spec.status = to;
            if to == RunStatus::Executing {
                self.started = Some(change.at);
            }
            let duration = self
                .started
                .filter(|_| to.is_terminal())
                .map(|s| (change.at - s).num_milliseconds() as f64 / 1000.0);
            announce(&self.deps.events, &self.spec, &change, duration, self.last_output.clone());
        }
        Ok(moved)
    }

    async fn decide(
        &mut self,
        event: RunEvent,
        verb: &'static str,
        decision: &Decision,
    ) -> Result<(), DecisionError> {
        let status = self.spec.status;
        let to = next(status, event).map_err(|_| DecisionError::WrongStatus { verb, status })?;
        let change = Change {
            actor: decision.by.clone(),
            actor_id: decision.by_id,
            comment: decision.comment.clone(),
            reason: (to == RunStatus::Rejected)
                .then(|| decision.comment.clone().unwrap_or_else(|| "Rejected by operator".into())),
            ..Change::system(to, self.deps.clock.now())
        };
        match self.advance(event, change).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(DecisionError::WrongStatus { verb, status: RunStatus::Expired }),
            Err(e) => Err(DecisionError::Store(e.to_string())),
        }
    }

    fn announce_decision(&self, approved: bool, by: &str) {
        self.deps.events.emit(LiveEvent::ApprovalDecided {
            run_id: self.spec.id,
            approved,
            by: by.to_string(),
            at: self.deps.clock.now(),
        });
    }

    fn notify_finished(&self, status: RunStatus, reason: &str) {
        notify_finished(&self.deps.events, &self.spec, status, reason);
    }

    async fn run_command(&self, phase: &str, step: &Step) -> StepResult {
        let started_at = self.deps.clock.now();
        let started = Instant::now();
        let outcome = if self.spec.executor == "dry_run" {
            CommandOutcome {
                exit_code: Some(0),
                stdout: format!("[dry-run] would run: {}", step.command),
                ..CommandOutcome::default()
            }
        } else {
            let timeout = Duration::from_secs(step.timeout_sec);
            self.deps
                .runner
                .run(&self.spec.executor, self.spec.host_id, &step.command, timeout)
                .await
        };
        StepResult {
            phase: phase.into(),
            name: step.name.clone(),
            command: step.command.clone(),
            executor: self.spec.executor.clone(),
            success: outcome.success(),
            exit_code: outcome.exit_code,
            stdout: cap(outcome.stdout),
            stderr: cap(outcome.stderr),
            error: outcome.error,
            simulated: self.spec.executor == "dry_run",
            started_at,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    async fn save(&self, results: &[StepResult]) {
        if let Err(e) = self.deps.store.save_results(self.spec.id, results).await {
            tracing::warn!(run = self.spec.id, error = %e, "could not save step results");
        }
    }

    /// Executes the steps, rolls back on failure, verifies, and records the outcome.
    async fn execute(&mut self) -> Result<(), ActorProcessingErr> {
        let now = self.deps.clock.now();
        if !self.advance(RunEvent::Start, Change::system(RunStatus::Executing, now)).await? {
            return Ok(());
        }
        let steps = self.spec.runbook.steps.clone();
        let mut results = Vec::new();
        let mut failure = None;
        let mut done: Vec<&Step> = Vec::new();
        for step in &steps {
            let result = self.run_command("step", step).await;
            self.last_output = Some(output_of(&result));
            let ok = result.success;
            let why = describe_failure(&result);
            results.push(result);
            self.save(&results).await;
            if !ok {
                failure = Some(format!("step '{}' failed: {why}", step.name));
                break;
            }
            done.push(step);
        }
        let (status, verified, reason) = match failure {
            Some(reason) => {
                for step in done.iter().rev() {
                    let Some(rollback) = &step.rollback_command else { continue };
                    let undo = Step {
                        command: rollback.clone(),
                        rollback_command: None,
                        ..(*step).clone()
                    };
                    results.push(self.run_command("rollback", &undo).await);
                    self.save(&results).await;
                }
                (RunStatus::Failed, None, reason)
            }
            None => {
                let mut passed = true;
                for step in self.spec.runbook.verify_steps.clone() {
                    let result = self.run_command("verify", &step).await;
                    passed &= result.success;
                    results.push(result);
                    self.save(&results).await;
                }
                let reason =
                    if passed { "verified" } else { "steps succeeded but verification failed" };
                (RunStatus::Success, Some(passed), reason.to_string())
            }
        };
        let change = Change {
            reason: (status == RunStatus::Failed).then(|| reason.clone()),
            verification_passed: verified,
            ..Change::system(status, self.deps.clock.now())
        };
        self.advance(RunEvent::Finish { success: status == RunStatus::Success }, change).await?;
        self.notify_finished(status, &reason);
        if verified == Some(true) {
            self.resolve_alert().await;
        }
        Ok(())
    }

    async fn resolve_alert(&self) {
        let at = self.deps.clock.now();
        match self.deps.store.resolve_alert(self.spec.alert_id, at).await {
            Ok(true) => self.deps.events.emit(LiveEvent::Alert(AlertEvent {
                alert_id: crate::ids::AlertId(self.spec.alert_id),
                rule_id: None,
                kind: AlertEventKind::Resolved,
                severity: String::new(),
                title: format!("resolved by remediation run {}", self.spec.id),
                message: None,
                host_id: self.spec.host_id,
                metric_value: None,
                at,
            })),
            Ok(false) => {}
            Err(e) => tracing::warn!(run = self.spec.id, error = %e, "could not resolve the alert"),
        }
    }
}

fn output_of(result: &StepResult) -> String {
    match &result.error {
        Some(error) => format!("{}{}", result.stdout, error),
        None => format!("{}{}", result.stdout, result.stderr),
    }
}

/// Tells incident timelines about a stored transition.
pub(crate) fn announce(
    events: &Broadcaster,
    spec: &RunSpec,
    change: &Change,
    duration_secs: Option<f64>,
    output: Option<String>,
) {
    let r = &spec.runbook;
    events.emit(LiveEvent::RunChanged(Box::new(RunChange {
        run_id: spec.id,
        alert_id: spec.alert_id,
        status: change.to.as_str().to_string(),
        actor: change.actor.clone(),
        comment: change.comment.clone(),
        reason: change.reason.clone(),
        runbook: r.name.clone(),
        risk_level: r.risk_level.as_str().to_string(),
        proposal: json!({
            "description": r.description,
            "steps": r.steps.iter().map(|s| s.command.as_str()).collect::<Vec<_>>(),
            "rollback_plan": r.steps.iter().filter_map(|s| s.rollback_command.as_deref()).collect::<Vec<_>>(),
            "estimated_duration_seconds": r.steps.iter().chain(&r.verify_steps).map(|s| s.timeout_sec).sum::<u64>(),
        }),
        verification_passed: change.verification_passed,
        duration_secs,
        output,
        at: change.at,
    })));
}

/// The template variables of a run's notifications.
pub(crate) fn run_vars(spec: &RunSpec) -> Map<String, Value> {
    let commands: Vec<&str> = spec.runbook.steps.iter().map(|s| s.command.as_str()).collect();
    let mut vars = Map::new();
    vars.insert("run_id".into(), json!(spec.id));
    vars.insert("runbook".into(), json!(spec.runbook.name));
    vars.insert("risk".into(), json!(spec.runbook.risk_level.as_str()));
    vars.insert("commands".into(), json!(commands.join("\n")));
    if let Some(hostname) = &spec.hostname {
        vars.insert("hostname".into(), json!(hostname));
    }
    vars
}

/// Asks the dispatcher to tell people how a run ended.
pub(crate) fn notify_finished(
    events: &Broadcaster,
    spec: &RunSpec,
    status: RunStatus,
    reason: &str,
) {
    let mut vars = run_vars(spec);
    vars.insert("status".into(), json!(status.as_str()));
    vars.insert("result".into(), json!(status.as_str()));
    vars.insert("reason".into(), json!(reason));
    events.emit(LiveEvent::Notify(Box::new(NotifyRequest {
        kind: NotifyKind::RemediationFinished,
        alert_id: Some(spec.alert_id),
        run_id: Some(spec.id),
        channel_ids: None,
        vars,
    })));
}

fn describe_failure(result: &StepResult) -> String {
    match (&result.error, result.exit_code) {
        (Some(error), _) => error.clone(),
        (None, Some(code)) => format!("exit code {code}"),
        (None, None) => "no exit code".into(),
    }
}

/// Keeps the first `OUTPUT_CAP` bytes (on a character boundary) and says how much was cut.
pub fn cap(mut text: String) -> String {
    if text.len() <= OUTPUT_CAP {
        return text;
    }
    let mut end = OUTPUT_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("\n[… {cut} more bytes not kept]"));
    text
}
