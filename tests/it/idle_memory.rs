//! Memory per idle session, by the test process's own heap: the in-process dbward's live heap
//! (counted by the test binary's allocator, [`crate::live_heap_bytes`]) as real clients open
//! idle TLS sessions in two groups. The growth from the first group to the second, less what
//! the relays' buffer pools took meanwhile (bounded per thread, not per session), divided by the
//! second group's size, is what one more idle session costs; SQLite's page cache is C memory and
//! not counted (it grows with the audit rows, not with sessions). The bound is the issues'
//! target, 16 KiB per idle session; the build measured is the debug one, whose futures are
//! larger than the release build's.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

use crate::my_fixture::MyProxy;
use crate::pg_fixture::PgProxy;

/// Sessions per group.
const GROUP: usize = 20;

/// The target per idle session.
const BOUND: i64 = 16 * 1024;

/// The live heap, less the buffer pools, once it has settled (the watcher's once-a-second list
/// of sessions, the login's leftovers).
async fn settled_heap() -> i64 {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pooled = i64::try_from(dbward_proxy::buffers::pooled_bytes()).unwrap_or_default();
    crate::live_heap_bytes() - pooled
}

/// Runs `tests/clients/idle_sessions.py` with `args`; returns the heap growth per session from
/// the first group of [`GROUP`] sessions to the second.
async fn per_idle_session(args: &[String]) -> i64 {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/idle_sessions.py"
    );
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .args(args)
        .arg(GROUP.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(open_count(&mut lines).await, GROUP);
    let first = settled_heap().await;
    stdin.write_all(b"more\n").await.expect("write");
    assert_eq!(open_count(&mut lines).await, 2 * GROUP);
    let second = settled_heap().await;
    drop(stdin);
    let _ = child.wait().await;
    (second - first) / i64::try_from(GROUP).unwrap_or(1)
}

/// The client's next report: how many sessions it holds open.
async fn open_count(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> usize {
    let line = tokio::time::timeout(Duration::from_mins(1), lines.next_line())
        .await
        .expect("the sessions open in time")
        .expect("read")
        .expect("the client reports its sessions (its standard error says why not)");
    line.parse().expect("a count")
}

#[tokio::test]
async fn an_idle_mysql_tls_session_holds_at_most_16_kib() {
    let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.limits.max_sessions_per_grant = 0;
        c.limits.max_sessions_per_user = 0;
    })
    .await;
    let per_session = per_idle_session(&[
        "mysql".into(),
        fx.port().to_string(),
        "alice".into(),
        fx.password.clone(),
        "shop".into(),
    ])
    .await;
    eprintln!("an idle MySQL TLS session: {per_session} bytes of heap");
    assert!(
        (1024..=BOUND).contains(&per_session),
        "an idle MySQL TLS session holds {per_session} bytes (at most {BOUND})"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn an_idle_postgres_tls_session_holds_at_most_16_kib() {
    let fx = PgProxy::start_with("read", |c| {
        c.limits.max_sessions_per_grant = 0;
        c.limits.max_sessions_per_user = 0;
    })
    .await;
    let per_session = per_idle_session(&["pg".into(), fx.conninfo()]).await;
    eprintln!("an idle PostgreSQL TLS session: {per_session} bytes of heap");
    assert!(
        (1024..=BOUND).contains(&per_session),
        "an idle PostgreSQL TLS session holds {per_session} bytes (at most {BOUND})"
    );
    fx.dbward.stop().await;
}
