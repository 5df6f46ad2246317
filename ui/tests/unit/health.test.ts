import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import type { Component } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import HealthQuestion from '../../src/components/health/HealthQuestion.svelte';
import HealthSettings from '../../src/components/settings/HealthSettings.svelte';
import { App } from '../../src/lib/app/app.svelte';
import { AppError } from '../../src/lib/errors/app-error';
import { HealthStore } from '../../src/lib/health/store.svelte';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import type { FakeHealthSeed } from '../../src/lib/ipc/fake/health';
import { TestId } from '../../src/lib/testid';
import WithApp from './WithApp.svelte';

const NOW = new Date('2026-11-30T09:00:00Z');

function backendWith(health: FakeHealthSeed) {
  return new FakeBackend({ vault: 'unlocked', health }, () => NOW);
}

const apps: App[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) a.stop();
});

async function mount(backend: FakeBackend, component: unknown) {
  const app = new App(backend, { now: () => NOW });
  apps.push(app);
  await app.start();
  await app.health.load();
  render(WithApp, {
    props: { app, component: component as Component<Record<string, unknown>> },
  });
  return app;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return AppError.from(e).code;
  }
  return 'resolved';
}

describe('the fake health reports (the shell’s rules)', () => {
  it('off by default, due after a week, asked once; off empties the queue', async () => {
    const b = backendWith({ firstRunDaysAgo: 6 });
    expect(await b.call('health_state')).toEqual({
      enabled: false,
      ask: false,
      decided: false,
      canSend: true,
    });
    const due = backendWith({ firstRunDaysAgo: 7 });
    expect((await due.call('health_state')).ask).toBe(true);
    expect(await due.call('health_set', { enabled: true })).toMatchObject({
      enabled: true,
      ask: false,
      decided: true,
    });
    expect(await due.call('health_ui_error')).toBe(true);
    expect(await due.call('health_ui_error')).toBe(false);
    expect((await due.call('health_preview')).queued.map((e) => e.kind)).toEqual(['crash']);
    await due.call('health_set', { enabled: false });
    expect((await due.call('health_preview')).queued).toEqual([]);
    expect(await code(due.call('health_set', { enabled: 'yes' } as never))).toBe(
      'invalid_argument',
    );
  });
});

describe('HealthStore', () => {
  it('decides through the shell and reports the page’s errors once, only when on', async () => {
    const b = backendWith({ firstRunDaysAgo: 8 });
    const store = new HealthStore(b);
    await store.load();
    expect(store.ask).toBe(true);
    store.reportUiError();
    expect(b.vault.calls.filter((c) => c.cmd === 'health_ui_error')).toHaveLength(0);
    expect(await store.decide(true)).toBe(true);
    expect(store.ask).toBe(false);
    expect(store.state.enabled).toBe(true);
    store.reportUiError();
    store.reportUiError();
    await waitFor(() => expect(b.vault.health.queued).toHaveLength(1));
    const calls = b.vault.calls.filter((c) => c.cmd === 'health_ui_error');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args).toEqual({});
  });

  it('a shell without health reports shows nothing', async () => {
    const store = new HealthStore(backendWith({ unsupported: true }));
    await store.load();
    expect(store.supported).toBe(false);
    expect(store.ask).toBe(false);
  });

  it('a refused answer is kept as the error, the state unchanged', async () => {
    const b = backendWith({ firstRunDaysAgo: 8 });
    const store = new HealthStore(b);
    await store.load();
    b.vault.health.handle = () => {
      throw new AppError('health_write_failed', 'disk full');
    };
    expect(await store.decide(true)).toBe(false);
    expect(store.error?.code).toBe('health_write_failed');
    expect(store.state.enabled).toBe(false);
  });
});

describe('HealthQuestion', () => {
  it('is not shown before the week is over', async () => {
    await mount(backendWith({ firstRunDaysAgo: 3 }), HealthQuestion);
    expect(screen.queryByTestId(TestId.HealthQuestion)).toBeNull();
  });

  it('“Send reports” turns them on', async () => {
    const b = backendWith({ firstRunDaysAgo: 9 });
    const before = document.activeElement;
    await mount(b, HealthQuestion);
    const q = await screen.findByTestId(TestId.HealthQuestion);
    expect(document.activeElement).toBe(before);
    expect(q.querySelector('[role="status"]')?.textContent).toMatch(/health reports/);
    await fireEvent.click(screen.getByTestId(TestId.HealthQuestionYes));
    await waitFor(() => expect(screen.queryByTestId(TestId.HealthQuestion)).toBeNull());
    expect(b.vault.health.enabled).toBe(true);
  });
});

describe('HealthSettings', () => {
  it('the toggle answers, and What is sent lists the fields and the queue', async () => {
    const b = backendWith({
      enabled: true,
      queued: [
        { kind: 'update_failed', at: '2026-11-29T10:00:00Z', version: '0.2.0', channel: 'beta' },
      ],
    });
    await mount(b, HealthSettings);
    const toggle = screen.getByTestId(TestId.SettingHealthEnabled) as HTMLInputElement;
    expect(toggle.checked).toBe(true);
    await fireEvent.click(screen.getByTestId(TestId.HealthWhatToggle));
    await screen.findByTestId(TestId.HealthWhat);
    await waitFor(() =>
      expect(screen.getAllByTestId(TestId.HealthField).length).toBeGreaterThan(0),
    );
    const names = screen.getAllByTestId(TestId.HealthField).map((r) => r.dataset.name);
    expect(names).toContain('install_id');
    expect(names).toContain('events[].kind');
    expect(names).not.toContain('title');
    const queued = screen.getAllByTestId(TestId.HealthQueued);
    expect(queued.map((q) => q.dataset.kind)).toEqual(['update_failed']);
    expect(queued[0]?.textContent).toMatch(/Update failed · 0\.2\.0 \(beta\)/);
    const body = JSON.parse(screen.getByTestId(TestId.HealthReport).textContent ?? '');
    expect(body.events).toEqual([{ kind: 'update_failed', at: '2026-11-29T10:00:00Z' }]);

    await fireEvent.click(toggle);
    await waitFor(() => expect(b.vault.health.enabled).toBe(false));
    await screen.findByTestId(TestId.HealthQueueEmpty);
  });
});
