//! Generates the Tauri context and an app manifest, so every app command
//! below gets an `allow-<command>` permission and is permission-checked
//! like plugin commands (the capability in `capabilities/` grants them).

/// Every `#[tauri::command]` the UI may call (docs/desktop-ipc.md).
const COMMANDS: &[&str] = &[
    "app_status",
    "activity",
    "bench_first_paint",
    "vault_create",
    "vault_confirm_recovery",
    "recovery_key_save",
    "vault_unlock",
    "vault_lock",
    "vault_snapshot",
    "view_query",
    "tasks_get",
    "task_subtasks",
    "quick_add_preview",
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
    "parse_due",
    "parse_repeat",
    "list_add",
    "list_update",
    "list_delete",
    "settings_get",
    "settings_set",
    "slots_list",
    "passphrase_set",
    "recovery_key_new",
    "backups_list",
    "backup_now",
    "backup_restore",
    "export_to",
    "import_from",
    "reminder_snooze",
    "sync_status",
    "sync_sign_up",
    "sync_sign_in",
    "sync_now",
    "sync_devices",
    "sync_device_sign_out",
    "sync_sign_out",
    "sync_passphrase_change",
    "sync_recovery_key_new",
    "sync_recover",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script failed");
}
