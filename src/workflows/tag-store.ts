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
  db: Queryable, v: { name: string; owner: string; definition: unknown; hash: string; createdBy: string; patch?: unknown; baseVersion?: number },
): Promise<WorkflowRow> {
  await lockTag(db, v.name);
  const [row] = await db.query<WorkflowRow>(
    `insert into workflows (name, version, kind, definition, definition_hash, patch, base_version, created_by)
     values ($1, coalesce((select max(version) from workflows where name = $1), 0) + 1, 'document', $2::text::jsonb, $3, $4::text::jsonb, $5, $6)
     returning *`,
    [v.name, JSON.stringify(v.definition), v.hash, v.patch === undefined ? null : JSON.stringify(v.patch), v.baseVersion ?? null, v.createdBy],
  );
  const before = await currentTagVersion(db, v.name);
  await db.query(
    `insert into workflow_tags (name, owner, version, created_by) values ($1, $2, $3, $4)
     on conflict (name) do update set version = excluded.version, moved_by = excluded.created_by, moved_at = now()`,
    [v.name, v.owner, row!.version, v.createdBy],
  );
  await recordMove(db, v.name, v.patch === undefined ? 'create' : 'patch', before ?? null, row!.version, v.createdBy);
  return row!;
}

/** Serializes changes to one tag (new versions, moves, undo, redo) inside a transaction. */
async function lockTag(db: Queryable, name: string): Promise<void> {
  await db.query('select pg_advisory_xact_lock(hashtext($1))', [`nova.workflow-tag:${name}`]);
}

export type TagAction = 'create' | 'patch' | 'move' | 'undo' | 'redo' | 'delete';

/** A forward move clears the redo stack; undo, redo and delete are logged without joining a stack. */
async function recordMove(db: Queryable, name: string, action: TagAction, from: number | null, to: number | null, by: string): Promise<void> {
  if (action === 'create' || action === 'patch' || action === 'move' || action === 'delete') {
    const cleared = action === 'delete' ? `state in ('done', 'undone')` : `state = 'undone'`;
    await db.query(`update workflow_tag_moves set state = 'discarded' where name = $1 and ${cleared}`, [name]);
  }
  await db.query(
    `insert into workflow_tag_moves (name, action, from_version, to_version, state, moved_by)
     values ($1, $2, $3, $4, $5, $6)`,
    [name, action, from, to, action === 'create' || action === 'patch' || action === 'move' ? 'done' : 'discarded', by],
  );
}

export type MoveResult = { tag: TagRow; from: number } | { error: 'not_found' | 'no_version' | 'conflict' | 'nothing'; current?: number };

/**
 * Points a tag at another existing version of its document (call in a transaction). With
 * `expected`, refuses (conflict) when the tag is not at that version any more.
 */
export async function moveTag(db: Queryable, name: string, to: number, by: string, expected?: number): Promise<MoveResult> {
  await lockTag(db, name);
  const tag = await getTag(db, name);
  if (!tag) return { error: 'not_found' };
  if (expected !== undefined && tag.version !== expected) return { error: 'conflict', current: tag.version };
  const [v] = await db.query(`select 1 from workflows where name = $1 and version = $2 and kind = 'document'`, [name, to]);
  if (!v) return { error: 'no_version' };
  const moved = await setTagVersion(db, name, to, by);
  await recordMove(db, name, 'move', tag.version, to, by);
  return { tag: moved, from: tag.version };
}

/** Takes back the tag's latest move (create over an older version, patch, move, redo). */
export async function undoTag(db: Queryable, name: string, by: string): Promise<MoveResult> {
  await lockTag(db, name);
  const tag = await getTag(db, name);
  if (!tag) return { error: 'not_found' };
  const [last] = await db.query<{ id: number; from_version: number | null; to_version: number }>(
    `select id, from_version, to_version from workflow_tag_moves
     where name = $1 and state = 'done' and action in ('create', 'patch', 'move') order by id desc limit 1`, [name]);
  if (!last || last.from_version === null || last.to_version !== tag.version) return { error: 'nothing' };
  await db.query(`update workflow_tag_moves set state = 'undone' where id = $1`, [last.id]);
  const moved = await setTagVersion(db, name, last.from_version, by);
  await recordMove(db, name, 'undo', tag.version, last.from_version, by);
  return { tag: moved, from: tag.version };
}

/** Moves the tag forward again along the move undo took back last. */
export async function redoTag(db: Queryable, name: string, by: string): Promise<MoveResult> {
  await lockTag(db, name);
  const tag = await getTag(db, name);
  if (!tag) return { error: 'not_found' };
  // The redo stack's top: undo walks back from the newest move, so the last one it took back is
  // the oldest still undone.
  const [next] = await db.query<{ id: number; from_version: number | null; to_version: number }>(
    `select id, from_version, to_version from workflow_tag_moves where name = $1 and state = 'undone' order by id asc limit 1`, [name]);
  if (!next || next.from_version !== tag.version) return { error: 'nothing' };
  await db.query(`update workflow_tag_moves set state = 'done' where id = $1`, [next.id]);
  const moved = await setTagVersion(db, name, next.to_version, by);
  await recordMove(db, name, 'redo', tag.version, next.to_version, by);
  return { tag: moved, from: tag.version };
}

async function setTagVersion(db: Queryable, name: string, version: number, by: string): Promise<TagRow> {
  const [row] = await db.query<TagRow>(
    'update workflow_tags set version = $2, moved_by = $3, moved_at = now() where name = $1 returning *', [name, version, by]);
  return row!;
}

export interface TagMoveRow {
  id: number;
  action: TagAction;
  from_version: number | null;
  to_version: number | null;
  from_id: string | null;
  to_id: string | null;
  state: 'done' | 'undone' | 'discarded';
  moved_by: string;
  moved_at: Date;
}

/** A tag's moves, newest first, with the artifact ids of the versions involved. */
export async function tagHistory(db: Queryable, name: string, limit: number): Promise<TagMoveRow[]> {
  return db.query<TagMoveRow>(
    `select m.id::int as id, m.action, m.from_version, m.to_version, f.artifact_id as from_id, t.artifact_id as to_id, m.state, m.moved_by, m.moved_at
     from workflow_tag_moves m
     left join workflows f on f.name = m.name and f.version = m.from_version
     left join workflows t on t.name = m.name and t.version = m.to_version
     where m.name = $1 order by m.id desc limit $2`,
    [name, limit],
  );
}

/** Whether a name is taken by code workflows (documents may not shadow them). */
export async function isCodeWorkflow(db: Queryable, name: string): Promise<boolean> {
  return (await db.query(`select 1 from workflows where name = $1 and kind = 'code' limit 1`, [name])).length > 0;
}

/** Deletes a tag (its versions stay); its undo and redo stacks are discarded. */
export async function deleteTag(db: Queryable, name: string, by: string): Promise<TagRow | undefined> {
  await lockTag(db, name);
  const [row] = await db.query<TagRow>('delete from workflow_tags where name = $1 returning *', [name]);
  if (row) await recordMove(db, name, 'delete', row.version, null, by);
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

export async function runPatchByArtifact(db: Queryable, artifactId: string): Promise<RunPatchRow | undefined> {
  const [row] = await db.query<RunPatchRow>('select * from run_patches where artifact_id = $1', [artifactId]);
  return row;
}
