//! Fan-out of [`LiveEvent`]s to WebSocket/SSE subscribers and other listeners. A slow
//! subscriber misses events (it is told how many) rather than slowing the actors.

use tokio::sync::broadcast;

use crate::model::LiveEvent;

/// Events a lagging subscriber may fall behind by.
const CAPACITY: usize = 8192;

/// The broadcaster; cheap to clone.
#[derive(Debug, Clone)]
pub struct Broadcaster {
    tx: broadcast::Sender<LiveEvent>,
}

impl Default for Broadcaster {
    fn default() -> Self {
        Broadcaster { tx: broadcast::channel(CAPACITY).0 }
    }
}

impl Broadcaster {
    /// Sends to every current subscriber; never blocks.
    pub fn emit(&self, event: LiveEvent) {
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}
