import { describe, expect, it } from 'vitest';
import { parseDueText, parseQuickAdd, parseRepeatText } from '../../src/lib/ipc/fake/grammar';

// The fake backend's stand-in grammar must agree with the core on the shapes the UI tests use.
const now = new Date(2026, 10, 30, 10, 0); // Monday

describe('fake quick-add grammar', () => {
  it('reads list, tags, priority, date and repeat', () => {
    const p = parseQuickAdd('Pay rent tomorrow 9am #Home @bills !1', now);
    expect(p).toMatchObject({ title: 'Pay rent', listName: 'Home', tags: ['bills'], priority: 1 });
    expect(p.due).toMatchObject({ date: '2026-12-01', time: '09:00' });
    const r = parseQuickAdd('Standup every weekday at 9:30 #Work', now);
    expect(r.recurrence?.label).toBe('every weekday');
    expect(r.title).toBe('Standup');
    expect(r.due?.time).toBe('09:30');
    expect(parseQuickAdd('Call mom on friday at 5pm', now).due).toMatchObject({
      date: '2026-12-04',
      time: '17:00',
    });
  });

  it('keeps escaped words in the title', () => {
    expect(parseQuickAdd('Read \\#1 \\tomorrow', now).title).toBe('Read #1 tomorrow');
  });

  it('reports the grammar errors by code', () => {
    expect(() => parseQuickAdd('#a #b x', now)).toThrow(
      expect.objectContaining({ code: 'quick_add_multiple_lists' }),
    );
    expect(() => parseQuickAdd('x !7', now)).toThrow(
      expect.objectContaining({ code: 'quick_add_bad_priority' }),
    );
    expect(() => parseQuickAdd('#home @x', now)).toThrow(
      expect.objectContaining({ code: 'quick_add_empty_title' }),
    );
    expect(() => parseQuickAdd('x 2026-02-30', now)).toThrow(
      expect.objectContaining({ code: 'quick_add_invalid_date' }),
    );
  });

  it('parses due and repeat phrases alone', () => {
    expect(parseDueText('next fri 5pm', now)).toMatchObject({ date: '2026-12-04', time: '17:00' });
    expect(() => parseDueText('soonish', now)).toThrow(
      expect.objectContaining({ code: 'quick_add_not_a_date' }),
    );
    expect(parseRepeatText('every 2 weeks')).toEqual({
      rule: 'FREQ=WEEKLY;INTERVAL=2',
      label: 'every 2 weeks',
    });
    expect(() => parseRepeatText('now and then')).toThrow(
      expect.objectContaining({ code: 'invalid_recurrence' }),
    );
  });
});
