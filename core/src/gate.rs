//! The session gate: after a front door has authenticated a user, may they open a session on
//! the database they named, right now, and with which grant?
//!
//! Every front door (PostgreSQL proxy, MySQL proxy, the console) calls [`open_session`] with an
//! already verified user; it never runs before the password check, so nothing about databases
//! or grants is revealed to someone who has not proved who they are. The answer is the grant the
//! session keeps for its life (highest level, then latest expiry) with its level capped by the
//! user's `execute_sql_*` permissions, or a [`GateError`] that says precisely why not.

use time::OffsetDateTime;

use crate::model::{AccessLevel, Database, Engine, Grant, GrantState, cap_access_level};
use crate::store::{GrantFilter, Store, StoreError, UserAuth};

/// Why a session may not open. Messages are safe to show the authenticated user.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// No database of that name (or of another engine).
    #[error("database \"{0}\" does not exist")]
    UnknownDatabase(String),
    /// The user holds no grant on the database at all.
    #[error("you hold no grant on database \"{0}\"")]
    NoGrant(String),
    /// The earliest grant has not started yet.
    #[error("your grant on database \"{db}\" starts at {}", crate::time::format_rfc3339(*starts_at))]
    NotYetStarted {
        /// The database.
        db: String,
        /// When the grant starts.
        starts_at: OffsetDateTime,
    },
    /// Every grant has expired.
    #[error("your grant on database \"{db}\" expired at {}", crate::time::format_rfc3339(*expired_at))]
    Expired {
        /// The database.
        db: String,
        /// When the latest grant expired.
        expired_at: OffsetDateTime,
    },
    /// The grants were revoked.
    #[error("your grant on database \"{0}\" was revoked")]
    Revoked(String),
    /// The user's roles allow no SQL at all.
    #[error("your roles do not allow executing SQL (execute_sql_read is missing)")]
    NoSqlPermission,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an open session holds for its life.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// The upstream database.
    pub database: Database,
    /// The grant in use.
    pub grant: Grant,
    /// The level the session may use: the grant's, capped by the user's permissions.
    pub level: AccessLevel,
}

/// Decides whether `user` may open a session on the database named `db_name` (of `engine`) at
/// `now`.
pub async fn open_session(
    store: &Store,
    user: &UserAuth,
    engine: Engine,
    db_name: &str,
    now: OffsetDateTime,
) -> Result<SessionGrant, GateError> {
    let database = match store.get_database_by_name(db_name).await {
        Ok(d) if d.engine == engine => d,
        Ok(_) | Err(StoreError::NotFound(_)) => {
            return Err(GateError::UnknownDatabase(db_name.to_owned()));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(grant) = store.active_grant(user.id, database.id, now).await? {
        let level = cap_access_level(grant.access_level, &user.permissions)
            .ok_or(GateError::NoSqlPermission)?;
        return Ok(SessionGrant {
            database,
            grant,
            level,
        });
    }
    let grants = store
        .list_grants(
            &GrantFilter {
                user_id: Some(user.id),
                database_id: Some(database.id),
                active: None,
            },
            now,
        )
        .await?;
    Err(why_not(&database.name, &grants, now))
}

/// The one database of `engine` on which `user` holds a grant active at `now`, for a client
/// that named none (`mysqldump` connects without a database and selects it later): its name,
/// or `None` when there are none or several (the client must name one).
pub async fn only_database(
    store: &Store,
    user: &UserAuth,
    engine: Engine,
    now: OffsetDateTime,
) -> Result<Option<String>, GateError> {
    let grants = store
        .list_grants(
            &GrantFilter {
                user_id: Some(user.id),
                database_id: None,
                active: Some(true),
            },
            now,
        )
        .await?;
    let mut ids = grants.iter().map(|g| g.database_id).collect::<Vec<_>>();
    ids.sort_unstable();
    ids.dedup();
    let mut found = None;
    for id in ids {
        let database = match store.get_database(id).await {
            Ok(d) => d,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        if database.engine != engine {
            continue;
        }
        if found.is_some() {
            return Ok(None);
        }
        found = Some(database.name);
    }
    Ok(found)
}

/// The most useful explanation when no grant is active: a future one first (it will work
/// later), then the latest expiry, then revocation.
fn why_not(db: &str, grants: &[Grant], now: OffsetDateTime) -> GateError {
    let pending = grants
        .iter()
        .filter(|g| g.state(now) == GrantState::Pending)
        .map(|g| g.starts_at)
        .min();
    if let Some(starts_at) = pending {
        return GateError::NotYetStarted {
            db: db.to_owned(),
            starts_at,
        };
    }
    let expired = grants
        .iter()
        .filter(|g| g.state(now) == GrantState::Expired)
        .map(|g| g.expires_at)
        .max();
    if let Some(expired_at) = expired {
        return GateError::Expired {
            db: db.to_owned(),
            expired_at,
        };
    }
    if grants.iter().any(|g| g.state(now) == GrantState::Revoked) {
        return GateError::Revoked(db.to_owned());
    }
    GateError::NoGrant(db.to_owned())
}
