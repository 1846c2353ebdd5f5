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
    let causes = fx.dbward.end_causes("pg.session_end", 1).await;
    assert_eq!(causes, ["idle_in_transaction_timeout"]);
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
    let causes = fx.dbward.end_causes("pg.session_end", 1).await;
    assert_eq!(causes, ["idle_timeout"]);
    fx.dbward.stop().await;
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
    let (answer, waited) = crate::harness::until_closed(&mut s).await;
    assert!(answer.is_empty(), "{answer:?}");
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    // TLS asked for, then no TLS handshake: closed.
    let mut s = connect().await.expect("connect");
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .await
        .expect("SSLRequest");
    let (answer, waited) = crate::harness::until_closed(&mut s).await;
    assert_eq!(answer, b"S");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // A startup packet, then no answer to the password request: FATAL 08P01 saying why.
    let mut s = connect().await.expect("connect");
    let packet = crate::pg_raw::startup_packet(0, &[b"user", b"alice", b"database", b"orders"]);
    s.write_all(&packet).await.expect("startup");
    let (answer, waited) = crate::harness::until_closed(&mut s).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(
        answer.first(),
        Some(&b'R'),
        "the password request first: {answer:?}"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("C08P01"), "{text}");
    assert!(text.contains("timed out during authentication"), "{text}");
    // The refusal was audited before the client heard it.
    let (_, trail) = fx
        .dbward
        .admin("GET", "/api/audit?action=pg.connect", None)
        .await;
    assert!(
        trail.to_string().contains("\"reason\":\"timeout\""),
        "{trail}"
    );
    // Everyone else keeps working.
    fx.connect()
        .await
        .expect("still serving")
        .query_one("SELECT 1", &[])
        .await
        .expect("query");
    fx.dbward.stop().await;
}

/// The keepalive timers `ss` shows on the established TCP sockets from local port `sport` (to
/// `dport`, if given): seconds left until the first probe, one entry per socket. A socket with
/// data in flight shows its retransmission timer instead, so this asks again (for up to 5 s)
/// until every socket shows its keepalive timer.
pub fn keepalive_timers(sport: u16, dport: Option<u16>) -> Vec<f64> {
    let filter = match dport {
        Some(d) => format!("( sport = :{sport} and dport = :{d} )"),
        None => format!("( sport = :{sport} )"),
    };
    let mut lines = String::new();
    for _ in 0..100 {
        let out = std::process::Command::new("ss")
            .args(["-tnoH", "state", "established", &filter])
            .output()
            .expect("ss");
        lines = String::from_utf8_lossy(&out.stdout).into_owned();
        let timers: Option<Vec<f64>> = lines.lines().map(keepalive_seconds).collect();
        match timers {
            Some(t) if !t.is_empty() => return t,
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    panic!("no keepalive timer on every socket: {lines}");
}

/// The keepalive timer of one line of `ss -o`: `timer:(keepalive,29sec,0)`, `16min` (and,
/// below 10 s, a form the tests avoid).
fn keepalive_seconds(line: &str) -> Option<f64> {
    let timer = line.split("timer:(keepalive,").nth(1)?;
    let split = timer.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = timer.split_at(split);
    let value: f64 = value.parse().ok()?;
    if unit.starts_with("min") {
        Some(value * 60.0)
    } else {
        unit.starts_with("sec").then_some(value)
    }
}

/// `limits.tcp_keepalive` is set on both of a session's sockets, the client's and the
/// upstream's, on both front doors (seen by `ss`: a keepalive timer at most the configured idle
/// time; the MySQL front door's upstream socket had none).
#[tokio::test]
async fn tcp_keepalive_is_on_both_sides() {
    use mysql_async::prelude::Queryable as _;
    let fx = PgProxy::start_with("read", |c| {
        c.limits.tcp_keepalive = Duration::from_secs(30);
    })
    .await;
    let c = fx.connect().await.expect("connect");
    let upstream_port: i32 = c
        .query_one("SELECT inet_client_port()", &[])
        .await
        .expect("port")
        .get(0);
    let client_side = keepalive_timers(fx.port(), None);
    assert_eq!(client_side.len(), 1, "{client_side:?}");
    let upstream_side = keepalive_timers(u16::try_from(upstream_port).expect("port"), Some(5432));
    assert_eq!(upstream_side.len(), 1, "{upstream_side:?}");
    for t in client_side.iter().chain(&upstream_side) {
        assert!(
            (20.0..=30.0).contains(t),
            "a keepalive timer of {t} s, not the configured 30 s (the kernel's default: 7,200)"
        );
    }
    drop(c);
    fx.dbward.stop().await;

    // The MySQL front door: the client's socket and the upstream login's.
    let fx = crate::my_fixture::MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.limits.tcp_keepalive = Duration::from_secs(30);
    })
    .await;
    let mut conn = mysql_async::Conn::new(fx.mysql_async_opts())
        .await
        .expect("connect");
    let host: String = conn
        .query_first("SELECT host FROM information_schema.processlist WHERE id = CONNECTION_ID()")
        .await
        .expect("processlist")
        .expect("a row");
    let upstream_port: u16 = host
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a port in {host}"));
    let timers = [
        keepalive_timers(fx.port(), None),
        keepalive_timers(upstream_port, Some(3306)),
    ];
    for side in &timers {
        assert_eq!(side.len(), 1, "{timers:?}");
        assert!((20.0..=30.0).contains(&side[0]), "{timers:?}");
    }
    drop(conn);
    fx.dbward.stop().await;
}

/// `pg.max_message_bytes` bounds what dbward buffers whole (a query, a Parse): a bigger one ends
/// the session with FATAL 08P01 naming both sizes, judged from its header. What streams through
/// is not bounded by it: a 3 MB value in a result, a 3 MB COPY FROM STDIN.
#[tokio::test]
async fn oversized_client_messages_end_the_session_and_large_results_pass() {
    use futures_util::SinkExt as _;
    let fx = PgProxy::start_with("ddl", |c| c.pg.max_message_bytes = 1 << 20).await;
    let c = fx.connect().await.expect("connect");
    let big: String = c
        .query_one("SELECT repeat('x', 3000000)", &[])
        .await
        .expect("a 3 MB value streams")
        .get(0);
    assert_eq!(big.len(), 3_000_000);
    c.batch_execute("CREATE TABLE t (v text)")
        .await
        .expect("table");
    let sink = c.copy_in("COPY t FROM STDIN").await.expect("copy in");
    futures_util::pin_mut!(sink);
    for _ in 0..3 {
        let line = format!("{}\n", "y".repeat(999_999));
        sink.send(bytes::Bytes::from(line)).await.expect("send");
    }
    assert_eq!(sink.finish().await.expect("finish"), 3);
    let err = c
        .simple_query(&format!("SELECT '{}'", "z".repeat(2 << 20)))
        .await
        .expect_err("a 2 MB query over the 1 MiB ceiling");
    let db = err
        .as_db_error()
        .expect("a FATAL, not a dropped connection");
    assert_eq!(db.code().code(), "08P01", "{db:?}");
    assert!(
        db.message()
            .contains("exceeds dbward's limit of 1048576 bytes"),
        "{}",
        db.message()
    );
    assert!(c.is_closed() || c.simple_query("SELECT 1").await.is_err());
    // Others go on.
    fx.connect()
        .await
        .expect("connect")
        .query_one("SELECT 1", &[])
        .await
        .expect("query");
    fx.dbward.stop().await;
}
