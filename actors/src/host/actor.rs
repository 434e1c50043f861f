//! The host actor: owns one host's status, heartbeat deadline, latest metrics and agent
//! connection. Transitions come from [`HostState`]; this file performs their effects.

use std::sync::Arc;

use chrono::Duration;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc;

use super::messages::{HostMsg, HostView};
use super::state::{HostEffect, HostState};
use crate::deps::{with_retry, ActorDeps};
use crate::ids::HostId;
use crate::live::HostLive;
use crate::model::{HostRecord, LiveEvent};

pub struct HostActor;

/// How long latest metrics stay in the shared cache without a new report.
const LATEST_METRICS_TTL_SECS: u64 = 7 * 24 * 3600;

/// Spawn arguments; kept by the supervisor to respawn the actor after a failure.
#[derive(Clone)]
pub struct HostArgs {
    pub host_id: HostId,
    pub deps: ActorDeps,
    pub live: Arc<HostLive>,
    pub timeout_secs: u64,
    /// The stored record when the spawner already has it (start-up, registration);
    /// `None` makes the actor load it.
    pub record: Option<HostRecord>,
}

pub struct HostActorState {
    host_id: HostId,
    machine: HostState,
    live: Arc<HostLive>,
    deps: ActorDeps,
    agent: Option<(u64, mpsc::UnboundedSender<String>)>,
    partitions_saved: Option<chrono::DateTime<chrono::Utc>>,
}

impl HostActor {
    async fn apply(
        &self,
        myself: &ActorRef<HostMsg>,
        st: &mut HostActorState,
        effects: Vec<HostEffect>,
    ) {
        for effect in effects {
            match effect {
                HostEffect::StatusChanged { status, at } => {
                    // Persist first, so no reader sees a status the store does not have.
                    let (store, id) = (Arc::clone(&st.deps.store), st.host_id);
                    if let Err(e) =
                        with_retry("set host status", || store.set_host_status(id, status, at))
                            .await
                    {
                        tracing::error!(host_id = %id, %status, error = %e, "could not persist host status");
                    }
                    st.live.set_status(status);
                    tracing::info!(host_id = %id, hostname = %st.machine.hostname, %status, "host status changed");
                    st.deps.events.emit(LiveEvent::HostStatusChanged {
                        host_id: id,
                        hostname: st.machine.hostname.to_string(),
                        status,
                        at,
                    });
                }
                HostEffect::ScheduleDeadline { after, generation } => {
                    // Detached: a timer outliving this actor sends to a dead ref and is dropped.
                    drop(myself.send_after(after, move || HostMsg::DeadlinePassed { generation }));
                }
                HostEffect::PersistLastSeen(at) => st.deps.store.record_last_seen(st.host_id, at),
            }
        }
    }
}

impl Actor for HostActor {
    type Msg = HostMsg;
    type State = HostActorState;
    type Arguments = HostArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<HostMsg>,
        args: HostArgs,
    ) -> Result<HostActorState, ActorProcessingErr> {
        let record = match args.record {
            Some(r) => r,
            None => {
                let (store, id) = (Arc::clone(&args.deps.store), args.host_id);
                with_retry("load host", || store.load_host(id))
                    .await?
                    .ok_or_else(|| format!("host {id} no longer exists"))?
            }
        };
        let now = args.deps.clock.now();
        let (machine, effects) =
            HostState::restore(&record, Duration::seconds(args.timeout_secs as i64), now);
        args.live.set_status(machine.status);
        if let Some(hb) = machine.last_heartbeat {
            if args.live.last_seen().is_none_or(|seen| seen < hb) {
                args.live.set_last_seen(hb);
            }
        }
        args.live.set_agent_connected(false);
        if let (None, Some(cache)) = (args.live.metrics(), &args.deps.shared_cache) {
            // After a process restart, the latest metrics come back from the shared cache.
            if let Ok(Some(json)) =
                cache.get_value(&crate::deps::latest_metrics_key(args.host_id)).await
            {
                if let Ok(m) = serde_json::from_str::<crate::model::MetricsSnapshot>(&json) {
                    args.live.set_metrics(Arc::new(m));
                }
            }
        }
        let mut st = HostActorState {
            host_id: args.host_id,
            machine,
            live: args.live,
            deps: args.deps,
            agent: None,
            partitions_saved: None,
        };
        self.apply(&myself, &mut st, effects).await;
        Ok(st)
    }

    async fn handle(
        &self,
        myself: ActorRef<HostMsg>,
        msg: HostMsg,
        st: &mut HostActorState,
    ) -> Result<(), ActorProcessingErr> {
        let now = st.deps.clock.now();
        match msg {
            HostMsg::RecordHeartbeat { at } => {
                st.live.set_last_seen(at);
                let effects = st.machine.on_heartbeat(at.max(now));
                self.apply(&myself, st, effects).await;
            }
            HostMsg::RecordMetrics { metrics, partitions } => {
                if let Some(cache) = st.deps.shared_cache.clone() {
                    let key = crate::deps::latest_metrics_key(st.host_id);
                    let json = serde_json::to_string(&*metrics).unwrap_or_default();
                    // Write-through, best effort: the live view is authoritative here.
                    tokio::spawn(async move {
                        let _ = cache.set_value(&key, json, LATEST_METRICS_TTL_SECS).await;
                    });
                }
                st.live.set_metrics(metrics);
                if let Some(json) = partitions {
                    // Partitions change slowly: persist when they differ from what was
                    // last written, at most once a minute.
                    let due = st
                        .partitions_saved
                        .is_none_or(|t| now - t >= chrono::Duration::seconds(60));
                    let changed = st.live.partitions().as_deref() != Some(&*json);
                    if changed && due {
                        st.deps.store.record_partitions(st.host_id, Arc::clone(&json));
                        st.partitions_saved = Some(now);
                    }
                    st.live.set_partitions(json);
                }
                st.live.set_last_seen(now);
                let effects = st.machine.on_heartbeat(now);
                self.apply(&myself, st, effects).await;
                if let Some(metrics) = st.live.metrics() {
                    st.deps
                        .events
                        .emit(LiveEvent::MetricsRecorded { host_id: st.host_id, metrics });
                }
            }
            HostMsg::ApplyTimeout { timeout_secs } => {
                let effects = st.machine.apply_timeout(Duration::seconds(timeout_secs as i64), now);
                self.apply(&myself, st, effects).await;
            }
            HostMsg::DeadlinePassed { generation } => {
                let effects = st.machine.on_deadline(generation, now);
                self.apply(&myself, st, effects).await;
            }
            HostMsg::AgentConnected { connection, sender } => {
                st.agent = Some((connection, sender));
                st.live.set_agent_connected(true);
                st.deps
                    .events
                    .emit(LiveEvent::AgentPresence { host_id: st.host_id, connected: true });
            }
            HostMsg::AgentDisconnected { connection } => {
                if st.agent.as_ref().is_some_and(|(c, _)| *c == connection) {
                    st.agent = None;
                    st.live.set_agent_connected(false);
                    st.deps
                        .events
                        .emit(LiveEvent::AgentPresence { host_id: st.host_id, connected: false });
                }
            }
            HostMsg::SendToAgent { text, reply } => {
                let sent = st.agent.as_ref().is_some_and(|(_, tx)| tx.send(text).is_ok());
                if !reply.is_closed() {
                    let _ = reply.send(sent);
                }
            }
            HostMsg::GetStatus(reply) => {
                if !reply.is_closed() {
                    let _ = reply.send(HostView {
                        status: st.machine.status,
                        last_heartbeat: st.machine.last_heartbeat,
                        agent_connected: st.agent.is_some(),
                    });
                }
            }
            #[cfg(feature = "testkit")]
            HostMsg::Crash => return Err(format!("host {} was told to crash", st.host_id).into()),
        }
        Ok(())
    }
}
