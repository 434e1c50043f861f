//! The event bus: a local broadcast channel, mirrored through Redis pub/sub when Redis
//! is configured so other nodes hear about changes too. Local subscribers always get
//! an event at once; a node ignores its own events coming back from Redis.

use std::sync::Arc;

use fred::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use warden_actors::ports::{BusEvent, EventBus};

use super::RedisCache;

/// How many events a slow subscriber may fall behind before it misses some.
const CAPACITY: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Envelope {
    node: String,
    event: BusEvent,
}

struct RemoteBus {
    client: Client,
    channel: String,
    node: String,
}

/// The event bus.
pub struct Bus {
    tx: broadcast::Sender<BusEvent>,
    remote: Option<Arc<RemoteBus>>,
}

impl Bus {
    /// A bus for this process only.
    pub fn local() -> Bus {
        Bus { tx: broadcast::channel(CAPACITY).0, remote: None }
    }

    /// A bus mirrored through Redis pub/sub. If the subscription cannot be set up the
    /// bus stays local and says so.
    pub async fn with_redis(redis: &RedisCache) -> Bus {
        let tx = broadcast::channel(CAPACITY).0;
        let node = uuid::Uuid::new_v4().to_string();
        let channel = format!("{}bus", redis.prefix);
        let subscriber = match Builder::from_config(redis.config.clone()).build_subscriber_client()
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not build the redis subscriber; bus is local only");
                return Bus { tx, remote: None };
            }
        };
        let setup = async {
            subscriber.init().await?;
            subscriber.subscribe(channel.clone()).await?;
            Ok::<_, Error>(())
        };
        if let Err(e) = setup.await {
            tracing::warn!(error = %e, "could not subscribe to the redis bus; bus is local only");
            return Bus { tx, remote: None };
        }
        // Resubscribe after reconnects.
        drop(subscriber.manage_subscriptions()); // detached task, ends with the client
        let mut messages = subscriber.message_rx();
        let local = tx.clone();
        let me = node.clone();
        tokio::spawn(async move {
            let _keep_alive = subscriber;
            while let Ok(message) = messages.recv().await {
                let Some(text) = message.value.as_string() else {
                    continue;
                };
                match serde_json::from_str::<Envelope>(&text) {
                    Ok(env) if env.node != me => {
                        let _ = local.send(env.event);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed bus message"),
                }
            }
        });
        let remote = RemoteBus { client: redis.client.clone(), channel, node };
        Bus { tx, remote: Some(Arc::new(remote)) }
    }
}

impl EventBus for Bus {
    fn publish(&self, event: BusEvent) {
        let _ = self.tx.send(event.clone());
        if let Some(remote) = &self.remote {
            let remote = Arc::clone(remote);
            tokio::spawn(async move {
                let env = Envelope { node: remote.node.clone(), event };
                let payload = serde_json::to_string(&env).expect("bus events serialise");
                let res: Result<i64, Error> = remote.client.publish(&remote.channel, payload).await;
                if let Err(e) = res {
                    tracing::warn!(error = %e, "could not publish to the redis bus; other nodes miss this event");
                }
            });
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.tx.subscribe()
    }
}
