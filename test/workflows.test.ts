import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Runtime } from '../src/runtime/runtime.ts';
import { defineWorkflow, workflowsDomain, startRun, sendEvent, cancelRun, rerunFromFailure, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/** Side effects the workflows below record, by test key: how often each step body really ran. */
const effects = new Map<string, number>();
const bump = (key: string) => effects.set(key, (effects.get(key) ?? 0) + 1);

const threeSteps = defineWorkflow({ name: 't.three', input: z.object({ n: z.number() }) }, async ({ input, step }) => {
  const a = await step.run('a', () => input.n + 1);
  const b = await step.run('b', () => a * 2);
  return step.run('c', () => ({ total: b + 1 }));
});

const sleeper = defineWorkflow({ name: 't.sleep' }, async ({ step, run }) => {
  await step.run('before', () => bump(`sleep-before:${run.id}`));
  await step.sleep('nap', 1500);
  return step.run('after', () => 'awake');
});

const waiter = defineWorkflow({ name: 't.wait' }, async ({ input, step }) => {
  const { orderId, timeout } = input as { orderId: string; timeout?: number };
  const paid = await step.waitForEvent<{ amount: number }>('paid', { event: 'order.paid', match: { orderId }, ...(timeout && { timeout }) });
  return paid === null ? { timedOut: true } : { amount: paid.amount };
});

const flaky = defineWorkflow({ name: 't.flaky', retry: { maxAttempts: 3, backoffMs: 20 } }, async ({ step, run }) => {
  return step.run('shaky', () => {
    bump(`flaky:${run.id}`);
    if (effects.get(`flaky:${run.id}`)! < 3) throw new Error('not yet');
    return 'ok';
  });
});

const doomed = defineWorkflow({ name: 't.doomed', retry: { maxAttempts: 1 } }, async ({ step }) => {
  await step.run('explode', () => {
    throw new Error('child blew up');
  });
});

const parent = defineWorkflow({ name: 't.parent' }, async ({ input, step }) => {
  const policy = (input as { policy: 'fail' | 'continue' | 'ignore' }).policy;
  const child = await step.invoke('child', doomed, {}, { onChildFailure: policy });
  return { policy, child };
});

const longChild = defineWorkflow({ name: 't.long-child' }, async ({ step }) => {
  await step.waitForEvent('never', { event: 'never.happens' });
});
const tree = defineWorkflow({ name: 't.tree' }, async ({ step }) => {
  await step.invoke('kid', longChild, {});
});

const fanOut = defineWorkflow({ name: 't.map' }, async ({ step }) => {
  const squares = await step.map('squares', [1, 2, 3, 4, 5], (n) => n * n, { concurrency: 2 });
  const children = await step.map('kids', [{ n: 1 }, { n: 2 }, { n: 3 }], threeSteps, { concurrency: 2 });
  return { squares, children };
});

const fragile = defineWorkflow({ name: 't.fragile', retry: { maxAttempts: 1 } }, async ({ step, run }) => {
  await step.run('prepare', () => bump(`prepare:${run.id}`));
  return step.run('deliver', () => {
    bump(`deliver:${run.id}`);
    if (effects.get(`deliver:${run.id}`) === 1) throw new Error('carrier down');
    return 'delivered';
  });
});

const slow = defineWorkflow({ name: 't.slow', timeout: 300 }, async ({ step }) => {
  await step.sleep('forever', '1h');
});

const serial = defineWorkflow(
  { name: 't.serial', concurrency: { key: (input: { account: string; ticket: number }) => input.account, limit: 1 } },
  async ({ input, step }) => {
    // The ticket keeps one run's release from also ending a queued run's wait (stored events count).
    await step.waitForEvent('release', { event: 'serial.release', match: { account: input.account, ticket: input.ticket } });
    return step.run('done', () => Date.now());
  },
);

describe.each(backends)('workflows on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let engine: WorkflowEngine;
  const domain = workflowsDomain({ workflows: [threeSteps, sleeper, waiter, flaky, doomed, parent, longChild, tree, fanOut, fragile, slow, serial], recoveryIntervalMs: 300 });

  beforeAll(async () => {
    db = await backend.create();
    runtime = await startRuntime(db, [domain], { WORKER_TYPE: 'orchestrator', POLL_INTERVAL_MS: '200' });
    engine = runtime.depsOf<WorkflowEngine>('workflows')!;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const finished = async (id: string, timeoutMs = 15_000) => {
    let run: store.RunRow | undefined;
    await until(async () => {
      run = await store.getRun(db.sql, id);
      return !!run && store.TERMINAL.includes(run.status);
    }, timeoutMs, `run ${id} to finish`);
    return run!;
  };

  it('runs a three-step workflow to completion and stores each step once', async () => {
    const { run } = await startRun(engine, 't.three', { n: 1 });
    const done = await finished(run.id);
    expect(done).toMatchObject({ status: 'completed', output: { total: 5 }, version: 1 });
    const steps = await store.getSteps(db.sql, run.id);
    expect(steps.map((s) => [s.step_id, s.status, s.attempt, s.output])).toEqual([
      ['a', 'completed', 1, 2], ['b', 'completed', 1, 4], ['c', 'completed', 1, { total: 5 }],
    ]);
  });

  it('refuses input that fails the workflow schema', async () => {
    await expect(startRun(engine, 't.three', { n: 'one' })).rejects.toThrow(/input of t.three: n/);
  });

  it('returns the same run for a repeated idempotency key', async () => {
    const first = await startRun(engine, 't.three', { n: 2 }, { idempotencyKey: 'order-7' });
    const second = await startRun(engine, 't.three', { n: 99 }, { idempotencyKey: 'order-7' });
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.run.id).toBe(first.run.id);
    expect((await finished(first.run.id)).output).toEqual({ total: 7 });
  });

  it('sleeps without holding a worker slot or an active job, then resumes', async () => {
    const { run } = await startRun(engine, 't.sleep', {});
    await until(async () => (await store.getRun(db.sql, run.id))?.status === 'waiting', 5000, 'the run to wait');
    // Once the tick that began the sleep is acknowledged, only a delayed job (the timer) is left.
    await until(async () => (await runtime.service.queue.metrics('workflow.tick')).active === 0, 5000, 'the tick to be acknowledged');
    expect((await store.getRun(db.sql, run.id))!.status).toBe('waiting');
    const timers = await db.sql.query<{ run_at: Date }>(`select run_at from nova_jobs where queue = 'workflow.tick' and payload->>'runId' = $1`, [run.id]);
    expect(timers).toHaveLength(1);
    expect(timers[0]!.run_at.getTime()).toBeGreaterThan(Date.now());
    const done = await finished(run.id);
    expect(done.output).toBe('awake');
    expect(effects.get(`sleep-before:${run.id}`)).toBe(1);
    const nap = (await store.getSteps(db.sql, run.id)).find((s) => s.step_id === 'nap')!;
    expect(new Date(nap.wake_at!).getTime() - new Date(nap.started_at).getTime()).toBeGreaterThanOrEqual(1495);
    expect(new Date(nap.finished_at!).getTime()).toBeGreaterThanOrEqual(new Date(nap.wake_at!).getTime());
  });

  it('waits for a matching event holding no job, and ignores events that do not match', async () => {
    const { run } = await startRun(engine, 't.wait', { orderId: 'A1' });
    await until(async () => (await store.getRun(db.sql, run.id))?.status === 'waiting', 5000, 'the run to wait');
    // The tick that registered the wait is acknowledged just after the commit; then nothing is left.
    const jobsOf = () => db.sql.query(`select id from nova_jobs where queue = 'workflow.tick' and payload->>'runId' = $1`, [run.id]);
    await until(async () => (await jobsOf()).length === 0, 5000, 'the tick job to be acknowledged');
    await new Promise((r) => setTimeout(r, 200));
    expect(await jobsOf()).toHaveLength(0);
    expect((await store.getRun(db.sql, run.id))!.status).toBe('waiting');
    expect(await sendEvent(engine, 'order.paid', { orderId: 'B2', amount: 1 })).toEqual([]);
    expect(await sendEvent(engine, 'order.paid', { orderId: 'A1', amount: 42 })).toEqual([run.id]);
    expect((await finished(run.id)).output).toEqual({ amount: 42 });
  });

  it('times out a waitForEvent and returns null', async () => {
    const { run } = await startRun(engine, 't.wait', { orderId: 'C3', timeout: 300 });
    expect((await finished(run.id)).output).toEqual({ timedOut: true });
    expect(await sendEvent(engine, 'order.paid', { orderId: 'C3', amount: 1 })).toEqual([]);
  });

  it('retries a failing step with backoff and records its attempts', async () => {
    const { run } = await startRun(engine, 't.flaky', {});
    expect((await finished(run.id)).output).toBe('ok');
    const [shaky] = await store.getSteps(db.sql, run.id);
    expect(shaky).toMatchObject({ status: 'completed', attempt: 3 });
    expect(effects.get(`flaky:${run.id}`)).toBe(3);
  });

  it('fails the parent when its child fails under onChildFailure fail', async () => {
    const { run } = await startRun(engine, 't.parent', { policy: 'fail' });
    const done = await finished(run.id);
    expect(done.status).toBe('failed');
    expect(done.error?.name).toBe('ChildRunFailed');
    const [child] = await store.childRuns(db.sql, run.id);
    expect(child).toMatchObject({ workflow: 't.doomed', status: 'failed' });
  });

  it('goes on with the outcome under continue, and with null under ignore', async () => {
    const cont = await startRun(engine, 't.parent', { policy: 'continue' });
    const ign = await startRun(engine, 't.parent', { policy: 'ignore' });
    const c = await finished(cont.run.id);
    expect(c.status).toBe('completed');
    expect(c.output).toMatchObject({ policy: 'continue', child: { status: 'failed', error: { message: expect.stringContaining('child blew up') } } });
    expect(await finished(ign.run.id)).toMatchObject({ status: 'completed', output: { policy: 'ignore', child: null } });
  });

  it('cancels a run and its waiting child', async () => {
    const { run } = await startRun(engine, 't.tree', {});
    let kid: { id: string; status: string } | undefined;
    await until(async () => {
      [kid] = await store.childRuns(db.sql, run.id);
      return kid?.status === 'waiting';
    }, 5000, 'the child to wait');
    expect(await cancelRun(engine, run.id)).toBe(2);
    expect((await store.getRun(db.sql, run.id))!.status).toBe('cancelled');
    expect((await store.getRun(db.sql, kid!.id))!.status).toBe('cancelled');
    const [never] = await store.getSteps(db.sql, kid!.id);
    expect(never!.status).toBe('cancelled');
    expect(await cancelRun(engine, run.id)).toBe(0);
  });

  it('fans out inline and as child runs, and fans the results back in order', async () => {
    const { run } = await startRun(engine, 't.map', {});
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.output).toEqual({ squares: [1, 4, 9, 16, 25], children: [{ total: 5 }, { total: 7 }, { total: 9 }] });
    expect(await store.childRuns(db.sql, run.id)).toHaveLength(3);
  });

  it('re-runs a failed run from its failed step, replaying the completed one from storage', async () => {
    const { run } = await startRun(engine, 't.fragile', {});
    expect((await finished(run.id)).status).toBe('failed');
    expect(await rerunFromFailure(engine, run.id)).toMatchObject({ status: 'queued' });
    expect(await finished(run.id)).toMatchObject({ status: 'completed', output: 'delivered' });
    expect([effects.get(`prepare:${run.id}`), effects.get(`deliver:${run.id}`)]).toEqual([1, 2]);
    expect(await rerunFromFailure(engine, run.id)).toBeUndefined();
  });

  it('ends a run that outlives its timeout as timed_out, waits included', async () => {
    const { run } = await startRun(engine, 't.slow', {});
    const done = await finished(run.id, 5000);
    expect(done).toMatchObject({ status: 'timed_out', error: { name: 'RunTimedOut' } });
    expect((await store.getSteps(db.sql, run.id))[0]!.status).toBe('cancelled');
  });

  it('runs at most `limit` runs of one concurrency key at once; the next starts when one ends', async () => {
    const first = (await startRun(engine, 't.serial', { account: 'acme', ticket: 1 })).run;
    await until(async () => (await store.getRun(db.sql, first.id))?.status === 'waiting', 5000, 'the first run to wait');
    const second = (await startRun(engine, 't.serial', { account: 'acme', ticket: 2 })).run;
    const other = (await startRun(engine, 't.serial', { account: 'globex', ticket: 3 })).run;
    await until(async () => (await store.getRun(db.sql, other.id))?.status === 'waiting', 5000, 'another key to run');
    await new Promise((r) => setTimeout(r, 300));
    expect((await store.getRun(db.sql, second.id))!.status).toBe('queued');
    await sendEvent(engine, 'serial.release', { account: 'acme', ticket: 1 });
    await until(async () => (await store.getRun(db.sql, first.id))?.status === 'completed', 5000, 'the first run to end');
    await until(async () => (await store.getRun(db.sql, second.id))?.status === 'waiting', 5000, 'the second run to start');
    await sendEvent(engine, 'serial.release', { account: 'acme', ticket: 2 });
    await sendEvent(engine, 'serial.release', { account: 'globex', ticket: 3 });
    expect((await finished(second.id)).status).toBe('completed');
  });

  it('gives a fresh tick to a run left running by a tick job that is gone', async () => {
    const { run } = await startRun(engine, 't.wait', { orderId: 'Z9' });
    await until(async () => (await store.getRun(db.sql, run.id))?.status === 'waiting', 5000, 'the run to wait');
    // As if the event's tick had taken the run and then been dead-lettered: the step is done,
    // the run is held by a job that no longer exists, and nothing else will wake it.
    await db.sql.query(`update run_steps set status = 'completed', output = '{"amount": 9}' where run_id = $1`, [run.id]);
    await db.sql.query(`update runs set status = 'running', lease_job = 999999999, lease_token = 1, updated_at = now() - interval '1 minute' where id = $1`, [run.id]);
    expect((await finished(run.id)).output).toEqual({ amount: 9 });
  });
});
