//! The cache and the event bus: in-process by default, Redis (through fred) when
//! `redis.url` / `REDIS_URL` is set. Losing Redis degrades to local behaviour; the
//! database stays the source of truth.

mod bus;
mod memory;
mod redis;

use std::sync::Arc;

use warden_actors::ports::{Cache, EventBus};

pub use bus::Bus;
pub use memory::MemoryCache;
pub use redis::RedisCache;

use crate::config::Config;

/// The cache and bus the application runs with, and whether Redis backs them.
pub struct CacheStack {
    pub cache: Arc<dyn Cache>,
    pub bus: Arc<dyn EventBus>,
    /// `None` when Redis is not configured; `Some(false)` when configured but unreachable
    /// at start (running degraded).
    pub redis_connected: Option<bool>,
    redis: Option<RedisCache>,
}

impl CacheStack {
    /// Builds the stack from configuration. With Redis configured and unreachable this
    /// fails when `redis.required` is set, and otherwise runs on the in-process stack.
    pub async fn connect(config: &Config) -> anyhow::Result<CacheStack> {
        let Some(url) = config.redis_url() else {
            return Ok(Self::local());
        };
        match RedisCache::connect(url, &config.redis).await {
            Ok(redis) => {
                let bus = Bus::with_redis(&redis).await;
                tracing::info!(backend = "redis", "cache and bus ready");
                Ok(CacheStack {
                    cache: Arc::new(redis.clone()),
                    bus: Arc::new(bus),
                    redis_connected: Some(true),
                    redis: Some(redis),
                })
            }
            Err(err) if config.redis.required => Err(anyhow::anyhow!(
                "redis at {} is unreachable: {err}",
                crate::config::redact(url)
            )),
            Err(err) => {
                tracing::warn!(
                    error = %err,
                    "redis is unreachable; running with the in-process cache and bus (set redis.required = true to refuse)"
                );
                let mut stack = Self::local();
                stack.redis_connected = Some(false);
                Ok(stack)
            }
        }
    }

    /// The in-process stack.
    pub fn local() -> CacheStack {
        CacheStack {
            cache: Arc::new(MemoryCache::default()),
            bus: Arc::new(Bus::local()),
            redis_connected: None,
            redis: None,
        }
    }

    /// Closes Redis connections, if any.
    pub async fn close(&self) {
        if let Some(redis) = &self.redis {
            redis.close().await;
        }
    }
}
