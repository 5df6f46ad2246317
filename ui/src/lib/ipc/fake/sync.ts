import { AppError } from '../../errors/app-error';
import type { SyncDeviceDto, SyncStatus } from '../../sync/types';

/** An account on the pretend sync server. */
export type FakeSyncAccount = {
  server: string;
  email: string;
  passphrase: string;
  recoveryKey: string;
};

type Account = FakeSyncAccount & { devices: SyncDeviceDto[] };

/**
 * The sync commands in memory (the shell's `commands/sync.rs` over the
 * core's account flows, and a server): the same checks in the same order,
 * the same codes, so the UI's flows can be driven without a server.
 */
export class FakeSync {
  accounts = new Map<string, Account>();
  email: string | null = null;
  deviceId: string | null = null;
  lastSync: string | null = null;
  private devicesMade = 0;

  constructor(
    seed: FakeSyncAccount[],
    private readonly nowIso: () => string,
    private readonly makeKey: () => string,
    /** Holds a new key for `vault_confirm_recovery` / `recovery_key_save`. */
    private readonly holdKey: (key: string) => void,
  ) {
    for (const a of seed) {
      this.accounts.set(a.email, { ...a, devices: [this.device('Laptop')] });
    }
  }

  static off(): SyncStatus {
    return {
      state: 'off',
      code: null,
      message: null,
      server: null,
      email: null,
      deviceId: null,
      lastSync: null,
      pending: false,
    };
  }

  status(): SyncStatus {
    const a = this.email ? this.accounts.get(this.email) : undefined;
    if (!a) return FakeSync.off();
    const me = a.devices.find((d) => d.id === this.deviceId);
    return {
      state: me?.signedOut ? 'error' : 'synced',
      code: me?.signedOut ? 'device_signed_out' : null,
      message: me?.signedOut ? 'this device was signed out' : null,
      server: a.server,
      email: a.email,
      deviceId: this.deviceId,
      lastSync: this.lastSync,
      pending: false,
    };
  }

  private device(name: string | null): SyncDeviceDto {
    this.devicesMade += 1;
    const at = this.nowIso();
    return {
      id: `${this.devicesMade.toString(16).padStart(2, '0')}`.repeat(16),
      name,
      createdAt: at,
      lastSeenAt: at,
      signedOut: false,
      current: false,
    };
  }

  private linked(): Account {
    const a = this.email ? this.accounts.get(this.email) : undefined;
    if (!a) throw new AppError('sync_off', "this vault doesn't sync");
    return a;
  }

  private link(a: Account) {
    const d = this.device(null);
    a.devices.push(d);
    this.email = a.email;
    this.deviceId = d.id;
    this.lastSync = this.nowIso();
  }

  private signOutOthers(a: Account) {
    for (const d of a.devices) if (d.id !== this.deviceId) d.signedOut = true;
  }

  handle(cmd: string, a: Record<string, unknown>): unknown {
    const str = (k: string) => {
      const v = a[k];
      if (typeof v !== 'string') throw new AppError('invalid_argument', `${k} must be a string`);
      return v;
    };
    const server = () => {
      const s = str('server').trim().replace(/\/+$/, '');
      if (!/^https?:\/\//.test(s) || s.length < 10)
        throw new AppError('invalid_server', 'the sync server must be an http(s):// address');
      return s;
    };
    const passphrase = (k: string) => {
      const p = str(k);
      if (p.trim() === '') throw new AppError('empty_passphrase', 'the passphrase is empty');
      return p;
    };
    const email = () => {
      const e = str('email').trim();
      if (!/^[^@\s]+@[^@\s]+$/.test(e)) throw new AppError('invalid_email', 'not an email');
      return e;
    };
    const notLinked = () => {
      if (this.email) throw new AppError('sync_already_on', 'this vault already syncs');
    };
    switch (cmd) {
      case 'sync_status':
        return this.status();
      case 'sync_now':
        if (this.email) this.lastSync = this.nowIso();
        return this.status();
      case 'sync_sign_up': {
        const s = server();
        const e = email();
        const p = passphrase('passphrase');
        notLinked();
        if (this.accounts.has(e)) throw new AppError('account_exists', 'account exists');
        const acc: Account = {
          server: s,
          email: e,
          passphrase: p,
          recoveryKey: this.makeKey(),
          devices: [],
        };
        this.accounts.set(e, acc);
        this.link(acc);
        return { recoveryKey: acc.recoveryKey, status: this.status() };
      }
      case 'sync_sign_in': {
        server();
        const e = email();
        const p = passphrase('passphrase');
        notLinked();
        const acc = this.accounts.get(e);
        if (!acc || acc.passphrase !== p)
          throw new AppError('invalid_credentials', 'wrong email or passphrase');
        this.link(acc);
        return this.status();
      }
      case 'sync_devices': {
        const acc = this.linked();
        return acc.devices.map((d) => ({ ...d, current: d.id === this.deviceId }));
      }
      case 'sync_device_sign_out': {
        const acc = this.linked();
        const id = str('deviceId');
        if (id === this.deviceId)
          throw new AppError('invalid_request', 'sign this device out with sync_sign_out');
        const d = acc.devices.find((x) => x.id === id);
        if (!d) throw new AppError('unknown_device', 'no such device');
        d.signedOut = true;
        return null;
      }
      case 'sync_sign_out':
        this.linked();
        this.email = this.deviceId = this.lastSync = null;
        return this.status();
      case 'sync_passphrase_change': {
        const current = passphrase('current');
        const next = passphrase('newPassphrase');
        const acc = this.linked();
        if (acc.passphrase !== current)
          throw new AppError('invalid_credentials', 'wrong sync passphrase');
        acc.passphrase = next;
        if (a.signOutOtherDevices === true) this.signOutOthers(acc);
        return null;
      }
      case 'sync_recovery_key_new': {
        const p = passphrase('passphrase');
        const acc = this.linked();
        if (acc.passphrase !== p)
          throw new AppError('invalid_credentials', 'wrong sync passphrase');
        acc.recoveryKey = this.makeKey();
        this.holdKey(acc.recoveryKey);
        return { recoveryKey: acc.recoveryKey };
      }
      case 'sync_recover': {
        const s = server();
        const e = email();
        const typed = str('recoveryKey').replace(/[\s-]/g, '').toUpperCase();
        if (typed.length !== 52 || /[^0-9A-HJKMNP-TV-Z]/.test(typed))
          throw new AppError('recovery_key_mistyped', 'recovery key looks mistyped');
        const next = passphrase('newPassphrase');
        notLinked();
        const acc = this.accounts.get(e);
        if (!acc || acc.server !== s || acc.recoveryKey.replace(/-/g, '') !== typed)
          throw new AppError('invalid_credentials', 'not the recovery key of that account');
        acc.passphrase = next;
        this.link(acc);
        if (a.signOutOtherDevices === true) this.signOutOthers(acc);
        return this.status();
      }
    }
    throw new AppError('invalid_argument', `unknown command ${cmd}`);
  }
}
