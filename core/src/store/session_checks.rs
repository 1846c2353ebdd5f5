//! What the session watcher asks the store on each tick, for all live sessions at once: which
//! of their grants are revoked, which users may still log in, and the connection version of
//! each database. A few queries per tick however many sessions are open (one `IN` list per
//! table and [`MAX_IDS_PER_QUERY`] ids), instead of three or four per session.

use std::collections::{HashMap, HashSet};

use super::{MAX_IDS_PER_QUERY, Store, StoreError, on_backend, placeholders};

/// The store's answer for a set of grants, users and databases.
#[derive(Debug, Default)]
pub struct SessionFacts {
    /// Grants that exist, with whether each is revoked.
    pub grants: HashMap<i64, bool>,
    /// Users that exist, are not deleted and are enabled.
    pub usable_users: HashSet<i64>,
    /// Live databases, with their connection version.
    pub databases: HashMap<i64, u64>,
}

impl Store {
    /// The facts about `grants`, `users` and `databases` (ids may repeat).
    pub async fn session_facts(
        &self,
        grants: &[i64],
        users: &[i64],
        databases: &[i64],
    ) -> Result<SessionFacts, StoreError> {
        let mut facts = SessionFacts::default();
        for ids in distinct(grants).chunks(MAX_IDS_PER_QUERY) {
            let sql = format!(
                "SELECT id, revoked_at FROM grants WHERE id IN ({})",
                placeholders(ids.len())
            );
            let rows: Vec<(i64, Option<i64>)> = on_backend!(self, read, |pool| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            facts.grants.extend(
                rows.into_iter()
                    .map(|(id, revoked)| (id, revoked.is_some())),
            );
        }
        for ids in distinct(users).chunks(MAX_IDS_PER_QUERY) {
            let sql = format!(
                "SELECT id FROM users WHERE deleted_at IS NULL AND enabled AND id IN ({})",
                placeholders(ids.len())
            );
            let rows: Vec<i64> = on_backend!(self, read, |pool| {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            facts.usable_users.extend(rows);
        }
        for ids in distinct(databases).chunks(MAX_IDS_PER_QUERY) {
            facts.databases.extend(
                self.databases_by_ids(ids)
                    .await?
                    .into_iter()
                    .map(|db| (db.id, db.connection_version)),
            );
        }
        Ok(facts)
    }
}

fn distinct(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids
}
