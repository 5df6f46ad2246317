import { SvelteMap } from 'svelte/reactivity';
import type {
  Changes,
  HistoryState,
  Id,
  ListDto,
  SidebarCounts,
  Snapshot,
  TagDto,
  TaskDto,
} from '../ipc/types';

const NO_COUNTS: SidebarCounts = { inbox: 0, today: 0, overdue: 0, upcoming: 0, trash: 0 };
const NO_HISTORY: HistoryState = {
  canUndo: false,
  canRedo: false,
  undoLabel: null,
  redoLabel: null,
};

/**
 * The decrypted records the UI holds: tasks by id, lists, tags, counts and
 * history. Filled from a `Snapshot`, patched by every `Changes` (own
 * mutations and `vault://changed`), dropped on lock. Each task is its own
 * reactive entry, so patching one re-renders only the rows that show it.
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

  readonly sortedLists = $derived(
    [...this.lists]
      .filter((l) => !l.archived)
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0)),
  );
  readonly archivedLists = $derived(this.lists.filter((l) => l.archived));

  load(s: Snapshot) {
    this.tasks.clear();
    for (const t of s.tasks) this.tasks.set(t.id, t);
    this.lists = s.lists;
    this.tags = s.tags;
    this.counts = s.counts;
    this.history = s.history;
    this.loaded = true;
    this.version += 1;
  }

  apply(c: Changes) {
    for (const t of c.tasks) {
      const prev = this.tasks.get(t.id);
      // Skip identical records so rows that show them do not re-render.
      if (!prev || prev.updatedAt !== t.updatedAt || JSON.stringify(prev) !== JSON.stringify(t)) {
        this.tasks.set(t.id, t);
      }
    }
    for (const id of c.removedTasks) this.tasks.delete(id);
    if (c.lists.length || c.removedLists.length) {
      const byId = new Map(this.lists.map((l) => [l.id, l]));
      for (const l of c.lists) byId.set(l.id, l);
      for (const id of c.removedLists) byId.delete(id);
      this.lists = [...byId.values()];
    }
    if (c.tags.length) this.tags = c.tags;
    else if (c.tasks.length || c.removedTasks.length) {
      // [] means "unchanged" — or a table that became empty. Drop tags no
      // live task carries any more, so a removed last tag leaves the sidebar.
      const live = new Set<string>();
      for (const t of this.tasks.values()) if (!t.trashedAt) for (const g of t.tags) live.add(g);
      if (this.tags.some((g) => !live.has(g.name)))
        this.tags = this.tags.filter((g) => live.has(g.name));
    }
    this.counts = c.counts;
    this.history = c.history;
    this.version += 1;
  }

  clear() {
    this.tasks.clear();
    this.lists = [];
    this.tags = [];
    this.counts = NO_COUNTS;
    this.history = NO_HISTORY;
    this.loaded = false;
    this.version += 1;
  }

  get(id: Id): TaskDto | undefined {
    return this.tasks.get(id);
  }

  list(id: Id | null): ListDto | undefined {
    return id ? this.lists.find((l) => l.id === id) : undefined;
  }

  childrenOf(id: Id): TaskDto[] {
    const out: TaskDto[] = [];
    for (const t of this.tasks.values()) if (t.parentId === id && !t.trashedAt) out.push(t);
    return out.sort((a, b) => (a.order < b.order ? -1 : 1));
  }
}
