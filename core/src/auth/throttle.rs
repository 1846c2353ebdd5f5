//! Failed-login throttling per (user, client address).
//!
//! After `auth.max_failures` failures in a row, further attempts from that address for that
//! user are refused without checking the password for `lockout_base`, doubling with each further
//! failure up to `lockout_max`. A success clears the count. Keyed by address as well as user so
//! that an attacker elsewhere cannot lock the real `admin` out.
//!
//! Memory is bounded whatever a client sends: the user name is kept as a keyed 64-bit hash (a
//! name of any length costs the same), entries are forgotten once their lock has long expired,
//! and there are at most [`MAX_ENTRIES`]. A flood of failed logins under ever new names or
//! addresses (an IPv6 prefix holds plenty) fills the table with counts that lock nothing; when it
//! is full those go first, then the locks that end soonest, so the locks a flood would have to
//! outnumber stay in place.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AuthConfig;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// The throttle's state.
#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    base: Duration,
    max: Duration,
    capacity: usize,
    /// Keys the user names' hashes (random per process: names cannot be chosen to collide).
    names: std::collections::hash_map::RandomState,
    entries: Mutex<HashMap<(u64, IpAddr), Failures>>,
}

/// Entries beyond which stale ones are pruned.
const PRUNE_AT: usize = 10_000;

/// The most entries kept (about 5 MB).
pub const MAX_ENTRIES: usize = 100_000;

impl Throttle {
    /// A throttle with the configured thresholds.
    #[must_use]
    pub fn new(config: &AuthConfig) -> Self {
        Self::with_capacity(config, MAX_ENTRIES)
    }

    fn with_capacity(config: &AuthConfig, capacity: usize) -> Self {
        Self {
            max_failures: config.max_failures,
            base: config.lockout_base,
            max: config.lockout_max,
            capacity,
            names: std::collections::hash_map::RandomState::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, user: &str, client: IpAddr) -> (u64, IpAddr) {
        (self.names.hash_one(user), client)
    }

    /// How long `user` from `client` must still wait, if locked.
    pub fn locked_for(&self, user: &str, client: IpAddr) -> Option<Duration> {
        let key = self.key(user, client);
        let entries = self.entries.lock().expect("throttle lock poisoned");
        let until = entries.get(&key)?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Records a failure, locking once the threshold is reached.
    pub fn record_failure(&self, user: &str, client: IpAddr) {
        let key = self.key(user, client);
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock poisoned");
        if !entries.contains_key(&key) {
            if entries.len() >= PRUNE_AT.min(self.capacity) {
                let max = self.max;
                entries.retain(|_, f| now.duration_since(f.last) < max * 2);
            }
            if entries.len() >= self.capacity {
                make_room(&mut entries, now, self.capacity);
            }
        }
        let f = entries.entry(key).or_insert(Failures {
            count: 0,
            locked_until: None,
            last: now,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count >= self.max_failures {
            let doublings = (f.count - self.max_failures).min(30);
            let lock = self.base.saturating_mul(1 << doublings).min(self.max);
            f.locked_until = Some(now + lock);
        }
    }

    /// Clears the failures of `user` from `client`.
    pub fn record_success(&self, user: &str, client: IpAddr) {
        let key = self.key(user, client);
        self.entries
            .lock()
            .expect("throttle lock poisoned")
            .remove(&key);
    }

    /// Entries held now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().expect("throttle lock poisoned").len()
    }

    /// Whether no failure is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Frees room in a full table: counts that lock nothing now go first; if only locks are left,
/// the one that ends soonest.
fn make_room(entries: &mut HashMap<(u64, IpAddr), Failures>, now: Instant, capacity: usize) {
    entries.retain(|_, f| f.locked_until.is_some_and(|u| u > now));
    if entries.len() >= capacity {
        let soonest = entries
            .iter()
            .min_by_key(|(_, f)| f.locked_until)
            .map(|(k, _)| *k);
        if let Some(k) = soonest {
            entries.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(&AuthConfig {
            max_failures: 3,
            lockout_base: Duration::from_secs(10),
            lockout_max: Duration::from_secs(25),
            ..AuthConfig::default()
        })
    }

    #[test]
    fn locks_after_threshold_per_address() {
        let t = throttle();
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..2 {
            t.record_failure("admin", a);
        }
        assert!(t.locked_for("admin", a).is_none());
        t.record_failure("admin", a);
        let lock = t.locked_for("admin", a).expect("locked");
        assert!(lock <= Duration::from_secs(10) && lock > Duration::from_secs(9));
        assert!(
            t.locked_for("admin", b).is_none(),
            "other address unaffected"
        );
        t.record_failure("admin", a);
        t.record_failure("admin", a);
        assert!(t.locked_for("admin", a).expect("locked") <= Duration::from_secs(25));
        t.record_success("admin", a);
        assert!(t.locked_for("admin", a).is_none());
    }

    #[test]
    fn memory_stays_bounded_and_real_locks_survive_a_flood() {
        let config = AuthConfig {
            max_failures: 3,
            lockout_base: Duration::from_mins(1),
            lockout_max: Duration::from_mins(10),
            ..AuthConfig::default()
        };
        let t = Throttle::with_capacity(&config, 100);
        let victim: IpAddr = "10.0.0.1".parse().expect("ip");
        for _ in 0..3 {
            t.record_failure("admin", victim);
        }
        assert!(t.locked_for("admin", victim).is_some());
        // Failed logins under ever new, long names from ever new addresses.
        let long = "x".repeat(10_000);
        for i in 0..5_000u32 {
            let [.., hi, lo] = i.to_be_bytes();
            let addr = IpAddr::from([10, 1, hi, lo]);
            t.record_failure(&format!("{long}{i}"), addr);
            assert!(t.len() <= 100, "{} entries", t.len());
        }
        assert!(
            t.locked_for("admin", victim).is_some(),
            "the real lock outlived the flood"
        );
        // Locks alone fill it: the soonest to end makes room, the table stays bounded.
        for i in 0..200u32 {
            let [.., hi, lo] = i.to_be_bytes();
            let addr = IpAddr::from([10, 2, hi, lo]);
            for _ in 0..3 {
                t.record_failure("root", addr);
            }
        }
        assert!(t.len() <= 100, "{} entries", t.len());
        let last = IpAddr::from([10, 2, 0, 199]);
        assert!(
            t.locked_for("root", last).is_some(),
            "the newest lock holds"
        );
    }
}
