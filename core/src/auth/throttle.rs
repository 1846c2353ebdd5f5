//! Failed-login throttling per (user, client address).
//!
//! After `auth.max_failures` failures in a row, further attempts from that address for that
//! user are refused without checking the password for `lockout_base`, doubling with each further
//! failure up to `lockout_max`. A success clears the count. Keyed by address as well as user so
//! that an attacker elsewhere cannot lock the real `admin` out. Entries are forgotten once their
//! lock has long expired, which bounds memory.

use std::collections::HashMap;
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
    entries: Mutex<HashMap<(String, IpAddr), Failures>>,
}

/// Entries beyond which stale ones are pruned.
const PRUNE_AT: usize = 10_000;

impl Throttle {
    /// A throttle with the configured thresholds.
    #[must_use]
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            max_failures: config.max_failures,
            base: config.lockout_base,
            max: config.lockout_max,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// How long `user` from `client` must still wait, if locked.
    pub fn locked_for(&self, user: &str, client: IpAddr) -> Option<Duration> {
        let entries = self.entries.lock().expect("throttle lock poisoned");
        let until = entries.get(&(user.to_owned(), client))?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Records a failure, locking once the threshold is reached.
    pub fn record_failure(&self, user: &str, client: IpAddr) {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("throttle lock poisoned");
        if entries.len() >= PRUNE_AT {
            let max = self.max;
            entries.retain(|_, f| now.duration_since(f.last) < max * 2);
        }
        let f = entries
            .entry((user.to_owned(), client))
            .or_insert(Failures {
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
        self.entries
            .lock()
            .expect("throttle lock poisoned")
            .remove(&(user.to_owned(), client));
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
}
