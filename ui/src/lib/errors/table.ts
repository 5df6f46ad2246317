import { AppError } from './app-error';

export type Severity = 'info' | 'warning' | 'error';

/** What a person reads: what happened, and the way out. */
export type ErrorWords = { severity: Severity; words: string; wayOut: string };

/**
 * The one table from error codes (docs/desktop-ipc.md) to words. The UI
 * never shows or branches on an error's `message`; it is only offered as
 * "details" for a bug report.
 */
export const ERROR_TABLE: Readonly<Record<string, ErrorWords>> = {
  // Opening the vault
  keyring_unavailable: {
    severity: 'warning',
    words: "The system keyring isn't available right now.",
    wayOut: 'Unlock with your passphrase or recovery key, or start your keyring and try again.',
  },
  keyring_entry_missing: {
    severity: 'warning',
    words: "The keyring no longer has this vault's key.",
    wayOut: 'Unlock with your passphrase or recovery key; the key is put back in the keyring.',
  },
  keyring_damaged: {
    severity: 'error',
    words: "The keyring's entry for this vault is damaged.",
    wayOut: 'Unlock with your passphrase or recovery key.',
  },
  wrong_passphrase: {
    severity: 'warning',
    words: "That passphrase doesn't open this vault.",
    wayOut: 'Check Caps Lock and try again, or use your recovery key.',
  },
  passphrase_required: {
    severity: 'warning',
    words: 'A passphrase is needed.',
    wayOut: 'Type your passphrase.',
  },
  empty_passphrase: {
    severity: 'warning',
    words: "A passphrase can't be empty.",
    wayOut: 'Type at least one character, or leave the passphrase off.',
  },
  recovery_key_mistyped: {
    severity: 'warning',
    words: 'That recovery key has a typo.',
    wayOut: 'Compare it group by group with the one you saved; letters O/I/L read as 0/1/1.',
  },
  wrong_recovery_key: {
    severity: 'warning',
    words: 'That is a valid recovery key, but not the one for this vault.',
    wayOut: 'Use the recovery key you saved when this vault was created.',
  },
  no_such_slot: {
    severity: 'warning',
    words: "This vault can't be opened that way.",
    wayOut: 'Use another way to unlock: keyring, passphrase or recovery key.',
  },
  slot_damaged: {
    severity: 'error',
    words: 'That way of unlocking is damaged in the vault file.',
    wayOut: 'Use another way to unlock, or restore a backup.',
  },
  last_slot: {
    severity: 'warning',
    words: "That is the last way to open the vault, so it can't be removed.",
    wayOut: 'Add another way to unlock first.',
  },
  vault_locked: {
    severity: 'info',
    words: 'The vault is locked.',
    wayOut: 'Unlock it to continue.',
  },
  vault_not_found: {
    severity: 'error',
    words: "The vault file isn't there any more.",
    wayOut: 'Restore a backup or create a new vault.',
  },
  vault_exists: {
    severity: 'warning',
    words: 'A vault already exists here.',
    wayOut: 'Unlock the existing vault instead.',
  },
  vault_corrupt: {
    severity: 'error',
    words: "The vault file can't be read.",
    wayOut: 'Restore a backup from Settings → Vault.',
  },
  vault_too_new: {
    severity: 'error',
    words: 'This vault was upgraded by a newer version of ProductivityPro.',
    wayOut: 'Update the app, or open the copy saved before the update.',
  },
  vault_in_use: {
    severity: 'warning',
    words:
      'The vault is open in another ProductivityPro window or in `pp` (perhaps another version), so it was not replaced. Nothing was changed.',
    wayOut: 'Close it there, then try again.',
  },
  migration_backup_failed: {
    severity: 'error',
    words:
      "The vault needs upgrading to this version's format, but a copy of it couldn't be saved first, so nothing was changed.",
    wayOut: 'Free some disk space (or make the vault folder writable), then try again.',
  },
  pre_migration_copy_not_found: {
    severity: 'error',
    words: "That copy from before the update isn't there any more.",
    wayOut: 'Choose another copy, or update the app.',
  },
  pre_migration_copy_too_new: {
    severity: 'error',
    words: 'That copy was also written by a newer version, so this one cannot open it.',
    wayOut: 'Choose another copy, or update the app.',
  },
  pre_migration_copy_damaged: {
    severity: 'error',
    words: 'That copy from before the update is damaged. Nothing was changed.',
    wayOut: 'Choose another copy, or update the app.',
  },
  record_wrong_key: {
    severity: 'error',
    words: "Some tasks were sealed with a key this vault doesn't have.",
    wayOut: 'Restore a backup from Settings → Vault.',
  },
  record_tampered: {
    severity: 'error',
    words: 'Some tasks were changed outside the app and were not loaded.',
    wayOut: 'Restore a backup from Settings → Vault.',
  },
  record_moved: {
    severity: 'error',
    words: 'Some tasks were moved around inside the vault file and were not loaded.',
    wayOut: 'Restore a backup from Settings → Vault.',
  },
  record_unreadable: {
    severity: 'error',
    words: "Some tasks can't be read.",
    wayOut: 'Restore a backup from Settings → Vault.',
  },
  kdf_params_out_of_bounds: {
    severity: 'error',
    words:
      'The passphrase lock in the vault file asks for far more work than this app allows, so the file was altered or made by another tool.',
    wayOut: 'Unlock with your recovery key instead.',
  },
  key_rotated: {
    severity: 'warning',
    words:
      "The vault's key was changed by another program (for example `pp vault rotate`); nothing was saved.",
    wayOut: 'The vault is being opened again; then make your change once more.',
  },
  record_missing: {
    severity: 'error',
    words:
      'Tasks were deleted from the vault file outside the app (the file was tampered with). Nothing was changed.',
    wayOut: 'Restore a backup from Settings → Vault → Backups.',
  },
  vault_rolled_back: {
    severity: 'error',
    words:
      'The vault file was replaced with older data outside the app (rolled back or tampered with). Nothing was changed.',
    wayOut: 'Restore your latest backup from Settings → Vault → Backups.',
  },
  // Everyday work
  stale: {
    severity: 'info',
    words: 'That was changed elsewhere; the latest version is shown now.',
    wayOut: 'Make your change again if it is still needed.',
  },
  task_not_found: {
    severity: 'info',
    words: 'That task no longer exists.',
    wayOut: 'It may have been removed elsewhere; the list is up to date now.',
  },
  list_not_found: {
    severity: 'info',
    words: 'That list no longer exists.',
    wayOut: 'It may have been removed elsewhere; the sidebar is up to date now.',
  },
  list_exists: {
    severity: 'warning',
    words: 'A list with that name already exists.',
    wayOut: 'Pick another name.',
  },
  list_not_empty: {
    severity: 'warning',
    words: 'That list still has tasks.',
    wayOut: 'Delete it together with its tasks, or move them first.',
  },
  task_trashed: {
    severity: 'info',
    words: 'That task is in the trash.',
    wayOut: 'Restore it from the Trash first.',
  },
  task_not_trashed: {
    severity: 'info',
    words: 'That task is not in the trash any more.',
    wayOut: 'It may have been restored elsewhere; the list is up to date now.',
  },
  no_pending_recovery_key: {
    severity: 'warning',
    words: 'There is no new recovery key waiting to be confirmed.',
    wayOut: 'Make a new recovery key in Settings → Vault.',
  },
  ambiguous_id: {
    severity: 'warning',
    words: 'More than one task matches.',
    wayOut: 'Pick the task from the list.',
  },
  parent_cycle: {
    severity: 'warning',
    words: "A task can't be a subtask of itself or of its own subtasks.",
    wayOut: 'Pick another parent.',
  },
  invalid_input: {
    severity: 'warning',
    words: "That value can't be saved.",
    wayOut: 'Check what you typed and try again.',
  },
  invalid_argument: {
    severity: 'error',
    words: "The app sent something the vault can't accept.",
    wayOut: 'Try again; if it keeps happening, report it with the details.',
  },
  invalid_recurrence: {
    severity: 'warning',
    words: "That repeat rule isn't understood.",
    wayOut: 'Try e.g. "every monday", "every 2 weeks", "every 15th".',
  },
  undo_empty: { severity: 'info', words: 'Nothing to undo.', wayOut: '' },
  redo_empty: { severity: 'info', words: 'Nothing to redo.', wayOut: '' },
  undo_conflict: {
    severity: 'warning',
    words: "That can't be undone: the tasks were changed since.",
    wayOut: 'Change them back by hand.',
  },
  // Files, backups, import/export
  import_malformed: {
    severity: 'warning',
    words: "That file can't be imported; nothing was changed.",
    wayOut: 'Check the format you picked matches the file.',
  },
  import_conflict: {
    severity: 'warning',
    words: 'That file has tasks that already exist here; nothing was changed.',
    wayOut: 'Import it into a new vault, or remove the duplicates from the file.',
  },
  bad_backup: {
    severity: 'error',
    words: "That backup can't be restored.",
    wayOut: 'Pick another backup.',
  },
  io: {
    severity: 'error',
    words: "A file couldn't be read or written.",
    wayOut: 'Check the folder exists and you may write there.',
  },
  storage: {
    severity: 'error',
    words: 'The vault file could not be written.',
    wayOut: 'Check there is free disk space, then try again.',
  },
  busy: {
    severity: 'info',
    words: 'Another long operation is still running.',
    wayOut: 'Wait for it to finish, then try again.',
  },
  platform_refused: {
    severity: 'warning',
    words: 'Your system refused that setting.',
    wayOut: 'Pick another shortcut, or leave it off.',
  },
  // Quick add (the grammar's errors)
  quick_add_empty_title: {
    severity: 'warning',
    words: 'A task needs a title: everything was read as list, tags, priority or date.',
    wayOut: 'Start a word with \\ to keep it in the title.',
  },
  quick_add_bad_priority: {
    severity: 'warning',
    words: 'Priority is !1 (most urgent) to !4.',
    wayOut: 'Use !1, !2, !3 or !4.',
  },
  quick_add_multiple_priorities: {
    severity: 'warning',
    words: 'Two priorities were given.',
    wayOut: 'Keep one of !1 to !4.',
  },
  quick_add_multiple_lists: {
    severity: 'warning',
    words: 'Two lists were given; a task is in one list.',
    wayOut: 'Keep one #list, or write \\# for a literal #.',
  },
  quick_add_unclosed_list_name: {
    severity: 'warning',
    words: 'A list name has no closing quote.',
    wayOut: 'Write #"two words".',
  },
  quick_add_invalid_date: {
    severity: 'warning',
    words: "That date doesn't exist.",
    wayOut: 'Check the day and month.',
  },
  quick_add_not_a_date: {
    severity: 'warning',
    words: "That isn't a date I understand.",
    wayOut: 'Try tomorrow 9am, fri, next week, in 3 days, dec 1 or 2026-12-01.',
  },
  // Sync (docs/sync-protocol.md §10; the shell's sync codes)
  invalid_server: {
    severity: 'warning',
    words: "That isn't a sync server address.",
    wayOut: 'Use the full address, starting with https://.',
  },
  invalid_email: {
    severity: 'warning',
    words: "That email address doesn't look right.",
    wayOut: 'Check it and try again.',
  },
  invalid_credentials: {
    severity: 'warning',
    words: "That email and sync passphrase don't match an account.",
    wayOut:
      'Check both (the sync passphrase is not the vault passphrase), or use “Forgot passphrase” with your sync recovery key.',
  },
  account_exists: {
    severity: 'warning',
    words: 'There is already a sync account for that email.',
    wayOut: 'Sign in instead.',
  },
  server_unreachable: {
    severity: 'warning',
    words: "The sync server can't be reached.",
    wayOut: 'Changes are kept here and sent when the connection is back.',
  },
  storage_unavailable: {
    severity: 'warning',
    words: 'The sync server is having trouble.',
    wayOut: 'Changes are kept here; sync retries by itself.',
  },
  rate_limited: {
    severity: 'warning',
    words: 'The sync server asked to slow down.',
    wayOut: 'Sync retries by itself in a moment.',
  },
  device_signed_out: {
    severity: 'error',
    words: 'This device was signed out of sync from another device.',
    wayOut: 'Sign out here and sign in again to keep syncing.',
  },
  invalid_token: {
    severity: 'error',
    words: 'The sync server no longer accepts this device.',
    wayOut: 'Sign out here and sign in again.',
  },
  account_mismatch: {
    severity: 'error',
    words: 'This vault synced with another account before.',
    wayOut: 'Sign in to that account; tasks of two accounts are never mixed.',
  },
  key_id_mismatch: {
    severity: 'error',
    words: "The server's account key doesn't match what it claims.",
    wayOut: 'Nothing was merged or sent. Check the server address.',
  },
  too_many_devices: {
    severity: 'warning',
    words: 'This account has too many devices signed in.',
    wayOut: 'Sign one out in Settings → Sync on another device.',
  },
  sync_unsent: {
    severity: 'warning',
    words: 'Some changes here were not sent yet.',
    wayOut: 'Sync first, or sign out anyway and lose them on other devices.',
  },
  sync_already_on: {
    severity: 'info',
    words: 'This vault already syncs.',
    wayOut: 'Sign out of sync first to use another account.',
  },
  sync_off: {
    severity: 'info',
    words: "This vault doesn't sync.",
    wayOut: 'Sign in or create an account in Settings → Sync.',
  },
  record_purged: {
    severity: 'warning',
    words: 'That was deleted for good, so it cannot come back.',
    wayOut: 'Add it again instead.',
  },
  bad_response: {
    severity: 'error',
    words: "The sync server's answer couldn't be used.",
    wayOut: 'Check the server address; sync retries later.',
  },
  cursor_ahead: {
    severity: 'error',
    words: "The sync server doesn't know this device's history.",
    wayOut: 'Sign out of sync and sign in again.',
  },
  sync_tampered: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_dropped: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_replayed: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_reordered: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_rolled_back: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_withheld: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_forked: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_device_swapped: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_foreign_account: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_wrong_key: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_malformed: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_inconsistent_page: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_bad_snapshot: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  sync_ack_mismatch: {
    severity: 'error',
    words:
      'The sync server sent changes that fail their integrity checks; nothing from them was merged.',
    wayOut: 'Sync retries later. If this stays, the server may be faulty or tampered with.',
  },
  // Updates (docs/desktop-ipc.md, "Updates")
  update_offline: {
    severity: 'warning',
    words: "The update service can't be reached.",
    wayOut: 'Check your internet connection; the app tries again by itself.',
  },
  update_server: {
    severity: 'warning',
    words: 'The update service had a problem answering.',
    wayOut: 'The app tries again by itself later, or try again now.',
  },
  update_signature_invalid: {
    severity: 'error',
    words: "The download was refused: it isn't signed by ProductivityPro.",
    wayOut: 'Nothing was installed. Try again later; if it keeps happening, report it.',
  },
  update_version_mismatch: {
    severity: 'error',
    words: "The download was refused: its signed version isn't the one offered.",
    wayOut: 'Nothing was installed. Try again later; if it keeps happening, report it.',
  },
  update_downgrade_refused: {
    severity: 'error',
    words: 'An older version was offered without a signed rollback, so it was refused.',
    wayOut: 'You stay on this version. If it keeps happening, report it.',
  },
  update_install_failed: {
    severity: 'error',
    words: "The update couldn't be installed.",
    wayOut:
      'You are still on the current version and your tasks are safe. Try again, or install the new version from the website.',
  },
  update_unavailable: {
    severity: 'info',
    words: "This copy of ProductivityPro can't update itself.",
    wayOut: 'Update it the way you installed it (your package manager or the website).',
  },
  update_no_offer: {
    severity: 'info',
    words: 'There is no update to download.',
    wayOut: 'Check for updates first.',
  },
  update_not_ready: {
    severity: 'info',
    words: "The update hasn't finished downloading yet.",
    wayOut: 'Wait for the download to finish, then restart to update.',
  },
  update_in_progress: {
    severity: 'info',
    words: 'An update check or download is already running.',
    wayOut: 'Wait for it to finish.',
  },
  // Health reports
  health_write_failed: {
    severity: 'error',
    words: "Your health report choice couldn't be saved.",
    wayOut: 'Check that the disk has space and try again.',
  },
  internal: {
    severity: 'error',
    words: 'Something went wrong.',
    wayOut: 'Try again; if it keeps happening, report it with the details.',
  },
};

const UNKNOWN: ErrorWords = {
  severity: 'error',
  words: 'Something went wrong.',
  wayOut: 'Try again; if it keeps happening, report it with the details.',
};

const QUICK_ADD_UNKNOWN: ErrorWords = {
  severity: 'warning',
  words: "Quick add couldn't read that line.",
  wayOut: 'Check the list, tags, priority and date you typed.',
};

export function describeCode(code: string): ErrorWords {
  const known = Object.hasOwn(ERROR_TABLE, code) ? ERROR_TABLE[code] : undefined;
  if (known) return known;
  if (code.startsWith('quick_add_')) return QUICK_ADD_UNKNOWN;
  return UNKNOWN;
}

export function describeError(e: unknown): ErrorWords & { code: string; details: string } {
  const err = AppError.from(e);
  return { ...describeCode(err.code), code: err.code, details: err.message };
}
