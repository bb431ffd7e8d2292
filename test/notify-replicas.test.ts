import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink } from '../src/emulators/smtp/index.ts';
import { apiDomain } from '../src/http/index.ts';
import { createNotify } from '../src/notify/index.ts';
import { flushDigests } from '../src/notify/digest.ts';
import { claimDigest, digestCounts, dueBuckets } from '../src/notify/digest-store.ts';
import * as store from '../src/notify/store.ts';
import { upsertSubscriber } from '../src/notify/subscribers-store.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { workflowEngineOf, workflowsDomain, type WorkflowsDomain } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/** One Nova process's domains: its own notify domain and workflows engine. */
function processDomains(api = false) {
  const notify = createNotify({ engine: workflowEngineOf });
  const wf: WorkflowsDomain = { ...workflowsDomain({ workflows: notify.workflows }), setupRoles: ['notifications'] };
  return api ? [apiDomain, wf, notify.domain] : [wf, notify.domain];
}

describe.each(backends)('notifications across replicas on $name', (backend) => {
  let db: TestDb;
  const sink = new SmtpSink({ capacity: 10_000 });
  const runtimes: Runtime[] = [];
  let base: string;

  // Three processes, each with the pollers racing the trigger's wake-up every 100 ms (1 s on PGlite).
  // The embedded database runs one statement at a time for every runtime of the process: its
  // pollers race less often, or they would take all of its time.
  const poll = backend.name === 'pglite' ? '1000' : '100';
  const env = () => ({
    WORKER_TYPE: 'notifications,workflow-runner', POLL_INTERVAL_MS: poll, SCHEDULED_POLL_INTERVAL_MS: poll, FAILED_POLL_INTERVAL_MS: poll,
    NOTIFY_STALE_PROCESSING_MS: '1000', NOTIFY_SMTP_URL: sink.url, NOTIFY_DIGEST_INTERVAL_MS: poll, RULE_POLL_INTERVAL_MS: poll,
    NOTIFY_RETRY_BASE_MS: '20',
  });

  beforeAll(async () => {
    db = await backend.create();
    await sink.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    runtimes.push(await startRuntime(db, processDomains(true), { ...env(), WORKER_TYPE: 'api,notifications,workflow-runner', PORT: String(port), API_HOST: '127.0.0.1' }));
    runtimes.push(await startRuntime(db, processDomains(), env()));
    runtimes.push(await startRuntime(db, processDomains(), env()));
    await store.upsertTemplate(db.sql, { key: 'r-email', channel: 'EMAIL', subject: 'n{{ n }}', body: 'body {{ n }}' });
    await store.upsertTemplate(db.sql, { key: 'r-inapp', channel: 'IN_APP', body: '{{ n }}' });
    await store.upsertTemplate(db.sql, { key: 'r-digest', channel: 'IN_APP', subject: '{{ digest.count }} updates', body: '{% for e in events %}{{ e.n }},{% endfor %}' });
    await store.upsertWorkflow(db.sql, { key: 'race', defaultChannels: ['EMAIL', 'IN_APP'], templates: { EMAIL: 'r-email', IN_APP: 'r-inapp' } });
    await store.upsertWorkflow(db.sql, { key: 'digested', defaultChannels: ['IN_APP'], templates: { IN_APP: 'r-digest' }, digest: { windowMs: 300, maxEvents: 15 } });
  });
  afterAll(async () => {
    for (const r of runtimes) await r.stop();
    await sink.stop();
    await db?.drop();
  });

  async function api(method: string, path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, { method, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  }

  it('delivers each notification once with three workers and the pollers racing the wake-up', async () => {
    // PGlite runs its statements on this process's event loop, which the SMTP exchanges share:
    // fewer notifications keep that run short.
    const count = backend.name === 'pglite' ? 15 : 60;
    const subs: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = randomUUID();
      subs.push(id);
      await upsertSubscriber(db.sql, { subscriberId: id, email: `race-${i}@example.com` });
    }
    const wf = await store.workflowByKey(db.sql, 'race');
    const rows = await db.sql.query<{ id: number }>(
      `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status)
       select 'race ' || g, jsonb_build_object('n', g), array[($1::text[])[1 + g % 20]::uuid],
              array['EMAIL', 'IN_APP']::notify.notification_channel_type[], $2, 'PUBLISH'
       from generate_series(1, $3::int) g returning id`,
      [subs, wf!.id, count],
    );
    const ids = rows.map((r) => r.id);
    await until(async () => {
      const [r] = await db.sql.query<{ n: number }>(`select count(*)::int as n from notify.ent_notification where id = any($1::bigint[]) and notification_status = 'SENT'`, [ids]);
      return r!.n === ids.length;
    }, 30_000, `all ${count} SENT`);
    const mails = sink.messages().filter((m) => /^race-/.test(m.to[0] ?? ''));
    expect(mails).toHaveLength(count);
    const perNotification = new Map<string, number>();
    for (const m of mails) {
      const id = /X-Nova-Notification: (\d+)/.exec(m.raw)![1]!;
      perNotification.set(id, (perNotification.get(id) ?? 0) + 1);
    }
    expect([...perNotification.values()].every((n) => n === 1)).toBe(true);
    expect(perNotification.size).toBe(count);
    const [inbox] = await db.sql.query<{ n: number; d: number }>(
      `select count(*)::int as n, count(distinct notification_id)::int as d from notify.ent_inbox_message where notification_id = any($1::bigint[])`, [ids]);
    expect(inbox).toEqual({ n: count, d: count });
    // One delivery run per notification, and each was dispatched once.
    const [runs] = await db.sql.query<{ n: number }>(`select count(*)::int as n from runs where workflow = 'notify.deliver' and (input ->> 'notificationId')::bigint = any($1::bigint[])`, [ids]);
    expect(runs!.n).toBe(count);
    const [dispatches] = await db.sql.query<{ max: number }>(`select max(dispatch_count)::int as max from notify.ent_notification where id = any($1::bigint[])`, [ids]);
    expect(dispatches!.max).toBe(1);
  });

  it('puts every event in exactly one digest, across a flush that crashes before commit and sends left queued by a dead process', async () => {
    const subs = Array.from({ length: 10 }, () => randomUUID());
    const wf = await store.workflowByKey(db.sql, 'digested');
    // 20 events per subscriber on PostgreSQL (6 on PGlite, whose one connection serves every runtime).
    const total = backend.name === 'pglite' ? 60 : 200;
    const ids: number[] = [];
    for (let k = 0; k < total; k++) {
      const { row } = await store.insertNotification(db.sql, { name: `digest ${k}`, workflowId: wf!.id, payload: { n: k }, recipients: [subs[k % 10]!], channels: ['IN_APP'] });
      ids.push(row.id);
    }
    await until(async () => {
      const [r] = await db.sql.query<{ n: number }>(`select count(*)::int as n from notify.ent_notification where id = any($1::bigint[]) and notification_status = 'SENT'`, [ids]);
      return r!.n === ids.length;
    }, 30_000, `all ${total} events recorded`);
    // A flush that dies mid-way (its transaction rolls back after claiming) loses nothing.
    const keys = await dueBuckets(db.sql, 300, 100);
    if (keys.length) {
      await db.sql.transaction(async (tx) => {
        await claimDigest(tx, keys[0]!);
        throw new Error('crash');
      }).catch((err: Error) => expect(err.message).toBe('crash'));
    }
    await until(async () => (await digestCounts(db.sql)).open === 0, 20_000, 'every event digested');
    await until(async () => {
      const [r] = await db.sql.query<{ n: number }>(`select count(*)::int as n from notify.ent_digest where status = 'PENDING'`);
      return r!.n === 0;
    }, 20_000, 'every digest sent');
    const counts = await digestCounts(db.sql);
    expect(counts.events).toBe(total);
    const [events] = await db.sql.query<{ n: number; digested: number }>(
      `select count(*)::int as n, count(digest_id)::int as digested from notify.ent_digest_event where notification_id = any($1::bigint[])`, [ids]);
    expect(events).toEqual({ n: total, digested: total });
    // At most 15 events per digest (maxEvents).
    const [per] = await db.sql.query<{ subs: number; min: number; max: number }>(
      `select count(distinct subscriber_id)::int as subs, min(event_count)::int as min, max(event_count)::int as max from notify.ent_digest`);
    expect(per!.subs).toBe(10);
    expect(per!.max).toBeLessThanOrEqual(15);
    // Each digest became one in-app message listing its events.
    const [inbox] = await db.sql.query<{ n: number }>(`select count(*)::int as n from notify.ent_inbox_message where subscriber_id = any($1::uuid[])`, [subs]);
    expect(inbox!.n).toBe(counts.digests);
    const [listed] = await db.sql.query<{ total: number }>(
      `select sum(array_length(string_to_array(trim(trailing ',' from body), ','), 1))::int as total from notify.ent_inbox_message where subscriber_id = any($1::uuid[])`, [subs]);
    expect(listed!.total).toBe(total);
  });

  it('sends a digest recorded by a process that died right after recording it, once', async () => {
    const sub = randomUUID();
    const wf = await store.upsertWorkflow(db.sql, { key: 'slow-digest', defaultChannels: ['IN_APP'], templates: { IN_APP: 'r-digest' }, digest: { windowMs: 3_600_000 } });
    const { row } = await store.insertNotification(db.sql, { name: 'orphan', workflowId: wf.id, payload: { n: 'x' }, recipients: [sub], channels: ['IN_APP'] });
    await until(async () => (await db.sql.query(`select 1 from notify.ent_digest_event where notification_id = $1`, [row.id])).length === 1);
    // The flush transaction of a process that then died: the digest and its send job committed together.
    const queue = new QueueClient(db.sql);
    const digest = await db.sql.transaction(async (tx) => {
      const d = await claimDigest(tx, { subscriber_id: sub, notification_workflow_id: wf.id, channel_type: 'IN_APP', enterprise_id: null, max_events: 1000 });
      await queue.send('notify.digest', { digestId: d!.id }, { dedupKey: `digest-${d!.id}` }, tx);
      return d!;
    });
    expect(digest.count).toBe(1);
    await until(async () => (await db.sql.query(`select 1 from notify.ent_digest where id = $1 and status = 'SENT'`, [digest.id])).length === 1);
    expect(await db.sql.query(`select body from notify.ent_inbox_message where subscriber_id = $1::uuid`, [sub])).toEqual([{ body: 'x,' }]);
    // A second flush finds the bucket empty: the event is in exactly one digest.
    expect(await flushDigests({ services: { sql: db.sql, queue } } as never)).toBe(0);
  });

  it('fires a cron rule once per occurrence across three processes, and an event rule per event id', async () => {
    const sub = randomUUID();
    const bad = await api('POST', '/api/notify/rules', { name: 'bad', workflowKey: 'race', triggerType: 'CRON', triggerConfig: { cron: 'every minute' } });
    expect(bad.status).toBe(400);
    const made = await api('POST', '/api/notify/rules', {
      name: 'every second', workflowKey: 'race', triggerType: 'CRON', triggerConfig: { cron: '* * * * * *', timezone: 'Europe/Paris' },
      rulePayload: { recipient: sub, n: 'tick' },
    });
    expect(made.status).toBe(201);
    const ruleId = made.body.rule.id;
    await until(async () => (await db.sql.query(`select 1 from notify.ent_notification where notification_rule_id = $1`, [ruleId])).length >= 3, 15_000, 'three firings');
    await api('POST', `/api/notify/rules/${ruleId}/deactivate`);
    expect(await db.sql.query(`select 1 from nova_schedules where name = $1`, [`notify.rule.${ruleId}`])).toHaveLength(0);
    const jobs = await db.sql.query<{ dedup_key: string }>(
      `select dedup_key from nova_job_results where queue = 'notify.rule' union all select dedup_key from nova_jobs where queue = 'notify.rule'`);
    expect(new Set(jobs.map((j) => j.dedup_key)).size).toBe(jobs.length);
    const notes = await db.sql.query<{ transaction_id: string }>(`select transaction_id from notify.ent_notification where notification_rule_id = $1`, [ruleId]);
    expect(new Set(notes.map((x) => x.transaction_id)).size).toBe(notes.length);
    expect(notes.length).toBe(jobs.length);

    const ev = await api('POST', '/api/notify/rules', { name: 'on order', workflowKey: 'race', triggerType: 'EVENT', triggerConfig: { event: 'order.created' }, rulePayload: { recipients: [sub] } });
    expect(ev.status).toBe(201);
    const first = await api('POST', '/api/notify/events', { name: 'order.created', data: { n: 7 }, eventId: 'o-1' });
    const again = await api('POST', '/api/notify/events', { name: 'order.created', data: { n: 7 }, eventId: 'o-1' });
    expect(first.status).toBe(202);
    expect(first.body.notifications).toHaveLength(1);
    expect(again.body.notifications[0].id).toBe(first.body.notifications[0].id);
    expect(first.body.notifications[0]).toMatchObject({ payload: { n: 7, recipients: [sub] }, ruleId: ev.body.rule.id });
  });
});
