import { shiftDays, ymd } from '../../lib/format/dates';
import type { Id, TaskDto, ViewSpec } from '../../lib/ipc/types';

export type Row =
  | { key: string; kind: 'task'; id: Id; depth: number; hasChildren: boolean }
  | { key: string; kind: 'day'; date: string; count: number; overdue: boolean };

/**
 * The rows a view shows, from its ordered ids: subtasks indented under a
 * parent that is in the view (and hidden while it is folded); Upcoming and
 * Today grouped by day under headers.
 */
export function buildRows(
  spec: ViewSpec,
  ids: readonly Id[],
  get: (id: Id) => TaskDto | undefined,
  folded: ReadonlySet<Id>,
  now: Date,
): Row[] {
  const inView = new Set(ids);
  const parentOf = (t: TaskDto) => (t.parentId && inView.has(t.parentId) ? t.parentId : null);
  const hasChildren = new Set<Id>();
  for (const id of ids) {
    const t = get(id);
    const p = t ? parentOf(t) : null;
    if (p) hasChildren.add(p);
  }
  const depthOf = (t: TaskDto): number => {
    let d = 0;
    let cur: TaskDto | undefined = t;
    const seen = new Set<Id>();
    while (cur) {
      const p = parentOf(cur);
      if (!p || seen.has(p)) break;
      seen.add(p);
      d += 1;
      cur = get(p);
    }
    return d;
  };
  const hiddenByFold = (t: TaskDto): boolean => {
    let cur: TaskDto | undefined = t;
    const seen = new Set<Id>();
    while (cur) {
      const p = parentOf(cur);
      if (!p || seen.has(p)) return false;
      if (folded.has(p)) return true;
      seen.add(p);
      cur = get(p);
    }
    return false;
  };

  const rows: Row[] = [];
  const grouped = spec.kind === 'upcoming' || spec.kind === 'today';
  const today = ymd(now);
  let currentDay: string | null = null;
  let header: Extract<Row, { kind: 'day' }> | null = null;
  for (const id of ids) {
    const t = get(id);
    if (!t) continue;
    if (grouped) {
      // Today's view: one "Overdue" section, then today. Upcoming: one per day.
      const date = t.due ? (t.due.date < today ? 'overdue' : t.due.date) : 'none';
      if (date !== currentDay) {
        currentDay = date;
        header = { key: `day:${date}`, kind: 'day', date, count: 0, overdue: date === 'overdue' };
        rows.push(header);
      }
      if (header) header.count += 1;
    }
    if (!grouped && hiddenByFold(t)) continue;
    const depth = grouped ? 0 : depthOf(t);
    rows.push({ key: id, kind: 'task', id, depth, hasChildren: !grouped && hasChildren.has(id) });
  }
  return rows;
}

/** The 14 days of Upcoming, for headers of days with nothing due (not shown; kept for tests). */
export function upcomingDays(now: Date, days: number): string[] {
  const start = ymd(now);
  return Array.from({ length: days }, (_, i) => shiftDays(start, i));
}
