//! `KILL [QUERY | CONNECTION] n` and `COM_PROCESS_KILL`, handled by dbward itself.
//!
//! Clients see dbward's own connection ids (the greeting's), never the upstream's thread ids.
//! The mysql client's Ctrl-C opens a second connection and sends `KILL QUERY <id>`; dbward
//! finds the session with that id, and only if it belongs to the **same dbward user**, logs in
//! upstream with that session's credentials and runs `KILL QUERY <upstream thread>` there
//! (as `ProxySQL` does). `KILL CONNECTION` ends the dbward session. Anything else answers
//! MySQL's own `ERROR 1094 Unknown thread id`, so ids of other users' sessions reveal nothing.
//! (`CONNECTION_ID()` still returns the upstream's thread id.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dbward_core::crypto::Secret;
use dbward_core::model::Database;
use dbward_core::sessions::SessionRegistry;
use mysql_common::constants::CapabilityFlags;

/// What killing a session needs.
#[derive(Clone)]
pub struct KillTarget {
    /// Owner (dbward user id).
    pub user_id: i64,
    /// The dbward session.
    pub session_id: uuid::Uuid,
    /// The upstream database and the login the session used.
    pub database: Database,
    /// Upstream user.
    pub login: String,
    /// Its password.
    pub secret: Option<Secret<String>>,
    /// The upstream thread id.
    pub thread_id: u32,
}

/// Live MySQL sessions by dbward connection id.
#[derive(Default)]
pub struct KillMap {
    targets: Mutex<HashMap<u32, KillTarget>>,
}

/// Removes its entry when the session ends.
pub struct KillEntry {
    map: Arc<KillMap>,
    id: u32,
}

impl Drop for KillEntry {
    fn drop(&mut self) {
        self.map.targets.lock().expect("kill map").remove(&self.id);
    }
}

impl KillMap {
    /// Registers connection `id`.
    pub fn register(self: &Arc<Self>, id: u32, target: KillTarget) -> KillEntry {
        self.targets.lock().expect("kill map").insert(id, target);
        KillEntry {
            map: self.clone(),
            id,
        }
    }

    /// Connection `id`, if it belongs to `user_id`.
    #[must_use]
    pub fn lookup(&self, id: u32, user_id: i64) -> Option<KillTarget> {
        self.targets
            .lock()
            .expect("kill map")
            .get(&id)
            .filter(|t| t.user_id == user_id)
            .cloned()
    }
}

/// A parsed `KILL` statement: (query only, connection id).
#[must_use]
pub fn parse_kill(sql: &[u8]) -> Option<(bool, u32)> {
    let text = std::str::from_utf8(sql).ok()?;
    let text = text.trim().trim_end_matches(';').trim();
    let mut words = text.split_ascii_whitespace();
    if !words.next()?.eq_ignore_ascii_case("kill") {
        return None;
    }
    let mut next = words.next()?;
    let mut query = false;
    if next.eq_ignore_ascii_case("query") {
        query = true;
        next = words.next()?;
    } else if next.eq_ignore_ascii_case("connection") {
        next = words.next()?;
    }
    let id = next.parse().ok()?;
    words.next().is_none().then_some((query, id))
}

/// Kills connection `id` on behalf of `user_id`; the error is the client's ERR (code, text).
pub async fn kill(
    map: &KillMap,
    registry: &SessionRegistry,
    user_id: i64,
    id: u32,
    query_only: bool,
    opts: &crate::listener::ConnectOptions,
) -> Result<(), (u16, String)> {
    let unknown = || (1094, format!("Unknown thread id: {id}"));
    let target = map.lookup(id, user_id).ok_or_else(unknown)?;
    if !query_only {
        registry.kill(
            target.session_id,
            &dbward_core::sessions::EndReason::new(
                "killed_by_user",
                "killed by KILL CONNECTION from the same user",
            ),
        );
        return Ok(());
    }
    kill_query(&target, opts).await
}

/// Logs in upstream with `target`'s credentials and runs `KILL QUERY <its thread>` there.
pub async fn kill_query(
    target: &KillTarget,
    opts: &crate::listener::ConnectOptions,
) -> Result<(), (u16, String)> {
    let mut up = super::upstream::connect(
        &target.database,
        &target.login,
        target.secret.as_ref(),
        CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH,
        mysql_common::constants::MariadbCapabilities::empty(),
        45,
        HashMap::new(),
        opts,
    )
    .await
    .map_err(|e| {
        (
            super::packet::ER_NET_READ_ERROR,
            format!("dbward could not reach the upstream to kill the query: {e}"),
        )
    })?;
    super::upstream::run_setup(&mut up, &format!("KILL QUERY {}", target.thread_id))
        .await
        .map(|_| ())
        .map_err(|e| (1095, format!("the upstream refused to kill the query: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_statements() {
        assert_eq!(parse_kill(b"KILL QUERY 12"), Some((true, 12)));
        assert_eq!(parse_kill(b"kill 7;"), Some((false, 7)));
        assert_eq!(parse_kill(b"KILL CONNECTION 3"), Some((false, 3)));
        assert_eq!(parse_kill(b"KILL QUERY 3 4"), None);
        assert_eq!(parse_kill(b"SELECT 1"), None);
    }
}
