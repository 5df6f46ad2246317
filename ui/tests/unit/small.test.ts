import { describe, expect, it } from 'vitest';
import { acceleratorFromEvent } from '../../src/components/settings/accelerator';
import { keyGroups, pickGroups } from '../../src/components/vault/recovery';
import { highlightRuns } from '../../src/lib/format/highlight';

describe('highlightRuns', () => {
  it('marks every case-insensitive match', () => {
    expect(highlightRuns('Buy milk, then MILK again', 'milk')).toEqual([
      { text: 'Buy ', hit: false },
      { text: 'milk', hit: true },
      { text: ', then ', hit: false },
      { text: 'MILK', hit: true },
      { text: ' again', hit: false },
    ]);
    expect(highlightRuns('abc', '  ')).toEqual([{ text: 'abc', hit: false }]);
  });
});

describe('recovery key groups', () => {
  it('splits and picks two distinct groups', () => {
    expect(keyGroups('ABCD-EFGH-JKMN')).toEqual(['ABCD', 'EFGH', 'JKMN']);
    for (let i = 0; i < 50; i++) {
      const r = ((i * 7919) % 100) / 100;
      const [a, b] = pickGroups(13, () => r);
      expect(a).toBeLessThan(b);
      expect(a).toBeGreaterThanOrEqual(1);
      expect(b).toBeLessThanOrEqual(13);
    }
  });
});

describe('acceleratorFromEvent', () => {
  const ev = (code: string, key: string, m: Partial<KeyboardEvent> = {}) =>
    ({
      code,
      key,
      ctrlKey: false,
      metaKey: false,
      altKey: false,
      shiftKey: false,
      ...m,
    }) as KeyboardEvent;
  it('needs a modifier and uses the physical key', () => {
    expect(acceleratorFromEvent(ev('Space', ' ', { ctrlKey: true, shiftKey: true }))).toBe(
      'CommandOrControl+Shift+Space',
    );
    expect(acceleratorFromEvent(ev('KeyA', 'å', { altKey: true }))).toBe('Alt+A');
    expect(acceleratorFromEvent(ev('KeyA', 'a'))).toBeNull();
    expect(acceleratorFromEvent(ev('KeyA', 'A', { shiftKey: true }))).toBeNull();
    expect(acceleratorFromEvent(ev('ControlLeft', 'Control', { ctrlKey: true }))).toBeNull();
  });
});
