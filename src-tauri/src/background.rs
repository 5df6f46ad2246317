//! The loops that run beside the UI while the app is open:
//!
//! - **changes**: polls the vault's committed change sequence (one indexed
//!   read); when another process (`pp`) committed, reloads only the
//!   records it wrote and sends `vault://changed`;
//! - **idle lock**: locks after the configured idle time;
//! - **reminders**: asks the core which reminders are due and shows them
//!   (see `reminders` for when);
//! - **backups**: the automatic backup when the policy says one is due.
//!
//! Each loop reads the vault on the blocking pool and skips a round when a
//! long operation holds it, so none of them can stall the UI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::Notify;

use crate::reminders::{self, NoticeSink};
use crate::shell::{blocking, Shell};
use crate::{commands, emit, memory, report};

/// How often each loop looks; shorter in tests.
#[derive(Debug, Clone, Copy)]
pub struct Ticks {
    pub changes: Duration,
    pub idle: Duration,
    pub reminders: Duration,
    /// The longest the reminder loop waits without a check.
    pub reminder_check_every: chrono::Duration,
    pub backups: Duration,
}

impl Default for Ticks {
    fn default() -> Self {
        Ticks {
            changes: Duration::from_millis(250),
            idle: Duration::from_secs(5),
            reminders: Duration::from_secs(5),
            reminder_check_every: chrono::Duration::seconds(60),
            backups: Duration::from_secs(10 * 60),
        }
    }
}

/// Wakes the loops early.
pub struct Wakers {
    reminders: Notify,
    backups: Notify,
}

pub fn start<R: Runtime>(app: &AppHandle<R>, ticks: Ticks, sink: Arc<dyn NoticeSink>) {
    app.manage(Arc::new(Wakers {
        reminders: Notify::new(),
        backups: Notify::new(),
    }));
    let shell = app.state::<Arc<Shell>>().inner().clone();
    tauri::async_runtime::spawn(watch_changes(app.clone(), shell.clone(), ticks));
    tauri::async_runtime::spawn(idle_lock(app.clone(), shell.clone(), ticks));
    tauri::async_runtime::spawn(remind(app.clone(), shell.clone(), ticks, sink));
    tauri::async_runtime::spawn(back_up(app.clone(), shell, ticks));
}

fn wakers<R: Runtime>(app: &AppHandle<R>) -> Option<Arc<Wakers>> {
    app.try_state::<Arc<Wakers>>().map(|w| w.inner().clone())
}

/// Something that changes when reminders are due happened (a task
/// changed, a snooze, new settings).
pub fn rearm_reminders<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = wakers(app) {
        w.reminders.notify_one();
    }
}

/// A vault was just opened: missed reminders now, and a backup if due;
/// once the snapshot is sent (and the first view painted), what the load
/// freed goes back to the OS. The search index is not built here: the
/// first search builds it (10k tasks: a few ms, 100k: tens of ms, on both
/// cores), so a window nobody searches in does not hold it (issue 7's
/// idle-memory figure).
pub fn vault_opened<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = wakers(app) {
        w.reminders.notify_one();
        w.backups.notify_one();
    }
    crate::sync_worker::wake(app);
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(memory::AFTER_OPEN).await;
        let _ = blocking(move || {
            memory::release_freed();
            Ok(())
        })
        .await;
    });
}

async fn watch_changes<R: Runtime>(app: AppHandle<R>, shell: Arc<Shell>, ticks: Ticks) {
    let mut last_error: Option<String> = None;
    loop {
        tokio::time::sleep(ticks.changes).await;
        if !shell.is_unlocked() {
            continue;
        }
        let s = shell.clone();
        let polled = blocking(move || {
            Ok(s.try_with_vault(|v| {
                if !v.has_outside_changes()? {
                    return Ok(None);
                }
                v.refresh()?;
                report::take_changes(v).map(Some)
            }))
        })
        .await;
        match polled {
            Ok(Some(Ok(Some(c)))) => {
                last_error = None;
                emit::changed(&app, c);
                // A task `pp` added or moved may remind sooner.
                rearm_reminders(&app);
            }
            // Said once, not four times a second.
            Ok(Some(Err(e))) if last_error.as_deref() != Some(&e.code) => {
                last_error = Some(e.code.to_string());
                emit::error(&app, e);
            }
            _ => {}
        }
    }
}

async fn idle_lock<R: Runtime>(app: AppHandle<R>, shell: Arc<Shell>, ticks: Ticks) {
    loop {
        tokio::time::sleep(ticks.idle).await;
        let Some(minutes) = shell.settings().lock_after_minutes else {
            continue;
        };
        if !shell.is_unlocked() {
            continue;
        }
        let idle = shell.now() - shell.last_activity();
        if idle >= chrono::Duration::minutes(minutes as i64) {
            let s = shell.clone();
            let app2 = app.clone();
            let _ = blocking(move || {
                commands::vault::lock_for_idle(&app2, &s);
                Ok(())
            })
            .await;
        }
    }
}

async fn remind<R: Runtime>(
    app: AppHandle<R>,
    shell: Arc<Shell>,
    ticks: Ticks,
    sink: Arc<dyn NoticeSink>,
) {
    let Some(w) = wakers(&app) else { return };
    let mut next_wake: Option<DateTime<Utc>> = None;
    let mut last_check: Option<DateTime<Utc>> = None;
    let (mut wall, mut mono) = (shell.now(), Instant::now());
    loop {
        let woken = tokio::select! {
            _ = tokio::time::sleep(ticks.reminders) => false,
            _ = w.reminders.notified() => true,
        };
        let now = shell.now();
        // The wall clock moved differently from the monotonic one: the
        // machine slept or the clock was set. Everything is re-checked.
        let drift = (now - wall) - chrono::Duration::from_std(mono.elapsed()).unwrap_or_default();
        let jumped = drift.num_seconds().abs() >= 5;
        (wall, mono) = (now, Instant::now());
        if !shell.is_unlocked() {
            next_wake = None;
            last_check = None;
            continue;
        }
        let due = woken
            || jumped
            || next_wake.is_some_and(|t| now >= t)
            || last_check.is_none_or(|c| now - c >= ticks.reminder_check_every);
        if !due {
            continue;
        }
        let s = shell.clone();
        let settings = shell.settings();
        let checked = blocking(move || {
            s.with_vault(|v| {
                let check = v.check_reminders(&reminders::core_settings(&settings))?;
                let notices = if settings.reminders_enabled {
                    reminders::notices(v, &check, &settings)
                } else {
                    Vec::new()
                };
                Ok((check.next_wake, notices))
            })
        })
        .await;
        match checked {
            Ok((wake, notices)) => {
                next_wake = wake;
                last_check = Some(now);
                for n in &notices {
                    sink.show(n);
                }
            }
            // Locked meanwhile: nothing to do until the next unlock.
            Err(e) if e.code == crate::error::codes::VAULT_LOCKED => {}
            Err(e) => {
                last_check = Some(now);
                emit::error(&app, e);
            }
        }
    }
}

async fn back_up<R: Runtime>(app: AppHandle<R>, shell: Arc<Shell>, ticks: Ticks) {
    let Some(w) = wakers(&app) else { return };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(ticks.backups) => {}
            _ = w.backups.notified() => {}
        }
        if !shell.is_unlocked() {
            continue;
        }
        let s = shell.clone();
        let r = blocking(move || s.with_vault(|v| Ok(v.backup_if_due()?))).await;
        match r {
            Ok(Some(b)) => tracing::info!(bytes = b.bytes, "automatic backup written"),
            Ok(None) => {}
            Err(e) if e.code == crate::error::codes::VAULT_LOCKED => {}
            Err(e) => emit::error(&app, e),
        }
    }
}
