import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LlmEmulator, type AgentTurnRequest } from '../src/emulators/llm/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { defineWorkflow, startRun, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

// Role agent-runner runs a turn in one process: the model call, the HTTP tool it asks for and the
// next call, each stored before what depends on it. No http-worker runs here unless a test starts one.

const fetches: string[] = [];
/** Called with each request's method and URL as it arrives. */
let onFetch: (method: string, url: string) => void = () => {};
const search = createServer((req, res) => {
  fetches.push(req.url!);
  onFetch(req.method!, req.url!);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"title":"Inline turns","url":"https://example.com/i"}]}');
});

const lookup = defineWorkflow({ name: 'i.lookup' }, async ({ input, step }) => {
  const { url, model, method } = input as { url: string; model: string; method?: string };
  return step.agent('lookup', {
    model, input: 'Look it up',
    tools: {
      fetch: {
        description: 'Fetch a page', parameters: z.object({ q: z.string() }),
        http: (a: { q: string }) => ({ url: url.replace('{q}', encodeURIComponent(a.q)), ...(method && { method }) }),
      },
    },
  });
});

/** The same request as a plain step.http, which role http-worker runs. */
const plainGet = defineWorkflow({ name: 'i.get' }, async ({ input, step }) => {
  try {
    await step.http('get', { url: (input as { url: string }).url });
    return 'fetched';
  } catch {
    return 'refused';
  }
});

const turnOf = (r: AgentTurnRequest) => r.messages.filter((m) => m.role === 'assistant').length;

describe.each(backends)('inline agent turns on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let engine: WorkflowEngine;
  let base = '';
  /** Turns of model `thrown` whose call fails once (a server error, not retried by the call). */
  const failTurns = new Set<number>();
  /** Awaited when a model's first request arrives, before it is answered (by model name). */
  const onFirstCall = new Map<string, () => Promise<void>>();
  const emulator = new LlmEmulator({
    latencyMs: 20,
    hold: async (r) => {
      if (r.model === 'thrown' && failTurns.delete(turnOf(r))) emulator.inject('server_error');
      if (turnOf(r) === 0) await onFirstCall.get(r.model!)?.();
    },
  });
  const domain = workflowsDomain({ workflows: [lookup, plainGet] });
  const env = (url: string) => ({ POLL_INTERVAL_MS: '100', OPENAI_BASE_URL: url, HTTP_STEP_ALLOWED_HOSTS: '127.0.0.1', LLM_MAX_RETRIES: '0' });

  beforeAll(async () => {
    await new Promise<void>((r) => search.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(search.address() as { port: number }).port}`;
    const url = await emulator.start();
    db = await backend.create();
    runtime = await startRuntime(db, [domain], { ...env(url), WORKER_TYPE: 'workflow-runner,agent-runner', SHUTDOWN_TIMEOUT_MS: '500' });
    engine = runtime.depsOf<WorkflowEngine>('workflows')!;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
    await emulator.stop();
    search.close();
  });

  const finished = async (id: string) => {
    let run: store.RunRow | undefined;
    await until(async () => store.TERMINAL.includes((run = await store.getRun(db.sql, id))!.status), 15_000, 'the run to finish');
    return run!;
  };
  const stepsOf = async (id: string) => Object.fromEntries((await store.getSteps(db.sql, id)).map((s) => [s.step_id, s]));
  const httpJobs = async () => (await db.sql.query<{ n: number }>(`select count(*)::int as n from nova_jobs where queue = 'workflow.http'`))[0]!.n;

  it('runs the HTTP tool of a turn in the agent-runner and records the model call and the tool call as steps', async () => {
    const before = fetches.length;
    const { run } = await startRun(engine, 'i.lookup', { url: `${base}/search?q={q}`, model: 'openai:inline' });
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const steps = await stepsOf(run.id);
    expect(steps['lookup/turn-1/model']).toMatchObject({ kind: 'model', status: 'completed', attempt: 1 });
    expect(steps['lookup/turn-1/tool-1']).toMatchObject({ kind: 'http', status: 'completed', output: { status: 200, body: { results: [{ title: 'Inline turns' }] } } });
    expect(steps['lookup/turn-2/model']).toMatchObject({ kind: 'model', status: 'completed' });
    // Each step was stored after the one before it (a later transaction): the reply, the tool's
    // result it asked for, the next reply.
    const xids = await Promise.all(['lookup/turn-1/model', 'lookup/turn-1/tool-1', 'lookup/turn-2/model'].map(async (id) =>
      (await db.sql.query<{ xid: number }>('select xmin::text::bigint as xid from run_steps where run_id = $1 and step_id = $2', [run.id, id]))[0]!.xid));
    expect(xids[1]).toBeGreaterThan(xids[0]!);
    expect(xids[2]).toBeGreaterThan(xids[1]!);
    expect(fetches.slice(before)).toEqual(['/search?q=Look%20it%20up']);
    // No http-worker runs here: the tool went through no queue.
    expect(await httpJobs()).toBe(0);
  });

  /**
   * Holds the write of the first reply of `model` (a lock on its step row, taken while the model
   * answers) until the tool's request arrives or `ms` pass from the lock; returns what came first.
   */
  async function holdingTheReply(model: string, method: string, ms: number) {
    let runId = '';
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: Promise<unknown>;
    let onHeld!: () => void;
    const held = new Promise<void>((r) => (onHeld = r));
    onFirstCall.set(model, async () => {
      // Once the agent job's inline tick holds the run (its take would wait behind the lock on
      // PGlite, whose one connection the lock's transaction holds).
      await until(async () => (await db.sql.query(
        `select 1 from runs r join nova_jobs j on j.id = r.lease_job where r.id = $1 and j.queue = 'workflow.agent'`, [runId])).length > 0, 5_000, 'the inline tick');
      let onLock!: () => void;
      const lock = new Promise<void>((r) => (onLock = r));
      locked = db.sql.transaction(async (tx) => {
        await tx.query(`select 1 from run_steps where run_id = $1 and step_id = 'lookup/turn-1/model' for update`, [runId]);
        onLock();
        await released;
      });
      await lock;
      onHeld();
    });
    const toolArrived = new Promise<'the tool request'>((r) => (onFetch = (m) => m === method && r('the tool request')));
    const { run } = await startRun(engine, 'i.lookup', { url: `${base}/held?q={q}`, model: `openai:${model}`, method });
    runId = run.id;
    await held;
    const first = await Promise.race([toolArrived, new Promise<'time'>((r) => setTimeout(() => r('time'), ms).unref())]);
    release();
    await locked;
    onFetch = () => {};
    onFirstCall.delete(model);
    return { first, run: await finished(run.id) };
  }

  it('sends a GET tool while the reply that asked for it is being stored', async () => {
    const { first, run } = await holdingTheReply('held-get', 'GET', 10_000);
    expect(first).toBe('the tool request');
    expect(run.status, JSON.stringify(run.error)).toBe('completed');
  }, 30_000);

  it('sends a POST tool only once the reply that asked for it is stored', async () => {
    const { first, run } = await holdingTheReply('held-post', 'POST', 2_000);
    expect(first).toBe('time');
    expect(run.status, JSON.stringify(run.error)).toBe('completed');
    const steps = await stepsOf(run.id);
    expect(new Date(steps['lookup/turn-1/model']!.finished_at!).getTime()).toBeLessThanOrEqual(new Date(steps['lookup/turn-1/tool-1']!.started_at).getTime());
  }, 30_000);

  it('does not call the model again for a stored reply when a later call of the turn throws', async () => {
    failTurns.add(1);
    const before = fetches.length;
    const { run } = await startRun(engine, 'i.lookup', { url: `${base}/thrown?q={q}`, model: 'openai:thrown' });
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const calls = emulator.agentRequests.filter((r) => r.model === 'thrown').map(turnOf);
    // Turn 1 once; turn 2 failed in the inline tick, went to a model job of its own, and answered there.
    expect(calls).toEqual([0, 1, 1]);
    expect(fetches.slice(before).filter((u) => u.startsWith('/thrown'))).toHaveLength(1);
    const steps = await stepsOf(run.id);
    expect(steps['lookup/turn-1/model']).toMatchObject({ status: 'completed', attempt: 1 });
    expect(steps['lookup/turn-2/model']).toMatchObject({ status: 'completed' });
  });

  it('refuses a tool URL to a private address from the agent-runner exactly as role http-worker refuses it', async () => {
    const target = 'http://169.254.169.254/latest/meta-data';
    const agentRun = await finished((await startRun(engine, 'i.lookup', { url: `${target}?q={q}`, model: 'builtin' })).run.id);
    expect(agentRun.status, JSON.stringify(agentRun.error)).toBe('completed');
    const tool = (await stepsOf(agentRun.id))['lookup/turn-1/tool-1']!;
    expect(tool).toMatchObject({ kind: 'http', status: 'failed', error: { name: 'BlockedRequest' } });
    expect((agentRun.output as { toolCalls: { isError: boolean }[] }).toolCalls).toEqual([expect.objectContaining({ name: 'fetch', isError: true })]);

    const worker = await startRuntime(db, [domain], { ...env(emulator.url), WORKER_TYPE: 'http-worker' });
    try {
      const plain = await finished((await startRun(engine, 'i.get', { url: `${target}?q=Look%20it%20up` })).run.id);
      expect(plain.output).toBe('refused');
      const get = (await stepsOf(plain.id))['get']!;
      // The same refusal, to the word (the stack differs: another caller).
      const { stack: _s1, ...refused } = get.error!;
      const { stack: _s2, ...toolRefused } = tool.error!;
      expect(refused).toEqual(toolRefused);
    } finally {
      await worker.stop();
    }
  });
});
