//! The app's sync loop, on its own thread.
//!
//! It works on a second handle of the unlocked vault (`Vault::twin_opener`)
//! so the network never holds the handle the UI's commands use: a slow
//! server cannot freeze the window. What it merges reaches the UI the way
//! changes by `pp` do — the `changes` loop in `background` sees the other
//! handle's commits, reloads just those records and sends
//! `vault://changed`. What the UI records (operations in the outbox) the
//! loop sees as outgoing work and pushes.
//!
//! When it syncs: at start and on sign-in (woken), when the outbox has
//! something, when the server's notice says the head moved past our
//! cursor (the same WebSocket `pp sync watch` uses), after reconnecting,
//! and every `FULL_ROUND`. Unreachable server: `offline`, retried with
//! backoff (1 s doubling to 60 s). Anything else: `error` with its code;
//! retried after `ERROR_RETRY`, or only when woken for the codes that
//! need the user (signed out, other account).
//!
//! Must hold: the second handle holds the data key, so it is dropped
//! within one `POLL` of the vault locking; it never outlives the shell's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use productivitypro_core::vault::sync::HttpTransport;
use productivitypro_core::{Vault, VaultError};
use productivitypro_sync_protocol::api::Notice;
use productivitypro_sync_protocol::client::Notifications;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::Notify;

use crate::shell::{lock, Shell};
use crate::sync_dto::{SyncState, SyncStatus, STATUS_EVENT};

const POLL: Duration = Duration::from_millis(200);
const FULL_ROUND: Duration = Duration::from_secs(5 * 60);
const ERROR_RETRY: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Codes that mean the server cannot be reached right now (not the
/// user's doing): `offline`, retried with backoff.
const OFFLINE_CODES: &[&str] = &["server_unreachable", "storage_unavailable", "rate_limited"];
/// Codes only the user can resolve: no retry until woken.
const STUCK_CODES: &[&str] = &[
    "device_signed_out",
    "invalid_token",
    "account_mismatch",
    "cursor_ahead",
];

/// Shared between the loop and the commands.
pub struct SyncWorker {
    status: Mutex<SyncStatus>,
    wake: Notify,
    /// This device is signing itself out: the server's answers that it is
    /// signed out (its notice arrives before the vault is unlinked) are
    /// the sign-out working, not an error to show.
    leaving: AtomicBool,
}

/// Held by `sync_sign_out` across its request; dropping it wakes the loop
/// to settle on what the sign-out left (off, or still syncing).
pub struct Leaving<'a>(&'a SyncWorker);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.leaving.store(false, Ordering::Release);
        self.0.wake();
    }
}

impl SyncWorker {
    pub fn status(&self) -> SyncStatus {
        lock(&self.status).clone()
    }

    /// Sync soon (a sign-in, "sync now", an unlock).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// This device is about to sign itself out (see `leaving`).
    pub fn leaving(&self) -> Leaving<'_> {
        self.leaving.store(true, Ordering::Release);
        Leaving(self)
    }
}

pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let worker = Arc::new(SyncWorker {
        status: Mutex::new(SyncStatus::off()),
        wake: Notify::new(),
        leaving: AtomicBool::new(false),
    });
    app.manage(worker.clone());
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("sync".into())
        .spawn(move || Loop::new(app, worker).run());
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "sync loop not started");
    }
}

pub fn worker<R: Runtime>(app: &AppHandle<R>) -> Option<Arc<SyncWorker>> {
    app.try_state::<Arc<SyncWorker>>()
        .map(|w| w.inner().clone())
}

/// Wakes the loop, if there is one.
pub fn wake<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = worker(app) {
        w.wake();
    }
}

enum Event {
    Tick,
    Woken,
    Notice(Result<Option<Notice>, String>),
}

struct Loop<R: Runtime> {
    app: AppHandle<R>,
    worker: Arc<SyncWorker>,
    twin: Option<Vault>,
    socket: Option<Notifications>,
    /// No network before this (offline backoff or error retry).
    quiet_until: Option<Instant>,
    backoff: Duration,
    /// Waiting for the user (signed out elsewhere, another account).
    stuck: bool,
    due: bool,
    last_round: Option<Instant>,
}

impl<R: Runtime> Loop<R> {
    fn new(app: AppHandle<R>, worker: Arc<SyncWorker>) -> Self {
        Loop {
            app,
            worker,
            twin: None,
            socket: None,
            quiet_until: None,
            backoff: Duration::ZERO,
            stuck: false,
            due: true,
            last_round: None,
        }
    }

    fn shell(&self) -> Option<Arc<Shell>> {
        self.app
            .try_state::<Arc<Shell>>()
            .map(|s| s.inner().clone())
    }

    fn run(mut self) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::warn!(error = %e, "sync loop has no runtime");
                return;
            }
        };
        loop {
            let event = rt.block_on(self.next_event());
            match event {
                Event::Woken => {
                    self.due = true;
                    self.stuck = false;
                    self.quiet_until = None;
                }
                Event::Notice(n) => self.on_notice(n),
                Event::Tick => {}
            }
            self.step(&rt);
        }
    }

    async fn next_event(&mut self) -> Event {
        let socket = self.socket.as_mut();
        tokio::select! {
            n = async move {
                match socket {
                    Some(s) => s.next().await.map_err(|e| e.code().to_string()),
                    None => std::future::pending().await,
                }
            } => Event::Notice(n),
            _ = self.worker.wake.notified() => Event::Woken,
            _ = tokio::time::sleep(POLL) => Event::Tick,
        }
    }

    fn on_notice(&mut self, n: Result<Option<Notice>, String>) {
        match n {
            Ok(Some(Notice::Head { head })) => {
                let cursor = self
                    .twin
                    .as_ref()
                    .and_then(|t| t.sync_info().ok().flatten())
                    .map_or(0, |i| i.cursor);
                if head > cursor {
                    self.due = true;
                }
            }
            Ok(Some(Notice::SignedOut)) => {
                self.socket = None;
                self.fail(
                    "device_signed_out",
                    "this device was signed out from another device; sign in again".into(),
                );
            }
            // Closed or broken: reconnect, and pull after reconnecting
            // (notices sent meanwhile are lost).
            Ok(None) | Err(_) => {
                self.socket = None;
                self.due = true;
            }
        }
    }

    fn set(&self, s: SyncStatus) {
        let changed = {
            let mut cur = lock(&self.worker.status);
            let changed = *cur != s;
            *cur = s.clone();
            changed
        };
        if changed {
            if let Err(e) = self.app.emit(STATUS_EVENT, s.clone()) {
                tracing::warn!(error = %e, "sync status not sent");
            }
            tracing::info!(state = ?s.state, code = s.code.as_deref(), "sync status");
        }
    }

    fn status_with(
        &self,
        state: SyncState,
        code: Option<&str>,
        message: Option<String>,
    ) -> SyncStatus {
        let mut s = SyncStatus {
            state,
            code: code.map(str::to_string),
            message,
            ..SyncStatus::off()
        };
        if let Some(t) = &self.twin {
            if let Ok(Some(i)) = t.sync_info() {
                s.server = Some(i.server);
                s.email = Some(i.email);
                s.device_id = Some(i.device.to_string());
                s.last_sync = i.last_exchange.map(|t| t.to_rfc3339());
                s.pending = i.pending_op_rows + i.unsent_batches > 0;
            }
        }
        s
    }

    fn fail(&mut self, code: &str, message: String) {
        if matches!(code, "device_signed_out" | "invalid_token") {
            if self.worker.leaving.load(Ordering::Acquire) {
                // Our own sign-out: wait for it to finish (it wakes us).
                self.stuck = true;
                self.socket = None;
                return;
            }
            // Or it has just finished: the vault is unlinked already.
            let linked = self
                .shell()
                .and_then(|s| s.try_with_vault(|v| v.sync_enabled().unwrap_or(true)));
            if linked == Some(false) {
                return self.drop_all();
            }
        }
        let offline = OFFLINE_CODES.contains(&code);
        if offline {
            self.backoff = (self.backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
            self.quiet_until = Some(Instant::now() + self.backoff);
            self.socket = None;
        } else if STUCK_CODES.contains(&code) {
            self.stuck = true;
            self.socket = None;
        } else {
            self.quiet_until = Some(Instant::now() + ERROR_RETRY);
        }
        if code == "key_rotated" {
            self.twin = None;
        }
        let state = if offline {
            SyncState::Offline
        } else {
            SyncState::Error
        };
        let s = self.status_with(state, Some(code), Some(message));
        self.set(s);
    }

    fn drop_all(&mut self) {
        self.twin = None;
        self.socket = None;
        self.stuck = false;
        self.quiet_until = None;
        self.backoff = Duration::ZERO;
        self.due = true;
        self.set(SyncStatus::off());
    }

    fn step(&mut self, rt: &tokio::runtime::Runtime) {
        let Some(shell) = self.shell() else { return };
        if !shell.is_unlocked() {
            self.drop_all();
            return;
        }
        // Whether the vault syncs: the shell's handle is the truth (a
        // sign-in or sign-out goes through it). Busy: try next tick.
        let Some(enabled) = shell.try_with_vault(|v| v.sync_enabled().unwrap_or(false)) else {
            return;
        };
        if !enabled {
            if self.twin.is_some() || lock(&self.worker.status).state != SyncState::Off {
                self.drop_all();
            }
            return;
        }
        if self.stuck || self.quiet_until.is_some_and(|t| Instant::now() < t) {
            return;
        }
        if self.twin.is_none() {
            let Some(opener) = shell.try_with_vault(|v| v.twin_opener()) else {
                return;
            };
            match opener.open(shell.env()) {
                Ok(mut v) => {
                    let _ = v.set_history_session("sync");
                    self.twin = Some(v);
                    self.due = true;
                }
                Err(e) => return self.fail(e.code(), e.to_string()),
            }
        }
        if self.socket.is_none() {
            if let Err((code, message)) = self.connect(rt) {
                return self.fail(&code, message);
            }
        }
        let outgoing = self
            .twin
            .as_ref()
            .is_some_and(|t| t.sync_has_outgoing().unwrap_or(false));
        let periodic = self.last_round.is_none_or(|t| t.elapsed() >= FULL_ROUND);
        if !(self.due || outgoing || periodic) {
            return;
        }
        self.due = false;
        self.last_round = Some(Instant::now());
        let s = self.status_with(SyncState::Syncing, None, None);
        self.set(s);
        match self.round() {
            Ok(()) => {
                self.backoff = Duration::ZERO;
                self.quiet_until = None;
                let s = self.status_with(SyncState::Synced, None, None);
                self.set(s);
            }
            Err(e) => {
                tracing::info!(code = e.code(), "sync round failed");
                self.fail(e.code(), e.to_string())
            }
        }
    }

    fn connect(&mut self, rt: &tokio::runtime::Runtime) -> Result<(), (String, String)> {
        let Some(twin) = &self.twin else {
            return Ok(());
        };
        let e = twin
            .sync_endpoint()
            .map_err(|e| (e.code().to_string(), e.to_string()))?;
        let socket = rt
            .block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(15),
                    Notifications::connect(&e.server, &e.token),
                )
                .await
            })
            .map_err(|_| {
                (
                    "server_unreachable".to_string(),
                    "the sync server did not answer".to_string(),
                )
            })?
            .map_err(|e| (e.code().to_string(), e.to_string()))?;
        self.socket = Some(socket);
        // A notice sent before the socket existed is lost: pull now.
        self.due = true;
        Ok(())
    }

    /// One exchange. Another handle (the UI's, or `pp`) may commit
    /// meanwhile: a `stale` write or moved sync state is taken in and
    /// retried.
    fn round(&mut self) -> Result<(), VaultError> {
        let Some(twin) = self.twin.as_mut() else {
            return Ok(());
        };
        const TRIES: u32 = 3;
        let mut tries = 0;
        loop {
            tries += 1;
            twin.refresh()?;
            let endpoint = twin.sync_endpoint()?;
            let mut t = HttpTransport::new(&endpoint)
                .map_err(productivitypro_core::vault::sync::SyncError::from)?;
            match twin.sync_now(&mut t) {
                Ok(r) => {
                    if r.pulled_ops + r.pushed_batches > 0 {
                        tracing::info!(
                            pushed = r.pushed_batches,
                            pulled = r.pulled_batches,
                            "synced"
                        );
                    }
                    return Ok(());
                }
                Err(e) if tries < TRIES && matches!(e.code(), "stale" | "sync_state_moved") => {}
                Err(e) => return Err(e),
            }
        }
    }
}
