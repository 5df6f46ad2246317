import { describe, expect, it } from 'vitest';
import {
  dayHeading,
  dueText,
  formatTime,
  monthGrid,
  weekdayHeaders,
} from '../../src/lib/format/dates';
import type { DueDto } from '../../src/lib/ipc/types';

// Monday 30 November 2026, 10:30 local time.
const now = new Date(2026, 10, 30, 10, 30);
const h24 = { timeFormat: '24h', dateFormat: 'dmy' } as const;
const due = (date: string, time: string | null = null): DueDto => ({
  date,
  time,
  tz: null,
  at: `${date}T${time ?? '00:00'}:00Z`,
});

describe('dueText', () => {
  it('says Today / Tomorrow with the time', () => {
    expect(dueText(due('2026-11-30', '17:00'), now, h24).text).toBe('Today 17:00');
    expect(dueText(due('2026-12-01', '09:00'), now, h24).text).toBe('Tomorrow 9:00');
    expect(dueText(due('2026-12-01'), now, h24).text).toBe('Tomorrow');
  });

  it('uses the weekday within the coming week, a date after that', () => {
    expect(dueText(due('2026-12-04'), now, h24).text).toBe('Fri');
    expect(dueText(due('2026-12-06', '08:05'), now, h24).text).toBe('Sun 8:05');
    expect(dueText(due('2026-12-07'), now, h24).text).toBe('7 Dec');
    expect(dueText(due('2026-12-07'), now, { timeFormat: '24h', dateFormat: 'mdy' }).text).toBe(
      'Dec 7',
    );
    expect(dueText(due('2027-01-05'), now, h24).text).toBe('5 Jan 2027');
    expect(dueText(due('2027-01-05'), now, { timeFormat: '24h', dateFormat: 'ymd' }).text).toBe(
      '2027-01-05',
    );
  });

  it('marks past days and passed times today as overdue', () => {
    expect(dueText(due('2026-11-29'), now, h24)).toMatchObject({
      text: 'Yesterday',
      overdue: true,
    });
    expect(dueText(due('2026-11-20'), now, h24)).toMatchObject({ text: '20 Nov', overdue: true });
    expect(dueText(due('2026-11-30', '09:00'), now, h24).overdue).toBe(true);
    expect(dueText(due('2026-11-30', '11:00'), now, h24).overdue).toBe(false);
    expect(dueText(due('2026-11-30'), now, h24)).toMatchObject({ overdue: false, today: true });
  });

  it('writes 12-hour times', () => {
    expect(formatTime('00:15', '12h')).toBe('12:15 AM');
    expect(formatTime('12:00', '12h')).toBe('12:00 PM');
    expect(formatTime('17:30', '12h')).toBe('5:30 PM');
    expect(
      dueText(due('2026-12-01', '09:00'), now, { timeFormat: '12h', dateFormat: 'dmy' }).text,
    ).toBe('Tomorrow 9:00 AM');
  });

  it('gives a long form for titles and screen readers', () => {
    expect(dueText(due('2026-12-04', '17:00'), now, h24).long).toBe('Friday 4 Dec 2026, 17:00');
  });
});

describe('calendar helpers', () => {
  it('heads Upcoming days', () => {
    expect(dayHeading('2026-11-30', now, h24)).toBe('Today · Monday 30 Nov');
    expect(dayHeading('2026-12-01', now, h24)).toBe('Tomorrow · Tuesday 1 Dec');
    expect(dayHeading('2026-12-02', now, h24)).toBe('Wednesday 2 Dec');
  });

  it('starts the month grid on the chosen weekday', () => {
    // December 2026 starts on a Tuesday.
    expect(monthGrid(2026, 11, 'monday')[0]).toBe('2026-11-30');
    expect(monthGrid(2026, 11, 'sunday')[0]).toBe('2026-11-29');
    expect(monthGrid(2026, 11, 'saturday')[0]).toBe('2026-11-28');
    expect(monthGrid(2026, 11, 'monday')).toHaveLength(42);
    expect(weekdayHeaders('sunday')[0]).toBe('Sun');
    expect(weekdayHeaders('monday')[6]).toBe('Sun');
  });
});
