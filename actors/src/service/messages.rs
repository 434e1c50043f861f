//! Messages a service actor understands.

use chrono::{DateTime, Utc};
use ractor::RpcReplyPort;

use crate::model::ServiceStatus;

/// Messages of the service actor.
pub enum ServiceMsg {
    /// A check result was committed (sent by the facade after the writer's commit).
    RecordCheck { status: ServiceStatus, error: Option<String>, at: DateTime<Utc> },
    /// The service was re-registered with this check interval.
    ApplyInterval { interval_secs: u64 },
    /// The check deadline fired; may be stale.
    DeadlinePassed { generation: u64 },
    /// Time to run a server-side probe (periodic; ignored while the setting is off).
    ProbeDue,
    /// A server-side probe finished and its check row is stored.
    ProbeCompleted { result: Option<crate::ports::ProbeResult>, at: DateTime<Utc> },
    /// The service's SLA rule was created or deleted: reload it from the store.
    ReloadSla,
    /// The current status (call).
    GetStatus(RpcReplyPort<ServiceStatus>),
    /// Makes the actor fail, to exercise supervision (test builds only).
    #[cfg(feature = "testkit")]
    Crash,
}
