//! The audit table: every row a link of its instance's HMAC chain ([`crate::audit::chain`]).
//!
//! - Admin rows are written in the same transaction as the change they describe
//!   ([`insert_admin_audit!`]); refused admin actions and connection events on their own;
//!   statement events in batches by the audit writer ([`Store::audit_events`]). All of them go
//!   through [`append_audit!`], which locks the instance's chain head (`audit_chain` row),
//!   links each row to the previous one and moves the head, inside the caller's transaction:
//!   a change and its audit row commit together or not at all, and appends of several
//!   instances on one PostgreSQL store never interleave within a chain.
//! - Listing with filters and a cursor ([`Store::list_audit`]); verification and pruning are in
//!   `audit_chain.rs`.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;
use sqlx::Row as _;
use time::OffsetDateTime;

use super::{Actor, Store, StoreError, on_backend};
use crate::time::from_micros;

/// Whether the audited action took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// It did.
    Success,
    /// It was refused or failed; nothing changed.
    Failure,
}

impl AuditOutcome {
    /// Stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// What an admin did, for the audit row. `details` must never hold a secret: callers pass
/// before/after summaries built from types that carry none.
#[derive(Debug, Clone)]
pub struct AdminAuditEntry {
    /// Dotted action name, e.g. `user.create`, `grant.revoke`.
    pub action: std::borrow::Cow<'static, str>,
    /// Entity kind, e.g. `user`.
    pub entity_type: &'static str,
    /// Entity id, when known (shared: a session's events all name the same one).
    pub entity_id: Option<Arc<str>>,
    /// Success or failure.
    pub outcome: AuditOutcome,
    /// A JSON summary (before/after, reason for a failure).
    pub details: serde_json::Value,
}

impl AdminAuditEntry {
    /// A successful action on `entity_type` number `entity_id`.
    #[must_use]
    pub fn success(
        action: &'static str,
        entity_type: &'static str,
        entity_id: Option<i64>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            action: action.into(),
            entity_type,
            entity_id: entity_id.map(|id| id.to_string().into()),
            outcome: AuditOutcome::Success,
            details,
        }
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Position in the store (the listing's cursor).
    pub id: i64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Event family: `admin` (admin API), `connection` (proxy logins and session ends),
    /// `statement` (every statement with its decision) or `system` (dbward itself: pruning).
    pub kind: String,
    /// Acting user's id.
    pub actor_user_id: Option<i64>,
    /// Acting user's name at the time.
    pub actor_username: Option<String>,
    /// Client address.
    pub client_addr: Option<String>,
    /// What was done (`user.create`, `connection.authenticated`, `statement.allowed`...).
    pub action: String,
    /// Entity kind.
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// `success` or `failure` (for statements: allowed or denied).
    pub outcome: String,
    /// Proxy session id (connection and statement events).
    pub session_id: Option<String>,
    /// dbward database name (connection and statement events).
    pub database: Option<String>,
    /// Grant in use.
    pub grant_id: Option<i64>,
    /// Statement text as stored (bounded, passwords redacted). A statement row standing for
    /// several executions of one shape (`details.executions`): the first one's text, the
    /// others' in `details.more_statements`, in order.
    pub statement: Option<String>,
    /// JSON summary.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// The dbward instance whose chain holds this row.
    pub instance_id: Option<String>,
    /// Position in that chain (1, 2, 3...).
    pub seq: Option<i64>,
    /// The chain link: HMAC-SHA-256 over the previous link and this row (hex).
    pub hmac: Option<String>,
}

/// Filters of the audit listing and export; every field is optional and they combine with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// At or after (microseconds).
    pub from: Option<i64>,
    /// Before (microseconds).
    pub to: Option<i64>,
    /// Acting user's name.
    pub user: Option<String>,
    /// dbward database name.
    pub database: Option<String>,
    /// Grant id.
    pub grant_id: Option<i64>,
    /// Session id.
    pub session_id: Option<String>,
    /// Event family.
    pub kind: Option<String>,
    /// Action (exact).
    pub action: Option<String>,
    /// `success` / `failure`.
    pub outcome: Option<String>,
    /// Text the statement contains (case-insensitive).
    pub text: Option<String>,
}

/// Inserts an admin audit row on `$exec` (a transaction, so the row commits with the change).
macro_rules! insert_admin_audit {
    ($store:expr, $exec:expr, $actor:expr, $entry:expr) => {{
        let event = $crate::audit::AuditEvent::admin("admin", $actor, $entry);
        $crate::store::audit::AppendAudit::append_audit(
            $exec,
            $store.audit_chain(),
            std::slice::from_ref(&event),
        )
        .await
    }};
}
pub(crate) use insert_admin_audit;

/// One row as inserted: the event plus its chain position, link and serialized details.
struct LinkedRow<'a> {
    e: &'a crate::audit::AuditEvent,
    details: String,
    seq: Option<i64>,
    hmac: Option<String>,
}

/// Appending to the chain on a connection of either backend (inside the caller's transaction).
pub(crate) trait AppendAudit {
    /// Appends `events` to `chain` in order: locks the head, links and inserts the rows, moves
    /// the head. Without a chain (a store not bound to a key: tests of the store alone) the rows
    /// are inserted unlinked, and verification reports them.
    async fn append_audit(
        &mut self,
        chain: Option<&super::ChainState>,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), sqlx::Error>;
}

/// The audit columns in insert order.
///
/// `OR IGNORE`: a multi-row INSERT that may abort halfway (the chain's UNIQUE index, the NOT
/// NULL columns) makes SQLite keep a statement journal of every page it changes, about 2,000
/// instructions per row; one that ignores conflicts needs none. A row is still never skipped
/// silently: [`check_inserted`] turns a short count into an error, and the transaction is
/// rolled back.
const INSERT_COLUMNS: &str = "INSERT OR IGNORE INTO audit_log (at, kind, actor_user_id, actor_username, \
     client_addr, action, entity_type, entity_id, outcome, details, instance_id, seq, key_id, \
     hmac, session_id, database_name, grant_id, statement) VALUES ";

/// Rows per multi-row INSERT on SQLite, largest first: a batch goes in as few statements as
/// these sizes allow (sqlx runs each statement on the connection's worker thread, a thread
/// hand-off per statement), and only these few statement texts are ever prepared and cached.
/// Powers of two: a batch of n rows takes at most log2(n) + 1 statements below 128 rows (the
/// common batch since statement rows fold: a few rows per session and flush interval), where
/// 100/10/1 took up to 18. 64 rows bind 1,152 values, far below SQLite's 32,766.
const SQLITE_CHUNKS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// `INSERT ... VALUES (?, ...), ...` for `rows` rows (built once per chunk size).
fn sqlite_insert(rows: usize) -> &'static str {
    static TEXTS: std::sync::OnceLock<[String; SQLITE_CHUNKS.len()]> = std::sync::OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        SQLITE_CHUNKS.map(|n| {
            let row = format!("({})", ["?"; 18].join(", "));
            format!("{INSERT_COLUMNS}{}", vec![row; n].join(", "))
        })
    });
    let i = SQLITE_CHUNKS
        .iter()
        .position(|n| *n == rows)
        .expect("a chunk size");
    &texts[i]
}

/// The constant names of a batch (kinds, actions, outcomes), each allocated once.
#[derive(Default)]
struct StaticNames(Vec<(&'static str, Arc<str>)>);

impl StaticNames {
    fn get(&mut self, name: &'static str) -> Arc<str> {
        if let Some((_, a)) = self.0.iter().find(|(n, _)| std::ptr::eq(*n, name)) {
            return a.clone();
        }
        let a: Arc<str> = name.into();
        self.0.push((name, a.clone()));
        a
    }
}

/// An `OR IGNORE` insert that did not insert every row is an error (the transaction is then
/// rolled back): a row is never skipped silently.
fn check_inserted(inserted: u64, rows: usize) -> Result<(), sqlx::Error> {
    if usize::try_from(inserted).ok() == Some(rows) {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "the audit store took {inserted} of {rows} rows (a constraint refused the others)"
        )))
    }
}

/// The whole batch in one statement (PostgreSQL: one round trip, whatever the batch size).
const INSERT_UNNEST: &str = "INSERT INTO audit_log (at, kind, actor_user_id, actor_username, \
     client_addr, action, entity_type, entity_id, outcome, details, instance_id, seq, key_id, \
     hmac, session_id, database_name, grant_id, statement) \
     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], \
     $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[])";

/// Locks the chain head on `$conn`, links `events` ([`link_rows`]), evaluates `$insert` with
/// the rows bound to `rows`, and moves the head. Shared by both backends' impls.
macro_rules! append_with {
    ($conn:ident, $chain:expr, $events:expr, |$rows:ident| $insert:expr) => {{
        let chain: Option<&super::ChainState> = $chain;
        let head = match chain {
            Some(c) => {
                let row = sqlx::query(
                    "UPDATE audit_chain SET seq = seq WHERE instance_id = $1 RETURNING seq, hash",
                )
                .bind(&c.instance_id)
                .fetch_one(&mut *$conn)
                .await?;
                let seq: i64 = row.try_get("seq")?;
                let hash: String = row.try_get("hash")?;
                let link = crate::audit::chain::from_hex(&hash).ok_or_else(|| {
                    sqlx::Error::Protocol("the audit chain head is not a valid hash".into())
                })?;
                Some((c, seq, link))
            }
            None => None,
        };
        let ($rows, new_head) = link_rows(head, $events);
        $insert;
        if let (Some(c), Some((seq, link))) = (chain, new_head) {
            sqlx::query("UPDATE audit_chain SET seq = $2, hash = $3 WHERE instance_id = $1")
                .bind(&c.instance_id)
                .bind(seq)
                .bind(crate::audit::chain::to_hex(&link))
                .execute(&mut *$conn)
                .await?;
        }
        Ok(())
    }};
}

impl AppendAudit for sqlx::SqliteConnection {
    async fn append_audit(
        &mut self,
        chain: Option<&super::ChainState>,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), sqlx::Error> {
        let conn = self;
        append_with!(conn, chain, events, |rows| {
            // sqlx copies a borrowed string into a new allocation for every bind, but only
            // refcounts an `Arc<str>` and takes an owned `String` as it is: the session's
            // strings are shared already, the chain's ids and the constant names are shared
            // for the batch, and each row's own strings are moved.
            let instance: Option<Arc<str>> = chain.map(|c| c.instance_id.as_str().into());
            let key_id: Option<Arc<str>> = chain.map(|c| c.key.key_id().into());
            let mut names = StaticNames::default();
            let mut rest = rows.into_iter();
            while rest.len() > 0 {
                let n = *SQLITE_CHUNKS
                    .iter()
                    .find(|n| **n <= rest.len())
                    .expect("chunk sizes end at 1");
                let mut q = sqlx::query(sqlite_insert(n));
                for r in rest.by_ref().take(n) {
                    let e = r.e;
                    q = q
                        .bind(e.at)
                        .bind(names.get(e.kind))
                        .bind(e.actor.user_id)
                        .bind(e.actor.username.clone())
                        .bind(e.actor.client_addr.clone())
                        .bind(match &e.entry.action {
                            std::borrow::Cow::Borrowed(a) => names.get(a),
                            std::borrow::Cow::Owned(a) => a.as_str().into(),
                        })
                        .bind(names.get(e.entry.entity_type))
                        .bind(e.entry.entity_id.clone())
                        .bind(names.get(e.entry.outcome.as_str()))
                        .bind(r.details)
                        .bind(instance.clone())
                        .bind(r.seq)
                        .bind(key_id.clone())
                        .bind(r.hmac)
                        .bind(e.context.session_id.clone())
                        .bind(e.context.database.clone())
                        .bind(e.context.grant_id)
                        .bind(e.context.statement.as_deref());
                }
                let done = q.execute(&mut *conn).await?;
                check_inserted(done.rows_affected(), n)?;
            }
        })
    }
}

impl AppendAudit for sqlx::PgConnection {
    async fn append_audit(
        &mut self,
        chain: Option<&super::ChainState>,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), sqlx::Error> {
        let conn = self;
        append_with!(conn, chain, events, |rows| {
            let col = |f: &dyn Fn(&LinkedRow<'_>) -> Option<String>| -> Vec<Option<String>> {
                rows.iter().map(f).collect()
            };
            let int = |f: &dyn Fn(&LinkedRow<'_>) -> Option<i64>| -> Vec<Option<i64>> {
                rows.iter().map(f).collect()
            };
            sqlx::query(INSERT_UNNEST)
                .bind(int(&|r| Some(r.e.at)))
                .bind(col(&|r| Some(r.e.kind.to_owned())))
                .bind(int(&|r| r.e.actor.user_id))
                .bind(col(&|r| Some(r.e.actor.username.to_string())))
                .bind(col(&|r| {
                    r.e.actor.client_addr.as_deref().map(str::to_owned)
                }))
                .bind(col(&|r| Some(r.e.entry.action.to_string())))
                .bind(col(&|r| Some(r.e.entry.entity_type.to_owned())))
                .bind(col(&|r| r.e.entry.entity_id.as_deref().map(str::to_owned)))
                .bind(col(&|r| Some(r.e.entry.outcome.as_str().to_owned())))
                .bind(col(&|r| Some(r.details.clone())))
                .bind(col(&|_| chain.map(|c| c.instance_id.clone())))
                .bind(int(&|r| r.seq))
                .bind(col(&|_| chain.map(|c| c.key.key_id().to_owned())))
                .bind(col(&|r| r.hmac.clone()))
                .bind(col(&|r| {
                    r.e.context.session_id.as_deref().map(str::to_owned)
                }))
                .bind(col(&|r| r.e.context.database.as_deref().map(str::to_owned)))
                .bind(int(&|r| r.e.context.grant_id))
                .bind(col(&|r| r.e.context.statement.clone()))
                .execute(&mut *conn)
                .await?;
        })
    }
}

/// Serializes and links `events` after `head` (chain, last position, last link); returns the
/// rows and the new head position and link.
fn link_rows<'a>(
    head: Option<(&super::ChainState, i64, crate::audit::chain::Link)>,
    events: &'a [crate::audit::AuditEvent],
) -> (Vec<LinkedRow<'a>>, Option<(i64, crate::audit::chain::Link)>) {
    let mut state = head;
    let rows = events
        .iter()
        .map(|e| {
            let details = match &e.facts {
                Some(f) => serde_json::to_string(f).unwrap_or_default(),
                None => e.entry.details.to_string(),
            };
            let (seq, hmac) = match state.as_mut() {
                Some((c, seq, link)) => {
                    *seq += 1;
                    *link = c
                        .key
                        .link(link, &e.link_fields(&c.instance_id, *seq, &details));
                    (Some(*seq), Some(crate::audit::chain::to_hex(link)))
                }
                None => (None, None),
            };
            LinkedRow {
                e,
                details,
                seq,
                hmac,
            }
        })
        .collect();
    (rows, state.map(|(_, seq, link)| (seq, link)))
}

/// The columns a listing reads.
pub(crate) const SELECT_COLUMNS: &str = "id, at, kind, actor_user_id, actor_username, client_addr, \
     action, entity_type, entity_id, outcome, details, instance_id, seq, hmac, session_id, \
     database_name, grant_id, statement";

/// Reads listed rows.
fn records<R>(rows: &[R]) -> Result<Vec<AuditRecord>, StoreError>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .map(record_from_row)
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Reads one listed row.
pub(crate) fn record_from_row<R>(r: &R) -> Result<AuditRecord, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let details: Option<String> = r.try_get("details")?;
    Ok(AuditRecord {
        id: r.try_get("id")?,
        at: from_micros(r.try_get("at")?),
        kind: r.try_get("kind")?,
        actor_user_id: r.try_get("actor_user_id")?,
        actor_username: r.try_get("actor_username")?,
        client_addr: r.try_get("client_addr")?,
        action: r.try_get("action")?,
        entity_type: r.try_get("entity_type")?,
        entity_id: r.try_get("entity_id")?,
        outcome: r.try_get("outcome")?,
        session_id: r.try_get("session_id")?,
        database: r.try_get("database_name")?,
        grant_id: r.try_get("grant_id")?,
        statement: r.try_get("statement")?,
        details: details
            .and_then(|d| serde_json::from_str(&d).ok())
            .unwrap_or(serde_json::Value::Null),
        instance_id: r.try_get("instance_id")?,
        seq: r.try_get("seq")?,
        hmac: r.try_get("hmac")?,
    })
}

/// `%text%` for LIKE, with the user's own `%`, `_` and `\` taken literally.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// Records an admin action on its own: one that did not take effect (validation error,
    /// conflict, denied), or one whose effect is not in the store (killing a live session).
    pub async fn audit_record(
        &self,
        actor: &Actor,
        entry: &AdminAuditEntry,
    ) -> Result<(), StoreError> {
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            insert_admin_audit!(self, &mut *tx, actor, entry)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Writes events (the audit writer's batches; connection events) in one transaction,
    /// many rows per INSERT: the per-statement overhead is paid once per
    /// [`SQLITE_CHUNKS`] rows (SQLite; PostgreSQL takes the batch in one), the commit once per batch.
    pub async fn audit_events(
        &self,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), StoreError> {
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            tx.append_audit(self.audit_chain(), events).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Audit rows matching `filter`, newest first, `limit` at most, older than `before_id` when
    /// given.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: i64,
        before_id: Option<i64>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.query_audit(filter, limit, before_id, None).await
    }

    /// Audit rows matching `filter` newer than `after_id`, oldest first (the live stream).
    pub async fn audit_after(
        &self,
        filter: &AuditFilter,
        limit: i64,
        after_id: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.query_audit(filter, limit, None, Some(after_id)).await
    }

    /// The rows of `instance_id`'s chain after position `after_seq`, in chain order, `limit`
    /// at most (the live forwarder: a chain's positions have no gaps, so nothing is skipped).
    pub async fn audit_chain_after(
        &self,
        instance_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM audit_log WHERE instance_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        on_backend!(self, read, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(instance_id)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            records(&rows)
        })
    }

    /// The last position of `instance_id`'s chain (0 before its first row).
    pub async fn audit_chain_seq(&self, instance_id: &str) -> Result<i64, StoreError> {
        on_backend!(self, read, |pool| {
            let seq: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM audit_chain WHERE instance_id = $1")
                    .bind(instance_id)
                    .fetch_optional(pool)
                    .await?;
            Ok(seq.unwrap_or(0))
        })
    }

    /// The newest row's id (0 on an empty trail).
    pub async fn audit_last_id(&self) -> Result<i64, StoreError> {
        on_backend!(self, read, |pool| {
            let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_log")
                .fetch_one(pool)
                .await?;
            Ok(id.unwrap_or(0))
        })
    }

    async fn query_audit(
        &self,
        f: &AuditFilter,
        limit: i64,
        before_id: Option<i64>,
        after_id: Option<i64>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let pattern = f.text.as_deref().map(like_pattern);
        let postgres = matches!(self.backend, super::Backend::Postgres(_));
        let (sql, values) = search_sql(f, pattern.as_deref(), limit, before_id, after_id, postgres);
        on_backend!(self, read, |pool| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for v in &values {
                q = match v {
                    FilterValue::Int(i) => q.bind(*i),
                    FilterValue::Text(t) => q.bind(*t),
                };
            }
            let rows = q.fetch_all(pool).await?;
            records(&rows)
        })
    }
}

/// A value bound to one condition of an audit search.
enum FilterValue<'a> {
    Int(i64),
    Text(&'a str),
}

/// An audit search's SQL and its values, newest first (oldest first after `after_id`). Only
/// the filters given are in the WHERE clause, so the planner can use the indexes
/// (`$n IS NULL OR column = $n` hid them: every filtered read scanned the table). The text
/// filter also looks at the other executions' texts of a folded statement row
/// (`details.more_statements`), each on its own, in the backend's JSON functions.
fn search_sql<'a>(
    f: &'a AuditFilter,
    pattern: Option<&'a str>,
    limit: i64,
    before_id: Option<i64>,
    after_id: Option<i64>,
    postgres: bool,
) -> (String, Vec<FilterValue<'a>>) {
    let order = if after_id.is_some() { "ASC" } else { "DESC" };
    let ints = [
        ("id <", before_id),
        ("id >", after_id),
        ("at >=", f.from),
        ("at <", f.to),
        ("grant_id =", f.grant_id),
    ];
    let texts = [
        ("actor_username =", f.user.as_deref()),
        ("database_name =", f.database.as_deref()),
        ("session_id =", f.session_id.as_deref()),
        ("kind =", f.kind.as_deref()),
        ("action =", f.action.as_deref()),
        ("outcome =", f.outcome.as_deref()),
    ];
    let mut values = Vec::new();
    let mut sql = format!("SELECT {SELECT_COLUMNS} FROM audit_log WHERE TRUE");
    let given = ints
        .into_iter()
        .filter_map(|(c, v)| Some((c, FilterValue::Int(v?))))
        .chain(
            texts
                .into_iter()
                .filter_map(|(c, v)| Some((c, FilterValue::Text(v?)))),
        );
    for (condition, value) in given {
        values.push(value);
        let _ = write!(sql, " AND {condition} ${}", values.len());
    }
    if let Some(p) = pattern {
        values.push(FilterValue::Text(p));
        let n = values.len();
        let more = if postgres {
            "jsonb_array_elements_text(details::jsonb -> 'more_statements') AS m(value)"
        } else {
            "json_each(details, '$.more_statements')"
        };
        let _ = write!(
            sql,
            " AND (LOWER(statement) LIKE ${n} ESCAPE '\\' OR (details LIKE '%\"more_statements\"%' \
             AND EXISTS (SELECT 1 FROM {more} WHERE LOWER(value) LIKE ${n} ESCAPE '\\')))"
        );
    }
    values.push(FilterValue::Int(limit));
    let _ = write!(sql, " ORDER BY id {order} LIMIT ${}", values.len());
    (sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan for a search by session or by time uses the index, not a scan.
    #[tokio::test]
    async fn searches_use_the_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.expect("open");
        let super::super::Backend::Sqlite { read, .. } = &store.backend else {
            unreachable!("a SQLite store")
        };
        let plan = |f: AuditFilter| {
            let (sql, values) = search_sql(&f, None, 100, None, None, false);
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            for v in values {
                q = match v {
                    FilterValue::Int(i) => q.bind(i),
                    FilterValue::Text(t) => q.bind(t.to_owned()),
                };
            }
            let read = read.clone();
            async move {
                let rows = q.fetch_all(&read).await.expect("plan");
                rows.iter()
                    .map(|r| r.get::<String, _>("detail"))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        };
        let by_session = plan(AuditFilter {
            session_id: Some("0190a0a0-0000-7000-8000-000000000000".into()),
            kind: Some("statement".into()),
            ..AuditFilter::default()
        })
        .await;
        assert!(
            by_session.contains("INDEX audit_log_session"),
            "{by_session}"
        );
        let by_time = plan(AuditFilter {
            from: Some(1),
            to: Some(2),
            ..AuditFilter::default()
        })
        .await;
        assert!(by_time.contains("INDEX audit_log_at"), "{by_time}");
        store.close().await;
    }
}
