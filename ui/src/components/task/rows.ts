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

  const grouped = spec.kind === 'upcoming' || spec.kind === 'today';
  if (grouped) return dayRows(ids, get, ymd(now));
  const rows: Row[] = [];
  for (const id of ids) {
    const t = get(id);
    if (!t || hiddenByFold(t)) continue;
    rows.push({ key: id, kind: 'task', id, depth: depthOf(t), hasChildren: hasChildren.has(id) });
  }
  return rows;
}

/**
 * Today's and Upcoming's rows: one header per day ("overdue" first, then
 * the days in order, undated last), each task under its day in the order
 * the view gave. The view's order need not follow the days (a manual or
 * priority sort interleaves overdue and today), and a header must appear
 * once: its key is the row's identity in a keyed list.
 */
function dayRows(ids: readonly Id[], get: (id: Id) => TaskDto | undefined, today: string): Row[] {
  const days = new Map<string, Id[]>();
  for (const id of ids) {
    const t = get(id);
    if (!t) continue;
    const date = t.due ? (t.due.date < today ? 'overdue' : t.due.date) : 'none';
    const day = days.get(date);
    if (day) day.push(id);
    else days.set(date, [id]);
  }
  const rank = (d: string) => (d === 'overdue' ? '0' : d === 'none' ? '2' : `1${d}`);
  const rows: Row[] = [];
  for (const date of [...days.keys()].sort((a, b) => rank(a).localeCompare(rank(b)))) {
    const dayIds = days.get(date) ?? [];
    rows.push({
      key: `day:${date}`,
      kind: 'day',
      date,
      count: dayIds.length,
      overdue: date === 'overdue',
    });
    for (const id of dayIds) rows.push({ key: id, kind: 'task', id, depth: 0, hasChildren: false });
  }
  return rows;
}

/** The 14 days of Upcoming, for headers of days with nothing due (not shown; kept for tests). */
export function upcomingDays(now: Date, days: number): string[] {
  const start = ymd(now);
  return Array.from({ length: days }, (_, i) => shiftDays(start, i));
}
