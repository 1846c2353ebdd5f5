//! Test harness: start dbward, make HTTP calls, create private PostgreSQL databases.

use std::net::SocketAddr;
use std::path::PathBuf;

use dbward::app::Started;
use dbward_core::config::Config;
use dbward_core::crypto::Secret;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The admin password tests bootstrap with.
pub const ADMIN_PASSWORD: &str = "admin-test-password-4711";

/// URL of a PostgreSQL server where tests may create databases (superuser).
pub fn pg_admin_url() -> String {
    std::env::var("DBWARD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A uniquely named database on the test PostgreSQL server, dropped when this value drops.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    /// Creates a fresh database.
    pub async fn create() -> Self {
        let name = format!("dbward_test_{}", uuid::Uuid::new_v4().simple());
        let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test PostgreSQL (DBWARD_TEST_PG_URL)");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let base = pg_admin_url();
        let url = match base.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{name}"),
            None => panic!("DBWARD_TEST_PG_URL must end with /DBNAME"),
        };
        Self { name, url }
    }
}

impl PgDatabase {
    /// The server's port, from the URL.
    pub fn port(&self) -> u16 {
        let cfg: tokio_postgres::Config = self.url.parse().expect("url");
        cfg.get_ports().first().copied().unwrap_or(5432)
    }

    /// The superuser's password, from the URL, if any.
    pub fn password(&self) -> Option<String> {
        let cfg: tokio_postgres::Config = self.url.parse().expect("url");
        cfg.get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// The superuser name, from the URL.
    pub fn user(&self) -> String {
        let cfg: tokio_postgres::Config = self.url.parse().expect("url");
        cfg.get_user().unwrap_or("postgres").to_owned()
    }
}

impl Drop for PgDatabase {
    /// Drops the database even when the test panicked: on a thread of its own with its own
    /// runtime, because `Drop` cannot await.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A configuration for tests: temporary data directory, ephemeral ports, fast SCRAM.
pub fn test_config(data_dir: PathBuf) -> Config {
    let mut c = Config {
        data_dir,
        admin_password: Some(Secret::new(ADMIN_PASSWORD.into())),
        ..Config::default()
    };
    c.http.listen = "127.0.0.1:0".parse().expect("addr");
    c.pg.listen = "127.0.0.1:0".parse().expect("addr");
    c.mysql.listen = "127.0.0.1:0".parse().expect("addr");
    // 4096 is the RFC minimum; the default (100,000) would only slow tests down.
    c.auth.scram_iterations = 4096;
    c
}

/// A running dbward and an HTTP client for it.
pub struct Dbward {
    pub started: Option<Started>,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// Keeps the temporary data directory alive.
    pub dir: Option<tempfile::TempDir>,
}

impl Dbward {
    /// The certificate dbward generated in its data directory, for clients that verify it.
    pub fn tls_cert(&self) -> PathBuf {
        self.dir.as_ref().expect("data dir").path().join("tls.crt")
    }

    /// Points the registered database `db_id` at a loopback port nobody listens on (a dead
    /// upstream).
    pub async fn point_at_a_closed_port(&self, db_id: i64) {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        self.patch_database(db_id, serde_json::json!({"port": port}))
            .await;
    }

    /// `PATCH /api/databases/{db_id}` with `fields`, which must succeed.
    pub async fn patch_database(&self, db_id: i64, fields: Value) {
        let (s, body) = self
            .admin("PATCH", &format!("/api/databases/{db_id}"), Some(fields))
            .await;
        assert_eq!(s, 200, "{body}");
    }

    /// Waits (up to 10 s) until the trail holds `want` allowed executions of statements
    /// containing `q` (folded rows counted by their texts); returns how many it holds.
    pub async fn allowed_in_trail(&self, q: &str, want: usize) -> usize {
        let path = format!(
            "/api/audit?action=statement.allowed&q={}&limit=1000",
            q.replace(' ', "%20")
        );
        let mut found = 0;
        for _ in 0..200 {
            let (_, page) = self.admin("GET", &path, None).await;
            found = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| json_texts_of(r).len())
                .sum();
            if found == want {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        found
    }

    /// Starts dbward on a fresh SQLite store.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut d = Self::start_with(test_config(dir.path().to_owned())).await;
        d.dir = Some(dir);
        d
    }

    /// Starts dbward with `config`.
    pub async fn start_with(config: Config) -> Self {
        // DBWARD_TEST_LOG=debug shows dbward's log in a failing test's output.
        if let Ok(filter) = std::env::var("DBWARD_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let started = dbward::app::start(config, CancellationToken::new())
            .await
            .expect("dbward starts");
        Self {
            addr: started.http_addr,
            started: Some(started),
            http: reqwest::Client::new(),
            dir: None,
        }
    }

    /// Stops dbward.
    pub async fn stop(mut self) {
        if let Some(s) = self.started.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request as `user`/`password` (`None`: no credentials) and returns the status
    /// and JSON body (`Null` when empty). Every body is checked for leaked secrets.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert_no_secrets(&text);
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text}"))
        };
        (status, json)
    }

    /// The `details.reason` of every failed `action` (`pg.connect`, `mysql.connect`) in the
    /// trail, newest first.
    pub async fn failure_reasons(&self, action: &str) -> Vec<String> {
        let (_, page) = self
            .admin(
                "GET",
                &format!("/api/audit?action={action}&limit=100"),
                None,
            )
            .await;
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| r["outcome"] == "failure")
            .filter_map(|r| r["details"]["reason"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits (up to 5 s) until the trail holds `n` session-end rows (`pg.session_end`,
    /// `mysql.session_end`) and returns their `details.cause`, newest first.
    pub async fn end_causes(&self, action: &str, n: usize) -> Vec<String> {
        let mut causes = Vec::new();
        for _ in 0..100 {
            let (_, page) = self
                .admin(
                    "GET",
                    &format!("/api/audit?action={action}&limit=100"),
                    None,
                )
                .await;
            causes = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| r["details"]["cause"].as_str().unwrap_or("-").to_owned())
                .collect();
            if causes.len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        causes
    }

    /// `call` as the bootstrapped admin.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, Some(("admin", ADMIN_PASSWORD)), body)
            .await
    }
}

/// Reads until dbward closes the connection (within 10 s); returns what it sent and how long
/// that took.
pub async fn until_closed(s: &mut tokio::net::TcpStream) -> (Vec<u8>, std::time::Duration) {
    use tokio::io::AsyncReadExt as _;
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        s.read_to_end(&mut answer),
    )
    .await
    .expect("closed within 10 s")
    .expect("read");
    (answer, started.elapsed())
}

/// Passwords every test uses, which no response may ever contain.
pub const TEST_SECRETS: &[&str] = &[
    ADMIN_PASSWORD,
    "upstream-secret-Kx9!",
    "read-secret-Qz7!",
    "alice-password-123",
    "bob-password-456",
    "new-password-789",
];

/// Fails if `text` holds a test password or a verifier.
pub fn assert_no_secrets(text: &str) {
    for s in TEST_SECRETS {
        assert!(!text.contains(s), "a response leaked a password: {text}");
    }
    for prefix in ["$argon2", "SCRAM-SHA-256$"] {
        assert!(!text.contains(prefix), "a response leaked a hash: {text}");
    }
}

/// The real `dbward` binary running as a child process (for what only a process shows: its
/// memory, its signals).
pub struct DbwardProcess {
    pub child: tokio::process::Child,
    pub http: String,
    pub pg_port: u16,
    pub dir: tempfile::TempDir,
    /// The data directory: `dir` itself, or a tmpfs under it ([`DbwardProcess::spawn_on_tmpfs`]).
    pub data_dir: PathBuf,
    /// Standard output after the banner, when the test reads it ([`DbwardProcess::spawn_with_config`]).
    pub stdout: Option<tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>>,
}

impl DbwardProcess {
    /// Starts `dbward serve` on ephemeral ports with a fresh data directory.
    pub async fn spawn() -> Self {
        let mut p = Self::spawn_with_config("").await;
        let mut lines = p.stdout.take().expect("stdout");
        // Keep draining standard output: a closed pipe must not be what a test measures.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        p
    }

    /// Like [`DbwardProcess::spawn`] with `config` as its TOML file; the caller reads the rest
    /// of standard output.
    pub async fn spawn_with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().to_owned();
        let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbward"));
        Self::spawn_command(command, dir, &data_dir, config).await
    }

    /// Like [`DbwardProcess::spawn_with_config`], with its data directory (`dir/data`) on a
    /// tmpfs of `size_kib` that only dbward's own mount namespace sees (`unshare -m`): a disk
    /// that fills up without touching the machine's. The test reaches it through
    /// [`DbwardProcess::data_path`].
    pub async fn spawn_on_tmpfs(size_kib: u64, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir(&data_dir).expect("data dir");
        let mut command = tokio::process::Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o size={size_kib}k,mode=700 dbward-test \"$1\" && shift && exec \"$@\""
            ))
            .arg("sh")
            .arg(&data_dir)
            .arg(env!("CARGO_BIN_EXE_dbward"));
        Self::spawn_command(command, dir, &data_dir, config).await
    }

    /// `path` inside the data directory, as dbward sees it (through its mount namespace).
    pub fn data_path(&self, path: &str) -> PathBuf {
        let pid = self.child.id().expect("running");
        let data_dir = self.data_dir.strip_prefix("/").expect("absolute");
        PathBuf::from(format!("/proc/{pid}/root"))
            .join(data_dir)
            .join(path)
    }

    async fn spawn_command(
        mut command: tokio::process::Command,
        dir: tempfile::TempDir,
        data_dir: &std::path::Path,
        config: &str,
    ) -> Self {
        use tokio::io::AsyncBufReadExt as _;
        let config_file = dir.path().join("dbward.toml");
        std::fs::write(&config_file, config).expect("config file");
        let mut child = command
            .args([
                "serve",
                "--http-listen",
                "127.0.0.1:0",
                "--pg-listen",
                "127.0.0.1:0",
                "--mysql-listen",
                "127.0.0.1:0",
            ])
            .arg("--config")
            .arg(&config_file)
            .arg("--data-dir")
            .arg(data_dir)
            .env("DBWARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn dbward");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let (mut http, mut pg_port) = (None, None);
        while http.is_none() || pg_port.is_none() {
            let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
                .await
                .expect("banner in time")
                .expect("read")
                .expect("banner line");
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("admin API:") {
                http = Some(rest.trim().trim_end_matches("/api/").to_owned());
            } else if let Some(rest) = line.strip_prefix("PostgreSQL:") {
                let addr = rest.split_whitespace().next().expect("address");
                pg_port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            }
        }
        Self {
            child,
            http: http.expect("http"),
            pg_port: pg_port.expect("pg port"),
            data_dir: data_dir.to_owned(),
            dir,
            stdout: Some(lines),
        }
    }

    /// A value from `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`...).
    pub fn status_kib(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("field")
    }

    /// Resets the process's peak RSS (`VmHWM`) to its current RSS (Linux's `clear_refs` 5), so
    /// that a peak read later covers only what happened since: argon2id's working buffers from
    /// the set-up's logins, freed before a baseline is read, would otherwise count as growth.
    pub fn reset_peak_rss(&self) {
        let pid = self.child.id().expect("running");
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
    }

    /// Registers `upstream` as the database `name` and alice (password `alice-password-123`)
    /// with an `access_level` grant on it; returns alice's plaintext conninfo to dbward.
    pub async fn grant_alice(
        &self,
        upstream: &PgDatabase,
        name: &str,
        access_level: &str,
    ) -> String {
        let db = self
            .admin("POST", "/api/databases", serde_json::json!({
                "name": name, "engine": "postgres", "host": "127.0.0.1", "port": upstream.port(),
                "database": upstream.name, "username": upstream.user(),
                "password": upstream.password(), "tls_mode": "disable",
            }))
            .await;
        let user = self
            .admin(
                "POST",
                "/api/users",
                serde_json::json!({"username": "alice", "password": "alice-password-123"}),
            )
            .await;
        self.admin(
            "POST",
            "/api/grants",
            serde_json::json!({
                "user_id": user["id"], "database_id": db["id"], "access_level": access_level,
                "expires_at": "2099-01-01T00:00:00Z",
            }),
        )
        .await;
        format!(
            "host=127.0.0.1 port={} dbname={name} user=alice password=alice-password-123 sslmode=disable",
            self.pg_port
        )
    }

    /// An admin API call that must succeed; its JSON body.
    pub async fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, json) = self.admin_call(method, path, body).await;
        assert!((200..300).contains(&status), "{path}: {status} {json}");
        json
    }

    /// An admin API call: its status and JSON body (`Null` when empty).
    pub async fn admin_call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.http))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert_no_secrets(&text);
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json)
    }
}

/// Runs one of the client programs in `tests/clients/` (a `.py` script, a `.php` one, a `.rb`
/// one, a `.js` one under `node/` with that directory's `node_modules`, a `.c` program built
/// against libpq or libmariadb, a `.go` program built against Debian's Go packages, or a `.java`
/// program compiled on the fly against `classpath`) with `args`; asserts it succeeded and
/// returns its standard output, trimmed.
pub async fn run_client(file: &str, classpath: &str, args: &[String]) -> String {
    let source = format!("{}/tests/clients/{file}", env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = dir.path().join("client");
    let extension = std::path::Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    let mut cmd = match extension {
        "java" => {
            let mut javac = tokio::process::Command::new("javac");
            javac.arg("-d").arg(dir.path()).arg(&source);
            build(javac).await;
            let mut java = tokio::process::Command::new("java");
            java.arg("-cp")
                .arg(format!("{}:{classpath}", dir.path().display()))
                .arg(file.trim_end_matches(".java"));
            java
        }
        "c" => {
            // Built against libpq (`libpq_*.c`) or libmariadb, the C libraries under psql and
            // the mysql client and the many drivers that wrap them.
            let library = if file.starts_with("libpq") {
                "libpq"
            } else {
                "libmariadb"
            };
            let flags = std::process::Command::new("pkg-config")
                .args(["--cflags", "--libs", library])
                .output()
                .expect("pkg-config");
            let mut cc = tokio::process::Command::new("cc");
            cc.arg("-o")
                .arg(&binary)
                .arg(&source)
                .args(String::from_utf8_lossy(&flags.stdout).split_whitespace());
            build(cc).await;
            tokio::process::Command::new(&binary)
        }
        "go" => {
            // GOPATH mode over Debian's packaged sources (`/usr/share/gocode`): nothing to
            // download.
            let mut go = tokio::process::Command::new("go");
            go.args(["build", "-o"])
                .arg(&binary)
                .arg(&source)
                .env("GO111MODULE", "off")
                .env("GOPATH", "/usr/share/gocode")
                .env("GOFLAGS", "");
            build(go).await;
            tokio::process::Command::new(&binary)
        }
        "php" => {
            let mut php = tokio::process::Command::new("php");
            php.args(["-d", "mysqli.allow_local_infile=1"]).arg(&source);
            php
        }
        interpreted => {
            let program = match interpreted {
                "js" => "node",
                "rb" => "ruby",
                _ => "python3",
            };
            let mut cmd = tokio::process::Command::new(program);
            cmd.arg(&source);
            cmd
        }
    };
    let out = cmd
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("client program");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "{file}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs unixODBC's `isql` in batch mode on an ODBC data source `[dbward]` whose settings are
/// `settings` (`Driver = …`, the server, the login), with `statements` one per line: the
/// rows it printed (comma-separated) and its errors.
pub async fn odbc_isql(settings: &str, statements: &[&str]) -> (Vec<String>, String) {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let ini = dir.path().join("odbc.ini");
    std::fs::write(&ini, format!("[dbward]\n{settings}\n")).expect("odbc.ini");
    let mut child = tokio::process::Command::new("isql")
        .args(["-v", "-b", "-d,", "dbward"])
        .env("ODBCINI", &ini)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("isql");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{}\n", statements.join("\n")).as_bytes())
        .await
        .expect("write");
    drop(stdin);
    let out = child.wait_with_output().await.expect("isql output");
    // isql prints a driver's diagnostics among the rows, each line starting with `[`.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (errors, rows): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|l| l.starts_with('[') || l.starts_with("Error "));
    (
        rows.into_iter().map(str::to_owned).collect(),
        format!(
            "{}{}",
            errors.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The ODBC tests' session, under a `read` grant on a table `t` holding `(1, 'one')` and
/// `(2, 'two')`: a count, a `DELETE` (denied: the driver's diagnostics contain `denial`) and a
/// lookup after it, through [`odbc_isql`].
pub async fn odbc_read_session(settings: &str, denial: &str) {
    let (rows, errors) = odbc_isql(
        settings,
        &[
            "SELECT count(*) FROM t",
            "DELETE FROM t",
            "SELECT name FROM t WHERE id = 2",
        ],
    )
    .await;
    assert_eq!(rows, ["2", "two"], "{errors}");
    assert!(errors.contains(denial), "{errors}");
}

/// Runs a compiler for [`run_client`]; asserts it succeeded.
async fn build(mut compiler: tokio::process::Command) {
    let out = compiler.output().await.expect("compiler");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The texts a statement row of the trail stands for: its own, then those of the other
/// executions folded into it (`details.more_statements`), in order.
pub fn texts_of(r: &dbward_core::store::AuditRecord) -> Vec<String> {
    json_texts_of(&serde_json::json!({"statement": r.statement, "details": r.details}))
}

/// [`texts_of`] for a row as the admin API returns it.
pub fn json_texts_of(r: &serde_json::Value) -> Vec<String> {
    let more = r["details"]["more_statements"]
        .as_array()
        .into_iter()
        .flatten();
    r["statement"]
        .as_str()
        .into_iter()
        .chain(more.map(|t| t.as_str().expect("a text")))
        .map(str::to_owned)
        .collect()
}
