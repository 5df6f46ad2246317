// An in-memory implementation of the whole IPC contract (docs/desktop-ipc.md):
// what the UI's tests and `--mode fake` run against. It keeps the contract's
// observable behaviour (Changes after every mutation, undo as before-images,
// error codes) without any of the core's storage or crypto.
import { AppError } from '../../errors/app-error';
import type {
  AppStatus,
  BackupInfo,
  PreMigrationCopy,
  Changes,
  CommandName,
  DueDto,
  EventName,
  Events,
  Filter,
  HistoryState,
  Id,
  ListDto,
  Priority,
  ResultOf,
  Settings,
  SidebarCounts,
  SlotInfo,
  Snapshot,
  Sort,
  TagDto,
  TaskDto,
  TaskPatchDto,
  ViewResult,
  ViewSpec,
} from '../types';
import { TASKS_GET_MAX } from '../types';
import { addDays, dueAt, toYmd } from './dates';
import { FakeSync, type FakeSyncAccount } from './sync';
import { FakeUpdater, type FakeUpdateSeed } from './updates';
import { FakeHealth, type FakeHealthSeed } from './health';
import { parseDueText, parseQuickAdd, parseRepeatText } from './grammar';

export type KeyringState = 'ok' | 'unavailable' | 'missing';

export type FakeSeed = {
  vault: 'missing' | 'locked' | 'unlocked';
  keyring?: KeyringState;
  passphrase?: string | null;
  recoveryKey?: string;
  lists?: { name: string; colour?: string | null }[];
  tasks?: string[];
  /** Adds this many generated tasks to the Inbox (performance tests). */
  bulk?: number;
  /** Milliseconds each command waits before answering (tests of "never blocks"). */
  latencyMs?: number;
  /** Per-command latency overrides. */
  latency?: Partial<Record<CommandName, number>>;
  settings?: Partial<Settings>;
  /** Accounts on the pretend sync server (see ./sync.ts). */
  syncAccounts?: FakeSyncAccount[];
  /** The pretend update service and updater (see ./updates.ts). */
  updates?: FakeUpdateSeed;
  /** The pretend health reports (see ./health.ts). */
  health?: FakeHealthSeed;
  /** A newer app upgraded the vault: unlocking fails with `vault_too_new`; these copies are offered. */
  tooNew?: { copies: PreMigrationCopy[] };
};

export const DEFAULT_SETTINGS: Settings = {
  theme: 'system',
  weekStart: 'monday',
  timeFormat: '24h',
  dateFormat: 'dmy',
  reminderLeadMinutes: 0,
  remindersEnabled: true,
  quickAddShortcut: null,
  autostart: false,
  lockAfterMinutes: null,
  closeToTray: false,
  updateChannel: 'stable',
  updateCheckAutomatically: true,
};

/** The version app_status reports. */
export const APP_VERSION = '0.1.0';

const RECOVERY_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

type Before = { tasks: Map<Id, TaskDto | null>; lists: Map<Id, ListDto | null> };
type Action = { label: string; before: Before; after: Before };

function clone<T>(v: T): T {
  return structuredClone(v);
}

export class FakeVault {
  state: 'missing' | 'locked' | 'unlocked';
  keyring: KeyringState;
  passphrase: string | null;
  recoveryKey: string;
  pendingRecoveryKey: string | null = null;
  slots: SlotInfo[] = [];
  tasks = new Map<Id, TaskDto>();
  lists = new Map<Id, ListDto>();
  undoStack: Action[] = [];
  redoStack: Action[] = [];
  settings: Settings;
  backups: BackupInfo[] = [];
  files = new Map<string, string>();
  calls: { cmd: string; args: unknown }[] = [];
  activityCount = 0;
  firstPaintMarks = 0;
  snoozed: { id: Id; minutes: number }[] = [];
  tooNew: { copies: PreMigrationCopy[] } | null;
  readonly sync: FakeSync;
  readonly updates: FakeUpdater;
  readonly health: FakeHealth;
  /** Where the fake's own events go (the backend's, or the mocked Tauri event bus). */
  onEvent: <E extends EventName>(event: E, payload: Events[E]) => void = () => {};
  private seq = 0;
  private pending: Action | null = null;
  private stored: { tasks: Map<Id, TaskDto>; lists: Map<Id, ListDto> } | null = null;

  constructor(
    readonly seed: FakeSeed,
    readonly now: () => Date = () => new Date(),
  ) {
    this.state = seed.vault;
    this.tooNew = seed.tooNew ? clone(seed.tooNew) : null;
    this.keyring = seed.keyring ?? 'ok';
    this.passphrase = seed.passphrase ?? null;
    this.recoveryKey = seed.recoveryKey ?? this.makeRecoveryKey();
    this.settings = { ...DEFAULT_SETTINGS, ...seed.settings };
    this.sync = new FakeSync(
      seed.syncAccounts ?? [],
      () => this.nowIso(),
      () => this.makeRecoveryKey(),
      (key) => (this.pendingRecoveryKey = key),
    );
    this.updates = new FakeUpdater(
      seed.updates ?? {},
      { current: APP_VERSION, channel: this.settings.updateChannel },
      () => this.now(),
      (s) => this.onEvent('update://state', s),
    );
    this.health = new FakeHealth(
      seed.health ?? {},
      APP_VERSION,
      () => this.settings.updateChannel,
      () => this.now(),
    );
    if (seed.vault !== 'missing') {
      this.slots = [{ id: 'slot-keyring', kind: 'keyring', createdAt: this.nowIso() }];
      if (this.passphrase)
        this.slots.push({ id: 'slot-pass', kind: 'passphrase', createdAt: this.nowIso() });
      this.slots.push({ id: 'slot-recovery', kind: 'recovery', createdAt: this.nowIso() });
      this.populate(seed);
      if (seed.vault === 'locked') {
        this.stored = { tasks: this.tasks, lists: this.lists };
        this.tasks = new Map();
        this.lists = new Map();
      }
    }
  }

  private populate(seed: FakeSeed) {
    for (const l of seed.lists ?? []) this.insertList(l.name, l.colour ?? null);
    for (const line of seed.tasks ?? []) {
      // A line may be "Title ... | notes | done | parent=<title>".
      const [text = '', notes = '', flag = ''] = line.split('|').map((part) => part.trim());
      let parentId: Id | null = null;
      const parentMatch = /^parent=(.*)$/.exec(flag);
      if (parentMatch) {
        parentId = [...this.tasks.values()].find((t) => t.title === parentMatch[1])?.id ?? null;
      }
      const task = this.insertFromText(text, null, parentId);
      task.notes = notes;
      if (flag === 'done') {
        task.done = true;
        task.doneAt = this.nowIso();
      }
      if (flag === 'trash') task.trashedAt = this.nowIso();
    }
    const n = seed.bulk ?? 0;
    for (let i = 0; i < n; i++) {
      const id = this.newId();
      const t = this.blankTask(id, `Generated task ${String(i + 1).padStart(5, '0')}`);
      t.order = this.nextOrder();
      if (i % 7 === 0) t.tags = ['bulk'];
      if (i % 5 === 0) t.notes = 'Some notes\nover two lines';
      this.tasks.set(id, t);
    }
    this.undoStack = [];
    this.persist();
  }

  /**
   * The "disk" is the live maps themselves; a lock moves them aside (what
   * survives it) and an unlock brings them back. Nothing is copied per
   * write, so the fake stays cheap with 10k tasks.
   */
  private persist() {
    this.stored = null;
  }

  /**
   * The shell's own timer (at start and every few hours): checks only when
   * Settings say "Check automatically". Tests call it to stand for one.
   */
  automaticUpdateCheck(): Promise<unknown> | null {
    if (!this.settings.updateCheckAutomatically) return null;
    return this.updates.check().catch(() => null);
  }

  nowIso(): string {
    return this.now().toISOString();
  }

  private newId(): Id {
    this.seq += 1;
    return this.seq.toString(16).padStart(32, '0');
  }

  private orderAfter(i: number): string {
    return `a${String(i).padStart(7, '0')}`;
  }

  private orderSeq = 0;

  /** An order key after every task's (keys between two tasks only ever sort below it). */
  private nextOrder(): string {
    this.orderSeq += 1;
    return this.orderAfter(this.orderSeq);
  }

  private keysMade = 0;

  /** 52 Crockford base32 characters in groups of four, different each time. */
  private makeRecoveryKey(): string {
    this.keysMade += 1;
    let x = (this.keysMade * 2654435761) >>> 0;
    let s = '';
    for (let i = 0; i < 52; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      s += RECOVERY_ALPHABET[x >>> 27];
    }
    return (s.match(/.{4}/g) ?? []).join('-');
  }

  private blankTask(id: Id, title: string): TaskDto {
    const now = this.nowIso();
    return {
      id,
      title,
      notes: '',
      listId: null,
      tags: [],
      priority: 0,
      due: null,
      recurrence: null,
      parentId: null,
      order: 'a0000000',
      done: false,
      doneAt: null,
      trashedAt: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  private insertList(name: string, colour: string | null): ListDto {
    const id = this.newId();
    const order = `l${String(this.lists.size).padStart(4, '0')}`;
    const list: ListDto = { id, name, colour, order, archived: false, openCount: 0 };
    this.lists.set(id, list);
    return list;
  }

  private insertFromText(
    text: string,
    listId: Id | null,
    parentId: Id | null,
    dueToday = false,
  ): TaskDto {
    const p = parseQuickAdd(text, this.now());
    let lid = listId;
    if (p.listName !== null) {
      const name = p.listName;
      const found = [...this.lists.values()].find(
        (l) => l.name.toLowerCase() === name.toLowerCase(),
      );
      if (found) lid = found.id;
      else {
        this.touchList(null);
        const created = this.insertList(name, null);
        this.recordNewList(created.id);
        lid = created.id;
      }
    }
    if (parentId) lid = this.tasks.get(parentId)?.listId ?? lid;
    const id = this.newId();
    const t = this.blankTask(id, p.title);
    t.listId = lid;
    t.parentId = parentId;
    t.tags = [...p.tags].sort();
    t.priority = p.priority;
    t.due = p.due;
    if (!t.due && dueToday) {
      const today = toYmd(this.now());
      t.due = { date: today, time: null, tz: null, at: dueAt(today, null) };
    }
    t.recurrence = p.recurrence;
    t.order = this.nextOrder();
    this.recordNewTask(id);
    this.tasks.set(id, t);
    return t;
  }

  // ----- history -----

  private begin(label: string) {
    this.pending = {
      label,
      before: { tasks: new Map(), lists: new Map() },
      after: { tasks: new Map(), lists: new Map() },
    };
  }

  private touch(id: Id) {
    if (this.pending && !this.pending.before.tasks.has(id)) {
      const t = this.tasks.get(id);
      this.pending.before.tasks.set(id, t ? clone(t) : null);
    }
  }

  private touchList(id: Id | null) {
    if (id && this.pending && !this.pending.before.lists.has(id)) {
      const l = this.lists.get(id);
      this.pending.before.lists.set(id, l ? clone(l) : null);
    }
  }

  private recordNewTask(id: Id) {
    if (this.pending && !this.pending.before.tasks.has(id)) this.pending.before.tasks.set(id, null);
  }

  private recordNewList(id: Id) {
    if (this.pending && !this.pending.before.lists.has(id)) this.pending.before.lists.set(id, null);
  }

  private commit(opts: { undoable?: boolean } = {}): Changes {
    const action = this.pending;
    this.pending = null;
    if (!action) throw new Error('commit without begin');
    for (const id of action.before.tasks.keys()) {
      const t = this.tasks.get(id);
      if (t) t.updatedAt = this.nowIso();
      action.after.tasks.set(id, t ? clone(t) : null);
    }
    for (const id of action.before.lists.keys()) {
      const l = this.lists.get(id);
      action.after.lists.set(id, l ? clone(l) : null);
    }
    if (opts.undoable !== false) {
      this.undoStack.push(action);
      if (this.undoStack.length > 100) this.undoStack.shift();
      this.redoStack = [];
    }
    this.persist();
    return this.changesFor(action.after, action.before);
  }

  private changesFor(now: Before, also: Before): Changes {
    const ids = new Set([...now.tasks.keys(), ...also.tasks.keys()]);
    const listIds = new Set([...now.lists.keys(), ...also.lists.keys()]);
    const tasks: TaskDto[] = [];
    const removedTasks: Id[] = [];
    for (const id of ids) {
      const t = this.tasks.get(id);
      if (t) tasks.push(clone(t));
      else removedTasks.push(id);
    }
    // Every list's open count may have moved.
    this.recount();
    const lists: ListDto[] = [];
    const removedLists: Id[] = [];
    for (const l of this.lists.values()) lists.push(clone(l));
    for (const id of listIds) if (!this.lists.has(id)) removedLists.push(id);
    return {
      tasks,
      removedTasks,
      lists,
      removedLists,
      tags: this.tagTable(),
      counts: this.counts(),
      history: this.history(),
    };
  }

  private applyImage(image: Before) {
    for (const [id, t] of image.tasks) {
      if (t) this.tasks.set(id, clone(t));
      else this.tasks.delete(id);
    }
    for (const [id, l] of image.lists) {
      if (l) this.lists.set(id, clone(l));
      else this.lists.delete(id);
    }
  }

  private undo(): Changes {
    const action = this.undoStack.pop();
    if (!action) throw new AppError('undo_empty', 'nothing to undo');
    // A record changed since (e.g. by another process) cannot be rolled back.
    for (const [id, after] of action.after.tasks) {
      const cur = this.tasks.get(id) ?? null;
      if (JSON.stringify(cur) !== JSON.stringify(after)) {
        this.undoStack.push(action);
        throw new AppError('undo_conflict', `task ${id} changed since`);
      }
    }
    this.applyImage(action.before);
    this.redoStack.push(action);
    this.persist();
    return this.changesFor(action.before, action.after);
  }

  private redo(): Changes {
    const action = this.redoStack.pop();
    if (!action) throw new AppError('redo_empty', 'nothing to redo');
    this.applyImage(action.after);
    this.undoStack.push(action);
    this.persist();
    return this.changesFor(action.after, action.before);
  }

  history(): HistoryState {
    const u = this.undoStack[this.undoStack.length - 1];
    const r = this.redoStack[this.redoStack.length - 1];
    return {
      canUndo: !!u,
      canRedo: !!r,
      undoLabel: u ? u.label : null,
      redoLabel: r ? r.label : null,
    };
  }

  // ----- derived tables -----

  private isOpen(t: TaskDto) {
    return !t.done && !t.trashedAt;
  }

  private recount() {
    for (const l of this.lists.values()) l.openCount = 0;
    for (const t of this.tasks.values()) {
      if (this.isOpen(t) && t.listId) {
        const l = this.lists.get(t.listId);
        if (l) l.openCount += 1;
      }
    }
  }

  tagTable(): TagDto[] {
    const counts = new Map<string, number>();
    for (const t of this.tasks.values()) {
      if (t.trashedAt) continue;
      for (const tag of t.tags) counts.set(tag, (counts.get(tag) ?? 0) + (t.done ? 0 : 1));
    }
    return [...counts.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, openCount]) => ({ name, openCount }));
  }

  counts(): SidebarCounts {
    const today = toYmd(this.now());
    const horizon = addDays(today, 14);
    const c: SidebarCounts = { inbox: 0, today: 0, overdue: 0, upcoming: 0, trash: 0 };
    for (const t of this.tasks.values()) {
      if (t.trashedAt) {
        c.trash += 1;
        continue;
      }
      if (t.done) continue;
      if (!t.listId) c.inbox += 1;
      if (t.due) {
        if (t.due.date < today) c.overdue += 1;
        else if (t.due.date === today) c.today += 1;
        if (t.due.date >= today && t.due.date < horizon) c.upcoming += 1;
      }
    }
    return c;
  }

  snapshot(): Snapshot {
    this.recount();
    return {
      lists: [...this.lists.values()].map(clone),
      tags: this.tagTable(),
      counts: this.counts(),
      history: this.history(),
    };
  }

  private status(): AppStatus {
    return {
      vault: this.state,
      vaultDir: '/home/user/.local/share/productivitypro',
      version: APP_VERSION,
      slots: this.state === 'missing' || this.tooNew ? null : clone(this.slots),
      launch: { quickAdd: false, deepLink: null },
    };
  }

  // ----- views -----

  viewQuery(view: ViewSpec, filter: Filter, sort: Sort): ViewResult {
    const today = toYmd(this.now());
    let pick: (t: TaskDto) => boolean;
    let defaultSort: Sort | 'doneAt' | 'trashedAt' = 'manual';
    switch (view.kind) {
      case 'inbox':
        pick = (t) => this.isOpen(t) && t.listId === null;
        break;
      case 'today':
        pick = (t) => this.isOpen(t) && !!t.due && t.due.date <= today;
        defaultSort = 'due';
        break;
      case 'upcoming': {
        const horizon = addDays(today, view.days);
        pick = (t) => this.isOpen(t) && !!t.due && t.due.date >= today && t.due.date < horizon;
        defaultSort = 'due';
        break;
      }
      case 'list':
        if (!this.lists.has(view.id)) throw new AppError('list_not_found', `no list ${view.id}`);
        pick = (t) => this.isOpen(t) && t.listId === view.id;
        break;
      case 'tag':
        pick = (t) => this.isOpen(t) && t.tags.includes(view.name);
        break;
      case 'completed':
        pick = (t) => t.done && !t.trashedAt;
        defaultSort = 'doneAt';
        break;
      case 'trash':
        pick = (t) => !!t.trashedAt;
        defaultSort = 'trashedAt';
        break;
      case 'search': {
        const needle = view.text.trim().toLowerCase();
        pick = (t) =>
          !t.trashedAt &&
          needle.length > 0 &&
          (t.title.toLowerCase().includes(needle) ||
            t.notes.toLowerCase().includes(needle) ||
            t.tags.some((g) => g.toLowerCase().includes(needle)));
        break;
      }
    }
    const matches = [...this.tasks.values()].filter((t) => pick(t) && this.passes(t, filter));
    const useSort =
      view.kind === 'today' ||
      view.kind === 'upcoming' ||
      view.kind === 'completed' ||
      view.kind === 'trash'
        ? defaultSort
        : sort;
    matches.sort(this.comparator(useSort));
    // Subtasks follow their parent when both are in the view.
    const inView = new Set(matches.map((t) => t.id));
    const ordered: TaskDto[] = [];
    const children = new Map<Id, TaskDto[]>();
    for (const t of matches) {
      if (t.parentId && inView.has(t.parentId)) {
        const list = children.get(t.parentId) ?? [];
        list.push(t);
        children.set(t.parentId, list);
      }
    }
    const emit = (t: TaskDto) => {
      ordered.push(t);
      for (const c of children.get(t.id) ?? []) emit(c);
    };
    for (const t of matches) if (!(t.parentId && inView.has(t.parentId))) emit(t);
    let overdue = 0;
    let todayCount = 0;
    for (const t of ordered) {
      if (!t.due || t.done || t.trashedAt) continue;
      if (t.due.date < today) overdue += 1;
      else if (t.due.date === today) todayCount += 1;
    }
    const index = new Map<Id, number>();
    const parents = ordered.map((t, i) => {
      const p = t.parentId ? (index.get(t.parentId) ?? -1) : -1;
      index.set(t.id, i);
      return p;
    });
    const byDay = view.kind === 'today' || view.kind === 'upcoming';
    return {
      ids: ordered.map((t) => t.id),
      parents,
      days: byDay ? ordered.map((t) => t.due?.date ?? null) : [],
      summary: { overdue, today: todayCount, total: ordered.length },
    };
  }

  private passes(t: TaskDto, f: Filter): boolean {
    if (f.listId !== undefined && t.listId !== f.listId) return false;
    if (f.tag !== undefined && !t.tags.includes(f.tag)) return false;
    if (f.priority !== undefined && t.priority !== f.priority) return false;
    if (f.dueBefore !== undefined && (!t.due || t.due.date >= f.dueBefore)) return false;
    if (f.dueAfter !== undefined && (!t.due || t.due.date <= f.dueAfter)) return false;
    if (f.text !== undefined && !t.title.toLowerCase().includes(f.text.toLowerCase())) return false;
    return true;
  }

  private comparator(sort: Sort | 'doneAt' | 'trashedAt'): (a: TaskDto, b: TaskDto) => number {
    const byOrder = (a: TaskDto, b: TaskDto) =>
      a.order < b.order ? -1 : a.order > b.order ? 1 : a.id < b.id ? -1 : 1;
    switch (sort) {
      case 'manual':
        return byOrder;
      case 'due':
        return (a, b) => {
          const x = a.due?.at ?? '\uffff';
          const y = b.due?.at ?? '\uffff';
          return x < y ? -1 : x > y ? 1 : byOrder(a, b);
        };
      case 'priority':
        return (a, b) => (a.priority || 9) - (b.priority || 9) || byOrder(a, b);
      case 'created':
        return (a, b) =>
          a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : byOrder(a, b);
      case 'doneAt':
        return (a, b) =>
          (a.doneAt ?? '') < (b.doneAt ?? '')
            ? 1
            : (a.doneAt ?? '') > (b.doneAt ?? '')
              ? -1
              : byOrder(a, b);
      case 'trashedAt':
        return (a, b) =>
          (a.trashedAt ?? '') < (b.trashedAt ?? '')
            ? 1
            : (a.trashedAt ?? '') > (b.trashedAt ?? '')
              ? -1
              : byOrder(a, b);
    }
  }

  // ----- mutations -----

  private task(id: Id): TaskDto {
    const t = this.tasks.get(id);
    if (!t) throw new AppError('task_not_found', `no task ${id}`);
    return t;
  }

  private descendants(id: Id): Id[] {
    const out: Id[] = [];
    for (const t of this.tasks.values()) {
      if (t.parentId === id) out.push(t.id, ...this.descendants(t.id));
    }
    return out;
  }

  private label(verb: string, ids: Id[]): string {
    return ids.length === 1 ? `${verb} task` : `${verb} ${ids.length} tasks`;
  }

  private edit(ids: Id[], label: string, fn: (t: TaskDto) => void): Changes {
    if (ids.length === 0) throw new AppError('invalid_argument', 'no ids');
    for (const id of ids) this.task(id);
    this.begin(label);
    for (const id of ids) {
      this.touch(id);
      fn(this.task(id));
    }
    return this.commit();
  }

  private updateTask(id: Id, patch: TaskPatchDto): Changes {
    const t = this.task(id);
    // Validate everything before touching anything: all or nothing.
    let due: DueDto | null | undefined;
    if (patch.dueText !== undefined) due = parseDueText(patch.dueText, this.now());
    else if (patch.due !== undefined) {
      due = patch.due === null ? null : { ...patch.due, at: dueAt(patch.due.date, patch.due.time) };
      if (patch.due && !/^\d{4}-\d{2}-\d{2}$/.test(patch.due.date))
        throw new AppError('invalid_argument', 'bad date');
    }
    let recurrence: TaskDto['recurrence'] | undefined;
    if (patch.repeatText !== undefined) recurrence = parseRepeatText(patch.repeatText);
    else if (patch.recurrence !== undefined) {
      recurrence =
        patch.recurrence === null
          ? null
          : { rule: patch.recurrence, label: labelForRule(patch.recurrence) };
    }
    if (patch.title !== undefined && patch.title.trim() === '')
      throw new AppError('invalid_input', 'empty title');
    if (patch.listId && !this.lists.has(patch.listId))
      throw new AppError('list_not_found', 'no list');
    if (patch.parentId) {
      if (patch.parentId === id || this.descendants(id).includes(patch.parentId)) {
        throw new AppError('parent_cycle', 'cycle');
      }
      this.task(patch.parentId);
    }
    this.begin(patch.moveBefore || patch.moveAfter ? 'Reorder task' : 'Edit task');
    this.touch(id);
    if (patch.title !== undefined) t.title = patch.title.trim();
    if (patch.notes !== undefined) t.notes = patch.notes;
    if (patch.listId !== undefined) {
      t.listId = patch.listId;
      for (const d of this.descendants(id)) {
        this.touch(d);
        this.task(d).listId = patch.listId;
      }
    }
    if (patch.addTags)
      t.tags = [...new Set([...t.tags, ...patch.addTags.map((g) => g.replace(/^@/, ''))])].sort();
    if (patch.removeTags) t.tags = t.tags.filter((g) => !patch.removeTags?.includes(g));
    if (patch.priority !== undefined) t.priority = patch.priority;
    if (due !== undefined) t.due = due;
    if (recurrence !== undefined) t.recurrence = recurrence;
    if (patch.parentId !== undefined) t.parentId = patch.parentId;
    if (patch.moveBefore || patch.moveAfter) {
      const anchor = this.task((patch.moveBefore ?? patch.moveAfter) as Id);
      const sorted = [...this.tasks.values()]
        .filter((x) => x.id !== id)
        .sort((a, b) => (a.order < b.order ? -1 : 1));
      const idx = sorted.findIndex((x) => x.id === anchor.id);
      if (patch.moveBefore) {
        const prev = sorted[idx - 1];
        t.order = between(prev?.order ?? '', anchor.order);
      } else {
        const next = sorted[idx + 1];
        t.order = between(anchor.order, next?.order ?? null);
      }
      if (t.listId !== anchor.listId && patch.listId === undefined) t.listId = anchor.listId;
    }
    return this.commit();
  }

  private complete(ids: Id[]): Changes {
    return this.edit(ids, this.label('Complete', ids), (t) => {
      if (t.recurrence && t.due) {
        // A repeating task moves to its next date instead of closing.
        const step = /FREQ=(\w+)(?:;INTERVAL=(\d+))?/.exec(t.recurrence.rule);
        const n = Number(step?.[2] ?? 1);
        const days =
          step?.[1] === 'WEEKLY'
            ? 7 * n
            : step?.[1] === 'MONTHLY'
              ? 30 * n
              : step?.[1] === 'YEARLY'
                ? 365 * n
                : n;
        const date = addDays(t.due.date, days);
        t.due = { ...t.due, date, at: dueAt(date, t.due.time) };
        return;
      }
      t.done = true;
      t.doneAt = this.nowIso();
    });
  }

  private trash(ids: Id[]): Changes {
    for (const id of ids) this.task(id);
    const all = [...new Set(ids.flatMap((id) => [id, ...this.descendants(id)]))];
    return this.edit(all, ids.length === 1 ? 'Delete task' : `Delete ${ids.length} tasks`, (t) => {
      t.trashedAt = this.nowIso();
    });
  }

  private restore(ids: Id[]): Changes {
    const all = [
      ...new Set(
        ids.flatMap((id) => [
          id,
          ...this.descendants(id).filter((d) => this.tasks.get(d)?.trashedAt),
        ]),
      ),
    ];
    return this.edit(all, this.label('Restore', ids), (t) => {
      t.trashedAt = null;
      if (t.listId && !this.lists.has(t.listId)) t.listId = null;
    });
  }

  private emptyTrash(ids: Id[] | null): Changes {
    const targets = ids ?? [...this.tasks.values()].filter((t) => t.trashedAt).map((t) => t.id);
    for (const id of targets) {
      if (!this.task(id).trashedAt)
        throw new AppError('invalid_argument', 'task is not in the trash');
    }
    this.begin('Empty trash');
    for (const id of targets) {
      this.touch(id);
      this.tasks.delete(id);
    }
    // Emptying the trash is the one destructive delete: not undoable.
    const changes = this.commit({ undoable: false });
    return changes;
  }

  // ----- the command table -----

  async handle(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    this.calls.push({ cmd, args });
    const delay = this.seed.latency?.[cmd as CommandName] ?? this.seed.latencyMs ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return this.dispatch(cmd, args);
  }

  private needUnlocked() {
    if (this.state !== 'unlocked') throw new AppError('vault_locked', 'the vault is locked');
  }

  dispatch(cmd: string, a: Record<string, unknown>): unknown {
    const ids = () => {
      const v = a.ids;
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw new AppError('invalid_argument', 'ids');
      return v as Id[];
    };
    const str = (k: string) => {
      const v = a[k];
      if (typeof v !== 'string') throw new AppError('invalid_argument', `${k} must be a string`);
      return v;
    };
    // The secret check every unlock makes (vault_unlock, pre_migration_restore).
    const checkUnlock = () => {
      const method = a.method;
      if (method === 'keyring') {
        if (this.keyring === 'unavailable')
          throw new AppError('keyring_unavailable', 'org.freedesktop.secrets not provided');
        if (this.keyring === 'missing') throw new AppError('keyring_entry_missing', 'no entry');
      } else if (method === 'passphrase') {
        if (!this.passphrase) throw new AppError('no_such_slot', 'no passphrase slot');
        if (str('secret') !== this.passphrase)
          throw new AppError('wrong_passphrase', 'wrong passphrase');
      } else if (method === 'recoveryKey') {
        const typed = str('secret')
          .toUpperCase()
          .replace(/[^0-9A-Z]/g, '');
        const real = this.recoveryKey.replace(/-/g, '');
        if (typed.length !== real.length)
          throw new AppError('recovery_key_mistyped', 'wrong length');
        if (typed !== real) {
          const diff = [...typed].filter((c, i) => c !== real[i]).length;
          throw new AppError(
            diff <= 2 ? 'recovery_key_mistyped' : 'wrong_recovery_key',
            'no match',
          );
        }
        if (this.keyring === 'missing') this.keyring = 'ok';
      } else throw new AppError('invalid_argument', 'method');
    };
    if (cmd.startsWith('sync_')) {
      // Locked, the shell's sync is off (and its account commands refused).
      if (this.state !== 'unlocked' && (cmd === 'sync_status' || cmd === 'sync_now'))
        return FakeSync.off();
      this.needUnlocked();
      return this.sync.handle(cmd, a);
    }
    // The updater runs whether or not the vault is open.
    if (cmd.startsWith('update_')) return this.updates.handle(cmd);
    // So do health reports.
    if (cmd.startsWith('health_')) return this.health.handle(cmd, a);
    switch (cmd) {
      case 'app_status':
        return this.status() satisfies ResultOf<'app_status'>;
      case 'vault_create': {
        if (this.state !== 'missing') throw new AppError('vault_exists', 'a vault exists');
        const pass = a.passphrase as string | null;
        if (pass !== null && pass !== undefined && pass.length === 0)
          throw new AppError('empty_passphrase', 'empty');
        this.passphrase = pass ?? null;
        this.state = 'unlocked';
        this.recoveryKey = this.makeRecoveryKey();
        this.pendingRecoveryKey = this.recoveryKey;
        this.slots = [];
        if (this.keyring === 'ok')
          this.slots.push({ id: 'slot-keyring', kind: 'keyring', createdAt: this.nowIso() });
        if (this.passphrase)
          this.slots.push({ id: 'slot-pass', kind: 'passphrase', createdAt: this.nowIso() });
        this.slots.push({ id: 'slot-recovery', kind: 'recovery', createdAt: this.nowIso() });
        this.persist();
        return {
          recoveryKey: this.recoveryKey,
          keyringError:
            this.keyring === 'ok'
              ? null
              : { code: 'keyring_unavailable', message: 'no secret service' },
        } satisfies ResultOf<'vault_create'>;
      }
      case 'vault_confirm_recovery': {
        const key = this.pendingRecoveryKey ?? this.recoveryKey;
        const groups = key.split('-');
        const answers = a.answers as { group: number; text: string }[];
        if (!Array.isArray(answers) || answers.length < 2)
          throw new AppError('invalid_argument', 'two answers');
        const ok = answers.every(
          (x) =>
            groups[x.group - 1] !== undefined &&
            groups[x.group - 1] === x.text.trim().toUpperCase(),
        );
        if (ok) this.pendingRecoveryKey = null;
        return { ok } satisfies ResultOf<'vault_confirm_recovery'>;
      }
      case 'recovery_key_save': {
        const key = this.pendingRecoveryKey;
        if (!key) throw new AppError('invalid_argument', 'no recovery key is pending');
        this.files.set(str('path'), `${key}\n`);
        return null;
      }
      case 'vault_unlock': {
        if (this.state === 'missing') throw new AppError('vault_not_found', 'no vault');
        if (this.tooNew)
          throw new AppError('vault_too_new', 'schema 99; this version reads up to 5');
        checkUnlock();
        this.state = 'unlocked';
        if (this.stored) {
          this.tasks = this.stored.tasks;
          this.lists = this.stored.lists;
          this.stored = null;
        }
        return this.snapshot();
      }
      case 'pre_migration_list':
        return clone(this.tooNew?.copies ?? []) satisfies ResultOf<'pre_migration_list'>;
      case 'pre_migration_restore': {
        if (!this.tooNew)
          throw new AppError('invalid_argument', 'this version opens the vault as it is');
        const copy = this.tooNew.copies.find((c) => c.name === str('name'));
        if (!copy) throw new AppError('pre_migration_copy_not_found', 'no such copy');
        checkUnlock();
        // The copy holds what the vault held before the update: the seed.
        this.tooNew = null;
        this.state = 'unlocked';
        if (this.stored) {
          this.tasks = this.stored.tasks;
          this.lists = this.stored.lists;
          this.stored = null;
        }
        return this.snapshot();
      }
      case 'vault_lock':
        this.state = this.state === 'missing' ? 'missing' : 'locked';
        if (this.state === 'locked') this.stored = { tasks: this.tasks, lists: this.lists };
        this.tasks = new Map();
        this.lists = new Map();
        return null;
      case 'settings_get':
        return clone(this.settings);
      case 'settings_set': {
        // Files from before the update settings load with their defaults.
        const s = {
          updateChannel: 'stable',
          updateCheckAutomatically: true,
          ...(a.settings as Partial<Settings>),
        } as Settings;
        // Stands in for a combo the window manager keeps for itself.
        if (s.quickAddShortcut === 'Alt+F4')
          throw new AppError('platform_refused', 'the OS refused the shortcut');
        if (s.reminderLeadMinutes < 0 || (s.lockAfterMinutes !== null && s.lockAfterMinutes < 1)) {
          throw new AppError('invalid_argument', 'bad number');
        }
        if (!['stable', 'beta', 'canary'].includes(s.updateChannel))
          throw new AppError('invalid_argument', 'unknown update channel');
        this.settings = clone(s);
        this.updates.setChannel(s.updateChannel);
        return clone(this.settings);
      }
      case 'activity':
        this.activityCount += 1;
        return null;
      case 'bench_first_paint':
        this.firstPaintMarks += 1;
        return null;
    }
    this.needUnlocked();
    switch (cmd) {
      case 'vault_snapshot':
        return this.snapshot();
      case 'view_query':
        return this.viewQuery(
          a.view as ViewSpec,
          (a.filter as Filter) ?? {},
          (a.sort as Sort) ?? 'manual',
        );
      case 'tasks_get': {
        const ids = a.ids as Id[];
        if (ids.length > TASKS_GET_MAX)
          throw new AppError('invalid_argument', `tasks_get: at most ${TASKS_GET_MAX} ids`);
        const out: TaskDto[] = [];
        for (const id of ids) {
          const t = this.tasks.get(id);
          if (t) out.push(clone(t));
        }
        return out;
      }
      case 'task_subtasks': {
        const id = a.id as Id;
        return [...this.tasks.values()]
          .filter((t) => t.parentId === id && !t.trashedAt)
          .sort((x, y) => (x.order < y.order ? -1 : x.order > y.order ? 1 : x.id < y.id ? -1 : 1))
          .map(clone);
      }
      case 'quick_add_preview': {
        const text = str('text');
        try {
          const p = parseQuickAdd(text, this.now());
          return {
            title: p.title,
            listName: p.listName,
            tags: p.tags,
            priority: p.priority,
            due: p.due,
            dueLabel: p.due ? `${p.due.date}${p.due.time ? ` ${p.due.time}` : ''}` : null,
            recurrence: p.recurrence,
            error: null,
          } satisfies ResultOf<'quick_add_preview'>;
        } catch (e) {
          const err = AppError.from(e);
          return {
            title: '',
            listName: null,
            tags: [],
            priority: 0,
            due: null,
            dueLabel: null,
            recurrence: null,
            error: err.toIpc(),
          } satisfies ResultOf<'quick_add_preview'>;
        }
      }
      case 'task_add': {
        const text = str('text');
        parseQuickAdd(text, this.now()); // errors before any write
        const listId = (a.listId as Id | null | undefined) ?? null;
        if (listId && !this.lists.has(listId)) throw new AppError('list_not_found', 'no list');
        const parentId = (a.parentId as Id | null | undefined) ?? null;
        if (parentId) this.task(parentId);
        this.begin('Add task');
        this.insertFromText(text, listId, parentId, a.dueToday === true);
        return this.commit();
      }
      case 'task_update':
        return this.updateTask(str('id'), a.patch as TaskPatchDto);
      case 'tasks_complete':
        return this.complete(ids());
      case 'tasks_reopen':
        return this.edit(ids(), this.label('Reopen', ids()), (t) => {
          t.done = false;
          t.doneAt = null;
        });
      case 'tasks_trash':
        return this.trash(ids());
      case 'tasks_restore':
        return this.restore(ids());
      case 'trash_empty':
        return this.emptyTrash(a.ids === null || a.ids === undefined ? null : ids());
      case 'tasks_move': {
        const listId = (a.listId as Id | null) ?? null;
        if (listId && !this.lists.has(listId)) throw new AppError('list_not_found', 'no list');
        return this.edit(ids(), this.label('Move', ids()), (t) => {
          t.listId = listId;
        });
      }
      case 'tasks_tag': {
        const add = (a.add as string[]) ?? [];
        const remove = (a.remove as string[]) ?? [];
        return this.edit(ids(), this.label('Tag', ids()), (t) => {
          t.tags = [
            ...new Set([
              ...t.tags.filter((g) => !remove.includes(g)),
              ...add.map((g) => g.replace(/^@/, '')),
            ]),
          ].sort();
        });
      }
      case 'tasks_priority': {
        const p = a.priority as number;
        if (![0, 1, 2, 3, 4].includes(p)) throw new AppError('invalid_argument', 'priority');
        return this.edit(ids(), this.label('Change priority of', ids()), (t) => {
          t.priority = p as Priority;
        });
      }
      case 'undo':
        return this.undo();
      case 'redo':
        return this.redo();
      case 'parse_due':
        return parseDueText(str('text'), this.now());
      case 'parse_repeat':
        return parseRepeatText(str('text'));
      case 'list_add': {
        const name = str('name').trim();
        if (!name) throw new AppError('invalid_input', 'empty name');
        if ([...this.lists.values()].some((l) => l.name.toLowerCase() === name.toLowerCase())) {
          throw new AppError('list_exists', name);
        }
        this.begin('Add list');
        const l = this.insertList(name, (a.colour as string | null | undefined) ?? null);
        this.recordNewList(l.id);
        return this.commit();
      }
      case 'list_update': {
        const id = str('id');
        const l = this.lists.get(id);
        if (!l) throw new AppError('list_not_found', id);
        const name = a.name as string | undefined;
        if (name !== undefined) {
          if (!name.trim()) throw new AppError('invalid_input', 'empty name');
          if (
            [...this.lists.values()].some(
              (x) => x.id !== id && x.name.toLowerCase() === name.trim().toLowerCase(),
            )
          ) {
            throw new AppError('list_exists', name);
          }
        }
        this.begin('Edit list');
        this.touchList(id);
        if (name !== undefined) l.name = name.trim();
        if (a.colour !== undefined) l.colour = a.colour as string | null;
        if (a.archived !== undefined) l.archived = a.archived as boolean;
        const anchorId = (a.moveBefore ?? a.moveAfter) as Id | undefined;
        if (anchorId) {
          const sorted = [...this.lists.values()]
            .filter((x) => x.id !== id)
            .sort((x, y) => (x.order < y.order ? -1 : 1));
          const idx = sorted.findIndex((x) => x.id === anchorId);
          const anchor = sorted[idx];
          if (!anchor) throw new AppError('list_not_found', anchorId);
          l.order = a.moveBefore
            ? between(sorted[idx - 1]?.order ?? '', anchor.order)
            : between(anchor.order, sorted[idx + 1]?.order ?? null);
        }
        return this.commit();
      }
      case 'list_delete': {
        const id = str('id');
        if (!this.lists.has(id)) throw new AppError('list_not_found', id);
        const inList = [...this.tasks.values()].filter((t) => t.listId === id && !t.trashedAt);
        if (inList.length > 0 && a.withTasks !== true)
          throw new AppError('list_not_empty', `${inList.length} tasks`);
        this.begin('Delete list');
        for (const t of inList) {
          this.touch(t.id);
          t.trashedAt = this.nowIso();
        }
        this.touchList(id);
        this.lists.delete(id);
        return this.commit();
      }
      case 'slots_list':
        return clone(this.slots);
      case 'passphrase_set': {
        const next = str('next');
        if (!next) throw new AppError('empty_passphrase', 'empty');
        if (this.passphrase && a.current !== this.passphrase)
          throw new AppError('wrong_passphrase', 'current is wrong');
        if (!this.passphrase)
          this.slots.push({ id: 'slot-pass', kind: 'passphrase', createdAt: this.nowIso() });
        this.passphrase = next;
        return null;
      }
      case 'recovery_key_new':
        this.recoveryKey = this.makeRecoveryKey();
        this.pendingRecoveryKey = this.recoveryKey;
        return { recoveryKey: this.recoveryKey };
      case 'backups_list':
        return clone(this.backups);
      case 'backup_now': {
        const n = this.backups.length + 1;
        const b: BackupInfo = {
          path: `/home/user/.local/share/productivitypro/backups/vault-${String(n).padStart(3, '0')}.ppbackup`,
          createdAt: this.nowIso(),
          bytes: 4096 + this.tasks.size * 300,
        };
        this.backups.unshift(b);
        this.files.set(
          b.path,
          JSON.stringify({ tasks: [...this.tasks.values()], lists: [...this.lists.values()] }),
        );
        return clone(b);
      }
      case 'backup_restore': {
        const data = this.files.get(str('path'));
        if (!data) throw new AppError('bad_backup', 'no such backup');
        const parsed = JSON.parse(data) as { tasks: TaskDto[]; lists: ListDto[] };
        this.tasks = new Map(parsed.tasks.map((t) => [t.id, t]));
        this.lists = new Map(parsed.lists.map((l) => [l.id, l]));
        this.undoStack = [];
        this.redoStack = [];
        this.persist();
        return this.snapshot();
      }
      case 'export_to': {
        const format = str('format');
        if (!['json', 'csv', 'ical'].includes(format))
          throw new AppError('invalid_argument', 'format');
        const tasks = [...this.tasks.values()].filter((t) => !t.trashedAt);
        this.files.set(str('path'), `${format}:${JSON.stringify(tasks.map((t) => t.title))}`);
        return { tasks: tasks.length };
      }
      case 'import_from': {
        const format = str('format');
        if (!['json', 'csv', 'ical', 'todoist', 'taskwarrior'].includes(format))
          throw new AppError('invalid_argument', 'format');
        const data = this.files.get(str('path'));
        if (data === undefined) throw new AppError('io', 'no such file');
        const m = /^(\w+):(.*)$/s.exec(data);
        if (!m || m[1] !== format)
          throw new AppError('import_malformed', 'line 1: not this format');
        const titles = JSON.parse(m[2] ?? '[]') as string[];
        const listName = a.listName as string | null | undefined;
        this.begin(`Import ${titles.length} tasks`);
        let listId: Id | null = null;
        if (listName) {
          const found = [...this.lists.values()].find((l) => l.name === listName);
          if (found) listId = found.id;
          else {
            const l = this.insertList(listName, null);
            this.recordNewList(l.id);
            listId = l.id;
          }
        }
        for (const title of titles) {
          const id = this.newId();
          const t = this.blankTask(id, title);
          t.listId = listId;
          t.order = this.nextOrder();
          this.recordNewTask(id);
          this.tasks.set(id, t);
        }
        return this.commit();
      }
      case 'reminder_snooze':
        this.task(str('id'));
        this.snoozed.push({ id: str('id'), minutes: a.minutes as number });
        return null;
    }
    throw new AppError('invalid_argument', `unknown command ${cmd}`);
  }

  /** Simulates another process (`pp`) changing a task: returns the event payload. */
  externalEdit(id: Id, patch: Partial<Pick<TaskDto, 'title' | 'notes' | 'done'>>): Changes {
    const t = this.task(id);
    const before: Before = { tasks: new Map([[id, clone(t)]]), lists: new Map() };
    Object.assign(t, patch, { updatedAt: this.nowIso() });
    const after: Before = { tasks: new Map([[id, clone(t)]]), lists: new Map() };
    this.persist();
    return this.changesFor(after, before);
  }

  externalAdd(text: string): Changes {
    this.begin('Add task');
    this.insertFromText(text, null, null);
    const action = this.pending;
    this.pending = null;
    if (!action) throw new Error('unreachable');
    this.persist();
    return this.changesFor(action.before, action.before);
  }
}

function between(a: string, b: string | null): string {
  if (b === null) return `${a}5`;
  // Strings compare lexicographically: extend `a` until it sorts below `b`.
  let candidate = `${a}5`;
  while (candidate >= b) candidate = `${candidate.slice(0, -1)}0${'5'}`;
  return candidate;
}

function labelForRule(rule: string): string {
  const m = /FREQ=(\w+)(?:;INTERVAL=(\d+))?(?:;BYDAY=([\w,]+))?/.exec(rule);
  if (!m) return rule;
  const unit =
    { DAILY: 'day', WEEKLY: 'week', MONTHLY: 'month', YEARLY: 'year' }[m[1] ?? ''] ?? 'time';
  if (m[3] === 'MO,TU,WE,TH,FR') return 'every weekday';
  if (m[3]) return `every ${m[3].toLowerCase()}`;
  const n = Number(m[2] ?? 1);
  return n === 1 ? `every ${unit}` : `every ${n} ${unit}s`;
}
