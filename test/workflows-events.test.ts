import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../src/runtime/runtime.ts';
import { cancelRun, defineWorkflow, sendEvent, startRun, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import { commitSuspends } from '../src/workflows/runner.ts';
import * as store from '../src/workflows/store.ts';
import { pruneEvents } from '../src/workflows/event-store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/**
 * Events sent before a wait registers (issue 14): POST /api/events stores the event, and a
 * waitForEvent that registers later receives it when it was sent after the run started and after
 * the run's previous step ended. Each race is made deterministic by controlling when the wait
 * registers: no runner at all while the event is sent, or the event sent by the run itself in the
 * step just before its wait.
 */
const waiter = defineWorkflow({ name: 'ev.wait' }, async ({ input, step }) => {
  const { key } = input as { key: string };
  return step.waitForEvent('got', { event: 'ev.ping', match: { key }, timeout: '1h' });
});

let engineOf: () => WorkflowEngine;
const selfSender = defineWorkflow({ name: 'ev.self' }, async ({ input, step }) => {
  const { key } = input as { key: string };
  // The event goes out (committed) in this tick, before the wait below is registered.
  await step.run('announce', () => sendEvent(engineOf(), 'ev.self', { key, n: 1 }));
  return step.waitForEvent('echo', { event: 'ev.self', match: { key } });
});

const twice = defineWorkflow({ name: 'ev.twice' }, async ({ input, step }) => {
  const { key } = input as { key: string };
  const first = await step.waitForEvent<{ n: number }>('first', { event: 'ev.tick', match: { key } });
  const second = await step.waitForEvent<{ n: number }>('second', { event: 'ev.tick', match: { key } });
  return [first!.n, second!.n];
});

describe.each(backends)('events sent before a wait registers, on $name', (backend) => {
  let db: TestDb;
  let runner: Runtime;
  const domain = () => workflowsDomain({ workflows: [waiter, selfSender, twice] });

  beforeAll(async () => {
    db = await backend.create();
    runner = await startRuntime(db, [domain()], { WORKER_TYPE: 'workflow-runner', POLL_INTERVAL_MS: '100' });
    engineOf = () => runner.depsOf<WorkflowEngine>('workflows')!;
  });
  afterAll(async () => {
    await runner?.stop();
    await db?.drop();
  });

  const finished = async (id: string) => {
    await until(async () => store.TERMINAL.includes((await store.getRun(db.sql, id))!.status), 10_000, `run ${id}`);
    return (await store.getRun(db.sql, id))!;
  };

  it('delivers an event sent while the run was still queued (no runner yet), when its wait registers', async () => {
    // A process with the workflows domain but no runner role: runs it starts stay queued.
    const api = await startRuntime(db, [domain()], { WORKER_TYPE: 'hitl-worker', POLL_INTERVAL_MS: '100' });
    try {
      await runner.stop();
      const engine = api.depsOf<WorkflowEngine>('workflows')!;
      const { run } = await startRun(engine, 'ev.wait', { key: 'queued-1' });
      const { run: other } = await startRun(engine, 'ev.wait', { key: 'queued-2' });
      // Nothing waits yet: the event resumes no run now...
      expect(await sendEvent(engine, 'ev.ping', { key: 'queued-1', amount: 5 })).toEqual([]);
      expect((await store.getRun(db.sql, run.id))!.status).toBe('queued');
      expect(await store.getSteps(db.sql, run.id)).toEqual([]);
      // ...but the wait that registers later gets it; the run with another key keeps waiting.
      runner = await startRuntime(db, [domain()], { WORKER_TYPE: 'workflow-runner', POLL_INTERVAL_MS: '100' });
      expect(await finished(run.id)).toMatchObject({ status: 'completed', output: { key: 'queued-1', amount: 5 } });
      await until(async () => (await store.getRun(db.sql, other.id))!.status === 'waiting', 10_000, 'the other run to wait');
      expect((await store.getSteps(db.sql, other.id))[0]).toMatchObject({ step_id: 'got', status: 'waiting' });
      expect(await sendEvent(engineOf(), 'ev.ping', { key: 'queued-2' })).toEqual([other.id]);
      expect(await finished(other.id)).toMatchObject({ status: 'completed', output: { key: 'queued-2' } });
    } finally {
      await api.stop();
    }
  });

  it('delivers an event sent in the same tick, after the run started and before its wait registered', async () => {
    const { run } = await startRun(engineOf(), 'ev.self', { key: 'self-1' });
    expect(await finished(run.id)).toMatchObject({ status: 'completed', output: { key: 'self-1', n: 1 } });
    const steps = await store.getSteps(db.sql, run.id);
    expect(steps.map((s) => [s.step_id, s.status])).toEqual([['announce', 'completed'], ['echo', 'completed']]);
  });

  it('does not deliver an event sent before the run started', async () => {
    await sendEvent(engineOf(), 'ev.ping', { key: 'early' });
    const { run } = await startRun(engineOf(), 'ev.wait', { key: 'early' });
    await until(async () => (await store.getRun(db.sql, run.id))!.status === 'waiting', 10_000, 'the run to wait');
    expect((await store.getSteps(db.sql, run.id))[0]!.status).toBe('waiting');
    expect(await sendEvent(engineOf(), 'ev.ping', { key: 'early', late: true })).toEqual([run.id]);
    expect((await finished(run.id)).output).toEqual({ key: 'early', late: true });
  });

  it('gives an event to one wait of a run: a later wait on the same event takes a later event', async () => {
    const { run } = await startRun(engineOf(), 'ev.twice', { key: 'k' });
    await until(async () => (await store.getRun(db.sql, run.id))!.status === 'waiting', 10_000, 'the first wait');
    expect(await sendEvent(engineOf(), 'ev.tick', { key: 'k', n: 1 })).toEqual([run.id]);
    // The second wait registers after the first event: it must not take that one again.
    await until(async () => (await store.getSteps(db.sql, run.id)).some((s) => s.step_id === 'second' && s.status === 'waiting'), 10_000, 'the second wait');
    expect(await sendEvent(engineOf(), 'ev.tick', { key: 'k', n: 2 })).toEqual([run.id]);
    expect((await finished(run.id)).output).toEqual([1, 2]);
  });

  it('commits the waits of several ticks in one transaction, each fenced by its own lease token', async () => {
    await runner.stop();
    const api = await startRuntime(db, [domain()], { WORKER_TYPE: 'hitl-worker', POLL_INTERVAL_MS: '100' });
    try {
      const engine = api.depsOf<WorkflowEngine>('workflows')!;
      // Runs no runner ticks (their tick jobs are removed), taken by hand as three ticks would.
      const runs = await Promise.all(['b-1', 'b-2', 'b-3'].map(async (key) => (await startRun(engine, 'ev.wait', { key })).run));
      await db.sql.query(`delete from nova_jobs where queue = 'workflow.tick' and payload->>'runId' = any($1::text[])`, [runs.map((r) => r.id)]);
      for (const [i, r] of runs.entries()) expect(await store.acquireRun(db.sql, r.id, 9_000_000 + i, 100 + i)).toBeDefined();
      await sendEvent(engine, 'ev.ping', { key: 'b-2' });
      const wakeAt = new Date(Date.now() + 3_600_000);
      const wait = (key: string) => ({
        step: { stepId: 'got', kind: 'waitForEvent' as const, status: 'waiting' as const, attempt: 1, wakeAt, eventName: 'ev.ping', eventMatch: { key }, startedAt: new Date() },
        tickAt: wakeAt,
      });
      const results = await commitSuspends(engine, [
        { run: runs[0]!, token: 100, waits: [wait('b-1')], completed: [{ stepId: 'before', kind: 'run', status: 'completed', attempt: 1, output: 7, finished: true }] },
        { run: runs[1]!, token: 101, waits: [wait('b-2')], completed: [] },
        // This tick lost its run (another token holds it): nothing of it is written.
        { run: runs[2]!, token: 999, waits: [wait('b-3')], completed: [] },
      ]);
      expect(results).toEqual([{ wake: false }, { wake: true }, undefined]);
      const statuses = await Promise.all(runs.map(async (r) => (await store.getRun(db.sql, r.id))!.status));
      expect(statuses).toEqual(['waiting', 'waiting', 'running']);
      const steps = await Promise.all(runs.map((r) => store.getSteps(db.sql, r.id)));
      expect(steps[0]!.map((s) => [s.step_id, s.status, s.output]).sort()).toEqual([['before', 'completed', 7], ['got', 'waiting', null]]);
      // The event sent before b-2's wait registered ended it in the same commit.
      expect(steps[1]!.map((s) => [s.step_id, s.status, s.output])).toEqual([['got', 'completed', { key: 'b-2' }]]);
      expect(steps[2]).toEqual([]);
      const timers = await db.sql.query<{ run_id: string }>(
        `select payload->>'runId' as run_id from nova_jobs where queue = 'workflow.tick' and payload->>'runId' = any($1::text[]) order by 1`, [runs.map((r) => r.id)]);
      expect(timers.map((t) => t.run_id).sort()).toEqual([runs[0]!.id, runs[1]!.id].sort());
      await cancelRun(engine, runs[2]!.id);
    } finally {
      await api.stop();
      runner = await startRuntime(db, [domain()], { WORKER_TYPE: 'workflow-runner', POLL_INTERVAL_MS: '100' });
    }
  });

  it('forgets events older than the retention window', async () => {
    await sendEvent(engineOf(), 'ev.old', { n: 1 });
    await sendEvent(engineOf(), 'ev.old', { n: 2 });
    await db.sql.query(`update workflow_events set created_at = created_at - interval '2 hours' where name = 'ev.old' and data->>'n' = '1'`);
    expect(await pruneEvents(db.sql, 3_600_000)).toBe(1);
    const left = await db.sql.query<{ data: unknown }>(`select data from workflow_events where name = 'ev.old'`);
    expect(left.map((r) => r.data)).toEqual([{ n: 2 }]);
  });
});
