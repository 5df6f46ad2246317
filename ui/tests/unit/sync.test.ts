import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import type { Component } from 'svelte';
import { describe, expect, it } from 'vitest';
import SyncSettings from '../../src/components/settings/SyncSettings.svelte';
import SyncIndicator from '../../src/components/sync/SyncIndicator.svelte';
import { App } from '../../src/lib/app/app.svelte';
import { AppError } from '../../src/lib/errors/app-error';
import type { CallArgs } from '../../src/lib/ipc/backend';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import type { CommandName, ResultOf } from '../../src/lib/ipc/types';
import { SyncTestId } from '../../src/lib/sync/testid';
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

async function mount(backend: SyncMock, component: unknown) {
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
