//! Runtime settings rows (key → canonical string value).

use crate::storage::BeginWrite;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{with_pool, Db};

impl Db {
    /// Every stored setting.
    pub async fn load_settings(&self) -> Result<BTreeMap<String, String>, sqlx::Error> {
        let rows: Vec<(String, String)> = with_pool!(self, pool =>
            sqlx::query_as("SELECT key, value FROM settings").fetch_all(pool).await)?;
        Ok(rows.into_iter().collect())
    }

    /// Writes every value in one transaction: all or nothing.
    pub async fn save_settings(
        &self,
        values: &BTreeMap<&'static str, String>,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        self.save_integration_config(&BTreeMap::new(), values, user_id, now).await
    }
}

impl Db {
    /// The `PUT /api/config` overrides, by canonical key.
    pub async fn integration_overrides(&self) -> Result<BTreeMap<String, String>, sqlx::Error> {
        let rows: Vec<(String, String)> = with_pool!(self, pool =>
            sqlx::query_as("SELECT key, value FROM integration_config").fetch_all(pool).await)?;
        Ok(rows.into_iter().collect())
    }

    /// Saves overrides and runtime settings of one `PUT /api/config` in one transaction.
    pub async fn save_integration_config(
        &self,
        overrides: &BTreeMap<&'static str, String>,
        settings: &BTreeMap<&'static str, String>,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (table, values) in [("integration_config", overrides), ("settings", settings)] {
                let sql = format!(
                    "INSERT INTO {table} (key, value, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                     updated_by = excluded.updated_by, updated_at = excluded.updated_at"
                );
                for (key, value) in values {
                    sqlx::query(&sql).bind(*key).bind(value).bind(user_id).bind(now).execute(&mut *tx).await?;
                }
            }
            tx.commit().await
        })
    }
}
