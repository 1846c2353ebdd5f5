//! dbward's own login to the upstream PostgreSQL with the stored credentials.
//!
//! - TLS as libpq's `sslmode`: `disable` never; `prefer` tries and falls back to plaintext when
//!   the server declines; `require` insists but does not verify (like libpq); `verify-ca`
//!   verifies the chain against the database's CA certificate (or the web PKI roots);
//!   `verify-full` also checks the host name.
//! - Authentication: trust, SCRAM-SHA-256 (over TLS bound to the channel: SCRAM-SHA-256-PLUS,
//!   as libpq's `channel_binding=prefer`), MD5 and cleartext — but a cleartext password is sent
//!   only to a loopback host or over TLS whose certificate was verified.
//! - The startup packet names the dbward user in `application_name` (`dbward:alice` plus the
//!   client's own), pins `client_encoding=UTF8`, and for sessions at `read` level sets
//!   `default_transaction_read_only=on`, which survives `RESET ALL` and `DISCARD ALL`; then the
//!   client's own startup settings, already checked against the grant.
//! - A `read` session logs in with the database's read-only credential when it has one.
//!
//! Errors say what failed without upstream credentials; details go to the log.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::{Buf as _, BytesMut};
use dbward_core::crypto::Secret;
use dbward_core::model::{AccessLevel, Database, TlsMode};
use dbward_core::store::DatabaseCredentials;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use postgres_protocol::message::frontend;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncReadExt as _;

use crate::stream::{ReadAhead, SendExt as _};
use tokio::net::TcpStream;

use super::codec::{self, FrameError, TAG_AUTHENTICATION, TAG_BACKEND_KEY_DATA};
use super::stream::MaybeTls;

/// Why the upstream login failed. Never carries credentials.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TCP connect failed or timed out.
    #[error("cannot reach the upstream server: {0}")]
    Connect(String),
    /// TLS was required and failed (or was declined).
    #[error("upstream TLS failed: {0}")]
    Tls(String),
    /// The upstream refused the login.
    #[error("the upstream server refused dbward's login (SQLSTATE {0})")]
    Refused(String),
    /// The upstream rejected one of the client's startup settings (SQLSTATE, its message).
    #[error("{message}")]
    Setting {
        /// The upstream's SQLSTATE.
        code: String,
        /// The upstream's message, which names the setting.
        message: String,
    },
    /// The upstream asked for a cleartext password over an unverified channel.
    #[error("the upstream asked for a cleartext password over an unverified connection")]
    InsecurePassword,
    /// The database requires channel binding and the login did not bind.
    #[error("channel binding is required for this database, but {0}")]
    BindingRequired(&'static str),
    /// The upstream asked for a method dbward does not speak.
    #[error("the upstream asked for an unsupported authentication method ({0})")]
    UnsupportedAuth(i32),
    /// No password is stored but the upstream asks for one.
    #[error("the upstream asks for a password and none is stored for this database")]
    NoPassword,
    /// The protocol broke.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
}

impl From<FrameError> for UpstreamError {
    fn from(e: FrameError) -> Self {
        Self::Protocol(e.to_string())
    }
}

/// A logged-in upstream connection, ready for queries.
pub struct Upstream {
    /// The connection.
    pub stream: MaybeTls,
    /// The raw `ParameterStatus` messages the upstream sent, to forward to the client.
    pub parameter_status: BytesMut,
    /// The upstream's own cancel key.
    pub pid: i32,
    /// The upstream's own cancel secret.
    pub secret: i32,
    /// Host and port, for cancel requests.
    pub addr: (String, u16),
    /// The role dbward logged in as.
    pub role: String,
}

pub use crate::listener::ConnectOptions;

/// Connects and logs in to `db` for a session at `level`.
pub async fn connect(
    db: &Database,
    creds: &DatabaseCredentials,
    level: AccessLevel,
    statement_timeout_ms: Option<i64>,
    dbward_user: &str,
    client_params: &super::startup::StartupParams,
    opts: &ConnectOptions,
) -> Result<Upstream, UpstreamError> {
    tokio::time::timeout(opts.connect_timeout, async {
        let tcp = TcpStream::connect((db.host.as_str(), db.port))
            .await
            .map_err(|e| UpstreamError::Connect(e.kind().to_string()))?;
        crate::listener::configure(&tcp, opts.tcp);
        let (mut stream, verified) = negotiate_tls(tcp, db).await?;
        let (user, password) = match (level, &creds.read_username) {
            (AccessLevel::Read, Some(read_user)) => {
                (read_user.clone(), creds.read_password.clone())
            }
            _ => (creds.username.clone(), creds.password.clone()),
        };
        let application_name = match &client_params.application_name {
            Some(app) if !app.is_empty() => format!("dbward:{dbward_user}:{app}"),
            _ => format!("dbward:{dbward_user}"),
        };
        let mut params: Vec<(&str, &str)> = vec![
            ("user", &user),
            ("database", &db.database),
            ("application_name", &application_name),
            ("client_encoding", client_params.client_encoding),
        ];
        if level == AccessLevel::Read {
            params.push(("default_transaction_read_only", "on"));
        }
        let timeout = statement_timeout_ms.map(|ms| ms.to_string());
        if let Some(ms) = &timeout {
            params.push(("statement_timeout", ms));
        }
        // After dbward's own: a checked statement_timeout below the ceiling replaces it.
        for s in &client_params.settings {
            params.push((&s.name, &s.value));
        }
        let mut out = BytesMut::new();
        frontend::startup_message(params.iter().copied(), &mut out)
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        stream
            .send(&out)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let loopback = is_loopback(&db.host);
        let binding = channel_binding(&stream);
        login(
            &mut stream,
            &user,
            password.as_ref(),
            loopback || verified,
            binding,
            db.require_channel_binding,
        )
        .await?;
        let (parameter_status, pid, secret) = read_until_ready(&mut stream).await?;
        Ok(Upstream {
            stream,
            parameter_status,
            pid,
            secret,
            addr: (db.host.clone(), db.port),
            role: user.clone(),
        })
    })
    .await
    .map_err(|_| UpstreamError::Connect("timed out".into()))?
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Applies the database's TLS mode. Returns the stream and whether the certificate was
/// verified.
async fn negotiate_tls(
    mut tcp: TcpStream,
    db: &Database,
) -> Result<(MaybeTls, bool), UpstreamError> {
    if db.tls_mode == TlsMode::Disable {
        return Ok((MaybeTls::Plain(tcp), false));
    }
    let mut out = BytesMut::new();
    frontend::ssl_request(&mut out);
    tcp.send(&out)
        .await
        .map_err(|e| UpstreamError::Connect(e.to_string()))?;
    let answer = tcp
        .read_u8()
        .await
        .map_err(|e| UpstreamError::Connect(e.to_string()))?;
    match (answer, db.tls_mode) {
        (b'N', TlsMode::Prefer) => return Ok((MaybeTls::Plain(tcp), false)),
        (b'N', _) => return Err(UpstreamError::Tls("the server does not offer TLS".into())),
        (b'S', _) => {}
        _ => {
            return Err(UpstreamError::Protocol(
                "invalid answer to SSLRequest".into(),
            ));
        }
    }
    let verify = matches!(db.tls_mode, TlsMode::VerifyCa | TlsMode::VerifyFull);
    let config = client_tls_config(db)?;
    let name = ServerName::try_from(db.host.clone())
        .map_err(|_| UpstreamError::Tls("invalid host name".into()))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, ReadAhead::new(tcp))
        .await
        .map_err(|e| UpstreamError::Tls(e.to_string()))?;
    Ok((MaybeTls::Client(Box::new(tls)), verify))
}

pub(crate) fn client_tls_config(db: &Database) -> Result<rustls::ClientConfig, UpstreamError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Tls(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = &db.tls_ca_cert {
        use rustls::pki_types::pem::PemObject as _;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| UpstreamError::Tls(format!("CA certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| UpstreamError::Tls(format!("CA certificate: {e}")))?;
        }
    } else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let roots = Arc::new(roots);
    let config = match db.tls_mode {
        TlsMode::VerifyFull => builder.with_root_certificates(roots).with_no_client_auth(),
        TlsMode::VerifyCa => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::ChainOnly::new(roots, provider)?))
            .with_no_client_auth(),
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verify::NoVerification(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// What SCRAM can bind to: over TLS, the server certificate's `tls-server-end-point` hash;
/// `None` without TLS, or when the certificate's signature algorithm has no such hash.
fn channel_binding(stream: &MaybeTls) -> Option<Vec<u8>> {
    match stream {
        MaybeTls::Client(tls) => tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| dbward_core::tls::tls_server_end_point(leaf)),
        _ => None,
    }
}

/// Answers the upstream's authentication requests until `AuthenticationOk`.
///
/// SCRAM binds to the TLS channel as libpq's default `channel_binding=prefer` does: over TLS,
/// SCRAM-SHA-256-PLUS with the server certificate's hash when the server offers it (it does
/// whenever it speaks TLS), so that a machine in the middle of an unverified TLS connection
/// (`tls_mode` `prefer` or `require`) cannot relay the exchange: the server's proof then
/// fails. Over TLS without PLUS offered, the client says it could have bound ('y'), so a
/// server that can bind refuses a downgrade. `require_binding` (libpq's
/// `channel_binding=require`) accepts nothing but a completed SCRAM-SHA-256-PLUS exchange:
/// no password is sent another way, and a server that lets dbward in without one is left.
async fn login(
    stream: &mut MaybeTls,
    user: &str,
    password: Option<&Secret<String>>,
    may_send_cleartext: bool,
    binding: Option<Vec<u8>>,
    require_binding: bool,
) -> Result<(), UpstreamError> {
    let mut scram: Option<ScramSha256> = None;
    let (mut plus, mut bound) = (false, false);
    loop {
        let (tag, mut body) = codec::read_message(stream, 64 * 1024).await?;
        match tag {
            TAG_AUTHENTICATION => {}
            codec::TAG_ERROR_RESPONSE => return Err(refused(&body)),
            other => {
                return Err(UpstreamError::Protocol(format!(
                    "unexpected message {:?} during login",
                    char::from(other)
                )));
            }
        }
        if body.len() < 4 {
            return Err(UpstreamError::Protocol(
                "truncated authentication request".into(),
            ));
        }
        let code = body.get_i32();
        let mut out = BytesMut::new();
        let need_password = || password.ok_or(UpstreamError::NoPassword);
        if require_binding && matches!(code, 3 | 5) {
            return Err(UpstreamError::BindingRequired(
                "the upstream asked for a password instead of SCRAM-SHA-256-PLUS",
            ));
        }
        match code {
            0 if require_binding && !bound => {
                return Err(UpstreamError::BindingRequired(
                    "the upstream let dbward in without SCRAM-SHA-256-PLUS",
                ));
            }
            0 => return Ok(()),
            3 => {
                if !may_send_cleartext {
                    return Err(UpstreamError::InsecurePassword);
                }
                frontend::password_message(need_password()?.expose().as_bytes(), &mut out)
            }
            5 => {
                if body.len() < 4 {
                    return Err(UpstreamError::Protocol("truncated MD5 request".into()));
                }
                let salt = [body[0], body[1], body[2], body[3]];
                let hash = postgres_protocol::authentication::md5_hash(
                    user.as_bytes(),
                    need_password()?.expose().as_bytes(),
                    salt,
                );
                frontend::password_message(hash.as_bytes(), &mut out)
            }
            10 => {
                let mechanisms = body[..].split(|b| *b == 0).collect::<Vec<_>>();
                if !mechanisms.contains(&&b"SCRAM-SHA-256"[..]) {
                    return Err(UpstreamError::UnsupportedAuth(10));
                }
                let (mechanism, binding) = match &binding {
                    Some(end_point) if mechanisms.contains(&&b"SCRAM-SHA-256-PLUS"[..]) => (
                        "SCRAM-SHA-256-PLUS",
                        ChannelBinding::tls_server_end_point(end_point.clone()),
                    ),
                    _ if require_binding => {
                        return Err(UpstreamError::BindingRequired(
                            "the upstream does not offer SCRAM-SHA-256-PLUS over TLS",
                        ));
                    }
                    Some(_) => ("SCRAM-SHA-256", ChannelBinding::unrequested()),
                    _ => ("SCRAM-SHA-256", ChannelBinding::unsupported()),
                };
                plus = mechanism == "SCRAM-SHA-256-PLUS";
                let s = ScramSha256::new(need_password()?.expose().as_bytes(), binding);
                let r = frontend::sasl_initial_response(mechanism, s.message(), &mut out);
                scram = Some(s);
                r
            }
            11 => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| UpstreamError::Protocol("SASL continue without start".into()))?;
                s.update(&body)
                    .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
                frontend::sasl_response(s.message(), &mut out)
            }
            12 => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| UpstreamError::Protocol("SASL final without start".into()))?;
                s.finish(&body).map_err(|_| {
                    UpstreamError::Protocol("the upstream's SCRAM signature is wrong".into())
                })?;
                bound = plus;
                continue;
            }
            other => return Err(UpstreamError::UnsupportedAuth(other)),
        }
        .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        stream
            .send(&out)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
    }
}

fn refused(body: &[u8]) -> UpstreamError {
    let code = codec::error_code(body).unwrap_or("?????").to_owned();
    let message = codec::error_field(body, b'M').unwrap_or_default();
    tracing::warn!(sqlstate = %code, "upstream refused the login");
    // A startup setting the server rejects (unknown, a bad value, one it keeps for
    // superusers): its message names only the setting, and the client needs it.
    let about_a_setting = match code.as_str() {
        "22023" | "42704" => true,
        "42501" => message.starts_with("permission denied to set parameter"),
        _ => false,
    };
    if about_a_setting {
        UpstreamError::Setting {
            code,
            message: message.to_owned(),
        }
    } else {
        UpstreamError::Refused(code)
    }
}

/// Collects `ParameterStatus` and `BackendKeyData` until the first `ReadyForQuery`.
async fn read_until_ready(stream: &mut MaybeTls) -> Result<(BytesMut, i32, i32), UpstreamError> {
    let mut status = BytesMut::new();
    let mut key = None;
    loop {
        let (tag, mut body) = codec::read_message(stream, 64 * 1024).await?;
        match tag {
            codec::TAG_PARAMETER_STATUS => {
                codec::put_message(&mut status, tag, |b| b.extend_from_slice(&body));
            }
            TAG_BACKEND_KEY_DATA if body.len() >= 8 => {
                key = Some((body.get_i32(), body.get_i32()));
            }
            codec::TAG_READY_FOR_QUERY => {
                let (pid, secret) = key.ok_or_else(|| {
                    UpstreamError::Protocol("no BackendKeyData from the upstream".into())
                })?;
                return Ok((status, pid, secret));
            }
            codec::TAG_ERROR_RESPONSE => return Err(refused(&body)),
            b'N' => {} // NoticeResponse during start-up: not the client's business
            other => {
                return Err(UpstreamError::Protocol(format!(
                    "unexpected message {:?} after login",
                    char::from(other)
                )));
            }
        }
    }
}

/// Certificate verifiers for libpq's weaker modes.
mod verify {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, Error, SignatureScheme};

    /// `prefer`/`require`: encryption without authentication of the server, as libpq does.
    #[derive(Debug)]
    pub struct NoVerification(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for NoVerification {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// `verify-ca`: the chain must lead to a trusted root; the host name is not checked.
    #[derive(Debug)]
    pub struct ChainOnly {
        inner: Arc<rustls::client::WebPkiServerVerifier>,
    }

    impl ChainOnly {
        pub fn new(
            roots: Arc<rustls::RootCertStore>,
            provider: Arc<CryptoProvider>,
        ) -> Result<Self, super::UpstreamError> {
            let inner =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| super::UpstreamError::Tls(e.to_string()))?;
            Ok(Self { inner })
        }
    }

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    }
}
