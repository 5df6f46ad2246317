import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, openApp, row, startSuite, taskTitles, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

const SEED = {
  vault: 'unlocked',
  lists: [{ name: 'Work', colour: '#3b82f6' }],
  tasks: ['Alpha', 'Bravo #Work'],
};

test('command palette: Ctrl+K, filter, Enter runs; lists are there too', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await page.keyboard.press('Control+k');
  await page.locator(tid('palette')).waitFor();
  await page.keyboard.type('upcoming');
  const items = page.locator(tid('palette-item'));
  assert.deepEqual(await items.allInnerTexts().then((t) => t.map((x) => x.split('\n')[0])), [
    'Go to Upcoming',
  ]);
  await page.keyboard.press('Enter');
  await page.locator(tid('palette')).waitFor({ state: 'detached' });
  await eventually(
    async () => (await page.locator(tid('view-title')).textContent()) === 'Upcoming',
  );

  await page.keyboard.press('Control+k');
  await page.keyboard.type('list work');
  await page.keyboard.press('Enter');
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Work');

  await page.keyboard.press('Control+k');
  await page.keyboard.type('theme dark');
  await page.keyboard.press('Enter');
  await eventually(() => page.evaluate(() => document.documentElement.dataset.theme === 'dark'));
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.settings.theme), 'dark');

  // Escape closes without running anything.
  await page.keyboard.press('Control+k');
  await page.keyboard.press('Escape');
  await page.locator(tid('palette')).waitFor({ state: 'detached' });
});

test('shortcut sheet lists the table; ? opens it, Escape closes', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await page.keyboard.press('Shift+?');
  const sheet = page.locator(tid('shortcut-sheet'));
  await sheet.waitFor();
  const text = await sheet.innerText();
  for (const line of [
    'Quick add a task',
    'Command palette',
    'Undo',
    'Go to Today',
    'Move to trash',
    'Extend selection down',
  ]) {
    assert.ok(text.includes(line), line);
  }
  assert.ok(text.includes('Ctrl+Shift+Z'));
  assert.ok(text.includes('G then T'));
  await page.keyboard.press('Escape');
  await sheet.waitFor({ state: 'detached' });
});

test('a deep link asks before saving, with the preview', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await page.evaluate(() =>
    window.__PP_FAKE__.emit('app://quick-add', { text: 'Pay rent tomorrow #Work !1' }),
  );
  const dialog = page.locator(tid('quick-add-confirm'));
  await dialog.waitFor();
  await dialog.locator('[data-testid="preview-chip"][data-kind="list"]').waitFor();
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.tasks.size), 2);
  await page.click(tid('quick-add-confirm-cancel'));
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.tasks.size), 2);

  await page.evaluate(() =>
    window.__PP_FAKE__.emit('app://quick-add', { text: 'Pay rent tomorrow #Work !1' }),
  );
  await page.click(tid('quick-add-confirm-save'));
  await eventually(
    async () => (await page.evaluate(() => window.__PP_FAKE__.vault.tasks.size)) === 3,
  );

  // Without text: quick add takes the focus.
  await page.evaluate(() => window.__PP_FAKE__.emit('app://quick-add', { text: null }));
  await eventually(() =>
    page.evaluate(() => document.activeElement?.dataset.testid === 'quick-add'),
  );
});

test('shell events: changes from pp appear in place, navigate opens a task, errors are shown, lock', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await row(page, 'Alpha').locator(tid('task-title')).click();
  await page.locator(tid('detail')).waitFor();
  await page.evaluate(() => {
    const f = window.__PP_FAKE__;
    const alpha = [...f.vault.tasks.values()].find((t) => t.title === 'Alpha');
    return f.emit('vault://changed', f.vault.externalEdit(alpha.id, { title: 'Alpha (from pp)' }));
  });
  await row(page, 'Alpha (from pp)').waitFor();
  // Selection and the open detail pane survive the patch.
  assert.equal(await row(page, 'Alpha (from pp)').getAttribute('data-selected'), 'true');
  assert.equal(await page.locator(tid('detail-title')).inputValue(), 'Alpha (from pp)');
  await page.evaluate(() =>
    window.__PP_FAKE__.emit('vault://changed', window.__PP_FAKE__.vault.externalAdd('Added by pp')),
  );
  await eventually(async () => (await taskTitles(page)).includes('Added by pp'));

  await page.evaluate(() => {
    const f = window.__PP_FAKE__;
    const bravo = [...f.vault.tasks.values()].find((t) => t.title === 'Bravo');
    return f.emit('app://navigate', { view: { kind: 'list', id: bravo.listId }, taskId: bravo.id });
  });
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Work');
  await eventually(async () => (await page.locator(tid('detail-title')).inputValue()) === 'Bravo');

  await page.evaluate(() =>
    window.__PP_FAKE__.emit('app://error', { code: 'io', message: 'backup dir missing' }),
  );
  await page.locator('[data-testid="toast"][data-code="io"]').waitFor();

  await page.evaluate(() => window.__PP_FAKE__.emit('vault://locked', { reason: 'idle' }));
  await page.locator('[data-testid="app-root"][data-phase="locked"]').waitFor();
  await page.getByText('Locked after a while without activity').waitFor();
  assert.equal(await page.locator(tid('task-row')).count(), 0);
});

test('an error in one place is shown in words with its code', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await page.keyboard.press('Control+z');
  const toast = page.locator('[data-testid="toast"][data-code="undo_empty"]');
  await toast.waitFor();
  assert.match(await toast.innerText(), /Nothing to undo/);
});
