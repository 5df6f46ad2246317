import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../src/lib/app/app.svelte';
import { runCommand } from '../../src/lib/app/commands';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import type { FakeSeed } from '../../src/lib/ipc/fake/vault';

const NOW = new Date(2026, 10, 30, 10, 0);
const seed = (extra: Partial<FakeSeed> = {}): FakeSeed => ({
  vault: 'unlocked',
  lists: [{ name: 'Work', colour: '#00f' }],
  tasks: ['Alpha', 'Beta tomorrow', 'Gamma #Work @x', 'Done one | | done'],
  ...extra,
});

async function started(s: FakeSeed = seed()) {
  const backend = new FakeBackend(s, () => NOW);
  const app = new App(backend, { now: () => NOW });
  showsRows(app);
  await app.start();
  return { app, backend };
}

/**
 * What the task list does in the window: after each view refresh, fetch
 * the records of the rows it shows (here all of them; the views are small).
 */
function showsRows(app: App) {
  const refresh = app.refreshView.bind(app);
  app.refreshView = async () => {
    await refresh();
    await app.cache.ensure(app.view.ids).catch(() => {});
  };
}

const titles = (app: App) => app.view.ids.map((id) => app.cache.get(id)?.title);

afterEach(() => vi.useRealTimers());

describe('App start-up', () => {
  it('opens an unlocked vault on the Inbox', async () => {
    const { app } = await started();
    expect(app.phase).toBe('unlocked');
    expect(titles(app)).toEqual(['Alpha', 'Beta']);
    expect(app.cache.counts.inbox).toBe(2);
  });

  it('tries the keyring first and explains why it failed', async () => {
    const { app } = await started(
      seed({ vault: 'locked', keyring: 'unavailable', passphrase: 'pw' }),
    );
    expect(app.phase).toBe('locked');
    expect(app.unlockError?.code).toBe('keyring_unavailable');
    expect(await app.unlock({ method: 'passphrase', secret: 'nope' })).toBe(false);
    expect(app.unlockError?.code).toBe('wrong_passphrase');
    expect(await app.unlock({ method: 'passphrase', secret: 'pw' })).toBe(true);
    expect(app.phase).toBe('unlocked');
    expect(titles(app)).toEqual(['Alpha', 'Beta']);
    // Only the rows on screen are held, not the vault's other tasks.
    expect(app.cache.tasks.size).toBe(2);
  });

  it('goes to first run for a missing vault and into the app after the recovery key is confirmed', async () => {
    const { app, backend } = await started(seed({ vault: 'missing' }));
    expect(app.phase).toBe('first-run');
    await app.createVault('secret');
    const key = app.recovery?.key ?? '';
    const groups = key.split('-');
    expect(groups).toHaveLength(13);
    expect(new Set(groups).size).toBeGreaterThan(10);
    const wrong = await backend.call('vault_confirm_recovery', {
      answers: [
        { group: 1, text: 'ZZZZ' },
        { group: 2, text: groups[1] ?? '' },
      ],
    });
    expect(wrong.ok).toBe(false);
    const ok = await backend.call('vault_confirm_recovery', {
      answers: [
        { group: 3, text: (groups[2] ?? '').toLowerCase() },
        { group: 9, text: groups[8] ?? '' },
      ],
    });
    expect(ok.ok).toBe(true);
    await app.finishRecovery();
    expect(app.phase).toBe('unlocked');
    expect(app.recovery).toBeNull();
  });
});

describe('optimistic quick add', () => {
  /** Holds `task_add` until released, so the test sees the moment before the answer. */
  const holdAdds = (backend: FakeBackend, fail = false) => {
    const call = backend.call.bind(backend);
    const gates: (() => void)[] = [];
    vi.spyOn(backend, 'call').mockImplementation(((cmd: string, ...rest: unknown[]) => {
      const go = () => (call as (c: string, ...a: unknown[]) => Promise<unknown>)(cmd, ...rest);
      if (cmd !== 'task_add') return go();
      return new Promise<void>((r) => gates.push(r)).then(() =>
        fail ? Promise.reject({ code: 'stale', message: 'seq' }) : go(),
      );
    }) as typeof backend.call);
    return () => gates.splice(0).forEach((g) => g());
  };

  it('shows the row at once where it will land, then the real one', async () => {
    const { app, backend } = await started();
    app.view.sort = 'created';
    await app.refreshView();
    const release = holdAdds(backend);
    const preview = await backend.call('quick_add_preview', { text: 'Epsilon tomorrow !1' });
    const adding = app.addTask('Epsilon tomorrow !1', { preview });
    expect(app.pendingAdds).toMatchObject([{ title: 'Epsilon', at: 'top' }]);
    expect(titles(app)).toEqual(['Alpha', 'Beta']); // the view itself is untouched
    release();
    expect(await adding).toBe(true);
    expect(app.pendingAdds).toEqual([]);
    // (The fake's clock stands still, so "Newest" cannot order by time here.)
    expect([...titles(app)].sort()).toEqual(['Alpha', 'Beta', 'Epsilon']);
  });

  it('takes the row back when the add fails, and Undo still works after a good one', async () => {
    const { app, backend } = await started();
    const release = holdAdds(backend, true);
    const adding = app.addTask('Zeta');
    expect(app.pendingAdds).toMatchObject([{ title: 'Zeta', at: 'end' }]);
    release();
    expect(await adding).toBe(false);
    expect(app.pendingAdds).toEqual([]);
    expect(app.toasts.items.at(-1)?.code).toBe('stale');
    vi.restoreAllMocks();
    expect(await app.addTask('Eta')).toBe(true);
    expect(titles(app)).toEqual(['Alpha', 'Beta', 'Eta']);
    await app.undo();
    expect(titles(app)).toEqual(['Alpha', 'Beta']);
  });

  it('shows nothing early where the place is not known', async () => {
    const { app, backend } = await started();
    holdAdds(backend);
    void app.addTask('Move me #Work'); // another list
    app.view.sort = 'priority';
    void app.addTask('Sorted elsewhere'); // a sort that needs the record
    await app.go({ kind: 'today' });
    void app.addTask('Due today');
    expect(app.pendingAdds).toEqual([]);
  });
});

describe('mutations', () => {
  it('completes with an Undo toast, and Undo brings the task back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { app } = await started();
    const alpha = app.view.ids[0] ?? '';
    await app.complete([alpha]);
    // The row lingers, checked, before it leaves the view.
    expect(app.lingering.has(alpha)).toBe(true);
    expect(app.cache.get(alpha)?.done).toBe(true);
    const toast = app.toasts.items.at(-1);
    expect(toast?.text).toBe('Task completed');
    expect(toast?.action?.label).toBe('Undo');
    await vi.advanceTimersByTimeAsync(700);
    expect(titles(app)).toEqual(['Beta']);
    toast?.action?.run();
    await vi.advanceTimersByTimeAsync(10);
    expect(titles(app)).toEqual(['Alpha', 'Beta']);
    expect(app.toasts.items.at(-1)?.text).toBe('Undone: Complete task');
  });

  it('deletes to the trash and restores', async () => {
    const { app } = await started();
    const beta = app.view.ids[1] ?? '';
    await app.trash([beta]);
    expect(titles(app)).toEqual(['Alpha']);
    expect(app.cache.counts.trash).toBe(1);
    await app.go({ kind: 'trash' });
    expect(titles(app)).toEqual(['Beta']);
    await app.restore([beta]);
    expect(app.view.ids).toEqual([]);
    await app.go({ kind: 'inbox' });
    expect(titles(app)).toEqual(['Alpha', 'Beta']);
  });

  it('adds in the list of the current view and refreshes it', async () => {
    const { app } = await started();
    const work = app.cache.sortedLists[0]?.id ?? '';
    await app.go({ kind: 'list', id: work });
    await app.addTask('Delta @y !2');
    expect(titles(app)).toEqual(['Gamma', 'Delta']);
    const delta = app.cache.get(app.view.ids[1] ?? '');
    expect(delta).toMatchObject({ listId: work, tags: ['y'], priority: 2 });
    expect(app.cache.tags.map((t) => t.name)).toEqual(['x', 'y']);
  });

  it('shows a stale write as "changed elsewhere" and reloads', async () => {
    const { app, backend } = await started();
    const alpha = app.view.ids[0] ?? '';
    const call = backend.call.bind(backend);
    const spy = vi.spyOn(backend, 'call').mockImplementation(((cmd: string, ...rest: unknown[]) => {
      if (cmd === 'tasks_priority') return Promise.reject({ code: 'stale', message: 'seq 4 != 5' });
      return (call as (c: string, ...a: unknown[]) => Promise<unknown>)(cmd, ...rest);
    }) as typeof backend.call);
    backend.vault.externalEdit(alpha, { title: 'Alpha (edited in pp)' });
    expect(await app.prioritise([alpha], 1)).toBe(false);
    expect(app.cache.get(alpha)?.title).toBe('Alpha (edited in pp)');
    const toast = app.toasts.items.at(-1);
    expect(toast?.code).toBe('stale');
    expect(toast?.text).toMatch(/changed elsewhere/);
    spy.mockRestore();
  });

  it('reports an empty undo history in words', async () => {
    const { app } = await started();
    await app.undo();
    expect(app.toasts.items.at(-1)).toMatchObject({ code: 'undo_empty', text: 'Nothing to undo.' });
  });
});

describe('events', () => {
  it('patches the cache on vault://changed and keeps the selection', async () => {
    const { app, backend } = await started();
    const [alpha, beta] = app.view.ids;
    app.selection.only(beta ?? '');
    backend.emit('vault://changed', backend.vault.externalEdit(alpha ?? '', { title: 'Alpha 2' }));
    await vi.waitFor(() => expect(app.cache.get(alpha ?? '')?.title).toBe('Alpha 2'));
    expect(app.selection.cursor).toBe(beta);
    backend.emit('vault://changed', backend.vault.externalAdd('From pp'));
    await vi.waitFor(() => expect(titles(app)).toEqual(['Alpha 2', 'Beta', 'From pp']));
  });

  it('drops everything on vault://locked', async () => {
    const { app, backend } = await started();
    app.detailId = app.view.ids[0] ?? null;
    backend.emit('vault://locked', { reason: 'idle' });
    expect(app.phase).toBe('locked');
    expect(app.cache.tasks.size).toBe(0);
    expect(app.view.ids).toEqual([]);
    expect(app.detailId).toBeNull();
    expect(app.lockReason).toBe('idle');
  });

  it('asks before saving a deep link, focuses quick add without one', async () => {
    const { app, backend } = await started();
    backend.emit('app://quick-add', { text: 'Buy milk tomorrow' });
    expect(app.pendingQuickAdd).toBe('Buy milk tomorrow');
    expect(app.view.ids).toHaveLength(2);
    const before = app.focusQuickAdd;
    backend.emit('app://quick-add', { text: null });
    expect(app.focusQuickAdd).toBe(before + 1);
  });

  it('navigates and opens a task on app://navigate, shows app://error', async () => {
    const { app, backend } = await started();
    // Gamma is in the Work list, not on screen (the Inbox): the cache lacks it.
    const gamma = [...backend.vault.tasks.values()].find((t) => t.title === 'Gamma');
    expect(app.cache.get(gamma?.id ?? '')).toBeUndefined();
    backend.emit('app://navigate', {
      view: { kind: 'list', id: gamma?.listId ?? '' },
      taskId: gamma?.id ?? null,
    });
    await vi.waitFor(() => expect(app.detailId).toBe(gamma?.id));
    expect(app.view.spec.kind).toBe('list');
    expect(app.cache.get(gamma?.id ?? '')?.title).toBe('Gamma');
    backend.emit('app://error', { code: 'io', message: 'backup folder missing' });
    expect(app.toasts.items.at(-1)).toMatchObject({ code: 'io', kind: 'error' });
  });
});

describe('commands', () => {
  it('moves the cursor, extends the selection and acts on all selected', async () => {
    const { app } = await started(seed({ tasks: ['A', 'B', 'C', 'D'] }));
    runCommand(app, 'next');
    expect(app.selection.cursor).toBe(app.view.ids[0]);
    runCommand(app, 'extend-down');
    runCommand(app, 'extend-down');
    expect(app.selection.size).toBe(3);
    runCommand(app, 'priority-2');
    await vi.waitFor(() => expect(app.cache.get(app.view.ids[2] ?? '')?.priority).toBe(2));
    expect(app.cache.get(app.view.ids[3] ?? '')?.priority).toBe(0);
    runCommand(app, 'delete');
    await vi.waitFor(() => expect(titles(app)).toEqual(['D']));
    expect(app.toasts.items.at(-1)?.text).toBe('3 tasks deleted');
  });

  it('opens and closes overlays in order', async () => {
    const { app } = await started();
    runCommand(app, 'palette');
    expect(app.paletteOpen).toBe(true);
    runCommand(app, 'close');
    expect(app.paletteOpen).toBe(false);
    app.detailId = app.view.ids[0] ?? null;
    runCommand(app, 'close');
    expect(app.detailId).toBeNull();
    runCommand(app, 'go-settings');
    expect(app.screen).toBe('settings');
    runCommand(app, 'close');
    expect(app.screen).toBe('tasks');
  });
});

describe('recover', () => {
  it('shows the unlock screen when a mutation meets a locked vault', async () => {
    const { app, backend } = await started();
    const alpha = app.view.ids[0] ?? '';
    backend.vault.state = 'locked';
    expect(await app.prioritise([alpha], 1)).toBe(false);
    expect(app.phase).toBe('locked');
    expect(app.cache.tasks.size).toBe(0);
    expect(app.toasts.items.at(-1)?.code).toBe('vault_locked');
  });

  it('opens the vault again from the keyring when the key was rotated elsewhere', async () => {
    const { app, backend } = await started();
    const alpha = app.view.ids[0] ?? '';
    const call = backend.call.bind(backend);
    const unlocks: unknown[] = [];
    const spy = vi.spyOn(backend, 'call').mockImplementation(((cmd: string, ...rest: unknown[]) => {
      if (cmd === 'tasks_priority') {
        // What the shell does on key_rotated: the old key is dropped.
        backend.vault.state = 'locked';
        return Promise.reject({ code: 'key_rotated', message: 'rotated' });
      }
      if (cmd === 'vault_unlock') unlocks.push(rest[0]);
      return (call as (c: string, ...a: unknown[]) => Promise<unknown>)(cmd, ...rest);
    }) as typeof backend.call);
    expect(await app.prioritise([alpha], 1)).toBe(false);
    expect(unlocks).toEqual([{ method: 'keyring' }]);
    expect(app.phase).toBe('unlocked');
    expect(app.cache.get(alpha)?.title).toBe('Alpha');
    expect(app.toasts.items.some((t) => t.code === 'key_rotated')).toBe(true);
    spy.mockRestore();
  });
});
