//! Results stream through dbward with bounded memory, also to a slow reader. CI streams
//! 200 MB; the `heavy` profile sets `DBWARD_TEST_STREAM_MB=1024` for the full-size figure.

use std::time::Duration;

use futures_util::StreamExt as _;

use crate::harness::{DbwardProcess, PgDatabase};

/// How much dbward's peak RSS may grow while streaming, whatever the result's size.
const RSS_GROWTH_CEILING_KIB: u64 = 16 * 1024;
/// Its absolute peak: the baseline already holds argon2id's 19 MiB working buffers, which glibc
/// keeps after the bootstrap and user-creation hashes.
const RSS_CEILING_KIB: u64 = 96 * 1024;

#[tokio::test]
async fn large_results_stream_with_bounded_memory() {
    let mb: i64 = std::env::var("DBWARD_TEST_STREAM_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let upstream = PgDatabase::create().await;
    let dbward = DbwardProcess::spawn().await;
    let conninfo = dbward.grant_alice(&upstream, "big", "read").await;
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    dbward.reset_peak_rss();
    let baseline = dbward.status_kib("VmRSS");
    // Rows of 8 kB: 128 per MB. The second half is read slowly (a pause every 4 MB), so
    // dbward must hold the upstream back instead of buffering.
    let rows = mb * 128;
    let stream = client
        .query_raw(
            "SELECT repeat('x', 8192) FROM generate_series(1, $1::int8)",
            [rows],
        )
        .await
        .expect("query");
    futures_util::pin_mut!(stream);
    let mut bytes = 0usize;
    let mut n = 0i64;
    while let Some(row) = stream.next().await {
        let row = row.expect("row");
        bytes += row.get::<_, &str>(0).len();
        n += 1;
        if n > rows / 2 && n % 512 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(n, rows);
    assert_eq!(bytes, usize::try_from(rows).expect("rows") * 8192);
    let peak = dbward.status_kib("VmHWM");
    eprintln!("streamed {mb} MB: dbward RSS baseline {baseline} KiB, peak {peak} KiB");
    assert!(
        peak < RSS_CEILING_KIB,
        "peak RSS {peak} KiB while streaming {mb} MB"
    );
    assert!(
        peak.saturating_sub(baseline) < RSS_GROWTH_CEILING_KIB,
        "RSS grew from {baseline} to {peak} KiB while streaming {mb} MB"
    );
}

#[tokio::test]
async fn copy_from_stdin_of_100_mb() {
    use futures_util::SinkExt as _;
    let mb: usize = std::env::var("DBWARD_TEST_COPY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let fx = crate::pg_fixture::PgProxy::start("write").await;
    fx.upstream_sql("CREATE TABLE blobs (line text)").await;
    let client = fx.connect().await.expect("connect");
    let sink = client.copy_in("COPY blobs FROM STDIN").await.expect("copy");
    futures_util::pin_mut!(sink);
    let line = format!("{}\n", "y".repeat(1023));
    let chunk = bytes::Bytes::from(line.repeat(64)); // 64 KiB
    for _ in 0..mb * 16 {
        sink.send(chunk.clone()).await.expect("send");
    }
    let rows = sink.finish().await.expect("finish");
    assert_eq!(rows, u64::try_from(mb * 1024).expect("rows"));
    let size: i64 = fx
        .direct()
        .await
        .query_one("SELECT sum(length(line))::int8 FROM blobs", &[])
        .await
        .expect("sum")
        .get(0);
    assert_eq!(size, i64::try_from(mb * 1024 * 1023).expect("size"));
    fx.dbward.stop().await;
}
