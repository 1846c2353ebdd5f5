//! SCRAM-SHA-256 (RFC 5802, RFC 7677) server side, against the verifier dbward stores beside
//! each local user's argon2id hash.
//!
//! Spec: <https://www.postgresql.org/docs/current/sasl-authentication.html>. The client proves
//! it knows the password without sending it. A user who does not exist (or has no local
//! password) goes through the very same exchange against a fake verifier whose salt is derived
//! from the user name and a per-process secret, so the answer and the work are the same as for
//! a wrong password.
//!
//! Channel binding: on a TLS connection whose certificate allows it, dbward offers
//! `SCRAM-SHA-256-PLUS` with `tls-server-end-point` (RFC 5929: the certificate's hash), which
//! libpq prefers; the client's proof then also covers the TLS channel, so a man in the middle
//! holding another certificate cannot relay the login. It is never offered on plaintext (libpq
//! would refuse the exchange), and a client that says it could bind (`y`) while dbward offered
//! binding is refused (a downgrade).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{BufMut as _, BytesMut};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::stream::SendExt as _;

use super::codec::{self, FrameError, TAG_AUTHENTICATION, TAG_PASSWORD};

/// A parsed stored verifier.
pub struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl Verifier {
    /// Parses `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iter, salt) = iter_salt.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        Some(Self {
            iterations: iter.parse().ok()?,
            salt: B64.decode(salt).ok()?,
            stored_key: B64.decode(stored).ok()?.try_into().ok()?,
            server_key: B64.decode(server).ok()?.try_into().ok()?,
        })
    }

    /// A verifier no proof matches, with a salt derived from `user` and `secret`, so repeated
    /// attempts for one unknown user see one stable salt, as for a real user.
    #[must_use]
    pub fn fake(user: &str, secret: &[u8; 32], iterations: u32) -> Self {
        let salt = hmac(secret, user.as_bytes());
        Self {
            iterations,
            salt: salt[..16].to_vec(),
            // Random keys: H(ClientKey) would have to equal a random value.
            stored_key: dbward_core::crypto::random_bytes(),
            server_key: dbward_core::crypto::random_bytes(),
        }
    }
}

/// Why SCRAM failed.
#[derive(Debug, thiserror::Error)]
pub enum ScramError {
    /// The proof did not match: wrong password or unknown user.
    #[error("password authentication failed")]
    Failed,
    /// The client broke the SASL exchange.
    #[error("invalid SCRAM exchange: {0}")]
    Protocol(&'static str),
    /// The client requires channel binding, which dbward does not offer yet.
    #[error("channel binding is not supported: connect with channel_binding=disable or prefer")]
    ChannelBinding,
    /// Framing failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// The gs2 header of a client that binds to `tls-server-end-point`.
const BIND: &str = "p=tls-server-end-point,,";

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Runs the exchange on `stream`, up to and including `AuthenticationSASLFinal`. The caller
/// sends `AuthenticationOk` once the session is ready (after the upstream login).
///
/// # Cancel safety
/// Not cancel safe; runs under the handshake timeout.
pub async fn authenticate<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: &mut S,
    verifier: &Verifier,
    channel_binding: Option<&[u8]>,
) -> Result<(), ScramError> {
    let mut out = BytesMut::new();
    codec::put_message(&mut out, TAG_AUTHENTICATION, |b| {
        b.put_i32(10); // AuthenticationSASL
        if channel_binding.is_some() {
            codec::put_cstr(b, "SCRAM-SHA-256-PLUS");
        }
        codec::put_cstr(b, "SCRAM-SHA-256");
        b.put_u8(0);
    });
    stream.send(&out).await.map_err(FrameError::Io)?;

    // SASLInitialResponse: mechanism, length of the client-first-message, the message.
    let (tag, mut body) = codec::read_message(stream, 4096).await?;
    if tag != TAG_PASSWORD {
        return Err(ScramError::Protocol("expected SASLInitialResponse"));
    }
    let mechanism = codec::get_cstr(&mut body)?;
    let plus = match (mechanism.as_str(), channel_binding) {
        ("SCRAM-SHA-256", _) => false,
        ("SCRAM-SHA-256-PLUS", Some(_)) => true,
        ("SCRAM-SHA-256-PLUS", None) => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Protocol("unsupported SASL mechanism")),
    };
    if body.len() < 4 {
        return Err(ScramError::Protocol("truncated SASLInitialResponse"));
    }
    let client_first =
        std::str::from_utf8(&body[4..]).map_err(|_| ScramError::Protocol("not UTF-8"))?;
    // gs2 header: "p=tls-server-end-point,," (binding, with -PLUS), "n,," (no binding) or
    // "y,," (the client could bind but thinks the server cannot).
    let (gs2_header, client_first_bare) = if let Some(bare) = client_first.strip_prefix(BIND) {
        if !plus {
            return Err(ScramError::Protocol(
                "channel binding without SCRAM-SHA-256-PLUS",
            ));
        }
        (BIND, bare)
    } else if plus {
        return Err(ScramError::Protocol(
            "SCRAM-SHA-256-PLUS needs tls-server-end-point channel binding",
        ));
    } else if let Some(bare) = client_first.strip_prefix("n,,") {
        ("n,,", bare)
    } else if let Some(bare) = client_first.strip_prefix("y,,") {
        if channel_binding.is_some() {
            // We offered binding: a client that thinks we did not was tampered with.
            return Err(ScramError::Protocol("channel binding downgrade"));
        }
        ("y,,", bare)
    } else if client_first.starts_with("p=") {
        return Err(ScramError::ChannelBinding);
    } else {
        return Err(ScramError::Protocol("invalid gs2 header"));
    };
    let client_nonce = client_first_bare
        .split(',')
        .find_map(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','))
        .ok_or(ScramError::Protocol("missing client nonce"))?;

    let server_nonce = B64.encode(dbward_core::crypto::random_bytes::<18>());
    let nonce = format!("{client_nonce}{server_nonce}");
    let server_first = format!(
        "r={nonce},s={},i={}",
        B64.encode(&verifier.salt),
        verifier.iterations
    );
    out.clear();
    codec::put_message(&mut out, TAG_AUTHENTICATION, |b| {
        b.put_i32(11); // AuthenticationSASLContinue
        b.put_slice(server_first.as_bytes());
    });
    stream.send(&out).await.map_err(FrameError::Io)?;

    let (tag, body) = codec::read_message(stream, 4096).await?;
    if tag != TAG_PASSWORD {
        return Err(ScramError::Protocol("expected SASLResponse"));
    }
    let client_final = std::str::from_utf8(&body).map_err(|_| ScramError::Protocol("not UTF-8"))?;
    let (without_proof, proof) = client_final
        .rsplit_once(",p=")
        .ok_or(ScramError::Protocol("missing proof"))?;
    let mut attrs = without_proof.split(',');
    let channel = attrs
        .next()
        .and_then(|c| c.strip_prefix("c="))
        .ok_or(ScramError::Protocol("missing channel binding attribute"))?;
    let mut expected = gs2_header.as_bytes().to_vec();
    if plus {
        expected.extend_from_slice(channel_binding.unwrap_or_default());
    }
    if channel != B64.encode(&expected) {
        // With binding: the client saw another certificate (a man in the middle).
        return Err(if plus {
            ScramError::Failed
        } else {
            ScramError::Protocol("channel binding attribute mismatch")
        });
    }
    let final_nonce = attrs
        .next()
        .and_then(|r| r.strip_prefix("r="))
        .ok_or(ScramError::Protocol("missing nonce"))?;
    if final_nonce != nonce {
        return Err(ScramError::Protocol("nonce mismatch"));
    }
    let proof: [u8; 32] = B64
        .decode(proof)
        .ok()
        .and_then(|p| p.try_into().ok())
        .ok_or(ScramError::Protocol("invalid proof"))?;

    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let client_signature = hmac(&verifier.stored_key, auth_message.as_bytes());
    let mut client_key = [0u8; 32];
    for (k, (p, s)) in client_key
        .iter_mut()
        .zip(proof.iter().zip(client_signature.iter()))
    {
        *k = p ^ s;
    }
    let computed: [u8; 32] = Sha256::digest(client_key).into();
    if !bool::from(computed.ct_eq(&verifier.stored_key)) {
        return Err(ScramError::Failed);
    }
    let server_signature = hmac(&verifier.server_key, auth_message.as_bytes());
    out.clear();
    codec::put_message(&mut out, TAG_AUTHENTICATION, |b| {
        b.put_i32(12); // AuthenticationSASLFinal
        b.put_slice(format!("v={}", B64.encode(server_signature)).as_bytes());
    });
    stream.send(&out).await.map_err(FrameError::Io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

    /// Drives a real SCRAM client (postgres-protocol's, as tokio-postgres uses) against the
    /// server over an in-memory pipe.
    async fn exchange(password: &str, verifier: Verifier) -> Result<(), ScramError> {
        exchange_bound(password, verifier, None, None).await
    }

    /// With `server_binding` the server offers -PLUS; with `client_binding` the client uses it
    /// (with what it saw as the certificate hash).
    async fn exchange_bound(
        password: &str,
        verifier: Verifier,
        server_binding: Option<Vec<u8>>,
        client_binding: Option<Vec<u8>>,
    ) -> Result<(), ScramError> {
        let (mut client_io, mut server_io) = tokio::io::duplex(8192);
        let server = tokio::spawn(async move {
            authenticate(&mut server_io, &verifier, server_binding.as_deref()).await
        });
        let (mechanism, binding) = match client_binding {
            Some(hash) => (
                "SCRAM-SHA-256-PLUS",
                ChannelBinding::tls_server_end_point(hash),
            ),
            None => ("SCRAM-SHA-256", ChannelBinding::unsupported()),
        };
        let mut scram = ScramSha256::new(password.as_bytes(), binding);
        let (_, offer) = codec::read_message(&mut client_io, 4096)
            .await
            .expect("SASL");
        let mut out = BytesMut::new();
        if mechanism.ends_with("PLUS") {
            assert!(
                std::str::from_utf8(&offer)
                    .expect("utf8")
                    .contains("SCRAM-SHA-256-PLUS"),
                "PLUS offered"
            );
        }
        postgres_protocol::message::frontend::sasl_initial_response(
            mechanism,
            scram.message(),
            &mut out,
        )
        .expect("encode");
        client_io.send(&out).await.expect("write");
        let (_, body) = codec::read_message(&mut client_io, 4096)
            .await
            .expect("continue");
        scram.update(&body[4..]).expect("server-first");
        out.clear();
        postgres_protocol::message::frontend::sasl_response(scram.message(), &mut out)
            .expect("encode");
        client_io.send(&out).await.expect("write");
        let result = server.await.expect("join");
        if result.is_ok() {
            let (_, body) = codec::read_message(&mut client_io, 4096)
                .await
                .expect("final");
            scram
                .finish(&body[4..])
                .expect("the server proves it knows the verifier too");
        }
        result
    }

    #[tokio::test]
    async fn right_password_passes_and_server_signature_verifies() {
        let v = dbward_core::crypto::password::scram_verifier("pencil", b"0123456789abcdef", 4096);
        let verifier = Verifier::parse(&v).expect("parse");
        exchange("pencil", verifier).await.expect("authenticated");
    }

    #[tokio::test]
    async fn channel_binding_binds_the_login_to_the_certificate() {
        let v = dbward_core::crypto::password::scram_verifier("pencil", b"0123456789abcdef", 4096);
        let hash = vec![0xAB; 32];
        let verifier = || Verifier::parse(&v).expect("parse");
        exchange_bound("pencil", verifier(), Some(hash.clone()), Some(hash.clone()))
            .await
            .expect("bound login");
        // A man in the middle: the client saw another certificate.
        let err = exchange_bound(
            "pencil",
            verifier(),
            Some(hash.clone()),
            Some(vec![0xCD; 32]),
        )
        .await;
        assert!(matches!(err, Err(ScramError::Failed)), "{err:?}");
        // A client that does not bind still logs in when PLUS is offered.
        exchange_bound("pencil", verifier(), Some(hash), None)
            .await
            .expect("unbound login on TLS");
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_user_fail_alike() {
        let v = dbward_core::crypto::password::scram_verifier("pencil", b"0123456789abcdef", 4096);
        let err = exchange("pen", Verifier::parse(&v).expect("parse")).await;
        assert!(matches!(err, Err(ScramError::Failed)));
        let fake = Verifier::fake("ghost", &[7; 32], 4096);
        assert_eq!(
            fake.salt,
            Verifier::fake("ghost", &[7; 32], 4096).salt,
            "stable salt"
        );
        assert!(matches!(
            exchange("pencil", fake).await,
            Err(ScramError::Failed)
        ));
    }
}
