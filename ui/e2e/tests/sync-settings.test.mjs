import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openApp, seriousViolations, startSuite, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

const ACCOUNT = {
  server: 'https://sync.example.com',
  email: 'me@example.com',
  passphrase: 'old sync pass',
  recoveryKey: 'ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-ABCD-EFGH-JKMN-PQRS-TVWX',
};

const account = (page) =>
  page.evaluate((email) => {
    const a = window.__PP_FAKE__.vault.sync.accounts.get(email);
    return { passphrase: a.passphrase, recoveryKey: a.recoveryKey };
  }, ACCOUNT.email);

test('sync: sign in, change the passphrase, a new recovery key typed back, recover with it', async () => {
  const { page, errors } = await openApp(suite, {
    seed: { vault: 'unlocked', tasks: ['One'], syncAccounts: [ACCOUNT] },
  });
  await page.click(tid('nav-settings'));
  await page.locator(tid('sync-form')).waitFor();
  await page.fill(tid('sync-server'), ACCOUNT.server);
  await page.fill(tid('sync-email'), ACCOUNT.email);
  await page.fill(tid('sync-passphrase'), ACCOUNT.passphrase);
  await page.click(tid('sync-submit'));
  await page.locator('[data-testid="sync-status"][data-state="synced"]').waitFor();
  assert.deepEqual(await seriousViolations(page), []);

  // Change the passphrase: a wrong current one is refused by its code.
  await page.fill(tid('sync-pass-current'), 'wrong');
  await page.fill(tid('sync-pass-next'), 'new sync pass');
  await page.fill(tid('sync-pass-repeat'), 'new sync pass');
  await page.click(tid('sync-pass-save'));
  await page.locator('[data-testid="sync-pass-error"][data-code="invalid_credentials"]').waitFor();
  assert.equal((await account(page)).passphrase, ACCOUNT.passphrase);
  await page.fill(tid('sync-pass-current'), ACCOUNT.passphrase);
  await page.fill(tid('sync-pass-next'), 'new sync pass');
  await page.fill(tid('sync-pass-repeat'), 'new sync pass');
  await page.click(tid('sync-pass-save'));
  await page.locator(tid('sync-message')).filter({ hasText: 'Sync passphrase changed' }).waitFor();
  assert.equal((await account(page)).passphrase, 'new sync pass');

  // A new recovery key: the old passphrase no longer proves it.
  await page.fill(tid('sync-recovery-passphrase'), ACCOUNT.passphrase);
  await page.click(tid('sync-recovery-new'));
  await page
    .locator('[data-testid="sync-recovery-error"][data-code="invalid_credentials"]')
    .waitFor();
  await page.fill(tid('sync-recovery-passphrase'), 'new sync pass');
  await page.click(tid('sync-recovery-new'));
  const key = await page.locator(tid('recovery-key')).getAttribute('data-key');
  await page.getByText('Your new sync recovery key').waitFor();
  assert.equal((await account(page)).recoveryKey, key);
  await page.click(tid('recovery-saved'));
  const inputs = page.locator(tid('recovery-answer'));
  for (let i = 0; i < 2; i++) {
    const n = Number(await inputs.nth(i).getAttribute('data-group'));
    await inputs.nth(i).fill(key.split('-')[n - 1]);
  }
  await page.click(tid('recovery-confirm'));
  await page.locator(tid('toast')).filter({ hasText: 'New sync recovery key saved' }).waitFor();

  // Sign out, then "forgot passphrase": the old key is refused, the new one works.
  await page.click(tid('nav-settings'));
  await page.click(tid('sync-sign-out'));
  await page.locator(tid('sync-form')).waitFor();
  await page.click(tid('sync-mode-recover'));
  await page.fill(tid('sync-server'), ACCOUNT.server);
  await page.fill(tid('sync-email'), ACCOUNT.email);
  const recover = async (k) => {
    await page.fill(tid('sync-recover-key'), k);
    await page.fill(tid('sync-passphrase'), 'fresh sync pass');
    await page.fill(tid('sync-repeat'), 'fresh sync pass');
    await page.click(tid('sync-submit'));
  };
  await recover(ACCOUNT.recoveryKey);
  await page.locator('[data-testid="sync-error"][data-code="invalid_credentials"]').waitFor();
  await recover('not a key');
  await page.locator('[data-testid="sync-error"][data-code="recovery_key_mistyped"]').waitFor();
  await recover(key);
  await page.locator('[data-testid="sync-status"][data-state="synced"]').waitFor();
  assert.equal((await account(page)).passphrase, 'fresh sync pass');
  assert.deepEqual(await seriousViolations(page), []);
  assert.deepEqual(errors, []);
});
