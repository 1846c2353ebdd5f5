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
