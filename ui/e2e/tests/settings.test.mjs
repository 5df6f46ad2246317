import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, openApp, startSuite, tid } from '../harness.mjs';

let suite;
before(async () => (suite = await startSuite()));
after(() => suite.close());

const stored = (page) => page.evaluate(() => window.__PP_FAKE__.vault.settings);

test('every general setting is saved through settings_set', async () => {
  const { page } = await openApp(suite, {
    seed: { vault: 'unlocked', passphrase: 'old', tasks: ['One'] },
  });
  await page.keyboard.press('Control+,');
  await page.locator(tid('settings')).waitFor();

  await page.selectOption(tid('setting-theme'), 'dark');
  await eventually(async () => (await stored(page)).theme === 'dark');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await page.selectOption(tid('setting-week-start'), 'sunday');
  await page.selectOption(tid('setting-time-format'), '12h');
  await page.selectOption(tid('setting-date-format'), 'mdy');
  await page.click(tid('setting-reminders'));
  await eventually(async () => (await stored(page)).remindersEnabled === false);
  await page.click(tid('setting-reminders'));
  await page.selectOption(tid('setting-lead'), '15');
  await page.click(tid('setting-autostart'));
  await page.click(tid('setting-close-to-tray'));
  await page.selectOption(tid('setting-lock-after'), '15');
  await page.click(tid('setting-shortcut'));
  await page.keyboard.press('Control+Shift+Space');
  await eventually(
    async () => (await stored(page)).quickAddShortcut === 'CommandOrControl+Shift+Space',
  );
  assert.deepEqual(await stored(page), {
    theme: 'dark',
    weekStart: 'sunday',
    timeFormat: '12h',
    dateFormat: 'mdy',
    reminderLeadMinutes: 15,
    remindersEnabled: true,
    quickAddShortcut: 'CommandOrControl+Shift+Space',
    autostart: true,
    lockAfterMinutes: 15,
    closeToTray: true,
    updateChannel: 'stable',
    updateCheckAutomatically: true,
  });

  // A shortcut the OS refuses: the error is shown there, the old one stays.
  await page.click(tid('setting-shortcut'));
  await page.keyboard.press('Alt+F4');
  await page.locator('[data-testid="setting-error"][data-code="platform_refused"]').waitFor();
  assert.equal((await stored(page)).quickAddShortcut, 'CommandOrControl+Shift+Space');
  await page.click(tid('setting-shortcut-clear'));
  await eventually(async () => (await stored(page)).quickAddShortcut === null);
  await page.keyboard.press('Escape');
  await page.locator(tid('settings')).waitFor({ state: 'detached' });
});

test('vault: change passphrase, new recovery key with confirmation, backups, export and import', async () => {
  const { page } = await openApp(suite, {
    seed: { vault: 'unlocked', passphrase: 'old', tasks: ['One', 'Two'] },
  });
  await page.click(tid('nav-settings'));
  await page.locator('[data-testid="slot-row"][data-kind="passphrase"]').waitFor();

  await page.fill(tid('passphrase-current'), 'wrong');
  await page.fill(tid('passphrase-next'), 'new one');
  await page.fill(tid('passphrase-repeat'), 'new one');
  await page.click(tid('passphrase-save'));
  await page.locator('[data-testid="setting-error"][data-code="wrong_passphrase"]').waitFor();
  await page.fill(tid('passphrase-current'), 'old');
  await page.click(tid('passphrase-save'));
  await page.getByText('Passphrase changed.').waitFor();
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.passphrase), 'new one');

  await page.click(tid('recovery-new'));
  const key = await page.locator(tid('recovery-key')).getAttribute('data-key');
  await page.click(tid('recovery-saved'));
  const inputs = page.locator(tid('recovery-answer'));
  for (let i = 0; i < 2; i++) {
    const n = Number(await inputs.nth(i).getAttribute('data-group'));
    await inputs.nth(i).fill(key.split('-')[n - 1]);
  }
  await page.click(tid('recovery-confirm'));
  await page.locator(tid('toast')).filter({ hasText: 'New recovery key saved' }).waitFor();
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.recoveryKey), key);

  await page.click(tid('nav-settings'));
  await page.click(tid('backup-now'));
  await page.locator(tid('backup-row')).waitFor();
  // Change something, then restore the backup: the change is gone.
  await page.evaluate(() => {
    const f = window.__PP_FAKE__;
    const one = [...f.vault.tasks.values()].find((t) => t.title === 'One');
    return f.emit('vault://changed', f.vault.externalEdit(one.id, { title: 'One changed' }));
  });
  await page.click(tid('backup-restore'));
  await page.click(tid('backup-restore'));
  await page.locator(tid('vault-message')).filter({ hasText: 'Backup restored.' }).waitFor();
  const titles = await page.evaluate(() =>
    [...window.__PP_FAKE__.vault.tasks.values()].map((t) => t.title).sort(),
  );
  assert.deepEqual(titles, ['One', 'Two']);

  for (const format of ['json', 'csv', 'ical']) {
    await page.evaluate((f) => (window.__PP_FAKE__.nextPath = `/home/user/export.${f}`), format);
    await page.selectOption(tid('export-format'), format);
    await page.click(tid('export-button'));
    await page
      .locator(tid('vault-message'))
      .filter({ hasText: `Exported 2 tasks to /home/user/export.${format}` })
      .waitFor();
  }
  for (const format of ['json', 'csv', 'ical', 'todoist', 'taskwarrior']) {
    await page.evaluate((f) => {
      window.__PP_FAKE__.vault.files.set(`/home/user/in.${f}`, `${f}:["Imported from ${f}"]`);
      window.__PP_FAKE__.nextPath = `/home/user/in.${f}`;
    }, format);
    await page.selectOption(tid('import-format'), format);
    await page.fill(tid('import-list'), format === 'todoist' ? 'From Todoist' : '');
    await page.click(tid('import-button'));
    await page.locator(tid('vault-message')).filter({ hasText: 'Imported 1 task.' }).waitFor();
  }
  const list = await page.evaluate(() =>
    [...window.__PP_FAKE__.vault.lists.values()].map((l) => l.name),
  );
  assert.deepEqual(list, ['From Todoist']);
  // The wrong format for a file: nothing imported, the error in words.
  await page.evaluate(() => (window.__PP_FAKE__.nextPath = '/home/user/in.csv'));
  await page.selectOption(tid('import-format'), 'ical');
  await page.click(tid('import-button'));
  await page.locator('[data-testid="setting-error"][data-code="import_malformed"]').waitFor();
  // Cancelled dialog: nothing happens.
  await page.evaluate(() => (window.__PP_FAKE__.nextPath = null));
  const before = await page.evaluate(() => window.__PP_FAKE__.vault.calls.length);
  await page.click(tid('export-button'));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await page.evaluate(() => window.__PP_FAKE__.vault.calls.length), before);
});
