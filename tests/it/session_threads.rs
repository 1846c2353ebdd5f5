//! Where sessions run: on dbward's session threads (the default), or on the main runtime with
//! `runtime.session_threads = 0`; both serve the same sessions, and the threads end with
//! dbward. Thread names are read from `/proc/self/task`: nextest runs each test in a process
//! of its own, so the threads seen are this test's dbward's.

use std::time::Duration;

use crate::pg_fixture::PgProxy;

/// Names of this process's threads that start with `prefix`.
fn threads_named(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Runs `n` sessions at once, each its own statements, one of them streaming a large result
/// meanwhile; every one must see its own answers.
async fn concurrent_sessions(fx: &PgProxy, n: i32) {
    let bulk = fx.connect().await.expect("connect");
    let streaming = tokio::spawn(async move {
        let rows = bulk
            .query(
                "SELECT repeat('x', 1000) FROM generate_series(1, 20000)",
                &[],
            )
            .await
            .expect("bulk result");
        rows.len()
    });
    let mut sessions = Vec::new();
    for i in 0..n {
        let client = fx.connect().await.expect("connect");
        sessions.push(tokio::spawn(async move {
            for j in 0..50 {
                let row = client
                    .query_one("SELECT $1::int * 1000 + $2::int", &[&i, &j])
                    .await
                    .expect("query");
                assert_eq!(row.get::<_, i32>(0), i * 1000 + j);
            }
        }));
    }
    for s in sessions {
        s.await.expect("session");
    }
    assert_eq!(streaming.await.expect("bulk"), 20000);
}

#[tokio::test]
async fn sessions_run_on_session_threads_that_end_with_dbward() {
    let fx = PgProxy::start_with("read", |c| c.runtime.session_threads = Some(3)).await;
    assert_eq!(threads_named("dbward-session-").len(), 3);
    concurrent_sessions(&fx, 6).await;
    let (ok, out, err) = fx.psql(&["-At", "-c", "SELECT 40 + 2"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "42");
    fx.dbward.stop().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !threads_named("dbward-session-").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "session threads still running after shutdown: {:?}",
            threads_named("dbward-session-")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sessions_run_on_the_main_runtime_with_no_session_threads() {
    let fx = PgProxy::start_with("read", |c| c.runtime.session_threads = Some(0)).await;
    assert!(threads_named("dbward-session-").is_empty());
    concurrent_sessions(&fx, 4).await;
    let (ok, out, err) = fx.psql(&["-At", "-c", "SELECT 40 + 2"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "42");
    fx.dbward.stop().await;
}
