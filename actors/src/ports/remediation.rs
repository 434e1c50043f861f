//! What remediation runs need from outside: their store and a way to run commands.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::store::StoreError;
use crate::ids::HostId;
use crate::remediation::actor::RunSpec;
use crate::remediation::policy::Usage;
use crate::remediation::run::RunStatus;
use crate::remediation::runbook::{AlertFacts, Runbook};

/// A run to create (in status `pending`).
#[derive(Debug, Clone)]
pub struct NewRun {
    pub alert_id: i64,
    pub host_id: Option<HostId>,
    pub runbook: Runbook,
    /// `auto` or `manual`.
    pub triggered_by: String,
    pub triggered_by_user: Option<i64>,
    pub diagnosis: Value,
    /// `dry_run`, `local` or `agent`, chosen when the run is created.
    pub executor: String,
    pub created_at: DateTime<Utc>,
}

/// A status change and what comes with it, recorded before it is acted on.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub to: RunStatus,
    pub at: DateTime<Utc>,
    /// Who: a user's email, or `system`.
    pub actor: String,
    pub actor_id: Option<i64>,
    pub comment: Option<String>,
    /// Why it was blocked, is waiting, was rejected or failed.
    pub reason: Option<String>,
    pub approval_deadline: Option<DateTime<Utc>>,
    pub verification_passed: Option<bool>,
}

impl Change {
    pub fn system(to: RunStatus, at: DateTime<Utc>) -> Self {
        Change {
            to,
            at,
            actor: "system".into(),
            actor_id: None,
            comment: None,
            reason: None,
            approval_deadline: None,
            verification_passed: None,
        }
    }
}

/// One command a run executed (or simulated), as stored and shown in the run's detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// `step`, `rollback` or `verify`.
    pub phase: String,
    pub name: String,
    pub command: String,
    pub executor: String,
    pub success: bool,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Why it failed without an exit code (timeout, agent not connected, refused).
    pub error: Option<String>,
    pub simulated: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
}

/// A run the store still has open, for recovery after a restart.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub spec: RunSpec,
    pub results: Vec<StepResult>,
}

#[async_trait]
pub trait RemediationStore: Send + Sync + 'static {
    /// Creates a pending run; `None` when the alert already has one in progress.
    async fn create_run(&self, run: &NewRun) -> Result<Option<i64>, StoreError>;

    /// Moves the run from `from` to `change.to` and appends it to the run's history;
    /// `false` (nothing written) when the run is no longer in `from`.
    async fn record(&self, run: i64, from: RunStatus, change: &Change) -> Result<bool, StoreError>;

    async fn save_results(&self, run: i64, results: &[StepResult]) -> Result<(), StoreError>;

    /// Counts for the policy: automatic executions since `since` (everywhere and on the
    /// host) and the host's consecutive failed runs.
    async fn usage(&self, host: Option<HostId>, since: DateTime<Utc>) -> Result<Usage, StoreError>;

    /// Runs that are not terminal.
    async fn unfinished_runs(&self) -> Result<Vec<StoredRun>, StoreError>;

    async fn alert_facts(&self, alert: i64) -> Result<Option<AlertFacts>, StoreError>;

    /// Active custom runbooks, in the order they are matched.
    async fn custom_runbooks(&self) -> Result<Vec<Runbook>, StoreError>;

    /// Resolves the alert (a verified run fixed it); `false` when it was not open.
    async fn resolve_alert(&self, alert: i64, at: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// How one command ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutcome {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Set when the command did not finish by itself (timeout, no agent, refused).
    pub error: Option<String>,
}

impl CommandOutcome {
    pub fn success(&self) -> bool {
        self.error.is_none() && self.exit_code == Some(0)
    }
}

/// Runs commands for the `local` and `agent` executors (`dry_run` runs nothing and needs
/// no port).
#[async_trait]
pub trait CommandRunner: Send + Sync + 'static {
    async fn run(
        &self,
        executor: &str,
        host: Option<HostId>,
        command: &str,
        timeout: Duration,
    ) -> CommandOutcome;
}
