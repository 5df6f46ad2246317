import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openApp, seriousViolations, startSuite, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

const RECOVERY = 'ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-ABCD-EFGH-JKMN-PQRS-TVWX';

test('keyring unavailable: explained in words; wrong passphrase; then the right one', async () => {
  for (const colorScheme of ['light', 'dark']) {
    const { page } = await openApp(suite, {
      seed: { vault: 'locked', keyring: 'unavailable', passphrase: 'pw', tasks: ['Kept task'] },
      expectPhase: 'locked',
      colorScheme,
    });
    const err = page.locator(tid('unlock-error'));
    await err.waitFor();
    assert.equal(await err.getAttribute('data-code'), 'keyring_unavailable');
    assert.match(await err.textContent(), /keyring isn't available/);
    assert.deepEqual(await seriousViolations(page), []);

    await page.fill(tid('unlock-passphrase'), 'wrong');
    await page.click(tid('unlock-passphrase-submit'));
    await page.locator('[data-testid="unlock-error"][data-code="wrong_passphrase"]').waitFor();
    assert.match(await err.textContent(), /doesn't open this vault/);

    await page.fill(tid('unlock-passphrase'), 'pw');
    await page.click(tid('unlock-passphrase-submit'));
    await page.locator('[data-testid="app-root"][data-phase="unlocked"]').waitFor();
    await page.getByText('Kept task').waitFor();
  }
});

test('keyring entry missing, mistyped and wrong recovery keys, then the right key', async () => {
  const { page } = await openApp(suite, {
    seed: { vault: 'locked', keyring: 'missing', recoveryKey: RECOVERY },
    expectPhase: 'locked',
  });
  await page.locator('[data-testid="unlock-error"][data-code="keyring_entry_missing"]').waitFor();
  // No passphrase slot: no passphrase form.
  assert.equal(await page.locator(tid('unlock-passphrase')).count(), 0);

  await page.fill(tid('unlock-recovery'), RECOVERY.replace('ABCD', 'ABCE'));
  await page.click(tid('unlock-recovery-submit'));
  await page.locator('[data-testid="unlock-error"][data-code="recovery_key_mistyped"]').waitFor();
  assert.match(await page.locator(tid('unlock-error')).textContent(), /typo/);

  await page.fill(tid('unlock-recovery'), RECOVERY.replaceAll('A', 'Z').replaceAll('1', '9'));
  await page.click(tid('unlock-recovery-submit'));
  await page.locator('[data-testid="unlock-error"][data-code="wrong_recovery_key"]').waitFor();

  await page.fill(tid('unlock-recovery'), RECOVERY.toLowerCase());
  await page.click(tid('unlock-recovery-submit'));
  await page.locator('[data-testid="app-root"][data-phase="unlocked"]').waitFor();
});

test('lock from the sidebar drops the tasks; the keyring retry opens again', async () => {
  const { page } = await openApp(suite, { seed: { vault: 'unlocked', tasks: ['Private task'] } });
  await page.getByText('Private task').waitFor();
  await page.click(tid('lock'));
  await page.locator('[data-testid="app-root"][data-phase="locked"]').waitFor();
  assert.equal(await page.getByText('Private task').count(), 0);
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.tasks.size), 0);
  await page.click(tid('unlock-keyring'));
  await page.getByText('Private task').waitFor();
});

test('a vault a newer version upgraded: two ways out, axe-clean; the copy opens', async () => {
  const copy = {
    name: 'vault-schema-5-20261120T080000.000Z.db',
    schema: 5,
    createdAt: '2026-11-20T08:00:00.000Z',
    bytes: 53248,
  };
  for (const colorScheme of ['light', 'dark']) {
    const { page } = await openApp(suite, {
      seed: {
        vault: 'locked',
        passphrase: 'pw',
        tasks: ['Water the plants'],
        tooNew: { copies: [copy] },
      },
      expectPhase: 'locked',
      colorScheme,
    });
    const screen = page.locator(tid('too-new'));
    await screen.waitFor();
    assert.match(await screen.textContent(), /upgraded by a newer version/);
    assert.equal(await page.locator(tid('too-new-copy')).getAttribute('data-name'), copy.name);
    assert.match(await page.locator(tid('too-new-copy')).textContent(), /kept\s+aside/);
    assert.equal(await page.locator(tid('unlock-passphrase')).count(), 0);
    assert.deepEqual(await seriousViolations(page), []);

    await page.fill(tid('too-new-passphrase'), 'wrong');
    await page.click(tid('too-new-passphrase-submit'));
    await page.locator('[data-testid="too-new-error"][data-code="wrong_passphrase"]').waitFor();
    await page.fill(tid('too-new-passphrase'), 'pw');
    await page.click(tid('too-new-passphrase-submit'));
    await page.locator('[data-testid="app-root"][data-phase="unlocked"]').waitFor();
    await page.getByText('Water the plants', { exact: true }).waitFor();
  }
});
