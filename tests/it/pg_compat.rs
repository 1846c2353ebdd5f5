//! Client compatibility through dbward: pipelines, Flush-and-wait, pgbench, LISTEN/NOTIFY, psql
//! (`\watch`, Ctrl-C), sqlx, psycopg, PgJDBC.

use std::time::Duration;

use bytes::BytesMut;
use futures_util::future::join_all;
use postgres_protocol::message::frontend;

use crate::pg_fixture::PgProxy;
use crate::pg_raw::{RawClient, extended_query};

#[tokio::test]
#[allow(clippy::naive_bytecount)] // counting a handful of message tags
async fn pipeline_with_an_error_keeps_discard_until_sync() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (x int primary key)").await;
    let mut c = RawClient::connect(fx.port(), &fx.user, &fx.password, &fx.db_name).await;
    let mut out = BytesMut::new();
    // Batch 1: ok, error, ok (discarded), Sync. Batch 2: ok, Sync.
    extended_query(&mut out, "INSERT INTO t VALUES ($1)", &["1"]);
    extended_query(&mut out, "INSERT INTO t VALUES ($1)", &["1"]);
    extended_query(&mut out, "INSERT INTO t VALUES ($1)", &["2"]);
    frontend::sync(&mut out);
    extended_query(&mut out, "INSERT INTO t VALUES ($1)", &["3"]);
    frontend::sync(&mut out);
    c.send(&out).await;
    let (first, status) = c.until_ready().await;
    assert_eq!(status, b'I');
    assert_eq!(
        first.iter().filter(|t| **t == b'C').count(),
        1,
        "one insert completed: {:?}",
        String::from_utf8_lossy(&first)
    );
    assert_eq!(first.iter().filter(|t| **t == b'E').count(), 1);
    let (second, _) = c.until_ready().await;
    assert!(second.contains(&b'C'));
    let rows: Vec<i32> = fx
        .direct()
        .await
        .query("SELECT x FROM t ORDER BY x", &[])
        .await
        .expect("q")
        .iter()
        .map(|r| r.get(0))
        .collect();
    // PostgreSQL runs the messages up to Sync as one implicit transaction: the error rolls back
    // the first insert and discards the third; the batch after Sync runs.
    assert_eq!(
        rows,
        [3],
        "discard-until-Sync and the implicit transaction were preserved"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn flush_and_wait_gets_answers_before_sync() {
    let fx = PgProxy::start("read").await;
    let mut c = RawClient::connect(fx.port(), &fx.user, &fx.password, &fx.db_name).await;
    let mut out = BytesMut::new();
    extended_query(&mut out, "SELECT $1::int + 1", &["41"]);
    frontend::flush(&mut out);
    c.send(&out).await;
    // No Sync sent: the answers must still arrive (dbward forwards without waiting for Sync).
    let mut tags = Vec::new();
    while !tags.contains(&b'C') {
        let (tag, body) = tokio::time::timeout(Duration::from_secs(5), c.recv())
            .await
            .expect("answer before Sync");
        if tag == b'D' {
            assert!(body.ends_with(b"42"), "{body:?}");
        }
        tags.push(tag);
    }
    assert_eq!(tags, [b'1', b'2', b'T', b'D', b'C']);
    out.clear();
    frontend::sync(&mut out);
    c.send(&out).await;
    let (tags, status) = c.until_ready().await;
    assert_eq!((tags, status), (vec![b'Z'], b'I'));
    fx.dbward.stop().await;
}

#[tokio::test]
async fn a_pipeline_of_10000_statements() {
    let n: i32 = std::env::var("DBWARD_TEST_PIPELINE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let fx = PgProxy::start("read").await;
    let client = fx.connect().await.expect("connect");
    let stmt = client
        .prepare("SELECT $1::int4 * 2")
        .await
        .expect("prepare");
    // tokio-postgres pipelines requests that are polled together.
    let futures = (0..n).map(|i| {
        let client = &client;
        let stmt = &stmt;
        async move {
            client
                .query_one(stmt, &[&i])
                .await
                .map(|r| r.get::<_, i32>(0))
        }
    });
    let results = join_all(futures).await;
    assert_eq!(results.len(), usize::try_from(n).expect("n"));
    for (i, r) in (0..n).zip(results) {
        assert_eq!(r.expect("row"), i * 2);
    }
    fx.dbward.stop().await;
}

#[tokio::test]
async fn listen_notify_passes_through() {
    let fx = PgProxy::start("write").await;
    let (client, mut conn) = tokio_postgres::connect(&fx.conninfo(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(msg) = futures_util::StreamExt::next(&mut stream).await {
            if let Ok(tokio_postgres::AsyncMessage::Notification(n)) = msg {
                let _ = tx.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    client
        .batch_execute("LISTEN orders_changed")
        .await
        .expect("listen");
    fx.direct()
        .await
        .batch_execute("NOTIFY orders_changed, 'order 42'")
        .await
        .expect("notify");
    let (channel, payload) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("in time")
        .expect("notification");
    assert_eq!(
        (channel.as_str(), payload.as_str()),
        ("orders_changed", "order 42")
    );
    drop(client);
    let _ = driver.await;
    fx.dbward.stop().await;
}

#[tokio::test]
async fn pgbench_runs_in_all_query_modes() {
    let fx = PgProxy::start("ddl").await;
    let port = fx.port().to_string();
    let run = |args: Vec<&'static str>| {
        let port = port.clone();
        let password = fx.password.clone();
        async move {
            let out = tokio::process::Command::new("pgbench")
                .args(["-h", "127.0.0.1", "-p", &port, "-U", "alice"])
                .args(args)
                .arg("orders")
                .env("PGPASSWORD", password)
                .env("PGSSLMODE", "disable")
                .output()
                .await
                .expect("pgbench");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{text}");
            text
        }
    };
    run(vec!["-i", "-s", "1", "-q"]).await;
    for mode in ["simple", "extended", "prepared"] {
        let text = run(vec!["-S", "-c", "2", "-j", "1", "-t", "200", "-M", mode]).await;
        assert!(
            text.contains("number of transactions actually processed: 400/400"),
            "{mode}: {text}"
        );
        assert!(
            text.contains("number of failed transactions: 0"),
            "{mode}: {text}"
        );
    }
    // Every Parse is audited, whatever rows they fold into: 400 in extended mode (the unnamed
    // statement parsed again with its text, its classification reused) and one per connection
    // in prepared mode.
    let mut parsed = 0;
    for _ in 0..100 {
        let (_, page) = fx
            .dbward
            .admin(
                "GET",
                "/api/audit?action=statement.allowed&q=pgbench_accounts&limit=1000",
                None,
            )
            .await;
        parsed = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| r["details"]["message"] == "parse")
            .map(|r| r["details"]["executions"].as_i64().unwrap_or(1))
            .sum::<i64>();
        if parsed >= 402 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(parsed, 402);
    fx.dbward.stop().await;
}

/// Runs `tests/clients/SCRIPT` with `arg`; its standard output, trimmed (it must succeed).
async fn client_script(script: &str, arg: &str) -> String {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("python3")
        .arg(path)
        .arg(arg)
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim().to_owned()
}

#[tokio::test]
async fn psycopg3_server_side_cursor_and_copy() {
    let fx = PgProxy::start("ddl").await;
    assert_eq!(
        client_script("psycopg_session.py", &fx.conninfo()).await,
        "sum=499500 copy=item 0,item 1,item 2 count=1000"
    );
    fx.dbward.stop().await;
}

/// asyncpg's pool under a `read` grant: every connection it takes back is reset with
/// `pg_advisory_unlock_all()` and `RESET ALL`, which must pass (they release, never take).
#[tokio::test]
async fn asyncpg_pool_under_a_read_grant() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');",
    )
    .await;
    let dsn = format!(
        "postgresql://{}:{}@127.0.0.1:{}/{}",
        fx.user,
        fx.password,
        fx.port(),
        fx.db_name
    );
    assert_eq!(
        client_script("asyncpg_pool.py", &dsn).await,
        "names=one,two,three counts=3,3,3 streamed=1500"
    );
    fx.dbward.stop().await;
}

/// PostgreSQL 17's direct TLS (`sslnegotiation=direct`, ALPN `postgresql`), which this
/// machine's libpq 15 cannot send: asyncpg verifies dbward's certificate and runs a session;
/// direct TLS without ALPN is refused with 08P01.
#[tokio::test]
async fn direct_tls_with_alpn_and_without() {
    let fx = PgProxy::start("read").await;
    let cert = fx.dbward.tls_cert();
    let out = crate::harness::run_client(
        "asyncpg_direct_tls.py",
        "",
        &[
            "127.0.0.1".into(),
            fx.port().to_string(),
            fx.user.clone(),
            fx.password.clone(),
            fx.db_name.clone(),
            cert.display().to_string(),
        ],
    )
    .await;
    assert_eq!(
        out,
        "alpn=postgresql answer=42 count=10 | refused=08P01 direct TLS requires ALPN \"postgresql\""
    );
    fx.dbward.stop().await;
}

/// Ctrl-C to a running psql (SIGINT); its standard error once it has ended.
async fn ctrl_c(child: tokio::process::Child) -> String {
    let pid = child.id().expect("pid").to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill");
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("psql ended")
        .expect("output");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn psql_ctrl_c_cancels_the_running_query() {
    let fx = PgProxy::start("read").await;
    let child = tokio::process::Command::new("psql")
        .arg(fx.conninfo())
        .args(["-X", "-c", "SELECT pg_sleep(30)"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql");
    tokio::time::sleep(Duration::from_millis(800)).await;
    // What Ctrl-C does: SIGINT to psql, which sends a CancelRequest with dbward's key.
    let stderr = ctrl_c(child).await;
    assert!(
        stderr.contains("canceling statement due to user request"),
        "{stderr}"
    );
    fx.dbward.stop().await;
}

/// psql's `\watch` runs its query again every interval through the same session: each run is a
/// new statement through dbward (the server's clock moves from one result to the next), until
/// the user interrupts it.
#[tokio::test]
async fn psql_watch_reruns_the_query() {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let fx = PgProxy::start("read").await;
    let mut child = tokio::process::Command::new("psql")
        .arg(fx.conninfo())
        .args(["-X", "-A", "-t"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("psql");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"SELECT 'tick ' || clock_timestamp()::text \\watch 0.2\n")
        .await
        .expect("write");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut ticks = std::collections::BTreeSet::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while ticks.len() < 4 {
            let line = lines
                .next_line()
                .await
                .expect("read")
                .expect("psql keeps watching");
            if let Some(at) = line.strip_prefix("tick ") {
                ticks.insert(at.to_owned());
            }
        }
    })
    .await
    .expect("four runs of the watched query");
    assert_eq!(ticks.len(), 4, "each run is a new statement: {ticks:?}");
    // Ctrl-C ends the watch (and, its input closed, psql).
    drop(stdin);
    let stderr = ctrl_c(child).await;
    assert!(
        !stderr.contains("ERROR") && !stderr.contains("FATAL"),
        "{stderr}"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn sqlx_prepared_statements_and_transactions() {
    use sqlx::Row as _;
    let fx = PgProxy::start("ddl").await;
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=disable",
        fx.user,
        fx.password,
        fx.port(),
        fx.db_name
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect(&url)
        .await
        .expect("pool");
    sqlx::query("CREATE TABLE t (id int primary key, note text)")
        .execute(&pool)
        .await
        .expect("create");
    for i in 0..20 {
        sqlx::query("INSERT INTO t VALUES ($1, $2)")
            .bind(i)
            .bind(format!("n{i}"))
            .execute(&pool)
            .await
            .expect("insert");
    }
    let row = sqlx::query("SELECT count(*) AS n, max(note) AS m FROM t WHERE id >= $1")
        .bind(5)
        .fetch_one(&pool)
        .await
        .expect("select");
    assert_eq!(
        (row.get::<i64, _>("n"), row.get::<String, _>("m")),
        (15, "n9".to_owned())
    );
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("DELETE FROM t")
        .execute(&mut *tx)
        .await
        .expect("delete");
    let err = sqlx::query("INSERT INTO t VALUES (1, 'x'), (1, 'y')")
        .execute(&mut *tx)
        .await
        .expect_err("duplicate");
    assert!(err.to_string().contains("duplicate key"), "{err}");
    tx.rollback().await.expect("rollback");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(n, 20);
    pool.close().await;
    fx.dbward.stop().await;
}

/// PgJDBC (Debian's libpostgresql-jdbc-java) on a read grant: `DatabaseMetaData` calls, a
/// prepared statement read with fetchSize (a resumed portal), a denied write.
#[tokio::test]
async fn pgjdbc_metadata_and_cursor_reads() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric); \
         INSERT INTO items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 100) g",
    )
    .await;
    let stdout = crate::harness::run_client(
        "PgJdbcSession.java",
        "/usr/share/java/postgresql.jar",
        &[fx.port().to_string(), fx.password.clone()],
    )
    .await;
    assert_eq!(
        stdout,
        "tables=1 columns=3 keys=1 schemas>0=true types>0=true sum=5050 denied 42501"
    );
    fx.dbward.stop().await;
}

/// A SQL-standard function body (`BEGIN ATOMIC ... END`, PostgreSQL 14+), which sqlparser does
/// not parse, is `ddl` when the string is that one `CREATE`: created under a `ddl` grant and
/// called; a string with a statement after the body's end is refused whole.
#[tokio::test]
async fn begin_atomic_functions_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            "CREATE FUNCTION add_one(x int) RETURNS int LANGUAGE sql IMMUTABLE \
             BEGIN ATOMIC SELECT CASE WHEN x IS NULL THEN 0 ELSE x + 1 END; END",
            "-c",
            "SELECT add_one(41)",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = fx.psql(&["-A", "-t", "-c", "SELECT add_one(41)"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "42");
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            "CREATE FUNCTION two() RETURNS int BEGIN ATOMIC SELECT 2; END; DROP FUNCTION add_one(int)",
        ])
        .await;
    assert!(!ok && err.contains("could not classify"), "{err}");
    let (ok, out, _) = fx.psql(&["-A", "-t", "-c", "SELECT add_one(1)"]).await;
    assert!(ok && out.trim() == "2", "{out}");
    fx.dbward.stop().await;
}

/// Partition maintenance under a `ddl` grant through psql: a partitioned table, `ATTACH
/// PARTITION … FOR VALUES` and `DETACH PARTITION` (which sqlparser does not parse); a bound
/// that calls a function is not this form and is refused.
#[tokio::test]
async fn partition_maintenance_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            "CREATE TABLE m (d date NOT NULL, v int) PARTITION BY RANGE (d)",
            "-c",
            "CREATE TABLE m_2020 (d date NOT NULL, v int)",
            "-c",
            "ALTER TABLE m ATTACH PARTITION m_2020 FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')",
            "-c",
            "CREATE TABLE m_rest PARTITION OF m DEFAULT",
            "-c",
            "INSERT INTO m VALUES ('2020-06-01', 1), ('2024-01-01', 2)",
            "-c",
            "ALTER TABLE m DETACH PARTITION m_rest",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = fx.psql(&["-A", "-t", "-c", "SELECT count(*) FROM m"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "1",
        "the detached partition's row is gone from m"
    );
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            "ALTER TABLE m ATTACH PARTITION m_rest FOR VALUES FROM ('2021-01-01') \
             TO (pg_catalog.pg_terminate_backend(1)::text::date)",
        ])
        .await;
    assert!(!ok && err.contains("could not classify"), "{err}");
    fx.dbward.stop().await;
}

/// `ALTER` forms of migrations and maintenance that sqlparser does not parse, under a `ddl`
/// grant through psql: column statistics and storage, extended statistics, an index's storage
/// parameters, clustering, a materialized view's renaming, clustering and statistics, a view's
/// options and column default, a recursive view, and a foreign key's `ON DELETE SET NULL
/// (column)`; each checked in the catalog or by its effect.
#[tokio::test]
async fn maintenance_alter_forms_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            "CREATE TABLE m (a int, b text); CREATE INDEX m_a ON m (a)",
            "-c",
            "ALTER TABLE m ALTER COLUMN a SET STATISTICS 500",
            "-c",
            "ALTER TABLE m ALTER COLUMN b SET STORAGE EXTERNAL",
            "-c",
            "CREATE STATISTICS m_ab (ndistinct) ON a, b FROM m",
            "-c",
            "ALTER INDEX m_a SET (fillfactor = 70)",
            "-c",
            "ALTER TABLE m CLUSTER ON m_a",
            "-c",
            "CREATE MATERIALIZED VIEW mv AS SELECT a FROM m",
            "-c",
            "ALTER MATERIALIZED VIEW mv RENAME TO mv2",
            "-c",
            "CREATE INDEX mv2_a ON mv2 (a); ALTER MATERIALIZED VIEW mv2 CLUSTER ON mv2_a",
            "-c",
            "ALTER MATERIALIZED VIEW mv2 ALTER COLUMN a SET STATISTICS 300",
            "-c",
            "CREATE VIEW v AS SELECT a, b FROM m; ALTER VIEW v SET (security_barrier = true)",
            "-c",
            "ALTER VIEW v ALTER COLUMN b SET DEFAULT 'dflt'",
            "-c",
            "CREATE RECURSIVE VIEW upto (n) AS SELECT 1 UNION ALL SELECT n + 1 FROM upto WHERE n < 4",
            "-c",
            "CREATE TABLE m2 (a int, b int, PRIMARY KEY (a, b))",
            "-c",
            "CREATE TABLE r (id int, a int, b int, FOREIGN KEY (a, b) REFERENCES m2 ON DELETE SET NULL (b))",
            "-c",
            "INSERT INTO m2 VALUES (1, 2); INSERT INTO r VALUES (1, 1, 2); DELETE FROM m2",
            "-c",
            "INSERT INTO v (a) VALUES (9)",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = fx
        .psql(&[
            "-A",
            "-t",
            "-c",
            "SELECT attstattarget FROM pg_attribute WHERE attrelid = 'm'::regclass \
             AND attname = 'a'",
            "-c",
            "SELECT reloptions[1] FROM pg_class WHERE relname = 'm_a'",
            "-c",
            "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'm_ab'",
            "-c",
            "SELECT to_regclass('mv2') IS NOT NULL",
            "-c",
            "SELECT relhasindex AND (SELECT indisclustered FROM pg_index WHERE indexrelid = 'mv2_a'::regclass) FROM pg_class WHERE relname = 'mv2'",
            "-c",
            "SELECT reloptions[1] FROM pg_class WHERE relname = 'v'",
            "-c",
            "SELECT b FROM m WHERE a = 9",
            "-c",
            "SELECT string_agg(n::text, ',') FROM upto",
            "-c",
            "SELECT a || ':' || coalesce(b::text, 'null') FROM r",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "500",
            "fillfactor=70",
            "1",
            "t",
            "t",
            "security_barrier=true",
            "dflt",
            "1,2,3,4",
            "1:null"
        ]
    );
    fx.dbward.stop().await;
}

/// Statements about schema objects that sqlparser does not parse, as migrations and `pg_dump`
/// write them, under a `ddl` grant through psql: each reaches the server and does what it
/// says. Two-phase commit is `write`: it reaches the server under `write` (which refuses it
/// here, with prepared transactions disabled) and is refused by dbward under `read`.
#[tokio::test]
async fn object_forms_sqlparser_lacks_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let (ok, _, err) = fx
        .psql(&[
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "CREATE TABLE o (a int GENERATED BY DEFAULT AS IDENTITY, \
             b int GENERATED ALWAYS AS (a * 2) STORED, c text, \
             CONSTRAINT o_c CHECK (a > 0)); CREATE INDEX o_a ON o (a)",
            "-c",
            "DROP INDEX CONCURRENTLY IF EXISTS o_a",
            "-c",
            "CREATE FUNCTION of(i integer) RETURNS integer LANGUAGE sql AS 'SELECT i + 1'",
            "-c",
            "COMMENT ON FUNCTION of(integer) IS 'adds one'",
            "-c",
            "ALTER FUNCTION of(integer) STABLE SET search_path = public, pg_temp",
            "-c",
            "COMMENT ON CONSTRAINT o_c ON o IS 'positive'",
            "-c",
            "ALTER TABLE o ALTER COLUMN a DROP IDENTITY IF EXISTS",
            "-c",
            "ALTER TABLE o ALTER COLUMN b DROP EXPRESSION",
            "-c",
            "ALTER TABLE o ALTER COLUMN c TYPE text COLLATE \"C\"",
            "-c",
            "ALTER TABLE o SET (fillfactor = 70)",
            "-c",
            "ALTER TABLE o RESET (fillfactor)",
            "-c",
            "CREATE TYPE ot AS (x int)",
            "-c",
            "ALTER TYPE ot ADD ATTRIBUTE y character varying(10)",
            "-c",
            "CREATE SCHEMA arch",
            "-c",
            "ALTER TABLE o SET SCHEMA arch",
            "-c",
            "CREATE TABLE o2 (LIKE arch.o INCLUDING ALL)",
            "-c",
            "CREATE INDEX o2_c ON ONLY o2 (c) TABLESPACE pg_default",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = fx
        .psql(&[
            "-A",
            "-t",
            "-c",
            "SELECT to_regclass('o_a') IS NULL",
            "-c",
            "SELECT obj_description('of(integer)'::regprocedure, 'pg_proc')",
            "-c",
            "SELECT provolatile::text || ' ' || array_to_string(proconfig, ';') FROM pg_proc \
             WHERE proname = 'of'",
            "-c",
            "SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint \
             WHERE conname = 'o_c' AND connamespace = 'arch'::regnamespace",
            "-c",
            "SELECT string_agg(attname || ':' || attidentity::text || attgenerated::text, ',' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid = 'arch.o'::regclass AND attnum > 0",
            "-c",
            "SELECT collname FROM pg_attribute JOIN pg_collation c ON c.oid = attcollation \
             WHERE attrelid = 'arch.o'::regclass AND attname = 'c'",
            "-c",
            "SELECT reloptions IS NULL FROM pg_class WHERE oid = 'arch.o'::regclass",
            "-c",
            "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute \
             WHERE attrelid = 'ot'::regclass AND attnum > 0",
            "-c",
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'o2'::regclass",
            "-c",
            "SELECT to_regclass('o2_c') IS NOT NULL",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "t",
            "adds one",
            "s search_path=public, pg_temp",
            "positive",
            "a:,b:,c:",
            "C",
            "t",
            "x,y",
            "1",
            "t",
        ]
    );
    fx.dbward.stop().await;
    // Two-phase commit: the server's own answer under `write`, dbward's refusal under `read`.
    for (level, expected) in [
        ("write", "prepared transactions are disabled"),
        (
            "read",
            "permission denied by dbward: this statement is write",
        ),
    ] {
        let fx = PgProxy::start(level).await;
        let (ok, _, err) = fx.psql(&["-c", "BEGIN; PREPARE TRANSACTION 'tx1'"]).await;
        assert!(!ok && err.contains(expected), "{level}: {err}");
        fx.dbward.stop().await;
    }
}

/// Definitions sqlparser cannot parse, as `pg_dump` writes them and a DBA changes them, run
/// through dbward under a `ddl` grant and checked in the catalogs: an aggregate, a cast, a
/// conversion, extended statistics, a trigger and a rule renamed, a domain's constraints, a
/// text search configuration's mappings. A rule takes the class of what it runs, and `OWNER TO`
/// another role stays `admin`.
#[tokio::test]
async fn definitions_sqlparser_lacks_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let (ok, _, err) = fx
        .psql(&[
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "CREATE AGGREGATE dsum(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0')",
            "-c",
            "CREATE TYPE dcode AS ENUM ('a', 'bb')",
            "-c",
            "CREATE FUNCTION dcode_len(dcode) RETURNS integer LANGUAGE sql IMMUTABLE \
             AS 'SELECT length($1::text)'",
            "-c",
            "CREATE CAST (dcode AS integer) WITH FUNCTION dcode_len(dcode) AS ASSIGNMENT",
            "-c",
            "CREATE CONVERSION dconv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8",
            "-c",
            "ALTER CONVERSION dconv RENAME TO dconv2",
            "-c",
            "CREATE TABLE dt (a int, b int); CREATE TABLE dlog (a int)",
            "-c",
            "CREATE STATISTICS dst ON a, b FROM dt",
            "-c",
            "ALTER STATISTICS dst SET STATISTICS 50",
            "-c",
            "CREATE FUNCTION dtf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
            "-c",
            "CREATE TRIGGER dtr BEFORE INSERT ON dt FOR EACH ROW EXECUTE FUNCTION dtf()",
            "-c",
            "ALTER TRIGGER dtr ON dt RENAME TO dtr2",
            "-c",
            "CREATE RULE dr AS ON INSERT TO dt WHERE new.a > 10 DO ALSO INSERT INTO dlog VALUES (new.a)",
            "-c",
            "ALTER RULE dr ON dt RENAME TO dr2",
            "-c",
            "CREATE DOMAIN dd AS int DEFAULT 1 NOT NULL CONSTRAINT dd_pos CHECK (VALUE > 0)",
            "-c",
            "ALTER DOMAIN dd DROP DEFAULT",
            "-c",
            "ALTER DOMAIN dd DROP NOT NULL",
            "-c",
            "ALTER DOMAIN dd RENAME CONSTRAINT dd_pos TO dd_positive",
            "-c",
            "CREATE TEXT SEARCH CONFIGURATION dcfg (COPY = english)",
            "-c",
            "ALTER TEXT SEARCH CONFIGURATION dcfg DROP MAPPING FOR url",
            "-c",
            "INSERT INTO dt VALUES (5, 1), (50, 2)",
        ])
        .await;
    assert!(ok, "{err}");
    let (ok, out, err) = fx
        .psql(&[
            "-A",
            "-t",
            "-c",
            "SELECT dsum(x) FROM generate_series(1, 4) x",
            "-c",
            "SELECT 'bb'::dcode::integer",
            "-c",
            "SELECT string_agg(conname, ',') FROM pg_conversion WHERE conname LIKE 'dconv%'",
            "-c",
            "SELECT stxstattarget FROM pg_statistic_ext WHERE stxname = 'dst'",
            "-c",
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'dt'::regclass",
            "-c",
            "SELECT rulename FROM pg_rules WHERE tablename = 'dt'",
            "-c",
            "SELECT string_agg(a::text, ',') FROM dlog",
            "-c",
            "SELECT (typdefault IS NULL)::text || ' ' || typnotnull::text || ' ' || conname \
             FROM pg_type JOIN pg_constraint ON contypid = pg_type.oid WHERE typname = 'dd'",
            "-c",
            "SELECT count(*) FROM pg_ts_config_map m JOIN pg_ts_config c ON c.oid = m.mapcfg \
             JOIN ts_token_type('default') t ON t.tokid = m.maptokentype \
             WHERE c.cfgname = 'dcfg' AND t.alias = 'url'",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "10",
            "2",
            "dconv2",
            "50",
            "dtr2",
            "dr2",
            "50",
            "true false dd_positive",
            "0"
        ]
    );
    // What a rule runs counts; another owner is a privilege change; neither runs.
    for (sql, expected) in [
        (
            "CREATE RULE dk AS ON INSERT TO dt DO ALSO SELECT pg_terminate_backend(new.a)",
            "this statement is admin",
        ),
        (
            "ALTER OPERATOR + (dcode, dcode) OWNER TO pg_monitor",
            "this statement is admin",
        ),
        (
            "ALTER CONVERSION dconv2 OWNER TO pg_monitor",
            "dbward could not classify this statement",
        ),
    ] {
        let (ok, _, err) = fx.psql(&["-c", sql]).await;
        assert!(!ok && err.contains(expected), "{sql}: {err}");
    }
    let (_, out, _) = fx
        .psql(&[
            "-A",
            "-t",
            "-c",
            "SELECT count(*) FROM pg_rules WHERE tablename = 'dt'",
        ])
        .await;
    assert_eq!(out.trim(), "1");
    fx.dbward.stop().await;
}

/// Django's migrations (contrib apps and an app with JSON, decimal, foreign keys, indexes and a
/// check constraint), ORM reads and writes, `select_for_update`, `dumpdata`/`flush`/`loaddata`
/// and unapplying every migration, through dbward under a `ddl` grant (psycopg 3 underneath).
#[tokio::test]
async fn django_migrates_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    // The script connects with `options=-c search_path=shop,public`, as Django's documentation
    // suggests for a schema of one's own.
    fx.upstream_sql("CREATE SCHEMA shop").await;
    let stdout = crate::harness::run_client(
        "django_migrate.py",
        "",
        &[
            "postgresql".into(),
            fx.port().to_string(),
            fx.password.clone(),
            fx.db_name.clone(),
        ],
    )
    .await;
    assert_eq!(
        stdout,
        "migrated=19 count=1 rows=widget:3 locked=10.50 flushed=0 loaded=10.50 left=none"
    );
    let in_shop: bool = fx
        .direct()
        .await
        .query_one(
            "SELECT to_regclass('shop.django_migrations') IS NOT NULL \
             AND to_regclass('public.django_migrations') IS NULL",
            &[],
        )
        .await
        .expect("where")
        .get(0);
    assert!(
        in_shop,
        "Django's tables are in the schema its options named"
    );
    fx.dbward.stop().await;
}

/// `COPY … FROM STDIN WHERE condition` (PostgreSQL 12) through psql's `\copy` under a `write`
/// grant: the rows the filter keeps land; a filter calling an `admin` function is refused (it
/// once passed as a plain `COPY FROM STDIN`: the recognizer took the filter for options).
#[tokio::test]
async fn copy_with_a_row_filter_is_classified_by_its_filter() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (a int, b text)").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, "1,x\n5,y\n9,z\n").expect("write rows");
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            &format!(
                "\\copy t FROM '{}' WITH (FORMAT csv) WHERE a > 3",
                file.display()
            ),
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(fx.upstream_count("t").await, 2);
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            &format!(
                "\\copy t FROM '{}' WITH (FORMAT csv) WHERE pg_terminate_backend(a) IS NULL",
                file.display()
            ),
        ])
        .await;
    assert!(!ok);
    assert!(
        err.contains("this statement is admin (function pg_terminate_backend)"),
        "{err}"
    );
    assert_eq!(fx.upstream_count("t").await, 2);
    fx.dbward.stop().await;
}

/// PHP's pgsql extension and PDO's pgsql driver: see `tests/clients/php_pgsql.php`.
#[tokio::test]
async fn php_pgsql_session() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (id serial PRIMARY KEY, name text, data bytea)")
        .await;
    let stdout = crate::harness::run_client("php_pgsql.php", "", &[fx.conninfo()]).await;
    assert_eq!(
        stdout,
        "id=1 named=one:2 copied=3 failed=yes notify=hi lo=refused denied=42501 after=3 pdo=one:4:42501"
    );
    assert_eq!(fx.upstream_count("t").await, 4);
    fx.dbward.stop().await;
}

/// pgx (Go), its own protocol implementation: see `tests/clients/go_pgx.go`. Its context
/// deadline sends a CancelRequest with dbward's key and drops the connection; the upstream
/// query must stop.
#[tokio::test]
async fn go_pgx_session() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql(
        "CREATE TABLE t (id serial PRIMARY KEY, name text, data bytea, at timestamptz, tags text[])",
    )
    .await;
    let stdout = crate::harness::run_client("go_pgx.go", "", &[fx.conninfo()]).await;
    assert_eq!(
        stdout,
        "row=one:2:10:30:a,b copied=2 batch=3,22012,true,22012 savepoint=23505 denied=42501 \
         notify=hi simple=true tls=true deadline=true,true sleeping=0 rows=4"
    );
    assert_eq!(fx.upstream_count("t").await, 4);
    fx.dbward.stop().await;
}

/// psqlODBC (the PostgreSQL ODBC driver under BI tools and Excel) through unixODBC's `isql`,
/// over TLS: a count, a denial in the driver's own error format, and the session going on.
#[tokio::test]
async fn psqlodbc_session() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql("CREATE TABLE t (id int PRIMARY KEY, name text); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
        .await;
    let settings = format!(
        "Driver = PostgreSQL Unicode\nServername = 127.0.0.1\nPort = {}\nDatabase = {}\n\
         Username = {}\nPassword = {}\nSSLmode = require",
        fx.port(),
        fx.db_name,
        fx.user,
        fx.password
    );
    crate::harness::odbc_read_session(
        &settings,
        "[42501]ERROR: permission denied by dbward: this statement is write (DELETE)",
    )
    .await;
    assert_eq!(fx.upstream_count("t").await, 2);
    fx.dbward.stop().await;
}

/// postgres.js (npm `postgres`), its own protocol implementation: see
/// `tests/clients/node/postgresjs_session.js`.
#[tokio::test]
async fn postgresjs_session() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (id serial PRIMARY KEY, name text, tags text[], data bytea)")
        .await;
    let args = [
        fx.port().to_string(),
        fx.password.clone(),
        fx.db_name.clone(),
    ];
    let stdout = crate::harness::run_client("node/postgresjs_session.js", "", &args).await;
    assert_eq!(
        stdout,
        "row=one:a,b:2 savepoint=23505 tx=3 cursor=5 notify=hi denied=42501 \
         cancelled=57014,true rows=5"
    );
    fx.dbward.stop().await;
}

/// lib/pq (Go, under `database/sql`): see `tests/clients/go_libpq.go`. Its context
/// cancellation sends a CancelRequest and keeps using the connection.
#[tokio::test]
async fn go_libpq_session() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (id serial PRIMARY KEY, name text, tags text[])")
        .await;
    let stdout = crate::harness::run_client("go_libpq.go", "", &[fx.conninfo()]).await;
    assert_eq!(
        stdout,
        "row=one:a,b copied=3 denied=42501 notify=hi cancelled=57014,true rows=4"
    );
    fx.dbward.stop().await;
}

/// Rails' Active Record migrating under a `ddl` grant (`tests/clients/activerecord_migrate.rb`):
/// the migrator's advisory lock, its bookkeeping tables, a foreign key, models, a rollback.
#[tokio::test]
async fn activerecord_migrates_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let stdout = crate::harness::run_client("activerecord_migrate.rb", "", &fx.engine_args()).await;
    assert_eq!(
        stdout,
        "tls=true version=20261207000003 joined=Ann,Bob customers=2 stale=yes note=true \
         version=20261207000002 status=false"
    );
    assert_eq!(fx.upstream_count("orders").await, 2);
    fx.dbward.stop().await;
}

/// `TypeORM`'s `synchronize`, repositories and migrations under a `ddl` grant
/// (`tests/clients/node/typeorm_sync.js`): after them its schema diff, read through dbward,
/// finds nothing to change.
#[tokio::test]
async fn typeorm_synchronizes_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let args = fx.engine_args();
    let stdout = crate::harness::run_client("node/typeorm_sync.js", "", &args).await;
    assert_eq!(
        stdout,
        "posts=hello,world:UTC users=1 migrations=1 pending=0"
    );
    assert_eq!(fx.upstream_count("posts").await, 2);
    fx.dbward.stop().await;
}

/// Knex's migrations (its lock table, taken `FOR UPDATE`), schema builder, a transaction
/// rolled back and a migration batch rolled back, under a `ddl` grant
/// (`tests/clients/node/knex_migrate.js`).
#[tokio::test]
async fn knex_migrates_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let args = fx.engine_args();
    let stdout = crate::harness::run_client("node/knex_migrate.js", "", &args).await;
    assert_eq!(
        stdout,
        "migrated=1:2 transfers=0 balance=100 rolled=1 transfers_table=false"
    );
    fx.dbward.stop().await;
}

/// Sequelize's `sync` under a `ddl` grant (`tests/clients/node/sequelize_sync.js`): its ENUM
/// types are created in `DO` blocks of plain statements.
#[tokio::test]
async fn sequelize_syncs_under_a_ddl_grant() {
    let fx = PgProxy::start("ddl").await;
    let stdout = crate::harness::run_client("node/sequelize_sync.js", "", &fx.engine_args()).await;
    assert_eq!(stdout, "users=1 role=admin score=5.00 posts=hello");
    assert_eq!(fx.upstream_count("\"Posts\"").await, 1);
    fx.dbward.stop().await;
}

/// node-postgres (`pg` from npm): parameters, a named prepared statement reused, a denial and
/// the session going on, a rolled-back transaction, two statements in one query, and a pool.
#[tokio::test]
async fn node_postgres_session() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (id serial PRIMARY KEY, name text, data jsonb)")
        .await;
    let stdout = crate::harness::run_client(
        "node/node_session.js",
        "",
        &[
            "pg".into(),
            fx.port().to_string(),
            fx.password.clone(),
            fx.db_name.clone(),
        ],
    )
    .await;
    assert_eq!(
        stdout,
        "count=5 sum=10 named=n1,n2 denied 42501 rows=5 pool=380"
    );
    assert_eq!(fx.upstream_count("t").await, 5);
    fx.dbward.stop().await;
}

/// What PostgreSQL 14+ users write that sqlparser does not parse, through dbward under a
/// `write` grant: jsonb and array subscripts as `UPDATE` targets, and a positioned update and
/// delete through a cursor (`WHERE CURRENT OF`).
#[tokio::test]
async fn subscripted_updates_and_positioned_writes_under_write() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql(
        "CREATE TABLE docs (id int PRIMARY KEY, data jsonb, tags text[]);
         INSERT INTO docs VALUES (1, '{\"status\": \"new\"}', '{a,b,c}'), (2, '{}', '{x}');",
    )
    .await;
    let c = fx.connect().await.expect("connect");
    c.batch_execute(
        "UPDATE docs SET data['status'] = '\"done\"', tags[2] = 'B' WHERE id = 1;
         BEGIN;
         DECLARE cur CURSOR FOR SELECT id FROM docs ORDER BY id FOR UPDATE;
         FETCH NEXT FROM cur;
         UPDATE docs SET data['seen'] = 'true' WHERE CURRENT OF cur;
         FETCH NEXT FROM cur;
         DELETE FROM docs WHERE CURRENT OF cur;
         COMMIT;",
    )
    .await
    .expect("subscripted and positioned writes");
    let rows = fx
        .direct()
        .await
        .query(
            "SELECT id, data::text, tags::text FROM docs ORDER BY id",
            &[],
        )
        .await
        .expect("check");
    let got: Vec<(i32, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [(
            1,
            r#"{"seen": true, "status": "done"}"#.to_owned(),
            "{a,B,c}".to_owned()
        )]
    );
    // A computed subscript is not read past: refused.
    let e = c
        .batch_execute("UPDATE docs SET data[pg_backend_pid()::text] = '1'")
        .await
        .expect_err("refused");
    let message = e.as_db_error().map(|d| d.message().to_owned());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("could not classify")),
        "{e:?}"
    );
    fx.dbward.stop().await;
}

/// Query syntax sqlparser lacks, through psql under `read`, each giving PostgreSQL's own
/// answer: window frame exclusions, `COLLATION FOR`, a join's `USING (…) AS alias`, `ROWS FROM`,
/// a recursive query's `SEARCH` and `CYCLE` clauses, XML constructors with names, `GROUP BY
/// ALL`, and the standard's `SET SCHEMA` and `SET XML OPTION`. `ROWS FROM` with a function that
/// writes is classified by that function.
#[tokio::test]
async fn query_syntax_sqlparser_lacks_reads_under_read() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql(
        "CREATE TABLE nums (a int); INSERT INTO nums VALUES (1), (2), (3);
         CREATE TABLE edges (id int, parent int); INSERT INTO edges VALUES (1, 2), (2, 1);
         CREATE SEQUENCE sq;",
    )
    .await;
    let (ok, out, err) = fx
        .psql(&[
            "-At",
            "-c",
            "SELECT string_agg(s::text, ',' ORDER BY a) FROM (SELECT a, sum(a) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) AS s FROM nums) x",
            "-c",
            "SELECT COLLATION FOR ('x' COLLATE \"C\")",
            "-c",
            "SELECT count(j.a) FROM nums n1 JOIN nums n2 USING (a) AS j",
            "-c",
            "SELECT string_agg(x || ':' || coalesce(y, '-') || ':' || n, ',') FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['a'])) WITH ORDINALITY AS r(x, y, n)",
            "-c",
            "WITH RECURSIVE g(id, parent) AS (SELECT id, parent FROM edges WHERE id = 1 UNION ALL SELECT e.id, e.parent FROM edges e JOIN g ON e.id = g.parent) SEARCH DEPTH FIRST BY id SET ord CYCLE id SET looped USING path SELECT string_agg(id || ':' || looped, ',' ORDER BY ord) FROM g",
            "-c",
            "SELECT count(*) FROM nums WHERE a BETWEEN SYMMETRIC 3 AND 1 AND a NOTNULL AND NOT a ISNULL",
            "-c",
            "SELECT (n).* FROM nums n ORDER BY 1 LIMIT 1",
            "-c",
            "SELECT xmlelement(name r, xmlagg(xmlelement(name a, a) ORDER BY a)), xmlpi(name php, 'x') FROM nums",
            "-c",
            "SELECT count(*) FROM nums GROUP BY ALL a ORDER BY 1 LIMIT 1",
            "-c",
            "SET SCHEMA 'public'",
            "-c",
            "SET XML OPTION DOCUMENT",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "2,4,2",
            "\"C\"",
            "3",
            "1:a:1,2:-:2",
            "1:false,2:false,1:true",
            "3",
            "1",
            "<r><a>1</a><a>2</a><a>3</a></r>|<?php x?>",
            "1",
            "SET",
            "SET"
        ],
        "{out}"
    );
    for write in [
        "SELECT * FROM ROWS FROM (nextval('sq')) AS r",
        "SELECT * FROM nums FOR KEY SHARE",
        "SELECT xmlelement(name a, nextval('sq'))",
    ] {
        let (ok, _, err) = fx.psql(&["-c", write]).await;
        assert!(!ok, "{write}");
        assert!(err.contains("this statement is write"), "{write}: {err}");
    }
    fx.dbward.stop().await;
}

/// libpq's less common calls (`tests/clients/libpq_api.c`) over TLS: a COPY the client abandons
/// (`CopyFail`: the server's error, nothing written, the session goes on), Describe of a named
/// statement and of a cursor's portal, single-row mode, binary results.
#[tokio::test]
async fn libpq_api_calls() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (id int)").await;
    let conninfo = fx.conninfo().replace("sslmode=disable", "sslmode=require");
    let stdout = tokio::time::timeout(
        std::time::Duration::from_mins(1),
        crate::harness::run_client("libpq_api.c", "", &[conninfo]),
    )
    .await
    .expect("the client finished");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "copy_fail=PGRES_FATAL_ERROR 57014",
            "rows_after_copy_fail=0",
            "describe_statement=params:1 fields:2 twice",
            "single_rows=3 sum=12",
            "describe_portal=fields:2 letter,answer",
            "fetch=42",
            "binary=258",
        ],
        "{stdout}"
    );
    fx.dbward.stop().await;
}

/// Every describe command of psql 15, plain and with `+`, under a `read` grant: each runs
/// without an error (their catalog queries are all `read`), on a database with one object of
/// each kind they list; but `\deu+` and `\dRs+`, which show user mappings' options and
/// subscriptions' connection strings (other servers' passwords), are refused as `admin`.
#[tokio::test]
async fn every_psql_describe_command_runs_under_read() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         CREATE VIEW v AS SELECT id FROM items;
         CREATE MATERIALIZED VIEW mv AS SELECT id FROM items;
         CREATE SEQUENCE sq;
         CREATE TYPE mood AS ENUM ('ok');
         CREATE DOMAIN positive AS int CHECK (VALUE > 0);
         CREATE FUNCTION twice(int) RETURNS int LANGUAGE sql AS 'SELECT $1 * 2';
         CREATE AGGREGATE total(int) (SFUNC = int4pl, STYPE = int);
         CREATE STATISTICS st ON id, name FROM items;
         CREATE TABLE parted (a int) PARTITION BY RANGE (a);
         CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (1) TO (10);
         CREATE PUBLICATION pub FOR TABLE items;
         COMMENT ON TABLE items IS 'things';",
    )
    .await;
    let commands = [
        "d",
        "da",
        "dA",
        "dAc",
        "dAf",
        "dAo btree",
        "dAp btree",
        "db",
        "dc",
        "dC",
        "dd",
        "dD",
        "ddp",
        "dE",
        "di",
        "dm",
        "ds",
        "dt",
        "dv",
        "des",
        "det",
        "deu",
        "dew",
        "df",
        "dfa",
        "dF",
        "dFd",
        "dFp",
        "dFt",
        "dg",
        "dl",
        "dL",
        "dn",
        "do",
        "dO",
        "dp",
        "dP",
        "drds",
        "dRp",
        "dRs",
        "dT",
        "du",
        "dx",
        "dX",
        "dy",
        "l",
        "lo_list",
        "z",
        "dconfig work_mem",
        "d items",
        "d v",
        "d sq",
        "sf twice",
        "sv v",
    ];
    let mut args = Vec::new();
    for c in commands {
        args.push("-c".to_owned());
        args.push(format!("\\{c}"));
        // `+` goes right after the command's name.
        let (name, rest) = c.split_once(' ').map_or((c, ""), |(n, r)| (n, r));
        // `\deu+` and `\dRs+` show user mappings' options and subscriptions' connection
        // strings, other servers' passwords: `admin` (below).
        if !matches!(name, "sf" | "sv" | "lo_list" | "z" | "deu" | "dRs") {
            args.push("-c".to_owned());
            args.push(format!("\\{name}+ {rest}"));
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = fx.psql(&args).await;
    assert!(ok, "{err}");
    // What psql says of empty lists (foreign tables, per-database settings) is all it says.
    assert!(
        err.lines()
            .all(|l| l.starts_with("Did not find any") || l.is_empty()),
        "{err}"
    );
    for shown in [
        "things", "twice", "parted_1", "mood", "positive", "pub", "st", "work_mem",
    ] {
        assert!(out.contains(shown), "{shown}: {out}");
    }
    for (command, reason) in [
        ("\\deu+", "a read of user mappings' options"),
        ("\\dRs+", "a read of subscriptions' connection strings"),
    ] {
        let (ok, _, err) = fx.psql(&["-c", command]).await;
        assert!(
            !ok && err.contains(&format!("this statement is admin ({reason}")),
            "{command}: {err}"
        );
    }
    fx.dbward.stop().await;
}
