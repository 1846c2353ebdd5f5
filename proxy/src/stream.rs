//! A client or upstream connection: plain TCP or TLS, behind one type.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

/// Writing that ends with a flush, for every write after which dbward waits for the peer.
///
/// A TLS stream (tokio-rustls) accepts plaintext into its session and returns as soon as the
/// socket would block, keeping the encrypted tail in its buffer until the next write or a flush:
/// a response whose last bytes met a full socket would sit there while both sides wait for each
/// other. On plain TCP the flush is free.
pub trait SendExt: AsyncWrite + Unpin + Send {
    /// `write_all` then `flush`.
    fn send<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'a
    where
        Self: Sized,
    {
        async move {
            self.write_all(buf).await?;
            self.flush().await
        }
    }
}

impl<W: AsyncWrite + Unpin + Send> SendExt for W {}

/// A byte stream that may or may not be TLS.
pub enum MaybeTls {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS accepted from a client.
    Server(Box<tokio_rustls::server::TlsStream<ReadAhead<TcpStream>>>),
    /// TLS opened to an upstream.
    Client(Box<tokio_rustls::client::TlsStream<ReadAhead<TcpStream>>>),
}

/// The largest read ahead under TLS.
const AHEAD: usize = 64 * 1024;

/// A transport under TLS, read ahead while data streams in.
///
/// rustls reads at most 4 KiB from its transport per call, a syscall each: a large result from
/// a TLS upstream (or a large upload from a TLS client) took a syscall per 4 KiB. Once a read
/// fills all that rustls asked for (more is likely waiting), the next reads go to a buffer of
/// [`AHEAD`] bytes, taken from the thread's recycled ones ([`crate::buffers`]), which rustls then
/// drains without syscalls; when a read comes back small, reads go straight to rustls again.
/// The buffer goes back whenever it is empty, so a waiting session holds none.
pub struct ReadAhead<T> {
    io: T,
    buf: bytes::BytesMut,
    ahead: bool,
}

impl<T> ReadAhead<T> {
    /// Wraps `io`; reads go straight through until they come back full.
    pub fn new(io: T) -> Self {
        Self {
            io,
            buf: bytes::BytesMut::new(),
            ahead: false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ReadAhead<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            if !this.ahead {
                let (want, before) = (out.remaining(), out.filled().len());
                std::task::ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
                this.ahead = want > 0 && out.filled().len() - before == want;
                return Poll::Ready(Ok(()));
            }
            if this.buf.capacity() == 0 {
                this.buf = crate::buffers::take(AHEAD);
            }
            let read = tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.buf);
            match read {
                Poll::Ready(Ok(n)) if n > 0 => this.ahead = n >= AHEAD / 8,
                other => {
                    // Waiting, at the end, or failed: nothing buffered, nothing held.
                    crate::buffers::give(&mut this.buf, AHEAD);
                    this.ahead = false;
                    return other.map_ok(|_| ());
                }
            }
        }
        let n = this.buf.len().min(out.remaining());
        out.put_slice(&this.buf[..n]);
        bytes::Buf::advance(&mut this.buf, n);
        crate::buffers::give(&mut this.buf, AHEAD);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ReadAhead<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl MaybeTls {
    /// Whether the stream is encrypted.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }

    /// Splits the stream into halves that two tasks can own. Plain TCP splits without a lock
    /// (the kernel socket is shared); TLS shares its session state behind `tokio::io::split`'s
    /// lock. Dropping a plain write half shuts the socket's sending side down.
    #[must_use]
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Self::Plain(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Plain(r), WriteHalf::Plain(w))
            }
            tls => {
                let (r, w) = tokio::io::split(tls);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }
}

/// After an error that ends a session while the client may still be sending (a message over
/// the size ceiling, refused from its header): reads and drops what comes, at most
/// [`LINGER_BYTES`] for at most [`LINGER_TIME`], until the client closes. The client's write
/// then ends, and it reads the error instead of failing on a reset connection.
pub async fn linger<R: AsyncRead + Unpin>(client: &mut R) {
    use tokio::io::AsyncReadExt as _;
    let mut scrap = vec![0u8; 64 * 1024];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while left > 0 {
            match client.read(&mut scrap).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// The most bytes [`linger`] reads.
pub const LINGER_BYTES: usize = 64 << 20;

/// The longest [`linger`] waits.
pub const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// The reading half of a [`MaybeTls`].
pub enum ReadHalf {
    /// Plain TCP.
    Plain(tokio::net::tcp::OwnedReadHalf),
    /// TLS.
    Tls(tokio::io::ReadHalf<MaybeTls>),
}

/// The writing half of a [`MaybeTls`].
pub enum WriteHalf {
    /// Plain TCP.
    Plain(tokio::net::tcp::OwnedWriteHalf),
    /// TLS.
    Tls(tokio::io::WriteHalf<MaybeTls>),
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Server(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Self::Client(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Server(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Self::Client(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Server(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Self::Client(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Server(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Self::Client(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::pki_types::pem::PemObject as _;
    use tokio::io::AsyncReadExt as _;

    use super::SendExt as _;

    /// Counts the reads that reach the transport.
    struct Counted<T> {
        io: T,
        reads: usize,
    }

    impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<T> {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let this = self.get_mut();
            this.reads += 1;
            std::pin::Pin::new(&mut this.io).poll_read(cx, buf)
        }
    }

    /// Read in rustls's 4 KiB requests, a stream of 1 MiB takes a transport read per 64 KiB
    /// once reads come back full (not one per 4 KiB), arrives byte-exact, and a reader left
    /// waiting holds no buffer.
    #[tokio::test]
    async fn read_ahead_takes_large_reads_and_holds_nothing_while_waiting() {
        let (mut a, b) = tokio::io::duplex(2 << 20);
        let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        tokio::io::AsyncWriteExt::write_all(&mut a, &data)
            .await
            .expect("write");
        let mut r = super::ReadAhead::new(Counted { io: b, reads: 0 });
        let mut got = Vec::with_capacity(data.len());
        let mut chunk = [0u8; 4096];
        while got.len() < data.len() {
            let n = r.read(&mut chunk).await.expect("read");
            got.extend_from_slice(&chunk[..n]);
        }
        assert!(got == data, "byte-exact");
        let reads = r.io.reads;
        assert!(
            (16..=20).contains(&reads),
            "{reads} transport reads for 1 MiB (256 requests of 4 KiB)"
        );
        // Nothing more to read: the reader waits, with its buffer given back.
        let waiting = tokio::time::timeout(Duration::from_millis(50), r.read(&mut chunk)).await;
        assert!(waiting.is_err(), "nothing to read yet");
        assert_eq!(r.buf.capacity(), 0, "a waiting reader holds no buffer");
        // Small traffic reads straight through again.
        tokio::io::AsyncWriteExt::write_all(&mut a, b"hello")
            .await
            .expect("write");
        let n = r.read(&mut chunk).await.expect("read");
        assert_eq!(&chunk[..n], b"hello");
        assert!(!r.ahead, "small reads go straight to the transport");
    }

    /// A TLS write whose transport is full returns with the encrypted tail still in the session;
    /// `send` pushes it out, so a peer that waits for the whole message gets it.
    #[tokio::test]
    async fn send_delivers_a_tls_message_whole_through_a_full_transport() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pair = dbward_core::tls::load_or_generate(None, dir.path()).expect("certificate");
        let server =
            tokio_rustls::TlsAcceptor::from(Arc::new(pair.server_config(&[]).expect("config")));
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes()) {
            roots.add(cert.expect("pem")).expect("root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = tokio_rustls::TlsConnector::from(Arc::new(client_config));
        // A 1 KiB transport: almost every write meets it full.
        let (a, b) = tokio::io::duplex(1024);
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let (server, client) = tokio::join!(server.accept(a), client.connect(name, b));
        let (mut server, mut client) = (server.expect("accept"), client.expect("connect"));
        let reader = tokio::spawn(async move {
            let mut got = 0usize;
            let mut buf = vec![0u8; 8192];
            // Reads until nothing more comes for half a second.
            while let Ok(n) =
                tokio::time::timeout(Duration::from_millis(500), client.read(&mut buf)).await
            {
                match n.expect("read") {
                    0 => break,
                    n => got += n,
                }
            }
            got
        });
        let message = vec![7u8; 256 * 1024];
        server.send(&message).await.expect("send");
        // The server now waits for the peer, as a relay waits for the next command.
        assert_eq!(reader.await.expect("reader"), message.len());
        drop(server);
    }
}
