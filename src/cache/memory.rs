//! The in-process cache: a map of windowed counters behind a mutex.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use warden_actors::ports::{Cache, CacheError};

/// Windowed counters for one process.
#[derive(Debug, Default)]
pub struct MemoryCache {
    counters: Mutex<HashMap<String, (u64, Instant)>>,
    values: Mutex<HashMap<String, (String, Instant)>>,
}

/// Above this many keys, expired ones are swept on the next write.
const SWEEP_ABOVE: usize = 10_000;

fn secs_left(expires: Instant, now: Instant) -> u64 {
    let left = expires.saturating_duration_since(now);
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

impl MemoryCache {
    /// Synchronous increment, also used by the Redis cache as its fallback.
    pub fn incr_now(&self, key: &str, window_secs: u64) -> (u64, u64) {
        let now = Instant::now();
        let mut map = self.counters.lock().expect("cache mutex is never poisoned");
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (_, expires)| *expires > now);
        }
        let entry =
            map.entry(key.to_string()).or_insert((0, now + Duration::from_secs(window_secs)));
        if entry.1 <= now {
            *entry = (0, now + Duration::from_secs(window_secs));
        }
        entry.0 += 1;
        (entry.0, secs_left(entry.1, now))
    }

    pub fn read_now(&self, key: &str) -> (u64, u64) {
        let now = Instant::now();
        let map = self.counters.lock().expect("cache mutex is never poisoned");
        match map.get(key) {
            Some((count, expires)) if *expires > now => (*count, secs_left(*expires, now)),
            _ => (0, 0),
        }
    }

    pub fn set_now(&self, key: &str, value: String, ttl_secs: u64) {
        let now = Instant::now();
        let mut map = self.values.lock().expect("cache mutex is never poisoned");
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, (_, expires)| *expires > now);
        }
        map.insert(key.to_string(), (value, now + Duration::from_secs(ttl_secs)));
    }

    pub fn set_nx_now(&self, key: &str, ttl_secs: u64) -> bool {
        let now = Instant::now();
        let mut map = self.values.lock().expect("cache mutex is never poisoned");
        if map.get(key).is_some_and(|(_, expires)| *expires > now) {
            return false;
        }
        map.insert(key.to_string(), (String::new(), now + Duration::from_secs(ttl_secs)));
        true
    }

    pub fn get_now(&self, key: &str) -> Option<String> {
        let map = self.values.lock().expect("cache mutex is never poisoned");
        map.get(key).filter(|(_, expires)| *expires > Instant::now()).map(|(v, _)| v.clone())
    }

    pub fn delete_now(&self, key: &str) {
        self.values.lock().expect("cache mutex is never poisoned").remove(key);
        self.counters.lock().expect("cache mutex is never poisoned").remove(key);
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn incr_window(&self, key: &str, window_secs: u64) -> Result<(u64, u64), CacheError> {
        Ok(self.incr_now(key, window_secs))
    }

    async fn read_window(&self, key: &str) -> Result<(u64, u64), CacheError> {
        Ok(self.read_now(key))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.delete_now(key);
        Ok(())
    }

    async fn set_nx(&self, key: &str, ttl_secs: u64) -> Result<bool, CacheError> {
        Ok(self.set_nx_now(key, ttl_secs))
    }

    async fn set_value(&self, key: &str, value: String, ttl_secs: u64) -> Result<(), CacheError> {
        self.set_now(key, value, ttl_secs);
        Ok(())
    }

    async fn get_value(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(self.get_now(key))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counters_count_within_a_window_and_can_be_cleared() {
        let cache = MemoryCache::default();
        assert_eq!(cache.read_window("k").await.unwrap(), (0, 0));
        assert_eq!(cache.incr_window("k", 300).await.unwrap().0, 1);
        let (count, left) = cache.incr_window("k", 300).await.unwrap();
        assert_eq!(count, 2);
        assert!(left > 0 && left <= 300);
        assert_eq!(cache.read_window("k").await.unwrap().0, 2);
        cache.delete("k").await.unwrap();
        assert_eq!(cache.read_window("k").await.unwrap(), (0, 0));
    }
}
