import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNovaConfig } from '../src/domains.ts';
import { silentLogger } from '../src/log.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import type { Queryable, Sql } from '../src/storage/index.ts';
import { createDocument } from '../src/workflows/document/catalog.ts';
import { defineWorkflow, sendEvent, startRun, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { until } from './helpers/runtime.ts';

/**
 * Database round trips per workflow tick (issue 14/15/16: the tick's cost is its round trips).
 * A counting Sql sits under the runtime; each case does one thing and counts the statements the
 * workflow engine and its tick queue sent meanwhile (a transaction's BEGIN and COMMIT count as
 * one round trip each, as they are on a server). Background loops are left out by their SQL.
 */
interface Trip {
  text: string;
}

function counting(sql: Sql, trips: Trip[]): Sql {
  const wrap = (db: Queryable): Queryable => ({
    ...db,
    query: (text, params) => {
      trips.push({ text });
      return db.query(text, params);
    },
    exec: (script) => {
      trips.push({ text: script });
      return db.exec(script);
    },
  });
  return {
    ...sql,
    ...wrap(sql),
    kind: sql.kind,
    transaction: (fn) => {
      trips.push({ text: 'begin' });
      return sql.transaction((tx) => fn(wrap(tx))).finally(() => trips.push({ text: 'commit' }));
    },
    listen: (c, f) => sql.listen(c, f),
    notify: (c, p) => sql.notify(c, p),
    close: () => sql.close(),
  };
}

/** Statements of the tick path: the engine's tables and the tick queue's jobs. */
const TICK_PATH = /\b(runs|run_steps|run_patches|nova_jobs|workflow_events|begin|commit|pg_advisory_xact_lock_shared)\b/;
/** Background statements that touch those tables too (recovery sweep, queue maintenance, heartbeats). */
const BACKGROUND = /as a\(id, token\)|state = 'parked' and run_at <= now\(\)|updated_at < now\(\) - make_interval|state = 'active' and lease_expires_at <|min\(run_at\)|nova_workers|nova_leases|nova_schedules/;

const three = defineWorkflow({ name: 'rt.three' }, async ({ step }) => {
  const a = await step.run('a', () => 1);
  const b = await step.run('b', () => a + 1);
  return step.run('c', () => b + 1);
});

const single = defineWorkflow({ name: 'rt.one' }, async ({ step }) => step.run('only', () => 'done'));

const waiting = defineWorkflow({ name: 'rt.wait' }, async ({ input, step }) => {
  const { key } = input as { key: string };
  await step.run('before', () => 1);
  const got = await step.waitForEvent<{ n: number }>('go', { event: 'rt.go', match: { key } });
  return step.run('after', () => got!.n);
});

const napping = defineWorkflow({ name: 'rt.nap' }, async ({ step }) => {
  await step.run('before', () => 1);
  await step.sleep('nap', 3_600_000);
  return 'rested';
});

describe.each(backends)('round trips per workflow tick on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let engine: WorkflowEngine;
  const trips: Trip[] = [];

  beforeAll(async () => {
    db = await backend.create();
    const config = loadNovaConfig({ POLL_INTERVAL_MS: '60000', WORKER_HEALTH_PORT: '0', NOVA_HEALTH_HOST: '127.0.0.1', WORKER_TYPE: 'workflow-runner', ...db.env });
    const sql = backend.name === 'pglite' ? db.sql : await db.connect();
    runtime = new Runtime({ config, domains: [workflowsDomain({ workflows: [three, single, waiting, napping] })], logger: silentLogger, health: false, sql: counting(sql, trips) });
    await runtime.start();
    engine = runtime.depsOf<WorkflowEngine>('workflows')!;
    // Warm up: code versions recorded, the tick queue's consumer awake.
    const { run } = await startRun(engine, 'rt.one', {});
    await finished(run.id);
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const finished = async (id: string) => {
    await until(async () => store.TERMINAL.includes((await store.getRun(db.sql, id))?.status ?? 'queued'), 10_000, `run ${id}`);
    // The tick's ack follows the run's end: wait until its job is gone.
    await until(async () => (await db.sql.query(`select 1 from nova_jobs where queue = 'workflow.tick' and state <> 'completed' and payload->>'runId' = $1`, [id])).length === 0, 10_000, 'the tick ack');
  };
  const waitingNow = async (id: string) => {
    await until(async () => (await store.getRun(db.sql, id))?.status === 'waiting', 10_000, `run ${id} to wait`);
    await until(async () => (await db.sql.query(`select 1 from nova_jobs where queue = 'workflow.tick' and state = 'active' and payload->>'runId' = $1`, [id])).length === 0, 10_000, 'the tick ack');
  };
  /** Runs `fn` and returns the tick-path statements sent meanwhile (the probe's own reads excluded). */
  async function count(fn: () => Promise<void>): Promise<string[]> {
    const from = trips.length;
    await fn();
    return trips.slice(from).map((t) => t.text).filter((t) => TICK_PATH.test(t) && !BACKGROUND.test(t));
  }
  const report = (what: string, texts: string[]) => {
    if (process.env.ROUNDTRIPS_VERBOSE) console.log(`${backend.name} ${what}: ${texts.length}\n  ${texts.map((t) => t.replace(/\s+/g, ' ').slice(0, 90)).join('\n  ')}`);
    else console.log(`${backend.name} ${what}: ${texts.length} round trips`);
  };

  // Budgets: before this change a start took 4 round trips (BEGIN, insert, enqueue, COMMIT), a
  // step.run before a wait was checkpointed on its own and the wait's release and step writes were
  // two statements; now a start is one statement and the release writes that step and the wait.
  // Each window spans the claim and ack of its tick.
  it('starts a run in one statement and runs a one-step run in one tick: 5 round trips in all', async () => {
    const texts = await count(async () => {
      const { run } = await startRun(engine, 'rt.one', {});
      await finished(run.id);
    });
    report('one-step run, start to ack (start, claim, take, end, ack)', texts);
    expect(texts.filter((t) => t === 'begin')).toHaveLength(0);
    expect(texts.length).toBeLessThanOrEqual(5);
  });

  it('runs a workflow document in as many round trips as code: its patches are read only when the run has some', async () => {
    await createDocument(db.sql, 'rt.doc', 'test', { nodes: [{ id: 'only', type: 'function', config: { output: 'done' } }], edges: [] });
    let id = '';
    const texts = await count(async () => {
      id = (await startRun(engine, 'rt.doc', {})).run.id;
      await finished(id);
    });
    report('one-node document run, start to ack (start, claim, take, end, ack)', texts);
    expect(await store.getRun(db.sql, id)).toMatchObject({ status: 'completed', output: { only: 'done' } });
    expect(texts.filter((t) => /run_patches/.test(t))).toEqual([]);
    expect(texts.length).toBeLessThanOrEqual(5);
    // The count follows patches however they are written (a trigger), and a patched run can go.
    const patches = async () => (await db.sql.query<{ patches: number }>('select patches from runs where id = $1', [id]))[0]?.patches;
    const add = (seq: number) => db.sql.query(`insert into run_patches (run_id, seq, operations, cas_id) values ($1, $2, '[]', 'x')`, [id, seq]);
    await add(1);
    await add(2);
    expect(await patches()).toBe(2);
    await db.sql.query('delete from run_patches where run_id = $1 and seq = 2', [id]);
    expect(await patches()).toBe(1);
    await db.sql.query('delete from runs where id = $1', [id]);
    expect(await patches()).toBeUndefined();
  });

  it('runs three inline steps in one tick with one checkpoint per step boundary: 7 round trips in all', async () => {
    const texts = await count(async () => {
      const { run } = await startRun(engine, 'rt.three', {});
      await finished(run.id);
    });
    report('three-step run, start to ack (start, claim, take, 2 checkpoints, end, ack)', texts);
    expect(texts.length).toBeLessThanOrEqual(7);
  });

  it('writes the step before a wait with the wait, and resumes after an event', async () => {
    let id = '';
    const suspend = await count(async () => {
      id = (await startRun(engine, 'rt.wait', { key: 'k1' })).run.id;
      await waitingNow(id);
    });
    report('step then wait, start to ack (start, claim, take, wait transaction, ack)', suspend);
    // No step write of its own: step `before` and the wait are written by the release statement.
    expect(suspend.filter((t) => t.trim().startsWith('insert into run_steps'))).toHaveLength(0);
    expect(suspend.length).toBeLessThanOrEqual(9);
    expect(await store.getSteps(db.sql, id)).toMatchObject([{ step_id: 'before', status: 'completed' }, { step_id: 'go', status: 'waiting' }]);
    const resume = await count(async () => {
      expect(await sendEvent(engine, 'rt.go', { key: 'k1', n: 7 })).toEqual([id]);
      await finished(id);
    });
    report('event to ack (send event, claim, take, end, ack)', resume);
    expect(await store.getRun(db.sql, id)).toMatchObject({ status: 'completed', output: 7 });
    expect(resume.length).toBeLessThanOrEqual(8);
  });

  it('suspends at a timer in one statement: the release, both steps and the timer tick', async () => {
    let id = '';
    const suspend = await count(async () => {
      id = (await startRun(engine, 'rt.nap', {})).run.id;
      await waitingNow(id);
    });
    report('step then sleep, start to ack (start, claim, take, release with the tick, next claim, ack)', suspend);
    // A transaction would add BEGIN, a statement for the tick and COMMIT: 9.
    expect(suspend.filter((t) => t === 'begin')).toHaveLength(0);
    expect(suspend.length).toBeLessThanOrEqual(6);
    expect(await store.getSteps(db.sql, id)).toMatchObject([{ step_id: 'before', status: 'completed' }, { step_id: 'nap', status: 'waiting' }]);
    const [tick] = await db.sql.query<{ due_in_s: number }>(
      `select extract(epoch from run_at - now())::float8 as due_in_s from nova_jobs where queue = 'workflow.tick' and state <> 'completed' and payload->>'runId' = $1`, [id]);
    expect(tick!.due_in_s).toBeGreaterThan(3500);
  });
});
