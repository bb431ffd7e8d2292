/**
 * A workflow document executed on the engine: the graph is walked inside a workflow function,
 * every node that does work is a step (memoized by node id, `#n` for a loop's later iterations),
 * so a document run waits, retries and survives crashes exactly like a code workflow.
 *
 * The walk goes in waves: every node whose inputs are settled runs, concurrently; then their
 * outgoing edges are settled in document order. Fixed from the original: a node with several
 * inputs waits for all of them (a branch not taken settles its edges as pruned, so a join after
 * a conditional still runs once); an entry node of any type runs; the first true condition in
 * document order wins; timeout_ms and retry are applied.
 */
import { defineWorkflow, type StepApi, type Workflow } from '../define.ts';
import { evaluateCel, evaluateCondition } from './expressions.ts';
import { resolveRefs } from './expressions.ts';
import type { DocNode } from './schema.ts';
import { agentNode } from './agent-node.ts';
import { validateDocument, type Graph } from './validate.ts';

type EdgeState = 'taken' | 'pruned';

export function documentWorkflow(name: string, version: number, definition: unknown): Workflow<unknown, unknown> {
  const graph = validateDocument(definition);
  const wf = defineWorkflow({ name, version }, ({ input, step }) => runGraph(graph, input, step));
  return Object.assign(wf, { document: graph.doc });
}

async function runGraph(g: Graph, input: unknown, step: StepApi): Promise<unknown> {
  const edges = g.doc.edges;
  const outputs: Record<string, unknown> = {};
  const edgeState = new Map<number, EdgeState>();
  const settled = new Set<string>();
  const iterations = new Map<string, number>();
  const cache = new Map();
  /** Per node about to run: the output that reached it (the decision input of conditionals and loops). */
  let wave: { id: string; trigger: unknown }[] = g.entries.map((id) => ({ id, trigger: input }));
  const vars = (output: unknown) => ({
    output, input, nodes: outputs, ctx: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [`${k}:output`, v])),
  });

  const offer = (target: string, next: typeof wave, trigger: unknown) => {
    if (next.some((w) => w.id === target)) return;
    if (g.loops.has(target)) {
      // A loop node fires on each arrival (it counts iterations); pruned only when all inputs are.
      const ins = g.incoming.get(target)!.filter((i) => !g.back.has(i));
      if (ins.some((i) => edgeState.get(i) === 'taken')) next.push({ id: target, trigger });
      else if (ins.every((i) => edgeState.get(i) === 'pruned')) prune(target, next);
      return;
    }
    if (settled.has(target)) return;
    const ins = g.incoming.get(target)!.filter((i) => !g.back.has(i));
    if (!ins.every((i) => edgeState.has(i))) return; // a join waits for all its inputs
    if (ins.some((i) => edgeState.get(i) === 'taken')) next.push({ id: target, trigger });
    else prune(target, next);
  };
  const prune = (id: string, next: typeof wave) => {
    settled.add(id);
    for (const i of g.outgoing.get(id)!) {
      if (g.back.has(i)) continue;
      edgeState.set(i, 'pruned');
      offer(edges[i]!.to, next, undefined);
    }
  };

  while (wave.length) {
    const current = wave;
    const results = await Promise.allSettled(current.map((w) => runNode(g.byId.get(w.id)!, w.trigger, step, outputs, input, vars, cache)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const next: typeof wave = [];
    current.forEach((w, k) => {
      const node = g.byId.get(w.id)!;
      const output = (results[k] as PromiseFulfilledResult<unknown>).value;
      outputs[node.id] = output;
      settled.add(node.id);
      if (node.type === 'loop') return loopNext(node.id, output, next);
      const out = g.outgoing.get(node.id)!;
      const chosen = chooseEdges(out.map((i) => edges[i]!), vars(output), cache);
      out.forEach((i, j) => {
        edgeState.set(i, chosen.has(j) ? 'taken' : 'pruned');
        if (g.back.has(i) && !chosen.has(j)) return;
        offer(edges[i]!.to, next, output);
      });
    });
    wave = next;
  }

  function loopNext(id: string, output: unknown, next: typeof wave): void {
    const loop = g.loops.get(id)!;
    const n = (iterations.get(id) ?? 0) + 1;
    iterations.set(id, n);
    let targets: string[];
    if (n >= loop.max_iterations) targets = loop.timeout_path;
    else if (loop.condition === undefined) targets = [loop.loop_back_to];
    else {
      let again = false;
      try {
        again = evaluateCondition(loop.condition, vars(output), cache);
      } catch {
        again = false; // as the original: an error breaks the loop
      }
      targets = again ? [loop.loop_back_to] : loop.break_path;
    }
    if (targets.includes(loop.loop_back_to) && targets.length === 1) {
      // Back into the body: forget the body's state so its nodes run again as iteration n + 1.
      for (const b of body(id, loop.loop_back_to)) {
        settled.delete(b);
        for (const i of g.outgoing.get(b)!) edgeState.delete(i);
      }
      next.push({ id: loop.loop_back_to, trigger: output });
      return;
    }
    for (const i of g.outgoing.get(id)!) {
      if (g.back.has(i)) continue;
      edgeState.set(i, targets.includes(edges[i]!.to) ? 'taken' : 'pruned');
      offer(edges[i]!.to, next, output);
    }
    // Exit targets named in the config without an edge run too, as in the original.
    for (const t of targets) if (!g.outgoing.get(id)!.some((i) => edges[i]!.to === t) && !next.some((w) => w.id === t)) next.push({ id: t, trigger: output });
  }

  /** The nodes from loop_back_to that lead back to the loop node. */
  function body(loopId: string, start: string): Set<string> {
    const forward = new Set<string>();
    const stack = [start];
    while (stack.length) {
      const id = stack.pop()!;
      if (forward.has(id) || id === loopId) continue;
      forward.add(id);
      for (const i of g.outgoing.get(id)!) stack.push(edges[i]!.to);
    }
    const result = new Set<string>([loopId]);
    for (const id of forward) if (reachesWithin(id, loopId, forward)) result.add(id);
    return result;
  }
  function reachesWithin(from: string, to: string, within: Set<string>): boolean {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length) {
      const id = stack.pop()!;
      if (id === to) return true;
      if (seen.has(id) || !within.has(id)) continue;
      seen.add(id);
      for (const i of g.outgoing.get(id)!) stack.push(edges[i]!.to);
    }
    return false;
  }

  // The run's output: the outputs of the terminal nodes that ran.
  const terminal = g.doc.nodes.filter((n) => g.outgoing.get(n.id)!.length === 0 && !g.loops.has(n.id) && n.id in outputs);
  return Object.fromEntries(terminal.map((n) => [n.id, outputs[n.id]]));
}

/**
 * Which outgoing edges a node's output takes: with conditions, the first true one in document
 * order (every edge carrying that same condition), else the unconditional edges (the default).
 * An edge whose condition fails to evaluate is skipped, as in the original.
 */
function chooseEdges(out: { condition?: string | undefined }[], vars: Record<string, unknown>, cache: Map<any, any>): Set<number> {
  const conditional = out.some((e) => e.condition !== undefined);
  if (!conditional) return new Set(out.map((_, j) => j));
  for (const e of out) {
    if (e.condition === undefined) continue;
    let ok = false;
    try {
      ok = evaluateCondition(e.condition, vars, cache);
    } catch {
      ok = false;
    }
    if (ok) return new Set(out.flatMap((x, j) => (x.condition === e.condition ? [j] : [])));
  }
  return new Set(out.flatMap((x, j) => (x.condition === undefined ? [j] : [])));
}

async function runNode(
  node: DocNode, trigger: unknown, step: StepApi, outputs: Record<string, unknown>, input: unknown,
  vars: (output: unknown) => Record<string, unknown>, cache: Map<any, any>,
): Promise<unknown> {
  const config = resolveRefs(node.config, outputs, input) as Record<string, any>;
  const retry = node.retry && { maxAttempts: node.retry.max_attempts, backoffMs: node.retry.backoff_ms, multiplier: node.retry.backoff_multiplier };
  const timeoutMs = node.timeout_ms || undefined;
  switch (node.type) {
    case 'conditional':
    case 'loop':
    case 'parallel':
      return trigger;
    case 'function':
      return config.output ?? config;
    case 'aggregate':
      return { ...outputs };
    case 'transform':
      return step.run(node.id, () => evaluateCel(config.expression, vars(trigger), cache), { ...(retry && { retry }), ...(timeoutMs && { timeoutMs }) });
    case 'filter': {
      const items = Array.isArray(config.items) ? config.items : [];
      return step.run(node.id, () => items.filter((item: unknown, index: number) => evaluateCel(config.condition, { ...vars(trigger), item, index }, cache) === true));
    }
    case 'http': {
      const res = await step.http(node.id, {
        url: config.url, method: config.method ?? 'GET', ...(config.headers && { headers: config.headers }),
        ...(config.payload !== undefined && { body: config.payload }), ...(config.body !== undefined && { body: config.body }),
      }, {
        failOnStatus: 500, ...(timeoutMs && { timeoutMs }),
        ...(retry && { maxAttempts: retry.maxAttempts, backoffMs: retry.backoffMs }),
      });
      // The original's result shape, so its conditions (`$.status_code`, `$.body…`) keep working.
      return { status: 'success', status_code: res.status, headers: res.headers, body: res.body, duration_ms: res.durationMs, url: res.url, method: res.method };
    }
    case 'sleep':
      if (typeof config.until === 'string') return step.sleepUntil(node.id, config.until).then(() => trigger);
      return step.sleep(node.id, config.duration_ms).then(() => trigger);
    case 'wait_event': {
      const timeout = config.timeout_ms ?? timeoutMs;
      return step.waitForEvent(node.id, { event: config.event, ...(config.match && { match: config.match }), ...(timeout && { timeout }) });
    }
    case 'workflow':
      return step.invoke(node.id, config.workflow, config.input ?? trigger ?? {}, { onChildFailure: config.on_child_failure ?? 'fail' });
    case 'map': {
      const items = Array.isArray(config.items) ? config.items : [];
      const concurrency = { concurrency: config.concurrency ?? 10 };
      if (typeof config.workflow === 'string') return step.map(node.id, items, config.workflow as any, concurrency);
      return step.map(node.id, items, (item, index) => evaluateCel(config.expression, { ...vars(trigger), item, index }, cache), concurrency);
    }
    case 'approval':
    case 'hitl': {
      const timeout = config.timeout_ms ?? timeoutMs;
      const outcome = await step.approval(node.id, {
        approvers: config.approvers, ...(config.required !== undefined && { required: config.required }),
        ...(typeof config.message === 'string' && { message: config.message }), ...(config.form && { form: config.form }),
        ...(timeout && { timeoutMs: timeout }), ...(config.on_timeout && { onTimeout: config.on_timeout }),
        ...(config.on_timeout === 'escalate' && {
          escalation: { to: config.escalate_to, timeoutMs: config.escalation_timeout_ms ?? timeout, onTimeout: config.then_on_timeout ?? 'reject' },
        }),
        ...(config.require_reason === true && { requireReason: true }),
      });
      // The original's result fields too (`approved`, `comment`), so its conditions keep working.
      const last = outcome.decisions[outcome.decisions.length - 1];
      return { ...outcome, comment: last?.reason ?? null };
    }
    case 'agent':
      return agentNode(node.id, config, step);
    default:
      throw new Error(`node ${node.id}: type ${node.type} cannot run`);
  }
}
