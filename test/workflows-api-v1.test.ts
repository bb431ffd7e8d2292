import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiDomain } from '../src/http/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { workflowsDomain } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

/**
 * The /api/v1 routes the original lists but does not serve (artifacts, tags: list, get, move,
 * undo, redo, history), the per-user limit on starting runs, and GET /api/workflows' run counts
 * from counters.
 */
const node = (id: string, type: string, config: Record<string, unknown> = {}) => ({ id, type, config });
const doc = (output: string) => ({ nodes: [node('say', 'function', { output })], edges: [] });
const replaceOutput = (output: string) => [{ op: 'replace', path: '/nodes/0/config/output', value: output }];

describe.each(backends)('workflow API v1 additions on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let api: string;
  const env = (extra: Record<string, string> = {}) => ({ WORKER_TYPE: 'api,orchestrator', PORT: '0', API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '200', WORKFLOW_START_RATE_LIMIT: '3', ...extra });

  beforeAll(async () => {
    db = await backend.create();
    runtime = await startRuntime(db, [apiDomain, workflowsDomain()], env());
    api = `http://127.0.0.1:${runtime.apiPort}`;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const call = async (method: string, path: string, body?: unknown, user = 'ana', base = api) => {
    const res = await fetch(`${base}${path}`, {
      method, headers: { 'x-user-id': user, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  };

  it('serves artifacts: a base version, a patch version and a run patch, by the ids the other routes hand out', async () => {
    const created = await call('POST', '/api/v1/workflows', { tag_name: 'art', workflow: doc('one') });
    expect(created.status).toBe(201);
    const base = await call('GET', `/api/v1/artifacts/${created.body.artifact_id}`);
    expect(base.status).toBe(200);
    expect(base.body).toMatchObject({
      artifact_id: created.body.artifact_id, kind: 'dag_version', cas_id: created.body.cas_id, created_by: 'ana', content: doc('one'), tag: 'art', version: 1,
    });
    expect(typeof base.body.created_at).toBe('string');

    const patched = await call('PATCH', '/api/v1/workflows/art/patch', { operations: replaceOutput('two'), description: 'reword' });
    const patch = await call('GET', `/api/v1/artifacts/${patched.body.artifact_id}`);
    expect(patch.body).toMatchObject({ kind: 'patch_set', cas_id: patched.body.cas_id, content: replaceOutput('two'), base_version: 1, description: 'reword', workflow: doc('two') });

    // A run patch (the original's agents add nodes to a running run).
    const waiting = { nodes: [node('hold', 'wait_event', { event: 'art.go' }), node('say', 'function', { output: 'x' })], edges: [{ from: 'hold', to: 'say' }] };
    await call('POST', '/api/v1/workflows', { tag_name: 'art-run', workflow: waiting });
    const run = (await call('POST', '/api/v1/workflows/art-run/execute', { inputs: {} }, 'art-runner')).body.run_id;
    const ops = [{ op: 'replace', path: '/nodes/1/config/output', value: 'y' }];
    const runPatch = await call('POST', `/api/v1/runs/${run}/patches`, { operations: ops, description: 'agent edit' });
    expect(runPatch.status).toBe(201);
    const rp = await call('GET', `/api/v1/artifacts/${runPatch.body.artifact_id}`);
    expect(rp.body).toMatchObject({ kind: 'patch_set', cas_id: runPatch.body.cas_id, content: ops, run_id: run, seq: 1, description: 'agent edit' });

    expect(await call('GET', '/api/v1/artifacts/not-a-uuid')).toMatchObject({ status: 400, body: { error: 'invalid artifact id' } });
    expect(await call('GET', '/api/v1/artifacts/00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 404, body: { error: 'artifact not found' } });
  });

  it('lists and gets tags, moves a tag with an expected version, undoes and redoes moves, and keeps the history', async () => {
    await call('POST', '/api/v1/workflows', { tag_name: 'moving', workflow: doc('v1') });
    await call('PATCH', '/api/v1/workflows/moving/patch', { operations: replaceOutput('v2') });
    await call('PATCH', '/api/v1/workflows/moving/patch', { operations: replaceOutput('v3') }, 'bob');

    const listed = await call('GET', '/api/v1/tags');
    expect(listed.body.scope).toBe('all');
    const tag = listed.body.tags.find((t: any) => t.tag === 'moving');
    expect(tag).toMatchObject({ owner: 'ana', version: 3, target_kind: 'patch_set', moved_by: 'bob' });
    expect((await call('GET', '/api/v1/tags?scope=user', undefined, 'nobody')).body).toMatchObject({ tags: [], count: 0, scope: 'user' });
    expect((await call('GET', '/api/v1/tags/moving')).body).toEqual(tag);
    expect((await call('GET', '/api/v1/tags/ghost')).status).toBe(404);

    // Move back to version 1 (by artifact id), refused when the tag moved meanwhile.
    const v1 = (await call('GET', '/api/v1/workflows/moving/versions/0')).body.artifact_id;
    expect(await call('POST', '/api/v1/tags/moving/move', { artifact_id: v1, expected_version: 2 })).toMatchObject({ status: 409 });
    const moved = await call('POST', '/api/v1/tags/moving/move', { artifact_id: v1, expected_version: 3 });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ tag: 'moving', version: 1, from_version: 3, target_id: v1, target_kind: 'dag_version', moved_by: 'ana' });
    expect((await call('POST', '/api/v1/workflows/moving/execute', {}, 'mover')).status).toBe(201);
    expect((await call('GET', '/api/v1/workflows/moving?materialize=true')).body).toMatchObject({ depth: 0, workflow: doc('v1') });
    expect((await call('POST', '/api/v1/tags/moving/move', { version: 99 })).status).toBe(404);
    expect((await call('POST', '/api/v1/tags/moving/move', {})).status).toBe(400);

    // Undo the move (back to 3), undo the second patch (back to 2), redo it (3 again).
    expect((await call('POST', '/api/v1/tags/moving/undo')).body).toMatchObject({ version: 3, from_version: 1 });
    expect((await call('POST', '/api/v1/tags/moving/undo')).body).toMatchObject({ version: 2, from_version: 3 });
    expect((await call('POST', '/api/v1/tags/moving/redo')).body).toMatchObject({ version: 3, from_version: 2 });
    expect((await call('POST', '/api/v1/tags/moving/undo')).body).toMatchObject({ version: 2 });
    expect((await call('POST', '/api/v1/tags/moving/undo')).body).toMatchObject({ version: 1 });
    // The first create cannot be undone.
    expect(await call('POST', '/api/v1/tags/moving/undo')).toMatchObject({ status: 409, body: { error: 'nothing to undo or redo' } });

    // A patch on version 1 branches from it (version 4, one patch deep) and clears the redo stack.
    const branch = await call('PATCH', '/api/v1/workflows/moving/patch', { operations: replaceOutput('v4') });
    expect(branch.body).toMatchObject({ depth: 1 });
    const got = (await call('GET', '/api/v1/workflows/moving?materialize=true')).body;
    expect(got).toMatchObject({ depth: 1, patch_count: 1, workflow: doc('v4') });
    expect(got.components.patches).toHaveLength(1);
    expect(await call('POST', '/api/v1/tags/moving/redo')).toMatchObject({ status: 409 });

    const history = (await call('GET', '/api/v1/tags/moving/history')).body;
    expect(history.history.map((h: any) => [h.action, h.from_version, h.to_version])).toEqual([
      ['patch', 1, 4], ['undo', 2, 1], ['undo', 3, 2], ['redo', 2, 3], ['undo', 3, 2], ['undo', 1, 3], ['move', 3, 1],
      ['patch', 2, 3], ['patch', 1, 2], ['create', null, 1],
    ]);
    expect(history.history[0]).toMatchObject({ state: 'done', moved_by: 'ana', to_id: branch.body.artifact_id });
    expect((await call('GET', '/api/v1/tags/ghost/history')).status).toBe(404);
  });

  it('limits run starts per user across both start routes and both API replicas: 429 with Retry-After', async () => {
    await call('POST', '/api/v1/workflows', { tag_name: 'limited', workflow: doc('x') });
    const second = await startRuntime(db, [apiDomain, workflowsDomain()], env({ WORKER_TYPE: 'api' }));
    try {
      const other = `http://127.0.0.1:${second.apiPort}`;
      expect((await call('POST', '/api/v1/workflows/limited/execute', {}, 'carol')).status).toBe(201);
      expect((await call('POST', '/api/workflows/limited/runs', { input: {} }, 'carol', other)).status).toBe(201);
      expect((await call('POST', '/api/v1/workflows/limited/execute', {}, 'carol', other)).status).toBe(201);
      const refused = await call('POST', '/api/v1/workflows/limited/execute', {}, 'carol');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.body).toMatchObject({
        error: 'rate_limit_exceeded', details: { tier: 'user', limit: 3, window: '60 seconds', retry_after_seconds: Number(refused.headers.get('retry-after')) },
      });
      const own = await call('POST', '/api/workflows/limited/runs', { input: {} }, 'carol', other);
      expect(own.status).toBe(429);
      expect(own.headers.get('retry-after')).toBeTruthy();
      expect(own.body.error.code).toBe('rate_limited');
      // Another user has a bucket of their own.
      expect((await call('POST', '/api/v1/workflows/limited/execute', {}, 'dave')).status).toBe(201);
    } finally {
      await second.stop();
    }
  });

  it('counts runs per workflow from counters kept with each insert, and live runs, without counting runs', async () => {
    await call('POST', '/api/v1/workflows', { tag_name: 'counted', workflow: { nodes: [node('hold', 'wait_event', { event: 'counted.go' })], edges: [] } });
    const ids = new Set<string>();
    for (const key of ['a', 'b', 'a']) {
      const res = await call('POST', '/api/workflows/counted/runs', { input: {}, idempotencyKey: key }, `counter-${key}`);
      expect([200, 201]).toContain(res.status);
      ids.add(res.body.run.id);
    }
    expect(ids.size).toBe(2);
    const row = async () => (await call('GET', '/api/workflows')).body.workflows.find((w: any) => w.name === 'counted');
    // Two runs (the repeated key returned the first), both live.
    expect(await row()).toMatchObject({ name: 'counted', kind: 'document', version: 1, runs: 2, active: 2 });
    // The total comes from the counter rows (this one added by hand shows up), not from runs.
    await db.sql.query(`insert into workflow_run_counts (workflow, shard, runs) values ('counted', 99, 40)`);
    expect((await row()).runs).toBe(42);
    // Both runs wait on the event before it is sent, so it resumes both (a run ticked later would
    // take the stored event instead, and the count would say 1).
    await until(async () => {
      for (const id of ids) if ((await call('GET', `/api/runs/${id}`)).body.run.status !== 'waiting') return false;
      return true;
    }, 10_000, 'both runs to wait');
    expect((await call('POST', '/api/events', { name: 'counted.go', data: {} })).body.resumed).toBe(2);
    await until(async () => (await row()).active === 0, 10_000, 'the runs to end');
    expect((await row()).runs).toBe(42);
  });
});
