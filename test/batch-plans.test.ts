import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../src/storage/index.ts';
import * as notifyStore from '../src/notify/store.ts';
import * as runs from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';

// The batch statements on runs and notifications find their rows through the index, not by
// reading the table into a hash join: the planner counts 100 rows for any jsonb array, so on a
// table of a few thousand rows (a young install, or one that retention keeps small) a join alone
// plans a sequential scan, and every batch of a busy process reads the whole table again.

/** The statement a store function sends, recorded instead of run. */
async function statementOf(call: (db: Queryable) => Promise<unknown>): Promise<{ text: string; params: readonly unknown[] }> {
  let sent: { text: string; params: readonly unknown[] } | undefined;
  const recorder: Queryable = {
    async query(text, params = []) {
      sent ??= { text, params };
      return [];
    },
    async exec() {},
  };
  await call(recorder);
  return sent!;
}

describe.each(backends)('batch statement plans on $name', (backend) => {
  let db: TestDb;
  const runIds: string[] = [];
  const notificationIds: number[] = [];
  const recipient = randomUUID();
  beforeAll(async () => {
    db = await backend.create();
    await db.sql.query(`insert into workflows (name, version, kind, definition, definition_hash) values ('plans', 1, 'code', '{}', 'sha256:0')`);
    await db.sql.query(`insert into runs (id, workflow, version, input, status)
      select gen_random_uuid(), 'plans', 1, '{}'::jsonb, 'waiting' from generate_series(1, 5000)`);
    runIds.push(...(await db.sql.query<{ id: string }>(`select id from runs order by random() limit 3`)).map((r) => r.id));
    const wf = await notifyStore.upsertWorkflow(db.sql, { key: 'plans', defaultChannels: ['IN_APP'] });
    await db.sql.query(`insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id)
      select 'plans ' || g, '{}'::jsonb, array[$1::uuid], array['IN_APP']::notify.notification_channel_type[], $2 from generate_series(1, 5000) g`, [recipient, wf.id]);
    await db.sql.query(`insert into notify.ent_notification_delivery (notification_id, recipient, channel_type, status)
      select id, $1::uuid, 'IN_APP', 'PENDING' from notify.ent_notification`, [recipient]);
    notificationIds.push(...(await db.sql.query<{ id: number }>(`select id from notify.ent_notification order by random() limit 3`)).map((r) => Number(r.id)));
    await db.sql.exec('analyze runs; analyze notify.ent_notification; analyze notify.ent_notification_delivery');
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function scans(call: (db: Queryable) => Promise<unknown>): Promise<string[]> {
    const { text, params } = await statementOf(call);
    const rows = await db.sql.query<Record<string, string>>(`explain ${text}`, params);
    return rows.map((r) => Object.values(r)[0]!).filter((line) => /Seq Scan on (runs|ent_notification|ent_notification_delivery)(\s|$)/.test(line));
  }

  it('take, end and let go of runs by index', async () => {
    const items = runIds.map((runId) => ({ runId, job: 1, token: 1 }));
    expect(await scans((q) => runs.acquireRuns(q, items))).toEqual([]);
    expect(await scans((q) => runs.finishRuns(q, items.map((i) => ({ ...i, status: 'completed' as const, output: null, error: null }))))).toEqual([]);
    expect(await scans((q) => runs.releaseRunsWithSteps(q, items, []))).toEqual([]);
  });

  it('record deliveries, run ids and outcomes of notifications by index', async () => {
    expect(await scans((q) => notifyStore.recordDeliveries(q, notificationIds.map((notificationId) => ({ notificationId, recipient, channel: 'IN_APP' as const, status: 'SENT' as const }))))).toEqual([]);
    expect(await scans((q) => notifyStore.setRuns(q, notificationIds.map((id) => ({ id, runId: randomUUID() }))))).toEqual([]);
    expect(await scans((q) => notifyStore.finishNotifications(q, notificationIds.map((id) => ({ id, status: 'SENT' as const, details: null }))))).toEqual([]);
  });
});
