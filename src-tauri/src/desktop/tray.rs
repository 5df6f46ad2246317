//! The tray icon and its menu (Linux reports no clicks on the icon
//! itself, so every action is in the menu).

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Runtime};

use crate::{desktop, emit};

const QUICK_ADD: &str = "tray-quick-add";
const SHOW_HIDE: &str = "tray-show-hide";
const CHECK_UPDATES: &str = "tray-check-updates";
const QUIT: &str = "tray-quit";

pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, QUICK_ADD, "Quick add…", true, None::<&str>)?,
            &MenuItem::with_id(app, SHOW_HIDE, "Show/Hide", true, None::<&str>)?,
            &MenuItem::with_id(app, CHECK_UPDATES, "Check for updates…", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, QUIT, "Quit ProductivityPro", true, None::<&str>)?,
        ],
    )?;
    let mut b = TrayIconBuilder::with_id("main")
        .tooltip("ProductivityPro")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            QUICK_ADD => {
                desktop::window::show_main(app);
                emit::quick_add(app, None);
            }
            SHOW_HIDE => desktop::window::toggle_main(app),
            CHECK_UPDATES => check_updates(app),
            QUIT => {
                tracing::info!("quit from the tray");
                app.exit(0);
            }
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        b = b.icon(icon.clone());
    }
    b.build(app)?;
    Ok(())
}

/// The menu's "Check for updates…": the user asked, so the window comes
/// up to show the result (`update://state`); the same check as the UI's.
fn check_updates<R: Runtime>(app: &AppHandle<R>) {
    desktop::window::show_main(app);
    let Some(updates) = crate::updates::updates(app) else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = updates.check(&app).await {
            tracing::info!(code = %e.code, "update check from the tray not run");
            emit::error(&app, e);
        }
    });
}
