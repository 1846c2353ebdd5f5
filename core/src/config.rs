//! The configuration tree: one `Config`, validated once at start and shared as `Arc<Config>`.
//!
//! Precedence, lowest first: [`Config::default`] < the optional TOML file (`--config`) <
//! `DBWARD_*` environment variables < command-line flags. The binary's `cli` module applies the
//! last two (clap reads each flag's `env`), so this module only knows defaults, the file and
//! validation. Tests build `Config` values directly and never touch the process environment.
//! Every field's doc gives its meaning, default and unit; `examples/dbward.toml` repeats them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::crypto::Secret;

/// Errors loading or validating the configuration. Each names the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML file does not parse or has unknown keys.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde said, with the key.
        source: toml::de::Error,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        /// The setting's name as in the TOML file.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the SQLite store, the generated master key and TLS pair.
    /// Env `DBWARD_DATA_DIR`; default `./data`.
    pub data_dir: PathBuf,
    /// Metadata store URL: `sqlite://PATH` or `postgres://…`. Env `DBWARD_STORE_URL`;
    /// default: the SQLite file `dbward.db` in the data directory.
    pub store_url: Option<String>,
    /// Password of the `admin` user bootstrapped on an empty store. Env
    /// `DBWARD_ADMIN_PASSWORD`; default: random, printed once at first start.
    pub admin_password: Option<Secret<String>>,
    /// The master key (base64 of 32 bytes) sealing upstream secrets. Env `DBWARD_SECRET_KEY`.
    /// Default with SQLite: generated at first start into `secret.key` (mode 0600) in the data
    /// directory. With a PostgreSQL store it must be given: several instances share it.
    pub secret_key: Option<Secret<String>>,
    /// PEM certificate chain for the HTTP listener and the proxies. Env `DBWARD_TLS_CERT`;
    /// default: a self-signed pair generated into the data directory at first start.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key matching `tls_cert`. Env `DBWARD_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// The admin API's HTTP listener.
    pub http: HttpConfig,
    /// The PostgreSQL proxy.
    pub pg: ProxyConfig<PgPort>,
    /// The MySQL proxy.
    pub mysql: ProxyConfig<MysqlPort>,
    /// Password checks, throttling and hashing.
    pub auth: AuthConfig,
    /// Connection caps and session timeouts, for every proxy.
    pub limits: LimitsConfig,
    /// Statement classification.
    pub policy: PolicyConfig,
    /// Threads that run the proxies' sessions.
    pub runtime: RuntimeConfig,
    /// Quota block sizes (see `dbward_core::quota`).
    pub quota: crate::quota::QuotaConfig,
    /// The audit trail: writer, store outages, retention.
    pub audit: AuditConfig,
}

/// What statements do while the audit store cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreUnavailable {
    /// New statements get a clear error after `unavailable_wait` (the default: a statement that
    /// cannot be audited does not run).
    Refuse,
    /// Events queue in memory (`queue_events`) while the store is down; once the queue is full,
    /// statements wait `unavailable_wait`, then are refused.
    Queue,
}

/// The audit trail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Events the writer collects before it writes them, at most this long after the first
    /// one arrived: the most a crash (kill -9) can lose, with `batch_events`. Default `50ms`.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Events written in one transaction at most. Default 1000.
    pub batch_events: usize,
    /// Events queued in memory at most; beyond, statements wait (back-pressure). Default 10000.
    pub queue_events: usize,
    /// `refuse` (default) or `queue`: see [`StoreUnavailable`].
    pub store_unavailable: StoreUnavailable,
    /// How long a statement waits for the audit store (`refuse`) or for room in the queue
    /// (`queue`) before it is refused. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub unavailable_wait: Duration,
    /// Strict mode: each statement's event is written (committed) before the statement is
    /// sent upstream. Costs a store commit per statement's latency. Default off.
    pub strict: bool,
    /// Longest statement text kept in an event, in bytes (the full length is recorded).
    /// Default 4096.
    pub max_statement_bytes: usize,
    /// Store only the normalized statement (every literal replaced by `?`), for personal data.
    /// Default off.
    pub normalized_statements_only: bool,
    /// Record the parameter values bound to each execution of a prepared statement
    /// (PostgreSQL's extended protocol), each cut at 256 bytes. Off by default: they carry data.
    pub record_parameters: bool,
    /// Events older than this are pruned (a checkpoint keeps the chain verifiable). Default:
    /// kept forever.
    #[serde(with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// At most this many events are kept per instance's chain; older ones are pruned.
    /// Default: no limit.
    pub max_events: Option<u64>,
    /// How often the pruner runs. Default `1h`.
    #[serde(with = "humantime_serde")]
    pub prune_interval: Duration,
    /// Live forwarding of every event of this instance's chain, each target independently:
    /// `stdout` (JSON Lines), `syslog+udp://HOST:PORT` or `syslog+tcp://HOST:PORT` (RFC 5424,
    /// TCP framed by octet counting, RFC 6587). Default: none.
    pub forward: Vec<ForwardTarget>,
}

/// Where [`AuditConfig::forward`] sends events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ForwardTarget {
    /// Standard output, one JSON object per line.
    Stdout,
    /// A syslog receiver over UDP, one message per datagram.
    SyslogUdp(String),
    /// A syslog receiver over TCP.
    SyslogTcp(String),
}

impl TryFrom<String> for ForwardTarget {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let addr = |rest: &str| {
            let (host, port) = rest
                .rsplit_once(':')
                .filter(|(h, _)| !h.is_empty())
                .ok_or_else(|| format!("`{s}`: expected HOST:PORT after the scheme"))?;
            port.parse::<u16>()
                .map_err(|_| format!("`{s}`: invalid port `{port}`"))?;
            Ok::<_, String>(format!("{host}:{port}"))
        };
        if s == "stdout" {
            Ok(Self::Stdout)
        } else if let Some(rest) = s.strip_prefix("syslog+udp://") {
            Ok(Self::SyslogUdp(addr(rest)?))
        } else if let Some(rest) = s.strip_prefix("syslog+tcp://") {
            Ok(Self::SyslogTcp(addr(rest)?))
        } else {
            Err(format!(
                "`{s}`: expected `stdout`, `syslog+udp://HOST:PORT` or `syslog+tcp://HOST:PORT`"
            ))
        }
    }
}

impl std::fmt::Display for ForwardTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdout => f.write_str("stdout"),
            Self::SyslogUdp(a) => write!(f, "syslog+udp://{a}"),
            Self::SyslogTcp(a) => write!(f, "syslog+tcp://{a}"),
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_millis(50),
            batch_events: 1000,
            queue_events: 10_000,
            store_unavailable: StoreUnavailable::Refuse,
            unavailable_wait: Duration::from_secs(5),
            strict: false,
            max_statement_bytes: 4096,
            normalized_statements_only: false,
            record_parameters: false,
            retention: None,
            max_events: None,
            prune_interval: Duration::from_hours(1),
            forward: Vec::new(),
        }
    }
}

/// Statement classification.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Classification decisions kept in the cache, shared by all sessions. Default 10000.
    pub cache_entries: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            cache_entries: 10_000,
        }
    }
}

/// More session threads than this is a typo, not a machine: each is a thread and an event loop.
pub const MAX_SESSION_THREADS: usize = 1024;

/// Threads that run the proxies' sessions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Session threads, each with its own event loop; a session runs on one of them from
    /// connect to end (the least busy at connect). Default: one per CPU dbward may run on.
    /// `0`: sessions share the main work-stealing runtime with the admin API (a session
    /// that streams a large result then never holds up the others of its thread, at some CPU
    /// cost per statement).
    pub session_threads: Option<usize>,
}

impl RuntimeConfig {
    /// How many session threads to start (0: none).
    #[must_use]
    pub fn session_threads(&self) -> usize {
        self.session_threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            store_url: None,
            admin_password: None,
            secret_key: None,
            tls_cert: None,
            tls_key: None,
            http: HttpConfig::default(),
            pg: ProxyConfig::default(),
            mysql: ProxyConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            policy: PolicyConfig::default(),
            runtime: RuntimeConfig::default(),
            quota: crate::quota::QuotaConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

/// Connection caps and session timeouts, for every proxy. A cap or timeout of 0 is off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Client connections open at once per proxy listener, handshakes included; beyond it new
    /// ones get "too many connections" at once. Default 1000.
    pub max_connections: usize,
    /// Sessions of one user at once. Default 20.
    pub max_sessions_per_user: usize,
    /// Sessions on one grant at once: a `read` grant cannot take production's connection slots.
    /// Default 10.
    pub max_sessions_per_grant: usize,
    /// A session idle (outside a transaction) this long is ended. Default `8h`.
    #[serde(with = "humantime_serde")]
    pub idle_session_timeout: Duration,
    /// A session idle inside a transaction this long is ended, and its transaction rolled back
    /// (an abandoned session must not hold locks on production). Default `10m`.
    #[serde(with = "humantime_serde")]
    pub idle_in_transaction_timeout: Duration,
    /// TCP keepalive idle time on client and upstream sockets. Default `60s`.
    #[serde(with = "humantime_serde")]
    pub tcp_keepalive: Duration,
    /// How often live sessions are checked against their grant, user and database (a revoked
    /// grant ends its sessions within this). Default `500ms`.
    #[serde(with = "humantime_serde")]
    pub session_check_interval: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 1000,
            max_sessions_per_user: 20,
            max_sessions_per_grant: 10,
            idle_session_timeout: Duration::from_hours(8),
            idle_in_transaction_timeout: Duration::from_mins(10),
            tcp_keepalive: Duration::from_mins(1),
            session_check_interval: Duration::from_millis(500),
        }
    }
}

/// The admin API's HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on; port 0 picks a free port. Env `DBWARD_HTTP_LISTEN`;
    /// default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Serve HTTPS (with `tls_cert`/`tls_key`, or the generated pair) instead of plain HTTP.
    /// Env `DBWARD_HTTP_TLS`; default `false`. Turn it on whenever the API is reached from
    /// other machines: basic auth sends the password with every request.
    pub tls: bool,
    /// Accept HTTP basic auth over plain HTTP from non-loopback clients. Default `false`:
    /// credentials would cross the network in clear.
    pub allow_insecure_basic_auth: bool,
    /// Upper bound for one request, headers to last byte. Default `30s`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: false,
            allow_insecure_basic_auth: false,
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 1 << 20,
        }
    }
}

/// A front door's default port on 127.0.0.1.
pub trait DefaultPort {
    /// The port.
    const PORT: u16;
}

/// `[pg]`: 6432.
#[derive(Debug, Clone, Copy)]
pub struct PgPort;

impl DefaultPort for PgPort {
    const PORT: u16 = 6432;
}

/// `[mysql]`: 6033.
#[derive(Debug, Clone, Copy)]
pub struct MysqlPort;

impl DefaultPort for MysqlPort {
    const PORT: u16 = 6033;
}

/// A proxy front door (`[pg]`, `[mysql]`): the same settings, each with its own default port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default, bound = "")]
pub struct ProxyConfig<P: DefaultPort> {
    /// Address to listen on; port 0 picks a free port. Env `DBWARD_PG_LISTEN` /
    /// `DBWARD_MYSQL_LISTEN`; defaults `127.0.0.1:6432` / `127.0.0.1:6033`.
    pub listen: SocketAddr,
    /// Refuse plaintext sessions from non-loopback clients. Default `false`.
    pub require_tls_remote: bool,
    /// From connect to a ready session (TLS, authentication, upstream login). Default `15s`.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Upstream connect and login. Default `10s`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Largest message dbward buffers whole (a query, a Parse, a MySQL command), in bytes.
    /// Results and COPY data stream through whatever their size. Default 64 MiB.
    pub max_message_bytes: usize,
    /// `[mysql]` only: the server version the greeting announces (clients pick features and
    /// variable names by it). Default `5.7.99-dbward`, which MySQL 5.7+ and MariaDB upstreams
    /// both serve; with only MySQL 8.0+ upstreams, `8.0.99-dbward` (Connector/J then reads
    /// `@@transaction_isolation`, not the `@@tx_isolation` MySQL 8.0 removed).
    pub server_version: Option<String>,
    /// `[mysql]` only: the greeting names `mysql_native_password` as the server's plugin,
    /// for clients that refuse any other before they even answer (pgloader's). Only users an
    /// admin opted in to that plugin log in with it; everyone else's client is switched to
    /// `caching_sha2_password`, one round trip more. Default `false`.
    pub announce_native_password: bool,
    /// `[mysql]` only: clients without TLS log in by `caching_sha2_password`'s RSA key
    /// exchange, as with a MySQL server (the password goes RSA-encrypted; safe from observers,
    /// not from a machine in the middle unless clients hold dbward's public key). `false`:
    /// such clients are refused, connect with TLS. Default `true`.
    pub rsa_key_exchange: bool,
    /// `[mysql]` only: the RSA private key of that exchange, in PEM (PKCS#8, or PKCS#1 as in
    /// MySQL's `private_key.pem`; at least 2048 bits), so that clients can be given its public
    /// half beforehand. Default: a 3072-bit key generated on first use, in memory only.
    pub rsa_private_key: Option<std::path::PathBuf>,
    #[serde(skip)]
    port: std::marker::PhantomData<P>,
}

impl<P: DefaultPort> Default for ProxyConfig<P> {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], P::PORT)),
            port: std::marker::PhantomData,
            require_tls_remote: false,
            handshake_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            max_message_bytes: 64 << 20,
            server_version: None,
            announce_native_password: false,
            rsa_key_exchange: true,
            rsa_private_key: None,
        }
    }
}

/// Password checks, throttling and hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Threads that run argon2id verifications (each takes ~19 MiB and tens of ms). Requests
    /// beyond them wait, so a flood of logins cannot starve the proxies. Default 2.
    pub hash_workers: usize,
    /// Logins waiting for a worker beyond which new ones are refused at once (HTTP 503).
    /// Default 64.
    pub hash_queue: usize,
    /// How long a verified (user, password) pair is remembered, sparing argon2id on every API
    /// request. A password change invalidates it at once. Default `60s`; `0s` disables it.
    #[serde(with = "humantime_serde")]
    pub credential_cache_ttl: Duration,
    /// Failed logins per (user, client address) before a temporary lock. Default 5.
    pub max_failures: u32,
    /// First lock duration; each further failure doubles it. Default `1s`.
    #[serde(with = "humantime_serde")]
    pub lockout_base: Duration,
    /// Ceiling for the lock duration. Default `15m`.
    #[serde(with = "humantime_serde")]
    pub lockout_max: Duration,
    /// PBKDF2 iterations of the SCRAM-SHA-256 verifiers the PostgreSQL proxy authenticates
    /// against. The verifier is weaker than argon2id against offline cracking, so the default
    /// (100,000, about 25 times PostgreSQL's 4,096) makes each guess ~25 times dearer while each
    /// client login costs ~30-50 ms of the client's CPU. Minimum 4,096.
    pub scram_iterations: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            hash_workers: 2,
            hash_queue: 64,
            credential_cache_ttl: Duration::from_mins(1),
            max_failures: 5,
            lockout_base: Duration::from_secs(1),
            lockout_max: Duration::from_mins(15),
            scram_iterations: 100_000,
        }
    }
}

/// Which metadata store backend a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Embedded SQLite file.
    Sqlite,
    /// A shared PostgreSQL database.
    Postgres,
}

impl Config {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The store URL in effect: the configured one, or the SQLite file in the data directory.
    #[must_use]
    pub fn effective_store_url(&self) -> String {
        match &self.store_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("dbward.db").display()),
        }
    }

    /// The backend the store URL selects.
    pub fn store_kind(&self) -> Result<StoreKind, ConfigError> {
        let url = self.effective_store_url();
        if url.starts_with("sqlite:") {
            Ok(StoreKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreKind::Postgres)
        } else {
            Err(ConfigError::Invalid {
                setting: "store_url",
                reason: "must start with sqlite: or postgres://".into(),
            })
        }
    }

    /// Checks what serde cannot: ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let kind = self.store_kind()?;
        if kind == StoreKind::Postgres && self.secret_key.is_none() {
            return Err(ConfigError::Invalid {
                setting: "secret_key",
                reason: "a PostgreSQL store is shared by several instances: supply the master key \
                         (DBWARD_SECRET_KEY, base64 of 32 bytes)"
                    .into(),
            });
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                setting: "tls_cert",
                reason: "tls_cert and tls_key go together".into(),
            });
        }
        if self.auth.hash_workers == 0 {
            return Err(ConfigError::Invalid {
                setting: "auth.hash_workers",
                reason: "at least 1".into(),
            });
        }
        if self.auth.scram_iterations < 4096 {
            return Err(ConfigError::Invalid {
                setting: "auth.scram_iterations",
                reason: "at least 4096 (RFC 7677)".into(),
            });
        }
        if self.limits.session_check_interval.is_zero() {
            return Err(ConfigError::Invalid {
                setting: "limits.session_check_interval",
                reason: "must be above zero".into(),
            });
        }
        if self.audit.batch_events == 0 || self.audit.queue_events < self.audit.batch_events {
            return Err(ConfigError::Invalid {
                setting: "audit.queue_events",
                reason: "at least 1 and at least audit.batch_events".into(),
            });
        }
        if self.audit.flush_interval.is_zero() || self.audit.prune_interval.is_zero() {
            return Err(ConfigError::Invalid {
                setting: "audit.flush_interval",
                reason: "flush_interval and prune_interval must be above zero".into(),
            });
        }
        if self.audit.max_statement_bytes < 64 {
            return Err(ConfigError::Invalid {
                setting: "audit.max_statement_bytes",
                reason: "at least 64".into(),
            });
        }
        if self.auth.max_failures == 0 {
            return Err(ConfigError::Invalid {
                setting: "auth.max_failures",
                reason: "at least 1".into(),
            });
        }
        if self.pg.announce_native_password {
            return Err(ConfigError::Invalid {
                setting: "pg.announce_native_password",
                reason: "applies to [mysql] only".into(),
            });
        }
        if !self.pg.rsa_key_exchange || self.pg.rsa_private_key.is_some() {
            return Err(ConfigError::Invalid {
                setting: "pg.rsa_key_exchange",
                reason: "rsa_key_exchange and rsa_private_key apply to [mysql] only".into(),
            });
        }
        if self.pg.server_version.is_some() {
            return Err(ConfigError::Invalid {
                setting: "pg.server_version",
                reason: "applies to [mysql] only".into(),
            });
        }
        if let Some(v) = &self.mysql.server_version
            && (v.len() > 60
                || !v.starts_with(|c: char| c.is_ascii_digit())
                || !v.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::Invalid {
                setting: "mysql.server_version",
                reason: "a version such as 8.0.99-dbward: digits first, printable ASCII, at most 60 bytes"
                    .into(),
            });
        }
        if self
            .runtime
            .session_threads
            .is_some_and(|n| n > MAX_SESSION_THREADS)
        {
            return Err(ConfigError::Invalid {
                setting: "runtime.session_threads",
                reason: format!("at most {MAX_SESSION_THREADS} (0: the main runtime)"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_version_is_mysql_only_and_looks_like_a_version() {
        let parse = |text: &str| toml::from_str::<Config>(text).expect("parses").validate();
        assert!(parse("[mysql]\nserver_version = '8.0.99-dbward'").is_ok());
        assert!(parse("[pg]\nserver_version = '8.0.99-dbward'").is_err());
        assert!(parse("[mysql]\nserver_version = 'dbward'").is_err());
        assert!(parse("[mysql]\nannounce_native_password = true").is_ok());
        assert!(parse("[pg]\nannounce_native_password = true").is_err());
        assert!(parse("[mysql]\nrsa_key_exchange = false\nrsa_private_key = \"k.pem\"").is_ok());
        assert!(parse("[pg]\nrsa_key_exchange = false").is_err());
        assert!(parse("[pg]\nrsa_private_key = \"k.pem\"").is_err());
        assert!(parse("[mysql]\nserver_version = '8.0 x'").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<Config>("data_dirr = '/tmp'").expect_err("unknown key");
        assert!(err.to_string().contains("data_dirr"), "{err}");
    }

    #[test]
    fn durations_are_humantime() {
        let c: Config = toml::from_str("[auth]\ncredential_cache_ttl = '5m'").expect("parses");
        assert_eq!(c.auth.credential_cache_ttl, Duration::from_mins(5));
        assert_eq!(c.auth.max_failures, 5, "other fields keep defaults");
    }

    #[test]
    fn postgres_store_requires_a_key() {
        let c = Config {
            store_url: Some("postgres://localhost/x".into()),
            ..Config::default()
        };
        let err = c.validate().expect_err("no key");
        assert!(err.to_string().contains("secret_key"), "{err}");
    }

    #[test]
    fn session_threads_are_bounded() {
        let c: Config = toml::from_str("[runtime]\nsession_threads = 100000").expect("parses");
        let err = c.validate().expect_err("too many");
        assert!(err.to_string().contains("runtime.session_threads"), "{err}");
        let c: Config = toml::from_str("[runtime]\nsession_threads = 0").expect("parses");
        c.validate().expect("0 is the main runtime");
        assert_eq!(c.runtime.session_threads(), 0);
        assert!(
            Config::default().runtime.session_threads() >= 1,
            "one per CPU"
        );
    }

    #[test]
    fn default_store_is_sqlite_in_data_dir() {
        let c = Config::default();
        assert_eq!(c.store_kind().expect("valid"), StoreKind::Sqlite);
        assert!(c.effective_store_url().ends_with("dbward.db"));
    }

    #[test]
    fn example_file_lists_the_defaults() {
        let text = include_str!("../../examples/dbward.toml");
        let example: Config = toml::from_str(text).expect("examples/dbward.toml parses");
        assert_eq!(format!("{example:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn forward_targets_parse_or_say_what_is_wrong() {
        let c: Config = toml::from_str(
            "[audit]\nforward = [\"stdout\", \"syslog+udp://127.0.0.1:514\", \"syslog+tcp://siem.example:601\"]",
        )
        .expect("valid targets");
        assert_eq!(
            c.audit.forward,
            [
                ForwardTarget::Stdout,
                ForwardTarget::SyslogUdp("127.0.0.1:514".into()),
                ForwardTarget::SyslogTcp("siem.example:601".into()),
            ]
        );
        assert_eq!(
            c.audit.forward[2].to_string(),
            "syslog+tcp://siem.example:601"
        );
        for bad in [
            "syslog://x:1",
            "syslog+tcp://x",
            "syslog+udp://:514",
            "syslog+tcp://x:99999",
        ] {
            let e = toml::from_str::<Config>(&format!("[audit]\nforward = [\"{bad}\"]"))
                .expect_err(bad)
                .to_string();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }
}
