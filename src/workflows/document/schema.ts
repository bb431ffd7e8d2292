/**
 * Workflow documents in the original's format (`common/schema/workflow.schema.json`):
 * `{nodes, edges, metadata}`, nodes `{id, type, config, timeout_ms, retry}`, edges
 * `{from, to, condition}` with CEL conditions.
 */
import { z } from 'zod';

/** The original's node types that Nova executes, plus Nova's own. */
export const NODE_TYPES = [
  'function', 'http', 'conditional', 'loop', 'parallel', 'transform', 'aggregate', 'filter',
  'sleep', 'wait_event', 'map', 'workflow', 'approval', 'hitl', 'agent',
] as const;
/** Types the original's compiler accepts that need roles Nova has not built yet (none left). */
export const LATER_TYPES: Record<string, string> = {};

export const nodeRetrySchema = z.object({
  max_attempts: z.number().int().min(1).max(10).default(3),
  backoff_ms: z.number().int().min(0).default(1000),
  backoff_multiplier: z.number().min(1).default(2),
});

export const nodeSchema = z.object({
  id: z.string().regex(/^[a-zA-Z0-9_-]+$/, 'must match ^[a-zA-Z0-9_-]+$'),
  type: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
  timeout_ms: z.number().int().min(0).optional(),
  retry: nodeRetrySchema.optional(),
});

export const edgeSchema = z.object({
  from: z.string().min(1),
  to: z.string().min(1),
  condition: z.string().optional(),
});

export const documentSchema = z.object({
  nodes: z.array(nodeSchema).min(1, 'a workflow needs at least one node'),
  edges: z.array(edgeSchema).default([]),
  metadata: z.object({
    name: z.string().optional(),
    description: z.string().optional(),
    version: z.string().optional(),
    tags: z.array(z.string()).optional(),
  }).loose().optional(),
});

export type WorkflowDocument = z.infer<typeof documentSchema>;
export type DocNode = z.infer<typeof nodeSchema>;
export type DocEdge = z.infer<typeof edgeSchema>;

export const loopConfigSchema = z.object({
  max_iterations: z.number().int().positive(),
  loop_back_to: z.string().min(1),
  condition: z.string().optional(),
  break_path: z.array(z.string()).default([]),
  timeout_path: z.array(z.string()).default([]),
});
export type LoopConfig = z.infer<typeof loopConfigSchema>;
