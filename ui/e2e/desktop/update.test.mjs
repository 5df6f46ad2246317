// After an in-app update (scripts/e2e-update): the installed package's
// binary, started through tauri-driver, opens the vault `pp` made before
// the update (unlocked from the keyring), shows its tasks, and says in
// Settings → Updates (the app's About) that it runs the new version.
// Environment: what scripts/desktop-session provides, plus
// PP_E2E_EXPECT_VERSION and PP_E2E_EXPECT_TASKS ("a|b|c").

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { eventually, Session } from './webdriver.mjs';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/e2e-update`);
  return v;
};
const DRIVER = need('PP_E2E_DRIVER');
const APP = need('PP_E2E_APP');
const VERSION = need('PP_E2E_EXPECT_VERSION');
const TASKS = need('PP_E2E_EXPECT_TASKS').split('|');

const tid = (id) => `[data-testid="${id}"]`;
let s = null;
after(async () => {
  if (s) await s.close().catch(() => {});
});

test(`the updated app (${VERSION}) opens the vault with its tasks and says ${VERSION}`, async () => {
  s = await Session.start(DRIVER, APP);
  const phase = () =>
    s.exec(`return document.querySelector('${tid('app-root')}')?.dataset.phase ?? null`);
  await eventually(
    async () => (await phase()) === 'unlocked',
    'the vault unlocked from the keyring',
    {
      timeoutMs: 30_000,
    },
  );
  const titles = () =>
    s.exec(
      `return [...document.querySelectorAll('${tid('task-row')} ${tid('task-title')}')]
         .map((b) => b.textContent.replace(/,\\s*selected\\s*$/, '').trim())`,
    );
  await eventually(async () => {
    const ts = await titles();
    return TASKS.every((t) => ts.includes(t));
  }, 'the tasks made before the update');
  const shown = await titles();
  for (const t of TASKS) assert.ok(shown.includes(t), `"${t}" is listed: ${JSON.stringify(shown)}`);

  await (await s.find(tid('nav-settings'))).click();
  const current = await s.waitFor(tid('setting-update-current'));
  await s.exec("arguments[0].scrollIntoView({ block: 'center' })", current);
  await eventually(
    async () => (await current.text()).trim() === `ProductivityPro ${VERSION}`,
    `Settings → Updates to say ProductivityPro ${VERSION}`,
  );
});
