//! AES-256-GCM sealing of secrets at rest (upstream passwords, client-certificate keys).
//!
//! A sealed value is the text `v1:<key id>:<base64(nonce || ciphertext || tag)>`: the version and
//! key id let a later key rotation find which key opens what, the nonce is 96 fresh random bits
//! per seal, and the associated data binds the value to one record's stable random id (`uid`),
//! not to its autoincrement id, which a restore may renumber. A value moved to another record,
//! or opened with another key, fails authentication instead of yielding garbage.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{MasterKey, Secret, random_bytes};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Why a sealed value did not open. Deliberately says nothing about the content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The text is not a sealed value of a known version.
    #[error("sealed value is malformed")]
    Malformed,
    /// The value was sealed under another master key.
    #[error("sealed value belongs to another master key (id {0})")]
    OtherKey(String),
    /// Authentication failed: tampered, moved to another record, or wrong key.
    #[error("sealed value failed authentication")]
    Tampered,
}

/// Seals `plaintext` for the record whose stable id is `aad`.
#[must_use]
pub fn seal(key: &MasterKey, aad: &str, plaintext: &[u8]) -> String {
    let cipher = Aes256Gcm::new(key.bytes().into());
    let nonce_bytes = random_bytes::<NONCE_LEN>();
    let nonce = Nonce::from(nonce_bytes);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    format!("{VERSION}:{}:{}", key.id(), B64.encode(out))
}

/// Opens a value sealed by [`seal`] for the same record.
pub fn open(key: &MasterKey, aad: &str, sealed: &str) -> Result<Secret<Vec<u8>>, SealError> {
    let mut parts = sealed.splitn(3, ':');
    let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SealError::Malformed);
    };
    if key_id != key.id() {
        return Err(SealError::OtherKey(key_id.to_owned()));
    }
    let raw = B64.decode(body).map_err(|_| SealError::Malformed)?;
    if raw.len() < NONCE_LEN + 16 {
        return Err(SealError::Malformed);
    }
    let (nonce, ct) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Malformed)?;
    let cipher = Aes256Gcm::new(key.bytes().into());
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        )
        .map(Secret::new)
        .map_err(|_| SealError::Tampered)
}

/// Opens a sealed UTF-8 string.
pub fn open_string(key: &MasterKey, aad: &str, sealed: &str) -> Result<Secret<String>, SealError> {
    let bytes = open(key, aad, sealed)?;
    String::from_utf8(bytes.expose().clone())
        .map(Secret::new)
        .map_err(|_| SealError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonce() {
        let k = MasterKey::generate();
        let a = seal(&k, "rec-1", b"s3cret");
        let b = seal(&k, "rec-1", b"s3cret");
        assert_ne!(a, b, "a fresh nonce per seal");
        assert!(!a.contains("s3cret"));
        assert_eq!(
            open_string(&k, "rec-1", &a).expect("opens").expose(),
            "s3cret"
        );
    }

    #[test]
    fn other_record_other_key_or_tamper_fail() {
        let k = MasterKey::generate();
        let s = seal(&k, "rec-1", b"s3cret");
        assert_eq!(open(&k, "rec-2", &s).err(), Some(SealError::Tampered));
        let other = MasterKey::generate();
        assert!(matches!(
            open(&other, "rec-1", &s),
            Err(SealError::OtherKey(_))
        ));
        let mut raw = B64
            .decode(s.rsplit(':').next().expect("body"))
            .expect("b64");
        raw[20] ^= 1;
        let forged = format!("v1:{}:{}", k.id(), B64.encode(raw));
        assert_eq!(open(&k, "rec-1", &forged).err(), Some(SealError::Tampered));
        assert_eq!(
            open(&k, "rec-1", "garbage").err(),
            Some(SealError::Malformed)
        );
    }
}
