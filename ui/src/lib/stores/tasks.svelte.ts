import { SvelteMap } from 'svelte/reactivity';
import type { Backend } from '../ipc/backend';
import {
  TASKS_GET_MAX,
  type Changes,
  type HistoryState,
  type Id,
  type ListDto,
  type SidebarCounts,
  type Snapshot,
  type TagDto,
  type TaskDto,
} from '../ipc/types';

const NO_COUNTS: SidebarCounts = { inbox: 0, today: 0, overdue: 0, upcoming: 0, trash: 0 };
const NO_HISTORY: HistoryState = {
  canUndo: false,
  canRedo: false,
  undoLabel: null,
  redoLabel: null,
};

/**
 * How many task records the cache keeps before it drops those no longer
 * needed: a few screenfuls with their margins. The vault may hold 100k
 * tasks; the web process holds only what is (nearly) on screen — the core
 * in the shell is the one full copy.
 */
export const CACHE_SOFT_LIMIT = 800;

/**
 * The decrypted records the UI holds: lists, tags, counts and history in
 * full (small), and the task records of the rows on screen (plus a margin,
 * the open task and the selection) fetched with `tasks_get` — never every
 * task. Patched by every `Changes` (own mutations and `vault://changed`),
 * dropped on lock. Each task is its own reactive entry, so patching one
 * re-renders only the rows that show it.
 */
export class TaskCache {
  readonly tasks = new SvelteMap<Id, TaskDto>();
  lists = $state.raw<ListDto[]>([]);
  tags = $state.raw<TagDto[]>([]);
  counts = $state.raw<SidebarCounts>(NO_COUNTS);
  history = $state.raw<HistoryState>(NO_HISTORY);
  /** Bumped on every load/patch: views re-query their ids when it moves. */
  version = $state(0);
  loaded = $state(false);

  /** Bumped by load/clear: answers fetched before it are dropped. */
  private epoch = 0;
  /** Per id, the `applied` count when a `Changes` last carried it. */
  private touched = new Map<Id, number>();
  private applied = 0;
  private inFlight = new Map<Id, Promise<void>>();

  readonly sortedLists = $derived(
    [...this.lists]
      .filter((l) => !l.archived)
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0)),
  );
  readonly archivedLists = $derived(this.lists.filter((l) => l.archived));

  constructor(private readonly backend: Backend) {}

  load(s: Snapshot) {
    this.tasks.clear();
    this.resetFetches();
    this.lists = s.lists;
    this.tags = s.tags;
    this.counts = s.counts;
    this.history = s.history;
    this.loaded = true;
    this.version += 1;
  }

  apply(c: Changes) {
    this.applied += 1;
    for (const t of c.tasks) {
      this.touched.set(t.id, this.applied);
      const prev = this.tasks.get(t.id);
      // Skip identical records so rows that show them do not re-render.
      if (!prev || prev.updatedAt !== t.updatedAt || JSON.stringify(prev) !== JSON.stringify(t)) {
        this.tasks.set(t.id, t);
      }
    }
    for (const id of c.removedTasks) {
      this.touched.set(id, this.applied);
      this.tasks.delete(id);
    }
    if (c.lists.length || c.removedLists.length) {
      const byId = new Map(this.lists.map((l) => [l.id, l]));
      for (const l of c.lists) byId.set(l.id, l);
      for (const id of c.removedLists) byId.delete(id);
      this.lists = [...byId.values()];
    }
    if (c.tags !== null) this.tags = c.tags;
    this.counts = c.counts;
    this.history = c.history;
    this.version += 1;
  }

  clear() {
    this.tasks.clear();
    this.resetFetches();
    this.lists = [];
    this.tags = [];
    this.counts = NO_COUNTS;
    this.history = NO_HISTORY;
    this.loaded = false;
    this.version += 1;
  }

  private resetFetches() {
    this.epoch += 1;
    this.touched.clear();
    this.inFlight.clear();
  }

  get(id: Id): TaskDto | undefined {
    return this.tasks.get(id);
  }

  list(id: Id | null): ListDto | undefined {
    return id ? this.lists.find((l) => l.id === id) : undefined;
  }

  /**
   * Fetches the records of `ids` the cache lacks (one `tasks_get` per
   * TASKS_GET_MAX ids; ids already being fetched are awaited, not asked
   * twice). An id the vault no longer has simply stays absent. A record
   * that a `Changes` carried while its fetch was under way keeps the
   * `Changes` version: the fetch may have read the vault before the change.
   */
  async ensure(ids: Iterable<Id>): Promise<void> {
    const wait: Promise<void>[] = [];
    const missing: Id[] = [];
    for (const id of ids) {
      if (this.tasks.has(id)) continue;
      const pending = this.inFlight.get(id);
      if (pending) wait.push(pending);
      else missing.push(id);
    }
    for (let i = 0; i < missing.length; i += TASKS_GET_MAX) {
      const chunk = missing.slice(i, i + TASKS_GET_MAX);
      const epoch = this.epoch;
      const asked = this.applied;
      const p = this.backend.call('tasks_get', { ids: chunk }).then(
        (found) => {
          if (epoch !== this.epoch) return;
          for (const id of chunk) this.inFlight.delete(id);
          for (const t of found) {
            if ((this.touched.get(t.id) ?? -1) > asked) continue;
            if (!this.tasks.has(t.id)) this.tasks.set(t.id, t);
          }
        },
        (e: unknown) => {
          if (epoch === this.epoch) for (const id of chunk) this.inFlight.delete(id);
          throw e;
        },
      );
      for (const id of chunk) this.inFlight.set(id, p);
      wait.push(p);
    }
    await Promise.all(wait);
  }

  /**
   * Drops records outside `keep` once the cache holds more than `limit`,
   * so scrolling through 10k rows never accumulates them all.
   */
  retain(keep: ReadonlySet<Id>, limit = CACHE_SOFT_LIMIT) {
    if (this.tasks.size <= limit) return;
    for (const id of [...this.tasks.keys()]) if (!keep.has(id)) this.tasks.delete(id);
    // `touched` only matters for fetches in flight; forget the rest.
    if (this.inFlight.size === 0) this.touched.clear();
  }
}
