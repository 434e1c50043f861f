//! Users and their refresh tokens.

use crate::storage::BeginWrite;
use chrono::{DateTime, Utc};
use warden_actors::role::Role;
use warden_actors::DomainError;

use super::{page_bounds, with_pool, Db, Page};

/// A stored user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub hashed_password: String,
    pub role: String,
    pub is_active: bool,
    pub token_version: i64,
    /// The user's Feishu open_id: who may click approval buttons in Feishu cards.
    pub feishu_open_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    /// The role; the column has a CHECK constraint, so anything else is corruption.
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Viewer)
    }
}

/// A failure of a write that protects an invariant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Fields an admin may change; `None` leaves the field as it is.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    /// `Some("")` clears it.
    pub feishu_open_id: Option<String>,
}

const COLUMNS: &str = "id, email, name, hashed_password, role, is_active, token_version, \
     feishu_open_id, created_at, updated_at";

fn last_admin() -> DomainError {
    DomainError::conflict("the last active admin cannot be demoted, disabled or deleted")
}

impl Db {
    /// How audit trails and run histories name a user: the email, or `user N` once the
    /// account is gone.
    pub async fn user_label(&self, id: i64) -> Result<String, sqlx::Error> {
        Ok(self.user_by_id(id).await?.map_or_else(|| format!("user {id}"), |u| u.email))
    }

    /// The active user a Feishu operator (open_id) maps to.
    pub async fn user_by_feishu_open_id(
        &self,
        open_id: &str,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE feishu_open_id = $1 AND is_active");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(open_id).fetch_optional(pool).await)
    }

    /// Creates a user. With `role` `None` the first user ever becomes `admin` and later
    /// ones `viewer`, decided inside the insert so two first registrations cannot both
    /// become admin.
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        hashed_password: &str,
        role: Option<Role>,
        now: DateTime<Utc>,
    ) -> Result<UserRow, sqlx::Error> {
        let sql = format!(
            "INSERT INTO users (email, name, hashed_password, role, is_active, token_version, \
             created_at, updated_at) \
             SELECT $1, $2, $3, COALESCE($4, CASE WHEN EXISTS (SELECT 1 FROM users) \
             THEN 'viewer' ELSE 'admin' END), TRUE, 0, $5, $5 RETURNING {COLUMNS}"
        );
        let role = role.map(Role::as_str);
        match self {
            Db::Sqlite(pool) => {
                sqlx::query_as(&sql)
                    .bind(email)
                    .bind(name)
                    .bind(hashed_password)
                    .bind(role)
                    .bind(now)
                    .fetch_one(pool)
                    .await
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin_write().await?;
                // Serialises first-user decisions across concurrent registrations.
                sqlx::query("SELECT pg_advisory_xact_lock(727001)").execute(&mut *tx).await?;
                let row = sqlx::query_as(&sql)
                    .bind(email)
                    .bind(name)
                    .bind(hashed_password)
                    .bind(role)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(row)
            }
        }
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(email).fetch_optional(pool).await)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)
    }

    pub async fn count_users(&self) -> Result<i64, sqlx::Error> {
        with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await)
    }

    pub async fn list_users(
        &self,
        page: u32,
        page_size: u32,
    ) -> Result<Page<UserRow>, sqlx::Error> {
        let (offset, limit) = page_bounds(page, page_size);
        let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2");
        with_pool!(self, pool => {
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?;
            let items = sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(pool).await?;
            Ok(Page { items, total })
        })
    }

    /// Applies `changes`; disabling a user also invalidates their tokens. Refuses (and
    /// changes nothing) when it would leave no active admin.
    pub async fn update_user(
        &self,
        id: i64,
        changes: &UserChanges,
        now: DateTime<Utc>,
    ) -> Result<UserRow, StoreError> {
        let sql = format!(
            "UPDATE users SET name = COALESCE($2, name), role = COALESCE($3, role), \
             is_active = COALESCE($4, is_active), \
             token_version = token_version + CASE WHEN $4 = FALSE AND is_active THEN 1 ELSE 0 END, \
             feishu_open_id = CASE WHEN $6 IS NULL THEN feishu_open_id ELSE NULLIF($6, '') END, \
             updated_at = $5 WHERE id = $1 RETURNING {COLUMNS}"
        );
        let role = changes.role.map(Role::as_str);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if matches!(self, Db::Postgres(_)) {
                sqlx::query(LOCK_ADMINS).execute(&mut *tx).await?;
            }
            let row: Option<UserRow> = sqlx::query_as(&sql)
                .bind(id)
                .bind(changes.name.as_deref())
                .bind(role)
                .bind(changes.is_active)
                .bind(now)
                .bind(changes.feishu_open_id.as_deref())
                .fetch_optional(&mut *tx)
                .await?;
            let row = row.ok_or_else(|| DomainError::not_found("用户不存在"))?;
            let admins: i64 = sqlx::query_scalar(ACTIVE_ADMINS).fetch_one(&mut *tx).await?;
            if admins == 0 {
                return Err(last_admin().into());
            }
            tx.commit().await?;
            Ok(row)
        })
    }

    /// Deletes a user (and their refresh tokens). Refuses when it would leave no active
    /// admin. Returns the deleted row.
    pub async fn delete_user(&self, id: i64) -> Result<UserRow, StoreError> {
        let sql = format!("DELETE FROM users WHERE id = $1 RETURNING {COLUMNS}");
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if matches!(self, Db::Postgres(_)) {
                sqlx::query(LOCK_ADMINS).execute(&mut *tx).await?;
            }
            let row: Option<UserRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&mut *tx).await?;
            let row = row.ok_or_else(|| DomainError::not_found("用户不存在"))?;
            let admins: i64 = sqlx::query_scalar(ACTIVE_ADMINS).fetch_one(&mut *tx).await?;
            if admins == 0 {
                return Err(last_admin().into());
            }
            tx.commit().await?;
            Ok(row)
        })
    }

    /// Replaces the password hash and invalidates every token issued before.
    pub async fn set_password(
        &self,
        id: i64,
        hashed_password: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let sql = format!(
            "UPDATE users SET hashed_password = $2, token_version = token_version + 1, \
             updated_at = $3 WHERE id = $1 RETURNING {COLUMNS}"
        );
        with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id)
            .bind(hashed_password)
            .bind(now)
            .fetch_optional(pool)
            .await)
    }

    /// Records a refresh token so that it can be used exactly once.
    pub async fn insert_refresh_token(
        &self,
        jti: &str,
        user_id: i64,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1 AND (expires_at < $2 OR used_at IS NOT NULL)")
                .bind(user_id)
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO refresh_tokens (jti, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(jti)
            .bind(user_id)
            .bind(expires_at)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// Marks a refresh token used. False when it is unknown, expired or already used,
    /// so of two concurrent refreshes with one token only one succeeds.
    pub async fn consume_refresh_token(
        &self,
        jti: &str,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE refresh_tokens SET used_at = $3 \
             WHERE jti = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(jti)
        .bind(user_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() == 1))
    }
}

/// Counts admins that can still log in; checked inside the transaction that might
/// remove one.
const ACTIVE_ADMINS: &str = "SELECT COUNT(*) FROM users WHERE role = 'admin' AND is_active = TRUE";

/// On PostgreSQL, serialises every change that could remove an admin, so two admins
/// demoting each other concurrently cannot both succeed. SQLite serialises writers
/// already (the first UPDATE takes the write lock).
const LOCK_ADMINS: &str = "SELECT pg_advisory_xact_lock(727002)";
