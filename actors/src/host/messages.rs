//! Messages a host actor understands.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;
use tokio::sync::mpsc;

use crate::model::{HostStatus, MetricsSnapshot};

/// What a caller learns from [`HostMsg::GetStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostView {
    pub status: HostStatus,
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub agent_connected: bool,
}

/// Messages of the host actor.
pub enum HostMsg {
    /// An agent heartbeat was accepted (sent by the facade; cast).
    RecordHeartbeat { at: DateTime<Utc> },
    /// A metrics report was committed (sent by the facade after the writer's commit;
    /// cast). Counts as a sign of life.
    RecordMetrics { metrics: Arc<MetricsSnapshot>, partitions: Option<Arc<str>> },
    /// The `heartbeat_timeout` setting changed (sent by the supervisor; cast).
    ApplyTimeout { timeout_secs: u64 },
    /// The deadline timer fired; may be stale (ignored unless `generation` is current).
    DeadlinePassed { generation: u64 },
    /// The agent opened its WebSocket; the actor keeps the sender to push commands.
    AgentConnected { connection: u64, sender: mpsc::UnboundedSender<String> },
    /// The agent's WebSocket closed; ignored unless `connection` is the current one.
    AgentDisconnected { connection: u64 },
    /// Sends a text frame to the agent; replies false when no agent is connected.
    SendToAgent { text: String, reply: RpcReplyPort<bool> },
    /// The current status (call).
    GetStatus(RpcReplyPort<HostView>),
    /// Makes the actor fail, to exercise supervision (test builds only).
    #[cfg(feature = "testkit")]
    Crash,
}
