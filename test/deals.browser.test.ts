import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinAnalyzer, type BriefFacts } from '../src/deals/analysis.ts';
import { narrativeOf, type Sections } from '../src/deals/brief.ts';
import { prepareDealsDemo, type DealsDemo } from '../src/deals/demo.ts';
import { createDealsDomain } from '../src/deals/index.ts';
import * as sources from '../src/deals/sources-store.ts';
import * as store from '../src/deals/store.ts';
import { domains, loadNovaConfig } from '../src/domains.ts';
import { dashboardDomain } from '../src/http/dashboard.ts';
import { silentLogger } from '../src/log.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, until } from './helpers/runtime.ts';

/**
 * The deal page in headless Chromium, on the demo `nova start` sets up (an emulated Drive data
 * room with a scan, three emails): the brief's Markdown rendered as elements, the narrative an
 * LLM wrote at its top shown as text even when it holds markup, the documents with their
 * status, workstream, summary and risks, and the Drive source with its cursor and last sync.
 */
if (!existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);

/** The builtin analyses plus a narrative, as the LLM emulator writes it, with markup a page must not run. */
class NarratingAnalyzer extends BuiltinAnalyzer {
  async narrateBrief(facts: BriefFacts) {
    const n = narrativeOf(facts.dealName, facts.sections as unknown as Sections);
    return { ...n, summary: `${n.summary} <img src=x onerror="window.__injected=1">` };
  }
}

describe.skipIf(!existsSync(CHROMIUM)).each(backends)('deal page in headless Chromium on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let demo: DealsDemo | undefined;
  let browser: Browser;
  let page: Page;
  let base: string;
  let dealId: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const webDir = await dashboardBuild();
    db = await backend.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const roles = 'api,daily-brief,documents,emails,source-sync';
    const loaded = loadNovaConfig({ ...db.env, WORKER_TYPE: roles, NOVA_DEMO: 'true', PORT: String(port), API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '100', WORKER_HEALTH_PORT: '0' });
    demo = await prepareDealsDemo(loaded, new Set(roles.split(',')));
    expect(demo).toBeDefined();
    const served = domains.map((d) => (d.name === 'dashboard' ? dashboardDomain(webDir) : d.name === 'deals' ? createDealsDomain({ analyzer: new NarratingAnalyzer() }) : d));
    runtime = new Runtime({ config: demo!.config, domains: served, logger: silentLogger, health: false, ...(db.env.DATABASE_URL ? {} : { sql: db.sql }) });
    await runtime.start();
    await demo!.begin(runtime);
    dealId = (await store.listDeals(db.sql)).find((d) => d.name === 'Demo: Project Falcon')!.id;
    // Every file synced and summarized (the scan by OCR), then today's brief, as the demo queues it.
    await until(async () => {
      const docs = await store.listDocuments(db.sql, dealId);
      return docs.length === 5 && docs.every((d) => d.summary && d.risks);
    }, 60_000, 'the demo documents to be read');
    const res = await fetch(`${base}/api/deals/${dealId}/briefs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(202);
    await until(async () => (await store.listBriefs(db.sql, dealId)).some((b) => b.status === 'published'), 30_000, 'the demo brief');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
    await demo?.stop();
    await db?.drop();
  });

  it('renders the brief narrative and sections, and lists the documents and the source', async () => {
    await page.goto(`${base}/deals/${dealId}`);
    const brief = page.getByRole('article', { name: 'Latest brief' });
    await brief.waitFor({ timeout: 15_000 });
    // The Markdown is elements, not text: a heading, the narrative's headline in bold, list items.
    await brief.getByRole('heading', { name: /Demo: Project Falcon: daily brief, \d{4}-\d{2}-\d{2}/ }).waitFor();
    await expect(brief.locator('strong').first().textContent()).resolves.toMatch(/^Demo: Project Falcon: \d+% reviewed, \d+ blockers?, \d+ risks?$/);
    await brief.getByRole('heading', { name: 'Blockers' }).waitFor();
    await brief.getByRole('listitem').filter({ hasText: 'Data room access for the lender' }).first().waitFor();
    expect(await brief.textContent()).not.toMatch(/\*\*|^#|## /m);
    // The model's markup is shown as its characters; nothing ran.
    await brief.getByText('<img src=x onerror="window.__injected=1">', { exact: false }).waitFor();
    expect(await brief.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected)).toBeUndefined();

    const docs = page.getByRole('table', { name: 'Documents' });
    const scan = docs.getByRole('row').filter({ hasText: 'Environmental survey (scan).pdf' });
    await expect(scan.textContent()).resolves.toMatch(/asbestos/);
    await expect(scan.textContent()).resolves.toMatch(/high|medium|low/);
    expect(await docs.getByRole('row').count()).toBe(6);
    await docs.getByRole('row').filter({ hasText: 'Share purchase agreement' }).getByText('Legal exposure').waitFor();

    const src = page.getByRole('table', { name: 'Sources' }).getByRole('row').filter({ hasText: 'gdrive' });
    await src.getByText('demo-data-room').waitFor();
    await src.getByText(/saved/).waitFor();
    expect(await src.textContent()).not.toMatch(/never/);
    expect(pageErrors).toEqual([]);
  });

  it('keeps earlier briefs folded, rendered when opened, and shows a source\'s last error in its own column', async () => {
    const res = await fetch(`${base}/api/deals/${dealId}/briefs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ date: '2026-01-15' }) });
    expect(res.status).toBe(202);
    await until(async () => (await store.getBrief(db.sql, dealId, '2026-01-15'))?.status === 'published', 30_000, 'the earlier brief');
    await sources.markSourceFailed(db.sql, dealId, 'gdrive', 'Drive answered 403: rate limit exceeded');
    await page.goto(`${base}/deals/${dealId}`);
    const earlier = page.locator('details').filter({ hasText: '2026-01-15' });
    await earlier.locator('summary').click({ timeout: 15_000 });
    await earlier.getByRole('article', { name: 'Brief of 2026-01-15' }).getByRole('heading', { name: 'Demo: Project Falcon: daily brief, 2026-01-15' }).waitFor();
    // The latest brief stays the one on top.
    expect(await page.getByRole('article', { name: 'Latest brief' }).getAttribute('data-brief-date')).not.toBe('2026-01-15');
    const row = page.getByRole('table', { name: 'Sources' }).getByRole('row').filter({ hasText: 'gdrive' });
    await row.getByRole('cell', { name: 'Drive answered 403: rate limit exceeded', exact: true }).waitFor();
    await page.getByRole('table', { name: 'Emails' }).getByRole('row').filter({ hasText: 'Data room access for the lender' }).getByText('blocker', { exact: true }).waitFor();
    expect(pageErrors).toEqual([]);
  });
});
