//! The client side of the MySQL handshake: dbward's greeting, the TLS upgrade, the handshake
//! response, and `caching_sha2_password` authentication against dbward's own user store.
//!
//! dbward holds argon2id hashes, not the SHA-256 digests `caching_sha2_password`'s fast path
//! needs, so a user's first login takes the plugin's **full authentication**: the client sends
//! its password over TLS, dbward verifies it with the shared [`Authenticator`] (bounded argon2id
//! workers, credential cache, throttling), exactly as for every other front door. Without TLS
//! the password comes by the plugin's RSA key exchange ([`super::rsa_exchange`]), as to a
//! MySQL server, unless `mysql.rsa_key_exchange` is off (then the client is told to use TLS).
//! Clients that start with another plugin (`mysql_native_password`) are switched to
//! `caching_sha2_password` by an AuthSwitchRequest.
//!
//! As a MySQL server does, dbward then remembers SHA-256(SHA-256(password)) in memory for a
//! while, and the user's next logins take the **fast path**: the scramble in the handshake
//! response (the client's answer to this connection's nonce) proves the password, and dbward
//! answers "fast auth success" ([`fast_auth_success`]) instead of asking for the password. Over
//! plaintext only from loopback: a scramble seen on a network can be attacked offline.
//!
//! [`Authenticator`]: dbward_core::auth::Authenticator

use std::collections::HashMap;

use bytes::BytesMut;
use mysql_common::constants::{CapabilityFlags, MariadbCapabilities, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::{MyDeserialize as _, MySerialize as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::packet::{PacketError, PacketReader, write_packet};
use super::rsa_exchange::RsaLogin;
use crate::stream::{MaybeTls, ReadAhead};
use dbward_core::auth::AuthError;

/// The version dbward announces by default (`mysql.server_version`). Clients pick features by
/// it; 5.7 keeps them on what both MySQL and MariaDB upstreams understand.
pub const SERVER_VERSION: &str = "5.7.99-dbward";

/// Largest handshake packet dbward reads.
const MAX_HANDSHAKE: usize = 64 * 1024;

/// Capabilities dbward offers. Left out on purpose: compression (the relay passes packets
/// raw), `CLIENT_QUERY_ATTRIBUTES` and optional result metadata (they change packet formats
/// MariaDB does not speak), `CLIENT_IGNORE_SPACE` (changes how the server parses).
///
/// `mariadb`: dbward speaks as a MariaDB server (`mysql.server_version` names MariaDB, which
/// says every upstream is one): the greeting leaves out `CLIENT_LONG_PASSWORD` (MariaDB's
/// `CLIENT_MYSQL`, whose absence tells clients to read MariaDB's extended capabilities), and
/// offers [`MARIADB_CAPABILITIES`].
#[must_use]
pub fn offered_capabilities(tls: bool, mariadb: bool) -> CapabilityFlags {
    let mut c = CapabilityFlags::CLIENT_FOUND_ROWS
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_LOCAL_FILES
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_INTERACTIVE
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_MULTI_STATEMENTS
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_CONNECT_ATTRS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_SESSION_TRACK
        | CapabilityFlags::CLIENT_DEPRECATE_EOF;
    if tls {
        c |= CapabilityFlags::CLIENT_SSL;
    }
    if !mariadb {
        c |= CapabilityFlags::CLIENT_LONG_PASSWORD;
    }
    c
}

/// MariaDB's extended capabilities dbward may offer when it speaks as MariaDB (those the
/// announced MariaDB version has: [`super::MyServerConfig::mariadb_capabilities`]):
/// - bulk execution (`COM_STMT_BULK_EXECUTE`: one command runs a prepared statement for many
///   rows of parameters);
/// - cached metadata: a result set's column count is followed by a byte that says whether
///   column definitions follow, and a prepared statement's executions skip them while they
///   are unchanged (the client has them from the prepare).
///
/// Left out: progress reports, extended metadata, and per-row bulk results (they change
/// packets the relay reads, and nothing asks for them).
pub const MARIADB_CAPABILITIES: MariadbCapabilities =
    MariadbCapabilities::MARIADB_CLIENT_STMT_BULK_OPERATIONS
        .union(MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA);

/// What the client said in its handshake response.
#[derive(Debug, Clone)]
pub struct ClientHello {
    /// dbward user name.
    pub user: String,
    /// dbward database name, if given.
    pub database: Option<String>,
    /// Capabilities the client chose (within those offered).
    pub capabilities: CapabilityFlags,
    /// MariaDB extended capabilities the client chose (within [`MARIADB_CAPABILITIES`], when
    /// offered).
    pub mariadb_capabilities: MariadbCapabilities,
    /// Connection collation id.
    pub collation: u8,
    /// Connect attributes (program name...).
    pub attributes: HashMap<String, String>,
}

/// Why the handshake failed; `code`/`message` go to the client in an ERR packet when the
/// connection is still usable.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Framing or I/O.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// Something the client sent makes no sense.
    #[error("{0}")]
    Protocol(String),
    /// TLS failed.
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// Plaintext from a non-loopback client while TLS is required, or a password asked for
    /// over plaintext.
    #[error("{0}")]
    TlsRequired(String),
}

impl HandshakeError {
    /// The MySQL error code and SQL state for the client.
    #[must_use]
    pub fn code(&self) -> (u16, &'static str) {
        match self {
            Self::TlsRequired(_) => (3159, "HY000"),
            Self::Packet(PacketError::TooLarge(..)) => (1153, "08S01"),
            Self::Packet(PacketError::Sequence { .. }) => (1156, "08S01"),
            _ => (1043, "08S01"),
        }
    }
}

/// A started handshake: the stream (TLS or not), what the client said, and the sequence id
/// of the next packet dbward sends.
pub struct Hello {
    /// dbward's connection id for this client (the greeting's).
    pub connection_id: u32,
    /// The client connection.
    pub stream: MaybeTls,
    /// Its reader (it may hold bytes already read).
    pub reader: PacketReader,
    /// The handshake response.
    pub hello: ClientHello,
    /// Next sequence id.
    pub seq: u8,
    /// The greeting's scramble (the nonce of `caching_sha2_password`).
    pub nonce: [u8; 20],
    /// The client's `caching_sha2_password` answer to the nonce (32 bytes; empty without a
    /// password), for the fast path.
    pub scrambled: Vec<u8>,
    /// The client's `mysql_native_password` answer to the nonce, when it began with that
    /// plugin: the switch to `caching_sha2_password` waits ([`switch_to_caching_sha2`]) until
    /// the caller knows whether the user opted in to the native plugin.
    pub native_scrambled: Option<Vec<u8>>,
}

/// Sends the greeting and reads the handshake response (upgrading to TLS if asked).
pub async fn greet(
    mut tcp: TcpStream,
    tls: Option<&TlsAcceptor>,
    config: &super::MyServerConfig,
    connection_id: u32,
    scramble: &[u8; 20],
    require_tls: bool,
) -> Result<Hello, (Option<MaybeTls>, HandshakeError)> {
    let mariadb = config.speaks_mariadb();
    let caps = offered_capabilities(tls.is_some(), mariadb);
    // The second part of the scramble ends with a NUL, as servers send it (length 13).
    let mut scramble_2 = scramble[8..].to_vec();
    scramble_2.push(0);
    let greeting = HandshakePacket::new(
        10,
        config.server_version.as_bytes(),
        connection_id,
        scramble[..8].try_into().expect("8 bytes"),
        Some(scramble_2),
        caps,
        45, // utf8mb4_general_ci
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(if config.announce_native_password {
            AuthPlugin::MysqlNativePassword.as_bytes()
        } else {
            AuthPlugin::CachingSha2Password.as_bytes()
        }),
    )
    .with_mariadb_ext_capabilities(config.mariadb_capabilities());
    let mut payload = Vec::new();
    greeting.serialize(&mut payload);
    if let Err(e) = write_packet(&mut tcp, 0, &payload).await {
        return Err((None, e.into()));
    }
    // The first packet is read exactly (never past it): a client may send its TLS ClientHello
    // right behind an SSLRequest, and those bytes belong to the TLS acceptor.
    let mut reader = PacketReader::default();
    let (seq, first) = match read_exact_packet(&mut tcp)
        .await
        .and_then(|(seq, p)| in_sequence(seq, 1).map(|()| (seq, p)))
    {
        Ok(p) => p,
        Err(e) => return Err((Some(MaybeTls::Plain(tcp)), e)),
    };
    let client_caps = first
        .get(..4)
        .map(|b| CapabilityFlags::from_bits_truncate(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    let wants_tls = client_caps.is_some_and(|c| c.contains(CapabilityFlags::CLIENT_SSL));
    let first = BytesMut::from(&first[..]);
    let (stream, response, seq) = if wants_tls && first.len() == 32 {
        let Some(acceptor) = tls else {
            return Err((
                Some(MaybeTls::Plain(tcp)),
                HandshakeError::Protocol("TLS is not configured".into()),
            ));
        };
        let tls_stream = match acceptor.accept(ReadAhead::new(tcp)).await {
            Ok(s) => s,
            Err(e) => return Err((None, HandshakeError::Tls(e.to_string()))),
        };
        let mut stream = MaybeTls::Server(Box::new(tls_stream));
        let mut reader2 = PacketReader::default();
        let read = reader2.read(&mut stream, MAX_HANDSHAKE).await;
        let (seq, _, payload) = match read
            .map_err(HandshakeError::from)
            .and_then(|(seq, last, p)| in_sequence(seq, 2).map(|()| (seq, last, p)))
        {
            Ok(p) => p,
            Err(e) => return Err((Some(stream), e)),
        };
        reader = reader2;
        (stream, payload, seq)
    } else {
        if require_tls {
            return Err((
                Some(MaybeTls::Plain(tcp)),
                HandshakeError::TlsRequired(
                    "dbward requires TLS for connections from this address (connect with --ssl)"
                        .into(),
                ),
            ));
        }
        (MaybeTls::Plain(tcp), first, seq)
    };
    let parsed = HandshakeResponse::deserialize((), &mut ParseBuf(&response));
    let (hello, scramble_of) = match parsed {
        Ok(r) => {
            let capabilities = r.capabilities() & caps;
            if !capabilities.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
                return Err((
                    Some(stream),
                    HandshakeError::Protocol("protocol 4.1 is required".into()),
                ));
            }
            // Which plugin the client's scramble answers (old clients without plugin
            // support answer mysql_native_password's way).
            let plugin = r.auth_plugin().map(AuthPlugin::as_bytes);
            let scramble = r.scramble_buf().to_vec();
            let scramble_of = if plugin == Some(AuthPlugin::CachingSha2Password.as_bytes()) {
                Answer::CachingSha2(scramble)
            } else if matches!(plugin, None | Some(b"mysql_native_password"))
                && scramble.len() == 20
            {
                Answer::Native(scramble)
            } else {
                Answer::Other
            };
            let hello = ClientHello {
                user: String::from_utf8_lossy(r.user()).into_owned(),
                database: r
                    .db_name()
                    .filter(|d| !d.is_empty())
                    .map(|d| String::from_utf8_lossy(d).into_owned()),
                capabilities,
                // A client reads (and answers) the extended capabilities only from a server
                // without CLIENT_MYSQL, and says it did by leaving CLIENT_MYSQL out itself.
                mariadb_capabilities: if mariadb
                    && !r
                        .capabilities()
                        .contains(CapabilityFlags::CLIENT_LONG_PASSWORD)
                {
                    r.mariadb_ext_capabilities() & config.mariadb_capabilities()
                } else {
                    MariadbCapabilities::empty()
                },
                collation: r.collation(),
                attributes: r.connect_attributes().unwrap_or_default(),
            };
            (hello, scramble_of)
        }
        Err(e) => {
            return Err((
                Some(stream),
                HandshakeError::Protocol(format!("malformed handshake response: {e}")),
            ));
        }
    };
    let mut hello = Hello {
        connection_id,
        stream,
        reader,
        hello,
        seq: seq.wrapping_add(1),
        nonce: *scramble,
        scrambled: Vec::new(),
        native_scrambled: None,
    };
    match scramble_of {
        Answer::CachingSha2(s) => hello.scrambled = s,
        Answer::Native(s) => hello.native_scrambled = Some(s),
        Answer::Other => {
            if let Err(e) = switch_to_caching_sha2(&mut hello).await {
                return Err((Some(hello.stream), e));
            }
        }
    }
    Ok(hello)
}

/// What the scramble in a handshake response answers.
enum Answer {
    CachingSha2(Vec<u8>),
    Native(Vec<u8>),
    Other,
}

/// Switches the client to `caching_sha2_password` with the same nonce (an AuthSwitchRequest)
/// and reads its answer into `h.scrambled`.
pub async fn switch_to_caching_sha2(h: &mut Hello) -> Result<(), HandshakeError> {
    h.native_scrambled = None;
    let mut nonce = h.nonce.to_vec();
    nonce.push(0);
    let switch = AuthSwitchRequest::new(AuthPlugin::CachingSha2Password.as_bytes(), nonce);
    let mut p = Vec::new();
    switch.serialize(&mut p);
    h.seq = write_packet(&mut h.stream, h.seq, &p).await?;
    let answer = read_answer(&mut h.stream, &mut h.reader, &mut h.seq).await?;
    h.scrambled = answer.to_vec();
    Ok(())
}

/// Reads one packet with exact reads (no read-ahead): (sequence id, payload).
async fn read_exact_packet(tcp: &mut TcpStream) -> Result<(u8, Vec<u8>), HandshakeError> {
    use tokio::io::AsyncReadExt as _;
    let mut header = [0u8; 4];
    tcp.read_exact(&mut header).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            HandshakeError::Packet(PacketError::Closed)
        } else {
            HandshakeError::Packet(PacketError::Io(e))
        }
    })?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    if len > MAX_HANDSHAKE {
        return Err(PacketError::TooLarge(len, MAX_HANDSHAKE).into());
    }
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload)
        .await
        .map_err(|e| HandshakeError::Packet(PacketError::Io(e)))?;
    Ok((header[3], payload))
}

/// Tells the client its scramble proved the password (`caching_sha2_password` fast path:
/// `AuthMoreData` 0x03); the OK packet follows. `seq` is updated.
pub async fn fast_auth_success(stream: &mut MaybeTls, seq: &mut u8) -> Result<(), HandshakeError> {
    *seq = write_packet(stream, *seq, &[0x01, 0x03]).await?;
    Ok(())
}

/// Runs `caching_sha2_password` full authentication and returns the password: as it is over
/// TLS; without TLS by the RSA key exchange ([`RsaLogin`], `None` when it is off, and then
/// the client is refused), as a MySQL server does. `Ok(Err(..))`: the password could not be
/// had for a reason the caller reports as a login failure (overloaded workers). `seq` is
/// updated to the next sequence id dbward sends.
pub async fn full_authentication(
    stream: &mut MaybeTls,
    reader: &mut PacketReader,
    seq: &mut u8,
    nonce: &[u8; 20],
    rsa: Option<RsaLogin<'_>>,
) -> Result<Result<String, AuthError>, HandshakeError> {
    let exchange = match (stream.is_tls(), rsa) {
        (true, _) => None,
        (false, Some(login)) => match login.exchange.key(login.auth).await {
            Ok(key) => Some((login, key)),
            Err(e) => return Ok(Err(e)),
        },
        (false, None) => {
            // Refuse before the exchange starts, so the client shows dbward's message.
            return Err(HandshakeError::TlsRequired(
                "dbward accepts passwords only over TLS here (mysql.rsa_key_exchange is off): \
                 connect with TLS (mysql --ssl)"
                    .into(),
            ));
        }
    };
    // AuthMoreData: 0x01, then 0x04 "perform full authentication".
    *seq = write_packet(stream, *seq, &[0x01, 0x04]).await?;
    let payload = read_answer(stream, reader, seq).await?;
    let Some((login, key)) = exchange else {
        let password = payload.strip_suffix(&[0]).unwrap_or(&payload);
        return String::from_utf8(password.to_vec())
            .map(Ok)
            .map_err(|_| HandshakeError::Protocol("the password is not valid UTF-8".into()));
    };
    let ciphertext = if payload[..] == [0x02] {
        // The client asks for the public key: AuthMoreData with the PEM.
        let mut more = Vec::with_capacity(1 + key.public_pem().len());
        more.push(0x01);
        more.extend_from_slice(key.public_pem().as_bytes());
        *seq = write_packet(stream, *seq, &more).await?;
        read_answer(stream, reader, seq).await?
    } else {
        // A client given the key beforehand sends the ciphertext at once. Anything else
        // (a password in the clear, over plain TCP) fails to decrypt, as on a MySQL server.
        payload
    };
    Ok(login.password(key, ciphertext.to_vec(), *nonce).await)
}

/// A client packet's sequence id must follow dbward's last packet's, as a MySQL server
/// requires ("packets out of order", 1156).
fn in_sequence(got: u8, want: u8) -> Result<(), HandshakeError> {
    if got == want {
        Ok(())
    } else {
        Err(PacketError::Sequence { got, want }.into())
    }
}

/// Reads the client's answer to dbward's last handshake packet: its sequence id must be `seq`
/// (the one after dbward's), which then moves past it.
async fn read_answer(
    stream: &mut MaybeTls,
    reader: &mut PacketReader,
    seq: &mut u8,
) -> Result<BytesMut, HandshakeError> {
    let (got, last, payload) = reader.read(stream, MAX_HANDSHAKE).await?;
    in_sequence(got, *seq)?;
    *seq = last.wrapping_add(1);
    Ok(payload)
}

/// Sends an ERR packet with `seq`.
pub async fn send_err(stream: &mut MaybeTls, seq: u8, code: u16, state: &str, message: &str) {
    let payload = super::packet::err_payload(code, state, message);
    let mut out = BytesMut::new();
    super::packet::put_packet(&mut out, seq, &payload);
    let _ = crate::stream::SendExt::send(stream, &out).await;
    let _ = tokio::io::AsyncWriteExt::shutdown(stream).await;
}

#[cfg(test)]
mod tests {
    /// dbward's check of a `mysql_native_password` answer agrees with `mysql_common`'s client
    /// side, an implementation of its own.
    #[test]
    fn native_scrambles_from_mysql_common_verify() {
        use dbward_core::crypto::password::{mysql_native_scramble_proves, mysql_native_stage2};
        use mysql_common::auth::plugins::mysql_native_password::scramble_native;
        let nonce = *b"abcdefghij0123456789";
        let stage2 = mysql_native_stage2("s3cret pässword");
        let answer = scramble_native(&nonce, "s3cret pässword".as_bytes()).expect("scramble");
        assert!(mysql_native_scramble_proves(&stage2, &nonce, &answer));
        let wrong = scramble_native(&nonce, b"other").expect("scramble");
        assert!(!mysql_native_scramble_proves(&stage2, &nonce, &wrong));
        assert!(!mysql_native_scramble_proves(
            &stage2,
            b"another nonce 123456",
            &answer
        ));
        assert!(!mysql_native_scramble_proves(
            &stage2,
            &nonce,
            &answer[..19]
        ));
    }
}
