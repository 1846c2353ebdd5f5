//! The accept loop shared by the protocols: accept, cap the number of open connections, set TCP
//! options, spawn one task per connection on a tracker (on a session thread when there are
//! any, see [`crate::session_threads`]), stop accepting when shutdown is requested.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::session_threads::SessionThreads;

/// Settings of a connection to an upstream server (both protocols).
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    /// TCP connect timeout (and for the whole login).
    pub connect_timeout: Duration,
    /// Socket options.
    pub tcp: TcpOptions,
}

/// TCP settings applied to every accepted (and upstream) socket.
#[derive(Debug, Clone, Copy)]
pub struct TcpOptions {
    /// Keepalive idle time; zero leaves keepalive off.
    pub keepalive: Duration,
}

/// Sets `TCP_NODELAY` (small protocol messages must not wait for Nagle) and keepalive (a peer
/// that vanished without a FIN is noticed).
pub fn configure(stream: &TcpStream, opts: TcpOptions) {
    let _ = stream.set_nodelay(true);
    if !opts.keepalive.is_zero() {
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(opts.keepalive)
            .with_interval(opts.keepalive / 4 + Duration::from_secs(1))
            .with_retries(4);
        if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
            tracing::debug!(error = %e, "cannot set TCP keepalive");
        }
    }
}

/// Where the accepted connections run.
#[derive(Clone)]
pub struct Spawn {
    /// Tracks every connection's task (shutdown waits for them).
    pub tracker: TaskTracker,
    /// The session threads; `None`: the accepting runtime.
    pub threads: Option<Arc<SessionThreads>>,
}

/// Accepts connections until `shutdown`, running `handle` for each on `spawn`. At most
/// `max_connections` (0: no cap) run at once; beyond that `handle` gets `None` instead of a
/// permit and must refuse the connection in its protocol.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    shutdown: CancellationToken,
    spawn: Spawn,
    max_connections: usize,
    opts: TcpOptions,
    handle: F,
) where
    F: Fn(TcpStream, SocketAddr, Option<OwnedSemaphorePermit>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(if max_connections == 0 {
        Semaphore::MAX_PERMITS
    } else {
        max_connections
    }));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                // On a dual-stack listener (`[::]`) an IPv4 client arrives as `::ffff:a.b.c.d`:
                // its own address, so that loopback checks, throttling and the trail see it.
                let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                configure(&stream, opts);
                let permit = permits.clone().try_acquire_owned().ok();
                let Some(threads) = &spawn.threads else {
                    spawn.tracker.spawn(handle(stream, peer, permit));
                    continue;
                };
                let place = threads.place();
                let stream = match place.adopt(stream) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, %peer, "cannot move a connection to a session thread");
                        continue;
                    }
                };
                let connection = handle(stream, peer, permit);
                // What each open connection holds at least (its task's state).
                tracing::trace!(
                    bytes = std::mem::size_of_val(&connection),
                    "connection task"
                );
                let runtime = place.handle().clone();
                spawn.tracker.spawn_on(
                    async move {
                        // Counted on its thread until the connection ends.
                        let _place = place;
                        connection.await;
                    },
                    &runtime,
                );
            }
            Err(e) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
