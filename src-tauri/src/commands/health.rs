//! Health report commands (docs/desktop-ipc.md, "Health reports"), over
//! `health::Health`.

use std::sync::Arc;

use tauri::{AppHandle, Runtime};

use crate::args::{Args, HealthSetArgs};
use crate::error::{IpcError, IpcResult};
use crate::health::{self, Health};
use crate::health_dto::{HealthPreview, HealthState};
use crate::shell::Shell;

fn get<R: Runtime>(app: &AppHandle<R>) -> IpcResult<Arc<Health>> {
    health::get(app).ok_or_else(|| IpcError::internal("health reports are not set up"))
}

#[tauri::command]
pub async fn health_state<R: Runtime>(app: AppHandle<R>) -> IpcResult<HealthState> {
    Ok(get(&app)?.state())
}

/// The answer to the question, or the Settings toggle.
#[tauri::command]
pub async fn health_set<R: Runtime>(
    app: AppHandle<R>,
    args: Args<HealthSetArgs>,
) -> IpcResult<HealthState> {
    let state = get(&app)?.decide(args.0.enabled)?;
    health::flush_soon(&app);
    Ok(state)
}

#[tauri::command]
pub async fn health_preview<R: Runtime>(
    app: AppHandle<R>,
    shell: tauri::State<'_, Arc<Shell>>,
) -> IpcResult<HealthPreview> {
    let channel = shell.settings().update_channel.into();
    Ok(get(&app)?.preview(channel))
}

/// The page had an uncaught error. Takes nothing: the error's message and
/// stack can hold task text, so they never leave the page. Whether a
/// crash was queued (reports on, the first this run).
#[tauri::command]
pub async fn health_ui_error<R: Runtime>(app: AppHandle<R>) -> IpcResult<bool> {
    get(&app)?;
    Ok(health::ui_crash(&app))
}
