import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import type { Component } from 'svelte';
import { describe, expect, it } from 'vitest';
import SyncSettings from '../../src/components/settings/SyncSettings.svelte';
import SyncIndicator from '../../src/components/sync/SyncIndicator.svelte';
import RecoveryKeyFlow from '../../src/components/vault/RecoveryKeyFlow.svelte';
import { App } from '../../src/lib/app/app.svelte';
import { AppError } from '../../src/lib/errors/app-error';
import type { CallArgs } from '../../src/lib/ipc/backend';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import type { CommandName, ResultOf } from '../../src/lib/ipc/types';
import { SyncTestId } from '../../src/lib/sync/testid';
import { TestId } from '../../src/lib/testid';
import type { SyncDeviceDto, SyncStatus } from '../../src/lib/sync/types';
import WithApp from './WithApp.svelte';

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
const ON: SyncStatus = {
  ...OFF,
  state: 'synced',
  server: 'https://sync.example.com',
  email: 'me@example.com',
  deviceId: 'd1',
  lastSync: '2026-11-30T10:00:00Z',
};
const DEVICES: SyncDeviceDto[] = [
  {
    id: 'd1',
    name: null,
    createdAt: '2026-11-30T09:00:00Z',
    lastSeenAt: '2026-11-30T10:00:00Z',
    signedOut: false,
    current: true,
  },
  {
    id: 'd2',
    name: null,
    createdAt: '2026-11-30T09:00:00Z',
    lastSeenAt: '2026-11-30T10:00:00Z',
    signedOut: false,
    current: false,
  },
];

/** The fake vault, with the sync commands mocked (recorded and scripted). */
class SyncMock extends FakeBackend {
  calls: { cmd: string; args: unknown }[] = [];
  status: SyncStatus = OFF;
  failNext: AppError | null = null;

  override async call<C extends CommandName>(cmd: C, ...args: CallArgs<C>): Promise<ResultOf<C>> {
    if (!cmd.startsWith('sync_')) return super.call(cmd, ...args);
    this.calls.push({ cmd, args: args[0] });
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      throw e;
    }
    const r = (): unknown => {
      switch (cmd) {
        case 'sync_status':
        case 'sync_now':
          return this.status;
        case 'sync_sign_in':
          return (this.status = ON);
        case 'sync_sign_up':
          this.status = ON;
          return { recoveryKey: 'AAAA-BBBB-CCCC', status: ON };
        case 'sync_devices':
          return DEVICES;
        case 'sync_device_sign_out':
          return null;
        case 'sync_sign_out':
          return (this.status = OFF);
      }
      throw new AppError('internal', `unexpected ${cmd}`);
    };
    return r() as ResultOf<C>;
  }
}

async function mount(backend: FakeBackend, component: unknown) {
  const app = new App(backend);
  await app.start();
  render(WithApp, {
    props: { app, component: component as Component<Record<string, unknown>> },
  });
  return app;
}

describe('Settings → Sync', () => {
  it('signs in and sends the passphrase once, then clears it', async () => {
    const backend = new SyncMock({ vault: 'unlocked' });
    await mount(backend, SyncSettings);
    await fireEvent.input(screen.getByTestId(SyncTestId.Server), {
      target: { value: 'https://sync.example.com' },
    });
    await fireEvent.input(screen.getByTestId(SyncTestId.Email), {
      target: { value: 'me@example.com' },
    });
    const pass = screen.getByTestId(SyncTestId.Passphrase) as HTMLInputElement;
    await fireEvent.input(pass, { target: { value: 'correct horse' } });
    await fireEvent.submit(screen.getByTestId(SyncTestId.Form));
    await waitFor(() => expect(screen.getByTestId(SyncTestId.Status).dataset.state).toBe('synced'));
    const signIn = backend.calls.find((c) => c.cmd === 'sync_sign_in');
    expect(signIn?.args).toEqual({
      server: 'https://sync.example.com',
      email: 'me@example.com',
      passphrase: 'correct horse',
    });
    // The devices: the other one can be signed out, this one cannot.
    await waitFor(() => expect(screen.getAllByTestId(SyncTestId.Device)).toHaveLength(2));
    const buttons = screen.getAllByTestId(SyncTestId.DeviceSignOut);
    expect(buttons).toHaveLength(1);
    await fireEvent.click(buttons[0]!);
    await waitFor(() =>
      expect(backend.calls.some((c) => c.cmd === 'sync_device_sign_out')).toBe(true),
    );
    expect(backend.calls.find((c) => c.cmd === 'sync_device_sign_out')?.args).toEqual({
      deviceId: 'd2',
    });
  });

  it('shows a refused sign-in by its code and stays signed out', async () => {
    const backend = new SyncMock({ vault: 'unlocked' });
    await mount(backend, SyncSettings);
    await waitFor(() => expect(backend.calls.some((c) => c.cmd === 'sync_status')).toBe(true));
    backend.failNext = new AppError('invalid_credentials', 'no');
    await fireEvent.input(screen.getByTestId(SyncTestId.Server), {
      target: { value: 'https://sync.example.com' },
    });
    await fireEvent.input(screen.getByTestId(SyncTestId.Email), {
      target: { value: 'me@example.com' },
    });
    const pass = screen.getByTestId(SyncTestId.Passphrase) as HTMLInputElement;
    await fireEvent.input(pass, { target: { value: 'wrong' } });
    await fireEvent.submit(screen.getByTestId(SyncTestId.Form));
    const note = await screen.findByTestId(SyncTestId.Error);
    expect(note.dataset.code).toBe('invalid_credentials');
    expect(note.textContent).toContain("don't match an account");
    expect(pass.value).toBe('');
    expect(screen.getByTestId(SyncTestId.Form)).toBeTruthy();
  });

  it('sign-up checks the repeat and shows the recovery key once', async () => {
    const backend = new SyncMock({ vault: 'unlocked' });
    await mount(backend, SyncSettings);
    await fireEvent.click(screen.getByTestId(SyncTestId.ModeSignUp));
    await fireEvent.input(screen.getByTestId(SyncTestId.Server), {
      target: { value: 'https://sync.example.com' },
    });
    await fireEvent.input(screen.getByTestId(SyncTestId.Email), {
      target: { value: 'me@example.com' },
    });
    await fireEvent.input(screen.getByTestId(SyncTestId.Passphrase), {
      target: { value: 'one' },
    });
    await fireEvent.input(screen.getByTestId(SyncTestId.Repeat), { target: { value: 'two' } });
    await fireEvent.submit(screen.getByTestId(SyncTestId.Form));
    expect((await screen.findByTestId(SyncTestId.Error)).dataset.code).toBe('invalid_input');
    expect(backend.calls.some((c) => c.cmd === 'sync_sign_up')).toBe(false);

    await fireEvent.input(screen.getByTestId(SyncTestId.Passphrase), {
      target: { value: 'one' },
    });
    await fireEvent.input(screen.getByTestId(SyncTestId.Repeat), { target: { value: 'one' } });
    await fireEvent.submit(screen.getByTestId(SyncTestId.Form));
    const key = await screen.findByTestId(SyncTestId.RecoveryKey);
    expect(key.textContent).toContain('AAAA-BBBB-CCCC');
    await fireEvent.click(key.querySelector('button')!);
    expect(screen.queryByTestId(SyncTestId.RecoveryKey)).toBeNull();
  });

  it('offers to drop unsent changes only after sync_unsent', async () => {
    const backend = new SyncMock({ vault: 'unlocked' });
    backend.status = ON;
    await mount(backend, SyncSettings);
    await screen.findByTestId(SyncTestId.Status);
    await waitFor(() => expect(backend.calls.some((c) => c.cmd === 'sync_devices')).toBe(true));
    expect(screen.queryByTestId(SyncTestId.SignOutDiscard)).toBeNull();
    backend.failNext = new AppError('sync_unsent', '2 unsent');
    await fireEvent.click(screen.getByTestId(SyncTestId.SignOut));
    await fireEvent.click(await screen.findByTestId(SyncTestId.SignOutDiscard));
    await screen.findByTestId(SyncTestId.Form);
    expect(backend.calls.filter((c) => c.cmd === 'sync_sign_out').map((c) => c.args)).toEqual([
      { discardUnsent: false },
      { discardUnsent: true },
    ]);
  });
});

const KEY = 'ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-ABCD-EFGH-JKMN-PQRS-TVWX';
const ACCOUNT = {
  server: 'https://sync.example.com',
  email: 'me@example.com',
  passphrase: 'old sync pass',
  recoveryKey: KEY,
};

/** The fake shell with an account on its pretend server, this vault signed in. */
async function signedIn() {
  const backend = new FakeBackend({ vault: 'unlocked', syncAccounts: [ACCOUNT] });
  await backend.call('sync_sign_in', {
    server: ACCOUNT.server,
    email: ACCOUNT.email,
    passphrase: ACCOUNT.passphrase,
  });
  return backend;
}

async function type(id: string, value: string) {
  await fireEvent.input(screen.getByTestId(id), { target: { value } });
}

describe('Settings → Sync: passphrase and recovery key', () => {
  it('changes the sync passphrase; a wrong current one or a mistyped repeat changes nothing', async () => {
    const backend = await signedIn();
    await mount(backend, SyncSettings);
    await screen.findByTestId(SyncTestId.PassForm);

    await type(SyncTestId.PassCurrent, 'wrong');
    await type(SyncTestId.PassNext, 'new sync pass');
    await type(SyncTestId.PassRepeat, 'new sync pass');
    await fireEvent.submit(screen.getByTestId(SyncTestId.PassForm));
    const note = await screen.findByTestId(SyncTestId.PassError);
    expect(note.dataset.code).toBe('invalid_credentials');
    expect((screen.getByTestId(SyncTestId.PassCurrent) as HTMLInputElement).value).toBe('');
    expect((screen.getByTestId(SyncTestId.PassNext) as HTMLInputElement).value).toBe('');

    const calls = () => backend.vault.calls.filter((c) => c.cmd === 'sync_passphrase_change');
    await type(SyncTestId.PassCurrent, ACCOUNT.passphrase);
    await type(SyncTestId.PassNext, 'new sync pass');
    await type(SyncTestId.PassRepeat, 'other');
    await fireEvent.submit(screen.getByTestId(SyncTestId.PassForm));
    await waitFor(() =>
      expect(screen.getByTestId(SyncTestId.PassError).dataset.code).toBe('invalid_input'),
    );
    expect(calls()).toHaveLength(1);
    expect(backend.vault.sync.accounts.get(ACCOUNT.email)?.passphrase).toBe(ACCOUNT.passphrase);

    await type(SyncTestId.PassCurrent, ACCOUNT.passphrase);
    await type(SyncTestId.PassNext, 'new sync pass');
    await type(SyncTestId.PassRepeat, 'new sync pass');
    await fireEvent.click(screen.getByTestId(SyncTestId.PassOthers));
    await fireEvent.submit(screen.getByTestId(SyncTestId.PassForm));
    const msg = await screen.findByTestId(SyncTestId.Message);
    expect(msg.textContent).toContain('other devices were signed out');
    expect(calls().at(-1)?.args).toEqual({
      current: ACCOUNT.passphrase,
      newPassphrase: 'new sync pass',
      signOutOtherDevices: true,
    });
    expect(backend.vault.sync.accounts.get(ACCOUNT.email)?.passphrase).toBe('new sync pass');
    expect(screen.queryByTestId(SyncTestId.PassError)).toBeNull();
  });

  it('makes a new sync recovery key, shown and confirmed with the first run’s flow', async () => {
    const backend = await signedIn();
    const app = await mount(backend, SyncSettings);
    await screen.findByTestId(SyncTestId.RecoveryForm);
    await type(SyncTestId.RecoveryPassphrase, 'wrong');
    await fireEvent.submit(screen.getByTestId(SyncTestId.RecoveryForm));
    expect((await screen.findByTestId(SyncTestId.RecoveryError)).dataset.code).toBe(
      'invalid_credentials',
    );
    expect(app.recovery).toBeNull();
    expect(backend.vault.sync.accounts.get(ACCOUNT.email)?.recoveryKey).toBe(KEY);

    await type(SyncTestId.RecoveryPassphrase, ACCOUNT.passphrase);
    await fireEvent.submit(screen.getByTestId(SyncTestId.RecoveryForm));
    await waitFor(() => expect(app.recovery?.of).toBe('sync'));
    const key = app.recovery!.key;
    expect(key).not.toBe(KEY);
    expect(backend.vault.sync.accounts.get(ACCOUNT.email)?.recoveryKey).toBe(key);
    expect(backend.vault.recoveryKey).not.toBe(key);
    expect((screen.getByTestId(SyncTestId.RecoveryPassphrase) as HTMLInputElement).value).toBe('');

    // The flow the shell shows for it: the key, then two groups typed back.
    render(WithApp, {
      props: {
        app,
        component: RecoveryKeyFlow as unknown as Component<Record<string, unknown>>,
        props: { flow: app.recovery },
      },
    });
    expect(screen.getByText('Your new sync recovery key')).toBeTruthy();
    await fireEvent.click(screen.getByTestId(TestId.RecoverySaved));
    const inputs = screen.getAllByTestId(TestId.RecoveryAnswer) as HTMLInputElement[];
    const groups = key.split('-');
    for (const input of inputs) {
      await fireEvent.input(input, { target: { value: 'ZZZZ' } });
    }
    await fireEvent.click(screen.getByTestId(TestId.RecoveryConfirm));
    await screen.findByTestId(TestId.RecoveryError);
    for (const input of inputs) {
      const n = Number(input.dataset.group);
      await fireEvent.input(input, { target: { value: groups[n - 1] } });
    }
    await fireEvent.click(screen.getByTestId(TestId.RecoveryConfirm));
    await waitFor(() => expect(app.recovery).toBeNull());
    expect(app.toasts.items.at(-1)?.text).toContain('New sync recovery key saved');
  });

  it('recovers with the recovery key: a mistyped or wrong key by its code, then syncs', async () => {
    const backend = new FakeBackend({ vault: 'unlocked', syncAccounts: [ACCOUNT] });
    await mount(backend, SyncSettings);
    await fireEvent.click(await screen.findByTestId(SyncTestId.ModeRecover));
    await type(SyncTestId.Server, ACCOUNT.server);
    await type(SyncTestId.Email, ACCOUNT.email);
    const fill = async (key: string) => {
      await type(SyncTestId.RecoverKey, key);
      await type(SyncTestId.Passphrase, 'fresh sync pass');
      await type(SyncTestId.Repeat, 'fresh sync pass');
      await fireEvent.submit(screen.getByTestId(SyncTestId.Form));
    };
    await fill('ABCD-EFGH');
    await waitFor(() =>
      expect(screen.getByTestId(SyncTestId.Error).dataset.code).toBe('recovery_key_mistyped'),
    );
    expect((screen.getByTestId(SyncTestId.RecoverKey) as HTMLInputElement).value).toBe('');
    await fill(KEY.replace('ABCD', 'ABCE'));
    await waitFor(() =>
      expect(screen.getByTestId(SyncTestId.Error).dataset.code).toBe('invalid_credentials'),
    );
    expect(backend.vault.sync.accounts.get(ACCOUNT.email)?.passphrase).toBe(ACCOUNT.passphrase);

    await fill(KEY.toLowerCase());
    await waitFor(() => expect(screen.getByTestId(SyncTestId.Status).dataset.state).toBe('synced'));
    expect(screen.getByTestId(SyncTestId.Message).textContent).toContain('recovery key');
    expect(backend.vault.sync.accounts.get(ACCOUNT.email)?.passphrase).toBe('fresh sync pass');
    const recover = backend.vault.calls.filter((c) => c.cmd === 'sync_recover').at(-1);
    expect(recover?.args).toEqual({
      server: ACCOUNT.server,
      email: ACCOUNT.email,
      recoveryKey: KEY.toLowerCase(),
      newPassphrase: 'fresh sync pass',
      signOutOtherDevices: false,
    });
  });
});

describe('sync indicator', () => {
  it('follows sync://status and names the reason from the error table', async () => {
    const backend = new SyncMock({ vault: 'unlocked' });
    await mount(backend, SyncIndicator);
    await waitFor(() => expect(backend.calls.some((c) => c.cmd === 'sync_status')).toBe(true));
    expect(screen.queryByTestId(SyncTestId.Indicator)).toBeNull();
    backend.emit('sync://status', ON);
    const el = await screen.findByTestId(SyncTestId.Indicator);
    expect(el.dataset.state).toBe('synced');
    backend.emit('sync://status', {
      ...ON,
      state: 'offline',
      code: 'server_unreachable',
      message: 'x',
    });
    await waitFor(() => expect(el.dataset.state).toBe('offline'));
    expect(el.title).toContain("can't be reached");
    expect(el.textContent).toContain('Offline');
  });
});
