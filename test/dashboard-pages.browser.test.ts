import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { domains } from '../src/domains.ts';
import { dashboardDomain } from '../src/http/dashboard.ts';
import { PermanentFailure } from '../src/queue/errors.ts';
import { defineQueue, type Domain } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * Every dashboard page at a desktop (1366 px) and a phone (390 px) width, in light and dark
 * schemes: no page wider than the viewport, no serious accessibility violation (axe-core,
 * injected into the page), no console error. And the job page and job search end to end.
 */

const QUEUE = 'pages.jobs';
const STRICT = 'pages.strict';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

if (!existsSync(CHROMIUM) && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);
}

const pagesDomain: Domain = {
  name: 'pages-test',
  roles: ['pages-test'],
  queues: [
    defineQueue<{ configId: string; threadId: string; n: number; fail?: boolean }>({
      name: QUEUE,
      role: 'pages-test',
      concurrency: 4,
      async handler(payload) {
        if (!payload.fail) return;
        const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
        throw new PermanentFailure('fetch failed', { cause: refused });
      },
    }),
    defineQueue({ name: STRICT, role: 'pages-test', schema: z.object({ threadId: z.string() }), async handler() {} }),
  ],
};

describe.skipIf(!existsSync(CHROMIUM))('Dashboard pages at 1366 and 390 px', () => {
  let db: TestDb;
  let runtime: Runtime;
  let browser: Browser;
  let base: string;
  let webDir: string;
  let deadId: number;
  let invalidId: number;
  let configId: string;
  let dealId: string;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    webDir = await dashboardBuild();
    db = await backends[0]!.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const served = domains.map((d) => (d.name === 'dashboard' ? dashboardDomain(webDir) : d));
    runtime = await startRuntime(db, [...served, pagesDomain], {
      WORKER_TYPE: 'api,fanout,pages-test', PORT: String(port), API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '100',
    });
    const q = runtime.service.queue;
    const config = '5b0c7d1e-0000-4000-8000-000000000001';
    await q.sendBatch(QUEUE, [1, 2, 3].map((n) => ({ payload: { configId: config, threadId: n === 3 ? 't2' : 't1', n } })));
    deadId = await q.send(QUEUE, { configId: config, threadId: 't9', n: 9, fail: true });
    invalidId = await q.send(STRICT, { threadId: 42 });
    await q.send(QUEUE, { configId: config, threadId: 't5', n: 5 }, { delayMs: 3_600_000 });
    await until(async () => (await q.metrics(QUEUE)).completed === 3 && (await q.metrics(QUEUE)).dead === 1 && (await q.metrics(STRICT)).dead === 1, 20_000, 'jobs finished');
    // An inbox never backfilled (its backfill page) and a deal (its page).
    const post = async (path: string, body: unknown) => (await fetch(`${base}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    })).json() as Promise<Record<string, any>>;
    configId = (await post('/api/inboxes', { grantId: 'grant-pages', email: 'pages@example.com' })).configId;
    dealId = (await post('/api/deals', { name: 'Pages Deal' })).deal.id;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await db?.drop();
  });

  const open = async (width: number, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> => {
    // bypassCSP: axe-core is injected as an inline script, which the dashboard's CSP forbids.
    const page = await browser.newPage({ viewport: { width, height: 800 }, colorScheme, bypassCSP: true });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${m.text()} (${page.url()})`);
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    let inFlight = 0;
    page.on('request', () => inFlight++);
    page.on('requestfinished', () => inFlight--);
    page.on('requestfailed', () => inFlight--);
    quiet.set(page, () => inFlight);
    return page;
  };

  const quiet = new WeakMap<Page, () => number>();
  /**
   * Waits until the page has no request in flight across two frames in a row, so what answers
   * brought has been rendered (and any request that rendering started has answered too).
   * Playwright's `networkidle` waits 500 ms of silence on every page for the same thing.
   */
  const settled = async (page: Page) => {
    const inFlight = quiet.get(page)!;
    const deadline = Date.now() + 15_000;
    for (let calm = 0; calm < 2;) {
      if (Date.now() > deadline) throw new Error(`${page.url()}: ${inFlight()} requests still in flight after 15 s`);
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
      calm = inFlight() === 0 ? calm + 1 : 0;
    }
  };

  const pages = () => [
    '/queues', `/queues/${QUEUE}`, `/queues/${QUEUE}?state=dead`, `/queues/${QUEUE}?state=scheduled`,
    `/queues/${QUEUE}/jobs/${deadId}`, `/queues/${STRICT}/jobs/${invalidId}`, '/backfills', `/backfills/${configId}`,
    '/workers', '/inbox', '/schedules', '/workflows', '/approvals', '/deals', `/deals/${dealId}`,
  ];

  /** Text a page shows only once its data has come. */
  const rendered = (): Record<string, string> => ({
    '/queues': QUEUE, [`/queues/${QUEUE}/jobs/${deadId}`]: 'ECONNREFUSED', '/backfills': 'pages@example.com', [`/deals/${dealId}`]: 'Pages Deal',
  });

  for (const [width, scheme] of [[1366, 'light'], [390, 'light'], [390, 'dark']] as const) {
    it(`fits every page in ${width} px (${scheme}) with no serious accessibility violation`, async () => {
      const page = await open(width, scheme);
      try {
        for (const path of pages()) {
          await page.goto(`${base}${path}`);
          await page.locator('h1').first().waitFor();
          await settled(page);
          // What the checks below look at is the page with its data, not one still waiting for it.
          const shows = rendered()[path];
          if (shows) expect(await page.evaluate((t) => document.body.innerText.includes(t), shows), `${path} shows ${shows}`).toBe(true);
          const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
          const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
            .filter((e) => !e.parentElement?.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`));
          expect(scroll, `${path} at ${width} px is ${scroll} px wide: ${wide.join(', ')}`).toBeLessThanOrEqual(inner);
          await page.addScriptTag({ content: axeSource });
          const violations = await page.evaluate(async () => {
            const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
            const result = await axe.run(document, { resultTypes: ['violations'] });
            return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
          });
          expect(violations, `${path} at ${width} px (${scheme})`).toEqual([]);
        }
        expect(consoleErrors).toEqual([]);
      } finally {
        await page.close();
      }
    }, 120_000);
  }

  it('shows a job at its own URL: payload, error with its cause, links, and Retry only when it can help', async () => {
    const page = await open(1366);
    try {
      await page.goto(`${base}/queues/${QUEUE}?state=dead`);
      await page.locator(`tr[data-job="${deadId}"] a`).click();
      expect(new URL(page.url()).pathname).toBe(`/queues/${QUEUE}/jobs/${deadId}`);
      await page.getByRole('heading', { name: `Job #${deadId}` }).waitFor();
      const payload = page.getByRole('region', { name: 'Payload' });
      await payload.getByText('"threadId": "t9"').waitFor();
      // Its one attempt, with the worker that ran it and the error's cause chain.
      const attempts = page.getByRole('region', { name: 'Attempts' });
      await attempts.locator('ol.error-chain > li').first().waitFor();
      const chain = await attempts.locator('ol.error-chain > li').allTextContents();
      expect(chain.slice(0, 2)).toEqual(['PermanentFailure: fetch failed', 'caused by Error [ECONNREFUSED]: connect ECONNREFUSED 127.0.0.1:9']);
      expect(await attempts.locator('tbody tr').count()).toBe(1);
      expect((await attempts.locator('tbody tr td.mono').textContent())?.trim()).not.toBe('—');
      await page.getByRole('link', { name: 'every job of thread t9' }).waitFor();
      await page.getByRole('button', { name: 'Retry' }).waitFor();

      await page.goto(`${base}/queues/${STRICT}/jobs/${invalidId}`);
      await page.getByText(/Not retryable: invalid payload/).waitFor();
      expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);

      // Back to the queue through the crumbs.
      await page.getByRole('link', { name: STRICT }).click();
      await page.getByRole('tab', { name: /^dead/ }).waitFor();
      expect(await page.getByRole('tab', { name: /^dead/ }).getAttribute('aria-selected')).toBe('true');
    } finally {
      await page.close();
    }
  });

  it('searches by payload field on the server, and shows the fields that differ between rows', async () => {
    const page = await open(1366);
    try {
      await page.goto(`${base}/queues/${QUEUE}?state=completed`);
      // The first page load can take longer than expect.poll's 1 s default on a loaded machine.
      await expect.poll(() => page.locator('tr[data-job]').count(), { timeout: 15_000 }).toBe(3);
      // configId is the same in every row: the rows show threadId and n, which differ.
      const first = page.locator('tr[data-job]').first();
      expect(await first.locator('.chip').allTextContents()).toEqual(['n=3', 'threadId="t2"']);
      await page.getByRole('tab', { name: /^completed \(last 100 kept\)/ }).waitFor();
      await page.getByLabel('payload').fill('threadId=t1');
      await page.getByRole('button', { name: 'Search' }).click();
      await expect.poll(() => page.locator('tr[data-job]').count(), { timeout: 15_000 }).toBe(2);
      expect(new URL(page.url()).searchParams.get('where')).toBe('threadId=t1');
      await page.getByLabel('payload').fill('threadId=nobody');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByText('No completed jobs match this search.').waitFor();
    } finally {
      await page.close();
    }
  });

  it('ticks relative times without reloading', async () => {
    const page = await open(1366);
    try {
      await page.goto(`${base}/queues/${QUEUE}/jobs/${deadId}`);
      const created = page.locator('dd time').first();
      await created.waitFor();
      const before = await created.textContent();
      await expect.poll(() => created.textContent(), { timeout: 12_000, interval: 500 }).not.toBe(before);
    } finally {
      await page.close();
    }
  }, 20_000);
});
