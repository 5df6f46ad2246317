// Screenshots of the real main window (light and dark) on a vault of
// realistic demo data written by `pp`. Run by scripts/screenshots inside
// scripts/desktop-session; writes docs/screenshots/{light,dark}.png.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { eventually, Session } from './webdriver.mjs';

const PP = process.env.PP_E2E_PP;
const out = process.argv[2] ?? 'docs/screenshots';
const tid = (id) => `[data-testid="${id}"]`;
const pp = (...args) =>
  execFileSync(PP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// A week of someone's tasks: lists, tags, priorities, due dates, repeats,
// notes, subtasks and a few already done.
pp('init', '--require-keyring');
pp('lists', 'add', 'Work', '--colour', '#3b82f6');
pp('lists', 'add', 'Home', '--colour', '#16a34a');
pp('lists', 'add', 'Errands', '--colour', '#f59e0b');
const day = (offset) => {
  const d = new Date(Date.now() + offset * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};
const adds = [
  'Send the Q4 budget review to Dana today 10am #Work @finance !1',
  'Prepare slides for Monday planning tomorrow 2pm #Work @meetings !2',
  'Standup every weekday at 9:30 #Work @meetings',
  'Review pull request #482 today #Work @code !2',
  'Book dentist appointment today #Home @health',
  `Pay electricity bill ${day(-1)} #Home @bills !1`,
  'Water the plants every 3 days #Home',
  'Buy milk, eggs and coffee today #Errands @shop',
  'Pick up dry cleaning fri #Errands',
  'Call mum sun 6pm @family',
  'Renew passport in 2 weeks @admin !3',
  'Read "The Pragmatic Programmer" ch. 4 @reading',
  'Plan the weekend hike sat @outdoors',
];
for (const a of adds) pp('add', ...a.split(' '));
const id = (title) =>
  JSON.parse(pp('search', title, '--json')).find((t) => t.title.startsWith(title)).id;
pp(
  'edit',
  id('Send the Q4 budget'),
  '--notes',
  'Numbers from **finance** are in the shared drive.',
);
pp('add', 'Collect the invoices', '--parent', id('Send the Q4 budget'));
for (const t of [
  'Order new chair #Work',
  'File expense report #Work',
  'Fix the bike light #Home',
]) {
  pp('add', ...t.split(' '));
  pp('done', id(t.split(' #')[0]));
}

const s = await Session.start(process.env.PP_E2E_DRIVER, process.env.PP_E2E_APP);
try {
  const phase = () =>
    s.exec(`return document.querySelector('${tid('app-root')}')?.dataset.phase ?? null`);
  await eventually(async () => (await phase()) === 'unlocked', 'a keyring unlock', {
    timeoutMs: 30_000,
  });
  await (await s.find(tid('nav-today'))).click();
  await eventually(
    async () => (await s.findAll(`${tid('task-row')}`)).length >= 5,
    'the Today view with tasks',
  );
  mkdirSync(out, { recursive: true });
  for (const theme of ['light', 'dark']) {
    await (await s.find(tid('nav-settings'))).click();
    const select = await s.waitFor(tid('setting-theme'));
    await s.exec(
      `const el = arguments[0]; el.value = arguments[1];
       el.dispatchEvent(new Event('change', { bubbles: true }));`,
      select,
      theme,
    );
    await eventually(
      () => s.exec(`return document.documentElement.dataset.theme === arguments[0]`, theme),
      `the ${theme} theme`,
    ).catch(() => {});
    await (await s.find(tid('settings-close'))).click();
    await s.waitFor(tid('task-list'));
    // Reminders of the demo tasks pop up over the window: close them (the
    // WebDriver screenshot also stalls while a popup overlaps the window).
    execFileSync('dunstctl', ['close-all']);
    // Let the theme transition and fonts settle.
    await new Promise((r) => setTimeout(r, 800));
    writeFileSync(`${out}/${theme}.png`, await s.screenshotPng());
    console.log(`wrote ${out}/${theme}.png`);
  }
} catch (e) {
  console.error(e);
  console.error(
    await s
      .exec(
        `return [document.querySelector('[data-testid="app-root"]')?.dataset.phase,
          document.querySelector('[data-testid="view-title"]')?.textContent,
          document.querySelectorAll('[data-testid="task-row"]').length,
          document.body.innerText.slice(0, 400)]`,
      )
      .catch(() => null),
  );
  // What the window showed, for the failure report.
  const png = await s.screenshotPng(10_000).catch(() => null);
  if (png) writeFileSync(`${process.env.TMPDIR ?? '/tmp'}/pp-screenshots-failure.png`, png);
  process.exitCode = 1;
} finally {
  await s.close().catch(() => {});
}
