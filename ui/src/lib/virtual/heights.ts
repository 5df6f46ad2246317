// Row geometry for the virtual list: measured heights by row key (so a
// measurement survives reordering), an estimate for rows never rendered,
// prefix offsets rebuilt lazily, and binary search for the first visible row.

export type Range = { start: number; end: number };

export class RowHeights {
  private keys: readonly string[] = [];
  private measured = new Map<string, number>();
  private offsets: Float64Array = new Float64Array(1);
  private dirty = true;

  constructor(private estimate: number) {}

  setKeys(keys: readonly string[]) {
    this.keys = keys;
    this.dirty = true;
  }

  get count(): number {
    return this.keys.length;
  }

  /** Records a measured height; true when it changed the layout. */
  measure(key: string, height: number): boolean {
    if (!(height > 0)) return false;
    const prev = this.measured.get(key);
    if (prev !== undefined && Math.abs(prev - height) < 0.5) return false;
    this.measured.set(key, height);
    this.dirty = true;
    return true;
  }

  heightOf(index: number): number {
    const key = this.keys[index];
    if (key === undefined) return 0;
    return this.measured.get(key) ?? this.estimate;
  }

  private rebuild() {
    if (!this.dirty) return;
    const n = this.keys.length;
    const offsets = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i] ?? 0) + this.heightOf(i);
    this.offsets = offsets;
    this.dirty = false;
  }

  /** Top of row `index` (index = count gives the total height). */
  offsetOf(index: number): number {
    this.rebuild();
    const i = Math.max(0, Math.min(index, this.keys.length));
    return this.offsets[i] ?? 0;
  }

  total(): number {
    return this.offsetOf(this.keys.length);
  }

  /** The row whose span contains `y` (clamped to the rows there are). */
  indexAt(y: number): number {
    this.rebuild();
    const n = this.keys.length;
    if (n === 0) return 0;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.offsets[mid] ?? 0) <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Rows to render for a viewport, with `overscan` rows beyond each edge. */
  range(scrollTop: number, viewport: number, overscan: number): Range {
    const n = this.keys.length;
    if (n === 0) return { start: 0, end: 0 };
    const first = this.indexAt(Math.max(0, scrollTop));
    const last = this.indexAt(Math.max(0, scrollTop + viewport - 1));
    return { start: Math.max(0, first - overscan), end: Math.min(n, last + 1 + overscan) };
  }

  /** The scrollTop that brings row `index` into view, or null when it already is. */
  scrollToReveal(index: number, scrollTop: number, viewport: number, stickyTop = 0): number | null {
    const top = this.offsetOf(index);
    const bottom = top + this.heightOf(index);
    if (top - stickyTop < scrollTop) return Math.max(0, top - stickyTop);
    if (bottom > scrollTop + viewport) return bottom - viewport;
    return null;
  }
}
