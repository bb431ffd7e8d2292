/**
 * The per-process state of the workflows domain, built once by `setup(services)`: the code
 * workflows this process knows, compiled documents, and the batcher that gathers step
 * checkpoints of every run ticking in this process into one statement.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import type { Queryable } from '../storage/index.ts';
import type { WorkflowsConfig } from './config.ts';
import type { Services } from '../runtime/domain.ts';
import { Batcher } from '../runtime/batcher.ts';
import { codeDefinition, durationMs, hashDefinition, WorkflowRegistry, type Workflow } from './define.ts';
import type { ChildTarget } from './context.ts';
import { commitSuspends, type SuspendItem } from './runner.ts';
import { documentWorkflow } from './document/run.ts';
import { HttpError } from '../runtime/http-error.ts';
import * as store from './store.ts';
import { currentTagVersion, runPatches } from './tag-store.ts';
import { applyOperations } from './document/catalog.ts';
import type { ApprovalLinkSender } from './approvals.ts';

/** The tick queue (role `workflow-runner`), the HTTP step queue (role `http-worker`) and the approval queue (role `hitl-worker`). */
export const TICK_QUEUE = 'workflow.tick';
export const HTTP_QUEUE = 'workflow.http';
export const APPROVAL_QUEUE = 'workflow.approval';

export interface WorkflowEngine {
  services: Services;
  registry: WorkflowRegistry;
  log: Logger;
  checkpoints: Batcher<store.StepWrite, boolean>;
  /** Ticks of many runs take their runs, and top-level runs end, in one statement per batch. */
  acquires: Batcher<{ runId: string; job: number; token: number }, store.LeasedRun | undefined>;
  finishes: Batcher<store.FinishItem, { wake: boolean } | undefined>;
  /** Runs started at once in this process are inserted, with their first ticks, in one transaction. */
  starts: Batcher<store.NewRun, { run: store.RunRow; created: boolean }>;
  /** Ticks of many runs ending in a wait commit their waits, jobs and release in one transaction. */
  suspends: Batcher<SuspendItem, { wake: boolean } | undefined>;
  /** Compiled document versions by `<name>@<version>` (a version never changes once stored). */
  documents: Map<string, Workflow<any, any>>;
  /** Resolves once this process's code workflow versions are recorded in `workflows`. */
  ready: Promise<void>;
  /** The HMAC key of signed approval links (APPROVAL_LINK_SECRET, else made up for this process). */
  linkSecret: string;
  /**
   * The channel that hands an approver their own signed links (mail, chat); none: no links are
   * made. Never the event hub: `/ws` and LISTEN/NOTIFY are readable with the API token alone.
   */
  sendLinks: ApprovalLinkSender | undefined;
}

export function setup(services: Services, workflows: readonly Workflow<any, any>[], options: { sendLinks?: ApprovalLinkSender } = {}): WorkflowEngine {
  const registry = new WorkflowRegistry(workflows);
  const ready = store.registerVersions(services.sql, registry.all().map((w) => {
    const definition = codeDefinition(w);
    return { name: w.name, version: w.version, kind: 'code', definition, hash: hashDefinition(definition) };
  }));
  // A failure here surfaces on first use (start or tick), with its cause.
  ready.catch(() => {});
  const log = services.log.child('Workflows');
  const configured = (services.config as Partial<WorkflowsConfig>).APPROVAL_LINK_SECRET;
  if (!configured) log.warn('APPROVAL_LINK_SECRET is not set: signed approval links work only on the process that made them (development only)');
  const engine: WorkflowEngine = {
    services,
    linkSecret: configured ?? randomBytes(32).toString('hex'),
    sendLinks: options.sendLinks,
    registry,
    log,
    documents: new Map(),
    ready,
    checkpoints: new Batcher(
      async (items) => {
        const saved = await store.saveSteps(services.sql, items);
        return items.map((i) => saved.has(`${i.runId}/${i.stepId}`));
      },
      500,
      2,
    ),
    acquires: new Batcher(
      async (items): Promise<(store.LeasedRun | undefined)[]> => {
        const rows = await store.acquireRuns(services.sql, items);
        return items.map((i) => rows.find((r) => r.id === i.runId && Number(r.job) === i.job));
      },
      500,
      2,
    ),
    starts: new Batcher(
      (items) => commitStarts(engine, items),
      500,
      2,
      async (item) => (await commitStarts(engine, [item]))[0]!,
    ),
    suspends: new Batcher(
      (items) => commitSuspends(engine, items),
      500,
      2,
      // A batch that failed (a child's insert, say) is sent again run by run: one bad tick fails alone.
      async (item) => (await commitSuspends(engine, [item]))[0],
    ),
    finishes: new Batcher(
      async (items): Promise<({ wake: boolean } | undefined)[]> => {
        const rows = await store.finishRuns(services.sql, items);
        return items.map((i) => rows.find((r) => r.id === i.runId));
      },
      500,
      2,
    ),
  };
  return engine;
}

/** The workflow a run executes: code from this process's registry, or a stored document version. */
export async function definitionOf(engine: WorkflowEngine, name: string, version: number): Promise<Workflow<any, any> | undefined> {
  const code = engine.registry.get(name, version);
  if (code) return code;
  const key = `${name}@${version}`;
  const cached = engine.documents.get(key);
  if (cached) return cached;
  const row = await store.getVersion(engine.services.sql, name, version);
  if (!row || row.kind !== 'document') return undefined;
  const compiled = documentWorkflow(name, version, row.definition);
  engine.documents.set(key, compiled);
  return compiled;
}

/**
 * The workflow one run executes: its pinned version, plus for a document the patches applied to
 * this run while it runs (POST /api/v1/runs/:id/patches, an agent's patch), in order. A run taken
 * for a tick says whether it has any (`patched`, read with the take): without, no query.
 */
export async function definitionForRun(engine: WorkflowEngine, run: { id: string; workflow: string; version: number; patched?: boolean }): Promise<Workflow<any, any> | undefined> {
  const def = await definitionOf(engine, run.workflow, run.version);
  const doc = (def as { document?: unknown } | undefined)?.document;
  if (!doc || run.patched === false) return def;
  const patches = await runPatches(engine.services.sql, run.id);
  if (patches.length === 0) return def;
  let patched: unknown = doc;
  for (const p of patches) patched = applyOperations(patched, p.operations);
  return documentWorkflow(run.workflow, run.version, patched);
}

/**
 * What a new run of `name` starts on: the newest code version this process declares, else the
 * document version its tag points at. Throws a 404 HttpError when neither exists.
 */
export async function resolveStart(engine: WorkflowEngine, workflow: Workflow<any, any> | string, input: unknown, version?: number): Promise<ChildTarget> {
  await engine.ready;
  let wf: Workflow<any, any> | undefined;
  if (typeof workflow !== 'string') wf = workflow;
  else wf = version === undefined ? engine.registry.latest(workflow) : engine.registry.get(workflow, version);
  if (!wf && typeof workflow === 'string') {
    const v = version ?? (await currentTagVersion(engine.services.sql, workflow));
    if (v !== undefined) wf = await definitionOf(engine, workflow, v);
  }
  if (!wf) throw new HttpError(404, 'workflow_not_found', `no workflow ${typeof workflow === 'string' ? workflow : workflow.name}${version ? ` version ${version}` : ''}`);
  let parsed = input ?? null;
  if (wf.options.input) {
    const result = wf.options.input.safeParse(input);
    if (!result.success) {
      const issues = result.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
      throw new HttpError(400, 'invalid_input', `input of ${wf.name}: ${issues}`);
    }
    parsed = result.data;
  }
  return {
    name: wf.name,
    version: wf.version,
    input: parsed,
    timeoutMs: wf.options.timeout === undefined ? null : durationMs(wf.options.timeout),
    concurrencyKey: wf.options.concurrency ? String(wf.options.concurrency.key(parsed)) : null,
  };
}

/**
 * Inserts new runs (idempotency keys honoured) and the first tick of each created one (and its
 * deadline tick) in one statement: one round trip per batch of starts, atomic with no transaction.
 */
async function commitStarts(engine: WorkflowEngine, items: readonly store.NewRun[]): Promise<{ run: store.RunRow; created: boolean }[]> {
  const { sql, queue } = engine.services;
  const { runs, jobIds } = await store.insertRunsTicked(sql, items, { queue: TICK_QUEUE, enqueue: (...a) => queue.enqueueFromSql(...a) });
  queue.announce(TICK_QUEUE, jobIds);
  return runs;
}

/**
 * Completes a waiting step (a worker's result, a decision) and, when it was still waiting, queues
 * a tick of its run, in one statement on `db` (the pool, or the caller's transaction).
 */
export async function completeAndTick(
  engine: WorkflowEngine, db: Queryable, runId: string, stepId: string, status: 'completed' | 'failed', output: unknown,
  error: store.StoredError | null, attempt?: number,
): Promise<boolean> {
  const { queue } = engine.services;
  const { done, jobIds } = await store.completeWaitingStepTicked(db, runId, stepId, status, output, error, attempt, { queue: TICK_QUEUE, enqueue: (...a) => queue.enqueueFromSql(...a) });
  queue.announce(TICK_QUEUE, jobIds, db);
  return done;
}
