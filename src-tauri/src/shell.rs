//! What the running app holds: where the vault is, the unlocked vault (or
//! nothing), the settings, a recovery key waiting to be confirmed, and
//! what this launch asked for. One `Shell` per process, managed by Tauri
//! as `Arc<Shell>` so background threads can hold it too.
//!
//! Must hold:
//! - the data key and every decrypted task live only inside the `Vault`
//!   in `vault`; locking drops it (the core zeroizes the key on drop);
//! - at most one long operation (create, unlock, import, restore,
//!   rotation) runs at a time (`busy`); others get `busy`, never a freeze;
//! - vault work runs off the main thread (`blocking`), so the window keeps
//!   painting while Argon2id or a 100k-task load runs.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use productivitypro_core::{Clock, Env, RecoveryKey, Vault};

use crate::dto::LaunchRequest;
use crate::error::{IpcError, IpcResult};
use crate::settings::{Settings, SettingsFile};

/// Makes the `Env` each vault is opened with (the real clock and OS
/// randomness in the app; a fixed clock in tests).
pub type EnvFactory = Arc<dyn Fn() -> Env + Send + Sync>;

/// The undo/redo session the app records into (`pp` uses "cli").
pub const HISTORY_SESSION: &str = "app";

/// Where things are and what time it is; fixed for the life of the process.
#[derive(Clone)]
pub struct ShellConfig {
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    pub env: EnvFactory,
    /// The same clock the vault's `Env` uses: idle lock and reminders
    /// read it, so tests move time for both at once.
    pub clock: Arc<dyn Clock>,
    /// The zone dates mean (the vaults' `Env` uses the same).
    pub tz: chrono_tz::Tz,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The core's code for "another process rotated the data key".
const KEY_ROTATED: &str = "key_rotated";

pub struct Shell {
    pub cfg: ShellConfig,
    vault: Mutex<Option<Vault>>,
    unlocked: AtomicBool,
    busy: AtomicBool,
    /// A new recovery key the user has been shown but not yet confirmed.
    pending_recovery: Mutex<Option<RecoveryKey>>,
    settings: Mutex<Settings>,
    settings_file: SettingsFile,
    last_activity: Mutex<DateTime<Utc>>,
    launch: Mutex<LaunchRequest>,
    notices: Mutex<Vec<IpcError>>,
}

/// Holds the `busy` flag for one long operation.
pub struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Shell {
    pub fn new(cfg: ShellConfig) -> Self {
        let settings_file = SettingsFile::in_dir(&cfg.config_dir);
        let (settings, notice) = settings_file.load();
        let now = cfg.clock.now();
        Shell {
            vault: Mutex::new(None),
            unlocked: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            pending_recovery: Mutex::new(None),
            settings: Mutex::new(settings),
            settings_file,
            last_activity: Mutex::new(now),
            launch: Mutex::new(LaunchRequest::default()),
            notices: Mutex::new(notice.into_iter().collect()),
            cfg,
        }
    }

    pub fn env(&self) -> Env {
        (self.cfg.env)()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.cfg.clock.now()
    }

    pub fn vault_exists(&self) -> bool {
        Vault::exists(&self.cfg.data_dir)
    }

    pub fn is_unlocked(&self) -> bool {
        self.unlocked.load(Ordering::Acquire)
    }

    /// Starts a long operation, or says another one is running.
    pub fn begin_long(&self) -> IpcResult<BusyGuard<'_>> {
        self.busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| BusyGuard(&self.busy))
            .map_err(|_| IpcError::busy())
    }

    /// Runs `f` on the unlocked vault, or fails with `vault_locked`.
    ///
    /// `key_rotated` means another process (`pp rotate`) replaced the data
    /// key: the key this vault holds can neither read nor write any more,
    /// so it is dropped here and the UI opens the vault again.
    pub fn with_vault<T>(&self, f: impl FnOnce(&mut Vault) -> IpcResult<T>) -> IpcResult<T> {
        let mut g = lock(&self.vault);
        let r = match g.as_mut() {
            Some(v) => f(v),
            None => return Err(IpcError::locked()),
        };
        if matches!(&r, Err(e) if e.code == KEY_ROTATED) {
            tracing::warn!("the data key was rotated elsewhere; vault closed");
            *g = None;
            self.unlocked.store(false, Ordering::Release);
        }
        r
    }

    /// Like `with_vault`, but gives up at once when another thread holds
    /// the vault (for background polls that can simply try again).
    pub fn try_with_vault<T>(&self, f: impl FnOnce(&mut Vault) -> T) -> Option<T> {
        let mut g = match self.vault.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        g.as_mut().map(f)
    }

    /// Installs a freshly opened vault (replacing any other).
    pub fn install(&self, mut vault: Vault) -> IpcResult<()> {
        vault.set_history_session(HISTORY_SESSION)?;
        // What loading found is in the snapshot; nothing is "changed" yet.
        vault.take_changes();
        *lock(&self.vault) = Some(vault);
        self.unlocked.store(true, Ordering::Release);
        self.touch();
        Ok(())
    }

    /// Drops the vault: the data key is zeroized and every decrypted task
    /// freed. Returns whether it was unlocked.
    pub fn lock_vault(&self) -> bool {
        let old = lock(&self.vault).take();
        self.unlocked.store(false, Ordering::Release);
        // A recovery key waiting to be confirmed is a secret too.
        *lock(&self.pending_recovery) = None;
        let was = old.is_some();
        drop(old);
        if was {
            crate::memory::release_freed();
        }
        was
    }

    /// Closes the vault for good before an update: like `lock_vault`, but
    /// the WAL is checkpointed into the file and close errors reported
    /// (`Vault::close`). `None`: it was locked.
    pub fn close_vault(&self) -> Option<Result<bool, productivitypro_core::VaultError>> {
        let old = lock(&self.vault).take();
        self.unlocked.store(false, Ordering::Release);
        *lock(&self.pending_recovery) = None;
        let r = old.map(Vault::close);
        if r.is_some() {
            crate::memory::release_freed();
        }
        r
    }

    pub fn set_pending_recovery(&self, key: RecoveryKey) {
        *lock(&self.pending_recovery) = Some(key);
    }

    pub fn with_pending_recovery<T>(&self, f: impl FnOnce(Option<&RecoveryKey>) -> T) -> T {
        f(lock(&self.pending_recovery).as_ref())
    }

    pub fn clear_pending_recovery(&self) {
        *lock(&self.pending_recovery) = None;
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub fn settings_file(&self) -> &SettingsFile {
        &self.settings_file
    }

    pub fn store_settings(&self, s: Settings) -> IpcResult<()> {
        self.settings_file.save(&s)?;
        *lock(&self.settings) = s;
        Ok(())
    }

    /// The user did something: the idle lock starts counting again.
    pub fn touch(&self) {
        *lock(&self.last_activity) = self.now();
    }

    pub fn last_activity(&self) -> DateTime<Utc> {
        *lock(&self.last_activity)
    }

    pub fn request_launch(&self, f: impl FnOnce(&mut LaunchRequest)) {
        f(&mut lock(&self.launch));
    }

    /// What this launch asked for, once.
    pub fn take_launch(&self) -> LaunchRequest {
        std::mem::take(&mut lock(&self.launch))
    }

    pub fn add_notice(&self, e: IpcError) {
        lock(&self.notices).push(e);
    }

    pub fn take_notices(&self) -> Vec<IpcError> {
        std::mem::take(&mut lock(&self.notices))
    }
}

/// Runs vault work on the blocking pool so the main thread (and the
/// window) never waits for it.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> IpcResult<T> + Send + 'static,
) -> IpcResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| IpcError::internal(format!("background task failed: {e}")))?
}
