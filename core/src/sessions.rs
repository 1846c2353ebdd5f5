//! The registry of live sessions, shared by every front door, and the watcher that ends them
//! when they lose their right to exist.
//!
//! A front door registers each session after the gate let it in and holds the returned
//! [`SessionHandle`] for the session's life (dropping it unregisters). The handle's
//! [`SessionHandle::killed`] future completes when the session must end, with the reason to tell
//! the client: an admin killed it, its grant expired or was revoked, its user was disabled or
//! deleted, its database was deleted or its connection settings changed.
//!
//! [`watch`] checks every live session twice a second (expiry needs no store access; the rest
//! is a few reads per tick for all sessions together, [`Store::session_facts`]), so a session
//! ends within a second of the change. Session ids are UUIDv7: unique across dbward instances sharing a store, and sortable
//! by start time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::model::AccessLevel;
use crate::store::{SessionFacts, Store};

/// What is known about a live session (also what the admin API lists).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Unique id (UUIDv7).
    pub id: Uuid,
    /// `postgres` or `mysql`.
    pub protocol: &'static str,
    /// The dbward user.
    pub user_id: i64,
    /// Their name.
    pub username: String,
    /// The database.
    pub database_id: i64,
    /// Its name.
    pub database: String,
    /// The grant the session holds.
    pub grant_id: i64,
    /// The level it runs at.
    pub level: AccessLevel,
    /// Client address.
    pub client_addr: String,
    /// Start.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The grant's end: the session ends then.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The database's connection version when the session started
    /// ([`crate::model::Database::connection_version`]): a change ends the session.
    #[serde(skip)]
    pub database_version: u64,
}

struct Entry {
    info: SessionInfo,
    kill: CancellationToken,
    reason: Arc<Mutex<Option<EndReason>>>,
}

/// Why dbward ends a session: a stable code for the trail's session-end row (`cause`:
/// `grant_expired`, `grant_revoked`, `grant_deleted`, `user_disabled`, `database_removed`,
/// `database_changed`, `killed_by_admin`, `killed_by_user`, `shutdown`, and the front doors'
/// own: `idle_timeout`, `idle_in_transaction_timeout`, `quota`, `setting_changed`,
/// `protocol_error`, `change_user_refused`, `error`), and the message the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndReason {
    /// Stable code.
    pub cause: &'static str,
    /// What the client is told.
    pub message: String,
}

impl EndReason {
    /// A reason with `cause` and `message`.
    pub fn new(cause: &'static str, message: impl Into<String>) -> Self {
        Self {
            cause,
            message: message.into(),
        }
    }

    fn unknown() -> Self {
        Self::new("error", "session ended by dbward")
    }
}

/// Caps on concurrent sessions (0: no cap). A `read` grant handed to a contractor must not be
/// able to take all of production's connection slots.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Sessions of one user, all databases together.
    pub per_user: usize,
    /// Sessions on one grant.
    pub per_grant: usize,
}

/// A cap that refused a session.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum LimitExceeded {
    /// Too many sessions for the user.
    #[error("too many sessions for this user (limit {0})")]
    PerUser(usize),
    /// Too many sessions on the grant.
    #[error("too many sessions on this grant (limit {0})")]
    PerGrant(usize),
}

/// Live sessions of this instance.
#[derive(Default)]
pub struct SessionRegistry {
    sessions: Mutex<HashMap<Uuid, Entry>>,
}

impl std::fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRegistry").finish_non_exhaustive()
    }
}

/// A registered session; dropping it unregisters.
pub struct SessionHandle {
    id: Uuid,
    registry: Arc<SessionRegistry>,
    kill: CancellationToken,
    reason: Arc<Mutex<Option<EndReason>>>,
}

impl SessionHandle {
    /// The session's id.
    #[must_use]
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Completes when the session must end, with the reason to tell the client.
    ///
    /// # Cancel safety
    /// Cancel safe: it only waits on a token.
    pub async fn killed(&self) -> EndReason {
        self.kill.cancelled().await;
        self.reason
            .lock()
            .expect("session reason lock poisoned")
            .clone()
            .unwrap_or_else(EndReason::unknown)
    }

    /// What the registry knows about this session.
    #[must_use]
    pub fn info(&self) -> SessionInfo {
        self.registry
            .sessions
            .lock()
            .expect("session registry lock poisoned")
            .get(&self.id)
            .map(|e| e.info.clone())
            .expect("a registered session is in the registry until its handle drops")
    }

    /// A cloneable signal for tasks that must stop when the session ends.
    #[must_use]
    pub fn signal(&self) -> KillSignal {
        KillSignal {
            kill: self.kill.clone(),
            reason: self.reason.clone(),
        }
    }

    /// The reason given when the session was ended, if it was.
    #[must_use]
    pub fn reason(&self) -> Option<EndReason> {
        self.reason
            .lock()
            .expect("session reason lock poisoned")
            .clone()
    }
}

/// Completes when its session must end; cloneable into the tasks of a session.
#[derive(Clone)]
pub struct KillSignal {
    kill: CancellationToken,
    reason: Arc<Mutex<Option<EndReason>>>,
}

impl KillSignal {
    /// Waits for the end, then gives the reason to tell the client.
    ///
    /// # Cancel safety
    /// Cancel safe: it only waits on a token.
    pub async fn wait(&self) -> EndReason {
        self.kill.cancelled().await;
        self.reason
            .lock()
            .expect("session reason lock poisoned")
            .clone()
            .unwrap_or_else(EndReason::unknown)
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        self.registry
            .sessions
            .lock()
            .expect("session registry lock poisoned")
            .remove(&self.id);
    }
}

impl SessionRegistry {
    /// Registers a session unless its user or grant already holds as many as `limits` allow.
    /// `info.id` is replaced by a fresh UUIDv7. The check and the insertion happen under one
    /// lock, so concurrent logins cannot overshoot.
    pub fn register(
        self: &Arc<Self>,
        mut info: SessionInfo,
        limits: &SessionLimits,
    ) -> Result<SessionHandle, LimitExceeded> {
        let id = Uuid::now_v7();
        info.id = id;
        let kill = CancellationToken::new();
        let reason = Arc::new(Mutex::new(None));
        let mut sessions = self
            .sessions
            .lock()
            .expect("session registry lock poisoned");
        let (mut per_user, mut per_grant) = (0, 0);
        for e in sessions.values() {
            per_user += usize::from(e.info.user_id == info.user_id);
            per_grant += usize::from(e.info.grant_id == info.grant_id);
        }
        if limits.per_user > 0 && per_user >= limits.per_user {
            return Err(LimitExceeded::PerUser(limits.per_user));
        }
        if limits.per_grant > 0 && per_grant >= limits.per_grant {
            return Err(LimitExceeded::PerGrant(limits.per_grant));
        }
        sessions.insert(
            id,
            Entry {
                info,
                kill: kill.clone(),
                reason: reason.clone(),
            },
        );
        Ok(SessionHandle {
            id,
            registry: self.clone(),
            kill,
            reason,
        })
    }

    /// Live sessions, oldest first.
    #[must_use]
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut v: Vec<_> = self
            .sessions
            .lock()
            .expect("session registry lock poisoned")
            .values()
            .map(|e| e.info.clone())
            .collect();
        v.sort_by_key(|s| s.id);
        v
    }

    /// Ends a session with `reason`; false if it is not live here.
    pub fn kill(&self, id: Uuid, reason: &EndReason) -> bool {
        let sessions = self
            .sessions
            .lock()
            .expect("session registry lock poisoned");
        let Some(entry) = sessions.get(&id) else {
            return false;
        };
        end(entry, reason);
        true
    }
}

impl SessionRegistry {
    /// Ends every live session with `reason` (shutdown). Returns how many.
    pub fn kill_all(&self, reason: &EndReason) -> usize {
        let sessions = self
            .sessions
            .lock()
            .expect("session registry lock poisoned");
        for entry in sessions.values() {
            end(entry, reason);
        }
        sessions.len()
    }
}

fn end(entry: &Entry, reason: &EndReason) {
    let mut r = entry.reason.lock().expect("session reason lock poisoned");
    if r.is_none() {
        *r = Some(reason.clone());
    }
    entry.kill.cancel();
}

/// Why a session may no longer exist, if it may not, by `facts` about the live sessions'
/// grants, users and databases (fetched for all of them at once). A grant, user or database the
/// store no longer has ends the session.
fn verdict(s: &SessionInfo, facts: &SessionFacts, now: OffsetDateTime) -> Option<EndReason> {
    let db = &s.database;
    if now >= s.expires_at {
        return Some(EndReason::new(
            "grant_expired",
            format!(
                "your grant on database \"{db}\" expired at {}",
                crate::time::format_rfc3339(s.expires_at)
            ),
        ));
    }
    match facts.grants.get(&s.grant_id) {
        Some(false) => {}
        Some(true) => {
            return Some(EndReason::new(
                "grant_revoked",
                format!("your grant on database \"{db}\" was revoked"),
            ));
        }
        None => {
            return Some(EndReason::new(
                "grant_deleted",
                format!("your grant on database \"{db}\" no longer exists"),
            ));
        }
    }
    if !facts.usable_users.contains(&s.user_id) {
        return Some(EndReason::new(
            "user_disabled",
            "your dbward account was disabled",
        ));
    }
    match facts.databases.get(&s.database_id) {
        None => Some(EndReason::new(
            "database_removed",
            format!("database \"{db}\" was removed from dbward"),
        )),
        Some(version) if *version != s.database_version => Some(EndReason::new(
            "database_changed",
            format!("the connection settings of database \"{db}\" changed; reconnect"),
        )),
        Some(_) => None,
    }
}

/// Checks every live session every `interval` until `shutdown`, ending those that lost their
/// grant, user or database. Store errors are logged and the check retried: a store outage
/// does not end sessions by itself (their grants were valid when last seen, and expiry is
/// checked without the store).
pub async fn watch(
    registry: Arc<SessionRegistry>,
    store: Store,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let sessions = registry.list();
        if sessions.is_empty() {
            continue;
        }
        let ids = |f: fn(&SessionInfo) -> i64| sessions.iter().map(f).collect::<Vec<_>>();
        let facts = match store
            .session_facts(
                &ids(|s| s.grant_id),
                &ids(|s| s.user_id),
                &ids(|s| s.database_id),
            )
            .await
        {
            Ok(facts) => facts,
            Err(e) => {
                tracing::warn!(error = %e, sessions = sessions.len(), "session check failed");
                continue;
            }
        };
        let now = crate::time::now();
        for s in &sessions {
            if let Some(reason) = verdict(s, &facts, now) {
                tracing::info!(session = %s.id, user = %s.username, cause = reason.cause, message = %reason.message, "ending session");
                registry.kill(s.id, &reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: OffsetDateTime) -> SessionInfo {
        SessionInfo {
            id: Uuid::now_v7(),
            protocol: "postgres",
            user_id: 1,
            username: "alice".into(),
            database_id: 2,
            database: "orders".into(),
            grant_id: 3,
            level: AccessLevel::Read,
            client_addr: "127.0.0.1:5000".into(),
            started_at: now,
            expires_at: now + time::Duration::hours(1),
            database_version: 77,
        }
    }

    fn facts() -> SessionFacts {
        SessionFacts {
            grants: [(3, false)].into(),
            usable_users: [1].into(),
            databases: [(2, 77)].into(),
        }
    }

    #[test]
    fn verdicts() {
        let now = crate::time::now();
        let s = session(now);
        assert_eq!(verdict(&s, &facts(), now), None, "all is well");
        let ends = |f: SessionFacts, at: OffsetDateTime| {
            verdict(&s, &f, at)
                .map(|r| format!("{}: {}", r.cause, r.message))
                .unwrap_or_default()
        };
        assert!(
            ends(facts(), now + time::Duration::hours(2))
                .contains("grant_expired: your grant on database \"orders\" expired at")
        );
        let mut f = facts();
        f.grants.insert(3, true);
        assert!(ends(f, now).starts_with("grant_revoked: "));
        let mut f = facts();
        f.grants.clear();
        assert!(ends(f, now).starts_with("grant_deleted: "));
        let mut f = facts();
        f.usable_users.clear();
        assert!(ends(f, now).starts_with("user_disabled: "));
        let mut f = facts();
        f.databases.clear();
        assert!(ends(f, now).starts_with("database_removed: "));
        let mut f = facts();
        f.databases.insert(2, 78);
        assert!(ends(f, now).starts_with("database_changed: the connection settings"));
    }
}
