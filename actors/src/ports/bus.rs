//! The event bus: notifications between components (and, with Redis, between nodes)
//! that something changed and interested owners should reload.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Something that happened and that other components may react to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusEvent {
    /// Runtime settings were written; owners reload them from the store. Sent by the
    /// settings API after the new values are committed.
    SettingsChanged,
    /// A user was changed, disabled or deleted; cached credentials must be dropped.
    UserChanged { user_id: i64 },
    /// An agent token was revoked; cached lookups must be dropped.
    AgentTokenRevoked { token_id: i64 },
}

/// Publishes events to every subscriber on this node and, when configured, others.
pub trait EventBus: Send + Sync + 'static {
    /// Sends `event`; delivery is best effort and never blocks.
    fn publish(&self, event: BusEvent);

    /// A receiver of every event published from now on.
    fn subscribe(&self) -> broadcast::Receiver<BusEvent>;
}
