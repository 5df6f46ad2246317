import { describe, expect, it } from 'vitest';
import { App } from '../../src/lib/app/app.svelte';
import { KeyHandler } from '../../src/lib/app/commands';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';

async function setup() {
  const backend = new FakeBackend({
    vault: 'unlocked',
    lists: [{ name: 'Work' }],
    tasks: ['A', 'B', 'C'],
  });
  const app = new App(backend);
  await app.start();
  const keys = new KeyHandler(app, 'other');
  let t = 0;
  const press = (
    key: string,
    init: KeyboardEventInit = {},
    target: HTMLElement = document.body,
  ) => {
    const e = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init });
    Object.defineProperty(e, 'target', { value: target });
    Object.defineProperty(e, 'timeStamp', { value: (t += 100) });
    keys.handle(e);
    return e;
  };
  return { app, backend, press };
}

describe('KeyHandler', () => {
  it('runs single keys and two-key sequences from the table', async () => {
    const { app, press } = await setup();
    press('j');
    expect(app.selection.cursor).toBe(app.view.ids[0]);
    press('j');
    expect(app.selection.cursor).toBe(app.view.ids[1]);
    press('k');
    expect(app.selection.cursor).toBe(app.view.ids[0]);
    press('Enter');
    expect(app.detailId).toBe(app.view.ids[0]);
    const g = press('g');
    expect(g.defaultPrevented).toBe(true);
    press('t');
    await new Promise((r) => setTimeout(r, 0));
    expect(app.view.spec.kind).toBe('today');
    press('1', { ctrlKey: true });
    await new Promise((r) => setTimeout(r, 0));
    expect(app.view.spec.kind).toBe('list');
  });

  it('leaves typing alone, except Ctrl+K and Escape', async () => {
    const { app, press } = await setup();
    const input = document.createElement('input');
    document.body.append(input);
    input.focus();
    const e = press('x', {}, input);
    expect(e.defaultPrevented).toBe(false);
    press('k', { ctrlKey: true }, input);
    expect(app.paletteOpen).toBe(true);
    app.paletteOpen = false;
    press('Escape', {}, input);
    expect(document.activeElement).not.toBe(input);
    input.remove();
  });

  it('lets the palette and pickers own their keys while open', async () => {
    const { app, press } = await setup();
    app.paletteOpen = true;
    press('j');
    expect(app.selection.cursor).toBeNull();
    app.paletteOpen = false;
    app.picker = 'move';
    press('Delete');
    expect(app.view.ids).toHaveLength(3);
  });

  it('completes with Space on a row title, but not on other buttons', async () => {
    const { app, backend, press } = await setup();
    press('j');
    const rowTitle = document.createElement('button');
    rowTitle.setAttribute('data-row-focus', '');
    const other = document.createElement('button');
    press(' ', {}, other);
    expect(backend.vault.calls.some((c) => c.cmd === 'tasks_complete')).toBe(false);
    const e = press(' ', {}, rowTitle);
    expect(e.defaultPrevented).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(backend.vault.calls.some((c) => c.cmd === 'tasks_complete')).toBe(true);
    expect(app.cache.get(app.selection.cursor ?? '')?.done).toBe(true);
  });

  it('does nothing while the vault is locked', async () => {
    const { app, press } = await setup();
    await app.lock();
    press('q');
    press('k', { ctrlKey: true });
    expect(app.paletteOpen).toBe(false);
  });
});
