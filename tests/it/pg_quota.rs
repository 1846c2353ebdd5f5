//! Quotas through the PostgreSQL proxy: exact under concurrency, enforced at Execute, cut off
//! mid-result with a clear error, and visible in the API.

use std::time::Duration;

use serde_json::json;

use crate::pg_fixture::PgProxy;

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned())
}

/// A fixture whose only grant carries `fields` (quotas); returns it and the grant id.
async fn fixture(fields: serde_json::Value, sessions: usize) -> (PgProxy, i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = crate::harness::test_config(dir.path().to_owned());
    config.limits.max_sessions_per_grant = sessions;
    config.limits.max_sessions_per_user = sessions;
    let mut dbward = crate::harness::Dbward::start_with(config).await;
    dbward.dir = Some(dir);
    let fx = PgProxy::register(dbward, crate::harness::PgDatabase::create().await).await;
    let (s, g) = fx.post_grant(fields).await;
    assert_eq!(s, 201, "{g}");
    (fx, g["id"].as_i64().expect("id"))
}

/// The grant as the API shows it, once its usage stops moving (sessions give back their
/// unspent blocks after they end).
async fn settled_grant(fx: &PgProxy, id: i64) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..50 {
        let (s, g) = fx
            .dbward
            .admin("GET", &format!("/api/grants/{id}"), None)
            .await;
        assert_eq!(s, 200, "{g}");
        if g == last {
            return g;
        }
        last = g;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn concurrent_sessions_never_exceed_max_queries() {
    const SESSIONS: usize = 20;
    const LIMIT: i64 = 1000;
    let block = dbward_core::quota::QuotaConfig::default().block_queries;
    let (fx, grant) = fixture(json!({"max_queries": LIMIT}), SESSIONS).await;
    let trips_before = dbward_core::store::quota_round_trips();
    let mut tasks = Vec::new();
    for _ in 0..SESSIONS {
        let client = fx.connect().await.expect("connect");
        tasks.push(tokio::spawn(async move {
            let mut ok = 0i64;
            loop {
                match client.simple_query("SELECT 1").await {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        assert_eq!(sqlstate(&e), "53400", "{e:?}");
                        assert!(message(&e).contains("query quota"), "{}", message(&e));
                        return ok;
                    }
                }
            }
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("session task");
    }
    let trips = dbward_core::store::quota_round_trips() - trips_before;
    eprintln!(
        "{SESSIONS} sessions executed {total} of {LIMIT} statements; \
         {trips} store round-trips for quota ({} per 1000 statements)",
        trips * 1000 / u64::try_from(total.max(1)).expect("positive")
    );
    assert!(
        total <= LIMIT,
        "{total} statements ran, the limit is {LIMIT}"
    );
    assert!(
        total >= LIMIT - i64::try_from(SESSIONS).expect("small") * block,
        "{total}: more than sessions x block refused early"
    );
    // The API shows what was used; after the sessions end, unspent blocks come back.
    let g = settled_grant(&fx, grant).await;
    assert!(g["used_queries"].as_i64().expect("used") <= LIMIT, "{g}");
    assert_eq!(
        g["remaining_queries"].as_i64().expect("remaining"),
        LIMIT - g["used_queries"].as_i64().expect("used")
    );
    fx.dbward.stop().await;
}

#[tokio::test]
async fn execute_counts_and_unused_blocks_come_back() {
    let (fx, grant) = fixture(json!({"max_queries": 25}), 5).await;
    {
        let c = fx.connect().await.expect("connect");
        // Each statement of a multi-statement string counts.
        c.batch_execute("SELECT 1; SELECT 2; SELECT 3")
            .await
            .expect("3 statements");
        let stmt = c.prepare("SELECT $1::int").await.expect("prepare");
        for i in 0..4 {
            c.query_one(&stmt, &[&i]).await.expect("execute");
        }
    }
    // 7 statements spent; the rest of the session's block is given back when it ends.
    let g = settled_grant(&fx, grant).await;
    assert_eq!(g["used_queries"], 7, "{g}");
    assert_eq!(g["remaining_queries"], 18, "{g}");
    let c = fx.connect().await.expect("connect");
    let stmt = c.prepare("SELECT $1::int").await.expect("prepare");
    let mut ran = 0;
    let err = loop {
        match c.query_one(&stmt, &[&1i32]).await {
            Ok(_) => ran += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(ran, 18);
    assert_eq!(sqlstate(&err), "53400", "refused at Execute: {err:?}");
    // The session stays usable for what costs nothing... and refuses the rest.
    let e = c.simple_query("SELECT 1").await.expect_err("no quota left");
    assert_eq!(sqlstate(&e), "53400");
    drop(c);
    let g = settled_grant(&fx, grant).await;
    assert_eq!(g["used_queries"], 25);
    assert_eq!(g["remaining_queries"], 0);
    fx.dbward.stop().await;
}

#[tokio::test]
async fn byte_quota_cuts_a_result_off_midway() {
    const LIMIT: i64 = 200_000;
    let (fx, grant) = fixture(json!({"max_bytes": LIMIT}), 5).await;
    let c = fx.connect().await.expect("connect");
    // Small results pass.
    c.simple_query("SELECT repeat('x', 100) FROM generate_series(1, 10)")
        .await
        .expect("small");
    // About 10 MB: stopped near 200 kB, the upstream query cancelled.
    let e = c
        .simple_query("SELECT repeat('x', 1000) FROM generate_series(1, 10000) AS big_result")
        .await
        .expect_err("over quota");
    assert_eq!(sqlstate(&e), "53400", "{e:?}");
    assert!(message(&e).contains("byte quota"), "{}", message(&e));
    // The extended protocol and COPY OUT are refused too from now on, session still open.
    let e = c.query("SELECT 1", &[]).await.expect_err("no quota left");
    assert_eq!(sqlstate(&e), "53400");
    let running: i64 = fx
        .direct()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' \
             AND query LIKE '%big_result%' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .expect("activity")
        .get(0);
    assert_eq!(running, 0, "the upstream query was cancelled");
    drop(c);
    let g = settled_grant(&fx, grant).await;
    let used = g["used_bytes"].as_i64().expect("used");
    assert!(used <= LIMIT, "{g}");
    assert!(used > LIMIT - 2_000, "the result ran up to the limit: {g}");
    fx.dbward.stop().await;
}

#[tokio::test]
async fn copy_out_is_metered_too() {
    let (fx, _grant) = fixture(json!({"max_bytes": 50_000, "access_level": "read"}), 5).await;
    fx.upstream_sql(
        "CREATE TABLE big AS SELECT g, repeat('y', 500) AS pad FROM generate_series(1, 2000) g",
    )
    .await;
    let (ok, _out, err) = fx.psql(&["-c", "\\copy big TO STDOUT"]).await;
    assert!(!ok, "COPY OUT over the quota fails");
    assert!(err.contains("byte quota"), "{err}");
    fx.dbward.stop().await;
}
