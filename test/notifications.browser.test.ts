import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardDomain } from '../src/http/dashboard.ts';
import { apiDomain, fanoutDomain } from '../src/http/index.ts';
import { createNotify } from '../src/notify/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { workflowEngineOf, workflowsDomain, type WorkflowsDomain } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { freePort, startRuntime } from './helpers/runtime.ts';

/**
 * The notifications pages in headless Chromium: a notification created through the API shows its
 * deliveries per channel with attempts and rendered content; the in-app inbox demo shows a new
 * message pushed over /ws (polling is a minute apart while the socket is open) and marking it
 * read brings the unread count down.
 */
if (!existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);

describe.skipIf(!existsSync(CHROMIUM))('notifications pages in headless Chromium', () => {
  let db: TestDb;
  let runtime: Runtime;
  let browser: Browser;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, method === 'GET' ? {} : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    expect(res.status, `${method} ${path}`).toBeLessThan(300);
    return (await res.json()) as Record<string, any>;
  };

  beforeAll(async () => {
    const webDir = await dashboardBuild();
    db = await backends[0]!.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const notify = createNotify({ engine: workflowEngineOf });
    const wf: WorkflowsDomain = { ...workflowsDomain({ workflows: notify.workflows }), setupRoles: ['notifications'] };
    // No NOTIFY_SMTP_URL and no VAPID keys: the in-process SMTP sink and push service, as the demo has them.
    runtime = await startRuntime(db, [apiDomain, fanoutDomain, wf, notify.domain, dashboardDomain(webDir)], {
      WORKER_TYPE: 'api,fanout,notifications,workflow-runner', PORT: String(port), API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '200',
    });
    await api('PUT', '/api/notify/templates/ship-email', { channel: 'EMAIL', subject: 'Order {{ orderId }} shipped', body: '<p>Hello {{ subscriber.name }}</p>' });
    await api('PUT', '/api/notify/templates/ship-inapp', { channel: 'IN_APP', subject: 'Order {{ orderId }}', body: 'On its way to {{ city }}' });
    await api('PUT', '/api/notify/templates/ship-push', { channel: 'PUSH', subject: 'Shipped: {{ orderId }}', body: 'Track it, {{ subscriber.name }}' });
    await api('PUT', '/api/notify/workflows/shipped', {
      defaultChannels: ['EMAIL', 'IN_APP', 'PUSH'], templates: { EMAIL: 'ship-email', IN_APP: 'ship-inapp', PUSH: 'ship-push' },
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

  async function subscriber(): Promise<string> {
    const id = randomUUID();
    const browserSubscription = await api('POST', '/api/notify/emulator/push/subscriptions');
    await api('PUT', `/api/notify/subscribers/${id}`, { name: 'Lin', email: `${id.slice(0, 8)}@example.com`, pushSubscriptions: [browserSubscription] });
    return id;
  }

  it('lists a notification and shows its deliveries per channel with attempts and rendered content', async () => {
    const sub = await subscriber();
    const { notification } = await api('POST', '/api/notifications', { workflowKey: 'shipped', recipients: [sub], payload: { orderId: 'B-42', city: 'Lyon' } });
    await page.goto(`${base}/notifications`);
    const row = page.getByRole('table', { name: 'Notifications' }).getByRole('row').filter({ has: page.getByRole('link', { name: String(notification.id), exact: true }) });
    await row.getByText('SENT').waitFor({ timeout: 15_000 });
    await row.getByRole('link', { name: String(notification.id), exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(`Notification ${notification.id}`) }).waitFor();
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    const channelRow = (channel: string) => deliveries.getByRole('row').filter({ has: page.getByRole('cell', { name: channel, exact: true }) });
    await channelRow('PUSH').getByText('SENT').waitFor({ timeout: 15_000 });
    for (const [channel, subject, body] of [
      ['EMAIL', 'Order B-42 shipped', '<p>Hello Lin</p>'], ['IN_APP', 'Order B-42', 'On its way to Lyon'], ['PUSH', 'Shipped: B-42', 'Track it, Lin'],
    ] as const) {
      const r = channelRow(channel);
      await r.getByText('SENT').waitFor();
      expect(await r.getByRole('cell').nth(3).textContent(), `${channel} attempts`).toBe('1');
      await r.getByText(subject, { exact: true }).waitFor();
      await r.getByText(body, { exact: true }).waitFor();
    }
    await page.getByRole('link', { name: 'delivery run' }).waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('resends a notification that failed for want of a template, from its page, once the template exists', async () => {
    await api('PUT', '/api/notify/workflows/shipped-late', { defaultChannels: ['IN_APP'], templates: { IN_APP: 'late-inapp' } });
    const sub = await subscriber();
    const { notification } = await api('POST', '/api/notifications', { workflowKey: 'shipped-late', recipients: [sub], payload: { city: 'Turku' } });
    await page.goto(`${base}/notifications/${notification.id}`);
    const heading = page.getByRole('heading', { name: new RegExp(`Notification ${notification.id}`) });
    await heading.getByText('FAILED').waitFor({ timeout: 15_000 });
    await api('PUT', '/api/notify/templates/late-inapp', { channel: 'IN_APP', subject: 'Late', body: 'Now on its way to {{ city }}' });
    await page.getByRole('button', { name: 'Resend' }).click();
    await heading.getByText('SENT').waitFor({ timeout: 15_000 });
    await page.getByRole('table', { name: 'Deliveries' }).getByText('Now on its way to Turku', { exact: true }).waitFor();
    await expect(page.getByRole('button', { name: 'Resend' }).count()).resolves.toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('shows a new in-app message live over /ws and counts it read once marked', async () => {
    const sub = await subscriber();
    const frames: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
    await page.goto(`${base}/notifications/inbox`);
    await page.getByLabel('Subscriber').fill(sub);
    await page.getByText('No message.').waitFor();
    // With the socket open the inbox polls once a minute: what shows up sooner came over /ws.
    await page.locator('.live-open').waitFor({ timeout: 10_000 });
    await api('POST', '/api/notifications', { workflowKey: 'shipped', recipients: [sub], channels: ['IN_APP'], payload: { orderId: 'C-7', city: 'Oslo' } });
    const inbox = page.getByRole('table', { name: 'Inbox' });
    const message = inbox.getByRole('row').filter({ hasText: 'On its way to Oslo' });
    await message.waitFor({ timeout: 10_000 });
    await page.getByRole('heading', { name: /1 unread/ }).waitFor();
    // The page subscribed to its subscriber's topic and got the message event there.
    expect(frames.some((f) => f.includes(`"inbox:${sub}"`) && f.includes('inbox.message'))).toBe(true);
    await message.getByRole('button', { name: 'Read' }).click();
    await page.getByRole('heading', { name: /0 unread/ }).waitFor({ timeout: 5_000 });
    await expect(message.getByRole('button', { name: 'Read' }).count()).resolves.toBe(0);
    expect(await api('GET', `/api/notify/inbox/${sub}`)).toMatchObject({ unread: 0, total: 1 });
    expect(pageErrors).toEqual([]);
  });
});
