//! The MySQL front door's phases, in order: greeting (and TLS), password (before anything
//! about databases or grants), the grant active now, the session registry and its limits,
//! dbward's login upstream and the session's set-up, the audit row, OK, then the relay.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dbward_core::auth::{AuthError, Authenticator};
use dbward_core::crypto::{MasterKey, password};
use dbward_core::gate::{self, GateError};
use dbward_core::model::{AccessLevel, Engine};
use dbward_core::policy::{Classifier, SqlDialect};
use dbward_core::quota::{Allowance, QuotaConfig};
use dbward_core::sessions::{SessionInfo, SessionRegistry};
use dbward_core::store::{AuditOutcome, QuotaKind, Store, UserAuth};
use mysql_common::constants::{CapabilityFlags, MariadbCapabilities};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::client_auth::{self, HandshakeError};
use super::packet::{self, ok_payload, put_packet};
use super::relay::{MyRelay, MyRelayConfig};
use super::rsa_exchange::RsaLogin;
use super::upstream;
use crate::statement_gate::{EndFacts, SessionIdentity, StatementGate};
use crate::stream::MaybeTls;

/// Settings of the MySQL front door.
#[derive(Debug, Clone)]
pub struct MyServerConfig {
    /// From connect to a ready session.
    pub handshake_timeout: Duration,
    /// Upstream connect and login.
    pub connect_timeout: Duration,
    /// Ceiling for commands dbward reads whole.
    pub max_message_bytes: usize,
    /// Refuse plaintext from non-loopback clients.
    pub require_tls_remote: bool,
    /// Caps and timeouts.
    pub limits: dbward_core::config::LimitsConfig,
    /// Quota block sizes.
    pub quota: QuotaConfig,
    /// The version the greeting announces.
    pub server_version: String,
    /// The greeting names `mysql_native_password` rather than `caching_sha2_password`.
    pub announce_native_password: bool,
    /// `caching_sha2_password`'s RSA key exchange for clients without TLS; `None`: off, such
    /// clients are refused.
    pub rsa: Option<std::sync::Arc<super::rsa_exchange::RsaExchange>>,
}

impl MyServerConfig {
    /// dbward speaks as a MariaDB server, with MariaDB's extended capabilities: the announced
    /// version names MariaDB, which says every upstream is one (MariaDB's connectors then
    /// believe the version and the capabilities alike).
    #[must_use]
    pub fn speaks_mariadb(&self) -> bool {
        self.server_version.contains("MariaDB")
    }

    /// The extended capabilities dbward offers: those of
    /// [`super::client_auth::MARIADB_CAPABILITIES`] that the announced MariaDB version has
    /// (bulk execution since 10.2, cached metadata since 10.6), so that a configuration
    /// naming an older MariaDB offers what its upstreams can give.
    #[must_use]
    pub fn mariadb_capabilities(&self) -> MariadbCapabilities {
        let Some(version) = mariadb_version(&self.server_version) else {
            return MariadbCapabilities::empty();
        };
        let mut caps = MariadbCapabilities::empty();
        if version >= (10, 2) {
            caps |= MariadbCapabilities::MARIADB_CLIENT_STMT_BULK_OPERATIONS;
        }
        if version >= (10, 6) {
            caps |= MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA;
        }
        caps & super::client_auth::MARIADB_CAPABILITIES
    }
}

/// (major, minor) of a MariaDB version string (`10.11.99-MariaDB-dbward`, with or without
/// the `5.5.5-` prefix MariaDB puts before it).
fn mariadb_version(version: &str) -> Option<(u32, u32)> {
    if !version.contains("MariaDB") {
        return None;
    }
    let version = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = version.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The MySQL proxy, shared by every connection.
pub struct MyServer {
    store: Store,
    auth: Arc<Authenticator>,
    key: MasterKey,
    tls: Option<TlsAcceptor>,
    config: MyServerConfig,
    sessions: Arc<SessionRegistry>,
    classifier: Arc<Classifier>,
    next_connection_id: AtomicU32,
    kills: Arc<super::kill::KillMap>,
    audit: dbward_core::audit::AuditSink,
}

/// A refusal before the session starts: the MySQL error and the audit reason.
struct Refusal {
    code: u16,
    state: &'static str,
    message: String,
    reason: &'static str,
    user_id: Option<i64>,
}

impl Refusal {
    fn new(
        code: u16,
        state: &'static str,
        message: impl Into<String>,
        reason: &'static str,
    ) -> Self {
        Self {
            code,
            state,
            message: message.into(),
            reason,
            user_id: None,
        }
    }

    fn user(mut self, id: i64) -> Self {
        self.user_id = Some(id);
        self
    }

    /// The store failed during a login (logged here; the client hears only that).
    fn store_unavailable(e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "store unavailable during login");
        Self::new(
            packet::ER_UNKNOWN_ERROR,
            "HY000",
            "dbward cannot reach its store; try again later",
            "unavailable",
        )
    }
}

impl MyServer {
    /// Builds the server; `tls` is the rustls configuration offered to clients.
    #[must_use]
    #[allow(clippy::too_many_arguments)] // the process-wide services each front door shares
    pub fn new(
        store: Store,
        auth: Arc<Authenticator>,
        key: MasterKey,
        tls: Option<rustls::ServerConfig>,
        config: MyServerConfig,
        sessions: Arc<SessionRegistry>,
        classifier: Arc<Classifier>,
        audit: dbward_core::audit::AuditSink,
    ) -> Self {
        Self {
            store,
            auth,
            key,
            tls: tls.map(|c| TlsAcceptor::from(Arc::new(c))),
            config,
            sessions,
            classifier,
            next_connection_id: AtomicU32::new(1),
            kills: Arc::default(),
            audit,
        }
    }

    /// Accepts connections until `shutdown`; sessions run on `spawn` (its tracker, on a session thread when there are any).
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
        placement: crate::listener::Spawn,
    ) {
        let stop = shutdown.clone();
        let max = self.config.limits.max_connections;
        let opts = crate::listener::TcpOptions {
            keepalive: self.config.limits.tcp_keepalive,
        };
        crate::listener::accept_loop(listener, shutdown, placement, max, opts, move |tcp, peer, permit| {
            let server = self.clone();
            let stop = stop.clone();
            let span = tracing::info_span!("mysql", %peer, user = tracing::field::Empty, db = tracing::field::Empty);
            // The span covers the handshake and the session's end, not the relay: entering
            // and leaving it on every poll cost about 2 % of dbward's user CPU per statement.
            // The relay logs only rare store failures, and like the PostgreSQL relay's tasks
            // it logs them without the connection's fields.
            async move {
                let Some(_permit) = permit else {
                    let mut s = MaybeTls::Plain(tcp);
                    client_auth::send_err(&mut s, 0, 1040, "08004", "too many connections to dbward")
                        .instrument(span)
                        .await;
                    return;
                };
                // Two phases, each in a box of its own: the handshake's state is freed before the
                // session runs, and the session's future holds only what the relay needs (an
                // idle session's memory is mostly these futures).
                let established = Box::pin(server.clone().handle(tcp, peer, stop))
                    .instrument(span.clone())
                    .await;
                if let Some(established) = established {
                    let (relay, ending) = span.in_scope(|| server.start_session(*established));
                    Box::pin(server.run_session(relay, ending, span)).await;
                }
            }
        })
        .await;
    }

    /// The handshake, authentication and upstream login; `Some` when the session may start.
    async fn handle(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        stop: CancellationToken,
    ) -> Option<Box<Established>> {
        let require_tls = self.config.require_tls_remote && !peer.ip().is_loopback();
        let connection_id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
        let mut scramble: [u8; 20] = dbward_core::crypto::random_bytes();
        // Scramble bytes must not be NUL (clients read it as a C string).
        for b in &mut scramble {
            *b = (*b % 94) + 33;
        }
        let deadline = tokio::time::Instant::now() + self.config.handshake_timeout;
        let greeted = tokio::select! {
            // Boxed, like the authentication below: a session's future lives as long as the
            // session, and would otherwise be as large as the largest of these phases.
            r = tokio::time::timeout_at(deadline, Box::pin(client_auth::greet(tcp, self.tls.as_ref(), &self.config, connection_id, &scramble, require_tls))) => r,
            () = stop.cancelled() => return None,
        };
        let mut hello = match greeted {
            Err(_) => return None,
            Ok(Err((stream, e))) => {
                tracing::warn!(error = %e, "handshake refused");
                if let Some(mut s) = stream {
                    let (code, state) = e.code();
                    client_auth::send_err(&mut s, 2, code, state, &e.to_string()).await;
                }
                if !matches!(
                    e,
                    HandshakeError::Packet(super::packet::PacketError::Closed)
                ) {
                    Box::pin(self.audit(
                        None,
                        "",
                        peer,
                        "mysql.connect",
                        AuditOutcome::Failure,
                        json!({"reason": "bad_protocol", "error": e.to_string()}),
                    ))
                    .await;
                }
                return None;
            }
            Ok(Ok(h)) => h,
        };
        let span = tracing::Span::current();
        span.record("user", hello.hello.user.as_str());
        if let Some(db) = hello.hello.database.as_deref() {
            span.record("db", db);
        }
        let opened = tokio::time::timeout_at(deadline, Box::pin(self.open(&mut hello, peer))).await;
        let opened = match opened {
            Err(_) => Err(Refusal::new(
                1043,
                "08S01",
                "timed out during authentication",
                "timeout",
            )),
            Ok(r) => r,
        };
        let user_name = hello.hello.user.clone();
        let database = hello.hello.database.clone().unwrap_or_default();
        match opened {
            Err(r) => {
                // Audited before the client hears the refusal.
                Box::pin(self.audit(
                    r.user_id,
                    &user_name,
                    peer,
                    "mysql.connect",
                    AuditOutcome::Failure,
                    json!({"database": database, "reason": r.reason, "message": r.message}),
                ))
                .await;
                let seq = hello.seq;
                client_auth::send_err(&mut hello.stream, seq, r.code, r.state, &r.message).await;
                None
            }
            Ok(open) => Some(Box::new(Established {
                hello,
                open,
                peer,
                user_name,
                database,
            })),
        }
    }

    /// Sets the session up (sync: its locals live in no future) and builds its relay; the rest
    /// is what the session's end needs.
    fn start_session(&self, established: Established) -> (MyRelay, Ending) {
        let Established {
            hello,
            open,
            peer,
            user_name,
            database: named,
        } = established;
        let Opened {
            upstream: up,
            granted,
            session,
            started,
            setup,
            kill_target,
        } = *open;
        // The database the session is on (the client may have named none).
        let database = granted.database.name.clone();
        if named.is_empty() {
            tracing::Span::current().record("db", database.as_str());
        }
        let client_auth::Hello {
            connection_id,
            stream,
            reader,
            hello: response,
            ..
        } = hello;
        let kill_entry = self.kills.register(connection_id, kill_target);
        let info = session.info();
        let level = granted.level;
        tracing::info!(level = %level, session = %session.id(), "session started");
        let gate = StatementGate::new(
            self.classifier.clone(),
            SqlDialect::Mysql,
            level,
            granted.grant.statement_timeout_ms,
            SessionIdentity::of(&info),
            self.audit.clone(),
        )
        .with_own_identity(
            up.account
                .clone()
                .map(dbward_core::policy::own_identity::OwnIdentity::MysqlAccount),
        );
        gate.set_quoting(up.quoting);
        let allowance = |kind, limit| {
            Allowance::new(
                self.store.clone(),
                granted.grant.id,
                kind,
                limit,
                &self.config.quota,
            )
        };
        let queries = allowance(QuotaKind::Queries, granted.grant.max_queries);
        let bytes = allowance(QuotaKind::Bytes, granted.grant.max_bytes);
        let config = MyRelayConfig {
            kill: session.signal(),
            gate,
            level,
            max_message_bytes: self.config.max_message_bytes,
            idle_session_timeout: self.config.limits.idle_session_timeout,
            idle_in_transaction_timeout: self.config.limits.idle_in_transaction_timeout,
            deprecate_eof: response
                .capabilities
                .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF),
            schema: granted.database.database.clone(),
            setup,
            kills: self.kills.clone(),
            registry: self.sessions.clone(),
            user_id: info.user_id,
            connection_id,
            upstream: self.upstream_options(),
            change_user: super::relay::ChangeUserContext {
                auth: self.auth.clone(),
                store: self.store.clone(),
                peer,
                username: user_name.clone(),
                database: database.clone(),
                grant_id: granted.grant.id,
                key: self.key.clone(),
                rsa: self.config.rsa.clone(),
            },
        };
        let relay = MyRelay::new(stream, reader, up, config, queries, bytes);
        let ending = Ending {
            session,
            _kill_entry: kill_entry,
            started,
            peer,
            user_name,
            database,
            user_id: info.user_id,
            session_id: info.id,
            grant_id: info.grant_id,
        };
        (relay, ending)
    }

    /// Runs the session's relay to its end, gives unspent quota back and audits the end.
    ///
    /// An `async` block rather than an `async fn`: an `async fn` copies its arguments into
    /// locals of its future, which would hold the relay twice for the whole session.
    #[allow(clippy::manual_async_fn)]
    fn run_session(
        &self,
        mut relay: MyRelay,
        ending: Ending,
        span: tracing::Span,
    ) -> impl std::future::Future<Output = ()> + Send + '_ {
        async move {
            let end = relay.run().await;
            let (mut queries, mut bytes) = relay.into_allowances();
            // Boxed: the outer future's state then holds a pointer for this part, not its locals.
            Box::pin(async move {
                let Ending {
                    session,
                    _kill_entry,
                    started,
                    peer,
                    user_name,
                    database,
                    user_id,
                    session_id,
                    grant_id,
                } = ending;
                // The session is over: it leaves the registry before the store writes.
                drop(session);
                let (statements, result_bytes) = Box::pin(async {
                    queries.release().await;
                    bytes.release().await;
                    (queries.spent(), bytes.spent())
                })
                .await;
                let details = end.details(&EndFacts {
                    database: &database,
                    session_id,
                    grant_id,
                    started,
                    statements,
                    result_bytes,
                });
                Box::pin(self.audit(
                    Some(user_id),
                    &user_name,
                    peer,
                    "mysql.session_end",
                    AuditOutcome::Success,
                    details,
                ))
                .await;
            })
            .instrument(span)
            .await;
        }
    }

    /// `caching_sha2_password`: the fast path when a full authentication is remembered (and
    /// the channel is trusted), else the password itself (full authentication, over TLS).
    async fn caching_sha2(
        &self,
        h: &mut client_auth::Hello,
        peer: SocketAddr,
        trusted_channel: bool,
    ) -> Result<(Result<UserAuth, AuthError>, &'static str), HandshakeError> {
        let username = h.hello.user.clone();
        let fast = if trusted_channel {
            self.auth
                .verify_sha2_scramble(&username, &h.nonce, &h.scrambled, peer.ip())
                .await
        } else {
            Ok(None)
        };
        Ok(match fast {
            Ok(Some(user)) => {
                client_auth::fast_auth_success(&mut h.stream, &mut h.seq).await?;
                (Ok(user), "fast")
            }
            Ok(None) => {
                let password = client_auth::full_authentication(
                    &mut h.stream,
                    &mut h.reader,
                    &mut h.seq,
                    &h.nonce,
                    self.config.rsa.as_deref().map(|exchange| RsaLogin {
                        exchange,
                        auth: &self.auth,
                        user: &username,
                        client: peer.ip(),
                    }),
                )
                .await?;
                let verified = match password {
                    Ok(password) => {
                        let verified = self
                            .auth
                            .verify_password(&username, &password, peer.ip())
                            .await;
                        if let Ok(user) = &verified {
                            self.auth.remember_sha2(user, &password);
                        }
                        verified
                    }
                    Err(e) => Err(e),
                };
                let path = if h.stream.is_tls() {
                    "full"
                } else {
                    "full_rsa"
                };
                (verified, path)
            }
            Err(e) => (Err(e), "fast"),
        })
    }

    /// Authenticates, checks the grant, logs in upstream, audits and answers OK.
    async fn open(
        &self,
        h: &mut client_auth::Hello,
        peer: SocketAddr,
    ) -> Result<Box<Opened>, Refusal> {
        let started = std::time::Instant::now();
        let username = h.hello.user.clone();
        let handshake_refusal = |e: HandshakeError| {
            let (code, _) = e.code();
            let state = if code == 3159 { "HY000" } else { "28000" };
            Refusal::new(code, state, e.to_string(), "bad_protocol")
        };
        // A scramble is accepted without TLS only from loopback: one seen on a network can be
        // attacked offline. First `mysql_native_password`, for users an admin opted in, when
        // the client began with it; anyone else is switched to `caching_sha2_password`.
        let trusted_channel = h.stream.is_tls() || peer.ip().is_loopback();
        let native = match h.native_scrambled.take() {
            Some(answer) => {
                let checked = if trusted_channel {
                    self.auth
                        .verify_native_scramble(&username, &h.nonce, &answer, peer.ip(), |sealed| {
                            password::open_mysql_native(&self.key, &username, sealed)
                        })
                        .await
                } else {
                    Ok(None)
                };
                if matches!(checked, Ok(None)) {
                    client_auth::switch_to_caching_sha2(h)
                        .await
                        .map_err(handshake_refusal)?;
                }
                checked.transpose()
            }
            None => None,
        };
        let (verified, auth_path) = match native {
            Some(verified) => (verified, "native"),
            None => Box::pin(self.caching_sha2(h, peer, trusted_channel))
                .await
                .map_err(handshake_refusal)?,
        };
        let denied = || {
            format!(
                "Access denied for user '{username}'@'{}' (using password: YES)",
                peer.ip()
            )
        };
        let user = match verified {
            Ok(u) => u,
            Err(AuthError::InvalidCredentials) => {
                return Err(Refusal::new(1045, "28000", denied(), "wrong_password"));
            }
            Err(AuthError::Throttled { .. }) => {
                return Err(Refusal::new(
                    1045,
                    "28000",
                    "too many failed login attempts; try again later",
                    "throttled",
                ));
            }
            Err(AuthError::Disabled) => {
                return Err(Refusal::new(
                    1045,
                    "28000",
                    "your dbward account is disabled",
                    "user_disabled",
                ));
            }
            Err(AuthError::Overloaded) => {
                return Err(Refusal::new(
                    1040,
                    "08004",
                    "dbward is busy with other logins; try again",
                    "overloaded",
                ));
            }
            Err(AuthError::Store(e)) => {
                return Err(Refusal::store_unavailable(&e));
            }
        };
        // No database named: the user's only MySQL database, if there is exactly one.
        let named = match h.hello.database.clone() {
            Some(name) => Some(name),
            None => match gate::only_database(
                &self.store,
                &user,
                Engine::Mysql,
                dbward_core::time::now(),
            )
            .await
            {
                Ok(only) => only,
                Err(e) => {
                    return Err(Refusal::store_unavailable(&e).user(user.id));
                }
            },
        };
        let Some(db_name) = named else {
            return Err(Refusal::new(
                1046,
                "3D000",
                "name the dbward database to connect to (mysql ... DATABASE): you hold active grants on several MySQL databases, or none",
                "no_database",
            )
            .user(user.id));
        };
        let granted = match gate::open_session(
            &self.store,
            &user,
            Engine::Mysql,
            &db_name,
            dbward_core::time::now(),
        )
        .await
        {
            Ok(s) => s,
            Err(GateError::UnknownDatabase(name)) => {
                return Err(Refusal::new(
                    1049,
                    "42000",
                    format!("Unknown database '{name}'"),
                    "unknown_database",
                )
                .user(user.id));
            }
            Err(GateError::Store(e)) => {
                return Err(Refusal::store_unavailable(&e).user(user.id));
            }
            Err(e) => {
                let reason = match &e {
                    GateError::NotYetStarted { .. } => "grant_not_started",
                    GateError::Expired { .. } => "grant_expired",
                    GateError::Revoked(_) => "grant_revoked",
                    GateError::NoSqlPermission => "no_sql_permission",
                    _ => "no_grant",
                };
                return Err(Refusal::new(1044, "42000", e.to_string(), reason).user(user.id));
            }
        };
        let session = self
            .sessions
            .register(
                SessionInfo {
                    id: uuid::Uuid::nil(),
                    protocol: "mysql",
                    user_id: user.id,
                    username: user.username.clone(),
                    database_id: granted.database.id,
                    database: granted.database.name.clone(),
                    grant_id: granted.grant.id,
                    level: granted.level,
                    client_addr: peer.ip().to_string(),
                    started_at: dbward_core::time::now(),
                    expires_at: granted.grant.expires_at,
                    database_version: granted.database.connection_version,
                },
                &dbward_core::sessions::SessionLimits {
                    per_user: self.config.limits.max_sessions_per_user,
                    per_grant: self.config.limits.max_sessions_per_grant,
                },
            )
            .map_err(|e| Refusal::new(1040, "08004", e.to_string(), "limit").user(user.id))?;
        let creds = self
            .store
            .database_credentials(&self.key, granted.database.id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot open the database's credentials");
                Refusal::new(
                    packet::ER_UNKNOWN_ERROR,
                    "HY000",
                    "dbward cannot use this database's stored credentials",
                    "unavailable",
                )
                .user(user.id)
            })?;
        let (login, secret) = match (granted.level, &creds.read_username) {
            (AccessLevel::Read, Some(u)) => (u.clone(), creds.read_password.as_ref()),
            _ => (creds.username.clone(), creds.password.as_ref()),
        };
        let mut attributes = std::collections::HashMap::new();
        attributes.insert("dbward_user".to_owned(), user.username.clone());
        if let Some(p) = h.hello.attributes.get("program_name") {
            attributes.insert("dbward_client_program".to_owned(), p.clone());
        }
        let mut up = upstream::connect(
            &granted.database,
            &login,
            secret,
            h.hello.capabilities,
            h.hello.mariadb_capabilities,
            h.hello.collation,
            attributes,
            &self.upstream_options(),
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "upstream login failed");
            Refusal::new(
                packet::ER_NET_READ_ERROR,
                "08S01",
                format!(
                    "could not connect to the upstream of database \"{}\": {e}",
                    granted.database.name
                ),
                "upstream_unavailable",
            )
            .user(user.id)
        })?;
        let setup = upstream::setup_statements(
            granted.level,
            granted.grant.statement_timeout_ms,
            up.version.contains("MariaDB"),
            h.hello.collation,
        );
        let mut status = up.status;
        for sql in &setup {
            status = upstream::run_setup(&mut up, sql).await.map_err(|e| {
                Refusal::new(
                    packet::ER_NET_READ_ERROR,
                    "08S01",
                    format!("could not set up the upstream session: {e}"),
                    "upstream_unavailable",
                )
                .user(user.id)
            })?;
        }
        up.status = status;
        // The session's sql_mode says how the server reads quotes and backslashes. In the same
        // round trip, the account the server logged dbward in as: a DEFINER naming it is the
        // session's own (`definer`).
        let mode_and_account = upstream::query_value(
            &mut up,
            "SELECT CONCAT(@@SESSION.sql_mode, '/', CURRENT_USER())",
        )
        .await
        .map_err(|e| {
            Refusal::new(
                packet::ER_NET_READ_ERROR,
                "08S01",
                format!("could not read the upstream session's sql_mode: {e}"),
                "upstream_unavailable",
            )
            .user(user.id)
        })?;
        // sql_mode holds no `/`; a value without one is all mode (and checked as such).
        let (mode, account) = match mode_and_account.as_deref().map(|v| (v, v.split_once('/'))) {
            Some((_, Some((m, a)))) => (Some(m), Some(a)),
            Some((v, None)) => (Some(v), None),
            None => (None, None),
        };
        up.account = account.and_then(dbward_core::policy::definer::Account::from_current_user);
        // ANSI_QUOTES and NO_BACKSLASH_ESCAPES are followed (the session's text is rewritten in
        // the default quoting before it is classified); a mode dbward does not know is refused.
        up.quoting = match mode.map(dbward_core::policy::MysqlQuoting::from_sql_mode) {
            Some(Ok(quoting)) => quoting,
            Some(Err(bad)) => {
                return Err(Refusal::new(
                    packet::ER_UNKNOWN_ERROR,
                    "HY000",
                    format!("the upstream server's {bad} is not a mode under which dbward knows to read SQL as the server does; remove it from the server's default sql_mode"),
                    "upstream_sql_mode",
                )
                .user(user.id));
            }
            None => dbward_core::policy::MysqlQuoting::default(),
        };
        let details = json!({
            "database": db_name, "tls": h.stream.is_tls(), "session_id": session.id(),
            "grant_id": granted.grant.id, "level": granted.level,
            "program_name": h.hello.attributes.get("program_name"),
            "upstream_thread": up.thread_id, "auth": auth_path,
        });
        if !self
            .audit(
                Some(user.id),
                &username,
                peer,
                "mysql.connect",
                AuditOutcome::Success,
                details,
            )
            .await
        {
            return Err(Refusal::new(
                packet::ER_UNKNOWN_ERROR,
                "HY000",
                "dbward cannot write its audit trail; try again later",
                "audit_unavailable",
            )
            .user(user.id));
        }
        let mut out = bytes::BytesMut::new();
        put_packet(&mut out, h.seq, &ok_payload(status));
        crate::stream::SendExt::send(&mut h.stream, &out)
            .await
            .map_err(|_| {
                Refusal::new(
                    packet::ER_NET_READ_ERROR,
                    "08S01",
                    "client went away",
                    "client_gone",
                )
                .user(user.id)
            })?;
        let kill_target = super::kill::KillTarget {
            user_id: user.id,
            session_id: session.id(),
            database: granted.database.clone(),
            login: login.clone(),
            secret: secret.cloned(),
            thread_id: up.thread_id,
        };
        Ok(Box::new(Opened {
            upstream: up,
            granted,
            session,
            started,
            setup,
            kill_target,
        }))
    }

    /// How this front door reaches upstreams: its connect timeout, the limits' keepalive.
    fn upstream_options(&self) -> crate::listener::ConnectOptions {
        crate::listener::ConnectOptions {
            connect_timeout: self.config.connect_timeout,
            tcp: crate::listener::TcpOptions {
                keepalive: self.config.limits.tcp_keepalive,
            },
        }
    }

    /// Writes a connection audit row; false if it could not be written.
    async fn audit(
        &self,
        user_id: Option<i64>,
        username: &str,
        peer: SocketAddr,
        action: &'static str,
        outcome: AuditOutcome,
        details: serde_json::Value,
    ) -> bool {
        crate::statement_gate::audit_connection_event(
            &self.store,
            user_id,
            username,
            peer,
            action,
            outcome,
            details,
        )
        .await
    }
}

/// What `open` hands to the relay.
/// A client past the handshake, authenticated, with its upstream logged in.
struct Established {
    hello: client_auth::Hello,
    open: Box<Opened>,
    peer: SocketAddr,
    user_name: String,
    database: String,
}

/// What a session's end needs (the relay is the rest of its state).
struct Ending {
    /// In the registry while the session runs.
    session: dbward_core::sessions::SessionHandle,
    /// Its upstream thread is registered for `KILL` while the session runs.
    _kill_entry: super::kill::KillEntry,
    started: std::time::Instant,
    peer: SocketAddr,
    user_name: String,
    database: String,
    user_id: i64,
    session_id: uuid::Uuid,
    grant_id: i64,
}

struct Opened {
    upstream: upstream::Upstream,
    granted: dbward_core::gate::SessionGrant,
    session: dbward_core::sessions::SessionHandle,
    started: std::time::Instant,
    setup: Vec<String>,
    kill_target: super::kill::KillTarget,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_versions_offer_what_they_have() {
        let config = |v: &str| MyServerConfig {
            handshake_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            max_message_bytes: 1 << 20,
            require_tls_remote: false,
            limits: dbward_core::config::LimitsConfig::default(),
            quota: QuotaConfig::default(),
            server_version: v.into(),
            announce_native_password: false,
            rsa: None,
        };
        let all = MariadbCapabilities::MARIADB_CLIENT_STMT_BULK_OPERATIONS
            | MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA;
        assert_eq!(
            config("5.5.5-10.11.99-MariaDB-dbward").mariadb_capabilities(),
            all
        );
        assert_eq!(config("11.4.2-MariaDB").mariadb_capabilities(), all);
        assert_eq!(
            config("5.5.5-10.5.9-MariaDB").mariadb_capabilities(),
            MariadbCapabilities::MARIADB_CLIENT_STMT_BULK_OPERATIONS
        );
        assert!(config("10.1.48-MariaDB").mariadb_capabilities().is_empty());
        assert!(config("5.7.99-dbward").mariadb_capabilities().is_empty());
        assert!(config("8.0.99-dbward").mariadb_capabilities().is_empty());
        assert!(config("x-MariaDB").mariadb_capabilities().is_empty());
    }
}
