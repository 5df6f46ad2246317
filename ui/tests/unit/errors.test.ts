import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors/app-error';
import { describeCode, describeError, ERROR_TABLE } from '../../src/lib/errors/table';

// Every code the contract (docs/desktop-ipc.md) and the core name.
const CONTRACT_CODES = [
  'stale',
  'wrong_passphrase',
  'keyring_unavailable',
  'keyring_entry_missing',
  'recovery_key_mistyped',
  'wrong_recovery_key',
  'vault_too_new',
  'migration_backup_failed',
  'vault_in_use',
  'pre_migration_copy_not_found',
  'pre_migration_copy_too_new',
  'pre_migration_copy_damaged',
  'task_not_found',
  'vault_locked',
  'undo_empty',
  'redo_empty',
  'undo_conflict',
  'invalid_argument',
  'platform_refused',
  'busy',
  'vault_not_found',
  'vault_exists',
  'vault_corrupt',
  'storage',
  'keyring_damaged',
  'no_such_slot',
  'slot_damaged',
  'record_wrong_key',
  'record_tampered',
  'record_moved',
  'record_unreadable',
  'list_not_found',
  'ambiguous_id',
  'list_exists',
  'list_not_empty',
  'import_conflict',
  'last_slot',
  'passphrase_required',
  'empty_passphrase',
  'parent_cycle',
  'bad_backup',
  'invalid_input',
  'invalid_recurrence',
  'import_malformed',
  'io',
  'quick_add_empty_title',
  'quick_add_bad_priority',
  'quick_add_multiple_priorities',
  'quick_add_multiple_lists',
  'quick_add_unclosed_list_name',
  'quick_add_invalid_date',
  'quick_add_not_a_date',
  'task_trashed',
  'task_not_trashed',
  'no_pending_recovery_key',
  'key_rotated',
  'record_missing',
  'vault_rolled_back',
  'kdf_params_out_of_bounds',
  // Updates (the contract's `update_*` codes)
  'update_offline',
  'update_server',
  'update_signature_invalid',
  'update_version_mismatch',
  'update_downgrade_refused',
  'update_install_failed',
  'update_unavailable',
  'update_no_offer',
  'update_not_ready',
  'update_in_progress',
  // Health reports
  'health_write_failed',
];

describe('the error table', () => {
  it('has plain words and a way out for every contract code', () => {
    for (const code of CONTRACT_CODES) {
      const entry = ERROR_TABLE[code];
      expect(entry, code).toBeDefined();
      expect(entry?.words.length, code).toBeGreaterThan(5);
      if (!['undo_empty', 'redo_empty'].includes(code))
        expect(entry?.wayOut.length, code).toBeGreaterThan(5);
    }
  });

  it('explains the unlock failures specifically', () => {
    expect(describeCode('keyring_unavailable').words).toMatch(/keyring/i);
    expect(describeCode('keyring_entry_missing').wayOut).toMatch(/passphrase or recovery key/);
    expect(describeCode('recovery_key_mistyped').words).toMatch(/typo/);
    expect(describeCode('wrong_passphrase').severity).toBe('warning');
    expect(describeCode('stale').words).toMatch(/changed elsewhere/);
  });

  it('sends a tampered or rolled-back vault to the backups, and a rotated key to a reload', () => {
    for (const code of ['record_missing', 'vault_rolled_back']) {
      expect(describeCode(code).words, code).toMatch(/outside the app/);
      expect(describeCode(code).wayOut, code).toMatch(/backup/i);
      expect(describeCode(code).severity, code).toBe('error');
    }
    expect(describeCode('key_rotated').wayOut).toMatch(/opened again/);
    expect(describeCode('kdf_params_out_of_bounds').wayOut).toMatch(/recovery key/);
  });

  it('falls back for unknown codes without showing the message', () => {
    expect(describeCode('quick_add_something_new').words).toMatch(/Quick add/);
    expect(describeCode('never_heard_of').severity).toBe('error');
    expect(describeCode('toString').words).toBe('Something went wrong.');
    const d = describeError({ code: 'never_heard_of', message: 'secret internals' });
    expect(d.words).not.toContain('secret internals');
    expect(d.details).toBe('secret internals');
  });
});

describe('AppError.from', () => {
  it('keeps IPC errors, wraps everything else as internal', () => {
    expect(AppError.from({ code: 'stale', message: 'm' })).toMatchObject({
      code: 'stale',
      message: 'm',
    });
    expect(AppError.from(new Error('boom'))).toMatchObject({ code: 'internal', message: 'boom' });
    expect(AppError.from('command not allowed')).toMatchObject({
      code: 'internal',
      message: 'command not allowed',
    });
    const e = new AppError('busy', 'x');
    expect(AppError.from(e)).toBe(e);
    expect(e.toIpc()).toEqual({ code: 'busy', message: 'x' });
  });
});
