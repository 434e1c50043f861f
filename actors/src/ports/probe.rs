//! The probe port: a server-side http/tcp check of a service, for when its agent is
//! gone (setting `server_side_checks`).

use std::time::Duration;

use async_trait::async_trait;

use crate::model::ServiceStatus;

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    pub status: ServiceStatus,
    pub response_time_ms: Option<f64>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

#[async_trait]
pub trait Prober: Send + Sync + 'static {
    /// Checks `target` the way its `kind` says (`http`/`https`: a GET that must answer
    /// 2xx/3xx; `tcp`: a connection), within `timeout`. `None` when the kind cannot be
    /// checked from the server (the agent's own check types).
    async fn probe(&self, kind: &str, target: &str, timeout: Duration) -> Option<ProbeResult>;
}
