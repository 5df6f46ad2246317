// In-app updates over the fake updater (src/lib/ipc/fake/updates.ts): the
// sidebar notice, download progress, restart, Later, failures and retry, a
// rollback, Settings → Updates and the palette's check; axe in both themes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, openApp, seriousViolations, startSuite, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

const NOTES = [
  "## What's new in 0.2.0",
  '',
  '- **Faster** start',
  '- Read [the full notes](https://example.com/notes)',
  '- [click me](javascript:alert(1))',
  '',
  '<img src=x onerror="window.__pwned = true">',
].join('\n');

function offer(version, more = {}) {
  return {
    version,
    notes: NOTES,
    pubDate: '2026-11-29T12:00:00Z',
    rollback: false,
    downloadSize: 2_100_000,
    fullSize: 12_400_000,
    delta: true,
    ...more,
  };
}

function seed(updates, more = {}) {
  return { vault: 'unlocked', tasks: ['Book dentist'], updates, ...more };
}

/** The shell's automatic check (its timer), run inside the page. */
const backgroundCheck = (page) =>
  page.evaluate(() => window.__PP_FAKE__.vault.automaticUpdateCheck());
const step = (page) => page.evaluate(() => window.__PP_FAKE__.vault.updates.step());
const notice = (page) => page.locator(tid('update-notice'));
const activeTestId = (page) => page.evaluate(() => document.activeElement?.dataset.testid ?? null);

async function noSerious(page, where) {
  const v = await seriousViolations(page);
  assert.deepEqual(v, [], `${where}: ${JSON.stringify(v, null, 1)}`);
}

test('the notice appears while typing without taking focus; download progress; restart installs', async () => {
  const { page, errors } = await openApp(suite, {
    seed: seed({ offers: { stable: offer('0.2.0') }, manual: true, needsPrivilege: true }),
  });
  await page.click(tid('quick-add'));
  await page.keyboard.type('Buy br');
  await backgroundCheck(page);
  await notice(page).waitFor();
  // Typing goes on in the same field: the notice took nothing.
  assert.equal(await activeTestId(page), 'quick-add');
  await page.keyboard.type('ead');
  assert.equal(await page.locator(tid('quick-add')).inputValue(), 'Buy bread');
  assert.equal(await activeTestId(page), 'quick-add');

  assert.equal(await notice(page).getAttribute('data-kind'), 'available');
  assert.equal(
    await page.locator(tid('update-notice-title')).textContent(),
    'Update available: 0.2.0',
  );
  assert.equal(await page.locator(tid('update-notice-title')).getAttribute('role'), 'status');
  assert.match(await page.locator(tid('update-size')).textContent(), /2\.1 MB \(update patch\)/);
  // What's new: Markdown, safely — no link, no image, nothing ran.
  await page.click(tid('update-notes-toggle'));
  const notes = page.locator(tid('update-notes'));
  assert.equal(await notes.locator('strong').textContent(), 'Faster');
  assert.equal(await notes.locator('a, img, script').count(), 0);
  assert.match(await notes.textContent(), /the full notes \(https:\/\/example\.com\/notes\)/);
  assert.equal(await page.evaluate(() => window.__pwned ?? false), false);

  await page.click(tid('update-download'));
  const bar = page.locator(tid('update-progress'));
  await bar.waitFor();
  // The pressed button gave way to the bar: focus stays in the notice.
  await eventually(async () => (await activeTestId(page)) === 'update-notice');
  assert.equal(await bar.getAttribute('role'), 'progressbar');
  assert.equal(await bar.getAttribute('aria-valuenow'), '0');
  await step(page);
  await eventually(async () => (await bar.getAttribute('aria-valuenow')) === '20');
  assert.equal(await bar.getAttribute('aria-valuemax'), '100');
  assert.equal(await bar.getAttribute('aria-valuetext'), '420 kB of 2.1 MB · 2.1 MB/s');
  assert.equal(
    await page.locator(tid('update-progress-text')).textContent(),
    '420 kB of 2.1 MB · 2.1 MB/s',
  );
  for (let i = 0; i < 4; i++) await step(page);
  await page.locator(tid('update-restart')).waitFor();
  // The password prompt is explained before Restart is pressed.
  assert.match(
    await page.locator(tid('update-privilege')).textContent(),
    /administrator password.*after you press Restart to update/,
  );
  await page.click(tid('update-restart'));
  await eventually(async () => (await notice(page).getAttribute('data-kind')) === 'installing');
  assert.deepEqual(await page.evaluate(() => window.__PP_FAKE__.vault.updates.installed), [
    '0.2.0',
  ]);
  assert.deepEqual(errors, []);
});

test('progress arrives as events over time; Later hides the notice until a newer offer', async () => {
  const { page } = await openApp(suite, {
    seed: seed({ offers: { stable: offer('0.2.0') }, tickMs: 60, ticks: 5 }),
  });
  await backgroundCheck(page);
  await page.click(tid('update-download'));
  // No step by hand: the fake's timer sends the progress, like the shell.
  const seen = new Set();
  await eventually(async () => {
    const v = await page
      .locator(tid('update-progress'))
      .getAttribute('aria-valuenow', { timeout: 100 })
      .catch(() => null);
    if (v !== null) seen.add(v);
    return (await notice(page).getAttribute('data-kind')) === 'ready';
  });
  assert.ok(seen.size >= 2, `progress values seen: ${[...seen]}`);
  await page.click(tid('update-later'));
  await notice(page).waitFor({ state: 'detached' });
  assert.ok(
    await page.evaluate(() => window.__PP_FAKE__.vault.calls.some((c) => c.cmd === 'update_later')),
  );
  // The next automatic check finds the same version: still hidden.
  await backgroundCheck(page);
  await page.waitForTimeout(100);
  assert.equal(await notice(page).count(), 0);
  // A newer one shows again.
  await page.evaluate((o) => {
    const u = window.__PP_FAKE__.vault.updates;
    u.script({ offers: { stable: o } });
    return u.check();
  }, offer('0.2.1'));
  await notice(page).waitFor();
  assert.equal(await notice(page).getAttribute('data-version'), '0.2.1');
});

test('a refused download says why and when the next try is; Try again retries', async () => {
  const { page } = await openApp(suite, {
    seed: seed({
      offers: { stable: offer('0.2.0') },
      manual: true,
      ticks: 1,
      failDownload: 'update_signature_invalid',
    }),
  });
  await backgroundCheck(page);
  await page.click(tid('update-download'));
  await step(page);
  const error = page.locator(tid('update-error'));
  await error.waitFor();
  assert.equal(await error.getAttribute('data-code'), 'update_signature_invalid');
  assert.match(await error.textContent(), /The download was refused/);
  // 09:00 UTC + the first backoff (5 minutes), in the 24-hour default.
  assert.equal(await page.locator(tid('update-retry-at')).textContent(), 'Will retry at 9:05.');
  await page.click(tid('update-retry'));
  await eventually(async () => (await notice(page).getAttribute('data-kind')) === 'downloading');
  await step(page);
  await page.locator(tid('update-restart')).waitFor();
});

test('a failed check the person asked for shows the reason; a background one stays quiet', async () => {
  const { page } = await openApp(suite, { seed: seed({ failCheck: 'update_offline' }) });
  await backgroundCheck(page);
  await page.waitForTimeout(100);
  assert.equal(await notice(page).count(), 0);
  await page.evaluate(() =>
    window.__PP_FAKE__.vault.updates.script({ failCheck: 'update_offline' }),
  );
  await page.keyboard.press('Control+k');
  await page.fill(tid('palette-input'), 'check for updates');
  await page.keyboard.press('Enter');
  await page.locator('[data-testid="toast"][data-code="update_offline"]').waitFor();
  await eventually(async () => (await notice(page).getAttribute('data-kind')) === 'failed');
  assert.match(await page.locator(tid('update-error')).textContent(), /can't be reached/);
  // Reachable again: Try again checks, and the palette says so.
  await page.click(tid('update-retry'));
  await notice(page).waitFor({ state: 'detached' });
  await page.keyboard.press('Control+k');
  await page.fill(tid('palette-input'), 'check for updates');
  await page.keyboard.press('Enter');
  await page
    .locator(tid('toast'))
    .filter({ hasText: "You're up to date (version 0.1.0)." })
    .waitFor();
});

test('a rollback is worded as one', async () => {
  const { page } = await openApp(suite, {
    seed: seed({
      current: '0.3.0',
      offers: {
        stable: offer('0.2.0', { rollback: true, delta: false, downloadSize: 12_400_000 }),
      },
    }),
  });
  await backgroundCheck(page);
  await notice(page).waitFor();
  assert.equal(await notice(page).getAttribute('data-kind'), 'rollback');
  assert.equal(
    (await page.locator(tid('update-rollback')).textContent()).replace(/\s+/g, ' ').trim(),
    'A problem was found in 0.3.0; going back to 0.2.0.',
  );
  assert.match(await page.locator(tid('update-size')).textContent(), /12\.4 MB$/);
});

test('with the sidebar hidden, a dot on its toggle says an update is waiting', async () => {
  const { page } = await openApp(suite, { seed: seed({ offers: { stable: offer('0.2.0') } }) });
  await page.click(tid('sidebar-toggle'));
  await page.locator(tid('sidebar')).waitFor({ state: 'detached' });
  assert.equal(await page.locator(tid('update-badge')).count(), 0);
  await backgroundCheck(page);
  await page.locator(tid('update-badge')).waitFor();
  assert.equal(
    await page.locator(tid('sidebar-toggle')).getAttribute('aria-label'),
    'Show sidebar (software update)',
  );
  await page.click(tid('sidebar-toggle'));
  await notice(page).waitFor();
  assert.equal(await page.locator(tid('update-badge')).count(), 0);
});

test('Settings → Updates: canary behind Advanced, the channel saved, a check answered in place', async () => {
  const { page } = await openApp(suite, {
    seed: seed({ offers: { beta: offer('0.2.0-beta.1') } }),
  });
  await page.click(tid('nav-settings'));
  await page.locator(tid('settings-updates')).waitFor();
  assert.match(await page.locator(tid('setting-update-current')).textContent(), /0\.1\.0/);
  const radio = (v) => page.locator(`[data-testid="setting-update-channel"][value="${v}"]`);
  assert.ok(await radio('stable').isChecked());
  assert.equal(await radio('canary').count(), 0);
  assert.equal(await page.locator(tid('setting-update-canary-warning')).count(), 0);

  await page.click(tid('setting-update-check'));
  const result = page.locator(tid('setting-update-result'));
  await eventually(async () => (await result.getAttribute('data-phase')) === 'upToDate');
  assert.equal((await result.textContent()).trim(), "You're up to date — checked just now.");

  await radio('beta').check();
  await eventually(() =>
    page.evaluate(() => window.__PP_FAKE__.vault.settings.updateChannel === 'beta'),
  );
  const set = await page.evaluate(() =>
    window.__PP_FAKE__.vault.calls.filter((c) => c.cmd === 'settings_set').at(-1),
  );
  assert.equal(set.args.settings.updateChannel, 'beta');
  await page.click(tid('setting-update-check'));
  await eventually(async () => (await result.getAttribute('data-phase')) === 'available');
  assert.match(
    await result.textContent(),
    /Version 0\.2\.0-beta\.1 is available \(2\.1 MB \(update patch\)\)/,
  );

  await page.click(tid('setting-update-advanced'));
  await radio('canary').check();
  await page.locator(tid('setting-update-canary-warning')).waitFor();
  await eventually(() =>
    page.evaluate(() => window.__PP_FAKE__.vault.settings.updateChannel === 'canary'),
  );
  await page.click(tid('setting-update-auto'));
  await eventually(() =>
    page.evaluate(() => window.__PP_FAKE__.vault.settings.updateCheckAutomatically === false),
  );
  // Off: the shell's timer no longer checks.
  const checks = await page.evaluate(() => window.__PP_FAKE__.vault.updates.checks);
  await backgroundCheck(page);
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.updates.checks), checks);
});

test('Settings → Updates opens Advanced when canary is the saved channel', async () => {
  const { page } = await openApp(suite, {
    seed: seed({}, { settings: { updateChannel: 'canary' } }),
  });
  await page.click(tid('nav-settings'));
  await page.locator(tid('settings-updates')).waitFor();
  assert.equal(
    await page.locator(tid('setting-update-advanced')).getAttribute('aria-expanded'),
    'true',
  );
  assert.ok(
    await page.locator('[data-testid="setting-update-channel"][value="canary"]').isChecked(),
  );
  await page.locator(tid('setting-update-canary-warning')).waitFor();
});

for (const colorScheme of ['light', 'dark']) {
  test(`axe: the update notice and Settings → Updates (${colorScheme})`, async () => {
    const { page, errors } = await openApp(suite, {
      colorScheme,
      seed: seed(
        {
          offers: { canary: offer('0.2.0') },
          manual: true,
          ticks: 2,
          needsPrivilege: true,
          failDownload: 'update_signature_invalid',
        },
        { settings: { updateChannel: 'canary' } },
      ),
    });
    await backgroundCheck(page);
    await notice(page).waitFor();
    await page.click(tid('update-notes-toggle'));
    await noSerious(page, 'notice: available');
    await page.click(tid('update-download'));
    await step(page);
    await page.locator(tid('update-progress')).waitFor();
    await noSerious(page, 'notice: downloading');
    await step(page);
    await page.locator(tid('update-error')).waitFor();
    await noSerious(page, 'notice: failed');
    await page.click(tid('update-retry'));
    await step(page);
    await step(page);
    await page.locator(tid('update-privilege')).waitFor();
    await noSerious(page, 'notice: ready');
    await page.click(tid('nav-settings'));
    await page.locator(tid('setting-update-canary-warning')).waitFor();
    await noSerious(page, 'settings: updates');
    assert.deepEqual(errors, []);
  });
}
