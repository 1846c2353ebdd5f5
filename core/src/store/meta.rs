//! Store-wide facts: the sealed check value that ties a store to its master key, and the
//! instance-independent settings later issues add.

use super::{Store, StoreError, on_backend};
use crate::crypto::{MasterKey, seal};

/// The key under which the check value is kept in `meta`.
const CHECK_KEY: &str = "master_key_check";
/// Associated data for the check value.
const CHECK_AAD: &str = "dbward/master-key-check";
/// What the check value seals.
const CHECK_PLAINTEXT: &[u8] = b"dbward master key check v1";

/// Outcome of [`Store::verify_master_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// The store had no check value; one was written under this key.
    Initialized,
    /// The stored check value opens with this key.
    Matches,
}

impl Store {
    /// Verifies that `key` is the store's master key, writing the check value on a new store.
    /// A wrong key fails here, at start-up, instead of corrupting data later.
    pub async fn verify_master_key(&self, key: &MasterKey) -> Result<KeyCheck, StoreError> {
        let existing: Option<String> = on_backend!(self, write, |pool| {
            sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                .bind(CHECK_KEY)
                .fetch_optional(pool)
                .await?
        });
        if let Some(sealed) = existing {
            let opened = seal::open(key, CHECK_AAD, &sealed);
            if opened.is_ok_and(|plain| plain.expose().as_slice() == CHECK_PLAINTEXT) {
                return Ok(KeyCheck::Matches);
            }
            return Err(StoreError::Invalid(format!(
                "the master key (id {}) does not match this store: it was initialised with \
                 another key. Supply the original DBWARD_SECRET_KEY or secret.key",
                key.id()
            )));
        }
        let sealed = seal::seal(key, CHECK_AAD, CHECK_PLAINTEXT);
        // ON CONFLICT DO NOTHING + re-check: two instances starting at once on a new
        // PostgreSQL store must agree on one value.
        on_backend!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(CHECK_KEY)
            .bind(&sealed)
            .execute(pool)
            .await?;
        });
        // Matches now: whether our value or a concurrent instance's, the store is bound.
        Box::pin(self.verify_master_key(key))
            .await
            .map(|_| KeyCheck::Initialized)
    }
}
