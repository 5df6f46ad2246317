//! In-app update commands (docs/desktop-ipc.md, "Updates"), over
//! `updates::Updates`. Progress and every other change arrive as
//! `update://state`.

use std::sync::Arc;

use tauri::{AppHandle, Runtime};

use crate::error::{IpcError, IpcResult};
use crate::update_dto::UpdateState;
use crate::updates::{self, codes, Updates};

fn get<R: Runtime>(app: &AppHandle<R>) -> IpcResult<Arc<Updates>> {
    updates::updates(app)
        .ok_or_else(|| IpcError::new(codes::UNAVAILABLE, "updates are not set up in this app"))
}

#[tauri::command]
pub async fn update_state<R: Runtime>(app: AppHandle<R>) -> IpcResult<UpdateState> {
    Ok(get(&app)?.state())
}

/// Checks now; resolves when the check finished.
#[tauri::command]
pub async fn update_check<R: Runtime>(app: AppHandle<R>) -> IpcResult<UpdateState> {
    get(&app)?.check(&app).await
}

/// Starts downloading the offer; returns at once (`downloading`).
#[tauri::command]
pub async fn update_download<R: Runtime>(app: AppHandle<R>) -> IpcResult<UpdateState> {
    get(&app)?.begin_download(&app)
}

/// Only when `ready`: closes the vault, pushes pending sync, installs,
/// restarts.
#[tauri::command]
pub async fn update_install<R: Runtime>(app: AppHandle<R>) -> IpcResult<()> {
    get(&app)?.install(&app).await
}

/// Puts this offer's notice off until the next start or a newer offer.
#[tauri::command]
pub async fn update_later<R: Runtime>(app: AppHandle<R>) -> IpcResult<UpdateState> {
    Ok(get(&app)?.later())
}
