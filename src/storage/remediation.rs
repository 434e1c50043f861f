//! Remediation runs, their history and custom runbooks; and the [`RemediationStore`]
//! port the remediation actors persist through.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use warden_actors::ids::HostId;
use warden_actors::ports::remediation::{Change, NewRun, StepResult, StoredRun};
use warden_actors::ports::{RemediationStore, StoreError};
use warden_actors::remediation::actor::RunSpec;
use warden_actors::remediation::policy::Usage;
use warden_actors::remediation::run::RunStatus;
use warden_actors::remediation::runbook::{AlertFacts, RiskLevel, Runbook, Step};

use super::hosts::tag_names;
use super::{is_unique_violation, page_bounds, with_pool, BeginWrite, Db, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub alert_id: i64,
    pub host_id: Option<i64>,
    pub status: String,
    pub risk_level: String,
    pub runbook_name: String,
    pub runbook_json: String,
    pub diagnosis_json: Option<String>,
    pub command_results_json: String,
    pub verification_passed: Option<bool>,
    pub blocked_reason: Option<String>,
    pub triggered_by: String,
    pub triggered_by_user: Option<i64>,
    pub executor: String,
    pub approved_by: Option<i64>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approval_comment: Option<String>,
    pub approval_deadline: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub executed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const RUN_COLUMNS: &str = "id, alert_id, host_id, status, risk_level, runbook_name, runbook_json, \
    diagnosis_json, command_results_json, verification_passed, blocked_reason, triggered_by, \
    triggered_by_user, executor, approved_by, approved_at, approval_comment, approval_deadline, \
    started_at, executed_at, completed_at, created_at, updated_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor: String,
    pub actor_id: Option<i64>,
    pub comment: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunbookRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub match_alert_types: String,
    pub trigger_keywords: String,
    pub risk_level: String,
    pub safety_checks: String,
    pub steps: String,
    pub verify_steps: String,
    pub is_active: bool,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const RUNBOOK_COLUMNS: &str = "id, name, description, match_alert_types, trigger_keywords, \
    risk_level, safety_checks, steps, verify_steps, is_active, created_by, created_at, updated_at";

fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    serde_json::from_str(text).unwrap_or_default()
}

impl RunbookRow {
    pub fn runbook(&self) -> Runbook {
        Runbook {
            id: Some(self.id),
            name: self.name.clone(),
            description: self.description.clone(),
            match_alert_types: json_list(&self.match_alert_types),
            trigger_keywords: json_list(&self.trigger_keywords),
            risk_level: RiskLevel::parse(&self.risk_level).unwrap_or(RiskLevel::Block),
            safety_checks: json_list(&self.safety_checks),
            steps: json_list::<Step>(&self.steps),
            verify_steps: json_list::<Step>(&self.verify_steps),
        }
    }
}

/// Filters of the run list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub status: Option<String>,
    pub host_id: Option<i64>,
    pub triggered_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunStats {
    pub total: i64,
    pub success: i64,
    pub failed: i64,
    pub pending: i64,
    pub avg_duration_seconds: Option<f64>,
    pub today_count: i64,
    pub week_count: i64,
}

/// Builds `WHERE` for the run filter with `$n` placeholders, returning the binds.
fn run_where(f: &RunFilter) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    if let Some(s) = &f.status {
        binds.push(Value::from(s.clone()));
        clauses.push(format!("status = ${}", binds.len()));
    }
    if let Some(h) = f.host_id {
        binds.push(Value::from(h));
        clauses.push(format!("host_id = ${}", binds.len()));
    }
    if let Some(t) = &f.triggered_by {
        binds.push(Value::from(t.clone()));
        clauses.push(format!("triggered_by = ${}", binds.len()));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, binds)
}

macro_rules! bind_values {
    ($query:expr, $binds:expr) => {{
        let mut q = $query;
        for v in $binds {
            q = match v {
                Value::String(s) => q.bind(s.clone()),
                other => q.bind(other.as_i64()),
            };
        }
        q
    }};
}

impl Db {
    pub async fn list_runs(
        &self,
        f: &RunFilter,
        page: u32,
        page_size: u32,
    ) -> Result<Page<RunRow>, sqlx::Error> {
        let (filter, binds) = run_where(f);
        let (offset, limit) = page_bounds(page, page_size);
        let count_sql = format!("SELECT COUNT(*) FROM remediation_runs{filter}");
        let n = binds.len();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM remediation_runs{filter} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        with_pool!(self, pool => {
            let total: i64 = bind_values!(sqlx::query_scalar(&count_sql), &binds).fetch_one(pool).await?;
            let items = bind_values!(sqlx::query_as(&sql), &binds).bind(limit).bind(offset).fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    pub async fn run_by_id(&self, id: i64) -> Result<Option<RunRow>, sqlx::Error> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM remediation_runs WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    /// The alert's run waiting for approval, if any.
    pub async fn pending_run_for_alert(
        &self,
        alert_id: i64,
    ) -> Result<Option<RunRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM remediation_runs WHERE alert_id = $1 AND status = 'pending_approval' \
             ORDER BY id DESC LIMIT 1"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(alert_id).fetch_optional(pool).await)
    }

    /// The alert's newest run.
    pub async fn latest_run_for_alert(&self, alert_id: i64) -> Result<Option<RunRow>, sqlx::Error> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM remediation_runs WHERE alert_id = $1 ORDER BY id DESC LIMIT 1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(alert_id).fetch_optional(pool).await)
    }

    pub async fn run_events(&self, id: i64) -> Result<Vec<EventRow>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT from_status, to_status, actor, actor_id, comment, reason, at FROM remediation_events \
             WHERE run_id = $1 ORDER BY id")
            .bind(id).fetch_all(pool).await)
    }

    /// Counts for `GET /remediations/stats`; "today" and "this week" (from Monday) are UTC.
    pub async fn run_stats(
        &self,
        today: DateTime<Utc>,
        week: DateTime<Utc>,
    ) -> Result<RunStats, sqlx::Error> {
        let counts = "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN status IN ('pending', 'pending_approval', 'approved', 'executing') THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN created_at >= $2 THEN 1 ELSE 0 END), 0) \
             FROM remediation_runs";
        let (total, success, failed, pending, today_count, week_count): (
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        ) = with_pool!(self, pool => sqlx::query_as(counts).bind(today).bind(week).fetch_one(pool).await)?;
        // Durations are averaged here: the two backends subtract timestamps differently.
        let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT started_at, completed_at FROM remediation_runs WHERE completed_at IS NOT NULL \
             AND status IN ('success', 'failed')")
            .fetch_all(pool).await)?;
        let avg_duration_seconds = (!spans.is_empty()).then(|| {
            let sum: f64 =
                spans.iter().map(|(s, c)| (*c - *s).num_milliseconds() as f64 / 1000.0).sum();
            (sum / spans.len() as f64 * 10.0).round() / 10.0
        });
        Ok(RunStats {
            total,
            success,
            failed,
            pending,
            avg_duration_seconds,
            today_count,
            week_count,
        })
    }

    pub async fn list_custom_runbooks(&self) -> Result<Vec<RunbookRow>, sqlx::Error> {
        let sql = format!("SELECT {RUNBOOK_COLUMNS} FROM custom_runbooks ORDER BY id");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    pub async fn custom_runbook(&self, id: i64) -> Result<Option<RunbookRow>, sqlx::Error> {
        let sql = format!("SELECT {RUNBOOK_COLUMNS} FROM custom_runbooks WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    /// Inserts a custom runbook; `Ok(None)` when the name is taken.
    pub async fn create_custom_runbook(
        &self,
        r: &Runbook,
        is_active: bool,
        created_by: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<RunbookRow>, sqlx::Error> {
        let sql = format!(
            "INSERT INTO custom_runbooks (name, description, match_alert_types, trigger_keywords, risk_level, \
             safety_checks, steps, verify_steps, is_active, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {RUNBOOK_COLUMNS}"
        );
        let result = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&r.name).bind(&r.description).bind(to_json(&r.match_alert_types))
            .bind(to_json(&r.trigger_keywords)).bind(r.risk_level.as_str()).bind(to_json(&r.safety_checks))
            .bind(to_json(&r.steps)).bind(to_json(&r.verify_steps)).bind(is_active).bind(created_by).bind(now)
            .fetch_one(pool).await);
        match result {
            Err(e) if is_unique_violation(&e) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Replaces a custom runbook; `Ok(None)` when it does not exist, `Err` with a unique
    /// violation when the new name is taken.
    pub async fn update_custom_runbook(
        &self,
        id: i64,
        r: &Runbook,
        is_active: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<RunbookRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE custom_runbooks SET name = $2, description = $3, match_alert_types = $4, trigger_keywords = $5, \
             risk_level = $6, safety_checks = $7, steps = $8, verify_steps = $9, is_active = $10, updated_at = $11 \
             WHERE id = $1 RETURNING {RUNBOOK_COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).bind(&r.name).bind(&r.description).bind(to_json(&r.match_alert_types))
            .bind(to_json(&r.trigger_keywords)).bind(r.risk_level.as_str()).bind(to_json(&r.safety_checks))
            .bind(to_json(&r.steps)).bind(to_json(&r.verify_steps)).bind(is_active).bind(now)
            .fetch_optional(pool).await)
    }

    pub async fn custom_runbook_name_taken(
        &self,
        name: &str,
        except: Option<i64>,
    ) -> Result<bool, sqlx::Error> {
        let n: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM custom_runbooks WHERE name = $1 AND id <> $2")
            .bind(name).bind(except.unwrap_or(-1)).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    pub async fn delete_custom_runbook(&self, id: i64) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query("DELETE FROM custom_runbooks WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected() > 0))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// What the remediation actors persist through.
pub struct DbRemediationStore(pub Db);

fn err(e: sqlx::Error) -> StoreError {
    StoreError(e.to_string())
}

#[derive(sqlx::FromRow)]
struct FactsRow {
    id: i64,
    host_id: Option<i64>,
    hostname: Option<String>,
    tags: Option<String>,
    service: Option<String>,
    alert_type: String,
    metric: Option<String>,
    title: String,
    message: Option<String>,
    severity: String,
    status: String,
}

#[async_trait]
impl RemediationStore for DbRemediationStore {
    async fn create_run(&self, run: &NewRun) -> Result<Option<i64>, StoreError> {
        let runbook = serde_json::to_string(&run.runbook).map_err(|e| StoreError(e.to_string()))?;
        let result: Result<i64, sqlx::Error> = with_pool!(&self.0, pool => async {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO remediation_runs (alert_id, host_id, status, risk_level, runbook_name, runbook_json, \
                 diagnosis_json, triggered_by, triggered_by_user, executor, started_at, created_at, updated_at) \
                 VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $10, $10) RETURNING id")
                .bind(run.alert_id).bind(run.host_id.map(|h| h.0)).bind(run.runbook.risk_level.as_str())
                .bind(&run.runbook.name).bind(&runbook).bind(run.diagnosis.to_string())
                .bind(&run.triggered_by).bind(run.triggered_by_user).bind(&run.executor).bind(run.created_at)
                .fetch_one(&mut *tx).await?;
            let actor = if run.triggered_by_user.is_some() { "user" } else { "system" };
            sqlx::query(
                "INSERT INTO remediation_events (run_id, from_status, to_status, actor, actor_id, at) \
                 VALUES ($1, NULL, 'pending', $2, $3, $4)")
                .bind(id).bind(actor).bind(run.triggered_by_user).bind(run.created_at)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        }.await);
        match result {
            Ok(id) => Ok(Some(id)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn record(&self, run: i64, from: RunStatus, c: &Change) -> Result<bool, StoreError> {
        let to = c.to;
        let decided_by_person =
            matches!(to, RunStatus::Approved | RunStatus::Rejected) && c.actor_id.is_some();
        let approved_by = decided_by_person.then_some(c.actor_id).flatten();
        let approved_at = (to == RunStatus::Approved).then_some(c.at);
        let executed_at = (to == RunStatus::Executing).then_some(c.at);
        let completed_at = to.is_terminal().then_some(c.at);
        with_pool!(&self.0, pool => {
            let mut tx = pool.begin_write().await.map_err(err)?;
            let moved = sqlx::query(
                "UPDATE remediation_runs SET status = $2, updated_at = $3, \
                 blocked_reason = COALESCE($4, blocked_reason), approval_deadline = COALESCE($5, approval_deadline), \
                 verification_passed = COALESCE($6, verification_passed), approved_by = COALESCE($7, approved_by), \
                 approved_at = COALESCE($8, approved_at), approval_comment = COALESCE($9, approval_comment), \
                 executed_at = COALESCE($10, executed_at), completed_at = COALESCE($11, completed_at) \
                 WHERE id = $1 AND status = $12")
                .bind(run).bind(to.as_str()).bind(c.at).bind(&c.reason).bind(c.approval_deadline)
                .bind(c.verification_passed).bind(approved_by).bind(approved_at).bind(&c.comment)
                .bind(executed_at).bind(completed_at).bind(from.as_str())
                .execute(&mut *tx).await.map_err(err)?.rows_affected() == 1;
            if !moved {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO remediation_events (run_id, from_status, to_status, actor, actor_id, comment, reason, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(run).bind(from.as_str()).bind(to.as_str()).bind(&c.actor).bind(c.actor_id)
                .bind(&c.comment).bind(&c.reason).bind(c.at)
                .execute(&mut *tx).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            Ok(true)
        })
    }

    async fn save_results(&self, run: i64, results: &[StepResult]) -> Result<(), StoreError> {
        let json = serde_json::to_string(results).map_err(|e| StoreError(e.to_string()))?;
        with_pool!(&self.0, pool => sqlx::query(
            "UPDATE remediation_runs SET command_results_json = $2 WHERE id = $1")
            .bind(run).bind(json).execute(pool).await.map(|_| ()).map_err(err))
    }

    async fn usage(&self, host: Option<HostId>, since: DateTime<Utc>) -> Result<Usage, StoreError> {
        let auto: i64 = with_pool!(&self.0, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM remediation_events WHERE to_status = 'approved' AND actor = 'system' AND at >= $1")
            .bind(since).fetch_one(pool).await).map_err(err)?;
        let Some(host) = host else {
            return Ok(Usage { auto_executions_last_hour: count(auto), ..Usage::default() });
        };
        let on_host: i64 = with_pool!(&self.0, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM remediation_events e JOIN remediation_runs r ON r.id = e.run_id \
             WHERE e.to_status = 'approved' AND e.actor = 'system' AND e.at >= $1 AND r.host_id = $2")
            .bind(since).bind(host.0).fetch_one(pool).await).map_err(err)?;
        let recent: Vec<(String, Option<bool>)> = with_pool!(&self.0, pool => sqlx::query_as(
            "SELECT status, verification_passed FROM remediation_runs \
             WHERE host_id = $1 AND status IN ('success', 'failed') ORDER BY id DESC LIMIT 1000")
            .bind(host.0).fetch_all(pool).await)
        .map_err(err)?;
        let failures = recent
            .iter()
            .take_while(|(status, verified)| status == "failed" || *verified == Some(false))
            .count();
        Ok(Usage {
            auto_executions_last_hour: count(auto),
            host_executions_last_hour: count(on_host),
            host_consecutive_failures: u32::try_from(failures).unwrap_or(u32::MAX),
        })
    }

    async fn unfinished_runs(&self) -> Result<Vec<StoredRun>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM remediation_runs \
             WHERE status IN ('pending', 'pending_approval', 'approved', 'executing') ORDER BY id"
        );
        let rows: Vec<RunRow> =
            with_pool!(&self.0, pool => sqlx::query_as(&sql).fetch_all(pool).await).map_err(err)?;
        let mut host_ids: Vec<i64> = rows.iter().filter_map(|r| r.host_id).collect();
        host_ids.sort_unstable();
        host_ids.dedup();
        let hostnames: std::collections::HashMap<i64, String> = self
            .0
            .hosts_by_ids(&host_ids)
            .await
            .map_err(err)?
            .into_iter()
            .map(|h| (h.id, h.hostname))
            .collect();
        let mut runs = Vec::with_capacity(rows.len());
        for row in rows {
            let hostname = row.host_id.and_then(|h| hostnames.get(&h).cloned());
            let Some(status) = RunStatus::parse(&row.status) else { continue };
            let Ok(runbook) = serde_json::from_str(&row.runbook_json) else {
                tracing::error!(
                    run = row.id,
                    "unreadable runbook_json; the run cannot be recovered"
                );
                continue;
            };
            runs.push(StoredRun {
                spec: RunSpec {
                    id: row.id,
                    alert_id: row.alert_id,
                    host_id: row.host_id.map(HostId),
                    hostname,
                    status,
                    runbook,
                    executor: row.executor,
                    approval_deadline: row.approval_deadline,
                },
                results: json_list(&row.command_results_json),
            });
        }
        Ok(runs)
    }

    async fn alert_facts(&self, alert: i64) -> Result<Option<AlertFacts>, StoreError> {
        let row: Option<FactsRow> = with_pool!(&self.0, pool => sqlx::query_as(
            "SELECT a.id, a.host_id, h.hostname, h.tags, s.name AS service, \
             COALESCE(r.rule_type, a.source) AS alert_type, r.metric, a.title, a.message, a.severity, a.status \
             FROM alerts a LEFT JOIN hosts h ON h.id = a.host_id LEFT JOIN services s ON s.id = a.service_id \
             LEFT JOIN alert_rules r ON r.id = a.rule_id WHERE a.id = $1")
            .bind(alert).fetch_optional(pool).await).map_err(err)?;
        Ok(row.map(|r| AlertFacts {
            alert_id: r.id,
            host_id: r.host_id,
            hostname: r.hostname,
            host_tags: tag_names(r.tags.as_deref()),
            service: r.service,
            alert_type: r.alert_type,
            metric: r.metric,
            title: r.title,
            message: r.message.unwrap_or_default(),
            severity: r.severity,
            status: r.status,
        }))
    }

    async fn custom_runbooks(&self) -> Result<Vec<Runbook>, StoreError> {
        let rows = self.0.list_custom_runbooks().await.map_err(err)?;
        Ok(rows.iter().filter(|r| r.is_active).map(RunbookRow::runbook).collect())
    }

    async fn resolve_alert(&self, alert: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        with_pool!(&self.0, pool => sqlx::query(
            "UPDATE alerts SET status = 'resolved', resolved_at = $2 WHERE id = $1 AND status <> 'resolved'")
            .bind(alert).bind(at).execute(pool).await.map(|r| r.rows_affected() > 0).map_err(err))
    }
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
