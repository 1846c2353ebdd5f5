//! Grants: one user's access to one database in a time window, with optional quotas.
//!
//! A grant is never deleted: revoking sets `revoked_at`/`revoked_by`. Several active grants of one
//! user on one database may overlap; a new session takes the highest level (ties: the latest
//! `expires_at`) — see [`Store::active_grant`]. Usage counters live on the row; the policy issue
//! reserves quota in blocks against them.

use serde::Deserialize;
use serde_json::json;

use time::OffsetDateTime;

use super::audit::insert_admin_audit;
use super::{Actor, AdminAuditEntry, Store, StoreError, now_micros, on_backend};
use crate::model::{AccessLevel, Grant};
use crate::time::{from_micros, to_micros};

/// A grant to create.
#[derive(Debug, Clone)]
pub struct GrantInput {
    /// The user.
    pub user_id: i64,
    /// The database.
    pub database_id: i64,
    /// What it allows.
    pub access_level: AccessLevel,
    /// Start (inclusive).
    pub starts_at: OffsetDateTime,
    /// End (exclusive); after `starts_at`.
    pub expires_at: OffsetDateTime,
    /// Statement quota (>= 0), or unlimited.
    pub max_queries: Option<i64>,
    /// Result-byte quota (>= 0), or unlimited.
    pub max_bytes: Option<i64>,
    /// Upstream statement timeout in milliseconds (> 0), or none.
    pub statement_timeout_ms: Option<i64>,
}

/// Filters for [`Store::list_grants`]; every field optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantFilter {
    /// Only this user's grants.
    pub user_id: Option<i64>,
    /// Only grants on this database.
    pub database_id: Option<i64>,
    /// `true`: only grants active now; `false`: only grants not active now.
    pub active: Option<bool>,
}

const SELECT_GRANT: &str = "SELECT id, user_id, database_id, access_level, starts_at, \
     expires_at, max_queries, max_bytes, statement_timeout_ms, used_queries, used_bytes, created_by, created_at, \
     revoked_at, revoked_by FROM grants";

/// SQL ranking of access levels, for "highest level first".
const LEVEL_RANK: &str = "CASE access_level WHEN 'admin' THEN 4 WHEN 'ddl' THEN 3 \
     WHEN 'write' THEN 2 ELSE 1 END";

fn grant_row<R: sqlx::Row>(r: &R) -> Result<Grant, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let level: String = r.try_get("access_level")?;
    let revoked_at: Option<i64> = r.try_get("revoked_at")?;
    Ok(Grant {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        database_id: r.try_get("database_id")?,
        access_level: level.parse().map_err(|_| sqlx::Error::ColumnDecode {
            index: "access_level".into(),
            source: "invalid stored access level".into(),
        })?,
        starts_at: from_micros(r.try_get("starts_at")?),
        expires_at: from_micros(r.try_get("expires_at")?),
        max_queries: r.try_get("max_queries")?,
        max_bytes: r.try_get("max_bytes")?,
        statement_timeout_ms: r.try_get("statement_timeout_ms")?,
        used_queries: r.try_get("used_queries")?,
        used_bytes: r.try_get("used_bytes")?,
        created_by: r.try_get("created_by")?,
        created_at: from_micros(r.try_get("created_at")?),
        revoked_at: revoked_at.map(from_micros),
        revoked_by: r.try_get("revoked_by")?,
    })
}

impl Store {
    /// Grants matching `filter`, newest first; `now` decides `active`.
    pub async fn list_grants(
        &self,
        filter: &GrantFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<Grant>, StoreError> {
        let active_sql = match filter.active {
            None => "",
            Some(true) => " AND revoked_at IS NULL AND starts_at <= $3 AND expires_at > $3",
            Some(false) => " AND NOT (revoked_at IS NULL AND starts_at <= $3 AND expires_at > $3)",
        };
        let sql = format!(
            "{SELECT_GRANT} WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR database_id = $2) \
             AND $3 = $3{active_sql} ORDER BY id DESC"
        );
        on_backend!(self, read, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(filter.user_id)
                .bind(filter.database_id)
                .bind(to_micros(now))
                .fetch_all(pool)
                .await?
                .iter()
                .map(grant_row)
                .collect::<Result<_, _>>()
                .map_err(StoreError::from)
        })
    }

    /// One grant.
    pub async fn get_grant(&self, id: i64) -> Result<Grant, StoreError> {
        on_backend!(self, read, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_GRANT} WHERE id = $1")))
                .bind(id)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound("grant"))?;
            Ok(grant_row(&row)?)
        })
    }

    /// The grant a new session of `user_id` on `database_id` takes at `now`: active, highest
    /// level first, then the latest `expires_at`.
    pub async fn active_grant(
        &self,
        user_id: i64,
        database_id: i64,
        now: OffsetDateTime,
    ) -> Result<Option<Grant>, StoreError> {
        let sql = format!(
            "{SELECT_GRANT} WHERE user_id = $1 AND database_id = $2 AND revoked_at IS NULL \
             AND starts_at <= $3 AND expires_at > $3 \
             ORDER BY {LEVEL_RANK} DESC, expires_at DESC, id DESC LIMIT 1"
        );
        on_backend!(self, read, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .bind(database_id)
                .bind(to_micros(now))
                .fetch_optional(pool)
                .await?;
            Ok(row.as_ref().map(grant_row).transpose()?)
        })
    }

    /// Creates a grant after checking its window, quotas, user and database.
    pub async fn create_grant(
        &self,
        actor: &Actor,
        input: &GrantInput,
    ) -> Result<Grant, StoreError> {
        if input.expires_at <= input.starts_at {
            return Err(StoreError::Invalid(
                "expires_at must be after starts_at".into(),
            ));
        }
        if input.max_queries.is_some_and(|q| q < 0) || input.max_bytes.is_some_and(|b| b < 0) {
            return Err(StoreError::Invalid("quotas cannot be negative".into()));
        }
        if input
            .statement_timeout_ms
            .is_some_and(|t| !(1..=i64::from(i32::MAX)).contains(&t))
        {
            return Err(StoreError::Invalid(
                "statement_timeout_ms must be between 1 and 2147483647".into(),
            ));
        }
        let user = self.get_user(input.user_id).await?;
        if user.deleted_at.is_some() {
            return Err(StoreError::NotFound("user"));
        }
        let db = self.get_database(input.database_id).await?;
        let id: i64 = on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO grants (user_id, database_id, access_level, starts_at, expires_at, \
                 max_queries, max_bytes, created_by, created_at, statement_timeout_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(input.user_id)
            .bind(input.database_id)
            .bind(input.access_level.as_str())
            .bind(to_micros(input.starts_at))
            .bind(to_micros(input.expires_at))
            .bind(input.max_queries)
            .bind(input.max_bytes)
            .bind(actor.user_id)
            .bind(now_micros())
            .bind(input.statement_timeout_ms)
            .fetch_one(&mut *tx)
            .await?;
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "grant.create",
                    "grant",
                    Some(id),
                    json!({
                        "user": user.username, "user_id": user.id,
                        "database": db.name, "database_id": db.id,
                        "access_level": input.access_level,
                        "starts_at": crate::time::format_rfc3339(input.starts_at),
                        "expires_at": crate::time::format_rfc3339(input.expires_at),
                        "max_queries": input.max_queries, "max_bytes": input.max_bytes,
                        "statement_timeout_ms": input.statement_timeout_ms,
                    })
                )
            )?;
            tx.commit().await?;
            id
        });
        self.get_grant(id).await
    }

    /// Revokes a grant (keeps the row). Revoking twice is a conflict.
    pub async fn revoke_grant(&self, actor: &Actor, id: i64) -> Result<Grant, StoreError> {
        let grant = self.get_grant(id).await?;
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE grants SET revoked_at = $1, revoked_by = $2 \
                 WHERE id = $3 AND revoked_at IS NULL",
            )
            .bind(now_micros())
            .bind(actor.user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict("grant is already revoked".into()));
            }
            insert_admin_audit!(
                self,
                &mut *tx,
                actor,
                &AdminAuditEntry::success(
                    "grant.revoke",
                    "grant",
                    Some(id),
                    json!({
                        "user_id": grant.user_id, "database_id": grant.database_id,
                        "access_level": grant.access_level,
                    })
                )
            )?;
            tx.commit().await?;
        });
        self.get_grant(id).await
    }
}
