//! Notification channels, templates and the outbox / delivery log.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{with_pool, BeginWrite, Db};
use crate::notify::template::BUILTINS;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub channel_type: String,
    /// JSON object, secrets included: never returned as is.
    pub config: String,
    pub is_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ChannelFields {
    pub name: String,
    pub channel_type: String,
    pub config: String,
    pub is_enabled: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TemplateRow {
    pub id: i64,
    pub name: String,
    pub channel_type: String,
    pub kind: String,
    pub locale: Option<String>,
    pub title_template: Option<String>,
    pub body_template: String,
    pub is_default: bool,
    pub is_builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TemplateFields {
    pub name: String,
    pub channel_type: String,
    pub kind: String,
    pub title_template: Option<String>,
    pub body_template: String,
    pub is_default: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub channel_id: i64,
    pub alert_id: Option<i64>,
    pub run_id: Option<i64>,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub response_code: Option<i64>,
    pub error: Option<String>,
    pub retries: i64,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const CHANNEL_COLUMNS: &str = "id, name, channel_type, config, is_enabled, created_at, updated_at";
const TEMPLATE_COLUMNS: &str =
    "id, name, channel_type, kind, locale, title_template, body_template, is_default, \
                                is_builtin, created_at, updated_at";
const NOTIFICATION_COLUMNS: &str =
    "id, channel_id, alert_id, run_id, kind, payload, status, response_code, error, \
                                    retries, external_id, created_at, sent_at";

impl Db {
    pub async fn list_channels(&self) -> Result<Vec<ChannelRow>, sqlx::Error> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels ORDER BY id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn channel_by_id(&self, id: i64) -> Result<Option<ChannelRow>, sqlx::Error> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn create_channel(
        &self,
        f: &ChannelFields,
        now: DateTime<Utc>,
    ) -> Result<ChannelRow, sqlx::Error> {
        let sql = format!(
            "INSERT INTO notification_channels (name, channel_type, config, is_enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING {CHANNEL_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&f.name).bind(&f.channel_type).bind(&f.config).bind(f.is_enabled).bind(now)
            .fetch_one(pool).await)
    }

    pub async fn update_channel(
        &self,
        id: i64,
        f: &ChannelFields,
        now: DateTime<Utc>,
    ) -> Result<Option<ChannelRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE notification_channels SET name = $2, channel_type = $3, config = $4, is_enabled = $5, \
             updated_at = $6 WHERE id = $1 RETURNING {CHANNEL_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).bind(&f.name).bind(&f.channel_type).bind(&f.config).bind(f.is_enabled).bind(now)
            .fetch_optional(pool).await)
    }

    pub async fn delete_channel(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM notification_channels WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() == 1))
    }

    /// Seeds the built-in templates that are missing (by channel type, kind and locale).
    pub async fn seed_builtin_templates(&self, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let existing: Vec<(String, String, Option<String>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT channel_type, kind, locale FROM notification_templates WHERE is_builtin = TRUE")
            .fetch_all(pool).await)?;
        for b in BUILTINS {
            let present = existing.iter().any(|(c, k, l)| {
                c == b.channel_type && k == b.kind && l.as_deref() == Some(b.locale)
            });
            if present {
                continue;
            }
            with_pool!(self, pool => sqlx::query(
                "INSERT INTO notification_templates (name, channel_type, kind, locale, title_template, body_template, \
                 is_default, is_builtin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, FALSE, TRUE, $7, $7)")
                .bind(b.name).bind(b.channel_type).bind(b.kind).bind(b.locale).bind(b.title).bind(b.body).bind(now)
                .execute(pool).await.map(drop))?;
        }
        Ok(())
    }

    pub async fn list_templates(&self) -> Result<Vec<TemplateRow>, sqlx::Error> {
        let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM notification_templates ORDER BY id DESC");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn template_by_id(&self, id: i64) -> Result<Option<TemplateRow>, sqlx::Error> {
        let sql = format!("SELECT {TEMPLATE_COLUMNS} FROM notification_templates WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    /// Creates (`id` None) or updates a template; marking it default clears the default
    /// of the other templates of its channel type and kind, in the same transaction.
    pub async fn save_template(
        &self,
        id: Option<i64>,
        f: &TemplateFields,
        now: DateTime<Utc>,
    ) -> Result<Option<TemplateRow>, sqlx::Error> {
        let insert = format!(
            "INSERT INTO notification_templates (name, channel_type, kind, title_template, body_template, is_default, \
             is_builtin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $7) RETURNING {TEMPLATE_COLUMNS}"
        );
        let update = format!(
            "UPDATE notification_templates SET name = $2, channel_type = $3, kind = $4, title_template = $5, \
             body_template = $6, is_default = $7, updated_at = $8 WHERE id = $1 RETURNING {TEMPLATE_COLUMNS}"
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if f.is_default {
                sqlx::query("UPDATE notification_templates SET is_default = FALSE \
                             WHERE channel_type = $1 AND kind = $2 AND is_default AND ($3 IS NULL OR id <> $3)")
                    .bind(&f.channel_type).bind(&f.kind).bind(id).execute(&mut *tx).await?;
            }
            let row = match id {
                None => Some(sqlx::query_as(&insert)
                    .bind(&f.name).bind(&f.channel_type).bind(&f.kind).bind(&f.title_template)
                    .bind(&f.body_template).bind(f.is_default).bind(now)
                    .fetch_one(&mut *tx).await?),
                Some(id) => sqlx::query_as(&update)
                    .bind(id).bind(&f.name).bind(&f.channel_type).bind(&f.kind).bind(&f.title_template)
                    .bind(&f.body_template).bind(f.is_default).bind(now)
                    .fetch_optional(&mut *tx).await?,
            };
            tx.commit().await?;
            Ok(row)
        })
    }

    pub async fn delete_template(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM notification_templates WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() == 1))
    }

    /// Finished deliveries, newest first.
    pub async fn notification_logs(
        &self,
        alert_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<NotificationRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE status <> 'pending' \
             AND ($1 IS NULL OR alert_id = $1) ORDER BY sent_at DESC, id DESC LIMIT $2"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(alert_id).bind(limit).fetch_all(pool).await)
    }

    /// Outbox rows not yet finished, oldest first (sent again after a restart).
    pub async fn pending_notifications(&self) -> Result<Vec<NotificationRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE status = 'pending' ORDER BY id"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    /// Approval requests sent for a run, with the platform message id to update.
    pub async fn sent_approval_cards(
        &self,
        run_id: i64,
    ) -> Result<Vec<NotificationRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE run_id = $1 AND kind = 'approval_requested' \
             AND status = 'sent' AND external_id IS NOT NULL ORDER BY id"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(run_id).fetch_all(pool).await)
    }

    /// What an alert notification says about its alert: the alert, its host and rule.
    pub async fn alert_context(&self, alert_id: i64) -> Result<Option<AlertContext>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.rule_id, a.severity, a.status, a.title, a.message, a.metric_value, a.threshold, \
             a.fired_at, a.resolved_at, h.hostname, h.ip_address, r.name AS rule_name, r.metric, \
             r.notification_channel_ids \
             FROM alerts a LEFT JOIN hosts h ON h.id = a.host_id LEFT JOIN alert_rules r ON r.id = a.rule_id \
             WHERE a.id = $1")
            .bind(alert_id).fetch_optional(pool).await)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertContext {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub message: Option<String>,
    pub metric_value: Option<f64>,
    pub threshold: Option<f64>,
    pub fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub hostname: Option<String>,
    pub ip_address: Option<String>,
    pub rule_name: Option<String>,
    pub metric: Option<String>,
    pub notification_channel_ids: Option<String>,
}
