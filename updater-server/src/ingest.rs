//! Telemetry intake, all in memory: the request path takes two short locks
//! and no I/O; counts are flushed to the database as batches.
//!
//! What bounds forged health data here:
//! - an install's token bucket bounds the events it may send, and at most
//!   `counted_per_hour` events of each kind per install and hour count;
//! - a network (an IPv4 address, an IPv6 /64) gets tokens for at most
//!   `new_installs_per_ip` install ids it has not been seen with per hour,
//!   and a wider one (an IPv4 /24, an IPv6 /48 — what one customer or one
//!   rented server block usually holds) for at most
//!   `new_installs_per_wide_network`, so an attacker who owns a /48 cannot
//!   mint tokens from each of its 65,536 /64s;
//! - both tables have a fixed maximum size and are pruned, so a flood of new
//!   ids or addresses costs bounded memory: when the install table is full,
//!   the full shard first forgets its idle installs (at most once a minute,
//!   so a flood cannot make every request scan it); only if none is idle do
//!   new installs get no token (updates still work) and no intake.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use productivitypro_protocol::telemetry::{EventKind, TelemetryReport};
use productivitypro_protocol::Platform;
use uuid::Uuid;

use crate::db::{Cell, TelemetryBatch};

const SHARDS: usize = 16;
const HOUR_MS: i64 = 3_600_000;
/// Least time between two on-demand prunes of one full install shard.
const SHARD_PRUNE_MS: i64 = 60_000;

#[derive(Clone, Debug)]
pub struct Limits {
    /// Events one install may send at once...
    pub burst: u32,
    /// ...and per hour after that.
    pub per_hour: u32,
    /// Events of one kind from one install that count per hour.
    pub counted_per_hour: u8,
    /// New install ids one network gets tokens for per hour.
    pub new_installs_per_ip: u32,
    /// New install ids one wide network (IPv4 /24, IPv6 /48) gets tokens
    /// for per hour, across all its networks.
    pub new_installs_per_wide_network: u32,
    /// Installs tracked at once (~80 bytes each).
    pub max_installs: usize,
    /// Networks tracked at once.
    pub max_ips: usize,
}

struct Install {
    /// Token bucket of events.
    tokens: f64,
    at_ms: i64,
    /// The hour `counted` is for.
    hour: i64,
    counted: [u8; 4],
    last_ms: i64,
}

struct Network {
    hour: i64,
    new_installs: u32,
}

pub struct Ingest {
    limits: Limits,
    per_ms: f64,
    installs: [Mutex<HashMap<Uuid, Install>>; SHARDS],
    /// When each install shard was last pruned because it was full.
    shard_pruned_ms: [AtomicI64; SHARDS],
    /// Keyed by (prefix length, prefix): a /48 and a /64 whose last 16
    /// bits are zero are different entries.
    networks: Mutex<HashMap<(u8, IpAddr), Network>>,
    pending: Mutex<TelemetryBatch>,
}

#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// The install sent more than its allowance.
    RateLimited { retry_after_secs: u64 },
    /// Too many installs are tracked right now.
    Busy,
}

fn kind_index(k: EventKind) -> usize {
    EventKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

/// The networks an address belongs to, narrow then wide. IPv6 hosts
/// usually hold a whole /64 and customers a /48; IPv4-mapped IPv6 addresses
/// count as IPv4.
fn networks(ip: IpAddr) -> [(u8, IpAddr); 2] {
    let v4 = |a: Ipv4Addr| {
        let o = a.octets();
        [
            (32, IpAddr::V4(a)),
            (24, IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], 0))),
        ]
    };
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(a) => v4(a),
            None => {
                let s = v6.segments();
                [
                    (
                        64,
                        IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)),
                    ),
                    (
                        48,
                        IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0)),
                    ),
                ]
            }
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ingest {
    pub fn new(limits: Limits) -> Self {
        Ingest {
            per_ms: limits.per_hour as f64 / HOUR_MS as f64,
            limits,
            installs: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            shard_pruned_ms: std::array::from_fn(|_| AtomicI64::new(i64::MIN)),
            networks: Mutex::new(HashMap::new()),
            pending: Mutex::new(TelemetryBatch::default()),
        }
    }

    fn shard_index(id: &Uuid) -> usize {
        id.as_bytes()[15] as usize % SHARDS
    }

    fn shard(&self, id: &Uuid) -> &Mutex<HashMap<Uuid, Install>> {
        &self.installs[Self::shard_index(id)]
    }

    /// How long an install must be quiet before it is forgotten: its
    /// allowance is full again and its hourly counts are over.
    fn idle_ms(&self) -> i64 {
        let full_after = if self.per_ms > 0.0 {
            (self.limits.burst as f64 / self.per_ms) as i64
        } else {
            i64::MAX
        };
        full_after.max(HOUR_MS)
    }

    /// Whether the shard of `id` has room for one more install, forgetting
    /// its idle installs first when it is full (rate-limited per shard).
    fn has_room(&self, shard: &mut HashMap<Uuid, Install>, id: &Uuid, now_ms: i64) -> bool {
        let cap = self.limits.max_installs / SHARDS;
        if shard.len() < cap {
            return true;
        }
        let last = &self.shard_pruned_ms[Self::shard_index(id)];
        let prev = last.load(Ordering::Relaxed);
        if prev != i64::MIN && now_ms - prev < SHARD_PRUNE_MS {
            return false;
        }
        last.store(now_ms, Ordering::Relaxed);
        let idle = self.idle_ms();
        shard.retain(|_, i| now_ms - i.last_ms < idle);
        shard.len() < cap
    }

    fn fresh(&self, now_ms: i64) -> Install {
        Install {
            tokens: self.limits.burst.max(1) as f64,
            at_ms: now_ms,
            hour: now_ms.div_euclid(HOUR_MS),
            counted: [0; 4],
            last_ms: now_ms,
        }
    }

    /// Whether `install`, checking from `ip`, may be given telemetry tokens:
    /// always when it was seen within the hour; when new, while its network's
    /// allowance of new installs lasts and the tables have room.
    pub fn may_issue(&self, ip: IpAddr, install: &Uuid, now: DateTime<Utc>) -> bool {
        let now_ms = now.timestamp_millis();
        let mut shard = lock(self.shard(install));
        if let Some(i) = shard.get_mut(install) {
            i.last_ms = now_ms;
            return true;
        }
        if !self.has_room(&mut shard, install, now_ms) {
            return false;
        }
        let hour = now_ms.div_euclid(HOUR_MS);
        let mut table = lock(&self.networks);
        let keys = networks(ip);
        let missing = keys.iter().filter(|k| !table.contains_key(k)).count();
        if missing > 0 && table.len() + missing > self.limits.max_ips {
            return false;
        }
        let allowances = [
            self.limits.new_installs_per_ip,
            self.limits.new_installs_per_wide_network,
        ];
        // Both tiers must have room before either is charged, so a refusal
        // by the wide tier does not use up the narrow one's allowance.
        let room = keys.iter().zip(allowances).all(|(k, allowance)| {
            table
                .get(k)
                .is_none_or(|n| n.hour != hour || n.new_installs < allowance)
        });
        if !room {
            return false;
        }
        for k in keys {
            let n = table.entry(k).or_insert(Network {
                hour,
                new_installs: 0,
            });
            if n.hour != hour {
                *n = Network {
                    hour,
                    new_installs: 0,
                };
            }
            n.new_installs += 1;
        }
        shard.insert(*install, self.fresh(now_ms));
        true
    }

    /// Takes `report`'s events from its install's allowance. Returns, per
    /// event, whether it counts (within `counted_per_hour` for its kind).
    pub fn admit(
        &self,
        report: &TelemetryReport,
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, Refusal> {
        let now_ms = now.timestamp_millis();
        let mut shard = lock(self.shard(&report.install_id));
        if !shard.contains_key(&report.install_id) {
            // A valid token from another replica or from before a restart.
            if !self.has_room(&mut shard, &report.install_id, now_ms) {
                return Err(Refusal::Busy);
            }
            shard.insert(report.install_id, self.fresh(now_ms));
        }
        let Some(i) = shard.get_mut(&report.install_id) else {
            return Err(Refusal::Busy);
        };
        let burst = self.limits.burst.max(1) as f64;
        i.tokens = (i.tokens + (now_ms - i.at_ms).max(0) as f64 * self.per_ms).min(burst);
        i.at_ms = now_ms;
        i.last_ms = now_ms;
        let cost = report.events.len() as f64;
        if i.tokens < cost {
            let missing = cost - i.tokens;
            let secs = if self.per_ms > 0.0 {
                (missing / self.per_ms / 1000.0).ceil() as u64
            } else {
                3600
            };
            return Err(Refusal::RateLimited {
                retry_after_secs: secs.max(1),
            });
        }
        i.tokens -= cost;
        let hour = now_ms.div_euclid(HOUR_MS);
        if i.hour != hour {
            i.hour = hour;
            i.counted = [0; 4];
        }
        Ok(report
            .events
            .iter()
            .map(|e| {
                let c = &mut i.counted[kind_index(e.kind)];
                let counts = *c < self.limits.counted_per_hour;
                if counts {
                    *c += 1;
                }
                counts
            })
            .collect())
    }

    /// Adds the events `admit` let count.
    pub fn record(&self, report: &TelemetryReport, platform: Platform, counted: &[bool]) {
        let cell = Cell {
            version: report.version.clone(),
            channel: report.channel.as_str().to_string(),
            platform: platform.key(),
        };
        let mut p = lock(&self.pending);
        for (e, _) in report.events.iter().zip(counted).filter(|(_, c)| **c) {
            let hour = e.at.timestamp().div_euclid(3600) * 3600;
            *p.counts.entry((cell.clone(), hour, e.kind)).or_default() += 1;
            let last = p
                .installs
                .entry((cell.clone(), report.install_id, e.kind))
                .or_insert(hour);
            *last = (*last).max(hour);
        }
    }

    /// Whether nothing is waiting to be flushed.
    pub fn is_empty(&self) -> bool {
        lock(&self.pending).is_empty()
    }

    /// Everything recorded since the last call.
    pub fn take(&self) -> TelemetryBatch {
        std::mem::take(&mut *lock(&self.pending))
    }

    /// Puts a batch back after a failed flush so it goes out with the next one.
    pub fn restore(&self, batch: TelemetryBatch) {
        lock(&self.pending).merge(batch);
    }

    /// Forgets installs idle for an hour (their allowance is full again and
    /// their hourly counts are over) and networks from past hours.
    pub fn prune(&self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        let idle = self.idle_ms();
        for shard in &self.installs {
            lock(shard).retain(|_, i| now_ms - i.last_ms < idle);
        }
        let hour = now_ms.div_euclid(HOUR_MS);
        lock(&self.networks).retain(|_, n| n.hour == hour);
    }

    /// Installs and networks tracked now.
    pub fn tracked(&self) -> (usize, usize) {
        let installs = self.installs.iter().map(|s| lock(s).len()).sum();
        (installs, lock(&self.networks).len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use productivitypro_protocol::telemetry::TelemetryEvent;
    use productivitypro_protocol::{Arch, Channel, Os};

    fn limits() -> Limits {
        Limits {
            burst: 10,
            per_hour: 60,
            counted_per_hour: 3,
            new_installs_per_ip: 4,
            new_installs_per_wide_network: 6,
            max_installs: 1000,
            max_ips: 1000,
        }
    }

    fn report(id: Uuid, kind: EventKind, n: usize, at: DateTime<Utc>) -> TelemetryReport {
        TelemetryReport {
            install_id: id,
            version: "1.0.0".into(),
            channel: Channel::Beta,
            os: Os::Linux,
            arch: Arch::X86_64,
            bundle_type: None,
            token: String::new(),
            events: vec![TelemetryEvent { kind, at }; n],
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn one_install_cannot_flood_but_others_are_unaffected() {
        let ingest = Ingest::new(limits());
        let a = Uuid::new_v4();
        assert!(ingest
            .admit(&report(a, EventKind::SessionStart, 8, now()), now())
            .is_ok());
        let e = ingest
            .admit(&report(a, EventKind::SessionStart, 8, now()), now())
            .unwrap_err();
        assert_eq!(
            e,
            Refusal::RateLimited {
                retry_after_secs: 360
            },
            "6 events at 1 per minute"
        );
        assert!(ingest
            .admit(
                &report(Uuid::new_v4(), EventKind::SessionStart, 8, now()),
                now()
            )
            .is_ok());
        let later = now() + chrono::Duration::minutes(6);
        assert!(ingest
            .admit(&report(a, EventKind::SessionStart, 8, later), later)
            .is_ok());
    }

    #[test]
    fn only_a_few_events_of_a_kind_per_install_and_hour_count() {
        let ingest = Ingest::new(limits());
        let a = Uuid::new_v4();
        let r = report(a, EventKind::Crash, 5, now());
        let counted = ingest.admit(&r, now()).unwrap();
        assert_eq!(counted, [true, true, true, false, false]);
        let platform = r.platform().unwrap();
        ingest.record(&r, platform, &counted);
        let s = report(a, EventKind::SessionStart, 2, now());
        let counted = ingest.admit(&s, now()).unwrap();
        assert_eq!(counted, [true, true], "each kind has its own cap");
        let next_hour = now() + chrono::Duration::hours(1);
        let r2 = report(a, EventKind::Crash, 1, next_hour);
        assert_eq!(ingest.admit(&r2, next_hour).unwrap(), [true]);
        let batch = ingest.take();
        assert_eq!(batch.counts.values().sum::<u64>(), 3);
        assert_eq!(batch.installs.len(), 1, "one install, one kind recorded");
        assert!(ingest.is_empty());
    }

    #[test]
    fn a_network_gets_tokens_for_a_few_new_installs_per_hour() {
        let ingest = Ingest::new(limits());
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let ids: Vec<Uuid> = (0..6).map(|_| Uuid::new_v4()).collect();
        let issued: Vec<bool> = ids
            .iter()
            .map(|id| ingest.may_issue(ip, id, now()))
            .collect();
        assert_eq!(issued, [true, true, true, true, false, false]);
        assert!(
            ingest.may_issue(ip, &ids[0], now()),
            "a known install checks again"
        );
        assert!(ingest.may_issue("198.51.100.8".parse().unwrap(), &ids[5], now()));
        // An IPv6 /64 is one network.
        let v6 = |s: &str| -> IpAddr { s.parse().unwrap() };
        for (n, id) in (0..4).map(|n| (n, Uuid::new_v4())) {
            assert!(ingest.may_issue(v6(&format!("2001:db8:1:2::{n}")), &id, now()));
        }
        assert!(!ingest.may_issue(v6("2001:db8:1:2:ffff::1"), &Uuid::new_v4(), now()));
        let next_hour = now() + chrono::Duration::hours(1);
        ingest.prune(next_hour);
        assert!(ingest.may_issue(ip, &Uuid::new_v4(), next_hour));
    }

    /// Regression: the limit was per /64 only, so the owner of a /48 got
    /// tokens for 10 new installs in each of its 65,536 /64s every hour.
    #[test]
    fn a_wide_ipv6_or_ipv4_block_shares_one_allowance_of_new_installs() {
        let ingest = Ingest::new(limits());
        let issued = (0..40u16)
            .filter(|n| {
                let ip: IpAddr = format!("2001:db8:77:{n:x}::1").parse().unwrap();
                ingest.may_issue(ip, &Uuid::new_v4(), now())
            })
            .count();
        assert_eq!(issued, 6, "one /48, many /64s: the /48's allowance");
        assert!(
            ingest.may_issue("2001:db8:78::1".parse().unwrap(), &Uuid::new_v4(), now()),
            "the next /48 has its own"
        );
        // IPv4: a /24, also through IPv4-mapped IPv6 addresses.
        let issued = (0..40u8)
            .filter(|n| {
                let ip: IpAddr = if n % 2 == 0 {
                    IpAddr::from([192, 0, 2, *n])
                } else {
                    format!("::ffff:192.0.2.{n}").parse().unwrap()
                };
                ingest.may_issue(ip, &Uuid::new_v4(), now())
            })
            .count();
        assert_eq!(issued, 6);
        // A refusal by the wide tier must not use up the narrow one's allowance.
        let ingest = Ingest::new(Limits {
            new_installs_per_wide_network: 2,
            ..limits()
        });
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        let other: IpAddr = "203.0.113.2".parse().unwrap();
        assert!(ingest.may_issue(ip, &Uuid::new_v4(), now()));
        assert!(ingest.may_issue(other, &Uuid::new_v4(), now()));
        assert!(!ingest.may_issue(ip, &Uuid::new_v4(), now()));
        let next_hour = now() + chrono::Duration::hours(1);
        let issued = (0..4)
            .filter(|_| ingest.may_issue(ip, &Uuid::new_v4(), next_hour))
            .count();
        assert_eq!(issued, 2, "a new hour, a new wide allowance");
    }

    /// Regression: a full install table gave new installs no token until
    /// the hourly prune, even when most tracked installs had gone quiet.
    #[test]
    fn a_full_install_table_makes_room_by_forgetting_idle_installs() {
        let ingest = Ingest::new(Limits {
            max_installs: SHARDS * 2,
            new_installs_per_ip: u32::MAX,
            new_installs_per_wide_network: u32::MAX,
            ..limits()
        });
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        // Ids that all land in shard 0.
        let id = |n: u8| {
            let mut b = [n; 16];
            b[15] = 0;
            Uuid::from_bytes(b)
        };
        assert!(ingest.may_issue(ip, &id(1), now()));
        assert!(ingest.may_issue(ip, &id(2), now()));
        assert!(!ingest.may_issue(ip, &id(3), now()), "shard 0 is full");
        let later = now() + chrono::Duration::minutes(30);
        assert!(
            ingest.may_issue(ip, &id(1), later),
            "a known install keeps its token"
        );
        let idle_after = now() + chrono::Duration::minutes(61);
        assert!(
            ingest.may_issue(ip, &id(3), idle_after),
            "id 2 went idle and is forgotten"
        );
        assert!(
            !ingest.may_issue(ip, &id(4), idle_after),
            "id 1 and id 3 are active"
        );
        // A flood against a full shard does not rescan it on every request.
        let much_later = idle_after + chrono::Duration::hours(2);
        let in_the_same_minute = much_later + chrono::Duration::seconds(30);
        assert!(ingest.may_issue(ip, &id(5), much_later));
        assert!(ingest.may_issue(ip, &id(6), much_later));
        assert!(
            !ingest.may_issue(ip, &id(7), in_the_same_minute),
            "pruned less than a minute ago"
        );
        assert!(ingest.may_issue(ip, &id(7), in_the_same_minute + chrono::Duration::hours(2)));
    }

    #[test]
    fn the_tables_stay_bounded_and_are_pruned() {
        let ingest = Ingest::new(Limits {
            max_installs: 64,
            max_ips: 8,
            new_installs_per_ip: 1000,
            new_installs_per_wide_network: 1000,
            ..limits()
        });
        let mut issued = 0;
        for n in 0..1000u32 {
            let ip = IpAddr::from([198, 51, 100, (n % 4) as u8]);
            if ingest.may_issue(ip, &Uuid::new_v4(), now()) {
                issued += 1;
            }
        }
        let (installs, networks) = ingest.tracked();
        assert!(
            installs <= 64 && issued == installs,
            "{installs} tracked, {issued} issued"
        );
        for n in 0..100u8 {
            ingest.may_issue(IpAddr::from([192, 0, 2, n]), &Uuid::new_v4(), now());
        }
        assert!(ingest.tracked().1 <= 8, "networks: {networks}");
        // A full table refuses intake from new installs instead of growing.
        let mut busy = 0;
        for _ in 0..200 {
            if ingest.admit(&report(Uuid::new_v4(), EventKind::Crash, 1, now()), now())
                == Err(Refusal::Busy)
            {
                busy += 1;
            }
        }
        assert!(busy > 0 && ingest.tracked().0 <= 64);
        ingest.prune(now() + chrono::Duration::hours(2));
        assert_eq!(ingest.tracked(), (0, 0));
    }
}
