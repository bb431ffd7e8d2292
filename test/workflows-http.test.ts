import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../src/runtime/runtime.ts';
import { defineWorkflow, startRun, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/** A local target: /flaky answers 503 with Retry-After: 1 once per key, then 200; /big is 2 MB. */
function target() {
  const seen: { path: string; key: string | undefined; at: number }[] = [];
  const failedOnce = new Set<string>();
  const server = createServer((req: IncomingMessage, res) => {
    const key = req.headers['idempotency-key'] as string | undefined;
    seen.push({ path: req.url!, key, at: Date.now() });
    if (req.url === '/flaky' && !failedOnce.has(key!)) {
      failedOnce.add(key!);
      res.writeHead(503, { 'retry-after': '1' }).end('busy');
    } else if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(2_000_000));
    } else if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"nope"}');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path: req.url }));
    }
  });
  return { server, seen };
}

const call = defineWorkflow({ name: 't.http' }, async ({ input, step }) => {
  const { url } = input as { url: string };
  try {
    const res = await step.http('call', { url, method: 'POST', body: { hello: 'world' } }, { maxAttempts: 3, backoffMs: 50 });
    return { status: res.status, body: res.body };
  } catch (err) {
    if ((err as Error).name !== 'StepFailed') throw err;
    return { failed: (err as Error).message };
  }
});

describe.each(backends)('HTTP steps on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let engine: WorkflowEngine;
  let base: string;
  const { server, seen } = target();
  const domain = workflowsDomain({ workflows: [call] });

  beforeAll(async () => {
    await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    db = await backend.create();
    runtime = await startRuntime(db, [domain], {
      WORKER_TYPE: 'orchestrator', POLL_INTERVAL_MS: '200', HTTP_STEP_ALLOWED_HOSTS: '127.0.0.1', HTTP_STEP_MAX_RESPONSE_BYTES: '1048576',
    });
    engine = runtime.depsOf<WorkflowEngine>('workflows')!;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
    server.close();
  });

  const outputOf = async (id: string) => {
    let run: store.RunRow | undefined;
    await until(async () => store.TERMINAL.includes((run = await store.getRun(db.sql, id))!.status), 15_000, 'the run to finish');
    return run!.output as Record<string, unknown>;
  };

  it('retries a 503 after its Retry-After with the same Idempotency-Key, and the run resumes with the response', async () => {
    const { run } = await startRun(engine, 't.http', { url: `${base}/flaky` });
    expect(await outputOf(run.id)).toEqual({ status: 200, body: { ok: true, path: '/flaky' } });
    const calls = seen.filter((s) => s.key === `${run.id}:call`);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(900);
    const [step] = await store.getSteps(db.sql, run.id);
    expect(step).toMatchObject({ kind: 'http', status: 'completed', attempt: 2 });
  });

  it('fails the step on a 4xx without retrying it', async () => {
    const { run } = await startRun(engine, 't.http', { url: `${base}/missing` });
    expect((await outputOf(run.id)).failed).toMatch(/answered 404/);
    expect(seen.filter((s) => s.key === `${run.id}:call`)).toHaveLength(1);
  });

  it('fails the step when the response is over the size cap', async () => {
    const { run } = await startRun(engine, 't.http', { url: `${base}/big` });
    expect((await outputOf(run.id)).failed).toMatch(/larger than 1048576 bytes/);
  });

  it('refuses loopback, private and link-local targets not allowed by HTTP_STEP_ALLOWED_HOSTS, saying why', async () => {
    const port = new URL(base).port;
    const cases: [string, RegExp][] = [
      [`http://localhost:${port}/x`, /localhost is a loopback address; add it to HTTP_STEP_ALLOWED_HOSTS/],
      ['http://10.1.2.3/x', /10\.1\.2\.3 is a private address/],
      ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is a link-local address/],
      ['http://[::ffff:127.0.0.2]/x', /loopback/],
      ['file:///etc/passwd', /scheme file: is not allowed/],
    ];
    const runs = await Promise.all(cases.map(([url]) => startRun(engine, 't.http', { url })));
    for (const [i, { run }] of runs.entries()) expect((await outputOf(run.id)).failed).toMatch(cases[i]![1]);
    expect(seen.filter((s) => s.path === '/x')).toHaveLength(0);
  });
});
