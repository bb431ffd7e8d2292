import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardDomain } from '../src/http/dashboard.ts';
import { apiDomain, fanoutDomain } from '../src/http/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { exampleWorkflows } from '../src/workflows/examples.ts';
import { startRun, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * The approvals inbox in headless Chromium: an approver names themself, sees the pending
 * demo.expense approval with its form rendered, is told when the data does not fit the form,
 * and approves; the run then pays.
 */
if (!existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);

describe.skipIf(!existsSync(CHROMIUM))('approvals inbox in headless Chromium', () => {
  let db: TestDb;
  let runtime: Runtime;
  let browser: Browser;
  let page: Page;
  let base: string;
  let webDir: string;
  const domain = workflowsDomain({ workflows: exampleWorkflows });
  const pageErrors: string[] = [];

  beforeAll(async () => {
    webDir = await dashboardBuild();
    db = await backends[0]!.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    runtime = await startRuntime(db, [apiDomain, fanoutDomain, domain, dashboardDomain(webDir)], {
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

  it('shows a pending approval with its form to its approver, refuses data off the form, and approves', async () => {
    const { run } = await startRun(runtime.depsOf<WorkflowEngine>('workflows')!, 'demo.expense', { amount: 120, approvers: ['manager'] }, { submittedBy: 'ana' });
    await page.goto(`${base}/approvals?view=mine`);
    await page.getByLabel('your user name').fill('manager');
    const card = page.locator('article[data-approval]').filter({ hasText: 'Approve an expense of 120?' });
    await card.waitFor({ timeout: 15_000 });
    await card.getByLabel('amount *').fill('500');
    await card.getByLabel('costCentre *').selectOption('ops');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.getByText(/amount: must be <= 120/).waitFor();
    expect((await store.getRun(db.sql, run.id))!.status).toBe('waiting');

    await card.getByLabel('amount *').fill('100');
    await card.getByRole('button', { name: 'Approve' }).click();
    await until(async () => (await store.getRun(db.sql, run.id))!.status === 'completed', 10_000, 'the run to complete');
    expect((await store.getRun(db.sql, run.id))!.output).toEqual({ paid: true, amount: 100, costCentre: 'ops' });

    await page.goto(`${base}/approvals?view=decided`);
    const decided = page.locator('article[data-approval]').filter({ hasText: 'Approve an expense of 120?' });
    await decided.getByRole('table', { name: 'Decisions' }).getByText('manager').waitFor();
    expect(pageErrors).toEqual([]);
  });
});
