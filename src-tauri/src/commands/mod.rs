//! Every `#[tauri::command]` (docs/desktop-ipc.md, "Commands"), thin over
//! the core. The list in `handler` must match `COMMANDS` in build.rs (the
//! app manifest); a test checks it.

pub mod app;
pub mod files;
pub mod sync;
pub mod tasks;
pub mod vault;
pub mod views;

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
    ]
}

/// The command names `handler` serves, for the test against build.rs.
pub const NAMES: &[&str] = &[
    "app_status",
    "activity",
    "bench_first_paint",
    "settings_get",
    "settings_set",
    "vault_create",
    "vault_confirm_recovery",
    "recovery_key_save",
    "vault_unlock",
    "vault_lock",
    "vault_snapshot",
    "slots_list",
    "passphrase_set",
    "recovery_key_new",
    "view_query",
    "tasks_get",
    "task_subtasks",
    "quick_add_preview",
    "parse_due",
    "parse_repeat",
    "task_add",
    "task_update",
    "tasks_complete",
    "tasks_reopen",
    "tasks_trash",
    "tasks_restore",
    "trash_empty",
    "tasks_move",
    "tasks_tag",
    "tasks_priority",
    "undo",
    "redo",
    "list_add",
    "list_update",
    "list_delete",
    "reminder_snooze",
    "backups_list",
    "backup_now",
    "backup_restore",
    "export_to",
    "import_from",
    "sync_status",
    "sync_sign_up",
    "sync_sign_in",
    "sync_now",
    "sync_devices",
    "sync_device_sign_out",
    "sync_sign_out",
];
