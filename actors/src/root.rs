//! The root of the supervision tree and the [`Runtime`] handle the shell holds.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::broadcast::Broadcaster;
use crate::deps::{ActorDeps, RuntimePorts};
use crate::error::DomainError;
use crate::host::{HostSupervisor, HostSupervisorMsg};
use crate::model::{HostRecord, ServiceRecord};

use crate::registry::Registry;
use crate::rule::supervisor::RuleSupervisorArgs;
use crate::rule::{RuleConfig, RuleSupervisor, RuleSupervisorMsg};
use crate::service::{ServiceSupervisor, ServiceSupervisorMsg};

/// How long the facade waits for a supervisor to answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

type Supervisors =
    (ActorRef<HostSupervisorMsg>, ActorRef<ServiceSupervisorMsg>, ActorRef<RuleSupervisorMsg>);

pub enum RootMsg {
    GetSupervisors(RpcReplyPort<Supervisors>),
}

pub struct RootSupervisor;

pub struct RootState {
    hosts: ActorRef<HostSupervisorMsg>,
    services: ActorRef<ServiceSupervisorMsg>,
    rules: ActorRef<RuleSupervisorMsg>,
}

impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = (ActorDeps, u64, RuleSupervisorArgs);

    async fn pre_start(
        &self,
        myself: ActorRef<RootMsg>,
        (deps, timeout, rule_args): (ActorDeps, u64, RuleSupervisorArgs),
    ) -> Result<RootState, ActorProcessingErr> {
        let (hosts, _) =
            Actor::spawn_linked(None, HostSupervisor, (deps.clone(), timeout), myself.get_cell())
                .await?;
        let (services, _) =
            Actor::spawn_linked(None, ServiceSupervisor, deps, myself.get_cell()).await?;
        let (rules, _) =
            Actor::spawn_linked(None, RuleSupervisor, rule_args, myself.get_cell()).await?;
        Ok(RootState { hosts, services, rules })
    }

    async fn handle(
        &self,
        _myself: ActorRef<RootMsg>,
        msg: RootMsg,
        st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::GetSupervisors(reply) => {
                let _ = reply.send((st.hosts.clone(), st.services.clone(), st.rules.clone()));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<RootMsg>,
        event: SupervisionEvent,
        _st: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        // The child supervisors do no I/O of their own; a failure there is a bug that
        // restarting would not fix. Say so loudly and keep the rest of the tree alive.
        if let SupervisionEvent::ActorFailed(cell, err) = event {
            tracing::error!(actor = %cell.get_id(), error = %err, "a supervisor failed");
        }
        Ok(())
    }
}

/// The running supervision tree, as the shell sees it.
pub struct Runtime {
    pub registry: Arc<Registry>,
    pub events: Broadcaster,
    hosts: ActorRef<HostSupervisorMsg>,
    services: ActorRef<ServiceSupervisorMsg>,
    rules: ActorRef<RuleSupervisorMsg>,
    root: ActorRef<RootMsg>,
    server_side_checks: Arc<std::sync::atomic::AtomicBool>,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> DomainError {
    DomainError::unavailable(format!("{what} did not answer: {e}"))
}

impl Runtime {
    /// Starts the tree. Hosts and services are spawned with [`Runtime::start_all`].
    pub async fn start(
        ports: RuntimePorts,
        heartbeat_timeout_secs: u64,
        server_side_checks: bool,
        alert_check_interval_secs: u64,
    ) -> Result<Runtime, DomainError> {
        let RuntimePorts { store, alerts, clock, prober, shared_cache } = ports;
        let registry = Arc::new(Registry::default());
        let events = Broadcaster::default();
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(server_side_checks));
        let deps = ActorDeps {
            store,
            events: events.clone(),
            clock,
            registry: Arc::clone(&registry),
            prober,
            server_side_checks: Arc::clone(&flag),
            shared_cache,
        };
        let rule_args = RuleSupervisorArgs {
            store: alerts,
            events: events.clone(),
            clock: Arc::clone(&deps.clock),
            registry: Arc::clone(&registry),
            check_interval_secs: alert_check_interval_secs,
        };
        let (root, _) =
            Actor::spawn(None, RootSupervisor, (deps, heartbeat_timeout_secs, rule_args))
                .await
                .map_err(|e| {
                    DomainError::internal(format!("could not start the supervision tree: {e}"))
                })?;
        let (hosts, services, rules) = root
            .call(RootMsg::GetSupervisors, Some(CALL_TIMEOUT))
            .await
            .map_err(|e| unavailable("root supervisor", e))?
            .reply_or(|| "root supervisor")?;
        Ok(Runtime { registry, events, hosts, services, rules, root, server_side_checks: flag })
    }

    /// Spawns an actor for every stored host and service; returns how many started.
    pub async fn start_all(
        &self,
        hosts: Vec<(HostRecord, Option<i64>)>,
        services: Vec<ServiceRecord>,
    ) -> Result<(usize, usize), DomainError> {
        let long = Some(Duration::from_secs(600));
        let h = self
            .hosts
            .call(|reply| HostSupervisorMsg::StartAll { hosts, reply }, long)
            .await
            .map_err(|e| unavailable("host supervisor", e))?
            .reply_or(|| "host supervisor")?;
        let s = self
            .services
            .call(|reply| ServiceSupervisorMsg::StartAll { services, reply }, long)
            .await
            .map_err(|e| unavailable("service supervisor", e))?
            .reply_or(|| "service supervisor")?;
        Ok((h, s))
    }

    /// Makes sure the host has a running actor owned by `token_id`.
    pub async fn ensure_host(
        &self,
        record: HostRecord,
        token_id: Option<i64>,
    ) -> Result<(), DomainError> {
        self.hosts
            .call(
                |reply| HostSupervisorMsg::EnsureHost { record, token_id, reply },
                Some(CALL_TIMEOUT),
            )
            .await
            .map_err(|e| unavailable("host supervisor", e))?
            .reply_or(|| "host supervisor")?
            .map_err(DomainError::unavailable)
    }

    /// Makes sure the service has a running actor with the record's check interval.
    pub async fn ensure_service(&self, record: ServiceRecord) -> Result<(), DomainError> {
        self.services
            .call(|reply| ServiceSupervisorMsg::EnsureService { record, reply }, Some(CALL_TIMEOUT))
            .await
            .map_err(|e| unavailable("service supervisor", e))?
            .reply_or(|| "service supervisor")?
            .map_err(DomainError::unavailable)
    }

    /// Spawns an actor for every rule; returns how many started.
    pub async fn start_rules(&self, rules: Vec<RuleConfig>) -> Result<usize, DomainError> {
        self.rules
            .call(
                |reply| RuleSupervisorMsg::StartAll { rules, reply },
                Some(Duration::from_secs(600)),
            )
            .await
            .map_err(|e| unavailable("rule supervisor", e))?
            .reply_or(|| "rule supervisor")
    }

    /// A rule was created or edited: its actor applies it from now on.
    pub async fn upsert_rule(&self, rule: RuleConfig) -> Result<(), DomainError> {
        self.rules
            .call(
                |reply| RuleSupervisorMsg::Upsert { rule: Box::new(rule), reply },
                Some(CALL_TIMEOUT),
            )
            .await
            .map_err(|e| unavailable("rule supervisor", e))?
            .reply_or(|| "rule supervisor")?
            .map_err(DomainError::unavailable)
    }

    /// A rule was deleted: its actor stops.
    pub async fn remove_rule(&self, rule: crate::ids::RuleId) -> Result<(), DomainError> {
        self.rules
            .call(|reply| RuleSupervisorMsg::Remove { rule, reply }, Some(CALL_TIMEOUT))
            .await
            .map_err(|e| unavailable("rule supervisor", e))?
            .reply_or(|| "rule supervisor")
    }

    /// Tells every rule the new `alert_check_interval`.
    pub fn apply_alert_check_interval(&self, secs: u64) {
        let _ = self.rules.cast(RuleSupervisorMsg::ApplyCheckInterval { secs });
    }

    /// Tells every host the new `heartbeat_timeout`.
    pub fn apply_heartbeat_timeout(&self, secs: u64) {
        let _ = self.hosts.cast(HostSupervisorMsg::ApplyTimeout { timeout_secs: secs });
    }

    /// Turns server-side checks on or off for every service.
    pub fn apply_server_side_checks(&self, on: bool) {
        self.server_side_checks.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops the whole tree and waits for it.
    pub async fn stop(&self) {
        let _ =
            self.root.stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5))).await;
    }
}

/// Turns a call outcome into the reply or an `Unavailable`/`Timeout` error.
trait CallOutcome<T> {
    fn reply_or(self, who: impl FnOnce() -> &'static str) -> Result<T, DomainError>;
}

impl<T> CallOutcome<T> for ractor::rpc::CallResult<T> {
    fn reply_or(self, who: impl FnOnce() -> &'static str) -> Result<T, DomainError> {
        match self {
            ractor::rpc::CallResult::Success(v) => Ok(v),
            ractor::rpc::CallResult::Timeout => Err(DomainError::new(
                crate::error::ErrorKind::Timeout,
                format!("{} timed out", who()),
            )),
            ractor::rpc::CallResult::SenderError => {
                Err(DomainError::unavailable(format!("{} stopped", who())))
            }
        }
    }
}
