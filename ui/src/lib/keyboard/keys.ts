// Key combos as strings ("Mod+K", "Shift+ArrowDown", "?", "g i"), one
// normalised form for events and for the shortcut table.

export type Platform = 'mac' | 'other';

export function detectPlatform(): Platform {
  return typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform)
    ? 'mac'
    : 'other';
}

const NAMED: Record<string, string> = {
  ' ': 'Space',
  Spacebar: 'Space',
  Esc: 'Escape',
  Del: 'Delete',
  Up: 'ArrowUp',
  Down: 'ArrowDown',
  Left: 'ArrowLeft',
  Right: 'ArrowRight',
};

type KeyLike = Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>;

/** "Mod+Shift+Z", "?", "ArrowDown", "g". Punctuation carries its own shift ("?" not "Shift+/"). */
export function comboFromEvent(e: KeyLike, platform: Platform): string | null {
  let key = NAMED[e.key] ?? e.key;
  if (
    key === 'Control' ||
    key === 'Shift' ||
    key === 'Alt' ||
    key === 'Meta' ||
    key === 'Dead' ||
    key === 'Unidentified'
  ) {
    return null;
  }
  const parts: string[] = [];
  const mod = platform === 'mac' ? e.metaKey : e.ctrlKey;
  const otherMod = platform === 'mac' ? e.ctrlKey : e.metaKey;
  if (mod) parts.push('Mod');
  if (otherMod) parts.push(platform === 'mac' ? 'Ctrl' : 'Meta');
  if (e.altKey) parts.push('Alt');
  const single = key.length === 1;
  const letter = single && /[a-z]/i.test(key);
  if (letter) {
    if (e.shiftKey) parts.push('Shift');
    key = key.toLowerCase();
  } else if (!single && e.shiftKey) {
    parts.push('Shift');
  } else if (single && e.shiftKey && (mod || e.altKey) && /[0-9]/.test(key)) {
    parts.push('Shift');
  }
  parts.push(key);
  return parts.join('+');
}

/** Normalises a combo written by hand ("mod+shift+Z", "ctrl+k") to `comboFromEvent`'s form. */
export function normaliseCombo(combo: string): string {
  return combo
    .split(' ')
    .map((step) => {
      const parts = step.split('+');
      const key = parts.pop() ?? '';
      const mods = new Set(parts.map((p) => p.toLowerCase()));
      const out: string[] = [];
      if (mods.has('mod')) out.push('Mod');
      if (mods.has('ctrl')) out.push('Ctrl');
      if (mods.has('meta')) out.push('Meta');
      if (mods.has('alt')) out.push('Alt');
      if (mods.has('shift')) out.push('Shift');
      out.push(key.length === 1 ? key.toLowerCase() : (NAMED[key] ?? key));
      return out.join('+');
    })
    .join(' ');
}

const SYMBOLS_MAC: Record<string, string> = { Mod: '⌘', Shift: '⇧', Alt: '⌥', Ctrl: '⌃' };

/** How a combo is shown: "Ctrl+Shift+Z" or "⌘⇧Z", "g then i". */
export function displayCombo(combo: string, platform: Platform): string {
  return combo
    .split(' ')
    .map((step) => {
      const parts = step.split('+').map((p) => {
        if (p === 'Mod') return platform === 'mac' ? '⌘' : 'Ctrl';
        if (platform === 'mac' && SYMBOLS_MAC[p]) return SYMBOLS_MAC[p];
        if (p === 'ArrowDown') return '↓';
        if (p === 'ArrowUp') return '↑';
        if (p === 'ArrowLeft') return '←';
        if (p === 'ArrowRight') return '→';
        if (p.length === 1) return p.toUpperCase() === p.toLowerCase() ? p : p.toUpperCase();
        return p;
      });
      return platform === 'mac' ? parts.join('') : parts.join('+');
    })
    .join(' then ');
}

/**
 * Turns key events into combos, joining two-step sequences ("g i"). A
 * prefix waits `timeoutMs` for its second key.
 */
export class KeySequencer {
  private pending: string | null = null;
  private pendingAt = 0;

  constructor(
    private readonly prefixes: ReadonlySet<string>,
    private readonly timeoutMs = 1200,
  ) {}

  /** The combo to dispatch, or null while waiting for a sequence's second key. */
  feed(combo: string, at: number): string | null {
    if (this.pending !== null && at - this.pendingAt <= this.timeoutMs) {
      const seq = `${this.pending} ${combo}`;
      this.pending = null;
      return seq;
    }
    this.pending = null;
    if (this.prefixes.has(combo)) {
      this.pending = combo;
      this.pendingAt = at;
      return null;
    }
    return combo;
  }

  get waiting(): boolean {
    return this.pending !== null;
  }

  reset() {
    this.pending = null;
  }
}

/** True when typing goes to a field, so single-key shortcuts must not fire. */
export function isTypingTarget(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable) return true;
  if (t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return true;
  if (t instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].includes(t.type);
  }
  return false;
}
