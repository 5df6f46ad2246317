// Shared set-up for the browser tests: Debian's chromium through
// playwright-core, the built UI on loopback, the fake IPC installed before
// the app's code, a fixed clock and time zone.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const FAKE_IPC = readFileSync(join(here, '.build/fake-ipc.js'), 'utf8');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Monday 30 November 2026, 09:00 in UTC (the tests' "now"). */
export const NOW = new Date('2026-11-30T09:00:00Z');

export const CHROMIUM = process.env.PP_CHROMIUM ?? '/usr/bin/chromium';

export async function startSuite() {
  const server = await serve(join(here, '..', 'dist'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    server,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * Opens the app on a fresh page. `seed` is the fake vault's start state
 * (see src/lib/ipc/fake/vault.ts `FakeSeed`); omitted = demo data.
 */
export async function openApp(suite, opts = {}) {
  const context = await suite.browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    colorScheme: opts.colorScheme ?? 'light',
    reducedMotion: opts.reducedMotion ?? 'reduce',
    timezoneId: 'UTC',
    locale: 'en-GB',
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(new Error(m.text()));
  });
  await page.clock.setFixedTime(opts.now ?? NOW);
  if (opts.seed) await page.addInitScript((seed) => (window.__PP_SEED__ = seed), opts.seed);
  await page.addInitScript({ content: FAKE_IPC });
  await page.goto(suite.server.url);
  const phase = opts.expectPhase ?? 'unlocked';
  if (phase) await page.locator(`[data-testid="app-root"][data-phase="${phase}"]`).waitFor();
  return { page, context, errors };
}

export const tid = (id) => `[data-testid="${id}"]`;

/** axe-core on the current page: violations of impact serious or critical. */
export async function seriousViolations(page) {
  const present = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!present) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Calls into the fake vault inside the page (e.g. to simulate `pp` changing a task). */
export function fake(page, fn, arg) {
  return page.evaluate(fn, arg);
}

/** Polls `fn` until it returns a truthy value (or stops throwing); fails after `timeoutMs`. */
export async function eventually(fn, { timeoutMs = 5000, intervalMs = 25 } = {}) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = new Error(`condition stayed false: ${fn}`);
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) throw last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Texts of the task titles currently rendered, top to bottom. */
export function taskTitles(page) {
  return page
    .locator('[data-testid="task-title"]')
    .evaluateAll((els) =>
      els.map((e) =>
        e.childNodes[0] ? e.textContent.replace(/\s*,\s*selected\s*$/, '').trim() : '',
      ),
    );
}

/** The row of the task with this title. */
export function row(page, title) {
  const exact = new RegExp(
    `^\\s*${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*(,\\s*selected)?\\s*$`,
  );
  return page
    .locator('[data-testid="task-row"]')
    .filter({ has: page.locator('[data-testid="task-title"]', { hasText: exact }) });
}
