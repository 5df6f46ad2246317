//! Starting with the session: the real autostart entry
//! (`~/.config/autostart/…desktop` on Linux), off by default. An autostarted
//! app starts in the tray with its window hidden.

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::{AutoLaunchManager, ManagerExt};

use crate::error::{codes, IpcError, IpcResult};

/// The argument the autostart entry starts the app with.
pub const AUTOSTARTED_ARG: &str = "--autostarted";

pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri_plugin_autostart::Builder::new()
        .args([AUTOSTARTED_ARG])
        .build()
}

fn refused(e: impl std::fmt::Display) -> IpcError {
    IpcError::new(
        codes::PLATFORM_REFUSED,
        format!("the system did not accept the autostart entry: {e}"),
    )
}

/// Creates or removes the autostart entry.
pub fn apply<R: Runtime>(app: &AppHandle<R>, enabled: bool) -> IpcResult<()> {
    if app.try_state::<AutoLaunchManager>().is_none() {
        return Err(refused("autostart is not available here"));
    }
    let m = app.autolaunch();
    let r = if enabled { m.enable() } else { m.disable() };
    r.map_err(refused)?;
    // Some platforms accept and ignore: check what is there now.
    match m.is_enabled() {
        Ok(now) if now == enabled => {
            tracing::info!(enabled, "autostart entry set");
            Ok(())
        }
        Ok(_) => Err(refused("the entry did not change")),
        Err(e) => Err(refused(e)),
    }
}

/// At start: make the entry match the setting (it may have been removed
/// or added outside the app).
pub fn sync<R: Runtime>(app: &AppHandle<R>, enabled: bool) -> IpcResult<()> {
    if app.try_state::<AutoLaunchManager>().is_none() {
        return Ok(());
    }
    match app.autolaunch().is_enabled() {
        Ok(now) if now == enabled => Ok(()),
        _ => apply(app, enabled),
    }
}
