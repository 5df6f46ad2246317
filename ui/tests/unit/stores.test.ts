import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import type { Changes, TaskDto, ViewResult } from '../../src/lib/ipc/types';
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

describe('TaskCache', () => {
  it('patches, removes and keeps untouched records identical', () => {
    const cache = new TaskCache();
    cache.load({
      tasks: [task('a', { tags: ['t'] }), task('b')],
      lists: [],
      tags: [{ name: 't', openCount: 1 }],
      counts,
      history,
    });
    const b = cache.get('b');
    cache.apply(
      changes({
        tasks: [task('a', { title: 'A2', updatedAt: '2', tags: ['t'] })],
        removedTasks: [],
      }),
    );
    expect(cache.get('a')?.title).toBe('A2');
    expect(cache.get('b')).toBe(b);
    expect(cache.history.undoLabel).toBe('Edit task');
    cache.apply(changes({ removedTasks: ['a'] }));
    expect(cache.get('a')).toBeUndefined();
    // The last carrier of @t is gone and the shell sent no tag table: the tag leaves the sidebar.
    expect(cache.tags).toEqual([]);
  });

  it('merges list changes and sorts lists by order', () => {
    const cache = new TaskCache();
    const list = (id: string, order: string) => ({
      id,
      name: id,
      colour: null,
      order,
      archived: false,
      openCount: 0,
    });
    cache.load({ tasks: [], lists: [list('x', 'b'), list('y', 'a')], tags: [], counts, history });
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
    resolvers[1]?.({ ids: ['new'], summary: { overdue: 0, today: 1, total: 1 } });
    await second;
    resolvers[0]?.({ ids: ['old'], summary: { overdue: 0, today: 0, total: 1 } });
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
