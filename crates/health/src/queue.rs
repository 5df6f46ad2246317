//! Events waiting to be sent, kept across restarts and offline spells.
//!
//! One small JSON file, rewritten whole (temporary file + rename) on every
//! change. It holds no user content: an event is a kind, a time, and the
//! version and channel it happened on. Bounded twice: events older than
//! the service accepts (`MAX_EVENT_AGE`, 7 days) are dropped whenever the
//! queue is read, and at most `MAX_QUEUED` are kept (the oldest go first),
//! so a crash loop cannot fill the disk.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use productivitypro_protocol::telemetry::{EventKind, MAX_CLOCK_SKEW, MAX_EVENT_AGE};
use productivitypro_protocol::Channel;
use serde::{Deserialize, Serialize};

use crate::files::write_atomically;
use crate::HealthError;

/// Most events kept while they cannot be sent.
pub const MAX_QUEUED: usize = 256;
const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    /// The version the event concerns: the running one for sessions and
    /// crashes, the installed (or failed) one for update events.
    pub version: String,
    pub channel: Channel,
}

#[derive(Serialize, Deserialize)]
struct QueueFile {
    format: u32,
    events: Vec<Queued>,
}

pub struct Queue {
    path: PathBuf,
}

impl Queue {
    pub fn in_dir(dir: &Path) -> Self {
        Queue {
            path: dir.join("health-queue.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The events still worth sending at `now`, oldest first. A missing
    /// file is an empty queue; an unreadable one is logged and treated as
    /// empty (it is replaced by the next write): health data is not worth
    /// stopping the app for.
    pub fn load(&self, now: DateTime<Utc>) -> Vec<Queued> {
        let read = match fs::read(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
            Ok(bytes) => match serde_json::from_slice::<QueueFile>(&bytes) {
                Ok(f) if f.format == FORMAT => Ok(f.events),
                Ok(f) => Err(format!("format {} (this build reads {FORMAT})", f.format)),
                Err(e) => Err(e.to_string()),
            },
        };
        let mut events = read.unwrap_or_else(|error| {
            tracing::warn!(
                code = "health_queue_unreadable",
                error = %error,
                "health queue unreadable; dropped"
            );
            Vec::new()
        });
        prune(&mut events, now);
        events
    }

    /// Adds events (kept in time order) and saves.
    pub fn push(&self, new: &[Queued], now: DateTime<Utc>) -> Result<(), HealthError> {
        let mut events = self.load(now);
        events.extend_from_slice(new);
        prune(&mut events, now);
        self.save(&events)
    }

    /// Removes events that were sent or that the service will never take.
    /// Each removed event takes out one equal queued event, so an event
    /// pushed twice and sent once stays once.
    pub fn remove(&self, done: &[Queued], now: DateTime<Utc>) -> Result<(), HealthError> {
        let mut events = self.load(now);
        for d in done {
            if let Some(i) = events.iter().position(|e| e == d) {
                events.remove(i);
            }
        }
        self.save(&events)
    }

    /// Forgets everything (reports turned off).
    pub fn clear(&self) -> Result<(), HealthError> {
        self.save(&[])
    }

    fn save(&self, events: &[Queued]) -> Result<(), HealthError> {
        let file = QueueFile {
            format: FORMAT,
            events: events.to_vec(),
        };
        write_atomically(
            &self.path,
            // A derived Serialize of plain fields (no maps with non-string
            // keys, no custom impls) cannot fail.
            &serde_json::to_vec(&file).expect("queue serialises"),
        )
    }
}

/// Drops what the service would refuse by time, sorts, and keeps the
/// newest `MAX_QUEUED`.
fn prune(events: &mut Vec<Queued>, now: DateTime<Utc>) {
    // A minute of margin: an event that is 7 days old minus a second when
    // queued must not be refused for age on the way.
    let oldest = now - MAX_EVENT_AGE + chrono::Duration::minutes(1);
    events.retain(|e| e.at >= oldest && e.at <= now + MAX_CLOCK_SKEW);
    events.sort_by_key(|e| e.at);
    if events.len() > MAX_QUEUED {
        events.drain(..events.len() - MAX_QUEUED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ev(kind: EventKind, at: DateTime<Utc>) -> Queued {
        Queued {
            kind,
            at,
            version: "1.2.0".into(),
            channel: Channel::Beta,
        }
    }

    #[test]
    fn events_survive_a_restart_in_time_order_and_leave_when_sent() {
        let dir = tempfile::tempdir().unwrap();
        let now = t("2026-11-20T12:00:00Z");
        let q = Queue::in_dir(dir.path());
        assert!(q.load(now).is_empty());
        let a = ev(EventKind::SessionStart, now - Duration::hours(2));
        let b = ev(EventKind::Crash, now - Duration::hours(3));
        q.push(&[a.clone(), b.clone()], now).unwrap();
        q.push(std::slice::from_ref(&a), now).unwrap();

        let reopened = Queue::in_dir(dir.path());
        assert_eq!(reopened.load(now), vec![b.clone(), a.clone(), a.clone()]);
        reopened.remove(std::slice::from_ref(&a), now).unwrap();
        assert_eq!(
            reopened.load(now),
            vec![b.clone(), a],
            "one sent copy removes one queued copy"
        );
        reopened.clear().unwrap();
        assert!(reopened.load(now).is_empty());
    }

    #[test]
    fn events_older_than_seven_days_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::in_dir(dir.path());
        let queued_at = t("2026-11-20T12:00:00Z");
        q.push(&[ev(EventKind::Crash, queued_at)], queued_at)
            .unwrap();
        assert_eq!(q.load(queued_at + Duration::days(6)).len(), 1);
        assert!(q.load(queued_at + Duration::days(7)).is_empty());
        // A clock far behind the event (it came from the future) drops it too.
        assert!(q.load(queued_at - Duration::hours(1)).is_empty());
    }

    #[test]
    fn a_crash_loop_keeps_only_the_newest_events() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::in_dir(dir.path());
        let now = t("2026-11-20T12:00:00Z");
        let many: Vec<Queued> = (0..MAX_QUEUED as i64 + 40)
            .map(|i| ev(EventKind::Crash, now - Duration::seconds(1000 - i)))
            .collect();
        q.push(&many, now).unwrap();
        let kept = q.load(now);
        assert_eq!(kept.len(), MAX_QUEUED);
        assert_eq!(kept.last(), many.last());
        assert_eq!(kept.first(), Some(&many[40]));
    }

    #[test]
    fn a_damaged_queue_file_reads_as_empty_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::in_dir(dir.path());
        let now = t("2026-11-20T12:00:00Z");
        std::fs::write(q.path(), b"\x00garbage").unwrap();
        assert!(q.load(now).is_empty());
        q.push(&[ev(EventKind::SessionStart, now)], now).unwrap();
        assert_eq!(q.load(now).len(), 1);
    }
}
