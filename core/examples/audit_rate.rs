//! How many statement events per second the audit writer sustains, and the CPU each costs
//! (the whole process's user+system time ÷ events): 100,000 distinct events recorded as fast
//! as one producer can, then drained, on a store with a bound HMAC chain. SQLite in a temporary directory, and PostgreSQL when
//! `DBWARD_AUDIT_RATE_PG` names a database URL (a scratch database: rows are added to it).
//!
//! `cargo run --release -p dbward-core --example audit_rate`

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use dbward_core::audit::{
    AuditEvent, AuditWriter, EventContext, Execution, SessionRuns, StatementFacts,
};
use dbward_core::config::AuditConfig;
use dbward_core::store::{Actor, AdminAuditEntry, AuditOutcome, Store};

/// This process's CPU time (user + system) so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // CLK_TCK is 100 on Linux.
    ticks / 100.0
}

/// `folded`: the statements come as a busy proxy's do (8 sessions sending one statement shape
/// with a new literal each time, each with its outcome), so the writer folds each session's
/// executions into a row per flush interval; otherwise every event is a row of its own.
async fn rate(store: Store, label: &str, folded: bool) {
    let key = dbward_core::audit::chain::ChainKey::new(
        &dbward_core::crypto::MasterKey::from_bytes([7; 32]),
    );
    let store = store
        .bind_audit_chain(key, format!("audit-rate-{}", uuid::Uuid::now_v7()))
        .await
        .expect("bind the chain");
    let cpu = cpu_seconds();
    // AUDIT_RATE_EVENTS overrides the count (e.g. a small one under callgrind).
    let n: u64 = std::env::var("AUDIT_RATE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (writer, sink) = AuditWriter::spawn(store.clone(), &AuditConfig::default());
    // A session's strings are shared by its events, as the proxies' statement gate does.
    let (user, addr, database): (Arc<str>, Arc<str>, Arc<str>) =
        ("alice".into(), "127.0.0.1".into(), "orders".into());
    let sessions: Vec<Arc<str>> = (0..8)
        .map(|s| format!("0190b7c4-5d2e-7000-8000-00000000000{s}").into())
        .collect();
    let runs: Vec<Arc<SessionRuns>> = (0..8).map(|_| Arc::default()).collect();
    let started = Instant::now();
    for i in 0..n {
        let s = if folded { (i % 8) as usize } else { 0 };
        let session = &sessions[s];
        let text = format!("SELECT abalance FROM pgbench_accounts WHERE aid = {i}");
        // As the proxies' statement gate does: an execution joins its session's open run when
        // it can, and only otherwise becomes an event.
        let execution = Execution {
            message: "query",
            class: Some("read"),
            statements: 1,
            text: &text,
            truncated: false,
        };
        let joined = if folded {
            sink.try_join(&runs[s], &execution)
        } else {
            None
        };
        let event = || AuditEvent {
            at: dbward_core::time::to_micros(dbward_core::time::now()),
            kind: "statement",
            actor: Actor {
                user_id: Some(1),
                username: user.clone(),
                client_addr: Some(addr.clone()),
            },
            entry: AdminAuditEntry {
                action: "statement.allowed".into(),
                entity_type: "session",
                entity_id: Some(session.clone()),
                outcome: AuditOutcome::Success,
                details: serde_json::Value::Null,
            },
            context: EventContext {
                session_id: Some(session.clone()),
                database: Some(database.clone()),
                grant_id: Some(1),
                statement: Some(text.clone()),
            },
            committed: None,
            token: None,
            facts: Some(StatementFacts {
                level: "read",
                class: Some("read"),
                statements: Some(1),
                message: Some("query"),
                sql_bytes: 52,
                ..StatementFacts::default()
            }),
        };
        if folded {
            let token = match joined {
                Some(token) => token,
                None => match sink.try_record_run(&runs[s], event()) {
                    Ok(token) => token,
                    Err(busy) => sink.record_busy(busy).await.expect("record"),
                },
            };
            let outcome = dbward_core::audit::StatementOutcome {
                duration_us: 80,
                rows: 1,
                affected: None,
                bytes: 60,
                error: None,
            };
            sink.complete(&runs[s], token, outcome).await;
        } else {
            sink.record(event()).await.expect("record");
        }
    }
    drop(sink);
    let written = writer.finish().await;
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let (per_second, cpu_us) = (
        written as f64 / secs,
        (cpu_seconds() - cpu) * 1e6 / written as f64,
    );
    let _ = writeln!(
        std::io::stdout(),
        "{label}: {written} events in {secs:.2} s = {per_second:.0} events/s, {cpu_us:.1} us CPU per event"
    );
    if folded {
        // Here `written` counts rows; the statements were `n`.
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let (per_second, cpu_us) = (n as f64 / secs, cpu_us * written as f64 / n as f64);
        let _ = writeln!(
            std::io::stdout(),
            "{label}, folded: {n} statements ({written} rows) in {secs:.2} s = {per_second:.0} statements/s, {cpu_us:.2} us CPU per statement"
        );
    }
    store.close().await;
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    for folded in [false, true] {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("audit-{folded}.db")).display()
        );
        rate(
            Store::open(&url).await.expect("sqlite store"),
            "SQLite",
            folded,
        )
        .await;
        if let Ok(url) = std::env::var("DBWARD_AUDIT_RATE_PG") {
            rate(
                Store::open(&url).await.expect("postgres store"),
                "PostgreSQL",
                folded,
            )
            .await;
        }
    }
}
