export type ToastKind = 'info' | 'success' | 'warning' | 'error';

export type Toast = {
  id: number;
  kind: ToastKind;
  text: string;
  detail?: string;
  code?: string;
  action?: { label: string; run: () => void };
  timeoutMs: number;
};

/** Messages in the aria-live region, newest last. */
export class Toasts {
  items = $state<Toast[]>([]);
  private seq = 0;
  private timers = new Map<number, ReturnType<typeof setTimeout>>();

  show(t: Omit<Toast, 'id' | 'timeoutMs'> & { timeoutMs?: number }): number {
    this.seq += 1;
    const id = this.seq;
    const toast: Toast = {
      ...t,
      id,
      timeoutMs: t.timeoutMs ?? (t.kind === 'error' ? 10_000 : 5_000),
    };
    this.items = [...this.items.slice(-3), toast];
    if (toast.timeoutMs > 0)
      this.timers.set(
        id,
        setTimeout(() => this.dismiss(id), toast.timeoutMs),
      );
    return id;
  }

  dismiss(id: number) {
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
    this.items = this.items.filter((t) => t.id !== id);
  }

  clear() {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.items = [];
  }
}
