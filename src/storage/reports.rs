//! Operations reports: claims, stored results, and the period queries a report is built
//! from.

use chrono::{DateTime, Utc};

use super::{page_bounds, with_pool, Db, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub id: i64,
    pub title: String,
    pub report_type: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub timezone: String,
    pub status: String,
    pub summary: String,
    pub content: String,
    pub body: String,
    pub engine: String,
    pub scheduled: bool,
    pub generated_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, title, report_type, period_start, period_end, timezone, status, summary, content, body, \
    engine, scheduled, generated_by, created_at, completed_at";

/// A report to start.
#[derive(Debug, Clone)]
pub struct NewReport<'a> {
    pub title: &'a str,
    pub report_type: &'a str,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub timezone: &'a str,
    pub generated_by: Option<i64>,
}

/// An alert fired in a period, as a report counts it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PeriodAlert {
    pub severity: String,
    pub title: String,
    pub rule_name: Option<String>,
    pub fired_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Mean resource use of one host over a period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostUsage {
    pub host_id: i64,
    pub hostname: String,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub disk: Option<f64>,
}

impl Db {
    /// Claims a scheduled period: the new report's id, `None` when it is taken.
    pub async fn claim_report(
        &self,
        r: &NewReport<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO reports (title, report_type, period_start, period_end, timezone, status, scheduled, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'generating', TRUE, $6) \
             ON CONFLICT (report_type, period_start) WHERE scheduled DO NOTHING RETURNING id")
            .bind(r.title).bind(r.report_type).bind(r.period_start).bind(r.period_end).bind(r.timezone).bind(now)
            .fetch_optional(pool).await)
    }

    /// Starts a report someone asked for.
    pub async fn create_report(
        &self,
        r: &NewReport<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO reports (title, report_type, period_start, period_end, timezone, status, scheduled, generated_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, 'generating', FALSE, $6, $7) RETURNING id")
            .bind(r.title).bind(r.report_type).bind(r.period_start).bind(r.period_end).bind(r.timezone)
            .bind(r.generated_by).bind(now).fetch_one(pool).await)
    }

    /// Re-claims scheduled reports still generating since before `stale_before` (their
    /// generator died); the ids now owned by the caller.
    pub async fn take_over_stale_reports(
        &self,
        stale_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar(
            "UPDATE reports SET created_at = $2 WHERE scheduled AND status = 'generating' AND created_at < $1 RETURNING id")
            .bind(stale_before).bind(now).fetch_all(pool).await)
    }

    pub async fn complete_report(
        &self,
        id: i64,
        summary: &str,
        content: &str,
        body: &serde_json::Value,
        engine: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE reports SET status = 'completed', summary = $2, content = $3, body = $4, engine = $5, completed_at = $6 \
             WHERE id = $1")
            .bind(id).bind(summary).bind(content).bind(body.to_string()).bind(engine).bind(now)
            .execute(pool).await.map(|_| ()))
    }

    pub async fn fail_report(
        &self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE reports SET status = 'failed', summary = $2, completed_at = $3 WHERE id = $1")
            .bind(id).bind(error).bind(now).execute(pool).await.map(|_| ()))
    }

    pub async fn report(&self, id: i64) -> Result<Option<ReportRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM reports WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    /// Reports, newest period first.
    pub async fn list_reports(
        &self,
        report_type: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Page<ReportRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let kind = report_type.unwrap_or("");
        let sql = format!(
            "SELECT {COLUMNS} FROM reports WHERE ($1 = '' OR report_type = $1) \
             ORDER BY period_start DESC, id DESC LIMIT $2 OFFSET $3"
        );
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reports WHERE ($1 = '' OR report_type = $1)")
                .bind(kind).fetch_one(pool).await?;
            let items = sqlx::query_as(&sql).bind(kind).bind(limit).bind(offset).fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    pub async fn delete_report(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM reports WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() > 0))
    }

    // ------------------------------------------------------------ period data

    /// Host-offline alerts overlapping the period: (host, fired, resolved).
    pub async fn offline_spans(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT a.host_id, a.fired_at, a.resolved_at FROM alerts a JOIN alert_rules r ON r.id = a.rule_id \
             WHERE r.rule_type = 'host_offline' AND a.host_id IS NOT NULL AND a.fired_at < $2 \
             AND (a.resolved_at IS NULL OR a.resolved_at > $1)")
            .bind(from).bind(to).fetch_all(pool).await)
    }

    /// Mean CPU, memory and disk use per host over the period.
    pub async fn host_usage(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HostUsage>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT m.host_id, h.hostname, AVG(m.cpu_percent) AS cpu, AVG(m.memory_percent) AS memory, \
             AVG(m.disk_percent) AS disk FROM host_metrics m JOIN hosts h ON h.id = m.host_id \
             WHERE m.recorded_at >= $1 AND m.recorded_at < $2 GROUP BY m.host_id, h.hostname")
            .bind(from).bind(to).fetch_all(pool).await)
    }

    /// Alerts fired in the period (at most 100,000).
    pub async fn period_alerts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PeriodAlert>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT a.severity, a.title, r.name AS rule_name, a.fired_at, a.acknowledged_at, a.resolved_at \
             FROM alerts a LEFT JOIN alert_rules r ON r.id = a.rule_id \
             WHERE a.fired_at >= $1 AND a.fired_at < $2 ORDER BY a.fired_at LIMIT 100000")
            .bind(from).bind(to).fetch_all(pool).await)
    }

    /// (status, count) of rows of `table` created in the period; `table` is one of
    /// Warden's own table names, never input.
    pub async fn period_status_counts(
        &self,
        table: &'static str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let sql = format!(
            "SELECT status, COUNT(*) FROM {table} WHERE created_at >= $1 AND created_at < $2 GROUP BY status ORDER BY status"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(from).bind(to).fetch_all(pool).await)
    }
}
