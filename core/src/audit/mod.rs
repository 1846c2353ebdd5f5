//! The audit trail's writer: statement events go through a bounded in-memory queue to one task
//! that writes them in batches, so a relay never waits on the store for each statement.
//!
//! - **Group commit**: the writer waits for a first event, then collects for at most
//!   `audit.flush_interval` (or until `audit.batch_events` are queued) and writes the batch in
//!   one transaction, linked into the instance's HMAC chain ([`chain`]). A busy proxy pays one
//!   commit per interval, not one per statement. A crash (kill -9) loses at most what was
//!   collected in the last interval plus the batch being written: `flush_interval` of events,
//!   at most `batch_events` + `queue_events` statements, and up to `queue_events` more folded
//!   into their sessions' runs ([`runs`]).
//! - **Back-pressure, not loss**: [`AuditSink::record`] waits while the queue is full (the
//!   statement waits); it never drops an event. A failed write is retried until it succeeds.
//! - **Store outages** (`audit.store_unavailable`): `refuse` (default) refuses new statements
//!   once a write has failed and the store has not come back within `audit.unavailable_wait`;
//!   `queue` lets them run while the queue has room, then waits and refuses. Either way, a
//!   statement that cannot be audited does not run, and what was queued is written when the
//!   store is back.
//! - **Strict mode** (`audit.strict`): the statement waits until its event is committed.
//! - **Shutdown drains**: [`AuditWriter::finish`] closes the queue and waits until everything
//!   queued is written.
//!
//! Admin actions do not go through the queue: they are written in the same transaction as the
//! change they record (so a change and its audit row both happen or neither). Connection
//! events are written directly too, before the client hears the outcome.

pub mod chain;
pub mod forward;
pub mod maintain;
pub mod runs;

use runs::FoldBudget;
pub use runs::{Execution, SessionRuns};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::config::{AuditConfig, StoreUnavailable};
use crate::store::{Actor, AdminAuditEntry, Store};

/// One event for the trail.
#[derive(Debug)]
pub struct AuditEvent {
    /// When it happened (UTC microseconds since the epoch), not when it was written.
    pub at: i64,
    /// Event family (`admin`, `connection`, `statement`, `system`).
    pub kind: &'static str,
    /// Who.
    pub actor: Actor,
    /// What.
    pub entry: AdminAuditEntry,
    /// Which session, database, grant and statement (proxy events).
    pub context: EventContext,
    /// Strict mode: told when the event is committed.
    pub committed: Option<oneshot::Sender<()>>,
    /// Set by [`AuditSink::try_record_statement`]: the statement's outcome follows under it.
    pub token: Option<u64>,
    /// A statement event's details, serialized by the writer (cheaper than building JSON in
    /// the relay); when set, `entry.details` is not used.
    pub facts: Option<StatementFacts>,
}

/// What a statement event records besides its text.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatementFacts {
    /// The session's access level.
    pub level: &'static str,
    /// The statement's class (`None`: unclassifiable).
    pub class: Option<&'static str>,
    /// Statements in the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements: Option<u32>,
    /// Which message carried it: `query`, `parse`, `prepare`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    /// The full length of the text, bytes.
    pub sql_bytes: usize,
    /// Whether the stored text was cut at `audit.max_statement_bytes`.
    pub truncated: bool,
    /// Why it was denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many executions this row stands for, when more than one (identical statements of
    /// one session within one flush interval); the outcome is then their sum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executions: Option<u32>,
    /// How many of those executions failed (rows standing for several executions; `error` is
    /// the first failure's code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<u32>,
    /// The values bound to this execution (`audit.record_parameters`; NULL as null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<Option<String>>>,
    /// The texts of executions 2, 3... of a row standing for several consecutive executions
    /// of one class, in order, when any of them differs from the row's own `statement`
    /// (`WHERE aid = 17`, then `WHERE aid = 42`): every execution's text is kept exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_statements: Option<Vec<String>>,
    /// What each execution of a row standing for several did, in order, consecutive equal
    /// results merged (`executions` of them): which statement returned the rows the row's sum
    /// counts. Left out while every execution's result is the same (the sum says it all).
    #[serde(skip_serializing_if = "all_alike")]
    pub results: Option<Vec<ExecutionResults>>,
    /// What it did (allowed statements, once their result is complete).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<StatementOutcome>,
}

/// Consecutive executions of a folded row whose results were the same.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExecutionResults {
    /// How many.
    pub executions: u32,
    /// Rows each returned.
    pub rows: i64,
    /// Rows each affected, as the server reported them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected: Option<i64>,
    /// Result bytes each relayed.
    pub bytes: i64,
    /// The upstream's error code, if they failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ExecutionResults {
    fn of(o: &StatementOutcome) -> Self {
        Self {
            executions: 1,
            rows: o.rows,
            affected: o.affected,
            bytes: o.bytes,
            error: o.error.clone(),
        }
    }

    fn same(&self, o: &StatementOutcome) -> bool {
        self.rows == o.rows
            && self.affected == o.affected
            && self.bytes == o.bytes
            && self.error == o.error
    }
}

/// Whether a row's per-execution results say nothing its sum does not (none, or all alike).
#[allow(clippy::ref_option)] // serde's `skip_serializing_if` passes the field by reference
fn all_alike(results: &Option<Vec<ExecutionResults>>) -> bool {
    results.as_ref().is_none_or(|r| r.len() <= 1)
}

/// What an allowed statement did, reported when its result is complete.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatementOutcome {
    /// From admission to the end of its result, microseconds.
    pub duration_us: i64,
    /// Rows returned (result rows relayed).
    pub rows: i64,
    /// Rows affected, as the server reported them (INSERT/UPDATE/DELETE/...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected: Option<i64>,
    /// Result bytes relayed to the client.
    pub bytes: i64,
    /// The upstream's error code (SQLSTATE, or the MySQL error number), if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What goes through the writer's queue. An event is boxed: the channel, the batch and the
/// merge move each message about six times, and an unboxed event (about 460 bytes) cost more
/// in those copies than its allocation (callgrind: about 1,800 instructions of memcpy per
/// prepared statement unboxed).
///
/// `Run` marks where a session's run of executions (see [`runs`]) takes its place in the
/// trail: the writer collects the run named by the generation when it reaches the marker.
#[derive(Debug)]
enum Msg {
    Event(Box<AuditEvent>),
    Done(u64, StatementOutcome),
    Run(Arc<SessionRuns>, u64),
}

/// Tokens linking an allowed statement's event to its outcome, unique in this process.
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Outcomes waited for after their event was written, at most (older ones are forgotten: a
/// session that ended without its statement's result).
const OPEN_MAX: usize = 100_000;

/// Statements whose event was written before their outcome arrived: the outcome then becomes
/// a `statement.completed` row of its own, with the session's context.
#[derive(Default)]
struct Open(std::collections::BTreeMap<u64, (Actor, EventContext)>);

impl Open {
    fn remember(&mut self, token: u64, e: &AuditEvent) {
        if self.0.len() >= OPEN_MAX {
            self.0.pop_first();
        }
        let mut context = e.context.clone();
        context.statement = None;
        self.0.insert(token, (e.actor.clone(), context));
    }
}

/// The searchable context of a proxy event.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// Session id (shared by the session's events).
    pub session_id: Option<Arc<str>>,
    /// dbward database name (shared by the session's events).
    pub database: Option<Arc<str>>,
    /// Grant in use.
    pub grant_id: Option<i64>,
    /// Statement text as stored (bounded, redacted).
    pub statement: Option<String>,
}

impl AuditEvent {
    /// An event of family `kind` happening now, without proxy context.
    #[must_use]
    pub fn admin(kind: &'static str, actor: &Actor, entry: &AdminAuditEntry) -> Self {
        Self {
            at: crate::time::now_micros(),
            kind,
            actor: actor.clone(),
            entry: entry.clone(),
            context: EventContext::default(),
            committed: None,
            token: None,
            facts: None,
        }
    }

    /// The fields its chain link covers (`details` as stored).
    #[must_use]
    pub fn link_fields<'a>(
        &'a self,
        instance_id: &'a str,
        seq: i64,
        details: &'a str,
    ) -> chain::LinkFields<'a> {
        chain::LinkFields {
            instance_id,
            seq,
            at: self.at,
            kind: self.kind,
            actor_user_id: self.actor.user_id,
            actor_username: Some(&self.actor.username),
            client_addr: self.actor.client_addr.as_deref(),
            action: &self.entry.action,
            entity_type: Some(self.entry.entity_type),
            entity_id: self.entry.entity_id.as_deref(),
            outcome: self.entry.outcome.as_str(),
            details: Some(details),
            session_id: self.context.session_id.as_deref(),
            database: self.context.database.as_deref(),
            grant_id: self.context.grant_id,
            statement: self.context.statement.as_deref(),
        }
    }
}

/// Where front doors send events. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AuditSink {
    tx: mpsc::Sender<Msg>,
    healthy: Arc<AtomicBool>,
    policy: StoreUnavailable,
    wait: Duration,
    strict: bool,
    statement_max: usize,
    normalized_only: bool,
    record_parameters: bool,
    /// Most executions one run may hold (`audit.batch_events`).
    fold_max: u32,
    /// Folded executions not yet collected, and how many there may be.
    folded: Arc<FoldBudget>,
}

/// Whether the audit writer's last write succeeded, for `/api/health`. Cheap to clone; the
/// default (for an API without a writer) reads as writable.
#[derive(Clone, Debug)]
pub struct AuditHealth(Arc<AtomicBool>);

impl Default for AuditHealth {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl AuditHealth {
    /// `false` from a failed write until the next one succeeds (meanwhile, under the default
    /// `refuse` policy, statements are refused).
    #[must_use]
    pub fn writable(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The writer task's handle.
#[derive(Debug)]
pub struct AuditWriter {
    task: tokio::task::JoinHandle<u64>,
    closer: mpsc::Sender<Msg>,
}

impl AuditSink {
    /// The writer's health, for `/api/health`.
    #[must_use]
    pub fn health(&self) -> AuditHealth {
        AuditHealth(self.healthy.clone())
    }

    /// Queues an event. Waits while the queue is full, or (policy `refuse`) while the store is
    /// failing, at most `audit.unavailable_wait`; in strict mode, until the event is committed.
    /// An error means the statement must not run.
    pub async fn record(&self, mut event: AuditEvent) -> Result<(), AuditUnavailable> {
        if self.policy == StoreUnavailable::Refuse && !self.healthy.load(Ordering::Relaxed) {
            self.wait_for_store().await?;
        }
        let committed = if self.strict {
            let (tx, rx) = oneshot::channel();
            event.committed = Some(tx);
            Some(rx)
        } else {
            None
        };
        // The common case costs no timer: only a full queue arms one.
        match self.tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(AuditUnavailable::Closed),
            Err(mpsc::error::TrySendError::Full(event)) => self
                .tx
                .send_timeout(event, self.wait)
                .await
                .map_err(|e| match e {
                    mpsc::error::SendTimeoutError::Timeout(_) => AuditUnavailable::Full,
                    mpsc::error::SendTimeoutError::Closed(_) => AuditUnavailable::Closed,
                })?,
        }
        if let Some(rx) = committed {
            match tokio::time::timeout(self.wait, rx).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(AuditUnavailable::Closed),
                Err(_) => return Err(AuditUnavailable::Full),
            }
        }
        Ok(())
    }

    /// The slow path of [`AuditSink::try_record_statement`] (a full queue, a failing store,
    /// strict mode): waits like [`AuditSink::record`]. Callers box it, so that the relays'
    /// futures do not carry its state in every session.
    pub async fn record_busy(&self, busy: Busy) -> Result<u64, AuditUnavailable> {
        match busy {
            Busy::Closed => Err(AuditUnavailable::Closed),
            Busy::Wait(event) => {
                let token = event.token.unwrap_or_default();
                self.record(*event).await.map(|()| token)
            }
        }
    }

    /// Queues an allowed statement's event without waiting (no await, no timer); returns the
    /// token under which its outcome is reported ([`AuditSink::complete`]), or what
    /// [`AuditSink::record_busy`] needs to wait for room.
    pub fn try_record_statement(&self, mut event: AuditEvent) -> Result<u64, Busy> {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        event.token = Some(token);
        self.try_record(event).map(|()| token)
    }

    /// Queues an event without waiting (no await, no timer), or hands back what
    /// [`AuditSink::record_busy`] needs to wait for room. Statements' events come through here,
    /// and denials, which must precede the session's next statement in the queue so that the
    /// trail keeps the session's order.
    pub fn try_record(&self, event: AuditEvent) -> Result<(), Busy> {
        if self.strict
            || (self.policy == StoreUnavailable::Refuse && !self.healthy.load(Ordering::Relaxed))
        {
            return Err(Busy::Wait(Box::new(event)));
        }
        match self.tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Msg::Event(e))) => Err(Busy::Wait(e)),
            Err(mpsc::error::TrySendError::Closed(_) | mpsc::error::TrySendError::Full(_)) => {
                Err(Busy::Closed)
            }
        }
    }

    /// Whether executions may gather in their session's run: not in strict mode (each waits
    /// for its commit), nor while the store is failing under policy `refuse` (they wait, or are
    /// refused, in [`AuditSink::record`]).
    fn may_fold(&self) -> bool {
        !self.strict
            && (self.policy != StoreUnavailable::Refuse || self.healthy.load(Ordering::Relaxed))
    }

    /// Adds an allowed execution to its session's open run when it may share its row (no
    /// await, no queue, no event built); returns the token under which its outcome is reported
    /// ([`AuditSink::complete`]). `None`: record it with [`AuditSink::try_record_run`].
    pub fn try_join(&self, runs: &SessionRuns, e: &Execution<'_>) -> Option<u64> {
        if !self.may_fold() {
            return None;
        }
        if !self.folded.try_take() {
            return None;
        }
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        if runs.join(e, token, self.fold_max) {
            Some(token)
        } else {
            self.folded.give_back(1);
            None
        }
    }

    /// Queues an allowed statement's event as the first execution of a new run of its session
    /// (later executions of its class may join it), without waiting; returns its token, or
    /// what [`AuditSink::record_busy`] needs to wait for room (the event is then written on its
    /// own).
    pub fn try_record_run(
        &self,
        runs: &Arc<SessionRuns>,
        mut event: AuditEvent,
    ) -> Result<u64, Busy> {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        if !self.may_fold() {
            runs.close();
            event.token = Some(token);
            return Err(Busy::Wait(Box::new(event)));
        }
        match runs.open(Box::new(event), token, |generation| {
            self.tx.try_send(Msg::Run(runs.clone(), generation))
        }) {
            Ok(()) => Ok(token),
            Err((event, mpsc::error::TrySendError::Full(_))) => Err(Busy::Wait(event)),
            Err((_, mpsc::error::TrySendError::Closed(_))) => Err(Busy::Closed),
        }
    }

    /// Reports what the statement of `token` did. Added to its session's run while the writer
    /// has not collected it (the common case), else merged into its event when that is still
    /// queued, else written as a `statement.completed` row. Waits only while the queue is full
    /// (boxed slow path), at most `unavailable_wait`.
    pub async fn complete(&self, runs: &SessionRuns, token: u64, outcome: StatementOutcome) {
        let Some(outcome) = runs.complete(token, outcome) else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(m)) = self.tx.try_send(Msg::Done(token, outcome))
        {
            let wait = self.wait;
            let tx = self.tx.clone();
            if Box::pin(async move { tx.send_timeout(m, wait).await })
                .await
                .is_err()
            {
                // The statement's own row is queued already; only its outcome is lost, and
                // the result is not held back for it.
                tracing::warn!(
                    "a statement's outcome was not audited: the audit queue stayed full"
                );
            }
        }
    }

    /// Waits for the writer to report the store writable again, at most `unavailable_wait`.
    async fn wait_for_store(&self) -> Result<(), AuditUnavailable> {
        let deadline = tokio::time::Instant::now() + self.wait;
        while !self.healthy.load(Ordering::Relaxed) {
            if tokio::time::Instant::now() >= deadline {
                return Err(AuditUnavailable::Full);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Longest statement text kept in an event, in bytes.
    #[must_use]
    pub fn statement_max(&self) -> usize {
        self.statement_max
    }

    /// Whether bound parameter values are recorded (`audit.record_parameters`).
    #[must_use]
    pub fn record_parameters(&self) -> bool {
        self.record_parameters
    }

    /// Whether only the normalized text of statements is kept (literals replaced by `?`).
    #[must_use]
    pub fn normalized_only(&self) -> bool {
        self.normalized_only
    }
}

/// Why the fast path could not queue an event (hand it to [`AuditSink::record_busy`]).
#[derive(Debug)]
pub enum Busy {
    /// Take the waiting path with it.
    Wait(Box<AuditEvent>),
    /// The writer has stopped.
    Closed,
}

/// The event could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum AuditUnavailable {
    /// The store cannot be written (or the queue stayed full).
    #[error("dbward cannot write its audit trail right now; the statement was not run")]
    Full,
    /// The writer has stopped (dbward is shutting down).
    #[error("dbward is shutting down")]
    Closed,
}

impl AuditWriter {
    /// Starts the writer.
    #[must_use]
    pub fn spawn(store: Store, config: &AuditConfig) -> (Self, AuditSink) {
        let (tx, mut rx) = mpsc::channel::<Msg>(config.queue_events.max(1));
        let healthy = Arc::new(AtomicBool::new(true));
        let (flush, batch_max, strict) = (
            config.flush_interval,
            config.batch_events.max(1),
            config.strict,
        );
        let health = healthy.clone();
        let folded = Arc::new(FoldBudget::new(config.queue_events.max(1)));
        let budget = folded.clone();
        let task = tokio::spawn(async move {
            let mut written = 0u64;
            let mut msgs = Vec::with_capacity(batch_max);
            let mut open = Open::default();
            while rx.recv_many(&mut msgs, batch_max).await > 0 {
                // Group commit: collect for one interval after the first event (strict mode
                // writes at once: its statements are waiting).
                if !strict && msgs.len() < batch_max && !rx.is_closed() {
                    tokio::time::sleep(flush).await;
                    while msgs.len() < batch_max {
                        match rx.try_recv() {
                            Ok(m) => msgs.push(m),
                            Err(_) => break,
                        }
                    }
                }
                let (mut batch, pending) = merge(&mut msgs, &mut open, &budget);
                written += batch.len() as u64;
                for (token, i) in pending {
                    open.remember(token, &batch[i]);
                }
                if !batch.is_empty() {
                    write_batch(&store, &mut batch, &health, &rx).await;
                }
            }
            written
        });
        (
            Self {
                task,
                closer: tx.clone(),
            },
            AuditSink {
                tx,
                healthy,
                policy: config.store_unavailable,
                wait: config.unavailable_wait,
                strict,
                statement_max: config.max_statement_bytes,
                normalized_only: config.normalized_statements_only,
                record_parameters: config.record_parameters,
                fold_max: u32::try_from(batch_max).unwrap_or(u32::MAX),
                folded,
            },
        )
    }

    /// Stops accepting events once every sink is gone, writes what is queued, and returns how
    /// many events the writer wrote in all.
    pub async fn finish(self) -> u64 {
        drop(self.closer);
        self.task.await.unwrap_or(0)
    }
}

/// Writes one batch, retrying with a growing pause until it succeeds: events are never dropped
/// while dbward runs (the queue fills and statements wait or are refused meanwhile). Only at
/// shutdown with the store still unreachable does it give up, and says so.
async fn write_batch(
    store: &Store,
    batch: &mut Vec<AuditEvent>,
    healthy: &AtomicBool,
    rx: &mpsc::Receiver<Msg>,
) {
    let mut pause = Duration::from_millis(50);
    let written = loop {
        match store.audit_events(batch).await {
            Ok(()) => {
                healthy.store(true, Ordering::Relaxed);
                break true;
            }
            Err(e) => {
                healthy.store(false, Ordering::Relaxed);
                tracing::error!(error = %e, events = batch.len(), "cannot write audit events; retrying");
                if rx.is_closed() && pause >= Duration::from_secs(5) {
                    tracing::error!(
                        events = batch.len(),
                        "audit events lost at shutdown: the store is unreachable"
                    );
                    break false;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    };
    for e in batch.drain(..) {
        // A strict-mode statement waiting on an event that was not written is refused (its
        // sender is dropped unanswered).
        if let (true, Some(done)) = (written, e.committed) {
            let _ = done.send(());
        }
    }
}

/// Turns a batch of queue messages into rows, and says which statements' outcomes are still to
/// come (their tokens, with the row they belong to).
///
/// - An outcome is merged into its statement's event when that is in the batch, else becomes a
///   `statement.completed` row (the event was written earlier: a long statement, strict mode).
/// - Consecutive allowed statements of one session in one batch of the same class, carried by
///   the same kind of message (a prepared statement executed again and again, a health check, a
///   driver sending `WHERE aid = 17` then `WHERE aid = 42`, an application's reads of several
///   tables) are one row: `statement` is the
///   first one's text, `executions` counts them, `more_statements` holds the others' texts in
///   order when any differs, and their outcomes are summed. Any other event of the session ends
///   the run, so a session's rows keep the order its statements ran in. One row per run per
///   flush interval instead of one per execution: a row costs the store far more than a text in
///   it. Strict-mode events are never folded (each waits for its commit), nor executions with
///   their parameters.
fn merge(
    msgs: &mut Vec<Msg>,
    open: &mut Open,
    folded: &FoldBudget,
) -> (Vec<AuditEvent>, Vec<(u64, usize)>) {
    use std::collections::HashMap;
    let mut events: Vec<AuditEvent> = Vec::with_capacity(msgs.len());
    // foldhash: these maps take every event of a batch (SipHash cost a tenth of a prepared
    // statement's instructions).
    let hasher = foldhash::fast::RandomState::default();
    let mut by_token: HashMap<u64, usize, _> = HashMap::with_hasher(hasher.clone());
    // Session -> its latest row in this batch: an execution joins only that row, so a
    // session's rows stay in the order its statements ran.
    let mut latest: HashMap<Arc<str>, usize, _> = HashMap::with_hasher(hasher);
    for m in msgs.drain(..) {
        match m {
            Msg::Event(e) => {
                let foldable = e.token.is_some()
                    && e.committed.is_none()
                    && e.facts
                        .as_ref()
                        .is_some_and(|f| f.reason.is_none() && f.parameters.is_none());
                let session = e.context.session_id.as_ref();
                if foldable
                    && let Some(&i) = session.and_then(|s| latest.get(s))
                    && let Some(t) = e.token
                    && folds_into(&events[i], &e)
                {
                    fold(&mut events[i], &e);
                    by_token.insert(t, i);
                    continue;
                }
                if let Some(s) = session {
                    latest.insert(s.clone(), events.len());
                }
                if let Some(t) = e.token {
                    by_token.insert(t, events.len());
                }
                events.push(*e);
            }
            Msg::Run(runs, generation) => {
                // Collected once, at its marker; a later marker names a later run.
                let Some((e, pending)) = runs.collect(generation) else {
                    continue;
                };
                let executions = e.facts.as_ref().and_then(|f| f.executions).unwrap_or(1);
                folded.give_back(usize::try_from(executions - 1).unwrap_or_default());
                if let Some(s) = e.context.session_id.as_ref() {
                    latest.insert(s.clone(), events.len());
                }
                for t in pending {
                    by_token.insert(t, events.len());
                }
                events.push(e);
            }
            Msg::Done(token, outcome) => {
                if let Some(&i) = by_token.get(&token) {
                    by_token.remove(&token);
                    if let Some(f) = events[i].facts.as_mut() {
                        add_outcome(f, outcome);
                    }
                } else if let Some((actor, context)) = open.0.remove(&token) {
                    let details = serde_json::to_value(&outcome).unwrap_or_default();
                    if let Some(s) = &context.session_id {
                        latest.insert(s.clone(), events.len());
                    }
                    events.push(AuditEvent {
                        at: crate::time::now_micros(),
                        kind: "statement",
                        actor,
                        entry: AdminAuditEntry {
                            action: "statement.completed".into(),
                            entity_type: "session",
                            entity_id: context.session_id.clone(),
                            outcome: crate::store::AuditOutcome::Success,
                            details,
                        },
                        context,
                        committed: None,
                        token: None,
                        facts: None,
                    });
                }
            }
        }
    }
    // Whatever is left in `by_token` has no outcome yet.
    (events, by_token.into_iter().collect())
}

/// Whether statement event `e` may join the row `row`: the same session, message, decision,
/// class, level and statement count (the row's facts hold for every execution in it), and
/// texts not cut short unless identical (each execution's text is kept).
fn folds_into(row: &AuditEvent, e: &AuditEvent) -> bool {
    let (Some(a), Some(b)) = (row.facts.as_ref(), e.facts.as_ref()) else {
        return false;
    };
    let same_text = row.context.statement == e.context.statement;
    row.context.session_id == e.context.session_id
        && row.entry.action == e.entry.action
        && a.message == b.message
        && a.class == b.class
        && a.level == b.level
        && a.statements == b.statements
        && (same_text || (!a.truncated && !b.truncated))
        && a.more_statements
            .iter()
            .flatten()
            .map(String::len)
            .sum::<usize>()
            + text_added(
                row.context.statement.as_deref(),
                a,
                e.context.statement.as_deref(),
            )
            <= runs::RUN_TEXT_BYTES
}

/// The bytes of text one more execution adds to those a row keeps besides its first (nothing
/// while every text is the first's; once one differs, all of them are listed).
fn text_added(first: Option<&str>, f: &StatementFacts, text: Option<&str>) -> usize {
    match (&f.more_statements, first == text) {
        (None, true) => 0,
        (None, false) => {
            let earlier = usize::try_from(f.executions.unwrap_or(1) - 1).unwrap_or_default();
            first.map_or(0, str::len) * earlier + text.map_or(0, str::len)
        }
        (Some(_), _) => text.map_or(0, str::len),
    }
}

/// Adds execution `e` to `row` (its outcome is added when it arrives).
fn fold(row: &mut AuditEvent, e: &AuditEvent) {
    let first = row.context.statement.as_deref().unwrap_or_default();
    if let Some(f) = row.facts.as_mut() {
        fold_text(f, first, e.context.statement.as_deref().unwrap_or_default());
    }
}

/// One more execution in a row whose first text is `first`: counted, and its text kept in
/// `more_statements` once any execution's text differs from the first.
fn fold_text(f: &mut StatementFacts, first: &str, text: &str) {
    let n = f.executions.unwrap_or(1);
    f.executions = Some(n + 1);
    if f.more_statements.is_some() || text != first {
        let earlier = usize::try_from(n - 1).unwrap_or_default();
        f.more_statements
            .get_or_insert_with(|| vec![first.to_owned(); earlier])
            .push(text.to_owned());
    }
}

/// Adds one execution's outcome to a row (summed when the row holds several executions, and
/// listed in `results`). Outcomes arrive in the order the session's executions ran (each
/// session's responses come in order), so the list follows the executions.
fn add_outcome(f: &mut StatementFacts, o: StatementOutcome) {
    match f.outcome.as_mut() {
        None => f.outcome = Some(o),
        Some(sum) => {
            // The sum so far is the first outcome's alone when there is no list yet. (A row of
            // one execution may get more than one outcome: those are only summed.)
            if f.executions.unwrap_or(1) > 1 {
                let results = f
                    .results
                    .get_or_insert_with(|| vec![ExecutionResults::of(sum)]);
                match results.last_mut() {
                    Some(last) if last.same(&o) => last.executions += 1,
                    _ => results.push(ExecutionResults::of(&o)),
                }
            }
            sum.duration_us = sum.duration_us.saturating_add(o.duration_us);
            sum.rows = sum.rows.saturating_add(o.rows);
            sum.bytes = sum.bytes.saturating_add(o.bytes);
            if let Some(a) = o.affected {
                *sum.affected.get_or_insert(0) += a;
            }
            let failed =
                f.errors.unwrap_or(u32::from(sum.error.is_some())) + u32::from(o.error.is_some());
            f.errors = (failed > 0).then_some(failed);
            if sum.error.is_none() {
                sum.error = o.error;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(session: &str, sql: &str, token: u64) -> Msg {
        Msg::Event(Box::new(AuditEvent {
            at: 1,
            kind: "statement",
            actor: Actor::system(),
            entry: AdminAuditEntry::success(
                "statement.allowed",
                "session",
                None,
                serde_json::Value::Null,
            ),
            context: EventContext {
                session_id: Some(session.into()),
                statement: Some(sql.into()),
                ..EventContext::default()
            },
            committed: None,
            token: Some(token),
            facts: Some(StatementFacts {
                message: Some("execute"),
                ..StatementFacts::default()
            }),
        }))
    }

    /// The rows' statement texts, in order.
    fn statement_texts(events: &[AuditEvent]) -> Vec<&str> {
        events
            .iter()
            .map(|e| e.context.statement.as_deref().unwrap_or_default())
            .collect()
    }

    fn done(token: u64, rows: i64, error: Option<&str>) -> Msg {
        Msg::Done(
            token,
            StatementOutcome {
                duration_us: 10,
                rows,
                bytes: 100,
                affected: None,
                error: error.map(str::to_owned),
            },
        )
    }

    #[test]
    fn outcomes_merge_and_identical_executions_fold() {
        let mut open = Open::default();
        let mut msgs = vec![
            statement("s1", "SELECT 1", 1),
            done(1, 1, None),
            statement("s1", "SELECT 1", 2),
            statement("s2", "SELECT 1", 3),
            classed("s1", "SELECT nextval('s')", 4, "write"),
            done(2, 1, Some("57014")),
            statement("s1", "SELECT 1", 5),
            done(3, 5, None),
        ];
        let (events, pending) = merge(&mut msgs, &mut open, &FoldBudget::new(0));
        assert_eq!(
            events.len(),
            4,
            "s1's first two SELECT 1 folded; s2 apart; a write ends s1's run, so the last \
             SELECT 1 starts a row of its own"
        );
        let f = events[0].facts.as_ref().expect("facts");
        assert_eq!(f.executions, Some(2));
        assert!(
            f.more_statements.is_none(),
            "identical texts are counted, not listed"
        );
        let o = f.outcome.as_ref().expect("outcome");
        assert_eq!((o.rows, o.bytes, o.duration_us), (2, 200, 20));
        assert_eq!(o.error.as_deref(), Some("57014"));
        assert_eq!(f.errors, Some(1));
        assert_eq!(
            events[1]
                .facts
                .as_ref()
                .and_then(|f| f.outcome.as_ref())
                .map(|o| o.rows),
            Some(5)
        );
        assert_eq!(events[3].context.statement.as_deref(), Some("SELECT 1"));
        let mut pending: Vec<_> = pending.into_iter().map(|(t, _)| t).collect();
        pending.sort_unstable();
        assert_eq!(pending, vec![4, 5], "outcomes still to come");
        // A late outcome becomes a row of its own.
        for (t, i) in [(4, 2), (5, 3)] {
            let e = &events[i];
            open.remember(t, e);
        }
        let (late, _) = merge(&mut vec![done(4, 0, None)], &mut open, &FoldBudget::new(0));
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].entry.action, "statement.completed");
        assert_eq!(late[0].context.session_id.as_deref(), Some("s1"));
    }

    fn classed(session: &str, sql: &str, token: u64, class: &'static str) -> Msg {
        let Msg::Event(mut e) = statement(session, sql, token) else {
            unreachable!("an event")
        };
        if let Some(f) = e.facts.as_mut() {
            f.class = Some(class);
            f.message = Some("query");
        }
        Msg::Event(e)
    }

    #[test]
    fn executions_of_one_class_share_a_row_with_every_text() {
        let mut open = Open::default();
        let mut msgs = vec![
            classed("s1", "SELECT a FROM t WHERE id = 1", 1, "read"),
            classed("s1", "SELECT a FROM t WHERE id = 1", 2, "read"),
            classed("s1", "select a from t where id = 2", 3, "read"),
            done(2, 1, None),
            // Another session's statement does not end s1's run.
            classed("s2", "SELECT a FROM t WHERE id = 3", 4, "read"),
            classed("s1", "SELECT a FROM t WHERE id = 5", 5, "read"),
            done(5, 2, None),
            // Another statement of the class joins too.
            classed("s1", "SELECT b FROM u WHERE id = 4", 6, "read"),
            // Another class ends it; after it, reads start a new row.
            classed("s1", "SELECT nextval('s')", 7, "write"),
            classed("s1", "SELECT a FROM t WHERE id = 6", 8, "read"),
        ];
        let (events, _) = merge(&mut msgs, &mut open, &FoldBudget::new(0));
        assert_eq!(
            statement_texts(&events),
            [
                "SELECT a FROM t WHERE id = 1",
                "SELECT a FROM t WHERE id = 3",
                "SELECT nextval('s')",
                "SELECT a FROM t WHERE id = 6",
            ]
        );
        let f = events[0].facts.as_ref().expect("facts");
        assert_eq!(f.executions, Some(5));
        assert_eq!(
            f.more_statements.as_deref(),
            Some(
                &[
                    "SELECT a FROM t WHERE id = 1".to_owned(),
                    "select a from t where id = 2".to_owned(),
                    "SELECT a FROM t WHERE id = 5".to_owned(),
                    "SELECT b FROM u WHERE id = 4".to_owned(),
                ][..]
            ),
            "the texts of executions 2 to 5, in order"
        );
        assert_eq!(f.outcome.as_ref().map(|o| o.rows), Some(3));
        let json = serde_json::to_value(f).expect("json");
        assert_eq!(json["more_statements"][1], "select a from t where id = 2");
        // Cut texts fold only when identical.
        let mut cut = vec![
            classed("s1", "SELECT 1", 1, "read"),
            classed("s1", "SELECT 2", 2, "read"),
        ];
        if let Msg::Event(e) = &mut cut[1] {
            e.facts.as_mut().expect("facts").truncated = true;
        }
        assert_eq!(merge(&mut cut, &mut open, &FoldBudget::new(0)).0.len(), 2);
    }

    /// A session's executions as the statement gate records them: each joins the open run when
    /// it can, else opens a new one (its marker goes into `msgs`).
    fn execute(runs: &Arc<SessionRuns>, msgs: &mut Vec<Msg>, sql: &str, token: u64) {
        let e = Execution {
            message: "query",
            class: Some("read"),
            statements: 1,
            text: sql,
            truncated: false,
        };
        if runs.join(&e, token, 3) {
            return;
        }
        let Msg::Event(mut event) = classed("s1", sql, token, "read") else {
            unreachable!("an event")
        };
        if let Some(f) = event.facts.as_mut() {
            f.statements = Some(1);
        }
        runs.open(event, token, |g| {
            msgs.push(Msg::Run(runs.clone(), g));
            Ok::<(), ()>(())
        })
        .expect("queued");
    }

    #[test]
    fn runs_fold_in_the_session_and_keep_their_place_in_the_trail() {
        let runs = Arc::new(SessionRuns::default());
        let mut msgs = Vec::new();
        let mut open = Open::default();
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 1", 1);
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 2", 2);
        let outcome = |rows| StatementOutcome {
            duration_us: 10,
            rows,
            bytes: 100,
            affected: None,
            error: None,
        };
        assert!(runs.complete(1, outcome(1)).is_none(), "summed in place");
        assert!(runs.complete(2, outcome(2)).is_none());
        assert_eq!(msgs.len(), 1, "one marker for both executions");
        // A denial closes the run: the next execution starts another.
        runs.close();
        let Msg::Event(mut denial) = statement("s1", "DELETE FROM t", 0) else {
            unreachable!("an event")
        };
        denial.token = None;
        msgs.push(Msg::Event(denial));
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 3", 3);
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 4", 4);
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 5", 5);
        // At most 3 executions per run here: the fourth opens another.
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 6", 6);
        assert!(runs.complete(3, outcome(3)).is_none());
        assert_eq!(msgs.len(), 4);
        let (events, pending) = merge(&mut msgs, &mut open, &FoldBudget::new(0));
        assert_eq!(
            statement_texts(&events),
            [
                "SELECT a FROM t WHERE id = 1",
                "DELETE FROM t",
                "SELECT a FROM t WHERE id = 3",
                "SELECT a FROM t WHERE id = 6",
            ]
        );
        let f = events[0].facts.as_ref().expect("facts");
        assert_eq!(f.executions, Some(2));
        assert_eq!(f.outcome.as_ref().map(|o| o.rows), Some(3));
        let f = events[2].facts.as_ref().expect("facts");
        assert_eq!(f.executions, Some(3));
        assert_eq!(
            f.more_statements.as_deref().map(<[String]>::len),
            Some(2),
            "the texts of executions 2 and 3"
        );
        assert!(events.iter().all(|e| e.token.is_none()));
        let mut pending: Vec<_> = pending.into_iter().collect();
        pending.sort_unstable();
        assert_eq!(
            pending,
            vec![(4, 2), (5, 2), (6, 3)],
            "outcomes still to come"
        );
        // Collected: a late outcome goes through the queue, and a collected run is gone.
        assert!(runs.complete(4, outcome(4)).is_some());
        assert!(runs.collect(0).is_none());
        // The next execution starts a new run, with a new marker.
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 7", 7);
        assert_eq!(msgs.len(), 1);
        assert_eq!(merge(&mut msgs, &mut open, &FoldBudget::new(0)).0.len(), 1);
    }

    #[test]
    fn a_folded_row_says_which_execution_returned_what() {
        let runs = Arc::new(SessionRuns::default());
        let mut msgs = Vec::new();
        let outcome = |rows, bytes| StatementOutcome {
            duration_us: 10,
            rows,
            bytes,
            affected: None,
            error: None,
        };
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 1", 1);
        assert!(runs.complete(1, outcome(1, 60)).is_none());
        execute(&runs, &mut msgs, "SELECT a FROM t WHERE id = 2", 2);
        execute(&runs, &mut msgs, "SELECT * FROM big", 3);
        assert!(runs.complete(2, outcome(1, 60)).is_none());
        assert!(runs.complete(3, outcome(1_000_000, 9_000_000)).is_none());
        let (events, _) = merge(&mut msgs, &mut Open::default(), &FoldBudget::new(0));
        let f = events[0].facts.as_ref().expect("facts");
        let json = serde_json::to_value(f).expect("json");
        assert_eq!(json["rows"], 1_000_002, "the sum");
        assert_eq!(
            json["results"],
            serde_json::json!([
                {"executions": 2, "rows": 1, "bytes": 60},
                {"executions": 1, "rows": 1_000_000, "bytes": 9_000_000},
            ]),
            "in order, equal neighbours merged"
        );
        // All alike: the sum says it all, and no list is written.
        let runs = Arc::new(SessionRuns::default());
        let mut msgs = Vec::new();
        for t in 1..=3 {
            execute(&runs, &mut msgs, "SELECT 1", t);
            assert!(runs.complete(t, outcome(1, 60)).is_none());
        }
        let (events, _) = merge(&mut msgs, &mut Open::default(), &FoldBudget::new(0));
        let json = serde_json::to_value(events[0].facts.as_ref().expect("facts")).expect("json");
        assert_eq!(
            (json["rows"].clone(), json.get("results")),
            (3.into(), None)
        );
    }

    #[test]
    fn a_run_keeps_a_bounded_amount_of_text() {
        let runs = Arc::new(SessionRuns::default());
        let mut msgs = Vec::new();
        // Each text a little over half the bound: the second joins the first, the third
        // would take the run past it and opens another (before the cap of 3 executions).
        let text = |i: usize| format!("SELECT '{}' -- {i}", "x".repeat(runs::RUN_TEXT_BYTES / 2));
        for i in 1..=4 {
            execute(&runs, &mut msgs, &text(i), i as u64);
        }
        assert_eq!(msgs.len(), 2, "two runs of two executions");
        let (events, _) = merge(&mut msgs, &mut Open::default(), &FoldBudget::new(0));
        assert_eq!(
            statement_texts(&events),
            [text(1).as_str(), text(3).as_str()],
            "each run starts where the one before stopped"
        );
        assert_eq!(events[1].facts.as_ref().and_then(|f| f.executions), Some(2));
    }

    /// An execution of `SELECT 1`.
    fn select_one() -> Execution<'static> {
        Execution {
            message: "query",
            class: Some("read"),
            statements: 1,
            text: "SELECT 1",
            truncated: false,
        }
    }

    #[test]
    fn a_run_whose_marker_cannot_be_queued_is_not_opened() {
        let runs = Arc::new(SessionRuns::default());
        let Msg::Event(event) = classed("s1", "SELECT 1", 9, "read") else {
            unreachable!("an event")
        };
        let (back, ()) = runs.open(event, 9, |_| Err(())).expect_err("refused");
        assert_eq!(back.token, Some(9), "it goes the slow way, with its token");
        let e = select_one();
        assert!(!runs.join(&e, 10, 100), "no run to join");
    }

    #[test]
    fn folded_executions_waiting_for_the_writer_are_bounded() {
        let budget = FoldBudget::new(2);
        assert!(budget.try_take());
        assert!(budget.try_take());
        assert!(
            !budget.try_take(),
            "full: the next execution needs room in the queue"
        );
        budget.give_back(1);
        assert!(budget.try_take());
        budget.give_back(5);
        assert!(budget.try_take(), "never below zero");
        assert!(budget.try_take());
        assert!(!budget.try_take());
    }

    /// The sink's joins stop at the budget (`queue_events` folded executions the writer has
    /// not collected); the writer's collection gives the room back.
    #[tokio::test]
    async fn sessions_fold_only_as_many_executions_as_the_queue_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.expect("open");
        let config = AuditConfig {
            queue_events: 3,
            flush_interval: Duration::from_millis(200),
            ..AuditConfig::default()
        };
        let (writer, sink) = AuditWriter::spawn(store.clone(), &config);
        let runs = Arc::new(SessionRuns::default());
        let e = select_one();
        assert!(sink.try_join(&runs, &e).is_none(), "no run yet");
        let Msg::Event(mut first) = classed("s1", "SELECT 1", 0, "read") else {
            unreachable!("an event")
        };
        first.facts.as_mut().expect("facts").statements = Some(1);
        sink.try_record_run(&runs, *first).expect("queued");
        for _ in 0..3 {
            assert!(sink.try_join(&runs, &e).is_some(), "within the budget");
        }
        assert!(
            sink.try_join(&runs, &e).is_none(),
            "the fourth needs a place in the queue"
        );
        // Once the writer has collected the run, sessions fold again.
        let mut joined = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if sink.try_join(&runs, &e).is_some() {
                joined = true;
                break;
            }
            // The open run went with the writer: a new one takes its place.
            if let Msg::Event(mut next) = classed("s1", "SELECT 1", 0, "read") {
                next.facts.as_mut().expect("facts").statements = Some(1);
                let _ = sink.try_record_run(&runs, *next);
            }
        }
        assert!(joined);
        drop(sink);
        assert!(writer.finish().await >= 2, "both runs written");
        store.close().await;
    }
}
