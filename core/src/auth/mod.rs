//! Password authentication shared by every front door: who is this, and did they prove it?
//!
//! [`Authenticator::verify_password`] checks a username and cleartext password (HTTP basic auth
//! now; MySQL and PostgreSQL cleartext flows later) and answers a [`UserAuth`] or an
//! [`AuthError`]. It is built so that:
//! - an unknown user and a wrong password give the same answer after the same work (argon2id
//!   against a dummy hash);
//! - argon2id runs on a bounded pool of blocking threads (`auth.hash_workers`), with at most
//!   `auth.hash_queue` callers waiting: a flood of logins gets "overloaded" instead of starving
//!   the proxies' reactor threads;
//! - a verified (user, password) pair is remembered for `auth.credential_cache_ttl`, keyed by an
//!   HMAC of the user, password and current hash under a per-process key, so a password change
//!   invalidates it at once and nothing in memory reveals the password;
//! - failures are throttled per (user, client address) ([`throttle`]), so nobody can lock an
//!   account out from somewhere else;
//! - MySQL's `caching_sha2_password` fast path works as on a MySQL server: after a full
//!   authentication (the password itself, over TLS) the MySQL front door remembers
//!   SHA-256(SHA-256(password)) in memory for `auth.credential_cache_ttl`
//!   ([`Authenticator::remember_sha2`]), and a later login proves the password with the
//!   plugin's challenge-response scramble instead ([`Authenticator::verify_sha2_scramble`]).
//!   The entry is tied to the user's current hash (a password change ends it) and never
//!   leaves memory.
//! - `mysql_native_password` is accepted only for users an admin opted in, against their sealed
//!   SHA1(SHA1(password)) ([`Authenticator::verify_native_scramble`]), with the same throttle.
//!
//! The password is verified before anything else about the user (enabled, permissions, grants)
//! is revealed to the caller.

pub mod throttle;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::config::AuthConfig;
use crate::crypto::{password, random_bytes};
use crate::model::UserKind;
use crate::store::{Store, StoreError, UserAuth};
pub use throttle::Throttle;

/// Why authentication failed. `InvalidCredentials` deliberately covers unknown users, wrong
/// passwords and users without a local password alike.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The password was right but the account is disabled.
    #[error("account disabled")]
    Disabled,
    /// Too many recent failures from this address for this user.
    #[error("too many failed attempts; retry in {} s", retry_after.as_secs().max(1))]
    Throttled {
        /// When a new attempt will be considered.
        retry_after: Duration,
    },
    /// Too many logins waiting for a hashing worker.
    #[error("too many concurrent logins; retry shortly")]
    Overloaded,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies passwords; one per process, shared by every front door.
pub struct Authenticator {
    store: Store,
    config: AuthConfig,
    workers: Arc<Semaphore>,
    waiting: AtomicUsize,
    cache_key: [u8; 32],
    cache: std::sync::Mutex<HashMap<[u8; 32], Instant>>,
    sha2_cache: std::sync::Mutex<HashMap<String, Sha2Entry>>,
    throttle: Throttle,
}

/// A `caching_sha2_password` fast-path entry.
struct Sha2Entry {
    /// SHA-256(SHA-256(password)).
    stage2: [u8; 32],
    /// An HMAC of the argon2id hash it was verified against.
    hash_tag: [u8; 32],
    at: Instant,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

/// Entries beyond which the credential cache drops expired ones.
const CACHE_PRUNE_AT: usize = 10_000;

impl Authenticator {
    /// Builds the authenticator.
    #[must_use]
    pub fn new(store: Store, config: AuthConfig) -> Self {
        Self {
            store,
            workers: Arc::new(Semaphore::new(config.hash_workers)),
            waiting: AtomicUsize::new(0),
            cache_key: random_bytes(),
            cache: std::sync::Mutex::new(HashMap::new()),
            sha2_cache: std::sync::Mutex::new(HashMap::new()),
            throttle: Throttle::new(&config),
            config,
        }
    }

    /// The failure throttle, for flows that verify passwords another way (SCRAM).
    #[must_use]
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Checks `username`/`password` from `client`.
    pub async fn verify_password(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<UserAuth, AuthError> {
        if let Some(retry_after) = self.throttle.locked_for(username, client) {
            return Err(AuthError::Throttled { retry_after });
        }
        let user = self.store.user_auth(username).await?;
        let hash = user
            .as_ref()
            .filter(|u| u.kind == UserKind::Local)
            .and_then(|u| u.password_hash.clone());
        let ok = match &hash {
            Some(h) if self.cached(username, password, h) => true,
            Some(h) => self.argon2_verify(password, h.clone()).await?,
            None => {
                // Same work as a real check, then the same answer as a wrong password.
                self.argon2_verify(password, password::dummy_hash().to_owned())
                    .await?;
                false
            }
        };
        let (true, Some(user), Some(h)) = (ok, user, hash) else {
            self.throttle.record_failure(username, client);
            return Err(AuthError::InvalidCredentials);
        };
        self.throttle.record_success(username, client);
        self.remember(username, password, &h);
        if !user.enabled {
            return Err(AuthError::Disabled);
        }
        Ok(user)
    }

    /// Remembers, after `user` proved `password` ([`Self::verify_password`]), what the
    /// `caching_sha2_password` fast path needs (see the module documentation).
    pub fn remember_sha2(&self, user: &UserAuth, password: &str) {
        use sha2::Digest as _;
        let ttl = self.config.credential_cache_ttl;
        let Some(hash) = user.password_hash.as_deref() else {
            return;
        };
        if ttl.is_zero() || user.kind != UserKind::Local {
            return;
        }
        let stage1 = Sha256::digest(password.as_bytes());
        let entry = Sha2Entry {
            stage2: Sha256::digest(stage1).into(),
            hash_tag: self.cache_entry("", "", hash),
            at: Instant::now(),
        };
        let mut cache = self.sha2_cache.lock().expect("sha2 cache lock poisoned");
        if cache.len() >= CACHE_PRUNE_AT {
            cache.retain(|_, e| e.at.elapsed() < ttl);
        }
        if cache.len() < CACHE_PRUNE_AT || cache.contains_key(&user.username) {
            cache.insert(user.username.clone(), entry);
        }
    }

    /// `caching_sha2_password`'s fast path: checks `scramble`, the client's answer to `nonce`
    /// (`SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || nonce)`), against the remembered entry.
    /// `Ok(None)`: nothing usable is remembered (no entry, expired, the password changed, the
    /// user is gone); the caller runs full authentication. A wrong scramble is a failed login.
    pub async fn verify_sha2_scramble(
        &self,
        username: &str,
        nonce: &[u8],
        scramble: &[u8],
        client: IpAddr,
    ) -> Result<Option<UserAuth>, AuthError> {
        use sha2::Digest as _;
        use subtle::ConstantTimeEq as _;
        if let Some(retry_after) = self.throttle.locked_for(username, client) {
            return Err(AuthError::Throttled { retry_after });
        }
        let ttl = self.config.credential_cache_ttl;
        let remembered = {
            let cache = self.sha2_cache.lock().expect("sha2 cache lock poisoned");
            cache
                .get(username)
                .filter(|e| e.at.elapsed() < ttl)
                .map(|e| (e.stage2, e.hash_tag))
        };
        let (Some((stage2, hash_tag)), Ok(scramble)) = (remembered, <[u8; 32]>::try_from(scramble))
        else {
            return Ok(None);
        };
        let Some(user) = self.store.user_auth(username).await? else {
            return Ok(None);
        };
        let current = user
            .password_hash
            .as_deref()
            .filter(|_| user.kind == UserKind::Local)
            .map(|h| self.cache_entry("", "", h));
        if current != Some(hash_tag) {
            self.sha2_cache
                .lock()
                .expect("sha2 cache lock poisoned")
                .remove(username);
            return Ok(None);
        }
        let mask = Sha256::new()
            .chain_update(stage2)
            .chain_update(nonce)
            .finalize();
        let mut stage1 = scramble;
        for (b, m) in stage1.iter_mut().zip(mask) {
            *b ^= m;
        }
        let proven: [u8; 32] = Sha256::digest(stage1).into();
        self.settle_proof(username, client, bool::from(proven.ct_eq(&stage2)), user)
    }

    /// The answer to a scramble that did or did not prove `user`'s password: throttled as
    /// every failed login is, and a disabled account is refused only after a proof.
    fn settle_proof(
        &self,
        username: &str,
        client: IpAddr,
        proven: bool,
        user: UserAuth,
    ) -> Result<Option<UserAuth>, AuthError> {
        if !proven {
            self.throttle.record_failure(username, client);
            return Err(AuthError::InvalidCredentials);
        }
        self.throttle.record_success(username, client);
        if !user.enabled {
            return Err(AuthError::Disabled);
        }
        Ok(Some(user))
    }

    /// `mysql_native_password`, for users who opted in: checks `scramble`, the client's answer
    /// to `nonce`, against the user's verifier, which `open` unseals. `Ok(None)`: the user is
    /// unknown, not local, or did not opt in; the caller switches the client to
    /// `caching_sha2_password`, whose full authentication then answers an unknown user after
    /// the usual work. A wrong scramble is a failed, throttled login.
    pub async fn verify_native_scramble(
        &self,
        username: &str,
        nonce: &[u8],
        scramble: &[u8],
        client: IpAddr,
        open: impl FnOnce(&str) -> Option<[u8; 20]>,
    ) -> Result<Option<UserAuth>, AuthError> {
        if let Some(retry_after) = self.throttle.locked_for(username, client) {
            return Err(AuthError::Throttled { retry_after });
        }
        let Some(user) = self.store.user_auth(username).await? else {
            return Ok(None);
        };
        let Some(stage2) = user.mysql_native().and_then(open) else {
            return Ok(None);
        };
        let proven = password::mysql_native_scramble_proves(&stage2, nonce, scramble);
        self.settle_proof(username, client, proven, user)
    }

    /// Runs argon2id on the bounded worker pool.
    async fn argon2_verify(&self, password: &str, hash: String) -> Result<bool, AuthError> {
        let password = password.to_owned();
        Ok(self
            .on_worker(move || password::verify_argon2(&password, &hash))
            .await?
            .unwrap_or(false))
    }

    /// Runs CPU-heavy login work (argon2id, an RSA decryption) on the bounded pool of hashing
    /// workers, off the reactor; `Ok(None)` if the work panicked. A flood beyond
    /// `auth.hash_queue` waiting callers gets [`AuthError::Overloaded`] at once.
    pub async fn on_worker<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, AuthError> {
        // Count waiters so a flood is refused quickly instead of queueing without bound.
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.config.hash_queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(AuthError::Overloaded);
        }
        let permit = Arc::clone(&self.workers).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let permit = permit.map_err(|_| AuthError::Overloaded)?;
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .ok())
    }

    fn cache_entry(&self, username: &str, password: &str, hash: &str) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.cache_key).expect("HMAC takes any key length");
        for part in [username, password, hash] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    fn cached(&self, username: &str, password: &str, hash: &str) -> bool {
        if self.config.credential_cache_ttl.is_zero() {
            return false;
        }
        let entry = self.cache_entry(username, password, hash);
        let cache = self.cache.lock().expect("credential cache lock poisoned");
        cache
            .get(&entry)
            .is_some_and(|at| at.elapsed() < self.config.credential_cache_ttl)
    }

    fn remember(&self, username: &str, password: &str, hash: &str) {
        let ttl = self.config.credential_cache_ttl;
        if ttl.is_zero() {
            return;
        }
        let entry = self.cache_entry(username, password, hash);
        let mut cache = self.cache.lock().expect("credential cache lock poisoned");
        if cache.len() >= CACHE_PRUNE_AT {
            cache.retain(|_, at| at.elapsed() < ttl);
        }
        if cache.len() < CACHE_PRUNE_AT {
            cache.insert(entry, Instant::now());
        }
    }
}
