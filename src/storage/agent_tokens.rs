//! Agent tokens: only a keyed hash of each token is stored.

use chrono::{DateTime, Utc};

use super::{with_pool, Db};

/// A stored agent token (never the token itself).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentTokenRow {
    pub id: i64,
    pub name: String,
    pub token_prefix: String,
    pub is_active: bool,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, token_prefix, is_active, created_by, created_at, last_used_at";

impl Db {
    pub async fn create_agent_token(
        &self,
        name: &str,
        token_hash: &str,
        token_prefix: &str,
        created_by: i64,
        now: DateTime<Utc>,
    ) -> Result<AgentTokenRow, sqlx::Error> {
        let sql = format!(
            "INSERT INTO agent_tokens (name, token_hash, token_prefix, is_active, created_by, created_at) \
             VALUES ($1, $2, $3, TRUE, $4, $5) RETURNING {COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(name)
            .bind(token_hash)
            .bind(token_prefix)
            .bind(created_by)
            .bind(now)
            .fetch_one(pool)
            .await)
    }

    /// Every token, newest first.
    pub async fn list_agent_tokens(&self) -> Result<Vec<AgentTokenRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM agent_tokens ORDER BY created_at DESC, id DESC");
        with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
    }

    /// The token with this hash, active or not.
    pub async fn agent_token_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<AgentTokenRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM agent_tokens WHERE token_hash = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(hash).fetch_optional(pool).await)
    }

    /// Soft-revokes a token. `None` when no token has this id.
    pub async fn revoke_agent_token(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentTokenRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE agent_tokens SET is_active = FALSE, revoked_at = COALESCE(revoked_at, $2) \
             WHERE id = $1 RETURNING {COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(now).fetch_optional(pool).await)
    }

    /// Records when a token was last seen.
    pub async fn touch_agent_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE agent_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(id)
        .bind(at)
        .execute(pool)
        .await
        .map(|_| ()))
    }
}
