import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import {
  TASKS_GET_MAX,
  type Changes,
  type TaskDto,
  type ViewResult,
} from '../../src/lib/ipc/types';
import { Selection } from '../../src/lib/stores/selection.svelte';
import { TaskCache } from '../../src/lib/stores/tasks.svelte';
import { ViewStore } from '../../src/lib/stores/view.svelte';
import type { Backend } from '../../src/lib/ipc/backend';

const task = (id: string, extra: Partial<TaskDto> = {}): TaskDto => ({
  id,
  title: id,
  notes: '',
  listId: null,
  tags: [],
  priority: 0,
  due: null,
  recurrence: null,
  parentId: null,
  order: id,
  done: false,
  doneAt: null,
  trashedAt: null,
  createdAt: '',
  updatedAt: '1',
  ...extra,
});
const counts = { inbox: 0, today: 0, overdue: 0, upcoming: 0, trash: 0 };
const history = { canUndo: true, canRedo: false, undoLabel: 'Edit task', redoLabel: null };
const changes = (c: Partial<Changes>): Changes => ({
  tasks: [],
  removedTasks: [],
  lists: [],
  removedLists: [],
  tags: [],
  counts,
  history,
  ...c,
});

/** A backend that answers `tasks_get` from `records` and logs each call's ids. */
const rowsBackend = (records: TaskDto[]) => {
  const byId = new Map(records.map((t) => [t.id, t]));
  const asked: string[][] = [];
  const gates: (() => void)[] = [];
  let hold = false;
  const backend = {
    call: async (cmd: string, args: { ids: string[] }) => {
      expect(cmd).toBe('tasks_get');
      asked.push(args.ids);
      // What the vault holds when the call arrives, not when it answers.
      const found = args.ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
      if (hold) await new Promise<void>((r) => gates.push(r));
      return found;
    },
  } as unknown as Backend;
  return {
    backend,
    asked,
    byId,
    holdAnswers: () => (hold = true),
    release: () => gates.splice(0).forEach((g) => g()),
  };
};
const snapshot = { lists: [], tags: [], counts, history };

describe('TaskCache', () => {
  it('patches, removes and keeps untouched records identical', async () => {
    const { backend } = rowsBackend([task('a', { tags: ['t'] }), task('b')]);
    const cache = new TaskCache(backend);
    cache.load({ ...snapshot, tags: [{ name: 't', openCount: 1 }] });
    await cache.ensure(['a', 'b']);
    const b = cache.get('b');
    cache.apply(
      changes({
        tasks: [task('a', { title: 'A2', updatedAt: '2', tags: ['t'] })],
        removedTasks: [],
        tags: null,
      }),
    );
    expect(cache.get('a')?.title).toBe('A2');
    expect(cache.get('b')).toBe(b);
    expect(cache.tags).toEqual([{ name: 't', openCount: 1 }]); // null = unchanged
    expect(cache.history.undoLabel).toBe('Edit task');
    cache.apply(changes({ removedTasks: ['a'], tags: [] }));
    expect(cache.get('a')).toBeUndefined();
    // The shell sent an empty table: the last tag leaves the sidebar.
    expect(cache.tags).toEqual([]);
  });

  it('fetches only the records it lacks, once, however often asked', async () => {
    const rb = rowsBackend([task('a'), task('b'), task('c')]);
    const cache = new TaskCache(rb.backend);
    cache.load(snapshot);
    rb.holdAnswers();
    const one = cache.ensure(['a', 'b']);
    const two = cache.ensure(['b', 'c']);
    rb.release();
    await Promise.all([one, two]);
    const last = cache.ensure(['a', 'b', 'c', 'gone']);
    rb.release();
    await last;
    expect(rb.asked).toEqual([['a', 'b'], ['c'], ['gone']]);
    expect(cache.get('c')?.id).toBe('c');
    expect(cache.get('gone')).toBeUndefined();
  });

  it('asks in chunks of at most TASKS_GET_MAX ids', async () => {
    const ids = Array.from({ length: TASKS_GET_MAX + 5 }, (_, i) => `t${i}`);
    const rb = rowsBackend(ids.map((id) => task(id)));
    const cache = new TaskCache(rb.backend);
    cache.load(snapshot);
    await cache.ensure(ids);
    expect(rb.asked.map((a) => a.length)).toEqual([TASKS_GET_MAX, 5]);
    expect(cache.tasks.size).toBe(ids.length);
  });

  it('keeps a change that lands while an older fetch of the same task is under way', async () => {
    // Regression guard: tasks_get read the vault, then a mutation's
    // Changes arrived, then the fetch answered — the stale record must not win.
    const rb = rowsBackend([task('a', { title: 'old', updatedAt: '1' })]);
    const cache = new TaskCache(rb.backend);
    cache.load(snapshot);
    rb.holdAnswers();
    const fetching = cache.ensure(['a']);
    cache.apply(changes({ tasks: [task('a', { title: 'new', updatedAt: '2' })] }));
    rb.release();
    await fetching;
    expect(cache.get('a')?.title).toBe('new');
    // Trashed for good while a fetch was under way: it does not come back.
    rb.byId.set('b', task('b'));
    const again = cache.ensure(['b']);
    cache.apply(changes({ removedTasks: ['b'] }));
    rb.release();
    await again;
    expect(cache.get('b')).toBeUndefined();
  });

  it('drops answers fetched before a lock or reload', async () => {
    const rb = rowsBackend([task('a')]);
    const cache = new TaskCache(rb.backend);
    cache.load(snapshot);
    rb.holdAnswers();
    const fetching = cache.ensure(['a']);
    cache.clear();
    rb.release();
    await fetching;
    expect(cache.tasks.size).toBe(0);
  });

  it('holds at most the limit, keeping what is on screen', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `t${i}`);
    const rb = rowsBackend(ids.map((id) => task(id)));
    const cache = new TaskCache(rb.backend);
    cache.load(snapshot);
    await cache.ensure(ids);
    cache.retain(new Set(['t1', 't2']), 100);
    expect(cache.tasks.size).toBe(50); // under the limit: nothing dropped
    cache.retain(new Set(['t1', 't2']), 10);
    expect([...cache.tasks.keys()].sort()).toEqual(['t1', 't2']);
  });

  it('merges list changes and sorts lists by order', () => {
    const cache = new TaskCache(rowsBackend([]).backend);
    const list = (id: string, order: string) => ({
      id,
      name: id,
      colour: null,
      order,
      archived: false,
      openCount: 0,
    });
    cache.load({ ...snapshot, lists: [list('x', 'b'), list('y', 'a')] });
    expect(cache.sortedLists.map((l) => l.id)).toEqual(['y', 'x']);
    cache.apply(changes({ lists: [list('z', '0')], removedLists: ['x'] }));
    expect(cache.sortedLists.map((l) => l.id)).toEqual(['z', 'y']);
  });
});

describe('Selection', () => {
  const order = ['a', 'b', 'c', 'd', 'e'];

  it('extends from the anchor and toggles', () => {
    const s = new Selection();
    s.only('b');
    s.extendTo('d', order);
    expect([...s.ids]).toEqual(['b', 'c', 'd']);
    s.extendTo('a', order);
    expect([...s.ids].sort()).toEqual(['a', 'b']);
    s.toggle('e');
    expect(s.has('e')).toBe(true);
    expect(s.targets(order)).toEqual(['a', 'b', 'e']);
  });

  it('moves the cursor to a neighbour when its task leaves the view', () => {
    const s = new Selection();
    s.only('c');
    s.prune(['a', 'b', 'd', 'e'], order);
    expect(s.cursor).toBe('d');
    expect(s.size).toBe(0);
    s.only('e');
    s.prune(['a'], ['a', 'e']);
    expect(s.cursor).toBe('a');
  });
});

describe('ViewStore', () => {
  it('drops an answer that arrives after a newer query', async () => {
    const resolvers: ((r: ViewResult) => void)[] = [];
    const backend = {
      call: () => new Promise<ViewResult>((resolve) => resolvers.push(resolve)),
    } as unknown as Backend;
    const view = new ViewStore(backend);
    const first = view.refresh();
    view.go({ kind: 'today' });
    const second = view.refresh();
    resolvers[1]?.({
      ids: ['new'],
      parents: [-1],
      days: [],
      summary: { overdue: 0, today: 1, total: 1 },
    });
    await second;
    resolvers[0]?.({
      ids: ['old'],
      parents: [-1],
      days: [],
      summary: { overdue: 0, today: 0, total: 1 },
    });
    await first;
    expect(view.ids).toEqual(['new']);
  });

  it('asks the backend for the current spec, filter and sort', async () => {
    const backend = new FakeBackend({ vault: 'unlocked', tasks: ['b !2', 'a !1', 'c'] });
    const view = new ViewStore(backend);
    view.sort = 'priority';
    await view.refresh();
    expect(view.ids.map((id) => backend.vault.tasks.get(id)?.title)).toEqual(['a', 'b', 'c']);
    view.filter = { priority: 2 };
    await view.refresh();
    expect(view.summary.total).toBe(1);
  });
});
