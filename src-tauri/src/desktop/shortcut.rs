//! The global quick-add shortcut (configurable, none to turn it off).
//!
//! On Linux global shortcuts are X11 key grabs: under Wayland, or without
//! a reachable X display, the platform refuses and the shortcut stays off
//! (`platform_refused`). The probe matters: the shortcut library reports
//! success when its X connection failed.

use std::str::FromStr;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcut, Shortcut, ShortcutState};

use crate::error::{codes, IpcError, IpcResult};
use crate::{desktop, emit};

fn refused(why: impl std::fmt::Display) -> IpcError {
    IpcError::new(
        codes::PLATFORM_REFUSED,
        format!("the system did not accept the global shortcut: {why}"),
    )
}

pub fn parse(text: &str) -> IpcResult<Shortcut> {
    Shortcut::from_str(text.trim()).map_err(|e| {
        IpcError::invalid(format!(
            "`{text}` is not a shortcut ({e}); write e.g. CommandOrControl+Shift+Space"
        ))
    })
}

/// Whether this session can grab keys globally.
pub fn platform_allows() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        if std::env::var("XDG_SESSION_TYPE").as_deref() == Ok("wayland") {
            return Err("global shortcuts are not available in a Wayland session".into());
        }
        if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
            return Err("there is no X display".into());
        }
        if let Err(e) = x11rb::connect(None) {
            return Err(format!("the X display cannot be reached ({e})"));
        }
    }
    Ok(())
}

/// Registers the plugin when the platform allows global shortcuts;
/// otherwise says why not (reported once to the UI, shortcut left off).
pub fn init<R: Runtime>(app: &AppHandle<R>) -> IpcResult<()> {
    platform_allows().map_err(refused)?;
    app.plugin(tauri_plugin_global_shortcut::Builder::new().build())
        .map_err(refused)
}

fn register<R: Runtime>(app: &AppHandle<R>, text: &str) -> IpcResult<()> {
    let s = parse(text)?;
    let gs = app.try_state::<GlobalShortcut<R>>().ok_or_else(|| {
        refused(
            platform_allows()
                .err()
                .unwrap_or_else(|| "not available".into()),
        )
    })?;
    gs.on_shortcut(s, |app, _, event| {
        if event.state == ShortcutState::Pressed {
            desktop::window::show_main(app);
            emit::quick_add(app, None);
        }
    })
    .map_err(refused)?;
    tracing::info!("global shortcut registered");
    Ok(())
}

/// Replaces shortcut `old` by `new`. On failure `old` is registered again
/// and the error returned, so the shortcut in use always matches the
/// stored setting.
pub fn apply<R: Runtime>(
    app: &AppHandle<R>,
    old: Option<&str>,
    new: Option<&str>,
) -> IpcResult<()> {
    if let Some(n) = new {
        parse(n)?;
    }
    if let (Some(o), Some(gs)) = (old, app.try_state::<GlobalShortcut<R>>()) {
        if let Ok(s) = parse(o) {
            let _ = gs.unregister(s);
        }
    }
    let Some(n) = new else { return Ok(()) };
    match register(app, n) {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Some(o) = old {
                let _ = register(app, o);
            }
            Err(e)
        }
    }
}
