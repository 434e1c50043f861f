//! Spawns host actors on demand and at start-up, restarts failed ones (they rebuild
//! from the store), and keeps the registry's host entries current.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::actor::{HostActor, HostArgs};
use super::messages::HostMsg;
use crate::deps::ActorDeps;
use crate::ids::HostId;
use crate::live::HostLive;
use crate::model::HostRecord;
use crate::registry::HostEntry;
use crate::supervision::RestartBudget;

/// Messages of the host supervisor.
pub enum HostSupervisorMsg {
    /// Makes sure an actor runs for the host (spawning it if needed) and records the
    /// agent token it belongs to. Replies once the actor is registered.
    EnsureHost {
        record: HostRecord,
        token_id: Option<i64>,
        reply: RpcReplyPort<Result<(), String>>,
    },
    /// Start-up: spawns an actor for every stored host. Replies with how many started.
    StartAll { hosts: Vec<(HostRecord, Option<i64>)>, reply: RpcReplyPort<usize> },
    /// The `heartbeat_timeout` setting changed; every host re-arms its deadline.
    ApplyTimeout { timeout_secs: u64 },
}

pub struct HostSupervisor;

pub struct HostSupervisorState {
    deps: ActorDeps,
    timeout_secs: u64,
    children: HashMap<ActorId, HostId>,
    budgets: HashMap<HostId, RestartBudget>,
}

impl HostSupervisor {
    async fn spawn_child(
        myself: &ActorRef<HostSupervisorMsg>,
        st: &mut HostSupervisorState,
        host_id: HostId,
        live: Arc<HostLive>,
        record: Option<HostRecord>,
    ) -> Result<ActorRef<HostMsg>, String> {
        let args = HostArgs {
            host_id,
            deps: st.deps.clone(),
            live,
            timeout_secs: st.timeout_secs,
            record,
        };
        let (actor, _) = Actor::spawn_linked(None, HostActor, args, myself.get_cell())
            .await
            .map_err(|e| format!("could not start the actor of host {host_id}: {e}"))?;
        st.children.insert(actor.get_id(), host_id);
        Ok(actor)
    }

    async fn ensure(
        myself: &ActorRef<HostSupervisorMsg>,
        st: &mut HostSupervisorState,
        record: HostRecord,
        token_id: Option<i64>,
    ) -> Result<(), String> {
        let registry = Arc::clone(&st.deps.registry);
        if registry.host(record.id).is_some() {
            registry.set_host_token(
                record.id,
                token_id,
                record.group_name.clone(),
                record.tags.clone(),
            );
            return Ok(());
        }
        let id = record.id;
        let (record_group, record_tags) = (record.group_name.clone(), record.tags.clone());
        let live = Arc::new(HostLive::new(record.status, record.last_heartbeat));
        let actor = Self::spawn_child(myself, st, id, Arc::clone(&live), Some(record)).await?;
        let (group_name, tags) = (record_group, record_tags.into());
        registry.put_host(id, HostEntry { actor, token_id, live, group_name, tags });
        Ok(())
    }
}

impl Actor for HostSupervisor {
    type Msg = HostSupervisorMsg;
    type State = HostSupervisorState;
    type Arguments = (ActorDeps, u64);

    async fn pre_start(
        &self,
        _myself: ActorRef<HostSupervisorMsg>,
        (deps, timeout_secs): (ActorDeps, u64),
    ) -> Result<HostSupervisorState, ActorProcessingErr> {
        Ok(HostSupervisorState {
            deps,
            timeout_secs,
            children: HashMap::new(),
            budgets: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<HostSupervisorMsg>,
        msg: HostSupervisorMsg,
        st: &mut HostSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HostSupervisorMsg::EnsureHost { record, token_id, reply } => {
                let res = Self::ensure(&myself, st, record, token_id).await;
                if !reply.is_closed() {
                    let _ = reply.send(res);
                }
            }
            HostSupervisorMsg::StartAll { hosts, reply } => {
                let mut started = 0;
                for (record, token_id) in hosts {
                    match Self::ensure(&myself, st, record, token_id).await {
                        Ok(()) => started += 1,
                        Err(e) => tracing::error!(error = %e, "could not start a host actor"),
                    }
                }
                if !reply.is_closed() {
                    let _ = reply.send(started);
                }
            }
            HostSupervisorMsg::ApplyTimeout { timeout_secs } => {
                st.timeout_secs = timeout_secs;
                for id in st.children.values() {
                    if let Some(entry) = st.deps.registry.host(*id) {
                        let _ = entry.actor.cast(HostMsg::ApplyTimeout { timeout_secs });
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<HostSupervisorMsg>,
        event: SupervisionEvent,
        st: &mut HostSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(host_id) = st.children.remove(&cell.get_id()) else { return Ok(()) };
                let Some(entry) = st.deps.registry.host(host_id) else { return Ok(()) };
                let allowed = st.budgets.entry(host_id).or_default().try_restart(Instant::now());
                if !allowed {
                    tracing::error!(%host_id, error = %err, "host actor keeps failing; restart budget exhausted, giving up");
                    st.deps.registry.remove_host(host_id);
                    return Ok(());
                }
                tracing::warn!(%host_id, error = %err, "host actor failed; restarting it from the store");
                match Self::spawn_child(&myself, st, host_id, entry.live, None).await {
                    Ok(actor) => st.deps.registry.set_host_actor(host_id, actor),
                    Err(e) => {
                        tracing::error!(%host_id, error = %e, "could not restart host actor");
                        st.deps.registry.remove_host(host_id);
                    }
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(host_id) = st.children.remove(&cell.get_id()) {
                    st.deps.registry.remove_host(host_id);
                }
            }
            _ => {}
        }
        Ok(())
    }
}
