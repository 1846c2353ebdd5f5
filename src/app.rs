//! Start-up and shutdown.
//!
//! Start-up, in order, each step failing with a clear error: validate the configuration; create
//! the data directory (mode 0700); open the store and apply migrations; obtain the master key
//! (configured, or `secret.key` generated for SQLite) and check it against the store's sealed
//! check value, so a wrong key stops here instead of corrupting data; create the built-in roles;
//! on an empty store, bootstrap user `admin` (password from the configuration, or random and
//! returned once for the banner); load or generate the TLS pair; bind the listeners (port 0
//! works; the bound addresses are returned and logged).
//!
//! Shutdown: the token is cancelled (SIGINT/SIGTERM in `cli`); listeners stop accepting and
//! in-flight requests finish; then the store closes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use dbward_core::audit::chain::{ChainKey, HeadFile};
use dbward_core::auth::Authenticator;
use dbward_core::config::{Config, StoreKind};
use dbward_core::crypto::{MasterKey, Secret, password};
use dbward_core::model::{UserKind, builtin};
use dbward_core::store::{Actor, KeyCheck, NewUser, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running dbward.
#[derive(Debug)]
pub struct Started {
    /// Where the admin API listens.
    pub http_addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub https: bool,
    /// Where the PostgreSQL proxy listens.
    pub pg_addr: SocketAddr,
    /// Where the MySQL proxy listens.
    pub mysql_addr: SocketAddr,
    /// The password generated for `admin` on first start, shown once.
    pub generated_admin_password: Option<Secret<String>>,
    /// Which store, without credentials.
    pub store_description: String,
    /// The TLS certificate in use.
    pub tls_cert_path: PathBuf,
    /// The store, for tests and tools.
    pub store: Store,
    /// The statement audit writer (drained at shutdown).
    audit_writer: Option<dbward_core::audit::AuditWriter>,
    audit_maintenance: JoinHandle<()>,
    /// The live forwarders (`audit.forward`) and what stops them, after the writer drained.
    audit_forwarders: Vec<JoinHandle<()>>,
    forward_stop: CancellationToken,
    head_file: HeadFile,
    /// The master key.
    pub key: MasterKey,
    shutdown: CancellationToken,
    http: JoinHandle<std::io::Result<()>>,
    sessions: tokio_util::task::TaskTracker,
    /// The threads sessions run on (stopped last: store connections they opened live there).
    session_threads: Option<Arc<dbward_proxy::session_threads::SessionThreads>>,
    registry: Arc<dbward_core::sessions::SessionRegistry>,
}

impl Started {
    /// Cancels and waits for everything to stop, then closes the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.finish().await
    }

    /// Waits for the listeners to stop (after the token is cancelled), then closes the store.
    pub async fn finish(self) -> anyhow::Result<()> {
        let http = self.http.await.context("HTTP server task")?;
        // Sessions end with 57P01; a running upstream query is cancelled.
        let n = self
            .registry
            .kill_all(&dbward_core::sessions::EndReason::new(
                "shutdown",
                "dbward is shutting down",
            ));
        if n > 0 {
            tracing::info!(sessions = n, "ending sessions");
        }
        self.sessions.close();
        if tokio::time::timeout(std::time::Duration::from_secs(30), self.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!("sessions still open after 30 s; stopping anyway");
        }
        // Everything the sessions queued reaches the store before it closes.
        if let Some(writer) = self.audit_writer {
            let drained =
                tokio::time::timeout(std::time::Duration::from_secs(10), writer.finish()).await;
            if let Ok(n) = drained {
                tracing::info!(events = n, "audit writer drained");
            } else {
                tracing::warn!("audit writer still busy after 10 s; stopping anyway");
            }
        }
        let _ = self.audit_maintenance.await;
        // The forwarders make their last pass over what the writer drained.
        self.forward_stop.cancel();
        for f in self.audit_forwarders {
            let _ = f.await;
        }
        dbward_core::audit::maintain::sync_head(&self.store, &self.head_file, &mut None).await;
        self.store.close().await;
        if let Some(threads) = self.session_threads {
            threads.stop();
        }
        tracing::info!("dbward stopped");
        http.context("HTTP server")
    }
}

/// Starts dbward with `config`; it runs until `shutdown` is cancelled.
pub async fn start(config: Config, shutdown: CancellationToken) -> anyhow::Result<Started> {
    let (store, key) = open_store(&config).await?;
    let head_file = HeadFile::in_dir(&config.data_dir);
    check_head_file(&store, &head_file).await;
    store.ensure_builtin_roles().await?;
    let generated_admin_password = bootstrap_admin(&store, &config).await?;
    let tls = dbward_core::tls::load_or_generate(
        config.tls_cert.as_deref().zip(config.tls_key.as_deref()),
        &config.data_dir,
    )?;
    let rsa_key = match &config.mysql.rsa_private_key {
        Some(path) => {
            let pem = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read {} (mysql.rsa_private_key)", path.display())
            })?;
            Some(
                dbward_proxy::mysql::rsa_exchange::RsaKey::from_pem(&pem).map_err(|e| {
                    anyhow::anyhow!("{} (mysql.rsa_private_key): {e}", path.display())
                })?,
            )
        }
        None => None,
    };

    let config = Arc::new(config);
    let auth = Arc::new(Authenticator::new(store.clone(), config.auth.clone()));

    let registry = Arc::new(dbward_core::sessions::SessionRegistry::default());
    tokio::spawn(dbward_core::sessions::watch(
        registry.clone(),
        store.clone(),
        config.limits.session_check_interval,
        shutdown.clone(),
    ));
    let pg_listener = tokio::net::TcpListener::bind(config.pg.listen)
        .await
        .with_context(|| format!("cannot listen on {} (pg.listen)", config.pg.listen))?;
    let pg_addr = pg_listener.local_addr()?;
    // One audit writer for every front door's statement events.
    let (audit_writer, audit_sink) =
        dbward_core::audit::AuditWriter::spawn(store.clone(), &config.audit);
    let audit_health = audit_sink.health();
    let audit_maintenance = tokio::spawn(dbward_core::audit::maintain::run(
        store.clone(),
        head_file.clone(),
        config.audit.clone(),
        shutdown.clone(),
    ));
    let forward_stop = CancellationToken::new();
    let audit_forwarders = dbward_core::audit::forward::start(
        &store,
        &config.audit.forward,
        &config.data_dir,
        &forward_stop,
    )
    .await
    .context("cannot start audit forwarding")?;
    // One classifier (and decision cache) for every front door.
    let classifier = Arc::new(dbward_core::policy::Classifier::new(
        config.policy.cache_entries,
    ));
    let pg = Arc::new(dbward_proxy::pg::PgServer::new(
        store.clone(),
        auth.clone(),
        key.clone(),
        Some(tls.server_config(&[dbward_proxy::pg::startup::ALPN_POSTGRESQL])?),
        dbward_proxy::pg::PgServerConfig {
            handshake_timeout: config.pg.handshake_timeout,
            connect_timeout: config.pg.connect_timeout,
            max_message_bytes: config.pg.max_message_bytes,
            require_tls_remote: config.pg.require_tls_remote,
            scram_iterations: config.auth.scram_iterations,
            limits: config.limits.clone(),
            quota: config.quota,
            tls_server_end_point: tls.tls_server_end_point(),
        },
        registry.clone(),
        classifier.clone(),
        audit_sink.clone(),
    ));
    let sessions = tokio_util::task::TaskTracker::new();
    let session_threads = match config.runtime.session_threads() {
        0 => None,
        n => Some(
            dbward_proxy::session_threads::SessionThreads::start(n)
                .context("cannot start the session threads")?,
        ),
    };
    let spawn = dbward_proxy::listener::Spawn {
        tracker: sessions.clone(),
        threads: session_threads.clone(),
    };
    tokio::spawn(pg.serve(pg_listener, shutdown.clone(), spawn.clone()));
    tracing::info!(addr = %pg_addr, "PostgreSQL proxy listening");
    let mysql_listener = tokio::net::TcpListener::bind(config.mysql.listen)
        .await
        .with_context(|| format!("cannot listen on {} (mysql.listen)", config.mysql.listen))?;
    let mysql_addr = mysql_listener.local_addr()?;
    let mysql = Arc::new(dbward_proxy::mysql::MyServer::new(
        store.clone(),
        auth.clone(),
        key.clone(),
        Some(tls.server_config(&[])?),
        dbward_proxy::mysql::MyServerConfig {
            handshake_timeout: config.mysql.handshake_timeout,
            connect_timeout: config.mysql.connect_timeout,
            max_message_bytes: config.mysql.max_message_bytes,
            require_tls_remote: config.mysql.require_tls_remote,
            limits: config.limits.clone(),
            quota: config.quota,
            server_version: config
                .mysql
                .server_version
                .clone()
                .unwrap_or_else(|| dbward_proxy::mysql::client_auth::SERVER_VERSION.to_owned()),
            announce_native_password: config.mysql.announce_native_password,
            rsa: config.mysql.rsa_key_exchange.then_some(Arc::new(
                dbward_proxy::mysql::rsa_exchange::RsaExchange::new(rsa_key),
            )),
        },
        registry.clone(),
        classifier.clone(),
        audit_sink,
    ));
    tokio::spawn(mysql.serve(mysql_listener, shutdown.clone(), spawn));
    tracing::info!(addr = %mysql_addr, "MySQL proxy listening");
    let admin = dbward_admin_api::router(dbward_admin_api::AdminState {
        config: config.clone(),
        store: store.clone(),
        key: key.clone(),
        auth,
        sessions: registry.clone(),
        audit: audit_health,
        tls: config.http.tls,
    });
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
    let http_addr = listener.local_addr()?;
    tracing::info!(addr = %http_addr, https = config.http.tls, "admin API listening");
    let token = shutdown.clone();
    let service = admin.into_make_service_with_connect_info::<SocketAddr>();
    let http = if config.http.tls {
        let tls_config = tls.server_config(&[b"http/1.1"])?;
        // tap_io: axum provides ConnectInfo<SocketAddr> for tapped listeners of any kind.
        let listener = axum::serve::ListenerExt::tap_io(
            crate::https::TlsListener::new(listener, tls_config, shutdown.clone())?,
            |_| {},
        );
        tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
        })
    } else {
        tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
        })
    };
    Ok(Started {
        http_addr,
        https: config.http.tls,
        pg_addr,
        mysql_addr,
        audit_writer: Some(audit_writer),
        audit_maintenance,
        audit_forwarders,
        forward_stop,
        head_file,
        sessions,
        session_threads,
        registry,
        generated_admin_password,
        store_description: describe_store(&config),
        tls_cert_path: tls.cert_path,
        store,
        key,
        shutdown,
        http,
    })
}

/// Validates `config`, opens the store (applying migrations), checks the master key against it
/// and binds this instance's audit chain: what `serve` and the `audit` commands share.
pub async fn open_store(config: &Config) -> anyhow::Result<(Store, MasterKey)> {
    config.validate()?;
    create_data_dir(config)?;
    let url = config.effective_store_url();
    let store = Store::open(&url)
        .await
        .with_context(|| format!("cannot open the store ({})", describe_store(config)))?;
    let key = master_key(config)?;
    match store.verify_master_key(&key).await? {
        KeyCheck::Initialized => tracing::info!(key_id = %key.id(), "store bound to master key"),
        KeyCheck::Matches => tracing::debug!(key_id = %key.id(), "master key matches the store"),
    }
    let instance_id = dbward_core::audit::chain::instance_id(&config.data_dir)
        .context("cannot read or create instance.id in the data directory")?;
    let store = store
        .bind_audit_chain(ChainKey::new(&key), instance_id)
        .await
        .context("cannot bind the audit chain")?;
    Ok((store, key))
}

/// Warns loudly when the head file says the chain was longer than the store now holds (its
/// tail was deleted while dbward was down); `dbward audit verify` reports the details.
async fn check_head_file(store: &Store, head_file: &HeadFile) {
    match (head_file.read(), store.audit_head().await) {
        (Ok(Some(file)), Ok(Some(head))) if file.seq > head.seq => tracing::error!(
            file_seq = file.seq,
            store_seq = head.seq,
            "the audit trail is shorter than this instance's head file records: events were deleted"
        ),
        (Err(e), _) => tracing::error!(error = %e, "cannot read the audit head file"),
        _ => {}
    }
}

/// SIGINT and SIGTERM, caught from the moment this is made. Made before dbward starts and
/// announces itself: a signal sent as soon as the banner appears (a service manager stopping a
/// unit that just started) must still drain the audit queue, not kill the process by the
/// signal's default action.
pub struct ShutdownSignals {
    #[cfg(unix)]
    signals: Vec<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    /// Starts catching them (inside the runtime).
    #[must_use]
    pub fn catch() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = [SignalKind::interrupt(), SignalKind::terminate()]
                .into_iter()
                .filter_map(|kind| match signal(kind) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot catch a shutdown signal");
                        None
                    }
                })
                .collect();
            Self { signals }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for one of them (or `shutdown` cancelled elsewhere), then cancels `shutdown`.
    pub async fn wait(self, shutdown: &CancellationToken) {
        #[cfg(unix)]
        {
            let mut signals = self.signals;
            let any = std::future::poll_fn(|cx| {
                if signals.iter_mut().any(|s| s.poll_recv(cx).is_ready()) {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            });
            tokio::select! {
                () = any => {}
                () = shutdown.cancelled() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = shutdown.cancelled() => {}
        }
        tracing::info!("shutting down");
        shutdown.cancel();
    }
}

fn create_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    }
    Ok(())
}

fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(text) = &config.secret_key {
        return Ok(MasterKey::from_base64(text.expose(), "DBWARD_SECRET_KEY")?);
    }
    match config.store_kind()? {
        StoreKind::Sqlite => Ok(MasterKey::load_or_create(
            &config.data_dir.join("secret.key"),
        )?),
        StoreKind::Postgres => anyhow::bail!("a PostgreSQL store needs DBWARD_SECRET_KEY"),
    }
}

/// Creates `admin` on an empty store; returns the password if it was generated.
async fn bootstrap_admin(store: &Store, config: &Config) -> anyhow::Result<Option<Secret<String>>> {
    if store.has_users().await? {
        return Ok(None);
    }
    let (pw, generated) = match &config.admin_password {
        Some(pw) => (pw.expose().clone(), false),
        None => (dbward_core::crypto::random_password(), true),
    };
    let iterations = config.auth.scram_iterations;
    let pw_for_hash = pw.clone();
    let verifiers =
        tokio::task::spawn_blocking(move || password::make_verifiers(&pw_for_hash, iterations))
            .await?;
    let admin_role = store.get_role_by_name(builtin::ADMIN).await?;
    store
        .create_user(
            &Actor::system(),
            &NewUser {
                username: "admin".into(),
                kind: UserKind::Local,
                verifiers: Some(verifiers),
                enabled: true,
                role_ids: vec![admin_role.id],
                mysql_native_sealed: None,
            },
        )
        .await?;
    tracing::info!("bootstrapped user `admin`");
    Ok(generated.then(|| Secret::new(pw)))
}

/// The store's URL without credentials, for banners and errors.
fn describe_store(config: &Config) -> String {
    let url = config.effective_store_url();
    match url.split_once('@') {
        Some((scheme_creds, rest)) => {
            let scheme = scheme_creds.split("://").next().unwrap_or("postgres");
            format!("{scheme}://…@{rest}")
        }
        None => url,
    }
}
