//! Live forwarding of the audit trail (`audit.forward`): every row of this instance's chain, in
//! chain order, to each configured target: standard output as JSON Lines, or a syslog receiver
//! (RFC 5424) over UDP or TCP (octet-counting framing, RFC 6587).
//!
//! The store is the queue. Each target has its own cursor (the last chain position it
//! delivered), reads the rows after it every [`POLL`], and moves it only after a successful
//! send; so a receiver that is down delays its own target, never the proxies or the other
//! targets, and misses nothing the store still holds (TCP reconnects with back-off up to
//! [`MAX_BACKOFF`]). Admin rows, written by the API in their own transactions, are forwarded
//! like the writer's, since both are links of the same chain. Cursors live in
//! `audit-forward.json` in the data directory: a restart resumes where the target stopped, and
//! at shutdown each target makes one last pass after the writer drained. A target without a
//! cursor starts at the chain's current end (history is for `dbward audit export`).
//!
//! Every record carries its chain position and link (`instance_id`, `seq`, `hmac`), so the
//! receiver holds the chain's head outside the store as well: a deleted tail shows there.
//!
//! Delivery is at least once: a page sent just before a crash, whose cursor was not saved yet,
//! is sent again after the restart (deduplicate on `instance_id` + `seq`). UDP is best effort
//! by nature. Over TCP, a connection the receiver closed is noticed before each page (it became
//! readable) and reopened, so a receiver's restart between pages loses nothing; a connection
//! that breaks while a page is in flight can still lose what the kernel had buffered (plain
//! syslog over TCP has no acknowledgements).
//!
//! Syslog messages: PRI from facility 13 (log audit) with severity notice (5) for a success,
//! warning (4) for a failure or denial; TIMESTAMP in UTC with microseconds; APP-NAME `dbward`;
//! PROCID the process id; MSGID the event kind (`statement`, `connection`, `admin`...); the
//! `origin` structured element (RFC 5424 §7.2); MSG the record's JSON (as in the export) after
//! a UTF-8 BOM.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;
use tokio_util::sync::CancellationToken;

use crate::config::ForwardTarget;
use crate::store::Store;
use crate::store::audit::AuditRecord;

/// How often each target looks for new rows.
pub const POLL: Duration = Duration::from_millis(200);
/// Longest pause between attempts to reach a failing receiver.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Rows read and sent per page.
const PAGE: i64 = 500;
/// How long the last pass at shutdown may take.
const LAST_PASS: Duration = Duration::from_secs(5);
/// How long opening a TCP connection to a receiver may take (an unreachable host would
/// otherwise hold the target, and shutdown, for the system's connect timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Syslog facility 13: "log audit".
const FACILITY_LOG_AUDIT: u8 = 13;

/// The targets' cursors, shared by the forwarders of one instance and kept in the data
/// directory.
#[derive(Clone)]
pub struct Cursors {
    path: PathBuf,
    state: Arc<Mutex<CursorFile>>,
}

#[derive(Default, Serialize, Deserialize)]
struct CursorFile {
    /// The chain the positions belong to (a different one, after the store was replaced,
    /// voids them).
    instance_id: String,
    /// Target (as configured) -> last chain position delivered.
    delivered: BTreeMap<String, i64>,
}

impl Cursors {
    /// Reads `audit-forward.json` in `data_dir` (a missing or unreadable file, or one of
    /// another chain, means no cursors).
    #[must_use]
    pub fn load(data_dir: &Path, instance_id: &str) -> Self {
        let path = data_dir.join("audit-forward.json");
        let state = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<CursorFile>(&b).ok())
            .filter(|f| f.instance_id == instance_id)
            .unwrap_or_else(|| CursorFile {
                instance_id: instance_id.to_owned(),
                delivered: BTreeMap::new(),
            });
        Self {
            path,
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn get(&self, target: &str) -> Option<i64> {
        let state = self.state.lock().expect("cursor lock poisoned");
        state.delivered.get(target).copied()
    }

    /// Records a target's position and writes the file (atomically: write, then rename) when
    /// it moved.
    fn set(&self, target: &str, seq: i64) {
        let bytes = {
            let mut state = self.state.lock().expect("cursor lock poisoned");
            if state.delivered.insert(target.to_owned(), seq) == Some(seq) {
                return;
            }
            serde_json::to_vec(&*state).expect("cursors serialize")
        };
        let tmp = self.path.with_extension("json.tmp");
        if let Err(e) = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &self.path))
        {
            tracing::warn!(error = %e, file = %self.path.display(), "cannot save the audit forwarding cursor");
        }
    }
}

/// Starts one forwarder per target. Targets without a cursor start at the chain's current end,
/// all at the same position.
///
/// # Errors
/// The store's chain is not bound, or its head cannot be read.
pub async fn start(
    store: &Store,
    targets: &[ForwardTarget],
    data_dir: &Path,
    stop: &CancellationToken,
) -> Result<Vec<tokio::task::JoinHandle<()>>, crate::store::StoreError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let Some(instance_id) = store.audit_instance_id().map(str::to_owned) else {
        return Err(crate::store::StoreError::Invalid(
            "audit forwarding needs the audit chain".into(),
        ));
    };
    let cursors = Cursors::load(data_dir, &instance_id);
    let end = store.audit_chain_seq(&instance_id).await?;
    Ok(targets
        .iter()
        .map(|target| {
            let name = target.to_string();
            let cursor = cursors.get(&name).unwrap_or_else(|| {
                cursors.set(&name, end);
                end
            });
            tracing::info!(%target, after = cursor, "forwarding the audit trail");
            tokio::spawn(run(
                store.clone(),
                instance_id.clone(),
                target.clone(),
                (cursors.clone(), cursor),
                stop.clone(),
            ))
        })
        .collect())
}

/// Runs one target's forwarder from `cursor` until `stop`, then makes a last pass.
async fn run(
    store: Store,
    instance_id: String,
    target: ForwardTarget,
    (cursors, mut cursor): (Cursors, i64),
    stop: CancellationToken,
) {
    let name = target.to_string();
    let mut sink = Sink::new(&target);
    let mut backoff = POLL;
    loop {
        match forward_pages(&store, &instance_id, &mut sink, &mut cursor).await {
            Ok(()) => backoff = POLL,
            Err(e) => {
                tracing::warn!(error = %e, target = %name, retry_in = ?backoff, "audit forwarding failed");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        cursors.set(&name, cursor);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => {
                // One last pass for what the writer drained at shutdown.
                let last = forward_pages(&store, &instance_id, &mut sink, &mut cursor);
                if tokio::time::timeout(LAST_PASS, last).await.is_err() {
                    tracing::warn!(target = %name, "audit forwarding's last pass timed out");
                }
                cursors.set(&name, cursor);
                return;
            }
        }
    }
}

/// Sends every row after `cursor`, page by page, moving `cursor` after each page sent.
async fn forward_pages(
    store: &Store,
    instance_id: &str,
    sink: &mut Sink,
    cursor: &mut i64,
) -> std::io::Result<()> {
    loop {
        let rows = store
            .audit_chain_after(instance_id, *cursor, PAGE)
            .await
            .map_err(std::io::Error::other)?;
        let Some(last) = rows.last().and_then(|r| r.seq) else {
            return Ok(());
        };
        sink.send(&rows).await?;
        *cursor = last;
        if rows.len() < usize::try_from(PAGE).unwrap_or(usize::MAX) {
            return Ok(());
        }
    }
}

/// A target's connection.
enum Sink {
    Stdout(tokio::io::Stdout),
    Udp {
        addr: String,
        socket: Option<tokio::net::UdpSocket>,
        host: String,
    },
    Tcp {
        addr: String,
        stream: Option<tokio::io::BufWriter<tokio::net::TcpStream>>,
        host: String,
    },
}

impl Sink {
    fn new(target: &ForwardTarget) -> Self {
        match target {
            ForwardTarget::Stdout => Self::Stdout(tokio::io::stdout()),
            ForwardTarget::SyslogUdp(addr) => Self::Udp {
                addr: addr.clone(),
                socket: None,
                host: hostname(),
            },
            ForwardTarget::SyslogTcp(addr) => Self::Tcp {
                addr: addr.clone(),
                stream: None,
                host: hostname(),
            },
        }
    }

    /// Sends a page; on an error the connection is dropped (the next attempt reconnects) and
    /// the whole page is sent again later.
    async fn send(&mut self, rows: &[AuditRecord]) -> std::io::Result<()> {
        match self {
            Self::Stdout(out) => {
                let mut buf = Vec::new();
                for r in rows {
                    serde_json::to_writer(&mut buf, r).map_err(std::io::Error::other)?;
                    buf.push(b'\n');
                }
                out.write_all(&buf).await?;
                out.flush().await
            }
            Self::Udp { addr, socket, host } => {
                if socket.is_none() {
                    let s = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
                    s.connect(addr.as_str()).await?;
                    *socket = Some(s);
                }
                let s = socket.as_ref().expect("connected");
                for r in rows {
                    let msg = syslog_message(r, host);
                    if let Err(e) = s.send(&msg).await {
                        *socket = None;
                        return Err(e);
                    }
                }
                Ok(())
            }
            Self::Tcp { addr, stream, host } => {
                // A receiver never sends anything: a readable connection was closed by it (a
                // restart, say). Writing into it would "succeed" into the kernel's buffer and
                // lose the page, so reconnect first.
                if stream.as_ref().is_some_and(|s| peer_closed(s.get_ref())) {
                    *stream = None;
                }
                if stream.is_none() {
                    let s = tokio::time::timeout(
                        CONNECT_TIMEOUT,
                        tokio::net::TcpStream::connect(addr.as_str()),
                    )
                    .await
                    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
                    s.set_nodelay(true)?;
                    *stream = Some(tokio::io::BufWriter::new(s));
                }
                let s = stream.as_mut().expect("connected");
                let mut result = Ok(());
                for r in rows {
                    let msg = syslog_message(r, host);
                    // Octet counting (RFC 6587 §3.4.1): the length, a space, the message.
                    result = s.write_all(format!("{} ", msg.len()).as_bytes()).await;
                    if result.is_ok() {
                        result = s.write_all(&msg).await;
                    }
                    if result.is_err() {
                        break;
                    }
                }
                if result.is_ok() {
                    result = s.flush().await;
                }
                if result.is_err() {
                    *stream = None;
                }
                result
            }
        }
    }
}

/// Whether the peer of a connection it never reads from has closed it (or reset it).
fn peer_closed(s: &tokio::net::TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match s.try_read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// This machine's name for the HOSTNAME field (`-` when it cannot be read).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| printable(h.trim(), 255))
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// `s` restricted to what a syslog header field may hold (printable ASCII, no space), at most
/// `max` characters.
fn printable(s: &str, max: usize) -> String {
    s.chars().filter(char::is_ascii_graphic).take(max).collect()
}

/// One RFC 5424 message for `r`.
#[must_use]
pub fn syslog_message(r: &AuditRecord, host: &str) -> Vec<u8> {
    let severity = if r.outcome == "success" { 5 } else { 4 };
    let t = r.at.to_offset(time::UtcOffset::UTC);
    let mut head = String::with_capacity(160);
    let msgid = printable(&r.kind, 32);
    let _ = write!(
        head,
        "<{}>1 {:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z {host} dbward {} {} \
         [origin software=\"dbward\" swVersion=\"{}\"] \u{feff}",
        FACILITY_LOG_AUDIT * 8 + severity,
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
        std::process::id(),
        if msgid.is_empty() { "-" } else { &msgid },
        env!("CARGO_PKG_VERSION"),
    );
    let mut msg = head.into_bytes();
    serde_json::to_writer(&mut msg, r).expect("an audit record serializes");
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, outcome: &str) -> AuditRecord {
        AuditRecord {
            id: 7,
            at: time::macros::datetime!(2026-11-29 04:05:06.000789 +01:00),
            kind: kind.into(),
            actor_user_id: Some(3),
            actor_username: Some("alice".into()),
            client_addr: None,
            action: "statement".into(),
            entity_type: None,
            entity_id: None,
            outcome: outcome.into(),
            session_id: None,
            database: Some("orders".into()),
            grant_id: None,
            statement: Some("SELECT 1".into()),
            details: serde_json::json!({}),
            instance_id: Some("i-1".into()),
            seq: Some(42),
            hmac: Some("ab".into()),
        }
    }

    #[test]
    fn syslog_header_follows_rfc5424() {
        let msg = syslog_message(&record("statement", "success"), "db1");
        let text = String::from_utf8(msg).expect("utf-8");
        let expected = format!(
            "<109>1 2026-11-29T03:05:06.000789Z db1 dbward {} statement \
             [origin software=\"dbward\" swVersion=\"{}\"] \u{feff}{{",
            std::process::id(),
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.starts_with(&expected), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(text.split('\u{feff}').nth(1).expect("msg")).expect("json");
        assert_eq!(json["seq"], 42);
        assert_eq!(json["hmac"], "ab");
        // A failure is a warning; a kind with a space cannot break the header.
        let text = String::from_utf8(syslog_message(&record("odd kind", "failure"), "db1"))
            .expect("utf-8");
        assert!(text.starts_with("<108>1 "), "{text}");
        assert!(text.contains(" oddkind [origin "), "{text}");
    }

    #[test]
    fn cursors_survive_a_restart_of_the_same_chain_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        Cursors::load(dir.path(), "chain-a").set("stdout", 12);
        assert_eq!(Cursors::load(dir.path(), "chain-a").get("stdout"), Some(12));
        assert_eq!(Cursors::load(dir.path(), "chain-b").get("stdout"), None);
    }
}
