//! Server settings asked for at startup (`options`'s `-c name=value`, and StartupMessage
//! parameters as asyncpg's `server_settings` sends them) through real psql, tokio-postgres and
//! asyncpg: applied upstream when the session may make them, refused with the classifier's
//! reason when it may not, and audited with the connection.

use std::time::Duration;

use crate::pg_fixture::PgProxy;

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

/// A tokio-postgres connection through dbward with `options`.
async fn connect_with_options(
    fx: &PgProxy,
    options: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = fx.conninfo().parse().expect("conninfo");
    config.options(options);
    let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

async fn show(client: &tokio_postgres::Client, name: &str) -> String {
    client
        .query_one(&format!("SHOW {name}"), &[])
        .await
        .expect("show")
        .get(0)
}

/// The `pg.connect` audit rows, once `n` are there (the trail is written in the background).
async fn connect_rows(fx: &PgProxy, n: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=200", None).await;
        let rows: Vec<serde_json::Value> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| r["action"] == "pg.connect")
            .cloned()
            .collect();
        if rows.len() >= n || std::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn startup_settings_are_held_to_the_grant() {
    let dbward = crate::harness::Dbward::start().await;
    let upstream = crate::harness::PgDatabase::create().await;
    let fx = PgProxy::register(dbward, upstream).await;
    let (s, g) = fx
        .post_grant(serde_json::json!({"access_level": "read", "statement_timeout_ms": 10_000}))
        .await;
    assert_eq!(s, 201, "{g}");
    fx.upstream_sql(
        "CREATE SCHEMA app; CREATE TABLE app.items (id int); INSERT INTO app.items VALUES (7)",
    )
    .await;

    // psql with PGOPTIONS, as a DBA sets a schema and a shorter timeout for a session.
    let (ok, stdout, stderr) = fx
        .psql_env(
            &[(
                "PGOPTIONS",
                "-c search_path=app,public -c statement_timeout=2s --lock-timeout=1500",
            )],
            &[
                "-At",
                "-c",
                "SELECT id FROM items; SHOW search_path; SHOW statement_timeout; SHOW lock_timeout",
            ],
        )
        .await;
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["7", "app,public", "2s", "1500ms"]
    );

    // The checked values are the session's start-up values: RESET returns to them, not past
    // the grant's ceiling.
    let client = connect_with_options(&fx, "-c statement_timeout=3s")
        .await
        .expect("connect");
    client
        .batch_execute("SET statement_timeout = '5s'; RESET statement_timeout")
        .await
        .expect("reset");
    assert_eq!(show(&client, "statement_timeout").await, "3s");
    client.batch_execute("RESET ALL").await.expect("reset all");
    assert_eq!(show(&client, "statement_timeout").await, "3s");
    assert_eq!(show(&client, "default_transaction_read_only").await, "on");
    drop(client);

    // What a `read` session with a 10 s ceiling may not set: refused with the reason, before
    // any session exists.
    for (options, code, says) in [
        (
            "-c default_transaction_read_only=off",
            "42501",
            "switches off read-only mode",
        ),
        ("-c statement_timeout=0", "42501", "statement_timeout"),
        ("-c statement_timeout=1min", "42501", "statement_timeout"),
        ("-c session_replication_role=replica", "42501", "admin"),
        ("-c app.tenant=42", "42501", "admin"),
        ("-c user=postgres", "08P01", "not a server setting"),
        ("-d 5", "08P01", "not supported"),
        ("-c client_encoding=LATIN1", "08P01", "UTF8"),
        (
            "-c standard_conforming_strings=off",
            "08P01",
            "standard_conforming_strings",
        ),
    ] {
        let err = connect_with_options(&fx, options)
            .await
            .err()
            .unwrap_or_else(|| panic!("{options} accepted"));
        assert_eq!(sqlstate(&err), code, "{options}: {err}");
        let message = err.as_db_error().map(|e| e.message().to_owned());
        assert!(
            message.as_deref().is_some_and(|m| m.contains(says)),
            "{options}: {message:?}"
        );
    }
    // The user's session is unaffected.
    let client = fx.connect().await.expect("connect");
    assert_eq!(show(&client, "statement_timeout").await, "10s");
    drop(client);

    // asyncpg's server_settings arrive as StartupMessage parameters: the same checks.
    let dsn = format!(
        "postgresql://{}:{}@127.0.0.1:{}/{}",
        fx.user,
        fx.password,
        fx.port(),
        fx.db_name
    );
    let asyncpg = |settings: serde_json::Value| {
        let dsn = dsn.clone();
        async move {
            crate::harness::run_client(
                "asyncpg_settings.py",
                "",
                &[
                    dsn,
                    settings.to_string(),
                    "search_path".into(),
                    "jit".into(),
                ],
            )
            .await
        }
    };
    assert_eq!(
        asyncpg(serde_json::json!({"search_path": "app", "jit": "off"})).await,
        "ok search_path=app jit=off"
    );
    let refused = asyncpg(serde_json::json!({"session_replication_role": "replica"})).await;
    assert!(
        refused.starts_with("refused 42501") && refused.contains("session_replication_role"),
        "{refused}"
    );

    // Audited: the settings a session started with, and the refusals with their reason.
    let rows = connect_rows(&fx, 10).await;
    let with_settings = rows
        .iter()
        .find(|r| {
            r["outcome"] == "success"
                && r["details"]["settings"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|v| v == "search_path=app,public"))
        })
        .unwrap_or_else(|| panic!("no session with its settings in {rows:#?}"));
    assert_eq!(
        with_settings["details"]["settings"],
        serde_json::json!([
            "search_path=app,public",
            "statement_timeout=2s",
            "lock_timeout=1500"
        ])
    );
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| r["details"]["reason"] == "setting_refused")
        .collect();
    assert_eq!(refused.len(), 6, "{rows:#?}");
    fx.dbward.stop().await;
}

/// An `admin` grant may start its session with any setting the server accepts, as it may `SET`
/// it; a `write` grant may switch off read-only mode but not an `admin` setting.
#[tokio::test]
async fn admin_settings_need_an_admin_grant() {
    let fx = PgProxy::start("write").await;
    let client = connect_with_options(&fx, "-c default_transaction_read_only=off")
        .await
        .expect("write may");
    assert_eq!(show(&client, "default_transaction_read_only").await, "off");
    drop(client);
    let err = connect_with_options(&fx, "-c session_replication_role=replica")
        .await
        .expect_err("write may not");
    assert_eq!(sqlstate(&err), "42501", "{err}");
    fx.grant("admin", "-1h", "+8h").await;
    let client = connect_with_options(&fx, "-c session_replication_role=replica")
        .await
        .expect("admin may");
    assert_eq!(show(&client, "session_replication_role").await, "replica");
    // A setting the server does not know is the server's to refuse.
    let err = connect_with_options(&fx, "-c no_such_setting=1")
        .await
        .expect_err("unknown setting");
    let db = err.as_db_error().expect("an ErrorResponse");
    assert_eq!(db.code().code(), "42704", "{db:?}");
    assert!(db.message().contains("\"no_such_setting\""), "{db:?}");
    fx.dbward.stop().await;
}

/// psql in a terminal under the C locale (Docker images, minimal servers, SSH without a
/// locale) asks for `client_encoding=auto`, which libpq turns into `SQL_ASCII`: such sessions
/// connect. Statements still reach dbward as UTF-8 (the server converts nothing either way),
/// `SET client_encoding` may go back and forth between the two, and any other encoding is
/// refused as before.
#[tokio::test]
async fn a_c_locale_terminal_connects_with_sql_ascii() {
    let fx = PgProxy::start("read").await;
    let (ok, out, err) = fx
        .psql_env(
            &[("LANG", "C"), ("LC_ALL", "C"), ("PGCLIENTENCODING", "auto")],
            &[
                "-At",
                "-c",
                "SHOW client_encoding",
                "-c",
                "SELECT 'café' || length('café')",
                "-c",
                "SET client_encoding TO 'UTF8'",
                "-c",
                "SET client_encoding TO 'SQL_ASCII'",
            ],
        )
        .await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["SQL_ASCII", "café4", "SET", "SET"]
    );
    let (ok, _, err) = fx
        .psql_env(
            &[("PGCLIENTENCODING", "SQL_ASCII")],
            &["-c", "SET client_encoding TO 'LATIN1'"],
        )
        .await;
    assert!(!ok);
    assert!(err.contains("this statement is admin"), "{err}");
    let (ok, _, err) = fx
        .psql_env(&[("PGCLIENTENCODING", "LATIN1")], &["-c", "SELECT 1"])
        .await;
    assert!(!ok);
    assert!(err.contains("dbward requires UTF8"), "{err}");
    fx.dbward.stop().await;
}
