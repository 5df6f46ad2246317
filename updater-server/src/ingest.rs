//! Telemetry intake: reports are counted in memory and flushed to the
//! database as hourly aggregates, so the request path takes two short locks
//! and no I/O. A per-install token bucket bounds what one install can add.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use productivitypro_protocol::telemetry::{EventKind, TelemetryReport};
use uuid::Uuid;

use crate::db::TelemetryCounts;

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

#[derive(Default)]
struct Pending {
    counts: TelemetryCounts,
    installs: HashSet<(String, String)>,
}

pub struct Ingest {
    burst: f64,
    per_ms: f64,
    limiter: Mutex<HashMap<Uuid, Bucket>>,
    pending: Mutex<Pending>,
}

#[derive(Debug, PartialEq)]
pub struct RateLimited {
    pub retry_after_secs: u64,
}

impl Ingest {
    pub fn new(burst: u32, per_hour: u32) -> Self {
        Ingest {
            burst: burst.max(1) as f64,
            per_ms: per_hour as f64 / 3_600_000.0,
            limiter: Mutex::new(HashMap::new()),
            pending: Mutex::new(Pending::default()),
        }
    }

    /// Takes `report`'s events from its install's allowance, or says when to retry.
    pub fn admit(&self, report: &TelemetryReport, now: DateTime<Utc>) -> Result<(), RateLimited> {
        let now_ms = now.timestamp_millis();
        let cost = report.events.len() as f64;
        let mut limiter = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        let b = limiter.entry(report.install_id).or_insert(Bucket {
            tokens: self.burst,
            at_ms: now_ms,
        });
        b.tokens = (b.tokens + (now_ms - b.at_ms).max(0) as f64 * self.per_ms).min(self.burst);
        b.at_ms = now_ms;
        if b.tokens < cost {
            let missing = cost - b.tokens;
            let secs = if self.per_ms > 0.0 {
                (missing / self.per_ms / 1000.0).ceil() as u64
            } else {
                3600
            };
            return Err(RateLimited {
                retry_after_secs: secs.max(1),
            });
        }
        b.tokens -= cost;
        Ok(())
    }

    pub fn record(&self, report: &TelemetryReport) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let channel = report.channel.as_str();
        for e in &report.events {
            let hour = e.at.timestamp().div_euclid(3600) * 3600;
            *p.counts
                .entry((report.version.clone(), channel.to_string(), hour, e.kind))
                .or_default() += 1;
            if e.kind == EventKind::SessionStart {
                p.installs
                    .insert((report.version.clone(), report.install_id.to_string()));
            }
        }
    }

    /// Whether nothing is waiting to be flushed.
    pub fn is_empty(&self) -> bool {
        let p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.counts.is_empty() && p.installs.is_empty()
    }

    /// Everything counted since the last call.
    pub fn take(&self) -> (TelemetryCounts, Vec<(String, String)>) {
        let p = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        (p.counts, p.installs.into_iter().collect())
    }

    /// Puts counts back after a failed flush so they go out with the next one.
    pub fn restore(&self, counts: TelemetryCounts, installs: Vec<(String, String)>) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (k, n) in counts {
            *p.counts.entry(k).or_default() += n;
        }
        p.installs.extend(installs);
    }

    /// Forgets installs whose allowance is full again, bounding the limiter's memory.
    pub fn prune(&self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        let full_after_ms = if self.per_ms > 0.0 {
            (self.burst / self.per_ms) as i64
        } else {
            i64::MAX
        };
        let mut limiter = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        limiter.retain(|_, b| now_ms - b.at_ms < full_after_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use productivitypro_protocol::telemetry::TelemetryEvent;
    use productivitypro_protocol::{Arch, Channel, Os};

    fn report(id: Uuid, n: usize, at: DateTime<Utc>) -> TelemetryReport {
        TelemetryReport {
            install_id: id,
            version: "1.0.0".into(),
            channel: Channel::Beta,
            os: Os::Linux,
            arch: Arch::X86_64,
            events: vec![
                TelemetryEvent {
                    kind: EventKind::SessionStart,
                    at
                };
                n
            ],
        }
    }

    #[test]
    fn one_install_cannot_flood_but_others_are_unaffected() {
        let ingest = Ingest::new(10, 60);
        let now: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
        let a = Uuid::new_v4();
        assert!(ingest.admit(&report(a, 8, now), now).is_ok());
        let e = ingest.admit(&report(a, 8, now), now).unwrap_err();
        assert_eq!(e.retry_after_secs, 360, "6 events at 1 per minute");
        assert!(ingest.admit(&report(Uuid::new_v4(), 8, now), now).is_ok());
        let later = now + chrono::Duration::minutes(6);
        assert!(ingest.admit(&report(a, 8, later), later).is_ok());
    }

    #[test]
    fn counts_per_hour_and_distinct_installs() {
        let ingest = Ingest::new(100, 100);
        let now: DateTime<Utc> = "2026-11-23T12:30:00Z".parse().unwrap();
        let a = Uuid::new_v4();
        ingest.record(&report(a, 3, now));
        ingest.record(&report(a, 1, now + chrono::Duration::hours(1)));
        let (counts, installs) = ingest.take();
        assert_eq!(counts.len(), 2);
        assert_eq!(counts.values().sum::<u64>(), 4);
        assert_eq!(installs.len(), 1);
        assert!(ingest.take().0.is_empty());
    }
}
