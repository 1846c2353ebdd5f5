//! The MySQL command loop: one command from the client at a time (the protocol is
//! request/response; a client that sends ahead simply waits in the socket buffer), decided by
//! the command table ([`super::command_fate`]), forwarded raw, and its response relayed raw by a
//! state machine that knows where it ends: OK / ERR / LOCAL INFILE / result sets, looping on
//! `SERVER_MORE_RESULTS_EXISTS`. Row packets are metered against the byte quota before they are
//! relayed; everything streams, a 16 MB row is never held whole.
//!
//! Denials answer an ERR packet without sending anything upstream: MySQL does not abort a
//! transaction on a failed statement either, so the session's state matches what the server
//! would have done. A result that crosses the byte quota ends with ERR 1226 in place of its
//! remaining rows, and the session ends (the protocol has no clean way to abandon a result and
//! continue).
//!
//! While a statement runs, the relay also watches the client's socket (bytes sent ahead are kept
//! for the next command). A session that ends before its statement's response does (the client
//! hung up, the quota cut the result, an admin or an expired grant ended it) has the statement
//! killed upstream with `KILL QUERY` from a new connection: the server would otherwise run it
//! to its end.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use dbward_core::model::AccessLevel;
use dbward_core::quota::{Allowance, QuotaError};
use tokio::io::AsyncWriteExt as _;

use crate::stream::SendExt as _;

use super::packet::{self, ER_NET_READ_ERROR, PacketError, PacketReader, err_payload, put_packet};
use super::upstream::Upstream;
use super::{Fate, command_fate};

/// How long a session that dbward ends waits for the rest of a packet it was passing on.
const FINISH_WAIT: Duration = Duration::from_millis(500);
use crate::statement_gate::SessionEnd;
use crate::statement_gate::{Refused, StatementGate};
use crate::stream::MaybeTls;

/// Status flags dbward reads.
const SERVER_STATUS_IN_TRANS: u16 = 0x0001;
const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;
const SERVER_STATUS_CURSOR_EXISTS: u16 = 0x0040;
const SERVER_STATUS_NO_BACKSLASH_ESCAPES: u16 = 0x0200;

/// Per-session settings.
pub struct MyRelayConfig {
    /// Ends the session (admin kill, grant gone...).
    pub kill: dbward_core::sessions::KillSignal,
    /// Classification and checks.
    pub gate: StatementGate,
    /// Level of the session.
    pub level: AccessLevel,
    /// Ceiling for commands dbward reads whole.
    pub max_message_bytes: usize,
    /// Idle timeouts (zero: never).
    pub idle_session_timeout: Duration,
    /// Idle inside a transaction.
    pub idle_in_transaction_timeout: Duration,
    /// The client negotiated `CLIENT_DEPRECATE_EOF`.
    pub deprecate_eof: bool,
    /// The schema the database is configured for (`USE`/`COM_INIT_DB` elsewhere is refused).
    pub schema: String,
    /// Statements that put a reset upstream session back in the grant's mode.
    pub setup: Vec<String>,
    /// Live sessions by connection id, for `KILL`.
    pub kills: std::sync::Arc<super::kill::KillMap>,
    /// The session registry (`KILL CONNECTION` ends a session through it).
    pub registry: std::sync::Arc<dbward_core::sessions::SessionRegistry>,
    /// The dbward user (a `KILL` reaches only this user's sessions).
    pub user_id: i64,
    /// This session's connection id (the greeting's), under which its upstream thread is
    /// registered for `KILL`.
    pub connection_id: u32,
    /// How to reach the upstream (`KILL QUERY` logs in upstream).
    pub upstream: crate::listener::ConnectOptions,
    /// What `COM_CHANGE_USER` re-checks.
    pub change_user: ChangeUserContext,
}

/// What `COM_CHANGE_USER` needs: dbward re-authenticates the user and re-checks the grant.
#[derive(Clone)]
pub struct ChangeUserContext {
    /// Password verification (throttled, cached) shared by every front door.
    pub auth: std::sync::Arc<dbward_core::auth::Authenticator>,
    /// The store (the gate).
    pub store: dbward_core::store::Store,
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// The session's dbward user name.
    pub username: String,
    /// The session's dbward database name.
    pub database: String,
    /// The session's grant.
    pub grant_id: i64,
    /// Opens the sealed `mysql_native_password` verifiers of users who opted in.
    pub key: dbward_core::crypto::MasterKey,
    /// `caching_sha2_password`'s RSA key exchange without TLS; `None`: off.
    pub rsa: Option<std::sync::Arc<super::rsa_exchange::RsaExchange>>,
}

/// The two sides and the session's quota allowances.
pub struct MyRelay {
    client: MaybeTls,
    client_reader: PacketReader,
    up: Upstream,
    config: MyRelayConfig,
    queries: Allowance,
    bytes: Allowance,
    out: BytesMut,
    /// Reused for commands forwarded upstream.
    fwd: BytesMut,
    status: u16,
    bytes_exhausted: Option<String>,
    /// What the current statement's response did so far, for the audit trail.
    result: dbward_core::audit::StatementOutcome,
    /// Prepared statements by id: their text and classification, so each execution is
    /// audited with its text.
    prepared: std::collections::HashMap<u32, PreparedStatement, foldhash::fast::RandomState>,
    /// Statement id -> what decoding its executions' values needs (`audit.record_parameters`).
    bindings: std::collections::HashMap<u32, super::params::Binding, foldhash::fast::RandomState>,
    /// The statement the last `COM_STMT_PREPARE` prepared (none when it failed or was refused,
    /// or that statement was closed), which MariaDB's statement id `-1` names.
    last_prepared: Option<u32>,
    /// A command went upstream and its response has not ended: if the session ends now, the
    /// statement is killed upstream (MySQL runs it to its end otherwise).
    in_flight: bool,
}

/// How much a client may send ahead while its statement runs (kept for the next command);
/// past it dbward stops watching the client until the response is relayed.
const READ_AHEAD: usize = 64 * 1024;

/// The most result bytes moved to the client's buffer in one go before it is sent.
const MAX_SPAN: usize = 64 * 1024;

/// How a command ended the session.
enum Done {
    /// The session must end with this (code, message) ERR sent to the client, with `seq`.
    End(u16, &'static str, String, u8),
    /// The session was ended from outside (the registry: an admin, the grant, shutdown), with
    /// `seq` for its ERR.
    Killed(dbward_core::sessions::EndReason, u8),
    /// The client hung up while its statement ran.
    ClientGone,
}

impl Done {
    /// The upstream connection broke (`e`): the session ends with `ER_NET_READ_ERROR`.
    fn upstream_lost(e: impl std::fmt::Display) -> Self {
        Self::End(
            ER_NET_READ_ERROR,
            "08S01",
            format!("dbward lost the upstream: {e}"),
            1,
        )
    }
}

impl MyRelay {
    /// A relay over a logged-in upstream.
    pub fn new(
        client: MaybeTls,
        client_reader: PacketReader,
        up: Upstream,
        config: MyRelayConfig,
        queries: Allowance,
        bytes: Allowance,
    ) -> Self {
        let status = up.status;
        Self {
            client,
            client_reader,
            up,
            config,
            queries,
            bytes,
            out: BytesMut::new(),
            fwd: BytesMut::new(),
            status,
            bytes_exhausted: None,
            result: dbward_core::audit::StatementOutcome::default(),
            prepared: std::collections::HashMap::default(),
            bindings: std::collections::HashMap::default(),
            last_prepared: None,
            in_flight: false,
        }
    }

    /// Closes both connections and hands back the session's allowances (queries, bytes).
    #[must_use]
    pub fn into_allowances(self) -> (Allowance, Allowance) {
        (self.queries, self.bytes)
    }

    /// The upstream's thread id.
    #[must_use]
    pub fn upstream_thread(&self) -> u32 {
        self.up.thread_id
    }

    /// Runs until the session ends.
    pub async fn run(&mut self) -> SessionEnd {
        // Made once: a new wait per command would register with the token and leave it again
        // each time.
        let kill = self.config.kill.clone();
        let mut killed = std::pin::pin!(kill.wait());
        // The idle timer is a wake-up pushed back lazily: it fires at the earliest possible
        // deadline and is re-armed then (re-arming a timer per command costs a timer-wheel
        // update each time); only a deadline that moved earlier re-arms it at once.
        let mut idle = std::pin::pin!(tokio::time::sleep(Duration::from_secs(u64::from(u32::MAX))));
        loop {
            let timeout = if self.status & SERVER_STATUS_IN_TRANS != 0 {
                self.config.idle_in_transaction_timeout
            } else {
                self.config.idle_session_timeout
            };
            let timeout = if timeout.is_zero() {
                Duration::from_secs(u64::from(u32::MAX))
            } else {
                timeout
            };
            // Between commands the session holds no buffers unless the client has already sent
            // more (an idle session costs its TLS state and little else).
            if !self.client_reader.has_packet() {
                self.client_reader.release_if_empty();
            }
            self.up.reader.release_if_empty();
            if self.out.capacity() > 16 * 1024 {
                self.out = BytesMut::new();
            }
            let deadline = tokio::time::Instant::now() + timeout;
            if idle.deadline() > deadline {
                idle.as_mut().reset(deadline);
            }
            let command = loop {
                // Biased (no random start drawn per command): a kill first, then the command.
                tokio::select! {
                    biased;
                    reason = &mut killed => {
                        return self.end_with(1927, "70100", reason, 0).await;
                    }
                    r = self.client_reader.read_idle(&mut self.client, self.config.max_message_bytes) => break r,
                    () = &mut idle => {
                        if tokio::time::Instant::now() < deadline {
                            idle.as_mut().reset(deadline);
                            continue;
                        }
                        let why = if self.status & SERVER_STATUS_IN_TRANS != 0 {
                            ("idle_in_transaction_timeout", "dbward ended the session: idle in a transaction too long")
                        } else {
                            ("idle_timeout", "dbward ended the session: idle too long")
                        };
                        let why = dbward_core::sessions::EndReason::new(why.0, why.1);
                        return self.end_with(4031, "HY000", why, 0).await;
                    }
                }
            };
            let (seq, _, payload) = match command {
                Ok(c) => c,
                Err(PacketError::Closed) => return SessionEnd::ClientQuit,
                Err(e @ PacketError::TooLarge(..)) => {
                    let end = self.end(1153, "08S01", e.to_string(), 1).await;
                    // The client may still be writing the packet it was refused: read and drop
                    // the rest for a moment, so that its write ends and it reads the ERR
                    // instead of failing on a closed connection.
                    Box::pin(crate::stream::linger(&mut self.client)).await;
                    return end;
                }
                Err(e) => return SessionEnd::Error(format!("client: {e}")),
            };
            if seq != 0 {
                return self
                    .end(
                        1156,
                        "08S01",
                        "dbward: command out of sequence".into(),
                        seq.wrapping_add(1),
                    )
                    .await;
            }
            let Some(&cmd) = payload.first() else {
                return self
                    .end(1047, "08S01", "dbward: empty command".into(), 1)
                    .await;
            };
            self.up.reader.forget_passed();
            let step = match tokio::select! {
                biased;
                reason = &mut killed => Err(reason),
                r = self.command(cmd, &payload) => Ok(r),
            } {
                Ok(step) => step,
                Err(reason) => {
                    // Ended while the command ran, perhaps in the middle of a result: the rest
                    // of a packet passed on in part goes first, then the ERR as the response's
                    // next packet (drivers check sequence ids). If that rest does not come,
                    // the connection just closes: an ERR inside a packet would be read as data.
                    let rest = tokio::time::timeout(
                        FINISH_WAIT,
                        self.up
                            .reader
                            .finish_passing(&mut self.up.stream, &mut self.out),
                    )
                    .await;
                    if !matches!(rest, Ok(Ok(()))) {
                        self.kill_in_flight();
                        let _ = self.client.shutdown().await;
                        return SessionEnd::Ended(reason);
                    }
                    Err(Done::Killed(reason, self.up.reader.next_seq(1)))
                }
            };
            if let Ok(None) = step {
                self.in_flight = false;
            } else {
                self.kill_in_flight();
            }
            match step {
                Ok(Some(end)) => return end,
                Ok(None)
                    if (self.status & SERVER_STATUS_NO_BACKSLASH_ESCAPES != 0)
                        != self.config.gate.quoting().no_backslash_escapes =>
                {
                    // The server switched NO_BACKSLASH_ESCAPES where dbward did not see it
                    // switched: the classifier would split statements otherwise than the server.
                    return self
                        .end(
                            1227,
                            "42000",
                            "dbward ended the session: its NO_BACKSLASH_ESCAPES mode changed unseen"
                                .into(),
                            0,
                        )
                        .await;
                }
                Ok(None) => {}
                Err(Done::End(code, state, message, seq)) => {
                    return self.end(code, state, message, seq).await;
                }
                Err(Done::Killed(reason, seq)) => {
                    return self.end_with(1927, "70100", reason, seq).await;
                }
                Err(Done::ClientGone) => {
                    return SessionEnd::Error(
                        "the client hung up during a statement; dbward killed it upstream".into(),
                    );
                }
            }
        }
    }

    /// After a statement that set the character set or `sql_mode` (or a reset of the session):
    /// the session's values as the server reports them. The session's quoting follows its
    /// `sql_mode` from the next command on; values under which the server would read SQL
    /// differently from dbward end the session before it, with an ERR of sequence id `seq`.
    async fn check_session_mode(&mut self, seq: u8) -> Result<Option<SessionEnd>, Done> {
        let values = super::upstream::query_value(
            &mut self.up,
            "SELECT CONCAT(@@session.character_set_client, '/', @@session.sql_mode)",
        )
        .await
        .map_err(|e| {
            Done::End(
                ER_NET_READ_ERROR,
                "08S01",
                format!("dbward could not check the session: {e}"),
                seq,
            )
        })?
        .unwrap_or_default();
        let (charset, sql_mode) = values.split_once('/').unwrap_or((&values, ""));
        match dbward_core::policy::session_quoting(charset, sql_mode) {
            Ok(quoting) => {
                self.config.gate.set_quoting(quoting);
                Ok(None)
            }
            Err(why) => {
                self.config.gate.audit_other(
                    "(session check)",
                    &format!("dbward ended the session: it switched to {why}"),
                );
                Err(Done::End(
                    1227,
                    "42000",
                    format!(
                        "dbward ended the session: it switched to {why}, under which the server would read SQL differently from dbward"
                    ),
                    seq,
                ))
            }
        }
    }

    /// The session ends while a statement runs upstream: `KILL QUERY` it from a connection of
    /// its own (in the background; the session's upstream connection closes meanwhile).
    fn kill_in_flight(&mut self) {
        if !std::mem::take(&mut self.in_flight) {
            return;
        }
        let Some(target) = self
            .config
            .kills
            .lookup(self.config.connection_id, self.config.user_id)
        else {
            return;
        };
        let opts = self.config.upstream;
        tokio::spawn(async move {
            if let Err((code, e)) = super::kill::kill_query(&target, &opts).await {
                tracing::debug!(code, error = %e, "killing the abandoned statement upstream");
            }
        });
    }

    /// Waits, when nothing from the upstream is buffered, until it sends more; meanwhile
    /// watches the client, so one that hangs up while its statement runs ends the session.
    /// Bytes a client sends ahead stay buffered for its next command (up to [`READ_AHEAD`]).
    async fn await_upstream(&mut self) -> Result<(), Done> {
        if self.up.reader.buffered() > 0 {
            return Ok(());
        }
        self.flush().await?;
        loop {
            let watch = self.client_reader.buffered() < READ_AHEAD;
            tokio::select! {
                biased;
                r = self.up.reader.read_more(&mut self.up.stream) => {
                    return match r {
                        Ok(n) if n > 0 => Ok(()),
                        Ok(_) => Err(Done::upstream_lost("connection closed")),
                        Err(e) => Err(Done::upstream_lost(e)),
                    };
                }
                r = self.client_reader.read_more(&mut self.client), if watch => {
                    if !matches!(r, Ok(n) if n > 0) {
                        return Err(Done::ClientGone);
                    }
                }
            }
        }
    }

    /// Sends an ERR (after anything pending) and ends the session; its cause follows from
    /// the code.
    async fn end(&mut self, code: u16, state: &str, message: String, seq: u8) -> SessionEnd {
        let cause = match code {
            1226 => "quota",
            1227 => "setting_changed",
            1043 | 1047 | 1153 | 1156 => "protocol_error",
            1044 | 1045 => "change_user_refused",
            _ => "error",
        };
        let reason = dbward_core::sessions::EndReason::new(cause, message);
        self.end_with(code, state, reason, seq).await
    }

    /// [`Self::end`] with its cause given.
    async fn end_with(
        &mut self,
        code: u16,
        state: &str,
        reason: dbward_core::sessions::EndReason,
        seq: u8,
    ) -> SessionEnd {
        put_packet(
            &mut self.out,
            seq,
            &err_payload(code, state, &reason.message),
        );
        let _ = self.client.send(&self.out).await;
        let _ = self.client.shutdown().await;
        SessionEnd::Ended(reason)
    }

    /// Answers the client with an ERR for its command (sequence id 1); the session goes on.
    async fn refuse(
        &mut self,
        code: u16,
        state: &str,
        message: &str,
    ) -> Result<Option<SessionEnd>, Done> {
        let mut out = BytesMut::new();
        put_packet(&mut out, 1, &err_payload(code, state, message));
        self.client
            .send(&out)
            .await
            .map_err(|e| Done::End(ER_NET_READ_ERROR, "08S01", format!("client write: {e}"), 1))?;
        Ok(None)
    }

    fn refused_code(r: &Refused) -> (u16, &'static str, &str) {
        match r {
            Refused::Policy(m) => (1142, "42000", m),
            Refused::Unclassifiable(m) => (1064, "42000", m),
            Refused::Quota(m) => (1226, "42000", m),
            Refused::Unavailable(m) => (1290, "HY000", m),
        }
    }

    async fn take_queries(&mut self, n: u32, sql: &[u8]) -> Result<(), Refused> {
        let result = match &self.bytes_exhausted {
            Some(m) => Err(m.clone()),
            None if n == 0 => Ok(()),
            None => match self.queries.take(i64::from(n)).await {
                Ok(()) => Ok(()),
                Err(QuotaError::Exhausted(m)) => Err(m),
                Err(QuotaError::Store(e)) => {
                    tracing::error!(error = %e, "quota check failed");
                    Err("dbward cannot check this grant's quota right now; try again".into())
                }
            },
        };
        result.map_err(|m| {
            self.config
                .gate
                .audit_other(&String::from_utf8_lossy(sql), &m);
            Refused::Quota(m)
        })
    }

    /// Handles one command; `Ok(Some(end))` ends the session.
    async fn command(&mut self, cmd: u8, payload: &[u8]) -> Result<Option<SessionEnd>, Done> {
        // The prepared statement a command names. MariaDB's id `-1` names the one prepared
        // last (MariaDB's connectors send a prepare and its execution together that way): dbward
        // resolves it and sends the real id upstream, so what it audits is what runs.
        let mut target = None;
        if names_statement(cmd) {
            target = statement_id(payload);
            if target == Some(LAST_PREPARED) {
                target = self.last_prepared;
                if target.is_none() {
                    if matches!(command_fate(cmd), Fate::NoResponse) {
                        // As the server does with an unknown id: nothing, and no answer.
                        return Ok(None);
                    }
                    return self
                        .refuse(
                            1243,
                            "HY000",
                            "dbward: statement id -1 names the statement prepared last, and there is none (the last prepare failed, was refused, or its statement was closed)",
                        )
                        .await;
                }
            }
        }
        match command_fate(cmd) {
            Fate::Quit => {
                let _ = packet::write_packet(&mut self.up.stream, 0, payload).await;
                Ok(Some(SessionEnd::ClientQuit))
            }
            Fate::Refused(why) => {
                self.config
                    .gate
                    .audit_other(&format!("(command 0x{cmd:02x})"), why);
                self.refuse(1047, "08S01", why).await
            }
            Fate::Query if super::kill::parse_kill(&payload[1..]).is_some() => {
                let (query, id) = super::kill::parse_kill(&payload[1..]).unwrap_or((true, 0));
                // Rare paths are boxed: the relay's future lives as long as the session.
                Box::pin(self.kill(id, query)).await
            }
            Fate::ChangeUser => {
                // The upstream session is reset: its prepared statements are gone.
                self.forget_statements();
                Box::pin(self.change_user(payload)).await
            }
            Fate::ProcessKill => {
                let id = payload
                    .get(1..5)
                    .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                Box::pin(self.kill(id, false)).await
            }
            Fate::Query => {
                let sql = &payload[1..];
                let (c, text) = match self.config.gate.check(sql).await {
                    Ok(checked) => checked,
                    Err(r) => {
                        let (code, state, m) = Self::refused_code(&r);
                        let m = m.to_owned();
                        return self.refuse(code, state, &m).await;
                    }
                };
                if let Some(schema) = &c.use_schema
                    && !schema.eq_ignore_ascii_case(&self.config.schema)
                {
                    let m = format!(
                        "dbward: this database gives access to schema `{}` only",
                        self.config.schema
                    );
                    self.config
                        .gate
                        .audit_other(&String::from_utf8_lossy(sql), &m);
                    return self.refuse(1044, "42000", &m).await;
                }
                if let Err(r) = self.take_queries(c.statements, sql).await {
                    let (code, state, m) = Self::refused_code(&r);
                    let m = m.to_owned();
                    return self.refuse(code, state, &m).await;
                }
                let admitted = std::time::Instant::now();
                let token = if c.statements > 0 {
                    match self.config.gate.record_allowed(&text, &c, "query").await {
                        Ok(t) => Some(t),
                        Err(r) => {
                            let (code, state, m) = Self::refused_code(&r);
                            let m = m.to_owned();
                            return self.refuse(code, state, &m).await;
                        }
                    }
                } else {
                    None
                };
                let infile = (c.reason == "LOAD DATA LOCAL INFILE")
                    .then(|| infile_name(sql))
                    .flatten();
                self.forward(payload).await?;
                let answered = self
                    .audited_response(token, admitted, infile.as_deref())
                    .await;
                if c.check_session && matches!(answered, Ok(None)) {
                    return Box::pin(self.check_session_mode(0)).await;
                }
                answered
            }
            Fate::Prepare => {
                let sql = &payload[1..];
                let (c, text) = match self.config.gate.check(sql).await {
                    // Checked after it runs: only as a plain query, where dbward sees it run.
                    Ok((c, _)) if c.check_session => {
                        let m = "dbward: a SET of the character set or sql_mode that dbward checks after it runs (a computed value, or a change of quoting) runs only as a plain query, not prepared";
                        self.config
                            .gate
                            .audit_other(&String::from_utf8_lossy(sql), m);
                        self.last_prepared = None;
                        return self.refuse(1142, "42000", m).await;
                    }
                    Ok((c, text)) => {
                        if let Err(r) = self.config.gate.record_allowed(&text, &c, "prepare").await
                        {
                            self.last_prepared = None;
                            let (code, state, m) = Self::refused_code(&r);
                            let m = m.to_owned();
                            return self.refuse(code, state, &m).await;
                        }
                        (c, text)
                    }
                    Err(r) => {
                        // The server never sees it: `-1` then names no statement, as after a
                        // prepare the server failed.
                        self.last_prepared = None;
                        let (code, state, m) = Self::refused_code(&r);
                        let m = m.to_owned();
                        return self.refuse(code, state, &m).await;
                    }
                };
                let sql: Arc<str> = text.into();
                self.forward(payload).await?;
                let (end, id) = self.prepare_response().await?;
                self.last_prepared = id.map(|(id, _)| id);
                if let Some((id, params)) = id {
                    self.prepared.insert(id, (sql, c));
                    if self.config.gate.record_parameters() {
                        self.bindings
                            .insert(id, super::params::Binding::new(usize::from(params)));
                    }
                }
                Ok(end)
            }
            Fate::BulkExecute if !self.up.bulk => {
                let m = "dbward: MariaDB's bulk execution is not available on this connection (it needs a MariaDB upstream, and dbward's mysql.server_version naming MariaDB)";
                self.config
                    .gate
                    .audit_other("(command 0xfa: COM_STMT_BULK_EXECUTE)", m);
                self.refuse(1295, "HY000", m).await
            }
            Fate::Execute | Fate::Fetch | Fate::BulkExecute => {
                // A bulk execution counts as one statement, as a multi-row INSERT does.
                if let Err(r) = self.take_queries(1, b"(prepared statement)").await {
                    let (code, state, m) = Self::refused_code(&r);
                    let m = m.to_owned();
                    return self.refuse(code, state, &m).await;
                }
                // Each execution is audited with the prepared text (identical ones of a flush
                // interval fold into one row).
                let admitted = std::time::Instant::now();
                let mut token = None;
                if cmd != 0x1C
                    && let Some((sql, c)) = target.and_then(|id| self.prepared.get(&id)).cloned()
                {
                    let bulk = cmd == 0xFA;
                    let decoded = target.and_then(|id| self.bindings.get_mut(&id)).map(|b| {
                        if bulk {
                            b.bulk(payload)
                        } else {
                            b.execute(payload)
                        }
                    });
                    let parameters = match decoded {
                        // Not recorded, or a statement without parameters (it folds).
                        None => None,
                        Some(Some(values)) if values.is_empty() => None,
                        Some(Some(values)) => Some(values),
                        Some(None) => Some(vec![Some("(malformed parameters)".into())]),
                    };
                    let how = if bulk { "bulk execute" } else { "execute" };
                    match self
                        .config
                        .gate
                        .record_execution(&sql, &c, how, parameters)
                        .await
                    {
                        Ok(t) => token = Some(t),
                        Err(r) => {
                            let (code, state, m) = Self::refused_code(&r);
                            let m = m.to_owned();
                            return self.refuse(code, state, &m).await;
                        }
                    }
                }
                self.forward_statement(payload, target).await?;
                // An Execute that opens a cursor answers with metadata only (the status says
                // SERVER_STATUS_CURSOR_EXISTS); its rows come by COM_STMT_FETCH.
                if cmd == 0x1C {
                    self.rows().await?;
                    self.flush().await?;
                    Ok(None)
                } else {
                    self.audited_response(token, admitted, None).await
                }
            }
            Fate::NoResponse => {
                if cmd == 0x19
                    && let Some(id) = target
                {
                    self.prepared.remove(&id);
                    self.bindings.remove(&id);
                    if self.last_prepared == Some(id) {
                        self.last_prepared = None;
                    }
                }
                // COM_STMT_SEND_LONG_DATA: that parameter's value is not in the next execute.
                if cmd == 0x18
                    && let (Some(id), Some(p)) = (target, payload.get(5..7))
                    && let Some(b) = self.bindings.get_mut(&id)
                {
                    b.long_data(usize::from(u16::from_le_bytes([p[0], p[1]])));
                }
                self.forward_statement(payload, target).await?;
                Ok(None)
            }
            Fate::SinglePacket => {
                // COM_STMT_RESET discards the long data sent for the statement.
                if cmd == 0x1A
                    && let Some(b) = target.and_then(|id| self.bindings.get_mut(&id))
                {
                    b.reset();
                }
                self.forward_statement(payload, target).await?;
                self.single().await
            }
            Fate::FieldList => {
                self.forward(payload).await?;
                self.rows().await?;
                self.flush().await?;
                Ok(None)
            }
            Fate::InitDb => {
                let schema = String::from_utf8_lossy(&payload[1..]).into_owned();
                // The dbward database's own name (what the client connected with) selects its
                // configured schema: `mysql -u alice` then `use orders` works as a user expects.
                if !schema.eq_ignore_ascii_case(&self.config.schema)
                    && schema.eq_ignore_ascii_case(&self.config.change_user.database)
                {
                    let mut init = Vec::with_capacity(1 + self.config.schema.len());
                    init.push(payload[0]);
                    init.extend_from_slice(self.config.schema.as_bytes());
                    self.forward(&init).await?;
                    return self.single().await;
                }
                if !schema.eq_ignore_ascii_case(&self.config.schema) {
                    let m = format!(
                        "dbward: this database gives access to schema `{}` only",
                        self.config.schema
                    );
                    self.config.gate.audit_other(&format!("USE {schema}"), &m);
                    return self.refuse(1044, "42000", &m).await;
                }
                self.forward(payload).await?;
                self.single().await
            }
            Fate::Ddl(what) => {
                if self.config.level < AccessLevel::Ddl {
                    let m = format!(
                        "permission denied by dbward: {what} is ddl, and this session's grant allows {}",
                        self.config.level
                    );
                    self.config.gate.audit_other(what, &m);
                    return self.refuse(1142, "42000", &m).await;
                }
                self.forward(payload).await?;
                self.single().await
            }
            Fate::ResetConnection => {
                self.forget_statements();
                self.forward(payload).await?;
                let (seq, _, answer) = self.read_upstream().await?;
                if answer.first() == Some(&0x00) {
                    self.status = packet::ok_status(&answer).unwrap_or(self.status);
                    for sql in self.config.setup.clone() {
                        self.status = super::upstream::run_setup(&mut self.up, &sql)
                            .await
                            .map_err(|e| {
                                Done::End(
                                    ER_NET_READ_ERROR,
                                    "08S01",
                                    format!("dbward could not restore the session: {e}"),
                                    seq,
                                )
                            })?;
                    }
                    // The server's default sql_mode again, whatever it is now.
                    Box::pin(self.check_session_mode(seq)).await?;
                }
                put_packet(&mut self.out, seq, &answer);
                self.flush().await?;
                Ok(None)
            }
        }
    }

    /// The upstream session was reset: its prepared statements are gone.
    fn forget_statements(&mut self) {
        self.prepared.clear();
        self.bindings.clear();
        self.last_prepared = None;
    }

    /// `COM_CHANGE_USER`'s `caching_sha2_password` answer: the fast path when a full
    /// authentication is remembered and the channel is trusted (then "fast auth success"),
    /// else the password itself. `Err(None)`: a wrong password; `Err(Some(..))`: the error the
    /// client gets instead (TLS required, the connection failed).
    async fn change_user_caching_sha2(
        &mut self,
        user: &str,
        nonce: &[u8],
        scrambled: &[u8],
        trusted_channel: bool,
        seq: &mut u8,
    ) -> Result<dbward_core::store::UserAuth, Option<(u16, String)>> {
        let ctx = &self.config.change_user;
        let ip = ctx.peer.ip();
        let fast = if trusted_channel {
            ctx.auth
                .verify_sha2_scramble(user, nonce, scrambled, ip)
                .await
                .map_err(|_| None)?
        } else {
            None
        };
        if let Some(verified) = fast {
            *seq = packet::write_packet(&mut self.client, *seq, &[0x01, 0x03])
                .await
                .map_err(|e| Some((ER_NET_READ_ERROR, format!("client: {e}"))))?;
            return Ok(verified);
        }
        let nonce: &[u8; 20] = nonce
            .get(..20)
            .and_then(|n| n.try_into().ok())
            .ok_or(None)?;
        let ctx = &self.config.change_user;
        let password = super::client_auth::full_authentication(
            &mut self.client,
            &mut self.client_reader,
            seq,
            nonce,
            ctx.rsa
                .as_deref()
                .map(|exchange| super::rsa_exchange::RsaLogin {
                    exchange,
                    auth: &ctx.auth,
                    user,
                    client: ip,
                }),
        )
        .await
        .map_err(|e| Some((e.code().0, e.to_string())))?
        .map_err(|_| None)?;
        let verified = ctx
            .auth
            .verify_password(user, &password, ip)
            .await
            .map_err(|_| None)?;
        ctx.auth.remember_sha2(&verified, &password);
        Ok(verified)
    }

    /// `COM_CHANGE_USER`, as connection pools use it to reset a session: dbward
    /// re-authenticates the user (`caching_sha2_password`; `mysql_native_password` for a user
    /// an admin opted in to it, over TLS or from loopback, as at login), re-checks
    /// that the grant is still the one in use, resets the upstream session
    /// (`COM_RESET_CONNECTION`) and re-applies the grant's mode. Only to the same user and
    /// database: anything else, or any failure, ends the session with an error.
    async fn change_user(&mut self, payload: &[u8]) -> Result<Option<SessionEnd>, Done> {
        let body = &payload[1..];
        let user_end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
        let user = String::from_utf8_lossy(&body[..user_end]).into_owned();
        let rest = body.get(user_end + 1..).unwrap_or_default();
        let auth_len = usize::from(rest.first().copied().unwrap_or(0));
        let after = rest.get(1 + auth_len..).unwrap_or_default();
        let db_end = after.iter().position(|b| *b == 0).unwrap_or(after.len());
        let database = String::from_utf8_lossy(&after[..db_end]).into_owned();
        let mut scramble: [u8; 20] = dbward_core::crypto::random_bytes();
        for b in &mut scramble {
            *b = (*b % 94) + 33;
        }
        let mut nonce = scramble.to_vec();
        nonce.push(0);
        // Without TLS only from loopback, as at login: a scramble seen on a network can be
        // attacked offline.
        let ctx = self.config.change_user.clone();
        let trusted_channel = self.client.is_tls() || ctx.peer.ip().is_loopback();
        let native = trusted_channel
            && ctx
                .store
                .user_auth(&user)
                .await
                .ok()
                .flatten()
                .is_some_and(|u| u.mysql_native().is_some());
        let mut switch = vec![0xFE];
        switch.extend_from_slice(if native {
            b"mysql_native_password\0"
        } else {
            b"caching_sha2_password\0"
        });
        switch.extend_from_slice(&nonce);
        let fail = |code, message: String, seq| Done::End(code, "28000", message, seq);
        let mut seq = packet::write_packet(&mut self.client, 1, &switch)
            .await
            .map_err(|e| fail(ER_NET_READ_ERROR, format!("client: {e}"), 1))?;
        let (s, _, scrambled) = self
            .client_reader
            .read(&mut self.client, 64 * 1024)
            .await
            .map_err(|e| fail(ER_NET_READ_ERROR, format!("client: {e}"), seq))?;
        if s != seq {
            return Err(Done::End(
                1156,
                "08S01",
                format!("dbward: packet out of order (sequence id {s}, expected {seq})"),
                seq,
            ));
        }
        seq = s.wrapping_add(1);
        let denied = || {
            format!(
                "Access denied for user '{user}'@'{}' (using password: YES)",
                ctx.peer.ip()
            )
        };
        let verified = if native {
            let opened = ctx
                .auth
                .verify_native_scramble(&user, &scramble, &scrambled, ctx.peer.ip(), |sealed| {
                    dbward_core::crypto::password::open_mysql_native(&ctx.key, &user, sealed)
                })
                .await;
            match opened {
                Ok(Some(verified)) => verified,
                _ => return Err(fail(1045, denied(), seq)),
            }
        } else {
            self.change_user_caching_sha2(&user, &scramble, &scrambled, trusted_channel, &mut seq)
                .await
                .map_err(|e| match e {
                    Some((code, message)) => fail(code, message, seq),
                    None => fail(1045, denied(), seq),
                })?
        };
        // The client names the database it connected with: the dbward name, none (it named
        // none at login, and landed on the user's only MySQL database), or the schema it is in.
        let database = if database.is_empty() || database.eq_ignore_ascii_case(&self.config.schema)
        {
            ctx.database.clone()
        } else {
            database
        };
        if user != ctx.username || !database.eq_ignore_ascii_case(&ctx.database) {
            return Err(fail(
                1044,
                "dbward supports COM_CHANGE_USER only to the same user and database; reconnect instead"
                    .into(),
                seq,
            ));
        }
        let granted = dbward_core::gate::open_session(
            &ctx.store,
            &verified,
            dbward_core::model::Engine::Mysql,
            &database,
            dbward_core::time::now(),
        )
        .await
        .map_err(|e| fail(1044, e.to_string(), seq))?;
        if granted.grant.id != ctx.grant_id || granted.level != self.config.level {
            return Err(fail(
                1044,
                "your grant on this database changed; reconnect to use it".into(),
                seq,
            ));
        }
        self.forward(&[0x1F]).await?;
        let (_, _, answer) = self.read_upstream().await?;
        if answer.first() != Some(&0x00) {
            return Err(fail(
                ER_NET_READ_ERROR,
                "dbward could not reset the upstream session".into(),
                seq,
            ));
        }
        self.status = packet::ok_status(&answer).unwrap_or(self.status);
        for sql in self.config.setup.clone() {
            self.status = super::upstream::run_setup(&mut self.up, &sql)
                .await
                .map_err(|e| {
                    fail(
                        ER_NET_READ_ERROR,
                        format!("dbward could not restore the session: {e}"),
                        seq,
                    )
                })?;
        }
        // The server's default sql_mode again, whatever it is now.
        Box::pin(self.check_session_mode(seq)).await?;
        put_packet(&mut self.out, seq, &packet::ok_payload(self.status));
        self.flush().await?;
        Ok(None)
    }

    /// `KILL [QUERY] id` for this user's sessions; answers OK or ERR 1094.
    async fn kill(&mut self, id: u32, query_only: bool) -> Result<Option<SessionEnd>, Done> {
        let result = super::kill::kill(
            &self.config.kills,
            &self.config.registry,
            self.config.user_id,
            id,
            query_only,
            &self.config.upstream,
        )
        .await;
        match result {
            Ok(()) => {
                let mut out = BytesMut::new();
                put_packet(&mut out, 1, &packet::ok_payload(self.status));
                self.client.send(&out).await.map_err(|e| {
                    Done::End(ER_NET_READ_ERROR, "08S01", format!("client write: {e}"), 1)
                })?;
                Ok(None)
            }
            Err((code, message)) => self.refuse(code, "HY000", &message).await,
        }
    }

    async fn forward(&mut self, payload: &[u8]) -> Result<(), Done> {
        self.forward_statement(payload, None).await
    }

    /// Forwards a command; `Some(id)`: one that names a prepared statement, sent with that
    /// (resolved) id.
    async fn forward_statement(&mut self, payload: &[u8], id: Option<u32>) -> Result<(), Done> {
        self.in_flight = true;
        self.fwd.clear();
        put_packet(&mut self.fwd, 0, payload);
        // After the header (4 bytes) and the command byte.
        if let (Some(id), Some(at)) = (id, self.fwd.get_mut(5..9)) {
            at.copy_from_slice(&id.to_le_bytes());
        }
        let written = self.up.stream.send(&self.fwd).await;
        if self.fwd.capacity() > 64 * 1024 {
            self.fwd = BytesMut::new();
        }
        written.map_err(Done::upstream_lost)
    }

    async fn read_upstream(&mut self) -> Result<(u8, u8, BytesMut), Done> {
        self.await_upstream().await?;
        self.up
            .reader
            .read(&mut self.up.stream, 1 << 30)
            .await
            .map_err(Done::upstream_lost)
    }

    async fn flush(&mut self) -> Result<(), Done> {
        if !self.out.is_empty() {
            // `write_all_buf` advances `out` past what was written, also when a kill cancels
            // this future midway: the session's last ERR then follows exactly what the client
            // got, not a second copy of it.
            let written = async {
                self.client.write_all_buf(&mut self.out).await?;
                self.client.flush().await
            };
            written.await.map_err(|e| {
                Done::End(ER_NET_READ_ERROR, "08S01", format!("client write: {e}"), 1)
            })?;
            self.out.clear();
            if self.out.capacity() > 256 * 1024 {
                self.out = BytesMut::new();
            }
        }
        Ok(())
    }

    /// Relays one packet raw; returns (payload length, first bytes, sequence id).
    async fn relay_packet(&mut self) -> Result<(usize, [u8; 9], u8), Done> {
        if !self.up.reader.has_packet() {
            self.flush().await?;
            self.await_upstream().await?;
        }
        self.up
            .reader
            .relay(&mut self.up.stream, &mut self.out, &mut self.client)
            .await
            .map_err(Done::upstream_lost)
    }

    /// A response of one packet (OK, ERR, EOF, a statistics string).
    async fn single(&mut self) -> Result<Option<SessionEnd>, Done> {
        let (len, head, _) = self.relay_packet().await?;
        if head[0] == 0x00 && len >= 7 {
            self.status = packet::ok_status(&head).unwrap_or(self.status);
        }
        self.flush().await?;
        Ok(None)
    }

    fn terminator_status(&self, len: usize, head: &[u8; 9]) -> u16 {
        if len < 9 && !self.config.deprecate_eof {
            packet::eof_status(head).unwrap_or(self.status)
        } else {
            packet::ok_status(head).unwrap_or(self.status)
        }
    }

    /// Rows (metered) up to the terminator (EOF/OK with 0xFE, or ERR); sets the status.
    async fn rows(&mut self) -> Result<(), Done> {
        // After a packet of exactly 0xFFFFFF bytes, the next one continues the same row: its
        // first byte is data (it may well be 0xFE or 0xFF) and never a terminator.
        let mut continuing = false;
        loop {
            // The rows already buffered whole, metered and copied at once when the byte
            // allowance covers them all (else one at a time below, which can wait for more).
            let span =
                self.up
                    .reader
                    .buffered_rows(continuing, self.config.deprecate_eof, MAX_SPAN);
            if span.len > 0 {
                let size = i64::try_from(span.len).unwrap_or(i64::MAX);
                if self.bytes.try_take(size) {
                    self.result.bytes += size;
                    self.result.rows += span.rows;
                    self.up.reader.copy_out(&span, &mut self.out);
                    continuing = span.continuing;
                    if self.out.len() >= MAX_SPAN {
                        self.flush().await?;
                    }
                    continue;
                }
            }
            let (len, seq) = self.peek_header().await?;
            let terminator = !continuing && {
                let head0 = self.peek_first().await?;
                packet::is_row_terminator(false, head0, len, self.config.deprecate_eof)
            };
            if !terminator {
                let size = i64::try_from(len + 4).unwrap_or(i64::MAX);
                self.result.bytes += size;
                if !continuing {
                    self.result.rows += 1;
                }
                if !self.bytes.try_take(size) {
                    self.flush().await?;
                    if let Err(e) = self.bytes.take(size).await {
                        let message = match e {
                            QuotaError::Exhausted(m) => m,
                            QuotaError::Store(e) => {
                                tracing::error!(error = %e, "quota check failed");
                                "dbward cannot check this grant's byte quota right now".into()
                            }
                        };
                        self.config.gate.audit_other("(result cut off)", &message);
                        self.bytes_exhausted = Some(message.clone());
                        return Err(Done::End(1226, "42000", message, seq));
                    }
                }
            }
            let (len, head, _) = self.relay_packet().await?;
            if terminator {
                if head[0] == 0xFF {
                    self.note_error(&head);
                } else {
                    self.status = self.terminator_status(len, &head);
                }
                return Ok(());
            }
            continuing = len == packet::MAX_PAYLOAD;
        }
    }

    async fn peek_header(&mut self) -> Result<(usize, u8), Done> {
        if !self.up.reader.has_packet() {
            self.flush().await?;
            self.await_upstream().await?;
        }
        self.up
            .reader
            .header(&mut self.up.stream)
            .await
            .map_err(Done::upstream_lost)
    }

    async fn peek_first(&mut self) -> Result<u8, Done> {
        self.await_upstream().await?;
        self.up
            .reader
            .first_byte(&mut self.up.stream)
            .await
            .map_err(Done::upstream_lost)
    }

    /// The response to COM_QUERY / COM_STMT_EXECUTE: OK, ERR, LOCAL INFILE, or result sets,
    /// repeated while `SERVER_MORE_RESULTS_EXISTS`.
    async fn result_response(&mut self, infile: Option<&str>) -> Result<Option<SessionEnd>, Done> {
        loop {
            let first = self.peek_first().await?;
            if first == 0xFB {
                if self.local_infile(infile).await? {
                    // The statement's OK/ERR follows.
                    continue;
                }
                break;
            }
            let (len, head, _) = self.relay_packet().await?;
            match head[0] {
                0x00 => {
                    if len >= 7 {
                        self.status = packet::ok_status(&head).unwrap_or(self.status);
                    }
                    if let Some((n, _)) = packet::lenenc_int(&head[1..]) {
                        let n = i64::try_from(n).unwrap_or(i64::MAX);
                        *self.result.affected.get_or_insert(0) += n;
                    }
                }
                0xFF => {
                    self.note_error(&head);
                    break;
                }
                _ => {
                    let (columns, used) = packet::lenenc_int(&head).unwrap_or((0, len));
                    // With MariaDB's cached metadata, a byte after the count says whether the
                    // column definitions follow (a prepared statement's execution skips them
                    // while they are unchanged); the EOF after them comes either way.
                    let definitions =
                        !self.up.cache_metadata || used >= len || head.get(used) != Some(&0);
                    for _ in 0..if definitions { columns } else { 0 } {
                        self.relay_packet().await?;
                    }
                    if !self.config.deprecate_eof {
                        let (len, head, _) = self.relay_packet().await?;
                        let status = self.terminator_status(len, &head);
                        if status & SERVER_STATUS_CURSOR_EXISTS != 0 {
                            self.status = status;
                            break;
                        }
                    }
                    self.rows().await?;
                }
            }
            if self.status & SERVER_MORE_RESULTS_EXISTS == 0 {
                break;
            }
        }
        self.flush().await?;
        Ok(None)
    }

    /// Keeps the first error code of the current response (an ERR packet's head).
    fn note_error(&mut self, head: &[u8]) {
        if self.result.error.is_none() && head.len() >= 3 {
            self.result.error = Some(u16::from_le_bytes([head[1], head[2]]).to_string());
        }
    }

    /// Runs a statement's response and reports its outcome under `token` (an audited
    /// statement); the outcome is measured from `admitted`.
    async fn audited_response(
        &mut self,
        token: Option<u64>,
        admitted: std::time::Instant,
        infile: Option<&str>,
    ) -> Result<Option<SessionEnd>, Done> {
        self.result = dbward_core::audit::StatementOutcome::default();
        let r = self.result_response(infile).await;
        if let Some(token) = token {
            let mut outcome = std::mem::take(&mut self.result);
            outcome.duration_us = i64::try_from(admitted.elapsed().as_micros()).unwrap_or(i64::MAX);
            self.config.gate.completed(token, outcome).await;
        }
        r
    }

    /// The upstream asks for a client file. Relayed only when the client's statement was
    /// `LOAD DATA LOCAL INFILE` of that very file; otherwise the upstream gets an empty file and
    /// the client an error (`false`: the response is complete).
    async fn local_infile(&mut self, expected: Option<&str>) -> Result<bool, Done> {
        let (first_seq, _, request) = self.read_upstream().await?;
        let name = String::from_utf8_lossy(&request[1..]).into_owned();
        if expected == Some(name.as_str()) {
            put_packet(&mut self.out, first_seq, &request);
            self.flush().await?;
            // The file's packets, up to the empty one, straight through.
            loop {
                let (s, _, chunk) = self
                    .client_reader
                    .read(&mut self.client, self.config.max_message_bytes.max(1 << 24))
                    .await
                    .map_err(|e| {
                        Done::End(
                            ER_NET_READ_ERROR,
                            "08S01",
                            format!("client: {e}"),
                            first_seq,
                        )
                    })?;
                packet::write_packet(&mut self.up.stream, s, &chunk)
                    .await
                    .map_err(Done::upstream_lost)?;
                if chunk.is_empty() {
                    return Ok(true);
                }
            }
        }
        // Refuse: an empty file upstream, swallow its answer, tell the client.
        packet::write_packet(&mut self.up.stream, first_seq.wrapping_add(1), &[])
            .await
            .map_err(Done::upstream_lost)?;
        let _ = self.read_upstream().await?;
        let m = format!("dbward refused the server's request for local file {name}");
        self.config.gate.audit_other(&name, &m);
        put_packet(
            &mut self.out,
            1,
            &err_payload(packet::ER_NOT_ALLOWED_COMMAND, "42000", &m),
        );
        Ok(false)
    }

    /// The response to COM_STMT_PREPARE: OK with counts, parameter and column definitions.
    /// Returns the statement id and its parameter count when the server prepared it.
    async fn prepare_response(&mut self) -> Result<(Option<SessionEnd>, Option<(u32, u16)>), Done> {
        let (_, _, first) = self.read_upstream_peeked().await?;
        if first.first() != Some(&0x00) || first.len() < 12 {
            self.flush().await?;
            return Ok((None, None));
        }
        let id = u32::from_le_bytes([first[1], first[2], first[3], first[4]]);
        let columns = u16::from_le_bytes([first[5], first[6]]);
        let params = u16::from_le_bytes([first[7], first[8]]);
        for count in [params, columns] {
            if count == 0 {
                continue;
            }
            for _ in 0..count {
                self.relay_packet().await?;
            }
            if !self.config.deprecate_eof {
                self.relay_packet().await?;
            }
        }
        self.flush().await?;
        Ok((None, Some((id, params))))
    }

    /// Relays the next packet and returns it whole too (small control packets only).
    async fn read_upstream_peeked(&mut self) -> Result<(u8, u8, BytesMut), Done> {
        let (first, last, payload) = self.read_upstream().await?;
        put_packet(&mut self.out, first, &payload);
        Ok((first, last, payload))
    }
}

/// MariaDB's statement id for the statement prepared last.
const LAST_PREPARED: u32 = u32::MAX;

/// Commands that name a prepared statement (its id follows the command byte): execute,
/// send long data, close, reset, fetch, bulk execute.
fn names_statement(cmd: u8) -> bool {
    matches!(cmd, 0x17 | 0x18 | 0x19 | 0x1A | 0x1C | 0xFA)
}

/// The statement id of a command that names one (after the command byte).
fn statement_id(payload: &[u8]) -> Option<u32> {
    let id = payload.get(1..5)?;
    Some(u32::from_le_bytes([id[0], id[1], id[2], id[3]]))
}

/// A prepared statement's SQL text and classification.
type PreparedStatement = (Arc<str>, Arc<dbward_core::policy::Classification>);

/// The file name of a `LOAD DATA LOCAL INFILE '...'` statement, unquoted as the server reads
/// it (a doubled quote, MySQL's backslash escapes). A name read differently from the server's
/// only refuses the file, never sends another one.
fn infile_name(sql: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(sql);
    let lower = text.to_ascii_lowercase();
    let at = lower.find("infile")? + "infile".len();
    let rest = text[at..].trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut name = String::new();
    let mut chars = rest[1..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => name.push('\n'),
                't' => name.push('\t'),
                'r' => name.push('\r'),
                '0' => name.push('\0'),
                'b' => name.push('\u{8}'),
                'Z' => name.push('\u{1a}'),
                c @ ('%' | '_') => {
                    name.push('\\');
                    name.push(c);
                }
                c => name.push(c),
            },
            c if c == quote && chars.peek() == Some(&quote) => {
                chars.next();
                name.push(quote);
            }
            c if c == quote => return Some(name),
            c => name.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infile_names() {
        assert_eq!(
            infile_name(b"LOAD DATA LOCAL INFILE '/tmp/a b.csv' INTO TABLE t").as_deref(),
            Some("/tmp/a b.csv")
        );
        assert_eq!(
            infile_name(b"load data local infile \"x\\\"y\" into table t").as_deref(),
            Some("x\"y")
        );
        assert_eq!(
            infile_name(b"LOAD DATA LOCAL INFILE '/tmp/it''s\\tab\\\\x.csv' INTO TABLE t")
                .as_deref(),
            Some("/tmp/it's\tab\\x.csv")
        );
        assert_eq!(infile_name(b"SELECT 1"), None);
    }
}
