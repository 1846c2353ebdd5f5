//! dbward's own login to the upstream MySQL/MariaDB server with the stored credentials.
//!
//! TCP, the server's greeting, TLS per the database's mode (`disable`, `prefer`, `require`,
//! `verify-ca`, `verify-full`, with the same rustls configuration as the PostgreSQL side), then
//! the server's authentication plugin: `mysql_native_password` (MariaDB's default), MariaDB's
//! `client_ed25519` (`IDENTIFIED VIA ed25519`),
//! `caching_sha2_password` (MySQL 8's: fast path, else full authentication: over TLS the
//! password as it is; without TLS, loopback included, RSA-encrypted with the server's public
//! key, the only form a MySQL server then takes: the database's pinned key when it has one, else
//! the key the server sends when asked),
//! `mysql_clear_password` (only over verified TLS or to a loopback server). The session then
//! starts in the database's configured schema, with the client's capabilities (so result
//! packets, relayed raw, have the format the client expects), and is set up for the grant:
//! read-only mode for `read`, the statement timeout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::{CapabilityFlags, MariadbCapabilities};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, HandshakePacket, HandshakeResponse, SslRequest};
use mysql_common::proto::{MyDeserialize as _, MySerialize as _};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::packet::{PacketError, PacketReader, write_packet};
use crate::stream::{MaybeTls, ReadAhead};
use dbward_core::crypto::Secret;
use dbward_core::model::{AccessLevel, Database, TlsMode};

/// Why the upstream login failed. Messages name no upstream detail beyond the error text.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TCP connect failed or timed out.
    #[error("cannot reach the upstream server: {0}")]
    Connect(String),
    /// TLS failed or was declined while required.
    #[error("upstream TLS failed: {0}")]
    Tls(String),
    /// The upstream refused the login or a set-up statement.
    #[error("the upstream server refused dbward's login ({0})")]
    Refused(String),
    /// The upstream asked for something dbward will not or cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// The protocol broke.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
}

impl From<PacketError> for UpstreamError {
    fn from(e: PacketError) -> Self {
        Self::Protocol(e.to_string())
    }
}

/// A logged-in upstream session.
pub struct Upstream {
    /// The connection.
    pub stream: MaybeTls,
    /// Its reader.
    pub reader: PacketReader,
    /// The server's thread id (for `KILL QUERY`).
    pub thread_id: u32,
    /// The server's version string.
    pub version: String,
    /// Capabilities in effect.
    pub capabilities: CapabilityFlags,
    /// MariaDB's bulk execution (`COM_STMT_BULK_EXECUTE`) was negotiated.
    pub bulk: bool,
    /// MariaDB's cached metadata was negotiated: a column count is followed by a byte that
    /// says whether column definitions follow.
    pub cache_metadata: bool,
    /// Status flags after set-up (autocommit...).
    pub status: u16,
    /// Host and port, for `KILL QUERY` connections.
    pub addr: (String, u16),
    /// The account the server logged dbward in as (`CURRENT_USER()`), once read.
    pub account: Option<dbward_core::policy::definer::Account>,
    /// How the session's `sql_mode` has the server read quotes, once read.
    pub quoting: dbward_core::policy::MysqlQuoting,
}

const MAX_LOGIN_PACKET: usize = 1 << 20;

/// Connects and logs in; `client_caps` and `client_mariadb_caps` are the capabilities the
/// client negotiated with dbward (MariaDB's extended ones are asked for where the upstream
/// offers them; [`Upstream::bulk`] says whether bulk execution was).
#[allow(clippy::too_many_arguments)]
pub async fn connect(
    db: &Database,
    user: &str,
    password: Option<&Secret<String>>,
    client_caps: CapabilityFlags,
    client_mariadb_caps: MariadbCapabilities,
    collation: u8,
    attributes: HashMap<String, String, std::hash::RandomState>,
    opts: &crate::listener::ConnectOptions,
) -> Result<Upstream, UpstreamError> {
    tokio::time::timeout(
        opts.connect_timeout,
        login(
            db,
            user,
            password,
            (client_caps, client_mariadb_caps),
            collation,
            attributes,
            opts.tcp,
        ),
    )
    .await
    .map_err(|_| UpstreamError::Connect("timed out".into()))?
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn login(
    db: &Database,
    user: &str,
    password: Option<&Secret<String>>,
    (client_caps, client_mariadb_caps): (CapabilityFlags, MariadbCapabilities),
    collation: u8,
    attributes: HashMap<String, String>,
    tcp_options: crate::listener::TcpOptions,
) -> Result<Upstream, UpstreamError> {
    let tcp = TcpStream::connect((db.host.as_str(), db.port))
        .await
        .map_err(|e| UpstreamError::Connect(e.to_string()))?;
    crate::listener::configure(&tcp, tcp_options);
    let mut stream = MaybeTls::Plain(tcp);
    let mut reader = PacketReader::default();
    let (_, _, payload) = reader.read(&mut stream, MAX_LOGIN_PACKET).await?;
    if payload.first() == Some(&0xFF) {
        return Err(UpstreamError::Refused(err_text(&payload)));
    }
    let greeting = HandshakePacket::deserialize((), &mut ParseBuf(&payload))
        .map_err(|e| UpstreamError::Protocol(format!("greeting: {e}")))?
        .into_owned();
    let server_caps = greeting.capabilities();
    // What the relay needs to be identical on both sides.
    for needed in [
        CapabilityFlags::CLIENT_PROTOCOL_41,
        CapabilityFlags::CLIENT_SECURE_CONNECTION,
        CapabilityFlags::CLIENT_PLUGIN_AUTH,
    ] {
        if !server_caps.contains(needed) {
            return Err(UpstreamError::Unsupported(format!(
                "the upstream server lacks {needed:?}"
            )));
        }
    }
    for format in [
        CapabilityFlags::CLIENT_DEPRECATE_EOF,
        CapabilityFlags::CLIENT_SESSION_TRACK,
    ] {
        if client_caps.contains(format) && !server_caps.contains(format) {
            return Err(UpstreamError::Unsupported(format!(
                "the client uses {format:?}, which the upstream server does not support"
            )));
        }
    }
    let mut caps = (client_caps & server_caps)
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB;
    caps.remove(CapabilityFlags::CLIENT_SSL);
    if server_caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        caps |= CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    }
    if server_caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) {
        caps |= CapabilityFlags::CLIENT_CONNECT_ATTRS;
    }
    // MariaDB's extended capabilities: only from a server without CLIENT_MYSQL (a MariaDB one);
    // dbward's answer then lacks CLIENT_MYSQL too (`caps` is within the server's).
    let mariadb_caps = if server_caps.contains(CapabilityFlags::CLIENT_LONG_PASSWORD) {
        MariadbCapabilities::empty()
    } else {
        client_mariadb_caps & greeting.mariadb_ext_capabilities()
    };
    // Cached metadata changes every result set's column count: a client that took it from
    // dbward cannot be served by an upstream without it (bulk execution is refused per command
    // instead).
    let cached = MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA;
    if client_mariadb_caps.contains(cached) && !mariadb_caps.contains(cached) {
        return Err(UpstreamError::Unsupported(
            "the client uses MariaDB's cached metadata, which the upstream server does not offer: dbward's mysql.server_version names a MariaDB of 10.6 or later, so every upstream must be one".into(),
        ));
    }
    let mut seq = 1u8;
    let mut verified_tls = false;
    let tls_wanted = db.tls_mode != TlsMode::Disable;
    if tls_wanted && server_caps.contains(CapabilityFlags::CLIENT_SSL) {
        let request = SslRequest::new(caps | CapabilityFlags::CLIENT_SSL, 16 << 20, collation)
            .with_mariadb_capabilities(mariadb_caps);
        let mut p = Vec::new();
        request.serialize(&mut p);
        seq = write_packet(&mut stream, seq, &p).await?;
        let MaybeTls::Plain(tcp) = stream else {
            unreachable!("plain before TLS")
        };
        let config = crate::pg::upstream::client_tls_config(db)
            .map_err(|e| UpstreamError::Tls(e.to_string()))?;
        let name = ServerName::try_from(db.host.clone())
            .map_err(|_| UpstreamError::Tls("invalid host name".into()))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, ReadAhead::new(tcp))
            .await
            .map_err(|e| UpstreamError::Tls(e.to_string()))?;
        stream = MaybeTls::Client(Box::new(tls));
        caps |= CapabilityFlags::CLIENT_SSL;
        verified_tls = matches!(db.tls_mode, TlsMode::VerifyCa | TlsMode::VerifyFull);
    } else if tls_wanted && db.tls_mode != TlsMode::Prefer {
        return Err(UpstreamError::Tls("the server does not offer TLS".into()));
    }
    let nonce = greeting.nonce();
    let plugin = greeting
        .auth_plugin_name_ref()
        .map_or_else(|| b"mysql_native_password".to_vec(), <[u8]>::to_vec);
    let secret = password
        .map(|p| p.expose().as_bytes().to_vec())
        .unwrap_or_default();
    let data = scramble_for(&plugin, &nonce, &secret)?;
    let mut attrs = attributes;
    attrs.insert("program_name".into(), "dbward".into());
    let (major, minor, patch) = greeting.server_version_parsed().unwrap_or((5, 7, 0));
    let response = HandshakeResponse::new(
        Some(data),
        (major, minor, patch),
        Some(user.as_bytes()),
        Some(db.database.as_bytes()),
        Some(AuthPlugin::from_bytes(&plugin)),
        caps,
        Some(attrs),
        16 << 20,
    )
    .with_mariadb_ext_capabilities(mariadb_caps);
    let mut p = Vec::new();
    response.serialize(&mut p);
    write_packet(&mut stream, seq, &p).await?;
    // As on the PostgreSQL side: a cleartext password goes only to a loopback server or over a
    // verified TLS channel (an unverified one could be a man in the middle).
    let may_send_cleartext = verified_tls || is_loopback(&db.host);
    let mut current_plugin = plugin;
    let mut current_nonce = nonce;
    let status = loop {
        let (s, _, payload) = reader.read(&mut stream, MAX_LOGIN_PACKET).await?;
        seq = s.wrapping_add(1);
        match payload.first() {
            Some(0x00) => break super::packet::ok_status(&payload).unwrap_or(0),
            Some(0xFF) => return Err(UpstreamError::Refused(err_text(&payload))),
            Some(0xFE) => {
                // AuthSwitchRequest: plugin name, NUL, new nonce.
                let body = &payload[1..];
                let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
                current_plugin = body[..end].to_vec();
                current_nonce = body.get(end + 1..).unwrap_or_default().to_vec();
                // The scramble plugins' 20 bytes come with a NUL; ed25519's 32 random bytes
                // come as they are (and may end in a zero byte).
                if current_plugin != b"client_ed25519" && current_nonce.last() == Some(&0) {
                    current_nonce.pop();
                }
                if current_plugin == b"mysql_clear_password" {
                    if !may_send_cleartext {
                        return Err(UpstreamError::Unsupported(
                            "the upstream asked for a cleartext password over an unverified connection".into(),
                        ));
                    }
                    let mut p = secret.clone();
                    p.push(0);
                    write_packet(&mut stream, seq, &p).await?;
                } else {
                    let data = scramble_for(&current_plugin, &current_nonce, &secret)?;
                    write_packet(&mut stream, seq, &data).await?;
                }
            }
            Some(0x01) if current_plugin == b"caching_sha2_password" => match payload.get(1) {
                Some(0x03) => {} // fast authentication succeeded; OK follows
                Some(0x04) if stream.is_tls() => {
                    // Full authentication over TLS: the server takes only the password as it
                    // is, whatever the TLS mode, as MySQL's clients send it. Refusing it over
                    // unverified TLS (`require`) would protect nothing that `disable` (the RSA
                    // exchange, whose key a machine in the middle can substitute just as well)
                    // does not give away, and would fail each time the server's cache is cold
                    // (after a restart): verify-ca/verify-full protect against both.
                    let mut p = secret.clone();
                    p.push(0);
                    write_packet(&mut stream, seq, &p).await?;
                }
                Some(0x04) => {
                    // Without TLS the server takes only the RSA-encrypted password, whatever
                    // the host (MySQL counts loopback TCP as insecure too): with the pinned
                    // key at once, else with the key the server sends when asked.
                    let fetched;
                    let (key, seq) = if let Some(pem) = &db.mysql_server_public_key {
                        (pem.as_bytes(), seq)
                    } else {
                        write_packet(&mut stream, seq, &[0x02]).await?;
                        let (s, _, answer) = reader.read(&mut stream, MAX_LOGIN_PACKET).await?;
                        fetched = answer;
                        match fetched.split_first() {
                            Some((0x01, pem)) => (pem, s.wrapping_add(1)),
                            Some((0xFF, _)) => {
                                return Err(UpstreamError::Refused(err_text(&fetched)));
                            }
                            _ => {
                                return Err(UpstreamError::Protocol(
                                    "the upstream sent no RSA public key".into(),
                                ));
                            }
                        }
                    };
                    let mut p = secret.clone();
                    p.push(0);
                    for (i, b) in p.iter_mut().enumerate() {
                        *b ^= current_nonce[i % current_nonce.len().max(1)];
                    }
                    let encrypted = mysql_common::crypto::encrypt(&p, key)
                        .map_err(|e| UpstreamError::Protocol(format!("RSA: {e}")))?;
                    write_packet(&mut stream, seq, &encrypted).await?;
                }
                _ => return Err(UpstreamError::Protocol("unexpected auth data".into())),
            },
            _ => {
                return Err(UpstreamError::Protocol(
                    "unexpected packet during login".into(),
                ));
            }
        }
    };
    Ok(Upstream {
        stream,
        reader,
        thread_id: greeting.connection_id(),
        version: greeting.server_version_str().into_owned(),
        capabilities: caps,
        bulk: mariadb_caps.contains(MariadbCapabilities::MARIADB_CLIENT_STMT_BULK_OPERATIONS),
        cache_metadata: mariadb_caps.contains(MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA),
        status,
        addr: (db.host.clone(), db.port),
        account: None,
        quoting: dbward_core::policy::MysqlQuoting::default(),
    })
}

fn scramble_for(plugin: &[u8], nonce: &[u8], password: &[u8]) -> Result<Vec<u8>, UpstreamError> {
    if password.is_empty() {
        return Ok(Vec::new());
    }
    match plugin {
        b"mysql_native_password" => Ok(scramble_native(nonce, password)
            .map(|s| s.to_vec())
            .unwrap_or_default()),
        b"caching_sha2_password" => {
            let nonce: &[u8; 20] = nonce
                .get(..20)
                .and_then(|n| n.try_into().ok())
                .ok_or_else(|| UpstreamError::Protocol("short nonce".into()))?;
            Ok(scramble_sha256(nonce, password)
                .map(|s| s.to_vec())
                .unwrap_or_default())
        }
        b"client_ed25519" => ed25519_signature(nonce, password),
        other => Err(UpstreamError::Unsupported(format!(
            "the upstream asks for authentication plugin {}, which dbward does not speak",
            String::from_utf8_lossy(other)
        ))),
    }
}

/// MariaDB's `client_ed25519`: the 32-byte nonce signed with the Ed25519 key derived from
/// SHA-512(password), by `mysql_common`'s implementation.
fn ed25519_signature(nonce: &[u8], password: &[u8]) -> Result<Vec<u8>, UpstreamError> {
    use mysql_common::auth::plugins::{
        ChallengeResponsePlugin as _, Context, client_ed25519::ClientEd25519,
    };
    struct Password<'a>(&'a [u8]);
    impl Context for Password<'_> {
        fn pass(&self) -> &[u8] {
            self.0
        }
        fn is_ipc_transport(&self) -> bool {
            false
        }
        fn is_tls_transport(&self) -> bool {
            false
        }
        fn scramble(&self) -> &[u8] {
            &[]
        }
        fn server_key_pem(&self) -> Option<&[u8]> {
            None
        }
    }
    let response = ClientEd25519::default()
        .run(Password(password), nonce)
        .map_err(|e| UpstreamError::Protocol(format!("client_ed25519: {e}")))?;
    response
        .data()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| UpstreamError::Protocol("client_ed25519 gave no answer".into()))
}

/// The message of an ERR packet payload.
#[must_use]
pub fn err_text(payload: &[u8]) -> String {
    let code = payload
        .get(1..3)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    let message = if payload.get(3) == Some(&b'#') {
        payload.get(9..).unwrap_or_default()
    } else {
        payload.get(3..).unwrap_or_default()
    };
    format!("{code}: {}", String::from_utf8_lossy(message))
}

/// Runs a set-up statement (COM_QUERY) and expects OK; returns the status flags.
pub async fn run_setup(up: &mut Upstream, sql: &str) -> Result<u16, UpstreamError> {
    let mut p = Vec::with_capacity(sql.len() + 1);
    p.push(0x03);
    p.extend_from_slice(sql.as_bytes());
    write_packet(&mut up.stream, 0, &p).await?;
    let (_, _, payload) = up.reader.read(&mut up.stream, MAX_LOGIN_PACKET).await?;
    match payload.first() {
        Some(0x00) => Ok(super::packet::ok_status(&payload).unwrap_or(0)),
        Some(0xFF) => Err(UpstreamError::Refused(err_text(&payload))),
        _ => Err(UpstreamError::Protocol(format!(
            "unexpected answer to set-up statement {sql}"
        ))),
    }
}

/// The statements that put a fresh (or reset) upstream session in the grant's mode.
#[must_use]
pub fn setup_statements(
    level: AccessLevel,
    statement_timeout_ms: Option<i64>,
    mariadb: bool,
    client_collation: u8,
) -> Vec<String> {
    let mut v = Vec::new();
    // dbward logs in as `utf8mb4`; a client whose handshake named another character set whose
    // bytes below 0x80 are always ASCII gets it (`mysql --default-character-set=latin1`).
    if let Some(charset) = safe_charset(client_collation) {
        v.push(format!("SET NAMES {charset}"));
    }
    if level == AccessLevel::Read {
        v.push("SET SESSION TRANSACTION READ ONLY".to_owned());
    }
    if let Some(ms) = statement_timeout_ms.filter(|ms| *ms > 0) {
        if mariadb {
            #[allow(clippy::cast_precision_loss)] // milliseconds far below 2^52
            v.push(format!(
                "SET SESSION max_statement_time = {}",
                ms as f64 / 1000.0
            ));
        } else {
            v.push(format!("SET SESSION max_execution_time = {ms}"));
        }
    }
    v
}

/// The character set of a handshake's collation id when it is one a session may use besides
/// `utf8mb4` (dbward's own): single-byte sets, `utf8` (utf8mb3) and `binary`, whose bytes below
/// 0x80 are always ASCII, so quotes and backslashes fall where dbward's lexer sees them. The
/// multi-byte sets that can hide a backslash (`big5`, `sjis`, `gbk`, `cp932`, `gb18030`) are
/// not among them, nor are those dbward has no need to name (the session stays `utf8mb4`).
fn safe_charset(collation: u8) -> Option<&'static str> {
    Some(match collation {
        3 | 69 => "dec8",
        4 | 80 => "cp850",
        6 | 72 => "hp8",
        7 | 74 => "koi8r",
        5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => "latin1",
        2 | 9 | 21 | 27 | 77 => "latin2",
        10 | 82 => "swe7",
        11 | 65 => "ascii",
        14 | 23 | 50 | 51 | 52 => "cp1251",
        16 | 71 => "hebrew",
        18 | 89 => "tis620",
        22 | 75 => "koi8u",
        25 | 70 => "greek",
        26 | 34 | 44 | 66 | 99 => "cp1250",
        30 | 78 => "latin5",
        32 | 64 => "armscii8",
        33 | 83 | 192..=215 | 223 => "utf8",
        36 | 68 => "cp866",
        37 | 73 => "keybcs2",
        38 | 43 => "macce",
        39 | 53 => "macroman",
        40 | 81 => "cp852",
        20 | 41 | 42 | 79 => "latin7",
        57 | 67 => "cp1256",
        29 | 58 | 59 => "cp1257",
        63 => "binary",
        92 | 93 => "geostd8",
        _ => return None,
    })
}

/// Runs a query returning one row of one column (text protocol) and returns its value.
pub async fn query_value(up: &mut Upstream, sql: &str) -> Result<Option<String>, UpstreamError> {
    let mut p = Vec::with_capacity(sql.len() + 1);
    p.push(0x03);
    p.extend_from_slice(sql.as_bytes());
    write_packet(&mut up.stream, 0, &p).await?;
    let deprecate_eof = up
        .capabilities
        .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
    let (_, _, first) = up.reader.read(&mut up.stream, MAX_LOGIN_PACKET).await?;
    match first.first() {
        Some(0xFF) => return Err(UpstreamError::Refused(err_text(&first))),
        Some(0x00) => return Ok(None),
        _ => {}
    }
    let columns = super::packet::lenenc_int(&first).map_or(0, |(n, _)| n);
    for _ in 0..columns {
        up.reader.read(&mut up.stream, MAX_LOGIN_PACKET).await?;
    }
    if !deprecate_eof {
        up.reader.read(&mut up.stream, MAX_LOGIN_PACKET).await?;
    }
    let mut value = None;
    loop {
        let (_, _, row) = up.reader.read(&mut up.stream, MAX_LOGIN_PACKET).await?;
        match row.first() {
            Some(0xFF) => return Err(UpstreamError::Refused(err_text(&row))),
            Some(0xFE) if row.len() < 9 || deprecate_eof => return Ok(value),
            Some(0xFB) => value = None,
            _ => {
                if value.is_none()
                    && let Some((len, used)) = super::packet::lenenc_int(&row)
                {
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    value = row
                        .get(used..used.saturating_add(len))
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                }
            }
        }
    }
}
