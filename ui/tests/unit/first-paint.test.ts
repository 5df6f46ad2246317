import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../src/lib/app/app.svelte';
import { whenTasksPainted } from '../../src/lib/app/first-paint';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';

/** Lets the observer, the animation frame and the queued task run. */
async function frames() {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 20));
}

afterEach(() => {
  document.body.innerHTML = '';
});

describe('whenTasksPainted', () => {
  it('waits for the first row, then reports once, after a frame', async () => {
    const root = document.createElement('div');
    document.body.append(root);
    const painted = vi.fn();
    whenTasksPainted(root, painted);
    root.innerHTML = '<p data-testid="starting">Opening</p>';
    await frames();
    expect(painted).not.toHaveBeenCalled();
    root.innerHTML = '<ul data-testid="task-list"><li data-testid="task-row">a</li></ul>';
    await frames();
    root.innerHTML += '<li data-testid="task-row">b</li>';
    await frames();
    expect(painted).toHaveBeenCalledTimes(1);
  });

  it('counts the empty state of an empty vault as painted', async () => {
    const root = document.createElement('div');
    root.innerHTML = '<p data-testid="empty-state">Nothing here</p>';
    const painted = vi.fn();
    whenTasksPainted(root, painted);
    await frames();
    expect(painted).toHaveBeenCalledTimes(1);
  });

  it('reports nothing once cancelled', async () => {
    const root = document.createElement('div');
    const painted = vi.fn();
    const cancel = whenTasksPainted(root, painted);
    cancel();
    root.innerHTML = '<li data-testid="task-row">a</li>';
    await frames();
    expect(painted).not.toHaveBeenCalled();
  });
});

describe('App.reportFirstPaint', () => {
  it('tells the shell once per page load, however often the vault is unlocked', async () => {
    const backend = new FakeBackend({ vault: 'unlocked', tasks: ['Alpha'] });
    const app = new App(backend);
    await app.start();
    app.reportFirstPaint();
    await app.lock();
    await app.unlock({ method: 'keyring' });
    app.reportFirstPaint();
    await frames();
    expect(backend.vault.firstPaintMarks).toBe(1);
  });
});
