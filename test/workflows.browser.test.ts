import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardDomain } from '../src/http/dashboard.ts';
import { apiDomain, fanoutDomain } from '../src/http/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { exampleWorkflows } from '../src/workflows/examples.ts';
import { workflowsDomain } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, startRuntime } from './helpers/runtime.ts';

/**
 * The workflow pages in headless Chromium: the example workflows are listed, one is started from
 * the page, its run page shows the steps completing live, and a waiting run is cancelled there.
 */
if (!existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);

describe.skipIf(!existsSync(CHROMIUM))('workflow pages in headless Chromium', () => {
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
    runtime = await startRuntime(db, [apiDomain, fanoutDomain, workflowsDomain({ workflows: exampleWorkflows }), dashboardDomain(webDir)], {
      WORKER_TYPE: 'api,fanout,orchestrator', PORT: String(port), API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '200',
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await db?.drop();
  });

  it('starts an example workflow from the list and shows its step timeline as it completes', async () => {
    await page.goto(`${base}/workflows`);
    const row = page.getByRole('table', { name: 'Workflows' }).getByRole('row').filter({ hasText: 'demo.onboarding' });
    await row.waitFor();
    await row.getByLabel('input of demo.onboarding').fill('{"name":"Ada"}');
    await row.getByRole('button', { name: 'Start' }).click();
    await page.waitForURL(/\/workflows\/runs\/[0-9a-f-]{36}$/);
    const steps = page.getByRole('table', { name: 'Steps' });
    await steps.locator('tr[data-step="let-it-sink-in"]').getByText('waiting').waitFor();
    await steps.locator('tr[data-step="pick-tips"]').getByText('completed').waitFor({ timeout: 15_000 });
    await page.getByText('Welcome to Nova, Ada!').first().waitFor();
    expect(await steps.locator('tr[data-step]').count()).toBe(3);
    expect(pageErrors).toEqual([]);
  });

  it('cancels a sleeping run from its page', async () => {
    await page.goto(`${base}/workflows`);
    const row = page.getByRole('table', { name: 'Workflows' }).getByRole('row').filter({ hasText: 'demo.nap' });
    await row.getByLabel('input of demo.nap').fill(JSON.stringify({ until: new Date(Date.now() + 3_600_000).toISOString() }));
    await row.getByRole('button', { name: 'Start' }).click();
    await page.waitForURL(/\/workflows\/runs\//);
    await page.locator('tr[data-step="nap"]').getByText('waiting').waitFor();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Cancel run and children?' }).click();
    await page.locator('p > .badge-cancelled').waitFor();
    await page.locator('tr[data-step="nap"]').getByText('cancelled').waitFor();
  });
});
