//! The Redis cache (fred). Every key carries the configured prefix. A failing command
//! falls back to an in-process cache and logs a warning, so a Redis outage weakens
//! cross-node sharing but never fails a request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::ExpireOptions;
use warden_actors::ports::{Cache, CacheError};

use super::MemoryCache;
use crate::config::RedisConfig;

/// A Redis-backed cache with an in-process fallback.
#[derive(Clone)]
pub struct RedisCache {
    pub(crate) client: Client,
    pub(crate) config: fred::types::config::Config,
    pub(crate) prefix: String,
    fallback: Arc<MemoryCache>,
}

impl RedisCache {
    /// Connects and pings, giving up after `connect_timeout_secs`.
    pub async fn connect(url: &str, cfg: &RedisConfig) -> Result<RedisCache, String> {
        let config = fred::types::config::Config::from_url(url).map_err(|e| e.to_string())?;
        let timeout = Duration::from_secs(cfg.connect_timeout_secs);
        let client = Builder::from_config(config.clone())
            .with_connection_config(|c| {
                c.connection_timeout = timeout;
                c.internal_command_timeout = timeout;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = timeout;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build()
            .map_err(|e| e.to_string())?;
        let ready = async {
            client.init().await?;
            client.ping::<String>(None).await
        };
        match tokio::time::timeout(timeout, ready).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let _ = client.quit().await;
                return Err(e.to_string());
            }
            Err(_) => {
                let _ = client.quit().await;
                return Err(format!("no answer within {} s", cfg.connect_timeout_secs));
            }
        }
        Ok(RedisCache {
            client,
            config,
            prefix: cfg.key_prefix.clone(),
            fallback: Arc::new(MemoryCache::default()),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub async fn close(&self) {
        let _ = self.client.quit().await;
    }

    async fn incr_remote(&self, key: &str, window_secs: u64) -> Result<(u64, u64), Error> {
        let key = self.key(key);
        let pipe = self.client.pipeline();
        let _: () = pipe.incr(&key).await?;
        // NX: only a new counter gets an expiry, so the window starts at the first hit.
        let _: () = pipe.expire(&key, window_secs as i64, Some(ExpireOptions::NX)).await?;
        let _: () = pipe.ttl(&key).await?;
        let (count, _, ttl): (i64, i64, i64) = pipe.all().await?;
        Ok((count.max(0) as u64, ttl.max(0) as u64))
    }

    async fn read_remote(&self, key: &str) -> Result<(u64, u64), Error> {
        let key = self.key(key);
        let pipe = self.client.pipeline();
        let _: () = pipe.get(&key).await?;
        let _: () = pipe.ttl(&key).await?;
        let (count, ttl): (Option<i64>, i64) = pipe.all().await?;
        match count {
            Some(c) if ttl > 0 => Ok((c.max(0) as u64, ttl as u64)),
            _ => Ok((0, 0)),
        }
    }
}

fn degraded(op: &str, err: &Error) {
    tracing::warn!(op, error = %err, "redis command failed; using the in-process cache");
}

#[async_trait]
impl Cache for RedisCache {
    async fn incr_window(&self, key: &str, window_secs: u64) -> Result<(u64, u64), CacheError> {
        match self.incr_remote(key, window_secs).await {
            Ok(v) => Ok(v),
            Err(e) => {
                degraded("incr", &e);
                Ok(self.fallback.incr_now(key, window_secs))
            }
        }
    }

    async fn read_window(&self, key: &str) -> Result<(u64, u64), CacheError> {
        match self.read_remote(key).await {
            Ok(v) => Ok(v),
            Err(e) => {
                degraded("get", &e);
                Ok(self.fallback.read_now(key))
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.fallback.delete_now(key);
        let res: Result<i64, Error> = self.client.del(self.key(key)).await;
        if let Err(e) = res {
            degraded("del", &e);
        }
        Ok(())
    }

    async fn set_nx(&self, key: &str, ttl_secs: u64) -> Result<bool, CacheError> {
        let expire = Some(fred::types::Expiration::EX(ttl_secs as i64));
        let res: Result<Option<String>, Error> = self
            .client
            .set(self.key(key), "1", expire, Some(fred::types::SetOptions::NX), false)
            .await;
        match res {
            Ok(reply) => Ok(reply.is_some()),
            Err(e) => {
                degraded("set nx", &e);
                Ok(self.fallback.set_nx_now(key, ttl_secs))
            }
        }
    }

    async fn set_value(&self, key: &str, value: String, ttl_secs: u64) -> Result<(), CacheError> {
        let expire = Some(fred::types::Expiration::EX(ttl_secs as i64));
        let res: Result<(), Error> =
            self.client.set(self.key(key), value.as_str(), expire, None, false).await;
        if let Err(e) = res {
            degraded("set", &e);
            self.fallback.set_now(key, value, ttl_secs);
        }
        Ok(())
    }

    async fn get_value(&self, key: &str) -> Result<Option<String>, CacheError> {
        match self.client.get::<Option<String>, _>(self.key(key)).await {
            Ok(v) => Ok(v),
            Err(e) => {
                degraded("get", &e);
                Ok(self.fallback.get_now(key))
            }
        }
    }

    async fn ping(&self) -> Result<(), CacheError> {
        self.client.ping::<String>(None).await.map(|_| ()).map_err(|e| CacheError(e.to_string()))
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
