import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, openApp, row, startSuite, taskTitles, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

const SEED = {
  vault: 'unlocked',
  lists: [
    { name: 'Work', colour: '#3b82f6' },
    { name: 'Home', colour: '#16a34a' },
  ],
  tasks: ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo #Work'],
};

test('quick add shows what the grammar read, Enter adds, the field is never blocked', async () => {
  const { page, errors } = await openApp(suite, {
    seed: { ...SEED, latency: { quick_add_preview: 300, task_add: 300 } },
  });
  await page.keyboard.press('q');
  const input = page.locator(tid('quick-add'));
  await eventually(() => input.evaluate((el) => el === document.activeElement));
  await input.pressSequentially('Pay rent tomorrow 9am #Home @bills !1', { delay: 5 });
  const chips = page.locator(tid('preview-chip'));
  await eventually(async () => (await chips.count()) === 5);
  const kinds = await chips.evaluateAll((els) =>
    els.map((e) => `${e.dataset.kind}:${e.textContent.trim().replace(/\s+/g, ' ')}`),
  );
  assert.deepEqual(kinds, [
    'title:Title:Pay rent',
    'list:List:#Home',
    'tag:Tag:@bills',
    'priority:Priority:!1',
    'due:Due:Tomorrow 9:00',
  ]);
  await input.press('Enter');
  // Cleared at once, typing goes on while the add is in flight.
  assert.equal(await input.inputValue(), '');
  await input.pressSequentially('Second task', { delay: 1 });
  assert.equal(await input.inputValue(), 'Second task');
  await input.press('Enter');
  await eventually(async () =>
    (
      await page.evaluate(() => [...window.__PP_FAKE__.vault.tasks.values()].map((t) => t.title))
    ).includes('Second task'),
  );
  const added = await page.evaluate(() =>
    [...window.__PP_FAKE__.vault.tasks.values()].find((t) => t.title === 'Pay rent'),
  );
  assert.equal(added.priority, 1);
  assert.deepEqual(added.tags, ['bills']);
  // A grammar error shows in words before Enter.
  await input.fill('Oops #a #b');
  await page
    .locator('[data-testid="quick-add-error"][data-code="quick_add_multiple_lists"]')
    .waitFor();
  assert.deepEqual(errors, []);
});

test('complete shows an Undo toast; Undo and Ctrl+Z bring tasks back', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await row(page, 'Bravo').locator(tid('task-check')).click();
  const toast = page.locator(tid('toast')).filter({ hasText: 'Task completed' });
  await toast.waitFor();
  await eventually(async () => !(await taskTitles(page)).includes('Bravo'));
  await toast.locator(tid('toast-action')).click();
  await eventually(async () => (await taskTitles(page)).includes('Bravo'));
  await page.locator(tid('toast')).filter({ hasText: 'Undone: Complete task' }).waitFor();

  // Keyboard: j selects, x completes, Ctrl+Z undoes, Shift+Ctrl+Z redoes.
  await page.locator('body').click({ position: { x: 700, y: 700 } });
  await page.keyboard.press('j');
  await page.keyboard.press('x');
  await eventually(async () => !(await taskTitles(page)).includes('Alpha'));
  await page.keyboard.press('Control+z');
  await eventually(async () => (await taskTitles(page)).includes('Alpha'));
  await page.keyboard.press('Control+Shift+z');
  await eventually(async () => !(await taskTitles(page)).includes('Alpha'));
  await page.click(tid('nav-completed'));
  await eventually(async () => (await taskTitles(page)).includes('Alpha'));
  // Completed: restore (reopen) with r.
  await row(page, 'Alpha').locator(tid('task-title')).click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('r');
  await eventually(async () => !(await taskTitles(page)).includes('Alpha'));
});

test('delete goes to the trash with Undo; restore from the trash; empty it', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await row(page, 'Charlie').locator(tid('task-title')).click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Delete');
  await page.locator(tid('toast')).filter({ hasText: 'Task deleted' }).waitFor();
  await eventually(async () => !(await taskTitles(page)).includes('Charlie'));
  await page.click(tid('nav-trash'));
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Trash');
  assert.deepEqual(await taskTitles(page), ['Charlie']);
  await row(page, 'Charlie')
    .locator(tid('task-title'))
    .click({ modifiers: ['Control'] });
  await page.click(tid('bulk-restore')).catch(() => {});
  // One selected task: no bulk bar; r restores from the trash.
  await page.keyboard.press('Escape');
  await page.keyboard.press('r');
  await eventually(async () => (await taskTitles(page)).length === 0);
  await page.locator(tid('empty-state')).waitFor();
  await page.click(tid('nav-inbox'));
  await eventually(async () => (await taskTitles(page)).includes('Charlie'));

  // Delete two, then empty the trash for good.
  await row(page, 'Alpha').locator(tid('task-title')).click();
  await row(page, 'Bravo')
    .locator(tid('task-title'))
    .click({ modifiers: ['Shift'] });
  await page.locator(tid('bulk-bar')).waitFor();
  await page.click(tid('bulk-delete'));
  await page.click(tid('nav-trash'));
  await eventually(async () => (await taskTitles(page)).length === 2);
  await page.click(tid('empty-trash'));
  await page.locator(tid('empty-state')).waitFor();
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.tasks.size), 3);
});

test('search highlights matches in titles', async () => {
  const { page } = await openApp(suite, {
    seed: { ...SEED, tasks: ['Buy milk', 'Milkshake recipe', 'Other | milk in notes'] },
  });
  await page.keyboard.press('/');
  await page.keyboard.type('milk');
  await eventually(
    async () => (await page.locator(tid('view-title')).textContent()) === 'Search: milk',
  );
  await eventually(async () => (await taskTitles(page)).length === 3);
  const marks = await page.locator(tid('highlight')).allTextContents();
  assert.deepEqual(marks, ['milk', 'Milk']);
  await page.keyboard.press('Escape');
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Inbox');
});

test('detail pane edits title, notes (sanitised Markdown), due, repeat, priority, tags, list and subtasks', async () => {
  const { page, errors } = await openApp(suite, {
    seed: { ...SEED, tasks: [...SEED.tasks, 'Tagged @errand'] },
  });
  await row(page, 'Alpha').locator(tid('task-title')).click();
  const detail = page.locator(tid('detail'));
  await detail.waitFor();
  const id = await detail.getAttribute('data-id');
  const stored = () => page.evaluate((id) => window.__PP_FAKE__.vault.tasks.get(id), id);

  await page.fill(tid('detail-title'), 'Alpha renamed');
  await page.keyboard.press('Enter');
  await eventually(async () => (await stored()).title === 'Alpha renamed');
  await row(page, 'Alpha renamed').waitFor();

  await page.click(tid('detail-notes-edit'));
  await page.fill(
    tid('detail-notes'),
    '**Bold** <img src=x onerror="window.__pwned=1"> [bad](javascript:window.__pwned=2) [ok](https://example.com)',
  );
  await page.locator(tid('detail-title')).focus();
  const preview = page.locator(tid('detail-notes-preview'));
  await preview.waitFor();
  assert.equal(await preview.locator('strong').textContent(), 'Bold');
  assert.equal(await preview.locator('img').count(), 0);
  assert.deepEqual(
    await preview.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))),
    ['https://example.com'],
  );
  assert.equal(await page.evaluate(() => window.__pwned), undefined);

  await page.fill(tid('detail-due-text'), 'next fri 5pm');
  await detail.getByText('Enter sets Friday 4 Dec 2026, 17:00').waitFor();
  await page.keyboard.press('Enter');
  await eventually(async () => (await stored()).due?.date === '2026-12-04');
  assert.equal((await stored()).due.time, '17:00');
  await page.fill(tid('detail-due-text'), 'whenever');
  await page.keyboard.press('Enter');
  await page
    .locator('[data-testid="detail-field-error"][data-code="quick_add_not_a_date"]')
    .waitFor();

  await page.fill(tid('detail-due-date'), '2026-12-10');
  await eventually(async () => (await stored()).due?.date === '2026-12-10');

  await page.selectOption(tid('detail-repeat-preset'), 'FREQ=WEEKLY');
  await eventually(async () => (await stored()).recurrence?.rule === 'FREQ=WEEKLY');
  await page.fill(tid('detail-repeat-text'), 'every 2 weeks');
  await page.keyboard.press('Enter');
  await eventually(async () => (await stored()).recurrence?.label === 'every 2 weeks');

  await detail.locator('[data-priority="2"]').click();
  await eventually(async () => (await stored()).priority === 2);

  await page.fill(tid('detail-tag-input'), 'err');
  await page.click(tid('detail-tag-suggestion'));
  await eventually(async () => (await stored()).tags.includes('errand'));
  await page.fill(tid('detail-tag-input'), 'new-tag');
  await page.keyboard.press('Enter');
  await eventually(async () => (await stored()).tags.includes('new-tag'));

  await page.fill(tid('detail-subtask-add'), 'A subtask');
  await page.keyboard.press('Enter');
  await page.locator(tid('detail-subtask')).filter({ hasText: 'A subtask' }).waitFor();
  // The subtask is indented under its parent in the list.
  const sub = row(page, 'A subtask');
  await sub.waitFor();
  assert.equal(await sub.evaluate((el) => el.style.paddingLeft), '36px');

  const work = await page.evaluate(
    () => [...window.__PP_FAKE__.vault.lists.values()].find((l) => l.name === 'Work').id,
  );
  await page.selectOption(tid('detail-list'), work);
  await eventually(async () => (await stored()).listId === work);
  await page.click(tid('detail-close'));
  await detail.waitFor({ state: 'detached' });
  assert.deepEqual(errors, []);
});

test('bulk complete, move, tag, priority and delete; drag to a list and reorder', async () => {
  const { page } = await openApp(suite, { seed: SEED });
  await row(page, 'Alpha').locator(tid('task-title')).click();
  await page.keyboard.press('Escape');
  await page.keyboard.press('Shift+ArrowDown');
  await page.keyboard.press('Shift+ArrowDown');
  await page.locator(tid('bulk-bar')).getByText('3 selected').waitFor();
  const vault = () => page.evaluate(() => [...window.__PP_FAKE__.vault.tasks.values()]);
  const byTitle = async (t) => (await vault()).find((x) => x.title === t);

  await page.selectOption(tid('bulk-priority'), '3');
  await eventually(async () => (await byTitle('Charlie')).priority === 3);
  assert.equal((await byTitle('Delta')).priority, 0);

  await page.click(tid('bulk-tag'));
  await page.fill(tid('picker-input'), 'batch');
  await page.keyboard.press('Enter');
  await eventually(async () => (await byTitle('Alpha')).tags.includes('batch'));
  assert.ok((await byTitle('Charlie')).tags.includes('batch'));

  await page.keyboard.press('#');
  await page.locator(tid('picker')).waitFor();
  await page.fill(tid('picker-input'), 'Hom');
  await page.keyboard.press('Enter');
  await eventually(async () => (await taskTitles(page)).join() === 'Delta');
  const home = await page.evaluate(
    () => [...window.__PP_FAKE__.vault.lists.values()].find((l) => l.name === 'Home').id,
  );
  assert.equal((await byTitle('Bravo')).listId, home);

  // Into the Home list: complete two, delete one via the bulk bar.
  await page.locator(`[data-testid="nav-list"][data-list-id="${home}"]`).click();
  await eventually(async () => (await taskTitles(page)).length === 3);
  await page.keyboard.press('Control+a');
  await page.click(tid('bulk-complete'));
  await eventually(async () => (await taskTitles(page)).length === 0);
  assert.ok((await byTitle('Alpha')).done && (await byTitle('Charlie')).done);

  // Drag Delta from the Inbox onto the Work list in the sidebar.
  await page.click(tid('nav-inbox'));
  await eventually(async () => (await taskTitles(page)).join() === 'Delta');
  const work = page.locator(tid('nav-list')).filter({ hasText: 'Work' });
  await row(page, 'Delta').dragTo(work);
  await eventually(async () => (await byTitle('Delta')).listId !== null);
  await work.click();
  await eventually(async () => (await taskTitles(page)).length === 2);
  assert.deepEqual(await taskTitles(page), ['Delta', 'Echo']);
  // Reorder by dragging Echo above Delta.
  await row(page, 'Echo').dragTo(row(page, 'Delta'), { targetPosition: { x: 40, y: 4 } });
  await eventually(async () => (await taskTitles(page)).join() === 'Echo,Delta');
});

test('views: Today (overdue + today), Upcoming grouped by day, list with subtasks, tag', async () => {
  const { page } = await openApp(suite, {
    seed: {
      vault: 'unlocked',
      lists: [{ name: 'Work', colour: '#3b82f6' }],
      tasks: [
        'Late yesterday',
        'Now today 8am',
        'Later today 5pm',
        'Soon tomorrow',
        'Far in 5 days',
        'Parent #Work @t',
        'Child | | parent=Parent',
      ],
    },
  });
  await page.click(tid('nav-today'));
  await eventually(async () => (await taskTitles(page)).length === 3);
  assert.deepEqual(await taskTitles(page), ['Late', 'Now', 'Later']);
  assert.deepEqual(
    await page.locator(tid('day-header')).evaluateAll((els) => els.map((e) => e.dataset.date)),
    ['overdue', '2026-11-30'],
  );
  assert.equal(
    await page.locator(tid('view-summary')).textContent(),
    '1 overdue · 2 today · 3 tasks',
  );
  assert.equal(await row(page, 'Late').locator(tid('task-due')).textContent(), 'Yesterday');
  // 8:00 has passed at 9:00: overdue in red; 17:00 is still ahead.
  assert.match(await row(page, 'Now').locator(tid('task-due')).getAttribute('class'), /overdue/);
  assert.doesNotMatch(
    await row(page, 'Later').locator(tid('task-due')).getAttribute('class'),
    /overdue/,
  );

  await page.keyboard.press('g');
  await page.keyboard.press('u');
  await eventually(
    async () => (await page.locator(tid('view-title')).textContent()) === 'Upcoming',
  );
  await eventually(async () => (await taskTitles(page)).length === 4);
  assert.deepEqual(
    await page
      .locator(tid('day-header'))
      .allInnerTexts()
      .then((t) => t.map((x) => x.split('\n')[0])),
    ['Today · Monday 30 Nov', 'Tomorrow · Tuesday 1 Dec', 'Saturday 5 Dec'],
  );
  assert.equal(await row(page, 'Soon').locator(tid('task-due')).textContent(), 'Tomorrow');
  assert.equal(await row(page, 'Far').locator(tid('task-due')).textContent(), 'Sat');

  await page.keyboard.press('Control+1');
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Work');
  await eventually(async () => (await taskTitles(page)).length === 2);
  assert.equal(await row(page, 'Child').evaluate((el) => el.style.paddingLeft), '36px');
  await row(page, 'Parent').locator(tid('task-fold')).click();
  await eventually(async () => (await taskTitles(page)).join() === 'Parent');

  await page.locator('[data-testid="nav-tag"][data-tag="t"]').click();
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === '@t');
  assert.deepEqual(await taskTitles(page), ['Parent']);
});

test('lists: add from the sidebar, rename, archive, delete with its tasks', async () => {
  const { page } = await openApp(suite, { seed: { vault: 'unlocked', tasks: ['Loose'] } });
  const lists = () => page.evaluate(() => [...window.__PP_FAKE__.vault.lists.values()]);
  await page.click(tid('new-list'));
  await page.fill(tid('new-list-name'), 'Garden');
  await page.keyboard.press('Enter');
  const nav = page.locator(tid('nav-list')).filter({ hasText: 'Garden' });
  await nav.click();
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Garden');
  await page.fill(tid('quick-add'), 'Plant tulips');
  await page.keyboard.press('Enter');
  await eventually(async () => (await taskTitles(page)).join() === 'Plant tulips');

  await page.click(tid('list-rename'));
  await page.fill(tid('list-name'), 'Yard');
  await page.keyboard.press('Enter');
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Yard');
  assert.deepEqual(
    (await lists()).map((l) => l.name),
    ['Yard'],
  );

  await page.click(tid('list-archive'));
  await eventually(async () => (await lists())[0].archived === true);
  assert.equal(await page.locator(tid('nav-list')).count(), 0);
  await page.click(tid('list-archive'));
  await page.locator(tid('nav-list')).filter({ hasText: 'Yard' }).waitFor();

  await page.click(tid('list-delete'));
  await page.click(tid('list-delete'));
  await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Inbox');
  assert.deepEqual(await lists(), []);
  const trashed = await page.evaluate(() =>
    [...window.__PP_FAKE__.vault.tasks.values()].filter((t) => t.trashedAt).map((t) => t.title),
  );
  assert.deepEqual(trashed, ['Plant tulips']);
});
