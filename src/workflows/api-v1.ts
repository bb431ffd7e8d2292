/**
 * The original orchestrator's REST routes under /api/v1, with its request and response shapes
 * (docs/MIGRATING.md lists the deviations), so its clients and CLI keep working. Identity is the
 * `X-User-ID` header, trusted as the original does (put NOVA_API_TOKEN in front of it). Errors
 * leave in the original's shape `{ "error": "…" }` (plus `node` when a document is refused).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { z, ZodError } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import { userOf } from './api.ts';
import { applyOperations, chainOf, createDocument, patchDocument } from './document/catalog.ts';
import { DocumentError } from './document/validate.ts';
import { hashDefinition } from './define.ts';
import type { WorkflowEngine } from './engine.ts';
import { cancelRun, checkStartLimit, startIdentity, startRun } from './service.ts';
import * as store from './store.ts';
import * as tags from './tag-store.ts';

const createBody = z.object({
  tag_name: z.string().min(1).max(200).refine((t) => !t.startsWith('_global_'), 'may not start with _global_'),
  workflow: z.unknown(),
});
const patchBody = z.object({ operations: z.array(z.any()), description: z.string().nullish() });
const runPatchBody = z.object({ operations: z.array(z.any()), description: z.string().nullish(), node_id: z.string().nullish() });
const executeBody = z.object({ inputs: z.unknown().optional() }).loose();
const uuid = z.uuid();
const moveBody = z.strictObject({
  version: z.number().int().positive().optional(),
  artifact_id: z.uuid({ error: 'must be a UUID' }).optional(),
  expected_version: z.number().int().positive().optional(),
}).refine((b) => b.version !== undefined || b.artifact_id !== undefined, 'give version or artifact_id');

/** The original's statuses: a waiting run is RUNNING to its clients, a timed-out one FAILED. */
const STATUS: Record<store.RunStatus, string> = {
  queued: 'QUEUED', running: 'RUNNING', waiting: 'RUNNING', completed: 'COMPLETED', failed: 'FAILED', cancelled: 'CANCELLED', timed_out: 'FAILED',
};

export function v1Routes(app: FastifyInstance, engine: WorkflowEngine): void {
  const { sql } = engine.services;

  app.setErrorHandler((err: FastifyError | Error, _req, reply) => {
    if (err instanceof DocumentError) return reply.status(400).send({ error: err.message, node: err.node });
    if (err instanceof HttpError) return reply.status(err.status).send({ error: err.message });
    if (err instanceof ZodError) return reply.status(400).send({ error: err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ') });
    const status = (err as FastifyError).statusCode;
    if (status && status < 500) return reply.status(status).send({ error: err.message });
    engine.log.error('v1 request failed', { error: err });
    return reply.status(500).send({ error: 'internal error' });
  });

  const versionsOf = async (tag: string, upTo?: number) => {
    const current = await tags.getTag(sql, tag);
    if (!current) throw new HttpError(404, 'not_found', 'workflow not found');
    const versions = await tags.documentVersions(sql, tag, upTo ?? current.version);
    if (versions.length === 0) throw new HttpError(404, 'not_found', 'workflow not found');
    return { current, versions };
  };
  const describe = (current: tags.TagRow, versions: store.WorkflowRow[], materialize: boolean, head = current.version) => {
    const c = chainOf(versions, head);
    return {
      tag: current.name, owner: current.owner, artifact_id: c.head.artifact_id, kind: c.kind, depth: c.depth, patch_count: c.patches.length,
      created_at: c.head.created_at, created_by: c.head.created_by,
      components: { base_cas_id: c.base.definition_hash, base_version_hash: c.base.definition_hash, base_version: c.base.artifact_id, patches: c.patches },
      workflow: materialize ? c.head.definition : null,
    };
  };

  app.post('/api/v1/workflows', async (req, reply) => {
    const user = req.headers['x-user-id'];
    if (typeof user !== 'string' || !user) throw new HttpError(401, 'unauthorized', 'X-User-ID header is required');
    const body = createBody.parse(req.body ?? {});
    const row = await sql.transaction((tx) => createDocument(tx, body.tag_name, user, body.workflow));
    const doc = row.definition as { nodes: unknown[]; edges: unknown[] };
    return reply.status(201).send({
      artifact_id: row.artifact_id, cas_id: row.definition_hash, version_hash: row.definition_hash, tag: row.name, owner: user,
      nodes_count: doc.nodes.length, edges_count: doc.edges.length, created_at: row.created_at,
    });
  });

  app.get('/api/v1/workflows', async (req) => {
    const scope = z.object({ scope: z.enum(['user', 'global', 'all']).default('user') }).parse(req.query).scope;
    const owner = scope === 'all' ? null : scope === 'global' ? '_global_' : userOf(req.headers);
    const rows = await tags.listTags(sql, owner);
    const workflows = await Promise.all(rows.map(async (t) => {
      const v = (await store.getVersion(sql, t.name, t.version))!;
      return {
        tag: t.name, owner: t.owner, target_id: v.artifact_id, target_kind: v.patch === null ? 'dag_version' : 'patch_set', version: t.version,
        moved_at: t.moved_at, created_by: t.created_by, ...(t.moved_by && { moved_by: t.moved_by }),
      };
    }));
    return { workflows, count: workflows.length, scope };
  });

  app.get('/api/v1/workflows/:tag', async (req) => {
    const { tag } = req.params as { tag: string };
    const { current, versions } = await versionsOf(decodeURIComponent(tag));
    return describe(current, versions, (req.query as { materialize?: string }).materialize === 'true');
  });

  app.get('/api/v1/workflows/:tag/versions/:seq', async (req) => {
    const { tag, seq } = z.object({ tag: z.string(), seq: z.coerce.number().int().min(0) }).parse(req.params);
    const { current, versions } = await versionsOf(decodeURIComponent(tag));
    // seq counts patches after the current base; 0 is the base itself.
    const c = chainOf(versions, current.version);
    const at = seq === 0 ? c.base : versions.find((v) => v.version === c.patches[seq - 1]?.version);
    if (!at) throw new HttpError(404, 'not_found', `no version ${seq} of ${tag}`);
    return { ...describe(current, versions, true, at.version), seq };
  });

  app.patch('/api/v1/workflows/:tag/patch', async (req) => {
    const { tag } = req.params as { tag: string };
    const body = patchBody.parse(req.body ?? {});
    const user = userOf(req.headers);
    const row = await sql.transaction((tx) => patchDocument(tx, decodeURIComponent(tag), user, { operations: body.operations, description: body.description ?? null }));
    const { versions } = await versionsOf(row.name);
    const c = chainOf(versions, row.version);
    return {
      artifact_id: row.artifact_id, cas_id: row.definition_hash, depth: c.depth, op_count: body.operations.length, tag: row.name,
      owner: (await tags.getTag(sql, row.name))!.owner, description: body.description ?? null, created_at: row.created_at,
    };
  });

  app.delete('/api/v1/workflows/:tag', async (req) => {
    const tag = decodeURIComponent((req.params as { tag: string }).tag);
    const deleted = await sql.transaction((tx) => tags.deleteTag(tx, tag, userOf(req.headers)));
    if (!deleted) throw new HttpError(404, 'not_found', 'workflow not found');
    return { message: 'workflow deleted', tag, owner: deleted.owner };
  });

  app.post('/api/v1/workflows/:tag/execute', async (req, reply) => {
    const tag = decodeURIComponent((req.params as { tag: string }).tag);
    const body = executeBody.parse(req.body ?? {});
    const version = await tags.currentTagVersion(sql, tag);
    if (version === undefined) throw new HttpError(404, 'not_found', 'workflow not found');
    const limited = await checkStartLimit(engine, startIdentity(req));
    if (limited) {
      return reply.status(429).header('retry-after', String(limited.retryAfterSeconds)).send({
        error: 'rate_limit_exceeded', message: `rate limit of ${limited.limit} runs per minute exceeded; retry in ${limited.retryAfterSeconds} s`,
        details: { tier: 'user', limit: limited.limit, window: '60 seconds', current_count: limited.limit, retry_after_seconds: limited.retryAfterSeconds },
      });
    }
    const { run } = await startRun(engine, tag, body.inputs ?? {}, { version, submittedBy: userOf(req.headers) });
    const v = (await store.getVersion(sql, tag, run.version))!;
    return reply.status(201).send({ run_id: run.id, artifact_id: v.artifact_id, status: 'QUEUED', tag });
  });

  app.get('/api/v1/workflows/:tag/runs', async (req) => {
    const tag = decodeURIComponent((req.params as { tag: string }).tag);
    const { limit } = z.object({ limit: z.coerce.number().int().min(1).max(500).default(20) }).parse(req.query);
    const runs = await store.listRuns(sql, { workflow: tag, limit });
    return { runs: await Promise.all(runs.map((r) => runJson(r))) };
  });

  const runOr404 = async (id: string) => {
    if (!uuid.safeParse(id).success) throw new HttpError(400, 'invalid_run_id', 'invalid run id');
    const run = await store.getRun(sql, id);
    if (!run) throw new HttpError(404, 'not_found', 'run not found');
    return run;
  };
  const runJson = async (r: store.RunRow) => {
    const v = await store.getVersion(sql, r.workflow, r.version);
    return {
      run_id: r.id, base_kind: 'dag_version', base_ref: v?.artifact_id ?? null, tags_snapshot: { [r.workflow]: v?.artifact_id ?? null },
      status: STATUS[r.status], submitted_by: r.submitted_by, submitted_at: r.created_at,
    };
  };

  app.get('/api/v1/runs/:id', async (req) => runJson(await runOr404((req.params as { id: string }).id)));

  app.get('/api/v1/runs/:id/details', async (req) => {
    const run = await runOr404((req.params as { id: string }).id);
    const [version, steps, patches] = await Promise.all([
      store.getVersion(sql, run.workflow, run.version), store.getSteps(sql, run.id), tags.runPatches(sql, run.id),
    ]);
    let workflow: unknown = version?.definition ?? null;
    for (const p of patches) workflow = applyOperations(workflow, p.operations);
    const node_executions = Object.fromEntries(steps.map((s) => [s.step_id, {
      node_id: s.step_id, status: s.status.toUpperCase(), input: s.input ?? undefined, output: s.output ?? undefined,
      started_at: s.started_at, completed_at: s.finished_at ?? undefined, error: s.error?.message, metrics: { attempt: s.attempt, kind: s.kind },
    }]));
    return {
      run: { ...(await runJson(run)), status: STATUS[run.status] }, base_workflow_ir: version?.definition ?? null, workflow_ir: workflow, node_executions,
      patches: patches.map((p) => ({ seq: p.seq, node_id: p.node_id, operations: p.operations, description: p.description })),
    };
  });

  app.post('/api/v1/runs/:id/patches', async (req, reply) => {
    const run = await runOr404((req.params as { id: string }).id);
    const body = runPatchBody.parse(req.body ?? {});
    const user = userOf(req.headers);
    // The patched document must still be valid before the run may see it.
    const version = await store.getVersion(sql, run.workflow, run.version);
    if (version?.kind !== 'document') throw new HttpError(400, 'not_a_document', 'only runs of workflow documents can be patched');
    let doc = version.definition;
    for (const p of await tags.runPatches(sql, run.id)) doc = applyOperations(doc, p.operations);
    const { validateDocument } = await import('./document/validate.ts');
    validateDocument(applyOperations(doc, body.operations));
    const row = await sql.transaction((tx) => tags.addRunPatch(tx, {
      runId: run.id, nodeId: body.node_id ?? null, operations: body.operations, description: body.description ?? null,
      casId: hashDefinition(body.operations), createdBy: user,
    }));
    return reply.status(201).send({
      id: row!.id, run_id: run.id, artifact_id: row!.artifact_id, cas_id: row!.cas_id, seq: row!.seq, op_count: body.operations.length,
      description: row!.description, created_by: row!.created_by,
    });
  });

  app.get('/api/v1/runs/:id/patches', async (req) => {
    const run = await runOr404((req.params as { id: string }).id);
    const patches = await tags.runPatches(sql, run.id);
    return { run_id: run.id, patches, count: patches.length };
  });

  app.get('/api/v1/runs/:id/patches/:cas/operations', async (req) => {
    const { id, cas } = req.params as { id: string; cas: string };
    const run = await runOr404(id);
    const patch = (await tags.runPatches(sql, run.id)).find((p) => p.cas_id === decodeURIComponent(cas));
    if (!patch) throw new HttpError(404, 'not_found', 'patch not found');
    return { run_id: run.id, cas_id: patch.cas_id, operations: patch.operations };
  });

  // The original answers 501 to these two; Nova has what they need.
  app.get('/api/v1/runs', async (req) => {
    const { limit } = z.object({ limit: z.coerce.number().int().min(1).max(500).default(20) }).parse(req.query);
    return { runs: await Promise.all((await store.listRuns(sql, { limit })).map(runJson)) };
  });

  app.post('/api/v1/runs/:id/cancel', async (req) => {
    const run = await runOr404((req.params as { id: string }).id);
    if ((await cancelRun(engine, run.id)) === 0) throw new HttpError(409, 'run_finished', `run is ${STATUS[run.status]}`);
    return { run_id: run.id, status: 'CANCELLED' };
  });

  // Artifacts: a workflow version (dag_version, or patch_set for a version made by a patch) or a
  // run patch (patch_set), by the artifact id the other routes hand out.
  app.get('/api/v1/artifacts/:id', async (req) => {
    const { id } = req.params as { id: string };
    if (!uuid.safeParse(id).success) throw new HttpError(400, 'invalid_artifact_id', 'invalid artifact id');
    const v = await tags.versionByArtifact(sql, id);
    if (v) {
      const patch = v.patch as { operations: unknown[]; description: string | null } | null;
      return {
        artifact_id: v.artifact_id, kind: patch ? 'patch_set' : 'dag_version', cas_id: v.definition_hash, created_by: v.created_by, created_at: v.created_at,
        // The original's patch_set blob is its operations; a dag_version's is the workflow.
        content: patch ? patch.operations : v.definition,
        tag: v.name, version: v.version, ...(patch && { base_version: v.base_version ?? v.version - 1, description: patch.description, workflow: v.definition }),
      };
    }
    const p = await tags.runPatchByArtifact(sql, id);
    if (!p) throw new HttpError(404, 'not_found', 'artifact not found');
    return {
      artifact_id: p.artifact_id, kind: 'patch_set', cas_id: p.cas_id, created_by: p.created_by, created_at: p.created_at, content: p.operations,
      run_id: p.run_id, seq: p.seq, description: p.description,
    };
  });

  // Tags (the original answers 501 to all of these): list, get, move, undo, redo, history.
  const tagJson = async (t: tags.TagRow) => {
    const v = (await store.getVersion(sql, t.name, t.version))!;
    return {
      tag: t.name, owner: t.owner, target_id: v.artifact_id, target_kind: v.patch === null ? 'dag_version' : 'patch_set', target_hash: v.definition_hash,
      version: t.version, moved_at: t.moved_at, created_by: t.created_by, ...(t.moved_by && { moved_by: t.moved_by }),
    };
  };
  const tagParam = (req: { params: unknown }) => decodeURIComponent((req.params as { tag: string }).tag);
  const moved = async (tag: string, r: tags.MoveResult) => {
    if ('error' in r) {
      if (r.error === 'not_found') throw new HttpError(404, 'not_found', 'tag not found');
      if (r.error === 'no_version') throw new HttpError(404, 'not_found', `no such version of ${tag}`);
      if (r.error === 'conflict') throw new HttpError(409, 'conflict', `tag ${tag} is at version ${r.current}, not the expected one`);
      throw new HttpError(409, 'nothing_to_do', 'nothing to undo or redo');
    }
    const from = await store.getVersion(sql, tag, r.from);
    return { ...(await tagJson(r.tag)), from_version: r.from, from_id: from?.artifact_id ?? null };
  };

  app.get('/api/v1/tags', async (req) => {
    const scope = z.object({ scope: z.enum(['user', 'global', 'all']).default('all') }).parse(req.query).scope;
    const owner = scope === 'all' ? null : scope === 'global' ? '_global_' : userOf(req.headers);
    const list = await Promise.all((await tags.listTags(sql, owner)).map(tagJson));
    return { tags: list, count: list.length, scope };
  });

  app.get('/api/v1/tags/:tag', async (req) => {
    const t = await tags.getTag(sql, tagParam(req));
    if (!t) throw new HttpError(404, 'not_found', 'tag not found');
    return tagJson(t);
  });

  app.post('/api/v1/tags/:tag/move', async (req) => {
    const tag = tagParam(req);
    const body = moveBody.parse(req.body ?? {});
    let to = body.version;
    if (body.artifact_id !== undefined) {
      const v = await tags.versionByArtifact(sql, body.artifact_id);
      if (!v || v.name !== tag || (to !== undefined && to !== v.version)) throw new HttpError(404, 'not_found', `artifact ${body.artifact_id} is not a version of ${tag}`);
      to = v.version;
    }
    const r = await sql.transaction((tx) => tags.moveTag(tx, tag, to!, userOf(req.headers), body.expected_version));
    return moved(tag, r);
  });

  app.post('/api/v1/tags/:tag/undo', async (req) => {
    const tag = tagParam(req);
    return moved(tag, await sql.transaction((tx) => tags.undoTag(tx, tag, userOf(req.headers))));
  });

  app.post('/api/v1/tags/:tag/redo', async (req) => {
    const tag = tagParam(req);
    return moved(tag, await sql.transaction((tx) => tags.redoTag(tx, tag, userOf(req.headers))));
  });

  app.get('/api/v1/tags/:tag/history', async (req) => {
    const tag = tagParam(req);
    const { limit } = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).parse(req.query);
    const history = await tags.tagHistory(sql, tag, limit);
    if (history.length === 0) throw new HttpError(404, 'not_found', 'tag not found');
    return { tag, history, count: history.length };
  });
}
