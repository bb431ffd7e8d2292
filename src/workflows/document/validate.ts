/**
 * Validation of a workflow document on submit, and the graph facts execution uses. Every
 * refusal names the node (or edge) at fault. Fixed from the original: unknown references in
 * configs and conditions that do not parse are refused up front; a cycle is allowed only as a
 * declared loop (an edge into a loop node from its body, or a loop node's edge back to its
 * `loop_back_to`).
 */
import { z } from 'zod';
import { compileCel, referencedNodes } from './expressions.ts';
import { documentSchema, LATER_TYPES, loopConfigSchema, NODE_TYPES, type DocEdge, type DocNode, type LoopConfig, type WorkflowDocument } from './schema.ts';

/** A document refused on submit; `node` names the node at fault when there is one. */
export class DocumentError extends Error {
  override name = 'DocumentError';
  constructor(
    readonly node: string | null,
    message: string,
  ) {
    super(node ? `node ${node}: ${message}` : message);
  }
}

export interface Graph {
  doc: WorkflowDocument;
  byId: Map<string, DocNode>;
  /** Edge indexes into doc.edges, by target and by source, in document order. */
  incoming: Map<string, number[]>;
  outgoing: Map<string, number[]>;
  /** Edges that close a declared loop: never awaited by a join. */
  back: Set<number>;
  loops: Map<string, LoopConfig>;
  entries: string[];
}

const REQUIRED: Record<string, (c: Record<string, unknown>) => string | null> = {
  http: (c) => (typeof c.url === 'string' && c.url ? null : 'config.url is required'),
  transform: (c) => (typeof c.expression === 'string' ? null : 'config.expression (CEL) is required'),
  filter: (c) => (c.items !== undefined && typeof c.condition === 'string' ? null : 'config.items and config.condition (CEL) are required'),
  sleep: (c) => (typeof c.duration_ms === 'number' || typeof c.until === 'string' ? null : 'config.duration_ms or config.until is required'),
  wait_event: (c) => (typeof c.event === 'string' && c.event ? null : 'config.event is required'),
  workflow: (c) => (typeof c.workflow === 'string' && c.workflow ? null : 'config.workflow (a workflow name) is required'),
  // `hitl` is the original's name for `approval`. It had no approvers (anyone could approve any
  // run); Nova needs them named.
  approval: approvalConfigProblem,
  hitl: approvalConfigProblem,
  agent: agentConfigProblem,
  map: (c) => (c.items !== undefined && (typeof c.workflow === 'string' || typeof c.expression === 'string') ? null : 'config.items and config.workflow or config.expression are required'),
};

function approvalConfigProblem(c: Record<string, unknown>): string | null {
  const approvers = c.approvers;
  if (!Array.isArray(approvers) || approvers.length === 0 || !approvers.every((u) => typeof u === 'string' && u)) {
    return 'config.approvers (a non-empty list of user names) is required';
  }
  if (c.required !== undefined && !(Number.isInteger(c.required) && (c.required as number) >= 1 && (c.required as number) <= approvers.length)) {
    return `config.required must be an integer from 1 to ${approvers.length}`;
  }
  if (c.on_timeout !== undefined && !['reject', 'approve', 'fail', 'escalate'].includes(c.on_timeout as string)) return 'config.on_timeout must be reject, approve, fail or escalate';
  if (c.on_timeout === 'escalate') {
    const to = c.escalate_to;
    if (!Array.isArray(to) || to.length === 0 || !to.every((u) => typeof u === 'string' && u)) return 'config.escalate_to (a non-empty list of user names) is required with on_timeout escalate';
    if (typeof c.timeout_ms !== 'number') return 'config.timeout_ms is required with on_timeout escalate';
  }
  if (c.form !== undefined && (typeof c.form !== 'object' || c.form === null || Array.isArray(c.form))) return 'config.form must be a JSON Schema object';
  return null;
}

function agentConfigProblem(c: Record<string, unknown>): string | null {
  const task = c.task ?? c.prompt;
  if (typeof task !== 'string' || !task) return 'config.task (or the legacy config.prompt) is required';
  if (c.tools !== undefined) {
    if (!Array.isArray(c.tools)) return 'config.tools must be a list';
    const names = new Set<string>();
    for (const t of c.tools as Record<string, unknown>[]) {
      if (typeof t !== 'object' || t === null || typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.name)) return 'every tool needs a name matching ^[a-zA-Z0-9_-]{1,64}$';
      if (names.has(t.name)) return `tool ${t.name} is listed twice`;
      names.add(t.name);
      const type = t.type ?? 'http';
      if (type === 'http' && (typeof t.url !== 'string' || !t.url)) return `tool ${t.name}: url is required for an http tool`;
      if (type === 'workflow' && (typeof t.workflow !== 'string' || !t.workflow)) return `tool ${t.name}: workflow (a workflow name) is required`;
      if (type !== 'http' && type !== 'workflow') return `tool ${t.name}: type must be http or workflow`;
      if (t.parameters !== undefined && (typeof t.parameters !== 'object' || t.parameters === null || Array.isArray(t.parameters))) return `tool ${t.name}: parameters must be a JSON Schema object`;
    }
  }
  if (c.output_schema !== undefined && (typeof c.output_schema !== 'object' || c.output_schema === null || Array.isArray(c.output_schema))) return 'config.output_schema must be a JSON Schema object';
  for (const key of ['max_turns', 'token_budget', 'max_output_tokens'] as const) {
    if (c[key] !== undefined && !(Number.isInteger(c[key]) && (c[key] as number) >= 1)) return `config.${key} must be a positive integer`;
  }
  return null;
}

/** Parses and checks a document; throws DocumentError naming the node at fault. */
export function validateDocument(raw: unknown): Graph {
  const parsed = documentSchema.safeParse(raw);
  if (!parsed.success) throw schemaError(parsed.error, raw);
  const doc = parsed.data;
  const byId = new Map<string, DocNode>();
  for (const n of doc.nodes) {
    if (byId.has(n.id)) throw new DocumentError(n.id, 'duplicate node id');
    byId.set(n.id, n);
  }
  const loops = new Map<string, LoopConfig>();
  for (const n of doc.nodes) {
    if (LATER_TYPES[n.type]) throw new DocumentError(n.id, `type ${n.type} needs the ${LATER_TYPES[n.type]} role, which Nova does not have yet`);
    if (!(NODE_TYPES as readonly string[]).includes(n.type)) throw new DocumentError(n.id, `unknown type ${JSON.stringify(n.type)} (known: ${NODE_TYPES.join(', ')})`);
    const missing = REQUIRED[n.type]?.(n.config);
    if (missing) throw new DocumentError(n.id, missing);
    for (const ref of referencedNodes(n.config)) if (!byId.has(ref)) throw new DocumentError(n.id, `references unknown node ${ref} ($nodes.${ref})`);
    for (const key of ['expression', 'condition'] as const) {
      if (typeof n.config[key] === 'string') celOrThrow(n.config[key] as string, n.id);
    }
    if (n.type === 'loop') {
      const loop = loopConfigSchema.safeParse(n.config);
      if (!loop.success) throw new DocumentError(n.id, `invalid loop config: ${issues(loop.error)}`);
      for (const target of [loop.data.loop_back_to, ...loop.data.break_path, ...loop.data.timeout_path]) {
        if (!byId.has(target)) throw new DocumentError(n.id, `loop refers to unknown node ${target}`);
      }
      loops.set(n.id, loop.data);
    }
  }
  const incoming = new Map<string, number[]>(doc.nodes.map((n) => [n.id, []]));
  const outgoing = new Map<string, number[]>(doc.nodes.map((n) => [n.id, []]));
  doc.edges.forEach((e, i) => {
    for (const end of [e.from, e.to]) if (!byId.has(end)) throw new DocumentError(end, `edge ${e.from} -> ${e.to} refers to a node that does not exist`);
    if (e.condition !== undefined) celOrThrow(e.condition, e.from);
    incoming.get(e.to)!.push(i);
    outgoing.get(e.from)!.push(i);
  });
  const back = backEdges(doc, byId, outgoing, loops);
  const entries = doc.nodes.filter((n) => incoming.get(n.id)!.every((i) => back.has(i))).map((n) => n.id);
  if (entries.length === 0) throw new DocumentError(null, 'no entry node (every node has an incoming edge)');
  for (const [id, loop] of loops) {
    if (!reaches(loop.loop_back_to, id, outgoing, doc.edges)) throw new DocumentError(id, `loop_back_to ${loop.loop_back_to} does not lead back to the loop`);
  }
  return { doc, byId, incoming, outgoing, back, loops, entries };
}

/**
 * Depth-first from the entry candidates in document order; an edge to a node on the stack closes
 * a cycle, allowed only into a loop node or from a loop node to its loop_back_to.
 */
function backEdges(doc: WorkflowDocument, byId: Map<string, DocNode>, outgoing: Map<string, number[]>, loops: Map<string, LoopConfig>): Set<number> {
  const back = new Set<number>();
  const state = new Map<string, 'open' | 'done'>();
  const visit = (id: string, path: string[]) => {
    state.set(id, 'open');
    for (const i of outgoing.get(id)!) {
      const e = doc.edges[i]!;
      const s = state.get(e.to);
      if (s === 'open') {
        const declared = loops.has(e.to) || loops.get(e.from)?.loop_back_to === e.to;
        if (!declared) {
          const cycle = [...path.slice(path.indexOf(e.to)), id, e.to].filter((v, k, a) => k === 0 || v !== a[k - 1]);
          throw new DocumentError(e.to, `cycle ${cycle.join(' -> ')} is not a declared loop (use a loop node with loop_back_to)`);
        }
        back.add(i);
      } else if (s === undefined) visit(e.to, [...path, id]);
    }
    state.set(id, 'done');
  };
  // Roots first (no incoming edges at all), then whatever a cycle left unvisited.
  const hasIncoming = new Set(doc.edges.map((e) => e.to));
  for (const n of [...doc.nodes.filter((n) => !hasIncoming.has(n.id)), ...doc.nodes]) {
    if (!state.has(n.id) && byId.has(n.id)) visit(n.id, []);
  }
  return back;
}

function reaches(from: string, to: string, outgoing: Map<string, number[]>, edges: DocEdge[]): boolean {
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === to) return true;
    for (const i of outgoing.get(id) ?? []) {
      const next = edges[i]!.to;
      if (!seen.has(next)) seen.add(next), stack.push(next);
    }
  }
  return false;
}

function celOrThrow(expression: string, node: string): void {
  try {
    compileCel(expression);
  } catch (err) {
    throw new DocumentError(node, `invalid CEL ${JSON.stringify(expression)}: ${(err as Error).message.split('\n')[0]}`);
  }
}

function issues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
}

/** A schema failure, naming the node when the path points into one. */
function schemaError(err: z.ZodError, raw: unknown): DocumentError {
  const first = err.issues[0]!;
  const [where, index] = first.path;
  const nodes = (raw as { nodes?: { id?: unknown }[] } | null)?.nodes;
  const id = where === 'nodes' && typeof index === 'number' && Array.isArray(nodes) && typeof nodes[index]?.id === 'string' ? (nodes[index]!.id as string) : null;
  return new DocumentError(id, `invalid workflow: ${issues(err)}`);
}
