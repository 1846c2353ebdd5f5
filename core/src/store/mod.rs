//! The metadata store: one interface, two backends.
//!
//! - **SQLite** (default, embedded): WAL mode, one writer connection so concurrent writes queue
//!   in the pool instead of failing with "database is locked", and a small pool of readers that
//!   WAL lets run beside the writer.
//! - **PostgreSQL**: for several dbward instances sharing users, grants, quotas and audit.
//!
//! Both speak the same SQL (`$1` placeholders work on both through sqlx, integers and booleans
//! decode alike, timestamps are integer microseconds), so each query is written once and
//! [`on_backend!`] compiles it once per backend. Why sqlx and not `Any`: sqlx's `Any` driver
//! binds only basic types and decodes booleans differently per backend; with typed pools each
//! backend gets its native types and the compiler checks both.
//!
//! Migrations live in `migrations/{sqlite,postgres}/`, are embedded in the binary and applied at
//! start under a lock (a PostgreSQL advisory lock, taken by sqlx's migrator). A store whose
//! schema is newer than the binary (a migration this binary does not know is applied) is refused.
//!
//! Every admin mutation writes its audit row in the same transaction as the change ([`Actor`]).
//! The store never sees a socket, and SQL lives only in this module.

pub(crate) mod audit;
mod audit_chain;
mod databases;
mod folders;
mod grants;
mod meta;
mod quota;
mod roles;
mod session_checks;
mod users;

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

pub use audit::{AdminAuditEntry, AuditFilter, AuditOutcome, AuditRecord};
pub use audit_chain::{ChainReport, ChainState, VerifyReport};
pub use databases::{DatabaseCredentials, DatabaseInput, DatabasePatch, ReorderItem};
pub use grants::{GrantFilter, GrantInput};
pub use meta::KeyCheck;
pub use quota::{QuotaKind, quota_round_trips};
pub use roles::{RoleInput, RolePatch};
pub use session_checks::SessionFacts;
pub use users::{NewUser, UserAuth, UserPatch};

use crate::config::StoreKind;

/// Ids bound in one `IN (...)` list: far below SQLite's 32,766 variables and PostgreSQL's
/// 65,535 parameters.
const MAX_IDS_PER_QUERY: usize = 500;

/// `$1, $2, ... $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors of the store. `NotFound`, `Conflict` and `Invalid` carry messages safe to show an
/// admin; `Database` and `Migrate` are internal and shown as "internal error".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The entity does not exist (or is deleted).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness or state rule was violated.
    #[error("{0}")]
    Conflict(String),
    /// The request is inconsistent with stored data.
    #[error("{0}")]
    Invalid(String),
    /// The schema in the store is newer than this binary.
    #[error("the store's schema (migration {0}) is newer than this dbward binary: upgrade dbward")]
    SchemaTooNew(i64),
    /// Migrations failed.
    #[error("store migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("store error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Why the store cannot serve anyone right now, when this error says so: its disk is full,
    /// it cannot be reached, it is shutting down. `None` for an error of the request or of
    /// dbward itself. A failed write has changed nothing either way (it ran in a transaction).
    #[must_use]
    pub fn unavailable(&self) -> Option<&'static str> {
        let Self::Database(e) = self else {
            return None;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Some("it cannot be reached"),
            sqlx::Error::Database(d) => {
                let code = d.code()?;
                if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    // Primary result codes: the low byte of an extended one.
                    match code.parse::<u32>().ok()? & 0xff {
                        13 => Some("its disk is full"),
                        10 => Some("its disk cannot be written"),
                        5 | 6 => Some("it is busy"),
                        14 => Some("its file cannot be opened"),
                        _ => None,
                    }
                } else if code == "53100" {
                    Some("its disk is full")
                } else if code.starts_with("53") {
                    Some("it is out of resources")
                } else if code.starts_with("57P") || code.starts_with("08") {
                    Some("it cannot be reached")
                } else if code == "25006" {
                    Some("it is read-only")
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Maps a unique-constraint violation to `Conflict(message)`, other errors as they are.
    fn conflict_on_unique(e: sqlx::Error, message: impl Into<String>) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => Self::Conflict(message.into()),
            _ => Self::Database(e),
        }
    }
}

/// Who performs an admin mutation, for its audit row.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The acting user's id (`None` for the system itself, e.g. bootstrap).
    pub user_id: Option<i64>,
    /// The acting user's name, copied so the record outlives the user (shared: a session's
    /// events all carry the same one).
    pub username: std::sync::Arc<str>,
    /// The client's address.
    pub client_addr: Option<std::sync::Arc<str>>,
}

impl Actor {
    /// dbward itself (bootstrap, migrations).
    #[must_use]
    pub fn system() -> Self {
        Self {
            user_id: None,
            username: "dbward".into(),
            client_addr: None,
        }
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite {
        /// The one writer connection: writes queue here.
        write: SqlitePool,
        /// Readers, concurrent with the writer under WAL.
        read: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool for writes (`write`) or reads
/// (`read`). The body is compiled once per backend, so one SQL text serves both.
macro_rules! on_backend {
    ($store:expr, write, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { write: $pool, .. } => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
    ($store:expr, read, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// The metadata store. Cheap to clone (pools are shared).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// This instance's audit chain, once bound to the master key ([`Store::bind_audit_chain`]).
    chain: Option<std::sync::Arc<ChainState>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.backend {
            Backend::Sqlite { .. } => "Store(sqlite)",
            Backend::Postgres(_) => "Store(postgres)",
        })
    }
}

/// Whether the SQLite write connection may go back to the pool after a use. A transaction whose
/// `COMMIT` failed with `SQLITE_FULL` or `SQLITE_IOERR` (a full disk) has been rolled back by
/// SQLite itself; sqlx does not see that, its `ROLLBACK` then fails ("no transaction is
/// active"), and it keeps counting the transaction as open. Its next `begin` would issue a
/// `SAVEPOINT` instead of `BEGIN`, and after the next failure a `ROLLBACK TO` that leaves a
/// transaction open for good: every later "commit" (admin changes, audit batches) would only
/// release a nested savepoint, seen by this connection alone and lost at restart. So a
/// connection released with a transaction still counted is checked once sqlx's own rollback has
/// run, and closed (SQLite rolls back whatever it holds) unless both sqlx and SQLite agree that
/// no transaction is open. A committed transaction costs nothing here.
async fn sqlite_write_connection_is_sound(
    conn: &mut SqliteConnection,
) -> Result<bool, sqlx::Error> {
    use sqlx::Connection as _;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // The ping queues behind the rollback that dropping the transaction sent.
    if conn.ping().await.is_err() || conn.is_in_transaction() {
        tracing::warn!(
            "the store's write connection lost track of a failed transaction; reopening it"
        );
        return Ok(false);
    }
    // sqlx's count is back to zero: SQLite must be in autocommit mode too, or `BEGIN` fails.
    let open = sqlx::raw_sql("BEGIN").execute(&mut *conn).await.is_err();
    if open || sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
        tracing::warn!(
            "the store's write connection holds a transaction it should not; reopening it"
        );
        return Ok(false);
    }
    Ok(true)
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Connects to the store at `url` (creating a SQLite file if missing) and applies pending
    /// migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let kind = if url.starts_with("sqlite:") {
            StoreKind::Sqlite
        } else {
            StoreKind::Postgres
        };
        let backend = match kind {
            StoreKind::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a committed admin change or audit batch survives power loss too.
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    // 16 KiB pages (new stores only): the audit trail's batches write half as
                    // many WAL frames (a pwrite for each frame's header and one for its page)
                    // as with 4 KiB pages, for the same CPU.
                    .page_size(16384)
                    // Statement journals in memory, not in temporary files (before the audit
                    // insert became `OR IGNORE`, which needs none, this took its journal from
                    // 0.40 to 0.14 pwrites per event); multi-row updates and deletes such as
                    // pruning still keep one.
                    .pragma("temp_store", "memory")
                    .busy_timeout(Duration::from_secs(10));
                // No test before each acquire: an embedded connection does not go stale, and
                // the test is a round trip to the connection's thread (two thread switches) on
                // every audit flush.
                let write = SqlitePoolOptions::new()
                    .max_connections(1)
                    .test_before_acquire(false)
                    .after_release(|conn, _| Box::pin(sqlite_write_connection_is_sound(conn)))
                    .connect_with(opts.clone())
                    .await?;
                SQLITE_MIGRATIONS
                    .run(&write)
                    .await
                    .map_err(map_migrate_error)?;
                let read = SqlitePoolOptions::new()
                    .max_connections(4)
                    .test_before_acquire(false)
                    .connect_with(opts.read_only(true))
                    .await?;
                Backend::Sqlite { write, read }
            }
            StoreKind::Postgres => {
                let opts = PgConnectOptions::from_str(url)?.application_name("dbward");
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                POSTGRES_MIGRATIONS
                    .run(&pool)
                    .await
                    .map_err(map_migrate_error)?;
                Backend::Postgres(pool)
            }
        };
        Ok(Self {
            backend,
            chain: None,
        })
    }

    /// Which backend this store runs on.
    #[must_use]
    pub fn kind(&self) -> StoreKind {
        match self.backend {
            Backend::Sqlite { .. } => StoreKind::Sqlite,
            Backend::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// A cheap round trip, for `/api/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_backend!(self, read, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every pool, waiting for connections to finish.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

fn map_migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::SchemaTooNew(v),
        other => StoreError::Migrate(other),
    }
}

/// A fresh stable random id for a record (used as AEAD associated data and in backups).
fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Current time in store units.
fn now_micros() -> i64 {
    crate::time::to_micros(crate::time::now())
}
