//! A full disk under the default store: the real `dbward` process with its data directory (the
//! SQLite store, the audit head file) on a small tmpfs in its own mount namespace, filled by
//! the test. While nothing can be written, statements are refused with the audit's error
//! before they reach the upstream, admin changes fail whole (no row without its audit entry),
//! reads keep working; once space is freed, everything resumes and every event of an allowed
//! statement is in a chain that still verifies.

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::harness::{DbwardProcess, PgDatabase, json_texts_of};

/// Fills the tmpfs through `path` until the kernel says it is full; returns the bytes written.
fn fill(path: &std::path::Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => panic!("the tmpfs took no more bytes without saying it is full"),
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "ENOSPC expected: {e}");
                return written;
            }
        }
    }
}

/// Allowed `INSERT INTO t` statements in the trail.
async fn insert_events(dbward: &DbwardProcess) -> usize {
    let (status, page) = dbward
        .admin_call(
            "GET",
            "/api/audit?action=statement.allowed&q=insert%20into%20t&limit=1000",
            json!(null),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| json_texts_of(r).len())
        .sum()
}

#[tokio::test]
async fn a_full_disk_refuses_statements_and_changes_then_resumes_with_nothing_lost() {
    let upstream = PgDatabase::create().await;
    let (direct, conn) = tokio_postgres::connect(&upstream.url, tokio_postgres::NoTls)
        .await
        .expect("direct");
    tokio::spawn(conn);
    direct
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .expect("table");
    let dbward =
        DbwardProcess::spawn_on_tmpfs(16 * 1024, "[audit]\nunavailable_wait = \"300ms\"\n").await;
    let conninfo = dbward.grant_alice(&upstream, "orders", "write").await;
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute("INSERT INTO t VALUES (0)")
        .await
        .expect("insert before the disk fills");

    let filler = dbward.data_path("filler");
    let room = fill(&filler);
    assert!(room > 1024 * 1024, "the tmpfs had room to fill: {room}");

    // SQLite's write-ahead log may still hold some room; once a write fails, statements are
    // refused before they run.
    let mut allowed = 1usize;
    let mut refused = None;
    for i in 1..5000 {
        match client
            .batch_execute(&format!("INSERT INTO t VALUES ({i})"))
            .await
        {
            Ok(()) => allowed += 1,
            Err(e) => {
                let db = e
                    .as_db_error()
                    .expect("a database error, not a closed session");
                assert_eq!(db.code().code(), "58000", "{db:?}");
                assert!(db.message().contains("audit"), "{}", db.message());
                refused = Some(i);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = refused.expect("a statement was refused while the disk was full");
    let ran: i64 = direct
        .query_one("SELECT count(*) FROM t WHERE id = $1", &[&refused])
        .await
        .expect("count")
        .get(0);
    assert_eq!(ran, 0, "the refused statement did not reach the upstream");

    // Monitoring sees it: the store still reads, the audit trail cannot be written.
    let (status, health) = dbward.admin_call("GET", "/api/health", json!(null)).await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(
        health,
        json!({"status": "degraded", "store": "ok", "audit": "failing"})
    );

    // An admin change fails whole: no user without its audit entry.
    let (status, body) = dbward
        .admin_call(
            "POST",
            "/api/users",
            json!({"username": "bob", "password": "bob-password-456"}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("disk is full")),
        "{body}"
    );
    let (status, users) = dbward.admin_call("GET", "/api/users", json!(null)).await;
    assert_eq!(status, 200, "reads keep working: {users}");
    assert!(!users.to_string().contains("\"bob\""), "{users}");

    // A new login cannot be audited, so it does not start; the session already open stays.
    let new_login = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await;
    let err = new_login
        .err()
        .expect("a login while the trail cannot be written");
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "08006", "{db:?}");
    assert!(db.message().contains("audit trail"), "{}", db.message());

    std::fs::remove_file(&filler).expect("free the space");
    let mut back = false;
    for _ in 0..200 {
        if client
            .batch_execute("INSERT INTO t VALUES (100000)")
            .await
            .is_ok()
        {
            allowed += 1;
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "statements run again once there is space");
    let (status, health) = dbward.admin_call("GET", "/api/health", json!(null)).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(
        health,
        json!({"status": "ok", "store": "ok", "audit": "ok"})
    );
    dbward
        .admin(
            "POST",
            "/api/users",
            json!({"username": "bob", "password": "bob-password-456"}),
        )
        .await;
    let upstream_rows: i64 = direct
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(upstream_rows, i64::try_from(allowed).expect("count"));

    let mut found = 0;
    for _ in 0..100 {
        found = insert_events(&dbward).await;
        if found == allowed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(found, allowed, "every allowed statement has its event");
    let report = dbward.admin("GET", "/api/audit/verify", json!(null)).await;
    assert_eq!(report["ok"], true, "{report}");
    let head = std::fs::read(dbward.data_path("audit-head.json")).expect("head file");
    let head: serde_json::Value = serde_json::from_slice(&head).expect("a whole head file");
    assert!(head["seq"].as_i64().is_some_and(|s| s > 0), "{head}");
}

#[tokio::test]
async fn a_first_start_on_a_full_disk_says_so_and_the_next_one_starts() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let config = dir.path().join("dbward.toml");
    std::fs::write(&config, "").expect("config");
    // In dbward's own mount namespace: a full tmpfs, a first start, then room and a second.
    let script = r#"
        D="$1"; shift
        mount -t tmpfs -o size=2m,mode=700 dbward-test "$D" || exit 99
        head -c 4194304 /dev/zero > "$D/filler" 2>/dev/null
        "$@" 2>&1; echo "first start exited: $?"
        rm "$D/filler"
        exec "$@"
    "#;
    let mut child = tokio::process::Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&data)
        .arg(env!("CARGO_BIN_EXE_dbward"))
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--pg-listen",
            "127.0.0.1:0",
        ])
        .args(["--mysql-listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .env("DBWARD_ADMIN_PASSWORD", crate::harness::ADMIN_PASSWORD)
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("unshare");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut first = Vec::new();
    let started = loop {
        let line = tokio::time::timeout(Duration::from_mins(1), lines.next_line())
            .await
            .expect("output in time")
            .expect("read")
            .unwrap_or_else(|| panic!("dbward ended: {first:?}"));
        if line.trim_start().starts_with("admin API:") {
            break true;
        }
        first.push(line);
    };
    assert!(started);
    let first = first.join("\n");
    assert!(first.contains("first start exited: 1"), "{first}");
    assert!(first.contains("cannot open the store"), "{first}");
    assert!(first.contains("database or disk is full"), "{first}");
    child.kill().await.expect("stop");
}
