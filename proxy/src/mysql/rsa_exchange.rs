//! `caching_sha2_password`'s RSA key exchange, for clients that authenticate without TLS.
//!
//! A MySQL 8 server's full authentication takes the password as it is only over a secure
//! transport (TLS, a Unix socket). Over plain TCP the client asks for the server's RSA public
//! key (it sends `0x02`; the server answers `AuthMoreData` with the key in PEM), or uses one it
//! was given (`--server-public-key-path`, Go's `serverPubKey`), and sends
//! RSA-OAEP(SHA-1)(password NUL XOR the connection's nonce). dbward does the same, so that
//! clients that know no other way in without TLS log in as they would to a MySQL server.
//!
//! What it protects: the password from anyone who only watches the link. It does not protect
//! against a machine in the middle that answers with its own key, unless the client holds
//! dbward's key beforehand: give dbward a key pair (`mysql.rsa_private_key`) and clients its
//! public half, or use TLS with a verified certificate.
//!
//! The key is the configured one, else one generated (RSA 3072) on the first exchange and kept
//! in memory for the process's life: each dbward instance has its own, and a client asks the
//! instance it is talking to. Decryption runs on the authenticator's bounded workers. An
//! answer that does not decrypt is treated as a wrong password, after the same work: a
//! different answer or timing would be an oracle on the padding (Bleichenbacher, Manger).

use std::sync::Arc;

use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use rsa::{Generate as _, PrivateKey};
use tokio::sync::OnceCell;

use dbward_core::auth::{AuthError, Authenticator};

/// An RSA key pair and its public half in PEM, as sent to clients.
pub struct RsaKey {
    private: PrivateKey,
    public_pem: String,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey")
            .field("bits", &(self.private.size() * 8))
            .finish_non_exhaustive()
    }
}

impl RsaKey {
    fn new(private: PrivateKey) -> Result<Self, String> {
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| format!("cannot encode the public key: {e}"))?;
        Ok(Self {
            private,
            public_pem,
        })
    }

    /// Generates a 3072-bit key (about 0.3 s of CPU in a debug build, less in release).
    ///
    /// # Errors
    /// The system's random source failed.
    pub fn generate() -> Result<Self, String> {
        let private =
            PrivateKey::try_generate().map_err(|e| format!("cannot generate an RSA key: {e}"))?;
        Self::new(private)
    }

    /// Reads a private key in PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`, what MySQL's `private_key.pem` holds).
    ///
    /// # Errors
    /// Not an unencrypted RSA private key in either form, or shorter than 2048 bits.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let private = PrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| PrivateKey::from_pkcs1_pem(pem))
            .map_err(|e| format!("not an unencrypted RSA private key in PEM: {e}"))?;
        if private.size() < 256 {
            return Err("the RSA key is shorter than 2048 bits".into());
        }
        Self::new(private)
    }

    /// The public key in PEM (`SubjectPublicKeyInfo`, `BEGIN PUBLIC KEY`), as clients read it.
    #[must_use]
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// Length of a ciphertext, in bytes.
    #[must_use]
    pub fn ciphertext_len(&self) -> usize {
        self.private.size()
    }

    /// The password in a client's answer: RSA-OAEP(SHA-1)(password NUL XOR `nonce`).
    /// `None` when it does not decrypt, or is not UTF-8.
    #[must_use]
    pub fn password(&self, ciphertext: &[u8], nonce: &[u8]) -> Option<String> {
        if nonce.is_empty() {
            return None;
        }
        let mut plain = self.private.oaep_decrypt::<sha1::Sha1>(ciphertext).ok()?;
        for (b, n) in plain.iter_mut().zip(nonce.iter().cycle()) {
            *b ^= n;
        }
        if plain.last() == Some(&0) {
            plain.pop();
        }
        String::from_utf8(plain).ok()
    }
}

/// One login's part in the exchange: the front door's key, the authenticator whose workers
/// decrypt and whose throttle applies, and who is logging in from where.
#[derive(Debug, Clone, Copy)]
pub struct RsaLogin<'a> {
    /// The key.
    pub exchange: &'a RsaExchange,
    /// Workers and throttle.
    pub auth: &'a Authenticator,
    /// The user name the client gave.
    pub user: &'a str,
    /// The client's address.
    pub client: std::net::IpAddr,
}

impl RsaLogin<'_> {
    /// The password in `ciphertext`, decrypted on the authenticator's workers. One that does
    /// not decrypt becomes a random password that matches no user's, so the caller's check
    /// fails after the same work as a wrong password.
    ///
    /// # Errors
    /// The (user, client) pair is locked out by the failure throttle (checked first, so a
    /// locked-out guesser costs no decryption), or the workers are overloaded.
    pub async fn password(
        &self,
        key: Arc<RsaKey>,
        ciphertext: Vec<u8>,
        nonce: [u8; 20],
    ) -> Result<String, AuthError> {
        let auth = self.auth;
        if let Some(retry_after) = auth.throttle().locked_for(self.user, self.client) {
            return Err(AuthError::Throttled { retry_after });
        }
        let decrypted = auth
            .on_worker(move || key.password(&ciphertext, &nonce))
            .await?
            .flatten();
        Ok(decrypted.unwrap_or_else(|| {
            // For the admin only (the client gets a wrong password's answer): a client that
            // holds another key, or sent the password in the clear over plain TCP.
            tracing::info!(
                user = self.user,
                client = %self.client,
                "a caching_sha2_password answer did not decrypt with dbward's RSA key"
            );
            let noise: [u8; 32] = dbward_core::crypto::random_bytes();
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, noise)
        }))
    }
}

/// The MySQL front door's key: configured, or generated once on first use.
#[derive(Debug, Default)]
pub struct RsaExchange {
    key: OnceCell<Arc<RsaKey>>,
}

impl RsaExchange {
    /// With a configured key, or (`None`) one generated on first use.
    #[must_use]
    pub fn new(configured: Option<RsaKey>) -> Self {
        Self {
            key: OnceCell::new_with(configured.map(Arc::new)),
        }
    }

    /// The key, generating it on the authenticator's workers the first time.
    ///
    /// # Errors
    /// The workers are overloaded, or generation failed (then the client gets an error and
    /// the next exchange tries again).
    pub async fn key(&self, auth: &Authenticator) -> Result<Arc<RsaKey>, AuthError> {
        self.key
            .get_or_try_init(|| async {
                let key = auth
                    .on_worker(RsaKey::generate)
                    .await?
                    .and_then(Result::ok)
                    .ok_or(AuthError::Overloaded)?;
                tracing::info!(
                    bits = key.ciphertext_len() * 8,
                    "generated the MySQL RSA key for caching_sha2_password without TLS"
                );
                Ok(Arc::new(key))
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::RsaKey;

    /// What a client sends, computed by `mysql_common`'s client side (an implementation of
    /// its own, as `mysql_async` uses it), decrypts to the password; anything else does not.
    #[test]
    fn a_client_answer_decrypts_to_the_password() {
        let key = RsaKey::generate().expect("key");
        let nonce = *b"abcdefghij0123456789";
        let password = "s3cret pässword, longer than the twenty-byte nonce";
        let mut plain = password.as_bytes().to_vec();
        plain.push(0);
        for (b, n) in plain.iter_mut().zip(nonce.iter().cycle()) {
            *b ^= n;
        }
        let ciphertext =
            mysql_common::crypto::encrypt(&plain, key.public_pem().as_bytes()).expect("encrypt");
        assert_eq!(ciphertext.len(), key.ciphertext_len());
        assert_eq!(key.password(&ciphertext, &nonce).as_deref(), Some(password));
        // Another nonce gives another password; a damaged ciphertext gives none.
        assert_ne!(
            key.password(&ciphertext, b"another nonce 123456")
                .as_deref(),
            Some(password)
        );
        let mut damaged = ciphertext.clone();
        damaged[10] ^= 1;
        assert_eq!(key.password(&damaged, &nonce), None);
        assert_eq!(key.password(&ciphertext[1..], &nonce), None);
        assert_eq!(key.password(b"", &nonce), None);
    }

    /// A 1024-bit key made by `openssl genrsa -traditional 1024`: too short.
    const SHORT_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXwIBAAKBgQDedx2bJb3oh0Jri28o2pEZu/btPFjdG0Xr4e6XORtHJDUYCFlr
+5qPmCRzOXtBY/tABz52FzloiiUDX+nXdUvAWV7brbds4/Mo2PT/F3JE0bTXhFCO
Lm2JlZlct3NLSXkBM5LBmNKkaj3P5cwiWfxvHEF1iIwjrvEmRYAgnf0dkwIDAQAB
AoGBAKnkK67tPr+SdC3vOP/pEsClZCi+WlrY1igSzYOdL/C/fPCSh7/IULvyg3uf
XTqN4TV/krrad5QXU7blC47oW+TnTPaEODvBVmjVolO13CNexizUmu4mm4W4W4eS
2bcx/qcLan1PARdvZh+C4HoGJnfcZUh6BVgH/A4BmLlgUa3pAkEA+KTrJp4Y15qU
SVn3N2iojjxpKGMrmSDU++B7vT4h7wW5SKxUZqbSBjX5SoTp8IP2rwk4AQabqQ9B
IlPpxx6pTQJBAOUL7wnQT98ZFkwaLrZYlvmgsCThij9HBrJW3vMsTqiNRR09NCav
nMNA5C6F/fMY1y62vBFHhFf3n6MAs38Ycl8CQQDiM/cSTOZAz4p0KPq1V+twaxkn
+wCg8LOS6ijog2wPrd9gdBbcxItxxwyidMT3YLa9it9+X2qhpRUWi8y0r/pJAkEA
rBNvHlxV5TIfwkTZWzzrD9dc/hhDmI5vxYPmM6LR5WdcyT6182pzx2z1AM7BnuTG
pN28JO8pyjzKvddFAvMG2QJBAI5w4evyNyV3lPKT/7FVJYCX7YtqpELvGNqoYGJQ
Ymc/dRDdl5xJusHlaJ83Lw02aK1DHqAh3KRwVoozhjAN3nU=
-----END RSA PRIVATE KEY-----";

    /// Keys load from PKCS#8 and PKCS#1 PEM (MySQL's `private_key.pem`); short keys and
    /// anything else are refused.
    #[test]
    fn keys_load_from_pem() {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
        let key = RsaKey::generate().expect("key");
        let pkcs8 = key.private.to_pkcs8_pem(LineEnding::LF).expect("pkcs8");
        let pkcs1 = key.private.to_pkcs1_pem(LineEnding::LF).expect("pkcs1");
        for pem in [pkcs8.as_str(), pkcs1.as_str()] {
            let loaded = RsaKey::from_pem(pem).expect("loads");
            assert_eq!(loaded.public_pem(), key.public_pem());
        }
        assert!(RsaKey::from_pem(key.public_pem()).is_err());
        assert!(RsaKey::from_pem("not a key").is_err());
        assert!(
            RsaKey::from_pem(SHORT_KEY)
                .expect_err("short")
                .contains("2048")
        );
    }
}
