//! Per-grant quotas (`max_queries`, `max_bytes`) that hold across sessions and instances
//! without a store round-trip per statement.
//!
//! Each session holds, per counter, an [`Allowance`]: units already charged to the grant in
//! the store, spent locally one statement (or one result message) at a time. When it runs dry,
//! it reserves another block ([`QuotaConfig`]; less when the grant has less left) with one
//! compare-and-set on the grant row. Units are **charged when reserved**: a session's clean end
//! gives the unused rest back ([`Allowance::release`]); after a crash the block stays spent, so
//! nothing is ever refunded by accident and no usage is lost on restart.
//!
//! Exactness: a statement runs only with a unit in hand, so the statements executed on a grant
//! never exceed `max_queries`, whatever the number of sessions or dbward instances sharing the
//! store. While sessions hold unspent units, others may be refused early: at most
//! `sessions × block` units below the limit, until those sessions end. Bytes: a result message
//! (PostgreSQL `DataRow`/`CopyData`, MySQL row packets) is relayed only if its whole size is in
//! hand, so `used_bytes` never passes `max_bytes` either.
//!
//! Grants without a limit are counted the same way (with larger blocks), so usage is always
//! visible.

use crate::store::{QuotaKind, Store, StoreError};

/// Block sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// Statements reserved at a time on a grant with `max_queries`.
    pub block_queries: i64,
    /// Result bytes reserved at a time on a grant with `max_bytes`.
    pub block_bytes: i64,
    /// Statements reserved at a time on a grant without a limit (only counting).
    pub unlimited_block_queries: i64,
    /// Bytes reserved at a time on a grant without a limit.
    pub unlimited_block_bytes: i64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            block_queries: 10,
            block_bytes: 1024 * 1024,
            unlimited_block_queries: 1000,
            unlimited_block_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The grant's limit ran out.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// Nothing left under the limit.
    #[error("{0}")]
    Exhausted(String),
    /// The store could not be reached: fail closed.
    #[error("quota check failed: {0}")]
    Store(#[from] StoreError),
}

/// Units of one counter of one grant held by one session.
#[derive(Debug)]
pub struct Allowance {
    store: Store,
    grant_id: i64,
    kind: QuotaKind,
    limit: Option<i64>,
    block: i64,
    held: i64,
    /// Units spent by this session so far (its statements, its result bytes).
    spent: i64,
}

impl Allowance {
    /// An empty allowance for `kind` on a grant whose limit is `limit`.
    #[must_use]
    pub fn new(
        store: Store,
        grant_id: i64,
        kind: QuotaKind,
        limit: Option<i64>,
        config: &QuotaConfig,
    ) -> Self {
        let block = match (kind, limit) {
            (QuotaKind::Queries, Some(_)) => config.block_queries,
            (QuotaKind::Bytes, Some(_)) => config.block_bytes,
            (QuotaKind::Queries, None) => config.unlimited_block_queries,
            (QuotaKind::Bytes, None) => config.unlimited_block_bytes,
        }
        .max(1);
        Self {
            store,
            grant_id,
            kind,
            limit,
            block,
            held: 0,
            spent: 0,
        }
    }

    /// Units this session has spent (for the session-end audit row).
    #[must_use]
    pub fn spent(&self) -> i64 {
        self.spent
    }

    /// Spends `n` units from what is held, without I/O; `false` if not enough is held.
    #[inline]
    pub fn try_take(&mut self, n: i64) -> bool {
        if self.held >= n {
            self.held -= n;
            self.spent += n;
            true
        } else {
            false
        }
    }

    /// Spends `n` units, reserving more from the store as needed.
    pub async fn take(&mut self, n: i64) -> Result<(), QuotaError> {
        if self.try_take(n) {
            return Ok(());
        }
        let want = (n - self.held).max(self.block);
        let got = self
            .store
            .reserve_quota(self.grant_id, self.kind, want)
            .await?;
        self.held += got;
        if self.try_take(n) {
            Ok(())
        } else {
            Err(QuotaError::Exhausted(self.exhausted_message()))
        }
    }

    fn exhausted_message(&self) -> String {
        let limit = self.limit.unwrap_or_default();
        match self.kind {
            QuotaKind::Queries => {
                format!("query quota exhausted: this grant allows {limit} statements")
            }
            QuotaKind::Bytes => {
                format!("byte quota exhausted: this grant allows {limit} bytes of results")
            }
        }
    }

    /// Gives the units still held back to the grant.
    pub async fn release(&mut self) {
        let unused = std::mem::take(&mut self.held);
        if let Err(e) = self
            .store
            .release_quota(self.grant_id, self.kind, unused)
            .await
        {
            tracing::warn!(error = %e, grant = self.grant_id, "cannot return unused quota; it stays charged");
        }
    }
}
