import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  eventually,
  openApp,
  row,
  seriousViolations,
  startSuite,
  taskTitles,
  tid,
} from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

const SEED = {
  vault: 'unlocked',
  lists: [
    { name: 'Work', colour: '#3b82f6' },
    { name: 'Home', colour: '#16a34a' },
  ],
  tasks: [
    'Pay rent yesterday #Home @bills !1',
    'Review pull request today 11am #Work @code !2',
    'Standup every weekday at 9:30 #Work',
    'Write report friday #Work !3 | **Outline** with [a link](https://example.com)',
    'Draft slides | | parent=Write report',
    'Buy milk tomorrow @shopping',
    'Book dentist',
    'Send invoice | | done',
    'Old idea | | trash',
  ],
};

async function check(page, where) {
  const v = await seriousViolations(page);
  assert.deepEqual(v, [], `${where}: ${JSON.stringify(v, null, 1)}`);
}

for (const colorScheme of ['light', 'dark']) {
  test(`axe: every view has no serious or critical violations (${colorScheme})`, async () => {
    const { page, errors } = await openApp(suite, { seed: SEED, colorScheme });
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), colorScheme);
    await check(page, 'inbox');
    for (const [nav, title] of [
      ['nav-today', 'Today'],
      ['nav-upcoming', 'Upcoming'],
      ['nav-completed', 'Completed'],
      ['nav-trash', 'Trash'],
    ]) {
      await page.click(tid(nav));
      await eventually(async () => (await page.locator(tid('view-title')).textContent()) === title);
      await eventually(async () => (await page.locator(tid('task-row')).count()) > 0);
      await check(page, title);
    }
    await page.locator(tid('nav-list')).first().click();
    await eventually(async () => (await page.locator(tid('view-title')).textContent()) === 'Work');
    await check(page, 'list');
    await page.locator(tid('nav-tag')).first().click();
    await eventually(
      async () => (await page.locator(tid('view-title')).textContent()) === '@bills',
    );
    await check(page, 'tag');
    await page.fill(tid('search'), 're');
    await eventually(async () => (await page.locator(tid('highlight')).count()) > 0);
    await check(page, 'search');
    // Quick add preview, detail pane, selection and bulk bar.
    await page.click(tid('nav-inbox'));
    await page.fill(tid('quick-add'), 'Call Bob tomorrow 5pm #Work @phone !2 every week');
    await page.locator(tid('quick-add-preview')).waitFor();
    await row(page, 'Book dentist').locator(tid('task-title')).click();
    await page.locator(tid('detail')).waitFor();
    await check(page, 'detail');
    await row(page, 'Buy milk')
      .locator(tid('task-title'))
      .click({ modifiers: ['Shift'] });
    await page.locator(tid('bulk-bar')).waitFor();
    await check(page, 'bulk');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+k');
    await page.locator(tid('palette')).waitFor();
    await check(page, 'palette');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+?');
    await page.locator(tid('shortcut-sheet')).waitFor();
    await check(page, 'shortcut sheet');
    await page.keyboard.press('Escape');
    await page.click(tid('nav-settings'));
    await page.locator(tid('backup-now')).waitFor();
    await check(page, 'settings');
    // Toasts sit in the live region.
    await page.click(tid('backup-now'));
    await page.locator(tid('backup-row')).waitFor();
    assert.equal(await page.locator(tid('toasts')).getAttribute('aria-live'), 'polite');
    assert.deepEqual(errors, []);
  });
}

test('10 000 tasks in one view: a small window of rows is rendered and the last task is reachable', async () => {
  const { page } = await openApp(suite, { seed: { vault: 'unlocked', bulk: 10_000 } });
  const list = page.locator(tid('task-list'));
  await eventually(async () => (await list.getAttribute('data-total')) === '10000');
  const rendered = Number(await list.getAttribute('data-rendered'));
  assert.ok(rendered > 10 && rendered < 80, `rendered ${rendered}`);
  assert.ok((await page.locator(tid('task-row')).count()) < 80);
  assert.equal(await page.locator(tid('view-summary')).textContent(), '10000 tasks');
  // Scroll through in steps, as a wheel would, then to the end.
  for (let i = 1; i <= 20; i++) {
    await list.evaluate((el, y) => el.scrollTo(0, y), i * 4000);
    await page.waitForTimeout(10);
  }
  await list.evaluate((el) => el.scrollTo(0, el.scrollHeight));
  await row(page, 'Generated task 10000').waitFor();
  assert.ok((await page.locator(tid('task-row')).count()) < 80);
  // Rows with notes are taller: measured, not guessed, so nothing overlaps.
  const overlaps = await page.locator(tid('task-row')).evaluateAll((rows) => {
    let bad = 0;
    for (let i = 1; i < rows.length; i++) {
      if (rows[i].getBoundingClientRect().top < rows[i - 1].getBoundingClientRect().bottom - 1)
        bad++;
    }
    return bad;
  });
  assert.equal(overlaps, 0);
  // The page fetched records for the rows it showed, never the whole view.
  const fetched = await page.evaluate(() => window.__PP_FAKE__.fetched);
  const total = fetched.reduce((a, b) => a + b, 0);
  assert.ok(Math.max(...fetched) <= 300, `largest tasks_get ${Math.max(...fetched)}`);
  assert.ok(total < 5000, `${total} records fetched while scrolling 10 000 rows`);
  assert.equal(await page.locator(tid('task-row-loading')).count(), 0, 'no row left loading');
  // Keyboard: the cursor keeps its row in view.
  await list.evaluate((el) => el.scrollTo(0, 0));
  await row(page, 'Generated task 00001').locator(tid('task-title')).click();
  await page.keyboard.press('Escape');
  for (let i = 0; i < 40; i++) await page.keyboard.press('j');
  await row(page, 'Generated task 00041').waitFor();
  assert.ok(await row(page, 'Generated task 00041').isVisible());
  // Switching views and back does not rebuild the world.
  await page.click(tid('nav-today'));
  await page.locator(tid('empty-state')).waitFor();
  await page.click(tid('nav-inbox'));
  await eventually(async () => (await taskTitles(page)).includes('Generated task 00001'));
});

test('Upcoming keeps the day of the rows at the top in a sticky header', async () => {
  const tasks = [];
  for (let i = 0; i < 30; i++) tasks.push(`Task A${i} tomorrow`);
  for (let i = 0; i < 30; i++) tasks.push(`Task B${i} in 3 days`);
  const { page } = await openApp(suite, { seed: { vault: 'unlocked', tasks } });
  await page.click(tid('nav-upcoming'));
  await eventually(async () => (await page.locator(tid('task-row')).count()) > 10);
  assert.equal(await page.locator(tid('sticky-header')).count(), 0);
  const list = page.locator(tid('task-list'));
  await list.evaluate((el) => el.scrollTo(0, 900));
  await eventually(async () =>
    /Tomorrow · Tuesday 1 Dec/.test((await page.locator(tid('sticky-header')).textContent()) ?? ''),
  );
  await list.evaluate((el) => el.scrollTo(0, 1900));
  await eventually(async () =>
    /Thursday 3 Dec/.test((await page.locator(tid('sticky-header')).textContent()) ?? ''),
  );
});
