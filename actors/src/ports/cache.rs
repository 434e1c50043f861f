//! The cache port: short-lived shared state (counters with a window today; latest
//! metrics and dedup keys later). Redis when configured, otherwise in-process.

use async_trait::async_trait;

/// A cache operation failed; callers degrade rather than fail the request.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheError(pub String);

/// Counters and keys with expiry, shared by every node when backed by Redis.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// Adds one to the counter at `key`. A new counter starts a window of `window_secs`;
    /// returns the count after the increment and the seconds left in the window.
    async fn incr_window(&self, key: &str, window_secs: u64) -> Result<(u64, u64), CacheError>;

    /// The counter at `key` and the seconds left in its window; `(0, 0)` when absent.
    async fn read_window(&self, key: &str) -> Result<(u64, u64), CacheError>;

    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;

    /// Sets `key` for `ttl_secs` unless it exists; true when this call set it (the
    /// first of several deliveries).
    async fn set_nx(&self, key: &str, ttl_secs: u64) -> Result<bool, CacheError>;

    /// Stores a value under `key` for `ttl_secs`.
    async fn set_value(&self, key: &str, value: String, ttl_secs: u64) -> Result<(), CacheError>;

    /// The value under `key`, if present and not expired.
    async fn get_value(&self, key: &str) -> Result<Option<String>, CacheError>;

    /// A round trip to the backing store, for health reporting.
    async fn ping(&self) -> Result<(), CacheError>;

    /// `memory` or `redis`.
    fn backend(&self) -> &'static str;
}
