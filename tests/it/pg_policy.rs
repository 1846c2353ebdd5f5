//! Statement policy through the PostgreSQL proxy: each trap first shown to take effect under an
//! `admin` grant, then refused under `read` (simple and extended protocol), with the upstream
//! checked directly; transactions end as PostgreSQL would end them after a denial; denials are
//! audited.

use serde_json::json;

use crate::pg_fixture::PgProxy;

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned())
}

/// A second user holding a grant at `level` on the fixture's database; returns its conninfo.
async fn other_user(fx: &PgProxy, name: &str, level: &str) -> String {
    let password = format!("{name}-password-123");
    let (s, user) = fx
        .dbward
        .admin(
            "POST",
            "/api/users",
            Some(json!({"username": name, "password": password})),
        )
        .await;
    assert_eq!(s, 201, "{user}");
    let (s, g) = fx
        .post_grant(json!({"user_id": user["id"], "access_level": level}))
        .await;
    assert_eq!(s, 201, "{g}");
    format!(
        "host=127.0.0.1 port={} dbname={} user={name} password={password} sslmode=disable",
        fx.port(),
        fx.db_name
    )
}

async fn connect(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect through dbward");
    tokio::spawn(conn);
    client
}

/// Whether `effect` (a boolean SQL expression) holds on the upstream, checked directly.
async fn holds(fx: &PgProxy, effect: &str) -> bool {
    fx.direct()
        .await
        .query_one(&format!("SELECT ({effect})::bool"), &[])
        .await
        .expect("effect check")
        .get(0)
}

/// Traps with a durable effect on the upstream, and the SQL that shows it.
const TRAPS: &[(&str, &str)] = &[
    (
        "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT count(*) FROM d",
        "NOT EXISTS (SELECT 1 FROM t WHERE id = 1)",
    ),
    (
        "SELECT * INTO t_copy FROM t",
        "to_regclass('t_copy') IS NOT NULL",
    ),
    ("SELECT nextval('s')", "(SELECT is_called FROM s)"),
    (
        "EXPLAIN ANALYZE DELETE FROM t WHERE id = 2",
        "NOT EXISTS (SELECT 1 FROM t WHERE id = 2)",
    ),
    (
        "DO $$ BEGIN INSERT INTO t VALUES (300); END $$",
        "EXISTS (SELECT 1 FROM t WHERE id = 300)",
    ),
    ("CALL p_ins()", "EXISTS (SELECT 1 FROM t WHERE id = 1000)"),
    (
        "SELECT setval('s', 500)",
        "(SELECT last_value FROM s) = 500",
    ),
    (
        "UPDATE t SET id = 400 WHERE id = 3",
        "EXISTS (SELECT 1 FROM t WHERE id = 400)",
    ),
    (
        "CREATE TABLE made_here (a int)",
        "to_regclass('made_here') IS NOT NULL",
    ),
    (
        "CREATE TEMP TABLE tmp_here (a int)",
        "EXISTS (SELECT 1 FROM pg_class WHERE relname = 'tmp_here')",
    ),
    (
        "SELECT pg_advisory_lock(4242)",
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242)",
    ),
    // The server decodes U&"..." identifiers; this one is pg_advisory_lock.
    (
        r#"SELECT U&"\0070g_advisory_lock"(4343)"#,
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4343)",
    ),
    // ts_stat runs the query in its text.
    (
        "SELECT * FROM ts_stat('SELECT to_tsvector(pg_advisory_lock(4344)::text)')",
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4344)",
    ),
    // A carriage return ends a `--` comment for PostgreSQL: the call is code, and the text
    // must not share the cached decision of `SELECT 1` (which runs after every trap here).
    (
        "SELECT 4346 -- x\r, pg_advisory_lock(4346)",
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4346)",
    ),
    (
        "GRANT SELECT ON t TO PUBLIC",
        "EXISTS (SELECT 1 FROM information_schema.role_table_grants \
         WHERE table_name = 't' AND grantee = 'PUBLIC')",
    ),
];

/// Traps refused under `read` whose effect is on the session itself (checked by the denial
/// and by the session staying read-only).
const SESSION_TRAPS: &[&str] = &[
    "BEGIN READ WRITE",
    "START TRANSACTION READ WRITE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "SET transaction_read_only = off",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "SET standard_conforming_strings = off",
    "SET client_encoding = 'SJIS'",
    "SELECT * FROM t FOR UPDATE",
    "SELECT * FROM t FOR SHARE",
    "NOTIFY ch",
    "SELECT pg_notify('ch', 'x')",
    "LOCK TABLE t",
    "COPY t FROM STDIN",
    "COPY t TO PROGRAM 'true'",
    "COPY t FROM '/etc/passwd'",
    "SELECT pg_terminate_backend(0)",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT txid_current()",
    "SELECT * FROM dblink('x', 'y') AS r(a int)",
    "VACUUM t",
    "TRUNCATE t",
    "SELEKT 1",
];

async fn setup(fx: &PgProxy) {
    fx.upstream_sql(
        "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10); \
         CREATE SEQUENCE s; \
         CREATE PROCEDURE p_ins() LANGUAGE sql AS $$ INSERT INTO t VALUES (1000) $$",
    )
    .await;
}

#[tokio::test]
async fn traps_take_effect_under_admin_and_are_refused_under_read() {
    let fx = PgProxy::start("read").await;
    setup(&fx).await;
    let read = fx.connect().await.expect("read session");
    let admin_info = other_user(&fx, "root_bob", "admin").await;
    // Under read, over both protocols: refused with 42501, no effect, session usable.
    for (sql, effect) in TRAPS {
        let e = read.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql}: {e:?}");
        assert!(message(&e).contains("dbward"), "{}", message(&e));
        let e = read.query(*sql, &[]).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql} (extended): {e:?}");
        assert!(!holds(&fx, effect).await, "{sql} took effect under read");
        read.batch_execute("SELECT 1")
            .await
            .expect("session usable");
    }
    for sql in SESSION_TRAPS {
        let e = read.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql}: {e:?}");
        let e = read.query(*sql, &[]).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql} (extended): {e:?}");
    }
    let ro: String = read
        .query_one("SHOW default_transaction_read_only", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(ro, "on");
    // The read-only escape in one message: nothing of it runs.
    let e = read
        .batch_execute(
            "SET default_transaction_read_only = off; COMMIT; INSERT INTO t VALUES (555)",
        )
        .await
        .expect_err("escape");
    assert_eq!(sqlstate(&e), "42501");
    assert!(!holds(&fx, "EXISTS (SELECT 1 FROM t WHERE id = 555)").await);

    // Under admin, each trap takes effect (simple protocol; half of them extended).
    let admin = connect(&admin_info).await;
    for (i, (sql, effect)) in TRAPS.iter().enumerate() {
        if i % 2 == 0 {
            admin.batch_execute(sql).await.expect(sql);
        } else {
            admin.query(*sql, &[]).await.expect(sql);
        }
        assert!(holds(&fx, effect).await, "{sql} had no effect under admin");
    }
    // A denied statement carrying a password is audited without it.
    let e = read
        .batch_execute("ALTER ROLE postgres PASSWORD 'hunter2-secret'")
        .await
        .expect_err("admin statement");
    assert_eq!(sqlstate(&e), "42501");
    // Denials are audited with the statement and the reason (through the writer's queue: wait
    // until the last one is in).
    let mut audit = serde_json::Value::Null;
    let mut s = 0;
    for _ in 0..100 {
        (s, audit) = fx.dbward.admin("GET", "/api/audit?limit=1000", None).await;
        if audit.to_string().contains("ALTER ROLE postgres PASSWORD ?") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !audit.to_string().contains("hunter2-secret"),
        "a password in the audit trail"
    );
    assert!(
        audit.to_string().contains("ALTER ROLE postgres PASSWORD ?"),
        "redacted text audited"
    );
    assert_eq!(s, 200);
    let denied: Vec<&serde_json::Value> = audit
        .as_array()
        .or_else(|| audit["items"].as_array())
        .expect("audit list")
        .iter()
        .filter(|r| r["action"] == "statement.denied")
        .collect();
    let nextval = denied
        .iter()
        .find(|r| r["statement"] == "SELECT nextval('s')")
        .expect("nextval denial audited");
    assert_eq!(nextval["actor_username"], "alice");
    assert_eq!(nextval["details"]["class"], "write");
    assert!(
        nextval["details"]["reason"]
            .as_str()
            .expect("reason")
            .contains("nextval")
    );
    assert!(denied.len() >= 2 * (TRAPS.len() + SESSION_TRAPS.len()));
    fx.dbward.stop().await;
}

#[tokio::test]
async fn write_grant_writes_but_cannot_ddl_and_a_denial_aborts_the_transaction() {
    let fx = PgProxy::start("write").await;
    setup(&fx).await;
    let c = fx.connect().await.expect("write session");
    c.batch_execute("INSERT INTO t VALUES (700)")
        .await
        .expect("write");
    c.execute("UPDATE t SET id = 701 WHERE id = 700", &[])
        .await
        .expect("write, extended");
    let e = c
        .batch_execute("CREATE TABLE nope (a int)")
        .await
        .expect_err("ddl");
    assert_eq!(sqlstate(&e), "42501");
    assert!(message(&e).contains("ddl"), "{}", message(&e));

    // Simple protocol: BEGIN; INSERT; <denied>; COMMIT commits nothing.
    c.batch_execute("BEGIN").await.expect("begin");
    c.batch_execute("INSERT INTO t VALUES (777)")
        .await
        .expect("insert");
    let e = c.batch_execute("DROP TABLE t").await.expect_err("denied");
    assert_eq!(sqlstate(&e), "42501");
    // The transaction is failed, as after any error.
    let e = c.batch_execute("SELECT 1").await.expect_err("aborted");
    assert_eq!(sqlstate(&e), "25P02");
    c.batch_execute("COMMIT")
        .await
        .expect("commit (rolls back)");
    assert!(!holds(&fx, "EXISTS (SELECT 1 FROM t WHERE id = 777)").await);

    // Pipelined, extended protocol: the same, with every message sent before any answer.
    c.batch_execute("BEGIN").await.expect("begin");
    let (first, denied, after) = tokio::join!(
        c.execute("INSERT INTO t VALUES (778)", &[]),
        c.execute("CREATE TABLE nope2 (a int)", &[]),
        c.execute("INSERT INTO t VALUES (779)", &[]),
    );
    // tokio-postgres sends every statement's Parse before the Binds, so the denied Parse may
    // abort the transaction before the first insert executes: as PostgreSQL does for any
    // failed Parse in a transaction block.
    if let Err(e) = first {
        assert_eq!(sqlstate(&e), "25P02");
    }
    assert_eq!(sqlstate(&denied.expect_err("ddl denied")), "42501");
    assert_eq!(sqlstate(&after.expect_err("after the denial")), "25P02");
    c.batch_execute("COMMIT")
        .await
        .expect("commit (rolls back)");
    assert!(!holds(&fx, "EXISTS (SELECT 1 FROM t WHERE id IN (778, 779))").await);
    assert!(!holds(&fx, "to_regclass('nope2') IS NOT NULL").await);

    // Pipelined simple queries.
    let (begin, insert, ddl, commit) = tokio::join!(
        c.simple_query("BEGIN"),
        c.simple_query("INSERT INTO t VALUES (780)"),
        c.simple_query("ALTER TABLE t ADD COLUMN z int"),
        c.simple_query("COMMIT"),
    );
    begin.expect("begin");
    insert.expect("insert");
    assert_eq!(sqlstate(&ddl.expect_err("ddl denied")), "42501");
    commit.expect("commit (rolls back)");
    assert!(!holds(&fx, "EXISTS (SELECT 1 FROM t WHERE id = 780)").await);
    // The session is fine afterwards.
    assert_eq!(
        c.query_one("SELECT count(*) FROM t WHERE id = 701", &[])
            .await
            .expect("select")
            .get::<_, i64>(0),
        1
    );
    fx.dbward.stop().await;
}

/// A `ddl` grant defines routines in the trusted languages, but a C function (here: libc's
/// `system`, which the superuser credential would let PostgreSQL load) reaches the server's
/// operating system: `admin` only.
#[tokio::test]
async fn ddl_grant_defines_routines_but_not_in_untrusted_languages() {
    let fx = PgProxy::start("ddl").await;
    let c = fx.connect().await.expect("ddl session");
    c.batch_execute(
        "CREATE FUNCTION twice(a int) RETURNS int LANGUAGE plpgsql COST 5 \
         AS $$ BEGIN RETURN a * 2; END $$;
         CREATE PROCEDURE noop(IN a int DEFAULT 1) LANGUAGE sql AS $$ SELECT a $$;",
    )
    .await
    .expect("trusted routines");
    let doubled: i32 = c
        .query_one("SELECT twice(21)", &[])
        .await
        .expect("call")
        .get(0);
    assert_eq!(doubled, 42);
    let c_function = "CREATE FUNCTION run_cmd(cstring) RETURNS int \
                      AS 'libc.so.6', 'system' LANGUAGE c STRICT";
    let e = c.batch_execute(c_function).await.expect_err("refused");
    assert_eq!(sqlstate(&e), "42501");
    assert!(
        message(&e).contains("untrusted language"),
        "{}",
        message(&e)
    );
    assert!(!holds(&fx, "to_regproc('run_cmd') IS NOT NULL").await);
    // The server's own code, as `internal` functions: admin only too.
    let internal = "CREATE FUNCTION add_ints(int, int) RETURNS int LANGUAGE internal \
                    IMMUTABLE STRICT AS 'int4pl'";
    let e = c.batch_execute(internal).await.expect_err("refused");
    assert_eq!(sqlstate(&e), "42501");
    fx.grant("admin", "-1h", "+8h").await;
    let admin = fx.connect().await.expect("admin session");
    admin.batch_execute(internal).await.expect("admin may");
    let sum: i32 = admin
        .query_one("SELECT add_ints(40, 2)", &[])
        .await
        .expect("call")
        .get(0);
    assert_eq!(sum, 42);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn statement_timeout_above_the_grant_ceiling_is_denied() {
    let fx = PgProxy::start("read").await;
    let info = {
        let (s, user) = fx
            .dbward
            .admin(
                "POST",
                "/api/users",
                Some(json!({"username": "timed", "password": "timed-password-123"})),
            )
            .await;
        assert_eq!(s, 201);
        let (s, g) = fx
            .post_grant(json!({"user_id": user["id"], "statement_timeout_ms": 2000}))
            .await;
        assert_eq!(s, 201, "{g}");
        format!(
            "host=127.0.0.1 port={} dbname={} user=timed password=timed-password-123 sslmode=disable",
            fx.port(),
            fx.db_name
        )
    };
    let c = connect(&info).await;
    c.batch_execute("SET statement_timeout = '1s'")
        .await
        .expect("below");
    for sql in ["SET statement_timeout = '5s'", "SET statement_timeout = 0"] {
        let e = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql}");
    }
    c.batch_execute("RESET statement_timeout")
        .await
        .expect("reset");
    let t: String = c
        .query_one("SHOW statement_timeout", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(t, "2s", "back to the grant's ceiling");
    fx.dbward.stop().await;
}

/// Whether an error is one of dbward's policy denials (as opposed to the upstream's own error
/// for an allowed statement, e.g. an unknown table).
fn is_dbward_denial(e: &tokio_postgres::Error) -> bool {
    sqlstate(e) == "42501" && {
        let m = message(e);
        m.starts_with("permission denied by dbward") || m.starts_with("dbward could not classify")
    }
}

/// The whole PostgreSQL classification corpus, through the proxy under a `read` grant, over
/// the simple and the extended protocol: exactly the statements classified above `read` (or
/// unclassifiable) are refused by dbward; the others reach the upstream.
#[tokio::test]
async fn the_corpus_through_the_proxy_under_read() {
    let fx = PgProxy::start("read").await;
    setup(&fx).await;
    let c = fx.connect().await.expect("read session");
    let mut checked = 0;
    for file in ["postgres.txt", "psql-catalog.txt", "drivers.txt"] {
        let path = format!(
            "{}/core/tests/classification/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("corpus");
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (want, sql) = line.split_once('\t').unwrap_or((line, ""));
            if sql.trim().is_empty() {
                continue;
            }
            let allowed = want == "read";
            let simple = c.batch_execute(sql).await;
            let denied = simple.as_ref().err().is_some_and(is_dbward_denial);
            assert_eq!(
                denied, !allowed,
                "simple protocol, {want}: {sql}: {simple:?}"
            );
            c.batch_execute("ROLLBACK")
                .await
                .unwrap_or_else(|e| panic!("rollback after {sql}: {e:?}"));
            // Parameters ($1) make the extended protocol need types; prepare only.
            let extended = c.prepare(sql).await;
            let denied = extended.as_ref().err().is_some_and(is_dbward_denial);
            assert_eq!(
                denied,
                !allowed,
                "extended protocol, {want}: {sql}: {:?}",
                extended.err()
            );
            c.batch_execute("ROLLBACK")
                .await
                .unwrap_or_else(|e| panic!("rollback after {sql}: {e:?}"));
            checked += 1;
        }
    }
    assert!(checked >= 330, "{checked}");
    // psql itself: its \d family works on a read grant, and a denial reads clearly.
    for meta in [
        "\\d", "\\dt", "\\l", "\\df", "\\dn", "\\du", "\\d t", "\\dv", "\\di", "\\ds",
    ] {
        let (ok, _out, err) = fx.psql(&["-c", meta]).await;
        assert!(ok, "{meta}: {err}");
    }
    let (ok, _out, err) = fx.psql(&["-c", "SELECT nextval('s')"]).await;
    assert!(!ok);
    assert!(
        err.contains(
            "ERROR:  permission denied by dbward: this statement is write (function nextval)"
        ),
        "{err}"
    );
    fx.dbward.stop().await;
}

/// Two denied Parses before one Sync: PostgreSQL reports only the first failure of the cycle,
/// so dbward's second substitution must not outlive it and swallow a later, real error.
#[tokio::test]
async fn two_denials_in_one_cycle_leave_later_errors_alone() {
    use postgres_protocol::message::frontend;
    let fx = PgProxy::start("read").await;
    let mut c =
        crate::pg_raw::RawClient::connect(fx.port(), &fx.user, &fx.password, &fx.db_name).await;
    let mut out = bytes::BytesMut::new();
    frontend::parse("a", "SELECT nextval('x')", std::iter::empty(), &mut out).expect("parse");
    frontend::parse("b", "DELETE FROM t", std::iter::empty(), &mut out).expect("parse");
    frontend::sync(&mut out);
    c.send(&out).await;
    let (tags, status) = c.until_ready().await;
    let errors = tags.iter().fold(0, |n, t| n + usize::from(*t == b'E'));
    assert_eq!(errors, 1, "{tags:?}");
    assert_eq!(status, b'I');
    // A real error next: the upstream's own (division by zero), not a leftover 42501.
    out.clear();
    frontend::query("SELECT 1/0", &mut out).expect("query");
    c.send(&out).await;
    let (tag, body) = c.recv().await;
    assert_eq!(tag, b'E');
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("22012"), "{text}");
    let (_, status) = c.until_ready().await;
    assert_eq!(status, b'I');
    // And a later denial still reads as dbward's 42501 (a stale substitution at the head of
    // the queue would let the upstream's error through instead).
    out.clear();
    frontend::query("SELECT setval('x', 1)", &mut out).expect("query");
    c.send(&out).await;
    let (tag, body) = c.recv().await;
    assert_eq!(tag, b'E');
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("42501") && text.contains("dbward"), "{text}");
    c.until_ready().await;
    fx.dbward.stop().await;
}

/// A statement dbward rewrites for the parser (`OPERATOR(pg_catalog.=)`, as `pg_dump -t` sends)
/// keeps its literals as written: once, `E'a\\'` came back as `E'a\'`, the call after it hid in
/// the literal, and a `read` grant took an advisory lock through this string.
#[tokio::test]
async fn a_rewritten_statement_hides_no_call_in_its_literals() {
    let fx = PgProxy::start("read").await;
    fx.upstream_sql("CREATE TABLE t (a int)").await;
    let (ok, _, err) = fx
        .psql(&[
            "-c",
            "SELECT E'a\\\\', pg_advisory_lock(4242), E' AS q, \\'z' FROM t \
             WHERE a OPERATOR(pg_catalog.=) ANY (ARRAY[1])",
        ])
        .await;
    assert!(!ok && err.contains("permission denied by dbward"), "{err}");
    let held: i64 = fx
        .direct()
        .await
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242",
            &[],
        )
        .await
        .expect("pg_locks")
        .get(0);
    assert_eq!(held, 0);
    // The same rewrite with plain literals still reads.
    let (ok, out, err) = fx
        .psql(&[
            "-A",
            "-t",
            "-c",
            "SELECT 'it''s' FROM t WHERE a OPERATOR(pg_catalog.=) ANY (ARRAY[1]) UNION ALL SELECT E'x\\'y'",
        ])
        .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "x'y");
    fx.dbward.stop().await;
}
