//! sqlx storage: one [`Db`] over SQLite (the embedded default) or PostgreSQL.
//!
//! Each area (users, agent tokens, settings, audit) is a file of methods on [`Db`]. SQL
//! that is the same on both backends is written once and expanded per pool type by
//! [`with_pool!`]; where the backends differ the method matches on the variant.

pub mod actor_store;
pub mod agent_tokens;
pub mod alerts;
pub mod audit;
pub mod dashboard;
pub mod databases;
pub mod hosts;
pub mod incidents;
pub mod insights;
pub mod inventory;
pub mod knowledge;
pub mod logs;
pub mod notifications;
pub mod remediation;
pub mod reports;
pub mod services;
pub mod settings;
pub mod sla;
pub mod topology;
pub mod users;
pub mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::Config;

/// A connection pool for one of the supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool `$db` holds: `$pool` is bound to the
/// concrete pool, so `sqlx::query(...).fetch_one($pool)` type-checks for each backend.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($pool) => $body,
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}
pub use with_pool;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to the configured database; creates the SQLite file (and its directory)
    /// when missing.
    pub async fn connect(config: &Config) -> anyhow::Result<Db> {
        let url = config.database_url();
        let max = config.storage.max_connections;
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(&url)
                .with_context(|| format!("could not parse database url {url}"))?;
            if let Some(dir) = opts.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                create_dir(dir)?;
            }
            let opts = opts
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match config.storage.sqlite_synchronous {
                    crate::config::SqliteSync::Full => SqliteSynchronous::Full,
                    crate::config::SqliteSync::Normal => SqliteSynchronous::Normal,
                })
                .foreign_keys(true)
                .busy_timeout(Duration::from_millis(config.storage.sqlite_busy_timeout_ms));
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .with_context(|| format!("could not open sqlite database {url}"))?;
            Ok(Db::Sqlite(pool))
        } else {
            let opts = PgConnectOptions::from_str(&url)
                .context("could not parse the postgres database url")?;
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .context("could not connect to postgres")?;
            Ok(Db::Postgres(pool))
        }
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .context("could not run database migrations")
    }

    /// A cheap round trip, for health reporting.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("could not create data directory {}", dir.display()))
}

/// Whether the error is a violation of a unique constraint.
/// A JSON column read back; an absent or unreadable value is `null`.
pub fn stored_json(text: Option<&str>) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(serde_json::Value::Null)
}

pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|e| e.is_unique_violation())
}

/// One page of a list and the total count without paging.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Offset and limit from a 1-based page number.
pub fn page_bounds(page: u32, page_size: u32) -> (i64, i64) {
    let limit = i64::from(page_size);
    (i64::from(page.saturating_sub(1)) * limit, limit)
}

/// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: it takes
/// the write lock up front (waiting out `busy_timeout`), where a deferred transaction
/// would fail at once with "database is locked" if another writer committed between
/// its first read and its first write.
pub trait BeginWrite {
    type Database: sqlx::Database;

    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>,
    > + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}
