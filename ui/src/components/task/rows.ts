import { shiftDays, ymd } from '../../lib/format/dates';
import type { Id, ViewResult, ViewSpec } from '../../lib/ipc/types';

export type Row =
  | { key: string; kind: 'task'; id: Id; depth: number; hasChildren: boolean }
  | { key: string; kind: 'day'; date: string; count: number; overdue: boolean }
  /** A quick add not yet confirmed by the shell (`App.pendingAdds`). */
  | { key: string; kind: 'pending'; title: string };

/** A view's structure as `view_query` answers it (no task records). */
export type ViewShape = Pick<ViewResult, 'ids' | 'parents' | 'days'>;

/**
 * The rows a view shows, from its ordered ids and their parent indexes:
 * subtasks indented under a parent that is in the view (and hidden while
 * it is folded); Upcoming and Today grouped by day under headers. Needs
 * no task record, so 10k rows are laid out without fetching 10k tasks.
 */
export function buildRows(
  spec: ViewSpec,
  view: ViewShape,
  folded: ReadonlySet<Id>,
  now: Date,
): Row[] {
  const { ids, parents } = view;
  const grouped = spec.kind === 'upcoming' || spec.kind === 'today';
  if (grouped) return dayRows(ids, view.days, ymd(now));
  const hasChildren = new Set<number>();
  for (const p of parents) if (p >= 0) hasChildren.add(p);
  // A parent always comes before its subtasks, so one pass knows each
  // row's depth and whether a folded ancestor hides it.
  const depth = new Int32Array(ids.length);
  const hidden = new Uint8Array(ids.length);
  const rows: Row[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as Id;
    const p = parents[i] ?? -1;
    if (p >= 0 && p < i) {
      depth[i] = (depth[p] ?? 0) + 1;
      hidden[i] = hidden[p] || folded.has(ids[p] as Id) ? 1 : 0;
    }
    if (hidden[i]) continue;
    rows.push({ key: id, kind: 'task', id, depth: depth[i] ?? 0, hasChildren: hasChildren.has(i) });
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
function dayRows(ids: readonly Id[], dueDays: readonly (string | null)[], today: string): Row[] {
  const days = new Map<string, Id[]>();
  ids.forEach((id, i) => {
    const d = dueDays[i] ?? null;
    const date = d ? (d < today ? 'overdue' : d) : 'none';
    const day = days.get(date);
    if (day) day.push(id);
    else days.set(date, [id]);
  });
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
