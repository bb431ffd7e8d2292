import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { dashboardDomain } from '../src/http/dashboard.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * Backfill outcomes in headless Chromium (as test/dashboard.browser.test.ts): Connect comes first
 * with no inbox, Start is disabled while a run is going, a re-run shows what was already synced
 * and keeps the first run's counts in the history, and a run completed with failures is amber,
 * links its failed threads to their dead jobs and retries them.
 */

const THREADS = 12;

if (!existsSync(CHROMIUM) && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);
}

describe.skipIf(!existsSync(CHROMIUM))('Backfill outcomes in headless Chromium', () => {
  let db: TestDb;
  let emulator: NylasEmulator;
  let runtime: Runtime;
  let browser: Browser;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const webDir = await dashboardBuild();
    db = await backends[0]!.create();
    emulator = new NylasEmulator({ apiKey: 'key-outcomes', threadsPerGrant: THREADS, messagesPerThread: 2 });
    await emulator.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const served = domains.map((d) => (d.name === 'dashboard' ? dashboardDomain(webDir) : d));
    runtime = await startRuntime(db, served, {
      WORKER_TYPE: 'api,fanout,backfill,threads,completion',
      PORT: String(port),
      API_HOST: '127.0.0.1',
      NYLAS_API_KEY: 'key-outcomes',
      NYLAS_API_URI: emulator.url,
      NYLAS_MAX_RETRIES: '1',
      NYLAS_RATE_LIMIT_PER_SECOND: '1000',
      NYLAS_RATE_LIMIT_BURST: '1000',
      BACKFILL_PAGE_SIZE: '4',
      THREAD_RETRY_DELAY_MS: '20',
      COMPLETION_CHECK_INTERVAL_MS: '100',
      RECOVERY_CHECK_INTERVAL_MS: '200',
      POLL_INTERVAL_MS: '200',
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  const status = async (grant: string) => {
    const res = await fetch(`${base}/api/backfills`);
    const { backfills } = (await res.json()) as { backfills: { grantId: string; backfillStatus: string; threadsFailed: number; threadsTotal: number; configId: string }[] };
    return backfills.find((b) => b.grantId === grant);
  };

  it('puts Connect first, disables Start while a run goes, and shows a re-run as already synced with the first run kept', async () => {
    await page.goto(`${base}/backfills`);
    await page.getByText('Connect an inbox by its Nylas grant id').waitFor();
    expect(await page.getByRole('button', { name: 'Start backfill' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Connect inbox' }).getAttribute('class')).toContain('primary');
    await page.getByPlaceholder('Nylas grant id').fill('grant-outcome');
    await page.getByRole('button', { name: 'Connect inbox' }).click();
    const start = page.getByRole('button', { name: 'Start backfill' });
    await start.waitFor();

    // Slow answers keep the run going long enough to see Start disabled.
    emulator.setFaults({ latencyMs: 150 });
    try {
      await start.click();
      await page.getByText('running…').waitFor();
      expect(await start.isDisabled()).toBe(true);
    } finally {
      emulator.setFaults({});
    }
    const row = page.locator('tbody tr', { hasText: 'grant-outcome' });
    await row.getByText('completed', { exact: true }).waitFor({ timeout: 30_000 });
    await until(async () => !(await start.isDisabled()), 10_000, 'Start enabled again');
    // The emulator spreads its threads over more than the year a backfill covers.
    const n = (await status('grant-outcome'))!.threadsTotal;
    expect(n).toBeGreaterThan(3);
    expect(await row.locator('td.n').first().textContent()).toBe(`${n}/${n}`);

    // The second run finds everything stored: it says so instead of reading 0/0.
    await start.click();
    await row.getByText('run 2').waitFor({ timeout: 30_000 });
    await row.getByText(`${n} already synced`).waitFor({ timeout: 30_000 });
    await row.getByText(`${n * 2} already stored`).waitFor();

    // Its page keeps both runs.
    await row.getByRole('link', { name: 'grant-outcome' }).click();
    await page.getByRole('heading', { name: 'Backfill of grant-outcome' }).waitFor();
    const runs = page.getByRole('table', { name: 'Runs' });
    await runs.locator('tr[data-run="2"]').waitFor();
    expect(await runs.locator('tr[data-run="2"] td.n').allTextContents()).toEqual(['2', '0/0', '0', '0', `${n} threads${n * 2} messages`]);
    expect(await runs.locator('tr[data-run="1"] td.n').allTextContents()).toEqual(['1', `${n}/${n}`, '0', String(n * 2), '0 threads']);
    await page.getByText('No thread of the current run failed.').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('shows a run completed with failures in amber, links its failed threads to their dead jobs, and retries them', async () => {
    const grant = 'grant-amber';
    const connected = await fetch(`${base}/api/inboxes`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grantId: grant }),
    });
    const { inbox } = (await connected.json()) as { inbox: { id: string } };
    const poison = emulator.listThreads(grant)[0]!;
    emulator.injectFailures({ status: 500, count: 10, pathIncludes: `thread_id=${poison.id}` });
    expect((await fetch(`${base}/api/inboxes/${inbox.id}/backfill`, { method: 'POST' })).status).toBe(202);
    await until(async () => (await status(grant))?.backfillStatus === 'completed', 30_000, 'partial backfill completed');
    const { configId } = (await status(grant))!;

    await page.goto(`${base}/backfills`);
    const row = page.locator(`tr[data-config="${configId}"]`);
    const badge = row.getByText('completed with failures');
    await badge.waitFor();
    expect(await badge.getAttribute('class')).toContain('badge-partial');
    expect(await row.getByRole('progressbar').getAttribute('class')).toContain('progress-partial');

    await row.getByRole('link', { name: '1 failed thread' }).click();
    const failed = page.getByRole('table', { name: 'Failed threads' });
    const line = failed.locator(`tr[data-thread="${poison.id}"]`);
    await line.waitFor();
    expect(await line.textContent()).toContain('500');
    const dead = line.getByRole('link', { name: /^#\d+$/ });
    const href = (await dead.getAttribute('href'))!;
    expect(href).toMatch(/^\/queues\/thread_sync_jobs\/jobs\/\d+$/);

    // The dead job's page links back to the backfill.
    await dead.click();
    await page.getByRole('heading', { name: /^Job #\d+$/ }).waitFor();
    await page.getByRole('link', { name: /^backfill / }).click();
    await page.locator(`tr[data-config="${configId}"].highlight`).waitFor();

    // Retry failed, from the backfill's page: the run completes again with nothing failed.
    await page.goto(`${base}/backfills/${configId}#failed`);
    await page.getByRole('button', { name: 'Retry failed' }).click();
    await page.getByText('1 failed thread of run 1 queued again.').waitFor();
    await page.getByText('No thread of the current run failed.').waitFor({ timeout: 30_000 });
    const runs = page.getByRole('table', { name: 'Runs' });
    await runs.locator('tr[data-run="1"]').getByText('completed', { exact: true }).waitFor({ timeout: 30_000 });
    expect((await status(grant))!.threadsFailed).toBe(0);

    // On a phone the page fits its width (the tables scroll inside their own box).
    await page.setViewportSize({ width: 390, height: 800 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    expect(pageErrors).toEqual([]);
  });
});
