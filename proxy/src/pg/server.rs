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
use dbward_core::sessions::{SessionHandle, SessionInfo, SessionRegistry};
use dbward_core::store::Store;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::cancel::{CancelMap, CancelTarget, send_cancel};
use super::codec::{self, Severity};
use super::relay::{self, RelayConfig};
use super::scram::{self, ScramError, Verifier};
use super::startup::{self, Handshake};
use super::stream::MaybeTls;
use super::upstream::{self, ConnectOptions};

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
}

impl PgServer {
    /// Builds the server. `tls` is the rustls configuration for the client side, if any.
    #[must_use]
    pub fn new(
        store: Store,
        auth: Arc<Authenticator>,
        key: MasterKey,
        tls: Option<rustls::ServerConfig>,
        config: PgServerConfig,
        sessions: Arc<SessionRegistry>,
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
        }
    }

    /// Accepts connections on `listener` until `shutdown`; every session runs on `tracker`.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) {
        let stop = shutdown.clone();
        let max = self.config.limits.max_connections;
        let opts = crate::listener::TcpOptions {
            keepalive: self.config.limits.tcp_keepalive,
        };
        crate::listener::accept_loop(listener, shutdown, tracker, max, opts, move |tcp, peer, permit| {
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
                server.handle(tcp, peer, stop).await;
            }
            .instrument(span)
        })
        .await;
    }

    async fn handle(self: Arc<Self>, tcp: TcpStream, peer: SocketAddr, stop: CancellationToken) {
        let require_tls = self.config.require_tls_remote && !peer.ip().is_loopback();
        let deadline = tokio::time::Instant::now() + self.config.handshake_timeout;
        let handshake = tokio::select! {
            r = tokio::time::timeout_at(deadline, startup::handshake(tcp, self.tls.as_ref(), require_tls)) => r,
            () = stop.cancelled() => return,
        };
        let (mut client, params) = match handshake {
            Err(_) => {
                tracing::debug!("handshake timed out");
                return;
            }
            Ok(Err((stream, e))) => {
                tracing::warn!(error = %e, "startup refused");
                if let Some(mut s) = stream {
                    fatal(&mut s, e.sqlstate(), &e.to_string()).await;
                }
                return;
            }
            Ok(Ok(Handshake::Cancel { pid, secret })) => {
                if let Some(target) = self.cancels.lookup((pid, secret)) {
                    send_cancel(&target).await;
                }
                return;
            }
            Ok(Ok(Handshake::Startup { stream, params })) => (stream, params),
        };
        let span = tracing::Span::current();
        span.record("user", params.user.as_str());
        span.record("db", params.database.as_str());

        let opened = tokio::select! {
            r = tokio::time::timeout_at(deadline, self.open(&mut client, &params, peer)) => r,
            () = stop.cancelled() => {
                fatal(&mut client, "57P01", "dbward is shutting down").await;
                return;
            }
        };
        match opened {
            Err(_) => fatal(&mut client, "08P01", "timed out during authentication").await,
            Ok(Err(())) => {}
            Ok(Ok((upstream, level, key, started, session))) => {
                tracing::info!(level = %level, session = %session.id(), "session started");
                let (end, busy) = relay::run(
                    client,
                    upstream.stream,
                    RelayConfig {
                        level,
                        max_message_bytes: self.config.max_message_bytes,
                        idle_session_timeout: self.config.limits.idle_session_timeout,
                        idle_in_transaction_timeout: self.config.limits.idle_in_transaction_timeout,
                        kill: session.signal(),
                    },
                )
                .await;
                if busy {
                    // Nothing keeps running on the upstream after its client left.
                    if let Some(target) = self.cancels.lookup(key) {
                        send_cancel(&target).await;
                    }
                }
                self.cancels.unregister(key);
                tracing::info!(end = ?end, seconds = started.elapsed().as_secs_f64(), "session ended");
            }
        }
    }

    /// Authenticates, checks the grant and logs in upstream; on success the client has been
    /// sent everything up to the first ReadyForQuery. On failure the client has been told.
    async fn open(
        &self,
        client: &mut MaybeTls,
        params: &startup::StartupParams,
        peer: SocketAddr,
    ) -> Result<Opened, ()> {
        let started = std::time::Instant::now();
        let throttle = self.auth.throttle();
        if throttle.locked_for(&params.user, peer.ip()).is_some() {
            fatal(
                client,
                "28P01",
                "too many failed login attempts; try again later",
            )
            .await;
            return Err(());
        }
        let user = match self.store.user_auth(&params.user).await {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "store unavailable during login");
                fatal(
                    client,
                    "08006",
                    "dbward cannot reach its store; try again later",
                )
                .await;
                return Err(());
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
        match scram::authenticate(client, &verifier).await {
            Ok(()) => {}
            Err(ScramError::Failed) => {
                throttle.record_failure(&params.user, peer.ip());
                tracing::warn!("password authentication failed");
                let msg = format!(
                    "password authentication failed for user \"{}\"",
                    params.user
                );
                fatal(client, "28P01", &msg).await;
                return Err(());
            }
            Err(e) => {
                tracing::warn!(error = %e, "SCRAM exchange failed");
                fatal(client, "08P01", &e.to_string()).await;
                return Err(());
            }
        }
        // The proof matched a real verifier: the user exists.
        let Some(user) = user else {
            fatal(client, "28P01", "password authentication failed").await;
            return Err(());
        };
        throttle.record_success(&params.user, peer.ip());
        if !user.enabled {
            fatal(client, "28000", "your dbward account is disabled").await;
            return Err(());
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
                fatal(
                    client,
                    "3D000",
                    &format!("database \"{name}\" does not exist"),
                )
                .await;
                return Err(());
            }
            Err(GateError::Store(e)) => {
                tracing::error!(error = %e, "store unavailable during login");
                fatal(
                    client,
                    "08006",
                    "dbward cannot reach its store; try again later",
                )
                .await;
                return Err(());
            }
            Err(e) => {
                tracing::info!(reason = %e, "no active grant");
                fatal(client, "28000", &e.to_string()).await;
                return Err(());
            }
        };
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
                database_version: session.database.updated_at,
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
                fatal(client, "53300", &e.to_string()).await;
                return Err(());
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
                fatal(
                    client,
                    "08006",
                    "dbward cannot use this database's stored credentials",
                )
                .await;
                return Err(());
            }
        };
        let upstream = match upstream::connect(
            &session.database,
            &creds,
            session.level,
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
            Err(e) => {
                tracing::warn!(error = %e, "upstream login failed");
                let msg = format!(
                    "could not connect to the upstream of database \"{}\": {e}",
                    session.database.name
                );
                fatal(client, "08006", &msg).await;
                return Err(());
            }
        };
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
        if client.write_all(&out).await.is_err() {
            self.cancels.unregister(key);
            return Err(());
        }
        Ok((upstream, session.level, key, started, session_handle))
    }
}

/// What `open` hands to the relay: the upstream, the level, the cancel key, the start time and
/// the registered session.
type Opened = (
    upstream::Upstream,
    dbward_core::model::AccessLevel,
    (i32, i32),
    std::time::Instant,
    SessionHandle,
);

/// Sends a FATAL ErrorResponse and closes the client's side.
async fn fatal(client: &mut MaybeTls, code: &str, message: &str) {
    let mut out = BytesMut::new();
    codec::error_response(&mut out, Severity::Fatal, code, message);
    let _ = client.write_all(&out).await;
    let _ = client.shutdown().await;
}
