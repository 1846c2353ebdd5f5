//! Cancel keys: each session gets dbward's own random `BackendKeyData`, mapped here to the
//! upstream's real one. A `CancelRequest` to dbward with a known key is forwarded to the right
//! upstream; an unknown key does nothing, and the client learns nothing either way (PostgreSQL
//! answers a cancel request by closing the connection, whatever happened).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::BytesMut;

use crate::stream::SendExt as _;
use tokio::net::TcpStream;

/// Where a session's cancel request must go.
#[derive(Debug, Clone)]
pub struct CancelTarget {
    /// Upstream host and port.
    pub addr: (String, u16),
    /// Upstream process id.
    pub pid: i32,
    /// Upstream secret key.
    pub secret: i32,
}

/// Live sessions' cancel keys.
#[derive(Debug, Default)]
pub struct CancelMap {
    keys: Mutex<HashMap<(i32, i32), CancelTarget>>,
}

impl CancelMap {
    /// Registers a session and returns its fresh dbward key.
    pub fn register(&self, target: CancelTarget) -> (i32, i32) {
        let mut keys = self.keys.lock().expect("cancel map lock poisoned");
        loop {
            let raw: [u8; 8] = dbward_core::crypto::random_bytes();
            let pid = i32::from_be_bytes([raw[0] & 0x7f, raw[1], raw[2], raw[3]]).max(1);
            let secret = i32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
            if let std::collections::hash_map::Entry::Vacant(e) = keys.entry((pid, secret)) {
                e.insert(target);
                return (pid, secret);
            }
        }
    }

    /// Forgets a session's key.
    pub fn unregister(&self, key: (i32, i32)) {
        self.keys
            .lock()
            .expect("cancel map lock poisoned")
            .remove(&key);
    }

    /// The target of a key, if it is live.
    pub fn lookup(&self, key: (i32, i32)) -> Option<CancelTarget> {
        self.keys
            .lock()
            .expect("cancel map lock poisoned")
            .get(&key)
            .cloned()
    }
}

/// Sends a `CancelRequest` for `target` to its upstream. Errors are logged, not reported: a
/// cancel is best effort, in PostgreSQL too.
pub async fn send_cancel(target: &CancelTarget) {
    let result = async {
        let mut tcp = TcpStream::connect((target.addr.0.as_str(), target.addr.1)).await?;
        let mut out = BytesMut::new();
        postgres_protocol::message::frontend::cancel_request(target.pid, target.secret, &mut out);
        tcp.send(&out).await?;
        // The server closes the connection when done; wait for that, briefly.
        let mut sink = [0u8; 1];
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut tcp, &mut sink),
        )
        .await;
        std::io::Result::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "cancel request to the upstream failed");
    }
}
