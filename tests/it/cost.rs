//! A deterministic cost check of the relay path: callgrind counts the instructions dbward (this
//! build, debug in CI) executes per statement of a fixed pgbench workload through a real
//! upstream, and the test compares them with `bench/relay-cost-baseline.txt`.
//!
//! Per statement = (instructions for 2,000 statements − for 1,000) ÷ 1,000, each run one
//! pgbench connection, so login costs cancel out. Instrumentation is switched on only around the
//! workloads (`callgrind_control`), so start-up and argon2id are not counted. Instruction counts
//! do not depend on the machine's load, unlike times. Run with `DBWARD_COST_UPDATE=1` to rewrite
//! the baseline after an intended change, and say why in the commit.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncBufReadExt as _;

use crate::harness::{ADMIN_PASSWORD, PgDatabase};

/// How far the count may move before the test fails.
const TOLERANCE: f64 = 0.30;

async fn callgrind_control(args: &[&str]) {
    let out = tokio::process::Command::new("callgrind_control")
        .args(args)
        .output()
        .await
        .expect("callgrind_control");
    assert!(
        out.status.success(),
        "callgrind_control {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Total instructions (`totals:`; `summary:` is zeroed by `-z`) in the newest dump in `dir`.
fn dump_total(dir: &std::path::Path, before: &[std::path::PathBuf]) -> u64 {
    let newest = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("cg.out"))
                && !before.contains(p)
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .expect("a new callgrind dump");
    let text = std::fs::read_to_string(&newest).expect("dump");
    text.lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("totals line")
}

fn dumps(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect()
}

#[tokio::test]
async fn relay_instructions_per_statement_match_the_baseline() {
    let upstream = PgDatabase::create().await;
    let pgbench_direct = tokio::process::Command::new("pgbench")
        .args(["-i", "-s", "1", "-q"])
        .arg(&upstream.url)
        .output()
        .await
        .expect("pgbench -i");
    assert!(
        pgbench_direct.status.success(),
        "{}",
        String::from_utf8_lossy(&pgbench_direct.stderr)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    // The session watcher's store reads run by the clock, not per statement: keep them out of
    // the count.
    let config = dir.path().join("dbward.toml");
    std::fs::write(&config, "[limits]\nsession_check_interval = \"1h\"\n").expect("config");
    let mut child = tokio::process::Command::new("valgrind")
        .args(["--tool=callgrind", "--instr-atstart=no"])
        .arg(format!(
            "--callgrind-out-file={}/cg.out.%p",
            dir.path().display()
        ))
        // DBWARD_COST_BIN: another build to count (by hand: a release build's figures).
        .arg(
            std::env::var("DBWARD_COST_BIN")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_dbward").into()),
        )
        .args([
            "serve",
            "--http-listen",
            "127.0.0.1:0",
            "--pg-listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("DBWARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("valgrind (Debian package valgrind)");
    let pid = child.id().expect("pid").to_string();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut http, mut pg_port) = (None, None);
    while http.is_none() || pg_port.is_none() {
        let line = tokio::time::timeout(Duration::from_mins(2), lines.next_line())
            .await
            .expect("banner")
            .expect("read")
            .expect("line");
        let line = line.trim().to_owned();
        if let Some(rest) = line.strip_prefix("admin API:") {
            http = Some(rest.trim().trim_end_matches("/api/").to_owned());
        } else if let Some(rest) = line.strip_prefix("PostgreSQL:") {
            pg_port = rest
                .split_whitespace()
                .next()
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok());
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (http, pg_port) = (http.expect("http"), pg_port.expect("port"));
    let api = reqwest::Client::new();
    let api_post = |path: &str, body: serde_json::Value| {
        api.post(format!("{http}{path}"))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&body)
            .send()
    };
    let db: serde_json::Value = api_post(
        "/api/databases",
        json!({
            "name": "bench", "engine": "postgres", "host": "127.0.0.1", "port": upstream.port(),
            "database": upstream.name, "username": upstream.user(), "password": upstream.password(),
            "tls_mode": "disable",
        }),
    )
    .await
    .expect("db")
    .json()
    .await
    .expect("json");
    let user: serde_json::Value = api_post(
        "/api/users",
        json!({"username": "bench", "password": "bench-password-1"}),
    )
    .await
    .expect("user")
    .json()
    .await
    .expect("json");
    api_post("/api/grants", json!({"user_id": user["id"], "database_id": db["id"], "access_level": "read", "expires_at": "2099-01-01T00:00:00Z"}))
        .await.expect("grant");

    let run = |n: u32, mode: &'static str| {
        let port = pg_port.to_string();
        async move {
            let out = tokio::process::Command::new("pgbench")
                .args([
                    "-n",
                    "-S",
                    "-M",
                    mode,
                    "-c",
                    "1",
                    "-t",
                    &n.to_string(),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "bench",
                    "bench",
                ])
                .env("PGPASSWORD", "bench-password-1")
                .env("PGSSLMODE", "disable")
                .output()
                .await
                .expect("pgbench");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    // Prepared: Bind/Execute per statement (the relay, quota and metering). Simple: a new
    // literal in every Query (the relay plus the cached classification by fingerprint).
    let mut failures = Vec::new();
    // Both modes include each statement's audit event and the writer's batched inserts (and in
    // prepared mode, identical executions folded into one row per flush interval): how many
    // events share a batch depends on timing, so the counts vary (±15 % seen): a wider
    // tolerance, still far below what losing the decision cache (4×) or the folding (2.4×)
    // would cost.
    for (mode, file, tolerance) in [
        ("prepared", "relay-cost-baseline.txt", TOLERANCE),
        ("simple", "relay-cost-simple-baseline.txt", TOLERANCE),
    ] {
        let mut totals = Vec::new();
        for n in [1000, 2000] {
            callgrind_control(&["-z", &pid]).await;
            callgrind_control(&["-i", "on", &pid]).await;
            run(n, mode).await;
            callgrind_control(&["-i", "off", &pid]).await;
            let before = dumps(dir.path());
            callgrind_control(&["-d", &pid]).await;
            totals.push(dump_total(dir.path(), &before));
        }
        let per_statement = (totals[1].saturating_sub(totals[0])) / 1000;
        eprintln!(
            "relay cost ({mode}): {per_statement} instructions per statement (totals {totals:?})"
        );
        let baseline_path = format!("{}/bench/{file}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("DBWARD_COST_UPDATE").is_some() {
            std::fs::write(&baseline_path, format!("{per_statement}\n")).expect("write baseline");
            continue;
        }
        let baseline: u64 = std::fs::read_to_string(&baseline_path)
            .expect("baseline file")
            .trim()
            .parse()
            .expect("a number");
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let ratio = per_statement as f64 / baseline as f64;
        if !(1.0 - tolerance..=1.0 + tolerance).contains(&ratio) {
            failures.push(format!(
                "{mode}: {per_statement} instructions per statement vs baseline {baseline} \
                 ({ratio:.2}x): update bench/{file} (DBWARD_COST_UPDATE=1) if the change is intended"
            ));
        }
    }
    let _ = child.kill().await;
    if std::env::var_os("DBWARD_COST_KEEP").is_some() {
        // For `callgrind_annotate` on the dumps: where did the instructions go?
        eprintln!("callgrind dumps kept in {}", dir.keep().display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
