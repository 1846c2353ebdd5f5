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
    Server(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// TLS opened to an upstream.
    Client(Box<tokio_rustls::client::TlsStream<TcpStream>>),
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
