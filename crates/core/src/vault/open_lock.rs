//! Who has the vault open, across processes and app versions.
//!
//! What must hold: the live vault file is never moved aside (a restore,
//! `BuiltDb::place_replacing`) while any handle has it open. On Unix a
//! rename does not stop an open handle: the app would go on writing into
//! the file that was moved aside, and everything it saved after the
//! restore would be lost from the vault the user sees.
//!
//! Every open vault handle (the app's, its sync worker's, `pp`'s) holds a
//! shared lock on `<vault dir>/vault.lock` for its lifetime; a restore takes
//! the lock exclusively and gives up with `vault_in_use` if it cannot get
//! it in time. The lock file holds nothing and is never removed (removing
//! a lock file races with a process about to lock it). Locks belong to
//! the open file, so they end with the process however it ends. Apps from
//! before this lock existed take no lock and are not detected; nor is
//! anything on a file system that refuses locks (some network shares),
//! where the vault still opens and restores as before rather than not at
//! all.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::VaultError;

pub const LOCK_FILE: &str = "vault.lock";

/// How long a restore waits for other handles to close: long enough for
/// the app's sync worker to drop its handle after the vault is locked
/// (it checks every 200 ms, or after a sync round it is in, which times
/// out at 15 s).
pub const RESTORE_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

/// Held while the vault is open (shared) or being replaced (exclusive);
/// released on drop.
#[derive(Debug)]
pub(crate) struct OpenLock {
    _file: File,
}

fn open_file(dir: &Path) -> Result<File, VaultError> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    Ok(o.open(dir.join(LOCK_FILE))?)
}

impl OpenLock {
    /// For a handle that opens the vault. Waits only while a restore holds
    /// the lock (the few file renames it makes), so that a vault being
    /// replaced is opened after, never during.
    pub(crate) fn shared(dir: &Path) -> Result<OpenLock, VaultError> {
        let file = open_file(dir)?;
        // A file system without locks: open all the same (see above).
        let _ = file.lock_shared();
        Ok(OpenLock { _file: file })
    }

    /// For replacing the live vault: only once no handle has it open.
    /// `wait` bounds how long other handles may take to close.
    pub(crate) fn exclusive(dir: &Path, wait: Duration) -> Result<OpenLock, VaultError> {
        let file = open_file(dir)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(OpenLock { _file: file }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(POLL)
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(VaultError::InUse {
                        dir: dir.to_path_buf(),
                    })
                }
                // No locks on this file system: nothing to wait for.
                Err(TryLockError::Error(_)) => return Ok(OpenLock { _file: file }),
            }
        }
    }
}
