// Opt-in health reports over the fake (src/lib/ipc/fake/health.ts): the one
// question appears only when due and never takes focus, either answer puts
// it away, Settings → Health reports keeps the answer and shows what is sent;
// the page's uncaught errors reach the shell as a bare crash; axe in both themes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, openApp, seriousViolations, startSuite, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

function seed(health, more = {}) {
  return { vault: 'unlocked', tasks: ['Book dentist'], health, ...more };
}

const question = (page) => page.locator(tid('health-question'));
const healthOf = (page) =>
  page.evaluate(() => {
    const h = window.__PP_FAKE__.vault.health;
    return { enabled: h.enabled, queued: h.queued.map((e) => e.kind) };
  });
const activeTestId = (page) => page.evaluate(() => document.activeElement?.dataset.testid ?? null);

async function noSerious(page, where) {
  const v = await seriousViolations(page);
  assert.deepEqual(v, [], `${where}: ${JSON.stringify(v, null, 1)}`);
}

test('a new install is not asked; after a week the question shows without taking focus', async () => {
  const fresh = await openApp(suite, { seed: seed({ firstRunDaysAgo: 6 }) });
  await fresh.page.locator(tid('quick-add')).waitFor();
  assert.equal(await question(fresh.page).count(), 0, 'six days: not asked');
  await fresh.context.close();

  const { page, context, errors } = await openApp(suite, { seed: seed({ firstRunDaysAgo: 7 }) });
  await question(page).waitFor();
  assert.notEqual(await activeTestId(page), 'health-question-yes', 'no focus taken');
  assert.equal(await question(page).locator('[autofocus]').count(), 0);
  assert.equal(await question(page).locator('[role="status"]').count(), 1);
  await page.click(tid('quick-add'));
  await page.keyboard.type('Buy bread');
  assert.equal(await activeTestId(page), 'quick-add');
  assert.equal(await page.locator(tid('quick-add')).inputValue(), 'Buy bread');
  await page.click(tid('health-question-no'));
  await question(page).waitFor({ state: 'detached' });
  assert.deepEqual(await healthOf(page), { enabled: false, queued: [] });
  assert.deepEqual(errors, []);
  await context.close();
});

test('yes from the question; Settings shows it on, lists the fields and the queue, and turns it off', async () => {
  const { page, context, errors } = await openApp(suite, {
    seed: seed({
      firstRunDaysAgo: 10,
      queued: [
        { kind: 'session_start', at: '2026-11-29T09:00:00Z', version: '0.1.0', channel: 'stable' },
      ],
    }),
  });
  await page.click(tid('health-question-yes'));
  await question(page).waitFor({ state: 'detached' });
  assert.equal((await healthOf(page)).enabled, true);

  await page.click(tid('nav-settings'));
  const toggle = page.locator(tid('setting-health-enabled'));
  assert.equal(await toggle.isChecked(), true);
  await page.click(tid('health-what-toggle'));
  await page.locator(tid('health-what')).waitFor();
  const names = await page
    .locator(tid('health-field'))
    .evaluateAll((rows) => rows.map((r) => r.dataset.name));
  assert.deepEqual(names, [
    'install_id',
    'version',
    'channel',
    'os',
    'arch',
    'token',
    'events[].kind',
    'events[].at',
  ]);
  assert.deepEqual(
    await page.locator(tid('health-queued')).evaluateAll((l) => l.map((e) => e.dataset.kind)),
    ['session_start'],
  );
  await page.locator('summary', { hasText: 'The reports as sent' }).click();
  const body = JSON.parse(await page.locator(tid('health-report')).first().textContent());
  assert.deepEqual(body.events, [{ kind: 'session_start', at: '2026-11-29T09:00:00Z' }]);

  // Off: kept off, and what was waiting is gone.
  await toggle.uncheck();
  await eventually(async () => (await healthOf(page)).enabled === false);
  await page.locator(tid('health-queue-empty')).waitFor();
  await page.click(tid('settings-close'));
  await page.click(tid('nav-settings'));
  assert.equal(await page.locator(tid('setting-health-enabled')).isChecked(), false);
  assert.equal(await question(page).count(), 0, 'asked once');
  assert.deepEqual(errors, []);
  await context.close();
});

test("the page's uncaught errors become one bare crash, only while reports are on", async () => {
  const { page, context } = await openApp(suite, { seed: seed({ enabled: true }) });
  // An uncaught error as the window reports it, then a rejection that is
  // not a refused command: one crash for the window, nothing about either.
  await page.evaluate(() =>
    window.dispatchEvent(
      new ErrorEvent('error', { message: 'task "call Alice" failed', error: new Error('x') }),
    ),
  );
  await eventually(async () => (await healthOf(page)).queued.length === 1);
  const calls = await page.evaluate(() =>
    window.__PP_FAKE__.vault.calls.filter((c) => c.cmd === 'health_ui_error'),
  );
  await page.addScriptTag({ content: "Promise.reject(new TypeError('again'));" });
  await page.locator(tid('toast')).first().waitFor();
  assert.equal(
    await page.evaluate(
      () => window.__PP_FAKE__.vault.calls.filter((c) => c.cmd === 'health_ui_error').length,
    ),
    1,
    'once a window',
  );
  assert.deepEqual(calls[0].args, {}, 'nothing about the error crossed');
  assert.deepEqual((await healthOf(page)).queued, ['crash']);
  await context.close();

  const off = await openApp(suite, { seed: seed({ enabled: false }) });
  await off.page.addScriptTag({ content: "Promise.reject(new TypeError('boom'));" });
  await off.page.locator(tid('toast')).first().waitFor();
  const sent = await off.page.evaluate(
    () => window.__PP_FAKE__.vault.calls.filter((c) => c.cmd === 'health_ui_error').length,
  );
  assert.equal(sent, 0, 'off: not even asked');
  await off.context.close();
});

for (const colorScheme of ['light', 'dark']) {
  test(`axe: the health question and Settings → Health reports (${colorScheme})`, async () => {
    const { page, context, errors } = await openApp(suite, {
      colorScheme,
      seed: seed({
        firstRunDaysAgo: 8,
        queued: [{ kind: 'crash', at: '2026-11-29T09:00:00Z', version: '0.1.0', channel: 'beta' }],
      }),
    });
    await question(page).waitFor();
    await noSerious(page, 'question');
    await page.click(tid('nav-settings'));
    await page.click(tid('health-what-toggle'));
    await page.locator(tid('health-field')).first().waitFor();
    await page.locator('summary', { hasText: 'The reports as sent' }).click();
    await noSerious(page, 'settings: health');
    assert.deepEqual(errors, []);
    await context.close();
  });
}
