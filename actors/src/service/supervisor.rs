//! Spawns service actors on demand and at start-up and restarts failed ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::actor::{ServiceActor, ServiceArgs};
use super::messages::ServiceMsg;
use crate::deps::ActorDeps;
use crate::ids::ServiceId;
use crate::model::ServiceRecord;
use crate::registry::ServiceEntry;
use crate::supervision::RestartBudget;

/// Messages of the service supervisor.
pub enum ServiceSupervisorMsg {
    /// Makes sure an actor runs for the service; an existing one is told the (possibly
    /// new) check interval. Replies once the actor is registered.
    EnsureService { record: ServiceRecord, reply: RpcReplyPort<Result<(), String>> },
    /// Start-up: spawns an actor for every stored service.
    StartAll { services: Vec<ServiceRecord>, reply: RpcReplyPort<usize> },
}

pub struct ServiceSupervisor;

pub struct ServiceSupervisorState {
    deps: ActorDeps,
    children: HashMap<ActorId, ServiceId>,
    budgets: HashMap<ServiceId, RestartBudget>,
}

impl ServiceSupervisor {
    async fn spawn_child(
        myself: &ActorRef<ServiceSupervisorMsg>,
        st: &mut ServiceSupervisorState,
        service_id: ServiceId,
        record: Option<ServiceRecord>,
    ) -> Result<ActorRef<ServiceMsg>, String> {
        let args = ServiceArgs { service_id, deps: st.deps.clone(), record };
        let (actor, _) = Actor::spawn_linked(None, ServiceActor, args, myself.get_cell())
            .await
            .map_err(|e| format!("could not start the actor of service {service_id}: {e}"))?;
        st.children.insert(actor.get_id(), service_id);
        Ok(actor)
    }

    async fn ensure(
        myself: &ActorRef<ServiceSupervisorMsg>,
        st: &mut ServiceSupervisorState,
        record: ServiceRecord,
    ) -> Result<(), String> {
        let registry = Arc::clone(&st.deps.registry);
        if let Some(entry) = registry.service(record.id) {
            let _ = entry
                .actor
                .cast(ServiceMsg::ApplyInterval { interval_secs: record.check_interval_secs });
            return Ok(());
        }
        let (id, host_id) = (record.id, record.host_id);
        let actor = Self::spawn_child(myself, st, id, Some(record)).await?;
        registry.put_service(id, ServiceEntry { actor, host_id });
        Ok(())
    }
}

impl Actor for ServiceSupervisor {
    type Msg = ServiceSupervisorMsg;
    type State = ServiceSupervisorState;
    type Arguments = ActorDeps;

    async fn pre_start(
        &self,
        _myself: ActorRef<ServiceSupervisorMsg>,
        deps: ActorDeps,
    ) -> Result<ServiceSupervisorState, ActorProcessingErr> {
        Ok(ServiceSupervisorState { deps, children: HashMap::new(), budgets: HashMap::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<ServiceSupervisorMsg>,
        msg: ServiceSupervisorMsg,
        st: &mut ServiceSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ServiceSupervisorMsg::EnsureService { record, reply } => {
                let res = Self::ensure(&myself, st, record).await;
                if !reply.is_closed() {
                    let _ = reply.send(res);
                }
            }
            ServiceSupervisorMsg::StartAll { services, reply } => {
                let mut started = 0;
                for record in services {
                    match Self::ensure(&myself, st, record).await {
                        Ok(()) => started += 1,
                        Err(e) => tracing::error!(error = %e, "could not start a service actor"),
                    }
                }
                if !reply.is_closed() {
                    let _ = reply.send(started);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<ServiceSupervisorMsg>,
        event: SupervisionEvent,
        st: &mut ServiceSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(service_id) = st.children.remove(&cell.get_id()) else { return Ok(()) };
                if !st.budgets.entry(service_id).or_default().try_restart(Instant::now()) {
                    tracing::error!(%service_id, error = %err, "service actor keeps failing; restart budget exhausted, giving up");
                    st.deps.registry.remove_service(service_id);
                    return Ok(());
                }
                tracing::warn!(%service_id, error = %err, "service actor failed; restarting it from the store");
                match Self::spawn_child(&myself, st, service_id, None).await {
                    Ok(actor) => st.deps.registry.set_service_actor(service_id, actor),
                    Err(e) => {
                        tracing::error!(%service_id, error = %e, "could not restart service actor");
                        st.deps.registry.remove_service(service_id);
                    }
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(service_id) = st.children.remove(&cell.get_id()) {
                    st.deps.registry.remove_service(service_id);
                }
            }
            _ => {}
        }
        Ok(())
    }
}
