//! SLA rules, the checks their availability is computed from, and violations.

use chrono::{DateTime, Utc};
use warden_actors::sla::Check;

use super::{is_unique_violation, with_pool, Db};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlaRuleRow {
    pub id: i64,
    pub service_id: i64,
    pub name: String,
    pub target_percent: f64,
    pub calculation_window: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub service_name: String,
}

const RULE_SELECT: &str = "SELECT r.id, r.service_id, r.name, r.target_percent, r.calculation_window, \
    r.created_at, r.updated_at, s.name AS service_name FROM sla_rules r JOIN services s ON s.id = r.service_id";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ViolationRow {
    pub id: i64,
    pub sla_rule_id: i64,
    pub service_id: i64,
    pub service_name: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i64>,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl Db {
    pub async fn list_sla_rules(&self) -> Result<Vec<SlaRuleRow>, sqlx::Error> {
        let sql = format!("{RULE_SELECT} ORDER BY r.id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn sla_rule_for_service(
        &self,
        service_id: i64,
    ) -> Result<Option<SlaRuleRow>, sqlx::Error> {
        let sql = format!("{RULE_SELECT} WHERE r.service_id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(service_id).fetch_optional(pool).await)
    }

    /// Creates a rule; `Ok(None)` when the service already has one.
    pub async fn create_sla_rule(
        &self,
        service_id: i64,
        name: &str,
        target_percent: f64,
        window: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        let result = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO sla_rules (service_id, name, target_percent, calculation_window, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id")
            .bind(service_id).bind(name).bind(target_percent).bind(window).bind(now).fetch_one(pool).await);
        match result {
            Err(e) if is_unique_violation(&e) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Deletes a rule; the service it was for, `None` when there was no such rule.
    pub async fn delete_sla_rule(&self, id: i64) -> Result<Option<i64>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar("DELETE FROM sla_rules WHERE id = $1 RETURNING service_id")
            .bind(id).fetch_optional(pool).await)
    }

    /// The service's checks in `[from, to)`, oldest first, and the state of the last
    /// check before `from`.
    pub async fn checks_between(
        &self,
        service_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Option<bool>, Vec<Check>), sqlx::Error> {
        let (prior, rows): (Option<String>, Vec<(DateTime<Utc>, String)>) = with_pool!(self, pool => {
            let prior: Option<String> = sqlx::query_scalar(
                "SELECT status FROM service_checks WHERE service_id = $1 AND checked_at < $2 \
                 ORDER BY checked_at DESC, id DESC LIMIT 1")
                .bind(service_id).bind(from).fetch_optional(pool).await?;
            let rows = sqlx::query_as(
                "SELECT checked_at, status FROM service_checks WHERE service_id = $1 AND checked_at >= $2 \
                 AND checked_at < $3 ORDER BY checked_at, id")
                .bind(service_id).bind(from).bind(to).fetch_all(pool).await?;
            (prior, rows)
        });
        let checks =
            rows.into_iter().map(|(at, status)| Check { at, up: status == "up" }).collect();
        Ok((prior.map(|s| s == "up"), checks))
    }

    /// Violations whose start falls in `[from, to)` (either bound optional), newest first.
    pub async fn list_violations(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        service_id: Option<i64>,
    ) -> Result<Vec<ViolationRow>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT v.id, v.sla_rule_id, v.service_id, s.name AS service_name, v.started_at, v.ended_at, \
             v.duration_seconds, v.description, v.created_at FROM sla_violations v JOIN services s ON s.id = v.service_id \
             WHERE ($1 IS NULL OR v.started_at >= $1) AND ($2 IS NULL OR v.started_at < $2) \
             AND ($3 IS NULL OR v.service_id = $3) ORDER BY v.started_at DESC, v.id DESC LIMIT 1000")
            .bind(from).bind(to).bind(service_id).fetch_all(pool).await)
    }

    /// Records the start of a violation (once per rule and start).
    pub async fn open_violation(
        &self,
        rule_id: i64,
        service_id: i64,
        started_at: DateTime<Utc>,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO sla_violations (sla_rule_id, service_id, started_at, description, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sla_rule_id, started_at) DO NOTHING")
            .bind(rule_id).bind(service_id).bind(started_at).bind(description).bind(now)
            .execute(pool).await.map(|_| ()))
    }

    /// Ends the rule's open violation, if any.
    pub async fn close_violation(
        &self,
        rule_id: i64,
        ended_at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let open: Option<(i64, DateTime<Utc>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, started_at FROM sla_violations WHERE sla_rule_id = $1 AND ended_at IS NULL \
             ORDER BY started_at DESC LIMIT 1")
            .bind(rule_id).fetch_optional(pool).await)?;
        let Some((id, started)) = open else { return Ok(()) };
        let secs = (ended_at - started).num_seconds().max(0);
        with_pool!(self, pool => sqlx::query(
            "UPDATE sla_violations SET ended_at = $2, duration_seconds = $3 WHERE id = $1")
            .bind(id).bind(ended_at).bind(secs).execute(pool).await.map(|_| ()))
    }

    /// The start of the rule's open violation, if one is open.
    pub async fn open_violation_start(
        &self,
        rule_id: i64,
    ) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "SELECT started_at FROM sla_violations WHERE sla_rule_id = $1 AND ended_at IS NULL \
             ORDER BY started_at DESC LIMIT 1")
            .bind(rule_id).fetch_optional(pool).await)
    }

    /// The stored `report_timezone` setting (the catalog default when unset).
    pub async fn report_timezone(&self) -> Result<warden_actors::sla::Tz, sqlx::Error> {
        let stored: Option<String> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT value FROM settings WHERE key = 'report_timezone'").fetch_optional(pool).await)?;
        Ok(stored
            .as_deref()
            .or_else(|| warden_actors::settings::spec("report_timezone").map(|s| s.default))
            .and_then(|v| v.parse().ok())
            .unwrap_or(warden_actors::sla::Tz::UTC))
    }
}
