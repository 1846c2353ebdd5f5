//! A MySQL proxy fixture: dbward running, a fresh database and account on the local MariaDB
//! registered in it, a user with a password and a grant.

use serde_json::json;

use crate::harness::Dbward;

/// A private database and account on a test MariaDB server (the shared one on port 3306, or a
/// private one), dropped at the end.
pub struct MyDatabase {
    pub name: String,
    pub user: String,
    pub password: String,
    pub port: u16,
}

fn root_mysql(port: u16, sql: &str, database: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new("mysql");
    cmd.args([
        "-h",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "-u",
        "root",
        "-N",
        "-B",
        "-e",
        sql,
    ]);
    if let Some(db) = database {
        cmd.arg(db);
    }
    cmd.output().expect("run mysql")
}

impl MyDatabase {
    /// Creates the database and an account with all privileges on it, on the shared server.
    pub fn create() -> Self {
        Self::create_on(3306)
    }

    /// [`MyDatabase::create`] on the server at `port`.
    pub fn create_on(port: u16) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("dbw_{}", &id[..12]);
        let user = format!("u_{}", &id[..12]);
        let password = format!("pw-{}", &id[12..24]);
        let out = root_mysql(
            port,
            &format!(
                "CREATE DATABASE {name}; CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
                 GRANT ALL ON {name}.* TO '{user}'@'%';"
            ),
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            name,
            user,
            password,
            port,
        }
    }

    /// Runs SQL as root in the database; returns standard output (tab-separated, no headers).
    pub fn sql(&self, sql: &str) -> String {
        let out = root_mysql(self.port, sql, Some(&self.name));
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for MyDatabase {
    fn drop(&mut self) {
        let _ = root_mysql(
            self.port,
            &format!(
                "DROP DATABASE IF EXISTS {}; DROP USER IF EXISTS '{}'@'%';",
                self.name, self.user
            ),
            None,
        );
    }
}

/// dbward + an upstream MariaDB database + user `alice` holding a grant on it.
pub struct MyProxy {
    pub dbward: Dbward,
    pub upstream: MyDatabase,
    pub db_id: i64,
    pub user_id: i64,
    pub password: String,
}

impl MyProxy {
    /// Starts everything; alice holds a grant at `level` (plus `grant_fields`).
    pub async fn start(level: &str, grant_fields: serde_json::Value) -> Self {
        Self::start_with(level, grant_fields, |_| {}).await
    }

    /// Like [`MyProxy::start`], with the configuration adjusted by `adjust`.
    pub async fn start_with(
        level: &str,
        grant_fields: serde_json::Value,
        adjust: impl FnOnce(&mut dbward_core::config::Config),
    ) -> Self {
        Self::start_on(MyDatabase::create(), level, grant_fields, adjust).await
    }

    /// Like [`MyProxy::start_with`], on `upstream` (a database on a private server).
    pub async fn start_on(
        upstream: MyDatabase,
        level: &str,
        grant_fields: serde_json::Value,
        adjust: impl FnOnce(&mut dbward_core::config::Config),
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = crate::harness::test_config(dir.path().to_owned());
        adjust(&mut config);
        let mut dbward = Dbward::start_with(config).await;
        dbward.dir = Some(dir);
        let (s, db) = dbward
            .admin(
                "POST",
                "/api/databases",
                Some(json!({
                    "name": "shop", "engine": "mysql", "host": "127.0.0.1", "port": upstream.port,
                    "database": upstream.name, "username": upstream.user,
                    "password": upstream.password, "tls_mode": "disable",
                })),
            )
            .await;
        assert_eq!(s, 201, "{db}");
        let (s, user) = dbward
            .admin(
                "POST",
                "/api/users",
                Some(json!({"username": "alice", "password": "alice-password-123"})),
            )
            .await;
        assert_eq!(s, 201, "{user}");
        let fx = Self {
            db_id: db["id"].as_i64().expect("id"),
            user_id: user["id"].as_i64().expect("id"),
            dbward,
            upstream,
            password: "alice-password-123".into(),
        };
        let mut body = json!({
            "user_id": fx.user_id, "database_id": fx.db_id, "access_level": level,
            "expires_at": "2099-01-01T00:00:00Z",
        });
        for (k, v) in grant_fields.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (s, g) = fx.dbward.admin("POST", "/api/grants", Some(body)).await;
        assert_eq!(s, 201, "{g}");
        fx
    }

    /// Registers the upstream schema a second time, under its own name, and grants the
    /// fixture's user `level` on it; returns the name. Tools that qualify names with the
    /// database they were given need that (see the README's MySQL section).
    pub async fn register_under_schema_name(&self, level: &str) -> String {
        let name = self.upstream.name.clone();
        let (s, db) = self
            .dbward
            .admin(
                "POST",
                "/api/databases",
                Some(json!({
                    "name": name, "engine": "mysql", "host": "127.0.0.1", "port": self.upstream.port,
                    "database": name, "username": self.upstream.user,
                    "password": self.upstream.password, "tls_mode": "disable",
                })),
            )
            .await;
        assert_eq!(s, 201, "{db}");
        let grant = json!({"user_id": self.user_id, "database_id": db["id"],
            "access_level": level, "expires_at": "2099-01-01T00:00:00Z"});
        let (s, g) = self.dbward.admin("POST", "/api/grants", Some(grant)).await;
        assert_eq!(s, 201, "{g}");
        name
    }

    /// The arguments the ORM and migration tool clients in `tests/clients` take: engine, port,
    /// password, database.
    pub fn engine_args(&self) -> Vec<String> {
        vec![
            "mysql".into(),
            self.port().to_string(),
            self.password.clone(),
            "shop".into(),
        ]
    }

    /// Runs a client program of `tests/clients` through dbward (see
    /// [`crate::harness::run_client`]) with the arguments most take: dbward's MySQL port and
    /// alice's password, then `more`; returns its standard output.
    pub async fn run_client(&self, program: &str, more: &[&str]) -> String {
        let mut args = vec![self.port().to_string(), self.password.clone()];
        args.extend(more.iter().map(|a| (*a).to_owned()));
        crate::harness::run_client(program, "", &args).await
    }

    /// The certificate dbward generated in its data directory, for clients that verify it.
    pub fn tls_cert(&self) -> std::path::PathBuf {
        self.dbward.tls_cert()
    }

    /// The dbward MySQL port.
    pub fn port(&self) -> u16 {
        self.dbward
            .started
            .as_ref()
            .expect("started")
            .mysql_addr
            .port()
    }

    /// `program` (`mysql`, `mysqlshow`, `mysqldump`…) connecting as alice through dbward, TLS
    /// on; the caller adds its arguments.
    pub fn client_tool(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args([
            "-h",
            "127.0.0.1",
            "-P",
            &self.port().to_string(),
            "-u",
            "alice",
        ])
        .arg(format!("-p{}", self.password))
        .arg("--ssl");
        cmd
    }

    /// Runs a client command with `input` on its standard input; its output.
    pub async fn feed(
        mut cmd: tokio::process::Command,
        input: impl AsRef<[u8]>,
    ) -> std::process::Output {
        use tokio::io::AsyncWriteExt as _;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run the client");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.as_ref())
            .await
            .expect("feed the input");
        drop(stdin);
        child.wait_with_output().await.expect("client output")
    }

    /// The `mysql` client as alice through dbward (TLS on, batch output) with `args`.
    pub fn mysql_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = self.client_tool("mysql");
        cmd.args(["-N", "-B"]).args(args).arg("shop");
        cmd
    }

    /// Runs the `mysql` client through dbward (TLS on) with `args`; (success, stdout, stderr).
    pub async fn mysql(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.mysql_command(args).output().await.expect("run mysql");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `mysql_async` options for alice through dbward, without TLS (callers add it).
    pub fn mysql_async_opts(&self) -> mysql_async::OptsBuilder {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port())
            .user(Some("alice"))
            .pass(Some(self.password.clone()))
            .db_name(Some("shop"))
    }

    /// A sqlx MySQL connection through dbward (TLS, certificate not verified).
    pub async fn sqlx(&self) -> sqlx::MySqlConnection {
        use sqlx::Connection as _;
        let url = format!(
            "mysql://alice:{}@127.0.0.1:{}/shop?ssl-mode=required",
            self.password,
            self.port()
        );
        sqlx::MySqlConnection::connect(&url)
            .await
            .expect("sqlx connect through dbward")
    }
}
