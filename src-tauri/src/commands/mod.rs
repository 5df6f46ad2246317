//! Every `#[tauri::command]` (docs/desktop-ipc.md, "Commands"), thin over
//! the core. The list in `handler` must match `NAMES` (`names.rs`, which
//! build.rs also reads for the app manifest); a test checks it.

pub mod app;
pub mod files;
pub mod health;
pub mod sync;
pub mod tasks;
pub mod updates;
pub mod vault;
pub mod views;

mod names;
pub use names::NAMES;

use tauri::ipc::Invoke;
use tauri::Runtime;

/// The commands the UI may call (permission-checked against
/// `capabilities/main-window.json`).
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        app::app_status,
        app::activity,
        app::bench_first_paint,
        app::settings_get,
        app::settings_set,
        vault::vault_create,
        vault::vault_confirm_recovery,
        vault::recovery_key_save,
        vault::vault_unlock,
        vault::vault_lock,
        vault::vault_snapshot,
        vault::slots_list,
        vault::passphrase_set,
        vault::recovery_key_new,
        vault::pre_migration_list,
        vault::pre_migration_restore,
        views::view_query,
        views::tasks_get,
        views::task_subtasks,
        views::quick_add_preview,
        views::parse_due,
        views::parse_repeat,
        tasks::task_add,
        tasks::task_update,
        tasks::tasks_complete,
        tasks::tasks_reopen,
        tasks::tasks_trash,
        tasks::tasks_restore,
        tasks::trash_empty,
        tasks::tasks_move,
        tasks::tasks_tag,
        tasks::tasks_priority,
        tasks::undo,
        tasks::redo,
        tasks::list_add,
        tasks::list_update,
        tasks::list_delete,
        tasks::reminder_snooze,
        files::backups_list,
        files::backup_now,
        files::backup_restore,
        files::export_to,
        files::import_from,
        sync::sync_status,
        sync::sync_sign_up,
        sync::sync_sign_in,
        sync::sync_now,
        sync::sync_devices,
        sync::sync_device_sign_out,
        sync::sync_sign_out,
        sync::sync_passphrase_change,
        sync::sync_recovery_key_new,
        sync::sync_recover,
        updates::update_state,
        updates::update_check,
        updates::update_download,
        updates::update_install,
        updates::update_later,
        health::health_state,
        health::health_set,
        health::health_preview,
        health::health_ui_error,
    ]
}
