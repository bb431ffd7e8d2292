import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink } from '../src/emulators/smtp/index.ts';
import { createNotify } from '../src/notify/index.ts';
import * as store from '../src/notify/store.ts';
import { upsertSubscriber } from '../src/notify/subscribers-store.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { TICK_QUEUE, workflowEngineOf, workflowsDomain, type WorkflowsDomain } from '../src/workflows/index.ts';
import * as runs from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/** A process's domains: its notify domain and the workflows engine it sets up for it. */
function processDomains() {
  const notify = createNotify({ engine: workflowEngineOf });
  const wf: WorkflowsDomain = { ...workflowsDomain({ workflows: notify.workflows }), setupRoles: ['notifications'] };
  return [wf, notify.domain];
}

// The dispatch job runs the delivery run it starts, under its own lease: role `notifications`
// alone delivers, with no workflow-runner and no tick job in between.
describe.each(backends)('the dispatch job ticks its run on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime | undefined;
  const sink = new SmtpSink();
  let workflowId: number;

  beforeAll(async () => {
    db = await backend.create();
    await sink.start();
    await store.upsertTemplate(db.sql, { key: 'd-email', channel: 'EMAIL', subject: 'n{{ n }}', body: 'body {{ n }}' });
    workflowId = (await store.upsertWorkflow(db.sql, { key: 'direct', defaultChannels: ['EMAIL'], templates: { EMAIL: 'd-email' } })).id;
    // A first start declares notify.deliver's version, which the runs made by hand below need.
    await (await start()).stop();
  });
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });
  afterAll(async () => {
    await sink.stop();
    await db?.drop();
  });

  // Inserted PENDING by SQL: the trigger queues its dispatch job, which waits for a consumer.
  async function pending(n: number): Promise<{ id: number; address: string }> {
    const sub = randomUUID();
    const address = `${sub.slice(0, 8)}@example.com`;
    await upsertSubscriber(db.sql, { subscriberId: sub, email: address });
    const [row] = await db.sql.query<{ id: number }>(
      `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status)
       values ($1, $2::text::jsonb, array[$3::uuid], array['EMAIL']::notify.notification_channel_type[], $4, 'PUBLISH') returning id`,
      [`direct ${n}`, JSON.stringify({ n }), sub, workflowId],
    );
    return { id: row!.id, address };
  }

  const status = async (id: number) => (await store.getNotification(db.sql, id))?.notification_status;
  const start = async (smtpUrl = sink.url, extra: Record<string, string> = {}) => (runtime = await startRuntime(db, processDomains(), {
    WORKER_TYPE: 'notifications', NOTIFY_SMTP_URL: smtpUrl, POLL_INTERVAL_MS: '60000', SCHEDULED_POLL_INTERVAL_MS: '60000', FAILED_POLL_INTERVAL_MS: '60000',
    ...extra,
  }));

  it('delivers with role notifications alone, queuing no tick for the run', async () => {
    await start();
    const { id, address } = await pending(1);
    await until(async () => (await status(id)) === 'SENT', 15_000, `notification ${id} SENT`);
    expect(sink.messages().filter((m) => m.to.includes(address))).toHaveLength(1);
    const runId = (await store.getNotification(db.sql, id))!.run_id!;
    await until(async () => (await runs.getRun(db.sql, runId))?.status === 'completed', 5000, `run ${runId} completed`);
    const ticks = await db.sql.query(`select id from nova_jobs where queue = $1 and payload->>'runId' = $2`, [TICK_QUEUE, runId]);
    expect(ticks).toHaveLength(0);
  });

  // What a dispatch leaves when its process dies between starting the run and ticking it: the
  // row claimed, the run queued with no tick job, no run id on the row yet. The dispatch job
  // the trigger queued for the row waits (no consumer runs) and stands for the next attempt.
  async function startedThenDied(id: number): Promise<runs.RunRow> {
    const claim = (await store.claimManyForDispatch(db.sql, [id], 3, 1000)).get(id)!;
    expect(claim).toEqual({ dispatch: 1, claimed: true });
    const [started] = await runs.insertRuns(db.sql, [{
      id: randomUUID(), workflow: 'notify.deliver', version: 1, input: { notificationId: id, dispatch: 1 },
      idempotencyKey: `notification-${id}-1`, submittedBy: 'notifications', tick: false,
    }]);
    return started!.run;
  }

  it('runs, once, the run a dispatch started and died before ticking', async () => {
    const { id, address } = await pending(2);
    const run = await startedThenDied(id);
    await start();
    await until(async () => (await status(id)) === 'SENT', 15_000, `notification ${id} SENT`);
    expect((await store.getNotification(db.sql, id))!.run_id).toBe(run.id);
    await until(async () => (await runs.getRun(db.sql, run.id))?.status === 'completed', 5000, `run ${run.id} completed`);
    expect(sink.messages().filter((m) => m.to.includes(address))).toHaveLength(1);
  });

  it('ends such a run, sending nothing, when the row was retracted before the next attempt', async () => {
    const { id, address } = await pending(3);
    const run = await startedThenDied(id);
    await db.sql.query(`update notify.ent_notification set notification_status = 'RETRACTED', retracted_at = now() where id = $1`, [id]);
    await start();
    await until(async () => (await runs.getRun(db.sql, run.id))?.status === 'completed', 15_000, `run ${run.id} completed`);
    expect((await runs.getRun(db.sql, run.id))?.output).toMatchObject({ stopped: expect.stringContaining('RETRACTED') });
    expect(await status(id)).toBe('RETRACTED');
    expect(sink.messages().filter((m) => m.to.includes(address))).toHaveLength(0);
  });

  it('retries a dispatch whose run id write failed only once its tick is over, so nothing is sent twice', async () => {
    // A relay slower than the dispatch's retry backoff (500 ms): the send is still on its way
    // when the job's attempt fails.
    const slow = new SmtpSink({ replyDelayMs: 2500 });
    await slow.start();
    try {
      const { id, address } = await pending(4);
      // The row's run id write fails once: the attempt fails.
      await db.sql.query(`create sequence test_run_id_refusals`);
      await db.sql.query(`create function test_refuse_run_id() returns trigger language plpgsql as $$
        begin
          if new.id = ${id} and new.run_id is distinct from old.run_id and nextval('test_run_id_refusals') = 1 then
            raise exception 'run id write refused (test)';
          end if;
          return new;
        end $$`);
      await db.sql.query(`create trigger test_refuse_run_id before update on notify.ent_notification for each row execute function test_refuse_run_id()`);
      await start(slow.url);
      await until(async () => (await status(id)) === 'SENT', 20_000, `notification ${id} SENT`);
      // The retry found the run ended and wrote its id. Had it come during the send, it would have
      // replayed the send step and sent again.
      await until(async () => (await store.getNotification(db.sql, id))!.run_id !== null, 20_000, 'the run id written by the retry');
      await runtime!.stop();
      runtime = undefined;
      expect(slow.messages().filter((m) => m.to.includes(address))).toHaveLength(1);
    } finally {
      await db.sql.query(`drop trigger if exists test_refuse_run_id on notify.ent_notification`);
      await slow.stop();
    }
  });

  it('fails a send to a relay that never answers after NOTIFY_SMTP_TIMEOUT_MS, so the dispatch ends', async () => {
    // Accepts the connection, never greets: a hung relay.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { id } = await pending(5);
      await start(`smtp://127.0.0.1:${(silent.address() as AddressInfo).port}`, { NOTIFY_SMTP_TIMEOUT_MS: '1000', NOTIFY_DELIVERY_ATTEMPTS: '1' });
      await until(async () => (await status(id)) === 'FAILED', 20_000, `notification ${id} FAILED`);
      const [delivery] = await store.deliveriesOf(db.sql, id);
      expect(delivery).toMatchObject({ channel_type: 'EMAIL', status: 'FAILED' });
      // The greeting's or the silent socket's limit, whichever nodemailer reports first.
      expect(delivery!.error).toMatch(/greeting never received|timeout/i);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
