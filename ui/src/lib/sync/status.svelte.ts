import type { Backend, Unlisten } from '../ipc/backend';
import type { SyncStatus } from './types';

const OFF: SyncStatus = {
  state: 'off',
  code: null,
  message: null,
  server: null,
  email: null,
  deviceId: null,
  lastSync: null,
  pending: false,
};

/**
 * The shell's sync status: read once, then kept current by `sync://status`
 * (sent whenever it changes). One per backend, shared by the indicator and
 * the Settings → Sync page.
 */
export class SyncStatusStore {
  status = $state.raw<SyncStatus>(OFF);
  private unlisten: Unlisten | null = null;
  private started: Promise<void> | null = null;

  constructor(private readonly backend: Backend) {}

  start(): Promise<void> {
    this.started ??= (async () => {
      this.unlisten = await this.backend.on('sync://status', (s) => (this.status = s));
      try {
        this.status = await this.backend.call('sync_status');
      } catch {
        // An older shell, or a fake without sync: stays off.
      }
    })();
    return this.started;
  }

  set(s: SyncStatus) {
    this.status = s;
  }

  stop() {
    this.unlisten?.();
    this.unlisten = null;
    this.started = null;
  }
}

const stores = new WeakMap<Backend, SyncStatusStore>();

export function syncStatusFor(backend: Backend): SyncStatusStore {
  let s = stores.get(backend);
  if (!s) {
    s = new SyncStatusStore(backend);
    stores.set(backend, s);
  }
  return s;
}

/** The indicator's words for a state (the reason comes from the error table). */
export const STATE_WORDS: Record<SyncStatus['state'], string> = {
  off: 'Sync off',
  syncing: 'Syncing…',
  synced: 'Synced',
  offline: 'Offline',
  error: 'Sync stopped',
};
