import { normaliseCombo } from './keys';

export type CommandId =
  | 'quick-add'
  | 'search'
  | 'palette'
  | 'shortcuts'
  | 'next'
  | 'prev'
  | 'extend-down'
  | 'extend-up'
  | 'select-all'
  | 'open'
  | 'close'
  | 'complete'
  | 'edit-title'
  | 'due'
  | 'move'
  | 'tags'
  | 'priority-1'
  | 'priority-2'
  | 'priority-3'
  | 'priority-4'
  | 'priority-none'
  | 'delete'
  | 'restore'
  | 'undo'
  | 'redo'
  | 'go-inbox'
  | 'go-today'
  | 'go-upcoming'
  | 'go-completed'
  | 'go-trash'
  | 'go-settings'
  | 'list-1'
  | 'list-2'
  | 'list-3'
  | 'list-4'
  | 'list-5'
  | 'list-6'
  | 'list-7'
  | 'list-8'
  | 'list-9'
  | 'new-list'
  | 'toggle-sidebar'
  | 'empty-trash'
  | 'theme-light'
  | 'theme-dark'
  | 'theme-system'
  | 'lock'
  | 'backup-now'
  | 'check-updates';

export type Group = 'General' | 'Navigation' | 'Tasks' | 'Views' | 'Vault';

export type Shortcut = {
  id: CommandId;
  title: string;
  group: Group;
  keys: string[];
  /** Also fires while typing in a field (Escape, Ctrl+K). */
  inFields?: boolean;
  /** Listed in the command palette (default true). */
  palette?: boolean;
};

/**
 * The one shortcut table: it drives key handling, the `?` sheet and the
 * command palette. Keys use `comboFromEvent`'s form (see keys.ts).
 */
export const SHORTCUTS: readonly Shortcut[] = [
  { id: 'quick-add', title: 'Quick add a task', group: 'General', keys: ['q', 'n'] },
  { id: 'search', title: 'Search', group: 'General', keys: ['/'] },
  {
    id: 'palette',
    title: 'Command palette',
    group: 'General',
    keys: ['Mod+k'],
    inFields: true,
    palette: false,
  },
  { id: 'shortcuts', title: 'Keyboard shortcuts', group: 'General', keys: ['?'] },
  { id: 'undo', title: 'Undo', group: 'General', keys: ['Mod+z'] },
  { id: 'redo', title: 'Redo', group: 'General', keys: ['Mod+Shift+z', 'Mod+y'] },
  {
    id: 'close',
    title: 'Close / back',
    group: 'General',
    keys: ['Escape'],
    inFields: true,
    palette: false,
  },
  { id: 'toggle-sidebar', title: 'Show or hide the sidebar', group: 'General', keys: ['Mod+\\'] },
  { id: 'next', title: 'Next task', group: 'Navigation', keys: ['j', 'ArrowDown'], palette: false },
  {
    id: 'prev',
    title: 'Previous task',
    group: 'Navigation',
    keys: ['k', 'ArrowUp'],
    palette: false,
  },
  {
    id: 'extend-down',
    title: 'Extend selection down',
    group: 'Navigation',
    keys: ['Shift+ArrowDown', 'Shift+j'],
    palette: false,
  },
  {
    id: 'extend-up',
    title: 'Extend selection up',
    group: 'Navigation',
    keys: ['Shift+ArrowUp', 'Shift+k'],
    palette: false,
  },
  { id: 'select-all', title: 'Select all tasks in the view', group: 'Navigation', keys: ['Mod+a'] },
  { id: 'open', title: 'Open task details', group: 'Navigation', keys: ['Enter'], palette: false },
  { id: 'complete', title: 'Complete / reopen', group: 'Tasks', keys: ['x', 'Space'] },
  { id: 'edit-title', title: 'Edit title', group: 'Tasks', keys: ['e'] },
  { id: 'due', title: 'Set due date', group: 'Tasks', keys: ['d'] },
  { id: 'move', title: 'Move to list', group: 'Tasks', keys: ['#'] },
  { id: 'tags', title: 'Add tags', group: 'Tasks', keys: ['@'] },
  { id: 'priority-1', title: 'Priority 1 (most urgent)', group: 'Tasks', keys: ['1'] },
  { id: 'priority-2', title: 'Priority 2', group: 'Tasks', keys: ['2'] },
  { id: 'priority-3', title: 'Priority 3', group: 'Tasks', keys: ['3'] },
  { id: 'priority-4', title: 'Priority 4', group: 'Tasks', keys: ['4'] },
  { id: 'priority-none', title: 'No priority', group: 'Tasks', keys: ['0'] },
  { id: 'delete', title: 'Move to trash', group: 'Tasks', keys: ['Delete', 'Backspace'] },
  { id: 'restore', title: 'Restore from trash / reopen', group: 'Tasks', keys: ['r'] },
  { id: 'go-inbox', title: 'Go to Inbox', group: 'Views', keys: ['g i'] },
  { id: 'go-today', title: 'Go to Today', group: 'Views', keys: ['g t'] },
  { id: 'go-upcoming', title: 'Go to Upcoming', group: 'Views', keys: ['g u'] },
  { id: 'go-completed', title: 'Go to Completed', group: 'Views', keys: ['g c'] },
  { id: 'go-trash', title: 'Go to Trash', group: 'Views', keys: ['g x'] },
  { id: 'go-settings', title: 'Open Settings', group: 'Views', keys: ['Mod+,'] },
  ...([1, 2, 3, 4, 5, 6, 7, 8, 9] as const).map((n): Shortcut => ({
    id: `list-${n}`,
    title: `Go to list ${n}`,
    group: 'Views',
    keys: [`Mod+${n}`],
    palette: false,
  })),
  { id: 'new-list', title: 'New list', group: 'Views', keys: [] },
  { id: 'empty-trash', title: 'Empty trash', group: 'Vault', keys: [] },
  { id: 'theme-light', title: 'Theme: light', group: 'General', keys: [] },
  { id: 'theme-dark', title: 'Theme: dark', group: 'General', keys: [] },
  { id: 'theme-system', title: 'Theme: follow the system', group: 'General', keys: [] },
  { id: 'lock', title: 'Lock the vault', group: 'Vault', keys: ['Mod+Shift+l'] },
  { id: 'backup-now', title: 'Back up now', group: 'Vault', keys: [] },
  { id: 'check-updates', title: 'Check for updates', group: 'General', keys: [] },
];

export type KeyMap = ReadonlyMap<string, Shortcut>;

export function buildKeyMap(table: readonly Shortcut[] = SHORTCUTS): KeyMap {
  const map = new Map<string, Shortcut>();
  for (const s of table) {
    for (const k of s.keys) {
      const norm = normaliseCombo(k);
      if (map.has(norm)) throw new Error(`shortcut ${k} bound twice`);
      map.set(norm, s);
    }
  }
  return map;
}

/** First keys of two-step sequences ("g" for "g i"). */
export function sequencePrefixes(table: readonly Shortcut[] = SHORTCUTS): Set<string> {
  const out = new Set<string>();
  for (const s of table)
    for (const k of s.keys) if (k.includes(' ')) out.add(normaliseCombo(k.split(' ')[0] ?? ''));
  return out;
}

/** Palette search: every word of `query` appears in the title (any order). */
export function paletteMatches(query: string, table: readonly Shortcut[] = SHORTCUTS): Shortcut[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return table.filter(
    (s) => s.palette !== false && words.every((w) => s.title.toLowerCase().includes(w)),
  );
}
