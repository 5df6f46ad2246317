//! Events to the UI (docs/desktop-ipc.md, "Events"). Logged by name and
//! counts only: payloads carry task content.

use tauri::{AppHandle, Emitter, Runtime};

use crate::dto::{events, Changes, LockReason, LockedEvent, NavigateEvent, QuickAddEvent};
use crate::error::IpcError;

fn send<R: Runtime, T: serde::Serialize + Clone>(app: &AppHandle<R>, name: &str, payload: T) {
    if let Err(e) = app.emit(name, payload) {
        tracing::warn!(event = name, error = %e, "emit failed");
    }
}

pub fn changed<R: Runtime>(app: &AppHandle<R>, c: Changes) {
    tracing::info!(
        event = events::VAULT_CHANGED,
        tasks = c.tasks.len(),
        removed = c.removed_tasks.len(),
        lists = c.lists.len(),
        "outside change"
    );
    send(app, events::VAULT_CHANGED, c);
}

pub fn locked<R: Runtime>(app: &AppHandle<R>, reason: LockReason) {
    tracing::info!(event = events::VAULT_LOCKED, ?reason, "vault locked");
    send(app, events::VAULT_LOCKED, LockedEvent { reason });
}

pub fn quick_add<R: Runtime>(app: &AppHandle<R>, text: Option<String>) {
    tracing::info!(
        event = events::QUICK_ADD,
        with_text = text.is_some(),
        "quick add requested"
    );
    send(app, events::QUICK_ADD, QuickAddEvent { text });
}

pub fn navigate<R: Runtime>(app: &AppHandle<R>, e: NavigateEvent) {
    tracing::info!(event = events::NAVIGATE, task = ?e.task_id, "navigate");
    send(app, events::NAVIGATE, e);
}

pub fn error<R: Runtime>(app: &AppHandle<R>, e: IpcError) {
    tracing::warn!(event = events::ERROR, code = %e.code, "background failure");
    send(app, events::ERROR, e);
}
