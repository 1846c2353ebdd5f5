//! Statements built to exhaust the classifier, through both front doors: a chain of operators
//! deep enough to overflow the stack when parsed (300,000 terms aborted the whole process
//! before dbward bounded it), and statements nested in statements (each level classified anew).
//! Each gets an error in the client's protocol, and the session and the process go on.

use crate::my_fixture::MyProxy;
use crate::pg_fixture::PgProxy;

/// `SELECT 1 + 1 + …` with 300,000 terms (1.2 MB).
fn operator_chain() -> String {
    format!("SELECT 1{}", " + 1".repeat(300_000))
}

/// `levels` statements nested in one another, by `head` (`{i}` is the level).
fn nested(levels: usize, head: &str) -> String {
    (0..levels).fold("SELECT 1".to_owned(), |inner, i| {
        format!("{} {inner}", head.replace("{i}", &i.to_string()))
    })
}

#[tokio::test]
async fn postgres_sessions_survive_statements_built_to_exhaust_the_classifier() {
    let fx = PgProxy::start("ddl").await;
    let client = fx.connect().await.expect("connect");
    for (sql, expected) in [
        (operator_chain(), "operators"),
        (
            nested(400, "CREATE RULE r{i} AS ON INSERT TO t DO ALSO"),
            "nested",
        ),
    ] {
        let err = client
            .simple_query(&sql)
            .await
            .expect_err("refused below admin");
        let db = err.as_db_error().expect("an ErrorResponse");
        assert_eq!(db.code().code(), "42501");
        assert!(
            db.message().contains("could not classify") && db.message().contains(expected),
            "{}",
            db.message()
        );
        // The same session goes on.
        let rows = client.simple_query("SELECT 41 + 1").await.expect("next");
        assert!(matches!(
            &rows[1],
            tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("42")
        ));
    }
    // The extended protocol's Parse takes the same path (classified on the blocking pool, as
    // the text is over 64 KiB).
    let err = client
        .prepare(&operator_chain())
        .await
        .expect_err("refused at Parse");
    assert!(
        err.as_db_error()
            .is_some_and(|e| e.code().code() == "42501" && e.message().contains("operators")),
        "{err}"
    );
    client
        .simple_query("SELECT 1")
        .await
        .expect("the session goes on");
    // And the process: a new session logs in.
    let other = fx.connect().await.expect("a new session");
    other.simple_query("SELECT 1").await.expect("query");
    fx.dbward.stop().await;
}

/// The message of the ERR packet `err` carries.
fn err_message(err: &sqlx::Error) -> String {
    err.as_database_error()
        .expect("an ERR packet")
        .message()
        .to_owned()
}

#[tokio::test]
async fn mysql_sessions_survive_statements_built_to_exhaust_the_classifier() {
    use sqlx::Row as _;
    let fx = MyProxy::start("ddl", serde_json::json!({})).await;
    let mut conn = fx.sqlx().await;
    for (sql, expected) in [
        (operator_chain(), "operators"),
        (
            nested(400, "CREATE EVENT e{i} ON SCHEDULE AT NOW() DO"),
            "nested",
        ),
    ] {
        let err = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect_err("refused below admin");
        let message = err_message(&err);
        assert!(
            message.contains("could not classify") && message.contains(expected),
            "{message}"
        );
        let row = sqlx::query("SELECT 41 + 1")
            .fetch_one(&mut conn)
            .await
            .expect("the session goes on");
        assert_eq!(row.get::<i64, _>(0), 42);
    }
    // A prepared statement (COM_STMT_PREPARE) takes the same path.
    let err = sqlx::query(sqlx::AssertSqlSafe(operator_chain()))
        .execute(&mut conn)
        .await
        .expect_err("refused at prepare");
    let message = err_message(&err);
    assert!(message.contains("operators"), "{message}");
    sqlx::query("SELECT 1")
        .execute(&mut conn)
        .await
        .expect("the session goes on");
    let mut other = fx.sqlx().await;
    sqlx::query("SELECT 1")
        .execute(&mut other)
        .await
        .expect("a new session");
    fx.dbward.stop().await;
}

/// A long statement's classification (linear, but seconds for megabytes of text that does not
/// parse) runs on the blocking pool, not on the session thread: with one session thread, a
/// second session's query is answered while the first one's 1 MB statement is still being
/// classified (before, it waited for it).
#[tokio::test]
async fn a_long_classification_holds_up_no_other_session() {
    let fx = PgProxy::start_with("read", |c| c.runtime.session_threads = Some(1)).await;
    let slow = fx.connect().await.expect("connect");
    let other = fx.connect().await.expect("connect");
    let text = format!("SELEC {}", "a ".repeat(1 << 19));
    let big = tokio::spawn(async move { slow.simple_query(&text).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let rows = other
        .simple_query("SELECT 41 + 1")
        .await
        .expect("answered meanwhile");
    assert!(matches!(
        &rows[1],
        tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("42")
    ));
    assert!(
        !big.is_finished(),
        "the other session waited for the long statement's classification to end"
    );
    let err = big
        .await
        .expect("join")
        .expect_err("unclassifiable below admin");
    assert!(
        err.as_db_error()
            .is_some_and(|e| e.message().contains("could not classify")),
        "{err}"
    );
    fx.dbward.stop().await;
}
