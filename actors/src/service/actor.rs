//! The service actor: owns one service's status and its check deadline.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::messages::ServiceMsg;
use super::state::{ServiceEffect, ServiceState};
use crate::deps::{with_retry, ActorDeps};
use crate::ids::{HostId, ServiceId};
use crate::model::{HostStatus, LiveEvent, ServiceRecord, ServiceStatus};
use crate::sla::{SlaEffect, SlaTracker};

pub struct ServiceActor;

#[derive(Clone)]
pub struct ServiceArgs {
    pub service_id: ServiceId,
    pub deps: ActorDeps,
    pub record: Option<ServiceRecord>,
}

pub struct ServiceActorState {
    record: ServiceRecord,
    probing: bool,
    service_id: ServiceId,
    host_id: HostId,
    machine: ServiceState,
    deps: ActorDeps,
    /// The error budget of the service's SLA rule, when it has one.
    sla: Option<SlaTracker>,
}

/// Loads the service's SLA standing; a store failure leaves it untracked (logged).
async fn load_sla(deps: &ActorDeps, id: crate::ids::ServiceId) -> Option<SlaTracker> {
    let (store, now) = (Arc::clone(&deps.store), deps.clock.now());
    match with_retry("load sla", || store.sla_snapshot(id, now)).await {
        Ok(snapshot) => snapshot.map(|s| SlaTracker::new(s.rule, s.tz, s.standing)),
        Err(e) => {
            tracing::error!(service_id = %id, error = %e, "could not load the service's SLA standing");
            None
        }
    }
}

impl ServiceActor {
    /// Feeds a check (or a concluded status) to the SLA tracker and records what it finds.
    async fn track_sla(
        &self,
        st: &mut ServiceActorState,
        status: ServiceStatus,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        let up = match status {
            ServiceStatus::Up => true,
            ServiceStatus::Down => false,
            _ => return,
        };
        let Some(tracker) = st.sla.as_mut() else { return };
        for effect in tracker.observe(up, at) {
            let description = match &effect {
                SlaEffect::ViolationStarted { down_secs, budget_secs, .. } => format!(
                    "{} 在 {} 窗口内停机 {:.1} 分钟,超出错误预算 {:.1} 分钟 (目标 {}%)",
                    st.machine.name,
                    tracker.rule.window.as_str(),
                    down_secs / 60.0,
                    budget_secs / 60.0,
                    tracker.rule.target_percent
                ),
                SlaEffect::ViolationEnded { .. } => String::new(),
            };
            let (store, id, now) = (Arc::clone(&st.deps.store), st.service_id, st.deps.clock.now());
            if let Err(e) = with_retry("record sla violation", || {
                store.record_sla(id, &effect, &description, now)
            })
            .await
            {
                tracing::error!(service_id = %id, error = %e, "could not record an SLA violation");
            }
        }
    }

    async fn apply(
        &self,
        myself: &ActorRef<ServiceMsg>,
        st: &mut ServiceActorState,
        effects: Vec<ServiceEffect>,
    ) {
        for effect in effects {
            match effect {
                ServiceEffect::StatusChanged { status, error, at } => {
                    self.track_sla(st, status, at).await;
                    let (store, id) = (Arc::clone(&st.deps.store), st.service_id);
                    let err = error.clone();
                    if let Err(e) = with_retry("set service status", || {
                        store.set_service_status(id, status, err.as_deref(), at)
                    })
                    .await
                    {
                        tracing::error!(service_id = %id, %status, error = %e, "could not persist service status");
                    }
                    tracing::info!(service_id = %id, name = %st.machine.name, %status, "service status changed");
                    st.deps.events.emit(LiveEvent::ServiceStatusChanged {
                        service_id: id,
                        host_id: st.host_id,
                        name: st.machine.name.to_string(),
                        status,
                        error,
                        at,
                    });
                }
                ServiceEffect::ScheduleDeadline { after, generation } => {
                    drop(
                        myself.send_after(after, move || ServiceMsg::DeadlinePassed { generation }),
                    );
                }
            }
        }
    }
}

impl Actor for ServiceActor {
    type Msg = ServiceMsg;
    type State = ServiceActorState;
    type Arguments = ServiceArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ServiceMsg>,
        args: ServiceArgs,
    ) -> Result<ServiceActorState, ActorProcessingErr> {
        let record = match args.record {
            Some(r) => r,
            None => {
                let (store, id) = (Arc::clone(&args.deps.store), args.service_id);
                with_retry("load service", || store.load_service(id))
                    .await?
                    .ok_or_else(|| format!("service {id} no longer exists"))?
            }
        };
        let (machine, effects) = ServiceState::restore(&record, args.deps.clock.now());
        // Server-side checks run on the service's own interval; the timer dies with us.
        let every = std::time::Duration::from_secs(record.check_interval_secs.max(1));
        drop(myself.send_interval(every, || ServiceMsg::ProbeDue));
        let mut st = ServiceActorState {
            service_id: args.service_id,
            host_id: record.host_id,
            record,
            probing: false,
            machine,
            sla: load_sla(&args.deps, args.service_id).await,
            deps: args.deps,
        };
        self.apply(&myself, &mut st, effects).await;
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<ServiceMsg>,
        msg: ServiceMsg,
        st: &mut ServiceActorState,
    ) -> Result<(), ActorProcessingErr> {
        let now = st.deps.clock.now();
        match msg {
            ServiceMsg::RecordCheck { status, error, at } => {
                let at = at.max(now - chrono::Duration::seconds(1)).min(now);
                let effects = st.machine.on_check(status, error, at);
                self.apply(&myself, st, effects).await;
                // Every check counts: a long outage breaks the budget between changes.
                self.track_sla(st, status, at).await;
            }
            ServiceMsg::ProbeDue => {
                let on = st.deps.server_side_checks.load(std::sync::atomic::Ordering::Relaxed);
                if let (true, false, Some(prober)) = (on, st.probing, st.deps.prober.clone()) {
                    st.probing = true;
                    let (store, id, me) =
                        (Arc::clone(&st.deps.store), st.service_id, myself.clone());
                    let (kind, target) = (st.record.kind.clone(), st.record.target.clone());
                    let timeout = std::time::Duration::from_secs(st.record.timeout_secs);
                    let clock = Arc::clone(&st.deps.clock);
                    // Off the mailbox: a slow target must not hold up check results.
                    tokio::spawn(async move {
                        let result = prober.probe(&kind, &target, timeout).await;
                        let at = clock.now();
                        if let Some(r) = &result {
                            let stored = store
                                .record_check(
                                    id,
                                    r.status,
                                    r.response_time_ms,
                                    r.status_code,
                                    r.error.as_deref(),
                                    at,
                                )
                                .await;
                            if let Err(e) = stored {
                                tracing::warn!(service_id = %id, error = %e, "could not store a server-side check");
                            }
                        }
                        let _ = me.cast(ServiceMsg::ProbeCompleted { result, at });
                    });
                }
            }
            ServiceMsg::ProbeCompleted { result, at } => {
                st.probing = false;
                if let Some(r) = result {
                    let status = r.status;
                    let effects = st.machine.on_check(r.status, r.error, at);
                    self.apply(&myself, st, effects).await;
                    self.track_sla(st, status, at).await;
                }
            }
            ServiceMsg::ApplyInterval { interval_secs } => {
                st.record.check_interval_secs = interval_secs;
                let effects = st.machine.apply_interval(interval_secs, now);
                self.apply(&myself, st, effects).await;
            }
            ServiceMsg::DeadlinePassed { generation } => {
                let online = st
                    .deps
                    .registry
                    .host(st.host_id)
                    .is_some_and(|h| h.live.status() == HostStatus::Online);
                let effects = st.machine.on_deadline(generation, now, online);
                self.apply(&myself, st, effects).await;
            }
            ServiceMsg::ReloadSla => {
                st.sla = load_sla(&st.deps, st.service_id).await;
            }
            ServiceMsg::GetStatus(reply) => {
                if !reply.is_closed() {
                    let _ = reply.send(st.machine.status);
                }
            }
            #[cfg(feature = "testkit")]
            ServiceMsg::Crash => {
                return Err(format!("service {} was told to crash", st.service_id).into())
            }
        }
        Ok(())
    }
}
