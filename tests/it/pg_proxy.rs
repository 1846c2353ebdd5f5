//! The PostgreSQL proxy end to end: real psql and tokio-postgres through dbward to a fresh
//! database on the real PostgreSQL.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::pg_fixture::PgProxy;

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn psql_works_through_dbward() {
    let fx = PgProxy::start("write").await;
    fx.direct()
        .await
        .batch_execute("CREATE TABLE items (id int primary key, name text); INSERT INTO items VALUES (1, 'one')")
        .await
        .expect("setup");
    let (ok, out, err) = fx
        .psql(&[
            "-At",
            "-c",
            "SELECT current_setting('application_name'), name FROM items",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "dbward:alice:psql|one");
    // A catalog meta-command.
    let (ok, out, err) = fx.psql(&["-c", "\\dt"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("items"), "{out}");
    // \copy both ways.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("items.csv");
    std::fs::write(&file, "2,two\n3,three\n").expect("write");
    let copy_in = format!("\\copy items FROM '{}' WITH (FORMAT csv)", file.display());
    let (ok, _, err) = fx.psql(&["-c", &copy_in]).await;
    assert!(ok, "{err}");
    let out_file = dir.path().join("out.csv");
    let copy_out = format!(
        "\\copy (SELECT * FROM items ORDER BY id) TO '{}' WITH (FORMAT csv)",
        out_file.display()
    );
    let (ok, _, err) = fx.psql(&["-c", &copy_out]).await;
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(&out_file).expect("read"),
        "1,one\n2,two\n3,three\n"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn driver_prepared_statements_transactions_and_errors() {
    let fx = PgProxy::start("ddl").await;
    let client = fx.connect().await.expect("connect");
    client
        .batch_execute("CREATE TABLE t (id int primary key, v bytea, at timestamptz)")
        .await
        .expect("create");
    let insert = client
        .prepare("INSERT INTO t VALUES ($1, $2, now())")
        .await
        .expect("prepare");
    for i in 0..50 {
        client
            .execute(&insert, &[&i, &vec![u8::try_from(i).expect("small"); 100]])
            .await
            .expect("insert");
    }
    // Binary results.
    let row = client
        .query_one(
            "SELECT count(*), sum(length(v))::int8 FROM t WHERE id >= $1",
            &[&10],
        )
        .await
        .expect("query");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (40, 4000));
    // An error mid-transaction aborts it, as PostgreSQL would.
    client.batch_execute("BEGIN").await.expect("begin");
    client
        .execute(&insert, &[&100, &vec![1u8]])
        .await
        .expect("insert");
    let dup = client
        .execute(&insert, &[&1, &vec![1u8]])
        .await
        .expect_err("duplicate");
    assert_eq!(sqlstate(&dup), "23505");
    let aborted = client.query("SELECT 1", &[]).await.expect_err("aborted");
    assert_eq!(sqlstate(&aborted), "25P02");
    client.batch_execute("ROLLBACK").await.expect("rollback");
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 50, "the aborted insert is gone");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn read_grant_runs_read_only_upstream() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql("CREATE TABLE t (x int)").await;
    let client = fx.connect().await.expect("connect");
    let ro: String = client
        .query_one("SHOW default_transaction_read_only", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(ro, "on");
    // Layer 1, the classifier: an INSERT never reaches the upstream.
    let err = client
        .batch_execute("INSERT INTO t VALUES (1)")
        .await
        .expect_err("denied");
    assert_eq!(sqlstate(&err), "42501");
    // Layer 2, the read-only upstream session: a user-defined function that writes passes the
    // classifier (functions not on the deny list are read) and fails upstream.
    fx.upstream_sql(
        "CREATE FUNCTION sneaky_insert() RETURNS int LANGUAGE sql \
         AS 'INSERT INTO t VALUES (9) RETURNING 1'",
    )
    .await;
    let err = client
        .batch_execute("SELECT sneaky_insert()")
        .await
        .expect_err("read-only upstream");
    assert_eq!(sqlstate(&err), "25006");
    // Switching read-only off is denied, and the session goes on.
    let err = client
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .expect_err("denied");
    assert_eq!(sqlstate(&err), "42501");
    // RESET ALL and DISCARD ALL are allowed: the start-up parameter survives both.
    for reset in ["RESET ALL", "DISCARD ALL"] {
        client.batch_execute(reset).await.expect(reset);
        let ro: String = client
            .query_one("SHOW default_transaction_read_only", &[])
            .await
            .expect("show")
            .get(0);
        assert_eq!(ro, "on", "after {reset}");
        let err = client
            .batch_execute("SELECT sneaky_insert()")
            .await
            .expect_err("still read-only");
        assert_eq!(sqlstate(&err), "25006", "after {reset}");
    }
    let n: i64 = fx.upstream_count("t").await;
    assert_eq!(n, 0);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_28p01() {
    let fx = PgProxy::start("read").await;
    let base = format!(
        "host=127.0.0.1 port={} dbname=orders sslmode=disable",
        fx.port()
    );
    for (user, password) in [("alice", "wrong-password"), ("ghost", "alice-password-123")] {
        let conninfo = format!("{base} user={user} password={password}");
        let err = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .err()
            .expect("refused");
        assert_eq!(sqlstate(&err), "28P01", "{err}");
        let db_err = err.as_db_error().expect("server error");
        assert_eq!(
            db_err.message(),
            format!("password authentication failed for user \"{user}\"")
        );
    }
    fx.dbward.stop().await;
}

async fn revoke_grant(fx: &PgProxy, g: i64) {
    let (s, body) = fx
        .dbward
        .admin("DELETE", &format!("/api/grants/{g}"), None)
        .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn sessions_need_a_grant_active_now() {
    let dbward = crate::harness::Dbward::start().await;
    let upstream = crate::harness::PgDatabase::create().await;
    let fx = PgProxy::register(dbward, upstream).await;
    let expect = |fx: &PgProxy, code: &'static str, needle: &'static str| {
        let conninfo = fx.conninfo();
        async move {
            let err = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                .await
                .err()
                .expect("refused");
            assert_eq!(sqlstate(&err), code, "{err}");
            let msg = err.as_db_error().expect("db error").message().to_owned();
            assert!(msg.contains(needle), "`{msg}` lacks `{needle}`");
        }
    };
    expect(&fx, "28000", "you hold no grant").await;
    let g = fx.grant("read", "-1h", "+1h").await;
    fx.connect().await.expect("active grant works");
    revoke_grant(&fx, g).await;
    expect(&fx, "28000", "was revoked").await;
    fx.grant("read", "-3h", "-2h").await;
    expect(&fx, "28000", "expired at").await; // an expiry says more than a revocation
    let future = fx.grant("read", "+2h", "+3h").await;
    expect(&fx, "28000", "starts at").await; // a future grant is the most useful news
    revoke_grant(&fx, future).await;
    fx.grant("read", "-1h", "+1h").await;
    fx.connect().await.expect("active grant works");
    let user = format!("/api/users/{}", fx.user_id);
    let (s, body) = fx
        .dbward
        .admin("PATCH", &user, Some(serde_json::json!({"enabled": false})))
        .await;
    assert_eq!(s, 200, "{body}");
    expect(&fx, "28000", "your dbward account is disabled").await;
    let (s, body) = fx
        .dbward
        .admin("PATCH", &user, Some(serde_json::json!({"enabled": true})))
        .await;
    assert_eq!(s, 200, "{body}");
    fx.dbward.point_at_a_closed_port(fx.db_id).await;
    expect(&fx, "08006", "could not connect to the upstream").await;
    // Each refusal is in the trail with its reason, written before the client heard it.
    let wanted = [
        "no_grant",
        "grant_revoked",
        "grant_expired",
        "grant_not_started",
        "user_disabled",
        "upstream_unavailable",
    ];
    let reasons = fx.dbward.failure_reasons("pg.connect").await;
    for reason in wanted {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} missing from {reasons:?}"
        );
    }
    fx.dbward.stop().await;
}

#[tokio::test]
async fn query_cancel_reaches_the_right_upstream_query() {
    let fx = PgProxy::start("read").await;
    let client = fx.connect().await.expect("connect");
    let token = client.cancel_token();
    let started = std::time::Instant::now();
    let sleeper = tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    token
        .cancel_query(tokio_postgres::NoTls)
        .await
        .expect("cancel sent");
    let err = sleeper.await.expect("join").expect_err("cancelled");
    assert_eq!(sqlstate(&err), "57014", "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // A wrong key does nothing and reveals nothing: the connection just closes.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .expect("tcp");
    tcp.write_all(&[0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2])
        .await
        .expect("write");
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await.expect("closed");
    assert!(buf.is_empty());
    fx.dbward.stop().await;
}

#[tokio::test]
async fn client_disconnect_mid_query_cancels_upstream() {
    let fx = PgProxy::start("read").await;
    let (client, conn) = tokio_postgres::connect(&fx.conninfo(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let conn_task = tokio::spawn(conn);
    let q = tokio::spawn(async move {
        let _ = client.batch_execute("SELECT pg_sleep(60)").await;
        client
    });
    let direct = fx.direct().await;
    let db = fx.upstream.name.clone();
    let count = || async {
        // pg_stat_activity is cluster-wide: only this test's database counts.
        let n: i64 = direct
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name LIKE 'dbward:alice%' AND datname = $1",
                &[&db],
            )
            .await
            .expect("activity")
            .get(0);
        n
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "session never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Kill the client side abruptly.
    conn_task.abort();
    q.abort();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count().await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "upstream backend still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fx.dbward.stop().await;
}

#[tokio::test]
async fn fast_path_function_calls_need_an_admin_grant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("blob.bin");
    std::fs::write(&file, b"large object payload").expect("write");
    let import = format!("\\lo_import '{}'", file.display());
    // Under read: refused with 42501, nothing created.
    let fx = PgProxy::start("read").await;
    let (ok, _, err) = fx.psql(&["-c", &import]).await;
    assert!(!ok);
    assert!(
        err.contains("FunctionCall") && err.contains("admin grant"),
        "{err}"
    );
    let n: i64 = fx.upstream_count("pg_largeobject_metadata").await;
    assert_eq!(n, 0);
    fx.dbward.stop().await;
    // Under admin: the large object is created through the fast path.
    let fx = PgProxy::start("admin").await;
    let (ok, out, err) = fx.psql(&["-c", &import]).await;
    assert!(ok, "{err}");
    assert!(out.contains("lo_import"), "{out}");
    let n: i64 = fx.upstream_count("pg_largeobject_metadata").await;
    assert_eq!(n, 1);
    fx.dbward.stop().await;
}

/// Sends raw bytes as a client and returns what dbward answers before closing.
async fn raw_exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("tcp");
    let _ = tcp.write_all(bytes).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    buf
}

#[tokio::test]
async fn bad_startup_input_gets_a_protocol_error_and_dbward_keeps_serving() {
    let fx = PgProxy::start("read").await;
    let port = fx.port();
    // Unknown protocol version 2.0.
    let v2 = raw_exchange(port, &[0, 0, 0, 8, 0, 2, 0, 0]).await;
    assert_eq!(v2.first(), Some(&b'E'));
    assert!(String::from_utf8_lossy(&v2).contains("08P01"));
    // A 2 GB length prefix: refused without allocating; the connection closes.
    let huge = raw_exchange(port, &[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]).await;
    assert!(String::from_utf8_lossy(&huge).contains("08P01") || huge.is_empty());
    // Garbage.
    let _ = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    // A replication connection is refused by name.
    let packet = crate::pg_raw::startup_packet(
        0,
        &[
            b"user",
            b"alice",
            b"database",
            b"orders",
            b"replication",
            b"database",
        ],
    );
    let answer = raw_exchange(port, &packet).await;
    assert!(String::from_utf8_lossy(&answer).contains("replication connections are not allowed"));
    // Everyone else is still served.
    fx.connect()
        .await
        .expect("still serving")
        .query_one("SELECT 1", &[])
        .await
        .expect("query");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn psql_with_tls_and_protocol_negotiation() {
    let fx = PgProxy::start("read").await;
    // sslmode=require: TLS to dbward with its generated certificate.
    let out = tokio::process::Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} dbname=orders user=alice password=alice-password-123 sslmode=require",
            fx.port()
        ))
        .args(["-X", "-At", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "-c", "\\conninfo"])
        .output()
        .await
        .expect("psql");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SSL connection"), "{stdout}");
    // channel_binding=require: libpq takes SCRAM-SHA-256-PLUS, bound to dbward's certificate;
    // over plaintext the same setting fails (dbward never offers -PLUS without TLS).
    let run = |mode: &'static str| {
        let port = fx.port();
        async move {
            tokio::process::Command::new("psql")
                .arg(format!(
                    "host=127.0.0.1 port={port} dbname=orders user=alice password=alice-password-123 \
                     sslmode={mode} channel_binding=require"
                ))
                .args(["-X", "-At", "-c", "SELECT 1"])
                .output()
                .await
                .expect("psql")
        }
    };
    let bound = run("require").await;
    assert!(
        bound.status.success(),
        "{}",
        String::from_utf8_lossy(&bound.stderr)
    );
    let plain = run("disable").await;
    assert!(!plain.status.success());
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("channel binding"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    // A client asking for protocol 3.2 (libpq 18) is negotiated down to 3.0.
    let login: &[&[u8]] = &[b"user", b"alice", b"database", b"orders"];
    let packet = crate::pg_raw::startup_packet(2, login);
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .expect("tcp");
    tcp.write_all(&packet).await.expect("write");
    let mut head = [0u8; 13];
    tcp.read_exact(&mut head).await.expect("answer");
    assert_eq!(head[0], b'v', "NegotiateProtocolVersion first");
    assert_eq!(&head[5..9], &[0, 0, 0, 0], "newest minor: 0");
    // GSSENCRequest (libpq sends it first when it holds Kerberos credentials): declined with
    // 'N', and the client goes on in plaintext on the same connection.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .expect("tcp");
    tcp.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])
        .await
        .expect("write");
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await.expect("answer");
    assert_eq!(answer[0], b'N', "GSSAPI encryption declined");
    tcp.write_all(&crate::pg_raw::startup_packet(0, login))
        .await
        .expect("startup");
    tcp.read_exact(&mut answer).await.expect("answer");
    assert_eq!(answer[0], b'R', "an authentication request follows");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn connections_and_session_ends_are_audited() {
    let fx = PgProxy::start("read").await;
    let client = fx.connect().await.expect("connect");
    client.query_one("SELECT 1", &[]).await.expect("query");
    drop(client);
    let base = format!(
        "host=127.0.0.1 port={} dbname=orders sslmode=disable",
        fx.port()
    );
    for (user, password) in [("alice", "wrong-password"), ("ghost", "whatever-password")] {
        let conninfo = format!("{base} user={user} password={password}");
        assert!(
            tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
                .await
                .is_err()
        );
    }
    let conninfo = format!("{base} user=alice password=alice-password-123")
        .replace("dbname=orders", "dbname=nope");
    assert!(
        tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .is_err()
    );
    // Rows appear once the session task has finished: poll with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let rows = loop {
        let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=100", None).await;
        let rows: Vec<serde_json::Value> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| r["kind"] == "connection")
            .cloned()
            .collect();
        if rows.len() >= 5 || std::time::Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let summary: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default().to_owned(),
                r["outcome"].as_str().unwrap_or_default().to_owned(),
                r["actor_username"].as_str().unwrap_or_default().to_owned(),
                r["details"]["reason"]
                    .as_str()
                    .or(r["details"]["end"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    for expected in [
        ("pg.connect", "success", "alice", ""),
        ("pg.session_end", "success", "alice", "client_quit"),
        ("pg.connect", "failure", "alice", "wrong_password"),
        ("pg.connect", "failure", "ghost", "unknown_user"),
        ("pg.connect", "failure", "alice", "unknown_database"),
    ] {
        let e = (
            expected.0.to_owned(),
            expected.1.to_owned(),
            expected.2.to_owned(),
            expected.3.to_owned(),
        );
        assert!(summary.contains(&e), "{e:?} missing from {summary:#?}");
    }
    let session_row = rows
        .iter()
        .find(|r| r["action"] == "pg.connect" && r["outcome"] == "success")
        .expect("row");
    assert_eq!(session_row["details"]["level"], "read");
    assert!(session_row["entity_id"].is_string(), "the session id");
    assert_eq!(session_row["session_id"], session_row["entity_id"]);
    assert_eq!(session_row["database"], "orders");
    let end = rows
        .iter()
        .find(|r| r["action"] == "pg.session_end")
        .expect("session end");
    // One statement (tokio-postgres's Parse + Execute of SELECT 1), one row of result.
    assert_eq!(end["details"]["statements"], 1, "{end}");
    assert!(
        end["details"]["result_bytes"].as_i64().expect("bytes") > 0,
        "{end}"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn per_grant_statement_timeout_applies_upstream() {
    let dbward = crate::harness::Dbward::start().await;
    let upstream = crate::harness::PgDatabase::create().await;
    let fx = PgProxy::register(dbward, upstream).await;
    let (s, g) = fx
        .post_grant(serde_json::json!({"statement_timeout_ms": 300}))
        .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["statement_timeout_ms"], 300);
    let client = fx.connect().await.expect("connect");
    let shown: String = client
        .query_one("SHOW statement_timeout", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(shown, "300ms");
    let err = client
        .batch_execute("SELECT pg_sleep(3)")
        .await
        .expect_err("timed out");
    assert_eq!(sqlstate(&err), "57014", "{err}");
    let (s, bad) = fx
        .post_grant(serde_json::json!({"statement_timeout_ms": 0}))
        .await;
    assert_eq!(s, 400, "{bad}");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn read_sessions_cannot_switch_off_read_only() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql("CREATE TABLE t (x int)").await;
    let client = fx.connect().await.expect("connect");
    for sql in [
        "BEGIN READ WRITE; INSERT INTO t VALUES (1); COMMIT",
        "SET default_transaction_read_only = off; COMMIT; INSERT INTO t VALUES (2)",
        "SELECT set_config('default_transaction_' || 'read_only', 'off', false)",
        "START TRANSACTION /* x */ READ /* y */ WRITE",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&err), "42501", "{sql}: {err}");
        // The session stays usable, and no transaction was left open.
        let _ = client.batch_execute("ROLLBACK").await;
        client
            .query_one("SELECT 1", &[])
            .await
            .expect("still usable");
    }
    // Extended protocol: the Parse is refused and the session goes on.
    let err = client
        .prepare("BEGIN READ WRITE")
        .await
        .expect_err("refused at Parse");
    assert_eq!(sqlstate(&err), "42501", "{err}");
    let n: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0);
    let n: i64 = fx.upstream_count("t").await;
    assert_eq!(n, 0, "nothing was written upstream");
    fx.dbward.stop().await;
    // A write grant is not guarded (its session is not read-only anyway).
    let fx = PgProxy::start("write").await;
    let client = fx.connect().await.expect("connect");
    client
        .batch_execute("BEGIN READ WRITE; COMMIT")
        .await
        .expect("allowed for write");
    fx.dbward.stop().await;
}

/// A dead upstream, during a session and at login, is an error psql shows as it is: the
/// server's own FATAL when an administrator ends the upstream backend, and dbward's `08006`
/// naming the database when nothing listens where it points.
#[tokio::test]
async fn a_dead_upstream_is_a_readable_error() {
    let fx = PgProxy::start("read").await;
    let c = fx.connect().await.expect("connect");
    let pid: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    fx.direct()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    let e = c.simple_query("SELECT 1").await.expect_err("upstream gone");
    let shown = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned());
    assert!(
        shown.contains("terminating connection due to administrator command") || e.is_closed(),
        "{e:?}"
    );
    fx.dbward.point_at_a_closed_port(fx.db_id).await;
    let (ok, _, err) = fx.psql(&["-c", "SELECT 1"]).await;
    assert!(!ok);
    assert!(
        err.contains("FATAL:  could not connect to the upstream of database")
            && err.contains(&format!("\"{}\"", fx.db_name)),
        "{err}"
    );
    fx.dbward.stop().await;
}
