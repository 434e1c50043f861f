//! Fan-out of [`LiveEvent`]s to WebSocket/SSE subscribers and other listeners. A slow
//! subscriber misses events (it is told how many) rather than slowing the actors.

use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{broadcast, mpsc};

use crate::model::LiveEvent;

/// Events a lagging subscriber may fall behind by.
const CAPACITY: usize = 8192;

/// The broadcaster; cheap to clone.
#[derive(Debug, Clone)]
pub struct Broadcaster {
    tx: broadcast::Sender<LiveEvent>,
    /// The lossless lane for notices ([`LiveEvent::is_notice`]): the broadcast drops
    /// events for a lagging subscriber, and a dropped alert would be a lost notification.
    notices: Arc<NoticeLane>,
}

#[derive(Debug, Default)]
struct NoticeLane {
    tx: OnceLock<mpsc::UnboundedSender<LiveEvent>>,
    /// Notices emitted before the dispatcher took the lane, handed over when it does.
    early: Mutex<Vec<LiveEvent>>,
}

impl Default for Broadcaster {
    fn default() -> Self {
        Broadcaster { tx: broadcast::channel(CAPACITY).0, notices: Arc::default() }
    }
}

impl NoticeLane {
    fn send(&self, event: LiveEvent) {
        if let Some(lane) = self.tx.get() {
            let _ = lane.send(event);
            return;
        }
        // Checked again under the lock `take_notices` holds while it opens the lane.
        let mut early = self.early.lock().unwrap_or_else(|e| e.into_inner());
        match self.tx.get() {
            Some(lane) => {
                let _ = lane.send(event);
            }
            None => early.push(event),
        }
    }
}

impl Broadcaster {
    /// Sends to every current subscriber; never blocks.
    pub fn emit(&self, event: LiveEvent) {
        if event.is_notice() {
            self.notices.send(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Takes the lossless notice lane (once; later calls get `None`). Notices emitted
    /// before this call are queued on it first.
    pub fn take_notices(&self) -> Option<mpsc::UnboundedReceiver<LiveEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut early = self.notices.early.lock().unwrap_or_else(|e| e.into_inner());
        for event in early.drain(..) {
            let _ = tx.send(event);
        }
        self.notices.tx.set(tx).ok()?;
        Some(rx)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }
}
