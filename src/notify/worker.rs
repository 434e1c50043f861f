//! One channel's worker: a ractor actor that owns the channel's queue (rate limit,
//! retries with backoff) and sends one message at a time, so a slow or dead channel
//! only ever delays itself.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use warden_actors::clock::Clock;
use warden_actors::notify::queue::{ChannelQueue, Finish, Next, Queued};
use warden_actors::notify::retry::RetryPolicy;

use super::channel::{ChannelConfig, ChannelType};
use super::message::Message;
use super::transport::{Outcome, Transports};
use crate::storage::writer::{NotificationDone, Writer};
use crate::telemetry::metrics::NotifyMetrics;

pub enum WorkerMsg {
    /// Deliver an outbox row.
    Push(i64, Box<Message>),
    /// The channel's configuration or the retry policy changed.
    Configure(Arc<ChannelConfig>, RetryPolicy),
    Wake(u64),
    Done(Queued<Box<Message>>, Outcome),
}

pub struct WorkerArgs {
    pub channel_id: i64,
    pub channel_type: ChannelType,
    pub config: Arc<ChannelConfig>,
    pub policy: RetryPolicy,
    pub transports: Arc<Transports>,
    pub writer: Writer,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<NotifyMetrics>,
}

pub struct ChannelWorker;

pub struct WorkerState {
    args: WorkerArgs,
    queue: ChannelQueue<Box<Message>>,
    /// Generation of the armed wake-up timer; older timers are ignored.
    wake_gen: u64,
    wake_at: Option<tokio::time::Instant>,
}

impl Actor for ChannelWorker {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<WorkerMsg>,
        args: WorkerArgs,
    ) -> Result<WorkerState, ActorProcessingErr> {
        let queue = ChannelQueue::new(args.channel_type.rate_limits(), args.policy);
        Ok(WorkerState { args, queue, wake_gen: 0, wake_at: None })
    }

    async fn handle(
        &self,
        me: ActorRef<WorkerMsg>,
        msg: WorkerMsg,
        state: &mut WorkerState,
    ) -> Result<(), ActorProcessingErr> {
        let now = state.args.clock.now();
        match msg {
            WorkerMsg::Push(id, message) => state.queue.push(id, message, now),
            WorkerMsg::Configure(config, policy) => {
                state.args.config = config;
                state.queue.set_policy(policy);
            }
            WorkerMsg::Wake(generation) => {
                if generation != state.wake_gen {
                    return Ok(());
                }
                state.wake_at = None;
            }
            WorkerMsg::Done(entry, outcome) => finish(state, entry, outcome, now),
        }
        pump(&me, state);
        Ok(())
    }
}

fn finish(
    state: &mut WorkerState,
    entry: Queued<Box<Message>>,
    outcome: Outcome,
    now: chrono::DateTime<chrono::Utc>,
) {
    let id = entry.id;
    let (status, retries) =
        match state.queue.finish(entry, outcome.verdict, now, rand::random::<f64>()) {
            Finish::Sent { retries } => ("sent", retries),
            Finish::Failed { retries } => ("failed", retries),
            Finish::Retrying { at } => {
                tracing::info!(
                    channel_id = state.args.channel_id,
                    notification_id = id,
                    error = outcome.error.as_deref().unwrap_or(""),
                    retry_at = %at,
                    "notification attempt failed; will retry"
                );
                return;
            }
        };
    state.args.metrics.record(state.args.channel_type.as_str(), status == "sent");
    if status == "failed" {
        tracing::warn!(
            channel_id = state.args.channel_id,
            notification_id = id,
            error = outcome.error.as_deref().unwrap_or(""),
            retries,
            "notification failed"
        );
    }
    let done = NotificationDone {
        id,
        status,
        response_code: outcome.response_code,
        error: outcome.error,
        retries: i64::from(retries),
        external_id: outcome.external_id,
        sent_at: now,
    };
    let writer = state.args.writer.clone();
    tokio::spawn(async move {
        if let Err(e) = writer.notification_done(done).await {
            tracing::error!(notification_id = id, error = %e, "could not record a notification's outcome");
        }
    });
}

/// Starts the next send, or arms a timer for when one may go.
fn pump(me: &ActorRef<WorkerMsg>, state: &mut WorkerState) {
    match state.queue.next(state.args.clock.now()) {
        Next::Send(entry) => {
            let transports = Arc::clone(&state.args.transports);
            let config = Arc::clone(&state.args.config);
            let me = me.clone();
            tokio::spawn(async move {
                let outcome = transports.send(&config, &entry.item).await;
                let _ = me.cast(WorkerMsg::Done(entry, outcome));
            });
        }
        Next::Wait(delay) => arm(me, state, delay),
        Next::Busy | Next::Idle => {}
    }
}

fn arm(me: &ActorRef<WorkerMsg>, state: &mut WorkerState, delay: Duration) {
    let at = tokio::time::Instant::now() + delay;
    if state.wake_at.is_some_and(|armed| armed <= at) {
        return;
    }
    state.wake_gen += 1;
    state.wake_at = Some(at);
    let generation = state.wake_gen;
    let me = me.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(at).await;
        let _ = me.cast(WorkerMsg::Wake(generation));
    });
}
