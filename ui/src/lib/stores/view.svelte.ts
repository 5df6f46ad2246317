import { AppError } from '../errors/app-error';
import type { Backend } from '../ipc/backend';
import type { Filter, Id, Sort, ViewResult, ViewSpec } from '../ipc/types';

export function sameView(a: ViewSpec, b: ViewSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function viewKey(v: ViewSpec): string {
  switch (v.kind) {
    case 'list':
      return `list:${v.id}`;
    case 'tag':
      return `tag:${v.name}`;
    case 'search':
      return 'search';
    case 'upcoming':
      return 'upcoming';
    default:
      return v.kind;
  }
}

/**
 * The current view: which one, and its ordered task ids (with parents and
 * days) from `view_query`; the records of the rows on screen are fetched
 * into the `TaskCache` as the list scrolls.
 * Answers to superseded queries are dropped, so a slow answer for the view
 * the person just left never replaces the current one.
 */
export class ViewStore {
  spec = $state.raw<ViewSpec>({ kind: 'inbox' });
  sort = $state<Sort>('manual');
  filter = $state.raw<Filter>({});
  ids = $state.raw<Id[]>([]);
  /** Per id: the index of its parent in `ids` when in the view, else -1. */
  parents = $state.raw<number[]>([]);
  /** Per id, Today and Upcoming only: the day it is grouped under. */
  days = $state.raw<(string | null)[]>([]);
  summary = $state.raw<ViewResult['summary']>({ overdue: 0, today: 0, total: 0 });
  loading = $state(false);
  error = $state.raw<AppError | null>(null);
  /** True once the current spec has had an answer. */
  ready = $state(false);
  private seq = 0;

  constructor(private readonly backend: Backend) {}

  go(spec: ViewSpec) {
    if (!sameView(spec, this.spec)) {
      this.spec = spec;
      this.ready = false;
      this.ids = [];
      this.parents = [];
      this.days = [];
      this.filter = {};
    }
  }

  async refresh(): Promise<void> {
    const seq = ++this.seq;
    const spec = this.spec;
    this.loading = true;
    try {
      const r = await this.backend.call('view_query', {
        view: spec,
        filter: this.filter,
        sort: this.sort,
      });
      if (seq !== this.seq) return;
      this.ids = r.ids;
      this.parents = r.parents;
      this.days = r.days;
      this.summary = r.summary;
      this.error = null;
      this.ready = true;
    } catch (e) {
      if (seq !== this.seq) return;
      this.error = AppError.from(e);
      this.ready = true;
      throw this.error;
    } finally {
      if (seq === this.seq) this.loading = false;
    }
  }
}
