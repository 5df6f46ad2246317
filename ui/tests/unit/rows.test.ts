import { describe, expect, it } from 'vitest';
import { SvelteSet } from 'svelte/reactivity';
import { buildRows, type ViewShape } from '../../src/components/task/rows';
import type { TaskDto } from '../../src/lib/ipc/types';

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
  updatedAt: '',
  ...extra,
});
const due = (date: string) => ({ date, time: null, tz: null, at: date });
const now = new Date(2026, 10, 30, 10, 0);

/** What `view_query` answers for these ids: parent indexes, and days for Today/Upcoming. */
const shape = (ids: string[], byId: Map<string, TaskDto>, kind: string): ViewShape => {
  const index = new Map<string, number>();
  const parents = ids.map((id, i) => {
    const p = byId.get(id)?.parentId;
    index.set(id, i);
    return p && index.has(p) && index.get(p)! < i ? index.get(p)! : -1;
  });
  const byDay = kind === 'today' || kind === 'upcoming';
  return { ids, parents, days: byDay ? ids.map((id) => byId.get(id)?.due?.date ?? null) : [] };
};

describe('buildRows', () => {
  const tasks = new Map([
    ['p', task('p')],
    ['c1', task('c1', { parentId: 'p' })],
    ['g', task('g', { parentId: 'c1' })],
    ['q', task('q')],
  ]);

  it('indents subtasks under a parent in the view', () => {
    const rows = buildRows(
      { kind: 'inbox' },
      shape(['p', 'c1', 'g', 'q'], tasks, 'inbox'),
      new SvelteSet(),
      now,
    );
    expect(rows.map((r) => (r.kind === 'task' ? [r.id, r.depth, r.hasChildren] : null))).toEqual([
      ['p', 0, true],
      ['c1', 1, true],
      ['g', 2, false],
      ['q', 0, false],
    ]);
  });

  it('hides every descendant of a folded task, and only those', () => {
    const rows = buildRows(
      { kind: 'inbox' },
      shape(['p', 'c1', 'g', 'q'], tasks, 'inbox'),
      new SvelteSet(['c1']),
      now,
    );
    expect(rows.map((r) => r.key)).toEqual(['p', 'c1', 'q']);
  });

  it('does not indent under a parent that is not in the view', () => {
    const rows = buildRows(
      { kind: 'inbox' },
      { ids: ['c1', 'q'], parents: [-1, -1], days: [] },
      new SvelteSet(),
      now,
    );
    expect(rows.map((r) => (r.kind === 'task' ? r.depth : -1))).toEqual([0, 0]);
  });

  it('hides the descendants of a folded task', () => {
    const rows = buildRows(
      { kind: 'inbox' },
      shape(['p', 'c1', 'g', 'q'], tasks, 'inbox'),
      new SvelteSet(['p']),
      now,
    );
    expect(rows.map((r) => r.key)).toEqual(['p', 'q']);
  });

  it('groups Upcoming and Today by day, overdue first', () => {
    const t = new Map([
      ['o', task('o', { due: due('2026-11-28') })],
      ['a', task('a', { due: due('2026-11-30') })],
      ['b', task('b', { due: due('2026-12-01') })],
      ['c', task('c', { due: due('2026-12-01') })],
    ]);
    const rows = buildRows(
      { kind: 'today' },
      shape(['o', 'a', 'b', 'c'], t, 'today'),
      new SvelteSet(),
      now,
    );
    expect(rows.map((r) => r.key)).toEqual([
      'day:overdue',
      'o',
      'day:2026-11-30',
      'a',
      'day:2026-12-01',
      'b',
      'c',
    ]);
    const header = rows.find((r) => r.key === 'day:2026-12-01');
    expect(header).toMatchObject({ kind: 'day', count: 2 });
  });

  it('shows each day once when the view interleaves overdue and today (a manual order)', () => {
    // Regression: a task made overdue after others sorted between today's
    // tasks, its "Overdue" header was pushed a second time with the same
    // key, and the keyed list threw, breaking the Today view.
    const byId = new Map([
      ['a', task('a', { due: due('2026-11-30') })],
      ['late', task('late', { due: due('2026-11-29') })],
      ['b', task('b', { due: due('2026-11-30') })],
      ['older', task('older', { due: due('2026-11-20') })],
    ]);
    const rows = buildRows(
      { kind: 'today' },
      shape(['a', 'late', 'b', 'older'], byId, 'today'),
      new SvelteSet(),
      now,
    );
    expect(rows.map((r) => r.key)).toEqual([
      'day:overdue',
      'late',
      'older',
      'day:2026-11-30',
      'a',
      'b',
    ]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
    expect(rows[0]).toMatchObject({ kind: 'day', count: 2, overdue: true });
  });
});
