//! Spawns one actor per alert rule, keeps them told of rule changes, restarts failed
//! ones, and fans observations out to them: a verdict reaches a rule actor only when it
//! can change something (a breach, or a target that is not `Ok`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::broadcast::error::RecvError;

use super::actor::{ActiveTargets, RuleActor, RuleArgs, RuleMsg};
use super::config::{Observation, RuleConfig, RuleKind};
use crate::broadcast::Broadcaster;
use crate::clock::Clock;
use crate::ids::RuleId;
use crate::model::LiveEvent;
use crate::ports::AlertStore;
use crate::registry::Registry;
use crate::supervision::RestartBudget;

/// Messages of the rule supervisor.
pub enum RuleSupervisorMsg {
    /// Start-up: spawns an actor for every rule.
    StartAll { rules: Vec<RuleConfig>, reply: RpcReplyPort<usize> },
    /// A rule was created or edited: spawn its actor or tell it the new configuration.
    Upsert { rule: Box<RuleConfig>, reply: RpcReplyPort<Result<(), String>> },
    /// A rule was deleted: stop its actor.
    Remove { rule: RuleId, reply: RpcReplyPort<()> },
    /// Something happened that rules may judge (from the event stream).
    Observe(Observation),
    /// The `alert_check_interval` setting changed.
    ApplyCheckInterval { secs: u64 },
}

struct RuleEntry {
    actor: ActorRef<RuleMsg>,
    config: Arc<RuleConfig>,
    active: ActiveTargets,
}

pub struct RuleSupervisor;

/// What the rule supervisor is started with.
pub struct RuleSupervisorArgs {
    pub store: Arc<dyn AlertStore>,
    pub events: Broadcaster,
    pub clock: Arc<dyn Clock>,
    pub registry: Arc<Registry>,
    pub check_interval_secs: u64,
}

pub struct RuleSupervisorState {
    args: RuleSupervisorArgs,
    rules: HashMap<RuleId, RuleEntry>,
    children: HashMap<ActorId, RuleId>,
    budgets: HashMap<RuleId, RestartBudget>,
}

impl RuleSupervisor {
    async fn spawn_child(
        myself: &ActorRef<RuleSupervisorMsg>,
        st: &mut RuleSupervisorState,
        config: Arc<RuleConfig>,
        active: ActiveTargets,
    ) -> Result<ActorRef<RuleMsg>, String> {
        let id = config.id;
        let args = RuleArgs {
            config,
            store: Arc::clone(&st.args.store),
            events: st.args.events.clone(),
            clock: Arc::clone(&st.args.clock),
            active,
            check_interval_secs: st.args.check_interval_secs,
        };
        let (actor, _) = Actor::spawn_linked(None, RuleActor, args, myself.get_cell())
            .await
            .map_err(|e| format!("could not start the actor of rule {id}: {e}"))?;
        st.children.insert(actor.get_id(), id);
        Ok(actor)
    }

    async fn upsert(
        myself: &ActorRef<RuleSupervisorMsg>,
        st: &mut RuleSupervisorState,
        rule: RuleConfig,
    ) -> Result<(), String> {
        let config = Arc::new(rule);
        if let Some(entry) = st.rules.get_mut(&config.id) {
            entry.config = Arc::clone(&config);
            let _ = entry.actor.cast(RuleMsg::ApplyConfig(config));
            return Ok(());
        }
        let active: ActiveTargets = Arc::new(RwLock::new(HashMap::new()));
        let actor = Self::spawn_child(myself, st, Arc::clone(&config), Arc::clone(&active)).await?;
        st.rules.insert(config.id, RuleEntry { actor, config, active });
        Ok(())
    }

    fn fan_out(st: &RuleSupervisorState, obs: &Observation) {
        for entry in st.rules.values() {
            let c = &entry.config;
            if !c.enabled {
                continue;
            }
            let relevant = {
                let active = entry.active.read().expect("active targets lock is never poisoned");
                c.judge(obs, &st.args.registry, |key, breached| {
                    breached || active.contains_key(&key)
                })
            };
            if relevant.iter().any(|v| v.breached) {
                let mut active =
                    entry.active.write().expect("active targets lock is never poisoned");
                for v in relevant.iter().filter(|v| v.breached) {
                    active.entry(v.key).or_default().in_flight += 1;
                }
            }
            if !relevant.is_empty() {
                let _ = entry.actor.cast(RuleMsg::Judge(relevant));
            }
        }
    }
}

/// Maps a live event to what rules observe.
fn observation(ev: LiveEvent) -> Option<Observation> {
    match ev {
        LiveEvent::MetricsRecorded { host_id, metrics } => {
            Some(Observation::HostMetrics { host: host_id, metrics })
        }
        LiveEvent::HostStatusChanged { host_id, hostname, status, .. } => {
            Some(Observation::HostStatus { host: host_id, hostname, status })
        }
        LiveEvent::ServiceStatusChanged { service_id, host_id, name, status, error, .. } => {
            Some(Observation::ServiceStatus {
                service: service_id,
                host: host_id,
                name,
                status,
                error,
            })
        }
        LiveEvent::LogsIngested(lines) => Some(Observation::Logs(lines)),
        LiveEvent::DbMetricsRecorded { host_id, database_id, db_name, values } => {
            Some(Observation::DbMetrics { database_id, host: host_id, db_name, values })
        }
        LiveEvent::AgentPresence { .. }
        | LiveEvent::Alert(_)
        | LiveEvent::Notify(_)
        | LiveEvent::ApprovalDecided { .. }
        | LiveEvent::RunChanged(_) => None,
    }
}

impl Actor for RuleSupervisor {
    type Msg = RuleSupervisorMsg;
    type State = RuleSupervisorState;
    type Arguments = RuleSupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RuleSupervisorMsg>,
        args: RuleSupervisorArgs,
    ) -> Result<RuleSupervisorState, ActorProcessingErr> {
        let mut events = args.events.subscribe();
        let me = myself.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) => {
                        if let Some(obs) = observation(ev) {
                            if me.cast(RuleSupervisorMsg::Observe(obs)).is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "rule evaluation fell behind the event stream");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(RuleSupervisorState {
            args,
            rules: HashMap::new(),
            children: HashMap::new(),
            budgets: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RuleSupervisorMsg>,
        msg: RuleSupervisorMsg,
        st: &mut RuleSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RuleSupervisorMsg::StartAll { rules, reply } => {
                let mut started = 0;
                for rule in rules {
                    match Self::upsert(&myself, st, rule).await {
                        Ok(()) => started += 1,
                        Err(e) => tracing::error!(error = %e, "could not start a rule actor"),
                    }
                }
                let _ = reply.send(started);
            }
            RuleSupervisorMsg::Upsert { rule, reply } => {
                let res = Self::upsert(&myself, st, *rule).await;
                let _ = reply.send(res);
            }
            RuleSupervisorMsg::Remove { rule, reply } => {
                if let Some(entry) = st.rules.remove(&rule) {
                    st.children.remove(&entry.actor.get_id());
                    entry.actor.stop(Some("rule deleted".into()));
                }
                let _ = reply.send(());
            }
            RuleSupervisorMsg::Observe(obs) => Self::fan_out(st, &obs),
            RuleSupervisorMsg::ApplyCheckInterval { secs } => {
                st.args.check_interval_secs = secs;
                for entry in st.rules.values() {
                    let _ = entry.actor.cast(RuleMsg::ApplyCheckInterval { secs });
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RuleSupervisorMsg>,
        event: SupervisionEvent,
        st: &mut RuleSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, err) = event {
            let Some(rule) = st.children.remove(&cell.get_id()) else { return Ok(()) };
            let Some((config, active)) =
                st.rules.get(&rule).map(|e| (Arc::clone(&e.config), Arc::clone(&e.active)))
            else {
                return Ok(());
            };
            if !st.budgets.entry(rule).or_default().try_restart(Instant::now()) {
                tracing::error!(rule_id = %rule, error = %err, "rule actor keeps failing; restart budget exhausted, giving up");
                st.rules.remove(&rule);
                return Ok(());
            }
            tracing::warn!(rule_id = %rule, error = %err, "rule actor failed; restarting it from its open alerts");
            match Self::spawn_child(&myself, st, config, active).await {
                Ok(actor) => {
                    if let Some(e) = st.rules.get_mut(&rule) {
                        e.actor = actor;
                    }
                }
                Err(e) => {
                    tracing::error!(rule_id = %rule, error = %e, "could not restart rule actor");
                    st.rules.remove(&rule);
                }
            }
        }
        Ok(())
    }
}

/// Whether a rule of this kind needs the threshold (for validation in the facade).
pub fn needs_threshold(kind: &RuleKind) -> bool {
    matches!(kind, RuleKind::Metric { .. } | RuleKind::DbMetric { .. })
}
