//! Alert rules and alerts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_actors::ids::{AlertId, RuleId};
use warden_actors::ports::{AlertStore, NewAlert, OpenAlert, StoreError};
use warden_actors::rule::state::RulePolicy;
use warden_actors::rule::{Operator, RuleConfig, RuleKind, SilenceWindow, TargetFilter};

use super::{is_unique_violation, page_bounds, with_pool, Db, Page};

/// A stored rule: its writable fields plus what only the store sets.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RuleRow {
    pub id: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub fields: RuleFields,
    pub is_builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const RULE_COLUMNS: &str = "id, name, description, rule_type, metric, operator, threshold, severity, \
     duration_seconds, cooldown_seconds, continuous_alert, silence_start, silence_end, target_type, target_filter, \
     log_keyword, log_level, log_service, db_metric_name, db_id, notification_channel_ids, is_builtin, is_enabled, \
     created_at, updated_at";

/// The writable fields of a rule (validated by the facade). The two JSON-text columns
/// are not serialised as text: the API renders them as JSON.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct RuleFields {
    pub name: String,
    pub description: Option<String>,
    pub rule_type: String,
    pub metric: Option<String>,
    pub operator: String,
    pub threshold: Option<f64>,
    pub severity: String,
    pub duration_seconds: i64,
    pub cooldown_seconds: i64,
    pub continuous_alert: bool,
    pub silence_start: Option<String>,
    pub silence_end: Option<String>,
    pub target_type: String,
    #[serde(skip)]
    pub target_filter: Option<String>,
    pub log_keyword: Option<String>,
    pub log_level: Option<String>,
    pub log_service: Option<String>,
    pub db_metric_name: Option<String>,
    pub db_id: Option<i64>,
    #[serde(skip)]
    pub notification_channel_ids: Option<String>,
    pub is_enabled: bool,
}

impl RuleFields {
    /// The rule as its actor runs it, or why the fields do not describe a rule
    /// (`(field, message)`).
    pub fn config(&self, id: i64) -> Result<RuleConfig, (&'static str, String)> {
        let kind = match self.rule_type.as_str() {
            "metric" => {
                let metric = self.metric.clone().ok_or(("metric", "Field required".to_string()))?;
                if !warden_actors::rule::HOST_METRICS.contains(&metric.as_str()) {
                    return Err(("metric", format!("unknown metric '{metric}'; one of {}", warden_actors::rule::HOST_METRICS.join(", "))));
                }
                RuleKind::Metric { metric }
            }
            "log_keyword" => RuleKind::LogKeyword {
                keyword: self.log_keyword.clone().filter(|k| !k.trim().is_empty()).ok_or(("log_keyword", "Field required".to_string()))?,
                level: self.log_level.clone(),
                service: self.log_service.clone(),
            },
            "db_metric" => RuleKind::DbMetric {
                name: self.db_metric_name.clone().filter(|k| !k.trim().is_empty()).ok_or(("db_metric_name", "Field required".to_string()))?,
                db_id: self.db_id,
            },
            "host_offline" => RuleKind::HostOffline,
            "service_down" => RuleKind::ServiceDown,
            other => {
                return Err(("rule_type", format!("rule_type must be metric, log_keyword, db_metric, host_offline or service_down (got '{other}')")))
            }
        };
        let needs_threshold = matches!(kind, RuleKind::Metric { .. } | RuleKind::DbMetric { .. });
        let threshold = match (self.threshold, needs_threshold) {
            (Some(t), _) if !t.is_finite() => {
                return Err(("threshold", "threshold must be a number".into()))
            }
            (Some(t), _) => t,
            (None, true) => return Err(("threshold", "Field required".into())),
            (None, false) => 0.0,
        };
        let operator: Operator = self.operator.parse().map_err(|e| ("operator", e))?;
        let silence = match (&self.silence_start, &self.silence_end) {
            (Some(s), Some(e)) => {
                Some(SilenceWindow::parse(s, e).map_err(|m| ("silence_start", m))?)
            }
            (None, None) => None,
            _ => return Err(("silence_end", "silence_start and silence_end go together".into())),
        };
        let filter: TargetFilter = match &self.target_filter {
            None => TargetFilter::default(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| ("target_filter", format!("target_filter is not valid: {e}")))?,
        };
        Ok(RuleConfig {
            id: RuleId(id),
            name: self.name.clone(),
            severity: self.severity.clone(),
            kind,
            operator,
            threshold,
            policy: RulePolicy {
                duration: chrono::Duration::seconds(self.duration_seconds),
                cooldown: chrono::Duration::seconds(self.cooldown_seconds),
                continuous: self.continuous_alert,
                silence,
            },
            filter,
            enabled: self.is_enabled,
        })
    }
}

/// A stored alert.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AlertRow {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub host_id: Option<i64>,
    pub service_id: Option<i64>,
    pub database_id: Option<i64>,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub message: Option<String>,
    pub metric_value: Option<f64>,
    pub threshold: Option<f64>,
    pub source: String,
    pub fingerprint: Option<String>,
    #[serde(skip)]
    pub labels: Option<String>,
    pub fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

const ALERT_COLUMNS: &str = "id, rule_id, host_id, service_id, database_id, severity, status, title, message, \
     metric_value, threshold, source, fingerprint, labels, fired_at, resolved_at, acknowledged_at, acknowledged_by, \
     created_at";

/// Alert list filters.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub host_id: Option<i64>,
}

/// A built-in rule: (name, type, metric, threshold, severity, duration).
type Builtin = (&'static str, &'static str, Option<&'static str>, Option<f64>, &'static str, i64);

/// Rules seeded at first start.
const BUILTIN: [Builtin; 5] = [
    ("主机离线", "host_offline", None, None, "critical", 0),
    ("服务异常", "service_down", None, None, "critical", 0),
    ("CPU 使用率过高", "metric", Some("cpu_percent"), Some(90.0), "warning", 300),
    ("内存使用率过高", "metric", Some("memory_percent"), Some(90.0), "warning", 300),
    ("磁盘使用率过高", "metric", Some("disk_percent"), Some(90.0), "critical", 300),
];

impl Db {
    /// Seeds the built-in rules once (when no built-in rule exists yet).
    pub async fn seed_builtin_rules(&self, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let n: i64 = with_pool!(self, pool =>
            sqlx::query_scalar("SELECT COUNT(*) FROM alert_rules WHERE is_builtin = TRUE").fetch_one(pool).await)?;
        if n > 0 {
            return Ok(());
        }
        for (name, kind, metric, threshold, severity, duration) in BUILTIN {
            let f = RuleFields {
                name: name.into(),
                rule_type: kind.into(),
                metric: metric.map(str::to_string),
                operator: ">".into(),
                threshold,
                severity: severity.into(),
                duration_seconds: duration,
                cooldown_seconds: 300,
                target_type: if kind == "service_down" { "service".into() } else { "host".into() },
                is_enabled: true,
                ..RuleFields::default()
            };
            self.insert_rule(&f, true, now).await?;
        }
        Ok(())
    }

    async fn insert_rule(
        &self,
        f: &RuleFields,
        builtin: bool,
        now: DateTime<Utc>,
    ) -> Result<RuleRow, sqlx::Error> {
        let sql = format!(
            "INSERT INTO alert_rules (name, description, rule_type, metric, operator, threshold, severity, \
             duration_seconds, cooldown_seconds, continuous_alert, silence_start, silence_end, target_type, \
             target_filter, log_keyword, log_level, log_service, db_metric_name, db_id, notification_channel_ids, \
             is_builtin, is_enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23) RETURNING {RULE_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&f.name).bind(&f.description).bind(&f.rule_type).bind(&f.metric).bind(&f.operator)
            .bind(f.threshold).bind(&f.severity).bind(f.duration_seconds).bind(f.cooldown_seconds)
            .bind(f.continuous_alert).bind(&f.silence_start).bind(&f.silence_end).bind(&f.target_type)
            .bind(&f.target_filter).bind(&f.log_keyword).bind(&f.log_level).bind(&f.log_service)
            .bind(&f.db_metric_name).bind(f.db_id).bind(&f.notification_channel_ids).bind(builtin)
            .bind(f.is_enabled).bind(now)
            .fetch_one(pool).await)
    }

    pub async fn create_rule(
        &self,
        f: &RuleFields,
        now: DateTime<Utc>,
    ) -> Result<RuleRow, sqlx::Error> {
        self.insert_rule(f, false, now).await
    }

    pub async fn update_rule(
        &self,
        id: i64,
        f: &RuleFields,
        now: DateTime<Utc>,
    ) -> Result<Option<RuleRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE alert_rules SET name = $2, description = $3, rule_type = $4, metric = $5, operator = $6, \
             threshold = $7, severity = $8, duration_seconds = $9, cooldown_seconds = $10, continuous_alert = $11, \
             silence_start = $12, silence_end = $13, target_type = $14, target_filter = $15, log_keyword = $16, \
             log_level = $17, log_service = $18, db_metric_name = $19, db_id = $20, notification_channel_ids = $21, \
             is_enabled = $22, updated_at = $23 WHERE id = $1 RETURNING {RULE_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).bind(&f.name).bind(&f.description).bind(&f.rule_type).bind(&f.metric).bind(&f.operator)
            .bind(f.threshold).bind(&f.severity).bind(f.duration_seconds).bind(f.cooldown_seconds)
            .bind(f.continuous_alert).bind(&f.silence_start).bind(&f.silence_end).bind(&f.target_type)
            .bind(&f.target_filter).bind(&f.log_keyword).bind(&f.log_level).bind(&f.log_service)
            .bind(&f.db_metric_name).bind(f.db_id).bind(&f.notification_channel_ids).bind(f.is_enabled).bind(now)
            .fetch_optional(pool).await)
    }

    pub async fn rule_by_id(&self, id: i64) -> Result<Option<RuleRow>, sqlx::Error> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn list_rules(&self, enabled: Option<bool>) -> Result<Vec<RuleRow>, sqlx::Error> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE ($1 IS NULL OR is_enabled = $1) ORDER BY id");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(enabled).fetch_all(pool).await)
    }

    pub async fn delete_rule(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM alert_rules WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() == 1))
    }

    /// Resolves every open alert of a rule (it was disabled or deleted).
    pub async fn resolve_rule_alerts(
        &self,
        rule_id: i64,
        at: DateTime<Utc>,
    ) -> Result<u64, sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE alerts SET status = 'resolved', resolved_at = $2 WHERE rule_id = $1 AND status <> 'resolved'")
            .bind(rule_id).bind(at).execute(pool).await.map(|r| r.rows_affected()))
    }

    pub async fn alert_by_id(&self, id: i64) -> Result<Option<AlertRow>, sqlx::Error> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn list_alerts(
        &self,
        f: &AlertFilter,
        page: u32,
        page_size: u32,
    ) -> Result<Page<AlertRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let filter = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR severity = $2) AND ($3 IS NULL OR host_id = $3)";
        let count_sql = format!("SELECT COUNT(*) FROM alerts WHERE {filter}");
        let list_sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE {filter} ORDER BY fired_at DESC, id DESC LIMIT $4 OFFSET $5");
        with_pool!(self, pool => {
            let total = sqlx::query_scalar(&count_sql)
                .bind(&f.status).bind(&f.severity).bind(f.host_id).fetch_one(pool).await?;
            let items = sqlx::query_as(&list_sql)
                .bind(&f.status).bind(&f.severity).bind(f.host_id).bind(limit).bind(offset)
                .fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    /// Marks a firing alert acknowledged; `Err(status)` when it is not firing.
    pub async fn acknowledge_alert(
        &self,
        id: i64,
        user_id: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<AlertRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2 \
             WHERE id = $1 AND status = 'firing' RETURNING {ALERT_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(user_id).bind(at).fetch_optional(pool).await)
    }

    /// (total alerts, open alerts, alerts fired since `since`).
    pub async fn alert_counts(&self, since: DateTime<Utc>) -> Result<(i64, i64, i64), sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status <> 'resolved' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN fired_at >= $1 THEN 1 ELSE 0 END), 0) FROM alerts")
            .bind(since).fetch_one(pool).await)
    }

    /// Alerts fired per hour since `since` (hours as Unix seconds).
    pub async fn hourly_alerts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64)>, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => sqlx::query_as(
                "SELECT (CAST(strftime('%s', fired_at) AS INTEGER) / 3600) * 3600 AS h, COUNT(*) FROM alerts \
                 WHERE fired_at >= $1 GROUP BY h").bind(since).fetch_all(pool).await,
            Db::Postgres(pool) => sqlx::query_as(
                "SELECT (FLOOR(EXTRACT(EPOCH FROM fired_at) / 3600) * 3600)::BIGINT AS h, COUNT(*) FROM alerts \
                 WHERE fired_at >= $1 GROUP BY 1").bind(since).fetch_all(pool).await,
        }
    }
}

/// An alert from an outside system (Alertmanager), keyed by its fingerprint.
#[derive(Debug, Clone)]
pub struct ExternalAlert {
    pub fingerprint: String,
    pub host_id: Option<i64>,
    pub severity: String,
    pub title: String,
    pub message: Option<String>,
    pub labels: String,
    pub fired_at: DateTime<Utc>,
}

impl Db {
    /// The host whose name or address is `name`, if any.
    pub async fn host_id_by_name_or_ip(&self, name: &str) -> Result<Option<i64>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM hosts WHERE hostname = $1 OR ip_address = $1 OR private_ip = $1 OR public_ip = $1 \
             ORDER BY id LIMIT 1").bind(name).fetch_optional(pool).await)
    }

    /// Opens the external alert, or refreshes the open one with the same fingerprint.
    /// Returns the alert id and whether it is new.
    pub async fn upsert_external_alert(
        &self,
        a: &ExternalAlert,
        now: DateTime<Utc>,
    ) -> Result<(i64, bool), sqlx::Error> {
        let inserted: Result<i64, sqlx::Error> = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO alerts (rule_id, target_key, host_id, severity, status, title, message, source, fingerprint, \
             labels, fired_at, created_at) VALUES (NULL, $1, $2, $3, 'firing', $4, $5, 'alertmanager', $6, $7, $8, $9) \
             RETURNING id")
            .bind(format!("am:{}", a.fingerprint)).bind(a.host_id).bind(&a.severity).bind(&a.title).bind(&a.message)
            .bind(&a.fingerprint).bind(&a.labels).bind(a.fired_at).bind(now)
            .fetch_one(pool).await);
        match inserted {
            Ok(id) => Ok((id, true)),
            Err(e) if is_unique_violation(&e) => {
                let id: i64 = with_pool!(self, pool => sqlx::query_scalar(
                    "UPDATE alerts SET severity = $2, title = $3, message = $4, labels = $5 \
                     WHERE fingerprint = $1 AND status <> 'resolved' RETURNING id")
                    .bind(&a.fingerprint).bind(&a.severity).bind(&a.title).bind(&a.message).bind(&a.labels)
                    .fetch_one(pool).await)?;
                Ok((id, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Resolves the open external alert with this fingerprint; its id, if there was one.
    pub async fn resolve_external_alert(
        &self,
        fingerprint: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "UPDATE alerts SET status = 'resolved', resolved_at = $2 WHERE fingerprint = $1 AND status <> 'resolved' \
             RETURNING id").bind(fingerprint).bind(at).fetch_optional(pool).await)
    }
}

/// The [`AlertStore`] port over [`Db`].
pub struct DbAlertStore(pub Db);

fn err(e: sqlx::Error) -> StoreError {
    StoreError(e.to_string())
}

#[async_trait]
impl AlertStore for DbAlertStore {
    async fn open_alert(&self, a: &NewAlert) -> Result<Option<AlertId>, StoreError> {
        let res: Result<i64, sqlx::Error> = with_pool!(&self.0, pool => sqlx::query_scalar(
            "INSERT INTO alerts (rule_id, target_key, host_id, service_id, database_id, severity, status, title, \
             message, metric_value, threshold, source, fired_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'firing', $7, $8, $9, $10, 'rule', $11, $11) RETURNING id")
            .bind(a.rule_id.0).bind(&a.target).bind(a.host_id.map(|h| h.0)).bind(a.service_id.map(|s| s.0))
            .bind(a.database_id).bind(&a.severity).bind(&a.title).bind(&a.message).bind(a.metric_value)
            .bind(a.threshold).bind(a.fired_at)
            .fetch_one(pool).await);
        match res {
            Ok(id) => Ok(Some(AlertId(id))),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn resolve_alert(
        &self,
        rule: RuleId,
        target: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<AlertId>, StoreError> {
        let id: Option<i64> = with_pool!(&self.0, pool => sqlx::query_scalar(
            "UPDATE alerts SET status = 'resolved', resolved_at = $3 \
             WHERE rule_id = $1 AND target_key = $2 AND status <> 'resolved' RETURNING id")
            .bind(rule.0).bind(target).bind(at).fetch_optional(pool).await)
        .map_err(err)?;
        Ok(id.map(AlertId))
    }

    async fn open_alerts(&self, rule: RuleId) -> Result<Vec<OpenAlert>, StoreError> {
        let rows: Vec<(i64, String, DateTime<Utc>)> = with_pool!(&self.0, pool => sqlx::query_as(
            "SELECT id, target_key, fired_at FROM alerts WHERE rule_id = $1 AND status <> 'resolved'")
            .bind(rule.0).fetch_all(pool).await)
        .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|(id, target, fired_at)| OpenAlert { id: AlertId(id), target, fired_at })
            .collect())
    }
}
