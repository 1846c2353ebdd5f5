//! Folding where the session runs: a session's consecutive allowed executions of one class
//! gather in a *run* kept beside the session, instead of each going through the writer's queue
//! as an event of its own and being folded there.
//!
//! - The first execution of a run builds its event, as any statement does, and puts a
//!   [`Msg::Run`](super::Msg) marker into the writer's queue where the event itself would have
//!   gone. Later executions that may share its row (the rule of [`super::folds_into`]: same
//!   message, class and statement count, and texts not cut short unless identical) only
//!   lock the session's runs, count themselves and keep their text; their outcomes are summed in
//!   place as they arrive. Nothing is allocated or queued per execution (a text that differs
//!   from the first is kept, as in the row).
//! - The writer collects a run when it reaches the run's marker, within the same flush interval
//!   as an event queued at that moment would be written: the crash-loss window does not change.
//!   Executions after the collection start a new run. Outcomes still to come then reach the
//!   writer through the queue, as for any event written before its outcome.
//! - Order: a run is closed by anything else its session records (a denial, an execution of
//!   another class or message, one with parameters), so a session's rows still read in the order its
//!   statements ran; the marker holds the run's place in the queue.
//! - A run holds at most `audit.batch_events` executions (the most a row folded by the writer
//!   can hold) and [`RUN_TEXT_BYTES`] of texts besides its first, and all runs together at most `audit.queue_events` executions not yet collected
//!   ([`FoldBudget`]): a writer held up by a slow or failing store does not let runs grow
//!   without bound, and the crash window keeps its size. Beyond that, an execution needs room
//!   in the queue, and waits or is refused like any event.
//!
//! This is the busy proxy's common case (pgbench, an application's connection pool, a driver
//! that puts values into its SQL text): it saved about 1,200 of the 14,400 instructions a
//! prepared statement cost through the whole proxy, and 2,000 of a simple-mode statement's
//! 23,600 (an event and its box, two queue messages, the writer's merge).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{AuditEvent, StatementOutcome, add_outcome, fold_text};

/// A session's runs waiting for the writer: the open one (last) and any closed ones whose
/// marker the writer has not reached yet. One per session, shared by its tasks.
#[derive(Debug, Default)]
pub struct SessionRuns(Mutex<Runs>);

#[derive(Debug, Default)]
struct Runs {
    /// Numbers the session's runs; a marker names the run it collects.
    next_generation: u64,
    /// Oldest first; only the last may still be open.
    waiting: VecDeque<Run>,
}

#[derive(Debug)]
struct Run {
    generation: u64,
    /// Executions may still join it.
    open: bool,
    /// The first execution's event; its facts count and sum the others.
    event: Box<AuditEvent>,
    /// Tokens of executions whose outcome is still to come.
    pending: Vec<u64>,
    /// Bytes of the texts kept besides the first's.
    kept: usize,
}

/// The most text bytes a run keeps besides its first execution's: a row stays a row (a
/// thousand executions of 4 KB texts would make one of 4 MB), and runs waiting for the writer
/// hold a bounded amount of text.
pub const RUN_TEXT_BYTES: usize = 64 * 1024;

/// One more execution, as [`SessionRuns::join`] compares it with the open run.
#[derive(Debug, Clone, Copy)]
pub struct Execution<'a> {
    /// Which message carried it (`query`, `parse`, `execute`...).
    pub message: &'static str,
    /// The statement's class.
    pub class: Option<&'static str>,
    /// Statements in the message.
    pub statements: u32,
    /// The text as it would be stored.
    pub text: &'a str,
    /// Whether that text was cut at `audit.max_statement_bytes`.
    pub truncated: bool,
}

/// How many executions all sessions' runs hold beyond their first, not yet collected by the
/// writer, and how many they may hold. Shared by every sink and the writer.
#[derive(Debug)]
pub(super) struct FoldBudget {
    held: AtomicUsize,
    max: usize,
}

impl FoldBudget {
    pub(super) fn new(max: usize) -> Self {
        Self {
            held: AtomicUsize::new(0),
            max,
        }
    }

    /// Takes room for one more folded execution, if there is some (a race may overshoot by
    /// one per thread).
    pub(super) fn try_take(&self) -> bool {
        if self.held.load(Ordering::Relaxed) >= self.max {
            return false;
        }
        self.held.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Gives back room for `n` executions (a refused join, or a collected run's).
    pub(super) fn give_back(&self, n: usize) {
        let _ = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(n))
            });
    }
}

impl SessionRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `e` to the open run when it may share its row (and the run holds fewer than `max`
    /// executions), awaiting its outcome under `token`. False: it needs an event of its own.
    pub(super) fn join(&self, e: &Execution<'_>, token: u64, max: u32) -> bool {
        let mut runs = self.lock();
        let Some(run) = runs.waiting.back_mut().filter(|r| r.open) else {
            return false;
        };
        let Some(f) = run.event.facts.as_mut() else {
            return false;
        };
        let first = run.event.context.statement.as_deref().unwrap_or_default();
        let same_text = first == e.text;
        let executions = f.executions.unwrap_or(1);
        let kept = super::text_added(Some(first), f, Some(e.text));
        let joins = f.message == Some(e.message)
            && f.class == e.class
            && f.statements == Some(e.statements)
            && executions < max
            && (same_text || (!f.truncated && !e.truncated))
            && run.kept + kept <= RUN_TEXT_BYTES;
        if joins {
            fold_text(f, first, e.text);
            run.pending.push(token);
            run.kept += kept;
        }
        joins
    }

    /// Opens a run with `event` (its first execution, awaiting its outcome under `token`),
    /// closing the one before; `queue` puts its marker into the writer's queue, with the run's
    /// generation, while the run is in place. If that fails, no run is opened and `event` comes
    /// back.
    pub(super) fn open<E>(
        &self,
        mut event: Box<AuditEvent>,
        token: u64,
        queue: impl FnOnce(u64) -> Result<(), E>,
    ) -> Result<(), (Box<AuditEvent>, E)> {
        let mut runs = self.lock();
        if let Some(last) = runs.waiting.back_mut() {
            last.open = false;
        }
        let generation = runs.next_generation;
        runs.next_generation += 1;
        event.token = None;
        runs.waiting.push_back(Run {
            generation,
            open: true,
            event,
            pending: vec![token],
            kept: 0,
        });
        // In place before the marker is queued: the writer may take it at once.
        match queue(generation) {
            Ok(()) => Ok(()),
            Err(e) => {
                let run = runs.waiting.pop_back().expect("the run just pushed");
                let mut event = run.event;
                event.token = Some(token);
                Err((event, e))
            }
        }
    }

    /// Closes the open run: the session records something else, which must follow it.
    pub fn close(&self) {
        if let Some(last) = self.lock().waiting.back_mut() {
            last.open = false;
        }
    }

    /// Adds the outcome of `token` to its run when the run is still here; else gives it back
    /// (the writer has the run: the outcome goes through the queue).
    pub(super) fn complete(
        &self,
        token: u64,
        outcome: StatementOutcome,
    ) -> Option<StatementOutcome> {
        let mut runs = self.lock();
        for run in runs.waiting.iter_mut().rev() {
            if let Some(i) = run.pending.iter().position(|t| *t == token) {
                run.pending.remove(i);
                if let Some(f) = run.event.facts.as_mut() {
                    add_outcome(f, outcome);
                }
                return None;
            }
        }
        Some(outcome)
    }

    /// The writer takes run `generation` (its marker's): its row, and the tokens of executions
    /// whose outcome is still to come.
    pub(super) fn collect(&self, generation: u64) -> Option<(AuditEvent, Vec<u64>)> {
        let mut runs = self.lock();
        let i = runs
            .waiting
            .iter()
            .position(|r| r.generation == generation)?;
        let run = runs.waiting.remove(i)?;
        Some((*run.event, run.pending))
    }
}
