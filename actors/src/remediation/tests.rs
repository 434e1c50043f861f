//! The remediation supervisor and run actors under paused tokio time and a manual clock,
//! with an in-memory store and a scripted command runner.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use ractor::{Actor, ActorRef};
use tokio::sync::watch;

use super::actor::{RunDeps, RunSpec};
use super::policy::Usage;
use super::run::RunStatus;
use super::runbook::{AlertFacts, RiskLevel, Runbook, Step};
use super::supervisor::{RemediationArgs, RemediationMsg, RemediationSupervisor, Trigger};
use crate::broadcast::Broadcaster;
use crate::clock::ManualClock;
use crate::ids::HostId;
use crate::model::{LiveEvent, NotifyKind};
use crate::ports::remediation::{Change, NewRun, StepResult, StoredRun};
use crate::ports::{CommandOutcome, CommandRunner, RemediationStore, StoreError};
use crate::settings::RuntimeSettings;

fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).single().expect("valid time")
}

struct MemRun {
    new: NewRun,
    status: RunStatus,
    changes: Vec<Change>,
    results: Vec<StepResult>,
}

#[derive(Default)]
struct MemStore {
    runs: Mutex<Vec<MemRun>>,
    custom: Vec<Runbook>,
    resolved: Mutex<Vec<i64>>,
}

impl MemStore {
    fn status(&self, id: i64) -> RunStatus {
        self.runs.lock().unwrap()[(id - 1) as usize].status
    }

    fn results(&self, id: i64) -> Vec<(String, String)> {
        let runs = self.runs.lock().unwrap();
        runs[(id - 1) as usize]
            .results
            .iter()
            .map(|r| (r.phase.clone(), r.command.clone()))
            .collect()
    }

    fn last_reason(&self, id: i64) -> Option<String> {
        let runs = self.runs.lock().unwrap();
        runs[(id - 1) as usize].changes.last().and_then(|c| c.reason.clone())
    }
}

#[async_trait]
impl RemediationStore for MemStore {
    async fn create_run(&self, run: &NewRun) -> Result<Option<i64>, StoreError> {
        let mut runs = self.runs.lock().unwrap();
        let busy = runs
            .iter()
            .any(|r| r.new.alert_id == run.alert_id && RunStatus::ACTIVE.contains(&r.status));
        if busy {
            return Ok(None);
        }
        runs.push(MemRun {
            new: run.clone(),
            status: RunStatus::Pending,
            changes: Vec::new(),
            results: Vec::new(),
        });
        Ok(Some(runs.len() as i64))
    }

    async fn record(&self, run: i64, from: RunStatus, change: &Change) -> Result<bool, StoreError> {
        let mut runs = self.runs.lock().unwrap();
        let r = &mut runs[(run - 1) as usize];
        if r.status != from {
            return Ok(false);
        }
        r.status = change.to;
        r.changes.push(change.clone());
        Ok(true)
    }

    async fn save_results(&self, run: i64, results: &[StepResult]) -> Result<(), StoreError> {
        self.runs.lock().unwrap()[(run - 1) as usize].results = results.to_vec();
        Ok(())
    }

    async fn usage(
        &self,
        _host: Option<HostId>,
        _since: DateTime<Utc>,
    ) -> Result<Usage, StoreError> {
        Ok(Usage::default())
    }

    async fn unfinished_runs(&self) -> Result<Vec<StoredRun>, StoreError> {
        let runs = self.runs.lock().unwrap();
        Ok(runs
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.status.is_terminal())
            .map(|(i, r)| StoredRun {
                spec: RunSpec {
                    id: i as i64 + 1,
                    alert_id: r.new.alert_id,
                    host_id: r.new.host_id,
                    hostname: None,
                    status: r.status,
                    runbook: r.new.runbook.clone(),
                    executor: r.new.executor.clone(),
                    approval_deadline: r.changes.iter().rev().find_map(|c| c.approval_deadline),
                },
                results: r.results.clone(),
            })
            .collect())
    }

    async fn alert_facts(&self, alert: i64) -> Result<Option<AlertFacts>, StoreError> {
        let metric = if alert == 1 { "memory_percent" } else { "cpu_percent" };
        Ok(Some(AlertFacts {
            alert_id: alert,
            host_id: Some(1),
            alert_type: "metric".into(),
            metric: Some(metric.into()),
            title: "something is wrong".into(),
            status: "firing".into(),
            ..AlertFacts::default()
        }))
    }

    async fn custom_runbooks(&self) -> Result<Vec<Runbook>, StoreError> {
        Ok(self.custom.clone())
    }

    async fn resolve_alert(&self, alert: i64, _at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.resolved.lock().unwrap().push(alert);
        Ok(true)
    }
}

/// Fails the commands named in `failing`, panics on `boom`; everything else exits 0.
#[derive(Default)]
struct ScriptedRunner {
    failing: Vec<String>,
}

#[async_trait]
impl CommandRunner for ScriptedRunner {
    async fn run(
        &self,
        _executor: &str,
        _host: Option<HostId>,
        command: &str,
        _t: Duration,
    ) -> CommandOutcome {
        assert_ne!(command, "boom", "the runner blew up");
        let code = if self.failing.iter().any(|f| f == command) { 1 } else { 0 };
        CommandOutcome {
            exit_code: Some(code),
            stdout: command.to_string(),
            ..CommandOutcome::default()
        }
    }
}

struct Harness {
    store: Arc<MemStore>,
    clock: ManualClock,
    events: Broadcaster,
    supervisor: ActorRef<RemediationMsg>,
}

async fn harness(store: MemStore, runner: ScriptedRunner, settings: RuntimeSettings) -> Harness {
    let store = Arc::new(store);
    let clock = ManualClock::new(t0());
    let events = Broadcaster::default();
    let deps = RunDeps {
        store: Arc::clone(&store) as Arc<dyn RemediationStore>,
        runner: Arc::new(runner),
        clock: Arc::new(clock.clone()),
        events: events.clone(),
    };
    let (_, settings) = watch::channel(settings);
    let (supervisor, _) =
        Actor::spawn(None, RemediationSupervisor, RemediationArgs { deps, settings })
            .await
            .expect("supervisor starts");
    Harness { store, clock, events, supervisor }
}

impl Harness {
    async fn trigger(&self, alert: i64) -> i64 {
        let trigger = Trigger::Manual { user_id: 1, by: "ops@example.com".into() };
        let outcome = self
            .supervisor
            .call(|reply| RemediationMsg::Trigger { alert_id: alert, trigger, reply }, None)
            .await
            .expect("supervisor answers");
        match outcome {
            ractor::rpc::CallResult::Success(Ok(id)) => id,
            _ => panic!("no run was created"),
        }
    }

    /// Lets actors run until nothing is pending at the current (paused) instant.
    async fn settle(&self) {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }
}

fn step(command: &str, rollback: Option<&str>) -> Step {
    Step {
        name: command.into(),
        command: command.into(),
        timeout_sec: 5,
        rollback_command: rollback.map(str::to_string),
    }
}

fn custom(risk: RiskLevel, steps: Vec<Step>) -> Runbook {
    Runbook {
        id: Some(1),
        name: "scripted".into(),
        description: String::new(),
        match_alert_types: vec!["cpu_percent".into()],
        trigger_keywords: Vec::new(),
        risk_level: risk,
        safety_checks: Vec::new(),
        steps,
        verify_steps: vec![step("verify", None)],
    }
}

fn settings(executor: &str, approval_secs: u64) -> RuntimeSettings {
    RuntimeSettings {
        remediation_executor: executor.into(),
        remediation_approval_timeout_secs: approval_secs,
        ..RuntimeSettings::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_pending_approval_expires_exactly_at_its_deadline() {
    let h = harness(MemStore::default(), ScriptedRunner::default(), settings("dry_run", 60)).await;
    let mut notices = h.events.subscribe();
    let run = h.trigger(1).await; // memory_pressure: confirm
    assert_eq!(h.store.status(run), RunStatus::PendingApproval);
    let mut kinds = Vec::new();
    while let Ok(ev) = notices.try_recv() {
        kinds.push(match ev {
            LiveEvent::RunChanged(c) => c.status,
            LiveEvent::Notify(n) if n.kind == NotifyKind::ApprovalRequested => {
                "approval requested".into()
            }
            _ => "other".into(),
        });
    }
    assert_eq!(kinds, ["pending_approval", "approval requested"], "stored, then asked");

    h.clock.advance(chrono::Duration::seconds(59));
    tokio::time::advance(Duration::from_secs(59)).await;
    h.settle().await;
    assert_eq!(h.store.status(run), RunStatus::PendingApproval, "one second early");

    h.clock.advance(chrono::Duration::seconds(1));
    tokio::time::advance(Duration::from_secs(1)).await;
    h.settle().await;
    assert_eq!(h.store.status(run), RunStatus::Expired);
    assert_eq!(h.store.last_reason(run).as_deref(), Some("approval deadline passed"));
    assert!(h.store.results(run).is_empty(), "nothing ran");
}

#[tokio::test(start_paused = true)]
async fn a_timer_that_fires_before_the_clock_deadline_re_arms() {
    let h = harness(MemStore::default(), ScriptedRunner::default(), settings("dry_run", 60)).await;
    let run = h.trigger(1).await;
    // The timer fires, but the wall clock says the deadline is still 30 s away.
    tokio::time::advance(Duration::from_secs(61)).await;
    h.clock.advance(chrono::Duration::seconds(30));
    h.settle().await;
    assert_eq!(h.store.status(run), RunStatus::PendingApproval);
    h.clock.advance(chrono::Duration::seconds(30));
    tokio::time::advance(Duration::from_secs(30)).await;
    h.settle().await;
    assert_eq!(h.store.status(run), RunStatus::Expired);
}

#[tokio::test(start_paused = true)]
async fn a_failed_step_rolls_back_the_done_steps_in_reverse() {
    let store = MemStore {
        custom: vec![custom(
            RiskLevel::Auto,
            vec![
                step("a", Some("undo-a")),
                step("b", Some("undo-b")),
                step("c", None),
                step("d", Some("undo-d")),
            ],
        )],
        ..MemStore::default()
    };
    let runner = ScriptedRunner { failing: vec!["c".into()] };
    let h = harness(store, runner, settings("local", 60)).await;
    let run = h.trigger(2).await;
    h.settle().await;
    assert_eq!(h.store.status(run), RunStatus::Failed);
    let phases: Vec<(String, String)> = h.store.results(run);
    let expected = [
        ("step", "a"),
        ("step", "b"),
        ("step", "c"),
        ("rollback", "undo-b"),
        ("rollback", "undo-a"),
    ];
    assert_eq!(phases, expected.map(|(p, c)| (p.to_string(), c.to_string())));
    assert_eq!(h.store.last_reason(run).as_deref(), Some("step 'c' failed: exit code 1"));
    assert!(h.store.resolved.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_verified_run_resolves_its_alert_and_a_failed_verification_does_not() {
    let store = MemStore {
        custom: vec![custom(RiskLevel::Auto, vec![step("a", None)])],
        ..MemStore::default()
    };
    let h = harness(store, ScriptedRunner::default(), settings("local", 60)).await;
    let run = h.trigger(2).await;
    h.settle().await;
    assert_eq!(h.store.status(run), RunStatus::Success);
    assert_eq!(*h.store.resolved.lock().unwrap(), [2]);

    let store = MemStore {
        custom: vec![custom(RiskLevel::Auto, vec![step("a", None)])],
        ..MemStore::default()
    };
    let h =
        harness(store, ScriptedRunner { failing: vec!["verify".into()] }, settings("local", 60))
            .await;
    let run = h.trigger(2).await;
    h.settle().await;
    assert_eq!(h.store.status(run), RunStatus::Success);
    let verified =
        h.store.runs.lock().unwrap()[0].changes.last().and_then(|c| c.verification_passed);
    assert_eq!(verified, Some(false));
    assert!(h.store.resolved.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn runs_left_under_way_are_failed_as_interrupted_on_recovery() {
    let store = MemStore::default();
    let runbook = custom(RiskLevel::Auto, vec![step("a", None)]);
    let new = |alert| NewRun {
        alert_id: alert,
        host_id: Some(HostId(1)),
        runbook: runbook.clone(),
        triggered_by: "auto".into(),
        triggered_by_user: None,
        diagnosis: serde_json::Value::Null,
        executor: "local".into(),
        created_at: t0(),
    };
    for (alert, status) in
        [(5, RunStatus::Executing), (6, RunStatus::PendingApproval), (7, RunStatus::Approved)]
    {
        let id = store.create_run(&new(alert)).await.unwrap().unwrap();
        let change = Change {
            approval_deadline: Some(t0() + chrono::Duration::seconds(3600)),
            ..Change::system(status, t0())
        };
        store.record(id, RunStatus::Pending, &change).await.unwrap();
    }
    let h = harness(store, ScriptedRunner::default(), settings("local", 60)).await;
    let mut events = h.events.subscribe();
    let recovered = h.supervisor.call(RemediationMsg::Recover, None).await.expect("answers");
    assert!(matches!(recovered, ractor::rpc::CallResult::Success(3)));
    h.settle().await;
    assert_eq!(h.store.status(1), RunStatus::Failed);
    assert_eq!(h.store.last_reason(1).as_deref(), Some("interrupted"));
    assert_eq!(h.store.status(2), RunStatus::PendingApproval, "waiting runs keep waiting");
    assert_eq!(h.store.status(3), RunStatus::Failed);
    assert!(h.store.results(1).is_empty() && h.store.results(3).is_empty(), "never re-executed");
    let mut finished = 0;
    while let Ok(ev) = events.try_recv() {
        if matches!(ev, LiveEvent::Notify(n) if n.kind == NotifyKind::RemediationFinished && n.vars["reason"] == "interrupted")
        {
            finished += 1;
        }
    }
    assert_eq!(finished, 2, "each interrupted run is announced");
}

#[tokio::test(start_paused = true)]
async fn a_run_actor_that_dies_mid_run_is_failed_as_interrupted() {
    let store = MemStore {
        custom: vec![custom(RiskLevel::Auto, vec![step("a", None), step("boom", None)])],
        ..MemStore::default()
    };
    let h = harness(store, ScriptedRunner::default(), settings("local", 60)).await;
    let mut events = h.events.subscribe();
    let run = h.trigger(2).await;
    for _ in 0..20 {
        h.settle().await;
        tokio::time::advance(Duration::from_millis(10)).await;
    }
    assert_eq!(h.store.status(run), RunStatus::Failed);
    assert_eq!(h.store.last_reason(run).as_deref(), Some("interrupted"));
    assert_eq!(h.store.results(run), [("step".to_string(), "a".to_string())], "not re-executed");
    let mut announced = false;
    while let Ok(ev) = events.try_recv() {
        announced |= matches!(ev, LiveEvent::Notify(n) if n.vars["reason"] == "interrupted");
    }
    assert!(announced);
}
