import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import type { Component } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import UpdateSettings from '../../src/components/settings/UpdateSettings.svelte';
import UpdateNotice from '../../src/components/updates/UpdateNotice.svelte';
import { App } from '../../src/lib/app/app.svelte';
import { runCommand } from '../../src/lib/app/commands';
import { AppError } from '../../src/lib/errors/app-error';
import type { CallArgs } from '../../src/lib/ipc/backend';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import { fakeOffer, type FakeUpdateSeed } from '../../src/lib/ipc/fake/updates';
import type { FakeSeed } from '../../src/lib/ipc/fake/vault';
import type { CommandName, ResultOf } from '../../src/lib/ipc/types';
import { paletteMatches } from '../../src/lib/keyboard/shortcuts';
import { TestId } from '../../src/lib/testid';
import { ago, formatBytes, formatSpeed, offerSize, whenWords } from '../../src/lib/updates/format';
import { UpdateStore } from '../../src/lib/updates/store.svelte';
import type { UpdateState } from '../../src/lib/updates/types';
import WithApp from './WithApp.svelte';

const NOW = new Date('2026-11-30T09:00:00Z');
const DATES = { timeFormat: '24h', dateFormat: 'dmy' } as const;

/** A clock the tests move by hand. */
function clock(start = NOW) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    advance: (ms: number) => (t += ms),
  };
}

function backendWith(updates: FakeUpdateSeed, more: Partial<FakeSeed> = {}, now = () => NOW) {
  const backend = new FakeBackend({ vault: 'unlocked', updates, ...more }, now);
  const states: UpdateState[] = [];
  void backend.on('update://state', (s) => states.push(s));
  return { backend, states, updater: backend.vault.updates };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return AppError.from(e).code;
  }
  return 'resolved';
}

/** Local "H:MM" of an instant (the tests run in whatever zone the machine has). */
function hm(iso: string): string {
  const d = new Date(iso);
  return `${d.getHours()}:${String(d.getMinutes()).padStart(2, '0')}`;
}

afterEach(() => vi.useRealTimers());

describe('the fake updater (the shell’s state machine)', () => {
  it('checks: up to date, then an offer on the channel the settings name', async () => {
    const { backend, states } = backendWith({ offers: { beta: fakeOffer('0.2.0-beta.1') } });
    expect((await backend.call('update_state')).phase).toBe('idle');
    const first = await backend.call('update_check');
    expect(first.phase).toBe('upToDate');
    expect(first.lastChecked).toBe(NOW.toISOString());
    expect(states.map((s) => s.phase)).toEqual(['checking', 'upToDate']);
    // Beta in Settings: the next check asks the beta channel.
    const settings = await backend.call('settings_get');
    await backend.call('settings_set', { settings: { ...settings, updateChannel: 'beta' } });
    expect(states.at(-1)?.channel).toBe('beta');
    const second = await backend.call('update_check');
    expect(second.phase).toBe('available');
    expect(second.offer?.version).toBe('0.2.0-beta.1');
  });

  it('downloads with progress events over time, then is ready; installs and records it', async () => {
    vi.useFakeTimers();
    const { backend, states, updater } = backendWith({
      offers: { stable: fakeOffer('0.2.0', { downloadSize: 1_000_000 }) },
      ticks: 4,
      tickMs: 200,
    });
    await backend.call('update_check');
    const started = await backend.call('update_download');
    // It returns at once; the bytes come as events.
    expect(started.phase).toBe('downloading');
    expect(started.progress).toEqual({ received: 0, total: 1_000_000, bytesPerSecond: 0 });
    expect(await code(backend.call('update_install'))).toBe('update_not_ready');
    expect(await code(backend.call('update_check'))).toBe('update_in_progress');
    await vi.advanceTimersByTimeAsync(200);
    expect(states.at(-1)?.progress?.received).toBe(250_000);
    expect(states.at(-1)?.progress?.bytesPerSecond).toBe(1_250_000);
    await vi.advanceTimersByTimeAsync(600);
    const received = states
      .filter((s) => s.phase === 'downloading')
      .map((s) => s.progress?.received);
    expect(received).toEqual([0, 250_000, 500_000, 750_000]);
    expect(states.at(-1)?.phase).toBe('ready');
    expect(states.at(-1)?.progress).toBeNull();
    // A second download of a verified update does nothing.
    expect((await backend.call('update_download')).phase).toBe('ready');
    expect(await backend.call('update_install')).toBeNull();
    expect(states.at(-1)?.phase).toBe('installing');
    expect(updater.installed).toEqual(['0.2.0']);
  });

  it('refuses what the contract refuses, with its codes', async () => {
    const { backend } = backendWith({});
    expect(await code(backend.call('update_download'))).toBe('update_no_offer');
    expect(await code(backend.call('update_install'))).toBe('update_not_ready');
    const unavailable = backendWith({ unavailable: true }).backend;
    const s = await unavailable.call('update_state');
    expect(s.phase).toBe('unavailable');
    expect(s.error?.code).toBe('update_unavailable');
    expect(await code(unavailable.call('update_check'))).toBe('update_unavailable');
  });

  it('fails with the reason and backs off 5, then 15 minutes in a row; a retry succeeds', async () => {
    const c = clock();
    const { backend, updater } = backendWith(
      { offers: { stable: fakeOffer('0.2.0') }, manual: true, ticks: 1 },
      {},
      c.now,
    );
    updater.script({ failCheck: 'update_offline' });
    const offline = await backend.call('update_check');
    expect(offline.phase).toBe('failed');
    expect(offline.error?.code).toBe('update_offline');
    // Offline never reached the service.
    expect(offline.lastChecked).toBeNull();
    expect(offline.nextRetryAt).toBe(new Date(NOW.getTime() + 5 * 60_000).toISOString());
    updater.script({ failCheck: 'update_offline' });
    const again = await backend.call('update_check');
    expect(again.nextRetryAt).toBe(new Date(NOW.getTime() + 15 * 60_000).toISOString());
    // A check that works ends the run of failures.
    expect((await backend.call('update_check')).nextRetryAt).toBeNull();
    await backend.call('update_download');
    updater.script({ failDownload: 'update_signature_invalid' });
    updater.step();
    const refused = await backend.call('update_state');
    expect(refused.phase).toBe('failed');
    expect(refused.error?.code).toBe('update_signature_invalid');
    // The offer stays: "Try again" downloads again.
    expect(refused.offer?.version).toBe('0.2.0');
    expect(refused.nextRetryAt).toBe(new Date(NOW.getTime() + 5 * 60_000).toISOString());
    await backend.call('update_download');
    updater.step();
    expect((await backend.call('update_state')).phase).toBe('ready');
  });

  it('marks the check that reached a failing service; an install failure keeps the version', async () => {
    const { backend, updater } = backendWith({
      offers: { stable: fakeOffer('0.2.0') },
      manual: true,
      ticks: 1,
      failCheck: 'update_server',
      failInstall: 'update_install_failed',
    });
    const s = await backend.call('update_check');
    expect(s.error?.code).toBe('update_server');
    expect(s.lastChecked).toBe(NOW.toISOString());
    await backend.call('update_check');
    await backend.call('update_download');
    updater.step();
    await backend.call('update_install');
    const after = await backend.call('update_state');
    expect(after.phase).toBe('failed');
    expect(after.error?.code).toBe('update_install_failed');
    expect(after.current).toBe('0.1.0');
    expect(updater.installed).toEqual([]);
  });

  it('offers a signed rollback and a delta like the service announces them', async () => {
    const { backend } = backendWith({
      current: '0.3.0',
      offers: {
        stable: fakeOffer('0.2.0', { rollback: true }),
        beta: fakeOffer('0.4.0', { delta: true, downloadSize: 2_100_000, fullSize: 12_400_000 }),
      },
    });
    const back = await backend.call('update_check');
    expect(back.offer).toMatchObject({ version: '0.2.0', rollback: true });
    const settings = await backend.call('settings_get');
    await backend.call('settings_set', { settings: { ...settings, updateChannel: 'beta' } });
    const delta = await backend.call('update_check');
    expect(delta.offer).toMatchObject({ delta: true, downloadSize: 2_100_000 });
  });

  it('checks by itself only while "Check automatically" is on', async () => {
    const { backend, updater } = backendWith({ offers: { stable: fakeOffer('0.2.0') } });
    await backend.vault.automaticUpdateCheck();
    expect(updater.checks).toBe(1);
    const settings = await backend.call('settings_get');
    await backend.call('settings_set', {
      settings: { ...settings, updateCheckAutomatically: false },
    });
    expect(backend.vault.automaticUpdateCheck()).toBeNull();
    expect(updater.checks).toBe(1);
  });

  it('keeps "later" without changing where the updater is', async () => {
    const { backend, updater } = backendWith({ offers: { stable: fakeOffer('0.2.0') } });
    await backend.call('update_check');
    const s = await backend.call('update_later');
    expect(s.phase).toBe('available');
    expect([...updater.putOff]).toEqual(['0.2.0']);
  });

  it('loads settings saved before the update settings with their defaults, refuses a bad channel', async () => {
    const { backend } = backendWith({});
    const full = await backend.call('settings_get');
    expect(full.updateChannel).toBe('stable');
    expect(full.updateCheckAutomatically).toBe(true);
    const { updateChannel: _c, updateCheckAutomatically: _a, ...old } = full;
    const saved = await backend.call('settings_set', {
      settings: old as typeof full,
    });
    expect(saved.updateChannel).toBe('stable');
    expect(
      await code(
        backend.call('settings_set', {
          settings: { ...full, updateChannel: 'nightly' as typeof full.updateChannel },
        }),
      ),
    ).toBe('invalid_argument');
  });
});

describe('UpdateStore', () => {
  it("does not let a command's answer undo a newer event", async () => {
    const { backend, updater } = backendWith({
      offers: { stable: fakeOffer('0.2.0', { downloadSize: 1000 }) },
      manual: true,
      ticks: 4,
    });
    const store = new UpdateStore(backend);
    await store.start();
    await store.check();
    // The shell's answer to update_download (received 0) is overtaken by a
    // progress event (events and answers travel apart).
    const real = backend.call.bind(backend);
    backend.call = (async (cmd: CommandName) => {
      if (cmd !== 'update_download') return real(cmd as 'update_state');
      const answer = updater.download();
      updater.step();
      return answer;
    }) as typeof backend.call;
    await store.download();
    expect(store.state.progress?.received).toBe(250);
  });

  it('reads the state once and follows update://state', async () => {
    const { backend, updater } = backendWith({ offers: { stable: fakeOffer('0.2.0') } });
    const store = new UpdateStore(backend);
    await store.start();
    expect(store.state.current).toBe('0.1.0');
    expect(store.notice).toBeNull();
    // An automatic check (the shell's timer) finds the offer: the notice shows.
    await updater.check();
    expect(store.state.phase).toBe('available');
    expect(store.notice).toBe('available');
    store.stop();
  });

  it('"Later" hides this version only; a newer offer shows again', async () => {
    const { backend, updater } = backendWith({ offers: { stable: fakeOffer('0.2.0') } });
    const store = new UpdateStore(backend);
    await store.start();
    await store.check();
    await store.later();
    expect(store.notice).toBeNull();
    expect(backend.vault.calls.some((c) => c.cmd === 'update_later')).toBe(true);
    await updater.check();
    expect(store.notice).toBeNull();
    updater.script({ offers: { stable: fakeOffer('0.2.1') } });
    await updater.check();
    expect(store.notice).toBe('available');
  });

  it('shows a failed background check only when the person asked', async () => {
    const { backend, updater } = backendWith({ failCheck: 'update_offline' });
    const store = new UpdateStore(backend);
    await store.start();
    await updater.check();
    expect(store.state.phase).toBe('failed');
    expect(store.notice).toBeNull();
    updater.script({ failCheck: 'update_offline' });
    await store.check();
    expect(store.notice).toBe('failed');
    // "Try again" without an offer checks again (now reachable).
    await store.retry();
    expect(store.state.phase).toBe('upToDate');
  });

  it('names a rollback, and the share downloaded (none when the total is unknown)', async () => {
    const { backend, updater } = backendWith({
      current: '0.3.0',
      offers: { stable: fakeOffer('0.2.0', { rollback: true, downloadSize: 1000 }) },
      manual: true,
      ticks: 4,
    });
    const store = new UpdateStore(backend);
    await store.start();
    await store.check();
    expect(store.notice).toBe('rollback');
    await store.download();
    updater.step();
    expect(store.notice).toBe('downloading');
    expect(store.percent).toBe(25);
    const unknown = backendWith({
      offers: { stable: fakeOffer('0.2.0') },
      manual: true,
      unknownTotal: true,
    });
    const s2 = new UpdateStore(unknown.backend);
    await s2.start();
    await s2.check();
    await s2.download();
    unknown.updater.step();
    expect(s2.state.progress?.total).toBeNull();
    expect(s2.percent).toBeNull();
  });

  it('keeps a refused command as its error, and an old shell as unsupported', async () => {
    const { backend } = backendWith({});
    const store = new UpdateStore(backend);
    await store.start();
    expect(await store.download()).toBeNull();
    expect(store.error?.code).toBe('update_no_offer');
    expect(store.busy).toBeNull();

    class OldShell extends FakeBackend {
      override async call<C extends CommandName>(
        cmd: C,
        ...args: CallArgs<C>
      ): Promise<ResultOf<C>> {
        if (cmd.startsWith('update_')) throw new AppError('internal', `command ${cmd} not found`);
        return super.call(cmd, ...args);
      }
    }
    const old = new UpdateStore(new OldShell({ vault: 'unlocked' }));
    await old.start();
    expect(old.supported).toBe(false);
    expect(old.notice).toBeNull();
  });
});

describe('update words', () => {
  it('formats sizes, speeds and the real download size', () => {
    expect(formatBytes(850)).toBe('850 B');
    expect(formatBytes(350_000)).toBe('350 kB');
    expect(formatBytes(2_100_000)).toBe('2.1 MB');
    expect(formatBytes(12_000_000)).toBe('12 MB');
    expect(formatSpeed(1_250_000)).toBe('1.3 MB/s');
    expect(offerSize(fakeOffer('1', { delta: true, downloadSize: 2_100_000 }))).toBe(
      '2.1 MB (update patch)',
    );
    expect(offerSize(fakeOffer('1', { downloadSize: 12_400_000 }))).toBe('12.4 MB');
  });

  it('says when: ago and the next try', () => {
    expect(ago(NOW.toISOString(), NOW)).toBe('just now');
    expect(ago('2026-11-30T08:58:00Z', NOW)).toBe('2 minutes ago');
    expect(ago('2026-11-30T06:00:00Z', NOW)).toBe('3 hours ago');
    const soon = new Date(NOW.getTime() + 5 * 60_000).toISOString();
    expect(whenWords(soon, NOW, DATES)).toBe(`at ${hm(soon)}`);
    const tomorrow = new Date(NOW.getTime() + 24 * 3600_000).toISOString();
    expect(whenWords(tomorrow, NOW, DATES)).toBe(`tomorrow at ${hm(tomorrow)}`);
  });
});

async function mount(backend: FakeBackend, component: unknown, now = () => NOW) {
  const app = new App(backend, { now });
  await app.start();
  await app.updates.start();
  render(WithApp, {
    props: { app, component: component as Component<Record<string, unknown>> },
  });
  return app;
}

describe('UpdateNotice', () => {
  it('offers the version, the real size and safe release notes; Later hides it', async () => {
    const notes =
      "## What's new\n\n- **Faster** start\n- [details](https://example.com/notes)\n- [bad](javascript:alert(1))\n\n<img src=x onerror=alert(1)>";
    const { backend, updater } = backendWith({
      offers: {
        stable: fakeOffer('0.2.0', {
          notes,
          delta: true,
          downloadSize: 2_100_000,
          fullSize: 12_400_000,
        }),
      },
    });
    await mount(backend, UpdateNotice);
    expect(screen.queryByTestId(TestId.UpdateNotice)).toBeNull();
    await updater.check();
    const notice = await screen.findByTestId(TestId.UpdateNotice);
    expect(notice.dataset.kind).toBe('available');
    expect(screen.getByTestId(TestId.UpdateNoticeTitle).textContent).toBe(
      'Update available: 0.2.0',
    );
    expect(screen.getByTestId(TestId.UpdateNoticeTitle).getAttribute('role')).toBe('status');
    expect(screen.getByTestId(TestId.UpdateSize).textContent).toContain('2.1 MB (update patch)');
    // Nothing took focus.
    expect(document.activeElement).toBe(document.body);
    const toggle = screen.getByTestId(TestId.UpdateNotesToggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    await fireEvent.click(toggle);
    const rendered = screen.getByTestId(TestId.UpdateNotes);
    expect(rendered.querySelector('strong')?.textContent).toBe('Faster');
    // Release notes open nothing: no links, no images, raw HTML as text.
    expect(rendered.querySelectorAll('a, img, script').length).toBe(0);
    expect(rendered.textContent).toContain('details (https://example.com/notes)');
    expect(rendered.textContent).toContain('<img src=x onerror=alert(1)>');
    expect(rendered.textContent).not.toContain('javascript:');
    await fireEvent.click(screen.getByTestId(TestId.UpdateLater));
    await waitFor(() => expect(screen.queryByTestId(TestId.UpdateNotice)).toBeNull());
  });

  it('shows download progress as an accessible progress bar, then Restart with the password explained first', async () => {
    const { backend, updater } = backendWith({
      offers: { stable: fakeOffer('0.2.0', { downloadSize: 4_000_000 }) },
      manual: true,
      ticks: 4,
      tickMs: 200,
      needsPrivilege: true,
    });
    await mount(backend, UpdateNotice);
    await updater.check();
    await fireEvent.click(await screen.findByTestId(TestId.UpdateDownload));
    updater.step();
    const bar = await screen.findByTestId(TestId.UpdateProgress);
    await waitFor(() => expect(bar.getAttribute('aria-valuenow')).toBe('25'));
    expect(bar.getAttribute('role')).toBe('progressbar');
    expect(bar.getAttribute('aria-valuemin')).toBe('0');
    expect(bar.getAttribute('aria-valuemax')).toBe('100');
    expect(bar.getAttribute('aria-valuetext')).toBe('1 MB of 4 MB · 5 MB/s');
    expect(screen.getByTestId(TestId.UpdateProgressText).textContent).toBe('1 MB of 4 MB · 5 MB/s');
    // No "Later" while the bytes come in.
    expect(screen.queryByTestId(TestId.UpdateLater)).toBeNull();
    updater.step();
    updater.step();
    updater.step();
    const restart = await screen.findByTestId(TestId.UpdateRestart);
    // The password prompt is explained before the button is pressed.
    expect(screen.getByTestId(TestId.UpdatePrivilege).textContent).toMatch(
      /administrator password/,
    );
    await fireEvent.click(restart);
    await waitFor(() =>
      expect(screen.getByTestId(TestId.UpdateNotice).dataset.kind).toBe('installing'),
    );
    expect(updater.installed).toEqual(['0.2.0']);
  });

  it('says why it failed and when it retries; Try again downloads again', async () => {
    const { backend, updater } = backendWith({
      offers: { stable: fakeOffer('0.2.0') },
      manual: true,
      ticks: 1,
      failDownload: 'update_signature_invalid',
    });
    await mount(backend, UpdateNotice);
    await updater.check();
    await fireEvent.click(await screen.findByTestId(TestId.UpdateDownload));
    updater.step();
    const err = await screen.findByTestId(TestId.UpdateError);
    expect(err.dataset.code).toBe('update_signature_invalid');
    expect(err.textContent).toContain('The download was refused');
    const retryAt = new Date(NOW.getTime() + 5 * 60_000).toISOString();
    expect(screen.getByTestId(TestId.UpdateRetryAt).textContent).toBe(
      `Will retry at ${hm(retryAt)}.`,
    );
    await fireEvent.click(screen.getByTestId(TestId.UpdateRetry));
    await waitFor(() =>
      expect(screen.getByTestId(TestId.UpdateNotice).dataset.kind).toBe('downloading'),
    );
  });

  it('words a rollback as one', async () => {
    const { backend, updater } = backendWith({
      current: '0.3.0',
      offers: { stable: fakeOffer('0.2.0', { rollback: true }) },
    });
    await mount(backend, UpdateNotice);
    await updater.check();
    const text = await screen.findByTestId(TestId.UpdateRollback);
    expect(text.textContent?.replace(/\s+/g, ' ').trim()).toBe(
      'A problem was found in 0.3.0; going back to 0.2.0.',
    );
  });
});

describe('Settings → Updates', () => {
  it('hides canary behind Advanced and saves the channel through settings_set', async () => {
    const { backend } = backendWith({});
    await mount(backend, UpdateSettings);
    const radios = () =>
      screen.getAllByTestId(TestId.SettingUpdateChannel).map((r) => (r as HTMLInputElement).value);
    expect(radios()).toEqual(['stable', 'beta']);
    expect(
      (screen.getAllByTestId(TestId.SettingUpdateChannel)[0] as HTMLInputElement).checked,
    ).toBe(true);
    expect(screen.getByText(/Beta gets new versions/)).toBeTruthy();
    expect(screen.queryByTestId(TestId.SettingUpdateCanaryWarning)).toBeNull();
    await fireEvent.click(screen.getByTestId(TestId.SettingUpdateAdvanced));
    expect(radios()).toEqual(['stable', 'beta', 'canary']);
    expect(screen.getByTestId(TestId.SettingUpdateCanaryWarning).textContent).toMatch(/expect/);
    const canary = screen.getAllByTestId(TestId.SettingUpdateChannel)[2] as HTMLInputElement;
    await fireEvent.click(canary);
    await waitFor(() => expect(backend.vault.settings.updateChannel).toBe('canary'));
    expect(backend.vault.updates.channel).toBe('canary');
    await fireEvent.click(screen.getByTestId(TestId.SettingUpdateAuto));
    await waitFor(() => expect(backend.vault.settings.updateCheckAutomatically).toBe(false));
  });

  it('opens Advanced when canary is the saved channel', async () => {
    const { backend } = backendWith({}, { settings: { updateChannel: 'canary' } });
    await mount(backend, UpdateSettings);
    expect(screen.getByTestId(TestId.SettingUpdateAdvanced).getAttribute('aria-expanded')).toBe(
      'true',
    );
    const canary = screen
      .getAllByTestId(TestId.SettingUpdateChannel)
      .find((r) => (r as HTMLInputElement).value === 'canary') as HTMLInputElement;
    expect(canary.checked).toBe(true);
  });

  it('checks on demand and says the result in place, with its age', async () => {
    const c = clock();
    const { backend, updater } = backendWith({}, {}, c.now);
    await mount(backend, UpdateSettings, c.now);
    expect(screen.getByTestId(TestId.SettingUpdateCurrent).textContent).toContain('0.1.0');
    await fireEvent.click(screen.getByTestId(TestId.SettingUpdateCheck));
    const result = screen.getByTestId(TestId.SettingUpdateResult);
    await waitFor(() => expect(result.dataset.phase).toBe('upToDate'));
    expect(result.textContent?.trim()).toBe("You're up to date — checked just now.");
    // Two minutes later a check finds an offer: the age is the new check's.
    c.advance(2 * 60_000);
    updater.script({ offers: { stable: fakeOffer('0.2.0', { downloadSize: 2_100_000 }) } });
    await fireEvent.click(screen.getByTestId(TestId.SettingUpdateCheck));
    await waitFor(() => expect(result.dataset.phase).toBe('available'));
    expect(result.textContent?.trim()).toBe(
      'Version 0.2.0 is available (2.1 MB) — checked just now.',
    );
    const action = screen.getByTestId(TestId.SettingUpdateAction);
    expect(action.dataset.action).toBe('download');
  });

  it('says checked N minutes ago as time passes', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const c = clock();
    const { backend } = backendWith({}, {}, c.now);
    await backend.call('update_check');
    await mount(backend, UpdateSettings, c.now);
    const result = screen.getByTestId(TestId.SettingUpdateResult);
    expect(result.textContent?.trim()).toBe("You're up to date — checked just now.");
    c.advance(2 * 60_000);
    await vi.advanceTimersByTimeAsync(30_000);
    await waitFor(() =>
      expect(result.textContent?.trim()).toBe("You're up to date — checked 2 minutes ago."),
    );
  });

  it('explains a build that cannot update itself and offers no check', async () => {
    const { backend } = backendWith({ unavailable: true });
    await mount(backend, UpdateSettings);
    const result = screen.getByTestId(TestId.SettingUpdateResult);
    expect(result.dataset.phase).toBe('unavailable');
    expect(result.textContent).toMatch(/can't update itself/);
    expect((screen.getByTestId(TestId.SettingUpdateCheck) as HTMLButtonElement).disabled).toBe(
      true,
    );
  });
});

describe('the palette’s "Check for updates"', () => {
  it('is in the one table and reports the result as a toast', async () => {
    expect(paletteMatches('check updates').map((s) => s.id)).toContain('check-updates');
    const { backend } = backendWith({});
    const app = new App(backend, { now: () => NOW });
    await app.start();
    runCommand(app, 'check-updates');
    await waitFor(() =>
      expect(app.toasts.items.map((t) => t.text)).toContain("You're up to date (version 0.1.0)."),
    );
    backend.vault.updates.script({ failCheck: 'update_offline' });
    runCommand(app, 'check-updates');
    await waitFor(() =>
      expect(app.toasts.items.some((t) => t.code === 'update_offline')).toBe(true),
    );
    // The failure the person asked about also shows in the notice's place.
    expect(app.updates.notice).toBe('failed');
  });

  it('says a shell without the updater cannot update itself', async () => {
    class OldShell extends FakeBackend {
      override async call<C extends CommandName>(
        cmd: C,
        ...args: CallArgs<C>
      ): Promise<ResultOf<C>> {
        if (cmd.startsWith('update_')) throw new AppError('internal', `command ${cmd} not found`);
        return super.call(cmd, ...args);
      }
    }
    const app = new App(new OldShell({ vault: 'unlocked' }), { now: () => NOW });
    await app.start();
    await app.updates.start();
    runCommand(app, 'check-updates');
    await waitFor(() =>
      expect(app.toasts.items.some((t) => t.code === 'update_unavailable')).toBe(true),
    );
  });
});
