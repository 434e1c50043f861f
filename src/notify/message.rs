//! A message rendered for one channel, as the outbox stores it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a message is about (stored as `notifications.kind`).
pub mod kind {
    pub const ALERT_FIRED: &str = "alert_fired";
    pub const ALERT_REPEAT: &str = "alert_repeat";
    pub const ALERT_ACKNOWLEDGED: &str = "alert_acknowledged";
    pub const ALERT_RESOLVED: &str = "alert_resolved";
    pub const APPROVAL_REQUESTED: &str = "approval_requested";
    pub const REMEDIATION_FINISHED: &str = "remediation_finished";
    pub const REPORT_READY: &str = "report_ready";
    pub const TEST: &str = "test";

    /// The template kind used for a message kind.
    pub fn template_kind(kind: &str) -> &'static str {
        match kind {
            APPROVAL_REQUESTED => "approval",
            REMEDIATION_FINISHED => "remediation",
            REPORT_READY => "report",
            _ => "alert",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub alert_id: Option<i64>,
    #[serde(default)]
    pub run_id: Option<i64>,
    /// The template variables, for webhook bodies and card buttons.
    #[serde(default)]
    pub vars: Map<String, Value>,
}

impl Message {
    /// Whether this message asks someone to approve a remediation run.
    pub fn is_approval(&self) -> bool {
        self.kind == kind::APPROVAL_REQUESTED && self.run_id.is_some()
    }

    /// The JSON body a generic webhook receives.
    pub fn webhook_body(&self) -> Value {
        serde_json::json!({
            "source": "warden",
            "event": self.kind,
            "title": self.title,
            "message": self.body,
            "severity": self.severity,
            "status": self.status,
            "alert_id": self.alert_id,
            "run_id": self.run_id,
            "data": self.vars,
        })
    }
}
