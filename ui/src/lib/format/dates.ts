import type { DateFormat, DueDto, TimeFormat, WeekStart } from '../ipc/types';

export type DateOptions = { timeFormat: TimeFormat; dateFormat: DateFormat };

const WEEKDAY_SHORT = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const WEEKDAY_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function ymd(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function parseYmd(s: string): Date {
  const [y, m, d] = s.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1);
}

export function shiftDays(s: string, n: number): string {
  const d = parseYmd(s);
  d.setDate(d.getDate() + n);
  return ymd(d);
}

/** Whole calendar days from `a` to `b` (both YYYY-MM-DD), DST-safe. */
export function dayDiff(a: string, b: string): number {
  const x = parseYmd(a);
  const y = parseYmd(b);
  return Math.round(
    (Date.UTC(y.getFullYear(), y.getMonth(), y.getDate()) -
      Date.UTC(x.getFullYear(), x.getMonth(), x.getDate())) /
      86_400_000,
  );
}

export function formatTime(hhmm: string, fmt: TimeFormat): string {
  const [h = 0, m = 0] = hhmm.split(':').map(Number);
  if (fmt === '24h') return `${h}:${String(m).padStart(2, '0')}`;
  const suffix = h < 12 ? 'AM' : 'PM';
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return `${h12}:${String(m).padStart(2, '0')} ${suffix}`;
}

export function formatDate(date: string, opts: DateOptions, withYear: boolean): string {
  const d = parseYmd(date);
  const day = d.getDate();
  const mon = MONTHS[d.getMonth()] ?? '';
  if (opts.dateFormat === 'ymd') return withYear ? date : date.slice(5);
  const core = opts.dateFormat === 'mdy' ? `${mon} ${day}` : `${day} ${mon}`;
  return withYear
    ? opts.dateFormat === 'mdy'
      ? `${core}, ${d.getFullYear()}`
      : `${core} ${d.getFullYear()}`
    : core;
}

export type DueText = { text: string; overdue: boolean; today: boolean; long: string };

/**
 * A due date in words, relative to `now`: "Today 9:00", "Tomorrow", "Fri",
 * "Yesterday", "12 Dec", "12 Dec 2027". Overdue = the day has passed, or
 * today with a time already gone.
 */
export function dueText(due: DueDto, now: Date, opts: DateOptions): DueText {
  const today = ymd(now);
  const diff = dayDiff(today, due.date);
  const time = due.time ? formatTime(due.time, opts.timeFormat) : null;
  let day: string;
  if (diff === 0) day = 'Today';
  else if (diff === 1) day = 'Tomorrow';
  else if (diff === -1) day = 'Yesterday';
  else if (diff > 1 && diff < 7) day = WEEKDAY_SHORT[parseYmd(due.date).getDay()] ?? '';
  else day = formatDate(due.date, opts, parseYmd(due.date).getFullYear() !== now.getFullYear());
  const nowHm = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  const overdue = diff < 0 || (diff === 0 && due.time !== null && due.time < nowHm);
  const text = time ? `${day} ${time}` : day;
  const longDay = `${WEEKDAY_LONG[parseYmd(due.date).getDay()]} ${formatDate(due.date, opts, true)}`;
  return { text, overdue, today: diff === 0, long: time ? `${longDay}, ${time}` : longDay };
}

/** Upcoming's day headers: "Today", "Tomorrow", then "Wednesday 2 Dec". */
export function dayHeading(date: string, now: Date, opts: DateOptions): string {
  const diff = dayDiff(ymd(now), date);
  const d = parseYmd(date);
  const rest = `${WEEKDAY_LONG[d.getDay()]} ${formatDate(date, opts, d.getFullYear() !== now.getFullYear())}`;
  if (diff === 0) return `Today · ${rest}`;
  if (diff === 1) return `Tomorrow · ${rest}`;
  return rest;
}

/** Index of the first day of the week (0 = Sunday) for a calendar grid. */
export function weekStartIndex(ws: WeekStart): number {
  return ws === 'sunday' ? 0 : ws === 'saturday' ? 6 : 1;
}

/** The 6×7 grid of dates for a month view, starting on the week's first day. */
export function monthGrid(year: number, month: number, ws: WeekStart): string[] {
  const first = new Date(year, month, 1);
  const offset = (first.getDay() - weekStartIndex(ws) + 7) % 7;
  const start = new Date(year, month, 1 - offset);
  const out: string[] = [];
  for (let i = 0; i < 42; i++) {
    const d = new Date(start.getFullYear(), start.getMonth(), start.getDate() + i);
    out.push(ymd(d));
  }
  return out;
}

export function weekdayHeaders(ws: WeekStart): string[] {
  const start = weekStartIndex(ws);
  return Array.from({ length: 7 }, (_, i) => WEEKDAY_SHORT[(start + i) % 7] ?? '');
}

export function monthTitle(year: number, month: number): string {
  return `${['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'][month]} ${year}`;
}

/** An instant as a date and a time to the minute, in the user's locale ("20 Nov 2026, 08:00"). */
export function instantText(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
