import { comboFromEvent, isTypingTarget, KeySequencer, type Platform } from '../keyboard/keys';
import { buildKeyMap, sequencePrefixes, type CommandId } from '../keyboard/shortcuts';
import type { Priority } from '../ipc/types';
import type { App } from './app.svelte';

/** Runs a command from the shortcut table (keys, palette, `?` sheet). */
export function runCommand(app: App, id: CommandId): void {
  const ids = app.view.ids;
  const sel = app.selection;
  const targets = () => sel.targets(ids);
  const moveCursor = (delta: number, extend: boolean) => {
    if (!ids.length) return;
    const at = sel.cursor ? ids.indexOf(sel.cursor) : -1;
    const next = ids[Math.max(0, Math.min(ids.length - 1, at < 0 ? 0 : at + delta))];
    if (next === undefined) return;
    if (extend) sel.extendTo(next, ids);
    else sel.only(next);
    if (app.detailId && !extend) app.detailId = next;
  };
  const setPriority = (p: Priority) => void app.prioritise(targets(), p);
  const inTrash = app.view.spec.kind === 'trash';

  switch (id) {
    case 'quick-add':
      app.screen = 'tasks';
      app.focusQuickAdd += 1;
      return;
    case 'search':
      app.screen = 'tasks';
      app.focusSearch += 1;
      return;
    case 'palette':
      app.sheetOpen = false;
      app.paletteOpen = !app.paletteOpen;
      return;
    case 'shortcuts':
      app.paletteOpen = false;
      app.sheetOpen = true;
      return;
    case 'close':
      if (app.paletteOpen) app.paletteOpen = false;
      else if (app.sheetOpen) app.sheetOpen = false;
      else if (app.picker) app.picker = null;
      else if (app.detailId) app.detailId = null;
      else if (app.screen === 'settings') app.screen = 'tasks';
      else if (sel.size > 1) sel.clear();
      return;
    case 'next':
      return moveCursor(1, false);
    case 'prev':
      return moveCursor(-1, false);
    case 'extend-down':
      return moveCursor(1, true);
    case 'extend-up':
      return moveCursor(-1, true);
    case 'select-all':
      sel.all(ids);
      return;
    case 'open':
      if (sel.cursor) app.detailId = sel.cursor;
      return;
    case 'complete':
      if (inTrash) return;
      void app.complete(targets());
      return;
    case 'edit-title':
      if (sel.cursor) {
        app.detailId = sel.cursor;
        app.focusTitle += 1;
      }
      return;
    case 'due':
      if (sel.cursor) {
        app.detailId = sel.cursor;
        app.focusDue += 1;
      }
      return;
    case 'move':
      if (targets().length) app.picker = 'move';
      return;
    case 'tags':
      if (targets().length) app.picker = 'tags';
      return;
    case 'priority-1':
      return setPriority(1);
    case 'priority-2':
      return setPriority(2);
    case 'priority-3':
      return setPriority(3);
    case 'priority-4':
      return setPriority(4);
    case 'priority-none':
      return setPriority(0);
    case 'delete':
      if (inTrash) return;
      void app.trash(targets());
      return;
    case 'restore':
      if (inTrash) void app.restore(targets());
      else if (app.view.spec.kind === 'completed') void app.complete(targets());
      return;
    case 'undo':
      void app.undo();
      return;
    case 'redo':
      void app.redo();
      return;
    case 'go-inbox':
      void app.go({ kind: 'inbox' });
      return;
    case 'go-today':
      void app.go({ kind: 'today' });
      return;
    case 'go-upcoming':
      void app.go({ kind: 'upcoming', days: 14 });
      return;
    case 'go-completed':
      void app.go({ kind: 'completed' });
      return;
    case 'go-trash':
      void app.go({ kind: 'trash' });
      return;
    case 'go-settings':
      app.screen = 'settings';
      app.detailId = null;
      return;
    case 'new-list':
      app.screen = 'tasks';
      app.newListTick += 1;
      return;
    case 'toggle-sidebar':
      app.sidebarCollapsed = !app.sidebarCollapsed;
      return;
    case 'empty-trash':
      void app.go({ kind: 'trash' }).then(() => app.emptyTrash(null));
      return;
    case 'theme-light':
    case 'theme-dark':
    case 'theme-system':
      app.settings
        .update({ theme: id === 'theme-light' ? 'light' : id === 'theme-dark' ? 'dark' : 'system' })
        .catch((e: unknown) => app.showError(e));
      return;
    case 'lock':
      app.lock().catch((e: unknown) => app.showError(e));
      return;
    case 'backup-now':
      app.backend
        .call('backup_now')
        .then(() => app.toast('success', 'Backup saved'))
        .catch((e: unknown) => app.showError(e));
      return;
    case 'check-updates':
      void app.checkForUpdates();
      return;
    default: {
      const list = /^list-(\d)$/.exec(id);
      if (list) {
        const target = app.cache.sortedLists[Number(list[1]) - 1];
        if (target) void app.go({ kind: 'list', id: target.id });
      }
    }
  }
}

/** Window-level key handling, driven by the shortcut table. */
export class KeyHandler {
  private readonly map = buildKeyMap();
  private readonly sequencer = new KeySequencer(sequencePrefixes());

  constructor(
    private readonly app: App,
    private readonly platform: Platform,
  ) {}

  handle(e: KeyboardEvent): void {
    const app = this.app;
    if (app.phase !== 'unlocked' || e.defaultPrevented || e.isComposing) return;
    const combo = comboFromEvent(e, this.platform);
    if (!combo) return;
    const typing = isTypingTarget(e.target);
    // Dialogs (palette, pickers, sheet) handle their own keys except these.
    const modal =
      app.paletteOpen || app.sheetOpen || app.picker !== null || app.pendingQuickAdd !== null;
    if (typing || modal) {
      const s = this.map.get(combo);
      if (s?.inFields) {
        if (s.id === 'close' && typing && !modal && !app.detailId) {
          (e.target as HTMLElement).blur();
          e.preventDefault();
          return;
        }
        if (s.id === 'close' && modal) return; // the dialog closes itself
        e.preventDefault();
        runCommand(app, s.id);
      }
      return;
    }
    // Buttons keep Space/Enter for themselves — except a task row's title,
    // where Space completes and Enter opens like anywhere else in the list.
    const target = e.target instanceof HTMLElement ? e.target : null;
    const control = target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement;
    const rowTitle = target?.hasAttribute('data-row-focus') ?? false;
    if (control && !rowTitle && (combo === 'Space' || combo === 'Enter')) return;
    const dispatched = this.sequencer.feed(combo, e.timeStamp || Date.now());
    if (dispatched === null) {
      e.preventDefault();
      return;
    }
    const s = this.map.get(dispatched);
    if (!s) return;
    if (
      app.screen === 'settings' &&
      !['palette', 'shortcuts', 'close', 'go-settings', 'quick-add', 'search'].includes(s.id) &&
      !s.id.startsWith('go-') &&
      !s.id.startsWith('list-')
    ) {
      return;
    }
    e.preventDefault();
    runCommand(app, s.id);
  }
}
