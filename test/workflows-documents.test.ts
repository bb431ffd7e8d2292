import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiDomain } from '../src/http/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { workflowsDomain } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/** /score answers {score: 80}; /flaky answers 503 twice per Idempotency-Key, then 200. */
function target() {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const key = `${req.url}|${req.headers['idempotency-key']}`;
    hits.set(key, (hits.get(key) ?? 0) + 1);
    if (req.url === '/flaky' && hits.get(key)! <= 2) return res.writeHead(503).end('busy');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.url === '/score' ? { score: 80 } : { ok: true }));
  });
  return { server, hits };
}

const node = (id: string, type: string, config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({ id, type, config, ...extra });

describe.each(backends)('workflow documents and the API on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let api: string;
  let base: string;
  const { server, hits } = target();

  beforeAll(async () => {
    await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    db = await backend.create();
    runtime = await startRuntime(db, [apiDomain, workflowsDomain()], {
      WORKER_TYPE: 'api,orchestrator', PORT: '0', API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '200', HTTP_STEP_ALLOWED_HOSTS: '127.0.0.1',
    });
    api = `http://127.0.0.1:${runtime.apiPort}`;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
    server.close();
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${api}${path}`, {
      method, headers: { 'x-user-id': 'ana', ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const submit = (tag: string, workflow: unknown) => call('POST', '/api/v1/workflows', { tag_name: tag, workflow });
  const execute = async (tag: string, inputs: unknown = {}) => {
    const res = await call('POST', `/api/v1/workflows/${tag}/execute`, { inputs });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.run_id as string;
  };
  const finished = async (id: string) => {
    let run: any;
    await until(async () => {
      run = (await call('GET', `/api/runs/${id}`)).body;
      return ['completed', 'failed', 'cancelled', 'timed_out'].includes(run.run.status);
    }, 20_000, `run ${id}`);
    return run as { run: any; steps: any[] };
  };

  it('refuses documents with an unknown type, an unknown reference, a missing edge end or an undeclared cycle, naming the node', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ nodes: [node('a', 'teleport')], edges: [] }, 'a', /unknown type "teleport"/],
      [{ nodes: [node('a', 'http', { url: '$nodes.ghost.url' })], edges: [] }, 'a', /references unknown node ghost/],
      [{ nodes: [node('a', 'function')], edges: [{ from: 'a', to: 'nowhere' }] }, 'nowhere', /does not exist/],
      [{ nodes: [node('s', 'function'), node('a', 'function'), node('b', 'function')], edges: [{ from: 's', to: 'a' }, { from: 'a', to: 'b' }, { from: 'b', to: 'a' }] }, 'a', /cycle a -> b -> a is not a declared loop/],
      [{ nodes: [node('a', 'function'), node('b', 'function')], edges: [{ from: 'a', to: 'b', condition: 'output.x ==' }] }, 'a', /invalid CEL/],
    ];
    for (const [workflow, bad, message] of cases) {
      const res = await submit('bad', workflow);
      expect(res.status).toBe(400);
      expect(res.body.node).toBe(bad);
      expect(res.body.error).toMatch(message);
    }
  });

  it('runs a reference-format document: a CEL branch in document order, and a two-input join that runs once', async () => {
    const created = await submit('scoring', {
      nodes: [
        node('fetch', 'http', { url: `${base}/score`, method: 'GET' }),
        node('check', 'conditional'),
        node('high', 'transform', { expression: '"high:" + string(nodes.fetch.body.score)' }),
        node('low', 'transform', { expression: '"low"' }),
        node('left', 'transform', { expression: 'nodes.fetch.body.score + 1' }),
        node('right', 'transform', { expression: 'nodes.fetch.body.score * 2' }),
        node('join', 'transform', { expression: 'nodes.left + nodes.right' }),
      ],
      edges: [
        { from: 'fetch', to: 'check' },
        { from: 'check', to: 'high', condition: '$.body.score > 50' },
        { from: 'check', to: 'low', condition: 'output.body.score > 10' },
        { from: 'fetch', to: 'left' }, { from: 'fetch', to: 'right' },
        { from: 'left', to: 'join' }, { from: 'right', to: 'join' },
      ],
      metadata: { name: 'scoring' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ tag: 'scoring', owner: 'ana', nodes_count: 7, edges_count: 7, cas_id: expect.stringMatching(/^sha256:/) });
    const { run, steps } = await finished(await execute('scoring'));
    // Both conditions are true; the first in document order wins, and `low` is pruned.
    expect(run.status).toBe('completed');
    expect(run.output).toEqual({ high: 'high:80', join: 241 });
    expect(steps.map((s) => s.stepId).sort()).toEqual(['fetch', 'high', 'join', 'left', 'right']);
  });

  it('loops back until max_iterations, then takes the timeout path', async () => {
    expect((await submit('counter', {
      nodes: [
        node('inc', 'transform', { expression: '"inc" in nodes ? nodes.inc + 1 : 1' }),
        node('again', 'loop', { max_iterations: 3, loop_back_to: 'inc', condition: 'output < 10', break_path: ['done'], timeout_path: ['capped'] }),
        node('done', 'function', { output: 'broke out' }),
        node('capped', 'function', { output: '$nodes.inc' }),
      ],
      edges: [{ from: 'inc', to: 'again' }, { from: 'again', to: 'done' }, { from: 'again', to: 'capped' }],
    })).status).toBe(201);
    const { run, steps } = await finished(await execute('counter'));
    expect(run.output).toEqual({ capped: 3 });
    expect(steps.map((s) => [s.stepId, s.output])).toEqual([['inc', 1], ['inc#2', 2], ['inc#3', 3]]);
  });

  it('applies a node retry: an http node that fails twice succeeds on its third attempt', async () => {
    expect((await submit('retrying', {
      nodes: [node('call', 'http', { url: `${base}/flaky`, method: 'POST', payload: '{"x":1}' }, { retry: { max_attempts: 3, backoff_ms: 50 }, timeout_ms: 2000 })],
      edges: [],
    })).status).toBe(201);
    const id = await execute('retrying');
    const { run, steps } = await finished(id);
    expect(run.output).toMatchObject({ call: { status: 'success', status_code: 200, body: { ok: true } } });
    expect(steps[0]).toMatchObject({ stepId: 'call', attempt: 3 });
    expect(hits.get(`/flaky|${id}:call`)).toBe(3);
  });

  it('versions a document by JSON Patch and keeps a waiting run on the version it started with', async () => {
    const doc = {
      nodes: [node('hold', 'wait_event', { event: 'doc.go' }), node('say', 'function', { output: 'first' })],
      edges: [{ from: 'hold', to: 'say' }],
    };
    expect((await submit('patched', doc)).status).toBe(201);
    const first = await execute('patched');
    await until(async () => (await call('GET', `/api/runs/${first}`)).body.run.status === 'waiting', 5000, 'the run to wait');
    const patched = await call('PATCH', '/api/v1/workflows/patched/patch', {
      operations: [{ op: 'replace', path: '/nodes/1/config/output', value: 'second' }], description: 'reword',
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ depth: 1, op_count: 1, tag: 'patched', description: 'reword' });
    const got = await call('GET', '/api/v1/workflows/patched?materialize=true');
    expect(got.body).toMatchObject({ kind: 'patch_set', depth: 1, patch_count: 1, workflow: { nodes: [{}, { config: { output: 'second' } }] } });
    expect((await call('GET', '/api/v1/workflows/patched/versions/0')).body.workflow.nodes[1].config.output).toBe('first');
    const bad = await call('PATCH', '/api/v1/workflows/patched/patch', { operations: [{ op: 'replace', path: '/nodes/0/type', value: 'warp' }] });
    expect(bad).toMatchObject({ status: 400, body: { node: 'hold' } });

    const second = await execute('patched');
    await until(async () => (await call('GET', `/api/runs/${second}`)).body.run.status === 'waiting', 5000, 'the second run to wait');
    expect((await call('POST', '/api/events', { name: 'doc.go', data: {} })).body.resumed).toBe(2);
    expect((await finished(first)).run.output).toEqual({ say: 'first' });
    expect((await finished(second)).run.output).toEqual({ say: 'second' });
    expect((await call('GET', `/api/v1/runs/${first}`)).body).toMatchObject({ run_id: first, status: 'COMPLETED', submitted_by: 'ana' });
  });

  it('starts a run once per idempotency key, lists it, and refuses to cancel a finished run', async () => {
    expect((await submit('tiny', { nodes: [node('only', 'function', { output: '$input.who' })], edges: [] })).status).toBe(201);
    const a = await call('POST', '/api/workflows/tiny/runs', { input: { who: 'me' } }, { 'idempotency-key': 'k-1' });
    const b = await call('POST', '/api/workflows/tiny/runs', { input: { who: 'you' } }, { 'idempotency-key': 'k-1' });
    expect([a.status, b.status]).toEqual([201, 200]);
    expect(b.body.run.id).toBe(a.body.run.id);
    expect((await finished(a.body.run.id)).run.output).toEqual({ only: 'me' });
    const list = await call('GET', '/api/runs?workflow=tiny&limit=5');
    expect(list.body.runs.map((r: { id: string }) => r.id)).toEqual([a.body.run.id]);
    expect((await call('POST', `/api/runs/${a.body.run.id}/cancel`)).status).toBe(409);
    expect((await call('POST', '/api/workflows/nope/runs', {})).status).toBe(404);
  });
});
