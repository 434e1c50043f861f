//! What every host and service actor needs from the outside, shared by reference.

use std::sync::Arc;

use crate::broadcast::Broadcaster;
use crate::clock::Clock;
use crate::ports::{ActorStore, Cache, Prober};
use crate::registry::Registry;

/// The ports and shared structures actors are spawned with.
#[derive(Clone)]
pub struct ActorDeps {
    pub store: Arc<dyn ActorStore>,
    pub events: Broadcaster,
    pub clock: Arc<dyn Clock>,
    pub registry: Arc<Registry>,
    /// Runs server-side checks while `server_side_checks` is on.
    pub prober: Option<Arc<dyn Prober>>,
    /// The live value of the `server_side_checks` setting.
    pub server_side_checks: Arc<std::sync::atomic::AtomicBool>,
    /// A cache shared between nodes (Redis), when configured: latest metrics are
    /// written through to it and restored from it after a process restart.
    pub shared_cache: Option<Arc<dyn Cache>>,
}

/// The outside world the supervision tree is started with.
pub struct RuntimePorts {
    pub store: Arc<dyn ActorStore>,
    pub alerts: Arc<dyn crate::ports::AlertStore>,
    pub clock: Arc<dyn Clock>,
    pub prober: Option<Arc<dyn Prober>>,
    pub shared_cache: Option<Arc<dyn Cache>>,
}

/// The cache key of a host's latest metrics.
pub fn latest_metrics_key(host: crate::ids::HostId) -> String {
    format!("host:{host}:latest_metrics")
}

/// Runs a store operation up to three times with a short pause, so a passing
/// connection error does not lose a status transition.
pub(crate) async fn with_retry<T, F, Fut>(
    what: &str,
    mut op: F,
) -> Result<T, crate::ports::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::ports::StoreError>>,
{
    let mut last = None;
    for attempt in 0..3u64 {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                tracing::warn!(error = %e, attempt, what, "store operation failed; retrying");
                last = Some(e);
                tokio::time::sleep(std::time::Duration::from_millis(50 * (attempt + 1))).await;
            }
        }
    }
    Err(last.expect("three failed attempts leave an error"))
}
