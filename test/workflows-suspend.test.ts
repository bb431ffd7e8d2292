import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueClient } from '../src/queue/queue.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';

// A tick whose waits need only ticks and model calls suspends in one statement
// (store.releaseRunsQueued): its run is let go, its steps written and its jobs queued only while
// the tick still holds the run, as the transaction path does.

describe.each(backends)('one-statement suspend on $name', (backend) => {
  let db: TestDb;
  let queue: QueueClient;
  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    await store.registerVersions(db.sql, [{ name: 'suspend.test', version: 1, kind: 'code', definition: null, hash: 'h' }]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** A run held by a tick with lease token `token`, `wake` if a wake-up was asked for meanwhile. */
  async function heldRun(token: number, wake = false): Promise<string> {
    const id = randomUUID();
    await store.insertRuns(db.sql, [{ id, workflow: 'suspend.test', version: 1, input: null }]);
    await db.sql.query(`update runs set status = 'running', lease_job = $2, lease_token = $2, wake_pending = $3 where id = $1`, [id, token, wake]);
    return id;
  }
  const jobsOf = (queueName: string, runId: string) =>
    db.sql.query<{ due_in_s: number; payload: { stepId?: string } }>(
      `select extract(epoch from run_at - now())::float8 as due_in_s, payload from nova_jobs where queue = $1 and payload->>'runId' = $2`, [queueName, runId]);

  it('writes and queues for the runs it still holds only, and reports a wake asked for meanwhile', async () => {
    const [sleeping, woken, lost] = [await heldRun(11), await heldRun(12, true), await heldRun(13)];
    const step = (runId: string, token: number, stepId: string) => ({ runId, token, stepId, kind: 'sleep' as const, status: 'waiting' as const, attempt: 0 });
    const at = new Date(Date.now() + 3_600_000);
    const { released, tickJobs, agentJobs } = await store.releaseRunsQueued(
      db.sql,
      [{ runId: sleeping, token: 11 }, { runId: woken, token: 12 }, { runId: lost, token: 99 }],
      [step(sleeping, 11, 'nap'), step(woken, 12, 'nap'), step(lost, 99, 'nap')],
      [{ runId: sleeping, at }, { runId: lost, at: null }],
      [{ runId: woken, stepId: 'ask/turn-1/model', request: { messages: [] } }, { runId: lost, stepId: 'ask/turn-1/model', request: { messages: [] } }],
      { tick: 'workflow.tick', agent: 'workflow.agent', enqueue: (...a) => queue.enqueueFromSql(...a) },
    );
    expect(new Map(released.map((r) => [r.id, r.wake]))).toEqual(new Map([[sleeping, false], [woken, true]]));
    expect(tickJobs).toHaveLength(1);
    expect(agentJobs).toHaveLength(1);
    // The sleeper's tick is due at its timer; the model call goes at once.
    const [tick] = await jobsOf('workflow.tick', sleeping);
    expect(tick!.due_in_s).toBeGreaterThan(3500);
    expect((await jobsOf('workflow.agent', woken)).map((j) => j.payload.stepId)).toEqual(['ask/turn-1/model']);
    // The run another tick took over keeps its state: no step, no job.
    expect(await jobsOf('workflow.tick', lost)).toEqual([]);
    expect(await jobsOf('workflow.agent', lost)).toEqual([]);
    expect(await store.getSteps(db.sql, lost)).toEqual([]);
    expect((await store.getRun(db.sql, lost))!.status).toBe('running');
    expect((await store.getRun(db.sql, sleeping))!.status).toBe('waiting');
    expect((await store.getSteps(db.sql, sleeping)).map((s) => s.step_id)).toEqual(['nap']);
  });
});
