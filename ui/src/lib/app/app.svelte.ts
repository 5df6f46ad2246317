import { SvelteSet } from 'svelte/reactivity';
import { AppError } from '../errors/app-error';
import { describeError } from '../errors/table';
import type { Backend, Unlisten } from '../ipc/backend';
import type {
  AppStatus,
  Changes,
  Id,
  PreMigrationCopy,
  Priority,
  QuickAddPreview,
  Snapshot,
  TaskPatchDto,
  UnlockArgs,
  ViewSpec,
} from '../ipc/types';
import { TaskCache } from '../stores/tasks.svelte';
import { Selection } from '../stores/selection.svelte';
import { SettingsStore } from '../stores/settings.svelte';
import { Toasts, type ToastKind } from '../stores/toasts.svelte';
import { sameView, ViewStore } from '../stores/view.svelte';
import { UpdateStore } from '../updates/store.svelte';
import { HealthStore } from '../health/store.svelte';

/** Why the unlock screen is up: the shell's lock event, or the key rotated elsewhere. */
export type LockReasonShown = 'user' | 'idle' | 'keyRotated';
export type Phase = 'starting' | 'no-backend' | 'first-run' | 'locked' | 'unlocked';
export type Screen = 'tasks' | 'settings';
export type Picker = 'move' | 'tags' | null;

/** How long a completed task stays in place (checked) before the view drops it. */
export const COMPLETE_LINGER_MS = 600;

/**
 * A quick add on its way to the shell, shown at once as a row where the
 * task will land (see `App.addTask`); replaced by the real row when the
 * view has been re-queried, removed if the add fails.
 */
export type PendingAdd = { key: string; title: string; view: ViewSpec; at: 'top' | 'end' };

export type RecoveryFlow = {
  key: string;
  origin: 'first-run' | 'settings';
  keyringError: AppError | null;
  /** Whose key: the vault's (the default) or the sync account's. */
  of?: 'vault' | 'sync';
};

/**
 * The root of the UI's state, built once at start and handed down by
 * context. Owns the stores and every action that talks to the backend, so
 * components stay thin and every mutation goes through one path
 * (apply `Changes`, refresh the view, offer Undo, show errors).
 */
export class App {
  readonly cache: TaskCache;
  readonly view: ViewStore;
  readonly selection = new Selection();
  readonly settings: SettingsStore;
  readonly toasts = new Toasts();
  readonly updates: UpdateStore;
  readonly health: HealthStore;

  phase = $state<Phase>('starting');
  status = $state.raw<AppStatus | null>(null);
  unlockError = $state.raw<AppError | null>(null);
  /**
   * After `vault_too_new`: the copies from before the newer version's
   * upgrade that this version opens (newest first); null until looked up.
   */
  preMigrationCopies = $state.raw<PreMigrationCopy[] | null>(null);
  /** Why opening a pre-migration copy failed (a wrong secret, a damaged copy). */
  preMigrationError = $state.raw<AppError | null>(null);
  unlocking = $state(false);
  lockReason = $state<LockReasonShown | null>(null);
  recovery = $state.raw<RecoveryFlow | null>(null);

  screen = $state<Screen>('tasks');
  detailId = $state<Id | null>(null);
  paletteOpen = $state(false);
  sheetOpen = $state(false);
  sidebarCollapsed = $state(false);
  picker = $state<Picker>(null);
  /** Bumped to ask a component to take focus (quick add, search, title, due). */
  focusQuickAdd = $state(0);
  focusSearch = $state(0);
  focusTitle = $state(0);
  focusDue = $state(0);
  newListTick = $state(0);
  /** Deep-link text waiting for the person to confirm before it is saved. */
  pendingQuickAdd = $state<string | null>(null);
  /** Quick adds shown before the shell confirmed them. */
  pendingAdds = $state.raw<PendingAdd[]>([]);
  private pendingSeq = 0;
  /** Tasks shown checked while they linger before leaving the view. */
  readonly lingering = new SvelteSet<Id>();
  reducedMotion = $state(false);

  private unlisteners: Unlisten[] = [];
  private lastActivity = 0;
  private firstPaintReported = false;
  now: () => Date;

  constructor(
    readonly backend: Backend,
    opts: { now?: () => Date } = {},
  ) {
    this.cache = new TaskCache(backend);
    this.view = new ViewStore(backend);
    this.settings = new SettingsStore(backend);
    this.updates = new UpdateStore(backend);
    this.health = new HealthStore(backend);
    this.now = opts.now ?? (() => new Date());
  }

  // ----- start-up and vault state -----

  async start() {
    this.unlisteners.push(
      await this.backend.on('vault://changed', (c) => this.onExternalChanges(c)),
      await this.backend.on('vault://locked', (p) => this.onLocked(p.reason)),
      await this.backend.on('app://quick-add', (p) => this.onQuickAdd(p.text)),
      await this.backend.on('app://navigate', (p) => void this.navigate(p.view, p.taskId)),
      await this.backend.on(
        'app://error',
        (e) => void this.recover(new AppError(e.code, e.message)),
      ),
    );
    // In the background: the notice appears whenever the updater has news.
    void this.updates.start();
    // The question shows when the shell says it is due.
    this.health.start();
    try {
      await this.settings.load();
    } catch (e) {
      this.showError(e);
    }
    const status = await this.backend.call('app_status');
    this.status = status;
    if (status.vault === 'missing') {
      this.phase = 'first-run';
    } else if (status.vault === 'unlocked') {
      await this.enter(await this.backend.call('vault_snapshot'));
    } else {
      this.phase = 'locked';
      if (status.slots?.some((s) => s.kind === 'keyring') ?? true)
        await this.unlock({ method: 'keyring' });
    }
    if (status.launch.deepLink) this.onQuickAdd(status.launch.deepLink);
    else if (status.launch.quickAdd) this.onQuickAdd(null);
  }

  stop() {
    for (const u of this.unlisteners) u();
    this.unlisteners = [];
    this.updates.stop();
    this.health.stop();
    this.toasts.clear();
  }

  private async enter(snapshot: Snapshot) {
    this.cache.load(snapshot);
    this.phase = 'unlocked';
    this.unlockError = null;
    this.lockReason = null;
    await this.refreshView();
  }

  async createVault(passphrase: string | null) {
    const r = await this.backend.call('vault_create', { passphrase });
    this.recovery = {
      key: r.recoveryKey,
      origin: 'first-run',
      keyringError: r.keyringError
        ? new AppError(r.keyringError.code, r.keyringError.message)
        : null,
    };
  }

  /** After the recovery key was confirmed: into the app. */
  async finishRecovery() {
    const flow = this.recovery;
    this.recovery = null;
    if (flow?.origin === 'first-run') {
      const status = await this.backend.call('app_status');
      this.status = status;
      await this.enter(await this.backend.call('vault_snapshot'));
      this.focusQuickAdd += 1;
    } else if (flow?.of === 'sync') {
      this.toast(
        'success',
        'New sync recovery key saved. The old one no longer opens the sync account.',
      );
    } else {
      this.toast('success', 'New recovery key saved. The old one no longer opens the vault.');
    }
  }

  async unlock(args: UnlockArgs): Promise<boolean> {
    this.unlocking = true;
    try {
      const snapshot = await this.backend.call('vault_unlock', args);
      await this.enter(snapshot);
      return true;
    } catch (e) {
      this.unlockError = AppError.from(e);
      this.phase = 'locked';
      if (this.unlockError.code === 'vault_too_new') await this.loadPreMigrationCopies();
      return false;
    } finally {
      this.unlocking = false;
    }
  }

  private async loadPreMigrationCopies() {
    try {
      this.preMigrationCopies = await this.backend.call('pre_migration_list');
    } catch (e) {
      this.preMigrationCopies = [];
      this.showError(e);
    }
  }

  /**
   * Puts the copy `name` in place of the vault a newer version upgraded
   * (the shell keeps that file aside) and opens it with `args`.
   */
  async restorePreMigration(name: string, args: UnlockArgs): Promise<boolean> {
    this.unlocking = true;
    this.preMigrationError = null;
    try {
      const snapshot = await this.backend.call('pre_migration_restore', { ...args, name });
      this.preMigrationCopies = null;
      await this.enter(snapshot);
      this.toast('success', 'Opened the copy from before the update.');
      return true;
    } catch (e) {
      this.preMigrationError = AppError.from(e);
      // The copy went or is unusable: offer what is left.
      if (this.preMigrationError.code.startsWith('pre_migration_copy_'))
        await this.loadPreMigrationCopies();
      return false;
    } finally {
      this.unlocking = false;
    }
  }

  async lock() {
    await this.backend.call('vault_lock');
    this.onLocked('user');
  }

  private onLocked(reason: LockReasonShown) {
    this.cache.clear();
    this.selection.clear();
    this.selection.cursor = null;
    this.detailId = null;
    this.view.ids = [];
    this.view.parents = [];
    this.view.days = [];
    this.paletteOpen = false;
    this.sheetOpen = false;
    this.picker = null;
    this.lockReason = reason;
    this.unlockError = null;
    this.screen = 'tasks';
    this.phase = 'locked';
  }

  // ----- events -----

  private async onExternalChanges(c: Changes) {
    if (this.phase !== 'unlocked') return;
    this.cache.apply(c);
    await this.refreshView().catch((e: unknown) => this.showError(e));
  }

  onQuickAdd(text: string | null) {
    if (this.phase !== 'unlocked') return;
    this.screen = 'tasks';
    if (text) this.pendingQuickAdd = text;
    else this.focusQuickAdd += 1;
  }

  async navigate(view: ViewSpec, taskId: Id | null) {
    if (this.phase !== 'unlocked') return;
    await this.go(view);
    if (taskId) {
      this.selection.only(taskId);
      this.detailId = taskId;
    }
  }

  // ----- views -----

  async go(spec: ViewSpec) {
    this.screen = 'tasks';
    if (!sameView(spec, this.view.spec)) {
      this.view.go(spec);
      this.selection.clear();
      this.selection.cursor = null;
      this.detailId = null;
    }
    await this.refreshView();
  }

  async refreshView() {
    const before = this.view.ids;
    try {
      await this.view.refresh();
    } catch (e) {
      this.showError(e);
      return;
    }
    this.selection.prune(this.view.ids, before);
    await this.dropVanishedDetail();
  }

  /** Closes the detail pane when its task no longer exists (emptied from the trash elsewhere). */
  private async dropVanishedDetail() {
    const id = this.detailId;
    if (!id || this.cache.get(id)) return;
    try {
      await this.cache.ensure([id]);
    } catch {
      return; // locked or failing: the pane shows nothing for a missing record anyway
    }
    if (this.detailId === id && !this.cache.get(id)) this.detailId = null;
  }

  // ----- mutations -----

  /**
   * The one path for every mutation: apply the returned `Changes`, refresh
   * the view, and offer Undo. A `stale` answer reloads from the vault.
   */
  async mutate(
    run: () => Promise<Changes>,
    opts: { toast?: string; linger?: Id[] } = {},
  ): Promise<boolean> {
    try {
      const changes = await run();
      this.cache.apply(changes);
      if (opts.linger?.length) {
        for (const id of opts.linger) this.lingering.add(id);
        setTimeout(
          () => {
            for (const id of opts.linger ?? []) this.lingering.delete(id);
            void this.refreshView();
          },
          // Reduced motion drops the slide (CSS), not the moment to undo in place.
          COMPLETE_LINGER_MS,
        );
      } else {
        await this.refreshView();
      }
      if (opts.toast) {
        this.toasts.show({
          kind: 'success',
          text: opts.toast,
          action: changes.history.canUndo
            ? { label: 'Undo', run: () => void this.undo() }
            : undefined,
        });
      }
      return true;
    } catch (e) {
      await this.recover(e);
      return false;
    }
  }

  /**
   * After a failed mutation: `stale` and vanished records reload from the
   * vault ("changed elsewhere, reloaded"), `vault_locked` shows the unlock
   * screen; the error is shown in words either way.
   */
  async recover(e: unknown) {
    const err = AppError.from(e);
    if (err.code === 'stale' || err.code === 'task_not_found' || err.code === 'list_not_found') {
      try {
        this.cache.load(await this.backend.call('vault_snapshot'));
        await this.refreshView();
      } catch (reload) {
        this.showError(reload);
        return;
      }
    }
    if (err.code === 'vault_locked') {
      this.onLocked('idle');
    }
    this.showError(err);
    if (err.code === 'key_rotated' && this.phase === 'unlocked') {
      // The shell dropped the old key; the keyring holds the new one (or
      // the unlock screen asks for a passphrase / recovery key).
      this.onLocked('keyRotated');
      await this.unlock({ method: 'keyring' });
    }
  }

  /**
   * Adds a task from quick-add text. Where the new row's place is known
   * before the shell answers — the Inbox or a list sorted Newest (top) or
   * by my order (end), text that names no other list — the row is shown at
   * once, titled as the grammar read it (`preview`, when it was for this
   * very text) or as typed; it gives way to the real row once the view is
   * re-queried, and leaves if the add fails (the text is given back).
   */
  async addTask(
    text: string,
    opts: { parentId?: Id | null; preview?: QuickAddPreview | null } = {},
  ): Promise<boolean> {
    const spec = this.view.spec;
    const pending = opts.parentId ? null : this.pendingAdd(text, opts.preview ?? null);
    if (pending) this.pendingAdds = [...this.pendingAdds, pending];
    try {
      return await this.mutate(() =>
        this.backend.call('task_add', {
          text,
          listId: spec.kind === 'list' ? spec.id : null,
          parentId: opts.parentId ?? null,
          dueToday: spec.kind === 'today',
        }),
      );
    } finally {
      if (pending) this.pendingAdds = this.pendingAdds.filter((p) => p !== pending);
    }
  }

  private pendingAdd(text: string, preview: QuickAddPreview | null): PendingAdd | null {
    const spec = this.view.spec;
    if (spec.kind !== 'inbox' && spec.kind !== 'list') return null;
    const sort = this.view.sort;
    if (sort !== 'created' && sort !== 'manual') return null;
    if (this.view.filter && Object.keys(this.view.filter).length) return null;
    // "#Other list" sends it elsewhere; without a preview, any #word might.
    if (preview ? preview.listName !== null : /(^|\s)#\S/.test(text)) return null;
    const title = (preview?.title ?? text).trim();
    if (!title) return null;
    this.pendingSeq += 1;
    return {
      key: `pending:${this.pendingSeq}`,
      title,
      view: spec,
      at: sort === 'created' ? 'top' : 'end',
    };
  }

  updateTask(id: Id, patch: TaskPatchDto): Promise<boolean> {
    return this.mutate(() => this.backend.call('task_update', { id, patch }));
  }

  async complete(ids: Id[]): Promise<boolean> {
    if (!ids.length) return false;
    // A selection may reach rows scrolled far away, whose records are not held.
    try {
      await this.cache.ensure(ids);
    } catch (e) {
      await this.recover(e);
      return false;
    }
    const allDone = ids.every((id) => this.cache.get(id)?.done);
    if (allDone) {
      return this.mutate(() => this.backend.call('tasks_reopen', { ids }), {
        toast: ids.length === 1 ? 'Task reopened' : `${ids.length} tasks reopened`,
      });
    }
    return this.mutate(() => this.backend.call('tasks_complete', { ids }), {
      toast: ids.length === 1 ? 'Task completed' : `${ids.length} tasks completed`,
      linger: ids,
    });
  }

  trash(ids: Id[]): Promise<boolean> {
    if (!ids.length) return Promise.resolve(false);
    if (this.detailId && ids.includes(this.detailId)) this.detailId = null;
    return this.mutate(() => this.backend.call('tasks_trash', { ids }), {
      toast: ids.length === 1 ? 'Task deleted' : `${ids.length} tasks deleted`,
    });
  }

  restore(ids: Id[]): Promise<boolean> {
    if (!ids.length) return Promise.resolve(false);
    return this.mutate(() => this.backend.call('tasks_restore', { ids }), {
      toast: ids.length === 1 ? 'Task restored' : `${ids.length} tasks restored`,
    });
  }

  emptyTrash(ids: Id[] | null): Promise<boolean> {
    return this.mutate(() => this.backend.call('trash_empty', { ids }), {
      toast: ids ? `${ids.length} deleted for good` : 'Trash emptied',
    });
  }

  move(ids: Id[], listId: Id | null): Promise<boolean> {
    if (!ids.length) return Promise.resolve(false);
    const name = listId ? (this.cache.list(listId)?.name ?? 'list') : 'Inbox';
    return this.mutate(() => this.backend.call('tasks_move', { ids, listId }), {
      toast: ids.length === 1 ? `Moved to ${name}` : `${ids.length} tasks moved to ${name}`,
    });
  }

  tag(ids: Id[], add: string[], remove: string[] = []): Promise<boolean> {
    if (!ids.length) return Promise.resolve(false);
    return this.mutate(() => this.backend.call('tasks_tag', { ids, add, remove }), {
      toast: ids.length === 1 ? 'Tags changed' : `Tags changed on ${ids.length} tasks`,
    });
  }

  prioritise(ids: Id[], priority: Priority): Promise<boolean> {
    if (!ids.length) return Promise.resolve(false);
    return this.mutate(() => this.backend.call('tasks_priority', { ids, priority }));
  }

  reorder(id: Id, anchor: Id, where: 'before' | 'after'): Promise<boolean> {
    return this.mutate(() =>
      this.backend.call('task_update', {
        id,
        patch: where === 'before' ? { moveBefore: anchor } : { moveAfter: anchor },
      }),
    );
  }

  async undo() {
    const label = this.cache.history.undoLabel;
    const ok = await this.mutate(() => this.backend.call('undo'));
    if (ok) this.toast('info', label ? `Undone: ${label}` : 'Undone', { redo: true });
  }

  async redo() {
    const label = this.cache.history.redoLabel;
    const ok = await this.mutate(() => this.backend.call('redo'));
    if (ok) this.toast('info', label ? `Redone: ${label}` : 'Redone');
  }

  addList(name: string, colour: string | null): Promise<boolean> {
    return this.mutate(() => this.backend.call('list_add', { name, colour }), {
      toast: `List “${name}” added`,
    });
  }

  // ----- updates -----

  /**
   * "Check for updates" from the palette: the result as a toast (an offer
   * also shows the notice; a failure says why and when the next try is).
   */
  async checkForUpdates() {
    if (!this.updates.supported) {
      this.showError(new AppError('update_unavailable', 'this shell has no updater'));
      return;
    }
    const s = await this.updates.check();
    if (!s) {
      this.showError(this.updates.error);
      return;
    }
    if (s.phase === 'upToDate') {
      this.toast('success', `You're up to date (version ${s.current}).`);
    } else if ((s.phase === 'available' || s.phase === 'ready') && s.offer) {
      this.toasts.show({
        kind: 'info',
        text: s.offer.rollback
          ? `A problem was found in ${s.current}; going back to ${s.offer.version} is offered.`
          : `Version ${s.offer.version} is available.`,
      });
    } else if ((s.phase === 'failed' || s.phase === 'unavailable') && s.error) {
      this.showError(new AppError(s.error.code, s.error.message));
    }
  }

  // ----- messages -----

  toast(kind: ToastKind, text: string, opts: { redo?: boolean } = {}) {
    this.toasts.show({
      kind,
      text,
      action: opts.redo ? { label: 'Redo', run: () => void this.redo() } : undefined,
    });
  }

  /** The one way errors reach a person: plain words, the way out, the code for a bug report. */
  showError(e: unknown) {
    const d = describeError(e);
    const kind: ToastKind =
      d.severity === 'info' ? 'info' : d.severity === 'warning' ? 'warning' : 'error';
    this.toasts.show({
      kind,
      text: d.wayOut ? `${d.words} ${d.wayOut}` : d.words,
      code: d.code,
      detail: d.details,
    });
  }

  /** Tells the shell the person is active (idle lock), at most every 30 s. */
  /**
   * Tells the shell the task list was painted for the first time since the
   * page loaded (the start-up benchmark's mark; the shell ignores it unless
   * a benchmark runs). Once per page load, however often the vault is
   * locked and unlocked.
   */
  reportFirstPaint() {
    if (this.firstPaintReported) return;
    this.firstPaintReported = true;
    this.backend.call('bench_first_paint').catch(() => {
      // A benchmark mark; a failure here must not bother the person.
    });
  }

  reportActivity() {
    if (this.phase !== 'unlocked') return;
    const now = Date.now();
    if (now - this.lastActivity < 30_000) return;
    this.lastActivity = now;
    this.backend.call('activity').catch(() => {
      // Activity is advisory; a failure here must not bother the person.
    });
  }
}
