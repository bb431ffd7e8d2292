import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { dashboardDomain } from '../src/http/dashboard.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { createSchedule, getSchedule } from '../src/runtime/schedules.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, startRuntime } from './helpers/runtime.ts';

/**
 * The dashboard's Schedules page in headless Chromium (as test/dashboard.browser.test.ts): the
 * list with next and last runs, Run now, disable, and the server's reason for a bad cron.
 */


describe.skipIf(!existsSync(CHROMIUM))('Schedules page in headless Chromium', () => {
  let db: TestDb;
  let runtime: Runtime;
  let browser: Browser;
  let page: Page;
  let base: string;
  let webDir: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    webDir = await dashboardBuild();
    db = await backends[0]!.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const served = domains.map((d) => (d.name === 'dashboard' ? dashboardDomain(webDir) : d));
    runtime = await startRuntime(db, served, { WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1' });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await db?.drop();
  });

  it('lists a schedule with its next run, fires it now, disables it, and shows why a cron is refused', async () => {
    await createSchedule(db.sql, { name: 'weekly-digest', cron: '0 9 * * 1', timezone: 'Europe/Paris', queue: 'digests' });
    await page.goto(`${base}/schedules`);
    const row = page.locator('tr[data-schedule="weekly-digest"]');
    await row.waitFor();
    expect(await row.locator('td[data-col="next"]').textContent()).toMatch(/^in \d/);
    expect(await row.locator('td[data-col="last"]').textContent()).toContain('—');

    await row.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('status').filter({ hasText: /weekly-digest fired: job \d+ on digests/ }).waitFor();
    const { lastJobId } = (await getSchedule(db.sql, 'weekly-digest'))!;
    expect(lastJobId).not.toBeNull();
    await row.locator('td[data-col="last"]', { hasText: `job ${lastJobId}` }).waitFor();

    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByRole('button', { name: 'Enable' }).waitFor();
    expect((await getSchedule(db.sql, 'weekly-digest'))!.enabled).toBe(false);

    const form = page.getByRole('form', { name: 'Add a schedule' });
    await form.getByLabel('name').fill('broken');
    await form.getByLabel('cron').fill('0 9 * * 8');
    await form.getByLabel('queue').fill('digests');
    await form.getByRole('button', { name: 'Add schedule' }).click();
    await page.getByRole('alert').or(page.locator('.note.error')).filter({ hasText: /cron: invalid cron "0 9 \* \* 8"/ }).first().waitFor();
    expect(await getSchedule(db.sql, 'broken')).toBeUndefined();
    expect(pageErrors).toEqual([]);
  });
});
