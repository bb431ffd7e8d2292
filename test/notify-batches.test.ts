import { randomUUID } from 'node:crypto';
import { Liquid } from 'liquidjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBatches } from '../src/notify/batches.ts';
import type { NotifyConfig } from '../src/notify/config.ts';
import * as store from '../src/notify/store.ts';
import { insertMessages } from '../src/notify/inbox-store.ts';
import { setPreference, upsertSubscriber } from '../src/notify/subscribers-store.ts';
import { CompiledTemplates, createLiquid } from '../src/notify/templates.ts';
import { backends, type TestDb } from './helpers/db.ts';

const config = { NOTIFY_MAX_DISPATCHES: 3, NOTIFY_REDISPATCH_BASE_MS: 60_000 } as NotifyConfig;

describe('parsed templates', () => {
  it('parses a text once and an edited text anew', async () => {
    const liquid = createLiquid();
    const parse = vi.spyOn(liquid, 'parse');
    const t = new CompiledTemplates(liquid);
    expect(await t.render('Hi {{ name }}', { name: 'a' })).toBe('Hi a');
    expect(await t.render('Hi {{ name }}', { name: 'b' })).toBe('Hi b');
    expect(parse).toHaveBeenCalledTimes(1);
    expect(await t.render('Hello {{ name }}', { name: 'c' })).toBe('Hello c');
    expect(parse).toHaveBeenCalledTimes(2);
  });

  it('keeps at most its bound of texts, dropping the oldest', async () => {
    const liquid = new Liquid();
    const parse = vi.spyOn(liquid, 'parse');
    const t = new CompiledTemplates(liquid, 2);
    for (const text of ['a{{x}}', 'b{{x}}', 'c{{x}}', 'c{{x}}', 'a{{x}}']) await t.render(text, { x: 1 });
    expect(parse).toHaveBeenCalledTimes(4);
  });
});

describe.each(backends)('the delivery path in batches on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(async () => db?.drop());

  const insert = async (n: number) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const { row } = await store.insertNotification(db.sql, { name: `b${i}`, workflowId: null, payload: {}, recipients: [randomUUID()], channels: ['IN_APP'], scheduledFor: new Date(Date.now() + 3_600_000) });
      ids.push(row.id);
    }
    // Due now, but not yet claimed by anyone (the trigger's jobs are not run: no worker here).
    await db.sql.query(`update notify.ent_notification set scheduled_for = null where id = any($1::bigint[])`, [ids]);
    return ids;
  };

  it('claims each row once however many dispatches ask for it together, and reports the current dispatch to the rest', async () => {
    const batches = createBatches(db.sql, config);
    const ids = await insert(3);
    const asks = [...ids, ...ids, ids[0]!].map((id) => batches.claim.add(id));
    const got = await Promise.all(asks);
    expect(got.filter((c) => c?.claimed)).toHaveLength(3);
    expect(got.every((c) => c?.dispatch === 1)).toBe(true);
    // A second round finds them PROCESSING: same dispatch, not claimed again.
    expect(await Promise.all(ids.map((id) => batches.claim.add(id)))).toEqual(ids.map(() => ({ dispatch: 1, claimed: false })));
    const rows = await Promise.all(ids.map((id) => store.getNotification(db.sql, id)));
    expect(rows.map((r) => [r!.notification_status, r!.dispatch_count])).toEqual(ids.map(() => ['PROCESSING', 1]));
    // Handed to its run again, a PROCESSING row counts as touched: the stale poller, oldest first,
    // takes the others next time instead of the same ones on every poll.
    await db.sql.query(`update notify.ent_notification set updated_at = now() - interval '1 hour' where id = any($1::bigint[])`, [ids]);
    expect((await store.pollScheduled(db.sql, 60_000, 100)).filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    await batches.claim.add(ids[0]!);
    expect((await store.pollScheduled(db.sql, 60_000, 100)).filter((id) => ids.includes(id)).sort()).toEqual(ids.slice(1).sort());
  });

  it('dispatches a FAILED row again only when a failure may pass, whoever asks (poller or any job)', async () => {
    const [transient, permanent, older] = await insert(3);
    await db.sql.query(
      `update notify.ent_notification set notification_status = 'FAILED', dispatch_count = 1,
         error_details = case id when $1 then '{"retryable": true}'::jsonb when $2 then '{"retryable": false}'::jsonb else '{}'::jsonb end
       where id = any($3::bigint[])`, [transient, permanent, [transient, permanent, older]]);
    // Backoff 0: only retryable (and rows from before the flag existed) are due.
    expect((await store.pollFailed(db.sql, 3, 0, 100)).sort()).toEqual([transient, older].sort());
    const got = await store.claimManyForDispatch(db.sql, [transient!, permanent!, older!], 3, 0);
    expect([...got.keys()].sort()).toEqual([transient, older].sort());
    expect(await store.claimForDispatch(db.sql, permanent!, 3, 0)).toBeUndefined();
    expect((await store.getNotification(db.sql, permanent!))).toMatchObject({ notification_status: 'FAILED', dispatch_count: 1 });
  });

  it('records outcomes of one delivery in the order they were given, and never changes a SENT one', async () => {
    const batches = createBatches(db.sql, config);
    const [id] = await insert(1);
    const n = (await store.getNotification(db.sql, id!))!;
    const recipient = n.recipients[0]!;
    await batches.open.add({ notificationId: id!, enterpriseId: null, rows: [{ recipient, channel: 'IN_APP', status: 'PENDING' }] });
    const base = { notificationId: id!, recipient, channel: 'IN_APP' as const };
    await Promise.all([
      batches.record.add({ ...base, status: 'PENDING', error: 'try again' }),
      batches.record.add({ ...base, status: 'SENT', provider: 'p', messageId: 'm1' }),
      batches.record.add({ ...base, status: 'FAILED', error: 'late' }),
    ]);
    const [d] = await store.deliveriesOf(db.sql, id!);
    expect(d).toMatchObject({ status: 'SENT', provider_message_id: 'm1', attempts: 2 });
    // A later dispatch's plan keeps it SENT, and a skip does not overwrite it either.
    await batches.open.add({ notificationId: id!, enterpriseId: null, rows: [{ recipient, channel: 'IN_APP', status: 'SKIPPED', error: 'opted out' }] });
    expect((await store.deliveriesOf(db.sql, id!))[0]).toMatchObject({ status: 'SENT', error: null });
  });

  it('finishes a run only while its row is PROCESSING, each row once', async () => {
    const batches = createBatches(db.sql, config);
    const ids = await insert(2);
    await Promise.all(ids.map((id) => batches.claim.add(id)));
    await store.retractNotification(db.sql, ids[1]!, 'test');
    const done = await Promise.all([
      batches.finish.add({ id: ids[0]!, status: 'SENT', details: { a: 1 } }),
      batches.finish.add({ id: ids[0]!, status: 'FAILED', details: { a: 2 } }),
      batches.finish.add({ id: ids[1]!, status: 'SENT', details: {} }),
    ]);
    expect(done).toEqual([true, false, false]);
    expect((await store.getNotification(db.sql, ids[0]!))).toMatchObject({ notification_status: 'SENT', error_details: { a: 1 } });
    expect((await store.statusOf(db.sql, ids[1]!))).toBe('RETRACTED');
  });

  it('reads the plans of several notifications in one statement: workflow, subscribers, preferences, earlier deliveries and bound templates', async () => {
    const sub = randomUUID();
    await upsertSubscriber(db.sql, { subscriberId: sub, email: 'x@example.com', quietHoursStart: '22:00', quietHoursEnd: '07:00', timezone: 'Europe/Paris' });
    await store.upsertTemplate(db.sql, { key: 'plan-email', channel: 'EMAIL', subject: 'S', body: 'B' });
    await store.upsertTemplate(db.sql, { key: 'plan-unbound', channel: 'SMS', body: 'U' });
    const wf = await store.upsertWorkflow(db.sql, { key: 'plan-wf', defaultChannels: ['EMAIL', 'IN_APP'], templates: { EMAIL: 'plan-email', IN_APP: 'plan-missing' } });
    await setPreference(db.sql, { subscriberId: sub, enterpriseId: null, workflowId: wf.id, channel: 'IN_APP', enabled: false });
    const { row } = await store.insertNotification(db.sql, { name: 'p', workflowId: wf.id, payload: { k: 1 }, recipients: [sub, randomUUID()], channels: null });
    await store.openPlannedDeliveries(db.sql, [{ notificationId: row.id, enterpriseId: null, rows: [{ recipient: sub, channel: 'EMAIL', status: 'PENDING' }] }]);
    const other = randomUUID();
    await upsertSubscriber(db.sql, { subscriberId: other, email: 'y@example.com' });
    const second = (await store.insertNotification(db.sql, { name: 'q', workflowId: wf.id, payload: { k: 2 }, recipients: [other], channels: null })).row;
    const plans = await store.readPlans(db.sql, [row.id, second.id, 999_999_999]);
    expect([...plans.keys()].sort()).toEqual([row.id, second.id].sort());
    const q = plans.get(second.id)!;
    expect(q.notification).toMatchObject({ id: second.id, payload: { k: 2 } });
    expect(q.subscribers.map((s) => s.email)).toEqual(['y@example.com']);
    expect(q.preferences).toEqual([]);
    expect(q.previous).toEqual([]);
    const p = plans.get(row.id)!;
    expect(p.notification).toMatchObject({ id: row.id, payload: { k: 1 }, recipients: row.recipients });
    expect(p.workflow).toMatchObject({ id: wf.id, workflow_key: 'plan-wf', default_channels: ['EMAIL', 'IN_APP'], template_overrides: { EMAIL: 'plan-email', IN_APP: 'plan-missing' } });
    expect(p.subscribers.map((s) => [s.subscriber_id, s.email, s.quiet_hours_start, s.timezone])).toEqual([[sub, 'x@example.com', '22:00', 'Europe/Paris']]);
    expect(p.preferences).toEqual([{ subscriber_id: sub, notification_workflow_id: wf.id, channel_type: 'IN_APP', enabled: false }]);
    expect(p.previous).toEqual([{ recipient: sub, channel_type: 'EMAIL', status: 'PENDING' }]);
    expect(p.templates.map((t) => t.template_key)).toEqual(['plan-email']);
  });

  it('inserts in-app messages together and returns the existing one for a pair already stored', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const [id] = await insert(1);
    const m = (s: string, body: string) => ({ enterpriseId: null, subscriberId: s, notificationId: id!, title: null, body, actionUrl: null });
    const first = await insertMessages(db.sql, [m(a, 'one')]);
    const rows = await insertMessages(db.sql, [m(b, 'two'), m(a, 'again')]);
    expect(rows.map((r) => [r.subscriber_id, r.body])).toEqual([[b, 'two'], [a, 'one']]);
    expect(rows[1]!.id).toBe(first[0]!.id);
  });
});
