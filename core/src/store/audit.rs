//! The audit table, admin side: rows written in the same transaction as the change they
//! describe ([`insert_admin_audit!`]), failures written on their own ([`Store::audit_record`]),
//! and a plain newest-first listing. The audit issue extends this with connection and statement
//! events, the HMAC chain, filters and export.

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
    /// Entity id, when known.
    pub entity_id: Option<String>,
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
            entity_id: entity_id.map(|id| id.to_string()),
            outcome: AuditOutcome::Success,
            details,
        }
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Position in the trail.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Event family: `admin` (admin API), `connection` (proxy logins and session ends) or
    /// `statement` (every statement with its decision).
    pub kind: String,
    /// Acting user's id.
    pub actor_user_id: Option<i64>,
    /// Acting user's name at the time.
    pub actor_username: Option<String>,
    /// Client address.
    pub client_addr: Option<String>,
    /// What was done.
    pub action: String,
    /// Entity kind.
    pub entity_type: Option<String>,
    /// Entity id.
    pub entity_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// JSON summary.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Inserts an admin audit row on `$exec` (a transaction, so the row commits with the change).
macro_rules! insert_admin_audit {
    ($exec:expr, $actor:expr, $entry:expr) => {
        $crate::store::audit::insert_audit!($exec, "admin", $actor, $entry)
    };
}
pub(crate) use insert_admin_audit;

/// Inserts an audit row of event family `$kind` on `$exec`.
macro_rules! insert_audit {
    ($exec:expr, $kind:expr, $actor:expr, $entry:expr) => {{
        let actor: &$crate::store::Actor = $actor;
        let entry: &$crate::store::AdminAuditEntry = $entry;
        sqlx::query(
            "INSERT INTO audit_log (at, kind, actor_user_id, actor_username, client_addr, action, \
             entity_type, entity_id, outcome, details) \
             VALUES ($1, $10, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind($crate::store::now_micros())
        .bind(actor.user_id)
        .bind(&actor.username)
        .bind(&actor.client_addr)
        .bind(entry.action.as_ref())
        .bind(entry.entity_type)
        .bind(&entry.entity_id)
        .bind(entry.outcome.as_str())
        .bind(entry.details.to_string())
        .bind($kind)
        .execute($exec)
        .await
    }};
}
pub(crate) use insert_audit;

/// Rows per multi-row INSERT of the audit writer (10 parameters each: far below SQLite's and
/// PostgreSQL's limits).
const ROWS_PER_INSERT: usize = 100;

/// `INSERT INTO audit_log ... VALUES (...), (...)` for `rows` rows.
fn multi_row_insert(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO audit_log (at, kind, actor_user_id, actor_username, client_addr, action, \
         entity_type, entity_id, outcome, details) VALUES ",
    );
    for r in 0..rows {
        let b = r * 10;
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for k in 1..=10 {
            if k > 1 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(b + k).to_string());
        }
        sql.push(')');
    }
    sql
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
            insert_admin_audit!(pool, actor, entry)?;
        });
        Ok(())
    }

    /// Records a connection event (attempt, outcome, session end) of a proxy front door. The
    /// audit issue moves these onto the batching writer; today each is one insert, once per
    /// connection, never per statement.
    pub async fn audit_connection(
        &self,
        actor: &Actor,
        entry: &AdminAuditEntry,
    ) -> Result<(), StoreError> {
        on_backend!(self, write, |pool| {
            insert_audit!(pool, "connection", actor, entry)?;
        });
        Ok(())
    }

    /// Inserts a batch of events (the audit writer's) in one transaction, many rows per
    /// INSERT: the per-statement overhead is paid once per [`ROWS_PER_INSERT`] events.
    pub async fn audit_events(
        &self,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), StoreError> {
        on_backend!(self, write, |pool| {
            let mut tx = pool.begin().await?;
            for chunk in events.chunks(ROWS_PER_INSERT) {
                let sql = multi_row_insert(chunk.len());
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for e in chunk {
                    q = q
                        .bind(e.at)
                        .bind(e.kind)
                        .bind(e.actor.user_id)
                        .bind(e.actor.username.clone())
                        .bind(e.actor.client_addr.clone())
                        .bind(e.entry.action.to_string())
                        .bind(e.entry.entity_type)
                        .bind(e.entry.entity_id.clone())
                        .bind(e.entry.outcome.as_str())
                        .bind(e.entry.details.to_string());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Audit rows, newest first, `limit` at most, older than `before_id` when given.
    pub async fn list_audit(
        &self,
        limit: i64,
        before_id: Option<i64>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = "SELECT id, at, kind, actor_user_id, actor_username, client_addr, action, \
                   entity_type, entity_id, outcome, details FROM audit_log \
                   WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2";
        on_backend!(self, read, |pool| {
            let rows = sqlx::query(sql)
                .bind(before_id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
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
                        details: details
                            .and_then(|d| serde_json::from_str(&d).ok())
                            .unwrap_or(serde_json::Value::Null),
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }
}
