//! The group-commit writer for append-heavy rows (host metrics, service checks,
//! database metrics, logs, last-seen times).
//!
//! It is an actor in the plain sense — a task that owns its mailbox — rather than a
//! ractor actor, because group commit needs to drain everything queued so far into one
//! transaction, which ractor's mailbox does not expose. Each request is answered only
//! after the transaction holding its rows committed, so a 2xx means durable. A failed
//! batch is retried job by job, so one bad row cannot fail its neighbours.

use crate::storage::BeginWrite;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use tokio::sync::{mpsc, oneshot};
use warden_actors::model::MetricsSnapshot;

use super::databases::DbMetricValues;
use super::Db;

/// A service check result to store.
#[derive(Debug, Clone)]
pub struct NewCheck {
    pub service_id: i64,
    pub status: String,
    pub response_time_ms: Option<f64>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub checked_at: DateTime<Utc>,
}

/// A database metrics report to store.
#[derive(Debug, Clone)]
pub struct NewDbMetric {
    pub database_id: i64,
    pub values: DbMetricValues,
    pub extra: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// A log line to store.
#[derive(Debug, Clone)]
pub struct NewLog {
    pub host_id: i64,
    pub service: Option<String>,
    pub source: Option<String>,
    pub level: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

/// An outbox row to store before its first delivery attempt.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub channel_id: i64,
    pub alert_id: Option<i64>,
    pub run_id: Option<i64>,
    pub kind: String,
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

/// How an outbox row ended.
#[derive(Debug, Clone)]
pub struct NotificationDone {
    pub id: i64,
    /// `sent` or `failed`.
    pub status: &'static str,
    pub response_code: Option<i64>,
    pub error: Option<String>,
    pub retries: i64,
    pub external_id: Option<String>,
    pub sent_at: DateTime<Utc>,
}

enum Op {
    Metric(i64, Box<MetricsSnapshot>),
    Notifications(Vec<NewNotification>),
    NotificationDone(NotificationDone),
    Check(NewCheck),
    DbMetric(NewDbMetric),
    Logs(Vec<NewLog>),
    LastSeen(i64, DateTime<Utc>),
    Partitions(i64, std::sync::Arc<str>),
    Flush,
}

impl Op {
    fn rows(&self) -> usize {
        match self {
            Op::Logs(l) => l.len(),
            Op::Notifications(n) => n.len(),
            _ => 1,
        }
    }
}

struct Job {
    op: Op,
    reply: Option<oneshot::Sender<Result<Vec<i64>, String>>>,
}

/// Why a write was not acknowledged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(pub String);

/// Rows gathered into one transaction at most.
const MAX_BATCH_ROWS: usize = 4000;
/// Rows per INSERT statement (bounded by SQLite's parameter limit).
const ROWS_PER_STATEMENT: usize = 1000;

/// The writer's handle; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task on `db`.
    pub fn start(db: Db) -> (Writer, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(16_384);
        let handle = tokio::spawn(run(db, rx));
        (Writer { tx }, handle)
    }

    async fn submit(&self, op: Op) -> Result<Vec<i64>, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { op, reply: Some(reply) })
            .await
            .map_err(|_| WriteError("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| WriteError("the writer stopped before committing".into()))?
            .map_err(WriteError)
    }

    /// Stores a metrics report; returns its id once committed.
    pub async fn metric(&self, host_id: i64, m: MetricsSnapshot) -> Result<i64, WriteError> {
        first(self.submit(Op::Metric(host_id, Box::new(m))).await?)
    }

    pub async fn check(&self, c: NewCheck) -> Result<i64, WriteError> {
        first(self.submit(Op::Check(c)).await?)
    }

    pub async fn db_metric(&self, m: NewDbMetric) -> Result<i64, WriteError> {
        first(self.submit(Op::DbMetric(m)).await?)
    }

    /// Stores a batch of log lines; returns their ids once committed.
    pub async fn logs(&self, logs: Vec<NewLog>) -> Result<Vec<i64>, WriteError> {
        self.submit(Op::Logs(logs)).await
    }

    /// Stores outbox rows; returns their ids once committed.
    pub async fn notifications(&self, rows: Vec<NewNotification>) -> Result<Vec<i64>, WriteError> {
        self.submit(Op::Notifications(rows)).await
    }

    /// Records how a notification ended (committed with the next batch).
    pub async fn notification_done(&self, done: NotificationDone) -> Result<(), WriteError> {
        self.submit(Op::NotificationDone(done)).await.map(drop)
    }

    /// Records a host's last heartbeat; best effort, never waits.
    pub fn last_seen(&self, host_id: i64, at: DateTime<Utc>) {
        if self.tx.try_send(Job { op: Op::LastSeen(host_id, at), reply: None }).is_err() {
            tracing::warn!(host_id, "writer queue full; skipped a last-seen update");
        }
    }

    /// Records a host's latest disk partitions; best effort, never waits.
    pub fn partitions(&self, host_id: i64, json: std::sync::Arc<str>) {
        if self.tx.try_send(Job { op: Op::Partitions(host_id, json), reply: None }).is_err() {
            tracing::warn!(host_id, "writer queue full; skipped a disk partitions update");
        }
    }

    /// Waits until everything queued before this call is committed.
    pub async fn flush(&self) {
        let _ = self.submit(Op::Flush).await;
    }
}

fn first(ids: Vec<i64>) -> Result<i64, WriteError> {
    ids.first().copied().ok_or_else(|| WriteError("insert returned no id".into()))
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    while let Some(job) = rx.recv().await {
        let mut rows = job.op.rows();
        let mut jobs = vec![job];
        while rows < MAX_BATCH_ROWS {
            match rx.try_recv() {
                Ok(j) => {
                    rows += j.op.rows();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        match commit(&db, &jobs).await {
            Ok(ids) => {
                for (job, ids) in jobs.into_iter().zip(ids) {
                    if let Some(reply) = job.reply {
                        let _ = reply.send(Ok(ids));
                    }
                }
            }
            Err(e) if jobs.len() > 1 => {
                tracing::warn!(error = %e, jobs = jobs.len(), "batch commit failed; retrying job by job");
                for job in jobs {
                    let res = commit(&db, std::slice::from_ref(&job)).await;
                    if let Some(reply) = job.reply {
                        let _ = reply.send(
                            res.map(|mut v| v.pop().unwrap_or_default()).map_err(|e| e.to_string()),
                        );
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "write failed");
                for job in jobs {
                    if let Some(reply) = job.reply {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    }
}

/// Writes every job in one transaction; returns each job's new ids, in job order.
async fn commit(db: &Db, jobs: &[Job]) -> Result<Vec<Vec<i64>>, sqlx::Error> {
    let mut out: Vec<Vec<i64>> = vec![Vec::new(); jobs.len()];
    let metrics: Vec<(usize, i64, &MetricsSnapshot)> = jobs
        .iter()
        .enumerate()
        .filter_map(|(i, j)| match &j.op {
            Op::Metric(h, m) => Some((i, *h, m.as_ref())),
            _ => None,
        })
        .collect();
    let checks: Vec<(usize, &NewCheck)> = jobs
        .iter()
        .enumerate()
        .filter_map(|(i, j)| match &j.op {
            Op::Check(c) => Some((i, c)),
            _ => None,
        })
        .collect();
    let db_metrics: Vec<(usize, &NewDbMetric)> = jobs
        .iter()
        .enumerate()
        .filter_map(|(i, j)| match &j.op {
            Op::DbMetric(m) => Some((i, m)),
            _ => None,
        })
        .collect();
    let logs: Vec<(usize, &NewLog)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(i, j)| match &j.op {
            Op::Logs(l) => l.iter().map(|x| (i, x)).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    let seen: Vec<(i64, DateTime<Utc>)> = jobs
        .iter()
        .filter_map(|j| match &j.op {
            Op::LastSeen(h, at) => Some((*h, *at)),
            _ => None,
        })
        .collect();

    let partitions: Vec<(i64, &str)> = jobs
        .iter()
        .filter_map(|j| match &j.op {
            Op::Partitions(h, json) => Some((*h, &**json)),
            _ => None,
        })
        .collect();

    let outbox: Vec<(usize, &NewNotification)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(i, j)| match &j.op {
            Op::Notifications(n) => n.iter().map(|x| (i, x)).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    let done: Vec<&NotificationDone> = jobs
        .iter()
        .filter_map(|j| match &j.op {
            Op::NotificationDone(d) => Some(d),
            _ => None,
        })
        .collect();

    crate::with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        for chunk in outbox.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO notifications (channel_id, alert_id, run_id, kind, payload, status, created_at) ",
            );
            qb.push_values(chunk, |mut b, (_, n)| {
                b.push_bind(n.channel_id).push_bind(n.alert_id).push_bind(n.run_id).push_bind(n.kind.clone())
                    .push_bind(n.payload.clone()).push_bind("pending").push_bind(n.created_at);
            });
            qb.push(" RETURNING id");
            let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            for ((i, _), id) in chunk.iter().zip(ids) {
                out[*i].push(id);
            }
        }
        for d in &done {
            sqlx::query(
                "UPDATE notifications SET status = $2, response_code = $3, error = $4, retries = $5, \
                 external_id = $6, sent_at = $7 WHERE id = $1",
            )
            .bind(d.id).bind(d.status).bind(d.response_code).bind(&d.error).bind(d.retries)
            .bind(&d.external_id).bind(d.sent_at)
            .execute(&mut *tx)
            .await?;
        }
        for chunk in metrics.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO host_metrics (host_id, cpu_percent, cpu_load_1, cpu_load_5, cpu_load_15, \
                 memory_used_mb, memory_percent, disk_used_mb, disk_total_mb, disk_percent, net_bytes_sent, \
                 net_bytes_recv, net_send_rate_kb, net_recv_rate_kb, net_packet_loss_rate, agent_cpu_percent, \
                 agent_memory_rss_mb, agent_thread_count, agent_uptime_seconds, agent_open_files, recorded_at) ",
            );
            qb.push_values(chunk, |mut b, (_, host, m)| {
                b.push_bind(*host)
                    .push_bind(m.cpu_percent).push_bind(m.cpu_load_1).push_bind(m.cpu_load_5)
                    .push_bind(m.cpu_load_15).push_bind(m.memory_used_mb).push_bind(m.memory_percent)
                    .push_bind(m.disk_used_mb).push_bind(m.disk_total_mb).push_bind(m.disk_percent)
                    .push_bind(m.net_bytes_sent).push_bind(m.net_bytes_recv).push_bind(m.net_send_rate_kb)
                    .push_bind(m.net_recv_rate_kb).push_bind(m.net_packet_loss_rate)
                    .push_bind(m.agent_cpu_percent).push_bind(m.agent_memory_rss_mb)
                    .push_bind(m.agent_thread_count).push_bind(m.agent_uptime_seconds)
                    .push_bind(m.agent_open_files).push_bind(m.recorded_at);
            });
            qb.push(" RETURNING id");
            let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            for ((i, _, _), id) in chunk.iter().zip(ids) {
                out[*i].push(id);
            }
        }
        for chunk in checks.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO service_checks (service_id, status, response_time_ms, status_code, error, checked_at) ",
            );
            qb.push_values(chunk, |mut b, (_, c)| {
                b.push_bind(c.service_id).push_bind(c.status.clone()).push_bind(c.response_time_ms)
                    .push_bind(c.status_code).push_bind(c.error.clone()).push_bind(c.checked_at);
            });
            qb.push(" RETURNING id");
            let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            for ((i, _), id) in chunk.iter().zip(ids) {
                out[*i].push(id);
            }
        }
        for chunk in db_metrics.chunks(ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO db_metrics (database_id, connections_total, connections_active, connections_max, \
                 database_size_mb, slow_queries, tables_count, transactions_committed, transactions_rolled_back, \
                 qps, tablespace_used_pct, lock_waits, deadlocks, extra, recorded_at) ",
            );
            qb.push_values(chunk, |mut b, (_, m)| {
                let v = &m.values;
                b.push_bind(m.database_id).push_bind(v.connections_total).push_bind(v.connections_active)
                    .push_bind(v.connections_max).push_bind(v.database_size_mb).push_bind(v.slow_queries)
                    .push_bind(v.tables_count).push_bind(v.transactions_committed)
                    .push_bind(v.transactions_rolled_back).push_bind(v.qps).push_bind(v.tablespace_used_pct)
                    .push_bind(v.lock_waits).push_bind(v.deadlocks).push_bind(m.extra.clone())
                    .push_bind(m.recorded_at);
            });
            qb.push(" RETURNING id");
            let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            for ((i, _), id) in chunk.iter().zip(ids) {
                out[*i].push(id);
            }
        }
        for chunk in logs.chunks(ROWS_PER_STATEMENT) {
            let mut qb =
                QueryBuilder::new("INSERT INTO logs (host_id, service, source, level, message, timestamp) ");
            qb.push_values(chunk, |mut b, (_, l)| {
                b.push_bind(l.host_id).push_bind(l.service.clone()).push_bind(l.source.clone())
                    .push_bind(l.level.clone()).push_bind(l.message.clone()).push_bind(l.timestamp);
            });
            qb.push(" RETURNING id");
            let ids: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
            for ((i, _), id) in chunk.iter().zip(ids) {
                out[*i].push(id);
            }
        }
        for (host, at) in &seen {
            sqlx::query(
                "UPDATE hosts SET last_heartbeat = $2 WHERE id = $1 AND (last_heartbeat IS NULL OR last_heartbeat < $2)",
            )
            .bind(host)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        for (host, json) in &partitions {
            sqlx::query("UPDATE hosts SET disk_partitions = $2 WHERE id = $1")
                .bind(host)
                .bind(*json)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(out)
}
