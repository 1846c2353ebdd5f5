//! The audit writer: statement events go through a bounded in-memory queue to one task that
//! inserts them in batches, so a relay never waits on the store for each statement.
//!
//! - **Back-pressure, not loss**: [`AuditSink::record`] waits while the queue is full (the
//!   statement waits), it never drops an event.
//! - **Batches**: the writer takes what has queued (up to [`BATCH`] events) and inserts it in
//!   one transaction; under load that is one store round-trip per batch, idle it is one per
//!   event, and an event is in the store within one batch's insert time.
//! - **Shutdown drains**: [`AuditWriter::finish`] closes the queue and waits until everything
//!   queued is written. A crash loses what was queued and not yet inserted: at most one batch
//!   in flight plus the queue.
//!
//! Admin actions do not go through here: they are written in the same transaction as the
//! change they record. Connection events are written directly too (one per login and session
//! end). The audit issue adds the HMAC chain, retention and export on top of this writer.

use tokio::sync::mpsc;

use crate::store::{Actor, AdminAuditEntry, Store};

/// Events inserted per transaction at most.
pub const BATCH: usize = 1000;

/// One event for the trail.
#[derive(Debug)]
pub struct AuditEvent {
    /// When it happened (UTC microseconds since the epoch), not when it was written.
    pub at: i64,
    /// Event family (`statement`).
    pub kind: &'static str,
    /// Who.
    pub actor: Actor,
    /// What.
    pub entry: AdminAuditEntry,
}

/// Where front doors send events. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditEvent>,
}

/// The writer task's handle.
#[derive(Debug)]
pub struct AuditWriter {
    task: tokio::task::JoinHandle<u64>,
    closer: mpsc::Sender<AuditEvent>,
}

/// How long a statement waits for room in a full queue before it is refused (the store is
/// unreachable or far behind): fail closed, a statement that cannot be audited does not run.
pub const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl AuditSink {
    /// Queues an event, waiting while the queue is full, at most [`QUEUE_WAIT`].
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditUnavailable> {
        self.tx
            .send_timeout(event, QUEUE_WAIT)
            .await
            .map_err(|e| match e {
                mpsc::error::SendTimeoutError::Timeout(_) => AuditUnavailable::Full,
                mpsc::error::SendTimeoutError::Closed(_) => AuditUnavailable::Closed,
            })
    }
}

/// The event could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum AuditUnavailable {
    /// The queue stayed full (the store is unreachable or too slow).
    #[error("dbward cannot write its audit trail right now; the statement was not run")]
    Full,
    /// The writer has stopped (dbward is shutting down).
    #[error("dbward is shutting down")]
    Closed,
}

impl AuditWriter {
    /// Starts the writer with a queue of `capacity` events.
    #[must_use]
    pub fn spawn(store: Store, capacity: usize) -> (Self, AuditSink) {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(capacity.max(1));
        let task = tokio::spawn(async move {
            let mut written = 0u64;
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                written += batch.len() as u64;
                // A failed insert is retried with a pause: events are never dropped while
                // dbward runs (the queue fills and statements wait meanwhile).
                let mut pause = std::time::Duration::from_millis(50);
                while let Err(e) = store.audit_events(&batch).await {
                    tracing::error!(error = %e, events = batch.len(), "cannot write audit events; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(5));
                    if rx.is_closed() && pause >= std::time::Duration::from_secs(5) {
                        tracing::error!(
                            events = batch.len(),
                            "audit events lost at shutdown: the store is unreachable"
                        );
                        break;
                    }
                }
                batch.clear();
            }
            written
        });
        (
            Self {
                task,
                closer: tx.clone(),
            },
            AuditSink { tx },
        )
    }

    /// Stops accepting events once every sink is gone, writes what is queued, and returns how
    /// many events the writer wrote in all.
    pub async fn finish(self) -> u64 {
        drop(self.closer);
        self.task.await.unwrap_or(0)
    }
}
