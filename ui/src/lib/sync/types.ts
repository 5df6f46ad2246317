// Sync's part of the IPC contract (docs/desktop-ipc.md, "Sync"). The DTOs
// are generated from Rust (src-tauri/src/sync_dto.rs) into ../ipc/bindings.
import type { SyncDeviceDto } from '../ipc/bindings/SyncDeviceDto';
import type { SyncPassphraseArgs } from '../ipc/bindings/SyncPassphraseArgs';
import type { SyncRecoverArgs } from '../ipc/bindings/SyncRecoverArgs';
import type { SyncRecoveryKey } from '../ipc/bindings/SyncRecoveryKey';
import type { SyncRecoveryKeyArgs } from '../ipc/bindings/SyncRecoveryKeyArgs';
import type { SyncSignedUp } from '../ipc/bindings/SyncSignedUp';
import type { SyncStatus } from '../ipc/bindings/SyncStatus';

export type {
  SyncDeviceDto,
  SyncPassphraseArgs,
  SyncRecoverArgs,
  SyncRecoveryKey,
  SyncSignedUp,
  SyncStatus,
};
export type { SyncState } from '../ipc/bindings/SyncState';

export type SyncCredentials = { server: string; email: string; passphrase: string };

export type SyncCommands = {
  sync_status: { args: void; result: SyncStatus };
  sync_sign_up: { args: SyncCredentials; result: SyncSignedUp };
  sync_sign_in: { args: SyncCredentials; result: SyncStatus };
  sync_now: { args: void; result: SyncStatus };
  sync_devices: { args: void; result: SyncDeviceDto[] };
  sync_device_sign_out: { args: { deviceId: string }; result: null };
  sync_sign_out: { args: { discardUnsent?: boolean }; result: SyncStatus };
  sync_passphrase_change: { args: SyncPassphraseArgs; result: null };
  sync_recovery_key_new: { args: SyncRecoveryKeyArgs; result: SyncRecoveryKey };
  sync_recover: { args: SyncRecoverArgs; result: SyncStatus };
};

export type SyncEvents = { 'sync://status': SyncStatus };
