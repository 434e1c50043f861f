//! The one helper every write uses to record an audit entry.

use serde_json::Value;

use super::extract::ClientIp;
use super::state::AppState;
use crate::storage::audit::AuditEntry;

/// An audit entry being built.
pub struct Audit {
    user_id: Option<i64>,
    action: &'static str,
    resource_type: &'static str,
    resource_id: Option<i64>,
    detail: Option<Value>,
    ip: Option<String>,
}

impl Audit {
    pub fn new(user_id: Option<i64>, action: &'static str, resource_type: &'static str) -> Self {
        Audit { user_id, action, resource_type, resource_id: None, detail: None, ip: None }
    }

    pub fn resource(mut self, id: i64) -> Self {
        self.resource_id = Some(id);
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn ip(mut self, ip: &ClientIp) -> Self {
        self.ip = ip.0.clone();
        self
    }
}

/// Records the entry. The action it describes has already happened, so a failure is
/// logged at error level rather than turned into a failed response.
pub async fn audit(state: &AppState, entry: Audit) {
    let row = AuditEntry {
        user_id: entry.user_id,
        action: entry.action,
        resource_type: entry.resource_type,
        resource_id: entry.resource_id,
        detail: entry.detail.map(|d| d.to_string()),
        ip_address: entry.ip,
    };
    if let Err(e) = state.db.record_audit(&row, state.clock.now()).await {
        tracing::error!(error = %e, action = entry.action, "could not record audit entry");
    }
}
