// UI figures in headless Chromium against the built UI with the in-page fake
// backend (so these are the front end's own costs, without IPC or the
// core): quick add → row visible, view switch with 10k tasks, scroll steps.
// Prints numbers; asserts nothing. Run: npm run build && npx vite build
// --config vite.fake-ipc.config.ts && node scripts/bench.mjs
import { openApp, startSuite, tid } from '../e2e/harness.mjs';

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (xs) =>
  `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

const suite = await startSuite();
try {
  const { page } = await openApp(suite, {
    seed: { vault: 'unlocked', bulk: 10_000, lists: [{ name: 'Work', colour: '#2453c4' }] },
    reducedMotion: 'no-preference',
  });
  page.on('crash', () => console.error('page crashed'));
  page.on('close', () => console.error('page closed'));
  page.on('pageerror', (e) => console.error('pageerror', e));
  await page.locator('[data-testid="task-list"][data-total="10000"]').waitFor();

  // View switch: Inbox (10k) ↔ Today, click → new view's rows in the DOM.
  const switches = [];
  for (let i = 0; i < 20; i++) {
    for (const [nav, title] of [
      ['nav-today', 'Today'],
      ['nav-inbox', 'Inbox'],
    ]) {
      const ms = await page.evaluate(
        ([nav, title]) =>
          new Promise((resolve) => {
            const start = performance.now();
            const done = () => {
              const h = document.querySelector('[data-testid="view-title"]');
              const ready =
                h?.textContent === title &&
                (title === 'Today'
                  ? document.querySelector('[data-testid="empty-state"]')
                  : document.querySelector(
                      '[data-testid="task-list"][data-total="10000"] [data-testid="task-row"]',
                    ));
              if (ready) {
                obs.disconnect();
                requestAnimationFrame(() => resolve(performance.now() - start));
              }
            };
            const obs = new MutationObserver(done);
            obs.observe(document.body, {
              subtree: true,
              childList: true,
              characterData: true,
              attributes: true,
            });
            document.querySelector(`[data-testid="${nav}"]`).click();
          }),
        [nav, title],
      );
      if (title === 'Inbox') switches.push(ms);
    }
  }
  console.log(`view switch Today → Inbox (10k tasks): ${fmt(switches)}`);

  // Quick add → visible, in a list view while 10k tasks are cached.
  await page.locator(tid('nav-list')).first().click();
  await page.locator(tid('view-title')).filter({ hasText: 'Work' }).waitFor();
  const adds = [];
  for (let i = 0; i < 200; i++) {
    const ms = await page.evaluate(
      (title) =>
        new Promise((resolve) => {
          const input = document.querySelector('[data-testid="quick-add"]');
          // New tasks go to the end of the list: keep the end in view.
          const list = document.querySelector('[data-testid="task-list"]');
          if (list) list.scrollTop = list.scrollHeight;
          const start = performance.now();
          const obs = new MutationObserver(() => {
            const titles = [...document.querySelectorAll('[data-testid="task-title"]')];
            if (titles.some((t) => t.textContent.trim().startsWith(title))) {
              obs.disconnect();
              requestAnimationFrame(() => resolve(performance.now() - start));
            }
          });
          obs.observe(document.body, { subtree: true, childList: true, characterData: true });
          input.value = title;
          input.dispatchEvent(new Event('input', { bubbles: true }));
          input.form.requestSubmit();
        }),
      `Bench task ${String(i).padStart(3, '0')}`,
    );
    adds.push(ms);
  }
  console.log(`quick add → task visible (10k tasks cached): ${fmt(adds)}`);

  // Scrolling the 10k list: each 400 px step until the next frame is painted.
  await page.click(tid('nav-inbox'));
  await page.locator('[data-testid="task-list"][data-total="10000"]').waitFor();
  const steps = await page.evaluate(async () => {
    const el = document.querySelector('[data-testid="task-list"]');
    const out = [];
    for (let i = 1; i <= 300; i++) {
      const start = performance.now();
      el.scrollTop = i * 400;
      el.dispatchEvent(new Event('scroll'));
      await new Promise((r) => requestAnimationFrame(r));
      out.push(performance.now() - start);
    }
    return out;
  });
  console.log(`scroll step 400 px (10k tasks, scroll → next frame): ${fmt(steps)}`);
  const rendered = await page.locator(tid('task-list')).getAttribute('data-rendered');
  console.log(`rows in the DOM while scrolling 10k: ${rendered}`);
} finally {
  await suite.close();
}
