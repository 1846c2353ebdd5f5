//! The startup phase: TLS negotiation, cancel requests and the StartupMessage.
//!
//! Spec: <https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP>.
//! - `SSLRequest` is answered `S` and the connection upgraded (rustls, dbward's certificate), or
//!   `N` when no certificate is configured; PostgreSQL 17's direct TLS (`sslnegotiation=direct`:
//!   the client opens with a TLS ClientHello) is accepted when it offers ALPN `postgresql`.
//! - `GSSENCRequest` (libpq sends it first when it holds Kerberos credentials) is answered `N`.
//! - `CancelRequest` ends the handshake: the caller forwards it.
//! - The StartupMessage must be protocol 3.x. A newer minor (libpq 18 asks for 3.2) is answered
//!   with `NegotiateProtocolVersion` down to 3.0: dbward issues its own cancel keys anyway, and
//!   the answer must go out before dbward contacts the upstream.
//! - Parameters: `user` (the dbward user) and `database` (the dbward database name) are
//!   required. `replication` is refused (a walsender runs commands no SQL classifier sees), and
//!   `client_encoding` must be UTF8 so that statements are split exactly as the server splits
//!   them. Every other parameter, and each `-c name=value` of `options`, is a server setting,
//!   checked once the grant is known ([`super::startup_settings`]).

use std::sync::Arc;

use bytes::{Buf as _, BufMut as _, BytesMut};

use crate::stream::SendExt as _;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::codec::{
    self, CANCEL_REQUEST_CODE, FrameError, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE,
    read_startup_packet,
};
use super::startup_settings::{self, Setting};
use super::stream::{MaybeTls, ReadAhead};

/// The TLS ALPN protocol name PostgreSQL 17 uses for direct TLS.
pub const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// What the startup phase produced.
pub enum Handshake {
    /// A session wants to start.
    Startup {
        /// The (possibly upgraded) client connection.
        stream: MaybeTls,
        /// The checked parameters.
        params: StartupParams,
    },
    /// A cancel request for the session holding this key.
    Cancel {
        /// The `process_id` dbward gave the session.
        pid: i32,
        /// The secret key.
        secret: i32,
    },
}

/// The parameters of an accepted StartupMessage.
#[derive(Debug, Clone)]
pub struct StartupParams {
    /// dbward user name.
    pub user: String,
    /// dbward database name.
    pub database: String,
    /// The client's `application_name`, if any.
    pub application_name: Option<String>,
    /// The client's encoding: `UTF8`, or `SQL_ASCII` (what libpq's `client_encoding=auto`
    /// picks in the C locale: no conversion, the server's own encoding).
    pub client_encoding: &'static str,
    /// Server settings asked for (those of `options` first), to check against the grant and
    /// pass upstream.
    pub settings: Vec<Setting>,
}

/// Why the handshake failed. Each maps to a FATAL ErrorResponse where the protocol allows one.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// Framing failed (closed, bad length, I/O).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The client broke the protocol.
    #[error("{0}")]
    Protocol(String),
    /// TLS was refused by policy or failed.
    #[error("{0}")]
    Tls(String),
}

impl HandshakeError {
    /// The SQLSTATE to report.
    #[must_use]
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Self::Tls(_) => "28000",
            _ => "08P01",
        }
    }
}

/// Runs the startup phase on a fresh connection.
pub async fn handshake(
    tcp: TcpStream,
    tls: Option<&TlsAcceptor>,
    require_tls: bool,
) -> Result<Handshake, (Option<MaybeTls>, HandshakeError)> {
    let mut peek = [0u8; 1];
    let direct_tls = matches!(tcp.peek(&mut peek).await, Ok(1) if peek[0] == 0x16);
    let mut stream = if direct_tls {
        let Some(acceptor) = tls else {
            return Err((None, HandshakeError::Tls("TLS is not configured".into())));
        };
        let tls_stream = acceptor.accept(ReadAhead::new(tcp)).await.map_err(|e| {
            (
                None,
                HandshakeError::Tls(format!("TLS handshake failed: {e}")),
            )
        })?;
        if tls_stream.get_ref().1.alpn_protocol() != Some(ALPN_POSTGRESQL) {
            let s = MaybeTls::Server(Box::new(tls_stream));
            return Err((
                Some(s),
                HandshakeError::Protocol("direct TLS requires ALPN \"postgresql\"".into()),
            ));
        }
        MaybeTls::Server(Box::new(tls_stream))
    } else {
        MaybeTls::Plain(tcp)
    };
    let mut tried_ssl = direct_tls;
    let mut tried_gss = false;
    loop {
        let body = match read_startup_packet(&mut stream).await {
            Ok(b) => b,
            Err(e) => return Err((Some(stream), e.into())),
        };
        let packet = match parse_packet(body) {
            Ok(p) => p,
            Err(e) => return Err((Some(stream), e)),
        };
        match packet {
            Packet::Ssl if !tried_ssl => {
                tried_ssl = true;
                let MaybeTls::Plain(mut tcp) = stream else {
                    unreachable!("tried_ssl is set once TLS is on");
                };
                let Some(acceptor) = tls else {
                    if let Err(e) = tcp.send(b"N").await {
                        return Err((None, FrameError::Io(e).into()));
                    }
                    stream = MaybeTls::Plain(tcp);
                    continue;
                };
                if let Err(e) = tcp.send(b"S").await {
                    return Err((None, FrameError::Io(e).into()));
                }
                let tls_stream = acceptor.accept(ReadAhead::new(tcp)).await.map_err(|e| {
                    (
                        None,
                        HandshakeError::Tls(format!("TLS handshake failed: {e}")),
                    )
                })?;
                stream = MaybeTls::Server(Box::new(tls_stream));
            }
            Packet::GssEnc if !tried_gss && !stream.is_tls() => {
                tried_gss = true;
                if let Err(e) = stream.send(b"N").await {
                    return Err((None, FrameError::Io(e).into()));
                }
            }
            Packet::Ssl | Packet::GssEnc => {
                return Err((
                    Some(stream),
                    HandshakeError::Protocol("encryption was already negotiated".into()),
                ));
            }
            Packet::Cancel { pid, secret } => return Ok(Handshake::Cancel { pid, secret }),
            Packet::Startup {
                minor,
                params,
                unknown_pq,
            } => {
                if require_tls && !stream.is_tls() {
                    return Err((
                        Some(stream),
                        HandshakeError::Tls(
                            "dbward requires TLS from this address (use sslmode=require)".into(),
                        ),
                    ));
                }
                if minor != 0 || !unknown_pq.is_empty() {
                    let mut out = BytesMut::new();
                    negotiate_protocol_version(&mut out, &unknown_pq);
                    if let Err(e) = stream.send(&out).await {
                        return Err((None, FrameError::Io(e).into()));
                    }
                }
                return Ok(Handshake::Startup { stream, params });
            }
        }
    }
}

/// A decoded startup-phase packet.
#[derive(Debug)]
pub enum Packet {
    /// `SSLRequest`.
    Ssl,
    /// `GSSENCRequest`.
    GssEnc,
    /// `CancelRequest`.
    Cancel {
        /// Process id.
        pid: i32,
        /// Secret key.
        secret: i32,
    },
    /// A StartupMessage of protocol 3.`minor`.
    Startup {
        /// Requested minor version.
        minor: i32,
        /// Checked parameters.
        params: StartupParams,
        /// `_pq_.*` options asked for (none supported).
        unknown_pq: Vec<String>,
    },
}

/// Decodes the body of a startup-phase packet (after its length prefix).
pub fn parse_packet(mut body: BytesMut) -> Result<Packet, HandshakeError> {
    if body.len() < 4 {
        return Err(HandshakeError::Protocol("startup packet too short".into()));
    }
    let code = body.get_i32();
    match code {
        SSL_REQUEST_CODE if body.is_empty() => Ok(Packet::Ssl),
        GSSENC_REQUEST_CODE if body.is_empty() => Ok(Packet::GssEnc),
        CANCEL_REQUEST_CODE if body.len() == 8 => Ok(Packet::Cancel {
            pid: body.get_i32(),
            secret: body.get_i32(),
        }),
        _ if code >> 16 == 3 => {
            let (params, unknown_pq) = parse_parameters(&mut body)?;
            Ok(Packet::Startup {
                minor: code & 0xffff,
                params,
                unknown_pq,
            })
        }
        _ => Err(HandshakeError::Protocol(format!(
            "unsupported frontend protocol {}.{}: dbward speaks 3.0",
            code >> 16,
            code & 0xffff
        ))),
    }
}

/// Appends `NegotiateProtocolVersion`: newest minor 0, and the `_pq_` options not understood.
fn negotiate_protocol_version(out: &mut BytesMut, unknown: &[String]) {
    codec::put_message(out, b'v', |b| {
        b.put_i32(0);
        b.put_i32(i32::try_from(unknown.len()).unwrap_or(i32::MAX));
        for name in unknown {
            codec::put_cstr(b, name);
        }
    });
}

/// Parses the StartupMessage's name/value pairs. Returns the checked parameters and the
/// `_pq_.*` protocol options (none of which dbward supports).
fn parse_parameters(body: &mut BytesMut) -> Result<(StartupParams, Vec<String>), HandshakeError> {
    let mut user = None;
    let mut database = None;
    let mut application_name = None;
    let mut client_encoding = "UTF8";
    let mut options = Vec::new();
    let mut settings = Vec::new();
    let mut unknown_pq = Vec::new();
    loop {
        let name = codec::get_cstr(body)?;
        if name.is_empty() {
            break;
        }
        let value = codec::get_cstr(body)?;
        if let Some(option) = name.strip_prefix("_pq_.") {
            unknown_pq.push(format!("_pq_.{option}"));
            continue;
        }
        match name.to_ascii_lowercase().as_str() {
            "user" => user = Some(value),
            "database" => database = Some(value),
            "application_name" => application_name = Some(value),
            "client_encoding" => client_encoding = check_encoding(&value)?,
            "replication" => {
                return Err(HandshakeError::Protocol(
                    "replication connections are not allowed through dbward".into(),
                ));
            }
            "options" => options
                .extend(startup_settings::split_options(&value).map_err(HandshakeError::Protocol)?),
            _ => {
                startup_settings::check_name(&name).map_err(HandshakeError::Protocol)?;
                settings.push(Setting { name, value });
            }
        }
    }
    // As PostgreSQL: `options` first, so that an explicit parameter overrides it.
    let mut kept = Vec::with_capacity(options.len() + settings.len());
    for s in options.into_iter().chain(settings) {
        match s.name.to_ascii_lowercase().as_str() {
            "application_name" => {
                application_name.get_or_insert(s.value);
            }
            "client_encoding" => client_encoding = check_encoding(&s.value)?,
            "standard_conforming_strings" if !is_on(&s.value) => {
                return Err(HandshakeError::Protocol(
                    "standard_conforming_strings must stay on through dbward (its classifier \
                     reads SQL as the server reads it only then)"
                        .into(),
                ));
            }
            _ => kept.push(s),
        }
    }
    if !body.is_empty() {
        return Err(HandshakeError::Protocol(
            "trailing bytes after parameters".into(),
        ));
    }
    let user = user
        .filter(|u| !u.is_empty())
        .ok_or_else(|| HandshakeError::Protocol("no user name in the startup packet".into()))?;
    // libpq defaults the database to the user name, as PostgreSQL does.
    let database = database
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| user.clone());
    Ok((
        StartupParams {
            user,
            database,
            application_name,
            client_encoding,
            settings: kept,
        },
        unknown_pq,
    ))
}

/// The client encodings dbward reads statements in: `UTF8`, and `SQL_ASCII`, with which the
/// server converts nothing (statements are read in the server's encoding, checked as UTF-8 by
/// dbward; ASCII bytes are the same in every encoding PostgreSQL allows on a server, so quotes,
/// backslashes and semicolons fall where dbward sees them). Others convert the client's bytes
/// before the server reads them, and some (SJIS, BIG5, GBK…) hide a backslash in a multi-byte
/// character: refused.
fn check_encoding(value: &str) -> Result<&'static str, HandshakeError> {
    match dbward_core::policy::client_encoding(value) {
        Some(name) => Ok(name),
        None => Err(HandshakeError::Protocol(format!(
            "client_encoding \"{value}\" is not supported: dbward requires UTF8 (or SQL_ASCII)"
        ))),
    }
}

fn is_on(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "on" | "true" | "yes" | "1"
    )
}

/// Builds the TLS acceptor for the PostgreSQL port from a rustls config that offers ALPN
/// `postgresql` (needed for direct TLS; libpq's classic negotiation sends none).
#[must_use]
pub fn acceptor(config: rustls::ServerConfig) -> TlsAcceptor {
    TlsAcceptor::from(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pairs: &[(&str, &str)]) -> BytesMut {
        let mut b = BytesMut::new();
        for (k, v) in pairs {
            codec::put_cstr(&mut b, k);
            codec::put_cstr(&mut b, v);
        }
        b.put_u8(0);
        b
    }

    #[test]
    fn parameters_are_checked() {
        let (p, pq) = parse_parameters(&mut body(&[
            ("user", "alice"),
            ("database", "orders"),
            ("application_name", "psql"),
            ("client_encoding", "UTF8"),
            ("datestyle", "ISO, MDY"),
            ("_pq_.command_marker", "1"),
        ]))
        .expect("accepted");
        assert_eq!((p.user.as_str(), p.database.as_str()), ("alice", "orders"));
        assert_eq!(
            p.settings,
            [Setting {
                name: "datestyle".into(),
                value: "ISO, MDY".into()
            }]
        );
        assert_eq!(pq, ["_pq_.command_marker"]);
        // `options` first (an explicit parameter overrides it), its application_name only when
        // no parameter names one.
        let (p, _) = parse_parameters(&mut body(&[
            ("user", "alice"),
            ("search_path", "b"),
            (
                "options",
                "-c search_path=a --application-name=app -c TimeZone=UTC",
            ),
        ]))
        .expect("accepted");
        let names: Vec<_> = p.settings.iter().map(Setting::display).collect();
        assert_eq!(names, ["search_path=a", "TimeZone=UTC", "search_path=b"]);
        assert_eq!(p.application_name.as_deref(), Some("app"));
        for refused in [
            ("replication", "database"),
            ("options", "-d 5"),
            ("options", "-c user=postgres"),
            ("options", "-c client_encoding=SJIS"),
            ("options", "-c standard_conforming_strings=off"),
            ("client_encoding", "SJIS"),
            ("standard_conforming_strings", "off"),
            ("bad name", "x"),
        ] {
            let Err(err) = parse_parameters(&mut body(&[("user", "alice"), refused])) else {
                panic!("{refused:?} accepted");
            };
            assert_eq!(err.sqlstate(), "08P01", "{refused:?}");
        }
        let (p, _) = parse_parameters(&mut body(&[("user", "bob")])).expect("ok");
        assert_eq!(p.database, "bob", "database defaults to the user name");
        assert!(parse_parameters(&mut body(&[("database", "x")])).is_err());
    }
}
