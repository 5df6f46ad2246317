import { describe, expect, it } from 'vitest';
import { RowHeights } from '../../src/lib/virtual/heights';

const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

describe('RowHeights', () => {
  it('lays out estimated rows', () => {
    const h = new RowHeights(40);
    h.setKeys(keys(10_000));
    expect(h.total()).toBe(400_000);
    expect(h.offsetOf(250)).toBe(10_000);
    expect(h.indexAt(10_000)).toBe(250);
    expect(h.indexAt(10_039)).toBe(250);
    expect(h.range(10_000, 400, 5)).toEqual({ start: 245, end: 265 });
  });

  it('uses measured heights and keeps them by key across reorders', () => {
    const h = new RowHeights(40);
    h.setKeys(['a', 'b', 'c']);
    expect(h.measure('b', 100)).toBe(true);
    expect(h.measure('b', 100.2)).toBe(false);
    expect(h.total()).toBe(180);
    expect(h.indexAt(139)).toBe(1);
    expect(h.indexAt(140)).toBe(2);
    h.setKeys(['b', 'a', 'c']);
    expect(h.offsetOf(1)).toBe(100);
    expect(h.measure('x', 0)).toBe(false);
  });

  it('clamps at both ends and handles an empty list', () => {
    const h = new RowHeights(40);
    h.setKeys([]);
    expect(h.range(0, 500, 3)).toEqual({ start: 0, end: 0 });
    h.setKeys(keys(5));
    expect(h.indexAt(-10)).toBe(0);
    expect(h.indexAt(1e9)).toBe(4);
    expect(h.range(0, 10_000, 3)).toEqual({ start: 0, end: 5 });
  });

  it('scrolls just enough to reveal a row, below a sticky header', () => {
    const h = new RowHeights(40);
    h.setKeys(keys(100));
    expect(h.scrollToReveal(5, 0, 400)).toBeNull();
    expect(h.scrollToReveal(20, 0, 400)).toBe(440);
    expect(h.scrollToReveal(2, 400, 400)).toBe(80);
    expect(h.scrollToReveal(20, 800, 400, 40)).toBe(760);
  });
});
