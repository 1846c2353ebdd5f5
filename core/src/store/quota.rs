//! Quota usage counters on the grant row, moved in blocks (see [`crate::quota`]).
//!
//! A reservation is one conditional `UPDATE` when the whole block fits under the limit; near
//! the limit, a compare-and-set takes what is left: read `used` and the limit, then add only
//! if `used` has not moved meanwhile, else read again. It needs no row lock syntax (identical SQL
//! on SQLite and PostgreSQL) and stays exact with any number of sessions and dbward instances
//! on one store: two reservations can never both take the last units.

use super::{Store, StoreError, on_backend};

/// Which counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// Statements (`used_queries` against `max_queries`).
    Queries,
    /// Result bytes (`used_bytes` against `max_bytes`).
    Bytes,
}

impl QuotaKind {
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Self::Queries => ("used_queries", "max_queries"),
            Self::Bytes => ("used_bytes", "max_bytes"),
        }
    }
}

/// Store round-trips made by quota reservations in this process (for the tests' and the
/// benchmark's round-trips-per-statement figure).
static ROUND_TRIPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Store round-trips made by quota reservations and releases so far in this process.
#[must_use]
pub fn quota_round_trips() -> u64 {
    ROUND_TRIPS.load(std::sync::atomic::Ordering::Relaxed)
}

fn count_round_trip() {
    ROUND_TRIPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Compare-and-set attempts before giving up (only reached under extreme contention).
const MAX_ATTEMPTS: usize = 64;

impl Store {
    /// Charges up to `want` units of `kind` to grant `grant_id` and returns how many were
    /// charged: `want`, or what is left under the limit (0 when exhausted).
    pub async fn reserve_quota(
        &self,
        grant_id: i64,
        kind: QuotaKind,
        want: i64,
    ) -> Result<i64, StoreError> {
        let (used_col, max_col) = kind.columns();
        // The common case in one atomic statement: the whole block fits under the limit.
        let whole = format!(
            "UPDATE grants SET {used_col} = {used_col} + $1 \
             WHERE id = $2 AND ({max_col} IS NULL OR {used_col} + $1 <= {max_col})"
        );
        count_round_trip();
        let done = on_backend!(self, write, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(whole))
                .bind(want)
                .bind(grant_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 1 {
            return Ok(want);
        }
        // Near the limit: take what is left, by compare-and-set.
        let select = format!("SELECT {used_col}, {max_col} FROM grants WHERE id = $1");
        let update = format!(
            "UPDATE grants SET {used_col} = {used_col} + $1 WHERE id = $2 AND {used_col} = $3"
        );
        for _ in 0..MAX_ATTEMPTS {
            count_round_trip();
            let (used, max): (i64, Option<i64>) = on_backend!(self, read, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
                    .bind(grant_id)
                    .fetch_optional(pool)
                    .await?
                    .ok_or(StoreError::NotFound("grant"))?
            });
            let granted = max.map_or(want, |m| want.min(m - used).max(0));
            if granted == 0 {
                return Ok(0);
            }
            count_round_trip();
            let done = on_backend!(self, write, |pool| {
                sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind(granted)
                    .bind(grant_id)
                    .bind(used)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            if done == 1 {
                return Ok(granted);
            }
        }
        Err(StoreError::Conflict(
            "quota counter too contended; try again".into(),
        ))
    }

    /// Gives back units charged by [`Store::reserve_quota`] and not used (a clean session end).
    pub async fn release_quota(
        &self,
        grant_id: i64,
        kind: QuotaKind,
        unused: i64,
    ) -> Result<(), StoreError> {
        if unused <= 0 {
            return Ok(());
        }
        let (used_col, _) = kind.columns();
        let sql = format!(
            "UPDATE grants SET {used_col} = CASE WHEN {used_col} > $1 THEN {used_col} - $1 ELSE 0 END \
             WHERE id = $2"
        );
        count_round_trip();
        on_backend!(self, write, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(unused)
                .bind(grant_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
