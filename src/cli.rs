//! The command line: `dbward serve` with its flags, each also readable from a `DBWARD_*`
//! environment variable. Precedence: defaults < `--config` TOML file < environment < flags
//! (clap resolves the last two; a flag wins over its variable). This is the one module that
//! prints to standard output: the start-up banner and a generated admin password.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;

use std::io::Write as _;

use clap::{Args, Parser, Subcommand};
use dbward_core::config::Config;
use dbward_core::crypto::Secret;

/// dbward: temporary, least-privilege, quota-limited and audited access to PostgreSQL and
/// MySQL databases through the clients people already use.
#[derive(Debug, Parser)]
#[command(name = "dbward", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxies and the admin API in one process.
    Serve(ServeArgs),
    /// Read the audit trail from the store (with the same settings as `serve`).
    #[command(subcommand)]
    Audit(AuditAction),
    /// Show how dbward classifies SQL, without connecting anywhere: the class a grant needs
    /// (read < write < ddl < admin), or why the text is refused. Each argument is one string
    /// as a client would send it in one query (it may hold several statements); with none,
    /// standard input is read as one string.
    Classify(ClassifyArgs),
}

/// `dbward classify ...`
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Lexing and grammar of the upstream: postgres, redshift or mysql (MariaDB too).
    #[arg(long, default_value = "postgres", value_parser = parse_dialect)]
    pub dialect: dbward_core::policy::SqlDialect,
    /// MySQL: the session's `sql_mode`, for its quoting (`ANSI_QUOTES`, `NO_BACKSLASH_ESCAPES`).
    #[arg(long, value_parser = parse_sql_mode)]
    pub sql_mode: Option<dbward_core::policy::MysqlQuoting>,
    /// SQL strings; none: read standard input.
    pub sql: Vec<String>,
}

fn parse_dialect(name: &str) -> Result<dbward_core::policy::SqlDialect, String> {
    use dbward_core::policy::SqlDialect;
    match name.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "pg" => Ok(SqlDialect::Postgres),
        "redshift" => Ok(SqlDialect::Redshift),
        "mysql" | "mariadb" => Ok(SqlDialect::Mysql),
        other => Err(format!("{other}: expected postgres, redshift or mysql")),
    }
}

fn parse_sql_mode(modes: &str) -> Result<dbward_core::policy::MysqlQuoting, String> {
    dbward_core::policy::MysqlQuoting::from_sql_mode(modes)
        .map_err(|m| format!("{m} is not a mode dbward follows"))
}

/// Runs `dbward classify`: one line per string, `CLASS<TAB>STATEMENTS<TAB>REASON`, with
/// `refused` as the class of what no grant may run; exits with status 1 if any was refused.
fn classify(args: ClassifyArgs) -> anyhow::Result<std::process::ExitCode> {
    let texts = if args.sql.is_empty() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)?;
        vec![text]
    } else {
        args.sql
    };
    if args.sql_mode.is_some() && args.dialect != dbward_core::policy::SqlDialect::Mysql {
        anyhow::bail!("--sql-mode is MySQL's: give --dialect mysql too");
    }
    let mut out = std::io::stdout().lock();
    let mut refused = false;
    for text in &texts {
        let c = match args.sql_mode {
            Some(quoting) => dbward_core::policy::classify_uncached_in(text, quoting),
            None => dbward_core::policy::classify_uncached(text, args.dialect),
        };
        let class = c.class.map_or("refused", |c| c.as_str());
        refused |= c.class.is_none();
        let checked = if c.check_session {
            " (the session's character set and sql_mode are checked after it runs)"
        } else {
            ""
        };
        // One line per string: a parser's message may quote text with line breaks in it.
        let reason = c.reason.replace(['\n', '\r', '\t'], " ");
        writeln!(out, "{class}\t{}\t{reason}{checked}", c.statements)?;
    }
    out.flush()?;
    Ok(if refused {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// `dbward audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Verify every instance's HMAC chain; prints the report as JSON and exits with status 1
    /// if a link is broken.
    Verify {
        /// Where the store and key are (the same settings as `serve`).
        #[command(flatten)]
        settings: ServeArgs,
    },
    /// Write the trail as JSON Lines to standard output, oldest first.
    Export {
        /// Where the store and key are (the same settings as `serve`).
        #[command(flatten)]
        settings: ServeArgs,
        /// Only rows newer than this id.
        #[arg(long)]
        after: Option<i64>,
        /// At or after this time (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Event family: admin, connection, statement, system.
        #[arg(long)]
        kind: Option<String>,
        /// Acting user's name.
        #[arg(long)]
        user: Option<String>,
        /// dbward database name.
        #[arg(long)]
        database: Option<String>,
    },
}

/// `dbward serve` settings. Each overrides the same key of the config file.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML configuration file (see examples/dbward.toml).
    #[arg(long, env = "DBWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite store, generated key and certificate).
    #[arg(long, env = "DBWARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Store URL: `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DBWARD_STORE_URL", hide_env_values = true)]
    pub store_url: Option<String>,
    /// Admin API listen address (port 0: any free port).
    #[arg(long, env = "DBWARD_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Serve the admin API over HTTPS.
    #[arg(long, env = "DBWARD_HTTP_TLS")]
    pub http_tls: Option<bool>,
    /// PostgreSQL proxy listen address.
    #[arg(long, env = "DBWARD_PG_LISTEN")]
    pub pg_listen: Option<SocketAddr>,
    /// MySQL proxy listen address.
    #[arg(long, env = "DBWARD_MYSQL_LISTEN")]
    pub mysql_listen: Option<SocketAddr>,
    /// Password for the `admin` user created on an empty store (prefer the variable).
    #[arg(long, env = "DBWARD_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Master key, base64 of 32 bytes (prefer the variable).
    #[arg(long, env = "DBWARD_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// PEM certificate chain for TLS.
    #[arg(long, env = "DBWARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, env = "DBWARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

impl ServeArgs {
    /// The configuration in effect: file over defaults, then these values over the file.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(v) = self.data_dir {
            config.data_dir = v;
        }
        if let Some(v) = self.store_url {
            config.store_url = Some(v);
        }
        if let Some(v) = self.http_listen {
            config.http.listen = v;
        }
        if let Some(v) = self.http_tls {
            config.http.tls = v;
        }
        if let Some(v) = self.pg_listen {
            config.pg.listen = v;
        }
        if let Some(v) = self.mysql_listen {
            config.mysql.listen = v;
        }
        if let Some(v) = self.admin_password {
            config.admin_password = Some(Secret::new(v));
        }
        if let Some(v) = self.secret_key {
            config.secret_key = Some(Secret::new(v));
        }
        if self.tls_cert.is_some() || self.tls_key.is_some() {
            config.tls_cert = self.tls_cert;
            config.tls_key = self.tls_key;
        }
        config.validate()?;
        Ok(config)
    }
}

/// Runs `dbward audit ...`; returns the process's exit status.
async fn audit(action: AuditAction) -> anyhow::Result<std::process::ExitCode> {
    let settings = match &action {
        AuditAction::Verify { settings } | AuditAction::Export { settings, .. } => settings.clone(),
    };
    let config = settings.into_config()?;
    let (store, key) = crate::app::open_store(&config).await?;
    let mut out = std::io::stdout().lock();
    let status = match action {
        AuditAction::Verify { .. } => {
            let head = dbward_core::audit::chain::HeadFile::in_dir(&config.data_dir).read()?;
            let report = store
                .verify_audit(
                    &dbward_core::audit::chain::ChainKey::new(&key),
                    head.as_ref(),
                )
                .await?;
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
            if report.ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        AuditAction::Export {
            settings: _,
            after,
            from,
            to,
            kind,
            user,
            database,
        } => {
            let time = |t: Option<String>| {
                t.map(|t| {
                    dbward_core::time::parse_rfc3339(&t)
                        .map(dbward_core::time::to_micros)
                        .map_err(|_| anyhow::anyhow!("{t}: not an RFC 3339 time with an offset"))
                })
                .transpose()
            };
            let filter = dbward_core::store::AuditFilter {
                from: time(from)?,
                to: time(to)?,
                kind,
                user,
                database,
                ..Default::default()
            };
            let mut cursor = after.unwrap_or(0);
            loop {
                let rows = store.audit_after(&filter, 1000, cursor).await?;
                let Some(last) = rows.last() else { break };
                cursor = last.id;
                for r in &rows {
                    serde_json::to_writer(&mut out, r)?;
                    writeln!(out)?;
                }
            }
            std::process::ExitCode::SUCCESS
        }
    };
    out.flush()?;
    store.close().await;
    Ok(status)
}

/// Runs a parsed command line to completion; returns the process's exit status.
pub async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Audit(action) => audit(action).await,
        Command::Classify(args) => classify(args),
        Command::Serve(args) => {
            let config = args.into_config()?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            let signals = crate::app::ShutdownSignals::catch();
            let started = crate::app::start(config, shutdown.clone()).await?;
            // The banner must not kill dbward when nobody reads standard output any more
            // (println! panics on a closed pipe): write errors are ignored.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "dbward {} is running", env!("CARGO_PKG_VERSION"));
            let scheme = if started.https { "https" } else { "http" };
            let _ = writeln!(out, "  admin API:  {scheme}://{}/api/", started.http_addr);
            let _ = writeln!(
                out,
                "  PostgreSQL: {} (psql \"host={} port={} dbname=DATABASE user=USER\")",
                started.pg_addr,
                started.pg_addr.ip(),
                started.pg_addr.port()
            );
            let _ = writeln!(
                out,
                "  MySQL:      {} (mysql --ssl -h {} -P {} -u USER -p DATABASE)",
                started.mysql_addr,
                started.mysql_addr.ip(),
                started.mysql_addr.port()
            );
            let _ = writeln!(out, "  store:      {}", started.store_description);
            let _ = writeln!(
                out,
                "  TLS certificate: {}",
                started.tls_cert_path.display()
            );
            if let Some(pw) = &started.generated_admin_password {
                let _ = writeln!(out);
                let _ = writeln!(
                    out,
                    "  First start: created user `admin` with password: {}",
                    pw.expose()
                );
                let _ = writeln!(
                    out,
                    "  It is shown only this once. Change it: PUT /api/me/password"
                );
            }
            drop(out);
            signals.wait(&shutdown).await;
            started.finish().await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
