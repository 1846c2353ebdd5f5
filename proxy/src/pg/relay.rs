//! The relay: after both logins, PostgreSQL messages flow between client and upstream.
//!
//! Two tasks, one per direction, so that neither direction ever waits for the other: a client
//! pushing a long pipeline while the upstream pushes results back cannot deadlock. Each task
//! frames messages itself (type byte + length) over its read buffer and forwards them as raw
//! bytes, never re-encoded:
//! - messages policy needs to read (`Query`, `Parse`, `Execute`, `FunctionCall`, `Sync`,
//!   `Terminate` from the client; `ReadyForQuery`, `ParameterStatus`, `ErrorResponse` from the
//!   upstream) are buffered whole, under the message-size ceiling checked before buffering;
//! - result data (`DataRow`, `CopyData` from the upstream) is metered at its header against the
//!   byte quota, then streams;
//! - everything else (DataRow, CopyData, Bind...) streams through as it arrives, so a 10 GB
//!   result or a COPY passes with bounded memory;
//! - what was read is written before the next read, one write per read in the common case;
//! - read sizes adapt (2 KiB to 256 KiB): bulk results move in few large reads, and an idle
//!   session gives its large buffers back (about 14 KiB per idle session in the bench).
//!
//! Each client message is forwarded as soon as it is read and classified: nothing waits for
//! `Sync`, so clients that `Flush` and wait work.
//!
//! ## Policy and quotas
//! `Query` and `Parse` go through the session's [`StatementGate`] (classification, level,
//! timeout ceiling); a `Query` then takes one quota unit per statement, each `Execute` and
//! fast-path call one. Quota units come from the session's [`Allowance`]s (a local counter;
//! the store only once per block). When a result crosses the byte quota, the rest of that
//! request cycle is discarded, the upstream query cancelled, and the cancellation's error
//! replaced by dbward's `53400`; if the statement completed before the cancel landed, the
//! session ends (`FATAL 53400`): there is no error left to replace.
//!
//! [`StatementGate`]: crate::statement_gate::StatementGate
//!
//! ## Denials
//! A denied message is replaced, upstream, by a simple query that is certain to fail
//! (`SELECT 1/0`); the upstream's error for it is swallowed and dbward's own ErrorResponse goes
//! to the client instead. So the transaction ends exactly as PostgreSQL would end it (a failed
//! statement aborts it) and the next `ReadyForQuery` truthfully reports its state. Which upstream
//! error to replace is known by counting request cycles: every `Query`, `FunctionCall` and
//! `Sync` sent upstream ends in exactly one `ReadyForQuery`.
//!
//! ## Session end
//! When either side closes or breaks the protocol, or dbward ends the session (kill, grant gone,
//! timeout), the session ends; if the upstream was busy, its query is cancelled (CancelRequest)
//! so that nothing keeps running on production after the client left.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::{Buf as _, BytesMut};
use dbward_core::model::AccessLevel;
use dbward_core::quota::{Allowance, QuotaError};
use dbward_core::sessions::EndReason;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::stream::SendExt as _;

use super::codec::{
    self, Severity, TAG_BIND, TAG_CLOSE, TAG_COMMAND_COMPLETE, TAG_COPY_DATA, TAG_DATA_ROW,
    TAG_ERROR_RESPONSE, TAG_EXECUTE, TAG_FUNCTION_CALL, TAG_PARAMETER_STATUS, TAG_PARSE, TAG_QUERY,
    TAG_READY_FOR_QUERY, TAG_SYNC, TAG_TERMINATE,
};
use super::stream::{MaybeTls, ReadHalf, WriteHalf};
use crate::statement_gate::Refused;

pub use crate::statement_gate::SessionEnd;

/// Per-session settings of the relay.
#[derive(Clone)]
pub struct RelayConfig {
    /// Completes when dbward ends the session (admin kill, grant expired or revoked...).
    pub kill: dbward_core::sessions::KillSignal,
    /// Where a cancel request for this session's upstream query goes.
    pub cancel: super::cancel::CancelTarget,
    /// The level the session runs at.
    pub level: AccessLevel,
    /// Classifies and checks every statement, audits denials.
    pub gate: crate::statement_gate::StatementGate,
    /// Ceiling for messages the relay must buffer whole.
    pub max_message_bytes: usize,
    /// End the session after this long idle outside a transaction (zero: never).
    pub idle_session_timeout: std::time::Duration,
    /// End it after this long idle inside a transaction (zero: never).
    pub idle_in_transaction_timeout: std::time::Duration,
}

/// A FATAL error the client-side task asks the upstream-side task (which owns the client's
/// write half) to send before ending the session; the first one asked for is sent. A slot, a
/// flag and a waker (a few dozen bytes), not a channel: a tokio channel costs every session
/// about 1.8 KiB for a message almost no session sends. Not a `Notify` either: the upstream
/// side polls this on every wake-up, and a `Notify` re-registers under its lock each time
/// (about 170 instructions per poll, callgrind); here a poll is a load, a waker check and a
/// load.
#[derive(Default)]
struct FatalRequest {
    slot: Mutex<Option<(&'static str, String)>>,
    asked: std::sync::atomic::AtomicBool,
    waker: atomic_waker::AtomicWaker,
}

impl FatalRequest {
    fn ask(&self, code: &'static str, message: String) {
        self.slot
            .lock()
            .expect("fatal slot lock poisoned")
            .get_or_insert((code, message));
        self.asked.store(true, std::sync::atomic::Ordering::Release);
        self.waker.wake();
    }

    /// Ready once a FATAL was asked for.
    fn poll_asked(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        use std::sync::atomic::Ordering::Acquire;
        if self.asked.load(Acquire) {
            return std::task::Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.asked.load(Acquire) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    }

    fn take(&self) -> Option<(&'static str, String)> {
        self.asked
            .store(false, std::sync::atomic::Ordering::Release);
        self.slot.lock().expect("fatal slot lock poisoned").take()
    }
}

/// State both directions share: request cycles sent and completed, pending error
/// substitutions, and when the client last sent something.
struct Cycles {
    last_client_activity: tokio::time::Instant,
    sent: u64,
    completed: u64,
    /// (cycle number, dbward's ErrorResponse to send instead of the upstream's).
    substitutions: VecDeque<(u64, BytesMut)>,
    /// dbward ended the session: nothing more goes upstream.
    ended: bool,
    /// The running upstream request was already cancelled.
    cancelled: bool,
    /// The byte quota ran out (with its message): new statements are refused.
    bytes_exhausted: Option<String>,
    /// Audited statements waiting for their outcome: (request cycle, audit token, admitted).
    audited: VecDeque<(u64, u64, std::time::Instant)>,
}

impl Cycles {
    /// An audited statement sent (or about to be sent) in the current request cycle: its
    /// outcome is that cycle's result, its duration measured from `read_at` (when the bytes
    /// carrying it arrived).
    fn await_outcome(&mut self, token: u64, read_at: std::time::Instant) {
        let cycle = self.sent;
        self.audited.push_back((cycle, token, read_at));
    }
}

/// What the current request cycle's result did so far, for the audit trail.
#[derive(Default)]
struct CycleResult {
    rows: i64,
    affected: Option<i64>,
    bytes: i64,
    error: Option<String>,
}

/// The session's quota allowances, one per direction's task. Each task locks its own for its
/// whole life (no lock per statement); after the relay, the caller releases what is unspent.
#[derive(Clone)]
pub struct Quotas {
    /// Statements.
    pub queries: Arc<tokio::sync::Mutex<Allowance>>,
    /// Result bytes.
    pub bytes: Arc<tokio::sync::Mutex<Allowance>>,
}

/// Smallest and largest read; reads grow while they fill the buffer (bulk results move in few
/// large reads) and shrink back when traffic is small, so an idle session holds little memory.
const MIN_CHUNK: usize = 2 * 1024;
const MAX_CHUNK: usize = 256 * 1024;
/// A buffer emptied with more capacity than this is released.
const MAX_IDLE_CAPACITY: usize = 32 * 1024;

/// Runs the relay until the session ends. Returns why it ended and whether the upstream was
/// still busy with a request at that moment (the caller cancels it).
#[allow(clippy::manual_async_fn)] // an `async fn` would hold its arguments twice
pub fn run(
    client: MaybeTls,
    upstream: MaybeTls,
    config: RelayConfig,
    quotas: Quotas,
) -> impl std::future::Future<Output = (SessionEnd, bool)> + Send + 'static {
    async move {
        let (client_r, client_w) = client.into_split();
        let (upstream_r, upstream_w) = upstream.into_split();
        let cycles = Arc::new(Mutex::new(Cycles {
            last_client_activity: tokio::time::Instant::now(),
            sent: 0,
            completed: 0,
            substitutions: VecDeque::new(),
            ended: false,
            cancelled: false,
            bytes_exhausted: None,
            audited: VecDeque::new(),
        }));
        let fatal = Arc::new(FatalRequest::default());
        let mut c2u = tokio::spawn(client_to_upstream(
            client_r,
            upstream_w,
            config.clone(),
            cycles.clone(),
            fatal.clone(),
            quotas.queries,
        ));
        let mut u2c = tokio::spawn(upstream_to_client(
            upstream_r,
            client_w,
            config,
            cycles.clone(),
            fatal,
            quotas.bytes,
        ));
        let end = tokio::select! {
            r = &mut c2u => {
                // The client is gone or broke the protocol. Give the upstream task a moment to
                // deliver a FATAL it was asked to send, then stop it.
                let end = r.unwrap_or_else(|e| SessionEnd::Error(e.to_string()));
                match tokio::time::timeout(std::time::Duration::from_millis(200), &mut u2c).await {
                    Ok(Ok(SessionEnd::Ended(m))) => SessionEnd::Ended(m),
                    Ok(_) => end,
                    Err(_) => { u2c.abort(); end }
                }
            }
            r = &mut u2c => {
                let end = r.unwrap_or_else(|e| SessionEnd::Error(e.to_string()));
                if matches!(end, SessionEnd::Ended(_)) {
                    // Let the client read the FATAL and hang up first: closing a socket with unread
                    // input makes the kernel send RST, and the client could lose the message. The
                    // client task forwards nothing upstream any more (`ended`), it only drains
                    // (for as long as it lingers after an oversized message).
                    let _ = tokio::time::timeout(crate::stream::LINGER_TIME, &mut c2u).await;
                }
                c2u.abort();
                end
            }
        };
        let busy = {
            let c = cycles.lock().expect("cycles lock poisoned");
            c.sent > c.completed && !c.cancelled
        };
        (end, busy)
    }
}

/// An adaptive read size (see [`MIN_CHUNK`]).
struct Chunk(crate::buffers::ReadSize);

impl Default for Chunk {
    fn default() -> Self {
        Self(crate::buffers::ReadSize::new(MIN_CHUNK, MAX_CHUNK))
    }
}

/// The first read of a session waiting with small traffic goes to this many bytes inside the
/// task, not to a heap buffer: a waiting session then holds no buffers (a pgbench request or
/// response is under 200 bytes; more takes one more read).
const IDLE_READ: usize = 256;

impl Chunk {
    /// Reads more bytes into `buf`, growing or shrinking the next read's size by how full this
    /// one was. While traffic is small, a wait with nothing buffered holds no memory: `buf` and
    /// `spare` (the direction's emptied output buffer) are released, and the first bytes land
    /// in [`IDLE_READ`] bytes of the task's own state.
    ///
    /// # Cancel safety
    /// Cancel safe: nothing is consumed before a read completes, and reads are.
    async fn fill<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
        buf: &mut BytesMut,
        spare: &mut BytesMut,
    ) -> std::io::Result<usize> {
        if buf.is_empty() && self.0.size <= MIN_CHUNK {
            crate::buffers::give(buf, MIN_CHUNK);
            crate::buffers::give(spare, MIN_CHUNK);
            let mut first = [0u8; IDLE_READ];
            let n = r.read(&mut first).await?;
            if n > 0 {
                *buf = crate::buffers::take(MIN_CHUNK);
                buf.extend_from_slice(&first[..n]);
                // What was read goes out again, message by message: room for it at once,
                // not a growth step per message.
                if spare.capacity() == 0 {
                    *spare = crate::buffers::take(MIN_CHUNK);
                } else {
                    spare.reserve(MIN_CHUNK);
                }
            }
            return Ok(n);
        }
        if buf.is_empty() && buf.capacity() > MAX_IDLE_CAPACITY && self.0.size <= MAX_IDLE_CAPACITY
        {
            *buf = BytesMut::new();
        }
        if buf.capacity() - buf.len() < self.0.size / 2 {
            buf.reserve(self.0.size);
        }
        let room = buf.capacity() - buf.len();
        let n = r.read_buf(buf).await?;
        self.0.after_read(n, room);
        Ok(n)
    }
}

/// Clears an output buffer once written; releases it if it grew large and traffic is small
/// again (while it is heavy, the buffer is kept: reallocating 256 KiB per read would cost an
/// mmap/munmap pair each time).
fn trim(out: &mut BytesMut, chunk: &Chunk) {
    out.clear();
    if out.capacity() > MAX_IDLE_CAPACITY && chunk.0.size <= MAX_IDLE_CAPACITY {
        *out = BytesMut::new();
    }
}

/// Messages the client side reads whole (policy needs them).
const CLIENT_INSPECTED: &[u8] = &[
    TAG_QUERY,
    TAG_PARSE,
    TAG_BIND,
    TAG_CLOSE,
    TAG_EXECUTE,
    TAG_FUNCTION_CALL,
    TAG_TERMINATE,
    TAG_SYNC,
];
/// Upstream messages counted against the byte quota: result rows and COPY OUT data.
const UPSTREAM_METERED: &[u8] = &[TAG_DATA_ROW, TAG_COPY_DATA];
/// Messages the upstream side reads whole.
const UPSTREAM_INSPECTED: &[u8] = &[
    TAG_COMMAND_COMPLETE,
    TAG_READY_FOR_QUERY,
    TAG_PARAMETER_STATUS,
    TAG_ERROR_RESPONSE,
];

/// Framing shared by both directions: copies to `out` every message that is not inspected, as
/// far as it has arrived (the rest of a long one follows as it arrives), and stops at the next
/// inspected message's header. Metered messages (result data, counted against the byte quota)
/// stop it too, at their header only: the caller decides and then [`Framer::pass`]es them on,
/// streaming. While `discard` is set, everything not inspected is dropped instead of copied.
#[derive(Default)]
struct Framer {
    /// Bytes of a passed-through message still to come.
    passthrough: usize,
    /// Drop pass-through bytes (a result being cut off by its quota).
    discard: bool,
}

/// What [`Framer::next`] stopped at.
#[derive(Debug, PartialEq, Eq)]
enum Frame {
    /// An inspected message: buffer it whole.
    Inspect(u8, usize),
    /// A metered message's header: decide, then `pass` it (it streams).
    Meter(usize),
}

impl Framer {
    /// The next inspected message or metered header at the front of `buf`, `None` when more
    /// bytes are needed, or an error for an invalid length.
    fn next(
        &mut self,
        buf: &mut BytesMut,
        out: &mut BytesMut,
        inspected: &[u8],
        metered: &[u8],
    ) -> Result<Option<Frame>, String> {
        loop {
            if self.passthrough > 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = self.passthrough.min(buf.len());
                if !self.discard {
                    out.extend_from_slice(&buf[..n]);
                }
                buf.advance(n);
                self.passthrough -= n;
                continue;
            }
            let Some((tag, total)) = header(buf)? else {
                return Ok(None);
            };
            if inspected.contains(&tag) {
                return Ok(Some(Frame::Inspect(tag, total)));
            }
            if !self.discard && metered.contains(&tag) {
                return Ok(Some(Frame::Meter(total)));
            }
            self.pass(buf, out, total);
        }
    }

    /// Passes on the message of `total` bytes at the front of `buf`, as far as it has arrived.
    fn pass(&mut self, buf: &mut BytesMut, out: &mut BytesMut, total: usize) {
        let n = total.min(buf.len());
        if !self.discard {
            out.extend_from_slice(&buf[..n]);
        }
        buf.advance(n);
        self.passthrough = total - n;
    }
}

/// Parses the header at the front of `buf`: (tag, total length including the tag byte).
pub(crate) fn header(buf: &[u8]) -> Result<Option<(u8, usize)>, String> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    let len = usize::try_from(len)
        .ok()
        .filter(|l| *l >= 4)
        .ok_or_else(|| format!("invalid message length {len}"))?;
    Ok(Some((buf[0], len + 1)))
}

/// The client's half of the session: reads its messages, checks and audits their statements,
/// and forwards them upstream.
///
/// An `async` block rather than an `async fn` (here and in [`upstream_to_client`]): an `async
/// fn` copies its arguments into locals of its future, and every idle session holds this
/// task's state.
#[allow(clippy::manual_async_fn)]
fn client_to_upstream(
    mut client: ReadHalf,
    mut upstream: WriteHalf,
    config: RelayConfig,
    cycles: Arc<Mutex<Cycles>>,
    fatal_request: Arc<FatalRequest>,
    queries: Arc<tokio::sync::Mutex<Allowance>>,
) -> impl std::future::Future<Output = SessionEnd> + Send + 'static {
    async move {
        let mut queries = queries.lock_owned().await;
        let mut buf = BytesMut::new();
        let mut out = BytesMut::new();
        let mut chunk = Chunk::default();
        let mut framer = Framer::default();
        let mut prepared = Prepared::default();
        let mut read_at = std::time::Instant::now();
        let fatal = |code: &'static str, message: String| {
            fatal_request.ask(code, message.clone());
            std::future::ready(SessionEnd::ended(cause_of(code), message))
        };
        loop {
            loop {
                let (tag, total) = match framer.next(&mut buf, &mut out, CLIENT_INSPECTED, &[]) {
                    Ok(Some(Frame::Inspect(tag, total))) => (tag, total),
                    Ok(Some(Frame::Meter(_)) | None) => break,
                    Err(e) => return fatal("08P01", e).await,
                };
                if tag == TAG_BIND {
                    // Only its two names are read (portal, statement); its parameters stream, so a
                    // large one is not buffered and not held to the message ceiling. When the
                    // trail records parameters, a Bind under the ceiling is read whole first.
                    let record = config.gate.record_parameters();
                    if record && total - 5 <= config.max_message_bytes && buf.len() < total {
                        buf.reserve(total - buf.len());
                        break;
                    }
                    let head = &buf[5..buf.len().min(total)];
                    let mut names = head.splitn(3, |b| *b == 0);
                    match (names.next(), names.next(), names.next()) {
                        (Some(portal), Some(statement), Some(_)) => {
                            let parameters = match (record, buf.len() >= total) {
                                (false, _) => None,
                                // A Bind without values records nothing: its executions fold.
                                (true, true) => match codec::bind_parameters(&buf[..total]) {
                                    Some(values) if values.is_empty() => None,
                                    Some(values) => Some(values),
                                    None => Some(vec![Some("(malformed Bind)".into())]),
                                },
                                (true, false) => Some(vec![Some(format!(
                                    "(not recorded: a Bind of {} bytes)",
                                    total - 5
                                ))]),
                            };
                            prepared.bind(portal, statement, parameters);
                            framer.pass(&mut buf, &mut out, total);
                            continue;
                        }
                        _ if buf.len() >= total => {
                            return fatal("08P01", "malformed Bind".into()).await;
                        }
                        _ => break,
                    }
                }
                if total - 5 > config.max_message_bytes {
                    let end = fatal(
                        "08P01",
                        format!(
                            "message of {} bytes exceeds dbward's limit of {} bytes",
                            total - 5,
                            config.max_message_bytes
                        ),
                    )
                    .await;
                    // The other task sends the FATAL; the client may still be writing.
                    Box::pin(crate::stream::linger(&mut client)).await;
                    return end;
                }
                if buf.len() < total {
                    buf.reserve(total - buf.len());
                    break;
                }
                let msg = &buf[..total];
                match tag {
                    TAG_TERMINATE => {
                        out.extend_from_slice(msg);
                        let _ = upstream.send(&out).await;
                        return SessionEnd::ClientQuit;
                    }
                    TAG_FUNCTION_CALL if config.level != AccessLevel::Admin => {
                        // The fast-path interface carries no SQL to classify: fail closed.
                        deny(
                            &mut out,
                            &cycles,
                            "42501",
                            &format!(
                                "FunctionCall (fast-path) carries no SQL dbward can check; \
                             it needs an admin grant (this session: {})",
                                config.level
                            ),
                        );
                    }
                    TAG_QUERY => {
                        let sql = sql_text(tag, msg);
                        let admitted = match config.gate.check(sql).await {
                            Ok((c, text)) if c.statements > 0 => {
                                let n = i64::from(c.statements);
                                match take_quota(&mut queries, &cycles, &config, sql, n).await {
                                    Ok(()) => config
                                        .gate
                                        .record_allowed(&text, &c, "query")
                                        .await
                                        .map(Some),
                                    Err(r) => Err(r),
                                }
                            }
                            Ok(_) => Ok(None),
                            Err(r) => Err(r),
                        };
                        match admitted {
                            Ok(token) => {
                                let mut c = cycles.lock().expect("cycles lock poisoned");
                                if let Some(token) = token {
                                    c.await_outcome(token, read_at);
                                }
                                c.sent += 1;
                                drop(c);
                                out.extend_from_slice(msg);
                            }
                            Err(r) => deny(&mut out, &cycles, r.sqlstate(), r.message()),
                        }
                    }
                    TAG_PARSE => {
                        let sql = sql_text(tag, msg);
                        // A statement parsed again with the text it had (the extended protocol's
                        // unnamed statement, statement after statement) was allowed at this
                        // session's level already: its classification is reused.
                        let again = prepared.allowed_again(statement_name(msg), sql);
                        let checked = match &again {
                            Some((text, c)) => Ok((c.clone(), std::borrow::Cow::Borrowed(&**text))),
                            None => config.gate.check(sql).await,
                        };
                        let admitted = match checked {
                            Ok((c, text)) if c.statements > 0 => config
                                .gate
                                .record_allowed(&text, &c, "parse")
                                .await
                                .map(|t| Some((t, c, text))),
                            Ok(_) => Ok(None),
                            Err(r) => Err(r),
                        };
                        match admitted {
                            Ok(token) => {
                                if let Some((token, c, text)) = token {
                                    // The outcome is the cycle's that the next Sync closes.
                                    prepared.parsed(statement_name(msg), &text, c);
                                    let mut c = cycles.lock().expect("cycles lock poisoned");
                                    c.await_outcome(token, read_at);
                                }
                                out.extend_from_slice(msg);
                            }
                            Err(r) => {
                                // Nothing of an earlier statement of that name is executed as if
                                // it were this one.
                                prepared.statements.remove(statement_name(msg));
                                deny_parse(&mut out, &cycles, msg, r.sqlstate(), r.message());
                            }
                        }
                    }
                    TAG_EXECUTE | TAG_FUNCTION_CALL => {
                        // Each Execute (a resumed portal too) and each fast-path call is a statement.
                        let mut admitted =
                            take_quota(&mut queries, &cycles, &config, b"(execute)", 1).await;
                        // An Execute of a statement prepared in an earlier cycle (or run again)
                        // is audited on its own; the first one after its Parse shares the Parse's row.
                        if admitted.is_ok()
                            && tag == TAG_EXECUTE
                            && let Some(((sql, c), parameters)) = prepared.execute(&msg[5..])
                        {
                            admitted = match config
                                .gate
                                .record_execution(&sql, &c, "execute", parameters)
                                .await
                            {
                                Ok(token) => {
                                    let mut c = cycles.lock().expect("cycles lock poisoned");
                                    c.await_outcome(token, read_at);
                                    Ok(())
                                }
                                Err(r) => Err(r),
                            };
                        }
                        match admitted {
                            Ok(()) => {
                                if tag == TAG_FUNCTION_CALL {
                                    cycles.lock().expect("cycles lock poisoned").sent += 1;
                                }
                                out.extend_from_slice(msg);
                            }
                            Err(r) if tag == TAG_FUNCTION_CALL => {
                                deny(&mut out, &cycles, r.sqlstate(), r.message());
                            }
                            Err(r) => deny_execute(&mut out, &cycles, r.sqlstate(), r.message()),
                        }
                    }
                    TAG_SYNC => {
                        prepared.fresh.clear();
                        cycles.lock().expect("cycles lock poisoned").sent += 1;
                        out.extend_from_slice(msg);
                    }
                    TAG_CLOSE => {
                        prepared.close(&msg[5..]);
                        out.extend_from_slice(msg);
                    }
                    _ => out.extend_from_slice(msg),
                }
                buf.advance(total);
            }
            if !out.is_empty() {
                if cycles.lock().expect("cycles lock poisoned").ended {
                    out.clear();
                    buf.clear();
                    framer = Framer::default();
                } else if let Err(e) = upstream.send(&out).await {
                    return SessionEnd::Error(format!("upstream write: {e}"));
                }
                trim(&mut out, &chunk);
            }
            match chunk.fill(&mut client, &mut buf, &mut out).await {
                Ok(0) => return SessionEnd::ClientQuit,
                Ok(_) => {
                    // One clock reading per read: the idle timers' and the statements' durations.
                    let now = tokio::time::Instant::now();
                    read_at = now.into_std();
                    cycles
                        .lock()
                        .expect("cycles lock poisoned")
                        .last_client_activity = now;
                }
                Err(e) => return SessionEnd::Error(format!("client read: {e}")),
            }
        }
    }
}

/// Replaces a denied request, upstream, with one certain to fail, and queues dbward's error to
/// be sent in place of the upstream's.
fn deny(out: &mut BytesMut, cycles: &Mutex<Cycles>, code: &str, message: &str) {
    let mut ours = BytesMut::new();
    codec::error_response(&mut ours, Severity::Error, code, message);
    {
        let mut c = cycles.lock().expect("cycles lock poisoned");
        let cycle = c.sent;
        c.substitutions.push_back((cycle, ours));
        c.sent += 1;
    }
    codec::query(out, "SELECT 1/0 -- dbward: request denied");
}

impl Refused {
    fn sqlstate(&self) -> &'static str {
        match self {
            Refused::Policy(_) | Refused::Unclassifiable(_) => "42501",
            Refused::Quota(_) => "53400",
            Refused::Unavailable(_) => "58000",
        }
    }

    fn message(&self) -> &str {
        match self {
            Refused::Policy(m)
            | Refused::Unclassifiable(m)
            | Refused::Quota(m)
            | Refused::Unavailable(m) => m,
        }
    }
}

/// Takes `n` statements from the query allowance, refusing when the grant's query or byte
/// quota is spent (or the store cannot be asked: fail closed). A refusal is audited.
///
/// At once when the allowance the session holds covers them (the common case); otherwise the
/// store is asked in a boxed future, so the task's state, which every idle session holds, does
/// not reserve room for that wait.
async fn take_quota(
    queries: &mut Allowance,
    cycles: &Mutex<Cycles>,
    config: &RelayConfig,
    sql: &[u8],
    n: i64,
) -> Result<(), Refused> {
    let clear = cycles
        .lock()
        .expect("cycles lock poisoned")
        .bytes_exhausted
        .is_none();
    if clear && (n == 0 || queries.try_take(n)) {
        return Ok(());
    }
    Box::pin(ask_quota(queries, cycles, config, sql, n)).await
}

/// [`take_quota`] when the session's allowance does not cover `n`.
async fn ask_quota(
    queries: &mut Allowance,
    cycles: &Mutex<Cycles>,
    config: &RelayConfig,
    sql: &[u8],
    n: i64,
) -> Result<(), Refused> {
    let spent = cycles
        .lock()
        .expect("cycles lock poisoned")
        .bytes_exhausted
        .clone();
    let result = match spent {
        Some(message) => Err(message),
        None if n == 0 => Ok(()),
        None => match queries.take(n).await {
            Ok(()) => Ok(()),
            Err(QuotaError::Exhausted(m)) => Err(m),
            Err(QuotaError::Store(e)) => {
                tracing::error!(error = %e, "quota check failed");
                Err("dbward cannot check this grant's quota right now; try again".into())
            }
        },
    };
    result.map_err(|message| {
        config
            .gate
            .audit_quota(&String::from_utf8_lossy(sql), &message);
        Refused::Quota(message)
    })
}

/// A portal name no client can know (random per process), so the replacement `Execute` cannot
/// run a portal the client prepared under that name.
fn refused_portal() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| format!("dbward_refused_{}", uuid::Uuid::new_v4().simple()))
}

/// Replaces a refused `Execute` with one of a portal that cannot exist, so PostgreSQL answers
/// with an error and discards until `Sync`; dbward's error replaces the upstream's.
fn deny_execute(out: &mut BytesMut, cycles: &Mutex<Cycles>, code: &str, message: &str) {
    let mut ours = BytesMut::new();
    codec::error_response(&mut ours, Severity::Error, code, message);
    {
        let mut c = cycles.lock().expect("cycles lock poisoned");
        let cycle = c.sent;
        c.substitutions.push_back((cycle, ours));
    }
    codec::put_message(out, TAG_EXECUTE, |b| {
        codec::put_cstr(b, refused_portal());
        b.extend_from_slice(&0i32.to_be_bytes());
    });
}

/// The values bound to a portal, as the audit trail records them.
type Parameters = Vec<Option<String>>;

/// A portal's statement name and the values bound to it (when they are recorded).
type Portal = (Box<[u8]>, Option<Parameters>);

/// A prepared statement's SQL text and classification.
type PreparedStatement = (Arc<str>, Arc<dbward_core::policy::Classification>);

/// The statements and portals of a session's extended protocol, so that each `Execute` of a
/// prepared statement is audited with its text.
#[derive(Default)]
struct Prepared {
    /// Statement name -> its SQL and classification.
    statements:
        std::collections::HashMap<Box<[u8]>, PreparedStatement, foldhash::fast::RandomState>,
    /// Portal name -> statement name, and the values bound (`audit.record_parameters`).
    portals: std::collections::HashMap<Box<[u8]>, Portal, foldhash::fast::RandomState>,
    /// Statements parsed in this cycle and not executed yet: their first Execute shares the
    /// Parse's audit row (and outcome).
    fresh: Vec<Box<[u8]>>,
}

impl Prepared {
    fn parsed(&mut self, name: &[u8], sql: &str, c: Arc<dbward_core::policy::Classification>) {
        match self.statements.get_mut(name) {
            // The unnamed statement parsed again with the same text (the extended protocol's
            // common case): nothing to allocate.
            Some((text, current)) if **text == *sql => *current = c,
            _ => {
                self.statements.insert(name.into(), (sql.into(), c));
            }
        }
        self.fresh.push(name.into());
    }

    /// The statement of that name when it was parsed (and allowed) with this very text.
    fn allowed_again(&self, name: &[u8], sql: &[u8]) -> Option<PreparedStatement> {
        self.statements
            .get(name)
            .filter(|(text, _)| text.as_bytes() == sql)
            .cloned()
    }

    fn bind(&mut self, portal: &[u8], statement: &[u8], parameters: Option<Parameters>) {
        match self.portals.get_mut(portal) {
            Some((s, p)) if **s == *statement => *p = parameters,
            Some(entry) => *entry = (statement.into(), parameters),
            None => {
                self.portals
                    .insert(portal.into(), (statement.into(), parameters));
            }
        }
    }

    /// The statement an `Execute` (body) runs, and the values bound to it, when it needs an
    /// audit row of its own: always when parameters are recorded (each execution has its own
    /// values), else when it is not the first execution after its `Parse`.
    fn execute(&mut self, body: &[u8]) -> Option<(PreparedStatement, Option<Parameters>)> {
        let portal = &body[..memchr::memchr(0, body)?];
        let (statement, parameters) = self.portals.get(portal)?;
        if let Some(i) = self.fresh.iter().position(|f| f == statement) {
            self.fresh.swap_remove(i);
            if parameters.is_none() {
                return None;
            }
        }
        let prepared = self.statements.get(statement).cloned()?;
        Some((prepared, parameters.clone()))
    }

    /// A `Close` (body: `S` or `P`, then the name).
    fn close(&mut self, body: &[u8]) {
        let Some((&kind, rest)) = body.split_first() else {
            return;
        };
        let name = rest.split(|b| *b == 0).next().unwrap_or_default();
        match kind {
            b'S' => {
                self.statements.remove(name);
            }
            b'P' => {
                self.portals.remove(name);
            }
            _ => {}
        }
    }
}

/// The statement name of a `Parse` message.
fn statement_name(msg: &[u8]) -> &[u8] {
    let body = &msg[5..];
    &body[..memchr::memchr(0, body).unwrap_or(0)]
}

/// The SQL text of a `Query` (body) or `Parse` (after the statement name) message.
fn sql_text(tag: u8, msg: &[u8]) -> &[u8] {
    let body = &msg[5..];
    let text = if tag == TAG_PARSE {
        memchr::memchr(0, body).map_or(&body[..0], |end| &body[end + 1..])
    } else {
        body
    };
    // Up to the terminating NUL (Parse carries parameter types after it).
    memchr::memchr(0, text).map_or(text, |end| &text[..end])
}

/// Replaces a denied `Parse` with one of the same statement name whose SQL cannot parse, so
/// PostgreSQL answers with an error and discards until `Sync`, exactly as for a failed Parse;
/// dbward's error replaces the upstream's in that cycle.
fn deny_parse(out: &mut BytesMut, cycles: &Mutex<Cycles>, msg: &[u8], code: &str, message: &str) {
    let mut ours = BytesMut::new();
    codec::error_response(&mut ours, Severity::Error, code, message);
    {
        let mut c = cycles.lock().expect("cycles lock poisoned");
        let cycle = c.sent;
        c.substitutions.push_back((cycle, ours));
    }
    let body = &msg[5..];
    let name_end = body.iter().position(|b| *b == 0).unwrap_or(0);
    let name = String::from_utf8_lossy(&body[..name_end]).into_owned();
    codec::put_message(out, TAG_PARSE, |b| {
        codec::put_cstr(b, &name);
        codec::put_cstr(b, "dbward denied this statement");
        b.extend_from_slice(&0i16.to_be_bytes());
    });
}

/// The upstream's half of the session: relays its responses, meters result bytes, and
/// records each statement's outcome.
#[allow(clippy::manual_async_fn)]
fn upstream_to_client(
    mut upstream: ReadHalf,
    mut client: WriteHalf,
    config: RelayConfig,
    cycles: Arc<Mutex<Cycles>>,
    fatal: Arc<FatalRequest>,
    bytes: Arc<tokio::sync::Mutex<Allowance>>,
) -> impl std::future::Future<Output = SessionEnd> + Send + 'static {
    async move {
        let mut bytes = bytes.lock_owned().await;
        // The request cycle whose result is being cut off by the byte quota, and whether the
        // client was told yet.
        let mut over_quota: Option<(u64, bool)> = None;
        let mut buf = BytesMut::new();
        let mut out = BytesMut::new();
        let mut chunk = Chunk::default();
        let mut framer = Framer::default();
        // Transaction status from the last ReadyForQuery: I (idle), T (in a transaction), E (failed).
        let mut txn_status = b'I';
        let mut result = CycleResult::default();
        // The shorter non-zero timeout: the earliest a session can become due (an hour if off).
        let recheck = [
            config.idle_session_timeout,
            config.idle_in_transaction_timeout,
        ]
        .into_iter()
        .filter(|t| !t.is_zero())
        .min()
        .unwrap_or(std::time::Duration::from_hours(1));
        let mut idle_timer = Box::pin(tokio::time::sleep(recheck));
        // Made once: a new wait per turn of the loop would register with the token and leave it
        // again each time.
        let mut killed = std::pin::pin!(config.kill.wait());
        loop {
            loop {
                let (tag, total) =
                    match framer.next(&mut buf, &mut out, UPSTREAM_INSPECTED, UPSTREAM_METERED) {
                        Ok(Some(Frame::Inspect(tag, total))) => (tag, total),
                        Ok(Some(Frame::Meter(total))) => {
                            let size = i64::try_from(total).unwrap_or(i64::MAX);
                            result.rows += 1;
                            result.bytes += size;
                            if bytes.try_take(size) {
                                framer.pass(&mut buf, &mut out, total);
                                continue;
                            }
                            // Out of local allowance: send what is ready, then ask the store.
                            if !out.is_empty() {
                                if let Err(e) = client.send(&out).await {
                                    return SessionEnd::Error(format!("client write: {e}"));
                                }
                                out.clear();
                            }
                            // Boxed, like the other rare waits of this loop: the task's state is
                            // held by every idle session, and would be as large as its largest wait.
                            match Box::pin(bytes.take(size)).await {
                                Ok(()) => framer.pass(&mut buf, &mut out, total),
                                Err(e) => {
                                    let message = match e {
                                        QuotaError::Exhausted(m) => m,
                                        QuotaError::Store(e) => {
                                            tracing::error!(error = %e, "quota check failed");
                                            "dbward cannot check this grant's byte quota right now"
                                                .into()
                                        }
                                    };
                                    Box::pin(cut_off(&cycles, &config, &message)).await;
                                    over_quota = Some((
                                        cycles.lock().expect("cycles lock poisoned").completed,
                                        false,
                                    ));
                                    framer.discard = true;
                                    framer.pass(&mut buf, &mut out, total);
                                }
                            }
                            continue;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            return end_session(&cycles, &mut client, &mut out, "08P01", e).await;
                        }
                    };
                if total - 5 > config.max_message_bytes {
                    return end_session(
                        &cycles,
                        &mut client,
                        &mut out,
                        "08P01",
                        "oversized message from the upstream".into(),
                    )
                    .await;
                }
                if buf.len() < total {
                    buf.reserve(total - buf.len());
                    break;
                }
                let msg = &buf[..total];
                match tag {
                    TAG_READY_FOR_QUERY => {
                        if let Some((_, told)) = over_quota.take() {
                            framer.discard = false;
                            if !told {
                                // The statement finished before the cancel reached it: there is no
                                // error to report in its place, so the session cannot go on
                                // truthfully. End it.
                                let message = cycles
                                    .lock()
                                    .expect("cycles lock poisoned")
                                    .bytes_exhausted
                                    .clone()
                                    .unwrap_or_default();
                                return end_session(
                                    &cycles,
                                    &mut client,
                                    &mut out,
                                    "53400",
                                    message,
                                )
                                .await;
                            }
                        }
                        let done = {
                            let mut c = cycles.lock().expect("cycles lock poisoned");
                            // Substitutions left for this cycle (a second denial before Sync: the
                            // upstream reports only the first error) are void now.
                            let done = c.completed;
                            while c
                                .substitutions
                                .front()
                                .is_some_and(|(cycle, _)| *cycle <= done)
                            {
                                c.substitutions.pop_front();
                            }
                            c.completed += 1;
                            done
                        };
                        // The audited statements this cycle completes, one at a time (no list).
                        let r = std::mem::take(&mut result);
                        while let Some((_, token, admitted)) = {
                            let mut c = cycles.lock().expect("cycles lock poisoned");
                            match c.audited.front() {
                                Some((cycle, _, _)) if *cycle <= done => c.audited.pop_front(),
                                _ => None,
                            }
                        } {
                            let outcome = dbward_core::audit::StatementOutcome {
                                duration_us: i64::try_from(admitted.elapsed().as_micros())
                                    .unwrap_or(i64::MAX),
                                rows: r.rows,
                                affected: r.affected,
                                bytes: r.bytes,
                                error: r.error.clone(),
                            };
                            config.gate.completed(token, outcome).await;
                        }
                        txn_status = msg[5];
                        out.extend_from_slice(msg);
                    }
                    TAG_ERROR_RESPONSE if over_quota.is_some_and(|(_, told)| !told) => {
                        // The cancelled statement's error: the client gets the quota's instead.
                        let message = cycles
                            .lock()
                            .expect("cycles lock poisoned")
                            .bytes_exhausted
                            .clone()
                            .unwrap_or_default();
                        codec::error_response(&mut out, Severity::Error, "53400", &message);
                        over_quota = over_quota.map(|(cycle, _)| (cycle, true));
                    }
                    _ if over_quota.is_some() && tag != TAG_PARAMETER_STATUS => {
                        // Anything else of the cut-off result (later errors of the same cycle...).
                    }
                    TAG_ERROR_RESPONSE => {
                        let substitute = {
                            let mut c = cycles.lock().expect("cycles lock poisoned");
                            let current = c.completed;
                            match c.substitutions.front() {
                                Some((cycle, _)) if *cycle == current => {
                                    c.substitutions.pop_front().map(|(_, e)| e)
                                }
                                _ => None,
                            }
                        };
                        let sent = substitute.as_deref().unwrap_or(msg);
                        if result.error.is_none() {
                            result.error = codec::error_code(&sent[5..]).map(str::to_owned);
                        }
                        out.extend_from_slice(sent);
                    }
                    TAG_COMMAND_COMPLETE => {
                        if let Some((false, n)) = codec::command_rows(&msg[5..]) {
                            *result.affected.get_or_insert(0) += n;
                        }
                        out.extend_from_slice(msg);
                    }
                    _ => {
                        if let Some(reason) = parameter_violation(&msg[5..], config.level) {
                            return end_session(&cycles, &mut client, &mut out, "08006", reason)
                                .await;
                        }
                        out.extend_from_slice(msg);
                    }
                }
                buf.advance(total);
            }
            if !out.is_empty() {
                if let Err(e) = client.send(&out).await {
                    return SessionEnd::Error(format!("client write: {e}"));
                }
                trim(&mut out, &chunk);
            }
            // Biased, in this order: a session dbward ends must end even while the upstream
            // streams without pause (the read would always be ready), and the common case, a
            // read, comes before the idle timer (no random start to draw per wake-up).
            tokio::select! {
                biased;
                reason = &mut killed => {
                    // Cancel the running upstream query first, then tell the client and close.
                    let busy = {
                        let mut c = cycles.lock().expect("cycles lock poisoned");
                        c.ended = true;
                        let busy = c.sent > c.completed;
                        c.cancelled = busy;
                        busy
                    };
                    if busy {
                        Box::pin(super::cancel::send_cancel(&config.cancel)).await;
                    }
                    return Box::pin(end_mid_stream(&mut framer, &mut upstream, &mut buf, &cycles, &mut client, &mut out, "57P01", reason)).await;
                }
                () = std::future::poll_fn(|cx| fatal.poll_asked(cx)) => {
                    if let Some((code, message)) = fatal.take() {
                        let reason = EndReason::new(cause_of(code), message);
                        return Box::pin(end_mid_stream(&mut framer, &mut upstream, &mut buf, &cycles, &mut client, &mut out, code, reason)).await;
                    }
                }
                r = chunk.fill(&mut upstream, &mut buf, &mut out) => match r {
                    Ok(0) => return SessionEnd::UpstreamClosed,
                    Ok(_) => {}
                    Err(e) => return SessionEnd::Error(format!("upstream read: {e}")),
                },
                () = &mut idle_timer => {
                    // The timer is only a wake-up: re-arming a timer for every message would cost
                    // a timer-wheel update per message, so it fires at the earliest possible
                    // deadline and is pushed back here while the client keeps talking.
                    let now = tokio::time::Instant::now();
                    match idle_deadline(&cycles, &config, txn_status) {
                        Some(d) if d <= now => {
                            let (code, why) = if txn_status == b'I' {
                                ("57P05", "terminating connection due to idle-session timeout")
                            } else {
                                ("25P03", "terminating connection due to idle-in-transaction timeout")
                            };
                            let reason = EndReason::new(cause_of(code), why);
                            return Box::pin(end_mid_stream(&mut framer, &mut upstream, &mut buf, &cycles, &mut client, &mut out, code, reason)).await;
                        }
                        Some(d) => idle_timer.as_mut().reset(d),
                        None => idle_timer.as_mut().reset(now + recheck),
                    }
                }
            }
        }
    }
}

/// Stops a result at the byte quota: new statements are refused from now on, and the running
/// upstream statement is cancelled (its error then ends the result for the client).
async fn cut_off(cycles: &Mutex<Cycles>, config: &RelayConfig, message: &str) {
    let busy = {
        let mut c = cycles.lock().expect("cycles lock poisoned");
        c.bytes_exhausted = Some(message.to_owned());
        c.sent > c.completed
    };
    config.gate.audit_quota("(result cut off)", message);
    if busy {
        super::cancel::send_cancel(&config.cancel).await;
    }
}

/// When the session times out if nothing happens, given the transaction status; `None` while a
/// request is running upstream or when the applicable timeout is off.
fn idle_deadline(
    cycles: &Mutex<Cycles>,
    config: &RelayConfig,
    txn_status: u8,
) -> Option<tokio::time::Instant> {
    let c = cycles.lock().expect("cycles lock poisoned");
    if c.sent > c.completed {
        return None;
    }
    let timeout = if txn_status == b'I' {
        config.idle_session_timeout
    } else {
        config.idle_in_transaction_timeout
    };
    (!timeout.is_zero()).then(|| c.last_client_activity + timeout)
}

/// How long a session that dbward ends waits for the rest of a message it was passing on.
const FINISH_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Ends the session from the upstream side's wait (a kill, a FATAL asked for, an idle
/// timeout), which may fall in the middle of a message being passed on (a long result
/// streams). Its rest is passed on first, so that the client reads the FATAL as a message of
/// its own; the upstream, cancelled already when it was busy, sends whole messages. If the
/// rest does not come within [`FINISH_WAIT`], the connection just closes: a FATAL inside a
/// message would be read as its data.
#[allow(clippy::too_many_arguments)]
async fn end_mid_stream(
    framer: &mut Framer,
    upstream: &mut ReadHalf,
    buf: &mut BytesMut,
    cycles: &Mutex<Cycles>,
    client: &mut WriteHalf,
    out: &mut BytesMut,
    code: &'static str,
    reason: EndReason,
) -> SessionEnd {
    if framer.passthrough > 0 && !framer.discard {
        let rest = tokio::time::timeout(FINISH_WAIT, async {
            while framer.passthrough > 0 {
                if buf.is_empty() {
                    buf.reserve(MIN_CHUNK);
                    if upstream.read_buf(buf).await? == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                }
                let n = framer.passthrough.min(buf.len());
                out.extend_from_slice(&buf[..n]);
                buf.advance(n);
                framer.passthrough -= n;
                if out.len() >= MAX_CHUNK {
                    client.send(out).await?;
                    out.clear();
                }
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
        if !matches!(rest, Ok(Ok(()))) {
            cycles.lock().expect("cycles lock poisoned").ended = true;
            let _ = client.shutdown().await;
            return SessionEnd::Ended(reason);
        }
    }
    end_session_for(cycles, client, out, code, reason).await
}

/// Sends what is pending plus a FATAL error to the client and closes its side.
async fn end_session(
    cycles: &Mutex<Cycles>,
    client: &mut WriteHalf,
    out: &mut BytesMut,
    code: &'static str,
    message: String,
) -> SessionEnd {
    end_session_for(
        cycles,
        client,
        out,
        code,
        EndReason::new(cause_of(code), message),
    )
    .await
}

/// [`end_session`] with its cause given.
async fn end_session_for(
    cycles: &Mutex<Cycles>,
    client: &mut WriteHalf,
    out: &mut BytesMut,
    code: &'static str,
    reason: EndReason,
) -> SessionEnd {
    cycles.lock().expect("cycles lock poisoned").ended = true;
    codec::error_response(out, Severity::Fatal, code, &reason.message);
    let _ = client.send(out).await;
    let _ = client.shutdown().await;
    SessionEnd::Ended(reason)
}

/// What the trail's session-end row names as the cause of a FATAL with `code` that dbward
/// sends on its own.
fn cause_of(code: &str) -> &'static str {
    match code {
        "57P05" => "idle_timeout",
        "25P03" => "idle_in_transaction_timeout",
        "53400" => "quota",
        "08006" => "setting_changed",
        "08P01" => "protocol_error",
        _ => "error",
    }
}

/// Settings the session must keep, as the upstream reports them in `ParameterStatus`: the
/// classifier splits statements the way the server does only with UTF8 (or `SQL_ASCII`) and
/// `standard_conforming_strings=on`, and a `read` session must stay read-only.
pub(crate) fn parameter_violation(body: &[u8], level: AccessLevel) -> Option<String> {
    let mut b = BytesMut::from(body);
    let name = codec::get_cstr(&mut b).ok()?;
    let value = codec::get_cstr(&mut b).ok()?;
    let bad = match name.as_str() {
        // PostgreSQL reports the name as the client spelled it: UTF8, utf-8, UNICODE...
        "client_encoding" => dbward_core::policy::client_encoding(&value).is_none(),
        "standard_conforming_strings" => value != "on",
        "default_transaction_read_only" => level == AccessLevel::Read && value != "on",
        _ => false,
    };
    bad.then(|| format!("the session changed {name} to {value}, which dbward does not allow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(header(b"Q\0\0\0"), Ok(None));
        assert_eq!(header(b"Q\0\0\0\x05x"), Ok(Some((b'Q', 6))));
        assert!(header(b"Q\0\0\0\x03").is_err());
        assert!(header(b"Q\xff\xff\xff\xff").is_err());
    }

    #[tokio::test]
    async fn waiting_with_small_traffic_holds_no_buffers_and_loses_nothing() {
        let (mut peer, mut ours) = tokio::io::duplex(1 << 20);
        let mut chunk = Chunk::default();
        let (mut buf, mut out) = (BytesMut::new(), BytesMut::with_capacity(4096));
        // A small message: read whole through the task's own bytes, the emptied output
        // buffer released while waiting.
        peer.write_all(b"Q\0\0\0\x0dSELECT 1\0")
            .await
            .expect("write");
        assert_eq!(
            chunk
                .fill(&mut ours, &mut buf, &mut out)
                .await
                .expect("read"),
            14
        );
        assert_eq!(&buf[..], b"Q\0\0\0\x0dSELECT 1\0");
        buf.clear();
        out.clear();
        // Waiting holds neither buffer (and giving up the wait loses nothing: cancel safe).
        let wait = std::time::Duration::from_millis(20);
        assert!(
            tokio::time::timeout(wait, chunk.fill(&mut ours, &mut buf, &mut out))
                .await
                .is_err()
        );
        assert_eq!((buf.capacity(), out.capacity()), (0, 0));
        let waiting = tokio::spawn(async move {
            let n = chunk
                .fill(&mut ours, &mut buf, &mut out)
                .await
                .expect("read");
            (chunk, ours, buf, n)
        });
        tokio::task::yield_now().await;
        // More than IDLE_READ: the rest comes with the next reads, nothing lost or reordered,
        // and a stream of full reads leaves the small-traffic path (bulk reads stay large).
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        peer.write_all(&big).await.expect("write");
        let (mut chunk, mut ours, mut buf, n) = waiting.await.expect("task");
        assert_eq!(n, IDLE_READ);
        let mut spare = BytesMut::new();
        while buf.len() < big.len() {
            chunk
                .fill(&mut ours, &mut buf, &mut spare)
                .await
                .expect("read");
        }
        assert_eq!(&buf[..], &big[..]);
        assert!(chunk.0.size > MIN_CHUNK, "reads grew with the traffic");
    }

    #[test]
    fn parameter_watch() {
        let msg = |n: &str, v: &str| {
            let mut b = BytesMut::new();
            codec::put_cstr(&mut b, n);
            codec::put_cstr(&mut b, v);
            b
        };
        assert!(parameter_violation(&msg("client_encoding", "SJIS"), AccessLevel::Admin).is_some());
        assert!(
            parameter_violation(&msg("client_encoding", "LATIN1"), AccessLevel::Admin).is_some()
        );
        for utf8 in ["UTF8", "utf-8", "UNICODE", "SQL_ASCII"] {
            assert!(
                parameter_violation(&msg("client_encoding", utf8), AccessLevel::Read).is_none()
            );
        }
        assert!(
            parameter_violation(
                &msg("standard_conforming_strings", "off"),
                AccessLevel::Admin
            )
            .is_some()
        );
        assert!(
            parameter_violation(
                &msg("default_transaction_read_only", "off"),
                AccessLevel::Read
            )
            .is_some()
        );
        assert!(
            parameter_violation(
                &msg("default_transaction_read_only", "off"),
                AccessLevel::Write
            )
            .is_none()
        );
        assert!(parameter_violation(&msg("TimeZone", "UTC"), AccessLevel::Read).is_none());
    }
}
