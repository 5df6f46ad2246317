//! Rate limits: token buckets per client address, per account and, for
//! the endpoints that cost an Argon2id hash, a stricter one per address.
//! Held in memory per replica, so behind N replicas an address gets up to
//! N times the configured rate; the per-replica bound is what protects
//! each replica's CPU and memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use productivitypro_sync_protocol::AccountId;

use crate::config::RateConfig;
use crate::error::Error;

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Buckets<K> {
    map: Mutex<HashMap<K, Bucket>>,
    per_sec: f64,
    burst: f64,
    scope: &'static str,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn new(per_minute: u32, burst: u32, scope: &'static str) -> Self {
        Buckets {
            map: Mutex::new(HashMap::new()),
            per_sec: per_minute as f64 / 60.0,
            burst: burst.max(1) as f64,
            scope,
        }
    }

    fn take(&self, key: &K, now: Instant) -> Result<(), Error> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let b = map.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = if self.per_sec > 0.0 {
            ((1.0 - b.tokens) / self.per_sec).ceil() as u64
        } else {
            60
        };
        let mut e = Error::of(
            "rate_limited",
            format!("too many requests ({}); retry in {wait} s", self.scope),
        );
        e.retry_after = Some(wait.max(1));
        Err(e)
    }

    /// Forgets buckets that have refilled: they hold no information.
    fn prune(&self, now: Instant) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.per_sec < self.burst
        });
    }

    fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

pub struct RateLimits {
    ip: Buckets<IpAddr>,
    account: Buckets<AccountId>,
    auth: Buckets<IpAddr>,
}

impl RateLimits {
    pub fn new(c: &RateConfig) -> Self {
        RateLimits {
            ip: Buckets::new(c.per_ip, c.per_ip_burst, "per address"),
            account: Buckets::new(c.per_account, c.per_account_burst, "per account"),
            auth: Buckets::new(c.auth_per_ip, c.auth_burst, "sign-in attempts per address"),
        }
    }

    pub fn ip(&self, ip: IpAddr) -> Result<(), Error> {
        self.ip.take(&ip, Instant::now())
    }

    pub fn account(&self, a: AccountId) -> Result<(), Error> {
        self.account.take(&a, Instant::now())
    }

    pub fn auth(&self, ip: IpAddr) -> Result<(), Error> {
        self.auth.take(&ip, Instant::now())
    }

    pub fn prune(&self) {
        let now = Instant::now();
        self.ip.prune(now);
        self.account.prune(now);
        self.auth.prune(now);
    }

    /// Buckets held (for the memory figure in /metrics).
    pub fn tracked(&self) -> usize {
        self.ip.len() + self.account.len() + self.auth.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_allowed_then_refused_then_refilled() {
        let b: Buckets<u8> = Buckets::new(60, 3, "test");
        let t0 = Instant::now();
        for _ in 0..3 {
            b.take(&1, t0).unwrap();
        }
        let e = b.take(&1, t0).unwrap_err();
        assert_eq!((e.code, e.retry_after), ("rate_limited", Some(1)));
        b.take(&2, t0).unwrap();
        b.take(&1, t0 + Duration::from_secs(1)).unwrap();
        b.prune(t0 + Duration::from_secs(10));
        assert_eq!(b.len(), 0);
    }
}
