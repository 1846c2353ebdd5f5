//! Cryptography: the master key, sealing of upstream secrets, and user password verifiers.
//!
//! - [`MasterKey`]: 32 random bytes, from `DBWARD_SECRET_KEY` or `secret.key` in the data
//!   directory. Sub-keys (the key id, later the audit chain's HMAC key) are derived from it
//!   with HMAC-SHA-256 under fixed labels, so one secret serves every purpose without reuse.
//! - [`seal`]: AES-256-GCM for upstream passwords and client-certificate keys: a fresh 96-bit
//!   nonce per value, the key id stored beside it, and the record's stable random id as
//!   associated data, so a sealed value copied onto another record does not open.
//! - [`password`]: argon2id PHC hashes (what dbward verifies) and SCRAM-SHA-256 verifiers (what
//!   the PostgreSQL proxy's SCRAM exchange needs), both computed whenever a password is set.
//! - [`Secret`]: a wrapper whose `Debug` and `Display` print `<redacted>`.

mod key;
pub mod password;
pub mod seal;
mod secret;

pub use key::{KeyError, MasterKey};
pub use secret::Secret;

/// Fills a buffer from the operating system's CSPRNG.
///
/// # Panics
/// When the operating system has no randomness to give, which dbward cannot work around.
#[must_use]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the OS random number generator failed");
    buf
}

/// A random password of 24 URL-safe characters (144 bits), for the bootstrapped admin.
#[must_use]
pub fn random_password() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<18>())
}
