//! Incidents: the life of one problem, from the alert that raised it to its resolution.
//!
//! Statuses and what moves them:
//!
//! ```text
//! open ──run waits for approval──> awaiting_approval ──approved──> executing ─┬─> resolved
//!  │                                      │ rejected / expired → escalated    └─ failed → escalated
//!  ├──run executes at once──> executing
//!  ├──alert resolved──> resolved (auto_recovered)
//!  └──run blocked──> escalated
//! ```
//!
//! A new alert with the fingerprint of an incident that is not resolved adds a
//! `duplicate_alert` event to it instead of opening another.

pub mod parse;
pub mod rules;

/// Every incident status, in display order.
pub const STATUSES: [&str; 6] =
    ["open", "diagnosing", "awaiting_approval", "executing", "resolved", "escalated"];

/// Timeline event types (seed 001).
pub mod event {
    pub const ALERT_RECEIVED: &str = "alert_received";
    pub const DUPLICATE_ALERT: &str = "duplicate_alert";
    pub const DIAGNOSIS_STARTED: &str = "diagnosis_started";
    pub const TOOL_CALL: &str = "tool_call";
    pub const DIAGNOSIS_COMPLETED: &str = "diagnosis_completed";
    pub const DIAGNOSIS_CONFIRMED: &str = "diagnosis_confirmed";
    pub const DIAGNOSIS_REJECTED: &str = "diagnosis_rejected";
    pub const PROPOSAL_CREATED: &str = "proposal_created";
    pub const APPROVAL_REQUESTED: &str = "approval_requested";
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    pub const EXECUTION_STARTED: &str = "execution_started";
    pub const EXECUTION_COMPLETED: &str = "execution_completed";
    pub const INCIDENT_RESOLVED: &str = "incident_resolved";
    pub const INCIDENT_ESCALATED: &str = "incident_escalated";
}
