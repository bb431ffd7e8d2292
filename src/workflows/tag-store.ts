/**
 * Every statement on document versions by tag (workflow_tags, the document rows of workflows)
 * and on run_patches: the original's catalog, on Nova's tables.
 */
import type { Queryable } from '../storage/index.ts';
import type { WorkflowRow } from './store.ts';

export interface TagRow {
  name: string;
  owner: string;
  version: number;
  created_by: string;
  created_at: Date;
  moved_by: string | null;
  moved_at: Date;
}

export async function currentTagVersion(db: Queryable, name: string): Promise<number | undefined> {
  const [row] = await db.query<{ version: number }>('select version from workflow_tags where name = $1', [name]);
  return row?.version;
}

export async function getTag(db: Queryable, name: string): Promise<TagRow | undefined> {
  const [row] = await db.query<TagRow>('select * from workflow_tags where name = $1', [name]);
  return row;
}

/** Tags, all or one owner's, newest move first. */
export async function listTags(db: Queryable, owner: string | null): Promise<TagRow[]> {
  return db.query<TagRow>('select * from workflow_tags where ($1::text is null or owner = $1) order by moved_at desc', [owner]);
}

/**
 * Stores the next version of a document workflow and moves its tag there (created for a new
 * name). Versions of one name are numbered under a transaction lock on the name.
 */
export async function addDocumentVersion(
  db: Queryable, v: { name: string; owner: string; definition: unknown; hash: string; createdBy: string; patch?: unknown },
): Promise<WorkflowRow> {
  await db.query('select pg_advisory_xact_lock(hashtext($1))', [`nova.workflow-tag:${v.name}`]);
  const [row] = await db.query<WorkflowRow>(
    `insert into workflows (name, version, kind, definition, definition_hash, patch, created_by)
     values ($1, coalesce((select max(version) from workflows where name = $1), 0) + 1, 'document', $2::text::jsonb, $3, $4::text::jsonb, $5)
     returning *`,
    [v.name, JSON.stringify(v.definition), v.hash, v.patch === undefined ? null : JSON.stringify(v.patch), v.createdBy],
  );
  await db.query(
    `insert into workflow_tags (name, owner, version, created_by) values ($1, $2, $3, $4)
     on conflict (name) do update set version = excluded.version, moved_by = excluded.created_by, moved_at = now()`,
    [v.name, v.owner, row!.version, v.createdBy],
  );
  return row!;
}

/** Whether a name is taken by code workflows (documents may not shadow them). */
export async function isCodeWorkflow(db: Queryable, name: string): Promise<boolean> {
  return (await db.query(`select 1 from workflows where name = $1 and kind = 'code' limit 1`, [name])).length > 0;
}

export async function deleteTag(db: Queryable, name: string): Promise<TagRow | undefined> {
  const [row] = await db.query<TagRow>('delete from workflow_tags where name = $1 returning *', [name]);
  return row;
}

/** A document's versions up to `upTo` (all when null), oldest first. */
export async function documentVersions(db: Queryable, name: string, upTo: number | null): Promise<WorkflowRow[]> {
  return db.query<WorkflowRow>(
    `select * from workflows where name = $1 and kind = 'document' and ($2::int is null or version <= $2) order by version`,
    [name, upTo],
  );
}

export async function versionByArtifact(db: Queryable, artifactId: string): Promise<WorkflowRow | undefined> {
  const [row] = await db.query<WorkflowRow>('select * from workflows where artifact_id = $1', [artifactId]);
  return row;
}

export interface RunPatchRow {
  id: string;
  run_id: string;
  seq: number;
  node_id: string | null;
  operations: unknown[];
  description: string | null;
  cas_id: string;
  artifact_id: string;
  created_by: string;
  created_at: Date;
}

/** Appends a patch to a run; seq is numbered under the run's row lock (no duplicate seq). */
export async function addRunPatch(
  db: Queryable, p: { runId: string; nodeId: string | null; operations: unknown[]; description: string | null; casId: string; createdBy: string },
): Promise<RunPatchRow | undefined> {
  const lock = await db.query('select id from runs where id = $1 for update', [p.runId]);
  if (lock.length === 0) return undefined;
  const [row] = await db.query<RunPatchRow>(
    `insert into run_patches (run_id, seq, node_id, operations, description, cas_id, created_by)
     values ($1, coalesce((select max(seq) from run_patches where run_id = $1), 0) + 1, $2, $3::text::jsonb, $4, $5, $6)
     returning *`,
    [p.runId, p.nodeId, JSON.stringify(p.operations), p.description, p.casId, p.createdBy],
  );
  return row;
}

export async function runPatches(db: Queryable, runId: string): Promise<RunPatchRow[]> {
  return db.query<RunPatchRow>('select * from run_patches where run_id = $1 order by seq', [runId]);
}
