//! Connection caps and session timeouts.

use std::time::Duration;

use tokio::io::AsyncReadExt as _;

use crate::pg_fixture::PgProxy;

fn code(e: &tokio_postgres::Error) -> (String, String) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {e}"));
    (db.code().code().to_owned(), db.message().to_owned())
}

#[tokio::test]
async fn sessions_per_grant_and_per_user_are_capped() {
    let fx = PgProxy::start_with("read", |c| {
        c.limits.max_sessions_per_grant = 2;
        c.limits.max_sessions_per_user = 3;
    })
    .await;
    let a = fx.connect().await.expect("first");
    let _b = fx.connect().await.expect("second");
    let Err(err) = fx.connect().await else {
        panic!("third session accepted");
    };
    assert_eq!(
        code(&err),
        (
            "53300".into(),
            "too many sessions on this grant (limit 2)".into()
        )
    );
    drop(a);
    // A slot frees when a session ends.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match fx.connect().await {
            Ok(_) => break,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("slot never freed: {e}"),
        }
    }
    fx.dbward.stop().await;
}

#[tokio::test]
async fn total_connections_are_capped_before_the_handshake() {
    let fx = PgProxy::start_with("read", |c| c.limits.max_connections = 2).await;
    let _x = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .expect("tcp");
    let _y = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .expect("tcp");
    let mut z = tokio::net::TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .expect("tcp");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), z.read_to_end(&mut answer))
        .await
        .expect("answered at once")
        .expect("read");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.first() == Some(&b'E') && text.contains("53300"),
        "{text}"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn idle_in_transaction_sessions_end_and_roll_back() {
    let fx = PgProxy::start_with("write", |c| {
        c.limits.idle_in_transaction_timeout = Duration::from_secs(1);
    })
    .await;
    fx.upstream_sql("CREATE TABLE t (x int)").await;
    let (client, conn) = tokio_postgres::connect(&fx.conninfo(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let conn = tokio::spawn(conn);
    client
        .batch_execute("BEGIN; INSERT INTO t VALUES (1)")
        .await
        .expect("in transaction");
    let err = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("ended")
        .expect("join")
        .expect_err("FATAL");
    assert_eq!(code(&err).0, "25P03");
    let n: i64 = fx.upstream_count("t").await;
    assert_eq!(n, 0, "rolled back");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn idle_sessions_end_but_busy_ones_do_not() {
    let fx = PgProxy::start_with("read", |c| {
        c.limits.idle_session_timeout = Duration::from_secs(1);
    })
    .await;
    let (client, conn) = tokio_postgres::connect(&fx.conninfo(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let conn = tokio::spawn(conn);
    // A query longer than the timeout is not idleness.
    client
        .batch_execute("SELECT pg_sleep(1.5)")
        .await
        .expect("a busy session is not idle");
    let err = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("ended")
        .expect("join")
        .expect_err("FATAL");
    assert_eq!(
        code(&err),
        (
            "57P05".into(),
            "terminating connection due to idle-session timeout".into()
        )
    );
    fx.dbward.stop().await;
}

/// Reads until dbward closes the connection; returns what it sent and how long that took.
async fn until_closed(s: &mut tokio::net::TcpStream) -> (Vec<u8>, Duration) {
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("closed within 10 s")
        .expect("read");
    (answer, started.elapsed())
}

#[tokio::test]
async fn the_handshake_timeout_closes_silent_and_stalled_clients() {
    use tokio::io::AsyncWriteExt as _;
    let fx = PgProxy::start_with("read", |c| {
        c.pg.handshake_timeout = Duration::from_millis(500);
    })
    .await;
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", fx.port()));
    // Silent (a port scanner, a client that hung before its startup packet): closed.
    let mut s = connect().await.expect("connect");
    let (answer, waited) = until_closed(&mut s).await;
    assert!(answer.is_empty(), "{answer:?}");
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    // TLS asked for, then no TLS handshake: closed.
    let mut s = connect().await.expect("connect");
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .await
        .expect("SSLRequest");
    let (answer, waited) = until_closed(&mut s).await;
    assert_eq!(answer, b"S");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // A startup packet, then no answer to the password request: FATAL 08P01 saying why.
    let mut s = connect().await.expect("connect");
    let mut startup = vec![0, 3, 0, 0];
    for kv in [&b"user"[..], b"alice", b"database", b"orders"] {
        startup.extend_from_slice(kv);
        startup.push(0);
    }
    startup.push(0);
    let mut packet = u32::try_from(startup.len() + 4)
        .expect("len")
        .to_be_bytes()
        .to_vec();
    packet.extend_from_slice(&startup);
    s.write_all(&packet).await.expect("startup");
    let (answer, waited) = until_closed(&mut s).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(
        answer.first(),
        Some(&b'R'),
        "the password request first: {answer:?}"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("C08P01"), "{text}");
    assert!(text.contains("timed out during authentication"), "{text}");
    // The refusal is audited (just after the client hears it).
    let mut audited = false;
    for _ in 0..100 {
        let (_, trail) = fx
            .dbward
            .admin("GET", "/api/audit?action=pg.connect", None)
            .await;
        if trail.to_string().contains("\"reason\":\"timeout\"") {
            audited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(audited, "a pg.connect row with reason timeout");
    // Everyone else keeps working.
    fx.connect()
        .await
        .expect("still serving")
        .query_one("SELECT 1", &[])
        .await
        .expect("query");
    fx.dbward.stop().await;
}
