// A small stand-in for the core's quick-add grammar (crates/core/src/quickadd.rs),
// enough to drive the UI in tests and the browser dev mode. The real grammar
// lives in Rust; this one covers its common shapes and error codes.
import { AppError } from '../../errors/app-error';
import type { DueDto, Priority, RecurrenceDto } from '../types';
import { addDays, dueAt, toYmd } from './dates';

export type Parsed = {
  title: string;
  listName: string | null;
  tags: string[];
  priority: Priority;
  due: DueDto | null;
  recurrence: RecurrenceDto | null;
};

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const WEEKDAY_SHORT = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function weekdayIndex(word: string): number {
  const w = word.toLowerCase();
  const full = WEEKDAYS.indexOf(w);
  if (full >= 0) return full;
  return WEEKDAY_SHORT.indexOf(w);
}

function parseTime(word: string): string | null {
  const w = word.toLowerCase();
  if (w === 'noon') return '12:00';
  if (w === 'midnight') return '00:00';
  const m = /^(\d{1,2})(?::(\d{2}))?(am|pm)?$/.exec(w);
  if (!m) return null;
  let h = Number(m[1]);
  const min = m[2] ? Number(m[2]) : 0;
  const ampm = m[3];
  if (!ampm && !m[2]) return null; // a bare number is never a time
  if (ampm === 'pm' && h < 12) h += 12;
  if (ampm === 'am' && h === 12) h = 0;
  if (h > 23 || min > 59) return null;
  return `${String(h).padStart(2, '0')}:${String(min).padStart(2, '0')}`;
}

type DateHit = { start: number; end: number; date: string | null; time: string | null };

/** Finds one date phrase in `words` (already stripped of grammar tokens). */
function findDate(words: string[], now: Date): DateHit | null {
  const today = toYmd(now);
  let best: DateHit | null = null;
  const take = (hit: DateHit) => {
    if (!best || hit.end - hit.start >= best.end - best.start) best = hit;
  };
  for (let i = 0; i < words.length; i++) {
    const raw = words[i] ?? '';
    if (raw.startsWith('\\')) continue;
    const w = raw.toLowerCase();
    let start = i;
    if ((w === 'on' || w === 'by' || w === 'due') && i + 1 < words.length) {
      continue;
    }
    let date: string | null = null;
    let end = i + 1;
    if (w === 'today') date = today;
    else if (w === 'yesterday') date = addDays(today, -1);
    else if (w === 'tomorrow' || w === 'tmr' || w === 'tmrw') date = addDays(today, 1);
    else if (w === 'tonight') {
      take({ start, end, date: today, time: '19:00' });
      continue;
    } else if (w === 'next' && words[i + 1]?.toLowerCase() === 'week') {
      date = addDays(today, 7);
      end = i + 2;
    } else if (w === 'next' && weekdayIndex(words[i + 1] ?? '') >= 0) {
      date = nextWeekday(now, weekdayIndex(words[i + 1] ?? ''));
      end = i + 2;
    } else if (
      w === 'in' &&
      /^\d+$/.test(words[i + 1] ?? '') &&
      /^days?$/i.test(words[i + 2] ?? '')
    ) {
      date = addDays(today, Number(words[i + 1]));
      end = i + 3;
    } else if (
      w === 'in' &&
      /^\d+$/.test(words[i + 1] ?? '') &&
      /^weeks?$/i.test(words[i + 2] ?? '')
    ) {
      date = addDays(today, 7 * Number(words[i + 1]));
      end = i + 3;
    } else if (/^\d{4}-\d{2}-\d{2}$/.test(w)) {
      const d = new Date(`${w}T00:00:00`);
      if (Number.isNaN(d.getTime()) || toYmd(d) !== w) {
        throw new AppError('quick_add_invalid_date', `\`${raw}\` is not a valid date`);
      }
      date = w;
    } else if (weekdayIndex(w) >= 0 && WEEKDAYS.includes(w)) {
      date = nextWeekday(now, weekdayIndex(w));
    } else if (weekdayIndex(w) >= 0 && !['wed', 'sat', 'sun'].includes(w)) {
      date = nextWeekday(now, weekdayIndex(w));
    }
    let time: string | null = null;
    if (date) {
      const prev = words[start - 1]?.toLowerCase();
      if (prev === 'on' || prev === 'by' || prev === 'due') start -= 1;
      let j = end;
      if (words[j]?.toLowerCase() === 'at' || words[j] === '@') j += 1;
      const t = parseTime(words[j] ?? '');
      if (t) {
        time = t;
        end = j + 1;
      }
      take({ start, end, date, time });
      continue;
    }
    // A time alone: "at 18:00", "9am".
    if (w === 'at' && i + 1 < words.length) {
      const t = /^\d{1,2}:\d{2}$/.test(words[i + 1] ?? '')
        ? parseTime(`${words[i + 1]}`)
        : parseTime(words[i + 1] ?? '');
      if (t) take({ start: i, end: i + 2, date: null, time: t });
      continue;
    }
    if (/[ap]m$/.test(w)) {
      const t = parseTime(w);
      if (t) take({ start: i, end: i + 1, date: null, time: t });
    }
  }
  return best;
}

function nextWeekday(now: Date, target: number): string {
  const diff = (target - now.getDay() + 7) % 7 || 7;
  return addDays(toYmd(now), diff);
}

const REPEAT_UNITS: Record<string, [string, string]> = {
  day: ['DAILY', 'day'],
  days: ['DAILY', 'days'],
  week: ['WEEKLY', 'week'],
  weeks: ['WEEKLY', 'weeks'],
  month: ['MONTHLY', 'month'],
  months: ['MONTHLY', 'months'],
  year: ['YEARLY', 'year'],
  years: ['YEARLY', 'years'],
};

const BYDAY = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

/** "every monday", "every 2 weeks", "every weekday", "daily" → RRULE body + label. */
export function parseRepeatWords(words: string[]): { rec: RecurrenceDto; used: number } | null {
  const first = words[0]?.toLowerCase();
  const simple: Record<string, RecurrenceDto> = {
    daily: { rule: 'FREQ=DAILY', label: 'every day' },
    weekly: { rule: 'FREQ=WEEKLY', label: 'every week' },
    monthly: { rule: 'FREQ=MONTHLY', label: 'every month' },
    yearly: { rule: 'FREQ=YEARLY', label: 'every year' },
  };
  if (first && simple[first]) return { rec: simple[first], used: 1 };
  if (first !== 'every' && first !== 'each') return null;
  const second = (words[1] ?? '').toLowerCase();
  if (second === 'weekday') {
    return { rec: { rule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', label: 'every weekday' }, used: 2 };
  }
  if (second === 'other') {
    const unit = REPEAT_UNITS[(words[2] ?? '').toLowerCase()];
    if (unit) {
      return {
        rec: { rule: `FREQ=${unit[0]};INTERVAL=2`, label: `every other ${unit[1]}` },
        used: 3,
      };
    }
    return null;
  }
  const wd = weekdayIndex(second);
  if (wd >= 0) {
    return {
      rec: { rule: `FREQ=WEEKLY;BYDAY=${BYDAY[wd]}`, label: `every ${WEEKDAYS[wd]}` },
      used: 2,
    };
  }
  const unit = REPEAT_UNITS[second];
  if (unit) return { rec: { rule: `FREQ=${unit[0]}`, label: `every ${unit[1]}` }, used: 2 };
  if (/^\d+$/.test(second)) {
    const n = Number(second);
    const u = REPEAT_UNITS[(words[2] ?? '').toLowerCase()];
    if (u && n > 0) {
      const rule = n === 1 ? `FREQ=${u[0]}` : `FREQ=${u[0]};INTERVAL=${n}`;
      const label =
        n === 1 ? `every ${u[1].replace(/s$/, '')}` : `every ${n} ${u[1].replace(/s?$/, 's')}`;
      return { rec: { rule, label }, used: 3 };
    }
  }
  return null;
}

export function parseQuickAdd(text: string, now: Date): Parsed {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  let listName: string | null = null;
  const tags: string[] = [];
  let priority: Priority = 0;
  let priorityTok: string | null = null;
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    if (w.startsWith('#"')) {
      const parts = [w.slice(2)];
      while (!parts[parts.length - 1]?.endsWith('"') && i + 1 < words.length) {
        i += 1;
        parts.push(words[i] ?? '');
      }
      const joined = parts.join(' ');
      if (!joined.endsWith('"')) {
        throw new AppError(
          'quick_add_unclosed_list_name',
          `list name \`#"${joined}\` has no closing quote`,
        );
      }
      setList(joined.slice(0, -1));
      continue;
    }
    if (w.startsWith('#') && w.length > 1 && !/^#\d+$/.test(w)) {
      setList(w.slice(1).replace(/[,;.:!?]+$/, ''));
      continue;
    }
    if (w.startsWith('@') && w.length > 1) {
      const tag = w.slice(1).replace(/[,;.:!?]+$/, '');
      if (!tags.includes(tag)) tags.push(tag);
      continue;
    }
    const prio = /^(?:!|p)(\d+)$/i.exec(w);
    if (prio) {
      const n = Number(prio[1]);
      if (n < 1 || n > 4) {
        if (w.startsWith('!'))
          throw new AppError(
            'quick_add_bad_priority',
            `\`${w}\`: priority is !1 (most urgent) to !4`,
          );
        rest.push(w);
        continue;
      }
      if (priorityTok && priority !== n) {
        throw new AppError(
          'quick_add_multiple_priorities',
          `two priorities given, \`${priorityTok}\` and \`${w}\``,
        );
      }
      priority = n as Priority;
      priorityTok = w;
      continue;
    }
    rest.push(w);
  }

  let recurrence: RecurrenceDto | null = null;
  for (let i = 0; i < rest.length; i++) {
    const w = (rest[i] ?? '').toLowerCase();
    const isSimple = ['daily', 'weekly', 'monthly', 'yearly'].includes(w) && i > 0;
    if (w === 'every' || w === 'each' || isSimple) {
      const hit = parseRepeatWords(rest.slice(i));
      if (hit) {
        recurrence = hit.rec;
        rest.splice(i, hit.used);
        break;
      }
    }
  }

  let due: DueDto | null = null;
  const hit = findDate(rest, now);
  if (hit) {
    let date = hit.date;
    if (!date) {
      const nowHm = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
      date = hit.time !== null && hit.time > nowHm ? toYmd(now) : addDays(toYmd(now), 1);
    }
    due = { date, time: hit.time, tz: null, at: dueAt(date, hit.time) };
    rest.splice(hit.start, hit.end - hit.start);
  } else if (recurrence) {
    const today = toYmd(now);
    due = { date: today, time: null, tz: null, at: dueAt(today, null) };
  }

  const title = rest
    .map((w) => (w.startsWith('\\') ? w.slice(1) : w))
    .join(' ')
    .replace(/[,;:-]+$/, '')
    .trim();
  if (!title) {
    throw new AppError(
      'quick_add_empty_title',
      'a task needs a title: everything typed was read as list, tags, priority or date',
    );
  }
  return { title, listName, tags, priority, due, recurrence };

  function setList(name: string) {
    if (listName !== null && listName !== name) {
      throw new AppError(
        'quick_add_multiple_lists',
        `two lists given, \`#${listName}\` and \`#${name}\``,
      );
    }
    listName = name;
  }
}

export function parseDueText(text: string, now: Date): DueDto {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const hit = words.length ? findDate(words, now) : null;
  if (!hit || hit.end - hit.start !== words.length) {
    throw new AppError('quick_add_not_a_date', `\`${text.trim()}\` is not a date I understand`);
  }
  const date = hit.date ?? toYmd(now);
  return { date, time: hit.time, tz: null, at: dueAt(date, hit.time) };
}

export function parseRepeatText(text: string): RecurrenceDto {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const hit = parseRepeatWords(words);
  if (!hit || hit.used !== words.length) {
    throw new AppError(
      'invalid_recurrence',
      `\`${text.trim()}\` is not a repeat rule I understand`,
    );
  }
  return hit.rec;
}
