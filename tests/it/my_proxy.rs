//! The MySQL front door end to end: the mysql client and sqlx through dbward to MariaDB.

use crate::my_fixture::MyProxy;

#[tokio::test]
async fn mysql_client_reads_and_writes_through_dbward() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))");
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "INSERT INTO t VALUES (1, 'one'), (2, 'two'); SELECT id, name FROM t ORDER BY id",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1\tone\n2\ttwo");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "2");
    // DDL is refused on a write grant, with the MySQL error code for a denied statement.
    let (ok, _, err) = fx.mysql(&["-e", "DROP TABLE t"]).await;
    assert!(!ok);
    assert!(err.contains("ERROR 1142"), "{err}");
    assert!(err.contains("permission denied by dbward"), "{err}");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "2");
    fx.dbward.stop().await;
}

/// The mysql client interactive, on a terminal (`script` gives it one): its start-up queries
/// (`@@version_comment`, the table names for completion), `SHOW TABLES`, `DESCRIBE`, `\G`,
/// `source` of a script, `status`, `use`, a denial, and the session going on after it.
#[tokio::test]
async fn mysql_client_interactive_session() {
    use tokio::io::AsyncWriteExt as _;
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream.sql(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO t VALUES (1, 'one'), (2, 'two')",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("count.sql");
    std::fs::write(&script, "SELECT COUNT(*) AS counted FROM t;\n").expect("script");
    let client = format!(
        "mysql -h 127.0.0.1 -P {} -u alice -p{} --ssl shop",
        fx.port(),
        fx.password
    );
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &client, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("script");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = format!(
        "SHOW TABLES;\nDESCRIBE t;\nSELECT name FROM t WHERE id = 2\\G\nsource {}\nstatus\n\
         use shop\nDELETE FROM t;\nSELECT 'still here' AS after_denial;\nexit\n",
        script.display()
    );
    stdin.write_all(input.as_bytes()).await.expect("input");
    drop(stdin);
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the client ends")
        .expect("output");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    for expected in [
        "Server version: 5.7.99-dbward",
        "Tables_in_",
        "| id    | int(11)",
        "name: two",
        "| counted |",
        "SSL:\t\t\tCipher in use is",
        "Database changed",
        "ERROR 1142 (42000): permission denied by dbward: this statement is write (DELETE)",
        "| still here   |",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "2");
    fx.dbward.stop().await;
}

/// sysbench's `oltp_point_select` and `oltp_read_only`, with server-side prepared statements
/// and without, under a `read` grant: every transaction of every run completes, none fails.
/// (The tables are prepared directly; after one TLS login, sysbench's plaintext logins take
/// the fast path from loopback.) Then through a dbward that speaks as MariaDB, where
/// libmariadb takes MariaDB's cached metadata: the prepared statements' executions come
/// without their column definitions, which the server counts.
#[tokio::test]
async fn sysbench_read_workloads_run_under_read() {
    for mariadb in [false, true] {
        sysbench_read_workloads(mariadb).await;
    }
}

async fn sysbench_read_workloads(mariadb: bool) {
    let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
        if mariadb {
            c.mysql.server_version = Some("5.5.5-10.11.99-MariaDB-dbward".into());
        }
    })
    .await;
    let skipped = || {
        fx.upstream
            .sql("SHOW GLOBAL STATUS LIKE 'Resultset_metadata_skipped'")
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .expect("status")
    };
    let skipped_before = skipped();
    let sysbench = |args: Vec<String>| async move {
        let out = tokio::process::Command::new("sysbench")
            .args(&args)
            .output()
            .await
            .expect("run sysbench");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let common = |port: String, user: &str, password: &str, db: &str| {
        vec![
            "--mysql-host=127.0.0.1".to_owned(),
            format!("--mysql-port={port}"),
            format!("--mysql-user={user}"),
            format!("--mysql-password={password}"),
            format!("--mysql-db={db}"),
            "--tables=1".to_owned(),
            "--table-size=1000".to_owned(),
        ]
    };
    let direct = common(
        "3306".into(),
        &fx.upstream.user,
        &fx.upstream.password,
        &fx.upstream.name,
    );
    sysbench(
        [
            vec!["oltp_read_only".to_owned()],
            direct,
            vec!["prepare".into()],
        ]
        .concat(),
    )
    .await;
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(ok, "{err}");
    let through = common(fx.port().to_string(), "alice", &fx.password, "shop");
    // The number on a summary line such as `    transactions:   300  (7875.70 per sec.)`.
    let count = |text: &str, label: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {text}"));
        line.split_whitespace()
            .nth(label.split_whitespace().count())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    for workload in ["oltp_point_select", "oltp_read_only"] {
        for mode in ["auto", "disable"] {
            let args = [
                vec![workload.to_owned()],
                through.clone(),
                vec![
                    "--events=200".into(),
                    "--time=0".into(),
                    "--threads=2".into(),
                    format!("--db-ps-mode={mode}"),
                    "run".into(),
                ],
            ]
            .concat();
            let out = sysbench(args).await;
            assert_eq!(
                count(&out, "transactions:"),
                200,
                "{workload} {mode}: {out}"
            );
            assert_eq!(
                count(&out, "ignored errors:"),
                0,
                "{workload} {mode}: {out}"
            );
        }
    }
    // The server's count is global (other tests' sessions can only add to it): through a
    // MariaDB-speaking dbward, each of the prepared runs' 3,000 executions (2,000 point selects,
    // 1,000 in the read-only transactions) came without its definitions.
    if mariadb {
        let skipped = skipped() - skipped_before;
        assert!(skipped >= 3000, "{skipped}");
    }
    fx.dbward.stop().await;
}

/// `mysql_async` (Rust, its own protocol code), over TLS verified against dbward's certificate,
/// through a pool: prepared statements in a batch, the binary protocol's typed values (a
/// `DATETIME`, a `DECIMAL`, a `BLOB`), a transaction with a denied statement inside it rolled
/// back, a denied statement refused at prepare, and the connection going on after each.
#[tokio::test]
async fn mysql_async_prepared_statements_and_transactions() {
    use mysql_async::prelude::{BatchQuery as _, Queryable as _, WithParams as _};
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), at DATETIME, price DECIMAL(8,2), data BLOB)",
    );
    let ssl = mysql_async::SslOpts::default().with_root_certs(vec![fx.tls_cert().into()]);
    let opts = fx.mysql_async_opts().ssl_opts(ssl);
    let pool = mysql_async::Pool::new(opts);
    let mut conn = pool.get_conn().await.expect("connect through dbward");
    "INSERT INTO t (id, name, at, price, data) VALUES (?, ?, ?, ?, ?)"
        .with((1u8..=3).map(|i| {
            (
                i,
                format!("n{i}"),
                mysql_async::Value::Date(2026, 12, 7, 10, i, 0, 0),
                format!("{i}.25"),
                vec![0u8, i, 255],
            )
        }))
        .batch(&mut conn)
        .await
        .expect("batch insert");
    let row: Option<(String, mysql_async::Value, String, Vec<u8>)> = conn
        .exec_first("SELECT name, at, price, data FROM t WHERE id = ?", (2,))
        .await
        .expect("select");
    let (name, at, price, data) = row.expect("a row");
    assert_eq!(
        (name.as_str(), price.as_str(), data),
        ("n2", "2.25", vec![0, 2, 255])
    );
    assert_eq!(at, mysql_async::Value::Date(2026, 12, 7, 10, 2, 0, 0));
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .expect("begin");
    tx.exec_drop("UPDATE t SET name = ? WHERE id = ?", ("changed", 1))
        .await
        .expect("update");
    let denied = tx
        .query_drop("DROP TABLE t")
        .await
        .expect_err("ddl on write");
    assert!(denied.to_string().contains("1142"), "{denied}");
    tx.rollback().await.expect("rollback");
    let first: Option<String> = conn
        .exec_first("SELECT name FROM t WHERE id = ?", (1,))
        .await
        .expect("after rollback");
    assert_eq!(first.as_deref(), Some("n1"));
    let refused = conn
        .prep("CREATE TABLE nope (a INT)")
        .await
        .expect_err("refused at prepare");
    assert!(refused.to_string().contains("1142"), "{refused}");
    let count: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .expect("count");
    assert_eq!(count, Some(3));
    drop(conn);
    pool.disconnect().await.expect("disconnect");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn sqlx_prepared_statements_and_transactions() {
    use sqlx::{Connection as _, Executor as _, Row as _};
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), amount DECIMAL(10,2))");
    let mut c = fx.sqlx().await;
    // Prepared statements, binary protocol.
    for i in 0..20 {
        sqlx::query("INSERT INTO t VALUES (?, ?, ?)")
            .bind(i)
            .bind(format!("n{i}"))
            .bind(f64::from(i) * 1.5)
            .execute(&mut c)
            .await
            .expect("insert");
    }
    let row = sqlx::query("SELECT count(*), max(name) FROM t WHERE id >= ?")
        .bind(5)
        .fetch_one(&mut c)
        .await
        .expect("select");
    assert_eq!(row.get::<i64, _>(0), 15);
    assert_eq!(row.get::<String, _>(1), "n9");
    // A transaction rolled back leaves nothing; a committed one stays.
    let mut tx = c.begin().await.expect("begin");
    tx.execute("DELETE FROM t").await.expect("delete");
    tx.rollback().await.expect("rollback");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "20");
    let mut tx = c.begin().await.expect("begin");
    tx.execute("DELETE FROM t WHERE id < 10")
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "10");
    // A denied prepared statement is refused at prepare, the connection goes on.
    let e = sqlx::query("CREATE TABLE nope (a INT)")
        .execute(&mut c)
        .await
        .expect_err("ddl on a write grant");
    assert!(e.to_string().contains("1142"), "{e}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut c)
        .await
        .expect("after");
    assert_eq!(n, 10);
    c.close().await.expect("close");
    // Each execution of the prepared INSERT is audited with its text and outcome (identical
    // executions within a flush interval share a row: `executions`). An outcome that arrives
    // after its execution's row was flushed (a loaded machine) is a `statement.completed` row
    // of its own, so the rows' `affected` may fall short by that many.
    let mut executed = 0;
    let mut accounted = 0;
    for _ in 0..100 {
        let (_, page) = fx
            .dbward
            .admin("GET", "/api/audit?kind=statement&limit=1000", None)
            .await;
        let items = page["items"].as_array().expect("items");
        let rows: Vec<_> = items
            .iter()
            .filter(|r| {
                r["statement"] == "INSERT INTO t VALUES (?, ?, ?)"
                    && r["details"]["message"] == "execute"
            })
            .collect();
        executed = rows
            .iter()
            .map(|r| r["details"]["executions"].as_u64().unwrap_or(1))
            .sum::<u64>();
        let affected: i64 = rows
            .iter()
            .map(|r| r["details"]["affected"].as_i64().unwrap_or(0))
            .sum();
        let late = items
            .iter()
            .filter(|r| r["action"] == "statement.completed")
            .count();
        accounted = affected + i64::try_from(late).unwrap_or(0);
        if executed == 20 && accounted >= 20 {
            assert!(affected <= 20, "{affected}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(executed, 20, "every execution audited");
    assert!(accounted >= 20, "every outcome audited: {accounted}");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn read_grant_traps_and_the_read_only_upstream() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT); INSERT INTO t VALUES (1), (2)");
    fx.upstream.sql(
        "DELIMITER //\nCREATE FUNCTION sneaky() RETURNS INT MODIFIES SQL DATA \
         BEGIN INSERT INTO t VALUES (99); RETURN 1; END//\nDELIMITER ;",
    );
    let (ok, out, err) = fx.mysql(&["-e", "SELECT count(*) FROM t"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "2");
    for sql in [
        "INSERT INTO t VALUES (3)",
        "/*M!100000 DELETE FROM t */",
        "/*!50000 DELETE FROM t */",
        "SELECT 1; DELETE FROM t",
        "SET @@session.transaction_read_only = 0",
        "SET SESSION TRANSACTION READ WRITE",
        "START TRANSACTION READ WRITE",
        "SET sql_mode = 'ORACLE'",
        "SET NAMES gbk",
        "SELECT * FROM t FOR UPDATE",
        "SELECT * FROM t LOCK IN SHARE MODE",
        "SELECT GET_LOCK('x', 1)",
        "SELECT * FROM t INTO OUTFILE '/tmp/dbward-out'",
        "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t",
        "SET GLOBAL max_connections = 10",
        "HANDLER t OPEN",
        "RESET MASTER",
        "EXECUTE IMMEDIATE 'DELETE FROM t'",
        // DEFAULT is the global value (off), not the session's read-only start.
        "SET tx_read_only = DEFAULT",
    ] {
        let (ok, _, err) = fx.mysql(&["-e", sql]).await;
        assert!(!ok, "{sql} ran");
        assert!(
            err.contains("ERROR 1142") || err.contains("ERROR 1064"),
            "{sql}: {err}"
        );
        assert!(err.contains("dbward"), "{sql}: {err}");
    }
    // MySQL lexing: the backslash escapes the quote, so this is one SELECT of one string.
    let (ok, out, err) = fx.mysql(&["-e", r"SELECT 'a\'; DELETE FROM t; -- '"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("DELETE FROM t"), "{out}");
    // Layer 2: a stored function that writes passes the classifier and fails upstream.
    let (ok, _, err) = fx.mysql(&["-e", "SELECT sneaky()"]).await;
    assert!(!ok);
    assert!(
        err.contains("ERROR 1792"),
        "read-only transaction upstream: {err}"
    );
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "2");
    // Denials are audited with the statement, its class and the reason (through the writer's
    // queue: wait until it is in).
    let mut audit = serde_json::Value::Null;
    for _ in 0..100 {
        (_, audit) = fx.dbward.admin("GET", "/api/audit?limit=1000", None).await;
        if audit.to_string().contains("INSERT INTO t VALUES (3)") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rows = audit["items"].as_array().expect("items");
    let insert = rows
        .iter()
        .find(|r| r["action"] == "statement.denied" && r["statement"] == "INSERT INTO t VALUES (3)")
        .expect("the denied INSERT is audited");
    assert_eq!(insert["details"]["class"], "write");
    assert_eq!(insert["actor_username"], "alice");
    // USE: only the configured schema.
    let (ok, _, err) = fx.mysql(&["-e", "USE mysql"]).await;
    assert!(!ok);
    assert!(err.contains("ERROR 1044"), "{err}");
    let (ok, _, err) = fx
        .mysql(&["-e", &format!("USE {}; SELECT 1", fx.upstream.name)])
        .await;
    assert!(ok, "{err}");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn logins_are_refused_with_mysql_errors() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let port = fx.port().to_string();
    let run = |args: Vec<String>| async move {
        let out = tokio::process::Command::new("mysql")
            .args(["-h", "127.0.0.1", "-N", "-B", "-e", "SELECT 1"])
            .args(args)
            .output()
            .await
            .expect("mysql");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = run(vec![
        "-P".into(),
        port.clone(),
        "-u".into(),
        "alice".into(),
        "-pwrong".into(),
        "--ssl".into(),
        "shop".into(),
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains("ERROR 1045") && err.contains("Access denied for user 'alice'"),
        "{err}"
    );
    let (ok, err) = run(vec![
        "-P".into(),
        port.clone(),
        "-u".into(),
        "nobody".into(),
        "-pwrong".into(),
        "--ssl".into(),
        "shop".into(),
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains("ERROR 1045") && err.contains("Access denied for user 'nobody'"),
        "{err}"
    );
    let (ok, err) = run(vec![
        "-P".into(),
        port.clone(),
        "-u".into(),
        "alice".into(),
        format!("-p{}", fx.password),
        "--ssl".into(),
        "nowhere".into(),
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("ERROR 1049"), "{err}");
    // A user without a grant.
    let (s, _) = fx
        .dbward
        .admin(
            "POST",
            "/api/users",
            Some(serde_json::json!({"username": "bob", "password": "bob-password-123"})),
        )
        .await;
    assert_eq!(s, 201);
    let (ok, err) = run(vec![
        "-P".into(),
        port.clone(),
        "-u".into(),
        "bob".into(),
        "-pbob-password-123".into(),
        "--ssl".into(),
        "shop".into(),
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains("ERROR 1044") && err.contains("no grant"),
        "{err}"
    );
    // Every attempt is audited.
    let (_, audit) = fx.dbward.admin("GET", "/api/audit?limit=100", None).await;
    let text = audit.to_string();
    for reason in ["wrong_password", "unknown_database", "no_grant"] {
        assert!(text.contains(reason), "{reason} audited");
    }
    fx.dbward.stop().await;
}

/// The authentication path (`details.auth`) of the trail's successful MySQL logins, oldest
/// first, once there are `n`.
pub async fn login_paths(fx: &MyProxy, n: usize) -> Vec<String> {
    mysql_connects(fx, n, |r| r["outcome"] == "success")
        .await
        .iter()
        .map(|r| r["details"]["auth"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// The trail's `mysql.connect` rows that `keep` keeps, oldest first, once there are `n` (the
/// audit writer flushes in batches: polled for up to 2.5 s).
pub async fn mysql_connects(
    fx: &MyProxy,
    n: usize,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for _ in 0..50 {
        let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=100", None).await;
        rows = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .rev()
            .filter(|r| r["action"] == "mysql.connect" && keep(r))
            .cloned()
            .collect::<Vec<_>>();
        if rows.len() == n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    rows
}

/// `caching_sha2_password`'s fast path: a full authentication over TLS is remembered; later
/// logins prove the password by the plugin's scramble, over TLS or (where plaintext is allowed)
/// without; a wrong password still fails, and a password change ends the remembered entry.
#[tokio::test]
async fn caching_sha2_fast_path_after_a_full_authentication() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let port = fx.port().to_string();
    let login = |password: &str, tls: bool| {
        let (port, password) = (port.clone(), password.to_owned());
        async move {
            let out = tokio::process::Command::new("mysql")
                .args(["-h", "127.0.0.1", "-P", &port, "-u", "alice", "-N", "-B"])
                .arg(format!("-p{password}"))
                .arg(if tls { "--ssl" } else { "--skip-ssl" })
                .args(["-e", "SELECT 1", "shop"])
                .output()
                .await
                .expect("mysql");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let old = fx.password.clone();
    // Nothing remembered yet: the first login, over TLS, sends the password itself.
    for (tls, what) in [
        (true, "full over TLS"),
        (true, "fast over TLS"),
        (false, "fast, plaintext"),
    ] {
        let (ok, err) = login(&old, tls).await;
        assert!(ok, "{what}: {err}");
    }
    let (ok, err) = login("wrong-password", false).await;
    assert!(!ok && err.contains("ERROR 1045"), "{err}");
    // The audit trail tells which path each login took.
    let paths = login_paths(&fx, 3).await;
    assert_eq!(paths, ["full", "fast", "fast"]);
    // A new password: the remembered entry is gone, the old password fails on either path.
    // The new one's first login, without TLS, is a full authentication by the RSA key
    // exchange, and remembered too.
    let (s, _) = fx
        .dbward
        .admin(
            "PUT",
            &format!("/api/users/{}/password", fx.user_id),
            Some(serde_json::json!({"password": "a-new-password-456"})),
        )
        .await;
    assert_eq!(s, 204);
    for tls in [true, false] {
        let (ok, err) = login(&old, tls).await;
        assert!(!ok && err.contains("ERROR 1045"), "{err}");
    }
    for tls in [false, true, false] {
        let (ok, err) = login("a-new-password-456", tls).await;
        assert!(ok, "{err}");
    }
    assert_eq!(
        login_paths(&fx, 6).await,
        ["full", "fast", "fast", "full_rsa", "fast", "fast"]
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn quotas_hold_on_mysql() {
    let fx = MyProxy::start("read", serde_json::json!({"max_queries": 5})).await;
    fx.upstream.sql("CREATE TABLE t (id INT)");
    let (ok, _, err) = fx
        .mysql(&[
            "-e",
            "SELECT 1; SELECT 2; SELECT 3; SELECT 4; SELECT 5; SELECT 6",
        ])
        .await;
    assert!(!ok, "six statements on a quota of five");
    assert!(err.contains("ERROR 1226"), "{err}");
    let fx2 = MyProxy::start("read", serde_json::json!({"max_bytes": 100_000})).await;
    let (ok, _, err) = fx2
        .mysql(&["-e", "SELECT REPEAT('x', 1000) FROM seq_1_to_10000"])
        .await;
    assert!(!ok, "10 MB on a 100 kB quota");
    assert!(
        err.contains("ERROR 1226") && err.contains("byte quota"),
        "{err}"
    );
    fx.dbward.stop().await;
    fx2.dbward.stop().await;
}

#[tokio::test]
async fn load_data_local_infile_on_a_write_grant() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE t (id INT, name VARCHAR(20))");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, "1,one\n2,two\n3,three\n").expect("write");
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE t FIELDS TERMINATED BY ','",
        file.display()
    );
    let (ok, _, err) = fx.mysql(&["--local-infile=1", "-e", &sql]).await;
    assert!(ok, "{err}");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "3");
    // A name the statement quotes (a doubled quote) is the file the server asks for.
    let quoted = dir.path().join("it's.csv");
    std::fs::write(&quoted, "4,four\n").expect("write");
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE t FIELDS TERMINATED BY ','",
        quoted.display().to_string().replace('\'', "''")
    );
    let (ok, _, err) = fx.mysql(&["--local-infile=1", "-e", &sql]).await;
    assert!(ok, "{err}");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "4");
    fx.dbward.stop().await;
}

/// The whole MySQL classification corpus through the proxy under a `read` grant, as text
/// queries (`COM_QUERY`) and prepared statements (`COM_STMT_PREPARE`): exactly the statements
/// classified above `read` (or unclassifiable) are refused by dbward.
#[tokio::test]
async fn the_corpus_through_the_proxy_under_read() {
    use sqlx::Executor as _;
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT, a INT, b VARCHAR(10)); CREATE TABLE u (id INT, a INT)");
    let mut c = fx.sqlx().await;
    let denied_by_dbward = |e: &sqlx::Error| {
        let m = e.to_string();
        m.contains("permission denied by dbward") || m.contains("dbward could not classify")
    };
    let path = format!(
        "{}/core/tests/classification/mysql.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("corpus");
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (want, sql) = line.split_once('\t').unwrap_or((line, ""));
        // Statements handled by dbward itself or that end the session are covered elsewhere
        // (`checked` ones may end it: `computed_character_sets_are_checked_after_they_run`).
        if sql.trim().is_empty()
            || sql.starts_with("USE")
            || sql.starts_with("KILL")
            || want == "checked"
        {
            continue;
        }
        let allowed = want == "read";
        let text_result = c
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())))
            .await;
        let denied = text_result.as_ref().err().is_some_and(denied_by_dbward);
        assert_eq!(
            denied, !allowed,
            "COM_QUERY, {want}: {sql}: {text_result:?}"
        );
        let prepared = c
            .prepare(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
                sql.to_owned(),
            )))
            .await;
        let denied = prepared.as_ref().err().is_some_and(denied_by_dbward);
        assert_eq!(
            denied,
            !allowed,
            "COM_STMT_PREPARE, {want}: {sql}: {:?}",
            prepared.err()
        );
        let _ = c.execute(sqlx::raw_sql("ROLLBACK")).await;
        checked += 1;
    }
    assert!(checked >= 140, "{checked}");
    fx.dbward.stop().await;
}

/// `KILL QUERY` with dbward's connection id (what the mysql client's Ctrl-C sends, on a second
/// connection) stops the running upstream statement; other users' ids are unknown.
#[tokio::test]
async fn kill_query_reaches_only_the_same_users_sessions() {
    use sqlx::{Connection as _, Executor as _};
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    // dbward numbers connections from 1 in the greeting: this is connection 1.
    let mut busy = fx.sqlx().await;
    let running = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let r = busy.execute("SELECT SLEEP(20)").await;
        (r.map(|_| ()), started.elapsed(), busy)
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut killer = fx.sqlx().await;
    // Another user's session id is unknown to alice... and an unknown id too.
    let e = killer
        .execute("KILL QUERY 999")
        .await
        .expect_err("unknown id");
    assert!(e.to_string().contains("1094"), "{e}");
    killer
        .execute("KILL QUERY 1")
        .await
        .expect("kill the first session's query");
    let (result, elapsed, mut busy) = running.await.expect("join");
    // MariaDB answers a killed SLEEP() with 1 (interrupted) rather than an error.
    let _ = result;
    assert!(
        elapsed < std::time::Duration::from_secs(10),
        "the statement was stopped ({elapsed:?})"
    );
    busy.execute("SELECT 1").await.expect("the session goes on");
    // `KILL [CONNECTION] n` ends the whole session.
    killer
        .execute("KILL 1")
        .await
        .expect("kill the first session");
    let e = busy
        .execute("SELECT 1")
        .await
        .expect_err("the first session has ended");
    assert!(
        e.to_string().contains("KILL CONNECTION") || e.to_string().contains("1927"),
        "{e}"
    );
    let causes = fx.dbward.end_causes("mysql.session_end", 1).await;
    assert_eq!(causes, ["killed_by_user"]);
    killer.close().await.expect("close");
    fx.dbward.stop().await;
}

/// Statements on the upstream whose text contains `marker`.
fn running_upstream(fx: &MyProxy, marker: &str) -> u32 {
    fx.upstream
        .sql(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE '%{marker}%' AND INFO NOT LIKE '%PROCESSLIST%'"
        ))
        .parse()
        .expect("count")
}

/// Waits up to `tenths` tenths of a second for `running_upstream` to be `want`.
async fn await_running(fx: &MyProxy, marker: &str, want: u32, tenths: u32) {
    for _ in 0..tenths {
        if running_upstream(fx, marker) == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{marker}: expected {want} such statements upstream");
}

/// A statement whose session ends before its response (the client hangs up, an admin ends the
/// session) is killed upstream at once. MariaDB would run a computation to its end, and notices
/// a closed connection during `SLEEP` only at its 5-second checks: gone within 2.5 s is dbward.
#[tokio::test]
async fn abandoned_statements_are_killed_upstream() {
    use sqlx::Executor as _;
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    for (marker, sql, by_admin) in [
        (
            "abandoned_by_client",
            "SELECT SLEEP(60) AS abandoned_by_client",
            false,
        ),
        ("ended_by_admin", "SELECT SLEEP(60) AS ended_by_admin", true),
    ] {
        let mut conn = fx.sqlx().await;
        let running = tokio::spawn(async move { conn.execute(sql).await.map(|_| ()) });
        await_running(&fx, marker, 1, 100).await;
        if by_admin {
            let (_, sessions) = fx.dbward.admin("GET", "/api/sessions", None).await;
            let id = sessions[0]["id"].as_str().expect("session id").to_owned();
            let (s, _) = fx
                .dbward
                .admin("DELETE", &format!("/api/sessions/{id}"), None)
                .await;
            assert_eq!(s, 204);
            let e = running
                .await
                .expect("join")
                .expect_err("the session was ended");
            assert!(e.to_string().contains("1927"), "{e}");
        } else {
            running.abort();
        }
        await_running(&fx, marker, 0, 25).await;
    }
    fx.dbward.stop().await;
}

#[tokio::test]
async fn pymysql_session() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))");
    let stdout = fx.run_client("pymysql_session.py", &[]).await;
    assert_eq!(stdout, "count=100 sum=4950 denied 1142 name=n42");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "100");
    fx.dbward.stop().await;
}

/// PHP's mysqlnd (mysqli and PDO), its own implementation of the protocol: see
/// `tests/clients/php_mysqli.php`.
#[tokio::test]
async fn php_mysqlnd_session() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), data MEDIUMBLOB)");
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "10,ten\n11,eleven\n").expect("write csv");
    let cert = fx.tls_cert();
    let stdout = crate::harness::run_client(
        "php_mysqli.php",
        "",
        &[
            fx.port().to_string(),
            fx.password.clone(),
            csv.display().to_string(),
            cert.display().to_string(),
        ],
    )
    .await;
    assert_eq!(
        stdout,
        "long=200000 cursor=2,3,4 sets=4 unbuffered=50000 loaded=2 denied=1142 changed=6 pdo=two,two:6"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "6");
    fx.dbward.stop().await;
}

/// `mysql_native_password` is opt-in per user: mysqljs (npm's `mysql`), which speaks nothing
/// else, is switched to `caching_sha2_password` and gives up until an admin sets the password
/// with the option on; then it logs in (and resets its session with `COM_CHANGE_USER`) over
/// TLS and in plaintext from loopback, a wrong
/// password is refused, a PATCH cannot turn the option on (dbward keeps no password to derive
/// it from) but turns it off, and the trail names the path.
#[tokio::test]
async fn mysql_native_password_is_opt_in_per_user() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let login = |password: &str, mode: &str| {
        let args = [
            fx.port().to_string(),
            "alice".to_owned(),
            password.to_owned(),
            "shop".to_owned(),
            mode.to_owned(),
        ];
        async move { crate::harness::run_client("node/mysqljs_login.js", "", &args).await }
    };
    assert_eq!(
        login(&fx.password, "tls").await,
        "error:UNSUPPORTED_AUTH_METHOD"
    );
    let path = format!("/api/users/{}", fx.user_id);
    let (s, body) = fx
        .dbward
        .admin(
            "PATCH",
            &path,
            Some(serde_json::json!({"mysql_native_password": true})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = fx
        .dbward
        .admin(
            "PUT",
            &format!("{path}/password"),
            Some(serde_json::json!({"password": fx.password, "mysql_native_password": true})),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let (_, user) = fx.dbward.admin("GET", &path, None).await;
    assert_eq!(user["mysql_native_password"], true);
    crate::harness::assert_no_secrets(&user.to_string());
    let who = format!("ok:{}@% ON", fx.upstream.user);
    assert_eq!(login(&fx.password, "tls").await, who);
    assert_eq!(login(&fx.password, "plain").await, who);
    assert_eq!(
        login("wrong-password", "plain").await,
        "error:ER_ACCESS_DENIED_ERROR"
    );
    // Clients that speak caching_sha2_password are unaffected.
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(ok, "{err}");
    let paths = login_paths(&fx, 3).await;
    assert_eq!(paths, ["native", "native", "full"]);
    let (s, body) = fx
        .dbward
        .admin(
            "PATCH",
            &path,
            Some(serde_json::json!({"mysql_native_password": false})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["mysql_native_password"], false);
    assert_eq!(
        login(&fx.password, "tls").await,
        "error:UNSUPPORTED_AUTH_METHOD"
    );
    fx.dbward.stop().await;
}

/// `mysql.announce_native_password`: the greeting names `mysql_native_password`, and a user who
/// did not opt in to it still logs in with `caching_sha2_password` (the client answers the
/// native way first and is switched, with the same nonce): a full authentication over TLS, then
/// the fast path in plaintext from loopback. mysqljs, which cannot follow the switch, fails.
#[tokio::test]
async fn announcing_native_password_keeps_caching_sha2_for_everyone_else() {
    let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.mysql.announce_native_password = true;
    })
    .await;
    let (ok, out, err) = fx.mysql(&["-N", "-e", "SELECT 'tls'"]).await;
    assert!(ok && out.trim() == "tls", "{err}");
    let (ok, out, err) = fx
        .mysql(&["--skip-ssl", "-N", "-e", "SELECT 'plain'"])
        .await;
    assert!(ok && out.trim() == "plain", "{err}");
    assert_eq!(login_paths(&fx, 2).await, ["full", "fast"]);
    let args = [
        fx.port().to_string(),
        "alice".to_owned(),
        fx.password.clone(),
        "shop".to_owned(),
        "tls".to_owned(),
    ];
    let mysqljs = crate::harness::run_client("node/mysqljs_login.js", "", &args).await;
    assert_eq!(mysqljs, "error:UNSUPPORTED_AUTH_METHOD");
    fx.dbward.stop().await;
}

/// MariaDB Connector/ODBC through unixODBC's `isql`, over TLS verified against dbward's
/// certificate. The connector takes a server whose version does not say MariaDB for MySQL and
/// reads `@@transaction_isolation`, which MariaDB 10.11 lacks: with MariaDB upstreams dbward
/// announces a MariaDB version (`mysql.server_version`, see the README).
#[tokio::test]
async fn mariadb_odbc_session() {
    let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.mysql.server_version = Some("5.5.5-10.11.99-MariaDB-dbward".into());
    })
    .await;
    fx.upstream.sql(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO t VALUES (1, 'one'), (2, 'two')",
    );
    let settings = format!(
        "Driver = MariaDB Unicode\nServer = 127.0.0.1\nPort = {}\nDatabase = shop\n\
         User = alice\nPassword = {}\nSSLCA = {}\nSSLVERIFY = 1",
        fx.port(),
        fx.password,
        fx.tls_cert().display()
    );
    crate::harness::odbc_read_session(
        &settings,
        "[10.11.99-MariaDB-dbward]permission denied by dbward: this statement is write (DELETE)",
    )
    .await;
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "2");
    fx.dbward.stop().await;
}

/// MariaDB's Node.js connector (npm `mariadb`), its own protocol implementation, pipelining
/// by default: see `tests/clients/node/mariadbjs_session.js`.
#[tokio::test]
async fn mariadb_connector_session() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))");
    let stdout = fx.run_client("node/mariadbjs_session.js", &["shop"]).await;
    assert_eq!(
        stdout,
        "pipelined=2 execute=two batch=100 stream=102 denied=1142 pool=102,102,102"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "102");
    fx.dbward.stop().await;
}

/// The same Node.js program through a dbward that speaks as MariaDB (`mysql.server_version`
/// names it, as when every upstream is MariaDB), where MariaDB's connector uses what MariaDB
/// adds to the protocol:
/// - its `batch` sends one `COM_STMT_BULK_EXECUTE` (dbward offers bulk execution then), audited
///   once as `bulk execute` with the rows it inserted and, with `audit.record_parameters`, each
///   row's values;
/// - its pipelined `execute` sends the prepare and the execution together, naming the
///   statement `-1` ("the one prepared last"): dbward resolves it, so the execution is audited
///   with its text and value.
#[tokio::test]
async fn mariadb_connector_bulk_and_pipelined_execution() {
    let fx = MyProxy::start_with("write", serde_json::json!({}), |c| {
        c.mysql.server_version = Some("5.5.5-10.11.99-MariaDB-dbward".into());
        c.audit.record_parameters = true;
    })
    .await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))");
    let stdout = fx.run_client("node/mariadbjs_session.js", &["shop"]).await;
    assert_eq!(
        stdout,
        "pipelined=2 execute=two batch=100 stream=102 denied=1142 pool=102,102,102"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "102");
    let details = one_bulk_insert_in_trail(&fx, 100).await;
    let rows = details["parameters"].as_array().expect("parameters");
    assert_eq!(rows.len(), 100, "{details}");
    assert_eq!(rows[0], "(10, 'n0')");
    assert_eq!(rows[99], "(109, 'n99')");
    let executions = crate::audit_statements::statements_in_trail(
        &fx.dbward,
        "SELECT name FROM t WHERE id",
        "execute",
        1,
    )
    .await;
    assert_eq!(executions.len(), 1, "{executions:?}");
    assert_eq!(
        executions[0]["details"]["parameters"],
        serde_json::json!(["2"])
    );
    fx.dbward.stop().await;
}

/// MariaDB's Connector/C (`tests/clients/libmariadb_bulk.c`): array binding and
/// `mariadb_stmt_execute_direct`, through a dbward that speaks as MariaDB, under a quota of
/// four statements: the 5,000-row bulk insert counts as one (as a multi-row INSERT does), the
/// direct execution as one, the count and the status query as one each; the `DROP` refused at
/// its prepare runs nothing, its pipelined execution (`-1`, with no statement prepared) gets
/// an ERR the library reads, and the session goes on in step. The direct execution's result
/// comes without its column definitions (MariaDB's cached metadata, which dbward offers then
/// and reads past). With dbward's default version, Connector/C refuses array binding itself
/// (5003), and every result carries its definitions.
#[tokio::test]
async fn libmariadb_array_binding_and_direct_execution() {
    let fx = MyProxy::start_with("write", serde_json::json!({"max_queries": 4}), |c| {
        c.mysql.server_version = Some("5.5.5-10.11.99-MariaDB-dbward".into());
    })
    .await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))");
    let stdout = fx.run_client("libmariadb_bulk.c", &["5000"]).await;
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "bulk=5000",
            "direct=n5",
            "direct_refused=1142",
            "count=5000",
            "metadata_skipped=1"
        ],
        "{stdout}"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "5000");
    one_bulk_insert_in_trail(&fx, 5000).await;
    // The quota is spent: a fifth statement is refused.
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(!ok && err.contains("ERROR 1226"), "{err}");
    fx.dbward.stop().await;

    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))");
    let stdout = fx.run_client("libmariadb_bulk.c", &["5000"]).await;
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "bulk=error errno=5003",
            "direct=none",
            "direct_refused=1142",
            "count=0",
            "metadata_skipped=0"
        ],
        "{stdout}"
    );
    fx.dbward.stop().await;
}

/// The details of the one `bulk execute` row in the trail, once its outcome says it inserted
/// `rows` rows: in the row itself, or, when the statement outlasted the audit writer's flush
/// interval (a loaded machine), in a `statement.completed` row of its own.
async fn one_bulk_insert_in_trail(fx: &MyProxy, rows: u64) -> serde_json::Value {
    let mut seen = serde_json::Value::Null;
    for _ in 0..200 {
        let (_, page) = fx
            .dbward
            .admin("GET", "/api/audit?kind=statement&limit=200", None)
            .await;
        let items = page["items"].as_array().expect("items");
        let bulk: Vec<_> = items
            .iter()
            .filter(|r| r["details"]["message"] == "bulk execute")
            .collect();
        let late = items
            .iter()
            .any(|r| r["action"] == "statement.completed" && r["details"]["affected"] == rows);
        if let [one] = bulk.as_slice()
            && (one["details"]["affected"] == rows || late)
        {
            return one["details"].clone();
        }
        seen = page;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no bulk execution of {rows} rows in the trail: {seen}")
}

/// go-sql-driver/mysql (Go), its own protocol implementation: see `tests/clients/go_mysql.go`.
/// Its context deadline closes the connection; the upstream query must stop.
#[tokio::test]
async fn go_mysql_session() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), at DATETIME, data BLOB)");
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "4,it's \\\\ here\n5,five\n").expect("write csv");
    let stdout = crate::harness::run_client(
        "go_mysql.go",
        "",
        &[
            fx.port().to_string(),
            fx.password.clone(),
            csv.display().to_string(),
        ],
    )
    .await;
    assert_eq!(
        stdout,
        "prepared=n2:10:32:15:3 denied=1142 read_only_tx=3:1792 loaded=2 interpolated=true \
         multi=1:multi deadline=true,true sleeping=0 rows=5"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "5");
    fx.dbward.stop().await;
}

/// Rails' Active Record migrating under a `ddl` grant (`tests/clients/activerecord_migrate.rb`),
/// over TLS verified against dbward's certificate.
#[tokio::test]
async fn activerecord_migrates_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let cert = fx.tls_cert();
    let stdout = crate::harness::run_client(
        "activerecord_migrate.rb",
        "",
        &[fx.engine_args().as_slice(), &[cert.display().to_string()]].concat(),
    )
    .await;
    assert_eq!(
        stdout,
        "tls=true version=20261207000003 joined=Ann,Bob customers=2 stale=yes note=true \
         version=20261207000002 status=false"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM orders"), "2");
    fx.dbward.stop().await;
}

/// `TypeORM`'s `synchronize`, repositories and migrations under a `ddl` grant
/// (`tests/clients/node/typeorm_sync.js`): after them its schema diff, read through dbward,
/// finds nothing to change.
#[tokio::test]
async fn typeorm_synchronizes_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    // TypeORM qualifies its own tables with the database it was given.
    let schema = fx.register_under_schema_name("ddl").await;
    let mut args = fx.engine_args();
    args[3] = schema;
    let stdout = crate::harness::run_client("node/typeorm_sync.js", "", &args).await;
    assert_eq!(
        stdout,
        "posts=hello,world:UTC users=1 migrations=1 pending=0"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM posts"), "2");
    fx.dbward.stop().await;
}

/// Knex's migrations (its lock table, taken `FOR UPDATE`), schema builder, a transaction
/// rolled back and a migration batch rolled back, under a `ddl` grant
/// (`tests/clients/node/knex_migrate.js`).
#[tokio::test]
async fn knex_migrates_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let args = fx.engine_args();
    let stdout = crate::harness::run_client("node/knex_migrate.js", "", &args).await;
    assert_eq!(
        stdout,
        "migrated=1:2 transfers=0 balance=100 rolled=1 transfers_table=false"
    );
    fx.dbward.stop().await;
}

/// Sequelize's `sync` under a `ddl` grant (`tests/clients/node/sequelize_sync.js`): its UUID
/// columns are `CHAR(36) BINARY`.
#[tokio::test]
async fn sequelize_syncs_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let stdout = crate::harness::run_client("node/sequelize_sync.js", "", &fx.engine_args()).await;
    assert_eq!(stdout, "users=1 role=admin score=5.00 posts=hello");
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM Posts"), "1");
    fx.dbward.stop().await;
}

/// mysqlclient (`MySQLdb`, the C driver from `PyPI`, `libmariadb` underneath).
#[tokio::test]
async fn mysqlclient_session() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))");
    let stdout = fx.run_client("mysqlclient_session.py", &[]).await;
    assert_eq!(
        stdout,
        "count=100 sum=4950 denied 1142 streamed=100 name=n42"
    );
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "100");
    fx.dbward.stop().await;
}

/// A large result streams through with bounded memory (CI: 200 MB; the heavy profile runs
/// `DBWARD_MYSQL_STREAM_MB=1024`).
#[tokio::test]
async fn large_result_streams_with_bounded_memory() {
    let mb: u64 = std::env::var("DBWARD_MYSQL_STREAM_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let rss = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    };
    let before = rss();
    let rows = mb * 1024;
    // The mysql client itself streams with --quick; count the bytes it received.
    let sql = format!("SELECT REPEAT('x', 1020) FROM seq_1_to_{rows}");
    let mut child = fx
        .mysql_command(&["--quick", "-e", &sql])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mysql");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut peak = before;
    let mut next_sample = 0u64;
    loop {
        use tokio::io::AsyncReadExt as _;
        let n = stdout.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        total += n as u64;
        if total >= next_sample {
            peak = peak.max(rss());
            next_sample = total + (8 << 20);
        }
    }
    assert!(child.wait().await.expect("wait").success());
    assert!(total >= mb * 1024 * 1020, "{total} bytes received");
    let grown = peak.saturating_sub(before);
    eprintln!("{mb} MB through dbward: RSS grew {grown} KiB");
    assert!(
        grown < 64 * 1024,
        "RSS grew {grown} KiB while streaming {mb} MB"
    );
    fx.dbward.stop().await;
}

/// MariaDB Connector/J (Debian's libmariadb-java) with server-side prepared statements; then
/// through a dbward that speaks as MariaDB, with `useBulkStmts=true`: the batch of 50 goes in
/// one `COM_STMT_BULK_EXECUTE`.
#[tokio::test]
async fn connector_j_session() {
    for bulk in [false, true] {
        let fx = MyProxy::start_with("write", serde_json::json!({}), |c| {
            if bulk {
                c.mysql.server_version = Some("5.5.5-10.11.99-MariaDB-dbward".into());
            }
        })
        .await;
        fx.upstream
            .sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20)); CREATE TABLE t2 (a INT)");
        let mut args = vec![fx.port().to_string(), fx.password.clone()];
        if bulk {
            args.push("useBulkStmts=true".into());
        }
        let stdout = crate::harness::run_client(
            "ConnectorJSession.java",
            "/usr/share/java/mariadb-java-client.jar",
            &args,
        )
        .await;
        assert_eq!(stdout, "count=40 denied 1142");
        assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "50");
        if bulk {
            one_bulk_insert_in_trail(&fx, 50).await;
        }
        fx.dbward.stop().await;
    }
}

/// MariaDB Connector/J's `DatabaseMetaData`, as a JDBC GUI (DBeaver) draws its tree, under a
/// `read` grant: every call answers, and counts what the schema holds (its `getProcedures`
/// lists functions too). Connector/J lists the
/// schema named like the database it connected to, so the dbward database carries its
/// schema's name (as the README advises for such tools).
#[tokio::test]
async fn connector_j_metadata_under_read() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream.sql(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), KEY by_name (name));
         CREATE TABLE notes (id INT PRIMARY KEY, item INT, FOREIGN KEY (item) REFERENCES items (id));
         CREATE VIEW v AS SELECT id FROM items;
         CREATE PROCEDURE p() SELECT 1;
         CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1;",
    );
    let (s, body) = fx
        .dbward
        .admin(
            "PATCH",
            &format!("/api/databases/{}", fx.db_id),
            Some(serde_json::json!({"name": fx.upstream.name})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // Also in an ANSI_QUOTES session (`sessionVariables`: Connector/J sets it with its own
    // settings in one SET, and quotes names with `"` in it), which dbward follows.
    for options in ["", "&sessionVariables=sql_mode=ANSI_QUOTES"] {
        let stdout = crate::harness::run_client(
            "ConnectorJMetadata.java",
            "/usr/share/java/mariadb-java-client.jar",
            &[
                fx.port().to_string(),
                fx.password.clone(),
                fx.upstream.name.clone(),
                options.into(),
            ],
        )
        .await;
        assert_eq!(
            stdout,
            "catalogs>=true tables=3 columns=2 keys=1 indexes=2 imported=1 exported=1 \
             procedures=2 functions=1 type=VARCHAR product=named",
            "{options}"
        );
    }
    fx.dbward.stop().await;
}

/// `CLIENT_MULTI_STATEMENTS`: one `COM_QUERY` with several statements (the mysql client splits
/// at `;` itself, sqlx's raw SQL does not): one denied statement and nothing of it runs.
#[tokio::test]
async fn multi_statement_with_a_denied_statement_runs_nothing() {
    use sqlx::Executor as _;
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE t (id INT)");
    let mut c = fx.sqlx().await;
    let e = c
        .execute(sqlx::raw_sql(
            "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); CREATE TABLE x (a INT); INSERT INTO t VALUES (3)",
        ))
        .await
        .expect_err("denied");
    assert!(
        e.to_string().contains("1142") && e.to_string().contains("ddl"),
        "{e}"
    );
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "0");
    // Allowed multi-statement strings run in full, all their results relayed.
    let done = c
        .execute(sqlx::raw_sql(
            "INSERT INTO t VALUES (1); SELECT count(*) FROM t; INSERT INTO t VALUES (2), (3); SELECT sum(id) FROM t",
        ))
        .await
        .expect("multi-statement");
    assert_eq!(done.rows_affected(), 3);
    assert_eq!(fx.upstream.sql("SELECT sum(id) FROM t"), "6");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut c)
        .await
        .expect("after");
    assert_eq!(
        n, 3,
        "the session is in step after the multi-result response"
    );
    fx.dbward.stop().await;
}

/// `COM_CHANGE_USER` (connection pools' reset): same user and database re-authenticate and get
/// a reset session still in the grant's mode; another user is refused.
#[tokio::test]
async fn change_user_resets_the_session_for_the_same_user_only() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let (s, _) = fx
        .dbward
        .admin(
            "POST",
            "/api/users",
            Some(serde_json::json!({"username": "bob", "password": "bob-password-123"})),
        )
        .await;
    assert_eq!(s, 201);
    let stdout = crate::harness::run_client(
        "change_user.py",
        "",
        &[
            fx.port().to_string(),
            fx.password.clone(),
            "bob-password-123".into(),
        ],
    )
    .await;
    assert_eq!(
        stdout,
        "reset=1 read_only=1 kept_database=1 other_user=refused 1044"
    );
    fx.dbward.stop().await;
}

/// A row larger than one packet (0xFFFFFF bytes) arrives in two, and the continuation's first
/// byte (here 0xFF, which would read as an ERR packet) is data: the relay stays in step. Over
/// the binary protocol (sqlx's prepared statements) and the text protocol (raw SQL).
#[tokio::test]
async fn a_row_split_over_two_packets_stays_in_step() {
    use sqlx::{Executor as _, Row as _};
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let mut c = fx.sqlx().await;
    // 16,777,212 data bytes: the continuation starts at data byte 16,777,209 in a binary row
    // (6 bytes before the data) and at 16,777,211 in a text row (4 bytes): 0xFF at both.
    let sql =
        "SELECT CONCAT(REPEAT('x', 16777209), UNHEX('FF'), 'x', UNHEX('FF')) AS big, 7 AS after";
    let binary = sqlx::query(sql)
        .fetch_one(&mut c)
        .await
        .expect("binary row");
    let text = c.fetch_one(sqlx::raw_sql(sql)).await.expect("text row");
    for row in [binary, text] {
        let big: Vec<u8> = row.get(0);
        assert_eq!(big.len(), 16_777_212);
        assert_eq!((big[16_777_209], big[16_777_211]), (0xFF, 0xFF));
        let after: i64 = row
            .try_get(1)
            .or_else(|_| row.try_get::<String, _>(1).map(|s| s.parse().expect("int")))
            .expect("after");
        assert_eq!(after, 7);
        let n: i64 = sqlx::query_scalar("SELECT 41 + 1")
            .fetch_one(&mut c)
            .await
            .expect("in step");
        assert_eq!(n, 42);
    }
    fx.dbward.stop().await;
}

/// A grant's statement timeout becomes MariaDB's `max_statement_time` for the session, and
/// raising it (or switching it off) is refused.
#[tokio::test]
async fn statement_timeout_ceiling_on_mysql() {
    let fx = MyProxy::start("read", serde_json::json!({"statement_timeout_ms": 2000})).await;
    let (ok, out, err) = fx.mysql(&["-e", "SELECT @@max_statement_time"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.trim().trim_end_matches('0').trim_end_matches('.'),
        "2",
        "{out}"
    );
    for sql in [
        "SET SESSION max_statement_time = 5",
        "SET max_statement_time = 0",
        // The global value, which is 0 (none) here.
        "SET max_statement_time = DEFAULT",
    ] {
        let (ok, _, err) = fx.mysql(&["-e", sql]).await;
        assert!(!ok, "{sql}");
        assert!(
            err.contains("ERROR 1142") && err.contains("2000 ms"),
            "{sql}: {err}"
        );
    }
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "SET max_statement_time = 1; SELECT @@max_statement_time",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(
        out.trim().trim_end_matches('0').trim_end_matches('.'),
        "1",
        "{out}"
    );
    // MySQL 8's optimizer hints set variables for their statement: read as those settings
    // (MariaDB 10.11 takes them for comments, so the allowed ones just run). The mariadb
    // client strips comments unless asked to keep them.
    for (sql, says) in [
        ("SELECT /*+ MAX_EXECUTION_TIME(600000) */ 1", "2000 ms"),
        ("SELECT /*+ SET_VAR(max_execution_time = 0) */ 1", "2000 ms"),
        (
            "SELECT /*+ SET_VAR(foreign_key_checks = 0) */ 1",
            "this statement is write",
        ),
        (
            "SELECT /*+ SET_VAR(sql_mode = 'ORACLE') */ 1",
            "this statement is admin",
        ),
        ("SELECT /*+ NEW_HINT(x) */ 1", "could not classify"),
    ] {
        let (ok, _, err) = fx.mysql(&["--comments", "-e", sql]).await;
        assert!(!ok, "{sql}");
        assert!(err.contains(says), "{sql}: {err}");
    }
    let (ok, out, err) = fx
        .mysql(&[
            "--comments",
            "-e",
            "SELECT /*+ MAX_EXECUTION_TIME(500) BKA(s) */ COUNT(*) FROM seq_1_to_3 s",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "3");
    // The ceiling is enforced upstream too: a longer statement is stopped at 2 s.
    let started = std::time::Instant::now();
    let (ok, _, err) = fx.mysql(&["-e", "SELECT SLEEP(5) FROM seq_1_to_2"]).await;
    assert!(!ok, "ran to completion");
    assert!(err.contains("max_statement_time"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn killing_a_session_mid_result_tells_the_client_why() {
    use tokio::io::AsyncReadExt as _;
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    // About 10 GB if it ran to the end; the client reads as fast as it can.
    let mut child = fx
        .mysql_command(&[
            "--quick",
            "-e",
            "SELECT REPEAT('x', 1020) FROM seq_1_to_10000000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mysql");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0usize;
    while total < 4 << 20 {
        let n = stdout.read(&mut buf).await.expect("read");
        assert!(n > 0, "the result ended early");
        total += n;
    }
    let (_, sessions) = fx.dbward.admin("GET", "/api/sessions", None).await;
    let id = sessions[0]["id"].as_str().expect("session id").to_owned();
    let killed_at = std::time::Instant::now();
    let (s, _) = fx
        .dbward
        .admin("DELETE", &format!("/api/sessions/{id}"), None)
        .await;
    assert_eq!(s, 204);
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while stdout.read(&mut buf).await.expect("read") > 0 {}
    })
    .await
    .expect("the result stopped after the kill");
    assert!(
        killed_at.elapsed() < std::time::Duration::from_secs(2),
        "stopped {:?} after the kill",
        killed_at.elapsed()
    );
    let status = child.wait().await.expect("wait");
    let mut err = String::new();
    stderr.read_to_string(&mut err).await.expect("stderr");
    assert!(!status.success(), "a killed query must not succeed");
    assert!(
        err.contains("ERROR 1927") && err.contains("terminated by dbward"),
        "the client is told why: {err}"
    );
    // The trail says how the session ended and what it spent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let end = loop {
        let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=50", None).await;
        let items = page["items"].as_array().expect("items").clone();
        if let Some(end) = items
            .into_iter()
            .find(|r| r["action"] == "mysql.session_end")
        {
            break end;
        }
        assert!(std::time::Instant::now() < deadline, "no session_end row");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let details = &end["details"];
    assert_eq!(details["end"], "ended_by_dbward", "{end}");
    assert_eq!(details["cause"], "killed_by_admin", "{end}");
    assert!(
        details["message"]
            .as_str()
            .is_some_and(|m| m.contains("terminated by dbward")),
        "{end}"
    );
    assert_eq!(details["database"], "shop", "{end}");
    assert!(
        details["statements"].as_i64().expect("statements") >= 1,
        "{end}"
    );
    assert!(
        details["result_bytes"].as_i64().expect("bytes") >= 4 << 20,
        "{end}"
    );
    assert!(
        details["session_id"].is_string() && details["grant_id"].is_i64(),
        "{end}"
    );
    fx.dbward.stop().await;
}

/// The same with `PyMySQL`, which checks the sequence number of every packet: the kill's error
/// must come as the result's next packet.
#[tokio::test]
async fn a_killed_result_reaches_pymysql_as_the_kill() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let stdout = crate::harness::run_client(
        "pymysql_killed.py",
        "",
        &[
            fx.port().to_string(),
            fx.password.clone(),
            fx.dbward.url(""),
            crate::harness::ADMIN_PASSWORD.to_owned(),
        ],
    )
    .await;
    assert!(
        stdout.starts_with("OperationalError 1927 terminated by dbward"),
        "{stdout}"
    );
    fx.dbward.stop().await;
}

/// The greeting's version is `mysql.server_version` (clients pick variable names by it);
/// `5.7.99-dbward` by default.
#[tokio::test]
async fn the_greeting_announces_the_configured_version() {
    for (configured, announced) in [
        (None, "5.7.99-dbward"),
        (Some("8.0.99-dbward"), "8.0.99-dbward"),
    ] {
        let fx = MyProxy::start_with("read", serde_json::json!({}), |c| {
            c.mysql.server_version = configured.map(str::to_owned);
        })
        .await;
        let (ok, out, err) = fx.mysql(&["-e", "status"]).await;
        assert!(ok, "{err}");
        let line = out
            .lines()
            .find(|l| l.starts_with("Server version:"))
            .unwrap_or_default();
        assert!(line.contains(announced), "{out}");
        fx.dbward.stop().await;
    }
}

/// A client asking for `sjis` or `gbk` in its handshake (whose multi-byte characters can hide
/// a backslash from dbward's lexer) gets `utf8mb4`; one asking for `latin1` gets `latin1`, and
/// its non-ASCII text arrives as it meant it.
#[tokio::test]
async fn only_safe_handshake_character_sets_reach_the_upstream() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE words (w VARCHAR(20) CHARACTER SET utf8mb4)");
    for (charset, got) in [
        ("sjis", "utf8mb4"),
        ("gbk", "utf8mb4"),
        ("latin1", "latin1"),
        ("utf8mb4", "utf8mb4"),
    ] {
        let out = fx
            .mysql_command(&[
                &format!("--default-character-set={charset}"),
                "-e",
                "SELECT @@character_set_client, @@character_set_connection",
            ])
            .output()
            .await
            .expect("run mysql");
        assert!(
            out.status.success(),
            "{charset}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{got}\t{got}"),
            "{charset}"
        );
    }
    // `café` in latin1 bytes (not UTF-8: dbward reads the é as U+FFFD, the server as é).
    let out = MyProxy::feed(
        fx.mysql_command(&["--default-character-set=latin1"]),
        b"INSERT INTO words VALUES ('caf\xe9');",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fx.upstream.sql("SELECT HEX(w) FROM words"), "636166C3A9");
    fx.dbward.stop().await;
}

/// A `ddl` grant creates stored routines with compound bodies (one `CREATE` per string, as the
/// mysql client sends them under `DELIMITER`), triggers, and tables with local engines; text
/// after a routine's end is not hidden inside it.
#[tokio::test]
async fn stored_routines_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let script = "CREATE TABLE t (id INT PRIMARY KEY, n INT) ENGINE=InnoDB;
        ALTER TABLE t ENGINE=InnoDB, COMMENT='totals';
        CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.n = NEW.n * 10;
        DELIMITER //
        CREATE PROCEDURE fill(IN k INT)
        MODIFIES SQL DATA
        BEGIN
          DECLARE i INT DEFAULT 0;
          DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
          WHILE i < k DO
            SET i = i + 1;
            IF i % 2 = 0 THEN INSERT INTO t VALUES (i, i); ELSE BEGIN END; END IF;
          END WHILE;
        END//
        CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC BEGIN RETURN x * 2; END//
        DELIMITER ;
        CALL fill(6);
        SELECT SUM(n), twice(21) FROM t;";
    let out = fx
        .mysql_command(&[])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mysql");
    let out = {
        use tokio::io::AsyncWriteExt as _;
        let mut child = out;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(script.as_bytes())
            .await
            .expect("write script");
        drop(stdin);
        child.wait_with_output().await.expect("mysql output")
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "120\t42");
    // A routine with another statement after its end, in one string (one COM_QUERY, multiple
    // statements on): refused whole.
    {
        use sqlx::Executor as _;
        let mut c = fx.sqlx().await;
        let err = c
            .execute(sqlx::raw_sql(
                "CREATE PROCEDURE p() BEGIN SELECT 1; END; DROP TABLE t",
            ))
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("could not classify"), "{err}");
    }
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "3");
    assert_eq!(
        fx.upstream.sql(&format!(
            "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = '{}' AND routine_name = 'p'",
            fx.upstream.name
        )),
        "0"
    );
    fx.dbward.stop().await;
}

/// MariaDB's anonymous compound statement, as the mysql client sends it under `DELIMITER`: one
/// statement, which only `admin` may run (dbward cannot see into it, as into PostgreSQL's `DO`).
#[tokio::test]
async fn anonymous_blocks_need_an_admin_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE t (n INT)");
    let script = "DELIMITER //
        BEGIN NOT ATOMIC
          DECLARE i INT DEFAULT 0;
          WHILE i < 3 DO SET i = i + 1; INSERT INTO t VALUES (i); END WHILE;
          SELECT SUM(n) FROM t;
        END//
        DELIMITER ;";
    let (ok, _, err) = fx.mysql(&["-e", script]).await;
    assert!(!ok);
    assert!(
        err.contains("ERROR 1142") && err.contains("BEGIN NOT ATOMIC (an anonymous compound"),
        "{err}"
    );
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM t"), "0");
    let (s, g) = fx
        .dbward
        .admin(
            "POST",
            "/api/grants",
            Some(serde_json::json!({
                "user_id": fx.user_id, "database_id": fx.db_id, "access_level": "admin",
                "expires_at": "2099-01-01T00:00:00Z",
            })),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let (ok, out, err) = fx.mysql(&["-e", script]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "6");
    fx.dbward.stop().await;
}

/// `ANSI_QUOTES` makes `"a\"` end at the second quote: `SELECT 1 AS "a\"; DROP TABLE victim;
/// -- "` is one SELECT in the default quoting and a SELECT plus a DROP under it;
/// `NO_BACKSLASH_ESCAPES` does the same to `'a\'`. dbward follows a session that sets them
/// (it reads the session's `sql_mode` after the SET, and rewrites the session's text in the
/// default quoting before classifying it), so under a `write` grant the DROP is refused in the
/// mode where the server would run it, and the SELECT runs in the mode where it is one.
/// `COM_RESET_CONNECTION` brings the server's default back, and dbward with it. MariaDB's
/// combination modes that switch grammars (`ORACLE`) or more (`MSSQL`) stay refused.
#[tokio::test]
async fn sql_modes_that_change_quoting_are_followed() {
    use sqlx::{Executor as _, Row as _};
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE victim (x INT)");
    let mut c = fx.sqlx().await;
    let run = |sql: &'static str| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    for mode in ["ORACLE", "MSSQL", "STRICT_TRANS_TABLES,DB2"] {
        let err = c
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "SET sql_mode = '{mode}'"
            ))))
            .await
            .expect_err("refused");
        assert!(
            err.to_string().contains("permission denied by dbward"),
            "{mode}: {err}"
        );
    }
    let ansi_drop = r#"SELECT 1 AS "a\"; DROP TABLE victim; -- ""#;
    let nbe_drop = r"SELECT 'a\'; DROP TABLE victim; -- '";
    // The default quoting: both are one SELECT.
    c.execute(run(ansi_drop)).await.expect("one SELECT");
    c.execute(run(nbe_drop)).await.expect("one SELECT");
    // ANSI_QUOTES (here from ANSI): "…" names a column, and the DROP is seen.
    c.execute(run("SET sql_mode = 'ANSI'"))
        .await
        .expect("followed");
    let err = c.execute(run(ansi_drop)).await.expect_err("refused");
    assert!(err.to_string().contains("this statement is ddl"), "{err}");
    let row = sqlx::raw_sql(r#"SELECT "x" FROM (SELECT 7 AS x) AS "d""#)
        .fetch_one(&mut c)
        .await
        .expect("identifiers");
    assert_eq!(row.try_get::<i32, _>(0).expect("x"), 7);
    c.execute(run(nbe_drop)).await.expect("still one SELECT");
    // NO_BACKSLASH_ESCAPES, appended: a backslash ends nothing; both quotings at once.
    c.execute(run(
        "SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')",
    ))
    .await
    .expect("followed");
    let err = c.execute(run(nbe_drop)).await.expect_err("refused");
    assert!(err.to_string().contains("this statement is ddl"), "{err}");
    let err = c.execute(run(ansi_drop)).await.expect_err("refused");
    assert!(err.to_string().contains("this statement is ddl"), "{err}");
    let row = sqlx::raw_sql(r"SELECT 'C:\' AS p")
        .fetch_one(&mut c)
        .await
        .expect("a backslash");
    assert_eq!(row.try_get::<String, _>(0).expect("p"), r"C:\");
    // Changing the quoting takes a statement of its own (the server reads the rest of the
    // text in the new mode).
    let err = c
        .execute(run("SET sql_mode = ''; SELECT 1"))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("must come alone"), "{err}");
    // Back to the default through a computed value, checked after it runs.
    c.execute(run("SET sql_mode = @@GLOBAL.sql_mode"))
        .await
        .expect("followed");
    c.execute(run(ansi_drop)).await.expect("one SELECT again");
    c.execute(run(nbe_drop)).await.expect("one SELECT again");
    assert_eq!(fx.upstream.sql("SHOW TABLES LIKE 'victim'"), "victim");
    // `--` before a no-break space is code to MariaDB (`1 - -x`), and was a comment to
    // sqlparser, which then saw one SELECT.
    let err = c
        .execute(sqlx::raw_sql(
            "SELECT 1 --\u{a0} FROM (SELECT 1 AS `\u{a0}`) x; DROP TABLE victim",
        ))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("Unicode space"), "{err}");
    assert_eq!(fx.upstream.sql("SHOW TABLES LIKE 'victim'"), "victim");
    fx.dbward.stop().await;
}

/// An upstream whose server-wide default `sql_mode` has `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES`
/// (a private MariaDB started with them; dbward refused every login to such a server before):
/// sessions start in that quoting, through sqlx and the mysql client, and follow a switch back
/// to the default. A server default that dbward does not follow (MariaDB's `ORACLE`, another
/// grammar) refuses the login with a message that says what to change.
#[tokio::test]
async fn an_upstream_whose_default_sql_mode_quotes_otherwise() {
    use sqlx::{Executor as _, Row as _};
    let server = crate::my_server::PrivateMariadb::start(&[
        "--sql-mode=ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES",
    ]);
    let upstream = crate::my_fixture::MyDatabase::create_on(server.port);
    let fx = MyProxy::start_on(upstream, "write", serde_json::json!({}), |_| {}).await;
    fx.upstream.sql("CREATE TABLE victim (x INT)");
    let (ok, out, err) = fx
        .mysql(&["-e", r#"SELECT "x" FROM (SELECT 5 AS x) AS d"#])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "5");
    let mut c = fx.sqlx().await;
    let run = |sql: &'static str| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
    let row = run(r#"SELECT "x", 'C:\' AS p FROM (SELECT 7 AS x) AS d"#)
        .fetch_one(&mut c)
        .await
        .expect("both quotings");
    assert_eq!(row.try_get::<i32, _>(0).expect("x"), 7);
    assert_eq!(row.try_get::<String, _>(1).expect("p"), r"C:\");
    for drop in [
        r#"SELECT 1 AS "a\"; DROP TABLE victim; -- ""#,
        r"SELECT 'a\'; DROP TABLE victim; -- '",
    ] {
        let err = c.execute(run(drop)).await.expect_err("refused");
        assert!(err.to_string().contains("this statement is ddl"), "{err}");
    }
    c.execute(run("SET sql_mode = 'STRICT_TRANS_TABLES'"))
        .await
        .expect("followed");
    for one_select in [
        r#"SELECT 1 AS "a\"; DROP TABLE victim; -- ""#,
        r"SELECT 'a\'; DROP TABLE victim; -- '",
    ] {
        c.execute(run(one_select)).await.expect("one SELECT");
    }
    assert_eq!(fx.upstream.sql("SHOW TABLES LIKE 'victim'"), "victim");
    // A server default dbward does not follow: the login is refused, saying why.
    fx.upstream.sql("SET GLOBAL sql_mode = 'ORACLE'");
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(!ok, "logged in");
    assert!(
        err.contains("sql_mode ORACLE") && err.contains("default sql_mode"),
        "{err}"
    );
    fx.dbward.stop().await;
}

/// Statement commands built by hand (`tests/clients/pymysql_raw_statements.py`, over PyMySQL):
/// MariaDB's statement id `-1` names the statement prepared last, resolved by dbward, and names
/// nothing before any prepare, after a prepare dbward refused (not the statement prepared
/// before it) or after a close of it (`ERROR 1243`); bulk execution, which dbward's default
/// version does not offer, is refused (`ERROR 1295`). The session goes on after each.
#[tokio::test]
async fn statement_ids_minus_one_and_bulk_execution_by_hand() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE victim (x INT)");
    let stdout = fx.run_client("pymysql_raw_statements.py", &[]).await;
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "before any prepare: error 1243",
            "prepared: True",
            "execute -1: ok",
            "@v: 41",
            "refused prepare: error 1142",
            "execute -1 after it: error 1243",
            "@v still: 41",
            "execute by id: ok",
            "execute -1 after its close: error 1243",
            "bulk: 1295 True",
            "@v at the end: 43",
        ],
        "{stdout}"
    );
    assert_eq!(fx.upstream.sql("SHOW TABLES LIKE 'victim'"), "victim");
    fx.dbward.stop().await;
}

/// A pool's `COM_RESET_CONNECTION` (mysqljs's `reset`, Connector/J's `resetConnection`) puts
/// the server's default `sql_mode` back: dbward reads it again, so a session that had set
/// `ANSI_QUOTES` is classified in the default quoting after the reset (`PyMySQL`, sending the
/// command by hand: `tests/clients/pymysql_reset_quoting.py`).
#[tokio::test]
async fn a_reset_connection_brings_the_default_quoting_back() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE victim (x INT)");
    let stdout = fx.run_client("pymysql_reset_quoting.py", &[]).await;
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "refused: True",
            "ansi after reset: 0",
            "after reset: ((1,),)"
        ],
        "{stdout}"
    );
    assert_eq!(fx.upstream.sql("SHOW TABLES LIKE 'victim'"), "victim");
    fx.dbward.stop().await;
}

/// Partitioned tables under a `ddl` grant through the mysql client (sqlparser parses none of
/// these): `CREATE TABLE … PARTITION BY RANGE`, `ADD`, `REORGANIZE` and `TRUNCATE PARTITION`, a
/// read of one partition; a partition in a server directory needs `admin`.
#[tokio::test]
async fn partitioned_tables_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "CREATE TABLE m (id INT NOT NULL, d DATE NOT NULL) ENGINE=InnoDB \
               PARTITION BY RANGE (YEAR(d)) (PARTITION p2020 VALUES LESS THAN (2021), \
               PARTITION p2021 VALUES LESS THAN (2022)); \
             ALTER TABLE m ADD PARTITION (PARTITION pmax VALUES LESS THAN MAXVALUE); \
             INSERT INTO m VALUES (1, '2020-05-01'), (2, '2021-05-01'), (3, '2030-01-01'); \
             ALTER TABLE m REORGANIZE PARTITION pmax INTO \
               (PARTITION p2022 VALUES LESS THAN (2023), PARTITION pmax VALUES LESS THAN MAXVALUE); \
             ALTER TABLE m TRUNCATE PARTITION p2020; \
             SELECT GROUP_CONCAT(id ORDER BY id) FROM m PARTITION (p2021, pmax)",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "2,3");
    let (ok, _, err) = fx
        .mysql(&[
            "-e",
            "CREATE TABLE elsewhere (id INT) PARTITION BY HASH (id) \
               (PARTITION p0 DATA DIRECTORY = '/tmp')",
        ])
        .await;
    assert!(!ok && err.contains("this statement is admin"), "{err}");
    fx.dbward.stop().await;
}

/// Dynamic SQL runs the statement in its string: MariaDB's `EXECUTE IMMEDIATE 'DROP TABLE t'`
/// was once read as `EXECUTE` of a prepared statement (read) and dropped a table under a `write`
/// grant. The string is classified as the statement it holds; a computed one is refused.
#[tokio::test]
async fn dynamic_sql_is_classified_as_the_statement_it_runs() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE victim (x INT)");
    for sql in [
        "EXECUTE IMMEDIATE 'DROP TABLE victim'",
        "EXECUTE IMMEDIATE ('DROP TABLE victim')",
        "PREPARE s FROM 'DROP TABLE victim'",
        "SET @q = 'DROP TABLE victim'; EXECUTE IMMEDIATE @q",
        "SET @q = 'DROP TABLE victim'; PREPARE s FROM @q",
        "EXECUTE IMMEDIATE CONCAT('DROP TABLE ', 'victim')",
    ] {
        let (ok, _, err) = fx.mysql(&["-e", sql]).await;
        assert!(!ok && err.contains("dbward"), "{sql}: {err}");
    }
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "EXECUTE IMMEDIATE 'INSERT INTO victim VALUES (?)' USING 1; \
             PREPARE ins FROM 'INSERT INTO victim VALUES (?)'; SET @v = 2; \
             EXECUTE ins USING @v; DEALLOCATE PREPARE ins; \
             EXECUTE IMMEDIATE 'SELECT SUM(x) FROM victim'",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "3");
    assert_eq!(fx.upstream.sql("SHOW TABLES LIKE 'victim'"), "victim");
    fx.dbward.stop().await;
    // Under `read`, preparing a write is refused too.
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE victim (x INT)");
    let (ok, _, err) = fx
        .mysql(&["-e", "PREPARE ins FROM 'INSERT INTO victim VALUES (1)'"])
        .await;
    assert!(!ok && err.contains("dbward"), "{err}");
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "PREPARE q FROM 'SELECT COUNT(*) FROM victim'; EXECUTE q",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "0");
    fx.dbward.stop().await;
}

/// A character set or `sql_mode` set from a value dbward cannot read (mysqldump's `SET
/// character_set_client = @saved_cs_client`) runs, and the session is checked right after:
/// a safe value goes on, `sjis` or a mode with `ANSI_QUOTES` ends the session before the next
/// statement; prepared, such a SET is refused.
#[tokio::test]
async fn computed_character_sets_are_checked_after_they_run() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "SELECT @@character_set_client; \
             SET @saved = @@character_set_client; SET character_set_client = latin1; \
             SET character_set_client = @saved; SET @m = @@sql_mode; SET sql_mode = @m; \
             SELECT @@character_set_client",
        ])
        .await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.len() == 2 && lines[0] == lines[1] && lines[0].starts_with("utf8"),
        "{out}"
    );
    for (set, why) in [
        (
            "SET @x = 'sjis'; SET character_set_client = @x",
            "character set sjis",
        ),
        ("SET @m = 'ORACLE'; SET sql_mode = @m", "sql_mode"),
    ] {
        let (ok, out, err) = fx.mysql(&["-e", &format!("{set}; SELECT 'after'")]).await;
        assert!(!ok && !out.contains("after"), "{set}: {out}");
        assert!(
            err.contains("dbward ended the session") && err.contains(why),
            "{set}: {err}"
        );
    }
    let mut c = fx.sqlx().await;
    let e = sqlx::query("SET character_set_client = @x")
        .execute(&mut c)
        .await
        .expect_err("refused prepared");
    assert!(e.to_string().contains("plain query"), "{e}");
    fx.dbward.stop().await;
}

/// MariaDB statements sqlparser does not parse, as migrations and DBAs write them, under a
/// `ddl` grant through the mysql client: `IF [NOT] EXISTS` inside `ALTER TABLE`, index renames,
/// full-text indexes, `ALTER DATABASE`, `SET STATEMENT … FOR`, engine-independent statistics
/// and events (whose body takes part in the class). XA transactions and `HANDLER … OPEN` are
/// `write`.
#[tokio::test]
async fn mariadb_forms_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "CREATE TABLE f (a INT, b VARCHAR(50), KEY i (a)) ENGINE=InnoDB; \
             ALTER TABLE f ADD COLUMN IF NOT EXISTS c INT; \
             ALTER TABLE f ADD COLUMN IF NOT EXISTS c INT, DROP INDEX IF EXISTS nope; \
             ALTER TABLE f RENAME INDEX i TO j; \
             CREATE FULLTEXT INDEX ft ON f (b); \
             ALTER DATABASE COMMENT = 'orders'; \
             ANALYZE TABLE f PERSISTENT FOR ALL; \
             OPTIMIZE NO_WRITE_TO_BINLOG TABLE f; ANALYZE LOCAL TABLE f; \
             ALTER TABLE f RENAME COLUMN c TO d, RENAME KEY j TO k; ALTER TABLE f ORDER BY a; \
             SELECT a FROM f FOR UPDATE WAIT 1; SELECT !a FROM f LOCK IN SHARE MODE WAIT 1; \
             INSERT INTO f VALUES (1, 'x', 2); \
             SET STATEMENT max_statement_time = 5 FOR SELECT COUNT(*) FROM f; \
             CREATE EVENT ev ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 DAY \
               ON COMPLETION PRESERVE DO DELETE FROM f WHERE a < 0; \
             ALTER EVENT ev DISABLE",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.lines().rfind(|l| !l.contains("status")), Some("1"));
    assert_eq!(
        fx.upstream.sql(
            "SELECT GROUP_CONCAT(DISTINCT INDEX_NAME ORDER BY INDEX_NAME) FROM \
             information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'f'"
        ),
        "ft,k"
    );
    assert_eq!(
        fx.upstream.sql(
            "SELECT CONCAT(STATUS, ' ', EVENT_DEFINITION) FROM information_schema.EVENTS \
             WHERE EVENT_SCHEMA = DATABASE()"
        ),
        "DISABLED DELETE FROM f WHERE a < 0"
    );
    assert_eq!(
        fx.upstream.sql(
            "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME = DATABASE()"
        ),
        "orders"
    );
    // Routines whose body is one plain statement.
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "CREATE FUNCTION plus1(a INT) RETURNS INT DETERMINISTIC RETURN a + 1; \
             CREATE PROCEDURE count_f() READS SQL DATA SELECT COUNT(*) FROM f; \
             SELECT plus1(41); CALL count_f()",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["42", "1"]);
    // An event's body runs later, outside the session: its class counts.
    let (ok, _, err) = fx
        .mysql(&[
            "-e",
            "CREATE EVENT ev2 ON SCHEDULE EVERY 1 DAY DO GRANT SELECT ON *.* TO nobody",
        ])
        .await;
    assert!(!ok && err.contains("this statement is admin"), "{err}");
    let (ok, _, err) = fx.mysql(&["-e", "DROP EVENT IF EXISTS ev"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        fx.upstream
            .sql("SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()"),
        "0"
    );
    fx.dbward.stop().await;
    // XA: a whole transaction under `write`; refused under `read`.
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE x (a INT) ENGINE=InnoDB");
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "XA START 'tx1'; INSERT INTO x VALUES (7); XA END 'tx1'; XA PREPARE 'tx1'; \
             XA COMMIT 'tx1'; HANDLER x OPEN; HANDLER x READ FIRST; HANDLER x CLOSE; \
             SELECT SUM(a) FROM x INTO @s; SELECT CAST(@s AS SIGNED) + 1",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["7", "8"]);
    assert_eq!(fx.upstream.sql("SELECT SUM(a) FROM x"), "7");
    fx.dbward.stop().await;
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    for sql in ["XA START 'tx1'", "HANDLER x OPEN"] {
        let (ok, _, err) = fx.mysql(&["-e", sql]).await;
        assert!(
            !ok && err.contains("this statement is write"),
            "{sql}: {err}"
        );
    }
    fx.dbward.stop().await;
}

/// Django's migrations, ORM, `dumpdata`/`flush`/`loaddata` and unapplying every migration
/// through dbward under a `ddl` grant (mysqlclient underneath; see the PostgreSQL twin in
/// `pg_compat`).
#[tokio::test]
async fn django_migrates_under_a_ddl_grant() {
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let stdout = crate::harness::run_client("django_migrate.py", "", &fx.engine_args()).await;
    assert_eq!(
        stdout,
        "migrated=19 count=1 rows=widget:3 locked=10.50 flushed=0 loaded=10.50 left=none"
    );
    fx.dbward.stop().await;
}

/// mysql2 (npm): `execute` (the binary protocol's prepared statements), `query`, a denial and
/// the session going on, a rolled-back transaction, a streamed result and a pool.
#[tokio::test]
async fn mysql2_node_session() {
    let fx = MyProxy::start("write", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), data JSON)");
    let stdout = crate::harness::run_client("node/node_session.js", "", &fx.engine_args()).await;
    assert_eq!(
        stdout,
        "count=5 sum=10 named=n1,n2 denied 1142 rows=5 pool=380"
    );
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "5");
    fx.dbward.stop().await;
}

/// MySQL statements dbward rewrites for the parser (`DO`, `ANALYZE`, `INTO @x`...) keep their
/// literals as written: once, `'a\\'` came back as `'a\'`, the call after it hid in the
/// literal, and a `read` grant took a named lock with `DO`.
#[tokio::test]
async fn a_rewritten_statement_hides_no_call_in_its_literals() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    for sql in [
        "DO 'a\\\\', GET_LOCK(CHAR(107, 50), 0), ' AS q, ''z'",
        "SELECT 'a\\\\', GET_LOCK(CHAR(107, 50), 0), ' AS q, ''z' INTO @x",
        // Dynamic SQL: the server unescapes `\f` to `f`, sqlparser to a form feed, which made
        // `--\f` a comment to dbward and `- -f` to the server.
        "EXECUTE IMMEDIATE 'SELECT 1 --\\f, GET_LOCK(CHAR(107, 50), 0) FROM (SELECT 1 AS f) d'",
    ] {
        let (ok, _, err) = fx.mysql(&["-e", sql]).await;
        assert!(!ok && err.contains("dbward"), "{sql}: {err}");
    }
    assert_eq!(fx.upstream.sql("SELECT IS_USED_LOCK('k2') IS NULL"), "1");
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "DO 'it''s', \"a\\\"b\"; SELECT 'x\\\\' INTO @v; SELECT @v",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "x\\\\");
    fx.dbward.stop().await;
}

/// Query syntax sqlparser lacks, through the mysql client under `read`: MariaDB's
/// system-versioned reads (`FOR SYSTEM_TIME`), the `MOD` operator, `CAST … CHARACTER SET`,
/// `SHOW CREATE SEQUENCE`; each gives the server's own answer. A `DELETE` with several
/// modifiers is classified as the write it is, and `SHOW CREATE USER` (the credential's hash)
/// needs `admin`.
#[tokio::test]
async fn mariadb_query_syntax_sqlparser_lacks_reads_under_read() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream.sql(
        "CREATE TABLE hist (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING;
         INSERT INTO hist VALUES (1, 10);
         UPDATE hist SET v = 20 WHERE id = 1;
         CREATE SEQUENCE sq START WITH 5",
    );
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "SELECT COUNT(*) FROM hist FOR SYSTEM_TIME ALL;
             SELECT GROUP_CONCAT(v ORDER BY v) FROM hist FOR SYSTEM_TIME AS OF NOW() + INTERVAL 1 DAY;
             SELECT 7 MOD 3, CAST('abc' AS CHAR(2) CHARACTER SET utf8mb4);
             SELECT EXTRACT(YEAR_MONTH FROM '2024-05-06'), 'Robert' SOUNDS LIKE 'Rupert';
             SHOW CREATE SEQUENCE sq",
        ])
        .await;
    assert!(ok, "{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..4], ["2", "20", "1\tab", "202405\t1"], "{out}");
    lines.remove(3);
    assert!(
        lines[3].starts_with("sq\tCREATE SEQUENCE `sq` start with 5"),
        "{out}"
    );
    for (sql, why) in [
        (
            "DELETE LOW_PRIORITY QUICK IGNORE FROM hist",
            "this statement is write",
        ),
        (
            "UPDATE LOW_PRIORITY IGNORE hist SET v = 0",
            "this statement is write",
        ),
        ("SHOW CREATE USER CURRENT_USER", "password hash"),
    ] {
        let (ok, _, err) = fx.mysql(&["-e", sql]).await;
        assert!(!ok, "{sql}");
        assert!(
            err.contains("ERROR 1142") && err.contains(why),
            "{sql}: {err}"
        );
    }
    assert_eq!(fx.upstream.sql("SELECT COUNT(*) FROM hist"), "1");
    // `RELEASE`: the server closes the connection after the commit, and so does dbward.
    let (ok, out, err) = fx
        .mysql(&[
            "--skip-reconnect",
            "-e",
            "SELECT 1; COMMIT RELEASE; SELECT 2",
        ])
        .await;
    assert!(!ok, "{out}");
    assert_eq!(out.trim(), "1");
    assert!(
        err.contains("ERROR 1158 (08S01)")
            && err.contains("dbward lost the upstream: connection closed"),
        "{err}"
    );
    fx.dbward.stop().await;
}

/// A dead upstream, at login and during a session, is an error the mysql client shows as
/// it is (`ER_NET_READ_ERROR`, `08S01`). dbward once sent the client library's own
/// `CR_SERVER_LOST` (2013), which the client printed as "Received malformed packet".
#[tokio::test]
async fn a_dead_upstream_is_a_readable_error() {
    use tokio::io::AsyncWriteExt as _;
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    // During a session: the upstream connection is killed from outside.
    let mut c = fx.mysql_command(&["--skip-reconnect"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("mysql");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"SELECT CONNECTION_ID() INTO @me; SELECT 'before';\n")
        .await
        .expect("write");
    stdin.flush().await.expect("flush");
    let upstream_thread = loop {
        let id = fx.upstream.sql(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{}' AND DB = '{}' LIMIT 1",
            fx.upstream.user, fx.upstream.name
        ));
        if !id.is_empty() {
            break id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    fx.upstream
        .sql(&format!("KILL CONNECTION {upstream_thread}"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stdin.write_all(b"SELECT 'after';\n").await.expect("write");
    drop(stdin);
    let out = child.wait_with_output().await.expect("mysql");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(stdout.trim(), "before", "{stderr}");
    assert!(
        stderr.contains("ERROR 1158 (08S01)") && stderr.contains("dbward lost the upstream"),
        "{stderr}"
    );
    // At login: the database now points at a port nobody listens on.
    fx.dbward.point_at_a_closed_port(fx.db_id).await;
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(!ok);
    assert!(
        err.contains("ERROR 1158 (08S01)")
            && err.contains("could not connect to the upstream of database \"shop\""),
        "{err}"
    );
    fx.dbward.stop().await;
}

/// libmariadb's server-side cursor (`COM_STMT_FETCH` in batches) and `COM_FIELD_LIST`
/// (`mysql_list_fields`, which `mysqlshow --count` sends): each answer reaches the client
/// whole. dbward once kept both answers' last packet buffered, and the client waited forever.
#[tokio::test]
async fn cursor_fetch_and_field_list_through_libmariadb() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream.sql(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20));
         INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e'), (6, 'f'), (7, 'g')",
    );
    let stdout = tokio::time::timeout(
        std::time::Duration::from_mins(1),
        fx.run_client("stmt_cursor.c", &[]),
    )
    .await
    .expect("the client finished");
    // Ids 1..=7, then 2..=7.
    assert_eq!(stdout, "rows=13 sum=55 fields=2 first=id count=7");
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        fx.client_tool("mysqlshow")
            .args(["--count", "shop"])
            .output(),
    )
    .await
    .expect("mysqlshow finished")
    .expect("mysqlshow");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown
            .lines()
            .any(|l| l.split('|').map(str::trim).collect::<Vec<_>>() == ["", "t", "2", "7", ""]),
        "{shown}"
    );
    fx.dbward.stop().await;
}

/// libmariadb's less common calls (`tests/clients/libmariadb_api.c`): long data and statement
/// reset, multi-statements switched on and off, ping, statistics, `mysql_select_db`, the
/// refused `mysql_refresh` and `mysql_dump_debug_info` (the session goes on), and read-only
/// mode still on after `mysql_reset_connection` and `mysql_change_user`.
#[tokio::test]
async fn libmariadb_api_calls() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let stdout = tokio::time::timeout(
        std::time::Duration::from_mins(1),
        fx.run_client("libmariadb_api.c", &[]),
    )
    .await
    .expect("the client finished");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "long_data=long data!",
            "long_data=long again!",
            "multi_results=2",
            "ping=0",
            "stat=uptime",
            "select_db=0",
            "refresh=1 errno=1047",
            "debug=1 errno=1047",
            "user_var_before=5",
            "user_var_after_reset=NULL",
            "read_only_after_reset=1",
            "read_only_after_change_user=1",
        ],
        "{stdout}"
    );
    fx.dbward.stop().await;
}

/// The upstream account's password hash: MariaDB's `SHOW GRANTS` shows it (`IDENTIFIED BY
/// PASSWORD '*…'`), as an `admin` grant sees, so below `admin` it is refused, as `SHOW CREATE
/// USER` and reads of `mysql.user` are; `information_schema`'s privilege views still answer.
#[tokio::test]
async fn upstream_password_hashes_are_admin_only() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    for sql in [
        "SHOW GRANTS",
        "SHOW GRANTS FOR CURRENT_USER()",
        "SHOW CREATE USER CURRENT_USER",
        "SELECT authentication_string FROM mysql.user",
        "SELECT Priv FROM mysql.global_priv",
    ] {
        let (ok, _, err) = fx.mysql(&["-e", sql]).await;
        assert!(
            !ok && err.contains("ERROR 1142") && err.contains("this statement is admin"),
            "{sql}: {err}"
        );
    }
    let (ok, out, err) = fx
        .mysql(&[
            "-e",
            "SELECT DISTINCT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES \
             WHERE PRIVILEGE_TYPE = 'SELECT'",
        ])
        .await;
    assert!(ok && out.trim() == "SELECT", "{out} {err}");
    fx.dbward.stop().await;
    let fx = MyProxy::start("admin", serde_json::json!({})).await;
    let (ok, out, err) = fx.mysql(&["-e", "SHOW GRANTS"]).await;
    assert!(
        ok && out.contains("IDENTIFIED BY PASSWORD '*"),
        "{out} {err}"
    );
    fx.dbward.stop().await;
}

/// Every reason a MySQL login is refused after the password, with its code and message, and
/// its `mysql.connect` row in the trail (written before the client hears the refusal).
#[tokio::test]
async fn mysql_logins_need_a_grant_active_now_and_each_refusal_is_audited() {
    let fx = MyProxy::start("read", serde_json::json!({})).await;
    let admin = |method: &'static str, path: String, body: Option<serde_json::Value>| {
        let d = &fx.dbward;
        async move {
            let (s, b) = d.admin(method, &path, body).await;
            assert!((200..300).contains(&s), "{path}: {s} {b}");
            b
        }
    };
    let grant = |starts: i64, expires: i64| {
        let at = |h: i64| {
            dbward_core::time::format_rfc3339(
                time::OffsetDateTime::now_utc() + time::Duration::hours(h),
            )
        };
        serde_json::json!({"user_id": fx.user_id, "database_id": fx.db_id,
            "access_level": "read", "starts_at": at(starts), "expires_at": at(expires)})
    };
    let refused = |wanted: &'static str| {
        let fx = &fx;
        async move {
            let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
            assert!(!ok, "refused");
            assert!(err.contains(wanted), "{err} lacks {wanted}");
        }
    };
    let grants = admin("GET", "/api/grants".into(), None).await;
    let first = grants[0]["id"].as_i64().expect("id");
    admin("DELETE", format!("/api/grants/{first}"), None).await;
    refused("ERROR 1044 (42000): your grant on database \"shop\" was revoked").await;
    admin("POST", "/api/grants".into(), Some(grant(-3, -2))).await;
    refused("expired at").await;
    let future = admin("POST", "/api/grants".into(), Some(grant(2, 3))).await;
    refused("starts at").await;
    admin("DELETE", format!("/api/grants/{}", future["id"]), None).await;
    admin("POST", "/api/grants".into(), Some(grant(-1, 1))).await;
    let (ok, _, err) = fx.mysql(&["-e", "SELECT 1"]).await;
    assert!(ok, "{err}");
    let user = format!("/api/users/{}", fx.user_id);
    admin(
        "PATCH",
        user.clone(),
        Some(serde_json::json!({"enabled": false})),
    )
    .await;
    refused("ERROR 1045 (28000)").await;
    admin("PATCH", user, Some(serde_json::json!({"enabled": true}))).await;
    fx.dbward.point_at_a_closed_port(fx.db_id).await;
    refused("could not connect to the upstream of database \"shop\"").await;
    let reasons = fx.dbward.failure_reasons("mysql.connect").await;
    for reason in [
        "grant_revoked",
        "grant_expired",
        "grant_not_started",
        "user_disabled",
        "upstream_unavailable",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} missing from {reasons:?}"
        );
    }
    fx.dbward.stop().await;
}
