//! The audit trail: the HMAC chain (edited, deleted, reordered and truncated rows are detected;
//! pruning keeps it verifiable), filters, export, the live stream, the crash window (kill -9)
//! and what statements do while the store cannot be written.

use std::time::Duration;

use dbward_core::audit::chain::{ChainKey, Head, HeadFile};
use dbward_core::crypto::MasterKey;
use dbward_core::store::{Actor, AdminAuditEntry, AuditFilter, Store, VerifyReport};
use serde_json::{Value, json};

use crate::harness::{ADMIN_PASSWORD, PgDatabase};
use crate::pg_fixture::PgProxy;

/// Raw SQL on the store, behind dbward's back (the attacker's view).
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Pg(tokio_postgres::Client),
}

impl Raw {
    async fn exec(&self, sql: &str) {
        match self {
            Self::Sqlite(p) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(p)
                    .await
                    .expect("raw sql");
            }
            Self::Pg(c) => c.batch_execute(sql).await.expect("raw sql"),
        }
    }

    async fn text(&self, sql: &str) -> String {
        match self {
            Self::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(p)
                .await
                .expect("raw query"),
            Self::Pg(c) => c.query_one(sql, &[]).await.expect("raw query").get(0),
        }
    }
}

fn key() -> ChainKey {
    ChainKey::new(&MasterKey::from_bytes([5; 32]))
}

async fn verify(store: &Store, head: Option<&Head>) -> VerifyReport {
    store.verify_audit(&key(), head).await.expect("verify")
}

/// The chain's first error message, or "ok".
fn first_error(r: &VerifyReport) -> String {
    if r.unchained_rows > 0 {
        return format!("{} unchained", r.unchained_rows);
    }
    r.chains
        .iter()
        .find_map(|c| {
            c.error
                .as_ref()
                .map(|e| format!("{}: {}", e.seq, e.message))
        })
        .unwrap_or_else(|| "ok".into())
}

async fn tamper_scenario(store: Store, raw: Raw) {
    let store = store
        .bind_audit_chain(key(), "i1".into())
        .await
        .expect("bind");
    for i in 0..30 {
        store
            .audit_record(
                &Actor::system(),
                &AdminAuditEntry::success("test.event", "test", Some(i), json!({ "i": i })),
            )
            .await
            .expect("audit");
    }
    let r = verify(&store, None).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.chains[0].rows, 30);
    let head = store.audit_head().await.expect("head").expect("bound");
    assert_eq!(head.seq, 30);

    // An edited row fails its own link.
    raw.exec("UPDATE audit_log SET details = '{\"i\": 99}' WHERE seq = 10")
        .await;
    let r = verify(&store, None).await;
    assert!(!r.ok);
    assert!(
        first_error(&r).starts_with("10: row "),
        "{}",
        first_error(&r)
    );
    raw.exec("UPDATE audit_log SET details = '{\"i\":9}' WHERE seq = 10")
        .await;
    assert!(verify(&store, None).await.ok, "restored");

    // Two rows swapped in order.
    raw.exec(
        "UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; \
         UPDATE audit_log SET seq = 6 WHERE seq = -1",
    )
    .await;
    let r = verify(&store, None).await;
    assert!(
        first_error(&r).starts_with("5: row "),
        "{}",
        first_error(&r)
    );
    raw.exec(
        "UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; \
         UPDATE audit_log SET seq = 6 WHERE seq = -1",
    )
    .await;
    assert!(verify(&store, None).await.ok, "restored");

    // The tail deleted: the chain head row says more...
    raw.exec("DELETE FROM audit_log WHERE seq > 27").await;
    let r = verify(&store, Some(&head)).await;
    assert!(
        first_error(&r).contains("the last 3 were deleted"),
        "{}",
        first_error(&r)
    );
    // ...and with the head row rewound too, the chain alone looks whole: only the head kept
    // outside the store tells.
    let hash27 = raw.text("SELECT hmac FROM audit_log WHERE seq = 27").await;
    raw.exec(&format!(
        "UPDATE audit_chain SET seq = 27, hash = '{hash27}' WHERE instance_id = 'i1'"
    ))
    .await;
    assert!(
        verify(&store, None).await.ok,
        "consistent without the head file"
    );
    let r = verify(&store, Some(&head)).await;
    assert!(
        first_error(&r).contains("head file records link 30"),
        "{}",
        first_error(&r)
    );

    // Pruning: the newest 10 of 27 kept; a sealed checkpoint keeps the rest verifiable.
    let pruned = store.prune_audit(None, Some(10)).await.expect("prune");
    assert_eq!(pruned, 17);
    let r = verify(&store, None).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.chains[0].checkpoint_seq, Some(17));
    assert_eq!(r.chains[0].first_seq, 18);
    assert_eq!(r.chains[0].last_seq, 28, "27 plus the pruning's own event");
    let pruning = store
        .list_audit(
            &AuditFilter {
                action: Some("audit.prune".into()),
                ..AuditFilter::default()
            },
            10,
            None,
        )
        .await
        .expect("list");
    assert_eq!(pruning[0].details["pruned"], 17);
    // A forged checkpoint does not verify.
    raw.exec("UPDATE audit_checkpoints SET seq = seq + 1").await;
    assert!(first_error(&verify(&store, None).await).contains("checkpoint"));
    raw.exec("UPDATE audit_checkpoints SET seq = seq - 1").await;
    assert!(verify(&store, None).await.ok);

    // A row deleted in the middle.
    raw.exec("DELETE FROM audit_log WHERE seq = 20").await;
    let r = verify(&store, None).await;
    assert_eq!(
        first_error(&r),
        "20: links 20 to 20 are missing: rows were deleted"
    );
    // Pruning refuses to launder a broken chain.
    assert!(store.prune_audit(None, Some(1)).await.is_err());

    // A row slipped in outside any chain.
    raw.exec(
        "INSERT INTO audit_log (at, kind, action, outcome, details) \
         VALUES (1, 'admin', 'user.create', 'success', '{}')",
    )
    .await;
    assert_eq!(verify(&store, None).await.unchained_rows, 1);

    // A row squatting the chain's next position: the append fails as a whole (SQLite's
    // insert ignores constraint conflicts to skip its statement journal, and must then
    // refuse the batch, never drop the row), and nothing of it is written.
    let next = raw
        .text("SELECT CAST(seq + 1 AS TEXT) FROM audit_chain WHERE instance_id = 'i1'")
        .await;
    raw.exec(&format!(
        "INSERT INTO audit_log (at, kind, action, outcome, details, instance_id, seq) \
         VALUES (1, 'admin', 'squat', 'success', '{{}}', 'i1', {next})"
    ))
    .await;
    let refused = store
        .audit_record(
            &Actor::system(),
            &AdminAuditEntry::success("test.squatted", "test", Some(1), json!({})),
        )
        .await;
    assert!(refused.is_err(), "appended over a squatted position");
    let written = raw
        .text("SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action = 'test.squatted'")
        .await;
    assert_eq!(written, "0");
    assert_eq!(
        raw.text("SELECT CAST(seq AS TEXT) FROM audit_chain WHERE instance_id = 'i1'")
            .await,
        (next.parse::<i64>().expect("seq") - 1).to_string(),
        "the head did not move"
    );
    store.close().await;
}

#[tokio::test]
async fn chain_detects_tampering_and_survives_pruning_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = Store::open(&url).await.expect("open");
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    tamper_scenario(store, Raw::Sqlite(raw)).await;
}

#[tokio::test]
async fn chain_detects_tampering_and_survives_pruning_postgres() {
    let db = PgDatabase::create().await;
    let store = Store::open(&db.url).await.expect("open");
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("raw");
    tokio::spawn(conn);
    tamper_scenario(store, Raw::Pg(client)).await;
}

/// Polls `GET /api/audit?{query}` until `pred` holds for some item; returns the items.
async fn wait_for(fx: &PgProxy, query: &str, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    for _ in 0..100 {
        let (s, page) = fx
            .dbward
            .admin("GET", &format!("/api/audit?{query}"), None)
            .await;
        assert_eq!(s, 200, "{page}");
        let items = page["items"].as_array().expect("items").clone();
        if items.iter().any(&pred) {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no audit item for {query}");
}

#[tokio::test]
async fn trail_filters_export_stream_and_verify() {
    let fx = PgProxy::start("read").await;
    let c = fx.connect().await.expect("connect");
    c.simple_query("SELECT 'needle-42'").await.expect("select");
    c.batch_execute("DELETE FROM nowhere")
        .await
        .expect_err("denied");
    let items = wait_for(&fx, "kind=statement&q=NEEDLE-42", |r| {
        r["statement"] == "SELECT 'needle-42'"
    })
    .await;
    assert_eq!(items.len(), 1, "free text matches the statement only");
    let row = &items[0];
    assert_eq!(row["database"], "orders");
    assert_eq!(row["actor_username"], "alice");
    assert!(row["grant_id"].as_i64().is_some());
    assert!(row["seq"].as_i64().is_some() && row["hmac"].as_str().is_some_and(|h| h.len() == 64));
    let session = row["session_id"].as_str().expect("session id").to_owned();
    // The outcome is merged into the statement's own row.
    assert_eq!(row["details"]["rows"], 1, "{row}");
    assert!(
        row["details"]["bytes"].as_i64().expect("bytes") > 10,
        "{row}"
    );
    assert!(row["details"]["duration_us"].as_i64().is_some(), "{row}");
    assert_eq!(row["details"]["sql_bytes"], 18);

    // An upstream error, and rows affected.
    c.simple_query("SELECT 1/0")
        .await
        .expect_err("division by zero");
    let items = wait_for(&fx, "q=1/0", |r| r["details"]["error"] == "22012").await;
    assert_eq!(items[0]["action"], "statement.allowed");
    c.batch_execute("CREATE TEMP TABLE tt (id int)")
        .await
        .expect_err("ddl under read");

    let denied = wait_for(&fx, "decision=denied&kind=statement", |r| {
        r["statement"] == "DELETE FROM nowhere"
    })
    .await;
    assert!(denied.iter().all(|r| r["action"] == "statement.denied"));
    let of_session = wait_for(&fx, &format!("session_id={session}"), |r| {
        r["action"] == "pg.connect"
    })
    .await;
    assert!(of_session.iter().all(|r| r["session_id"] == session));
    assert!(
        of_session.len() >= 3,
        "the connection and both statements: {of_session:?}"
    );
    for (query, field, want) in [
        ("user=alice&kind=statement", "actor_username", "alice"),
        ("database=orders", "database", "orders"),
        ("kind=admin", "kind", "admin"),
    ] {
        let (_, page) = fx
            .dbward
            .admin("GET", &format!("/api/audit?{query}"), None)
            .await;
        let items = page["items"].as_array().expect("items");
        assert!(!items.is_empty(), "{query}");
        assert!(items.iter().all(|r| r[field] == want), "{query}: {items:?}");
    }
    let (_, page) = fx
        .dbward
        .admin("GET", "/api/audit?to=2000-01-01T00:00:00Z", None)
        .await;
    assert_eq!(page["items"], json!([]));
    for bad in ["kind=bogus", "from=yesterday", "decision=maybe", "limit=0"] {
        let (s, _) = fx
            .dbward
            .admin("GET", &format!("/api/audit?{bad}"), None)
            .await;
        assert_eq!(s, 400, "{bad}");
    }

    // The export: JSON Lines, oldest first, the same rows as the listing.
    let http = reqwest::Client::new();
    let text = http
        .get(fx.dbward.url("/api/audit/export?kind=statement"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let ids: Vec<i64> = lines
        .iter()
        .map(|l| l["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let (_, page) = fx
        .dbward
        .admin("GET", "/api/audit?kind=statement&limit=1000", None)
        .await;
    assert_eq!(lines.len(), page["items"].as_array().expect("items").len());
    assert!(lines.iter().any(|l| l["statement"] == "SELECT 'needle-42'"));
    wait_for(&fx, "action=audit.export", |r| {
        r["actor_username"] == "admin"
    })
    .await;

    // The live stream: an event for a statement run after it opened.
    let mut stream = http
        .get(fx.dbward.url("/api/audit/stream?q=streamed-77"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    c.simple_query("SELECT 'streamed-77'")
        .await
        .expect("select");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("SELECT 'streamed-77'") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("an event in time")
            .expect("stream read")
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: audit"), "{seen}");
    drop(stream);

    let (s, report) = fx.dbward.admin("GET", "/api/audit/verify", None).await;
    assert_eq!(s, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["chains"][0]["rows"].as_i64().expect("rows") > 5);
    fx.dbward.stop().await;
}

/// What `dbward audit verify` says about a data directory: (exit status, report).
async fn cli_verify(dir: &std::path::Path) -> (bool, Value) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_dbward"))
        .args(["audit", "verify", "--data-dir"])
        .arg(dir)
        .output()
        .await
        .expect("run dbward audit verify");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), report)
}

/// Statements run before the crash.
const CRASH_STATEMENTS: usize = 200;

#[tokio::test]
async fn kill_9_loses_nothing_older_than_the_flush_interval() {
    let upstream = PgDatabase::create().await;
    let mut p = crate::harness::DbwardProcess::spawn().await;
    let db = p
        .admin(
            "POST",
            "/api/databases",
            json!({
                "name": "orders", "engine": "postgres", "host": "127.0.0.1",
                "port": upstream.port(), "database": upstream.name,
                "username": upstream.user(), "password": upstream.password(),
                "tls_mode": "disable",
            }),
        )
        .await;
    let user = p
        .admin(
            "POST",
            "/api/users",
            json!({"username": "alice", "password": "alice-password-123"}),
        )
        .await;
    p.admin(
        "POST",
        "/api/grants",
        json!({"user_id": user["id"], "database_id": db["id"], "access_level": "read",
               "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    let (c, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} dbname=orders user=alice password=alice-password-123",
            p.pg_port
        ),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    for i in 0..CRASH_STATEMENTS {
        c.simple_query(&format!("SELECT {i} AS crash_probe"))
            .await
            .expect("select");
    }
    // Longer than the flush interval (50 ms) plus a batch's write: every event is committed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.child.start_kill().expect("kill -9");
    p.child.wait().await.expect("reaped");

    let dir = p.dir.path().to_owned();
    let store = Store::open(&format!("sqlite://{}", dir.join("dbward.db").display()))
        .await
        .expect("reopen");
    let probes = store
        .list_audit(
            &AuditFilter {
                text: Some("crash_probe".into()),
                ..AuditFilter::default()
            },
            1000,
            None,
        )
        .await
        .expect("list");
    let texts: Vec<String> = probes
        .iter()
        .rev()
        .flat_map(crate::harness::texts_of)
        .collect();
    let expected: Vec<String> = (0..CRASH_STATEMENTS)
        .map(|i| format!("SELECT {i} AS crash_probe"))
        .collect();
    assert_eq!(
        texts, expected,
        "every statement older than the flush interval survived"
    );
    store.close().await;
    let head = HeadFile::in_dir(&dir)
        .read()
        .expect("head file")
        .expect("written");
    assert!(head.seq > 0);
    let (ok, report) = cli_verify(&dir).await;
    assert!(ok, "{report}");
    assert_eq!(report["ok"], true);
}

#[tokio::test]
async fn cli_verify_reports_a_deleted_tail_after_restart() {
    let mut fx = PgProxy::start("read").await;
    let c = fx.connect().await.expect("connect");
    for i in 0..20 {
        c.simple_query(&format!("SELECT {i}"))
            .await
            .expect("select");
    }
    drop(c);
    let dir = fx.dbward.dir.take().expect("data dir");
    fx.dbward.stop().await;
    let (ok, report) = cli_verify(dir.path()).await;
    assert!(ok, "{report}");
    // Delete the newest rows and rewind the head row: only the head file remembers.
    let url = format!("sqlite://{}", dir.path().join("dbward.db").display());
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    let raw = Raw::Sqlite(raw);
    let last: String = raw
        .text("SELECT CAST(MAX(seq) AS TEXT) FROM audit_log")
        .await;
    let last: i64 = last.parse().expect("seq");
    raw.exec(&format!("DELETE FROM audit_log WHERE seq > {}", last - 5))
        .await;
    let hash = raw
        .text(&format!(
            "SELECT hmac FROM audit_log WHERE seq = {}",
            last - 5
        ))
        .await;
    raw.exec(&format!(
        "UPDATE audit_chain SET seq = {}, hash = '{hash}'",
        last - 5
    ))
    .await;
    let (ok, report) = cli_verify(dir.path()).await;
    assert!(!ok, "{report}");
    let message = report["chains"][0]["error"]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("head file"), "{message}");
}

#[tokio::test]
async fn strict_mode_commits_each_event_before_the_statement_runs() {
    let fx = PgProxy::start_with("read", |c| {
        c.audit.strict = true;
        // A long interval: only strict mode can explain an event written at once.
        c.audit.flush_interval = Duration::from_secs(30);
    })
    .await;
    let c = fx.connect().await.expect("connect");
    c.simple_query("SELECT 'strict-1'").await.expect("select");
    let (_, page) = fx.dbward.admin("GET", "/api/audit?q=strict-1", None).await;
    assert_eq!(page["items"].as_array().expect("items").len(), 1, "{page}");
    fx.dbward.stop().await;
}

/// A PostgreSQL store whose audit table a test renames away (every write fails) and back.
struct BreakableStore {
    db: PgDatabase,
    raw: tokio_postgres::Client,
}

impl BreakableStore {
    async fn create() -> Self {
        let db = PgDatabase::create().await;
        let (raw, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .expect("store connection");
        tokio::spawn(conn);
        Self { db, raw }
    }

    /// Points `c` at this store, with a short `audit.unavailable_wait`.
    fn configure(&self, c: &mut dbward_core::config::Config) {
        c.store_url = Some(self.db.url.clone());
        c.secret_key = Some(dbward_core::crypto::Secret::new(
            "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=".into(),
        ));
        c.audit.unavailable_wait = Duration::from_millis(300);
    }

    async fn set_broken(&self, broken: bool) {
        let sql = if broken {
            "ALTER TABLE audit_log RENAME TO audit_log_away"
        } else {
            "ALTER TABLE audit_log_away RENAME TO audit_log"
        };
        self.raw.batch_execute(sql).await.expect("rename");
    }
}

/// Runs `insert(i)` for i = 1, 2… until one is refused; returns its `i` and how many ran.
/// `insert` answers `Ok` or the refusal's error code and message.
async fn first_refusal<F, Fut>(mut insert: F) -> (i64, usize)
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<(), (String, String)>>,
{
    let mut allowed = 0;
    for i in 1..100 {
        match insert(i).await {
            Ok(()) => allowed += 1,
            Err((code, message)) => {
                assert!(message.contains("audit"), "{code} {message}");
                return (i, allowed);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no statement was refused during the outage");
}

/// `INSERT INTO t VALUES (i)` for i = 1, 2… until one is refused with 58000 (see
/// [`first_refusal`]).
async fn inserts_until_refused(c: &tokio_postgres::Client) -> (i64, usize) {
    first_refusal(|i| async move {
        c.batch_execute(&format!("INSERT INTO t VALUES ({i})"))
            .await
            .map_err(|e| {
                let db = e.as_db_error().expect("a database error");
                assert_eq!(db.code().code(), "58000", "{db:?}");
                (db.code().code().to_owned(), db.message().to_owned())
            })
    })
    .await
}

#[tokio::test]
async fn statements_are_refused_while_the_store_cannot_be_written() {
    let store = BreakableStore::create().await;
    let fx = PgProxy::start_with("write", |c| store.configure(c)).await;
    fx.upstream_sql("CREATE TABLE t (id int)").await;
    let c = fx.connect().await.expect("connect");
    c.batch_execute("INSERT INTO t VALUES (0)")
        .await
        .expect("insert");
    store.set_broken(true).await;
    // The first statement after the outage began may still be queued (its event is written
    // when the store is back); once the writer has failed, statements are refused.
    let (refused, ran) = inserts_until_refused(&c).await;
    let mut allowed = 1 + ran;
    let direct = fx.direct().await;
    let n: i64 = direct
        .query_one(
            "SELECT count(*) FROM t WHERE id = $1",
            &[&i32::try_from(refused).expect("id")],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0, "the refused statement did not run");
    store.set_broken(false).await;
    let mut back = false;
    for _ in 0..200 {
        if c.batch_execute("INSERT INTO t VALUES (1000)").await.is_ok() {
            allowed += 1;
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "statements run again once the store is back");
    // Every allowed INSERT has its event, including those queued during the outage.
    let found = fx.dbward.allowed_in_trail("insert into t", allowed).await;
    assert_eq!(found, allowed);
    let (_, report) = fx.dbward.admin("GET", "/api/audit/verify", None).await;
    assert_eq!(report["ok"], true, "{report}");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn mysql_statements_are_refused_while_the_store_cannot_be_written() {
    use mysql_async::prelude::Queryable as _;
    let store = BreakableStore::create().await;
    let fx =
        crate::my_fixture::MyProxy::start_with("write", json!({}), |c| store.configure(c)).await;
    fx.upstream.sql("CREATE TABLE t (id int)");
    let mut conn = mysql_async::Conn::new(fx.mysql_async_opts())
        .await
        .expect("connect");
    conn.query_drop("INSERT INTO t VALUES (0)")
        .await
        .expect("insert");
    let stmt = conn
        .prep("INSERT INTO t VALUES (?)")
        .await
        .expect("prepare");
    store.set_broken(true).await;
    let conn = tokio::sync::Mutex::new(conn);
    let (refused, _) = first_refusal(|i| {
        let conn = &conn;
        async move {
            let mut conn = conn.lock().await;
            match conn.query_drop(format!("INSERT INTO t VALUES ({i})")).await {
                Ok(()) => Ok(()),
                Err(mysql_async::Error::Server(e)) => {
                    assert_eq!(e.code, 1290, "{e:?}");
                    Err((e.code.to_string(), e.message))
                }
                Err(e) => panic!("a server error, not {e}"),
            }
        }
    })
    .await;
    let mut conn = conn.into_inner();
    assert_eq!(
        fx.upstream
            .sql(&format!("SELECT count(*) FROM t WHERE id = {refused}")),
        "0",
        "the refused statement did not run"
    );
    // A statement prepared before the outage: its execution is refused the same way.
    let err = conn
        .exec_drop(&stmt, (5000,))
        .await
        .expect_err("refused while the store is broken");
    assert!(
        matches!(&err, mysql_async::Error::Server(e) if e.code == 1290),
        "{err:?}"
    );
    store.set_broken(false).await;
    let mut back = false;
    for _ in 0..200 {
        if conn.exec_drop(&stmt, (6000,)).await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        back,
        "the same session runs statements again once the store is back"
    );
    assert_eq!(
        fx.upstream
            .sql("SELECT count(*) FROM t WHERE id IN (5000, 6000)"),
        "1"
    );
    fx.dbward.stop().await;
}

/// Retention by count, end to end: the background pruner keeps the newest `audit.max_events`
/// rows every `audit.prune_interval`, records an `audit.prune` row, and the rest still
/// verifies; the grant's usage counters do not move back.
#[tokio::test]
async fn the_pruner_keeps_the_newest_events_and_the_chain_verifies() {
    let fx = PgProxy::start_with("read", |c| {
        c.audit.max_events = Some(30);
        c.audit.prune_interval = Duration::from_millis(300);
    })
    .await;
    let c = fx.connect().await.expect("connect");
    for i in 0..60 {
        // A denial between two selects ends their run: every statement is a row of its own.
        c.simple_query(&format!("SELECT {i} AS pruned_{i}"))
            .await
            .expect("select");
        c.simple_query(&format!("DELETE FROM pruned_{i}"))
            .await
            .expect_err("denied");
    }
    drop(c);
    let (_, grants) = fx.dbward.admin("GET", "/api/grants", None).await;
    let grant_path = format!("/api/grants/{}", grants[0]["id"]);
    // The 60 selects (denials count nothing), once the ended session has given back the
    // rest of its reserved block.
    let mut used = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, grant) = fx.dbward.admin("GET", &grant_path, None).await;
        used = grant["used_queries"].clone();
        if used == 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(used, 60);
    let mut rows = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, page) = fx.dbward.admin("GET", "/api/audit?limit=1000", None).await;
        rows = page["items"].as_array().expect("items").clone();
        if rows.len() <= 32 && rows.iter().any(|r| r["action"] == "audit.prune") {
            break;
        }
    }
    assert!(rows.len() <= 32, "{} rows kept", rows.len());
    assert!(
        rows.iter().any(|r| r["action"] == "audit.prune"),
        "the pruning is recorded: {:?}",
        rows.iter()
            .map(|r| (r["action"].clone(), r["kind"].clone()))
            .collect::<Vec<_>>()
    );
    let texts: String = rows.iter().map(|r| r["statement"].to_string()).collect();
    assert!(texts.contains("pruned_59"), "the newest rows stay: {texts}");
    assert!(!texts.contains("pruned_0\""), "the oldest rows go: {texts}");
    let (_, report) = fx.dbward.admin("GET", "/api/audit/verify", None).await;
    assert_eq!(report["ok"], true, "{report}");
    let (_, after) = fx.dbward.admin("GET", &grant_path, None).await;
    assert_eq!(after["used_queries"], 60, "pruning refunds nothing");
    fx.dbward.stop().await;
}

/// A store that hangs (a lock held on the audit table) rather than fails: once the queue
/// (`audit.queue_events`) is full, statements wait for room (back-pressure) instead of running
/// without their events or dropping them; when the store moves again, every statement runs and
/// every event is written.
#[tokio::test]
async fn a_full_queue_holds_statements_back_and_loses_nothing() {
    let store = BreakableStore::create().await;
    let fx = PgProxy::start_with("read", |c| {
        store.configure(c);
        c.audit.queue_events = 4;
        c.audit.batch_events = 1;
        c.audit.unavailable_wait = Duration::from_secs(30);
    })
    .await;
    let c = fx.connect().await.expect("connect");
    c.simple_query("SELECT 'warm'").await.expect("select");
    // Hold the audit table: the writer's next insert waits on the lock.
    let (mut holder, conn) = tokio_postgres::connect(&store.db.url, tokio_postgres::NoTls)
        .await
        .expect("store connection");
    tokio::spawn(conn);
    let lock = holder.transaction().await.expect("begin");
    lock.batch_execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = ran.clone();
    let worker = tokio::spawn(async move {
        for i in 0..30 {
            // Two shapes in turn: no two neighbours share a row.
            let sql = if i % 2 == 0 {
                format!("SELECT {i} AS held_{i}")
            } else {
                format!("SELECT 'x{i}' AS held_{i}, 1")
            };
            c.simple_query(&sql).await.expect("runs, late");
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let while_held = ran.load(std::sync::atomic::Ordering::SeqCst);
    // The queue's 4 places, the writer's batch in hand and folded executions waiting for it
    // (at most `queue_events` more): far from all 30.
    assert!(
        while_held <= 12,
        "statements wait while the queue is full ({while_held} ran)"
    );
    lock.rollback().await.expect("release");
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("all ran once the store moved")
        .expect("join");
    let found = fx.dbward.allowed_in_trail("held_", 30).await;
    assert_eq!(found, 30, "every event written");
    let (_, report) = fx.dbward.admin("GET", "/api/audit/verify", None).await;
    assert_eq!(report["ok"], true, "{report}");
    fx.dbward.stop().await;
}

/// `audit.store_unavailable = "queue"`: while the store cannot be written, statements go on
/// running and their events wait in the queue (`audit.queue_events`); once it is full they are
/// refused. When the store is back every queued event is written.
#[tokio::test]
async fn the_queue_policy_runs_statements_until_the_queue_is_full() {
    let store = BreakableStore::create().await;
    let fx = PgProxy::start_with("write", |c| {
        store.configure(c);
        c.audit.store_unavailable = dbward_core::config::StoreUnavailable::Queue;
        c.audit.queue_events = 20;
        c.audit.batch_events = 1;
    })
    .await;
    fx.upstream_sql("CREATE TABLE t (id int)").await;
    let c = fx.connect().await.expect("connect");
    c.batch_execute("INSERT INTO t VALUES (0)")
        .await
        .expect("insert");
    store.set_broken(true).await;
    let (refused, ran) = inserts_until_refused(&c).await;
    // Under `refuse` the first failed write stops statements; here the queue's 20 places
    // (and the batch the writer holds) fill first.
    assert!(
        ran >= 15,
        "statements ran on while the queue had room ({ran})"
    );
    assert_eq!(
        fx.upstream_count("t").await,
        i64::try_from(1 + ran).expect("n")
    );
    let direct = fx.direct().await;
    let n: i64 = direct
        .query_one(
            "SELECT count(*) FROM t WHERE id = $1",
            &[&i32::try_from(refused).expect("id")],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 0, "the refused statement did not run");
    store.set_broken(false).await;
    let found = fx.dbward.allowed_in_trail("insert into t", 1 + ran).await;
    assert_eq!(found, 1 + ran, "every queued event was written");
    let (_, report) = fx.dbward.admin("GET", "/api/audit/verify", None).await;
    assert_eq!(report["ok"], true, "{report}");
    fx.dbward.stop().await;
}
