//! Crashes: a Rust panic (through the hook below) or an uncaught error in
//! the UI (reported over IPC) becomes one `crash` event.
//!
//! The panic hook runs while the process is failing, so it does the least
//! it can: it appends one short line to `health-crashes.log` (opened with
//! `O_APPEND`, no lock, no rewrite of the queue) and only when reports are
//! on. The panic's message and location are NOT written — they can hold
//! task text or paths with user names. The next start drains the log into
//! the queue.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use productivitypro_protocol::telemetry::EventKind;
use productivitypro_protocol::Channel;
use serde::{Deserialize, Serialize};

use crate::queue::{Queue, Queued};
use crate::HealthError;

/// Longest crash log read back; anything beyond is a loop and is cut.
const MAX_LOG_BYTES: u64 = 64 * 1024;

#[derive(Clone)]
pub struct CrashLog {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Line {
    at: DateTime<Utc>,
    version: String,
    channel: Channel,
}

impl CrashLog {
    pub fn in_dir(dir: &Path) -> Self {
        CrashLog {
            path: dir.join("health-crashes.log"),
        }
    }

    /// Appends one crash. Used by the panic hook and for the UI's uncaught
    /// errors; never panics.
    pub fn record(
        &self,
        at: DateTime<Utc>,
        version: &str,
        channel: Channel,
    ) -> std::io::Result<()> {
        let line = serde_json::to_string(&Line {
            at,
            version: version.to_owned(),
            channel,
        })
        .map_err(std::io::Error::other)?;
        let mut o = fs::OpenOptions::new();
        o.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            o.mode(0o600);
        }
        let mut f = o.open(&self.path)?;
        f.write_all(format!("{line}\n").as_bytes())
    }

    /// Deletes the log unread (reports are off).
    pub fn clear(&self) -> Result<(), HealthError> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(HealthError::write(&self.path)(e))
            }
            _ => Ok(()),
        }
    }

    /// Moves the logged crashes into the queue, then empties the log.
    /// Unparseable lines (a write cut short by the dying process) are
    /// skipped. Returns how many crashes were queued.
    pub fn drain_into(&self, queue: &Queue, now: DateTime<Utc>) -> Result<usize, HealthError> {
        let bytes = match fs::File::open(&self.path) {
            Ok(f) => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_LOG_BYTES), &mut buf)
                    .map_err(HealthError::write(&self.path))?;
                buf
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(HealthError::write(&self.path)(e)),
        };
        let crashes: Vec<Queued> = bytes
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice::<Line>(l).ok())
            .map(|l| Queued {
                kind: EventKind::Crash,
                at: l.at,
                version: l.version,
                channel: l.channel,
            })
            .collect();
        if !crashes.is_empty() {
            queue.push(&crashes, now)?;
        }
        fs::remove_file(&self.path).map_err(HealthError::write(&self.path))?;
        Ok(crashes.len())
    }
}

/// What the panic hook needs to know at the moment of a panic, changed by
/// the app without locks (Settings can turn reports off or switch channel).
pub struct CrashContext {
    enabled: AtomicBool,
    channel: AtomicU8,
}

impl CrashContext {
    pub fn new(enabled: bool, channel: Channel) -> Arc<Self> {
        Arc::new(CrashContext {
            enabled: AtomicBool::new(enabled),
            channel: AtomicU8::new(channel_index(channel)),
        })
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    pub fn set_channel(&self, c: Channel) {
        self.channel.store(channel_index(c), Ordering::SeqCst);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    pub fn channel(&self) -> Channel {
        Channel::ALL[self.channel.load(Ordering::SeqCst) as usize % Channel::ALL.len()]
    }
}

fn channel_index(c: Channel) -> u8 {
    Channel::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8
}

/// Chains a hook in front of the current one (which still prints the
/// panic to stderr and the log as before). `now` is the clock.
pub fn install_panic_hook(
    log: CrashLog,
    version: String,
    context: Arc<CrashContext>,
    now: fn() -> DateTime<Utc>,
) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if context.enabled() {
            // Nothing to do about a failure here: the process is failing.
            let _ = log.record(now(), &version, context.channel());
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn logged_crashes_move_to_the_queue_once_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = CrashLog::in_dir(dir.path());
        let q = Queue::in_dir(dir.path());
        let now = t("2026-11-20T12:00:00Z");
        log.record(t("2026-11-20T11:00:00Z"), "1.2.0", Channel::Canary)
            .unwrap();
        // A process killed mid-write leaves half a line.
        let mut f = fs::OpenOptions::new().append(true).open(&log.path).unwrap();
        f.write_all(b"{\"at\":\"2026-11-20T11:30").unwrap();
        drop(f);
        assert_eq!(log.drain_into(&q, now).unwrap(), 1);
        assert_eq!(log.drain_into(&q, now).unwrap(), 0, "the log is emptied");
        let queued = q.load(now);
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].kind, EventKind::Crash);
        assert_eq!(queued[0].channel, Channel::Canary);
        assert_eq!(queued[0].version, "1.2.0");
    }

    #[test]
    fn the_context_follows_settings() {
        let c = CrashContext::new(false, Channel::Stable);
        assert!(!c.enabled());
        c.set_enabled(true);
        for ch in Channel::ALL {
            c.set_channel(ch);
            assert_eq!(c.channel(), ch);
        }
        assert!(c.enabled());
    }
}
