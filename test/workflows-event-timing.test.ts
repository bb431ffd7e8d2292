import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverStoredEvents } from '../src/workflows/event-store.ts';
import { insertRun } from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';

/**
 * deliverStoredEvents at timestamp boundaries. PGlite's clock ticks in milliseconds, so a step's
 * start and an event its body sends can carry the same timestamp; the run used to wait forever.
 */
describe.each(backends)('stored events at equal timestamps on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
    await db.sql.query(
      `insert into workflows (name, version, kind, definition, definition_hash) values ('timing', 1, 'code', '{}', 'sha256:0')`);
  });
  afterAll(() => db.drop());

  /** A run whose step `before` (of `kind`) started (and, for a wait, ended) at `at`, then a wait `echo` registered. */
  async function runWith(kind: 'run' | 'waitForEvent', at: string, event: { name: string; createdAt: string }) {
    const { run } = await insertRun(db.sql, { id: randomUUID(), workflow: 'timing', version: 1, input: {} });
    await db.sql.query(`update runs set created_at = $2::timestamptz - interval '1 second' where id = $1`, [run.id, at]);
    await db.sql.query(
      `insert into run_steps (run_id, step_id, kind, status, started_at, finished_at) values ($1, 'before', $2, 'completed', $3, $3)`,
      [run.id, kind, at]);
    await db.sql.query(
      `insert into run_steps (run_id, step_id, kind, status, event_name, started_at) values ($1, 'echo', 'waitForEvent', 'waiting', $2, $3::timestamptz + interval '1 millisecond')`,
      [run.id, event.name, at]);
    await db.sql.query(`insert into workflow_events (name, data, created_at) values ($1, '{"n": 1}', $2)`, [event.name, event.createdAt]);
    return deliverStoredEvents(db.sql, [{ runId: run.id, stepId: 'echo' }]);
  }

  it('delivers an event sent at the very timestamp its step started (sent while that step ran)', async () => {
    const at = '2026-11-30T12:00:00.123Z';
    expect(await runWith('run', at, { name: 'same-ms', createdAt: at })).toHaveLength(1);
  });

  it('does not deliver the event that ended an earlier wait at the same timestamp to the next wait', async () => {
    const at = '2026-11-30T12:00:00.456Z';
    expect(await runWith('waitForEvent', at, { name: 'ended-one', createdAt: at })).toEqual([]);
  });
});
