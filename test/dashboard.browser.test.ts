import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { dashboardDomain } from '../src/http/dashboard.ts';
import { PermanentFailure } from '../src/queue/errors.ts';
import { defineQueue, type Domain } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * The dashboard end to end in headless Chromium (Debian's package, driven by playwright-core):
 * Nova on PGlite with the Nylas emulator and NOVA_API_TOKEN set; the page asks for the token,
 * connects an inbox, starts a backfill and watches its bar reach 100 %, then retries a dead job
 * and sees it leave the dead letters. The dashboard is built from web/ into a temporary folder
 * first, so the test runs the current source. Set DASHBOARD_SCREENSHOTS=<dir> to keep screenshots
 * (never in the repository).
 */

const TOKEN = 'dashboard-test-token-0123456789';
const GRANT = 'grant-dashboard';
const THREADS = 24;
const FLAKY_QUEUE = 'dashboard_flaky';
const shots = process.env.DASHBOARD_SCREENSHOTS;

if (!existsSync(CHROMIUM) && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);
}

/** A queue whose jobs fail permanently until the test lets them through. */
let letThrough = false;
const flakyDomain: Domain = {
  name: 'dashboard-test',
  roles: ['dashboard-test'],
  queues: [
    defineQueue<{ n: number }>({
      name: FLAKY_QUEUE,
      role: 'dashboard-test',
      handler: async () => {
        if (!letThrough) throw new PermanentFailure('boom: the upstream refused it');
      },
    }),
  ],
};

describe.skipIf(!existsSync(CHROMIUM))('Dashboard in headless Chromium', () => {
  let db: TestDb;
  let emulator: NylasEmulator;
  let runtime: Runtime;
  let browser: Browser;
  let page: Page;
  let base: string;
  let webDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    webDir = await dashboardBuild();
    db = await backends[0]!.create();
    // Latency spreads the backfill over a few seconds, so the bar is seen moving, not only full.
    emulator = new NylasEmulator({ apiKey: 'key-dash', threadsPerGrant: THREADS, messagesPerThread: 2, faults: { latencyMs: 80 } });
    await emulator.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const served = domains.map((d) => (d.name === 'dashboard' ? dashboardDomain(webDir) : d));
    runtime = await startRuntime(db, [...served, flakyDomain], {
      WORKER_TYPE: 'api,fanout,backfill,threads,completion,extraction-queue,extraction,dashboard-test',
      PORT: String(port),
      API_HOST: '127.0.0.1',
      NOVA_API_TOKEN: TOKEN,
      NYLAS_API_KEY: 'key-dash',
      NYLAS_API_URI: emulator.url,
      NYLAS_RATE_LIMIT_PER_SECOND: '1000',
      NYLAS_RATE_LIMIT_BURST: '1000',
      BACKFILL_PAGE_SIZE: '8',
      THREADS_CONCURRENCY: '1',
      COMPLETION_CHECK_INTERVAL_MS: '200',
      EXTRACTION_QUEUE_INTERVAL_MS: '200',
      LLM_PROVIDER: 'builtin',
      POLL_INTERVAL_MS: '200',
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    if (shots) mkdirSync(shots, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  const shot = async (name: string) => {
    if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  };
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };

  it('asks for the API token on 401, keeps it, and goes live over the WebSocket with it', async () => {
    await page.goto(`${base}/backfills`);
    const dialog = page.getByRole('dialog', { name: 'API token' });
    await dialog.waitFor();
    await shot('token');
    await dialog.getByLabel('API token').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => localStorage.getItem('nova.token'))).toBe(TOKEN);
    await page.getByRole('heading', { name: 'Backfills' }).waitFor();
    await page.getByText('No backfill has run yet.').waitFor();

    // A reload asks nothing: the kept token is sent, and /ws accepts it as ?token=.
    await page.reload();
    await page.getByText('No backfill has run yet.').waitFor();
    expect(await dialog.count()).toBe(0);
    await page.locator('.live-open').waitFor({ timeout: 10_000 });
  });

  it('connects an inbox, starts a backfill and shows its progress bar moving to 100 %', async () => {
    await page.getByPlaceholder('Nylas grant id').fill(GRANT);
    await page.getByRole('button', { name: 'Connect inbox' }).click();
    await page.getByText('Inbox connected.').waitFor();
    await expect.poll(() => page.locator('select option').count()).toBe(1);

    // Record every value the bar shows, from inside the page, from the first render on.
    await page.evaluate(() => {
      const seen: number[] = ((window as unknown as { progressSeen: number[] }).progressSeen = []);
      new MutationObserver(() => {
        const bar = document.querySelector('[role=progressbar]');
        const v = bar && Number(bar.getAttribute('aria-valuenow'));
        if (v !== null && v !== undefined && seen[seen.length - 1] !== v) seen.push(v);
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    await page.getByRole('button', { name: 'Start backfill' }).click();
    await page.getByText('Backfill started.').waitFor();

    const bar = page.getByRole('progressbar', { name: `Backfill of ${GRANT}` });
    await bar.waitFor();
    await shot('backfill-running');
    await expect.poll(() => bar.getAttribute('aria-valuenow'), { timeout: 45_000, interval: 100 }).toBe('100');
    await shot('backfill-done');

    const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
    expect(seen.at(-1)).toBe(100);
    // The bar moved through intermediate values, not only from empty to full.
    expect(seen.some((v) => v > 0 && v < 100)).toBe(true);
    const row = page.locator('tr', { has: bar });
    await row.getByText('completed', { exact: true }).waitFor();

    const { backfills } = await api<{ backfills: { configId: string; threadsCompleted: number | string }[] }>('/api/backfills');
    expect(backfills).toHaveLength(1);
    await row.getByText(`${Number(backfills[0]!.threadsCompleted)}/`).waitFor();
  });

  it('lists a dead job on its queue and retries it from the UI until it leaves the dead letters', async () => {
    const id = await runtime.service.queue.send(FLAKY_QUEUE, { n: 1 });
    await until(async () => (await api<{ dead: number }>(`/api/queues/${FLAKY_QUEUE}`)).dead === 1, 20_000, 'the job dead-lettered');

    await page.getByRole('link', { name: 'Queues' }).click();
    const queueRow = page.locator(`tr[data-queue="${FLAKY_QUEUE}"]`);
    await expect.poll(() => queueRow.locator('[data-col=dead]').textContent()).toBe('1');
    await shot('queues');
    await queueRow.locator('[data-col=dead] a').click();

    const jobRow = page.locator(`tr[data-job="${id}"]`);
    await jobRow.getByText('PermanentFailure: boom: the upstream refused it').waitFor();
    await shot('dead-jobs');
    letThrough = true;
    await jobRow.getByRole('button', { name: 'Retry' }).click();
    await page.getByText(`Job ${id} queued again.`).waitFor();
    await jobRow.waitFor({ state: 'detached' });
    await page.getByText('No dead jobs.').waitFor();
    await expect.poll(() => page.getByRole('tab', { name: /^dead/ }).textContent()).toBe('dead 0');
    await expect.poll(() => page.getByRole('tab', { name: /^completed/ }).textContent(), { timeout: 20_000 }).toBe('completed (last 100 kept) 1');

    const dead = await api<{ jobs: unknown[] }>(`/api/queues/${FLAKY_QUEUE}/jobs?state=dead`);
    expect(dead.jobs).toHaveLength(0);
  });

  it('shows the workers with their roles and the inbox with threads, messages and extractions', async () => {
    await page.getByRole('link', { name: 'Workers' }).click();
    const worker = page.locator('tr[data-worker]').first();
    await worker.getByText('alive').waitFor();
    await worker.getByText('backfill', { exact: true }).waitFor();

    await page.getByRole('link', { name: 'Inbox' }).click();
    const thread = page.locator('button[data-thread]').first();
    await thread.waitFor();
    expect(await page.locator('button[data-thread]').count()).toBeGreaterThan(0);
    const threadId = (await thread.getAttribute('data-thread'))!;
    const { messages } = await api<{ messages: { id: string }[] }>(`/api/threads/${threadId}/messages`);
    const newest = messages.at(-1)!.id;
    await until(async () => {
      const res = await fetch(`${base}/api/messages/${newest}/extraction`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return res.ok && ((await res.json()) as { status: string }).status === 'succeeded';
    }, 20_000, 'the newest message extracted');
    await thread.click();
    await page.locator('article[data-message]').first().waitFor();
    expect(await page.locator('article[data-message]').count()).toBe(2);
    // The newest message opens with its extraction (the builtin provider's).
    const panel = page.locator(`article[data-message="${newest}"]`).getByRole('region', { name: 'Extraction' });
    await panel.getByText('succeeded').waitFor();
    await panel.getByText('summary').waitFor();
    await panel.getByText('builtin', { exact: false }).waitFor();
    await shot('inbox');

    // On a phone the panes stack and the thread view is as wide as the screen, not a column.
    await page.setViewportSize({ width: 390, height: 800 });
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      message: document.querySelector('article[data-message]')!.getBoundingClientRect().width,
    }));
    expect(widths.page).toBeLessThanOrEqual(390);
    expect(widths.message).toBeGreaterThan(300);
    await shot('inbox-390');
    expect(pageErrors).toEqual([]);
  });
  it('works without a token: same-origin JSON requests pass the origin check and /ws accepts its own origin', async () => {
    const port = await freePort();
    const open = await startRuntime(db, domains.map((d) => (d.name === 'dashboard' ? dashboardDomain(webDir) : d)), {
      WORKER_TYPE: 'api,fanout', PORT: String(port), API_HOST: '127.0.0.1', NYLAS_API_KEY: 'key-dash', NYLAS_API_URI: emulator.url,
    });
    const tokenless = await browser.newPage();
    try {
      await tokenless.goto(`http://127.0.0.1:${port}/backfills`);
      await tokenless.getByRole('heading', { name: 'Backfills' }).waitFor();
      await tokenless.locator('.live-open').waitFor({ timeout: 10_000 });
      await tokenless.getByPlaceholder('Nylas grant id').fill('grant-tokenless');
      await tokenless.getByRole('button', { name: 'Connect inbox' }).click();
      await tokenless.getByText('Inbox connected.').waitFor();
      expect(await tokenless.getByRole('dialog', { name: 'API token' }).count()).toBe(0);
      // The same request from a page of another origin (a bare page of its own: the dashboard's
      // CSP would not let the request leave) is refused.
      const elsewhere = createServer((_req, res) => res.end('<!doctype html><title>elsewhere</title>'));
      await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', () => resolve()));
      try {
        await tokenless.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
        // Starting a backfill needs no body, so only the origin check stands between the page and it.
        const inboxes = async () => ((await (await fetch(`http://127.0.0.1:${port}/api/inboxes`)).json()) as { inboxes: { id: string; grantId: string; backfillStatus: unknown }[] }).inboxes;
        const inbox = (await inboxes()).find((i) => i.grantId === 'grant-tokenless')!;
        const crossSite = await tokenless.evaluate(async (url) => (await fetch(url, { method: 'POST', mode: 'no-cors' })).type, `http://127.0.0.1:${port}/api/inboxes/${inbox.id}/backfill`);
        expect(crossSite).toBe('opaque');
        const history = await db.sql.query<{ n: number }>('select count(*)::int as n from backfill_history h join flux_inbox_configurations c on c.id = h.config_id where c.inbox_id = $1', [inbox.id]);
        expect(history[0]!.n).toBe(0);
        expect((await inboxes()).find((i) => i.grantId === 'grant-tokenless')!.backfillStatus).toEqual(inbox.backfillStatus);
      } finally {
        elsewhere.close();
      }
    } finally {
      await tokenless.close();
      await open.stop();
    }
  });
});
