import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, openApp, seriousViolations, startSuite, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

async function readKey(page) {
  return page.locator(tid('recovery-key')).getAttribute('data-key');
}

async function answer(page, key, { wrong = false } = {}) {
  const groups = key.split('-');
  const inputs = page.locator(tid('recovery-answer'));
  for (let i = 0; i < 2; i++) {
    const n = Number(await inputs.nth(i).getAttribute('data-group'));
    await inputs.nth(i).fill(wrong && i === 0 ? 'ZZZZ' : groups[n - 1].toLowerCase());
  }
  await page.click(tid('recovery-confirm'));
}

test('first run: create with a passphrase, save the key, confirm two groups, land in the Inbox', async () => {
  const { page, errors } = await openApp(suite, {
    seed: { vault: 'missing' },
    expectPhase: 'first-run',
  });
  assert.deepEqual(await seriousViolations(page), []);
  await page.getByLabel(/Also protect the vault/).check();
  await page.fill(tid('first-run-passphrase'), 'correct horse');
  await page.fill(tid('first-run-passphrase-repeat'), 'correct horsE');
  await page.getByText('The two passphrases are different.').waitFor();
  await page.fill(tid('first-run-passphrase-repeat'), 'correct horse');
  await page.click(tid('first-run-create'));

  const key = await readKey(page);
  assert.match(key, /^([0-9A-Z]{4}-){12}[0-9A-Z]{4}$/);
  assert.equal(await page.locator(tid('keyring-warning')).count(), 0);
  assert.deepEqual(await seriousViolations(page), []);

  // Save as file: the path comes from the native dialog, the shell writes it.
  await page.evaluate(() => (window.__PP_FAKE__.nextPath = '/media/usb/recovery.txt'));
  await page.click(tid('recovery-save'));
  await page.getByText('Saved to /media/usb/recovery.txt').waitFor();
  const saved = await page.evaluate(() =>
    window.__PP_FAKE__.vault.files.get('/media/usb/recovery.txt'),
  );
  assert.equal(saved.trim(), key);
  const dialog = await page.evaluate(() => window.__PP_FAKE__.dialogs[0]);
  assert.equal(dialog.kind, 'save');

  await page.click(tid('recovery-saved'));
  await answer(page, key, { wrong: true });
  await page.locator(tid('recovery-error')).waitFor();
  assert.equal(await page.locator(tid('app-root')).getAttribute('data-phase'), 'first-run');
  await answer(page, key);
  await page.locator('[data-testid="app-root"][data-phase="unlocked"]').waitFor();
  assert.equal(await page.locator(tid('view-title')).textContent(), 'Inbox');
  // Quick add has the focus: the first task can be typed right away.
  await eventually(() =>
    page.evaluate(() => document.activeElement?.dataset.testid === 'quick-add'),
  );
  const slots = await page.evaluate(() => window.__PP_FAKE__.vault.slots.map((s) => s.kind));
  assert.deepEqual(slots, ['keyring', 'passphrase', 'recovery']);
  assert.deepEqual(errors, []);
});

test('first run without a keyring warns that unlocking will need the passphrase or key', async () => {
  const { page } = await openApp(suite, {
    seed: { vault: 'missing', keyring: 'unavailable' },
    expectPhase: 'first-run',
    colorScheme: 'dark',
  });
  await page.click(tid('first-run-create'));
  await page.locator(tid('keyring-warning')).waitFor();
  assert.deepEqual(await seriousViolations(page), []);
  const key = await readKey(page);
  await page.click(tid('recovery-saved'));
  assert.deepEqual(await seriousViolations(page), []);
  await answer(page, key);
  await page.locator('[data-testid="app-root"][data-phase="unlocked"]').waitFor();
});
