/**
 * Every statement on the workflow tables (workflows, runs, run_steps; tags and patches live in
 * tag-store.ts, stored events in event-store.ts). Values are always bound; jsonb goes in as text.
 */
import type { Queryable } from '../storage/index.ts';

export type RunStatus = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled' | 'timed_out';
export const TERMINAL: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'timed_out'];

export type StepKind = 'run' | 'sleep' | 'waitForEvent' | 'invoke' | 'http' | 'map' | 'approval' | 'agent' | 'model';
export type StepStatus = 'waiting' | 'retrying' | 'completed' | 'failed' | 'cancelled';

export interface StoredError {
  name: string;
  message: string;
  stack?: string;
  [k: string]: unknown;
}

export interface RunRow {
  id: string;
  workflow: string;
  version: number;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: StoredError | null;
  idempotency_key: string | null;
  parent_run_id: string | null;
  parent_step_id: string | null;
  concurrency_key: string | null;
  submitted_by: string;
  deadline_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

export interface StepRow {
  step_id: string;
  kind: StepKind;
  status: StepStatus;
  attempt: number;
  input: unknown;
  output: unknown;
  error: StoredError | null;
  wake_at: string | Date | null;
  child_run_id: string | null;
  started_at: string | Date;
  finished_at: string | Date | null;
}

export interface WorkflowRow {
  name: string;
  version: number;
  kind: 'code' | 'document';
  definition: unknown;
  definition_hash: string;
  artifact_id: string;
  patch: unknown;
  /** For a version made by a patch: the version the patch was applied to. */
  base_version: number | null;
  created_by: string;
  created_at: Date;
}

/** A jsonb parameter as text (undefined as SQL null); shared by the workflow stores. */
export const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

const RUN_COLUMNS = `id, workflow, version, status, input, output, error, idempotency_key, parent_run_id,
  parent_step_id, concurrency_key, submitted_by, deadline_at, created_at, started_at, finished_at, updated_at`;

/** $1 jsonb array of {name, version, kind, definition, hash, created_by}: declares versions once. */
export async function registerVersions(db: Queryable, rows: { name: string; version: number; kind: string; definition: unknown; hash: string; createdBy?: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `insert into workflows (name, version, kind, definition, definition_hash, created_by)
     select x->>'name', (x->>'version')::int, x->>'kind', x->'definition', x->>'hash', coalesce(x->>'createdBy', 'system')
     from jsonb_array_elements($1::text::jsonb) x
     on conflict (name, version) do nothing`,
    [JSON.stringify(rows)],
  );
}

export async function getVersion(db: Queryable, name: string, version: number): Promise<WorkflowRow | undefined> {
  const [row] = await db.query<WorkflowRow>('select * from workflows where name = $1 and version = $2', [name, version]);
  return row;
}

/**
 * Every workflow name with its newest version, the runs ever started (workflow_run_counts, kept
 * by insertRun) and the live ones (counted on the partial index runs_live): no scan of `runs`.
 */
export async function listWorkflows(db: Queryable): Promise<{ name: string; kind: string; version: number; runs: number; active: number }[]> {
  return db.query(
    `select w.name, w.kind, w.version,
            coalesce((select sum(c.runs)::int from workflow_run_counts c where c.workflow = w.name), 0) as runs,
            (select count(*)::int from runs r where r.workflow = w.name and r.status in ('queued', 'running', 'waiting')) as active
     from (select distinct on (name) name, kind, version from workflows order by name, version desc) w
     order by w.name`,
  );
}

export interface NewRun {
  id: string;
  workflow: string;
  version: number;
  input: unknown;
  idempotencyKey?: string | null;
  parentRunId?: string | null;
  parentStepId?: string | null;
  concurrencyKey?: string | null;
  submittedBy?: string;
  timeoutMs?: number | null;
  /** False: no first tick is queued; the caller ticks the run under its own job (runner.ts tickRun). */
  tick?: boolean;
}

/**
 * Inserts a run; with an idempotency key already used for the workflow, returns that run
 * instead (`created` false).
 */
export async function insertRun(db: Queryable, run: NewRun): Promise<{ run: RunRow; created: boolean }> {
  return (await insertRuns(db, [run]))[0]!;
}

/**
 * insertRun for many runs in one statement (plus one for those whose idempotency key was taken).
 * Each workflow's run counter moves in the same statement, on one of its 16 shards chosen at
 * random, so concurrent starts of one workflow rarely wait for each other's row lock.
 */
export async function insertRuns(db: Queryable, runs: readonly NewRun[]): Promise<{ run: RunRow; created: boolean }[]> {
  return (await insertRunsTicked(db, runs)).runs;
}

/**
 * The SQL of a CTE `enqueued` (the queue's enqueueFromSql) that queues a job per row of the CTE
 * `ticks` (columns `run_id`, `at`), with the queue's name as parameter `$2`.
 */
export type TickEnqueue = (source: string, payload: string, queueParam: string, runAt: string, name?: string) => string;

/**
 * insertRuns that, given `ticks` (the tick queue's name and its enqueue SQL), queues each created
 * run's first tick (unless its `tick` is false), and one at its deadline when it has one, in the
 * same statement: a start is one round trip, atomic without a transaction. Returns the ids of the
 * jobs queued too.
 */
export async function insertRunsTicked(
  db: Queryable, runs: readonly NewRun[], ticks?: { queue: string; enqueue: TickEnqueue },
): Promise<{ runs: { run: RunRow; created: boolean }[]; jobIds: number[] }> {
  if (runs.length === 0) return { runs: [], jobIds: [] };
  const queued = ticks
    ? `, ticks as (
         select r.id as run_id, null::timestamptz as at from r join x on x.id::uuid = r.id where x.tick
         union all
         select r.id, r.deadline_at + interval '10 milliseconds' from r where r.deadline_at is not null
       ), ${ticks.enqueue('ticks', `jsonb_build_object('runId', ticks.run_id)`, '$2', 'ticks.at')}`
    : '';
  const rows = await db.query<RunRow & { tick_jobs?: number[] }>(
    `with x as (
       select e->>'id' as id, e->>'workflow' as workflow, (e->>'version')::int as version, e->'input' as input,
              e->>'idempotencyKey' as idempotency_key, (e->>'parentRunId')::uuid as parent_run_id, e->>'parentStepId' as parent_step_id,
              e->>'concurrencyKey' as concurrency_key, coalesce(e->>'submittedBy', 'system') as submitted_by, (e->>'timeoutMs')::float8 as timeout_ms,
              coalesce((e->>'tick')::boolean, true) as tick, ordinality
       from jsonb_array_elements($1::text::jsonb) with ordinality as t(e, ordinality)
     ), r as (
       insert into runs (id, workflow, version, input, idempotency_key, parent_run_id, parent_step_id, concurrency_key, submitted_by, deadline_at)
       select id::uuid, workflow, version, input, idempotency_key, parent_run_id, parent_step_id, concurrency_key, submitted_by,
              case when timeout_ms is null then null else now() + make_interval(secs => timeout_ms / 1000) end
       from x order by ordinality
       on conflict (workflow, idempotency_key) where idempotency_key is not null do nothing
       returning ${RUN_COLUMNS}
     ), counted as (
       insert into workflow_run_counts (workflow, shard, runs)
       select workflow, floor(random() * 16)::smallint, count(*) from r group by workflow
       on conflict (workflow, shard) do update set runs = workflow_run_counts.runs + excluded.runs
     )${queued}
     select *${ticks ? `, (select coalesce(array_agg(id), '{}') from enqueued) as tick_jobs` : ''} from r`,
    [JSON.stringify(runs.map((r) => ({ ...r, input: r.input ?? null }))), ...(ticks ? [ticks.queue] : [])],
  );
  const jobIds = rows[0]?.tick_jobs ?? [];
  for (const r of rows) delete r.tick_jobs;
  const created = new Map(rows.map((r) => [r.id, r]));
  const taken = runs.filter((r) => !created.has(r.id));
  const existing = taken.length === 0 ? [] : await db.query<RunRow>(
    `select ${RUN_COLUMNS} from runs r join (select e->>'workflow' as w, e->>'idempotencyKey' as k from jsonb_array_elements($1::text::jsonb) e) x
       on r.workflow = x.w and r.idempotency_key = x.k`,
    [JSON.stringify(taken.map((r) => ({ workflow: r.workflow, idempotencyKey: r.idempotencyKey })))],
  );
  return {
    jobIds,
    runs: runs.map((r) => {
      const row = created.get(r.id);
      if (row) return { run: row, created: true };
      return { run: existing.find((e) => e.workflow === r.workflow && e.idempotency_key === r.idempotencyKey)!, created: false };
    }),
  };
}

const STEPS_OF = (alias: string) => `coalesce((select jsonb_agg(jsonb_build_object(
    'step_id', s.step_id, 'kind', s.kind, 'status', s.status, 'attempt', s.attempt, 'input', s.input,
    'output', s.output, 'error', s.error, 'wake_at', s.wake_at, 'child_run_id', s.child_run_id,
    'started_at', s.started_at, 'finished_at', s.finished_at))
  from run_steps s where s.run_id = ${alias}.id), '[]'::jsonb) as steps`;

/** A run taken for a tick: its steps, the status it had, and whether it has patches (runs.patches). */
export type LeasedRun = RunRow & { steps: StepRow[]; was: RunStatus; patched: boolean };

/**
 * $1 run, $2 job id, $3 lease token (the tick's job): takes the run for this tick when nobody
 * holds it (or this same job did, before its lease was renewed). Returns the run with its steps.
 * `$4` is the token of a holder whose job lease lapsed, to take the run over from it.
 */
export async function acquireRun(db: Queryable, runId: string, jobId: number, token: number, staleToken: number | null = null): Promise<LeasedRun | undefined> {
  const [row] = await db.query<LeasedRun>(
    `with o as (select id, status as was from runs where id = $1 for update),
     r as (
       update runs r set status = 'running', lease_job = $2, lease_token = $3, wake_pending = false,
         started_at = coalesce(r.started_at, now()), updated_at = now()
       from o where r.id = o.id and r.status in ('queued', 'running', 'waiting')
         and (r.lease_job is null or r.lease_job = $2 or r.lease_token = $4)
       returning r.*, o.was
     )
     select ${RUN_COLUMNS}, was, r.patches > 0 as patched, ${STEPS_OF('r')} from r`,
    [runId, jobId, token, staleToken],
  );
  return row;
}

/**
 * acquireRun for many ticks in one statement ($1 jsonb array of {runId, job, token}). Returns the
 * runs taken, each with `job` naming the tick it went to; a run asked for twice goes to one.
 *
 * The batch statements here find their runs through `r.id = any(array(select id from x))`, not
 * only the join: the planner counts 100 rows for any jsonb array, and against a table of up to
 * some tens of thousands of runs it then prefers to read the whole table into a hash join, on
 * every batch. The key array makes it an index look-up at any table size.
 */
export async function acquireRuns(db: Queryable, items: readonly { runId: string; job: number; token: number }[]): Promise<(LeasedRun & { job: number })[]> {
  return db.query<LeasedRun & { job: number }>(
    `with x as (
       select distinct on ((e->>'runId')::uuid) (e->>'runId')::uuid as id, (e->>'job')::bigint as job, (e->>'token')::bigint as token
       from jsonb_array_elements($1::text::jsonb) e
     ), o as (select r.id, r.status as was from runs r join x on x.id = r.id where r.id = any(array(select id from x)) order by r.id for update of r),
     r as (
       update runs r set status = 'running', lease_job = x.job, lease_token = x.token, wake_pending = false,
         started_at = coalesce(r.started_at, now()), updated_at = now()
       from x, o where r.id = x.id and o.id = r.id and r.status in ('queued', 'running', 'waiting')
         and (r.lease_job is null or r.lease_job = x.job)
       returning r.*, o.was, x.job
     )
     select ${RUN_COLUMNS}, was, job, r.patches > 0 as patched, ${STEPS_OF('r')} from r`,
    [JSON.stringify(items)],
  );
}

export interface FinishItem {
  runId: string;
  token: number;
  status: RunStatus;
  output: unknown;
  error: StoredError | null;
  /** Completed steps of the last tick not written yet: written with the end, for the runs that end. */
  steps?: readonly StepWrite[];
}

/**
 * releaseRun to a terminal status for many top-level runs in one statement ($1 jsonb array of
 * FinishItem), with their unwritten steps. Returns the runs released with their wake flag.
 */
export async function finishRuns(db: Queryable, items: readonly FinishItem[]): Promise<{ id: string; wake: boolean }[]> {
  const steps = items.flatMap((i) => i.steps ?? []);
  return db.query<{ id: string; wake: boolean }>(
    `with x as (
       select (e->>'runId')::uuid as id, (e->>'token')::bigint as token, e->>'status' as status, e->'output' as output, e->'error' as error
       from jsonb_array_elements($1::text::jsonb) e
     ), o as (select r.id, r.wake_pending from runs r join x on x.id = r.id where r.id = any(array(select id from x)) order by r.id for update of r),
     u as (
       update runs r set status = x.status, lease_job = null, lease_token = null, wake_pending = false, updated_at = now(),
         output = x.output, error = case when jsonb_typeof(x.error) = 'null' then null else x.error end, finished_at = now()
       from x, o where r.id = x.id and o.id = r.id and r.lease_token = x.token and r.status = 'running'
       returning r.id, o.wake_pending as wake
     ), w as (
       insert into run_steps (run_id, step_id, kind, status, attempt, input, output, error, started_at, finished_at)
       select (s->>'runId')::uuid, s->>'stepId', s->>'kind', s->>'status', (s->>'attempt')::int, s->'input', s->'output', s->'error',
              coalesce((s->>'startedAt')::timestamptz, clock_timestamp()), clock_timestamp()
       from jsonb_array_elements($2::text::jsonb) s join u on u.id = (s->>'runId')::uuid
       on conflict (run_id, step_id) do update set status = excluded.status, attempt = excluded.attempt, output = excluded.output,
         error = excluded.error, finished_at = excluded.finished_at
     )
     select id, wake from u`,
    [JSON.stringify(items.map(({ steps: _s, ...i }) => ({ ...i, output: i.output ?? null, error: i.error ?? null }))), JSON.stringify(steps)],
  );
}

/**
 * Lets many ticks' runs go to `waiting` ($1 jsonb array of {runId, token}), each only while its
 * tick still holds it, and writes `steps` (waits, and steps completed before them) of the runs it
 * released, in the same statement. Returns the runs released with their wake flag; their rows
 * stay locked until the caller's transaction ends.
 */
export async function releaseRunsWithSteps(db: Queryable, items: readonly { runId: string; token: number }[], steps: readonly StepWrite[]): Promise<{ id: string; wake: boolean }[]> {
  if (items.length === 0) return [];
  return db.query<{ id: string; wake: boolean }>(
    `${RELEASE_WITH_STEPS}
     select id, wake from u`,
    [JSON.stringify(items), JSON.stringify(steps)],
  );
}

/**
 * releaseRunsWithSteps that also queues, for the runs it released only, their ticks (`ticks`,
 * each due at `at` or now) on `queues.tick` and their model calls (`agents`, job payloads) on
 * `queues.agent`: a suspending tick with no other waits is one round trip, atomic without a
 * transaction. Returns the released runs and the ids of the jobs queued.
 */
export async function releaseRunsQueued(
  db: Queryable, items: readonly { runId: string; token: number }[], steps: readonly StepWrite[],
  ticks: readonly { runId: string; at: Date | null }[], agents: readonly { runId: string; stepId: string; request: unknown }[],
  queues: { tick: string; agent: string; enqueue: TickEnqueue },
): Promise<{ released: { id: string; wake: boolean }[]; tickJobs: number[]; agentJobs: number[] }> {
  if (items.length === 0) return { released: [], tickJobs: [], agentJobs: [] };
  const rows = await db.query<{ id: string; wake: boolean; ticks: number[] | null; agents: number[] | null }>(
    `${RELEASE_WITH_STEPS},
     t as (
       select u.id as run_id, (e->>'at')::timestamptz as at from jsonb_array_elements($3::text::jsonb) e join u on u.id = (e->>'runId')::uuid
     ), ${queues.enqueue('t', `jsonb_build_object('runId', t.run_id)`, '$5', 't.at', 'tick_jobs')},
     a as (
       select e as payload from jsonb_array_elements($4::text::jsonb) e join u on u.id = (e->>'runId')::uuid
     ), ${queues.enqueue('a', 'a.payload', '$6', 'null::timestamptz', 'agent_jobs')}
     select id, wake, (select array_agg(id) from tick_jobs) as ticks, (select array_agg(id) from agent_jobs) as agents from u`,
    [JSON.stringify(items), JSON.stringify(steps), JSON.stringify(ticks), JSON.stringify(agents), queues.tick, queues.agent],
  );
  return { released: rows.map((r) => ({ id: r.id, wake: r.wake })), tickJobs: rows[0]?.ticks ?? [], agentJobs: rows[0]?.agents ?? [] };
}

/** Who holds a run, for a tick that could not take it. */
export async function runHolder(db: Queryable, runId: string): Promise<{ status: RunStatus; lease_job: number | null; lease_token: number | null } | undefined> {
  const [row] = await db.query<{ status: RunStatus; lease_job: number | null; lease_token: number | null }>(
    'select status, lease_job, lease_token from runs where id = $1', [runId]);
  return row;
}

/** Asks the holder (still holding `token`) to run one more tick when it lets go. */
export async function requestWake(db: Queryable, runId: string, token: number): Promise<boolean> {
  return (await db.query('update runs set wake_pending = true where id = $1 and lease_token = $2 returning id', [runId, token])).length > 0;
}

export interface StepWrite {
  runId: string;
  token: number;
  stepId: string;
  kind: StepKind;
  status: StepStatus;
  attempt: number;
  input?: unknown;
  output?: unknown;
  error?: StoredError | null;
  wakeAt?: Date | null;
  eventName?: string | null;
  eventMatch?: unknown;
  childRunId?: string | null;
  startedAt?: Date;
  finished?: boolean;
}

/**
 * Writes step outcomes of many runs in one statement, each only while its tick still holds the
 * run (lease token) and the run is running (not cancelled meanwhile). Returns the written keys
 * as `<run>/<step>`.
 */
export async function saveSteps(db: Queryable, steps: readonly StepWrite[], fenced = true): Promise<Set<string>> {
  if (steps.length === 0) return new Set();
  // Unfenced: the caller released the runs in this same transaction and holds their row locks.
  const fence = fenced ? `join runs r on r.id = (x->>'runId')::uuid and r.lease_token = (x->>'token')::bigint and r.status = 'running'` : '';
  const rows = await db.query<{ run_id: string; step_id: string }>(
    `${upsertSteps('$1', fence)} returning run_id, step_id`,
    [JSON.stringify(steps)],
  );
  return new Set(rows.map((r) => `${r.run_id}/${r.step_id}`));
}

/** The upsert of StepWrites from the jsonb array parameter `param` (each row `x`), after `join`. */
const upsertSteps = (param: string, join: string) => `
  insert into run_steps (run_id, step_id, kind, status, attempt, input, output, error, wake_at, event_name, event_match, child_run_id, started_at, finished_at)
  select (x->>'runId')::uuid, x->>'stepId', x->>'kind', x->>'status', (x->>'attempt')::int, x->'input', x->'output',
         x->'error', (x->>'wakeAt')::timestamptz, x->>'eventName', x->'eventMatch', (x->>'childRunId')::uuid,
         coalesce((x->>'startedAt')::timestamptz, clock_timestamp()),
         case when (x->>'finished')::boolean then clock_timestamp() end
  from jsonb_array_elements(${param}::text::jsonb) x
  ${join}
  on conflict (run_id, step_id) do update set status = excluded.status, attempt = excluded.attempt,
    input = coalesce(excluded.input, run_steps.input), output = excluded.output, error = excluded.error,
    wake_at = excluded.wake_at, event_name = excluded.event_name, event_match = excluded.event_match,
    child_run_id = coalesce(excluded.child_run_id, run_steps.child_run_id), finished_at = excluded.finished_at`;

/**
 * The CTEs `u` (the runs of the jsonb array $1 {runId, token} still held by those tokens, let go
 * to `waiting`, with their wake flag) and `w` (the steps of the jsonb array $2 of those runs only).
 */
const RELEASE_WITH_STEPS = `with i as (
       select (e->>'runId')::uuid as id, (e->>'token')::bigint as token from jsonb_array_elements($1::text::jsonb) e
     ), o as (select r.id, r.wake_pending from runs r join i on i.id = r.id where r.id = any(array(select id from i)) order by r.id for update of r),
     u as (
       update runs r set status = 'waiting', lease_job = null, lease_token = null, wake_pending = false, updated_at = now()
       from i, o where r.id = i.id and o.id = r.id and r.lease_token = i.token and r.status = 'running'
       returning r.id, o.wake_pending as wake
     ), w as (${upsertSteps('$2', `join u on u.id = (x->>'runId')::uuid`)})`;

/**
 * Ends a tick: the run becomes `status` and the lease is let go. Returns the run's parent link
 * and whether a wake-up was requested meanwhile, or undefined when the tick lost the run.
 */
export async function releaseRun(
  db: Queryable, runId: string, token: number, status: RunStatus, output?: unknown, error?: StoredError | null,
): Promise<{ wake: boolean; parent_run_id: string | null; parent_step_id: string | null; workflow: string; concurrency_key: string | null } | undefined> {
  const terminal = TERMINAL.includes(status);
  const [row] = await db.query<{ wake: boolean; parent_run_id: string | null; parent_step_id: string | null; workflow: string; concurrency_key: string | null }>(
    `with o as (select id, wake_pending from runs where id = $1 for update)
     update runs r set status = $3, lease_job = null, lease_token = null, wake_pending = false, updated_at = now(),
       output = case when $6 then $4::text::jsonb else r.output end,
       error = case when $6 then $5::text::jsonb else r.error end,
       finished_at = case when $6 then now() end
     from o where r.id = o.id and r.lease_token = $2 and r.status = 'running'
     returning o.wake_pending as wake, r.parent_run_id, r.parent_step_id, r.workflow, r.concurrency_key`,
    [runId, token, status, json(output ?? null), json(error ?? null), terminal],
  );
  return row;
}

/**
 * Completes a waiting step (a timer fired, an http-worker job ended, a child finished). Only a
 * step still waiting changes: the first of two racing completions wins. Returns whether it did.
 */
export async function completeWaitingStep(
  db: Queryable, runId: string, stepId: string, status: 'completed' | 'failed', output: unknown, error: StoredError | null, attempt?: number,
): Promise<boolean> {
  const rows = await db.query(
    `update run_steps set status = $3, output = $4::text::jsonb, error = $5::text::jsonb, finished_at = clock_timestamp(),
       attempt = coalesce($6, attempt)
     where run_id = $1 and step_id = $2 and status = 'waiting' returning run_id`,
    [runId, stepId, status, json(output ?? null), json(error), attempt ?? null],
  );
  return rows.length > 0;
}

/**
 * completeWaitingStep that also queues a tick of the run (via `ticks`) when the step changed, in
 * the same statement: one round trip, atomic without a transaction.
 */
export async function completeWaitingStepTicked(
  db: Queryable, runId: string, stepId: string, status: 'completed' | 'failed', output: unknown, error: StoredError | null,
  attempt: number | undefined, ticks: { queue: string; enqueue: TickEnqueue },
): Promise<{ done: boolean; jobIds: number[] }> {
  const [row] = await db.query<{ done: boolean; jobs: number[] | null }>(
    `with done as (
       update run_steps set status = $3, output = $4::text::jsonb, error = $5::text::jsonb, finished_at = clock_timestamp(),
         attempt = coalesce($6, attempt)
       where run_id = $1 and step_id = $2 and status = 'waiting' returning run_id
     ), ${ticks.enqueue('done', `jsonb_build_object('runId', done.run_id)`, '$7', 'null::timestamptz')}
     select exists (select 1 from done) as done, (select array_agg(id) from enqueued) as jobs`,
    [runId, stepId, status, json(output ?? null), json(error), attempt ?? null, ticks.queue],
  );
  return { done: row?.done ?? false, jobIds: row?.jobs ?? [] };
}

/**
 * Ends a timed-out wait with a null output unless something completed it first, in one
 * statement; returns the step's output either way (null, or what completed it).
 */
export async function expireWaitingStep(db: Queryable, runId: string, stepId: string): Promise<{ output: unknown }> {
  const [row] = await db.query<{ output: unknown }>(
    `with u as (
       update run_steps set status = 'completed', output = null, error = null, finished_at = clock_timestamp()
       where run_id = $1 and step_id = $2 and status = 'waiting' returning output
     )
     select output from u
     union all
     select output from run_steps where run_id = $1 and step_id = $2 and not exists (select 1 from u)`,
    [runId, stepId],
  );
  return row ?? { output: null };
}

/** The status of one step, for a worker deciding whether its job still matters. */
export async function stepStatus(db: Queryable, runId: string, stepId: string): Promise<StepStatus | undefined> {
  const [row] = await db.query<{ status: StepStatus }>('select status from run_steps where run_id = $1 and step_id = $2', [runId, stepId]);
  return row?.status;
}

/**
 * Cancels a run and, through parent_run_id, every live descendant; their waiting steps are
 * cancelled too. Returns the runs cancelled (the root first when it was live).
 */
export async function cancelTree(db: Queryable, runId: string, status: 'cancelled' | 'timed_out' = 'cancelled', error?: StoredError): Promise<{ id: string; workflow: string; parent_run_id: string | null; parent_step_id: string | null; concurrency_key: string | null }[]> {
  const rows = await db.query<{ id: string; workflow: string; parent_run_id: string | null; parent_step_id: string | null; concurrency_key: string | null; depth: number }>(
    `with recursive tree as (
       select id, 0 as depth from runs where id = $1
       union all
       select c.id, t.depth + 1 from runs c join tree t on c.parent_run_id = t.id
     ), done as (
       update runs r set status = case when r.id = $1 then $2 else 'cancelled' end,
         error = case when r.id = $1 then $3::text::jsonb else r.error end,
         finished_at = now(), updated_at = now(), lease_job = null, lease_token = null
       from tree where r.id = tree.id and r.status in ('queued', 'running', 'waiting')
       returning r.id, r.workflow, r.parent_run_id, r.parent_step_id, r.concurrency_key, tree.depth
     ), steps as (
       update run_steps s set status = 'cancelled', finished_at = clock_timestamp()
       from done where s.run_id = done.id and s.status in ('waiting', 'retrying')
     )
     select id, workflow, parent_run_id, parent_step_id, concurrency_key, depth from done order by depth`,
    [runId, status, json(error ?? null)],
  );
  return rows;
}

/**
 * Puts a failed run back to queued with its failed steps forgotten, so the next tick replays
 * the completed steps from storage and runs the failed one again.
 */
export async function resetFailedRun(db: Queryable, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.query<RunRow>(
    `with r as (
       update runs set status = 'queued', error = null, output = null, finished_at = null, updated_at = now(),
         deadline_at = null
       where id = $1 and status in ('failed', 'timed_out') returning ${RUN_COLUMNS}
     ), gone as (
       delete from run_steps s using r where s.run_id = r.id and s.status in ('failed', 'cancelled')
     )
     select * from r`,
    [runId],
  );
  return row;
}

/** The run started with an idempotency key (the unique index on workflow, idempotency_key). */
export async function runByKey(db: Queryable, workflow: string, idempotencyKey: string): Promise<RunRow | undefined> {
  const [row] = await db.query<RunRow>(`select ${RUN_COLUMNS} from runs where workflow = $1 and idempotency_key = $2`, [workflow, idempotencyKey]);
  return row;
}

export async function getRun(db: Queryable, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.query<RunRow>(`select ${RUN_COLUMNS} from runs where id = $1`, [runId]);
  return row;
}

export async function getSteps(db: Queryable, runId: string): Promise<StepRow[]> {
  return db.query<StepRow>(
    `select step_id, kind, status, attempt, input, output, error, wake_at, child_run_id, started_at, finished_at
     from run_steps where run_id = $1 order by started_at, step_id`,
    [runId],
  );
}

export async function childRuns(db: Queryable, runId: string): Promise<Pick<RunRow, 'id' | 'workflow' | 'status' | 'parent_step_id'>[]> {
  return db.query('select id, workflow, status, parent_step_id from runs where parent_run_id = $1 order by created_at', [runId]);
}

/** One page of runs, newest first; `before` is the created_at of the previous page's last run. */
export async function listRuns(db: Queryable, filter: { workflow?: string; status?: string; limit: number; before?: Date }): Promise<RunRow[]> {
  return db.query<RunRow>(
    `select ${RUN_COLUMNS} from runs
     where ($1::text is null or workflow = $1) and ($2::text is null or status = $2)
       and ($3::timestamptz is null or created_at < $3)
     order by created_at desc, id limit $4`,
    [filter.workflow ?? null, filter.status ?? null, filter.before ?? null, filter.limit],
  );
}

/** Live runs of a concurrency key, and the oldest queued one of them (admission). */
export async function concurrencySlots(db: Queryable, workflow: string, key: string): Promise<{ active: number; next: string | null }> {
  const [row] = await db.query<{ active: number; next: string | null }>(
    `select count(*) filter (where status in ('running', 'waiting'))::int as active,
            (array_agg(id order by created_at) filter (where status = 'queued'))[1]::text as next
     from runs where workflow = $1 and concurrency_key = $2 and status in ('queued', 'running', 'waiting')`,
    [workflow, key],
  );
  return row ?? { active: 0, next: null };
}

/** Serializes admission decisions of one concurrency key inside a transaction. */
export async function lockConcurrencyKey(db: Queryable, workflow: string, key: string): Promise<void> {
  await db.query('select pg_advisory_xact_lock(hashtext($1))', [`nova.workflow:${workflow}:${key}`]);
}

/**
 * Runs marked running that no tick has touched for `idleMs`: candidates for recovery when the
 * job holding them is gone (dead-lettered, or deleted by hand). The caller checks each lease.
 */
export async function idleRunningRuns(db: Queryable, idleMs: number, limit: number): Promise<{ id: string; lease_job: number | null; lease_token: number | null }[]> {
  return db.query(
    `select id, lease_job, lease_token from runs
     where status = 'running' and updated_at < now() - make_interval(secs => $1::float8 / 1000)
     order by updated_at limit $2`,
    [idleMs, limit],
  );
}

/** Puts a run that may not start yet (its concurrency key is full) back to queued. */
export async function deferRun(db: Queryable, runId: string, token: number): Promise<boolean> {
  return (await db.query(
    `update runs set status = 'queued', started_at = null, lease_job = null, lease_token = null, wake_pending = false
     where id = $1 and lease_token = $2 returning id`, [runId, token])).length > 0;
}
