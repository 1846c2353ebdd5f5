//! A TLS client that reads slowly still receives every byte of a result, and the session goes
//! on. tokio-rustls accepts a write into its session and keeps the encrypted tail there when the
//! socket is full; unless dbward flushes, the end of a response waits for a next write that never
//! comes while the client waits for that end (the hang CI once met streaming 200 MB over TLS).
//!
//! The reader drains the client's stdout at about 12 MB/s, slower than dbward relays, so the
//! socket to the client stays full and the last write of each response meets a full socket.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;

use crate::my_fixture::MyProxy;
use crate::pg_fixture::PgProxy;

/// Rows of 1,020 bytes: 24 MB, a few times what the loopback socket buffers hold.
const ROWS: u64 = 24 * 1024;

/// Reads `child`'s stdout slowly to its end; returns the bytes read. Panics after 60 s.
async fn read_slowly(mut child: tokio::process::Child) -> u64 {
    let mut stdout = child.stdout.take().expect("stdout");
    let drain = async {
        let mut total = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdout.read(&mut buf).await.expect("read");
            if n == 0 {
                break total;
            }
            total += n as u64;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let total = tokio::time::timeout(Duration::from_mins(1), drain)
        .await
        .expect("the client stalled: the end of a response never arrived");
    let status = child.wait().await.expect("wait");
    assert!(status.success(), "client exited with {status}");
    total
}

#[tokio::test]
async fn psql_over_tls_reading_slowly_gets_every_result() {
    let fx = PgProxy::start("read").await;
    // Two results in one session: the first must end completely for the second to run.
    let copy = format!("COPY (SELECT repeat('x', 1019) FROM generate_series(1, {ROWS})) TO STDOUT");
    let child = tokio::process::Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} dbname=orders user=alice password=alice-password-123 sslmode=require",
            fx.port()
        ))
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", &copy, "-c", &copy])
        .stdout(Stdio::piped())
        .spawn()
        .expect("psql");
    let total = read_slowly(child).await;
    assert_eq!(total, 2 * ROWS * 1020);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn mysql_over_tls_reading_slowly_gets_every_result() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let select = format!("SELECT REPEAT('x', 1019) FROM seq_1_to_{ROWS}");
    let child = fx
        .mysql_command(&["--quick", "-e", &format!("{select}; {select}")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mysql");
    let total = read_slowly(child).await;
    assert_eq!(total, 2 * ROWS * 1020);
    fx.dbward.stop().await;
}
