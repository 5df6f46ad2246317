//! What the vault takes from the outside world: time, randomness, the
//! local time zone and the keyring's service name. Passed in so logic is
//! deterministic in tests.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::crypto::SecureRng;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still unless moved; for tests and benchmarks.
pub struct FixedClock(pub std::sync::Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(t: DateTime<Utc>) -> Self {
        FixedClock(std::sync::Mutex::new(t))
    }
    pub fn advance(&self, d: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += d;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

pub const DEFAULT_KEYRING_SERVICE: &str = "ProductivityPro";

pub struct Env {
    pub clock: Box<dyn Clock>,
    pub rng: Box<dyn SecureRng>,
    pub local_tz: Tz,
    /// Service name of the vault's OS keyring entries.
    pub keyring_service: String,
}

impl Env {
    /// The real clock, the OS random source and the given time zone.
    pub fn system(local_tz: Tz) -> Self {
        Env {
            clock: Box::new(SystemClock),
            rng: Box::new(rand::rngs::OsRng),
            local_tz,
            keyring_service: DEFAULT_KEYRING_SERVICE.to_string(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
