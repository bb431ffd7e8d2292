import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { loadNovaConfig } from '../src/domains.ts';
import { SmtpSink } from '../src/emulators/smtp/index.ts';
import { PushServiceEmulator } from '../src/emulators/webpush/index.ts';
import { apiDomain } from '../src/http/index.ts';
import { createNotify } from '../src/notify/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { workflowEngineOf, workflowsDomain, type WorkflowsDomain } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/** Web push (VAPID + aes128gcm) against the local push service, and the address guard of subscriber URLs. */

function processDomains() {
  const notify = createNotify({ engine: workflowEngineOf });
  const wf: WorkflowsDomain = { ...workflowsDomain({ workflows: notify.workflows }), setupRoles: ['notifications'] };
  return [apiDomain, wf, notify.domain];
}

const vapid = webpush.generateVAPIDKeys();

/** A webhook receiver on loopback: a target the address guard must keep subscribers away from. */
async function receiver(): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

/** One process of Nova with its API on `base`. */
async function nova(db: TestDb, env: Record<string, string>) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const runtime = await startRuntime(db, processDomains(), {
    WORKER_TYPE: 'api,notifications,workflow-runner', API_HOST: '127.0.0.1', PORT: String(port), POLL_INTERVAL_MS: '200',
    NOTIFY_DELIVERY_ATTEMPTS: '3', NOTIFY_RETRY_BASE_MS: '50', NOTIFY_REDISPATCH_BASE_MS: '100', ...env,
  });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, { method, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as any };
  };
  const settled = async (id: number) => {
    let last: any;
    await until(async () => {
      last = (await api('GET', `/api/notifications/${id}`)).body;
      return ['SENT', 'FAILED'].includes(last.notification?.status);
    }, 15_000, `notification ${id} settled`);
    return last as { notification: any; deliveries: any[] };
  };
  return { runtime, api, settled };
}

describe('push configuration', () => {
  it('stops at start when the VAPID identity is incomplete or malformed', () => {
    const load = (env: Record<string, string>) => () => loadNovaConfig(env);
    expect(load({ VAPID_PUBLIC_KEY: vapid.publicKey })).toThrow(ConfigError);
    try {
      loadNovaConfig({ VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: 'c2hvcnQ', VAPID_SUBJECT: 'ops@example.com' });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.variable).sort()).toEqual(['VAPID_PRIVATE_KEY', 'VAPID_SUBJECT']);
    }
    expect(loadNovaConfig({ VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: 'mailto:ops@example.com' }).VAPID_SUBJECT)
      .toBe('mailto:ops@example.com');
  });
});

describe.each(backends)('web push on $name', (backend) => {
  let db: TestDb;
  let n: Awaited<ReturnType<typeof nova>>;
  const sink = new SmtpSink();
  const push = new PushServiceEmulator();

  beforeAll(async () => {
    db = await backend.create();
    await Promise.all([sink.start(), push.start()]);
    n = await nova(db, {
      NOTIFY_SMTP_URL: sink.url, VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: 'mailto:ops@example.com',
      NOTIFY_PUSH_TTL_SECONDS: '600',
      // The push service emulator listens on loopback.
      NOTIFY_ALLOW_PRIVATE_WEBHOOKS: 'true',
    });
    await n.api('PUT', '/api/notify/templates/order-push', {
      channel: 'PUSH', subject: 'Order {{ orderId }}', body: 'Hi {{ subscriber.name }}, order {{ orderId }} shipped', actionUrl: 'https://shop.example/o/{{ orderId }}',
    });
    expect((await n.api('PUT', '/api/notify/workflows/order-push', { defaultChannels: ['PUSH'], templates: { PUSH: 'order-push' } })).status).toBe(200);
  });
  afterAll(async () => {
    await n?.runtime.stop();
    await Promise.all([sink.stop(), push.stop()]);
    await db?.drop();
  });

  async function subscriberWith(subscriptions: unknown[]): Promise<string> {
    const id = randomUUID();
    const r = await n.api('PUT', `/api/notify/subscribers/${id}`, { name: 'Grace', pushSubscriptions: subscriptions });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return id;
  }

  it('encrypts the rendered title, body and action for the browser and signs VAPID for the push service', async () => {
    // Bound to our VAPID key as a browser's applicationServerKey: another key would get 403.
    const browser = push.subscribe(vapid.publicKey);
    const sub = await subscriberWith([browser]);
    const created = await n.api('POST', '/api/notifications', {
      workflowKey: 'order-push', recipients: [sub], payload: { orderId: 'P-9' },
      overrides: { channels: { PUSH: { subject: '{{ orderId }} is on its way', body: 'Hello {{ subscriber.name }}', actionUrl: 'https://shop.example/orders/{{ orderId }}' } } },
    });
    const done = await n.settled(created.body.notification.id);
    expect(done.notification.status).toBe('SENT');
    const [delivery] = push.deliveriesTo(browser.endpoint);
    expect(delivery).toMatchObject({ ttl: 600, vapidKey: vapid.publicKey, vapidSubject: 'mailto:ops@example.com', topic: `nova-${done.notification.id}` });
    expect(JSON.parse(delivery!.payload)).toEqual({
      title: 'P-9 is on its way', body: 'Hello Grace', actionUrl: 'https://shop.example/orders/P-9',
      notificationId: done.notification.id, workflow: 'order-push', transactionId: done.notification.transactionId,
    });
    const row = done.deliveries.find((d) => d.channel === 'PUSH');
    expect(row).toMatchObject({ status: 'SENT', provider: 'webpush', providerMessageId: expect.stringMatching(new RegExp(`^${push.url}/m/`)) });
    expect(row.content).toMatchObject({ subject: 'P-9 is on its way', body: 'Hello Grace', actionUrl: 'https://shop.example/orders/P-9' });
  });

  it('renders the workflow template, its action included, when no override is given', async () => {
    const browser = push.subscribe();
    const sub = await subscriberWith([browser]);
    const created = await n.api('POST', '/api/notifications', { workflowKey: 'order-push', recipients: [sub], payload: { orderId: 'T-1' } });
    expect((await n.settled(created.body.notification.id)).notification.status).toBe('SENT');
    expect(JSON.parse(push.deliveriesTo(browser.endpoint)[0]!.payload)).toMatchObject({ title: 'Order T-1', body: 'Hi Grace, order T-1 shipped', actionUrl: 'https://shop.example/o/T-1' });
    const preview = await n.api('POST', '/api/notify/templates/preview', { templateKey: 'order-push', payload: { orderId: 'V-2' }, subscriber: { name: 'Ida' } });
    expect(preview.body).toMatchObject({ channel: 'PUSH', subject: 'Order V-2', body: 'Hi Ida, order V-2 shipped', actionUrl: 'https://shop.example/o/V-2' });
  });

  it('removes a subscription the push service calls gone (410) and fails at once when none is left', async () => {
    const [phone, laptop] = [push.subscribe(), push.subscribe()];
    push.expire(phone.endpoint);
    const sub = await subscriberWith([phone, laptop]);
    const first = await n.settled((await n.api('POST', '/api/notifications', { workflowKey: 'order-push', recipients: [sub], payload: { orderId: 'G-1' } })).body.notification.id);
    expect(first.notification.status).toBe('SENT');
    expect(push.deliveriesTo(laptop.endpoint)).toHaveLength(1);
    expect(push.deliveriesTo(phone.endpoint)).toHaveLength(0);
    expect((await n.api('GET', `/api/notify/subscribers/${sub}`)).body.subscriber.pushSubscriptions.map((s: { endpoint: string }) => s.endpoint)).toEqual([laptop.endpoint]);

    push.expire(laptop.endpoint);
    const second = await n.settled((await n.api('POST', '/api/notifications', { workflowKey: 'order-push', recipients: [sub], payload: { orderId: 'G-2' } })).body.notification.id);
    expect(second.notification.status).toBe('FAILED');
    const row = second.deliveries.find((d) => d.channel === 'PUSH');
    expect(row).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(row.error).toMatch(/gone/);
    expect((await n.api('GET', `/api/notify/subscribers/${sub}`)).body.subscriber.pushSubscriptions).toEqual([]);
    // With no subscription left, the next notification skips push for this subscriber.
    const third = await n.settled((await n.api('POST', '/api/notifications', { workflowKey: 'order-push', recipients: [sub], payload: { orderId: 'G-3' } })).body.notification.id);
    expect(third.deliveries.find((d) => d.channel === 'PUSH')).toMatchObject({ status: 'SKIPPED', error: 'subscriber has no push subscription' });
  });

  it('retries a push service outage, then delivers', async () => {
    const browser = push.subscribe();
    const sub = await subscriberWith([browser]);
    push.failNext(1);
    const done = await n.settled((await n.api('POST', '/api/notifications', { workflowKey: 'order-push', recipients: [sub], payload: { orderId: 'R-1' } })).body.notification.id);
    expect(done.notification.status).toBe('SENT');
    expect(done.deliveries.find((d) => d.channel === 'PUSH')).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(push.deliveriesTo(browser.endpoint)).toHaveLength(1);
  });

  it('adds a browser\'s subscription (the same endpoint replaced, the newest 20 kept) and removes one by endpoint', async () => {
    const sub = await subscriberWith([]);
    const [a, b] = [push.subscribe(), push.subscribe()];
    const add = (s: unknown) => n.api('POST', `/api/notify/subscribers/${sub}/push-subscriptions`, s);
    expect((await add(a)).status).toBe(201);
    expect((await add(b)).status).toBe(201);
    // The browser subscribed again on the same endpoint with new keys: one entry, the new keys.
    const again = { ...a, keys: push.subscribe().keys };
    const after = (await add(again)).body.subscriber.pushSubscriptions;
    expect(after).toEqual([{ endpoint: b.endpoint, keys: b.keys }, { endpoint: a.endpoint, keys: again.keys }]);
    for (let i = 0; i < 25; i++) await add(push.subscribe());
    expect((await n.api('GET', `/api/notify/subscribers/${sub}`)).body.subscriber.pushSubscriptions).toHaveLength(20);
    const del = await n.api('DELETE', `/api/notify/subscribers/${sub}/push-subscriptions?endpoint=${encodeURIComponent(after[0].endpoint)}`);
    expect(del.body).toEqual({ removed: false });
    const last = (await n.api('GET', `/api/notify/subscribers/${sub}`)).body.subscriber.pushSubscriptions.at(-1);
    expect((await n.api('DELETE', `/api/notify/subscribers/${sub}/push-subscriptions?endpoint=${encodeURIComponent(last.endpoint)}`)).body).toEqual({ removed: true });
    expect((await n.api('GET', `/api/notify/subscribers/${sub}`)).body.subscriber.pushSubscriptions).toHaveLength(19);
    expect((await n.api('POST', `/api/notify/subscribers/${randomUUID()}/push-subscriptions`, push.subscribe())).status).toBe(404);
  });

  it('refuses a subscription with keys that are not a browser\'s', async () => {
    const r = await n.api('PUT', `/api/notify/subscribers/${randomUUID()}`, { pushSubscriptions: [{ endpoint: `${push.url}/wpush/x`, keys: { p256dh: 'abc', auth: 'def' } }] });
    expect(r.status).toBe(400);
  });
});

describe.each(backends)('the address guard of subscriber URLs on $name', (backend) => {
  let db: TestDb;
  let n: Awaited<ReturnType<typeof nova>>;
  const sink = new SmtpSink();
  const push = new PushServiceEmulator();
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    db = await backend.create();
    await Promise.all([sink.start(), push.start()]);
    hook = await receiver();
    n = await nova(db, {
      NOTIFY_SMTP_URL: sink.url, VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: 'https://nova.example/contact',
      // These tests read a delivery's first dispatch: the FAILED poller must not dispatch it again
      // (100 ms later otherwise) before the test has read it, however slow the machine.
      NOTIFY_REDISPATCH_BASE_MS: '600000',
    });
    await n.api('PUT', '/api/notify/workflows/alert', { defaultChannels: ['CHAT', 'PUSH'] });
  });
  afterAll(async () => {
    await n?.runtime.stop();
    await Promise.all([sink.stop(), push.stop(), hook?.close()]);
    await db?.drop();
  });

  const port = () => new URL(hook.url).port;

  it.each([
    ['loopback', () => `${hook.url}/hook`],
    ['a name resolving to loopback', () => `http://localhost:${port()}/hook`],
    ['IPv4-mapped IPv6 loopback', () => `http://[::ffff:127.0.0.1]:${port()}/hook`],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/'],
  ])('fails a chat delivery to %s once, with the reason, and calls nothing', async (_what, url) => {
    const id = randomUUID();
    expect((await n.api('PUT', `/api/notify/subscribers/${id}`, { chatWebhookUrl: url(), data: { chatFormat: 'webhook' } })).status).toBe(200);
    const created = await n.api('POST', '/api/notifications', {
      workflowKey: 'alert', recipients: [id], channels: ['CHAT'], payload: {}, overrides: { channels: { CHAT: { body: 'disk full' } } },
    });
    const done = await n.settled(created.body.notification.id);
    expect(done.notification.status).toBe('FAILED');
    const row = done.deliveries.find((d) => d.channel === 'CHAT');
    // Refused before any request: one attempt, no retry.
    expect(row).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(row.error).toMatch(/refused to call .*(loopback|link-local)/);
    expect(hook.hits).toEqual([]);
  });

  it('fails a push to a private endpoint without calling it', async () => {
    const browser = push.subscribe();
    const id = randomUUID();
    expect((await n.api('PUT', `/api/notify/subscribers/${id}`, { pushSubscriptions: [browser] })).status).toBe(200);
    const created = await n.api('POST', '/api/notifications', {
      workflowKey: 'alert', recipients: [id], channels: ['PUSH'], payload: {}, overrides: { channels: { PUSH: { subject: 'x', body: 'y' } } },
    });
    const done = await n.settled(created.body.notification.id);
    expect(done.deliveries.find((d) => d.channel === 'PUSH')).toMatchObject({ status: 'FAILED', attempts: 1, error: expect.stringMatching(/refused to call/) });
    expect(push.deliveries).toEqual([]);
    // The subscription is not pruned: the push service never said it was gone.
    expect((await n.api('GET', `/api/notify/subscribers/${id}`)).body.subscriber.pushSubscriptions).toHaveLength(1);
  });
});
