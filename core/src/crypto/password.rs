//! User password verifiers: argon2id (what dbward checks) and SCRAM-SHA-256 (what the
//! PostgreSQL proxy's SCRAM exchange needs; the client proves knowledge of the password without
//! sending it, so dbward cannot check it against argon2id there).
//!
//! Both are computed from the same password whenever it is set, and neither is ever returned by
//! the API or logged. argon2id uses the crate's defaults (m = 19 MiB, t = 2, p = 1: OWASP's
//! recommendation). The SCRAM verifier is the weaker of the two against offline cracking (PBKDF2
//! runs fast on GPUs), which is why its iteration count is a deliberate setting
//! (`auth.scram_iterations`, default 100,000; see `config`).
//!
//! Both functions are CPU-heavy: call them off the async reactor (`spawn_blocking`).
//!
//! A third verifier exists only for users who opt in: `mysql_native_password`'s
//! SHA1(SHA1(password)) ([`mysql_native_stage2`]), for old MySQL clients that speak nothing
//! else. It is unsalted and fast to compute, so it is stored sealed with the master key
//! ([`seal_mysql_native`]) and never leaves the process in the clear.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

use super::random_bytes;

/// The two verifiers stored for a local user.
#[derive(Clone)]
pub struct PasswordVerifiers {
    /// argon2id PHC string (`$argon2id$v=19$...`).
    pub argon2: String,
    /// PostgreSQL's SCRAM format: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub scram: String,
}

impl std::fmt::Debug for PasswordVerifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordVerifiers(<redacted>)")
    }
}

/// Computes both verifiers for a new password.
#[must_use]
pub fn make_verifiers(password: &str, scram_iterations: u32) -> PasswordVerifiers {
    PasswordVerifiers {
        argon2: hash_argon2(password),
        scram: scram_verifier(password, &random_bytes::<16>(), scram_iterations),
    }
}

/// argon2id PHC string with a fresh random salt.
#[must_use]
pub fn hash_argon2(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2id with default parameters hashes any password")
        .to_string()
}

/// Checks a password against a PHC string. A malformed hash never verifies.
#[must_use]
pub fn verify_argon2(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A fixed, valid argon2id hash of a random password, verified against when the user does not
/// exist, so that an unknown user costs the same time as a wrong password.
#[must_use]
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_argon2(&super::random_password()))
}

/// Builds a SCRAM-SHA-256 verifier (RFC 5802/7677) in PostgreSQL's text format.
#[must_use]
pub fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    // RFC 7677 asks for SASLprep; PostgreSQL falls back to the raw bytes when a password is not
    // valid for it, and libpq does the same. dbward passwords are used as given, which matches
    // libpq for every ASCII password and for non-ASCII ones that SASLprep leaves unchanged.
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac_sha256(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// `mysql_native_password`'s stored form of a password: SHA1(SHA1(password)).
#[must_use]
pub fn mysql_native_stage2(password: &str) -> [u8; 20] {
    use sha1::{Digest as _, Sha1};
    Sha1::digest(Sha1::digest(password.as_bytes())).into()
}

/// The associated data a user's sealed `mysql_native_password` verifier is bound to.
fn mysql_native_aad(username: &str) -> String {
    format!("mysql_native_password:{username}")
}

/// Seals the `mysql_native_password` verifier of `password` for `username`.
#[must_use]
pub fn seal_mysql_native(key: &super::MasterKey, username: &str, password: &str) -> String {
    super::seal::seal(
        key,
        &mysql_native_aad(username),
        &mysql_native_stage2(password),
    )
}

/// Opens what [`seal_mysql_native`] sealed for `username`; `None` if it does not open.
#[must_use]
pub fn open_mysql_native(key: &super::MasterKey, username: &str, sealed: &str) -> Option<[u8; 20]> {
    let opened = super::seal::open(key, &mysql_native_aad(username), sealed).ok()?;
    <[u8; 20]>::try_from(opened.expose().as_slice()).ok()
}

/// Whether `scramble`, a client's `mysql_native_password` answer to `nonce`
/// (`SHA1(pw) XOR SHA1(nonce || SHA1(SHA1(pw)))`), proves the password whose stored form is
/// `stage2`. Constant time in the comparison.
#[must_use]
pub fn mysql_native_scramble_proves(stage2: &[u8; 20], nonce: &[u8], scramble: &[u8]) -> bool {
    use sha1::{Digest as _, Sha1};
    use subtle::ConstantTimeEq as _;
    let Ok(scramble) = <[u8; 20]>::try_from(scramble) else {
        return false;
    };
    let mask = Sha1::new()
        .chain_update(nonce)
        .chain_update(stage2)
        .finalize();
    let mut stage1 = scramble;
    for (b, m) in stage1.iter_mut().zip(mask) {
        *b ^= m;
    }
    let proven: [u8; 20] = Sha1::digest(stage1).into();
    bool::from(proven.ct_eq(stage2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_verifies_only_the_right_password() {
        let h = hash_argon2("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_argon2("correct horse", &h));
        assert!(!verify_argon2("correct horsf", &h));
        assert!(!verify_argon2("correct horse", "not a hash"));
    }

    #[test]
    fn scram_matches_rfc7677_vector() {
        // RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==,
        // 4096 iterations; the ServerSignature there checks out with this ServerKey/StoredKey.
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("b64");
        let v = scram_verifier("pencil", &salt, 4096);
        assert_eq!(
            v,
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$\
             WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:\
             wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
    }
}
