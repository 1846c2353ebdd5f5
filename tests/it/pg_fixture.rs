//! A PostgreSQL proxy fixture: dbward running, a fresh upstream database on the test server
//! registered in it, a user with a password and a grant.

use serde_json::json;

use crate::harness::{Dbward, PgDatabase};

/// dbward + an upstream database + a user holding a grant on it.
pub struct PgProxy {
    pub dbward: Dbward,
    pub upstream: PgDatabase,
    pub db_name: String,
    pub db_id: i64,
    pub user: String,
    pub user_id: i64,
    pub password: String,
}

impl PgProxy {
    /// Starts everything; the user holds a grant at `level` active now.
    pub async fn start(level: &str) -> Self {
        Self::start_with(level, |_| {}).await
    }

    /// Like [`PgProxy::start`], with the configuration adjusted by `adjust`.
    pub async fn start_with(
        level: &str,
        adjust: impl FnOnce(&mut dbward_core::config::Config),
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = crate::harness::test_config(dir.path().to_owned());
        adjust(&mut config);
        let mut dbward = Dbward::start_with(config).await;
        dbward.dir = Some(dir);
        let upstream = PgDatabase::create().await;
        let fx = Self::register(dbward, upstream).await;
        fx.grant(level, "-1h", "+8h").await;
        fx
    }

    /// Registers `upstream` as `orders` and creates user `alice`, without a grant.
    pub async fn register(dbward: Dbward, upstream: PgDatabase) -> Self {
        let (s, db) = dbward
            .admin(
                "POST",
                "/api/databases",
                Some(json!({
                    "name": "orders", "engine": "postgres", "host": "127.0.0.1",
                    "port": upstream.port(), "database": upstream.name,
                    "username": upstream.user(), "password": upstream.password(),
                    "tls_mode": "disable",
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
        Self {
            db_id: db["id"].as_i64().expect("id"),
            user_id: user["id"].as_i64().expect("id"),
            dbward,
            upstream,
            db_name: "orders".into(),
            user: "alice".into(),
            password: "alice-password-123".into(),
        }
    }

    /// Grants `level` from `start` to `end`, given as offsets from now like `-1h`, `+8h`.
    pub async fn grant(&self, level: &str, start: &str, end: &str) -> i64 {
        let at = |offset: &str| {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let hours: i64 = offset[1..offset.len() - 1].parse().expect("hours");
            let t = time::OffsetDateTime::now_utc() + time::Duration::hours(sign * hours);
            dbward_core::time::format_rfc3339(t)
        };
        let (s, g) = self
            .post_grant(
                json!({"access_level": level, "starts_at": at(start), "expires_at": at(end)}),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        g["id"].as_i64().expect("id")
    }

    /// `POST /api/grants` for the fixture's user and database: `fields` over a `read` grant
    /// expiring in 2099. Returns the status and body.
    pub async fn post_grant(&self, fields: serde_json::Value) -> (u16, serde_json::Value) {
        let mut body = json!({
            "user_id": self.user_id, "database_id": self.db_id, "access_level": "read",
            "expires_at": "2099-01-01T00:00:00Z",
        });
        for (k, v) in fields.as_object().expect("object") {
            body[k] = v.clone();
        }
        self.dbward.admin("POST", "/api/grants", Some(body)).await
    }

    /// The dbward PostgreSQL port.
    pub fn port(&self) -> u16 {
        self.dbward
            .started
            .as_ref()
            .expect("started")
            .pg_addr
            .port()
    }

    /// A libpq connection string to dbward for the fixture's user.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} dbname={} user={} password={} sslmode=disable",
            self.port(),
            self.db_name,
            self.user,
            self.password
        )
    }

    /// The arguments the ORM and migration tool clients in `tests/clients` take: engine, port,
    /// password, database.
    pub fn engine_args(&self) -> Vec<String> {
        vec![
            "postgres".into(),
            self.port().to_string(),
            self.password.clone(),
            self.db_name.clone(),
        ]
    }

    /// Connects with tokio-postgres through dbward.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, conn) =
            tokio_postgres::connect(&self.conninfo(), tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Connects straight to the upstream database as its superuser (for checks).
    pub async fn direct(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.upstream.url, tokio_postgres::NoTls)
            .await
            .expect("direct connection");
        tokio::spawn(conn);
        client
    }

    /// Runs SQL straight on the upstream database (setup).
    pub async fn upstream_sql(&self, sql: &str) {
        self.direct()
            .await
            .batch_execute(sql)
            .await
            .expect("upstream SQL");
    }

    /// Rows of `table`, counted straight on the upstream database.
    pub async fn upstream_count(&self, table: &str) -> i64 {
        self.direct()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .expect("count")
            .get(0)
    }

    /// Runs `psql` through dbward with `args`; returns (success, stdout, stderr).
    pub async fn psql(&self, args: &[&str]) -> (bool, String, String) {
        self.psql_env(&[], args).await
    }

    /// [`PgProxy::psql`] with more environment variables (`PGOPTIONS`...).
    pub async fn psql_env(&self, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
        let out = tokio::process::Command::new("psql")
            .arg(self.conninfo())
            .args(["-X", "-v", "ON_ERROR_STOP=1"])
            .args(args)
            .env("PGAPPNAME", "psql")
            .envs(env.iter().copied())
            .output()
            .await
            .expect("run psql");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
