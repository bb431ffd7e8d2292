import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDigestEvents, claimDigest, dueBuckets } from '../src/notify/digest-store.ts';
import * as store from '../src/notify/store.ts';
import { backends, type TestDb } from './helpers/db.ts';

// Digest windows are in event time: a window holds the events whose notifications became due in
// it, however late a backlog or a restart lets the workers plan them. No runtime runs here, so
// the notifications inserted stay PENDING, as a backlog's do.

describe.each(backends)('digest windows on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const ago = (s: number) => new Date(Date.now() - s * 1000);

  /** A digest workflow with a one-minute window, and one subscriber's events at the given ages (s). */
  async function bucket(key: string, ages: number[], maxEvents = 100) {
    const wf = await store.upsertWorkflow(db.sql, { key, defaultChannels: ['IN_APP'], digest: { windowMs: 60_000, maxEvents } });
    const sub = randomUUID();
    const events = [];
    for (const [i, age] of ages.entries()) {
      const { row } = await store.insertNotification(db.sql, { name: `${key} ${i}`, workflowId: wf.id, payload: { i }, recipients: [sub], channels: ['IN_APP'] });
      // Planned already (as the delivery run leaves it once its events are in the bucket).
      await db.sql.query(`update notify.ent_notification set notification_status = 'SENT', created_at = $2 where id = $1`, [row.id, ago(age)]);
      events.push({ notificationId: row.id, enterpriseId: null, subscriberId: sub, workflowId: wf.id, channel: 'IN_APP' as const, payload: { i }, occurredAt: ago(age) });
    }
    await addDigestEvents(db.sql, events);
    return { wf, sub };
  }

  /** A notification of `wf` that became due `age` seconds ago and is not planned yet. */
  async function backlog(wfId: number, sub: string, age: number) {
    const { row } = await store.insertNotification(db.sql, { name: 'late', workflowId: wfId, payload: {}, recipients: [sub], channels: ['IN_APP'] });
    await db.sql.query(`update notify.ent_notification set created_at = $2 where id = $1`, [row.id, ago(age)]);
    return row.id;
  }

  const due = async (sub: string, maxWaitMs?: number) => (await dueBuckets(db.sql, 10_000, 100, maxWaitMs)).filter((k) => k.subscriber_id === sub);

  it('holds a passed window while a notification due inside it is still to be planned, then claims only that window', async () => {
    // Window [now-120 s, now-60 s): events at 120 s and 100 s ago; one at 30 s ago belongs to the next window.
    const { wf, sub } = await bucket('window-held', [120, 100, 30]);
    const late = await backlog(wf.id, sub, 110);
    expect(await due(sub)).toEqual([]);
    // Planned: its event joins the window it was due in, and the window is due.
    await addDigestEvents(db.sql, [{ notificationId: late, enterpriseId: null, subscriberId: sub, workflowId: wf.id, channel: 'IN_APP', payload: { late: true }, occurredAt: ago(110) }]);
    await db.sql.query(`update notify.ent_notification set notification_status = 'SENT' where id = $1`, [late]);
    const keys = await due(sub);
    expect(keys).toHaveLength(1);
    const digest = await db.sql.transaction((tx) => claimDigest(tx, keys[0]!));
    expect(digest!.count).toBe(3);
    // The event of the next window stays open, and its window (until 30 s from now) is not due.
    const [open] = await db.sql.query<{ n: number }>(
      `select count(*)::int as n from notify.ent_digest_event where subscriber_id = $1::uuid and digest_id is null`, [sub]);
    expect(open!.n).toBe(1);
    expect(await due(sub)).toEqual([]);
  });

  it('sends a held window once it has waited NOTIFY_DIGEST_MAX_WAIT_MS past its end', async () => {
    const { wf, sub } = await bucket('window-stuck', [120, 100]);
    await backlog(wf.id, sub, 110);
    expect(await due(sub, 300_000)).toEqual([]);
    // The window ended 60 s ago: a 30 s limit has passed.
    expect(await due(sub, 30_000)).toHaveLength(1);
  });

  it('sends a held window at once when it holds maxEvents, counting only the events inside it', async () => {
    const full = await bucket('window-full', [120, 110, 100], 3);
    await backlog(full.wf.id, full.sub, 115);
    expect(await due(full.sub)).toHaveLength(1);
    // Four open events, but two of them after the window: not full, still held.
    const spread = await bucket('window-spread', [120, 110, 30, 20], 3);
    await backlog(spread.wf.id, spread.sub, 115);
    expect(await due(spread.sub)).toEqual([]);
  });

  it('is not held by a backlog due after the window, by a scheduled notification, a draft or a deactivated row', async () => {
    const { wf, sub } = await bucket('window-free', [120, 100]);
    await backlog(wf.id, sub, 10); // due after the window ended
    const scheduled = await backlog(wf.id, sub, 110);
    await db.sql.query(`update notify.ent_notification set scheduled_for = now() + interval '1 hour' where id = $1`, [scheduled]);
    const draft = await backlog(wf.id, sub, 110);
    await db.sql.query(`update notify.ent_notification set publish_status = 'NONE' where id = $1`, [draft]);
    const deactivated = await backlog(wf.id, sub, 110);
    await db.sql.query(`update notify.ent_notification set deactivated = true where id = $1`, [deactivated]);
    expect(await due(sub)).toHaveLength(1);
  });
});
