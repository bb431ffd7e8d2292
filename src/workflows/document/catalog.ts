/**
 * Documents by tag, as the original keeps them: a create stores a base version (a dag_version),
 * a PATCH stores the next version as the previous one plus RFC 6902 operations (a patch_set).
 * Nova stores every version materialized, so a run pinned to one never re-applies patches;
 * the patch chain the original's API shows is derived from the versions' `patch` column.
 */
import jsonpatch, { type Operation } from 'fast-json-patch';
import type { Queryable } from '../../storage/index.ts';
import { HttpError } from '../../runtime/http-error.ts';
import { hashDefinition } from '../define.ts';
import type { WorkflowRow } from '../store.ts';
import * as tags from '../tag-store.ts';
import { validateDocument } from './validate.ts';

export interface DocumentPatch {
  operations: Operation[];
  description: string | null;
}

/** Applies RFC 6902 operations to a copy; a bad operation is a 400 naming it. */
export function applyOperations(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations) || operations.length === 0) throw new HttpError(400, 'invalid_patch', 'operations must be a non-empty array');
  try {
    return jsonpatch.applyPatch(structuredClone(doc), operations as Operation[], true, false).newDocument;
  } catch (err) {
    const e = err as Error & { index?: number };
    throw new HttpError(400, 'invalid_patch', `operation ${e.index ?? '?'}: ${e.message.split('\n')[0]}`);
  }
}

/** Validates and stores a new base version under `tag`, moving the tag to it. */
export async function createDocument(db: Queryable, tag: string, owner: string, workflow: unknown): Promise<WorkflowRow> {
  const graph = validateDocument(workflow);
  if (await tags.isCodeWorkflow(db, tag)) throw new HttpError(409, 'name_taken', `${tag} is a workflow declared in code`);
  return tags.addDocumentVersion(db, { name: tag, owner, definition: graph.doc, hash: hashDefinition(graph.doc), createdBy: owner });
}

/** Applies a patch to the tag's current version, validates the result, stores it as the next version. */
export async function patchDocument(db: Queryable, tag: string, user: string, patch: DocumentPatch): Promise<WorkflowRow> {
  const current = await tags.getTag(db, tag);
  if (!current) throw new HttpError(404, 'not_found', 'workflow not found');
  const rows = await tags.documentVersions(db, tag, current.version);
  const base = rows[rows.length - 1]!;
  const graph = validateDocument(applyOperations(base.definition, patch.operations));
  return tags.addDocumentVersion(db, {
    name: tag, owner: current.owner, definition: graph.doc, hash: hashDefinition(graph.doc), createdBy: user,
    patch: { operations: patch.operations, description: patch.description }, baseVersion: base.version,
  });
}

/**
 * The original's view of a version: its base (dag_version) and the patches after it, following
 * each patch back to the version it was applied to. `head` is a version number among `versions`
 * (default the last one).
 */
export function chainOf(versions: WorkflowRow[], headVersion?: number) {
  const byVersion = new Map(versions.map((v) => [v.version, v]));
  const head = headVersion === undefined ? versions[versions.length - 1]! : byVersion.get(headVersion)!;
  const chain = [head];
  for (let cur = head; cur.patch !== null;) {
    const parent = byVersion.get(cur.base_version ?? cur.version - 1);
    if (!parent) break;
    chain.unshift((cur = parent));
  }
  const base = chain[0]!;
  const patches = chain.slice(1).map((v, i) => ({
    seq: i + 1, artifact_id: v.artifact_id, cas_id: v.definition_hash, depth: i + 1, created_at: v.created_at,
    op_count: ((v.patch as DocumentPatch | null)?.operations ?? []).length, created_by: v.created_by, version: v.version,
  }));
  return {
    head, base, patches,
    kind: head.patch === null ? 'dag_version' : 'patch_set',
    depth: patches.length,
  };
}
