//! Incidents and their timelines.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{is_unique_violation, page_bounds, with_pool, BeginWrite, Db, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub status: String,
    pub severity: String,
    pub category: String,
    pub description: String,
    pub source: String,
    pub fingerprint: String,
    pub service: Option<String>,
    pub namespace: Option<String>,
    pub host_id: Option<i64>,
    pub alert_id: Option<i64>,
    pub diagnosis_json: Option<String>,
    pub proposal_json: Option<String>,
    pub execution_json: Option<String>,
    pub resolution: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, title, status, severity, category, description, source, fingerprint, \
    service, namespace, host_id, alert_id, diagnosis_json, proposal_json, execution_json, resolution, \
    created_at, updated_at, resolved_at";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncidentEventRow {
    pub seq: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub data: String,
    pub at: DateTime<Utc>,
}

/// An incident to open.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub severity: String,
    pub category: String,
    pub description: String,
    pub source: String,
    pub fingerprint: String,
    pub service: Option<String>,
    pub namespace: Option<String>,
    pub host_id: Option<i64>,
    pub alert_id: Option<i64>,
    /// The `alert_received` (or `duplicate_alert`) event's data.
    pub received: Value,
}

#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub search: Option<String>,
}

/// A change to an incident's status and the event that records it.
#[derive(Debug, Clone)]
pub struct IncidentChange<'a> {
    pub status: Option<&'a str>,
    /// The status only changes when the incident is in this one (the event is appended
    /// either way).
    pub expect_status: Option<&'a str>,
    pub resolution: Option<&'a str>,
    pub diagnosis: Option<&'a Value>,
    pub proposal: Option<&'a Value>,
    pub execution: Option<&'a Value>,
    pub event: &'a str,
    pub data: Value,
}

impl<'a> IncidentChange<'a> {
    /// Just an event; set the other fields with struct update syntax.
    pub fn event(event: &'a str, data: Value) -> Self {
        IncidentChange {
            status: None,
            expect_status: None,
            resolution: None,
            diagnosis: None,
            proposal: None,
            execution: None,
            event,
            data,
        }
    }
}

/// Attempts at taking the next per-day number before giving up (each loses only to a
/// concurrent creation that took the same number).
const ID_ATTEMPTS: usize = 20;

macro_rules! append_event {
    ($tx:expr, $id:expr, $kind:expr, $data:expr, $at:expr) => {{
        let seq: i64 = sqlx::query_scalar(
            "UPDATE incidents SET event_count = event_count + 1, updated_at = $2 WHERE id = $1 RETURNING event_count",
        )
        .bind($id)
        .bind($at)
        .fetch_one(&mut *$tx)
        .await?;
        sqlx::query("INSERT INTO incident_events (incident_id, seq, type, data, at) VALUES ($1, $2, $3, $4, $5)")
            .bind($id)
            .bind(seq)
            .bind($kind)
            .bind($data.to_string())
            .bind($at)
            .execute(&mut *$tx)
            .await?;
    }};
}

impl Db {
    /// Opens an incident, or adds a `duplicate_alert` event to the unresolved one with the
    /// same fingerprint. Returns the incident id and whether it was a duplicate.
    pub async fn open_incident(
        &self,
        new: &NewIncident,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), sqlx::Error> {
        let day = now.format("%Y%m%d").to_string();
        let mut last_err = None;
        for _ in 0..ID_ATTEMPTS {
            let attempt: Result<(String, bool), sqlx::Error> = with_pool!(self, pool => async {
                let mut tx = pool.begin_write().await?;
                let open: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM incidents WHERE fingerprint = $1 AND status <> 'resolved'")
                    .bind(&new.fingerprint).fetch_optional(&mut *tx).await?;
                if let Some(id) = open {
                    append_event!(tx, &id, "duplicate_alert", new.received, now);
                    tx.commit().await?;
                    return Ok((id, true));
                }
                let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM incidents WHERE day = $1")
                    .bind(&day).fetch_one(&mut *tx).await?;
                let id = format!("INC-{day}-{seq:03}");
                sqlx::query(
                    "INSERT INTO incidents (id, day, seq, title, status, severity, category, description, source, \
                     fingerprint, service, namespace, host_id, alert_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)")
                    .bind(&id).bind(&day).bind(seq).bind(&new.title).bind(&new.severity).bind(&new.category)
                    .bind(&new.description).bind(&new.source).bind(&new.fingerprint).bind(&new.service)
                    .bind(&new.namespace).bind(new.host_id).bind(new.alert_id).bind(now)
                    .execute(&mut *tx).await?;
                append_event!(tx, &id, "alert_received", new.received, now);
                tx.commit().await?;
                Ok((id, false))
            }.await);
            match attempt {
                Err(e) if is_unique_violation(&e) => last_err = Some(e),
                other => return other,
            }
        }
        Err(last_err.unwrap_or(sqlx::Error::RowNotFound))
    }

    /// Applies a change and appends its event; `false` when the incident does not exist.
    pub async fn change_incident(
        &self,
        id: &str,
        c: &IncidentChange<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let resolved_at = (c.status == Some("resolved")).then_some(now);
        with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let found = sqlx::query(
                "UPDATE incidents SET \
                 status = CASE WHEN $8 IS NULL OR status = $8 THEN COALESCE($2, status) ELSE status END, \
                 resolution = COALESCE($3, resolution), \
                 proposal_json = COALESCE($4, proposal_json), execution_json = COALESCE($5, execution_json), \
                 resolved_at = COALESCE($6, resolved_at), diagnosis_json = COALESCE($9, diagnosis_json), \
                 updated_at = $7 WHERE id = $1")
                .bind(id).bind(c.status).bind(c.resolution).bind(c.proposal.map(Value::to_string))
                .bind(c.execution.map(Value::to_string)).bind(resolved_at).bind(now).bind(c.expect_status)
                .bind(c.diagnosis.map(Value::to_string))
                .execute(&mut *tx).await?.rows_affected() == 1;
            if !found {
                return Ok(false);
            }
            append_event!(tx, id, c.event, c.data, now);
            tx.commit().await?;
            Ok(true)
        }.await)
    }

    /// The newest unresolved incident raised by the alert, or its newest one at all.
    pub async fn incident_for_alert(
        &self,
        alert_id: i64,
    ) -> Result<Option<IncidentRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE alert_id = $1 \
             ORDER BY CASE WHEN status = 'resolved' THEN 1 ELSE 0 END, created_at DESC LIMIT 1"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(alert_id).fetch_optional(pool).await)
    }

    pub async fn incident(&self, id: &str) -> Result<Option<IncidentRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn incident_events(&self, id: &str) -> Result<Vec<IncidentEventRow>, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_as(
            "SELECT seq, type, data, at FROM incident_events WHERE incident_id = $1 ORDER BY seq")
            .bind(id).fetch_all(pool).await)
    }

    pub async fn list_incidents(
        &self,
        f: &IncidentFilter,
        page: u32,
        page_size: u32,
    ) -> Result<Page<IncidentRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let like = f.search.as_ref().map(|s| format!("%{}%", s.to_lowercase()));
        // Every filter is bound; a NULL one matches everything.
        let filter = "WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR severity = $2) \
             AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) \
             AND ($5 IS NULL OR LOWER(title) LIKE $5 OR LOWER(description) LIKE $5 OR LOWER(id) LIKE $5)";
        let count_sql = format!("SELECT COUNT(*) FROM incidents {filter}");
        let sql = format!("SELECT {COLUMNS} FROM incidents {filter} ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7");
        with_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar(&count_sql)
                .bind(&f.status).bind(&f.severity).bind(f.start).bind(f.end).bind(&like)
                .fetch_one(pool).await?;
            let items = sqlx::query_as(&sql)
                .bind(&f.status).bind(&f.severity).bind(f.start).bind(f.end).bind(&like).bind(limit).bind(offset)
                .fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    /// Incidents not resolved, and runs waiting for approval (for `/api/status`).
    pub async fn incident_counts(&self) -> Result<(i64, i64), sqlx::Error> {
        with_pool!(self, pool => {
            let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents WHERE status <> 'resolved'")
                .fetch_one(pool).await?;
            let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM remediation_runs WHERE status = 'pending_approval'")
                .fetch_one(pool).await?;
            Ok((active, pending))
        })
    }
}
