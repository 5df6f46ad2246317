// The IPC contract's types (docs/desktop-ipc.md), in one file so that the
// shell's generated bindings (`./bindings/`, ts-rs) can replace it in one move.
import type { SyncCommands, SyncEvents } from '../sync/types';
import type { UpdateChannel, UpdateCommands, UpdateEvents } from '../updates/types';
import type { HealthCommands } from '../health/types';

/** The feature slices' commands and events (declared next to their stores). */
type SliceCommands = SyncCommands & UpdateCommands & HealthCommands;
type SliceEvents = SyncEvents & UpdateEvents;

export type Id = string;

export type DueDto = {
  date: string;
  time: string | null;
  tz: string | null;
  at: string;
};

export type RecurrenceDto = { rule: string; label: string };

export type Priority = 0 | 1 | 2 | 3 | 4;

export type TaskDto = {
  id: Id;
  title: string;
  notes: string;
  listId: Id | null;
  tags: string[];
  priority: Priority;
  due: DueDto | null;
  recurrence: RecurrenceDto | null;
  parentId: Id | null;
  order: string;
  done: boolean;
  doneAt: string | null;
  trashedAt: string | null;
  createdAt: string;
  updatedAt: string;
};

export type ListDto = {
  id: Id;
  name: string;
  colour: string | null;
  order: string;
  archived: boolean;
  openCount: number;
};

export type TagDto = { name: string; openCount: number };

export type SidebarCounts = {
  inbox: number;
  today: number;
  overdue: number;
  upcoming: number;
  trash: number;
};

export type HistoryState = {
  canUndo: boolean;
  canRedo: boolean;
  undoLabel: string | null;
  redoLabel: string | null;
};

export type Changes = {
  tasks: TaskDto[];
  removedTasks: Id[];
  lists: ListDto[];
  removedLists: Id[];
  /** The full tag table when a task or tag changed, else null (unchanged). */
  tags: TagDto[] | null;
  counts: SidebarCounts;
  history: HistoryState;
};

/** What the UI gets at unlock: everything but the tasks (fetched per view). */
export type Snapshot = {
  lists: ListDto[];
  tags: TagDto[];
  counts: SidebarCounts;
  history: HistoryState;
};

export type ViewSpec =
  | { kind: 'inbox' }
  | { kind: 'today' }
  | { kind: 'upcoming'; days: number }
  | { kind: 'list'; id: Id }
  | { kind: 'tag'; name: string }
  | { kind: 'completed' }
  | { kind: 'trash' }
  | { kind: 'search'; text: string };

export type Filter = {
  listId?: Id;
  tag?: string;
  priority?: number;
  dueBefore?: string;
  dueAfter?: string;
  text?: string;
};

export type Sort = 'manual' | 'due' | 'priority' | 'created';

/**
 * A view's rows: `ids` in display order, `parents[i]` the index of row i's
 * parent when it is in the view (else -1), `days[i]` the due date Today and
 * Upcoming group row i under (null undated; [] for other views).
 */
export type ViewResult = {
  ids: Id[];
  parents: number[];
  days: (string | null)[];
  summary: { overdue: number; today: number; total: number };
};

/** The most ids one `tasks_get` answers (the shell refuses more). */
export const TASKS_GET_MAX = 2000;

export type IpcError = { code: string; message: string };

export type SlotKind = 'keyring' | 'passphrase' | 'recovery';
export type SlotInfo = { id: string; kind: SlotKind; createdAt: string };

export type AppStatus = {
  vault: 'missing' | 'locked' | 'unlocked';
  vaultDir: string;
  version: string;
  slots: SlotInfo[] | null;
  launch: { quickAdd: boolean; deepLink: string | null };
};

export type QuickAddPreview = {
  title: string;
  listName: string | null;
  tags: string[];
  priority: Priority;
  due: DueDto | null;
  dueLabel: string | null;
  recurrence: RecurrenceDto | null;
  error: IpcError | null;
};

export type DueInput = { date: string; time: string | null; tz: string | null };

export type TaskPatchDto = {
  title?: string;
  notes?: string;
  listId?: Id | null;
  addTags?: string[];
  removeTags?: string[];
  priority?: Priority;
  due?: DueInput | null;
  dueText?: string;
  recurrence?: string | null;
  repeatText?: string;
  parentId?: Id | null;
  moveBefore?: Id;
  moveAfter?: Id;
};

export type UnlockArgs =
  | { method: 'keyring' }
  | { method: 'passphrase'; secret: string }
  | { method: 'recoveryKey'; secret: string };

export type Theme = 'light' | 'dark' | 'system';
export type WeekStart = 'monday' | 'sunday' | 'saturday';
export type TimeFormat = '12h' | '24h';
export type DateFormat = 'dmy' | 'mdy' | 'ymd';

export type Settings = {
  theme: Theme;
  weekStart: WeekStart;
  timeFormat: TimeFormat;
  dateFormat: DateFormat;
  reminderLeadMinutes: number;
  remindersEnabled: boolean;
  quickAddShortcut: string | null;
  autostart: boolean;
  lockAfterMinutes: number | null;
  closeToTray: boolean;
  /** Which releases updates come from. */
  updateChannel: UpdateChannel;
  /** Check at start and every few hours. */
  updateCheckAutomatically: boolean;
};

export type BackupInfo = { path: string; createdAt: string; bytes: number };

/** A copy of the vault from before a newer app upgraded it (file name only). */
export type PreMigrationCopy = { name: string; schema: number; createdAt: string; bytes: number };

export type ExportFormat = 'json' | 'csv' | 'ical';
export type ImportFormat = 'json' | 'csv' | 'ical' | 'todoist' | 'taskwarrior';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'csv', 'ical'];
export const IMPORT_FORMATS: readonly ImportFormat[] = [
  'json',
  'csv',
  'ical',
  'todoist',
  'taskwarrior',
];

/** Every command: its arguments (as sent) and its result. */
export type Commands = SliceCommands & {
  app_status: { args: void; result: AppStatus };
  vault_create: {
    args: { passphrase: string | null };
    result: { recoveryKey: string; keyringError: IpcError | null };
  };
  vault_confirm_recovery: {
    args: { answers: { group: number; text: string }[] };
    result: { ok: boolean };
  };
  recovery_key_save: { args: { path: string }; result: null };
  vault_unlock: { args: UnlockArgs; result: Snapshot };
  vault_lock: { args: void; result: null };
  vault_snapshot: { args: void; result: Snapshot };
  view_query: { args: { view: ViewSpec; filter: Filter; sort: Sort }; result: ViewResult };
  tasks_get: { args: { ids: Id[] }; result: TaskDto[] };
  task_subtasks: { args: { id: Id }; result: TaskDto[] };
  quick_add_preview: { args: { text: string }; result: QuickAddPreview };
  task_add: {
    args: { text: string; listId?: Id | null; parentId?: Id | null; dueToday?: boolean };
    result: Changes;
  };
  task_update: { args: { id: Id; patch: TaskPatchDto }; result: Changes };
  tasks_complete: { args: { ids: Id[] }; result: Changes };
  tasks_reopen: { args: { ids: Id[] }; result: Changes };
  tasks_trash: { args: { ids: Id[] }; result: Changes };
  tasks_restore: { args: { ids: Id[] }; result: Changes };
  trash_empty: { args: { ids: Id[] | null }; result: Changes };
  tasks_move: { args: { ids: Id[]; listId: Id | null }; result: Changes };
  tasks_tag: { args: { ids: Id[]; add: string[]; remove: string[] }; result: Changes };
  tasks_priority: { args: { ids: Id[]; priority: Priority }; result: Changes };
  undo: { args: void; result: Changes };
  redo: { args: void; result: Changes };
  parse_due: { args: { text: string }; result: DueDto };
  parse_repeat: { args: { text: string }; result: RecurrenceDto };
  list_add: { args: { name: string; colour?: string | null }; result: Changes };
  list_update: {
    args: {
      id: Id;
      name?: string;
      colour?: string | null;
      archived?: boolean;
      moveBefore?: Id;
      moveAfter?: Id;
    };
    result: Changes;
  };
  list_delete: { args: { id: Id; withTasks: boolean }; result: Changes };
  settings_get: { args: void; result: Settings };
  settings_set: { args: { settings: Settings }; result: Settings };
  slots_list: { args: void; result: SlotInfo[] };
  passphrase_set: { args: { current: string | null; next: string }; result: null };
  recovery_key_new: { args: void; result: { recoveryKey: string } };
  pre_migration_list: { args: void; result: PreMigrationCopy[] };
  pre_migration_restore: { args: UnlockArgs & { name: string }; result: Snapshot };
  backups_list: { args: void; result: BackupInfo[] };
  backup_now: { args: void; result: BackupInfo };
  backup_restore: { args: { path: string }; result: Snapshot };
  export_to: { args: { format: ExportFormat; path: string }; result: { tasks: number } };
  import_from: {
    args: { format: ImportFormat; path: string; listName?: string | null };
    result: Changes;
  };
  activity: { args: void; result: null };
  bench_first_paint: { args: void; result: null };
  reminder_snooze: { args: { id: Id; minutes: number }; result: null };
};

export type CommandName = keyof Commands;
export type ArgsOf<C extends CommandName> = Commands[C]['args'];
export type ResultOf<C extends CommandName> = Commands[C]['result'];

/** Every event the shell emits, with its payload. */
export type Events = SliceEvents & {
  'vault://changed': Changes;
  'vault://locked': { reason: 'user' | 'idle' };
  'app://quick-add': { text: string | null };
  'app://navigate': { view: ViewSpec; taskId: Id | null };
  'app://error': IpcError;
};

export type EventName = keyof Events;

export type FileFilter = { name: string; extensions: string[] };
