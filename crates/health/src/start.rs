//! What one start of the app adds to the queue, and the version it last
//! ran (so the first start of a new version is an update installed).
//!
//! Must hold: with reports off nothing is queued and the crash log of the
//! last run is deleted unread; only the running version is remembered
//! (`health-last-run`, the app's own version string, no user content), so
//! an update installed while reports were off is never reported later.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use productivitypro_protocol::telemetry::EventKind;
use productivitypro_protocol::Channel;

use crate::consent::Consent;
use crate::crash::CrashLog;
use crate::files::write_atomically;
use crate::queue::{Queue, Queued};
use crate::HealthError;

/// The version the app ran last time.
pub struct LastRun {
    path: PathBuf,
}

impl LastRun {
    pub fn in_dir(dir: &Path) -> Self {
        LastRun {
            path: dir.join("health-last-run"),
        }
    }

    /// Records `version` as the running one and returns the one recorded
    /// before (`None`: the first start, or an unreadable file).
    pub fn swap(&self, version: &str) -> Result<Option<String>, HealthError> {
        let before = fs::read_to_string(&self.path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if before.as_deref() != Some(version) {
            write_atomically(&self.path, version.as_bytes())?;
        }
        Ok(before)
    }
}

/// What a start queued.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Started {
    /// Crashes the last run logged, now queued.
    pub crashes: usize,
    /// `update_installed`: this is the first start of a new version.
    pub update_installed: bool,
    /// `session_start` was queued (reports are on).
    pub session: bool,
}

/// At start: `session_start`, the last run's crashes and, on the first
/// start of a new version, `update_installed` — all only when `consent`
/// is on.
pub fn on_start(
    dir: &Path,
    consent: &Consent,
    version: &str,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Started, HealthError> {
    let previous = LastRun::in_dir(dir).swap(version)?;
    let log = CrashLog::in_dir(dir);
    if !consent.enabled() {
        log.clear()?;
        return Ok(Started::default());
    }
    let queue = Queue::in_dir(dir);
    let crashes = log.drain_into(&queue, now)?;
    let event = |kind| Queued {
        kind,
        at: now,
        version: version.to_string(),
        channel,
    };
    let mut events = vec![event(EventKind::SessionStart)];
    let update_installed = previous.is_some_and(|p| p != version);
    if update_installed {
        events.push(event(EventKind::UpdateInstalled));
    }
    queue.push(&events, now)?;
    Ok(Started {
        crashes,
        update_installed,
        session: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn reports_off_queue_nothing_and_the_crash_log_is_deleted_unread() {
        let dir = tempfile::tempdir().unwrap();
        let now = t("2026-11-20T12:00:00Z");
        let off = Consent::first_run(now);
        CrashLog::in_dir(dir.path())
            .record(now, "1.0.0", Channel::Stable)
            .unwrap();
        let s = on_start(dir.path(), &off, "1.0.0", Channel::Stable, now).unwrap();
        assert_eq!(s, Started::default());
        assert!(Queue::in_dir(dir.path()).load(now).is_empty());
        assert!(!dir.path().join("health-crashes.log").exists());
        // Turned on later: the crash from before is not sent.
        let mut on = off.clone();
        on.decide(true, now);
        let s = on_start(dir.path(), &on, "1.0.0", Channel::Stable, now).unwrap();
        assert_eq!((s.crashes, s.session), (0, true));
    }

    #[test]
    fn a_start_queues_a_session_the_logged_crashes_and_an_update_installed_once() {
        let dir = tempfile::tempdir().unwrap();
        let now = t("2026-11-20T12:00:00Z");
        let mut on = Consent::first_run(now);
        on.decide(true, now);
        let first = on_start(dir.path(), &on, "1.0.0", Channel::Beta, now).unwrap();
        assert!(!first.update_installed, "a first start is not an update");
        CrashLog::in_dir(dir.path())
            .record(now, "1.0.0", Channel::Beta)
            .unwrap();
        let next = on_start(dir.path(), &on, "1.1.0", Channel::Beta, now).unwrap();
        assert_eq!(
            next,
            Started {
                crashes: 1,
                update_installed: true,
                session: true
            }
        );
        let again = on_start(dir.path(), &on, "1.1.0", Channel::Beta, now).unwrap();
        assert!(!again.update_installed, "only the first start of 1.1.0");
        let kinds: Vec<(EventKind, String)> = Queue::in_dir(dir.path())
            .load(now)
            .into_iter()
            .map(|e| (e.kind, e.version))
            .collect();
        let count = |k: EventKind, v: &str| kinds.iter().filter(|(a, b)| *a == k && b == v).count();
        assert_eq!(count(EventKind::SessionStart, "1.0.0"), 1);
        assert_eq!(count(EventKind::Crash, "1.0.0"), 1);
        assert_eq!(count(EventKind::SessionStart, "1.1.0"), 2);
        assert_eq!(count(EventKind::UpdateInstalled, "1.1.0"), 1);
        assert_eq!(kinds.len(), 5);
    }
}
