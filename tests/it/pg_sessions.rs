//! Sessions end within a second, with a FATAL error saying why, when their grant expires or is
//! revoked, their user is disabled, their database changes, or an admin kills them; the running
//! upstream query is cancelled and the upstream backend goes away.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinHandle;

use crate::pg_fixture::PgProxy;

type Conn = JoinHandle<Result<(), tokio_postgres::Error>>;

async fn connect(fx: &PgProxy) -> (tokio_postgres::Client, Conn) {
    let (client, conn) = tokio_postgres::connect(&fx.conninfo(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    (client, tokio::spawn(conn))
}

/// Waits for the connection to end and returns the FATAL error dbward sent.
async fn fatal_of(conn: Conn, within: Duration) -> tokio_postgres::error::DbError {
    let result = tokio::time::timeout(within, conn)
        .await
        .expect("the session ended in time")
        .expect("join");
    let err = result.expect_err("ended by an error");
    err.as_db_error()
        .cloned()
        .unwrap_or_else(|| panic!("not a server error: {err}"))
}

/// Waits until no backend of the fixture's upstream database belongs to a dbward session.
async fn upstream_backends_gone(fx: &PgProxy) {
    let direct = fx.direct().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = direct
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'dbward:%'",
                &[&fx.upstream.name],
            )
            .await
            .expect("activity")
            .get(0);
        if n == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} upstream backends still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn revoking_the_grant_ends_idle_and_busy_sessions() {
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (x int)").await;
    let grants = fx.dbward.admin("GET", "/api/grants", None).await.1;
    let grant_id = grants[0]["id"].as_i64().expect("id");
    let (_idle, idle_conn) = connect(&fx).await;
    let (busy, busy_conn) = connect(&fx).await;
    let (tx, tx_conn) = connect(&fx).await;
    tx.batch_execute("BEGIN; INSERT INTO t VALUES (1)")
        .await
        .expect("in transaction");
    let sleeper = tokio::spawn(async move { busy.batch_execute("SELECT pg_sleep(60)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let revoked_at = Instant::now();
    let (s, _) = fx
        .dbward
        .admin("DELETE", &format!("/api/grants/{grant_id}"), None)
        .await;
    assert_eq!(s, 200);
    for conn in [idle_conn, tx_conn] {
        let e = fatal_of(conn, Duration::from_secs(3)).await;
        assert_eq!(e.code().code(), "57P01");
        assert!(e.message().contains("revoked"), "{}", e.message());
    }
    let sleep_err = tokio::time::timeout(Duration::from_secs(3), sleeper)
        .await
        .expect("the query ended")
        .expect("join")
        .expect_err("interrupted");
    assert!(
        sleep_err
            .as_db_error()
            .is_some_and(|e| e.message().contains("revoked")),
        "{sleep_err}"
    );
    let _ = busy_conn.await;
    assert!(
        revoked_at.elapsed() < Duration::from_secs(3),
        "ended within about a second"
    );
    upstream_backends_gone(&fx).await;
    let n: i64 = fx.upstream_count("t").await;
    assert_eq!(n, 0, "the open transaction was not committed");
    let causes = fx.dbward.end_causes("pg.session_end", 3).await;
    assert_eq!(causes, ["grant_revoked"; 3], "the trail says why");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn grant_expiry_ends_the_session() {
    let dbward = crate::harness::Dbward::start().await;
    let upstream = crate::harness::PgDatabase::create().await;
    let fx = PgProxy::register(dbward, upstream).await;
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let (s, g) = fx
        .post_grant(json!({"expires_at": dbward_core::time::format_rfc3339(expires)}))
        .await;
    assert_eq!(s, 201, "{g}");
    let (_client, conn) = connect(&fx).await;
    let e = fatal_of(conn, Duration::from_secs(5)).await;
    assert_eq!(e.code().code(), "57P01");
    assert!(e.message().contains("expired"), "{}", e.message());
    assert!(time::OffsetDateTime::now_utc() < expires + time::Duration::milliseconds(1500));
    upstream_backends_gone(&fx).await;
    let causes = fx.dbward.end_causes("pg.session_end", 1).await;
    assert_eq!(causes, ["grant_expired"]);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn admin_lists_and_kills_sessions() {
    let fx = PgProxy::start("read").await;
    let (client, conn) = connect(&fx).await;
    // A simple query: `query_one` prepares a statement and closes it when done, and a FATAL
    // that arrives while that Close is unanswered goes to the Close, not to the connection.
    client.simple_query("SELECT 1").await.expect("query");
    let (s, sessions) = fx.dbward.admin("GET", "/api/sessions", None).await;
    assert_eq!(s, 200);
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    let session = &sessions[0];
    assert_eq!(
        (session["username"].as_str(), session["database"].as_str()),
        (Some("alice"), Some("orders"))
    );
    assert_eq!(
        (session["protocol"].as_str(), session["level"].as_str()),
        (Some("postgres"), Some("read"))
    );
    let id = session["id"].as_str().expect("id");
    let (s, _) = fx
        .dbward
        .admin("DELETE", &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(s, 204);
    let e = fatal_of(conn, Duration::from_secs(3)).await;
    assert_eq!(e.code().code(), "57P01");
    assert!(
        e.message()
            .contains("terminated by dbward administrator admin"),
        "{}",
        e.message()
    );
    let (s, _) = fx
        .dbward
        .admin("DELETE", &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(s, 404, "gone");
    let (_, sessions) = fx.dbward.admin("GET", "/api/sessions", None).await;
    assert_eq!(sessions.as_array().map(Vec::len), Some(0));
    upstream_backends_gone(&fx).await;
    let causes = fx.dbward.end_causes("pg.session_end", 1).await;
    assert_eq!(causes, ["killed_by_admin"]);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn disabling_the_user_or_changing_the_database_ends_sessions() {
    let fx = PgProxy::start("read").await;
    let (c1, conn1) = connect(&fx).await;
    // Describing or moving the database is not a change of what dbward connects with: the
    // session lives on through several checks of the watcher.
    let (s, folder) = fx
        .dbward
        .admin("POST", "/api/folders", Some(json!({"name": "prod"})))
        .await;
    assert_eq!(s, 201, "{folder}");
    let (s, _) = fx
        .dbward
        .admin(
            "PATCH",
            &format!("/api/databases/{}", fx.db_id),
            Some(json!({"description": "moved", "folder_id": folder["id"]})),
        )
        .await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c1.simple_query("SELECT 1").await.expect("still connected");
    // Rotating its upstream password is: the session ends.
    let (s, _) = fx
        .dbward
        .admin(
            "PATCH",
            &format!("/api/databases/{}", fx.db_id),
            Some(json!({"password": "rotated-upstream-password"})),
        )
        .await;
    assert_eq!(s, 200);
    let e = fatal_of(conn1, Duration::from_secs(3)).await;
    assert!(
        e.message().contains("connection settings"),
        "{}",
        e.message()
    );

    let (_c2, conn2) = connect(&fx).await;
    let (s, _) = fx
        .dbward
        .admin(
            "PATCH",
            &format!("/api/users/{}", fx.user_id),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, 200);
    let e = fatal_of(conn2, Duration::from_secs(3)).await;
    assert!(e.message().contains("disabled"), "{}", e.message());
    upstream_backends_gone(&fx).await;
    let causes = fx.dbward.end_causes("pg.session_end", 2).await;
    assert_eq!(causes, ["user_disabled", "database_changed"]);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn shutdown_ends_sessions_with_57p01() {
    let fx = PgProxy::start("read").await;
    let (_client, conn) = connect(&fx).await;
    let PgProxy {
        dbward, upstream, ..
    } = fx;
    let stopping = tokio::spawn(dbward.stop());
    let result = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("ended")
        .expect("join");
    let err = result.expect_err("FATAL");
    let db = err.as_db_error().expect("server error");
    assert_eq!(
        (db.code().code(), db.message()),
        ("57P01", "dbward is shutting down")
    );
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("stopped")
        .expect("join");
    drop(upstream);
}

#[tokio::test]
async fn killing_a_session_mid_copy_writes_nothing() {
    use futures_util::SinkExt as _;
    let fx = PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE t (line text)").await;
    let (client, conn) = connect(&fx).await;
    let sink = client.copy_in("COPY t FROM STDIN").await.expect("copy");
    futures_util::pin_mut!(sink);
    for _ in 0..100 {
        sink.send(bytes::Bytes::from_static(b"some line\n"))
            .await
            .expect("send");
    }
    let (_, sessions) = fx.dbward.admin("GET", "/api/sessions", None).await;
    let id = sessions[0]["id"].as_str().expect("id").to_owned();
    let (s, _) = fx
        .dbward
        .admin("DELETE", &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(s, 204);
    let finished = sink.finish().await;
    assert!(finished.is_err(), "the COPY cannot complete");
    let _ = tokio::time::timeout(Duration::from_secs(3), conn)
        .await
        .expect("ended");
    upstream_backends_gone(&fx).await;
    let n: i64 = fx.upstream_count("t").await;
    assert_eq!(n, 0, "nothing of the COPY was committed");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn killing_a_session_mid_result_ends_it_while_rows_still_stream() {
    use futures_util::StreamExt as _;
    let fx = PgProxy::start("read").await;
    let (client, conn) = connect(&fx).await;
    // About 10 GB if it ran to the end: the upstream never pauses while the client reads.
    let stream = client
        .copy_out("COPY (SELECT repeat('x', 1000) FROM generate_series(1, 10000000)) TO STDOUT")
        .await
        .expect("copy out");
    futures_util::pin_mut!(stream);
    let mut received = 0usize;
    while received < 4 << 20 {
        received += stream.next().await.expect("data").expect("chunk").len();
    }
    let (_, sessions) = fx.dbward.admin("GET", "/api/sessions", None).await;
    let id = sessions[0]["id"].as_str().expect("id").to_owned();
    let killed_at = Instant::now();
    let (s, _) = fx
        .dbward
        .admin("DELETE", &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(s, 204);
    // The client keeps reading as fast as it can: the stream must still end, with an error.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.next().await {
                Some(Ok(chunk)) => received += chunk.len(),
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    })
    .await
    .expect("the stream ended after the kill");
    let err = ended.expect_err("a killed COPY must not end as complete");
    // The FATAL comes as the COPY's error (the connection then just closes).
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("not dbward's error: {err}"));
    assert_eq!(db.code().code(), "57P01", "{db}");
    assert!(
        killed_at.elapsed() < Duration::from_secs(2),
        "ended {:?} after the kill",
        killed_at.elapsed()
    );
    assert!(received < 10_000 * 1001 * 1000, "the result was cut short");
    let _ = tokio::time::timeout(Duration::from_secs(3), conn)
        .await
        .expect("the connection ended");
    upstream_backends_gone(&fx).await;
    fx.dbward.stop().await;
}
