//! What happens before an update replaces the app: changes waiting for
//! sync are pushed (a bounded wait: they stay queued in the vault and go
//! out after the restart if the server is slow), then the vault is closed
//! cleanly — its WAL written back into the file — so the new version
//! (which may migrate the schema) opens a complete file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tauri::{AppHandle, Manager, Runtime};

use crate::dto::LockReason;
use crate::shell::Shell;
use crate::{emit, sync_worker};

/// What was done (for the log and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    /// `None`: nothing to push (locked, no sync, or nothing pending);
    /// `Some(false)`: the wait ran out with changes still queued.
    pub pushed: Option<bool>,
    /// `None`: the vault was locked; `Some(false)`: closed, but another
    /// handle kept part of the WAL (still consistent).
    pub checkpointed: Option<bool>,
}

const POLL: Duration = Duration::from_millis(100);

pub fn run<R: Runtime>(app: &AppHandle<R>, wait: Duration) -> Prepared {
    let Some(shell) = app.try_state::<Arc<Shell>>().map(|s| s.inner().clone()) else {
        return Prepared {
            pushed: None,
            checkpointed: None,
        };
    };
    let pushed = push_pending(app, &shell, wait);
    let checkpointed = match shell.close_vault() {
        None => None,
        Some(Ok(full)) => Some(full),
        Some(Err(e)) => {
            tracing::warn!(code = e.code(), "vault close before update failed");
            Some(false)
        }
    };
    if checkpointed.is_some() {
        emit::locked(app, LockReason::User);
    }
    let p = Prepared {
        pushed,
        checkpointed,
    };
    tracing::info!(pushed = ?p.pushed, checkpointed = ?p.checkpointed, "ready to install");
    p
}

fn outgoing(shell: &Shell) -> Option<bool> {
    shell
        .with_vault(|v| {
            Ok(v.sync_enabled().unwrap_or(false) && v.sync_has_outgoing().unwrap_or(false))
        })
        .ok()
}

fn push_pending<R: Runtime>(app: &AppHandle<R>, shell: &Shell, wait: Duration) -> Option<bool> {
    if outgoing(shell) != Some(true) {
        return None;
    }
    sync_worker::wake(app);
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        std::thread::sleep(POLL);
        if outgoing(shell) == Some(false) {
            return Some(true);
        }
    }
    tracing::warn!("pending sync not pushed before the update; it stays queued");
    Some(false)
}
