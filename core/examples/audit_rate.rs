//! How many statement events per second the audit writer sustains: 100,000 events recorded as
//! fast as one producer can, then drained. SQLite in a temporary directory, and PostgreSQL when
//! `DBWARD_AUDIT_RATE_PG` names a database URL (a scratch database: rows are added to it).
//!
//! `cargo run --release -p dbward-core --example audit_rate`

use std::io::Write as _;
use std::time::Instant;

use dbward_core::audit::{AuditEvent, AuditWriter, EventContext, StatementFacts};
use dbward_core::config::AuditConfig;
use dbward_core::store::{Actor, AdminAuditEntry, AuditOutcome, Store};

async fn rate(store: Store, label: &str) {
    // AUDIT_RATE_EVENTS overrides the count (e.g. a small one under callgrind).
    let n: u64 = std::env::var("AUDIT_RATE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (writer, sink) = AuditWriter::spawn(store.clone(), &AuditConfig::default());
    let started = Instant::now();
    for i in 0..n {
        let event = AuditEvent {
            at: dbward_core::time::to_micros(dbward_core::time::now()),
            kind: "statement",
            actor: Actor {
                user_id: Some(1),
                username: "alice".into(),
                client_addr: Some("127.0.0.1".into()),
            },
            entry: AdminAuditEntry {
                action: "statement.allowed".into(),
                entity_type: "session",
                entity_id: Some("0190b7c4-5d2e-7000-8000-000000000000".into()),
                outcome: AuditOutcome::Success,
                details: serde_json::Value::Null,
            },
            context: EventContext {
                session_id: Some("0190b7c4-5d2e-7000-8000-000000000000".into()),
                database: Some("orders".into()),
                grant_id: Some(1),
                statement: Some(format!(
                    "SELECT abalance FROM pgbench_accounts WHERE aid = {i}"
                )),
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
        sink.record(event).await.expect("record");
    }
    drop(sink);
    let written = writer.finish().await;
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let per_second = written as f64 / secs;
    let _ = writeln!(
        std::io::stdout(),
        "{label}: {written} events in {secs:.2} s = {per_second:.0} events/s"
    );
    store.close().await;
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    rate(Store::open(&url).await.expect("sqlite store"), "SQLite").await;
    if let Ok(url) = std::env::var("DBWARD_AUDIT_RATE_PG") {
        rate(
            Store::open(&url).await.expect("postgres store"),
            "PostgreSQL",
        )
        .await;
    }
}
