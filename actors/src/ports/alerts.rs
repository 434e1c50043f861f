//! The alert store port: what rule actors need to record alerts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::store::StoreError;
use crate::ids::{AlertId, HostId, RuleId, ServiceId};

/// An alert to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub rule_id: RuleId,
    pub target: String,
    pub host_id: Option<HostId>,
    pub service_id: Option<ServiceId>,
    pub database_id: Option<i64>,
    pub severity: String,
    pub title: String,
    pub message: String,
    pub metric_value: Option<f64>,
    pub threshold: Option<f64>,
    pub fired_at: DateTime<Utc>,
}

/// An open alert of a rule, for restoring its state.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAlert {
    pub id: AlertId,
    pub target: String,
    pub fired_at: DateTime<Utc>,
}

#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// Opens an alert. `None` when the rule already has an open alert for the target
    /// (the store enforces one), so a retried open never duplicates.
    async fn open_alert(&self, alert: &NewAlert) -> Result<Option<AlertId>, StoreError>;

    /// Resolves the rule's open alert for the target; `None` when there is none.
    async fn resolve_alert(
        &self,
        rule: RuleId,
        target: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<AlertId>, StoreError>;

    /// The rule's open (firing or acknowledged) alerts.
    async fn open_alerts(&self, rule: RuleId) -> Result<Vec<OpenAlert>, StoreError>;
}
