import { describe, expect, it } from 'vitest';
import {
  comboFromEvent,
  displayCombo,
  isTypingTarget,
  KeySequencer,
  normaliseCombo,
} from '../../src/lib/keyboard/keys';
import {
  buildKeyMap,
  paletteMatches,
  sequencePrefixes,
  SHORTCUTS,
} from '../../src/lib/keyboard/shortcuts';

const ev = (
  key: string,
  mods: Partial<Record<'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey', boolean>> = {},
) => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

describe('comboFromEvent', () => {
  it('normalises letters, modifiers and punctuation', () => {
    expect(comboFromEvent(ev('k', { ctrlKey: true }), 'other')).toBe('Mod+k');
    expect(comboFromEvent(ev('k', { metaKey: true }), 'mac')).toBe('Mod+k');
    expect(comboFromEvent(ev('Z', { ctrlKey: true, shiftKey: true }), 'other')).toBe('Mod+Shift+z');
    expect(comboFromEvent(ev('?', { shiftKey: true }), 'other')).toBe('?');
    expect(comboFromEvent(ev('#', { shiftKey: true }), 'other')).toBe('#');
    expect(comboFromEvent(ev('ArrowDown', { shiftKey: true }), 'other')).toBe('Shift+ArrowDown');
    expect(comboFromEvent(ev(' '), 'other')).toBe('Space');
    expect(comboFromEvent(ev('J', { shiftKey: true }), 'other')).toBe('Shift+j');
    expect(comboFromEvent(ev('Shift', { shiftKey: true }), 'other')).toBeNull();
  });

  it('keeps Ctrl distinct from Cmd on a Mac', () => {
    expect(comboFromEvent(ev('k', { ctrlKey: true }), 'mac')).toBe('Ctrl+k');
  });

  it('matches the table written by hand', () => {
    expect(normaliseCombo('mod+shift+Z')).toBe('Mod+Shift+z');
    expect(normaliseCombo('g i')).toBe('g i');
    expect(normaliseCombo('Esc')).toBe('Escape');
  });

  it('shows combos per platform', () => {
    expect(displayCombo('Mod+Shift+z', 'other')).toBe('Ctrl+Shift+Z');
    expect(displayCombo('Mod+Shift+z', 'mac')).toBe('⌘⇧Z');
    expect(displayCombo('g i', 'other')).toBe('G then I');
    expect(displayCombo('Shift+ArrowDown', 'other')).toBe('Shift+↓');
  });
});

describe('KeySequencer', () => {
  it('joins a prefix with the next key within the timeout', () => {
    const s = new KeySequencer(new Set(['g']), 1000);
    expect(s.feed('g', 0)).toBeNull();
    expect(s.waiting).toBe(true);
    expect(s.feed('i', 500)).toBe('g i');
    expect(s.feed('j', 600)).toBe('j');
  });

  it('forgets a prefix after the timeout', () => {
    const s = new KeySequencer(new Set(['g']), 1000);
    s.feed('g', 0);
    expect(s.feed('i', 1500)).toBe('i');
  });
});

describe('the shortcut table', () => {
  it('binds no key twice', () => {
    expect(() => buildKeyMap()).not.toThrow();
    expect(() =>
      buildKeyMap([...SHORTCUTS, { id: 'undo', title: 'x', group: 'General', keys: ['q'] }]),
    ).toThrow(/bound twice/);
  });

  it('covers every action of the design brief', () => {
    const map = buildKeyMap();
    const expectations: [string, string][] = [
      ['q', 'quick-add'],
      ['n', 'quick-add'],
      ['/', 'search'],
      ['j', 'next'],
      ['ArrowDown', 'next'],
      ['k', 'prev'],
      ['Enter', 'open'],
      ['Escape', 'close'],
      ['x', 'complete'],
      ['Space', 'complete'],
      ['e', 'edit-title'],
      ['d', 'due'],
      ['#', 'move'],
      ['@', 'tags'],
      ['1', 'priority-1'],
      ['4', 'priority-4'],
      ['Delete', 'delete'],
      ['Backspace', 'delete'],
      ['Mod+z', 'undo'],
      ['Mod+Shift+z', 'redo'],
      ['g i', 'go-inbox'],
      ['g t', 'go-today'],
      ['g u', 'go-upcoming'],
      ['Mod+1', 'list-1'],
      ['Mod+9', 'list-9'],
      ['Mod+k', 'palette'],
      ['?', 'shortcuts'],
      ['Shift+ArrowDown', 'extend-down'],
      ['Mod+\\', 'toggle-sidebar'],
    ];
    for (const [key, id] of expectations) expect(map.get(key)?.id, key).toBe(id);
    expect(sequencePrefixes()).toEqual(new Set(['g']));
  });

  it('finds palette commands by words in any order', () => {
    expect(paletteMatches('trash empty').map((s) => s.id)).toEqual(['empty-trash']);
    expect(paletteMatches('').some((s) => s.id === 'next')).toBe(false);
  });
});

describe('isTypingTarget', () => {
  it('tells fields from other elements', () => {
    const text = document.createElement('input');
    const box = document.createElement('input');
    box.type = 'checkbox';
    expect(isTypingTarget(text)).toBe(true);
    expect(isTypingTarget(box)).toBe(false);
    expect(isTypingTarget(document.createElement('textarea'))).toBe(true);
    expect(isTypingTarget(document.createElement('button'))).toBe(false);
  });
});
