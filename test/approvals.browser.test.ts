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

const MANAGER = 'manager-personal-token-0123456789';
const ANA = 'ana-personal-token-0123456789';
const API_TOKEN = 'approvals-browser-api-token-0123456789';

/**
 * The approvals inbox in headless Chromium, on a server with NOVA_USERS: an approver signs in
 * with their personal token (a wrong one is refused), sees the pending demo.expense approval with
 * its form rendered, is told when the data does not fit the form, and approves; the run then pays.
 * The run's own starter is refused with the server's reason shown. NOVA_API_TOKEN is set too: a
 * refused personal token must not cost the page its API token.
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
      NOVA_USERS: `manager:${MANAGER}:finance,ana:${ANA}`, NOVA_API_TOKEN: API_TOKEN,
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

  const signIn = async (token: string) => {
    await page.getByRole('button', { name: 'Enter your user token' }).click();
    await page.getByRole('textbox', { name: 'user token' }).fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  it('signs an approver in by personal token, refuses data off the form, and resumes the run on approval', async () => {
    const { run } = await startRun(runtime.depsOf<WorkflowEngine>('workflows')!, 'demo.expense', { amount: 120, approvers: ['role:finance'] }, { submittedBy: 'ana' });
    const sent: string[] = [];
    const received: string[] = [];
    page.on('websocket', (ws) => {
      ws.on('framesent', ({ payload }) => sent.push(String(payload)));
      ws.on('framereceived', ({ payload }) => received.push(String(payload)));
    });
    await page.goto(`${base}/approvals?view=mine`);
    const apiDialog = page.getByRole('dialog', { name: 'API token' });
    await apiDialog.getByLabel('API token').fill(API_TOKEN);
    await apiDialog.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('Sign in with your user token to see the approvals waiting for you.').waitFor();
    await signIn('not-anybody-s-token-0123456789');
    await page.getByRole('dialog').getByText(/Token rejected/).waitFor();
    await page.getByRole('textbox', { name: 'user token' }).fill(MANAGER);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByLabel('signed in user').textContent()).toBe('manager');
    // Live on the signed-in user's topics: their own and their role's.
    await expect.poll(() => sent.some((f) => f.includes('"approvals:manager"') && f.includes('"approvals:role:finance"'))).toBe(true);
    // With NOVA_USERS the server admits them only with the user's token, sent with those topics alone.
    const subscribe = sent.map((f) => JSON.parse(f)).find((f) => f.type === 'subscribe' && f.topics.includes('approvals:manager'));
    expect(subscribe).toMatchObject({ userToken: MANAGER, topics: ['approvals:manager', 'approvals:role:finance'] });
    await expect.poll(() => received.some((f) => f.includes('"subscribed"') && f.includes('"approvals:manager"') && f.includes('"approvals:role:finance"'))).toBe(true);
    expect(received.filter((f) => f.includes('"forbidden"'))).toEqual([]);
    // A new request arrives live on the role's topic, and its event carries no signed link.
    const { run: next } = await startRun(runtime.depsOf<WorkflowEngine>('workflows')!, 'demo.expense', { amount: 33, approvers: ['role:finance'] }, { submittedBy: 'ana' });
    await expect.poll(() => received.some((f) => f.includes('"approval.requested"') && f.includes(next.id)), { timeout: 15_000 }).toBe(true);
    expect(received.filter((f) => f.includes('"approval.requested"')).join('\n')).not.toMatch(/token=|"links"/);
    // The 401s about the personal token left the API token alone.
    expect(await apiDialog.count()).toBe(0);
    expect(await page.evaluate(() => localStorage.getItem('nova.token'))).toBe(API_TOKEN);

    // A role approver's card: "mine" through the role the token's user holds.
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

    // The token stays in this browser: the decided view shows the audit trail, still signed in.
    await page.goto(`${base}/approvals?view=decided`);
    await expect.poll(() => page.getByLabel('signed in user').textContent()).toBe('manager');
    const decided = page.locator('article[data-approval]').filter({ hasText: 'Approve an expense of 120?' });
    await decided.getByRole('table', { name: 'Decisions' }).getByText('manager').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('shows the server refusing a run starter who approves their own run, recording nothing', async () => {
    const { run } = await startRun(runtime.depsOf<WorkflowEngine>('workflows')!, 'demo.expense', { amount: 75, approvers: ['manager', 'ana'] }, { submittedBy: 'ana' });
    await page.goto(`${base}/approvals?view=mine`);
    await page.evaluate(() => localStorage.removeItem('nova.userToken'));
    await page.reload();
    await signIn(ANA);
    await expect.poll(() => page.getByLabel('signed in user').textContent()).toBe('ana');
    const card = page.locator('article[data-approval]').filter({ hasText: 'Approve an expense of 75?' });
    await card.waitFor({ timeout: 15_000 });
    await card.getByLabel('amount *').fill('75');
    await card.getByLabel('costCentre *').selectOption('rnd');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.getByRole('alert').getByText('Refused: ana started this run and may not decide its approval').waitFor();
    const approval = (await (await fetch(`${base}/api/approvals?runId=${run.id}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json()) as { approvals: { status: string; decisions: unknown[] }[] };
    expect(approval.approvals[0]).toMatchObject({ status: 'pending', decisions: [] });
    expect((await store.getRun(db.sql, run.id))!.status).toBe('waiting');
    expect(pageErrors).toEqual([]);
  });

  it('without NOVA_USERS (development) decides as the name typed in the page', async () => {
    const port = await freePort();
    const dev = await startRuntime(db, [apiDomain, workflowsDomain({ workflows: exampleWorkflows }), dashboardDomain(webDir)], {
      WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1',
    });
    try {
      const { run } = await startRun(runtime.depsOf<WorkflowEngine>('workflows')!, 'demo.expense', { amount: 60, approvers: ['manager'] }, { submittedBy: 'ana' });
      await page.goto(`http://127.0.0.1:${port}/approvals?view=mine`);
      await page.getByLabel('your user name').fill('manager');
      const card = page.locator('article[data-approval]').filter({ hasText: 'Approve an expense of 60?' });
      await card.waitFor({ timeout: 15_000 });
      await card.getByLabel('amount *').fill('60');
      await card.getByLabel('costCentre *').selectOption('sales');
      await card.getByRole('button', { name: 'Approve' }).click();
      await until(async () => (await store.getRun(db.sql, run.id))!.status === 'completed', 10_000, 'the run to complete');
      expect((await store.getRun(db.sql, run.id))!.output).toEqual({ paid: true, amount: 60, costCentre: 'sales' });
      expect(pageErrors).toEqual([]);
    } finally {
      await dev.stop();
    }
  });
});
