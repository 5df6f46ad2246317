// Sync's part of the IPC contract (docs/desktop-ipc.md, "Sync"). The DTOs
// are generated from Rust (src-tauri/src/sync_dto.rs) into ../ipc/bindings.
import type { SyncDeviceDto } from '../ipc/bindings/SyncDeviceDto';
import type { SyncSignedUp } from '../ipc/bindings/SyncSignedUp';
import type { SyncStatus } from '../ipc/bindings/SyncStatus';

export type { SyncDeviceDto, SyncSignedUp, SyncStatus };
export type { SyncState } from '../ipc/bindings/SyncState';

export type SyncCredentials = { server: string; email: string; passphrase: string };

export type SyncPassphraseArgs = {
  current: string;
  newPassphrase: string;
  signOutOtherDevices?: boolean;
};

export type SyncRecoverArgs = {
  server: string;
  email: string;
  recoveryKey: string;
  newPassphrase: string;
  signOutOtherDevices?: boolean;
};

export type SyncCommands = {
  sync_status: { args: void; result: SyncStatus };
  sync_sign_up: { args: SyncCredentials; result: SyncSignedUp };
  sync_sign_in: { args: SyncCredentials; result: SyncStatus };
  sync_now: { args: void; result: SyncStatus };
  sync_devices: { args: void; result: SyncDeviceDto[] };
  sync_device_sign_out: { args: { deviceId: string }; result: null };
  sync_sign_out: { args: { discardUnsent?: boolean }; result: SyncStatus };
  sync_passphrase_change: { args: SyncPassphraseArgs; result: null };
  sync_recovery_key_new: { args: { passphrase: string }; result: { recoveryKey: string } };
  sync_recover: { args: SyncRecoverArgs; result: SyncStatus };
};

export type SyncEvents = { 'sync://status': SyncStatus };
