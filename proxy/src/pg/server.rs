//! One PostgreSQL connection from accept to close: the phases of `pg` in order, each error
//! reported once to the client as an ErrorResponse in its protocol.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use dbward_core::auth::Authenticator;
use dbward_core::crypto::MasterKey;
use dbward_core::gate::{self, GateError};
use dbward_core::model::{Engine, UserKind};
use dbward_core::policy::{Classifier, SqlDialect};
use dbward_core::quota::Allowance;
use dbward_core::sessions::{SessionHandle, SessionInfo, SessionRegistry};
use dbward_core::store::{AuditOutcome, QuotaKind, Store};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use crate::stream::SendExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::cancel::{CancelMap, CancelTarget, send_cancel};
use super::codec::{self, Severity};
use super::relay::{self, RelayConfig};
use super::scram::{self, ScramError, Verifier};
use super::startup::{self, Handshake};
use super::startup_settings;
use super::stream::MaybeTls;
use super::upstream::{self, ConnectOptions, UpstreamError};
use crate::statement_gate::{EndFacts, SessionIdentity, StatementGate};

/// Settings of the PostgreSQL front door.
#[derive(Debug, Clone)]
pub struct PgServerConfig {
    /// How long a client may take from connect to a ready session.
    pub handshake_timeout: Duration,
    /// How long the upstream connect and login may take.
    pub connect_timeout: Duration,
    /// Ceiling for messages dbward buffers whole (queries, parse messages).
    pub max_message_bytes: usize,
    /// Refuse plaintext sessions from non-loopback clients.
    pub require_tls_remote: bool,
    /// PBKDF2 iterations shown for unknown users (the configured SCRAM iteration count).
    pub scram_iterations: u32,
    /// Caps and timeouts.
    pub limits: dbward_core::config::LimitsConfig,
    /// Quota block sizes.
    pub quota: dbward_core::quota::QuotaConfig,
    /// The certificate's `tls-server-end-point` channel binding data (SCRAM-SHA-256-PLUS on
    /// TLS connections), if its signature algorithm allows it.
    pub tls_server_end_point: Option<Vec<u8>>,
}

/// The PostgreSQL proxy: shared by every connection.
pub struct PgServer {
    store: Store,
    auth: Arc<Authenticator>,
    key: MasterKey,
    tls: Option<TlsAcceptor>,
    config: PgServerConfig,
    cancels: CancelMap,
    /// Derives fake SCRAM salts for unknown users.
    fake_salt_secret: [u8; 32],
    sessions: Arc<SessionRegistry>,
    classifier: Arc<Classifier>,
    audit: dbward_core::audit::AuditSink,
}

impl PgServer {
    /// Builds the server. `tls` is the rustls configuration for the client side, if any.
    #[must_use]
    #[allow(clippy::too_many_arguments)] // the process-wide services each front door shares
    pub fn new(
        store: Store,
        auth: Arc<Authenticator>,
        key: MasterKey,
        tls: Option<rustls::ServerConfig>,
        config: PgServerConfig,
        sessions: Arc<SessionRegistry>,
        classifier: Arc<Classifier>,
        audit: dbward_core::audit::AuditSink,
    ) -> Self {
        Self {
            fake_salt_secret: key.derive("pg-fake-scram-salt"),
            store,
            auth,
            key,
            tls: tls.map(startup::acceptor),
            config,
            cancels: CancelMap::default(),
            sessions,
            classifier,
            audit,
        }
    }

    /// Accepts connections on `listener` until `shutdown`; every session runs on `spawn` (its tracker, on a session thread when there are any).
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
            let span = tracing::info_span!("conn", proto = "pg", %peer, user = tracing::field::Empty, db = tracing::field::Empty);
            async move {
                let Some(_permit) = permit else {
                    // Answer in the protocol even before the startup packet: libpq reads an
                    // ErrorResponse at any point of the handshake.
                    tracing::warn!("too many connections");
                    fatal(&mut MaybeTls::Plain(tcp), "53300", "too many connections to dbward").await;
                    return;
                };
                // Two phases, each in a box of its own: the start-up's state is freed before the
                // session runs, and this task keeps nothing of it beside the session.
                let established = Box::pin(server.clone().handle(tcp, peer, stop)).await;
                if let Some(established) = established {
                    Box::pin(server.run_session(established)).await;
                }
            }
            .instrument(span)
        })
        .await;
    }

    /// The start-up: TLS, authentication, the grant and the upstream login (or a cancel
    /// request); `Some` when a session may run.
    async fn handle(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        stop: CancellationToken,
    ) -> Option<Box<Established>> {
        let require_tls = self.config.require_tls_remote && !peer.ip().is_loopback();
        let deadline = tokio::time::Instant::now() + self.config.handshake_timeout;
        let handshake = tokio::select! {
            // Boxed, like the authentication, the audit writes and the error replies below: a
            // session's future lives as long as the session, and would otherwise be as large
            // as the largest of these phases.
            r = tokio::time::timeout_at(deadline, Box::pin(startup::handshake(tcp, self.tls.as_ref(), require_tls))) => r,
            () = stop.cancelled() => return None,
        };
        let (mut client, params) = match handshake {
            Err(_) => {
                tracing::debug!("handshake timed out");
                return None;
            }
            Ok(Err((stream, e))) => {
                tracing::warn!(error = %e, "startup refused");
                let tls = stream.as_ref().is_some_and(MaybeTls::is_tls);
                if let Some(mut s) = stream {
                    Box::pin(fatal(&mut s, e.sqlstate(), &e.to_string())).await;
                }
                if !matches!(e, startup::HandshakeError::Frame(codec::FrameError::Closed)) {
                    let details =
                        json!({"reason": "bad_protocol", "error": e.to_string(), "tls": tls});
                    Box::pin(self.audit(
                        None,
                        "",
                        peer,
                        "pg.connect",
                        AuditOutcome::Failure,
                        details,
                    ))
                    .await;
                }
                return None;
            }
            Ok(Ok(Handshake::Cancel { pid, secret })) => {
                if let Some(target) = self.cancels.lookup((pid, secret)) {
                    Box::pin(send_cancel(&target)).await;
                }
                return None;
            }
            Ok(Ok(Handshake::Startup { stream, params })) => (stream, params),
        };
        let span = tracing::Span::current();
        span.record("user", params.user.as_str());
        span.record("db", params.database.as_str());

        let opened = tokio::select! {
            r = tokio::time::timeout_at(deadline, Box::pin(self.open(&mut client, &params, peer))) => r,
            () = stop.cancelled() => {
                Box::pin(fatal(&mut client, "57P01", "dbward is shutting down")).await;
                return None;
            }
        };
        let outcome = match opened {
            Err(_) => Err(Refusal::new(
                "08P01",
                "timed out during authentication",
                "timeout",
            )),
            Ok(r) => r,
        };
        match outcome {
            Err(refusal) => {
                // Audited before the client hears the refusal, as on the MySQL front door.
                let details = json!({
                    "database": params.database, "tls": client.is_tls(),
                    "reason": refusal.reason, "message": refusal.message,
                });
                Box::pin(self.audit(
                    refusal.user_id,
                    &params.user,
                    peer,
                    "pg.connect",
                    AuditOutcome::Failure,
                    details,
                ))
                .await;
                Box::pin(fatal(&mut client, refusal.code, &refusal.message)).await;
            }
            Ok(opened) => {
                return Some(Box::new(Established {
                    client,
                    params,
                    peer,
                    opened,
                }));
            }
        }
        None
    }

    /// Runs an opened session to its end: the relay, then the cancel of a busy upstream, the
    /// unspent quota's release and the session-end audit row.
    async fn run_session(&self, established: Box<Established>) {
        // Set up by a plain function: its locals are gone before the relay runs, and this
        // future holds the relay's and what the end needs, nothing else.
        let (relay, ending) = self.start_session(*established);
        let (end, busy) = relay.await;
        let Ending {
            params,
            peer,
            key,
            started,
            session,
            quotas,
            user_id,
            session_id,
            grant_id,
        } = ending;
        if busy {
            // Nothing keeps running on the upstream after its client left.
            if let Some(target) = self.cancels.lookup(key) {
                Box::pin(send_cancel(&target)).await;
            }
        }
        self.cancels.unregister(key);
        // The session is over: it leaves the registry before the store writes.
        drop(session);
        // A clean end gives the unspent quota back (locking waits until both relay
        // tasks are gone).
        let (statements, result_bytes) = Box::pin(async {
            let mut q = quotas.queries.lock().await;
            let mut b = quotas.bytes.lock().await;
            q.release().await;
            b.release().await;
            (q.spent(), b.spent())
        })
        .await;
        let details = end.details(&EndFacts {
            database: &params.database,
            session_id,
            grant_id,
            started,
            statements,
            result_bytes,
        });
        Box::pin(self.audit(
            Some(user_id),
            &params.user,
            peer,
            "pg.session_end",
            AuditOutcome::Success,
            details,
        ))
        .await;
    }

    /// The session's relay, ready to run, and what its end needs.
    fn start_session(
        &self,
        established: Established,
    ) -> (
        impl std::future::Future<Output = (relay::SessionEnd, bool)> + Send + 'static,
        Ending,
    ) {
        let Established {
            client,
            params,
            peer,
            opened,
        } = established;
        let (upstream, granted, key, started, session) = *opened;
        let level = granted.level;
        tracing::info!(level = %level, session = %session.id(), "session started");
        let info = session.info();
        let gate = StatementGate::new(
            self.classifier.clone(),
            if granted.database.redshift {
                SqlDialect::Redshift
            } else {
                SqlDialect::Postgres
            },
            level,
            granted.grant.statement_timeout_ms,
            SessionIdentity::of(&info),
            self.audit.clone(),
        )
        .with_own_identity(Some(
            dbward_core::policy::own_identity::OwnIdentity::PgRole(upstream.role.clone()),
        ));
        let allowance = |kind, limit| {
            Arc::new(tokio::sync::Mutex::new(Allowance::new(
                self.store.clone(),
                granted.grant.id,
                kind,
                limit,
                &self.config.quota,
            )))
        };
        let quotas = relay::Quotas {
            queries: allowance(QuotaKind::Queries, granted.grant.max_queries),
            bytes: allowance(QuotaKind::Bytes, granted.grant.max_bytes),
        };
        let relay = relay::run(
            client,
            upstream.stream,
            RelayConfig {
                level,
                gate,
                max_message_bytes: self.config.max_message_bytes,
                idle_session_timeout: self.config.limits.idle_session_timeout,
                idle_in_transaction_timeout: self.config.limits.idle_in_transaction_timeout,
                kill: session.signal(),
                cancel: CancelTarget {
                    addr: upstream.addr,
                    pid: upstream.pid,
                    secret: upstream.secret,
                },
            },
            quotas.clone(),
        );
        let ending = Ending {
            params,
            peer,
            key,
            started,
            session,
            quotas,
            user_id: info.user_id,
            session_id: info.id,
            grant_id: info.grant_id,
        };
        (relay, ending)
    }

    /// Authenticates, checks the grant and logs in upstream; on success the client has been
    /// sent everything up to the first ReadyForQuery. On failure the client has been told.
    async fn open(
        &self,
        client: &mut MaybeTls,
        params: &startup::StartupParams,
        peer: SocketAddr,
    ) -> Result<Box<Opened>, Refusal> {
        let started = std::time::Instant::now();
        let throttle = self.auth.throttle();
        if throttle.locked_for(&params.user, peer.ip()).is_some() {
            return Err(Refusal::new(
                "28P01",
                "too many failed login attempts; try again later",
                "throttled",
            ));
        }
        let user = match self.store.user_auth(&params.user).await {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "store unavailable during login");
                return Err(Refusal::new(
                    "08006",
                    "dbward cannot reach its store; try again later",
                    "unavailable",
                ));
            }
        };
        let real = user
            .as_ref()
            .filter(|u| u.kind == UserKind::Local)
            .and_then(|u| u.scram_verifier.as_deref())
            .and_then(Verifier::parse);
        let verifier = real.unwrap_or_else(|| {
            Verifier::fake(
                &params.user,
                &self.fake_salt_secret,
                self.config.scram_iterations,
            )
        });
        let binding = if client.is_tls() {
            self.config.tls_server_end_point.as_deref()
        } else {
            None
        };
        match scram::authenticate(client, &verifier, binding).await {
            Ok(()) => {}
            Err(ScramError::Failed) => {
                throttle.record_failure(&params.user, peer.ip());
                tracing::warn!("password authentication failed");
                let msg = format!(
                    "password authentication failed for user \"{}\"",
                    params.user
                );
                let reason = if user.is_some() {
                    "wrong_password"
                } else {
                    "unknown_user"
                };
                return Err(Refusal::new("28P01", msg, reason));
            }
            Err(e) => {
                tracing::warn!(error = %e, "SCRAM exchange failed");
                return Err(Refusal::new("08P01", e.to_string(), "bad_protocol"));
            }
        }
        // The proof matched a real verifier: the user exists.
        let Some(user) = user else {
            return Err(Refusal::new(
                "28P01",
                "password authentication failed",
                "auth_failed",
            ));
        };
        throttle.record_success(&params.user, peer.ip());
        if !user.enabled {
            return Err(
                Refusal::new("28000", "your dbward account is disabled", "user_disabled")
                    .user(user.id),
            );
        }
        let session = match gate::open_session(
            &self.store,
            &user,
            Engine::Postgres,
            &params.database,
            dbward_core::time::now(),
        )
        .await
        {
            Ok(s) => s,
            Err(GateError::UnknownDatabase(name)) => {
                return Err(Refusal::new(
                    "3D000",
                    format!("database \"{name}\" does not exist"),
                    "unknown_database",
                )
                .user(user.id));
            }
            Err(GateError::Store(e)) => {
                tracing::error!(error = %e, "store unavailable during login");
                return Err(Refusal::new(
                    "08006",
                    "dbward cannot reach its store; try again later",
                    "unavailable",
                )
                .user(user.id));
            }
            Err(e) => {
                tracing::info!(reason = %e, "no active grant");
                let reason = match &e {
                    GateError::NotYetStarted { .. } => "grant_not_started",
                    GateError::Expired { .. } => "grant_expired",
                    GateError::Revoked(_) => "grant_revoked",
                    GateError::NoSqlPermission => "no_sql_permission",
                    _ => "no_grant",
                };
                return Err(Refusal::new("28000", e.to_string(), reason).user(user.id));
            }
        };
        let dialect = if session.database.redshift {
            SqlDialect::Redshift
        } else {
            SqlDialect::Postgres
        };
        if let Err(why) = startup_settings::check(
            &params.settings,
            dialect,
            session.level,
            session.grant.statement_timeout_ms,
        ) {
            tracing::info!(reason = %why, "startup setting refused");
            return Err(Refusal::new("42501", why, "setting_refused").user(user.id));
        }
        let registered = self.sessions.register(
            SessionInfo {
                id: uuid::Uuid::nil(),
                protocol: "postgres",
                user_id: user.id,
                username: user.username.clone(),
                database_id: session.database.id,
                database: session.database.name.clone(),
                grant_id: session.grant.id,
                level: session.level,
                client_addr: peer.ip().to_string(),
                started_at: dbward_core::time::now(),
                expires_at: session.grant.expires_at,
                database_version: session.database.connection_version,
            },
            &dbward_core::sessions::SessionLimits {
                per_user: self.config.limits.max_sessions_per_user,
                per_grant: self.config.limits.max_sessions_per_grant,
            },
        );
        let session_handle = match registered {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(reason = %e, "session refused");
                return Err(Refusal::new("53300", e.to_string(), "limit").user(user.id));
            }
        };
        let creds = match self
            .store
            .database_credentials(&self.key, session.database.id)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the database's credentials");
                return Err(Refusal::new(
                    "08006",
                    "dbward cannot use this database's stored credentials",
                    "unavailable",
                )
                .user(user.id));
            }
        };
        let upstream = match upstream::connect(
            &session.database,
            &creds,
            session.level,
            session.grant.statement_timeout_ms,
            &params.user,
            params,
            &ConnectOptions {
                connect_timeout: self.config.connect_timeout,
                tcp: crate::listener::TcpOptions {
                    keepalive: self.config.limits.tcp_keepalive,
                },
            },
        )
        .await
        {
            Ok(u) => u,
            Err(UpstreamError::Setting { code, message }) => {
                tracing::info!(sqlstate = %code, reason = %message, "startup setting rejected upstream");
                return Err(Refusal::new(
                    sqlstate_of(&code),
                    format!("the upstream server rejected a startup setting: {message}"),
                    "setting_refused",
                )
                .user(user.id));
            }
            Err(e) => {
                tracing::warn!(error = %e, "upstream login failed");
                let msg = format!(
                    "could not connect to the upstream of database \"{}\": {e}",
                    session.database.name
                );
                return Err(Refusal::new("08006", msg, "upstream_unavailable").user(user.id));
            }
        };
        // Audited before the client hears AuthenticationOk: a session that cannot be audited
        // never looks open to its client (fail closed).
        let details = json!({
            "database": params.database, "tls": client.is_tls(),
            "session_id": session_handle.id(), "grant_id": session.grant.id,
            "level": session.level, "application_name": params.application_name,
            "settings": params.settings.iter().map(startup_settings::Setting::display)
                .collect::<Vec<_>>(),
        });
        if !self
            .audit(
                Some(user.id),
                &params.user,
                peer,
                "pg.connect",
                AuditOutcome::Success,
                details,
            )
            .await
        {
            return Err(Refusal::new(
                "08006",
                "dbward cannot write its audit trail; try again later",
                "audit_unavailable",
            )
            .user(user.id));
        }
        let key = self.cancels.register(CancelTarget {
            addr: upstream.addr.clone(),
            pid: upstream.pid,
            secret: upstream.secret,
        });
        let mut out = BytesMut::with_capacity(512);
        codec::authentication_ok(&mut out);
        out.extend_from_slice(&upstream.parameter_status);
        codec::backend_key_data(&mut out, key.0, key.1);
        codec::ready_for_query(&mut out, b'I');
        if client.send(&out).await.is_err() {
            self.cancels.unregister(key);
            return Err(Refusal::new("08006", "client went away", "client_gone").user(user.id));
        }
        Ok(Box::new((upstream, session, key, started, session_handle)))
    }
}

impl PgServer {
    /// Writes a connection audit row; false if it could not be written (logged).
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

/// What `open` hands to the relay: the upstream, the grant and level, the cancel key, the start time and
/// the registered session.
/// What a successful [`PgServer::open`] hands on, boxed: it is large, and the session's
/// long-lived future would otherwise keep room for it beside everything else.
/// What a session's end needs (the relay's future is the rest of its state).
struct Ending {
    params: startup::StartupParams,
    peer: SocketAddr,
    /// Its cancel key (a busy upstream is cancelled at the end).
    key: (i32, i32),
    started: std::time::Instant,
    /// In the registry while the session runs.
    session: dbward_core::sessions::SessionHandle,
    quotas: relay::Quotas,
    user_id: i64,
    session_id: uuid::Uuid,
    grant_id: i64,
}

/// A client past the start-up, with its upstream logged in.
struct Established {
    client: MaybeTls,
    params: startup::StartupParams,
    peer: SocketAddr,
    opened: Box<Opened>,
}

type Opened = (
    upstream::Upstream,
    dbward_core::gate::SessionGrant,
    (i32, i32),
    std::time::Instant,
    SessionHandle,
);

/// Why `open` refused a session: what the client is told, and why, for the audit trail.
/// The SQLSTATE of a startup setting the upstream rejected (see `upstream::refused`).
fn sqlstate_of(code: &str) -> &'static str {
    match code {
        "22023" => "22023",
        "42704" => "42704",
        _ => "42501",
    }
}

struct Refusal {
    code: &'static str,
    message: String,
    reason: &'static str,
    user_id: Option<i64>,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>, reason: &'static str) -> Self {
        Self {
            code,
            message: message.into(),
            reason,
            user_id: None,
        }
    }

    fn user(mut self, id: i64) -> Self {
        self.user_id = Some(id);
        self
    }
}

/// Sends a FATAL ErrorResponse and closes the client's side.
async fn fatal(client: &mut MaybeTls, code: &str, message: &str) {
    let mut out = BytesMut::new();
    codec::error_response(&mut out, Severity::Fatal, code, message);
    let _ = client.send(&out).await;
    let _ = client.shutdown().await;
}
