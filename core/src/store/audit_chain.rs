//! The audit chain in the store: binding an instance's chain, verifying every chain, pruning
//! with checkpoints. The link arithmetic is [`crate::audit::chain`]'s.

use serde::Serialize;
use sqlx::Row as _;

use super::audit::{AppendAudit as _, record_from_row};
use super::{Actor, AdminAuditEntry, Store, StoreError, on_backend};
use crate::audit::chain::{ChainKey, Head, LinkFields, from_hex, to_hex};

/// This instance's chain: its id and key.
#[derive(Debug)]
pub struct ChainState {
    /// The chain id (the instance id).
    pub instance_id: String,
    /// The chain key.
    pub key: ChainKey,
}

/// What verification found, for every chain in the store.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// Every chain verified and no row stands outside a chain.
    pub ok: bool,
    /// One entry per instance.
    pub chains: Vec<ChainReport>,
    /// Rows that belong to no chain (inserted by something other than dbward).
    pub unchained_rows: i64,
    /// The first such row's id.
    pub first_unchained_id: Option<i64>,
}

/// One chain's verification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChainReport {
    /// The instance.
    pub instance_id: String,
    /// Links checked.
    pub rows: i64,
    /// Where the chain starts now (after the last checkpoint; 1 if never pruned).
    pub first_seq: i64,
    /// The last link checked.
    pub last_seq: i64,
    /// The checkpoint verification started from, if the chain was pruned.
    pub checkpoint_seq: Option<i64>,
    /// The first broken link, if any.
    pub error: Option<ChainBreak>,
}

/// The first broken link of a chain.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChainBreak {
    /// The position where the chain breaks.
    pub seq: i64,
    /// The row at fault, when there is one (none for missing rows).
    pub id: Option<i64>,
    /// What is wrong.
    pub message: String,
}

/// A stored link with the fields it covers.
struct StoredLink {
    id: i64,
    seq: i64,
    key_id: Option<String>,
    hmac: Option<String>,
    record: super::AuditRecord,
    at_micros: i64,
}

impl StoredLink {
    fn fields<'a>(&'a self, instance_id: &'a str, seq: i64, details: &'a str) -> LinkFields<'a> {
        let r = &self.record;
        LinkFields {
            instance_id,
            seq,
            at: self.at_micros,
            kind: &r.kind,
            actor_user_id: r.actor_user_id,
            actor_username: r.actor_username.as_deref(),
            client_addr: r.client_addr.as_deref(),
            action: &r.action,
            entity_type: r.entity_type.as_deref(),
            entity_id: r.entity_id.as_deref(),
            outcome: &r.outcome,
            details: Some(details),
            session_id: r.session_id.as_deref(),
            database: r.database.as_deref(),
            grant_id: r.grant_id,
            statement: r.statement.as_deref(),
        }
    }
}

/// Rows read per page while verifying.
const PAGE: i64 = 1000;

/// The columns a link check reads (the details text exactly as stored).
const LINK_COLUMNS: &str = "id, at, kind, actor_user_id, actor_username, client_addr, action, \
     entity_type, entity_id, outcome, details, instance_id, seq, key_id, hmac, session_id, \
     database_name, grant_id, statement";

impl Store {
    /// This instance's chain, once bound.
    pub(crate) fn audit_chain(&self) -> Option<&ChainState> {
        self.chain.as_deref()
    }

    /// The instance whose chain this handle writes, once bound.
    #[must_use]
    pub fn audit_instance_id(&self) -> Option<&str> {
        self.chain.as_deref().map(|c| c.instance_id.as_str())
    }

    /// Binds this store handle to `instance_id`'s chain under `key`: creates the chain head on
    /// first use, and links rows written before the chain existed (an upgraded store) into it,
    /// oldest first. Every audit row written through the returned handle is a link.
    pub async fn bind_audit_chain(
        mut self,
        key: ChainKey,
        instance_id: String,
    ) -> Result<Self, StoreError> {
        let genesis = to_hex(&key.genesis(&instance_id));
        // Rows without a chain are adopted only when the store has no chain at all (the
        // upgrade that introduced chains); later, an unchained row is foreign and verification
        // reports it rather than laundering it into a chain.
        let first_chain = on_backend!(self, write, |pool| {
            let chains: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_chain")
                .fetch_one(pool)
                .await?;
            sqlx::query(
                "INSERT INTO audit_chain (instance_id, seq, hash) VALUES ($1, 0, $2) \
                 ON CONFLICT (instance_id) DO NOTHING",
            )
            .bind(&instance_id)
            .bind(&genesis)
            .execute(pool)
            .await?;
            chains == 0
        });
        self.chain = Some(std::sync::Arc::new(ChainState { instance_id, key }));
        if first_chain {
            self.adopt_unchained().await?;
        }
        Ok(self)
    }

    /// Links rows that belong to no chain (written before the chain existed) into this
    /// instance's chain.
    async fn adopt_unchained(&self) -> Result<(), StoreError> {
        let Some(c) = self.audit_chain() else {
            return Ok(());
        };
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(
                "UPDATE audit_chain SET seq = seq WHERE instance_id = $1 RETURNING seq, hash",
            )
            .bind(&c.instance_id)
            .fetch_one(&mut *tx)
            .await?;
            let (mut seq, hash): (i64, String) = (row.try_get("seq")?, row.try_get("hash")?);
            let mut link = from_hex(&hash).ok_or_else(|| {
                StoreError::Invalid("the audit chain head is not a valid hash".into())
            })?;
            let sql = format!(
                "SELECT {LINK_COLUMNS} FROM audit_log WHERE instance_id IS NULL ORDER BY id"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut *tx)
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            for r in &rows {
                let stored = stored_link(r)?;
                seq += 1;
                let details = stored_details(r)?;
                link = c
                    .key
                    .link(&link, &stored.fields(&c.instance_id, seq, &details));
                sqlx::query(
                    "UPDATE audit_log SET instance_id = $2, seq = $3, key_id = $4, hmac = $5 \
                     WHERE id = $1",
                )
                .bind(stored.id)
                .bind(&c.instance_id)
                .bind(seq)
                .bind(c.key.key_id())
                .bind(to_hex(&link))
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE audit_chain SET seq = $2, hash = $3 WHERE instance_id = $1")
                .bind(&c.instance_id)
                .bind(seq)
                .bind(to_hex(&link))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(
                rows = rows.len(),
                "linked earlier audit rows into the chain"
            );
        });
        Ok(())
    }

    /// This instance's chain head as committed (for the head file).
    pub async fn audit_head(&self) -> Result<Option<Head>, StoreError> {
        let Some(c) = self.audit_chain() else {
            return Ok(None);
        };
        on_backend!(self, read, |pool| {
            let row = sqlx::query("SELECT seq, hash FROM audit_chain WHERE instance_id = $1")
                .bind(&c.instance_id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                Ok(Head {
                    instance_id: c.instance_id.clone(),
                    seq: r.try_get("seq")?,
                    hash: r.try_get("hash")?,
                })
            })
            .transpose()
            .map_err(StoreError::Database)
        })
    }

    /// Verifies every chain in the store with `key`: each link against its row, positions
    /// without gaps from the chain's start (genesis, or its latest sealed checkpoint) to its
    /// head, and the head against the `audit_chain` row and, for this instance, `head_file`
    /// (the head as last recorded outside the store). Reports the first broken link per chain.
    pub async fn verify_audit(
        &self,
        key: &ChainKey,
        head_file: Option<&Head>,
    ) -> Result<VerifyReport, StoreError> {
        let heads: Vec<(String, i64, String)> = on_backend!(self, read, |pool| {
            sqlx::query_as(
                "SELECT instance_id, seq, hash FROM audit_chain \
                 UNION SELECT DISTINCT instance_id, -1, '' FROM audit_log \
                 WHERE instance_id IS NOT NULL \
                 AND instance_id NOT IN (SELECT instance_id FROM audit_chain) \
                 ORDER BY 1",
            )
            .fetch_all(pool)
            .await?
        });
        let mut chains = Vec::with_capacity(heads.len());
        for (instance_id, head_seq, head_hash) in heads {
            let file = head_file.filter(|h| h.instance_id == instance_id);
            chains.push(
                self.verify_chain(key, &instance_id, head_seq, &head_hash, file, None)
                    .await?,
            );
        }
        let (unchained_rows, first_unchained_id): (i64, Option<i64>) =
            on_backend!(self, read, |pool| {
                sqlx::query_as(
                    "SELECT COUNT(*), MIN(id) FROM audit_log WHERE instance_id IS NULL \
                     OR seq IS NULL OR hmac IS NULL",
                )
                .fetch_one(pool)
                .await?
            });
        Ok(VerifyReport {
            ok: unchained_rows == 0 && chains.iter().all(|c| c.error.is_none()),
            chains,
            unchained_rows,
            first_unchained_id,
        })
    }

    /// Verifies one chain, up to `until_seq` when given (pruning checks what it deletes).
    async fn verify_chain(
        &self,
        key: &ChainKey,
        instance_id: &str,
        head_seq: i64,
        head_hash: &str,
        head_file: Option<&Head>,
        until_seq: Option<i64>,
    ) -> Result<ChainReport, StoreError> {
        let mut report = ChainReport {
            instance_id: instance_id.to_owned(),
            rows: 0,
            first_seq: 1,
            last_seq: 0,
            checkpoint_seq: None,
            error: None,
        };
        let brk = |seq, id, message: String| Some(ChainBreak { seq, id, message });
        let mut link = key.genesis(instance_id);
        if let Some((seq, hash, at, key_id, mac)) = self.latest_checkpoint(instance_id).await? {
            report.checkpoint_seq = Some(seq);
            let Some(hash) = from_hex(&hash) else {
                report.error = brk(seq, None, "the checkpoint's hash is malformed".into());
                return Ok(report);
            };
            if key_id != key.key_id()
                || from_hex(&mac) != Some(key.checkpoint_mac(instance_id, seq, &hash, at))
            {
                report.error = brk(
                    seq,
                    None,
                    "the checkpoint does not match its MAC: forged or altered".into(),
                );
                return Ok(report);
            }
            link = hash;
            report.first_seq = seq + 1;
            report.last_seq = seq;
        }
        let mut expected = report.first_seq;
        let mut file_hash_at_seq: Option<String> = None;
        'pages: loop {
            let page = self.chain_page(instance_id, expected - 1).await?;
            if page.is_empty() {
                break;
            }
            for (stored, details) in &page {
                if until_seq.is_some_and(|u| stored.seq > u) {
                    break 'pages;
                }
                if stored.seq != expected {
                    report.error = brk(
                        expected,
                        None,
                        format!(
                            "links {expected} to {} are missing: rows were deleted",
                            stored.seq - 1
                        ),
                    );
                    return Ok(report);
                }
                if stored.key_id.as_deref() != Some(key.key_id()) {
                    report.error = brk(
                        expected,
                        Some(stored.id),
                        "the row is linked under another master key".into(),
                    );
                    return Ok(report);
                }
                let computed = key.link(&link, &stored.fields(instance_id, stored.seq, details));
                if stored.hmac.as_deref().and_then(from_hex) != Some(computed) {
                    report.error = brk(
                        expected,
                        Some(stored.id),
                        format!(
                            "row {} does not match its link: it was edited, reordered or forged",
                            stored.id
                        ),
                    );
                    return Ok(report);
                }
                link = computed;
                if head_file.is_some_and(|h| h.seq == stored.seq) {
                    file_hash_at_seq = Some(to_hex(&link));
                }
                report.rows += 1;
                report.last_seq = expected;
                expected += 1;
            }
        }
        if until_seq.is_some() {
            return Ok(report);
        }
        if head_seq >= 0 && (head_seq != report.last_seq || head_hash != to_hex(&link)) {
            let message = if head_seq > report.last_seq {
                format!(
                    "the chain head is at {head_seq} but the rows end at {}: the last {} were \
                     deleted",
                    report.last_seq,
                    head_seq - report.last_seq
                )
            } else {
                format!(
                    "the chain head ({head_seq}) does not match the last row ({})",
                    report.last_seq
                )
            };
            report.error = brk(report.last_seq + 1, None, message);
            return Ok(report);
        }
        if let Some(file) = head_file {
            if file.seq > report.last_seq {
                report.error = brk(
                    report.last_seq + 1,
                    None,
                    format!(
                        "this instance's head file records link {} but the chain ends at {}: \
                         its tail was deleted",
                        file.seq, report.last_seq
                    ),
                );
            } else if file.seq >= report.first_seq
                && file_hash_at_seq.as_deref() != Some(file.hash.as_str())
            {
                report.error = brk(
                    file.seq,
                    None,
                    "the link at this instance's head file's position differs from the file: \
                     the chain was rewritten"
                        .into(),
                );
            }
        }
        Ok(report)
    }

    /// The latest checkpoint of a chain: (seq, hash, at, key id, mac).
    async fn latest_checkpoint(
        &self,
        instance_id: &str,
    ) -> Result<Option<(i64, String, i64, String, String)>, StoreError> {
        Ok(on_backend!(self, read, |pool| {
            sqlx::query_as(
                "SELECT seq, hash, at, key_id, mac FROM audit_checkpoints WHERE instance_id = $1 \
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(instance_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The next links of a chain after position `after`, in order, with their stored details.
    async fn chain_page(
        &self,
        instance_id: &str,
        after: i64,
    ) -> Result<Vec<(StoredLink, String)>, StoreError> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM audit_log WHERE instance_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        on_backend!(self, read, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(instance_id)
                .bind(after)
                .bind(PAGE)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((stored_link(r)?, stored_details(r)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }

    /// Prunes this instance's chain: links older than `before_at` (microseconds) and links
    /// beyond the newest `keep`. The pruned part is verified first (pruning never launders a
    /// broken chain); then a sealed checkpoint records the last pruned link, the rows go, and a
    /// `system` event records the pruning. Grant usage counters live on the grants, so pruning
    /// never refunds quota. Returns how many rows were pruned.
    pub async fn prune_audit(
        &self,
        before_at: Option<i64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        let Some(c) = self.audit_chain() else {
            return Ok(0);
        };
        let (head_seq, by_age): (i64, Option<i64>) = on_backend!(self, read, |pool| {
            let head: i64 =
                sqlx::query_scalar("SELECT seq FROM audit_chain WHERE instance_id = $1")
                    .bind(&c.instance_id)
                    .fetch_one(pool)
                    .await?;
            let by_age: Option<i64> = match before_at {
                Some(t) => {
                    sqlx::query_scalar(
                        "SELECT MAX(seq) FROM audit_log WHERE instance_id = $1 AND at < $2",
                    )
                    .bind(&c.instance_id)
                    .bind(t)
                    .fetch_one(pool)
                    .await?
                }
                None => None,
            };
            (head, by_age)
        });
        let by_count = keep.map(|k| head_seq.saturating_sub(i64::try_from(k).unwrap_or(i64::MAX)));
        let Some(cutoff) = by_age.max(by_count).filter(|c| *c > 0) else {
            return Ok(0);
        };
        let start = self
            .latest_checkpoint(&c.instance_id)
            .await?
            .map_or(0, |cp| cp.0);
        if cutoff <= start {
            return Ok(0);
        }
        let checked = self
            .verify_chain(&c.key, &c.instance_id, -1, "", None, Some(cutoff))
            .await?;
        if let Some(b) = checked.error {
            return Err(StoreError::Invalid(format!(
                "the audit chain is broken at link {} ({}): not pruning it",
                b.seq, b.message
            )));
        }
        let at = super::now_micros();
        let pruned = on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            let hash: String = sqlx::query_scalar(
                "SELECT hmac FROM audit_log WHERE instance_id = $1 AND seq = $2",
            )
            .bind(&c.instance_id)
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await?;
            let link = from_hex(&hash)
                .ok_or_else(|| StoreError::Invalid("a pruned link is malformed".into()))?;
            sqlx::query(
                "INSERT INTO audit_checkpoints (instance_id, seq, hash, at, key_id, mac) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&c.instance_id)
            .bind(cutoff)
            .bind(&hash)
            .bind(at)
            .bind(c.key.key_id())
            .bind(to_hex(&c.key.checkpoint_mac(
                &c.instance_id,
                cutoff,
                &link,
                at,
            )))
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query("DELETE FROM audit_log WHERE instance_id = $1 AND seq <= $2")
                .bind(&c.instance_id)
                .bind(cutoff)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let event = crate::audit::AuditEvent::admin(
                "system",
                &Actor::system(),
                &AdminAuditEntry::success(
                    "audit.prune",
                    "audit",
                    None,
                    serde_json::json!({ "pruned": done, "through_seq": cutoff }),
                ),
            );
            tx.append_audit(self.audit_chain(), std::slice::from_ref(&event))
                .await?;
            tx.commit().await?;
            done
        });
        Ok(pruned)
    }
}

fn stored_link<R>(r: &R) -> Result<StoredLink, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredLink {
        id: r.try_get("id")?,
        seq: r.try_get::<Option<i64>, _>("seq")?.unwrap_or(0),
        key_id: r.try_get("key_id")?,
        hmac: r.try_get("hmac")?,
        at_micros: r.try_get("at")?,
        record: record_from_row(r)?,
    })
}

/// The details text exactly as stored (the link covers the text, not its parsed JSON).
fn stored_details<R>(r: &R) -> Result<String, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(r.try_get::<Option<String>, _>("details")?
        .unwrap_or_default())
}
