//! Bad input at the MySQL front door: malformed handshake responses, oversized and
//! out-of-sequence packets, commands before authentication. Each gets an ERR packet where the
//! protocol allows one and the connection closes; other sessions keep working. And sessions
//! end within a second, with a clear error, when their grant is revoked.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::my_fixture::MyProxy;

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("small");
    let mut p = len.to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

/// Connects, reads the greeting, sends `bytes`, returns everything dbward answers until it
/// closes the connection (within 5 s).
async fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut greeting = [0u8; 4];
    s.read_exact(&mut greeting).await.expect("greeting header");
    let len = usize::from(greeting[0]) | usize::from(greeting[1]) << 8;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.expect("greeting");
    assert_eq!(body[0], 10, "protocol 10");
    let _ = s.write_all(bytes).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "dbward closed the connection");
    answer
}

/// The ERR packet's code in an answer, if it is one.
fn err_code(answer: &[u8]) -> Option<u16> {
    (answer.len() > 7 && answer[4] == 0xFF).then(|| u16::from_le_bytes([answer[5], answer[6]]))
}

/// The code of the last ERR packet among the packets of an answer.
fn last_err_code(mut answer: &[u8]) -> Option<u16> {
    let mut code = None;
    while answer.len() >= 4 {
        let len = usize::from(answer[0]) | usize::from(answer[1]) << 8;
        let Some(packet) = answer.get(..4 + len) else {
            break;
        };
        if err_code(packet).is_some() {
            code = err_code(packet);
        }
        answer = &answer[4 + len..];
    }
    code
}

/// A well-formed `HandshakeResponse41` for alice with a random `caching_sha2_password`
/// answer (wrong, so dbward asks for the password).
fn handshake_response() -> Vec<u8> {
    // PROTOCOL_41, SECURE_CONNECTION, CONNECT_WITH_DB, PLUGIN_AUTH.
    let caps: u32 = 0x0200 | 0x8000 | 0x0008 | 0x8_0000;
    let mut p = caps.to_le_bytes().to_vec();
    p.extend_from_slice(&(1u32 << 24).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(b"alice\0");
    p.push(32);
    p.extend_from_slice(&[7; 32]);
    p.extend_from_slice(b"shop\0caching_sha2_password\0");
    p
}

#[tokio::test]
async fn malformed_and_out_of_order_input_gets_an_error_and_a_close() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let port = fx.port();
    // A command instead of a handshake response.
    let answer = exchange(port, &packet(1, b"\x03SELECT 1")).await;
    assert_eq!(err_code(&answer), Some(1043), "{answer:?}");
    // Garbage.
    let answer = exchange(port, &packet(1, &[0xFF; 40])).await;
    assert!(err_code(&answer).is_some(), "{answer:?}");
    // Wrong sequence id.
    let answer = exchange(port, &packet(7, &[0u8; 40])).await;
    assert!(err_code(&answer).is_some(), "{answer:?}");
    // A well-formed response with a wrong sequence id: "packets out of order", as a MySQL
    // server answers.
    let answer = exchange(port, &packet(7, &handshake_response())).await;
    assert_eq!(err_code(&answer), Some(1156), "{answer:?}");
    // The right one, then an answer to dbward's "perform full authentication" (sequence 2)
    // out of sequence: asking for the RSA key with 9 instead of 3.
    let mut bytes = packet(1, &handshake_response());
    bytes.extend_from_slice(&packet(9, &[0x02]));
    let answer = exchange(port, &bytes).await;
    assert_eq!(answer.get(4..6), Some(&[0x01, 0x04][..]), "{answer:?}");
    assert_eq!(last_err_code(&answer), Some(1156), "{answer:?}");
    // A packet far over the handshake ceiling: refused from its header, without buffering it.
    let mut huge = vec![0xFF, 0xFF, 0xFF, 1];
    huge.extend_from_slice(&[0u8; 1024]);
    let answer = exchange(port, &huge).await;
    assert_eq!(err_code(&answer), Some(1153), "{answer:?}");
    // Everyone else keeps working.
    let (ok, out, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");
    // Refused handshakes are audited.
    let (_, audit) = fx.dbward.admin("GET", "/api/audit?limit=50", None).await;
    assert!(audit.to_string().contains("bad_protocol"), "{audit}");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn revoking_the_grant_ends_the_session_within_a_second() {
    use sqlx::Executor as _;
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let mut c = fx.sqlx().await;
    c.execute("SELECT 1").await.expect("session works");
    let (_, grants) = fx.dbward.admin("GET", "/api/grants", None).await;
    let id = grants
        .as_array()
        .or_else(|| grants["items"].as_array())
        .and_then(|g| g.first())
        .and_then(|g| g["id"].as_i64())
        .expect("grant id");
    let (s, body) = fx
        .dbward
        .admin("DELETE", &format!("/api/grants/{id}"), None)
        .await;
    assert!(s == 200 || s == 204, "{s} {body}");
    let started = std::time::Instant::now();
    let err = loop {
        match c.execute("SELECT 1").await {
            Err(e) => break e,
            Ok(_) if started.elapsed() < Duration::from_secs(3) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(_) => panic!("the session outlived its revoked grant"),
        }
    };
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.to_string().contains("revoked") || err.to_string().contains("1927"),
        "{err}"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn idle_sessions_end_with_a_clear_error() {
    use sqlx::Executor as _;
    let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.limits.idle_session_timeout = Duration::from_secs(1);
    })
    .await;
    let mut c = fx.sqlx().await;
    c.execute("SELECT 1").await.expect("session works");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let e = c.execute("SELECT 1").await.expect_err("ended while idle");
    assert!(e.to_string().contains("idle"), "{e}");
    let causes = fx.dbward.end_causes("mysql.session_end", 1).await;
    assert_eq!(causes, ["idle_timeout"]);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn the_handshake_timeout_closes_silent_and_stalled_clients() {
    let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.mysql.handshake_timeout = Duration::from_millis(500);
        c.auth.credential_cache_ttl = Duration::ZERO;
    })
    .await;
    let port = fx.port();
    // Silent after the greeting (a port scanner, a client that hung): closed, without an
    // answer it would not read.
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (greeting, waited) = crate::harness::until_closed(&mut s).await;
    assert_eq!(
        greeting.get(4),
        Some(&10),
        "the greeting only: {greeting:?}"
    );
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    // A truncated handshake response, then silence.
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let response = packet(1, &handshake_response());
    s.write_all(&response[..20]).await.expect("write");
    let (_, waited) = crate::harness::until_closed(&mut s).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // A whole response, then no answer to "perform full authentication": a clear ERR.
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(&response).await.expect("write");
    let (answer, waited) = crate::harness::until_closed(&mut s).await;
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let text = String::from_utf8_lossy(&answer);
    assert!(last_err_code(&answer).is_some(), "{answer:?}");
    assert!(text.contains("timed out during authentication"), "{text}");
    // Everyone else keeps working.
    let (ok, out, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");
    fx.dbward.stop().await;
}

/// `mysql.max_message_bytes` bounds the commands dbward reads whole: a bigger one gets ERR
/// 1153 and the connection closes. Results stream whatever their size.
#[tokio::test]
async fn oversized_commands_are_refused_and_large_results_pass() {
    use mysql_async::prelude::Queryable as _;
    let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.mysql.max_message_bytes = 1 << 20;
    })
    .await;
    let mut conn = mysql_async::Conn::new(fx.mysql_async_opts())
        .await
        .expect("connect");
    let big: String = conn
        .query_first("SELECT REPEAT('x', 3000000)")
        .await
        .expect("a 3 MB value streams")
        .expect("a row");
    assert_eq!(big.len(), 3_000_000);
    let err = conn
        .query_drop(format!("SELECT '{}'", "z".repeat(2 << 20)))
        .await
        .expect_err("a 2 MB command over the 1 MiB ceiling");
    match &err {
        mysql_async::Error::Server(e) => assert_eq!(e.code, 1153, "{e:?}"),
        other => panic!("an ERR packet, not {other:?}"),
    }
    assert!(
        conn.query_drop("SELECT 1").await.is_err(),
        "the connection is closed"
    );
    let (ok, out, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");
    fx.dbward.stop().await;
}

/// The session caps and the idle-in-transaction timeout on the MySQL front door, as on the
/// PostgreSQL one: a third session on a grant capped at 2 gets ERR 1040 naming the cap, a slot
/// frees when a session ends; connections beyond `limits.max_connections` get ERR 1040 before
/// the handshake; a session idle inside a transaction is ended, its transaction rolled back.
#[tokio::test]
async fn mysql_session_caps_and_idle_transactions() {
    use mysql_async::prelude::Queryable as _;
    let fx = MyProxy::start_with("write", serde_json::json!({}), |c| {
        c.limits.max_sessions_per_grant = 2;
        c.limits.max_sessions_per_user = 3;
        c.limits.max_connections = 3;
        c.limits.idle_in_transaction_timeout = Duration::from_secs(1);
    })
    .await;
    fx.upstream.sql("CREATE TABLE t (x int)");
    let connect = || mysql_async::Conn::new(fx.mysql_async_opts());
    let a = connect().await.expect("first");
    let mut b = connect().await.expect("second");
    match connect().await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1040, "{e:?}");
            assert_eq!(e.message, "too many sessions on this grant (limit 2)");
        }
        other => panic!("a third session on the grant: {other:?}"),
    }
    // Two sessions and a third connection held open before its handshake: the listener's cap.
    // (The refused session's connection gives its place back once its task has ended, which
    // may come after its client heard the refusal: retry until the third is greeted.)
    let held = loop {
        let mut s = TcpStream::connect(("127.0.0.1", fx.port()))
            .await
            .expect("tcp");
        let mut header = [0u8; 5];
        s.read_exact(&mut header).await.expect("an answer");
        if header[4] == 10 {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut over = TcpStream::connect(("127.0.0.1", fx.port()))
        .await
        .expect("tcp");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), over.read_to_end(&mut answer)).await;
    assert_eq!(err_code(&answer), Some(1040), "{answer:?}");
    assert!(String::from_utf8_lossy(&answer).contains("too many connections to dbward"));
    drop(held);
    a.disconnect().await.expect("disconnect");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let _c = loop {
        match connect().await {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = e;
            }
            Err(e) => panic!("the slot never freed: {e}"),
        }
    };
    // Idle inside a transaction: ended, rolled back.
    b.query_drop("BEGIN").await.expect("begin");
    b.query_drop("INSERT INTO t VALUES (1)")
        .await
        .expect("insert");
    tokio::time::sleep(Duration::from_millis(1800)).await;
    // The ERR (4031, as MySQL 8 sends at its wait_timeout) comes unasked, with sequence id 0;
    // mysql_async reports it as packets out of sync (sqlx shows its text, see above).
    b.query_drop("COMMIT")
        .await
        .expect_err("ended while idle in a transaction");
    assert_eq!(
        fx.upstream.sql("SELECT COUNT(*) FROM t"),
        "0",
        "rolled back"
    );
    let causes = fx.dbward.end_causes("mysql.session_end", 2).await;
    assert!(
        causes.iter().any(|c| c == "idle_in_transaction_timeout"),
        "{causes:?}"
    );
    fx.dbward.stop().await;
}
