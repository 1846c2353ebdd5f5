//! Every statement reaches the audit trail through the batching writer, allowed and denied,
//! from both protocols; shutdown drains the queue (the rows are read back from the store file
//! after dbward stopped).

use dbward_core::store::Store;

use crate::harness::texts_of;
use crate::pg_fixture::PgProxy;

#[tokio::test]
async fn every_statement_reaches_the_trail_and_shutdown_drains_the_queue() {
    let mut fx = PgProxy::start("read").await;
    let c = fx.connect().await.expect("connect");
    for i in 0..300 {
        c.simple_query(&format!("SELECT {i}"))
            .await
            .expect("simple");
    }
    for i in 0..50i32 {
        c.query("SELECT $1::int", &[&i]).await.expect("extended");
    }
    c.batch_execute("SELECT 1; SELECT 2")
        .await
        .expect("two statements");
    c.batch_execute("DELETE FROM nowhere")
        .await
        .expect_err("denied");
    drop(c);
    let dir = fx.dbward.dir.take().expect("data dir");
    fx.dbward.stop().await;

    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("dbward.db").display()
    ))
    .await
    .expect("reopen the store");
    let rows = store
        .list_audit(&dbward_core::store::AuditFilter::default(), 1000, None)
        .await
        .expect("audit");
    let statements: Vec<_> = rows.iter().filter(|r| r.kind == "statement").collect();
    // Identical statements of one session within a flush interval share a row (`executions`).
    let allowed: u64 = statements
        .iter()
        .filter(|r| r.action == "statement.allowed")
        .map(|r| r.details["executions"].as_u64().unwrap_or(1))
        .sum();
    let denied = statements
        .iter()
        .filter(|r| r.action == "statement.denied")
        .count();
    // 300 simple queries; 50 prepared and executed (tokio-postgres prepares in a round trip of
    // its own, so each Execute has a row of its own beside its Parse); one two-statement query.
    assert_eq!(
        allowed, 401,
        "every allowed statement message is in the trail"
    );
    assert_eq!(denied, 1);
    // Executions of one shape (`SELECT 0` ... `SELECT 299`) share rows too, and every text is
    // kept exactly, in order: the row's own first, then `more_statements`.
    let simple: Vec<String> = statements
        .iter()
        .rev()
        .filter(|r| r.details["message"] == "query" && r.details["statements"] == 1)
        .flat_map(|r| texts_of(r))
        .collect();
    let expected: Vec<String> = (0..300).map(|i| format!("SELECT {i}")).collect();
    assert_eq!(simple, expected, "each simple query's own text, in order");
    let simple_rows = statements
        .iter()
        .filter(|r| r.details["message"] == "query" && r.details["statements"] == 1)
        .count();
    assert!(
        simple_rows < 300,
        "executions of one shape within a flush interval share rows ({simple_rows} rows)"
    );
    // The text search finds an execution that is not its row's first.
    let found = store
        .list_audit(
            &dbward_core::store::AuditFilter {
                text: Some("select 257".into()),
                ..Default::default()
            },
            10,
            None,
        )
        .await
        .expect("search");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(texts_of(&found[0]).contains(&"SELECT 257".to_owned()));
    let seven = statements
        .iter()
        .find(|r| texts_of(r).contains(&"SELECT 7".to_owned()))
        .expect("SELECT 7 audited");
    assert_eq!(seven.actor_username.as_deref(), Some("alice"));
    assert_eq!(seven.details["class"], "read");
    assert_eq!(seven.details["message"], "query");
    assert_eq!(seven.database.as_deref(), Some("orders"));
    let two = statements
        .iter()
        .find(|r| r.statement.as_deref() == Some("SELECT 1; SELECT 2"))
        .expect("multi-statement audited");
    assert_eq!(two.details["statements"], 2);
    assert!(statements.iter().any(|r| r.details["message"] == "parse"));
    assert!(
        statements
            .iter()
            .all(|r| r.details.get("parameters").is_none()),
        "bound values are not recorded by default"
    );
    store.close().await;
}

#[tokio::test]
async fn bound_parameters_are_recorded_only_when_configured() {
    let fx = PgProxy::start_with("read", |c| c.audit.record_parameters = true).await;
    let c = fx.connect().await.expect("connect");
    let st = c
        .prepare("SELECT $1::text AS t, $2::int4 AS i")
        .await
        .expect("prepare");
    // tokio-postgres binds in binary format: recorded as hex; NULL as null.
    c.query(&st, &[&"abc", &42i32]).await.expect("first");
    c.query(&st, &[&None::<&str>, &7i32]).await.expect("second");
    c.query(&st, &[&"abc", &42i32])
        .await
        .expect("third, same values");
    // Without parameters there is nothing to record: executions fold as usual.
    let bare = c.prepare("SELECT 1 AS bare_probe").await.expect("prepare");
    c.query(&bare, &[]).await.expect("bare");
    c.query(&bare, &[]).await.expect("bare again");
    let executions = executions_in_trail(&fx.dbward, "AS i", 3).await;
    assert_eq!(executions.len(), 3, "one row per execution: {executions:?}");
    // Newest first.
    assert_eq!(
        executions[1]["details"]["parameters"],
        serde_json::json!([null, "\\x00000007"])
    );
    for r in [&executions[0], &executions[2]] {
        assert_eq!(
            r["details"]["parameters"],
            serde_json::json!(["\\x616263", "\\x0000002a"])
        );
        assert!(
            r["details"].get("executions").is_none(),
            "never folded: {r}"
        );
        assert_eq!(r["details"]["rows"], 1, "{r}");
    }
    let bare = executions_in_trail(&fx.dbward, "bare_probe", 1).await;
    assert!(
        !bare.is_empty(),
        "the parameterless executions are in the trail"
    );
    assert!(
        bare.iter()
            .all(|r| r["details"].get("parameters").is_none()),
        "{bare:?}"
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn mysql_statements_reach_the_trail() {
    let fx = crate::my_fixture::MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream.sql("CREATE TABLE t (id INT)");
    let (ok, _, err) = fx.mysql(&["-e", "SELECT count(*) FROM t; SELECT 42"]).await;
    assert!(ok, "{err}");
    let mut found = false;
    for _ in 0..50 {
        let (_, audit) = fx.dbward.admin("GET", "/api/audit?limit=200", None).await;
        // The client's reads (its start-up query, then the two) share a row: every text is
        // there, in order, and the rows are summed (one each).
        found = audit["items"].as_array().expect("items").iter().any(|r| {
            let texts = crate::harness::json_texts_of(r);
            let count = texts.iter().position(|t| t == "SELECT count(*) FROM t");
            let answer = texts.iter().position(|t| t == "SELECT 42");
            r["action"] == "statement.allowed"
                && count.is_some()
                && count.map(|i| i + 1) == answer
                && r["details"]["rows"].as_u64() == Some(texts.len() as u64)
                && r["details"]["executions"].as_u64() == Some(texts.len() as u64)
                && r["details"]["duration_us"].is_i64()
        });
        if found {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(found, "the MySQL statement reached the trail");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn mysql_bound_parameters_are_recorded_when_configured() {
    let fx = crate::my_fixture::MyProxy::start_with("read", serde_json::json!({}), |c| {
        c.audit.record_parameters = true;
    })
    .await;
    let mut conn = fx.sqlx().await;
    // sqlx prepares, then executes with binary values (COM_STMT_EXECUTE).
    let (t, i): (String, i64) = sqlx::query_as("SELECT CAST(? AS CHAR) AS t, ? + 1 AS i")
        .bind("it's")
        .bind(41i64)
        .fetch_one(&mut conn)
        .await
        .expect("first");
    assert_eq!((t.as_str(), i), ("it's", 42));
    let _: (Option<String>, i64) = sqlx::query_as("SELECT CAST(? AS CHAR) AS t, ? + 1 AS i")
        .bind(None::<String>)
        .bind(6i64)
        .fetch_one(&mut conn)
        .await
        .expect("second");
    let executions = executions_in_trail(&fx.dbward, "AS i", 2).await;
    assert_eq!(executions.len(), 2, "{executions:?}");
    // Newest first; values as SQL literals, NULL as null.
    assert_eq!(
        executions[0]["details"]["parameters"],
        serde_json::json!([null, "6"])
    );
    assert_eq!(
        executions[1]["details"]["parameters"],
        serde_json::json!(["'it\\'s'", "41"])
    );
    fx.dbward.stop().await;
}

/// The `execute` rows of statements containing `text` (URL-encoded), newest first, once `n`
/// of them are in the trail with their outcomes (the writer flushes every 50 ms), or what is
/// there after 5 s.
async fn executions_in_trail(
    dbward: &crate::harness::Dbward,
    text: &str,
    n: usize,
) -> Vec<serde_json::Value> {
    statements_in_trail(dbward, text, "execute", n).await
}

/// The rows whose message is `message` (`execute`, `bulk execute`, `query`...) of statements
/// containing `text`, newest first, as [`executions_in_trail`] waits for them.
pub async fn statements_in_trail(
    dbward: &crate::harness::Dbward,
    text: &str,
    message: &str,
    n: usize,
) -> Vec<serde_json::Value> {
    let mut executions = Vec::new();
    for _ in 0..100 {
        let (_, page) = dbward
            .admin(
                "GET",
                &format!(
                    "/api/audit?q={}&kind=statement&limit=50",
                    text.replace(' ', "%20")
                ),
                None,
            )
            .await;
        executions = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|r| r["details"]["message"] == message)
            .cloned()
            .collect::<Vec<_>>();
        if executions.len() >= n
            && executions
                .iter()
                .all(|r| r["details"].get("rows").is_some())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    executions
}

/// Folding keeps a session's order: runs of one shape share a row, and anything else the
/// session does (a denial, another shape) ends the run, so the session's rows read oldest first
/// give back exactly the statements psql sent, denied one included.
#[tokio::test]
async fn a_sessions_rows_keep_the_order_its_statements_ran_in() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql("CREATE TABLE t (id int, name text); INSERT INTO t VALUES (1, 'a')")
        .await;
    let statements = [
        "SELECT name FROM t WHERE id = 1",
        "SELECT name FROM t WHERE id = 2",
        "DELETE FROM t WHERE id = 1",
        "SELECT name FROM t WHERE id = 3",
        "SELECT count(*) FROM t",
        "SELECT name FROM t WHERE id = 4",
        "SELECT name FROM t WHERE id = 5",
    ];
    let mut args = vec!["-v", "ON_ERROR_STOP=0"];
    for s in &statements {
        args.extend(["-c", s]);
    }
    let (_, _, err) = fx.psql(&args).await;
    assert!(err.contains("permission denied by dbward"), "{err}");
    let texts = session_texts(&fx.dbward, &statements).await;
    assert_eq!(texts, statements, "the session's statements, in order");
    assert_eq!(fx.upstream_count("t").await, 1, "the DELETE did not run");
}

/// The same through the MySQL front door: `mysql --force` sends each statement of its script as
/// a `COM_QUERY` of its own and goes on after the denial.
#[tokio::test]
async fn a_mysql_sessions_rows_keep_the_order_its_statements_ran_in() {
    let fx = crate::my_fixture::MyProxy::start("read", serde_json::json!({})).await;
    fx.upstream
        .sql("CREATE TABLE t (id INT); INSERT INTO t VALUES (1)");
    let statements = [
        "SELECT id FROM t WHERE id = 1",
        "SELECT id FROM t WHERE id = 2",
        "DELETE FROM t WHERE id = 1",
        "SELECT id FROM t WHERE id = 3",
        "SELECT count(*) FROM t",
        "SELECT id FROM t WHERE id = 4",
        "SELECT id FROM t WHERE id = 5",
    ];
    // (From standard input: with `-e`, the client stops at the first error even with --force.)
    let mut child = fx
        .mysql_command(&["--force"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mysql");
    let mut stdin = child.stdin.take().expect("stdin");
    tokio::io::AsyncWriteExt::write_all(
        &mut stdin,
        format!("{};\n", statements.join(";\n")).as_bytes(),
    )
    .await
    .expect("script");
    drop(stdin);
    let out = child.wait_with_output().await.expect("mysql");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1142"), "{err}");
    let texts = session_texts(&fx.dbward, &statements).await;
    assert_eq!(texts, statements, "the session's statements, in order");
    assert_eq!(fx.upstream.sql("SELECT count(*) FROM t"), "1");
    fx.dbward.stop().await;
}

/// The texts of the session that ran `statements[0]`, its rows oldest first, once there are
/// as many as `statements` (or after 5 s).
async fn session_texts(dbward: &crate::harness::Dbward, statements: &[&str]) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..100 {
        let (_, page) = dbward
            .admin("GET", "/api/audit?kind=statement&limit=100", None)
            .await;
        let rows = page["items"].as_array().expect("items");
        let session = rows
            .iter()
            .find(|r| crate::harness::json_texts_of(r).contains(&statements[0].to_owned()))
            .map(|r| r["session_id"].clone());
        texts = rows
            .iter()
            .rev()
            .filter(|r| Some(&r["session_id"]) == session.as_ref())
            .flat_map(crate::harness::json_texts_of)
            .collect();
        if texts.len() >= statements.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    texts
}

/// A row that stands for several statements lists what each returned (`results`, in order,
/// equal neighbours merged): the trail says which statement returned the most rows, not only
/// their sum.
#[tokio::test]
async fn a_folded_row_says_which_statement_returned_what() {
    // A long flush interval: the three statements certainly share one row.
    let fx = PgProxy::start_with("read", |c| {
        c.audit.flush_interval = std::time::Duration::from_millis(500);
    })
    .await;
    let statements = ["SELECT 1", "SELECT generate_series(1, 500)", "SELECT 2"];
    let mut args = vec![];
    for s in &statements {
        args.extend(["-c", s]);
    }
    let (ok, _, err) = fx.psql(&args).await;
    assert!(ok, "{err}");
    let mut row = None;
    for _ in 0..100 {
        let (_, page) = fx
            .dbward
            .admin("GET", "/api/audit?kind=statement&limit=50", None)
            .await;
        row = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| crate::harness::json_texts_of(r) == statements)
            .filter(|r| r["details"]["rows"].is_i64())
            .cloned();
        if row.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let row = row.expect("one row for the three statements, with their outcome");
    assert_eq!(row["details"]["rows"], 502, "the sum");
    let results = row["details"]["results"].as_array().expect("results");
    let each: Vec<(u64, i64)> = results
        .iter()
        .map(|r| {
            (
                r["executions"].as_u64().unwrap_or_default(),
                r["rows"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(each, [(1, 1), (1, 500), (1, 1)], "{results:?}");
    assert!(results[1]["bytes"].as_i64() > results[0]["bytes"].as_i64());
    fx.dbward.stop().await;
}

/// `audit.max_statement_bytes` cuts the stored text (on a character boundary) and records the
/// full length; `audit.normalized_statements_only` stores the text with its literals replaced,
/// so personal data in `WHERE` clauses stays out of the trail.
#[tokio::test]
async fn statement_texts_are_cut_or_normalized_as_configured() {
    let fx = PgProxy::start_with("read", |c| c.audit.max_statement_bytes = 64).await;
    let c = fx.connect().await.expect("connect");
    // 73 bytes, a two-byte character across the 64th byte.
    let kept = format!("SELECT 'cut-here', '{}", "a".repeat(43));
    let long = format!("{kept}é', 12345");
    c.simple_query(&long).await.expect("select");
    let rows = statements_in_trail(&fx.dbward, "cut-here", "query", 1).await;
    let row = rows.first().expect("a row");
    assert_eq!(row["statement"], kept, "{row}");
    assert_eq!(row["details"]["truncated"], true, "{row}");
    assert_eq!(row["details"]["sql_bytes"], long.len(), "{row}");
    fx.dbward.stop().await;

    let fx = PgProxy::start_with("read", |c| c.audit.normalized_statements_only = true).await;
    let c = fx.connect().await.expect("connect");
    fx.upstream_sql("CREATE TABLE patients (name text, born date)")
        .await;
    c.simple_query("SELECT born FROM patients WHERE name = 'Ada Lovelace' AND born > '1815-01-01'")
        .await
        .expect("select");
    c.query(
        "SELECT born FROM patients WHERE name = $1",
        &[&"Grace Hopper"],
    )
    .await
    .expect("extended");
    let simple =
        statements_in_trail(&fx.dbward, "FROM patients WHERE name = ? AND", "query", 1).await;
    let row = simple.first().expect("the simple query's row");
    assert_eq!(
        row["statement"], "SELECT born FROM patients WHERE name = ? AND born > ?",
        "{row}"
    );
    let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=100", None).await;
    let trail = page.to_string();
    assert!(
        !trail.contains("Lovelace") && !trail.contains("1815"),
        "{trail}"
    );
    assert!(
        !trail.contains("Hopper"),
        "bound values are not recorded either: {trail}"
    );
    // The extended protocol's placeholder is normalized like a literal.
    assert!(
        trail.contains("\"SELECT born FROM patients WHERE name = ?\""),
        "{trail}"
    );
    fx.dbward.stop().await;
}
