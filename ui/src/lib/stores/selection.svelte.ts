import { SvelteSet } from 'svelte/reactivity';
import type { Id } from '../ipc/types';

/**
 * Which tasks are selected and where the keyboard cursor is. Survives
 * cache patches (`vault://changed`); ids that leave the view are pruned.
 */
export class Selection {
  readonly ids = new SvelteSet<Id>();
  cursor = $state<Id | null>(null);
  anchor = $state<Id | null>(null);

  readonly size = $derived(this.ids.size);

  has(id: Id): boolean {
    return this.ids.has(id);
  }

  /** Plain click / j / k: one task. */
  only(id: Id) {
    this.ids.clear();
    this.ids.add(id);
    this.cursor = id;
    this.anchor = id;
  }

  /** Ctrl/Cmd+click. */
  toggle(id: Id) {
    if (this.ids.has(id)) this.ids.delete(id);
    else this.ids.add(id);
    this.cursor = id;
    this.anchor = id;
  }

  /** Shift+click / Shift+↓: everything between the anchor and `id` in view order. */
  extendTo(id: Id, order: readonly Id[]) {
    const anchor = this.anchor ?? this.cursor ?? id;
    const a = order.indexOf(anchor);
    const b = order.indexOf(id);
    if (a < 0 || b < 0) {
      this.only(id);
      return;
    }
    this.ids.clear();
    const [from, to] = a <= b ? [a, b] : [b, a];
    for (let i = from; i <= to; i++) {
      const x = order[i];
      if (x !== undefined) this.ids.add(x);
    }
    this.cursor = id;
    this.anchor = anchor;
  }

  all(order: readonly Id[]) {
    this.ids.clear();
    for (const id of order) this.ids.add(id);
  }

  clear() {
    this.ids.clear();
    this.anchor = null;
  }

  /** Drops ids no longer in the view; moves the cursor to a neighbour if its task left. */
  prune(order: readonly Id[], previous: readonly Id[]) {
    const present = new Set(order);
    for (const id of [...this.ids]) if (!present.has(id)) this.ids.delete(id);
    if (this.cursor && !present.has(this.cursor)) {
      const at = previous.indexOf(this.cursor);
      let next: Id | null = null;
      for (let i = at + 1; i < previous.length && next === null; i++) {
        const id = previous[i];
        if (id !== undefined && present.has(id)) next = id;
      }
      for (let i = at - 1; i >= 0 && next === null; i--) {
        const id = previous[i];
        if (id !== undefined && present.has(id)) next = id;
      }
      this.cursor = next ?? order[0] ?? null;
      if (this.anchor && !present.has(this.anchor)) this.anchor = this.cursor;
    }
  }

  /** The tasks an action applies to: the selection, else the cursor's task. */
  targets(order: readonly Id[]): Id[] {
    if (this.ids.size > 0)
      return order
        .filter((id) => this.ids.has(id))
        .concat([...this.ids].filter((id) => !order.includes(id)));
    return this.cursor ? [this.cursor] : [];
  }
}
