// Global-shortcut combos in Tauri's accelerator syntax
// ("CommandOrControl+Shift+Space"), captured from a key event.

type KeyLike = Pick<KeyboardEvent, 'key' | 'code' | 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>;

const CODE_KEYS: Record<string, string> = {
  Space: 'Space',
  Enter: 'Enter',
  Tab: 'Tab',
  Backquote: '`',
  Minus: '-',
  Equal: '=',
  Comma: ',',
  Period: '.',
  Slash: '/',
  Semicolon: ';',
  Quote: "'",
  BracketLeft: '[',
  BracketRight: ']',
  Backslash: '\\',
};

/**
 * The accelerator for a key event, or null while only modifiers are held
 * or when no modifier is held (a global shortcut without one would steal
 * ordinary typing everywhere).
 */
export function acceleratorFromEvent(e: KeyLike): string | null {
  if (['Control', 'Shift', 'Alt', 'Meta'].includes(e.key)) return null;
  const mods: string[] = [];
  if (e.ctrlKey || e.metaKey) mods.push('CommandOrControl');
  if (e.altKey) mods.push('Alt');
  if (e.shiftKey) mods.push('Shift');
  if (!mods.length || (mods.length === 1 && mods[0] === 'Shift')) return null;
  let key: string | undefined;
  if (/^Key[A-Z]$/.test(e.code)) key = e.code.slice(3);
  else if (/^Digit\d$/.test(e.code)) key = e.code.slice(5);
  else if (/^F\d{1,2}$/.test(e.code)) key = e.code;
  else key = CODE_KEYS[e.code];
  if (!key) return null;
  return [...mods, key].join('+');
}

export function displayAccelerator(acc: string, mac: boolean): string {
  return acc.replace('CommandOrControl', mac ? '⌘' : 'Ctrl');
}
