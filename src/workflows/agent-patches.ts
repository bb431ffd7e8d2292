/**
 * Patches an agent applies to its running workflow document (the original's `patch_workflow`
 * tool). Under the run's row lock, in one transaction: the patch is refused past
 * AGENT_MAX_RUN_PATCHES patches for the run, when the patched document is not valid, or when it
 * would hold more than AGENT_MAX_AGENT_NODES agent nodes (the original's "max 5 agents" guard,
 * which never fired); else it is stored as the run's next version (run_patches, seq + 1). The
 * run's next tick executes the patched document. Keyed by the tool step's id, so a tick
 * replayed after a crash finds its patch instead of adding it twice.
 */
import type { WorkflowsConfig } from './config.ts';
import { hashDefinition } from './define.ts';
import { definitionOf, type WorkflowEngine } from './engine.ts';
import { applyOperations } from './document/catalog.ts';
import { validateDocument } from './document/validate.ts';
import * as tags from './tag-store.ts';

export class PatchRefused extends Error {
  override name = 'PatchRefused';
}

export async function applyAgentPatch(
  engine: WorkflowEngine, run: { id: string; workflow: string; version: number }, stepId: string, operations: unknown, description: string | null,
): Promise<{ seq: number; nodes: number }> {
  const config = engine.services.config as Partial<WorkflowsConfig>;
  const maxPatches = config.AGENT_MAX_RUN_PATCHES ?? 5;
  const maxAgents = config.AGENT_MAX_AGENT_NODES ?? 5;
  const def = await definitionOf(engine, run.workflow, run.version);
  const base = (def as { document?: unknown } | undefined)?.document;
  if (!base) throw new PatchRefused('only a run of a workflow document can be patched');
  return engine.services.sql.transaction(async (tx) => {
    // The row lock orders every patch of this run: the count and the seq below cannot race.
    await tx.query('select id from runs where id = $1 for update', [run.id]);
    const existing = await tags.runPatches(tx, run.id);
    let doc: unknown = base;
    for (const p of existing) doc = applyOperations(doc, p.operations);
    const mine = existing.find((p) => p.node_id === stepId);
    if (mine) return { seq: mine.seq, nodes: countNodes(doc) };
    if (existing.length >= maxPatches) throw new PatchRefused(`this run already has ${existing.length} patch(es), the limit (AGENT_MAX_RUN_PATCHES=${maxPatches})`);
    let patched: unknown;
    try {
      patched = validateDocument(applyOperations(doc, operations)).doc;
    } catch (err) {
      throw new PatchRefused(`the patched workflow is not valid: ${(err as Error).message}`);
    }
    const agents = (patched as { nodes: { type: string }[] }).nodes.filter((n) => n.type === 'agent').length;
    if (agents > maxAgents) throw new PatchRefused(`the patched workflow would have ${agents} agent nodes, over the limit of ${maxAgents} (AGENT_MAX_AGENT_NODES)`);
    const row = await tags.addRunPatch(tx, {
      runId: run.id, nodeId: stepId, operations: operations as unknown[], description, casId: hashDefinition(operations), createdBy: 'agent',
    });
    return { seq: row!.seq, nodes: countNodes(patched) };
  });
}

function countNodes(doc: unknown): number {
  return (doc as { nodes?: unknown[] }).nodes?.length ?? 0;
}
