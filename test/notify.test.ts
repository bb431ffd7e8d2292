import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink } from '../src/emulators/smtp/index.ts';
import { TwilioEmulator } from '../src/emulators/twilio/index.ts';
import { NovuEmulator } from '../src/emulators/novu/index.ts';
import { apiDomain } from '../src/http/index.ts';
import { createNotify } from '../src/notify/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { workflowEngineOf, workflowsDomain, type WorkflowsDomain } from '../src/workflows/index.ts';
import * as runs from '../src/workflows/store.ts';
import * as store from '../src/notify/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/** A chat webhook receiver: records each request's headers and body. */
async function chatReceiver(): Promise<{ url: string; hits: { path: string; headers: Record<string, unknown>; body: string }[]; close(): Promise<void> }> {
  const hits: { path: string; headers: Record<string, unknown>; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += String(c)));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

/** One Nova process's domains: its own notify domain and workflows engine. */
function processDomains() {
  const notify = createNotify({ engine: workflowEngineOf });
  const wf: WorkflowsDomain = { ...workflowsDomain({ workflows: notify.workflows }), setupRoles: ['notifications'] };
  return [apiDomain, wf, notify.domain];
}

const SECRET = 'chat-signing-secret-0123456789';

describe.each(backends)('notifications on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let base: string;
  const sink = new SmtpSink();
  const twilio = new TwilioEmulator({ accountSid: 'AC123', authToken: 'tok' });
  const novu = new NovuEmulator('novu-secret');
  let chat: Awaited<ReturnType<typeof chatReceiver>>;
  const env = () => ({
    WORKER_TYPE: 'api,notifications,workflow-runner', API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '200',
    NOTIFY_SMTP_URL: sink.url, NOTIFY_DELIVERY_ATTEMPTS: '2', NOTIFY_RETRY_BASE_MS: '50',
    // FAILED rows wait 10 min before the pollers dispatch them again: a test reads the FAILED state
    // it made, then moves updated_at back itself (with 100 ms, a loaded machine saw the row
    // dispatched to its limit before the test read it).
    NOTIFY_REDISPATCH_BASE_MS: '600000',
    TWILIO_API_URL: twilio.url, TWILIO_ACCOUNT_SID: 'AC123', TWILIO_AUTH_TOKEN: 'tok', TWILIO_FROM: '+15550000000',
    NOTIFY_WEBHOOK_SECRET: SECRET, NOVU_SECRET_KEY: 'novu-secret', NOVU_API_URL: novu.url,
    // The chat receiver listens on loopback, which the address guard refuses by default.
    NOTIFY_ALLOW_PRIVATE_WEBHOOKS: 'true',
  });

  beforeAll(async () => {
    db = await backend.create();
    await Promise.all([sink.start(), twilio.start(), novu.start()]);
    chat = await chatReceiver();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    runtime = await startRuntime(db, processDomains(), { ...env(), PORT: String(port) }, { health: true });
    await api('PUT', '/api/notify/templates/welcome-email', { channel: 'EMAIL', subject: 'Hello {{ subscriber.name }}', body: '<p>Order {{ orderId }} ships {{ when | default: "soon" }}</p>' });
    await api('PUT', '/api/notify/templates/welcome-inapp', { channel: 'IN_APP', subject: 'Order {{ orderId }}', body: 'Your order {{ orderId }} is on its way' });
    await api('PUT', '/api/notify/templates/welcome-sms', { channel: 'SMS', body: 'Order {{ orderId }} shipped. Reply STOP to opt out' });
    await api('PUT', '/api/notify/templates/welcome-chat', { channel: 'CHAT', subject: 'Order', body: 'Order {{ orderId }} shipped' });
    const templates = { EMAIL: 'welcome-email', IN_APP: 'welcome-inapp', SMS: 'welcome-sms', CHAT: 'welcome-chat' };
    expect((await api('PUT', '/api/notify/workflows/order-shipped', { defaultChannels: ['EMAIL', 'IN_APP'], templates })).status).toBe(200);
    await api('PUT', '/api/notify/workflows/security-alert', { defaultChannels: ['EMAIL'], templates, critical: true });
    await api('PUT', '/api/notify/workflows/forwarded', { defaultChannels: ['IN_APP'], forwardToNovu: true });
  });
  afterAll(async () => {
    await runtime?.stop();
    await Promise.all([sink.stop(), twilio.stop(), novu.stop(), chat?.close()]);
    await db?.drop();
  });

  async function api(method: string, path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, { method, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as any };
  }

  async function subscriber(extra: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    const r = await api('PUT', `/api/notify/subscribers/${id}`, { name: 'Ada', email: `${id.slice(0, 8)}@example.com`, ...extra });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return id;
  }

  async function settled(id: number, statuses = ['SENT', 'FAILED', 'RETRACTED']) {
    let last: any;
    await until(async () => {
      last = (await api('GET', `/api/notifications/${id}`)).body;
      return statuses.includes(last.notification?.status);
    }, 15_000, `notification ${id} in ${statuses.join('/')}`);
    return last as { notification: any; deliveries: any[] };
  }

  const mailsFor = (address: string) => sink.messages().filter((m) => m.to.includes(address));

  it('delivers email and in-app through a workflow run, rendering the templates', async () => {
    const sub = await subscriber();
    const created = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], payload: { orderId: 'A-17' } });
    expect(created.status).toBe(201);
    expect(created.body.notification.status).toBe('PENDING');
    const done = await settled(created.body.notification.id);
    expect(done.notification.status).toBe('SENT');
    expect(done.notification.processedAt).not.toBeNull();
    expect(done.deliveries.map((d) => [d.channel, d.status]).sort()).toEqual([['EMAIL', 'SENT'], ['IN_APP', 'SENT']]);
    const email = done.deliveries.find((d) => d.channel === 'EMAIL');
    expect(email.content).toMatchObject({ subject: 'Hello Ada', body: '<p>Order A-17 ships soon</p>' });
    const mails = mailsFor(`${sub.slice(0, 8)}@example.com`);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Hello Ada');
    expect(mails[0]!.raw).toContain('Order A-17 ships soon');
    const inbox = await api('GET', `/api/notify/inbox/${sub}`);
    expect(inbox.body).toMatchObject({ unread: 1, unseen: 1, total: 1 });
    expect(inbox.body.messages[0]).toMatchObject({ title: 'Order A-17', body: 'Your order A-17 is on its way', read: false });
    // The delivery is a run of notify.deliver with a step per recipient × channel.
    await until(async () => (await runs.getRun(db.sql, done.notification.runId))?.status === 'completed');
    const run = await runs.getRun(db.sql, done.notification.runId);
    expect(run).toMatchObject({ workflow: 'notify.deliver', status: 'completed' });
    const steps = (await db.sql.query<{ step_id: string }>('select step_id from run_steps where run_id = $1 order by step_id', [run!.id])).map((s) => s.step_id);
    expect(steps).toEqual(expect.arrayContaining(['plan', `send:${sub}:EMAIL`, `send:${sub}:IN_APP`, 'finish']));
  });

  it('is idempotent by transaction id and answers 4xx with a reason for bad input', async () => {
    const sub = await subscriber();
    const body = { workflowKey: 'order-shipped', recipients: [sub], payload: { orderId: 'B-1' }, transactionId: `tx-${sub}`, channels: ['IN_APP'] };
    const first = await api('POST', '/api/notifications', body);
    const second = await api('POST', '/api/notifications', body);
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body).toMatchObject({ created: false, notification: { id: first.body.notification.id } });
    const bad = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: ['not-a-uuid'] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('UUID');
    expect((await api('POST', '/api/notifications', { workflowKey: 'nope', recipients: [sub] })).status).toBe(404);
    await settled(first.body.notification.id);
  });

  it('picks up a PENDING row inserted by raw SQL at once, and leaves a DRAFT row until it is published', async () => {
    const sub = await subscriber();
    const [wf] = await db.sql.query<{ id: number }>(`select id from notify.ent_notification_workflow where workflow_key = 'order-shipped'`);
    const insert = (status: string) => db.sql.query<{ id: number }>(
      `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status)
       values ($1, $2::text::jsonb, array[$3::uuid], array['IN_APP']::notify.notification_channel_type[], $4, $5::notify.publish_status) returning id`,
      [`sql ${status} ${sub}`, JSON.stringify({ orderId: 'SQL-1' }), sub, wf!.id, status],
    );
    const started = Date.now();
    const [published] = await insert('PUBLISH');
    expect((await settled(published!.id)).notification.status).toBe('SENT');
    // Woken by the trigger, not by the 200 ms poller alone.
    expect(Date.now() - started).toBeLessThan(5000);
    const [draft] = await insert('DRAFT');
    const jobs = await db.sql.query(`select id from nova_jobs where queue = 'notify.dispatch' and dedup_key = $1`, [`notification-${draft!.id}`]);
    expect(jobs).toHaveLength(0);
    expect((await api('GET', `/api/notifications/${draft!.id}`)).body.notification.status).toBe('PENDING');
    await db.sql.query(`update notify.ent_notification set publish_status = 'PUBLISH' where id = $1`, [draft!.id]);
    expect((await settled(draft!.id)).notification.status).toBe('SENT');
  });

  it('delivers through the new-row poller a row whose wake-up job was lost', async () => {
    const sub = await subscriber();
    const [wf] = await db.sql.query<{ id: number }>(`select id from notify.ent_notification_workflow where workflow_key = 'order-shipped'`);
    const id = await db.sql.transaction(async (tx) => {
      const [row] = await tx.query<{ id: number }>(
        `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status)
         values ($1, '{"orderId":"LOST"}'::jsonb, array[$2::uuid], array['IN_APP']::notify.notification_channel_type[], $3, 'PUBLISH') returning id`,
        [`lost ${sub}`, sub, wf!.id],
      );
      await tx.query(`delete from nova_jobs where queue = 'notify.dispatch' and dedup_key = $1`, [`notification-${row!.id}`]);
      return row!.id;
    });
    expect((await settled(id)).notification.status).toBe('SENT');
    const [cursor] = await db.sql.query<{ last_id: number }>(`select last_id from notify.poll_cursor where name = 'new'`);
    expect(cursor!.last_id).toBeGreaterThanOrEqual(id);
  });

  it('retries a failing delivery with backoff, then leaves it FAILED with error_details, and redispatches only what failed', async () => {
    const sub = await subscriber();
    sink.failNext(1000);
    const created = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], payload: { orderId: 'F-1' } });
    const id = created.body.notification.id;
    const failed = await settled(id, ['FAILED']);
    const email = failed.deliveries.find((d) => d.channel === 'EMAIL');
    expect(email).toMatchObject({ status: 'FAILED', attempts: 2 });
    expect(email.error).toMatch(/451|temporary failure/);
    expect(failed.deliveries.find((d) => d.channel === 'IN_APP').status).toBe('SENT');
    expect(failed.notification.errorDetails).toMatchObject({ dispatch: 1, failureCount: 1, successCount: 1, retryable: true });
    expect(failed.notification.errorDetails.results).toEqual(expect.arrayContaining([expect.objectContaining({ channel: 'EMAIL', status: 'FAILED' })]));
    // The failed poller dispatches it again after its backoff; the sink recovered: only the email goes out.
    sink.failNext(0);
    await api('GET', '/api/notifications'); // (no-op: the poller runs on its own)
    await db.sql.query(`update notify.ent_notification set updated_at = now() - interval '1 hour' where id = $1`, [id]);
    // As the poller would, once the first dispatch job is over: it ran the run whose finish wrote
    // FAILED, and a dedup key is taken while its job lives (until the ack just after).
    await until(async () => (await db.sql.query(`select 1 from nova_jobs where queue = 'notify.dispatch' and dedup_key = $1`, [`notification-${id}`])).length === 0, 10_000, 'the first dispatch job over');
    await db.sql.query(`select nova_enqueue('notify.dispatch', jsonb_build_object('notificationId', $1::bigint), 'notification-' || $1::text)`, [id]);
    const sent = await settled(id, ['SENT']);
    expect(sent.notification.dispatchCount).toBe(2);
    expect(sent.notification.errorDetails.alreadySent).toEqual([{ recipient: sub, channel: 'IN_APP' }]);
    expect((await api('GET', `/api/notify/inbox/${sub}`)).body.total).toBe(1);
    expect(mailsFor(`${sub.slice(0, 8)}@example.com`)).toHaveLength(1);
  });

  it('stops after NOTIFY_MAX_DISPATCHES and never dispatches a FAILED row again', async () => {
    const sub = await subscriber();
    const created = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], channels: ['EMAIL'], payload: {} });
    const id = created.body.notification.id;
    await settled(id);
    await db.sql.query(`update notify.ent_notification set notification_status = 'FAILED', dispatch_count = 3, updated_at = now() - interval '1 day' where id = $1`, [id]);
    await db.sql.query(`select nova_enqueue('notify.dispatch', jsonb_build_object('notificationId', $1::bigint), 'notification-' || $1::text)`, [id]);
    await until(async () => (await db.sql.query(`select 1 from nova_jobs where queue = 'notify.dispatch' and dedup_key = $1`, [`notification-${id}`])).length === 0);
    expect((await api('GET', `/api/notifications/${id}`)).body.notification).toMatchObject({ status: 'FAILED', dispatchCount: 3 });
  });

  it('records a template error on the delivery and sends nothing half-rendered', async () => {
    await api('PUT', '/api/notify/templates/broken-email', { channel: 'EMAIL', subject: 'Hi', body: 'Total {{ amount | money }}' }).then((r) => {
      // liquidjs knows no `money` filter: strict filters refuse it when the template is stored.
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain('money');
    });
    const sub = await subscriber();
    const created = await api('POST', '/api/notifications', {
      workflowKey: 'order-shipped', recipients: [sub], channels: ['EMAIL'], payload: {},
      overrides: { channels: { EMAIL: { subject: 'Ok', body: 'Total {{ amount | nosuchfilter }}' } } },
    });
    const done = await settled(created.body.notification.id);
    expect(done.notification.status).toBe('FAILED');
    expect(done.deliveries[0]).toMatchObject({ channel: 'EMAIL', status: 'FAILED', attempts: 1 });
    expect(done.deliveries[0].error).toMatch(/template \(inline\) for EMAIL failed to render.*nosuchfilter/);
    // Another dispatch would fail the same way: the FAILED poller leaves it alone, backoff or not.
    expect(done.notification.errorDetails).toMatchObject({ failureCount: 1, retryable: false });
    expect(await store.pollFailed(db.sql, 3, 0, 1000)).not.toContain(created.body.notification.id);
    expect(mailsFor(`${sub.slice(0, 8)}@example.com`)).toHaveLength(0);
    const preview = await api('POST', '/api/notify/templates/preview', { channel: 'EMAIL', body: '{{ a | nosuchfilter }}' });
    expect(preview.status).toBe(422);
    const ok = await api('POST', '/api/notify/templates/preview', { templateKey: 'welcome-email', payload: { orderId: 'P-1' }, subscriber: { name: 'Bo' } });
    expect(ok.body).toMatchObject({ channel: 'EMAIL', subject: 'Hello Bo', body: '<p>Order P-1 ships soon</p>' });
  });

  it('resends a FAILED notification once its template exists, at once and past NOTIFY_MAX_DISPATCHES; 409 in other states', async () => {
    expect((await api('PUT', '/api/notify/workflows/resend-later', { defaultChannels: ['EMAIL'], templates: { EMAIL: 'resend-later-email' } })).status).toBe(200);
    const sub = await subscriber();
    const created = await api('POST', '/api/notifications', { workflowKey: 'resend-later', recipients: [sub], payload: { orderId: 'R-1' } });
    const id = created.body.notification.id;
    const failed = await settled(id);
    expect(failed.notification).toMatchObject({ status: 'FAILED', errorDetails: { retryable: false } });
    expect(failed.deliveries[0].error).toMatch(/template resend-later-email for EMAIL/);
    // Out of dispatches too: a resend is the operator's decision, not the poller's.
    await db.sql.query(`update notify.ent_notification set dispatch_count = 3 where id = $1`, [id]);
    await api('PUT', '/api/notify/templates/resend-later-email', { channel: 'EMAIL', subject: 'Order {{ orderId }}', body: 'Ready' });

    const r = await api('POST', `/api/notifications/${id}/resend`, {});
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.notification.status).toBe('PENDING');
    const sent = await settled(id, ['SENT']);
    expect(sent.notification.dispatchCount).toBe(4);
    expect(mailsFor(`${sub.slice(0, 8)}@example.com`).map((m) => m.subject)).toEqual(['Order R-1']);

    const again = await api('POST', `/api/notifications/${id}/resend`, {});
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'not_failed', message: expect.stringContaining('SENT') });
    expect((await api('POST', '/api/notifications/999999999/resend', {})).status).toBe(404);
    expect((await api('POST', `/api/notifications/${id}/resend`, { force: true })).status).toBe(400);
  });

  it("dates a digest event when its notification became due, and a resent one's when it is planned again", async () => {
    // A one-hour window: nothing here is flushed while the test reads the events.
    expect((await api('PUT', '/api/notify/workflows/hourly', { defaultChannels: ['IN_APP'], templates: { IN_APP: 'welcome-inapp' }, digest: { windowMs: 3_600_000 } })).status).toBe(200);
    const sub = await subscriber();
    const eventOf = async (id: number) => {
      await until(async () => (await db.sql.query(`select 1 from notify.ent_digest_event where notification_id = $1`, [id])).length === 1, 15_000, `event of ${id}`);
      const [e] = await db.sql.query<{ occurred_at: Date; created_at: Date }>(
        `select e.occurred_at, n.created_at from notify.ent_digest_event e join notify.ent_notification n on n.id = e.notification_id where e.notification_id = $1`, [id]);
      return e!;
    };
    // Scheduled: the event occurs at scheduled_for, not when the row was made.
    const at = new Date(Date.now() + 300);
    const scheduled = (await api('POST', '/api/notifications', { workflowKey: 'hourly', recipients: [sub], payload: { orderId: 'S' }, scheduledFor: at.toISOString() })).body.notification.id;
    expect((await eventOf(scheduled)).occurred_at.getTime()).toBe(at.getTime());
    // A row made two hours ago whose first dispatch failed before its plan: dispatched again (by
    // the FAILED poller, or this resend if it comes first), it joins the window open now.
    const before = Date.now();
    const [{ id: old }] = await db.sql.query<{ id: number }>(
      `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status,
         notification_status, dispatch_count, created_at, updated_at)
       select 'failed early', '{}', array[$1::uuid], array['IN_APP']::notify.notification_channel_type[], id, 'PUBLISH',
         'FAILED', 1, now() - interval '2 hours', now() - interval '2 hours'
       from notify.ent_notification_workflow where workflow_key = 'hourly' returning id`, [sub]) as [{ id: number }];
    expect([200, 409]).toContain((await api('POST', `/api/notifications/${old}/resend`, {})).status);
    const resent = await eventOf(old);
    expect(resent.created_at.getTime()).toBeLessThan(before - 3_600_000);
    expect(resent.occurred_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it('holds a scheduled notification until scheduled_for', async () => {
    const sub = await subscriber();
    const at = new Date(Date.now() + 1000);
    const created = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], channels: ['IN_APP'], payload: {}, scheduledFor: at.toISOString() });
    const id = created.body.notification.id;
    expect((await api('GET', `/api/notifications/${id}`)).body.notification.status).toBe('PENDING');
    const done = await settled(id);
    expect(done.notification.status).toBe('SENT');
    expect(new Date(done.notification.processedAt).getTime()).toBeGreaterThanOrEqual(at.getTime());
  });

  it('retracts before delivery (nothing is sent) and after delivery (in-app messages are withdrawn)', async () => {
    const sub = await subscriber();
    const created = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], payload: {}, scheduledFor: new Date(Date.now() + 1000).toISOString() });
    const id = created.body.notification.id;
    const r = await api('POST', `/api/notifications/${id}/retract`, { reason: 'sent by mistake' });
    expect(r.body).toMatchObject({ previousStatus: 'PENDING', notification: { status: 'RETRACTED', retractionReason: 'sent by mistake' } });
    expect(r.body.notification.retractedAt).not.toBeNull();
    // Its delayed wake-up job comes due and finishes without dispatching.
    await until(async () => (await db.sql.query(`select 1 from nova_job_results where queue = 'notify.dispatch' and dedup_key = $1`, [`notification-${id}`])).length > 0);
    expect((await api('GET', `/api/notifications/${id}`)).body).toMatchObject({ notification: { status: 'RETRACTED', dispatchCount: 0 }, deliveries: [] });
    expect(mailsFor(`${sub.slice(0, 8)}@example.com`)).toHaveLength(0);
    expect((await api('POST', `/api/notifications/${id}/retract`, {})).status).toBe(409);

    const sent = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], channels: ['IN_APP'], payload: {} });
    await settled(sent.body.notification.id);
    expect((await api('GET', `/api/notify/inbox/${sub}`)).body.total).toBe(1);
    const after = await api('POST', `/api/notifications/${sent.body.notification.id}/retract`, {});
    expect(after.body).toMatchObject({ previousStatus: 'SENT', inAppRetracted: 1 });
    expect((await api('GET', `/api/notify/inbox/${sub}`)).body).toMatchObject({ total: 0, messages: [] });
  });

  it('honours per-workflow channel opt-outs, and a critical workflow bypasses them', async () => {
    const sub = await subscriber();
    expect((await api('PUT', `/api/notify/subscribers/${sub}/preferences`, { workflowKey: 'order-shipped', channel: 'EMAIL', enabled: false })).status).toBe(200);
    await api('PUT', `/api/notify/subscribers/${sub}/preferences`, { channel: 'EMAIL', enabled: false });
    const a = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], payload: {} });
    const done = await settled(a.body.notification.id);
    expect(done.notification.status).toBe('SENT');
    expect(done.deliveries.map((d) => [d.channel, d.status, d.error]).sort()).toEqual([['EMAIL', 'SKIPPED', 'opted out'], ['IN_APP', 'SENT', null]]);
    const b = await api('POST', '/api/notifications', { workflowKey: 'security-alert', recipients: [sub], payload: {} });
    expect((await settled(b.body.notification.id)).deliveries).toMatchObject([{ channel: 'EMAIL', status: 'SENT' }]);
    expect(mailsFor(`${sub.slice(0, 8)}@example.com`)).toHaveLength(1);
  });

  it('delays non-critical deliveries in quiet hours (subscriber time zone) and lets critical ones through', async () => {
    // A window from an hour ago to an hour ahead in Asia/Tokyo (UTC+9, no DST).
    const local = (offsetMin: number) => {
      const d = new Date(Date.now() + 9 * 3_600_000 + offsetMin * 60_000);
      return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    };
    const sub = await subscriber({ timezone: 'Asia/Tokyo', quietHoursStart: local(-60), quietHoursEnd: local(60) });
    const quiet = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], channels: ['EMAIL'], payload: {} });
    const critical = await api('POST', '/api/notifications', { workflowKey: 'security-alert', recipients: [sub], payload: {} });
    expect((await settled(critical.body.notification.id)).notification.status).toBe('SENT');
    const id = quiet.body.notification.id;
    let runId: string | null = null;
    await until(async () => {
      const n = (await api('GET', `/api/notifications/${id}`)).body.notification;
      runId = n.runId;
      return !!runId && (await runs.getRun(db.sql, runId))?.status === 'waiting';
    });
    const [step] = await db.sql.query<{ wake_at: Date }>(`select wake_at from run_steps where run_id = $1 and step_id = $2`, [runId, `quiet:${sub}:EMAIL`]);
    expect(step!.wake_at.getTime() - Date.now()).toBeGreaterThan(55 * 60_000);
    expect((await api('GET', `/api/notifications/${id}`)).body.notification.status).toBe('PROCESSING');
    expect(mailsFor(`${sub.slice(0, 8)}@example.com`)).toHaveLength(1);
  });

  it('sends SMS through the Twilio-compatible API, chat to Slack and signed webhooks', async () => {
    const sms = await subscriber({ phone: '+15551234567' });
    const slack = await subscriber({ chatWebhookUrl: `${chat.url}/services/T1/B1/x`, data: { chatFormat: 'slack' } });
    const hook = await subscriber({ chatWebhookUrl: `${chat.url}/hook` });
    const a = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sms], channels: ['SMS'], payload: { orderId: 'S-9' } });
    const b = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [slack, hook], channels: ['CHAT'], payload: { orderId: 'C-3' } });
    const smsDone = await settled(a.body.notification.id);
    expect(smsDone.deliveries[0]).toMatchObject({ status: 'SENT', provider: 'twilio' });
    expect(smsDone.deliveries[0].providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
    expect(twilio.messages.at(-1)).toMatchObject({ to: '+15551234567', from: '+15550000000', body: 'Order S-9 shipped. Reply STOP to opt out' });
    expect((await settled(b.body.notification.id)).notification.status).toBe('SENT');
    const slackHit = chat.hits.find((h) => h.path === '/services/T1/B1/x')!;
    expect(JSON.parse(slackHit.body)).toEqual({ text: '*Order*\nOrder C-3 shipped' });
    const hookHit = chat.hits.find((h) => h.path === '/hook')!;
    const expected = createHmac('sha256', SECRET).update(`${hookHit.headers['x-nova-timestamp']}.${hookHit.body}`).digest('hex');
    expect(hookHit.headers['x-nova-signature']).toBe(`sha256=${expected}`);
    expect(JSON.parse(hookHit.body)).toMatchObject({ subscriberId: hook, text: 'Order C-3 shipped', workflow: 'order-shipped' });
    // A subscriber without a phone is skipped, not failed.
    const none = await subscriber();
    const c = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [none], channels: ['SMS'], payload: {} });
    expect((await settled(c.body.notification.id)).deliveries[0]).toMatchObject({ status: 'SKIPPED', error: 'subscriber has no phone number' });
  });

  it('fails an SMS to a number Twilio refuses at once (a permanent error), without retrying', async () => {
    const sub = await subscriber({ phone: '+15559999999' });
    const before = twilio.messages.length;
    await db.sql.query(`update notify.ent_subscriber set phone = '12345' where subscriber_id = $1::uuid`, [sub]);
    const a = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], channels: ['SMS'], payload: { orderId: 'X' } });
    const done = await settled(a.body.notification.id);
    expect(done.deliveries[0], JSON.stringify(done.deliveries[0])).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(done.deliveries[0].error).toContain('21211');
    expect(twilio.messages.length).toBe(before);
  });

  it('forwards a workflow to Novu with a transaction id per recipient', async () => {
    const sub = randomUUID();
    const a = await api('POST', '/api/notifications', { workflowKey: 'forwarded', recipients: [sub], payload: { x: 1 }, transactionId: 'fwd-1' });
    const done = await settled(a.body.notification.id);
    expect(done.notification.status).toBe('SENT');
    expect(novu.triggers).toEqual([{ name: 'forwarded', to: { subscriberId: sub }, payload: { x: 1 }, overrides: {}, transactionId: `fwd-1:${sub}` }]);
    expect(done.notification.errorDetails.novu_transaction_ids).toEqual([`fwd-1:${sub}`]);
  });

  it("serves the original worker's health routes beside /status, and the pollers' metrics", async () => {
    const health = `http://127.0.0.1:${runtime.healthPort}`;
    const detailed = await (await fetch(`${health}/health/detailed`)).json() as any;
    expect(detailed).toMatchObject({ status: 'healthy', database: 'up', process: { pid: process.pid } });
    expect(detailed.uptime).toBeGreaterThan(0);
    const subs = await (await fetch(`${health}/health/subscriptions`)).json() as any;
    expect(subs).toMatchObject({ status: 'healthy', polling_loop: { status: 'running' } });
    expect(subs.polling_loop.loops.map((l: { name: string }) => l.name).sort()).toEqual(['notify-poll-failed', 'notify-poll-new', 'notify-poll-scheduled']);
    expect((await fetch(`${health}/health`)).status).toBe(200);
    expect((await fetch(`${health}/nope`)).status).toBe(404);
    const status = (await api('GET', '/api/notify/status')).body;
    expect(status.pollers.find((p: { name: string }) => p.name === 'new')).toMatchObject({ rowsLastPoll: expect.any(Number) });
    expect(status.statuses.SENT).toBeGreaterThan(0);
  });

  it('marks inbox messages seen, read and archived', async () => {
    const sub = await subscriber();
    for (const n of [1, 2]) {
      const r = await api('POST', '/api/notifications', { workflowKey: 'order-shipped', recipients: [sub], channels: ['IN_APP'], payload: { orderId: `I-${n}` } });
      await settled(r.body.notification.id);
    }
    const inbox = (await api('GET', `/api/notify/inbox/${sub}`)).body;
    expect(inbox).toMatchObject({ unread: 2, unseen: 2, total: 2 });
    expect((await api('POST', `/api/notify/inbox/${sub}/mark`, { action: 'seen' })).body).toMatchObject({ unseen: 0, unread: 2 });
    expect((await api('POST', `/api/notify/inbox/${sub}/mark`, { action: 'read', ids: [inbox.messages[0].id] })).body).toMatchObject({ unread: 1 });
    expect((await api('POST', `/api/notify/inbox/${sub}/mark`, { action: 'archive', ids: [inbox.messages[1].id] })).body).toMatchObject({ total: 1, unread: 0 });
    expect((await api('GET', `/api/notify/inbox/${sub}?archived=true`)).body.messages).toHaveLength(1);
    expect((await api('POST', `/api/notify/inbox/${sub}/mark`, { action: 'explode' })).status).toBe(400);
  });
});
